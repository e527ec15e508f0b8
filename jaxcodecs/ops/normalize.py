"""Normalisation maths of the 2-D-to-3-D lifting codecs, as pure functions.

Shapes: a 3-D pose sequence ``(T, K, C)`` (frames, joints, coordinates), 2-D
keypoints ``(N, K, D)``. Joint indices are static Python ints. Camera
parameters are dicts of arrays (pytrees): ``w``, ``h`` (image size), ``f``
(focal lengths ``(2, 1)`` or ``(2,)``), ``c`` (principal point, same shape);
functions return new dicts and never modify their inputs. Everything is
differentiable and works for any ``T``.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import jax.numpy as jnp

from jaxcodecs.ops.numerics import constant_like, divide_exact

__all__ = [
    "root_relative",
    "add_root",
    "remove_joint",
    "insert_joint",
    "append_visibility",
    "frames_as_columns",
    "standardize",
    "destandardize",
    "normalize_screen_coordinates",
    "normalize_camera",
    "camera_to_image",
    "normalize_image_frame",
    "normalize_image_frame_with_depth",
    "denormalize_image_frame_with_depth",
    "camera_to_image_with_depth",
]


def root_relative(
    poses: jnp.ndarray, root_index: Sequence[int], *, root_dtype: Any = None
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Poses relative to their root, frame by frame.

    The root is the mean of the joints ``root_index`` in each frame.

    Args:
      poses: ``(..., T, K, C)`` (any leading axes; ``K`` is axis -2).
      root_index: static joint indices averaged into the root.
      root_dtype: dtype of the root (default: the poses').

    Returns:
      ``(poses - root[..., None, :], root)`` with ``root (..., T, C)``.
    """
    poses = jnp.asarray(poses)
    index = tuple(int(i) for i in root_index)
    picked = poses[..., index, :].astype(root_dtype or poses.dtype)
    # NumPy's mean over this (non-contiguous) axis, bit for bit: the joints
    # added in order, then a correctly rounded division by their count. XLA
    # would sum six or more in another order and multiply by the reciprocal,
    # an ulp off for a third of the roots of three joints; the labels
    # subtract the root from values of its size, so that ulp is all of a
    # small label's error. (A chain of a few adds, one fused kernel.)
    total = picked[..., 0, :]
    for i in range(1, len(index)):
        total = total + picked[..., i, :]
    root = divide_exact(total, len(index))
    return poses - root[..., None, :], root


def add_root(poses: jnp.ndarray, root: Any, *, insert_index: int | None = None) -> jnp.ndarray:
    """The inverse of :func:`root_relative` (and of :func:`remove_joint`).

    Args:
      poses: ``(..., T, K, C)`` root-relative poses.
      root: the root, broadcastable to ``(..., T, 1, C)`` (e.g.
        ``root_relative``'s ``(..., T, C)`` root with an axis inserted).
      insert_index: when given (static), the root is also inserted as joint
        ``insert_index``, undoing the removal of a single root joint.

    Returns:
      ``poses + root``, ``(..., T, K, C)`` or ``(..., T, K + 1, C)``.
    """
    poses = jnp.asarray(poses)
    poses = poses + jnp.asarray(root, poses.dtype)
    if insert_index is not None:
        poses = insert_joint(poses, insert_index, root)
    return poses


def remove_joint(x: jnp.ndarray, index: int, axis: int) -> jnp.ndarray:
    """``x`` without entry ``index`` (static) along ``axis`` (a joint axis)."""
    x = jnp.asarray(x)
    axis = axis % x.ndim
    before = jnp.take(x, jnp.arange(0, index), axis=axis)
    after = jnp.take(x, jnp.arange(index + 1, x.shape[axis]), axis=axis)
    return jnp.concatenate([before, after], axis=axis)


def insert_joint(x: jnp.ndarray, index: int, value: jnp.ndarray) -> jnp.ndarray:
    """``x (..., K, C)`` with ``value`` (broadcast to ``(..., 1, C)``) inserted
    as joint ``index`` (static) along axis -2."""
    x = jnp.asarray(x)
    value = jnp.broadcast_to(jnp.asarray(value, x.dtype), x.shape[:-2] + (1, x.shape[-1]))
    return jnp.concatenate([x[..., :index, :], value, x[..., index:, :]], axis=-2)


def append_visibility(keypoints: jnp.ndarray, visible: jnp.ndarray) -> jnp.ndarray:
    """``keypoints (..., D)`` with the visibility ``(...)`` appended as a
    last channel, ``(..., D + 1)``, in the keypoints' dtype."""
    keypoints = jnp.asarray(keypoints)
    return jnp.concatenate([keypoints, jnp.asarray(visible)[..., None].astype(keypoints.dtype)], axis=-1)


def frames_as_columns(labels: jnp.ndarray) -> jnp.ndarray:
    """Frames ``(T, K, D)`` as columns ``(K * D, T)``: the input layout of
    temporal 1-D convolutions over the frames (VideoPose3D, Pavllo et al.,
    CVPR 2019); column ``t`` holds frame ``t`` joint-major."""
    labels = jnp.asarray(labels)
    frames, joints, dims = labels.shape
    return jnp.transpose(labels, (1, 2, 0)).reshape(joints * dims, frames)


def standardize(x: jnp.ndarray, mean: Any, std: Any) -> jnp.ndarray:
    """``(x - mean) / std`` (statistics broadcast over the leading axes)."""
    return (x - mean) / std


def destandardize(x: jnp.ndarray, mean: Any, std: Any) -> jnp.ndarray:
    """``x * std + mean``, the inverse of :func:`standardize`."""
    return x * std + mean


def _screen_frame(width: Any, height: Any) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Image centre ``(w/2, h/2)`` and half-width ``w/2``, float32."""
    width = jnp.asarray(width, jnp.float32)
    height = jnp.asarray(height, jnp.float32)
    centre = jnp.stack([0.5 * width, 0.5 * height])
    return centre, 0.5 * width


def normalize_screen_coordinates(keypoints: jnp.ndarray, width: Any, height: Any) -> jnp.ndarray:
    """Image coordinates to ``[-1, 1]`` along x, aspect kept (VideoPose3D,
    Pavllo et al. 2019): ``(kp - (w/2, h/2)) / (w/2)``.

    Args:
      keypoints: ``(..., 2)`` image pixels.
      width, height: image size (numbers or traced scalars).
    """
    centre, scale = _screen_frame(width, height)
    # A true division, as MMPose's NumPy: XLA would multiply by the
    # reciprocal of the broadcast half-width, one ulp off for some inputs.
    return divide_exact(keypoints - centre.astype(jnp.result_type(keypoints, jnp.float32)), scale)


def normalize_camera(camera_param: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``camera_param`` with intrinsics in the normalised screen
    frame of :func:`normalize_screen_coordinates`: ``f / (w/2)`` and
    ``(c - (w/2, h/2)) / (w/2)``; every other entry is passed through.

    Raises:
      ValueError: ``camera_param`` lacks ``w``, ``h``, ``f`` or ``c``.
    """
    missing = [key for key in ("w", "h", "f", "c") if key not in camera_param]
    if missing:
        raise ValueError(f"`camera_param` must contain 'w', 'h', 'f' and 'c', missing {missing}.")
    centre, scale = _screen_frame(camera_param["w"], camera_param["h"])
    out = dict(camera_param)
    f = jnp.asarray(camera_param["f"])
    c = jnp.asarray(camera_param["c"])
    # True divisions, as in normalize_screen_coordinates.
    out["f"] = divide_exact(f.astype(jnp.result_type(f, scale)), scale)
    out["c"] = divide_exact(c - centre.reshape((2,) + (1,) * (c.ndim - 1)), scale)
    return out


def camera_to_image(points: jnp.ndarray, f: Any, c: Any) -> jnp.ndarray:
    """Pinhole projection of camera-frame points ``(..., 3)`` to
    ``(x / z * fx + cx, y / z * fy + cy)``; returns ``(..., 2)``.

    ``f`` and ``c`` are ``(2,)`` or ``(2, 1)`` (x first).
    """
    points = jnp.asarray(points)
    f = jnp.reshape(jnp.asarray(f, points.dtype), (2,))
    c = jnp.reshape(jnp.asarray(c, points.dtype), (2,))
    return points[..., :2] / points[..., 2:3] * f + c


def _image_frame(width: Any, height: Any, dtype) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Width with a trailing unit axis, and MotionBERT's shift ``(1, h / w)``
    ``(..., 2)``, both broadcastable against points ``(..., C)``."""
    width = jnp.asarray(width, dtype)[..., None]
    height = jnp.asarray(height, dtype)[..., None]
    # Derived from w rather than a constant: under a sharded batch of image
    # sizes the shift keeps their sharding.
    shift = jnp.concatenate([constant_like(1.0, width, dtype=dtype), height / width], axis=-1)
    return width, shift


def normalize_image_frame(points: jnp.ndarray, width: Any, height: Any) -> jnp.ndarray:
    """MotionBERT's image frame (Zhu et al. 2023): ``x, y`` of ``points
    (..., C)`` become ``(x, y) / w * 2 - (1, h / w)`` (x in ``[-1, 1]``,
    aspect kept); further channels (depth, scores) are returned untouched.

    The same frame as :func:`normalize_screen_coordinates`, written as
    MotionBERT writes it, with a true division (:func:`divide_exact`), so
    that float32 rounding matches its targets, jitted or not.

    Args:
      points: ``(..., C)`` with ``C >= 2``, image pixels in x, y.
      width, height: image size: numbers, traced scalars or arrays
        broadcastable to ``points.shape[:-1]`` (e.g. ``(N, 1)``, one size
        per row).
    """
    points = jnp.asarray(points)
    width, shift = _image_frame(width, height, points.dtype)
    return points.at[..., :2].set(divide_exact(points[..., :2], width) * 2 - shift)


def normalize_image_frame_with_depth(points: jnp.ndarray, width: Any, height: Any) -> jnp.ndarray:
    """MotionBERT's 3-D label frame: :func:`normalize_image_frame` for
    ``x, y`` and the depth (channel 2) scaled alike, ``z / w * 2``.

    Zhu et al., "MotionBERT: A Unified Perspective on Learning Human Motion
    Representations" (ICCV 2023) train on image-frame poses whose depth is
    scaled like x (MotionBERTLabel passes ``w / 1000, h / 1000`` for its
    training labels).

    Args:
      points: ``(..., C)`` with ``C >= 3``; channels beyond 2 are untouched.
      width, height: as in :func:`normalize_image_frame`.
    """
    points = normalize_image_frame(points, width, height)
    return points.at[..., 2].set(divide_exact(points[..., 2], width) * 2)


def denormalize_image_frame_with_depth(points: jnp.ndarray, width: Any, height: Any) -> jnp.ndarray:
    """Back from MotionBERT's frame: ``(x, y) -> ((x, y) + (1, h / w)) * w / 2``
    and every further channel (depth) times ``w / 2``, the inverse of
    :func:`normalize_image_frame_with_depth` (as MotionBERT decodes).

    Args:
      points: ``(..., C)`` with ``C >= 2``.
      width, height: as in :func:`normalize_image_frame`.
    """
    points = jnp.asarray(points)
    width, shift = _image_frame(width, height, points.dtype)
    points = points.at[..., :2].set((points[..., :2] + shift) * width / 2)
    return points.at[..., 2:].multiply(width / 2)


def camera_to_image_with_depth(
    target: jnp.ndarray, root_index: int, f: Any, c: Any
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """MotionBERT's camera-to-image conversion of a 3-D pose sequence.

    ``x, y`` are projected (:func:`camera_to_image`) with ``f / 1000`` and
    ``c / 1000`` (camera coordinates in millimetres); the depth becomes
    ``ratio * (z - z_root)``, ``ratio`` half the projected width of a 2-unit
    square around the root joint, ``(right - left + 0.001) / 2``.

    Args:
      target: ``(T, K, 3)`` camera-frame poses.
      root_index: static index of the root joint.
      f, c: focal lengths and principal point, ``(2,)`` or ``(2, 1)``.

    Returns:
      ``(image (T, K, 3), factor (T,))`` with ``factor = 1 / ratio``, the
      scale that turns image-frame depth back into camera units.
    """
    target = jnp.asarray(target)
    f = jnp.asarray(f, target.dtype) / 1000.0
    c = jnp.asarray(c, target.dtype) / 1000.0
    root = target[..., root_index, :]
    offset = jnp.asarray([1.0, 1.0, 0.0], target.dtype)
    left = camera_to_image(root - offset, f, c)[..., 0]
    right = camera_to_image(root + offset, f, c)[..., 0]
    ratio = (right - left + 0.001) / 2.0
    factor = 2.0 / (right - left + 0.001)
    depth = ratio[..., None] * (target[..., 2] - target[..., root_index, None, 2])
    image = jnp.concatenate([camera_to_image(target, f, c), depth[..., None]], axis=-1)
    return image, factor
