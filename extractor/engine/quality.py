"""Image quality flags measured on the normalised card (fixed width, so scores are comparable).

- blur: how much of the card's detail is fine: the variance of the second difference along the
  weakest of four directions (0°, 45°, 90°, 135°) of the contrast-stretched grey card at
  MEASURE_WIDTH px, over the same at half that size, in percent; low = blurred. The weakest
  direction catches motion blur, which leaves edges across the motion sharp; stretching keeps a dim
  but sharp card from passing for a blurred one. Measuring at 240 px, half the smallest card the
  engine reads (480 px), and as a ratio of two scales makes the score (nearly) independent of the
  input's resolution and of how much text the card holds: a 480 px card upscaled to the normalised
  1000 px is soft, scaled down again it is as sharp as it was; JPEG and sensor noise do not pass for
  detail at that size. The score is the median over five crops that leave out 1-3 % of each side:
  the outline can take in a strip of the background that wide (a dark page around a screenshot's
  card), and one long dark-to-light edge there outweighs all the print (six sharp generated cards
  scored 29-175, four of them 40 or less, with an 8 px dark strip; 132-162 without); where the
  240 px grid falls on the strokes also moves a single crop's score by up to 2x, and the median
  evens that out. Glare spots are left out (flat, not blurred); the rest of the white is kept.
- dark: mean luminance and its 95th percentile; a dim card has both low.
- flashlight: share of the card that is blown out (near-white, unsaturated) in compact, round
  blobs that do not touch the card's edge: white page margins, the white corners a rounded card
  leaves in its rectangle and the white page around a screenshot's card all reach the edge, a
  page's white boxes are rectangles, a photocopy's white paper shows in specks; a glare spot is a
  round blob on the card.
- grayscale: spread between colour channels; a grey copy has (almost) none.

A retake flag means "a person should retake this photo", so blur, dark and flashlight are set in two
steps. ``measure`` flags what the image suspects (the card is soft, dim or has a glare spot); the
pipeline uses that to bring in the stronger model and to tell an unreadable KTP from no KTP.
``settle`` then keeps a suspected problem only when it is severe or the card's reading is in doubt
(a field missing or unconfirmed, a NIK check failing): a blurred card read with every field
confirmed needs no retake.
"""

from __future__ import annotations

import cv2
import numpy as np

from extractor.engine.thresholds import QUALITY, STRIP_RIGHT
from extractor.result import ImageQuality

# The flag thresholds (and what they were calibrated on) live with the others in thresholds.py.
THRESHOLDS = QUALITY
MEASURE_WIDTH = 240
SHARPNESS_TRIMS = (0.01, 0.015, 0.02, 0.025, 0.03)  # share of each side left out; see the docstring


# Second differences along 0°, 90°, 45° and 135°.
_DIRECTIONS = (
    np.array([[1, -2, 1]], np.float32),
    np.array([[1], [-2], [1]], np.float32),
    np.array([[1, 0, 0], [0, -2, 0], [0, 0, 1]], np.float32),
    np.array([[0, 0, 1], [0, -2, 0], [1, 0, 0]], np.float32),
)


def _detail(image: np.ndarray, keep: np.ndarray) -> float:
    return min(float(cv2.filter2D(image, cv2.CV_32F, kernel)[keep].var()) for kernel in _DIRECTIONS)


def _sharpness(grey: np.ndarray, spots: np.ndarray) -> float:
    """Fine over coarse detail of the card outside the glare ``spots`` (flat, not blurred), in percent.

    The weakest direction's second-difference variance at MEASURE_WIDTH px over the same at half
    that: blur removes the fine scale first, while how much text the card holds and how large the
    input was change both scales alike.
    """
    scale = MEASURE_WIDTH / grey.shape[1]
    fine = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA).astype(np.float32)
    glare = cv2.resize(spots, (fine.shape[1], fine.shape[0]), interpolation=cv2.INTER_NEAREST)
    keep = cv2.erode(1 - glare, np.ones((5, 5), np.uint8)).astype(bool)
    if keep.mean() < 0.2:
        keep = np.ones_like(keep, dtype=bool)
    p5, p95 = (float(v) for v in np.percentile(fine[keep], (5, 95)))
    fine = ((fine - p5) * (255.0 / max(p95 - p5, 1.0))).astype(np.float32)
    coarse = cv2.resize(fine, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    coarse_keep = cv2.resize(keep.astype(np.uint8), (coarse.shape[1], coarse.shape[0]),
                             interpolation=cv2.INTER_NEAREST).astype(bool)
    if not coarse_keep.any():
        coarse_keep = np.ones_like(coarse_keep, dtype=bool)
    return 100.0 * _detail(fine, keep) / max(_detail(coarse, coarse_keep), 1e-6)


def _trimmed_sharpness(grey: np.ndarray, spots: np.ndarray) -> float:
    """The median sharpness over crops without the outer SHARPNESS_TRIMS of each side."""
    h, w = grey.shape
    crops = [(slice(round(h * t), h - round(h * t)), slice(round(w * t), w - round(w * t))) for t in SHARPNESS_TRIMS]
    return float(np.median([_sharpness(grey[rows, cols], spots[rows, cols]) for rows, cols in crops]))


def _off_the_edge(blown: np.ndarray) -> np.ndarray:
    """Only the blown-out blobs that can be glare: a compact round spot on the card.

    Left out: blobs reaching the image's edge (page margins, the corners a rounded card leaves),
    blobs covering much of the card (its white paper), specks (white paper between a photocopy's
    print) and blobs that fill their rectangle (a page's input boxes and panels when the outline
    caught a screenshot's page instead of the card): a flashlight's core is an ellipse.
    """
    count, labels, stats, _ = cv2.connectedComponentsWithStats(blown, connectivity=8)
    if count <= 1:
        return blown
    h, w = blown.shape
    x, y, bw, bh = stats[:, 0], stats[:, 1], stats[:, 2], stats[:, 3]
    area = stats[:, cv2.CC_STAT_AREA]
    edge = (x <= 1) | (y <= 1) | (x + bw >= w - 1) | (y + bh >= h - 1)
    paper = area > THRESHOLDS["glare_max_blob"] * h * w
    speck = area < THRESHOLDS["glare_min_blob"] * h * w
    drop = edge | paper | speck
    drop[0] = True  # the background label
    for label in np.flatnonzero(~drop):
        contours, _ = cv2.findContours((labels == label).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        _, (rw, rh), _ = cv2.minAreaRect(max(contours, key=cv2.contourArea))
        drop[label] = area[label] >= THRESHOLDS["glare_max_rect_fill"] * max(rw * rh, 1.0)
    return (~drop[labels]).astype(np.uint8)


def settle(measured: ImageQuality, doubtful: bool) -> ImageQuality:
    """The retake flags once the card is read: severe, or suspected and the reading in doubt."""
    scores = measured.scores
    severe = {
        "blur": scores["blur"] < THRESHOLDS["blur_severe"],
        "dark": scores["dark_mean"] < THRESHOLDS["dark_mean_severe"] and scores["dark_p95"] < THRESHOLDS["dark_p95_severe"],
        "flashlight": scores["flashlight_text"] > THRESHOLDS["flashlight_severe"],
    }
    return measured.model_copy(update={name: severe[name] or (getattr(measured, name) and doubtful)
                                       for name in severe})


def measure(card_bgr: np.ndarray) -> ImageQuality:
    grey = cv2.cvtColor(card_bgr, cv2.COLOR_BGR2GRAY)
    mean = float(grey.mean())
    p95 = float(np.percentile(grey, 95))

    hsv = cv2.cvtColor(card_bgr, cv2.COLOR_BGR2HSV)
    # The card's own pale tint keeps some saturation; glare washes it out completely.
    blown = ((hsv[..., 2] >= 245) & (hsv[..., 1] <= 20)).astype(np.uint8)
    # Glare is a compact blob, not scattered white pixels: open away specks first.
    blown = cv2.morphologyEx(blown, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    spots = _off_the_edge(blown)
    glare = float(spots.mean())
    # Glare over the photo column hides no text: only the label/value columns' share is severe.
    glare_on_text = float(spots[:, : int(STRIP_RIGHT * spots.shape[1])].sum()) / max(spots.size, 1)

    # Glare spots are left out of the sharpness (flat, not blurred), but not the rest of the blown-out
    # white: a photocopy's or a white card's paper surrounds every letter, and leaving it out (eroded)
    # took the letters with it, so sharp copies scored ~20 on what was left, mostly the photo.
    sharpness = _trimmed_sharpness(grey, spots)
    b, g, r = (card_bgr[..., i].astype(np.int16) for i in range(3))
    spread = float((np.abs(b - g) + np.abs(g - r) + np.abs(b - r)).mean() / 3)

    scores = {
        "blur": round(sharpness, 2),
        "dark_mean": round(mean, 2),
        "dark_p95": round(p95, 2),
        "flashlight": round(glare, 5),
        "flashlight_text": round(glare_on_text, 5),
        "grayscale": round(spread, 3),
    }
    return ImageQuality(
        blur=sharpness < THRESHOLDS["blur"],
        dark=mean < THRESHOLDS["dark_mean"] and p95 < THRESHOLDS["dark_p95"],
        flashlight=glare > THRESHOLDS["flashlight"],
        grayscale=spread < THRESHOLDS["grayscale"],
        scores=scores,
        thresholds=dict(THRESHOLDS),
    )
