"""2-D-to-3-D lifting codecs: ImagePoseLifting, VideoPoseLifting, MotionBERTLabel.

Inputs: 2-D keypoints ``(N, K, D)`` (``N`` instances or frames) and the 3-D
``lifting_target (T, K, C)`` (``T`` frames). Targets are root-relative: the
root (mean of the ``root_index`` joints) is subtracted in every frame, for
any ``T`` — MMPose 1.3.2 broadcasts the root correctly only for ``T = 1``
(ImagePoseLifting) and deletes the root from the visibility's frame axis;
both are fixed in both modes (SPEC §4 rows 18, 19).
"""

from __future__ import annotations

import types
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxcodecs import ops
from jaxcodecs.base import Codec
from jaxcodecs.ops.validation import as_float_array, check_rank
from jaxcodecs.registry import register

__all__ = ["ImagePoseLifting", "VideoPoseLifting", "MotionBERTLabel"]

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


def _check_common_fields(codec: Codec, name: str) -> None:
    """``num_keypoints`` a positive int; every bool switch a Python bool."""
    num = codec.num_keypoints
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 1:
        raise ValueError(f"{name}: `num_keypoints` must be a positive int, got {num!r}.")
    object.__setattr__(codec, "num_keypoints", int(num))
    for flag in ("zero_center", "remove_root", "save_index", "reshape_keypoints", "concat_vis",
                 "normalize_camera", "rootrel"):
        if hasattr(codec, flag):
            object.__setattr__(codec, flag, bool(getattr(codec, flag)))


def _root_tuple(owner: str, root_index: Any, num_keypoints: int) -> tuple[int, ...]:
    values = (root_index,) if isinstance(root_index, (int, np.integer)) else tuple(root_index)
    if not values or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in values):
        raise ValueError(f"{owner}: `root_index` must be an int or a list of ints, got {root_index!r}.")
    if any(not 0 <= v < num_keypoints for v in values):
        raise ValueError(
            f"{owner}: `root_index` {root_index!r} out of range for num_keypoints={num_keypoints}."
        )
    return tuple(int(v) for v in values)


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
        vis = as_float_array(keypoints_visible, "keypoints_visible")
        if vis.ndim == 1:
            vis = vis[None]
        if vis.shape != kp.shape[:2]:
            raise ValueError(
                f"`keypoints_visible` must have shape (N, K) = {kp.shape[:2]}, got shape {vis.shape}."
            )
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
        target_vis = as_float_array(lifting_target_visible, "lifting_target_visible")
        if target_vis.ndim == 1:
            target_vis = target_vis[None]
        if target_vis.shape != target.shape[:2]:
            raise ValueError(
                f"`lifting_target_visible` must have shape (T, K) = {target.shape[:2]}, "
                f"got shape {target_vis.shape}."
            )
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
        encoded["target_root_removed"] = _constant(True, target)
        if self.save_index:
            encoded["target_root_index"] = _constant(index, target)
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
        labels = jnp.concatenate([labels, vis[..., None].astype(labels.dtype)], axis=-1)
    if reshape:
        num = labels.shape[0]
        labels = jnp.transpose(labels, (1, 2, 0)).reshape(-1, num)
    return labels


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
    keypoints = keypoints + root.astype(keypoints.dtype)
    if remove_root and len(root_index) == 1:
        keypoints = ops.insert_joint(keypoints, root_index[0], root)
    return keypoints


def _constant(value: Any, like: jnp.ndarray) -> jnp.ndarray:
    """A scalar flag / index computed from ``like`` (finite), so that under a
    batch-sharded vmap it is batch-sharded like the other outputs instead of
    a replicated constant."""
    probe = like.reshape(-1)[0]
    always = (probe == probe) | (probe != probe)  # True even for NaN; XLA does not fold it
    if isinstance(value, bool):
        return always if value else ~always
    return always.astype(jnp.int32) * value


def _check_statistics_shape(x: jnp.ndarray, name: str, mean: jnp.ndarray, mean_name: str) -> None:
    if x.shape[1:] != mean.shape[1:]:
        raise ValueError(
            f"`{name}` gives shape {x.shape}, whose (K, C) must match `{mean_name}` {tuple(mean.shape)}."
        )


def _demo_target(keypoints: np.ndarray) -> np.ndarray:
    """A 3-D pose per 2-D demo pose, ``(B, 1, K, 3)``: metres in the camera
    frame, about 4 m away, each joint at its own depth."""
    batch, joints, _ = keypoints.shape
    depth = 4.0 + 0.2 * np.sin(np.arange(joints, dtype=np.float64))
    depth = np.broadcast_to(depth[None, :, None], (batch, joints, 1))
    return np.concatenate([keypoints / 1000.0, depth], axis=-1).astype(np.float32)[:, None]


def _ones_scores(keypoints):
    return jnp.ones(keypoints.shape[:-1], jnp.float32) + 0 * keypoints[..., 0].astype(jnp.float32)


@register
class ImagePoseLifting(_LabelOutputs, Codec):
    """Root-relative 3-D targets for single-frame lifting (SimpleBaseline3D,
    Martinez et al. 2017).

    Encode ``keypoints (N, K, D)``, ``keypoints_visible (N, K)``,
    ``lifting_target (T, K, C)`` (required), ``lifting_target_visible (T, K)``:

    * ``lifting_target_label (T, K', C)``: the target minus its root (the
      mean of the ``root_index`` joints, float32 ``target_root (T, C)``),
      without the root joint when ``remove_root`` and a single root
      (``K' = K - 1``), then standardised by ``target_mean`` /
      ``target_std`` when given (broadcast over frames);
    * ``keypoint_labels``: the 2-D keypoints, standardised by
      ``keypoints_mean`` / ``keypoints_std`` when given, with the visibility
      appended (``concat_vis``), reshaped to ``(K * D', N)`` when
      ``reshape_keypoints``;
    * ``lifting_target_weight (T, K')``, ``trajectory_weights`` (see
      :func:`_target_weights`), ``keypoint_labels_visible``, and flags
      ``target_root_removed`` / ``target_root_index`` like MMPose.

    Decode ``encoded (N, K', C)`` and optional ``target_root`` (``(T, C)``
    or ``(T, 1, C)``, ``T`` = 1 or ``N``): de-standardise, add the root and,
    with ``remove_root``, re-insert it as joint ``root_index``. Scores are
    ones.

    The statistics are pytree leaves, so they can be traced, vmapped or
    learned: given as lists / NumPy arrays they become float32 ``(1, K, D)``
    / ``(1, K', C)`` (as MMPose reshapes them) when the codec is built; JAX
    arrays are kept as given and reshaped where they are used.
    """

    num_keypoints: int = struct.field(pytree_node=False)
    root_index: Any = struct.field(pytree_node=False, default=0)
    remove_root: bool = struct.field(pytree_node=False, default=False)
    save_index: bool = struct.field(pytree_node=False, default=False)
    reshape_keypoints: bool = struct.field(pytree_node=False, default=True)
    concat_vis: bool = struct.field(pytree_node=False, default=False)
    keypoints_mean: Any = None
    keypoints_std: Any = None
    target_mean: Any = None
    target_std: Any = None
    additional_encode_keys: Any = struct.field(pytree_node=False, default=None)

    instance_mapping_table = _INSTANCE_TABLE
    label_mapping_table = _LABEL_TABLE
    auxiliary_encode_keys = frozenset({"lifting_target", "lifting_target_visible"})
    decode_input_keys = ("lifting_target_label", "target_root")
    demo_configs = (
        {"num_keypoints": 17},
        {"num_keypoints": 17, "root_index": 0, "remove_root": True, "reshape_keypoints": False},
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        _check_common_fields(self, name)
        object.__setattr__(self, "root_index", _root_tuple(name, self.root_index, self.num_keypoints))
        extra = self.additional_encode_keys
        object.__setattr__(self, "additional_encode_keys", None if extra is None else tuple(extra))
        target_joints = self.num_keypoints - 1 if self._removes_root else self.num_keypoints
        for mean_name, std_name, joints in (
            ("keypoints_mean", "keypoints_std", self.num_keypoints),
            ("target_mean", "target_std", target_joints),
        ):
            mean, std = getattr(self, mean_name), getattr(self, std_name)
            if (mean is None) != (std is None):
                given, missing = (mean_name, std_name) if std is None else (std_name, mean_name)
                raise ValueError(
                    f"{name}: `{mean_name}` and `{std_name}` must be given together, "
                    f"got `{given}` without `{missing}`.")
            if not (_is_host_data(mean) and _is_host_data(std)):
                # JAX arrays (and tracers, and whatever a tree_map puts
                # here when the codec is rebuilt) are used as given.
                continue
            try:
                mean = np.asarray(mean, np.float32).reshape(1, joints, -1)
                std = np.asarray(std, np.float32).reshape(1, joints, -1)
            except ValueError:
                raise ValueError(
                    f"{name}: `{mean_name}` / `{std_name}` must have {joints} joints ((K, D) or "
                    f"(1, K, D)), got shapes {np.shape(mean)} and {np.shape(std)}."
                ) from None
            if mean.shape != std.shape:
                raise ValueError(
                    f"{name}: `{mean_name}` {mean.shape} and `{std_name}` {std.shape} must have the same shape."
                )
            object.__setattr__(self, mean_name, mean)
            object.__setattr__(self, std_name, std)

    @property
    def _removes_root(self) -> bool:
        return bool(self.remove_root) and len(self.root_index) == 1

    def _statistics(self, kind: str) -> tuple[jnp.ndarray, jnp.ndarray] | None:
        """``(mean, std)`` of ``"keypoints"`` or ``"target"`` as ``(1, K, D)``
        / ``(1, K', C)`` arrays (reshaped here when given as JAX arrays)."""
        mean, std = getattr(self, f"{kind}_mean"), getattr(self, f"{kind}_std")
        if mean is None:
            return None
        joints = self.num_keypoints - 1 if (kind == "target" and self._removes_root) else self.num_keypoints
        return jnp.reshape(mean, (1, joints, -1)), jnp.reshape(std, (1, joints, -1))

    def _standardized(self, kind: str, x: jnp.ndarray, name: str, encoded: dict) -> jnp.ndarray:
        """``x`` standardised by the ``kind`` statistics (recorded in
        ``encoded`` as MMPose does), or ``x`` when there are none."""
        stats = self._statistics(kind)
        if stats is None:
            return x
        _check_statistics_shape(x, name, stats[0], f"{kind}_mean")
        encoded[f"{kind}_mean"], encoded[f"{kind}_std"] = stats
        return ops.standardize(x, *stats)

    @property
    def encode_keys(self) -> frozenset:
        """``auxiliary_encode_keys`` plus ``additional_encode_keys`` (this
        instance's; MMPose adds them to the class, shared by all instances)."""
        return type(self).auxiliary_encode_keys | frozenset(self.additional_encode_keys or ())

    def encode(self, keypoints, keypoints_visible=None, lifting_target=None, lifting_target_visible=None):
        """Encodes one sample; see the class docstring for the outputs."""
        name = type(self).__name__
        kp, vis, target, target_vis = _lifting_inputs(
            name, self.num_keypoints, keypoints, keypoints_visible, lifting_target, lifting_target_visible
        )
        weight, trajectory = _target_weights(target, target_vis, self.mmpose_compat)
        label, root = ops.root_relative(target, self.root_index, root_dtype=jnp.float32)
        encoded: dict[str, Any] = {}
        if self._removes_root:
            label, weight = self._remove_root(label, weight, target, encoded)
        labels = self._standardized("keypoints", kp, "keypoints", encoded)
        label = self._standardized("target", label, "lifting_target", encoded)
        encoded.update(self._label_outputs(labels, vis, "keypoint_labels_visible", label, weight, trajectory))
        encoded["target_root"] = root
        return encoded

    def demo_sample(self, keypoints, visible):
        """The 2-D poses with a 3-D target each (see :meth:`Codec.demo_sample`)."""
        target = _demo_target(keypoints)
        return (keypoints[:, None], visible[:, None], target, visible[:, None]), {}, target[:, 0]

    def decode(self, encoded, target_root=None):
        """Decodes ``(N, K', C)`` (plus ``target_root``) into ``keypoints
        (N, K, C)`` and ``scores (N, K)`` (ones)."""
        keypoints, root = _decode_with_root(encoded, target_root)
        stats = self._statistics("target")
        if stats is not None:
            _check_statistics_shape(keypoints, "encoded", stats[0], "target_mean")
            keypoints = ops.destandardize(keypoints, *stats)
        keypoints = _add_root(keypoints, root, self._removes_root, self.root_index)
        return keypoints, _ones_scores(keypoints)


@register
class VideoPoseLifting(_LabelOutputs, Codec):
    """Targets for temporal lifting (VideoPose3D, Pavllo et al. 2019).

    Encode ``keypoints (N, K, 2)`` (``N`` frames), ``keypoints_visible``,
    ``lifting_target (T, K, C)`` (required), ``lifting_target_visible``,
    ``camera_param`` (a dict with ``w``, ``h``; with ``normalize_camera``
    also ``f``, ``c``):

    * ``keypoint_labels``: ``(kp - (w/2, h/2)) / (w/2)``, with the
      visibility appended (``concat_vis``), reshaped to ``(K * D', N)`` when
      ``reshape_keypoints``;
    * with ``zero_center``: ``lifting_target_label`` relative to the root
      (any ``T``), ``target_root (T, C)``, the root joint removed with
      ``remove_root``; otherwise the target as is;
    * with ``normalize_camera``: ``camera_param``, a normalised copy
      (:func:`jaxcodecs.ops.normalize_camera`);
    * ``lifting_target_weight``, ``trajectory_weights`` and
      ``keypoints_visible`` as MMPose.

    Decode ``encoded (N, K', C)`` and optional ``target_root`` (``(T, C)``
    or ``(T, 1, C)``, ``T`` = 1 or ``N``): add the root and re-insert it
    with ``remove_root``. Scores are ones.
    """

    num_keypoints: int = struct.field(pytree_node=False)
    zero_center: bool = struct.field(pytree_node=False, default=True)
    root_index: Any = struct.field(pytree_node=False, default=0)
    remove_root: bool = struct.field(pytree_node=False, default=False)
    save_index: bool = struct.field(pytree_node=False, default=False)
    reshape_keypoints: bool = struct.field(pytree_node=False, default=True)
    concat_vis: bool = struct.field(pytree_node=False, default=False)
    normalize_camera: bool = struct.field(pytree_node=False, default=False)

    instance_mapping_table = _INSTANCE_TABLE
    label_mapping_table = _LABEL_TABLE
    auxiliary_encode_keys = frozenset({"lifting_target", "lifting_target_visible", "camera_param"})
    demo_configs = (
        {"num_keypoints": 17},
        {"num_keypoints": 17, "remove_root": True, "reshape_keypoints": False, "normalize_camera": True},
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        _check_common_fields(self, name)
        object.__setattr__(self, "root_index", _root_tuple(name, self.root_index, self.num_keypoints))

    @property
    def _removes_root(self) -> bool:
        return self.zero_center and self.remove_root and len(self.root_index) == 1

    @property
    def decode_input_keys(self) -> tuple[str, ...]:  # type: ignore[override]
        """The root is an encoded key only with ``zero_center``."""
        return ("lifting_target_label", "target_root") if self.zero_center else ("lifting_target_label",)

    def encode(
        self, keypoints, keypoints_visible=None, lifting_target=None, lifting_target_visible=None,
        camera_param=None,
    ):
        """Encodes one clip; see the class docstring for the outputs."""
        name = type(self).__name__
        kp, vis, target, target_vis = _lifting_inputs(
            name, self.num_keypoints, keypoints, keypoints_visible, lifting_target, lifting_target_visible
        )
        camera = dict(camera_param or {})
        if "w" not in camera or "h" not in camera:
            raise ValueError(
                f"{name}.encode needs `camera_param` with the image size 'w' and 'h', got keys "
                f"{sorted(camera)}."
            )
        weight, trajectory = _target_weights(target, target_vis, self.mmpose_compat)
        encoded: dict[str, Any] = {}
        label = target
        if self.zero_center:
            label, root = ops.root_relative(target, self.root_index)
            encoded["target_root"] = root
            if self._removes_root:
                label, weight = self._remove_root(label, weight, target, encoded)
        labels = ops.normalize_screen_coordinates(kp, camera["w"], camera["h"])
        if self.normalize_camera:
            if "f" not in camera or "c" not in camera:
                raise ValueError(
                    f"{name}: normalize_camera=True needs `camera_param` with 'f' and 'c', got keys "
                    f"{sorted(camera)}."
                )
            encoded["camera_param"] = {
                key: jnp.asarray(value) if isinstance(value, (jnp.ndarray, np.ndarray, np.generic, float, int))
                else value  # e.g. a camera name: passed through as MMPose does (not jit-returnable)
                for key, value in ops.normalize_camera(camera).items()
            }
        encoded.update(self._label_outputs(labels, vis, "keypoints_visible", label, weight, trajectory))
        return encoded

    def demo_sample(self, keypoints, visible):
        """The 2-D poses (one frame each), a 3-D target and a camera."""
        target = _demo_target(keypoints)
        batch = len(keypoints)
        camera = {
            "w": np.full(batch, 1000.0, np.float32), "h": np.full(batch, 1000.0, np.float32),
            "f": np.full((batch, 2, 1), 1150.0, np.float32), "c": np.full((batch, 2, 1), 500.0, np.float32),
        }
        args = (keypoints[:, None], visible[:, None], target, visible[:, None], camera)
        return args, {}, target[:, 0]

    def decode(self, encoded, target_root=None):
        """Decodes ``(N, K', C)`` (plus ``target_root``) into ``keypoints
        (N, K, C)`` and ``scores (N, K)`` (ones)."""
        keypoints, root = _decode_with_root(encoded, target_root)
        reinsert = self.remove_root and len(self.root_index) == 1
        keypoints = _add_root(keypoints, root, reinsert, self.root_index)
        return keypoints, _ones_scores(keypoints)


_MOTIONBERT_MODES = ("train", "test")


def _motionbert_image_frame(points: jnp.ndarray, width: Any, height: Any) -> jnp.ndarray:
    """``(..., :2) / w * 2 - (1, h / w)``: x to ``[-1, 1]``, aspect kept."""
    width = jnp.asarray(width, points.dtype)
    height = jnp.asarray(height, points.dtype)
    shift = jnp.stack([width * 0 + 1, height / width])  # derived from w: keeps its sharding
    return points.at[..., :2].set(points[..., :2] / width * 2 - shift)


def _camera_to_image_depth(target: jnp.ndarray, root_index: int, f: Any, c: Any):
    """MotionBERT's camera-to-image conversion of a ``(T, K, 3)`` target.

    x, y are projected with ``f / 1000`` and ``c / 1000``; the depth becomes
    ``ratio * (z - z_root)`` where ``ratio`` is half the projected width of
    a 2-unit square around the root (``(br - tl + 0.001) / 2``). Returns the
    converted target and ``factor = 1 / ratio`` ``(T,)``.
    """
    f = jnp.asarray(f, target.dtype) / 1000.0
    c = jnp.asarray(c, target.dtype) / 1000.0
    root = target[..., root_index, :]
    offset = jnp.asarray([1.0, 1.0, 0.0], target.dtype)
    left = ops.camera_to_image(root - offset, f, c)[..., 0]
    right = ops.camera_to_image(root + offset, f, c)[..., 0]
    ratio = (right - left + 0.001) / 2.0
    factor = 2.0 / (right - left + 0.001)
    depth = ratio[..., None] * (target[..., 2] - target[..., root_index, None, 2])
    image = jnp.concatenate([ops.camera_to_image(target, f, c), depth[..., None]], axis=-1)
    return image, factor


def _batch_column(value: Any, name: str, rows: int) -> jnp.ndarray:
    """``(N,)`` or ``(N, 1)`` per-row values as ``(N, 1, 1)``."""
    arr = as_float_array(value, name)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] != 1 or arr.shape[0] != rows:
        raise ValueError(
            f"`{name}` must have shape (N,) or (N, 1) with N = {rows} (the encoded rows), "
            f"got shape {tuple(np.shape(value))}."
        )
    return arr[:, :, None]


@register
class MotionBERTLabel(Codec):
    """Targets of MotionBERT (Zhu et al. 2023): image-frame 2-D inputs and
    root-relative 3-D labels in the same normalised frame.

    Encode ``keypoints (T, K, D)``, ``keypoints_visible``, ``lifting_target
    (T, K, 3)`` (required), ``lifting_target_visible``, ``camera_param``
    (``w``, ``h``; optional ``f``, ``c``) and ``factor``:

    * ``keypoint_labels``: ``kp[..., :2] / w * 2 - (1, h / w)`` (other
      channels untouched), the visibility appended with ``concat_vis``;
    * ``lifting_target_label``: with ``f`` and ``c`` the target is projected
      to the image (:func:`_camera_to_image_depth`, which also gives the
      default ``factor``; otherwise 4 per frame); in ``mode="train"`` it is
      normalised like the keypoints with ``w, h`` in metres
      (``/ 1000``); then made relative to joint ``root_index``; in
      ``mode="test"`` multiplied by ``factor`` (the argument unless it is
      None or starts with 0);
    * ``factor (T, 1)``, ``lifting_target_weight``, ``lifting_target`` (the
      label), ``lifting_target_visible``, ``keypoint_labels_visible``.

    Decode ``encoded (N, K, C)``, optional ``w``, ``h`` and ``factor``
    (``(N,)`` or ``(N, 1)`` each): with ``rootrel`` the root joint is zeroed
    (MMPose zeroes joint 0 whatever ``root_index``; reproduced with
    ``mmpose_compat=True``, ``root_index`` with ``False``); back to pixels
    with ``w, h``; times ``factor``; relative to ``root_index``; ``/ 1000``.
    A 1-D ``factor`` of N > 1 rows works (MMPose broadcasts it against the
    joints and fails). Scores are ones.
    """

    num_keypoints: int = struct.field(pytree_node=False)
    root_index: int = struct.field(pytree_node=False, default=0)
    remove_root: bool = struct.field(pytree_node=False, default=False)
    save_index: bool = struct.field(pytree_node=False, default=False)
    concat_vis: bool = struct.field(pytree_node=False, default=False)
    rootrel: bool = struct.field(pytree_node=False, default=False)
    mode: str = struct.field(pytree_node=False, default="test")

    instance_mapping_table = _INSTANCE_TABLE
    label_mapping_table = types.MappingProxyType(
        {
            "lifting_target_label": "lifting_target_label",
            "lifting_target_weight": "lifting_target_weight",
        }
    )
    auxiliary_encode_keys = frozenset({"lifting_target", "lifting_target_visible", "camera_param", "factor"})
    decode_input_keys = ("lifting_target_label",)
    demo_configs = (
        {"num_keypoints": 17},
        {"num_keypoints": 17, "mode": "train", "rootrel": True},
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        _check_common_fields(self, name)
        (root,) = _root_tuple(name, self.root_index, self.num_keypoints)
        object.__setattr__(self, "root_index", root)
        if not isinstance(self.mode, str) or self.mode.lower() not in _MOTIONBERT_MODES:
            raise ValueError(f"{name}: `mode` must be 'train' or 'test' (any case), got {self.mode!r}.")
        object.__setattr__(self, "mode", self.mode.lower())

    def demo_sample(self, keypoints, visible):
        """2-D poses with a 3-D target each and a camera; the truth is the
        (root-relative) label / 1000, what ``decode(label)`` returns."""
        target = _demo_target(keypoints)
        batch = len(keypoints)
        camera = {"w": np.full(batch, 1000.0, np.float32), "h": np.full(batch, 1000.0, np.float32)}
        args = (keypoints[:, None], visible[:, None], target, visible[:, None], camera)
        label = np.asarray(jax.vmap(lambda *a: self.encode(*a)["lifting_target_label"])(*args))
        return args, {}, label[:, 0] / 1000.0

    def encode(
        self, keypoints, keypoints_visible=None, lifting_target=None, lifting_target_visible=None,
        camera_param=None, factor=None,
    ):
        """Encodes one clip; see the class docstring for the outputs."""
        name = type(self).__name__
        kp, vis, target, target_vis = _lifting_inputs(
            name, self.num_keypoints, keypoints, keypoints_visible, lifting_target, lifting_target_visible
        )
        if kp.shape[0] != target.shape[0]:
            raise ValueError(
                f"`keypoints` (T, K, D) and `lifting_target` (T, K, 3) must have the same number of "
                f"frames, got shapes {kp.shape} and {target.shape}."
            )
        camera = dict(camera_param or {})
        if "w" not in camera or "h" not in camera:
            raise ValueError(
                f"{name}.encode needs `camera_param` with the image size 'w' and 'h', got keys "
                f"{sorted(camera)}."
            )
        if target_vis is None:
            target_vis = jnp.ones(target.shape[:2], jnp.float32)
            weight = target_vis
        else:
            weight = (target_vis > 0.5).astype(jnp.float32)
        labels = _motionbert_image_frame(kp, camera["w"], camera["h"])
        frames = target.shape[0]
        default_factor = jnp.full((frames,), 4.0, jnp.float32) + 0 * target[:, 0, 0]
        label = target
        if "f" in camera and "c" in camera:
            label, default_factor = _camera_to_image_depth(target, self.root_index, camera["f"], camera["c"])
        if self.mode == "train":
            width = jnp.asarray(camera["w"], label.dtype) / 1000.0
            height = jnp.asarray(camera["h"], label.dtype) / 1000.0
            label = _motionbert_image_frame(label, width, height)
            label = label.at[..., 2].set(label[..., 2] / width * 2)
        label = label - label[..., self.root_index : self.root_index + 1, :]
        used = default_factor.reshape(frames, 1)
        if factor is not None:
            given = as_float_array(factor, "factor")
            if given.ndim == 1:
                given = given[:, None]
            if given.ndim != 2 or given.shape != (frames, 1):
                raise ValueError(
                    f"`factor` must have shape (T,) or (T, 1) with T = {frames}, got shape {tuple(np.shape(factor))}."
                )
            used = jnp.where(given[0, 0] == 0, used, given.astype(used.dtype))
        if self.mode == "test":
            label = label * used[..., None].astype(label.dtype)
        if self.concat_vis:
            labels = jnp.concatenate([labels, vis[..., None].astype(labels.dtype)], axis=-1)
        return {
            "keypoint_labels": labels,
            "keypoint_labels_visible": vis,
            "lifting_target_label": label,
            "lifting_target_weight": weight,
            "lifting_target": label,
            "lifting_target_visible": target_vis,
            "factor": used,
        }

    def decode(self, encoded, w=None, h=None, factor=None):
        """Decodes ``(N, K, C)`` into ``keypoints (N, K, C)`` (root-relative,
        / 1000) and ``scores (N, K)`` (ones)."""
        keypoints = as_float_array(encoded, "encoded")
        check_rank(keypoints, 3, "encoded", "(N, K, C)")
        rows = keypoints.shape[0]
        scores = _ones_scores(keypoints)
        if self.rootrel:
            joint = 0 if self.mmpose_compat else self.root_index
            keypoints = keypoints.at[..., joint, :].set(0)
        if w is not None and np.size(w) > 0:
            if h is None or np.shape(h) != np.shape(w):
                raise ValueError(
                    f"`w` and `h` must have the same shape (N,) or (N, 1), got {np.shape(w)} and {np.shape(h)}."
                )
            width = _batch_column(w, "w", rows).astype(keypoints.dtype)
            height = _batch_column(h, "h", rows).astype(keypoints.dtype)
            shift = jnp.concatenate([width * 0 + 1, height / width], axis=-1)
            keypoints = keypoints.at[..., :2].set((keypoints[..., :2] + shift) * width / 2)
            keypoints = keypoints.at[..., 2:].multiply(width / 2)
        if factor is not None and np.size(factor) > 0:
            keypoints = keypoints * _batch_column(factor, "factor", rows).astype(keypoints.dtype)
        keypoints = keypoints - keypoints[..., self.root_index : self.root_index + 1, :]
        return keypoints / 1000.0, scores
