"""Checks of the call arguments of the lifting codecs (ImagePoseLifting,
VideoPoseLifting, MotionBERTLabel): 2-D keypoints with their 3-D target,
camera parameters, roots and per-frame sizes (the counterpart of
``_inputs.py`` for arguments only these codecs take)."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxcodecs.codecs._inputs import finite_points
from jaxcodecs.ops.validation import as_float_array, check_axis_size, check_rank, check_shape


class LiftingInputs(NamedTuple):
    """The checked inputs of a lifting encoder (see :func:`lifting_inputs`)."""

    keypoints: jnp.ndarray
    visible: jnp.ndarray
    target: jnp.ndarray
    target_visible: jnp.ndarray | None
    target_valid: jnp.ndarray


def _lifting_visibility(value: Any, name: str, layout: str, shape: tuple[int, ...]) -> jnp.ndarray:
    vis = as_float_array(value, name)
    expected = f"{layout} = {tuple(shape)}"
    check_rank(vis, 2, name, expected)
    check_shape(vis, shape, name, expected)
    return vis


def lifting_inputs(
    owner: str,
    num_keypoints: int,
    keypoints: Any,
    keypoints_visible: Any,
    lifting_target: Any,
    lifting_target_visible: Any,
    *,
    root_index: tuple[int, ...],
    keypoint_dims: tuple[int, ...] | None = None,
    target_dims: tuple[int, ...] | None = None,
    same_frames: bool = False,
) -> LiftingInputs:
    """Checked ``keypoints (N, K, D)``, visibility ``(N, K)``, target
    ``(T, K, C)``, target visibility ``(T, K)`` (or None) and which target
    joints may be trained on, ``target_valid (T, K)``.

    K must be ``num_keypoints``; ``keypoint_dims`` / ``target_dims`` list the
    admissible D / C (any when None); with ``same_frames`` the keypoints are
    one row per target frame (N = T).

    The NaN rule: a non-finite keypoint becomes invisible at the origin
    (:func:`finite_points`); a non-finite target joint becomes the origin and
    invalid, and a frame whose root joint (any of ``root_index``) is not
    finite is invalid as a whole, since every label of it is relative to
    that root.
    """
    layout = f"(N, K, D) with K = {num_keypoints}"
    kp = as_float_array(keypoints, "keypoints")
    check_rank(kp, 3, "keypoints", layout)
    if kp.shape[1] != num_keypoints or (keypoint_dims is not None and kp.shape[2] not in keypoint_dims):
        dims = "" if keypoint_dims is None else f" and D in {keypoint_dims}"
        raise ValueError(f"`keypoints` must have shape {layout}{dims}, got shape {kp.shape}.")
    if keypoints_visible is None:
        vis = jnp.ones(kp.shape[:2], jnp.float32)
    else:
        vis = _lifting_visibility(keypoints_visible, "keypoints_visible", "(N, K)", kp.shape[:2])
    if lifting_target is None:
        raise ValueError(
            f"{owner}.encode needs `lifting_target` (T, K, C), the 3-D pose to lift to; got None."
        )
    target = as_float_array(lifting_target, "lifting_target")
    target_layout = f"(T, K, C) with K = {num_keypoints}"
    check_rank(target, 3, "lifting_target", target_layout)
    if target.shape[1] != num_keypoints or (target_dims is not None and target.shape[2] not in target_dims):
        dims = "" if target_dims is None else f" and C in {target_dims}"
        raise ValueError(f"`lifting_target` must have shape {target_layout}{dims}, got shape {target.shape}.")
    if same_frames and kp.shape[0] != target.shape[0]:
        raise ValueError(
            f"`keypoints` (T, K, D) and `lifting_target` (T, K, 3) must have the same number of "
            f"frames, got shapes {kp.shape} and {target.shape}."
        )
    target_vis = None
    if lifting_target_visible is not None:
        target_vis = _lifting_visibility(lifting_target_visible, "lifting_target_visible", "(T, K)",
                                         target.shape[:2])
    kp, vis = finite_points(kp, vis)
    joint_ok = jnp.all(jnp.isfinite(target), axis=-1)
    if target_vis is not None:
        joint_ok = joint_ok & jnp.isfinite(target_vis)
        target_vis = jnp.where(joint_ok, target_vis, jnp.zeros_like(target_vis))
    target = jnp.where(joint_ok[..., None], target, jnp.zeros_like(target))
    root_ok = jnp.all(joint_ok[:, list(root_index)], axis=-1)
    return LiftingInputs(kp, vis, target, target_vis, joint_ok & root_ok[:, None])


# The smallest image size ``w`` / ``h`` that is usable: float32's smallest
# normal number. XLA on CPU flushes subnormals to zero (and reads subnormal
# inputs as zero), so a smaller positive size would divide by 0 there while
# NumPy on the host still sees it as > 0.
SMALLEST_SIZE = float(np.finfo(np.float32).tiny)


def finite_camera(camera: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """The NaN rule for camera parameters: non-finite numeric entries (and an
    image size ``w`` / ``h`` below :data:`SMALLEST_SIZE`: zero, negative or
    subnormal) become 1, and ``ok`` says whether all were usable (a Python
    bool when every number is known on the host, else a traced bool). Entries
    that are not numbers (a camera's name) pass unchanged, and so do finite
    host values."""
    out: dict[str, Any] = {}
    host_ok, traced = True, []
    for key, value in camera.items():
        size = key in ("w", "h")  # an image size must also be >= SMALLEST_SIZE
        if isinstance(value, (int, float, np.integer, np.floating, np.ndarray)) and not isinstance(value, bool):
            host = np.asarray(value)
            usable = np.isfinite(host) & ((host >= SMALLEST_SIZE) if size else True)
            if host.dtype.kind in "iuf" and not np.all(usable):
                value, host_ok = np.where(usable, host, 1).astype(host.dtype), False
        elif isinstance(value, jax.Array) and (jnp.issubdtype(value.dtype, jnp.floating) or size):
            usable = jnp.isfinite(value) & ((value >= SMALLEST_SIZE) if size else True)
            value = jnp.where(usable, value, jnp.ones_like(value))
            traced.append(jnp.all(usable))
        out[key] = value
    if not host_ok or not traced:
        return out, host_ok
    ok = traced[0]
    for flag in traced[1:]:
        ok = ok & flag
    return out, ok


def zero_unless(weight: jnp.ndarray, ok: Any) -> jnp.ndarray:
    """``weight`` where ``ok`` (a Python or traced bool), else zeros."""
    if ok is True:
        return weight
    if ok is False:
        return jnp.zeros_like(weight)
    return jnp.where(ok, weight, jnp.zeros_like(weight))


def camera_input(owner: str, camera_param: Mapping[str, Any] | None, keys: Iterable[str],
                 why: str) -> dict[str, Any]:
    """``camera_param`` as a dict holding every one of ``keys``."""
    camera = dict(camera_param or {})
    missing = [key for key in keys if key not in camera]
    if missing:
        wanted = " and ".join(repr(key) for key in keys)
        raise ValueError(f"{owner}: {why} needs `camera_param` with {wanted}, got keys {sorted(camera)}.")
    return camera


def lifting_camera(owner: str, camera_param: Mapping[str, Any] | None, *,
                   frames: int | None = None) -> tuple[dict[str, Any], Any]:
    """The checked ``camera_param`` of a lifting encoder and whether it is
    usable (:func:`finite_camera`).

    ``w`` and ``h`` are required; they and ``f``, ``c`` (where present) must
    be real numbers. ``w`` and ``h`` are scalars (one image size for the
    clip, as MMPose takes them), or, with ``frames`` (MotionBERTLabel's one
    keypoint row per frame), one size per frame: the shapes ``(T,)`` or
    ``(T, 1)`` that its decode takes (:func:`frame_sizes_input`), returned
    as ``(T, 1)`` columns. Any other shape would be broadcast against the
    keypoints (or fail inside the maths), so it is an error here.
    """
    camera = camera_input(owner, camera_param, ("w", "h"), "encode")
    for key in ("w", "h", "f", "c"):
        if key in camera:  # complex values would otherwise pass the NaN rule unseen
            as_float_array(camera[key], f"camera_param['{key}']")
    w, h = camera["w"], camera["h"]
    frame_sizes_input(w, h, ("camera_param['w']", "camera_param['h']"), frames, "T", scalars=True)
    if np.ndim(w) > 0:
        for key, value in (("w", w), ("h", h)):
            value = value if isinstance(value, jax.Array) else np.asarray(value)
            camera[key] = value.reshape(frames, 1)
    return finite_camera(camera)


def camera_pair_input(owner: str, camera: Mapping[str, Any], key: str) -> None:
    """``camera[key]`` (focal lengths ``f`` or principal point ``c``) holds
    the two values ``(x, y)`` a pinhole projection needs: shape ``(2,)``,
    ``(2, 1)`` or ``(1, 2)``."""
    shape = tuple(np.shape(camera[key]))
    if shape not in ((2,), (2, 1), (1, 2)):
        raise ValueError(
            f"{owner}: `camera_param['{key}']` must hold two values (x, y), shape (2,) or (2, 1), "
            f"got shape {shape}."
        )


def root_input(target_root: Any, keypoints: jnp.ndarray) -> jnp.ndarray | None:
    """``target_root`` ``(C,)``, ``(T, C)`` or ``(T, 1, C)`` as ``(T, 1, C)``, or None."""
    if target_root is None:
        return None
    root = as_float_array(target_root, "target_root")
    if root.size == 0:
        return None
    channels = keypoints.shape[-1]
    if root.ndim == 1:
        root = root[None]
    if root.ndim == 2:
        root = root[:, None, :]
    if root.ndim != 3 or root.shape[1] != 1 or root.shape[2] != channels or root.shape[0] not in (1, keypoints.shape[0]):
        raise ValueError(
            f"`target_root` must have shape (C,), (T, C) or (T, 1, C) with C = {channels} and "
            f"T = 1 or {keypoints.shape[0]} (the encoded rows), got shape {tuple(np.shape(target_root))}."
        )
    return root


def column_input(value: Any, name: str, rows: int, axis_name: str = "N") -> jnp.ndarray:
    """``(R,)`` or ``(R, 1)`` per-row values as ``(R, 1)``."""
    arr = as_float_array(value, name)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] != 1 or arr.shape[0] != rows:
        raise ValueError(
            f"`{name}` must have shape ({axis_name},) or ({axis_name}, 1) with {axis_name} = {rows}, "
            f"got shape {tuple(np.shape(value))}."
        )
    return arr


def statistics_shape_input(x: jnp.ndarray, name: str, mean: jnp.ndarray, mean_name: str) -> None:
    """``x (T, K, C)`` agrees with the statistics ``(1, K, C)`` on ``(K, C)``."""
    if x.shape[1:] != mean.shape[1:]:
        raise ValueError(
            f"`{name}` must have (K, C) = {tuple(mean.shape[1:])} like `{mean_name}` {tuple(mean.shape)}, "
            f"got shape {x.shape}."
        )


def frame_sizes_input(w: Any, h: Any, names: tuple[str, str], rows: int | None, axis_name: str = "N", *,
                      scalars: bool = False) -> None:
    """Checks image sizes ``w``, ``h`` given per row: the same shape, ``(R,)``
    or ``(R, 1)`` with ``R = rows`` (or, with ``scalars``, both scalars; only
    scalars when ``rows`` is None)."""
    shapes = [] if rows is None else [(rows,), (rows, 1)]
    words = [] if rows is None else [f"({axis_name},) or ({axis_name}, 1) with {axis_name} = {rows}"]
    if scalars:
        shapes, words = [()] + shapes, ["() (one image size for the whole clip)"] + words
    if h is None or np.shape(h) != np.shape(w) or np.shape(w) not in shapes:
        raise ValueError(
            f"`{names[0]}` and `{names[1]}` must have the same shape {' or '.join(words)}, "
            f"got {np.shape(w)} and {None if h is None else np.shape(h)}."
        )


def frame_size_input(w: Any, h: Any, keypoints: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray] | None:
    """Per-row image sizes ``w``, ``h`` (``(N,)`` or ``(N, 1)`` each) of the
    decoded ``keypoints (N, K, C)`` as ``(N, 1)`` columns, or None when ``w``
    is missing or empty. Mapping back with them reads x and y, so C >= 2."""
    if w is None or np.size(w) == 0:
        return None
    rows = keypoints.shape[0]
    frame_sizes_input(w, h, ("w", "h"), rows)
    check_axis_size(keypoints, -1, "encoded", "(N, K, C) with C >= 2 (x, y, then depth) to map back with "
                    "`w` and `h`", at_least=2)
    width, height = column_input(w, "w", rows), column_input(h, "h", rows)
    # A non-finite size, or one below SMALLEST_SIZE, has no frame to map back
    # to: read as 1, so that the output stays finite.
    usable = (jnp.isfinite(width) & jnp.isfinite(height) & (width >= SMALLEST_SIZE)
              & (height >= SMALLEST_SIZE))
    return jnp.where(usable, width, jnp.ones_like(width)), jnp.where(usable, height, jnp.ones_like(height))
