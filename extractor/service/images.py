"""Turning the request's ``image`` string into checked image bytes.

The contract accepts base64 data (optionally as a ``data:image/...;base64,`` URL) or an image URL.
Everything here is synchronous and CPU-bound; the API calls it through a thread with bounded
concurrency so a large decode never stalls the event loop.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings
from dataclasses import dataclass

from PIL import Image

from extractor.service.errors import ContractError, ErrorCode

# The contract's limits and magic bytes: one copy, shared with the pipeline layer.
from ktp_pipeline.contract import JPEG_SIGNATURE as _JPEG_MAGIC  # noqa: E402
from ktp_pipeline.contract import MAX_IMAGE_BYTES, MIN_LONG_SIDE, MIN_SHORT_SIDE  # noqa: E402,F401
from ktp_pipeline.contract import PNG_SIGNATURE as _PNG_MAGIC  # noqa: E402
# Far above any phone photo of a card; a file declaring more is a decompression bomb.
MAX_PIXELS = 50_000_000

# Pillow refuses (DecompressionBombError) above 2 x MAX_IMAGE_PIXELS; we reject above MAX_PIXELS
# ourselves before decoding, so its warning for the band in between is noise.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

_DATA_URL = re.compile(r"^data:image/[a-zA-Z0-9.+-]+;base64,", re.IGNORECASE)
_BASE64_ALPHABET = re.compile(r"^[A-Za-z0-9+/_-]+={0,2}$")


@dataclass(frozen=True)
class ImageInfo:
    format: str  # "JPEG" or "PNG"
    width: int
    height: int


def is_url(value: str) -> bool:
    lowered = value[:8].lower()
    return lowered.startswith("http://") or lowered.startswith("https://")


def decode_base64_image(value: str) -> bytes:
    """Decode base64 (standard or URL-safe alphabet, optional data URL). Line breaks (MIME-style
    wrapping) are tolerated; spaces are not, since they usually mean a '+' was mangled in transit."""
    text = _DATA_URL.sub("", value.strip(), count=1)
    text = text.replace("\r", "").replace("\n", "")
    # Cheap size check before allocating: 4 base64 chars carry 3 bytes.
    if len(text) // 4 * 3 > MAX_IMAGE_BYTES + 3:
        raise ContractError(ErrorCode.INVALID_PAYLOAD_IMAGE_SIZE, "Image is larger than 5 MB")
    if not text or not _BASE64_ALPHABET.match(text):
        raise ContractError(ErrorCode.INVALID_PAYLOAD_IMAGE_MISSING)
    text = text.replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ContractError(ErrorCode.INVALID_PAYLOAD_IMAGE_MISSING) from None
    if not data:
        raise ContractError(ErrorCode.INVALID_PAYLOAD_IMAGE_MISSING)
    return data


def sniff_format(data: bytes) -> str | None:
    if data.startswith(_JPEG_MAGIC):
        return "JPEG"
    if data.startswith(_PNG_MAGIC):
        return "PNG"
    return None


def check_image(data: bytes) -> ImageInfo:
    """Verify size, magic bytes, declared dimensions and that the whole image decodes.

    Raises ContractError with the contract's code: SIZE for over 5 MB, under 720x480 or absurd
    dimensions (decompression bombs); FORMAT for anything that is not a complete JPEG/PNG.
    """
    if len(data) > MAX_IMAGE_BYTES:
        raise ContractError(ErrorCode.INVALID_PAYLOAD_IMAGE_SIZE, "Image is larger than 5 MB")
    declared = sniff_format(data)
    if declared is None:
        raise ContractError(ErrorCode.INVALID_PAYLOAD_IMAGE_FORMAT, "Image is not a JPEG or PNG")
    try:
        with Image.open(io.BytesIO(data), formats=[declared]) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ContractError(ErrorCode.INVALID_PAYLOAD_IMAGE_SIZE, "Image dimensions are too large")
            if max(width, height) < MIN_LONG_SIDE or min(width, height) < MIN_SHORT_SIDE:
                raise ContractError(ErrorCode.INVALID_PAYLOAD_IMAGE_SIZE, "Image is smaller than 720x480 pixels")
            if declared == "JPEG":
                # Decoding at 1/8 scale still reads every entropy-coded segment, so truncation and
                # corruption surface, at a fraction of the cost of a full decode.
                image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
            image.load()
    except ContractError:
        raise
    except Image.DecompressionBombError:
        raise ContractError(ErrorCode.INVALID_PAYLOAD_IMAGE_SIZE, "Image dimensions are too large") from None
    except (OSError, SyntaxError, ValueError, EOFError, Image.UnidentifiedImageError, MemoryError):
        raise ContractError(ErrorCode.INVALID_PAYLOAD_IMAGE_FORMAT, "Image cannot be decoded") from None
    return ImageInfo(format=declared, width=width, height=height)
