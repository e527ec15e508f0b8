"""Maximum finders on heatmaps: the argmax of each map, and the peaks of
bottom-up decoders (max-pool NMS, then the top-k peaks of each map)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxcodecs.ops.filters import max_pool
from jaxcodecs.ops.validation import check_min_rank

__all__ = ["heatmap_argmax", "heatmap_nms", "topk_peaks"]


def first_where(mask: jnp.ndarray, missing=None, *, float_index: bool = False) -> jnp.ndarray:
    """The first index along the last axis where ``mask`` holds (``missing``
    where it never does; default the axis length), int32, as one
    min-reduction (a variadic (value, index) argmax is slow on XLA:CPU).

    ``float_index`` reduces a long axis (over 32) over float32 indices
    (exact below 2^24), for programs where kernel count matters more than a
    few microseconds (grouping): XLA:CPU splits a long integer reduction
    into two kernels and computes its operand in a third, a float one takes
    two, but runs slower on short rows, so the argmax helpers keep integers.
    """
    size = mask.shape[-1]
    as_float = float_index and 32 < size < 2**24
    index = np.arange(size, dtype=np.float32 if as_float else np.int32)
    # A static stand-in past every index is the reduction's own fill (no
    # select after it).
    direct = missing is None or (isinstance(missing, int) and missing >= size - 1)
    fill = size if missing is None or not direct else missing
    first = jnp.min(jnp.where(mask, jnp.asarray(index), index.dtype.type(fill)), axis=-1).astype(jnp.int32)
    return first if direct else jnp.where(first < size, first, missing)


def first_index(values: jnp.ndarray, target: jnp.ndarray) -> jnp.ndarray:
    """The first index along the last axis where ``values == target[..., None]``
    (the last index where there is none)."""
    return first_where(values == target[..., None], values.shape[-1] - 1)


def first_true(mask: jnp.ndarray) -> jnp.ndarray:
    """The first index along the last axis where ``mask`` holds (0 where it
    never does), NumPy's ``argmax`` of a bool array."""
    return first_where(mask, 0)


def first_min(values: jnp.ndarray) -> jnp.ndarray:
    """The first index of the minimum along the last axis, NaN ranking
    lowest (with ``-inf``): ``argmin`` as a min and a compare-and-min, two
    vectorised passes instead of XLA:CPU's scalar (value, index) reduction."""
    if jnp.issubdtype(values.dtype, jnp.floating):
        values = jnp.where(jnp.isnan(values), jnp.asarray(-np.inf, values.dtype), values)
    return first_index(values, jnp.min(values, axis=-1))


def ranked_max(x: jnp.ndarray) -> jnp.ndarray:
    """The maximum along the last axis with NaN ranked as ``+inf``.

    XLA:CPU's vectorised maximum may skip NaN, and testing ``isnan`` inside
    a reduction costs five plain passes, so on CPU NaN is found by a product
    with a constant vector: ``x @ (2^-e, ...)`` is NaN exactly where the row
    holds NaN or both infinities (the scale ``2^-e < 1 / (2 L)`` keeps every
    partial sum of finite values finite); a row holding ``+inf`` has maximum
    ``+inf`` anyway. On any other backend that product is a second pass
    over the maps (a matrix unit's kernel that nothing fuses with the
    maximum), so there NaN becomes ``+inf`` inside the one max-reduction
    (``lax.platform_dependent``: each program holds one of the two; they
    agree bit for bit). Integer arrays are returned as their plain maximum.
    """
    if not jnp.issubdtype(x.dtype, jnp.floating):
        return jnp.max(x, axis=-1)
    return jax.lax.platform_dependent(x, cpu=_ranked_max_probed, default=_ranked_max_fused)


def _ranked_max_probed(x: jnp.ndarray) -> jnp.ndarray:
    top = jnp.max(x, axis=-1)
    length = x.shape[-1]
    scale = np.ldexp(1.0, -(int(np.ceil(np.log2(max(length, 1)))) + 1))
    # DEFAULT precision: only NaN matters, and every backend keeps NaN and
    # infinities through a single-pass product.
    probe = jnp.matmul(x, jnp.full((length,), scale, x.dtype), precision=jax.lax.Precision.DEFAULT)
    return jnp.where(jnp.isnan(probe), jnp.asarray(np.inf, x.dtype), top)


def _ranked_max_fused(x: jnp.ndarray) -> jnp.ndarray:
    top = jnp.max(jnp.where(jnp.isnan(x), jnp.asarray(np.inf, x.dtype), x), axis=-1)
    # Behind a barrier, a caller's maximum over these maxima reads them, not
    # the maps again: XLA merges a reduction of a reduction into one over
    # both axes, which then runs beside this one as a second pass.
    return jax.lax.optimization_barrier(top)


def heatmap_argmax(heatmaps: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Location and value of each map's maximum.

    The first maximum in row-major order wins (lowest y, then lowest x), as
    with NumPy's ``argmax``; NaN ranks as ``+inf`` (a map holding NaN has
    its maximum at the first NaN or ``+inf``). Where the maximum is ``<= 0``
    the map has no peak and the location is ``(-1, -1)``.

    Args:
      heatmaps: ``(..., H, W)``, e.g. ``(K, H, W)`` or ``(B, K, H, W)``.

    Returns:
      ``locations (..., 2)`` as float ``(x, y)`` in heatmap pixels, and
      ``values (...)`` in the heatmaps' dtype.
    """
    heatmaps = jnp.asarray(heatmaps)
    check_min_rank(heatmaps, 2, "heatmaps", "(..., H, W)")
    # Row maxima (one plain reduction over the maps, and a product that
    # finds the rows holding NaN), the first row that attains the largest,
    # then the first column in that row that does: one pass over the maps
    # and one over a row of each.
    row_max = ranked_max(heatmaps)
    top = jnp.max(row_max, axis=-1)
    y = first_index(row_max, top)
    row = jnp.take_along_axis(heatmaps, y[..., None, None], axis=-2)[..., 0, :]
    ranked_row = jnp.where(jnp.isnan(row), jnp.inf, row) if jnp.issubdtype(row.dtype, jnp.floating) else row
    x = first_index(ranked_row, top)
    values = jnp.take_along_axis(row, x[..., None], axis=-1)[..., 0]
    loc_dtype = heatmaps.dtype if jnp.issubdtype(heatmaps.dtype, jnp.floating) else jnp.float32
    locations = jnp.stack([x, y], axis=-1).astype(loc_dtype)
    # A map holding NaN has its maximum at a NaN (value NaN, not <= 0) or
    # at +inf, so that location is kept.
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
    # Flat indices are never negative: C division, no floor fix-up.
    locations = jnp.stack([jax.lax.rem(indices, width), jax.lax.div(indices, width)], axis=-1).astype(loc_dtype)
    return values, locations, indices
