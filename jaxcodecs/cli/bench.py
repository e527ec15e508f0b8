"""``python -m jaxcodecs bench``: compile time, throughput and the write floor.

For every registered codec, each of its example configs
(:mod:`jaxcodecs.examples`), each mode and each batch size B (a *cell*):
``jax.jit(codec.batch_encode)`` and ``jax.jit(codec.batch_decode)`` on the
example batch's arguments (already on the device), lowered and compiled
(trace + lower and XLA compile timed apart), then timed: samples/s =
B / median step, every call ``block_until_ready``-ed. For the encoders whose
targets include heatmaps, the *write floor* is measured beside them (the time
to write as many bytes as the encoder returns into memory the process
already holds; :mod:`jaxcodecs.cli._measure`) and reported as
``floor / encode step``: 100 % means the encoder runs at the speed of writing
its output. Every decoder is measured beside its *read floor* (the time to
read each of its inputs once), reported as ``read floor / decode step``; with
MMPose's loop measured, ``decode_floor_speedup`` in the JSON is the read
floor's speedup over it: the most any decode that reads its inputs could
reach on this machine.

Each cell runs under the default C allocator and under the tuned one
(:func:`jaxcodecs.allocator.cpu_allocator_env`), the latter in a child
process started with the tuned environment (glibc reads it at start-up);
with ``--oracle-python`` MMPose's per-sample loop runs in its own process on
the same configs and arguments. The measurements interleave: for each config,
round after round, every process measures in turn, and the reported numbers
are the medians over the rounds. The table goes to stdout, ``--json`` and
``--markdown`` write it to files. Nothing here assumes a CPU: on an
accelerator the same cells run on its device (the allocator then matters
only for host memory).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from jaxcodecs.cli._harness import MODES, fmt, format_table, host_kind, rate, select_codecs
from jaxcodecs.cli._harness import jsonable as _jsonable
from jaxcodecs.cli._measure import cell_key

__all__ = ["BENCH_HEADERS", "QUICK", "add_parser", "run_bench"]

BENCH_HEADERS = (
    "codec", "config", "mode", "B", "allocator", "compile enc s", "compile dec s", "encode/s",
    "floor", "decode/s", "dec floor", "mmpose enc/s", "mmpose dec/s", "enc x", "dec x", "note",
)
_RIGHT = (False, False, False, True, False, True, True, True, True, True, True, True, True, True, True, False)
#: What ``--quick`` sets unless given: MMPose's mode only, one round, short
#: measurements; besides, the tuned allocator runs at the largest batch size only.
QUICK = {"modes": ["mmpose"], "rounds": 1, "repeats": 3, "min_time": 0.05, "oracle_samples": 16}
_DEFAULTS = {"modes": [m for m, _ in MODES], "rounds": 3, "repeats": 5, "min_time": 0.2, "oracle_samples": 64}


def _allocator_env(kind: str) -> dict[str, str]:
    """This process's environment with the C allocator set to ``kind``."""
    from jaxcodecs.allocator import ALLOCATOR_ENV_NAMES, cpu_allocator_env

    env = {k: v for k, v in os.environ.items() if k not in ALLOCATOR_ENV_NAMES}
    tunables = [t for t in env.get("GLIBC_TUNABLES", "").split(":") if t and not t.startswith("glibc.malloc.")]
    env.pop("GLIBC_TUNABLES", None)
    if tunables:
        env["GLIBC_TUNABLES"] = ":".join(tunables)
    return {**env, **cpu_allocator_env()} if kind == "tuned" else env


def _measurers(kinds: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """One measurer per allocator: this process for the allocator it runs
    with, a child process for the other."""
    from jaxcodecs.allocator import allocator_kind
    from jaxcodecs.cli._measure import ChildMeasurer, Measurer

    settings = dict(seed=args.seed, repeats=args.repeats, min_time=args.min_time)
    here = allocator_kind()
    return {kind: Measurer(**settings) if kind == here else ChildMeasurer(_allocator_env(kind), **settings)
            for kind in kinds}


def _median(values: list[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _summarise(prepared: dict, rounds: list[dict]) -> dict:
    """A cell's row from its compile report and its rounds (medians)."""
    row = {k: v for k, v in prepared.items() if k != "error"}
    errors = [r["error"] for r in rounds if "error" in r]
    if "error" in prepared or errors:
        row["error"] = prepared.get("error") or errors[0]
    keys = {k for r in rounds for k in r if k.endswith(("_step_s", "_per_call"))}
    row.update({k: _median([r.get(k) for r in rounds]) for k in sorted(keys)})
    size = row["batch_size"]
    for part in ("encode", "decode"):
        step = row.get(f"{part}_step_s")
        row[f"{part}_samples_per_s"] = size / step if step else None
    if row.get("floor_step_s") and row.get("encode_step_s"):
        row["encode_floor_fraction"] = row["floor_step_s"] / row["encode_step_s"]
    if row.get("read_floor_step_s") and row.get("decode_step_s"):
        row["decode_floor_fraction"] = row["read_floor_step_s"] / row["decode_step_s"]
    return row


def _sizes(args: argparse.Namespace, kind: str) -> list[int]:
    """The batch sizes measured under allocator ``kind``: all of them, but
    with ``--quick`` the tuned allocator only at the largest."""
    return args.batch_sizes[-1:] if args.quick and kind == "tuned" and len(args.kinds) > 1 else args.batch_sizes


def _run_cells(selection, args, measurers, oracle, oracle_index, oracle_log) -> list[dict]:
    """Every cell of every config, rounds interleaved across the processes;
    MMPose's medians (or error) per config go to ``oracle_log``."""
    results = []
    kinds = list(measurers)
    for name, _cls, configs, labels in selection:
        if not configs:
            results.append({"codec": name, "note": "no examples"})
            continue
        for index, (config, label) in enumerate(zip(configs, labels)):
            cells = {kind: [(mode, size) for mode in args.modes for size in _sizes(args, kind)]
                     for kind in kinds}
            print(f"  {name} {label} ...", file=sys.stderr, flush=True)
            prepared = {
                (kind, cell): {"codec": name, "config_label": label, "config": _jsonable(config),
                               "mode": cell[0], "mmpose_compat": cell[0] == "mmpose",
                               "batch_size": cell[1], "allocator": kind,
                               **measurers[kind].prepare(name, index, *cell)}
                for kind in kinds for cell in cells[kind]
            }
            rounds: dict = {key: [] for key in prepared}
            oracle_rounds = []
            for r in range(args.rounds):
                for kind in (kinds if r % 2 == 0 else kinds[::-1]):  # alternate who goes first
                    for cell in cells[kind]:
                        if "error" not in prepared[kind, cell]:
                            rounds[kind, cell].append(measurers[kind].measure(cell_key(name, index, *cell)))
                if oracle is not None and (name, label) in oracle_index:
                    oracle_rounds.append(oracle.measure(oracle_index[name, label]))
            for kind in kinds:
                measurers[kind].release()
            mmpose = {}
            good = [r for r in oracle_rounds if "error" not in r]
            if oracle_rounds and not good:
                print(f"note: MMPose oracle, {name} {label}: {oracle_rounds[0]['error']}")
                oracle_log[name, label] = {"error": oracle_rounds[0]["error"]}
            for part in ("encode", "decode") if good else ():
                mmpose[part] = _median([r.get(f"{part}_samples_per_s") for r in good])
            if mmpose:
                oracle_log[name, label] = {f"{p}_samples_per_s": v for p, v in mmpose.items()}
            for key in prepared:
                row = _summarise(prepared[key], rounds[key])
                if row["mode"] == "mmpose" and mmpose:
                    for part in ("encode", "decode"):
                        row[f"mmpose_numpy_{part}_samples_per_s"] = mmpose[part]
                        ours = row.get(f"{part}_samples_per_s")
                        row[f"{part}_speedup"] = ours / mmpose[part] if ours and mmpose[part] else None
                    floor = row.get("read_floor_step_s")
                    row["decode_floor_speedup"] = (
                        row["batch_size"] / floor / mmpose["decode"] if floor and mmpose["decode"] else None)
                results.append(row)
    return results


def _table(results: list[dict], markdown: bool = False) -> str:
    def cell_rate(value):
        text = rate(value)
        return f"{float(value):,.0f}" if markdown and text != "-" else text

    def ratio(value):
        return "-" if value is None else f"{value:.1f}"

    rows = []
    for r in results:
        if "batch_size" not in r:
            rows.append([r["codec"], *["-"] * (len(BENCH_HEADERS) - 2), r.get("note", "")])
            continue
        floor, read_floor = r.get("encode_floor_fraction"), r.get("decode_floor_fraction")
        rows.append([
            r["codec"], r["config_label"], r["mode"], str(r["batch_size"]), r["allocator"],
            fmt(r.get("encode_compile_s"), 2), fmt(r.get("decode_compile_s"), 2),
            cell_rate(r.get("encode_samples_per_s")), "-" if floor is None else f"{100 * floor:.0f}%",
            cell_rate(r.get("decode_samples_per_s")),
            "-" if read_floor is None else f"{100 * read_floor:.0f}%",
            cell_rate(r.get("mmpose_numpy_encode_samples_per_s")),
            cell_rate(r.get("mmpose_numpy_decode_samples_per_s")),
            ratio(r.get("encode_speedup")), ratio(r.get("decode_speedup")),
            f"FAILED {r['error']}" if "error" in r else "",
        ])
    if not markdown:
        return format_table(BENCH_HEADERS, rows, _RIGHT)
    align = ["---:" if right else "---" for right in _RIGHT]
    lines = [BENCH_HEADERS, align, *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def _host(jax, jaxcodecs) -> dict:
    device = jax.devices()[0]
    return {
        "kind": host_kind(), "platform": device.platform, "device_kind": device.device_kind,
        "device_count": jax.device_count(), "cpu_count": os.cpu_count(),
        "machine": platform.machine(), "processor": platform.processor(),
        "cpu_model": _cpu_model(), "python": platform.python_version(), "jax": jax.__version__,
        "numpy": np.__version__, "jaxcodecs": jaxcodecs.__version__,
        "libc": " ".join(platform.libc_ver()),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _resolve(args: argparse.Namespace) -> None:
    """Fills the options left unset from ``--quick`` or the defaults."""
    for key, default in _DEFAULTS.items():
        if getattr(args, key) is None:
            setattr(args, key, QUICK[key] if args.quick else default)
    args.batch_sizes = sorted(set(args.batch_sizes))
    args.modes = list(dict.fromkeys(args.modes))


def run_bench(args: argparse.Namespace) -> int:
    """Runs the benchmark for parsed ``args``; returns the exit code."""
    import jax

    import jaxcodecs
    from jaxcodecs import examples
    from jaxcodecs.allocator import heap_stats

    _resolve(args)
    try:
        selection = select_codecs(args.codecs)
    except KeyError as error:
        print(f"bench: {error.args[0]}", file=sys.stderr)
        return 2
    if not args.batch_sizes or min(args.batch_sizes) < 1 or args.rounds < 1:
        print("bench: --batch-sizes and --rounds must be positive", file=sys.stderr)
        return 2
    kinds = ["default", "tuned"] if args.allocator == "both" else [args.allocator]
    if "tuned" in kinds and heap_stats() is None:
        print("note: the C library is not glibc; the tuned allocator is not run.")
        kinds = [k for k in kinds if k != "tuned"] or ["default"]
    args.kinds = kinds
    host = _host(jax, jaxcodecs)
    print(
        f"jaxcodecs bench on {host['kind']} ({host['device_kind']}; {host['cpu_model']}), jax "
        f"{jax.__version__}: jitted batch_encode / batch_decode, samples/s = B / median step "
        f"(>= {args.repeats} runs, >= {args.min_time:g} s), median of {args.rounds} interleaved "
        f"round(s); compile s = XLA compile (trace + lower in the JSON); floor = write floor / "
        f"encode step; dec floor = read floor / decode step; allocator: {' and '.join(kinds)}\n", flush=True)

    oracle, oracle_index, oracle_info = None, {}, None
    if args.oracle_python:
        from jaxcodecs.cli._oracle import Oracle, oracle_item

        items: list[dict] = []
        arrays: dict[str, np.ndarray] = {}
        for name, cls, configs, labels in selection:
            for config, label in zip(configs, labels):
                try:
                    batch = examples.example_batch(cls(**config), args.oracle_samples, seed=args.seed, name=name)
                    items.append(oracle_item(len(items), name, label, config, batch, arrays))
                except Exception:
                    continue
                oracle_index[name, label] = items[-1]["index"]
        oracle = Oracle(args.oracle_python, items, arrays, 3, args.min_time)
        oracle_info = oracle.start()
        if oracle_info is None:
            oracle.close()
            oracle = None
        else:
            oracle_info["rows"] = items
    measurers = _measurers(kinds, args)
    try:
        processes = {kind: m.info() for kind, m in measurers.items()}
        oracle_log: dict = {}
        results = _run_cells(selection, args, measurers, oracle, oracle_index, oracle_log)
    finally:
        for m in measurers.values():
            getattr(m, "close", lambda: None)()
        if oracle is not None:
            oracle.close()
    if oracle_info is not None:
        for item in oracle_info["rows"]:
            item.update(oracle_log.get((item["codec"], item["config_label"]), {"error": "not measured"}))

    print(_table(results))
    if oracle_info is None:
        print("\nmmpose columns: not run (set MMPOSE_ORACLE_PYTHON to the oracle venv's python)")
    else:
        print(f"\nmmpose columns: MMPose {oracle_info.get('mmpose_version')} per-sample NumPy loop, "
              f"{args.oracle_samples} samples, one CPU process; enc x / dec x = jaxcodecs / MMPose")
    failed = sum(1 for r in results if "error" in r and r.get("allocator", "default") == kinds[0])
    report = {
        "host": host,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "settings": {
            "batch_sizes": args.batch_sizes, "modes": args.modes, "rounds": args.rounds,
            "repeats": args.repeats, "min_time_s": args.min_time, "seed": args.seed,
            "quick": bool(args.quick), "allocators": kinds,
            "batch_sizes_by_allocator": {kind: _sizes(args, kind) for kind in kinds},
            "statistic": "median over rounds of the median step time; samples/s = B / step",
            "poses": "jaxcodecs.examples.example_batch: the jaxcodecs.sample COCO-17 poses in the "
                     "central 70% of the input, sub-pixel jitter",
            "write_floor": "jitted in-place overwrite (donated buffers) of as many bytes as the "
                           "encoder returns; encode_floor_fraction = floor step / encode step",
            "read_floor": "jitted maximum of every decode input (each read once); "
                          "decode_floor_fraction = read floor step / decode step; "
                          "decode_floor_speedup = read floor samples/s / MMPose's decode samples/s",
        },
        "processes": processes,
        "results": results,
        "mmpose_oracle": oracle_info,
    }
    json_path = args.json
    if json_path is None and args.results_dir is not None:
        json_path = Path(args.results_dir) / f"{host['kind']}.json"
    for path, text in ((json_path, json.dumps(_jsonable(report), indent=1) + "\n"),
                       (args.markdown, _table(results, markdown=True) + "\n")):
        if path is not None:
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path}")
    return 1 if failed else 0


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Adds the ``bench`` subcommand to ``subparsers``."""
    bench = subparsers.add_parser(
        "bench",
        help="compile time, jitted encode / decode throughput and write floor per codec and batch size",
        description=(
            "Benchmark every registered codec's example configs (jaxcodecs.examples): compile "
            "time, jitted batch_encode / batch_decode throughput (samples/s, median step) for "
            "each batch size, the fraction of the memory-write floor for the heatmap encoders, "
            "under the default and the tuned C allocator (jaxcodecs.allocator). With "
            "MMPOSE_ORACLE_PYTHON (or --oracle-python) pointing to the MMPose oracle venv's "
            "python, MMPose's per-sample NumPy loop is timed on the same configs and arguments, "
            "in rounds interleaved with jaxcodecs', and added as extra columns."
        ),
    )
    bench.add_argument("--codecs", nargs="+", metavar="NAME", help="only these codecs")
    bench.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 64, 256], metavar="B",
                       help="batch sizes (default 1 64 256)")
    bench.add_argument("--modes", nargs="+", choices=[m for m, _ in MODES],
                       help="mmpose_compat modes (default both; --quick: mmpose)")
    bench.add_argument("--allocator", choices=["default", "tuned", "both"], default="both",
                       help="C allocator(s) to measure under (default both)")
    bench.add_argument("--rounds", type=int, help="interleaved rounds, medians reported (default 3; --quick: 1)")
    bench.add_argument("--repeats", type=int, help="minimum timed calls per measurement (default 5; --quick: 3)")
    bench.add_argument("--min-time", type=float,
                       help="minimum seconds of timed calls per measurement (default 0.2; --quick: 0.05)")
    bench.add_argument("--quick", action="store_true",
                       help="mmpose mode, one round, short measurements, the tuned allocator at the "
                            "largest batch size only (a few minutes on 2 CPU cores)")
    bench.add_argument("--seed", type=int, default=0, help="seed of the sub-pixel jitter")
    bench.add_argument("--json", type=Path, metavar="PATH", help="write the results as JSON here")
    bench.add_argument("--markdown", type=Path, metavar="PATH", help="write the table as Markdown here")
    bench.add_argument("--results-dir", type=Path, metavar="DIR",
                       help="write the JSON to DIR/<host-kind>.json (e.g. cpu-2core.json)")
    bench.add_argument("--oracle-python", default=os.environ.get("MMPOSE_ORACLE_PYTHON") or None,
                       metavar="PYTHON",
                       help="python of the MMPose oracle venv (default: $MMPOSE_ORACLE_PYTHON)")
    bench.add_argument("--oracle-samples", type=int,
                       help="samples in MMPose's per-sample loop (default 64; --quick: 16)")
    bench.set_defaults(func=run_bench)
    return bench
