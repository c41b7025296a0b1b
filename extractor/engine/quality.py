"""Image quality flags measured on the normalised card (fixed width, so scores are comparable).

- blur: sharpness as the variance of the second difference along the weakest of four directions
  (0°, 45°, 90°, 135°) of the contrast-stretched grey card at half size; low = blurred. The weakest
  direction catches motion blur, which leaves edges across the motion sharp; stretching keeps a dim
  but sharp card from passing for a blurred one; halving keeps JPEG and sensor noise from passing
  for detail.
- dark: mean luminance and its 95th percentile; a dim card has both low.
- flashlight: share of the card that is blown out (near-white, unsaturated) in compact blobs.
- grayscale: spread between colour channels; a grey copy has (almost) none.
"""

from __future__ import annotations

import cv2
import numpy as np

from extractor.engine.thresholds import QUALITY
from extractor.result import ImageQuality

# The flag thresholds (and what they were calibrated on) live with the others in thresholds.py.
THRESHOLDS = QUALITY


# Second differences along 0°, 90°, 45° and 135°.
_DIRECTIONS = (
    np.array([[1, -2, 1]], np.float32),
    np.array([[1], [-2], [1]], np.float32),
    np.array([[1, 0, 0], [0, -2, 0], [0, 0, 1]], np.float32),
    np.array([[0, 0, 1], [0, -2, 0], [1, 0, 0]], np.float32),
)


def _sharpness(grey: np.ndarray, blown: np.ndarray) -> float:
    """Weakest directional detail of the card outside any glare (glare is flat, not blurred)."""
    half = cv2.resize(grey, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA).astype(np.float32)
    glare = cv2.resize(blown, (half.shape[1], half.shape[0]), interpolation=cv2.INTER_NEAREST)
    keep = cv2.erode(1 - glare, np.ones((7, 7), np.uint8)).astype(bool)
    if keep.mean() < 0.2:
        keep = np.ones_like(keep, dtype=bool)
    p5, p95 = (float(v) for v in np.percentile(half[keep], (5, 95)))
    stretched = ((half - p5) * (255.0 / max(p95 - p5, 1.0))).astype(np.float32)
    return min(float(cv2.filter2D(stretched, cv2.CV_32F, kernel)[keep].var()) for kernel in _DIRECTIONS)


def measure(card_bgr: np.ndarray) -> ImageQuality:
    grey = cv2.cvtColor(card_bgr, cv2.COLOR_BGR2GRAY)
    mean = float(grey.mean())
    p95 = float(np.percentile(grey, 95))

    hsv = cv2.cvtColor(card_bgr, cv2.COLOR_BGR2HSV)
    # The card's own pale tint keeps some saturation; glare washes it out completely.
    blown = ((hsv[..., 2] >= 245) & (hsv[..., 1] <= 20)).astype(np.uint8)
    # Glare is a compact blob, not scattered white pixels: open away specks first.
    blown = cv2.morphologyEx(blown, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    glare = float(blown.mean())

    sharpness = _sharpness(grey, blown)
    b, g, r = (card_bgr[..., i].astype(np.int16) for i in range(3))
    spread = float((np.abs(b - g) + np.abs(g - r) + np.abs(b - r)).mean() / 3)

    scores = {
        "blur": round(sharpness, 2),
        "dark_mean": round(mean, 2),
        "dark_p95": round(p95, 2),
        "flashlight": round(glare, 5),
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
