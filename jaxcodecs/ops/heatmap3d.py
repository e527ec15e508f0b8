"""Volumetric (3-D) Gaussian targets and their maximum, for Hand3DHeatmap.

Shapes: keypoints ``(N, K, 3)`` with ``(x, y)`` in *image* pixels (a pixel's
centre at its integer coordinate) and ``z`` a depth relative to the hand root
in the units of ``depth_bound``; visibility ``(N, K)``; volumes ``(K, D, H, W)``
for a heatmap size ``(W, H, D)``, returned flattened to ``(K * D, H, W)``
(depth-major per keypoint) as MMPose's InterNet targets are.

Image to heatmap coordinates (MMPose 1.3.2's G5)::

    mu_x = x * W / w          mu_y = y * H / h          mu_z = (z / depth_bound + 0.5) * D

so voxel ``(X, Y, Z)`` stands for the point ``mu = (X, Y, Z)``: the depth
range ``[-depth_bound / 2, depth_bound / 2)`` spans the D depth bins.

The 3-D Gaussian is separable: a keypoint's volume is the outer product of a
depth, a row and a column profile, ``exp(-dz^2 / 2σ^2) exp(-dy^2 / 2σ^2)
exp(-dx^2 / 2σ^2)``, so the exponentials cost ``O(N K (W + H + D))`` and
only the final broadcast touches all ``K D H W`` voxels. Nothing loops in
Python over instances, keypoints or voxels.
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxcodecs.ops.heatmap import gaussian_profile
from jaxcodecs.ops.maxima import first_index, heatmap_argmax, ranked_max
from jaxcodecs.ops.numerics import divide_exact, max_over_leading_axis, multiply_exact
from jaxcodecs.ops.validation import (
    as_float_array,
    as_parameter,
    check_axis_size,
    check_min_rank,
    check_rank,
    check_same_leading,
    check_shape,
)

__all__ = ["depth_to_bins", "bins_to_depth", "render_gaussian_heatmaps_3d", "heatmap_argmax_3d"]


def depth_to_bins(depth: Any, depth_bound: Any, num_bins: int) -> jnp.ndarray:
    """Depth to (continuous) bin coordinate, ``(z / depth_bound + 0.5) * D``.

    InterNet's depth axis (Moon et al., ECCV 2020): the depths
    ``[-depth_bound / 2, depth_bound / 2)`` span the ``D = num_bins`` bins,
    depth 0 at the middle. Used for the volumes' z axis and the root depth.

    Args:
      depth: ``(...)`` depths (relative to the root, or the root's own).
      depth_bound: the depth range covered by the bins (may be traced).
      num_bins: ``D``.

    Returns:
      ``(...)`` bin coordinates, float; differentiable w.r.t. ``depth`` and
      ``depth_bound``. The division is a true one (:func:`divide_exact`).
    """
    depth = as_float_array(depth, "depth")
    # The windows add to this product and round the sum half to even, on
    # exact ties for depths on bin boundaries: the product is rounded on its
    # own, as NumPy does, not fused into the next addition (for any bin count
    # a volume could have; beyond 4095 bins, the plain product).
    fraction = divide_exact(depth, depth_bound) + 0.5
    if abs(int(num_bins)) < 4096:
        return multiply_exact(fraction, int(num_bins))
    return fraction * jnp.asarray(num_bins, depth.dtype)


def bins_to_depth(bins: Any, depth_bound: Any, num_bins: int) -> jnp.ndarray:
    """Bin coordinate to depth, ``(b / D - 0.5) * depth_bound``, the inverse
    of :func:`depth_to_bins`.

    Args:
      bins: ``(...)`` bin coordinates (e.g. the z of a volume's maximum).
      depth_bound: the depth range covered by the bins (may be traced).
      num_bins: ``D``.

    Returns:
      ``(...)`` depths; differentiable w.r.t. ``bins`` and ``depth_bound``.
    """
    bins = as_float_array(bins, "bins")
    return (divide_exact(bins, jnp.asarray(num_bins, bins.dtype)) - 0.5) * jnp.asarray(depth_bound, bins.dtype)


def _radius_and_last_offset(sigma: Any, num_instances: int, dtype) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
    """Per-instance ``sigma``, window radius ``r = 3σ`` and last offset index.

    MMPose samples the window at offsets ``i - r`` for ``i = 0 .. M`` with
    ``M = ceil(2r + 1) - 1`` (``np.arange(2r + 1)``), the offsets in float32.
    When ``sigma`` is a concrete number the radius is formed in float64 and
    rounded once to float32, exactly as NumPy does; a traced ``sigma``
    (e.g. a codec passed through ``jit`` as an argument) gives ``3σ`` in
    float32, which differs from it only by an ulp for some σ.

    Returns:
      ``(sigma, radius, last)``, each ``(N, 1)`` (NumPy arrays for a concrete
      ``sigma``): ``sigma`` and ``last`` in ``dtype``, ``radius`` in float32
      (MMPose's offsets are float32).
    """
    sig = as_parameter(sigma, "sigma", (num_instances,), dtype=dtype, host=True, expected="(N,)")
    if isinstance(sig, np.ndarray):
        if not np.all(sig >= 0):
            raise ValueError(f"`sigma` must be >= 0, got {sigma!r}.")
        sig64 = sig[:, None]
        radius64 = 3.0 * sig64
        radius = radius64.astype(np.float32)
        last = (np.ceil(2.0 * radius64 + 1.0) - 1.0).astype(dtype)
        return sig64.astype(dtype), radius, last
    sig = sig[:, None]
    radius = (3.0 * sig).astype(jnp.float32)
    last = jnp.ceil(2.0 * radius.astype(dtype) + 1.0) - 1.0
    return sig, radius, last


def _mmpose_window(mu: jnp.ndarray, radius: jnp.ndarray, last: jnp.ndarray, size: int) -> jnp.ndarray:
    """Which voxels along one axis MMPose's G5 window paints.

    MMPose paints ``clip(round_half_even(mu + (i - r)), 0, size - 1)`` for
    ``i = 0 .. M``. Rounding is monotone and the samples are one voxel apart,
    so voxel ``X`` is painted when one of the (at most two) samples within
    half a voxel of it, found among the three indices next to ``X - (mu - r)``,
    rounds to it; the clipped ends are painted when the first sample rounds
    to ``<= 0`` or the last to ``>= size - 1``. Half-even rounding of samples
    that fall exactly on half voxels skips every other voxel, as in MMPose.

    Args:
      mu: ``(N, K)`` centres in voxels; radius, last: ``(N, 1)``.

    Returns:
      ``(N, K, size)`` bool.
    """
    dtype = mu.dtype
    grid = jnp.arange(size, dtype=dtype)
    radius = radius.astype(jnp.float32)
    first = mu + (-radius).astype(dtype)  # the sample i = 0
    nearest = jnp.round(grid - first[..., None])  # (N, K, size)
    steps = jnp.arange(-1, 2, dtype=dtype)
    index = nearest[..., None] + steps  # (N, K, size, 3)
    valid = (index >= 0) & (index <= last[..., None, None])
    # The offset i - r is formed in float32 first, then added to mu.
    offset = (index.astype(jnp.float32) - radius[..., None, None]).astype(dtype)
    painted = jnp.clip(jnp.round(mu[..., None, None] + offset), 0, size - 1)
    hit = jnp.any(valid & (painted == grid[:, None]), axis=-1)
    final = mu + (last.astype(jnp.float32) - radius).astype(dtype)  # the sample i = M
    low = (grid == 0) & (jnp.round(first)[..., None] <= 0)
    high = (grid == size - 1) & (jnp.round(final)[..., None] >= size - 1)
    return hit | low | high


def _exact_window(mu: jnp.ndarray, radius: jnp.ndarray, size: int) -> jnp.ndarray:
    """Every voxel within ``3σ`` of the centre, plus the nearest voxel."""
    grid = jnp.arange(size, dtype=mu.dtype)
    distance = jnp.abs(grid - mu[..., None])
    nearest = grid == jnp.floor(mu[..., None] + 0.5)
    return (distance <= radius.astype(mu.dtype)[..., None]) | nearest


def _profile(mu: jnp.ndarray, window: jnp.ndarray, sigma: jnp.ndarray, nearest: jnp.ndarray) -> jnp.ndarray:
    """The Gaussian profile on the window, 0 elsewhere; ``(N, K, size)``.

    With ``σ = 0`` the profile is a unit impulse at ``nearest`` (``(N, K)``,
    the keypoint's own voxel) instead of MMPose's 0/0 (policy 6).
    """
    return gaussian_profile(mu, sigma, window.shape[-1], nearest, where=window)


def render_gaussian_heatmaps_3d(
    keypoints: Any,
    keypoints_visible: Any,
    heatmap_size: Sequence[int],
    image_size: Sequence[int],
    sigma: Any,
    *,
    depth_bound: Any = 400.0,
    joint_indices: Sequence[int] | None = None,
    max_bound: Any = 1.0,
    dataset_keypoint_weights: Any = None,
    mmpose_compat: bool = True,
    present: Any = None,
    dtype=jnp.float32,
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """3-D Gaussian heatmaps of hand keypoints (InterNet, Moon et al., ECCV 2020).

    Each keypoint becomes a Gaussian of standard deviation ``sigma`` voxels
    in a ``(D, H, W)`` volume, drawn on a box window of half-width ``3σ``,
    scaled by ``max_bound``. Instances are combined by a voxel-wise maximum.

    ``mmpose_compat=True`` (MMPose 1.3.2's ``generate_3d_gaussian_heatmaps``):

    * every keypoint paints, invisible or outside the volume alike; window
      samples ``mu + i - 3σ`` are rounded half to even and clipped to the
      volume, so a keypoint outside leaves its Gaussian's tail on the border
      voxels, and a centre whose samples fall exactly on half voxels (e.g.
      σ = 1.5 and an integer ``mu``) paints only every other voxel;
    * ``keypoint_weights = visible * (0 <= mu_z < D)`` (x and y unchecked).

    ``mmpose_compat=False``:

    * a keypoint is *in range* when its nearest voxel lies in the volume,
      ``-0.5 <= mu < size - 0.5`` on all three axes; only visible
      (``visible > 0``) in-range keypoints paint, on every voxel within
      ``3σ`` of ``mu`` per axis (no rounding of the window, no clipping);
    * ``keypoint_weights = visible * in_range``.

    In both modes the value at a painted voxel is the exact Gaussian of the
    sub-voxel centre there, the weights are further multiplied by
    ``dataset_keypoint_weights`` when given, and ``σ = 0`` paints a unit
    impulse at the keypoint's voxel (MMPose: NaN or nothing).

    Args:
      keypoints: ``(N, K, 3)`` ``(x, y, z)``: image pixels and root-relative
        depth.
      keypoints_visible: ``(N, K)``.
      heatmap_size: ``(W, H, D)``.
      image_size: ``(w, h)`` of the image the keypoints live in.
      sigma: scalar or ``(N,)`` standard deviation, in voxels.
      depth_bound: the depth range covered by the D bins (400.0 in MMPose).
      joint_indices: optional static keypoint indices to keep (applied to
        keypoints, visibility and ``dataset_keypoint_weights`` alike; MMPose
        forgets the latter and fails to broadcast).
      max_bound: the value of a Gaussian's peak.
      dataset_keypoint_weights: optional ``(K,)`` per-keypoint weights.
      mmpose_compat: see above.
      present: optional ``(N, K)`` bool: keypoints that exist at all. An
        absent keypoint (e.g. one whose coordinates were not finite) paints
        nothing in either mode; its weight is the caller's business.
      dtype: dtype of the heatmaps.

    Returns:
      ``heatmaps (K' * D, H, W)`` and ``keypoint_weights (N, K')``, with
      ``K'`` the number of selected keypoints. Differentiable w.r.t.
      ``keypoints``, ``sigma`` and ``max_bound`` (the window is piecewise
      constant).
    """
    width, height, depth = (int(v) for v in heatmap_size)
    image_w, image_h = (int(v) for v in image_size)
    kp = as_float_array(keypoints, "keypoints")
    check_rank(kp, 3, "keypoints", "(N, K, 3)")
    check_axis_size(kp, -1, "keypoints", "(N, K, 3)", sizes=3)
    visible = as_float_array(keypoints_visible, "keypoints_visible")
    check_rank(visible, 2, "keypoints_visible", "(N, K)")
    check_same_leading(kp, "keypoints", visible, "keypoints_visible", 2, "(N, K)")
    num_keypoints = kp.shape[1]
    joint_weights = None
    if dataset_keypoint_weights is not None:
        joint_weights = as_float_array(dataset_keypoint_weights, "dataset_keypoint_weights")
        check_shape(joint_weights, (num_keypoints,), "dataset_keypoint_weights", f"(K,) = ({num_keypoints},)")
    index = None
    if joint_indices is not None:
        index = tuple(int(i) for i in np.asarray(list(joint_indices), np.int64).reshape(-1))
        if index and (min(index) < -num_keypoints or max(index) >= num_keypoints):
            raise ValueError(f"`joint_indices` must index the K = {num_keypoints} keypoints, got {index}.")
    sig, radius, last = _radius_and_last_offset(sigma, kp.shape[0], kp.dtype)
    present = jnp.ones(visible.shape, bool) if present is None else jnp.asarray(present, bool)
    check_shape(present, visible.shape, "present", f"(N, K) = {visible.shape}")
    return _render(
        kp, visible, present, joint_weights, sig, radius, last, depth_bound, max_bound,
        sizes=(width, height, depth), image_size=(image_w, image_h), joint_indices=index,
        mmpose_compat=bool(mmpose_compat), dtype=np.dtype(dtype),
    )


# One compiled unit, so that calls outside ``jit`` do not dispatch (and
# compile) dozens of small operations one by one.
@functools.partial(
    jax.jit, static_argnames=("sizes", "image_size", "joint_indices", "mmpose_compat", "dtype")
)
def _render(kp, visible, present, joint_weights, sig, radius, last, depth_bound, max_bound, *,
            sizes, image_size, joint_indices, mmpose_compat, dtype):
    width, height, depth = sizes
    image_w, image_h = image_size
    if joint_indices is not None:
        index = np.asarray(joint_indices, np.int64)
        kp, visible, present = kp[:, index], visible[:, index], present[:, index]
        if joint_weights is not None:
            joint_weights = joint_weights[index]
    dt = kp.dtype

    # Same operation order as MMPose (x * W / w), with true divisions.
    mu_x = divide_exact(kp[..., 0] * width, jnp.asarray(image_w, dt))
    mu_y = divide_exact(kp[..., 1] * height, jnp.asarray(image_h, dt))
    mu_z = depth_to_bins(kp[..., 2], depth_bound, depth)

    if mmpose_compat:
        win_x = _mmpose_window(mu_x, radius, last, width)
        win_y = _mmpose_window(mu_y, radius, last, height)
        win_z = _mmpose_window(mu_z, radius, last, depth)
        near_x, near_y, near_z = jnp.round(mu_x), jnp.round(mu_y), jnp.round(mu_z)
        paint = present
        weights = visible * ((mu_z >= 0) & (mu_z < depth)).astype(visible.dtype)
    else:
        win_x = _exact_window(mu_x, radius, width)
        win_y = _exact_window(mu_y, radius, height)
        win_z = _exact_window(mu_z, radius, depth)
        near_x, near_y, near_z = (jnp.floor(m + 0.5) for m in (mu_x, mu_y, mu_z))
        in_range = jnp.ones(visible.shape, bool)
        for mu, size in ((mu_x, width), (mu_y, height), (mu_z, depth)):
            in_range &= (mu >= -0.5) & (mu < size - 0.5)
        paint = (visible > 0) & in_range & present
        weights = visible * in_range.astype(visible.dtype)
    if joint_weights is not None:
        weights = weights * joint_weights

    prof_x = _profile(mu_x, win_x, sig, near_x)
    prof_y = _profile(mu_y, win_y, sig, near_y)
    prof_z = _profile(mu_z, win_z & paint[..., None], sig, near_z)
    volumes = prof_z[..., :, None, None] * prof_y[..., None, :, None] * prof_x[..., None, None, :]
    if kp.shape[0] == 0:
        heatmaps = jnp.zeros(volumes.shape[1:], dt)
    else:
        heatmaps = max_over_leading_axis(volumes) * jnp.asarray(max_bound, dt)
    num_selected = heatmaps.shape[0]
    return heatmaps.reshape(num_selected * depth, height, width).astype(dtype), weights


def heatmap_argmax_3d(heatmaps: Any) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Location and value of each volume's maximum (MMPose's
    ``get_heatmap_3d_maximum``).

    The first maximum in row-major ``(z, y, x)`` order wins, as NumPy's
    ``argmax`` over the flattened volume. Where the maximum is ``<= 0`` the
    volume has no peak and the location is ``(-1, -1, -1)``.

    Args:
      heatmaps: ``(..., D, H, W)``, e.g. ``(K, D, H, W)`` or ``(B, K, D, H, W)``.

    Returns:
      ``locations (..., 3)`` as float ``(x, y, z)`` in voxels and
      ``values (...)`` in the heatmaps' dtype.
    """
    heatmaps = jnp.asarray(heatmaps)
    check_min_rank(heatmaps, 3, "heatmaps", "(..., D, H, W)")
    # The first depth plane that holds the maximum (NaN ranked as +inf, as
    # the 2-D argmax ranks it), then the 2-D first maximum inside it: plain
    # max-reductions and first-index searches, as a flat (variadic) argmax
    # is slow on XLA:CPU.
    height, width = heatmaps.shape[-2:]
    plane_max = ranked_max(heatmaps.reshape(heatmaps.shape[:-2] + (height * width,)))
    z = first_index(plane_max, jnp.max(plane_max, axis=-1))
    plane = jnp.take_along_axis(heatmaps, z[..., None, None, None], axis=-3)[..., 0, :, :]
    xy, values = heatmap_argmax(plane)
    z = jnp.where(values <= 0, -jnp.ones_like(xy[..., 0]), z.astype(xy.dtype))  # as x and y (NaN: kept)
    return jnp.concatenate([xy, z[..., None]], axis=-1), values
