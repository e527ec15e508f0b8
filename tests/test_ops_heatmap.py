"""Heatmap renderers against loop-wise NumPy re-implementations.

``mmpose_compat=True`` is compared with MMPose's formulas (MMPOSE_BEHAVIOUR
§1.2–1.4, incl. G1's one-pixel shift for non-integer 3σ and truncation of
negative coordinates); ``mmpose_compat=False`` with the geometrically exact
definition (peak at ``floor(kp + 0.5)``, weight 0 when the 3σ window misses
the map). Megvii's blurred impulses are compared with a blur of an impulse
in both modes (UDP's offset maps are in ``test_ops_offsets.py``). Gradients are checked against the analytic derivative of a
Gaussian here and entry by entry against finite differences in
``test_gradients.py``.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcodecs import ops

SIGMAS = (1.0, 1.5, 1.7, 2.0, 3.0)
SIZES = ((48, 64), (17, 13))  # (W, H)


def edge_values(length, r):
    """Coordinates around both ends of an axis of ``length`` for a 3σ of ``r``:
    negative ones (truncation vs floor), half pixels, windows that just touch
    or just miss the map."""
    return [-0.5, -0.6, -0.4, -1.5, -r - 0.5, -r - 0.4, -r - 0.6, -r - 1.5, -r - 3.0,
            0.0, 0.49, 0.5, 2.5, r - 0.5, r + 0.2,
            length - 0.5, length - 0.6, length - 1.0, length + r - 0.5, length + r - 0.4,
            length + r + 0.75, length + r + 3.0]


def make_keypoints(size, sigma, seed, num_random=12):
    """(1, K, 2) keypoints: random interior ones, then every edge value on x
    (with random y) and on y (with random x); visibility with fractional
    values and invisible keypoints mixed in."""
    width, height = size
    r = 3 * sigma
    rng = np.random.default_rng(seed)
    interior = np.stack([rng.uniform(0, width - 1, num_random),
                         rng.uniform(0, height - 1, num_random)], -1)
    ex = edge_values(width, r)
    ey = edge_values(height, r)
    on_x = np.stack([ex, rng.uniform(0, height - 1, len(ex))], -1)
    on_y = np.stack([rng.uniform(0, width - 1, len(ey)), ey], -1)
    corners = np.array([[ex[i], ey[j]] for i, j in [(0, 0), (4, 3), (15, 15), (18, 20)]])
    kp = np.concatenate([interior, on_x, on_y, corners])[None].astype(np.float32)
    vis = rng.choice([1.0, 1.0, 1.0, 0.7, 0.5, 0.3, 0.0], size=kp.shape[:2]).astype(np.float32)
    return kp, vis


@functools.lru_cache(maxsize=None)
def _renderer(name, size, mmpose_compat, jit):
    fn = getattr(ops, name)
    kwargs = {} if mmpose_compat is None else {"mmpose_compat": mmpose_compat}

    def render(kp, vis, sigma):
        return fn(kp, vis, size, sigma, **kwargs)

    return jax.jit(render) if jit else render


# ------------------------------------------------------------------------ G1
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("sigma", SIGMAS)
def test_g1_compat_matches_mmpose_formula(sigma, size, npref):
    kp, vis = make_keypoints(size, sigma, seed=int(sigma * 10) + size[0])
    heat, weights = _renderer("render_gaussian_heatmaps", size, True, True)(kp, vis, sigma)
    ref_heat, ref_weights = npref.g1_mmpose(kp, vis, size, sigma)
    assert heat.shape == (kp.shape[1], size[1], size[0]) and heat.dtype == jnp.float32
    np.testing.assert_allclose(heat, ref_heat, atol=1e-6)
    np.testing.assert_array_equal(weights, ref_weights.astype(np.float32))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("sigma", SIGMAS)
def test_g1_exact_matches_definition(sigma, size, npref):
    kp, vis = make_keypoints(size, sigma, seed=int(sigma * 10) + size[0] + 1)
    heat, weights = _renderer("render_gaussian_heatmaps", size, False, True)(kp, vis, sigma)
    ref_heat, ref_weights = npref.g1_exact(kp, vis, size, sigma)
    np.testing.assert_allclose(heat, ref_heat, atol=1e-6)
    np.testing.assert_array_equal(weights, ref_weights.astype(np.float32))


def test_g1_jit_and_eager_agree_with_multi_instance_sigma(variant, npref):
    """Two instances with one sigma each, max-combined into one map per keypoint."""
    size = (20, 16)
    rng = np.random.default_rng(5)
    kp = np.stack([rng.uniform(-2, 21, (2, 6)), rng.uniform(-2, 17, (2, 6))], -1).astype(np.float32)
    vis = rng.choice([1.0, 0.6, 0.2], size=(2, 6)).astype(np.float32)
    sigma = np.array([1.5, 2.0], np.float32)
    for compat, ref in ((True, npref.g1_mmpose), (False, npref.g1_exact)):
        fn = variant(lambda a, b, s, c=compat: ops.render_gaussian_heatmaps(a, b, size, s, mmpose_compat=c))
        heat, weights = fn(kp, vis, sigma)
        ref_heat, ref_weights = ref(kp, vis, size, sigma)
        np.testing.assert_allclose(heat, ref_heat, atol=1e-6)
        np.testing.assert_array_equal(weights, ref_weights.astype(np.float32))


@pytest.mark.parametrize(
    "sigma,x,expected_compat",
    [
        (2.0, 20.3, 20),   # integer 3σ: no shift
        (1.7, 20.3, 19),   # frac(3σ) = 0.1, interior: MMPose draws the peak at mu - 1
        (1.5, 20.3, 20),   # frac(3σ) = 0.5, interior: no shift
        (1.5, 2.2, 3),     # frac(3σ) = 0.5, mu - 3σ < 0: MMPose draws it at mu + 1
        (1.7, 2.2, 2),     # frac(3σ) = 0.1, near the border: no shift
    ],
)
def test_g1_one_pixel_shift_table(sigma, x, expected_compat):
    """MMPOSE_BEHAVIOUR §1.2's table of the drawn peak; exact mode puts the
    peak (value exactly 1) at round-half-up(kp) = 20 or 2 in every row."""
    kp = np.array([[[x, 30.0]]], np.float32)
    vis = np.ones((1, 1), np.float32)
    for compat, expected in ((True, expected_compat), (False, int(np.floor(x + 0.5)))):
        heat, _ = _renderer("render_gaussian_heatmaps", (48, 64), compat, True)(kp, vis, sigma)
        row = np.asarray(heat[0]).max(axis=0)  # the y axis has its own shift
        assert int(row.argmax()) == expected, (compat, row.argmax())
        assert row.max() == 1.0


@pytest.mark.parametrize("x,mu", [(3.5, 4), (3.49, 3), (-0.4, 0), (-0.5, 0), (-0.6, -1), (-1.5, -1)])
def test_g1_exact_peak_rounds_half_up_and_floors_negatives(x, mu):
    """Exact mode: the Gaussian is centred on floor(x + 0.5); a centre of -1
    lies off the map, so column 0 holds exp(-1 / (2σ^2))."""
    sigma = 2.0
    kp = np.array([[[x, 10.0]]], np.float32)
    heat, weights = _renderer("render_gaussian_heatmaps", (24, 20), False, True)(kp, np.ones((1, 1)), sigma)
    row = np.asarray(heat[0, 10])
    expected = np.exp(-(np.arange(24) - mu) ** 2 / (2 * sigma**2)) * (np.abs(np.arange(24) - mu) <= 6)
    np.testing.assert_allclose(row, expected, rtol=1e-6, atol=1e-7)
    assert float(weights[0, 0]) == 1.0


def test_g1_drop_rules():
    """Window ending exactly at 0 (right == 0): MMPose keeps weight 1 but draws
    nothing (quirk 3); exact mode gives weight 0. A window overlapping the
    map by one column keeps weight 1 in both and draws that column."""
    sigma, size = 2.0, (24, 20)
    r = 3 * sigma
    kp = np.array([[[-r - 0.5, 10.0], [-r - 0.4, 10.0], [-r - 1.6, 10.0]]], np.float32)
    vis = np.ones((1, 3), np.float32)
    heat_c, w_c = _renderer("render_gaussian_heatmaps", size, True, True)(kp, vis, sigma)
    heat_e, w_e = _renderer("render_gaussian_heatmaps", size, False, True)(kp, vis, sigma)
    # kp = -6.5: MMPose mu = trunc(-6) = -6, right = trunc(1) = 1 ... -> draws column 0.
    # exact mu = floor(-6) = -6, window [-12, 0] touches column 0.
    np.testing.assert_array_equal(w_c[0], [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(w_e[0], [1.0, 1.0, 0.0])
    np.testing.assert_allclose(heat_e[0, 10, 0], np.exp(-36 / 8), rtol=1e-6)
    # kp = -7.6: MMPose mu = trunc(-7.1) = -7, right = trunc(-7 + 7) = 0: weight 1, nothing drawn.
    assert float(jnp.abs(heat_c[2]).max()) == 0.0
    assert float(jnp.abs(heat_e[2]).max()) == 0.0


def test_fractional_visibility_and_invisible_channels():
    """Weights keep the visibility as given (not binarised); < 0.5 draws nothing."""
    kp = np.array([[[10.0, 10.0], [12.0, 8.0], [5.0, 5.0], [7.0, 7.0]]], np.float32)
    vis = np.array([[0.7, 0.3, 0.0, 0.5]], np.float32)
    for render in (
        functools.partial(ops.render_gaussian_heatmaps, mmpose_compat=True),
        functools.partial(ops.render_gaussian_heatmaps, mmpose_compat=False),
        ops.render_unbiased_gaussian_heatmaps,
        functools.partial(ops.render_udp_gaussian_heatmaps, mmpose_compat=True),
        functools.partial(ops.render_udp_gaussian_heatmaps, mmpose_compat=False),
    ):
        heat, weights = jax.jit(lambda a, b, r=render: r(a, b, (20, 16), 2.0))(kp, vis)
        np.testing.assert_array_equal(weights, vis)
        assert float(heat[0].max()) == 1.0 and float(heat[3].max()) == 1.0
        np.testing.assert_array_equal(heat[1], 0.0)
        np.testing.assert_array_equal(heat[2], 0.0)


# ------------------------------------------------------------------- sigma 0
@pytest.mark.parametrize(
    "render",
    [
        functools.partial(ops.render_gaussian_heatmaps, mmpose_compat=True),
        functools.partial(ops.render_gaussian_heatmaps, mmpose_compat=False),
        ops.render_unbiased_gaussian_heatmaps,
        functools.partial(ops.render_udp_gaussian_heatmaps, mmpose_compat=True),
        functools.partial(ops.render_udp_gaussian_heatmaps, mmpose_compat=False),
    ],
    ids=["g1_compat", "g1_exact", "g2", "g3_compat", "g3_exact"],
)
def test_sigma_zero_renders_unit_impulse(render):
    """Policy 6: σ = 0 is a unit impulse at the nearest pixel, never NaN."""
    kp = np.array([[[3.2, 4.7], [10.5, 0.0], [0.0, 11.0], [19.0, 15.49]]], np.float32)
    heat, weights = jax.jit(lambda a: render(a, jnp.ones((1, 4)), (20, 16), 0.0))(kp)
    heat = np.asarray(heat)
    assert np.isfinite(heat).all()
    np.testing.assert_array_equal(weights, 1.0)
    for k, (x, y) in enumerate([(3, 5), (11, 0), (0, 11), (19, 15)]):
        expected = np.zeros((16, 20), np.float32)
        expected[y, x] = 1.0
        np.testing.assert_array_equal(heat[k], expected)


# ------------------------------------------------------------------------ G2
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("sigma", (1.0, 1.7, 3.0))
def test_g2_matches_mmpose_formula(sigma, size, npref):
    kp, vis = make_keypoints(size, sigma, seed=int(sigma * 100) + size[1], num_random=8)
    heat, weights = _renderer("render_unbiased_gaussian_heatmaps", size, None, True)(kp, vis, sigma)
    ref_heat, ref_weights = npref.g2(kp, vis, size, sigma)
    np.testing.assert_allclose(heat, ref_heat, atol=1e-6)
    np.testing.assert_array_equal(weights, ref_weights.astype(np.float32))


# ------------------------------------------------------------------------ G3
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("sigma", SIGMAS)
def test_g3_compat_matches_mmpose_formula(sigma, size, npref):
    kp, vis = make_keypoints(size, sigma, seed=int(sigma * 10) + size[0] + 2)
    heat, weights = _renderer("render_udp_gaussian_heatmaps", size, True, True)(kp, vis, sigma)
    ref_heat, ref_weights = npref.g3_mmpose(kp, vis, size, sigma)
    np.testing.assert_allclose(heat, ref_heat, atol=2e-6)
    np.testing.assert_array_equal(weights, ref_weights.astype(np.float32))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("sigma", SIGMAS)
def test_g3_exact_matches_definition(sigma, size, npref):
    kp, vis = make_keypoints(size, sigma, seed=int(sigma * 10) + size[0] + 3)
    heat, weights = _renderer("render_udp_gaussian_heatmaps", size, False, True)(kp, vis, sigma)
    ref_heat, ref_weights = npref.g3_exact(kp, vis, size, sigma)
    np.testing.assert_allclose(heat, ref_heat, atol=2e-6)
    np.testing.assert_array_equal(weights, ref_weights.astype(np.float32))


def test_g3_exact_is_centred_on_the_sub_pixel_keypoint():
    """Log-ratios of neighbouring samples of the exact UDP map give back the
    sub-pixel keypoint: log(h[x+1] / h[x]) = (2 (kx - x) - 1) / (2σ^2)."""
    kp = np.array([[[20.3, 30.8]]], np.float32)
    heat, _ = _renderer("render_udp_gaussian_heatmaps", (48, 64), False, True)(kp, np.ones((1, 1)), 1.0)
    heat = np.asarray(heat[0], np.float64)
    # With σ = 1: kx = x + log(h[x+1] / h[x]) + 0.5.
    ratio_x = np.log(heat[31, 21] / heat[31, 20])
    ratio_y = np.log(heat[31, 20] / heat[30, 20])
    np.testing.assert_allclose(20 + ratio_x + 0.5, 20.3, atol=1e-5)
    np.testing.assert_allclose(30 + ratio_y + 0.5, 30.8, atol=1e-5)


# -------------------------------------------------------------------- Megvii
def megvii_reference(kp, vis, scale, size, kernel_size, compat, npref):
    """MSPN / RSN targets: per instance and keypoint an impulse at the pixel
    ``kp / scale`` (truncated, or floored), OpenCV-blurred (reflect-101),
    scaled to 255 there; instances max-combined. Weight 0 for a visible
    keypoint whose pixel is off the map."""
    width, height = size
    heat = np.zeros((kp.shape[1], height, width))
    weights = vis.astype(np.float64).copy()
    for n in range(kp.shape[0]):
        for k in range(kp.shape[1]):
            if vis[n, k] < 0.5:
                continue
            px, py = (int(np.trunc(v) if compat else np.floor(v)) for v in kp[n, k, :2] / scale)
            if not (0 <= px < width and 0 <= py < height):
                weights[n, k] = 0
                continue
            impulse = np.zeros((height, width))
            impulse[py, px] = 1.0
            blurred = npref.blur2d(impulse, kernel_size)
            heat[k] = np.maximum(heat[k], 255.0 * blurred / blurred[py, px])
    return heat, weights


@pytest.mark.parametrize("kernel_size", (5, 11))
@pytest.mark.parametrize("compat", (True, False))
def test_megvii_matches_reference(kernel_size, compat, npref, variant):
    size, scale = (24, 20), np.float32([4.0, 4.0])
    rng = np.random.default_rng(kernel_size + compat)
    kp = np.stack([rng.uniform(-6, 100, (2, 9)), rng.uniform(-6, 84, (2, 9))], -1)
    kp[0, :4] = [[-0.9, 10.0], [10.0, -4.1], [0.0, 79.9], [95.99, 40.0]]  # truncation vs floor, edges
    kp = np.concatenate([kp, rng.normal(size=(2, 9, 1))], -1).astype(np.float32)  # D = 3
    vis = rng.choice([1.0, 1.0, 0.6, 0.3, 0.0], size=(2, 9)).astype(np.float32)
    vis[0, :4] = 1.0
    render = variant(lambda a, b: ops.render_megvii_heatmaps(a, b, scale, size, kernel_size, mmpose_compat=compat))
    heat, weights = render(kp, vis)
    ref_heat, ref_weights = megvii_reference(kp.astype(np.float64), vis, scale, size, kernel_size, compat, npref)
    assert heat.shape == (9, 20, 24) and heat.dtype == jnp.float32
    np.testing.assert_allclose(heat, ref_heat, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(weights, ref_weights.astype(np.float32))
    # -0.9 lands on pixel 0 when truncated, off the map when floored.
    assert float(weights[0, 0]) == (1.0 if compat else 0.0)
    assert float(weights[0, 1]) == 0.0


def test_megvii_dtype_and_peak():
    kp = np.float32([[[10.0, 9.0], [40.0, 30.0]]])
    heat, _ = ops.render_megvii_heatmaps(kp, np.ones((1, 2)), np.float32([2.0, 2.0]), (24, 20), 7,
                                         dtype=jnp.bfloat16)
    assert heat.dtype == jnp.bfloat16
    assert float(heat[0, 4, 5]) == 255.0 and float(heat[1, 15, 20]) == 255.0
    assert float(jnp.max(heat)) == 255.0


# -------------------------------------------------------------- dtype, input
def test_dtype_and_integer_keypoints():
    kp_int = np.array([[[3, 4], [10, 12]]], np.int32)
    vis = np.ones((1, 2), np.int32)
    render = _renderer("render_gaussian_heatmaps", (16, 16), True, True)
    heat_i, w = render(kp_int, vis, 2.0)
    heat_f, _ = render(kp_int.astype(np.float32), vis.astype(np.float32), 2.0)
    np.testing.assert_array_equal(heat_i, heat_f)
    assert jnp.issubdtype(w.dtype, jnp.floating)
    heat_b, _ = jax.jit(lambda a, b: ops.render_unbiased_gaussian_heatmaps(
        a, b, (16, 16), 2.0, dtype=jnp.bfloat16))(kp_int, vis)
    assert heat_b.dtype == jnp.bfloat16
    np.testing.assert_allclose(np.asarray(heat_b, np.float32), heat_f, atol=1e-2)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="keypoints"):
        ops.render_gaussian_heatmaps(np.zeros((3, 2)), np.ones((1, 3)), (8, 8), 2.0)
    with pytest.raises(ValueError, match="keypoints_visible"):
        ops.render_gaussian_heatmaps(np.zeros((1, 3, 2)), np.ones((1, 4)), (8, 8), 2.0)
    with pytest.raises(ValueError, match="sigma"):
        ops.render_unbiased_gaussian_heatmaps(np.zeros((2, 3, 2)), np.ones((2, 3)), (8, 8), np.ones(3))


# ----------------------------------------------------------------- gradients
@pytest.mark.parametrize(
    "render",
    [ops.render_unbiased_gaussian_heatmaps,
     functools.partial(ops.render_udp_gaussian_heatmaps, mmpose_compat=False),
     functools.partial(ops.render_udp_gaussian_heatmaps, mmpose_compat=True)],
    ids=["g2", "g3_exact", "g3_compat"],
)
def test_gradient_matches_analytic_gaussian_derivative(render):
    """For h = exp(-((x0-kx)^2 + (y0-ky)^2) / (2σ^2)):
    dh/dkx = h (x0 - kx) / σ^2 (positive when the pixel lies right of the
    keypoint), dh/dky likewise, dh/dσ = h d^2 / σ^3."""
    sigma, kx, ky, x0, y0 = 2.0, 10.2, 12.3, 11, 11
    vis = jnp.ones((1, 1))

    def value(k):
        return render(k, vis, (32, 28), sigma)[0][0, y0, x0]

    kp = jnp.array([[[kx, ky]]], jnp.float32)
    grad = np.asarray(jax.jit(jax.grad(value))(kp))[0, 0]
    h = np.exp(-((x0 - kx) ** 2 + (y0 - ky) ** 2) / (2 * sigma**2))
    np.testing.assert_allclose(grad, [h * (x0 - kx) / sigma**2, h * (y0 - ky) / sigma**2], rtol=1e-4)
    assert grad[0] > 0 and grad[1] < 0
    if render is ops.render_unbiased_gaussian_heatmaps:
        d_sigma = jax.jit(jax.grad(lambda s: render(kp, vis, (32, 28), s)[0][0, y0, x0]))(jnp.float32(sigma))
        d2 = (x0 - kx) ** 2 + (y0 - ky) ** 2
        np.testing.assert_allclose(d_sigma, h * d2 / sigma**3, rtol=1e-4)
        assert float(d_sigma) > 0


def test_gradient_of_peak_is_zero_at_the_centre():
    """At a keypoint on the pixel grid the drawn peak is a maximum: its
    gradient w.r.t. the keypoint vanishes."""
    kp = jnp.array([[[10.0, 12.0]]], jnp.float32)
    grad = jax.jit(jax.grad(
        lambda k: ops.render_unbiased_gaussian_heatmaps(k, jnp.ones((1, 1)), (32, 28), 2.0)[0][0, 12, 10]))(kp)
    np.testing.assert_allclose(grad, 0.0, atol=1e-7)
