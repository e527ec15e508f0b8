"""Differentiable decoding ops (``jaxcodecs.ops.soft``).

Every op is compared with a float64 NumPy reference written here from the
papers' formulas (full-size coordinate grids, not the library's marginals),
its derivatives against closed forms here (and entry by entry against
finite differences in float64 in ``test_gradients.py``), and its limits
are checked against their closed forms: the hard argmax for a huge
``beta``, the map centre for a flat or massless map, ``0`` and ``log 2`` for
the Jensen–Shannon divergence of equal and of disjoint distributions.
Convention: pixel ``i`` has its centre at coordinate ``i``; coordinates are
``(x, y)``.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcodecs import ops

SHAPES_2D = [(3, 8, 11), (2, 3, 16, 12), (2, 2, 3, 5, 7)]
SHAPES_1D = [(4, 20), (2, 3, 33)]
CASES = [(s, 2) for s in SHAPES_2D] + [(s, 1) for s in SHAPES_1D]
CASE_IDS = [f"{'x'.join(map(str, s))}-nd{n}" for s, n in CASES]


# ------------------------------------------------------- NumPy references
def np_grids(shape, ndim, normalized=False):
    """Full-size coordinate grids, x first: ``[X (H, W), Y (H, W)]`` or ``[X (L,)]``."""
    spatial = shape[-ndim:]
    axes = [np.arange(n, dtype=np.float64) for n in spatial]
    if normalized:
        axes = [(2 * a + 1) / len(a) - 1 for a in axes]
    if ndim == 1:
        return axes
    yy, xx = np.meshgrid(axes[0], axes[1], indexing="ij")
    return [xx, yy]


def np_expect(p, ndim, normalized=False):
    axes = tuple(range(-ndim, 0))
    return np.stack([np.sum(p * g, axis=axes) for g in np_grids(p.shape, ndim, normalized)], -1)


def np_softmax(x, beta, ndim):
    x = np.asarray(x, np.float64)
    beta = np.asarray(beta, np.float64).reshape(np.shape(beta) + (1,) * ndim)
    flat = (beta * x).reshape(*x.shape[:-ndim], -1)
    flat = flat - flat.max(axis=-1, keepdims=True)
    e = np.exp(flat)
    return (e / e.sum(axis=-1, keepdims=True)).reshape(x.shape)


def np_soft_argmax(x, beta, ndim):
    return np_expect(np_softmax(x, beta, ndim), ndim)


def np_integral(x, ndim):
    x = np.asarray(x, np.float64)
    axes = tuple(range(-ndim, 0))
    q = np.maximum(x, 0)
    s = q.sum(axis=axes, keepdims=True)
    n = np.prod(x.shape[-ndim:])
    p = np.where(s > 0, q / np.where(s > 0, s, 1), 1.0 / n)
    return np_expect(p, ndim)


def np_gaussian(shape, target, sigma, ndim):
    """The normalised Gaussian at every pixel centre, evaluated directly in 2-D."""
    target = np.asarray(target, np.float64)
    sigma = np.broadcast_to(np.asarray(sigma, np.float64), target.shape[:-1])
    sigma = sigma.reshape(sigma.shape + (1,) * ndim)
    d2 = sum((g - target[(...,) + (i,) + (None,) * ndim]) ** 2
             for i, g in enumerate(np_grids(shape, ndim)))
    g = np.exp(-d2 / (2 * sigma**2))
    return g / g.sum(axis=tuple(range(-ndim, 0)), keepdims=True)


def np_js(p, q, ndim):
    p = np.asarray(p, np.float64)
    m = 0.5 * (p + q)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log(p / m), 0.0)
        kl_q = np.where(q > 0, q * np.log(q / m), 0.0)
    return 0.5 * (kl_p + kl_q).sum(axis=tuple(range(-ndim, 0)))


def random_probs(rng, shape, ndim, zeros=0.0):
    """Random normalised maps, with a fraction ``zeros`` of exact zeros."""
    p = rng.uniform(0.05, 1.0, shape)
    if zeros:
        p = np.where(rng.uniform(size=shape) < zeros, 0.0, p)
    return p / p.sum(axis=tuple(range(-ndim, 0)), keepdims=True)


def random_targets(rng, shape, ndim):
    spatial = shape[-ndim:][::-1]  # x first
    return np.stack([rng.uniform(0, n - 1, shape[:-ndim]) for n in spatial], -1)


@functools.lru_cache(maxsize=None)
def jitted(name, **static):
    """``ops.<name>`` with its static options bound, jitted (compiled once
    per shape, which is much faster than eager op-by-op dispatch)."""
    return jax.jit(functools.partial(getattr(ops, name), **static))


# ------------------------------------------------ values vs the references
@functools.lru_cache(maxsize=None)
def _all_ops(ndim):
    """Every op on one set of inputs, in one jitted program (one compile per shape)."""

    def run(x, beta, per_map, probs, target, sigma):
        return dict(
            softmax=ops.spatial_softmax(x, beta, ndim=ndim),
            softmax_per_map=ops.spatial_softmax(x, per_map, ndim=ndim),
            soft_argmax=ops.soft_argmax(x, beta, ndim=ndim),
            soft_argmax_per_map=ops.soft_argmax(x, per_map, ndim=ndim),
            integral=ops.integral(x, ndim=ndim),
            dsnt=ops.dsnt(probs, ndim=ndim),
            dsnt_double=ops.dsnt(2 * probs, ndim=ndim),
            dsnt_normalized=ops.dsnt(probs, ndim=ndim, normalized=True),
            js=ops.dsnt_variance_regularizer(probs, target, beta, ndim=ndim),
            js_per_map=ops.dsnt_variance_regularizer(probs, target, sigma, ndim=ndim),
        )

    return jax.jit(run)


@pytest.mark.parametrize("shape,ndim", CASES, ids=CASE_IDS)
def test_ops_match_numpy(shape, ndim):
    rng = np.random.default_rng(sum(shape))
    lead = shape[:-ndim]
    x = rng.normal(size=shape).astype(np.float32)  # about half clipped by integral
    first = (0,) * len(lead)
    x[first] = -np.abs(x[first])  # and one map with no positive value at all
    beta = np.float32(1.5)
    per_map = rng.uniform(0.2, 5.0, lead).astype(np.float32)
    probs = random_probs(rng, shape, ndim, zeros=0.3).astype(np.float32)
    target = random_targets(rng, shape, ndim).astype(np.float32)
    sigma = rng.uniform(0.5, 3.0, lead).astype(np.float32)
    out = _all_ops(ndim)(x, beta, per_map, probs, target, sigma)

    coords_shape = lead + (ndim,)
    for key, shp in [("softmax", shape), ("soft_argmax", coords_shape), ("integral", coords_shape),
                     ("dsnt", coords_shape), ("js", lead)]:
        assert out[key].shape == shp and out[key].dtype == jnp.float32, key

    def close(key, ref, tol=1e-5):
        np.testing.assert_allclose(out[key], ref, rtol=tol, atol=tol, err_msg=key)

    close("softmax", np_softmax(x, beta, ndim), 1e-6)
    close("softmax_per_map", np_softmax(x, per_map, ndim), 1e-6)
    close("soft_argmax", np_soft_argmax(x, beta, ndim))
    close("soft_argmax_per_map", np_soft_argmax(x, per_map, ndim))
    close("integral", np_integral(x, ndim))
    p64 = probs.astype(np.float64)
    close("dsnt", np_expect(p64, ndim))
    close("dsnt_normalized", np_expect(p64, ndim, normalized=True))
    close("dsnt_double", 2 * np_expect(p64, ndim))  # linear, not renormalised
    close("js", np_js(probs, np_gaussian(shape, target, beta, ndim), ndim))
    close("js_per_map", np_js(probs, np_gaussian(shape, target, sigma, ndim), ndim))


@pytest.mark.parametrize("lead", [(5,), (2, 3)])
def test_simcc_soft_decode_matches_numpy(lead):
    rng = np.random.default_rng(len(lead))
    sx = rng.normal(size=lead + (40,)).astype(np.float32)
    sy = rng.normal(size=lead + (52,)).astype(np.float32)
    for beta in (1.0, 10.0):
        loc = jitted("simcc_soft_decode")(sx, sy, beta)
        assert loc.shape == lead + (2,) and loc.dtype == jnp.float32
        ref = np.concatenate([np_soft_argmax(sx, beta, 1), np_soft_argmax(sy, beta, 1)], -1)
        np.testing.assert_allclose(loc, ref, rtol=1e-5, atol=1e-4)


# --------------------------------------------------------------- gradients
def test_grad_values_in_closed_form():
    """DSNT is linear: its Jacobian is the coordinate grid. The JS divergence's
    derivative w.r.t. p_i is log(p_i / m_i) / 2 (the +1 terms cancel)."""
    rng = np.random.default_rng(30)
    probs = random_probs(rng, (2, 6, 7), 2, zeros=0.25).astype(np.float32)
    jac = jax.jit(jax.jacrev(lambda a: ops.dsnt(a[None])[0]))(probs[0])
    for i, g in enumerate(np_grids(probs.shape, 2)):
        np.testing.assert_array_equal(jac[i], g)

    target = random_targets(rng, probs.shape, 2).astype(np.float32)
    grad = jax.jit(jax.grad(lambda p, t, s: ops.dsnt_variance_regularizer(p, t, s).sum()))
    g = np.asarray(grad(probs, target, np.float32(1.5)))
    q = np_gaussian(probs.shape, target, 1.5, 2)
    m = 0.5 * (probs + q)
    positive = probs > 0
    np.testing.assert_allclose(g[positive], 0.5 * np.log(probs[positive] / m[positive]),
                               rtol=1e-4, atol=1e-5)
    assert np.isfinite(g).all()  # the one-sided derivative is -inf at the exact zeros


def test_grads_finite_at_degenerate_inputs():
    """Massless maps (integral), exact zeros in the probabilities and an
    underflowing target Gaussian (regulariser), saturated and near-flat
    softmax: every first and second derivative is finite; a massless map's
    gradient is exactly 0."""
    zero = jnp.zeros((2, 6, 7)).at[1].set(-1.0)
    jac = jax.jit(jax.jacrev(ops.integral))(zero)
    np.testing.assert_array_equal(jac, 0.0)

    one_hot = jnp.zeros((2, 6, 7)).at[:, 2, 3].set(1.0)
    target = jnp.array([[1.0, 4.0], [3.0, 2.0]])

    def loss(p, t, s):
        return ops.dsnt_variance_regularizer(p, t, s).sum()

    grads = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))
    hess = jax.jit(jax.hessian(loss))
    for sigma in (1.0, 0.05):
        for g in jax.tree_util.tree_leaves((grads(one_hot, target, sigma),
                                            hess(one_hot, target, sigma))):
            assert np.isfinite(np.asarray(g)).all(), sigma

    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 6, 7)), jnp.float32)
    sa_grads = jax.jit(jax.grad(lambda a, b: ops.soft_argmax(a, b).sum(), argnums=(0, 1)))
    for beta in (1e6, 1e-8):
        for g in sa_grads(x, beta):
            assert np.isfinite(np.asarray(g)).all(), beta


# -------------------------------------------------------------- stability
def _distinct_peak_maps(rng, shape):
    """Random maps in [0, 1) with a unique maximum 1.5 at a random pixel."""
    x = rng.uniform(0, 1, shape)
    flat = x.reshape(-1, shape[-2] * shape[-1])
    flat[np.arange(len(flat)), rng.integers(0, flat.shape[1], len(flat))] = 1.5
    return flat.reshape(shape).astype(np.float32)


def test_huge_beta_is_the_hard_argmax(npref):
    soft_argmax = jitted("soft_argmax")
    rng = np.random.default_rng(50)
    x = _distinct_peak_maps(rng, (6, 9, 13))
    locs, _ = npref.argmax(x)
    np.testing.assert_array_equal(soft_argmax(x, 1e6), locs)
    probs = jitted("spatial_softmax")(x, 1e6)
    assert np.isfinite(np.asarray(probs)).all()
    np.testing.assert_array_equal(np.asarray(probs).max(axis=(-2, -1)), 1.0)
    # Large magnitudes too: beta * x alone would overflow float32.
    np.testing.assert_array_equal(soft_argmax(1e34 * x, 1e6), locs)
    # Two tied maxima share the mass: the midpoint.
    tie = np.zeros((6, 9, 13), np.float32)
    tie[:, 1, 2] = tie[:, 3, 6] = 2.0
    np.testing.assert_allclose(soft_argmax(tie, 1e6), np.broadcast_to([4.0, 2.0], (6, 2)), atol=1e-6)
    # A 1-D vector likewise, and a huge negative beta is a hard argmin.
    vec = np.array([[0.3, 0.9, 0.1, 0.5]], np.float32)
    soft_argmax_1d = jitted("soft_argmax", ndim=1)
    np.testing.assert_array_equal(soft_argmax_1d(vec, 1e6), [[1.0]])
    np.testing.assert_array_equal(soft_argmax_1d(vec, -1e6), [[2.0]])
    # The same with beta a Python number (its sign is then resolved at trace time).
    for beta, expected in ((1e6, 1.0), (-1e6, 2.0)):
        fn = jax.jit(lambda v, b=beta: ops.soft_argmax(v, b, ndim=1))
        np.testing.assert_array_equal(fn(vec), [[expected]])


def test_tiny_beta_and_flat_maps_give_the_centre():
    soft_argmax, softmax, dsnt = jitted("soft_argmax"), jitted("spatial_softmax"), jitted("dsnt")
    rng = np.random.default_rng(51)
    x = rng.normal(size=(3, 9, 14)).astype(np.float32)
    centre = np.broadcast_to([(14 - 1) / 2, (9 - 1) / 2], (3, 2))
    np.testing.assert_allclose(soft_argmax(x, 1e-8), centre, atol=1e-5)
    np.testing.assert_allclose(soft_argmax(x, 1e-8), np_soft_argmax(x, 1e-8, 2), atol=1e-6)
    np.testing.assert_allclose(soft_argmax(x, 0.0), centre, atol=1e-5)
    for value in (0.0, 7.5, -3.0):
        flat = np.full((3, 9, 14), value, np.float32)
        for beta in (1e6, 1.0, 1e-8, -1e6):
            np.testing.assert_allclose(softmax(flat, beta), 1.0 / (9 * 14), rtol=1e-6)
            np.testing.assert_allclose(soft_argmax(flat, beta), centre, atol=1e-5)
    # DSNT of the uniform distribution is the centre (0 in normalised units).
    uniform = np.full((3, 9, 14), 1.0 / (9 * 14), np.float32)
    np.testing.assert_allclose(dsnt(uniform), centre, atol=1e-5)
    np.testing.assert_allclose(jitted("dsnt", normalized=True)(uniform), 0.0, atol=1e-6)


def test_integral_massless_and_flat_maps_give_the_centre():
    maps = np.stack([np.zeros((7, 10)), -np.ones((7, 10)), np.full((7, 10), 3.0)]).astype(np.float32)
    out = jitted("integral")(maps)
    np.testing.assert_allclose(out, [[4.5, 3.0]] * 3, atol=1e-6)
    np.testing.assert_allclose(jitted("integral", ndim=1)(np.zeros((2, 3, 9))), np.full((2, 3, 1), 4.0))


# -------------------------------------------------------------- properties
@pytest.mark.parametrize("ndim", [1, 2])
def test_sharp_peak_is_recovered_by_soft_argmax(ndim):
    rng = np.random.default_rng(60 + ndim)
    shape = (5, 12, 17) if ndim == 2 else (5, 29)
    spatial = shape[-ndim:][::-1]
    peaks = np.stack([rng.integers(0, n, shape[0]) for n in spatial], -1)
    x = np.zeros(shape, np.float32)
    x[(np.arange(shape[0]),) + tuple(peaks[:, ::-1].T)] = 1.0
    np.testing.assert_allclose(jitted("soft_argmax", ndim=ndim)(x, 200.0), peaks, atol=1e-6)


def test_dsnt_normalized_relation_and_range():
    rng = np.random.default_rng(70)
    for shape, ndim in [((4, 9, 13), 2), ((2, 3, 21), 1)]:
        p = random_probs(rng, shape, ndim).astype(np.float32)
        px = np.asarray(jitted("dsnt", ndim=ndim)(p), np.float64)
        nx = np.asarray(jitted("dsnt", ndim=ndim, normalized=True)(p), np.float64)
        n = np.array(shape[-ndim:][::-1], np.float64)
        np.testing.assert_allclose(nx, 2 * (px + 0.5) / n - 1, atol=1e-6)
        assert (np.abs(nx) < 1).all()
    # One-hot maps at the corners: DSNT's extreme coordinates +-(1 - 1/n).
    corners = np.zeros((4, 9, 13), np.float32)
    corners[0, 0, 0] = corners[1, 8, 12] = corners[2, 0, 12] = corners[3, 8, 0] = 1.0
    a, b = 1 - 1 / 13, 1 - 1 / 9
    np.testing.assert_allclose(jitted("dsnt", ndim=2, normalized=True)(corners),
                               [[-a, -b], [a, b], [a, -b], [-a, b]], atol=1e-6)


def test_regularizer_zero_positive_and_bounded():
    reg = jitted("dsnt_variance_regularizer")
    rng = np.random.default_rng(80)
    shape = (6, 16, 20)
    target = random_targets(rng, shape, 2)
    sigma = rng.uniform(0.7, 3.0, 6)
    q = np_gaussian(shape, target, sigma, 2)
    at_target = reg(q.astype(np.float32), target.astype(np.float32), sigma.astype(np.float32))
    np.testing.assert_allclose(at_target, 0.0, atol=1e-6)
    with jax.enable_x64(True):
        np.testing.assert_allclose(jax.jit(ops.dsnt_variance_regularizer)(q, target, sigma), 0.0,
                                   atol=1e-13)
    others = random_probs(rng, shape, 2, zeros=0.2).astype(np.float32)
    js = np.asarray(reg(others, target.astype(np.float32), np.float32(1.0)))
    assert (js > 1e-3).all() and (js <= np.log(2)).all()
    # Disjoint supports (the target Gaussian underflows off its pixel): log 2;
    # the same pixel: 0.
    one_hot = np.zeros(shape, np.float32)
    one_hot[:, 5, 7] = 1.0
    far = np.broadcast_to(np.array([1.0, 2.0], np.float32), (6, 2))
    np.testing.assert_allclose(reg(one_hot, far, np.float32(0.05)), np.log(2), rtol=1e-6)
    near = np.broadcast_to(np.array([7.0, 5.0], np.float32), (6, 2))
    np.testing.assert_allclose(reg(one_hot, near, np.float32(0.05)), 0.0, atol=1e-7)


def test_integral_recovers_subpixel_gaussian_centre():
    rng = np.random.default_rng(90)
    height, width, sigma = 48, 64, 2.0
    centres = np.stack([rng.uniform(16, width - 17, 8), rng.uniform(16, height - 17, 8)], -1)
    ys, xs = np.mgrid[0:height, 0:width]
    maps = np.exp(-((xs - centres[:, :1, None]) ** 2 + (ys - centres[:, 1:, None]) ** 2)
                  / (2 * sigma**2))
    maps = maps / maps.sum(axis=(-2, -1), keepdims=True)
    integral = jitted("integral")
    np.testing.assert_allclose(integral(maps.astype(np.float32)), centres, atol=1e-4)
    np.testing.assert_allclose(jitted("dsnt")(maps.astype(np.float32)), centres, atol=1e-4)
    # Scale-invariant: any positive multiple of the maps gives the same point.
    np.testing.assert_allclose(integral((37.0 * maps).astype(np.float32)), centres, atol=1e-4)


def test_soft_argmax_shift_invariant_and_matches_dsnt_of_softmax():
    soft_argmax = jitted("soft_argmax")
    rng = np.random.default_rng(91)
    x = rng.normal(size=(4, 10, 11)).astype(np.float32)
    np.testing.assert_allclose(soft_argmax(x + 100.0, 2.0), soft_argmax(x, 2.0), atol=1e-4)
    np.testing.assert_allclose(soft_argmax(x, 2.0),
                               jitted("dsnt")(jitted("spatial_softmax")(x, 2.0)), atol=1e-6)


@functools.lru_cache(maxsize=None)
def _dtype_program():
    def run(x, p, t, v):
        return dict(softmax=ops.spatial_softmax(x), soft_argmax=ops.soft_argmax(x),
                    integral=ops.integral(x), dsnt=ops.dsnt(x),
                    js=ops.dsnt_variance_regularizer(p, t, 1.0),
                    simcc=ops.simcc_soft_decode(v, v))
    return jax.jit(run)


def test_dtypes():
    """bfloat16 in, bfloat16 out (computed in float32); integers become float32."""
    rng = np.random.default_rng(92)
    x = rng.normal(size=(2, 6, 7))
    p = random_probs(rng, (2, 6, 7), 2)
    t = np.zeros((2, 2), np.float32)
    run = _dtype_program()
    as_bf16 = [jnp.asarray(a, jnp.bfloat16) for a in (x, p, x[0])]
    out = run(as_bf16[0], as_bf16[1], t, as_bf16[2])
    ref = run(*(np.asarray(a, np.float32) for a in as_bf16[:2]), t, np.asarray(as_bf16[2], np.float32))
    for key, value in out.items():
        # The regulariser promotes with its float32 target.
        assert value.dtype == (jnp.float32 if key == "js" else jnp.bfloat16), key
        np.testing.assert_allclose(np.asarray(value, np.float32), ref[key], rtol=2**-7,
                                   atol=2**-7 * 7, err_msg=key)
    ints = (rng.uniform(size=(2, 6, 7)) * 10).astype(np.int32)
    out = run(ints, ints, t, ints[0])
    ref = run(ints.astype(np.float32), ints.astype(np.float32), t, ints[0].astype(np.float32))
    for key, value in out.items():
        assert value.dtype == jnp.float32, key
        np.testing.assert_array_equal(value, ref[key], err_msg=key)


# ------------------------------------------------------------- jit / vmap
def _every_op(x, s, p, t, v, sy):
    return dict(
        spatial_softmax=ops.spatial_softmax(x, 2.0),
        soft_argmax=ops.soft_argmax(x, s),
        integral=ops.integral(x),
        integral_1d=ops.integral(v, ndim=1),
        dsnt=ops.dsnt(p, normalized=True),
        regularizer=ops.dsnt_variance_regularizer(p, t, s),
        simcc=ops.simcc_soft_decode(v, sy, s),
    )


def test_jit_matches_eager_and_vmap_matches_loop():
    rng = np.random.default_rng(100)
    b = 3
    args = (rng.normal(size=(b, 2, 9, 11)).astype(np.float32),
            rng.uniform(0.8, 2.0, (b, 2)).astype(np.float32),
            random_probs(rng, (b, 2, 9, 11), 2, zeros=0.1).astype(np.float32),
            random_targets(rng, (b, 2, 9, 11), 2).astype(np.float32),
            rng.normal(size=(b, 2, 17)).astype(np.float32),
            rng.normal(size=(b, 2, 23)).astype(np.float32))
    eager = _every_op(*args)
    jit_fn = jax.jit(_every_op)
    batched = jax.jit(jax.vmap(_every_op))(*args)
    looped = [jit_fn(*(a[i] for a in args)) for i in range(b)]
    for name, value in jit_fn(*args).items():
        np.testing.assert_allclose(value, eager[name], rtol=1e-6, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(batched[name], np.stack([o[name] for o in looped]),
                                   rtol=1e-6, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(batched[name], eager[name], rtol=1e-6, atol=1e-6, err_msg=name)


def test_traced_beta_and_static_ndim_under_jit():
    rng = np.random.default_rng(101)
    v = rng.normal(size=(3, 17)).astype(np.float32)
    fn = jax.jit(ops.soft_argmax, static_argnames="ndim")
    for beta in (0.5, 4.0):
        np.testing.assert_allclose(fn(v, beta, ndim=1), np_soft_argmax(v, beta, 1), atol=1e-5)
    dbeta = jax.jit(jax.grad(lambda b: ops.soft_argmax(v, b, ndim=1).sum()))(1.0)
    eps = 1e-3
    fd = (np_soft_argmax(v, 1 + eps, 1).sum() - np_soft_argmax(v, 1 - eps, 1).sum()) / (2 * eps)
    np.testing.assert_allclose(dbeta, fd, rtol=1e-4)


# ------------------------------------------------------------- bad inputs
BAD_INPUTS = [
    (lambda: ops.spatial_softmax(np.zeros((4, 5))), "x", "(..., K, H, W)"),
    (lambda: ops.soft_argmax(np.zeros((4, 5))), "x", "(..., K, H, W)"),
    (lambda: ops.soft_argmax(np.zeros((5,)), ndim=1), "x", "(..., K, L)"),
    (lambda: ops.integral(np.zeros((4, 5))), "x", "(..., K, H, W)"),
    (lambda: ops.dsnt(np.zeros((4, 5))), "probs", "(..., K, H, W)"),
    (lambda: ops.dsnt(np.float32(1.0), ndim=1), "probs", "(..., K, L)"),
    (lambda: ops.dsnt_variance_regularizer(np.zeros((4, 5)), np.zeros((2,)), 1.0),
     "probs", "(..., K, H, W)"),
    (lambda: ops.dsnt_variance_regularizer(np.zeros((3, 4, 5)), np.zeros((3, 1)), 1.0),
     "target", "(..., K, 2)"),
    (lambda: ops.dsnt_variance_regularizer(np.zeros((3, 4, 5)), np.zeros((2, 2)), 1.0),
     "target", "(..., K, 2)"),
    (lambda: ops.dsnt_variance_regularizer(np.zeros((3, 5)), np.zeros((3, 2)), 1.0, ndim=1),
     "target", "(..., K, 1)"),
    (lambda: ops.dsnt_variance_regularizer(np.zeros((3, 4, 5)), np.zeros((3, 2)), np.ones(4)),
     "sigma", "(..., K)"),
    (lambda: ops.soft_argmax(np.zeros((3, 4, 5)), np.ones((2,))), "beta", "(..., K)"),
    (lambda: ops.simcc_soft_decode(np.zeros((7,)), np.zeros((3, 7))), "simcc_x", "(..., K, Lx)"),
    (lambda: ops.simcc_soft_decode(np.zeros((3, 7)), np.zeros((7,))), "simcc_y", "(..., K, Ly)"),
    (lambda: ops.simcc_soft_decode(np.zeros((3, 7)), np.zeros((4, 7))), "simcc_y", "(..., K, Ly)"),
    (lambda: ops.soft_argmax(np.zeros((3, 4, 5)), ndim=3), "ndim", "1 or 2"),
    (lambda: ops.integral(np.zeros((3, 4, 5)), ndim=0), "ndim", "1 or 2"),
    (lambda: ops.dsnt(np.zeros((3, 4, 5)), ndim=2.0), "ndim", "1 or 2"),
]


@pytest.mark.parametrize("call,name,expected", BAD_INPUTS,
                         ids=[f"{i}-{case[1]}" for i, case in enumerate(BAD_INPUTS)])
def test_bad_inputs_raise_value_error(call, name, expected):
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    assert f"`{name}`" in message and expected in message, message


# -------------------------------------------------------------- soft_decode
@pytest.mark.parametrize("shape,ndim", [((3, 8, 11), 2), ((2, 3, 16, 12), 2), ((4, 20), 1)])
def test_soft_decode_is_the_named_method(shape, ndim):
    rng = np.random.default_rng(90 + len(shape))
    x = rng.normal(size=shape).astype(np.float32)
    probs = random_probs(rng, shape, ndim).astype(np.float32)
    beta = np.float32(2.5)
    decode = jax.jit(lambda m, b, method: ops.soft_decode(m, method=method, beta=b, ndim=ndim),
                     static_argnums=2)
    np.testing.assert_allclose(decode(x, beta, "soft_argmax"), np_soft_argmax(x, 2.5, ndim), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(decode(x, beta, "ipr"), np_integral(x, ndim), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(decode(probs, beta, "dsnt"), np_expect(probs.astype(np.float64), ndim),
                               rtol=1e-5, atol=1e-5)
    # beta only reaches soft-argmax.
    np.testing.assert_array_equal(decode(x, np.float32(9.0), "ipr"), decode(x, beta, "ipr"))
    np.testing.assert_array_equal(decode(probs, np.float32(9.0), "dsnt"), decode(probs, beta, "dsnt"))


def test_soft_decode_default_and_bad_method():
    x = np.random.default_rng(91).normal(size=(2, 5, 6)).astype(np.float32)
    np.testing.assert_array_equal(ops.soft_decode(x), ops.soft_argmax(x, 1.0))
    with pytest.raises(ValueError, match=r"`method` must be one of \('soft_argmax', 'ipr', 'dsnt'\), got 'median'"):
        ops.soft_decode(x, method="median")

