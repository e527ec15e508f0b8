"""SimCCLabel: 1-D coordinate-classification targets (SimCC, RTMPose).

Coordinates: keypoints ``(x, y)`` in input pixels; bin ``i`` of a vector of
``L = round_half_even(size * simcc_split_ratio)`` bins stands for input
coordinate ``i / simcc_split_ratio``. Decoding divides the bin location by
the split ratio, so ``mmpose_compat=False`` (labels centred on the exact
``kp * simcc_split_ratio``) round-trips sub-pixel keypoints.
"""

from __future__ import annotations

import types
from typing import Any

import jax.numpy as jnp
from jaxcodecs import ops
from jaxcodecs.base import Codec, codec_field
from jaxcodecs.codecs._fields import (
    flag,
    float_dtype,
    is_concrete_number,
    non_negative,
    one_of,
    positive_number,
    scalar_or_pair,
    size_pair,
)
from jaxcodecs.codecs._inputs import instance_inputs, method_input, per_axis_input, simcc_inputs
from jaxcodecs.registry import register

__all__ = ["SimCCLabel"]

_SMOOTHING_TYPES = ("gaussian", "standard")
_SOFT_METHODS = ("soft_argmax", "ipr", "dsnt")


def dark_kernel_size(sigma: float) -> int:
    """SimCC-DARK's blur size for a label sigma (in bins): ``(20 sigma - 7) // 3``,
    made odd by subtracting 1, at least 1."""
    size = int((float(sigma) * 20 - 7) // 3)
    size -= int(size % 2 == 0)
    return max(size, 1)


@register
class SimCCLabel(Codec):
    """SimCC targets (Li et al., ECCV 2022): one 1-D distribution per axis.

    Encode (any number of instances): ``keypoint_x_labels (N, K, Lx)``,
    ``keypoint_y_labels (N, K, Ly)`` and ``keypoint_weights (N, K)``, where
    ``Lx, Ly = round_half_even((w, h) * simcc_split_ratio)``.

    * ``smoothing_type="gaussian"``: ``exp(-(i - mu)^2 / (2 sigma^2))`` over
      every bin, divided by ``sigma * sqrt(2 pi)`` when ``normalize``. With
      ``mmpose_compat=True`` ``mu`` is ``kp * ratio`` rounded half to even
      (as MMPose 1.3.2); with ``False`` it is the exact ``kp * ratio``, and
      the labels are differentiable w.r.t. the keypoints and ``sigma``.
    * ``smoothing_type="standard"``: one-hot at the rounded bin, or with
      ``label_smooth_weight`` the value ``1 - lsw`` there and
      ``lsw / (L - 1)`` elsewhere (both modes alike).

    Keypoints with visibility < 0.5 get zero labels and keep their
    visibility as weight; labelled keypoints out of range get weight 0 (see
    :func:`jaxcodecs.ops.render_simcc_gaussian_labels` for the ranges).

    Decode ``simcc_x (N, K, Lx)``, ``simcc_y (N, K, Ly)`` (or ``(K, L)``
    each): the first maximum of each vector, score ``min(max x, max y)``,
    location ``-1`` where the score is ``<= 0``; with ``use_dark`` one DARK
    step on the log of the blurred vectors; then bins / ratio. Returns
    ``(keypoints (N, K, 2), scores (N, K))``, or with ``decode_visibility``
    ``(keypoints, (scores, visibility))``, the visibility being
    ``min(max softmax(x * beta * sigma_x), max softmax(y * beta * sigma_y))``.
    With ``use_dark`` and ``mmpose_compat=True`` the visibility is computed
    from the log-blurred vectors, as MMPose does; with ``False`` from the
    vectors given. The inputs are never modified.

    :meth:`decode_soft` is the differentiable alternative (soft-argmax /
    integral expectation along each vector).

    Args:
      input_size: ``(w, h)``.
      smoothing_type: ``"gaussian"`` or ``"standard"``.
      sigma: label standard deviation in bins, a scalar or ``(sigma_x,
        sigma_y)`` (leaves; DARK decoding needs them concrete, as they set
        its blur size).
      simcc_split_ratio: bins per input pixel.
      label_smooth_weight: in ``[0, 1]``, ``"standard"`` only (leaf).
      normalize: normalise Gaussian labels to unit area.
      use_dark: DARK refinement at decode.
      decode_visibility: also return the softmax visibility.
      decode_beta: softmax temperature of the visibility (leaf).
      mmpose_compat: keyword-only; see above.
      dtype: keyword-only dtype of the labels.
    """

    input_size: tuple[int, int] = codec_field(size_pair, static=True)
    smoothing_type: str = codec_field(one_of(*_SMOOTHING_TYPES), static=True, default="gaussian")
    sigma: Any = codec_field(scalar_or_pair, default=6.0)
    simcc_split_ratio: float = codec_field(positive_number, static=True, default=2.0)
    label_smooth_weight: Any = codec_field(non_negative, default=0.0)
    normalize: bool = codec_field(flag, static=True, default=True)
    use_dark: bool = codec_field(flag, static=True, default=False)
    decode_visibility: bool = codec_field(flag, static=True, default=False)
    decode_beta: Any = codec_field(non_negative, default=150.0)
    dtype: Any = codec_field(float_dtype, static=True, default="float32", kw_only=True)

    label_mapping_table = types.MappingProxyType(
        {
            "keypoint_x_labels": "keypoint_x_labels",
            "keypoint_y_labels": "keypoint_y_labels",
            "keypoint_weights": "keypoint_weights",
        }
    )
    decode_input_keys = ("keypoint_x_labels", "keypoint_y_labels")

    @property
    def decode_outputs(self) -> tuple:  # type: ignore[override]
        if self.decode_visibility:
            return ("keypoints", ("scores", "visibility"))
        return ("keypoints", "scores")

    def check_config(self) -> None:
        lsw = self.label_smooth_weight
        if is_concrete_number(lsw):
            if self.smoothing_type == "gaussian" and float(lsw) > 0:
                raise ValueError(
                    f"SimCCLabel: `label_smooth_weight` is only used for `standard` mode "
                    f"(smoothing_type='standard'), got {lsw!r} with 'gaussian'."
                )
            if float(lsw) > 1:
                raise ValueError(f"SimCCLabel: `label_smooth_weight` should be in [0, 1], got {lsw!r}.")

    # ------------------------------------------------------------- helpers
    @property
    def label_lengths(self) -> tuple[int, int]:
        """``(Lx, Ly)``, the number of bins per axis."""
        return ops.simcc_label_lengths(self.input_size, self.simcc_split_ratio)

    @property
    def dark_kernel_sizes(self) -> tuple[int, int]:
        """The DARK blur sizes ``(kx, ky)`` derived from ``sigma``."""
        sigma = per_axis_input(self.sigma, "sigma", concrete_for=(
            "SimCCLabel: DARK decoding derives its blur size from `sigma`"))
        return dark_kernel_size(sigma[0]), dark_kernel_size(sigma[1])

    def _visibility(self, sx: jnp.ndarray, sy: jnp.ndarray) -> jnp.ndarray:
        sigma_x, sigma_y = per_axis_input(self.sigma, "sigma")
        return ops.simcc_visibility(
            sx, sy,
            self.decode_beta * jnp.asarray(sigma_x, jnp.float32),
            self.decode_beta * jnp.asarray(sigma_y, jnp.float32),
        )

    def _finish(self, keypoints, scores, visibility_x, visibility_y):
        keypoints = ops.divide_exact(keypoints, self.simcc_split_ratio)
        if self.decode_visibility:
            return keypoints, (scores, self._visibility(visibility_x, visibility_y))
        return keypoints, scores

    # ----------------------------------------------------------------- API
    def encode(self, keypoints, keypoints_visible=None) -> dict[str, jnp.ndarray]:
        """Encodes ``keypoints (N, K, D)`` into ``keypoint_x_labels (N, K, Lx)``,
        ``keypoint_y_labels (N, K, Ly)`` and ``keypoint_weights (N, K)``."""
        kp, vis = instance_inputs(type(self).__name__, keypoints, keypoints_visible, single_instance=False)
        if self.smoothing_type == "gaussian":
            x_labels, y_labels, weights = ops.render_simcc_gaussian_labels(
                kp, vis, self.simcc_split_ratio, self.label_lengths, per_axis_input(self.sigma, "sigma"),
                normalize=self.normalize, mmpose_compat=self.mmpose_compat, dtype=self.dtype,
            )
        else:
            x_labels, y_labels, weights = ops.render_simcc_standard_labels(
                kp, vis, self.simcc_split_ratio, self.label_lengths, self.label_smooth_weight,
                dtype=self.dtype,
            )
        return {"keypoint_x_labels": x_labels, "keypoint_y_labels": y_labels, "keypoint_weights": weights}

    def decode(self, simcc_x, simcc_y):
        """Decodes ``simcc_x (N, K, Lx)``, ``simcc_y (N, K, Ly)`` (or ``(K, L)``
        each) into ``keypoints (N, K, 2)`` and ``scores (N, K)`` (plus the
        visibility ``(N, K)`` with ``decode_visibility``)."""
        sx, sy = simcc_inputs(simcc_x, simcc_y, self.label_lengths)
        locations, scores = ops.simcc_argmax(sx, sy)
        vis_x, vis_y = sx, sy
        if self.use_dark:
            kx, ky = self.dark_kernel_sizes
            if self.mmpose_compat:
                refined = [ops.refine_simcc_dark(locations[..., i], s, k) for i, s, k in ((0, sx, kx), (1, sy, ky))]
                locations = jnp.stack(refined, axis=-1)
            else:
                sigma = per_axis_input(self.sigma, "sigma")
                locations = ops.refine_simcc_xy_dark_to_border(locations, sx, sy, (kx, ky), sigma)
            if self.decode_visibility and self.mmpose_compat:
                vis_x, vis_y = ops.modulate_simcc_dark(sx, kx), ops.modulate_simcc_dark(sy, ky)
        return self._finish(locations, scores, vis_x, vis_y)

    def decode_soft(self, simcc_x, simcc_y, *, method: str = "soft_argmax", beta: Any = None):
        """Differentiable decode: the expected bin of each vector, / ratio.

        Args:
          simcc_x: ``(N, K, Lx)`` or ``(K, Lx)``.
          simcc_y: ``(N, K, Ly)`` or ``(K, Ly)``.
          method: ``"soft_argmax"`` (softmax of ``beta * s``, then the
            expectation; for logits), ``"ipr"`` (the vectors clipped at 0 and
            normalised to unit sum; for non-negative outputs such as the
            Gaussian labels) or ``"dsnt"`` (vectors that already sum to one).
          beta: softmax temperature for ``"soft_argmax"``, a number or a
            ``(beta_x, beta_y)`` pair; ``None`` uses ``decode_beta * sigma``
            per axis, the scaling of the visibility (for normalised Gaussian
            labels the logits then peak at ``decode_beta / sqrt(2 pi)``).

        Returns:
          ``(keypoints (N, K, 2), scores (N, K))`` like :meth:`decode` (the
          scores are the argmax decode's; with ``decode_visibility`` the
          visibility is appended as there, from the vectors given).
          Differentiable w.r.t. the vectors and ``beta``.
        """
        method_input("SimCCLabel.decode_soft", method, _SOFT_METHODS)
        sx, sy = simcc_inputs(simcc_x, simcc_y, self.label_lengths)
        _, scores = ops.simcc_argmax(sx, sy)
        if beta is None:
            sigma_x, sigma_y = per_axis_input(self.sigma, "sigma")
            beta = (self.decode_beta * sigma_x, self.decode_beta * sigma_y)
        beta_x, beta_y = per_axis_input(beta, "beta")
        x = ops.soft_decode(sx, method=method, beta=beta_x, ndim=1)
        y = ops.soft_decode(sy, method=method, beta=beta_y, ndim=1)
        locations = jnp.concatenate([x, y], axis=-1).astype(jnp.result_type(sx.dtype, jnp.float32))
        return self._finish(locations, scores, sx, sy)
