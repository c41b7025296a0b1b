"""Deterministic job ids: the same uploaded object always maps to the same `reference_id`.

A duplicated S3 event therefore lands on the same job, and the provider sees the same id
(so a resubmission after a lost answer is answered `INVALID_PAYLOAD_REFERENCE_ID_EXISTS`).
"""

from __future__ import annotations

import hashlib
import re

PREFIX = "ktp-"
# The contract's accepted form (our choice where the provider is silent): 6..64 of [A-Za-z0-9_-].
REFERENCE_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{6,64}$")


def reference_id_for(bucket: str, key: str, version_id: str | None, etag: str | None) -> str:
    """`ktp-` + 40 hex chars of SHA-256 over the object's identity (decoded key, version or ETag).

    The version id pins one upload in a versioned bucket; without it the ETag (content hash)
    distinguishes a re-upload of different bytes under the same key.
    """
    if version_id and version_id != "null":
        identity = f"v:{version_id}"
    elif etag:
        identity = "e:" + etag.strip('"')
    else:
        raise ValueError("an S3 object needs a version id or an ETag to have a stable reference_id")
    digest = hashlib.sha256("\x00".join((bucket, key, identity)).encode("utf-8")).hexdigest()
    return PREFIX + digest[:40]


def is_valid_reference_id(value: str | None) -> bool:
    return bool(value) and REFERENCE_ID_PATTERN.fullmatch(value) is not None
