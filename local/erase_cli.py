"""``ktp erase --reference-id ID | --nik NIK``: erase a person's data (UU PDP) through the stack's
EraseFunction, locally (``ktp up``) or on a deployed stack (``--stack``). Prints the erasure record:
counts only, never the NIK. ``--nik -`` reads the NIK from stdin (keeps it out of shell history).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DEFAULT_DATA_DIR = ".ktp"


def register(subparsers: argparse._SubParsersAction) -> None:
    erase = subparsers.add_parser("erase", help="erase a job's or a person's personal data (record, images, extractor copy)")
    which = erase.add_mutually_exclusive_group(required=True)
    which.add_argument("--reference-id", metavar="ID", help="the job to erase (its full reference_id)")
    which.add_argument("--nik", metavar="NIK", help="erase every job of this NIK (found by its keyed hash); - reads stdin")
    erase.add_argument("--json", action="store_true", help="print the erasure record as JSON")
    erase.add_argument("--data-dir", type=Path, default=Path(os.environ.get("KTP_DATA_DIR", DEFAULT_DATA_DIR)),
                       help="where `ktp up` runs (default .ktp) [KTP_DATA_DIR]")
    erase.add_argument("--stack", metavar="NAME", help="use this deployed CloudFormation stack instead of the local one")
    erase.add_argument("--region", default=None, help="AWS region of --stack (default: your AWS configuration)")
    erase.set_defaults(func=cmd_erase)


def cmd_erase(args: argparse.Namespace) -> int:
    import json

    from local.cli import _target
    from local.erase_invoke import invoke_erase
    from local.jobs import REPO_ROOT
    from local.state import NoRunningStack

    if args.nik is not None:
        nik = sys.stdin.readline().strip() if args.nik == "-" else args.nik
        request = {"nik": nik}
    else:
        request = {"reference_id": args.reference_id}
    try:
        info = _target(args)
    except NoRunningStack as error:
        raise SystemExit(f"ktp: {error}") from None
    try:
        answer = invoke_erase(info, request, template_path=REPO_ROOT / "template.yaml")
    except Exception as error:  # noqa: BLE001 - the type only: the message could quote the request
        raise SystemExit(f"ktp erase: {type(error).__name__} (see the EraseFunction log)") from None
    if not answer.get("ok"):
        print(f"ktp erase: refused: {answer.get('error')}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(answer, indent=2))
    else:
        _print(answer)
    if answer.get("jobs_pending"):
        print(f"ktp erase: {answer['jobs_pending']} job(s) not finished yet were left alone; erase again once they end",
              file=sys.stderr)
        return 1
    return 0


def _print(answer: dict) -> None:
    from local.cli import _console

    copies = ", ".join(f"{what} {count}" for what, count in sorted((answer.get("provider_copies") or {}).items()))
    rows = [
        ("erasure record", str(answer.get("reference_id"))),
        ("requested by", str(answer.get("request_kind"))),
        ("at", str(answer.get("requested_at"))),
        ("jobs found", str(answer.get("jobs_found"))),
        ("jobs erased", str(answer.get("jobs_erased"))),
        ("jobs not finished", str(answer.get("jobs_pending"))),
        ("image versions deleted", str(answer.get("object_versions_deleted"))),
        ("provider copies", copies or "none"),
    ]
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for row in rows:
        grid.add_row(*row)
    _console().print(grid)
