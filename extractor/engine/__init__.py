"""The KTP extraction engine: image bytes in, `extractor.result.KtpExtraction` out.

    from extractor.engine import extract, warm_up, ImageDecodeError

The OCR model loads lazily, once per process; `warm_up()` loads it eagerly.
"""

from extractor.engine.localize import ImageDecodeError
from extractor.engine.pipeline import extract, warm_up

__all__ = ["ImageDecodeError", "extract", "warm_up"]
