"""AssociativeEmbedding: encode against the NumPy renderers of conftest,
decode of crowds with ideal tags (MMPose's own test, with a tighter bound),
batch_decode == decode image by image (also when the small group pool
overflows), the exact mode's choices, gradients and bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxcodecs
from gradcheck import check_jacobian
from jaxcodecs._example_entries_multi import TAG_STEP, painted_tags


def ae(**kwargs):
    config = {"input_size": (128, 128), "heatmap_size": (32, 32), "sigma": 2.0}
    config.update(kwargs)
    return jaxcodecs.AssociativeEmbedding(**config)


def crowd(rng, people, joints=5, size=128, spacing=10):
    """People whose keypoints sit on a coarse grid of heatmap cells (each
    keypoint type at distinct cells), with sub-cell jitter, in input pixels."""
    cells = size // 4 // spacing
    keypoints = np.zeros((people, joints, 2), np.float32)
    for k in range(joints):
        chosen = rng.choice(cells * cells, people, replace=False)
        grid = np.stack([chosen % cells, chosen // cells], -1) * spacing + spacing / 2
        keypoints[:, k] = (grid + rng.uniform(-1, 1, (people, 2))) * 4
    return keypoints


@pytest.mark.parametrize("use_udp", [False, True])
@pytest.mark.parametrize("compat", [True, False])
def test_encode_matches_numpy(npref, use_udp, compat):
    rng = np.random.default_rng(0)
    codec = ae(use_udp=use_udp, sigma=1.7, mmpose_compat=compat)
    keypoints = rng.uniform(-8, 136, (3, 6, 2)).astype(np.float32)
    visible = rng.choice([0.0, 0.3, 1.0], (3, 6)).astype(np.float32)
    keypoints[1, 2] = np.nan  # the NaN rule: invisible at the origin
    encoded = jax.jit(codec.encode)(keypoints, visible)
    finite = np.where(np.isnan(keypoints), 0, keypoints)
    vis = np.where(np.isnan(keypoints).any(-1), 0, visible)
    scale = np.asarray(codec.scale_factor, np.float64)
    name = ("g3" if use_udp else "g1") + ("_mmpose" if compat else "_exact")
    heatmaps, weights = getattr(npref, name)(finite / scale, vis, (32, 32), 1.7)
    np.testing.assert_allclose(np.asarray(encoded["heatmaps"]), heatmaps, atol=1e-6)
    np.testing.assert_allclose(np.asarray(encoded["keypoint_weights"]), weights)
    rounding = np.trunc if compat else np.floor
    pixel = rounding(finite / scale + 0.5).astype(int)
    index = pixel[..., 1] * 32 + pixel[..., 0]
    on_map = (vis > 0.5) & (pixel >= 0).all(-1) & (pixel < 32).all(-1)
    np.testing.assert_array_equal(np.asarray(encoded["keypoint_indices"]), np.stack([index, on_map], -1))


@pytest.mark.parametrize("use_udp", [False, True])
def test_keypoint_index_is_the_heatmap_maximum(use_udp):
    # MMPose's test: 256 -> 64, one person of 17 keypoints.
    rng = np.random.default_rng(1)
    codec = jaxcodecs.AssociativeEmbedding(input_size=(256, 256), heatmap_size=(64, 64), use_udp=use_udp)
    keypoints = rng.uniform(8, 248, (1, 17, 2)).astype(np.float32)
    encoded = codec.encode(keypoints, np.ones((1, 17), np.float32))
    assert encoded["heatmaps"].shape == (17, 64, 64)
    assert encoded["keypoint_indices"].shape == (1, 17, 2) and encoded["keypoint_weights"].shape == (1, 17)
    flat = np.asarray(encoded["heatmaps"]).reshape(17, -1)
    np.testing.assert_array_equal(flat.argmax(-1), np.asarray(encoded["keypoint_indices"])[0, :, 0])


def _recovers(codec, keypoints, decoded, tolerance):
    decoded_kp, scores, instance_scores, valid = (np.asarray(x) for x in decoded)
    assert valid.sum() == len(keypoints) and valid[: len(keypoints)].all()
    # Each true person is one decoded row (the rows of distinct people).
    rows = [int(np.argmin(np.abs(decoded_kp[valid] - person).max(axis=(1, 2)))) for person in keypoints]
    assert len(set(rows)) == len(keypoints)
    error = np.abs(decoded_kp[valid][rows] - keypoints)
    assert (error <= tolerance).all(), error.max(axis=(0, 1))
    assert (scores[valid] > 0).all()
    np.testing.assert_allclose(instance_scores[valid], scores[valid].mean(-1), rtol=1e-6)


@pytest.mark.parametrize("use_udp", [False, True])
@pytest.mark.parametrize("dim", [1, 2])
def test_decode_recovers_a_crowd_with_ideal_tags(use_udp, dim):
    # MMPose's test accepts 4 px; the bound here is the pixel (0.5) plus the
    # quarter-pixel step, in heatmap pixels, times the scale.
    rng = np.random.default_rng(dim)
    codec = ae(use_udp=use_udp, decode_max_instances=6)
    for people in (1, 3, 5):
        keypoints = crowd(rng, people)
        visible = np.ones(keypoints.shape[:2], np.float32)
        heatmaps = codec.encode(keypoints, visible)["heatmaps"]
        tags = painted_tags(codec, keypoints[None], visible[None], dim)[0]
        decoded = codec.decode(heatmaps, tags)  # jitted inside, one compilation per config
        _recovers(codec, keypoints, decoded, 0.75 * np.asarray(codec.scale_factor) + 1e-4)


def test_missing_keypoints_are_filled_from_the_tags():
    rng = np.random.default_rng(5)
    codec = ae(decode_max_instances=6)
    keypoints = crowd(rng, 3)
    visible = np.ones(keypoints.shape[:2], np.float32)
    heatmaps = np.array(codec.encode(keypoints, visible)["heatmaps"])
    tags = painted_tags(codec, keypoints[None], visible[None])[0]
    # Keypoint 3 of person 1 is too weak to be a candidate; its tag stays.
    pixel = np.trunc(keypoints[1, 3] / 4 + 0.5).astype(int)
    heatmaps[3, pixel[1] - 3:pixel[1] + 4, pixel[0] - 3:pixel[0] + 4] *= 0.05
    decoded_kp, scores, instance_scores, valid = (np.asarray(x) for x in codec.decode(heatmaps, tags))
    row = int(np.argmin(np.abs(decoded_kp[valid] - keypoints[1]).sum(axis=(1, 2))))
    # The filled keypoint: the pixel of the person's tag with the highest
    # heatmap value, not refined, score read there.
    np.testing.assert_allclose(decoded_kp[row, 3], pixel * 4)
    np.testing.assert_allclose(scores[row, 3], heatmaps[3, pixel[1], pixel[0]], rtol=1e-6)
    # Instance scores are taken before the fill-in: the missing one counts 0.
    others = np.delete(scores[row], 3)
    np.testing.assert_allclose(instance_scores[row], others.sum() / 5, rtol=1e-6)


def test_batch_decode_equals_decode_also_for_a_crowd_that_fills_the_pool():
    rng = np.random.default_rng(2)
    codec = ae(decode_topk=4)  # a pool of 20 rows (K = 5)
    calm = crowd(rng, 2)
    visible = np.ones((2, 5), np.float32)
    heatmaps = np.stack([np.array(codec.encode(calm, visible)["heatmaps"])] * 2)
    tags = np.stack([painted_tags(codec, calm[None], visible[None])[0]] * 2)
    # Image 1: every candidate of every type gets its own tag (20 groups).
    wild = crowd(rng, 4)
    heatmaps[1] = np.asarray(codec.encode(wild, np.ones((4, 5), np.float32))["heatmaps"])
    for k in range(5):
        for n in range(4):
            x, y = np.trunc(wild[n, k] / 4 + 0.5).astype(int)
            tags[1, k, y - 1:y + 2, x - 1:x + 2] = 5.0 * (n + 4 * k)
    batch = jax.jit(codec.batch_decode)(heatmaps, tags)
    decode = jax.jit(codec.decode)  # one compilation for both images
    single = [decode(heatmaps[b], tags[b]) for b in range(2)]
    for b in range(2):
        for got, want in zip(batch, single[b]):
            np.testing.assert_array_equal(np.asarray(got)[b], np.asarray(want))
    assert np.asarray(batch[3]).sum(1).tolist() == [2, 20]


def test_exact_mode_keeps_the_best_groups():
    rng = np.random.default_rng(3)
    keypoints = crowd(rng, 3)
    visible = np.ones((3, 5), np.float32)
    strength = np.array([0.4, 0.6, 1.0], np.float32)[:, None, None, None]
    codec = ae()
    maps = [np.asarray(codec.encode(keypoints[n:n + 1], visible[n:n + 1])["heatmaps"]) for n in range(3)]
    heatmaps = np.max(np.stack(maps) * strength, axis=0)
    tags = painted_tags(codec, keypoints[None], visible[None])[0]
    first = ae(decode_max_instances=1).decode(heatmaps, tags)
    best = ae(decode_max_instances=1, mmpose_compat=False).decode(heatmaps, tags)
    # Groups open in the order of the first type's peaks (strongest first,
    # here person 2), so both keep person 2; drop person 2's first-type peak
    # and the compat mode keeps whoever opened first.
    np.testing.assert_allclose(np.asarray(best[0])[0], np.asarray(first[0])[0])
    heatmaps[0] = np.max(np.stack(maps)[:2, 0] * strength[:2, 0], axis=0)
    tags[0] = painted_tags(codec, keypoints[None, :2, :1], visible[None, :2, :1])[0][0]
    first = np.asarray(ae(decode_max_instances=1).decode(heatmaps, tags)[0])[0]
    best = np.asarray(ae(decode_max_instances=1, mmpose_compat=False).decode(heatmaps, tags)[0])[0]
    assert np.abs(first[1:] - keypoints[1, 1:]).max() <= 3.0  # person 1 opened the first group
    assert np.abs(best[1:] - keypoints[2, 1:]).max() <= 3.0  # person 2 scores best


def test_exact_mode_orders_groups_by_score_ties_in_pool_order():
    # The selection of _finish on a hand-made pool: descending instance
    # score, equal scores (0 and -0 included) in pool order, then the unused
    # rows; checked against NumPy's stable sort.
    from jaxcodecs.ops.grouping import TagGroups

    codec = ae(decode_max_instances=7, mmpose_compat=False, decode_center_shift=0.0)
    scores = np.array([[0.5, 0.5], [0.9, 0.1], [0.0, -0.0], [-0.0, -0.0], [0.7, 0.3], [0.2, 0.2],
                       [0.3, 0.3], [0.0, 0.0]], np.float32)  # means 0.5, 0.5, 0, -0, 0.5, 0.2, 0.3 (row 7 unused)
    keypoints = np.stack([np.full((8, 2), 2.0) + np.arange(8)[:, None], np.full((8, 2), 20.0)], -1).astype(np.float32)
    groups = TagGroups(jnp.asarray(keypoints), jnp.asarray(scores), jnp.int32(7), jnp.bool_(False))
    heatmaps = np.zeros((2, 32, 32), np.float32)
    got_kp, _, got_scores, got_valid = codec._finish(groups, jnp.asarray(heatmaps), jnp.asarray(heatmaps))
    means = scores.mean(1)
    order = np.argsort(-np.where(np.arange(8) < 7, means, -np.inf), kind="stable")[:7]
    assert order.tolist() == [0, 1, 4, 6, 5, 2, 3]
    np.testing.assert_array_equal(np.asarray(got_scores), means[order])
    np.testing.assert_array_equal(np.asarray(got_kp)[:, 0, 0], (2.0 + order) * codec.scale_factor[0])
    assert np.asarray(got_valid).all()


@pytest.mark.parametrize("compat", [True, False])
def test_more_rows_than_the_pool_holds(compat):
    # decode_max_instances above K * decode_topk: MMPose keeps
    # ``list(groups)[:decode_max_instances]``, a slice, so no more groups
    # than the pool can hold; both modes return the pool's rows, then empty
    # rows (zeros, valid false).
    rng = np.random.default_rng(5)
    keypoints = crowd(rng, 2)
    visible = np.ones((2, 5), np.float32)
    small = ae(decode_topk=2, mmpose_compat=compat)  # a pool of 10 groups
    heatmaps = np.asarray(small.encode(keypoints, visible)["heatmaps"])
    tags = painted_tags(small, keypoints[None], visible[None])[0]
    pool = [np.asarray(x) for x in small.decode(heatmaps, tags)]
    large = [np.asarray(x) for x in ae(decode_topk=2, decode_max_instances=25, mmpose_compat=compat).decode(heatmaps, tags)]
    assert [x.shape[0] for x in large] == [25] * 4
    for got, want in zip(large, pool):
        np.testing.assert_array_equal(got[:10], want)
        assert not got[10:].any()
    assert large[3].sum() == 2  # the two people, once each


def test_udp_fill_in_reads_the_log_maps_in_compat_mode():
    rng = np.random.default_rng(4)
    keypoints = crowd(rng, 2)
    visible = np.ones((2, 5), np.float32)
    visible[0, 2] = 0  # person 0 misses keypoint 2
    compat, exact = ae(use_udp=True, decode_max_instances=6), ae(use_udp=True, decode_max_instances=6,
                                                                  mmpose_compat=False)
    heatmaps = compat.encode(keypoints, visible)["heatmaps"]
    tags = painted_tags(compat, keypoints[None], visible[None])[0]
    c_kp, c_sc = (np.asarray(x) for x in compat.decode(heatmaps, tags)[:2])
    e_kp, e_sc = (np.asarray(x) for x in exact.decode(heatmaps, tags)[:2])
    row = int(np.argmin(np.abs(c_sc[:2, 2])))  # a filled score
    x, y = (c_kp[row, 2] / np.asarray(compat.scale_factor)).round().astype(int)
    np.testing.assert_allclose(c_sc[row, 2], np.log(np.clip(np.asarray(_blurred(heatmaps))[2, y, x], 1e-3, 50)),
                               rtol=1e-5)
    ex, ey = (e_kp[row, 2] / np.asarray(compat.scale_factor)).round().astype(int)
    np.testing.assert_allclose(e_sc[row, 2], np.asarray(heatmaps)[2, ey, ex], rtol=1e-6)


@pytest.mark.parametrize("compat", [True, False])
def test_udp_fill_in_of_an_all_zero_channel(compat):
    # Keypoint type 2 is seen by nobody: its channel is all zero. MMPose's
    # refinement rescales the blurred channel by 0 / 0, so its fill-in cost
    # map is all NaN and np.argmin of it is the first pixel; the compat mode
    # keeps that pixel (score log(1e-3), policy 14). The exact mode fills
    # from the heatmaps: the pixel whose tag is nearest to the person's tag.
    rng = np.random.default_rng(7)
    keypoints = crowd(rng, 2)
    visible = np.ones((2, 5), np.float32)
    visible[:, 2] = 0
    codec = ae(use_udp=True, decode_max_instances=4, mmpose_compat=compat)
    heatmaps = np.asarray(codec.encode(keypoints, visible)["heatmaps"])
    assert not heatmaps[2].any()
    tags = painted_tags(codec, keypoints[None], np.ones((1, 2, 5), np.float32))[0]
    decoded_kp, scores, _, valid = (np.asarray(x) for x in codec.decode(heatmaps, tags))
    assert valid.sum() == 2
    nan_argmin = np.unravel_index(np.argmin(np.full(heatmaps.shape[1:], np.nan)), heatmaps.shape[1:])
    for row in range(2):
        person = int(np.argmin(np.abs(decoded_kp[row, [0, 1, 3, 4]] - keypoints[:, [0, 1, 3, 4]]).sum(axis=(1, 2))))
        if compat:
            expected = np.array(nan_argmin[::-1], np.float64)
            np.testing.assert_allclose(scores[row, 2], np.log(1e-3), rtol=1e-6)
        else:
            cost = np.round(np.abs(tags[2] - TAG_STEP * person)) * 100 - heatmaps[2]
            expected = np.array(np.unravel_index(np.argmin(cost), cost.shape)[::-1], np.float64)
        np.testing.assert_allclose(decoded_kp[row, 2], expected * np.asarray(codec.scale_factor))
        assert compat or person == 0 or expected.any()  # person 1's tag lies away from the first pixel


def _blurred(heatmaps):
    from conftest import blur_rescaled

    return blur_rescaled(np.asarray(heatmaps), 3)


def test_center_shift_moves_detected_keypoints_only():
    rng = np.random.default_rng(6)
    keypoints = crowd(rng, 2)
    visible = np.ones((2, 5), np.float32)
    heatmaps = ae().encode(keypoints, visible)["heatmaps"]
    tags = painted_tags(ae(), keypoints[None], visible[None])[0]
    plain = np.asarray(ae(decode_max_instances=6).decode(heatmaps, tags)[0])[:2]
    shifted = np.asarray(ae(decode_max_instances=6, decode_center_shift=0.5).decode(heatmaps, tags)[0])[:2]
    np.testing.assert_allclose(shifted - plain, np.full_like(plain, 0.5 * 4))


def test_udp_heatmaps_are_differentiable_in_the_keypoints():
    codec = ae(use_udp=True, sigma=1.5, dtype=np.float64)
    keypoints = np.array([[[40.3, 61.7], [90.2, 30.6]]], np.float64)

    def render(kp):
        return codec.encode(kp, np.ones((1, 2)))["heatmaps"]

    with jax.enable_x64(True):
        check_jacobian(render, [keypoints], atol=1e-7, rtol=1e-4)


def test_bad_input_names_the_argument():
    codec = ae()
    heatmaps, tags = np.zeros((5, 32, 32), np.float32), np.zeros((5, 32, 32), np.float32)
    with pytest.raises(ValueError, match="`tags`.*multiple of K = 5"):
        codec.decode(heatmaps, np.zeros((7, 32, 32), np.float32))
    with pytest.raises(ValueError, match="`tags`"):
        codec.decode(heatmaps, np.zeros((5, 32, 30), np.float32))
    with pytest.raises(ValueError, match="`heatmaps`"):
        codec.decode(np.zeros((5, 16, 16), np.float32), tags)
    with pytest.raises(ValueError, match="`decode_keypoint_order`.*got"):
        ae(decode_keypoint_order=(0, 1, 2, 3, 3)).decode(heatmaps, tags)
    with pytest.raises(ValueError, match="`decode_topk`"):
        ae(decode_topk=32 * 32 + 1)
    with pytest.raises(ValueError, match="`batch_tags`"):
        codec.batch_decode(heatmaps[None], tags)
    with pytest.raises(TypeError, match="round_trip"):
        codec.round_trip(np.zeros((1, 5, 2), np.float32))


def test_defaults():
    codec = jaxcodecs.AssociativeEmbedding(input_size=(512, 512), heatmap_size=(128, 96))
    assert codec.sigma == pytest.approx((128 * 96) ** 0.5 / 64)
    assert codec.decode_topk == 30 and codec.decode_max_instances is None
    np.testing.assert_allclose(codec.scale_factor, [4.0, 512 / 96])
    udp = jaxcodecs.AssociativeEmbedding(input_size=(512, 512), heatmap_size=(128, 96), use_udp=True)
    np.testing.assert_allclose(udp.scale_factor, [511 / 127, 511 / 95], rtol=1e-6)
    decoded = jax.jit(ae(decode_topk=3).decode)(np.zeros((5, 32, 32)), np.zeros((5, 32, 32)))
    assert decoded[0].shape == (15, 5, 2) and not np.asarray(decoded[3]).any()
    assert TAG_STEP > 1.0


def test_batch_decode_in_chunks_equals_decode(monkeypatch):
    # A batch larger than a grouping chunk is decoded a chunk at a time, the
    # last chunk overlapping the one before (images 3-4 after 2-3): five
    # images in chunks of two give what decode gives image by image.
    from jaxcodecs.codecs import associative_embedding as module

    codec = ae(decode_topk=4)  # a pool of 20 groups, 80 cells per image (K = 5)
    monkeypatch.setattr(module, "_GROUPING_CHUNK_CELLS", 160)
    assert module._grouping_chunks(5, 80) == (3, 2)
    rng = np.random.default_rng(7)
    heatmaps, tags = [], []
    for people in (1, 2, 3, 2, 4):
        keypoints = crowd(rng, people)
        visible = np.ones((people, 5), np.float32)
        heatmaps.append(np.asarray(codec.encode(keypoints, visible)["heatmaps"]))
        tags.append(painted_tags(codec, keypoints[None], visible[None])[0])
    heatmaps, tags = np.stack(heatmaps), np.stack(tags)
    batch = jax.jit(codec.batch_decode)(heatmaps, tags)
    decode = jax.jit(codec.decode)
    for b in range(5):
        for got, want in zip(batch, decode(heatmaps[b], tags[b])):
            np.testing.assert_array_equal(np.asarray(got)[b], np.asarray(want))
    assert np.asarray(batch[3]).sum(1).tolist() == [1, 2, 3, 2, 4]
    # Off CPU the batch is grouped in one piece (lax.platform_dependent):
    # that branch, run here, gives the same rows bit for bit, and only the
    # CPU program loops over chunks.
    whole = jax.jit(codec._decode_chunk)(jnp.asarray(heatmaps), jnp.asarray(tags))
    for got, want in zip(whole, batch):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    from jax import export

    loops = {platform: export.export(jax.jit(codec.batch_decode), platforms=[platform])(heatmaps, tags)
             .mlir_module().count("stablehlo.while") for platform in ("cpu", "cuda")}
    assert loops["cpu"] == loops["cuda"] + 1
