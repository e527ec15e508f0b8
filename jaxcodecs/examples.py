"""Example inputs for every registered codec: configurations, encode and
decode arguments for a batch, and the keypoints decoding should give back.

The demo (``python -m jaxcodecs demo``), the benchmark (``python -m
jaxcodecs bench``) and the test suite run each codec through its entry here,
so no codec carries demo code. An entry (:class:`CodecExamples`) has:

* ``configs``: representative constructor configs (without ``type``);
* ``encode_inputs(codec, keypoints, visible, rng)``: from ``B`` 2-D poses
  ``keypoints (B, K, 2)`` in input pixels and ``visible (B, K)``, the
  arguments of ``codec.batch_encode`` (one sample per pose, leading axis
  ``B`` on every array) and the truth ``(B, K, D)``, as
  :class:`EncodeInputs`. The default, :func:`pose_inputs`, passes the poses
  as one instance per sample, which suits codecs whose ``encode`` takes only
  ``keypoints`` and ``keypoints_visible``;
* ``decode_inputs(codec, encode_inputs, rng)``: the arguments of
  ``codec.batch_decode`` for the same ``B`` samples, ``(args, kwargs)``.
  These stand for a model's output: :func:`from_encoded` takes them from
  the codec's own targets, and a codec whose decoder reads outputs that
  ``encode`` does not make (tag maps, say) synthesises them from
  ``encode_inputs.keypoints`` instead.

A codec registered with :func:`jaxcodecs.register` has no entry until
:func:`register_examples` adds one; until then :func:`get_examples` raises a
``KeyError`` that says so. There is no default: only the codec's author
knows a valid configuration and what its decoder reads. For example::

    examples.register_examples("MyHeatmap", examples.CodecExamples(
        configs=({"input_size": (192, 256), "heatmap_size": (48, 64)},),
        decode_inputs=examples.from_encoded("heatmaps")))
    batch = examples.example_batch(codec, 8)   # 8 samples of the bundled poses
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from jaxcodecs import _example_entries, _example_entries_multi
from jaxcodecs._examples_core import CodecExamples, EncodeInputs, ExampleBatch, from_encoded, pose_inputs
from jaxcodecs.base import Codec
from jaxcodecs.registry import get_codec_class, list_codecs

__all__ = [
    "DEMO_FILL", "DEFAULT_INPUT_SIZE", "CodecExamples", "EncodeInputs", "ExampleBatch",
    "demo_keypoints", "example_batch", "from_encoded", "get_examples", "input_size_of",
    "list_examples", "make_batch", "pose_inputs", "register_examples",
]

DEMO_FILL = 0.7
#: ``(w, h)`` the poses are placed in for a codec without ``input_size``.
DEFAULT_INPUT_SIZE = (192, 256)


_EXAMPLES: dict[str, CodecExamples] = {}


def register_examples(name: str, entry: CodecExamples, *, force: bool = False) -> CodecExamples:
    """Adds the example entry of the codec registered as ``name``.

    Replacing an entry needs ``force=True`` (``ValueError`` otherwise).
    """
    if not isinstance(entry, CodecExamples):
        raise TypeError(f"register_examples() takes a CodecExamples, got {type(entry).__name__}.")
    if name in _EXAMPLES and _EXAMPLES[name] is not entry and not force:
        raise ValueError(f"Codec {name!r} already has examples; pass force=True to replace them.")
    _EXAMPLES[name] = entry
    return entry


def list_examples() -> tuple[str, ...]:
    """The codec names that have an example entry, sorted."""
    return tuple(sorted(_EXAMPLES))


def get_examples(name: str) -> CodecExamples:
    """The example entry of codec ``name``; ``KeyError`` when it has none."""
    try:
        return _EXAMPLES[name]
    except KeyError:
        raise KeyError(
            f"Codec {name!r} has no examples: register them with "
            f"jaxcodecs.examples.register_examples({name!r}, CodecExamples(configs=..., "
            f"decode_inputs=...)). Codecs with examples: {', '.join(list_examples())}."
        ) from None


def _entry_of(codec: Codec, name: str | None) -> CodecExamples:
    if name is not None:
        return get_examples(name)
    cls = type(codec)
    if cls.__name__ in _EXAMPLES:
        return _EXAMPLES[cls.__name__]
    for registered in list_codecs():  # a class registered under another name
        if get_codec_class(registered) is cls and registered in _EXAMPLES:
            return _EXAMPLES[registered]
    return get_examples(cls.__name__)  # raises


def input_size_of(codec: Any) -> tuple[int, int]:
    """The codec's ``input_size`` ``(w, h)``, or :data:`DEFAULT_INPUT_SIZE`."""
    size = getattr(codec, "input_size", None)
    try:
        width, height = (int(v) for v in size)
        return width, height
    except (TypeError, ValueError):
        return DEFAULT_INPUT_SIZE


def demo_keypoints(
    num_poses: int, input_size: Sequence[int], seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The bundled poses placed in an input of size ``(w, h)``.

    The unit-box poses of :func:`jaxcodecs.sample.load_coco17_sample` fill
    the central ``DEMO_FILL = 70%`` of the input, ``x = -0.5 + w * (0.15 +
    0.7 * u)`` (the input spans ``[-0.5, w - 0.5]``, pixel centres at
    integers), plus a jitter ``numpy.random.default_rng(seed).uniform(-0.5,
    0.5, (num_poses, 17, 2))`` that takes keypoints off the pixel grid. More
    than 64 poses repeat the sample with fresh jitter.

    Returns:
      ``keypoints (num_poses, 17, 2)`` and ``visible (num_poses, 17)``, float32.
    """
    from jaxcodecs.sample import load_coco17_sample

    unit, visible = load_coco17_sample()
    reps = -(-num_poses // len(unit))
    unit = np.tile(unit, (reps, 1, 1))[:num_poses].astype(np.float64)
    visible = np.tile(visible, (reps, 1))[:num_poses]
    size = np.asarray(input_size, np.float64)
    margin = (1.0 - DEMO_FILL) / 2
    jitter = np.random.default_rng(seed).uniform(-0.5, 0.5, size=unit.shape)
    keypoints = -0.5 + size * (margin + DEMO_FILL * unit) + jitter
    return keypoints.astype(np.float32), visible.astype(np.float32)


def make_batch(
    codec: Codec, keypoints: np.ndarray, visible: np.ndarray, *, seed: int = 0, name: str | None = None
) -> ExampleBatch:
    """The example batch of ``codec`` built on the given 2-D poses.

    Args:
      codec: a codec instance; its entry is that of ``name`` (default: the
        name its class is registered under).
      keypoints: ``(B, K, 2)`` poses in input pixels.
      visible: ``(B, K)``.
      seed: seeds the generators the entry may draw further values from
        (depths, hand types, synthesised model outputs).

    Raises:
      KeyError: the codec has no example entry.
    """
    entry = _entry_of(codec, name)
    keypoints = np.asarray(keypoints, np.float32)
    visible = np.asarray(visible, np.float32)
    if keypoints.ndim != 3 or keypoints.shape[-1] != 2 or visible.shape != keypoints.shape[:2]:
        raise ValueError(
            f"make_batch() takes keypoints (B, K, 2) and visible (B, K), got shapes "
            f"{keypoints.shape} and {visible.shape}."
        )
    encode_rng, decode_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    encode = entry.encode_inputs(codec, keypoints, visible, encode_rng)
    return ExampleBatch(codec, entry, encode, decode_rng)


def example_batch(codec: Codec, batch_size: int, *, seed: int = 0, name: str | None = None) -> ExampleBatch:
    """``batch_size`` samples of the bundled poses placed in the codec's
    input (:func:`demo_keypoints`), through :func:`make_batch`."""
    keypoints, visible = demo_keypoints(batch_size, input_size_of(codec), seed)
    return make_batch(codec, keypoints, visible, seed=seed, name=name)


for _name, _entry in {**_example_entries.ENTRIES, **_example_entries_multi.ENTRIES}.items():
    register_examples(_name, _entry)
del _name, _entry
