"""The OCR benchmark's scoring and data loading (no OCR engine needed)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from extractor.result import ALL_FIELDS

_BENCH = Path(__file__).resolve().parents[2] / "bench" / "ocr_accuracy.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("ocr_accuracy_bench", _BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def _card(bench, level="hard", quality=None):
    fields = {name: f"V-{name}" for name in ALL_FIELDS}
    flags = {"blur": False, "dark": False, "flashlight": False, "grayscale": False, **(quality or {})}
    return bench.Card(Path(f"{level}.jpg"), level, fields, flags)


def _reading(bench, card, wrong=(), flags=None, seconds=0.5):
    fields = {name: (None if name in wrong else value) for name, value in card.fields.items()}
    all_flags = {"blur": False, "dark": False, "flashlight": False, "grayscale": False, **(flags or {})}
    return bench.Reading(fields, all_flags, True, seconds)


def test_scores_fields_cards_nik_and_flags(bench):
    score = bench.LevelScore()
    right = _card(bench, quality={"blur": True})
    score.add(right, _reading(bench, right, flags={"blur": True}, seconds=0.2))
    wrong = _card(bench, quality={"dark": True, "grayscale": True})
    score.add(wrong, _reading(bench, wrong, wrong=("nik", "address"), flags={"grayscale": True}, seconds=0.6))
    summary = score.summary()

    assert summary["cards"] == 2
    assert summary["per_field"]["nik"] == 0.5
    assert summary["per_field"]["full_name"] == 1.0
    assert summary["field_accuracy"] == pytest.approx(1 - 2 / (2 * len(ALL_FIELDS)))
    assert summary["all_fields_right"] == 0.5
    assert summary["nik_exact"] == 0.5
    assert summary["flag_rates"] == {"blur": 0.5, "dark": 0.0, "flashlight": 0.0, "grayscale": 0.5}
    # Grayscale alone is no quality problem: the second card's applied darkness went unflagged.
    assert summary["any_problem_flagged"] == 0.5
    assert summary["any_flag"] == 1.0
    assert summary["applied_problems_caught"] == 0.5
    assert summary["field_accuracy_by_problem"] == {
        "blur": 1.0,
        "dark": pytest.approx((len(ALL_FIELDS) - 2) / len(ALL_FIELDS)),
        "flashlight": None,
    }
    assert summary["seconds_median"] == pytest.approx(0.4)
    assert score.errors[0][1:] == ("nik", "V-nik", None)


def test_percentiles(bench):
    assert bench._p90([]) is None
    assert bench._p90([1.0]) == 1.0
    assert bench._p90([float(i) for i in range(1, 11)]) == 9.0
    assert bench._median([3.0, 1.0, 2.0]) == 2.0


def test_loads_cards_written_by_the_generator(bench, tmp_path):
    from extractor.synth import write_cards

    write_cards(2, tmp_path / "a", "clean", seed=5)
    write_cards(1, tmp_path / "b", "phone", seed=5)
    cards = bench.load_cards(tmp_path, ("clean", "phone", "hard"))
    assert [len(cards[level]) for level in ("clean", "phone", "hard")] == [2, 1, 0]
    card = cards["clean"][0]
    assert card.image.exists()
    assert set(card.fields) == set(ALL_FIELDS)
    assert card.quality == {"blur": False, "dark": False, "flashlight": False, "grayscale": False}


def test_quality_scores_are_grouped_by_applied_problem(bench):
    score = bench.LevelScore()
    blurred = _card(bench, quality={"blur": True})
    reading = _reading(bench, blurred)
    reading.scores = {"blur": 12.0}
    score.add(blurred, reading)
    plain = _card(bench, level="phone")
    reading = _reading(bench, plain)
    reading.scores = {"blur": 900.0}
    score.add(plain, reading)
    summary = score.summary()
    one = lambda v: {"min": v, "p10": v, "median": v, "p90": v, "max": v}  # noqa: E731
    assert summary["quality_scores"] == {"blur": {"blur": one(12.0)}, "none": {"blur": one(900.0)}}
    # The same scores by readability: both cards read every field, so both are "readable".
    readable = summary["quality_scores_by_readability"]["readable"]["blur"]
    assert (readable["min"], readable["max"]) == (12.0, 900.0)
    assert "unreadable" not in summary["quality_scores_by_readability"]


def test_loads_photos_without_a_ktp(bench, tmp_path):
    from extractor.synth import write_cards
    from extractor.synth.negatives import write_non_cards

    write_cards(1, tmp_path, "clean", seed=1)
    write_non_cards(2, tmp_path / "none", seed=1)
    assert [p.name for p in bench.load_negatives(tmp_path)] == ["none-1-0000.jpg", "none-1-0001.jpg"]
    assert sum(map(len, bench.load_cards(tmp_path, ("clean", "phone", "hard")).values())) == 1
