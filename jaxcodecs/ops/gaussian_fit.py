"""Sub-pixel maxima by fitting a Gaussian of known width to the samples of
a map around each maximum (shapes as in :mod:`jaxcodecs.ops.refine`): 2-D
heatmaps and 1-D SimCC vectors.

A DARK-style refinement blurs the map first, and a blur near the border
must invent the samples beyond it (zero or reflected padding), which shifts
the blurred maximum of a Gaussian cut by the border. A least-squares fit of
the Gaussian model to the samples that exist reads nothing outside the map
and recovers a Gaussian target exactly wherever its centre lies.

The fit has two stages, both linear solves of at most three unknowns
(level and one centre coordinate per axis; Cramer's rule, no loops):

1. the log of the model is linear in the unknowns; it is fitted with
   weights ``h^2``, the inverse variance of ``log h`` under additive noise;
2. optionally, Gauss-Newton steps of the least-squares fit of the model
   itself (not its log) to the same samples. To first order in the noise
   both are the same estimator; at a few percent of noise the log of small
   noisy samples, and weights taken from the noisy samples, widen the
   first's spread, and the step brings it to that of the blurred-map
   refinements (benchmarks/NOTES.md, "Border accuracy"). An exact Gaussian
   leaves nothing to correct.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxcodecs.ops.refine import _batched_inputs, _locations
from jaxcodecs.ops.validation import as_float_array, check_rank, check_same_leading
from jaxcodecs.ops.windows import gather_windows

__all__ = ["refine_keypoints_gaussian_fit", "refine_simcc_gaussian_fit"]


def _solve(m, r):
    """The solution of the symmetric 2x2 or 3x3 system ``m x = r`` (nested
    lists of ``(...)`` arrays) by its cofactors, and where it is well posed:
    ``|det| > 1e-6 prod(diag)`` (Hadamard's bound, scale-free)."""
    if len(r) == 2:
        (a, b), (_, c) = m
        det = a * c - b * b
        num = [c * r[0] - b * r[1], a * r[1] - b * r[0]]
        bound = a * c
    else:
        (a, b, c), (_, d, e), (_, _, f) = m
        cof = [d * f - e * e, c * e - b * f, b * e - c * d, a * f - c * c, b * c - a * e, a * d - b * b]
        det = a * cof[0] + b * cof[1] + c * cof[2]
        num = [cof[0] * r[0] + cof[1] * r[1] + cof[2] * r[2],
               cof[1] * r[0] + cof[3] * r[1] + cof[4] * r[2],
               cof[2] * r[0] + cof[4] * r[1] + cof[5] * r[2]]
        bound = a * d * f
    ok = jnp.abs(det) > 1e-6 * bound
    inverse = 1 / jnp.where(ok, det, jnp.ones_like(det))  # one division: each is a kernel of its own
    return [v * inverse for v in num], ok


def _pairs(offsets: np.ndarray) -> tuple[np.ndarray, list[list[int]]]:
    """The products ``f_p f_q`` of the basis ``f = (1, d_1, ..., d_D)`` as
    columns ``(S, P)`` of a constant matrix, and the column of each ``(p, q)``."""
    count = offsets.shape[1] + 1
    basis = np.concatenate([np.ones((offsets.shape[0], 1)), offsets], axis=1)
    columns, where = [], [[0] * count for _ in range(count)]
    for p in range(count):
        for q in range(p, count):
            where[p][q] = where[q][p] = len(columns)
            columns.append(basis[:, p] * basis[:, q])
    return np.stack(columns, axis=1), where


def _moments(weights, products, where, count):
    """``(m, r)``: ``m[p][q] = sum_s w_0 f_p f_q`` and ``r[p] = sum_s w_1 f_p``
    for ``weights (..., 2, S)``, as one product with the constant matrix (the
    sums over a window's few samples are the fit's whole cost; as separate
    reductions over a short minor axis they are several times slower)."""
    sums = jnp.matmul(weights, jnp.asarray(products, weights.dtype), precision=lax.Precision.HIGHEST)
    m = [[sums[..., 0, where[p][q]] for q in range(count)] for p in range(count)]
    return m, [sums[..., 1, where[0][p]] for p in range(count)]


def _fit(values, usable, offsets: np.ndarray, sigmas, gauss_newton_steps):
    """Fits ``A exp(-sum_i (d_i - mu_i)^2 / (2 s_i^2))`` to the ``usable``
    samples of windows ``values (..., S)``, whose offsets from the window's
    centre are ``offsets (S, D)`` (static), and ``sigmas`` the widths per axis
    (scalars, or arrays broadcasting against the windows' leading shape).
    Returns ``[mu_i (...)]`` and where the fit is defined."""
    dims = offsets.shape[1]
    products, where = _pairs(offsets)
    d = [jnp.asarray(offsets[:, i], values.dtype) for i in range(dims)]
    mask = usable.astype(values.dtype)
    v = jnp.where(usable, values, jnp.ones_like(values))
    weight = mask * v * v
    inv = [1 / (s * s) for s in sigmas]  # scalars, or one per window
    per_sample = [k[..., None] if jnp.ndim(k) else k for k in inv]
    target = jnp.log(v) + sum(0.5 * di * di * k for di, k in zip(d, per_sample))
    m, r = _moments(jnp.stack([weight, weight * target], axis=-2), products, where, dims + 1)
    coef, ok = _solve(m, r)
    mu = [c * s * s for c, s in zip(coef[1:], sigmas)]
    log_level = coef[0] + sum(0.5 * c * c * k for c, k in zip(mu, inv))
    ok &= jnp.isfinite(log_level)
    level = jnp.exp(jnp.where(ok, log_level, jnp.zeros_like(log_level)))
    for _ in range(gauss_newton_steps):
        # The Jacobian is (g, A g e_i / s_i^2) with e = d - mu: its moments are
        # those of u = g^2 (and of z = g * residual) over (1, e_i, e_i e_j),
        # shifted from the constant basis (1, d_i, d_i d_j).
        e = [di - c[..., None] for di, c in zip(d, mu)]
        g = jnp.exp(-sum(0.5 * ei * ei * k for ei, k in zip(e, per_sample)))
        residual = v - level[..., None] * g
        raw, raw_r = _moments(jnp.stack([mask * g * g, mask * g * residual], axis=-2), products, where, dims + 1)

        def shifted(p, q, raw=raw):  # sum u e_p e_q with e_0 = 1, from sums of d
            if p == 0 and q == 0:
                return raw[0][0]
            if p == 0 or q == 0:
                i = max(p, q)
                return raw[0][i] - mu[i - 1] * raw[0][0]
            return (raw[p][q] - mu[p - 1] * raw[0][q] - mu[q - 1] * raw[0][p]
                    + mu[p - 1] * mu[q - 1] * raw[0][0])

        scale = [jnp.ones_like(level)] + [level * k for k in inv]
        m = [[scale[p] * scale[q] * shifted(p, q) for q in range(dims + 1)] for p in range(dims + 1)]
        r = [raw_r[0]] + [scale[i] * (raw_r[i] - mu[i - 1] * raw_r[0]) for i in range(1, dims + 1)]
        step, solved = _solve(m, r)
        solved &= jnp.all(jnp.stack([jnp.isfinite(s) for s in step]), axis=0)
        level = jnp.where(solved, level + step[0], level)
        mu = [jnp.where(solved, c + s, c) for c, s in zip(mu, step[1:])]
    return mu, ok


def _keep(values, in_map, min_fraction, axes):
    """The samples a fit may use: in the map, finite, positive and at least
    ``min_fraction`` of the window's largest in-map sample; and that sample."""
    peak = jnp.max(jnp.where(in_map, values, -jnp.inf), axis=axes, keepdims=True)
    usable = in_map & (values > min_fraction * peak) & (values > 0) & jnp.isfinite(values)
    return usable, peak


def _check_radius(radius) -> int:
    if int(radius) < 1:
        raise ValueError(f"`radius` must be a positive integer, got {radius!r}.")
    return int(radius)


def fit_keypoints(keypoints, heatmaps, sigma, radius, min_fraction, max_step, gauss_newton_steps):
    """``(refined (..., N, K, 2), fitted (..., N, K))`` for validated inputs:
    the steps of :func:`refine_keypoints_gaussian_fit` and where it took one."""
    dtype = jnp.promote_types(heatmaps.dtype, jnp.float32)  # the solve needs at least float32
    sigma = jnp.broadcast_to(jnp.asarray(sigma, dtype), (2,))
    height, width = heatmaps.shape[-2:]
    x, y = _locations(keypoints)
    span = jnp.arange(-radius, radius + 1, dtype=jnp.int32)
    windows = gather_windows(heatmaps, x, y, radius, "zero").astype(dtype)  # (..., N, K, S, S): [dy, dx]
    in_map = (((y[..., None] + span) >= 0) & ((y[..., None] + span) < height))[..., :, None] & (
        ((x[..., None] + span) >= 0) & ((x[..., None] + span) < width))[..., None, :]
    usable, peak = _keep(windows, in_map, min_fraction, (-2, -1))
    dy, dx = np.meshgrid(np.arange(-radius, radius + 1), np.arange(-radius, radius + 1), indexing="ij")
    flat = windows.shape[:-2] + ((2 * radius + 1) ** 2,)  # not -1: ambiguous for zero keypoints
    (mu_x, mu_y), ok = _fit(windows.reshape(flat), usable.reshape(flat), np.stack([dx.ravel(), dy.ravel()], -1),
                            [sigma[0], sigma[1]], gauss_newton_steps)
    step = jnp.stack([mu_x, mu_y], axis=-1)
    located = (x >= 0) & (x < width) & (y >= 0) & (y < height) & (keypoints[..., 0] >= 0) & (keypoints[..., 1] >= 0)
    ok = located & ok & (peak[..., 0, 0] > 0) & jnp.all(jnp.isfinite(step) & (jnp.abs(step) <= max_step), axis=-1)
    step = jnp.where(ok[..., None], step, jnp.zeros_like(step))
    return keypoints.at[..., :2].add(step.astype(keypoints.dtype)), ok


def refine_keypoints_gaussian_fit(
    keypoints: jnp.ndarray,
    heatmaps: jnp.ndarray,
    sigma,
    *,
    radius: int = 3,
    min_fraction: float = 1e-3,
    max_step: float = 1.5,
    gauss_newton_steps: int = 0,
) -> jnp.ndarray:
    """Sub-pixel maxima by a weighted least-squares fit of a Gaussian of
    known width to the pixels around each maximum that lie inside the map.

    Around the integer maximum ``c`` the model ``h(p) = A exp(-(p_x -
    mu_x)^2 / (2 s_x^2) - (p_y - mu_y)^2 / (2 s_y^2))`` is linear in its
    unknowns after a log: ``log h(p) + d_x^2 / (2 s_x^2) + d_y^2 / (2 s_y^2)
    = a + (mu_x - c_x) d_x / s_x^2 + (mu_y - c_y) d_y / s_y^2`` with ``d = p -
    c``. It is fitted over the ``(2 radius + 1)^2`` window with weights
    ``h(p)^2`` (the inverse variance of ``log h`` under additive noise),
    leaving out pixels outside the map and those below ``min_fraction`` of
    the window's largest value; then ``gauss_newton_steps`` steps of the fit
    of ``h`` itself over the same pixels (see the module's docstring). A
    Gaussian target of that width is recovered exactly wherever its maximum
    lies, the border included: no pixel outside the map is read or assumed,
    unlike a blur with padding.

    A keypoint whose fit is singular (fewer than three usable pixels in
    general position), whose step is not finite or exceeds ``max_step``
    pixels on an axis, a window without a positive pixel, and a location
    ``-1`` (no peak) are returned unchanged (a singular Gauss-Newton step
    keeps the log fit's result).

    Args:
      keypoints: ``(..., N, K, 2)`` maxima in heatmap pixels (integer-valued,
        e.g. from :func:`~jaxcodecs.ops.heatmap_argmax`; truncated toward zero).
      heatmaps: ``(..., K, H, W)`` with the same leading axes.
      sigma: the Gaussian's width in heatmap pixels: a scalar or ``(s_x,
        s_y)`` (may be traced).
      radius: static half-size of the window.
      min_fraction: static; pixels below this fraction of the window's
        largest value are left out (their log is dominated by noise).
      max_step: static bound on the step, in pixels.
      gauss_newton_steps: static number of steps of the fit of ``h`` itself.

    Returns:
      Refined keypoints ``(..., N, K, 2)``; differentiable w.r.t. ``heatmaps``
      and ``sigma``.
    """
    keypoints, heatmaps = _batched_inputs(keypoints, heatmaps)
    radius = _check_radius(radius)
    return fit_keypoints(keypoints, heatmaps, sigma, radius, min_fraction, max_step, int(gauss_newton_steps))[0]


def fit_simcc(locations, simcc, sigma, radius, min_fraction, max_step, gauss_newton_steps):
    """``(refined, fitted)`` for validated inputs (see
    :func:`refine_simcc_gaussian_fit`); ``locations``, ``simcc`` and ``sigma``
    may be sequences, one entry per axis (vectors of any lengths, locations
    of one shape), fitted together in one pass and returned as lists."""
    if not isinstance(locations, (list, tuple)):
        refined, fitted = fit_simcc([locations], [simcc], [sigma], radius, min_fraction, max_step,
                                    gauss_newton_steps)
        return refined[0], fitted[0]
    dtype = jnp.promote_types(jnp.result_type(*simcc), jnp.float32)
    span = jnp.arange(-radius, radius + 1, dtype=jnp.int32)
    windows, in_map, located = [], [], []
    for loc, vectors in zip(locations, simcc):
        length = vectors.shape[-1]
        centre = jnp.trunc(loc).astype(jnp.int32)
        index = centre[..., None] + span
        inside = (index >= 0) & (index < length)
        read = jnp.take_along_axis(vectors, jnp.clip(index, 0, length - 1), axis=-1).astype(dtype)
        windows.append(jnp.where(inside, read, jnp.zeros_like(read)))
        in_map.append(inside)
        located.append((loc >= 0) & (centre < length))
    windows, in_map, located = jnp.stack(windows), jnp.stack(in_map), jnp.stack(located)
    usable, peak = _keep(windows, in_map, min_fraction, (-1,))
    shape = (len(sigma),) + (1,) * (windows.ndim - 2)
    sigmas = jnp.stack([jnp.asarray(v, dtype) for v in sigma]).reshape(shape)
    (mu,), ok = _fit(windows, usable, np.arange(-radius, radius + 1)[:, None], [sigmas], gauss_newton_steps)
    ok &= located & (peak[..., 0] > 0) & jnp.isfinite(mu) & (jnp.abs(mu) <= max_step)
    refined = [jnp.where(ok[i], loc + mu[i].astype(loc.dtype), loc) for i, loc in enumerate(locations)]
    return refined, [ok[i] for i in range(len(locations))]


def refine_simcc_gaussian_fit(
    locations: jnp.ndarray,
    simcc: jnp.ndarray,
    sigma,
    *,
    radius: int = 12,
    min_fraction: float = 1e-3,
    max_step: float = 1.5,
    gauss_newton_steps: int = 1,
) -> jnp.ndarray:
    """Sub-bin maxima of SimCC vectors by a fit of a Gaussian of known width
    to the bins around each maximum that lie inside the vector: the 1-D form
    of :func:`refine_keypoints_gaussian_fit` (log fit with weights ``s^2``,
    then ``gauss_newton_steps`` steps of the fit of ``s`` itself).

    A location ``-1`` (no peak), a singular fit, a step that is not finite or
    exceeds ``max_step`` bins leave the location unchanged.

    Args:
      locations: ``(...)`` maxima in bins (integer-valued).
      simcc: ``(..., L)`` vectors with the same leading shape.
      sigma: the Gaussian's width in bins (may be traced).
      radius: static half-size of the window, in bins.
      min_fraction, max_step, gauss_newton_steps: as in
        :func:`refine_keypoints_gaussian_fit`.

    Returns:
      Refined locations, shape and dtype of ``locations``; differentiable
      w.r.t. ``simcc`` and ``sigma``.
    """
    locations = as_float_array(locations, "locations")
    simcc = as_float_array(simcc, "simcc")
    expected = f"(..., L) with leading shape {locations.shape} (the locations')"
    check_rank(simcc, locations.ndim + 1, "simcc", expected)
    check_same_leading(locations, "locations", simcc, "simcc", locations.ndim, expected)
    radius = _check_radius(radius)
    return fit_simcc(locations, simcc, sigma, radius, min_fraction, max_step, int(gauss_newton_steps))[0]
