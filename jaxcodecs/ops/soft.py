"""Differentiable decoding: soft-argmax, integral regression, DSNT, SimCC.

Each op turns score maps into coordinates through an expectation, so the
result is a smooth function of the maps (unlike :func:`heatmap_argmax`) and
can be trained through.

Convention (the codecs' one): pixel or bin ``i`` has its centre at
coordinate ``i``, so an axis of ``n`` samples spans ``[0, n - 1]``, exactly
the values :func:`heatmap_argmax` returns. Coordinates come x first:

* ``ndim=2``: maps ``(..., K, H, W)`` give ``(..., K, 2)`` as ``(x, y)``;
* ``ndim=1``: vectors ``(..., K, L)`` give ``(..., K, 1)``.

``ndim`` is static (a Python int, 1 or 2) and says how many trailing axes
are spatial; any number of leading axes is allowed, so the ops vmap and jit
freely. Expectations are taken over the marginals (for 2-D maps,
``E[x] = sum_x x * sum_y p(x, y)``): one reduction over the map, then
``O(H + W)`` work, with no coordinate grid of the map's size.

Dtypes: integer inputs become float32; half-precision inputs (bfloat16,
float16) are computed in float32 and the result is cast back, so every op
returns the floating dtype it was given.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxcodecs.ops.validation import (
    as_float_array,
    as_parameter,
    check_min_rank,
    check_rank,
    check_same_leading,
    check_shape,
)

__all__ = [
    "spatial_softmax",
    "soft_argmax",
    "integral",
    "dsnt",
    "dsnt_variance_regularizer",
    "soft_decode",
    "simcc_soft_decode",
]

_SOFT_DECODE_METHODS = ("soft_argmax", "ipr", "dsnt")


# ------------------------------------------------------------------ helpers
def _check_ndim(ndim: Any) -> int:
    is_int = isinstance(ndim, (int, np.integer)) and not isinstance(ndim, (bool, np.bool_))
    if not is_int or ndim not in (1, 2):
        raise ValueError(f"`ndim` must be 1 or 2 (the number of spatial axes), got {ndim!r}.")
    return int(ndim)


def _expected(ndim: int, length: str = "L") -> str:
    return "(..., K, H, W)" if ndim == 2 else f"(..., K, {length})"


def _maps(x: Any, name: str, ndim: int, length: str = "L") -> tuple[jnp.ndarray, Any]:
    """``x`` as a float array of rank ``>= ndim + 1``, in its compute dtype.

    Returns the array (half precision promoted to float32) and the dtype the
    result is to be returned in.
    """
    arr = as_float_array(x, name)
    check_min_rank(arr, ndim + 1, name, f"{_expected(ndim, length)} (rank >= {ndim + 1})")
    out_dtype = arr.dtype
    if jnp.finfo(arr.dtype).bits < 32:
        arr = arr.astype(jnp.float32)
    return arr, out_dtype


def _spatial_axes(ndim: int) -> tuple[int, ...]:
    return tuple(range(-ndim, 0))


def _per_map(value: Any, name: str, lead: tuple[int, ...], ndim: int, dtype) -> jnp.ndarray:
    """A scalar or ``(..., K)``-broadcastable parameter as ``lead`` plus
    ``ndim`` unit axes, so that it broadcasts against the maps."""
    value = as_parameter(value, name, lead, dtype=dtype, expected="(..., K)")
    return value.reshape(value.shape + (1,) * ndim)


def _grids(shape: tuple[int, ...], dtype, normalized: bool = False) -> list[jnp.ndarray]:
    """Per-axis sample coordinates, x axis first (``shape`` is ``(H, W)`` or ``(L,)``)."""
    grids = []
    for n in reversed(shape):
        i = jnp.arange(n, dtype=dtype)
        grids.append((2.0 * i + 1.0) / n - 1.0 if normalized else i)
    return grids


def _marginals(p: jnp.ndarray, ndim: int) -> list[jnp.ndarray]:
    """The per-axis sums of ``p``, x axis first: ``[(..., K, W), (..., K, H)]`` or ``[p]``."""
    if ndim == 1:
        return [p]
    return [jnp.sum(p, axis=-2), jnp.sum(p, axis=-1)]


def _expectation(p: jnp.ndarray, ndim: int, normalized: bool = False) -> jnp.ndarray:
    """``sum_i c_i * p_i`` per axis from the marginals, stacked x first.

    An elementwise product and a sum rather than a matmul, so that the result
    never goes through reduced-precision (e.g. TF32) matrix units.
    """
    grids = _grids(p.shape[-ndim:], p.dtype, normalized)
    return jnp.stack(
        [jnp.sum(m * g, axis=-1) for m, g in zip(_marginals(p, ndim), grids)], axis=-1
    )


# ---------------------------------------------------------------------- ops
def spatial_softmax(x: Any, beta: Any = 1.0, *, ndim: int = 2) -> jnp.ndarray:
    """Softmax of ``beta * x`` over the last ``ndim`` axes jointly.

    The map is shifted by its maximum (its minimum for ``beta < 0``) before
    being scaled, so that the exponent is exactly ``<= 0`` and its rounding
    error is relative to the gap to the peak, not to ``|beta * x|``: stable
    for huge ``beta`` (1e6 gives the hard argmax of a map with a unique
    maximum; tied maxima share the mass) and exact for all-equal maps (the
    uniform distribution). Softmax is shift-invariant, so the value and the
    gradient are those of the plain formula.

    Args:
      x: ``(..., K, H, W)`` maps (``ndim=2``) or ``(..., K, L)`` vectors
        (``ndim=1``), finite.
      beta: inverse temperature: a scalar or an array broadcastable to
        ``(..., K)``; may be traced, and the result is differentiable
        w.r.t. it. ``0`` gives the uniform distribution, ``< 0`` a soft
        argmin.
      ndim: number of trailing spatial axes, 1 or 2 (static).

    Returns:
      Probabilities with ``x``'s shape and floating dtype, each map summing to 1.
    """
    ndim = _check_ndim(ndim)
    x, out_dtype = _maps(x, "x", ndim)
    static_sign = None
    if isinstance(beta, (int, float, np.integer, np.floating)) and not isinstance(beta, bool):
        static_sign = beta >= 0  # a Python number: pick the shift at trace time
    beta = _per_map(beta, "beta", x.shape[:-ndim], ndim, x.dtype)
    axes = _spatial_axes(ndim)
    if static_sign is None:
        hi = jnp.max(x, axis=axes, keepdims=True)
        lo = jnp.min(x, axis=axes, keepdims=True)
        shift = jnp.where(beta >= 0, hi, lo)
    else:
        shift = (jnp.max if static_sign else jnp.min)(x, axis=axes, keepdims=True)
    shift = jax.lax.stop_gradient(shift)
    probs = jax.nn.softmax(beta * (x - shift), axis=axes)
    return probs.astype(out_dtype)


def soft_argmax(x: Any, beta: Any = 1.0, *, ndim: int = 2) -> jnp.ndarray:
    """Soft-argmax: the expected coordinates under ``spatial_softmax(x, beta)``.

    Luvizon, Tabia & Picard, "Human Pose Regression by Combining Indirect
    Part Detection and Contextual Information" (2017; Computers & Graphics
    2019), and Luvizon, Picard & Tabia, "2D/3D Pose Estimation and Action
    Recognition using Multitask Deep Learning" (CVPR 2018); the same
    expectation over a softmax-normalised map is one of the normalisations of
    Sun et al., "Integral Human Pose Regression" (ECCV 2018).

    Pixel ``i`` has coordinate ``i`` (a map of width ``W`` spans
    ``[0, W - 1]``); large ``beta`` tends to :func:`heatmap_argmax`'s
    location, ``beta -> 0`` to the map centre ``((W - 1) / 2, (H - 1) / 2)``.

    Args:
      x: ``(..., K, H, W)`` maps or ``(..., K, L)`` vectors (``ndim=1``).
      beta: inverse temperature, scalar or broadcastable to ``(..., K)``;
        differentiable.
      ndim: number of trailing spatial axes, 1 or 2 (static).

    Returns:
      ``(..., K, ndim)`` coordinates, x first, in ``x``'s floating dtype.
    """
    ndim = _check_ndim(ndim)
    x, out_dtype = _maps(x, "x", ndim)
    probs = spatial_softmax(x, beta, ndim=ndim)
    return _expectation(probs, ndim).astype(out_dtype)


def integral(x: Any, *, ndim: int = 2) -> jnp.ndarray:
    """Integral pose regression (IPR) with ReLU normalisation.

    Sun, Xiao, Wei, Liang & Wei, "Integral Human Pose Regression" (ECCV
    2018): each map is clipped to non-negative values and divided by its sum,
    and the coordinates are the expectation under that distribution. The
    division is done on the marginals, after the reduction, so the op costs
    one pass over the map.

    A map whose clipped sum is 0 (all zeros, or nothing positive) has no
    mass; it is read as the uniform distribution and yields the map centre
    ``((W - 1) / 2, (H - 1) / 2)``. The division is guarded on both branches,
    so neither the value nor the gradient (0 for such a map) is ever NaN.
    Negative values have gradient 0 (they are clipped), as do exact zeros.

    Pixel ``i`` has coordinate ``i``.

    Args:
      x: ``(..., K, H, W)`` maps or ``(..., K, L)`` vectors (``ndim=1``).
      ndim: number of trailing spatial axes, 1 or 2 (static).

    Returns:
      ``(..., K, ndim)`` coordinates, x first, in ``x``'s floating dtype.
    """
    ndim = _check_ndim(ndim)
    x, out_dtype = _maps(x, "x", ndim)
    mass = jnp.where(x > 0, x, jnp.zeros_like(x))
    coords = []
    for m, g in zip(_marginals(mass, ndim), _grids(x.shape[-ndim:], x.dtype)):
        total = jnp.sum(m, axis=-1)
        has_mass = total > 0
        safe_total = jnp.where(has_mass, total, jnp.ones_like(total))
        centre = jnp.asarray((g.shape[0] - 1) / 2.0, x.dtype)
        coords.append(jnp.where(has_mass, jnp.sum(m * g, axis=-1) / safe_total, centre))
    return jnp.stack(coords, axis=-1).astype(out_dtype)


def dsnt(probs: Any, *, ndim: int = 2, normalized: bool = False) -> jnp.ndarray:
    """DSNT: differentiable spatial to numerical transform.

    Nibali, He, Morgan & Prendergast, "Numerical Coordinate Regression with
    Convolutional Neural Networks" (arXiv:1801.07372, 2018). The coordinates
    are the expectation of the pixel coordinates under ``probs``, which must
    already be normalised (each map summing to one, e.g. the output of
    :func:`spatial_softmax`). The op is linear in ``probs`` and does not
    renormalise: a map summing to ``s`` gives ``s`` times the expectation.

    Args:
      probs: ``(..., K, H, W)`` normalised maps or ``(..., K, L)`` vectors.
      ndim: number of trailing spatial axes, 1 or 2 (static).
      normalized: ``False`` (default): pixel coordinates, pixel ``i`` at
        ``i``, as every op here. ``True``: DSNT's own coordinates in
        ``(-1, 1)``, where pixel ``i`` of ``n`` is at ``(2 i + 1) / n - 1``
        (so ``normalized = (2 pixel + 1) / n - 1`` for a normalised map).

    Returns:
      ``(..., K, ndim)`` coordinates, x first, in ``probs``' floating dtype.
    """
    ndim = _check_ndim(ndim)
    probs, out_dtype = _maps(probs, "probs", ndim)
    return _expectation(probs, ndim, normalized=bool(normalized)).astype(out_dtype)


def dsnt_variance_regularizer(
    probs: Any, target: Any, sigma: Any, *, ndim: int = 2
) -> jnp.ndarray:
    """Jensen–Shannon divergence between maps and a Gaussian at the target.

    The distribution regulariser of Nibali et al., "Numerical Coordinate
    Regression with Convolutional Neural Networks" (2018), section 4
    (regularisation), with the Jensen–Shannon divergence:
    ``JS(p, q) = KL(p || m) / 2 + KL(q || m) / 2`` with ``m = (p + q) / 2``,
    in nats (so ``0 <= JS <= log 2``). ``q`` is an isotropic Gaussian centred
    at ``target`` with standard deviation ``sigma``, evaluated at every pixel
    centre (pixel ``i`` at coordinate ``i``) and normalised to sum one over
    the map. ``q`` is built in log space from its separable per-axis
    profiles, so it stays exact even where it underflows.

    Terms with a zero weight are 0 (``0 log 0 = 0``), guarded on both
    branches: the value and the gradients w.r.t. ``probs``, ``target`` and
    ``sigma`` are finite everywhere, including at exact zeros of ``probs``,
    where the one-sided derivative ``log(p / m) / 2`` is ``-inf``: there the
    ``p log(p / m)`` term contributes gradient 0 (only the dependence of
    ``m`` on ``p`` remains).

    Args:
      probs: ``(..., K, H, W)`` normalised maps (or ``(..., K, L)``, ``ndim=1``).
      target: ``(..., K, ndim)`` Gaussian centres in pixels, x first.
      sigma: standard deviation in pixels, ``> 0``: a scalar or an array
        broadcastable to ``(..., K)``.
      ndim: number of trailing spatial axes, 1 or 2 (static).

    Returns:
      ``(..., K)`` divergences, in the promoted floating dtype of the inputs.
    """
    ndim = _check_ndim(ndim)
    probs, probs_dtype = _maps(probs, "probs", ndim)
    lead = probs.shape[:-ndim]
    target = as_float_array(target, "target")
    target_shape = tuple(lead) + (ndim,)
    expected = f"(..., K, {ndim}) = {target_shape} matching `probs` {tuple(probs.shape)}"
    check_rank(target, len(target_shape), "target", expected)
    check_shape(target, target_shape, "target", expected)
    sigma_arr = jnp.asarray(sigma)
    out_dtype = jnp.result_type(probs_dtype, target.dtype, sigma_arr)
    if not jnp.issubdtype(out_dtype, jnp.floating):
        out_dtype = jnp.float32
    dtype = jnp.promote_types(out_dtype, jnp.float32)
    probs = probs.astype(dtype)
    target = target.astype(dtype)
    sigma_arr = _per_map(sigma_arr, "sigma", lead, 1, dtype)  # (..., K, 1)

    # log q = sum over axes of the normalised log profile of that axis.
    log_q = jnp.zeros((), dtype)
    for axis, g in enumerate(_grids(probs.shape[-ndim:], dtype)):
        z = (g - target[..., axis, None]) / sigma_arr
        log_prof = -0.5 * z * z
        log_prof = log_prof - jax.nn.logsumexp(log_prof, axis=-1, keepdims=True)
        if ndim == 2:  # x varies along the last axis, y along the one before
            log_prof = log_prof[..., None, :] if axis == 0 else log_prof[..., :, None]
        log_q = log_q + log_prof
    log_q = jnp.broadcast_to(log_q, probs.shape)
    q = jnp.exp(log_q)

    m = 0.5 * (probs + q)
    has_m = m > 0
    log_m = jnp.log(jnp.where(has_m, m, jnp.ones_like(m)))
    has_p = probs > 0
    log_p = jnp.log(jnp.where(has_p, probs, jnp.ones_like(probs)))
    zero = jnp.zeros_like(probs)
    term_p = jnp.where(has_p, probs * (log_p - log_m), zero)
    term_q = jnp.where(q > 0, q * (log_q - log_m), zero)
    js = 0.5 * jnp.sum(term_p + term_q, axis=_spatial_axes(ndim))
    return js.astype(out_dtype)


def soft_decode(maps: Any, *, method: str = "soft_argmax", beta: Any = 1.0, ndim: int = 2) -> jnp.ndarray:
    """Coordinates of maps by one of the differentiable expectations.

    The one switch between the decoders of this module, for codecs that
    offer all three:

    * ``"soft_argmax"``: :func:`soft_argmax` with ``beta`` (for logits;
      Luvizon et al. 2019);
    * ``"ipr"``: :func:`integral`, the maps clipped at 0 and normalised to
      unit sum (for non-negative maps; Sun et al., ECCV 2018);
    * ``"dsnt"``: :func:`dsnt`, maps that already sum to one (Nibali et al.
      2018).

    Pixel ``i`` has coordinate ``i``.

    Args:
      maps: ``(..., K, H, W)`` maps or ``(..., K, L)`` vectors (``ndim=1``).
      method: ``"soft_argmax"``, ``"ipr"`` or ``"dsnt"`` (static).
      beta: inverse temperature of ``"soft_argmax"``, scalar or
        broadcastable to ``(..., K)``; ignored by the other methods.
      ndim: number of trailing spatial axes, 1 or 2 (static).

    Returns:
      ``(..., K, ndim)`` coordinates, x first, in ``maps``' floating dtype.
      Differentiable w.r.t. ``maps`` and ``beta``.
    """
    if method not in _SOFT_DECODE_METHODS:
        raise ValueError(f"`method` must be one of {_SOFT_DECODE_METHODS}, got {method!r}.")
    if method == "soft_argmax":
        return soft_argmax(maps, beta, ndim=ndim)
    if method == "ipr":
        return integral(maps, ndim=ndim)
    return dsnt(maps, ndim=ndim)


def simcc_soft_decode(simcc_x: Any, simcc_y: Any, beta: Any = 1.0) -> jnp.ndarray:
    """Soft-argmax decoding of SimCC's 1-D classification vectors.

    Li et al., "SimCC: a Simple Coordinate Classification Perspective for
    Human Pose Estimation" (ECCV 2022) classify each coordinate into bins;
    here each coordinate is the soft-argmax (expectation under the softmax of
    ``beta * logits``) along its vector, which is differentiable, instead of
    the hard argmax. Bin ``i`` has coordinate ``i``, so the result is in bin
    units (divide by the codec's split ratio for input pixels). The same as
    :func:`soft_decode` with ``ndim=1`` on each vector.

    Args:
      simcc_x: ``(..., K, Lx)`` x-axis logits.
      simcc_y: ``(..., K, Ly)`` y-axis logits, same leading shape.
      beta: inverse temperature, scalar or broadcastable to ``(..., K)``.

    Returns:
      ``(..., K, 2)`` locations ``(x, y)`` in bins, in the promoted floating
      dtype of the two inputs.
    """
    sx, dx = _maps(simcc_x, "simcc_x", 1, "Lx")
    sy, dy = _maps(simcc_y, "simcc_y", 1, "Ly")
    expected = f"(..., K, Ly) with the leading shape (..., K) = {tuple(sx.shape[:-1])} of `simcc_x`"
    check_rank(sy, sx.ndim, "simcc_y", expected)
    check_same_leading(sx, "simcc_x", sy, "simcc_y", sx.ndim - 1, expected)
    out_dtype = jnp.promote_types(dx, dy)
    x = soft_decode(sx, beta=beta, ndim=1)
    y = soft_decode(sy, beta=beta, ndim=1)
    return jnp.concatenate([x, y], axis=-1).astype(out_dtype)
