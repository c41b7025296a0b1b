"""Restore spaces the OCR dropped between words, from the ink gaps inside each line box.

The recogniser reads `PRATAMAANTONIUS` where the card prints `PRATAMA ANTONIUS`, but the pixels
still show the word gap. For each line box the column profile of the ink gives the gaps wider
than a word space; the characters are laid out along the ink extent with Arial-like advance widths
(KTP text is an Arial-like sans), the gaps already explained by a space in the text are matched
off, and each remaining gap that falls on a letter-letter boundary gets a space.
Blurred lines show no clean gaps and are left untouched.
"""

from __future__ import annotations

import re

import cv2
import numpy as np

from extractor.engine.backends import TextBox
from extractor.engine.lexicon import is_word

# Advance widths in 1/1000 em (Arial / Arimo / Liberation Sans metrics).
_WIDTHS = {
    **dict.fromkeys("0123456789", 556),
    "A": 667, "B": 667, "C": 722, "D": 722, "E": 667, "F": 611, "G": 778, "H": 722, "I": 278,
    "J": 500, "K": 667, "L": 556, "M": 833, "N": 722, "O": 778, "P": 667, "Q": 778, "R": 722,
    "S": 667, "T": 611, "U": 722, "V": 667, "W": 944, "X": 667, "Y": 667, "Z": 611,
    " ": 278, ".": 278, ",": 278, ":": 278, ";": 278, "-": 333, "/": 278, "(": 333, ")": 333,
    "'": 191, "+": 584,
}
_DEFAULT_WIDTH = 556
# A gap at least this many cap heights wide separates words (letter gaps stay well below).
WORD_GAP = 0.33
# A narrower gap is a word gap only when the lexicon knows the words on both sides.
WEAK_GAP = 0.22
# Roman numerals that end street and village names (GG. MAWAR III, SELATAN IV).
_NUMERAL = re.compile(r"I{1,3}|IV|VI{0,3}|IX|X")
# How far (in average character widths) a gap may sit from the boundary it is assigned to.
MAX_OFFSET = 0.6


def _ink(crop: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Boolean per column (does it hold ink?) and the cap height in pixels."""
    if crop.size == 0 or crop.shape[0] < 6 or crop.shape[1] < 10:
        return None
    _, ink = cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    ink = ink > 0
    row_ink = ink.sum(axis=1)
    if row_ink.max() == 0:
        return None
    # Rows carrying a real share of the ink: the cap band (thin descenders and commas drop out).
    rows = np.flatnonzero(row_ink >= 0.15 * row_ink.max())
    return ink.sum(axis=0) >= 1, float(rows[-1] - rows[0] + 1)


def _segments(columns: np.ndarray, min_gap: float) -> list[tuple[int, int]]:
    """Ink runs separated by blank stretches of at least ``min_gap`` columns."""
    filled = np.flatnonzero(columns)
    if filled.size == 0:
        return []
    segments = [[int(filled[0]), int(filled[0])]]
    for x in filled[1:]:
        if x - segments[-1][1] - 1 >= min_gap:
            segments.append([int(x), int(x)])
        else:
            segments[-1][1] = int(x)
    return [(a, b + 1) for a, b in segments]


def _tokens(text: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the tokens: words between spaces, each colon on its own."""
    spans, start = [], None
    for i, ch in enumerate(text + " "):
        if ch in " :：":
            if start is not None:
                spans.append((start, i))
                start = None
            if ch != " ":
                spans.append((i, i + 1))
        elif start is None:
            start = i
    return spans


def _align(predicted: list[float], segments: list[tuple[int, int]]) -> list[tuple[int, int]] | None:
    """Give each token a run of consecutive segments, minimising relative width errors (DP)."""
    n, m = len(predicted), len(segments)
    if n == 0 or n > m:
        return None
    inf = float("inf")
    cost = [[inf] * (m + 1) for _ in range(n + 1)]
    back = [[0] * (m + 1) for _ in range(n + 1)]
    cost[0][0] = 0.0
    for i in range(1, n + 1):
        for j in range(i, m - (n - i) + 1):
            for k in range(i - 1, j):  # token i-1 takes segments k..j-1
                if cost[i - 1][k] == inf:
                    continue
                span = segments[j - 1][1] - segments[k][0]
                error = (span - predicted[i - 1]) / max(predicted[i - 1], 1.0)
                total = cost[i - 1][k] + error * error
                if total < cost[i][j]:
                    cost[i][j], back[i][j] = total, k
    if cost[n][m] == inf or cost[n][m] / n > 0.25:
        return None  # the widths do not fit the text: better leave it alone
    spans, j = [], m
    for i in range(n, 0, -1):
        k = back[i][j]
        spans.append((k, j))
        j = k
    return spans[::-1]


def _choose_boundary(text: str, piece_start: int, measured: int, end: int, strong: bool) -> int | None:
    """Where to put a space for a gap measured at ``measured`` (or None for no space).

    A narrow letter (I) next to the gap makes the measured boundary uncertain by one character, so
    the neighbours are tried too and the lexicon arbitrates. Weak gaps need the lexicon's word on
    both sides; a single letter is never split off.
    """
    best, best_score = None, -1
    for boundary in (measured, measured - 1, measured + 1):
        trailing_numeral = _NUMERAL.fullmatch(text[boundary:end]) is not None
        if not (piece_start + 2 <= boundary <= end - (1 if trailing_numeral else 2)):
            continue
        if not (text[boundary - 1].isupper() and text[boundary].isupper()):
            continue
        word_start = boundary
        while word_start > piece_start and text[word_start - 1].isalpha():
            word_start -= 1
        left, right = text[word_start:boundary], text[boundary:end]
        right_letters = next((i for i, ch in enumerate(right) if not ch.isalpha()), len(right))
        # Two-letter pieces are abbreviations (NO, GG, KP) or a mis-measured gap next to an I;
        # a trailing roman numeral (GG. KEBON JERUK I) is the exception, behind a clear gap.
        numeral = len(left) >= 3 and _NUMERAL.fullmatch(right[:right_letters]) is not None and right_letters == len(right)
        right_word = right[:right_letters]
        short_ok = all(len(piece) >= 3 or (len(piece) == 2 and is_word(piece, True)) for piece in (left, right_word))
        if not short_ok and not numeral:
            continue
        if numeral:
            # A known word with a numeral glued on (MERDEKAV), the glued form not being a word.
            if not is_word(left) or is_word(text[word_start:end]):
                continue
            return boundary
        if strong:
            joined = text[word_start:boundary + right_letters]
            # The reading is already a known word and a piece is not: the gap is a wide letter pair.
            if is_word(joined) and not (is_word(left) and is_word(right[:right_letters])):
                continue
            score = is_word(left) + any(is_word(right[:n]) for n in range(len(right), 2, -1))
        else:
            # The big region lexicon holds many short words: weak gaps trust only the core lists.
            score = is_word(left, True) + is_word(right_word, True)
            if score < 2 or is_word(text[word_start:boundary + right_letters]):
                continue
        if score > best_score:  # ties keep the measured boundary (tried first)
            best, best_score = boundary, score
    return best


def restore_spaces(grey: np.ndarray, box: TextBox) -> str:
    text = box.text
    if sum(ch.isupper() for ch in text) < 4:
        return text
    h, w = grey.shape[:2]
    x0, x1 = max(0, int(box.x0)), min(w, int(round(box.x1)))
    y0, y1 = max(0, int(box.y0)), min(h, int(round(box.y1)))
    found = _ink(grey[y0:y1, x0:x1])
    if found is None:
        return text
    columns, cap = found
    if cap < 8:
        return text
    em = cap / 0.716  # Arial's cap height is 0.716 em
    segments = _segments(columns, WEAK_GAP * cap)
    tokens = _tokens(text)
    numerals = [i for i, (a, b) in enumerate(tokens) if re.fullmatch(r"I{1,3}", text[a:b])]
    if len(segments) <= len(tokens) and not numerals:
        return text  # no unexplained gap (or a blurred line without clean gaps)
    widths = [_WIDTHS.get(ch, _WIDTHS.get(ch.upper(), _DEFAULT_WIDTH)) * em / 1000 for ch in text]
    # Ink is narrower than the advance by about the side bearings.
    predicted = [max(1.0, sum(widths[a:b]) - 0.08 * em) for a, b in tokens]
    alignment = _align(predicted, segments)
    if alignment is None:
        return text
    # Roman numerals (GG. MAWAR III): the recogniser often drops one of the strokes; count them.
    replacements: dict[int, str] = {}
    narrow = 0.25 * em
    for i in numerals:
        first, last = alignment[i]
        # Walk back from the numeral's last ink run over narrow runs (strokes) until a word gap;
        # the alignment may have given a stroke to the word before.
        seg = start = last - 1
        while seg >= 0 and segments[seg][1] - segments[seg][0] <= narrow:
            start = seg
            if seg == 0 or segments[seg][0] - segments[seg - 1][1] >= WORD_GAP * cap:
                break
            seg -= 1
        # Strokes of the numeral may touch each other at the run level: count 1-pixel gaps.
        span = columns[segments[min(start, first)][0]:segments[last - 1][1]]
        strokes = int(np.count_nonzero(span[1:] & ~span[:-1])) + int(span[0]) if span.size else 0
        a, b = tokens[i]
        if 1 <= strokes <= 3 and strokes != b - a:
            replacements[a] = "I" * strokes
    inserts: set[int] = set()
    for (a, b), (first, last) in zip(tokens, alignment):
        if last - first < 2:
            continue
        # Walk the gaps left to right, re-anchoring at each segment start: an earlier dropped
        # space would otherwise shift every later position by a space's width.
        start_char = a
        piece_start = a
        for seg in range(first, last - 1):
            if start_char >= b - 1:
                break
            ink_width = segments[seg][1] - segments[seg][0] + 0.08 * em
            offsets = np.cumsum([0.0] + widths[start_char:b])
            index = int(np.argmin(np.abs(offsets[1:-1] - ink_width))) + 1
            if abs(offsets[index] - ink_width) > MAX_OFFSET * 0.6 * em:
                break  # lost track of where we are in the text
            strong = segments[seg + 1][0] - segments[seg][1] >= WORD_GAP * cap
            boundary = _choose_boundary(text, piece_start, start_char + index, b, strong)
            if boundary is not None:
                inserts.add(boundary)
                piece_start = boundary
                start_char = boundary
            else:
                start_char += index
    if not inserts and not replacements:
        return text
    out, i = [], 0
    while i < len(text):
        if i in inserts:
            out.append(" ")
        if i in replacements:
            end = next(b for a, b in tokens if a == i)
            out.append(replacements[i])
            i = end
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


def restore_all(card_bgr: np.ndarray, boxes: list[TextBox]) -> list[TextBox]:
    grey = cv2.cvtColor(card_bgr, cv2.COLOR_BGR2GRAY)
    return [box if (fixed := restore_spaces(grey, box)) == box.text else box.with_text(fixed) for box in boxes]
