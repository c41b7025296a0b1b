"""Image quality flags measured on the normalised card (fixed width, so scores are comparable).

- blur: sharpness as the variance of the Laplacian of the grey card; low = blurred.
- dark: mean luminance and its 95th percentile; a dim card has both low.
- flashlight: share of the card that is blown out (near-white, unsaturated) in compact blobs.
- grayscale: spread between colour channels; a grey copy has (almost) none.
"""

from __future__ import annotations

import cv2
import numpy as np

from extractor.result import ImageQuality

THRESHOLDS = {
    "blur": 60.0,  # Laplacian variance below this = blurred
    "dark_mean": 80.0,  # mean luminance below this ...
    "dark_p95": 150.0,  # ... and the bright end below this = dark
    "flashlight": 0.012,  # share of blown-out pixels above this = flashlight glare
    "grayscale": 6.0,  # mean channel spread below this = grayscale
}


def measure(card_bgr: np.ndarray) -> ImageQuality:
    grey = cv2.cvtColor(card_bgr, cv2.COLOR_BGR2GRAY)
    sharpness = float(cv2.Laplacian(grey, cv2.CV_64F).var())
    mean = float(grey.mean())
    p95 = float(np.percentile(grey, 95))

    hsv = cv2.cvtColor(card_bgr, cv2.COLOR_BGR2HSV)
    blown = ((hsv[..., 2] >= 250) & (hsv[..., 1] <= 40)).astype(np.uint8)
    # Glare is a compact blob, not scattered white pixels: open away specks first.
    blown = cv2.morphologyEx(blown, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    glare = float(blown.mean())

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
