"""The KTP extraction engine: image bytes in, `extractor.result.KtpExtraction` out.

    from extractor.engine import extract, warm_up, ImageDecodeError

The OCR model loads lazily, once per process; `warm_up()` loads it eagerly. The names are
resolved on first use so that importing `extractor.engine.cli` (for `ktp --help`) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from extractor.engine.localize import ImageDecodeError
    from extractor.engine.pipeline import extract, warm_up

__all__ = ["ImageDecodeError", "extract", "warm_up"]


def __getattr__(name: str):
    if name == "ImageDecodeError":
        from extractor.engine.localize import ImageDecodeError

        return ImageDecodeError
    if name in ("extract", "warm_up"):
        from extractor.engine import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'extractor.engine' has no attribute {name!r}")
