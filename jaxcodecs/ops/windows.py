"""Local windows of heatmaps: what a refinement reads around each maximum.

A refinement that needs a blurred map at a few pixels around a maximum
needs only the raw pixels within half a kernel of them. :func:`gather_windows`
cuts those ``(S, S)`` windows out of ``(..., K, H, W)`` maps (one per
keypoint) with the border rule of the whole map's blur applied to every
index, and :func:`blur_windows` blurs them with the taps, order and rounding
of :func:`~jaxcodecs.ops.gaussian_blur`, so a windowed value equals the
whole map's blurred value at that pixel.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxcodecs.ops.filters import _check_ksize, gaussian_blur, opencv_gaussian_kernel1d, rescale_factor

__all__ = ["gather_windows", "blur_windows", "border_index", "modulated_step"]


def border_index(index: jnp.ndarray, size: int, border: str) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Where index ``index`` of an axis of ``size`` pixels reads, and whether it reads the map.

    * ``"zero"``: outside ``[0, size)`` reads nothing (the caller writes 0);
    * ``"edge"``: the nearest pixel;
    * ``"reflect101"``: OpenCV's default border ``dcb|abcd|cba`` repeated as
      often as needed (period ``2 (size - 1)``; a one-pixel axis repeats it).

    Args:
      index: int array of any shape.
      size: the axis length.
      border: one of the above.

    Returns:
      ``(index, inside)``, both of ``index``'s shape: an index in
      ``[0, size)`` and a bool mask (false only for ``"zero"`` outside).
    """
    inside = (index >= 0) & (index < size)
    if border == "zero" or border == "edge":
        return jnp.clip(index, 0, size - 1), inside | (border == "edge")
    if border == "reflect101":
        if size == 1:
            return jnp.zeros_like(index), jnp.ones_like(inside)
        period = 2 * (size - 1)
        folded = jnp.mod(index, period)
        return jnp.where(folded >= size, period - folded, folded), jnp.ones_like(inside)
    raise ValueError(f"`border` must be 'zero', 'edge' or 'reflect101', got {border!r}.")


def _read(maps: jnp.ndarray, rows: jnp.ndarray, cols: jnp.ndarray) -> jnp.ndarray:
    """``maps[..., k, rows, cols]`` for maps ``(..., K, H, W)`` and in-map int
    indices ``(..., N, K, *S)`` (broadcast against each other), keypoint ``k``
    reading channel ``k`` of its own leading index."""
    lead = maps.ndim - 3

    def one(sample, sample_rows, sample_cols):  # (K, H, W), (N, K, *S)
        extra = sample_rows.ndim - 2
        channel = jnp.arange(sample.shape[0], dtype=jnp.int32).reshape((-1,) + (1,) * extra)
        return sample[channel, sample_rows, sample_cols]

    # Leading axes are mapped, not indexed, so that a batch sharded over
    # devices stays a batching dimension of the gather.
    for _ in range(lead):
        one = jax.vmap(one)
    return one(maps, rows, cols)


def gather_windows(
    maps: jnp.ndarray, x: jnp.ndarray, y: jnp.ndarray, half: int, border: str = "zero"
) -> jnp.ndarray:
    """The ``(2 half + 1)``-pixel square windows of ``maps`` centred on ``(x, y)``.

    Args:
      maps: ``(..., K, H, W)``.
      x, y: int ``(..., N, K)`` window centres (any integers: the border
        rule places indices outside the map); keypoint ``k`` reads channel ``k``
        of its own leading index.
      half: the window reaches ``half`` pixels each way.
      border: ``"zero"``, ``"edge"`` or ``"reflect101"`` (:func:`border_index`).

    Returns:
      ``(..., N, K, S, S)`` with ``S = 2 half + 1``; ``[..., i, j]`` is the
      pixel ``(x - half + j, y - half + i)``.
    """
    height, width = maps.shape[-2:]
    offsets = jnp.arange(-half, half + 1, dtype=jnp.int32)
    rows, row_in = border_index(y.astype(jnp.int32)[..., None] + offsets, height, border)
    cols, col_in = border_index(x.astype(jnp.int32)[..., None] + offsets, width, border)
    picked = _read(maps, rows[..., :, None], cols[..., None, :])
    inside = row_in[..., :, None] & col_in[..., None, :]
    return jnp.where(inside, picked, jnp.zeros_like(picked))


def _valid_band(size: int, ksize: int) -> np.ndarray:
    """``(size, size - ksize + 1)`` matrix of a valid convolution with the kernel."""
    kernel = opencv_gaussian_kernel1d(ksize)
    out = size - ksize + 1
    band = np.zeros((size, out), np.float32)
    for o in range(out):
        band[o:o + ksize, o] = kernel
    return band


def blur_windows(windows: jnp.ndarray, ksize: int) -> jnp.ndarray:
    """OpenCV's Gaussian of ``ksize`` over windows ``(..., S, S)`` whose
    border is already in place: ``(..., S - ksize + 1, S - ksize + 1)``,
    rows (x) first, then columns (y), as the whole map's blur.

    Each pass is a small matrix product with the banded kernel (full float32
    precision on every backend). A product is never fused into its
    consumers, which would otherwise recompute the blur for every value read
    (and take seconds to compile); its sums run in another order than the
    whole map's paired taps, so the values agree to float32 rounding.
    A non-finite pixel anywhere in a window makes the whole window NaN.
    """
    _check_ksize(ksize)
    if ksize == 1:
        return windows
    side = windows.shape[-1]
    band = jnp.asarray(_valid_band(side, ksize), windows.dtype)
    rows = jnp.matmul(windows, band, precision=lax.Precision.HIGHEST)  # (..., S, S')
    return jnp.matmul(band.T, rows, precision=lax.Precision.HIGHEST)  # (..., S', S')


# Relative slack on the bounds below: the blur's float32 rounding (a few ulps
# over k^2 taps) and OpenCV's own rounding are far smaller.
_SLACK = 1e-4


def _log_of_reads(values: jnp.ndarray) -> jnp.ndarray:
    """``log(values)`` over reads ``(..., R)``, R short (7 or 13): XLA:CPU
    unrolls an elementwise kernel over such a last axis into scalar code,
    several times the code of one over a row of 32 (benchmarks/NOTES.md,
    "Compile time"), so the log runs over the reads padded with ones to a
    multiple of 32. The same values."""
    count = values.shape[-1]
    padded = jnp.pad(values, [(0, 0)] * (values.ndim - 1) + [(0, -count % 32)], constant_values=1)
    return jnp.log(padded)[..., :count]


def modulated_step(
    heatmaps: jnp.ndarray,
    x: jnp.ndarray,
    y: jnp.ndarray,
    offsets: tuple[tuple[int, int], ...],
    ksize: int,
    lower: float,
    upper: float,
    refined: jnp.ndarray,
    step: Callable[[jnp.ndarray], tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]],
    *,
    clip_reads: bool = False,
    maxima: jnp.ndarray | None = None,
    lazy: bool = True,
    log_maps: jnp.ndarray | None = None,
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """One Newton step on DARK's modulated log-map
    ``log(clip(blur(h) * max(h) / max(blur(h)), lower, upper))`` read at
    ``(x + dx, y + dy)``, blurring only a window around each keypoint.

    The blur has zero padding. Each channel's rescale factor ``s = max(h) /
    max(blur(h))`` is a property of the whole blurred map, but the step reads
    differences of log values, in which ``log(b s) - log(b' s) = log b -
    log b'``: ``s`` cancels wherever no value read is clipped, and so does it
    where every one is. With ``M = max(h) > 0`` the factor lies in ``[1, M /
    max(window)]`` (a zero-padded blur never exceeds ``M``; the window's
    blurred maximum is at most the map's), which decides that for most
    keypoints. The values are then scaled by the window's own factor ``M /
    max(window)``, which is ``s`` itself whenever the blurred maximum lies in
    the window (the usual case), so they round as the whole map's would.

    The true ``s`` is needed where the bounds decide nothing (some reads
    clipped, others not: low, flat or negative maps) and where the step is
    unstable (``step`` says so: a near-singular Hessian or a step beyond a
    pixel, where float rounding of ``s`` would move the answer). When any
    keypoint of the call needs it, the whole maps are blurred once
    (``lax.cond``: a call without such a keypoint never blurs them; under
    ``jax.vmap`` both branches run), and those keypoints step again with it.

    Args:
      heatmaps: ``(..., K, H, W)`` raw maps.
      x, y: int ``(..., N, K)`` integer locations.
      offsets: static ``(dx, dy)`` pairs to read.
      ksize: odd blur size.
      lower, upper: the clip range before the log (``upper`` may be ``inf``).
      refined: bool ``(..., N, K)``: keypoints whose step is used (only
        these can ask for the whole-map blur).
      step: ``logs (..., N, K, len(offsets)) -> (offset (..., N, K, 2),
        invertible, stable)``, the last two bool ``(..., N, K)``.
      clip_reads: read ``(clip(x + dx, 0, W - 1), clip(y + dy, 0, H - 1))``
        (the map extended by edge replication) instead of ``(x + dx, y + dy)``.
      maxima: ``(..., K)`` each map's maximum if the caller has it (saves a
        pass over the maps); computed otherwise.
      lazy: ``True`` blurs the whole maps only when a keypoint needs them
        (``lax.cond``); ``False`` always does and reads every keypoint's
        values from them, a whole-map implementation with no window path
        (no ``cond``: for callers that ``jax.vmap`` this function, where a
        ``cond`` runs both branches anyway and is not supported over an
        explicitly sharded batch).
      log_maps: ``(..., K, H, W)``, the whole modulated log-maps, if the
        caller has them (``lazy=False`` only): every keypoint reads its
        values there, as the whole-map path would compute them.

    Returns:
      ``offset (..., N, K, 2)`` and ``invertible (..., N, K)`` from ``step``.
    """
    height, width = heatmaps.shape[-2:]

    def read_whole(maps):
        # The offsets' pixels of whole maps, edges replicated.
        cols = x[..., None] + jnp.asarray([dx for dx, _ in offsets], jnp.int32)
        rows = y[..., None] + jnp.asarray([dy for _, dy in offsets], jnp.int32)
        return _read(maps, jnp.clip(rows, 0, height - 1), jnp.clip(cols, 0, width - 1))

    if log_maps is not None:
        if lazy:
            raise ValueError("modulated_step: `log_maps` is read by the whole-map path only (lazy=False).")
        offset, invertible, _ = step(read_whole(log_maps))
        return offset, invertible
    # At least two pixels each way: the window's blurred maximum estimates the map's.
    reach = max(2, *(max(abs(dx), abs(dy)) for dx, dy in offsets))
    side = 2 * reach + 1
    blurred = blur_windows(gather_windows(heatmaps, x, y, reach + ksize // 2, "zero"), ksize)
    blurred = blurred.reshape(blurred.shape[:-2] + (side * side,))
    cols = jnp.asarray([dx for dx, _ in offsets], jnp.int32) + reach
    rows = jnp.asarray([dy for _, dy in offsets], jnp.int32) + reach
    if clip_reads:
        cols = jnp.clip(x[..., None] + cols - reach, 0, width - 1) - x[..., None] + reach
        rows = jnp.clip(y[..., None] + rows - reach, 0, height - 1) - y[..., None] + reach
        index = jnp.clip(rows, 0, side - 1) * side + jnp.clip(cols, 0, side - 1)
        reads = jnp.take_along_axis(blurred, index, axis=-1)
    else:
        reads = blurred[..., np.asarray([(reach + dy) * side + reach + dx for dx, dy in offsets])]

    dtype = heatmaps.dtype
    span = jnp.arange(-reach, reach + 1, dtype=jnp.int32)
    in_map = (((y[..., None] + span) >= 0) & ((y[..., None] + span) < height))[..., :, None] & (
        ((x[..., None] + span) >= 0) & ((x[..., None] + span) < width))[..., None, :]
    window_peak = jnp.max(jnp.where(in_map.reshape(blurred.shape), blurred, -jnp.inf), axis=-1, keepdims=True)
    if maxima is None:
        maxima = jnp.max(heatmaps, axis=(-2, -1))
    peak = jnp.asarray(maxima, dtype)[..., None, :, None]  # (..., 1, K, 1)
    bounded = (peak > 0) & (window_peak > 0)
    local = peak / jnp.where(bounded, window_peak, 1)
    s_high = jnp.maximum(local, 1) * (1 + _SLACK)
    low, high = reads * jnp.asarray(1 / (1 + _SLACK), dtype), reads * s_high  # b * s for s > 0
    low, high = jnp.minimum(low, high), jnp.maximum(low, high)
    unclipped = jnp.all((low > lower * (1 + _SLACK)) & (high < upper * (1 - _SLACK)), axis=-1)
    clipped = jnp.all((high < lower * (1 - _SLACK)) | (low > upper * (1 + _SLACK)), axis=-1)
    local = jnp.where(bounded, local, 1)

    def step_with(scale):
        return step(_log_of_reads(jnp.clip(reads * scale, lower, upper)))

    offset, invertible, stable = step_with(local)
    decided = bounded[..., 0] & (unclipped | clipped)
    # A non-finite pixel near the keypoint (NaN reads, not stable) also takes
    # the whole-map path, which reads only the pixels the step needs.
    needs_scale = refined & ~(decided & stable)

    def exact_step(maps):
        # The whole blurred map, read as the window was: these keypoints get
        # exactly the values (and rounding) of a whole-map implementation.
        whole = gaussian_blur(maps, ksize, border="zero")
        scale = rescale_factor(maps, whole, (-2, -1))[..., 0, 0][..., None, :, None]
        exact = read_whole(whole)
        values = jnp.where(needs_scale[..., None], exact * scale, reads * local)
        exact_offset, exact_invertible, _ = step(_log_of_reads(jnp.clip(values, lower, upper)))
        return exact_offset, exact_invertible

    if not lazy:
        # Mapped callers blur the whole maps anyway: every keypoint reads
        # them (the window path above is then dead code, left to XLA).
        needs_scale = jnp.ones_like(needs_scale)
        return exact_step(heatmaps)
    return lax.cond(jnp.any(needs_scale), exact_step, lambda maps: (offset, invertible), heatmaps)
