"""The codec base class.

A codec is a frozen pytree of configuration with two pure methods, ``encode``
and ``decode``, that handle one sample exactly as MMPose's codecs do.
Everything else (batching, sharding, differentiation) is JAX's own transforms
applied to those two methods; ``batch_encode`` / ``batch_decode`` are
``jax.vmap`` over a leading batch axis.

Fields that decide shapes or branches are static (``pytree_node=False``,
hashable); float hyper-parameters such as ``sigma`` are pytree leaves, so they
can be traced, vmapped or differentiated.
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any, Callable, ClassVar, Mapping, NamedTuple

import jax
import numpy as np
from flax import struct

from jaxcodecs._eager import positional_names, route_eager

__all__ = ["Codec", "FieldAt", "codec_field"]

_EMPTY: Mapping[str, str] = types.MappingProxyType({})

# ``codec class -> the name it is registered under``, installed by
# :mod:`jaxcodecs.registry` (which imports this module, so this module cannot
# import it). ``to_config`` needs the name; until the registry is loaded no
# codec has one.
_registered_name: Callable[[type], str] | None = None


def _set_registered_name(lookup: Callable[[type], str]) -> None:
    global _registered_name
    _registered_name = lookup


_NUMBERS = (bool, int, float, np.bool_, np.number)


def _is_number(leaf: Any) -> bool:
    return isinstance(leaf, _NUMBERS) or (isinstance(leaf, (np.ndarray, jax.Array)) and np.ndim(leaf) == 0)


def _as_data(value: Any) -> Any:
    """A list or tuple of numbers (nested) as the array it spells, also when
    ``jax.jit`` has made its numbers 0-d tracers; dicts converted entry by
    entry; anything else unchanged."""
    if isinstance(value, Mapping):
        return {key: _as_data(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)) and value:
        leaves = jax.tree_util.tree_leaves(value)
        if leaves and all(_is_number(leaf) for leaf in leaves):
            traced = any(isinstance(leaf, jax.Array) for leaf in leaves)
            try:
                return jax.numpy.asarray(value) if traced else np.asarray(value)
            except (TypeError, ValueError):  # ragged: left as it is
                return value
    return value


def _argument_names(fn: Callable[..., Any], count: int) -> list[str]:
    """The names of ``fn``'s first ``count`` positional parameters (``argument i``
    past them)."""
    try:
        params = positional_names(fn)
    except (TypeError, ValueError):
        params = ()
    return [params[i] if i < len(params) else f"argument {i}" for i in range(count)]


def _vmap_call(fn: Callable[..., Any], args: tuple, kwargs: dict, method: str = "batch call") -> Any:
    """``jax.vmap(fn)`` over the leading axis of every array argument.

    Each array of at least one dimension (also inside dicts and tuples, such
    as camera parameters) is mapped over its leading axis, which must be the
    same batch size ``B`` everywhere; a list or tuple of numbers counts as
    the array it spells. Scalars (Python numbers, 0-d arrays) are shared by
    every sample, and strings, ``None`` and other values are options passed
    unchanged. A batch size that differs between arguments, an argument
    without arrays at all, or an array that is not numeric is an error naming
    the argument.
    """
    names = _argument_names(fn, len(args)) + list(kwargs)
    values = [_as_data(a) for a in args] + [_as_data(v) for v in kwargs.values()]
    leaves, treedef = jax.tree_util.tree_flatten(values)
    leaf_names = [
        name + jax.tree_util.keystr(path)
        for name, value in zip(names, values)
        for path, _ in jax.tree_util.tree_flatten_with_path(value)[0]
    ]
    mapped = []
    for i, leaf in enumerate(leaves):
        if isinstance(leaf, (np.ndarray, jax.Array)):
            if isinstance(leaf, np.ndarray) and leaf.dtype.kind not in "biufc":
                raise TypeError(f"{method}: `{leaf_names[i]}` must be a numeric array, got dtype {leaf.dtype}.")
            if np.ndim(leaf) > 0:
                mapped.append(i)
    if not mapped:
        raise ValueError(
            f"{method}: no argument has a leading batch axis; it maps every array argument over its first "
            f"axis (B, ...), and got {', '.join(f'`{n}`' for n in names) or 'no arguments'} without one.")
    sizes = {leaf_names[i]: leaves[i].shape for i in mapped}
    if len({shape[0] for shape in sizes.values()}) > 1:
        listed = "; ".join(f"`{name}` has {shape[0]} (shape {tuple(shape)})" for name, shape in sizes.items())
        raise ValueError(
            f"{method}: every array argument needs the same batch size B on its leading axis; got {listed}.")

    def one(batch_values):
        full = list(leaves)
        for i, value in zip(mapped, batch_values):
            full[i] = value
        call = jax.tree_util.tree_unflatten(treedef, full)
        return fn(*call[:len(args)], **dict(zip(kwargs, call[len(args):])))

    return jax.vmap(one)([leaves[i] for i in mapped])


class FieldAt(NamedTuple):
    """Where a constructor value is being converted: the codec class's name,
    the field's name and the codec (its earlier fields already converted)."""

    owner: str
    name: str
    codec: Any


def _config_value(value: Any, where: str) -> Any:
    """``value`` as JSON data: tuples become lists, NumPy / JAX scalars and
    arrays Python numbers and nested lists, dtypes their names; ``where``
    names the field in errors."""
    if isinstance(value, np.generic):  # before float: np.float64 is a float, but no JSON type
        if value.dtype.kind in "biuU":
            return value.item()
        if jax.numpy.issubdtype(value.dtype, jax.numpy.floating):  # bfloat16 too
            return float(value)
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, jax.core.Tracer):
        raise TypeError(
            f"to_config(): {where} holds a traced value ({value.aval}); a configuration is made of "
            f"concrete values, so call to_config() outside jax.jit / jax.vmap / jax.grad.")
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return np.dtype(value).name
    if isinstance(value, (np.ndarray, jax.Array)):
        array = np.asarray(value)
        if array.dtype.kind in "biu":
            return array.tolist()
        if not jax.numpy.issubdtype(array.dtype, jax.numpy.floating):
            raise TypeError(f"to_config(): {where} is an array of {array.dtype}, which has no JSON form.")
        return array.astype(np.float64).tolist()  # float32, bfloat16…: exact as Python floats
    if isinstance(value, (tuple, list)):
        return [_config_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise TypeError(f"to_config(): {where} has keys that are not strings: {list(value)!r}.")
        return {key: _config_value(v, f"{where}[{key!r}]") for key, v in value.items()}
    raise TypeError(f"to_config(): {where} holds {value!r} (type {type(value).__name__}), which has no JSON form.")


def codec_field(convert: Callable[[Any, FieldAt], Any] | None = None, *, static: bool = False,
                **kwargs: Any) -> Any:
    """A codec constructor field with its conversion declared on it.

    Args:
      convert: ``convert(value, at) -> value``, run by ``Codec.__post_init__``
        on every construction, in field order (so it may read earlier,
        already converted fields through ``at.codec``). It raises
        ``ValueError`` / ``TypeError`` naming ``at.name`` for a bad value.
        A converter of a pytree leaf must let values it does not recognise
        (tracers, and whatever JAX puts in a leaf when it rebuilds the codec)
        pass unchanged.
      static: ``True`` for fields that decide shapes or branches (hashable,
        not pytree leaves); ``False`` for float hyper-parameters (leaves).
      **kwargs: passed to :func:`dataclasses.field` (``default``,
        ``kw_only``…).
    """
    metadata = {"convert": convert} if convert is not None else None
    return struct.field(pytree_node=not static, metadata=metadata, **kwargs)


def _mmpose_compat(value: Any, at: FieldAt) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{at.owner}: `{at.name}` must be a bool, got {type(value).__name__}.")
    return bool(value)


class Codec(struct.PyTreeNode):
    """Base class of every jaxcodecs codec.

    Subclasses implement ``encode`` (one sample's keypoints to a dict of
    targets keyed by MMPose's names) and ``decode`` (one sample's model output
    to a tuple whose first two elements are keypoints ``(N, K, D)`` and scores
    ``(N, K)``).

    Attributes:
      mmpose_compat: keyword-only, static. ``True`` (default) reproduces
        MMPose 1.3.2's returned values, quirks included; ``False`` gives the
        geometrically exact behaviour documented by each codec.
      label_mapping_table: encoded keys that MMPose packs as instance labels.
      instance_mapping_table: encoded keys that MMPose packs as instances.
      field_mapping_table: encoded keys that MMPose packs as pixel fields.
      auxiliary_encode_keys: extra annotation keys ``encode`` takes beyond
        ``keypoints`` and ``keypoints_visible``.
      decode_input_keys: the encoded keys, in order, whose values are the
        positional arguments of ``decode`` (used by ``round_trip``); empty
        when ``decode`` reads model outputs that ``encode`` does not make
        (AssociativeEmbedding's tag maps).
      eager_host_arguments: names of arguments whose concrete values a
        method checks or uses on the host; a call given one runs op by op
        instead of through the cached eager program (see
        :mod:`jaxcodecs._eager`).
      decode_outputs: the names of ``decode``'s outputs, in order, a nested
        tuple where an output is itself a tuple. Known names and shapes (one
        sample): ``keypoints`` ``(N, K, D)``; ``scores`` and
        ``keypoint_scores`` ``(N, K)`` (``keypoint_scores`` may be ``None``
        where the codec says so); ``instance_scores`` and ``root_scores``
        ``(N,)``; ``valid`` ``(N,)`` bool, the padded rows of a decoder that
        returns a fixed number of instances; ``boxes`` ``(N, 4)``, corners
        in input pixels (EDPoseLabel, whose boxes come first). Codec-specific
        extras carry their own names (e.g. Hand3DHeatmap's
        ``rel_root_depth``). Empty for a decoder that returns None
        (YOLOXPoseAnnotationProcessor, as MMPose's annotation processors).

    Example configurations and inputs (for the demo, the benchmarks and the
    tests) are not part of a codec: see :mod:`jaxcodecs.examples`.
    """

    mmpose_compat: bool = codec_field(_mmpose_compat, static=True, default=True, kw_only=True)

    label_mapping_table: ClassVar[Mapping[str, str]] = _EMPTY
    instance_mapping_table: ClassVar[Mapping[str, str]] = _EMPTY
    field_mapping_table: ClassVar[Mapping[str, str]] = _EMPTY
    auxiliary_encode_keys: ClassVar[frozenset] = frozenset()
    decode_input_keys: ClassVar[tuple[str, ...]] = ()
    decode_outputs: ClassVar[tuple] = ("keypoints", "scores")
    eager_host_arguments: ClassVar[frozenset] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # An eager call of a codec method runs one jitted program per
        # configuration and shape (jaxcodecs._eager).
        for name in _ROUTED_METHODS:
            method = cls.__dict__.get(name)
            if callable(method) and not hasattr(method, "__wrapped_eager__"):
                setattr(cls, name, route_eager(method))

    def __post_init__(self) -> None:
        # The one place where constructor values are converted: each field's
        # declared converter (see ``codec_field``), in declaration order,
        # then the checks that span several fields.
        owner = type(self).__name__
        for field in dataclasses.fields(self):
            convert = field.metadata.get("convert")
            if convert is None:
                continue
            value = getattr(self, field.name)
            converted = convert(value, FieldAt(owner, field.name, self))
            if converted is not value:
                object.__setattr__(self, field.name, converted)
        self.check_config()

    def to_config(self, *, mmpose: bool = False) -> dict[str, Any]:
        """The MMPose-style config dict that builds this codec again.

        ``jaxcodecs.build(codec.to_config())`` gives a codec equal to this
        one, and the dict is JSON data (``json.dumps`` takes it as it is):
        ``type`` (the name the codec's class is registered under) and every
        constructor argument by its name, with the value the codec holds
        (after conversion: sizes as lists, ``dtype`` by name, a sigma the
        codec derived written out). Arrays (lifting statistics) become
        nested lists of Python numbers.

        Args:
          mmpose: ``False`` (default) writes every constructor argument,
            jaxcodecs's own options (the keyword-only fields:
            ``mmpose_compat``, ``dtype``) included. ``True`` writes only
            MMPose's arguments, a config MMPose 1.3.2's ``build`` accepts; a
            codec whose jaxcodecs options are not at their defaults (e.g.
            ``mmpose_compat=False``) has no such config and raises
            ``ValueError``. Either dict builds this codec.

        Raises:
          TypeError: the codec's class is not registered, or a field holds a
            traced value (``to_config`` inside ``jit`` / ``vmap``) or a value
            with no JSON form.
          ValueError: ``mmpose=True`` and a jaxcodecs option differs from its
            default.
        """
        if _registered_name is None:
            raise TypeError("to_config(): the codec registry is not loaded (import jaxcodecs).")
        config: dict[str, Any] = {"type": _registered_name(type(self))}
        owner = type(self).__name__
        # MMPose's arguments in constructor order, then jaxcodecs's options.
        for field in sorted(dataclasses.fields(self), key=lambda f: f.kw_only):
            if not field.init:
                continue
            value = _config_value(getattr(self, field.name), f"{owner}.{field.name}")
            if mmpose and field.kw_only:
                default = (field.default_factory() if field.default_factory is not dataclasses.MISSING
                           else field.default)
                if default is dataclasses.MISSING or value != _config_value(default, field.name):
                    raise ValueError(
                        f"to_config(mmpose=True): `{field.name}` is a jaxcodecs option that MMPose's "
                        f"configs do not have, and this {owner} has {field.name}={value!r}, not the "
                        f"default {_config_value(default, field.name)!r}; to_config() keeps it.")
                continue
            config[field.name] = value
        return config

    def check_config(self) -> None:
        """Checks that span several fields (each field's own conversion and
        checks are declared on it with :func:`codec_field`). Raises
        ``ValueError`` / ``TypeError``; must not modify the codec."""

    # ------------------------------------------------------------------ API
    def encode(self, keypoints: Any, keypoints_visible: Any = None) -> dict[str, jax.Array]:
        """Encodes one sample's keypoints ``(N, K, D)`` into training targets."""
        raise NotImplementedError

    def decode(self, encoded: Any) -> tuple[jax.Array, ...]:
        """Decodes one sample's model output into ``(keypoints, scores, ...)``."""
        raise NotImplementedError

    def batch_encode(self, *args: Any, **kwargs: Any) -> dict[str, jax.Array]:
        """``encode`` mapped over a leading batch axis of every array argument.

        Every returned array gets the leading batch axis ``B``. Wrap in
        ``jax.jit`` for speed: ``jax.jit(codec.batch_encode)(kpts, vis)``.
        """
        return _vmap_call(self.encode, args, kwargs, f"{type(self).__name__}.batch_encode")

    def batch_decode(self, *args: Any, **kwargs: Any) -> tuple[jax.Array, ...]:
        """``decode`` mapped over a leading batch axis of every array argument."""
        return _vmap_call(self.decode, args, kwargs, f"{type(self).__name__}.batch_decode")

    def round_trip(self, keypoints: Any, keypoints_visible: Any = None) -> tuple[jax.Array, ...]:
        """``decode`` applied to the targets ``encode`` makes of ``keypoints``."""
        if not self.decode_input_keys:
            raise TypeError(
                f"{type(self).__name__}.decode reads model outputs that encode does not make; "
                f"round_trip() is not available (call decode with them instead)."
            )
        encoded = self.encode(keypoints, keypoints_visible)
        return self.decode(*[encoded[key] for key in self.decode_input_keys])


_ROUTED_METHODS = ("encode", "decode", "batch_encode", "batch_decode")
Codec.batch_encode = route_eager(Codec.batch_encode)
Codec.batch_decode = route_eager(Codec.batch_decode)
