"""What every codec's batch programs cost on a GPU, predicted without one.

XLA compiles for a GPU it is only told about (a target description, e.g.
``benchmarks/gpu_targets/h200.txtpb``): ``jax.experimental.topologies`` gives
devices of that kind, and ``jax.jit(...).lower(...).compile()`` runs XLA:GPU's
whole pipeline (fusion, scheduling, code generation) on this machine. For
each codec, each example config (:mod:`jaxcodecs.examples`), each mode and
each batch size B, ``batch_encode`` and ``batch_decode`` are compiled so, and
the optimised HLO is read kernel by kernel:

* **kernels** and **launches**: the kernels of the program, and how many
  run in one call (a while loop's body as many times as XLA knows it runs;
  a loop whose count depends on the data, once, and the row says so);
* **traffic**: the bytes each kernel reads and writes in device memory,
  summed over the launches. A kernel reads each operand once, except that
  an operand it only slices or gathers from (through views and elementwise
  instructions, which a kernel computes where it needs them) costs what it
  takes, and one
  it updates in place (a scatter, a dynamic update) costs the update; it
  writes its outputs. The branches of a conditional (rare paths, e.g.
  DARK's whole-map fallback) are reported apart (``branch_bytes``, the
  largest). L2 hits are not modelled: every byte counts as HBM traffic;
* **floor**: the bytes no program can avoid: the outputs of an encoder, the
  inputs of a decoder (``minimum_bytes``), and ``traffic / minimum``.

A step is predicted as ``overhead + traffic / bandwidth`` with the two
constants fitted (least squares) to six programs measured on an H200
(``CALIBRATION``: the throughputs issue 16 reports at B = 1024, against
this model's traffic for the same programs at that revision; every
prediction within 18 % of its measurement). ``floor_fraction`` is the
predicted step of the floor (its bytes alone) over the program's: the
figure ``python -m jaxcodecs bench`` reports as ``floor`` / ``dec floor``
when it runs on the device. ``bandwidth_fraction`` is the floor's bytes per
predicted step over the target's peak bandwidth; ``kernel_bandwidth_fraction``
the same without the fitted per-call overhead (the kernels alone, at the
fitted rate).

``--shard-batch`` compiles the programs with their batch axis sharded over
every device of ``--topology`` (e.g. ``1x1x4``: four GPUs); the figures are
then one device's. ``--platform tpu --topology v5e:2x2`` compiles for a TPU
slice instead (libtpu's compiler; kernels and traffic, no prediction: the
calibration is a GPU's).

Needs the CUDA plugin of the installed jaxlib (its compiler; no GPU, no
driver), or for TPUs the TPU runtime of the installed jax::

    pip install "jax-cuda12-plugin[with-cuda]==$(python -c 'import jaxlib; print(jaxlib.__version__)')"
    python benchmarks/gpu_model.py                       # H200, B = 1024
    python benchmarks/gpu_model.py --batch-sizes 64 1024 --modes mmpose exact
    python benchmarks/gpu_model.py --topology 1x1x4 --shard-batch
    pip install "jax[tpu]==$(python -c 'import jax; print(jax.__version__)')"
    python benchmarks/gpu_model.py --platform tpu --topology v5e:2x2 --shard-batch

JAX is started on the CPU (``JAX_PLATFORMS=cpu``), so the compilers never
look for a device. Results: ``benchmarks/results/gpu-model-<target>.json``
(``tpu-model-<topology>.json``; ``-sharded`` with ``--shard-batch``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

#: Bytes per element of XLA's element types.
ELEMENT_BYTES = {
    "pred": 1, "s8": 1, "u8": 1, "s16": 2, "u16": 2, "f16": 2, "bf16": 2,
    "s32": 4, "u32": 4, "f32": 4, "s64": 8, "u64": 8, "f64": 8, "c64": 8, "c128": 16,
}
_ARRAY = re.compile(r"\b(" + "|".join(ELEMENT_BYTES) + r")\[([0-9,]*)\]")
_INSTRUCTION = re.compile(r"^\s*(?:ROOT )?%(\S+) = (.+?) ([a-z][a-z0-9\-]*)\((.*)$")
#: Instructions that launch nothing (views, bookkeeping).
NOT_KERNELS = frozenset({
    "parameter", "constant", "tuple", "get-tuple-element", "bitcast", "after-all",
    "partition-id", "replica-id", "opt-barrier", "add-dependency",
})
_PARTIAL_READS = frozenset({"slice", "dynamic-slice", "gather"})
#: Views and index remappings: inside a kernel an element of their result
#: is one element of their operand (or padding), read only where used.
_VIEWS = frozenset({"bitcast", "reshape", "pad", "reverse", "transpose", "copy", "concatenate"})
#: Elementwise instructions: inside a kernel they are computed only where
#: their result is used, so a value sliced after them is read as sliced.
ELEMENTWISE = frozenset({
    "abs", "add", "and", "ceil", "clamp", "compare", "convert", "cosine", "divide", "exponential",
    "floor", "is-finite", "log", "maximum", "minimum", "multiply", "negate", "not", "or", "power",
    "round-nearest-even", "rsqrt", "select", "sign", "sine", "sqrt", "subtract", "tanh", "xor",
})
_IN_PLACE = frozenset({"dynamic-update-slice", "scatter"})

#: (program at revision 1f0750f, its modelled traffic in MB at B = 1024,
#: samples/s measured on an NVIDIA H200 at B = 1024, from issue 16).
CALIBRATION = (
    ("MSRAHeatmap encode", 230.4, 2.9e6),
    ("MSRAHeatmap (DARK) decode", 1299.0, 1.2e6),
    ("MegviiHeatmap decode", 1725.5, 1.1e6),
    ("UDPHeatmap combined encode", 658.0, 1.5e6),  # reported as 1.3-1.7 M
    ("UDPHeatmap combined decode", 3388.4, 0.54e6),
    ("SimCCLabel (DARK) decode", 149.3, 3.0e6),
)
CALIBRATION_BATCH = 1024


# ------------------------------------------------------------------ HLO
def array_bytes(hlo_type: str) -> int:
    """Bytes of every array in an HLO type (``f32[8,3]{1,0}``, tuples summed)."""
    return sum(ELEMENT_BYTES[kind] * int(np.prod([int(d) for d in dims.split(",") if d] or [1]))
               for kind, dims in _ARRAY.findall(hlo_type))


def _operands(rest: str) -> tuple[list[str], str]:
    """The operand names of an instruction (``rest`` follows its opening
    parenthesis) and the attributes after them."""
    depth = 1
    for i, char in enumerate(rest):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return re.findall(r"%([\w.\-]+)", rest[:i]), rest[i + 1:]
    return re.findall(r"%([\w.\-]+)", rest), ""


def parse_module(text: str) -> tuple[dict[str, list[tuple]], str]:
    """``{computation: [(name, type, opcode, operands, attributes), ...]}``
    of an HLO module's text (a parameter's attributes start with its
    number), and the name of its entry computation."""
    computations: dict[str, list[tuple]] = {}
    entry, current = "", None
    for line in text.splitlines():
        header = re.match(r"^(ENTRY )?%([\w.\-]+) .*\{\s*$", line)
        if header:
            current = header.group(2)
            computations[current] = []
            entry = current if header.group(1) else entry
        elif line.strip() == "}":
            current = None
        elif current is not None:
            match = _INSTRUCTION.match(line)
            if match:
                operands, attributes = _operands(match.group(4))
                if match.group(3) == "parameter":
                    attributes = match.group(4)
                computations[current].append((match.group(1), match.group(2), match.group(3), operands, attributes))
    return computations, entry


def _fused_traffic(body: list[tuple], operand_bytes: list[int], output_bytes: int) -> tuple[int, int]:
    """Bytes a fused kernel reads and writes, from its computation ``body``."""
    by_name = {ins[0]: ins for ins in body}
    params = {name: int(re.match(r"\d+", attributes).group()) for name, _, opcode, _, attributes in body
              if opcode == "parameter" and re.match(r"\d+", attributes)}
    users: dict[str, list[tuple]] = {}
    for ins in body:
        for operand in ins[3]:
            users.setdefault(operand, []).append(ins)
    root = body[-1] if body else None
    in_place = root is not None and root[2] in _IN_PLACE and root[3]

    def taken(name: str) -> int | None:  # bytes taken through slices, or None: all
        if name not in users:
            return None  # an output of the kernel: all of it
        total = 0
        for user in users[name]:
            if user[2] in _PARTIAL_READS and user[3][0] == name:
                sub = taken(user[0])  # a slice of a slice, a gather from a slice: what they take
                total += array_bytes(user[1]) if sub is None else min(sub, array_bytes(user[1]))
            elif user[2] in _VIEWS or (user[2] in ELEMENTWISE and array_bytes(user[1]) > 0):
                sub = taken(user[0])
                if sub is None:
                    return None
                total += sub
            elif in_place and user is root and user[3][0] == name:
                continue  # the buffer updated in place is not read
            else:
                return None
        return total

    read = 0
    for name, index in params.items():
        if index >= len(operand_bytes):
            continue
        part = taken(name)
        read += operand_bytes[index] if part is None else min(part, operand_bytes[index])
    if in_place:
        update = by_name.get(root[3][-1] if root[2] == "scatter" else root[3][1])
        written = array_bytes(update[1]) if update else output_bytes
    else:
        written = output_bytes
    return read, written


def kernel_traffic(text: str) -> dict:
    """The kernels of an optimised HLO module and their device-memory traffic.

    Returns ``{"kernels": [(opcode, name, read, written, where, times), ...],
    "traffic", "launches", "branch_bytes", "loop_bytes", "loops",
    "unknown_loops"}`` (``launches``: kernels run per call, loops' counted
    ``times``, branches' left out).
    ``where`` is ``"main"``, ``"loop"`` (a while loop's body, run ``times``
    times: the product of the trip counts XLA knows, 1 for a loop whose
    count depends on the data) or ``"branch"``. ``traffic`` sums the main
    kernels and the loops' kernels times their counts; ``branch_bytes`` is
    the largest branch of any conditional (counted once), ``loop_bytes`` the
    loops' share of ``traffic``.
    """
    computations, entry = parse_module(text)
    shapes = {ins[0]: ins[1] for body in computations.values() for ins in body}
    kernels: list[tuple] = []
    branches: list[int] = []
    counts = {"loops": 0, "unknown_loops": 0}

    def walk(body: list[tuple], where: str, times: int) -> int:
        total = 0
        for name, hlo_type, opcode, operands, attributes in body:
            if opcode in NOT_KERNELS:
                continue
            if opcode in ("while", "conditional", "call"):
                called = re.findall(r"(?:body|condition|branch_computations|to_apply|true_computation|"
                                    r"false_computation)=(\{[^}]*\}|%[\w.\-]+)", attributes)
                names = [n for group in called for n in re.findall(r"%([\w.\-]+)", group)]
                if opcode == "while":
                    trips = re.search(r'"known_trip_count":\{"n":"(\d+)"', attributes)
                    counts["loops"] += 1
                    counts["unknown_loops"] += trips is None
                    inner = times * (int(trips.group(1)) if trips else 1)
                    total += sum(walk(computations.get(sub, []), "loop", inner) for sub in names)
                elif opcode == "conditional":
                    branches.append(max([walk(computations.get(sub, []), "branch", times) for sub in names] or [0]))
                else:
                    total += sum(walk(computations.get(sub, []), where, times) for sub in names)
                continue
            operand_bytes = [array_bytes(shapes.get(op, "")) for op in operands]
            written = array_bytes(hlo_type)
            fused = re.search(r"calls=%([\w.\-]+)", attributes)
            if opcode == "fusion" and fused and fused.group(1) in computations:
                read, written = _fused_traffic(computations[fused.group(1)], operand_bytes, written)
            elif opcode in _PARTIAL_READS:
                read = written + sum(operand_bytes[1:])
            elif opcode in _IN_PLACE:
                update = operand_bytes[-1] if opcode == "scatter" else operand_bytes[1]
                read, written = update + sum(operand_bytes[2:-1] if opcode == "scatter" else operand_bytes[2:]), update
            else:
                read = sum(operand_bytes)
            kernels.append((opcode, name, read, written, where, times))
            total += times * (read + written) if where != "branch" else read + written
        return total

    traffic = walk(computations.get(entry, []), "main", 1)
    return {
        "kernels": kernels, "traffic": traffic, **counts,
        "launches": sum(t for *_, where, t in kernels if where != "branch"),
        "branch_bytes": max(branches or [0]),
        "loop_bytes": sum(t * (r + w) for _, _, r, w, where, t in kernels if where == "loop"),
    }


# ------------------------------------------------------------------ model
def fit_line(traffic_bytes, steps_s) -> tuple[float, float]:
    """``(overhead_s, bytes_per_s)``: the least-squares line ``step =
    overhead + traffic / bytes_per_s``."""
    traffic, steps = np.asarray(traffic_bytes, float), np.asarray(steps_s, float)
    (overhead, per_byte), *_ = np.linalg.lstsq(np.c_[np.ones_like(traffic), traffic], steps, rcond=None)
    return float(overhead), float(1.0 / per_byte)


def fit_calibration(calibration=CALIBRATION, batch_size: int = CALIBRATION_BATCH) -> tuple[float, float]:
    """The line through the measured step times against the modelled traffic."""
    return fit_line([mb * 1e6 for _, mb, _ in calibration], [batch_size / rate for _, _, rate in calibration])


def compare(model: dict, bench: dict) -> tuple[list[dict], tuple[float, float] | None]:
    """The model's rows against ``python -m jaxcodecs bench``'s measured
    ones (the same codec, config, mode and batch size; the default
    allocator's where both ran): predicted and measured steps, and the line
    refitted to the measurements (None with fewer than two)."""
    def key(row, mode):
        return row["codec"], json.dumps(row["config"], sort_keys=True), mode, row["batch_size"]

    measured = {}
    for row in bench.get("results", []):
        if "error" not in row and row.get("allocator", "default") == "default":
            measured.setdefault(key(row, row["mode"]), row)
    rows = []
    for row in model["rows"]:
        found = measured.get(key(row, row["mode"]))
        step = found and found.get(f"{row['program']}_step_s")
        if "error" in row or not step:
            continue
        predicted = row.get("predicted_step_s")
        rows.append({"codec": row["codec"], "config": found.get("config_label", row["config_index"]),
                     "mode": row["mode"], "batch_size": row["batch_size"], "program": row["program"],
                     "traffic": row["traffic"], "predicted_step_s": predicted, "measured_step_s": step,
                     "measured_over_predicted": step / predicted if predicted else None})
    exact = [r for r in rows if r["traffic"] > 0]
    refit = fit_line([r["traffic"] for r in exact], [r["measured_step_s"] for r in exact]) if len(exact) > 1 else None
    return rows, refit


def compare_markdown(rows: list[dict], refit, model: dict) -> str:
    """The comparison as a Markdown table, the fits first."""
    fitted = model.get("model") or {}
    lines = [f"model: step = {1e3 * fitted.get('overhead_s', float('nan')):.3f} ms + traffic / "
             f"{fitted.get('bandwidth_bytes_per_s', float('nan')) / 1e12:.2f} TB/s (calibration)",
             "refit to these measurements: " + (f"step = {1e3 * refit[0]:.3f} ms + traffic / {refit[1] / 1e12:.2f} TB/s"
                                                if refit else "too few rows"),
             "", "| codec | config | mode | B | program | traffic MB | predicted ms | measured ms | measured / predicted |",
             "| --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: |"]
    for r in rows:
        ratio, predicted = r["measured_over_predicted"], r["predicted_step_s"]
        lines.append(f"| {r['codec']} | {r['config']} | {r['mode']} | {r['batch_size']} | {r['program']} | "
                     f"{r['traffic'] / 1e6:.1f} | {f'{1e3 * predicted:.3f}' if predicted else '-'} | "
                     f"{1e3 * r['measured_step_s']:.3f} | {f'{ratio:.2f}' if ratio else '-'} |")
    return "\n".join(lines) + "\n"


def predict(row: dict, overhead: float, bandwidth: float, peak: float) -> dict:
    """A row's predicted step, samples/s and floor fractions."""
    step = overhead + row["traffic"] / bandwidth
    floor = overhead + row["minimum_bytes"] / bandwidth
    kernels = row["traffic"] / bandwidth
    return {
        # A loop whose trip count depends on the data counted once: a lower bound.
        "prediction": "lower bound" if row.get("unknown_loops") else "model",
        "predicted_step_s": step,
        "predicted_samples_per_s": row["batch_size"] / step,
        "floor_fraction": floor / step,
        "bandwidth_fraction": row["minimum_bytes"] / step / peak if peak else None,
        # The kernels alone, without the fitted per-call overhead.
        "kernel_step_s": kernels,
        "kernel_bandwidth_fraction": row["minimum_bytes"] / kernels / peak if peak and kernels else None,
    }


# ------------------------------------------------------------------ compile
def target_devices(target: Path, platform: str = "cuda", topology: str | None = None):
    """Devices of the GPU described by ``target`` (``platform="cuda"``,
    ``topology`` e.g. ``"1x1x4"`` for four of them) or of a TPU slice
    (``platform="tpu"``, ``topology`` e.g. ``"v5e:2x2"``); no device needed."""
    from jax.experimental import topologies

    try:
        if platform == "tpu":
            os.environ.setdefault("TPU_ACCELERATOR_TYPE", "v5litepod-4")  # libtpu asks; compiling needs none
            return topologies.get_topology_desc(topology or "v5e:2x2", "tpu").devices
        return topologies.get_topology_desc("target", "cuda", target_config=target.read_text(),
                                            topology=topology or "1x1x1").devices
    except Exception as error:
        need = ("the TPU runtime of this jax: pip install \"jax[tpu]==$(python -c 'import jax; print(jax.__version__)')\""
                if platform == "tpu" else
                "the CUDA plugin of this jaxlib: pip install "
                "\"jax-cuda12-plugin[with-cuda]==$(python -c 'import jaxlib; print(jaxlib.__version__)')\"")
        raise SystemExit(
            f"gpu_model: XLA's {platform} compiler is not available ({type(error).__name__}: {error}).\n"
            f"Install {need}"
        ) from None


def program_rows(name: str, index: int, config: dict, mode: str, batch_size: int, sharding,
                 batch_sharding=None) -> list[dict]:
    """The encode and decode rows of one example config; arrays whose
    leading axis is the batch get ``batch_sharding`` when given, and then
    every figure is one device's (its program, its share of the batch)."""
    import jax

    import jaxcodecs
    from jaxcodecs import examples

    codec = jaxcodecs.get_codec_class(name)(**config, mmpose_compat=(mode == "mmpose"))
    batch = examples.example_batch(codec, batch_size, seed=0, name=name)

    def spec(leaf):
        if not (hasattr(leaf, "shape") and hasattr(leaf, "dtype")):
            return leaf
        batched = batch_sharding is not None and np.ndim(leaf) > 0 and np.shape(leaf)[0] == batch_size
        return jax.ShapeDtypeStruct(np.shape(leaf), leaf.dtype, sharding=batch_sharding if batched else sharding)

    def nbytes(tree) -> int:
        return sum(int(np.prod(x.shape)) * np.dtype(x.dtype).itemsize
                   for x in jax.tree.leaves(tree) if hasattr(x, "shape"))

    rows = []
    for part, method in (("encode", codec.batch_encode), ("decode", codec.batch_decode)):
        args, kwargs = jax.tree.map(spec, (getattr(batch, f"{part}_args"), getattr(batch, f"{part}_kwargs")))
        row = {"codec": name, "config_index": index, "config": config, "mode": mode,
               "batch_size": batch_size, "program": part}
        start = time.perf_counter()
        try:
            compiled = jax.jit(method).lower(*args, **kwargs).compile()
        except Exception as error:
            rows.append({**row, "error": f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"})
            continue
        found = kernel_traffic(compiled.as_text())
        # Per device: a batch-sharded program is each device's share.
        share = batch_sharding.mesh.size if batch_sharding is not None else 1
        inputs, outputs = (nbytes(t) // share for t in ((args, kwargs), jax.eval_shape(method, *args, **kwargs)))
        row.update({
            "compile_s": time.perf_counter() - start,
            "kernels": sum(1 for k in found["kernels"] if k[4] == "main"),
            "loops": found["loops"], "unknown_loops": found["unknown_loops"], "launches": found["launches"],
            "traffic": found["traffic"],
            "branch_bytes": found["branch_bytes"], "loop_bytes": found["loop_bytes"],
            "input_bytes": inputs, "output_bytes": outputs,
            "minimum_bytes": outputs if part == "encode" else inputs,
        })
        row["traffic_over_minimum"] = row["traffic"] / row["minimum_bytes"] if row["minimum_bytes"] else None
        rows.append(row)
    return rows


def _table(rows: list[dict]) -> str:
    head = ("codec", "cfg", "mode", "B", "prog", "kernels", "launches", "traffic MB", "min MB", "x min",
            "branch MB", "pred /s", "floor %", "peak %", "kernels' peak %")
    lines = [" | ".join(head), " | ".join("---" for _ in head)]

    def percent(value):
        return f"{100 * value:.0f}" if value is not None else "-"

    for r in rows:
        cells = [r["codec"], str(r["config_index"]), r["mode"], str(r["batch_size"]), r["program"]]
        if "error" in r:
            lines.append(" | ".join(cells + ["error: " + r["error"]] + [""] * 9))
            continue
        ratio, rate = r["traffic_over_minimum"], r.get("predicted_samples_per_s")
        lines.append(" | ".join(cells + [
            str(r["kernels"]) + (f" +{r['loops']} loops" if r["loops"] else "")
            + (f" ({r['unknown_loops']} unbounded)" if r["unknown_loops"] else ""), str(r["launches"]),
            f"{r['traffic'] / 1e6:.1f}", f"{r['minimum_bytes'] / 1e6:.1f}",
            f"{ratio:.2f}" if ratio else "-", f"{r['branch_bytes'] / 1e6:.0f}" if r["branch_bytes"] else "-",
            "-" if rate is None else ("<= " if r["prediction"] != "model" else "") + f"{rate / 1e6:.2f} M",
            percent(r.get("floor_fraction")), percent(r.get("bandwidth_fraction")),
            percent(r.get("kernel_bandwidth_fraction")),
        ]))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", type=Path, default=HERE / "gpu_targets" / "h200.txtpb",
                        help="the GPU's description (--platform cuda)")
    parser.add_argument("--platform", choices=["cuda", "tpu"], default="cuda",
                        help="tpu: compile for a TPU slice instead (kernels and traffic, no prediction)")
    parser.add_argument("--topology", default=None, help="cuda: 1x1xN GPUs (default 1x1x1); tpu: e.g. v5e:2x2")
    parser.add_argument("--shard-batch", action="store_true",
                        help="the batch axis sharded over every device of the topology")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1024])
    parser.add_argument("--modes", nargs="+", default=["mmpose"], choices=["mmpose", "exact"])
    parser.add_argument("--codecs", nargs="+", default=None)
    parser.add_argument("--json", type=Path, default=None,
                        help="default benchmarks/results/gpu-model-<target>.json (tpu: tpu-model-<topology>.json)")
    parser.add_argument("--compare", type=Path, default=None, metavar="BENCH_JSON",
                        help="compare a bench JSON measured on the device with --model (compiles nothing)")
    parser.add_argument("--model", type=Path, default=HERE / "results" / "gpu-model-h200.json")
    parser.add_argument("--markdown", type=Path, default=None, help="with --compare: also write the table here")
    args = parser.parse_args(argv)
    if args.compare is not None:
        model = json.loads(args.model.read_text())
        rows, refit = compare(model, json.loads(args.compare.read_text()))
        text = compare_markdown(rows, refit, model)
        print(text)
        if args.markdown:
            args.markdown.write_text(text)
        return 0 if rows else 1
    os.environ.setdefault("JAX_PLATFORMS", "cpu")  # the compilers must not look for a device
    import jax
    import jaxlib

    import jaxcodecs
    from jaxcodecs import examples

    devices = target_devices(args.target, args.platform, args.topology)
    sharding = jax.sharding.SingleDeviceSharding(devices[0])
    batch_sharding = None
    if args.shard_batch:
        mesh = jax.sharding.Mesh(np.array(devices), ("batch",))
        sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
        batch_sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("batch"))
    calibrated = args.platform == "cuda"
    peak = float(re.search(r"memory_bandwidth:\s*(\d+)", args.target.read_text()).group(1)) if calibrated else None
    overhead, bandwidth = fit_calibration()
    rows = []
    for name in args.codecs or jaxcodecs.list_codecs():
        try:
            configs = examples.get_examples(name).configs
        except KeyError:
            continue
        for index, config in enumerate(configs):
            for mode in args.modes:
                for batch_size in args.batch_sizes:
                    for row in program_rows(name, index, dict(config), mode, batch_size, sharding, batch_sharding):
                        if "error" not in row and calibrated:
                            row.update(predict(row, overhead, bandwidth, peak))
                        rows.append(row)
                        print(_table([row]).splitlines()[-1], flush=True)
    print()
    print(_table(rows))
    default_name = (f"gpu-model-{args.target.stem}" if calibrated else f"tpu-model-{args.topology or 'v5e:2x2'}")
    out = args.json or HERE / "results" / (default_name.replace(":", "-") + ("-sharded" if args.shard_batch else "")
                                           + ".json")
    model = {"overhead_s": overhead, "bandwidth_bytes_per_s": bandwidth,
             "calibration": [{"program": p, "traffic_mb": mb, "measured_samples_per_s": rate}
                             for p, mb, rate in CALIBRATION],
             "calibration_batch_size": CALIBRATION_BATCH} if calibrated else None
    out.write_text(json.dumps({
        "platform": args.platform, "target": args.target.name if calibrated else args.topology or "v5e:2x2",
        "device": devices[0].device_kind, "devices": len(devices), "batch_sharded": args.shard_batch,
        "peak_bandwidth_bytes_per_s": peak, "jax": jax.__version__, "jaxlib": jaxlib.__version__,
        "model": model, "rows": rows,
    }, indent=1, default=str) + "\n")
    print(f"\nwritten: {out}")
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
