"""``ktp up | demo | upload | status | results | watch [--events]``: run the local stack and follow jobs,
locally (the stack found through ``<data-dir>/stack.json``) or on a deployed stack (``--stack``).

Cheap to import: boto3, rich, moto and the stack load inside the command functions.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

DEFAULT_DATA_DIR = ".ktp"
DEFAULT_PORT_BASE = 4566  # moto; the extractor and the callback endpoint take the next two ports
# ktp_pipeline.models.JobStatus, spelled out so `ktp --help` needs no import (a unit test compares).
STATUS_CHOICES = ("RECEIVED", "SUBMITTED", "RETRY", "COMPLETED", "FAILED", "REJECTED", "TIMED_OUT")


def register(subparsers: argparse._SubParsersAction) -> None:
    up = subparsers.add_parser("up", help="run the whole pipeline locally (moto + extractor + the three handlers)")
    _stack_options(up)
    up.set_defaults(func=cmd_up)

    demo = subparsers.add_parser("demo", help="bring the local stack up, upload synthetic cards, show the results")
    _stack_options(demo)
    _target_options(demo, with_data_dir=False)
    demo.add_argument("--images", type=Path, help="upload the images in this directory instead of generated cards")
    demo.add_argument("--count", type=int, default=5, help="number of synthetic cards (default 5)")
    demo.add_argument("--level", choices=("clean", "phone", "hard"), default="clean", help="synthetic card difficulty")
    demo.add_argument("--seed", type=int, default=None, help="seed for the synthetic cards (default: random)")
    demo.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for every job (default 600)")
    demo.add_argument("--keep", action="store_true", help="keep the stack running after the results (Ctrl-C stops)")
    demo.add_argument("--show-nik", action="store_true", help="print NIKs unmasked")
    demo.set_defaults(func=cmd_demo)

    upload = subparsers.add_parser("upload", help="upload KTP images (files or directories) to the stack's bucket")
    _target_options(upload)
    upload.add_argument("paths", nargs="+", type=Path, metavar="FILE|DIR")
    upload.add_argument("--wait", action="store_true", help="wait until every uploaded job is terminal and show them")
    upload.add_argument("--timeout", type=float, default=600.0, help="seconds to wait with --wait (default 600)")
    upload.add_argument("--show-nik", action="store_true", help="print NIKs unmasked")
    upload.set_defaults(func=cmd_upload)

    status = subparsers.add_parser("status", help="show one job record")
    _target_options(status)
    status.add_argument("reference_id", nargs="?", help="a job's reference_id or any unique prefix of it")
    status.add_argument("--object", metavar="s3://BUCKET/KEY",
                        help="instead of an id: every attempt of this object (the by-object index), newest last")
    status.add_argument("--json", action="store_true", help="print the record as JSON")
    status.add_argument("--show-nik", action="store_true", help="print the NIK unmasked")
    status.set_defaults(func=cmd_status)

    results = subparsers.add_parser("results", help="list job records")
    _target_options(results)
    _status_option(results)
    results.add_argument("--limit", type=int, default=100,
                         help="the newest this many records (default 100; 0 = every record)")
    results.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    results.add_argument("--show-nik", action="store_true", help="print NIKs unmasked")
    results.set_defaults(func=cmd_results)

    watch = subparsers.add_parser("watch", help="live table of jobs as they change (Ctrl-C to quit)")
    _target_options(watch)
    _status_option(watch)
    watch.add_argument("--limit", type=int, default=30, help="rows to show (newest first, default 30)")
    watch.add_argument("--interval", type=float, default=1.0, help="refresh interval in seconds")
    watch.add_argument("--once", action="store_true", help="print the table once and exit")
    watch.add_argument("--show-nik", action="store_true", help="print NIKs unmasked")
    watch.add_argument("--events", action="store_true",
                       help="print completion events as they arrive instead (local/watch_events.py; --once: one 5 s read)")
    watch.add_argument("--json", action="store_true", help="with --events: one JSON event per line")
    watch.set_defaults(func=cmd_watch)


def _status_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--status", type=str.upper, choices=STATUS_CHOICES, metavar="STATUS",
                        help="only records in this status, any case: " + ", ".join(STATUS_CHOICES))


def _stack_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("KTP_DATA_DIR", DEFAULT_DATA_DIR)),
                        help="state, logs and snapshots of the local stack (default .ktp) [KTP_DATA_DIR]")
    parser.add_argument("--port-base", type=int, default=DEFAULT_PORT_BASE,
                        help="moto on this port, the extractor on +1, the callback endpoint on +2 (0 = any free)")
    parser.add_argument("--poll-seconds", type=float, default=None,
                        help="run the poller this often instead of the template's PollRate")
    parser.add_argument("--template", type=Path, default=None, help="template to read (default: the repo's template.yaml)")
    parser.add_argument("--extractor-workers", type=int, default=1, help="OCR worker processes of the extractor")
    parser.add_argument("--extractor", choices=("serve", "serverless"), default="serve",
                        help="the local provider: `ktp serve` (default) or the serverless extractor's handlers on moto")
    parser.add_argument("--no-persist", action="store_true", help="do not restore/snapshot the AWS state in the data dir")


def _target_options(parser: argparse.ArgumentParser, *, with_data_dir: bool = True) -> None:
    if with_data_dir:
        parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("KTP_DATA_DIR", DEFAULT_DATA_DIR)),
                            help="where `ktp up` runs (default .ktp) [KTP_DATA_DIR]")
    parser.add_argument("--stack", metavar="NAME", help="use this deployed CloudFormation stack instead of the local one")
    parser.add_argument("--region", default=None, help="AWS region of --stack (default: your AWS configuration)")


# --- helpers --------------------------------------------------------------------------------
def _console():
    import sys

    from rich.console import Console

    # Piped output (CI logs, files) gets a wide table instead of rich's 80-column default.
    return Console() if sys.stdout.isatty() else Console(width=140)


def _target(args: argparse.Namespace):
    """The StackInfo of ``--stack`` or of the local stack in ``--data-dir``."""
    from local.jobs import REPO_ROOT

    if getattr(args, "stack", None):
        import boto3

        from local.remote import stack_info_from_cloudformation

        region = args.region or boto3.session.Session().region_name
        if not region:
            raise SystemExit("ktp: --stack needs a region (--region or AWS_REGION)")
        return stack_info_from_cloudformation(args.stack, region=region, template_path=REPO_ROOT / "template.yaml")
    from local.state import read_state

    return read_state(args.data_dir.resolve())


def _jobs(args: argparse.Namespace):
    from local.jobs import JobsClient
    from local.state import NoRunningStack

    try:
        return JobsClient(_target(args))
    except NoRunningStack as error:
        raise SystemExit(f"ktp: {error}") from None


def _build_stack(args: argparse.Namespace):
    from local.stack import DEFAULT_TEMPLATE, LocalStack

    return LocalStack(
        args.data_dir,
        template_path=args.template or DEFAULT_TEMPLATE,
        port_base=args.port_base,
        poll_seconds=args.poll_seconds,
        extractor_workers=args.extractor_workers,
        extractor_kind=args.extractor,
        persist=not args.no_persist,
    )


def _print_info(console, info) -> None:
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("AWS endpoint", f"{info.endpoint_url}  (region {info.region}, key id/secret: {info.aws_access_key_id}/{info.aws_secret_access_key})")
    grid.add_row("upload bucket", f"s3://{info.bucket}/{info.upload_prefix}")
    grid.add_row("jobs table", info.table)
    grid.add_row("callback URL", info.callback_url or "")
    grid.add_row("extractor", info.extractor_url or "")
    grid.add_row("state file", str(Path(info.data_dir or ".") / "stack.json"))
    sam_env = Path(info.data_dir or ".") / "sam" / "env.json"  # local/sam_local.py; docs/local-stack.md
    if sam_env.exists():
        grid.add_row("sam local", f"--env-vars {sam_env}  (events next to it)")
    console.print(grid)
    console.print("\nFrom another terminal:")
    console.print(f"  export AWS_ACCESS_KEY_ID={info.aws_access_key_id} AWS_SECRET_ACCESS_KEY={info.aws_secret_access_key}",
                  markup=False, soft_wrap=True)
    console.print(f"  {info.aws_cli_hint()}", markup=False, soft_wrap=True)
    console.print("  ktp watch        ktp results        ktp upload DIR", markup=False, soft_wrap=True)
    if sam_env.exists():  # in Docker, after `sam build` (docs/local-stack.md, "SAM local")
        console.print(f"  sam local invoke SubmitFunction -e {sam_env.parent / 's3_put.json'} --env-vars {sam_env}"
                      f" --region {info.region}", markup=False, soft_wrap=True)


def _wait_for_signal() -> None:
    """Block until Ctrl-C or SIGTERM."""
    import signal
    import threading

    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def _setup_logging() -> None:
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("httpx").setLevel(logging.WARNING)


# --- commands -------------------------------------------------------------------------------
def cmd_up(args: argparse.Namespace) -> int:
    _setup_logging()
    console = _console()
    stack = _build_stack(args)
    try:
        with console.status("starting moto, the extractor and the three functions…"):
            info = stack.start()
    except (OSError, RuntimeError, ValueError) as error:  # port in use, stack already running, template problem
        raise SystemExit(f"ktp up: {error}") from None
    try:
        console.print("[bold green]local stack running[/] (Ctrl-C to stop)\n")
        _print_info(console, info)
        _wait_for_signal()
    finally:
        with console.status("stopping and saving state…"):
            stack.stop()
    console.print("stopped; state saved in " + str(args.data_dir))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from local.state import NoRunningStack, read_state

    console = _console()
    stack = None
    if args.stack:
        from local.jobs import JobsClient

        jobs = JobsClient(_target(args))
    else:
        from local.jobs import JobsClient

        try:  # reuse a stack `ktp up` is already running in this data dir
            jobs = JobsClient(read_state(args.data_dir.resolve()))
            console.print(f"using the local stack already running in {args.data_dir}")
        except NoRunningStack:
            _setup_logging()
            stack = _build_stack(args)
            try:
                with console.status("starting the local stack (moto, extractor, three functions)…"):
                    stack.start()
            except (OSError, RuntimeError, ValueError) as error:  # port in use, stack already running, template problem
                raise SystemExit(f"ktp demo: {error}") from None
            jobs = stack.jobs
    try:
        paths = _demo_images(args, console)
        uploads = _upload_with_progress(console, jobs, paths)
        records = _wait_with_progress(console, jobs, [u.reference_id for u in uploads], args.timeout)
        _print_results(console, records, args.show_nik)
        done = all(record and record.get("status") in _terminal() for record in records.values())
        if not done:
            console.print(f"[yellow]not every job finished within {args.timeout:.0f}s[/]")
        if stack is not None and args.keep:
            console.print("\n[bold green]stack still running[/] (Ctrl-C to stop)\n")
            _print_info(console, stack.info)
            _wait_for_signal()
        return 0 if done else 1
    finally:
        if stack is not None:
            with console.status("stopping…"):
                stack.stop()


def _terminal():
    from local.jobs import TERMINAL

    return TERMINAL


def _demo_images(args: argparse.Namespace, console) -> list[Path]:
    from local.jobs import image_files

    if args.images:
        paths = image_files([args.images])
        if not paths:
            raise SystemExit(f"ktp: no .jpg/.jpeg/.png images in {args.images}")
        return paths
    import random

    from extractor.synth import write_cards

    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    out_dir = (args.data_dir / "demo-cards" / f"seed-{seed}").resolve()
    with console.status(f"generating {args.count} synthetic cards ({args.level}, seed {seed})…"):
        written = write_cards(args.count, out_dir, args.level, seed)
    return sorted(Path(path) for path in written if Path(path).suffix.lower() in (".jpg", ".jpeg", ".png"))


def _upload_with_progress(console, jobs, paths: list[Path]):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    uploads = []
    with Progress(TextColumn("uploading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("upload", total=len(paths))
        for path in paths:
            uploads.append(jobs.upload_file(path))
            progress.advance(task)
    return uploads


def _wait_with_progress(console, jobs, reference_ids: list[str], timeout: float):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from local.render import counts_line, status_counts

    with Progress(TextColumn("extracting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=console) as progress:
        task = progress.add_task("", total=len(reference_ids))

        def update(records) -> None:
            finished = sum(1 for record in records.values() if record and record.get("status") in _terminal())
            progress.update(task, completed=finished, description=counts_line(status_counts(records.values())).plain)

        return jobs.wait_terminal(reference_ids, timeout_seconds=timeout, on_progress=update)


def _print_results(console, records, show_nik: bool) -> None:
    from local.render import results_table

    rows = [record if record else {"reference_id": ref, "status": "WAITING"} for ref, record in records.items()]
    console.print(results_table(rows, show_nik=show_nik, title="results"))


def cmd_upload(args: argparse.Namespace) -> int:
    from local.jobs import image_files

    console = _console()
    jobs = _jobs(args)
    try:
        paths = image_files(args.paths)
    except FileNotFoundError as error:
        raise SystemExit(f"ktp: {error}") from None
    if not paths:
        raise SystemExit("ktp: nothing to upload")
    uploads = _upload_with_progress(console, jobs, paths)
    from rich.table import Table

    table = Table(header_style="bold")
    table.add_column("file", overflow="fold")
    table.add_column("s3 key", overflow="fold")
    table.add_column("reference_id", no_wrap=True)
    from local.render import mask_text

    for upload in uploads:  # a file may be named after the card's NIK
        shown = (upload.source, upload.key) if args.show_nik else (mask_text(upload.source), mask_text(upload.key))
        table.add_row(*shown, upload.reference_id)
    console.print(table)
    if args.wait:
        records = _wait_with_progress(console, jobs, [u.reference_id for u in uploads], args.timeout)
        _print_results(console, records, args.show_nik)
        return 0 if all(record and record.get("status") in _terminal() for record in records.values()) else 1
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    import json

    from local.jobs import AmbiguousPrefix
    from local.render import record_detail, redact

    if args.object:  # lookup by object (local/object_lookup.py)
        from local.object_lookup import show_object

        return show_object(args, _target(args))
    if not args.reference_id:
        raise SystemExit("ktp status: give a reference_id (or a prefix) or --object s3://bucket/key")
    jobs = _jobs(args)
    try:
        record = jobs.find(args.reference_id)
    except AmbiguousPrefix as error:
        shown = ", ".join(error.matches[:5]) + (", …" if len(error.matches) > 5 else "")
        print(f"ktp: {args.reference_id} is ambiguous: {len(error.matches)} jobs start with it ({shown}); give more characters")
        return 1
    if record is None:
        print(f"ktp: no job with the id or id prefix {args.reference_id}")
        return 1
    if args.json:
        print(json.dumps(redact(record, show_nik=args.show_nik), indent=2, ensure_ascii=False))
    else:
        _console().print(record_detail(record, show_nik=args.show_nik))
    return 0


def cmd_results(args: argparse.Namespace) -> int:
    import json

    from local.render import counts_line, redact, results_table, status_counts

    jobs = _jobs(args)
    records = jobs.recent(status=args.status, limit=args.limit or None)
    if args.json:
        import sys

        try:
            for record in records:
                print(json.dumps(redact(record, show_nik=args.show_nik), ensure_ascii=False))
            sys.stdout.flush()
        except BrokenPipeError:  # `ktp results --json | head`: the reader has what it wanted
            # Python's documented recipe: point stdout at devnull so the exit-time flush is quiet.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    console = _console()
    console.print(results_table(records, show_nik=args.show_nik, title=f"newest {len(records)} job(s)"))
    console.print(counts_line(status_counts(records)))
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    import time

    from rich.console import Group
    from rich.live import Live

    from local.render import counts_line, results_table, status_counts

    if args.events:
        from local.state import NoRunningStack
        from local.watch_events import watch_events

        try:
            info = _target(args)
        except NoRunningStack as error:
            raise SystemExit(f"ktp: {error}") from None
        return watch_events(info, once=args.once, as_json=args.json)
    console = _console()
    jobs = _jobs(args)
    seen: dict = {}

    def view():
        # Bounded per refresh: at most --limit index entries per status, then GetItem of the shown
        # rows that changed since the last refresh.
        shown = jobs.recent(status=args.status, limit=args.limit, seen=seen)
        return Group(
            results_table(shown, show_nik=args.show_nik, title=f"newest {len(shown)} job(s)"
                          + ("" if args.once else " — Ctrl-C to quit")),
            counts_line(status_counts(shown)),
        )

    if args.once:
        console.print(view())
        return 0
    with Live(view(), console=console, refresh_per_second=4) as live:
        while True:
            time.sleep(args.interval)
            live.update(view())
