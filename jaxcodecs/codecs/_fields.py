"""Converters of codec constructor fields (the counterpart of ``_inputs.py``,
which checks call arguments).

Each converter is declared on its field with :func:`jaxcodecs.base.codec_field`
and applied in one loop by ``Codec.__post_init__``. A converter has the
signature ``convert(value, at) -> value`` (``at`` names the codec class and
the field) and raises ``ValueError`` / ``TypeError`` naming the field and what
it got. flax also runs ``__post_init__`` when JAX rebuilds a codec from its
leaves (inside ``jit`` / ``vmap``), so the converters of pytree leaves only
look at concrete Python / NumPy values and let everything else pass.
"""

from __future__ import annotations

from typing import Any, Callable

import jax.numpy as jnp
import numpy as np

from jaxcodecs.base import Codec, FieldAt

Converter = Callable[[Any, FieldAt], Any]


# ------------------------------------------------------ static field values
def _int_value(value: Any, at: FieldAt, what: str) -> int:
    """An int (or an integral float such as ``17.0``), else ``TypeError`` /
    ``ValueError`` saying ``what`` was expected."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{at.owner}: `{at.name}` must be {what}, got {value!r}.")
    if not np.isfinite(value) or float(value) != int(value):
        raise ValueError(f"{at.owner}: `{at.name}` must be {what}, got {value!r}.")
    return int(value)


def positive_int(value: Any, at: FieldAt) -> int:
    """A positive int (``17`` or ``17.0``)."""
    number = _int_value(value, at, "a positive int")
    if number < 1:
        raise ValueError(f"{at.owner}: `{at.name}` must be a positive int, got {value!r}.")
    return number


def _positive_sizes(value: Any, at: FieldAt, layout: str) -> tuple[int, ...]:
    try:
        sizes = tuple(value)
    except TypeError:
        raise TypeError(f"{at.owner}: `{at.name}` must be {layout} of ints, got {value!r}.") from None
    if len(sizes) != len(layout.split(",")):
        raise ValueError(f"{at.owner}: `{at.name}` must be {layout} of positive ints, got {value!r}.")
    try:
        return tuple(positive_int(v, at) for v in sizes)
    except TypeError:
        raise TypeError(f"{at.owner}: `{at.name}` must be {layout} of ints, got {value!r}.") from None
    except ValueError:
        raise ValueError(f"{at.owner}: `{at.name}` must be {layout} of positive ints, got {value!r}.") from None


def size_pair(value: Any, at: FieldAt) -> tuple[int, int]:
    """An image or map size ``(w, h)`` of positive ints."""
    return _positive_sizes(value, at, "a pair (w, h)")  # type: ignore[return-value]


def size_triple(value: Any, at: FieldAt) -> tuple[int, int, int]:
    """A volume size ``(W, H, D)`` of positive ints."""
    return _positive_sizes(value, at, "(W, H, D)")  # type: ignore[return-value]


def odd_kernel(value: Any, at: FieldAt) -> int:
    """A blur kernel size: a positive odd int."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{at.owner}: `{at.name}` must be an odd int, got {value!r}.")
    if value < 1 or value % 2 != 1:
        raise ValueError(f"{at.owner}: `{at.name}` must be a positive odd int, got {value!r}.")
    return int(value)


def positive_number(value: Any, at: FieldAt) -> float:
    """A static positive number (e.g. a split ratio), as a Python float."""
    if isinstance(value, (bool, np.bool_)) or not is_concrete_number(value) or not float(value) > 0:
        raise ValueError(f"{at.owner}: `{at.name}` must be a positive number, got {value!r}.")
    return float(value)


def flag(value: Any, at: FieldAt) -> bool:
    """A switch, as a Python bool (``1``, ``np.True_``… are accepted)."""
    return bool(value)


def float_dtype(value: Any, at: FieldAt) -> np.dtype:
    """A float NumPy dtype (e.g. ``"float32"``, ``jnp.bfloat16``)."""
    try:
        dtype = np.dtype(value)
    except TypeError:
        raise TypeError(f"{at.owner}: `{at.name}` must be a float dtype, got {value!r}.") from None
    if not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(f"{at.owner}: `{at.name}` must be a float dtype, got {dtype}.")
    return dtype


def one_of(*options: str, any_case: bool = False) -> Converter:
    """A converter accepting one of ``options`` (lower-cased with ``any_case``)."""

    def convert(value: Any, at: FieldAt) -> str:
        key = value.lower() if (any_case and isinstance(value, str)) else value
        if not isinstance(key, str) or key not in options:
            listed = " or ".join(repr(o) for o in options) + (" (any case)" if any_case else "")
            raise ValueError(f"{at.owner} got invalid `{at.name}` {value!r}; `{at.name}` must be {listed}.")
        return key

    return convert


def optional_positive_int(value: Any, at: FieldAt) -> int | None:
    """``None`` or a positive int."""
    return None if value is None else positive_int(value, at)


def int_tuple(value: Any, at: FieldAt) -> tuple[int, ...] | None:
    """``None`` or a sequence of ints, as a tuple (hashable, static)."""
    if value is None:
        return None
    try:
        return tuple(_int_value(v, at, "a sequence of ints or None") for v in value)
    except (TypeError, ValueError):
        raise TypeError(f"{at.owner}: `{at.name}` must be a sequence of ints or None, got {value!r}.") from None


def str_tuple(value: Any, at: FieldAt) -> tuple[str, ...] | None:
    """``None`` or a sequence of names, as a tuple."""
    if value is None:
        return None
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{at.owner}: `{at.name}` must be a sequence of names or None, got {value!r}.")
    return tuple(value)


# ------------------------------------------------------- pytree-leaf values
def is_concrete_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) or (
        isinstance(value, np.ndarray) and value.ndim == 0
    )


def _check_non_negative(value: Any, at: FieldAt) -> None:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{at.owner}: `{at.name}` must be a number, got {value!r}.")
    if is_concrete_number(value) and not (float(value) >= 0 and np.isfinite(float(value))):
        raise ValueError(f"{at.owner}: `{at.name}` must be finite and >= 0, got {value!r}.")


def non_negative(value: Any, at: FieldAt) -> Any:
    """A float hyper-parameter (leaf), checked when concrete, kept as given."""
    _check_non_negative(value, at)
    return value


def non_negative_float(value: Any, at: FieldAt) -> Any:
    """A float hyper-parameter (leaf); a concrete number becomes a Python
    float, so that ``jit`` sees one leaf type whatever the config wrote."""
    _check_non_negative(value, at)
    return float(value) if is_concrete_number(value) else value


def positive(value: Any, at: FieldAt) -> Any:
    """A float hyper-parameter (leaf) that must be > 0, checked when
    concrete, kept as given."""
    _check_non_negative(value, at)
    if is_concrete_number(value) and float(value) <= 0:
        raise ValueError(f"{at.owner}: `{at.name}` must be > 0, got {value!r}.")
    return value


def positive_float(value: Any, at: FieldAt) -> Any:
    """Like :func:`non_negative_float`, and > 0 when concrete."""
    value = non_negative_float(value, at)
    if isinstance(value, float) and value <= 0:
        raise ValueError(f"{at.owner}: `{at.name}` must be > 0, got {value!r}.")
    return value


def scalar_or_pair(value: Any, at: FieldAt) -> Any:
    """A per-axis hyper-parameter (leaf): a number or ``(x, y)``; a list
    becomes a tuple. Each concrete entry must be finite and >= 0."""
    if isinstance(value, list):
        value = tuple(value)
    if isinstance(value, tuple) and len(value) != 2:
        raise ValueError(
            f"{at.owner}: `{at.name}` must be a number or a pair ({at.name}_x, {at.name}_y), got {value!r}."
        )
    entries = value if isinstance(value, tuple) else (value,)
    if isinstance(value, np.ndarray) and value.ndim == 1:
        entries = tuple(value)
    for entry in entries:
        _check_non_negative(entry, at)
    return value


def finite_float(value: Any, at: FieldAt) -> Any:
    """A float hyper-parameter (leaf) of any sign (a threshold), finite when
    concrete; a concrete number becomes a Python float."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{at.owner}: `{at.name}` must be a number, got {value!r}.")
    if is_concrete_number(value):
        if not np.isfinite(float(value)):
            raise ValueError(f"{at.owner}: `{at.name}` must be finite, got {value!r}.")
        return float(value)
    return value


def open_unit_interval(value: Any, at: FieldAt) -> Any:
    """A float hyper-parameter (leaf) strictly between 0 and 1 when
    concrete; a concrete number becomes a Python float."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{at.owner}: `{at.name}` must be a number, got {value!r}.")
    if is_concrete_number(value):
        if not 0.0 < float(value) < 1.0:
            raise ValueError(f"{at.owner}: `{at.name}` must be strictly between 0 and 1, got {value!r}.")
        return float(value)
    return value


def sigma_sequence(value: Any, at: FieldAt) -> Any:
    """``None`` (the codec derives its sigmas), a number (one sigma) or a
    sequence of sigmas (leaves): a number becomes a 1-tuple, a list a tuple;
    each concrete entry must be finite and >= 0. Arrays and tracers are kept."""
    if value is None:
        return None
    if isinstance(value, list):
        value = tuple(value)
    if not isinstance(value, tuple) and is_concrete_number(value):
        value = (value,)
    if isinstance(value, tuple):
        if not value:
            raise ValueError(f"{at.owner}: `{at.name}` must hold at least one sigma, got {value!r}.")
        for entry in value:
            _check_non_negative(entry, at)
    return value


# ------------------------------------------------- lifting: joints and statistics
# Statistics given as host data are converted (float32, reshaped as MMPose
# does) when the codec is built; JAX arrays are taken as they are.
def _is_host_data(value: Any) -> bool:
    return isinstance(value, (list, tuple)) or (isinstance(value, np.ndarray) and value.ndim >= 1)


def root_indices(value: Any, at: FieldAt) -> tuple[int, ...]:
    """``root_index``: an int or a list of ints, each a joint of the
    (already converted) ``num_keypoints``; a tuple."""
    values = (value,) if isinstance(value, (int, np.integer)) else tuple(value)
    if not values or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in values):
        raise ValueError(f"{at.owner}: `{at.name}` must be an int or a list of ints, got {value!r}.")
    num_keypoints = at.codec.num_keypoints
    if any(not 0 <= v < num_keypoints for v in values):
        raise ValueError(
            f"{at.owner}: `{at.name}` must index the num_keypoints={num_keypoints} joints, got {value!r}."
        )
    return tuple(int(v) for v in values)


def root_joint(value: Any, at: FieldAt) -> int:
    """``root_index`` of a codec with a single root joint."""
    (index,) = root_indices(value, at)
    return index


def statistic(value: Any, at: FieldAt) -> Any:
    """A mean or std of ``keypoints`` / ``target`` (leaf). Host data becomes
    float32 ``(1, K, D)`` (``K - 1`` target joints when the codec removes
    the root); JAX arrays and tracers are kept as given."""
    if not _is_host_data(value):
        return value
    kind = at.name.rsplit("_", 1)[0]
    joints = at.codec.num_keypoints - (1 if kind == "target" and at.codec._removes_root else 0)
    try:
        return np.asarray(value, np.float32).reshape(1, joints, -1)
    except ValueError:
        shapes = [np.shape(getattr(at.codec, f"{kind}_{part}")) for part in ("mean", "std")]
        raise ValueError(
            f"{at.owner}: `{kind}_mean` / `{kind}_std` must have {joints} joints ((K, D) or "
            f"(1, K, D)), got shapes {shapes[0]} and {shapes[1]}."
        ) from None


def check_statistics_pairs(codec: Codec) -> None:
    """Each mean comes with its std, of the same shape when both are host data."""
    owner = type(codec).__name__
    for kind in ("keypoints", "target"):
        mean, std = getattr(codec, f"{kind}_mean"), getattr(codec, f"{kind}_std")
        if (mean is None) != (std is None):
            given, missing = (f"{kind}_mean", f"{kind}_std") if std is None else (f"{kind}_std", f"{kind}_mean")
            raise ValueError(
                f"{owner}: `{kind}_mean` and `{kind}_std` must be given together, "
                f"got `{given}` without `{missing}`.")
        if isinstance(mean, np.ndarray) and isinstance(std, np.ndarray) and mean.shape != std.shape:
            raise ValueError(
                f"{owner}: `{kind}_mean` {mean.shape} and `{kind}_std` {std.shape} must have the same shape."
            )
