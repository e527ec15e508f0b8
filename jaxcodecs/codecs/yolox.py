"""YOLOXPoseAnnotationProcessor: the annotation step of YOLOX-Pose
(Maji et al., "YOLO-Pose: Enhancing YOLO for Multi Person Pose Estimation
Using Object Keypoint Similarity Loss", CVPRW 2022, on the YOLOX detector,
Ge et al. 2021).

It has no target to draw and nothing to decode: encode expands each
instance's box to its keypoints and turns class ids into 0-based labels;
decode returns None, as MMPose's annotation processors do.
"""

from __future__ import annotations

import types
from typing import Any

import jax.numpy as jnp
from jaxcodecs import ops
from jaxcodecs.base import Codec, FieldAt, codec_field
from jaxcodecs.codecs._fields import flag, size_pair
from jaxcodecs.codecs._inputs_onestage import (
    boxes_input,
    category_ids_input,
    points_input,
    visibility_flags_input,
)
from jaxcodecs.registry import register

__all__ = ["YOLOXPoseAnnotationProcessor"]

#: MMPose's stand-in position of a keypoint that does not count: +1e6 for
#: the box's near corner, -1e6 for its far corner.
SENTINEL = 1e6


def _optional_size(value: Any, at: FieldAt) -> tuple[int, int] | None:
    return None if value is None else size_pair(value, at)


@register
class YOLOXPoseAnnotationProcessor(Codec):
    """Box expansion and class labels for YOLOX-Pose training (Maji et al.,
    CVPRW 2022).

    Encode (one image, ``N`` instances), each key only where it applies
    (possibly an empty dict):

    * ``bbox (N, 4)``, with ``expand_bbox`` and a ``bbox`` given: each box
      ``(x1, y1, x2, y2)`` grown to contain its instance's counted
      keypoints: ``(x1, y1) = min((x1, y1), min_k kp)``, ``(x2, y2) =
      max((x2, y2), max_k kp)``. A keypoint counts unless its visibility is
      exactly 0 (visibility ``(N, K)``, or ``(N, K, X)`` of which ``[...,
      0]`` is read; None: every keypoint counts) or a coordinate is NaN or
      ±Inf. The box keeps its dtype; the caller's array is never modified.
    * ``bbox_labels (N,)`` int32 = ``category_id - 1``, with a
      ``category_id`` given.

    Decode returns None (``decode(*args, **kwargs)``, like MMPose's; so
    does ``batch_decode``).

    Args:
      expand_bbox: expand the boxes to the keypoints.
      input_size: accepted and not used, as in MMPose (``None`` or a pair
        of positive ints).
      mmpose_compat: keyword-only. ``True`` reproduces MMPose 1.3.2: a
        keypoint that does not count stands at ``+1e6`` / ``-1e6``, so the
        box of an instance with such a keypoint is capped there (a corner
        beyond ±1e6 moves to ±1e6); a float result goes into an integer box
        truncated toward zero; ``category_id`` is cast to int8 before the
        subtraction (ids above 127 wrap, as NumPy's cast does). ``False``:
        uncounted keypoints take no part (an instance without counted
        keypoints keeps its box), an integer box is rounded outward (floor
        / ceil) so that it contains every counted keypoint, and labels are
        ``category_id - 1`` in int32.
    """

    expand_bbox: bool = codec_field(flag, static=True, default=False)
    input_size: tuple[int, int] | None = codec_field(_optional_size, static=True, default=None)

    auxiliary_encode_keys = frozenset({"category_id", "bbox"})
    # MMPose packs these from the sample's annotations as well as from the
    # encoded keys; its boxes go to both the labels and the instances.
    label_mapping_table = types.MappingProxyType({
        "bbox": "bboxes",
        "bbox_labels": "labels",
        "keypoints": "keypoints",
        "keypoints_visible": "keypoints_visible",
        "area": "areas",
    })
    instance_mapping_table = types.MappingProxyType({
        "bbox": "bboxes",
        "bbox_score": "bbox_scores",
        "keypoints": "keypoints",
        "keypoints_visible": "keypoints_visible",
    })
    decode_input_keys = ()
    decode_outputs = ()  # decode returns None

    def encode(self, keypoints=None, keypoints_visible=None, bbox=None, category_id=None) -> dict[str, jnp.ndarray]:
        """Expands ``bbox (N, 4)`` to ``keypoints (N, K, 2)`` (with
        ``expand_bbox``) and makes ``bbox_labels (N,)`` of ``category_id
        (N,)``; see the class docstring."""
        results: dict[str, jnp.ndarray] = {}
        instances = None
        if self.expand_bbox and bbox is not None:
            if keypoints is None:
                raise ValueError(
                    "YOLOXPoseAnnotationProcessor: `keypoints` (N, K, 2) is required to expand `bbox` "
                    "(expand_bbox=True), got None."
                )
            kp = points_input(keypoints)
            instances = kp.shape[0]
            boxes = boxes_input(bbox, "bbox", instances)
            if keypoints_visible is None:  # SPEC §4 row 21: MMPose crashes; every keypoint counts
                counted = ops.constant_like(True, kp[..., 0])
            else:
                vis = visibility_flags_input(keypoints_visible, tuple(kp.shape[:2]), extra_axis=True)
                counted = (vis != 0) & jnp.isfinite(vis)
            counted = counted & jnp.all(jnp.isfinite(kp), axis=-1)
            results["bbox"] = ops.expand_boxes_to_points(
                boxes, kp, counted, sentinel=SENTINEL if self.mmpose_compat else None,
                round_outward=not self.mmpose_compat)
        if category_id is not None:
            ids = category_ids_input(category_id, instances, "bbox")
            if self.mmpose_compat:
                ids = ids.astype(jnp.int8) - jnp.asarray(1, jnp.int8)
                results["bbox_labels"] = ids.astype(jnp.int32)
            else:
                results["bbox_labels"] = ids - 1
        return results

    def decode(self, *args, **kwargs) -> None:
        """Nothing to decode: returns None, whatever the arguments (MMPose's
        annotation processors)."""
        del args, kwargs
        return None

    def batch_decode(self, *args, **kwargs) -> None:
        """Returns None, like :meth:`decode`."""
        del args, kwargs
        return None
