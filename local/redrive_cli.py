"""``ktp redrive``: start a new attempt of failed jobs (ktp_pipeline.redrive), locally or on ``--stack``."""

from __future__ import annotations

import argparse
import re

from local.cli import _target_options

REDRIVE_STATUSES = ("FAILED", "TIMED_OUT", "REJECTED")
_DURATION = re.compile(r"^(\d+)([smhd])$")


def register(subparsers: argparse._SubParsersAction) -> None:
    redrive = subparsers.add_parser("redrive", help="start a new attempt of FAILED / TIMED_OUT / REJECTED jobs")
    _target_options(redrive)
    redrive.add_argument("reference_ids", nargs="*", metavar="REFERENCE_ID", help="jobs to try again")
    redrive.add_argument("--status", type=_statuses, default=None, metavar="S1,S2",
                         help="every job in these statuses (any of " + ",".join(REDRIVE_STATUSES) + ", any case)")
    redrive.add_argument("--since", type=_since, default=None, metavar="WHEN",
                         help="with --status: only jobs last written since then: 30m, 2h, 1d, or ISO-8601 UTC")
    redrive.add_argument("--failed-submits", action="store_true",
                         help="also send the S3 events waiting on SubmitFailureQueue to the submit function again")
    redrive.set_defaults(func=cmd_redrive)


def _statuses(value: str) -> tuple[str, ...]:
    chosen = tuple(part.strip().upper() for part in value.split(",") if part.strip())
    wrong = [s for s in chosen if s not in REDRIVE_STATUSES]
    if not chosen or wrong:
        raise argparse.ArgumentTypeError(f"choose from {','.join(REDRIVE_STATUSES)} (got {value})")
    return chosen


def _since(value: str) -> float:
    import time
    from datetime import UTC, datetime

    match = _DURATION.fullmatch(value.strip())
    if match:
        return time.time() - int(match[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration (30m, 2h, 1d) or an ISO-8601 time: {value}") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def cmd_redrive(args: argparse.Namespace) -> int:
    from ktp_pipeline.job_store import JobStore
    from ktp_pipeline.models import JobStatus
    from ktp_pipeline.redrive import failed_ids, redrive

    from local.aws_clients import client
    from local.cli import _console, _target
    from local.state import NoRunningStack

    if not args.reference_ids and not args.status and not args.failed_submits:
        raise SystemExit("ktp redrive: give reference ids, --status (with --since) or --failed-submits")
    if args.since is not None and not args.status:
        raise SystemExit("ktp redrive: --since goes with --status")
    try:
        info = _target(args)
    except NoRunningStack as error:
        raise SystemExit(f"ktp: {error}") from None
    if args.failed_submits:
        from local.failed_submits import replay_failed_submits

        replayed = replay_failed_submits(info)
        kept = f"; {replayed.kept} message(s) without an S3 event left on the queue" if replayed.kept else ""
        print(f"SubmitFailureQueue: {replayed.sent} S3 event(s) sent to the submit function again{kept}")
        if not args.reference_ids and not args.status:
            return 0
    store = JobStore(client("dynamodb", info.endpoint_url, info.region), info.table)
    ids = list(args.reference_ids)
    if args.status:
        ids += list(failed_ids(store, [JobStatus(s) for s in args.status], args.since))
    if not ids:
        print("ktp redrive: no job matches")
        return 0
    from rich.table import Table

    table = Table("reference_id", "new attempt", "note")
    results = redrive(store, ids)
    for row in results:
        table.add_row(row.reference_id, row.successor_id or "-", row.note)
    _console().print(table)
    started = sum(1 for row in results if row.successor_id)
    print(f"{started} new attempt(s) started; the poller sends them on its next sweep")
    return 0 if started or not args.reference_ids else 1
