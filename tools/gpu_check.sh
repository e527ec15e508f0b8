#!/usr/bin/env bash
# The project's check on an accelerator: the test suite (the golden
# conformance among it, reported on its own) and the quick benchmark at
# B = 64 and 1024, run on JAX's default backend (a GPU or TPU where one is
# installed), with every result written to one folder.
#
#   pip install -e ".[test]" "jax[cuda13]"    # or the JAX build for the device
#   bash tools/gpu_check.sh [OUT_DIR]
#
# OUT_DIR (default gpu-check/<device>-<UTC time>) receives device.txt (JAX,
# its devices, nvidia-smi where present), pytest.log + pytest.xml,
# conformance.txt, bench-<device>.json + bench.md + bench.log,
# model-vs-measured.md (the steps benchmarks/gpu_model.py predicted for an
# H200 against these) and summary.txt. Copy the benchmark JSON to
# benchmarks/results/ to keep it.
# Budget: about 8 minutes on a machine with 16 cores (the tests run on one
# xdist worker per core; each stage has a time limit, and a stage that runs
# out says so in summary.txt). The exit status is 0 when every stage passed.
#
# Optional test packages (grain, notebooks, matplotlib) that are not installed
# skip their tests here; summary.txt names them. (In CI they must all import:
# tests/test_optional_dependencies.py, deselected here, checks that.)
#
# Environment: GPU_CHECK_PYTEST_ARGS replaces the test selection (default:
# the whole suite); GPU_CHECK_BENCH_ARGS is added to the benchmark's
# arguments (e.g. "--codecs MSRAHeatmap"); GPU_CHECK_TEST_LIMIT and
# GPU_CHECK_BENCH_LIMIT are the stages' limits in seconds (330, 150).
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}

DEVICE=$("$PYTHON" -c 'import jax; d = jax.devices()[0]; print(f"{d.platform}-{d.device_kind}".replace(" ", "_"))') || {
    echo "gpu_check: JAX does not start; is the project installed? (pip install -e '.[test]')" >&2
    exit 2
}
OUT=${1:-gpu-check/${DEVICE}-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
echo "gpu_check: results in $OUT"

{
    "$PYTHON" - <<'PY'
import platform
import jax
import jaxlib
print("python", platform.python_version(), "| jax", jax.__version__, "| jaxlib", jaxlib.__version__)
print("default backend:", jax.default_backend())
for device in jax.devices():
    print(" ", device.platform, device.device_kind, "id", device.id)
PY
    command -v nvidia-smi > /dev/null && nvidia-smi
} > "$OUT/device.txt" 2>&1

# 1. The suite (pytest options, xdist workers included, from pyproject.toml).
# One device shared by one process per core: each allocates as it goes
# instead of reserving 75 % of the device's memory at start (JAX's default).
read -r -a TESTS <<< "${GPU_CHECK_PYTEST_ARGS:-tests}"
XLA_PYTHON_CLIENT_PREALLOCATE=${XLA_PYTHON_CLIENT_PREALLOCATE:-false} \
timeout "${GPU_CHECK_TEST_LIMIT:-330}" "$PYTHON" -m pytest -q -rs -p no:cacheprovider \
    --deselect tests/test_optional_dependencies.py::test_every_package_of_the_test_extra_imports \
    --junitxml="$OUT/pytest.xml" "${TESTS[@]}" > "$OUT/pytest.log" 2>&1
echo $? > "$OUT/pytest.rc"

# 2. The quick benchmark at B = 64 and 1024 (mmpose mode, one round).
read -r -a BENCH_EXTRA <<< "${GPU_CHECK_BENCH_ARGS:-}"
timeout "${GPU_CHECK_BENCH_LIMIT:-150}" "$PYTHON" -m jaxcodecs bench --quick --batch-sizes 64 1024 \
    --json "$OUT/bench-$DEVICE.json" --markdown "$OUT/bench.md" ${BENCH_EXTRA[@]+"${BENCH_EXTRA[@]}"} > "$OUT/bench.log" 2>&1
echo $? > "$OUT/bench.rc"

# 3. The measured steps against benchmarks/gpu_model.py's predictions for an
# H200 (the committed JSON), and the line refitted to the measurements.
if [ -f "$OUT/bench-$DEVICE.json" ]; then
    "$PYTHON" benchmarks/gpu_model.py --compare "$OUT/bench-$DEVICE.json" \
        --markdown "$OUT/model-vs-measured.md" > "$OUT/model.log" 2>&1
fi

# 4. The summary.
"$PYTHON" - "$OUT" <<'PY'
import importlib.util
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

out = Path(sys.argv[1])
lines = [(out / "device.txt").read_text().splitlines()[1]]


def stage(name: str, rc_file: str) -> int:
    rc = int((out / rc_file).read_text().strip() or 1)
    status = {0: "passed", 124: "ran out of time", 137: "killed (out of time or memory)"}.get(rc, f"failed (exit {rc})")
    lines.append(f"{name}: {status}")
    return rc


failed = 0
failed |= stage("tests", "pytest.rc") != 0
if (out / "pytest.xml").exists():
    cases = list(ET.parse(out / "pytest.xml").getroot().iter("testcase"))

    def outcome(case):
        kinds = {child.tag for child in case}
        return "failed" if kinds & {"failure", "error"} else "skipped" if "skipped" in kinds else "passed"

    counts = {}
    for case in cases:
        counts[outcome(case)] = counts.get(outcome(case), 0) + 1
    lines.append("  " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    golden = [c for c in cases if c.get("classname", "").endswith("test_conformance")]
    bad = [c.get("name") for c in golden if outcome(c) == "failed"]
    report = [f"golden conformance: {len(golden) - len(bad)} of {len(golden)} passed"] + [f"  FAILED {n}" for n in bad]
    (out / "conformance.txt").write_text("\n".join(report) + "\n")
    lines += report[:1] + report[1:11]
    failed_tests = [f"{c.get('classname')}::{c.get('name')}" for c in cases if outcome(c) == "failed"]
    lines += [f"  FAILED {n}" for n in failed_tests[:20] if "test_conformance" not in n]
missing = [m for m in ("grain", "nbclient", "nbformat", "ipykernel", "matplotlib", "optax")
           if importlib.util.find_spec(m) is None]
lines.append("optional packages missing (their tests skipped): " + (", ".join(missing) or "none"))
failed |= stage("benchmark", "bench.rc") != 0
compared = out / "model-vs-measured.md"
if compared.exists():  # the fitted lines: the calibration's, then these measurements'
    lines += ["model vs measured (model-vs-measured.md):"] + ["  " + line for line in compared.read_text().splitlines()[:2]]
lines.append("overall: " + ("FAILED" if failed else "passed"))
(out / "summary.txt").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
sys.exit(1 if failed else 0)
PY
