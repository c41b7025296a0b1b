"""Quality flags on synthetic degradations of a generated card (no OCR needed)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from extractor.engine import localize, quality


@pytest.fixture(scope="module")
def card() -> np.ndarray:
    from extractor.synth import generate_card

    jpeg, _ = generate_card(7, "clean")
    image = localize.decode(jpeg)
    quad = localize.find_card(image)
    assert quad is not None, "the clean card's outline must be found"
    return localize.warp_card(image, quad)


def flags(image: np.ndarray) -> dict[str, bool]:
    return quality.measure(image).contract_flags()


def test_clean_card_raises_no_flag(card):
    result = quality.measure(card)
    assert not any(result.contract_flags().values())
    assert set(result.scores) >= {"blur", "dark_mean", "flashlight", "grayscale"}
    assert result.thresholds == quality.THRESHOLDS


def test_blur(card):
    assert flags(cv2.GaussianBlur(card, (0, 0), 3.0)) == {"blur": True, "dark": False, "flashlight": False, "grayscale": False}


def test_dark(card):
    dim = (card.astype(np.float32) * 0.22).astype(np.uint8)
    result = flags(dim)
    assert result["dark"]
    assert not result["flashlight"]
    assert not result["blur"], "a dim but sharp card is not blurred"


def test_flashlight(card):
    glare = card.astype(np.float32)
    h, w = card.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    spot = np.exp(-(((xx - 0.6 * w) / (0.12 * w)) ** 2 + ((yy - 0.5 * h) / (0.15 * h)) ** 2))
    glare = np.clip(glare + 400 * spot[..., None], 0, 255).astype(np.uint8)
    result = flags(glare)
    assert result["flashlight"]
    assert not result["dark"]


def test_grayscale(card):
    grey = cv2.cvtColor(cv2.cvtColor(card, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    assert flags(grey) == {"blur": False, "dark": False, "flashlight": False, "grayscale": True}
