"""Hand3DHeatmap: volumetric hand-keypoint targets of InterNet (InterHand2.6M).

Coordinates: keypoints ``(x, y, z)``: ``(x, y)`` in pixels of the model input
(``image_size``, a pixel's centre at its integer coordinate), ``z`` the depth
relative to the hand root. Input to heatmap: ``x * W / w``, ``y * H / h``
(MSRA's ``input / heatmap`` scaling) and ``mu_z = (z / heatmap3d_depth_bound
+ 0.5) * D``; voxel ``(X, Y, Z)`` decodes to ``(X * w / W, Y * h / H,
(Z / D - 0.5) * heatmap3d_depth_bound)``. The root depth is a scalar target
``(rel_root_depth / root_depth_bound + 0.5) * heatmap_size_root``.
"""

from __future__ import annotations

import types
from typing import Any

import jax.numpy as jnp
import numpy as np
from jaxcodecs import ops
from jaxcodecs.base import Codec, codec_field
from jaxcodecs.codecs._fields import (
    flag,
    float_dtype,
    int_tuple,
    non_negative_float,
    positive_float,
    positive_int,
    size_pair,
    size_triple,
)
from jaxcodecs.codecs._inputs import (
    as_float_array,
    keypoint_weights_input,
    finite_value_and_weight,
    one_value,
    points_3d_input,
    volumes_input,
)
from jaxcodecs.registry import register

__all__ = ["Hand3DHeatmap"]


@register
class Hand3DHeatmap(Codec):
    """3-D heatmaps, root depth and hand type of InterNet (Moon et al., ECCV 2020).

    Encode one image's hand, ``keypoints (N, K, 3)`` (several instances are
    max-combined into the same volumes), into

    * ``heatmaps (K' * D, H, W)``: per selected keypoint a Gaussian of
      ``sigma`` voxels in a ``(D, H, W)`` volume scaled by ``max_bound``,
      flattened depth-major (:func:`jaxcodecs.ops.render_gaussian_heatmaps_3d`);
      ``K'`` is ``len(joint_indices)`` or K;
    * ``keypoint_weights (N, K')``: the visibility, 0 out of range, times
      ``dataset_keypoint_weights`` with ``use_different_joint_weights``;
    * ``root_depth (1,)``: ``(rel_root_depth / root_depth_bound + 0.5) *
      heatmap_size_root`` and ``root_depth_weight (1,)``: ``rel_root_valid``,
      0 unless ``0 <= root_depth <= heatmap_size_root`` (inclusive, as MMPose);
    * ``type``, ``type_weight``: ``hand_type`` and ``hand_type_valid`` passed
      through as float arrays (MMPose passes its integer arrays unchanged).

    Decode ``heatmaps`` (``(K, D, H, W)`` as MMPose takes them, or the
    encoded ``(K * D, H, W)``), ``root_depth`` and ``hand_type`` logits into
    ``keypoints (1, K, 3)``, ``scores (1, K)`` (the maxima), the relative
    root depth (shape of ``root_depth``) and ``hand_type`` ``(1, size)``
    int32, ``hand_type > 0``. A volume whose maximum is ``<= 0`` has location
    ``(-1, -1, -1)`` voxels, converted like any other.

    Parity (SPEC row 8):

    * ``mmpose_compat=True`` reproduces MMPose 1.3.2: every keypoint paints,
      invisible and out of range included (its tail clipped onto the border
      voxels), the window is sampled with half-even rounding, the weight
      checks only ``0 <= mu_z < D``; decode converts depth with
      ``depth_size`` and the root with ``root_heatmap_size``, while encode
      uses ``heatmap_size[2]`` and ``heatmap_size_root`` (a round trip is
      off unless they agree).
    * ``mmpose_compat=False`` paints only visible keypoints whose nearest
      voxel lies in the volume (``-0.5 <= mu < size - 0.5`` on x, y and z;
      the others get weight 0), on every voxel within 3σ of the centre (no
      half-even sampling, which for σ = 1.5 and an integer centre leaves the
      centre voxel empty in MMPose); decode uses the encode constants
      ``heatmap_size[2]`` and ``heatmap_size_root``, so a round trip recovers
      x, y within half a voxel (``0.5 * w / W`` input px) and z within half a
      depth bin (``0.5 * heatmap3d_depth_bound / D``).

    In both modes, where MMPose fails the evident answer is returned:
    ``joint_indices`` with ``use_different_joint_weights`` selects the
    dataset weights like the keypoints (MMPose cannot broadcast them), and
    σ = 0 paints a unit impulse at the keypoint's voxel (MMPose: 0/0).
    ``root_depth_weight``'s inclusive range is MMPose's in both modes.

    Args:
      image_size: ``(w, h)`` of the model input.
      root_heatmap_size: the root-depth resolution decode divides by (compat).
      heatmap_size: ``(W, H, D)`` of the volumes.
      heatmap3d_depth_bound: depth range of the D bins (leaf).
      heatmap_size_root: the root-depth resolution encode multiplies by.
      root_depth_bound: range of the root depth (leaf).
      depth_size: the number of depth bins decode divides by (compat).
      use_different_joint_weights: multiply the weights by
        ``dataset_keypoint_weights`` (then required).
      sigma: Gaussian standard deviation in voxels (leaf).
      joint_indices: optional keypoint indices to encode (static tuple).
      max_bound: the peak value of each Gaussian (leaf).
      mmpose_compat: keyword-only, see above.
      dtype: keyword-only dtype of the heatmaps.
    """

    image_size: tuple[int, int] = codec_field(size_pair, static=True, default=(256, 256))
    root_heatmap_size: int = codec_field(positive_int, static=True, default=64)
    heatmap_size: tuple[int, int, int] = codec_field(size_triple, static=True, default=(64, 64, 64))
    heatmap3d_depth_bound: Any = codec_field(positive_float, default=400.0)
    heatmap_size_root: int = codec_field(positive_int, static=True, default=64)
    root_depth_bound: Any = codec_field(positive_float, default=400.0)
    depth_size: int = codec_field(positive_int, static=True, default=64)
    use_different_joint_weights: bool = codec_field(flag, static=True, default=False)
    sigma: Any = codec_field(non_negative_float, default=2.0)
    joint_indices: tuple[int, ...] | None = codec_field(int_tuple, static=True, default=None)
    max_bound: Any = codec_field(non_negative_float, default=1.0)
    dtype: Any = codec_field(float_dtype, static=True, default="float32", kw_only=True)

    auxiliary_encode_keys = frozenset({
        "dataset_keypoint_weights", "rel_root_depth", "rel_root_valid",
        "hand_type", "hand_type_valid", "focal", "principal_pt",
    })
    label_mapping_table = types.MappingProxyType({
        "keypoint_weights": "keypoint_weights",
        "root_depth_weight": "root_depth_weight",
        "type_weight": "type_weight",
        "root_depth": "root_depth",
        "type": "type",
    })
    # MMPose declares no field table here; its PackPoseInputs then falls back
    # to its default, which packs ``heatmaps`` as ``heatmaps``. MMPose's
    # instance table names annotation keys (keypoints, keypoints_cam), not
    # encoded ones, so it has no counterpart here.
    field_mapping_table = types.MappingProxyType({"heatmaps": "heatmaps"})
    decode_input_keys = ("heatmaps", "root_depth", "type")

    # --------------------------------------------------------------- helpers
    @property
    def scale_factor(self) -> np.ndarray:
        """``image_size / heatmap_size[:2]`` per axis, float32 ``(2,)``."""
        return ops.input_to_map_scale(self.image_size, self.heatmap_size[:2])

    @property
    def input_size(self) -> tuple[int, int]:
        """``image_size``, under the name the other codecs (and the demo) use."""
        return self.image_size

    # ------------------------------------------------------------------ API
    def encode(
        self,
        keypoints,
        keypoints_visible=None,
        dataset_keypoint_weights=None,
        rel_root_depth=None,
        rel_root_valid=None,
        hand_type=None,
        hand_type_valid=None,
        focal=None,
        principal_pt=None,
    ) -> dict[str, jnp.ndarray]:
        """Encodes one image's hand keypoints (see the class docs).

        Args:
          keypoints: ``(N, K, 3)``; ``(N, K, 2)`` is read as zero relative
            depth.
          keypoints_visible: ``(N, K)``; ``None`` means all visible.
          dataset_keypoint_weights: ``(K,)``; used (and required) only with
            ``use_different_joint_weights``.
          rel_root_depth: scalar (or one-element) root depth relative to the
            other hand; ``None`` encodes 0 with weight 0.
          rel_root_valid: scalar validity of the root depth; ``None`` means 1.
          hand_type: e.g. ``(1, 2)`` one-hot (right, left); ``None`` gives
            zeros ``(1, 2)`` with weight 0.
          hand_type_valid: e.g. ``(1,)``; ``None`` means ones of ``(1,)``
            (zeros when ``hand_type`` is missing).
          focal, principal_pt: camera parameters; unused, as in MMPose.

        Returns:
          ``heatmaps``, ``keypoint_weights``, ``root_depth``, ``type``,
          ``type_weight``, ``root_depth_weight``.
        """
        del focal, principal_pt
        kp, vis, present = points_3d_input(keypoints, keypoints_visible)
        joint_weights = None
        if self.use_different_joint_weights:
            joint_weights = keypoint_weights_input(
                dataset_keypoint_weights, "dataset_keypoint_weights", kp.shape[1],
                required_by="use_different_joint_weights=True")
        heatmaps, weights = ops.render_gaussian_heatmaps_3d(
            kp, vis, self.heatmap_size, self.image_size, self.sigma,
            depth_bound=self.heatmap3d_depth_bound, joint_indices=self.joint_indices,
            max_bound=self.max_bound, dataset_keypoint_weights=joint_weights,
            mmpose_compat=self.mmpose_compat, dtype=self.dtype, present=present,
        )

        if rel_root_depth is None:
            rel_root = jnp.zeros((1,), kp.dtype)
            root_valid = jnp.zeros((1,), kp.dtype)
        else:
            rel_root = one_value(rel_root_depth, "rel_root_depth")
            root_valid = (jnp.ones((1,), rel_root.dtype) if rel_root_valid is None
                          else one_value(rel_root_valid, "rel_root_valid"))
            rel_root, root_valid = finite_value_and_weight(rel_root, root_valid)
        root_depth = ops.depth_to_bins(rel_root, self.root_depth_bound, self.heatmap_size_root)
        in_range = (root_depth >= 0) & (root_depth <= self.heatmap_size_root)
        root_depth_weight = root_valid * in_range.astype(root_valid.dtype)

        if hand_type is None:
            hand = jnp.zeros((1, 2), jnp.float32)
            hand_valid = jnp.zeros((1,), jnp.float32)
        else:
            hand = as_float_array(hand_type, "hand_type")
            hand_valid = (jnp.ones((1,), hand.dtype) if hand_type_valid is None
                          else as_float_array(hand_type_valid, "hand_type_valid"))
        return {
            "heatmaps": heatmaps,
            "keypoint_weights": weights,
            "root_depth": root_depth,
            "type": hand,
            "type_weight": hand_valid,
            "root_depth_weight": root_depth_weight,
        }

    decode_outputs = ("keypoints", "scores", "rel_root_depth", "hand_type")

    def decode(self, heatmaps, root_depth, hand_type) -> tuple[jnp.ndarray, ...]:
        """Decodes volumes, root depth and hand-type logits (see the class docs).

        Args:
          heatmaps: ``(K, D, H, W)`` or the encoded layout ``(K * D, H, W)``.
            ``D`` is ``heatmap_size[2]`` (with ``mmpose_compat`` also
            ``depth_size`` for the 4-D layout).
          root_depth: the predicted root depth, any shape (usually ``(1,)``).
          hand_type: hand-type logits, any shape (usually ``(1, 2)``).

        Returns:
          ``keypoints (1, K, 3)`` in input pixels and depth units,
          ``scores (1, K)``, ``rel_root_depth`` (shape of ``root_depth``) and
          ``hand_type (1, size)`` int32.
        """
        depths = (self.heatmap_size[2], self.depth_size) if self.mmpose_compat else (self.heatmap_size[2],)
        volumes = volumes_input(heatmaps, self.heatmap_size, depths)
        locations, scores = ops.heatmap_argmax_3d(volumes)
        if self.mmpose_compat:
            depth, root_size = self.depth_size, self.root_heatmap_size
        else:
            depth, root_size = self.heatmap_size[2], self.heatmap_size_root
        z = ops.bins_to_depth(locations[..., 2], self.heatmap3d_depth_bound, depth)
        xy = locations[..., :2] * self.scale_factor
        keypoints = jnp.concatenate([xy, z[..., None]], axis=-1)[None]

        root = as_float_array(root_depth, "root_depth")
        rel_root_depth = ops.bins_to_depth(root, self.root_depth_bound, root_size)
        hand = jnp.asarray(hand_type)
        hand_type_out = (hand > 0).reshape(1, -1).astype(jnp.int32)
        return keypoints, scores[None], rel_root_depth, hand_type_out

    def round_trip(self, keypoints, keypoints_visible=None, *args, **kwargs) -> tuple[jnp.ndarray, ...]:
        """``decode`` of what ``encode`` makes of ``keypoints`` (and the
        other encode arguments, passed on unchanged)."""
        encoded = self.encode(keypoints, keypoints_visible, *args, **kwargs)
        return self.decode(*[encoded[key] for key in self.decode_input_keys])
