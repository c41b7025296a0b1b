"""The whole local pipeline on N synthetic cards against OCR alone on the same cards.

1. Generate N cards (not timed).
2. OCR-only: ``extractor.engine.extract`` on each card, one after another, in this process
   (model warmed up first) — the floor any pipeline on this machine pays.
3. Pipeline: start the local stack (not timed), upload the N cards to the moto bucket and wait
   until every job record is terminal — S3 event → SQS → submit handler → extractor (HTTP, queue,
   OCR workers) → callback → DynamoDB.

Prints a table; the ratio pipeline / (OCR-only / workers) is the price of the asynchronous path.

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


def _epoch(iso: str | None) -> float | None:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() if iso else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--level", choices=("clean", "phone", "hard"), default="clean")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--extractor-workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=float, default=1800.0, help="give up waiting after this many seconds")
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    from extractor.synth import generate_card

    console = Console()
    with console.status(f"generating {args.count} {args.level} cards…"):
        cards = [generate_card(args.seed + index, args.level) for index in range(args.count)]

    from extractor.engine import extract, warm_up

    with console.status("OCR only (extractor.engine.extract, sequential)…"):
        warm_up()
        ocr_seconds = []
        ocr_started = time.perf_counter()
        for image, _ in cards:
            started = time.perf_counter()
            extract(image)
            ocr_seconds.append(time.perf_counter() - started)
        ocr_total = time.perf_counter() - ocr_started

    from local.stack import LocalStack

    with tempfile.TemporaryDirectory(prefix="ktp-bench-") as data_dir:
        stack = LocalStack(data_dir, extractor_workers=args.extractor_workers, persist=False)
        with console.status("starting the local stack…"):
            stack_started = time.perf_counter()
            stack.start()
            startup = time.perf_counter() - stack_started
        try:
            with console.status(f"pipeline: uploading {args.count} cards and waiting for every job…"):
                started = time.perf_counter()
                uploads = [stack.jobs.upload_bytes(image, f"bench/card-{index:03d}.jpg") for index, (image, _) in enumerate(cards)]
                upload_seconds = time.perf_counter() - started
                records = stack.jobs.wait_terminal([u.reference_id for u in uploads], timeout_seconds=args.timeout, interval_seconds=0.25)
                pipeline_total = time.perf_counter() - started
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

    table = Table(title=f"{args.count} {args.level} cards, {os.cpu_count()} CPU(s), extractor workers {args.extractor_workers}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("OCR only, sequential total", f"{ocr_total:.1f} s")
    table.add_row("OCR only, per card (median / max)", f"{statistics.median(ocr_seconds):.2f} / {max(ocr_seconds):.2f} s")
    ideal = ocr_total / max(1, min(args.extractor_workers, os.cpu_count() or 1))
    table.add_row("OCR only ÷ workers (linear-scaling ideal)", f"{ideal:.1f} s")
    table.add_row("local stack start-up (not in the total)", f"{startup:.1f} s")
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
    console.print(table)
    return 0 if statuses.get("COMPLETED", 0) == args.count else 1


if __name__ == "__main__":
    raise SystemExit(main())
