"""Cross-style synthetic cards: the split, every set and group, determinism, the default left alone."""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np
import pytest
from PIL import Image

from extractor.result import ALL_FIELDS
from extractor.synth import fonts, styles
from extractor.synth.holder import random_holder
from extractor.synth.render import render_card

# Pixels of one default card and the bytes of one clean card, taken from the code before styles
# existed (commit c2f7895): the default style must keep old seeds' cards, and so old figures, as they were.
_DEFAULT_RENDER_SHA = "6de3a1381ca8edde5a92ee87033520301093ba93ba71593178656e775670f1d9"
_DEFAULT_CLEAN_SHA = "9c982356f843b0c8ea2b9e9e6c914b54cc607a761341e20e073076d87bb7bfe7"


def test_default_cards_are_unchanged():
    from extractor.synth import generate_card

    holder = random_holder(np.random.default_rng(11))
    pixels = np.asarray(render_card(holder, 1200, np.random.default_rng(5)))
    assert hashlib.sha256(pixels.tobytes()).hexdigest() == _DEFAULT_RENDER_SHA
    assert hashlib.sha256(generate_card(9901, "clean")[0]).hexdigest() == _DEFAULT_CLEAN_SHA


def test_every_axis_is_split_into_two_disjoint_non_empty_groups():
    for axis, split in styles.SPLIT.items():
        assert set(split) == set(styles.GROUPS), axis
        assert split[styles.TUNED], axis
        assert split[styles.HELD_OUT], axis
        assert not set(split[styles.TUNED]) & set(split[styles.HELD_OUT]), axis


def test_faces_widths_and_backgrounds_cover_what_the_issue_asks():
    sans = {face for group in styles.SPLIT["sans"].values() for face in group}
    assert len(sans) >= 6
    assert {"roboto-condensed", "pt-sans-narrow"} & set(styles.SPLIT["sans"][styles.TUNED])  # a condensed face
    assert {"roboto-condensed", "pt-sans-narrow"} & set(styles.SPLIT["sans"][styles.HELD_OUT])
    nik = {face for group in styles.SPLIT["nik_face"].values() for face in group}
    assert len(nik - {"sans-bold"}) >= 4  # monospaced NIK faces
    for face in sans | (nik - {"sans-bold"}):
        assert face in fonts.FACES
        for weight in (400, 700):
            assert fonts.load(face, 20, weight).getbbox("NIK 3273")[2] > 0
    bins = [b for group in styles.SPLIT["width"].values() for b in group]
    assert min(low for low, _ in bins) == 480
    assert max(high for _, high in bins) == 2000
    assert {"guilloche", "wave", "plain"} <= {b for g in styles.SPLIT["background"].values() for b in g}


def test_a_style_draws_every_axis_from_its_group():
    rng = np.random.default_rng(3)
    for group in styles.GROUPS:
        for _ in range(30):
            style = styles.sample_style(rng, group)
            for axis in ("sans", "nik_face", "background", "weight", "spacing", "edge", "frame", "finish"):
                assert getattr(style, axis) in styles.SPLIT[axis][group], axis
            assert style.ink_name in styles.SPLIT["ink"][group]
            assert any(low <= style.width <= high for low, high in styles.SPLIT["width"][group])
    with pytest.raises(ValueError):
        styles.sample_style(rng, "both")


@pytest.fixture(scope="module")
def styled_cards():
    return {(name, group): styles.generate_styled_card(styles.styled_seed(7, 0, name, group), name, group)
            for name in styles.SETS for group in styles.GROUPS}


def test_every_set_and_group_gives_a_card_with_its_truth(styled_cards):
    for (name, group), (jpeg, truth) in styled_cards.items():
        image = Image.open(io.BytesIO(jpeg))
        assert image.format == "JPEG"
        assert min(image.size) >= 300
        assert truth["level"] == name
        assert truth["group"] == group
        assert tuple(truth["fields"]) == ALL_FIELDS
        assert truth["style"]["group"] == group
        assert truth["quality"]["grayscale"] == (image.mode == "L")
        assert not any(truth["quality"][k] for k in ("blur", "dark", "flashlight"))


def test_styled_cards_are_deterministic_and_differ_by_seed():
    first = styles.generate_styled_card(123, "xs-flat", styles.HELD_OUT)
    assert styles.generate_styled_card(123, "xs-flat", styles.HELD_OUT) == first
    assert styles.generate_styled_card(124, "xs-flat", styles.HELD_OUT)[0] != first[0]
    with pytest.raises(ValueError):
        styles.generate_styled_card(1, "xs-blurry", styles.TUNED)


def test_flat_cards_span_the_width_range():
    widths = []
    for seed in range(12):
        jpeg, truth = styles.generate_styled_card(seed, "xs-flat", styles.GROUPS[seed % 2])
        width = Image.open(io.BytesIO(jpeg)).width
        assert truth["style"]["width"] <= width <= truth["style"]["width"] * 1.13  # the edge adds a margin
        widths.append(truth["style"]["width"])
    assert min(widths) < 720 < max(widths)


def test_write_styled_cards(tmp_path):
    paths = styles.write_styled_cards(2, tmp_path, "xs-flat", styles.TUNED, seed=4)
    assert [p.name for p in paths] == ["xs-flat-tuned-4-0000.jpg", "xs-flat-tuned-4-0001.jpg"]
    truth = json.loads(paths[1].with_suffix(".json").read_text())
    assert truth["index"] == 1
    assert styles.generate_styled_card(truth["seed"], "xs-flat", styles.TUNED)[0] == paths[1].read_bytes()


def test_cli_writes_cross_style_cards(tmp_path, capsys):
    import argparse

    from extractor.synth import cli as synth_cli

    parser = argparse.ArgumentParser()
    synth_cli.register(parser.add_subparsers())
    args = parser.parse_args(["synth", "1", "--out", str(tmp_path), "--style-set", "xs-flat", "--group", "held-out",
                              "--seed", "3"])
    assert args.func(args) == 0
    assert "wrote 1 xs-flat held-out cards" in capsys.readouterr().err
    image = tmp_path / "xs-flat-held-out-3-0000.jpg"
    assert image.read_bytes() == styles.write_styled_cards(1, tmp_path / "api", "xs-flat", styles.HELD_OUT, 3)[0].read_bytes()
    for name in styles.SETS:  # the CLI's choices (kept literal so `ktp --help` imports nothing) are the sets
        assert parser.parse_args(["synth", "1", "--out", "x", "--style-set", name]).style_set == name
    with pytest.raises(SystemExit):
        parser.parse_args(["synth", "1", "--out", "x", "--style-set", "xs-blurry"])
