"""OCR accuracy benchmark: every source on its own row, our engine beside a plain baseline.

    .venv/bin/python bench/ocr_accuracy.py                       # 30 cards per synthetic source, seed 9901
    .venv/bin/python bench/ocr_accuracy.py --n 20 --real-dir /path/to/real-v1 --json out.json
    .venv/bin/python bench/ocr_accuracy.py --data DIR            # cards written by `ktp synth` / styles

Sources, each one row per engine:
- the synthetic levels clean / phone / hard (the default card style, the one the engine was tuned on);
- cross-style synthetic sets (extractor/synth/styles.py), each drawn once from the ``tuned`` and once
  from the ``held-out`` half of every style axis (styles.SPLIT says which is which);
- real-v1 (third-party renders, specimens, a parody card; README in that folder), one row per
  subfolder, when the folder exists (``--real-dir``; default ``$KTP_EVAL_DIR/real-v1`` or
  ``<repo>/../shared/eval/real-v1``); it is evaluation only: nothing may be tuned on it;
- photos without a KTP (synthetic) and the parody card: scored as "not a KTP" or not.

Engines: ours (``extractor.engine.extract`` with the chosen backend) and the baseline row: one
whole-image pass of the same PP-OCRv6 model family (faster-paddle-small by default) and the plain
label parser in bench/baseline_parser.py. Values are compared after NFKC, upper-casing and
whitespace collapsing; a field a truth file leaves out is not scored. Per row: cards, fields exactly
right, cards with every scored field right, NIK exact, KTP found, retake flags (blur/dark/flashlight)
overall and on readable cards (>= 0.98 of fields right), seconds per card (median, p90) after a
warm-up, with every core (``--pinned-cards N`` adds a one-core timing of the levels).
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
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO, Path(__file__).resolve().parent):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from extractor.result import ALL_FIELDS, CONTRACT_FIELDS  # noqa: E402

LEVELS = ("clean", "phone", "hard")
PROBLEMS = ("blur", "dark", "flashlight")
FLAGS = (*PROBLEMS, "grayscale")
BASELINE = "baseline"
READABLE = 0.98  # a card with at least this share of fields right is one nobody should be told to retake
EVAL_DIR_ENV = "KTP_EVAL_DIR"  # the folder holding real-v1/ (default <repo>/../shared/eval)
# real-v1 truth names (the printed labels) -> the contract's names (its README's mapping).
REAL_NAMES = {
    "nik": "nik", "nama": "full_name", "tempat_lahir": "place_of_birth", "tanggal_lahir": "date_of_birth",
    "jenis_kelamin": "gender", "gol_darah": "blood_type", "alamat": "address", "rt_rw": "rt_rw",
    "kel_desa": "administrative_village", "kecamatan": "district", "kabupaten_kota": "city", "provinsi": "state",
    "agama": "religion", "status_perkawinan": "marital_status", "pekerjaan": "occupation",
    "kewarganegaraan": "nationality", "berlaku_hingga": "valid_until", "kota_terbit": "issue_city",
    "tanggal_terbit": "issue_date",
}
HEADER = ("The engine was tuned on the default card style only (levels clean/phone/hard). Cross-style rows "
          "marked 'tuned' may be tuned on from now on; 'held-out' rows and real-v1 are measured, never tuned on.")


def comparable(value: str | None) -> str | None:
    """NFKC, upper case, whitespace collapsed (None stays None)."""
    return None if value is None else " ".join(unicodedata.normalize("NFKC", value).upper().split())


@dataclass
class Card:
    image: Path
    level: str  # the source it belongs to
    fields: dict[str, str]  # only the fields to score
    quality: dict[str, bool]
    ktp: bool = True  # False: the right answer is "no KTP found"
    split: str = "default"  # default style, tuned / held-out cross-style, real-v1, ...


@dataclass
class Reading:
    """What one engine made of one card."""

    fields: dict[str, str | None]
    flags: dict[str, bool] | None  # None: this engine has no quality checks (the baseline)
    detected: bool
    seconds: float
    scores: dict[str, float] = field(default_factory=dict)  # the engine's raw quality measurements


@dataclass
class LevelScore:
    cards: int = 0
    field_hits: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ALL_FIELDS, 0))
    field_total: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ALL_FIELDS, 0))
    all_right: int = 0
    ktp_cards: int = 0
    not_ktp_cards: int = 0
    said_not_ktp: int = 0  # not-a-KTP images reported as no KTP
    has_flags: bool = True
    readable: int = 0
    readable_flagged: int = 0
    unreadable: int = 0
    unreadable_flagged: int = 0
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
    # Raw quality scores of readable and of unreadable cards: what a retake flag must separate.
    readability_scores: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    errors: list[tuple[str, str, str, str | None]] = field(default_factory=list)

    def add(self, card: Card, reading: Reading) -> None:
        self.cards += 1
        self.detected += reading.detected
        self.seconds.append(reading.seconds)
        if not card.ktp:
            self.not_ktp_cards += 1
            self.said_not_ktp += not reading.detected
            return
        self.ktp_cards += 1
        scored = [name for name in ALL_FIELDS if name in card.fields]
        wrong = [name for name in scored if comparable(reading.fields.get(name)) != comparable(card.fields[name])]
        for name in scored:
            self.field_total[name] += 1
            self.field_hits[name] += name not in wrong
        self.all_right += not wrong
        for name in wrong:
            self.errors.append((card.image.name, name, card.fields[name], reading.fields.get(name)))
        if reading.flags is None:
            self.has_flags = False
            return
        for flag in FLAGS:
            self.flagged[flag] += reading.flags[flag]
        retake = any(reading.flags[p] for p in PROBLEMS)
        self.any_problem += retake
        self.any_flag += any(reading.flags.values())
        readable = bool(scored) and (len(scored) - len(wrong)) / len(scored) >= READABLE
        if readable:
            self.readable += 1
            self.readable_flagged += retake
        else:
            self.unreadable += 1
            self.unreadable_flagged += retake
        for name, value in reading.scores.items():
            group = self.readability_scores.setdefault("readable" if readable else "unreadable", {})
            group.setdefault(name, []).append(float(value))
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

    def rate(self, count: int, of: int | None = None) -> float | None:
        """``count`` over the KTP cards (or over ``of``); None when there is nothing to divide by."""
        total = self.ktp_cards if of is None else of
        return count / total if total else None

    def field_accuracy(self, names=ALL_FIELDS) -> float | None:
        total = sum(self.field_total[n] for n in names)
        return sum(self.field_hits[n] for n in names) / total if total else None

    def flag_rate(self, count: int, of: int | None = None) -> float | None:
        return self.rate(count, of) if self.has_flags else None

    def summary(self) -> dict:
        return {
            "cards": self.cards,
            "ktp_cards": self.ktp_cards,
            "not_ktp_cards": self.not_ktp_cards,
            "detected": self.rate(self.detected, self.cards),
            "not_ktp_said": self.rate(self.said_not_ktp, self.not_ktp_cards),
            "field_accuracy": self.field_accuracy(),
            "contract_field_accuracy": self.field_accuracy(CONTRACT_FIELDS),
            "per_field": {n: self.rate(self.field_hits[n], self.field_total[n]) for n in ALL_FIELDS},
            "all_fields_right": self.rate(self.all_right),
            "nik_exact": self.rate(self.field_hits["nik"], self.field_total["nik"]),
            "flag_rates": {f: self.flag_rate(self.flagged[f]) for f in FLAGS},
            "any_problem_flagged": self.flag_rate(self.any_problem),
            "any_flag": self.flag_rate(self.any_flag),
            "readable_cards": self.readable,
            "readable_flagged": self.flag_rate(self.readable_flagged, self.readable),
            "unreadable_cards": self.unreadable,
            "unreadable_flagged": self.flag_rate(self.unreadable_flagged, self.unreadable),
            "applied_problems_caught": (self.applied_caught / self.applied_cards) if self.applied_cards else None,
            "field_accuracy_by_problem": {
                p: (hits / total if total else None) for p, (hits, total) in self.problem_hits.items()
            },
            "warm_up_seconds": self.warm_up_seconds,
            "quality_scores": {
                group: {name: _spread(values) for name, values in by_name.items()}
                for group, by_name in self.quality_scores.items()
            },
            "quality_scores_by_readability": {
                group: {name: _spread(values) for name, values in by_name.items()}
                for group, by_name in self.readability_scores.items()
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
    at = lambda share: ordered[min(len(ordered) - 1, int(share * len(ordered)))]  # noqa: E731
    return {"min": ordered[0], "p10": at(0.1), "median": statistics.median(ordered), "p90": at(0.9),
            "max": ordered[-1]}


def _p90(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.9 * len(ordered)) - 1))]


# --- data ---------------------------------------------------------------------------------------


def _truths(data_dir: Path):
    for truth_path in sorted(data_dir.rglob("*.json")):
        truth = json.loads(truth_path.read_text())
        image = truth_path.with_suffix(".jpg")
        if image.exists():
            yield truth, image


def load_cards(data_dir: Path, levels: tuple[str, ...]) -> dict[str, list[Card]]:
    cards: dict[str, list[Card]] = {level: [] for level in levels}
    for truth, image in _truths(data_dir):
        if truth.get("level") in cards:
            cards[truth["level"]].append(Card(image, truth["level"], truth["fields"], truth["quality"]))
    return cards


def load_negatives(data_dir: Path) -> list[Path]:
    """Photos whose truth says there is no KTP in them (``ktp: false``)."""
    return [image for truth, image in _truths(data_dir) if truth.get("ktp") is False]


def load_styled(data_dir: Path) -> dict[str, list[Card]]:
    """Cross-style cards, keyed ``"<set> <group>"`` in styles.SETS order, tuned before held-out."""
    from extractor.synth.styles import GROUPS, SETS

    cards: dict[str, list[Card]] = {f"{name} {group}": [] for name in SETS for group in GROUPS}
    for truth, image in _truths(data_dir):
        key = f"{truth.get('level')} {truth.get('group')}"
        if key in cards:
            cards[key].append(Card(image, key, truth["fields"], truth["quality"], split=truth["group"]))
    return {key: found for key, found in cards.items() if found}


def default_real_dir() -> Path:
    root = os.environ.get(EVAL_DIR_ENV, "").strip()
    return (Path(root) if root else REPO.parent / "shared" / "eval") / "real-v1"


def load_real(real_dir: Path) -> dict[str, list[Card]]:
    """real-v1: one source per subfolder; truth names mapped to the contract's, unprinted fields left out."""
    sources: dict[str, list[Card]] = {}
    for folder in sorted(p for p in real_dir.iterdir() if p.is_dir()):
        for truth_path in sorted(folder.glob("*.json")):
            truth = json.loads(truth_path.read_text())
            image = folder / truth.get("image", truth_path.with_suffix(".png").name)
            if not image.exists():
                continue
            fields = {REAL_NAMES[k]: v for k, v in truth.get("fields", {}).items() if k in REAL_NAMES and v}
            quality = dict.fromkeys(FLAGS, False)  # sharp digital images: nothing to retake
            sources.setdefault(folder.name, []).append(
                Card(image, folder.name, fields, quality, ktp=truth.get("expect") != "not_ktp", split="real-v1"))
    return sources


def generate(out: Path, levels: tuple[str, ...], n: int, seed: int, negatives: int, styled_n: int = 0) -> None:
    from extractor.synth import write_cards
    from extractor.synth.negatives import write_non_cards
    from extractor.synth.styles import GROUPS, SETS, write_styled_cards

    for level in levels:
        write_cards(n, out / level, level, seed)
    for name in SETS if styled_n else ():
        for group in GROUPS:
            write_styled_cards(styled_n, out / name / group, name, group, seed)
    if negatives:
        write_non_cards(negatives, out / "none", seed)


def collect_sources(data: Path, levels: tuple[str, ...], real_dir: Path | None) -> tuple[dict[str, list[Card]], list[str]]:
    """Every source in report order, and notes on what was skipped."""
    notes: list[str] = []
    sources: dict[str, list[Card]] = {k: v for k, v in load_cards(data, levels).items() if v}
    sources.update(load_styled(data))
    if real_dir is not None:
        if real_dir.is_dir():
            sources.update(load_real(real_dir))
        else:
            notes.append(f"real-v1 skipped: {real_dir} does not exist (set --real-dir or {EVAL_DIR_ENV})")
    negatives = load_negatives(data)
    if negatives:
        sources["no-ktp"] = [Card(image, "no-ktp", {}, dict.fromkeys(FLAGS, False), ktp=False, split="synthetic")
                             for image in negatives]
    return sources, notes


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


def run_baseline(model_name: str, cards: dict[str, list[Card]]) -> dict[str, LevelScore]:
    """The baseline row: one whole-image pass of ``model_name`` and bench/baseline_parser.py."""
    from baseline_parser import Baseline

    from extractor.engine import backends

    started = time.perf_counter()
    baseline = Baseline(backends.create_backend(model_name))
    baseline.warm_up()
    warm_up_seconds = time.perf_counter() - started
    scores = {}
    for key, source_cards in cards.items():
        score = LevelScore(warm_up_seconds=warm_up_seconds)
        for card in source_cards:
            read = baseline.read(card.image.read_bytes())
            score.add(card, Reading(dict(read.fields), None, read.detected, read.seconds))
        scores[key] = score
    return scores


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


_COLUMNS = ("source", "split", "engine", "cards", "fields", "cards ok", "NIK", "KTP found", "retake",
            "retake|readable", "retake|unreadable", "s med", "s p90")


def source_rows(results: dict[str, dict[str, LevelScore]], sources: dict[str, list[Card]]) -> list[list[str]]:
    """The main table: per source, one row per engine (ours first, the baseline last)."""
    rows = []
    for key, cards in sources.items():
        name, split = key.split(" ")[0], cards[0].split
        for engine, per_source in results.items():
            s = per_source[key].summary()
            rows.append([name, split, engine, str(s["cards"]), _fmt(s["field_accuracy"], 4),
                         _fmt(s["all_fields_right"]), _fmt(s["nik_exact"]), _fmt(s["detected"]),
                         _fmt(s["any_problem_flagged"]), _fmt(s["readable_flagged"]),
                         _fmt(s["unreadable_flagged"]), _fmt(s["seconds_median"], 2), _fmt(s["seconds_p90"], 2)])
    return rows


def print_sources(results: dict[str, dict[str, LevelScore]], sources: dict[str, list[Card]],
                  engines: dict[str, str], cores: int, notes: list[str]) -> None:
    print(HEADER)
    print("Engines: " + "; ".join(f"{label} = {what}" for label, what in engines.items()) + f". {cores} cores.")
    print("fields = exact after NFKC/upper/space collapse, over the fields each truth gives; cards ok = every such"
          " field right; retake = flagged blur|dark|flashlight; retake|readable = the same on cards with >= "
          f"{READABLE} of fields right, retake|unreadable on the others (targets <= 0.02 and >= 0.98); KTP found"
          " on a not-a-KTP source should be 0.")
    rows = source_rows(results, sources)
    widths = [max(len(_COLUMNS[i]), *(len(r[i]) for r in rows)) for i in range(len(_COLUMNS))]
    print()
    print("  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(_COLUMNS, widths))))
    for row in rows:
        print("  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    for key, cards in sources.items():
        if not any(c.ktp for c in cards):
            verdicts = ", ".join(f"{engine}: {results[engine][key].said_not_ktp}/{len(cards)} said not a KTP"
                                 for engine in results)
            print(f"not-a-KTP check {key}: {verdicts}")
    for note in notes:
        print(f"note: {note}")


def print_tables(results: dict[str, dict[str, LevelScore]], levels, cores: int) -> None:
    """Per source: every field's exact-match rate, flags and timings (``--detail``)."""
    engines = list(results)
    width = max(14, *(len(e) for e in engines))
    for level in levels:
        rows: list[tuple[str, list[str]]] = []
        summaries = {e: results[e][level].summary() for e in engines}
        n = summaries[engines[0]]["cards"]
        for name in ALL_FIELDS:
            rows.append((f"  {name}", [_fmt(summaries[e]["per_field"][name]) for e in engines]))
        rows += [
            ("field accuracy (all scored)", [_fmt(summaries[e]["field_accuracy"], 4) for e in engines]),
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
        title = f"{level} — {n} cards"
        print()
        print(title)
        print("-" * len(title))
        print(" " * label_width + "  " + "  ".join(e.rjust(width) for e in engines))
        for label, cells in rows:
            print(label.ljust(label_width) + "  " + "  ".join(c.rjust(width) for c in cells))


def print_quality_scores(results: dict[str, dict[str, LevelScore]], levels) -> None:
    """min / median / max of each raw quality score, per source and applied problem: threshold calibration."""
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


def print_readability_scores(results: dict[str, dict[str, LevelScore]], sources) -> None:
    """Per source: each retake score on readable and on unreadable cards, and how often each group is flagged."""
    for engine, per_source in results.items():
        print(f"\nretake scores by readability (min/p10/median/p90/max; flagged share), {engine}")
        for key in sources:
            score = per_source[key]
            s = score.summary()
            for group, count, flagged in (("readable", score.readable, s["readable_flagged"]),
                                          ("unreadable", score.unreadable, s["unreadable_flagged"])):
                by_name = score.readability_scores.get(group)
                if not by_name:
                    continue
                cells = []
                for name in ("blur", "dark_mean", "dark_p95", "flashlight"):
                    if name in by_name:
                        v = _spread(by_name[name])
                        cells.append(f"{name} {v['min']:.4g}/{v['p10']:.4g}/{v['median']:.4g}/{v['p90']:.4g}/{v['max']:.4g}")
                print(f"  {key:<22} {group:<10} n={count:<4} flagged {_fmt(flagged)}  " + "  ".join(cells))


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
    parser.add_argument("--engines", help="comma-separated backends for our engine (default: the engine's default)")
    parser.add_argument("--baseline-model", default="faster-paddle-small",
                        help="backend the baseline parser reads with (default faster-paddle-small)")
    parser.add_argument("--levels", default=",".join(LEVELS), help="comma-separated levels (default all three)")
    parser.add_argument("--n", type=int, default=30, help="cards per level when generating (default 30)")
    parser.add_argument("--styled-n", type=int, help="cards per cross-style set and group (default: --n; 0 skips)")
    parser.add_argument("--seed", type=int, default=9901, help="batch seed when generating (default 9901)")
    parser.add_argument("--negatives", type=int, default=12,
                        help="photos without a KTP to generate (default 12); with --data, the ones whose truth "
                             "says ktp=false are used")
    parser.add_argument("--data", type=Path, help="use cards from this directory instead of generating")
    parser.add_argument("--real-dir", type=Path, default=None,
                        help=f"real-v1 folder (default ${EVAL_DIR_ENV}/real-v1, else <repo>/../shared/eval/real-v1)")
    parser.add_argument("--no-real", action="store_true", help="leave real-v1 out")
    parser.add_argument("--pinned-cards", type=int, default=0,
                        help="cards per level timed on one core (default 0: no pinned run)")
    parser.add_argument("--detail", action="store_true", help="also print per-field tables for every source")
    parser.add_argument("--show-errors", type=int, default=0, metavar="N",
                        help="list up to N wrong fields per engine/source")
    parser.add_argument("--quality-scores", action="store_true",
                        help="also print min/median/max of the engine's raw quality scores per source and problem")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the numbers to OUT as JSON")
    parser.add_argument("--pinned-worker", help=argparse.SUPPRESS)
    parser.add_argument("--pinned-list", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.pinned_worker:
        _pinned_worker(args.pinned_worker, args.pinned_list)
        return 0

    from extractor.engine import backends

    engines = [e.strip() for e in (args.engines or backends.DEFAULT_BACKEND).split(",") if e.strip()]
    unknown = [e for e in [*engines, args.baseline_model] if e not in backends.BACKENDS]
    if unknown:
        parser.error(f"unknown engine(s) {unknown}; available: {sorted(backends.BACKENDS)}")
    levels = tuple(level.strip() for level in args.levels.split(",") if level.strip())
    if any(level not in LEVELS for level in levels):
        parser.error(f"levels must be among {LEVELS}")
    styled_n = args.n if args.styled_n is None else args.styled_n
    real_dir = None if args.no_real else (args.real_dir or default_real_dir())

    with tempfile.TemporaryDirectory(prefix="ktp-bench-") as tmp:
        data = args.data
        if data is None:
            data = Path(tmp)
            started = time.perf_counter()
            generate(data, levels, args.n, args.seed, args.negatives, styled_n)
            print(f"generated {args.n} cards per level, {styled_n} per cross-style set and group and "
                  f"{args.negatives} photos without a KTP (seed {args.seed}) in {time.perf_counter() - started:.1f} s",
                  file=sys.stderr)
        sources, notes = collect_sources(data, levels, real_dir)
        if not any(c.ktp for cards in sources.values() for c in cards):
            parser.error(f"no cards found in {data}")
        cores = len(os.sched_getaffinity(0))
        results: dict[str, dict[str, LevelScore]] = {}
        labels: dict[str, str] = {}
        total = sum(map(len, sources.values()))
        for engine in engines:
            label = "ours" if len(engines) == 1 else f"ours:{engine}"
            labels[label] = f"extractor.engine with {engine}"
            print(f"running {label} on {total} images ({cores} cores)...", file=sys.stderr)
            results[label] = run_engine(engine, sources)
            if args.pinned_cards > 0:
                print(f"timing {engine} pinned to one core...", file=sys.stderr)
                level_cards = {k: v for k, v in sources.items() if k in LEVELS}
                for level, seconds in pinned_seconds(engine, level_cards, args.pinned_cards).items():
                    results[label][level].pinned_seconds = seconds
        labels[BASELINE] = f"{args.baseline_model}, one whole-image pass + bench/baseline_parser.py"
        print(f"running the baseline on {total} images...", file=sys.stderr)
        results[BASELINE] = run_baseline(args.baseline_model, sources)

    print_sources(results, sources, labels, cores, notes)
    print_readability_scores({k: v for k, v in results.items() if k != BASELINE},
                             [k for k, cards in sources.items() if any(c.ktp for c in cards)])
    if args.detail:
        print_tables(results, [k for k, cards in sources.items() if any(c.ktp for c in cards)], cores)
    if args.quality_scores:
        print_quality_scores({k: v for k, v in results.items() if k != BASELINE}, list(sources))
    if args.show_errors:
        print_errors(results, args.show_errors)
    if args.json:
        payload = {
            "config": {"engines": engines, "baseline_model": args.baseline_model, "levels": levels,
                       "n": None if args.data else args.n, "styled_n": None if args.data else styled_n,
                       "seed": None if args.data else args.seed, "data": str(args.data) if args.data else None,
                       "real_dir": str(real_dir) if real_dir else None, "cores": cores,
                       "pinned_cards": args.pinned_cards},
            "header": HEADER,
            "notes": notes,
            "sources": {key: {"split": cards[0].split, "cards": len(cards)} for key, cards in sources.items()},
            "results": {e: {key: s.summary() for key, s in per.items()} for e, per in results.items()},
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\nwrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
