"""``ops.numerics``: ``constant_like`` (exact constants that stay data),
``divide_exact`` (true division under jit) with ``correct_quotient`` (correctly
rounded on any backend), ``multiply_exact`` (a product rounded on its own
under a fused multiply-add), ``max_over_leading_axis``.

``constant_like``'s sharding under a batch-sharded ``vmap`` is checked in
``test_sharding.py`` with the other sharding checks.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcodecs import ops
from jaxcodecs.ops.numerics import correct_quotient, max_over_leading_axis

SPECIALS = np.array([[0.0, -0.0, np.nan, np.inf], [-np.inf, 1e38, -3.5, 7.0]], np.float32)


@pytest.mark.parametrize("value, dtype", [(1.0, jnp.float32), (4.0, jnp.float32), (0.0, jnp.float32),
                                          (-2.5, jnp.float32), (True, jnp.bool_), (False, jnp.bool_),
                                          (0, jnp.int32), (3, jnp.int32)])
def test_constant_like_is_exact_where_like_is_nan_or_inf(value, dtype, variant):
    out = variant(lambda x: ops.constant_like(value, x))(SPECIALS)
    assert out.shape == SPECIALS.shape and out.dtype == dtype
    np.testing.assert_array_equal(out, np.full(SPECIALS.shape, value, dtype))


def test_constant_like_shape_and_dtype(variant):
    poses = np.full((3, 4, 2), np.nan, np.float32)
    # Broadcastable shape: derived elementwise; other shapes: from the first element.
    rows = variant(lambda p: ops.constant_like(1.0, p[..., 0], shape=(2, 3, 4)))(poses)
    flag = variant(lambda p: ops.constant_like(True, p, shape=()))(poses)
    index = variant(lambda p: ops.constant_like(5, p, shape=()))(poses)
    half = variant(lambda p: ops.constant_like(0.5, p, shape=(7,), dtype=jnp.bfloat16))(poses)
    np.testing.assert_array_equal(rows, np.ones((2, 3, 4), np.float32))
    assert flag.shape == () and flag.dtype == jnp.bool_ and bool(flag)
    assert index.shape == () and index.dtype == jnp.int32 and int(index) == 5
    assert half.dtype == jnp.bfloat16 and np.all(np.asarray(half, np.float32) == 0.5)
    # Integer and empty inputs.
    np.testing.assert_array_equal(ops.constant_like(2.0, np.arange(3)), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(ops.constant_like(2.0, np.zeros((0, 3)), shape=(2,)), [2.0, 2.0])


def test_constant_like_has_zero_gradient():
    grad = jax.grad(lambda x: jnp.sum(ops.constant_like(3.0, x) * x))(jnp.arange(4.0))
    np.testing.assert_array_equal(grad, [3.0, 3.0, 3.0, 3.0])


def test_constant_like_is_not_folded_to_a_literal():
    """The output depends on the input in the compiled program (a folded
    constant would be replicated across a sharded batch)."""
    hlo = jax.jit(lambda x: ops.constant_like(1.0, x)).lower(jnp.zeros((4, 3))).compile().as_text()
    assert "compare" in hlo


def test_divide_exact_is_the_true_quotient(variant):
    rng = np.random.default_rng(0)
    x = rng.uniform(-100, 100, (4096,)).astype(np.float32)
    divisor = np.float32(3.0)
    out = variant(lambda a: ops.divide_exact(a, divisor))(x)
    np.testing.assert_array_equal(out, x / divisor)  # NumPy's correctly rounded float32 division


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8])
def test_max_over_leading_axis_is_numpy_max(count, variant):
    rng = np.random.default_rng(count)
    # Small integers (exact in float32) make ties common; a NaN-free mix of signs.
    x = rng.integers(-4, 5, (count, 3, 4, 5)).astype(np.float32)
    out = variant(max_over_leading_axis)(x)
    assert out.shape == x.shape[1:] and out.dtype == x.dtype
    np.testing.assert_array_equal(out, np.max(x, axis=0))


def test_max_over_leading_axis_under_vmap_and_ints():
    x = np.random.default_rng(0).integers(-9, 9, (6, 4, 3, 2)).astype(np.int32)
    out = jax.jit(jax.vmap(max_over_leading_axis))(x)  # per row of 6: the max over its 4 entries
    np.testing.assert_array_equal(out, np.max(x, axis=1))


def test_max_over_leading_axis_needs_an_entry():
    with pytest.raises(ValueError, match="`x`.*shape \\(0, 3\\)"):
        max_over_leading_axis(np.zeros((0, 3), np.float32))


# ------------------------------------------------------- correct_quotient
def _nudge(values, ulps):
    """``values`` moved by ``ulps`` float32 steps (toward +inf when positive)."""
    out = values.astype(np.float32)
    for _ in range(abs(ulps)):
        out = np.nextafter(out, np.float32(np.inf if ulps > 0 else -np.inf))
    return out


def _quotient_cases(rng, n):
    """Pairs (x, d) whose float32 quotients are hard to round: random
    magnitudes over a wide range, powers of two, exact multiples, halves,
    significands at the binade edges, and quotients within a hair of the
    midpoint between two floats."""
    def wide(size):
        return (rng.standard_normal(size) * np.exp2(rng.integers(-60, 60, size))).astype(np.float32)

    xs, ds = [wide(n)], [wide(n)]
    xs.append(np.exp2(rng.integers(-100, 100, n)).astype(np.float32))
    ds.append(np.exp2(rng.integers(-100, 100, n)).astype(np.float32) * rng.choice([-1, 1], n).astype(np.float32))
    d = wide(n)
    k = rng.integers(-4096, 4096, n).astype(np.float32)
    xs.append((k * d).astype(np.float32)), ds.append(d)  # exact when k * d is: the quotient is k
    xs.append((2 * rng.integers(-2**20, 2**20, n) + 1).astype(np.float32)), ds.append(np.full(n, 2, np.float32))
    edge = np.float32(1) - np.float32(2**-24) * rng.integers(0, 4, n).astype(np.float32)  # significands 2^24 - j
    xs.append((edge * np.exp2(rng.integers(-30, 30, n))).astype(np.float32))
    ds.append((np.float32(1) + np.float32(2**-23) * rng.integers(0, 4, n).astype(np.float32)))
    # Near-midpoint quotients: x = round(m * d) for the midpoint m of q and its successor.
    q, d = wide(n), wide(n)
    midpoint = (q.astype(np.float64) + np.nextafter(q, np.float32(np.inf)).astype(np.float64)) / 2
    xs.append((midpoint * d.astype(np.float64)).astype(np.float32)), ds.append(d)
    x, d = np.concatenate(xs), np.concatenate(ds)
    with np.errstate(all="ignore"):
        reference = x / d  # NumPy's float32 division: IEEE, correctly rounded
    # The operands and quotients the correction handles: normal, two binades
    # inside the float32 range (elsewhere it returns the quotient given).
    tiny, huge = np.float32(2**-120), np.float32(2**120)
    keep = (np.isfinite(reference) & (np.abs(reference) > tiny) & (np.abs(reference) < huge)
            & (np.abs(x) >= np.finfo(np.float32).tiny) & (np.abs(d) >= np.finfo(np.float32).tiny))
    return x[keep], d[keep], reference[keep]


@pytest.mark.parametrize("ulps", [0, 1, -1, 2, -2, 3, -3])
def test_correct_quotient_recovers_the_rounded_quotient(ulps):
    """From a quotient off by up to 3 ulps (as an inexact backend division
    gives), on about 580 k pairs, every result is NumPy's correctly rounded one."""
    x, d, reference = _quotient_cases(np.random.default_rng(ulps + 10), 100_000)
    assert x.size > 550_000
    out = jax.jit(correct_quotient)(x, d, _nudge(reference, ulps))
    wrong = np.flatnonzero(np.asarray(out).view(np.int32) != reference.view(np.int32))
    assert wrong.size == 0, f"{wrong.size} wrong, e.g. {x[wrong[:3]]} / {d[wrong[:3]]}"


def test_correct_quotient_from_a_reciprocal_product():
    x, d, reference = _quotient_cases(np.random.default_rng(3), 100_000)
    approximate = x * (np.float32(1) / d)  # off by an ulp for many pairs
    assert np.any(approximate != reference)
    out = jax.jit(correct_quotient)(x, d, approximate)
    np.testing.assert_array_equal(np.asarray(out).view(np.int32), reference.view(np.int32))


def test_correct_quotient_passes_special_values_through():
    x = np.array([0.0, -0.0, np.inf, np.nan, 1.0, 1e-40, 3.0, 1.0], np.float32)
    d = np.array([2.0, 3.0, 2.0, 1.0, np.inf, 1.0, 1e-40, 3.0], np.float32)
    given = np.array([0.0, -0.0, np.inf, np.nan, 0.0, 1e-40, 7.0, 0.0], np.float32)
    given[7] = _nudge(np.float32(1) / np.float32(3), 2)
    out = np.asarray(correct_quotient(x, d, given))
    # Zeros, infinities, NaN and subnormal operands keep the quotient given.
    np.testing.assert_array_equal(out[:7], given[:7])
    assert out[7] == np.float32(1) / np.float32(3)


def test_divide_exact_gradient_is_that_of_the_division():
    grad = jax.grad(lambda a: ops.divide_exact(a, np.float32(3.0)).sum())(np.ones(4, np.float32))
    np.testing.assert_allclose(grad, np.full(4, 1 / 3, np.float32), rtol=1e-7)


def test_the_correcting_branch_of_divide_exact():
    """The branch other platforms take (on CPU the division is already
    correctly rounded): a quotient off by ulps is corrected, an infinite or
    NaN one kept, and the gradient is that of the division."""
    from jaxcodecs.ops.numerics import _corrected

    x = np.array([1.0, 2.0, 1.0, 0.0, np.nan], np.float32)
    d = np.array([3.0, 7.0, 0.0, 0.0, 1.0], np.float32)
    with np.errstate(all="ignore"):
        exact = x / d
    off = exact.copy()
    off[:2] = _nudge(exact[:2], -2)
    out = np.asarray(jax.jit(_corrected)(x, d, off))
    np.testing.assert_array_equal(out, exact)  # NaN == NaN here
    grad = jax.grad(lambda a: _corrected(a, d[:2], a / d[:2]).sum())(x[:2])
    np.testing.assert_allclose(grad, 1 / d[:2], rtol=1e-7)


def _random_floats(rng, size):
    """float32 values over the whole normal range and beyond (subnormals,
    signed zeros, infinities, NaN)."""
    bits = rng.integers(0, 2**32, size, dtype=np.uint64).astype(np.uint32)
    values = bits.view(np.float32)
    return np.concatenate([values, np.float32([0.0, -0.0, 1e-45, -1e-40, np.inf, -np.inf, np.nan])])


@pytest.mark.parametrize("factor", [3, 7, 48, 4095, -13, 1, 0])
def test_multiply_exact_is_numpys_product(factor, variant):
    x = _random_floats(np.random.default_rng(factor + 100), 200_000)
    with np.errstate(over="ignore", invalid="ignore"):
        want = x * np.float32(factor)
    got = np.asarray(variant(lambda v: ops.multiply_exact(v, factor))(x))
    # XLA:CPU flushes subnormal inputs and results to zero (NumPy keeps
    # them): compared where both are normal numbers, zeros, inf or NaN.
    tiny = np.float32(2.0**-126)
    normal = ~((np.abs(x) < tiny) & (x != 0)) & ~((np.abs(want) < tiny) & (want != 0))
    assert normal.mean() > 0.9
    np.testing.assert_array_equal(got[normal], want[normal])


def test_multiply_exact_then_add_rounds_twice():
    """Under jit, ``multiply_exact(a, n) + c`` is NumPy's fl(fl(a n) + c);
    the plain ``a * n + c`` is a fused multiply-add on XLA:CPU (and GPUs)."""
    rng = np.random.default_rng(7)
    a = rng.uniform(-100, 100, 1_000_000).astype(np.float32)
    c = rng.uniform(-100, 100, 1_000_000).astype(np.float32)
    for factor in (3, 48, 1000):
        got = np.asarray(jax.jit(lambda u, w: ops.multiply_exact(u, factor) + w)(a, c))
        np.testing.assert_array_equal(got, a * np.float32(factor) + c)
        got = np.asarray(jax.jit(jax.vmap(lambda u, w: ops.multiply_exact(u, factor) + w))(a, c))
        np.testing.assert_array_equal(got, a * np.float32(factor) + c)


def test_multiply_exact_gradient_dtypes_and_errors():
    x = jnp.float32([1.5, -2.0, 3.25])
    np.testing.assert_array_equal(jax.grad(lambda v: jnp.sum(ops.multiply_exact(v, 48) ** 2))(x), 2 * 48 * 48 * x)
    np.testing.assert_array_equal(jax.jacfwd(lambda v: ops.multiply_exact(v, -5))(x), -5 * np.eye(3))
    half = jnp.float16([1.5, 3.0])
    out = ops.multiply_exact(half, 3)
    assert out.dtype == jnp.float16
    np.testing.assert_array_equal(out, np.float16([4.5, 9.0]))
    for bad in (4096, -5000, 2.5, True, np.float32(3.0)):
        with pytest.raises(ValueError, match="`factor`"):
            ops.multiply_exact(x, bad)
