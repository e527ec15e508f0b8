"""Maximum finding (M1) and sub-pixel refinements (R1, Megvii, R2, R3)
against loop-wise NumPy re-implementations of MMPOSE_BEHAVIOUR §1.7 / §1.9,
plus the policies: a location -1 is never refined, an all-zero channel never
yields NaN, inputs are never mutated; and the signs and channel structure of
the gradients w.r.t. heatmap values.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcodecs import ops


@functools.lru_cache(maxsize=None)
def _jitted(name, *static):
    fn = getattr(ops, name)
    if name == "refine_keypoints_quarter":
        return jax.jit(lambda kp, hm: fn(kp, hm, mmpose_compat=static[0]))
    if static:
        return jax.jit(lambda kp, hm: fn(kp, hm, *static))
    return jax.jit(fn)


def _every_pixel(width, height, num_keypoints, frac=0.0):
    """Keypoints (N, K, 2) at every pixel (plus ``frac``), and the no-peak -1."""
    ys, xs = np.mgrid[0:height, 0:width]
    grid = np.stack([xs.ravel(), ys.ravel()], -1).astype(np.float32) + frac
    grid = np.concatenate([grid, [[-1.0, -1.0]]]).astype(np.float32)
    return np.repeat(grid[:, None, :], num_keypoints, axis=1)


# --------------------------------------------------------------------- argmax
def test_argmax_matches_reference_with_ties(variant, npref):
    """Quantised maps have many tied maxima: the first in row-major order wins;
    channels with maximum <= 0 give (-1, -1) and their maximum."""
    rng = np.random.default_rng(0)
    maps = rng.integers(0, 4, size=(6, 9, 7)).astype(np.float32)
    maps[3] = 0.0
    maps[4] = -rng.uniform(0.1, 1.0, size=(9, 7))
    maps[5, 8, 6] = 10.0  # maximum in the last pixel
    locs, vals = variant(ops.heatmap_argmax)(maps)
    ref_locs, ref_vals = npref.argmax(maps)
    np.testing.assert_array_equal(locs, ref_locs)
    np.testing.assert_array_equal(vals, ref_vals.astype(np.float32))
    assert jnp.issubdtype(locs.dtype, jnp.floating)


def test_argmax_batched_and_rank_error(npref):
    rng = np.random.default_rng(1)
    maps = rng.normal(size=(3, 4, 5, 6)).astype(np.float32)
    locs, vals = jax.jit(ops.heatmap_argmax)(maps)
    assert locs.shape == (3, 4, 2) and vals.shape == (3, 4)
    for b in range(3):
        ref_locs, ref_vals = npref.argmax(maps[b])
        np.testing.assert_array_equal(locs[b], ref_locs)
        np.testing.assert_array_equal(vals[b], ref_vals.astype(np.float32))
    with pytest.raises(ValueError, match="heatmaps"):
        ops.heatmap_argmax(np.zeros((5,)))


def _ranked_argmax_reference(maps):
    """Loop over pixels: the first maximum in row-major order with NaN ranked
    as +inf, its raw value, and (-1, -1) where that value is <= 0."""
    locs, vals = [], []
    for channel in maps:
        ranked = np.where(np.isnan(channel), np.inf, channel.astype(np.float64))
        best, at = None, (0, 0)
        for y in range(channel.shape[0]):
            for x in range(channel.shape[1]):
                if best is None or ranked[y, x] > best:
                    best, at = ranked[y, x], (x, y)
        value = channel[at[1], at[0]]
        no_peak = float(value) <= 0  # False for NaN
        locs.append([-1.0, -1.0] if no_peak else [float(at[0]), float(at[1])])
        vals.append(value)
    return np.asarray(locs), np.asarray(vals)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, jnp.bfloat16, np.int32])
def test_argmax_non_finite_and_huge_values(variant, dtype):
    """NaN ranks as +inf (ties with +inf: the first wins); rows holding both
    infinities, only -inf, or finite values near the dtype's largest (whose
    sums overflow to both infinities) are ranked by their true maximum."""
    big = float(jnp.finfo(dtype).max) if jnp.issubdtype(dtype, jnp.floating) else 2**31 - 1
    maps = np.zeros((8, 5, 6), np.float64)
    maps[0, 1, 2], maps[0, 3, 1] = np.nan, 2.0          # NaN wins over a larger finite
    maps[1, 0, 4], maps[1, 2, 0] = np.inf, np.nan        # +inf first: tie, the first wins
    maps[2, 1, :] = [big, big, -big, -big, big, -big]    # finite, sums overflow both ways
    maps[2, 3, 3] = big                                  # a later tie: row 1 wins
    maps[3, 2, 1], maps[3, 2, 4], maps[3, 4, 4] = np.inf, -np.inf, 1.0
    maps[4] = -np.inf
    maps[4, 4, 5] = -1.0                                 # only -inf and a negative: no peak
    maps[5, 1, 1], maps[5, 1, 2], maps[5, 3, 3] = -np.inf, 0.5, 0.75
    maps[6] = np.nan                                     # all NaN: the first pixel
    maps[7, :, :] = np.arange(30).reshape(5, 6) % 7      # ties of the finite maximum
    if not jnp.issubdtype(dtype, jnp.floating):
        maps = np.nan_to_num(maps, nan=0.0, posinf=big, neginf=-big)
    maps = np.asarray(maps.astype(np.float64), dtype=dtype) if dtype is not jnp.bfloat16 else \
        np.asarray(jnp.asarray(maps, jnp.bfloat16))
    locs, vals = variant(ops.heatmap_argmax)(maps)
    want_locs, want_vals = _ranked_argmax_reference(np.asarray(maps))
    np.testing.assert_array_equal(np.asarray(locs, np.float64), want_locs)
    np.testing.assert_array_equal(np.asarray(vals, np.float64), np.asarray(want_vals, np.float64))


# ------------------------------------------------------------ quarter pixel
@pytest.mark.parametrize("mmpose_compat", [True, False])
@pytest.mark.parametrize("frac", [0.0, 0.4])
def test_quarter_refinement_at_every_pixel(mmpose_compat, frac, npref):
    """Every pixel of a 7x6 map (all border conditions), on quantised maps
    (ties give sign 0), both MMPose's asymmetric and the symmetric bounds."""
    rng = np.random.default_rng(2)
    maps = rng.integers(0, 3, size=(2, 6, 7)).astype(np.float32)
    kp = _every_pixel(7, 6, 2, frac)
    out = _jitted("refine_keypoints_quarter", mmpose_compat)(kp, maps)
    np.testing.assert_array_equal(out, npref.refine_quarter(kp, maps, mmpose_compat).astype(np.float32))
    np.testing.assert_array_equal(out[-1], -1.0)  # the no-peak location is untouched


def test_quarter_refinement_bounds_differ_only_where_documented():
    """Column 1 / row 1 and row 0 / column 0 are refined only in exact mode."""
    hm = np.zeros((1, 5, 5), np.float32)
    hm[0, :, 2] = 1.0   # x = 1 sees a higher right neighbour
    hm[0, 2, :] += 2.0  # y = 1 sees a higher lower neighbour
    kp = np.array([[[1.0, 1.0]], [[1.0, 0.0]]], np.float32)
    compat = ops.refine_keypoints_quarter(kp, hm, mmpose_compat=True)
    exact = ops.refine_keypoints_quarter(kp, hm, mmpose_compat=False)
    np.testing.assert_array_equal(compat, kp)
    np.testing.assert_array_equal(exact, [[[1.25, 1.25]], [[1.25, 0.0]]])


def test_megvii_refinement_at_every_pixel(variant, npref):
    rng = np.random.default_rng(3)
    maps = rng.integers(0, 3, size=(2, 6, 7)).astype(np.float32)
    kp = _every_pixel(7, 6, 2)
    out = variant(ops.refine_keypoints_megvii)(kp, maps)
    np.testing.assert_array_equal(out, npref.refine_megvii(kp, maps).astype(np.float32))
    np.testing.assert_array_equal(out[-1], -1.0)


# ---------------------------------------------------------------------- DARK
@pytest.mark.parametrize("name,ref_name", [("refine_keypoints_dark", "refine_dark"),
                                           ("refine_keypoints_dark_udp", "refine_dark_udp")])
@pytest.mark.parametrize("ksize", [11, 5])
def test_dark_matches_reference(name, ref_name, ksize, npref):
    """Maxima of noisy Gaussian blobs, interior and on the border, plus the
    border pixels (R2 leaves them; R3 uses edge replication) and -1."""
    rng = np.random.default_rng(ksize)
    maps, _ = npref.gaussian_blob_maps(rng, 12, 20, 24, sigma=2.0, margin=0, noise=0.01)
    locs, _ = ops.heatmap_argmax(maps)
    extra = np.array([[0, 0], [23, 19], [1, 10], [22, 5], [12, 18], [-1, -1]], np.float32)
    kp = np.concatenate([np.asarray(locs)[None], np.repeat(extra[:, None], 12, axis=1)], axis=0)
    out = _jitted(name, ksize)(kp, maps)
    ref = getattr(npref, ref_name)(kp, maps, ksize)
    # Off the maxima the Hessian can be nearly singular (R3 then moves a
    # pixel by tens of px); float32 vs float64 differences scale with the
    # offset there, so the offsets are compared relatively.
    np.testing.assert_allclose(out - kp, ref - kp, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(out[0], ref[0], atol=1e-4)  # at the maxima: absolute
    np.testing.assert_array_equal(out[-1], -1.0)


def test_dark_eager_matches_jit(variant, npref):
    rng = np.random.default_rng(4)
    maps, _ = npref.gaussian_blob_maps(rng, 3, 16, 14, sigma=2.0, margin=3, noise=0.01)
    kp = np.asarray(ops.heatmap_argmax(maps)[0])[None]
    for fn, ref in ((ops.refine_keypoints_dark, npref.refine_dark),
                    (ops.refine_keypoints_dark_udp, npref.refine_dark_udp)):
        out = variant(lambda a, b, f=fn: f(a, b, 5))(kp, maps)
        np.testing.assert_allclose(out, ref(kp, maps, 5), atol=1e-4)


@pytest.mark.parametrize("name", ["refine_keypoints_dark", "refine_keypoints_dark_udp"])
def test_dark_recovers_gaussian_centre(name, npref):
    """On exact Gaussians (σ = 2, ≥ 5 px from the border, 48x64 maps, k = 11)
    one step lands within 2e-3 px of the true centre (measured: at most
    5.8e-4 px for both R2 and R3 over 1000 random centres); the integer
    argmax alone is up to 0.5 px off."""
    rng = np.random.default_rng(11)
    maps, centres = npref.gaussian_blob_maps(rng, 40, 64, 48, sigma=2.0, margin=5)
    kp = np.asarray(ops.heatmap_argmax(maps)[0])[None]
    out = np.asarray(_jitted(name, 11)(kp, maps))[0]
    assert np.abs(kp[0] - centres).max() > 0.3
    assert np.abs(out - centres).max() < 2e-3


# ----------------------------------------------------------- policies 5 & 6
@pytest.mark.parametrize(
    "refine",
    [functools.partial(ops.refine_keypoints_quarter, mmpose_compat=True),
     functools.partial(ops.refine_keypoints_quarter, mmpose_compat=False),
     ops.refine_keypoints_megvii,
     lambda kp, hm: ops.refine_keypoints_dark(kp, hm, 11),
     lambda kp, hm: ops.refine_keypoints_dark_udp(kp, hm, 11)],
    ids=["quarter_compat", "quarter_exact", "megvii", "dark", "dark_udp"],
)
def test_zero_channels_and_no_peak_locations(refine, request):
    """An all-zero channel is never NaN and is not moved (Megvii only adds
    its unconditional half pixel); a location -1 stays -1 even when other
    channels hold a peak (MMPose's R3 reads another channel there)."""
    maps = np.zeros((3, 12, 10), np.float32)
    maps[1, 6, 4] = 1.0
    maps[1, 6, 5] = 0.5
    kp = np.array([[[-1.0, -1.0], [4.0, 6.0], [-1.0, -1.0]],
                   [[5.0, 5.0], [-1.0, -1.0], [3.0, 7.0]]], np.float32)
    out = np.asarray(jax.jit(refine)(kp, maps))
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[0, 0], [-1, -1])
    np.testing.assert_array_equal(out[0, 2], [-1, -1])
    np.testing.assert_array_equal(out[1, 1], [-1, -1])
    half = 0.5 if request.node.callspec.id == "megvii" else 0.0
    np.testing.assert_array_equal(out[1, 0], [5.0 + half, 5.0 + half])  # zero channel, interior
    np.testing.assert_array_equal(out[1, 2], [3.0 + half, 7.0 + half])
    assert out[0, 1, 0] > 4.0  # the real peak moves toward its higher right neighbour


def test_refinements_do_not_mutate_inputs():
    rng = np.random.default_rng(5)
    maps = rng.uniform(0.1, 1.0, size=(2, 10, 10)).astype(np.float32)
    kp = np.array([[[4.0, 5.0], [6.0, 3.0]]], np.float32)
    maps_copy, kp_copy = maps.copy(), kp.copy()
    for fn in (lambda a, b: ops.refine_keypoints_quarter(a, b),
               ops.refine_keypoints_megvii,
               lambda a, b: ops.refine_keypoints_dark(a, b, 3),
               lambda a, b: ops.refine_keypoints_dark_udp(a, b, 3)):
        jax.block_until_ready(jax.jit(fn)(kp, maps))
        np.testing.assert_array_equal(maps, maps_copy)
        np.testing.assert_array_equal(kp, kp_copy)


def test_shape_errors():
    maps = np.zeros((3, 8, 8), np.float32)
    for fn in (ops.refine_keypoints_quarter, ops.refine_keypoints_megvii,
               lambda a, b: ops.refine_keypoints_dark(a, b, 3),
               lambda a, b: ops.refine_keypoints_dark_udp(a, b, 3)):
        with pytest.raises(ValueError, match="keypoints"):
            fn(np.zeros((1, 2, 2), np.float32), maps)        # K = 2 vs 3 channels
        with pytest.raises(ValueError, match="heatmaps"):
            fn(np.zeros((1, 3, 2), np.float32), maps[0])     # rank 2 heatmaps


# ----------------------------------------------------------------- gradients
@pytest.mark.parametrize("name", ["refine_keypoints_dark", "refine_keypoints_dark_udp"])
def test_dark_gradient_signs_and_channels(name, npref):
    """Gaussians plus small positive noise and an offset: positive everywhere,
    inside UDP's clip range [1e-3, 50] after the blur, unique maxima, so no
    clip / maximum kink is active. (The Jacobian's values are checked against
    finite differences in ``test_gradients.py``.)"""
    rng = np.random.default_rng(6)
    maps, _ = npref.gaussian_blob_maps(rng, 3, 24, 20, sigma=2.0, margin=5, noise=0.01)
    maps = jnp.asarray(maps + 0.01)
    kp = jnp.asarray(ops.heatmap_argmax(maps)[0])[None]

    # Analytic sign: raising the right (lower) neighbour of a maximum pulls
    # the refined x (y) toward it; raising the left neighbour pushes it away.
    x, y = (int(v) for v in kp[0, 0])
    jac = jax.jit(jax.jacrev(lambda h: getattr(ops, name)(kp, h, 11)[0, 0]))(maps)
    assert jac[0, 0, y, x + 1] > 0 and jac[0, 0, y, x - 1] < 0
    assert jac[1, 0, y + 1, x] > 0 and jac[1, 0, y - 1, x] < 0
    # Channel 0's keypoint does not depend on channel 1's values.
    np.testing.assert_array_equal(jac[:, 1], 0.0)


# ------------------------------------------------------- Gaussian fit (R4)
def _gaussians(centres, sigma, height, width):
    """NumPy maps ``exp(-(x - mx)^2 / (2 sx^2) - (y - my)^2 / (2 sy^2))``, one per centre."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    sx, sy = sigma
    return np.stack([np.exp(-(xs - mx) ** 2 / (2 * sx * sx) - (ys - my) ** 2 / (2 * sy * sy))
                     for mx, my in centres]).astype(np.float32)


def _fit_reference(maps, keypoints, sigma, radius=3, min_fraction=1e-3, max_step=1.5):
    """The weighted least-squares fit, written with np.linalg.lstsq over the
    usable in-map pixels of each window."""
    out = np.array(keypoints, np.float64)
    _, height, width = maps.shape
    for k, (kx, ky) in enumerate(keypoints):
        cx, cy = int(kx), int(ky)
        if kx < 0 or ky < 0:
            continue
        rows, values = [], []
        for dy in range(-radius, radius + 1):
            for dx in range(-radius, radius + 1):
                if 0 <= cx + dx < width and 0 <= cy + dy < height:
                    rows.append((dx, dy))
                    values.append(float(maps[k, cy + dy, cx + dx]))
        values = np.asarray(values)
        keep = (values > min_fraction * values.max()) & (values > 0)
        d = np.asarray(rows, np.float64)[keep]
        v = values[keep]
        design = np.stack([np.ones(len(v)), d[:, 0], d[:, 1]], -1) * v[:, None]
        rhs = (np.log(v) + d[:, 0] ** 2 / (2 * sigma[0] ** 2) + d[:, 1] ** 2 / (2 * sigma[1] ** 2)) * v
        coef = np.linalg.lstsq(design, rhs, rcond=None)[0]
        step = coef[1:] * np.square(sigma)
        if np.all(np.abs(step) <= max_step):
            out[k] += step
    return out


def test_gaussian_fit_recovers_gaussians_up_to_the_border(variant):
    """Exact Gaussians of the given widths, centred anywhere (within 0.4 px of
    every border, on pixel centres, outside the map by up to 0.45 px): the
    fit returns the centre."""
    rng = np.random.default_rng(11)
    height, width, sigma = 20, 16, (1.5, 2.5)
    centres = np.concatenate([
        rng.uniform([-0.45, -0.45], [width - 0.55, height - 0.55], (40, 2)),
        [[0.0, 0.0], [width - 1.0, height - 1.0], [0.3, 9.5], [7.2, height - 1.3], [-0.45, -0.45]],
    ])
    maps = _gaussians(centres, sigma, height, width)
    located = np.asarray(ops.heatmap_argmax(maps)[0])
    fitted = np.asarray(variant(lambda k, h: ops.refine_keypoints_gaussian_fit(k, h, sigma))(located[None], maps))
    np.testing.assert_allclose(fitted[0], centres, atol=2e-4)


def test_gaussian_fit_matches_a_least_squares_reference():
    """Noisy blobs (some cut by the border, one weak one): the same fit as
    np.linalg.lstsq over the usable in-map pixels."""
    rng = np.random.default_rng(12)
    height, width, sigma = 18, 14, (2.0, 2.0)
    centres = np.array([[1.2, 8.0], [13.1, 3.3], [6.5, 0.4], [7.0, 9.0], [0.2, 17.6], [10.0, 10.0]])
    maps = _gaussians(centres, sigma, height, width) * rng.uniform(0.2, 1.0, (len(centres), 1, 1)).astype(np.float32)
    maps = maps + rng.normal(0, 0.01, maps.shape).astype(np.float32)
    located = np.asarray(ops.heatmap_argmax(maps)[0])
    fitted = np.asarray(jax.jit(lambda k, h: ops.refine_keypoints_gaussian_fit(k, h, sigma))(located[None], maps))
    np.testing.assert_allclose(fitted[0], _fit_reference(maps, located, sigma), atol=2e-4)
    # Leading batch axes: each sample as on its own.
    batch = np.stack([maps, maps[::-1]])
    locs = np.asarray(ops.heatmap_argmax(batch)[0])[:, None]
    both = np.asarray(ops.refine_keypoints_gaussian_fit(locs, batch, sigma))
    np.testing.assert_allclose(both[0, 0], fitted[0], atol=1e-5)


def test_gaussian_fit_leaves_what_it_cannot_fit_unchanged():
    """No peak (-1), an all-zero map, a NaN at the maximum's side, a single
    usable pixel, and a step beyond ``max_step``: the keypoint stays as given
    and is finite."""
    height, width = 10, 10
    maps = _gaussians([[4.0, 4.0]] * 5, (1.5, 1.5), height, width)
    maps[1] = 0.0
    maps[2, 4, 5] = np.nan
    maps[3] = 0.0
    maps[3, 6, 6] = 1.0                               # one usable pixel
    keypoints = np.array([[[-1.0, -1.0], [0.0, 0.0], [4.0, 4.0], [6.0, 6.0], [4.0, 4.0]]], np.float32)
    fitted = np.asarray(ops.refine_keypoints_gaussian_fit(keypoints, maps, 1.5))
    np.testing.assert_array_equal(fitted[0, :4], keypoints[0, :4])
    # A far-off width makes the step from (4, 4) toward a shifted blob exceed 0.1 px.
    shifted = _gaussians([[4.6, 4.0]], (1.5, 1.5), height, width)
    still = np.asarray(ops.refine_keypoints_gaussian_fit(keypoints[:, :1] * 0 + 4.0, shifted, 1.5, max_step=0.1))
    np.testing.assert_array_equal(still, np.full((1, 1, 2), 4.0, np.float32))
    with pytest.raises(ValueError, match="radius"):
        ops.refine_keypoints_gaussian_fit(keypoints, maps, 1.5, radius=0)
    with pytest.raises(ValueError, match="heatmaps"):
        ops.refine_keypoints_gaussian_fit(keypoints, maps[0], 1.5)


def test_gaussian_fit_gradients():
    """Raising the right neighbour of a maximum pulls x toward it, and the
    Jacobian agrees with central differences; the derivative w.r.t. sigma
    exists (finite)."""
    maps = jnp.asarray(_gaussians([[5.3, 4.6]], (2.0, 2.0), 12, 11) + 0.02)
    kp = jnp.asarray(ops.heatmap_argmax(maps)[0])[None]
    fit = jax.jit(lambda h: ops.refine_keypoints_gaussian_fit(kp, h, 2.0)[0, 0])
    jac = np.asarray(jax.jacrev(fit)(maps))
    x, y = (int(v) for v in kp[0, 0])
    assert jac[0, 0, y, x + 1] > 0 and jac[0, 0, y, x - 1] < 0
    eps = 1e-3
    bump = np.zeros(maps.shape, np.float32)
    bump[0, y + 1, x + 1] = eps
    numeric = (np.asarray(fit(maps + bump)) - np.asarray(fit(maps - bump))) / (2 * eps)
    np.testing.assert_allclose(jac[:, 0, y + 1, x + 1], numeric, rtol=2e-2, atol=1e-3)
    assert np.all(np.isfinite(jax.grad(lambda s: ops.refine_keypoints_gaussian_fit(kp, maps, s)[0, 0, 0])(2.0)))
