"""``ktp status --object s3://bucket/key``: a job's attempts found from the object, through the
`by-object` GSI (no reference_id to re-derive); the index holds no personal data, and the latest
attempt's full record is read by GetItem and shown the way ``ktp status`` shows one."""

from __future__ import annotations

import argparse
import json
from urllib.parse import urlsplit

from local.state import StackInfo


def parse_s3_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or not parts.path.strip("/"):
        raise SystemExit(f"ktp status: --object wants s3://bucket/key, not {url}")
    return parts.netloc, parts.path[1:]  # the key exactly as written (not URL-decoded: S3 keys are raw)


def show_object(args: argparse.Namespace, info: StackInfo) -> int:
    from ktp_pipeline.job_store import JobStore
    from rich.table import Table

    from local.aws_clients import client
    from local.cli import _console
    from local.jobs import JobsClient
    from local.render import mask_text, record_detail, redact

    bucket, key = parse_s3_url(args.object)
    # The key may be a file name that is the card's NIK: echo it masked, like `ktp upload` does.
    named = args.object if args.show_nik else mask_text(args.object)
    attempts = JobStore(client("dynamodb", info.endpoint_url, info.region), info.table).list_by_object(bucket, key)
    if not attempts:
        print(f"ktp: no job for {named}")
        return 1
    latest = JobsClient(info).get(attempts[-1].reference_id)
    if args.json:
        print(json.dumps({"attempts": [a.model_dump(include={"reference_id", "attempt", "status", "error_code",
                                                              "created_at", "predecessor_id", "successor_id"})
                                       for a in attempts],
                          "latest": redact(latest, show_nik=args.show_nik) if latest else None},
                         indent=2, ensure_ascii=False))
        return 0
    table = Table("attempt", "reference_id", "status", "error_code", "created_at", title=f"attempts of {named}")
    for a in attempts:
        table.add_row(str(a.attempt), a.reference_id, a.status.value, a.error_code or "", a.created_at or "")
    console = _console()
    console.print(table)
    if latest:
        console.print(record_detail(latest, show_nik=args.show_nik))
    return 0
