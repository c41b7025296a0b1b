"""Erasure API for applications and `ktp erase`: invoke with {"reference_id": ...} or {"nik": ...}.

Runs inside AWS so the HMAC key of the NIK index never leaves Secrets Manager; the answer is the
erasure record (counts only). The event is never logged: it may hold a NIK.
"""

from aws_lambda_powertools.metrics import MetricUnit

from ktp_pipeline import wiring
from ktp_pipeline.observability import logger, metrics, tracer


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    # Imported with the eraser on the first call, not at init: it loads boto3 (as the other handlers' services do).
    from ktp_pipeline.erasure import ErasureRequestError

    request = event if isinstance(event, dict) else {}
    try:
        report = wiring.eraser().erase(request)
    except ErasureRequestError as error:
        metrics.add_metric(name="erasure_requests_refused", unit=MetricUnit.Count, value=1)
        return {"ok": False, "error": str(error)}
    metrics.add_metric(name="erasure_jobs_erased", unit=MetricUnit.Count, value=report.jobs_erased)
    return {"ok": True, **report.item()}
