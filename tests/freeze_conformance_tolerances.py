"""Writes tests/data/conformance_tolerances.json: the frozen per-coordinate
tolerances of the blur-refined keypoints in the golden-vector comparison.

For every blur-refined decode run of the public vectors this measures, per
keypoint coordinate, the port's error against MMPose's value and its
*sensitivity* (how far it moves under a 1e-4 relative perturbation that
keeps every argmax, ``tests/test_conformance.py:decode_sensitivity``). A
coordinate gets a row in the file when it is sensitive (above the
well-conditioned bound) or off by more than the default 1e-3 px; each row
carries the measurements, the frozen bounds and the reason, derived here
from what the row is and reviewed before it is committed:

* ``atol_px``: 1e-3, or where the error exceeds 1e-3, twice the measured
  error (two significant digits, rounded up), or for an exact tie one flip
  of the quarter-pixel step (0.25 heatmap px) plus 1e-3;
* ``sensitivity_px``: 1.25 x the measured sensitivity (at least the
  well-conditioned bound): a later port that gets noisier there fails.

Rows where MMPose's value is NaN or was read through a -1 location are not
here: the test asserts SPEC's policy values for them.

It lives beside the tests because it measures with their helpers.

    python tests/freeze_conformance_tolerances.py          # rewrite the file
    python tests/freeze_conformance_tolerances.py --check  # exit 1 if it would change

Run it only when the vectors or a deliberate change of the port move these
numbers, and review the diff: it is the parity contract.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "conformance_tolerances.json"
DEFAULT_ATOL = 1e-3
WELL_CONDITIONED = 2e-3


def _round_up(value: float, digits: int = 2) -> float:
    if value <= 0:
        return 0.0
    step = 10.0 ** (math.floor(math.log10(value)) - digits + 1)
    return float(f"{math.ceil(value / step - 1e-9) * step:.{digits + 8}g}")


def _reason(tc, case: dict, config: dict, kind: str, index: tuple, arrays, sensitivity, error) -> str:
    axes = [a for a, s, e in zip("xy", sensitivity, error) if s > WELL_CONDITIONED or e > DEFAULT_ATOL]
    numbers = ("moves " + ", ".join(f"{a}: {s:.3g}" for a, s in zip("xy", sensitivity))
               + " px under a 1e-4 relative perturbation; error vs MMPose "
               + ", ".join(f"{a}: {e:.3g}" for a, e in zip("xy", error)) + " px")
    if config["type"] == "MegviiHeatmap":
        quarter = 0.25 * np.asarray(tc._scale(config))
        if all(abs(sensitivity[i] / quarter[i] - round(sensitivity[i] / quarter[i])) < 1e-6
               for i in range(2) if sensitivity[i] > 0):
            return (f"exact tie of the two neighbours of the maximum on {'/'.join(axes)}: the sign of the "
                    "quarter-pixel step is decided by float rounding (MMPose's OpenCV blur on one side, "
                    f"the port's 8-ulp tie rule on the other), a flip is 0.25 heatmap px; {numbers}")
    weights = arrays.get("enc/keypoint_weights")
    if weights is not None:
        flat = np.asarray(weights).reshape(-1)
        k = index[-1]
        if kind != "roundtrip" and k < flat.size and flat[k] == 0:
            return ("noise-only channel: the keypoint was not painted (weight 0), so the maximum is a "
                    "peak of the added noise, where the refined map's curvature is near zero; "
                    + numbers)
    if kind == "roundtrip":
        return ("round trip near the map border: the blur's zero padding flattens the refined map "
                f"on {'/'.join(axes)}, so the step amplifies float32 rounding; " + numbers)
    return (f"perturbed peak ({kind}): the added noise flattens the refined map around the maximum on "
            f"{'/'.join(axes)}, so the step amplifies float32 rounding; " + numbers)


def measure() -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import jaxcodecs  # noqa: PLC0415
    import test_conformance as tc  # noqa: PLC0415

    cases = {}
    for case in tc.CASES:
        arrays = tc.load(case)
        config = json.loads(str(arrays["config"]))
        call = json.loads(str(arrays["call"]))
        if case["error"] is not None or not tc._blur_refined(config):
            continue
        codec = jaxcodecs.build(config)
        decodes = {}
        for dec_call in call.get("decodes", []):
            if "error" in dec_call:
                continue
            prefix = dec_call["prefix"]
            kwargs = tc.resolve(dec_call["kwargs"], arrays)
            method = getattr(codec, dec_call["method"])
            pairs = tc._flatten_outputs(dec_call["outputs"], tc.call_jitted(method, kwargs))
            keypoints = np.asarray(pairs[0][2], np.float64)
            reference = np.asarray(arrays[pairs[0][1]], np.float64)
            scores = np.asarray(arrays[pairs[1][1]]).reshape(keypoints.shape[:-1])
            map_axes = 1 if case["codec"] in tc.VECTOR_DECODERS else 2
            sensitivity = tc.decode_sensitivity(method, kwargs, keypoints, map_axes=map_axes)
            policy = np.isnan(reference).any(-1) | np.isnan(scores)
            if case["codec"] in tc.WRAPAROUND_DECODERS:
                policy |= scores <= 0
            kind = dec_call["kind"].split(":")[0]
            rows = []
            for index in np.ndindex(keypoints.shape[:-1]):
                if policy[index]:
                    continue
                error = np.abs(keypoints[index] - reference[index])
                sens = sensitivity[index]
                if not ((sens > WELL_CONDITIONED).any() or (error > DEFAULT_ATOL).any()):
                    continue
                reason = _reason(tc, case, config, kind, index, arrays, sens, error)
                if reason.startswith("exact tie"):
                    widened = [DEFAULT_ATOL + float(q) for q in 0.25 * tc._scale(config)]
                else:
                    widened = [_round_up(2 * e) for e in error]
                rows.append({
                    "row": [int(i) for i in index],
                    "atol_px": [DEFAULT_ATOL if e <= DEFAULT_ATOL else w for e, w in zip(error, widened)],
                    "sensitivity_px": [max(WELL_CONDITIONED, _round_up(1.25 * s)) for s in sens],
                    "measured_error_px": [float(f"{e:.3g}") for e in error],
                    "measured_sensitivity_px": [float(f"{s:.3g}") for s in sens],
                    "reason": reason,
                })
            decodes[prefix] = rows
        cases[case["file"]] = {"sha256": tc._sha256(tc.DATA / case["file"]), "decodes": decodes}
    return {
        "description": (
            "Frozen per-coordinate tolerances (input px) of the blur-refined keypoints in "
            "tests/test_conformance.py. Rows not listed: atol_px = default_atol_px and a "
            "sensitivity bound of well_conditioned_sensitivity_px. Written by "
            "tests/freeze_conformance_tolerances.py from measurements, then reviewed; the test "
            "fails when a live error exceeds atol_px or a live sensitivity exceeds sensitivity_px."),
        "vector_set": tc.MANIFEST["set"],
        "default_atol_px": DEFAULT_ATOL,
        "well_conditioned_sensitivity_px": WELL_CONDITIONED,
        "perturbation": "each pixel lowered by 1e-4 x |value| x |N(0, 1)|, every map's maximum kept; 4 draws, seed 0",
        "cases": cases,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file would change")
    args = parser.parse_args()
    if not OUT.exists():  # the test module reads the file at import
        OUT.write_text(json.dumps({"vector_set": None, "default_atol_px": DEFAULT_ATOL,
                                   "well_conditioned_sensitivity_px": WELL_CONDITIONED, "cases": {}}))
    text = json.dumps(measure(), indent=1) + "\n"
    if args.check:
        same = OUT.read_text() == text
        print("up to date" if same else f"{OUT} would change")
        return 0 if same else 1
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
