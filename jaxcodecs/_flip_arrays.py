"""Array-level flips for test-time augmentation (re-exported by :mod:`jaxcodecs.flip`).

A horizontal image flip maps input pixel ``x`` to ``w - 1 - x`` (a pixel's
centre at its integer coordinate) and swaps each keypoint with its mirror
partner, ``flip_indices[k]``. On a map whose pixel ``u`` stands for input
coordinate ``x``, the flip is ``u -> W - 1 + shift - u``: the array reversed,
then translated right by ``shift`` map pixels, where ``shift`` depends on the
codec's input-to-map convention (:func:`jaxcodecs.flip.flip_shift`).

Every function here is pure, jittable and vmappable; the keypoint axis is
permuted with one gather, never a Python loop over keypoints.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "check_flip_indices",
    "flip_keypoints",
    "flip_visibility",
    "flip_root_relative",
    "flip_heatmaps",
    "flip_simcc",
    "flip_udp_offsets",
    "flip_displacements",
    "flip_tags",
    "flip_regression_labels",
    "shift_along_x",
]

INTERPOLATIONS = ("fourier", "linear")


def check_flip_indices(flip_indices: Any, num_keypoints: int, where: str) -> Any:
    """``flip_indices`` as int32 indices of length ``num_keypoints``.

    A concrete table (list, tuple, NumPy or concrete JAX array) must be a
    permutation of ``range(num_keypoints)`` that is its own inverse
    (``flip_indices[flip_indices[i]] == i``: mirroring twice is the identity).
    A traced array is checked for its shape only.

    Args:
      flip_indices: ``(K,)`` integers.
      num_keypoints: ``K``, the length the keypoint axis of the data has.
      where: the data and axis the table applies to, for error messages
        (e.g. ``"axis -3 of `heatmaps` (2, 17, 64, 48)"``).

    Raises:
      ValueError: wrong length, not integers, out of range, or not an involution.
    """
    if isinstance(flip_indices, jax.core.Tracer):
        if flip_indices.shape != (num_keypoints,) or not jnp.issubdtype(flip_indices.dtype, jnp.integer):
            raise ValueError(
                f"`flip_indices` must be {num_keypoints} integers (one per keypoint of {where}), got a "
                f"{flip_indices.dtype} array of shape {flip_indices.shape}."
            )
        return flip_indices.astype(jnp.int32)
    table = np.asarray(flip_indices)
    if table.ndim != 1 or table.shape[0] != num_keypoints:
        raise ValueError(
            f"`flip_indices` must have length {num_keypoints} (one entry per keypoint of {where}), got "
            f"shape {table.shape}."
        )
    if num_keypoints and not np.issubdtype(table.dtype, np.integer):
        raise ValueError(f"`flip_indices` must hold integers, got dtype {table.dtype}.")
    table = table.astype(np.int64)
    bad = np.flatnonzero((table < 0) | (table >= num_keypoints))
    if bad.size:
        raise ValueError(
            f"`flip_indices` must lie in [0, {num_keypoints}), got {int(table[bad[0]])} at position "
            f"{int(bad[0])}."
        )
    broken = np.flatnonzero(table[table] != np.arange(num_keypoints))
    if broken.size:
        i = int(broken[0])
        raise ValueError(
            f"`flip_indices` must be an involution (flip_indices[flip_indices[i]] == i: mirroring twice "
            f"gives the identity), but {i} -> {int(table[i])} -> {int(table[table[i]])}."
        )
    return table.astype(np.int32)


def _array(x: Any, name: str, min_rank: int, layout: str) -> jnp.ndarray:
    x = jnp.asarray(x)
    if x.ndim < min_rank:
        raise ValueError(f"`{name}` must be {layout}, got shape {x.shape}.")
    return x


def _permute(x: jnp.ndarray, flip_indices: Any, axis: int, name: str) -> jnp.ndarray:
    if flip_indices is None:
        return x
    table = check_flip_indices(flip_indices, x.shape[axis], f"axis {axis} of `{name}` {x.shape}")
    return jnp.take(x, jnp.asarray(table), axis=axis)


def _static_shift(shift: Any) -> float:
    try:
        value = float(shift)
    except (TypeError, jax.errors.ConcretizationTypeError):
        raise TypeError(f"`shift` must be a concrete number (it decides the resampling), got {shift!r}.") from None
    if not np.isfinite(value):
        raise ValueError(f"`shift` must be finite, got {shift!r}.")
    return value


def shift_along_x(x: Any, shift: Any, *, interpolation: str = "fourier") -> jnp.ndarray:
    """Translates ``x`` right by ``shift`` samples along its last axis.

    ``y[..., u] = x[..., u - shift]``. An integer shift moves samples
    exactly, repeating the edge sample where the translation leaves a gap. A
    fractional shift resamples:

    * ``"fourier"``: band-limited (sinc) interpolation of the signal
      extended symmetrically at both ends (period ``2W``), so the ends do not
      wrap onto each other. Exact for band-limited signals; a Gaussian of
      σ = 2 samples is band-limited to 1e-8, so it moves without changing
      shape.
    * ``"linear"``: ``(1 - f) x[u - n] + f x[u - n - 1]`` with ``n``, ``f``
      the whole and fractional parts of ``shift``, edge samples repeated.
      Exact for linear ramps (displacement fields); it widens a peak by
      ``f (1 - f)`` samples² of variance and moves its maximum off the
      interpolated centre.

    Args:
      x: ``(..., W)`` floats.
      shift: a concrete number, in samples (positive: towards higher indices).
      interpolation: ``"fourier"`` or ``"linear"``.

    Returns:
      ``(..., W)``, the dtype of ``x``.
    """
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"`interpolation` must be one of {INTERPOLATIONS}, got {interpolation!r}.")
    shift = _static_shift(shift)
    x = jnp.asarray(x)
    width = x.shape[-1]
    if shift == 0 or width == 0:
        return x
    if shift == round(shift):
        source = np.clip(np.arange(width) - int(round(shift)), 0, width - 1)
        return jnp.take(x, jnp.asarray(source, jnp.int32), axis=-1)
    work = jnp.promote_types(x.dtype, jnp.float32)
    xf = x.astype(work)
    if interpolation == "linear":
        position = np.arange(width) - shift
        lower = np.floor(position)
        frac = jnp.asarray(position - lower, work)
        i0 = jnp.asarray(np.clip(lower, 0, width - 1), jnp.int32)
        i1 = jnp.asarray(np.clip(lower + 1, 0, width - 1), jnp.int32)
        out = jnp.take(xf, i0, axis=-1) * (1 - frac) + jnp.take(xf, i1, axis=-1) * frac
        return out.astype(x.dtype)
    extended = jnp.concatenate([xf, xf[..., ::-1]], axis=-1)
    spectrum = jnp.fft.rfft(extended, axis=-1)
    freq = np.fft.rfftfreq(2 * width)
    phase = np.exp(-2j * np.pi * freq * shift)
    moved = jnp.fft.irfft(spectrum * jnp.asarray(phase.astype(np.complex64)), n=2 * width, axis=-1)
    return moved[..., :width].astype(x.dtype)


def flip_keypoints(keypoints: Any, flip_indices: Any, *, image_width: Any) -> jnp.ndarray:
    """Keypoints of the mirrored image: ``x -> w - 1 - x``, keypoints swapped.

    Args:
      keypoints: ``(..., K, D)`` in input pixels (``D >= 1``; only x changes).
      flip_indices: ``(K,)``, the mirror partner of each keypoint (or
        ``None`` to keep the order).
      image_width: ``w``, the width of the image the keypoints lie in.

    Returns:
      ``(..., K, D)``: entry ``k`` is keypoint ``flip_indices[k]`` mirrored.
    """
    kp = _array(keypoints, "keypoints", 2, "(..., K, D)")
    mirrored = kp.at[..., 0].set(jnp.asarray(image_width, kp.dtype) - 1 - kp[..., 0])
    return _permute(mirrored, flip_indices, -2, "keypoints")


def flip_visibility(values: Any, flip_indices: Any, *, axis: int = -1) -> jnp.ndarray:
    """Per-keypoint values (visibility, weights, scores) in mirrored order.

    Args:
      values: ``(..., K)`` (or ``K`` along ``axis``).
      flip_indices: ``(K,)``.
      axis: the keypoint axis.

    Returns:
      ``values`` with entry ``k`` taken from ``flip_indices[k]``.
    """
    values = _array(values, "values", 1, "(..., K)")
    return _permute(values, flip_indices, axis, "values")


def flip_root_relative(keypoints: Any, flip_indices: Any) -> jnp.ndarray:
    """Root-relative (or centred) keypoints mirrored: ``x -> -x``, keypoints swapped.

    For 3-D poses relative to a root joint that is its own mirror (pelvis),
    and for 2-D inputs centred on the image (the lifting codecs'
    ``(x - w / 2) / (w / 2)``), a mirror about the vertical plane through the
    root is ``x -> -x``.

    Args:
      keypoints: ``(..., K, C)``.
      flip_indices: ``(K,)`` (or ``None``).

    Returns:
      ``(..., K, C)``.
    """
    kp = _array(keypoints, "keypoints", 2, "(..., K, C)")
    return _permute(kp.at[..., 0].set(-kp[..., 0]), flip_indices, -2, "keypoints")


def flip_heatmaps(heatmaps: Any, flip_indices: Any, *, shift: Any = 0.0,
                  interpolation: str = "fourier") -> jnp.ndarray:
    """Heatmaps of the mirrored image: channels swapped, columns reversed, then
    translated right by ``shift`` map pixels.

    Pixel ``u`` goes to ``W - 1 + shift - u``. ``shift`` comes from the
    codec's convention (:func:`jaxcodecs.flip.flip_shift`): 0 for UDP,
    ``1 - W / w`` for MSRA. See :func:`shift_along_x` for the interpolation
    of a fractional shift.

    Args:
      heatmaps: ``(..., K, H, W)``.
      flip_indices: ``(K,)``, or ``None`` for maps that are not per keypoint
        (a root map).
      shift: concrete number of map pixels.
      interpolation: ``"fourier"`` (default) or ``"linear"``.

    Returns:
      ``(..., K, H, W)``.
    """
    maps = _array(heatmaps, "heatmaps", 3, "(..., K, H, W)")
    maps = _permute(maps, flip_indices, -3, "heatmaps")[..., ::-1]
    return shift_along_x(maps, shift, interpolation=interpolation)


def flip_simcc(simcc_x: Any, simcc_y: Any, flip_indices: Any, *, shift: Any = 0.0,
               interpolation: str = "fourier") -> tuple[jnp.ndarray, jnp.ndarray]:
    """SimCC vectors of the mirrored image.

    The x vectors are swapped, reversed and translated right by ``shift``
    bins (``(w - 1) * r - (Lx - 1)`` for SimCCLabel: ``1 - r`` when ``Lx = w
    r``); the y vectors are only swapped.

    Args:
      simcc_x: ``(..., K, Lx)``.
      simcc_y: ``(..., K, Ly)``.
      flip_indices: ``(K,)``.
      shift: concrete number of bins.
      interpolation: ``"fourier"`` or ``"linear"``.

    Returns:
      ``(simcc_x, simcc_y)`` of the same shapes.
    """
    sx = _array(simcc_x, "simcc_x", 2, "(..., K, Lx)")
    sy = _array(simcc_y, "simcc_y", 2, "(..., K, Ly)")
    sx = shift_along_x(_permute(sx, flip_indices, -2, "simcc_x")[..., ::-1], shift, interpolation=interpolation)
    return sx, _permute(sy, flip_indices, -2, "simcc_y")


def _pairs(maps: Any, name: str, per_keypoint: int, layout: str) -> jnp.ndarray:
    maps = _array(maps, name, 3, layout)
    if maps.shape[-3] % per_keypoint:
        raise ValueError(f"`{name}` must be {layout} (channels a multiple of {per_keypoint}), got shape "
                         f"{maps.shape}.")
    return maps.reshape(maps.shape[:-3] + (maps.shape[-3] // per_keypoint, per_keypoint) + maps.shape[-2:])


def flip_udp_offsets(heatmaps: Any, flip_indices: Any) -> jnp.ndarray:
    """UDP "combined" maps of the mirrored image.

    Per keypoint the channels ``(class, x_offset, y_offset)``: keypoints
    swapped, columns reversed (UDP's maps need no shift) and the x offsets,
    which point from a pixel to its keypoint, negated.

    Args:
      heatmaps: ``(..., 3K, H, W)``.
      flip_indices: ``(K,)``.

    Returns:
      ``(..., 3K, H, W)``.
    """
    maps = _pairs(heatmaps, "heatmaps", 3, "(..., 3K, H, W)")
    maps = _permute(maps, flip_indices, -4, "heatmaps")[..., ::-1]
    maps = maps.at[..., 1, :, :].multiply(-1)
    return maps.reshape(maps.shape[:-4] + (-1,) + maps.shape[-2:])


def flip_displacements(displacements: Any, flip_indices: Any, *, shift: Any = 0.0,
                       interpolation: str = "linear", negate_x: bool = True) -> jnp.ndarray:
    """Per-keypoint ``(x, y)`` vector fields (SPR's displacements) of the mirrored image.

    Keypoints swapped, columns reversed and translated by ``shift`` map
    pixels, and the x components negated (a vector from a pixel to a keypoint
    points the other way in the mirror). Linear interpolation (the default)
    moves a displacement field, a linear ramp around each root, exactly.

    Args:
      displacements: ``(..., 2K, H, W)``, rows ``2k`` (x) and ``2k + 1`` (y).
      flip_indices: ``(K,)``.
      shift: concrete number of map pixels.
      interpolation: ``"linear"`` or ``"fourier"``.
      negate_x: ``False`` for per-component weights, which keep their sign.

    Returns:
      ``(..., 2K, H, W)``.
    """
    fields = _pairs(displacements, "displacements", 2, "(..., 2K, H, W)")
    fields = _permute(fields, flip_indices, -4, "displacements")[..., ::-1]
    if negate_x:
        fields = fields.at[..., 0, :, :].multiply(-1)
    fields = fields.reshape(fields.shape[:-4] + (-1,) + fields.shape[-2:])
    return shift_along_x(fields, shift, interpolation=interpolation)


def flip_tags(tags: Any, flip_indices: Any, *, shift: Any = 0.0, interpolation: str = "linear") -> jnp.ndarray:
    """Associative-embedding tag maps of the mirrored image.

    Channel ``l * K + k`` is tag dimension ``l`` of keypoint ``k``: keypoints
    swapped within each dimension, columns reversed and translated by
    ``shift``; tag values are identities, not coordinates, and keep their sign.

    Args:
      tags: ``(..., L * K, H, W)``.
      flip_indices: ``(K,)``.
      shift: concrete number of map pixels.
      interpolation: ``"linear"`` or ``"fourier"``.

    Returns:
      ``(..., L * K, H, W)``.
    """
    tags = _array(tags, "tags", 3, "(..., L * K, H, W)")
    joints = int(np.shape(flip_indices)[0]) if np.ndim(flip_indices) == 1 else 0
    if joints == 0 or tags.shape[-3] % joints:
        raise ValueError(f"`tags` must be (..., L * K, H, W) with K = {joints} keypoints (the length of "
                         f"`flip_indices`), got shape {tags.shape}.")
    blocks = tags.reshape(tags.shape[:-3] + (tags.shape[-3] // joints, joints) + tags.shape[-2:])
    blocks = _permute(blocks, flip_indices, -3, "tags")[..., ::-1]
    blocks = blocks.reshape(tags.shape)
    return shift_along_x(blocks, shift, interpolation=interpolation)


def flip_regression_labels(labels: Any, flip_indices: Any, *, image_width: Any) -> jnp.ndarray:
    """Normalised coordinates ``x / w`` of the mirrored image: ``x -> 1 - 1/w - x``.

    The image flip ``x -> w - 1 - x`` divided by ``w`` (RegressionLabel's
    normalisation). Columns past the first two (RLE's sigmas) are only
    swapped with their keypoints.

    Args:
      labels: ``(..., K, 2)`` or ``(..., K, 4)``.
      flip_indices: ``(K,)``.
      image_width: ``w``.

    Returns:
      the same shape.
    """
    labels = _array(labels, "labels", 2, "(..., K, 2) or (..., K, 4)")
    width = jnp.asarray(image_width, labels.dtype)
    mirrored = labels.at[..., 0].set(1 - 1 / width - labels[..., 0])
    return _permute(mirrored, flip_indices, -2, "labels")
