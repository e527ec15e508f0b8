"""Trace-time argument checks that raise ``ValueError`` / ``TypeError``.

chex signals a failed check with ``AssertionError``; callers of a codec catch
``ValueError``, so every check here runs the chex assertion and re-raises its
failure as ``ValueError`` that names the argument, keeping chex's own text.
All checks look at static shapes and dtypes only, so they run once while a
function is traced and cost nothing at run time.
"""

from __future__ import annotations

from typing import Any, Sequence

import chex
import jax.numpy as jnp
import numpy as np

__all__ = [
    "as_float_array",
    "check_rank",
    "check_shape",
    "check_same_leading",
]


def _describe(x: Any) -> str:
    shape = getattr(x, "shape", None)
    dtype = getattr(x, "dtype", None)
    if shape is None:
        return f"{type(x).__name__}"
    return f"shape {tuple(shape)} and dtype {dtype}"


def check_rank(x: Any, rank: int | Sequence[int], name: str, expected: str) -> None:
    """Raises ``ValueError`` unless ``x`` has the given rank.

    Args:
      x: the array to check.
      rank: an int or a set of admissible ranks.
      name: the argument's name, as the caller knows it.
      expected: the expected shape in words, e.g. ``"(N, K, D)"``.
    """
    try:
        chex.assert_rank(x, rank if isinstance(rank, int) else set(rank))
    except AssertionError as err:
        raise ValueError(
            f"`{name}` must have shape {expected}, got {_describe(x)}. ({err})"
        ) from None


def check_shape(x: Any, shape: Sequence[int | None], name: str, expected: str) -> None:
    """Raises ``ValueError`` unless ``x`` has ``shape`` (``None`` = any size)."""
    try:
        chex.assert_shape(x, tuple(shape))
    except AssertionError as err:
        raise ValueError(
            f"`{name}` must have shape {expected}, got {_describe(x)}. ({err})"
        ) from None


def check_same_leading(
    a: Any, a_name: str, b: Any, b_name: str, ndim: int, expected: str
) -> None:
    """Raises ``ValueError`` unless ``a`` and ``b`` agree on their first ``ndim`` axes."""
    try:
        chex.assert_equal_shape_prefix([a, b], ndim)
    except AssertionError as err:
        raise ValueError(
            f"`{b_name}` must have shape {expected} matching `{a_name}` "
            f"{tuple(np.shape(a))}, got {tuple(np.shape(b))}. ({err})"
        ) from None


def as_float_array(x: Any, name: str) -> jnp.ndarray:
    """Converts ``x`` to a JAX float array (integers and bools become float32).

    Raises ``TypeError`` for inputs that are not numeric arrays.
    """
    if x is None:
        raise ValueError(f"`{name}` is required, got None.")
    try:
        arr = jnp.asarray(x)
    except TypeError as err:
        raise TypeError(f"`{name}` must be a numeric array, got {type(x).__name__}. ({err})") from None
    if jnp.issubdtype(arr.dtype, jnp.complexfloating):
        raise TypeError(f"`{name}` must be real, got dtype {arr.dtype}.")
    if not jnp.issubdtype(arr.dtype, jnp.floating):
        arr = arr.astype(jnp.float32)
    return arr
