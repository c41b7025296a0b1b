"""OCR accuracy benchmark on synthetic KTP cards: fields exactly right, quality flags, seconds per card.

    .venv/bin/python bench/ocr_accuracy.py                       # 30 cards per level, seed 9901, every engine
    .venv/bin/python bench/ocr_accuracy.py --engines faster-paddle-tiny,faster-paddle-small --n 30 --json out.json
    .venv/bin/python bench/ocr_accuracy.py --data DIR            # cards written by `ktp synth`

Per level and engine it prints: exact-match accuracy per field and overall, the share of cards with
every field right, the NIK exact-match rate, quality-flag rates, and seconds per card (median, p90)
with every core, then again pinned to one core (a subprocess with `os.sched_setaffinity` and the
engine's thread count set to 1). Timings start after a warm-up call. It also counts how often each
engine calls a KTP on photos that have none (an empty desk, other cards, letters, receipts).
Seeds up to 9801 have been looked at while tuning or measuring (docs/extractor-engine.md lists
them); the default 9901 had not been when this was written. Measure on cards nobody debugged with.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from extractor.result import ALL_FIELDS, CONTRACT_FIELDS  # noqa: E402

LEVELS = ("clean", "phone", "hard")
PROBLEMS = ("blur", "dark", "flashlight")
FLAGS = (*PROBLEMS, "grayscale")


@dataclass
class Card:
    image: Path
    level: str
    fields: dict[str, str]
    quality: dict[str, bool]


@dataclass
class Reading:
    """What one engine made of one card."""

    fields: dict[str, str | None]
    flags: dict[str, bool]
    detected: bool
    seconds: float
    scores: dict[str, float] = field(default_factory=dict)  # the engine's raw quality measurements


@dataclass
class LevelScore:
    cards: int = 0
    field_hits: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ALL_FIELDS, 0))
    all_right: int = 0
    detected: int = 0
    flagged: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FLAGS, 0))
    any_problem: int = 0  # at least one of blur/dark/flashlight flagged
    any_flag: int = 0  # any of the four flags
    applied_caught: int = 0  # every deliberately applied problem was flagged
    applied_cards: int = 0
    # Field hits and field count on cards that carry each applied problem (hard level).
    problem_hits: dict[str, list[int]] = field(default_factory=lambda: {p: [0, 0] for p in PROBLEMS})
    seconds: list[float] = field(default_factory=list)
    pinned_seconds: list[float] = field(default_factory=list)
    warm_up_seconds: float | None = None
    # Raw quality scores grouped by what was applied ("none", "blur", "dark", "flashlight"), for calibration.
    quality_scores: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    errors: list[tuple[str, str, str, str | None]] = field(default_factory=list)

    def add(self, card: Card, reading: Reading) -> None:
        self.cards += 1
        self.detected += reading.detected
        wrong = [name for name in ALL_FIELDS if reading.fields.get(name) != card.fields[name]]
        for name in ALL_FIELDS:
            self.field_hits[name] += name not in wrong
        self.all_right += not wrong
        for name in wrong:
            self.errors.append((card.image.name, name, card.fields[name], reading.fields.get(name)))
        for flag in FLAGS:
            self.flagged[flag] += reading.flags[flag]
        self.any_problem += any(reading.flags[p] for p in PROBLEMS)
        self.any_flag += any(reading.flags.values())
        applied = [p for p in PROBLEMS if card.quality.get(p)]
        for group in applied or ["none"]:
            for name, value in reading.scores.items():
                self.quality_scores.setdefault(group, {}).setdefault(name, []).append(float(value))
        for problem in applied:
            self.problem_hits[problem][0] += len(ALL_FIELDS) - len(wrong)
            self.problem_hits[problem][1] += len(ALL_FIELDS)
        if applied:
            self.applied_cards += 1
            self.applied_caught += all(reading.flags[p] for p in applied)
        self.seconds.append(reading.seconds)

    def rate(self, count: int) -> float:
        return count / self.cards if self.cards else float("nan")

    def field_accuracy(self, names=ALL_FIELDS) -> float:
        total = self.cards * len(names)
        return sum(self.field_hits[n] for n in names) / total if total else float("nan")

    def summary(self) -> dict:
        return {
            "cards": self.cards,
            "detected": self.rate(self.detected),
            "field_accuracy": self.field_accuracy(),
            "contract_field_accuracy": self.field_accuracy(CONTRACT_FIELDS),
            "per_field": {n: self.rate(self.field_hits[n]) for n in ALL_FIELDS},
            "all_fields_right": self.rate(self.all_right),
            "nik_exact": self.rate(self.field_hits["nik"]),
            "flag_rates": {f: self.rate(self.flagged[f]) for f in FLAGS},
            "any_problem_flagged": self.rate(self.any_problem),
            "any_flag": self.rate(self.any_flag),
            "applied_problems_caught": (self.applied_caught / self.applied_cards) if self.applied_cards else None,
            "field_accuracy_by_problem": {
                p: (hits / total if total else None) for p, (hits, total) in self.problem_hits.items()
            },
            "warm_up_seconds": self.warm_up_seconds,
            "quality_scores": {
                group: {name: _spread(values) for name, values in by_name.items()}
                for group, by_name in self.quality_scores.items()
            },
            "seconds_median": _median(self.seconds),
            "seconds_p90": _p90(self.seconds),
            "pinned_seconds_median": _median(self.pinned_seconds),
            "pinned_seconds_p90": _p90(self.pinned_seconds),
        }


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _spread(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"min": ordered[0], "median": statistics.median(ordered), "max": ordered[-1]}


def _p90(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.9 * len(ordered)) - 1))]


# --- data ---------------------------------------------------------------------------------------


def load_cards(data_dir: Path, levels: tuple[str, ...]) -> dict[str, list[Card]]:
    cards: dict[str, list[Card]] = {level: [] for level in levels}
    for truth_path in sorted(data_dir.rglob("*.json")):
        truth = json.loads(truth_path.read_text())
        image = truth_path.with_suffix(".jpg")
        if truth.get("level") in cards and image.exists():
            cards[truth["level"]].append(Card(image, truth["level"], truth["fields"], truth["quality"]))
    return cards


def load_negatives(data_dir: Path) -> list[Path]:
    """Photos whose truth says there is no KTP in them (``ktp: false``)."""
    found = []
    for truth_path in sorted(data_dir.rglob("*.json")):
        truth = json.loads(truth_path.read_text())
        if truth.get("ktp") is False and truth_path.with_suffix(".jpg").exists():
            found.append(truth_path.with_suffix(".jpg"))
    return found


def generate(out: Path, levels: tuple[str, ...], n: int, seed: int, negatives: int) -> None:
    from extractor.synth import write_cards
    from extractor.synth.negatives import write_non_cards

    for level in levels:
        write_cards(n, out / level, level, seed)
    if negatives:
        write_non_cards(negatives, out / "none", seed)


# --- engines ------------------------------------------------------------------------------------


def _use_engine(name: str, threads: int | None) -> float:
    """Make ``name`` the engine's backend and warm it up; returns the seconds that took."""
    from extractor.engine import backends, pipeline, warm_up

    started = time.perf_counter()
    pipeline.set_backend(backends.create_backend(name, threads))
    warm_up()
    return time.perf_counter() - started


def _read(image: Path) -> Reading:
    from extractor.engine import extract

    data = image.read_bytes()
    started = time.perf_counter()
    result = extract(data)
    seconds = time.perf_counter() - started
    flags = result.image_quality.contract_flags()
    fields = {n: result.value(n) for n in ALL_FIELDS}
    return Reading(fields, flags, result.ktp_detected, seconds, dict(result.image_quality.scores))


def run_engine(name: str, cards: dict[str, list[Card]]) -> dict[str, LevelScore]:
    warm_up_seconds = _use_engine(name, None)
    scores = {}
    for level, level_cards in cards.items():
        score = LevelScore(warm_up_seconds=warm_up_seconds)
        for card in level_cards:
            score.add(card, _read(card.image))
        scores[level] = score
    return scores


def false_detections(negatives: list[Path]) -> dict[str, float | int]:
    """Run the current engine on photos with no KTP; the share it still calls a KTP should be 0."""
    detected = sum(_read(image).detected for image in negatives)
    return {"photos": len(negatives), "ktp_detected": detected / len(negatives) if negatives else float("nan")}


def pinned_seconds(name: str, cards: dict[str, list[Card]], limit: int) -> dict[str, list[float]]:
    """Seconds per card on one core: a fresh interpreter pinned with sched_setaffinity, 1 OCR thread."""
    images = {level: [str(c.image) for c in level_cards[:limit]] for level, level_cards in cards.items()}
    env = dict(os.environ, KTP_OCR_THREADS="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               RAYON_NUM_THREADS="1")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(images, handle)
    try:
        done = subprocess.run(
            [sys.executable, __file__, "--pinned-worker", name, "--pinned-list", handle.name],
            env=env, capture_output=True, text=True, check=True, timeout=3600,
        )
    finally:
        os.unlink(handle.name)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _pinned_worker(name: str, list_path: str) -> None:
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    _use_engine(name, 1)
    images = json.loads(Path(list_path).read_text())
    out = {level: [_read(Path(p)).seconds for p in paths] for level, paths in images.items()}
    print(json.dumps(out))


# --- report -------------------------------------------------------------------------------------


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}"


def print_tables(results: dict[str, dict[str, LevelScore]], levels: tuple[str, ...], cores: int) -> None:
    engines = list(results)
    width = max(14, *(len(e) for e in engines))
    for level in levels:
        rows: list[tuple[str, list[str]]] = []
        summaries = {e: results[e][level].summary() for e in engines}
        n = summaries[engines[0]]["cards"]
        for name in ALL_FIELDS:
            rows.append((f"  {name}", [_fmt(summaries[e]["per_field"][name]) for e in engines]))
        rows += [
            ("field accuracy (all 19)", [_fmt(summaries[e]["field_accuracy"], 4) for e in engines]),
            ("field accuracy (contract 16)", [_fmt(summaries[e]["contract_field_accuracy"], 4) for e in engines]),
            ("cards with every field right", [_fmt(summaries[e]["all_fields_right"]) for e in engines]),
            ("NIK exact", [_fmt(summaries[e]["nik_exact"]) for e in engines]),
            ("KTP detected", [_fmt(summaries[e]["detected"]) for e in engines]),
        ]
        for flag in FLAGS:
            rows.append((f"flagged {flag}", [_fmt(summaries[e]["flag_rates"][flag]) for e in engines]))
        rows += [
            ("flagged blur|dark|flashlight", [_fmt(summaries[e]["any_problem_flagged"]) for e in engines]),
            ("flagged at all (any of 4)", [_fmt(summaries[e]["any_flag"]) for e in engines]),
        ]
        if level == "hard":
            caught = [_fmt(summaries[e]["applied_problems_caught"]) for e in engines]
            rows.append(("applied problem(s) all caught", caught))
            for problem in PROBLEMS:
                rows.append((f"field accuracy, {problem} cards",
                             [_fmt(summaries[e]["field_accuracy_by_problem"][problem], 4) for e in engines]))
        rows += [
            (f"s/card median ({cores} cores)", [_fmt(summaries[e]["seconds_median"]) for e in engines]),
            (f"s/card p90 ({cores} cores)", [_fmt(summaries[e]["seconds_p90"]) for e in engines]),
            ("s/card median (1 core)", [_fmt(summaries[e]["pinned_seconds_median"]) for e in engines]),
            ("s/card p90 (1 core)", [_fmt(summaries[e]["pinned_seconds_p90"]) for e in engines]),
            ("model load + warm-up s", [_fmt(summaries[e]["warm_up_seconds"], 2) for e in engines]),
        ]
        label_width = max(len(r[0]) for r in rows)
        title = f"level {level} — {n} cards"
        print()
        print(title)
        print("-" * len(title))
        print(" " * label_width + "  " + "  ".join(e.rjust(width) for e in engines))
        for label, cells in rows:
            print(label.ljust(label_width) + "  " + "  ".join(c.rjust(width) for c in cells))


def print_negatives(no_ktp: dict[str, dict[str, float | int]]) -> None:
    engines = list(no_ktp)
    width = max(14, *(len(e) for e in engines))
    title = f"no KTP — {no_ktp[engines[0]]['photos']} photos (empty desk, other cards, letters, receipts)"
    label = "called a KTP (should be 0)"
    print(f"\n{title}\n{'-' * len(title)}")
    print(" " * len(label) + "  " + "  ".join(e.rjust(width) for e in engines))
    print(label + "  " + "  ".join(_fmt(no_ktp[e]["ktp_detected"]).rjust(width) for e in engines))


def print_quality_scores(results: dict[str, dict[str, LevelScore]], levels: tuple[str, ...]) -> None:
    """min / median / max of each raw quality score, per level and applied problem: threshold calibration."""
    for engine, per_level in results.items():
        rows = []
        for level in levels:
            for group, by_name in sorted(per_level[level].quality_scores.items()):
                cells = []
                for name, values in sorted(by_name.items()):
                    spread = _spread(values)
                    cells.append(f"{name} {spread['min']:.4g}/{spread['median']:.4g}/{spread['max']:.4g}")
                rows.append((f"{level}:{group}", "  ".join(cells)))
        if rows:
            print(f"\nquality scores (min/median/max), {engine}")
            width = max(len(r[0]) for r in rows)
            for label, text in rows:
                print(f"  {label.ljust(width)}  {text}")


def print_errors(results: dict[str, dict[str, LevelScore]], limit: int) -> None:
    for engine, per_level in results.items():
        for level, score in per_level.items():
            if not score.errors:
                continue
            print(f"\n{engine} / {level}: first {min(limit, len(score.errors))} of {len(score.errors)} wrong fields")
            for image, name, truth, read in score.errors[:limit]:
                print(f"  {image}  {name}: expected {truth!r}, read {read!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", help="comma-separated backend names (default: every registered backend)")
    parser.add_argument("--levels", default=",".join(LEVELS), help="comma-separated levels (default all three)")
    parser.add_argument("--n", type=int, default=30, help="cards per level when generating (default 30)")
    parser.add_argument("--seed", type=int, default=9901, help="batch seed when generating (default 9901)")
    parser.add_argument("--negatives", type=int, default=12,
                        help="photos without a KTP to generate (default 12); with --data, the ones whose truth "
                             "says ktp=false are used")
    parser.add_argument("--data", type=Path, help="use cards from this directory instead of generating")
    parser.add_argument("--pinned-cards", type=int, default=30,
                        help="cards per level timed on one core (default 30; 0 skips the pinned run)")
    parser.add_argument("--show-errors", type=int, default=0, metavar="N",
                        help="list up to N wrong fields per engine/level")
    parser.add_argument("--quality-scores", action="store_true",
                        help="also print min/median/max of the engine's raw quality scores per level and problem")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the numbers to OUT as JSON")
    parser.add_argument("--pinned-worker", help=argparse.SUPPRESS)
    parser.add_argument("--pinned-list", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.pinned_worker:
        _pinned_worker(args.pinned_worker, args.pinned_list)
        return 0

    from extractor.engine import backends

    engines = [e.strip() for e in (args.engines or ",".join(backends.BACKENDS)).split(",") if e.strip()]
    unknown = [e for e in engines if e not in backends.BACKENDS]
    if unknown:
        parser.error(f"unknown engine(s) {unknown}; available: {sorted(backends.BACKENDS)}")
    levels = tuple(level.strip() for level in args.levels.split(",") if level.strip())
    if any(level not in LEVELS for level in levels):
        parser.error(f"levels must be among {LEVELS}")

    with tempfile.TemporaryDirectory(prefix="ktp-bench-") as tmp:
        data = args.data
        if data is None:
            data = Path(tmp)
            started = time.perf_counter()
            generate(data, levels, args.n, args.seed, args.negatives)
            print(f"generated {args.n} cards per level and {args.negatives} photos without a KTP (seed {args.seed})"
                  f" in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        cards = load_cards(data, levels)
        negatives = load_negatives(data)
        if not any(cards.values()):
            parser.error(f"no cards found in {data}")
        cores = len(os.sched_getaffinity(0))
        results: dict[str, dict[str, LevelScore]] = {}
        no_ktp: dict[str, dict[str, float | int]] = {}
        for engine in engines:
            print(f"running {engine} on {sum(map(len, cards.values()))} cards ({cores} cores)...", file=sys.stderr)
            results[engine] = run_engine(engine, cards)
            if negatives:
                no_ktp[engine] = false_detections(negatives)
            if args.pinned_cards > 0:
                print(f"timing {engine} pinned to one core...", file=sys.stderr)
                for level, seconds in pinned_seconds(engine, cards, args.pinned_cards).items():
                    results[engine][level].pinned_seconds = seconds

    print_tables(results, levels, cores)
    if no_ktp:
        print_negatives(no_ktp)
    if args.quality_scores:
        print_quality_scores(results, levels)
    if args.show_errors:
        print_errors(results, args.show_errors)
    if args.json:
        payload = {
            "config": {"engines": engines, "levels": levels,
                       "n": None if args.data else args.n, "seed": None if args.data else args.seed,
                       "data": str(args.data) if args.data else None, "cores": cores,
                       "pinned_cards": args.pinned_cards},
            "results": {e: {level: s.summary() for level, s in per.items()} for e, per in results.items()},
            "no_ktp": no_ktp,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\nwrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
