"""Randomised cross-check of the coordinate, lifting and 3-D codecs against a live MMPose 1.3.2.

The companion of tests/mmpose_crosscheck.py (which dispatches here) for
RegressionLabel, IntegralRegressionLabel, Hand3DHeatmap and the lifting
codecs: random sizes, sigmas, depth bins, keypoint / instance / frame
counts, keypoints on exact half pixels (half voxels), on and one ulp off the
image edges, invisible keypoints, root indices, statistics, cameras and
noisy decode inputs. ``generate(seed, count, out)`` (oracle venv; the codecs
in turn, so ``count = 360`` gives 60 cases of each) writes per case the
config, the arguments of every call in the golden ``call`` format and
MMPose's outputs; ``compare(out)`` (project venv) builds each codec with
``jaxcodecs.build`` and compares under ``jax.jit`` by the rules of
tests/test_conformance.py (integers exactly, floats rtol = atol = 1e-5).
Where MMPose fails on a valid input (lifting root broadcast and removal,
SPEC rows 18 / 19) the case is checked, as there, by ``_lifting_any_frames``;
where MMPose's ``1 / lifting_target[:, 2]`` weight is infinite (row 20) the
port must give 0. Two documented deviations (docs/parity.md) are kept out
of the draws: subnormal inputs, flushed to 0 before MMPose sees them (N5:
XLA:CPU reads them as 0), and VideoPoseLifting's 1-D principal point (N6).
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import numpy as np

# kind -> MMPose codec; each codec's kinds in turn (``_kind_of``).
KINDS = {kind: codec for codec, kinds in (
    ("RegressionLabel", ("regression", "regression_edges")),
    ("IntegralRegressionLabel", ("integral", "integral_no_normalize", "integral_unbiased")),
    ("Hand3DHeatmap", ("hand3d", "hand3d_asym_sizes_weights", "hand3d_joint_indices", "hand3d_half_voxels")),
    ("ImagePoseLifting", ("image_lifting", "image_lifting_remove_root", "image_lifting_concat_vis",
                          "image_lifting_mean_std", "image_lifting_no_target_visible",
                          "image_lifting_frames")),  # frames: T > 1, MMPose fails (row 19)
    ("VideoPoseLifting", ("video_lifting", "video_lifting_remove_root", "video_lifting_no_zero_center",
                          "video_lifting_camera")),
    ("MotionBERTLabel", ("motionbert", "motionbert_camera", "motionbert_train", "motionbert_rootrel")),
) for kind in kinds}
# Policy: MMPose cannot encode the case; compared with the float64 NumPy
# reference of test_conformance instead, on targets in metres (a float32
# root of 3 joints in millimetres is 2.4e-4 from it, beyond atol 1e-5).
ANY_FRAMES = "any_frames"


# ------------------------------------------------------------------ drawing
def _visibility(rng, shape, none=0.15):
    values = rng.choice([0.0, 0.3, 0.5, 0.51, 0.9, 1.0, 1.0, 1.0], size=shape).astype(np.float32)
    return None if rng.random() < none else values


def _points(rng, shape, size, unit=1.0, edges=0.1):
    """``shape + (2,)`` float32 points over ``[-0.1, 1.1] x size``: 30 % on
    exact half ``unit``s, a fraction ``edges`` on 0, size - 1, size - 0.5,
    size or the centre, some of those one ulp off (below 0: a subnormal)."""
    size = np.asarray(size, np.float64)
    unit = np.broadcast_to(np.asarray(unit, np.float64), size.shape)
    kp = rng.uniform(-0.1, 1.1, shape + size.shape) * size
    half = rng.random(kp.shape) < 0.3
    kp[half] = (np.round(kp / unit * 2) / 2 * unit)[half]
    table = np.stack([0 * size, size - 1, size - 0.5, size, (size - 1) / 2])
    on_edge = table[rng.integers(0, len(table), kp.shape), np.arange(size.size)]
    kp = np.where(rng.random(kp.shape) < edges, on_edge, kp).astype(np.float32)
    nudge = rng.random(kp.shape) < edges / 3
    kp[nudge] = np.nextafter(kp[nudge], np.float32(rng.choice([-1, 1]) * np.inf))
    return kp


def _root_index(rng, k):
    if rng.random() < 0.3:
        return sorted(int(j) for j in rng.choice(k, int(rng.integers(2, 4)), replace=False))
    return int(rng.integers(0, k)) if rng.random() < 0.8 else [int(rng.integers(0, k))]


def _roots(root):
    return (root,) if isinstance(root, int) else tuple(root)


def _target(rng, t, k, c=3, scale=1.0, dtype=np.float32):
    """Camera-frame poses: x, y within 1, depth 3 to 7 (metres, x ``scale``).
    float64 poses stay in metres: the port rounds them to float32 (x64 off),
    2^-24 x 7000 mm = 4e-4 mm, beyond atol 1e-5 where a root-relative
    coordinate is near 0 (MMPose keeps the float64 value)."""
    scale = 1.0 if dtype == np.float64 else scale
    target = rng.uniform(-1, 1, (t, k, c))
    if c >= 3:
        target[..., 2] = rng.uniform(3, 7, (t, k))
    return (target * scale).astype(dtype)


def _camera(rng, fc=False):
    camera = {"w": int(rng.integers(100, 2000)), "h": int(rng.integers(100, 2000))}
    if fc:  # (2, 1) as H36M's, or (2,)
        shape = (2, 1) if rng.random() < 0.7 else (2,)
        camera["f"] = rng.uniform(800, 1500, shape)
        camera["c"] = (np.array([camera["w"], camera["h"]]) / 2).reshape(shape) + rng.uniform(-30, 30, shape)
    return camera


def _regression(kind, rng):
    if kind.startswith("integral"):
        width, height = (int(v) for v in rng.integers(12, 72, 2))
        stride = int(rng.choice([1, 2, 3, 4]))
        size = (width * stride + int(rng.integers(0, 9)), height * stride + int(rng.integers(0, 9)))
        config = dict(input_size=size, heatmap_size=(width, height),
                      sigma=float(rng.choice([0.8, 1.0, 1.2, 1.5, 1.7, 2.0, 2.5, 3.0])),
                      normalize=kind != "integral_no_normalize" and bool(rng.random() < 0.8))
        if kind == "integral_unbiased":
            config.update(unbiased=True, blur_kernel_size=int(rng.choice([3, 5, 7, 11])),
                          normalize=bool(rng.random() < 0.5))
        n, unit = 1, np.array(size, np.float64) / (width, height)
    else:
        size, n, unit = tuple(int(v) for v in rng.integers(16, 400, 2)), int(rng.integers(1, 5)), 1.0
        config = dict(input_size=size)
    k = int(rng.integers(1, 21))
    kp = _points(rng, (n, k), size, unit, edges=0.6 if kind == "regression_edges" else 0.1)
    kwargs = dict(keypoints=kp, keypoints_visible=_visibility(rng, (n, k)))

    def decodes(enc):  # pdec: float64 (N, K, 4) with per-axis sigma, or (N', K, 2)
        labels = enc["keypoint_labels"]
        noisy = np.concatenate([labels + rng.normal(0, 0.02, labels.shape), rng.uniform(0, 1.2, labels.shape)], -1)
        other = rng.uniform(-0.2, 1.2, (int(rng.integers(1, 4)), k, 2))
        return [("dec", dict(encoded=labels)), ("pdec", dict(encoded=noisy if rng.random() < 0.5 else other))]
    return config, kwargs, decodes, None


def _hand3d(kind, rng):
    half = kind == "hand3d_half_voxels"
    width, height = (int(v) for v in rng.integers(6, 41, 2))
    depth = int(rng.choice([4, 8, 16, 32])) if half else int(rng.integers(4, 41))
    stride = rng.integers(1, 6, 2)
    pad = (0, 0) if half else rng.integers(0, 9, 2)
    image = [int(width * stride[0] + pad[0]), int(height * stride[1] + pad[1])]
    bound = float(depth * 2.0 ** int(rng.integers(2, 6))) if half else float(
        rng.choice([100.0, 256.0, 333.3, 400.0, 512.0]))
    root_size, root_bound = int(rng.integers(8, 80)), float(rng.choice([200.0, 400.0, 555.5]))
    sigmas = [0.5, 1.0, 1.5, 2.0, 2.5] if half else [0.3, 0.8, 1.0, 1.2, 1.5, 1.7, 2.0, 2.5, 3.0, 4.0]
    max_bound = float(rng.choice([1.0, 1.0, 255.0, 0.5]))
    config = dict(image_size=image, heatmap_size=[width, height, depth], heatmap3d_depth_bound=bound,
                  heatmap_size_root=root_size, root_heatmap_size=root_size, root_depth_bound=root_bound,
                  depth_size=depth, sigma=float(rng.choice(sigmas)), max_bound=max_bound)
    n, k = int(rng.integers(1, 3)), int(rng.integers(2, 8))
    if kind == "hand3d_asym_sizes_weights":
        config.update(depth_size=depth + int(rng.choice([-3, -1, 2, 5, 16])),
                      root_heatmap_size=root_size + int(rng.choice([-5, 3, 16])), use_different_joint_weights=True)
    if kind == "hand3d_joint_indices":
        picks = rng.permutation(k)[: int(rng.integers(1, k + 1))] if rng.random() < 0.7 else rng.integers(-k, k, 4)
        config["joint_indices"] = [int(j) for j in picks]  # or repeated / negative indices
    size = np.array([width, height, depth], np.float64)
    if half:  # voxel centres on a half-voxel grid, converted exactly
        mu = np.round(rng.uniform(-0.15, 1.15, (n, k, 3)) * size * 2) / 2
        kp = np.stack([mu[..., 0] * stride[0], mu[..., 1] * stride[1], (mu[..., 2] / depth - 0.5) * bound], -1)
    else:
        kp = np.concatenate([rng.uniform(-0.2, 1.2, (n, k, 2)) * image, rng.uniform(-0.7, 0.7, (n, k, 1)) * bound], -1)
        kp[..., 2] = np.where(rng.random((n, k)) < 0.1, rng.choice([-0.5, 0.5]) * bound, kp[..., 2])
    root = rng.choice([rng.uniform(-0.7, 0.7), -0.5, 0.5, rng.uniform(-0.5, 0.5)]) * root_bound
    kwargs = dict(keypoints=kp.astype(np.float32), keypoints_visible=_visibility(rng, (n, k)),
                  dataset_keypoint_weights=rng.uniform(0.2, 2.0, k).astype(np.float32),
                  rel_root_depth=np.float32(root), rel_root_valid=float(rng.choice([1.0, 1.0, 0.0])),
                  hand_type=np.eye(2, dtype=np.int64)[[int(rng.integers(0, 2))]],
                  hand_type_valid=np.array([int(rng.integers(0, 2))]), focal=rng.uniform(500, 1500, 2),
                  principal_pt=rng.uniform(100, 200, 2))

    def decodes(enc):
        volumes = enc["heatmaps"].reshape(-1, depth, height, width)
        noisy = volumes + (rng.uniform(-0.03, 0.08, volumes.shape) * max_bound).astype(np.float32)
        if config["depth_size"] != depth and rng.random() < 0.5:  # volumes of depth_size bins
            noisy = (rng.uniform(-0.1, 0.5, (len(volumes), config["depth_size"], height, width)) * max_bound
                     ).astype(np.float32)
        channel = int(rng.integers(0, len(noisy)))
        if rng.random() < 0.4:  # no positive voxel: location -1
            noisy[channel] = -np.abs(noisy[channel]) - np.float32(0.01)
        elif rng.random() < 0.5:  # an exact tie with the maximum
            flat = noisy[channel].reshape(-1)
            flat[int(rng.integers(0, flat.size))] = flat.max()
        logits = np.where(rng.random((1, 2)) < 0.2, 0.0, rng.normal(size=(1, 2)))
        return [("dec", dict(heatmaps=volumes, root_depth=enc["root_depth"], hand_type=rng.normal(size=(1, 2)))),
                ("pdec", dict(heatmaps=noisy, root_depth=rng.uniform(-2, config["root_heatmap_size"] + 2, 1),
                              hand_type=logits))]
    return config, kwargs, decodes, None


def _lifting_prediction(rng, rows, joints, channels):
    """A random float32 / float64 prediction and a root: (1, C), (N, 1, C), none or empty."""
    pred = rng.normal(0, 0.3, (rows, joints, channels)).astype(rng.choice([np.float32, np.float64]))
    choice = int(rng.integers(0, 4))
    root = [rng.normal(0, 1, (1, channels)), rng.normal(0, 1, (rows, 1, channels)), None,
            np.zeros((0,), np.float32)][choice]
    return dict(encoded=pred, target_root=root.astype(np.float32) if choice < 2 else root)


def _image_lifting(kind, rng):
    k, c = int(rng.integers(3, 18)), 3 if rng.random() < 0.8 else int(rng.choice([2, 4]))
    n = int(rng.integers(1, 6)) if kind in ("image_lifting_concat_vis", "image_lifting_frames") else (
        1 if rng.random() < 0.6 else int(rng.integers(2, 4)))
    t = int(rng.integers(2, 5)) if kind == "image_lifting_frames" else 1
    d = int(rng.choice([2, 3])) if kind == "image_lifting_concat_vis" else 2
    root = _root_index(rng, k)
    config = dict(num_keypoints=k, root_index=root, reshape_keypoints=bool(rng.random() < 0.5),
                  concat_vis=kind == "image_lifting_concat_vis" or bool(rng.random() < 0.2),
                  remove_root=len(_roots(root)) > 1 and bool(rng.random() < 0.4))
    if kind == "image_lifting_remove_root":
        root = int(rng.integers(0, k)) if rng.random() < 0.3 else [0, [0]][int(rng.integers(0, 2))]
        config.update(root_index=root, remove_root=True, save_index=bool(rng.random() < 0.5))
    if kind == "image_lifting_mean_std":
        remove = bool(rng.random() < 0.5)
        root = [0, [0]][int(rng.integers(0, 2))] if remove else root
        joints = k - 1 if remove else k
        config.update(root_index=root, remove_root=remove, save_index=remove and bool(rng.random() < 0.5),
                      keypoints_mean=rng.uniform(300, 700, (k, d)).tolist(),
                      keypoints_std=rng.uniform(50, 150, (k, d)).tolist(),
                      target_mean=rng.normal(0, 0.1, (1, joints, c)).tolist(),
                      target_std=rng.uniform(0.1, 0.5, (1, joints, c)).tolist())
    removes = config["remove_root"] and len(_roots(config["root_index"])) == 1
    policy = ANY_FRAMES if t > 1 or (removes and _roots(config["root_index"])[0] >= t) else None
    target = _target(rng, t, k, c, 1.0 if policy else float(rng.choice([1.0, 1000.0])),
                     np.float64 if rng.random() < 0.2 else np.float32)
    target_vis = None if kind == "image_lifting_no_target_visible" and policy is None else (
        _visibility(rng, (t, k), none=0.0 if policy else 0.1))
    if target_vis is None and rng.random() < 0.4:  # MMPose's 1 / 0 trajectory weight (row 20)
        target[int(rng.integers(0, t)), 2, int(rng.integers(0, c))] = 0
    kwargs = dict(keypoints=rng.uniform(0, 1000, (n, k, d)).astype(np.float32),
                  keypoints_visible=_visibility(rng, (n, k)), lifting_target=target,
                  lifting_target_visible=target_vis)

    def decodes(enc):
        rows = 1 if "target_mean" in config else int(rng.integers(1, 4))
        return [("dec", dict(encoded=enc["lifting_target_label"], target_root=enc["target_root"])),
                ("pdec", _lifting_prediction(rng, rows, k - int(removes), c))]
    return config, kwargs, decodes, policy


def _video_lifting(kind, rng):
    k, n = int(rng.integers(3, 18)), int(rng.integers(1, 6))
    t = n if rng.random() < 0.5 else 1
    root = _root_index(rng, k)
    config = dict(num_keypoints=k, root_index=root, reshape_keypoints=bool(rng.random() < 0.5),
                  concat_vis=bool(rng.random() < 0.3), remove_root=len(_roots(root)) > 1 and bool(rng.random() < 0.4))
    if kind == "video_lifting_remove_root":
        t, root = int(rng.integers(1, 6)), int(rng.integers(0, min(k, 6)))
        config.update(root_index=root if rng.random() < 0.7 else [root], remove_root=True,
                      save_index=bool(rng.random() < 0.5))
    if kind == "video_lifting_no_zero_center":
        config.update(zero_center=False, remove_root=bool(rng.random() < 0.4))
    camera = _camera(rng, fc=kind == "video_lifting_camera")
    if kind == "video_lifting_camera":  # c (2, 1): a (2,) c is row N6, fixed
        camera["k"], camera["c"] = rng.normal(0, 0.1, (3, 1)), camera["c"].reshape(2, 1)
        config.update(normalize_camera=True, concat_vis=bool(rng.random() < 0.5))
    zero_center = config.get("zero_center", True)
    removes = zero_center and config["remove_root"] and len(_roots(config["root_index"])) == 1
    policy = ANY_FRAMES if removes and _roots(config["root_index"])[0] >= t else None
    target = _target(rng, t, k, 3, 1.0 if policy else float(rng.choice([1.0, 1000.0])),
                     np.float64 if rng.random() < 0.2 else np.float32)
    target_vis = _visibility(rng, (t, k), none=0.0 if policy else 0.3)
    if target_vis is None and rng.random() < 0.4:
        target[int(rng.integers(0, t)), 2, int(rng.integers(0, 3))] = 0
    kp = _points(rng, (n, k), (camera["w"], camera["h"]))
    kwargs = dict(keypoints=kp, keypoints_visible=_visibility(rng, (n, k)), lifting_target=target,
                  lifting_target_visible=target_vis, camera_param=camera)

    def decodes(enc):
        dec = dict(encoded=enc["lifting_target_label"])
        if zero_center:
            dec["target_root"] = enc["target_root"][:, None] if t > 1 else enc["target_root"]
        return [("dec", dec), ("pdec", _lifting_prediction(rng, int(rng.integers(1, 4)), k - int(removes), 3))]
    return config, kwargs, decodes, policy


def _motionbert(kind, rng):
    k, t = int(rng.integers(3, 18)), int(rng.integers(1, 6))
    config = dict(num_keypoints=k, root_index=int(rng.integers(0, k)), concat_vis=bool(rng.random() < 0.3))
    fc = kind == "motionbert_camera" or (kind != "motionbert" and rng.random() < 0.5)
    if kind == "motionbert_train":
        config["mode"] = str(rng.choice(["train", "TRAIN", "Train"]))
    if kind == "motionbert_rootrel":
        config.update(rootrel=True, concat_vis=bool(rng.random() < 0.5), remove_root=bool(rng.random() < 0.5),
                      save_index=bool(rng.random() < 0.5))
    camera = _camera(rng, fc=fc)
    d = 3 if kind == "motionbert_rootrel" else 2
    kp = _points(rng, (t, k), (camera["w"], camera["h"]))
    if d == 3:
        kp = np.concatenate([kp, rng.uniform(0, 1, (t, k, 1)).astype(np.float32)], -1)
    factor = [None, rng.uniform(0.5, 5.0, t).astype(np.float32), np.zeros(t, np.float32),
              rng.uniform(0.5, 5.0, (t, 1)).astype(np.float32)][int(rng.integers(0, 4))]
    kwargs = dict(keypoints=kp, keypoints_visible=_visibility(rng, (t, k)),
                  lifting_target=_target(rng, t, k, 3, 1.0 if fc else float(rng.choice([1.0, 1000.0]))),
                  lifting_target_visible=_visibility(rng, (t, k), none=0.3), camera_param=camera, factor=factor)

    def decodes(enc):
        rows = int(rng.integers(1, 4))
        size = rng.integers(100, 2000, (2, rows, 1)).astype(np.float64)
        xfactor = rng.uniform(0.5, 5.0, (rows, 1) if rows > 1 or rng.random() < 0.5 else (1,))
        return [("dec", dict(encoded=enc["lifting_target_label"], w=np.full(t, float(camera["w"])),
                             h=np.full(t, float(camera["h"])), factor=enc["factor"])),
                ("pdec", dict(encoded=rng.normal(0, 0.5, (rows, k, 3)).astype(np.float32))),
                ("xdec", dict(encoded=rng.normal(0, 0.5, (rows, k, 3)), w=size[0], h=size[1], factor=xfactor))]
    return config, kwargs, decodes, None


DRAW = {"RegressionLabel": _regression, "IntegralRegressionLabel": _regression, "Hand3DHeatmap": _hand3d,
        "ImagePoseLifting": _image_lifting, "VideoPoseLifting": _video_lifting, "MotionBERTLabel": _motionbert}


# ------------------------------------------------------------- recording
def _spec(value, name: str, store: dict):
    """``value`` in the golden ``call`` format, its arrays put in ``store``."""
    if isinstance(value, dict):
        return {"dict": {key: _spec(item, f"{name}/{key}", store) for key, item in value.items()}}
    if isinstance(value, np.ndarray):
        store[name] = value.copy()
        return "@" + name
    if isinstance(value, np.generic):
        store[name] = np.asarray(value)
        return {"numpy_scalar": "@" + name}
    return value  # None or a Python number


def _flushed(value):
    """``value`` with subnormal floats made 0, as XLA:CPU reads them (N5)."""
    if isinstance(value, dict):
        return {key: _flushed(item) for key, item in value.items()}
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return np.where(np.abs(value) < np.finfo(value.dtype).tiny, np.zeros_like(value), value)
    return value


def _record(value, name: str, store: dict) -> None:
    """MMPose's outputs as flat arrays: ``enc/key[/sub]``, ``dec/0`` ..."""
    if isinstance(value, dict):
        for key, item in value.items():
            _record(item, f"{name}/{key}", store)
    elif isinstance(value, (tuple, list)):
        for j, item in enumerate(value):
            _record(item, f"{name}/{j}", store)
    else:
        store[name] = np.asarray(value)


def _kind_of(i: int) -> str:
    """Case ``i``'s kind: the codecs in turn, each cycling through its kinds."""
    codecs = list(dict.fromkeys(KINDS.values()))
    kinds = [kind for kind, codec in KINDS.items() if codec == codecs[i % len(codecs)]]
    return kinds[(i // len(codecs)) % len(kinds)]


def generate(seed: int, count: int, out: Path) -> None:
    """Runs MMPose on ``count`` random cases (call with the oracle venv's python)."""
    from mmpose_crosscheck import oracle_codecs  # noqa: PLC0415

    mm = oracle_codecs()
    rng = np.random.default_rng(seed)
    arrays: dict[str, np.ndarray] = {}
    meta = []
    for i in range(count):
        kind = _kind_of(i)
        name = KINDS[kind]
        config, kwargs, decodes, policy = DRAW[name](kind, rng)
        kwargs = _flushed(kwargs)
        codec = getattr(mm, name)(**copy.deepcopy(config))
        store: dict[str, np.ndarray] = {}
        call = {"encode": {key: _spec(value, f"in/{key}", store) for key, value in kwargs.items()}, "decodes": []}
        if policy is None:  # MMPose's answer; otherwise it raises (rows 18 / 19)
            with np.errstate(all="ignore"):
                encoded = codec.encode(**copy.deepcopy(kwargs))
            _record(encoded, "enc", store)
            for prefix, dec_kwargs in decodes(encoded):
                dec_kwargs = _flushed(dec_kwargs)
                spec = {key: _spec(value, f"{prefix}_in/{key}", store) for key, value in dec_kwargs.items()}
                call["decodes"].append({"prefix": prefix, "kwargs": spec})
                with np.errstate(all="ignore"):
                    _record(codec.decode(**copy.deepcopy(dec_kwargs)), prefix, store)
        arrays.update({f"{i}/{key}": value for key, value in store.items()})
        meta.append(dict(kind=kind, policy=policy, config=dict(config, type=name), call=call))
    np.savez_compressed(out, meta=np.array(json.dumps(meta)), **arrays)
    print(f"wrote {count} MMPose cases to {out}")


# --------------------------------------------------------------- comparing
def _compare_outputs(prefix: str, output, arrays: dict, assert_close) -> list[str]:
    """Every MMPose output recorded under ``prefix`` against the port's:
    same shape, finite, integers exactly, floats rtol = atol = 1e-5 (NaN in
    MMPose skipped as in compare_encode; an infinite trajectory weight must
    be 0 in the port, row 20)."""
    problems = []
    for name in sorted(n for n in arrays if n.startswith(prefix + "/")):
        ref = arrays[name]
        try:
            out = output
            for part in name[len(prefix) + 1:].split("/"):
                out = out[int(part)] if isinstance(out, (tuple, list)) else out[part]
            out = np.asarray(out)
        except (KeyError, IndexError, TypeError):
            problems.append(f"{name}: missing in the port's output")
            continue
        if out.shape != ref.shape:
            problems.append(f"{name}: shape {out.shape} != MMPose {ref.shape}")
            continue
        if out.dtype.kind == "f" and not np.isfinite(out).all():
            problems.append(f"{name}: port returned NaN/Inf")
            continue
        keep = np.ones(ref.shape, bool)
        if ref.dtype.kind == "f":
            keep = ~np.isnan(ref)
            infinite = np.isinf(ref)
            if infinite.any() and name.endswith("trajectory_weights"):
                if np.any(out[infinite] != 0):
                    problems.append(f"{name}: MMPose's 1/0 weights must be 0, got {out[infinite].tolist()}")
                keep &= ~infinite
        try:
            assert_close(ref[keep], out[keep], name, atol=1e-5, rtol=1e-5)
        except AssertionError as error:
            problems.append(" ".join(str(error).split())[:400])
    return problems


def compare(path: Path) -> int:
    """Compares jaxcodecs with the cases ``generate`` wrote; prints one line
    per mismatching case and a summary, returns the mismatch count."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import jaxcodecs  # noqa: PLC0415
    from test_conformance import _lifting_any_frames, assert_close, call_jitted, resolve  # noqa: PLC0415

    data = np.load(path, allow_pickle=False)
    meta = json.loads(str(data["meta"]))
    by_case: dict[str, dict[str, np.ndarray]] = {}
    for name in data.files:
        if name != "meta":
            i, rest = name.split("/", 1)
            by_case.setdefault(i, {})[rest] = data[name]
    mismatches, tally = 0, {}
    for i, case in enumerate(meta):
        arrays = by_case.get(str(i), {})
        problems = []
        try:
            codec = jaxcodecs.build(case["config"])
            encoded = call_jitted(codec.encode, resolve(case["call"]["encode"], arrays))
            if case["policy"] == ANY_FRAMES:
                _lifting_any_frames(codec, arrays, encoded)
            else:
                problems += _compare_outputs("enc", encoded, arrays, assert_close)
            for dec in case["call"]["decodes"]:
                decoded = call_jitted(codec.decode, resolve(dec["kwargs"], arrays))
                problems += _compare_outputs(dec["prefix"], decoded, arrays, assert_close)
        except AssertionError as error:
            problems.append(" ".join(str(error).split())[:400])
        except Exception as error:  # noqa: BLE001 - the port failed on a valid input
            problems.append(f"raised {type(error).__name__}: {' '.join(str(error).split())[:300]}")
        codec_name = case["config"]["type"]
        runs, ok = tally.get(codec_name, (0, 0))
        tally[codec_name] = (runs + 1, ok + (not problems))
        if problems:
            mismatches += 1
            print(f"case {i} [{case['kind']}] {json.dumps(case['config'])}: " + "; ".join(problems))
    for codec_name, (runs, ok) in tally.items():
        print(f"  {codec_name}: {ok} of {runs} match")
    print(f"{len(meta) - mismatches} of {len(meta)} random cases match MMPose")
    return mismatches
