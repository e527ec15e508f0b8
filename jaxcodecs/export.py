"""Encoders and decoders as :mod:`jax.export` artifacts with a symbolic batch size.

:func:`export_encoder` and :func:`export_decoder` trace a codec's
``batch_encode`` / ``batch_decode`` once, for every batch size at once: the
leading axis of every array argument becomes the one symbolic dimension
``b``. The codec's configuration (static fields and float leaves such as
``sigma``) is baked into the artifact as constants. The result is a
:class:`jax.export.Exported`: ``exported.call(*arrays)`` runs it (under
``jax.jit`` too), and ``exported.serialize()`` gives bytes that
:func:`load_exported` (or plain :func:`jax.export.deserialize`, in a program
that does not have jaxcodecs) turns back into a callable artifact. It
compiles again for each new batch size, as any jitted function does, but
never traces the codec again.

Every codec exports, in both modes, for every platform :mod:`jax.export`
lowers for: ``"cpu"``, ``"cuda"``, ``"rocm"`` and ``"tpu"`` (the codecs use
no platform-specific custom call), from any machine; a multi-platform
artifact runs on each platform it lists.
"""

from __future__ import annotations

import inspect
from typing import Any, Sequence

import jax
import numpy as np

from jaxcodecs.base import Codec

__all__ = ["export_decoder", "export_encoder", "load_exported"]

#: The name of the symbolic batch dimension in the artifacts' shapes.
BATCH_DIMENSION = "b"

_OPTION_TYPES = (bool, int, float, complex, str, np.generic)


def export_encoder(codec: Codec, *example_args: Any, platforms: str | Sequence[str] | None = None,
                   **example_kwargs: Any) -> jax.export.Exported:
    """``codec.batch_encode`` as a :class:`jax.export.Exported` for any batch size.

    Args:
      codec: the codec; its configuration is baked into the artifact.
      *example_args: one batch of ``batch_encode``'s positional arguments
        (leading batch axis ``B`` on every array, e.g. keypoints
        ``(B, N, K, D)``), as arrays or :class:`jax.ShapeDtypeStruct`; only
        their shapes (past the batch axis) and dtypes are used. ``None``
        and Python scalars or strings are options, fixed in the artifact and
        left out of its arguments.
      platforms: the platforms to lower for (``"cpu"``, ``"cuda"``,
        ``"rocm"``, ``"tpu"``, or several); ``None`` (default) lowers for
        JAX's default backend.
      **example_kwargs: one batch of ``batch_encode``'s keyword arguments,
        treated like ``example_args`` (e.g. DecoupledHeatmap's ``key``:
        ``(B,)`` keys).

    Returns:
      An :class:`jax.export.Exported` whose ``call`` takes the example's
      array arguments alone, positional ones in their order and keyword
      ones by name, with any batch size ``b`` (the same for all), and
      returns ``batch_encode``'s dict.

    Raises:
      TypeError: ``codec`` is not a codec, or an argument is neither an
        array (a container of arrays), a ``jax.ShapeDtypeStruct`` nor an
        option.
      ValueError: the array arguments do not share one leading batch axis;
        or the codec rejects the arguments (as ``batch_encode`` would).
    """
    return _export(codec, "encode", example_args, example_kwargs, platforms)


def export_decoder(codec: Codec, *example_args: Any, platforms: str | Sequence[str] | None = None,
                   **example_kwargs: Any) -> jax.export.Exported:
    """``codec.batch_decode`` as a :class:`jax.export.Exported` for any batch size.

    Args:
      codec: the codec; its configuration is baked into the artifact.
      *example_args: one batch of ``batch_decode``'s positional arguments
        (a model's outputs with a leading batch axis ``B``, e.g. heatmaps
        ``(B, K, H, W)``), as arrays or :class:`jax.ShapeDtypeStruct`;
        only their shapes (past the batch axis) and dtypes are used.
        ``None`` and Python scalars or strings are options, fixed in the
        artifact and left out of its arguments.
      platforms: the platforms to lower for (``"cpu"``, ``"cuda"``,
        ``"rocm"``, ``"tpu"``, or several); ``None`` (default) lowers for
        JAX's default backend.
      **example_kwargs: one batch of ``batch_decode``'s keyword arguments
        (e.g. DecoupledHeatmap's ``instance_valid``), treated like
        ``example_args``.

    Returns:
      An :class:`jax.export.Exported` whose ``call`` takes the example's
      array arguments alone, positional ones in their order and keyword
      ones by name, with any batch size ``b`` (the same for all), and
      returns ``batch_decode``'s tuple.

    Raises:
      TypeError: ``codec`` is not a codec or has no decoder (its ``decode``
        returns None, as YOLOXPoseAnnotationProcessor's), or an argument is
        neither an array (a container of arrays), a
        ``jax.ShapeDtypeStruct`` nor an option.
      ValueError: the array arguments do not share one leading batch axis;
        or the codec rejects the arguments (as ``batch_decode`` would).
    """
    if isinstance(codec, Codec) and not codec.decode_outputs:
        raise TypeError(
            f"export_decoder(): {type(codec).__name__} has no decoder (its decode returns None, as "
            f"MMPose's annotation processors do); there is nothing to export."
        )
    return _export(codec, "decode", example_args, example_kwargs, platforms)


def load_exported(serialized: bytes | bytearray | memoryview) -> jax.export.Exported:
    """The artifact that ``exported.serialize()`` wrote (what
    :func:`jax.export.deserialize` reads).

    Args:
      serialized: the bytes ``serialize()`` returned (``bytes`` or
        ``bytearray``, e.g. read from a file).

    Returns:
      The :class:`jax.export.Exported`; ``call`` it with the arrays the
      exported encoder or decoder takes.
    """
    if not isinstance(serialized, (bytes, bytearray, memoryview)):
        raise TypeError(
            f"load_exported() takes the bytes exported.serialize() returned, got {type(serialized).__name__}."
        )
    return jax.export.deserialize(bytearray(serialized))


# ------------------------------------------------------------------ helpers
def _is_array(leaf: Any) -> bool:
    return isinstance(leaf, (jax.Array, np.ndarray, jax.ShapeDtypeStruct))


def _argument_labels(codec: Codec, method: str, args: tuple) -> list[str]:
    """How errors name each positional argument: by the name in the
    signature of ``batch_<method>`` (AssociativeEmbedding's batch_decode has
    its own) or else of ``<method>``."""
    for name in ("batch_" + method, method):
        params = list(inspect.signature(getattr(codec, name)).parameters.values())
        if not any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
            names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            return [f"`{names[i]}`" if i < len(names) else f"argument {i}" for i in range(len(args))]
    return [f"argument {i}" for i in range(len(args))]


def _is_input(value: Any, label: str, who: str) -> bool:
    """``True`` for an array argument (an input of the artifact), ``False``
    for an option (fixed in it); ``TypeError`` for anything else."""
    leaves = jax.tree_util.tree_leaves(value)
    if value is None or isinstance(value, _OPTION_TYPES):
        return False
    if leaves and all(_is_array(leaf) for leaf in leaves):
        return True
    raise TypeError(
        f"{who}: {label} must be an array (NumPy, JAX or jax.ShapeDtypeStruct, with the leading batch "
        f"axis), a dict or tuple of arrays, or an option (None, a Python scalar or string), got "
        f"{type(value).__name__}: {value!r:.200}."
    )


def _export(codec: Codec, method: str, args: tuple, kwargs: dict,
            platforms: str | Sequence[str] | None) -> jax.export.Exported:
    who = f"export_{method}r()"
    if not isinstance(codec, Codec):
        raise TypeError(f"{who} takes a jaxcodecs codec first, got {type(codec).__name__}.")
    labels = _argument_labels(codec, method, args)
    dynamic_args = [i for i, value in enumerate(args) if _is_input(value, labels[i], who)]
    dynamic_kwargs = [k for k, value in kwargs.items() if _is_input(value, f"`{k}`", who)]
    named = [(labels[i], args[i]) for i in dynamic_args] + [(f"`{k}`", kwargs[k]) for k in dynamic_kwargs]
    if not named:
        raise TypeError(f"{who}: no array argument; the artifact's batch size comes from the arrays.")
    shapes = [(label, tuple(leaf.shape)) for label, value in named for leaf in jax.tree_util.tree_leaves(value)]
    for label, shape in shapes:
        if not shape:
            raise ValueError(f"{who}: {label} has shape () and no leading batch axis.")
    if len({shape[0] for _, shape in shapes}) > 1:
        listed = ", ".join(f"{label} {shape}" for label, shape in shapes)
        raise ValueError(f"{who}: every array argument needs the same leading batch axis B, got {listed}.")

    (batch,) = jax.export.symbolic_shape(BATCH_DIMENSION)

    def spec(leaf: Any) -> jax.ShapeDtypeStruct:
        return jax.ShapeDtypeStruct((batch, *leaf.shape[1:]), leaf.dtype)

    def batched(*array_args: Any, **array_kwargs: Any) -> Any:
        call_args = list(args)
        for i, value in zip(dynamic_args, array_args):
            call_args[i] = value
        return getattr(codec, "batch_" + method)(*call_args, **{**kwargs, **array_kwargs})

    batched.__name__ = batched.__qualname__ = f"{type(codec).__name__}_batch_{method}"
    if isinstance(platforms, str):
        platforms = (platforms,)
    return jax.export.export(jax.jit(batched), platforms=platforms)(
        *[jax.tree_util.tree_map(spec, args[i]) for i in dynamic_args],
        **{k: jax.tree_util.tree_map(spec, kwargs[k]) for k in dynamic_kwargs},
    )
