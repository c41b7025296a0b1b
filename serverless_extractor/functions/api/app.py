"""ApiFunction: POST /ktp/id/extract-async and GET /ktp/id/extract-async/result (extractor.serverless.api)."""

from extractor.serverless import api
from extractor.serverless.config import configure_logging, runtime

configure_logging()


def lambda_handler(event, context):
    return api.handle(runtime(), event)
