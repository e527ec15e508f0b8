"""Boxes and ranked candidates, for the detection-style (one-stage) codecs.

Boxes are ``(..., 4)`` arrays, either corners ``(x1, y1, x2, y2)`` ("xyxy")
or centre and size ``(cx, cy, w, h)`` ("cxcywh"), in any unit; the
conversions use MMPose's arithmetic order so that float results agree
with it to the last bit where the dtypes agree.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["bbox_xyxy_to_cxcywh", "bbox_cxcywh_to_xyxy", "expand_boxes_to_points", "rank_descending"]


def bbox_xyxy_to_cxcywh(boxes: jnp.ndarray) -> jnp.ndarray:
    """Corners ``(..., 4)`` to centre and size ``(..., 4)``: ``((x1 + x2) *
    0.5, (y1 + y2) * 0.5, x2 - x1, y2 - y1)``."""
    boxes = jnp.asarray(boxes)
    low, high = boxes[..., :2], boxes[..., 2:]
    return jnp.concatenate([(high + low) * 0.5, high - low], axis=-1)


def bbox_cxcywh_to_xyxy(boxes: jnp.ndarray) -> jnp.ndarray:
    """Centre and size ``(..., 4)`` to corners ``(..., 4)``: ``x1 = cx - 0.5
    w`` and ``x2 = x1 + w`` (the far corner from the near one, not from the
    centre, as MMPose computes it)."""
    boxes = jnp.asarray(boxes)
    size = boxes[..., 2:]
    low = boxes[..., :2] - 0.5 * size
    return jnp.concatenate([low, low + size], axis=-1)


def expand_boxes_to_points(
    boxes: jnp.ndarray,
    points: jnp.ndarray,
    counted: jnp.ndarray,
    *,
    sentinel: float | None = None,
    round_outward: bool = False,
) -> jnp.ndarray:
    """The smallest boxes that contain each box and its counted points.

    Args:
      boxes: ``(N, 4)`` corners ``(x1, y1, x2, y2)``, float or integer.
      points: ``(N, K, 2)`` points ``(x, y)``, float or integer.
      counted: ``(N, K)`` bool, the points that count.
      sentinel: ``None``: an uncounted point does not take part. A number
        ``s``: an uncounted point stands at ``+s`` for the near corner and
        ``-s`` for the far one (MMPose's YOLOX-Pose processor, ``s = 1e6``):
        an instance with an uncounted point then also has its near corner
        capped at ``s`` and its far corner raised to ``-s``.
      round_outward: for integer boxes, floor the near corner and ceil the
        far one, so that the box contains every counted point; otherwise a
        float result is truncated toward zero, as NumPy's assignment into
        an integer array does.

    Returns:
      ``(N, 4)`` boxes of ``boxes``'s dtype. The comparison runs in the
      common dtype of boxes and points (at least float32 when either is
      float); ``boxes`` itself is never modified.
    """
    boxes = jnp.asarray(boxes)
    points = jnp.asarray(points)
    common = jnp.result_type(boxes, points)
    if jnp.issubdtype(common, jnp.floating):
        common = jnp.promote_types(common, jnp.float32)
    if points.shape[1] == 0:
        return boxes
    if sentinel is None:
        far = jnp.inf if jnp.issubdtype(common, jnp.floating) else jnp.iinfo(common).max
    else:
        far = sentinel
    points = points.astype(common)
    mask = counted[..., None]
    low = jnp.min(jnp.where(mask, points, jnp.asarray(far, common)), axis=1)
    high = jnp.max(jnp.where(mask, points, jnp.asarray(-far, common)), axis=1)
    work = boxes.astype(common)
    out = jnp.concatenate([jnp.minimum(work[:, :2], low), jnp.maximum(work[:, 2:], high)], axis=-1)
    if sentinel is None:
        # An instance without counted points keeps its box exactly.
        out = jnp.where(jnp.any(counted, axis=1)[:, None], out, work)
    if jnp.issubdtype(boxes.dtype, jnp.integer) and jnp.issubdtype(common, jnp.floating):
        if round_outward:
            out = jnp.concatenate([jnp.floor(out[:, :2]), jnp.ceil(out[:, 2:])], axis=-1)
        else:
            out = jnp.trunc(out)
    return out.astype(boxes.dtype)


def rank_descending(scores: jnp.ndarray, k: int) -> tuple[jnp.ndarray, jnp.ndarray]:
    """The ``k`` highest of ``scores (L,)`` in descending order.

    Equal scores keep their index order (a stable sort of ``-scores``; this
    is what NumPy's default ``argsort(-scores)`` gives for arrays of up to
    16 values where it sorts by insertion, but NumPy leaves ties
    unspecified in general, and its SIMD sorts may order them otherwise);
    NaN ranks last, as in NumPy; ``-0.0`` and ``0.0`` are equal.

    Args:
      scores: ``(L,)`` real scores.
      k: a static ``0 <= k <= L``.

    Returns:
      ``(values (k,), indices (k,) int32)``.
    """
    scores = jnp.asarray(scores)
    if not 0 <= k <= scores.shape[0]:
        raise ValueError(f"`k` must be in [0, {scores.shape[0]}] for {scores.shape[0]} scores, got {k}.")
    order = jnp.arange(scores.shape[0], dtype=jnp.int32)
    key = -scores if jnp.issubdtype(scores.dtype, jnp.floating) else -scores.astype(jnp.float32)
    # lax.sort orders NaN after every number and -0.0 with 0.0; the index
    # operand breaks ties by position.
    _, indices = jax.lax.sort((key, order), num_keys=1, is_stable=True)
    indices = indices[:k]
    return jnp.take(scores, indices, axis=0), indices

