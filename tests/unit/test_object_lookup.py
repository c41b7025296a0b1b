"""`ktp status --object`: the S3 URL it echoes may hold the card's NIK (a file named after it)."""

import argparse

from ktp_pipeline.job_store import JobStore

from local.object_lookup import show_object
from local.state import StackInfo

from .conftest import BUCKET, REGION, TABLE_NAME

NIK = "3171234567890123"


def _args(url: str, show_nik: bool = False) -> argparse.Namespace:
    return argparse.Namespace(object=url, json=False, show_nik=show_nik)


def test_the_echoed_object_url_is_masked_found_or_not(stack, capsys):
    info = StackInfo(stack_name="t", region=REGION, endpoint_url=None, bucket=BUCKET, table=TABLE_NAME)
    url = f"s3://{BUCKET}/cards/{NIK}.jpg"
    assert show_object(_args(url), info) == 1
    out = capsys.readouterr().out
    assert "no job for" in out and NIK not in out and NIK[-4:] in out

    store = JobStore(stack.dynamodb, TABLE_NAME)
    assert store.create_received("ktp-lookup-masked", bucket=BUCKET, key=f"cards/{NIK}.jpg", version_id="v1",
                                 etag="e1", size=10, claim_seconds=60)
    assert show_object(_args(url), info) == 0
    out = capsys.readouterr().out
    assert "ktp-lookup-masked" in out and NIK not in out
    assert show_object(_args(url, show_nik=True), info) == 0
    assert NIK in capsys.readouterr().out  # --show-nik is the one way to see it
