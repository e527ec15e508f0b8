"""jaxcodecs.ops filters against OpenCV's rules, re-implemented in NumPy.

The references (``npref`` in conftest) build OpenCV's kernel from its fixed
tables (k <= 9) or its sigma formula (k >= 11), pad with an explicit
reflect-101 index map or zeros, and convolve directly with the 2-D outer
product kernel (not separably), in float64.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcodecs import ops

ODD_SIZES = (1, 3, 5, 7, 9, 11, 13, 23)


# ------------------------------------------------------------------ kernels
@pytest.mark.parametrize("ksize", range(1, 32, 2))
def test_kernel_matches_opencv_rule(ksize, npref):
    kernel = ops.opencv_gaussian_kernel1d(ksize)
    assert kernel.shape == (ksize,)
    assert kernel.dtype == np.float32
    np.testing.assert_allclose(kernel, npref.opencv_kernel(ksize), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(kernel.sum(), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(kernel, kernel[::-1])


def test_kernel_fixed_tables_exact():
    """k <= 9 are OpenCV's integer tables, exactly representable in float32."""
    tables = {3: ([1, 2, 1], 4), 5: ([1, 4, 6, 4, 1], 16),
              7: ([2, 7, 14, 18, 14, 7, 2], 64), 9: ([4, 13, 30, 51, 60, 51, 30, 13, 4], 256)}
    for ksize, (table, total) in tables.items():
        np.testing.assert_array_equal(
            ops.opencv_gaussian_kernel1d(ksize), np.array(table, np.float32) / total)
    # k = 11 is the sampled Gaussian with sigma = 0.3 * (5 - 1) + 0.8 = 2.0.
    taps = np.arange(11) - 5.0
    g = np.exp(-taps**2 / 8.0)
    np.testing.assert_allclose(ops.opencv_gaussian_kernel1d(11), g / g.sum(), rtol=1e-6)


@pytest.mark.parametrize("bad", [0, 2, 4, -3])
def test_kernel_rejects_even_or_non_positive(bad):
    with pytest.raises(ValueError, match="ksize"):
        ops.opencv_gaussian_kernel1d(bad)
    with pytest.raises(ValueError, match="ksize"):
        ops.gaussian_blur(jnp.zeros((4, 4)), bad)


@pytest.mark.parametrize("bad", [3.0, True, "3"])
def test_kernel_rejects_non_int(bad):
    with pytest.raises(TypeError, match="ksize"):
        ops.opencv_gaussian_kernel1d(bad)


# -------------------------------------------------------------------- blurs
@pytest.mark.parametrize("border", ["reflect101", "zero"])
@pytest.mark.parametrize(
    "shape,ksize",
    [((2, 13, 17), 3), ((2, 13, 17), 5), ((1, 13, 17), 7), ((2, 13, 17), 9),
     ((3, 16, 12), 11), ((1, 20, 9), 23),
     ((2, 3, 4), 11),   # pad wider than the map: reflect-101 repeats
     ((1, 1, 5), 5),    # a single row: reflect-101 of one sample is itself
     ((1, 1, 1), 3)],
)
def test_gaussian_blur_matches_reference(shape, ksize, border, npref):
    rng = np.random.default_rng(sum(shape) + ksize)
    x = rng.normal(size=shape).astype(np.float32)
    out = jax.jit(lambda a: ops.gaussian_blur(a, ksize, border=border))(x)
    assert out.shape == x.shape and out.dtype == jnp.float32
    np.testing.assert_allclose(out, npref.blur2d(x, ksize, border), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("border", ["reflect101", "zero"])
def test_both_forms_of_a_blur_pass(border):
    """A whole-map blur pass reads a padded copy on CPU and gathers its
    border in place elsewhere (``lax.platform_dependent``). Both forms, run
    here, do the same arithmetic: op by op they agree bit for bit; jitted,
    the compiler fuses each product into an addition differently (an ulp or
    so), and the gathered form keeps a symmetric map exactly symmetric.
    Only the other backends' program holds the gather."""
    from jax import export

    from jaxcodecs.ops.filters import _gather_padded, _pad_axis, convolve_valid

    def padded(a, ksize, axis):
        return convolve_valid(_pad_axis(a, ksize, axis, border), ksize, axis)

    def gathered(a, ksize, axis):
        return convolve_valid(_gather_padded(a, ksize, axis, border), ksize, axis)

    rng = np.random.default_rng(5)
    for shape, ksize in (((2, 13, 17), 5), ((3, 16, 12), 11), ((2, 3, 4), 11), ((1, 1, 5), 23), ((4, 64, 48), 23)):
        x = jnp.asarray(rng.normal(size=shape).astype(np.float32))
        for axis in (-1, -2):
            with jax.disable_jit():
                want = np.asarray(padded(x, ksize, axis))
                np.testing.assert_array_equal(np.asarray(gathered(x, ksize, axis)).view(np.uint32), want.view(np.uint32))
            jitted = jax.jit(gathered, static_argnums=(1, 2))(x, ksize, axis)
            np.testing.assert_allclose(jitted, want, rtol=1e-6, atol=1e-6 * np.abs(want).max())
    row = rng.normal(size=(3, 8, 9)).astype(np.float32)
    mirror = jnp.asarray(np.concatenate([row, row[..., -2::-1]], axis=-1))  # symmetric about column 8
    out = np.asarray(jax.jit(gathered, static_argnums=(1, 2))(mirror, 11, -1))
    np.testing.assert_array_equal(out[..., :8], out[..., -1:-9:-1])
    maps = jax.ShapeDtypeStruct((4, 17, 64, 48), np.float32)
    texts = {platform: export.export(jax.jit(lambda m: ops.gaussian_blur(m, 11, border=border)),
                                     platforms=[platform])(maps).mlir_module() for platform in ("cpu", "cuda")}
    assert "stablehlo.gather" in texts["cuda"] and "stablehlo.gather" not in texts["cpu"]


def test_rescaled_blur_is_written_out_on_cpu_only():
    """The rescaled maps are materialised on CPU (their product must not be
    fused into a neighbour difference) and fused into their readers on
    other backends; the values are one rounded product either way."""
    from jax import export

    maps = jax.ShapeDtypeStruct((4, 17, 64, 48), np.float32)
    texts = {platform: export.export(jax.jit(lambda m: ops.gaussian_blur_rescaled(m, 11)),
                                     platforms=[platform])(maps).mlir_module() for platform in ("cpu", "cuda")}
    barriers = {platform: text.count("= stablehlo.optimization_barrier") for platform, text in texts.items()}
    # CPU: the blurred maps, the two padded copies and the rescaled maps.
    assert barriers == {"cpu": 4, "cuda": 1}


def test_gaussian_blur_jit_and_eager(variant, npref):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 6, 5)).astype(np.float32)
    for border in ("reflect101", "zero"):
        out = variant(lambda a: ops.gaussian_blur(a, 3, border=border))(x)
        np.testing.assert_allclose(out, npref.blur2d(x, 3, border), rtol=1e-5, atol=1e-6)
        out = variant(lambda a: ops.gaussian_blur1d(a, 3, border=border))(x)
        np.testing.assert_allclose(out, npref.blur1d(x, 3, border), rtol=1e-5, atol=1e-6)


def test_gaussian_blur_acts_on_last_two_axes(npref):
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(2, 3, 10, 7)).astype(np.float32)
    blur = jax.jit(lambda a: ops.gaussian_blur(a, 5))
    out = blur(x)
    np.testing.assert_allclose(out, npref.blur2d(x, 5), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(blur(x[0, 0]), out[0, 0], rtol=1e-6, atol=1e-7)


def test_gaussian_blur_preserves_constants_and_mass():
    """Reflect-101 blur of a constant is that constant (the kernel sums to 1);
    zero-padded blur keeps the total mass of a map far from the border."""
    const = jnp.full((9, 11), 3.5, jnp.float32)
    np.testing.assert_allclose(jax.jit(lambda a: ops.gaussian_blur(a, 7))(const), 3.5, rtol=1e-6)
    impulse = np.zeros((21, 21), np.float32)
    impulse[10, 10] = 1.0
    out = jax.jit(lambda a: ops.gaussian_blur(a, 11, border="zero"))(impulse)
    np.testing.assert_allclose(out.sum(), 1.0, rtol=1e-6)
    kernel = ops.opencv_gaussian_kernel1d(11)
    np.testing.assert_allclose(out[5:16, 5:16], np.outer(kernel, kernel), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("border", ["reflect101", "zero"])
@pytest.mark.parametrize("ksize", [3, 9, 11])
def test_gaussian_blur_keeps_symmetry_exactly(ksize, border):
    """A map symmetric about its centre pixel stays bit-for-bit symmetric, so
    the sign of a neighbour difference at the centre is exactly 0."""
    rng = np.random.default_rng(ksize)
    half = rng.uniform(size=(8, 6)).astype(np.float32)
    sym_x = np.concatenate([half, half[:, -2::-1]], axis=1)  # width 11, centre column 5
    sym = np.concatenate([sym_x, sym_x[-2::-1]], axis=0)     # height 15, centre row 7
    out = np.asarray(jax.jit(lambda a: ops.gaussian_blur(a, ksize, border=border))(sym))
    np.testing.assert_array_equal(out, out[:, ::-1])
    np.testing.assert_array_equal(out, out[::-1, :])


def test_gaussian_blur_dtype_and_errors():
    x = jnp.ones((4, 5), jnp.bfloat16)
    assert ops.gaussian_blur(x, 3).dtype == jnp.bfloat16
    with pytest.raises(ValueError, match="border"):
        ops.gaussian_blur(jnp.zeros((4, 4)), 3, border="wrap")
    with pytest.raises(ValueError, match="x"):
        ops.gaussian_blur(jnp.zeros((4,)), 3)
    with pytest.raises(ValueError, match="x"):
        ops.gaussian_blur1d(jnp.float32(1.0), 3)


@pytest.mark.parametrize("border", ["reflect101", "zero"])
@pytest.mark.parametrize("shape,ksize", [((2, 3, 40), 9), ((1, 4, 33), 11), ((5, 2), 23), ((1, 1), 3)])
def test_gaussian_blur1d_matches_reference(shape, ksize, border, npref):
    rng = np.random.default_rng(ksize)
    x = rng.normal(size=shape).astype(np.float32)
    out = jax.jit(lambda a: ops.gaussian_blur1d(a, ksize, border=border))(x)
    assert out.shape == x.shape
    np.testing.assert_allclose(out, npref.blur1d(x, ksize, border), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------- rescaled blurs
@pytest.mark.parametrize("ksize", [3, 11, 17])
def test_gaussian_blur_rescaled_matches_reference(ksize, npref):
    rng = np.random.default_rng(ksize)
    x = rng.uniform(0.0, 2.0, size=(3, 12, 10)).astype(np.float32)
    x[1] = -x[1]  # an all-negative map is rescaled as well
    out = jax.jit(lambda a: ops.gaussian_blur_rescaled(a, ksize))(x)
    np.testing.assert_allclose(out, npref.blur_rescaled(x, ksize), rtol=1e-5, atol=1e-6)
    # The maximum of each map is the original maximum.
    np.testing.assert_allclose(np.max(out, axis=(1, 2)), np.max(x, axis=(1, 2)), rtol=1e-6)


def test_gaussian_blur_rescaled_zero_channel_stays_zero(variant):
    """Policy 6: MMPose divides 0 by 0 here; the port keeps the channel zero."""
    x = np.zeros((3, 8, 9), np.float32)
    x[1, 4, 4] = 2.0
    out = np.asarray(variant(lambda a: ops.gaussian_blur_rescaled(a, 5))(x))
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[0], 0.0)
    np.testing.assert_array_equal(out[2], 0.0)
    np.testing.assert_allclose(out[1].max(), 2.0, rtol=1e-6)
    assert np.unravel_index(out[1].argmax(), out[1].shape) == (4, 4)


def test_gaussian_blur1d_rescaled(variant, npref):
    rng = np.random.default_rng(3)
    x = rng.uniform(0.1, 1.0, size=(2, 3, 30)).astype(np.float32)
    x[0, 1] = 0.0
    out = np.asarray(variant(lambda a: ops.gaussian_blur1d_rescaled(a, 5))(x))
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[0, 1], 0.0)
    np.testing.assert_allclose(out, npref.blur1d_rescaled(x, 5), rtol=1e-5, atol=1e-6)


def test_gaussian_blur_gradient_is_the_adjoint():
    """The blur is linear: its VJP with cotangent c is the transposed blur of c,
    so <blur(x), c> == <x, vjp(c)> for any x, c."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(7, 9)), jnp.float32)
    c = jnp.asarray(rng.normal(size=(7, 9)), jnp.float32)
    for border in ("reflect101", "zero"):
        def pair(a, cot, border=border):
            out, vjp = jax.vjp(lambda b: ops.gaussian_blur(b, 5, border=border), a)
            return out, vjp(cot)[0]

        out, back = jax.jit(pair)(x, c)
        np.testing.assert_allclose(jnp.vdot(out, c), jnp.vdot(x, back), rtol=1e-5)
        assert float(jnp.abs(back).sum()) > 0
