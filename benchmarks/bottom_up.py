"""Speed of the bottom-up codecs in the settings their users run, against
MMPose's own loops.

* AssociativeEmbedding ``batch_decode``: B images of 128x128 heatmaps and
  tag maps (512x512 input, 17 keypoints, 5 people, tag dimension 1,
  ``decode_topk=30``, ``decode_max_instances=30``), from the codec's
  encoded heatmaps and tags painted per person; MMPose's column is its
  ``batch_decode`` on the same torch tensors.
* SPR ``batch_encode``: B images of 5 people, 512x512 -> 128x128 (with and
  without keypoint heatmaps); MMPose's column is its per-sample ``encode``
  loop over the same keypoints.
* DecoupledHeatmap (CID) ``batch_encode``: B images of 5 people, 512x512 ->
  128x128, ``encode_max_instances=30`` (CID's COCO configuration), root
  offsets drawn from per-sample keys; MMPose's column is its per-sample
  ``encode`` loop (drawing from the global generators).

jaxcodecs is timed jitted after a warm-up (median of repeats); the first
call's time is reported as the compile time. MMPose runs in the MMPose
oracle environment (``--oracle-python`` or ``$MMPOSE_ORACLE_PYTHON``; see
``../shared/mmpose-oracle/setup.sh``) in a subprocess on the same arrays;
without it the column is left out. Ratios come from one run on one machine::

    python benchmarks/bottom_up.py --oracle-python /path/to/oracle/bin/python

Writes ``benchmarks/results/bottom_up-<backend>.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np

import jaxcodecs
from jaxcodecs._example_entries_multi import painted_tags
from jaxcodecs.cli._harness import format_table

RESULTS_DIR = Path(__file__).resolve().parent / "results"
INPUT, MAP, JOINTS, PEOPLE = 512, 128, 17, 5
ORDER = list(range(JOINTS))

AE_CONFIG = {"input_size": (INPUT, INPUT), "heatmap_size": (MAP, MAP), "decode_keypoint_order": ORDER,
             "decode_topk": 30, "decode_max_instances": 30}
CID_CONFIG = {"input_size": (INPUT, INPUT), "heatmap_size": (MAP, MAP), "encode_max_instances": 30}
SPR_CONFIGS = {
    "root only": {"input_size": (INPUT, INPUT), "heatmap_size": (MAP, MAP)},
    "keypoint heatmaps": {"input_size": (INPUT, INPUT), "heatmap_size": (MAP, MAP), "sigma": (4.0, 2.0),
                          "generate_keypoint_heatmaps": True},
}

_ORACLE = r'''
import json, statistics, sys, time, warnings
warnings.simplefilter("ignore")
import numpy as np, torch
from mmpose.codecs import AssociativeEmbedding, DecoupledHeatmap, SPR
spec = json.load(open(sys.argv[1])); data = np.load(sys.argv[2]); out = {}
def timed(fn, repeats):
    fn(); times = []
    for _ in range(repeats):
        start = time.perf_counter(); fn(); times.append(time.perf_counter() - start)
    return statistics.median(times)
for row in spec["rows"]:
    cfg = {k: tuple(v) if isinstance(v, list) and k != "decode_keypoint_order" else v
           for k, v in row["config"].items()}
    if row["codec"] == "AssociativeEmbedding":
        codec = AssociativeEmbedding(**cfg)
        hm = torch.from_numpy(data[row["key"] + "_heatmaps"]); tags = torch.from_numpy(data[row["key"] + "_tags"])
        fn = lambda: codec.batch_decode(hm, tags)
    else:
        codec = (SPR if row["codec"] == "SPR" else DecoupledHeatmap)(**cfg)
        kp = data[row["key"] + "_keypoints"]; vis = data[row["key"] + "_visible"]
        np.random.seed(0)
        fn = lambda: [codec.encode(kp[b], vis[b]) for b in range(len(kp))]
    out[row["name"]] = timed(fn, spec["repeats"])
json.dump(out, open(sys.argv[3], "w"))
'''


def people(rng: np.random.Generator, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """``(B, 5, 17, 2)`` people: keypoints of each type on distinct cells of
    a coarse grid (well apart, as NMS needs), jittered, and visibility."""
    cells = 8
    step = INPUT / cells
    keypoints = np.zeros((batch, PEOPLE, JOINTS, 2), np.float32)
    for b in range(batch):
        for k in range(JOINTS):
            chosen = rng.choice(cells * cells, PEOPLE, replace=False)
            grid = np.stack([chosen % cells, chosen // cells], -1) * step + step / 2
            keypoints[b, :, k] = grid + rng.uniform(-step / 4, step / 4, (PEOPLE, 2))
    return keypoints, np.ones((batch, PEOPLE, JOINTS), np.float32)


def timed(fn, repeats: int) -> tuple[float, float]:
    """(first call, median of ``repeats`` later calls) in seconds."""
    start = time.perf_counter()
    jax.block_until_ready(fn())
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return first, statistics.median(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ae-batch", type=int, nargs="+", default=[8])
    parser.add_argument("--spr-batch", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--cid-batch", type=int, nargs="+", default=[16])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--oracle-python", default=os.environ.get("MMPOSE_ORACLE_PYTHON"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    rows, arrays, oracle_rows = [], {}, []

    ae = jaxcodecs.AssociativeEmbedding(**AE_CONFIG)
    for batch in args.ae_batch:
        keypoints, visible = people(rng, batch)
        heatmaps = np.asarray(jax.jit(ae.batch_encode)(keypoints, visible)["heatmaps"])
        tags = painted_tags(ae, keypoints, visible) + rng.normal(0, 0.1, (batch, JOINTS, MAP, MAP)).astype(np.float32)
        fn = jax.jit(ae.batch_decode)
        first, median = timed(lambda: fn(heatmaps, tags), args.repeats)
        found = np.asarray(fn(heatmaps, tags)[3]).sum(axis=1)
        name = f"AssociativeEmbedding batch_decode B={batch}"
        rows.append({"name": name, "compile_s": first - median, "seconds": median,
                     "people_found": found.tolist()})
        key = f"ae{batch}"
        arrays[key + "_heatmaps"], arrays[key + "_tags"] = heatmaps, tags
        oracle_rows.append({"name": name, "codec": "AssociativeEmbedding", "config": AE_CONFIG, "key": key})

    for label, config in SPR_CONFIGS.items():
        spr = jaxcodecs.SPR(**config)
        fn = jax.jit(spr.batch_encode)
        for batch in args.spr_batch:
            keypoints, visible = people(rng, batch)
            first, median = timed(lambda: fn(keypoints, visible), args.repeats)
            out_mb = sum(np.asarray(v).nbytes for v in fn(keypoints, visible).values()) / 1e6
            name = f"SPR batch_encode {label} B={batch}"
            rows.append({"name": name, "compile_s": first - median, "seconds": median, "targets_mb": out_mb})
            key = f"spr{len(oracle_rows)}"
            arrays[key + "_keypoints"], arrays[key + "_visible"] = keypoints, visible
            oracle_rows.append({"name": name, "codec": "SPR", "config": config, "key": key})

    cid = jaxcodecs.DecoupledHeatmap(**CID_CONFIG)
    fn = jax.jit(cid.batch_encode)
    for batch in args.cid_batch:
        keypoints, visible = people(rng, batch)
        keys = jax.random.split(jax.random.key(0), batch)
        first, median = timed(lambda: fn(keypoints, visible, key=keys), args.repeats)
        out = fn(keypoints, visible, key=keys)
        out_mb = sum(np.asarray(v).nbytes for v in out.values()) / 1e6
        name = f"DecoupledHeatmap batch_encode B={batch}"
        rows.append({"name": name, "compile_s": first - median, "seconds": median, "targets_mb": out_mb,
                     "instances": np.asarray(out["instance_valid"]).sum(axis=1).tolist()})
        key = f"cid{batch}"
        arrays[key + "_keypoints"], arrays[key + "_visible"] = keypoints, visible
        oracle_rows.append({"name": name, "codec": "DecoupledHeatmap", "config": CID_CONFIG, "key": key})

    mmpose = _run_oracle(args.oracle_python, oracle_rows, arrays, args.repeats) if args.oracle_python else {}
    for row in rows:
        if row["name"] in mmpose:
            row["mmpose_seconds"] = mmpose[row["name"]]
            row["speedup"] = mmpose[row["name"]] / row["seconds"]
    table = [[r["name"], f"{r['seconds'] * 1e3:.2f}", f"{r['compile_s']:.2f}",
              f"{r['mmpose_seconds'] * 1e3:.1f}" if "mmpose_seconds" in r else "-",
              f"{r['speedup']:.1f}x" if "speedup" in r else "-"] for r in rows]
    print(format_table(["case", "ms / call", "compile s", "MMPose ms", "speed-up"], table,
                       [False, True, True, True, True]))
    path = args.json or RESULTS_DIR / f"bottom_up-{jax.default_backend()}.json"
    report = {"backend": jax.default_backend(), "devices": [str(d) for d in jax.devices()],
              "cpu_count": os.cpu_count(), "jax": jax.__version__, "rows": rows}
    path.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {path}")
    return 0


def _run_oracle(python: str, rows: list, arrays: dict, repeats: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "oracle.py").write_text(_ORACLE)
        (tmp / "spec.json").write_text(json.dumps({"rows": rows, "repeats": repeats}))
        np.savez(tmp / "data.npz", **arrays)
        done = subprocess.run([python, str(tmp / "oracle.py"), str(tmp / "spec.json"), str(tmp / "data.npz"),
                               str(tmp / "out.json")], capture_output=True, text=True)
        if done.returncode != 0:
            print(f"note: MMPose oracle failed: {done.stderr.strip().splitlines()[-1:]}; column skipped.")
            return {}
        return json.loads((tmp / "out.json").read_text())


if __name__ == "__main__":
    sys.exit(main())
