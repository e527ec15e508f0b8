"""ops.boxes against NumPy written here: box conversions, box expansion,
the stable descending rank."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcodecs import ops


def test_conversions_round_trip_and_formulas(variant):
    rng = np.random.default_rng(0)
    corners = np.sort(rng.uniform(-50, 50, (7, 2, 2)), axis=1).reshape(7, 4).astype(np.float32)
    corners = corners[:, [0, 2, 1, 3]]  # (x1, y1, x2, y2) with x1 <= x2, y1 <= y2
    centre = variant(ops.bbox_xyxy_to_cxcywh)(corners)
    want = np.concatenate([(corners[:, :2] + corners[:, 2:]) * 0.5, corners[:, 2:] - corners[:, :2]], -1)
    np.testing.assert_array_equal(centre, want.astype(np.float32))
    back = variant(ops.bbox_cxcywh_to_xyxy)(centre)
    low = want[:, :2] - 0.5 * want[:, 2:]
    np.testing.assert_array_equal(back, np.concatenate([low, low + want[:, 2:]], -1).astype(np.float32))
    np.testing.assert_allclose(back, corners, atol=1e-5)


@pytest.mark.parametrize("sentinel", [None, 1e6])
def test_expand_boxes_to_points(variant, sentinel):
    rng = np.random.default_rng(1)
    boxes = rng.uniform(0, 10, (4, 4)).astype(np.float32)
    points = rng.uniform(-20, 30, (4, 6, 2)).astype(np.float32)
    counted = rng.uniform(size=(4, 6)) < 0.6
    counted[0] = False
    out = variant(lambda b, p, c: ops.expand_boxes_to_points(b, p, c, sentinel=sentinel))(boxes, points, counted)
    far = np.inf if sentinel is None else sentinel
    low = np.where(counted[..., None], points, far).min(1)
    high = np.where(counted[..., None], points, -far).max(1)
    want = np.concatenate([np.minimum(boxes[:, :2], low), np.maximum(boxes[:, 2:], high)], -1)
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(out[0], boxes[0])


def test_rank_descending_matches_stable_argsort(variant):
    rng = np.random.default_rng(2)
    for _ in range(20):
        scores = rng.choice([-1.0, 0.0, -0.0, 0.5, 2.0, np.nan, np.inf], 12).astype(np.float32)
        values, indices = variant(lambda s: ops.rank_descending(s, 9))(scores)
        want = np.argsort(-scores, kind="stable")[:9]
        np.testing.assert_array_equal(indices, want)
        np.testing.assert_array_equal(values, scores[want])
    with pytest.raises(ValueError, match="`k`"):
        ops.rank_descending(jnp.zeros(3), 4)
    assert jax.jit(lambda s: ops.rank_descending(s, 0))(jnp.zeros(3))[1].shape == (0,)
