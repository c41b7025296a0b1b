"""Cold import time of each Lambda handler next to a bare `import boto3`, in the same run.

Each sample is a fresh interpreter (what a Lambda cold start pays before the first invocation):
the child times its own import with perf_counter, so interpreter start-up is excluded and reported
separately. Prints a table of medians and the heaviest top-level imports from `-X importtime`.

    .venv/bin/python bench/cold_imports.py [--repeats 9]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LAYER = REPO / "layers" / "pipeline"

# name → (extra sys.path entry, import statement[, environment overrides])
FIRST_CALL = "import app, boto3, {modules}"  # what the first invocation adds: clients and services are lazy
TARGETS: dict[str, tuple] = {
    "import boto3": (None, "import boto3"),
    "import boto3 + client('dynamodb')": (None, "import boto3; boto3.client('dynamodb')"),
    "submit handler": (REPO / "functions" / "submit", "import app"),
    "callback handler": (REPO / "functions" / "callback", "import app"),
    "poller handler": (REPO / "functions" / "poller", "import app"),
    "erase handler": (REPO / "functions" / "erase", "import app"),
    # The whole cold cost of each function's first invocation, X-Ray SDK tracing off (the default).
    "submit handler + first call": (REPO / "functions" / "submit",
                                    FIRST_CALL.format(modules="httpx, ktp_pipeline.submitter")),
    "callback handler + first call": (REPO / "functions" / "callback",
                                      FIRST_CALL.format(modules="ktp_pipeline.callback_receiver, ktp_pipeline.secrets")),
    "poller handler + first call": (REPO / "functions" / "poller",
                                    FIRST_CALL.format(modules="httpx, ktp_pipeline.poller")),
    "erase handler + first call": (REPO / "functions" / "erase",
                                   FIRST_CALL.format(modules="httpx, ktp_pipeline.erasure, ktp_pipeline.nik_hash")),
    # The same with DetailedTracing=true: importing the handler builds the Powertools Tracer (X-Ray SDK).
    "submit + first call, SDK tracing on": (
        REPO / "functions" / "submit",
        FIRST_CALL.format(modules="httpx, ktp_pipeline.submitter"),
        {"POWERTOOLS_TRACE_DISABLED": "false", "LAMBDA_TASK_ROOT": "/var/task"},
    ),
}

# In the dev venv but not in the Lambda layer, and they change what an import does: httpx loads its
# command line (click, pygments, rich: ~100 ms) when they are installed. Hidden, as in Lambda.
NOT_IN_LAYER = ("click", "pygments", "rich")

CHILD = """
import sys, time
for name in NOT_IN_LAYER:
    sys.modules[name] = None  # `import name` raises ImportError, as it would in the layer
t0 = time.perf_counter()
{statement}
print((time.perf_counter() - t0) * 1000.0)
"""


def child_env(extra: Path | None, overrides: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "AWS_ENDPOINT"))}
    paths = [str(LAYER)] + ([str(extra)] if extra else [])
    env.update({
        "PYTHONPATH": os.pathsep.join(paths),
        "PYTHONDONTWRITEBYTECODE": "0",
        "AWS_DEFAULT_REGION": "ap-southeast-3",
        "POWERTOOLS_SERVICE_NAME": "bench",
        "POWERTOOLS_METRICS_NAMESPACE": "KtpPipeline",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "JOBS_TABLE_NAME": "bench",
    })
    env.update(overrides or {})
    return env


def sample(extra: Path | None, statement: str, overrides: dict[str, str] | None = None) -> float:
    code = CHILD.replace("NOT_IN_LAYER", repr(NOT_IN_LAYER)).format(statement=statement)
    out = subprocess.run([sys.executable, "-c", code], env=child_env(extra, overrides),
                         cwd=extra or REPO, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def startup_ms() -> float:
    """Wall time of a fresh interpreter that imports nothing (paid before any import above)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], env=child_env(None), check=True)
    return (time.perf_counter() - started) * 1000.0


def heaviest(extra: Path | None, statement: str, top: int) -> list[tuple[float, str]]:
    """The handler's direct and second-level imports by cumulative time (ms), from one `-X importtime` run."""
    hide = f"import sys\nfor name in {NOT_IN_LAYER!r}:\n    sys.modules[name] = None\n"
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", hide + statement], env=child_env(extra),
                         cwd=extra or REPO, capture_output=True, text=True, check=True)
    rows: dict[str, float] = {}
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line[len("import time:"):].split("|")
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2  # importtime indents two spaces per level
        if depth in (1, 2):  # below `app`: what the handler pulls in
            rows[name.strip()] = max(rows.get(name.strip(), 0.0), int(cumulative) / 1000.0)
    return sorted(((ms, name) for name, ms in rows.items()), reverse=True)[:top]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--top", type=int, default=6)
    args = parser.parse_args()

    for target in TARGETS.values():  # warm the bytecode cache: Lambda ships .pyc-less but disk-warm
        sample(*target)
    results: dict[str, list[float]] = {name: [] for name in TARGETS}
    startups: list[float] = []
    for _ in range(args.repeats):  # interleaved so machine noise hits every target alike
        startups.append(startup_ms())
        for name, target in TARGETS.items():
            results[name].append(sample(*target))

    boto3_ms = statistics.median(results["import boto3"])
    print(f"Cold import time, fresh interpreter per sample, {args.repeats} repeats, Python {sys.version.split()[0]}")
    print()
    print(f"| {'target':<38} | {'median ms':>9} | {'min ms':>7} | {'max ms':>7} | {'× boto3':>7} |")
    print(f"|{'-' * 40}|{'-' * 11}|{'-' * 9}|{'-' * 9}|{'-' * 9}|")
    for name, values in results.items():
        median = statistics.median(values)
        low, high = min(values), max(values)
        print(f"| {name:<38} | {median:>9.1f} | {low:>7.1f} | {high:>7.1f} | {median / boto3_ms:>7.2f} |")
    print()
    print(f"Interpreter start-up before any import (wall, median): {statistics.median(startups):.1f} ms")
    print()
    for name in ("submit handler", "callback handler", "poller handler", "erase handler"):
        extra, statement = TARGETS[name][:2]
        parts = ", ".join(f"{module} {ms:.0f}" for ms, module in heaviest(extra, statement, args.top))
        print(f"{name} heaviest imports below the handler (cumulative ms, one run): {parts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
