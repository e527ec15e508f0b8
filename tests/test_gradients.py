"""Jacobians of every path the package documents as differentiable.

Each Jacobian (``jax.jacfwd`` and ``jax.jacrev``) is compared entry by entry
with central finite differences in float64 (``gradcheck.check_jacobian``),
at tolerances set a decade or more above the error measured on this
platform, and always tight enough that a gradient scaled by 1.01 fails.
Inputs are small (12x10 maps, a few keypoints), so that each full Jacobian
is cheap, and lie away from the non-differentiable points of the piecewise
paths: argmax changes, 3σ window edges, rounding of a centre, clipping.

Covered, with the argument(s) differentiated:

* encoding: the unbiased renderer (two instances, one σ each) and the
  windowed one (σ); MSRAHeatmap (unbiased), UDPHeatmap (gaussian, both
  modes), IntegralRegressionLabel and SimCCLabel (exact mode, also second
  order) encode w.r.t. keypoints and σ; RegressionLabel encode and decode;
  the 3-D Gaussian volumes (keypoints, σ, ``max_bound``) and their depth
  axis (``depth_to_bins``, ``bins_to_depth``); ``divide_exact``;
* refinement: DARK, UDP-DARK and SimCC-DARK (maps / vectors), and the codec
  decodes built on them (MSRAHeatmap unbiased, UDPHeatmap gaussian,
  SimCCLabel ``use_dark``), with the argmax inside;
* the blurs of ``ops.filters``;
* UDP's combined decode (``ops.decode_udp_offset_maps``: maps, radius);
* the soft decoders of ``ops.soft`` (maps, β, target, σ; second order for
  soft-argmax and IPR) and their switch ``soft_decode``, SimCC's visibility,
  ``IntegralRegressionLabel.decode_heatmaps`` and ``SimCCLabel.decode_soft``;
* the lifting normalisation of ``ops.normalize`` and the ImagePoseLifting,
  VideoPoseLifting and MotionBERTLabel encode / decode label paths.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxcodecs
from gradcheck import check_jacobian, jacobian_of
from jaxcodecs import ops

# One bound for every path: central differences with a 1e-6 relative step
# are accurate to ~1e-9 on these float64 paths. Measured worst cases: |J -
# J_fd| = 6e-9 (UDPHeatmap decode) and 5e-8 on entries of ~300 (camera
# projection), at most 0.06 of the bound; each test's "Measured" note gives
# its path's largest |J - J_fd|. check_jacobian also demands a largest entry
# of at least 200 atol = 2e-5, where a 1% error (2e-7) exceeds the bound.
TOL = dict(atol=1e-7, rtol=1e-6)

# Second derivatives: forward mode over the reverse-mode first derivatives
# (reverse over reverse would re-run the reverse pass for every entry of the
# flattened Jacobian, with intermediates of that many times its size).
HESS = dict(TOL, modes=("fwd",))

HEATMAP = (12, 10)  # (W, H)
F64 = jnp.float64


@pytest.fixture(autouse=True)
def _x64():
    with jax.enable_x64(True):
        yield


def unique_maxima(maps, ndim, margin=1e-3):
    """Asserts that the maximum over the last ``ndim`` axes beats the
    runner-up by ``margin``, far more than a 1e-6 step can change."""
    maps = np.asarray(maps)
    flat = np.sort(maps.reshape(maps.shape[: maps.ndim - ndim] + (-1,)), axis=-1)
    assert np.all(flat[..., -1] - flat[..., -2] > margin)


def blob_maps(rng, centres, sigma=1.5, noise=0.01, offset=0.02, size=HEATMAP):
    """Gaussian blobs at sub-pixel ``centres (K, 2)`` plus a little noise and
    a positive offset: strictly positive (no clamp at 1e-10 or 1e-3 active)
    with one clear maximum per map."""
    width, height = size
    yy, xx = np.mgrid[:height, :width]
    maps = np.stack([np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2)) for cx, cy in centres])
    return maps + offset + noise * rng.random(maps.shape)


def blob_vectors(rng, centres, length, sigma=2.0, noise=0.01, offset=0.02):
    """1-D analogue of :func:`blob_maps`: ``centres (N, K)`` give ``(N, K, L)``."""
    bins = np.arange(length)
    vectors = np.exp(-((bins - np.asarray(centres)[..., None]) ** 2) / (2 * sigma**2))
    return vectors + offset + noise * rng.random(vectors.shape)


# ------------------------------------------------------------------ encoding
# Heatmap-pixel keypoints with fractional parts 0.2-0.3 from a half pixel:
# the rounded centre (and with it the 3σ window) never moves under a step.
KP_HM = np.array([[[3.3, 4.2], [7.8, 5.7]], [[8.2, 2.3], [2.7, 6.8]]])
# 3σ = 3.9 and 5.1: 0.1 from an integer and 0.4 from a half integer, so the
# window bounds and the compat peak offset floor(3σ + 0.5) stay put as σ moves.
SIGMAS = np.array([1.3, 1.7])


def test_unbiased_heatmaps_wrt_keypoints_and_sigma():
    """Two instances (max-combined) with one σ each; each pixel's larger
    instance wins by a margin well above a step's effect. Measured: 6e-11."""
    vis = np.ones((2, 2))

    def render(kp, sigma):
        return ops.render_unbiased_gaussian_heatmaps(kp, vis, HEATMAP, sigma, dtype=F64)[0]

    check_jacobian(render, (KP_HM, SIGMAS), wrt=(0, 1), **TOL)


@pytest.mark.parametrize("compat", [True, False], ids=["compat", "exact"])
def test_windowed_heatmaps_wrt_sigma(compat):
    """The Gaussian around the rounded keypoint: piecewise constant in the
    keypoints (zero Jacobian), smooth in σ inside the fixed window.
    Measured: 7e-11."""
    vis = np.ones((2, 2))

    def render(sigma):
        return ops.render_gaussian_heatmaps(KP_HM, vis, HEATMAP, sigma, mmpose_compat=compat, dtype=F64)[0]

    check_jacobian(render, (SIGMAS,), **TOL)


def test_msra_unbiased_encode_wrt_keypoints_and_sigma():
    """Input pixels (scale 4) through ``divide_exact`` and the renderer; σ as
    a traced codec leaf. Measured: 6e-11."""
    kp = KP_HM[:1] * 4.0

    def encode(kp, sigma):
        codec = jaxcodecs.MSRAHeatmap((48, 40), HEATMAP, sigma, unbiased=True, dtype="float64")
        return codec.encode(kp)["heatmaps"]

    check_jacobian(encode, (kp, np.float64(1.3)), wrt=(0, 1), **TOL)


@pytest.mark.parametrize("compat", [True, False], ids=["compat", "exact"])
def test_udp_gaussian_encode_wrt_keypoints_and_sigma(compat):
    """The windowed sub-pixel Gaussian w.r.t. the keypoints (scale
    ``(input - 1) / (heatmap - 1) = (4, 4)``) and σ, a traced codec leaf.
    Measured: 6e-11."""
    kp = KP_HM[:1] * 4.0

    def encode(kp, sigma):
        codec = jaxcodecs.UDPHeatmap((45, 37), HEATMAP, sigma=sigma, mmpose_compat=compat, dtype="float64")
        return codec.encode(kp)["heatmaps"]

    check_jacobian(encode, (kp, np.float64(1.3)), wrt=(0, 1), **TOL)


def test_integral_regression_encode_wrt_keypoints_and_sigma():
    """Normalised (unbiased) heatmaps and ``kp / (w, h)`` labels, one output
    vector. Measured: 4e-12."""
    kp = KP_HM[:1] * 4.0

    def encode(kp, sigma):
        codec = jaxcodecs.IntegralRegressionLabel((48, 40), HEATMAP, sigma, unbiased=True, dtype="float64")
        enc = codec.encode(kp)
        return jnp.concatenate([enc["heatmaps"].ravel(), enc["keypoint_labels"].ravel()])

    check_jacobian(encode, (kp, np.float64(1.3)), wrt=(0, 1), **TOL)


def test_regression_label_encode_and_decode():
    """Encode ``kp / (w, h)`` w.r.t. the keypoints; decode ``coords * (w, h)``
    and the RLE scores ``mean(1 - sigma)`` w.r.t. the ``(N, K, 4)`` labels.
    Measured: 2e-12 and 2e-9 (entries up to 48)."""
    rng = np.random.default_rng(1)
    codec = jaxcodecs.RegressionLabel((48, 40))
    kp = rng.uniform(2.0, 30.0, (2, 3, 2))
    check_jacobian(lambda k: codec.encode(k)["keypoint_labels"], (kp,), **TOL)

    def decode(encoded):
        keypoints, scores = codec.decode(encoded)
        return jnp.concatenate([keypoints.ravel(), scores.ravel()])

    check_jacobian(decode, (rng.uniform(0.1, 0.9, (2, 3, 4)),), **TOL)


def test_simcc_exact_encode_wrt_keypoints_and_sigma():
    """``mmpose_compat=False`` Gaussian labels, normalised and not, w.r.t. the
    keypoints and ``(sigma_x, sigma_y)``, and the Hessian of the normalised
    ones; all centres well inside. Measured: 5e-11, Hessian 1e-11."""
    kp = np.array([[[10.3, 8.6], [15.15, 12.4]], [[6.7, 11.2], [18.45, 5.35]]])

    def encode(kp, sigma):
        out = []
        for normalize in (True, False):
            codec = jaxcodecs.SimCCLabel((24, 20), sigma=(sigma[0], sigma[1]), normalize=normalize,
                                         mmpose_compat=False, dtype="float64")
            enc = codec.encode(kp)
            out += [enc["keypoint_x_labels"].ravel(), enc["keypoint_y_labels"].ravel()]
        return jnp.concatenate(out)

    sigma = np.array([2.3, 2.9])
    check_jacobian(encode, (kp, sigma), wrt=(0, 1), **TOL)

    def normalized_labels(kp, sigma):
        codec = jaxcodecs.SimCCLabel((24, 20), sigma=(sigma[0], sigma[1]), mmpose_compat=False, dtype="float64")
        enc = codec.encode(kp)
        return jnp.concatenate([enc["keypoint_x_labels"].ravel(), enc["keypoint_y_labels"].ravel()])

    # Second order, on one instance: the whole Hessian in (keypoints, sigma).
    check_jacobian(jacobian_of(normalized_labels, (0, 1)), (kp[:1], sigma), wrt=(0, 1), **HESS)


@pytest.mark.parametrize("compat", [True, False], ids=["compat", "exact"])
def test_gaussian_volumes_wrt_keypoints_sigma_and_max_bound(compat):
    """3-D Gaussians in an 8x8x8 volume. Centres (voxels) with fractional
    parts 0.2-0.3 and σ = 1.3: the compat window's half-even sample rounding
    (at fractional part 0.4 of mu) and the exact window's ``|X - mu| <= 3σ``
    (at 0.1 and 0.9) are both out of a step's reach. Measured: 1.3e-10."""
    size, image, bound = (8, 8, 8), (32, 32), 400.0
    mu = np.array([[[3.2, 4.7, 2.3], [5.3, 2.2, 4.8]]])
    kp = np.concatenate([mu[..., :2] * 4.0, (mu[..., 2:] / 8 - 0.5) * bound], axis=-1)
    vis = np.ones((1, 2))

    def render(kp, sigma, max_bound):
        return ops.render_gaussian_heatmaps_3d(kp, vis, size, image, sigma, depth_bound=bound,
                                               max_bound=max_bound, mmpose_compat=compat, dtype=F64)[0]

    check_jacobian(render, (kp, np.float64(1.3), np.float64(2.0)), wrt=(0, 1, 2), **TOL)


def test_depth_bins_wrt_depth_and_bound():
    """InterNet's depth axis both ways, w.r.t. the depths / bins and the
    bound. Measured: 1.3e-10."""
    rng = np.random.default_rng(12)
    depth, bins = rng.uniform(-150.0, 150.0, 5), rng.uniform(0.0, 63.0, 5)
    check_jacobian(lambda z, b: ops.depth_to_bins(z, b, 64), (depth, np.float64(400.0)), wrt=(0, 1), **TOL)
    check_jacobian(lambda i, b: ops.bins_to_depth(i, b, 64), (bins, np.float64(400.0)), wrt=(0, 1), **TOL)


def test_divide_exact_wrt_both_operands():
    """Measured: 3e-10."""
    rng = np.random.default_rng(2)
    x, divisor = rng.uniform(-5.0, 5.0, (3, 2)), rng.uniform(0.5, 4.0, (2,))
    check_jacobian(ops.divide_exact, (x, divisor), wrt=(0, 1), **TOL)


# ---------------------------------------------------------------- refinement
# The ops are checked in both modes; the codec decodes built on them in
# reverse mode only, the one training uses: their forward mode would double
# these tests' compile time to add only the argmax (zero derivative) and a
# constant scale to what the op tests already cover in both modes.
REV = dict(TOL, modes=("rev",))
CENTRES = np.array([[5.3, 4.6], [6.7, 5.2]])  # argmax (5, 5) and (7, 5): interior


@pytest.mark.parametrize("name", ["refine_keypoints_dark", "refine_keypoints_dark_udp"])
def test_dark_refinement_wrt_heatmaps(name):
    """Maxima fixed (they come from the unperturbed maps); the maps are
    positive, inside UDP's clip range [1e-3, 50] after the modulation, and
    have unique maxima, so the rescale ``max(h) / max(blur(h))`` is smooth.
    Measured: 5e-10 (DARK), 1e-9 (UDP)."""
    maps = blob_maps(np.random.default_rng(3), CENTRES)
    unique_maxima(maps, 2)
    kp = np.asarray(ops.heatmap_argmax(maps)[0])[None]
    refine = getattr(ops, name)
    check_jacobian(lambda h: refine(kp, h, 5), (maps,), **TOL)


@pytest.mark.parametrize("compat", [True, False], ids=["compat", "exact"])
def test_simcc_dark_refinement_wrt_vectors(compat):
    """Peaks at sub-bin centres well inside the vectors; in exact mode the
    step stays well within the one-bin clip and ``dd < 0``. Measured: 1.2e-9."""
    centres = np.array([[9.3, 13.7, 18.4]])
    vectors = blob_vectors(np.random.default_rng(4), centres, 24)
    unique_maxima(vectors, 1)
    loc = np.argmax(vectors, axis=-1).astype(np.float64)

    def refine(v):
        return ops.refine_simcc_dark(loc, v, 7, mmpose_compat=compat)

    assert np.all(np.abs(np.asarray(refine(vectors)) - loc) < 0.9)
    check_jacobian(refine, (vectors,), **TOL)


def test_msra_unbiased_decode_wrt_heatmaps():
    """The codec's argmax runs on every perturbed map; unique maxima keep it
    fixed, so the keypoints are DARK's smooth function of the values (blur
    size 11, the default). Measured: 4e-9."""
    maps = blob_maps(np.random.default_rng(5), CENTRES)
    unique_maxima(maps, 2)
    codec = jaxcodecs.MSRAHeatmap((48, 40), HEATMAP, 1.5, unbiased=True, dtype="float64")
    check_jacobian(lambda h: codec.decode(h)[0], (maps,), **REV)


@pytest.mark.parametrize("compat", [True, False], ids=["compat", "exact"])
def test_udp_gaussian_decode_wrt_heatmaps(compat):
    """As above, with UDP's DARK step and scales. Measured: 6e-9."""
    maps = blob_maps(np.random.default_rng(6), CENTRES)
    unique_maxima(maps, 2)
    codec = jaxcodecs.UDPHeatmap((45, 37), HEATMAP, mmpose_compat=compat, dtype="float64")
    check_jacobian(lambda h: codec.decode(h)[0], (maps,), **REV)


def test_udp_offset_decode_wrt_maps_and_radius():
    """UDP's combined decode: the scores through the blurred class maps, the
    keypoints through the offsets read at their (fixed) maximum and the
    radius factor. Measured: 2e-10."""
    rng = np.random.default_rng(9)
    classes = blob_maps(rng, CENTRES)
    unique_maxima(np.asarray(ops.gaussian_blur(classes, 3)), 2)
    offsets = rng.normal(size=(2, 2) + classes.shape[1:])
    maps = np.concatenate([classes[:, None], offsets], axis=1).reshape(6, *classes.shape[1:])

    def decode(m, radius_factor):
        keypoints, scores = ops.decode_udp_offset_maps(m, radius_factor, 3)
        return jnp.concatenate([keypoints.ravel(), scores])

    check_jacobian(decode, (maps, np.float64(0.15)), wrt=(0, 1), **TOL)


@pytest.mark.parametrize("compat", [True, False], ids=["compat", "exact"])
def test_simcc_dark_decode_wrt_vectors(compat):
    """SimCCLabel ``use_dark`` (blur sizes 7 and 9 from σ = (1.6, 1.9)),
    argmax inside, w.r.t. both vectors. Measured: 7e-10."""
    rng = np.random.default_rng(7)
    sx = blob_vectors(rng, np.array([[19.3, 30.6]]), 48, sigma=1.6)
    sy = blob_vectors(rng, np.array([[11.7, 26.2]]), 40, sigma=1.9)
    unique_maxima(sx, 1)
    unique_maxima(sy, 1)
    codec = jaxcodecs.SimCCLabel((24, 20), sigma=(1.6, 1.9), use_dark=True, mmpose_compat=compat)
    check_jacobian(lambda x, y: codec.decode(x, y)[0], (sx, sy), wrt=(0, 1), **REV)


def test_blurs_wrt_input():
    """The blurs are linear (Jacobian = the kernel) except for the rescale to
    the original maximum, which is smooth where the maxima are unique.
    Measured: 2e-10."""
    rng = np.random.default_rng(8)
    maps = blob_maps(rng, CENTRES)
    vectors = blob_vectors(rng, np.array([[5.3, 12.8]]), 16)
    unique_maxima(maps, 2)
    unique_maxima(vectors, 1)

    def blurs(m, v):
        return jnp.concatenate([
            ops.gaussian_blur(m, 3).ravel(),
            ops.gaussian_blur(m, 3, border="zero").ravel(),
            ops.gaussian_blur_rescaled(m, 5).ravel(),
            ops.gaussian_blur1d(v, 3).ravel(),
            ops.gaussian_blur1d_rescaled(v, 5).ravel(),
        ])

    check_jacobian(blurs, (maps, vectors), wrt=(0, 1), **TOL)


# ------------------------------------------------------------- soft decoders
def soft_inputs(ndim, seed):
    rng = np.random.default_rng(seed)
    shape = (2, 5, 6) if ndim == 2 else (3, 9)
    lead = shape[:-ndim]
    probs = rng.uniform(0.2, 1.0, shape)
    probs /= probs.sum(axis=tuple(range(-ndim, 0)), keepdims=True)
    spatial = [np.asarray(s, np.float64) for s in shape[::-1][:ndim]]  # x first
    return dict(
        x=rng.normal(size=shape),
        # IPR's input: a fifth negative, none within 0.05 of the ReLU's kink.
        mixed=np.where(rng.random(shape) < 0.2, -1.0, 1.0) * rng.uniform(0.05, 1.0, shape),
        probs=probs,
        target=np.stack([rng.uniform(0.5, n - 1.5, lead) for n in spatial], axis=-1),
        per_map=rng.uniform(0.5, 2.0, lead),
        beta=np.float64(1.7),
    )


@pytest.mark.parametrize("ndim", [1, 2])
def test_spatial_softmax_and_soft_argmax(ndim):
    """Both ops w.r.t. the maps and a traced β, scalar and one per map.
    Measured: 1e-9."""
    inp = soft_inputs(ndim, 10 + ndim)

    def f(x, beta, per_map):
        return jnp.concatenate([
            ops.spatial_softmax(x, beta, ndim=ndim).ravel(),
            ops.spatial_softmax(x, per_map, ndim=ndim).ravel(),
            ops.soft_argmax(x, beta, ndim=ndim).ravel(),
            ops.soft_argmax(x, per_map, ndim=ndim).ravel(),
        ])

    check_jacobian(f, (inp["x"], inp["beta"], inp["per_map"]), wrt=(0, 1, 2), **TOL)


@pytest.mark.parametrize("ndim", [1, 2])
def test_integral_and_dsnt(ndim):
    """IPR on maps with negative entries (gradient 0 there) and DSNT in pixel
    and normalised coordinates. Measured: 4e-10."""
    inp = soft_inputs(ndim, 20 + ndim)

    def f(mixed, probs):
        return jnp.concatenate([
            ops.integral(mixed, ndim=ndim).ravel(),
            ops.dsnt(probs, ndim=ndim).ravel(),
            ops.dsnt(probs, ndim=ndim, normalized=True).ravel(),
        ])

    check_jacobian(f, (inp["mixed"], inp["probs"]), wrt=(0, 1), **TOL)


@pytest.mark.parametrize("ndim", [1, 2])
def test_dsnt_variance_regularizer(ndim):
    """The Jensen-Shannon regulariser w.r.t. the (strictly positive) maps,
    the Gaussian centres and σ, per map and scalar. Measured: 5e-10."""
    inp = soft_inputs(ndim, 30 + ndim)

    def f(probs, target, sigma, scalar):
        return jnp.concatenate([
            ops.dsnt_variance_regularizer(probs, target, sigma, ndim=ndim).ravel(),
            ops.dsnt_variance_regularizer(probs, target, scalar, ndim=ndim).ravel(),
        ])

    check_jacobian(f, (inp["probs"], inp["target"], inp["per_map"], inp["beta"]), wrt=(0, 1, 2, 3), **TOL)


def test_soft_decode():
    """The method switch, each method w.r.t. the maps (and β per map for
    soft-argmax). Measured: 7e-10."""
    inp = soft_inputs(2, 45)

    def f(x, probs, beta):
        return jnp.concatenate([
            ops.soft_decode(x, method="soft_argmax", beta=beta).ravel(),
            ops.soft_decode(x, method="ipr", beta=beta).ravel(),
            ops.soft_decode(probs, method="dsnt").ravel(),
        ])

    check_jacobian(f, (inp["mixed"], inp["probs"], inp["per_map"]), wrt=(0, 1, 2), **TOL)


def test_simcc_soft_decode():
    """W.r.t. both vectors and one β per keypoint. Measured: 1.2e-9."""
    rng = np.random.default_rng(40)
    sx, sy = rng.normal(size=(2, 3, 11)), rng.normal(size=(2, 3, 8))
    beta = rng.uniform(0.5, 2.0, (2, 3))
    check_jacobian(ops.simcc_soft_decode, (sx, sy, beta), wrt=(0, 1, 2), **TOL)


def test_simcc_visibility():
    """W.r.t. both vectors (unique maxima) and both temperatures. Measured:
    4e-11."""
    rng = np.random.default_rng(41)
    sx, sy = rng.normal(size=(2, 3, 11)), rng.normal(size=(2, 3, 8))
    unique_maxima(sx, 1)
    unique_maxima(sy, 1)
    check_jacobian(ops.simcc_visibility, (sx, sy, np.float64(1.5), np.float64(0.7)), wrt=(0, 1, 2, 3), **TOL)


def test_second_order_soft_argmax_and_integral():
    """Hessians (differences of the first derivatives checked above):
    soft-argmax in (maps, β), IPR in the maps. Measured: 4e-10."""
    inp = soft_inputs(2, 50)
    args = (inp["x"], inp["beta"])
    check_jacobian(jacobian_of(ops.soft_argmax, (0, 1)), args, wrt=(0, 1), **HESS)
    check_jacobian(jacobian_of(ops.integral), (inp["mixed"],), **HESS)


@pytest.mark.parametrize("method", ["ipr", "dsnt", "soft_argmax"])
def test_integral_regression_decode_heatmaps(method):
    """``decode_heatmaps`` keypoints w.r.t. the maps (and one β per
    keypoint), first order, and second order (on one map) for the
    non-linear methods. Measured: 9e-9."""
    rng = np.random.default_rng(60)
    codec = jaxcodecs.IntegralRegressionLabel((48, 40), HEATMAP, 1.3, dtype="float64")
    maps = rng.uniform(0.5, 1.5, (2, 2, HEATMAP[1], HEATMAP[0]))
    if method == "dsnt":
        maps /= maps.sum(axis=(-2, -1), keepdims=True)
    per_keypoint = np.array([0.5, 6.0])

    def decode(h, beta):
        return codec.decode_heatmaps(h, method=method, beta=beta)[0]

    wrt = (0, 1) if method == "soft_argmax" else (0,)
    check_jacobian(decode, (maps, per_keypoint), wrt=wrt, **TOL)
    if method != "dsnt":  # DSNT is linear in the maps
        args = (maps[:1, :1], per_keypoint[:1])
        check_jacobian(jacobian_of(decode, wrt), args, wrt=wrt, **HESS)


@pytest.mark.parametrize("method", ["soft_argmax", "ipr", "dsnt"])
def test_simcc_decode_soft(method):
    """``decode_soft`` keypoints (bins / ratio) w.r.t. both vectors and, for
    soft-argmax, a ``(beta_x, beta_y)`` pair. (Its second derivatives are
    those of ``ops.soft_argmax`` / ``ops.integral`` over the split ratio,
    checked in ``test_second_order_soft_argmax_and_integral``.) Measured:
    1.3e-9."""
    rng = np.random.default_rng(70)
    codec = jaxcodecs.SimCCLabel((12, 10), sigma=2.0)
    sx, sy = rng.uniform(0.2, 1.0, (1, 3, 24)), rng.uniform(0.2, 1.0, (1, 3, 20))
    if method == "dsnt":
        sx, sy = sx / sx.sum(-1, keepdims=True), sy / sy.sum(-1, keepdims=True)

    def decode(x, y, beta):
        return codec.decode_soft(x, y, method=method, beta=(beta[0], beta[1]))[0]

    wrt = (0, 1, 2) if method == "soft_argmax" else (0, 1)
    check_jacobian(decode, (sx, sy, np.array([4.0, 2.5])), wrt=wrt, **TOL)


# ------------------------------------------------------------------- lifting
# ImagePoseLifting computes its root in float32. Targets that are multiples
# of 2**-10 (below 2**10 in size) and a step of 2**-10 are exact in float32,
# so the rounding of the root never enters the differences; the labels are
# affine in the target, so a large step costs no accuracy.
STEP32 = 2.0**-10
KL, CL = 6, 3  # joints, coordinates


def lifting_target(rng, frames):
    return np.round(rng.normal(size=(frames, KL, CL)) * 1024) / 1024


def lifting_stats(rng, joints, dims):
    return rng.normal(size=(1, joints, dims)), rng.uniform(1.0, 2.0, (1, joints, dims))


def test_normalize_ops():
    """Every function of ``ops.normalize`` w.r.t. each array argument (the
    image frames with one image size and with one per row). The image size
    is cast to float32 inside: w = 1000, h = 800 and a step of 2**-4 are
    exact in float32. Measured: 5e-8 on the projection's entries of ~300
    (relative 1e-9) and 1.8e-7 on the inverse image frame's of ~600
    (relative 3e-10), below 5e-10 elsewhere."""
    rng = np.random.default_rng(80)
    poses = rng.normal(size=(2, KL, CL))
    kp = rng.uniform(0.0, 1000.0, (2, KL, 2))
    mean, std = lifting_stats(rng, KL, CL)
    f, c = rng.uniform(1100.0, 1200.0, (2, 1)), rng.uniform(480.0, 520.0, (2, 1))
    size = (np.float64(1000.0), np.float64(800.0))
    points = np.concatenate([rng.normal(size=(2, KL, 2)), rng.uniform(3.0, 5.0, (2, KL, 1))], -1)

    def relative(p):
        rel, root = ops.root_relative(p, (1, 4))
        return jnp.concatenate([rel.ravel(), root.ravel()])

    check_jacobian(relative, (poses,), **TOL)
    check_jacobian(lambda p: ops.remove_joint(p, 2, axis=-2), (poses,), **TOL)
    check_jacobian(lambda p, v: ops.insert_joint(p, 3, v), (poses, poses[:, :1]), wrt=(0, 1), **TOL)
    check_jacobian(ops.standardize, (poses, mean, std), wrt=(0, 1, 2), **TOL)
    check_jacobian(ops.destandardize, (poses, mean, std), wrt=(0, 1, 2), **TOL)
    check_jacobian(ops.normalize_screen_coordinates, (kp, *size), wrt=(0, 1, 2),
                   abs_step=(None, 2.0**-4, 2.0**-4), **TOL)

    def camera(f, c, w, h):
        out = ops.normalize_camera({"w": w, "h": h, "f": f, "c": c})
        return jnp.concatenate([out["f"].ravel(), out["c"].ravel()])

    check_jacobian(camera, (f, c, *size), wrt=(0, 1, 2, 3), abs_step=(None, None, 2.0**-4, 2.0**-4), **TOL)
    check_jacobian(ops.camera_to_image, (points, f, c), wrt=(0, 1, 2), **TOL)

    def with_depth(p, f, c):
        image, factor = ops.camera_to_image_with_depth(p, 1, f, c)
        return jnp.concatenate([image.ravel(), factor.ravel()])

    check_jacobian(with_depth, (points, f, c), wrt=(0, 1, 2), **TOL)
    rows = (np.array([[1000.0], [1280.0]]), np.array([[800.0], [720.0]]))
    for frame in (ops.normalize_image_frame, ops.normalize_image_frame_with_depth,
                  ops.denormalize_image_frame_with_depth):
        check_jacobian(frame, (points, *size), wrt=(0, 1, 2), abs_step=(None, 2.0**-4, 2.0**-4), **TOL)
        check_jacobian(frame, (points, *rows), wrt=(0, 1, 2), abs_step=(None, 2.0**-4, 2.0**-4), **TOL)
    check_jacobian(lambda p, r: ops.add_root(p, r, insert_index=3), (poses, poses[:, :1]), wrt=(0, 1), **TOL)
    check_jacobian(lambda p, v: ops.frames_as_columns(ops.append_visibility(p, v)),
                   (poses, poses[..., 0]), wrt=(0, 1), **TOL)


def test_image_pose_lifting_encode_decode():
    """Encode (labels and keypoint labels) w.r.t. the keypoints, the target
    and all four statistics, with a removed root; second order in the target
    statistics, where the label is rational; decode w.r.t. the labels, the
    root and the statistics. Measured: 2.5e-8 w.r.t. the target (relative
    3e-8: the derivative itself passes through the float32 root), below 3e-10
    elsewhere."""
    rng = np.random.default_rng(81)
    kp = rng.uniform(0.0, 10.0, (2, KL, 2))
    target = lifting_target(rng, 2)
    km, ks = lifting_stats(rng, KL, 2)
    tm, ts = lifting_stats(rng, KL - 1, CL)

    def encode(kp, target, km, ks, tm, ts):
        codec = jaxcodecs.ImagePoseLifting(num_keypoints=KL, root_index=4, remove_root=True, concat_vis=True,
                                           keypoints_mean=km, keypoints_std=ks, target_mean=tm, target_std=ts)
        enc = codec.encode(kp, None, target)
        return jnp.concatenate([enc["lifting_target_label"].ravel(), enc["keypoint_labels"].ravel()])

    steps = (None, STEP32, None, None, None, None)
    check_jacobian(encode, (kp, target, km, ks, tm, ts), wrt=range(6), abs_step=steps, **TOL)
    check_jacobian(jacobian_of(encode, 5), (kp, target, km, ks, tm, ts), wrt=(4, 5), **HESS)

    def decode(encoded, root, tm, ts):
        codec = jaxcodecs.ImagePoseLifting(num_keypoints=KL, root_index=4, remove_root=True,
                                           target_mean=tm, target_std=ts)
        return codec.decode(encoded, root)[0]

    check_jacobian(decode, (rng.normal(size=(2, KL - 1, CL)), rng.normal(size=(2, CL)), tm, ts),
                   wrt=range(4), **TOL)


def test_video_pose_lifting_encode_decode():
    """Encode w.r.t. the keypoints (screen normalisation), the target (a
    two-joint root) and the camera ``f``, ``c``; decode w.r.t. the labels
    and the root (re-inserted). Measured: 2e-10."""
    rng = np.random.default_rng(82)
    kp = rng.uniform(0.0, 1000.0, (3, KL, 2))
    target = rng.normal(size=(3, KL, CL))
    f, c = rng.uniform(1100.0, 1200.0, (2, 1)), rng.uniform(480.0, 520.0, (2, 1))

    def encode(kp, target, f, c):
        codec = jaxcodecs.VideoPoseLifting(num_keypoints=KL, root_index=[1, 4], normalize_camera=True)
        enc = codec.encode(kp, None, target, None, {"w": 1000.0, "h": 800.0, "f": f, "c": c})
        return jnp.concatenate([enc["lifting_target_label"].ravel(), enc["keypoint_labels"].ravel(),
                                enc["target_root"].ravel(), enc["camera_param"]["f"].ravel(),
                                enc["camera_param"]["c"].ravel()])

    check_jacobian(encode, (kp, target, f, c), wrt=range(4), **TOL)

    codec = jaxcodecs.VideoPoseLifting(num_keypoints=KL, root_index=2, remove_root=True)
    check_jacobian(lambda e, r: codec.decode(e, r)[0],
                   (rng.normal(size=(3, KL - 1, CL)), rng.normal(size=(3, 1, CL))), wrt=(0, 1), **TOL)


def test_motionbert_encode_decode():
    """Encode (both modes, with the camera projection and its depth factor)
    w.r.t. the keypoints, the target and ``f`` (``c`` cancels: the labels
    are root-relative and the factor a difference of projections); decode
    w.r.t. the labels, ``w`` and the factor (``h`` only shifts every joint
    by ``h / 2``, which the root-relative output cancels). Measured: 5e-10."""
    rng = np.random.default_rng(83)
    kp = rng.uniform(0.0, 1280.0, (2, KL, 2))
    target = np.concatenate([rng.normal(size=(2, KL, 2)), rng.uniform(3.0, 5.0, (2, KL, 1))], -1)
    f, c = rng.uniform(1100.0, 1200.0, (2, 1)), rng.uniform(480.0, 520.0, (2, 1))

    def encode(kp, target, f, c):
        out = []
        for mode in ("test", "train"):
            codec = jaxcodecs.MotionBERTLabel(num_keypoints=KL, root_index=2, mode=mode)
            enc = codec.encode(kp, None, target, None, {"w": 1280.0, "h": 720.0, "f": f, "c": c})
            out += [enc["lifting_target_label"].ravel(), enc["keypoint_labels"].ravel(), enc["factor"].ravel()]
        return jnp.concatenate(out)

    check_jacobian(encode, (kp, target, f, c), wrt=range(3), **TOL)

    codec = jaxcodecs.MotionBERTLabel(num_keypoints=KL, root_index=2, rootrel=True, mmpose_compat=False)
    args = (rng.normal(size=(3, KL, CL)), rng.uniform(500.0, 1500.0, 3), rng.uniform(500.0, 1500.0, 3),
            rng.uniform(0.5, 4.0, 3))
    check_jacobian(lambda e, w, h, s: codec.decode(e, w, h, s)[0], args, wrt=(0, 1, 3), **TOL)
