"""``python -m jaxcodecs``: the round-trip demo and the codec benchmarks.

Subcommands:

* ``demo``: every registered codec, each of its ``demo_configs``, in both
  modes (``mmpose_compat=True``, "mmpose", and ``False``, "exact"): the
  sample COCO-17 poses are encoded and decoded with ``jax.jit(batch_encode)``
  and ``jax.jit(batch_decode)``; the table gives the round-trip error in input
  pixels, the batch throughput and the compile time; a PNG shows one pose per
  configuration (needs matplotlib).
* ``bench``: compile time and jitted encode / decode throughput for several
  batch sizes, as a table and optionally a JSON file (see
  ``benchmarks/bench_codecs.py``).

Both run the same generic path for every codec, driven only by the codec's
``demo_configs``, ``decode_input_keys`` and ``input_size``.

How the demo poses are placed (:func:`demo_keypoints`): the unit-box poses of
:func:`jaxcodecs.sample.load_coco17_sample` fill the central
``DEMO_FILL = 70%`` of the input, ``x = -0.5 + w * (0.15 + 0.7 * u)`` (the
input spans ``[-0.5, w - 0.5]`` with pixel centres at integers), plus a
sub-pixel jitter ``numpy.random.default_rng(seed).uniform(-0.5, 0.5,
(N, 17, 2))`` so that keypoints do not sit on the pixel grid. More than 64
poses repeat the sample with fresh jitter.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

__all__ = [
    "DEMO_FILL",
    "config_label",
    "config_labels",
    "demo_keypoints",
    "round_trip_errors",
    "host_kind",
    "main",
]

DEMO_FILL = 0.7
_DEMO_MIN_TIME = 0.05  # seconds of timed calls per measurement, on top of --repeats
MODES = (("mmpose", True), ("exact", False))
_SHAPE_KEYS = frozenset({"input_size", "heatmap_size"})
_SHORT_NAMES = {"kernel_size": "k"}
_DEFAULT_INPUT_SIZE = (192, 256)


# ----------------------------------------------------------------- helpers
def _format_value(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}"
    if isinstance(value, (tuple, list)):
        return "x".join(_format_value(v) for v in value)
    return str(value).replace(" ", "")


def _label_parts(config: Mapping[str, Any], skip: frozenset = frozenset()) -> list[str]:
    parts = []
    for key, value in config.items():
        if key in skip:
            continue
        if isinstance(value, (bool, np.bool_)):
            parts.append(key if value else f"{key}=False")
        elif isinstance(value, str):
            parts.append(value)
        else:
            parts.append(f"{_SHORT_NAMES.get(key, key)}={_format_value(value)}")
    return parts


def config_label(config: Mapping[str, Any]) -> str:
    """A short label for one config: ``sigma=2,unbiased``; sizes left out."""
    return ",".join(_label_parts(config, _SHAPE_KEYS)) or "default"


def config_labels(configs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Short, distinct labels for a codec's configs.

    A ``True`` flag is shown by its name, a string by its value, anything else
    as ``name=value`` (``kernel_size`` as ``k``). Parts that all configs share
    are dropped where something else tells the configs apart, and sizes are
    shown only where they differ, so MSRAHeatmap's two demo configs read
    ``sigma=2`` and ``unbiased``.
    """
    configs = [dict(c) for c in configs]
    varying_shapes = frozenset(
        key for key in _SHAPE_KEYS
        if len({_format_value(c.get(key)) for c in configs}) > 1
    )
    skip = _SHAPE_KEYS - varying_shapes
    parts = [_label_parts(c, skip) for c in configs]
    common = set.intersection(*(set(p) for p in parts)) if len(parts) > 1 else set()
    labels = []
    for p in parts:
        kept = [x for x in p if x not in common] or p
        labels.append(",".join(kept) or "default")
    seen: dict[str, int] = {}
    for i, label in enumerate(labels):  # make repeats distinct: label#2, label#3
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            labels[i] = f"{label}#{seen[label]}"
    return labels


def demo_keypoints(
    num_poses: int, input_size: Sequence[int], seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The demo's poses in input pixels (see the module docstring).

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


def _pick_instances(decoded: np.ndarray, keypoints: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """``(B, K, 2)`` from decoded ``(B, N, K, D)`` (or ``(B, K, D)``): per
    sample, the instance nearest to the true pose (the only one when N = 1)."""
    decoded = np.asarray(decoded, np.float64)
    if decoded.ndim == 3:
        decoded = decoded[:, None]
    decoded = decoded[..., : keypoints.shape[-1]]
    if decoded.shape[1] == 1:
        return decoded[:, 0]
    distance = np.linalg.norm(decoded - keypoints[:, None].astype(np.float64), axis=-1)
    mask = (visible > 0)[:, None, :]
    mean = np.where(mask, distance, 0).sum(-1) / np.maximum(mask.sum(-1), 1)
    mean = np.where(np.isfinite(mean), mean, np.inf)
    best = np.argmin(mean, axis=1)
    return decoded[np.arange(len(decoded)), best]


def round_trip_errors(
    decoded: np.ndarray, keypoints: np.ndarray, visible: np.ndarray
) -> tuple[float, float]:
    """Mean and max Euclidean distance in pixels over visible keypoints.

    Args:
      decoded: ``(B, K, 2)`` decoded keypoints (or ``(B, N, K, D)`` model
        output, of which the instance nearest to the truth is taken).
      keypoints: ``(B, K, 2)`` true keypoints.
      visible: ``(B, K)``; keypoints with ``visible > 0`` count.
    """
    decoded = np.asarray(decoded, np.float64)
    if decoded.ndim != 3 or decoded.shape[-1] != np.shape(keypoints)[-1]:
        decoded = _pick_instances(decoded, keypoints, visible)
    distance = np.linalg.norm(decoded - np.asarray(keypoints, np.float64), axis=-1)
    distance = distance[np.asarray(visible) > 0]
    if distance.size == 0:
        return math.nan, math.nan
    return float(distance.mean()), float(distance.max())


def _block(tree: Any) -> Any:
    import jax

    return jax.block_until_ready(tree)


def _timed(
    fn: Callable[..., Any], args: Sequence[Any], repeats: int, min_time: float = 0.0, max_repeats: int = 200
) -> tuple[Any, float, float]:
    """Calls ``fn(*args)`` once (compile + run), then at least ``repeats``
    more times (and for at least ``min_time`` seconds).

    Returns:
      ``(output, first_call_s, median_steady_s)``.
    """
    start = time.perf_counter()
    out = _block(fn(*args))
    first = time.perf_counter() - start
    times: list[float] = []
    begin = time.perf_counter()
    while len(times) < max(1, repeats) or (time.perf_counter() - begin < min_time and len(times) < max_repeats):
        start = time.perf_counter()
        _block(fn(*args))
        times.append(time.perf_counter() - start)
    return out, first, statistics.median(times)


def _input_size(codec: Any) -> tuple[int, int]:
    size = getattr(codec, "input_size", None)
    try:
        width, height = (int(v) for v in size)
        return width, height
    except (TypeError, ValueError):
        return _DEFAULT_INPUT_SIZE


def _scale_factor(codec: Any) -> tuple[float, float] | None:
    try:
        scale = np.asarray(getattr(codec, "scale_factor"), np.float64).reshape(-1)
    except Exception:
        return None
    return (float(scale[0]), float(scale[1])) if scale.shape == (2,) else None


def _codec_configs(names: Sequence[str] | None) -> list[tuple[str, type, list[dict], list[str]]]:
    import jaxcodecs

    known = jaxcodecs.list_codecs()
    selected = list(known) if not names else list(dict.fromkeys(names))
    out = []
    for name in selected:
        cls = jaxcodecs.get_codec_class(name)  # KeyError lists the known names
        configs = [dict(c) for c in getattr(cls, "demo_configs", ())]
        out.append((name, cls, configs, config_labels(configs) if configs else []))
    return out


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]) -> str:
    """An aligned plain-text table."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row)]

    def line(cells):
        text = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)]
        return "  ".join(text).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def _short_error(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".replace("\n", " ")
    return text if len(text) <= 100 else text[:97] + "..."


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def _rate(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.0f}"


# -------------------------------------------------------------------- demo
@dataclasses.dataclass
class DemoRow:
    codec: str
    config: str
    mode: str
    mean_error: float = math.nan
    max_error: float = math.nan
    encode_per_s: float | None = None
    decode_per_s: float | None = None
    compile_s: float | None = None
    note: str = ""

    def cells(self) -> list[str]:
        return [
            self.codec, self.config, self.mode,
            _fmt(self.mean_error), _fmt(self.max_error),
            _rate(self.encode_per_s), _rate(self.decode_per_s),
            _fmt(self.compile_s, 2), self.note,
        ]


DEMO_HEADERS = (
    "codec", "config", "mode", "mean err px", "max err px",
    "encode/s", "decode/s", "compile s", "note",
)
_DEMO_RIGHT = (False, False, False, True, True, True, True, True, False)


def _demo_row(cls, name, label, config, mode, compat, num_poses, seed, repeats):
    import jax

    codec = cls(**config, mmpose_compat=compat)
    keypoints, visible = demo_keypoints(num_poses, _input_size(codec), seed)
    args, kwargs, truth = codec.demo_sample(keypoints, visible)
    encode = jax.jit(codec.batch_encode)
    decode = jax.jit(codec.batch_decode)
    encoded, enc_first, enc_step = _timed(
        lambda *a: encode(*a, **kwargs), args, repeats, _DEMO_MIN_TIME
    )
    inputs = [encoded[key] for key in codec.decode_input_keys]
    decoded, dec_first, dec_step = _timed(decode, inputs, repeats, _DEMO_MIN_TIME)
    picked = _pick_instances(np.asarray(decoded[0]), truth, visible)
    mean_error, max_error = round_trip_errors(picked, truth, visible)
    keypoints = truth
    row = DemoRow(
        name, label, mode, mean_error, max_error,
        num_poses / enc_step, num_poses / dec_step,
        max(0.0, enc_first - enc_step) + max(0.0, dec_first - dec_step),
    )
    first_input = np.asarray(inputs[0][0]) if inputs else None
    return row, codec, keypoints[0], visible[0], first_input, picked[0]


def run_demo(args: argparse.Namespace) -> int:
    import jax

    started = time.perf_counter()
    if args.num_poses < 1:
        print("demo: --num-poses must be >= 1", file=sys.stderr)
        return 2
    try:
        selection = _codec_configs(args.codecs)
    except KeyError as error:
        print(f"demo: {error.args[0]}", file=sys.stderr)
        return 2
    device = jax.devices()[0]
    print(
        f"jaxcodecs demo: {args.num_poses} COCO-17 poses in the central {DEMO_FILL:.0%} of each "
        f"codec's input, sub-pixel jitter (seed {args.seed}); batch B={args.num_poses}; "
        f"jax {jax.__version__} on {device.platform} ({device.device_kind})"
    )
    print(
        "errors: round trip encode->decode over visible keypoints, input pixels; "
        f"throughput: poses/s, jitted, median of >= {args.repeats} calls; compile s: first call minus steady state, encode + decode\n"
    )
    rows: list[DemoRow] = []
    panels: list[dict] = []
    failed = 0
    for name, cls, configs, labels in selection:
        if not configs:
            rows.append(DemoRow(name, "-", "-", note="no demo config"))
            continue
        for config, label in zip(configs, labels):
            decoded_by_mode: dict[str, np.ndarray] = {}
            panel: dict[str, Any] = {}
            for mode, compat in MODES:
                try:
                    row, codec, true0, vis0, input0, decoded0 = _demo_row(
                        cls, name, label, config, mode, compat, args.num_poses, args.seed, args.repeats
                    )
                except Exception as error:  # report the row, keep going
                    failed += 1
                    rows.append(DemoRow(name, label, mode, note=f"FAILED {_short_error(error)}"))
                    continue
                rows.append(row)
                if np.shape(true0)[-1] != 2:
                    continue  # 3-D codecs: the table only, no 2-D picture
                decoded_by_mode[mode] = decoded0
                if not panel:
                    panel = dict(
                        codec_name=f"{name} {label}", heatmaps=input0, keypoints_true=true0,
                        visible=vis0, input_size=_input_size(codec), heatmap_scale=_scale_factor(codec),
                    )
            if panel:
                panel["keypoints_decoded"] = decoded_by_mode
                panels.append(panel)
    print(format_table(DEMO_HEADERS, [r.cells() for r in rows], _DEMO_RIGHT))
    elapsed = time.perf_counter() - started
    print(f"\n{len(rows)} rows in {elapsed:.1f} s" + (f"; {failed} FAILED" if failed else ""))

    if not args.no_plot and panels:
        out = args.out
        try:
            from jaxcodecs import viz

            path = out if out is not None else "jaxcodecs_demo.png"
            viz.plot_round_trips(
                path, panels, columns=3,
                title="jaxcodecs round trip: sample pose 0, summed target and decoded keypoints (both modes)",
            )
            print(f"wrote {os.path.abspath(path)}")
        except ImportError:
            print("note: matplotlib is not installed; skipped the picture (pip install 'jaxcodecs[viz]').")
    return 1 if failed else 0


# ------------------------------------------------------------------- bench
def host_kind() -> str:
    """``cpu-<cores>core`` or ``<platform>-<device kind>[-x<count>]``, for result file names."""
    import jax

    device = jax.devices()[0]
    if device.platform == "cpu":
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - macOS, Windows
            cores = os.cpu_count() or 1
        return f"cpu-{cores}core"
    kind = re.sub(r"[^a-z0-9]+", "-", device.device_kind.lower()).strip("-")
    count = jax.device_count()
    return f"{device.platform}-{kind}" + (f"-x{count}" if count > 1 else "")


# ------------------------------------------------------------------ parser
def _run_bench(args: argparse.Namespace) -> int:
    # Imported on use: the benchmark module builds on this one's helpers.
    from jaxcodecs.benchmark import run_bench

    return run_bench(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m jaxcodecs",
        description="jaxcodecs: differentiable, jit-able keypoint codecs in JAX.",
    )
    sub = parser.add_subparsers(dest="command", metavar="{demo,bench}")

    demo = sub.add_parser(
        "demo",
        help="round-trip every codec on sample COCO-17 poses: error, throughput, a picture",
        description=(
            "Encode and decode sample COCO-17 poses with every registered codec "
            "(each of its demo configs, both modes: 'mmpose' = mmpose_compat=True, "
            "'exact' = mmpose_compat=False) using jax.jit(batch_encode / batch_decode). "
            "Prints the round-trip error in input pixels over visible keypoints, the "
            "batch throughput and the compile time, and draws one pose per config."
        ),
    )
    demo.add_argument("--num-poses", type=int, default=64, metavar="N",
                      help="poses per batch (default 64; the sample repeats beyond 64)")
    demo.add_argument("--codecs", nargs="+", metavar="NAME",
                      help="only these registered codecs (default: all)")
    demo.add_argument("--out", metavar="PATH",
                      help="PNG path (default: jaxcodecs_demo.png in the current directory "
                           "when matplotlib is installed)")
    demo.add_argument("--no-plot", action="store_true", help="do not draw the picture")
    demo.add_argument("--seed", type=int, default=0, help="seed of the sub-pixel jitter (default 0)")
    demo.add_argument("--repeats", type=int, default=3,
                      help="minimum timed runs after the warm-up call (default 3; timing "
                           "goes on for at least 0.05 s)")
    demo.set_defaults(func=run_demo)

    bench = sub.add_parser(
        "bench",
        help="compile time and jitted encode / decode throughput per codec and batch size",
        description=(
            "Benchmark every registered codec's demo configs in both modes: compile time "
            "and jitted batch_encode / batch_decode throughput (samples/s, median step) for "
            "each batch size. With MMPOSE_ORACLE_PYTHON (or --oracle-python) pointing to the "
            "MMPose oracle venv's python, MMPose's per-sample NumPy loop is timed on the "
            "same configs and added as extra columns; without it those columns are skipped."
        ),
    )
    bench.add_argument("--codecs", nargs="+", metavar="NAME", help="only these codecs")
    bench.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 64, 256], metavar="B",
                       help="batch sizes (default 1 64 256)")
    bench.add_argument("--repeats", type=int, default=5, help="minimum timed runs (default 5)")
    bench.add_argument("--min-time", type=float, default=0.2,
                       help="minimum seconds of timed runs per measurement (default 0.2)")
    bench.add_argument("--seed", type=int, default=0, help="seed of the sub-pixel jitter")
    bench.add_argument("--json", type=Path, metavar="PATH", help="write the results as JSON here")
    bench.add_argument("--results-dir", type=Path, metavar="DIR",
                       help="write the JSON to DIR/<host-kind>.json (e.g. cpu-2core.json)")
    bench.add_argument("--oracle-python", default=os.environ.get("MMPOSE_ORACLE_PYTHON") or None,
                       metavar="PYTHON",
                       help="python of the MMPose oracle venv (default: $MMPOSE_ORACLE_PYTHON)")
    bench.add_argument("--oracle-samples", type=int, default=64,
                       help="samples in MMPose's per-sample loop (default 64)")
    bench.set_defaults(func=_run_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs ``python -m jaxcodecs`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
