"""UDP's "combined" targets: a disk class map plus x / y offset maps.

Huang et al., "The Devil is in the Details: Delving into Unbiased Data
Processing for Human Pose Estimation" (CVPR 2020), encode each keypoint as
three maps: a class map equal to 1 on a disk of radius
``radius = radius_factor * max(W, H)`` around the keypoint, and the offsets
``((kp_x - x) / radius, (kp_y - y) / radius)`` from every pixel to it.
Decoding finds the class maximum and adds the offsets read there.

Shapes: keypoints ``(N, K, 2)`` in heatmap pixels (a pixel's centre at its
integer coordinate), visibility ``(N, K)``, maps ``(3K, H, W)`` with channels
``(class, x_off, y_off)`` per keypoint.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from jaxcodecs.ops.filters import gaussian_blur
from jaxcodecs.ops.heatmap import renderer_inputs
from jaxcodecs.ops.maxima import heatmap_argmax
from jaxcodecs.ops.validation import as_float_array, check_axis_size, check_rank

__all__ = ["render_udp_offset_maps", "decode_udp_offset_maps"]


def _radius(radius_factor: Any, width: int, height: int, dtype) -> jnp.ndarray:
    return jnp.asarray(radius_factor, dtype) * max(width, height)


def render_udp_offset_maps(
    keypoints: jnp.ndarray,
    keypoints_visible: jnp.ndarray,
    heatmap_size: tuple[int, int],
    radius_factor: Any,
    *,
    dtype=jnp.float32,
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """UDP "combined" targets: a disk class map plus x / y offset maps.

    With ``radius = radius_factor * max(W, H)``, each visible keypoint gets
    ``x_off = (kp_x - x) / radius``, ``y_off = (kp_y - y) / radius`` on the
    whole grid and a class map equal to 1 where ``x_off^2 + y_off^2 <= 1``.
    Several instances overwrite each other (the last visible one wins), as in
    UDP. Invisible keypoints leave zeros; weights are never zeroed.

    Args:
      keypoints: ``(N, K, 2)`` in heatmap pixels.
      keypoints_visible: ``(N, K)``.
      heatmap_size: ``(W, H)``.
      radius_factor: the disk radius as a fraction of ``max(W, H)``.
      dtype: dtype of the maps.

    Returns:
      ``heatmaps (3K, H, W)`` with channels ``(class, x_off, y_off)`` per
      keypoint, and ``keypoint_weights (N, K)`` (the visibility).
    """
    width, height = heatmap_size
    kp, visible, _ = renderer_inputs(keypoints, keypoints_visible, 0.0)
    num_instances, num_keypoints = visible.shape
    radius = _radius(radius_factor, width, height, kp.dtype)
    candidate = visible >= 0.5
    # Index of the last visible instance per keypoint (later instances overwrite).
    order = jnp.arange(1, num_instances + 1)[:, None]
    last = jnp.argmax(jnp.where(candidate, order, 0), axis=0)
    any_visible = jnp.any(candidate, axis=0)
    chosen = jnp.take_along_axis(kp, last[None, :, None], axis=0)[0]  # (K, 2)
    # Offsets are separable: one row (W,) and one column (H,) per keypoint,
    # broadcast only when the output is written.
    x_off = ((chosen[:, 0, None] - jnp.arange(width, dtype=kp.dtype)) / radius)[:, None, :]
    y_off = ((chosen[:, 1, None] - jnp.arange(height, dtype=kp.dtype)) / radius)[:, :, None]
    cls = (x_off**2 + y_off**2 <= 1.0).astype(kp.dtype)
    shape = (num_keypoints, height, width)
    maps = jnp.stack(
        [cls, jnp.broadcast_to(x_off, shape), jnp.broadcast_to(y_off, shape)], axis=1
    )  # (K, 3, H, W)
    maps = jnp.where(any_visible[:, None, None, None], maps, jnp.zeros_like(maps))
    heatmaps = maps.reshape(num_keypoints * 3, height, width).astype(dtype)
    return heatmaps, visible


def decode_udp_offset_maps(
    maps: Any, radius_factor: Any, blur_kernel_size: int
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Keypoints from UDP "combined" maps (the inverse of :func:`render_udp_offset_maps`).

    Each class map is blurred with OpenCV's Gaussian of ``blur_kernel_size``
    (reflect-101 border); the offsets are read as given. The first maximum
    of the blurred class map (:func:`~jaxcodecs.ops.heatmap_argmax`) is
    moved by ``radius * (x_off, y_off)`` read at that pixel. A class map
    whose maximum is ``<= 0`` has no peak: its location stays ``(-1, -1)``
    and no offset is read for it.

    Args:
      maps: ``(3K, H, W)``, channels ``(class, x_off, y_off)`` per keypoint.
      radius_factor: the disk radius as a fraction of ``max(W, H)``; may be
        traced.
      blur_kernel_size: odd size of the class maps' blur (UDPHeatmap passes
        ``2 * blur_kernel_size + 1``, as MMPose does).

    Returns:
      ``keypoints (K, 2)`` in heatmap pixels and ``scores (K,)``, the
      blurred class maxima. Differentiable w.r.t. the maps (the scores
      through the class maps, the keypoints through the offsets read) and
      ``radius_factor``; the pixel of the maximum is piecewise constant.
    """
    maps = as_float_array(maps, "maps")
    check_rank(maps, 3, "maps", "(3K, H, W)")
    check_axis_size(maps, 0, "maps", "(3K, H, W)", multiple_of=3)
    num_keypoints = maps.shape[0] // 3
    height, width = maps.shape[1:]
    maps = maps.reshape(num_keypoints, 3, height, width)
    classes = gaussian_blur(maps[:, 0], blur_kernel_size)
    offsets = maps[:, 1:]
    locations, scores = heatmap_argmax(classes)
    radius = _radius(radius_factor, width, height, maps.dtype)
    has_peak = scores > 0
    x = jnp.clip(locations[:, 0].astype(jnp.int32), 0, width - 1)
    y = jnp.clip(locations[:, 1].astype(jnp.int32), 0, height - 1)
    channel = jnp.arange(num_keypoints)
    shift = jnp.stack([offsets[channel, 0, y, x], offsets[channel, 1, y, x]], axis=-1) * radius
    return locations + jnp.where(has_peak[:, None], shift, 0), scores
