"""DARK refinements accurate up to the border of the map: the fit of a
Gaussian of known width (:mod:`jaxcodecs.ops.gaussian_fit`) where DARK's
reads reach past the border, DARK itself everywhere else.

Where DARK is biased. DARK takes a Newton step on the log of the blurred
map, read at the integer maximum ``c`` and at ``c ± s`` (the stencil: ``s =
2`` for the heatmap DARK's step-2 Hessian and for SimCC's, ``s = 1`` for
UDP's DARK). A blur of odd size ``k`` reaches ``b = k // 2`` samples each
way, so the step reads the padding beyond the border (zeros, where the
target had its Gaussian's tail) exactly when ``c`` lies fewer than ``b + s``
samples from it (per keypoint, on either axis: the 2-D step couples the
axes through the Hessian, and the heatmap DARK leaves a keypoint within
one pixel of any border unrefined on both). From ``b + s`` samples inward
DARK reads only the map and is kept unchanged, so the exact and compat
modes agree there; closer in, the fit is used, which reads only samples
inside the map and recovers an exact Gaussian target wherever it lies.
For ``k = 11`` that is 7 heatmap px (UDP: 6); for SimCC's 37-tap blur at
``sigma = 6``, 20 bins. The switch is sharp rather than blended: a blend
with DARK inside ``b + s`` would carry DARK's bias there.

The fit's window. It reaches ``radius = ceil(2 sigma)`` samples each way
(at least 1): its weights fall as the square of the Gaussian, and the
samples within ``2 sigma`` of the maximum carry about 99 % of the
information on the centre (the sum of ``d^2 exp(-d^2 / sigma^2)``). With a
traced ``sigma`` the radius comes from the blur instead, ``ceil(2
sigma_k)`` with OpenCV's ``sigma_k = 0.3 ((k - 1) / 2 - 1) + 0.8`` (MMPose's
configurations pair ``k`` and ``sigma`` so that ``sigma_k ≈ sigma``). One
Gauss-Newton step follows the log fit: on noisy maps it brings the fit's
spread to DARK's (on the benchmark's σ = 2 maps with 1 % and 5 % noise the
two have the same RMS error, within 2 %, wherever the fit's window lies
inside the map), so the switch costs nothing in noise.

A keypoint whose fit is undefined (no usable sample, a singular system, a
step beyond :func:`max_fit_step`) gets DARK's result.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxcodecs.ops.gaussian_fit import _check_radius, fit_keypoints, fit_simcc
from jaxcodecs.ops.refine import (
    _batched_inputs,
    _locations,
    refine_keypoints_dark,
    refine_keypoints_dark_udp,
    refine_simcc_dark,
)
from jaxcodecs.ops.validation import as_float_array, check_rank, check_same_leading

__all__ = [
    "dark_border_reach",
    "gaussian_fit_radius",
    "max_fit_step",
    "refine_keypoints_dark_to_border",
    "refine_simcc_dark_to_border",
    "refine_simcc_xy_dark_to_border",
]

_MIN_FRACTION = 1e-3
_GAUSS_NEWTON_STEPS = 1


def dark_border_reach(blur_kernel_size: int, stencil: int) -> int:
    """``blur_kernel_size // 2 + stencil``: the distance from the border (in
    samples) below which DARK's blurred reads include padding."""
    return int(blur_kernel_size) // 2 + int(stencil)


def gaussian_fit_radius(sigma, blur_kernel_size: int) -> int:
    """The fit's half-window: ``ceil(2 sigma)`` (the larger of a pair) for a
    concrete ``sigma``, ``ceil(2 sigma_k)`` of the blur for a traced one; at
    least 1."""
    if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(sigma)):
        value = 0.3 * ((int(blur_kernel_size) - 1) * 0.5 - 1) + 0.8  # no host value
    else:
        value = float(np.max(np.asarray(sigma, np.float64)))
    if not np.isfinite(value):
        value = 1.0
    return max(1, int(math.ceil(2 * value - 1e-9)))


def max_fit_step(radius: int) -> float:
    """The largest step the fit may take from the integer maximum:
    ``max(1.5, radius / 2)`` (about ``sigma``). Noise moves the argmax of a
    wide Gaussian by more than a sample (a label of ``sigma = 6`` bins at 5 %
    noise: several bins); the log of an exact Gaussian is a parabola, so the
    fit recovers a centre that far away as well."""
    return max(1.5, radius / 2)


def refine_keypoints_dark_to_border(
    keypoints: jnp.ndarray,
    heatmaps: jnp.ndarray,
    blur_kernel_size: int,
    sigma,
    *,
    udp: bool = False,
    radius: int | None = None,
    maxima=None,
    lazy: bool = True,
) -> jnp.ndarray:
    """DARK (:func:`~jaxcodecs.ops.refine_keypoints_dark`, or with ``udp``
    :func:`~jaxcodecs.ops.refine_keypoints_dark_udp`) from
    ``dark_border_reach(blur_kernel_size, 2 or 1)`` pixels inside every
    border, the fit of a Gaussian of width ``sigma`` closer to the border
    (see the module's docstring).

    Args:
      keypoints: ``(..., N, K, 2)`` maxima in heatmap pixels.
      heatmaps: ``(..., K, H, W)``, the same leading axes.
      blur_kernel_size: odd size of DARK's blur.
      sigma: the targets' Gaussian width in heatmap pixels (may be traced).
      udp: refine with UDP's DARK (stencil 1, edge-replicated reads).
      radius: static half-window of the fit; default
        :func:`gaussian_fit_radius`.
      maxima, lazy: as in :func:`~jaxcodecs.ops.refine_keypoints_dark`.

    Returns:
      Refined keypoints ``(..., N, K, 2)``; differentiable w.r.t. ``heatmaps``.
    """
    keypoints, heatmaps = _batched_inputs(keypoints, heatmaps)
    radius = _check_radius(gaussian_fit_radius(sigma, blur_kernel_size) if radius is None else radius)
    height, width = heatmaps.shape[-2:]
    x, y = _locations(keypoints)
    reach = dark_border_reach(blur_kernel_size, 1 if udp else 2)
    distance = jnp.minimum(jnp.minimum(x, width - 1 - x), jnp.minimum(y, height - 1 - y))
    fitted, ok = fit_keypoints(keypoints, heatmaps, sigma, radius, _MIN_FRACTION, max_fit_step(radius),
                               _GAUSS_NEWTON_STEPS)
    use_fit = (distance < reach) & ok
    dark = refine_keypoints_dark_udp if udp else refine_keypoints_dark
    refined = dark(keypoints, heatmaps, blur_kernel_size, maxima=maxima, lazy=lazy, where=~use_fit)
    return jnp.where(use_fit[..., None], fitted, refined)


def _simcc_inputs(locations, simcc) -> tuple[jnp.ndarray, jnp.ndarray]:
    locations = as_float_array(locations, "locations")
    simcc = as_float_array(simcc, "simcc")
    expected = f"(..., L) with leading shape {locations.shape} (the locations')"
    check_rank(simcc, locations.ndim + 1, "simcc", expected)
    check_same_leading(locations, "locations", simcc, "simcc", locations.ndim, expected)
    return locations, simcc


def _simcc_to_border(locations, simcc, kernels, sigmas, radius):
    """Both steps of :func:`refine_simcc_dark_to_border` for one or more
    axes (lists), the fits of all axes in one pass."""
    radius = _check_radius(max(gaussian_fit_radius(s, k) for s, k in zip(sigmas, kernels)) if radius is None
                           else radius)
    step = max_fit_step(radius)
    fitted, ok = fit_simcc(list(locations), list(simcc), list(sigmas), radius, _MIN_FRACTION, step,
                           _GAUSS_NEWTON_STEPS)
    out = []
    for loc, vectors, kernel, fit, fit_ok in zip(locations, simcc, kernels, fitted, ok):
        length = vectors.shape[-1]
        centre = jnp.trunc(loc).astype(jnp.int32)
        use_fit = (jnp.minimum(centre, length - 1 - centre) < dark_border_reach(kernel, 2)) & fit_ok
        dark = refine_simcc_dark(loc, vectors, kernel, mmpose_compat=False, max_step=step)
        out.append(jnp.where(use_fit, fit, dark))
    return out


def refine_simcc_dark_to_border(
    locations: jnp.ndarray, simcc: jnp.ndarray, blur_kernel_size: int, sigma, *, radius: int | None = None
) -> jnp.ndarray:
    """SimCC-DARK (:func:`~jaxcodecs.ops.refine_simcc_dark`, exact mode, its
    step bounded by :func:`max_fit_step`) from
    ``dark_border_reach(blur_kernel_size, 2)`` bins inside either end, the
    fit of a Gaussian of width ``sigma`` bins closer to an end.

    Args:
      locations: ``(...)`` maxima in bins.
      simcc: ``(..., L)`` vectors, the same leading shape.
      blur_kernel_size: odd size of DARK's blur.
      sigma: the labels' width in bins (may be traced).
      radius: static half-window of the fit; default :func:`gaussian_fit_radius`.

    Returns:
      Refined locations, shape and dtype of ``locations``; differentiable
      w.r.t. ``simcc``.
    """
    locations, simcc = _simcc_inputs(locations, simcc)
    return _simcc_to_border([locations], [simcc], [blur_kernel_size], [sigma], radius)[0]


def refine_simcc_xy_dark_to_border(
    locations: jnp.ndarray, simcc_x: jnp.ndarray, simcc_y: jnp.ndarray, blur_kernel_sizes, sigmas,
    *, radius: int | None = None,
) -> jnp.ndarray:
    """:func:`refine_simcc_dark_to_border` of both axes of SimCC maxima
    ``locations (..., 2)`` with ``simcc_x (..., Lx)``, ``simcc_y (..., Ly)``,
    blur sizes ``(kx, ky)`` and widths ``(sigma_x, sigma_y)``: the same
    values, with the two axes' fits in one pass (one window size, from the
    larger default radius), so that the compiled program has half their
    kernels.

    Returns:
      Refined ``(..., 2)``; differentiable w.r.t. the vectors.
    """
    locations = as_float_array(locations, "locations")
    x, simcc_x = _simcc_inputs(locations[..., 0], simcc_x)
    y, simcc_y = _simcc_inputs(locations[..., 1], simcc_y)
    refined = _simcc_to_border([x, y], [simcc_x, simcc_y], list(blur_kernel_sizes), list(sigmas), radius)
    return jnp.stack(refined, axis=-1)
