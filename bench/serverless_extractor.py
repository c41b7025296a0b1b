"""N cards through the local serverless extractor (its real handlers on moto), 1 and 2 OCR workers.

Runs local/serverless_extractor.py's ServerlessExtractor: ApiFunction behind the HTTP API emulation,
OcrWorkerFunction fed by the SQS work queue (``worker_concurrency`` environments at once) and
CallbackFunction delivering to a loopback receiver here. Each OCR environment gets one engine
thread (KTP_OCR_THREADS=1), the share of one Lambda vCPU (1,769 MB).

Per-stage latency comes from the job records (created_at, started_at, finished_at) and the
receiver's arrival times: submit (HTTP round trip), queue wait (created -> OCR started), OCR
(started -> result stored) and callback (stored -> received). GB-seconds per card are the chosen
memory times the measured durations of the three functions; the cost uses the AWS Lambda arm64
list price (https://aws.amazon.com/lambda/pricing/, US East (N. Virginia): $0.0000133334 per GB-s
for the first 7.5 billion GB-s a month, $0.20 per million requests; pass --price-per-gb-second for
your region). API Gateway, SQS, S3, DynamoDB and Secrets Manager charges are not included.
No hosted KTP API publishes a per-call price (Verihubs' public docs, docs.verihubs.com, give
none: pricing is by contract); pass --hosted-price-per-call to compare with a quote you have.

Local x86 cores stand in for Lambda's arm64 ones; the 100-worker row is a projection on paper.

    .venv/bin/python bench/serverless_extractor.py [--cards 8] [--workers 1 2] [--memory-mb 1769]
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

LAMBDA_ARM64_PRICE_PER_GB_SECOND = 0.0000133334  # USD, US East (N. Virginia), first tier
LAMBDA_PRICE_PER_REQUEST = 0.20 / 1_000_000  # USD
API_MEMORY_MB = 1024  # ApiFunction's MemorySize in serverless_extractor/template.yaml
CALLBACK_MEMORY_MB = 256  # CallbackFunction's
APP = {"app_id": "bench-app", "api_key": "bench-key-0123456789", "callback_user": "bench", "callback_password": "bench-pass"}


class CallbackReceiver:
    """Loopback receiver recording when each reference_id's callback arrived (first arrival)."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                reference_id = (json.loads(body or b"{}").get("data") or {}).get("reference_id")
                with receiver.lock:
                    if reference_id and reference_id not in receiver.arrivals:
                        receiver.arrivals[reference_id] = time.time()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callback"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def generate_cards(count: int) -> list[bytes]:
    from extractor.synth.cards import generate_card

    return [generate_card(2000 + index, "phone" if index % 2 else "clean")[0] for index in range(count)]


def run(cards: list[bytes], workers: int, timeout_s: float) -> dict:
    from local.serverless_extractor import ExtractorOptions, ServerlessExtractor

    receiver = CallbackReceiver()
    with tempfile.TemporaryDirectory() as data_dir:
        extractor = ServerlessExtractor(ExtractorOptions(
            applications=[APP], data_dir=Path(data_dir), worker_concurrency=workers,
            function_env={"KTP_OCR_THREADS": "1"},
        ))
        url = extractor.start()
        try:
            headers = {"App-ID": APP["app_id"], "API-Key": APP["api_key"]}
            submits, references = [], []
            started = time.time()
            with httpx.Client(timeout=60) as client:
                for index, card in enumerate(cards):
                    reference_id = f"bench-{workers}-{index:04d}-{int(started)}"
                    body = {"image": base64.b64encode(card).decode(), "reference_id": reference_id,
                            "callback_url": receiver.url}
                    t0 = time.perf_counter()
                    answer = client.post(f"{url}/ktp/id/extract-async", json=body, headers=headers)
                    submits.append(time.perf_counter() - t0)
                    answer.raise_for_status()
                    references.append(reference_id)
            deadline = time.time() + timeout_s
            while time.time() < deadline and len(receiver.arrivals) < len(references):
                time.sleep(0.2)
            ended = max(receiver.arrivals.values(), default=time.time())
            dynamodb = extractor._client("dynamodb")
            items = [dynamodb.get_item(TableName=extractor.names["JobsTable"],
                                       Key={"app_id": {"S": APP["app_id"]}, "reference_id": {"S": ref}}).get("Item", {})
                     for ref in references]
        finally:
            extractor.stop()
            receiver.close()

    def number(item: dict, name: str) -> float | None:
        return float(item[name]["N"]) if name in item else None

    waits, ocrs, callbacks = [], [], []
    for reference_id, item in zip(references, items):
        created, begun, finished = (number(item, n) for n in ("created_at", "started_at", "finished_at"))
        if None not in (created, begun, finished):
            waits.append(begun - created)
            ocrs.append(finished - begun)
            if reference_id in receiver.arrivals:
                callbacks.append(receiver.arrivals[reference_id] - finished)
    return {"workers": workers, "cards": len(cards), "received": len(receiver.arrivals), "seconds": ended - started,
            "submit": submits, "wait": waits, "ocr": ocrs, "callback": callbacks}


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f}" if values else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--memory-mb", type=int, default=1769, help="OcrWorkerFunction's memory (1,769 MB = 1 vCPU)")
    parser.add_argument("--price-per-gb-second", type=float, default=LAMBDA_ARM64_PRICE_PER_GB_SECOND)
    parser.add_argument("--hosted-price-per-call", type=float, default=None, help="USD per call of a hosted API, if quoted")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for every callback")
    args = parser.parse_args()

    try:
        import local.serverless_extractor  # noqa: F401
    except ImportError:
        print("needs local/serverless_extractor.py (the serverless extractor's local runner)", file=sys.stderr)
        return 2
    cards = generate_cards(args.cards)
    runs = [run(cards, workers, args.timeout) for workers in args.workers]

    print(f"Local serverless extractor (moto), {args.cards} cards (half clean, half phone), KTP_OCR_THREADS=1 per worker")
    print()
    print(f"| {'workers':>7} | {'received':>8} | {'cards/s':>7} | {'submit ms':>9} | {'queue wait ms':>13} |"
          f" {'OCR ms':>6} | {'callback ms':>11} |")
    print(f"|{'-' * 9}|{'-' * 10}|{'-' * 9}|{'-' * 11}|{'-' * 15}|{'-' * 8}|{'-' * 13}|")
    for result in runs:
        rate = result["received"] / result["seconds"] if result["seconds"] > 0 else 0.0
        print(f"| {result['workers']:>7} | {result['received']:>5}/{result['cards']:<2} | {rate:>7.2f} |"
              f" {_ms(result['submit']):>9} | {_ms(result['wait']):>13} | {_ms(result['ocr']):>6} | {_ms(result['callback']):>11} |")
    print("(median per card; queue wait grows with the backlog when cards arrive faster than the workers read them)")

    base = runs[0]
    ocr_s = statistics.mean(base["ocr"]) if base["ocr"] else 0.0
    submit_s = statistics.mean(base["submit"]) if base["submit"] else 0.0
    callback_s = statistics.mean(base["callback"]) if base["callback"] else 0.0
    gb_seconds = (args.memory_mb * ocr_s + API_MEMORY_MB * submit_s + CALLBACK_MEMORY_MB * callback_s) / 1024
    # Three invocations per card: submit, OCR, callback (a result read adds one more).
    cost_1000 = 1000 * (gb_seconds * args.price_per_gb_second + 3 * LAMBDA_PRICE_PER_REQUEST)
    print()
    print(f"GB-seconds per card at {args.memory_mb} MB (OCR) + {API_MEMORY_MB} MB (submit) + {CALLBACK_MEMORY_MB} MB"
          f" (callback): {gb_seconds:.3f} (OCR {args.memory_mb / 1024 * ocr_s:.3f})")
    print(f"Lambda cost per 1,000 cards at ${args.price_per_gb_second:.10f}/GB-s + $0.20/M requests: ${cost_1000:.4f}"
          " (API Gateway, SQS, S3, DynamoDB not included; cold starts add about one model load per new environment)")
    if base["ocr"]:
        per_worker = 1.0 / ocr_s
        print(f"Projection, 100 concurrent workers (OcrMaximumConcurrency=100, each its own vCPU): ~{100 * per_worker:.0f}"
              f" cards/s, ~{360_000 * per_worker:,.0f} cards/hour; cost per card unchanged. Bounded by the HTTP API"
              " throttle (ApiThrottlingRateLimit) and the account's Lambda concurrency quota.")
    if args.hosted_price_per_call is not None:
        print(f"Hosted API at ${args.hosted_price_per_call} per call: ${1000 * args.hosted_price_per_call:.2f} per 1,000 cards")
    else:
        print("Hosted API: no public per-call price (pass --hosted-price-per-call with a quote to compare).")
    return 0 if all(r["received"] == r["cards"] for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
