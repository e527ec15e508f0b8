"""Configuration and input checks shared by the codec modules.

Constructor checks run in ``__post_init__``, which flax also runs when a codec
is rebuilt from its leaves (inside ``jit`` / ``vmap``); checks of pytree
leaves therefore only look at concrete Python / NumPy values and let tracers
pass.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from jaxcodecs.ops.validation import as_float_array, check_rank, check_same_leading, check_shape


def size_pair(owner: str, name: str, value: Any) -> tuple[int, int]:
    """``value`` as a ``(w, h)`` tuple of positive ints, else ``ValueError``."""
    try:
        pair = tuple(int(v) for v in value)
        exact = all(float(v) == int(v) for v in value)
    except (TypeError, ValueError):
        raise TypeError(f"{owner}: `{name}` must be a pair (w, h) of ints, got {value!r}.") from None
    if len(pair) != 2 or not exact or min(pair) < 1:
        raise ValueError(f"{owner}: `{name}` must be a pair (w, h) of positive ints, got {value!r}.")
    return pair


def odd_kernel(owner: str, name: str, value: Any) -> int:
    """``value`` as a positive odd int, else ``ValueError`` / ``TypeError``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{owner}: `{name}` must be an odd int, got {value!r}.")
    if value < 1 or value % 2 != 1:
        raise ValueError(f"{owner}: `{name}` must be a positive odd int, got {value!r}.")
    return int(value)


def float_dtype(owner: str, value: Any) -> np.dtype:
    """``value`` as a float NumPy dtype (e.g. ``"float32"``, ``jnp.bfloat16``)."""
    try:
        dtype = np.dtype(value)
    except TypeError:
        raise TypeError(f"{owner}: `dtype` must be a float dtype, got {value!r}.") from None
    if not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(f"{owner}: `dtype` must be a float dtype, got {dtype}.")
    return dtype


def is_concrete_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) or (
        isinstance(value, np.ndarray) and value.ndim == 0
    )


def non_negative_leaf(owner: str, name: str, value: Any) -> None:
    """Checks a float hyper-parameter when it is a concrete number."""
    if isinstance(value, bool):
        raise TypeError(f"{owner}: `{name}` must be a number, got {value!r}.")
    if is_concrete_number(value) and not (float(value) >= 0 and np.isfinite(float(value))):
        raise ValueError(f"{owner}: `{name}` must be finite and >= 0, got {value!r}.")


def instance_inputs(
    owner: str,
    keypoints: Any,
    keypoints_visible: Any,
    *,
    single_instance: bool,
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Validates ``keypoints (N, K, D)`` and ``keypoints_visible (N, K)``.

    A missing visibility means every keypoint is visible (float32 ones).

    Returns:
      ``(keypoints, visible)`` as float arrays.
    """
    kp = as_float_array(keypoints, "keypoints")
    check_rank(kp, 3, "keypoints", "(N, K, D)")
    if kp.shape[-1] < 2:
        raise ValueError(f"`keypoints` must have shape (N, K, D) with D >= 2, got shape {kp.shape}.")
    if single_instance and kp.shape[0] != 1:
        raise ValueError(
            f"{owner}: codecs of this family only support single-instance encoding: "
            f"`keypoints` must have shape (1, K, D), got shape {kp.shape}."
        )
    return kp, visibility_input(kp, keypoints_visible)


def visibility_input(kp: jnp.ndarray, keypoints_visible: Any) -> jnp.ndarray:
    """``keypoints_visible (N, K)`` checked against ``keypoints (N, K, D)``;
    a missing visibility means every keypoint is visible (float32 ones)."""
    if keypoints_visible is None:
        return jnp.ones(kp.shape[:2], jnp.float32)
    vis = as_float_array(keypoints_visible, "keypoints_visible")
    check_rank(vis, 2, "keypoints_visible", f"(N, K) = {kp.shape[:2]}")
    check_same_leading(kp, "keypoints", vis, "keypoints_visible", 2, f"(N, K) = {kp.shape[:2]}")
    return vis


def heatmap_input(
    owner: str, name: str, heatmaps: Any, heatmap_size: tuple[int, int], channels_multiple: int = 1
) -> jnp.ndarray:
    """Validates decode input ``(C, H, W)`` against the configured ``(W, H)``."""
    width, height = heatmap_size
    hm = as_float_array(heatmaps, name)
    expected = f"(K, H, W) = (K, {height}, {width})"
    if channels_multiple != 1:
        expected = f"({channels_multiple}K, {height}, {width})"
    check_rank(hm, 3, name, expected)
    check_shape(hm, (None, height, width), name, expected)
    if hm.shape[0] % channels_multiple != 0:
        raise ValueError(
            f"{owner}: `{name}` must have a multiple of {channels_multiple} channels "
            f"{expected}, got shape {hm.shape}."
        )
    return hm
