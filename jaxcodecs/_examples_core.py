"""The types of example entries and the helpers entries are built from
(see :mod:`jaxcodecs.examples`, which re-exports them)."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Mapping, NamedTuple

import jax
import numpy as np

from jaxcodecs.base import Codec

__all__ = ["CodecExamples", "EncodeInputs", "ExampleBatch", "from_encoded", "pose_inputs"]


class EncodeInputs(NamedTuple):
    """Encode arguments of a batch and the keypoints decoding should give back.

    Attributes:
      args, kwargs: for ``codec.batch_encode`` (leading axis ``B``).
      keypoints: the truth ``(B, K, D)`` that the decoded keypoints (the
        instance nearest to it) are compared with.
      visible: ``(B, K)``; keypoints with ``visible > 0`` count.
    """

    args: tuple
    kwargs: dict
    keypoints: np.ndarray
    visible: np.ndarray


class ExampleBatch:
    """Everything a round trip of ``B`` samples needs.

    ``codec.batch_encode(*encode_args, **encode_kwargs)`` and
    ``codec.batch_decode(*decode_args, **decode_kwargs)`` both run; the
    latter returns keypoints ``(B, N, K, D)`` and scores ``(B, N, K)`` first,
    to be compared with ``keypoints`` ``(B, K, D)`` where ``visible > 0``.

    The decode arguments are made on first access (by the entry's
    ``decode_inputs``, which may run the codec's ``encode``), so that timing
    the first encode call still measures its compilation.
    """

    def __init__(self, codec: Codec, entry: CodecExamples, encode: EncodeInputs,
                 rng: np.random.Generator) -> None:
        self.encode_args = tuple(encode.args)
        self.encode_kwargs = dict(encode.kwargs)
        self.keypoints = np.asarray(encode.keypoints)
        self.visible = np.asarray(encode.visible)
        self._make_decode = lambda: entry.decode_inputs(codec, encode, rng)

    @functools.cached_property
    def _decode(self) -> tuple[tuple, dict]:
        args, kwargs = self._make_decode()
        return tuple(args), dict(kwargs)

    @property
    def decode_args(self) -> tuple:
        """Positional arguments of ``batch_decode``."""
        return self._decode[0]

    @property
    def decode_kwargs(self) -> dict:
        """Keyword arguments of ``batch_decode``."""
        return self._decode[1]

    def __repr__(self) -> str:
        return f"ExampleBatch(B={len(self.keypoints)}, keypoints {self.keypoints.shape})"


EncodeInputsFn = Callable[[Codec, np.ndarray, np.ndarray, np.random.Generator], EncodeInputs]
DecodeInputsFn = Callable[[Codec, EncodeInputs, np.random.Generator], tuple[tuple, dict]]


def pose_inputs(codec: Codec, keypoints: np.ndarray, visible: np.ndarray,
                rng: np.random.Generator) -> EncodeInputs:
    """Encode inputs for codecs that take only keypoints and visibility: each
    pose is one instance, ``(B, 1, K, 2)`` and ``(B, 1, K)``; the truth is
    the poses themselves."""
    del codec, rng
    return EncodeInputs((keypoints[:, None], visible[:, None]), {}, keypoints, visible)


@functools.lru_cache(maxsize=64)
def _cached_batch_encode(codec: Codec, leaf_types: tuple) -> Callable[..., Any]:
    del leaf_types  # part of the key only: 2 and 2.0 are equal, but not the same leaf
    return jax.jit(codec.batch_encode)


def _batch_encode(codec: Codec, args: tuple, kwargs: dict) -> dict:
    """``codec.batch_encode``, jitted once per codec configuration when all
    arguments are arrays (or containers of arrays), op by op otherwise."""
    leaves = jax.tree_util.tree_leaves((args, kwargs))
    if not all(isinstance(leaf, (np.ndarray, jax.Array)) for leaf in leaves):
        return codec.batch_encode(*args, **kwargs)  # options (scalars, strings) stay static
    try:
        encode = _cached_batch_encode(codec, tuple(map(type, jax.tree_util.tree_leaves(codec))))
    except TypeError:  # an unhashable codec (array-valued fields)
        encode = jax.jit(codec.batch_encode)
    return encode(*args, **kwargs)


def from_encoded(*keys: str) -> DecodeInputsFn:
    """Decode inputs taken from the codec's own targets: ``batch_encode`` of
    the encode inputs, then the values of ``keys`` as positional arguments."""
    if not keys:
        raise ValueError("from_encoded() needs at least one encoded key.")

    def decode_inputs(codec: Codec, inputs: EncodeInputs, rng: np.random.Generator):
        del rng
        encoded = _batch_encode(codec, inputs.args, inputs.kwargs)
        missing = [key for key in keys if key not in encoded]
        if missing:
            raise KeyError(
                f"{type(codec).__name__}.encode returned no {missing}; it returned {sorted(encoded)}."
            )
        return tuple(encoded[key] for key in keys), {}

    decode_inputs.__qualname__ = f"from_encoded{keys}"
    return decode_inputs


@dataclasses.dataclass(frozen=True)
class CodecExamples:
    """The example entry of one codec type (see the module docstring).

    Attributes:
      configs: representative constructor configs, without ``type`` and
        ``mmpose_compat``; at least one.
      decode_inputs: ``(codec, EncodeInputs, rng) -> (args, kwargs)`` for
        ``batch_decode``.
      encode_inputs: ``(codec, keypoints (B, K, 2), visible (B, K), rng) ->
        EncodeInputs``; :func:`pose_inputs` by default.
    """

    configs: tuple[Mapping[str, Any], ...]
    decode_inputs: DecodeInputsFn
    encode_inputs: EncodeInputsFn = pose_inputs

    def __post_init__(self) -> None:
        configs = tuple(self.configs)
        if not configs or not all(isinstance(c, Mapping) for c in configs):
            raise TypeError(
                f"CodecExamples: `configs` must be a non-empty sequence of dicts, got {self.configs!r}."
            )
        for config in configs:
            if "type" in config or "mmpose_compat" in config:
                raise ValueError(
                    f"CodecExamples: a config holds constructor arguments only (no 'type' or "
                    f"'mmpose_compat'), got {dict(config)!r}."
                )
        object.__setattr__(self, "configs", configs)
        for field in ("decode_inputs", "encode_inputs"):
            if not callable(getattr(self, field)):
                raise TypeError(f"CodecExamples: `{field}` must be callable, got {getattr(self, field)!r}.")
