"""Checks of the arguments codecs are called with, against their configuration.

The one place where a codec validates what ``encode`` / ``decode`` receive
(its constructor fields are converted by ``_fields.py``). Every function here
is built on :mod:`jaxcodecs.ops.validation`, runs at trace time on static
shapes, and raises ``ValueError`` / ``TypeError`` naming the argument, what it
got and what was expected. The ops the codecs then call validate their own
arguments generically; they never repeat a check written here.
"""

from __future__ import annotations

from typing import Any, Iterable

import jax.numpy as jnp
import numpy as np

from jaxcodecs.ops.validation import (
    as_float_array,
    as_parameter,
    check_axis_size,
    check_rank,
    check_same_leading,
    check_shape,
)


def per_axis_input(value: Any, name: str, *, concrete_for: str | None = None) -> tuple[Any, Any]:
    """``(x, y)`` values of a scalar or per-axis hyper-parameter (``sigma``,
    ``beta``): Python floats when concrete, traced scalars otherwise.

    With ``concrete_for`` (what needs the value on the host, e.g. a blur size
    derived from it) a traced value raises ``TypeError`` saying so.
    """
    pair = as_parameter(value, name, (2,), host=True, expected="(2,) (x, y)")
    if isinstance(pair, np.ndarray):
        return float(pair[0]), float(pair[1])
    if concrete_for is not None:
        raise TypeError(
            f"{concrete_for}, which is traced here, got a tracer for `{name}`; close over the codec "
            "(e.g. `jax.jit(codec.decode)`) instead of passing it as a traced argument."
        )
    return pair[0], pair[1]


def method_input(owner: str, method: Any, allowed: Iterable[str]) -> str:
    """``method`` when it is one of ``allowed``, else ``ValueError``."""
    allowed = tuple(allowed)
    if method not in allowed:
        raise ValueError(f"{owner}: `method` must be one of {allowed}, got {method!r}.")
    return method


# ------------------------------------------------------------- 2-D keypoints
def finite_points(points: jnp.ndarray, visible: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """The NaN rule: a point with a NaN or ±Inf coordinate (or visibility)
    becomes an invisible point at the origin.

    MMPose lets such a point turn its targets into NaN, which poisons a whole
    training batch (a zero weight times NaN is NaN). Here its visibility is 0
    (so its weight is 0 and nothing is painted) and its coordinates 0 (so
    every label derived from it is finite). Finite points are untouched, and
    gradients flow to them as before.

    Args:
      points: ``(..., K, D)``.
      visible: ``(..., K)``.
    """
    finite = jnp.all(jnp.isfinite(points), axis=-1) & jnp.isfinite(visible)
    points = jnp.where(finite[..., None], points, jnp.zeros_like(points))
    visible = jnp.where(finite, visible, jnp.zeros_like(visible))
    return points, visible


def instance_inputs(
    owner: str,
    keypoints: Any,
    keypoints_visible: Any,
    *,
    single_instance: bool,
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Validates 2-D ``keypoints (N, K, 2)`` and ``keypoints_visible (N, K)``.

    A missing visibility means every keypoint is visible (float32 ones); a
    non-finite keypoint becomes invisible (:func:`finite_points`).

    Returns:
      ``(keypoints, visible)`` as float arrays.
    """
    kp = as_float_array(keypoints, "keypoints")
    check_rank(kp, 3, "keypoints", "(N, K, 2)")
    if kp.shape[-1] != 2:
        raise ValueError(
            f"`keypoints` must have shape (N, K, 2) (x, y in input pixels), got shape {kp.shape}."
        )
    if single_instance and kp.shape[0] != 1:
        raise ValueError(
            f"{owner}: codecs of this family only support single-instance encoding: "
            f"`keypoints` must have shape (1, K, 2), got shape {kp.shape}."
        )
    return finite_points(kp, visibility_input(kp, keypoints_visible))


def visibility_input(kp: jnp.ndarray, keypoints_visible: Any) -> jnp.ndarray:
    """``keypoints_visible (N, K)`` checked against ``keypoints (N, K, D)``;
    a missing visibility means every keypoint is visible (float32 ones)."""
    if keypoints_visible is None:
        return jnp.ones(kp.shape[:2], jnp.float32)
    vis = as_float_array(keypoints_visible, "keypoints_visible")
    check_rank(vis, 2, "keypoints_visible", f"(N, K) = {kp.shape[:2]}")
    check_same_leading(kp, "keypoints", vis, "keypoints_visible", 2, f"(N, K) = {kp.shape[:2]}")
    return vis


def points_3d_input(keypoints: Any, keypoints_visible: Any) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
    """``keypoints (N, K, 3)`` (``(N, K, 2)`` read as zero depth), their
    visibility ``(N, K)`` and which of them are finite ``(N, K)``; a
    non-finite keypoint becomes invisible at the origin."""
    kp = as_float_array(keypoints, "keypoints")
    check_rank(kp, 3, "keypoints", "(N, K, 3)")
    if kp.shape[-1] not in (2, 3):
        raise ValueError(
            f"`keypoints` must have shape (N, K, 3) (or (N, K, 2) for zero depth), got shape {kp.shape}."
        )
    if kp.shape[-1] == 2:
        kp = jnp.concatenate([kp, jnp.zeros_like(kp[..., :1])], axis=-1)
    vis = visibility_input(kp, keypoints_visible)
    present = jnp.all(jnp.isfinite(kp), axis=-1) & jnp.isfinite(vis)
    return (*finite_points(kp, vis), present)


def keypoint_weights_input(value: Any, name: str, num_keypoints: int, required_by: str) -> jnp.ndarray:
    """Per-keypoint weights ``(K,)``, which the setting ``required_by`` needs."""
    if value is None:
        raise ValueError(f"`{name}` is required with {required_by}, got None.")
    weights = as_float_array(value, name)
    check_shape(weights, (num_keypoints,), name, f"(K,) = ({num_keypoints},)")
    return weights


def one_value(value: Any, name: str) -> jnp.ndarray:
    """A scalar or size-1 array as a ``(1,)`` float array."""
    arr = as_float_array(value, name)
    if arr.size != 1:
        raise ValueError(f"`{name}` must be a scalar (or hold one value), got shape {arr.shape}.")
    return arr.reshape(1)


def finite_value_and_weight(value: jnp.ndarray, weight: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """The NaN rule for a scalar target and its weight: where either is not
    finite, the value is 0 and the weight 0."""
    finite = jnp.isfinite(value) & jnp.isfinite(weight)
    return (jnp.where(finite, value, jnp.zeros_like(value)),
            jnp.where(finite, weight, jnp.zeros_like(weight)))


# --------------------------------------------------------------- model output
def heatmap_input(
    owner: str, name: str, heatmaps: Any, heatmap_size: tuple[int, int], channels_multiple: int = 1,
    batched: bool = False,
) -> jnp.ndarray:
    """Validates decode input ``(C, H, W)`` (``batched``: ``(B, C, H, W)``) against the configured ``(W, H)``."""
    width, height = heatmap_size
    hm = as_float_array(heatmaps, name)
    expected = f"(K, H, W) = (K, {height}, {width})"
    if channels_multiple != 1:
        expected = f"({channels_multiple}K, {height}, {width})"
    expected = expected.replace("(", "(B, ") if batched else expected
    check_rank(hm, 3 + batched, name, expected)
    check_shape(hm, (None,) * (1 + batched) + (height, width), name, expected)
    if hm.shape[-3] % channels_multiple != 0:
        raise ValueError(
            f"{owner}: `{name}` must have a multiple of {channels_multiple} channels "
            f"{expected}, got shape {hm.shape}."
        )
    return hm


def root_and_displacement_maps_input(
    owner: str, heatmaps: Any, displacements: Any, heatmap_size: tuple[int, int]
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """SPR decode input: ``heatmaps (1, H, W)`` or ``(K + 1, H, W)`` (root
    last) and ``displacements (2K, H, W)``, both of the configured size; K
    is read from ``displacements``."""
    width, height = heatmap_size
    disp = as_float_array(displacements, "displacements")
    expected_disp = f"(2K, H, W) = (2K, {height}, {width})"
    check_rank(disp, 3, "displacements", expected_disp)
    check_shape(disp, (None, height, width), "displacements", expected_disp)
    check_axis_size(disp, 0, "displacements", f"{expected_disp} (x and y per keypoint)",
                    multiple_of=2, at_least=2)
    joints = disp.shape[0] // 2
    hm = as_float_array(heatmaps, "heatmaps")
    expected_hm = f"(1, {height}, {width}) or (K + 1, {height}, {width}) = ({joints + 1}, {height}, {width})"
    check_rank(hm, 3, "heatmaps", expected_hm)
    check_shape(hm, (None, height, width), "heatmaps", expected_hm)
    check_axis_size(hm, 0, "heatmaps", f"{expected_hm} (root map last)", sizes=(1, joints + 1))
    return hm, disp


def instance_heatmaps_input(heatmaps: Any, heatmap_size: tuple[int, int], name: str = "heatmaps") -> jnp.ndarray:
    """``(K, H, W)`` or ``(N, K, H, W)`` maps of the configured size, as ``(N, K, H, W)``."""
    width, height = heatmap_size
    hm = as_float_array(heatmaps, name)
    expected = f"(K, {height}, {width}) or (N, K, {height}, {width})"
    check_rank(hm, (3, 4), name, expected)
    check_shape(hm, (None,) * (hm.ndim - 2) + (height, width), name, expected)
    return hm[None] if hm.ndim == 3 else hm


def volumes_input(heatmaps: Any, heatmap_size: tuple[int, int, int], depths: Iterable[int]) -> jnp.ndarray:
    """3-D heatmaps ``(K, D, H, W)`` (``D`` one of ``depths``) or the encoded
    layout ``(K * D, H, W)`` (``D = heatmap_size[2]``), as ``(K, D, H, W)``."""
    width, height, depth = heatmap_size
    hm = as_float_array(heatmaps, "heatmaps")
    expected = f"(K, D, H, W) = (K, {depth}, {height}, {width}) or (K * D, H, W)"
    check_rank(hm, {3, 4}, "heatmaps", expected)
    if hm.ndim == 3:
        check_shape(hm, (None, height, width), "heatmaps", expected)
        if hm.shape[0] % depth:
            raise ValueError(
                f"`heatmaps` must have shape {expected}: {hm.shape[0]} channels is not a "
                f"multiple of D = {depth}, got shape {hm.shape}."
            )
        return hm.reshape(hm.shape[0] // depth, depth, height, width)
    depths = sorted(set(depths))
    if hm.shape[2:] != (height, width) or hm.shape[1] not in depths:
        raise ValueError(
            f"`heatmaps` must have shape {expected} (depth {' or '.join(map(str, depths))}), "
            f"got shape {hm.shape}."
        )
    return hm


def simcc_inputs(simcc_x: Any, simcc_y: Any, lengths: tuple[int, int]) -> tuple[jnp.ndarray, jnp.ndarray]:
    """``simcc_x (N, K, Lx)`` and ``simcc_y (N, K, Ly)`` (or ``(K, L)`` each,
    read as ``N = 1``) with the same leading axes and the configured
    ``lengths = (Lx, Ly)`` (so swapped vectors of a non-square input fail)."""
    lx, ly = lengths
    sx = as_float_array(simcc_x, "simcc_x")
    sy = as_float_array(simcc_y, "simcc_y")
    check_rank(sx, (2, 3), "simcc_x", f"(N, K, Lx) or (K, Lx) with Lx = {lx}")
    check_rank(sy, sx.ndim, "simcc_y", f"rank {sx.ndim} like `simcc_x`: (N, K, Ly) or (K, Ly)")
    check_same_leading(sx, "simcc_x", sy, "simcc_y", sx.ndim - 1, "(N, K, Ly) or (K, Ly)")
    check_axis_size(sx, -1, "simcc_x", f"(N, K, Lx) or (K, Lx) with Lx = {lx}", sizes=lx)
    check_axis_size(sy, -1, "simcc_y", f"(N, K, Ly) or (K, Ly) with Ly = {ly}", sizes=ly)
    if sx.ndim == 2:
        sx, sy = sx[None], sy[None]
    return sx, sy


def coordinates_input(encoded: Any, expected: str, joints: int | None = None) -> jnp.ndarray:
    """Predicted coordinates ``(N, K, C)`` (``expected`` names the allowed C);
    with ``joints`` K must be that number."""
    coords = as_float_array(encoded, "encoded")
    check_rank(coords, 3, "encoded", expected)
    if joints is not None:
        check_axis_size(coords, 1, "encoded", f"{expected} with K = {joints}", sizes=joints)
    return coords
