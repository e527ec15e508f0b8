"""Top-down heatmap codecs: MSRAHeatmap, UDPHeatmap, MegviiHeatmap.

Coordinates: keypoints are ``(x, y)`` in pixels of the model input, a pixel's
centre at its integer coordinate. Input-to-heatmap scaling:

* MSRAHeatmap and MegviiHeatmap divide by ``input_size / heatmap_size``;
* UDPHeatmap divides by ``(input_size - 1) / (heatmap_size - 1)`` (the first
  and last pixel centres of input and heatmap coincide).

Each codec encodes one instance, ``keypoints (1, K, D)``, and decodes one
sample's maps into ``keypoints (1, K, 2)`` and ``scores (1, K)``.
"""

from __future__ import annotations

import types
from typing import Any

import jax.numpy as jnp
import numpy as np
from jaxcodecs import ops
from jaxcodecs.base import Codec, codec_field
from jaxcodecs.codecs._fields import flag, float_dtype, non_negative, odd_kernel, one_of, positive, size_pair
from jaxcodecs.codecs._inputs import heatmap_input, instance_inputs
from jaxcodecs.registry import register

__all__ = ["MSRAHeatmap", "UDPHeatmap", "MegviiHeatmap"]

_HEATMAP_LABELS = types.MappingProxyType({"keypoint_weights": "keypoint_weights"})
_HEATMAP_FIELDS = types.MappingProxyType({"heatmaps": "heatmaps"})


class _TopDownHeatmap(Codec):
    """Fields and checks shared by the three single-instance heatmap codecs."""

    input_size: tuple[int, int] = codec_field(size_pair, static=True)
    heatmap_size: tuple[int, int] = codec_field(size_pair, static=True)
    dtype: Any = codec_field(float_dtype, static=True, default="float32", kw_only=True)

    label_mapping_table = _HEATMAP_LABELS
    field_mapping_table = _HEATMAP_FIELDS
    decode_input_keys = ("heatmaps",)

    def _inputs(self, keypoints, keypoints_visible):
        return instance_inputs(type(self).__name__, keypoints, keypoints_visible, single_instance=True)


@register
class MSRAHeatmap(_TopDownHeatmap):
    """Gaussian heatmaps of Xiao et al. (ECCV 2018); DARK with ``unbiased=True``.

    Encode: keypoints are divided by ``scale_factor = input_size /
    heatmap_size``. ``unbiased=False`` draws a 3σ-windowed Gaussian around the
    rounded keypoint; ``unbiased=True`` draws the untruncated Gaussian at the
    sub-pixel position (Zhang et al., CVPR 2020).

    Decode: the maximum of each map, refined by a quarter pixel toward the
    higher neighbour (``unbiased=False``) or by DARK's Newton step on the
    blurred log-map (``unbiased=True``), times ``scale_factor``. Scores are
    the raw maxima. A map with maximum ``<= 0`` decodes to ``-scale_factor``
    with its (non-positive) maximum as score.

    Args:
      input_size: ``(w, h)`` of the model input.
      heatmap_size: ``(W, H)`` of the heatmaps.
      sigma: Gaussian standard deviation in heatmap pixels (a pytree leaf).
      unbiased: DARK encoding and decoding.
      blur_kernel_size: odd size of DARK's modulation blur.
      mmpose_compat: keyword-only; ``False`` fixes MMPose's one-pixel shift
        for non-integer 3σ, floors negative coordinates, zero-weights a
        keypoint whose window misses the map, and uses symmetric bounds in the
        quarter-pixel refinement.
      dtype: keyword-only dtype of the heatmaps (e.g. ``jnp.bfloat16``).
    """

    sigma: Any = codec_field(non_negative)
    unbiased: bool = codec_field(flag, static=True, default=False)
    blur_kernel_size: int = codec_field(odd_kernel, static=True, default=11)

    @property
    def scale_factor(self) -> np.ndarray:
        """``input_size / heatmap_size`` per axis, float32 ``(2,)``."""
        return ops.input_to_map_scale(self.input_size, self.heatmap_size)

    def encode(self, keypoints, keypoints_visible=None) -> dict[str, jnp.ndarray]:
        """Encodes ``keypoints (1, K, D)`` into ``heatmaps (K, H, W)`` and
        ``keypoint_weights (1, K)`` (visibility kept, 0 if the keypoint lies
        off the map)."""
        kp, vis = self._inputs(keypoints, keypoints_visible)
        heatmaps, weights = ops.render_msra_heatmaps(
            kp, vis, self.scale_factor, self.heatmap_size, self.sigma,
            unbiased=self.unbiased, mmpose_compat=self.mmpose_compat, dtype=self.dtype,
        )
        return {"heatmaps": heatmaps, "keypoint_weights": weights}

    def decode(self, encoded) -> tuple[jnp.ndarray, jnp.ndarray]:
        """Decodes ``heatmaps (K, H, W)`` into ``keypoints (1, K, 2)``, ``scores (1, K)``."""
        heatmaps = heatmap_input(type(self).__name__, "encoded", encoded, self.heatmap_size)
        return self._decode_maps(heatmaps)

    def batch_decode(self, encoded) -> tuple[jnp.ndarray, jnp.ndarray]:
        """``decode`` over ``heatmaps (B, K, H, W)``: ``keypoints (B, 1, K, 2)``,
        ``scores (B, 1, K)``. With ``unbiased=True`` the batch is refined in
        one call, so the whole maps are blurred only if a keypoint of the
        batch needs it (see :func:`~jaxcodecs.ops.refine_keypoints_dark`)."""
        if not self.unbiased:
            return super().batch_decode(encoded)
        heatmaps = heatmap_input(type(self).__name__, "encoded", encoded, self.heatmap_size, batched=True)
        return self._decode_maps(heatmaps)

    def _decode_maps(self, heatmaps):
        """``heatmaps (..., K, H, W)`` -> ``keypoints (..., 1, K, 2)``, ``scores (..., 1, K)``."""
        locations, scores = ops.heatmap_argmax(heatmaps)
        keypoints = locations[..., None, :, :]
        if self.unbiased and self.mmpose_compat:
            keypoints = ops.refine_keypoints_dark(keypoints, heatmaps, self.blur_kernel_size, maxima=scores)
        elif self.unbiased:
            keypoints = ops.refine_keypoints_dark_to_border(
                keypoints, heatmaps, self.blur_kernel_size, self.sigma, maxima=scores
            )
        else:
            keypoints = ops.refine_keypoints_quarter(
                keypoints, heatmaps, mmpose_compat=self.mmpose_compat
            )
        return keypoints * self.scale_factor, scores[..., None, :]


@register
class UDPHeatmap(_TopDownHeatmap):
    """Unbiased Data Processing targets (Huang et al., CVPR 2020).

    Keypoints are divided by ``scale_factor = (input_size - 1) /
    (heatmap_size - 1)``.

    * ``heatmap_type="gaussian"``: a 3σ-windowed Gaussian centred on the
      sub-pixel keypoint, ``heatmaps (K, H, W)``; decoded by the maximum plus
      UDP's DARK step (edge-replicated borders).
    * ``heatmap_type="combined"``: per keypoint a disk class map of radius
      ``radius_factor * max(W, H)`` and x / y offset maps, ``heatmaps
      (3K, H, W)``; decoded by the maximum of the blurred class map plus the
      offset read there.

    Decode scales back to input pixels. ``mmpose_compat=True`` multiplies by
    ``input_size / (heatmap_size - 1)`` as MMPose does (a ``w / (w - 1)``
    scale error); ``False`` multiplies by ``scale_factor``, the exact inverse
    of encode. In both modes a map with maximum ``<= 0`` decodes to
    ``-1 * scale`` (MMPose reads another channel's values there).

    Args:
      input_size: ``(w, h)``.
      heatmap_size: ``(W, H)``.
      heatmap_type: ``"gaussian"`` or ``"combined"``.
      sigma: Gaussian standard deviation in heatmap pixels (leaf).
      radius_factor: disk radius as a fraction of ``max(W, H)`` (leaf).
      blur_kernel_size: odd blur size of the refinement; the combined class
        maps are blurred with ``2 * blur_kernel_size + 1``.
      mmpose_compat: keyword-only, see above and :class:`MSRAHeatmap`.
      dtype: keyword-only dtype of the heatmaps.
    """

    heatmap_type: str = codec_field(one_of("gaussian", "combined"), static=True, default="gaussian")
    sigma: Any = codec_field(non_negative, default=2.0)
    radius_factor: Any = codec_field(positive, default=0.0546875)
    blur_kernel_size: int = codec_field(odd_kernel, static=True, default=11)

    def check_config(self) -> None:
        # UDP maps the first and last pixel centres of input and map onto
        # each other: an axis of one pixel has no scale.
        for name in ("input_size", "heatmap_size"):
            if min(getattr(self, name)) < 2:
                raise ValueError(
                    f"UDPHeatmap: `{name}` must be at least 2 pixels on each axis (UDP scales by "
                    f"size - 1), got {getattr(self, name)!r}."
                )

    @property
    def scale_factor(self) -> np.ndarray:
        """``(input_size - 1) / (heatmap_size - 1)`` per axis, float32 ``(2,)``."""
        return ops.input_to_map_scale(self.input_size, self.heatmap_size, convention="udp")

    def encode(self, keypoints, keypoints_visible=None) -> dict[str, jnp.ndarray]:
        """Encodes ``keypoints (1, K, D)`` into ``heatmaps`` ``(K, H, W)``
        (gaussian) or ``(3K, H, W)`` (combined) and ``keypoint_weights (1, K)``."""
        kp, vis = self._inputs(keypoints, keypoints_visible)
        kp_hm = ops.divide_exact(kp[..., :2], self.scale_factor)
        if self.heatmap_type == "gaussian":
            heatmaps, weights = ops.render_udp_gaussian_heatmaps(
                kp_hm, vis, self.heatmap_size, self.sigma,
                mmpose_compat=self.mmpose_compat, dtype=self.dtype,
            )
        else:
            heatmaps, weights = ops.render_udp_offset_maps(
                kp_hm, vis, self.heatmap_size, self.radius_factor, dtype=self.dtype
            )
        return {"heatmaps": heatmaps, "keypoint_weights": weights}

    def batch_decode(self, encoded) -> tuple[jnp.ndarray, jnp.ndarray]:
        """``decode`` over a batch ``(B, K, H, W)`` (gaussian) or ``(B, 3K, H, W)``
        (combined): ``keypoints (B, 1, K, 2)``, ``scores (B, 1, K)``. Gaussian
        maps are refined in one call, so the whole maps are blurred only if
        a keypoint of the batch needs it (see
        :func:`~jaxcodecs.ops.refine_keypoints_dark_udp`)."""
        if self.heatmap_type != "gaussian":
            return super().batch_decode(encoded)
        heatmaps = heatmap_input(type(self).__name__, "encoded", encoded, self.heatmap_size, batched=True)
        return self._decode_gaussian(heatmaps)

    def _decode_gaussian(self, heatmaps):
        """``heatmaps (..., K, H, W)`` -> ``keypoints (..., 1, K, 2)``, ``scores (..., 1, K)``."""
        locations, scores = ops.heatmap_argmax(heatmaps)
        keypoints = locations[..., None, :, :]
        if self.mmpose_compat:
            keypoints = ops.refine_keypoints_dark_udp(keypoints, heatmaps, self.blur_kernel_size, maxima=scores)
        else:
            keypoints = ops.refine_keypoints_dark_to_border(
                keypoints, heatmaps, self.blur_kernel_size, self.sigma, udp=True, maxima=scores
            )
        return keypoints * self._decode_scale(), scores[..., None, :]

    def _decode_scale(self) -> np.ndarray:
        convention = "udp_mmpose" if self.mmpose_compat else "udp"
        return ops.input_to_map_scale(self.input_size, self.heatmap_size, convention=convention)

    def decode(self, encoded) -> tuple[jnp.ndarray, jnp.ndarray]:
        """Decodes heatmaps into ``keypoints (1, K, 2)``, ``scores (1, K)``."""
        name = type(self).__name__
        if self.heatmap_type == "gaussian":
            return self._decode_gaussian(heatmap_input(name, "encoded", encoded, self.heatmap_size))
        else:
            maps = heatmap_input(name, "encoded", encoded, self.heatmap_size, channels_multiple=3)
            locations, scores = ops.decode_udp_offset_maps(
                maps, self.radius_factor, 2 * self.blur_kernel_size + 1
            )
            return locations[None] * self._decode_scale(), scores[None]


@register
class MegviiHeatmap(_TopDownHeatmap):
    """Blurred-impulse heatmaps of MSPN / RSN (Wang et al. 2019, Cai et al. 2020).

    Encode: each visible keypoint at heatmap pixel ``floor-ish(kp / scale)``
    becomes an impulse blurred with OpenCV's ``kernel_size`` Gaussian
    (reflect-101 border), normalised to 255 at the keypoint's pixel. Decode:
    the maps are blurred (zero padding, maximum kept), the maximum is moved a
    quarter pixel toward the higher neighbour plus half a pixel where both
    neighbours exist, and scores are ``max / 255 + 0.5``.

    Args:
      input_size: ``(w, h)``.
      heatmap_size: ``(W, H)``; ``scale_factor = input_size / heatmap_size``.
      kernel_size: odd size of the Gaussian blur (OpenCV's fixed tables for
        sizes up to 9).
      mmpose_compat: keyword-only; ``False`` floors negative coordinates
        (MMPose truncates, so ``-0.9`` lands on pixel 0).
      dtype: keyword-only dtype of the heatmaps.
    """

    kernel_size: int = codec_field(odd_kernel, static=True)

    @property
    def scale_factor(self) -> np.ndarray:
        """``input_size / heatmap_size`` per axis, float32 ``(2,)``."""
        return ops.input_to_map_scale(self.input_size, self.heatmap_size)

    def encode(self, keypoints, keypoints_visible=None) -> dict[str, jnp.ndarray]:
        """Encodes ``keypoints (1, K, D)`` into ``heatmaps (K, H, W)`` and
        ``keypoint_weights (1, K)``. A missing visibility means all visible."""
        kp, vis = self._inputs(keypoints, keypoints_visible)
        heatmaps, weights = ops.render_megvii_heatmaps(
            kp, vis, self.scale_factor, self.heatmap_size, self.kernel_size,
            mmpose_compat=self.mmpose_compat, dtype=self.dtype,
        )
        return {"heatmaps": heatmaps, "keypoint_weights": weights}

    def decode(self, encoded) -> tuple[jnp.ndarray, jnp.ndarray]:
        """Decodes ``heatmaps (K, H, W)`` into ``keypoints (1, K, 2)``, ``scores (1, K)``."""
        heatmaps = heatmap_input(type(self).__name__, "encoded", encoded, self.heatmap_size)
        blurred = ops.gaussian_blur_rescaled(heatmaps, self.kernel_size)
        locations, values = ops.heatmap_argmax(blurred)
        keypoints = ops.refine_keypoints_megvii(locations[None], blurred)
        scores = values / 255.0 + 0.5
        return keypoints * self.scale_factor, scores[None]
