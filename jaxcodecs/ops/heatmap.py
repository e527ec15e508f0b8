"""Rendering of heatmap targets: Gaussian heatmaps and blurred impulses.

Shapes: keypoints ``(N, K, 2)`` in *heatmap* pixels (x right, y down, a pixel's
centre at its integer coordinate), visibility ``(N, K)``, heatmaps
``(K, H, W)``. Instances are max-combined into one map per keypoint.

Every Gaussian here is separable: a keypoint's map is the outer product of a
row profile ``(H,)`` and a column profile ``(W,)``, so rendering costs
``O(N K (H + W))`` exponentials instead of ``O(N K H W)``. Nothing loops in
Python over instances, keypoints or pixels; everything is vmappable and
differentiable w.r.t. keypoints and ``sigma`` where the maths allows.

``mmpose_compat=True`` reproduces MMPose 1.3.2 (see the package docs for the
quirks: the one-pixel shift of the windowed Gaussian for non-integer 3σ,
truncation toward zero of negative coordinates, weight 1 for a window that
ends exactly at 0); ``mmpose_compat=False`` centres the Gaussian on the true
position, floors, and zero-weights keypoints whose window misses the map.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from jaxcodecs.ops.filters import gaussian_blur1d
from jaxcodecs.ops.numerics import divide_exact, max_over_leading_axis
from jaxcodecs.ops.validation import as_parameter, points_and_visibility

__all__ = [
    "render_msra_heatmaps",
    "normalize_heatmaps",
    "render_gaussian_heatmaps",
    "render_unbiased_gaussian_heatmaps",
    "render_udp_gaussian_heatmaps",
    "render_megvii_heatmaps",
]


_NORMALIZE_EPS = 1e-24


def gaussian_profile(
    centre: jnp.ndarray,
    sigma: jnp.ndarray,
    size: int,
    nearest: jnp.ndarray | None = None,
    where: jnp.ndarray | None = None,
) -> jnp.ndarray:
    """``exp(-(i - centre)^2 / (2 sigma^2))`` for ``i`` in ``[0, size)``.

    The 1-D factor of every separable Gaussian target here and in
    :mod:`~jaxcodecs.ops.heatmap3d`.

    Args:
      centre: ``(N, K)`` in pixels; sigma: ``(N, 1)``.
      size: number of samples along the axis.
      nearest: ``(N, K)``, the pixel of a vanishing Gaussian (default
        ``floor(centre + 0.5)``).
      where: optional bool mask broadcastable to ``(N, K, size)``; the
        profile is 0 where it is false.

    Returns:
      ``(N, K, size)``. With ``sigma == 0`` the profile is a unit impulse at
      ``nearest`` (the limit of a vanishing Gaussian), never NaN.
    """
    grid = jnp.arange(size, dtype=centre.dtype)
    d2 = (grid - centre[..., None]) ** 2
    two_s2 = (2.0 * sigma * sigma)[..., None]
    positive = two_s2 > 0
    safe_two_s2 = jnp.where(positive, two_s2, jnp.ones_like(two_s2))
    if nearest is None:
        nearest = jnp.floor(centre + 0.5)
    # Every case is one exponent (the impulse: exp(0) = 1, the rest and the
    # masked samples exp(-inf) = 0), so the exp is the profile's last step:
    # XLA does not fuse an exp into a consumer that reads each sample many
    # times (an outer product), so the profile is written once instead of
    # its masks being recomputed for every pixel of the maps (an encode of
    # two instances' 17 maps of 64 x 64 ran 3x faster on CPU).
    off = jnp.asarray(-jnp.inf, centre.dtype)
    impulse = jnp.where(grid == nearest[..., None], jnp.zeros_like(d2), off)
    exponent = jnp.where(positive, -d2 / safe_two_s2, impulse)
    if where is not None:
        exponent = jnp.where(where, exponent, off)
    return jnp.exp(exponent)


def _axis_profile(
    centre: jnp.ndarray,
    lo: jnp.ndarray | None,
    hi: jnp.ndarray | None,
    size: int,
    sigma: jnp.ndarray,
    paint: jnp.ndarray,
) -> jnp.ndarray:
    """:func:`gaussian_profile` on ``[lo, hi)`` (``lo``, ``hi`` ``(N, K)``,
    ``None`` for no window) for the keypoints ``paint (N, K)`` marks, 0
    elsewhere; ``(N, K, size)``."""
    mask = paint[..., None]
    if lo is not None:
        grid = jnp.arange(size, dtype=centre.dtype)
        mask = mask & (grid >= lo[..., None]) & (grid < hi[..., None])
    return gaussian_profile(centre, sigma, size, where=mask)


def _combine(prof_x: jnp.ndarray, prof_y: jnp.ndarray, dtype) -> jnp.ndarray:
    """Max over instances of the outer products ``prof_y ⊗ prof_x``.

    Args:
      prof_x: ``(N, K, W)``; prof_y: ``(N, K, H)``, zero for the keypoints
        not painted (masking a finite, non-negative profile masks its map).

    Returns:
      ``(K, H, W)`` heatmaps.
    """
    maps = prof_y[..., :, None] * prof_x[..., None, :]
    return max_over_leading_axis(maps).astype(dtype)


def _weights(visible: jnp.ndarray, drop: jnp.ndarray) -> jnp.ndarray:
    """Visibility kept as is (MMPose does not binarise it), 0 where dropped."""
    return jnp.where(drop, jnp.zeros_like(visible), visible)


def renderer_inputs(keypoints, keypoints_visible, sigma):
    """Validated ``keypoints (N, K, 2)``, visibility ``(N, K)`` and ``sigma``
    as an ``(N, 1)`` column (a scalar or one value per instance): the input
    rules of every 2-D renderer (also those of :mod:`~jaxcodecs.ops.offsets`)."""
    keypoints, visible = points_and_visibility(keypoints, keypoints_visible)
    num_instances = keypoints.shape[0]
    sig = as_parameter(sigma, "sigma", (num_instances,), dtype=keypoints.dtype, expected="(N,)")
    return keypoints[..., :2], visible, sig[:, None]


def _windows(kp: jnp.ndarray, radius: jnp.ndarray, size: int, mmpose_compat: bool):
    """Integer centre, window ``[lo, hi)`` and drawn peak of the 3σ window, per axis.

    Args:
      kp: ``(N, K)`` coordinates along one axis; radius: ``(N, 1)`` = 3σ.

    Returns:
      ``(mu, lo, hi, peak, outside)``, each ``(N, K)``.
    """
    if mmpose_compat:
        mu = jnp.trunc(kp + 0.5)
        lo = jnp.trunc(mu - radius)
        hi = jnp.trunc(mu + radius + 1.0)
        # The patch is centred at floor(3σ + 0.5) samples from its left end,
        # which is the keypoint only when 3σ is an integer (a 1-px shift otherwise).
        peak = lo + jnp.floor(radius + 0.5)
        outside = (lo >= size) | (hi < 0)
    else:
        mu = jnp.floor(kp + 0.5)
        lo = jnp.ceil(mu - radius)
        hi = jnp.floor(mu + radius) + 1.0
        peak = mu
        outside = (hi <= 0) | (lo > size - 1)
    return mu, lo, hi, peak, outside


def _painted(visible, outside):
    """The keypoints drawn: visible (``>= 0.5``) and inside the map."""
    return (visible >= 0.5) & ~outside


def _paint(prof_x, prof_y, visible, outside, dtype, normalize=False):
    """Heatmaps from profiles that are zero outside :func:`_painted`, and the
    weights (the visibility, 0 for a visible keypoint outside); with
    ``normalize`` each map divided by its sum (see :func:`normalize_heatmaps`)."""
    candidate = visible >= 0.5
    if normalize and prof_x.shape[0] == 1:
        # One instance: a map is the outer product of its profiles, so its
        # sum is the product of theirs: the divisor needs no pass over the
        # drawn map, so XLA draws the normalised map in one pass instead of
        # keeping the raw one to sum it first.
        total = jnp.sum(prof_x, axis=-1) * jnp.sum(prof_y, axis=-1)
        # A keypoint not drawn has zero profiles (total 0), and the epsilon
        # vanishes in float16: divide its zeros by 1, not by 0.
        denominator = total + jnp.asarray(_NORMALIZE_EPS, total.dtype)
        prof_x = prof_x / jnp.where(denominator > 0, denominator, jnp.ones_like(denominator))[..., None]
        heatmaps = _combine(prof_x, prof_y, dtype)
    else:
        heatmaps = _combine(prof_x, prof_y, dtype)
        if normalize:
            heatmaps = normalize_heatmaps(heatmaps)
    return heatmaps, _weights(visible, candidate & outside)


def _render_windowed(kp, visible, sig, heatmap_size, mmpose_compat, dtype, *, subpixel: bool,
                     normalize: bool = False):
    """3σ-windowed Gaussians, peaked at the window's drawn centre; with
    ``subpixel`` the centre keeps the keypoint's sub-pixel part (UDP)."""
    width, height = heatmap_size
    radius = 3.0 * sig
    mu_x, lo_x, hi_x, peak_x, out_x = _windows(kp[..., 0], radius, width, mmpose_compat)
    mu_y, lo_y, hi_y, peak_y, out_y = _windows(kp[..., 1], radius, height, mmpose_compat)
    if subpixel:
        # mu is integer-valued with zero gradient, so the centre's gradient
        # w.r.t. the keypoint is exactly 1 in both modes.
        peak_x = peak_x + (kp[..., 0] - mu_x)
        peak_y = peak_y + (kp[..., 1] - mu_y)
    paint = _painted(visible, out_x | out_y)
    prof_x = _axis_profile(peak_x, lo_x, hi_x, width, sig, paint)
    prof_y = _axis_profile(peak_y, lo_y, hi_y, height, sig, paint)
    return _paint(prof_x, prof_y, visible, out_x | out_y, dtype, normalize)


def render_gaussian_heatmaps(
    keypoints: jnp.ndarray,
    keypoints_visible: jnp.ndarray,
    heatmap_size: tuple[int, int],
    sigma: Any,
    *,
    mmpose_compat: bool = True,
    dtype=jnp.float32,
    normalize: bool = False,
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Windowed Gaussian heatmaps on the integer grid (Xiao et al., ECCV 2018).

    Each visible keypoint (``visible >= 0.5``) is rounded to the nearest pixel
    ``mu`` and a Gaussian truncated at 3σ is drawn around it.

    Args:
      keypoints: ``(N, K, 2)`` in heatmap pixels.
      keypoints_visible: ``(N, K)``.
      heatmap_size: ``(W, H)``.
      sigma: scalar or ``(N,)`` per-instance standard deviation, in pixels.
      mmpose_compat: reproduce MMPose's rounding toward zero, its one-pixel
        peak shift for non-integer 3σ and its weight-1 for a window ending
        exactly at 0. ``False``: floor, peak at ``mu``, weight 0 when the
        window misses the map.
      dtype: dtype of the heatmaps.
      normalize: divide each map by its sum, as :func:`normalize_heatmaps`
        (for one instance from the profiles' sums, without a second pass).

    Returns:
      ``heatmaps (K, H, W)`` and ``keypoint_weights (N, K)`` (the visibility,
      0 for visible keypoints whose window lies off the map).
    """
    kp, visible, sig = renderer_inputs(keypoints, keypoints_visible, sigma)
    return _render_windowed(kp, visible, sig, heatmap_size, mmpose_compat, dtype, subpixel=False,
                            normalize=normalize)


def render_unbiased_gaussian_heatmaps(
    keypoints: jnp.ndarray,
    keypoints_visible: jnp.ndarray,
    heatmap_size: tuple[int, int],
    sigma: Any,
    *,
    dtype=jnp.float32,
    normalize: bool = False,
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Untruncated Gaussians at the sub-pixel keypoint (DARK, Zhang et al. 2020).

    The Gaussian ``exp(-|p - kp|^2 / (2σ^2))`` is evaluated on the whole grid
    (no 3σ window). A visible keypoint is dropped (weight 0, nothing drawn)
    when it lies so far outside that ``kp - 3σ >= size`` or
    ``kp + 3σ + 1 < 0`` on either axis; both modes use this rule.

    Args:
      keypoints: ``(N, K, 2)`` in heatmap pixels.
      keypoints_visible: ``(N, K)``.
      heatmap_size: ``(W, H)``.
      sigma: scalar or ``(N,)``.
      dtype: dtype of the heatmaps.
      normalize: divide each map by its sum, as :func:`normalize_heatmaps`
        (for one instance from the profiles' sums, without a second pass).

    Returns:
      ``heatmaps (K, H, W)``, ``keypoint_weights (N, K)``. Differentiable
      w.r.t. ``keypoints`` and ``sigma``.
    """
    width, height = heatmap_size
    kp, visible, sig = renderer_inputs(keypoints, keypoints_visible, sigma)
    radius = 3.0 * sig
    x, y = kp[..., 0], kp[..., 1]
    outside = (x - radius >= width) | (y - radius >= height) | (x + radius + 1 < 0) | (y + radius + 1 < 0)
    paint = _painted(visible, outside)
    prof_x = _axis_profile(x, None, None, width, sig, paint)
    prof_y = _axis_profile(y, None, None, height, sig, paint)
    return _paint(prof_x, prof_y, visible, outside, dtype, normalize)


def render_udp_gaussian_heatmaps(
    keypoints: jnp.ndarray,
    keypoints_visible: jnp.ndarray,
    heatmap_size: tuple[int, int],
    sigma: Any,
    *,
    mmpose_compat: bool = True,
    dtype=jnp.float32,
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Windowed Gaussians centred on the sub-pixel keypoint (UDP, Huang et al. 2020).

    Same 3σ window and drop rule as :func:`render_gaussian_heatmaps`, but the
    Gaussian's centre keeps the keypoint's sub-pixel part. With
    ``mmpose_compat=True`` the centre suffers MMPose's one-pixel shift for
    non-integer 3σ; with ``False`` it is exactly the keypoint.

    Args:
      keypoints: ``(N, K, 2)`` in heatmap pixels.
      keypoints_visible: ``(N, K)``.
      heatmap_size: ``(W, H)``.
      sigma: scalar or ``(N,)``.
      mmpose_compat: see :func:`render_gaussian_heatmaps`.
      dtype: dtype of the heatmaps.

    Returns:
      ``heatmaps (K, H, W)``, ``keypoint_weights (N, K)``. Differentiable
      w.r.t. ``keypoints`` and ``sigma`` (inside the window).
    """
    kp, visible, sig = renderer_inputs(keypoints, keypoints_visible, sigma)
    return _render_windowed(kp, visible, sig, heatmap_size, mmpose_compat, dtype, subpixel=True)


def render_msra_heatmaps(
    keypoints: jnp.ndarray,
    keypoints_visible: jnp.ndarray,
    scale_factor: Any,
    heatmap_size: tuple[int, int],
    sigma: Any,
    *,
    unbiased: bool,
    mmpose_compat: bool = True,
    dtype=jnp.float32,
    normalize: bool = False,
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """MSRA targets from input-pixel keypoints (Xiao et al. 2018; DARK if ``unbiased``).

    Keypoints are divided by ``scale_factor`` (``input_size / heatmap_size``,
    a true division so keypoints on half pixels round as in NumPy) and drawn
    with :func:`render_unbiased_gaussian_heatmaps` (``unbiased``) or
    :func:`render_gaussian_heatmaps`.

    Args:
      keypoints: ``(N, K, D)`` in input pixels.
      keypoints_visible: ``(N, K)``.
      scale_factor: ``(2,)`` input-to-heatmap scale per axis.
      heatmap_size: ``(W, H)``.
      sigma: scalar or ``(N,)``.
      unbiased: untruncated sub-pixel Gaussian instead of the windowed one.
      mmpose_compat: see :func:`render_gaussian_heatmaps`.
      dtype: dtype of the heatmaps.
      normalize: divide each map by its sum, as :func:`normalize_heatmaps`
        (for one instance from the profiles' sums, without a second pass).

    Returns:
      ``heatmaps (K, H, W)``, ``keypoint_weights (N, K)``.
    """
    kp = divide_exact(jnp.asarray(keypoints)[..., :2], scale_factor)
    if unbiased:
        return render_unbiased_gaussian_heatmaps(
            kp, keypoints_visible, heatmap_size, sigma, dtype=dtype, normalize=normalize)
    return render_gaussian_heatmaps(
        kp, keypoints_visible, heatmap_size, sigma, mmpose_compat=mmpose_compat, dtype=dtype,
        normalize=normalize,
    )


def render_megvii_heatmaps(
    keypoints: jnp.ndarray,
    keypoints_visible: jnp.ndarray,
    scale_factor: Any,
    heatmap_size: tuple[int, int],
    kernel_size: int,
    *,
    mmpose_compat: bool = True,
    dtype=jnp.float32,
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Blurred-impulse heatmaps of MSPN and RSN.

    Li et al., "Rethinking on Multi-Stage Networks for Human Pose Estimation"
    (2019) and Cai et al., "Learning Delicate Local Representations for
    Multi-Person Pose Estimation" (ECCV 2020): each visible keypoint
    (``visible >= 0.5``) lands on the heatmap pixel ``kp / scale_factor``
    rounded down (a true division), where an impulse is blurred with
    OpenCV's ``kernel_size`` Gaussian (reflect-101 border) and scaled to 255
    at that pixel.
    Instances are max-combined.

    Args:
      keypoints: ``(N, K, D)`` in input pixels (the first two coordinates
        are used).
      keypoints_visible: ``(N, K)``.
      scale_factor: ``(2,)`` input pixels per heatmap pixel
        (:func:`~jaxcodecs.ops.input_to_map_scale`, ``"msra"``).
      heatmap_size: ``(W, H)``.
      kernel_size: odd blur size (OpenCV's fixed tables up to 9).
      mmpose_compat: ``True`` truncates toward zero as MMPose does (so
        ``-0.9`` lands on pixel 0); ``False`` floors.
      dtype: dtype of the heatmaps.

    Returns:
      ``heatmaps (K, H, W)`` and ``keypoint_weights (N, K)`` (the
      visibility, 0 for a visible keypoint whose pixel lies off the map).
      Piecewise constant in the keypoints (no useful gradient).
    """
    width, height = heatmap_size
    kp, visible, _ = renderer_inputs(keypoints, keypoints_visible, 0.0)
    scaled = divide_exact(kp, scale_factor)
    pixel = jnp.trunc(scaled) if mmpose_compat else jnp.floor(scaled)
    px, py = pixel[..., 0], pixel[..., 1]
    candidate = visible >= 0.5
    inside = (px >= 0) & (px < width) & (py >= 0) & (py < height)
    # A blurred impulse is the outer product of two blurred 1-D impulses.
    # One-hots by comparison (not by indexing an identity matrix) keep the
    # computation free of gathers, so it shards on any mesh.
    # The division is each profile's last step (see gaussian_profile); the
    # x profile of a keypoint not drawn is zero.
    profiles = []
    for position, size, mask in ((px, width, candidate & inside), (py, height, None)):
        onehot = (jnp.arange(size, dtype=kp.dtype) == position[..., None]).astype(kp.dtype)
        blurred = gaussian_blur1d(onehot, kernel_size)
        peak = jnp.sum(blurred * onehot, axis=-1, keepdims=True)
        if mask is not None:
            blurred = jnp.where(mask[..., None], blurred, jnp.zeros_like(blurred))
        profiles.append(blurred / jnp.where(peak > 0, peak, jnp.ones_like(peak)))
    prof_x, prof_y = profiles
    heatmaps = _combine(prof_x, 255.0 * prof_y, dtype)
    return heatmaps, _weights(visible, candidate & ~inside)


def normalize_heatmaps(heatmaps: jnp.ndarray, eps: float = _NORMALIZE_EPS) -> jnp.ndarray:
    """Each map divided by its sum (plus ``eps``), for integral regression.

    Args:
      heatmaps: ``(..., H, W)``.
      eps: added to the sum; an all-zero map stays zero.

    Returns:
      Maps summing to 1 (or 0), same shape and dtype.
    """
    heatmaps = jnp.asarray(heatmaps)
    total = jnp.sum(heatmaps, axis=(-2, -1), keepdims=True)
    return heatmaps / (total + jnp.asarray(eps, heatmaps.dtype))
