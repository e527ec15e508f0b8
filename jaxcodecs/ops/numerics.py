"""Arithmetic kept exact, and data-dependent, against XLA's rewrites.

XLA may replace a division by a constant with a multiplication by its
reciprocal (off by one ulp), and folds an expression that does not depend on
the data into a constant, which sharding propagation then replicates on every
device. ``divide_exact`` and ``constant_like`` keep the computation tied to
the data so that neither happens; ``correct_quotient`` makes a float32
quotient correctly rounded where a backend's division is not (GPU);
``multiply_exact`` keeps a product rounded on its own when the compiler
fuses it into the addition that follows (a fused multiply-add, on CPU as on
GPU); ``max_over_leading_axis`` avoids a reduction XLA:CPU runs slowly.
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = ["divide_exact", "correct_quotient", "multiply_exact", "constant_like", "max_over_leading_axis"]


def divide_exact(x: jnp.ndarray, divisor) -> jnp.ndarray:
    """``x / divisor`` correctly rounded, with ``divisor`` broadcast to ``x``.

    XLA rewrites a division by a broadcast constant as a multiplication by
    its reciprocal, which is off by one ulp for about 5% of inputs. Where a
    quotient is then rounded or truncated to a pixel (e.g. ``kp / scale`` of a
    keypoint lying exactly on a half pixel), that ulp moves the keypoint to
    the neighbouring pixel. Making the divisor data-dependent keeps XLA's
    division, under ``jit`` and ``vmap`` alike. That division is correctly
    rounded on CPU but not on every GPU: on any other platform, float32
    quotients go through :func:`correct_quotient` (``lax.platform_dependent``:
    a CPU program holds none of it).

    Args:
      x: float array ``(...)``.
      divisor: array broadcastable to ``x.shape`` (e.g. a per-axis scale ``(2,)``).

    Returns:
      ``x / divisor`` with ``x``'s shape and dtype; differentiable.
    """
    x = jnp.asarray(x)
    full = jnp.broadcast_to(jnp.asarray(divisor, x.dtype), x.shape)
    full = jnp.where(jnp.isnan(x), jnp.ones_like(full), full)
    quotient = x / full
    if quotient.dtype != jnp.float32:
        return quotient
    # XLA:CPU divides correctly rounded: no correction there (chosen when the
    # program is lowered, so a CPU program holds none of it).
    return lax.platform_dependent(x, full, quotient, cpu=lambda a, b, q: q, default=_corrected)


def _corrected(x, divisor, quotient):
    # The correction moves a finite quotient by whole ulps, an exact
    # difference, outside the gradient: the derivative stays that of x / divisor.
    step = correct_quotient(x, divisor, quotient) - quotient
    return quotient + lax.stop_gradient(jnp.where(jnp.isfinite(quotient), step, jnp.zeros_like(step)))


_LIMB = 12
_LIMB_MASK = (1 << _LIMB) - 1


def _significand_and_exponent(bits):
    """``(S, e)`` of positive normal float32 bit patterns: the value is
    ``S * 2^(e - 150)`` with ``2^23 <= S < 2^24``."""
    return (bits & 0x7FFFFF) | 0x800000, bits >> 23


def _above_midpoint(x_bits, d_bits, q_bits):
    """Whether ``x / d`` exceeds the midpoint between ``q`` and the next
    float32 up, exactly, for positive normal ``x``, ``d``, ``q`` (bit
    patterns, int32); false where the exponents are too far apart.

    With 24-bit significands X, D, Q: ``x / d > (q + ulp / 2)`` is
    ``X * 2^k > (2Q + 1) * D`` with ``k = e_x - e_q - e_d + 151``. Both
    sides are integers below 2^60, compared in base-2^12 limbs: every
    partial product fits in int32, so no float64, FMA or 64-bit integer is
    needed, on any backend.
    """
    big_x, exp_x = _significand_and_exponent(x_bits)
    big_d, exp_d = _significand_and_exponent(d_bits)
    big_q, exp_q = _significand_and_exponent(q_bits)
    shift = exp_x - exp_q - exp_d + 151
    valid = (shift >= 0) & (shift < 3 * _LIMB)
    shift = jnp.clip(shift, 0, 3 * _LIMB - 1)
    # Right side: (2Q + 1) * D, carries propagated into five limbs.
    odd = 2 * big_q + 1
    a = (odd & _LIMB_MASK, (odd >> _LIMB) & _LIMB_MASK, odd >> (2 * _LIMB))
    b = (big_d & _LIMB_MASK, big_d >> _LIMB)
    partial = (a[0] * b[0], a[0] * b[1] + a[1] * b[0], a[1] * b[1] + a[2] * b[0], a[2] * b[1])
    right, carry = [], 0
    for term in partial:
        total = term + carry
        right.append(total & _LIMB_MASK)
        carry = total >> _LIMB
    right.append(carry)
    # Left side: X * 2^k, X's two limbs shifted by k % 12 into three, placed
    # k // 12 limbs up.
    offset, bits = shift // _LIMB, shift % _LIMB
    low = (big_x & _LIMB_MASK) << bits
    high = ((big_x >> _LIMB) << bits) + (low >> _LIMB)
    pieces = (low & _LIMB_MASK, high & _LIMB_MASK, high >> _LIMB)
    zero = jnp.zeros_like(low)
    left = []
    for limb in range(5):
        options = [pieces[limb - place] if 0 <= limb - place < 3 else zero for place in range(3)]
        left.append(jnp.where(offset == 0, options[0], jnp.where(offset == 1, options[1], options[2])))
    # Lexicographic comparison from the top limb.
    greater = jnp.zeros(low.shape, bool)
    decided = jnp.zeros(low.shape, bool)
    for limb in reversed(range(5)):
        greater = jnp.where(decided, greater, left[limb] > right[limb])
        decided = decided | (left[limb] != right[limb])
    return greater & valid


def correct_quotient(x: jnp.ndarray, divisor: jnp.ndarray, quotient: jnp.ndarray) -> jnp.ndarray:
    """The correctly rounded float32 ``x / divisor``, from a ``quotient``
    within 3 ulps of it (a backend's division, or a product by a reciprocal).

    The true quotient lies within 3 ulps of the one given, so it is decided
    in one vectorised step: exactly (integer arithmetic on the significands)
    which of the six midpoints between the floats ``q - 3 ulp ... q + 3 ulp``
    it exceeds. Their count says how many ulps to move. A quotient of two
    floats is never exactly a midpoint, so no tie rule is needed. Where
    ``x``, ``divisor`` or the quotient is zero, subnormal, infinite or NaN,
    or the quotient is within two binades of the float32 limits, the
    quotient is returned as given.

    Args:
      x, divisor, quotient: float32 arrays of one shape.

    Returns:
      float32, the correctly rounded quotient; no gradient (see
      :func:`divide_exact`).
    """
    x, divisor, quotient = (jnp.asarray(v, jnp.float32) for v in (x, divisor, quotient))

    def magnitude_bits(v):
        return lax.bitcast_convert_type(jnp.abs(v), jnp.int32)

    def normal(bits, lo=1, hi=254):
        exponent = bits >> 23
        return (exponent >= lo) & (exponent <= hi)

    x_bits, d_bits, q_bits = magnitude_bits(x), magnitude_bits(divisor), magnitude_bits(quotient)
    usable = normal(x_bits) & normal(d_bits) & normal(q_bits, 3, 252)
    # Consecutive positive floats have consecutive bit patterns: the
    # midpoints above q - 3, ..., q + 2 ulps, on a leading axis, so that the
    # comparison is traced once (a small program to trace, batch and lower
    # on every platform, though only a non-CPU one runs it).
    steps = jnp.asarray(np.arange(-3, 3, dtype=np.int32)).reshape((6,) + (1,) * q_bits.ndim)
    exceeded = _above_midpoint(x_bits[None], d_bits[None], q_bits[None] + steps)
    moved = q_bits - 3 + jnp.sum(exceeded, axis=0, dtype=jnp.int32)
    corrected = jnp.copysign(lax.bitcast_convert_type(moved, jnp.float32), quotient)
    return jnp.where(usable, corrected, quotient)


# A float32 significand split into two halves of at most 12 significant bits.
_HIGH_HALF = np.int32(-(1 << 12))  # 0xFFFFF000: sign, exponent, top 11 stored bits


def multiply_exact(x: jnp.ndarray, factor: int) -> jnp.ndarray:
    """``x * factor`` rounded to float32 once, as NumPy computes it, also
    where the compiler fuses the product into an addition that follows.

    XLA:CPU (measured) and GPU compilers contract ``a * b + c`` into one
    fused multiply-add, which rounds once where NumPy rounds twice; at a tie
    (a depth on a bin boundary, then a window end half a voxel away) that
    moves the answer. Here ``x`` is split into ``hi + lo``, each of at most
    12 significant bits, so both ``hi * factor`` and ``lo * factor`` are
    exact for an integer ``|factor| < 2^12``: their sum is the correctly
    rounded product whichever of the two products a compiler fuses into it,
    and the result is a sum, which no compiler fuses into what follows.

    Args:
      x: float array.
      factor: a Python integer, ``|factor| < 4096``.

    Returns:
      ``x * factor`` in ``x``'s dtype; differentiable (derivative
      ``factor``). Other float dtypes, non-finite ``x`` and ``|x| <
      2^-100`` get the plain product.
    """
    x = jnp.asarray(x)
    if not isinstance(factor, (int, np.integer)) or isinstance(factor, bool) or not abs(int(factor)) < 4096:
        raise ValueError(f"`factor` must be an integer with |factor| < 4096, got {factor!r}.")
    if x.dtype != jnp.float32:
        return x * jnp.asarray(factor, x.dtype)
    return _split_product(x, int(factor))


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def _split_product(x, factor):
    scale = jnp.float32(factor)
    high = lax.bitcast_convert_type(lax.bitcast_convert_type(x, jnp.int32) & _HIGH_HALF, jnp.float32)
    low = x - high  # exact: the low bits of the significand
    # Below 2^-100 the low half's product could be subnormal, which XLA:CPU
    # flushes to zero: the plain product there (no ties to decide).
    split = jnp.isfinite(x) & (jnp.abs(x) >= jnp.float32(2.0**-100))
    return jnp.where(split, high * scale + low * scale, x * scale)


@_split_product.defjvp
def _split_product_jvp(factor, primals, tangents):
    (x,), (dx,) = primals, tangents
    return _split_product(x, factor), dx * jnp.float32(factor)


def _default_dtype(value: Any) -> np.dtype:
    if isinstance(value, (bool, np.bool_)):
        return np.dtype(bool)
    if isinstance(value, (int, np.integer)):
        return np.dtype(np.int32)
    return np.dtype(np.float32)


def constant_like(
    value: Any, like: Any, shape: Sequence[int] | None = None, dtype: Any = None
) -> jnp.ndarray:
    """An array filled with ``value`` that XLA treats as data of ``like``.

    Outputs that are constants (scores of ones, a flag, a default factor)
    would be folded by XLA into literals and, under a ``vmap`` over a
    batch-sharded input, come out replicated on every device. Derived from
    ``like`` through ``(p == p) | (p != p)``, which is true for every number,
    NaN and ±Inf included, and which XLA cannot fold for floats (``p != p``
    is NaN's test), the result is sharded like ``like`` and is *exactly*
    ``value`` whatever ``like`` holds. Its gradient w.r.t. ``like`` is 0.

    Args:
      value: a Python or NumPy scalar (bool, int or float).
      like: the array the result is derived from (its values are never used).
      shape: the result's shape; default ``like.shape``. When ``like.shape``
        does not broadcast to it, the result is derived from ``like``'s
        first element (a scalar flag from a whole pose, say); an empty
        ``like`` then gives a plain constant.
      dtype: the result's dtype; default bool for a bool ``value``, int32
        for an int, float32 otherwise.

    Returns:
      ``value`` broadcast to ``shape``, in ``dtype``.
    """
    like = jnp.asarray(like)
    if not jnp.issubdtype(like.dtype, jnp.floating):
        # Integer comparisons x == x are folded; float ones are not (NaN).
        like = like.astype(jnp.float32)
    shape = like.shape if shape is None else tuple(int(s) for s in shape)
    dtype = _default_dtype(value) if dtype is None else np.dtype(dtype)
    fill = jnp.full(shape, value, dtype)
    try:
        fits = np.broadcast_shapes(like.shape, shape) == shape
    except ValueError:
        fits = False
    if not fits:
        if like.size == 0:
            return fill
        like = like.reshape(-1)[0]
    always = (like == like) | (like != like)
    # The other branch must differ from ``value``: XLA folds a select
    # between equal constants (and an integer ``x * 0``).
    other = jnp.zeros_like(fill) if value != 0 else jnp.ones_like(fill)
    return jnp.where(jnp.broadcast_to(always, shape), fill, other)


def max_over_leading_axis(x: jnp.ndarray) -> jnp.ndarray:
    """``jnp.max(x, axis=0)`` as a tree of elementwise maxima of its slices.

    XLA:CPU runs a reduction over a leading (major) axis, such as the
    instances of ``(N, K, H, W)`` maps under ``vmap``, as a scalar loop: the
    maximum over two instances of 64 samples' 17 x 64 x 64 maps took 92 µs per
    sample as a reduction and 2.8 µs as an elementwise maximum, which XLA
    fuses with the computation of the slices into one vectorised pass. The
    maximum is exact, so the order of the tree does not change the result;
    where entries tie, the gradient is split as ``jnp.maximum`` splits it
    (in halves at each pairwise tie of the tree).

    Args:
      x: array ``(N, ...)`` with ``N >= 1`` (static).

    Returns:
      ``(...)``, the maximum over the leading axis.
    """
    x = jnp.asarray(x)
    if x.shape[0] == 0:
        raise ValueError(f"`x` must have at least one entry along its leading axis, got shape {x.shape}.")
    parts = [x[i] for i in range(x.shape[0])]
    while len(parts) > 1:
        paired = [jnp.maximum(a, b) for a, b in zip(parts[0::2], parts[1::2])]
        parts = paired + parts[len(paired) * 2:]
    return parts[0]
