"""Not a KTP means not a KTP: the structure test on OCR boxes, the look-alike generators, and a card
too blurred or dark to read being reported as a retake (no OCR model runs here)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from extractor.engine.backends import TextBox
from extractor.engine.ocr_pass import Attempt, detected, label_hits
from extractor.engine.pipeline import too_poor_to_read
from extractor.result import ImageQuality

_KTP_ROWS = (("NIK", ": 3273014703900012"), ("Nama", ": SITI AMINAH"), ("Tempat/Tgl Lahir", ": BANDUNG, 07-03-1990"),
             ("Jenis Kelamin", ": PEREMPUAN"), ("Alamat", ": JL. MAWAR NO. 5"), ("RT/RW", ": 001/002"),
             ("Kel/Desa", ": GEGERKALONG"), ("Kecamatan", ": SUKASARI"), ("Agama", ": ISLAM"))


def _attempt(header: tuple[str, ...] = ("PROVINSI JAWA BARAT", "KOTA BANDUNG"), rows=_KTP_ROWS) -> Attempt:
    boxes = [TextBox(text, 0.95, 300, 10 + 35 * i, 700, 40 + 35 * i) for i, text in enumerate(header)]
    for i, (label, value) in enumerate(rows):
        y = 100 + 32 * i
        boxes += [TextBox(label, 0.95, 30, y, 200, y + 26), TextBox(value, 0.95, 210, y, 700, y + 26)]
    return Attempt(np.zeros((4, 4, 3), np.uint8), boxes, label_hits(boxes), "fake", np.zeros((4, 4, 3), np.uint8))


def test_a_ktp_front_is_detected():
    assert detected(_attempt())
    # DKI cards print the city without KABUPATEN/KOTA: the PROVINSI line is what is required.
    assert detected(_attempt(header=("PROVINSI DKI JAKARTA", "JAKARTA SELATAN")))
    assert detected(_attempt(header=("PR0VINSI JAWA BARAT",)))  # one OCR confusion in the header


@pytest.mark.parametrize("header", [
    ("SURAT IZIN MENGEMUDI", "KEPOLISIAN NEGARA REPUBLIK INDONESIA"),  # a SIM
    ("PEMERINTAH KOTA BANDUNG", "KECAMATAN SUKASARI", "SURAT KETERANGAN DOMISILI"),  # a letter
    ("KARTU PELAJAR", "SMA NEGERI 3 KOTA BANDUNG"),  # a student card
    ("KARTU TANDA PENDUDUK KUCING", "REPUBLIK MEONG"),  # a parody
])
def test_the_rows_without_the_provinsi_header_are_not_a_ktp(header):
    attempt = _attempt(header=header)
    assert attempt.hits >= 4  # the rows alone would pass
    assert not detected(attempt)


def test_a_twenty_digit_nik_is_not_a_ktp():
    rows = (("NIK", ": 32730147039000121234"), *_KTP_ROWS[1:])
    assert not detected(_attempt(rows=rows))
    rows = (("NIK", ": 3273014703900012"), *_KTP_ROWS[1:])
    assert detected(_attempt(rows=rows))


def test_a_blurred_or_dark_card_is_a_retake_not_a_missing_ktp():
    nothing_read = _attempt(header=(), rows=())
    blurred = ImageQuality(blur=True)
    header_only = _attempt(header=("PROVINSI JAWA BARAT",), rows=())
    assert too_poor_to_read(header_only, blurred, card_outline=True)
    assert too_poor_to_read(header_only, ImageQuality(dark=True), card_outline=False)
    assert too_poor_to_read(_attempt(header=()), blurred, card_outline=False)  # the NIK read, no header
    labels_only = _attempt(header=(), rows=(("Nama", ": SITI"), ("Alamat", ": JL. MAWAR")))
    assert not too_poor_to_read(labels_only, blurred, card_outline=True)  # a blurred member card
    # Sharp and well lit: a failed KTP test stays "not a KTP"; a flagged blank card (outline, nothing
    # read) too.
    assert not too_poor_to_read(header_only, ImageQuality(), card_outline=True)
    assert not too_poor_to_read(nothing_read, blurred, card_outline=True)
    # An outline alone is not enough: a blurred blank card has one.
    assert not too_poor_to_read(nothing_read, ImageQuality(blur=True, dark=True), card_outline=True)


def test_the_service_answers_fail_on_1_for_an_unreadable_card():
    from extractor.result import KtpExtraction
    from extractor.service.results import extraction_body

    unreadable = KtpExtraction(ktp_detected=True, image_quality=ImageQuality(blur=True))
    for validate_quality in (False, True):
        code, body = extraction_body("ref", unreadable, validate_quality, {})
        assert code.value == "FAIL_ON_1"
        assert body["data"]["image_quality"]["blur"] is True
    code, _ = extraction_body("ref", KtpExtraction(ktp_detected=False, image_quality=ImageQuality(blur=True)), True, {})
    assert code.value == "KTP_NOT_DETECTED"
    code, _ = extraction_body("ref", KtpExtraction(ktp_detected=True), False, {})
    assert code.value == "KTP_NOT_DETECTED"  # detected, sharp, nothing legible


@pytest.mark.parametrize("kind", ["sim", "npwp", "student_card", "domicile_letter", "blank_card", "parody_card",
                                  "long_nik_card"])
def test_look_alike_generators(kind):
    from extractor.synth.negatives import NEGATIVE_KINDS, generate_non_card

    assert kind in NEGATIVE_KINDS
    jpeg, truth = generate_non_card(5, kind)
    assert truth["ktp"] is False and truth["kind"] == kind
    image = Image.open(io.BytesIO(jpeg))
    assert image.width >= 1000
    assert np.asarray(image.convert("L")).std() > 10  # something is drawn
    assert generate_non_card(5, kind) == (jpeg, truth)


def _blurred(render, seed: int, sigma: float = 8.0, gain: float = 1.0) -> np.ndarray:
    """A flat render (BGR, 1000 px) blurred far past reading (sigma 8 px) or darkened, with sensor noise."""
    import cv2

    rng = np.random.default_rng(seed)
    card = np.asarray(render(rng, 1000))[..., ::-1].astype(np.float32)
    card = cv2.GaussianBlur(card, (0, 0), sigma) * gain
    return np.clip(card + rng.normal(0, 2.0, card.shape), 0, 255).astype(np.uint8)


def _ktp(rng, width):
    from extractor.synth.holder import random_holder
    from extractor.synth.render import render_card

    return render_card(random_holder(rng), width, rng)


def _unreadable(card: np.ndarray, boxes=()) -> Attempt:
    return Attempt(card, list(boxes), 0, "fake", card)


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_a_ktp_blurred_past_reading_is_a_retake(seed):
    """Nothing read at all, but the KTP's blue print and its rows of text still show."""
    card = _blurred(_ktp, seed)
    assert too_poor_to_read(_unreadable(card), ImageQuality(blur=True), card_outline=True)
    dim = _blurred(_ktp, seed, sigma=1.0, gain=0.06)
    assert too_poor_to_read(_unreadable(dim), ImageQuality(dark=True), card_outline=True)
    # Unflagged, the same image is no retake; a legible non-KTP title or a 20-digit number says
    # it is another document.
    assert not too_poor_to_read(_unreadable(card), ImageQuality(), card_outline=True)
    title = TextBox("KARTU TANDA PENDUDUK KUCING", 0.93, 300, 10, 700, 40)
    assert not too_poor_to_read(_unreadable(card, [title]), ImageQuality(blur=True), card_outline=True)
    long_nik = TextBox("32730147039000121234", 0.9, 230, 90, 600, 120)
    assert not too_poor_to_read(_unreadable(card, [long_nik]), ImageQuality(blur=True), card_outline=True)


@pytest.mark.parametrize("kind", ["blank_card", "sim", "npwp", "student_card", "member_card", "letter"])
def test_other_cards_blurred_past_reading_stay_not_a_ktp(kind):
    from extractor.synth.negatives import _RENDERERS

    render, _ = _RENDERERS[kind]
    for seed in (3, 4):
        card = _blurred(render, seed)
        assert not too_poor_to_read(_unreadable(card), ImageQuality(blur=True, dark=True), card_outline=True)
