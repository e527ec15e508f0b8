"""ops.validation: the argument checks and the one hyper-parameter normalisation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcodecs.ops.validation import as_float_array, as_parameter, check_rank


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
