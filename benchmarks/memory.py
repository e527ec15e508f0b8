"""Memory of the jitted batch encoders that draw maps, from XLA's own account.

For each encoder that produces heatmaps (MSRAHeatmap plain and DARK,
UDPHeatmap gaussian and combined, MegviiHeatmap, IntegralRegressionLabel,
the SimCCLabel vectors and Hand3DHeatmap's volumes), in both modes and at
each batch size B (1024 and 64 by default), ``jax.jit(codec.batch_encode)``
is lowered and compiled for the example arguments of B samples
(:mod:`jaxcodecs.examples`: 17 keypoints, 192x256 input, 48x64 maps, SimCC
split ratio 2; Hand3D at 32x32x32 voxels) and
``compiled.memory_analysis()`` gives the sizes XLA assigned: arguments,
outputs, temporaries (every buffer that is neither), aliasing and, where
reported, the peak. Nothing is executed, so B = 1024 Hand3D volumes (2.3 GB)
cost only the compilation.

The target of the design: an encoder allocates at most twice its output,
i.e. ``temp / output <= 1``. The table and ``benchmarks/results/memory-<backend>.json``
(``memory-cpu.json`` here; the sizes depend on the backend, not on the
number of cores; ``--json PATH`` to choose) give, per row, the sizes in MB
and the ratios ``temp / output`` and ``(output + temp) / output``::

    python benchmarks/memory.py                    # B = 1024 and 64
    python benchmarks/memory.py --batch-sizes 256
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import jax
import jaxlib
import numpy as np

import jaxcodecs
from jaxcodecs.cli._harness import format_table
from jaxcodecs.examples import example_batch

RESULTS_DIR = Path(__file__).resolve().parent / "results"
MB = 1e6

SIZES = {"input_size": (192, 256), "heatmap_size": (48, 64)}
HAND3D = {"image_size": (256, 256), "heatmap_size": (32, 32, 32), "depth_size": 32,
          "root_heatmap_size": 32, "heatmap_size_root": 32}

#: (codec type, label, constructor arguments) of every measured encoder.
ENCODERS = [
    ("MSRAHeatmap", "plain sigma=2", {**SIZES, "sigma": 2.0}),
    ("MSRAHeatmap", "DARK sigma=2", {**SIZES, "sigma": 2.0, "unbiased": True}),
    ("UDPHeatmap", "gaussian", {**SIZES, "heatmap_type": "gaussian"}),
    ("UDPHeatmap", "combined", {**SIZES, "heatmap_type": "combined"}),
    ("MegviiHeatmap", "k=11", {**SIZES, "kernel_size": 11}),
    ("IntegralRegressionLabel", "sigma=2", {**SIZES, "sigma": 2.0}),
    ("SimCCLabel", "gaussian ratio 2", {"input_size": (192, 256), "sigma": (4.9, 5.66)}),
    ("SimCCLabel", "standard lsw=0.1", {"input_size": (192, 256), "smoothing_type": "standard",
                                        "label_smooth_weight": 0.1}),
    ("Hand3DHeatmap", "32^3 sigma=2", {**HAND3D, "sigma": 2.0}),
    ("AssociativeEmbedding", "256->64 sigma=2, 2 people", {"input_size": (256, 256), "heatmap_size": (64, 64),
                                                            "sigma": 2.0}),
    ("SPR", "256->64 root only", {"input_size": (256, 256), "heatmap_size": (64, 64)}),
    ("SPR", "256->64 keypoint heatmaps", {"input_size": (256, 256), "heatmap_size": (64, 64),
                                          "sigma": (4.0, 2.0), "generate_keypoint_heatmaps": True}),
    ("DecoupledHeatmap", "256->64, 4 instance rows, 2 people", {"input_size": (256, 256), "heatmap_size": (64, 64),
                                                                "encode_max_instances": 4}),
]


def abstract(tree):
    """Shapes and dtypes only (``jax.ShapeDtypeStruct``) of the arrays of ``tree``."""
    return jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(np.shape(x), np.asarray(x).dtype), tree)


def memory_row(name: str, label: str, config: dict, mmpose_compat: bool, batch: int) -> dict:
    """The sizes XLA assigns to ``jax.jit(codec.batch_encode)`` for ``batch`` samples."""
    codec = jaxcodecs.build({"type": name, **config, "mmpose_compat": mmpose_compat})
    example = example_batch(codec, batch)
    args, kwargs = abstract(example.encode_args), abstract(example.encode_kwargs)
    stats = jax.jit(codec.batch_encode).lower(*args, **kwargs).compile().memory_analysis()
    if stats is None:
        raise RuntimeError(f"the {jax.default_backend()} backend reports no memory analysis")
    row = {"codec": name, "config": label, "mode": "mmpose" if mmpose_compat else "exact", "batch": batch}
    for field in ("argument", "output", "temp", "alias"):
        row[f"{field}_bytes"] = int(getattr(stats, f"{field}_size_in_bytes"))
    peak = getattr(stats, "peak_memory_in_bytes", None)
    row["peak_bytes"] = None if peak is None else int(peak)
    row["temp_over_output"] = row["temp_bytes"] / row["output_bytes"]
    row["total_over_output"] = (row["output_bytes"] + row["temp_bytes"]) / row["output_bytes"]
    return row


def measure(batch_sizes) -> list[dict]:
    return [memory_row(name, label, config, compat, batch)
            for batch in batch_sizes for name, label, config in ENCODERS for compat in (True, False)]


def table(rows: list[dict]) -> str:
    headers = ["codec", "config", "mode", "B", "output MB", "temp MB", "args MB", "peak MB",
               "temp/output", "(out+temp)/out"]
    cells = [[r["codec"], r["config"], r["mode"], str(r["batch"]), f"{r['output_bytes'] / MB:.1f}",
              f"{r['temp_bytes'] / MB:.2f}", f"{r['argument_bytes'] / MB:.3f}",
              "" if r["peak_bytes"] is None else f"{r['peak_bytes'] / MB:.1f}",
              f"{r['temp_over_output']:.3f}", f"{r['total_over_output']:.3f}"] for r in rows]
    return format_table(headers, cells, right=[False, False, False] + [True] * 7)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1024, 64])
    parser.add_argument("--json", type=Path, default=None, help="where to write the results")
    options = parser.parse_args(argv)
    rows = measure(options.batch_sizes)
    print(table(rows))
    worst = max(rows, key=lambda r: r["temp_over_output"])
    print(f"\nlargest temp/output: {worst['temp_over_output']:.3f} ({worst['codec']} {worst['config']}, "
          f"{worst['mode']}, B={worst['batch']}); target <= 1")
    path = options.json or RESULTS_DIR / f"memory-{jax.default_backend()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    device = jax.devices()[0]
    path.write_text(json.dumps({
        "what": "compiled.memory_analysis() of jax.jit(codec.batch_encode) on the example arguments",
        "backend": jax.default_backend(), "device_kind": device.device_kind,
        "jax_version": jax.__version__, "jaxlib_version": jaxlib.__version__, "rows": rows}, indent=1) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
