"""The built-in KTP extractor: offline OCR engine (``extractor.engine``), synthetic cards
(``extractor.synth``) and the contract-compatible HTTP service (``extractor.service``).

Importable without any AWS package.
"""
