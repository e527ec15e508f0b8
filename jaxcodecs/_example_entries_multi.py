"""The example entries of the multi-person codecs; :mod:`jaxcodecs.examples`
registers them."""

from __future__ import annotations

import jax
import numpy as np

from jaxcodecs._examples_core import CodecExamples, EncodeInputs, from_encoded

__all__ = ["ENTRIES", "crowd_inputs", "edpose_inputs", "painted_tags", "yolox_inputs"]

#: Tag of person ``n`` in :func:`painted_tags`: people 2 tag units apart,
#: twice the default ``decode_tag_thr``.
TAG_STEP = 2.0


def crowd_inputs(codec, keypoints, visible, rng) -> EncodeInputs:
    """Two people per sample: the pose, and the pose shrunk to a third and
    moved to a corner of the input (its keypoints well apart from the
    pose's). The truth is the first person; ``keypoints (B, 2, K, 2)``."""
    del rng
    size = np.asarray(codec.input_size, np.float32)
    small = keypoints / 3.0 + size * np.float32(0.02)
    people = np.stack([keypoints, small], axis=1).astype(np.float32)
    return EncodeInputs((people, np.stack([visible, visible], axis=1)), {}, keypoints, visible)


def painted_tags(codec, people: np.ndarray, visible: np.ndarray, dim: int = 1) -> np.ndarray:
    """Tag maps ``(B, dim * K, H, W)`` a well-trained model would predict:
    person ``n``'s tag ``TAG_STEP * n`` in a 3 x 3 patch at each of its
    visible keypoints' heatmap pixels, 0 elsewhere."""
    batch, num_people, joints, _ = people.shape
    width, height = codec.heatmap_size
    tags = np.zeros((batch, dim, joints, height, width), np.float32)
    pixels = np.trunc(people / np.asarray(codec.scale_factor) + 0.5).astype(int)
    for b in range(batch):
        for n in range(num_people):
            for k in range(joints):
                x, y = pixels[b, n, k]
                if visible[b, n, k] > 0 and 0 <= x < width and 0 <= y < height:
                    tags[b, :, k, max(y - 1, 0):y + 2, max(x - 1, 0):x + 2] = TAG_STEP * n
    return tags.reshape(batch, dim * joints, height, width)


def _tagged_decode_inputs(codec, inputs: EncodeInputs, rng):
    """The codec's own heatmaps and :func:`painted_tags` of the people."""
    del rng
    people, visible = inputs.args
    heatmaps = jax.jit(codec.batch_encode)(people, visible)["heatmaps"]
    return (heatmaps, painted_tags(codec, people, visible)), {}

def _instance_decode_inputs(codec, inputs: EncodeInputs, rng):
    """The codec's own instance heatmaps as a model's ``(B, M, K, H, W)``
    blocks, instance scores of one and the rows ``instance_valid`` marks."""
    del rng
    encoded = jax.jit(codec.batch_encode)(*inputs.args, **inputs.kwargs)
    valid = encoded["instance_valid"]
    batch, rows = valid.shape
    width, height = codec.heatmap_size
    maps = encoded["instance_heatmaps"].reshape(batch, rows, -1, height, width)
    scores = np.ones((batch, rows, 1), np.float32)
    return (maps, scores), {"instance_valid": valid}


# ------------------------------------------------------ one-stage codecs
#: ``(w, h)`` of the image the poses lie in for the codecs without an
#: ``input_size`` (``jaxcodecs.examples.DEFAULT_INPUT_SIZE``, where the
#: example poses are placed).
IMAGE_SIZE = (192, 256)
#: Queries of the synthesised ED-Pose predictions: the two people, then decoys.
EDPOSE_QUERIES = 4
EDPOSE_CLASSES = 2


def _people_and_boxes(keypoints, visible):
    """Two people per sample (the pose, and the pose shrunk to a third in a
    corner of the image), their visibility and the boxes around their
    keypoints ``(B, 2, 4)`` (corners)."""
    size = np.asarray(IMAGE_SIZE, np.float32)
    people = np.stack([keypoints, keypoints / 3.0 + size * np.float32(0.02)], axis=1).astype(np.float32)
    boxes = np.concatenate([people.min(axis=2), people.max(axis=2)], axis=-1)
    return people, np.stack([visible, visible], axis=1), boxes


def edpose_inputs(codec, keypoints, visible, rng) -> EncodeInputs:
    """``img_shape (B, 2) = (w, h)``, two people per sample, their areas
    (box areas) and boxes; the truth is the first person."""
    del codec, rng
    people, vis, boxes = _people_and_boxes(keypoints, visible)
    img_shape = np.broadcast_to(np.asarray(IMAGE_SIZE, np.int32), (len(keypoints), 2)).copy()
    area = ((boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])).astype(np.float32)
    return EncodeInputs((img_shape, people, vis, area, boxes), {}, keypoints, visible)


def _edpose_predictions(codec, inputs: EncodeInputs, rng):
    """A detector's output a well-trained ED-Pose would give: queries 0 and 1
    are the two people (their encoded boxes and keypoints, visibility
    appended), the others random decoys; the first person's class-0 logit
    is the highest. ``input_shapes (B, 2) = (h, w)``."""
    img_shape, people, vis = inputs.args[:3]
    encoded = jax.jit(codec.batch_encode)(*inputs.args)
    batch, joints = len(people), people.shape[2]
    decoys = EDPOSE_QUERIES - 2
    boxes = np.concatenate([np.asarray(encoded["bbox"]),
                            rng.uniform(0.2, 0.6, (batch, decoys, 4)).astype(np.float32)], axis=1)
    points = np.concatenate([np.asarray(encoded["keypoints"]).reshape(batch, 2, 2 * joints), vis], axis=-1)
    points = np.concatenate([points, rng.uniform(0, 1, (batch, decoys, 3 * joints)).astype(np.float32)], axis=1)
    logits = rng.uniform(-2.0, 2.0, (batch, EDPOSE_QUERIES, EDPOSE_CLASSES)).astype(np.float32)
    logits[:, 0, 0] = 3.0
    input_shapes = np.asarray(img_shape)[:, ::-1].copy()
    return (input_shapes, logits, boxes.astype(np.float32), points.astype(np.float32)), {}


def yolox_inputs(codec, keypoints, visible, rng) -> EncodeInputs:
    """Two people per sample with boxes around the middle of their keypoints
    (half the keypoints' extent, so that expansion moves them) and COCO
    class ids (1 to 80) drawn with ``rng``; the truth is the first person."""
    del codec
    people, vis, boxes = _people_and_boxes(keypoints, visible)
    centre, half = (boxes[..., :2] + boxes[..., 2:]) / 2, (boxes[..., 2:] - boxes[..., :2]) / 4
    boxes = np.concatenate([centre - half, centre + half], axis=-1).astype(np.float32)
    category_id = rng.integers(1, 81, people.shape[:2]).astype(np.int32)
    return EncodeInputs((people, vis, boxes, category_id), {}, keypoints, visible)


def _yolox_decode_inputs(codec, inputs: EncodeInputs, rng):
    """decode reads nothing (it returns None); the annotated boxes stand in
    for a model's output."""
    del codec, rng
    return (inputs.args[2],), {}


ENTRIES: dict[str, CodecExamples] = {
    # Two people per sample; decode reads heatmaps and tag maps (B, L * K,
    # H, W) and returns (keypoints (M, K, 2), keypoint_scores (M, K),
    # instance_scores (M,), valid (M,)).
    "AssociativeEmbedding": CodecExamples(
        configs=({"input_size": (256, 256), "heatmap_size": (64, 64), "sigma": 2.0,
                  "decode_max_instances": 10},
                 {"input_size": (256, 256), "heatmap_size": (64, 64), "sigma": 2.0, "use_udp": True,
                  "decode_max_instances": 10}),
        encode_inputs=crowd_inputs,
        decode_inputs=_tagged_decode_inputs,
    ),
    # One instance per sample (the default pose inputs); decode returns
    # (keypoints (M, K, 2), (root_scores (M,), keypoint_scores (M, K) | None), valid (M,)).
    "SPR": CodecExamples(
        configs=({"input_size": (256, 256), "heatmap_size": (64, 64)},
                 {"input_size": (256, 256), "heatmap_size": (64, 64), "sigma": (4.0, 2.0),
                  "generate_keypoint_heatmaps": True, "root_type": "bbox_center"}),
        decode_inputs=from_encoded("heatmaps", "displacements"),
    ),
    # Two people per sample (CID visits the smaller first); decode reads
    # instance heatmaps (B, M, K, H, W), scores (B, M, 1) and instance_valid
    # (B, M), and returns (keypoints (M, K, 2), scores (M, K), valid (M,)).
    "DecoupledHeatmap": CodecExamples(
        configs=({"input_size": (256, 256), "heatmap_size": (64, 64), "encode_max_instances": 4},
                 {"input_size": (256, 256), "heatmap_size": (64, 64), "encode_max_instances": 3,
                  "root_type": "bbox_center", "heatmap_min_overlap": 0.5}),
        encode_inputs=crowd_inputs,
        decode_inputs=_instance_decode_inputs,
    ),
    # Two people per sample; encode takes (img_shape (w, h), keypoints,
    # keypoints_visible, area, bboxes); decode reads synthesised detector
    # outputs (input_shapes (h, w), logits, boxes, keypoints) and returns
    # (boxes (S, 4), keypoints (S, K, 2), scores (S, K)), S = min(num_select, Q * C).
    "EDPoseLabel": CodecExamples(
        configs=({"num_keypoints": 17}, {"num_select": 3, "num_keypoints": 17}),
        encode_inputs=edpose_inputs,
        decode_inputs=_edpose_predictions,
    ),
    # Two people per sample with boxes and class ids; decode returns None.
    "YOLOXPoseAnnotationProcessor": CodecExamples(
        configs=({"expand_bbox": True}, {"input_size": (192, 256)}),
        encode_inputs=yolox_inputs,
        decode_inputs=_yolox_decode_inputs,
    ),
}
