"""Arithmetic that must round exactly as IEEE-754 (and NumPy) does."""

from __future__ import annotations

import jax.numpy as jnp

__all__ = ["divide_exact"]


def divide_exact(x: jnp.ndarray, divisor) -> jnp.ndarray:
    """``x / divisor`` correctly rounded, with ``divisor`` broadcast to ``x``.

    XLA rewrites a division by a broadcast constant as a multiplication by
    its reciprocal, which is off by one ulp for about 5% of inputs. Where a
    quotient is then rounded or truncated to a pixel (e.g. ``kp / scale`` of a
    keypoint lying exactly on a half pixel), that ulp moves the keypoint to
    the neighbouring pixel. Making the divisor data-dependent keeps XLA's
    true, correctly rounded division, under ``jit`` and ``vmap`` alike.

    Args:
      x: float array ``(...)``.
      divisor: array broadcastable to ``x.shape`` (e.g. a per-axis scale ``(2,)``).

    Returns:
      ``x / divisor`` with ``x``'s shape and dtype; differentiable.
    """
    x = jnp.asarray(x)
    full = jnp.broadcast_to(jnp.asarray(divisor, x.dtype), x.shape)
    full = jnp.where(jnp.isnan(x), jnp.ones_like(full), full)
    return x / full
