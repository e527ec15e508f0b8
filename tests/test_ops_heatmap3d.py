"""``ops.heatmap3d``'s depth axis: ``depth_to_bins`` / ``bins_to_depth``
against their formulas (the volumes and their maximum are tested with
Hand3DHeatmap in ``test_codecs_hand3d.py``)."""

import numpy as np
import pytest

from jaxcodecs import ops


@pytest.mark.parametrize("bound, bins", [(400.0, 64), (0.3, 7), (250.0, 16)])
def test_depth_bins_formulas(bound, bins, variant):
    rng = np.random.default_rng(bins)
    depth = rng.uniform(-bound, bound, 200).astype(np.float32)
    index = rng.uniform(-1, bins, 200).astype(np.float32)
    to_bins = variant(lambda z: ops.depth_to_bins(z, bound, bins))(depth)
    to_depth = variant(lambda b: ops.bins_to_depth(b, bound, bins))(index)
    # float32 with true divisions, as NumPy rounds each step
    f32 = np.float32
    np.testing.assert_array_equal(to_bins, (depth / f32(bound) + f32(0.5)) * f32(bins))
    np.testing.assert_array_equal(to_depth, (index / f32(bins) - f32(0.5)) * f32(bound))


def test_depth_bins_round_trip_and_range():
    bound, bins = 400.0, 64
    depth = np.linspace(-200.0, 199.0, 101).astype(np.float32)
    np.testing.assert_allclose(ops.bins_to_depth(ops.depth_to_bins(depth, bound, bins), bound, bins), depth,
                               atol=1e-4)
    # The range [-bound / 2, bound / 2) spans the bins [0, D); depth 0 is the middle.
    np.testing.assert_array_equal(ops.depth_to_bins(np.float32([-200.0, 0.0, 200.0]), bound, bins), [0, 32, 64])


@pytest.mark.parametrize("bins", [48, 7, 64])
def test_depth_bins_stay_rounded_before_the_next_addition(bins, variant):
    """The bin is a product that the windows add to and round: under jit
    the sum must still be NumPy's two roundings, not one fused multiply-add
    (which XLA:CPU emits for a plain ``a * b + c``)."""
    bound = np.float32(400.0)
    quarter = np.arange(0, 8 * bins + 1) / 8.0
    depth = ((quarter / bins - 0.5) * 400.0).astype(np.float32)
    for offset in (np.float32(-7.0), np.float32(-7.5), np.float32(2.25)):
        got = variant(lambda z: ops.depth_to_bins(z, 400.0, bins) + offset)(depth)
        np.testing.assert_array_equal(got, (depth / bound + np.float32(0.5)) * np.float32(bins) + offset)
