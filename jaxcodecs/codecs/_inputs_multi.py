"""Checks of the call arguments of the multi-person codecs (the counterpart
of ``_inputs.py`` for model outputs that only bottom-up decoders read)."""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxcodecs.ops.numerics import constant_like
from jaxcodecs.ops.validation import as_float_array, check_rank, check_shape

__all__ = [
    "box_corners_input",
    "instance_decode_inputs",
    "jitter_input",
    "keypoint_order_input",
    "random_key_input",
    "selection_input",
    "tag_maps_input",
]


def tag_maps_input(tags, num_keypoints: int, heatmap_size: tuple[int, int], name: str = "tags") -> jnp.ndarray:
    """Tag maps ``(L * K, H, W)`` of the configured size whose channel count
    is a positive multiple of the heatmaps' ``K``."""
    width, height = heatmap_size
    expected = f"(L * K, H, W) = (L * {num_keypoints}, {height}, {width})"
    maps = as_float_array(tags, name)
    check_rank(maps, 3, name, expected)
    check_shape(maps, (None, height, width), name, expected)
    if maps.shape[0] == 0 or maps.shape[0] % num_keypoints != 0:
        raise ValueError(
            f"`{name}` must have a positive multiple of K = {num_keypoints} channels (the heatmaps' "
            f"keypoints), {expected}, got shape {maps.shape}."
        )
    return maps


def keypoint_order_input(order: Sequence[int], num_keypoints: int,
                         name: str = "decode_keypoint_order") -> tuple[int, ...]:
    """The grouping order: ``range(K)`` when empty, else a permutation of it."""
    if not order:
        return tuple(range(num_keypoints))
    if sorted(order) != list(range(num_keypoints)):
        raise ValueError(
            f"`{name}` must be a permutation of range(K) with K = {num_keypoints} (the heatmaps' "
            f"channels), got {tuple(order)!r}."
        )
    return tuple(order)


# ------------------------------------------------------ DecoupledHeatmap (CID)
def box_corners_input(bbox, num_instances: int, name: str = "bbox") -> jnp.ndarray | None:
    """Boxes as corners ``(N, 4, 2)``: any array of ``N * 8`` values (MMPose
    reshapes whatever it gets), e.g. ``(N, 8)`` or ``(N, 4, 2)``; ``None``
    stays ``None``."""
    if bbox is None:
        return None
    boxes = as_float_array(bbox, name)
    expected = f"(N, 4, 2) = ({num_instances}, 4, 2) corners (left-top, left-bottom, right-top, right-bottom)"
    if boxes.size != num_instances * 8 or (boxes.ndim >= 1 and num_instances and boxes.shape[0] != num_instances):
        raise ValueError(
            f"`{name}` must reshape to {expected}, one box per instance of `keypoints`, "
            f"got shape {tuple(boxes.shape)}."
        )
    return boxes.reshape(num_instances, 4, 2)


def jitter_input(jitter, num_instances: int, name: str = "jitter") -> jnp.ndarray | None:
    """Root offsets ``(N, 2)`` in ``{-1, 0, 1}``, checked by value when
    concrete; traced values are rounded and clipped to ``[-1, 1]``."""
    if jitter is None:
        return None
    expected = f"(N, 2) = ({num_instances}, 2) offsets in {{-1, 0, 1}}"
    if isinstance(jitter, jax.core.Tracer):
        values = jitter
    else:
        try:
            values = np.asarray(jitter)
        except (TypeError, ValueError):
            raise TypeError(f"`{name}` must be an array {expected}, got {type(jitter).__name__}.") from None
        if not (np.issubdtype(values.dtype, np.integer) or np.issubdtype(values.dtype, np.floating)):
            raise TypeError(f"`{name}` must be an array of numbers {expected}, got dtype {values.dtype}.")
    check_rank(values, 2, name, expected)
    check_shape(values, (num_instances, 2), name, expected)
    if isinstance(values, np.ndarray):
        bad = ~np.isin(values, (-1, 0, 1))
        if bad.any():
            raise ValueError(f"`{name}` must hold offsets in {{-1, 0, 1}}, got {values[bad][:4].tolist()}.")
        return jnp.asarray(values.astype(np.int32))
    return jnp.clip(jnp.round(values), -1, 1).astype(jnp.int32)


def selection_input(selection, size: int, name: str = "selection") -> jnp.ndarray | None:
    """Indices ``(M,)`` into a candidate list: integers, distinct and
    non-negative when concrete."""
    if selection is None:
        return None
    expected = f"(M,) = ({size},) distinct candidate indices (M = encode_max_instances)"
    values = selection if isinstance(selection, jax.core.Tracer) else np.asarray(selection)
    if not jnp.issubdtype(values.dtype, jnp.integer):
        raise TypeError(f"`{name}` must be integer indices {expected}, got dtype {values.dtype}.")
    check_rank(values, 1, name, expected)
    check_shape(values, (size,), name, expected)
    if isinstance(values, np.ndarray) and ((values < 0).any() or len(set(values.tolist())) != size):
        raise ValueError(f"`{name}` must hold distinct non-negative indices {expected}, got {values.tolist()}.")
    return jnp.asarray(values, jnp.int32)


def random_key_input(key, name: str = "key"):
    """A ``jax.random`` key: a typed key array of shape ``()`` or a raw
    ``uint32`` key ``(2,)``; ``None`` stays ``None``."""
    if key is None:
        return None
    arr = key if isinstance(key, (jax.Array, jax.core.Tracer)) else None
    if arr is None:
        raise TypeError(f"`{name}` must be a jax.random key (e.g. jax.random.key(0)), got {type(key).__name__}.")
    if jnp.issubdtype(arr.dtype, jax.dtypes.prng_key):
        if arr.shape != ():
            raise ValueError(f"`{name}` must be one key, shape (), got shape {arr.shape} "
                             "(batch_encode maps over a leading axis of keys).")
        return arr
    if arr.dtype != jnp.uint32 or arr.shape != (2,):
        raise ValueError(f"`{name}` must be a jax.random key: a typed key of shape () or a raw uint32 key "
                         f"(2,), got dtype {arr.dtype} and shape {arr.shape}.")
    return arr


def instance_decode_inputs(instance_heatmaps, instance_scores, instance_valid, heatmap_size: tuple[int, int]):
    """``instance_heatmaps (M, K, H, W)`` of the configured size,
    ``instance_scores (M, 1)`` or ``(M,)`` (returned as ``(M,)``) and
    ``instance_valid (M,)`` (default all true)."""
    width, height = heatmap_size
    maps = as_float_array(instance_heatmaps, "instance_heatmaps")
    expected = f"(M, K, H, W) = (M, K, {height}, {width})"
    check_rank(maps, 4, "instance_heatmaps", expected)
    check_shape(maps, (None, None, height, width), "instance_heatmaps", expected)
    rows = maps.shape[0]
    scores = as_float_array(instance_scores, "instance_scores")
    expected_scores = f"(M, 1) = ({rows}, 1) or ({rows},), one per block of `instance_heatmaps`"
    check_rank(scores, (1, 2), "instance_scores", expected_scores)
    check_shape(scores, (rows,) + (1,) * (scores.ndim - 1), "instance_scores", expected_scores)
    if instance_valid is None:
        # Derived from the scores, so that it is sharded like the batch.
        valid = constant_like(True, scores.reshape(rows), (rows,))
    else:
        valid = jnp.asarray(instance_valid)
        expected_valid = f"(M,) = ({rows},) bool"
        if valid.dtype != jnp.bool_:
            raise TypeError(f"`instance_valid` must be a bool array {expected_valid}, got dtype {valid.dtype}.")
        check_rank(valid, 1, "instance_valid", expected_valid)
        check_shape(valid, (rows,), "instance_valid", expected_valid)
    return maps, scores.reshape(rows), valid


def array_input(value, name: str) -> jnp.ndarray:
    """``value`` as a float JAX array; anything that is not a numeric array
    is a ``TypeError`` naming ``name``."""
    return as_float_array(value, name)
