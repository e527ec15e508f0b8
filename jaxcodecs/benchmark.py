"""``python -m jaxcodecs bench``: compile time and jitted batch throughput.

For every registered codec, each of its ``demo_configs``, both modes and each
batch size: ``jax.jit(codec.batch_encode)`` / ``batch_decode`` on the bundled
sample poses, timed after a warm-up; optionally the same configs through
MMPose's per-sample NumPy loop in the MMPose oracle environment
(``--oracle-python`` / ``$MMPOSE_ORACLE_PYTHON``). Prints a table and writes a
JSON report. See ``benchmarks/bench_codecs.py``.
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

from jaxcodecs.cli import (
    MODES,
    _codec_configs,
    _fmt,
    _input_size,
    _rate,
    _short_error,
    _timed,
    demo_keypoints,
    format_table,
    host_kind,
)

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
        codec = KEYPOINT_CODECS.build(dict(type=item["codec"], **cfg))
        def sample_args(b):
            return [{k: data[name][b] for k, name in arg["dict"].items()} if "dict" in arg
                    else data[arg["array"]][b] for arg in item["args"]]
        n = item["num_samples"]
        samples = [sample_args(b) for b in range(n)]
        encode_all = lambda: [codec.encode(*samples[b]) for b in range(n)]
        encoded = encode_all()
        keys = item["decode_input_keys"]
        def decode_input(e, k):
            value = e[k]
            size = getattr(codec, "heatmap_size", None)
            if k == "heatmaps" and size is not None and len(size) == 3:  # Hand3D decodes (K, D, H, W)
                value = value.reshape(-1, size[2], size[1], size[0])
            return value
        decode_all = lambda: [codec.decode(*[decode_input(e, k) for k in keys]) for e in encoded]
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
            print(f"note: MMPose oracle not run ({_short_error(error)}); column skipped.")
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


def run_bench(args: argparse.Namespace) -> int:
    import jax

    import jaxcodecs

    try:
        selection = _codec_configs(args.codecs)
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
            results.append({"codec": name, "note": "no demo config"})
            table_rows.append([name, "-", "-", "-", "-", "-", "-", "-", "-", "-", "no demo config"])
            continue
        for config, label in zip(configs, labels):
            for mode, compat in MODES:
                try:
                    codec = cls(**config, mmpose_compat=compat)
                    encode = jax.jit(codec.batch_encode)
                    decode = jax.jit(codec.batch_decode)
                    size = _input_size(codec)
                    for batch in batch_sizes:
                        keypoints, visible = demo_keypoints(batch, size, args.seed)
                        enc_args, enc_kwargs, _ = codec.demo_sample(keypoints, visible)
                        encoded, enc_first, enc_step = _timed(
                            lambda *a, kw=enc_kwargs: encode(*a, **kw), enc_args, args.repeats, args.min_time
                        )
                        inputs = [encoded[key] for key in codec.decode_input_keys]
                        _, dec_first, dec_step = _timed(decode, inputs, args.repeats, args.min_time)
                        results.append({
                            "codec": name, "config_label": label, "config": _jsonable(config),
                            "mode": mode, "mmpose_compat": compat, "batch_size": batch,
                            "encode_compile_s": max(0.0, enc_first - enc_step),
                            "decode_compile_s": max(0.0, dec_first - dec_step),
                            "encode_step_s": enc_step, "decode_step_s": dec_step,
                            "encode_samples_per_s": batch / enc_step,
                            "decode_samples_per_s": batch / dec_step,
                        })
                        del encoded, inputs
                except Exception as error:
                    failed += 1
                    results.append({"codec": name, "config_label": label, "mode": mode,
                                    "error": _short_error(error)})
                    continue
            if args.oracle_python:
                index = len(oracle_items)
                try:
                    codec = cls(**config)
                    size = _input_size(codec)
                except Exception:
                    continue
                keypoints, visible = demo_keypoints(args.oracle_samples, size, args.seed)
                enc_args, _, _ = codec.demo_sample(keypoints, visible)
                arg_specs = []
                for j, arg in enumerate(enc_args):  # the same encode arguments, per sample
                    if isinstance(arg, dict):
                        names = {key: f"arg{j}_{key}_{index}" for key in arg}
                        oracle_arrays.update({names[key]: np.asarray(arg[key]) for key in arg})
                        arg_specs.append({"dict": names})
                    else:
                        oracle_arrays[f"arg{j}_{index}"] = np.asarray(arg)
                        arg_specs.append({"array": f"arg{j}_{index}"})
                oracle_items.append({
                    "index": index, "codec": name, "config_label": label,
                    "config": _jsonable(config), "decode_input_keys": list(codec.decode_input_keys),
                    "args": arg_specs, "num_samples": len(keypoints),
                })

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
            _fmt(result["encode_compile_s"], 2), _fmt(result["decode_compile_s"], 2),
            _rate(result["encode_samples_per_s"]), _rate(result["decode_samples_per_s"]),
            _rate(result.get("mmpose_numpy_encode_samples_per_s")),
            _rate(result.get("mmpose_numpy_decode_samples_per_s")), "",
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
            "poses": "jaxcodecs.sample COCO-17 poses in the central 70% of the input, sub-pixel jitter",
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


