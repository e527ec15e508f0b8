"""The example entries of the multi-person codecs; :mod:`jaxcodecs.examples`
registers them."""

from __future__ import annotations

import jax
import numpy as np

from jaxcodecs._examples_core import CodecExamples, EncodeInputs, from_encoded

__all__ = ["ENTRIES", "crowd_inputs", "painted_tags"]

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
}
