"""Generates ``jaxcodecs/data/coco17_sample.npz``: 64 synthetic COCO-17 poses.

Deterministic (NumPy ``default_rng`` with a fixed seed, float64 arithmetic,
float32 output) and offline: no dataset is downloaded. Each pose is built from
a COCO-17 template skeleton (head, shoulders, elbows, wrists, hips, knees,
ankles) with random limb lengths, limb angles, head turn and torso lean, then
rotated, scaled and translated inside a person box of aspect 3 : 4 (the crop a
top-down detector hands MMPose's ``input_size=(192, 256)`` models) and
expressed in that box's unit coordinates ``[0, 1]^2`` (x right, y down).
About 10% of the keypoints are marked invisible (random occlusions plus the
far ear of a turned head).

    python benchmarks/make_coco17_sample.py            # rewrites the .npz
    python benchmarks/make_coco17_sample.py --check    # compares with it

``tests/test_cli.py`` imports :func:`make_coco17_sample` and checks that the
shipped file equals its output.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

SEED = 20240917
NUM_POSES = 64
ASPECT = 0.75  # person-box width / height; jaxcodecs.sample.COCO17_SAMPLE_ASPECT
OUTPUT = Path(__file__).resolve().parents[1] / "jaxcodecs" / "data" / "coco17_sample.npz"

# COCO-17 indices (jaxcodecs.sample.COCO17_KEYPOINT_NAMES). "left" is the
# person's left, which is image right for a person facing the camera.
(NOSE, L_EYE, R_EYE, L_EAR, R_EAR, L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW,
 L_WRIST, R_WRIST, L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE) = range(17)


def _unit(angle: float) -> np.ndarray:
    """The direction ``angle`` radians from straight down, turning toward +x."""
    return np.array([np.sin(angle), np.cos(angle)])


def _rotate(vector: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([c * vector[0] - s * vector[1], s * vector[0] + c * vector[1]])


def _one_pose(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One pose in body units (height about 1, y down) and its visibility."""
    kp = np.zeros((17, 2))
    vis = np.ones(17)
    deg = np.pi / 180
    length = lambda mean: mean * rng.uniform(0.9, 1.1)  # noqa: E731

    yaw = rng.uniform(-55, 55) * deg  # head and body turn, seen as narrowing
    lean = rng.normal(0, 6) * deg
    up = -_unit(lean)  # pelvis -> neck
    side = np.array([-up[1], up[0]])  # toward image right (the person's left)
    width = abs(np.cos(yaw)) * 0.8 + 0.2

    pelvis = np.zeros(2)
    neck = pelvis + length(0.30) * up
    shoulder_half = length(0.115) * width
    hip_half = length(0.08) * width
    shrug = rng.normal(0, 0.01, size=2)
    kp[L_SHOULDER] = neck + shoulder_half * side + shrug[0] * up
    kp[R_SHOULDER] = neck - shoulder_half * side + shrug[1] * up
    kp[L_HIP] = pelvis + hip_half * side
    kp[R_HIP] = pelvis - hip_half * side

    # Head: tilted a little; a turned head moves the face toward its turn.
    tilt = rng.normal(0, 8) * deg
    head_up, head_side = _rotate(up, tilt), _rotate(side, tilt)
    turn = np.sin(yaw)
    kp[NOSE] = neck + length(0.115) * head_up + 0.035 * turn * head_side
    eye_half = 0.028 * np.cos(yaw)
    kp[L_EYE] = kp[NOSE] + 0.025 * head_up + (eye_half + 0.01 * turn) * head_side
    kp[R_EYE] = kp[NOSE] + 0.025 * head_up + (-eye_half + 0.01 * turn) * head_side
    ear_half = 0.06 * (abs(np.cos(yaw)) * 0.7 + 0.3)
    ears_at = neck + 0.125 * head_up - 0.02 * turn * head_side
    kp[L_EAR] = ears_at + ear_half * head_side
    kp[R_EAR] = ears_at - ear_half * head_side
    if yaw > 30 * deg:  # turned toward image right: the right ear is hidden
        vis[R_EAR] = 0
    elif yaw < -30 * deg:
        vis[L_EAR] = 0

    # Arms: abduction from hanging down, then an elbow bend either way.
    for shoulder, elbow, wrist, outward in (
        (L_SHOULDER, L_ELBOW, L_WRIST, 1.0),
        (R_SHOULDER, R_ELBOW, R_WRIST, -1.0),
    ):
        abduction = rng.choice([rng.uniform(-15, 45), rng.uniform(45, 160)], p=[0.7, 0.3]) * deg
        bend = rng.uniform(0, 130) * deg * rng.choice([-1.0, 1.0])
        upper = _rotate(_unit(outward * abduction), lean)
        kp[elbow] = kp[shoulder] + length(0.17) * upper
        kp[wrist] = kp[elbow] + length(0.15) * _rotate(upper, bend)

    # Legs: mostly standing or walking, sometimes a wide stance or a raised knee.
    for hip, knee, ankle, outward in ((L_HIP, L_KNEE, L_ANKLE, 1.0), (R_HIP, R_KNEE, R_ANKLE, -1.0)):
        spread = rng.choice([rng.uniform(-8, 15), rng.uniform(15, 50)], p=[0.8, 0.2]) * deg
        bend = rng.choice([rng.uniform(0, 20), rng.uniform(20, 100)], p=[0.75, 0.25]) * deg
        thigh = _unit(outward * spread)
        kp[knee] = kp[hip] + length(0.24) * thigh
        kp[ankle] = kp[knee] + length(0.23) * _rotate(thigh, -outward * bend)

    occluded = rng.random(17) < 0.065
    vis[occluded] = 0
    return kp, vis


def make_coco17_sample(num_poses: int = NUM_POSES, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """The sample poses: ``keypoints (num_poses, 17, 2)`` float32 in ``[0, 1]^2``
    and ``visible (num_poses, 17)`` float32 in ``{0, 1}``."""
    rng = np.random.default_rng(seed)
    keypoints = np.zeros((num_poses, 17, 2))
    visible = np.zeros((num_poses, 17))
    for i in range(num_poses):
        kp, vis = _one_pose(rng)
        # Mostly upright, a few strongly rotated (falls, acrobatics).
        spin = rng.choice([rng.normal(0, 8), rng.uniform(-70, 70)], p=[0.9, 0.1]) * np.pi / 180
        kp = np.stack([_rotate(point, spin) for point in kp])
        if rng.random() < 0.5:  # a mirrored pose is another plausible person
            kp[:, 0] *= -1
            kp = kp[[0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]]
            vis = vis[[0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]]
        # Frame it in a 3:4 person box padded by 1.05-1.35 (MMPose pads
        # detector boxes by 1.25), shifted within the slack.
        low, high = kp.min(axis=0), kp.max(axis=0)
        extent = high - low
        box_h = max(extent[0] / ASPECT, extent[1]) * rng.uniform(1.05, 1.35)
        box = np.array([ASPECT * box_h, box_h])
        slack = box - extent
        origin = low - slack * rng.uniform(0.2, 0.8, size=2)
        keypoints[i] = (kp - origin) / box
        visible[i] = vis
    return keypoints.astype(np.float32), visible.astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--check", action="store_true", help="compare with --output; write nothing")
    args = parser.parse_args(argv)
    keypoints, visible = make_coco17_sample()
    if args.check:
        with np.load(args.output) as data:
            same = np.array_equal(data["keypoints"], keypoints) and np.array_equal(
                data["visible"], visible.astype(np.uint8)
            )
        print(f"{args.output}: {'up to date' if same else 'DIFFERS from the generator'}")
        return 0 if same else 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    # Visibility is stored as uint8 (0 / 1); load_coco17_sample returns float32.
    np.savez_compressed(args.output, keypoints=keypoints, visible=visible.astype(np.uint8))
    print(
        f"wrote {args.output} ({args.output.stat().st_size} bytes): keypoints {keypoints.shape}, "
        f"{100 * (1 - visible.mean()):.1f}% invisible"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
