"""POST /callback from the provider: Basic auth, tolerant parsing, one conditional write."""

import base64
import binascii
import json

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.metrics import MetricUnit

from ktp_pipeline import wiring
from ktp_pipeline.observability import logger, metrics, tracer

app = APIGatewayHttpResolver()


def _raw_body() -> bytes | str | None:
    """The body as sent, undecoded: the receiver checks auth before it reads a byte of it.

    Powertools' `decoded_body` would also UTF-8-decode a base64 body and raise on binary input.
    """
    event = app.current_event
    if not event.is_base64_encoded or not event.body:
        return event.body
    try:
        return base64.b64decode(event.body)
    except (binascii.Error, ValueError):
        return b""  # not JSON either: the receiver answers 400 once auth has passed


@app.post("/callback")
@tracer.capture_method
def callback() -> Response:
    # current_event.headers is case-insensitive (HTTP API lower-cases names; do not rely on it).
    reply = wiring.callback_receiver().receive(app.current_event.headers.get("authorization"), _raw_body())
    metrics.add_metric(name=f"callback_{reply.outcome.value}", unit=MetricUnit.Count, value=1)
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
