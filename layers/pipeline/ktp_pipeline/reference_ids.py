"""Deterministic job ids: the same uploaded object always maps to the same `reference_id`.

A duplicated S3 event, or the same bytes uploaded again under the same key, therefore lands on the
same job, and the provider sees the same id (so a resubmission after a lost answer is answered
`INVALID_PAYLOAD_REFERENCE_ID_EXISTS`).
"""

from __future__ import annotations

import hashlib
import re

PREFIX = "ktp-"
# The contract's accepted form (our choice where the provider is silent): 6..64 of [A-Za-z0-9_-].
REFERENCE_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{6,64}$")


def reference_id_for(bucket: str, key: str, version_id: str | None, etag: str | None, attempt: int = 1) -> str:
    """`ktp-` + 40 hex chars of SHA-256 over bucket, decoded key and the object's content identity.

    The ETag (the content's MD5 with SSE-S3) comes first, so uploading the same bytes to the same key
    again is the same job and is never billed twice, while different bytes under that key are a
    new job. The version id is the fallback for objects without an ETag.

    `attempt` (docs/job-record.md, "Attempts"): attempt 1 hashes exactly the three parts above, so
    every id issued before attempts existed stays valid; attempt n >= 2 appends a fourth part `a:<n>`.
    """
    if attempt < 1:
        raise ValueError("attempt numbers start at 1")
    if etag and etag.strip('"'):
        identity = "e:" + etag.strip('"')
    elif version_id and version_id != "null":
        identity = f"v:{version_id}"
    else:
        raise ValueError("an S3 object needs an ETag or a version id to have a stable reference_id")
    parts = (bucket, key, identity) if attempt == 1 else (bucket, key, identity, f"a:{attempt}")
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()
    return PREFIX + digest[:40]


def is_valid_reference_id(value: str | None) -> bool:
    return bool(value) and REFERENCE_ID_PATTERN.fullmatch(value) is not None
