"""The border-accuracy benchmark's core (``benchmarks/border_accuracy.py``)
on a tiny problem: its keypoint placement, its JSON layout, and the exact
mode's interior accuracy for MSRA-DARK."""

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
    # 6 heatmap px inside every border the DARK step reads an undistorted map.
    assert exact["worst_px"][0] < 0.01
    # Noise at 5 % of the peak moves the decoded keypoints measurably.
    assert result["rows"][3]["worst_px"][0] > exact["worst_px"][0]
    path = tmp_path / "out.json"
    path.write_text(json.dumps(result))
    loaded = json.loads(path.read_text())
    assert loaded["distances"] == [6.0] and loaded["keypoints_per_distance"] == 8
    assert loaded["codecs"]["MSRA DARK"]["class"] == "MSRAHeatmap"
