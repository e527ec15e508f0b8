"""RegressionLabel and its ops (``encode_regression_labels``,
``decode_regression_labels``) against NumPy formulas written here from the
definition (MMPOSE_BEHAVIOUR §2.4):

* encode: ``keypoint_labels = kp[..., :2] / (w, h)`` (divided by the size,
  not ``size - 1``), ``keypoint_weights = 1`` where the keypoint lies in
  ``[0, w-1] x [0, h-1]`` (both ends included) and its visibility exceeds 0.5
  (0.5 itself is not visible), else 0; any number of instances;
* decode: ``keypoints = coords * (w, h)``; scores 1 for ``(N, K, 2)`` input,
  ``mean(1 - sigma)`` over the two axes for ``(N, K, 4)``;
* the round trip, jitted and un-jitted; bad input named in the error.

The golden vectors (``test_conformance.py``) cover MMPose's recorded cases;
these tests add independent values on both sides of every bound, several
instances, 3-D keypoints and the ops called directly.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcodecs import RegressionLabel, ops

INPUT = (192, 256)  # (w, h)
SIZE = np.array(INPUT, np.float64)


# ------------------------------------------------------------ NumPy models
def np_encode(kp, vis, size=SIZE):
    kp = np.asarray(kp, np.float64)[..., :2]
    inside = np.all((kp >= 0) & (kp <= size - 1), axis=-1)
    valid = inside & (np.asarray(vis, np.float64) > 0.5)
    return (kp / size).astype(np.float32), valid.astype(np.float32)


def np_decode(encoded, size=SIZE):
    encoded = np.asarray(encoded, np.float64)
    keypoints = (encoded[..., :2] * size).astype(np.float32)
    if encoded.shape[-1] == 4:
        scores = np.mean(1 - encoded[..., 2:4], axis=-1)
    else:
        scores = np.ones(encoded.shape[:-1])
    return keypoints, scores.astype(np.float32)


def sample(seed, num_instances=3, num_keypoints=9, dims=2):
    """Keypoints ``(N, K, dims)`` float32 and visibility ``(N, K)``: random
    ones inside and up to 20 px outside the image, then the bounds, each on
    one axis with the other axis inside: 0, just below 0, w-1 (h-1), just
    above it, a half pixel before w (h), w (h) itself; and visibilities on
    both sides of 0.5."""
    rng = np.random.default_rng(seed)
    w, h = INPUT
    kp = np.stack([rng.uniform(-20, w + 20, (num_instances, num_keypoints)),
                   rng.uniform(-20, h + 20, (num_instances, num_keypoints))], -1)
    kp[0, :6] = [(x, 100.0) for x in (0.0, -0.001, w - 1.0, w - 1 + 0.001, w - 0.5, w)]
    kp[1, :6] = [(50.0, y) for y in (0.0, -0.001, h - 1.0, h - 1 + 0.001, h - 0.5, h)]
    if dims > 2:
        kp = np.concatenate([kp, rng.uniform(-5, 5, kp.shape[:2] + (dims - 2,))], -1)
    vis = rng.choice([1.0, 1.0, 0.0, 0.51, 0.5, 0.3], size=(num_instances, num_keypoints))
    vis[:2, :6] = 1.0  # the bound cases decide on position alone
    return kp.astype(np.float32), vis.astype(np.float32)


# ------------------------------------------------------------------ encode
def test_encode_rejects_a_third_coordinate(variant):
    """2-D labels from (x, y) only: a third coordinate would be silently
    dropped, so ``(N, K, 3)`` is an error naming the argument."""
    kp, vis = sample(0, dims=3)
    with pytest.raises(ValueError, match=r"`keypoints` must have shape \(N, K, 2\).*got shape \(3, 9, 3\)"):
        variant(RegressionLabel(INPUT).encode)(kp, vis)


def test_encode_matches_numpy(variant):
    """Labels equal ``float32(kp / size)`` exactly (a correctly rounded
    float32 division equals the rounded float64 quotient), weights exactly,
    for several instances."""
    kp, vis = sample(0)
    enc = variant(RegressionLabel(INPUT).encode)(kp, vis)
    labels, weights = np_encode(kp, vis)
    assert set(enc) == {"keypoint_labels", "keypoint_weights"}
    assert enc["keypoint_labels"].shape == (3, 9, 2) and enc["keypoint_labels"].dtype == jnp.float32
    assert enc["keypoint_weights"].shape == (3, 9) and enc["keypoint_weights"].dtype == jnp.float32
    np.testing.assert_array_equal(enc["keypoint_labels"], labels)
    np.testing.assert_array_equal(enc["keypoint_weights"], weights)


def test_encode_bounds_and_visibility_threshold():
    """The hand-made cases of ``sample`` spelled out: inside means
    ``0 <= x <= w-1`` and ``0 <= y <= h-1``; visible means ``> 0.5``."""
    w, h = INPUT
    kp = np.array([[[0, 0], [w - 1, h - 1], [-1e-3, 5], [w - 1 + 1e-3, 5], [5, -1e-3],
                    [5, h - 1 + 1e-3], [w - 0.5, 5], [5, 5], [5, 5], [5, 5]]], np.float32)
    vis = np.array([[1, 1, 1, 1, 1, 1, 1, 0.5, 0.51, 0]], np.float32)
    enc = jax.jit(RegressionLabel(INPUT).encode)(kp, vis)
    np.testing.assert_array_equal(enc["keypoint_weights"], [[1, 1, 0, 0, 0, 0, 0, 0, 1, 0]])
    np.testing.assert_array_equal(enc["keypoint_labels"][0, :2],
                                  np.float32([[0, 0], [(w - 1) / w, (h - 1) / h]]))


def test_encode_without_visibility_means_all_visible(variant):
    kp, _ = sample(1)
    codec = RegressionLabel(INPUT)
    enc = variant(codec.encode)(kp)
    labels, weights = np_encode(kp, np.ones(kp.shape[:2]))
    np.testing.assert_array_equal(enc["keypoint_labels"], labels)
    np.testing.assert_array_equal(enc["keypoint_weights"], weights)


def test_encode_op_matches_numpy_for_another_size():
    """The op directly, with w != h swapped (a swapped axis would show)."""
    size = (37, 300)
    kp, vis = sample(2)
    labels, weights = jax.jit(ops.encode_regression_labels, static_argnums=2)(kp, vis, size)
    ref_labels, ref_weights = np_encode(kp, vis, np.array(size, np.float64))
    np.testing.assert_array_equal(labels, ref_labels)
    np.testing.assert_array_equal(weights, ref_weights)


# ------------------------------------------------------------------ decode
def test_decode_coordinates(variant):
    """(N, K, 2): keypoints ``coords * (w, h)`` (exactly, as a correctly
    rounded float32 product), scores exactly 1, float32."""
    rng = np.random.default_rng(3)
    encoded = rng.uniform(-0.2, 1.2, (2, 7, 2)).astype(np.float32)
    keypoints, scores = variant(RegressionLabel(INPUT).decode)(encoded)
    ref_kp, ref_scores = np_decode(encoded)
    assert keypoints.shape == (2, 7, 2) and scores.shape == (2, 7)
    assert keypoints.dtype == jnp.float32 and scores.dtype == jnp.float32
    np.testing.assert_array_equal(keypoints, ref_kp)
    np.testing.assert_array_equal(scores, ref_scores)


def test_decode_coordinates_with_sigma(variant):
    """(N, K, 4), RLE's coordinates plus per-axis sigma: keypoints from the
    first two channels, scores ``mean(1 - sigma_x, 1 - sigma_y)``."""
    rng = np.random.default_rng(4)
    encoded = np.concatenate([rng.uniform(0, 1, (2, 7, 2)), rng.uniform(0, 1, (2, 7, 2))], -1)
    encoded = encoded.astype(np.float32)
    encoded[0, 0, 2:] = [0.2, 0.6]  # scores 0.6 by hand
    keypoints, scores = variant(RegressionLabel(INPUT).decode)(encoded)
    ref_kp, ref_scores = np_decode(encoded)
    np.testing.assert_array_equal(keypoints, ref_kp)
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(scores[0, 0], 0.6, rtol=1e-6)
    np.testing.assert_array_equal(keypoints, variant(RegressionLabel(INPUT).decode)(encoded[..., :2])[0])


def test_decode_op_takes_any_leading_axes():
    rng = np.random.default_rng(5)
    encoded = rng.uniform(0, 1, (2, 3, 5, 4)).astype(np.float32)
    keypoints, scores = jax.jit(ops.decode_regression_labels, static_argnums=1)(encoded, INPUT)
    ref_kp, ref_scores = np_decode(encoded)
    np.testing.assert_array_equal(keypoints, ref_kp)
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-6, atol=1e-7)


# -------------------------------------------------------------- round trip
def test_round_trip(variant):
    """decode(encode(kp)) returns kp up to float32 rounding of the division
    and the product (2 ulp), for keypoints anywhere, weight 0 or 1."""
    kp, vis = sample(6)
    codec = RegressionLabel(INPUT)
    keypoints, scores = variant(codec.round_trip)(kp, vis)
    np.testing.assert_allclose(keypoints, kp[..., :2], rtol=2 * 2.0**-23, atol=0)
    np.testing.assert_array_equal(scores, 1.0)


def test_batch_equals_per_sample():
    kp = np.stack([sample(seed)[0] for seed in range(4)])
    vis = np.stack([sample(seed)[1] for seed in range(4)])
    codec = RegressionLabel(INPUT)
    enc = jax.jit(codec.batch_encode)(kp, vis)
    for b in range(4):
        labels, weights = np_encode(kp[b], vis[b])
        np.testing.assert_array_equal(enc["keypoint_labels"][b], labels)
        np.testing.assert_array_equal(enc["keypoint_weights"][b], weights)
    keypoints, scores = jax.jit(codec.batch_decode)(enc["keypoint_labels"])
    np.testing.assert_array_equal(keypoints, np_decode(enc["keypoint_labels"])[0])
    assert scores.shape == (4, 3, 9)


# --------------------------------------------------------------- bad input
@pytest.mark.parametrize("shape", [(3, 9, 3), (3, 9, 1), (3, 9, 5)])
def test_decode_wrong_last_dimension(variant, shape):
    with pytest.raises(ValueError, match=r"`encoded`.*\(N, K, 2\) or \(N, K, 4\)"):
        variant(RegressionLabel(INPUT).decode)(np.zeros(shape, np.float32))


@pytest.mark.parametrize("shape", [(9, 2), (1, 3, 9, 2)])
def test_decode_wrong_rank(variant, shape):
    with pytest.raises(ValueError, match="`encoded`"):
        variant(RegressionLabel(INPUT).decode)(np.zeros(shape, np.float32))


def test_decode_op_wrong_last_dimension():
    with pytest.raises(ValueError, match="`encoded`"):
        ops.decode_regression_labels(np.zeros((2, 3), np.float32), INPUT)


@pytest.mark.parametrize("shape", [(9, 2), (3, 9, 1)])
def test_encode_bad_keypoints(variant, shape):
    with pytest.raises(ValueError, match="`keypoints`"):
        variant(RegressionLabel(INPUT).encode)(np.zeros(shape, np.float32))


@pytest.mark.parametrize("shape", [(3, 8), (2, 9), (3, 9, 1)])
def test_encode_bad_visibility(variant, shape):
    with pytest.raises(ValueError, match="`keypoints_visible`"):
        variant(RegressionLabel(INPUT).encode)(np.zeros((3, 9, 2), np.float32), np.ones(shape, np.float32))


def test_encode_non_numeric_keypoints():
    with pytest.raises(TypeError, match="`keypoints`"):
        RegressionLabel(INPUT).encode("keypoints")


@pytest.mark.parametrize("size,error", [((192,), ValueError), ((192, 0), ValueError),
                                        ((192.5, 256), ValueError), (192, TypeError),
                                        (("w", "h"), TypeError)])
def test_bad_input_size(size, error):
    with pytest.raises(error, match="`input_size`"):
        RegressionLabel(size)
