"""The one module through which codecs check what they are given.

* **Constructor fields** are converted by the converters below, declared on
  each field with :func:`jaxcodecs.base.codec_field` and applied in one loop
  by ``Codec.__post_init__``. Each converter has the signature
  ``convert(value, at) -> value`` (``at`` names the codec class and the
  field) and raises ``ValueError`` / ``TypeError`` naming the field and what
  it got. flax also runs ``__post_init__`` when JAX rebuilds a codec from its
  leaves (inside ``jit`` / ``vmap``), so the converters of pytree leaves only
  look at concrete Python / NumPy values and let everything else pass.
* **Call arguments** (keypoints, visibility, heatmaps) are checked against the
  codec's configuration by the ``*_input`` functions, built on
  :mod:`jaxcodecs.ops.validation`.
"""

from __future__ import annotations

from typing import Any, Callable

import jax.numpy as jnp
import numpy as np

from jaxcodecs.base import FieldAt
from jaxcodecs.ops.validation import as_float_array, check_rank, check_same_leading, check_shape

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


def instance_inputs(
    owner: str,
    keypoints: Any,
    keypoints_visible: Any,
    *,
    single_instance: bool,
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Validates ``keypoints (N, K, D)`` and ``keypoints_visible (N, K)``.

    A missing visibility means every keypoint is visible (float32 ones).

    Returns:
      ``(keypoints, visible)`` as float arrays.
    """
    kp = as_float_array(keypoints, "keypoints")
    check_rank(kp, 3, "keypoints", "(N, K, D)")
    if kp.shape[-1] < 2:
        raise ValueError(f"`keypoints` must have shape (N, K, D) with D >= 2, got shape {kp.shape}.")
    if single_instance and kp.shape[0] != 1:
        raise ValueError(
            f"{owner}: codecs of this family only support single-instance encoding: "
            f"`keypoints` must have shape (1, K, D), got shape {kp.shape}."
        )
    return kp, visibility_input(kp, keypoints_visible)


def visibility_input(kp: jnp.ndarray, keypoints_visible: Any) -> jnp.ndarray:
    """``keypoints_visible (N, K)`` checked against ``keypoints (N, K, D)``;
    a missing visibility means every keypoint is visible (float32 ones)."""
    if keypoints_visible is None:
        return jnp.ones(kp.shape[:2], jnp.float32)
    vis = as_float_array(keypoints_visible, "keypoints_visible")
    check_rank(vis, 2, "keypoints_visible", f"(N, K) = {kp.shape[:2]}")
    check_same_leading(kp, "keypoints", vis, "keypoints_visible", 2, f"(N, K) = {kp.shape[:2]}")
    return vis


def heatmap_input(
    owner: str, name: str, heatmaps: Any, heatmap_size: tuple[int, int], channels_multiple: int = 1
) -> jnp.ndarray:
    """Validates decode input ``(C, H, W)`` against the configured ``(W, H)``."""
    width, height = heatmap_size
    hm = as_float_array(heatmaps, name)
    expected = f"(K, H, W) = (K, {height}, {width})"
    if channels_multiple != 1:
        expected = f"({channels_multiple}K, {height}, {width})"
    check_rank(hm, 3, name, expected)
    check_shape(hm, (None, height, width), name, expected)
    if hm.shape[0] % channels_multiple != 0:
        raise ValueError(
            f"{owner}: `{name}` must have a multiple of {channels_multiple} channels "
            f"{expected}, got shape {hm.shape}."
        )
    return hm
