"""Normalised-coordinate targets (DeepPose / RLE regression labels).

Keypoints ``(N, K, 2)`` in input pixels map to ``kp / (w, h)``; a keypoint is a
valid target when it lies in ``[0, w-1] x [0, h-1]`` (inclusive) and its
visibility exceeds 0.5, as in MMPose's RegressionLabel.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from jaxcodecs.ops.numerics import divide_exact

__all__ = ["encode_regression_labels", "decode_regression_labels"]


def encode_regression_labels(
    keypoints: jnp.ndarray, keypoints_visible: jnp.ndarray, input_size: tuple[int, int]
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Normalised coordinates and their weights (Toshev & Szegedy, CVPR 2014).

    Args:
      keypoints: ``(N, K, D)`` in input pixels (the first two coordinates are used).
      keypoints_visible: ``(N, K)``.
      input_size: ``(w, h)``.

    Returns:
      ``keypoint_labels (N, K, 2)`` = ``kp / (w, h)`` and ``keypoint_weights
      (N, K)``: 1 for visible (``> 0.5``) keypoints inside the image, else 0.
      Differentiable w.r.t. ``keypoints``.
    """
    kp = jnp.asarray(keypoints)[..., :2]
    size = np.asarray(input_size, np.float32)
    inside = jnp.all((kp >= 0) & (kp <= size - 1), axis=-1)
    valid = inside & (jnp.asarray(keypoints_visible) > 0.5)
    return divide_exact(kp, size), valid.astype(kp.dtype)


def decode_regression_labels(
    encoded: jnp.ndarray, input_size: tuple[int, int]
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Input-pixel keypoints from normalised coordinates.

    Args:
      encoded: ``(N, K, 2)`` coordinates, or ``(N, K, 4)`` coordinates plus
        per-axis uncertainties ``sigma`` (RLE, Li et al. ICCV 2021).
      input_size: ``(w, h)``.

    Returns:
      ``keypoints (N, K, 2)`` = ``coords * (w, h)`` and ``scores (N, K)``:
      ones for ``(N, K, 2)``, ``mean(1 - sigma)`` over the two axes for
      ``(N, K, 4)``.
    """
    encoded = jnp.asarray(encoded)
    if encoded.shape[-1] not in (2, 4):
        raise ValueError(
            "`encoded` must have shape (N, K, 2) or (N, K, 4) (coordinates with sigma), "
            f"got shape {encoded.shape}."
        )
    coords = encoded[..., :2]
    if encoded.shape[-1] == 4:
        scores = jnp.mean(1 - encoded[..., 2:4], axis=-1)
    else:
        # Derived from the input (a constant would be replicated by XLA's
        # sharding propagation) so that batched scores stay sharded like the
        # batch; exactly 1 for finite input (XLA never folds x * 0 for floats).
        scores = (encoded[..., 0] * 0 + 1).astype(jnp.float32)
    return coords * np.asarray(input_size, np.float32), scores
