"""Gaussian blurs that reproduce OpenCV's ``GaussianBlur(img, (k, k), 0)``.

OpenCV derives the kernel from the size alone when sigma is 0:
``sigma = 0.3 * ((k - 1) / 2 - 1) + 0.8``, except that for k = 1, 3, 5, 7, 9 it
uses fixed binomial-like tables instead of the sampled Gaussian. The 2-D blur
is separable; its default border is reflect-101 (``dcb|abcd|cba``), which is
numpy's / JAX's ``mode="reflect"``.

All blurs act on the last one (1-D) or two (2-D) axes of an array of any
rank, so they apply to ``(K, H, W)`` heatmaps, ``(B, K, H, W)`` batches or
``(N, K, L)`` SimCC vectors alike. The convolution is a sum of ``k`` shifted
slices: XLA fuses it into one loop on every backend, it is exact float32
arithmetic with no reduced-precision matmul path, and it is differentiable.
"""

from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxcodecs.ops.validation import check_min_rank

__all__ = [
    "opencv_gaussian_kernel1d",
    "gaussian_blur",
    "gaussian_blur1d",
    "gaussian_blur_rescaled",
    "gaussian_blur1d_rescaled",
    "max_pool",
    "convolve_valid",
]

# OpenCV's fixed small kernels (used when sigma <= 0 and ksize <= 9).
_OPENCV_FIXED_KERNELS = {
    1: (1.0,),
    3: (0.25, 0.5, 0.25),
    5: (0.0625, 0.25, 0.375, 0.25, 0.0625),
    7: (0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125),
    9: tuple(v / 256.0 for v in (4, 13, 30, 51, 60, 51, 30, 13, 4)),
}


@functools.lru_cache(maxsize=None)
def _kernel_tuple(ksize: int) -> tuple[float, ...]:
    if ksize in _OPENCV_FIXED_KERNELS:
        return _OPENCV_FIXED_KERNELS[ksize]
    sigma = 0.3 * ((ksize - 1) * 0.5 - 1) + 0.8
    offsets = np.arange(ksize, dtype=np.float64) - (ksize - 1) / 2.0
    kernel = np.exp(-(offsets**2) / (2.0 * sigma * sigma))
    kernel /= kernel.sum()
    # OpenCV builds the kernel in double and stores it as float32 for float images.
    return tuple(float(v) for v in kernel.astype(np.float32))


def opencv_gaussian_kernel1d(ksize: int) -> np.ndarray:
    """The 1-D kernel OpenCV uses for ``GaussianBlur(..., (ksize, ksize), 0)``.

    Args:
      ksize: odd, positive kernel size.

    Returns:
      A float32 array of shape ``(ksize,)`` summing to 1.
    """
    _check_ksize(ksize)
    return np.asarray(_kernel_tuple(int(ksize)), dtype=np.float32)


def _check_ksize(ksize: int) -> None:
    if not isinstance(ksize, (int, np.integer)) or isinstance(ksize, bool):
        raise TypeError(f"`ksize` must be an int, got {type(ksize).__name__}.")
    if ksize < 1 or ksize % 2 != 1:
        raise ValueError(f"`ksize` must be odd and positive, got {ksize}.")


def _pad_mode(size: int, border: str) -> dict:
    """``np.pad`` / ``jnp.pad`` arguments of ``border`` along an axis of ``size``."""
    if border == "reflect101":
        # Reflect-101 of a single sample is that sample repeated.
        return {"mode": "edge" if size == 1 else "reflect"}
    if border == "zero":
        return {"mode": "constant"}
    raise ValueError(f"`border` must be 'reflect101' or 'zero', got {border!r}.")


def _pad_axis(x: jnp.ndarray, ksize: int, axis: int, border: str) -> jnp.ndarray:
    """``x`` padded by ``ksize // 2`` on both sides of ``axis`` with ``border``."""
    half = ksize // 2
    pad = [(0, 0)] * x.ndim
    pad[axis] = (half, half)
    return jnp.pad(x, pad, **_pad_mode(x.shape[axis], border))


def _blur_axis(x: jnp.ndarray, ksize: int, axis: int, border: str, *, materialise: bool = False) -> jnp.ndarray:
    """Convolves ``x`` along ``axis`` with the OpenCV kernel, same-size output.

    ``materialise`` writes the padded array once before the convolution
    reads it. For whole maps that is faster: fused into the convolution, XLA
    rebuilds the border pieces in several fusions (the previous pass once
    per piece) and reads them all; materialised, the 2-D blur of 64 x 17
    maps of 64 x 48 ran 2.0-2.5x faster on CPU (k = 23; 1.2-2.7x for k = 11),
    bit-identical. For short 1-D vectors (SimCC) the fused form is faster.
    """
    if ksize // 2 == 0:
        return x
    if not materialise:
        return convolve_valid(_pad_axis(x, ksize, axis, border), ksize, axis)
    # On CPU the padded array is written once, then read. Elsewhere that
    # write is a pass over memory: the taps read ``x`` itself, through a
    # gather of static indices that folds the border in (one kernel a pass).
    return lax.platform_dependent(
        x,
        cpu=lambda v: convolve_valid(lax.optimization_barrier(_pad_axis(v, ksize, axis, border)), ksize, axis),
        default=lambda v: convolve_valid(_gather_padded(v, ksize, axis, border), ksize, axis),
    )


def _gather_padded(x: jnp.ndarray, ksize: int, axis: int, border: str) -> jnp.ndarray:
    """:func:`_pad_axis` as one gather of static indices: the positions
    ``1..S`` padded as the values would be (a 0 there is a zero of the
    border)."""
    size = x.shape[axis]
    index = np.pad(np.arange(1, size + 1), ksize // 2, **_pad_mode(size, border)) - 1
    taken = jnp.take(x, jnp.asarray(np.maximum(index, 0)), axis=axis, mode="clip")  # all in range
    if (index >= 0).all():
        return taken
    shape = [1] * x.ndim
    shape[axis % x.ndim] = index.size
    return jnp.where(jnp.asarray((index >= 0).reshape(shape)), taken, jnp.zeros((), x.dtype))


def convolve_valid(padded: jnp.ndarray, ksize: int, axis: int) -> jnp.ndarray:
    """The OpenCV kernel of ``ksize`` applied along ``axis`` of an already
    padded array, keeping only the outputs whose taps all lie inside it
    (``size - ksize + 1`` of them along ``axis``).

    Symmetric taps are summed in pairs, centre first, as OpenCV's symmetric
    filters do: a map symmetric about a pixel stays exactly symmetric after
    the blur, so the sign of a neighbour difference there is exactly 0 (the
    quarter-pixel refinements depend on that tie). A window cut out of a
    padded map and blurred here gives the same values as the whole map's blur
    at those pixels.

    Args:
      padded: array ``(..., S, ...)`` with ``S >= ksize`` along ``axis``.
      ksize: odd kernel size.
      axis: the axis to convolve (negative counts from the end).

    Returns:
      ``(..., S - ksize + 1, ...)`` in ``padded``'s dtype.
    """
    kernel = _kernel_tuple(ksize)
    half = ksize // 2
    axis = axis % padded.ndim
    size = padded.shape[axis] - 2 * half

    def window(offset: int) -> jnp.ndarray:
        return lax.slice_in_dim(padded, half + offset, half + offset + size, axis=axis)

    out = jnp.asarray(kernel[half], padded.dtype) * window(0)
    for offset in range(1, half + 1):
        out = out + jnp.asarray(kernel[half + offset], padded.dtype) * (window(-offset) + window(offset))
    return out


def gaussian_blur(x: jnp.ndarray, ksize: int, *, border: str = "reflect101") -> jnp.ndarray:
    """OpenCV ``GaussianBlur(x, (ksize, ksize), 0)`` over the last two axes.

    Args:
      x: array ``(..., H, W)``.
      ksize: odd kernel size (OpenCV's fixed tables for ksize <= 9).
      border: ``"reflect101"`` (OpenCV's default border) or ``"zero"``
        (zero padding, as when OpenCV blurs a map padded with zeros).

    Returns:
      The blurred array, same shape and dtype as ``x``.
    """
    _check_ksize(ksize)
    x = jnp.asarray(x)
    check_min_rank(x, 2, "x", "(..., H, W)")
    # The barriers keep XLA from recomputing the whole blur in each consumer
    # (e.g. a max and a rescale); each pass reads its padded input, written
    # once (``_blur_axis``).
    rows = _blur_axis(x, ksize, x.ndim - 1, border, materialise=True)
    return lax.optimization_barrier(_blur_axis(rows, ksize, x.ndim - 2, border, materialise=True))


def gaussian_blur1d(x: jnp.ndarray, ksize: int, *, border: str = "reflect101") -> jnp.ndarray:
    """The 1-D OpenCV Gaussian kernel applied along the last axis of ``x (..., L)``."""
    _check_ksize(ksize)
    x = jnp.asarray(x)
    check_min_rank(x, 1, "x", "(..., L)")
    return _blur_axis(x, ksize, x.ndim - 1, border)


def rescale_factor(original: jnp.ndarray, blurred: jnp.ndarray, axes: tuple) -> jnp.ndarray:
    """``max(original) / max(blurred)`` per map (keepdims), 1 where ``max(blurred) == 0``.

    With factor 1 a map whose blurred maximum is 0 (e.g. an all-zero channel)
    stays as blurred instead of dividing by zero, so a zero channel stays zero
    and no NaN or Inf is ever produced (MMPose divides 0 by 0 there).
    """
    orig_max = jnp.max(original, axis=axes, keepdims=True)
    blur_max = jnp.max(blurred, axis=axes, keepdims=True)
    nonzero = blur_max != 0
    safe = jnp.where(nonzero, blur_max, jnp.ones_like(blur_max))
    return jnp.where(nonzero, orig_max / safe, jnp.ones_like(blur_max))


def _rescale_to_original_max(original: jnp.ndarray, blurred: jnp.ndarray, axes: tuple) -> jnp.ndarray:
    # Materialised on CPU: fused into a consumer such as ``b[x+1] * f -
    # b[x-1] * f``, the multiply would be contracted into an FMA that is not
    # zero when the two neighbours are equal. Elsewhere writing the rescaled
    # maps and reading them back is two passes over memory, so the product
    # is fused into its readers (the argmax compares it, DARK takes its log,
    # and the Megvii step treats differences within rounding as ties).
    rescaled = blurred * rescale_factor(original, blurred, axes)
    return lax.platform_dependent(rescaled, cpu=lax.optimization_barrier, default=lambda r: r)


def gaussian_blur_rescaled(x: jnp.ndarray, ksize: int) -> jnp.ndarray:
    """The blur used by DARK refinement (Zhang et al., CVPR 2020).

    Each ``(H, W)`` map is blurred with zero padding and rescaled so that its
    maximum keeps its original value. An all-zero map stays all zero.

    Args:
      x: heatmaps ``(..., H, W)``.
      ksize: odd kernel size.

    Returns:
      Blurred heatmaps, same shape and dtype as ``x``.
    """
    blurred = gaussian_blur(x, ksize, border="zero")
    return _rescale_to_original_max(jnp.asarray(x), blurred, (-2, -1))


def gaussian_blur1d_rescaled(x: jnp.ndarray, ksize: int) -> jnp.ndarray:
    """1-D version of :func:`gaussian_blur_rescaled` over the last axis ``(..., L)``."""
    blurred = gaussian_blur1d(x, ksize, border="zero")
    return _rescale_to_original_max(jnp.asarray(x), blurred, (-1,))


def max_pool(x: jnp.ndarray, ksize: int) -> jnp.ndarray:
    """Same-size ``ksize x ksize`` maximum filter over the last two axes.

    Stride 1, the window centred on each pixel, and the border padded with
    ``-inf`` so that it never wins (a max-pool with padding ``(ksize - 1) /
    2``, as the heatmap NMS of bottom-up pose decoders uses). The square
    window is separable: a 1-D maximum along x, then along y.

    Args:
      x: ``(..., H, W)`` float maps.
      ksize: odd window size.

    Returns:
      ``(..., H, W)``, the window maxima, in ``x``'s dtype.
    """
    _check_ksize(ksize)
    x = jnp.asarray(x)
    check_min_rank(x, 2, "x", "(..., H, W)")
    if ksize == 1:
        return x
    window = (1,) * (x.ndim - 2)
    pad = ((0, 0),) * (x.ndim - 2)
    half = (ksize - 1) // 2
    rows = lax.reduce_window(x, -jnp.inf, lax.max, window + (1, ksize), (1,) * x.ndim,
                                 pad + ((0, 0), (half, half)))
    return lax.reduce_window(rows, -jnp.inf, lax.max, window + (ksize, 1), (1,) * x.ndim,
                                 pad + ((half, half), (0, 0)))
