"""Eager codec calls: one cached jitted program (the default) against op by op.

For every registered codec and example configuration (MMPose mode), one
sample of the example batch is encoded and decoded eagerly (outside any
``jax.jit``): the first call (which compiles) and the fastest of five later
calls. ``routed`` is what a user gets (``jaxcodecs._eager``: one program
per configuration and shape); ``op_by_op`` calls the methods without it
(``jaxcodecs._eager.op_by_op``), as every eager call ran before. Each mode
runs in a fresh interpreter (first calls fill process-wide caches), the
modes interleaved over ``--rounds``; no persistent compilation cache.

    python benchmarks/eager_calls.py --rounds 2   # writes results/eager-cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def measure(mode: str) -> list[dict]:
    import jax
    import numpy as np

    import jaxcodecs
    from jaxcodecs import examples
    from jaxcodecs._eager import op_by_op

    def one(tree):
        return jax.tree_util.tree_map(lambda a: np.asarray(a)[0] if np.ndim(a) else a, tree)

    rows = []
    for name in jaxcodecs.list_codecs():
        for index, config in enumerate(examples.get_examples(name).configs):
            codec = jaxcodecs.build({"type": name, **config})
            batch = examples.example_batch(codec, 1, seed=0, name=name)
            calls = (("encode", one(list(batch.encode_args)), one(dict(batch.encode_kwargs))),
                     ("decode", one(list(batch.decode_args)), one(dict(batch.decode_kwargs))))
            for method, args, kwargs in calls:
                fn = getattr(codec, method)
                fn = op_by_op(fn) if mode == "op_by_op" else fn
                start = time.perf_counter()
                jax.block_until_ready(fn(*args, **kwargs))
                first = time.perf_counter() - start
                later = []
                for _ in range(5):
                    start = time.perf_counter()
                    jax.block_until_ready(fn(*args, **kwargs))
                    later.append(time.perf_counter() - start)
                rows.append({"codec": name, "config": index, "method": method, "mode": mode,
                             "first_s": first, "later_ms": 1e3 * min(later)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "eager-cpu.json")
    parser.add_argument("--worker", choices=("routed", "op_by_op"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        json.dump(measure(args.worker), sys.stdout)
        return
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    rows = []
    for round_ in range(args.rounds):
        for mode in ("op_by_op", "routed"):
            out = subprocess.run([sys.executable, __file__, "--worker", mode], env=env, check=True,
                                 capture_output=True, text=True).stdout
            rows += [{**row, "round": round_} for row in json.loads(out)]
    summary = {}
    for mode in ("op_by_op", "routed"):
        for round_ in range(args.rounds):
            mine = [r for r in rows if r["mode"] == mode and r["round"] == round_]
            later = sorted(r["later_ms"] for r in mine)
            summary.setdefault(mode, []).append({
                "first_calls_total_s": round(sum(r["first_s"] for r in mine), 2),
                "first_call_max_s": round(max(r["first_s"] for r in mine), 2),
                "later_median_ms": round(later[len(later) // 2], 3),
                "later_max_ms": round(later[-1], 2)})
    for mode, per_round in summary.items():
        print(mode, per_round)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"device": "cpu", "rounds": args.rounds, "summary": summary, "rows": rows},
                                   indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
