"""``python -m jaxcodecs bench``: compile time and jitted batch throughput.

For every registered codec, each of its example configs
(:mod:`jaxcodecs.examples`), both modes and each batch size:
``jax.jit(codec.batch_encode)`` on the example batch's encode arguments and
``jax.jit(codec.batch_decode)`` on its decode arguments, timed after a
warm-up; optionally the same configs and arguments through MMPose's
per-sample NumPy loop in the MMPose oracle environment (``--oracle-python``
/ ``$MMPOSE_ORACLE_PYTHON``). Prints a table and writes a JSON report. See
``benchmarks/bench_codecs.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from jaxcodecs.cli._harness import (
    MODES,
    fmt,
    format_table,
    host_kind,
    rate,
    select_codecs,
    short_error,
    timed,
)

__all__ = ["BENCH_HEADERS", "add_parser", "run_bench"]

_ORACLE_SCRIPT = r'''
import json, statistics, sys, time, warnings
warnings.simplefilter("ignore")
import numpy as np
spec = json.load(open(sys.argv[1]))
data = np.load(sys.argv[2])
import mmpose
import mmpose.codecs  # noqa: F401  registers the codecs
from mmpose.registry import KEYPOINT_CODECS
out = {"mmpose_version": mmpose.__version__, "numpy_version": np.__version__, "rows": []}

def timed(fn, min_repeats, min_time):
    times, begin = [], time.perf_counter()
    while len(times) < min_repeats or (time.perf_counter() - begin < min_time and len(times) < 50):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)

for item in spec["rows"]:
    i = item["index"]
    result = {"index": i}
    try:
        cfg = {k: tuple(v) if isinstance(v, list) else v for k, v in item["config"].items()}
        if item["codec"] == "AssociativeEmbedding":
            # MMPose's default order [] fails; jaxcodecs' default is range(K).
            joints = data[item["args"][0]["array"]].shape[-2]
            cfg["decode_keypoint_order"] = list(cfg.get("decode_keypoint_order") or range(joints))
        codec = KEYPOINT_CODECS.build(dict(type=item["codec"], **cfg))
        def sample_args(specs, b):
            return [{k: data[name][b] for k, name in spec["dict"].items()} if "dict" in spec
                    else data[spec["array"]][b] for spec in specs]
        def sample_kwargs(specs, b):
            return {key: sample_args([spec], b)[0] for key, spec in specs.items()}
        n = item["num_samples"]
        samples = [(sample_args(item["args"], b), sample_kwargs(item["kwargs"], b)) for b in range(n)]
        size = getattr(codec, "heatmap_size", None)
        def decode_input(j, value):
            if j == 0 and size is not None and len(size) == 3 and value.ndim == 3:
                value = value.reshape(-1, size[2], size[1], size[0])  # Hand3D decodes (K, D, H, W)
            return value
        decode_samples = [([decode_input(j, v) for j, v in enumerate(sample_args(item["decode_args"], b))],
                           sample_kwargs(item["decode_kwargs"], b)) for b in range(n)]
        encode_all = lambda: [codec.encode(*a, **k) for a, k in samples]
        encode_all()
        decode_all = lambda: [codec.decode(*a, **k) for a, k in decode_samples]
        if item["codec"] in ("AssociativeEmbedding", "SPR"):
            import torch  # the bottom-up decoders take torch tensors
            if item["codec"] == "AssociativeEmbedding":  # only MMPose's batch_decode exists
                maps = [torch.from_numpy(np.stack([a[j] for a, _ in decode_samples])) for j in range(2)]
                decode_all = lambda: codec.batch_decode(*maps)
            else:
                decode_samples = [([torch.from_numpy(v) for v in a], k) for a, k in decode_samples]
                decode_all = lambda: [codec.decode(*a, **k) for a, k in decode_samples]
        decode_all()
        result["encode_samples_per_s"] = n / timed(encode_all, spec["repeats"], spec["min_time"])
        result["decode_samples_per_s"] = n / timed(decode_all, spec["repeats"], spec["min_time"])
    except Exception as error:
        result["error"] = "%s: %s" % (type(error).__name__, error)
    out["rows"].append(result)
json.dump(out, open(sys.argv[3], "w"))
'''


def _run_oracle(
    python: str, items: list[dict], arrays: dict[str, np.ndarray], repeats: int, min_time: float
) -> dict | None:
    """MMPose's per-sample NumPy loop over the same configs and poses, in the
    oracle venv's ``python``; ``None`` (with a note) when anything goes wrong."""
    with tempfile.TemporaryDirectory(prefix="jaxcodecs-oracle-") as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "oracle.py").write_text(_ORACLE_SCRIPT)
        (tmp_path / "spec.json").write_text(
            json.dumps({"rows": items, "repeats": repeats, "min_time": min_time})
        )
        np.savez(tmp_path / "poses.npz", **arrays)
        command = [python, str(tmp_path / "oracle.py"), str(tmp_path / "spec.json"),
                   str(tmp_path / "poses.npz"), str(tmp_path / "out.json")]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
        except (OSError, subprocess.SubprocessError) as error:
            print(f"note: MMPose oracle not run ({short_error(error)}); column skipped.")
            return None
        if done.returncode != 0 or not (tmp_path / "out.json").exists():
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            print(f"note: MMPose oracle failed (exit {done.returncode}: {tail[0]}); column skipped.")
            return None
        return json.loads((tmp_path / "out.json").read_text())


BENCH_HEADERS = (
    "codec", "config", "mode", "B", "compile enc s", "compile dec s",
    "encode/s", "decode/s", "mmpose enc/s", "mmpose dec/s", "note",
)
_BENCH_RIGHT = (False, False, False, True, True, True, True, True, True, True, False)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)


def _array_specs(values: Any, prefix: str, arrays: dict[str, np.ndarray]) -> Any:
    """Stores a batch argument (an array, or a dict of arrays such as a
    camera) in ``arrays`` under names starting with ``prefix``; returns the
    spec the oracle script reads it back by, one sample at a time."""
    if isinstance(values, Mapping):
        names = {str(key): f"{prefix}_{key}" for key in values}
        arrays.update({names[str(key)]: np.asarray(value) for key, value in values.items()})
        return {"dict": names}
    arrays[prefix] = np.asarray(values)
    return {"array": prefix}


def _oracle_item(index: int, name: str, label: str, config: Mapping[str, Any], batch: Any,
                 arrays: dict[str, np.ndarray]) -> dict:
    """The oracle's job for one config: the example batch's encode and decode
    arguments, which MMPose's codec gets one sample at a time."""
    specs: dict[str, Any] = {}
    for part in ("encode", "decode"):
        args, kwargs = getattr(batch, f"{part}_args"), getattr(batch, f"{part}_kwargs")
        specs[part] = (
            [_array_specs(arg, f"{part}{j}_{index}", arrays) for j, arg in enumerate(args)],
            {key: _array_specs(arg, f"{part}_{key}_{index}", arrays) for key, arg in kwargs.items()},
        )
    return {
        "index": index, "codec": name, "config_label": label, "config": _jsonable(config),
        "args": specs["encode"][0], "kwargs": specs["encode"][1],
        "decode_args": specs["decode"][0], "decode_kwargs": specs["decode"][1],
        "num_samples": len(batch.keypoints),
    }


def run_bench(args: argparse.Namespace) -> int:
    """Runs the benchmark for parsed ``args``; returns the exit code."""
    import jax

    import jaxcodecs
    from jaxcodecs import examples

    try:
        selection = select_codecs(args.codecs)
    except KeyError as error:
        print(f"bench: {error.args[0]}", file=sys.stderr)
        return 2
    batch_sizes = sorted(set(args.batch_sizes))
    if not batch_sizes or min(batch_sizes) < 1:
        print("bench: --batch-sizes must be positive", file=sys.stderr)
        return 2
    kind = host_kind()
    device = jax.devices()[0]
    print(
        f"jaxcodecs bench on {kind} ({device.device_kind}), jax {jax.__version__}: jitted "
        f"batch_encode / batch_decode, samples/s = B / median step time "
        f"(>= {args.repeats} runs, >= {args.min_time:g} s); compile s = first call minus step\n"
    )
    results: list[dict] = []
    table_rows: list[list[str]] = []
    oracle_items: list[dict] = []
    oracle_arrays: dict[str, np.ndarray] = {}
    failed = 0
    for name, cls, configs, labels in selection:
        if not configs:
            results.append({"codec": name, "note": "no examples"})
            table_rows.append([name, "-", "-", "-", "-", "-", "-", "-", "-", "-", "no examples"])
            continue
        for config, label in zip(configs, labels):
            for mode, compat in MODES:
                try:
                    codec = cls(**config, mmpose_compat=compat)
                    encode = jax.jit(codec.batch_encode)
                    decode = jax.jit(codec.batch_decode)
                    for size in batch_sizes:
                        batch = examples.example_batch(codec, size, seed=args.seed, name=name)
                        _, enc_first, enc_step = timed(
                            lambda *a, kw=batch.encode_kwargs: encode(*a, **kw),
                            batch.encode_args, args.repeats, args.min_time,
                        )
                        _, dec_first, dec_step = timed(
                            lambda *a, kw=batch.decode_kwargs: decode(*a, **kw),
                            batch.decode_args, args.repeats, args.min_time,
                        )
                        results.append({
                            "codec": name, "config_label": label, "config": _jsonable(config),
                            "mode": mode, "mmpose_compat": compat, "batch_size": size,
                            "encode_compile_s": max(0.0, enc_first - enc_step),
                            "decode_compile_s": max(0.0, dec_first - dec_step),
                            "encode_step_s": enc_step, "decode_step_s": dec_step,
                            "encode_samples_per_s": size / enc_step,
                            "decode_samples_per_s": size / dec_step,
                        })
                        del batch
                except Exception as error:
                    failed += 1
                    results.append({"codec": name, "config_label": label, "mode": mode,
                                    "error": short_error(error)})
                    continue
            if args.oracle_python:
                try:
                    codec = cls(**config)  # mmpose_compat=True: MMPose's values
                    batch = examples.example_batch(codec, args.oracle_samples, seed=args.seed, name=name)
                except Exception:
                    continue
                oracle_items.append(_oracle_item(len(oracle_items), name, label, config, batch, oracle_arrays))

    oracle = None
    if args.oracle_python:
        print(f"running MMPose's per-sample loop in {args.oracle_python} ...", flush=True)
        oracle = _run_oracle(args.oracle_python, oracle_items, oracle_arrays, 3, args.min_time)
        if oracle is not None:
            by_config = {(it["codec"], it["config_label"]): row
                         for it, row in zip(oracle_items, oracle["rows"])}
            oracle["rows"] = [{**it, **row} for it, row in zip(oracle_items, oracle["rows"])]
            for row in oracle["rows"]:
                if "error" in row:
                    print(f"note: MMPose oracle, {row['codec']} {row['config_label']}: {row['error']}")
            for result in results:
                row = by_config.get((result.get("codec"), result.get("config_label")))
                if row and result.get("mode") == "mmpose" and "batch_size" in result:
                    result["mmpose_numpy_encode_samples_per_s"] = row.get("encode_samples_per_s")
                    result["mmpose_numpy_decode_samples_per_s"] = row.get("decode_samples_per_s")

    for result in results:
        if "batch_size" not in result:
            if "error" in result:
                table_rows.append([result["codec"], result["config_label"], result["mode"],
                                   "-", "-", "-", "-", "-", "-", "-", f"FAILED {result['error']}"])
            continue
        table_rows.append([
            result["codec"], result["config_label"], result["mode"], str(result["batch_size"]),
            fmt(result["encode_compile_s"], 2), fmt(result["decode_compile_s"], 2),
            rate(result["encode_samples_per_s"]), rate(result["decode_samples_per_s"]),
            rate(result.get("mmpose_numpy_encode_samples_per_s")),
            rate(result.get("mmpose_numpy_decode_samples_per_s")), "",
        ])
    print(format_table(BENCH_HEADERS, table_rows, _BENCH_RIGHT))
    if oracle is None:
        print("\nmmpose columns: not run (set MMPOSE_ORACLE_PYTHON to the oracle venv's python)")
    else:
        print(f"\nmmpose columns: MMPose {oracle.get('mmpose_version')} per-sample NumPy loop, "
              f"{args.oracle_samples} samples, one CPU process")

    report = {
        "host": {
            "kind": kind,
            "platform": device.platform,
            "device_kind": device.device_kind,
            "device_count": jax.device_count(),
            "cpu_count": os.cpu_count(),
            "machine": platform.machine(),
            "processor": platform.processor(),
            "python": platform.python_version(),
            "jax": jax.__version__,
            "numpy": np.__version__,
            "jaxcodecs": jaxcodecs.__version__,
        },
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "settings": {
            "batch_sizes": batch_sizes, "repeats": args.repeats, "min_time_s": args.min_time,
            "seed": args.seed, "statistic": "median step time; samples/s = B / step",
            "poses": "jaxcodecs.examples.example_batch: the jaxcodecs.sample COCO-17 poses in the "
                     "central 70% of the input, sub-pixel jitter",
        },
        "results": results,
        "mmpose_oracle": oracle,
    }
    json_path = args.json
    if json_path is None and args.results_dir is not None:
        json_path = Path(args.results_dir) / f"{kind}.json"
    if json_path is not None:
        json_path = Path(json_path)
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(_jsonable(report), indent=1) + "\n")
        print(f"wrote {json_path}")
    return 1 if failed else 0




def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Adds the ``bench`` subcommand to ``subparsers``."""
    bench = subparsers.add_parser(
        "bench",
        help="compile time and jitted encode / decode throughput per codec and batch size",
        description=(
            "Benchmark every registered codec's example configs (jaxcodecs.examples) in both "
            "modes: compile time and jitted batch_encode / batch_decode throughput (samples/s, "
            "median step) for each batch size. With MMPOSE_ORACLE_PYTHON (or --oracle-python) "
            "pointing to the MMPose oracle venv's python, MMPose's per-sample NumPy loop is "
            "timed on the same configs and arguments and added as extra columns; without it "
            "those columns are skipped."
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
    bench.set_defaults(func=run_bench)
    return bench
