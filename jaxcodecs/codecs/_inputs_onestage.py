"""Checks of the call arguments of the one-stage codecs (EDPoseLabel,
YOLOXPoseAnnotationProcessor): image sizes given as two numbers, boxes,
class ids and a detector's per-query predictions (the counterpart of
``_inputs.py`` for arguments only these codecs take)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxcodecs.ops.validation import as_float_array, check_axis_size, check_rank

__all__ = [
    "boxes_input",
    "category_ids_input",
    "per_instance_input",
    "points_input",
    "predictions_input",
    "size_values_input",
    "visibility_flags_input",
]


def _traced(value: Any) -> bool:
    if isinstance(value, jax.core.Tracer):
        return True
    return isinstance(value, (list, tuple)) and any(isinstance(v, jax.core.Tracer) for v in value)


def size_values_input(value: Any, name: str, layout: str, *, positive: bool = False) -> tuple[Any, Any]:
    """The two values of a size ``value`` (a tuple, list or ``(2,)`` array;
    ``layout`` names their order, e.g. ``"(w, h)"``).

    Concrete values come back as Python floats; with ``positive`` they must
    be finite and > 0 (``ValueError`` otherwise). Traced values come back as
    float scalars; with ``positive``, a non-finite or non-positive one reads
    as 1, so that dividing by it stays finite.
    """
    if value is None:
        raise ValueError(f"`{name}` must be {layout}, two numbers, got None.")
    if not _traced(value):
        try:
            pair = np.asarray(value)
        except (TypeError, ValueError):
            pair = np.asarray(None)
        if pair.dtype.kind not in "biuf":  # not strings, not complex (whose imaginary part would be lost)
            raise TypeError(f"`{name}` must be {layout}, two real numbers, got {value!r}.")
        pair = pair.astype(np.float64)
        if pair.shape != (2,):
            raise ValueError(f"`{name}` must be {layout}, two numbers, got {value!r} (shape {pair.shape}).")
        if positive and not (np.isfinite(pair).all() and (pair > 0).all()):
            raise ValueError(f"`{name}` must be {layout} with finite, positive values, got {value!r}.")
        return float(pair[0]), float(pair[1])
    pair = as_float_array(value, name)
    if pair.shape != (2,):
        raise ValueError(f"`{name}` must be {layout}, two numbers, got shape {pair.shape}.")
    if positive:
        usable = jnp.isfinite(pair) & (pair > 0)
        pair = jnp.where(usable, pair, jnp.ones_like(pair))
    return pair[0], pair[1]


def points_input(keypoints: Any, name: str = "keypoints") -> jnp.ndarray:
    """``keypoints (N, K, 2)`` as an array of its own dtype (integers stay
    integers here; the codec decides the output dtype)."""
    if keypoints is None:
        raise ValueError(f"`{name}` is required, got None.")
    try:
        kp = jnp.asarray(keypoints)
    except TypeError as err:
        raise TypeError(f"`{name}` must be a numeric array, got {type(keypoints).__name__}. ({err})") from None
    if not (jnp.issubdtype(kp.dtype, jnp.floating) or jnp.issubdtype(kp.dtype, jnp.integer)):
        raise TypeError(f"`{name}` must be a real array, got dtype {kp.dtype}.")
    check_rank(kp, 3, name, "(N, K, 2)")
    check_axis_size(kp, -1, name, "(N, K, 2) (x, y)", sizes=2)
    return kp


def _real_array(value: Any, name: str) -> jnp.ndarray:
    try:
        arr = jnp.asarray(value)
    except TypeError as err:
        raise TypeError(f"`{name}` must be a numeric array, got {type(value).__name__}. ({err})") from None
    if jnp.issubdtype(arr.dtype, jnp.complexfloating) or not (
        jnp.issubdtype(arr.dtype, jnp.number) or arr.dtype == jnp.bool_
    ):
        raise TypeError(f"`{name}` must be a real array, got dtype {arr.dtype}.")
    return arr


def visibility_flags_input(value: Any, num: tuple[int, int] | None, name: str = "keypoints_visible",
                           *, extra_axis: bool = False) -> jnp.ndarray:
    """Visibility ``(N, K)`` matching ``num = (N, K)`` (any ``N, K`` when
    ``num`` is None) as a float array; with ``extra_axis`` also ``(N, K,
    X)``, of which ``[..., 0]`` is taken."""
    vis = as_float_array(value, name)
    layout = "(N, K)" if num is None else f"(N, K) = {tuple(num)}"
    layout += " or (N, K, X)" if extra_axis else ""
    check_rank(vis, (2, 3) if extra_axis else 2, name, layout)
    if (num is not None and tuple(vis.shape[:2]) != tuple(num)) or (vis.ndim == 3 and vis.shape[2] == 0):
        raise ValueError(f"`{name}` must have shape {layout} matching `keypoints`, got shape {vis.shape}.")
    return vis[..., 0] if vis.ndim == 3 else vis


def per_instance_input(value: Any, name: str, instances: int | None, trailing: tuple[int, ...] = (),
                       *, single: bool = False, what: str = "keypoints") -> jnp.ndarray:
    """``value (N, *trailing)`` as a real array (integers kept), with ``N =
    instances`` when that is known (from ``what``); with ``single`` the
    one-instance form ``trailing`` alone is accepted too."""
    arr = _real_array(value, name)
    layout = f"(N, {', '.join(map(str, trailing))})" if trailing else "(N,)"
    ranks = (len(trailing) + 1, len(trailing)) if single else (len(trailing) + 1,)
    if single:
        layout += f" or {tuple(trailing)}"
    check_rank(arr, ranks, name, layout)
    if tuple(arr.shape[arr.ndim - len(trailing):]) != tuple(trailing):
        raise ValueError(f"`{name}` must have shape {layout}, got shape {arr.shape}.")
    if instances is not None and arr.ndim == len(trailing) + 1 and arr.shape[0] != instances:
        raise ValueError(
            f"`{name}` must have shape {layout} with N = {instances} as `{what}` has, got shape {arr.shape}."
        )
    return arr


def boxes_input(value: Any, name: str, instances: int | None, *, single: bool = False,
                what: str = "keypoints") -> jnp.ndarray:
    """Boxes ``(N, 4)`` (``(4,)`` too with ``single``)."""
    return per_instance_input(value, name, instances, (4,), single=single, what=what)


def category_ids_input(value: Any, instances: int | None, what: str, name: str = "category_id") -> jnp.ndarray:
    """Class ids ``(N,)`` (a list or an array; a single id is ``()``) as
    int32; float ids are truncated toward zero, as NumPy's cast does."""
    ids = _real_array(value, name)
    check_rank(ids, (0, 1), name, "(N,) (one class id per instance)")
    if instances is not None and ids.ndim == 1 and ids.shape[0] != instances:
        raise ValueError(
            f"`{name}` must have shape (N,) with N = {instances} as `{what}` has, got shape {ids.shape}."
        )
    return ids.astype(jnp.int32)


def predictions_input(pred_logits: Any, pred_boxes: Any, pred_keypoints: Any,
                      num_keypoints: int) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
    """A detector's per-query outputs: ``pred_logits (Q, C)``, ``pred_boxes
    (Q, 4)`` and ``pred_keypoints (Q, M)`` with ``M >= 2 K`` (``K =
    num_keypoints``), all with the same ``Q``, as float arrays."""
    logits = as_float_array(pred_logits, "pred_logits")
    check_rank(logits, 2, "pred_logits", "(Q, C)")
    queries = logits.shape[0]
    boxes = as_float_array(pred_boxes, "pred_boxes")
    check_rank(boxes, 2, "pred_boxes", f"(Q, 4) = ({queries}, 4)")
    if boxes.shape != (queries, 4):
        raise ValueError(
            f"`pred_boxes` must have shape (Q, 4) = ({queries}, 4) (cx, cy, w, h per query of "
            f"`pred_logits`), got shape {boxes.shape}."
        )
    keypoints = as_float_array(pred_keypoints, "pred_keypoints")
    expected = f"(Q, M) with Q = {queries} and M >= 2K = {2 * num_keypoints}"
    check_rank(keypoints, 2, "pred_keypoints", expected)
    if keypoints.shape[0] != queries or keypoints.shape[1] < 2 * num_keypoints:
        raise ValueError(
            f"`pred_keypoints` must have shape {expected} ([x0, y0, x1, y1, ...] first), got shape "
            f"{keypoints.shape}."
        )
    return logits, boxes, keypoints
