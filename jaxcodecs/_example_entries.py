"""The example entries of the single-instance codecs (top-down heatmaps,
regression, SimCC, lifting, Hand3D); :mod:`jaxcodecs.examples` registers them."""

from __future__ import annotations

import jax
import numpy as np

from jaxcodecs._examples_core import CodecExamples, EncodeInputs, from_encoded

__all__ = ["ENTRIES"]

def _lifting_target(keypoints: np.ndarray) -> np.ndarray:
    """A 3-D pose per 2-D pose, ``(B, 1, K, 3)``: metres in the camera frame,
    about 4 m away, each joint at its own depth."""
    batch, joints, _ = keypoints.shape
    depth = 4.0 + 0.2 * np.sin(np.arange(joints, dtype=np.float64))
    depth = np.broadcast_to(depth[None, :, None], (batch, joints, 1))
    return np.concatenate([keypoints / 1000.0, depth], axis=-1).astype(np.float32)[:, None]


def _image_lifting_inputs(codec, keypoints, visible, rng) -> EncodeInputs:
    """The poses (one frame each) with a 3-D target each."""
    del codec, rng
    target = _lifting_target(keypoints)
    args = (keypoints[:, None], visible[:, None], target, visible[:, None])
    return EncodeInputs(args, {}, target[:, 0], visible)


def _camera(batch: int, intrinsics: bool) -> dict[str, np.ndarray]:
    camera = {"w": np.full(batch, 1000.0, np.float32), "h": np.full(batch, 1000.0, np.float32)}
    if intrinsics:
        camera["f"] = np.full((batch, 2, 1), 1150.0, np.float32)
        camera["c"] = np.full((batch, 2, 1), 500.0, np.float32)
    return camera


def _video_lifting_inputs(codec, keypoints, visible, rng) -> EncodeInputs:
    """The poses (one frame each), a 3-D target each and a camera."""
    del codec, rng
    target = _lifting_target(keypoints)
    args = (keypoints[:, None], visible[:, None], target, visible[:, None], _camera(len(keypoints), True))
    return EncodeInputs(args, {}, target[:, 0], visible)


def _video_lifting_decode(codec, inputs, rng):
    """The label, and the root where the codec makes one (``zero_center``)."""
    keys = ("lifting_target_label", "target_root") if codec.zero_center else ("lifting_target_label",)
    return from_encoded(*keys)(codec, inputs, rng)


def _motionbert_inputs(codec, keypoints, visible, rng) -> EncodeInputs:
    """The poses with a 3-D target each and a camera; the truth is the
    (root-relative) label / 1000, what decoding the label alone returns."""
    del rng
    target = _lifting_target(keypoints)
    args = (keypoints[:, None], visible[:, None], target, visible[:, None], _camera(len(keypoints), False))
    label = np.asarray(jax.vmap(lambda *a: codec.encode(*a)["lifting_target_label"])(*args))
    return EncodeInputs(args, {}, label[:, 0] / 1000.0, visible)


def _hand3d_inputs(codec, keypoints, visible, rng) -> EncodeInputs:
    """The poses given a depth each (within 60% of the depth bound), a root
    depth and a hand type drawn from ``rng``; the truth is the 3-D pose."""
    batch, joints, _ = keypoints.shape
    bound = float(np.asarray(codec.heatmap3d_depth_bound))
    depth = 0.3 * bound * np.sin(np.arange(joints, dtype=np.float64) + np.arange(batch)[:, None])
    kp3 = np.concatenate([keypoints, depth[..., None]], axis=-1).astype(np.float32)
    root_bound = float(np.asarray(codec.root_depth_bound))
    hand_type = np.eye(2, dtype=np.float32)[rng.integers(0, 2, batch)][:, None]
    args = (
        kp3[:, None], visible[:, None], np.ones((batch, joints), np.float32),
        rng.uniform(-0.4, 0.4, batch).astype(np.float32) * root_bound, np.ones(batch, np.float32),
        hand_type, np.ones((batch, 1), np.float32),
        np.full((batch, 2), 1000.0, np.float32), np.full((batch, 2), 32.0, np.float32),
    )
    return EncodeInputs(args, {}, kp3, visible)


_HEATMAP_SIZES = {"input_size": (192, 256), "heatmap_size": (48, 64)}
_HAND3D_SIZES = {"image_size": (64, 64), "heatmap_size": (16, 16, 16), "depth_size": 16,
                 "root_heatmap_size": 16, "heatmap_size_root": 16}

ENTRIES = {
    "MSRAHeatmap": CodecExamples(
        configs=({**_HEATMAP_SIZES, "sigma": 2.0}, {**_HEATMAP_SIZES, "sigma": 2.0, "unbiased": True}),
        decode_inputs=from_encoded("heatmaps"),
    ),
    "UDPHeatmap": CodecExamples(
        configs=({**_HEATMAP_SIZES, "heatmap_type": "gaussian"}, {**_HEATMAP_SIZES, "heatmap_type": "combined"}),
        decode_inputs=from_encoded("heatmaps"),
    ),
    "MegviiHeatmap": CodecExamples(
        configs=({**_HEATMAP_SIZES, "kernel_size": 11},),
        decode_inputs=from_encoded("heatmaps"),
    ),
    "RegressionLabel": CodecExamples(
        configs=({"input_size": (192, 256)},),
        decode_inputs=from_encoded("keypoint_labels"),
    ),
    "IntegralRegressionLabel": CodecExamples(
        configs=({**_HEATMAP_SIZES, "sigma": 2.0},),
        decode_inputs=from_encoded("keypoint_labels"),
    ),
    "SimCCLabel": CodecExamples(
        configs=({"input_size": (192, 256), "sigma": (4.9, 5.66), "simcc_split_ratio": 2.0},
                 {"input_size": (192, 256), "sigma": (4.9, 5.66), "simcc_split_ratio": 2.0, "use_dark": True}),
        decode_inputs=from_encoded("keypoint_x_labels", "keypoint_y_labels"),
    ),
    "ImagePoseLifting": CodecExamples(
        configs=({"num_keypoints": 17},
                 {"num_keypoints": 17, "root_index": 0, "remove_root": True, "reshape_keypoints": False}),
        encode_inputs=_image_lifting_inputs,
        decode_inputs=from_encoded("lifting_target_label", "target_root"),
    ),
    "VideoPoseLifting": CodecExamples(
        configs=({"num_keypoints": 17},
                 {"num_keypoints": 17, "remove_root": True, "reshape_keypoints": False, "normalize_camera": True}),
        encode_inputs=_video_lifting_inputs,
        decode_inputs=_video_lifting_decode,
    ),
    "MotionBERTLabel": CodecExamples(
        configs=({"num_keypoints": 17}, {"num_keypoints": 17, "mode": "train", "rootrel": True}),
        encode_inputs=_motionbert_inputs,
        decode_inputs=from_encoded("lifting_target_label"),
    ),
    "Hand3DHeatmap": CodecExamples(
        configs=({**_HAND3D_SIZES, "sigma": 2.0}, {**_HAND3D_SIZES, "sigma": 2.5, "max_bound": 255.0}),
        encode_inputs=_hand3d_inputs,
        decode_inputs=from_encoded("heatmaps", "root_depth", "type"),
    ),
}
