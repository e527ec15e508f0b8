"""Maximum finders on heatmaps: the argmax of each map, and the peaks of
bottom-up decoders (max-pool NMS, then the top-k peaks of each map)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxcodecs.ops.filters import max_pool
from jaxcodecs.ops.validation import check_min_rank

__all__ = ["heatmap_argmax", "heatmap_nms", "topk_peaks"]


def heatmap_argmax(heatmaps: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Location and value of each map's maximum.

    The first maximum in row-major order wins (lowest y, then lowest x), as
    with NumPy's ``argmax``. Where the maximum is ``<= 0`` the map has no
    peak and the location is ``(-1, -1)``.

    Args:
      heatmaps: ``(..., H, W)``, e.g. ``(K, H, W)`` or ``(B, K, H, W)``.

    Returns:
      ``locations (..., 2)`` as float ``(x, y)`` in heatmap pixels, and
      ``values (...)`` in the heatmaps' dtype.
    """
    heatmaps = jnp.asarray(heatmaps)
    check_min_rank(heatmaps, 2, "heatmaps", "(..., H, W)")
    # Row maxima first, then the first row that attains the maximum, then the
    # first column in that row: the row-major first maximum, found with one
    # fast max-reduction over the map and two argmaxes over a single axis
    # (a flat argmax is a slow variadic reduction on XLA:CPU; ~15x slower).
    # NaN ranks above everything, as in NumPy (XLA's vectorised max may
    # skip it); the substitution fuses into the reductions.
    def ranked(maps):
        if not jnp.issubdtype(maps.dtype, jnp.floating):
            return maps
        return jnp.where(jnp.isnan(maps), jnp.inf, maps)

    row_max = jnp.max(heatmaps, axis=-1)
    if jnp.issubdtype(heatmaps.dtype, jnp.floating):
        # A separate NaN test (a reduction that only reads the maps): ranking
        # NaN inside the maximum would make XLA write a whole ranked copy of
        # the maps when they have other consumers (a refinement).
        row_max = jnp.where(jnp.any(jnp.isnan(heatmaps), axis=-1), jnp.inf, row_max)
    y = jnp.argmax(row_max, axis=-1)
    row = jnp.take_along_axis(heatmaps, y[..., None, None], axis=-2)[..., 0, :]
    x = jnp.argmax(ranked(row), axis=-1)
    values = jnp.take_along_axis(row, x[..., None], axis=-1)[..., 0]
    loc_dtype = heatmaps.dtype if jnp.issubdtype(heatmaps.dtype, jnp.floating) else jnp.float32
    locations = jnp.stack([x, y], axis=-1).astype(loc_dtype)
    # NumPy's rule: a map holding NaN has its maximum at the first NaN (with
    # value NaN), which is not <= 0, so that location is kept.
    locations = jnp.where((values <= 0)[..., None], -jnp.ones_like(locations), locations)
    return locations, values


def heatmap_nms(heatmaps: jnp.ndarray, kernel_size: int) -> jnp.ndarray:
    """Non-maximum suppression by max-pooling (Newell et al., "Associative
    Embedding", NeurIPS 2017; Cheng et al., HigherHRNet, CVPR 2020).

    A pixel survives when it equals the maximum of the ``kernel_size``
    window centred on it (border padded with ``-inf``); every other pixel
    becomes 0. A plateau keeps all of its pixels.

    Args:
      heatmaps: ``(..., H, W)``.
      kernel_size: odd window size.

    Returns:
      ``(..., H, W)`` in the heatmaps' dtype.
    """
    heatmaps = jnp.asarray(heatmaps)
    check_min_rank(heatmaps, 2, "heatmaps", "(..., H, W)")
    pooled = max_pool(heatmaps, kernel_size)
    return jnp.where(heatmaps == pooled, heatmaps, jnp.zeros_like(heatmaps))


def topk_peaks(heatmaps: jnp.ndarray, k: int) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
    """The ``k`` largest values of each map, in descending order.

    Equal values come in row-major order (lowest flat index first). Apply
    :func:`heatmap_nms` first to get peaks rather than neighbouring pixels
    of one peak. ``k`` is static, so the result has a fixed shape.

    Args:
      heatmaps: ``(..., H, W)``.
      k: the number of peaks per map, ``1 <= k <= H * W``.

    Returns:
      ``values (..., k)``, ``locations (..., k, 2)`` as float ``(x, y)``
      pixels and ``indices (..., k)``, the int32 flat indices ``y * W + x``.
    """
    heatmaps = jnp.asarray(heatmaps)
    check_min_rank(heatmaps, 2, "heatmaps", "(..., H, W)")
    height, width = heatmaps.shape[-2:]
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or not 1 <= k <= height * width:
        raise ValueError(f"`k` must be an int in [1, H * W] = [1, {height * width}], got {k!r}.")
    flat = heatmaps.reshape(heatmaps.shape[:-2] + (height * width,))
    values, indices = jax.lax.top_k(flat, int(k))
    indices = indices.astype(jnp.int32)
    loc_dtype = heatmaps.dtype if jnp.issubdtype(heatmaps.dtype, jnp.floating) else jnp.float32
    locations = jnp.stack([indices % width, indices // width], axis=-1).astype(loc_dtype)
    return values, locations, indices
