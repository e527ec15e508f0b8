"""Coordinate-regression codecs: RegressionLabel, IntegralRegressionLabel.

Coordinates: keypoints ``(x, y)`` in input pixels; labels are ``kp / (w, h)``
(divided by the size, not ``size - 1``). A keypoint is a valid target when it
lies in ``[0, w-1] x [0, h-1]`` and its visibility exceeds 0.5.
"""

from __future__ import annotations

import types
from typing import Any

import jax.numpy as jnp
import numpy as np
from jaxcodecs import ops
from jaxcodecs.base import Codec, codec_field
from jaxcodecs.codecs._fields import flag, float_dtype, non_negative, odd_kernel, size_pair
from jaxcodecs.codecs._inputs import coordinates_input, instance_heatmaps_input, instance_inputs, method_input
from jaxcodecs.registry import register

__all__ = ["RegressionLabel", "IntegralRegressionLabel"]

_SOFT_METHODS = ("ipr", "dsnt", "soft_argmax")

_REGRESSION_LABELS = types.MappingProxyType(
    {"keypoint_labels": "keypoint_labels", "keypoint_weights": "keypoint_weights"}
)


def _decode_labels(encoded: Any, input_size: tuple[int, int]) -> tuple[jnp.ndarray, jnp.ndarray]:
    labels = coordinates_input(encoded, "(N, K, 2) or (N, K, 4)")
    return ops.decode_regression_labels(labels, input_size)


@register
class RegressionLabel(Codec):
    """Normalised keypoint coordinates (DeepPose, Toshev & Szegedy 2014; RLE, Li et al. 2021).

    Encode: ``keypoint_labels (N, K, 2) = kp / (w, h)`` and ``keypoint_weights
    (N, K)`` (1 for visible keypoints inside the image, else 0), for any
    number of instances. Decode: ``(N, K, 2)`` coordinates (scores 1) or
    ``(N, K, 4)`` coordinates with per-axis sigma (scores ``mean(1 - sigma)``)
    back to input pixels. Both are differentiable; the two modes agree.

    Args:
      input_size: ``(w, h)`` of the model input.
      mmpose_compat: keyword-only; no geometric quirk to fix here.
    """

    input_size: tuple[int, int] = codec_field(size_pair, static=True)

    label_mapping_table = _REGRESSION_LABELS
    decode_input_keys = ("keypoint_labels",)

    def encode(self, keypoints, keypoints_visible=None) -> dict[str, jnp.ndarray]:
        """Encodes ``keypoints (N, K, D)`` into ``keypoint_labels (N, K, 2)`` and
        ``keypoint_weights (N, K)``."""
        kp, vis = instance_inputs(type(self).__name__, keypoints, keypoints_visible, single_instance=False)
        labels, weights = ops.encode_regression_labels(kp, vis, self.input_size)
        return {"keypoint_labels": labels, "keypoint_weights": weights}

    def decode(self, encoded) -> tuple[jnp.ndarray, jnp.ndarray]:
        """Decodes ``(N, K, 2|4)`` labels into ``keypoints (N, K, 2)``, ``scores (N, K)``."""
        return _decode_labels(encoded, self.input_size)


@register
class IntegralRegressionLabel(Codec):
    """Coordinates plus normalised heatmaps for integral regression (DSNT, Nibali et al. 2018).

    Encode (one instance): MSRA heatmaps of the keypoints (windowed, or the
    untruncated sub-pixel Gaussian with ``unbiased``), each divided by its sum
    when ``normalize``, plus the :class:`RegressionLabel` labels and weights
    (the weights follow the regression rule, not the heatmap's). Decode: the
    regression decode of ``(N, K, 2|4)`` coordinates (MMPose's);
    :meth:`decode_heatmaps` decodes heatmaps differentiably by IPR, DSNT or
    soft-argmax.

    Args:
      input_size: ``(w, h)``.
      heatmap_size: ``(W, H)``; heatmaps use ``input_size / heatmap_size``.
      sigma: Gaussian standard deviation in heatmap pixels (leaf).
      unbiased: untruncated sub-pixel Gaussian (DARK) heatmaps.
      blur_kernel_size: kept for MMPose compatibility (used by DARK decoding
        of heatmaps, which this codec's decode does not do).
      normalize: divide each heatmap by its sum.
      mmpose_compat: keyword-only; ``False`` fixes the windowed Gaussian's
        quirks as in :class:`~jaxcodecs.MSRAHeatmap`.
      dtype: keyword-only dtype of the heatmaps.
    """

    input_size: tuple[int, int] = codec_field(size_pair, static=True)
    heatmap_size: tuple[int, int] = codec_field(size_pair, static=True)
    sigma: Any = codec_field(non_negative)
    unbiased: bool = codec_field(flag, static=True, default=False)
    blur_kernel_size: int = codec_field(odd_kernel, static=True, default=11)
    normalize: bool = codec_field(flag, static=True, default=True)
    dtype: Any = codec_field(float_dtype, static=True, default="float32", kw_only=True)

    label_mapping_table = _REGRESSION_LABELS
    field_mapping_table = types.MappingProxyType({"heatmaps": "heatmaps"})
    decode_input_keys = ("keypoint_labels",)

    @property
    def scale_factor(self) -> np.ndarray:
        """``input_size / heatmap_size`` per axis, float32 ``(2,)``."""
        return ops.input_to_map_scale(self.input_size, self.heatmap_size)

    def encode(self, keypoints, keypoints_visible=None) -> dict[str, jnp.ndarray]:
        """Encodes ``keypoints (1, K, D)`` into ``keypoint_labels (1, K, 2)``,
        ``heatmaps (K, H, W)`` and ``keypoint_weights (1, K)``."""
        kp, vis = instance_inputs(type(self).__name__, keypoints, keypoints_visible, single_instance=True)
        heatmaps, _ = ops.render_msra_heatmaps(
            kp, vis, self.scale_factor, self.heatmap_size, self.sigma,
            unbiased=self.unbiased, mmpose_compat=self.mmpose_compat, dtype=self.dtype,
            normalize=self.normalize,
        )
        labels, weights = ops.encode_regression_labels(kp, vis, self.input_size)
        return {"keypoint_labels": labels, "heatmaps": heatmaps, "keypoint_weights": weights}

    def decode(self, encoded) -> tuple[jnp.ndarray, jnp.ndarray]:
        """Decodes ``(N, K, 2|4)`` labels into ``keypoints (N, K, 2)``, ``scores (N, K)``."""
        return _decode_labels(encoded, self.input_size)

    def decode_heatmaps(
        self, heatmaps, *, method: str = "ipr", beta: Any = 1.0
    ) -> tuple[jnp.ndarray, jnp.ndarray]:
        """Differentiable decode of heatmaps by expectation (integral regression).

        The expected heatmap coordinate (pixel ``i`` at coordinate ``i``) is
        scaled by ``input_size / heatmap_size``, the inverse of the encode's
        Gaussian centre ``kp * heatmap_size / input_size``.

        Args:
          heatmaps: ``(K, H, W)`` or ``(N, K, H, W)`` with the configured
            ``(W, H)``.
          method: ``"ipr"`` (maps clipped at 0 and normalised to unit sum;
            Sun et al. 2018), ``"dsnt"`` (maps that already sum to one, e.g.
            this codec's ``normalize=True`` targets; Nibali et al. 2018) or
            ``"soft_argmax"`` (softmax of ``beta * heatmaps``, for logits).
          beta: softmax temperature of ``"soft_argmax"`` (may be traced).

        Returns:
          ``keypoints (N, K, 2)`` in input pixels (``N = 1`` for ``(K, H, W)``
          input) and ``scores (N, K)``, the maximum of each heatmap.
          Differentiable w.r.t. ``heatmaps`` and ``beta``.
        """
        method_input("IntegralRegressionLabel.decode_heatmaps", method, _SOFT_METHODS)
        hm = instance_heatmaps_input(heatmaps, self.heatmap_size)
        coords = ops.soft_decode(hm, method=method, beta=beta)
        keypoints = coords * jnp.asarray(self.scale_factor, coords.dtype)
        return keypoints, jnp.max(hm, axis=(-2, -1))
