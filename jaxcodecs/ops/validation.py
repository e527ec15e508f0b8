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
import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "points_and_visibility",
    "as_float_array",
    "as_parameter",
    "check_axis_size",
    "check_min_rank",
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


def check_min_rank(x: Any, rank: int, name: str, expected: str) -> None:
    """Raises ``ValueError`` unless ``x`` has at least ``rank`` axes (any
    number of leading axes allowed, e.g. ``(..., H, W)``)."""
    if np.ndim(x) < rank:
        raise ValueError(f"`{name}` must have shape {expected}, got {_describe(x)}.")


def check_axis_size(
    x: Any,
    axis: int,
    name: str,
    expected: str,
    *,
    sizes: int | Sequence[int] | None = None,
    at_least: int | None = None,
    multiple_of: int | None = None,
) -> None:
    """Raises ``ValueError`` unless the size of ``x`` along ``axis`` obeys
    every rule given: one of ``sizes``, ``>= at_least``, a multiple of
    ``multiple_of``. The caller checks the rank first."""
    size = int(np.shape(x)[axis])
    broken = []
    if sizes is not None:
        allowed = (int(sizes),) if isinstance(sizes, (int, np.integer)) else tuple(int(s) for s in sizes)
        if size not in allowed:
            broken.append(f"{allowed[0]}" if len(allowed) == 1 else f"one of {allowed}")
    if at_least is not None and size < at_least:
        broken.append(f"at least {at_least}")
    if multiple_of is not None and size % multiple_of:
        broken.append(f"a multiple of {multiple_of}")
    if broken:
        raise ValueError(
            f"`{name}` must have shape {expected}, got {_describe(x)} "
            f"(axis {axis} has size {size}; expected {' and '.join(broken)})."
        )


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


def as_parameter(
    value: Any,
    name: str,
    shape: Sequence[int],
    *,
    dtype: Any = None,
    host: bool = False,
    expected: str | None = None,
) -> Any:
    """A float hyper-parameter (``sigma``, ``beta``…) broadcast to ``shape``.

    The one normalisation of hyper-parameters that may be given as a scalar,
    per axis (``shape = (2,)``), per instance (``(N,)``) or per keypoint
    (``(..., K)``): any value whose shape broadcasts to ``shape`` (NumPy's
    rule) is accepted and broadcast; anything else raises ``ValueError``
    naming the argument and both shapes.

    Args:
      value: a number, a sequence of numbers, a NumPy / JAX array or a tracer.
      name: the argument's name, as the caller knows it.
      shape: the target shape.
      dtype: the float dtype of a JAX result (default: the value's own
        float dtype; integers become float32).
      host: return a concrete value as a float64 NumPy array (whatever
        ``dtype`` says), for exact host-side arithmetic (a blur size derived
        from ``sigma``, NumPy's float64 rounding of ``3 * sigma``). A traced
        value still comes back as a JAX array of ``dtype``, so the caller
        can tell the two apart.
      expected: ``shape`` in words for the error message (e.g.
        ``"(N,)"`` or ``"(..., K)"``).

    Returns:
      An array of exactly ``shape``.
    """
    shape = tuple(int(s) for s in shape)
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be a number or an array of numbers, got {value!r}.")
    concrete = not isinstance(value, jax.core.Tracer) and not (
        isinstance(value, (list, tuple)) and any(isinstance(v, jax.core.Tracer) for v in value)
    )
    try:
        if host and concrete:
            arr = np.asarray(value, dtype=np.float64)
        else:
            arr = jnp.asarray(value)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a number or an array of numbers, got {value!r}.") from None
    if not (jnp.issubdtype(arr.dtype, jnp.floating) or jnp.issubdtype(arr.dtype, jnp.integer)):
        raise TypeError(f"`{name}` must be real, got dtype {arr.dtype}.")
    try:
        fits = np.broadcast_shapes(arr.shape, shape) == shape
    except ValueError:
        fits = False
    if not fits:
        target = f"{expected} = {shape}" if expected else f"{shape}"
        raise ValueError(
            f"`{name}` must be a scalar or broadcastable to shape {target}, got shape {tuple(arr.shape)}."
        )
    if isinstance(arr, np.ndarray):
        return np.broadcast_to(arr, shape)
    if dtype is None:
        dtype = arr.dtype if jnp.issubdtype(arr.dtype, jnp.floating) else jnp.float32
    return jnp.broadcast_to(arr.astype(dtype), shape)


def points_and_visibility(keypoints: Any, keypoints_visible: Any, *, exact_dims: bool = False):
    """Validated float ``keypoints (N, K, D)`` (``D >= 2``, or exactly 2
    with ``exact_dims``) and ``keypoints_visible (N, K)`` with the same
    ``N, K``: the input rules of the ops that take instances of keypoints."""
    keypoints = as_float_array(keypoints, "keypoints")
    visible = as_float_array(keypoints_visible, "keypoints_visible")
    check_rank(keypoints, 3, "keypoints", "(N, K, 2)")
    if exact_dims:
        check_axis_size(keypoints, -1, "keypoints", "(N, K, 2)", sizes=2)
    else:
        check_axis_size(keypoints, -1, "keypoints", "(N, K, 2)", at_least=2)
    check_rank(visible, 2, "keypoints_visible", "(N, K)")
    check_same_leading(keypoints, "keypoints", visible, "keypoints_visible", 2, "(N, K)")
    return keypoints, visible

