"""OcrWorkerFunction: SQS-triggered OCR of queued jobs (extractor.serverless.worker).

The engine is imported and warmed up in the init phase, so the model loads once per environment."""

import importlib

from extractor.serverless import worker
from extractor.serverless.config import configure_logging, runtime

configure_logging()
ENGINE = importlib.import_module(runtime().settings.engine_module)
ENGINE.warm_up()


def lambda_handler(event, context):
    return worker.handle(runtime(), ENGINE, event)
