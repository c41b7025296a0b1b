"""Restore spaces the OCR dropped between words, from the ink gaps inside each line box.

The recogniser reads `PRATAMAANTONIUS` where the card prints `PRATAMA ANTONIUS`, but the pixels
still show the word gap. For each line box the column profile of the ink gives the gaps wider
than a word space; the characters are laid out along the ink extent with Arial-like advance widths
(KTP text is an Arial-like sans), the gaps already explained by a space in the text are matched
off, and each remaining gap that falls on a letter-letter boundary gets a space when it is wider
than the two letters' side bearings explain (an A stands flush in its advance, an N-I pair leaves
a quarter of a cap height blank without any space).
Blurred lines show no clean gaps and are left untouched.
"""

from __future__ import annotations

import re

import cv2
import numpy as np

from extractor.engine.backends import TextBox
from extractor.engine.lexicon import is_word
from extractor.engine.thresholds import (
    AMBIGUITY,
    BARE_STEM_WIDTH,
    DROPPED_SPACE_COST,
    EDGE_MISMATCH_COST,
    EDGE_SHARE,
    FACE_WIDTH,
    GLUED_EXCESS,
    GLUED_PIECE,
    GLUED_SURPLUS,
    LETTER_GAP_SURPLUS,
    LINE_EM_TOLERANCE,
    MAX_OFFSET,
    NUMERAL_GAP,
    SHARP_LINES,
    SPACE_SURPLUS,
    SPECK_SHARE,
    SPURIOUS_SURPLUS,
    SPURIOUS_WINDOW,
    STROKE_CHANGE_COST,
    STROKE_WIDTH,
    T_OVERHANG,
    CLEAR_SPACE_SURPLUS,
    WEAK_GAP,
    WEAK_SURPLUS,
    WIDE_GAP,
)

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
# Left and right side bearings in 1/1000 em (measured on Arimo's regular glyphs): the blank a letter
# pair leaves without a space. N-I leaves 0.17 em, A-A almost nothing, so the same ink gap means a
# space between two A's and no space between N and I.
_BEARINGS = {
    "A": (2, 2), "B": (82, 53), "C": (51, 38), "D": (82, 48), "E": (82, 43), "F": (82, 40), "G": (50, 75),
    "H": (82, 82), "I": (92, 93), "J": (16, 75), "K": (82, 12), "L": (82, 33), "M": (82, 82), "N": (82, 81),
    "O": (47, 48), "P": (82, 53), "Q": (47, 48), "R": (82, 46), "S": (46, 46), "T": (22, 24), "U": (77, 78),
    "V": (5, 5), "W": (5, 4), "X": (23, 21), "Y": (23, 22), "Z": (32, 31),
    # Arial's period and comma stand in the middle of their advance; digits have small bearings
    # (the 1 a wide right one). Needed for the gap after an abbreviation's period (`NO.36`).
    ".": (91, 91), ",": (85, 85), "0": (42, 42), "1": (109, 183), "2": (30, 41), "3": (43, 41),
    "4": (10, 50), "5": (43, 40), "6": (38, 40), "7": (50, 40), "8": (44, 42), "9": (42, 42),
}
_DEFAULT_BEARING = 60
# Arial's cap height in em: converts the bearings to cap heights, the unit gaps are measured in.
CAP_EM = 0.716
# Roman numerals that end street and village names (GG. MAWAR III, SELATAN IV).
_NUMERAL = re.compile(r"I{1,3}|IV|VI{0,3}|IX|X")
# "NO." with or without the house number glued on: what follows a numeral in a street name.
_HOUSE_NUMBER = re.compile(r"NO\.?\d*")


def _ink(crop: np.ndarray) -> tuple[np.ndarray, float, np.ndarray] | None:
    """Boolean per column (does it hold ink?), the cap height in pixels, and per column whether
    the cap band holds ink between where a colon's two dots sit (they leave it blank)."""
    if crop.size == 0 or crop.shape[0] < 6 or crop.shape[1] < 10:
        return None
    _, ink = cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    ink = ink > 0
    row_ink = ink.sum(axis=1)
    if row_ink.max() == 0:
        return None
    # Rows carrying a real share of the ink: the cap band (thin descenders and commas drop out),
    # the unbroken stretch around the fullest row. A taller box (a re-read crop's) also holds the
    # neighbouring lines' letters, apart from it: their ink would fill this line's gaps.
    rows = row_ink >= 0.15 * row_ink.max()
    top = bottom = int(np.argmax(row_ink))
    while top > 0 and rows[top - 1]:
        top -= 1
    while bottom + 1 < len(rows) and rows[bottom + 1]:
        bottom += 1
    cap = bottom - top + 1
    margin = int(np.ceil(0.25 * cap))  # a comma's tail, a stroke's anti-aliased end
    own = ink[max(0, top - margin):bottom + margin + 1]
    # Between a colon's dots (at the x-height and on the baseline): 0.45-0.8 of the cap band down.
    middle = ink[top + int(0.45 * cap):top + max(int(0.45 * cap) + 1, int(0.8 * cap))].any(axis=0)
    return own.sum(axis=0) >= 1, float(cap), middle


def _segments(columns: np.ndarray, min_gap: float) -> list[tuple[int, int]]:
    """Ink runs separated by blank stretches of at least ``min_gap`` columns."""
    filled = np.flatnonzero(columns)
    if filled.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(filled) - 1 >= min_gap)
    starts = np.concatenate(([filled[0]], filled[breaks + 1]))
    ends = np.concatenate((filled[breaks], [filled[-1]])) + 1
    return list(zip(starts.tolist(), ends.tolist()))


def _tokens(text: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the tokens: words between spaces, each colon on its own.

    A colon glued to the word after it (`:TABEAK`) belongs to that word: its ink touches the
    first letter, so no gap separates them.
    """
    spans, start = [], None
    for i, ch in enumerate(text + " "):
        if ch in ":：" and start is None and i + 1 < len(text) and text[i + 1] not in " :：":
            start = i
            continue
        if ch in " :：":
            if start is not None:
                spans.append((start, i))
                start = None
            if ch != " ":
                spans.append((i, i + 1))
        elif start is None:
            start = i
    return spans


def _align(
    predicted: list[tuple[tuple[float, float], ...]], segments: list[tuple[int, int]], space: float,
    edges: list[tuple[float, float]]
) -> list[tuple[int, int]] | None:
    """Give each token a run of consecutive segments, minimising relative width errors (DP).

    ``predicted`` holds each token's possible ink widths, each with the price of assuming it.

    A token read without its spaces is wider on the card than its text: each gap inside the run
    may hide one dropped ``space`` (pixels), at a small cost so the recogniser's spaces are
    preferred when both fit. ``edges`` holds each token's first and last letter's ink width: a
    run of several segments must start and end with one at least that wide (the lone stroke of a
    roman numeral after a gap cannot be the last letter of SUKAMAJU).
    """
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
                error = min(
                    ((span - width - dropped * space) / max(width, 1.0)) ** 2 + DROPPED_SPACE_COST * dropped + price
                    for dropped in range(min(j - k - 1, 2) + 1)
                    for width, price in predicted[i - 1]
                )
                if j - k > 1:
                    first_ink, last_ink = edges[i - 1]
                    if segments[k][1] - segments[k][0] < EDGE_SHARE * first_ink:
                        error += EDGE_MISMATCH_COST
                    if segments[j - 1][1] - segments[j - 1][0] < EDGE_SHARE * last_ink:
                        error += EDGE_MISMATCH_COST
                total = cost[i - 1][k] + error
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


def _token_ink(token: str, em: float) -> float:
    """A token's ink width in pixels: its advances minus its outer side bearings."""
    advances = sum(_WIDTHS.get(ch, _WIDTHS.get(ch.upper(), _DEFAULT_WIDTH)) for ch in token)
    bearings = _left_bearing(token[0]) + _right_bearing(token[-1])
    return max(1.0, (advances - bearings) * em / 1000)


def _letter_ink(ch: str, em: float) -> float:
    """The ink width of one character in pixels: its advance less both side bearings."""
    lsb, rsb = _BEARINGS.get(ch, (_DEFAULT_BEARING, _DEFAULT_BEARING))
    return max(0.0, _WIDTHS.get(ch, _DEFAULT_WIDTH) - lsb - rsb) * em / 1000


def _surplus(gap: float, left: str, right: str, bare: tuple[bool, bool] = (False, False)) -> float:
    """How much of ``gap`` (in cap heights) the letter pair's side bearings leave unexplained.

    ``bare`` says whether the ink run ending at the gap (left) and the one starting after it
    (right) is a bare stem: a T there lost its bar, and the blank holds the bar's overhang.
    """
    return gap - (_right_bearing(left, bare[0]) + _left_bearing(right, bare[1])) / 1000 / CAP_EM


def _left_bearing(ch: str, bare: bool = False) -> float:
    """The blank before a character's ink (1/1000 em); a T whose bar is gone (``bare``) adds its overhang."""
    return _BEARINGS.get(ch, (_DEFAULT_BEARING, 0))[0] + (T_OVERHANG * 1000 if bare and ch == "T" else 0)


def _right_bearing(ch: str, bare: bool = False) -> float:
    """The blank after a character's ink (1/1000 em), as ``_left_bearing``."""
    return _BEARINGS.get(ch, (0, _DEFAULT_BEARING))[1] + (T_OVERHANG * 1000 if bare and ch == "T" else 0)


def _ink_errors(
    text: str, widths: list[float], start: int, end: int, ink_width: float, em: float,
    bare: tuple[bool, bool] = (False, False),
) -> np.ndarray:
    """For k = 1 .. end-start-1: |ink width of text[start:start+k] - the measured ink run| in pixels.

    The ink of a run spans its advances minus the first letter's left and the last letter's right
    side bearing; a T at a bare-stem end of the run (``bare``: first, last) lacks its bar's overhang.
    """
    offsets = np.cumsum(widths[start:end - 1])
    lsb = _left_bearing(text[start], bare[0])
    rsb = np.array([_right_bearing(ch, bare[1]) for ch in text[start:end - 1]])
    return np.abs(offsets - (lsb + rsb) * em / 1000 - ink_width)


def _choose_boundary(
    text: str, piece_start: int, candidates: list[int], end: int, gap: float, bare: tuple[bool, bool] = (False, False)
) -> int | None:
    """Where to put a space for a ``gap`` (cap heights) after an ink run (or None for no space).

    ``candidates`` are the character boundaries the run's width fits, best first: a narrow letter
    (I) or a blurred edge leaves the position uncertain by a character, and the lexicon arbitrates.
    Each candidate is judged by the gap its letter pair leaves unexplained; weak surpluses need the
    lexicon's word on both sides. A single letter is never split off, except a roman numeral before
    ``NO.`` (GG. MAWAR I NO. 5).
    """
    best, best_score = None, -1
    beside_bare_t = [
        k for k in candidates
        if 0 < k < len(text) and ((text[k - 1] == "T" and bare[0]) or (text[k] == "T" and bare[1]))
    ]
    if any(_surplus(gap, text[k - 1], text[k], bare) < WEAK_SURPLUS for k in beside_bare_t):
        # The blank is the lost bar's: the neighbouring boundaries are only the position's doubt.
        return None
    for boundary in candidates:
        if 0 < boundary < end and text[boundary - 1] in ".," and text[boundary].isalnum():
            # After an abbreviation's period (`NO.36`, `KP.KRAJAN`): the pixels show whether the
            # card prints a space there, and only a clear gap counts.
            if boundary - piece_start >= 3 and _surplus(gap, text[boundary - 1], text[boundary]) >= SPACE_SURPLUS:
                return boundary
            continue
        trailing_numeral = _NUMERAL.fullmatch(text[boundary:end]) is not None
        leading_numeral = (
            _NUMERAL.fullmatch(text[piece_start:boundary]) is not None and _HOUSE_NUMBER.fullmatch(text[boundary:end])
        )
        if not (piece_start + (1 if leading_numeral else 2) <= boundary <= end - (1 if trailing_numeral else 2)):
            continue
        if not (text[boundary - 1].isupper() and text[boundary].isupper()):
            continue
        surplus = _surplus(gap, text[boundary - 1], text[boundary], bare)
        if surplus < WEAK_SURPLUS:
            continue
        strong = surplus >= SPACE_SURPLUS
        if leading_numeral:
            if strong:
                return boundary
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
            if not strong or not is_word(left) or is_word(text[word_start:end]):
                continue
            return boundary
        if strong:
            joined = text[word_start:boundary + right_letters]
            # The reading is already a known word and a piece is not: the gap is a wide letter pair.
            if is_word(joined) and not (is_word(left) and is_word(right[:right_letters])):
                continue
            # Nor where a known word runs on past the gap into a glued next word and the piece
            # before the gap is none (HALMAHERA in `HALMAHERATENGAH`, not HAL MAHERA).
            if not is_word(left) and any(is_word(text[word_start:e]) for e in range(boundary + 2, boundary + right_letters)):
                continue
            # A known word (PALOPO) splits only at a gap that is wide in pixels too: a face wider
            # than Arial leaves a larger blank inside a letter pair than the bearings explain.
            if is_word(joined) and gap < WIDE_GAP:
                continue
            score = is_word(left) + any(is_word(right[:n]) for n in range(len(right), 2, -1))
            # A gap narrow in pixels but wide for its letter pair (A A) needs one known word: blur
            # also opens gaps beside thin strokes (the bar of a T).
            if gap < WIDE_GAP and score < 1:
                continue
            # With one known piece only, a narrow gap yields to a split of the same run into two
            # known words a letter or two away: the run's width placed it on a neighbouring pair
            # (`TARAK ANUTARA` where the card prints TARAKAN UTARA).
            if gap < WIDE_GAP and score < 2 and _two_words_near(joined, boundary - word_start):
                continue
        else:
            # The big region lexicon holds many short words: weak gaps trust only the core lists.
            score = is_word(left, True) + is_word(right_word, True)
            if score < 2 or is_word(text[word_start:boundary + right_letters]):
                continue
        if score > best_score:  # ties keep the measured boundary (tried first)
            best, best_score = boundary, score
    return best


def _two_words_near(run: str, split: int, reach: int = 2) -> bool:
    """``run`` splits into two known words of GLUED_PIECE+ letters within ``reach`` letters of ``split``
    (not at it)."""
    return any(is_word(run[:k]) and is_word(run[k:])
               for k in range(max(GLUED_PIECE, split - reach), min(len(run) - GLUED_PIECE, split + reach) + 1) if k != split)


def _bare_ends(columns: np.ndarray, segment: tuple[int, int], em: float) -> tuple[bool, bool]:
    """Whether the segment's first and its last ink run (touching columns form one run) are narrow
    enough to be a stem without its bar."""
    runs = _segments(columns[segment[0]:segment[1]], 1)
    return runs[0][1] - runs[0][0] <= BARE_STEM_WIDTH * em, runs[-1][1] - runs[-1][0] <= BARE_STEM_WIDTH * em


def _line_em(text: str, segments: list[tuple[int, int]], cap: float) -> tuple[float, float]:
    """The em in pixels, from the line's whole ink extent against the text's Arial advances.

    The cap height alone overstates it by the rows anti-aliasing and blur add (a few per cent,
    a character's width over a long run). The text may lack a dropped space or two: half a space
    is assumed. A reading too far from the cap-height estimate (misread text) falls back to it.
    """
    by_cap = cap / CAP_EM
    if not segments:
        return by_cap, cap
    units = sum(_WIDTHS.get(ch, _WIDTHS.get(ch.upper(), _DEFAULT_WIDTH)) for ch in text) + _WIDTHS[" "] / 2
    units -= _left_bearing(text[0]) + _right_bearing(text[-1])
    by_line = (segments[-1][1] - segments[0][0]) / units * 1000
    ratio = by_line / by_cap
    if abs(ratio - 1) <= LINE_EM_TOLERANCE:
        return by_line, cap
    if FACE_WIDTH[0] <= ratio <= FACE_WIDTH[1]:
        # A condensed (or wide) face: its letters, bearings and spaces all shrink with its width,
        # so gaps are measured in the cap height an Arial of this width would have.
        return by_line, by_line * CAP_EM
    return by_cap, cap


def _blank_run(columns: np.ndarray, start: float, end: float) -> int:
    """The longest run of columns without ink between ``start`` and ``end`` (pixels)."""
    return _widest_blank(columns, start, end)[0]


def _widest_blank(columns: np.ndarray, start: float, end: float) -> tuple[int, int]:
    """The longest run of columns without ink between ``start`` and ``end`` (pixels): its width and
    first column."""
    lo = max(0, int(start))
    best, best_start, run = 0, lo, 0
    for x, blank in enumerate(~columns[lo:max(0, int(round(end)))], lo):
        run = run + 1 if blank else 0
        if run > best:
            best, best_start = run, x - run + 1
    return best, best_start


def _layout(text: str, ink_start: int, ink_end: int) -> tuple[np.ndarray, float]:
    """Where each character of ``text`` starts (pixels) laid out along the ink extent, and the em."""
    # The em from the text's own ink extent: a condensed or wide face keeps Arial's proportions
    # roughly, not its widths.
    units = sum(_WIDTHS.get(ch, _WIDTHS.get(ch.upper(), _DEFAULT_WIDTH)) for ch in text)
    units -= _left_bearing(text[0]) + _right_bearing(text[-1])
    em = (ink_end - ink_start) / max(units, 1) * 1000
    widths = [_WIDTHS.get(ch, _WIDTHS.get(ch.upper(), _DEFAULT_WIDTH)) * em / 1000 for ch in text]
    origin = ink_start - _left_bearing(text[0]) * em / 1000
    return np.concatenate([[0.0], np.cumsum(widths)]) + origin, em


def _space_gaps(text: str, columns: np.ndarray, cap: float, ink_start: int, ink_end: int) -> tuple[dict[int, float], dict[int, float]]:
    """For each space of ``text`` (index → cap heights): how much of the blank found where it should
    sit its letter pair's side bearings leave unexplained, and the blank itself."""
    starts, em = _layout(text, ink_start, ink_end)
    surplus: dict[int, float] = {}
    blanks: dict[int, float] = {}
    for k in (k for k in range(1, len(text) - 1) if text[k] == " "):
        centre = (starts[k] + starts[k + 1]) / 2
        blank = blanks[k] = _blank_run(columns, centre - SPURIOUS_WINDOW * em, centre + SPURIOUS_WINDOW * em) / cap
        surplus[k] = _surplus(blank, text[k - 1], text[k + 1]) if text[k - 1].isupper() and text[k + 1].isupper() else blank
    return surplus, blanks


def drop_spurious_spaces(text: str, surplus: dict[int, float], blanks: dict[int, float],
                         *, sharp_elsewhere: bool = False) -> str:
    """Remove spaces the recogniser put between two letters that the pixels show touching
    (``surplus`` and ``blanks``: the line's measure, from _space_gaps).

    Each space is placed along the line by the characters' advances; where no blank near it is
    wider than the letter pair's own side bearings explain (``SPURIOUS_SURPLUS``), the card prints
    no space there (`KALIMAN TAN`). Inside a known word whose pieces are not both words, a blank
    narrower than ``WIDE_GAP`` is not enough either (`JAKAR TA` on enlarged small print), as
    restore_spaces never splits such a word there. Only on lines whose other spaces show clear
    gaps: on a blurred line every gap closes, real ones too. A line with no other space
    (`MO ROWALI`) is judged only when ``sharp_elsewhere``: other lines of the card show clear
    spaces; and there only a space inside a known word goes.
    """
    spaces = [k for k in range(1, len(text) - 1) if text[k] == " " and text[k - 1].isupper() and text[k + 1].isupper()]
    if not spaces:
        return text
    drop = set()
    for k in spaces:
        others = [v for j, v in surplus.items() if j != k]
        if (max(others) < CLEAR_SPACE_SURPLUS) if others else not sharp_elsewhere:
            continue
        # With no other space on the line, nothing there shows that the text is laid out right (a
        # misread letter moves every position): only the pieces of a known word are joined.
        if not others and not _inside_known_word(text, k):
            continue
        # Inside a known word, as restore_spaces never splits one unless the pixels show a wide gap
        # or both pieces are words too: blur opens gaps beside thin strokes (`JAKAR TA`).
        if surplus[k] < SPURIOUS_SURPLUS or (blanks[k] < WIDE_GAP and _inside_known_word(text, k)):
            drop.add(k)
    return "".join(ch for i, ch in enumerate(text) if i not in drop)


def _inside_known_word(text: str, space: int) -> bool:
    """Whether the letters either side of ``text[space]`` join into a known word, not both pieces
    being known words on their own."""
    start = space
    while start > 0 and text[start - 1].isalpha():
        start -= 1
    end = space + 1
    while end < len(text) and text[end].isalpha():
        end += 1
    if (start > 0 and text[start - 1].isdigit()) or (end < len(text) and text[end].isdigit()):
        return False  # a piece of a code (`G1O NO.`), not a word
    left, right = text[start:space], text[space + 1:end]
    return bool(left and right) and is_word(left + right) and not (is_word(left) and is_word(right))


def _strokes(span: np.ndarray, em: float, read: int) -> int:
    """How many I strokes the ink columns of a roman numeral hold (``read``: as many as the text has).

    Strokes may touch at the run level: 1-pixel gaps count. Fewer runs than strokes read only
    counts when every run is one stroke wide: blur or a photocopy's spread ink merges neighbours
    into one wide run (`UTARA II` is not `UTARA I`).
    """
    runs = _segments(span, 1)
    if len(runs) < read and any(b - a > STROKE_WIDTH * em for a, b in runs):
        return read
    return len(runs)


def _without_leading_speck(text: str, columns: np.ndarray, cap: float) -> np.ndarray:
    """``columns`` without a first ink run too narrow for the text's first character (SPECK_SHARE)
    and set apart from the next by a gap (the label's colon the recogniser left out of the text)."""
    if not text[:1].isalnum():
        return columns
    runs = _segments(columns, WEAK_GAP * cap)
    if len(runs) < 2 or runs[0][1] - runs[0][0] > SPECK_SHARE * _letter_ink(text[0], cap / CAP_EM):
        return columns
    trimmed = columns.copy()
    trimmed[runs[0][0]:runs[0][1]] = False
    return trimmed


def restore_spaces(grey: np.ndarray, box: TextBox, *, sharp_elsewhere: bool = False) -> str:
    """``box.text`` with the spaces the pixels show; ``sharp_elsewhere``: other lines of the card
    show clear word gaps (see drop_spurious_spaces)."""
    return _restore(grey, box, sharp_elsewhere)[0]


def _restore(grey: np.ndarray, box: TextBox, sharp_elsewhere: bool) -> tuple[str, float]:
    """The restored text, and the clearest surplus among the value's spaces as read (0 if none)."""
    text, clearest, measure = _respace(grey, box, sharp_elsewhere)
    if measure is not None:
        text = split_glued_words(text, *measure)
    return _keep_moved_spaces(box.text, text), clearest


def _keep_moved_spaces(read: str, restored: str) -> str:
    """``restored``, except where it only moved one of the recogniser's spaces by a letter or two
    and the lexicon does not know the words there better than at the recogniser's place.

    On a face of other proportions than Arial's the layout can drift by a letter: the recogniser's
    space (`MOHAMMAD LEWERISSA`, `JALAN MARGONDA`) was dropped as spurious and the same gap put a
    letter on (`MOHAMMADL EWERISSA`, `JALA NMARGONDA`).
    """
    if read == restored or read.replace(" ", "") != restored.replace(" ", ""):
        return restored
    letters = read.replace(" ", "")
    before, after = _space_slots(read), _space_slots(restored)
    kept = set(after)
    for slot in after - before:
        moved_from = next((old for old in sorted(before - after, key=lambda old: abs(old - slot))
                           if abs(old - slot) <= 2 and old not in kept), None)
        if moved_from is None:
            continue
        if _known_around(letters, slot, kept) <= _known_around(letters, moved_from, kept - {slot} | {moved_from}):
            kept = kept - {slot} | {moved_from}
    if kept == after:
        return restored
    return "".join((" " if i in kept else "") + ch for i, ch in enumerate(letters))


def _space_slots(text: str) -> set[int]:
    """Each space's place as the number of non-space characters before it."""
    slots, count = set(), 0
    for ch in text:
        if ch == " ":
            slots.add(count)
        else:
            count += 1
    return slots


def _known_around(letters: str, slot: int, slots: set[int]) -> int:
    """How many of the two words either side of the space at ``slot`` (with spaces at ``slots``)
    the lexicon knows."""
    start = max((s for s in slots if s < slot), default=0)
    end = min((s for s in slots if s > slot), default=len(letters))
    return is_word(letters[start:slot]) + is_word(letters[slot:end])


def split_glued_words(text: str, columns: np.ndarray, unit: float, middle: np.ndarray | None = None) -> str:
    """Split a word that is not known into two known ones where the pixels show a word gap.

    Small print leaves word gaps too narrow to part the ink runs (WEAK_GAP): `KOTATANGERANG`
    where the card prints KOTA TANGERANG with 4 px between A and T at a 20 px cap height, the
    same blank as between its E and R. The lexicon proposes the boundary; the blank found where
    that space would sit must exceed its letter pair's side bearings like a clear word gap
    (SPACE_SURPLUS), or a little (GLUED_SURPLUS) while standing out from the line's own letter
    spacing (GLUED_EXCESS). A known word is never split, nor a piece shorter than GLUED_PIECE letters
    split off; a bare T stem's blank is its lost bar's, as elsewhere here.
    """
    value = text.lstrip(" :：")
    cut = len(text) - len(value)
    segments = _segments(columns, WEAK_GAP * unit)
    ink_start = _value_start(columns, segments, value != text, unit, middle)
    if ink_start is None:
        return text
    ink_end = segments[-1][1]
    # A word gap stands out from the line's own letter spacing.
    letter_gap = _letter_spacing(columns[ink_start:ink_end], sum(ch.isalnum() for ch in value), unit)
    for match in reversed(list(re.finditer(r"[A-Z]{%d,}" % (2 * GLUED_PIECE), value))):
        word = match.group(0)
        if is_word(word):
            continue
        splits = [k for k in range(GLUED_PIECE, len(word) - GLUED_PIECE + 1) if is_word(word[:k]) and is_word(word[k:])]
        # A name the lexicon does not know glued to one it does (HENDRA|RIZAL): only where the word
        # has its widest blank, a clear one (SUPRI|YANTO's equals SUPR|IYANTO's: letter spacing).
        one_known = not splits
        if one_known:
            splits = [k for k in range(GLUED_PIECE, len(word) - GLUED_PIECE + 1)
                      if is_word(word[:k], True) or is_word(word[k:], True)]
        measured = range(1, len(word)) if one_known and splits else splits
        blanks = {k: _blank_at(value, match.start() + k, columns, ink_start, ink_end) for k in measured}
        best, best_surplus = None, 0.0
        for k in splits:
            at = match.start() + k
            blank, bare = blanks[k]
            if one_known and any(other >= blank for j, (other, _) in blanks.items() if j != k):
                continue
            surplus = _surplus(blank / unit, value[at - 1], value[at], bare)
            clear = surplus >= SPACE_SURPLUS or (surplus >= GLUED_SURPLUS and (blank / unit) - letter_gap >= GLUED_EXCESS)
            if clear and surplus > best_surplus:
                best, best_surplus = at, surplus
        if best is not None:
            value = value[:best] + " " + value[best:]
    return text[:cut] + value


def _blank_at(value: str, at: int, columns: np.ndarray, ink_start: int, ink_end: int) -> tuple[int, tuple[bool, bool]]:
    """The blank (pixels, and _blank_between's bare ends) where a space before ``value[at]`` would sit.

    Only a blank nearer this boundary than the letter boundaries either side is its own: a pair
    that leaves none (A W) would otherwise be judged by its neighbour's (M A).
    """
    starts, em = _layout(value[:at] + " " + value[at:], ink_start, ink_end)
    centre, reach = (starts[at] + starts[at + 1]) / 2, SPURIOUS_WINDOW * em
    return _blank_between(columns, max(centre - reach, (starts[at - 1] + centre) / 2),
                          min(centre + reach, (centre + starts[at + 2]) / 2), em)


def _value_start(columns: np.ndarray, segments: list[tuple[int, int]], colon: bool, cap: float,
                 middle: np.ndarray | None = None) -> int | None:
    """The value's first ink column, where positions are laid out from (None: not to be found).

    A leading ``colon``'s ink is its own narrow run; at small print it may stand closer to the
    value's first letter than a weak gap, and then only the runs of touching columns part them.
    Measured from the colon, every position would be off by the colon's and the first letter's
    width (`:STEFANUS DHARMAWAN` laid out from the D of DHARMAWAN). Where the two touch, the
    letter starts where the ink first reaches the middle of the cap band (``middle``), which the
    colon's dots leave blank; from the first column on, there is no colon's ink at all.
    """
    if not segments:
        return None
    if not colon:
        return segments[0][0]
    for runs in (segments, _segments(columns, 1)):
        if len(runs) > 1 and runs[0][1] - runs[0][0] <= 0.35 * cap:
            return runs[1][0]
    if middle is not None:
        first = segments[0][0]
        letter = first + int(np.argmax(middle[first:segments[0][1]]))
        # Ink in the middle from the first column on: no colon there (the recogniser's colon lay
        # outside the box, or was the label's).
        if middle[letter] and letter - first <= 0.35 * cap:
            return letter
    return None


def _letter_spacing(columns: np.ndarray, letters: int, unit: float) -> float:
    """The median blank between the ``letters`` letters of a line, in ``unit`` (pairs that touch,
    and so leave no blank run between them, count as zero)."""
    runs = _segments(columns, 1)
    blanks = [b[0] - a[1] for a, b in zip(runs, runs[1:])]
    blanks += [0] * max(0, letters - 1 - len(blanks))
    return float(np.median(blanks)) / unit if blanks else 0.0


def _blank_between(columns: np.ndarray, start: float, end: float, em: float) -> tuple[int, tuple[bool, bool]]:
    """The widest blank whose middle lies between ``start`` and ``end`` (pixels), measured whole, and
    whether the ink run either side of it is narrow enough to be a stem without its bar (a T's
    blank then holds its lost overhang)."""
    ink = _segments(columns, 1)
    pairs = [(a, b) for a, b in zip(ink, ink[1:]) if start <= (a[1] + b[0]) / 2 <= end]
    if not pairs:
        return 0, (False, False)
    left, right = max(pairs, key=lambda pair: pair[1][0] - pair[0][1])
    stem = BARE_STEM_WIDTH * em
    return right[0] - left[1], (left[1] - left[0] <= stem, right[1] - right[0] <= stem)


def _respace(grey: np.ndarray, box: TextBox, sharp_elsewhere: bool) -> tuple[str, float, tuple[np.ndarray, float] | None]:
    """_restore's gap-driven part; also the line's ink columns and gap unit when measured."""
    text = box.text
    # A wrapped address line may hold just `NO.36`: there letters and digits count alike; a
    # mixed-case line (a label) needs four capitals.
    upper = sum(ch.isupper() for ch in text)
    if upper == 0 or sum(ch.isalnum() for ch in text) < 4 or (upper < 4 and any(ch.islower() for ch in text)):
        return text, 0.0, None
    h, w = grey.shape[:2]
    x0, x1 = max(0, int(box.x0)), min(w, int(round(box.x1)))
    y0, y1 = max(0, int(box.y0)), min(h, int(round(box.y1)))
    found = _ink(grey[y0:y1, x0:x1])
    if found is None:
        return text, 0.0, None
    columns, cap, middle = found
    if cap < 8:
        return text, 0.0, None
    columns = _without_leading_speck(text, columns, cap)
    middle = middle & columns
    em, unit = _line_em(text, _segments(columns, WEAK_GAP * cap), cap)
    segments = _segments(columns, WEAK_GAP * unit)
    measure = (columns, unit, middle)
    value = text.lstrip(" :：")
    clearest = 0.0
    if segments and ":" not in value and "：" not in value:
        # Positions are laid out from the value's first letter: a leading colon sits apart from
        # the value by however the card spaces its label column.
        first = 1 if value != text else 0
        if len(segments) > first and (not first or segments[0][1] - segments[0][0] <= 0.35 * cap):
            cut = len(text) - len(value)
            surplus, blanks = _space_gaps(value, columns, unit, segments[first][0], segments[-1][1])
            clearest = max(surplus.values(), default=0.0)
            text = text[:cut] + drop_spurious_spaces(value, surplus, blanks, sharp_elsewhere=sharp_elsewhere)
    # On a face of other proportions than Arial's, its own letter spacing: the median blank between
    # letters (pairs that touch count as zero). Roboto Condensed's A stands apart from its
    # neighbours like an N-I pair, which Arial's bearings take for a space; a word gap must stand
    # out from the line's letter spacing. Arial-like lines keep the bearings alone (tuned so).
    letter_gap = _letter_spacing(columns, len(text.replace(" ", "")), unit) if unit != cap else 0.0
    tokens = _tokens(text)
    numerals = [i for i, (a, b) in enumerate(tokens) if re.fullmatch(r"I{1,3}", text[a:b])]
    if len(segments) <= len(tokens) and not numerals:
        return text, clearest, measure  # no unexplained gap (or a blurred line without clean gaps)
    widths = [_WIDTHS.get(ch, _WIDTHS.get(ch.upper(), _DEFAULT_WIDTH)) * em / 1000 for ch in text]
    # Each token's ink width, with the price of assuming it: the text's own is free; a numeral may
    # have lost or gained a stroke in the recogniser, at a price per stroke.
    predicted = [((_token_ink(text[a:b], em), 0.0),) for a, b in tokens]
    for i in numerals:
        read = tokens[i][1] - tokens[i][0]
        predicted[i] = tuple((_token_ink("I" * n, em), STROKE_CHANGE_COST * abs(n - read)) for n in (1, 2, 3))
    edges = [(_letter_ink(text[a], em), _letter_ink(text[b - 1], em)) for a, b in tokens]
    alignment = _align(predicted, segments, _WIDTHS[" "] * em / 1000, edges)
    if alignment is None:
        return text, clearest, measure
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
            if seg == 0 or segments[seg][0] - segments[seg - 1][1] >= NUMERAL_GAP * unit:
                break
            seg -= 1
        a, b = tokens[i]
        strokes = _strokes(columns[segments[min(start, first)][0]:segments[last - 1][1]], em, b - a)
        if 1 <= strokes <= 3 and strokes != b - a:
            replacements[a] = "I" * strokes
    bare_ends = [_bare_ends(columns, segment, em) for segment in segments]
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
            errors = _ink_errors(text, widths, start_char, b, segments[seg][1] - segments[seg][0], em, bare_ends[seg])
            index = int(np.argmin(errors)) + 1
            if errors[index - 1] > MAX_OFFSET * 0.6 * em:
                break  # lost track of where we are in the text
            # Every boundary the run's width cannot tell apart from the best one is a candidate.
            close = [k + 1 for k in np.argsort(errors, kind="stable") if errors[k] <= errors[index - 1] + AMBIGUITY * em]
            gap = (segments[seg + 1][0] - segments[seg][1]) / unit
            boundary = None
            if gap - letter_gap >= LETTER_GAP_SURPLUS:
                bare = bare_ends[seg][1], bare_ends[seg + 1][0]  # the runs either side of the gap
                boundary = _choose_boundary(text, piece_start, [start_char + k for k in close[:3]], b, gap, bare)
            if boundary is not None:
                inserts.add(boundary)
                piece_start = boundary
                start_char = boundary
            else:
                start_char += index
    if not inserts and not replacements:
        return text, clearest, measure
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
    return "".join(out), clearest, measure


def restore_all(card_bgr: np.ndarray, boxes: list[TextBox]) -> list[TextBox]:
    grey = cv2.cvtColor(card_bgr, cv2.COLOR_BGR2GRAY)
    restored = [_restore(grey, box, False) for box in boxes]
    # A line whose only space is the recogniser's has no gap of its own to judge the card's
    # sharpness by; other lines with clear word gaps (SHARP_LINES of them) stand in.
    clear = [surplus >= CLEAR_SPACE_SURPLUS for _, surplus in restored]
    texts = [
        _restore(grey, box, True)[0] if sum(clear) - clear[i] >= SHARP_LINES and _one_space(box.text) else text
        for i, (box, (text, _)) in enumerate(zip(boxes, restored))
    ]
    return [box if text == box.text else box.with_text(text) for box, text in zip(boxes, texts)]


def _one_space(text: str) -> bool:
    return text.lstrip(" :：").strip().count(" ") == 1
