"""Bad input, for every registered codec: a generated matrix.

Each entry hands one codec one kind of malformed argument or configuration
and states what must happen (SPEC §3 "Bad input", §4):

* ``Raises``: a clear error, raised before any computation: exactly
  ``ValueError`` or ``TypeError`` (no subclass, such as JAX's tracer
  errors), whose message names the argument in backticks and says what it
  got ("got"). Configuration errors are raised by ``jaxcodecs.build``.
* ``Finite``: outputs of the documented shapes whose float values are all
  finite; where an entry puts NaN into one keypoint's part of a decoder's
  input, that keypoint's scores (or, for a coordinate decoder, its row) may
  be NaN, nothing else. A NaN or ±Inf coordinate makes that keypoint
  invisible: weight 0 and nothing painted; a non-finite (or zero-width)
  camera or a non-finite root gives zero target weights, never NaN.
* ``EmptyOrError``: zero instances either work (outputs of the documented,
  empty shapes, finite) or raise a clear ``ValueError`` as above.

Every entry runs eagerly and under ``jax.jit``. The generator reads the
registry: every codec of ``jaxcodecs.list_codecs()`` gets the generic
categories that apply to it, built on its valid example inputs from
``jaxcodecs.examples`` (sample 0 of ``example_batch``), plus the entries of
its row in ``SPECS``, which holds what is specific to a codec: its
documented output shapes, which outputs hold keypoint ``k``'s weight and
target, its decoder's kind, its configuration fields and its companion
arguments. A registered codec without a row fails ``test_every_codec_has_a_row``.

Compilations are shared: each configuration is built once (module cache)
and its jitted ``encode`` / ``decode`` are reused by every entry of the same
shapes; the base inputs are made once per configuration.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import inspect
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxcodecs
from inventory import IMPLEMENTED
from jaxcodecs import examples

Args = dict  # named call arguments, NumPy arrays (or dicts of them)


# ------------------------------------------------------------ expectations
@dataclasses.dataclass(frozen=True)
class Raises:
    """A ``ValueError`` / ``TypeError`` naming one of ``names``.

    ``python_quotes``: the error is Python's own (an unexpected keyword
    argument), which quotes the name as ``'name'``.
    ``when_traced``: for a check of values (not shapes), what happens under
    ``jax.jit``, where the values are tracers and cannot be checked (the
    codec's documented fallback, e.g. offsets clipped to their range).
    """

    names: tuple[str, ...]
    python_quotes: bool = False
    when_traced: Any = None


@dataclasses.dataclass(frozen=True)
class Finite:
    """Finite outputs of the documented shapes.

    Attributes:
      nan_keypoint: ``(k, rows)``: keypoint ``k`` of the decoded outputs may
        be NaN in its scores (``rows=False``: every output after the
        keypoints, at ``[..., k]``) or in its whole row (``rows=True``:
        ``[..., k, :]`` of the keypoints too).
      zero: ``(codec, args, outputs) -> {label: array}``: parts of the
        outputs that must be exactly zero (weights, painted targets).
      check: ``(codec, args, outputs) -> None``: further assertions.
    """

    nan_keypoint: tuple[int, bool] | None = None
    zero: Callable | None = None
    check: Callable | None = None


@dataclasses.dataclass(frozen=True)
class EmptyOrError:
    """Zero instances: empty outputs of the documented shapes, or a clear
    ``ValueError`` naming one of ``names``."""

    names: tuple[str, ...]


# ----------------------------------------------------------------- entries
@dataclasses.dataclass(frozen=True)
class Entry:
    """One row of the matrix.

    ``method`` is ``"encode"`` / ``"decode"`` (``make(codec, args) -> args``
    turns the base sample's named arguments into this entry's), ``"build"``
    (``make(config) -> config``, the built codec must fail) or ``"config"``
    (``make(config) -> config``: the codec is built, encodes the base sample
    (``make_args`` adapts it) and decodes its own targets).
    """

    codec: str
    config: str
    category: str
    detail: str
    method: str
    make: Callable
    expect: Raises | Finite | EmptyOrError
    make_args: Callable | None = None

    @property
    def id(self) -> str:
        codec = f"{self.codec}({self.config})" if self.config else self.codec
        return f"{codec}-{self.category}-{self.detail}"


# ---------------------------------------------------------------- helpers
def _replace(name: str, fn: Callable) -> Callable:
    """``make``: argument ``name`` replaced by ``fn(codec, old value)``."""

    def make(codec, args):
        return {**args, name: fn(codec, args[name])}

    return make


def _set(**values) -> Callable:
    """``make``: arguments set to fixed values (a callable value gets ``(codec, args)``)."""

    def make(codec, args):
        new = dict(args)
        for key, value in values.items():
            new[key] = value(codec, args) if callable(value) else value
        return new

    return make


def _drop_key(name: str, key: str) -> Callable:
    return _replace(name, lambda codec, d: {k: v for k, v in d.items() if k != key})


def _compose(*makes: Callable) -> Callable:
    def make(codec, args):
        for fn in makes:
            args = fn(codec, args)
        return args

    return make


def _cast(dtype) -> Callable:
    """``make``: every float array among the arguments cast to ``dtype``."""

    def cast(leaf):
        if isinstance(leaf, np.ndarray) and np.issubdtype(leaf.dtype, np.floating):
            return leaf.astype(dtype)
        return leaf

    def make(codec, args):
        return jax.tree_util.tree_map(cast, args)

    return make


def _slice_axis(x, axis: int, stop: int) -> np.ndarray:
    index = [slice(None)] * x.ndim
    index[axis] = slice(0, stop)
    return x[tuple(index)]


def _grow_axis(x, axis: int) -> np.ndarray:
    """``x`` with one more entry along ``axis`` (the first one repeated)."""
    return np.concatenate([x, _slice_axis(x, axis, 1)], axis=axis)


def _first_visible(args: Args, name: str = "keypoints_visible") -> int:
    vis = np.asarray(args[name]).reshape(-1, np.shape(args[name])[-1])[0]
    return int(np.flatnonzero(vis > 0.5)[0])


def _coordinate(k_of: Callable, axis: int, value: float, visible: bool | None,
                name: str = "keypoints", vis_name: str = "keypoints_visible") -> Callable:
    """``make``: coordinate ``axis`` of keypoint ``k_of(args)`` of row 0 set to
    ``value``, its visibility set to 1 / 0 (``None``: unchanged)."""

    def make(codec, args):
        k = k_of(args)
        points = np.array(args[name], copy=True)
        points.reshape(-1, *points.shape[-2:])[0, k, axis] = value
        new = {**args, name: points}
        if visible is not None and args.get(vis_name) is not None:
            vis = np.array(args[vis_name], copy=True)
            vis.reshape(-1, vis.shape[-1])[0, k] = 1.0 if visible else 0.0
            new[vis_name] = vis
        return new

    return make


def _is_float(x) -> bool:
    return hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.floating)


def _as_f32(x) -> np.ndarray:
    return np.asarray(jnp.asarray(x).astype(jnp.float32)) if _is_float(x) else np.asarray(x)


# ------------------------------------------------------- per-codec table
@dataclasses.dataclass(frozen=True)
class Spec:
    """What the matrix needs to know about one codec.

    Attributes:
      config_labels: a short name per example config (in order).
      encode_shapes: ``(codec, args) -> {key: shape}``, the documented
        shapes of ``encode``'s outputs for these arguments.
      decode_shapes: ``(codec, args) -> tuple``, those of ``decode``
        (nested like its outputs).
      decoder: ``"maps"`` (heatmaps, volumes, SimCC vectors: the map
        categories apply), ``"coordinates"`` (``encoded (N, K, C)``) or
        ``"own"`` (the codec's ``extra`` entries cover its decode inputs).
      maps: the decode arguments that are maps; ``map_region(codec, k)``:
        ``{argument: index}`` of keypoint ``k``'s part of them;
        ``map_ndim``: their spatial rank (2 for heatmaps, 1 for vectors).
      point_dims: last dimensions of ``keypoints`` the codec reads; the
        example's and these others work. ``bad_point_dims`` must raise.
      max_instances: the most instances ``encode`` takes (None: any).
      exact_encode: the value entries of ``encode`` also run with
        ``mmpose_compat=False`` (False where that mode makes the same targets
        from these inputs, differs only in rounding, or uses a renderer that
        another codec's row runs in that mode).
      num_keypoints: the configuration fixes K (the "wrong K" entries).
      k_args: encode arguments with a keypoint axis ``{name: axis}``.
      weight_at / painted_at: ``(codec, k) -> {key: index}``: where the
        encoded weight / target of keypoint ``k`` (instance 0) lies; a NaN
        or ±Inf keypoint must leave them zero.
      impulse: ``(codec, encoded) -> [(array, peak)]``: the targets of the
        keypoints with weight > 0, which σ = 0 renders as one nonzero value
        ``peak``.
      sigma_fields: configuration fields that are Gaussian sigmas.
      config_errors: ``(detail, overrides, field)``: configurations that
        ``build`` must reject naming ``field``.
      config_works: ``(detail, overrides[, adapt])``: unusual but valid
        configurations (σ = 0, sizes of 1): finite targets and decode;
        ``adapt(args) -> args`` fits the base encode arguments to it.
      extra: ``() -> [Entry fields]``: the codec's own entries (companion
        arguments, cameras, roots...), as ``(category, detail, method,
        make, expect[, configs])`` tuples; ``configs`` names the config
        labels to run them on (default: the first).
      extra_configs: further configs (label -> overrides of the first
        example config) used by ``extra`` entries.
      overrides: ``(category, detail) -> expectation`` for generic entries
        whose input the codec accepts, as MMPose does (EDPose's missing
        keypoints, YOLOX's ``(N, K, X)`` visibility and free decode
        arguments).
    """

    config_labels: tuple[str, ...]
    encode_shapes: Callable
    decode_shapes: Callable
    decoder: str
    maps: tuple[str, ...] = ()
    map_region: Callable | None = None
    map_ndim: int = 2
    point_dims: tuple[int, ...] = ()
    bad_point_dims: tuple[int, ...] = (1, 3)
    max_instances: int | None = None
    exact_encode: bool = True
    num_keypoints: bool = False
    k_args: Mapping[str, int] = dataclasses.field(
        default_factory=lambda: {"keypoints": 1, "keypoints_visible": 1})
    weight_at: Callable | None = None
    painted_at: Callable | None = None
    impulse: Callable | None = None
    sigma_fields: tuple[str, ...] = ()
    config_errors: tuple = ()
    config_works: tuple = ()
    extra: Callable | None = None
    extra_configs: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    overrides: Mapping[tuple[str, str], Any] = dataclasses.field(default_factory=dict)


# documented shapes ---------------------------------------------------------
def _nk(args: Args, name: str = "keypoints") -> tuple[int, int]:
    shape = np.shape(args[name])
    return (1, shape[0]) if len(shape) == 2 else (shape[0], shape[1])


def _heatmap_encode_shapes(codec, args):
    n, k = _nk(args)
    width, height = codec.heatmap_size
    channels = 3 * k if getattr(codec, "heatmap_type", "gaussian") == "combined" else k
    return {"heatmaps": (channels, height, width), "keypoint_weights": (n, k)}


def _heatmap_decode_shapes(codec, args):
    channels = np.shape(args["encoded"])[0]
    k = channels // 3 if getattr(codec, "heatmap_type", "gaussian") == "combined" else channels
    return ((1, k, 2), (1, k))


def _regression_encode_shapes(codec, args):
    n, k = _nk(args)
    return {"keypoint_labels": (n, k, 2), "keypoint_weights": (n, k)}


def _integral_encode_shapes(codec, args):
    n, k = _nk(args)
    width, height = codec.heatmap_size
    return {"keypoint_labels": (n, k, 2), "heatmaps": (k, height, width), "keypoint_weights": (n, k)}


def _coordinate_decode_shapes(codec, args):
    n, k, _ = np.shape(args["encoded"])
    return ((n, k, 2), (n, k))


def _simcc_encode_shapes(codec, args):
    n, k = _nk(args)
    lx, ly = codec.label_lengths
    return {"keypoint_x_labels": (n, k, lx), "keypoint_y_labels": (n, k, ly), "keypoint_weights": (n, k)}


def _simcc_decode_shapes(codec, args):
    shape = np.shape(args["simcc_x"])
    n, k = (1, shape[0]) if len(shape) == 2 else shape[:2]
    if codec.decode_visibility:
        return ((n, k, 2), ((n, k), (n, k)))
    return ((n, k, 2), (n, k))


def _hand3d_encode_shapes(codec, args):
    n, k = _nk(args)
    kept = len(codec.joint_indices) if codec.joint_indices is not None else k
    width, height, depth = codec.heatmap_size
    hand = args.get("hand_type")
    return {
        "heatmaps": (kept * depth, height, width),
        "keypoint_weights": (n, kept),
        "root_depth": (1,),
        "root_depth_weight": (1,),
        "type": np.shape(hand) if hand is not None else (1, 2),
    }


def _hand3d_decode_shapes(codec, args):
    shape = np.shape(args["heatmaps"])
    k = shape[0] // codec.heatmap_size[2] if len(shape) == 3 else shape[0]
    return ((1, k, 3), (1, k), np.shape(args["root_depth"]), (1, int(np.size(args["hand_type"]))))


def _removes_root(codec) -> bool:
    return bool(getattr(codec, "_removes_root", False))


def _lifting_keypoint_labels(codec, args):
    n, k = _nk(args)
    d = np.shape(args["keypoints"])[-1] + (1 if codec.concat_vis else 0)
    return (k * d, n) if codec.reshape_keypoints else (n, k, d)


def _image_lifting_encode_shapes(codec, args):
    n, k = _nk(args)
    t, _, c = np.shape(args["lifting_target"])
    kept = k - 1 if _removes_root(codec) else k
    return {
        "keypoint_labels": _lifting_keypoint_labels(codec, args),
        "keypoint_labels_visible": (n, k),
        "lifting_target_label": (t, kept, c),
        "lifting_target_weight": (t, kept),
        "target_root": (t, c),
    }


def _video_lifting_encode_shapes(codec, args):
    n, k = _nk(args)
    t, _, c = np.shape(args["lifting_target"])
    kept = k - 1 if _removes_root(codec) else k
    shapes = {
        "keypoint_labels": _lifting_keypoint_labels(codec, args),
        "keypoints_visible": (n, k),
        "lifting_target_label": (t, kept, c),
        "lifting_target_weight": (t, kept),
    }
    if codec.zero_center:
        shapes["target_root"] = (t, c)
    return shapes


def _motionbert_encode_shapes(codec, args):
    n, k = _nk(args)
    t, _, c = np.shape(args["lifting_target"])
    d = np.shape(args["keypoints"])[-1] + (1 if codec.concat_vis else 0)
    return {
        "keypoint_labels": (n, k, d),
        "keypoint_labels_visible": (n, k),
        "lifting_target_label": (t, k, c),
        "lifting_target_weight": (t, k),
        "factor": (t, 1),
    }


def _lifting_decode_shapes(codec, args):
    n, k, c = np.shape(args["encoded"])
    root = args.get("target_root")
    reinsert = bool(codec.remove_root) and len(codec.root_index) == 1
    if root is not None and np.size(root) > 0 and reinsert:
        k += 1
    return ((n, k, c), (n, k))


def _motionbert_decode_shapes(codec, args):
    n, k, c = np.shape(args["encoded"])
    return ((n, k, c), (n, k))


# where keypoint k lies ------------------------------------------------------
def _weights_nk(codec, k):
    return {"keypoint_weights": (0, k)}


def _heatmap_painted(codec, k):
    if getattr(codec, "heatmap_type", "gaussian") == "combined":
        return {"heatmaps": (slice(3 * k, 3 * k + 3),)}
    return {"heatmaps": (k,)}


def _hand3d_painted(codec, k):
    depth = codec.heatmap_size[2]
    return {"heatmaps": (slice(k * depth, (k + 1) * depth),)}


def _impulses(keys_of: Callable, peak_of: Callable) -> Callable:
    """``impulse``: the painted targets of every keypoint with weight > 0."""

    def impulse(codec, encoded):
        weights = np.asarray(encoded["keypoint_weights"])[0]
        found = []
        for k in np.flatnonzero(weights > 0):
            for key, index in keys_of(codec, int(k)).items():
                found.append((f"{key}{index}", np.asarray(encoded[key])[index], peak_of(codec)))
        return found

    return impulse


# sizes and sigmas ------------------------------------------------------------
def _heatmap_config_errors(sigma: bool = True):
    rows = [
        ("input_size_0", {"input_size": (0, 256)}, "input_size"),
        ("heatmap_size_0", {"heatmap_size": (48, 0)}, "heatmap_size"),
        ("heatmap_size_negative", {"heatmap_size": (-48, 64)}, "heatmap_size"),
    ]
    if sigma:
        rows += [
            ("sigma_negative", {"sigma": -1.0}, "sigma"),
            ("sigma_nan", {"sigma": float("nan")}, "sigma"),
            ("sigma_inf", {"sigma": float("inf")}, "sigma"),
        ]
    return tuple(rows)


_BLUR_ERRORS = (
    ("blur_kernel_size_0", {"blur_kernel_size": 0}, "blur_kernel_size"),
    ("blur_kernel_size_even", {"blur_kernel_size": 4}, "blur_kernel_size"),
)


_LIFTING_K_ARGS = {"keypoints": 1, "keypoints_visible": 1, "lifting_target": 1, "lifting_target_visible": 1}


def _first_keypoints(count: int, k_args: Mapping[str, int] = _LIFTING_K_ARGS) -> Callable:
    """``adapt``: every keypoint-axis argument cut to its first ``count`` keypoints."""

    def adapt(args):
        new = dict(args)
        for name, axis in k_args.items():
            if new.get(name) is not None:
                new[name] = _slice_axis(np.asarray(new[name]), axis, count)
        return new

    return adapt


# codec-specific entries ---------------------------------------------------------
def _simcc_extra():
    def swapped(codec, args):
        return {**args, "simcc_x": args["simcc_y"], "simcc_y": args["simcc_x"]}

    return [
        ("k", "simcc_y_fewer_keypoints", "decode", _replace("simcc_y", lambda c, y: y[:, :-1]), Raises(("simcc_y",))),
        ("companion", "simcc_y_more_instances", "decode",
         _replace("simcc_y", lambda c, y: _grow_axis(y, 0)), Raises(("simcc_y",))),
        ("companion", "simcc_y_rank_2", "decode", _replace("simcc_y", lambda c, y: y[0]), Raises(("simcc_y",))),
        ("companion", "simcc_x_y_swapped", "decode", swapped, Raises(("simcc_x", "simcc_y"))),
        ("dim", "simcc_y_one_bin_fewer", "decode", _replace("simcc_y", lambda c, y: y[..., :-1]),
         Raises(("simcc_y",))),
        ("rank", "simcc_2d_both", "decode", _set(simcc_x=lambda c, a: a["simcc_x"][0],
                                                  simcc_y=lambda c, a: a["simcc_y"][0]), Finite()),
        ("config", "split_ratio_0", "build", lambda cfg: {**cfg, "simcc_split_ratio": 0.0},
         Raises(("simcc_split_ratio",))),
        ("config", "smoothing_type_unknown", "build", lambda cfg: {**cfg, "smoothing_type": "box"},
         Raises(("smoothing_type",))),
        ("config", "label_smooth_weight_2", "build",
         lambda cfg: {**cfg, "smoothing_type": "standard", "label_smooth_weight": 2.0},
         Raises(("label_smooth_weight",))),
    ]


def _udp_extra():
    return [
        ("k", "channels_not_3k", "decode", _replace("encoded", lambda c, m: m[:-1]), Raises(("encoded",)),
         ("combined",)),
        ("config", "heatmap_type_unknown", "build", lambda cfg: {**cfg, "heatmap_type": "disk"},
         Raises(("heatmap_type",))),
    ]


def _megvii_extra():
    return [
        ("sigma", "kernel_size_0", "build", lambda cfg: {**cfg, "kernel_size": 0}, Raises(("kernel_size",))),
        ("sigma", "kernel_size_negative", "build", lambda cfg: {**cfg, "kernel_size": -11},
         Raises(("kernel_size",))),
        ("sigma", "kernel_size_even", "build", lambda cfg: {**cfg, "kernel_size": 10}, Raises(("kernel_size",))),
    ]


def _regression_extra():
    return [
        ("dim", "encoded_3", "decode", _replace("encoded", lambda c, e: np.concatenate([e, e[..., :1]], -1)),
         Raises(("encoded",))),
    ]


def _last_joint_row(codec, args):
    return {"encoded": (0, -1)}


def _lifting_root(codec) -> int:
    root = codec.root_index
    return int(root if isinstance(root, (int, np.integer)) else root[0])


def _target_joint(value: float, visible: bool | None, joint: Callable = lambda codec: -1) -> Callable:
    """``make``: every coordinate of one joint of frame 0 of the lifting
    target set to ``value`` (default: the last joint, never a root)."""

    def make(codec, args):
        target = np.array(args["lifting_target"], copy=True)
        j = joint(codec)
        target[0, j, :] = value
        new = {**args, "lifting_target": target}
        if visible is not None:
            vis = np.array(args["lifting_target_visible"], copy=True)
            vis[0, j] = 1.0 if visible else 0.0
            new["lifting_target_visible"] = vis
        return new

    return make


def _last_target_weight_zero(codec, args, out):
    return {"lifting_target_weight[0, -1]": np.asarray(out["lifting_target_weight"])[0, -1]}


def _joint_2_weight_zero(codec, args, out):
    """The weight of target joint 2 (after the root's removal, if any)."""
    j = 1 if _removes_root(codec) and _lifting_root(codec) < 2 else 2
    return {f"lifting_target_weight[0, {j}]": np.asarray(out["lifting_target_weight"])[0, j]}


def _frame_weights_zero(codec, args, out):
    return {"lifting_target_weight[0]": np.asarray(out["lifting_target_weight"])[0]}


def _lifting_target_entries(camera: bool):
    """Entries every lifting codec shares: the target, its visibility, its root."""
    rows = [
        ("missing", "lifting_target", "encode", _set(lifting_target=None), Raises(("lifting_target",))),
        ("rank", "lifting_target_2d", "encode", _replace("lifting_target", lambda c, t: t[0]),
         Raises(("lifting_target",))),
        ("rank", "lifting_target_4d", "encode", _replace("lifting_target", lambda c, t: t[None]),
         Raises(("lifting_target",))),
        ("rank", "lifting_target_visible_1d", "encode",
         _replace("lifting_target_visible", lambda c, v: v[0]), Raises(("lifting_target_visible",))),
        ("k", "lifting_target_fewer", "encode",
         _compose(_replace("lifting_target", lambda c, t: t[:, :-1]),
                  _replace("lifting_target_visible", lambda c, v: v[:, :-1])),
         Raises(("lifting_target",))),
        ("k", "lifting_target_visible_fewer", "encode",
         _replace("lifting_target_visible", lambda c, v: v[:, :-1]), Raises(("lifting_target_visible",))),
        ("companion", "lifting_target_visible_more_frames", "encode",
         _replace("lifting_target_visible", lambda c, v: _grow_axis(v, 0)), Raises(("lifting_target_visible",))),
        ("empty", "no_frames", "encode",
         _compose(*[_replace(n, lambda c, x: x[:0]) for n in
                    ("keypoints", "keypoints_visible", "lifting_target", "lifting_target_visible")]),
         EmptyOrError(("keypoints", "lifting_target"))),
        ("root", "nan_root_joint", "encode", _target_joint(float("nan"), None, _lifting_root),
         Finite(zero=_frame_weights_zero), ("*",)),
        ("root", "inf_root_joint", "encode", _target_joint(float("inf"), None, _lifting_root),
         Finite(zero=_frame_weights_zero), ("*",)),
        ("k", "encoded_fewer", "decode", _replace("encoded", lambda c, e: e[:, :-1]),
         Raises(("encoded",))),
        ("coords", "decode_nan_last_joint", "decode", _replace("encoded", lambda c, e: _nan_at(e, (0, -1))),
         Finite(nan_keypoint=(-1, True)), ("*",)),
        ("coords", "decode_inf_last_joint", "decode", _replace("encoded", lambda c, e: _value_at(e, (0, -1), np.inf)),
         Finite(nan_keypoint=(-1, True)), ("*",)),
        ("coords", "decode_1e9_last_joint", "decode", _replace("encoded", lambda c, e: _value_at(e, (0, -1), 1e9)),
         Finite(), ("*",)),
        ("empty", "decode_no_instances", "decode",
         _compose(_replace("encoded", lambda c, e: e[:0]),
                  lambda c, a: {**a, **({"target_root": a["target_root"][:0]} if "target_root" in a else {})}),
         EmptyOrError(("encoded", "target_root"))),
    ]
    for name, value in (("nan", float("nan")), ("inf", float("inf")), ("minus_inf", -float("inf"))):
        rows.append(("coords", f"lifting_target_{name}_visible", "encode", _target_joint(value, True),
                     Finite(zero=_last_target_weight_zero), ("*",)))
    rows += [
        ("coords", "lifting_target_nan_invisible", "encode", _target_joint(float("nan"), False),
         Finite(zero=_last_target_weight_zero), ("*",)),
        ("coords", "lifting_target_1e9", "encode", _target_joint(1e9, True), Finite(), ("*",)),
        # no target visibility: MMPose's trajectory weights read joint 2 (SPEC §4 row 20)
        ("coords", "lifting_target_nan_joint_2_no_visibility", "encode",
         _compose(_target_joint(float("nan"), None, lambda codec: 2), _set(lifting_target_visible=None)),
         Finite(zero=_joint_2_weight_zero), ("*",)),
        ("coords", "lifting_target_minus_1e9", "encode", _target_joint(-1e9, True), Finite(), ("*",)),
    ]
    if camera:
        rows += [
            ("camera", "none", "encode", _set(camera_param=None), Raises(("camera_param",))),
            ("camera", "missing_w", "encode", _drop_key("camera_param", "w"), Raises(("camera_param",))),
            ("camera", "missing_h", "encode", _drop_key("camera_param", "h"), Raises(("camera_param",))),
            ("camera", "w_nan", "encode", _replace("camera_param", lambda c, cam: {**cam, "w": np.float32(np.nan)}),
             Finite(zero=_all_target_weights_zero), ("*",)),
            ("camera", "w_zero", "encode", _replace("camera_param", lambda c, cam: {**cam, "w": np.float32(0)}),
             Finite(zero=_all_target_weights_zero), ("*",)),
        ]
    return rows


def _visibility_key(codec) -> str:
    return "keypoints_visible" if type(codec).__name__ == "VideoPoseLifting" else "keypoint_labels_visible"


def _all_target_weights_zero(codec, args, out):
    """A camera that is not usable voids the sample: every target weight is 0."""
    return {"lifting_target_weight": np.asarray(out["lifting_target_weight"])}


def _lifting_visibility_at(codec, k):
    return {_visibility_key(codec): (0, k)}


def _nan_at(x, index):
    return _value_at(x, index, np.nan)


def _value_at(x, index, value):
    x = np.array(x, copy=True)
    x[index] = value
    return x


def _image_lifting_extra():
    return _lifting_target_entries(camera=False) + [
        ("dim", "keypoints_vs_statistics", "encode",
         _replace("keypoints", lambda c, k: np.concatenate([k, k[..., :1]], -1)), Raises(("keypoints",)),
         ("stats",)),
        ("dim", "target_root_channels", "decode", _replace("target_root", lambda c, r: r[..., :2]),
         Raises(("target_root",))),
        ("companion", "target_root_frames", "decode",
         _replace("target_root", lambda c, r: np.concatenate([r, r, r], 0)), Raises(("target_root",))),
        ("config", "root_index_out_of_range", "build", lambda cfg: {**cfg, "root_index": 17},
         Raises(("root_index",))),
        ("config", "mean_without_std", "build", lambda cfg: {**cfg, "keypoints_mean": np.zeros((17, 2))},
         Raises(("keypoints_mean", "keypoints_std"))),
    ]


def _video_lifting_extra():
    return _lifting_target_entries(camera=True) + [
        ("dim", "keypoints_3", "encode",
         _replace("keypoints", lambda c, k: np.concatenate([k, k[..., :1]], -1)), Raises(("keypoints",))),
        ("camera", "missing_f_with_normalize_camera", "encode", _drop_key("camera_param", "f"),
         Raises(("camera_param",)), ("normalize_camera",)),
        ("camera", "missing_c_with_normalize_camera", "encode", _drop_key("camera_param", "c"),
         Raises(("camera_param",)), ("normalize_camera",)),
        ("camera", "f_nan_with_normalize_camera", "encode",
         _replace("camera_param", lambda c, cam: {**cam, "f": np.full_like(cam["f"], np.nan)}),
         Finite(zero=_all_target_weights_zero), ("normalize_camera",)),
        ("dim", "target_root_channels", "decode", _replace("target_root", lambda c, r: r[..., :2]),
         Raises(("target_root",))),
        ("config", "root_index_out_of_range", "build", lambda cfg: {**cfg, "root_index": -1},
         Raises(("root_index",))),
    ]


def _motionbert_extra():
    def factor_rows(codec, args):
        return np.ones((3,), np.float32)

    return _lifting_target_entries(camera=True) + [
        ("dim", "lifting_target_2", "encode",
         _compose(_replace("lifting_target", lambda c, t: t[..., :2])), Raises(("lifting_target",))),
        ("companion", "keypoints_vs_target_frames", "encode",
         _compose(_replace("keypoints", lambda c, k: _grow_axis(k, 0)),
                  _replace("keypoints_visible", lambda c, v: _grow_axis(v, 0))),
         Raises(("keypoints", "lifting_target"))),
        ("companion", "factor_frames", "encode", _set(factor=factor_rows), Raises(("factor",))),
        ("camera", "f_nan_with_c", "encode",
         _replace("camera_param", lambda c, cam: {**cam, "f": np.full((2, 1), np.nan, np.float32),
                                                  "c": np.full((2, 1), 500.0, np.float32)}),
         Finite(zero=_all_target_weights_zero), ("*",)),
        ("companion", "decode_w_without_h", "decode", _set(w=np.ones((1,), np.float32)),
         Raises(("w", "h"))),
        ("companion", "decode_w_rows", "decode",
         _set(w=np.ones((3,), np.float32), h=np.ones((3,), np.float32)), Raises(("w",))),
        ("companion", "decode_factor_rows", "decode", _set(factor=np.ones((3,), np.float32)),
         Raises(("factor",))),
        ("camera", "decode_w_zero", "decode",
         _set(w=np.zeros((1,), np.float32), h=np.ones((1,), np.float32)), Finite(), ("*",)),
        ("config", "mode_unknown", "build", lambda cfg: {**cfg, "mode": "eval"}, Raises(("mode",))),
        ("config", "root_index_out_of_range", "build", lambda cfg: {**cfg, "root_index": 17},
         Raises(("root_index",))),
    ]


def _hand3d_extra():
    def root_depth_zero(codec, args, out):
        return {"root_depth_weight": np.asarray(out["root_depth_weight"])}

    return [
        ("k", "dataset_keypoint_weights_fewer", "encode",
         _replace("dataset_keypoint_weights", lambda c, w: w[:-1]), Raises(("dataset_keypoint_weights",)),
         ("joint_weights",)),
        ("missing", "dataset_keypoint_weights", "encode", _set(dataset_keypoint_weights=None),
         Raises(("dataset_keypoint_weights",)), ("joint_weights",)),
        ("k", "joint_indices_out_of_range", "encode", lambda c, a: a, Raises(("joint_indices",)),
         ("joint_99",)),
        ("companion", "rel_root_depth_two_values", "encode",
         _set(rel_root_depth=np.zeros((2,), np.float32)), Raises(("rel_root_depth",))),
        ("companion", "rel_root_valid_two_values", "encode",
         _set(rel_root_valid=np.ones((2,), np.float32)), Raises(("rel_root_valid",))),
        ("root", "rel_root_depth_nan", "encode", _set(rel_root_depth=np.float32(np.nan)),
         Finite(zero=root_depth_zero), ("*",)),
        ("root", "rel_root_depth_inf", "encode", _set(rel_root_depth=np.float32(np.inf)),
         Finite(zero=root_depth_zero), ("*",)),
        ("coords", "z_nan_visible", "encode",
         _coordinate(_first_visible, 2, float("nan"), True), Finite(zero=_keypoint_zero), ("*",)),
        ("coords", "z_inf_visible", "encode",
         _coordinate(_first_visible, 2, float("inf"), True), Finite(zero=_keypoint_zero), ("*",)),
        ("coords", "z_1e9_visible", "encode", _coordinate(_first_visible, 2, 1e9, True), Finite(), ("*",)),
        ("rank", "volumes_4d", "decode",
         _replace("heatmaps", lambda c, h: h.reshape(-1, c.heatmap_size[2], *h.shape[1:])), Finite()),
        ("k", "channels_not_multiple_of_depth", "decode", _replace("heatmaps", lambda c, h: h[:-1]),
         Raises(("heatmaps",))),
        ("dim", "volumes_4d_wrong_depth", "decode",
         _replace("heatmaps", lambda c, h: h.reshape(-1, c.heatmap_size[2], *h.shape[1:])[:, :-1]),
         Raises(("heatmaps",))),
        ("config", "depth_size_0", "build", lambda cfg: {**cfg, "depth_size": 0}, Raises(("depth_size",))),
        ("config", "heatmap_size_root_0", "build", lambda cfg: {**cfg, "heatmap_size_root": 0},
         Raises(("heatmap_size_root",))),
        ("config", "heatmap3d_depth_bound_0", "build", lambda cfg: {**cfg, "heatmap3d_depth_bound": 0.0},
         Raises(("heatmap3d_depth_bound",))),
        ("config", "heatmap3d_depth_bound_nan", "build",
         lambda cfg: {**cfg, "heatmap3d_depth_bound": float("nan")}, Raises(("heatmap3d_depth_bound",))),
    ]


def _keypoint_zero(codec, args, out):
    """The weight and the painted target of the poisoned keypoint (instance 0)."""
    spec = SPECS[_registered_name(codec)]
    k = _poisoned(args)
    zero = {}
    for where in (spec.weight_at, spec.painted_at):
        if where is None:
            continue
        for key, index in where(codec, k).items():
            zero[f"{key}{index}"] = np.asarray(_as_f32(out[key]))[index]
    return zero


def _poisoned(args) -> int:
    """The keypoint of row 0 holding a non-finite coordinate."""
    points = np.asarray(args["keypoints"], np.float64)
    points = points.reshape(-1, *points.shape[-2:])[0]
    bad = np.flatnonzero(~np.isfinite(points).all(-1))
    assert len(bad) == 1, bad
    return int(bad[0])


_HEATMAP_SHAPES = dict(encode_shapes=_heatmap_encode_shapes, decode_shapes=_heatmap_decode_shapes,
                       decoder="maps", maps=("encoded",), max_instances=1, weight_at=_weights_nk,
                       painted_at=_heatmap_painted)


def _heatmap_region(codec, k):
    if getattr(codec, "heatmap_type", "gaussian") == "combined":
        return {"encoded": (3 * k,)}
    return {"encoded": (k,)}


_HEATMAP_WORKS = (
    ("sigma_0", {"sigma": 0.0}),
    ("heatmap_size_1", {"heatmap_size": (1, 1)}),
)

def _spr_encode_shapes(codec, args):
    _, k = _nk(args)
    width, height = codec.heatmap_size
    channels = k + 1 if codec.generate_keypoint_heatmaps else 1
    return {"heatmaps": (channels, height, width), "heatmap_weights": (channels, height, width),
            "displacements": (2 * k, height, width), "displacement_weights": (2 * k, height, width)}


def _spr_decode_shapes(codec, args):
    m, k = codec.decode_max_instances, np.shape(args["displacements"])[0] // 2
    with_scores = codec.generate_keypoint_heatmaps and np.shape(args["heatmaps"])[0] == k + 1
    return ((m, k, 2), ((m,), (m, k) if with_scores else None), (m,))


def _spr_region(codec, k):
    # Keypoint k's own map is its heatmap channel (with keypoint heatmaps);
    # without them only the root map exists, and a NaN there drops rows.
    return {"heatmaps": (k,)} if codec.generate_keypoint_heatmaps else {"heatmaps": (-1,)}


def _spr_painted(codec, k):
    painted = {"displacements": (slice(2 * k, 2 * k + 2),)}
    if codec.generate_keypoint_heatmaps:
        painted["heatmaps"] = (k,)
    return painted


def _spr_root_impulse(codec, encoded):
    """σ = 0: the one instance's root is a unit impulse."""
    return [("heatmaps[-1]", np.asarray(encoded["heatmaps"])[-1], 1.0)]


# AssociativeEmbedding ----------------------------------------------------------
# Its example entry encodes a crowd (two people per sample) and decodes the
# codec's own heatmaps with painted tag maps (jaxcodecs/_example_entries_multi.py):
# the decode arguments are ``heatmaps (K, H, W)`` and ``tags (L * K, H, W)``,
# which no encoded key holds (``decode_input_keys`` is empty). The generic
# "config" rows decode a variant's targets through ``decode_input_keys``, so
# the unusual-but-valid configurations are extra configs instead, whose base
# arguments (tags included) come from the example entry like every other
# encode / decode row's.
def _ae_encode_shapes(codec, args):
    n, k = _nk(args)
    width, height = codec.heatmap_size
    return {"heatmaps": (k, height, width), "keypoint_indices": (n, k, 2), "keypoint_weights": (n, k)}


def _ae_decode_shapes(codec, args):
    k = np.shape(args["heatmaps"])[0]
    m = codec.decode_max_instances or k * codec.decode_topk
    return ((m, k, 2), (m, k), (m,), (m,))


def _ae_painted(codec, k):
    """A non-finite keypoint is invisible at the origin: index 0, flag 0.
    (Heatmap channel k also holds the other people's keypoint k: see
    :func:`_ae_unpainted`.)"""
    return {"keypoint_indices": (0, k)}


def _ae_scale(codec) -> np.ndarray:
    """Input px per heatmap px, from the sizes (SPEC: (in - 1) / (map - 1) with UDP)."""
    size, hm = np.asarray(codec.input_size, np.float64), np.asarray(codec.heatmap_size, np.float64)
    return (size - 1) / (hm - 1) if codec.use_udp else size / hm


def _ae_unpainted(codec, args, out):
    """The poisoned keypoint paints nothing: the heatmaps equal those of the
    same people with that keypoint invisible (at the origin)."""
    k = _poisoned(args)
    points = np.array(args["keypoints"], np.float32, copy=True)
    vis = np.array(args["keypoints_visible"], np.float32, copy=True)
    points[0, k] = 0.0
    vis[0, k] = 0.0
    expected = np.asarray(codec.encode(points, vis)["heatmaps"], np.float32)
    np.testing.assert_allclose(_as_f32(out["heatmaps"]), expected, rtol=0, atol=1e-6,
                               err_msg=f"keypoint {k} of person 0 (non-finite) was painted")


def _ae_first_person(codec, args):
    return {**args, "keypoints": args["keypoints"][:1], "keypoints_visible": args["keypoints_visible"][:1]}


def _ae_impulses(codec, args, out):
    """σ = 0, one person: each keypoint with weight > 0 is a unit impulse at
    its pixel ``trunc(kp / scale + 0.5)``, and ``keypoint_indices`` holds
    that pixel's flat index with flag 1 (NumPy, from the sizes)."""
    width, height = codec.heatmap_size
    points = np.asarray(args["keypoints"], np.float64)[0]
    pixel = np.trunc(points / _ae_scale(codec) + 0.5).astype(int)
    heatmaps = _as_f32(out["heatmaps"])
    weights = np.asarray(out["keypoint_weights"])[0]
    indices = np.asarray(out["keypoint_indices"])
    assert indices.dtype == np.int32, indices.dtype
    assert (weights > 0).any()
    for k in np.flatnonzero(weights > 0):
        x, y = pixel[k]
        assert 0 <= x < width and 0 <= y < height, (k, x, y)
        nonzero = np.flatnonzero(heatmaps[k])
        assert nonzero.tolist() == [y * width + x], (k, nonzero[:5], (x, y))
        assert heatmaps[k, y, x] == 1.0, heatmaps[k, y, x]
        assert indices[0, k].tolist() == [y * width + x, 1], (k, indices[0, k])


def _ae_tags_two_dims(codec, args):
    """L = 2: the tag of the second dimension is the first one negated."""
    tags = np.asarray(args["tags"], np.float32)
    return {**args, "tags": np.concatenate([tags, -tags], axis=0)}


def _ae_extra():
    order = ("order_reversed", "order_short", "order_repeated")
    return [
        # tags: the second map argument
        ("missing", "tags", "decode", _set(tags=None), Raises(("tags",))),
        ("rank", "tags_2d", "decode", _replace("tags", lambda c, t: t[0]), Raises(("tags",))),
        ("rank", "tags_4d", "decode", _replace("tags", lambda c, t: t[None]), Raises(("tags",))),
        ("dim", "tags_width_plus_1", "decode", _replace("tags", lambda c, t: _grow_axis(t, -1)),
         Raises(("tags",))),
        ("dim", "tags_height_minus_1", "decode", _replace("tags", lambda c, t: t[..., :-1, :]),
         Raises(("tags",))),
        ("k", "tags_not_multiple_of_k", "decode", _replace("tags", lambda c, t: t[:-1]), Raises(("tags",))),
        ("k", "tags_no_channels", "decode", _replace("tags", lambda c, t: t[:0]), Raises(("tags",))),
        ("k", "heatmaps_fewer_than_tags", "decode", _replace("heatmaps", lambda c, h: h[:-1]),
         Raises(("tags",))),
        ("companion", "tags_two_dimensions", "decode", _ae_tags_two_dims, Finite(), ("*",)),
        # the non-finite keypoint of person 0 leaves the other person's painting alone
        ("coords", "x_nan_visible_unpainted", "encode", _coordinate(_first_visible, 0, float("nan"), True),
         Finite(zero=_keypoint_zero, check=_ae_unpainted), ("*",)),
        ("coords", "y_minus_inf_visible_unpainted", "encode",
         _coordinate(_first_visible, 1, -float("inf"), True),
         Finite(zero=_keypoint_zero, check=_ae_unpainted), ("*",)),
        # the grouping order is checked against the heatmaps' K at decode
        ("config", "decode_keypoint_order_reversed", "decode", lambda c, a: a, Finite(), order[:1]),
        ("config", "decode_keypoint_order_short", "decode", lambda c, a: a,
         Raises(("decode_keypoint_order",)), order[1:2]),
        ("config", "decode_keypoint_order_repeated", "decode", lambda c, a: a,
         Raises(("decode_keypoint_order",)), order[2:]),
        # unusual but valid configurations (what config_works does for the others)
        ("sigma", "sigma_0_encode_one_person", "encode", _ae_first_person, Finite(check=_ae_impulses),
         ("sigma_0", "udp_sigma_0")),
        ("sigma", "sigma_0_decode", "decode", lambda c, a: a, Finite(), ("sigma_0",)),
        ("size", "heatmap_size_1_encode", "encode", lambda c, a: a, Finite(), ("heatmap_size_1",)),
        ("size", "heatmap_size_1_decode", "decode", lambda c, a: a, Finite(), ("heatmap_size_1",)),
        ("size", "udp_heatmap_size_2_encode", "encode", lambda c, a: a, Finite(), ("udp_heatmap_size_2",)),
        ("size", "udp_heatmap_size_2_decode", "decode", lambda c, a: a, Finite(), ("udp_heatmap_size_2",)),
    ]


_AE_K = 17  # the example entry's keypoints (COCO)


# DecoupledHeatmap ---------------------------------------------------------------
# Its example entry encodes the same crowd as AssociativeEmbedding's (person 0,
# the pose; person 1, a third of its size, visited first, so person 0 is
# instance row 1) and decodes the codec's own instance heatmaps as
# ``instance_heatmaps (M, K, H, W)`` with ``instance_scores (M, 1)`` and
# ``instance_valid (M,)``.
def _cid_encode_shapes(codec, args):
    _, k = _nk(args)
    m = codec.encode_max_instances
    width, height = codec.heatmap_size
    return {"heatmaps": (k + 1, height, width), "instance_heatmaps": (m * k, height, width),
            "keypoint_weights": (m, k), "instance_coords": (m, 2), "instance_valid": (m,)}


def _cid_decode_shapes(codec, args):
    m, k = np.shape(args["instance_heatmaps"])[:2]
    return ((m, k, 2), (m, k), (m,))


def _cid_unpainted(codec, args, out):
    """The poisoned keypoint of person 0 counts for nothing: every target
    equals that of the same people with the keypoint invisible at the origin."""
    k = _poisoned(args)
    points = np.array(args["keypoints"], np.float32, copy=True)
    vis = np.array(args["keypoints_visible"], np.float32, copy=True)
    points[0, k] = 0.0
    vis[0, k] = 0.0
    expected = codec.encode(points, vis)
    for key, value in expected.items():
        np.testing.assert_allclose(np.asarray(out[key], np.float64), np.asarray(value, np.float64), rtol=0,
                                   atol=1e-6, err_msg=f"{key}: keypoint {k} of person 0 (non-finite) counted")


def _cid_point_box(codec, args):
    """Person 0's box of zero size (all four corners at its first visible
    keypoint): sigma 0; person 1's box around its keypoints."""
    points = np.asarray(args["keypoints"], np.float32)
    vis = np.asarray(args["keypoints_visible"])
    boxes = np.zeros((points.shape[0], 4, 2), np.float32)
    first = points[0, np.flatnonzero(vis[0] > 0)[0]]
    boxes[0] = first
    counted = points[1][vis[1] > 0]
    lo, hi = counted.min(0), counted.max(0)
    boxes[1] = [lo, [lo[0], hi[1]], [hi[0], lo[1]], hi]
    return {**args, "bbox": boxes}


def _cid_impulses(codec, args, out):
    """σ = 0 for person 0: in its instance block (row 1) each keypoint with
    weight > 0 is a single 1 at pixel ``trunc(kp / scale + 0.5)``."""
    width, height = codec.heatmap_size
    scale = np.asarray(codec.input_size, np.float64) / np.asarray(codec.heatmap_size)
    points = np.asarray(args["keypoints"], np.float64)[0]
    pixel = np.trunc(points / scale + 0.5).astype(int)
    joints = points.shape[0]
    block = _as_f32(out["instance_heatmaps"])[joints:2 * joints]
    weights = np.asarray(out["keypoint_weights"])[1]
    assert (weights > 0).any()
    for k in np.flatnonzero(weights > 0):
        x, y = pixel[k]
        assert np.flatnonzero(block[k]).tolist() == [y * width + x], (k, (x, y))
        assert block[k, y, x] == 1.0


def _cid_extra():
    kp = "keypoints"
    return [
        # boxes: any array of N * 8 values; a non-finite corner falls back to the keypoints' box
        ("companion", "bbox_n_8", "encode", _cid_bbox(lambda b: b.reshape(-1, 8)), Finite()),
        ("companion", "bbox_xyxy", "encode", _cid_bbox(lambda b: b[:, ::2].reshape(-1, 4)), Raises(("bbox",))),
        ("companion", "bbox_one_instance", "encode", _cid_bbox(lambda b: b[:1]), Raises(("bbox",))),
        ("coords", "bbox_nan_corner", "encode", _cid_bbox(lambda b: np.where(np.arange(8).reshape(4, 2) == 3,
                                                                             np.nan, b)), Finite()),
        ("sigma", "bbox_of_zero_size", "encode", _cid_point_box, Finite(check=_cid_impulses)),
        # explicit draws
        ("companion", "jitter", "encode", _set(jitter=np.array([[1, -1], [0, 1]], np.int32)), Finite()),
        # values are checked when concrete; traced ones are rounded and clipped to {-1, 0, 1}
        ("companion", "jitter_2", "encode", _set(jitter=np.array([[2, 0], [0, 0]], np.int32)),
         Raises(("jitter",), when_traced=Finite())),
        ("companion", "jitter_half", "encode", _set(jitter=np.array([[0.5, 0], [0, 0]], np.float32)),
         Raises(("jitter",), when_traced=Finite())),
        ("companion", "jitter_one_instance", "encode", _set(jitter=np.zeros((1, 2), np.int32)), Raises(("jitter",))),
        ("companion", "jitter_3d", "encode", _set(jitter=np.zeros((2, 2, 1), np.int32)), Raises(("jitter",))),
        ("companion", "selection", "encode", _set(selection=np.array([1, 0, 2, 3], np.int32)), Finite()),
        # (the example's two candidates never over-fill 4 rows: a traced selection is unused)
        ("companion", "selection_repeated", "encode", _set(selection=np.array([0, 0, 1, 2], np.int32)),
         Raises(("selection",), when_traced=Finite())),
        ("companion", "selection_negative", "encode", _set(selection=np.array([-1, 0, 1, 2], np.int32)),
         Raises(("selection",), when_traced=Finite())),
        ("companion", "selection_float", "encode", _set(selection=np.array([0.0, 1, 2, 3], np.float32)),
         Raises(("selection",))),
        ("companion", "selection_short", "encode", _set(selection=np.array([0, 1], np.int32)),
         Raises(("selection",))),
        ("companion", "key", "encode", _set(key=jax.random.key(3)), Finite()),
        ("companion", "key_raw", "encode", _set(key=jax.random.PRNGKey(3)), Finite()),
        ("companion", "key_not_a_key", "encode", _set(key=3), Raises(("key",))),
        ("companion", "key_batch", "encode", _set(key=jax.random.split(jax.random.key(3), 2)), Raises(("key",))),
        # the decode companions
        ("missing", "instance_scores", "decode", _set(instance_scores=None), Raises(("instance_scores",))),
        ("companion", "instance_scores_flat", "decode",
         _replace("instance_scores", lambda c, s: np.asarray(s)[:, 0]), Finite()),
        ("companion", "instance_scores_fewer", "decode",
         _replace("instance_scores", lambda c, s: np.asarray(s)[:-1]), Raises(("instance_scores",))),
        ("companion", "instance_scores_per_keypoint", "decode",
         _replace("instance_scores", lambda c, s: np.repeat(np.asarray(s), 3, axis=1)),
         Raises(("instance_scores",))),
        ("companion", "instance_valid_float", "decode",
         _replace("instance_valid", lambda c, v: np.asarray(v, np.float32)), Raises(("instance_valid",))),
        ("companion", "instance_valid_fewer", "decode",
         _replace("instance_valid", lambda c, v: np.asarray(v)[:-1]), Raises(("instance_valid",))),
        ("empty", "no_instance_rows", "decode",
         _compose(*[_replace(n, lambda c, x: np.asarray(x)[:0])
                    for n in ("instance_heatmaps", "instance_scores", "instance_valid")]), Finite()),
        # the non-finite keypoint of person 0 changes nothing but its own part
        ("coords", "x_nan_visible_unpainted", "encode", _coordinate(_first_visible, 0, float("nan"), True),
         Finite(zero=_keypoint_zero, check=_cid_unpainted), ("*",)),
        ("coords", "y_minus_inf_visible_unpainted", "encode",
         _coordinate(_first_visible, 1, -float("inf"), True),
         Finite(zero=_keypoint_zero, check=_cid_unpainted), ("*",)),
        (kp, "all_invisible", "encode", _replace("keypoints_visible", lambda c, v: np.zeros_like(v)), Finite()),
        # unusual but valid configurations (what config_works does for codecs that decode their targets)
        ("size", "heatmap_size_1_encode", "encode", lambda c, a: a, Finite(), ("heatmap_size_1",)),
        ("size", "heatmap_size_1_decode", "decode", lambda c, a: a, Finite(), ("heatmap_size_1",)),
        ("size", "one_row_encode", "encode", lambda c, a: a, Finite(), ("one_row",)),
        ("size", "one_row_decode", "decode", lambda c, a: a, Finite(), ("one_row",)),
    ]


def _cid_bbox(change: Callable) -> Callable:
    """The boxes around each person's keypoints (corners), changed."""
    def make(codec, args):
        points = np.asarray(args["keypoints"], np.float32)
        lo, hi = points.min(axis=1), points.max(axis=1)
        corners = np.stack([lo, np.stack([lo[:, 0], hi[:, 1]], -1), np.stack([hi[:, 0], lo[:, 1]], -1), hi], 1)
        return {**args, "bbox": change(corners)}

    return make


# ------------------------------------------------------------ one-stage codecs
# EDPoseLabel encodes (img_shape, keypoints, keypoints_visible, area, bboxes)
# of two people and decodes a detector's outputs (input_shapes, pred_logits,
# pred_boxes, pred_keypoints) made by its example entry; YOLOX-Pose's
# processor expands boxes and makes labels, and its decode returns None.
def _edpose_encode_shapes(codec, args):
    points, vis = args.get("keypoints"), args.get("keypoints_visible")
    n, k = np.shape(points)[:2] if points is not None else np.shape(vis)[:2]
    shapes = {"keypoints_visible": (n, k)}
    if points is not None:
        shapes["keypoints"] = (n, k, 2)
    if args.get("area") is not None:
        shapes["area"] = (n,)
    if args.get("bboxes") is not None:
        shapes["bbox"] = np.shape(args["bboxes"])
    return shapes


def _edpose_decode_shapes(codec, args):
    queries, classes = np.shape(args["pred_logits"])
    s, k = min(codec.num_select, queries * classes), codec.num_keypoints
    return ((s, 4), (s, k, 2), (s, k))


def _is_none(*keys):
    def check(codec, args, out):
        for key in keys:
            assert out[key] is None, f"`{key}` must come back None, got {type(out[key]).__name__}"
    return check


def _edpose_extra():
    k = 17  # the example entry's keypoints (COCO)
    return [
        ("missing", "img_shape", "encode", _set(img_shape=None), Raises(("img_shape",))),
        ("dim", "img_shape_three_values", "encode", _set(img_shape=np.array([192, 256, 3], np.int32)),
         Raises(("img_shape",))),
        ("missing", "keypoints_and_visibility", "encode", _set(keypoints=None, keypoints_visible=None),
         Raises(("keypoints",))),
        ("missing", "area_and_bboxes", "encode", _set(area=None, bboxes=None),
         Finite(check=_is_none("area", "bbox"))),
        ("rank", "area_2d", "encode", _replace("area", lambda c, a: a[:, None]), Raises(("area",))),
        ("companion", "area_more_instances", "encode", _replace("area", lambda c, a: _grow_axis(a, 0)),
         Raises(("area",))),
        ("dim", "bboxes_3", "encode", _replace("bboxes", lambda c, b: b[..., :3]), Raises(("bboxes",))),
        ("companion", "bboxes_fewer_instances", "encode", _replace("bboxes", lambda c, b: b[:-1]),
         Raises(("bboxes",))),
        ("missing", "input_shapes", "decode", _set(input_shapes=None), Raises(("input_shapes",))),
        ("dim", "input_shapes_three_values", "decode", _set(input_shapes=np.array([256, 192, 3], np.int32)),
         Raises(("input_shapes",))),
        ("rank", "pred_logits_1d", "decode", _replace("pred_logits", lambda c, x: x.reshape(-1)),
         Raises(("pred_logits",))),
        ("companion", "pred_boxes_fewer_queries", "decode", _replace("pred_boxes", lambda c, b: b[:-1]),
         Raises(("pred_boxes",))),
        ("dim", "pred_boxes_3", "decode", _replace("pred_boxes", lambda c, b: b[..., :3]), Raises(("pred_boxes",))),
        ("k", "pred_keypoints_shorter_than_2k", "decode",
         _replace("pred_keypoints", lambda c, p: p[:, :2 * k - 1]), Raises(("pred_keypoints",))),
        ("k", "pred_keypoints_2k", "decode", _replace("pred_keypoints", lambda c, p: p[:, :2 * k]), Finite()),
        ("companion", "pred_keypoints_more_queries", "decode",
         _replace("pred_keypoints", lambda c, p: _grow_axis(p, 0)), Raises(("pred_keypoints",))),
        ("empty", "decode_no_queries", "decode",
         _compose(*[_replace(n, lambda c, x: x[:0]) for n in ("pred_logits", "pred_boxes", "pred_keypoints")]),
         EmptyOrError(("pred_logits",))),
        ("size", "num_select_above_candidates", "decode", lambda c, a: a, Finite(), ("many",)),
    ]


def _yolox_encode_shapes(codec, args):
    shapes = {}
    if codec.expand_bbox and args.get("bbox") is not None:
        shapes["bbox"] = np.shape(args["bbox"])
    if args.get("category_id") is not None:
        shapes["bbox_labels"] = np.shape(args["category_id"])
    return shapes


def _yolox_all_counted(codec, args, out):
    """No visibility: every keypoint counts (NumPy min / max on a copy)."""
    points = np.asarray(args["keypoints"], np.float64)
    expected = np.array(args["bbox"], np.float64, copy=True)
    expected[:, :2] = np.minimum(expected[:, :2], points.min(axis=1))
    expected[:, 2:] = np.maximum(expected[:, 2:], points.max(axis=1))
    np.testing.assert_allclose(_as_f32(out["bbox"]), expected, rtol=1e-6)


def _yolox_integer_box(codec, args, out):
    assert np.asarray(out["bbox"]).dtype == np.int32, np.asarray(out["bbox"]).dtype


def _yolox_extra():
    return [
        ("missing", "keypoints_visible_every_keypoint_counts", "encode", _set(keypoints_visible=None),
         Finite(check=_yolox_all_counted), ("expand", "exact")),
        ("missing", "bbox", "encode", _set(bbox=None), Finite()),
        ("missing", "every_argument", "encode",
         _set(keypoints=None, keypoints_visible=None, bbox=None, category_id=None), Finite()),
        ("missing", "keypoints_not_expanding", "encode", _set(keypoints=None, keypoints_visible=None), Finite(),
         ("plain",)),
        ("rank", "bbox_1d", "encode", _replace("bbox", lambda c, b: b[0]), Raises(("bbox",))),
        ("dim", "bbox_3", "encode", _replace("bbox", lambda c, b: b[..., :3]), Raises(("bbox",))),
        ("companion", "bbox_more_instances", "encode", _replace("bbox", lambda c, b: _grow_axis(b, 0)),
         Raises(("bbox",))),
        ("companion", "category_id_more_instances", "encode",
         _replace("category_id", lambda c, i: _grow_axis(i, 0)), Raises(("category_id",))),
        ("rank", "category_id_2d", "encode", _replace("category_id", lambda c, i: i[:, None]),
         Raises(("category_id",))),
        ("companion", "keypoints_visible_two_flags", "encode",
         _replace("keypoints_visible", lambda c, v: np.stack([v, v], -1)), Finite(), ("*",)),
        ("dtype", "int_bbox_stays_int", "encode", _replace("bbox", lambda c, b: np.round(b).astype(np.int32)),
         Finite(check=_yolox_integer_box), ("expand", "exact")),
    ]


SPECS: dict[str, Spec] = {
    "MSRAHeatmap": Spec(
        config_labels=("plain", "dark"), **_HEATMAP_SHAPES, map_region=_heatmap_region,
        impulse=_impulses(_heatmap_painted, lambda codec: 1.0), sigma_fields=("sigma",),
        config_errors=_heatmap_config_errors() + _BLUR_ERRORS, config_works=_HEATMAP_WORKS,
    ),
    "UDPHeatmap": Spec(
        config_labels=("gaussian", "combined"), **_HEATMAP_SHAPES, map_region=_heatmap_region,
        impulse=_impulses(_heatmap_painted, lambda codec: 1.0), sigma_fields=("sigma",),
        config_errors=_heatmap_config_errors() + _BLUR_ERRORS + (
            ("heatmap_size_1", {"heatmap_size": (1, 64)}, "heatmap_size"),
            ("heatmap_height_1", {"heatmap_size": (48, 1)}, "heatmap_size"),
            ("input_size_1", {"input_size": (1, 256)}, "input_size"),
            ("combined_radius_factor_0", {"heatmap_type": "combined", "radius_factor": 0.0}, "radius_factor"),
            ("combined_radius_factor_negative", {"heatmap_type": "combined", "radius_factor": -0.05},
             "radius_factor"),
            ("combined_radius_factor_nan", {"heatmap_type": "combined", "radius_factor": float("nan")},
             "radius_factor"),
        ),
        config_works=(("sigma_0", {"sigma": 0.0}), ("heatmap_size_2", {"heatmap_size": (2, 2)})),
        extra=_udp_extra,
    ),
    "MegviiHeatmap": Spec(
        exact_encode=False,
        config_labels=("",), **_HEATMAP_SHAPES, map_region=_heatmap_region,
        config_errors=_heatmap_config_errors(sigma=False),
        config_works=(("kernel_size_1", {"kernel_size": 1}), ("heatmap_size_1", {"heatmap_size": (1, 1)})),
        extra=_megvii_extra,
    ),
    "RegressionLabel": Spec(
        exact_encode=False,
        config_labels=("",), encode_shapes=_regression_encode_shapes, decode_shapes=_coordinate_decode_shapes,
        decoder="coordinates", maps=("encoded",), map_region=_last_joint_row, weight_at=_weights_nk,
        painted_at=lambda codec, k: {"keypoint_labels": (0, k)},
        config_errors=(("input_size_0", {"input_size": (0, 256)}, "input_size"),
                       ("input_size_negative", {"input_size": (192, -1)}, "input_size")),
        config_works=(("input_size_1", {"input_size": (1, 1)}),),
        extra=_regression_extra,
    ),
    "IntegralRegressionLabel": Spec(
        exact_encode=False,
        config_labels=("",), encode_shapes=_integral_encode_shapes, decode_shapes=_coordinate_decode_shapes,
        decoder="coordinates", maps=("encoded",), map_region=_last_joint_row, max_instances=1,
        weight_at=_weights_nk, painted_at=lambda codec, k: {"keypoint_labels": (0, k), "heatmaps": (k,)},
        impulse=_impulses(lambda codec, k: {"heatmaps": (k,)}, lambda codec: 1.0), sigma_fields=("sigma",),
        config_errors=_heatmap_config_errors() + _BLUR_ERRORS, config_works=_HEATMAP_WORKS,
        extra=_regression_extra,
    ),
    "SimCCLabel": Spec(
        config_labels=("gaussian", "dark"), encode_shapes=_simcc_encode_shapes,
        decode_shapes=_simcc_decode_shapes, decoder="maps", maps=("simcc_x", "simcc_y"),
        map_region=lambda codec, k: {"simcc_x": (0, k)}, map_ndim=1, weight_at=_weights_nk,
        painted_at=lambda codec, k: {"keypoint_x_labels": (0, k), "keypoint_y_labels": (0, k)},
        impulse=_impulses(lambda codec, k: {"keypoint_x_labels": (0, k), "keypoint_y_labels": (0, k)},
                          lambda codec: 1.0),
        sigma_fields=("sigma",),
        config_errors=(
            ("input_size_0", {"input_size": (0, 256)}, "input_size"),
            ("sigma_negative", {"sigma": -1.0}, "sigma"),
            ("sigma_nan", {"sigma": float("nan")}, "sigma"),
            ("sigma_pair_negative", {"sigma": (4.9, -1.0)}, "sigma"),
            ("sigma_pair_nan", {"sigma": (float("nan"), 5.66)}, "sigma"),
            ("sigma_three_values", {"sigma": (1.0, 2.0, 3.0)}, "sigma"),
        ),
        config_works=(("sigma_0", {"sigma": 0.0}), ("sigma_pair_0", {"sigma": (0.0, 5.66)}),
                      ("input_size_1", {"input_size": (1, 1)})),
        extra=_simcc_extra,
    ),
    "ImagePoseLifting": Spec(
        exact_encode=False,
        config_labels=("default", "remove_root"), encode_shapes=_image_lifting_encode_shapes,
        decode_shapes=_lifting_decode_shapes, decoder="coordinates", maps=("encoded",),
        map_region=_last_joint_row, point_dims=(3,), bad_point_dims=(), num_keypoints=True,
        k_args=_LIFTING_K_ARGS,
        weight_at=_lifting_visibility_at,
        config_errors=(("num_keypoints_0", {"num_keypoints": 0}, "num_keypoints"),),
        config_works=(("num_keypoints_1", {"num_keypoints": 1}, _first_keypoints(1)),),
        extra=_image_lifting_extra,
        extra_configs={"stats": {"keypoints_mean": np.zeros((17, 2)), "keypoints_std": np.ones((17, 2))}},
    ),
    "VideoPoseLifting": Spec(
        exact_encode=False,
        config_labels=("default", "normalize_camera"), encode_shapes=_video_lifting_encode_shapes,
        decode_shapes=_lifting_decode_shapes, decoder="coordinates", maps=("encoded",),
        map_region=_last_joint_row, bad_point_dims=(1,), num_keypoints=True,
        k_args=_LIFTING_K_ARGS,
        weight_at=_lifting_visibility_at,
        config_errors=(("num_keypoints_0", {"num_keypoints": 0}, "num_keypoints"),),
        config_works=(("num_keypoints_1", {"num_keypoints": 1}, _first_keypoints(1)),),
        extra=_video_lifting_extra,
    ),
    "MotionBERTLabel": Spec(
        exact_encode=False,
        config_labels=("test", "train"), encode_shapes=_motionbert_encode_shapes,
        decode_shapes=_motionbert_decode_shapes, decoder="coordinates", maps=("encoded",),
        map_region=_last_joint_row, point_dims=(3,), bad_point_dims=(1,), num_keypoints=True,
        k_args=_LIFTING_K_ARGS,
        weight_at=_lifting_visibility_at,
        config_errors=(("num_keypoints_0", {"num_keypoints": 0}, "num_keypoints"),),
        config_works=(("num_keypoints_1", {"num_keypoints": 1}, _first_keypoints(1)),),
        extra=_motionbert_extra,
    ),
    "Hand3DHeatmap": Spec(
        config_labels=("sigma2", "max255"), encode_shapes=_hand3d_encode_shapes,
        decode_shapes=_hand3d_decode_shapes, decoder="maps", maps=("heatmaps",),
        map_region=lambda codec, k: {"heatmaps": (slice(k * codec.heatmap_size[2],
                                                        (k + 1) * codec.heatmap_size[2]),)},
        point_dims=(2,), bad_point_dims=(1, 4), weight_at=_weights_nk, painted_at=_hand3d_painted,
        impulse=_impulses(_hand3d_painted, lambda codec: codec.max_bound), sigma_fields=("sigma",),
        config_errors=(
            ("image_size_0", {"image_size": (0, 64)}, "image_size"),
            ("heatmap_size_0", {"heatmap_size": (16, 16, 0)}, "heatmap_size"),
            ("sigma_negative", {"sigma": -1.0}, "sigma"),
            ("sigma_nan", {"sigma": float("nan")}, "sigma"),
        ),
        config_works=(("sigma_0", {"sigma": 0.0}), ("heatmap_size_1", {"heatmap_size": (1, 1, 1)})),
        extra=_hand3d_extra,
        extra_configs={"joint_weights": {"use_different_joint_weights": True},
                       "joint_99": {"joint_indices": (0, 99)}},
    ),
    "SPR": Spec(
        config_labels=("root", "keypoint_maps"), encode_shapes=_spr_encode_shapes,
        decode_shapes=_spr_decode_shapes, decoder="maps", maps=("heatmaps", "displacements"),
        map_region=_spr_region,
        weight_at=lambda codec, k: {"displacement_weights": (slice(2 * k, 2 * k + 2),)},
        painted_at=_spr_painted, impulse=_spr_root_impulse, sigma_fields=("sigma",),
        config_errors=_heatmap_config_errors() + (
            ("sigma_pair_nan", {"sigma": (4.0, float("nan"))}, "sigma"),
            ("sigma_scalar_with_keypoint_maps", {"sigma": 4.0, "generate_keypoint_heatmaps": True}, "sigma"),
            ("root_type_box_center", {"root_type": "box_center"}, "root_type"),
            ("decode_nms_kernel_even", {"decode_nms_kernel": 4}, "decode_nms_kernel"),
            ("decode_max_instances_0", {"decode_max_instances": 0}, "decode_max_instances"),
            ("heatmap_smaller_than_max_instances", {"heatmap_size": (5, 5)}, "decode_max_instances"),
        ),
        config_works=(
            ("sigma_0", {"sigma": 0.0}),
            ("heatmap_size_max_instances", {"heatmap_size": (6, 5)}),
            ("auto_sigma_0_keypoint_maps", {"heatmap_size": (32, 32), "generate_keypoint_heatmaps": True}),
        ),
    ),
    "AssociativeEmbedding": Spec(
        # exact mode: MSRAHeatmap's renderer (run exact in its row); the
        # indices differ only in rounding
        exact_encode=False,
        config_labels=("plain", "udp"), encode_shapes=_ae_encode_shapes, decode_shapes=_ae_decode_shapes,
        decoder="maps", maps=("heatmaps", "tags"), map_region=lambda codec, k: {"heatmaps": (k,), "tags": (k,)},
        weight_at=_weights_nk, painted_at=_ae_painted, sigma_fields=("sigma",),
        config_errors=_heatmap_config_errors() + (
            ("udp_heatmap_size_1", {"use_udp": True, "heatmap_size": (1, 64)}, "use_udp"),
            ("udp_input_size_1", {"use_udp": True, "input_size": (256, 1)}, "use_udp"),
            ("decode_nms_kernel_even", {"decode_nms_kernel": 4}, "decode_nms_kernel"),
            ("decode_nms_kernel_0", {"decode_nms_kernel": 0}, "decode_nms_kernel"),
            ("decode_gaussian_kernel_even", {"decode_gaussian_kernel": 2}, "decode_gaussian_kernel"),
            ("decode_topk_0", {"decode_topk": 0}, "decode_topk"),
            ("decode_topk_more_than_pixels", {"decode_topk": 64 * 64 + 1}, "decode_topk"),
            ("decode_max_instances_0", {"decode_max_instances": 0}, "decode_max_instances"),
            ("decode_tag_thr_0", {"decode_tag_thr": 0.0}, "decode_tag_thr"),
            ("decode_tag_thr_nan", {"decode_tag_thr": float("nan")}, "decode_tag_thr"),
            ("decode_keypoint_thr_nan", {"decode_keypoint_thr": float("nan")}, "decode_keypoint_thr"),
            ("decode_center_shift_inf", {"decode_center_shift": float("inf")}, "decode_center_shift"),
            ("decode_keypoint_order_not_ints", {"decode_keypoint_order": ("a",)}, "decode_keypoint_order"),
        ),
        extra=_ae_extra,
        extra_configs={
            "order_reversed": {"decode_keypoint_order": tuple(range(_AE_K))[::-1]},
            "order_short": {"decode_keypoint_order": tuple(range(_AE_K - 1))},
            "order_repeated": {"decode_keypoint_order": (0,) * _AE_K},
            "sigma_0": {"sigma": 0.0},
            "udp_sigma_0": {"sigma": 0.0, "use_udp": True},
            "heatmap_size_1": {"heatmap_size": (1, 1), "decode_topk": 1},
            "udp_heatmap_size_2": {"use_udp": True, "heatmap_size": (2, 2), "decode_topk": 4},
        },
    ),
    "DecoupledHeatmap": Spec(
        config_labels=("kpt_center", "bbox_center"), encode_shapes=_cid_encode_shapes,
        decode_shapes=_cid_decode_shapes, decoder="maps", maps=("instance_heatmaps",),
        map_region=lambda codec, k: {"instance_heatmaps": (slice(None), k)},
        weight_at=lambda codec, k: {"keypoint_weights": (1, k)},
        painted_at=lambda codec, k: {"instance_heatmaps": (_AE_K + k,)},
        config_errors=_heatmap_config_errors(sigma=False) + (
            ("root_type_box_center", {"root_type": "box_center"}, "root_type"),
            ("heatmap_min_overlap_0", {"heatmap_min_overlap": 0.0}, "heatmap_min_overlap"),
            ("heatmap_min_overlap_1", {"heatmap_min_overlap": 1.0}, "heatmap_min_overlap"),
            ("heatmap_min_overlap_nan", {"heatmap_min_overlap": float("nan")}, "heatmap_min_overlap"),
            ("encode_max_instances_0", {"encode_max_instances": 0}, "encode_max_instances"),
        ),
        extra=_cid_extra,
        extra_configs={"heatmap_size_1": {"heatmap_size": (1, 1)}, "one_row": {"encode_max_instances": 1}},
    ),
    "EDPoseLabel": Spec(
        # no geometric quirk: both modes encode the same
        exact_encode=False,
        config_labels=("default", "select_3"), encode_shapes=_edpose_encode_shapes,
        decode_shapes=_edpose_decode_shapes, decoder="own",
        weight_at=lambda codec, k: {"keypoints_visible": (0, k)},
        painted_at=lambda codec, k: {"keypoints": (0, k)},
        config_errors=(
            ("num_select_0", {"num_select": 0}, "num_select"),
            ("num_select_fraction", {"num_select": 2.5}, "num_select"),
            ("num_keypoints_0", {"num_keypoints": 0}, "num_keypoints"),
        ),
        extra=_edpose_extra,
        extra_configs={"many": {"num_select": 1000}},
        # MMPose returns keypoints None when only the visibility is given
        overrides={("missing", "keypoints"): Finite(check=_is_none("keypoints"))},
    ),
    "YOLOXPoseAnnotationProcessor": Spec(
        config_labels=("expand", "plain"), encode_shapes=_yolox_encode_shapes,
        decode_shapes=lambda codec, args: None, decoder="own",  # decode returns None
        config_errors=(
            ("input_size_three_values", {"input_size": (640, 640, 3)}, "input_size"),
            ("input_size_0", {"input_size": (0, 640)}, "input_size"),
        ),
        extra=_yolox_extra,
        # MMPose reads (N, K, X) visibility's first flag; decode(*args, **kwargs) takes anything
        overrides={("rank", "keypoints_visible_3d"): Finite(), ("kwarg", "decode_unknown"): Finite()},
    ),
}


def _registered_name(codec) -> str:
    cls = type(codec)
    for name in jaxcodecs.list_codecs():
        if jaxcodecs.registry.get_codec_class(name) is cls:
            return name
    raise KeyError(cls.__name__)


# --------------------------------------------------------------- generator
_CODES = (("nan", float("nan")), ("inf", float("inf")), ("minus_inf", -float("inf")))


def _generic_entries(name: str, spec: Spec) -> list[tuple]:
    """The categories that apply to every codec of its kind, as
    ``(category, detail, method, make, expect, configs)``; ``configs``
    ``("*",)`` runs an entry on every config (values), else on the first."""
    rows: list[tuple] = []
    kp = "keypoints"
    vis = "keypoints_visible"
    every = ("*",)

    rows.append(("valid", "encode_example", "encode", lambda c, a: a, Finite(), every))
    rows.append(("valid", "decode_example", "decode", lambda c, a: a, Finite(), every))

    # missing / unknown arguments
    rows.append(("missing", "keypoints", "encode", _set(keypoints=None), Raises((kp,))))
    rows.append(("kwarg", "encode_unknown", "encode", _set(bogus_argument=np.zeros((1,), np.float32)),
                 Raises(("bogus_argument",), python_quotes=True)))
    rows.append(("kwarg", "decode_unknown", "decode", _set(bogus_argument=np.zeros((1,), np.float32)),
                 Raises(("bogus_argument",), python_quotes=True)))
    rows.append(("kwarg", "build_unknown", "build", lambda cfg: {**cfg, "bogus_argument": 1},
                 Raises(("bogus_argument",), python_quotes=True)))

    # rank
    rows.append(("rank", "keypoints_1d", "encode", _replace(kp, lambda c, x: x.reshape(-1)), Raises((kp,))))
    rows.append(("rank", "keypoints_4d", "encode", _replace(kp, lambda c, x: x[None]), Raises((kp,))))
    rows.append(("rank", "keypoints_2d", "encode", _replace(kp, lambda c, x: x[0]), Raises((kp,))))
    rows.append(("rank", "keypoints_visible_1d", "encode", _replace(vis, lambda c, v: v[0]), Raises((vis,))))
    rows.append(("rank", "keypoints_visible_3d", "encode", _replace(vis, lambda c, v: v[..., None]),
                 Raises((vis,))))

    # wrong K
    rows.append(("k", "keypoints_visible_fewer", "encode", _replace(vis, lambda c, v: v[:, :-1]),
                 Raises((vis,))))
    rows.append(("k", "keypoints_visible_more", "encode", _replace(vis, lambda c, v: _grow_axis(v, 1)),
                 Raises((vis,))))
    if spec.num_keypoints:
        rows.append(("k", "keypoints_fewer", "encode",
                     _compose(_replace(kp, lambda c, x: x[:, :-1]), _replace(vis, lambda c, v: v[:, :-1])),
                     Raises((kp,))))
        fewer_all = [_replace(n, functools.partial(lambda axis, c, x: _slice_axis(x, axis, x.shape[axis] - 1),
                                                   axis)) for n, axis in spec.k_args.items()]
        rows.append(("k", "every_argument_fewer", "encode", _compose(*fewer_all),
                     Raises(tuple(spec.k_args))))

    # companions: instances of the visibility
    rows.append(("companion", "keypoints_visible_more_instances", "encode",
                 _replace(vis, lambda c, v: _grow_axis(v, 0)), Raises((vis,))))

    # last dimension
    for dim in spec.bad_point_dims:
        rows.append(("dim", f"keypoints_{dim}", "encode",
                     _replace(kp, functools.partial(lambda d, c, x: _resize_last(x, d), dim)), Raises((kp,))))
    for dim in spec.point_dims:
        rows.append(("dim", f"keypoints_{dim}", "encode",
                     _replace(kp, functools.partial(lambda d, c, x: _resize_last(x, d), dim)), Finite()))

    # dtypes: every float argument cast; integer pixel annotations come with
    # boolean visibility flags (one compilation for both)
    rows.append(("dtype", "encode_int32_bool_visible", "encode",
                 _compose(_cast(np.int32), _replace(vis, lambda c, v: np.asarray(v).astype(bool))), Finite()))
    for dtype in ("float16", "bfloat16", "float64"):
        rows.append(("dtype", f"encode_{dtype}", "encode", _cast(_DTYPES[dtype]), Finite()))
    for dtype in ("int32", "float16", "bfloat16", "float64"):
        rows.append(("dtype", f"decode_{dtype}", "decode", _cast(_DTYPES[dtype]), Finite()))

    # instances
    if spec.max_instances is not None:
        rows.append(("empty", "no_instances", "encode",
                     _compose(_replace(kp, lambda c, x: x[:0]), _replace(vis, lambda c, v: v[:0])), Raises((kp,))))
        more = spec.max_instances + 1
        rows.append(("too_many", f"instances_{more}", "encode",
                     _compose(_replace(kp, functools.partial(lambda m, c, x: np.repeat(x[:1], m, 0), more)),
                              _replace(vis, functools.partial(lambda m, c, v: np.repeat(v[:1], m, 0), more))),
                     Raises((kp,))))
    elif not spec.num_keypoints:
        rows.append(("empty", "no_instances", "encode",
                     _compose(_replace(kp, lambda c, x: x[:0]), _replace(vis, lambda c, v: v[:0])),
                     EmptyOrError((kp,))))

    # non-finite and huge coordinates
    zero = _keypoint_zero if (spec.weight_at or spec.painted_at) else None
    for code, value in _CODES:
        rows.append(("coords", f"x_{code}_visible", "encode", _coordinate(_first_visible, 0, value, True),
                     Finite(zero=zero), every))
    rows.append(("coords", "y_nan_visible", "encode", _coordinate(_first_visible, 1, float("nan"), True),
                 Finite(zero=zero), every))
    rows.append(("coords", "x_nan_invisible", "encode", _coordinate(_first_visible, 0, float("nan"), False),
                 Finite(zero=zero), every))
    rows.append(("coords", "y_inf_invisible", "encode", _coordinate(_first_visible, 1, float("inf"), False),
                 Finite(zero=zero), every))
    for code, value in (("1e9", 1e9), ("minus_1e9", -1e9)):
        rows.append(("coords", f"x_{code}_visible", "encode", _coordinate(_first_visible, 0, value, True),
                     Finite(), every))
    rows.append(("coords", "y_1e9_invisible", "encode", _coordinate(_first_visible, 1, 1e9, False),
                 Finite(), every))

    # decoder inputs
    if spec.decoder == "maps":
        rows += _map_entries(spec)
    elif spec.decoder == "coordinates":
        rows.append(("rank", "encoded_2d", "decode", _replace("encoded", lambda c, e: e[0]), Raises(("encoded",))))
        rows.append(("rank", "encoded_4d", "decode", _replace("encoded", lambda c, e: e[None]),
                     Raises(("encoded",))))
        if name in ("RegressionLabel", "IntegralRegressionLabel"):
            rows.append(("empty", "decode_no_instances", "decode", _replace("encoded", lambda c, e: e[:0]),
                         EmptyOrError(("encoded",))))
            rows.append(("coords", "decode_nan_last_keypoint", "decode",
                         _replace("encoded", lambda c, e: _nan_at(e, (0, -1))), Finite(nan_keypoint=(-1, True))))
            rows.append(("coords", "decode_1e9_last_keypoint", "decode",
                         _replace("encoded", lambda c, e: _value_at(e, (0, -1), 1e9)), Finite()))

    # configuration
    for detail, overrides, field in spec.config_errors:
        rows.append(("sigma" if detail.startswith(("sigma", "combined_radius", "blur")) else "size",
                     detail, "build", functools.partial(lambda o, cfg: {**cfg, **o}, overrides), Raises((field,))))
    for detail, overrides, *adapt in spec.config_works:
        expect = Finite(check=_impulse_check) if detail == "sigma_0" else Finite()
        rows.append(("sigma" if detail.startswith("sigma") else "size", detail, "config",
                     functools.partial(lambda o, cfg: {**cfg, **o}, overrides), expect,
                     (spec.config_labels[0],), *adapt))
    return rows


_DTYPES = {"int32": np.dtype(np.int32), "float16": np.dtype(np.float16), "bfloat16": jnp.bfloat16,
           "float64": np.dtype(np.float64)}


def _resize_last(x, dim):
    x = np.asarray(x)
    if dim <= x.shape[-1]:
        return x[..., :dim]
    pad = np.zeros(x.shape[:-1] + (dim - x.shape[-1],), x.dtype)
    return np.concatenate([x, pad], axis=-1)


def _map_entries(spec: Spec) -> list[tuple]:
    every = ("*",)
    first = spec.maps[0]
    rows = [
        ("rank", f"{first}_spatial_only", "decode",
         _replace(first, lambda c, m: m.reshape(-1, *m.shape[m.ndim - spec.map_ndim:])[0]), Raises((first,))),
        ("rank", f"{first}_extra_axis", "decode", _replace(first, lambda c, m: m[None, None]), Raises((first,))),
        ("dim", f"{first}_width_plus_1", "decode", _replace(first, lambda c, m: _grow_axis(m, -1)),
         Raises((first,))),
    ]
    if first != "simcc_x":
        rows.append(("dim", f"{first}_height_minus_1", "decode", _replace(first, lambda c, m: m[..., :-1, :]),
                     Raises((first,))))
        rows.append(("empty", "decode_no_keypoints", "decode", _replace(first, lambda c, m: m[:0]),
                     EmptyOrError((first,))))
    else:
        rows.append(("empty", "decode_no_instances", "decode",
                     _compose(*[_replace(n, lambda c, m: m[:0]) for n in spec.maps]), EmptyOrError(spec.maps)))

    def values(fn):
        def make(codec, args):
            return {**args, **{n: fn(np.asarray(args[n], np.float32)).astype(np.float32) for n in spec.maps}}
        return make

    for detail, fn in (
        ("all_zero", np.zeros_like),
        ("all_equal", lambda m: np.full_like(m, 0.5)),
        ("negative", lambda m: -1.0 - m),
        ("huge_1e30", lambda m: m * np.float32(1e30)),
        ("all_huge_1e30", lambda m: np.full_like(m, 1e30)),
        ("denormal_1e-40", lambda m: np.where(m > 0, np.float32(1e-40), np.float32(0))),
    ):
        rows.append(("maps", detail, "decode", values(fn), Finite(), every))

    def poison(where: str, value: float = np.nan):
        def make(codec, args):
            k = _peak_keypoint(codec, args, spec)
            new = dict(args)
            for name, index in spec.map_region(codec, k).items():
                maps = np.array(args[name], np.float32, copy=True)
                region = maps[index]
                if where == "peak":
                    region.reshape(-1)[np.argmax(region)] = value
                elif where == "corner":
                    region.reshape(-1)[0] = value
                else:
                    region[...] = value
                maps[index] = region
                new[name] = maps
            return new
        return make

    for where in ("peak", "corner", "channel"):
        rows.append(("maps", f"nan_{where}", "decode", poison(where), Finite(nan_keypoint=(_PEAK, False)), every))
    return rows


_PEAK = "peak"  # the keypoint poisoned by a map entry, resolved per call


def _peak_keypoint(codec, args, spec: Spec) -> int:
    """The first keypoint whose map holds a positive value (a visible one)."""
    k = 0
    while True:
        region = spec.map_region(codec, k)
        name, index = next(iter(region.items()))
        if np.asarray(args[name])[index].max() > 0:
            return k
        k += 1


def _impulse_check(codec, args, out):
    spec = SPECS[_registered_name(codec)]
    if spec.impulse is None:
        return
    encoded = out[0]
    for label, target, peak in spec.impulse(codec, encoded):
        target = _as_f32(target)
        nonzero = np.flatnonzero(target)
        assert len(nonzero) == 1, f"σ = 0: {label} has {len(nonzero)} nonzero values, a unit impulse has one"
        np.testing.assert_allclose(target.reshape(-1)[nonzero[0]], peak, rtol=1e-6, err_msg=label)


def _entries() -> list[Entry]:
    entries = []
    for name in sorted(set(jaxcodecs.list_codecs()) | set(IMPLEMENTED)):
        spec = SPECS.get(name)
        if spec is None:
            continue  # test_every_codec_has_a_row fails for it
        labels = spec.config_labels
        rows = _generic_entries(name, spec) + [tuple(r) for r in (spec.extra() if spec.extra else [])]
        for row in rows:
            category, detail, method, make, expect = row[:5]
            expect = spec.overrides.get((category, detail), expect)
            configs = row[5] if len(row) > 5 else (labels[0],)
            make_args = row[6] if len(row) > 6 else None
            if configs == ("*",):
                # every example config; the exact mode too where it makes other targets
                exact = method == "encode" and spec.exact_encode
                configs = labels + ("exact",) if exact else labels
            if method in ("build", "config"):
                configs = (labels[0],)
            for label in configs:
                entries.append(Entry(name, label, category, detail, method, make, expect, make_args))
    return entries


ENTRIES = _entries()
_DUPLICATES = sorted(i for i, n in collections.Counter(e.id for e in ENTRIES).items() if n > 1)
assert not _DUPLICATES, f"entry ids must be unique: {_DUPLICATES}"


# ------------------------------------------------------------- the bases
def _config(name: str, label: str) -> dict:
    spec = SPECS[name]
    configs = examples.get_examples(name).configs
    if label == "exact":
        return {"type": name, **configs[0], "mmpose_compat": False}
    if label in spec.extra_configs:
        return {"type": name, **configs[0], **spec.extra_configs[label]}
    return {"type": name, **configs[spec.config_labels.index(label)]}


def _key(config: Mapping) -> str:
    return repr(sorted((k, repr(v)) for k, v in config.items()))


_CODECS: dict[str, Any] = {}
_JITTED: dict[tuple[str, str], Callable] = {}


def _codec(config: Mapping):
    key = _key(config)
    if key not in _CODECS:
        _CODECS[key] = jaxcodecs.build(dict(config))
    return _CODECS[key]


def _method(config: Mapping, method: str, jit: bool) -> Callable:
    codec = _codec(config)
    if not jit:
        return getattr(codec, method)
    key = (_key(config), method)
    if key not in _JITTED:
        _JITTED[key] = jax.jit(getattr(codec, method))
    return _JITTED[key]


def _sample0(tree):
    return jax.tree_util.tree_map(lambda x: np.asarray(x)[0], tree)


@functools.lru_cache(maxsize=None)
def _batch(name: str, label: str):
    return examples.example_batch(_codec(_config(name, label)), 1, seed=0, name=name)


def _base(name: str, label: str, method: str) -> Args:
    """Named ``method`` arguments of sample 0 of the example batch (the
    decode arguments are made, by encoding, only when asked for)."""
    codec = _codec(_config(name, label))
    batch = _batch(name, label)
    if method == "encode":
        return _sample0(_named(codec.encode, batch.encode_args, batch.encode_kwargs))
    return _sample0(_named(codec.decode, batch.decode_args, batch.decode_kwargs))


def _named(fn, args, kwargs) -> Args:
    bound = inspect.signature(fn).bind_partial(*args, **kwargs)
    return dict(bound.arguments)


# --------------------------------------------------------------- checking
def _flat_shapes(tree) -> list[tuple]:
    return [tuple(np.shape(leaf)) for leaf in jax.tree_util.tree_leaves(tree)]


def _check_documented(spec: Spec, codec, method: str, args: Args, out) -> None:
    if method == "encode":
        shapes = spec.encode_shapes(codec, args)
        assert isinstance(out, dict), f"encode returned {type(out).__name__}, not a dict"
        for key, shape in shapes.items():
            assert key in out, f"encode returned no `{key}` (keys {sorted(out)})"
            assert tuple(np.shape(out[key])) == tuple(shape), (
                f"`{key}` has shape {tuple(np.shape(out[key]))}, documented {tuple(shape)}")
    else:
        documented = spec.decode_shapes(codec, args)
        got = _flat_shapes(out)
        want = [tuple(s) for s in jax.tree_util.tree_leaves(
            documented, is_leaf=lambda s: isinstance(s, tuple) and all(isinstance(v, int) for v in s))]
        assert got == want, f"decode returned shapes {got}, documented {want}"


def _check_finite(out, nan_keypoint, k: int | None) -> None:
    """Every float output finite; with ``nan_keypoint = (k, rows)`` a decoder's
    scores of keypoint ``k`` (every output after the keypoints whose last
    axis has K entries) may be NaN, and with ``rows`` its keypoint row too."""
    leaves = jax.tree_util.tree_leaves_with_path(out)
    num_keypoints = np.shape(leaves[0][1])[-2] if nan_keypoint is not None else None
    for i, (path, leaf) in enumerate(leaves):
        if not _is_float(leaf):
            continue
        bad = ~np.isfinite(_as_f32(leaf))
        if nan_keypoint is not None and bad.any():
            _, rows = nan_keypoint
            allowed = np.zeros_like(bad)
            if i == 0 and rows:
                allowed[..., k, :] = True
            elif i > 0 and leaf.ndim >= 1 and leaf.shape[-1] == num_keypoints:
                allowed[..., k] = True
            bad = bad & ~allowed
        assert not bad.any(), (
            f"output {jax.tree_util.keystr(path)} has {int(bad.sum())} non-finite values "
            f"at {np.argwhere(bad)[:5].tolist()}")


def _check_zero(parts: Mapping[str, Any]) -> None:
    for label, value in parts.items():
        value = _as_f32(value)
        nonzero = np.flatnonzero(value)
        assert not len(nonzero), (
            f"{label} must be zero, got {len(nonzero)} nonzero values, e.g. {value.reshape(-1)[nonzero[:4]]} "
            f"at flat indices {nonzero[:4].tolist()}")


def _run(fn: Callable, args: Args):
    out = fn(**args)
    return jax.block_until_ready(out)


def _check_error(err: BaseException, expect: Raises | EmptyOrError, allowed=(ValueError, TypeError)):
    assert type(err) in allowed, (
        f"raised {type(err).__module__}.{type(err).__name__}, not exactly "
        f"{' or '.join(t.__name__ for t in allowed)}: {err}")
    message = str(err)
    if getattr(expect, "python_quotes", False):
        names = [f"'{n}'" for n in expect.names]
    else:
        names = [f"`{n}`" for n in expect.names]
    assert any(n in message for n in names), f"the message names none of {names}: {message!r}"
    assert "got" in message, f"the message does not say what it got: {message!r}"


def _expect_error(call: Callable, expect: Raises, allowed=(ValueError, TypeError)):
    try:
        call()
    except Exception as err:  # noqa: BLE001 - the type is what is checked
        _check_error(err, expect, allowed)
        return
    raise AssertionError(f"no error raised; expected {' or '.join(t.__name__ for t in allowed)} "
                         f"naming {expect.names}")


# -------------------------------------------------------------------- tests
def test_every_codec_has_a_row():
    registered = set(jaxcodecs.list_codecs())
    missing = sorted((registered | set(IMPLEMENTED)) - set(SPECS))
    assert not missing, (
        f"registered codec(s) {missing} have no row in tests/test_bad_input.py SPECS: add one (documented "
        "shapes, where keypoint k's weight and target lie, decoder kind, config fields, companion arguments)")
    stale = sorted(set(SPECS) - registered)
    assert not stale, f"SPECS has rows for codecs that are not registered: {stale}"
    for name in sorted(SPECS):
        configs = examples.get_examples(name).configs
        assert len(SPECS[name].config_labels) == len(configs), (
            f"{name}: SPECS labels {SPECS[name].config_labels} for {len(configs)} example configs")


def test_every_category_is_in_each_matrix():
    """The categories that apply to a codec are all in its matrix."""
    by_codec: dict[str, set] = {}
    for entry in ENTRIES:
        by_codec.setdefault(entry.codec, set()).add(entry.category)
    common = {"valid", "missing", "kwarg", "rank", "k", "companion", "dtype", "empty", "coords", "size"}
    for name, spec in SPECS.items():
        wanted = set(common)
        if spec.decoder == "maps":
            wanted.add("maps")
        if spec.max_instances is not None:
            wanted.add("too_many")
        if spec.sigma_fields or name == "MegviiHeatmap":
            wanted.add("sigma")
        if spec.num_keypoints:
            wanted |= {"root"}
        if name in ("VideoPoseLifting", "MotionBERTLabel"):
            wanted.add("camera")
        if spec.bad_point_dims:
            wanted.add("dim")
        assert wanted <= by_codec.get(name, set()), (name, sorted(wanted - by_codec.get(name, set())))


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize("entry", ENTRIES, ids=[e.id for e in ENTRIES])
def test_bad_input(entry: Entry, jit: bool):
    spec = SPECS[entry.codec]
    config = _config(entry.codec, entry.config)
    expect = entry.expect

    if entry.method == "build":
        bad = entry.make(config)
        if jit:
            _expect_error(lambda: jax.jit(lambda: jaxcodecs.build(dict(bad)))(), expect)
        else:
            _expect_error(lambda: jaxcodecs.build(dict(bad)), expect)
        return

    if entry.method == "config":
        variant = entry.make(config)
        codec = _codec(variant)
        enc_args = _base(entry.codec, entry.config, "encode")
        if entry.make_args is not None:
            enc_args = entry.make_args(enc_args)
        encoded = _run(_method(variant, "encode", jit), enc_args)
        _check_documented(spec, codec, "encode", enc_args, encoded)
        dec_args = _named(codec.decode, [encoded[key] for key in codec.decode_input_keys], {})
        decoded = _run(_method(variant, "decode", jit), dec_args)
        _check_documented(spec, codec, "decode", dec_args, decoded)
        _check_finite(encoded, None, None)
        _check_finite(decoded, None, None)
        if expect.check is not None:
            expect.check(codec, enc_args, (encoded, decoded))
        return

    codec = _codec(config)
    base = _base(entry.codec, entry.config, entry.method)
    args = entry.make(codec, dict(base))
    fn = _method(config, entry.method, jit)
    if jit and isinstance(expect, Raises) and expect.when_traced is not None:
        expect = expect.when_traced

    if isinstance(expect, Raises):
        _expect_error(lambda: _run(fn, args), expect)
        return
    if isinstance(expect, EmptyOrError):
        try:
            out = _run(fn, args)
        except Exception as err:  # noqa: BLE001 - checked by _check_error
            _check_error(err, expect, allowed=(ValueError,))
            return
        _check_documented(spec, codec, entry.method, args, out)
        _check_finite(out, None, None)
        return

    out = _run(fn, args)
    _check_documented(spec, codec, entry.method, args, out)
    k = None
    if expect.nan_keypoint is not None:
        k = expect.nan_keypoint[0]
        if k == _PEAK:
            k = _peak_keypoint(codec, base, spec)
    _check_finite(out, expect.nan_keypoint, k)
    if expect.zero is not None:
        _check_zero(expect.zero(codec, args, out))
    if expect.check is not None:
        expect.check(codec, args, out)
