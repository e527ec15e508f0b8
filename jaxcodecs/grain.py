"""grain transforms that encode a record's keypoints on the host.

Two ways to feed a codec's targets to a model:

* **Targets on the host** (:class:`EncodeKeypoints`, this module): a grain
  ``Map`` transform encodes each record in the input pipeline, NumPy in and
  NumPy out, in grain's worker processes. Simple, but every target crosses
  to the accelerator (a 17 x 64 x 48 heatmap is 209 KB per sample, against
  136 bytes of keypoints) and the host's CPU draws them one sample at a time.
* **Targets on the device** (faster, recommended): the pipeline carries only
  the keypoints, and the jitted train step draws the targets for the whole
  batch on the accelerator::

      @jax.jit
      def train_step(state, images, keypoints, visible):
          targets = codec.batch_encode(keypoints, visible)["heatmaps"]
          ...

  No transform is needed for that; ``notebooks/02_flax_training.ipynb``
  times both.

Requires grain, the optional extra ``grain`` (``pip install ".[grain]"`` in a checkout, or ``pip install grain``).
grain's worker processes (``mp_prefetch``) read absl flags: a program that
does not start through ``absl.app.run`` calls
``absl.flags.FLAGS.mark_as_parsed()`` first.

Example::

    import grain, jaxcodecs
    from jaxcodecs.grain import EncodeKeypoints

    codec = jaxcodecs.MSRAHeatmap(input_size=(192, 256), heatmap_size=(48, 64), sigma=2.0)
    dataset = (grain.MapDataset.source(records)          # dicts with "keypoints", "keypoints_visible"
               .map(EncodeKeypoints(codec))              # + "heatmaps", "keypoint_weights"
               .batch(32))
"""

from __future__ import annotations

import inspect
from typing import Any, Mapping

try:
    import grain
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "jaxcodecs.grain needs the optional dependency grain: pip install grain "
        '(the extra "grain": pip install ".[grain]" in a jaxcodecs checkout)'
    ) from error

import jax
import numpy as np

from jaxcodecs.base import Codec

__all__ = ["EncodeKeypoints", "RandomEncodeKeypoints"]


def _encode_arguments(codec: Codec) -> tuple[str, ...]:
    """The names ``encode`` takes by position or keyword (not ``*args``)."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return tuple(name for name, p in inspect.signature(codec.encode).parameters.items() if p.kind in kinds)


class _HostEncoder:
    """What both transforms share: the arguments read from a record, the
    encode jitted once per process on the host's CPU, the merge."""

    def __init__(self, codec: Codec, keys: Mapping[str, str] | None = None, prefix: str = ""):
        if not isinstance(codec, Codec):
            raise TypeError(f"`codec` must be a jaxcodecs codec, got {type(codec).__name__}.")
        arguments = _encode_arguments(codec)
        keys = dict(keys or {})
        unknown = sorted(set(keys) - set(arguments))
        if unknown:
            raise ValueError(f"`keys` names {unknown}, which {type(codec).__name__}.encode does not take; "
                             f"it takes {list(arguments)}.")
        self.codec = codec
        self.keys = {name: keys.get(name, name) for name in arguments}
        self.prefix = str(prefix)
        self._encode = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_encode"] = None  # compiled per process
        return state

    def _arguments(self, element: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(element, Mapping):
            raise TypeError(f"{type(self).__name__} maps dict records, got {type(element).__name__}.")
        if self.keys["keypoints"] not in element:
            raise KeyError(f"the record has no `{self.keys['keypoints']}` (the keypoints); "
                           f"it has {sorted(element)}.")
        return {name: element[key] for name, key in self.keys.items() if key in element}

    def _run(self, arguments: dict[str, Any]) -> dict[str, Any]:
        cpu = jax.devices("cpu")[0]
        with jax.default_device(cpu):
            if self._encode is None:
                self._encode = jax.jit(self.codec.encode)
            encoded = self._encode(**arguments)
        return jax.tree_util.tree_map(np.asarray, encoded)

    def _merge(self, element: Mapping[str, Any], encoded: dict[str, Any]) -> dict[str, Any]:
        out = dict(element)
        for name, value in encoded.items():
            out[self.prefix + name] = value
        return out


class EncodeKeypoints(_HostEncoder, grain.transforms.Map):
    """Encodes a record's keypoints with ``codec.encode`` on the host.

    The record is a dict; the values of the keys named like ``encode``'s
    arguments (``keypoints``, ``keypoints_visible``, ``bbox``…) are passed to
    it, renamed through ``keys`` where the record names them otherwise. The
    encoded targets, as NumPy arrays, are added to a copy of the record
    (``prefix`` before their names); the record given is not modified.

    The transform is picklable (grain sends it to its worker processes):
    only the codec (a pytree of configuration) travels; each process jits
    ``encode`` once on its first record, on the host's CPU, and reuses it
    for every record of the same shapes.

    Args:
      codec: any jaxcodecs codec.
      keys: ``{encode argument: record key}`` for arguments the record
        names differently (e.g. ``{"keypoints": "joints_2d"}``).
      prefix: put before the names of the encoded targets in the record.
    """

    def map(self, element: Mapping[str, Any]) -> dict[str, Any]:
        """The record with the encoded targets added (NumPy arrays)."""
        return self._merge(element, self._run(self._arguments(element)))


class RandomEncodeKeypoints(_HostEncoder, grain.transforms.RandomMap):
    """:class:`EncodeKeypoints` for a codec that draws random numbers
    (``DecoupledHeatmap``'s root offsets and instance sampling): each record
    gets a ``jax.random`` key drawn from the generator grain hands the
    transform (seeded by the dataset's ``seed``), so that the pipeline is
    reproducible. Same arguments as :class:`EncodeKeypoints`."""

    def __init__(self, codec: Codec, keys: Mapping[str, str] | None = None, prefix: str = ""):
        super().__init__(codec, keys, prefix)
        if "key" not in self.keys:
            raise TypeError(f"{type(codec).__name__}.encode takes no `key`: use EncodeKeypoints.")
        del self.keys["key"]

    def random_map(self, element: Mapping[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        """The record with the encoded targets added, drawn with ``rng``."""
        arguments = self._arguments(element)
        arguments["key"] = jax.random.key(int(rng.integers(0, 2**32)))
        return self._merge(element, self._run(arguments))
