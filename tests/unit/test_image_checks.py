import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ktp_pipeline.image_checks import MAX_IMAGE_BYTES, check_image, jpeg_dimensions, png_dimensions

from .conftest import make_image


@pytest.mark.parametrize("fmt,expected", [("JPEG", "jpeg"), ("PNG", "png")])
def test_accepts_jpeg_and_png_of_sufficient_size(fmt, expected):
    verdict = check_image(make_image(1000, 640, fmt))
    assert verdict.ok
    assert verdict.image_format == expected
    assert (verdict.width, verdict.height) == (1000, 640)


def test_progressive_jpeg_frame_header_is_read():
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (800, 500)).save(buf, format="JPEG", progressive=True)
    assert jpeg_dimensions(buf.getvalue()) == (800, 500)


def test_jpeg_with_large_exif_segment_before_the_frame():
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (900, 600)).save(buf, format="JPEG", exif=b"Exif\x00\x00" + b"\x00" * 40000)
    assert check_image(buf.getvalue()).ok


def test_portrait_photo_of_a_card_is_accepted():
    assert check_image(make_image(640, 1000)).ok


@pytest.mark.parametrize("size", [(719, 480), (720, 479), (300, 200)])
def test_too_small_is_rejected_with_size_code(size):
    verdict = check_image(make_image(*size))
    assert not verdict.ok
    assert verdict.error_code == "INVALID_PAYLOAD_IMAGE_SIZE"
    assert "pixels" in verdict.reason


def test_exactly_minimum_is_accepted():
    assert check_image(make_image(720, 480)).ok


def test_over_five_megabytes_is_rejected_before_parsing():
    data = make_image(1000, 640) + b"\x00" * MAX_IMAGE_BYTES
    verdict = check_image(data)
    assert verdict.error_code == "INVALID_PAYLOAD_IMAGE_SIZE"


@pytest.mark.parametrize("data", [b"GIF89a" + b"\x00" * 100, b"%PDF-1.7", b"", make_image(800, 600, "WEBP")])
def test_other_formats_are_rejected_with_format_code(data):
    assert check_image(data).error_code == "INVALID_PAYLOAD_IMAGE_FORMAT"


@pytest.mark.parametrize("data", [b"\xff\xd8\xff\xe0\x00\x10JFIF", b"\xff\xd8\xff\xe0\x00", b"\x89PNG\r\n\x1a\n\x00"])
def test_truncated_headers_are_rejected_as_damaged(data):
    verdict = check_image(data)
    assert verdict.error_code == "INVALID_PAYLOAD_IMAGE_FORMAT"
    assert "damaged" in verdict.reason


def test_png_dimensions_from_ihdr():
    header = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + struct.pack(">II", 1234, 777)
    assert png_dimensions(header) == (1234, 777)


def test_jpeg_dht_marker_is_not_mistaken_for_a_frame():
    # DHT (C4) before SOF0: a naive scan for 0xC0..0xCF would read the table as a frame header.
    dht = b"\xff\xc4" + struct.pack(">H", 6) + b"\x00\x10\x20\x30"
    sof = b"\xff\xc0" + struct.pack(">HBHH", 11, 8, 480, 720) + b"\x01\x01\x11\x00"
    assert jpeg_dimensions(b"\xff\xd8" + dht + sof) == (720, 480)


@given(st.binary(max_size=2048))
def test_arbitrary_bytes_after_a_jpeg_or_png_signature_never_crash(tail):
    for head in (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"):
        verdict = check_image(head + tail)
        assert verdict.ok or verdict.error_code in ("INVALID_PAYLOAD_IMAGE_FORMAT", "INVALID_PAYLOAD_IMAGE_SIZE")
