"""Coordinate conventions: input-to-map scale, normalised regression labels.

A pixel's centre lies at its integer coordinate. Keypoints in model-input
pixels map to a heatmap (or volume) by dividing by a per-axis scale whose
convention depends on the codec family (:func:`input_to_map_scale`).

Regression labels: keypoints ``(N, K, 2)`` in input pixels map to
``kp / (w, h)``; a keypoint is a valid target when it lies in
``[0, w-1] x [0, h-1]`` (inclusive) and its visibility exceeds 0.5, as in
MMPose's RegressionLabel.
"""

from __future__ import annotations

from typing import Sequence

import jax.numpy as jnp
import numpy as np

from jaxcodecs.ops.numerics import constant_like, divide_exact
from jaxcodecs.ops.validation import as_float_array, check_axis_size, check_min_rank

__all__ = ["input_to_map_scale", "encode_regression_labels", "decode_regression_labels"]

_CONVENTIONS = ("msra", "udp", "udp_mmpose")


def input_to_map_scale(
    input_size: Sequence[int], map_size: Sequence[int], *, convention: str = "msra"
) -> np.ndarray:
    """Input pixels per map pixel along each axis (a static NumPy constant).

    * ``"msra"``: ``input_size / map_size``, the size ratio (Xiao et al.,
      ECCV 2018; also Megvii, integral regression and InterNet's volumes):
      map pixel ``i`` covers input pixels ``[i s, (i + 1) s)``.
    * ``"udp"``: ``(input_size - 1) / (map_size - 1)``, so that the first
      and last pixel centres of input and map coincide (Huang et al., "The
      Devil is in the Details: Delving into Unbiased Data Processing for
      Human Pose Estimation", CVPR 2020).
    * ``"udp_mmpose"``: ``input_size / (map_size - 1)``, the scale MMPose
      1.3.2's UDP decoder multiplies by (a ``w / (w - 1)`` error that
      ``mmpose_compat`` reproduces).

    Keypoints go to the map by ``kp / scale`` and back by ``loc * scale``.
    The ratio is formed in float64 and rounded once to float32.

    Args:
      input_size: ``(w, h)`` (or more axes) of the model input.
      map_size: ``(W, H)``, same length.
      convention: ``"msra"``, ``"udp"`` or ``"udp_mmpose"``.

    Returns:
      float32 ``(len(input_size),)``.
    """
    if convention not in _CONVENTIONS:
        raise ValueError(f"`convention` must be one of {_CONVENTIONS}, got {convention!r}.")
    inputs = np.asarray(input_size, np.float64)
    maps = np.asarray(map_size, np.float64)
    if inputs.shape != maps.shape or inputs.ndim != 1:
        raise ValueError(
            f"`input_size` and `map_size` must be sizes of the same length, "
            f"got {tuple(input_size)} and {tuple(map_size)}."
        )
    if convention == "udp":
        inputs = inputs - 1
    if convention != "msra":
        maps = maps - 1
    return (inputs / maps).astype(np.float32)


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
      ones for ``(N, K, 2)`` (NaN where the x coordinate is not finite),
      ``mean(1 - sigma)`` over the two axes for ``(N, K, 4)``.
    """
    encoded = as_float_array(encoded, "encoded")
    expected = "(N, K, 2) or (N, K, 4) (coordinates with sigma)"
    check_min_rank(encoded, 1, "encoded", expected)
    check_axis_size(encoded, -1, "encoded", expected, sizes=(2, 4))
    coords = encoded[..., :2]
    if encoded.shape[-1] == 4:
        scores = jnp.mean(1 - encoded[..., 2:4], axis=-1)
    else:
        # Batch-sharded ones; a keypoint whose x is NaN or ±Inf keeps a NaN
        # score, as it always had (the SPEC lets a NaN input make its
        # keypoint's score NaN).
        x = encoded[..., 0]
        ones = constant_like(1.0, x, dtype=jnp.float32)
        scores = jnp.where(jnp.isfinite(x), ones, jnp.full_like(ones, jnp.nan))
    return coords * np.asarray(input_size, np.float32), scores
