"""``ops.numerics``: ``constant_like`` (exact constants that stay data),
``divide_exact`` (true division under jit), ``max_over_leading_axis``.

``constant_like``'s sharding under a batch-sharded ``vmap`` is checked in
``test_sharding.py`` with the other sharding checks.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcodecs import ops
from jaxcodecs.ops.numerics import max_over_leading_axis

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
