"""``IntegralRegressionLabel.decode_heatmaps``: differentiable heatmap decoding.

Every value is checked against something computed independently of the
library: a float64 NumPy expectation over the full ``(H, W)`` pixel grid
(pixel ``i`` at coordinate ``i``, x first) written here, or a mathematical
property (the expectation of a symmetric target is its centre, the round trip
``decode(encode(kp))`` is the identity, the limits of the softmax temperature).
Finite-difference checks of the derivatives are in ``test_gradients.py``;
golden-vector parity with MMPose and the API conventions are tested
elsewhere (``test_conformance.py``, ``test_api.py``).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxcodecs

METHODS = ("ipr", "dsnt", "soft_argmax")

# Main configuration of the recovery tests: scale 4 on both axes.
INPUT = (192, 256)
HEATMAP = (48, 64)
SIGMA = 2.0
SCALE = np.array(INPUT, np.float64) / np.array(HEATMAP, np.float64)  # (4, 4)
MARGIN = 6 * SIGMA * SCALE  # 6 sigma of heatmap pixels, in input pixels: 48
MAP_CENTRE = (np.array(HEATMAP, np.float64) - 1) / 2 * SCALE  # (94, 126) input px

# Small configuration with different scales per axis (3, 2) and W != H, so
# that a swapped axis or scale cannot go unnoticed.
SMALL_INPUT = (96, 32)
SMALL_HEATMAP = (32, 16)
SMALL_SCALE = np.array([3.0, 2.0])


# ------------------------------------------------------------ references
def np_expectation(p):
    """Expected ``(x, y)`` of weights ``p (..., H, W)`` on the full pixel grid."""
    p = np.asarray(p, np.float64)
    height, width = p.shape[-2:]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    return np.stack([np.sum(p * xs, axis=(-2, -1)), np.sum(p * ys, axis=(-2, -1))], axis=-1)


def np_weights(h, method, beta=1.0):
    """The distribution each method takes the expectation under, in float64."""
    h = np.asarray(h, np.float64)
    if method == "dsnt":  # the maps as given, no renormalisation
        return h
    if method == "ipr":  # ReLU, then unit sum (a massless map reads as uniform)
        mass = np.clip(h, 0.0, None)
        total = mass.sum(axis=(-2, -1), keepdims=True)
        uniform = np.full_like(mass, 1.0 / (h.shape[-1] * h.shape[-2]))
        return np.where(total > 0, mass / np.where(total > 0, total, 1.0), uniform)
    flat = beta * h.reshape(h.shape[:-2] + (-1,))
    e = np.exp(flat - flat.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).reshape(h.shape)


def np_decode(h, method, scale, beta=1.0):
    """``(keypoints (N, K, 2), scores (N, K))`` of the NumPy reference."""
    h = np.asarray(h, np.float64)
    if h.ndim == 3:
        h = h[None]
    return np_expectation(np_weights(h, method, beta)) * scale, h.max(axis=(-2, -1))


# --------------------------------------------------------------- helpers
_JITTED = {}


def jitted_decoder(codec, method):
    """``jax.jit`` of ``codec.decode_heatmaps(h, method=method, beta=beta)``, cached."""
    key = (codec, method)
    if key not in _JITTED:
        _JITTED[key] = jax.jit(
            lambda h, beta: codec.decode_heatmaps(h, method=method, beta=beta)
        )
    return _JITTED[key]


def jitted_encoder(codec):
    key = (codec, "encode")
    if key not in _JITTED:
        _JITTED[key] = jax.jit(lambda kp: codec.encode(kp)["heatmaps"])
    return _JITTED[key]


def random_keypoints(rng, num, phase_gap=0.0):
    """``(1, num, 2)`` float32 input-pixel keypoints at least ``MARGIN`` from
    every border. With ``phase_gap > 0`` the heatmap coordinate ``kp / scale``
    stays at least ``phase_gap`` heatmap pixels away from any half pixel."""
    lo = MARGIN / SCALE
    hi = (np.array(INPUT) - 1) / SCALE - MARGIN / SCALE
    hm = rng.uniform(lo, hi, (num, 2))
    if phase_gap > 0:
        whole = np.floor(hm)
        phase = rng.uniform(0.0, 1.0 - 2 * phase_gap, (num, 2))
        phase = np.where(phase < 0.5 - phase_gap, phase, phase + 2 * phase_gap)
        hm = whole + phase
    return (hm * SCALE)[None].astype(np.float32)


# ------------------------------------------------ 1. NumPy reference parity
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batched", [False, True], ids=["KHW", "NKHW"])
@pytest.mark.parametrize(
    "method,beta",
    [("ipr", 1.0), ("dsnt", 1.0), ("soft_argmax", 0.5), ("soft_argmax", 20.0)],
)
def test_decode_heatmaps_matches_numpy_expectation(method, beta, batched, dtype):
    """Keypoints are the float64 NumPy expectation of the pixel grid times
    ``input_size / heatmap_size`` (3 in x, 2 in y here); scores the raw maxima.

    The maps are standard-normal noise, so IPR really clips, DSNT sees maps
    that do not sum to one, and one map is entirely negative (IPR reads it as
    uniform: the map centre; its score is its negative maximum)."""
    rng = np.random.default_rng(11 + 7 * batched)
    width, height = SMALL_HEATMAP
    shape = (2, 3, height, width) if batched else (3, height, width)
    maps = rng.normal(size=shape)
    maps[..., 1, :, :] = -np.abs(maps[..., 1, :, :]) - 0.25
    want_kp, want_scores = np_decode(maps, method, SMALL_SCALE, beta)
    with jax.enable_x64(dtype == "float64"):
        codec = jaxcodecs.IntegralRegressionLabel(SMALL_INPUT, SMALL_HEATMAP, 1.0, dtype=dtype)
        kp, scores = jitted_decoder(codec, method)(jnp.asarray(maps, dtype), beta)
        assert kp.dtype == jnp.dtype(dtype) and scores.dtype == jnp.dtype(dtype)
        kp, scores = np.asarray(kp), np.asarray(scores)
    assert kp.shape == (shape[0] if batched else 1, 3, 2)
    assert scores.shape == kp.shape[:2]
    if dtype == "float64":  # exact: the codec's float32 scale_factor holds 3 and 2 exactly
        rtol, atol = 1e-10, 1e-9
    else:  # DSNT sums |h| * x of ~500 pixels: float32 cancellation
        rtol, atol = 1e-5, 2e-3 if method == "dsnt" else 2e-4
    np.testing.assert_allclose(kp, want_kp, rtol=rtol, atol=atol)
    np.testing.assert_allclose(scores, want_scores, rtol=rtol, atol=1e-7)
    if method == "ipr":
        np.testing.assert_allclose(
            kp[:, 1], np.broadcast_to([15.5 * 3, 7.5 * 2], kp[:, 1].shape), rtol=rtol
        )


# ------------------------------------------------------------ 2. recovery
@pytest.mark.parametrize("mmpose_compat", [True, False])
def test_unbiased_normalized_targets_are_recovered(mmpose_compat):
    """The expectation of an untruncated sub-pixel Gaussian is its centre.

    ``unbiased=True``, ``normalize=True``, sigma 2 heatmap px, keypoints at
    least 6 sigma (48 input px) from the borders: the clipped tails weigh
    ``< 1e-8`` and the grid's aliasing term ``exp(-2 pi^2 sigma^2)`` is
    ``~1e-34``, so only float32 rounding is left. Measured max error over
    these 3 x 17 keypoints and both modes: 4.6e-5 input px (ipr and dsnt
    alike; 3.1e-5 on another 200; 1e-3 asserted)."""
    rng = np.random.default_rng(2 + mmpose_compat)
    codec = jaxcodecs.IntegralRegressionLabel(
        INPUT, HEATMAP, SIGMA, unbiased=True, normalize=True, mmpose_compat=mmpose_compat
    )
    for _ in range(3):
        kp = random_keypoints(rng, 17)
        heatmaps = jitted_encoder(codec)(kp)
        np.testing.assert_allclose(np.sum(np.asarray(heatmaps, np.float64), axis=(-2, -1)), 1.0, rtol=1e-5)
        for method in ("ipr", "dsnt"):
            got, _ = jitted_decoder(codec, method)(heatmaps, 1.0)
            np.testing.assert_allclose(np.asarray(got, np.float64), kp, rtol=0, atol=1e-3)


@pytest.mark.parametrize("mmpose_compat", [True, False])
def test_windowed_targets_are_recovered_on_the_pixel_grid(mmpose_compat):
    """With the default windowed targets (``unbiased=False``), IPR returns the
    keypoint quantised to the heatmap grid.

    The encoder centres the 3-sigma window on ``mu = floor(kp / scale + 0.5)``
    (``mmpose_compat=False``) or ``trunc(kp / scale + 0.5)`` (``True``), the
    same for positive coordinates; with sigma 2 the radius 3 sigma = 6 is an
    integer, so MMPose's one-pixel peak shift does not occur and the window
    (inside the map, 12 heatmap px from the borders) is symmetric about
    ``mu``: the expectation is ``mu`` and the decoded keypoint ``mu * scale``
    (round to the nearest pixel). Keypoints stay 0.05 heatmap px away from
    half pixels. Measured max error: 3.1e-5 input px (1e-3 asserted)."""
    rng = np.random.default_rng(5 + mmpose_compat)
    codec = jaxcodecs.IntegralRegressionLabel(INPUT, HEATMAP, SIGMA, mmpose_compat=mmpose_compat)
    for _ in range(3):
        kp = random_keypoints(rng, 17, phase_gap=0.05)
        got, _ = jitted_decoder(codec, "ipr")(jitted_encoder(codec)(kp), 1.0)
        want = np.floor(kp.astype(np.float64) / SCALE + 0.5) * SCALE
        np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=0, atol=1e-3)


# ------------------------------------------------- 3. soft-argmax bias
@pytest.fixture(scope="module")
def peak_one_targets():
    """Unnormalised unbiased targets (peak 1) of 40 keypoints and the codec."""
    codec = jaxcodecs.IntegralRegressionLabel(
        INPUT, HEATMAP, SIGMA, unbiased=True, normalize=False, mmpose_compat=False
    )
    kp = random_keypoints(np.random.default_rng(8), 40, phase_gap=0.1)
    return codec, kp, jitted_encoder(codec)(kp)


def test_soft_argmax_beta_one_collapses_to_the_map_centre(peak_one_targets):
    """``beta = 1`` on maps in ``[0, 1]`` is nearly uniform: the decoded point
    is pulled toward the map centre ``c``. For a symmetric target centred at
    ``kp``, ``E - c = sum (p - c)(e^h - 1) / sum e^h = lam (kp - c)`` with
    ``lam = S / (H W + S)`` and ``S = sum (e^h - 1) = 2 pi sigma^2 Ein(1)``,
    ``Ein(1) = sum_n 1 / (n n!)``: ``lam = 0.010667`` here. Measured on
    these 40 keypoints: error ``>= 0.989 |kp - c|`` (up to 79.5 input px),
    ``|E - c| / |kp - c|`` in ``[0.0106665, 0.0106680]``, and the closed form
    ``c + lam (kp - c)`` matches within 2.4e-5 input px (1e-3 asserted)."""
    codec, kp, heatmaps = peak_one_targets
    got, _ = jitted_decoder(codec, "soft_argmax")(heatmaps, 1.0)
    got = np.asarray(got, np.float64)[0]
    kp = kp.astype(np.float64)[0]
    to_kp = np.linalg.norm(kp - MAP_CENTRE, axis=-1)
    assert np.all(np.linalg.norm(got - MAP_CENTRE, axis=-1) < to_kp)
    assert np.all(np.linalg.norm(got - kp, axis=-1) > 0.98 * to_kp)
    ein1 = sum(1.0 / (n * math.factorial(n)) for n in range(1, 30))
    mass = 2 * math.pi * SIGMA**2 * ein1
    lam = mass / (HEATMAP[0] * HEATMAP[1] + mass)
    np.testing.assert_allclose(got, MAP_CENTRE + lam * (kp - MAP_CENTRE), rtol=0, atol=1e-3)


@pytest.mark.parametrize("beta,bound", [(16.0, 0.15), (20.0, 0.25)])
def test_soft_argmax_well_chosen_beta_is_nearly_unbiased(peak_one_targets, beta, bound):
    """Soft-argmax on peak-1 Gaussians trades the background's pull toward
    the centre (``~ H W e^-beta``) against the sharpening of the peak
    (``beta e^(-d^2 / 2 sigma^2)`` has width ``sigma / sqrt(beta)``, which
    the pixel grid aliases). Measured max per-axis error (input px) on these
    40 keypoints: beta 1: 78.2, 10: 3.71, 14: 0.156, 15: 0.110, 16: 0.103
    (best), 18: 0.132, 20: 0.180, 30: 0.456, 50: 0.873, 1e4: 1.55. Over 400
    unconstrained random keypoints: 12: 0.67, 13: 0.30, 16: 0.103, 20: 0.18,
    25: 0.32, 100: 1.31, 1e3: 1.89, 1e4: 1.98 (the argmax's error, up to
    half a heatmap pixel = 2 input px)."""
    codec, kp, heatmaps = peak_one_targets
    got, _ = jitted_decoder(codec, "soft_argmax")(heatmaps, beta)
    err = np.abs(np.asarray(got, np.float64) - kp)
    assert err.max() <= bound


def test_soft_argmax_huge_beta_degrades_to_the_argmax(peak_one_targets):
    """``beta = 1e4`` is the hard argmax: with keypoints >= 0.1 heatmap px
    away from half pixels the neighbour's weight is ``< e^-200``, so the
    decoded point is the nearest pixel times the scale (measured difference:
    exactly 0) and its error is at most half a heatmap pixel x scale
    (measured: 1.55 of 2 input px)."""
    codec, kp, heatmaps = peak_one_targets
    got, _ = jitted_decoder(codec, "soft_argmax")(heatmaps, 1e4)
    got = np.asarray(got, np.float64)
    kp = kp.astype(np.float64)
    assert np.all(np.abs(got - kp) <= 0.5 * SCALE + 1e-3)
    np.testing.assert_allclose(got, np.floor(kp / SCALE + 0.5) * SCALE, rtol=0, atol=1e-3)


# ----------------------------------------------------------- 4. gradients
# First and second derivatives of decode_heatmaps are checked entry by entry
# against finite differences in test_gradients.py.


# -------------------------------------------- 5. round-trip differentiation
def test_round_trip_jacobian_is_the_identity():
    """``kp -> decode_heatmaps(encode(kp)["heatmaps"], "ipr")`` is the
    identity for keypoints well inside (unbiased targets), so its Jacobian is
    the ``2K x 2K`` identity: 2 x 2 identity blocks, no coupling between
    keypoints. Measured max deviation (float32): 9.5e-7 (jacfwd), 1.2e-7
    (jacrev)."""
    codec = jaxcodecs.IntegralRegressionLabel(
        INPUT, HEATMAP, SIGMA, unbiased=True, mmpose_compat=False
    )
    kp = random_keypoints(np.random.default_rng(31), 6)

    def round_trip(k):
        return codec.decode_heatmaps(codec.encode(k)["heatmaps"], method="ipr")[0]

    for jac in (jax.jacfwd, jax.jacrev):
        got = np.asarray(jax.jit(jac(round_trip))(kp)).reshape(12, 12)
        np.testing.assert_allclose(got, np.eye(12), rtol=0, atol=1e-3)


# ------------------------------------------------------------ 6. stability
def test_all_zero_heatmaps_decode_to_the_map_centre_with_finite_gradients():
    """A massless map reads as uniform for IPR (and is uniform for any
    ``beta`` under soft-argmax): the map centre ``((W-1)/2, (H-1)/2)`` times
    the scale; every gradient is finite."""
    width, height = HEATMAP
    codec = jaxcodecs.IntegralRegressionLabel(INPUT, HEATMAP, SIGMA)
    zeros = jnp.zeros((2, 3, height, width))
    centre = np.broadcast_to(MAP_CENTRE, (2, 3, 2))
    for method, beta in (("ipr", 1.0), ("soft_argmax", 1.0), ("soft_argmax", 1e6)):
        decode = jitted_decoder(codec, method)
        kp, scores = decode(zeros, beta)
        np.testing.assert_allclose(np.asarray(kp), centre, rtol=1e-6)
        np.testing.assert_array_equal(np.asarray(scores), 0.0)
        grads = jax.jit(jax.grad(lambda h, b: jnp.sum(decode(h, b)[0]), argnums=(0, 1)))(zeros, beta)
        assert all(np.all(np.isfinite(np.asarray(g))) for g in grads)


def test_soft_argmax_huge_beta_gives_the_peak_pixel():
    """``beta = 1e6`` on maps with a unique peak (gap >= 1e-2 to the next
    value, so the rest weighs ``< e^-1e4``) is the hard argmax: the peak pixel
    times the scale, with finite values and gradients everywhere."""
    rng = np.random.default_rng(41)
    width, height = HEATMAP
    codec = jaxcodecs.IntegralRegressionLabel(INPUT, HEATMAP, SIGMA)
    maps = rng.uniform(0.0, 1.0, (2, 4, height, width)).astype(np.float32)
    peaks = np.stack([rng.integers(0, width, (2, 4)), rng.integers(0, height, (2, 4))], axis=-1)
    for n in range(2):
        for k in range(4):
            maps[n, k, peaks[n, k, 1], peaks[n, k, 0]] = 1.01
    decode = jitted_decoder(codec, "soft_argmax")
    kp, scores = decode(maps, 1e6)
    np.testing.assert_allclose(np.asarray(kp), peaks * SCALE, rtol=0, atol=1e-3)
    np.testing.assert_allclose(np.asarray(scores), 1.01, rtol=1e-7)
    grads = jax.jit(jax.grad(lambda h, b: jnp.sum(decode(h, b)[0]), argnums=(0, 1)))(maps, 1e6)
    assert all(np.all(np.isfinite(np.asarray(g))) for g in grads)


# --------------------------------------------------------- 7. batch = loop
@pytest.mark.parametrize("method", METHODS)
def test_vmap_over_samples_equals_per_sample_calls(method):
    """``jax.vmap`` of the ``(K, H, W)`` decode over a batch of samples gives
    ``(B, 1, K, 2)`` / ``(B, 1, K)``, equal to the per-sample calls."""
    rng = np.random.default_rng(51)
    width, height = SMALL_HEATMAP
    codec = jaxcodecs.IntegralRegressionLabel(SMALL_INPUT, SMALL_HEATMAP, 1.0)
    maps = jnp.asarray(rng.uniform(0.0, 1.0, (4, 3, height, width)), jnp.float32)
    batched = jax.jit(jax.vmap(lambda h: codec.decode_heatmaps(h, method=method, beta=5.0)))(maps)
    single = jitted_decoder(codec, method)
    loop = [single(maps[b], 5.0) for b in range(maps.shape[0])]
    assert batched[0].shape == (4, 1, 3, 2) and batched[1].shape == (4, 1, 3)
    np.testing.assert_allclose(np.asarray(batched[0]), np.stack([o[0] for o in loop]), rtol=1e-6, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(batched[1]), np.stack([o[1] for o in loop]))


# ------------------------------------------------------------ 8. bad input
@pytest.mark.parametrize(
    "shape",
    [(3, 15, 32), (3, 16, 31), (3, 32, 16), (16, 32), (1, 2, 3, 16, 32)],
    ids=["wrong-H", "wrong-W", "H-W-swapped", "rank2", "rank5"],
)
def test_bad_heatmap_shape_raises_naming_heatmaps(shape):
    codec = jaxcodecs.IntegralRegressionLabel(SMALL_INPUT, SMALL_HEATMAP, 1.0)
    for method in METHODS:
        with pytest.raises(ValueError, match="`heatmaps`"):
            codec.decode_heatmaps(np.zeros(shape, np.float32), method=method)


@pytest.mark.parametrize("method", ["argmax", "IPR", "softargmax", ""])
def test_unknown_method_raises_naming_method(method):
    codec = jaxcodecs.IntegralRegressionLabel(SMALL_INPUT, SMALL_HEATMAP, 1.0)
    with pytest.raises(ValueError, match="`method`"):
        codec.decode_heatmaps(np.zeros((3, 16, 32), np.float32), method=method)
