"""Randomised cross-check of jaxcodecs against a live MMPose 1.3.2.

The golden vectors in tests/data cover fixed sizes and settings; this tool
draws random ones (heatmap and input sizes, sigmas, kernel sizes, keypoints on
exact half pixels and off the map, invisible keypoints, perturbed maps) and
compares the port with MMPose itself. It is a development tool, never a test
dependency: MMPose runs in the oracle environment that
``../shared/mmpose-oracle/setup.sh`` builds.

    ORACLE_VENV=/path/venv bash ../shared/mmpose-oracle/setup.sh
    /path/venv/bin/python tools/mmpose_crosscheck.py generate --seed 7 --out /tmp/cases.npz
    python tools/mmpose_crosscheck.py compare /tmp/cases.npz

``compare`` uses the tolerances of tests/test_conformance.py and prints one
line per mismatching case, then a summary; it exits non-zero on a mismatch.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

KINDS = {
    "msra": "MSRAHeatmap",
    "msra_dark": "MSRAHeatmap",
    "udp": "UDPHeatmap",
    "udp_combined": "UDPHeatmap",
    "megvii": "MegviiHeatmap",
}


def _random_config(kind: str, rng: np.random.Generator) -> dict:
    width, height = int(rng.integers(12, 72)), int(rng.integers(12, 72))
    stride = int(rng.choice([1, 2, 3, 4]))
    size = dict(
        input_size=(width * stride + int(rng.integers(0, 9)), height * stride + int(rng.integers(0, 9))),
        heatmap_size=(width, height),
    )
    sigma = float(rng.choice([0.8, 1.0, 1.2, 1.5, 1.7, 2.0, 2.5, 3.0]))
    kernel = int(rng.choice([3, 5, 7, 9, 11, 13, 17]))
    if kind == "msra":
        return dict(size, sigma=sigma)
    if kind == "msra_dark":
        return dict(size, sigma=sigma, unbiased=True, blur_kernel_size=kernel)
    if kind == "udp":
        return dict(size, sigma=sigma, blur_kernel_size=kernel)
    if kind == "udp_combined":
        return dict(size, heatmap_type="combined", radius_factor=float(rng.uniform(0.03, 0.12)),
                    blur_kernel_size=int(rng.choice([3, 5, 7, 11])))
    return dict(size, kernel_size=kernel)


def generate(seed: int, count: int, out: Path) -> None:
    """Runs MMPose on random cases (call with the oracle venv's python)."""
    import warnings

    warnings.simplefilter("ignore")
    import mmpose.codecs as mm  # noqa: PLC0415 - only available in the oracle venv

    rng = np.random.default_rng(seed)
    arrays: dict[str, np.ndarray] = {}
    meta = []
    for i in range(count):
        kind = list(KINDS)[i % len(KINDS)]
        config = _random_config(kind, rng)
        codec = getattr(mm, KINDS[kind])(**config)
        w, h = config["input_size"]
        num_keypoints = int(rng.integers(3, 20))
        kp = np.stack([rng.uniform(-0.1 * w, 1.1 * w, num_keypoints),
                       rng.uniform(-0.1 * h, 1.1 * h, num_keypoints)], -1)
        scale = np.asarray(codec.scale_factor, np.float64)
        on_half = rng.random(num_keypoints) < 0.3
        kp[on_half] = np.round(kp[on_half] / scale * 2) / 2 * scale
        kp = kp[None].astype(np.float32)
        vis = (rng.random((1, num_keypoints)) > 0.15).astype(np.float32)
        enc = codec.encode(kp.copy(), vis.copy())
        amplitude = 255.0 if kind == "megvii" else 1.0
        noise = rng.uniform(-0.03, 0.08, enc["heatmaps"].shape).astype(np.float32) * amplitude
        arrays.update({f"{i}/keypoints": kp, f"{i}/visible": vis,
                       f"{i}/heatmaps": enc["heatmaps"], f"{i}/weights": enc["keypoint_weights"]})
        for tag, maps in (("dec", enc["heatmaps"]), ("pdec", enc["heatmaps"] + noise)):
            with np.errstate(all="ignore"):
                keypoints, scores = codec.decode(maps.copy())
            arrays.update({f"{i}/{tag}_in": maps, f"{i}/{tag}_keypoints": np.asarray(keypoints, np.float64),
                           f"{i}/{tag}_scores": np.asarray(scores, np.float64)})
        meta.append(dict(kind=kind, config=dict(config, type=KINDS[kind])))
    np.savez_compressed(out, meta=np.array(json.dumps(meta)), **arrays)
    print(f"wrote {count} MMPose cases to {out}")


def compare(path: Path) -> int:
    """Compares jaxcodecs with the cases ``generate`` wrote; returns the mismatch count."""
    import jax

    import jaxcodecs

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from test_conformance import decode_sensitivity  # noqa: PLC0415

    data = np.load(path, allow_pickle=False)
    meta = json.loads(str(data["meta"]))
    mismatches = 0
    for i, case in enumerate(meta):
        codec = jaxcodecs.build(case["config"])
        problems = []
        enc = jax.jit(codec.encode)(data[f"{i}/keypoints"], data[f"{i}/visible"])
        ref_hm = data[f"{i}/heatmaps"]
        hm_err = np.abs(np.asarray(enc["heatmaps"]) - ref_hm).max()
        if hm_err > 1e-5 * max(1.0, np.abs(ref_hm).max()) + 1e-5:
            problems.append(f"heatmaps differ by {hm_err:.2e}")
        if not np.array_equal(np.asarray(enc["keypoint_weights"]), data[f"{i}/weights"]):
            problems.append("weights differ")
        blur_refined = case["kind"] != "msra"
        for tag in ("dec", "pdec"):
            maps = data[f"{i}/{tag}_in"]
            ref_kp, ref_scores = data[f"{i}/{tag}_keypoints"], data[f"{i}/{tag}_scores"]
            kp, scores = (np.asarray(v) for v in jax.jit(codec.decode)(maps))
            if not (np.isfinite(kp).all() and np.isfinite(scores).all()):
                problems.append(f"{tag}: NaN/Inf")
            skip = np.isnan(ref_kp).any(-1) | np.isnan(ref_scores)
            if case["config"]["type"] == "UDPHeatmap":
                skip |= ref_scores <= 0  # MMPose reads through a -1 location there
            if blur_refined:
                tol = 1e-3 + 1.5 * decode_sensitivity(codec.decode, {"encoded": maps}, kp)
            else:
                tol = 1e-5 + 1e-5 * np.abs(ref_kp).max(-1)
            bad = (np.abs(kp - ref_kp).max(-1) > tol) & ~skip
            if bad.any():
                problems.append(f"{tag}: keypoints {np.argwhere(bad)[:, 1].tolist()} differ")
            score_err = np.nanmax(np.abs(scores - ref_scores)) if (~np.isnan(ref_scores)).any() else 0.0
            if score_err > 1e-5 * max(1.0, np.nanmax(np.abs(ref_scores))):
                problems.append(f"{tag}: scores differ by {score_err:.2e}")
        if problems:
            mismatches += 1
            print(f"case {i} {case['config']}: " + "; ".join(problems))
    print(f"{len(meta) - mismatches} of {len(meta)} random cases match MMPose")
    return mismatches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="run MMPose on random cases (oracle venv)")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--count", type=int, default=60)
    gen.add_argument("--out", type=Path, required=True)
    cmp_ = sub.add_parser("compare", help="compare jaxcodecs with generated cases")
    cmp_.add_argument("path", type=Path)
    args = parser.parse_args()
    if args.command == "generate":
        generate(args.seed, args.count, args.out)
    else:
        sys.exit(1 if compare(args.path) else 0)


if __name__ == "__main__":
    main()
