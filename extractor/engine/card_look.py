"""Does an image nothing could be read from still look like a KTP front? Colour and rows of print.

Used only for photos flagged blur or dark where the OCR read no KTP anchor: such a photo is a card
to retake when it shows the KTP's pale blue print and a column of text rows, even though no single
letter is legible. Both survive blur and darkness that defeat the OCR:

- colour: the median colour of the label/value column (mostly background) is the KTP's blue
  (hue and saturation are ratios, so a dim photo keeps them);
- rows: the card's grey, contrast-stretched and averaged along each line of the left 70 % (label
  and value columns), shows one dip per printed row; a blurred row still dips, the wavy guilloche
  and rosette of the background average out along the line. A blank KTP blank has none, a member
  card a handful.

A parody or 20-digit card that copies the KTP layout looks the same once blurred past reading:
such a photo is asked to be retaken, which is the right answer when nothing can be read.
A grayscale copy has no colour to go by and stays "not a KTP" when nothing is read.
"""

from __future__ import annotations

import cv2
import numpy as np

from extractor.engine.thresholds import KTP_LOOK

MEASURE_WIDTH = 240  # as quality.py: the size where blur and noise matter least


def row_profile(card_bgr: np.ndarray) -> tuple[int, float]:
    """(printed rows below the header, their contrast): dips of the row-averaged left columns."""
    height = max(8, round(MEASURE_WIDTH * card_bgr.shape[0] / card_bgr.shape[1]))
    small = cv2.resize(card_bgr, (MEASURE_WIDTH, height), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32)
    p5, p95 = np.percentile(grey, (5, 95))
    grey = (grey - p5) * (255.0 / max(float(p95 - p5), 1.0))
    profile = grey[:, int(0.03 * MEASURE_WIDTH):int(0.70 * MEASURE_WIDTH)].mean(axis=1)
    profile = np.convolve(profile, np.ones(3) / 3, mode="same").astype(np.float32)
    # Detrend over about 2.5 row pitches (a KTP prints a row every 31 of 1000 px: 7.4 px here).
    trend = cv2.blur(profile.reshape(-1, 1), (1, 19), borderType=cv2.BORDER_REFLECT).ravel()
    residual = profile - trend
    low, high = int(0.15 * height), int(0.97 * height)
    rows, last = 0, -10
    for y in range(max(low, 1), min(high, height - 1)):
        dip = residual[y] <= -KTP_LOOK["row_dip"] and residual[y] <= residual[y - 1] and residual[y] < residual[y + 1]
        if dip and y - last >= 4:
            rows, last = rows + 1, y
    return rows, float(residual[low:high].std()) if high > low else 0.0


def background_colour(card_bgr: np.ndarray) -> tuple[float, float]:
    """(hue 0-179, saturation 0-255) of the label/value column's background (its brighter half).

    Averaged in floating point: a card at a few grey levels still has a hue, which a median of
    8-bit pixels rounds away.
    """
    h, w = card_bgr.shape[:2]
    column = card_bgr[int(0.1 * h):int(0.9 * h), int(0.05 * w):int(0.7 * w)].reshape(-1, 3).astype(np.float32)
    grey = column @ np.array([0.114, 0.587, 0.299], np.float32)
    mean = column[grey >= np.median(grey)].mean(axis=0)
    top = float(mean.max())
    if top <= 0:
        return 0.0, 0.0
    hsv = cv2.cvtColor((mean / top).reshape(1, 1, 3).astype(np.float32), cv2.COLOR_BGR2HSV)[0, 0]
    return float(hsv[0]) / 2, float(hsv[1]) * 255


def looks_like_ktp(card_bgr: np.ndarray) -> bool:
    if card_bgr.ndim != 3 or min(card_bgr.shape[:2]) < 16:
        return False
    hue, saturation = background_colour(card_bgr)
    if not (KTP_LOOK["hue_min"] <= hue <= KTP_LOOK["hue_max"] and saturation >= KTP_LOOK["saturation"]):
        return False
    rows, contrast = row_profile(card_bgr)
    return rows >= KTP_LOOK["rows"] and contrast >= KTP_LOOK["row_contrast"]


def _other_title(boxes, card_height: int) -> bool:
    """A legible line at the top of the card that is neither header line (PROVINSI ..., KABUPATEN ... /
    KOTA ...): another document's title (a parody's joke, a SIM's issuer)."""
    from extractor.engine.fuzzy import levenshtein, squash
    from extractor.engine.thresholds import ANCHOR_HEADER_EDITS

    for box in boxes:
        key = squash(box.text)
        if box.y1 > KTP_LOOK["title_band"] * card_height or box.confidence < KTP_LOOK["title_confidence"]:
            continue
        if sum(ch.isalpha() for ch in key) < KTP_LOOK["title_letters"] or key.startswith("KOTA"):
            continue
        if all(levenshtein(key[:len(word)], word, ANCHOR_HEADER_EDITS) > ANCHOR_HEADER_EDITS
               for word in ("PROVINSI", "KABUPATEN")):
            return True
    return False


def unreadable_ktp(attempt) -> bool:
    """Nothing of a KTP was read, nothing read says it is something else, and it looks like a KTP."""
    if _other_title(attempt.boxes, attempt.card.shape[0]):
        return False
    return looks_like_ktp(attempt.unlevelled)
