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
