"""Elementwise comparison of JAX Jacobians with central finite differences.

``jax.test_util.check_grads`` compares derivatives along one random
direction, with ``atol`` and ``rtol`` multiplied by the number of elements
compared, so on a map-sized output a Jacobian that is several percent off
everywhere passes it. Here every entry ``J[o, i] = d out[o] / d in[i]``
from ``jax.jacfwd`` and ``jax.jacrev`` is compared with its own central
difference, computed from forward evaluations only, and must satisfy

    |J - J_fd| <= atol + rtol * |J_fd|

at every entry. The check also demands ``max |J_fd| > 200 atol`` and
``rtol < 0.005``, so that a Jacobian scaled by 1.01 violates the bound at
its largest entry: the tolerance can never be loose enough to accept a 1%
gradient error.

Everything runs in float64 (``jax.enable_x64(True)`` around the call), where
a central difference with step ``h = 1e-6 max(|x|, 1)`` is accurate to about
``1e-9`` relative for smooth functions (truncation ``h^2 f''' / 6``, rounding
``1e-16 |f| / h``). Callers choose inputs away from the non-differentiable
points of piecewise functions (argmax changes, window edges, rounding,
clipping), so that no difference straddles one.
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["central_differences", "check_jacobian", "jacobian_of"]


def _as_f64(args: Sequence) -> list[np.ndarray]:
    out = []
    for a in args:
        a = np.asarray(a)
        if a.dtype != np.float64:
            raise TypeError(f"inputs must be float64 (got {a.dtype}); build them as such.")
        out.append(a)
    return out


def central_differences(
    f: Callable, args: Sequence, argnum: int, *, rel_step: float = 1e-6, abs_step: float | None = None
) -> np.ndarray:
    """``(f(x + h e_i) - f(x - h e_i)) / 2h`` for every element ``i`` of ``args[argnum]``.

    ``h = abs_step`` when given (e.g. a power of two, so that ``x +- h`` is
    exactly representable where a function rounds an input to float32), else
    ``rel_step * max(|x_i|, 1)``. The step actually taken is the difference
    of the two rounded float64 arguments, not the nominal one.

    Returns:
      ``out.shape + args[argnum].shape``.
    """
    args = _as_f64(args)
    x = args[argnum]
    flat = x.reshape(-1)
    columns = []
    for i in range(flat.size):
        h = abs_step if abs_step is not None else rel_step * max(abs(float(flat[i])), 1.0)
        plus, minus = flat.copy(), flat.copy()
        plus[i] += h
        minus[i] -= h
        step = plus[i] - minus[i]
        hi = np.asarray(f(*args[:argnum], plus.reshape(x.shape), *args[argnum + 1:]), np.float64)
        lo = np.asarray(f(*args[:argnum], minus.reshape(x.shape), *args[argnum + 1:]), np.float64)
        columns.append((hi - lo) / step)
    jac = np.stack(columns, axis=-1)
    return jac.reshape(jac.shape[:-1] + x.shape)


def jacobian_of(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """The first derivatives of ``f`` (``jax.jacrev``) w.r.t. ``argnums``, as
    one flat array: pass it to :func:`check_jacobian` to check second
    derivatives against differences of the (separately checked) first."""
    single = isinstance(argnums, int)
    jac = jax.jacrev(f, argnums=argnums if single else tuple(argnums))

    def flat(*args):
        parts = (jac(*args),) if single else jac(*args)
        return jnp.concatenate([jnp.ravel(p) for p in parts])

    return flat


def check_jacobian(
    f: Callable,
    args: Sequence,
    wrt: Sequence[int] = (0,),
    *,
    atol: float,
    rtol: float,
    rel_step: float = 1e-6,
    abs_step: float | Sequence[float | None] | None = None,
    modes: Sequence[str] = ("fwd", "rev"),
) -> dict[str, float]:
    """Asserts that the Jacobians of ``f`` w.r.t. ``args[i]``, ``i in wrt``,
    match central differences elementwise.

    Args:
      f: a function of float64 arrays returning one float64 array. It is
        jitted here; the differences and the Jacobians share its trace.
      args: the point, float64 arrays.
      wrt: positions of the arguments to differentiate.
      atol, rtol: the elementwise bound ``atol + rtol * |J_fd|``.
      rel_step, abs_step: finite-difference step (see
        :func:`central_differences`); ``abs_step`` may be one per ``wrt``.
      modes: ``"fwd"`` (``jax.jacfwd``) and / or ``"rev"`` (``jax.jacrev``).

    Returns:
      For reporting: ``max_abs`` (largest ``|J - J_fd|``), ``max_rel``
      (largest ``|J - J_fd| / |J_fd|`` over entries with ``|J_fd| > atol``)
      and ``ratio`` (largest ``|J - J_fd| / (atol + rtol |J_fd|)``, below 1
      when the check passes).
    """
    if not jax.config.jax_enable_x64:
        raise RuntimeError("check_jacobian needs float64: call it inside jax.enable_x64(True).")
    if not rtol < 0.005:
        raise ValueError("rtol of 0.005 or more would let a 1% gradient error pass.")
    args = _as_f64(args)
    wrt = tuple(wrt)
    steps = abs_step if isinstance(abs_step, (list, tuple)) else (abs_step,) * len(wrt)
    fn = jax.jit(f)
    transforms = {"fwd": jax.jacfwd, "rev": jax.jacrev}
    jacobians = jax.jit(lambda *a: tuple(transforms[m](f, argnums=wrt)(*a) for m in modes))(*args)
    stats = {"max_abs": 0.0, "max_rel": 0.0, "ratio": 0.0}
    for position, (argnum, step) in enumerate(zip(wrt, steps)):
        expected = central_differences(fn, args, argnum, rel_step=rel_step, abs_step=step)
        scale = float(np.max(np.abs(expected)))
        assert scale > 200 * atol, (
            f"argument {argnum}: max |J_fd| = {scale:.3g} is too small against atol = {atol:g} "
            "for the check to detect a 1% error; pick a point with larger derivatives."
        )
        bound = atol + rtol * np.abs(expected)
        for mode, jac in zip(modes, jacobians):
            got = np.asarray(jac[position], np.float64)
            assert got.shape == expected.shape, (mode, got.shape, expected.shape)
            error = np.abs(got - expected)
            ratio = error / bound
            where = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
            significant = np.abs(expected) > atol
            stats["max_abs"] = max(stats["max_abs"], float(error.max()))
            if significant.any():
                rel = float(np.max(error[significant] / np.abs(expected[significant])))
                stats["max_rel"] = max(stats["max_rel"], rel)
            stats["ratio"] = max(stats["ratio"], float(ratio[where]))
            assert np.all(ratio <= 1.0), (
                f"jac{mode} w.r.t. argument {argnum} differs from central differences at {where}: "
                f"{got[where]!r} vs {expected[where]!r} (|error| {abs(got[where] - expected[where]):.3g} "
                f"> atol {atol:g} + rtol {rtol:g} * |J_fd|); max |J_fd| = {scale:.3g}."
            )
    return stats
