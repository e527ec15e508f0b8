"""Associative Embedding (Newell et al., NeurIPS 2017), the bottom-up codec
of HigherHRNet-style models.

Encode draws every person's keypoints into one heatmap per keypoint type
(windowed Gaussians, or UDP's sub-pixel ones) and records each keypoint's
flat pixel index, where the model's tag maps are read during training.

Decode finds every person in one image from the heatmaps and the tag maps,
fully jitted at fixed shapes: max-pool NMS, the top-k peaks of each keypoint
type, grouping keypoint type by type by tag distance (a fixed-size linear
assignment per type), refinement, the fill-in of each person's missing
keypoints, and the scale back to input pixels. The number of people is
data-dependent, so decode returns ``decode_max_instances`` rows and a
``valid`` mask.
"""

from __future__ import annotations

import functools
import types
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxcodecs import ops
from jaxcodecs.base import Codec, FieldAt, codec_field
from jaxcodecs.codecs._fields import (
    finite_float,
    flag,
    float_dtype,
    int_tuple,
    non_negative,
    odd_kernel,
    optional_positive_int,
    positive_float,
    positive_int,
    size_pair,
)
from jaxcodecs.codecs._inputs import heatmap_input, instance_inputs
from jaxcodecs.codecs._inputs_multi import array_input, keypoint_order_input, tag_maps_input
from jaxcodecs.registry import register

__all__ = ["AssociativeEmbedding"]


def _auto_sigma(value: Any, at: FieldAt) -> Any:
    """``None`` becomes ``sqrt(W * H) / 64`` of the heatmap size."""
    if value is None:
        width, height = at.codec.heatmap_size
        return float((width * height) ** 0.5 / 64)
    return non_negative(value, at)


@register
class AssociativeEmbedding(Codec):
    """Heatmaps and keypoint indices for Associative Embedding; decode by
    tag grouping.

    Encode (one image, ``N`` people): keypoints are divided by
    ``scale_factor`` (``input_size / heatmap_size``, with ``use_udp``
    ``(input_size - 1) / (heatmap_size - 1)``) and drawn into ``heatmaps
    (K, H, W)``, max-combined over people; ``keypoint_weights (N, K)`` as
    for :class:`~jaxcodecs.MSRAHeatmap`; ``keypoint_indices (N, K, 2)``
    int32 holds ``[y * W + x, v]`` with ``(x, y)`` the keypoint's pixel
    (``trunc(kp + 0.5)``; floor with ``mmpose_compat=False``) and ``v = 1``
    if the keypoint is visible (``> 0.5``) and on the map. The index is kept
    even where ``v = 0`` (it may be negative or past the map); coordinates
    beyond ±32768 pixels are clamped there first.

    Decode (one image): ``decode(heatmaps (K, H, W), tags (L * K, H, W))``,
    channel ``l * K + k`` of the tags being tag dimension ``l`` of keypoint
    ``k``. Returns ``(keypoints (M, K, 2), keypoint_scores (M, K),
    instance_scores (M,), valid (M,))`` in input pixels, ``M =
    decode_max_instances``; without it ``M = K * decode_topk``, the most
    groups the grouping can open (every candidate of every keypoint type
    opening its own): set ``decode_max_instances`` — the fill-in and the
    outputs scale with ``M``. Rows past the people found are zeros with
    ``valid = False``. The steps:

    1. max-pool NMS (``decode_nms_kernel``) and the ``decode_topk`` highest
       peaks of each heatmap with their tags;
    2. grouping in ``decode_keypoint_order`` (default ``range(K)``), see
       :func:`jaxcodecs.ops.group_keypoints_by_tags`; candidates need a
       value ``> decode_keypoint_thr`` and join a group when their tag lies
       within ``decode_tag_thr`` of the group's mean tag;
    3. ``instance_scores`` = mean keypoint score (missing keypoints count 0);
    4. quarter-pixel refinement, or with ``use_udp`` UDP's DARK step
       (``decode_gaussian_kernel``), then ``decode_center_shift`` added to
       the detected keypoints;
    5. each missing keypoint placed at the pixel whose tag is nearest to the
       person's tag (:func:`jaxcodecs.ops.fill_missing_keypoints_by_tags`);
    6. times ``scale_factor``.

    ``mmpose_compat=True`` keeps MMPose 1.3.2's answers: the first
    ``decode_max_instances`` groups in the order they were opened (rows past
    the pool of ``K * decode_topk`` groups empty), and with ``use_udp`` the
    fill-in scored on the blurred, clipped log-heatmaps that MMPose's
    refinement leaves behind (where MMPose's map is NaN, an all-zero
    channel, the keypoint at pixel ``(0, 0)`` as MMPose's, with the score
    ``log(1e-3)`` instead of NaN). ``mmpose_compat=False`` keeps the
    best-scored groups (equal scores in the order they were opened; rows
    past the pool are left empty) and fills from the heatmaps themselves;
    encode floors negative coordinates and centres Gaussians exactly (see
    :class:`~jaxcodecs.MSRAHeatmap`).

    Args:
      input_size: ``(w, h)``.
      heatmap_size: ``(W, H)``.
      sigma: Gaussian standard deviation in heatmap pixels (leaf); ``None``
        gives ``sqrt(W * H) / 64``.
      use_udp: UDP encoding (sub-pixel Gaussians, ``size - 1`` scale) and
        UDP refinement.
      decode_keypoint_order: grouping order, a permutation of ``range(K)``;
        empty means ``range(K)``.
      decode_nms_kernel, decode_gaussian_kernel: odd kernel sizes.
      decode_keypoint_thr: candidate threshold (leaf).
      decode_tag_thr: largest tag distance at which a candidate joins (leaf).
      decode_topk: candidates per keypoint type.
      decode_center_shift: added to refined coordinates, in heatmap pixels
        (leaf).
      decode_max_instances: the static number of rows decode returns.
      mmpose_compat: keyword-only, see above.
      dtype: keyword-only dtype of the heatmaps.
    """

    input_size: tuple[int, int] = codec_field(size_pair, static=True)
    heatmap_size: tuple[int, int] = codec_field(size_pair, static=True)
    sigma: Any = codec_field(_auto_sigma, default=None)
    use_udp: bool = codec_field(flag, static=True, default=False)
    decode_keypoint_order: tuple[int, ...] = codec_field(int_tuple, static=True, default=())
    decode_nms_kernel: int = codec_field(odd_kernel, static=True, default=5)
    decode_gaussian_kernel: int = codec_field(odd_kernel, static=True, default=3)
    decode_keypoint_thr: Any = codec_field(finite_float, default=0.1)
    decode_tag_thr: Any = codec_field(positive_float, default=1.0)
    decode_topk: int = codec_field(positive_int, static=True, default=30)
    decode_center_shift: Any = codec_field(finite_float, default=0.0)
    decode_max_instances: int | None = codec_field(optional_positive_int, static=True, default=None)
    dtype: Any = codec_field(float_dtype, static=True, default="float32", kw_only=True)

    label_mapping_table = types.MappingProxyType(
        {"keypoint_weights": "keypoint_weights", "keypoint_indices": "keypoint_indices"})
    field_mapping_table = types.MappingProxyType({"heatmaps": "heatmaps"})
    # decode reads the tag maps, which a model predicts and encode does not make.
    decode_input_keys = ()
    decode_outputs = ("keypoints", "keypoint_scores", "instance_scores", "valid")

    def check_config(self) -> None:
        if self.use_udp and min(self.input_size + self.heatmap_size) < 2:
            raise ValueError(
                f"AssociativeEmbedding: with `use_udp` the sizes must be at least 2 pixels on each "
                f"axis (UDP scales by size - 1), got input_size={self.input_size!r}, "
                f"heatmap_size={self.heatmap_size!r}."
            )
        width, height = self.heatmap_size
        if self.decode_topk > width * height:
            raise ValueError(
                f"AssociativeEmbedding: `decode_topk` must be at most W * H = {width * height} "
                f"(the heatmap's pixels), got {self.decode_topk!r}."
            )

    @property
    def scale_factor(self) -> np.ndarray:
        """Input pixels per heatmap pixel, float32 ``(2,)``."""
        convention = "udp" if self.use_udp else "msra"
        return ops.input_to_map_scale(self.input_size, self.heatmap_size, convention=convention)

    # ---------------------------------------------------------------- encode
    def encode(self, keypoints, keypoints_visible=None) -> dict[str, jnp.ndarray]:
        """Encodes ``keypoints (N, K, 2)`` (input pixels) into ``heatmaps (K, H, W)``,
        ``keypoint_indices (N, K, 2)`` int32 and ``keypoint_weights (N, K)``;
        ``N = 0`` gives zero heatmaps."""
        kp, vis = instance_inputs(type(self).__name__, keypoints, keypoints_visible, single_instance=False)
        people = kp.shape[0]
        if people == 0:
            # One invisible person draws nothing and keeps the renderer's
            # shapes valid (its max over people needs one); cut off below.
            kp = jnp.zeros((1,) + kp.shape[1:], kp.dtype)
            vis = jnp.zeros((1,) + vis.shape[1:], vis.dtype)
        kp_hm = ops.divide_exact(kp, self.scale_factor)
        render = ops.render_udp_gaussian_heatmaps if self.use_udp else ops.render_gaussian_heatmaps
        heatmaps, weights = render(kp_hm, vis, self.heatmap_size, self.sigma,
                                   mmpose_compat=self.mmpose_compat, dtype=self.dtype)
        width, height = self.heatmap_size
        rounding = jnp.trunc if self.mmpose_compat else jnp.floor
        pixel = jnp.clip(rounding(kp_hm + 0.5), -32768, 32768).astype(jnp.int32)
        x, y = pixel[..., 0], pixel[..., 1]
        on_map = (vis > 0.5) & (x >= 0) & (x < width) & (y >= 0) & (y < height)
        indices = jnp.stack([y * width + x, on_map.astype(jnp.int32)], axis=-1)
        return {"heatmaps": heatmaps, "keypoint_indices": indices[:people], "keypoint_weights": weights[:people]}

    # ---------------------------------------------------------------- decode
    def _inputs_of(self, heatmaps, tags):
        heatmaps = heatmap_input(type(self).__name__, "heatmaps", heatmaps, self.heatmap_size)
        num_types = heatmaps.shape[0]
        if num_types == 0:
            raise ValueError(
                f"AssociativeEmbedding: `heatmaps` must have at least one keypoint channel (K, H, W), got "
                f"shape {heatmaps.shape}."
            )
        tags = tag_maps_input(tags, num_types, self.heatmap_size).astype(heatmaps.dtype)
        return heatmaps, tags, keypoint_order_input(self.decode_keypoint_order, num_types)

    def _capacity(self, num_types: int) -> int:
        """The group pool: one group per candidate can never overflow."""
        return num_types * self.decode_topk

    def _candidates(self, heatmaps, tags):
        """The top-k NMS peaks of each type: values (K, T), locations
        (K, T, 2) and tags (K, T, L)."""
        num_types, _, width = heatmaps.shape
        peaks = ops.heatmap_nms(heatmaps, self.decode_nms_kernel)
        values, locations, indices = ops.topk_peaks(peaks, self.decode_topk)
        # Channel l * K + k is tag dimension l of keypoint k; gathered by
        # index (no reshape of the maps, which a batch-sharded jit refuses).
        dim = tags.shape[0] // num_types
        channel = jnp.arange(num_types)[:, None, None] + num_types * jnp.arange(dim)[None, None, :]
        row, col = jax.lax.div(indices, width), jax.lax.rem(indices, width)  # not negative
        picked = tags[channel, row[..., None], col[..., None]]  # (K, T, L)
        return values, locations, picked

    def _group(self, candidates, order, capacity):
        return ops.group_keypoints_by_tags(*candidates, order, self.decode_keypoint_thr,
                                           self.decode_tag_thr, capacity)

    def _finish(self, groups, heatmaps, tags):
        """Selection of the output rows, refinement, fill-in and scaling."""
        capacity = groups.scores.shape[0]
        rows = capacity if self.decode_max_instances is None else self.decode_max_instances
        keypoints, scores = groups.keypoints, groups.scores
        valid = jnp.arange(capacity) < groups.count
        instance_scores = jnp.mean(scores, axis=-1)
        if self.mmpose_compat:
            # MMPose keeps its first groups; it has no more than the pool
            # holds, so the rows past a smaller pool are empty (the gather
            # below fills indices past the pool with zeros).
            keep = jnp.arange(rows)
        else:
            # The best rows, equal scores in pool order: lax.top_k (fewer
            # kernels to compile than a sort). A group's score is never NaN
            # or -inf (it holds values above the threshold, or zeros), so
            # only -0, which top_k ranks below 0, needs making equal.
            # A pool smaller than `rows` leaves the last rows empty (their
            # index is past the pool: the gather fills them with zeros).
            ranking = jnp.where(valid, jnp.where(instance_scores == 0, 0, instance_scores), -jnp.inf)
            keep = jax.lax.top_k(ranking, min(rows, capacity))[1]
            if rows > capacity:
                keep = jnp.concatenate([keep, jnp.full((rows - capacity,), capacity, keep.dtype)])
        if self.mmpose_compat and rows <= capacity:  # the first rows: slices, no gather
            keypoints, scores, instance_scores, valid = (x[:rows] for x in (keypoints, scores, instance_scores, valid))
        else:
            # One gather of the kept rows (locations, scores, instance score, valid).
            num_types = scores.shape[1]
            rows_kept = jnp.concatenate([keypoints.reshape(capacity, 2 * num_types), scores, instance_scores[:, None],
                                         valid[:, None].astype(scores.dtype)], axis=1)
            rows_kept = rows_kept.at[keep].get(mode="fill", fill_value=0) if rows > capacity else rows_kept[keep]
            keypoints = rows_kept[:, :2 * num_types].reshape(rows, num_types, 2).astype(keypoints.dtype)
            scores = rows_kept[:, 2 * num_types:3 * num_types].astype(scores.dtype)
            instance_scores, valid = rows_kept[:, -2].astype(scores.dtype), rows_kept[:, -1] > 0
        cost_maps = None
        if self.use_udp and self.mmpose_compat:
            # What MMPose's UDP refinement leaves in the maps it fills from;
            # the refinement reads its values there too.
            cost_maps = jnp.log(jnp.clip(ops.gaussian_blur_rescaled(heatmaps, self.decode_gaussian_kernel),
                                         1e-3, 50.0))
        if self.use_udp:
            keypoints = ops.refine_keypoints_dark_udp(keypoints, heatmaps, self.decode_gaussian_kernel,
                                                     lazy=False, log_maps=cost_maps)  # vmapped by batch_decode
        else:
            keypoints = ops.refine_keypoints_quarter(keypoints, heatmaps, mmpose_compat=self.mmpose_compat)
        shift = jnp.where(scores > 0, self.decode_center_shift, 0.0).astype(keypoints.dtype)
        keypoints = keypoints + shift[..., None]
        missing = valid[:, None] & (scores <= 0) & jnp.any(scores > 0, axis=1, keepdims=True)  # what is filled
        keypoints, scores = ops.fill_missing_keypoints_by_tags(keypoints, scores, valid, heatmaps, tags, cost_maps)
        if cost_maps is not None:
            # MMPose rescales a blurred channel by max / blurred max, 0 / 0 =
            # NaN where both are 0 (an all-zero channel): its fill-in cost map
            # is all NaN, whose argmin is the first pixel, (0, 0).
            blurred = ops.gaussian_blur(heatmaps, self.decode_gaussian_kernel, border="zero")
            nan_maps = (jnp.max(heatmaps, axis=(1, 2)) == 0) & (jnp.max(blurred, axis=(1, 2)) == 0)
            keypoints = jnp.where((missing & nan_maps)[..., None], jnp.zeros((), keypoints.dtype), keypoints)
        keypoints = keypoints * self.scale_factor
        zero = jnp.zeros((), keypoints.dtype)
        return (jnp.where(valid[:, None, None], keypoints, zero), jnp.where(valid[:, None], scores, zero),
                jnp.where(valid, instance_scores, zero), valid)

    def decode(self, heatmaps, tags) -> tuple[jnp.ndarray, ...]:
        """Decodes one image's ``heatmaps (K, H, W)`` and ``tags (L * K, H,
        W)`` into ``(keypoints (M, K, 2), keypoint_scores (M, K),
        instance_scores (M,), valid (M,))`` (see the class docs)."""
        heatmaps, tags, _ = self._inputs_of(heatmaps, tags)
        if _traced(heatmaps, tags):
            return self._decode_image(heatmaps, tags)  # inside the caller's jit / vmap: inline
        return _decode_image(self, heatmaps, tags)

    def batch_decode(self, batch_heatmaps, batch_tags) -> tuple[jnp.ndarray, ...]:
        """``decode`` over a batch: ``batch_heatmaps (B, K, H, W)``,
        ``batch_tags (B, L * K, H, W)`` (MMPose's argument names); every
        output gets the leading ``B``. Equal to ``decode`` image by image."""
        heatmaps = array_input(batch_heatmaps, "batch_heatmaps")
        tags = array_input(batch_tags, "batch_tags")
        if heatmaps.ndim != 4 or tags.ndim != 4 or heatmaps.shape[0] != tags.shape[0]:
            raise ValueError(
                f"`batch_heatmaps` (B, K, H, W) and `batch_tags` (B, L * K, H, W) must share B, got "
                f"shapes {heatmaps.shape} and {tags.shape}."
            )
        heatmaps, tags, _ = jax.vmap(self._inputs_of, out_axes=(0, 0, None))(heatmaps, tags)
        if _traced(heatmaps, tags):
            return self._decode_batch(heatmaps, tags)
        return _decode_batch(self, heatmaps, tags)

    def _decode_image(self, heatmaps, tags):
        order = keypoint_order_input(self.decode_keypoint_order, heatmaps.shape[0])
        candidates = self._candidates(heatmaps, tags)
        groups = self._group(candidates, order, self._capacity(heatmaps.shape[0]))
        return self._finish(groups, heatmaps, tags)

    def _decode_batch(self, heatmaps, tags):
        batch = heatmaps.shape[0]
        chunks, size = _grouping_chunks(batch, self.decode_topk * self._capacity(heatmaps.shape[1]))
        if chunks == 1 or jax.typeof(heatmaps).sharding.spec[0] is not None:
            # (A batch explicitly sharded over devices is already split.)
            return self._decode_chunk(heatmaps, tags)
        # Chunks are for a CPU's cache. A GPU runs each grouping step as a
        # few kernels over the whole batch: chunked, it would launch them
        # once per chunk (16 times at B = 1024).
        return jax.lax.platform_dependent(heatmaps, tags, cpu=functools.partial(self._decode_chunked, size=size),
                                          default=self._decode_chunk)

    def _decode_chunked(self, heatmaps, tags, *, size):
        batch = heatmaps.shape[0]
        chunks = -(-batch // size)
        # A large batch is decoded a chunk of `size` images at a time, so
        # that the (images, candidates, groups) arrays of a grouping step
        # stay in cache. Every chunk has the same size: the last one starts
        # at batch - size (dynamic slices clamp their start), overlapping
        # the one before it and writing the same values for the images
        # they share; nothing is padded or copied. The loop's body is the
        # unchunked decode of `size` images, so a large batch compiles
        # about the same program as a small one.
        # The chunks' outputs go into one array of rows (locations, scores,
        # instance score, valid), unpacked after the loop: each array the
        # loop carries costs a kernel to initialise and one to update.
        shapes = jax.eval_shape(self._decode_chunk, heatmaps[:size], tags[:size])
        dtype = functools.reduce(jnp.promote_types, [s.dtype for s in shapes[:3]])
        rows, num_types = shapes[1].shape[1:]

        def step(index, packed):
            start = index * size
            keypoints, scores, instance_scores, valid = self._decode_chunk(
                *(jax.lax.dynamic_slice_in_dim(a, start, size) for a in (heatmaps, tags)))
            chunk = jnp.concatenate([keypoints.reshape(size, rows, 2 * num_types).astype(dtype), scores.astype(dtype),
                                     instance_scores[..., None].astype(dtype), valid[..., None].astype(dtype)], axis=-1)
            return jax.lax.dynamic_update_slice_in_dim(packed, chunk, start, 0)

        packed = jax.lax.fori_loop(0, chunks, step, jnp.zeros((batch, rows, 3 * num_types + 2), dtype))
        return (packed[..., :2 * num_types].reshape(batch, rows, num_types, 2).astype(shapes[0].dtype),
                packed[..., 2 * num_types:3 * num_types].astype(shapes[1].dtype),
                packed[..., -2].astype(shapes[2].dtype), packed[..., -1] > 0)

    def _decode_chunk(self, heatmaps, tags):
        # One grouping, in the pool that cannot overflow: its per-step work
        # is vectorised over the pool (no scalar reductions or sorts of
        # pool length), so a small pool with a full-pool fallback would save
        # little run time and cost a second copy of the grouping loop, the
        # larger part of the compile time (benchmarks/NOTES.md).
        order = keypoint_order_input(self.decode_keypoint_order, heatmaps.shape[1])
        capacity = self._capacity(heatmaps.shape[1])
        candidates = jax.vmap(self._candidates)(heatmaps, tags)
        groups = jax.vmap(lambda c: self._group(c, order, capacity))(candidates)
        return jax.vmap(self._finish)(groups, heatmaps, tags)


# A batched grouping step works on (images, candidates, groups) arrays; about
# this many cells (4 MB of float32) per chunk keeps them in cache: measured on
# the 2-core CPU, B = 256 took 1.2x as long per image as B = 64 unchunked.
_GROUPING_CHUNK_CELLS = 1 << 20


def _grouping_chunks(batch: int, cells_per_image: int) -> tuple[int, int]:
    """``(chunks, images per chunk)`` for decoding ``batch`` images, the
    chunks as small as possible (the last overlapping the one before); one
    chunk for a symbolic batch size (an exported decoder)."""
    most = max(1, _GROUPING_CHUNK_CELLS // max(cells_per_image, 1))
    if not isinstance(batch, int) or batch <= most:  # a symbolic batch (export) is not split
        return 1, batch
    chunks = -(-batch // most)
    return chunks, -(-batch // chunks)


# An eager decode runs its loops (scan, while, cond) inside one jitted
# function of the codec (a pytree: its configuration static, its thresholds
# traced), so that eager calls reuse one compilation per configuration and
# shape instead of tracing new loop bodies each time. Under the caller's jit
# or vmap, decode is traced inline (as SPR's encode), so that XLA sees one
# program.
def _traced(*arrays) -> bool:
    return any(isinstance(a, jax.core.Tracer) for a in arrays)



_decode_image = jax.jit(lambda codec, heatmaps, tags: codec._decode_image(heatmaps, tags))
_decode_batch = jax.jit(lambda codec, heatmaps, tags: codec._decode_batch(heatmaps, tags))
