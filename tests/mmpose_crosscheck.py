"""Randomised cross-check of jaxcodecs against a live MMPose 1.3.2.

The golden vectors in tests/data cover fixed sizes and settings; this tool
draws random ones (heatmap and input sizes, sigmas, kernel sizes, keypoints on
exact half pixels and off the map, invisible keypoints, perturbed maps) and
compares the port with MMPose itself. It is a development tool, never a test
dependency: MMPose runs in the oracle environment that
``../shared/mmpose-oracle/setup.sh`` builds.

    ORACLE_VENV=/path/venv bash ../shared/mmpose-oracle/setup.sh
    /path/venv/bin/python tests/mmpose_crosscheck.py generate --seed 7 --out /tmp/cases.npz
    python tests/mmpose_crosscheck.py compare /tmp/cases.npz

``compare`` uses the tolerances of tests/test_conformance.py and prints one
line per mismatching case, then a summary; it exits non-zero on a mismatch.

``--family`` picks the codecs: ``heatmap`` (this module: MSRA, UDP, Megvii,
SimCC), ``single`` (tests/crosscheck_single.py: RegressionLabel,
IntegralRegressionLabel, Hand3DHeatmap and the three lifting codecs) or
``multi`` (tests/crosscheck_multi.py: AssociativeEmbedding,
DecoupledHeatmap, SPR, EDPoseLabel, YOLOXPoseAnnotationProcessor);
``compare`` finds the family from the file.

    python tests/mmpose_crosscheck.py generate --family multi --seed 3 --count 100 --out /tmp/multi.npz
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
    "simcc": "SimCCLabel",
    "simcc_standard": "SimCCLabel",
    "simcc_dark": "SimCCLabel",
}
# Decode inputs, in MMPose's argument order, per codec.
DECODE_INPUTS = {"SimCCLabel": ("keypoint_x_labels", "keypoint_y_labels")}
DECODE_ARGS = {"SimCCLabel": ("simcc_x", "simcc_y")}


def _random_simcc_config(kind: str, rng: np.random.Generator) -> dict:
    size = (int(rng.integers(24, 300)), int(rng.integers(24, 300)))
    ratio = float(rng.choice([1.0, 1.5, 2.0, 2.5, 3.0]))
    sigma = float(rng.choice([1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.5]))
    sigma = [sigma, float(rng.uniform(1.5, 8.0))] if rng.random() < 0.4 else sigma
    config = dict(input_size=size, sigma=sigma, simcc_split_ratio=ratio,
                  decode_visibility=bool(rng.random() < 0.5),
                  decode_beta=float(rng.choice([50.0, 150.0])))
    if kind == "simcc_standard":
        return dict(config, smoothing_type="standard",
                    label_smooth_weight=float(rng.choice([0.0, 0.05, 0.2])))
    return dict(config, normalize=bool(rng.random() < 0.7), use_dark=kind == "simcc_dark")


def _random_config(kind: str, rng: np.random.Generator) -> dict:
    if kind.startswith("simcc"):
        return _random_simcc_config(kind, rng)
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


def oracle_codecs():
    """``mmpose.codecs`` with warnings silenced (MMPose's own 0/0 and
    deprecations); only the oracle venv has it. Every family's ``generate``
    starts here."""
    import warnings  # noqa: PLC0415

    warnings.simplefilter("ignore")
    import mmpose.codecs  # noqa: PLC0415

    return mmpose.codecs


def generate(seed: int, count: int, out: Path) -> None:
    """Runs MMPose on random cases (call with the oracle venv's python)."""
    mm = oracle_codecs()
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
        # Keypoints on exact half pixels (heatmap or SimCC bins) probe rounding.
        if kind.startswith("simcc"):
            per_pixel = np.float64(codec.simcc_split_ratio)
        else:
            per_pixel = 1.0 / np.asarray(codec.scale_factor, np.float64)
        on_half = rng.random(num_keypoints) < 0.3
        kp[on_half] = np.round(kp[on_half] * per_pixel * 2) / 2 / per_pixel
        kp = kp[None].astype(np.float32)
        vis = (rng.random((1, num_keypoints)) > 0.15).astype(np.float32)
        if kind.startswith("simcc"):
            vis[0, rng.random(num_keypoints) < 0.1] = 0.4  # labels skipped, weight kept
        enc = codec.encode(kp.copy(), vis.copy())
        inputs = [enc[key] for key in DECODE_INPUTS.get(KINDS[kind], ("heatmaps",))]
        amplitudes = [255.0 if kind == "megvii" else max(float(x.max()), 1e-3) if kind.startswith("simcc") else 1.0
                      for x in inputs]
        noisy = [x + rng.uniform(-0.03, 0.08, x.shape).astype(np.float32) * a for x, a in zip(inputs, amplitudes)]
        arrays.update({f"{i}/keypoints": kp, f"{i}/visible": vis})
        arrays.update({f"{i}/enc/{key}": np.asarray(value) for key, value in enc.items()})
        for tag, maps in (("dec", inputs), ("pdec", noisy)):
            with np.errstate(all="ignore"):
                keypoints, scores = codec.decode(*[m.copy() for m in maps])
            if isinstance(scores, tuple):
                scores, visibility = scores
                arrays[f"{i}/{tag}_visibility"] = np.asarray(visibility, np.float64)
            arrays.update({f"{i}/{tag}_keypoints": np.asarray(keypoints, np.float64),
                           f"{i}/{tag}_scores": np.asarray(scores, np.float64)})
            arrays.update({f"{i}/{tag}_in{j}": m for j, m in enumerate(maps)})
        meta.append(dict(kind=kind, config=dict(config, type=KINDS[kind])))
    np.savez_compressed(out, meta=np.array(json.dumps(meta)), **arrays)
    print(f"wrote {count} MMPose cases to {out}")


def compare(path: Path) -> int:
    """Compares jaxcodecs with the cases ``generate`` wrote; returns the mismatch count."""
    import jax

    import jaxcodecs

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_conformance import _dark_visibility_rtol, decode_sensitivity  # noqa: PLC0415

    data = np.load(path, allow_pickle=False)
    meta = json.loads(str(data["meta"]))
    mismatches = 0
    for i, case in enumerate(meta):
        codec = jaxcodecs.build(case["config"])
        problems = []
        enc = jax.jit(codec.encode)(data[f"{i}/keypoints"], data[f"{i}/visible"])
        prefix = f"{i}/enc/"
        for name in [n[len(prefix):] for n in data.files if n.startswith(prefix)]:
            ref = data[prefix + name]
            err = np.abs(np.asarray(enc[name]) - ref).max() if ref.size else 0.0
            if err > 1e-5 * max(1.0, np.abs(ref).max(initial=0.0)) + 1e-5:
                problems.append(f"{name} differ by {err:.2e}")
        kind = case["config"]["type"]
        blur_refined = case["kind"] not in ("msra", "simcc", "simcc_standard")
        arg_names = DECODE_ARGS.get(kind, ("encoded",))
        for tag in ("dec", "pdec"):
            maps = [data[f"{i}/{tag}_in{j}"] for j in range(len(arg_names))]
            ref_kp, ref_scores = data[f"{i}/{tag}_keypoints"], data[f"{i}/{tag}_scores"]
            decoded = jax.jit(codec.decode)(*maps)
            kp, scores = np.asarray(decoded[0]), decoded[1]
            if f"{i}/{tag}_visibility" in data.files:
                scores, visibility = (np.asarray(v) for v in scores)
                ref_vis = data[f"{i}/{tag}_visibility"]
                rtol = _dark_visibility_rtol(codec) if codec.use_dark else 0.0
                ok = np.isnan(ref_vis) | (np.abs(visibility - ref_vis) <= 1e-5 + (rtol + 1e-5) * np.abs(ref_vis))
                if not ok.all():
                    problems.append(f"{tag}: visibility differs at {np.argwhere(~ok)[:, 1].tolist()}")
            scores = np.asarray(scores)
            if not (np.isfinite(kp).all() and np.isfinite(scores).all()):
                problems.append(f"{tag}: NaN/Inf")
            skip = np.isnan(ref_kp).any(-1) | np.isnan(ref_scores)
            if case["config"]["type"] == "UDPHeatmap":
                skip |= ref_scores <= 0  # MMPose reads through a -1 location there
            if blur_refined:
                moved = decode_sensitivity(codec.decode, dict(zip(arg_names, maps)), kp,
                                           map_axes=1 if kind in DECODE_ARGS else 2)
                tol = 1e-3 + 1.5 * moved  # per coordinate: unreviewed vectors get the live rule
            else:
                tol = 1e-5 + 1e-5 * np.abs(ref_kp)
            bad = (np.abs(kp - ref_kp) > tol).any(-1) & ~skip
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


FAMILIES = ("heatmap", "single", "multi")


def _family(name: str):
    """The module holding a family's ``KINDS``, ``generate`` and ``compare``."""
    if name == "heatmap":
        return sys.modules[__name__]
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import importlib  # noqa: PLC0415

    return importlib.import_module(f"crosscheck_{name}")


def _family_of(path: Path) -> str:
    """The family whose kinds a generated file holds."""
    with np.load(path, allow_pickle=False) as data:
        kinds = {case["kind"] for case in json.loads(str(data["meta"]))}
    for name in FAMILIES:
        if kinds <= set(_family(name).KINDS):
            return name
    raise SystemExit(f"{path}: kinds {sorted(kinds)} belong to no single family")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="run MMPose on random cases (oracle venv)")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--count", type=int, default=60)
    gen.add_argument("--out", type=Path, required=True)
    cmp_ = sub.add_parser("compare", help="compare jaxcodecs with generated cases")
    cmp_.add_argument("path", type=Path)
    gen.add_argument("--family", choices=FAMILIES, default="heatmap")
    args = parser.parse_args()
    if args.command == "generate":
        _family(args.family).generate(args.seed, args.count, args.out)
    else:
        sys.exit(1 if _family(_family_of(args.path)).compare(args.path) else 0)


if __name__ == "__main__":
    main()
