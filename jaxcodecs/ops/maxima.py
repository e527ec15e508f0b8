"""Maximum finders on heatmaps."""

from __future__ import annotations

import jax.numpy as jnp

__all__ = ["heatmap_argmax"]


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
    if heatmaps.ndim < 2:
        raise ValueError(f"`heatmaps` must have shape (..., H, W), got shape {heatmaps.shape}.")
    height, width = heatmaps.shape[-2:]
    flat = heatmaps.reshape(heatmaps.shape[:-2] + (height * width,))
    index = jnp.argmax(flat, axis=-1)
    values = jnp.take_along_axis(flat, index[..., None], axis=-1)[..., 0]
    loc_dtype = heatmaps.dtype if jnp.issubdtype(heatmaps.dtype, jnp.floating) else jnp.float32
    locations = jnp.stack([index % width, index // width], axis=-1).astype(loc_dtype)
    locations = jnp.where((values > 0)[..., None], locations, -jnp.ones_like(locations))
    return locations, values
