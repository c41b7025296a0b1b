"""Edit distance and length-aware snapping of OCR text to closed vocabularies."""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein as _levenshtein


def levenshtein(a: str, b: str, limit: int | None = None) -> int:
    """Edit distance; ``limit + 1`` once it exceeds ``limit`` (rapidfuzz's C++ stops early there).

    The engine compares every OCR box with labels and vocabularies: in pure Python this was ~40 ms
    of a card's ~300 (bench/ocr_accuracy.py cards, profiled 2026-12-08)."""
    return _levenshtein.distance(a, b, score_cutoff=limit)


def allowed_edits(length: int) -> int:
    """How many edits a string of this length may need and still count as the same word.

    Short tokens (blood types, WNI) must match almost exactly; long phrases tolerate more noise.
    """
    if length <= 2:
        return 0
    if length <= 4:
        return 1
    if length <= 8:
        return 2
    if length <= 14:
        return 3
    return max(3, length // 5)


def squash(text: str) -> str:
    """Compare form: upper case, letters/digits and a few symbols only, no spaces."""
    return "".join(ch for ch in text.upper() if ch.isalnum() or ch in "/()+-")


@dataclass(frozen=True, slots=True)
class Snap:
    value: str
    distance: int

    @property
    def exact(self) -> bool:
        return self.distance == 0


def snap(raw: str, choices: dict[str, str] | list[str] | tuple[str, ...], max_edits: int | None = None) -> Snap | None:
    """Closest choice to ``raw`` within a length-aware edit budget, or None.

    ``choices`` maps printed variants to canonical values (a list means each is its own canonical).
    Comparison ignores spaces and punctuation noise, so dropped spaces never cost an edit.
    """
    mapping = choices if isinstance(choices, dict) else {c: c for c in choices}
    key = squash(raw)
    if not key:
        return None
    best: Snap | None = None
    for variant, canonical in mapping.items():
        target = squash(variant)
        budget = allowed_edits(max(len(target), 1)) if max_edits is None else max_edits
        distance = levenshtein(key, target, budget)
        if distance <= budget and (best is None or distance < best.distance):
            best = Snap(canonical, distance)
            if distance == 0:
                break
    return best
