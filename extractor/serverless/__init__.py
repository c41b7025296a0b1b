"""The serverless home of the extractor: Lambda entry points over the shared service code
(extractor/service) with the DynamoDB / S3 / SQS adapters (extractor/service/aws_storage.py).
The thin handlers are serverless_extractor/functions/*/app.py."""
