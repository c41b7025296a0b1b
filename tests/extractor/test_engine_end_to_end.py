"""Real OCR on a few generated cards (slow: loads the OCR models)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from extractor.engine import ImageDecodeError, extract
from extractor.result import ALL_FIELDS

pytestmark = pytest.mark.slow


def generated(seed: int, level: str):
    from extractor.synth import generate_card

    return generate_card(seed, level)


@pytest.mark.parametrize(("seed", "level"), [(11, "clean"), (12, "clean"), (13, "phone"), (14, "phone")])
def test_fields_of_generated_cards(seed, level):
    jpeg, truth = generated(seed, level)
    result = extract(jpeg)
    assert result.ktp_detected
    assert set(result.fields) == set(ALL_FIELDS)
    values = {name: result.value(name) or "" for name in ALL_FIELDS}
    expected = truth["fields"]
    assert values["nik"] == expected["nik"]
    wrong = [name for name in ALL_FIELDS if values[name] != expected[name]]
    assert len(wrong) <= 1, f"fields read wrong: {wrong}"
    assert not any(result.image_quality.contract_flags().values())
    assert {check.name for check in result.checks} >= {"nik_structure", "nik_province"}
    assert all(0.0 <= reading.confidence <= 1.0 for reading in result.fields.values())
    assert result.engine
    assert result.seconds > 0


def test_upside_down_card_is_turned():
    jpeg, truth = generated(21, "clean")
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    upside_down = cv2.imencode(".jpg", cv2.rotate(image, cv2.ROTATE_180))[1].tobytes()
    result = extract(upside_down)
    assert result.ktp_detected
    assert result.value("nik") == truth["fields"]["nik"]


def test_photo_without_a_card_is_not_detected():
    canvas = np.full((800, 1200, 3), 235, np.uint8)
    cv2.putText(canvas, "TOTAL BELANJA 25.000", (80, 300), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (20, 20, 20), 4)
    cv2.putText(canvas, "TERIMA KASIH", (80, 450), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (20, 20, 20), 4)
    result = extract(cv2.imencode(".png", canvas)[1].tobytes())
    assert result.ktp_detected is False
    assert result.fields == {}


def test_undecodable_bytes_raise():
    with pytest.raises(ImageDecodeError):
        extract(b"definitely not an image")
    with pytest.raises(ValueError):
        extract(b"")


def test_cli_json_lines(tmp_path, capsys):
    from ktp.cli import main

    jpeg, truth = generated(31, "clean")
    path = tmp_path / "card.jpg"
    path.write_bytes(jpeg)
    assert main(["extract", "--json", "--show-nik", str(path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    payload = json.loads(lines[0])
    assert payload["image"] == str(path)
    assert payload["ktp_detected"] is True
    assert payload["fields"]["nik"]["value"] == truth["fields"]["nik"]

    # Masked unless --show-nik (like every other command), in the table and in --json.
    assert main(["extract", "--json", str(path)]) == 0
    masked = json.loads(capsys.readouterr().out)
    assert masked["fields"]["nik"]["value"] == truth["fields"]["nik"][:6] + "******" + truth["fields"]["nik"][-4:]
    assert main(["extract", str(path)]) == 0
    table = capsys.readouterr().out
    assert "nik" in table and truth["fields"]["nik"] not in table
    assert "image_quality" in table


def test_other_document_with_shared_labels_is_not_a_ktp():
    """A SIM-like layout (Nama, Alamat, Tempat/Tgl Lahir, Pekerjaan) without NIK or PROVINSI."""
    canvas = np.full((700, 1100, 3), 230, np.uint8)
    rows = ["SURAT IZIN MENGEMUDI", "Nama : BUDI SANTOSO", "Alamat : JL. MERDEKA NO. 1",
            "Tempat/Tgl Lahir : BOGOR, 01-02-1990", "Pekerjaan : KARYAWAN SWASTA", "Agama : ISLAM"]
    for i, row in enumerate(rows):
        cv2.putText(canvas, row, (60, 90 + 95 * i), cv2.FONT_HERSHEY_SIMPLEX, 1.3, (25, 25, 25), 3)
    result = extract(cv2.imencode(".png", canvas)[1].tobytes())
    assert result.ktp_detected is False


def test_concurrent_calls_give_the_sequential_results():
    from concurrent.futures import ThreadPoolExecutor

    cards = [generated(seed, "clean")[0] for seed in (41, 42)]
    sequential = [extract(card).contract_fields() for card in cards]
    with ThreadPoolExecutor(max_workers=2) as pool:
        concurrent = [r.contract_fields() for r in pool.map(extract, cards)]
    assert concurrent == sequential


def _very(problem: str, seed: int) -> bytes:
    """A generated card past the hard level: blurred (sigma 3.5 at 1000 px, about 1.7x the hard
    level's strongest) so that its rows are lost but the large header and NIK still show, or nearly black."""
    from extractor.synth.holder import random_holder
    from extractor.synth.render import render_card

    rng = np.random.default_rng(seed)
    holder = random_holder(rng)
    card = np.asarray(render_card(holder, 1000, rng))[..., ::-1].astype(np.float32)
    frame = cv2.copyMakeBorder(card, 120, 120, 160, 160, cv2.BORDER_CONSTANT, value=(60, 90, 120))
    if problem == "blur":
        frame = cv2.GaussianBlur(frame, (0, 0), 3.5)
    else:
        frame = frame * 0.08
    frame = np.clip(frame + np.random.default_rng(seed).normal(0, 2.0, frame.shape), 0, 255).astype(np.uint8)
    return cv2.imencode(".jpg", frame)[1].tobytes()


@pytest.mark.parametrize("problem", ["blur", "dark"])
def test_a_card_too_blurred_or_dark_to_read_is_a_retake_not_no_ktp(problem):
    from extractor.service.results import extraction_body

    result = extract(_very(problem, 61))
    assert getattr(result.image_quality, problem), result.image_quality.scores
    assert result.ktp_detected
    code, _ = extraction_body("ref", result, True, {})
    assert code.value == "FAIL_ON_1"


def _photographed(render, seed: int, sigma: float) -> bytes:
    """A flat render on a plain surface, blurred with ``sigma`` px at the card's 1000 px."""
    rng = np.random.default_rng(seed)
    card = np.asarray(render(rng, 1000))[..., ::-1].astype(np.float32)
    frame = cv2.copyMakeBorder(card, 120, 120, 160, 160, cv2.BORDER_CONSTANT, value=(60, 90, 120))
    frame = cv2.GaussianBlur(frame, (0, 0), sigma)
    frame = np.clip(frame + rng.normal(0, 2.0, frame.shape), 0, 255).astype(np.uint8)
    return cv2.imencode(".jpg", frame)[1].tobytes()


def _ktp(rng, width):
    from extractor.synth.holder import random_holder
    from extractor.synth.render import render_card

    return render_card(random_holder(rng), width, rng)


@pytest.mark.parametrize("seed", [63, 64])
def test_a_ktp_blurred_until_nothing_reads_is_a_retake(seed):
    """Sigma 8 px at 1000 px: not even the header or the NIK reads, yet it is a KTP to retake."""
    from extractor.service.results import extraction_body

    result = extract(_photographed(_ktp, seed, 8.0))
    assert result.image_quality.blur, result.image_quality.scores
    assert result.ktp_detected
    for validate_quality in (True, False):
        code, body = extraction_body("ref", result, validate_quality, {})
        assert code.value == "FAIL_ON_1"
        assert body["data"]["image_quality"]["blur"] is True


@pytest.mark.parametrize("kind", ["sim", "member_card", "blank_card"])
def test_other_cards_blurred_until_nothing_reads_are_not_a_ktp(kind):
    from extractor.synth.negatives import _RENDERERS

    render, _ = _RENDERERS[kind]
    result = extract(_photographed(render, 65, 8.0))
    assert result.image_quality.blur
    assert result.ktp_detected is False


@pytest.mark.parametrize("kind", ["sim", "domicile_letter", "parody_card", "long_nik_card", "blank_card"])
def test_look_alikes_are_not_a_ktp(kind):
    from extractor.synth.negatives import generate_non_card

    jpeg, _ = generate_non_card(71, kind)
    assert extract(jpeg).ktp_detected is False


def test_cli_marks_images_below_the_contract_size(tmp_path, capsys):
    from ktp.cli import main

    jpeg, truth = generated(32, "clean")
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    small = cv2.resize(image, (600, round(600 * image.shape[0] / image.shape[1])), interpolation=cv2.INTER_AREA)
    path = tmp_path / "small.jpg"
    path.write_bytes(cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes())
    assert main(["extract", "--json", "--show-nik", str(path)]) == 0
    payload = json.loads(capsys.readouterr().out.strip())
    assert payload["below_contract_size"] is True
    assert payload["fields"]["nik"]["value"] == truth["fields"]["nik"]
    assert main(["extract", str(path)]) == 0
    assert "below the contract's 720x480" in capsys.readouterr().out
