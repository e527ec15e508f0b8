"""SimCC label rendering and maxima (Li et al., "SimCC: a Simple Coordinate
Classification Perspective for Human Pose Estimation", ECCV 2022).

A SimCC target represents each keypoint by two 1-D vectors, one per axis,
with ``split_ratio`` bins per input pixel: bin ``i`` of the x-vector stands
for input coordinate ``x = i / split_ratio``. The vectors have
``L = round_half_even(size * split_ratio)`` bins.

Shapes: keypoints ``(N, K, D)`` (the first two coordinates are used),
visibility ``(N, K)``; labels ``(N, K, Lx)`` and ``(N, K, Ly)``.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxcodecs.ops.heatmap import gaussian_profile
from jaxcodecs.ops.maxima import first_index

from jaxcodecs.ops.soft import spatial_softmax

__all__ = [
    "simcc_label_lengths",
    "render_simcc_gaussian_labels",
    "render_simcc_standard_labels",
    "simcc_argmax",
    "simcc_visibility",
]


def simcc_label_lengths(input_size: tuple[int, int], split_ratio: float) -> tuple[int, int]:
    """``(Lx, Ly)``: the input ``(w, h)`` times ``split_ratio``, rounded half to even."""
    w, h = input_size
    return int(np.round(w * split_ratio)), int(np.round(h * split_ratio))


def _bins(length: int, dtype) -> jnp.ndarray:
    return jnp.arange(length, dtype=dtype)


def _skip_and_weights(visible: jnp.ndarray, outside: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Rows that get a label, and the weights: the visibility, 0 where a
    labelled keypoint falls outside. Keypoints with visibility < 0.5 get zero
    labels but keep their visibility as weight."""
    labelled = visible >= 0.5
    weights = jnp.where(labelled & outside, jnp.zeros_like(visible), visible)
    return labelled & ~outside, weights


def render_simcc_gaussian_labels(
    keypoints: jnp.ndarray,
    visible: jnp.ndarray,
    split_ratio: float,
    lengths: tuple[int, int],
    sigma: tuple[Any, Any],
    *,
    normalize: bool = True,
    mmpose_compat: bool = True,
    dtype: Any = jnp.float32,
) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
    """Gaussian SimCC labels ``exp(-(i - mu)^2 / (2 sigma^2))`` over every bin.

    With ``mmpose_compat=True`` the centre ``mu`` is ``kp * split_ratio``
    rounded half to even (sub-bin information is lost) and a keypoint is out
    of range when ``mu - 3 sigma >= L`` or ``mu + 3 sigma + 1 < 0`` on either
    axis. With ``mmpose_compat=False`` the centre is the exact
    ``kp * split_ratio`` and a keypoint is out of range when its ``±3 sigma``
    span misses ``[0, L - 1]`` on either axis; the labels are then
    differentiable w.r.t. the keypoints and ``sigma``.

    Args:
      keypoints: ``(N, K, D)`` in input pixels.
      visible: ``(N, K)``; keypoints with visibility < 0.5 get zero labels.
      split_ratio: bins per input pixel.
      lengths: ``(Lx, Ly)``.
      sigma: ``(sigma_x, sigma_y)`` in bins (numbers or traced scalars); 0
        gives a unit impulse at the nearest bin (never NaN).
      normalize: divide the labels by ``sigma * sqrt(2 pi)``.
      mmpose_compat: see above.
      dtype: float dtype of the labels.

    Returns:
      ``x_labels (N, K, Lx)``, ``y_labels (N, K, Ly)`` and ``weights (N, K)``
      (the visibility, 0 for out-of-range labelled keypoints).
    """
    kp = jnp.asarray(keypoints)[..., :2]
    scaled = kp * jnp.asarray(split_ratio, kp.dtype)
    sigmas = jnp.stack([jnp.asarray(s, kp.dtype) for s in sigma])
    radius = 3 * sigmas
    limits = jnp.asarray(lengths, kp.dtype)
    if mmpose_compat:
        centre = jnp.round(scaled)
        outside = jnp.any((centre - radius >= limits) | (centre + radius + 1 < 0), axis=-1)
    else:
        centre = scaled
        outside = jnp.any((centre + radius < 0) | (centre - radius > limits - 1), axis=-1)
    active, weights = _skip_and_weights(visible, outside)

    def axis_labels(axis: int) -> jnp.ndarray:
        s = sigmas[axis]
        # sigma = 0 gives a unit impulse at the nearest bin (the limit of a
        # vanishing Gaussian), left unnormalised.
        values = gaussian_profile(centre[..., axis], s, lengths[axis])
        if normalize:
            positive = s > 0
            values = jnp.where(positive, values / jnp.where(positive, s * math.sqrt(2 * math.pi), 1), values)
        return jnp.where(active[..., None], values, 0).astype(dtype)

    return axis_labels(0), axis_labels(1), weights


def render_simcc_standard_labels(
    keypoints: jnp.ndarray,
    visible: jnp.ndarray,
    split_ratio: float,
    lengths: tuple[int, int],
    label_smooth_weight: Any = 0.0,
    *,
    dtype: Any = jnp.float32,
) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
    """One-hot SimCC labels with optional label smoothing (Szegedy et al. 2016).

    The bin ``round_half_even(kp * split_ratio)`` gets ``1 - lsw`` and every
    other bin ``lsw / (L - 1)``. A keypoint whose bin falls outside
    ``[0, L)`` on either axis gets zero labels and weight 0. One-hot labels
    have no sub-bin centre, so both parity modes agree.

    Returns:
      ``x_labels (N, K, Lx)``, ``y_labels (N, K, Ly)`` and ``weights (N, K)``.
    """
    kp = jnp.asarray(keypoints)[..., :2]
    centre = jnp.round(kp * jnp.asarray(split_ratio, kp.dtype))
    limits = jnp.asarray(lengths, kp.dtype)
    outside = jnp.any((centre >= limits) | (centre < 0), axis=-1)
    active, weights = _skip_and_weights(visible, outside)
    lsw = jnp.asarray(label_smooth_weight, jnp.float32)

    def axis_labels(axis: int) -> jnp.ndarray:
        length = lengths[axis]
        hot = _bins(length, kp.dtype) == centre[..., axis, None]
        floor = lsw / max(length - 1, 1)
        values = jnp.where(hot, 1 - lsw, floor)
        return jnp.where(active[..., None], values, 0).astype(dtype)

    return axis_labels(0), axis_labels(1), weights


_ARGMAX_CHUNK = 32


def _first_argmax(x: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Index of the first maximum along the last axis, and the maximum.

    One pass over the vectors: the maximum of each chunk of ``_ARGMAX_CHUNK``
    bins (a strided window reduction, the last chunk padded with ``-inf``).
    The maximum and the first chunk that holds it come from those chunk
    maxima; the first index from that chunk, read back (the last chunk is
    read as the final ``_ARGMAX_CHUNK`` bins, whose earlier bins are all below
    the maximum). A variadic (value, index) reduction is slow on XLA:CPU, and
    a maximum followed by a masked index reduction reads the vectors twice.
    A vector holding NaN has an unspecified maximum and index (XLA:CPU's
    vectorised maximum may skip NaN; ``docs/parity.md`` says why it is not
    tested for).
    """
    length = x.shape[-1]
    chunk = min(_ARGMAX_CHUNK, length)
    count = -(-length // chunk)
    lead = x.shape[:-1]
    ones = (1,) * len(lead)
    init = np.array(-np.inf, x.dtype)
    maxima = lax.reduce_window(
        x, init, lax.max, ones + (chunk,), ones + (chunk,),
        ((0, 0),) * len(lead) + ((0, count * chunk - length),),
    )
    top = jnp.max(maxima, axis=-1)
    first = first_index(maxima, top)
    start = jnp.minimum(first * chunk, length - chunk)
    rows = x.reshape((-1, length))
    window = jax.vmap(lambda row, at: lax.dynamic_slice_in_dim(row, at, chunk))(rows, start.reshape(-1))
    window = window.reshape(lead + (chunk,))
    offset = first_index(window, top)
    return start + offset, top


def simcc_argmax(simcc_x: jnp.ndarray, simcc_y: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Locations and scores of SimCC vectors ``(..., Lx)`` and ``(..., Ly)``.

    The location is the first maximum of each vector, in bins; the score is
    the smaller of the two maxima. Where the score is ``<= 0`` there is no
    peak and the location is ``(-1, -1)``.

    Returns:
      ``locations (..., 2)`` (float, ``(x, y)`` in bins) and ``scores (...)``
      in the inputs' dtype.
    """
    x_index, x_top = _first_argmax(simcc_x)
    y_index, y_top = _first_argmax(simcc_y)
    scores = jnp.minimum(x_top, y_top)
    loc_dtype = jnp.result_type(simcc_x.dtype, jnp.float32)
    locations = jnp.stack([x_index, y_index], axis=-1).astype(loc_dtype)
    locations = jnp.where((scores > 0)[..., None], locations, -jnp.ones_like(locations))
    return locations, scores


def simcc_visibility(simcc_x: Any, simcc_y: Any, beta_x: Any, beta_y: Any) -> jnp.ndarray:
    """SimCC's keypoint visibility: how peaked the softmax of each vector is.

    ``min(max softmax(beta_x * x), max softmax(beta_y * y))`` over the
    vectors of SimCC (Li et al., ECCV 2022), the visibility MMPose's
    SimCCLabel decodes: near 1 for a sharply peaked pair, ``1 / L`` for a
    flat vector.

    Args:
      simcc_x: ``(..., Lx)``; simcc_y: ``(..., Ly)``, same leading shape.
      beta_x, beta_y: softmax inverse temperatures, scalars or broadcastable
        to the leading shape (may be traced).

    Returns:
      ``(...)`` visibilities in ``[0, 1]``; differentiable.
    """
    px = spatial_softmax(simcc_x, beta_x, ndim=1)
    py = spatial_softmax(simcc_y, beta_y, ndim=1)
    return jnp.minimum(jnp.max(px, axis=-1), jnp.max(py, axis=-1))
