"""Steps shared by the lifting codecs (ImagePoseLifting, VideoPoseLifting,
MotionBERTLabel): MMPose's mapping tables, target weights, label outputs and
root handling, composed of ops. Their fields are converted in ``_fields.py``
and their arguments checked in ``_inputs_lifting.py``. Not public.
"""

from __future__ import annotations

import types
from typing import Any

import jax.numpy as jnp

from jaxcodecs import ops
from jaxcodecs.codecs._inputs import coordinates_input
from jaxcodecs.codecs._inputs_lifting import root_input

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


def _target_weights(target, target_vis, target_valid, mmpose_compat):
    """``lifting_target_weight (T, K)`` and ``trajectory_weights``.

    Without a target visibility MMPose sets the trajectory weights to
    ``1 / lifting_target[:, 2]`` — the reciprocal of joint 2's coordinates,
    ``(T, C)`` (SPEC row 20); reproduced in compat mode (0 where the
    coordinate is 0, never Inf; ones ``(T, K)`` when there is no joint 2),
    ones ``(T, K)`` in exact mode. Joints that are not ``target_valid``
    (non-finite, or in a frame whose root is not finite) weigh 0.
    """
    valid = target_valid.astype(jnp.float32)
    if target_vis is None:
        weight = valid
        if mmpose_compat and target.shape[1] > 2:
            joint = target[:, 2]
            nonzero = (joint != 0) & target_valid[:, 2:3]
            trajectory = jnp.where(nonzero, 1 / jnp.where(nonzero, joint, 1), 0)
        else:
            trajectory = weight
        return weight, trajectory
    weight = (target_vis > 0.5).astype(jnp.float32) * valid
    return weight, weight


class _LabelOutputs:
    """Encode steps ImagePoseLifting and VideoPoseLifting share (MMPose names
    the visibility key differently in the two)."""

    def _remove_root(self, label, weight, target, encoded):
        """Label and weight without the (single) root joint, on the keypoint
        axis for any number of frames; records MMPose's flags in ``encoded``."""
        index = self.root_index[0]
        encoded["target_root_removed"] = ops.constant_like(True, target, shape=())
        if self.save_index:
            encoded["target_root_index"] = ops.constant_like(index, target, shape=())
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
        labels = ops.append_visibility(labels, vis)
    return ops.frames_as_columns(labels) if reshape else labels


def _decode_with_root(encoded, target_root, joints):
    keypoints = coordinates_input(encoded, "(N, K, C)", joints)
    return keypoints, root_input(target_root, keypoints)


def _add_root(keypoints, root, remove_root, root_index):
    if root is None:
        return keypoints
    reinsert = remove_root and len(root_index) == 1
    return ops.add_root(keypoints, root, insert_index=root_index[0] if reinsert else None)


def _ones_scores(keypoints):
    """Scores of ones ``(N, K)``, batch-sharded like the keypoints. Keypoints
    with no coordinate (``C = 0``, which ImagePoseLifting and VideoPoseLifting
    encode from such a target, and MMPose decodes) have no channel to derive
    them from: a plain constant then."""
    if keypoints.shape[-1] == 0:
        return ops.constant_like(1.0, keypoints, shape=keypoints.shape[:-1])
    return ops.constant_like(1.0, keypoints[..., 0])
