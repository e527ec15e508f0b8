"""ImagePoseLifting / VideoPoseLifting and ``jaxcodecs.ops.normalize``.

Every value is checked against something computed independently of the
library: a float64 NumPy formula written here from ``MMPOSE_BEHAVIOUR.md``
§2.10-2.11 and ``SPEC.md`` §4 rows 18-21, or a mathematical property (the
round trip ``decode(encode(x))`` recovers the lifting target, insert / remove
of a joint are inverse). Derivatives are checked against finite differences
in ``test_gradients.py``; golden-vector parity with MMPose and the generic API
conventions (jit, vmap, batch == loop for every codec, no retrace, sharding)
in ``test_conformance.py``, ``test_api.py`` and ``test_sharding.py``.
"""

import copy
import functools
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaxcodecs import ImagePoseLifting, VideoPoseLifting, ops

K = 17  # H36M joints
C = 3
W, H = 1000.0, 1002.0  # H36M camera S1/54138969
FRAMES = (1, 2, 27, 243)
# Single roots (16 >= T for T in {1, 2}: the frame-axis quirk of MMPose) and
# pairs of roots (mean root; remove_root then removes nothing).
ROOTS = (0, 16, (1, 4), (11, 14))


# ------------------------------------------------------------- references
def np_root_relative(target, root_index):
    """``(target - root[:, None], root)``, root = mean of the root joints, float64."""
    target = np.asarray(target, np.float64)
    index = [root_index] if isinstance(root_index, int) else list(root_index)
    root = np.zeros((target.shape[0], target.shape[2]))
    for i in index:
        root += target[:, i, :]
    root /= len(index)
    return target - root[:, None, :], root


def np_keypoint_labels(labels, vis, concat_vis, reshape):
    """MMPose's keypoint-label layout, with explicit loops: visibility appended
    as the last channel, then ``out[k * D' + d, n] = labels[n, k, d]``."""
    labels = np.asarray(labels, np.float64)
    vis = np.asarray(vis, np.float64)
    n_inst, n_kp, dims = labels.shape
    if concat_vis:
        grown = np.zeros((n_inst, n_kp, dims + 1))
        for n in range(n_inst):
            for k in range(n_kp):
                grown[n, k, :dims] = labels[n, k]
                grown[n, k, dims] = vis[n, k]
        labels, dims = grown, dims + 1
    if not reshape:
        return labels
    out = np.zeros((n_kp * dims, n_inst))
    for n in range(n_inst):
        for k in range(n_kp):
            for d in range(dims):
                out[k * dims + d, n] = labels[n, k, d]
    return out


def np_unreshape(labels, n_kp, dims):
    """Inverse of the ``(K * D', N)`` layout, back to ``(N, K, D')``."""
    labels = np.asarray(labels, np.float64)
    return labels.reshape(n_kp, dims, -1).transpose(2, 0, 1)


def unpack_keypoint_labels(enc, n_kp, frames, vis, concat_vis, reshape):
    """The encoded 2-D keypoint labels back as ``(N, K, D')``; checks the
    layout and the appended visibility."""
    dims = 3 if concat_vis else 2
    labels = np64(enc["keypoint_labels"])
    labels = np_unreshape(labels, n_kp, dims) if reshape else labels
    assert labels.shape == (frames, n_kp, dims)
    if concat_vis:
        np.testing.assert_array_equal(labels[..., 2], vis)
    return labels


def np_screen(kp, w, h):
    kp = np.asarray(kp, np.float64)
    return (kp - np.array([w / 2, h / 2])) / (w / 2)


def np_reciprocal_or_zero(x):
    x = np.asarray(x, np.float64)
    out = np.zeros_like(x)
    np.divide(1.0, x, out=out, where=x != 0)
    return out


def np_pinhole(points, f, c):
    points = np.asarray(points, np.float64)
    f = np.asarray(f, np.float64).reshape(2)
    c = np.asarray(c, np.float64).reshape(2)
    out = np.zeros(points.shape[:-1] + (2,))
    for idx in np.ndindex(points.shape[:-1]):
        x, y, z = points[idx]
        out[idx] = (f[0] * x / z + c[0], f[1] * y / z + c[1])
    return out


# ----------------------------------------------------------------- inputs
def make_clip(seed, frames, num_keypoints=K):
    """2-D keypoints (pixels), their visibility, a 3-D target (metres, about
    5 m in front of the camera) and its visibility (0.5 exactly included)."""
    rng = np.random.default_rng(seed)
    kp = rng.uniform(0.0, 1000.0, (frames, num_keypoints, 2)).astype(np.float32)
    vis = rng.choice([0.0, 0.3, 0.6, 1.0], (frames, num_keypoints)).astype(np.float32)
    target = (rng.normal(0.0, 0.5, (frames, num_keypoints, C)) + [0.2, -0.3, 5.0]).astype(np.float32)
    target_vis = rng.choice([0.0, 0.4, 0.5, 0.51, 1.0], (frames, num_keypoints)).astype(np.float32)
    return kp, vis, target, target_vis


def camera(seed=0, batch=()):
    rng = np.random.default_rng(seed)
    return {
        "w": np.full(batch, W, np.float32),
        "h": np.full(batch, H, np.float32),
        "f": rng.uniform(1100, 1200, batch + (2, 1)).astype(np.float32),
        "c": rng.uniform(480, 520, batch + (2, 1)).astype(np.float32),
        "k": rng.normal(0, 0.1, batch + (3, 1)).astype(np.float32),
    }


def stats(seed, joints, dims):
    rng = np.random.default_rng(seed)
    mean = rng.normal(0.0, 1.0, (joints, dims)).astype(np.float32)
    std = rng.uniform(0.2, 2.0, (joints, dims)).astype(np.float32)
    return mean, std


def target_joints(root_index, remove_root):
    return K - 1 if remove_root and isinstance(root_index, int) else K


def as_arg(root_index):
    return root_index if isinstance(root_index, int) else list(root_index)


@functools.lru_cache(maxsize=None)
def image_codec(root_index, remove_root=False, concat_vis=False, reshape=False,
                kp_stats=False, target_stats=False, compat=True, save_index=False):
    kwargs = {}
    if kp_stats:
        kwargs["keypoints_mean"], kwargs["keypoints_std"] = stats(1, K, 2)
    if target_stats:
        kwargs["target_mean"], kwargs["target_std"] = stats(2, target_joints(root_index, remove_root), C)
    return ImagePoseLifting(
        num_keypoints=K, root_index=as_arg(root_index), remove_root=remove_root,
        save_index=save_index, concat_vis=concat_vis, reshape_keypoints=reshape,
        mmpose_compat=compat, **kwargs)


@functools.lru_cache(maxsize=None)
def video_codec(root_index, remove_root=False, concat_vis=False, reshape=False,
                zero_center=True, compat=True, normalize_camera=False, save_index=False):
    return VideoPoseLifting(
        num_keypoints=K, root_index=as_arg(root_index), remove_root=remove_root,
        save_index=save_index, concat_vis=concat_vis, reshape_keypoints=reshape,
        zero_center=zero_center, normalize_camera=normalize_camera, mmpose_compat=compat)


def np64(x):
    return np.asarray(x, np.float64)


# ------------------------------------------------------- 1. round trips
def check_image_round_trip(frames, root_index, remove_root, concat_vis, reshape,
                           with_tvis, kp_stats, target_stats, compat, seed):
    codec = image_codec(root_index, remove_root, concat_vis, reshape, kp_stats, target_stats, compat)
    kp, vis, target, tvis = make_clip(seed, frames)
    enc = codec.encode(kp, vis, target, tvis if with_tvis else None)

    label, root = enc["lifting_target_label"], enc["target_root"]
    assert label.shape == (frames, target_joints(root_index, remove_root), C)
    assert root.shape == (frames, C)
    dec, scores = codec.decode(label, root)
    np.testing.assert_allclose(np64(dec), target, atol=2e-5 * 5, rtol=0)
    np.testing.assert_array_equal(np.asarray(scores), np.ones((frames, K)))
    dec3, _ = codec.decode(label, jnp.reshape(root, (frames, 1, C)))
    np.testing.assert_array_equal(np.asarray(dec3), np.asarray(dec))

    # The 2-D keypoint labels are invertible too.
    labels = unpack_keypoint_labels(enc, K, frames, vis, concat_vis, reshape)
    if kp_stats:
        mean, std = stats(1, K, 2)
        labels = labels[..., :2] * std + mean
    np.testing.assert_allclose(labels[..., :2], kp, atol=1e-6 * 1000, rtol=0)


def check_video_round_trip(frames, root_index, remove_root, concat_vis, reshape,
                           with_tvis, zero_center, compat, seed):
    codec = video_codec(root_index, remove_root, concat_vis, reshape, zero_center, compat)
    kp, vis, target, tvis = make_clip(seed, frames)
    enc = codec.encode(kp, vis, target, tvis if with_tvis else None, camera(seed))
    label = enc["lifting_target_label"]
    if zero_center:
        root = enc["target_root"]
        assert label.shape == (frames, target_joints(root_index, remove_root), C)
        assert root.shape == (frames, C)
        dec, scores = codec.decode(label, root)
        dec3, _ = codec.decode(label, jnp.reshape(root, (frames, 1, C)))
        np.testing.assert_array_equal(np.asarray(dec3), np.asarray(dec))
    else:
        assert "target_root" not in enc
        np.testing.assert_array_equal(np.asarray(label), target)  # the target itself
        dec, scores = codec.decode(label)
    np.testing.assert_allclose(np64(dec), target, atol=2e-5 * 5, rtol=0)
    np.testing.assert_array_equal(np.asarray(scores), np.ones((frames, K)))

    labels = unpack_keypoint_labels(enc, K, frames, vis, concat_vis, reshape)
    pixels = labels[..., :2] * (W / 2) + np.array([W / 2, H / 2])
    np.testing.assert_allclose(pixels, kp, atol=1e-6 * 1000, rtol=0)


# Deadline and derandomisation come from the profile (conftest).
_SETTINGS = settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(frames=st.sampled_from(FRAMES), root_index=st.sampled_from(ROOTS),
       remove_root=st.booleans(), concat_vis=st.booleans(), reshape=st.booleans(),
       with_tvis=st.booleans(), kp_stats=st.booleans(), target_stats=st.booleans(),
       compat=st.booleans(), seed=st.integers(0, 2**16))
def test_image_round_trip_property(frames, root_index, remove_root, concat_vis, reshape,
                                   with_tvis, kp_stats, target_stats, compat, seed):
    check_image_round_trip(frames, root_index, remove_root, concat_vis, reshape,
                           with_tvis, kp_stats, target_stats, compat, seed)


@_SETTINGS
@given(frames=st.sampled_from(FRAMES), root_index=st.sampled_from(ROOTS),
       remove_root=st.booleans(), concat_vis=st.booleans(), reshape=st.booleans(),
       with_tvis=st.booleans(), zero_center=st.booleans(), compat=st.booleans(),
       seed=st.integers(0, 2**16))
def test_video_round_trip_property(frames, root_index, remove_root, concat_vis, reshape,
                                   with_tvis, zero_center, compat, seed):
    check_video_round_trip(frames, root_index, remove_root, concat_vis, reshape,
                           with_tvis, zero_center, compat, seed)


# A deterministic grid on top of the property tests: every T with each root
# kind and remove_root, all other switches on (both modes alternate).
@pytest.mark.parametrize("frames", FRAMES)
@pytest.mark.parametrize("root_index,remove_root", [(16, True), (16, False), ((11, 14), True)])
def test_round_trip_grid(frames, root_index, remove_root):
    compat = frames % 2 == 1
    check_image_round_trip(frames, root_index, remove_root, True, True, True, True, True, compat, frames)
    check_image_round_trip(frames, root_index, remove_root, False, False, False, False, False,
                           not compat, frames + 1)
    check_video_round_trip(frames, root_index, remove_root, True, True, True, True, compat, frames)
    check_video_round_trip(frames, root_index, remove_root, False, False, False, False, not compat,
                           frames + 1)


def test_decode_broadcasts_a_single_frame_root():
    """A root ``(1, C)`` / ``(C,)`` is added to every row of the encoded poses."""
    codec = video_codec(3, remove_root=True)
    rows = np.random.default_rng(3).normal(size=(4, K - 1, C)).astype(np.float32)
    root = np.array([0.5, -1.0, 4.0], np.float32)
    expected = np.insert(np64(rows) + root, 3, root, axis=1)
    for shape in ((C,), (1, C), (1, 1, C)):
        dec, _ = codec.decode(rows, root.reshape(shape))
        np.testing.assert_allclose(np64(dec), expected, atol=1e-6)


# --------------------------------------------------- 2. NumPy references
@pytest.mark.parametrize("codec_kind", ["image", "video"])
def test_label_multi_root_mean(codec_kind):
    kp, vis, target, _ = make_clip(10, 4)
    root_index = (2, 9)
    if codec_kind == "image":
        enc = image_codec(root_index, remove_root=True).encode(kp, vis, target)
    else:
        enc = video_codec(root_index, remove_root=True).encode(kp, vis, target, None, camera())
    label, root = np_root_relative(target, root_index)
    # Several roots: remove_root removes nothing.
    assert "target_root_removed" not in enc
    np.testing.assert_allclose(np64(enc["lifting_target_label"]), label, atol=1e-5)
    np.testing.assert_allclose(np64(enc["target_root"]), root, atol=1e-5)
    assert enc["target_root"].dtype == jnp.float32
    assert enc["lifting_target_weight"].shape == (4, K)


@pytest.mark.parametrize("codec_kind", ["image", "video"])
@pytest.mark.parametrize("frames", [2, 4])
def test_remove_root_on_keypoint_axis(codec_kind, frames):
    """T > 1 and root_index >= T: the joint is removed, not a frame (row 18)."""
    root_index = 9
    kp, vis, target, tvis = make_clip(11, frames)
    if codec_kind == "image":
        codec = image_codec(root_index, remove_root=True, save_index=True)
        enc = codec.encode(kp, vis, target, tvis)
    else:
        codec = video_codec(root_index, remove_root=True, save_index=True)
        enc = codec.encode(kp, vis, target, tvis, camera())
    label, root = np_root_relative(target, root_index)
    np.testing.assert_allclose(np64(enc["lifting_target_label"]), np.delete(label, root_index, axis=1),
                               atol=1e-5)
    np.testing.assert_allclose(np64(enc["target_root"]), root, atol=1e-6)
    weight = (np64(tvis) > 0.5).astype(np.float64)
    np.testing.assert_array_equal(np64(enc["lifting_target_weight"]), np.delete(weight, root_index, axis=1))
    # MMPose sets trajectory_weights to the weight before the root is removed.
    np.testing.assert_array_equal(np64(enc["trajectory_weights"]), weight)
    assert bool(enc["target_root_removed"])
    assert int(enc["target_root_index"]) == root_index


@pytest.mark.parametrize("codec_kind", ["image", "video"])
@pytest.mark.parametrize("compat", [True, False])
@pytest.mark.parametrize("remove_root", [True, False])
def test_trajectory_weights(codec_kind, compat, remove_root):
    """Row 20: without a target visibility, compat gives 1 / lifting_target[:, 2]
    ``(T, C)`` (0 where that coordinate is 0), exact gives ones ``(T, K)``."""
    frames = 4
    kp, vis, target, _ = make_clip(12, frames)
    target[0, 2, 0] = 0.0
    target[1, 2, :] = 0.0
    target[3, 2, 2] = -0.0
    if codec_kind == "image":
        enc = image_codec(0, remove_root=remove_root, compat=compat).encode(kp, vis, target)
    else:
        enc = video_codec(0, remove_root=remove_root, compat=compat).encode(kp, vis, target, None, camera())
    trajectory = np64(enc["trajectory_weights"])
    assert np.all(np.isfinite(trajectory))
    if compat:
        expected = np_reciprocal_or_zero(target[:, 2])
        assert trajectory.shape == (frames, C)
        np.testing.assert_allclose(trajectory, expected, rtol=1e-6)
        assert np.count_nonzero(trajectory == 0) == 5
    else:
        np.testing.assert_array_equal(trajectory, np.ones((frames, K)))
    joints = K - 1 if remove_root else K
    np.testing.assert_array_equal(np64(enc["lifting_target_weight"]), np.ones((frames, joints)))


def test_trajectory_weights_compat_without_joint_2():
    """With K <= 2 there is no joint 2: ones ``(T, K)``, never an error."""
    rng = np.random.default_rng(13)
    target = rng.normal(size=(3, 2, C)).astype(np.float32)
    kp = rng.uniform(0, 100, (3, 2, 2)).astype(np.float32)
    enc = ImagePoseLifting(num_keypoints=2).encode(kp, None, target)
    np.testing.assert_array_equal(np64(enc["trajectory_weights"]), np.ones((3, 2)))


@pytest.mark.parametrize("concat_vis", [True, False])
@pytest.mark.parametrize("reshape", [True, False])
def test_image_keypoint_labels_reference(concat_vis, reshape):
    n_inst = 4
    kp, vis, target, _ = make_clip(14, n_inst)
    codec = image_codec(0, concat_vis=concat_vis, reshape=reshape, kp_stats=True)
    enc = codec.encode(kp, vis, target)
    mean, std = stats(1, K, 2)
    expected = np_keypoint_labels((np64(kp) - mean) / std, vis, concat_vis, reshape)
    dims = 3 if concat_vis else 2
    assert enc["keypoint_labels"].shape == ((K * dims, n_inst) if reshape else (n_inst, K, dims))
    np.testing.assert_allclose(np64(enc["keypoint_labels"]), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np64(enc["keypoint_labels_visible"]), vis)
    np.testing.assert_allclose(np64(enc["keypoints_mean"]).reshape(K, 2), mean)
    np.testing.assert_allclose(np64(enc["keypoints_std"]).reshape(K, 2), std)


def test_image_target_standardisation_reference():
    kp, vis, target, _ = make_clip(15, 1)
    codec = image_codec(4, remove_root=True, target_stats=True)
    enc = codec.encode(kp, vis, target)
    mean, std = stats(2, K - 1, C)
    label, _ = np_root_relative(target, 4)
    expected = (np.delete(label, 4, axis=1) - mean) / std
    np.testing.assert_allclose(np64(enc["lifting_target_label"]), expected, rtol=1e-5, atol=1e-5)
    assert enc["target_mean"].shape == enc["target_std"].shape == (1, K - 1, C)


@pytest.mark.parametrize("concat_vis", [True, False])
@pytest.mark.parametrize("reshape", [True, False])
def test_video_keypoint_labels_reference(concat_vis, reshape):
    frames = 4
    kp, vis, target, _ = make_clip(16, frames)
    cam = camera(1)
    cam["w"], cam["h"] = np.float32(640.0), np.float32(480.0)
    enc = video_codec(0, concat_vis=concat_vis, reshape=reshape).encode(kp, vis, target, None, cam)
    expected = np_keypoint_labels(np_screen(kp, 640.0, 480.0), vis, concat_vis, reshape)
    np.testing.assert_allclose(np64(enc["keypoint_labels"]), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(np64(enc["keypoints_visible"]), vis)


@pytest.mark.parametrize("shape", [(2, 1), (2,)])
def test_video_normalize_camera_reference(shape):
    kp, vis, target, _ = make_clip(17, 4)
    cam = camera(2)
    cam["f"] = cam["f"].reshape(shape)
    cam["c"] = cam["c"].reshape(shape)
    cam["R"] = np.eye(3, dtype=np.float32)
    snapshot = copy.deepcopy(cam)
    codec = video_codec(0, normalize_camera=True)
    enc = codec.encode(kp, vis, target, None, cam)

    # The input dict is not mutated (same keys, same objects, same values).
    assert sorted(cam) == sorted(snapshot)
    for key in snapshot:
        np.testing.assert_array_equal(cam[key], snapshot[key])

    out = enc["camera_param"]
    assert sorted(out) == sorted(cam)
    half = W / 2
    np.testing.assert_allclose(np64(out["f"]), np64(cam["f"]) / half, rtol=1e-6)
    centre = np.array([W / 2, H / 2]).reshape((2,) + (1,) * (len(shape) - 1))
    np.testing.assert_allclose(np64(out["c"]), (np64(cam["c"]) - centre) / half, rtol=1e-6, atol=1e-7)
    assert out["f"].shape == out["c"].shape == shape
    for key in ("k", "R", "w", "h"):
        np.testing.assert_array_equal(np.asarray(out[key]), cam[key])

    # The pure function too, with Python numbers for w and h; other values
    # are passed through as the same objects.
    cam2 = {"w": W, "h": H, "f": cam["f"], "c": cam["c"], "k": cam["k"], "name": "54138969"}
    out2 = ops.normalize_camera(cam2)
    assert out2 is not cam2 and out2["k"] is cam["k"] and out2["name"] == "54138969"
    assert cam2["f"] is cam["f"] and cam2["c"] is cam["c"]
    np.testing.assert_allclose(np64(out2["c"]), (np64(cam["c"]) - centre) / half, rtol=1e-6, atol=1e-7)

    # No camera normalisation: no camera_param key.
    assert "camera_param" not in video_codec(0).encode(kp, vis, target, None, cam)


# ------------------------------------------------------------ 3. gradients
# The encode / decode Jacobians (poses, statistics, camera; second order in
# the target statistics) are checked entry by entry against finite
# differences in test_gradients.py.


# --------------------------------------------- 4. statistics are leaves
def test_statistics_are_pytree_leaves():
    km, ks = stats(1, K, 2)
    tm, ts = stats(2, K - 1, C)
    codec = ImagePoseLifting(num_keypoints=K, remove_root=True, keypoints_mean=km, keypoints_std=ks,
                             target_mean=tm, target_std=ts)
    leaves = [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(codec)]
    assert len(leaves) == 4
    for value in (km, ks, tm, ts):
        assert sum(leaf.size == value.size and np.array_equal(leaf.reshape(value.shape), value)
                   for leaf in leaves) == 1
    assert jax.tree_util.tree_leaves(image_codec(0)) == []
    assert jax.tree_util.tree_leaves(video_codec(0)) == []


def test_vmap_over_codecs_with_different_target_std():
    """A batch of codecs (their leaves stacked, the codec rebuilt from one
    row of leaves inside vmap) gives each codec's own answer."""
    tm, ts = stats(2, K - 1, C)
    scales = np.array([0.5, 1.0, 3.0], np.float32)
    codecs = [ImagePoseLifting(num_keypoints=K, root_index=0, remove_root=True, target_mean=tm,
                               target_std=ts * s) for s in scales]
    _, treedef = jax.tree_util.tree_flatten(codecs[0])
    stacked = [jnp.stack(xs) for xs in zip(*[jax.tree_util.tree_leaves(c) for c in codecs])]
    assert [x.shape[0] for x in stacked] == [3, 3]

    kp, vis, target, _ = make_clip(30, 1)
    label, _ = np_root_relative(target, 0)
    label = np.delete(label, 0, axis=1)

    @jax.jit
    def run(stacked_leaves, kp, target):
        def one(row):
            codec = jax.tree_util.tree_unflatten(treedef, row)
            enc = codec.encode(kp, None, target)
            dec = codec.decode(enc["lifting_target_label"], enc["target_root"])[0]
            return enc["lifting_target_label"], dec
        return jax.vmap(one)(stacked_leaves)

    labels, decoded = run(stacked, kp, target)
    for b, (codec, s) in enumerate(zip(codecs, scales)):
        np.testing.assert_allclose(np64(labels[b]), (label - tm) / (ts * s), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(np64(labels[b]), np64(codec.encode(kp, None, target)["lifting_target_label"]),
                                   rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(np64(decoded[b]), target, atol=1e-4)

    # The same through the statistics: a codec built from traced target_std.
    def by_std(std):
        codec = ImagePoseLifting(num_keypoints=K, root_index=0, remove_root=True, target_mean=tm,
                                 target_std=std)
        return codec.encode(kp, None, target)["lifting_target_label"]

    by_stats = jax.jit(jax.vmap(by_std))(jnp.stack([ts * s for s in scales]))
    np.testing.assert_allclose(np64(by_stats), np64(labels), rtol=1e-6, atol=1e-6)


# --------------------------------------------- 5. batch over clips == loop
def test_video_batch_encode_equals_loop():
    frames, batch = 27, 3
    codec = video_codec(0, remove_root=True, concat_vis=True, reshape=True, normalize_camera=True,
                        save_index=True)
    clips = [make_clip(40 + b, frames) for b in range(batch)]
    kp, vis, target, tvis = [np.stack(xs) for xs in zip(*clips)]
    cams = camera(5, (batch,))
    cams["w"] = np.array([1000.0, 640.0, 1920.0], np.float32)
    cams["h"] = np.array([1002.0, 480.0, 1080.0], np.float32)

    batched = jax.jit(codec.batch_encode)(kp, vis, target, tvis, cams)
    encode = jax.jit(codec.encode)
    for b in range(batch):
        cam_b = {key: value[b] for key, value in cams.items()}
        one = encode(kp[b], vis[b], target[b], tvis[b], cam_b)
        assert sorted(one) == sorted(batched)
        for key in one:
            for x, y in zip(jax.tree_util.tree_leaves(batched[key]), jax.tree_util.tree_leaves(one[key])):
                assert x.shape == (batch,) + y.shape
                np.testing.assert_allclose(np64(x[b]), np64(y), rtol=1e-6, atol=1e-6)
        # ... and each clip is normalised with its own image size.
        labels = np_unreshape(batched["keypoint_labels"][b], K, 3)[..., :2]
        np.testing.assert_allclose(labels, np_screen(kp[b], cams["w"][b], cams["h"][b]), rtol=1e-5,
                                   atol=1e-6)


# --------------------------------------------------------------- 6. errors
def test_missing_lifting_target():
    kp, vis, _, _ = make_clip(50, 1)
    with pytest.raises(ValueError, match="lifting_target"):
        image_codec(0).encode(kp, vis)
    with pytest.raises(ValueError, match="lifting_target"):
        video_codec(0).encode(kp, vis, None, None, camera())


@pytest.mark.parametrize("cam", [None, {}, {"w": W}, {"h": H, "f": np.ones((2, 1))}])
def test_video_missing_camera_size(cam):
    kp, vis, target, _ = make_clip(51, 2)
    with pytest.raises(ValueError, match="camera_param"):
        video_codec(0).encode(kp, vis, target, None, cam)


@pytest.mark.parametrize("missing", ["f", "c"])
def test_normalize_camera_needs_f_and_c(missing):
    kp, vis, target, _ = make_clip(52, 2)
    cam = camera()
    del cam[missing]
    with pytest.raises(ValueError, match=missing):
        video_codec(0, normalize_camera=True).encode(kp, vis, target, None, cam)
    with pytest.raises(ValueError, match=missing):
        ops.normalize_camera(cam)
    video_codec(0).encode(kp, vis, target, None, cam)  # fine without normalize_camera


@pytest.mark.parametrize("given_name,other", [("keypoints_mean", "keypoints_std"),
                                              ("keypoints_std", "keypoints_mean"),
                                              ("target_mean", "target_std"),
                                              ("target_std", "target_mean")])
def test_statistic_without_its_pair(given_name, other):
    dims = 2 if given_name.startswith("keypoints") else C
    with pytest.raises(ValueError, match=other):
        ImagePoseLifting(num_keypoints=K, **{given_name: np.ones((K, dims), np.float32)})


@pytest.mark.parametrize("codec_kind", ["image", "video"])
@pytest.mark.parametrize("root_shape", [(3, 2, C), (3, C + 1), (3, 1, C - 1), (2, C), (4, 1, C),
                                        (1, 3, 1, C)])
def test_decode_rejects_bad_target_root(codec_kind, root_shape):
    codec = image_codec(0, remove_root=True) if codec_kind == "image" else video_codec(0, remove_root=True)
    encoded = np.zeros((3, K - 1, C), np.float32)
    with pytest.raises(ValueError, match="target_root"):
        codec.decode(encoded, np.zeros(root_shape, np.float32))


@pytest.mark.parametrize("codec_kind", ["image", "video"])
def test_lifting_target_with_wrong_joint_count(codec_kind):
    kp, vis, target, tvis = make_clip(53, 2)
    bad = target[:, :-1]
    with pytest.raises(ValueError, match="lifting_target"):
        if codec_kind == "image":
            image_codec(0).encode(kp, vis, bad)
        else:
            video_codec(0).encode(kp, vis, bad, None, camera())
    with pytest.raises(ValueError, match="lifting_target_visible"):
        image_codec(0).encode(kp, vis, target, tvis[:, :-1])


def test_target_stats_of_wrong_joint_count():
    """With a single removed root the target statistics have K - 1 joints."""
    tm, ts = stats(2, K, C)
    # (K, C) statistics cannot be reshaped to (1, K - 1, C).
    with pytest.raises(ValueError, match=r"`target_mean` / `target_std` must have 16 joints.*got shapes \(17, 3\)"):
        ImagePoseLifting(num_keypoints=K, remove_root=True, target_mean=tm, target_std=ts)
    # Several roots: nothing is removed, the statistics have K joints.
    ImagePoseLifting(num_keypoints=K, root_index=[0, 1], remove_root=True, target_mean=tm, target_std=ts)
    # A size that happens to divide is reshaped, then the encoder rejects it.
    small = ImagePoseLifting(num_keypoints=4, remove_root=True, target_mean=np.zeros((4, 3)),
                             target_std=np.ones((4, 3)))
    kp, _, target, _ = make_clip(54, 1, num_keypoints=4)
    with pytest.raises(ValueError, match="target_mean"):
        small.encode(kp, None, target)


# ------------------------------------------------------ 7. ops.normalize
def test_insert_and_remove_joint_are_inverse():
    rng = np.random.default_rng(60)
    x = rng.normal(size=(2, 3, 5, C)).astype(np.float32)
    values = rng.normal(size=(5, C)).astype(np.float32)  # broadcast values
    w = rng.uniform(size=(4, 5)).astype(np.float32)

    @jax.jit
    def run(x, values, w):  # static indices: one trace for all of them
        out = []
        for index in range(5):
            removed = ops.remove_joint(x, index, axis=-2)
            restored = ops.insert_joint(removed, index, x[..., index:index + 1, :])
            inserted = ops.insert_joint(x, index, values[index])
            out.append((removed, restored, inserted, ops.remove_joint(inserted, index, axis=-2),
                        ops.remove_joint(w, index, axis=-1)))
        return out, ops.insert_joint(x, 5, x[..., :1, :])

    results, at_end = run(x, values, w)
    for index, (removed, restored, inserted, removed_again, w_removed) in enumerate(results):
        np.testing.assert_array_equal(np.asarray(removed), np.delete(x, index, axis=-2))
        np.testing.assert_array_equal(np.asarray(restored), x)
        assert inserted.shape == (2, 3, 6, C)
        np.testing.assert_array_equal(np.asarray(inserted), np.insert(x, index, values[index], axis=-2))
        np.testing.assert_array_equal(np.asarray(removed_again), x)
        # remove_joint on another axis (the joints of a (T, K) weight).
        np.testing.assert_array_equal(np.asarray(w_removed), np.delete(w, index, axis=1))
    np.testing.assert_array_equal(np.asarray(at_end), np.concatenate([x, x[..., :1, :]], axis=-2))


def test_root_relative_with_leading_axes():
    x = np.random.default_rng(61).normal(size=(2, 3, 6, C))
    rel, root = ops.root_relative(x, (1, 5))
    expected_root = (x[..., 1, :] + x[..., 5, :]) / 2
    np.testing.assert_allclose(np64(root), expected_root, atol=1e-6)
    np.testing.assert_allclose(np64(rel), x - expected_root[..., None, :], atol=1e-6)


def test_standardize_destandardize_inverse():
    rng = np.random.default_rng(62)
    x = rng.normal(size=(4, K, C)).astype(np.float32)
    mean, std = stats(3, K, C)
    z = ops.standardize(x, mean, std)
    np.testing.assert_allclose(np64(z), (np64(x) - mean) / std, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np64(ops.destandardize(z, mean, std)), x, atol=1e-5)


@pytest.mark.parametrize("shape", [(2,), (2, 1)])
def test_camera_to_image_pinhole(shape):
    rng = np.random.default_rng(63)
    points = rng.normal(size=(4, 5, 3))
    points[..., 2] = rng.uniform(2, 8, (4, 5))
    f = rng.uniform(1100, 1200, shape)
    c = rng.uniform(480, 520, shape)
    out = ops.camera_to_image(points.astype(np.float32), f, c)
    assert out.shape == (4, 5, 2)
    np.testing.assert_allclose(np64(out), np_pinhole(points, f, c), rtol=1e-5)
    # Screen normalisation of projected points == projection with the
    # normalised intrinsics.
    norm = ops.normalize_camera({"w": W, "h": H, "f": f, "c": c})
    np.testing.assert_allclose(
        np64(ops.camera_to_image(points.astype(np.float32), norm["f"], norm["c"])),
        np_screen(np_pinhole(points, f, c), W, H), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("size", [(W, H), (640.0, 480.0), (1, 3)])
def test_normalize_screen_coordinates_anchors(size):
    w, h = size
    pts = np.array([[0.0, h / 2], [w, h / 2], [w / 2, h / 2], [w / 2, 0.0], [0.0, 0.0]], np.float32)
    out = np64(ops.normalize_screen_coordinates(pts, w, h))
    expected = np.array([[-1, 0], [1, 0], [0, 0], [0, -h / w], [-1, -h / w]])
    np.testing.assert_allclose(out, expected, atol=1e-6)
    np.testing.assert_allclose(out, np_screen(pts, w, h), atol=1e-6)


def test_normalize_image_frame_matches_numpy(variant):
    """x, y to ``/ w * 2 - (1, h / w)`` (MotionBERT's frame), further
    channels untouched; the same frame as normalize_screen_coordinates."""
    rng = np.random.default_rng(71)
    points = rng.uniform(0, 1000, (3, 5, 3)).astype(np.float32)
    out = np.asarray(variant(ops.normalize_image_frame)(points, 1000.0, 1002.0), np.float64)
    expected = np.asarray(points, np.float64).copy()
    expected[..., 0] = expected[..., 0] / 1000.0 * 2 - 1
    expected[..., 1] = expected[..., 1] / 1000.0 * 2 - 1002.0 / 1000.0
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(out[..., 2], points[..., 2])
    screen = np.asarray(ops.normalize_screen_coordinates(points[..., :2], 1000.0, 1002.0), np.float64)
    np.testing.assert_allclose(out[..., :2], screen, atol=1e-6)


def test_camera_to_image_with_depth_matches_numpy(variant):
    """Projection with f / 1000, c / 1000; depth ``ratio * (z - z_root)``
    with ``ratio`` half the projected width of a 2-unit square around the
    root; ``factor = 1 / ratio``. Written out per frame in float64."""
    rng = np.random.default_rng(72)
    target = rng.normal(0, 0.5, (4, 6, 3))
    target[..., 2] += 4.0
    f = rng.uniform(1100, 1200, (2, 1))
    c = rng.uniform(480, 520, (2, 1))
    root = 2
    image, factor = variant(lambda t: ops.camera_to_image_with_depth(t, root, f, c))(target.astype(np.float32))
    fx, fy = f[:, 0] / 1000.0
    cx, cy = c[:, 0] / 1000.0
    for t in range(target.shape[0]):
        rx, ry, rz = target[t, root]
        left = (rx - 1) / rz * fx + cx
        right = (rx + 1) / rz * fx + cx
        ratio = (right - left + 0.001) / 2
        assert float(factor[t]) == pytest.approx(1 / ratio, rel=1e-5)
        for k in range(target.shape[1]):
            x, y, z = target[t, k]
            np.testing.assert_allclose(np.asarray(image[t, k], np.float64),
                                       [x / z * fx + cx, y / z * fy + cy, ratio * (z - rz)],
                                       rtol=1e-5, atol=1e-6)


# -------------------------------------- 8. camera sizes (VideoPoseLifting)
# MMPose builds the centre (w / 2, h / 2) as a (2,) vector: w and h are one
# image size for the clip, scalars. Anything else would be broadcast against
# the keypoints or fail inside the maths, so it is a ValueError naming them.
@pytest.mark.parametrize("normalize_camera", [False, True])
@pytest.mark.parametrize("w_shape,h_shape", [((3,), ()), ((3,), (3,)), ((1,), (1,)), ((), (2, 1)),
                                             ((2, 1), (2, 1))])
def test_video_camera_size_of_another_shape_is_an_error(w_shape, h_shape, normalize_camera):
    kp, vis, target, _ = make_clip(70, 2)
    cam = camera(3)
    cam["w"], cam["h"] = np.full(w_shape, W, np.float32), np.full(h_shape, H, np.float32)
    codec = video_codec(0, remove_root=True, normalize_camera=normalize_camera)
    expected = (r"`camera_param\['w'\]` and `camera_param\['h'\]` must have the same shape \(\) \(one image "
                r"size for the whole clip\), got " + re.escape(f"{w_shape} and {h_shape}"))
    with pytest.raises(ValueError, match=expected):
        codec.encode(kp, vis, target, None, cam)
    with pytest.raises(ValueError, match=expected):
        jax.jit(codec.encode)(kp, vis, target, None, cam)


@pytest.mark.parametrize("size", [(W, H), (int(W), int(H)), (np.float32(W), np.array(H, np.float32)),
                                  (np.array(W), np.float64(H))],
                         ids=["float", "int", "numpy_scalars", "zero_d_arrays"])
def test_video_camera_size_scalars(size):
    """Every kind of scalar MMPose takes still works (labels and camera)."""
    kp, vis, target, _ = make_clip(71, 2)
    cam = camera(4)
    cam["w"], cam["h"] = size
    enc = video_codec(0, normalize_camera=True).encode(kp, vis, target, None, cam)
    np.testing.assert_allclose(np64(enc["keypoint_labels"]), np_screen(kp, W, H), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np64(enc["camera_param"]["f"]), np64(cam["f"]) / (W / 2), rtol=1e-6)
    np.testing.assert_array_equal(np64(enc["lifting_target_weight"]), np.ones((2, K)))


@pytest.mark.parametrize("key", ["w", "h", "f", "c"])
def test_video_complex_camera_is_an_error(key):
    kp, vis, target, _ = make_clip(72, 2)
    cam = camera(5)
    cam[key] = np.asarray(cam[key], np.complex64)
    match = rf"`camera_param\['{key}'\]` must be real, got dtype complex64"
    codec = video_codec(0, normalize_camera=True)
    with pytest.raises(TypeError, match=match):
        codec.encode(kp, vis, target, None, cam)
    with pytest.raises(TypeError, match=match):
        jax.jit(codec.encode)(kp, vis, target, None, cam)


# ------------------------------------------ 9. a subnormal camera size
@pytest.mark.parametrize("normalize_camera", [False, True])
@pytest.mark.parametrize("key,value", [("w", 1e-40), ("w", -1e-40), ("w", float(np.finfo(np.float32).tiny) / 2),
                                       ("h", 1e-40)])
def test_video_subnormal_camera_size_is_a_zero_size(key, value, normalize_camera):
    """XLA:CPU reads a float32 subnormal as 0, so dividing by such a width
    gave Inf labels: a size below float32's smallest normal voids the sample
    exactly as a zero size does (finite outputs, weights 0), eagerly and
    jitted (the camera traced)."""
    kp, vis, target, tvis = make_clip(73, 3)
    cam = camera(6)
    tiny = {**cam, key: np.float32(value)}
    zero = {**cam, key: np.float32(0.0)}
    codec = video_codec(0, remove_root=True, normalize_camera=normalize_camera)
    for encode in (codec.encode, jax.jit(codec.encode)):
        got, ref = encode(kp, vis, target, tvis, tiny), encode(kp, vis, target, tvis, zero)
        got_leaves, ref_leaves = jax.tree_util.tree_flatten(got), jax.tree_util.tree_flatten(ref)
        assert got_leaves[1] == ref_leaves[1]
        for x, y in zip(got_leaves[0], ref_leaves[0]):
            assert np.isfinite(np64(x)).all()
            np.testing.assert_array_equal(np64(x), np64(y))
        np.testing.assert_array_equal(np64(got["lifting_target_weight"]), np.zeros((3, K - 1)))
        # (MMPose's trajectory weights keep the root joint.)
        np.testing.assert_array_equal(np64(got["trajectory_weights"]), np.zeros((3, K)))
    # The smallest normal size itself is a size: the weights are kept.
    normal = codec.encode(kp, vis, target, tvis, {**cam, key: np.float32(np.finfo(np.float32).tiny)})
    assert np64(normal["lifting_target_weight"]).sum() > 0


# ------------------------------------- 10. decode of no coordinate (C = 0)
@pytest.mark.parametrize("codec_kind", ["image", "video"])
def test_decode_of_no_coordinates(codec_kind):
    """A (T, K, 0) target encodes to (T, K, 0) labels; decoding them gives
    (N, K, 0) keypoints and scores of ones, as MMPose does (it raised an
    IndexError), for decode and batch_decode, with and without a root."""
    codec = image_codec(0) if codec_kind == "image" else video_codec(0)
    kp, vis, target, _ = make_clip(74, 2)
    args = (kp, vis, target[..., :0]) + ((None, camera()) if codec_kind == "video" else ())
    enc = codec.encode(*args)
    assert enc["lifting_target_label"].shape == (2, K, 0)
    for root in (None, enc["target_root"]):
        keypoints, scores = codec.decode(enc["lifting_target_label"], root)
        assert keypoints.shape == (2, K, 0)
        np.testing.assert_array_equal(np64(scores), np.ones((2, K)))
    keypoints, scores = jax.jit(codec.batch_decode)(np.zeros((3, 2, K, 0), np.float32))
    assert keypoints.shape == (3, 2, K, 0)
    np.testing.assert_array_equal(np64(scores), np.ones((3, 2, K)))
