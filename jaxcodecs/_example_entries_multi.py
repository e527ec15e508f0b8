"""The example entries of the multi-person codecs; :mod:`jaxcodecs.examples`
registers them."""

from __future__ import annotations

from jaxcodecs._examples_core import CodecExamples, from_encoded

__all__ = ["ENTRIES"]

ENTRIES: dict[str, CodecExamples] = {
    # One instance per sample (the default pose inputs); decode returns
    # (keypoints (M, K, 2), (root_scores (M,), keypoint_scores (M, K) | None), valid (M,)).
    "SPR": CodecExamples(
        configs=({"input_size": (256, 256), "heatmap_size": (64, 64)},
                 {"input_size": (256, 256), "heatmap_size": (64, 64), "sigma": (4.0, 2.0),
                  "generate_keypoint_heatmaps": True, "root_type": "bbox_center"}),
        decode_inputs=from_encoded("heatmaps", "displacements"),
    ),
}
