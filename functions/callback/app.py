"""POST /callback from the provider: Basic auth, tolerant parsing, one conditional write."""

import json

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.metrics import MetricUnit

from ktp_pipeline import wiring
from ktp_pipeline.observability import logger, metrics, tracer

app = APIGatewayHttpResolver()


def _header(name: str) -> str | None:
    # HTTP API lower-cases header names; do not rely on it.
    for key, value in (app.current_event.headers or {}).items():
        if key.lower() == name:
            return value
    return None


@app.post("/callback")
@tracer.capture_method
def callback() -> Response:
    reply = wiring.callback_receiver().receive(_header("authorization"), app.current_event.decoded_body)
    metrics.add_metric(name=f"callback_{reply.outcome.split(':')[-1]}", unit=MetricUnit.Count, value=1)
    return Response(
        status_code=reply.status_code,
        content_type="application/json",
        body=json.dumps(reply.body),
        headers=reply.headers,
    )


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    return app.resolve(event, context)
