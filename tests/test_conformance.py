"""Parity with MMPose 1.3.2, proven by the golden vectors in tests/data/conformance.

Every case of every codec listed as implemented in ``tests/inventory.py``
runs here, jitted: the codec is built from the case's ``config``, ``encode``
and each decode run are called with the arguments the ``call`` entry names,
and every output MMPose recorded is compared (SPEC §5):

* integer-valued outputs exactly; float outputs with rtol = atol = 1e-5;
* keypoints refined through a blur (DARK, UDP, Megvii, SimCC-DARK), per
  coordinate, with the tolerances frozen in
  ``tests/data/conformance_tolerances.json``: 1e-3 px by default; a row is
  wider only where the file says why (an exact neighbour tie, a noise-only
  channel, a perturbed peak), and the file was written from measurements
  (``tests/freeze_conformance_tolerances.py``), not by the run under test.
  Each run also re-measures how far every refined coordinate moves under a
  1e-4 relative perturbation that keeps every argmax (its *sensitivity*) and
  fails when that exceeds the frozen bound: a change that makes the port
  noisier fails instead of widening its own tolerance. Vectors that the
  file does not know (another vector set) fall back to the live rule
  ``1e-3 + 1.5 x sensitivity`` per coordinate, and on a backend other than
  the CPU the frozen errors were measured on, each coordinate gets the
  larger of its frozen tolerance and the live rule (``FROZEN_ON``);
* the SimCC-DARK visibility (softmax of 900 x the log of the blurred
  vectors, policy 13) amplifies float32 rounding 900-fold: relative
  tolerance ``2 * beta * sigma * 4e-7`` (see ``_dark_visibility_rtol``);
* where MMPose's value is NaN (0/0 on an all-zero channel, policy 6) or was
  read through a -1 location (flat-index wrap-around, policy 5), the port
  must return the SPEC's value: the keypoint at ``-1 x scale`` and the raw
  (non-positive) maximum as score;
* error cases must raise ``ValueError`` / ``TypeError`` themselves (not a
  JAX tracer error) with a message that names the argument and what was
  received, except the MMPose bugs the port fixes, which must succeed with
  the evident answer.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxcodecs
from conftest import OFF_CPU_PROGRAMS, blur2d, cid_sigmas
from inventory import IMPLEMENTED, MMPOSE_CODECS, PLANNED

DATA = Path(__file__).parent / "data" / "conformance"
MANIFEST = json.loads((DATA / "manifest.json").read_text())
# Selected by the written inventory, not by the registry: a codec missing
# from the registry makes its cases fail at ``build`` instead of vanishing.
CASES = [case for case in MANIFEST["cases"] if case["codec"] in IMPLEMENTED]
TOLERANCES = json.loads((Path(__file__).parent / "data" / "conformance_tolerances.json").read_text())
DEFAULT_ATOL = TOLERANCES["default_atol_px"]
# The backend the frozen errors were measured on. Another backend's exp,
# log and blur sums differ from XLA:CPU's by an ulp or so, which an
# ill-conditioned refinement amplifies: measured on CPU, noise of 1e-7
# relative (one ulp) in the maps of UDPHeatmap__edge_gaussian moves its
# refined keypoints by up to 0.0056 px, beyond their frozen 1e-3 px. There
# each coordinate also gets the live rule, which scales with its measured
# sensitivity.
FROZEN_ON = "cpu"
WELL_CONDITIONED = TOLERANCES["well_conditioned_sensitivity_px"]

# Decoders that read a -1 location through flat-index arithmetic in MMPose.
WRAPAROUND_DECODERS = {"UDPHeatmap"}


def _blur_refined(config: dict) -> bool:
    kind = config["type"]
    return (
        kind in ("UDPHeatmap", "MegviiHeatmap")
        or (kind == "MSRAHeatmap" and config.get("unbiased", False))
        or (kind == "SimCCLabel" and config.get("use_dark", False))
    )


def _dark_visibility(config: dict) -> bool:
    return config["type"] == "SimCCLabel" and bool(config.get("use_dark")) and bool(
        config.get("decode_visibility")
    )


def _dark_visibility_rtol(codec) -> float:
    """Relative tolerance of the SimCC-DARK visibility (policy 13).

    MMPose takes the softmax of ``c * log(blurred)``, ``c = decode_beta *
    sigma`` (900 by default). The blur and the log carry float32 rounding of
    a few 1e-7 that differs between OpenCV / NumPy builds (a float64
    re-implementation on this machine is 5e-5 away from the recorded value);
    shifting every logit by ``c * eta`` moves the maximum softmax probability
    by at most a factor ``exp(2 c eta)``. With ``eta = 4e-7``: ``2 c eta``.
    """
    sigma = np.max(np.broadcast_to(np.asarray(codec.sigma, np.float64), (2,)))
    return 2 * float(codec.decode_beta) * float(sigma) * 4e-7


# Decoders whose inputs are 1-D vectors (..., L) rather than maps (..., H, W).
VECTOR_DECODERS = {"SimCCLabel"}


# --------------------------------------------------------------------- loading
def load(case: dict) -> dict[str, np.ndarray]:
    with np.load(DATA / case["file"], allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def resolve(spec: Any, arrays: dict[str, np.ndarray]) -> Any:
    """Turns a ``call`` argument description into Python / JAX values."""
    if isinstance(spec, str) and spec.startswith("@"):
        return arrays[spec[1:]]
    if isinstance(spec, dict):
        if "torch" in spec:
            return jnp.asarray(arrays[spec["torch"][1:]])
        if "numpy_scalar" in spec:
            return arrays[spec["numpy_scalar"][1:]][()]
        if "dict" in spec:
            return {k: resolve(v, arrays) for k, v in spec["dict"].items()}
        if "tuple" in spec:
            return tuple(resolve(v, arrays) for v in spec["tuple"])
        if "list" in spec:
            return [resolve(v, arrays) for v in spec["list"]]
        return {k: resolve(v, arrays) for k, v in spec.items()}
    if isinstance(spec, list):
        return [resolve(v, arrays) for v in spec]
    return spec


@functools.lru_cache(maxsize=None)
def _shared_jit(method: str, treedef, dynamic: tuple, static_leaves: tuple) -> Callable[..., Any]:
    """One jitted ``codec.<method>(**kwargs)`` per call structure, taking
    the codec (a pytree) and the arrays: cases of one configuration and
    shapes share a compilation (jit's cache keys on the codec's static
    configuration and the arrays' shapes)."""

    def run(codec, values):
        filled = list(static_leaves)
        for i, value in zip(dynamic, values):
            filled[i] = value
        return getattr(codec, method)(**jax.tree_util.tree_unflatten(treedef, filled))

    return jax.jit(run)


def jit_call(fn: Callable[..., Any], kwargs: dict) -> tuple[Callable[[list], Any], list]:
    """``fn(**kwargs)`` as one jitted function of the array leaves of
    ``kwargs`` (other values static): returns ``(run, arrays)``; ``run``
    takes any arrays of the same shapes without compiling again. A bound
    codec method shares its compilation with every case of the same
    configuration, method and shapes."""
    leaves, treedef = jax.tree_util.tree_flatten(kwargs, is_leaf=lambda x: x is None)
    dynamic = [i for i, leaf in enumerate(leaves) if isinstance(leaf, (np.ndarray, np.generic, jax.Array))]

    def run(values):
        filled = list(leaves)
        for i, value in zip(dynamic, values):
            filled[i] = value
        return fn(**jax.tree_util.tree_unflatten(treedef, filled))

    closed = jax.jit(run)
    codec = getattr(fn, "__self__", None)
    static = tuple(None if i in dynamic else leaf for i, leaf in enumerate(leaves))
    try:
        shared = _shared_jit(fn.__name__, treedef, tuple(dynamic), static) if isinstance(
            codec, jaxcodecs.Codec) else None
    except TypeError:  # an unhashable static value
        shared = None
    if shared is None:
        return closed, [leaves[i] for i in dynamic]

    def run_shared(values):
        try:
            return shared(codec, values)
        except TypeError:
            # A codec that needs a hyper-parameter concrete (SimCC-DARK's
            # blur size from sigma) compiles with the codec closed over; an
            # error of the call itself is raised again from there.
            return closed(values)

    return run_shared, [leaves[i] for i in dynamic]


def call_jitted(fn: Callable[..., Any], kwargs: dict) -> Any:
    """Calls ``fn(**kwargs)`` under ``jax.jit``: arrays are traced, other values static."""
    run, values = jit_call(fn, kwargs)
    return run(values)


# ------------------------------------------------------------------ comparison
def _flatten_outputs(spec: Any, actual: Any, path: str = "") -> list[tuple[str, str, Any]]:
    """Pairs every recorded reference array with the port's value: (path, ref name, actual)."""
    if isinstance(spec, str):
        return [(path, spec[1:], actual)]
    if isinstance(spec, dict):
        if "tuple" in spec or "list" in spec:
            items = spec.get("tuple", spec.get("list"))
            assert isinstance(actual, (tuple, list)), f"{path}: expected a sequence, got {type(actual)}"
            assert len(actual) >= len(items), f"{path}: expected {len(items)} elements, got {len(actual)}"
            out = []
            for i, item in enumerate(items):
                out += _flatten_outputs(item, actual[i], f"{path}[{i}]")
            return out
        if "none" in spec:
            assert actual is None, f"{path}: expected None"
            return []
        if "tensor" in spec or "array" in spec:
            return [(path, spec.get("tensor", spec.get("array"))[1:], actual)]
        if "dict" in spec:
            spec = spec["dict"]
        assert isinstance(actual, dict), f"{path}: expected a dict, got {type(actual)}"
        missing = set(spec) - set(actual)
        assert not missing, f"{path}: missing keys {sorted(missing)}"
        out = []
        for key, item in spec.items():
            out += _flatten_outputs(item, actual[key], f"{path}.{key}")
        return out
    raise AssertionError(f"unknown output spec {spec!r}")


def _row_mask(ref: np.ndarray, rows_shape: tuple[int, ...]) -> np.ndarray:
    """Reduces ``ref`` over its trailing axes to a per-(n, k) mask shape."""
    nd = len(rows_shape)
    # The trailing size spelled out: a decode with no rows (0, K, ...) cannot
    # infer a -1.
    return ref.reshape(rows_shape + (int(np.prod(ref.shape[nd:])),))


def _lowered(value: np.ndarray, rng: np.random.Generator, map_axes: int = 2) -> np.ndarray:
    """``value`` with every pixel lowered by ~1e-4 of its magnitude, except
    each map's (``map_axes`` trailing axes) maximum, so that the argmax
    (exactly reproducible on the raw maps) cannot move and only the
    refinement's conditioning is probed."""
    value = np.asarray(value)
    noisy = value - 1e-4 * np.abs(value) * np.abs(rng.standard_normal(value.shape))
    if value.ndim >= map_axes:
        flat = value.reshape(value.shape[: value.ndim - map_axes] + (-1,))
        top = flat.argmax(-1)[..., None]
        noisy_flat = noisy.reshape(flat.shape)
        np.put_along_axis(noisy_flat, top, np.take_along_axis(flat, top, -1), -1)
        noisy = noisy_flat.reshape(value.shape)
    return noisy.astype(value.dtype)


def decode_sensitivity(
    method,
    kwargs: dict,
    reference: np.ndarray,
    draws: int = 4,
    map_axes: int = 2,
) -> np.ndarray:
    """How far each decoded coordinate moves (shape of ``reference``, per
    axis) when the decode input is perturbed by 1e-4 relative noise that
    keeps every argmax.

    OpenCV's float32 blur carries up to ~1e-6 relative rounding noise for large
    kernels (a k x k kernel sums k^2 rounded terms), and the port treats
    neighbour differences within 8 ulps as exact ties (Megvii). 1e-4 input
    noise, even after the blur averages it down, exceeds both, so every
    rounding-decided answer shows up as sensitive, while a well-conditioned
    keypoint still moves by only ~1e-4 px. ``map_axes``: 2 for heatmaps,
    1 for SimCC vectors (each keeps its own maximum). The perturbed inputs
    share one compilation.
    """
    run, values = jit_call(method, kwargs)
    rng = np.random.default_rng(0)
    reference = np.asarray(reference)
    moved = np.zeros(reference.shape)
    for _ in range(draws):
        noisy = [_lowered(v, rng, map_axes) if np.asarray(v).dtype.kind == "f" else v for v in values]
        out = np.asarray(run(noisy)[0])
        moved = np.maximum(moved, np.abs(out.astype(np.float64) - reference))
    return moved


# ------------------------------------------------------- frozen tolerances
def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def frozen_bounds(case: dict, prefix: str, shape: tuple[int, ...]):
    """``(atol, sensitivity bound)`` per refined coordinate (arrays of
    ``shape``, ``(N, K, 2)``) frozen for this decode run, or ``None`` for
    vectors the file does not know (another vector set: the live rule)."""
    entry = TOLERANCES["cases"].get(case["file"])
    if entry is None or entry["sha256"] != _sha256(DATA / case["file"]):
        # test_frozen_tolerances_cover_the_vectors fails for the public set.
        return None
    assert prefix in entry["decodes"], f"{case['file']}: no frozen tolerances for decode {prefix!r}"
    atol = np.full(shape, DEFAULT_ATOL)
    bound = np.full(shape, WELL_CONDITIONED)
    for row in entry["decodes"][prefix]:
        assert row["reason"].strip(), f"{case['file']} {prefix} row {row['row']}: widened without a reason"
        index = tuple(row["row"])
        atol[index] = row["atol_px"]
        bound[index] = row["sensitivity_px"]
    return atol, bound


# ------------------------------------------------------------ policy rows
def _scale(config: dict) -> np.ndarray:
    """Input pixels per heatmap pixel / SimCC bin, per axis, as SPEC §2 and
    MMPose 1.3.2's decoders scale (UDP: ``input / (heatmap - 1)``, row 4)."""
    kind = config["type"]
    if kind == "SimCCLabel":
        return np.full(2, 1.0 / config.get("simcc_split_ratio", 2.0))
    size = np.asarray(config["input_size"], np.float64)
    heatmap = np.asarray(config["heatmap_size"], np.float64)
    if kind == "UDPHeatmap":
        exact = config.get("mmpose_compat", True) is False
        return (size - exact) / (heatmap - 1)
    return size / heatmap


def _raw_maxima(config: dict, kwargs: dict, rows_shape: tuple[int, ...]) -> np.ndarray:
    """The maximum each decoded row reads, from the decode input: its
    heatmap channel, or the smaller of its SimCC x / y maxima; UDP combined
    reads the class map ``3k`` after OpenCV's blur of size ``2 * k + 1``
    (reflect-101 border; conftest's independent ``blur2d``)."""
    if config["type"] == "SimCCLabel":
        peaks = np.minimum(np.asarray(kwargs["simcc_x"]).max(-1), np.asarray(kwargs["simcc_y"]).max(-1))
        return peaks.reshape(rows_shape)
    maps = np.asarray(kwargs["encoded"], np.float64)
    if config["type"] == "UDPHeatmap" and config.get("heatmap_type") == "combined":
        maps = blur2d(maps[0::3], 2 * config.get("blur_kernel_size", 11) + 1)
    return maps.reshape(maps.shape[0], -1).max(-1).reshape(rows_shape)


def check_policy_rows(case, config, kwargs, prefix, rows, keypoints, scores, ref_scores, nan_rows) -> None:
    """SPEC §4 rows 5 and 6 where MMPose's keypoint is NaN or was read
    through a -1 location: the port decodes the keypoint to ``-1 x scale``
    and scores it with the raw maximum (non-positive there; MegviiHeatmap's
    score is ``max / 255 + 0.5``); a zero channel stays zero, so its
    maximum is 0."""
    if not rows.any():
        return
    what = f"{case['file']} {prefix}"
    maxima = _raw_maxima(config, kwargs, rows.shape)
    assert (maxima[rows] <= 0).all(), f"{what}: policy rows {np.argwhere(rows).tolist()} have a positive maximum"
    expected = np.broadcast_to(-_scale(config), keypoints.shape)
    np.testing.assert_allclose(keypoints[rows], expected[rows], rtol=1e-6, err_msg=f"{what}: -1 x scale")
    raw = maxima / 255.0 + 0.5 if config["type"] == "MegviiHeatmap" else maxima
    np.testing.assert_allclose(scores[rows], raw[rows], rtol=1e-6, atol=1e-7, err_msg=f"{what}: raw score")
    # Where MMPose's score is a number (the wrap-around rows), it is the same.
    recorded = rows & ~nan_rows & ~np.isnan(ref_scores)
    np.testing.assert_allclose(scores[recorded], ref_scores[recorded], rtol=1e-5, atol=1e-5, err_msg=what)


def compare_decode(
    case: dict, prefix: str, pairs: list[tuple[str, str, Any]], arrays, refined=None, value_atol=None,
    policy=None, input_nan=False,
) -> None:
    """``refined``: ``(atol, sensitivity, bound)`` per coordinate of the
    keypoints of a blur-refined decode (``bound`` None: not frozen).
    ``value_atol``: optional {output index: per-row absolute tolerance}
    for values other than the keypoints that are as ill-conditioned as a
    blur-refined keypoint (SimCC-DARK visibility). ``policy``: ``(config,
    kwargs)`` to check the rows of SPEC §4 rows 5 and 6. ``input_nan``: the
    decode input itself holds NaN (MMPose's NaN targets fed back): a
    reference NaN then came in with the input, not from the decoder, and the
    port's value there is free (DESIGN: "a NaN pixel may make that
    keypoint's score NaN, nothing else"); every other entry is compared."""
    if input_nan:
        refs = [np.asarray(arrays[name]) for _, name, _ in pairs]
        for (path, _, value), ref in zip(pairs, refs):
            out = np.asarray(value)
            what = f"{case['file']} {prefix}{path}"
            assert out.shape == ref.shape, f"{what}: shape {out.shape} != reference {ref.shape}"
            came_in = np.isnan(ref) if ref.dtype.kind == "f" else np.zeros(ref.shape, bool)
            assert np.all(np.isfinite(out) | came_in), f"{what}: port returned NaN/Inf"
            assert_close(ref[~came_in], out[~came_in], what, atol=1e-5, rtol=1e-5)
        return
    value_atol = value_atol or {}
    refs = [np.asarray(arrays[name]) for _, name, _ in pairs]
    outs = [np.asarray(value) for _, _, value in pairs]
    # Keypoint rows (N, K) are the first two axes of the keypoints output.
    rows_shape = refs[0].shape[:2] if refs[0].ndim >= 2 else refs[0].shape
    nan_rows = np.zeros(rows_shape, bool)
    for ref in refs:
        if ref.shape[: len(rows_shape)] == rows_shape and ref.dtype.kind == "f":
            nan_rows |= np.isnan(_row_mask(ref, rows_shape)).any(-1)
    wrap = np.zeros(rows_shape, bool)
    if case["codec"] in WRAPAROUND_DECODERS and len(refs) > 1:
        wrap = refs[1].reshape(rows_shape) <= 0
    policy_rows = nan_rows | wrap
    for (path, _, _), ref, out in zip(pairs, refs, outs):
        assert out.shape == ref.shape, f"{prefix}{path}: shape {out.shape} != reference {ref.shape}"
        assert np.all(np.isfinite(out)), f"{prefix}{path}: port returned NaN/Inf"
    if policy_rows.any():
        assert policy is not None and len(outs) > 1, f"{case['file']} {prefix}: NaN in the reference"
        check_policy_rows(case, *policy, prefix, policy_rows, outs[0], outs[1].reshape(rows_shape),
                          refs[1].reshape(rows_shape), nan_rows)
    for i, ((path, name, _), ref, out) in enumerate(zip(pairs, refs, outs)):
        what = f"{case['file']} {prefix}{path}"
        if i == 0 and refined is not None:
            atol, sensitivity, bound = refined
            keep = ~policy_rows[..., None]
            if bound is not None:
                worse = (sensitivity > bound) & keep
                assert not worse.any(), (
                    f"{what}: coordinates {np.argwhere(worse).tolist()} now move "
                    f"{sensitivity[worse].tolist()} px under a 1e-4 perturbation, more than the frozen "
                    f"{bound[worse].tolist()} (tests/data/conformance_tolerances.json)")
            bad = (np.abs(out.astype(np.float64) - ref) > atol) & keep
            assert not bad.any(), (
                f"{what}: coordinates {np.argwhere(bad).tolist()} differ: port {out[bad].tolist()} vs "
                f"reference {ref[bad].tolist()} (tolerance {atol[bad].tolist()})")
            continue
        atol = value_atol.get(i, 1e-5)
        if ref.shape[: len(rows_shape)] == rows_shape and policy_rows.any():
            keep = ~policy_rows
            ref, out = ref[keep], out[keep]
            atol = atol[keep] if np.ndim(atol) else atol
        assert_close(ref, out, what, atol=atol, rtol=1e-5)


def assert_close(ref: np.ndarray, out: np.ndarray, what: str, *, atol: float, rtol: float) -> None:
    ref = np.asarray(ref)
    out = np.asarray(out)
    if ref.dtype.kind in "iub":
        np.testing.assert_array_equal(out, ref, err_msg=what)
    elif np.ndim(atol):
        bad = np.abs(out.astype(np.float64) - ref) > atol + rtol * np.abs(ref)
        assert not bad.any(), (
            f"{what}: {np.argwhere(bad).tolist()} differ: port {out[bad].tolist()} vs reference "
            f"{ref[bad].tolist()} (atol {np.broadcast_to(atol, ref.shape)[bad].tolist()})"
        )
    else:
        np.testing.assert_allclose(out.astype(np.float64), ref.astype(np.float64), rtol=rtol, atol=atol, err_msg=what)


def compare_encode(case: dict, pairs: list[tuple[str, str, Any]], arrays) -> None:
    for path, name, value in pairs:
        ref = np.asarray(arrays[name])
        out = np.asarray(value)
        assert out.shape == ref.shape, f"enc{path}: shape {out.shape} != reference {ref.shape}"
        assert np.all(np.isfinite(out)), f"enc{path}: port returned NaN/Inf"
        ok = ~np.isnan(ref) if ref.dtype.kind == "f" else np.ones(ref.shape, bool)
        assert_close(ref[ok], out[ok], f"{case['file']} enc{path}", atol=1e-5, rtol=1e-5)


# ------------------------------------------- bottom-up decoders (padded rows)
def nms_peak_values(heatmaps: np.ndarray, kernel: int) -> np.ndarray:
    """Max-pool NMS written out with NumPy windows (-inf border): the values
    of the pixels that equal their window's maximum, other pixels 0."""
    half = kernel // 2
    padded = np.pad(np.asarray(heatmaps, np.float64), ((0, 0), (half, half), (half, half)),
                    constant_values=-np.inf)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kernel, kernel), axis=(-2, -1))
    return np.where(heatmaps == windows.max(axis=(-2, -1)), heatmaps, 0)


def _tied_candidates(config: dict, heatmaps: np.ndarray) -> bool:
    """Whether some keypoint type has two equal candidate values above the
    threshold: their order (torch.topk's, MMPose's) is unspecified. That
    includes a tie at the cut (the k-th value equal to the next): which of
    them is kept is unspecified too."""
    peaks = nms_peak_values(heatmaps, config.get("decode_nms_kernel", 5))
    top = -np.sort(-peaks.reshape(len(peaks), -1), axis=1)[:, : config.get("decode_topk", 30) + 1]
    above = top > config.get("decode_keypoint_thr", 0.1)
    return any(len(np.unique(row[keep])) < keep.sum() for row, keep in zip(top, above))


def _matching_rows(port: list[np.ndarray], ref: list[np.ndarray], atol: float) -> list[int] | None:
    """For each reference row, a distinct port row equal to it (all outputs
    within ``atol``), or None."""
    free = list(range(len(port[0])))
    order = []
    for i in range(len(ref[0])):
        for j in free:
            if all(np.allclose(p[j], r[i], atol=atol, rtol=1e-5) for p, r in zip(port, ref)):
                order.append(j)
                free.remove(j)
                break
        else:
            return None
    return order


def compare_grouped_decode(case: dict, config: dict, dec_call: dict, kwargs: dict, decoded, arrays) -> None:
    """AssociativeEmbedding: MMPose returns per image a list of G groups;
    the port returns M padded rows and ``valid``. The first G rows must be
    valid and equal the reference (keypoints within 1e-3 px after UDP's
    blur-based refinement, 1e-5 otherwise), the rest invalid and zero.
    The group order may differ only where the reference's top-k candidates
    tie (their order is the sorting library's). Where MMPose's fill-in score
    is NaN (an all-zero map, policy 14), the port scores it with the log of
    the clip floor, log(1e-3), the value of the map MMPose's refinement
    leaves there."""
    keypoints, scores, instance_scores, valid = (np.asarray(x) for x in decoded)
    lists = [[name[1:] for name in out["list"]] for out in dec_call["outputs"]["tuple"]]
    heatmaps = np.asarray(kwargs["batch_heatmaps"])
    atol = 1e-3 if config.get("use_udp") else 1e-5
    for b in range(len(lists[0])):
        what = f"{case['file']} {dec_call['prefix']} image {b}"
        ref = [np.asarray(arrays[names[b]], np.float64) for names in lists]
        count = len(ref[0])
        assert valid[b, :count].all() and not valid[b, count:].any(), f"{what}: valid {valid[b].tolist()}"
        port = [keypoints[b], scores[b], instance_scores[b]]
        for out in port:
            assert np.isfinite(out).all(), f"{what}: port returned NaN/Inf"
            assert not out[count:].any(), f"{what}: padded rows are not zero"
        nan = np.isnan(ref[1])
        if nan.any():
            empty = heatmaps[b].reshape(len(heatmaps[b]), -1).max(-1) == 0
            assert config.get("use_udp") and empty[np.nonzero(nan)[1]].all(), f"{what}: NaN in the reference"
            np.testing.assert_allclose(scores[b][:count][nan], np.log(1e-3), rtol=1e-6, err_msg=what)
            ref[1] = np.where(nan, np.log(1e-3), ref[1])
        port = [p[:count] for p in port]
        order = list(range(count))
        if not all(np.allclose(p, r, atol=atol, rtol=1e-5) for p, r in zip(port, ref)):
            order = _matching_rows(port, ref, atol)
            assert order is not None, f"{what}: groups differ: port {port[0].tolist()} vs {ref[0].tolist()}"
            assert _tied_candidates(config, heatmaps[b]), f"{what}: groups in another order without a tie"


# ------------------------------------------- fixed-size multi-person decoders
def _first_reference(spec: Any) -> str | None:
    """The name of the first array a ``call`` output spec records."""
    if isinstance(spec, str):
        return spec[1:]
    if isinstance(spec, dict):
        for key in ("tensor", "array"):
            if key in spec:
                return spec[key][1:]
        items = spec.get("tuple", spec.get("list", spec.get("dict", {})))
        for item in (items.values() if isinstance(items, dict) else items):
            found = _first_reference(item)
            if found is not None:
                return found
    return None


def valid_rows(codec, spec: Any, decoded: Any, arrays, what: str) -> Any:
    """SPEC §3 "Fixed shapes": a decoder that declares ``valid`` as its last
    output returns its static maximum of rows, MMPose's G rows first. Checks
    that ``valid`` marks exactly the first G rows (G from the reference's
    first output) and that the other rows are zero, and returns the outputs
    cut to those G rows (``valid`` dropped) for the comparison with MMPose."""
    if not codec.decode_outputs or codec.decode_outputs[-1] != "valid":
        return decoded
    assert isinstance(decoded, tuple) and len(decoded) == len(codec.decode_outputs), what
    valid = np.asarray(decoded[-1])
    rows = np.asarray(arrays[_first_reference(spec)]).shape[0]
    assert valid.dtype == bool and valid.ndim == 1 and valid.shape[0] >= rows, f"{what}: valid {valid.shape}"
    assert valid[:rows].all() and not valid[rows:].any(), (
        f"{what}: valid must mark exactly the first {rows} rows, got {valid.astype(int).tolist()}")

    def cut(leaf):
        leaf = np.asarray(leaf)
        assert leaf.shape[0] == valid.shape[0], f"{what}: {leaf.shape} has not {valid.shape[0]} rows"
        assert not np.any(leaf[rows:]), f"{what}: padded rows are not zero"
        return leaf[:rows]

    outputs = jax.tree_util.tree_map(cut, tuple(decoded[:-1]))
    return _tied_rows_as_reference(codec, outputs, np.asarray(arrays[_first_reference(spec)]))


def _named_leaves(names: Any, values: Any) -> dict[str, Any]:
    if isinstance(names, str):
        return {names: values}
    out = {}
    for name, value in zip(names, values):
        out.update(_named_leaves(name, value))
    return out


def _tied_rows_as_reference(codec, outputs: tuple, ref_keypoints: np.ndarray) -> tuple:
    """Rows whose instance scores are exactly equal have no order in MMPose
    (``torch.topk`` leaves ties unspecified; the port takes them row-major):
    within each run of equal scores, the port's rows are put in the order of
    the reference rows they match (nearest keypoints). Every row is still
    compared with a reference row; only the order of tied rows is free."""
    named = _named_leaves(codec.decode_outputs[:-1], outputs)
    score_name = next((n for n in ("root_scores", "instance_scores") if n in named), None)
    if score_name is None or len(ref_keypoints) < 2:
        return outputs
    scores = np.asarray(named[score_name])
    keypoints = np.asarray(named["keypoints"], np.float64)
    order = np.arange(len(scores))
    start = 0
    while start < len(scores):
        stop = start
        while stop + 1 < len(scores) and scores[stop + 1] == scores[start]:
            stop += 1
        free = list(range(start, stop + 1))
        for row in range(start, stop + 1):
            cost = [np.nansum(np.abs(keypoints[j] - ref_keypoints[row])) for j in free]
            order[row] = free.pop(int(np.argmin(cost)))
        start = stop + 1
    return jax.tree_util.tree_map(lambda leaf: np.asarray(leaf)[order], outputs)


# ------------------------------------ DecoupledHeatmap: MMPose's recorded draws
def cid_visited(config: dict, arrays) -> list[int]:
    """The instances MMPose drew a root offset for, in its order: ascending
    pseudo-box diagonal, those with a visible keypoint whose root window
    touches the heatmap (written out in NumPy from the behaviour notes)."""
    kp = np.asarray(arrays["in/keypoints"], np.float32)
    vis = np.asarray(arrays["in/keypoints_visible"], np.float32)
    scale = (np.asarray(config["input_size"]) / np.asarray(config["heatmap_size"])).astype(np.float32)
    counted = vis > 0
    has = counted.any(axis=1)
    lo = np.where(counted[..., None], kp, np.inf).min(axis=1)
    hi = np.where(counted[..., None], kp, -np.inf).max(axis=1)
    lo, hi = np.where(has[:, None], lo, 0), np.where(has[:, None], hi, 0)
    if "in/bbox" in arrays:
        corners = np.asarray(arrays["in/bbox"], np.float32).reshape(-1, 4, 2)
    else:
        corners = np.stack([lo, np.stack([lo[:, 0], hi[:, 1]], -1), np.stack([hi[:, 0], lo[:, 1]], -1), hi], 1)
    sigma = cid_sigmas(corners / scale, config.get("heatmap_min_overlap", 0.7))
    k = kp / scale
    lo_k, hi_k = lo / scale, hi / scale
    if config.get("root_type", "kpt_center") == "kpt_center":
        root = np.where(counted[..., None], k, 0).sum(1) / np.maximum(counted.sum(1), 1)[:, None]
    else:
        root = (np.where(counted[..., None], k, np.inf).min(1) + np.where(counted[..., None], k, -np.inf).max(1)) / 2
    root = np.where(has[:, None], root, 0)
    mu = np.trunc(root + 0.5)
    radius = 3 * sigma[:, None]
    size = np.asarray(config["heatmap_size"])
    off_map = ((np.trunc(mu - radius) >= size) | (np.trunc(mu + radius + 1) < 0)).any(axis=1)
    diagonal = np.linalg.norm(hi_k - lo_k, axis=-1)
    return [int(i) for i in np.argsort(diagonal, kind="stable") if has[i] and not off_map[i]]


def cid_draws(config: dict, arrays, kwargs: dict) -> dict:
    """SPEC §5: the recorded draws passed as ``jitter`` (rows mapped onto
    the instances visited) and ``selection``."""
    visited = cid_visited(config, arrays)
    rows = np.asarray(arrays["enc_rng/randint"])
    assert len(rows) == len(visited), f"{len(rows)} draws for visited instances {visited}"
    jitter = np.zeros((arrays["in/keypoints"].shape[0], 2), np.int32)
    jitter[visited] = rows
    drawn = dict(kwargs, jitter=jitter)
    if "enc_rng/sample" in arrays:
        drawn["selection"] = np.asarray(arrays["enc_rng/sample"], np.int32)
    return drawn


def instance_rows(encoded: dict, pairs: list[tuple[str, str, Any]], arrays, what: str) -> list:
    """SPEC §3 "Fixed shapes" for an encoder: ``instance_valid`` marks the
    first G rows (G = the reference's instance count), the other rows of
    every per-instance output are zero; returns the pairs cut to G rows
    (``instance_heatmaps`` to G blocks of maps)."""
    valid = np.asarray(encoded["instance_valid"])
    rows = np.asarray(arrays["enc/instance_coords"]).shape[0]
    assert valid.dtype == bool and valid[:rows].all() and not valid[rows:].any(), (
        f"{what}: instance_valid {valid.astype(int).tolist()} must mark the first {rows} rows")
    per_row = len(valid)
    out = []
    for path, name, value in pairs:
        value = np.asarray(value)
        ref = np.asarray(arrays[name])
        if name != "enc/heatmaps":
            blocks = value.reshape((per_row, -1) + value.shape[1:])
            assert not blocks[rows:].any(), f"{what} {path}: padded rows are not zero"
            value = blocks[:rows].reshape((-1,) + value.shape[1:])
            if ref.size == 0:
                value = value.reshape(ref.shape)  # MMPose's (0,) for no instance
        out.append((path, name, value))
    return out


# ------------------------------------------------- MMPose bugs the port fixes
def _megvii_visible_none(codec, arrays, encoded):
    """Policy 21: a missing visibility means all keypoints are visible."""
    keypoints = arrays["in/keypoints"]
    explicit = codec.encode(keypoints, np.ones(keypoints.shape[:2], np.float32))
    for key in ("heatmaps", "keypoint_weights"):
        np.testing.assert_allclose(np.asarray(encoded[key]), np.asarray(explicit[key]), rtol=1e-6)
    assert np.asarray(encoded["keypoint_weights"]).shape == keypoints.shape[:2]
    # Each in-map keypoint peaks at 255 at its own pixel.
    assert np.isclose(np.asarray(encoded["heatmaps"]).max(), 255.0)


def _root_relative_reference(arrays, root_index, remove):
    """MMPose's per-frame root-relative label written out in NumPy (what
    MMPose computes for T = 1), for any T; optionally without the root joint."""
    target = np.asarray(arrays["in/lifting_target"], np.float64)
    root = target[:, list(root_index)].mean(axis=1)
    label = target - root[:, None, :]
    weight = (np.asarray(arrays["in/lifting_target_visible"]) > 0.5).astype(np.float64)
    if remove:
        label = np.delete(label, root_index[0], axis=1)
        weight = np.delete(weight, root_index[0], axis=1)
    return label, root, weight


def _lifting_any_frames(codec, arrays, encoded):
    """Policies 18 / 19: the root is subtracted in every frame (T > 1) and
    removed from the keypoint axis, whatever T and root_index."""
    label, root, weight = _root_relative_reference(arrays, codec.root_index, codec._removes_root)
    np.testing.assert_allclose(np.asarray(encoded["lifting_target_label"]), label, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(encoded["target_root"]), root, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(encoded["lifting_target_weight"]), weight)
    if codec._removes_root:
        assert bool(encoded["target_root_removed"])
    # And the decode inverts it.
    keypoints, _ = codec.decode(encoded["lifting_target_label"], encoded["target_root"])
    np.testing.assert_allclose(np.asarray(keypoints), arrays["in/lifting_target"], rtol=1e-5, atol=1e-4)


def _lifting_decode_root_per_frame(codec, arrays, decoded):
    """Policy 19: decode accepts the encoded root (T, C) as well as
    (T, 1, C); the answer is MMPose's own for the (T, 1, C) form (``dec``)."""
    np.testing.assert_array_equal(arrays["xdec_in/encoded"], arrays["dec_in/encoded"])
    np.testing.assert_allclose(arrays["xdec_in/target_root"][:, None, :], arrays["dec_in/target_root"])
    np.testing.assert_allclose(np.asarray(decoded[0]), arrays["dec/keypoints"], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(decoded[1]), arrays["dec/scores"])


def _motionbert_factor_1d(codec, arrays, decoded):
    """Policy 22: a 1-D decode factor of N > 1 rows scales row n by
    factor[n] (MMPose broadcasts it against the joints and fails)."""
    encoded = np.asarray(arrays["dec_in/encoded"], np.float64)
    factor = np.asarray(arrays["dec_in/factor"], np.float64)
    expected = encoded * factor[:, None, None]
    expected = (expected - expected[:, codec.root_index : codec.root_index + 1]) / 1000.0
    np.testing.assert_allclose(np.asarray(decoded[0]), expected, rtol=1e-5, atol=1e-8)
    np.testing.assert_array_equal(np.asarray(decoded[1]), np.ones(encoded.shape[:2]))


def _ae_tag_inputs(codec, seed: int = 0):
    """Heatmaps of three people encoded by the codec and tag maps that
    paint each person's tag in a 3x3 patch at its keypoints."""
    rng = np.random.default_rng(seed)
    width, height = codec.heatmap_size
    keypoints = rng.uniform(4, np.asarray(codec.input_size) - 4, (3, 5, 2)).astype(np.float32)
    heatmaps = np.asarray(codec.encode(keypoints)["heatmaps"])
    tags = rng.normal(0, 0.1, (5, height, width)).astype(np.float32)
    pixels = np.trunc(keypoints / codec.scale_factor + 0.5).astype(int)
    for n, person in enumerate(pixels):
        for k, (x, y) in enumerate(person):
            tags[k, max(y - 1, 0):y + 2, max(x - 1, 0):x + 2] = 2.0 * n
    return heatmaps, tags


def _ae_default_order(codec, arrays, decoded):
    """Policy 24: the default grouping order is range(K) (MMPose's empty
    default fails), so the answer is that of the explicit order."""
    assert codec.decode_keypoint_order == ()
    explicit = codec.replace(decode_keypoint_order=tuple(range(arrays["dec_in/batch_heatmaps"].shape[1])))
    expected = jax.jit(explicit.batch_decode)(arrays["dec_in/batch_heatmaps"], arrays["dec_in/batch_tags"])
    for got, want in zip(decoded, expected):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    assert np.asarray(decoded[3]).any()


def _ae_single_image_decode(codec, arrays):
    """Policy 24: ``decode(heatmaps, tags)`` of one image works (MMPose
    raises NotImplementedError) and equals ``batch_decode`` of a batch of
    one; the people it finds are those encoded, at their keypoints."""
    heatmaps, tags = _ae_tag_inputs(codec)
    # Jitted as every case (call_jitted): the batch of one shares the
    # compilation of the cases of the same configuration and shapes.
    single = call_jitted(codec.decode, {"heatmaps": heatmaps, "tags": tags})
    batch = call_jitted(codec.batch_decode, {"batch_heatmaps": heatmaps[None], "batch_tags": tags[None]})
    for one, many in zip(single, batch):
        np.testing.assert_array_equal(np.asarray(one), np.asarray(many)[0])
    assert np.asarray(single[3]).sum() >= 3


def _cid_empty_decode(codec, arrays, decoded):
    """Policy 26: no instance decodes to empty outputs (MMPose raises), and
    the fixed-shape encoding of the same image decodes to all rows invalid."""
    keypoints, scores, valid = (np.asarray(x) for x in decoded)
    joints = arrays["in/keypoints"].shape[1]
    assert keypoints.shape == (0, joints, 2) and scores.shape == (0, joints) and valid.shape == (0,)
    encoded = codec.encode(arrays["in/keypoints"], arrays["in/keypoints_visible"])
    assert not np.asarray(encoded["instance_valid"]).any()
    assert not np.asarray(encoded["instance_heatmaps"]).any()
    width, height = codec.heatmap_size
    blocks = np.asarray(encoded["instance_heatmaps"]).reshape(codec.encode_max_instances, -1, height, width)
    _, padded_scores, padded_valid = codec.decode(blocks, np.ones((codec.encode_max_instances, 1), np.float32),
                                                  instance_valid=encoded["instance_valid"])
    assert padded_valid.shape == (codec.encode_max_instances,) and not np.asarray(padded_valid).any()
    assert not np.asarray(padded_scores).any()


def _yolox_expand_all_visible(codec, arrays, encoded):
    """Policy 21: without ``keypoints_visible`` every keypoint counts (MMPose
    reads ``None.ndim``); each box grows to the min / max of its keypoints,
    written out in NumPy on a copy of the recorded box."""
    keypoints = np.asarray(arrays["in/keypoints"], np.float64)
    expected = np.array(arrays["in/bbox"], np.float64, copy=True)
    expected[:, :2] = np.minimum(expected[:, :2], keypoints.min(axis=1))
    expected[:, 2:] = np.maximum(expected[:, 2:], keypoints.max(axis=1))
    assert set(encoded) == {"bbox"}
    np.testing.assert_allclose(np.asarray(encoded["bbox"], np.float64), expected, rtol=1e-6)
    assert (expected != arrays["in/bbox"]).any()  # the case does expand something


MUST_SUCCEED = {
    "AssociativeEmbedding__err_default_keypoint_order.npz::dec": _ae_default_order,
    "DecoupledHeatmap__empty.npz::dec": _cid_empty_decode,
    "MotionBERTLabel__err_decode_factor_1d_batch.npz::dec": _motionbert_factor_1d,
    "MegviiHeatmap__err_visible_none.npz": _megvii_visible_none,
    "YOLOXPoseAnnotationProcessor__err_expand_no_visible.npz": _yolox_expand_all_visible,
    "ImagePoseLifting__err_multi_frame_target.npz": _lifting_any_frames,
    "ImagePoseLifting__err_remove_root_index.npz": _lifting_any_frames,
    "VideoPoseLifting__err_remove_root_index.npz": _lifting_any_frames,
    "VideoPoseLifting__multi_frame_multi_root_concat_vis.npz::xdec": _lifting_decode_root_per_frame,
    "VideoPoseLifting__no_target_visible.npz::xdec": _lifting_decode_root_per_frame,
    "VideoPoseLifting__float64_multi_frame_remove_root.npz::xdec": _lifting_decode_root_per_frame,
}


# Must-succeed decode cases whose recorded call cannot be made as recorded
# (MMPose's ``decode(encoded)`` of a dummy array): the handler calls itself.
OWN_CALL = {
    "AssociativeEmbedding__err_decode_not_implemented.npz::dec": _ae_single_image_decode,
}


# What each must-raise case must name: the argument (in backticks, as every
# jaxcodecs message writes it). Cases of codecs still to come are listed so
# that their messages are held to the same rule the day they are registered.
ERROR_ARGUMENTS = {
    "MSRAHeatmap__err_multi_instance.npz": "keypoints",
    "UDPHeatmap__err_heatmap_type.npz": "heatmap_type",
    "UDPHeatmap__err_multi_instance.npz": "keypoints",
    "MegviiHeatmap__err_multi_instance.npz": "keypoints",
    "RegressionLabel__err_decode_dim3.npz::dec": "encoded",
    "IntegralRegressionLabel__err_multi_instance.npz": "keypoints",
    "SimCCLabel__err_smoothing_type.npz": "smoothing_type",
    "SimCCLabel__err_lsw_gaussian.npz": "label_smooth_weight",
    "SimCCLabel__err_lsw_range.npz": "label_smooth_weight",
    "SPR__err_root_type.npz": "root_type",
    "SPR__err_kpt_heatmaps_scalar_sigma.npz": "sigma",
    "DecoupledHeatmap__err_root_type.npz": "root_type",
    "ImagePoseLifting__err_no_lifting_target.npz": "lifting_target",
    "ImagePoseLifting__err_mean_without_std.npz": "keypoints_std",
    "VideoPoseLifting__err_no_camera.npz": "camera_param",
    "VideoPoseLifting__err_normalize_camera_no_f.npz": "camera_param",
    "MotionBERTLabel__err_no_lifting_target.npz": "lifting_target",
    "MotionBERTLabel__err_no_camera.npz": "camera_param",
    "MotionBERTLabel__err_mode.npz": "mode",
}


def assert_raises_naming(key: str, call: Callable[[], Any]) -> None:
    """``call`` raises a plain ``ValueError`` / ``TypeError`` (a JAX tracer
    error is a ``TypeError`` subclass and does not count) whose message
    names the argument of ``ERROR_ARGUMENTS[key]`` and what was received."""
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    error = info.value
    assert type(error) in (ValueError, TypeError), f"{key}: raised {type(error).__name__}: {error}"
    message = str(error)
    if key in ERROR_ARGUMENTS:
        name = f"`{ERROR_ARGUMENTS[key]}`"
        assert name in message, f"{key}: message does not name {name}: {message}"
    else:
        # A case of another vector set: some argument must be named.
        assert MANIFEST["set"] != "public", f"{key}: public must-raise case missing from ERROR_ARGUMENTS"
        assert message.count("`") >= 2, f"{key}: message names no argument: {message}"
    assert "got" in message, f"{key}: message does not say what it received: {message}"


@pytest.mark.parametrize("case", CASES, ids=[c["file"][:-4] for c in CASES])
def test_conformance(case: dict) -> None:
    arrays = load(case)
    config = json.loads(str(arrays["config"]))
    call = json.loads(str(arrays["call"]))
    error = case["error"]

    if error is not None and error["stage"] == "init":
        assert_raises_naming(case["file"], lambda: jaxcodecs.build(config))
        return

    if error is not None and error["stage"] == "encode" and case["file"] not in MUST_SUCCEED:
        # A configuration that MMPose accepts but cannot encode with (its
        # check runs inside encode) may be rejected earlier, when built.
        try:
            jaxcodecs.build(config)
        except (ValueError, TypeError):
            assert_raises_naming(case["file"], lambda: jaxcodecs.build(config))
            return

    codec = jaxcodecs.build(config)

    if call.get("encode"):
        enc_call = call["encode"]
        kwargs = resolve(enc_call["kwargs"], arrays)
        method = getattr(codec, enc_call["method"])
        if error is not None and error["stage"] == "encode":
            if case["file"] in MUST_SUCCEED:
                MUST_SUCCEED[case["file"]](codec, arrays, call_jitted(method, kwargs))
            else:
                assert_raises_naming(case["file"], lambda: call_jitted(method, kwargs))
            return
        if "global_rng" in enc_call:
            kwargs = cid_draws(config, arrays, kwargs)
        encoded = call_jitted(method, kwargs)
        pairs = _flatten_outputs(enc_call["outputs"], encoded)
        if "instance_valid" in encoded:
            pairs = instance_rows(encoded, pairs, arrays, case["file"])
        compare_encode(case, pairs, arrays)

    for dec_call in call.get("decodes", []):
        prefix = dec_call["prefix"]
        kwargs = resolve(dec_call["kwargs"], arrays)
        method = getattr(codec, dec_call["method"])
        key = f"{case['file']}::{prefix}"
        if key in OWN_CALL:
            OWN_CALL[key](codec, arrays)
            continue
        if "error" in dec_call and key not in MUST_SUCCEED:
            assert_raises_naming(key, lambda: call_jitted(method, kwargs))
            continue
        decoded = call_jitted(method, kwargs)
        if key in MUST_SUCCEED:
            MUST_SUCCEED[key](codec, arrays, decoded)
            continue
        if case["codec"] == "AssociativeEmbedding":
            compare_grouped_decode(case, config, dec_call, kwargs, decoded, arrays)
            continue
        decoded = valid_rows(codec, dec_call["outputs"], decoded, arrays, f"{case['file']} {prefix}")
        pairs = _flatten_outputs(dec_call["outputs"], decoded)
        if not pairs:
            continue  # a recorded None (``{"none": true}``), checked by _flatten_outputs
        refined = None
        if _blur_refined(config):
            keypoints = np.asarray(pairs[0][2])
            map_axes = 1 if case["codec"] in VECTOR_DECODERS else 2
            sensitivity = decode_sensitivity(method, kwargs, keypoints, map_axes=map_axes)
            frozen = frozen_bounds(case, prefix, keypoints.shape)
            live_rule = DEFAULT_ATOL + 1.5 * sensitivity
            if frozen is None:
                refined = (live_rule, sensitivity, None)
            elif jax.default_backend() != FROZEN_ON or os.environ.get(OFF_CPU_PROGRAMS) == "1":
                refined = (np.maximum(frozen[0], live_rule), sensitivity, frozen[1])
            else:
                refined = (frozen[0], sensitivity, frozen[1])
        value_atol = None
        if _dark_visibility(config):
            visibility = np.asarray(pairs[2][2])
            value_atol = {2: 1e-5 + _dark_visibility_rtol(codec) * visibility}
        input_nan = any(np.isnan(leaf).any() for leaf in jax.tree_util.tree_leaves(kwargs)
                        if np.asarray(leaf).dtype.kind == "f")
        compare_decode(case, prefix, pairs, arrays, refined, value_atol, policy=(config, kwargs),
                       input_nan=input_nan)


def test_programs_are_the_platforms_own() -> None:
    """Here the CPU's programs; in the child run of the next test, the
    other backends' (the argmax's NaN test is a product only on CPU)."""
    from jaxcodecs import ops

    text = jax.jit(ops.heatmap_argmax).lower(np.zeros((2, 3, 8, 6), np.float32)).as_text()
    assert ("dot_general" in text) == (os.environ.get(OFF_CPU_PROGRAMS) != "1")


def test_off_cpu_programs_pass_the_conformance() -> None:
    """The programs a GPU or TPU compiles (every ``lax.platform_dependent``
    on its ``default`` branch: the corrected division, NaN ranked inside the
    maximum, blur borders gathered in place, the rescaled maps fused, one
    grouping piece) run on this CPU in a child process, against the golden
    vectors with the other-backend tolerances: their arithmetic holds
    parity; what only a GPU can show is its own compiler's code."""
    env = {**os.environ, OFF_CPU_PROGRAMS: "1"}
    env.pop("PYTEST_XDIST_WORKER", None)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n0", "-p", "no:cacheprovider",
         "-k", "test_conformance[ or test_programs_are_the_platforms_own", str(Path(__file__))],
        env=env, capture_output=True, text=True, timeout=900,
    )
    tail = "\n".join(run.stdout.splitlines()[-30:])
    assert run.returncode == 0, f"off-CPU programs fail the conformance:\n{tail}\n{run.stderr[-2000:]}"
    assert f"{len(CASES) + 1} passed" in run.stdout, tail


# ----------------------------------------------------------------- coverage
def test_inventory_matches_registry_and_vectors() -> None:
    """The written inventory is the registry, and with the codecs still to
    come it is SPEC §1's 15 codecs, every one of which has golden cases."""
    registered = set(jaxcodecs.list_codecs())
    assert registered == set(IMPLEMENTED), (
        f"registered but not listed: {sorted(registered - set(IMPLEMENTED))}; "
        f"listed but not registered: {sorted(set(IMPLEMENTED) - registered)}")
    assert not set(IMPLEMENTED) & set(PLANNED)
    assert len(MMPOSE_CODECS) == 15
    assert set(MANIFEST["counts"]) == MMPOSE_CODECS


def test_every_implemented_codec_runs_all_its_cases() -> None:
    """The cases run are exactly the manifest's cases of the implemented
    codecs, as many as the manifest counts for each."""
    run = {}
    for case in CASES:
        run[case["codec"]] = run.get(case["codec"], 0) + 1
    assert run == {name: MANIFEST["counts"][name] for name in IMPLEMENTED}
    on_disk = {path.name for path in DATA.glob("*.npz")}
    assert {case["file"] for case in CASES} <= on_disk


def test_frozen_tolerances_cover_the_vectors() -> None:
    """The frozen file was written for exactly these vectors: every
    blur-refined case run, with the same bytes and every decode run."""
    assert TOLERANCES["vector_set"] == "public"
    if MANIFEST["set"] != TOLERANCES["vector_set"]:
        return  # another vector set (held back): its cases use the live rule
    refined = [case for case in CASES if _blur_refined(case["config"]) and case["error"] is None]
    assert set(TOLERANCES["cases"]) == {case["file"] for case in refined}
    for case in refined:
        entry = TOLERANCES["cases"][case["file"]]
        assert entry["sha256"] == _sha256(DATA / case["file"]), (
            f"{case['file']} changed: run tests/freeze_conformance_tolerances.py and review the diff")
        prefixes = {d["prefix"] for d in case["call"].get("decodes", []) if "error" not in d}
        assert set(entry["decodes"]) == prefixes, case["file"]


def test_frozen_tolerances_are_reviewed() -> None:
    """Every widened row of the frozen file says why, and rows above 2e-3 px
    are wider only because their measured error is."""
    assert TOLERANCES["default_atol_px"] == 1e-3  # SPEC §5
    for name, entry in TOLERANCES["cases"].items():
        for prefix, rows in entry["decodes"].items():
            for row in rows:
                where = f"{name} {prefix} row {row['row']}"
                assert row["reason"].strip(), f"{where}: no reason"
                assert len(row["atol_px"]) == len(row["sensitivity_px"]) == 2, where
                assert min(row["atol_px"]) >= TOLERANCES["default_atol_px"], where
                if max(row["atol_px"]) > 2e-3:
                    assert max(row["measured_error_px"]) > TOLERANCES["default_atol_px"], (
                        f"{where}: widened beyond 2e-3 px though its error is within the default")


def test_row_mask_handles_decodes_without_rows() -> None:
    # A decode that finds nobody (e.g. SPR with no root above decode_thr)
    # returns (0, K, ...) references; the row mask must not fail on them.
    ref = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(_row_mask(ref, (2, 3)), ref)
    np.testing.assert_array_equal(_row_mask(ref[..., 0], (2, 3)), ref[..., :1])
    assert _row_mask(np.zeros((0, 17, 2)), (0, 17)).shape == (0, 17, 2)
    assert _row_mask(np.zeros((0, 17)), (0, 17)).shape == (0, 17, 1)
