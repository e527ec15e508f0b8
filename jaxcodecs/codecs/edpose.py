"""EDPoseLabel: normalised targets and top-k decoding for ED-Pose (Yang et
al., "Explicit Box Detection Unifies End-to-End Multi-Person Pose
Estimation", ICLR 2023), a DETR-style one-stage detector.

Encode divides keypoints, areas and boxes by the image size; decode picks
the ``num_select`` best (query, class) pairs of the detector's logits and
scales their boxes and keypoints back to pixels.

.. warning::
   **The image size comes in two orders**, as in MMPose: ``encode`` takes
   ``img_shape = (w, h)``, ``decode`` takes ``input_shapes = (h, w)``.
"""

from __future__ import annotations

import types

import jax.numpy as jnp
from jaxcodecs import ops
from jaxcodecs.base import Codec, codec_field
from jaxcodecs.codecs._fields import positive_int
from jaxcodecs.codecs._inputs import finite_points
from jaxcodecs.codecs._inputs_onestage import (
    boxes_input,
    per_instance_input,
    points_input,
    predictions_input,
    size_values_input,
    visibility_flags_input,
)
from jaxcodecs.registry import register

__all__ = ["EDPoseLabel"]


def _float_dtype(x: jnp.ndarray):
    """The output dtype of a float result made from ``x``: its own float
    dtype, at least float32 (integers give float32)."""
    return jnp.promote_types(x.dtype, jnp.float32) if jnp.issubdtype(x.dtype, jnp.floating) else jnp.float32


def _scale(values, dtype) -> jnp.ndarray:
    """``values`` (Python floats or traced scalars) as a ``(len,)`` array of ``dtype``."""
    return jnp.stack([jnp.asarray(v, dtype) for v in values])


@register
class EDPoseLabel(Codec):
    """Normalised keypoints, areas and boxes (encode) and the top-scored
    queries of a DETR-style detector (decode), for ED-Pose (Yang et al.,
    ICLR 2023).

    **Image sizes: encode takes ``img_shape = (w, h)``; decode takes
    ``input_shapes = (h, w)``** — the two orders of MMPose's signatures,
    kept so that code written for MMPose runs unchanged (SPEC §4 row 23).

    Encode (one image, ``N`` instances): ``keypoints / (w, h)``, ``area /
    (w * h)``, ``bboxes`` ``(x1, y1, x2, y2)`` to ``(cx, cy, bw, bh) / (w, h,
    w, h)``; ``keypoints_visible`` defaults to ones ``(N, K)``. An argument
    left out (``None``) gives ``None`` under its key, as in MMPose.

    Decode: the flattened ``pred_logits (Q, C)`` ranked in descending order
    (equal logits by index, NaN last); the top ``S = min(num_select, Q *
    C)`` give query ``q = index // C``, its box (``pred_boxes`` normalised
    ``(cx, cy, w, h)``, returned as ``(x1, y1, x2, y2)`` pixels) and its
    ``K = num_keypoints`` keypoints (``pred_keypoints[q, :2K]``, laid out
    ``[x0, y0, x1, y1, ...]``, times ``(w, h)``). A query appears once per
    selected class. Returns ``(boxes (S, 4), keypoints (S, K, 2), scores
    (S, K))``, the scores being the selected logits repeated per keypoint
    (no sigmoid, as MMPose).

    Args:
      num_select: the most (query, class) pairs decode returns.
      num_keypoints: ``K``, the keypoints per query in ``pred_keypoints``
        (encode takes any ``K``, as MMPose).
      mmpose_compat: keyword-only; no geometric quirk here: both modes agree.
    """

    num_select: int = codec_field(positive_int, static=True, default=100)
    num_keypoints: int = codec_field(positive_int, static=True, default=17)

    auxiliary_encode_keys = frozenset({"area", "bboxes", "img_shape"})
    # Image sizes given as arrays are checked (finite, > 0) on the host when concrete.
    eager_host_arguments = frozenset({"img_shape", "input_shapes"})
    instance_mapping_table = types.MappingProxyType({
        "bbox": "bboxes",
        "keypoints": "keypoints",
        "keypoints_visible": "keypoints_visible",
        "area": "areas",
    })
    # decode reads a detector's predictions, which encode does not make.
    decode_input_keys = ()
    decode_outputs = ("boxes", "keypoints", "scores")

    def encode(self, img_shape, keypoints, keypoints_visible=None, area=None, bboxes=None):
        """Normalises one image's annotations by its size ``img_shape = (w, h)``.

        Args:
          img_shape: ``(w, h)`` (two positive numbers; a tuple, list or
            ``(2,)`` array). Note: **(w, h)** here, **(h, w)** in
            :meth:`decode`.
          keypoints: ``(N, K, 2)`` in pixels, or None (then
            ``keypoints_visible`` is required and ``keypoints`` comes back None).
          keypoints_visible: ``(N, K)``; default ones.
          area: ``(N,)`` or None.
          bboxes: ``(N, 4)`` (or ``(4,)``) corners ``(x1, y1, x2, y2)`` in
            pixels, or None.

        Returns:
          ``{"keypoints": (N, K, 2), "area": (N,), "bbox": (N, 4),
          "keypoints_visible": (N, K)}``, None where the input was None.
          Float outputs keep a float input's dtype (at least float32);
          integer inputs give float32. A keypoint with a NaN or ±Inf
          coordinate (or visibility) comes back at the origin and invisible.
        """
        width, height = size_values_input(img_shape, "img_shape", "(w, h)", positive=True)
        if keypoints is None:
            if keypoints_visible is None:
                raise ValueError(
                    "EDPoseLabel.encode needs `keypoints` (N, K, 2) or at least `keypoints_visible` "
                    "(N, K), got None for both."
                )
            vis = visibility_flags_input(keypoints_visible, None)
            out_kp = None
        else:
            kp = points_input(keypoints)
            if keypoints_visible is None:
                vis = ops.constant_like(1.0, kp[..., 0], dtype=jnp.float32)
            else:
                vis = visibility_flags_input(keypoints_visible, tuple(kp.shape[:2]))
            dtype = _float_dtype(kp)
            kp, vis = finite_points(kp.astype(dtype), vis)
            out_kp = ops.divide_exact(kp, _scale((width, height), dtype))
        instances = vis.shape[0]
        out_area = out_bbox = None
        if area is not None:
            area = per_instance_input(area, "area", instances)
            dtype = _float_dtype(area)
            out_area = ops.divide_exact(area.astype(dtype), jnp.asarray(width * height, dtype))
        if bboxes is not None:
            bboxes = boxes_input(bboxes, "bboxes", instances, single=True)
            dtype = _float_dtype(bboxes)
            centre_size = ops.bbox_xyxy_to_cxcywh(bboxes.astype(dtype))
            out_bbox = ops.divide_exact(centre_size, _scale((width, height, width, height), dtype))
        return {"keypoints": out_kp, "area": out_area, "bbox": out_bbox, "keypoints_visible": vis}

    def decode(self, input_shapes, pred_logits, pred_boxes, pred_keypoints):
        """Selects the ``S = min(num_select, Q * C)`` top-scored (query,
        class) pairs and scales their boxes and keypoints to pixels.

        Args:
          input_shapes: ``(h, w)`` of the model input. Note: **(h, w)**
            here, **(w, h)** in :meth:`encode` (MMPose's signatures).
          pred_logits: ``(Q, C)`` class logits per query.
          pred_boxes: ``(Q, 4)`` normalised ``(cx, cy, w, h)``.
          pred_keypoints: ``(Q, M)``, ``M >= 2K``: ``[x0, y0, x1, y1, ...]``
            normalised; further values (the model's ``K`` visibilities) are
            ignored.

        Returns:
          ``(boxes (S, 4), keypoints (S, K, 2), scores (S, K))``: boxes
          ``(x1, y1, x2, y2)`` and keypoints in pixels (at least float32),
          scores in the logits' dtype, rows by descending logit (equal
          logits by flat index ``q * C + c``; NaN last).
        """
        height, width = size_values_input(input_shapes, "input_shapes", "(h, w)")
        logits, boxes, keypoints = predictions_input(pred_logits, pred_boxes, pred_keypoints, self.num_keypoints)
        joints = self.num_keypoints
        scores = logits.reshape(-1)
        selected = min(self.num_select, scores.shape[0])
        top, index = ops.rank_descending(scores, selected)
        query = index // max(logits.shape[1], 1)
        dtype = _float_dtype(boxes)
        corners = ops.bbox_cxcywh_to_xyxy(jnp.take(boxes, query, axis=0).astype(dtype))
        out_boxes = corners * _scale((width, height, width, height), dtype)
        dtype = _float_dtype(keypoints)
        points = jnp.take(keypoints[:, : 2 * joints], query, axis=0).astype(dtype)
        out_keypoints = points.reshape(selected, joints, 2) * _scale((width, height), dtype)
        out_scores = jnp.broadcast_to(top[:, None], (selected, joints))
        return out_boxes, out_keypoints, out_scores
