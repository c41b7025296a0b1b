"""The whole local pipeline on N synthetic cards against OCR alone on the same cards.

1. Generate N cards (not timed).
2. OCR-only: ``extractor.engine.extract`` on each card, one after another, in this process
   (model warmed up first), with the thread budget each extractor worker gets (cores ÷ workers,
   ``KTP_OCR_THREADS``). Divided by the number of workers that is perfectly parallel OCR: the
   floor any pipeline with that many workers pays on this machine.
3. Pipeline: start the local stack (not timed), upload the N cards to the moto bucket and wait
   until every job record is terminal — S3 event → SQS → submit handler → extractor (HTTP, queue,
   OCR workers) → callback → DynamoDB.

Prints a table with the ratio pipeline ÷ ideal parallel OCR, the load average, and where the CPU
went during the pipeline (this process hosts moto and the event drivers; the extractor's server
and OCR workers; the handler processes), so a run on a shared machine can be judged: if the
pipeline's own processes used little besides OCR, the missing time went to the neighbours.

    .venv/bin/python bench/pipeline_e2e.py [--count 50] [--level clean] [--extractor-workers 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TERMINAL = ("COMPLETED", "FAILED", "REJECTED", "TIMED_OUT")


def _epoch(iso: str | None) -> float | None:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() if iso else None


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:
        return os.cpu_count() or 1


def _process_cpu() -> dict[int, tuple[float, str]]:
    """CPU seconds (user+system) and role of this process and every descendant (Linux /proc)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return {}
    tick = os.sysconf("SC_CLK_TCK")
    parent: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            parent[int(entry.name)] = int(fields[1])
            cpu[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    roles: dict[int, tuple[float, str]] = {}
    for pid in cpu:
        chain, current = [], pid
        while current in parent and current != os.getpid() and current > 1:
            chain.append(current)
            current = parent[current]
        if current != os.getpid():
            continue
        try:
            command = (proc / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if pid == os.getpid():
            role = "this process: moto, uploads, event drivers"
        elif "local.function_runtime" in command:
            role = "handlers (submit, callback, poller)"
        elif "multiprocessing.spawn" in command and "ktp" not in command:
            role = "extractor OCR workers"
        else:
            role = "extractor server"
        roles[pid] = (cpu[pid], role)
    return roles


def _cpu_by_role(before: dict[int, tuple[float, str]], after: dict[int, tuple[float, str]]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for pid, (seconds, role) in after.items():
        totals[role] = totals.get(role, 0.0) + seconds - before.get(pid, (0.0, role))[0]
    return totals


def _wait_terminal(stack, count: int, timeout: float, interval: float) -> None:
    """Wait cheaply, so the observer does not slow what it observes. Polling one GetItem per job
    every 0.25 s cost moto (in this process) as much CPU as an OCR worker, and even one COUNT scan
    costs moto ~15 ms. So the extractor's /health (a few SQLite counts) says when it has finished
    and called back every job; only then, or every few seconds anyway (jobs the submitter rejects
    never reach the extractor), a COUNT scan of terminal records decides."""
    import httpx

    table = stack.aws_client("dynamodb")
    names = {"#s": "status"}
    values = {f":t{i}": {"S": status} for i, status in enumerate(TERMINAL)}
    condition = f"#s IN ({', '.join(values)})"

    def terminal_records() -> int:
        done, kwargs = 0, {}
        while True:
            page = table.scan(
                TableName=stack.info.table, Select="COUNT", FilterExpression=condition, ExpressionAttributeNames=names,
                ExpressionAttributeValues=values, ConsistentRead=True, **kwargs,
            )
            done += page["Count"]
            if "LastEvaluatedKey" not in page:
                return done
            kwargs = {"ExclusiveStartKey": page["LastEvaluatedKey"]}

    deadline = time.monotonic() + timeout
    next_scan = time.monotonic() + 5.0
    with httpx.Client(base_url=stack.info.extractor_url, timeout=5.0, trust_env=False) as extractor:
        while time.monotonic() < deadline:
            try:
                jobs = extractor.get("/health").json()["jobs"]
            except (httpx.HTTPError, ValueError, KeyError):
                jobs = {}
            finished = jobs.get("completed", 0) + jobs.get("failed", 0)
            if (finished >= count and not jobs.get("callbacks_pending", 1)) or time.monotonic() >= next_scan:
                if terminal_records() >= count:
                    return
                next_scan = time.monotonic() + 5.0
            # Far from done, look rarely (each look costs the extractor CPU); near the end, often.
            time.sleep(interval * 2 if count - finished > 4 else interval / 2)


def _prewarm_handlers(stack) -> str:
    """Start every handler environment the stack may use (its concurrency) before the clock runs,
    as the extractor's model is loaded before it: the bench measures the steady pipeline, and a
    handler cold start (boto3 + Powertools imports, ~1 s CPU) inside the window is start-up cost."""
    from concurrent.futures import ThreadPoolExecutor

    warmed = []
    for name, function in getattr(stack, "functions", {}).items():
        count = getattr(getattr(function, "config", None), "max_concurrency", 1)
        if hasattr(function, "warm_up") and count > 1:
            # Concurrent warm-ups each find no idle environment and start their own.
            with ThreadPoolExecutor(max_workers=count) as pool:
                for future in [pool.submit(function.warm_up) for _ in range(count)]:
                    future.result()
        warmed.append(f"{name.removesuffix('Function')} {count}")
    return ", ".join(warmed) or "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--level", choices=("clean", "phone", "hard"), default="clean")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--extractor-workers", type=int, default=_usable_cores())
    parser.add_argument("--timeout", type=float, default=1800.0, help="give up waiting after this many seconds")
    parser.add_argument(
        "--warm-up-cards", type=int, default=None,
        help="cards sent through the whole pipeline before the clock starts (default: one per submit "
        "environment), so each handler's first-invocation set-up (clients, secrets) is start-up, not in the total",
    )
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    from extractor.service.workers import THREADS_ENV, ocr_threads_per_worker
    from extractor.synth import generate_card

    cores = _usable_cores()
    workers = args.extractor_workers
    # The OCR-only baseline runs with the budget each worker runs with (an explicit setting wins in both).
    os.environ.setdefault(THREADS_ENV, str(ocr_threads_per_worker(workers, cores)))
    load_start = os.getloadavg()[0]

    console = Console()
    with console.status(f"generating {args.count} {args.level} cards…"):
        cards = [generate_card(args.seed + index, args.level) for index in range(args.count)]
        warm_up_count = 2 if args.warm_up_cards is None else args.warm_up_cards
        warm_up_cards = [generate_card(args.seed - 1 - index, args.level)[0] for index in range(warm_up_count)]

    from extractor.engine import extract, warm_up

    with console.status(f"OCR only (extractor.engine.extract, sequential, {os.environ[THREADS_ENV]} thread(s))…"):
        warm_up()
        ocr_seconds = []
        ocr_started = time.perf_counter()
        ocr_cpu_started = time.process_time()
        for image, _ in cards:
            started = time.perf_counter()
            extract(image)
            ocr_seconds.append(time.perf_counter() - started)
        ocr_total = time.perf_counter() - ocr_started
        ocr_cpu = time.process_time() - ocr_cpu_started

    from local.stack import LocalStack

    with tempfile.TemporaryDirectory(prefix="ktp-bench-") as data_dir:
        stack = LocalStack(data_dir, extractor_workers=workers, persist=False)
        with console.status("starting the local stack…"):
            stack_started = time.perf_counter()
            stack.start()
            startup = time.perf_counter() - stack_started
            warmed = _prewarm_handlers(stack)
            # Concurrent warm-up uploads reach both submit environments (the worker receives in batches).
            for index, image in enumerate(warm_up_cards):
                stack.jobs.upload_bytes(image, f"bench/warm-up-{index:03d}.jpg")
            _wait_terminal(stack, len(warm_up_cards), args.timeout, interval=0.25)
        try:
            with console.status(f"pipeline: uploading {args.count} cards and waiting for every job…"):
                cpu_before = _process_cpu()
                load_pipeline = os.getloadavg()[0]
                started = time.perf_counter()
                uploads = [stack.jobs.upload_bytes(image, f"bench/card-{index:03d}.jpg") for index, (image, _) in enumerate(cards)]
                upload_seconds = time.perf_counter() - started
                _wait_terminal(stack, len(warm_up_cards) + len(uploads), args.timeout, interval=0.25)
                pipeline_total = time.perf_counter() - started
                cpu_after = _process_cpu()
                records = {upload.reference_id: stack.jobs.get(upload.reference_id) for upload in uploads}
        finally:
            stack.stop()

    statuses: dict[str, int] = {}
    latencies = []
    for record in records.values():
        status = (record or {}).get("status", "MISSING")
        statuses[status] = statuses.get(status, 0) + 1
        created, completed = _epoch((record or {}).get("created_at")), _epoch((record or {}).get("completed_at"))
        if created and completed:
            latencies.append(completed - created)

    ideal = ocr_total / max(1, min(workers, cores))
    table = Table(title=f"{args.count} {args.level} cards, {cores} usable CPU(s), extractor workers {workers}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("load average (1 min): start / pipeline start / end", f"{load_start:.1f} / {load_pipeline:.1f} / {os.getloadavg()[0]:.1f}")
    table.add_row("OCR threads per worker (and in the OCR-only run)", os.environ[THREADS_ENV])
    table.add_row("OCR only, sequential total", f"{ocr_total:.1f} s")
    table.add_row("OCR only, CPU (all threads)", f"{ocr_cpu:.1f} s")
    table.add_row("OCR only, per card (median / max)", f"{statistics.median(ocr_seconds):.2f} / {max(ocr_seconds):.2f} s")
    table.add_row("ideal parallel OCR: sequential ÷ workers", f"{ideal:.1f} s")
    table.add_row("local stack start-up (not in the total)", f"{startup:.1f} s")
    table.add_row("handler environments started before the clock", warmed)
    table.add_row("warm-up cards through the pipeline before the clock", str(len(warm_up_cards)))
    table.add_row("pipeline: uploads", f"{upload_seconds:.1f} s")
    table.add_row("pipeline: upload → all terminal", f"{pipeline_total:.1f} s")
    table.add_row("pipeline ÷ OCR-only sequential", f"{pipeline_total / ocr_total:.2f}×")
    table.add_row("pipeline ÷ ideal parallel OCR", f"{pipeline_total / ideal:.2f}×")
    if latencies:
        latencies.sort()
        p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
        table.add_row("job latency received → completed (median / p95)", f"{statistics.median(latencies):.1f} / {p95:.1f} s")
    table.add_row("throughput", f"{args.count / pipeline_total:.2f} cards/s")
    table.add_row("final statuses", ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
    by_role = _cpu_by_role(cpu_before, cpu_after)
    if by_role:
        spent = sum(by_role.values())
        for role, seconds in sorted(by_role.items(), key=lambda item: -item[1]):
            table.add_row(f"CPU during the pipeline: {role}", f"{seconds:.1f} s ({seconds / spent:.0%})")
        table.add_row("CPU during the pipeline: all ÷ (wall × usable cores)", f"{spent / (pipeline_total * cores):.0%}")
        # Load-independent: on an idle machine the pipeline ÷ ideal ratio cannot be below this.
        table.add_row("pipeline CPU (all processes) ÷ OCR-only CPU", f"{spent / ocr_cpu:.2f}×")
    console.print(table)
    return 0 if statuses.get("COMPLETED", 0) == args.count else 1


if __name__ == "__main__":
    raise SystemExit(main())
