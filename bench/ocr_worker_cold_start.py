"""Cold start (import + model load) and per-card time of the serverless OCR worker's code path.

Each sample is a fresh interpreter with only the worker's packages importable (pillow, fastapi,
httpx... hidden, as in serverless_extractor/functions/ocr_worker/requirements.txt). It times, with
perf_counter: the engine's import, ``warm_up()`` (both bundled models and the region register),
then ``extract()`` on N generated cards. ``KTP_OCR_THREADS`` stands in for the Lambda memory size:
Lambda gives 1 vCPU at 1,769 MB and CPU in proportion to memory, so 1 thread ~ 1,769 MB and 2
threads ~ 3,538 MB. This runs on the local machine's x86 cores, a proxy for
Lambda's arm64 (Graviton) ones, not a measurement of them.

    .venv/bin/python bench/ocr_worker_cold_start.py [--cards 6] [--repeats 3] [--threads 1 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# Installed for development, absent from the worker's package.
NOT_IN_WORKER = ("PIL", "fastapi", "starlette", "uvicorn", "httpx", "httpcore", "moto", "rapidocr", "onnxruntime")

CHILD = """
import json, resource, sys, time
for name in {blocked!r}:
    sys.modules[name] = None
t0 = time.perf_counter()
from extractor.engine import pipeline
t1 = time.perf_counter()
pipeline.warm_up()
t2 = time.perf_counter()
cards = []
for path in sys.argv[1:]:
    with open(path, "rb") as handle:
        image = handle.read()
    started = time.perf_counter()
    pipeline.extract(image)
    cards.append((time.perf_counter() - started) * 1000.0)
print(json.dumps({{"import_ms": (t1 - t0) * 1000.0, "load_ms": (t2 - t1) * 1000.0, "cards_ms": cards,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}}))
"""

MB_PER_VCPU = 1769


def write_cards(folder: Path, count: int) -> list[Path]:
    from extractor.synth.cards import generate_card

    paths = []
    for index in range(count):
        jpeg, _ = generate_card(1000 + index, "phone" if index % 2 else "clean")
        path = folder / f"card-{index}.jpg"
        path.write_bytes(jpeg)
        paths.append(path)
    return paths


def sample(cards: list[Path], threads: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON") and k != "KTP_OCR_ENGINE"}
    env.update({"PYTHONPATH": str(REPO), "KTP_OCR_THREADS": str(threads)})
    code = CHILD.format(blocked=NOT_IN_WORKER)
    out = subprocess.run([sys.executable, "-c", code, *map(str, cards)], env=env, cwd=REPO,
                         capture_output=True, text=True, check=True, timeout=1200)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        cards = write_cards(Path(folder), args.cards)
        sample(cards[:1], 1)  # warm the disk cache and the bytecode, as a deployed package ships .pyc
        runs = {threads: [sample(cards, threads) for _ in range(args.repeats)] for threads in args.threads}

    print(f"OCR worker code path, {args.repeats} fresh interpreters x {args.cards} cards (half clean, half phone),"
          f" Python {sys.version.split()[0]}, {os.cpu_count()} local x86 cores (a proxy for Lambda arm64)")
    print()
    print(f"| {'threads':>7} | {'~ Lambda MB':>11} | {'import ms':>9} | {'model load ms':>13} | {'cold total ms':>13} |"
          f" {'per card ms (median)':>20} | {'p90 card ms':>11} | {'peak RSS MB':>11} |")
    print(f"|{'-' * 9}|{'-' * 13}|{'-' * 11}|{'-' * 15}|{'-' * 15}|{'-' * 22}|{'-' * 13}|{'-' * 13}|")
    for threads, samples in runs.items():
        imports = statistics.median(s["import_ms"] for s in samples)
        loads = statistics.median(s["load_ms"] for s in samples)
        per_card = sorted(ms for s in samples for ms in s["cards_ms"])
        p90 = per_card[min(len(per_card) - 1, int(0.9 * len(per_card)))]
        rss = max(s["peak_rss_mb"] for s in samples)
        print(f"| {threads:>7} | {threads * MB_PER_VCPU:>11,} | {imports:>9.0f} | {loads:>13.0f} | {imports + loads:>13.0f} |"
              f" {statistics.median(per_card):>20.0f} | {p90:>11.0f} | {rss:>11.0f} |")
    print()
    print("Cold total = import + warm_up (models, region register); interpreter start-up and")
    print("Lambda's own init (download and unzip of the package) come on top.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
