"""DecoupledHeatmap (CID) against a NumPy encoder written from
MMPOSE_BEHAVIOUR.md §1.2, §1.10 and §2.9 (MMPose's loop over the visited
instances, with the draws given explicitly), plus the explicit randomness
(``key``, ``jitter``, ``selection``), decode, batching and jit."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import argmax, cid_sigmas, g1_exact, g1_mmpose, refine_quarter
from jaxcodecs import DecoupledHeatmap
from test_ops_instances import np_diagonals, np_roots

INPUT, MAP = (64, 48), (16, 12)  # scale 4 x 4
SCALE = np.float32(4.0)
K = 4


# ------------------------------------------------------------- reference
def np_corners(kp, vis):
    """Pseudo boxes of the visible (> 0) keypoints, as corners lt, lb, rt, rb."""
    corners = np.zeros((kp.shape[0], 4, 2), np.float32)
    for n in range(kp.shape[0]):
        pts = kp[n][vis[n] > 0]
        if len(pts):
            (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
            corners[n] = [[x0, y0], [x0, y1], [x1, y0], [x1, y1]]
    return corners


def np_cid_encode(codec, kp, vis, bbox=None, jitter=None, selection=None):
    """MMPose's encode, one instance at a time; ``jitter`` indexed by input
    instance, ``selection`` MMPose's ``random.sample`` result."""
    g1 = g1_mmpose if codec.mmpose_compat else g1_exact
    kp = np.asarray(kp, np.float32)
    vis = np.asarray(vis, np.float32)
    num = kp.shape[0]
    corners = np_corners(kp, vis) if bbox is None else np.asarray(bbox, np.float32).reshape(num, 4, 2)
    k = kp / SCALE
    sigmas = cid_sigmas(corners / SCALE, codec.heatmap_min_overlap)
    roots, roots_vis = np_roots(k, vis, codec.root_type)
    heatmaps, weights = g1(np.concatenate([k, roots[:, None]], 1), np.concatenate([vis, roots_vis[:, None]], 1),
                           codec.heatmap_size, sigmas)
    jitter = np.zeros((num, 2), int) if jitter is None else np.asarray(jitter)
    width, height = codec.heatmap_size
    coords, chosen = [], []
    for i in np.argsort(np_diagonals(k, vis), kind="stable"):
        if weights[i, -1] < 1:
            continue
        x, y = roots[i] + jitter[i]
        x, y = max(0, min(x, width - 1)), max(0, min(y, height - 1))
        if (x, y) not in coords:
            coords.append((x, y))
            chosen.append(i)
    if len(chosen) > codec.encode_max_instances:
        order = list(range(codec.encode_max_instances)) if selection is None else list(selection)
        coords = [coords[j] for j in order]
        chosen = [chosen[j] for j in order]
    rows = codec.encode_max_instances
    blocks = np.zeros((rows, K, height, width))
    row_weights = np.zeros((rows, K))
    for r, i in enumerate(chosen):
        blocks[r], row_weights[r] = g1(k[i:i + 1], vis[i:i + 1], codec.heatmap_size, sigmas[i])
    pixels = np.zeros((rows, 2), int)
    pixels[:len(chosen)] = np.trunc(np.asarray(coords).reshape(-1, 2)) if codec.mmpose_compat else \
        np.floor(np.asarray(coords).reshape(-1, 2))
    return {"heatmaps": heatmaps, "instance_heatmaps": blocks.reshape(rows * K, height, width),
            "keypoint_weights": row_weights, "instance_coords": pixels,
            "instance_valid": np.arange(rows) < len(chosen)}, chosen


def assert_encoded(out, ref, what=""):
    for key, value in ref.items():
        got = np.asarray(out[key])
        assert got.shape == np.shape(value), (what, key, got.shape, np.shape(value))
        if key in ("instance_coords", "instance_valid"):
            np.testing.assert_array_equal(got, value, err_msg=f"{what} {key}")
        else:
            np.testing.assert_allclose(got, value, rtol=1e-5, atol=1e-6, err_msg=f"{what} {key}")


def crowd(seed, num=3):
    """``num`` people on a 64 x 48 input, some keypoints invisible or off the
    input, and one person a copy of another (the same root)."""
    rng = np.random.default_rng(seed)
    centre = rng.uniform([8, 8], [56, 40], (num, 1, 2))
    kp = (centre + rng.normal(0, 6, (num, K, 2))).astype(np.float32)
    kp[-1] = kp[0]
    kp[1, 0] = [-30.0, 70.0]
    vis = rng.choice([0.0, 0.5, 1.0, 2.0], (num, K)).astype(np.float32)
    vis[:, 1] = 1.0
    vis[-1] = vis[0]
    return kp, vis


@pytest.fixture(scope="module")
def encoders():
    """Jitted encoders, one per configuration (shared compilations)."""
    cache = {}

    def get(**config):
        key = tuple(sorted(config.items()))
        if key not in cache:
            codec = DecoupledHeatmap(INPUT, MAP, **config)
            cache[key] = codec, jax.jit(codec.encode)
        return cache[key]

    return get


# ------------------------------------------------------------- encode
@pytest.mark.parametrize("compat", [True, False], ids=["mmpose", "exact"])
@pytest.mark.parametrize("root_type,overlap,boxes", [("kpt_center", 0.7, False), ("bbox_center", 0.5, True)])
def test_encode_matches_reference(encoders, compat, root_type, overlap, boxes):
    codec, encode = encoders(root_type=root_type, heatmap_min_overlap=overlap, encode_max_instances=4,
                             mmpose_compat=compat)
    for seed in range(4):
        kp, vis = crowd(seed, num=4)
        rng = np.random.default_rng(100 + seed)
        jitter = rng.integers(-1, 2, (4, 2)).astype(np.int32)
        jitter[-1] = jitter[0]  # the copy proposes person 0's root
        bbox = None
        if boxes:
            bbox = np_corners(kp, np.ones_like(vis)) + rng.uniform(-3, 3, (4, 4, 2)).astype(np.float32)
        ref, chosen = np_cid_encode(codec, kp, vis, bbox, jitter)
        out = encode(kp, vis, bbox, jitter=jitter)
        assert_encoded(out, ref, f"seed {seed}")
        assert 0 < len(chosen) < 4  # the copy of person 0 was dropped (same root and offset)


def test_over_full_selection_and_default(encoders):
    """More candidates than rows: ``selection`` picks and orders them as
    ``random.sample`` does; without it the first ones in visiting order."""
    codec, encode = encoders(encode_max_instances=2)
    rng = np.random.default_rng(7)
    kp = rng.uniform(4, 44, (5, K, 2)).astype(np.float32)
    vis = np.ones((5, K), np.float32)
    for selection in ([3, 0], [1, 4], None):
        ref, chosen = np_cid_encode(codec, kp, vis, selection=selection)
        chosen_arg = None if selection is None else np.asarray(selection, np.int32)
        out = encode(kp, vis, selection=chosen_arg)
        assert_encoded(out, ref, f"selection {selection}")
        assert len(chosen) == 2


def test_selection_unused_unless_over_full(encoders):
    codec, encode = encoders(encode_max_instances=4)
    kp, vis = crowd(3)
    plain = encode(kp, vis)
    chosen = encode(kp, vis, selection=np.array([3, 2, 1, 0], np.int32))
    jax.tree_util.tree_map(np.testing.assert_array_equal, plain, chosen)


def test_no_instance_and_nothing_visible(encoders):
    codec, encode = encoders(encode_max_instances=3)
    width, height = MAP
    for kp, vis in ((np.zeros((0, K, 2), np.float32), np.zeros((0, K), np.float32)),
                    (np.full((2, K, 2), 20.0, np.float32), np.zeros((2, K), np.float32))):
        out = jax.jit(codec.encode)(kp, vis)
        assert out["heatmaps"].shape == (K + 1, height, width)
        assert out["instance_heatmaps"].shape == (3 * K, height, width)
        for value in out.values():
            assert not np.asarray(value).any()


def test_non_finite_keypoints_and_boxes(encoders):
    """A NaN keypoint is invisible; a box with a non-finite corner is
    replaced by the keypoints' box."""
    codec, encode = encoders(encode_max_instances=4)
    kp, vis = crowd(5)
    poisoned = kp.copy()
    poisoned[0, 2] = np.nan
    hidden = vis.copy()
    hidden[0, 2] = 0.0
    expected = encode(np.where(np.isnan(poisoned), 0, poisoned), hidden)
    jax.tree_util.tree_map(np.testing.assert_array_equal, encode(poisoned, vis), expected)
    boxes = np_corners(kp, vis)
    boxes[1, 3, 0] = np.inf
    with_boxes = encode(kp, vis, boxes)
    ref, _ = np_cid_encode(codec, kp, vis, np.where(np.isfinite(boxes), boxes, np_corners(kp, vis)))
    assert_encoded(with_boxes, ref)


def test_thin_and_huge_boxes_have_finite_sigmas():
    """The sigma of a thin box keeps its digits (the float64 formula's value
    to 1e-5) and a box too large for float32 squares gets a finite sigma."""
    from jaxcodecs import ops

    thin = np.array([[[0, 0], [0, 40], [0.01, 0], [0.01, 40]], [[0, 0], [0, 3], [2, 0], [2, 3]]], np.float32)
    np.testing.assert_allclose(np.asarray(ops.box_instance_sigmas(thin, 0.7)), cid_sigmas(thin, 0.7), rtol=1e-5)
    huge = np.array([[[-3e38, -3e38], [-3e38, 3e38], [3e38, -3e38], [3e38, 3e38]]], np.float32)
    sigma = np.asarray(ops.box_instance_sigmas(huge, 0.7))
    assert np.isfinite(sigma).all() and sigma[0] > 0


def test_inputs_unchanged(encoders):
    codec, encode = encoders(encode_max_instances=2)
    kp, vis = crowd(1)
    bbox = np_corners(kp, vis)
    jitter = np.array([[1, 0], [0, -1], [1, 1]], np.int32)
    selection = np.array([1, 0], np.int32)
    copies = [a.copy() for a in (kp, vis, bbox, jitter, selection)]
    codec.encode(kp, vis, bbox, jitter=jitter, selection=selection)
    encode(kp, vis, bbox, jitter=jitter, selection=selection)
    for before, after in zip(copies, (kp, vis, bbox, jitter, selection)):
        np.testing.assert_array_equal(after, before)


# ------------------------------------------------------------- randomness
def test_same_key_same_targets_other_keys_differ_only_in_draws(encoders):
    codec, encode = encoders(encode_max_instances=3)
    kp, vis = crowd(2, num=3)
    kp[-1] += 9.0  # no copy: three distinct people
    first = encode(kp, vis, key=jax.random.key(0))
    jax.tree_util.tree_map(np.testing.assert_array_equal, first, encode(kp, vis, key=jax.random.key(0)))
    plain, chosen = np_cid_encode(codec, kp, vis)
    width, height = MAP
    roots, _ = np_roots(kp / SCALE, vis, codec.root_type)
    base = np.clip(np.trunc(roots), 0, [width - 1, height - 1])
    blocks_of = {i: plain["instance_heatmaps"].reshape(3, K, height, width)[r] for r, i in enumerate(chosen)}
    coords_seen = set()
    for seed in range(8):
        out = encode(kp, vis, key=jax.random.key(seed))
        # the global targets do not depend on the draws
        np.testing.assert_allclose(np.asarray(out["heatmaps"]), plain["heatmaps"], rtol=1e-5, atol=1e-6)
        valid = np.asarray(out["instance_valid"])
        assert valid.sum() == len(chosen)
        blocks = np.asarray(out["instance_heatmaps"]).reshape(3, K, height, width)
        for r in np.flatnonzero(valid):
            # each row is one person's block, its root moved by at most one pixel
            person = [i for i, b in blocks_of.items() if np.allclose(blocks[r], b, rtol=1e-5, atol=1e-6)]
            assert len(person) == 1
            moved = np.asarray(out["instance_coords"])[r] - base[person[0]]
            assert (np.abs(moved) <= 1).all()
            coords_seen.add((r, tuple(np.asarray(out["instance_coords"])[r])))
    assert len(coords_seen) > 3  # the offsets are drawn, not constant


def test_key_sampling_is_uniform_over_candidates(encoders):
    """Over-full: the rows hold distinct candidates, each chosen about
    ``M / C`` of the time over many keys (a uniform sample)."""
    codec = DecoupledHeatmap(INPUT, MAP, encode_max_instances=2)
    rng = np.random.default_rng(11)
    kp = rng.uniform(4, 44, (5, K, 2)).astype(np.float32)
    vis = np.ones((5, K), np.float32)
    trials = 400
    keys = jax.random.split(jax.random.key(1), trials)
    out = jax.jit(jax.vmap(lambda key: codec.encode(kp, vis, jitter=np.zeros((5, 2), np.int32), key=key)))(keys)
    assert np.asarray(out["instance_valid"]).all()
    coords = np.asarray(out["instance_coords"])
    assert (coords[:, 0] != coords[:, 1]).any(axis=-1).all()
    roots = np.trunc(np_roots(kp / SCALE, vis, "kpt_center")[0])
    counts = np.array([(coords == root).all(-1).sum() for root in roots])
    expected = trials * 2 / 5
    assert counts.sum() == 2 * trials
    assert (np.abs(counts - expected) < 5 * np.sqrt(expected)).all(), counts


def test_batch_encode_with_keys_equals_per_sample():
    codec = DecoupledHeatmap(INPUT, MAP, encode_max_instances=2)
    kp = np.stack([crowd(s)[0] for s in range(3)])
    vis = np.stack([crowd(s)[1] for s in range(3)])
    keys = jax.random.split(jax.random.key(4), 3)
    batch = jax.jit(codec.batch_encode)(kp, vis, key=keys)
    encode = jax.jit(codec.encode)
    for b in range(3):
        single = encode(kp[b], vis[b], key=keys[b])
        jax.tree_util.tree_map(lambda x, y: np.testing.assert_array_equal(np.asarray(x)[b], y), batch, single)


def test_no_retrace_for_new_values_and_keys(encoders):
    codec, encode = encoders(encode_max_instances=2)
    kp, vis = crowd(0)
    encode(kp, vis, key=jax.random.key(0))
    before = encode._cache_size()
    encode(kp + 1.0, vis, key=jax.random.key(5))
    encode(kp, vis * 0.5, key=jax.random.key(6))
    assert encode._cache_size() == before


# ------------------------------------------------------------- decode
@pytest.mark.parametrize("compat", [True, False], ids=["mmpose", "exact"])
def test_decode_matches_reference(compat):
    codec = DecoupledHeatmap(INPUT, MAP, mmpose_compat=compat)
    rng = np.random.default_rng(3)
    width, height = MAP
    maps = rng.uniform(-0.2, 1, (3, K, height, width)).astype(np.float32)
    maps[1, 2] = -0.5  # no peak: location -1
    scores = rng.uniform(0, 1, (3, 1)).astype(np.float32)
    valid = np.array([True, True, False])
    keypoints, kscores, out_valid = jax.jit(codec.decode)(maps, scores, instance_valid=valid)
    for r in range(3):
        locs, vals = argmax(maps[r])
        ref = refine_quarter(locs[None], maps[r], mmpose_compat=compat)[0] * 4.0
        if valid[r]:
            np.testing.assert_allclose(np.asarray(keypoints[r]), ref, rtol=1e-6)
            np.testing.assert_allclose(np.asarray(kscores[r]), vals * scores[r, 0], rtol=1e-6)
        else:
            assert not np.asarray(keypoints[r]).any() and not np.asarray(kscores[r]).any()
    np.testing.assert_array_equal(np.asarray(out_valid), valid)
    # (M,) scores read as (M, 1); no instance_valid: every row valid
    flat = jax.jit(codec.decode)(maps, scores[:, 0])
    assert np.asarray(flat[2]).all()
    np.testing.assert_allclose(np.asarray(flat[0])[:2], np.asarray(keypoints)[:2])


def test_decode_of_no_rows():
    codec = DecoupledHeatmap(INPUT, MAP)
    width, height = MAP
    keypoints, scores, valid = codec.decode(np.zeros((0, K, height, width), np.float32), np.zeros((0, 1)))
    assert keypoints.shape == (0, K, 2) and scores.shape == (0, K) and valid.shape == (0,)


@pytest.mark.parametrize("compat", [True, False], ids=["mmpose", "exact"])
def test_round_trip_of_the_instance_blocks(encoders, compat):
    """Each valid row's block decodes to its person's visible keypoints
    within a pixel and the quarter step (plus MMPose's one-pixel shift)."""
    codec, encode = encoders(encode_max_instances=4, mmpose_compat=compat)
    kp, vis = crowd(9)
    kp = np.clip(kp, 0, [59, 43]).astype(np.float32)
    out = encode(kp, vis)
    width, height = MAP
    blocks = np.asarray(out["instance_heatmaps"]).reshape(4, K, height, width)
    keypoints, _, valid = jax.jit(codec.decode)(blocks, np.ones((4, 1), np.float32),
                                                instance_valid=out["instance_valid"])
    bound = (1.75 if compat else 0.75) * 4.0 + 1e-3
    _, chosen = np_cid_encode(codec, kp, vis)
    for r, person in enumerate(chosen):
        assert valid[r]
        seen = vis[person] >= 0.5
        err = np.abs(np.asarray(keypoints[r]) - kp[person])[seen]
        assert (err <= bound).all(), err


def test_bad_draws_name_their_argument():
    codec = DecoupledHeatmap(INPUT, MAP, encode_max_instances=2)
    kp, vis = crowd(0)
    for kwargs, name in (({"jitter": np.full((3, 2), 2)}, "jitter"), ({"jitter": np.zeros((2, 2))}, "jitter"),
                         ({"selection": np.array([0, 0])}, "selection"),
                         ({"selection": np.array([0.0, 1.0])}, "selection"),
                         ({"key": np.zeros(3, np.uint32)}, "key"), ({"bbox": np.zeros((3, 4))}, "bbox")):
        with pytest.raises((ValueError, TypeError), match=f"`{name}`"):
            codec.encode(kp, vis, **kwargs)
    with pytest.raises(ValueError, match="`instance_scores`"):
        codec.decode(jnp.zeros((2, K) + MAP[::-1]), jnp.zeros((3, 1)))
