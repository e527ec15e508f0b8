"""Helpers shared by the lifting codecs (ImagePoseLifting, VideoPoseLifting,
MotionBERTLabel): field checks, input validation, root handling and the
MMPose mapping tables. Not public.
"""

from __future__ import annotations

import types
from typing import Any

import jax.numpy as jnp
import numpy as np

from jaxcodecs import ops
from jaxcodecs.base import Codec, FieldAt
from jaxcodecs.ops.validation import as_float_array, check_rank

_INSTANCE_TABLE = types.MappingProxyType(
    {"lifting_target": "lifting_target", "lifting_target_visible": "lifting_target_visible"}
)
_LABEL_TABLE = types.MappingProxyType(
    {
        "trajectory_weights": "trajectory_weights",
        "lifting_target_label": "lifting_target_label",
        "lifting_target_weight": "lifting_target_weight",
    }
)


# Statistics given as host data are converted (float32, reshaped as MMPose
# does) when the codec is built; JAX arrays are taken as they are.
def _is_host_data(value: Any) -> bool:
    return isinstance(value, (list, tuple)) or (isinstance(value, np.ndarray) and value.ndim >= 1)


def root_indices(value: Any, at: FieldAt) -> tuple[int, ...]:
    """``root_index``: an int or a list of ints, each a joint of the
    (already converted) ``num_keypoints``; a tuple."""
    values = (value,) if isinstance(value, (int, np.integer)) else tuple(value)
    if not values or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in values):
        raise ValueError(f"{at.owner}: `{at.name}` must be an int or a list of ints, got {value!r}.")
    num_keypoints = at.codec.num_keypoints
    if any(not 0 <= v < num_keypoints for v in values):
        raise ValueError(f"{at.owner}: `{at.name}` {value!r} out of range for num_keypoints={num_keypoints}.")
    return tuple(int(v) for v in values)


def root_joint(value: Any, at: FieldAt) -> int:
    """``root_index`` of a codec with a single root joint."""
    (index,) = root_indices(value, at)
    return index


def statistic(value: Any, at: FieldAt) -> Any:
    """A mean or std of ``keypoints`` / ``target`` (leaf). Host data becomes
    float32 ``(1, K, D)`` (``K - 1`` target joints when the codec removes
    the root); JAX arrays and tracers are kept as given."""
    if not _is_host_data(value):
        return value
    kind = at.name.rsplit("_", 1)[0]
    joints = at.codec.num_keypoints - (1 if kind == "target" and at.codec._removes_root else 0)
    try:
        return np.asarray(value, np.float32).reshape(1, joints, -1)
    except ValueError:
        shapes = [np.shape(getattr(at.codec, f"{kind}_{part}")) for part in ("mean", "std")]
        raise ValueError(
            f"{at.owner}: `{kind}_mean` / `{kind}_std` must have {joints} joints ((K, D) or "
            f"(1, K, D)), got shapes {shapes[0]} and {shapes[1]}."
        ) from None


def check_statistics_pairs(codec: Codec) -> None:
    """Each mean comes with its std, of the same shape when both are host data."""
    owner = type(codec).__name__
    for kind in ("keypoints", "target"):
        mean, std = getattr(codec, f"{kind}_mean"), getattr(codec, f"{kind}_std")
        if (mean is None) != (std is None):
            given, missing = (f"{kind}_mean", f"{kind}_std") if std is None else (f"{kind}_std", f"{kind}_mean")
            raise ValueError(
                f"{owner}: `{kind}_mean` and `{kind}_std` must be given together, "
                f"got `{given}` without `{missing}`.")
        if isinstance(mean, np.ndarray) and isinstance(std, np.ndarray) and mean.shape != std.shape:
            raise ValueError(
                f"{owner}: `{kind}_mean` {mean.shape} and `{kind}_std` {std.shape} must have the same shape."
            )


def _rows_visibility(value: Any, name: str, layout: str, shape: tuple[int, ...]) -> jnp.ndarray:
    """A visibility of ``shape`` (rows, K); a rank-1 one is one row."""
    vis = as_float_array(value, name)
    if vis.ndim == 1:
        vis = vis[None]
    if vis.shape != tuple(shape):
        raise ValueError(f"`{name}` must have shape {layout} = {tuple(shape)}, got shape {vis.shape}.")
    return vis


def _lifting_inputs(owner, num_keypoints, keypoints, keypoints_visible, lifting_target, lifting_target_visible):
    """Validated ``keypoints (N, K, D)``, visibility ``(N, K)``, target
    ``(T, K, C)`` and target visibility ``(T, K)`` (or None)."""
    kp = as_float_array(keypoints, "keypoints")
    if kp.ndim == 2:
        kp = kp[None]
    check_rank(kp, 3, "keypoints", f"(N, K, D) with K = {num_keypoints}")
    if keypoints_visible is None:
        vis = jnp.ones(kp.shape[:2], jnp.float32)
    else:
        vis = _rows_visibility(keypoints_visible, "keypoints_visible", "(N, K)", kp.shape[:2])
    if lifting_target is None:
        raise ValueError(
            f"{owner}.encode needs `lifting_target` (T, K, C), the 3-D pose to lift to; got None."
        )
    target = as_float_array(lifting_target, "lifting_target")
    if target.ndim == 2:
        target = target[None]
    check_rank(target, 3, "lifting_target", f"(T, K, C) with K = {num_keypoints}")
    if target.shape[1] != kp.shape[1]:
        raise ValueError(
            f"`lifting_target` must have shape (T, K, C) with K = {kp.shape[1]} (the keypoints'), "
            f"got shape {target.shape}."
        )
    target_vis = None
    if lifting_target_visible is not None:
        target_vis = _rows_visibility(lifting_target_visible, "lifting_target_visible", "(T, K)",
                                      target.shape[:2])
    return kp, vis, target, target_vis


def _target_weights(target, target_vis, mmpose_compat):
    """``lifting_target_weight (T, K)`` and ``trajectory_weights``.

    Without a target visibility MMPose sets the trajectory weights to
    ``1 / lifting_target[:, 2]`` — the reciprocal of joint 2's coordinates,
    ``(T, C)`` (SPEC row 20); reproduced in compat mode (0 where the
    coordinate is 0, never Inf; ones ``(T, K)`` when there is no joint 2),
    ones ``(T, K)`` in exact mode.
    """
    if target_vis is None:
        weight = jnp.ones(target.shape[:2], jnp.float32)
        if mmpose_compat and target.shape[1] > 2:
            joint = target[:, 2]
            nonzero = joint != 0
            trajectory = jnp.where(nonzero, 1 / jnp.where(nonzero, joint, 1), 0)
        else:
            trajectory = weight
        return weight, trajectory
    weight = (target_vis > 0.5).astype(jnp.float32)
    return weight, weight


class _LabelOutputs:
    """Encode steps ImagePoseLifting and VideoPoseLifting share (MMPose names
    the visibility key differently in the two)."""

    def _remove_root(self, label, weight, target, encoded):
        """Label and weight without the (single) root joint, on the keypoint
        axis for any number of frames; records MMPose's flags in ``encoded``."""
        index = self.root_index[0]
        encoded["target_root_removed"] = ops.constant_like(True, target, shape=())
        if self.save_index:
            encoded["target_root_index"] = ops.constant_like(index, target, shape=())
        return ops.remove_joint(label, index, axis=-2), ops.remove_joint(weight, index, axis=-1)

    def _label_outputs(self, labels, vis, visible_key, label, weight, trajectory) -> dict[str, Any]:
        return {
            "keypoint_labels": _keypoint_labels(labels, vis, self.concat_vis, self.reshape_keypoints),
            visible_key: vis,
            "lifting_target_label": label,
            "lifting_target_weight": weight,
            "trajectory_weights": trajectory,
        }


def _keypoint_labels(labels, vis, concat_vis, reshape):
    if concat_vis:
        labels = ops.append_visibility(labels, vis)
    return ops.frames_as_columns(labels) if reshape else labels


def _root_for_decode(target_root: Any, keypoints: jnp.ndarray) -> jnp.ndarray | None:
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


def _decode_with_root(encoded, target_root):
    keypoints = as_float_array(encoded, "encoded")
    check_rank(keypoints, 3, "encoded", "(N, K, C)")
    return keypoints, _root_for_decode(target_root, keypoints)


def _add_root(keypoints, root, remove_root, root_index):
    if root is None:
        return keypoints
    reinsert = remove_root and len(root_index) == 1
    return ops.add_root(keypoints, root, insert_index=root_index[0] if reinsert else None)


def _check_statistics_shape(x: jnp.ndarray, name: str, mean: jnp.ndarray, mean_name: str) -> None:
    if x.shape[1:] != mean.shape[1:]:
        raise ValueError(
            f"`{name}` gives shape {x.shape}, whose (K, C) must match `{mean_name}` {tuple(mean.shape)}."
        )


def _ones_scores(keypoints):
    """Scores of ones ``(N, K)``, batch-sharded like the keypoints."""
    return ops.constant_like(1.0, keypoints[..., 0])
