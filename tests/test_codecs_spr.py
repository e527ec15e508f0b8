"""SPR (DEKR targets) against a brute-force NumPy encoder written from
MMPOSE_BEHAVIOUR.md §1.2, §1.10 and §2.8, plus round trips, MMPose's own
test_spr.py behaviours (with our inputs), jit / vmap and bad input."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxcodecs
from jaxcodecs import SPR
from test_ops_instances import np_bilinear_border, np_diagonals, np_displacements, np_roots


# ------------------------------------------------------------- reference
def np_windowed_gaussian(kp, vis, size, sigma):
    """§1.2 "G1", one keypoint at a time (float32 patch, max-combined)."""
    width, height = size
    n_inst, joints = kp.shape[:2]
    maps = np.zeros((joints, height, width), np.float32)
    r = 3 * sigma
    gs = 2 * r + 1
    grid = np.arange(0, gs, 1, np.float32)
    c = math.floor(gs / 2)
    patch = np.exp(-((grid[None, :] - c) ** 2 + (grid[:, None] - c) ** 2) / (2 * sigma ** 2)).astype(np.float32)
    for n in range(n_inst):
        for k in range(joints):
            if vis[n, k] < 0.5:
                continue
            mu_x, mu_y = int(kp[n, k, 0] + 0.5), int(kp[n, k, 1] + 0.5)
            left, top = int(mu_x - r), int(mu_y - r)
            right, bottom = int(mu_x + r + 1), int(mu_y + r + 1)
            if left >= width or top >= height or right < 0 or bottom < 0:
                continue
            for y in range(max(0, top), min(height, bottom)):
                for x in range(max(0, left), min(width, right)):
                    maps[k, y, x] = max(maps[k, y, x], patch[y - top, x - left])
    return maps


def np_spr_encode(kp, vis, input_size, size, sigmas, keypoint_maps=False, root_type="kpt_center",
                  min_diag=5.0, bg=0.1):
    scale = (np.asarray(input_size, np.float64) / size).astype(np.float32)
    kp = (kp / scale).astype(np.float32)
    roots, roots_vis = np_roots(kp, vis, root_type)
    diag = np_diagonals(kp, vis)
    roots_vis[diag < min_diag] = 0
    heatmaps = np_windowed_gaussian(roots[:, None], roots_vis[:, None], size, sigmas[0])
    weights = np.where(heatmaps > 0, 1.0, bg).astype(np.float32)
    if keypoint_maps:
        kmaps = np_windowed_gaussian(kp, vis, size, sigmas[1])
        weights = np.concatenate([np.where(kmaps > 0, 1.0, bg), weights]).astype(np.float32)
        heatmaps = np.concatenate([kmaps, heatmaps])
    disp, disp_w = np_displacements(kp, vis, roots, roots_vis, diag, size, sigmas[0])
    return {"heatmaps": heatmaps, "heatmap_weights": weights, "displacements": disp,
            "displacement_weights": disp_w}


def people(seed, n=4, k=7, input_size=(128, 96)):
    """A crowd in input pixels: overlapping people, a shrunken copy, a tiny
    instance, fractional visibility and keypoints outside the image."""
    rng = np.random.default_rng(seed)
    w, h = input_size
    centre = rng.uniform([10, 10], [w - 10, h - 10], (n, 1, 2))
    spread = rng.uniform(4, 25, (n, 1, 1))
    kp = (centre + spread * rng.standard_normal((n, k, 2))).astype(np.float32)
    if n >= 2:
        kp[1] = (kp[0] - kp[0].mean(0)) * 0.6 + kp[0].mean(0)
    if n >= 3:
        kp[2] = kp[2].mean(0) + 0.01 * (kp[2] - kp[2].mean(0))
    if n >= 4:
        kp[3, 0] = (-9.0, h + 3.0)
    vis = (rng.random((n, k)) > 0.2).astype(np.float32)
    vis[rng.random((n, k)) < 0.15] = 0.6
    return kp, vis


CONFIGS = {
    "auto": dict(input_size=(128, 96), heatmap_size=(32, 24)),
    "float_sigma": dict(input_size=(128, 96), heatmap_size=(32, 24), sigma=2.5, background_weight=0.2,
                        minimal_diagonal_length=3),
    "kpt_maps_bbox": dict(input_size=(128, 96), heatmap_size=(32, 24), sigma=(3.0, 1.7),
                          generate_keypoint_heatmaps=True, root_type="bbox_center"),
}


def _sigmas(codec):
    return tuple(float(s) for s in codec.sigmas)


def assert_encoded_like(encoded, ref):
    for key, value in ref.items():
        np.testing.assert_allclose(np.asarray(encoded[key]), value, rtol=1e-5, atol=1e-5, err_msg=key)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("label", sorted(CONFIGS))
def test_encode_matches_reference(label, seed):
    config = CONFIGS[label]
    codec = SPR(**config)
    kp, vis = people(seed)
    encoded = jax.jit(codec.encode)(kp, vis)
    ref = np_spr_encode(kp, vis, config["input_size"], config["heatmap_size"], _sigmas(codec),
                        codec.generate_keypoint_heatmaps, codec.root_type,
                        codec.minimal_diagonal_length, codec.background_weight)
    assert_encoded_like(encoded, ref)
    eager = codec.encode(kp, vis)
    for key in ref:
        np.testing.assert_array_equal(np.asarray(eager[key]), np.asarray(encoded[key]))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(0, 5))
def test_encode_matches_reference_property(seed, n):
    codec = SPR(**CONFIGS["float_sigma"])
    kp, vis = people(seed, n=n, k=5)
    ref = np_spr_encode(kp, vis, (128, 96), (32, 24), (2.5,), min_diag=3, bg=0.2)
    assert_encoded_like(_jit_encode(codec)(kp, vis), ref)


_JITTED = {}


def _jit_encode(codec):
    return _JITTED.setdefault(codec, jax.jit(codec.encode))


def test_mmpose_test_spr_sample():
    # MMPose's test: 3 instances in 512x512, one invisible, one a shrunken
    # overlapping copy; 128x128 maps. Our own poses.
    rng = np.random.default_rng(7)
    base = rng.uniform(150, 350, (1, 17, 2)).astype(np.float32)
    kp = np.concatenate([base, (base - 250) * 0.5 + 250, rng.uniform(0, 512, (1, 17, 2))]).astype(np.float32)
    vis = np.ones((3, 17), np.float32)
    vis[2] = 0
    for keypoint_maps, channels in ((False, 1), (True, 18)):
        sigma = (4, 2) if keypoint_maps else None
        codec = SPR(input_size=(512, 512), heatmap_size=(128, 128), sigma=sigma,
                    generate_keypoint_heatmaps=keypoint_maps)
        encoded = codec.encode(kp, vis)
        assert encoded["heatmaps"].shape == encoded["heatmap_weights"].shape == (channels, 128, 128)
        assert encoded["displacements"].shape == encoded["displacement_weights"].shape == (34, 128, 128)
        keypoints, (root_scores, keypoint_scores), valid = codec.decode(
            encoded["heatmaps"], encoded["displacements"])
        assert keypoints.shape == (30, 17, 2) and root_scores.shape == (30,) and valid.shape == (30,)
        assert keypoint_scores is None if not keypoint_maps else keypoint_scores.shape == (30, 17)
        assert int(valid.sum()) == 2
        # The shrunken copy owns the pixels it shares with the bigger
        # instance, so it is found within MMPose's 5 px; and each instance
        # encoded alone is found within 5 px.
        found = np.asarray(keypoints)[np.asarray(valid)]
        assert np.abs(found - kp[1]).max(axis=(1, 2)).min() < 5
        for instance in kp[:2]:
            alone = codec.encode(instance[None], vis[:1])
            decoded, _, ok = codec.decode(alone["heatmaps"], alone["displacements"])
            assert int(ok.sum()) == 1 and np.abs(np.asarray(decoded[0]) - instance).max() < 5


def test_round_trip_is_exact_at_the_root_pixel():
    # Separate instances, each root pixel inside its own square: the decoded
    # keypoints are the encoded ones up to float32 rounding (|x| * 2^-23).
    rng = np.random.default_rng(3)
    codec = SPR(input_size=(256, 192), heatmap_size=(64, 48), sigma=4.0)
    centres = np.array([[40, 40], [130, 60], [200, 140], [60, 150]], np.float32)
    kp = (centres[:, None] + rng.uniform(-25, 25, (4, 6, 2))).astype(np.float32)
    keypoints, (scores, _), valid = jax.jit(codec.round_trip)(kp, None)
    assert int(valid.sum()) == 4
    found = np.asarray(keypoints)[:4]
    for instance in kp:
        error = np.abs(found - instance).max(axis=(1, 2)).min()
        assert error <= 256 * 2.0 ** -22
    np.testing.assert_array_equal(np.asarray(scores)[:4], 1.0)


def test_decode_rows_are_padded_and_ordered():
    rng = np.random.default_rng(0)
    codec = SPR(input_size=(64, 64), heatmap_size=(16, 16), decode_max_instances=6, decode_thr=0.3,
                decode_nms_kernel=3)
    heatmaps = np.zeros((1, 16, 16), np.float32)
    peaks = [(2, 3, 0.9), (10, 12, 0.5), (7, 7, 0.7), (13, 2, 0.2)]
    for x, y, v in peaks:
        heatmaps[0, y, x] = v
    disp = rng.normal(size=(8, 16, 16)).astype(np.float32)
    keypoints, (scores, kscores), valid = jax.jit(codec.decode)(heatmaps, disp)
    np.testing.assert_allclose(np.asarray(scores), [0.9, 0.7, 0.5, 0, 0, 0])
    np.testing.assert_array_equal(np.asarray(valid), [True] * 3 + [False] * 3)
    assert kscores is None
    for row, (x, y, _) in enumerate([peaks[0], peaks[2], peaks[1]]):
        expected = (np.stack([disp[0::2, y, x] + x, disp[1::2, y, x] + y], -1) * 4).astype(np.float32)
        np.testing.assert_allclose(np.asarray(keypoints[row]), expected, rtol=1e-6)
    assert not np.any(np.asarray(keypoints[3:]))


@pytest.mark.parametrize("compat", [True, False])
def test_keypoint_scores_sampling_point(compat):
    rng = np.random.default_rng(1)
    codec = SPR(input_size=(64, 48), heatmap_size=(16, 12), sigma=(2, 1), generate_keypoint_heatmaps=True,
                decode_max_instances=3, mmpose_compat=compat)
    heatmaps = rng.random((4, 12, 16)).astype(np.float32) * 0.5
    heatmaps[3] = 0
    heatmaps[3, 5, 6] = 1.0
    disp = rng.uniform(-8, 8, (6, 12, 16)).astype(np.float32)
    keypoints, (_, kscores), valid = codec.decode(heatmaps, disp)
    points = np.asarray(keypoints[:1], np.float64) / np.array([4.0, 4.0])
    if compat:
        points = points * np.array([16 / 15, 12 / 11]) - 0.5
    expected = np_bilinear_border(heatmaps[:3], points)
    np.testing.assert_allclose(np.asarray(kscores[:1]), expected, rtol=1e-5, atol=1e-6)
    assert np.asarray(valid).tolist() == [True, False, False]
    # With keypoint heatmaps configured but only the root map given: None.
    assert codec.decode(heatmaps[3:], disp)[1][1] is None


@pytest.mark.parametrize("compat", [True, False])
def test_zero_keypoint_sigma_draws_impulses(compat):
    # 32x32 maps: auto sigma (1, 1 // 2 = 0); MMPose draws NaN centres.
    codec = SPR(input_size=(128, 128), heatmap_size=(32, 32), generate_keypoint_heatmaps=True,
                mmpose_compat=compat)
    assert _sigmas(codec) == (1.0, 0.0)
    kp, vis = people(2, n=2, k=5, input_size=(128, 128))
    vis = np.ones_like(vis)
    encoded = codec.encode(kp, vis)
    maps = np.asarray(encoded["heatmaps"][:5])
    assert np.all(np.isfinite(maps)) and set(np.unique(maps)) <= {0.0, 1.0}
    centres = np.trunc(kp / 4 + 0.5).astype(int)
    for n in range(2):
        for k in range(5):
            x, y = centres[n, k]
            if 0 <= x < 32 and 0 <= y < 32:
                assert maps[k, y, x] == 1.0
    weights = np.asarray(encoded["heatmap_weights"][:5])
    np.testing.assert_allclose(weights, np.where(maps > 0, 0.1 if compat else 1.0, 0.1), rtol=1e-6)


def test_no_instances_and_nan_keypoints():
    codec = SPR(**CONFIGS["kpt_maps_bbox"])
    empty = codec.encode(np.zeros((0, 7, 2), np.float32), np.zeros((0, 7), np.float32))
    assert empty["heatmaps"].shape == (8, 24, 32) and empty["displacements"].shape == (14, 24, 32)
    assert not np.any(np.asarray(empty["heatmaps"])) and not np.any(np.asarray(empty["displacements"]))
    np.testing.assert_allclose(np.asarray(empty["heatmap_weights"]), 0.1, rtol=1e-6)
    kp, vis = people(4)
    bad = kp.copy()
    bad[0, 2] = (np.nan, 5.0)
    vis_nan = vis.copy()
    vis_nan[0, 2] = 0
    encoded = jax.jit(codec.encode)(bad, vis)
    expected = codec.encode(np.where(np.isnan(bad), 0, bad), vis_nan)
    for key, value in encoded.items():
        assert np.all(np.isfinite(np.asarray(value))), key
        np.testing.assert_array_equal(np.asarray(value), np.asarray(expected[key]))


def test_batch_encode_and_decode_under_jit():
    codec = SPR(**CONFIGS["kpt_maps_bbox"])
    samples = [people(s) for s in range(3)]
    kp = np.stack([s[0] for s in samples])
    vis = np.stack([s[1] for s in samples])
    batch = jax.jit(codec.batch_encode)(kp, vis)
    decoded = jax.jit(codec.batch_decode)(batch["heatmaps"], batch["displacements"])
    for b in range(3):
        one = codec.encode(kp[b], vis[b])
        for key in one:
            np.testing.assert_allclose(np.asarray(batch[key][b]), np.asarray(one[key]), atol=1e-6)
        single = codec.decode(one["heatmaps"], one["displacements"])
        for got, want in zip(jax.tree_util.tree_leaves(decoded), jax.tree_util.tree_leaves(single)):
            np.testing.assert_allclose(np.asarray(got[b]), np.asarray(want), atol=1e-5)


def test_no_recompilation_for_new_values():
    codec = SPR(**CONFIGS["auto"])
    encode = jax.jit(codec.encode)
    kp, vis = people(0)
    encode(kp, vis)
    with jax.log_compiles(True):
        before = encode._cache_size()
        encode(kp + 1, vis)
        assert encode._cache_size() == before


def test_displacements_differentiable_through_encode():
    codec = SPR(**CONFIGS["float_sigma"])
    kp, vis = people(1, n=2, k=4)
    vis = np.ones_like(vis)

    def total(points):
        return jnp.sum(codec.encode(points, vis)["displacements"])

    # Jitted: one compilation of the gradient instead of one per primitive
    # and shape of the op-by-op backward pass.
    grad = np.asarray(jax.jit(jax.grad(total))(jnp.asarray(kp)))
    written = np.asarray(codec.encode(kp, vis)["displacement_weights"]) > 0
    # d(sum)/d(kp[n, k, axis]) = pixels holding instance n's vector for k / scale.
    assert np.all(np.isfinite(grad)) and grad.sum() == pytest.approx(written.sum() / 4, rel=1e-6)


# ------------------------------------------------------------- bad input
def test_configuration_errors():
    with pytest.raises(ValueError, match="`root_type`.*'box_center'"):
        jaxcodecs.build(dict(type="SPR", input_size=[64, 64], heatmap_size=[16, 16], root_type="box_center"))
    with pytest.raises(ValueError, match="`sigma`.*got 1 value"):
        SPR(input_size=(64, 64), heatmap_size=(16, 16), sigma=4, generate_keypoint_heatmaps=True)
    with pytest.raises(ValueError, match="`decode_max_instances`.*got 300"):
        SPR(input_size=(64, 64), heatmap_size=(16, 16), decode_max_instances=300)
    with pytest.raises(ValueError, match="`decode_nms_kernel`"):
        SPR(input_size=(64, 64), heatmap_size=(16, 16), decode_nms_kernel=4)
    with pytest.raises(ValueError, match="`sigma`"):
        SPR(input_size=(64, 64), heatmap_size=(16, 16), sigma=-1.0)


def test_call_errors():
    codec = SPR(input_size=(64, 64), heatmap_size=(16, 16), sigma=(2, 1), generate_keypoint_heatmaps=True)
    hm, disp = np.zeros((4, 16, 16), np.float32), np.zeros((6, 16, 16), np.float32)
    with pytest.raises(ValueError, match="`heatmaps`.*got"):
        codec.decode(np.zeros((3, 16, 16), np.float32), disp)
    with pytest.raises(ValueError, match="`displacements`.*got"):
        codec.decode(hm, np.zeros((5, 16, 16), np.float32))
    with pytest.raises(ValueError, match="`heatmaps`.*got"):
        codec.decode(np.zeros((4, 16, 15), np.float32), disp)
    with pytest.raises(ValueError, match="`displacements`.*got"):
        codec.decode(hm, np.zeros((6, 15, 16), np.float32))
    with pytest.raises(ValueError, match="`keypoints`.*got"):
        codec.encode(np.zeros((2, 3, 3), np.float32))
    with pytest.raises(ValueError, match="`keypoints_visible`.*got"):
        codec.encode(np.zeros((2, 3, 2), np.float32), np.zeros((2, 4), np.float32))
