"""Randomised cross-check of the multi-person codecs against a live MMPose 1.3.2.

For AssociativeEmbedding, DecoupledHeatmap, SPR, EDPoseLabel and YOLOXPoseAnnotationProcessor (tests/
mmpose_crosscheck.py dispatches here): random map and input sizes (odd, even, non-square, non-integer
scales), sigmas, keypoint counts, 0 to 8 people, keypoints on half pixels, on the map's edges and off it,
(fractionally) invisible keypoints, decodes of exact and perturbed targets. ``generate(seed, count, out)``
(oracle venv; the codecs in turn: ``count = 200`` gives 40 of each) writes MMPose's answers in the
golden-vector layout; ``compare(out)`` (project venv) runs the port under ``jax.jit`` through
tests/test_conformance.py's helpers (tolerances, padded and tied rows, AE group order, NaN, CID draws).
AE's documented ties (docs/parity.md, "Equal costs and equal peaks") are told apart: MMPose also runs with
row-major top-k (the port's order of equal candidates), Munkres calls where another optimal matching
joins other pairs are counted, and a run apart only there is "decided by ties", not a mismatch.
"""

import contextlib
import json
import sys
import traceback
from pathlib import Path

import numpy as np

CODECS = {"AssociativeEmbedding": ("ae", "ae_udp", "ae_tags", "ae_capped"),
          "DecoupledHeatmap": ("cid", "cid_bbox", "cid_crowd"), "SPR": ("spr", "spr_kpt", "spr_options"),
          "EDPoseLabel": ("edpose", "edpose_partial"),
          "YOLOXPoseAnnotationProcessor": ("yolox", "yolox_int", "yolox_labels")}
KINDS = {kind: codec for codec, kinds in CODECS.items() for kind in kinds}


def _grid(rng, lo: int, hi: int) -> dict:
    """Heatmap ``(W, H)`` in ``[lo, hi)``; input a stride 1-4 larger, half the time a few pixels more."""
    size, stride = rng.integers(lo, hi, 2), int(rng.choice([1, 2, 3, 4]))
    extra = rng.integers(0, stride + 3, 2) * (rng.random() < 0.5)
    return dict(input_size=[int(v) for v in size * stride + extra], heatmap_size=[int(v) for v in size])


def _people(rng, n: int, k: int, input_size, per_pixel, levels=(1.0, 1.0, 1.0, 0.0, 2.0, 0.4, 0.7)):
    """``n`` people of ``k`` keypoints (input pixels) and visibility: some off the image, a quarter on half
    map pixels, a few on 0, -0.5, -1, W - 1, W - 0.5 or W map pixels; a person twice or with one keypoint."""
    wh = np.asarray(input_size, np.float64)
    kp = (rng.uniform(-0.05, 1.05, (n, 1, 2)) + rng.standard_normal((n, k, 2)) * rng.uniform(0.02, 0.3, (n, 1, 1))) * wh
    half = rng.random((n, k)) < 0.25
    kp[half] = np.round(kp[half] * per_pixel * 2) / 2 / per_pixel
    edge = rng.random((n, k)) < 0.08
    kp[edge] = rng.choice([0.0, -1.0, -0.5], (edge.sum(), 2)) / per_pixel + (rng.random((edge.sum(), 2)) < 0.5) * wh
    vis = rng.choice(levels, (n, k))
    if n > 1 and rng.random() < 0.25:
        kp[-1] = kp[0]
    single = rng.random(n) < 0.15  # one visible keypoint: a box of no size (equal diagonals)
    vis[single] = np.eye(k)[rng.integers(0, k, single.sum())]
    return kp.astype(np.float32), vis.astype(np.float32)


def _noisy(rng, maps, spread=0.02, negative=0.0) -> np.ndarray:
    """Maps scaled per channel and perturbed; a share ``negative`` of the channels made negative."""
    out = maps * rng.uniform(0.7, 1.0, maps.shape[:-2] + (1, 1)) + rng.normal(0, spread, maps.shape)
    low = rng.random(maps.shape[:-2]) < negative
    out[low] = -np.abs(out[low]) - 0.01
    return out.astype(np.float32)


def _tag_maps(rng, kp, vis, scale, dims, size) -> np.ndarray:
    """Tags ``(dims * K, H, W)``: N(0, 0.1), each person's tag in 3x3 patches at its drawn keypoints:
    random, or n times 1 or 2 (golden vectors' style: exact distances, some equal to ``decode_tag_thr``)."""
    (width, height), (num, joints) = size, kp.shape[:2]
    tags = rng.normal(0, 0.1, (dims * joints, height, width)).astype(np.float32)
    values = rng.normal(0, rng.uniform(0.5, 3.0), (num, dims))
    if rng.random() < 0.4:
        values = np.arange(num)[:, None] * rng.choice([1.0, 2.0]) + np.zeros_like(values)
    pixels = np.trunc(kp / scale + 0.5).astype(np.int64)
    for n, k in np.ndindex(num, joints):
        x, y = pixels[n, k]
        if vis[n, k] >= 0.5 and 0 <= x < width and 0 <= y < height:
            tags[k::joints, max(y - 1, 0):y + 2, max(x - 1, 0):x + 2] = values[n, :, None, None]
    return tags


def _ftz(encoded: dict) -> dict:
    """Subnormal floats as 0, as XLA:CPU reads them (docs/parity.md N5): the targets the decodes start from."""
    tiny = np.finfo(np.float32).tiny
    return {k: np.where(np.abs(v) < tiny, 0, v).astype(v.dtype) if isinstance(v, np.ndarray) and v.dtype.kind == "f"
            else v for k, v in encoded.items()}


def _record(arrays, prefix, names, values) -> list[str]:
    arrays.update({f"{prefix}/{n}": np.asarray(v) for n, v in zip(names, values)})
    return [f"@{prefix}/{n}" for n in names]


# ------------------------------------------------------------- the codecs
def _ae_case(kind, rng, build, arrays):
    import torch

    config = dict(_grid(rng, 10, 64), type="AssociativeEmbedding", use_udp=kind == "ae_udp")
    joints = int(rng.choice([1, 2, 3, 4, 5, 6, 8, 17]))
    config["decode_keypoint_order"] = list(range(joints)) if kind == "ae" else rng.permutation(joints).tolist()
    if kind != "ae" or rng.random() < 0.5:
        config["decode_topk"] = int(rng.integers(1, 12))
    if rng.random() < 0.6:
        config["sigma"] = float(rng.choice([0.8, 1.0, 1.5, 1.7, 2.0, 2.5]))
    if kind != "ae":  # (the blur kernel is read with use_udp only; MMPose's blur fails for 1)
        config.update(decode_nms_kernel=int(rng.choice([1, 3, 5, 7])),
                      decode_gaussian_kernel=int(rng.choice([3, 5, 7])),
                      decode_keypoint_thr=float(rng.choice([0.05, 0.1, 0.2])),
                      decode_tag_thr=float(rng.choice([0.5, 1.0, 1.5])))
    if kind == "ae_capped":  # also more rows than the pool of K * decode_topk groups
        most = int(rng.choice([1, 2, 3, joints * config["decode_topk"] + 3]))
        config.update(decode_max_instances=most, decode_center_shift=float(rng.choice([0.5, -0.3])))
    codec, row_major = build(config), build(config)
    row_major._get_batch_topk = _row_major_topk  # docs/parity.md: the port's order of equal values
    scale = codec.scale_factor.astype(np.float64)
    kp, vis = _people(rng, int(rng.integers(0, 5)), joints, config["input_size"], 1 / scale)
    arrays.update({"in/keypoints": kp, "in/keypoints_visible": vis})
    enc = _ftz(codec.encode(kp.copy(), vis.copy()))
    dims = int(rng.integers(2, 4)) if kind == "ae_tags" else 1
    tags = _tag_maps(rng, kp, vis, scale, dims, config["heatmap_size"])
    noisy = [(_noisy(rng, enc["heatmaps"]), _noisy(rng, tags, 0.05)) for _ in range(2)]
    module = sys.modules[type(codec).__module__]
    decodes = []
    for prefix, (heatmaps, tag_maps) in {"dec": ([enc["heatmaps"]], [tags]), "pdec": zip(*noisy)}.items():
        batch = {"batch_heatmaps": np.stack(heatmaps), "batch_tags": np.stack(tag_maps)}
        arrays.update({f"{prefix}_in/{k}": v.copy() for k, v in batch.items()})
        specs, ties = {}, []
        for tag, oracle in (("", codec), ("rowmajor/", row_major)):
            solve, norm, distances = module._py_max_match, np.linalg.norm, []
            module._py_max_match = _tie_counting(solve, ties, distances, config.get("decode_tag_thr", 1.0))
            np.linalg.norm = lambda *args, **kw: distances.append(norm(*args, **kw)) or distances[-1]
            try:
                out = oracle.batch_decode(*(torch.from_numpy(v.copy()) for v in batch.values()))
            finally:
                module._py_max_match, np.linalg.norm = solve, norm
            specs[tag] = {"tuple": [{"list": _record(arrays, prefix, [f"{tag}{name}/b{b}" for b in range(len(v))], v)}
                                    for name, v in zip(("keypoints", "scores", "instance_scores"), out)]}
        arrays[f"{prefix}/munkres_ties"] = np.asarray(len(ties))
        decodes.append(dict(prefix=prefix, method="batch_decode", outputs=specs[""], rowmajor=specs["rowmajor/"],
                            kwargs={k: {"torch": f"@{prefix}_in/{k}"} for k in batch}))
    return config, enc, decodes, {}


def _tie_counting(solve, ties: list, distances: list, tag_thr: float):
    """MMPose's matching step, noting each call where another optimal matching joins other pairs (a pair
    joins when its tag distance, MMPose's last ``np.linalg.norm`` before the call, is < tag_thr)."""
    from scipy.optimize import linear_sum_assignment

    def matching(cost):
        cost = np.array(cost, np.float64)
        pairs = solve(cost.copy())
        real = cost < 1e9  # not MMPose's 1e10 padding (as many of them in every full matching)
        chosen = np.zeros(cost.shape, bool)
        chosen[tuple(pairs.T)] = True
        best = cost[chosen & real].sum()
        joins = np.zeros(cost.shape, bool)
        joins[:, :distances[-1].shape[1]] = distances[-1] < tag_thr
        for r, c in zip(*np.nonzero(joins)):
            other = cost.copy()  # the best matching without (r, c) if MMPose's has it, else with it
            other[r, c] = 1e15
            if not chosen[r, c]:
                other[r], other[:, c], other[r, c] = 1e15, 1e15, cost[r, c]
            rows, cols = linear_sum_assignment(other)
            if other[rows, cols].max() < 1e15 and abs(cost[rows, cols][real[rows, cols]].sum() - best) <= 1e-9 * (
                    1 + abs(best)):
                ties.append((r, c))
                break
        return pairs

    return matching


def _row_major_topk(batch_heatmaps, batch_tags, k):
    """Top-k values (equal ones in row-major order), tags ``(B, K, k, L)`` and locations ``(x, y)``."""
    batch, joints, _, width = batch_heatmaps.shape
    flat = batch_heatmaps.flatten(-2, -1)
    index = flat.new_tensor(np.argsort(-flat.numpy(), axis=-1, kind="stable")[..., :k]).long()
    per_dim = batch_tags.reshape(batch, batch_tags.shape[1] // joints, joints, -1)
    tags = per_dim.gather(3, index[:, None].expand(-1, per_dim.shape[1], -1, -1)).permute(0, 2, 3, 1)
    xy = (index[..., None] // index.new_tensor([1, width])) % index.new_tensor([width, flat.shape[-1]])
    return flat.gather(-1, index), tags, xy  # (x, y) = (i % W, i // W)


def _recorded_draws(codec, kwargs, arrays, rng):
    """MMPose's encode, its draws recorded as in the golden vectors (``enc_rng/randint`` rows in call
    order, ``enc_rng/sample``) with each offset's instance (``enc_rng/instance``, MMPose's loop variable)."""
    import random

    np.random.seed(int(rng.integers(2**31)))
    random.seed(int(rng.integers(2**31)))
    draws, visited, sample = [], [], []
    randint, choose, argsort = np.random.randint, random.sample, np.argsort
    # Equal diagonals visited in input order (docs/parity.md, DecoupledHeatmap "Visiting order"), as
    # NumPy's insertion sort of small arrays does; its AVX-512 sort (NumPy 1.26) orders them otherwise.
    np.argsort = lambda a, *args, **kw: argsort(a, kind="stable")
    np.random.randint = lambda *args, **kw: visited.append(int(sys._getframe(1).f_locals["i"])) or draws.append(
        randint(*args, **kw)) or draws[-1]
    random.sample = lambda *args, **kw: sample.append(choose(*args, **kw)) or sample[-1]
    try:
        enc = codec.encode(**kwargs)
    finally:
        np.random.randint, random.sample, np.argsort = randint, choose, argsort
    arrays.update({"enc_rng/randint": np.asarray(draws, np.int64).reshape(-1, 2), "enc_rng/instance": np.asarray(
        visited, np.int64)} | ({"enc_rng/sample": np.asarray(sample[0], np.int64)} if sample else {}))
    return enc


def _cid_case(kind, rng, build, arrays):
    config = dict(_grid(rng, 8, 72), type="DecoupledHeatmap")
    if kind != "cid":
        config.update(root_type=str(rng.choice(["kpt_center", "bbox_center"])),
                      heatmap_min_overlap=float(rng.uniform(0.05, 0.97)))
    if kind == "cid_crowd":
        config["encode_max_instances"] = int(rng.integers(1, 4))
    codec, joints = build(config), int(rng.integers(2, 18))
    num = int(rng.integers(3, 9)) if kind == "cid_crowd" else int(rng.integers(0, 5))
    kp, vis = _people(rng, num, joints, config["input_size"], 1 / codec.scale_factor.astype(np.float64))
    kwargs = {"keypoints": kp, "keypoints_visible": vis}
    if kind == "cid_bbox" or (kind == "cid_crowd" and rng.random() < 0.5):
        lo = np.nan_to_num(np.where(vis[..., None] > 0, kp, np.inf).min(1), posinf=0.0)
        hi = np.nan_to_num(np.where(vis[..., None] > 0, kp, -np.inf).max(1), neginf=0.0)
        grow = rng.uniform(0, 12, (2, num, 2)) * (rng.random((num, 1)) < 0.8)  # else a box of no size
        lo, hi = lo - grow[0], hi + grow[1]
        kwargs["bbox"] = np.stack([lo, np.stack([lo[:, 0], hi[:, 1]], -1), np.stack([hi[:, 0], lo[:, 1]], -1),
                                   hi], 1).astype(np.float32)
    arrays.update({f"in/{k}": v.copy() for k, v in kwargs.items()})
    enc = _ftz(_recorded_draws(codec, kwargs, arrays, rng))
    width, height = config["heatmap_size"]
    rows = len(enc["instance_coords"])
    blocks = np.asarray(enc["instance_heatmaps"], np.float32).reshape(rows, joints, height, width)
    runs = {"dec": blocks} if rows else {}
    runs["pdec"] = _noisy(rng, blocks if rows else rng.random((2, joints, height, width)) ** 8, 0.03, 0.1)
    decodes = []
    for prefix, maps in runs.items():
        scores = rng.uniform(0.05, 1.0, (len(maps), 1)).astype(np.float32)
        arrays.update({f"{prefix}_in/instance_heatmaps": maps, f"{prefix}_in/instance_scores": scores})
        outputs = _record(arrays, prefix, ("keypoints", "scores"), codec.decode(maps.copy(), scores.copy()))
        decodes.append(dict(prefix=prefix, method="decode", outputs={"tuple": outputs},
                            kwargs={k: f"@{prefix}_in/{k}" for k in ("instance_heatmaps", "instance_scores")}))
    return config, enc, decodes, {"global_rng": True}


def _spr_case(kind, rng, build, arrays):
    import torch

    config = dict(_grid(rng, 8, 80 if kind == "spr_kpt" else 56), type="SPR")
    pick = rng.random()
    if kind == "spr_kpt":
        config.update(generate_keypoint_heatmaps=True, root_type=str(rng.choice(["kpt_center", "bbox_center"])))
        if pick < 0.6:
            config["sigma"] = [float(rng.uniform(1.0, 5.0)), float(rng.choice([0.7, 1.0, 1.5, 2.0, 2.5]))]
    elif pick < 0.7:
        sigma = float(rng.choice([1.0, 1.5, 2.0, 2.5, 3.3, 4.0]))
        config["sigma"] = [sigma] if rng.random() < 0.4 else sigma
    if kind == "spr_options":
        config.update(root_type="bbox_center", minimal_diagonal_length=float(rng.uniform(0, 15)),
                      background_weight=float(rng.uniform(0, 0.5)), decode_nms_kernel=int(rng.choice([3, 5, 7])),
                      decode_max_instances=int(rng.integers(1, min(40, np.prod(config["heatmap_size"])) + 1)),
                      decode_thr=float(rng.choice([0.005, 0.05, 0.2])))
    codec = build(config)
    kp, vis = _people(rng, int(rng.integers(0, 6)), int(rng.integers(2, 18)), config["input_size"],
                      1 / codec.scale_factor.astype(np.float64), (1.0, 1.0, 0.0, 2.0, 0.5, 0.3, 0.8))
    arrays.update({"in/keypoints": kp, "in/keypoints_visible": vis})
    with np.errstate(all="ignore"):
        enc = _ftz(codec.encode(kp.copy(), vis.copy()))
    maps = (enc["heatmaps"], enc["displacements"])
    runs = {"dec": maps, "pdec": (maps[0] + rng.uniform(-0.02, 0.05, maps[0].shape),
                                  maps[1] + rng.normal(0, 0.3, maps[1].shape))}
    decodes, names = [], ("heatmaps", "displacements")
    for prefix, maps in runs.items():
        maps = [np.array(m, np.float32) for m in maps]
        arrays.update({f"{prefix}_in/{n}": m for n, m in zip(names, maps)})
        keypoints, (roots, scores) = codec.decode(*(torch.from_numpy(m.copy()) for m in maps))
        specs = [{"tensor": spec} for spec in _record(arrays, prefix, ("keypoints", "scores/root_scores"),
                                                      (keypoints.numpy(), roots.numpy()))]
        specs.append({"none": True} if scores is None else
                     {"tensor": _record(arrays, prefix, ["scores/keypoint_scores"], [scores.numpy()])[0]})
        decodes.append(dict(prefix=prefix, method="decode", outputs={"tuple": [specs[0], {"tuple": specs[1:]}]},
                            kwargs={n: {"torch": f"@{prefix}_in/{n}"} for n in names}))
    return config, enc, decodes, {}


def _edpose_case(kind, rng, build, arrays):
    joints = int(rng.integers(1, 18))
    codec = build(config := dict(type="EDPoseLabel", num_select=int(rng.integers(1, 13)), num_keypoints=joints))
    (w, h), num = rng.integers(16, 1400, 2).tolist(), int(rng.integers(0, 5))
    kp, vis = _people(rng, num, joints, (w, h), np.ones(2))
    lo, hi = kp.min(1) - rng.uniform(0, 30, (num, 2)), kp.max(1) + rng.uniform(0, 30, (num, 2))
    inputs = {"keypoints": kp, "keypoints_visible": vis, "area": rng.uniform(1, w * h, num).astype(np.float32),
              "bboxes": np.concatenate([lo, hi], 1).astype(np.float32)}
    if kind == "edpose_partial":
        if rng.random() < 0.5:
            inputs.update(keypoints=np.round(kp).astype(np.int64), area=inputs["area"].astype(np.float64))
        inputs = {k: v for k, v in inputs.items() if k == "keypoints" or rng.random() < 0.5}
    arrays.update({f"in/{k}": v.copy() for k, v in inputs.items()})
    enc = codec.encode((w, h), **{k: v.copy() for k, v in inputs.items()})
    decodes = []
    for prefix in ("dec", "pdec"):  # no equal logits: NumPy's AVX-512 argsort does not keep them in order
        queries, classes = int(rng.integers(1, 13)), int(rng.integers(1, 5))
        preds = {"input_shapes": np.array([h, w]) if prefix == "dec" else rng.integers(16, 1400, 2),
                 "pred_logits": rng.normal(0, 2, (queries, classes)).astype(np.float32),
                 "pred_boxes": rng.uniform(0, 1, (queries, 4)).astype(np.float32),
                 "pred_keypoints": rng.uniform(-0.1, 1.1, (queries, 3 * joints)).astype(np.float32)}
        arrays.update({f"{prefix}_in/{k}": v for k, v in preds.items()})
        outputs = _record(arrays, prefix, ("boxes", "keypoints", "scores"), codec.decode(*preds.values()))
        decodes.append(dict(prefix=prefix, method="decode", kwargs={k: f"@{prefix}_in/{k}" for k in preds},
                            outputs={"tuple": outputs}))
    return config, enc, decodes, {"kwargs": {"img_shape": {"tuple": [w, h]}, **{k: f"@in/{k}" for k in inputs}}}


def _yolox_case(kind, rng, build, arrays):
    config = dict(type="YOLOXPoseAnnotationProcessor", expand_bbox=kind != "yolox_labels",
                  input_size=rng.integers(32, 1024, 2).tolist() if rng.random() < 0.3 else None)
    codec, num, joints = build(config), int(rng.integers(0, 6)), int(rng.integers(1, 18))
    kp, vis = _people(rng, num, joints, (640, 480), np.ones(2), (1.0, 1.0, 0.0, 0.0, 2.0, 0.5))
    half = rng.uniform(5, 150, (num, 2))
    bbox = np.concatenate([kp.mean(1) - half, kp.mean(1) + half], 1).astype(np.float32)
    bbox[rng.random(num) < 0.15] = [2e6, 2.5e6, 3e6, 3.5e6]  # beyond MMPose's +-1e6 stand-ins
    if kind == "yolox_int":
        kp, bbox, vis = np.round(kp).astype(np.int64), np.round(bbox).astype(np.int64), (vis > 0.7).astype(np.int64)
    if rng.random() < 0.4:
        vis = np.stack([vis, rng.random(vis.shape).astype(np.float32)], -1)
    inputs = {"keypoints": kp, "keypoints_visible": vis, "bbox": bbox}
    arrays.update({f"in/{k}": v.copy() for k, v in inputs.items()})
    kwargs = {k: f"@in/{k}" for k in inputs}
    if kind != "yolox" or rng.random() < 0.5:
        inputs["category_id"] = kwargs["category_id"] = rng.choice([1, 2, 5, 80, 127, 128, 200, 300], num).tolist()
    enc = codec.encode(**{k: v.copy() for k, v in inputs.items()})
    return config, enc, [dict(prefix="dec", method="decode", kwargs={}, outputs={"none": True})], {"kwargs": kwargs}


def generate(seed: int, count: int, out: Path) -> None:
    """Runs MMPose on ``count`` random cases (call with the oracle venv's python)."""
    from mmpose_crosscheck import oracle_codecs  # noqa: PLC0415

    mm = oracle_codecs()
    rng = np.random.default_rng(seed)
    build = lambda config: getattr(mm, config["type"])(**{k: v for k, v in config.items() if k != "type"})  # noqa
    stored: dict[str, np.ndarray] = {}
    meta = []
    for i in range(count):  # the codecs in turn, each cycling over its kinds (kind "ae_udp": _ae_case)
        kinds = CODECS[list(CODECS)[i % len(CODECS)]]
        kind, arrays = kinds[(i // len(CODECS)) % len(kinds)], {}
        config, enc, decodes, extra = globals()[f"_{kind.split('_')[0]}_case"](kind, rng, build, arrays)
        encode = dict(method="encode", outputs={}, kwargs=extra.get("kwargs") or {
            k[3:]: f"@{k}" for k in arrays if k.startswith("in/")})
        for key, value in enc.items():
            encode["outputs"][key] = {"none": True} if value is None else _record(arrays, "enc", [key], [value])[0]
        if extra.get("global_rng"):
            encode["global_rng"] = {"note": "draws in enc_rng/ (randint rows in call order, sample, instance)"}
        meta.append(dict(kind=kind, config=config, call=dict(encode=encode, decodes=decodes)))
        stored.update({f"{i}/{name}": value for name, value in arrays.items()})
    np.savez_compressed(out, meta=np.array(json.dumps(meta)), **stored)
    print(f"wrote {count} MMPose cases to {out}")


# ----------------------------------------------------------------- compare
def _check_encode(tc, codec, case, arrays, label) -> None:
    config, enc_call = case["config"], case["call"]["encode"]
    kwargs = tc.resolve(enc_call["kwargs"], arrays)
    if "global_rng" in enc_call:
        visited = tc.cid_visited(config, arrays)  # how test_conformance maps MMPose's draws
        assert visited == arrays["enc_rng/instance"].tolist(), (
            f"test_conformance.cid_visited gives {visited}, MMPose visited {arrays['enc_rng/instance'].tolist()}")
        kwargs = tc.cid_draws(config, arrays, kwargs)
    encoded = tc.call_jitted(getattr(codec, enc_call["method"]), kwargs)
    assert not set(encoded) - set(enc_call["outputs"]) - {"instance_valid"}, f"keys {set(encoded)} besides MMPose's"
    pairs = tc._flatten_outputs(enc_call["outputs"], encoded)
    pairs = tc.instance_rows(encoded, pairs, arrays, label) if "instance_valid" in encoded else pairs
    tc.compare_encode({"file": label}, pairs, arrays)


def _check_grouped(tc, config, dec_call, kwargs, decoded, arrays, fake) -> str | None:
    """AE: test_conformance's comparison; failing on ties, MMPose's row-major run, else a note."""
    try:
        return tc.compare_grouped_decode(fake, config, dec_call, kwargs, decoded, arrays)
    except AssertionError:
        tied = any(tc._tied_candidates(config, maps) for maps in np.asarray(kwargs["batch_heatmaps"]))
        munkres = int(arrays[f"{dec_call['prefix']}/munkres_ties"])
        if not (tied or munkres):
            raise
    with contextlib.suppress(AssertionError):
        if tied:
            return tc.compare_grouped_decode(fake, config, dict(dec_call, outputs=dec_call["rowmajor"]), kwargs,
                                             decoded, arrays)
    return f"{dec_call['prefix']}: decided by ties ({'equal candidates, ' * tied}{munkres} tied matchings)"


def _check_decode(tc, codec, case, dec_call, arrays, label) -> str | None:
    """One decode run (AssertionError on a difference); a note for an AE run decided by ties."""
    config, kwargs = case["config"], tc.resolve(dec_call["kwargs"], arrays)
    decoded = tc.call_jitted(getattr(codec, dec_call["method"]), kwargs)
    fake = {"file": label, "codec": config["type"]}
    if config["type"] == "AssociativeEmbedding":
        return _check_grouped(tc, config, dec_call, kwargs, decoded, arrays, fake)
    decoded = tc.valid_rows(codec, dec_call["outputs"], decoded, arrays, f"{label} {dec_call['prefix']}")
    pairs = tc._flatten_outputs(dec_call["outputs"], decoded)
    if pairs and not np.size(pairs[0][2]):
        # No row (compare_decode's masks cannot reshape zero rows); valid_rows checked the port's rows.
        for path, name, value in pairs:
            assert np.shape(value) == arrays[name].shape, f"{path}: shape {np.shape(value)} != {arrays[name].shape}"
    elif pairs:
        input_nan = any(np.isnan(np.asarray(x, np.float64)).any() for x in tc.jax.tree_util.tree_leaves(kwargs))
        tc.compare_decode(fake, dec_call["prefix"], pairs, arrays, policy=(config, kwargs), input_nan=input_nan)
    return None


def compare(path: Path) -> int:
    """Compares jaxcodecs with ``generate``'s cases; prints one line per mismatching case (and per AE case
    decided by ties, not a mismatch) and a summary; returns the mismatch count."""
    import jaxcodecs

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import test_conformance as tc  # noqa: PLC0415

    data = np.load(path, allow_pickle=False)
    meta = json.loads(str(data["meta"]))
    per_codec: dict[str, list[str]] = {}
    for i, case in enumerate(meta):
        arrays = {name[len(f"{i}/"):]: data[name] for name in data.files if name.startswith(f"{i}/")}
        label = f"case {i} ({case['kind']})"
        problems, notes = [], []
        for step in [None] + case["call"]["decodes"]:
            try:
                codec = jaxcodecs.build(case["config"])
                if step is None:
                    _check_encode(tc, codec, case, arrays, label)
                elif note := _check_decode(tc, codec, case, step, arrays, label):
                    notes.append(note)
            except Exception as error:  # noqa: BLE001 - AssertionError: a difference; others: the port failed
                text = (str(error).strip().splitlines() or [""])[0][:300]
                if not isinstance(error, AssertionError):
                    text = f"{type(error).__name__} in {traceback.extract_tb(error.__traceback__)[-1].name}: {text}"
                problems.append(f"{'enc' if step is None else step['prefix']}: {text}")
        per_codec.setdefault(case["config"]["type"], []).append("apart" if problems else "tie" if notes else "ok")
        if problems or notes:
            print(f"{label} {json.dumps(case['config'])}: " + "; ".join(problems) if problems else
                  f"{label}: not a mismatch, " + "; ".join(notes))
    for name, runs in per_codec.items():
        print(f"  {name}: {runs.count('ok')} of {len(runs)} match" + f", {runs.count('tie')} decided by ties" * (
            "tie" in runs))
    mismatches = sum(runs.count("apart") for runs in per_codec.values())
    print(f"{len(meta) - mismatches} of {len(meta)} random cases match MMPose")
    return mismatches
