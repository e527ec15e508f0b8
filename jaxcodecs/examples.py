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

import dataclasses
import functools
from typing import Any, Callable, Mapping, NamedTuple, Sequence

import jax
import numpy as np

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


# ------------------------------------------------------------ the entries
def _lifting_target(keypoints: np.ndarray) -> np.ndarray:
    """A 3-D pose per 2-D pose, ``(B, 1, K, 3)``: metres in the camera frame,
    about 4 m away, each joint at its own depth."""
    batch, joints, _ = keypoints.shape
    depth = 4.0 + 0.2 * np.sin(np.arange(joints, dtype=np.float64))
    depth = np.broadcast_to(depth[None, :, None], (batch, joints, 1))
    return np.concatenate([keypoints / 1000.0, depth], axis=-1).astype(np.float32)[:, None]


def _image_lifting_inputs(codec, keypoints, visible, rng) -> EncodeInputs:
    """The poses (one frame each) with a 3-D target each."""
    del codec, rng
    target = _lifting_target(keypoints)
    args = (keypoints[:, None], visible[:, None], target, visible[:, None])
    return EncodeInputs(args, {}, target[:, 0], visible)


def _camera(batch: int, intrinsics: bool) -> dict[str, np.ndarray]:
    camera = {"w": np.full(batch, 1000.0, np.float32), "h": np.full(batch, 1000.0, np.float32)}
    if intrinsics:
        camera["f"] = np.full((batch, 2, 1), 1150.0, np.float32)
        camera["c"] = np.full((batch, 2, 1), 500.0, np.float32)
    return camera


def _video_lifting_inputs(codec, keypoints, visible, rng) -> EncodeInputs:
    """The poses (one frame each), a 3-D target each and a camera."""
    del codec, rng
    target = _lifting_target(keypoints)
    args = (keypoints[:, None], visible[:, None], target, visible[:, None], _camera(len(keypoints), True))
    return EncodeInputs(args, {}, target[:, 0], visible)


def _video_lifting_decode(codec, inputs, rng):
    """The label, and the root where the codec makes one (``zero_center``)."""
    keys = ("lifting_target_label", "target_root") if codec.zero_center else ("lifting_target_label",)
    return from_encoded(*keys)(codec, inputs, rng)


def _motionbert_inputs(codec, keypoints, visible, rng) -> EncodeInputs:
    """The poses with a 3-D target each and a camera; the truth is the
    (root-relative) label / 1000, what decoding the label alone returns."""
    del rng
    target = _lifting_target(keypoints)
    args = (keypoints[:, None], visible[:, None], target, visible[:, None], _camera(len(keypoints), False))
    label = np.asarray(jax.vmap(lambda *a: codec.encode(*a)["lifting_target_label"])(*args))
    return EncodeInputs(args, {}, label[:, 0] / 1000.0, visible)


def _hand3d_inputs(codec, keypoints, visible, rng) -> EncodeInputs:
    """The poses given a depth each (within 60% of the depth bound), a root
    depth and a hand type drawn from ``rng``; the truth is the 3-D pose."""
    batch, joints, _ = keypoints.shape
    bound = float(np.asarray(codec.heatmap3d_depth_bound))
    depth = 0.3 * bound * np.sin(np.arange(joints, dtype=np.float64) + np.arange(batch)[:, None])
    kp3 = np.concatenate([keypoints, depth[..., None]], axis=-1).astype(np.float32)
    root_bound = float(np.asarray(codec.root_depth_bound))
    hand_type = np.eye(2, dtype=np.float32)[rng.integers(0, 2, batch)][:, None]
    args = (
        kp3[:, None], visible[:, None], np.ones((batch, joints), np.float32),
        rng.uniform(-0.4, 0.4, batch).astype(np.float32) * root_bound, np.ones(batch, np.float32),
        hand_type, np.ones((batch, 1), np.float32),
        np.full((batch, 2), 1000.0, np.float32), np.full((batch, 2), 32.0, np.float32),
    )
    return EncodeInputs(args, {}, kp3, visible)


_HEATMAP_SIZES = {"input_size": (192, 256), "heatmap_size": (48, 64)}
_HAND3D_SIZES = {"image_size": (64, 64), "heatmap_size": (16, 16, 16), "depth_size": 16,
                 "root_heatmap_size": 16, "heatmap_size_root": 16}

_BUILTIN = {
    "MSRAHeatmap": CodecExamples(
        configs=({**_HEATMAP_SIZES, "sigma": 2.0}, {**_HEATMAP_SIZES, "sigma": 2.0, "unbiased": True}),
        decode_inputs=from_encoded("heatmaps"),
    ),
    "UDPHeatmap": CodecExamples(
        configs=({**_HEATMAP_SIZES, "heatmap_type": "gaussian"}, {**_HEATMAP_SIZES, "heatmap_type": "combined"}),
        decode_inputs=from_encoded("heatmaps"),
    ),
    "MegviiHeatmap": CodecExamples(
        configs=({**_HEATMAP_SIZES, "kernel_size": 11},),
        decode_inputs=from_encoded("heatmaps"),
    ),
    "RegressionLabel": CodecExamples(
        configs=({"input_size": (192, 256)},),
        decode_inputs=from_encoded("keypoint_labels"),
    ),
    "IntegralRegressionLabel": CodecExamples(
        configs=({**_HEATMAP_SIZES, "sigma": 2.0},),
        decode_inputs=from_encoded("keypoint_labels"),
    ),
    "SimCCLabel": CodecExamples(
        configs=({"input_size": (192, 256), "sigma": (4.9, 5.66), "simcc_split_ratio": 2.0},
                 {"input_size": (192, 256), "sigma": (4.9, 5.66), "simcc_split_ratio": 2.0, "use_dark": True}),
        decode_inputs=from_encoded("keypoint_x_labels", "keypoint_y_labels"),
    ),
    "ImagePoseLifting": CodecExamples(
        configs=({"num_keypoints": 17},
                 {"num_keypoints": 17, "root_index": 0, "remove_root": True, "reshape_keypoints": False}),
        encode_inputs=_image_lifting_inputs,
        decode_inputs=from_encoded("lifting_target_label", "target_root"),
    ),
    "VideoPoseLifting": CodecExamples(
        configs=({"num_keypoints": 17},
                 {"num_keypoints": 17, "remove_root": True, "reshape_keypoints": False, "normalize_camera": True}),
        encode_inputs=_video_lifting_inputs,
        decode_inputs=_video_lifting_decode,
    ),
    "MotionBERTLabel": CodecExamples(
        configs=({"num_keypoints": 17}, {"num_keypoints": 17, "mode": "train", "rootrel": True}),
        encode_inputs=_motionbert_inputs,
        decode_inputs=from_encoded("lifting_target_label"),
    ),
    "Hand3DHeatmap": CodecExamples(
        configs=({**_HAND3D_SIZES, "sigma": 2.0}, {**_HAND3D_SIZES, "sigma": 2.5, "max_bound": 255.0}),
        encode_inputs=_hand3d_inputs,
        decode_inputs=from_encoded("heatmaps", "root_depth", "type"),
    ),
}
for _name, _entry in _BUILTIN.items():
    register_examples(_name, _entry)
del _name, _entry
