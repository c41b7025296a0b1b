"""Extractor service throughput and latency, end to end over HTTP with real OCR.

Starts ``ktp serve`` (as ``python -m extractor.service``) with 2 workers on 127.0.0.1 and a local
callback listener, then measures:

* throughput: N generated cards submitted at once; cards per minute from the first submit to the
  last callback received;
* latency: one card at a time (after the batch, workers warm), time from submit to callback,
  for the first ``--repeats`` cards of the batch again (the same cards, so card difficulty does
  not differ between the two phases).

The efficiency line is throughput ÷ (workers × single-card rate), the single-card rate being
60 s ÷ the mean single-card latency: 100 % would mean N workers finish N times as many cards as one card
alone takes. Each worker runs OCR with cores ÷ workers threads (as the service does), so the
single card is measured with the same thread budget the batch has. On a shared machine the
ratio also measures the neighbours; the table therefore shows the CPU seconds the service's
processes spent per card in each phase (Linux): equal figures with a low ratio mean the missing
time went to other processes, not to the service.

    .venv/bin/python bench/service_throughput.py [--cards 40] [--repeats 7] [--workers 2] [--level phone]
"""

from __future__ import annotations

import argparse
import base64
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import json

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

APP = ("bench-app", "bench-key", "bench-cb", "bench-cb-pass")
AUTH = {"App-ID": APP[0], "API-Key": APP[1]}


class CallbackSink:
    """Records when each callback arrived, keyed by the path (one path per card)."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.outcomes: dict[str, str] = {}
        self.processing: dict[str, float] = {}  # worker time per card, from the result's timings
        self.event = threading.Condition()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with sink.event:
                    sink.arrivals.setdefault(self.path, time.perf_counter())
                    sink.outcomes[self.path] = "error" if b'"error_code"' in body else "success"
                    seconds = _find(json.loads(body or b"{}"), "processing_seconds")
                    if seconds is not None:
                        sink.processing[self.path] = seconds
                    sink.event.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def wait_for(self, paths: set[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self.event:
            while not paths <= self.arrivals.keys():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(paths - self.arrivals.keys())} callbacks missing")
                self.event.wait(left)


def _find(document, key: str):
    """The first value under ``key`` anywhere in a JSON document (the timings sit in the extra object)."""
    if isinstance(document, dict):
        if key in document:
            return document[key]
        document = list(document.values())
    if isinstance(document, list):
        for value in document:
            found = _find(value, key)
            if found is not None:
                return found
    return None


def tree_cpu_seconds(root: int) -> float | None:
    """User+system CPU of ``root`` and its descendants (Linux /proc), None elsewhere."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    tick = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry.name))
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += times.get(pid, 0.0)
        todo.extend(children.get(pid, []))
    return total


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_service(data_dir: Path, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KTP_SERVE_")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    process = subprocess.Popen(
        [sys.executable, "-m", "extractor.service", "--port", str(port), "--data-dir", str(data_dir),
         "--workers", str(workers), "--local", "--app", ":".join(APP), "--log-level", "WARNING"],
        cwd=REPO_ROOT, env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"service exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=1, trust_env=False).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("service did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--level", default="phone", choices=("clean", "phone", "hard"))
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()

    from extractor.synth import generate_card

    if args.repeats > args.cards:
        parser.error("--repeats cannot exceed --cards (the single-card phase re-sends batch cards)")
    print(f"generating {args.cards} '{args.level}' cards ...", file=sys.stderr)
    cards = [base64.b64encode(generate_card(args.seed * 100_000 + i, args.level)[0]).decode()
             for i in range(args.cards)]
    batch = cards[: args.cards]
    singles = batch[: args.repeats]  # the same cards again, one at a time

    load_at_start = os.getloadavg()[0]
    sink = CallbackSink()
    with tempfile.TemporaryDirectory(prefix="ktp-bench-") as tmp:
        started = time.perf_counter()
        process, url = start_service(Path(tmp) / "data", args.workers)
        startup = time.perf_counter() - started
        try:
            with httpx.Client(base_url=url, headers=AUTH, timeout=60, trust_env=False) as client:
                # Throughput: everything submitted at once, workers saturated.
                paths = {f"/batch/{i}" for i in range(len(batch))}
                cpu_start = tree_cpu_seconds(process.pid)
                t0 = time.perf_counter()
                submit_seconds = []
                for i, image in enumerate(batch):
                    s = time.perf_counter()
                    response = client.post("/ktp/id/extract-async", json={"image": image, "callback_url": f"{sink.url}/batch/{i}"})
                    submit_seconds.append(time.perf_counter() - s)
                    response.raise_for_status()
                sink.wait_for(paths, timeout=60 + 30 * len(batch))
                batch_seconds = max(sink.arrivals[p] for p in paths) - t0
                successes = sum(sink.outcomes[p] == "success" for p in paths)
                cpu_batch = tree_cpu_seconds(process.pid)

                # Latency: one card in the system at a time.
                latencies = []
                for i, image in enumerate(singles):
                    path = f"/single/{i}"
                    s = time.perf_counter()
                    client.post("/ktp/id/extract-async", json={"image": image, "callback_url": sink.url + path}).raise_for_status()
                    sink.wait_for({path}, timeout=120)
                    latencies.append(sink.arrivals[path] - s)
                cpu_singles = tree_cpu_seconds(process.pid)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()

    throughput = len(batch) / batch_seconds * 60
    single_rate = 60 / statistics.mean(latencies)
    single_processing = [sink.processing[f"/single/{i}"] for i in range(len(singles)) if f"/single/{i}" in sink.processing]
    rows = [
        ("machine: cores usable / load average (1 min) at start, at end", f"{len(os.sched_getaffinity(0))} / {load_at_start:.1f}, {os.getloadavg()[0]:.1f}"),
        ("workers", f"{args.workers}"),
        ("cards (level)", f"{len(batch)} ({args.level})"),
        ("service start-up incl. model warm-up", f"{startup:.1f} s"),
        ("batch wall time, first submit -> last callback", f"{batch_seconds:.1f} s"),
        ("throughput", f"{throughput:.1f} cards/min"),
        ("jobs without error_code", f"{successes}/{len(batch)}"),
        ("submit call, median (base64, validation, fsync)", f"{statistics.median(submit_seconds) * 1000:.0f} ms"),
        (f"single card submit -> callback, median of {len(latencies)}", f"{statistics.median(latencies):.2f} s"),
        ("single card submit -> callback, min / max", f"{min(latencies):.2f} / {max(latencies):.2f} s"),
        ("single card in the worker (processing_seconds), median",
         f"{statistics.median(single_processing):.2f} s" if single_processing else "-"),
        ("service CPU per card: batch / single (all its processes)",
         f"{(cpu_batch - cpu_start) / len(batch):.2f} / {(cpu_singles - cpu_batch) / len(singles):.2f} s"
         if cpu_start is not None else "-"),
        ("ideal: workers x single-card rate (60 s / mean latency)", f"{args.workers * single_rate:.1f} cards/min"),
        ("service / (workers x single-card rate)", f"{throughput / (args.workers * single_rate):.0%}"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"\n{'metric'.ljust(width)} | value")
    print(f"{'-' * width}-|-{'-' * 20}")
    for name, value in rows:
        print(f"{name.ljust(width)} | {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
