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

__all__ = ["Codec", "FieldAt", "codec_field"]

_EMPTY: Mapping[str, str] = types.MappingProxyType({})


def _is_array_tree(x: Any) -> bool:
    """True for arrays and non-empty containers of arrays (these get batched)."""
    leaves = jax.tree_util.tree_leaves(x)
    return bool(leaves) and all(isinstance(leaf, (jax.Array, np.ndarray)) for leaf in leaves)


def _vmap_call(fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """``jax.vmap(fn)`` over every array argument; other arguments stay static.

    Arrays (and dicts / tuples of arrays, such as camera parameters) are mapped
    over their leading axis. Python scalars, strings, ``None`` and the like are
    options, not data, and are passed unchanged to every call.
    """
    dyn_pos = [i for i, a in enumerate(args) if _is_array_tree(a)]
    dyn_kw = [k for k, v in kwargs.items() if _is_array_tree(v)]

    def one(pos_values, kw_values):
        call_args = list(args)
        for i, value in zip(dyn_pos, pos_values):
            call_args[i] = value
        call_kwargs = dict(kwargs)
        call_kwargs.update(kw_values)
        return fn(*call_args, **call_kwargs)

    return jax.vmap(one)([args[i] for i in dyn_pos], {k: kwargs[k] for k in dyn_kw})


class FieldAt(NamedTuple):
    """Where a constructor value is being converted: the codec class's name,
    the field's name and the codec (its earlier fields already converted)."""

    owner: str
    name: str
    codec: Any


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
        return _vmap_call(self.encode, args, kwargs)

    def batch_decode(self, *args: Any, **kwargs: Any) -> tuple[jax.Array, ...]:
        """``decode`` mapped over a leading batch axis of every array argument."""
        return _vmap_call(self.decode, args, kwargs)

    def round_trip(self, keypoints: Any, keypoints_visible: Any = None) -> tuple[jax.Array, ...]:
        """``decode`` applied to the targets ``encode`` makes of ``keypoints``."""
        if not self.decode_input_keys:
            raise TypeError(
                f"{type(self).__name__}.decode reads model outputs that encode does not make; "
                f"round_trip() is not available (call decode with them instead)."
            )
        encoded = self.encode(keypoints, keypoints_visible)
        return self.decode(*[encoded[key] for key in self.decode_input_keys])
