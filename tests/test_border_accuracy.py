"""The border-accuracy benchmark's core (``benchmarks/border_accuracy.py``)
on a tiny problem: its keypoint placement, its JSON layout, the exact
mode's accuracy for MSRA-DARK, and the exact mode against compat on noisy
targets."""

from __future__ import annotations

import json

import numpy as np
from conftest import load_script


def _module():
    return load_script("benchmarks/border_accuracy.py")


def test_keypoints_sit_at_their_distance_from_each_border():
    ba = _module()
    size = np.array([48.0, 64.0])
    points = ba.border_keypoints(np.random.default_rng(1), size, (0.5, 3.0), 50)
    assert points.shape == (4, 2, 50, 2)
    near = {
        "left": points[0, ..., 0],
        "right": size[0] - 1 - points[1, ..., 0],
        "top": points[2, ..., 1],
        "bottom": size[1] - 1 - points[3, ..., 1],
    }
    for distance in near.values():
        offset = distance - np.array([0.5, 3.0])[:, None]
        assert np.all(np.abs(offset) <= ba.JITTER)
        assert np.all(distance >= 0.0)
    # The other coordinate lies in the central half of the map.
    other = np.concatenate([points[:2, ..., 1].ravel() / 63.0, points[2:, ..., 0].ravel() / 47.0])
    assert other.min() >= 0.25 and other.max() <= 0.75


def test_msra_dark_exact_mode_six_pixels_inside(tmp_path):
    ba = _module()
    result = ba.measure(names=["MSRA DARK"], distances=(6.0,), count=8, noise_levels=(0.0, 0.05))
    assert [(r["mode"], r["noise"]) for r in result["rows"]] == [
        ("mmpose", 0.0), ("mmpose", 0.05), ("exact", 0.0), ("exact", 0.05)
    ]
    for row in result["rows"]:
        assert set(row["borders"]) == {"left", "right", "top", "bottom"}
        per_border = [max(b["max_x_px"][0], b["max_y_px"][0]) for b in row["borders"].values()]
        assert row["worst_px"] == [max(per_border)]
        assert all(np.isfinite(per_border))
    exact = result["rows"][2]
    # 6 heatmap px inside every border the exact mode recovers exact targets.
    assert exact["worst_px"][0] < 0.01
    # Noise at 5 % of the peak moves the decoded keypoints measurably.
    assert result["rows"][3]["worst_px"][0] > exact["worst_px"][0]
    path = tmp_path / "out.json"
    path.write_text(json.dumps(result))
    loaded = json.loads(path.read_text())
    assert loaded["distances"] == [6.0] and loaded["keypoints_per_distance"] == 8
    assert loaded["codecs"]["MSRA DARK"]["class"] == "MSRAHeatmap"


def test_exact_mode_no_worse_than_compat_on_noisy_targets():
    """Targets plus Gaussian noise at 1 % and 5 % of the peak, 32 keypoints
    per distance and border: the exact mode's largest error per distance is
    at most compat's, for MSRA-DARK, UDP gaussian and SimCC-DARK.

    Margin: MSRA-DARK from 4 px inward compares the fit (4–6 px) with DARK,
    two estimators of the same spread there (their RMS errors agree within
    2 % over 800 keypoints, benchmarks/NOTES.md); the largest of 128 errors
    of either moves by up to ~20 % between seeds (exact / compat measured
    0.92–1.18 over seeds 0–3), so the bound there is 1.25 x compat. Closer
    to the border DARK reads the padding and the exact mode is at least 10 %
    better (measured ratios <= 0.85); from 7 px (11-tap blur + 2-px stencil)
    both modes run the same DARK and agree exactly."""
    ba = _module()
    result = ba.measure(names=["MSRA DARK", "UDP gaussian", "SimCC DARK"], distances=(0.5, 1, 2, 3, 4, 6, 8),
                        count=32, noise_levels=(0.01, 0.05))
    rows = {(r["codec"], r["mode"], r["noise"]): np.array(r["worst_px"]) for r in result["rows"]}
    for (codec, mode, noise), exact in rows.items():
        if mode != "exact":
            continue
        compat = rows[(codec, "mmpose", noise)]
        margin = np.ones_like(compat)
        if codec == "MSRA DARK":
            margin[4:6] = 1.25  # 4 and 6 px
            assert exact[6] == compat[6], (noise, exact[6], compat[6])  # 8 px: the same DARK
        assert np.all(exact <= margin * compat), (codec, noise, exact, compat)
