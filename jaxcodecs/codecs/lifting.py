"""2-D-to-3-D lifting codecs: ImagePoseLifting, VideoPoseLifting.

Inputs: 2-D keypoints ``(N, K, D)`` (``N`` instances or frames) and the 3-D
``lifting_target (T, K, C)`` (``T`` frames). Targets are root-relative: the
root (mean of the ``root_index`` joints) is subtracted in every frame, for
any ``T`` — MMPose 1.3.2 broadcasts the root correctly only for ``T = 1``
(ImagePoseLifting) and deletes the root from the visibility's frame axis;
both are fixed in both modes (SPEC §4 rows 18, 19). MotionBERTLabel, which
shares their input rules (``_lifting_common.py``), is in ``motionbert.py``.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np
from jaxcodecs import ops
from jaxcodecs.base import Codec, codec_field
from jaxcodecs.codecs._fields import check_statistics_pairs, flag, positive_int, root_indices, statistic, str_tuple
from jaxcodecs.codecs._inputs_lifting import (
    camera_input,
    lifting_camera,
    lifting_inputs,
    statistics_shape_input,
    zero_unless,
)
from jaxcodecs.codecs._lifting_common import (
    _INSTANCE_TABLE,
    _LABEL_TABLE,
    _LabelOutputs,
    _add_root,
    _decode_with_root,
    _ones_scores,
    _target_weights,
)
from jaxcodecs.registry import register

__all__ = ["ImagePoseLifting", "VideoPoseLifting"]


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

    num_keypoints: int = codec_field(positive_int, static=True)
    root_index: Any = codec_field(root_indices, static=True, default=0)
    remove_root: bool = codec_field(flag, static=True, default=False)
    save_index: bool = codec_field(flag, static=True, default=False)
    reshape_keypoints: bool = codec_field(flag, static=True, default=True)
    concat_vis: bool = codec_field(flag, static=True, default=False)
    keypoints_mean: Any = codec_field(statistic, default=None)
    keypoints_std: Any = codec_field(statistic, default=None)
    target_mean: Any = codec_field(statistic, default=None)
    target_std: Any = codec_field(statistic, default=None)
    additional_encode_keys: Any = codec_field(str_tuple, static=True, default=None)

    instance_mapping_table = _INSTANCE_TABLE
    label_mapping_table = _LABEL_TABLE
    auxiliary_encode_keys = frozenset({"lifting_target", "lifting_target_visible"})
    # Camera values are read on the host when concrete (the NaN rule's check, float64).
    eager_host_arguments = frozenset({"camera_param"})
    decode_input_keys = ("lifting_target_label", "target_root")

    def check_config(self) -> None:
        check_statistics_pairs(self)

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
        statistics_shape_input(x, name, stats[0], f"{kind}_mean")
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
        kp, vis, target, target_vis, valid = lifting_inputs(
            name, self.num_keypoints, keypoints, keypoints_visible, lifting_target, lifting_target_visible,
            root_index=self.root_index,
        )
        weight, trajectory = _target_weights(target, target_vis, valid, self.mmpose_compat)
        label, root = ops.root_relative(target, self.root_index, root_dtype=jnp.float32)
        encoded: dict[str, Any] = {}
        if self._removes_root:
            label, weight = self._remove_root(label, weight, target, encoded)
        labels = self._standardized("keypoints", kp, "keypoints", encoded)
        label = self._standardized("target", label, "lifting_target", encoded)
        encoded.update(self._label_outputs(labels, vis, "keypoint_labels_visible", label, weight, trajectory))
        encoded["target_root"] = root
        return encoded

    def decode(self, encoded, target_root=None):
        """Decodes ``(N, K', C)`` (plus ``target_root``) into ``keypoints
        (N, K, C)`` and ``scores (N, K)`` (ones)."""
        keypoints, root = _decode_with_root(encoded, target_root, self.num_keypoints - int(self._removes_root))
        stats = self._statistics("target")
        if stats is not None:
            statistics_shape_input(keypoints, "encoded", stats[0], "target_mean")
            keypoints = ops.destandardize(keypoints, *stats)
        keypoints = _add_root(keypoints, root, self._removes_root, self.root_index)
        return keypoints, _ones_scores(keypoints)


@register
class VideoPoseLifting(_LabelOutputs, Codec):
    """Targets for temporal lifting (VideoPose3D, Pavllo et al. 2019).

    Encode ``keypoints (N, K, 2)`` (``N`` frames), ``keypoints_visible``,
    ``lifting_target (T, K, C)`` (required), ``lifting_target_visible``,
    ``camera_param`` (a dict with ``w``, ``h``, scalars: one image size for
    the clip; with ``normalize_camera`` also ``f``, ``c``):

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

    num_keypoints: int = codec_field(positive_int, static=True)
    zero_center: bool = codec_field(flag, static=True, default=True)
    root_index: Any = codec_field(root_indices, static=True, default=0)
    remove_root: bool = codec_field(flag, static=True, default=False)
    save_index: bool = codec_field(flag, static=True, default=False)
    reshape_keypoints: bool = codec_field(flag, static=True, default=True)
    concat_vis: bool = codec_field(flag, static=True, default=False)
    normalize_camera: bool = codec_field(flag, static=True, default=False)

    instance_mapping_table = _INSTANCE_TABLE
    label_mapping_table = _LABEL_TABLE
    auxiliary_encode_keys = frozenset({"lifting_target", "lifting_target_visible", "camera_param"})
    eager_host_arguments = frozenset({"camera_param"})

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
        kp, vis, target, target_vis, valid = lifting_inputs(
            name, self.num_keypoints, keypoints, keypoints_visible, lifting_target, lifting_target_visible,
            root_index=self.root_index, keypoint_dims=(2,),
        )
        camera, camera_ok = lifting_camera(name, camera_param)
        weight, trajectory = _target_weights(target, target_vis, valid, self.mmpose_compat)
        weight, trajectory = zero_unless(weight, camera_ok), zero_unless(trajectory, camera_ok)
        encoded: dict[str, Any] = {}
        label = target
        if self.zero_center:
            label, root = ops.root_relative(target, self.root_index)
            encoded["target_root"] = root
            if self._removes_root:
                label, weight = self._remove_root(label, weight, target, encoded)
        labels = ops.normalize_screen_coordinates(kp, camera["w"], camera["h"])
        if self.normalize_camera:
            camera_input(name, camera, ("f", "c"), "normalize_camera=True")
            encoded["camera_param"] = {
                key: jnp.asarray(value) if isinstance(value, (jnp.ndarray, np.ndarray, np.generic, float, int))
                else value  # e.g. a camera name: passed through as MMPose does (not jit-returnable)
                for key, value in ops.normalize_camera(camera).items()
            }
        encoded.update(self._label_outputs(labels, vis, "keypoints_visible", label, weight, trajectory))
        return encoded

    def decode(self, encoded, target_root=None):
        """Decodes ``(N, K', C)`` (plus ``target_root``) into ``keypoints
        (N, K, C)`` and ``scores (N, K)`` (ones)."""
        keypoints, root = _decode_with_root(encoded, target_root, self.num_keypoints - int(self._removes_root))
        reinsert = self.remove_root and len(self.root_index) == 1
        keypoints = _add_root(keypoints, root, reinsert, self.root_index)
        return keypoints, _ones_scores(keypoints)
