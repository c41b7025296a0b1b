"""`make test`'s wall time and CPU, with the files that take longest.

Runs the Makefile's own pytest command (the `test:` recipe, read from the Makefile so the two never
differ) with `--durations=0`, and prints one table: wall seconds, CPU seconds of the run and every
process it started, how busy the cores were, and the slowest test files (set-up included).

    .venv/bin/python bench/make_test_time.py                 # in this checkout (its .venv)
    .venv/bin/python bench/make_test_time.py --fresh-clone   # `make test` in a clone of HEAD, set-up timed apart

The issue-12 target is 150 s of tests on 2 cores. Nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 150.0


def _test_recipe(makefile: Path) -> str:
    lines = makefile.read_text(encoding="utf-8").splitlines()
    return lines[lines.index(next(line for line in lines if line.startswith("test:"))) + 1]


def pytest_arguments(makefile: Path) -> list[str]:
    """The arguments after `pytest` in the Makefile's `test:` recipe."""
    return shlex.split(_test_recipe(makefile).split("-m pytest", 1)[1])


def recipe_environment(makefile: Path) -> dict[str, str]:
    """The `NAME=value` assignments in front of the recipe's command (`PYTHONDONTWRITEBYTECODE=`)."""
    words = shlex.split(_test_recipe(makefile).split("-m pytest", 1)[0])
    return dict(word.split("=", 1) for word in words if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", word))


def cpu_seconds() -> float:
    """CPU seconds of the machine where /proc/stat tells (it counts processes nobody waited for, such
    as the local stacks' function environments, reaped by their zygote); else of our waited-for children."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            ticks = [int(value) for value in stat.readline().split()[1:]]
        return (ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime


def timed(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Wall and CPU seconds of ``command`` (with everything it started and waited for) and its output."""
    cpu_before, started = cpu_seconds(), time.monotonic()
    completed = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall, cpu = time.monotonic() - started, cpu_seconds() - cpu_before
    if completed.returncode != 0:
        sys.stdout.write(completed.stdout[-6000:] + completed.stderr[-3000:])
        raise SystemExit(f"{shlex.join(command)} failed with exit code {completed.returncode}")
    return wall, cpu, completed.stdout


def reference_seconds(runs: int = 3) -> float:
    """CPU seconds of a fixed pure-Python loop (median of ``runs``, each in a fresh interpreter): this
    machine's speed at the moment. It drifts by more than half over a day here (0.57-1.10 s seen),
    and `make test`'s wall time with it, so a run is only comparable beside this figure."""
    code = "import time; sum(i * i for i in range(10**7)); print(time.process_time())"
    times = sorted(float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                        check=True).stdout) for _ in range(runs))
    return times[len(times) // 2]


def slowest_files(output: str, top: int) -> list[tuple[str, float]]:
    per_file: Counter[str] = Counter()
    for match in re.finditer(r"^([0-9.]+)s (?:setup|call|teardown)\s+(\S+?)::", output, re.MULTILINE):
        per_file[match.group(2)] += float(match.group(1))
    return per_file.most_common(top)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fresh-clone", action="store_true", help="run `make setup` and `make test` in a clone of HEAD")
    parser.add_argument("--top", type=int, default=10, help="slowest files to list")
    args = parser.parse_args()

    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="ktp-test-time-") as scratch:
        root = REPO_ROOT
        if args.fresh_clone:
            root = Path(scratch) / "clone"
            subprocess.run(["git", "clone", "--quiet", str(REPO_ROOT), str(root)], check=True)
            wall, _cpu, _ = timed(["make", "setup"], root)
            rows.append(("set-up of the fresh clone (`make setup`)", f"{wall:.0f} s"))
        pytest = [str(root / ".venv" / "bin" / "python"), "-m", "pytest", *pytest_arguments(root / "Makefile"),
                  "-q", "--durations=0", "-p", "no:cacheprovider"]
        env = {**os.environ, **recipe_environment(root / "Makefile"), "CI": "true"}
        speed_before = reference_seconds()
        wall, cpu, output = timed(pytest, root, env)
        speed_after = reference_seconds()

    summary = re.findall(r"^=*\s*(\d+ passed.*?) in [0-9.]+s", output, re.MULTILINE)
    cores = os.cpu_count() or 1
    rows += [
        ("tests", summary[-1] if summary else "?"),
        ("wall", f"{wall:.0f} s = {wall / 60:.1f} min (target {TARGET_SECONDS:.0f} s: {wall / TARGET_SECONDS:.2f}×)"),
        ("CPU (the machine's, else every waited-for process)", f"{cpu:.0f} s: the cores were {cpu / (wall * cores):.0%} busy ({cores} cores)"),
        ("wall if the CPU were spread perfectly", f"{cpu / cores:.0f} s"),
        ("machine speed: a fixed loop's CPU s, before / after", f"{speed_before:.2f} / {speed_after:.2f} (lower is faster)"),
        (f"slowest {args.top} files", ""),
    ]
    rows += [(f"  {name}", f"{seconds:.1f} s (set-up + tests)") for name, seconds in slowest_files(output, args.top)]
    width = max(len(name) for name, _ in rows)
    print(f"`make test` ({shlex.join(['pytest', *pytest_arguments(REPO_ROOT / 'Makefile')])})")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
