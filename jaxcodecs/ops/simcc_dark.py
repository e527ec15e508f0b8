"""SimCC-DARK refinement that reads a window of each vector (Zhang et al.,
CVPR 2020, as used by SimCC, Li et al., ECCV 2022).

The step needs the blurred vector at five bins around the maximum, which a
window of ``5 + k - 1`` raw bins gives (``k`` the blur size), and the
maximum of the whole blurred vector, by which the blurred values are
rescaled before the clip and the log. That maximum can lie anywhere, so it
is found in two stages that give the same value as blurring every bin:

* every chunk of ``_CHUNK`` bins gets an upper bound of its blurred values
  from the maximum of the raw bins its blur reads (a convolution with a
  non-negative kernel never exceeds that maximum times the kernel's sum;
  float32 rounding is covered by a relative margin);
* ``_CANDIDATES`` consecutive chunks around the largest bound are blurred;
  their maximum is the vector's maximum when no other chunk's bound
  exceeds it.

When that holds for every refined vector of the call (it does for peaked
vectors such as the Gaussian labels and typical model outputs), no other
bin is blurred; otherwise one ``lax.cond`` blurs the whole vectors. Under
``jax.vmap`` the condition is per sample and XLA evaluates both branches,
which is still exact, only slower (``SimCCLabel.batch_decode`` therefore
decodes a batch in one call).

Shapes: locations ``(...)`` in bins, vectors ``(..., L)``.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxcodecs.ops.filters import gaussian_blur1d, opencv_gaussian_kernel1d
from jaxcodecs.ops.validation import as_float_array, check_rank, check_same_leading

__all__ = ["refine_simcc_dark_window", "simcc_blurred_max"]

_CHUNK = 32
_CANDIDATES = 4
_READS = 5  # the stencil: bins c-2 .. c+2


def _window(rows: jnp.ndarray, start: jnp.ndarray, size: int) -> jnp.ndarray:
    """Raw bins ``start + t`` for ``t`` in ``[0, size)`` of ``rows (R, L)``,
    0 outside ``[0, L)`` (the blur's zero border); ``start (R, ...)`` gives
    ``(R, ..., size)``."""
    length = rows.shape[-1]
    at = start[..., None] + jnp.arange(size)
    flat = at.reshape(at.shape[0], -1)
    values = jnp.take_along_axis(rows, jnp.clip(flat, 0, length - 1), axis=-1).reshape(at.shape)
    return jnp.where((at >= 0) & (at < length), values, jnp.zeros_like(values))


def _blur_window(window: jnp.ndarray, kernel: np.ndarray) -> jnp.ndarray:
    """The blurred values at the inner ``size - k + 1`` bins of ``window
    (..., size)``, summed in the order of :func:`~jaxcodecs.ops.gaussian_blur1d`
    (centre tap, then symmetric pairs)."""
    half = len(kernel) // 2
    count = window.shape[-1] - 2 * half
    tap = lambda offset: window[..., half + offset: half + offset + count]  # noqa: E731
    out = jnp.asarray(kernel[half], window.dtype) * tap(0)
    for offset in range(1, half + 1):
        out = out + jnp.asarray(kernel[half + offset], window.dtype) * (tap(-offset) + tap(offset))
    return out


def simcc_blurred_max(rows: jnp.ndarray, blur_kernel_size: int, needed: jnp.ndarray) -> jnp.ndarray:
    """``max(gaussian_blur1d(rows, k, border="zero"))`` per row, blurring only
    candidate chunks where that provably gives the same value (module doc).

    Args:
      rows: ``(R, L)`` float vectors.
      blur_kernel_size: odd ``k``.
      needed: ``(R,)`` bool; rows whose value is not needed (e.g. no peak)
        never send the call to the whole-vector blur.

    Returns:
      ``(R,)`` maxima of the blurred rows.
    """
    length = rows.shape[-1]
    kernel = opencv_gaussian_kernel1d(blur_kernel_size)
    half = blur_kernel_size // 2

    def whole() -> jnp.ndarray:
        blurred = gaussian_blur1d(rows, blur_kernel_size, border="zero")
        # The first bin, already in the maximum, gives the blur a second
        # reader: XLA:CPU then materialises it instead of fusing every tap
        # into the reduction, which measured 100x slower.
        return jnp.maximum(jnp.max(blurred, axis=-1), blurred[..., 0])

    count = -(-length // _CHUNK)
    if count <= _CANDIDATES:
        return whole()
    # Maximum of the raw bins each chunk's blur reads; a window reaching past
    # an end also reads the zero border.
    ones = (1,) * (rows.ndim - 1)
    reach = lax.reduce_window(
        rows, np.array(-np.inf, rows.dtype), lax.max, ones + (_CHUNK + 2 * half,), ones + (_CHUNK,),
        ((0, 0),) * (rows.ndim - 1) + ((half, count * _CHUNK - length + half),),
    )
    starts = np.arange(count) * _CHUNK
    border = jnp.asarray((starts - half < 0) | (starts + _CHUNK - 1 + half > length - 1))
    reach = jnp.where(border, jnp.maximum(reach, 0), reach)
    # fl(blur) <= (1 + g) * sum * max for max >= 0 and (1 - g) * sum * max
    # below, with g covering the k-term float32 sum (standard error model).
    total = float(np.sum(kernel.astype(np.float64)))
    margin = 4 * blur_kernel_size * float(np.finfo(np.float32).eps)
    bound = jnp.where(reach >= 0, reach * (total * (1 + margin)), reach * (total * (1 - margin)))
    # Candidates: _CANDIDATES consecutive chunks from the one before the
    # largest bound (one contiguous window of raw bins).
    peak = jnp.max(bound, axis=-1, keepdims=True)
    best = jnp.min(jnp.where(bound == peak, jnp.arange(count), count - 1), axis=-1)
    first = jnp.clip(best - 1, 0, count - _CANDIDATES)
    window = _window(rows, first * _CHUNK - half, _CANDIDATES * _CHUNK + 2 * half)
    blurred = _blur_window(window, kernel)
    inside = first[:, None] * _CHUNK + jnp.arange(_CANDIDATES * _CHUNK) < length
    found = jnp.max(jnp.where(inside, blurred, -jnp.inf), axis=-1)
    chosen = (jnp.arange(count) >= first[:, None]) & (jnp.arange(count) < first[:, None] + _CANDIDATES)
    rest = jnp.max(jnp.where(chosen, -jnp.inf, bound), axis=-1)
    settled = (rest <= found) | ~needed
    return lax.cond(jnp.all(settled), lambda: found, whole)


def refine_simcc_dark_window(
    locations: jnp.ndarray,
    simcc: jnp.ndarray,
    blur_kernel_size: int,
    *,
    mmpose_compat: bool = True,
) -> jnp.ndarray:
    """DARK refinement of 1-D SimCC maxima, reading a window of each vector.

    The same values as :func:`~jaxcodecs.ops.refine_simcc_dark` (the vectors
    blurred with zero padding and rescaled to keep their maximum, clipped to
    ``[1e-3, 50]`` and log-transformed ``l``; one Newton step ``loc = c - d /
    dd`` from bin ``c`` with ``d = (l[c+1] - l[c-1]) / 2`` and ``dd = 1e-9 +
    (l[c+2] - 2 l[c] + l[c-2]) / 4``), computed from ``5 + k - 1`` raw bins
    around each maximum and the blurred maximum of :func:`simcc_blurred_max`.

    * ``mmpose_compat=True``: ``c`` is the bin ``trunc(loc + 2.5) - 2`` of the
      maximum; reads beyond the ends repeat the end value.
    * ``mmpose_compat=False``: the stencil stays inside the vector (``c``
      clipped to ``[2, L-3]``), the step is taken only where ``dd < 0``, and
      the result is kept within one bin of the maximum.

    A location ``-1`` (no peak) is returned unchanged, as is one whose step
    would divide by zero; an all-zero vector is not refined.

    Args:
      locations: ``(...)`` maxima in bins (e.g. ``(N, K)``).
      simcc: ``(..., L)`` vectors with the same leading shape.
      blur_kernel_size: odd size of the modulation blur.
      mmpose_compat: see above.

    Returns:
      Refined locations, shape and dtype of ``locations``; differentiable
      w.r.t. ``simcc``.
    """
    locations = as_float_array(locations, "locations")
    simcc = as_float_array(simcc, "simcc")
    expected = f"(..., L) with leading shape {locations.shape} (the locations')"
    check_rank(simcc, locations.ndim + 1, "simcc", expected)
    check_same_leading(locations, "locations", simcc, "simcc", locations.ndim, expected)
    length = simcc.shape[-1]
    opencv_gaussian_kernel1d(blur_kernel_size)  # validates the size
    half = blur_kernel_size // 2
    rows = simcc.reshape((-1, length))
    loc = locations.reshape(-1)

    index = jnp.trunc(loc + 2.5).astype(jnp.int32) - 2
    centre = index if mmpose_compat else jnp.clip(index, 2, max(length - 3, 2))
    at = jnp.clip(centre, 0, length - 1)
    window = _window(rows, at - 2 - half, _READS + 2 * half)
    blurred = _blur_window(window, opencv_gaussian_kernel1d(blur_kernel_size))  # bins at-2 .. at+2
    ok = (index >= 0) & (index < length)
    blur_max = simcc_blurred_max(rows, blur_kernel_size, ok)
    nonzero = blur_max != 0
    scale = jnp.where(nonzero, jnp.max(rows, axis=-1) / jnp.where(nonzero, blur_max, 1), 1)

    def read(offset: int) -> jnp.ndarray:
        pick = jnp.clip(at + offset, 0, length - 1) - at + 2
        value = jnp.take_along_axis(blurred, pick[:, None], axis=-1)[:, 0]
        return jnp.log(jnp.clip(value * scale, 1e-3, 50.0))

    d = 0.5 * (read(1) - read(-1))
    dd = 1e-9 + 0.25 * (read(2) - 2 * read(0) + read(-2))
    ok &= dd != 0
    if not mmpose_compat:
        ok &= dd < 0
    step = d / jnp.where(ok, dd, jnp.ones_like(dd))
    ok &= jnp.isfinite(step)
    step = jnp.where(ok, step, jnp.zeros_like(step))
    if mmpose_compat:
        refined = loc - step.astype(loc.dtype)
    else:
        refined = jnp.where(ok, jnp.clip(centre - step, index - 1, index + 1).astype(loc.dtype), loc)
    return refined.reshape(locations.shape)

