"""ops.validation: the argument checks and the one hyper-parameter normalisation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcodecs.ops.validation import as_float_array, as_parameter, check_axis_size, check_min_rank, check_rank


@pytest.mark.parametrize(
    "value, shape, expected",
    [
        (2.0, (3,), [2.0, 2.0, 2.0]),
        ((1.5, 2.5), (2,), [1.5, 2.5]),
        ([4], (2,), [4.0, 4.0]),
        (np.array([[1.0], [2.0]]), (2, 3), [[1.0] * 3, [2.0] * 3]),
    ],
)
def test_as_parameter_broadcasts_like_numpy(value, shape, expected):
    device = as_parameter(value, "sigma", shape)
    host = as_parameter(value, "sigma", shape, host=True)
    assert isinstance(device, jax.Array) and device.dtype == jnp.float32
    assert isinstance(host, np.ndarray) and host.dtype == np.float64
    np.testing.assert_array_equal(np.asarray(device), np.asarray(expected, np.float32))
    np.testing.assert_array_equal(host, np.asarray(expected, np.float64))


def test_as_parameter_keeps_host_precision():
    # 3 * sigma in float64, as NumPy computes it, differs from float32's.
    host = as_parameter(0.1, "sigma", (1,), host=True)
    assert host[0] == 0.1 and float(np.float32(0.1)) != 0.1


def test_as_parameter_traced_value_stays_traced():
    def f(s):
        out = as_parameter(s, "sigma", (2,), host=True)
        assert isinstance(out, jax.core.Tracer)
        return out

    np.testing.assert_array_equal(jax.jit(f)(jnp.float32(3.0)), [3.0, 3.0])
    pair = jax.jit(lambda a, b: as_parameter((a, b), "sigma", (2,)))(1.0, 2.0)
    np.testing.assert_array_equal(pair, [1.0, 2.0])


@pytest.mark.parametrize("value", [(1.0, 2.0, 3.0), np.ones((2, 2))])
def test_as_parameter_names_argument_and_shapes(value):
    with pytest.raises(ValueError, match=r"`sigma` must be a scalar or broadcastable to shape \(2,\), got shape"):
        as_parameter(value, "sigma", (2,))


@pytest.mark.parametrize("value", [True, "wide", 1 + 2j])
def test_as_parameter_rejects_non_real(value):
    with pytest.raises(TypeError, match="`beta`"):
        as_parameter(value, "beta", ())


def test_check_rank_and_float_conversion():
    with pytest.raises(ValueError, match=r"`keypoints` must have shape \(N, K, D\), got shape \(3, 2\)"):
        check_rank(jnp.zeros((3, 2)), 3, "keypoints", "(N, K, D)")
    assert as_float_array(np.arange(3), "x").dtype == jnp.float32
    with pytest.raises(TypeError, match="`x` must be real"):
        as_float_array(np.ones(2, np.complex64), "x")


def test_as_parameter_names_expected_shape_in_words():
    with pytest.raises(ValueError, match=r"`sigma` must be a scalar or broadcastable to shape \(N,\) = \(2,\), "
                                         r"got shape \(3,\)"):
        as_parameter(np.ones(3), "sigma", (2,), expected="(N,)")


def test_as_parameter_host_ignores_dtype_for_concrete_values():
    # Concrete: float64 on the host whatever dtype says; traced: that dtype.
    host = as_parameter(0.1, "sigma", (2,), dtype=jnp.float16, host=True)
    assert isinstance(host, np.ndarray) and host.dtype == np.float64 and host[0] == 0.1
    traced = jax.jit(lambda s: as_parameter(s, "sigma", (2,), dtype=jnp.float16, host=True))(0.1)
    assert traced.dtype == jnp.float16


def test_check_min_rank():
    check_min_rank(jnp.zeros((2, 3, 4)), 2, "heatmaps", "(..., H, W)")
    with pytest.raises(ValueError, match=r"`heatmaps` must have shape \(\.\.\., H, W\), got shape \(5,\) "
                                         r"and dtype float32"):
        check_min_rank(jnp.zeros((5,)), 2, "heatmaps", "(..., H, W)")


@pytest.mark.parametrize(
    "shape, rules, message",
    [
        ((2, 3, 3), dict(sizes=(2, 4)), r"axis -1 has size 3; expected one of \(2, 4\)"),
        ((2, 3, 1), dict(at_least=2), r"axis -1 has size 1; expected at least 2"),
        ((2, 3, 5), dict(sizes=5, multiple_of=3), r"axis -1 has size 5; expected a multiple of 3"),
        ((2, 3, 1), dict(sizes=3, at_least=2), r"axis -1 has size 1; expected 3 and at least 2"),
    ],
)
def test_check_axis_size_names_the_broken_rules(shape, rules, message):
    with pytest.raises(ValueError, match=r"`maps` must have shape \(N, K, C\), got shape " + r".*" + message):
        check_axis_size(jnp.zeros(shape), -1, "maps", "(N, K, C)", **rules)


def test_check_axis_size_accepts_valid_sizes():
    check_axis_size(jnp.zeros((9, 4, 4)), 0, "maps", "(3K, H, W)", multiple_of=3)
    check_axis_size(jnp.zeros((1, 2, 4)), -1, "encoded", "(N, K, 2|4)", sizes=(2, 4), at_least=2)
