"""The built-in extraction provider: an HTTP service speaking the Extract-KTP-Async contract.

``create_app(settings)`` builds the FastAPI application; ``ktp serve`` (``extractor.service.cli``)
runs it under uvicorn. OCR runs in worker processes (``extractor.service.workers``), never on the
event loop; jobs, results and callback deliveries live in SQLite (``extractor.service.store``).
"""
