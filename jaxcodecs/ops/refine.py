"""Sub-pixel refinement of heatmap maxima.

Shapes: keypoints ``(N, K, 2)`` in heatmap pixels (integer-valued maxima from
:func:`~jaxcodecs.ops.heatmap_argmax`, or ``-1`` where a map has no peak),
heatmaps ``(K, H, W)``; instance ``n``'s keypoint ``k`` reads channel ``k``.

Refinements never read outside their channel: neighbours are gathered with
clipped indices, never through flat-index arithmetic, and a location of
``-1`` (no peak) is returned unchanged. The DARK refinements are
differentiable w.r.t. the heatmap values.

The DARK refinements are jitted (static: the blur size and ``lazy``): their
whole-map fallback is a ``lax.cond``, which an eager call would otherwise
trace and compile anew on every call (about 0.2 s each); under an outer
``jit`` or ``vmap`` they are inlined.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jaxcodecs.ops.filters import gaussian_blur1d, gaussian_blur1d_rescaled, rescale_factor
from jaxcodecs.ops.validation import (
    as_float_array,
    check_axis_size,
    check_min_rank,
    check_rank,
    check_same_leading,
)
from jaxcodecs.ops.windows import modulated_step

__all__ = [
    "refine_keypoints_quarter",
    "refine_keypoints_megvii",
    "refine_keypoints_dark",
    "refine_keypoints_dark_udp",
    "refine_simcc_dark",
    "modulate_simcc_dark",
]

_FLOAT32_EPS = 1.1920929e-07


def _inputs(keypoints, heatmaps, heatmaps_name: str = "heatmaps") -> tuple[jnp.ndarray, jnp.ndarray]:
    """Validated float ``keypoints (N, K, 2)`` and ``heatmaps (K, H, W)``."""
    keypoints = as_float_array(keypoints, "keypoints")
    heatmaps = as_float_array(heatmaps, heatmaps_name)
    check_rank(heatmaps, 3, heatmaps_name, "(K, H, W)")
    expected = f"(N, K, 2) with K = {heatmaps.shape[0]} (the heatmaps' channels)"
    check_rank(keypoints, 3, "keypoints", expected)
    check_axis_size(keypoints, 1, "keypoints", expected, sizes=heatmaps.shape[0])
    check_axis_size(keypoints, -1, "keypoints", expected, at_least=2)
    return keypoints, heatmaps


def _finite_or_zero(shift: jnp.ndarray) -> jnp.ndarray:
    """A NaN pixel next to a maximum leaves that keypoint unrefined (its
    score may be NaN; its location never is)."""
    return jnp.where(jnp.isfinite(shift), shift, jnp.zeros_like(shift))


def _sampler(heatmaps: jnp.ndarray, keypoints: jnp.ndarray, transform=None):
    """Integer location ``(x, y)`` (truncated toward zero) and a reader of
    ``transform(heatmaps[k, y + dy, x + dx], k)`` with indices clipped into the map.

    Refinements read a handful of pixels per keypoint, so a per-pixel
    transform (rescale, clamp, log) is applied to those reads only, never to
    the whole map.
    """
    num_keypoints, height, width = heatmaps.shape
    x = jnp.trunc(keypoints[..., 0]).astype(jnp.int32)
    y = jnp.trunc(keypoints[..., 1]).astype(jnp.int32)
    channel = jnp.arange(num_keypoints, dtype=jnp.int32)[None, :]

    def read(dx: int, dy: int) -> jnp.ndarray:
        values = heatmaps[
            channel,
            jnp.clip(y + dy, 0, height - 1),
            jnp.clip(x + dx, 0, width - 1),
        ]
        return values if transform is None else transform(values, channel)

    return x, y, read


def refine_keypoints_quarter(
    keypoints: jnp.ndarray, heatmaps: jnp.ndarray, *, mmpose_compat: bool = True
) -> jnp.ndarray:
    """Moves each maximum a quarter pixel toward its higher neighbour.

    The classic post-processing of Newell et al. (ECCV 2016) and Xiao et al.
    (ECCV 2018): ``kp += 0.25 * sign(h[x+1] - h[x-1])`` per axis.

    Args:
      keypoints: ``(N, K, 2)`` maxima in heatmap pixels.
      heatmaps: ``(K, H, W)``.
      mmpose_compat: ``True`` uses MMPose's asymmetric conditions (x is
        refined only if ``1 < x < W-1 and 0 < y < H``, y only if
        ``1 < y < H-1 and 0 < x < W``); ``False`` refines an axis whenever
        both of its neighbours exist (``0 < x < W-1``, resp. ``0 < y < H-1``).

    Returns:
      Refined keypoints ``(N, K, 2)``.
    """
    keypoints, heatmaps = _inputs(keypoints, heatmaps)
    _, height, width = heatmaps.shape
    x, y, read = _sampler(heatmaps, keypoints)
    if mmpose_compat:
        ok_x = (1 < x) & (x < width - 1) & (0 < y) & (y < height)
        ok_y = (1 < y) & (y < height - 1) & (0 < x) & (x < width)
    else:
        ok_x = (0 < x) & (x < width - 1) & (0 <= y) & (y < height)
        ok_y = (0 < y) & (y < height - 1) & (0 <= x) & (x < width)
    dx = jnp.where(ok_x, read(1, 0) - read(-1, 0), 0)
    dy = jnp.where(ok_y, read(0, 1) - read(0, -1), 0)
    shift = 0.25 * jnp.stack([jnp.sign(dx), jnp.sign(dy)], axis=-1).astype(keypoints.dtype)
    return keypoints.at[..., :2].add(_finite_or_zero(shift))


def _tie_aware_difference(after: jnp.ndarray, before: jnp.ndarray) -> jnp.ndarray:
    """``after - before``, but 0 when the two differ only by float rounding.

    A blurred map that is symmetric about its maximum (any blurred impulse)
    has equal neighbours in exact arithmetic, so the quarter-pixel step must
    be 0. In float32 the blur's rounding, and how a compiler fuses it (FMA
    contraction differs between fusions and backends), can leave a
    difference of a few ulps of either sign; treating differences within 8
    ulps of the operands as ties gives the exact-arithmetic answer on every
    backend. Real slopes next to a peak are many orders of magnitude larger.
    """
    diff = after - before
    eps = jnp.finfo(diff.dtype).eps
    tie = jnp.abs(diff) <= 8 * eps * jnp.maximum(jnp.abs(after), jnp.abs(before))
    return jnp.where(tie, jnp.zeros_like(diff), diff)


def refine_keypoints_megvii(keypoints: jnp.ndarray, blurred_heatmaps: jnp.ndarray) -> jnp.ndarray:
    """The MegviiHeatmap (Wang et al., MSPN 2019) refinement.

    Where both neighbours exist on both axes (``1 < x < W-1`` and
    ``1 < y < H-1``): ``kp += 0.25 * sign(gradient) + 0.5`` (a neighbour
    difference within float rounding of the blur counts as 0) — a quarter pixel
    toward the higher neighbour, plus half a pixel to move from a pixel's
    corner to its centre (Megvii targets are drawn at ``floor(kp / scale)``).
    Elsewhere the maximum is left unchanged (no +0.5 either), as in MMPose.

    Args:
      keypoints: ``(N, K, 2)`` maxima of the blurred heatmaps.
      blurred_heatmaps: ``(K, H, W)``.

    Returns:
      Refined keypoints ``(N, K, 2)``.
    """
    keypoints, blurred_heatmaps = _inputs(keypoints, blurred_heatmaps, "blurred_heatmaps")
    _, height, width = blurred_heatmaps.shape
    x, y, read = _sampler(blurred_heatmaps, keypoints)
    ok = (1 < x) & (x < width - 1) & (1 < y) & (y < height - 1)
    grad = jnp.stack(
        [_tie_aware_difference(read(1, 0), read(-1, 0)), _tie_aware_difference(read(0, 1), read(0, -1))],
        axis=-1,
    )
    shift = (jnp.sign(grad) * 0.25 + 0.5).astype(keypoints.dtype)
    return keypoints.at[..., :2].add(_finite_or_zero(jnp.where(ok[..., None], shift, 0)))


def _solve_2x2(dxx, dxy, dyy, dx, dy):
    """``inv([[dxx, dxy], [dxy, dyy]]) @ [dx, dy]`` and whether it exists."""
    det = dxx * dyy - dxy * dxy
    ok = det != 0
    safe = jnp.where(ok, det, jnp.ones_like(det))
    off_x = (dyy * dx - dxy * dy) / safe
    off_y = (dxx * dy - dxy * dx) / safe
    return jnp.stack([off_x, off_y], axis=-1), ok


# A step is stable when float rounding of the log values (~1e-7) cannot move
# it by more than ~1e-5 px: the Hessian's smaller eigenvalue is at least
# 0.01 in magnitude (a Gaussian log-map of variance 8 has 1/8) and the step
# stays within a pixel (a true maximum's step is at most half a pixel).
_MIN_CURVATURE = 0.01
_MAX_STEP = 1.0


def _newton_step(dxx, dxy, dyy, dx, dy):
    """``(offset, invertible, stable)`` of one Newton step (see ``_solve_2x2``)."""
    offset, invertible = _solve_2x2(dxx, dxy, dyy, dx, dy)
    half_trace = 0.5 * (dxx + dyy)
    radius = jnp.sqrt(0.25 * (dxx - dyy) ** 2 + dxy * dxy)
    curvature = jnp.minimum(jnp.abs(half_trace - radius), jnp.abs(half_trace + radius))
    stable = invertible & (curvature >= _MIN_CURVATURE) & jnp.all(jnp.abs(offset) <= _MAX_STEP, axis=-1)
    return offset, invertible, stable


def _batched_inputs(keypoints, heatmaps) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Validated float ``keypoints (..., N, K, 2)`` and ``heatmaps (..., K, H, W)``
    with the same leading axes."""
    keypoints = as_float_array(keypoints, "keypoints")
    heatmaps = as_float_array(heatmaps, "heatmaps")
    check_min_rank(heatmaps, 3, "heatmaps", "(..., K, H, W)")
    lead = heatmaps.ndim - 3
    expected = f"(..., N, K, 2) with (...) = {heatmaps.shape[:lead]} and K = {heatmaps.shape[-3]} (the heatmaps')"
    check_rank(keypoints, lead + 3, "keypoints", expected)
    check_same_leading(heatmaps, "heatmaps", keypoints, "keypoints", lead, expected)
    check_axis_size(keypoints, -2, "keypoints", expected, sizes=heatmaps.shape[-3])
    check_axis_size(keypoints, -1, "keypoints", expected, at_least=2)
    return keypoints, heatmaps


def _locations(keypoints: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Integer ``(x, y)``, truncated toward zero as NumPy's ``astype(int)``."""
    return (jnp.trunc(keypoints[..., 0]).astype(jnp.int32), jnp.trunc(keypoints[..., 1]).astype(jnp.int32))


_DARK_READS = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1), (2, 0), (-2, 0), (0, 2), (0, -2),
               (1, 1), (1, -1), (-1, 1), (-1, -1))
_DARK_UDP_READS = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, -1))


@functools.partial(jax.jit, static_argnames=("blur_kernel_size", "lazy"))
def refine_keypoints_dark(
    keypoints: jnp.ndarray, heatmaps: jnp.ndarray, blur_kernel_size: int, *, maxima=None, lazy: bool = True,
    where=None,
) -> jnp.ndarray:
    """Distribution-aware (DARK) refinement (Zhang et al., CVPR 2020).

    The heatmaps are blurred (zero padding, maximum kept), clamped at 1e-10
    and log-transformed; one Newton step on the log-map,
    ``kp -= H^{-1} ∇``, with central differences (step 1 for the gradient,
    step 2 for the Hessian), is applied to maxima with ``1 < x < W-2`` and
    ``1 < y < H-2`` whose Hessian is invertible. Other keypoints (borders,
    locations ``-1``, flat maps) are returned unchanged. Unless the whole
    maps are needed, only a window around each keypoint is blurred
    (:func:`~jaxcodecs.ops.windows.modulated_step`).

    Args:
      keypoints: ``(..., N, K, 2)`` maxima in heatmap pixels.
      heatmaps: ``(..., K, H, W)`` raw model output (the same leading axes,
        e.g. none, or a batch ``B``).
      blur_kernel_size: odd size of the modulation blur.
      maxima: optional ``(..., K)``, each map's maximum (the values of
        :func:`~jaxcodecs.ops.heatmap_argmax`), to save a pass over the maps.
      lazy: ``False`` when the caller maps this function with ``jax.vmap``:
        the whole maps are blurred and read (see
        :func:`~jaxcodecs.ops.windows.modulated_step`).
      where: optional bool ``(..., N, K)``: only these keypoints are refined
        (the others are returned unchanged and never ask for the whole-map
        blur).

    Returns:
      Refined keypoints ``(..., N, K, 2)``; differentiable w.r.t. ``heatmaps``.
    """
    keypoints, heatmaps = _batched_inputs(keypoints, heatmaps)
    height, width = heatmaps.shape[-2:]
    x, y = _locations(keypoints)
    inside = (1 < x) & (x < width - 2) & (1 < y) & (y < height - 2)
    if where is not None:
        inside &= where

    def step(logs):
        centre, xp, xm, yp, ym, xpp, xmm, ypp, ymm, pp, pm, mp, mm = (logs[..., i] for i in range(13))
        dx = 0.5 * (xp - xm)
        dy = 0.5 * (yp - ym)
        dxx = 0.25 * (xpp - 2 * centre + xmm)
        dxy = 0.25 * (pp - pm - mp + mm)
        dyy = 0.25 * (ypp - 2 * centre + ymm)
        return _newton_step(dxx, dxy, dyy, dx, dy)

    offset, invertible = modulated_step(heatmaps, x, y, _DARK_READS, blur_kernel_size, 1e-10, jnp.inf,
                                        inside, step, maxima=maxima, lazy=lazy)
    apply = (inside & invertible)[..., None] & jnp.isfinite(offset)
    return keypoints.at[..., :2].add(-jnp.where(apply, offset, 0).astype(keypoints.dtype))


@functools.partial(jax.jit, static_argnames=("blur_kernel_size", "lazy"))
def refine_keypoints_dark_udp(
    keypoints: jnp.ndarray, heatmaps: jnp.ndarray, blur_kernel_size: int, *, maxima=None, lazy: bool = True,
    where=None, log_maps=None,
) -> jnp.ndarray:
    """DARK refinement as used with UDP (Huang et al., CVPR 2020).

    The heatmaps are blurred (zero padding, maximum kept), clipped to
    ``[1e-3, 50]`` and log-transformed. Every maximum inside the map is
    refined by ``kp -= (H + eps I)^{-1} ∇`` with unit-step central
    differences; at the border the map is extended by replicating its edge.
    A location ``-1`` (no peak) is returned unchanged — MMPose instead reads
    a neighbouring channel or the end of the array there. Unless the whole
    maps are needed, only a window around each keypoint is blurred.

    Args:
      keypoints: ``(..., N, K, 2)`` maxima in heatmap pixels.
      heatmaps: ``(..., K, H, W)`` raw model output (the same leading axes).
      blur_kernel_size: odd size of the modulation blur.
      maxima: optional ``(..., K)``, each map's maximum (the values of
        :func:`~jaxcodecs.ops.heatmap_argmax`), to save a pass over the maps.
      lazy: ``False`` when the caller maps this function with ``jax.vmap``:
        the whole maps are blurred and read (see
        :func:`~jaxcodecs.ops.windows.modulated_step`).
      where: optional bool ``(..., N, K)``: only these keypoints are refined
        (the others are returned unchanged and never ask for the whole-map
        blur).
      log_maps: optional ``(..., K, H, W)``, ``log(clip(gaussian_blur_rescaled(
        heatmaps, blur_kernel_size), 1e-3, 50))`` if the caller computes it
        anyway (``lazy=False`` only): the steps read it instead of taking
        logs of their own (the same values).

    Returns:
      Refined keypoints ``(..., N, K, 2)``; differentiable w.r.t. ``heatmaps``.
    """
    keypoints, heatmaps = _batched_inputs(keypoints, heatmaps)
    height, width = heatmaps.shape[-2:]
    x, y = _locations(keypoints)
    inside = (0 <= x) & (x < width) & (0 <= y) & (y < height)
    if where is not None:
        inside &= where

    def step(logs):
        centre, xp, xm, yp, ym, pp, mm = (logs[..., i] for i in range(7))
        dx = 0.5 * (xp - xm)
        dy = 0.5 * (yp - ym)
        dxx = xp - 2 * centre + xm
        dyy = yp - 2 * centre + ym
        dxy = 0.5 * (pp - xp - yp + centre + centre - xm - ym + mm)
        return _newton_step(dxx + _FLOAT32_EPS, dxy, dyy + _FLOAT32_EPS, dx, dy)

    offset, invertible = modulated_step(heatmaps, x, y, _DARK_UDP_READS, blur_kernel_size, 1e-3, 50.0,
                                        inside, step, clip_reads=True, maxima=maxima,
                                        lazy=lazy, log_maps=log_maps)
    apply = (inside & invertible)[..., None] & jnp.isfinite(offset)
    return keypoints.at[..., :2].add(-jnp.where(apply, offset, 0).astype(keypoints.dtype))


def _simcc_log_modulation(values: jnp.ndarray) -> jnp.ndarray:
    return jnp.log(jnp.clip(values, 1e-3, 50.0))


def modulate_simcc_dark(simcc: jnp.ndarray, blur_kernel_size: int) -> jnp.ndarray:
    """The whole log-modulated vector SimCC-DARK refines on:
    ``log(clip(blur(s) * max(s) / max(blur(s)), 1e-3, 50))`` along the last axis."""
    blurred = gaussian_blur1d_rescaled(simcc, blur_kernel_size)
    return _simcc_log_modulation(blurred)


def refine_simcc_dark(
    locations: jnp.ndarray,
    simcc: jnp.ndarray,
    blur_kernel_size: int,
    *,
    mmpose_compat: bool = True,
    max_step: float = 1.0,
) -> jnp.ndarray:
    """DARK refinement of 1-D SimCC maxima (Zhang et al., CVPR 2020, as used by
    SimCC, Li et al., ECCV 2022).

    Each vector is blurred (zero padding, maximum kept; an all-zero vector
    stays zero), clipped to ``[1e-3, 50]`` and log-transformed ``l``; one
    Newton step ``loc = c - d / dd`` is taken from bin ``c`` with
    ``d = (l[c+1] - l[c-1]) / 2`` and ``dd = 1e-9 + (l[c+2] - 2 l[c] + l[c-2]) / 4``.

    * ``mmpose_compat=True``: ``c`` is the bin ``trunc(loc + 2.5) - 2`` of the
      maximum; reads beyond the ends repeat the end value, which makes steps
      near the ends unreliable (tens of bins off within ~2 sigma of an end).
    * ``mmpose_compat=False``: the stencil stays inside the vector (``c``
      clipped to ``[2, L-3]``), the step is taken only where ``dd < 0`` (a
      maximum), and the result is kept within ``max_step`` bins of the
      maximum.

    A location ``-1`` (no peak) is returned unchanged, as is one whose step
    would divide by zero.

    Args:
      locations: ``(...)`` maxima in bins (e.g. ``(N, K)``).
      simcc: ``(..., L)`` vectors with the same leading shape.
      blur_kernel_size: odd size of the modulation blur.
      mmpose_compat: see above.
      max_step: the exact mode's bound on the step, in bins (static or
        traced); the argmax of a wide, noisy label can lie several bins from
        its centre, where one bin would cut the step short.

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
    blurred = gaussian_blur1d(simcc, blur_kernel_size, border="zero")
    scale = rescale_factor(simcc, blurred, (-1,))[..., 0]
    index = jnp.trunc(locations + 2.5).astype(jnp.int32) - 2
    centre = index if mmpose_compat else jnp.clip(index, 2, max(length - 3, 2))

    def read(offset: int) -> jnp.ndarray:
        at = jnp.clip(centre + offset, 0, length - 1)[..., None]
        return _simcc_log_modulation(jnp.take_along_axis(blurred, at, axis=-1)[..., 0] * scale)

    d = 0.5 * (read(1) - read(-1))
    dd = 1e-9 + 0.25 * (read(2) - 2 * read(0) + read(-2))
    ok = (index >= 0) & (index < length) & (dd != 0)
    if not mmpose_compat:
        ok &= dd < 0
    step = d / jnp.where(ok, dd, jnp.ones_like(dd))
    ok &= jnp.isfinite(step)
    step = jnp.where(ok, step, jnp.zeros_like(step))
    if mmpose_compat:
        return locations - jnp.where(ok, step, 0).astype(locations.dtype)
    refined = jnp.clip(centre - step, index - max_step, index + max_step).astype(locations.dtype)
    return jnp.where(ok, refined, locations)
