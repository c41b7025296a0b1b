"""Local image checks before anything reaches the provider: format by magic bytes, size, dimensions
(read from the header bytes, PNG IHDR or JPEG SOFn, so the layer needs no imaging library)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Literal

from .contract import JPEG_SIGNATURE, MAX_IMAGE_BYTES, MIN_LONG_SIDE, MIN_SHORT_SIDE, PNG_SIGNATURE

# SOF markers carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
_JPEG_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field.
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})

ImageFormat = Literal["jpeg", "png"]
# The contract's error codes for a refused image.
FORMAT, SIZE = "INVALID_PAYLOAD_IMAGE_FORMAT", "INVALID_PAYLOAD_IMAGE_SIZE"


@dataclass(frozen=True)
class ImageVerdict:
    """Either ok, or the contract's error code with a reason a user can act on."""

    error_code: str | None = None
    reason: str | None = None
    image_format: ImageFormat | None = None
    width: int | None = None
    height: int | None = None

    @property
    def ok(self) -> bool:
        return self.error_code is None


def too_large(size: int) -> ImageVerdict:
    return ImageVerdict(SIZE, f"The image is {size} bytes; the limit is {MAX_IMAGE_BYTES} bytes (5 MB).")


def sniff_format(data: bytes) -> ImageFormat | None:
    if data.startswith(PNG_SIGNATURE):
        return "png"
    if data.startswith(JPEG_SIGNATURE):
        return "jpeg"
    return None


def png_dimensions(data: bytes) -> tuple[int, int] | None:
    # Signature (8) + IHDR length (4) + "IHDR" (4) + width (4) + height (4).
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def jpeg_dimensions(data: bytes) -> tuple[int, int] | None:
    """Walk the marker segments up to the first SOFn and read its height and width."""
    pos = 2
    end = len(data)
    while pos < end:
        if data[pos] != 0xFF:
            return None  # lost sync: not a well-formed JPEG
        while pos < end and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= end:
            return None
        marker = data[pos]
        pos += 1
        if marker in _JPEG_STANDALONE:
            continue
        if marker in (0xD9, 0xDA):  # end of image / start of scan before any frame header
            return None
        if pos + 2 > end:
            return None
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        if length < 2:
            return None
        if marker in _JPEG_SOF_MARKERS:
            if pos + 7 > end:
                return None
            height, width = struct.unpack(">HH", data[pos + 3 : pos + 7])
            return width, height
        pos += length
    return None


def check_image(data: bytes) -> ImageVerdict:
    """The provider's own rules applied locally: JPEG/PNG, at most 5 MB, at least 720×480."""
    if len(data) > MAX_IMAGE_BYTES:
        return too_large(len(data))
    image_format = sniff_format(data)
    if image_format is None:
        return ImageVerdict(FORMAT, "The file is not a JPEG or PNG image.")
    dims = png_dimensions(data) if image_format == "png" else jpeg_dimensions(data)
    if dims is None:
        reason = f"The {image_format.upper()} file is damaged: its size cannot be read."
        return ImageVerdict(FORMAT, reason, image_format)
    width, height = dims
    # A card photographed in portrait is still a card: compare the long and short sides.
    if max(width, height) < MIN_LONG_SIDE or min(width, height) < MIN_SHORT_SIDE:
        reason = f"The image is {width}×{height} pixels; at least {MIN_LONG_SIDE}×{MIN_SHORT_SIDE} is needed."
        return ImageVerdict(SIZE, reason, image_format, width, height)
    return ImageVerdict(image_format=image_format, width=width, height=height)
