"""bench/ocr_accuracy.py prints every source beside the baseline, reads real-v1, skips it when absent.

A fake OCR backend stands in for PP-OCRv6, so no model runs: it "reads" the same KTP text on every
image, which the plain baseline parser must turn back into the truth.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from extractor.engine.backends import TextBox

_BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"

# What the fake model reads on every image: label, colon and value as separate boxes, one row per line.
_ROWS = (
    ("NIK", ":3273014703900012"),
    ("Nama", ":SITI AMINAH"),
    ("Tempat/Tgl Lahir", ":BANDUNG, 07-03-1990"),
    ("Jenis Kelamin", ":PEREMPUAN"),
    ("Alamat", ":JL. MAWAR NO. 5"),
    ("RT/RW", ":001/002"),
    ("Kel/Desa", ":GEGERKALONG"),
    ("Kecamatan", ":SUKASARI"),
    ("Agama", ":ISLAM"),
    ("Status Perkawinan", ":KAWIN"),
    ("Pekerjaan", ":GURU"),
    ("Kewarganegaraan", ":WNI"),
    ("Berlaku Hingga", ":SEUMUR HIDUP"),
)
TRUTH = {
    "nik": "3273014703900012", "full_name": "SITI AMINAH", "place_of_birth": "BANDUNG",
    "date_of_birth": "07-03-1990", "gender": "PEREMPUAN", "address": "JL. MAWAR NO. 5", "rt_rw": "001/002",
    "administrative_village": "GEGERKALONG", "district": "SUKASARI", "city": "KOTA BANDUNG",
    "state": "JAWA BARAT", "religion": "ISLAM", "marital_status": "KAWIN", "occupation": "GURU",
    "nationality": "WNI", "valid_until": "SEUMUR HIDUP",
}


def _boxes(tilt: float = 0.0) -> list[TextBox]:
    """The fake card's lines; ``tilt`` shifts y by tilt * x, as a slightly rotated photo would."""
    out = [TextBox("PROVINSI JAWA BARAT", 0.99, 300, 20, 700, 50), TextBox("KOTA BANDUNG", 0.99, 350, 55, 650, 85)]
    for row, (label, value) in enumerate(_ROWS):
        y = 100 + 40 * row
        out.append(TextBox(label, 0.99, 30, y + tilt * 30, 200, y + 30 + tilt * 30))
        out.append(TextBox(value, 0.99, 260, y + tilt * 260, 700, y + 30 + tilt * 260))
    return out


class FakeModel:
    def __init__(self, name: str = "fake") -> None:
        self.name = name

    def load(self) -> None:
        pass

    def read(self, image: bytes) -> list[TextBox]:
        return _boxes()

    def read_many(self, images: list[bytes]) -> list[list[TextBox]]:
        return [self.read(image) for image in images]


@pytest.fixture()
def bench(monkeypatch):
    from extractor.engine import backends, pipeline

    monkeypatch.setitem(backends.BACKENDS, "fake", lambda threads: FakeModel())
    monkeypatch.syspath_prepend(str(_BENCH_DIR))
    spec = importlib.util.spec_from_file_location("ocr_accuracy_sources", _BENCH_DIR / "ocr_accuracy.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)
        pipeline.set_backend(None)


def _image(path: Path, suffix: str = ".jpg") -> Path:
    image = path.with_suffix(suffix)
    Image.fromarray(np.full((60, 96, 3), 200, np.uint8)).save(image)
    return image


def _write_data(root: Path) -> None:
    """One card per level and per cross-style set and group, and one photo without a KTP."""
    from extractor.synth.styles import GROUPS, SETS

    root.mkdir(parents=True)
    quality = {"blur": False, "dark": False, "flashlight": False, "grayscale": False}
    fields = {**TRUTH, "blood_type": "-", "issue_city": "BANDUNG", "issue_date": "01-02-2015"}
    entries = [(level, {"level": level}) for level in ("clean", "phone", "hard")]
    entries += [(f"{name}-{group}", {"level": name, "group": group}) for name in SETS for group in GROUPS]
    for stem, extra in entries:
        _image(root / stem)
        (root / f"{stem}.json").write_text(json.dumps({**extra, "fields": fields, "quality": quality}))
    _image(root / "none-0")
    (root / "none-0.json").write_text(json.dumps({"level": "none", "ktp": False}))


def _write_real(root: Path) -> None:
    """A real-v1 look-alike: printed-label names, a field left out, a parody card."""
    names = {"nik": "nik", "full_name": "nama", "place_of_birth": "tempat_lahir", "date_of_birth": "tanggal_lahir",
             "gender": "jenis_kelamin", "address": "alamat", "rt_rw": "rt_rw", "administrative_village": "kel_desa",
             "district": "kecamatan", "city": "kabupaten_kota", "state": "provinsi", "religion": "agama",
             "marital_status": "status_perkawinan", "occupation": "pekerjaan", "nationality": "kewarganegaraan",
             "valid_until": "berlaku_hingga"}
    (root / "gen-test").mkdir(parents=True)
    _image(root / "gen-test" / "card_01", ".png")
    # Lower case and doubled spaces in the truth: compared after upper-casing and collapsing.
    fields = {names[k]: (v.lower() if k == "full_name" else v) for k, v in TRUTH.items()}
    fields["alamat"] = "JL.  MAWAR NO. 5"
    (root / "gen-test" / "card_01.json").write_text(json.dumps({"image": "card_01.png", "fields": fields}))
    (root / "parody").mkdir()
    _image(root / "parody" / "cat", ".png")
    (root / "parody" / "cat.json").write_text(json.dumps({"image": "cat.png", "expect": "not_ktp", "fields": {}}))


def _run(bench, capsys, argv: list[str]) -> str:
    assert bench.main(["--engines", "fake", "--baseline-model", "fake", *argv]) == 0
    return capsys.readouterr().out


def _rows(out: str) -> dict[tuple[str, str, str], list[str]]:
    rows = {}
    for line in out.splitlines():
        cells = line.split()
        if len(cells) == 13 and cells[3].isdigit():
            rows[(cells[0], cells[1], cells[2])] = cells
    return rows


def test_every_source_is_printed_beside_the_baseline(bench, capsys, tmp_path):
    _write_data(tmp_path / "data")
    _write_real(tmp_path / "real")
    out = _run(bench, capsys, ["--data", str(tmp_path / "data"), "--real-dir", str(tmp_path / "real")])
    rows = _rows(out)
    expected = [("clean", "default"), ("phone", "default"), ("hard", "default")]
    expected += [(name, group) for name in ("xs-flat", "xs-frame", "xs-phone", "xs-copy") for group in ("tuned", "held-out")]
    expected += [("gen-test", "real-v1"), ("parody", "real-v1"), ("no-ktp", "synthetic")]
    for source, split in expected:
        assert (source, split, "ours") in rows, source
        assert (source, split, "baseline") in rows, source
    assert "tuned on the default card style only" in out
    assert "held-out" in out
    assert "real-v1 skipped" not in out
    # The baseline parses the fake model's text back into the truth, also on the real-v1 mapping.
    assert rows[("gen-test", "real-v1", "baseline")][4] == "1.0000"
    assert rows[("gen-test", "real-v1", "baseline")][5] == "1.000"
    assert rows[("clean", "default", "baseline")][6] == "1.000"  # NIK exact
    # Retake flags on readable and on unreadable cards, and the scores by readability, per source.
    assert "retake|unreadable" in out
    assert "retake scores by readability" in out
    score_lines = [line.strip() for line in out.splitlines() if " n=" in line and "flagged" in line]
    for source in ("clean", "phone", "hard", "xs-flat tuned", "xs-copy held-out", "gen-test"):
        assert any(line.startswith(source + " ") and " blur " in line for line in score_lines), source
    # The parody card and the photo without a KTP are reported as not-a-KTP checks.
    assert "not-a-KTP check parody:" in out
    assert "not-a-KTP check no-ktp:" in out


def test_real_v1_is_skipped_with_a_note_when_absent(bench, capsys, tmp_path):
    _write_data(tmp_path / "data")
    missing = tmp_path / "empty" / "real-v1"
    (tmp_path / "empty").mkdir()
    out = _run(bench, capsys, ["--data", str(tmp_path / "data"), "--real-dir", str(missing)])
    assert f"note: real-v1 skipped: {missing} does not exist" in out
    rows = _rows(out)
    assert ("clean", "default", "baseline") in rows
    assert not any(split == "real-v1" for _, split, _ in rows)


def test_default_real_dir_follows_the_environment(bench, monkeypatch, tmp_path):
    monkeypatch.setenv(bench.EVAL_DIR_ENV, str(tmp_path))
    assert bench.default_real_dir() == tmp_path / "real-v1"
    monkeypatch.delenv(bench.EVAL_DIR_ENV)
    assert bench.default_real_dir() == bench.REPO.parent / "shared" / "eval" / "real-v1"


def test_real_truth_maps_to_contract_names_and_skips_missing_fields(bench, tmp_path):
    _write_real(tmp_path)
    (tmp_path / "gen-test" / "card_01.json").write_text(json.dumps(
        {"image": "card_01.png", "fields": {"nama": "SITI", "provinsi": "JAWA BARAT", "kota_terbit": "BANDUNG"}}))
    sources = bench.load_real(tmp_path)
    assert list(sources) == ["gen-test", "parody"]
    card = sources["gen-test"][0]
    assert card.fields == {"full_name": "SITI", "state": "JAWA BARAT", "issue_city": "BANDUNG"}
    assert card.ktp
    assert not sources["parody"][0].ktp
    score = bench.LevelScore()
    score.add(card, bench.Reading({"full_name": "siti", "state": "JAWA  BARAT", "issue_city": None}, None, True, 0.1))
    assert score.summary()["field_accuracy"] == pytest.approx(2 / 3)
    assert score.summary()["per_field"]["nik"] is None  # never scored


def test_baseline_parser_reads_a_tilted_card():
    sys.path.insert(0, str(_BENCH_DIR))
    try:
        from baseline_parser import Line, parse
    finally:
        sys.path.remove(str(_BENCH_DIR))
    lines = [Line(b.text, b.x0, b.y0, b.x1, b.y1) for b in _boxes(tilt=0.06)]
    assert parse(lines) == TRUTH
