"""Compile time of every codec's jitted ``batch_encode`` and ``batch_decode``.

For every registered codec, every example config
(``jaxcodecs.examples.get_examples(name).configs``), both modes
(``mmpose_compat`` True and False) and both directions, the script takes
the example batch of B samples (``examples.example_batch(codec, B)``, B = 64
by default) and times, separately,

* trace + lower: ``lowered = jax.jit(f).lower(*args, **kwargs)``;
* XLA compile: ``lowered.compile()``;

with ``f`` = ``codec.batch_encode`` or ``codec.batch_decode``. JAX's
in-memory caches are cleared before each measurement, so nothing is reused
between rows or rounds; with ``--rounds N`` each row is measured N times
(rounds interleaved over all rows) and the median is reported. The size of
the lowered program (lines of ``lowered.as_text()``) and the number of
kernels of the compiled one (:func:`count_kernels`) are recorded as well:
XLA:CPU emits and compiles every kernel as its own LLVM module at a roughly
fixed cost, so the kernel count, which does not depend on the machine's
load, explains most of a long compilation.

The table is sorted by total time, longest first, and marks the rows over
the budget (``--budget``, 1 s, for trace + lower + compile); ``benchmarks/results/compile-<backend>.json``
holds every row (``--json PATH`` to choose)::

    python benchmarks/compile_times.py
    python benchmarks/compile_times.py --codecs AssociativeEmbedding SPR --rounds 3

``XLA_FLAGS`` of the process is recorded in the JSON (``xla_flags``): the
same script under ``XLA_FLAGS=--xla_cpu_use_fusion_emitters=false`` measures
XLA:CPU's older kernel emitters (benchmarks/NOTES.md, "Compile time").
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

import jax
import jaxlib
import numpy as np

import jaxcodecs
from jaxcodecs import examples
from jaxcodecs.cli._harness import MODES, format_table, select_codecs, short_error

RESULTS_DIR = Path(__file__).resolve().parent / "results"


_FREE_OPS = frozenset({"parameter", "constant", "bitcast", "get-tuple-element", "tuple", "while",
                       "conditional", "call", "after-all", "opt-barrier"})


def count_kernels(hlo_text: str) -> int:
    """The instructions of an optimised HLO module that become kernels of
    their own: those outside fused, reducer and comparator computations,
    less the free ones (parameters, tuples, bitcasts, control flow). XLA:CPU
    emits and compiles each as its own LLVM module, so this count, not the
    size of the program, sets most of the compile time."""
    computations: dict[str, list[str]] = {}
    current = None
    for line in hlo_text.splitlines():
        header = re.match(r"^(?:ENTRY\s+)?%?([\w.\-]+)\s.*\{\s*$", line)
        if header:
            current = computations.setdefault(header.group(1), [])
        elif current is not None and line.strip() not in ("", "}"):
            current.append(line)
    nested = set()
    for lines in computations.values():
        for line in lines:
            for key in ("to_apply", "comparator", "calls"):
                for name in re.findall(key + r"=%?([\w.\-]+)", line):
                    if key != "calls" or " fusion(" in line or "custom-call(" in line:
                        nested.add(name)
    count = 0
    for name, lines in computations.items():
        if name in nested:
            continue
        for line in lines:
            op = re.search(r"=\s*\S+\s+([a-z\-]+)\(", line)
            count += bool(op) and op.group(1) not in _FREE_OPS
    return count


def measure_once(codec, batch, direction: str) -> dict:
    """Trace + lower and compile seconds of one jitted ``batch_<direction>``."""
    if direction == "encode":
        fn, args, kwargs = codec.batch_encode, batch.encode_args, batch.encode_kwargs
    else:
        fn, args, kwargs = codec.batch_decode, batch.decode_args, batch.decode_kwargs
    jax.clear_caches()
    start = time.perf_counter()
    lowered = jax.jit(fn).lower(*args, **kwargs)
    lowered_at = time.perf_counter()
    compiled = lowered.compile()
    compiled_at = time.perf_counter()
    return {"lower_s": lowered_at - start, "compile_s": compiled_at - lowered_at,
            "hlo_lines": lowered.as_text().count("\n"), "kernels": count_kernels(compiled.as_text())}


def build_jobs(names, batch_size: int, seed: int) -> list[dict]:
    """One job per (codec, config, mode, direction), with its codec and batch."""
    jobs = []
    for name, cls, configs, labels in select_codecs(names):
        for config, label in zip(configs, labels):
            for mode, compat in MODES:
                base = {"codec": name, "config_label": label, "mode": mode}
                try:
                    codec = cls(**config, mmpose_compat=compat)
                    batch = examples.example_batch(codec, batch_size, seed=seed, name=name)
                    batch.decode_args  # made now, outside the timed region
                except Exception as error:
                    jobs.append({**base, "direction": "-", "error": short_error(error)})
                    continue
                for direction in ("encode", "decode"):
                    jobs.append({**base, "direction": direction, "codec_obj": codec, "batch": batch})
    return jobs


def run(names, batch_size: int, rounds: int, seed: int) -> list[dict]:
    jobs = build_jobs(names, batch_size, seed)
    samples: list[list[dict]] = [[] for _ in jobs]
    for _ in range(rounds):
        for job, got in zip(jobs, samples):
            if "error" in job:
                continue
            try:
                got.append(measure_once(job["codec_obj"], job["batch"], job["direction"]))
            except Exception as error:
                job["error"] = short_error(error)
    rows = []
    for job, got in zip(jobs, samples):
        row = {k: v for k, v in job.items() if k not in ("codec_obj", "batch")}
        row["batch_size"] = batch_size
        if got and "error" not in row:
            row["lower_s"] = statistics.median(g["lower_s"] for g in got)
            row["compile_s"] = statistics.median(g["compile_s"] for g in got)
            row["total_s"] = statistics.median(g["lower_s"] + g["compile_s"] for g in got)
            row["hlo_lines"] = got[0]["hlo_lines"]
            row["kernels"] = got[0]["kernels"]
            row["rounds"] = len(got)
        rows.append(row)
    return rows


def table(rows: list[dict], budget: float) -> str:
    timed_rows = sorted((r for r in rows if "total_s" in r), key=lambda r: -r["total_s"])
    cells = [[r["codec"], r["config_label"], r["mode"], r["direction"], f"{r['lower_s']:.3f}",
              f"{r['compile_s']:.3f}", f"{r['total_s']:.3f}", str(r["hlo_lines"]), str(r["kernels"]),
              "OVER" if r["total_s"] > budget else ""] for r in timed_rows]
    cells += [[r["codec"], r["config_label"], r["mode"], r["direction"], "-", "-", "-", "-", "-", r["error"]]
              for r in rows if "error" in r]
    headers = ["codec", "config", "mode", "op", "trace+lower s", "compile s", "total s", "HLO lines", "kernels", ""]
    return format_table(headers, cells, right=[False] * 4 + [True] * 5 + [False])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--codecs", nargs="*", default=None, help="registered names (default: all)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=1, help="measurements per row (median)")
    parser.add_argument("--budget", type=float, default=1.0, help="seconds of trace + lower + compile a row may take")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="where to write the results")
    options = parser.parse_args(argv)
    rows = run(options.codecs, options.batch_size, options.rounds, options.seed)
    print(f"jax {jax.__version__} on {jax.default_backend()}, B = {options.batch_size}, "
          f"median of {options.rounds} round(s)\n")
    print(table(rows, options.budget))
    over = [r for r in rows if r.get("total_s", 0.0) > options.budget]
    print(f"\n{len(over)} of {sum('total_s' in r for r in rows)} rows take more than "
          f"{options.budget:g} s to lower and compile; {sum('error' in r for r in rows)} failed")
    path = options.json or RESULTS_DIR / f"compile-{jax.default_backend()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "what": "seconds of jax.jit(f).lower(*args) (trace + lower) and of .compile(), "
                "f = codec.batch_encode / batch_decode on the example batch",
        "backend": jax.default_backend(), "device_kind": jax.devices()[0].device_kind,
        "jax_version": jax.__version__, "jaxlib_version": jaxlib.__version__,
        "codecs": list(jaxcodecs.list_codecs()), "numpy_version": np.__version__,
        "xla_flags": os.environ.get("XLA_FLAGS", ""), "rounds": options.rounds,
        "rows": rows}, indent=1) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
