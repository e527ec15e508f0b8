"""``ops.normalize``: MotionBERT's image frame with depth, its inverse, the
root re-insertion and the label layouts, against NumPy formulas written
here (the other functions are tested with the lifting codecs)."""

import numpy as np
import pytest

from jaxcodecs import ops

RNG = np.random.default_rng(11)
POINTS = np.concatenate([RNG.uniform(0, 1000, (4, 6, 2)), RNG.normal(size=(4, 6, 2))], -1).astype(np.float32)


def np_frame_with_depth(points, w, h):
    """``(x, y) / w * 2 - (1, h / w)`` and ``z / w * 2``, in float64; ``w``,
    ``h`` scalars or ``(N, 1)`` rows."""
    w, h = np.asarray(w, np.float64)[..., None], np.asarray(h, np.float64)[..., None]
    out = np.array(points, np.float64)
    out[..., :2] = out[..., :2] / w * 2 - np.concatenate([np.ones_like(w), h / w], -1)
    out[..., 2] = out[..., 2] / w[..., 0] * 2
    return out


@pytest.mark.parametrize("per_row", [False, True], ids=["scalar", "per-row"])
def test_image_frame_with_depth(per_row, variant):
    if per_row:
        w, h = RNG.uniform(500, 1500, (4, 1)), RNG.uniform(500, 1500, (4, 1))
    else:
        w, h = 1280.0, 720.0
    w, h = np.float32(w), np.float32(h)
    out = variant(ops.normalize_image_frame_with_depth)(POINTS, w, h)
    np.testing.assert_allclose(out[..., :3], np_frame_with_depth(POINTS, w, h)[..., :3], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(out[..., 3], POINTS[..., 3])  # further channels untouched
    # The 2-D frame: x, y as above, depth untouched.
    flat = variant(ops.normalize_image_frame)(POINTS, w, h)
    np.testing.assert_array_equal(flat[..., :2], out[..., :2])
    np.testing.assert_array_equal(flat[..., 2:], POINTS[..., 2:])
    # The inverse: back to pixels and depth; every further channel times w / 2.
    back = variant(ops.denormalize_image_frame_with_depth)(out, w, h)
    np.testing.assert_allclose(back[..., :3], POINTS[..., :3], rtol=1e-5, atol=1e-3)
    half_w = np.asarray(w, np.float64) / 2
    np.testing.assert_allclose(back[..., 3], POINTS[..., 3] * half_w, rtol=1e-6)


def test_image_frame_is_a_true_division(variant):
    """The quotient is NumPy's correctly rounded one, not a reciprocal multiply."""
    kp = RNG.uniform(0, 1000, (64, 17, 2)).astype(np.float32)
    w, h = np.float32(1000.0), np.float32(800.0)
    out = variant(ops.normalize_image_frame)(kp, w, h)
    np.testing.assert_array_equal(out, kp / w * np.float32(2) - np.float32([1.0, h / w]))


def test_add_root_inverts_root_relative_and_remove_joint(variant):
    rel, root = ops.root_relative(POINTS[..., :3], (2,))
    back = variant(lambda r, c: ops.add_root(r, c[:, None, :]))(rel, root)
    np.testing.assert_allclose(back, POINTS[..., :3], atol=1e-4)
    removed = ops.remove_joint(rel, 2, axis=-2)
    back = variant(lambda r, c: ops.add_root(r, c[:, None, :], insert_index=2))(removed, root)
    assert back.shape == POINTS[..., :3].shape
    np.testing.assert_allclose(back, POINTS[..., :3], atol=1e-4)


@pytest.mark.parametrize("joints", [(0, 1, 2), (1, 3, 4, 5, 0), (5, 2, 4, 0, 1, 3)], ids=["3", "5", "6"])
def test_root_is_numpys_mean(joints, variant):
    """The root of several joints is NumPy's float32 mean (the sum in joint
    order, then a true division), bit for bit: labels subtract it from
    coordinates of the same size, so one ulp of it is a small label's error."""
    for shape in ((400, 6, 3), (1, 6, 3)):
        poses = RNG.uniform(-6000, 6000, shape).astype(np.float32)
        rel, root = variant(lambda p: ops.root_relative(p, joints))(poses)
        expected = np.mean(poses[..., joints, :], axis=-2, dtype=np.float32)
        np.testing.assert_array_equal(root, expected)
        np.testing.assert_array_equal(rel, poses - expected[..., None, :])


def test_label_layouts(variant):
    vis = RNG.uniform(0, 1, (4, 6)).astype(np.float32)
    with_vis = variant(ops.append_visibility)(POINTS[..., :2], vis)
    np.testing.assert_array_equal(with_vis, np.concatenate([POINTS[..., :2], vis[..., None]], -1))
    columns = variant(ops.frames_as_columns)(with_vis)
    assert columns.shape == (6 * 3, 4)
    for t in range(4):  # column t is frame t, joint-major
        np.testing.assert_array_equal(columns[:, t], with_vis[t].reshape(-1))
