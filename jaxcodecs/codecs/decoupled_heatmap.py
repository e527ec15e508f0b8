"""DecoupledHeatmap: the targets of CID, Contextual Instance Decoupling for
Robust Multi-Person Pose Estimation (Wang et al., CVPR 2022).

CID finds people by their root (a global heatmap channel) and decodes each
one from its own set of heatmaps. Encode draws both targets: global heatmaps
of every keypoint plus the root, and per-instance heatmaps of a subset of the
people, each sized by its box. Decode reads one person's heatmaps at a time.

Coordinates: keypoints are ``(x, y)`` in pixels of the model input, a pixel's
centre at its integer coordinate; they go to the heatmap by dividing by
``scale_factor = input_size / heatmap_size`` and come back by multiplying.

Randomness is explicit: the root jitter and the sampling of instances come
from a ``jax.random`` key, or from given draws, never from global state.
"""

from __future__ import annotations

import types
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxcodecs import ops
from jaxcodecs.base import Codec, codec_field
from jaxcodecs.codecs._fields import float_dtype, one_of, open_unit_interval, positive_int, size_pair
from jaxcodecs.codecs._inputs import instance_inputs
from jaxcodecs.codecs._inputs_multi import (
    box_corners_input,
    instance_decode_inputs,
    jitter_input,
    random_key_input,
    selection_input,
)
from jaxcodecs.registry import register

__all__ = ["DecoupledHeatmap"]

_LABELS = types.MappingProxyType({
    "keypoint_weights": "keypoint_weights",
    "instance_coords": "instance_coords",
    "instance_valid": "instance_valid",
})
_FIELDS = types.MappingProxyType({
    "heatmaps": "heatmaps",
    "instance_heatmaps": "instance_heatmaps",
})


@register
class DecoupledHeatmap(Codec):
    """Global and per-instance heatmaps of CID (Wang et al., CVPR 2022).

    Encode, for ``keypoints (N, K, 2)`` in input pixels (and optionally each
    instance's box as four corners):

    * each instance's Gaussian sigma from its box
      (:func:`jaxcodecs.ops.box_instance_sigmas`, ``heatmap_min_overlap``);
      without ``bbox``, the box around its visible (``> 0``) keypoints;
    * ``heatmaps (K + 1, H, W)``: windowed Gaussians of every instance's
      keypoints and, last, its root (``root_type``: mean or box centre of its
      visible keypoints), each instance with its own sigma;
    * the instances to decouple: those whose root is drawn on the map, by
      ascending size, each with its root moved by a random offset in
      ``{-1, 0, 1}^2`` and clamped to the map; a root equal to an earlier one
      is dropped; beyond ``encode_max_instances`` a random subset, in random
      order (see ``encode``);
    * per selected instance ``r``: its keypoints' Gaussians alone,
      ``instance_heatmaps[r * K:(r + 1) * K]``, their weights
      ``keypoint_weights[r]`` and its root pixel ``instance_coords[r]``.

    Shapes are fixed: ``M = encode_max_instances`` rows, the selected
    instances first, ``instance_valid (M,)`` marking them, zeros in the other
    rows. ``instance_heatmaps`` is ``(M * K, H, W)`` as MMPose lays it out;
    ``.reshape(M, K, H, W)`` gives one block per instance.

    Decode reads ``instance_heatmaps (M, K, H, W)`` (one block per person,
    from the model) and ``instance_scores (M, 1)``: per person the maximum
    of each map, moved a quarter pixel towards the higher neighbour, times
    ``scale_factor``; ``scores = maxima * instance_scores``. Returns
    ``(keypoints (M, K, 2), scores (M, K), valid (M,))``.

    Args:
      input_size: ``(w, h)`` of the model input.
      heatmap_size: ``(W, H)`` of the maps.
      root_type: ``"kpt_center"`` or ``"bbox_center"``.
      heatmap_min_overlap: the overlap in ``(0, 1)`` behind the box sigmas
        (leaf).
      encode_max_instances: ``M``, the static number of instance rows.
      mmpose_compat: keyword-only. ``True`` reproduces MMPose 1.3.2's
        windowed Gaussians (rounding toward zero, the one-pixel peak shift
        for non-integer 3σ, weight 1 for a window ending at 0) and quarter-
        pixel refinement bounds; ``False``: Gaussians at the true pixel,
        symmetric bounds. A box of zero size (sigma 0) draws a unit impulse
        in both modes where MMPose draws NaN.
      dtype: keyword-only dtype of the heatmaps and weights.
    """

    input_size: tuple[int, int] = codec_field(size_pair, static=True)
    heatmap_size: tuple[int, int] = codec_field(size_pair, static=True)
    root_type: str = codec_field(one_of("kpt_center", "bbox_center"), static=True, default="kpt_center")
    heatmap_min_overlap: Any = codec_field(open_unit_interval, default=0.7)
    encode_max_instances: int = codec_field(positive_int, static=True, default=30)
    dtype: Any = codec_field(float_dtype, static=True, default="float32", kw_only=True)

    auxiliary_encode_keys = frozenset({"bbox"})
    # Checked by value on the host when concrete (offsets in {-1, 0, 1}, distinct indices).
    eager_host_arguments = frozenset({"jitter", "selection"})
    label_mapping_table = _LABELS
    field_mapping_table = _FIELDS
    # decode reads the model's instance scores, which encode does not make.
    decode_input_keys = ()
    decode_outputs = ("keypoints", "scores", "valid")

    @property
    def scale_factor(self) -> np.ndarray:
        """``input_size / heatmap_size`` per axis, float32 ``(2,)``."""
        return ops.input_to_map_scale(self.input_size, self.heatmap_size)

    # ------------------------------------------------------------ encode
    def encode(self, keypoints, keypoints_visible=None, bbox=None, *, key=None, jitter=None,
               selection=None) -> dict[str, jnp.ndarray]:
        """Encodes one image's people.

        Args:
          keypoints: ``(N, K, 2)`` in input pixels; a non-finite keypoint is
            invisible.
          keypoints_visible: ``(N, K)``, default ones.
          bbox: each instance's box as corners left-top, left-bottom,
            right-top, right-bottom in input pixels: any array of ``N * 8``
            values that reshapes to ``(N, 4, 2)``. Default (and for an
            instance with a non-finite corner): the box around its visible
            keypoints.
          key: keyword-only ``jax.random`` key for the draws not given
            below (for ``batch_encode``, one key per sample:
            ``jax.random.split(key, B)``).
          jitter: keyword-only ``(N, 2)`` root offsets in ``{-1, 0, 1}``,
            indexed by input instance. Default: drawn from ``key``, or none.
          selection: keyword-only ``(M,)`` distinct indices into the list of
            candidates (in visiting order), used only when there are more
            than ``M`` candidates: row ``r`` takes candidate
            ``selection[r]`` (what Python's ``random.sample(range(C), M)``
            returns). Default: a uniform random subset in random order from
            ``key``, or without a key the first ``M``. A row whose index is
            not a candidate stays empty.

        Returns:
          ``heatmaps (K + 1, H, W)``, ``instance_heatmaps (M * K, H, W)``,
          ``keypoint_weights (M, K)``, ``instance_coords (M, 2)`` int32
          (root pixel, ``(x, y)``), ``instance_valid (M,)`` bool.
        """
        owner = type(self).__name__
        kp, vis = instance_inputs(owner, keypoints, keypoints_visible, single_instance=False)
        num = kp.shape[0]
        corners = box_corners_input(bbox, num)
        offsets = jitter_input(jitter, num)
        chosen = selection_input(selection, self.encode_max_instances)
        key = random_key_input(key)
        priorities = None
        if key is not None and (offsets is None or chosen is None):
            jitter_key, sample_key = jax.random.split(key)
            if offsets is None:
                offsets = jax.random.randint(jitter_key, (num, 2), -1, 2, dtype=jnp.int32)
            if chosen is None and num > self.encode_max_instances:
                priorities = jax.random.uniform(sample_key, (num,))
        if offsets is None:
            offsets = jnp.zeros((num, 2), jnp.int32)
        arrays = (kp, vis, corners, offsets, chosen, priorities)
        if any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves(arrays)):
            return self._encode(*arrays)  # traced by the caller's jit / vmap: inline
        return _encode(self, *arrays)

    def _encode(self, kp, vis, corners, offsets, chosen, priorities) -> dict[str, jnp.ndarray]:
        work = jnp.promote_types(kp.dtype, jnp.float32)
        kp, vis = kp.astype(work), vis.astype(work)
        if kp.shape[0] == 0:
            # One invisible instance draws nothing, is never selected and
            # keeps every shape valid.
            kp = jnp.zeros((1,) + kp.shape[1:], work)
            vis = jnp.zeros((1,) + vis.shape[1:], work)
            offsets = jnp.zeros((1, 2), offsets.dtype)
            corners = None if corners is None else jnp.zeros((1, 4, 2), corners.dtype)
        scale = jnp.asarray(self.scale_factor, work)
        # The pseudo box is taken in input pixels and then scaled, as MMPose.
        pseudo = ops.instance_box_corners(kp, vis)
        if corners is None:
            corners = pseudo
        else:
            corners = corners.astype(work)
            finite = jnp.all(jnp.isfinite(corners), axis=(1, 2))
            corners = jnp.where(finite[:, None, None], corners, pseudo)
        kp = ops.divide_exact(kp, scale)
        corners = ops.divide_exact(corners, scale)
        sigmas = ops.box_instance_sigmas(corners, self.heatmap_min_overlap)
        roots, roots_visible = ops.instance_roots(kp, vis, self.root_type)
        # A root that overflows (a mean of huge coordinates) is no root.
        finite_root = jnp.all(jnp.isfinite(roots), axis=-1)
        roots = jnp.where(finite_root[:, None], roots, jnp.zeros_like(roots))
        roots_visible = jnp.where(finite_root, roots_visible, jnp.zeros_like(roots_visible))
        render = dict(mmpose_compat=self.mmpose_compat, dtype=self.dtype)
        heatmaps, weights = ops.render_gaussian_heatmaps(
            jnp.concatenate([kp, roots[:, None]], axis=1),
            jnp.concatenate([vis, roots_visible[:, None]], axis=1),
            self.heatmap_size, sigmas, **render)
        diagonals = ops.instance_diagonal_lengths(kp, vis)
        instance, coords, valid, _ = ops.select_jittered_roots(
            roots, weights[:, -1] >= 1, diagonals, offsets, self.heatmap_size,
            self.encode_max_instances, chosen, priorities)

        def one(points, visible, sigma):
            maps, weight = ops.render_gaussian_heatmaps(points[None], visible[None], self.heatmap_size,
                                                        sigma, **render)
            return maps, weight[0]

        rows_vis = jnp.where(valid[:, None], vis[instance], jnp.zeros((), vis.dtype))
        maps, row_weights = jax.vmap(one)(kp[instance], rows_vis, sigmas[instance])
        width, height = self.heatmap_size
        pixels = jnp.trunc(coords) if self.mmpose_compat else jnp.floor(coords)
        return {
            "heatmaps": heatmaps,
            "instance_heatmaps": maps.reshape(-1, height, width),
            "keypoint_weights": row_weights.astype(self.dtype),
            "instance_coords": jnp.where(valid[:, None], pixels, 0).astype(jnp.int32),
            "instance_valid": valid,
        }

    # ------------------------------------------------------------ decode
    def decode(self, instance_heatmaps, instance_scores, *, instance_valid=None):
        """Decodes ``instance_heatmaps (M, K, H, W)`` (one block of K maps
        per instance) and ``instance_scores (M, 1)`` (or ``(M,)``) into
        ``(keypoints (M, K, 2), scores (M, K), valid (M,))``.

        ``instance_valid`` (keyword-only, ``(M,)`` bool, default all true)
        marks the rows that hold an instance; the others decode to zeros
        and ``valid`` false. ``M = 0`` gives empty outputs."""
        maps, scores, valid = instance_decode_inputs(instance_heatmaps, instance_scores, instance_valid,
                                                     self.heatmap_size)
        locations, maxima = ops.heatmap_argmax(maps)
        refine = jax.vmap(lambda points, hm: ops.refine_keypoints_quarter(
            points[None], hm, mmpose_compat=self.mmpose_compat)[0])
        keypoints = refine(locations, maps) if maps.shape[0] else locations
        keypoints = keypoints * jnp.asarray(self.scale_factor, keypoints.dtype)
        keypoint_scores = maxima * scores[:, None].astype(maxima.dtype)
        keypoints = jnp.where(valid[:, None, None], keypoints, jnp.zeros_like(keypoints))
        keypoint_scores = jnp.where(valid[:, None], keypoint_scores, jnp.zeros_like(keypoint_scores))
        return keypoints, keypoint_scores, valid


# An eager encode runs inside one jitted function of the codec (a pytree:
# configuration static, hyper-parameters traced), so that eager calls reuse
# one compilation per configuration and shape; under the caller's jit it is
# traced inline (a nested jit would copy the targets out of the inner call).
_encode = jax.jit(lambda codec, *arrays: codec._encode(*arrays))
