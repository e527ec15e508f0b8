"""SimCCLabel beyond the golden vectors.

* encode / decode against NumPy float64 loop re-implementations of MMPose's
  formulas (MMPOSE_BEHAVIOUR §2.6, R4), jitted and un-jitted, both modes;
* sub-pixel round trips of ``mmpose_compat=False`` with the stated bounds;
* the visibility (from log-blurred vectors in compat mode, from the vectors
  given in exact mode);
* bad input (gradients: tests/test_gradients.py).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxcodecs import SimCCLabel
from jaxcodecs.codecs.simcc import dark_kernel_size

INPUT = (192, 256)


# ------------------------------------------------------------ NumPy models
def lengths(ratio, size=INPUT):
    return int(np.round(size[0] * ratio)), int(np.round(size[1] * ratio))


def np_gaussian_labels(kp, vis, ratio, sigma, normalize=True, exact=False):
    kp, vis = np.asarray(kp, np.float64), np.asarray(vis, np.float64)
    n_inst, n_kp = vis.shape
    sizes = lengths(ratio)
    labels = [np.zeros((n_inst, n_kp, length)) for length in sizes]
    weights = vis.copy()
    for n in range(n_inst):
        for k in range(n_kp):
            if vis[n, k] < 0.5:
                continue
            centre = kp[n, k, :2] * np.float32(ratio)
            if not exact:
                centre = np.round(centre.astype(np.float32))
            rows = []
            for axis in range(2):
                mu, s, length = centre[axis], sigma[axis], sizes[axis]
                if exact:
                    outside = mu + 3 * s < 0 or mu - 3 * s > length - 1
                else:
                    outside = mu - 3 * s >= length or mu + 3 * s + 1 < 0
                if outside:
                    break
                row = np.exp(-((np.arange(length) - mu) ** 2) / (2 * s * s))
                rows.append(row / (s * math.sqrt(2 * math.pi)) if normalize else row)
            if len(rows) < 2:
                weights[n, k] = 0
                continue
            labels[0][n, k], labels[1][n, k] = rows
    return labels[0], labels[1], weights


def np_standard_labels(kp, vis, ratio, lsw):
    kp, vis = np.asarray(kp, np.float64), np.asarray(vis, np.float64)
    sizes = lengths(ratio)
    labels = [np.zeros(vis.shape + (length,)) for length in sizes]
    weights = vis.copy()
    for n, k in np.ndindex(*vis.shape):
        if vis[n, k] < 0.5:
            continue
        mu = np.round((kp[n, k, :2] * np.float32(ratio)).astype(np.float32)).astype(int)
        if any(m < 0 or m >= length for m, length in zip(mu, sizes)):
            weights[n, k] = 0
            continue
        for axis in range(2):
            labels[axis][n, k] = lsw / (sizes[axis] - 1)
            labels[axis][n, k, mu[axis]] = 1 - lsw
    return labels[0], labels[1], weights


def np_argmax(sx, sy):
    loc = np.stack([np.argmax(sx, -1), np.argmax(sy, -1)], -1).astype(np.float64)
    score = np.minimum(sx.max(-1), sy.max(-1))
    loc[score <= 0] = -1
    return loc, score


def np_fit1d(row, i, sigma, radius, max_step):
    """The known-width Gaussian fit of one vector around bin ``i`` (float64):
    weighted least squares of the log over the in-vector bins within
    ``radius`` that exceed 1e-3 of the window's largest (weights v^2), then
    one Gauss-Newton step of the fit of the values; None where undefined."""
    bins = np.arange(i - radius, i + radius + 1)
    bins = bins[(bins >= 0) & (bins < row.size)]
    v = row[bins].astype(np.float64)
    keep = (v > 1e-3 * v.max()) & (v > 0)
    d, v = (bins - i)[keep].astype(np.float64), v[keep]
    if v.size < 2:
        return None
    design = np.stack([np.ones_like(d), d], -1) * v[:, None]
    a, b = np.linalg.lstsq(design, (np.log(v) + d * d / (2 * sigma**2)) * v, rcond=None)[0]
    mu = b * sigma**2
    level = np.exp(a + mu * mu / (2 * sigma**2))
    g = np.exp(-((d - mu) ** 2) / (2 * sigma**2))
    jac = np.stack([g, level * g * (d - mu) / sigma**2], -1)
    mu += np.linalg.lstsq(jac, v - level * g, rcond=None)[0][1]
    return i + mu if abs(mu) <= max_step else None


def np_dark(loc, simcc, k, npref, exact=False, sigma=None, radius=None):
    """R4 per row, with MMPose's edge replication (compat) or, in the exact
    mode, the known-width fit over ``radius`` bins each way (by default
    ``ceil(2 sigma)``; the codec fits both axes with the larger) within
    ``k // 2 + 2`` bins of an end, and elsewhere the inward stencil,
    maximum-only step and a clamp of ``max(1.5, radius / 2)`` bins."""
    logs = np.log(np.clip(npref.blur1d_rescaled(simcc, k), 1e-3, 50))
    out = np.array(loc, np.float64)
    length = simcc.shape[-1]
    if radius is None:
        radius = int(np.ceil(2 * sigma)) if exact else 0
    clamp = max(1.5, radius / 2)
    for idx in np.ndindex(*loc.shape):
        if loc[idx] == -1:
            continue
        i = int(loc[idx])
        if exact and min(i, length - 1 - i) < k // 2 + 2:
            fitted = np_fit1d(simcc[idx], i, sigma, radius, clamp)
            if fitted is not None:
                out[idx] = fitted
                continue
        c = min(max(i, 2), length - 3) if exact else i
        row = logs[idx]
        at = lambda o: row[min(max(c + o, 0), length - 1)]  # noqa: E731
        d = 0.5 * (at(1) - at(-1))
        dd = 1e-9 + 0.25 * (at(2) - 2 * at(0) + at(-2))
        if exact:
            if dd < 0:
                out[idx] = min(max(c - d / dd, i - clamp), i + clamp)
        elif dd != 0:
            out[idx] = i - d / dd
    return out


def np_softmax_max(x, scale):
    z = x * scale
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(-1, keepdims=True)).max(-1)


def random_keypoints(rng, n_inst=3, n_kp=11, spill=20.0):
    w, h = INPUT
    kp = np.stack([rng.uniform(-spill, w + spill, (n_inst, n_kp)),
                   rng.uniform(-spill, h + spill, (n_inst, n_kp))], -1).astype(np.float32)
    kp[0, :3] = [[10.25, 11.25], [12.75, 0.0], [191.75, 255.25]]  # half-bin rounding at ratio 2
    vis = (rng.random((n_inst, n_kp)) > 0.2).astype(np.float32)
    vis[0, 3] = 0.4
    return kp, vis


# ------------------------------------------------------------------ encode
@pytest.mark.parametrize("compat", [True, False])
@pytest.mark.parametrize("sigma,ratio,normalize", [(6.0, 2.0, True), ((4.9, 5.66), 3.0, False), (2.5, 1.5, True)])
def test_gaussian_encode_matches_numpy(variant, compat, sigma, ratio, normalize):
    rng = np.random.default_rng(0)
    kp, vis = random_keypoints(rng)
    codec = SimCCLabel(INPUT, sigma=sigma, simcc_split_ratio=ratio, normalize=normalize, mmpose_compat=compat)
    enc = variant(codec.encode)(kp, vis)
    pair = sigma if isinstance(sigma, tuple) else (sigma, sigma)
    rx, ry, rw = np_gaussian_labels(kp, vis, ratio, pair, normalize, exact=not compat)
    np.testing.assert_allclose(enc["keypoint_x_labels"], rx, atol=2e-6, rtol=1e-5)
    np.testing.assert_allclose(enc["keypoint_y_labels"], ry, atol=2e-6, rtol=1e-5)
    np.testing.assert_array_equal(enc["keypoint_weights"], rw)
    assert enc["keypoint_x_labels"].shape == (3, 11, lengths(ratio)[0])


@pytest.mark.parametrize("lsw,ratio", [(0.0, 2.0), (0.1, 3.0), (0.3, 1.5)])
def test_standard_encode_matches_numpy(variant, lsw, ratio):
    rng = np.random.default_rng(1)
    kp, vis = random_keypoints(rng)
    codec = SimCCLabel(INPUT, smoothing_type="standard", simcc_split_ratio=ratio, label_smooth_weight=lsw)
    enc = variant(codec.encode)(kp, vis)
    rx, ry, rw = np_standard_labels(kp, vis, ratio, lsw)
    np.testing.assert_allclose(enc["keypoint_x_labels"], rx, atol=1e-7)
    np.testing.assert_allclose(enc["keypoint_y_labels"], ry, atol=1e-7)
    np.testing.assert_array_equal(enc["keypoint_weights"], rw)
    # Standard labels carry no sub-bin centre: both modes agree. The two
    # modes are two programs, which a compiler may fuse differently (XLA:GPU
    # contracts a multiply-add into an FMA in one of them: 1 ulp), so the
    # labels agree to 2 ulp; the weights exactly.
    exact = variant(SimCCLabel(INPUT, smoothing_type="standard", simcc_split_ratio=ratio,
                               label_smooth_weight=lsw, mmpose_compat=False).encode)(kp, vis)
    assert set(enc) == set(exact) == {"keypoint_x_labels", "keypoint_y_labels", "keypoint_weights"}
    np.testing.assert_array_equal(enc["keypoint_weights"], exact["keypoint_weights"])
    for key in ("keypoint_x_labels", "keypoint_y_labels"):
        np.testing.assert_allclose(enc[key], exact[key], rtol=2 * np.finfo(np.float32).eps, atol=0)


def test_exact_labels_are_centred_on_the_subpixel_position():
    """Exact mode: the label's mean (over a wide axis) is kp * ratio; compat
    mode: the rounded bin."""
    kp = np.array([[[50.3, 100.7]]], np.float32)
    for compat, expected in ((False, kp[0, 0] * 2), (True, np.round(kp[0, 0] * 2))):
        enc = SimCCLabel(INPUT, sigma=3.0, mmpose_compat=compat).encode(kp)
        for axis, key in enumerate(("keypoint_x_labels", "keypoint_y_labels")):
            row = np.asarray(enc[key][0, 0], np.float64)
            mean = (row * np.arange(row.size)).sum() / row.sum()
            assert abs(mean - expected[axis]) < 1e-4


# ------------------------------------------------------------------ decode
def test_argmax_decode_matches_numpy(variant):
    rng = np.random.default_rng(2)
    lx, ly = lengths(2.0)
    sx = rng.integers(0, 6, (2, 9, lx)).astype(np.float32)  # many ties: first maximum wins
    sy = rng.integers(0, 6, (2, 9, ly)).astype(np.float32)
    sx[0, 1] = 0.0  # no peak on one axis: both coordinates are -1
    sy[1, 2] = -rng.random(ly).astype(np.float32)
    codec = SimCCLabel(INPUT)
    kp, scores = variant(codec.decode)(sx, sy)
    loc, ref_scores = np_argmax(sx, sy)
    np.testing.assert_array_equal(kp, loc / 2.0)
    np.testing.assert_array_equal(scores, ref_scores)
    assert kp[0, 1].tolist() == [-0.5, -0.5]
    # (K, L) input gets an instance axis.
    kp2, scores2 = codec.decode(sx[0], sy[0])
    assert kp2.shape == (1, 9, 2) and scores2.shape == (1, 9)
    np.testing.assert_array_equal(kp2[0], kp[0])


@pytest.mark.parametrize("compat", [True, False])
def test_dark_decode_matches_numpy(variant, npref, compat):
    rng = np.random.default_rng(3)
    kp, vis = random_keypoints(rng, spill=0.0)
    codec = SimCCLabel(INPUT, sigma=(3.0, 4.0), use_dark=True, mmpose_compat=compat)
    enc = codec.encode(kp, np.ones_like(vis))
    sx = np.asarray(enc["keypoint_x_labels"]) * rng.uniform(0.9, 1.1, enc["keypoint_x_labels"].shape)
    sy = np.asarray(enc["keypoint_y_labels"]) * rng.uniform(0.9, 1.1, enc["keypoint_y_labels"].shape)
    sx, sy = sx.astype(np.float32), sy.astype(np.float32)
    sx[1, 4] = 0.0  # an all-zero row: location -1, not refined, finite
    out, _ = variant(codec.decode)(sx, sy)
    loc, _ = np_argmax(sx, sy)
    kx, ky = dark_kernel_size(3.0), dark_kernel_size(4.0)
    ref = np.stack([np_dark(loc[..., 0], sx, kx, npref, exact=not compat, sigma=3.0, radius=8),
                    np_dark(loc[..., 1], sy, ky, npref, exact=not compat, sigma=4.0, radius=8)], -1) / 2.0
    assert np.isfinite(np.asarray(out)).all()
    np.testing.assert_allclose(out, ref, atol=2e-3)
    assert np.asarray(out)[1, 4].tolist() == [-0.5, -0.5]


@pytest.mark.parametrize("use_dark,compat,visibility", [(False, True, False), (True, True, True), (True, False, False)])
@pytest.mark.parametrize("instance_axis", [True, False])
def test_batch_decode_is_decode_per_sample(use_dark, compat, visibility, instance_axis):
    """``batch_decode`` is ``decode`` per sample, with ``(B, K, L)`` input
    read as one instance per sample (jitted against op-by-op)."""
    rng = np.random.default_rng(11)
    kp, vis = random_keypoints(rng, n_inst=2, spill=0.0)
    codec = SimCCLabel(INPUT, sigma=(3.0, 4.0), use_dark=use_dark, decode_visibility=visibility,
                       mmpose_compat=compat)
    enc = codec.encode(kp, np.ones_like(vis))
    sx = np.asarray(enc["keypoint_x_labels"]) * rng.uniform(0.9, 1.1, (3,) + enc["keypoint_x_labels"].shape)
    sy = np.asarray(enc["keypoint_y_labels"]) * rng.uniform(0.9, 1.1, (3,) + enc["keypoint_y_labels"].shape)
    sx[1, 0, 2] = 0.0
    if not instance_axis:
        sx, sy = sx[:, 0], sy[:, 0]
    batched = jax.jit(codec.batch_decode)(sx.astype(np.float32), sy.astype(np.float32))
    for b in range(3):
        single = codec.decode(sx[b].astype(np.float32), sy[b].astype(np.float32))
        # (rtol, atol): float32 rounding of one compiled call against op-by-op
        # calls moves a DARK step near an end by ~1e-5 px; the compat DARK
        # visibility amplifies it 900-fold (docs/parity.md).
        tolerances = ((0, 1e-4), (1e-6, 1e-7), (5e-4, 0))
        for got, ref, tol in zip(jax.tree_util.tree_leaves(batched), jax.tree_util.tree_leaves(single), tolerances):
            assert got.shape[1:] == ref.shape
            np.testing.assert_allclose(got[b], ref, rtol=tol[0], atol=tol[1])


def test_gaussian_encode_is_the_same_with_a_traced_sigma():
    """Compat labels are the same with a concrete sigma and with a traced one
    (the codec passed as a jit argument); a sigma wider than the vector
    follows the NumPy formula."""
    rng = np.random.default_rng(12)
    kp, vis = random_keypoints(rng)
    for sigma, normalize in ((2.5, True), (0.0, True), (4.9, False)):
        codec = SimCCLabel(INPUT, sigma=sigma, normalize=normalize)
        table = codec.encode(kp, vis)
        traced = jax.jit(lambda c: c.encode(kp, vis))(codec)
        for key in table:
            np.testing.assert_allclose(table[key], traced[key], rtol=1e-6, atol=1e-9)
    wide = SimCCLabel((12, 10), sigma=30.0, simcc_split_ratio=1.0)  # sigma > L: per bin
    rx, ry, _ = np_gaussian_labels(kp[:, :4] / 16, vis[:, :4], 1.0, (30.0, 30.0))
    got = wide.encode(kp[:, :4] / 16, vis[:, :4])
    np.testing.assert_allclose(got["keypoint_x_labels"], rx[..., :12], rtol=1e-5, atol=1e-7)


def test_dark_kernel_sizes():
    """MMPose's rule (20 sigma - 7) // 3, made odd (values from the behaviour reference)."""
    assert [dark_kernel_size(s) for s in (6.0, 4.9, 5.66, 3.0)] == [37, 29, 35, 17]
    assert dark_kernel_size(0.3) == 1  # MMPose would pass a negative size to OpenCV
    assert SimCCLabel(INPUT, sigma=(4.9, 5.66)).dark_kernel_sizes == (29, 35)


def test_dark_with_traced_sigma_is_a_clear_error():
    codec = SimCCLabel(INPUT, sigma=6.0, use_dark=True)
    lx, ly = lengths(2.0)
    x, y = jnp.ones((1, 2, lx)), jnp.ones((1, 2, ly))
    with pytest.raises(TypeError, match="sigma"):
        jax.jit(lambda c: c.decode(x, y))(codec)


@functools.lru_cache(maxsize=None)
def _round_trips(sigma, ratio):
    """One jitted function per (sigma, ratio): the DARK and the plain argmax
    round trips of ``mmpose_compat=False`` codecs, on two keypoint sets."""
    dark = SimCCLabel(INPUT, sigma=sigma, simcc_split_ratio=ratio, use_dark=True, mmpose_compat=False)
    plain = dark.replace(use_dark=False)
    return jax.jit(lambda kp_dark, kp_plain: (dark.round_trip(kp_dark)[0], plain.round_trip(kp_plain)[0]))


def bin_coordinate(lo, hi, ratio):
    """Hypothesis strategy: one float32 input-px coordinate whose bin
    position ``x * ratio`` lies in ``[lo, hi]`` bins: a third the ends (the
    documented margin itself, the first / last bin), a third bin centres and
    half bins (where two bins tie) inside, a third any float32 in between."""
    low, high = np.float32(lo / ratio), np.float32(hi / ratio)
    grid = np.float32(np.arange(np.ceil(2 * lo), np.floor(2 * hi) + 1) / 2 / ratio)
    grid = [float(v) for v in grid if low <= v <= high]
    return st.one_of(st.sampled_from([float(low), float(high)]), st.sampled_from(grid),
                     st.floats(float(low), float(high), width=32))


def bin_keypoints(data, ratio, margin, num=17):
    """(1, num, 2) float32 keypoints at least ``margin`` bins from both ends
    of each axis's vector (a negative margin reaches beyond the end bins)."""
    length_x, length_y = lengths(ratio)
    xs = bin_coordinate(margin, length_x - 1 - margin, ratio)
    ys = bin_coordinate(margin, length_y - 1 - margin, ratio)
    points = data.draw(st.lists(st.tuples(xs, ys), min_size=num, max_size=num))
    return np.array(points, np.float32)[None]


@pytest.mark.parametrize("ratio", [1.0, 2.0, 3.0])
@pytest.mark.parametrize("sigma", [2.0, 3.0, 4.9, 6.0])
@settings(max_examples=25)
@given(data=st.data())
def test_exact_round_trip(sigma, ratio, data):
    """``mmpose_compat=False``. DARK: keypoints at least 3 sigma bins from
    the ends, exactly 3 sigma included, are recovered within 0.05 input px
    (README) and 1e-3 px (docs/parity.md; measured 3.4e-4 at the margin;
    closer to the ends the zero-padded blur biases the step). Plain argmax: anywhere on the vector
    (bin position in [-0.5, L - 0.5], the half-bin ties included) the nearest
    bin, within half a bin, 0.5 / ratio px, plus float32 rounding of
    ``x * ratio`` (1e-4 px)."""
    kp_dark = bin_keypoints(data, ratio, 3 * sigma)
    kp_plain = bin_keypoints(data, ratio, -0.5)
    dark, plain = _round_trips(sigma, ratio)(kp_dark, kp_plain)
    err_dark = np.abs(np.asarray(dark) - kp_dark).max()
    err_plain = np.abs(np.asarray(plain) - kp_plain).max()
    assert err_dark < 0.05, err_dark
    assert err_dark < 1e-3, err_dark
    assert err_plain <= 0.5 / ratio + 1e-4, err_plain


def test_exact_dark_stays_within_a_bin_near_the_ends():
    """Near the ends the zero-padded blur skews DARK; exact mode keeps the
    step within one bin of the maximum (so within 1.5 bins of the keypoint),
    where MMPose's edge-replicated stencil can be many bins off."""
    rng = np.random.default_rng(4)
    ratio, sigma = 1.0, 6.0
    x = np.concatenate([rng.uniform(0, 3, 64), rng.uniform(188, 191, 64)])
    kp = np.stack([x, np.full_like(x, 128.3)], -1)[:, None, None, :].astype(np.float32)
    codec = SimCCLabel(INPUT, sigma=sigma, simcc_split_ratio=ratio, use_dark=True, mmpose_compat=False)
    out = np.asarray(jax.jit(jax.vmap(codec.round_trip))(kp)[0])
    assert np.abs(out - kp).max() <= 1.5 / ratio + 1e-4


@pytest.mark.parametrize("compat", [True, False])
def test_visibility(npref, compat):
    rng = np.random.default_rng(5)
    kp, vis = random_keypoints(rng, spill=0.0)
    codec = SimCCLabel(INPUT, sigma=(5.0, 6.0), use_dark=True, decode_visibility=True, mmpose_compat=compat)
    enc = codec.encode(kp, np.ones_like(vis))
    sx, sy = np.asarray(enc["keypoint_x_labels"]), np.asarray(enc["keypoint_y_labels"])
    _, (scores, visibility) = jax.jit(codec.decode)(sx, sy)
    if compat:  # policy 13: from the log-blurred vectors, as MMPose
        mx = np.log(np.clip(npref.blur1d_rescaled(sx, dark_kernel_size(5.0)), 1e-3, 50))
        my = np.log(np.clip(npref.blur1d_rescaled(sy, dark_kernel_size(6.0)), 1e-3, 50))
        rtol = 1e-3  # float32 rounding amplified by beta * sigma = 900
    else:
        mx, my, rtol = sx, sy, 1e-5
    ref = np.minimum(np_softmax_max(mx, 150.0 * 5.0), np_softmax_max(my, 150.0 * 6.0))
    np.testing.assert_allclose(visibility, ref, rtol=rtol)
    np.testing.assert_array_equal(scores, np_argmax(sx, sy)[1])
    assert np.all((np.asarray(visibility) > 0) & (np.asarray(visibility) <= 1))


# ------------------------------------------------------------- soft decode
@pytest.mark.parametrize("method,atol", [("soft_argmax", 0.02), ("ipr", 1e-3), ("dsnt", 1e-3)])
def test_decode_soft_recovers_exact_targets(method, atol):
    """Exact-mode normalised Gaussian labels (sigma 4 bins), keypoints >= 6
    sigma bins from the ends: each soft method recovers the keypoint (the
    expectation of a sampled symmetric Gaussian is its centre). IPR / DSNT:
    measured 3e-5 px. Soft-argmax with the default beta (150 * sigma) sharpens
    the label to a 0.5-bin-wide peak, whose sampling bias is 0.009 px at
    most (measured over 512 keypoints)."""
    rng = np.random.default_rng(6)
    kp = np.stack([rng.uniform(12, 180, 17), rng.uniform(12, 244, 17)], -1)[None].astype(np.float32)
    codec = SimCCLabel(INPUT, sigma=4.0, mmpose_compat=False)
    enc = codec.encode(kp)
    out, scores = jax.jit(lambda x, y: codec.decode_soft(x, y, method=method))(
        enc["keypoint_x_labels"], enc["keypoint_y_labels"])
    np.testing.assert_allclose(out, kp, atol=atol)
    assert scores.shape == (1, 17)


def test_decode_soft_matches_numpy_expectation():
    rng = np.random.default_rng(7)
    lx, ly = lengths(2.0)
    sx = rng.normal(size=(2, 5, lx)).astype(np.float32)
    sy = rng.normal(size=(2, 5, ly)).astype(np.float32)
    codec = SimCCLabel(INPUT)
    out, _ = codec.decode_soft(sx, sy, beta=(3.0, 2.0))
    for axis, (s, beta) in enumerate(((sx, 3.0), (sy, 2.0))):
        z = np.exp(beta * (s - s.max(-1, keepdims=True)).astype(np.float64))
        p = z / z.sum(-1, keepdims=True)
        np.testing.assert_allclose(out[..., axis], (p * np.arange(s.shape[-1])).sum(-1) / 2.0, rtol=1e-4)
    # beta=None is decode_beta * sigma per axis.
    default, _ = codec.decode_soft(sx, sy)
    explicit, _ = codec.decode_soft(sx, sy, beta=150.0 * 6.0)
    np.testing.assert_allclose(default, explicit, rtol=1e-6)


def test_decode_soft_is_stable():
    codec = SimCCLabel(INPUT)
    lx, ly = lengths(2.0)
    flat_x, flat_y = jnp.zeros((1, 2, lx)), jnp.zeros((1, 2, ly))
    for method in ("soft_argmax", "ipr"):
        out, _ = codec.decode_soft(flat_x, flat_y, method=method, beta=1e6 if method == "soft_argmax" else None)
        np.testing.assert_allclose(out, np.broadcast_to([(lx - 1) / 4.0, (ly - 1) / 4.0], (1, 2, 2)), rtol=1e-6)
    peaked_x = flat_x.at[..., 100].set(1.0)
    peaked_y = flat_y.at[..., 30].set(1.0)
    out, _ = codec.decode_soft(peaked_x, peaked_y, beta=1e6)
    np.testing.assert_allclose(out, np.broadcast_to([50.0, 15.0], (1, 2, 2)))


# ------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"smoothing_type": "uniform"}, "smoothing_type"),
        ({"label_smooth_weight": 0.1}, "label_smooth_weight"),
        ({"smoothing_type": "standard", "label_smooth_weight": 1.5}, "label_smooth_weight"),
        ({"smoothing_type": "standard", "label_smooth_weight": -0.1}, "label_smooth_weight"),
        ({"sigma": (1.0, 2.0, 3.0)}, "sigma"),
        ({"simcc_split_ratio": 0.0}, "simcc_split_ratio"),
        ({"sigma": -1.0}, "sigma"),
    ],
)
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SimCCLabel(INPUT, **kwargs)


def test_bad_decode_input():
    codec = SimCCLabel(INPUT)
    lx, ly = lengths(2.0)
    with pytest.raises(ValueError, match="simcc_y"):
        codec.decode(np.ones((1, 17, lx)), np.ones((1, 16, ly)))
    with pytest.raises(ValueError, match="simcc_y"):
        codec.decode(np.ones((1, 17, lx)), np.ones((17, ly)))
    with pytest.raises(ValueError, match="simcc_x"):
        codec.decode(np.ones((lx,)), np.ones((ly,)))
    with pytest.raises(ValueError, match="method"):
        codec.decode_soft(np.ones((17, lx)), np.ones((17, ly)), method="median")
    with pytest.raises(ValueError, match="keypoints"):
        codec.encode(np.ones((17, 2)))
