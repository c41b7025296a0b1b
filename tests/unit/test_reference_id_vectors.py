"""docs/job-record.md's reference_id test vectors hold for the code and for the documented steps."""

import hashlib
import re

from ktp_pipeline.reference_ids import reference_id_for

from .conftest import REPO


def _vectors():
    text = (REPO / "docs" / "job-record.md").read_text(encoding="utf-8")
    [block] = re.findall(r"<!-- reference-id-vectors -->\n(.*?)<!-- /reference-id-vectors -->", text, flags=re.DOTALL)
    rows = [line for line in block.splitlines() if line.startswith("| `")]
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        bucket, key, version, etag, attempt, expected = (None if c == "-" else c.strip("`") for c in cells)
        yield bucket, key, version, etag, int(attempt), expected


def _documented(bucket, key, version, etag, attempt):
    identity = "e:" + etag.strip('"') if etag and etag.strip('"') else f"v:{version}"
    parts = [bucket, key, identity] + ([f"a:{attempt}"] if attempt >= 2 else [])
    return "ktp-" + hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:40]


def test_the_documented_vectors():
    vectors = list(_vectors())
    assert len(vectors) >= 6
    assert {v[4] for v in vectors} >= {1, 2, 3}
    for bucket, key, version, etag, attempt, expected in vectors:
        assert reference_id_for(bucket, key, version, etag, attempt=attempt) == expected
        assert _documented(bucket, key, version, etag, attempt) == expected
