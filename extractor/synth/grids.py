"""Pixel coordinates for the generator's numpy drawing: a column of y and a row of x that broadcast.

``np.mgrid`` builds two full frames of them. With these, a term of x alone (or y alone) is computed
once per column (or row) instead of once per pixel, with the same values, and broadcasting makes the
full frame only where x and y meet.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def pixel_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """``(yy, xx)``: float32 arrays of shape (height, 1) and (1, width)."""
    return np.arange(height, dtype=np.float32)[:, None], np.arange(width, dtype=np.float32)[None, :]


def per_channel(channel: Callable[[int], np.ndarray]) -> np.ndarray:
    """``channel(c)`` for c = 0, 1, 2, stacked channel-first: (3, height, width).

    Colour maths on (height, width, 3) against a per-pixel (height, width, 1) term runs numpy's
    inner loop three elements at a time, about 5x slower than a whole plane at once; the values
    are the same either way.
    """
    first = channel(0)
    planes = np.empty((3, *first.shape), first.dtype)
    planes[0] = first
    planes[1], planes[2] = channel(1), channel(2)
    return planes


def interleaved(planes: np.ndarray) -> np.ndarray:
    """(3, height, width) back to the (height, width, 3) that images and OpenCV use."""
    return np.ascontiguousarray(planes.transpose(1, 2, 0))
