"""Preprocess: the decoded photo → the card, cut out, levelled and (when dim) stretched for OCR."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from extractor.engine import localize
from extractor.engine.thresholds import STRETCH_BELOW_MEAN, STRETCH_MIN_RANGE


@dataclass(frozen=True)
class PreparedCard:
    levelled: np.ndarray  # what the OCR reads first (in its likeliest orientations)
    # Before levelling: quality is measured on it (interpolation would soften edges).
    unlevelled: np.ndarray
    # The photo, when a card outline was used: read whole if the outline proves wrong
    # (background edge, half the card). None when the whole frame is the card already.
    photo: np.ndarray | None


def prepare(image: np.ndarray) -> PreparedCard:
    quad = localize.find_card(image)
    if quad is not None:
        unlevelled = localize.warp_card(image, quad)
        # A loose outline (shadow, vignette) leaves the text tilted: level it by its lines.
        levelled = localize.deskew(unlevelled, localize.estimate_skew(unlevelled))
        return PreparedCard(brighten_if_dark(levelled), unlevelled, image)
    return PreparedCard(brighten_if_dark(whole_frame(image)), localize.fit_width(image), None)


def whole_frame(image: np.ndarray) -> np.ndarray:
    """The full photo, levelled by its text lines, when no card outline was found."""
    frame = localize.fit_width(image)
    return localize.deskew(frame, localize.estimate_skew(frame))


def brighten_if_dark(card: np.ndarray) -> np.ndarray:
    """Stretch a dim card's levels (1st-99th percentile to full range): OCR reads contrast, not light."""
    grey = cv2.cvtColor(card, cv2.COLOR_BGR2GRAY)
    if grey.mean() >= STRETCH_BELOW_MEAN:
        return card
    low, high = np.percentile(grey, (1, 99))
    if high - low < STRETCH_MIN_RANGE:
        return card
    scale = 255.0 / (high - low)
    return cv2.convertScaleAbs(card, alpha=scale, beta=-low * scale)
