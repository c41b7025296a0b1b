"""The generator's broadcasting helpers give exactly the values of the full-frame numpy they replace,
so the generated cards (and every tuned and held-out set drawn from a seed) stay pixel for pixel."""

from __future__ import annotations

import numpy as np

from extractor.synth.grids import interleaved, per_channel, pixel_grid


def test_pixel_grid_broadcasts_to_mgrid():
    yy, xx = pixel_grid(7, 11)
    assert (yy.shape, xx.shape, yy.dtype, xx.dtype) == ((7, 1), (1, 11), np.float32, np.float32)
    full_y, full_x = np.mgrid[0:7, 0:11].astype(np.float32)
    np.testing.assert_array_equal(np.broadcast_to(yy, (7, 11)), full_y)
    np.testing.assert_array_equal(np.broadcast_to(xx, (7, 11)), full_x)
    # A mixed term made from the two is the mgrid term, bit for bit.
    np.testing.assert_array_equal(0.55 * xx / 11 + 0.45 * yy / 7, 0.55 * full_x / 11 + 0.45 * full_y / 7)


def test_colour_maths_per_channel_equals_the_interleaved_broadcast():
    rng = np.random.default_rng(5)
    top = np.array([150, 200, 236], np.float32) + rng.uniform(-8, 8, 3)  # float64, as the generator's
    t = rng.random((13, 17)).astype(np.float32)
    planes = per_channel(lambda c: top[c] * (1 - t) + 2.5 * t)
    assert planes.shape == (3, 13, 17) and planes.dtype == np.float64
    expected = top * (1 - t[..., None]) + 2.5 * t[..., None]
    image = interleaved(planes)
    assert image.flags.c_contiguous and image.shape == (13, 17, 3)
    np.testing.assert_array_equal(image, expected)
