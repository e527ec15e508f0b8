"""Flip-test helpers: tables, mirrors, per-codec shifts and the flip-test average.

Expected values are independent of the implementation: hand-written tables
and NumPy formulas of the image flip ``x -> w - 1 - x``, the mathematical
properties (mirroring twice is the identity) and, in the exact mode, the
codec's own ``encode`` of the mirrored keypoints.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxcodecs
from jaxcodecs import flip

COCO = flip.flip_indices("coco")
EXACT = dict(mmpose_compat=False)
RNG = np.random.default_rng(7)


def _poses(width, height, num=1, margin=0.2, rng=RNG):
    """``(num, 17, 2)`` sub-pixel keypoints inside the central part of the input."""
    x = rng.uniform(margin * width, (1 - margin) * width, (num, 17))
    y = rng.uniform(margin * height, (1 - margin) * height, (num, 17))
    return np.stack([x, y], axis=-1).astype(np.float32)


def _mirror(keypoints, width):
    """The image flip in NumPy: x -> w - 1 - x, COCO's left and right swapped."""
    out = np.array(keypoints, np.float64)
    out[..., 0] = width - 1 - out[..., 0]
    return out[..., list(COCO), :].astype(np.float32)


# ------------------------------------------------------------------ tables
EXPECTED_SIZES = {"coco": 17, "coco_wholebody": 133, "mpii": 16, "aic": 14, "crowdpose": 14,
                  "halpe26": 26, "h36m": 17, "hand21": 21, "face68": 68}


def test_coco_table_by_hand():
    assert COCO == (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15)
    assert flip.flip_indices("mpii") == (5, 4, 3, 2, 1, 0, 6, 7, 8, 9, 15, 14, 13, 12, 11, 10)
    assert flip.flip_indices("h36m") == (0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11, 12, 13)
    assert flip.flip_indices("hand21") == tuple(range(21))


@pytest.mark.parametrize("dataset", sorted(EXPECTED_SIZES))
def test_tables_are_involutions_that_pair_left_with_right(dataset):
    names, table = flip.keypoint_names(dataset), np.asarray(flip.flip_indices(dataset))
    assert len(names) == len(table) == EXPECTED_SIZES[dataset]
    np.testing.assert_array_equal(np.sort(table), np.arange(len(table)))
    np.testing.assert_array_equal(table[table], np.arange(len(table)))
    for i, name in enumerate(names):
        words = name.split("_")
        partner = names[table[i]].split("_")
        if "left" in words or "right" in words:
            swapped = ["right" if w == "left" else "left" if w == "right" else w for w in words]
            assert partner == swapped, (name, names[table[i]])
        else:
            assert table[i] == i, name


def test_face_landmarks_mirror_as_the_68_point_layout():
    # Facts of the 300-W layout: jaw ends, outer / inner eye corners, mouth
    # corners swap; the nose bridge and the lips' midpoints stay.
    face = flip.flip_indices("face68")
    for a, b in [(0, 16), (8, 8), (17, 26), (27, 27), (31, 35), (33, 33), (36, 45), (39, 42),
                 (37, 44), (41, 46), (48, 54), (51, 51), (57, 57), (60, 64), (62, 62), (66, 66)]:
        assert face[a] == b and face[b] == a
    whole = flip.flip_indices("coco_wholebody")
    assert whole[:17] == COCO and whole[23 + 36] == 23 + 45 and whole[91] == 112


def test_table_errors():
    with pytest.raises(KeyError, match="coco_wholebody.*mpii"):
        flip.flip_indices("cocoa")
    with pytest.raises(ValueError, match="no mirror partner 'right_hand'"):
        flip.flip_indices_from_names(["left_hand", "nose"])
    with pytest.raises(ValueError, match="repeated"):
        flip.flip_indices_from_names(["nose", "nose"])


def test_bad_flip_indices():
    heatmaps = np.zeros((17, 8, 6), np.float32)
    with pytest.raises(ValueError, match=r"`flip_indices` must have length 17.*got shape \(16,\)"):
        flip.flip_heatmaps(heatmaps, COCO[:16])
    broken = list(COCO)
    broken[1], broken[3] = 3, 2  # 1 -> 3 -> 2
    with pytest.raises(ValueError, match="involution.*1 -> 3 -> 2"):
        flip.flip_heatmaps(heatmaps, broken)
    with pytest.raises(ValueError, match=r"\[0, 17\)"):
        flip.flip_visibility(np.ones(17), [17] + list(COCO[1:]))


@pytest.mark.parametrize("codec", [
    jaxcodecs.EDPoseLabel(num_keypoints=17),
    jaxcodecs.YOLOXPoseAnnotationProcessor(),
], ids=lambda c: type(c).__name__)
def test_codecs_without_a_spatial_target_refuse(codec):
    for call in (lambda: flip.flip_shift(codec), lambda: flip.flip_encoded(codec, {}, COCO),
                 lambda: flip.flip_decode_inputs(codec, np.zeros(3), flip_indices=COCO),
                 lambda: flip.flip_decoded(codec, np.zeros((1, 17, 2)), COCO)):
        with pytest.raises(TypeError, match="flip_keypoints.*Supported codecs: AssociativeEmbedding"):
            call()


# ------------------------------------------------------ array-level mirrors
def _edge_free(shape, margin=2):
    """Random maps whose ``margin`` outer columns are zero (what a whole shift moves off)."""
    maps = RNG.uniform(0, 1, shape).astype(np.float32)
    maps[..., :margin] = 0
    maps[..., -margin:] = 0
    return maps


@pytest.mark.parametrize("shift", [0.0, 1.0, -1.0])
def test_flipping_twice_is_the_identity(shift):
    kp = _poses(192, 256, 3)
    np.testing.assert_allclose(flip.flip_keypoints(flip.flip_keypoints(kp, COCO, image_width=192), COCO,
                                                   image_width=192), kp, atol=1e-5)
    np.testing.assert_array_equal(flip.flip_root_relative(flip.flip_root_relative(kp, COCO), COCO), kp)
    labels = RNG.uniform(0, 1, (2, 17, 4)).astype(np.float32)
    twice = flip.flip_regression_labels(flip.flip_regression_labels(labels, COCO, image_width=192), COCO,
                                        image_width=192)
    np.testing.assert_allclose(twice, labels, atol=1e-6)
    maps = _edge_free((2, 17, 8, 12))
    np.testing.assert_array_equal(flip.flip_heatmaps(flip.flip_heatmaps(maps, COCO, shift=shift), COCO,
                                                     shift=shift), maps)
    sx, sy = _edge_free((17, 20)), RNG.uniform(0, 1, (17, 9)).astype(np.float32)
    for got, want in zip(flip.flip_simcc(*flip.flip_simcc(sx, sy, COCO, shift=shift), COCO, shift=shift), (sx, sy)):
        np.testing.assert_array_equal(got, want)
    fields = _edge_free((51, 8, 12))
    np.testing.assert_array_equal(flip.flip_udp_offsets(flip.flip_udp_offsets(fields, COCO), COCO), fields)
    fields = _edge_free((34, 8, 12))
    np.testing.assert_array_equal(
        flip.flip_displacements(flip.flip_displacements(fields, COCO, shift=shift), COCO, shift=shift), fields)
    np.testing.assert_array_equal(flip.flip_tags(flip.flip_tags(fields, COCO, shift=shift), COCO, shift=shift),
                                  fields)


def test_mirrors_match_numpy_formulas():
    kp = _poses(192, 256, 2)
    np.testing.assert_allclose(flip.flip_keypoints(kp, COCO, image_width=192), _mirror(kp, 192), atol=1e-5)
    maps = RNG.uniform(0, 1, (17, 5, 7)).astype(np.float32)
    np.testing.assert_array_equal(flip.flip_heatmaps(maps, COCO), maps[list(COCO), :, ::-1])
    shifted = np.concatenate([maps[list(COCO), :, ::-1][..., :1], maps[list(COCO), :, ::-1][..., :-1]], -1)
    np.testing.assert_array_equal(flip.flip_heatmaps(maps, COCO, shift=1), shifted)
    labels = kp / np.float32(192)
    np.testing.assert_allclose(flip.flip_regression_labels(labels, COCO, image_width=192),
                               _mirror(kp, 192) / np.float32(192), atol=1e-6)
    combined = RNG.uniform(-1, 1, (51, 5, 7)).astype(np.float32)
    want = combined.reshape(17, 3, 5, 7)[list(COCO), :, :, ::-1] * np.array([1, -1, 1])[:, None, None]
    np.testing.assert_array_equal(flip.flip_udp_offsets(combined, COCO), want.reshape(51, 5, 7))


def test_fractional_shift_moves_a_gaussian_without_changing_it():
    u = np.arange(48, dtype=np.float64)
    for centre, shift in [(20.3, 0.75), (11.0, -0.25), (30.6, 0.4)]:
        gauss = np.exp(-(u - centre) ** 2 / 8.0)[None, None].astype(np.float32)
        moved = flip.shift_along_x(gauss, shift)
        np.testing.assert_allclose(moved[0, 0], np.exp(-(u - centre - shift) ** 2 / 8.0), atol=2e-6)
        linear = flip.shift_along_x(gauss, shift, interpolation="linear")
        assert np.max(np.abs(linear[0, 0] - np.exp(-(u - centre - shift) ** 2 / 8.0))) > 1e-2
        back = flip.flip_heatmaps(flip.flip_heatmaps(gauss, None, shift=shift), None, shift=shift)
        np.testing.assert_allclose(back, gauss, atol=2e-6)


def test_jit_with_static_or_traced_table():
    maps = RNG.uniform(0, 1, (2, 17, 8, 12)).astype(np.float32)
    want = flip.flip_heatmaps(maps, COCO, shift=0.75)
    static = jax.jit(lambda m: flip.flip_heatmaps(m, COCO, shift=0.75))(maps)
    traced = jax.jit(lambda m, t: flip.flip_heatmaps(m, t, shift=0.75))(maps, jnp.asarray(COCO))
    np.testing.assert_allclose(static, want, atol=1e-6)
    np.testing.assert_allclose(traced, want, atol=1e-6)
    with pytest.raises(ValueError, match="`flip_indices` must be 17 integers"):
        jax.jit(lambda m, t: flip.flip_heatmaps(m, t))(maps, jnp.zeros(16, jnp.int32))


# -------------------------------------------------------- per-codec shifts
def test_shifts_follow_each_convention():
    w, big_w = 192, 48
    assert flip.flip_shift(jaxcodecs.MSRAHeatmap((w, 256), (big_w, 64), sigma=2.0)) == 1 - big_w / w
    assert flip.flip_shift(jaxcodecs.UDPHeatmap((w, 256), (big_w, 64))) == 0.0
    assert flip.flip_shift(jaxcodecs.UDPHeatmap((w, 256), (big_w, 64), mmpose_compat=False)) == 0.0
    assert flip.flip_shift(jaxcodecs.MegviiHeatmap((w, 256), (big_w, 64), kernel_size=11)) == -big_w / w
    assert flip.flip_shift(jaxcodecs.SimCCLabel((w, 256), simcc_split_ratio=2.0)) == 1 - 2.0
    assert flip.flip_shift(jaxcodecs.SimCCLabel((w, 256), simcc_split_ratio=1.5)) == (w - 1) * 1.5 - (288 - 1)
    assert flip.flip_shift(jaxcodecs.AssociativeEmbedding((256, 256), (64, 64), use_udp=True)) == 0.0
    assert flip.flip_shift(jaxcodecs.SPR((256, 256), (64, 64))) == 0.75
    with pytest.raises(TypeError, match="RegressionLabel"):
        flip.flip_shift(jaxcodecs.RegressionLabel((w, 256)))


# ---------------------------------- exact mode: target of the mirror = mirrored target
def _hand3d(image, maps):
    return jaxcodecs.Hand3DHeatmap(image_size=(image, image), heatmap_size=(maps, maps, maps), depth_size=maps,
                                   root_heatmap_size=maps, heatmap_size_root=maps, sigma=2.0, **EXACT)


# (codec, instances, tolerance). A whole shift (UDP; input and map of one
# size) mirrors quantised targets exactly; MSRA-DARK at 192 -> 48 (shift
# 0.75) and SimCC at split ratio 1.5 (shift -0.5) are moved by band-limited
# interpolation, measured within 4e-6 and 2e-7 of the re-encoded targets.
EQUAL_CASES = {
    "msra_same_size": (jaxcodecs.MSRAHeatmap((48, 64), (48, 64), sigma=2.0, **EXACT), 1, 0.0),
    "msra_dark_ratio4": (jaxcodecs.MSRAHeatmap((192, 256), (48, 64), sigma=2.0, unbiased=True, **EXACT), 1, 2e-5),
    "megvii_same_size": (jaxcodecs.MegviiHeatmap((48, 64), (48, 64), kernel_size=11, **EXACT), 1, 0.0),
    "udp_gaussian": (jaxcodecs.UDPHeatmap((192, 256), (48, 64), **EXACT), 1, 1e-5),
    "udp_combined": (jaxcodecs.UDPHeatmap((192, 256), (48, 64), heatmap_type="combined", **EXACT), 1, 1e-5),
    "simcc_ratio2": (jaxcodecs.SimCCLabel((192, 256), sigma=(4.9, 5.66), **EXACT), 2, 1e-6),
    "simcc_ratio1.5": (jaxcodecs.SimCCLabel((192, 256), sigma=(4.9, 5.66), simcc_split_ratio=1.5, **EXACT), 2, 1e-6),
    "regression": (jaxcodecs.RegressionLabel((192, 256), **EXACT), 2, 1e-6),
    "integral_same_size": (jaxcodecs.IntegralRegressionLabel((48, 64), (48, 64), sigma=2.0, unbiased=True,
                                                             **EXACT), 1, 1e-5),
    "ae_udp": (jaxcodecs.AssociativeEmbedding((256, 256), (64, 64), sigma=2.0, use_udp=True, **EXACT), 2, 1e-5),
    "ae_same_size": (jaxcodecs.AssociativeEmbedding((64, 64), (64, 64), sigma=2.0, **EXACT), 2, 0.0),
    "spr_same_size": (jaxcodecs.SPR((64, 64), (64, 64), sigma=(4.0, 2.0), generate_keypoint_heatmaps=True,
                                   **EXACT), 1, 1e-5),
    "cid_same_size": (jaxcodecs.DecoupledHeatmap((64, 64), (64, 64), encode_max_instances=4, **EXACT), 2, 0.0),
    "hand3d_same_size": (_hand3d(16, 16), 1, 1e-6),
}


@pytest.mark.parametrize("case", sorted(EQUAL_CASES))
def test_exact_mode_target_of_the_mirror_is_the_mirrored_target(case):
    codec, num, atol = EQUAL_CASES[case]
    width, height = codec.input_size
    kp = _poses(width, height, num, rng=np.random.default_rng(len(case)))
    if isinstance(codec, jaxcodecs.Hand3DHeatmap):
        kp = np.concatenate([kp, RNG.uniform(-100, 100, kp.shape[:2] + (1,)).astype(np.float32)], axis=-1)
    encode = jax.jit(codec.encode)
    mirrored = encode(_mirror(kp, width))
    flipped = flip.flip_encoded(codec, encode(kp), COCO)
    assert sorted(flipped) == sorted(mirrored)
    for key in mirrored:
        got, want = np.asarray(flipped[key], np.float64), np.asarray(mirrored[key], np.float64)
        if key in ("displacements", "displacement_weights"):
            # SPR's square [trunc(rx - r), trunc(rx + r)) is not symmetric about
            # the root: compare where both targets are drawn.
            both = (np.asarray(flipped["displacement_weights"]) > 0) & (np.asarray(mirrored["displacement_weights"]) > 0)
            assert both.sum() > 0.5 * (np.asarray(mirrored["displacement_weights"]) > 0).sum()
            got, want = got[both], want[both]
        np.testing.assert_allclose(got, want, atol=atol, rtol=0, err_msg=f"{case}: {key}")


# ------------------------------------------------------- the flip-test average
@functools.lru_cache(maxsize=None)
def _jitted(codec):
    return jax.jit(codec.batch_encode), jax.jit(codec.batch_decode)


def _flip_test_error(codec, num=24, flipped_args=None):
    """Max |decode((out + flip(out on the mirror)) / 2) - truth| in input px,
    per axis, where ``out`` is the codec's own (exact) target."""
    width, height = codec.input_size
    kp = _poses(width, height, num, margin=0.15, rng=np.random.default_rng(3))
    both = np.concatenate([kp, _mirror(kp, width)])[:, None]
    encode, decode = _jitted(codec)
    encoded = encode(both)
    args = [encoded[key] for key in codec.decode_input_keys]
    direct = [a[:num] for a in args]
    mirrored = [a[num:] for a in args]
    back = (flipped_args or (lambda *a: flip.flip_decode_inputs(codec, *a, flip_indices=COCO)))(*mirrored)
    average = [(a + b) / 2 for a, b in zip(direct, back)]
    decoded = decode(*average)[0][:, 0]
    return np.max(np.abs(np.asarray(decoded) - kp), axis=(0, 1)), np.mean(np.abs(np.asarray(decoded) - kp))


# (codec, bound in input px). The bounds are each codec's own round-trip
# accuracy (README): sub-pixel codecs keep it through the flip test, the
# quantised ones stay within their quantisation.
AVERAGE_CASES = {
    "msra_dark": (jaxcodecs.MSRAHeatmap((192, 256), (48, 64), sigma=2.0, unbiased=True, **EXACT), 0.005),
    "msra_plain": (jaxcodecs.MSRAHeatmap((192, 256), (48, 64), sigma=2.0, **EXACT), 2.0 + 1e-3),
    "megvii": (jaxcodecs.MegviiHeatmap((192, 256), (48, 64), kernel_size=11, **EXACT), 2.0 + 1e-3),
    "udp_gaussian": (jaxcodecs.UDPHeatmap((192, 256), (48, 64), **EXACT), 0.005),
    "udp_combined": (jaxcodecs.UDPHeatmap((192, 256), (48, 64), heatmap_type="combined", **EXACT), 1e-3),
    "simcc_dark": (jaxcodecs.SimCCLabel((192, 256), sigma=(4.9, 5.66), use_dark=True, **EXACT), 0.05),
    "simcc_argmax": (jaxcodecs.SimCCLabel((192, 256), sigma=(4.9, 5.66), **EXACT), 0.25 + 1e-3),
    "regression": (jaxcodecs.RegressionLabel((192, 256), **EXACT), 1e-4),
    "integral": (jaxcodecs.IntegralRegressionLabel((192, 256), (48, 64), sigma=2.0, **EXACT), 1e-4),
}


@pytest.mark.parametrize("case", sorted(AVERAGE_CASES))
def test_flip_test_average_decodes_to_the_truth(case):
    codec, bound = AVERAGE_CASES[case]
    worst, mean = _flip_test_error(codec)
    assert np.all(worst <= bound), (case, worst)


def test_the_derived_shift_beats_a_constant_pixel_for_msra():
    # MSRA at 192 -> 48: the mirror needs 0.75 map px after the reversal. A
    # constant one-pixel shift (the common default) leaves 0.25 map px, half
    # of which survives the average; no shift leaves 0.75.
    codec = AVERAGE_CASES["msra_dark"][0]
    helper, _ = _flip_test_error(codec)
    constant, _ = _flip_test_error(codec, flipped_args=lambda m: (flip.flip_heatmaps(m, COCO, shift=1.0),))
    none, _ = _flip_test_error(codec, flipped_args=lambda m: (flip.flip_heatmaps(m, COCO, shift=0.0),))
    assert helper[0] < 0.005 and constant[0] > 0.45 and none[0] > 1.45


# ------------------------------------------------------------------ lifting
def _lifting_case(name):
    """A lifting codec, its encode arguments for one clip of ``T = 2`` frames
    and their mirror (3-D target x -> -x about a root joint of its own mirror)."""
    kp2d = _poses(1000, 1000, 2, rng=np.random.default_rng(5))
    target = np.concatenate([kp2d / 1000.0 - 0.5, RNG.uniform(3.5, 4.5, (2, 17, 1))], -1).astype(np.float32)
    mirrored = np.asarray(flip.flip_root_relative(target, flip.flip_indices("h36m")))
    camera = {"w": np.float32(1000.0), "h": np.float32(1000.0)}
    if name == "image":
        mean = RNG.uniform(-0.1, 0.1, (16, 3)).astype(np.float32)
        codec = jaxcodecs.ImagePoseLifting(num_keypoints=17, remove_root=True, reshape_keypoints=False,
                                           target_mean=mean, target_std=np.full((16, 3), 0.3, np.float32))
        args, extra = (kp2d, None), ()
    elif name == "video":
        codec, args, extra = jaxcodecs.VideoPoseLifting(num_keypoints=17), (kp2d, None), (camera,)
    else:
        codec, args, extra = jaxcodecs.MotionBERTLabel(num_keypoints=17, **EXACT), (kp2d, None), (camera,)
    return codec, args, target, mirrored, extra


@pytest.mark.parametrize("name", ["image", "video", "motionbert"])
def test_lifting_flip_is_a_mirror_about_the_root(name):
    codec, args, target, mirrored, extra = _lifting_case(name)
    table = flip.flip_indices("h36m")
    enc, enc_mirror = (codec.encode(*args, t, None, *extra) for t in (target, mirrored))
    inputs = [enc[k] for k in codec.decode_input_keys]
    back = flip.flip_decode_inputs(codec, *[enc_mirror[k] for k in codec.decode_input_keys], flip_indices=table)
    for got, want in zip(back, inputs):
        np.testing.assert_allclose(got, want, atol=1e-5)
    decoded = codec.decode(*inputs)[0]
    np.testing.assert_allclose(codec.decode(*flip.flip_decode_inputs(codec, *inputs, flip_indices=table))[0],
                               flip.flip_decoded(codec, decoded, table), atol=1e-5)
    average = [(a + b) / 2 for a, b in zip(inputs, back)]
    np.testing.assert_allclose(codec.decode(*average)[0], decoded, atol=1e-5)


def test_lifting_root_must_be_its_own_mirror():
    codec = jaxcodecs.VideoPoseLifting(num_keypoints=17, root_index=1)
    with pytest.raises(ValueError, match=r"root joint\(s\) \[1\] onto themselves"):
        flip.flip_decode_inputs(codec, np.zeros((1, 17, 3), np.float32), flip_indices=flip.flip_indices("h36m"))


def test_public_api():
    assert jaxcodecs.flip is flip and "flip" in jaxcodecs.__all__
    for name in flip.__all__:
        assert callable(getattr(flip, name)), name
    assert flip.list_flip_tables() == tuple(sorted(EXPECTED_SIZES))
