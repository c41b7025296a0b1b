"""The provider contract's constants (docs/provider-contract.md), in one place.

Shared by the pipeline layer and the extractor service (which imports this module), so the list of
fields, the image limits and the accepted formats cannot drift apart. Plain constants only: the
layer ships to Lambda without the extractor, and the extractor must not pull in pipeline code.
"""

from __future__ import annotations

# The extracted fields, in the order the card prints them.
CONTRACT_FIELDS: tuple[str, ...] = (
    "nik", "full_name", "place_of_birth", "date_of_birth", "gender", "blood_type", "address", "rt_rw",
    "administrative_village", "district", "city", "state", "religion", "marital_status", "occupation",
    "nationality",
)

# Accepted images: JPEG or PNG, at most 5 MB, a cropped card of at least 720×480 in either orientation.
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MIN_LONG_SIDE = 720
MIN_SHORT_SIDE = 480

# Magic bytes at the start of the file.
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"
