"""CallbackFunction: callback delivery with Basic auth and SQS-driven backoff (extractor.serverless.delivery)."""

from extractor.serverless import delivery
from extractor.serverless.config import configure_logging, runtime

configure_logging()


def lambda_handler(event, context):
    return delivery.handle(runtime(), event)
