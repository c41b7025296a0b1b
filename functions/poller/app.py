"""Scheduled sweep over stragglers: poll results, resubmit the lost, time out the hopeless."""

from aws_lambda_powertools.metrics import MetricUnit

from ktp_pipeline import wiring
from ktp_pipeline.observability import logger, metrics, tracer

# Always emitted (zeros included) so dashboards and alarms see a continuous series.
CORE_METRICS = ("checked", "completed", "resubmitted", "timed_out")


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    counts = wiring.poller().run(context.get_remaining_time_in_millis)
    for name in sorted(set(CORE_METRICS) | set(counts)):
        metrics.add_metric(name=f"poller_{name}", unit=MetricUnit.Count, value=counts.get(name, 0))
    summary = {name: counts.get(name, 0) for name in CORE_METRICS} | dict(counts)
    logger.info("poller run finished", extra={"counts": summary})
    return summary
