"""Checks of the call arguments of the multi-person codecs (the counterpart
of ``_inputs.py`` for model outputs that only bottom-up decoders read)."""

from __future__ import annotations

from typing import Sequence

import jax.numpy as jnp

from jaxcodecs.ops.validation import as_float_array, check_rank, check_shape

__all__ = ["keypoint_order_input", "tag_maps_input"]


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
