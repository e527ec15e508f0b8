"""Sub-pixel maxima by fitting a Gaussian of known width to the pixels of
the map around each maximum (shapes as in :mod:`jaxcodecs.ops.refine`).

A DARK-style refinement blurs the map first, and a blur near the border
must invent the pixels beyond it (zero or reflected padding), which shifts
the blurred maximum of a Gaussian cut by the border. A least-squares fit of
the Gaussian model to the log of the pixels that exist reads nothing
outside the map and recovers a Gaussian target exactly wherever its centre
lies.
"""

from __future__ import annotations

import jax.numpy as jnp

from jaxcodecs.ops.refine import _batched_inputs, _locations
from jaxcodecs.ops.windows import gather_windows

__all__ = ["refine_keypoints_gaussian_fit"]


def refine_keypoints_gaussian_fit(
    keypoints: jnp.ndarray,
    heatmaps: jnp.ndarray,
    sigma,
    *,
    radius: int = 3,
    min_fraction: float = 1e-3,
    max_step: float = 1.5,
) -> jnp.ndarray:
    """Sub-pixel maxima by a weighted least-squares fit of a Gaussian of
    known width to the pixels around each maximum that lie inside the map.

    Around the integer maximum ``c`` the model ``h(p) = A exp(-(p_x -
    mu_x)^2 / (2 s_x^2) - (p_y - mu_y)^2 / (2 s_y^2))`` is linear in its
    unknowns after a log: ``log h(p) + d_x^2 / (2 s_x^2) + d_y^2 / (2 s_y^2)
    = a + (mu_x - c_x) d_x / s_x^2 + (mu_y - c_y) d_y / s_y^2`` with ``d = p -
    c``. It is fitted over the ``(2 radius + 1)^2`` window with weights
    ``h(p)^2`` (the inverse variance of ``log h`` under additive noise),
    leaving out pixels outside the map and those below ``min_fraction`` of
    the window's largest value. A Gaussian target of that width is
    recovered exactly wherever its maximum lies, the border included: no
    pixel outside the map is read or assumed, unlike a blur with padding.

    A keypoint whose fit is singular (fewer than three usable pixels in
    general position), whose step is not finite or exceeds ``max_step``
    pixels on an axis, a window without a positive pixel, and a location
    ``-1`` (no peak) are returned unchanged.

    Args:
      keypoints: ``(..., N, K, 2)`` maxima in heatmap pixels (integer-valued,
        e.g. from :func:`~jaxcodecs.ops.heatmap_argmax`; truncated toward zero).
      heatmaps: ``(..., K, H, W)`` with the same leading axes.
      sigma: the Gaussian's width in heatmap pixels: a scalar or ``(s_x,
        s_y)`` (may be traced).
      radius: static half-size of the window.
      min_fraction: static; pixels below this fraction of the window's
        largest value are left out (their log is dominated by noise).
      max_step: static bound on the step, in pixels.

    Returns:
      Refined keypoints ``(..., N, K, 2)``; differentiable w.r.t. ``heatmaps``
      and ``sigma``.
    """
    keypoints, heatmaps = _batched_inputs(keypoints, heatmaps)
    if int(radius) < 1:
        raise ValueError(f"`radius` must be a positive integer, got {radius!r}.")
    radius = int(radius)
    dtype = heatmaps.dtype
    sigma = jnp.broadcast_to(jnp.asarray(sigma, dtype), (2,))
    height, width = heatmaps.shape[-2:]
    x, y = _locations(keypoints)
    span = jnp.arange(-radius, radius + 1, dtype=jnp.int32)
    windows = gather_windows(heatmaps, x, y, radius, "zero")  # (..., N, K, S, S): [dy, dx]
    in_map = (((y[..., None] + span) >= 0) & ((y[..., None] + span) < height))[..., :, None] & (
        ((x[..., None] + span) >= 0) & ((x[..., None] + span) < width))[..., None, :]
    peak = jnp.max(jnp.where(in_map, windows, -jnp.inf), axis=(-2, -1), keepdims=True)
    usable = in_map & (windows > min_fraction * peak) & (windows > 0) & jnp.isfinite(windows)
    values = jnp.where(usable, windows, jnp.ones_like(windows))
    weight = jnp.where(usable, values * values, jnp.zeros_like(values))
    d = span.astype(dtype)
    dx, dy = d[None, :], d[:, None]  # (1, S) columns, (S, 1) rows
    target = jnp.log(values) + dx * dx / (2 * sigma[0] ** 2) + dy * dy / (2 * sigma[1] ** 2)
    # Normal equations of the fit in (a, b_x, b_y), b = (mu - c) / s^2.
    basis = (jnp.ones_like(dx * dy), jnp.broadcast_to(dx, (d.size, d.size)), jnp.broadcast_to(dy, (d.size, d.size)))

    def moment(f, g):
        return jnp.sum(weight * f * g, axis=(-2, -1))

    m = [[moment(f, g) for g in basis] for f in basis]
    r = [jnp.sum(weight * target * f, axis=(-2, -1)) for f in basis]
    # Cramer's rule on the symmetric 3x3 system.
    det = (m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
           - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
           + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]))
    scale = jnp.maximum(m[0][0], jnp.finfo(dtype).tiny) ** 3
    solvable = jnp.abs(det) > 1e-6 * scale
    safe = jnp.where(solvable, det, jnp.ones_like(det))
    b_x = (m[0][0] * (r[1] * m[2][2] - m[1][2] * r[2])
           - r[0] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
           + m[0][2] * (m[1][0] * r[2] - r[1] * m[2][0])) / safe
    b_y = (m[0][0] * (m[1][1] * r[2] - r[1] * m[2][1])
           - m[0][1] * (m[1][0] * r[2] - r[1] * m[2][0])
           + r[0] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])) / safe
    step = jnp.stack([b_x * sigma[0] ** 2, b_y * sigma[1] ** 2], axis=-1)
    located = (x >= 0) & (x < width) & (y >= 0) & (y < height) & (keypoints[..., 0] >= 0) & (keypoints[..., 1] >= 0)
    ok = (located & solvable & (peak[..., 0, 0] > 0))[..., None] & jnp.isfinite(step) & (jnp.abs(step) <= max_step)
    ok = jnp.all(ok, axis=-1, keepdims=True)
    return keypoints.at[..., :2].add(jnp.where(ok, step, jnp.zeros_like(step)).astype(keypoints.dtype))
