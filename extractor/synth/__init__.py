"""Synthetic WNI KTP front sides with ground truth, for tests, demos and the OCR benchmark.

``generate_card(seed_or_rng, level) -> (jpeg_bytes, truth)`` and
``write_cards(n, out_dir, level, seed) -> [paths]``. Imports stay lazy so ``ktp --help`` is fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

LEVEL_NAMES: tuple[str, ...] = ("clean", "phone", "hard")


def generate_card(rng_or_seed: "np.random.Generator | int", level: str) -> tuple[bytes, dict[str, Any]]:
    from extractor.synth.cards import generate_card as _generate

    return _generate(rng_or_seed, level)


def write_cards(n: int, out_dir: str | Path, level: str, seed: int = 0) -> list[Path]:
    from extractor.synth.cards import write_cards as _write

    return _write(n, out_dir, level, seed)


__all__ = ["LEVEL_NAMES", "generate_card", "write_cards"]
