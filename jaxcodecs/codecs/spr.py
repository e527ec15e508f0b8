"""SPR: root heatmaps and keypoint displacement fields for bottom-up pose
estimation (Structured Pose Representation, Nie et al., ICCV 2019, as used by
DEKR, Geng et al., "Bottom-Up Human Pose Estimation Via Disentangled
Keypoint Regression", CVPR 2021).

Coordinates: keypoints are ``(x, y)`` in pixels of the model input, a pixel's
centre at its integer coordinate; they go to the heatmap by dividing by
``scale_factor = input_size / heatmap_size`` and come back by multiplying.
"""

from __future__ import annotations

import types
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxcodecs import ops
from jaxcodecs.base import Codec, codec_field
from jaxcodecs.codecs._fields import (
    finite_float,
    flag,
    float_dtype,
    non_negative_float,
    odd_kernel,
    one_of,
    positive_int,
    sigma_sequence,
    size_pair,
)
from jaxcodecs.codecs._inputs import instance_inputs, root_and_displacement_maps_input
from jaxcodecs.registry import register

__all__ = ["SPR"]

_SPR_FIELDS = types.MappingProxyType({
    "heatmaps": "heatmaps",
    "heatmap_weights": "heatmap_weights",
    "displacements": "displacements",
    "displacement_weights": "displacement_weights",
})


@register
class SPR(Codec):
    """Root heatmap plus per-keypoint displacement fields (DEKR, Geng et al.,
    CVPR 2021; Structured Pose Representation, Nie et al., ICCV 2019).

    Encode, for ``keypoints (N, K, 2)`` in input pixels:

    * each instance's root (``root_type``: mean or box centre of its visible,
      ``> 0``, keypoints) and the diagonal of the box around them; an
      instance whose diagonal is below ``minimal_diagonal_length`` (heatmap
      pixels) gets no root;
    * ``heatmaps``: the roots' windowed Gaussian (``sigma[0]``), ``(1, H, W)``;
      with ``generate_keypoint_heatmaps`` the keypoints' Gaussians
      (``sigma[1]``) come first: ``(K + 1, H, W)``, root map last;
      ``heatmap_weights`` of the same shape: 1 where the map is > 0, else
      ``background_weight``;
    * ``displacements (2K, H, W)``: around each root (a square of half side
      ``sigma[0]``) the vector from the pixel to each keypoint (rows ``2k``,
      ``2k + 1``), the smaller instance owning overlapping pixels (see
      :func:`jaxcodecs.ops.render_displacement_fields`), and
      ``displacement_weights (2K, H, W)``: ``1 / diagonal`` where written.

    Decode: the ``decode_max_instances`` largest peaks of the root map after
    max-pool NMS (``decode_nms_kernel``), each pixel's displacements added to
    its position, times ``scale_factor``. Returns a tuple
    ``(keypoints (M, K, 2), (root_scores (M,), keypoint_scores (M, K) or
    None), valid (M,))`` with ``M = decode_max_instances``: rows by
    descending root score, ``valid = root_score > decode_thr`` (the rows
    MMPose returns, which come first), zeros in the other rows. Keypoint
    scores (the keypoint maps sampled bilinearly at each decoded keypoint,
    clamped to the map) only with ``generate_keypoint_heatmaps`` and
    ``K + 1`` heatmap channels; otherwise ``None``.

    Args:
      input_size: ``(w, h)`` of the model input.
      heatmap_size: ``(W, H)`` of the maps; ``W * H >= decode_max_instances``.
      sigma: ``None``: ``s = sqrt(W * H) / 32`` and ``(s, s // 2)`` with
        keypoint heatmaps (0 for maps smaller than 64x64: drawn as a unit
        impulse), ``(s,)`` without; a number: ``(sigma,)``; a sequence:
        ``(root sigma, keypoint sigma)``, which keypoint heatmaps require.
        Leaves.
      generate_keypoint_heatmaps: also draw the keypoints' heatmaps.
      root_type: ``"kpt_center"`` or ``"bbox_center"``.
      minimal_diagonal_length: smallest instance diagonal that gets a root,
        heatmap pixels (leaf).
      background_weight: heatmap weight away from the Gaussians (leaf).
      decode_nms_kernel: odd max-pool size of the root NMS.
      decode_max_instances: ``M``, the static number of decoded rows.
      decode_thr: root score a valid row must exceed (leaf).
      mmpose_compat: keyword-only. ``True`` reproduces MMPose 1.3.2: its
        windowed-Gaussian quirks, background weight at σ = 0 centres (where
        MMPose draws NaN) and keypoint scores sampled at ``x * W / (W - 1) -
        0.5`` (its ``grid_sample`` call); ``False``: Gaussians centred on the
        keypoint, weight 1 wherever the map is > 0, scores sampled at the
        keypoint.
      dtype: keyword-only dtype of the heatmaps, displacements and weights.
    """

    input_size: tuple[int, int] = codec_field(size_pair, static=True)
    heatmap_size: tuple[int, int] = codec_field(size_pair, static=True)
    sigma: Any = codec_field(sigma_sequence, default=None)
    generate_keypoint_heatmaps: bool = codec_field(flag, static=True, default=False)
    root_type: str = codec_field(one_of("kpt_center", "bbox_center"), static=True, default="kpt_center")
    minimal_diagonal_length: Any = codec_field(non_negative_float, default=5.0)
    background_weight: Any = codec_field(non_negative_float, default=0.1)
    decode_nms_kernel: int = codec_field(odd_kernel, static=True, default=5)
    decode_max_instances: int = codec_field(positive_int, static=True, default=30)
    decode_thr: Any = codec_field(finite_float, default=0.01)
    dtype: Any = codec_field(float_dtype, static=True, default="float32", kw_only=True)

    field_mapping_table = _SPR_FIELDS
    decode_input_keys = ("heatmaps", "displacements")
    decode_outputs = ("keypoints", ("root_scores", "keypoint_scores"), "valid")

    def check_config(self) -> None:
        if self.generate_keypoint_heatmaps and self.sigma is not None and len(self.sigma) != 2:
            raise ValueError(
                "SPR: with `generate_keypoint_heatmaps` True, `sigma` must be a pair (root sigma, "
                f"keypoint sigma), e.g. (4, 2), got {len(self.sigma)} value(s): {self.sigma!r}."
            )
        width, height = self.heatmap_size
        if width * height < self.decode_max_instances:
            raise ValueError(
                f"SPR: `decode_max_instances` must be at most the W * H = {width * height} pixels "
                f"of `heatmap_size` {self.heatmap_size}, got {self.decode_max_instances}."
            )

    @property
    def scale_factor(self) -> np.ndarray:
        """``input_size / heatmap_size`` per axis, float32 ``(2,)``."""
        return ops.input_to_map_scale(self.input_size, self.heatmap_size)

    @property
    def sigmas(self) -> tuple:
        """The sigmas in use: ``(root,)`` or ``(root, keypoint)``."""
        if self.sigma is None:
            width, height = self.heatmap_size
            s = (width * height) ** 0.5 / 32
            return (s, s // 2) if self.generate_keypoint_heatmaps else (s,)
        return tuple(self.sigma)

    def _heatmap_weights(self, heatmaps: jnp.ndarray, sigma: Any) -> jnp.ndarray:
        foreground = heatmaps > 0
        if self.mmpose_compat:
            # MMPose draws 0/0 = NaN at a σ = 0 centre, and NaN > 0 is false.
            foreground = foreground & (jnp.asarray(sigma) > 0)
        background = jnp.asarray(self.background_weight, self.dtype)
        return jnp.where(foreground, jnp.ones_like(heatmaps), background).astype(self.dtype)

    def encode(self, keypoints, keypoints_visible=None) -> dict[str, jnp.ndarray]:
        """Encodes ``keypoints (N, K, 2)`` (input pixels) and visibility
        ``(N, K)`` (default ones) into ``heatmaps (1 | K + 1, H, W)``,
        ``heatmap_weights`` (same shape), ``displacements (2K, H, W)`` and
        ``displacement_weights (2K, H, W)``. ``N = 0`` gives empty targets."""
        kp, vis = instance_inputs(type(self).__name__, keypoints, keypoints_visible, single_instance=False)
        if isinstance(kp, jax.core.Tracer) or isinstance(vis, jax.core.Tracer):
            return self._encode(kp, vis)  # traced by the caller's jit / vmap: inline
        return _encode(self, kp, vis)

    def _encode(self, kp, vis) -> dict[str, jnp.ndarray]:
        # Roots, diagonals and displacements in at least float32, as MMPose.
        work = jnp.promote_types(kp.dtype, jnp.float32)
        kp, vis = kp.astype(work), vis.astype(work)
        if kp.shape[0] == 0:
            # One invisible instance draws nothing and keeps every shape valid.
            kp = jnp.zeros((1,) + kp.shape[1:], kp.dtype)
            vis = jnp.zeros((1,) + vis.shape[1:], vis.dtype)
        kp = ops.divide_exact(kp, self.scale_factor)
        roots, roots_visible = ops.instance_roots(kp, vis, self.root_type)
        diagonals = ops.instance_diagonal_lengths(kp, vis)
        roots_visible = jnp.where(diagonals < self.minimal_diagonal_length,
                                  jnp.zeros_like(roots_visible), roots_visible)
        sigmas = self.sigmas
        render = dict(mmpose_compat=self.mmpose_compat, dtype=self.dtype)
        heatmaps, _ = ops.render_gaussian_heatmaps(
            roots[:, None], roots_visible[:, None], self.heatmap_size, sigmas[0], **render)
        weights = self._heatmap_weights(heatmaps, sigmas[0])
        if self.generate_keypoint_heatmaps:
            keypoint_maps, _ = ops.render_gaussian_heatmaps(kp, vis, self.heatmap_size, sigmas[1], **render)
            weights = jnp.concatenate([self._heatmap_weights(keypoint_maps, sigmas[1]), weights])
            heatmaps = jnp.concatenate([keypoint_maps, heatmaps])
        displacements, displacement_weights = ops.render_displacement_fields(
            kp, vis, roots, roots_visible, diagonals, self.heatmap_size, sigmas[0])
        return {
            "heatmaps": heatmaps,
            "heatmap_weights": weights,
            "displacements": displacements.astype(self.dtype),
            "displacement_weights": displacement_weights.astype(self.dtype),
        }

    def _score_points(self, points: jnp.ndarray) -> jnp.ndarray:
        """Where keypoint scores are sampled, ``(M, K, 2)`` heatmap pixels."""
        width, height = self.heatmap_size
        if not self.mmpose_compat or width < 2 or height < 2:
            return points
        # grid_sample with align_corners=False on coordinates normalised by
        # (size - 1): the sample lands at x * W / (W - 1) - 0.5 (float32
        # arithmetic in PyTorch's order).
        size = jnp.asarray([width, height], points.dtype)
        normalised = points / (size - 1.0) * 2.0 - 1.0
        return ((normalised + 1.0) * size - 1.0) / 2.0

    def decode(self, heatmaps, displacements):
        """Decodes ``heatmaps (1 | K + 1, H, W)`` (root map last) and
        ``displacements (2K, H, W)`` into ``(keypoints (M, K, 2),
        (root_scores (M,), keypoint_scores (M, K) or None), valid (M,))``,
        ``M = decode_max_instances``; see the class docstring."""
        hm, disp = root_and_displacement_maps_input(type(self).__name__, heatmaps, displacements,
                                                    self.heatmap_size)
        joints = disp.shape[0] // 2
        width, height = self.heatmap_size
        peaks = ops.heatmap_nms(hm[-1], self.decode_nms_kernel)
        root_scores, locations, indices = ops.topk_peaks(peaks, self.decode_max_instances)
        valid = root_scores > self.decode_thr
        # Gathered at (y, x) and split by striding, without a reshape, so
        # that batch-sharded maps need no resharding.
        ix, iy = indices % width, indices // width
        picked = disp[:, iy, ix]  # (2K, M)
        points = jnp.stack([picked[0::2].T, picked[1::2].T], axis=-1)
        points = points + locations[:, None, :].astype(points.dtype)
        keypoint_scores = None
        if self.generate_keypoint_heatmaps and hm.shape[0] == joints + 1:
            keypoint_scores = ops.sample_maps_bilinear(hm[:joints], self._score_points(points))
            keypoint_scores = jnp.where(valid[:, None], keypoint_scores, jnp.zeros_like(keypoint_scores))
        keypoints = points * jnp.asarray(self.scale_factor, points.dtype)
        keypoints = jnp.where(valid[:, None, None], keypoints, jnp.zeros_like(keypoints))
        root_scores = jnp.where(valid, root_scores, jnp.zeros_like(root_scores))
        return keypoints, (root_scores, keypoint_scores), valid


# An eager encode runs inside one jitted function of the codec (a pytree:
# configuration static, hyper-parameters traced), so eager calls reuse one
# compilation per configuration and shape instead of compiling a new scan
# each time. Under the caller's jit, encode is traced inline instead: a
# nested jit would make XLA copy the (large) targets out of the inner call.
_encode = jax.jit(lambda codec, kp, vis: codec._encode(kp, vis))
