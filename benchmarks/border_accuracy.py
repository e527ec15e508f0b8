"""Round-trip error against the distance of a keypoint from the map border.

For each codec below, in both modes (``exact``: ``mmpose_compat=False``;
``mmpose``: ``mmpose_compat=True``), keypoints are placed at a set distance
from one border of the map, encoded with ``jax.jit(codec.batch_encode)``
and the targets decoded with ``jax.jit(codec.batch_decode)`` (one
compilation each per codec and mode):

* ``MSRAHeatmap(unbiased=True, sigma=2)``, 192x256 input, 48x64 heatmaps;
* ``UDPHeatmap`` gaussian (sigma 2) and combined, same sizes;
* ``SimCCLabel(use_dark=True, sigma=6, simcc_split_ratio=2)``, 192x256 input.

Geometry. Distances are in map units: heatmap pixels for the heatmap
codecs, bins for SimCC, measured from the centre of the outermost pixel
(bin), i.e. from map coordinate 0 (left, top) or ``size - 1`` (right,
bottom), where map coordinate = input coordinate / ``scale_factor`` (SimCC:
input coordinate x ``simcc_split_ratio``). A keypoint "at distance d" has
that coordinate at ``d + u``, ``u`` uniform in [-0.25, 0.25) map units (so
the rows sample sub-pixel positions, never outside the map); its other
coordinate is uniform in the central half of the map. Each border (left,
right, top, bottom) gets its own keypoints.

Error: the largest ``|x error|`` and ``|y error|`` in input pixels over the
keypoints of a distance. The printed tables show, per distance, the worst of
the two axes and of the four borders, and the left border alone (x and y);
the JSON holds every border and axis.

Noise: the same targets with Gaussian noise added (standard deviation 1 %
and 5 % of each map's peak: the largest value of each heatmap channel or
label vector, for UDP combined of the keypoint's class map, applied to its
class and offset maps alike; seeded), decoded the same way, as a stand-in
for model predictions.

Writes ``benchmarks/results/border_accuracy.json``::

    python benchmarks/border_accuracy.py           # 200 keypoints per distance
    python benchmarks/border_accuracy.py --quick   # 16 keypoints per distance
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import jax
import numpy as np

import jaxcodecs
from jaxcodecs.cli._harness import MODES, decoded_keypoints, fmt, format_table, jsonable

INPUT = (192, 256)
HEATMAP = (48, 64)
RESULTS = Path(__file__).resolve().parent / "results" / "border_accuracy.json"

#: name -> (codec class name, constructor arguments without the mode).
CODECS: dict[str, tuple[str, dict[str, Any]]] = {
    "MSRA DARK": ("MSRAHeatmap", dict(input_size=INPUT, heatmap_size=HEATMAP, sigma=2.0, unbiased=True)),
    "UDP gaussian": ("UDPHeatmap", dict(input_size=INPUT, heatmap_size=HEATMAP, heatmap_type="gaussian", sigma=2.0)),
    "UDP combined": ("UDPHeatmap", dict(input_size=INPUT, heatmap_size=HEATMAP, heatmap_type="combined", sigma=2.0)),
    "SimCC DARK": ("SimCCLabel", dict(input_size=INPUT, sigma=6.0, simcc_split_ratio=2.0, use_dark=True)),
}
DISTANCES = (0.5, 1.0, 2.0, 3.0, 4.0, 6.0)
NOISE = (0.0, 0.01, 0.05)
BORDERS = ("left", "right", "top", "bottom")
JITTER = 0.25


def make_codec(name: str, compat: bool) -> Any:
    cls_name, kwargs = CODECS[name]
    return getattr(jaxcodecs, cls_name)(**kwargs, mmpose_compat=compat)


def map_geometry(codec: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(size, unit)``: the map's size ``(w, h)`` in map units and the input
    pixels per map unit, per axis."""
    if isinstance(codec, jaxcodecs.SimCCLabel):
        ratio = float(codec.simcc_split_ratio)
        size = np.floor(np.asarray(codec.input_size, np.float64) * ratio)
        return size, np.full(2, 1.0 / ratio)
    return np.asarray(codec.heatmap_size, np.float64), np.asarray(codec.scale_factor, np.float64).reshape(2)


def border_keypoints(
    rng: np.random.Generator, size: np.ndarray, distances: Sequence[float], count: int,
    borders: Sequence[str] = BORDERS,
) -> np.ndarray:
    """Map coordinates ``(len(borders), len(distances), count, 2)``."""
    shape = (len(borders), len(distances), count)
    jitter = rng.uniform(-JITTER, JITTER, shape)
    other = rng.uniform(0.25, 0.75, shape)
    out = np.empty(shape + (2,))
    for b, border in enumerate(borders):
        axis = 0 if border in ("left", "right") else 1
        near = np.asarray(distances, np.float64)[:, None] + jitter[b]
        out[b, ..., axis] = near if border in ("left", "top") else size[axis] - 1 - near
        out[b, ..., 1 - axis] = other[b] * (size[1 - axis] - 1)
    return out


def add_noise(codec: Any, encoded: dict, level: float, rng: np.random.Generator) -> list:
    """The decode inputs plus Gaussian noise of standard deviation ``level``
    times each map's peak: the largest value of each heatmap channel or label
    vector; for UDP's combined maps, of the keypoint's class map, for its
    class and both offset maps (whose own extremes lie far from the keypoint)."""
    out = []
    for key in codec.decode_input_keys:
        target = np.asarray(encoded[key], np.float32)
        if level == 0.0:
            out.append(target)
            continue
        if key == "heatmaps":
            group = 3 if getattr(codec, "heatmap_type", "gaussian") == "combined" else 1
            maps = target.reshape(target.shape[0], -1, group, *target.shape[-2:])
            peak = maps[:, :, :1].max(axis=(-2, -1), keepdims=True)
            peak = np.broadcast_to(peak, maps.shape[:3] + (1, 1)).reshape(target.shape[:2] + (1, 1))
        else:
            peak = target.max(axis=-1, keepdims=True)
        noise = rng.standard_normal(target.shape, dtype=np.float32)
        out.append(target + np.float32(level) * peak * noise)
    return out


def measure(
    names: Sequence[str] = tuple(CODECS), distances: Sequence[float] = DISTANCES, count: int = 200,
    noise_levels: Sequence[float] = NOISE, seed: int = 0, borders: Sequence[str] = BORDERS,
) -> dict:
    """The error table as JSON data: ``rows`` holds one entry per codec, mode
    and noise level, with per distance the worst error over the borders and
    axes (``worst_px``) and each border's largest x and y error (``borders``)."""
    rows = []
    for c, name in enumerate(names):
        for m, (mode, compat) in enumerate(MODES):
            codec = make_codec(name, compat)
            size, unit = map_geometry(codec)
            rng = np.random.default_rng([seed, c])  # same keypoints for both modes
            points = border_keypoints(rng, size, distances, count, borders)
            keypoints = (points * unit).astype(np.float32)  # input pixels
            batch = keypoints.reshape(-1, 1, count, 2)  # one sample per (border, distance)
            visible = np.ones(batch.shape[:-1], np.float32)
            encoded = jax.jit(codec.batch_encode)(batch, visible)
            decode = jax.jit(codec.batch_decode)
            for n, level in enumerate(noise_levels):
                noise_rng = np.random.default_rng([seed, c, n])
                inputs = add_noise(codec, encoded, level, noise_rng)
                decoded = np.asarray(decoded_keypoints(codec, decode(*inputs)), np.float64)
                error = np.abs(decoded.reshape(keypoints.shape) - keypoints.astype(np.float64))
                largest = error.max(axis=2)  # (borders, distances, 2)
                rows.append({
                    "codec": name, "mode": mode, "noise": level,
                    "worst_px": [float(v) for v in largest.max(axis=(0, 2))],
                    "borders": {
                        border: {"max_x_px": [float(v) for v in largest[b, :, 0]],
                                 "max_y_px": [float(v) for v in largest[b, :, 1]]}
                        for b, border in enumerate(borders)
                    },
                })
    return {
        "input_size": list(INPUT), "heatmap_size": list(HEATMAP),
        "codecs": {name: {"class": CODECS[name][0], **jsonable(CODECS[name][1])} for name in names},
        "distances": list(distances), "distance_unit": "heatmap px (SimCC: bins) from the outermost pixel centre",
        "jitter": JITTER, "keypoints_per_distance": count, "borders": list(borders),
        "noise": "std = level x each map's peak (UDP combined: the class map's, on all three maps)", "seed": seed, "jax_version": jax.__version__,
        "rows": rows,
    }


def table(result: dict, border: str | None = None) -> str:
    """Rows codec x mode x noise, columns distances: the worst error over
    borders and axes, or one border's ``x/y`` errors."""
    headers = ["codec", "mode", "noise"] + [f"{d:g}" for d in result["distances"]]
    lines = []
    for row in result["rows"]:
        if border is None:
            cells = [fmt(v) for v in row["worst_px"]]
        else:
            b = row["borders"][border]
            cells = [f"{fmt(x)}/{fmt(y)}" for x, y in zip(b["max_x_px"], b["max_y_px"])]
        lines.append([row["codec"], row["mode"], f"{row['noise']:g}", *cells])
    return format_table(headers, lines, [False, False, True] + [True] * len(result["distances"]))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="16 keypoints per distance instead of 200")
    parser.add_argument("--count", type=int, default=None, help="keypoints per distance and border")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    count = args.count or (16 if args.quick else 200)
    result = measure(count=count, seed=args.seed)
    print("Largest error in input px, worst of x/y and of the four borders:")
    print(table(result))
    print("\nLeft border, largest x / y error in input px:")
    print(table(result, "left"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"\nwrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
