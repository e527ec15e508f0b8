"""MotionBERTLabel (Zhu et al. 2023): 2-D keypoints and root-relative 3-D
targets in one normalised image frame, with MotionBERT's camera-to-image
depth. It shares the lifting codecs' input rules (``_lifting_common.py``).
"""

from __future__ import annotations

import types

import jax.numpy as jnp
import numpy as np
from jaxcodecs import ops
from jaxcodecs.base import Codec, codec_field
from jaxcodecs.codecs._fields import flag, one_of, positive_int, root_joint
from jaxcodecs.codecs._inputs import coordinates_input
from jaxcodecs.codecs._inputs_lifting import (
    camera_pair_input,
    column_input,
    frame_size_input,
    lifting_camera,
    lifting_inputs,
    zero_unless,
)
from jaxcodecs.codecs._lifting_common import (
    _INSTANCE_TABLE,
    _ones_scores,
)
from jaxcodecs.registry import register

__all__ = ["MotionBERTLabel"]

_MOTIONBERT_MODES = ("train", "test")


@register
class MotionBERTLabel(Codec):
    """Targets of MotionBERT (Zhu et al. 2023): image-frame 2-D inputs and
    root-relative 3-D labels in the same normalised frame.

    Encode ``keypoints (T, K, D)``, ``keypoints_visible``, ``lifting_target
    (T, K, 3)`` (required), ``lifting_target_visible``, ``camera_param``
    (``w``, ``h``: scalars as in MMPose, or one size per frame, ``(T,)`` or
    ``(T, 1)`` each as decode takes them; optional ``f``, ``c``, two values
    each: ``(2,)``, ``(2, 1)`` or ``(1, 2)``) and
    ``factor``:

    * ``keypoint_labels``: ``kp[..., :2] / w * 2 - (1, h / w)`` (other
      channels untouched), the visibility appended with ``concat_vis``;
    * ``lifting_target_label``: with ``f`` and ``c`` the target is projected
      to the image (:func:`jaxcodecs.ops.camera_to_image_with_depth`, which also gives the
      default ``factor``; otherwise 4 per frame); in ``mode="train"`` it is
      normalised like the keypoints with ``w, h`` in metres
      (``/ 1000``); then made relative to joint ``root_index``; in
      ``mode="test"`` multiplied by ``factor`` (the argument unless it is
      None or starts with 0);
    * ``factor (T, 1)``, ``lifting_target_weight``, ``lifting_target`` (the
      label), ``lifting_target_visible``, ``keypoint_labels_visible``.

    Decode ``encoded (N, K, C)`` (C >= 2 with ``w``, ``h``), optional ``w``,
    ``h`` and ``factor`` (``(N,)`` or ``(N, 1)`` each): with ``rootrel`` the root joint is zeroed
    (MMPose zeroes joint 0 whatever ``root_index``; reproduced with
    ``mmpose_compat=True``, ``root_index`` with ``False``); back to pixels
    with ``w, h``; times ``factor``; relative to ``root_index``; ``/ 1000``.
    A 1-D ``factor`` of N > 1 rows works (MMPose broadcasts it against the
    joints and fails). Scores are ones.
    """

    num_keypoints: int = codec_field(positive_int, static=True)
    root_index: int = codec_field(root_joint, static=True, default=0)
    remove_root: bool = codec_field(flag, static=True, default=False)
    save_index: bool = codec_field(flag, static=True, default=False)
    concat_vis: bool = codec_field(flag, static=True, default=False)
    rootrel: bool = codec_field(flag, static=True, default=False)
    mode: str = codec_field(one_of(*_MOTIONBERT_MODES, any_case=True), static=True, default="test")

    instance_mapping_table = _INSTANCE_TABLE
    label_mapping_table = types.MappingProxyType(
        {
            "lifting_target_label": "lifting_target_label",
            "lifting_target_weight": "lifting_target_weight",
        }
    )
    auxiliary_encode_keys = frozenset({"lifting_target", "lifting_target_visible", "camera_param", "factor"})
    # Camera values are read on the host when concrete (the NaN rule's check, float64).
    eager_host_arguments = frozenset({"camera_param", "factor", "w", "h"})
    decode_input_keys = ("lifting_target_label",)


    def encode(
        self, keypoints, keypoints_visible=None, lifting_target=None, lifting_target_visible=None,
        camera_param=None, factor=None,
    ):
        """Encodes one clip; see the class docstring for the outputs."""
        name = type(self).__name__
        kp, vis, target, target_vis, valid = lifting_inputs(
            name, self.num_keypoints, keypoints, keypoints_visible, lifting_target, lifting_target_visible,
            root_index=(self.root_index,), keypoint_dims=(2, 3), target_dims=(3,), same_frames=True,
        )
        camera, camera_ok = lifting_camera(name, camera_param, frames=target.shape[0])
        if target_vis is None:
            target_vis = jnp.ones(target.shape[:2], jnp.float32)
        weight = zero_unless((target_vis > 0.5).astype(jnp.float32) * valid, camera_ok)
        labels = ops.normalize_image_frame(kp, camera["w"], camera["h"])
        frames = target.shape[0]
        default_factor = ops.constant_like(4.0, target[:, 0, 0], dtype=jnp.promote_types(target.dtype, "float32"))
        label = target
        if "f" in camera and "c" in camera:
            camera_pair_input(name, camera, "f")
            camera_pair_input(name, camera, "c")
            label, default_factor = ops.camera_to_image_with_depth(target, self.root_index, camera["f"], camera["c"])
        if self.mode == "train":
            width = jnp.asarray(camera["w"], label.dtype) / 1000.0
            height = jnp.asarray(camera["h"], label.dtype) / 1000.0
            label = ops.normalize_image_frame_with_depth(label, width, height)
        label, _ = ops.root_relative(label, (self.root_index,))
        used = default_factor.reshape(frames, 1)
        if factor is not None:
            given = column_input(factor, "factor", frames, "T")
            used = jnp.where(given[0, 0] == 0, used, given.astype(used.dtype))
        if self.mode == "test":
            label = label * used[..., None].astype(label.dtype)
        if self.concat_vis:
            labels = ops.append_visibility(labels, vis)
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
        keypoints = coordinates_input(encoded, "(N, K, C)", self.num_keypoints)
        rows = keypoints.shape[0]
        scores = _ones_scores(keypoints)
        if self.rootrel:
            joint = 0 if self.mmpose_compat else self.root_index
            keypoints = keypoints.at[..., joint, :].set(0)
        size = frame_size_input(w, h, keypoints)
        if size is not None:
            width, height = size
            keypoints = ops.denormalize_image_frame_with_depth(keypoints, width, height)
        if factor is not None and np.size(factor) > 0:
            keypoints = keypoints * column_input(factor, "factor", rows)[..., None].astype(keypoints.dtype)
        keypoints, _ = ops.root_relative(keypoints, (self.root_index,))
        return keypoints / 1000.0, scores
