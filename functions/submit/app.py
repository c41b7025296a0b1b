"""S3 ObjectCreated → check the image → submit it to the provider → record the job."""

from collections import Counter

from aws_lambda_powertools.metrics import MetricUnit

from ktp_pipeline import wiring
from ktp_pipeline.observability import logger, metrics, tracer


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    outcomes = wiring.submitter().handle_event(event)
    metrics.add_metric(name="submit_records", unit=MetricUnit.Count, value=len(outcomes))
    for action, count in Counter(outcome.action.value for outcome in outcomes).items():
        metrics.add_metric(name=f"submit_{action}", unit=MetricUnit.Count, value=count)
    return {"outcomes": [{"reference_id": o.reference_id, "action": o.action.value} for o in outcomes]}
