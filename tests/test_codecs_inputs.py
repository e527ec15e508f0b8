"""codecs/_inputs.py: the NaN rule and the strict shapes, codec by codec.

The NaN rule: a keypoint with a NaN or ±Inf coordinate (or visibility) is
encoded exactly as an invisible keypoint at the origin; a non-finite lifting
target joint weighs 0, a non-finite root voids its frame, a non-finite camera
value voids the sample. Every output stays finite.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxcodecs

TWO_D = [
    dict(type="MSRAHeatmap", input_size=(48, 64), heatmap_size=(12, 16), sigma=2.0),
    dict(type="MSRAHeatmap", input_size=(48, 64), heatmap_size=(12, 16), sigma=2.0, unbiased=True),
    dict(type="UDPHeatmap", input_size=(48, 64), heatmap_size=(12, 16)),
    dict(type="UDPHeatmap", input_size=(48, 64), heatmap_size=(12, 16), heatmap_type="combined"),
    dict(type="MegviiHeatmap", input_size=(48, 64), heatmap_size=(12, 16), kernel_size=5),
    dict(type="RegressionLabel", input_size=(48, 64)),
    dict(type="IntegralRegressionLabel", input_size=(48, 64), heatmap_size=(12, 16), sigma=2.0),
    dict(type="SimCCLabel", input_size=(48, 64), sigma=2.0),
]


def _finite(tree):
    return all(bool(jnp.all(jnp.isfinite(v))) for v in jax.tree.leaves(tree))


@pytest.mark.parametrize("compat", [True, False])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("cfg", TWO_D, ids=lambda c: c["type"] + ("-" + str(c.get("heatmap_type", c.get("unbiased", "")))))
def test_non_finite_keypoint_encodes_as_invisible_at_origin(cfg, bad, compat):
    codec = jaxcodecs.build(dict(cfg, mmpose_compat=compat))
    kp = np.array([[[10.0, 20.0], [30.5, 40.25], [5.0, 60.0]]], np.float32)
    vis = np.ones((1, 3), np.float32)
    broken = kp.copy()
    broken[0, 1, 1] = bad
    reference = kp.copy()
    reference[0, 1] = 0.0
    hidden = vis.copy()
    hidden[0, 1] = 0.0
    encode = jax.jit(codec.encode)
    got = encode(broken, vis)
    want = encode(reference, hidden)
    assert _finite(got)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    assert float(got["keypoint_weights"][0, 1]) == 0.0
    # A NaN visibility is read the same way.
    nan_vis = vis.copy()
    nan_vis[0, 1] = np.nan
    got = encode(kp, nan_vis)
    assert _finite(got) and float(got["keypoint_weights"][0, 1]) == 0.0


def test_hand3d_non_finite_keypoint_is_invisible():
    codec = jaxcodecs.Hand3DHeatmap(image_size=(32, 32), heatmap_size=(8, 8, 8), depth_size=8,
                                    root_heatmap_size=8, heatmap_size_root=8, mmpose_compat=False)
    kp = np.array([[[10.0, 12.0, 5.0], [20.0, 8.0, -30.0]]], np.float32)
    broken = kp.copy()
    broken[0, 0, 2] = np.nan
    enc = jax.jit(codec.encode)(broken, np.ones((1, 2), np.float32))
    clean = jax.jit(codec.encode)(np.array([[[0.0, 0.0, 0.0], [20.0, 8.0, -30.0]]], np.float32),
                                  np.array([[0.0, 1.0]], np.float32))
    assert _finite(enc)
    np.testing.assert_array_equal(enc["heatmaps"], clean["heatmaps"])
    np.testing.assert_array_equal(enc["keypoint_weights"], [[0.0, 1.0]])


def _lifting_sample(frames=2, joints=4):
    rng = np.random.default_rng(0)
    kp = rng.uniform(0, 100, (frames, joints, 2)).astype(np.float32)
    target = rng.uniform(-1, 1, (frames, joints, 3)).astype(np.float32)
    vis = np.ones((frames, joints), np.float32)
    return kp, vis, target, vis.copy()


LIFTING = [
    lambda: jaxcodecs.ImagePoseLifting(num_keypoints=4, reshape_keypoints=False),
    lambda: jaxcodecs.VideoPoseLifting(num_keypoints=4, reshape_keypoints=False),
    lambda: jaxcodecs.MotionBERTLabel(num_keypoints=4, mode="train"),
]
CAMERA = {"w": 100.0, "h": 120.0}


def _encode(codec, kp, vis, target, target_vis, camera=CAMERA):
    if isinstance(codec, jaxcodecs.ImagePoseLifting):
        return codec.encode(kp, vis, target, target_vis)
    return codec.encode(kp, vis, target, target_vis, camera)


@pytest.mark.parametrize("make", LIFTING, ids=["image", "video", "motionbert"])
def test_lifting_non_finite_target_joint_and_root(make):
    codec = make()
    kp, vis, target, target_vis = _lifting_sample()
    target[0, 2, 1] = np.nan   # a joint of frame 0
    target[1, 0, 0] = np.inf   # the root (joint 0) of frame 1
    kp[1, 3, 0] = np.nan       # a 2-D keypoint of frame 1
    enc = _encode(codec, kp, vis, target, target_vis)
    assert _finite({k: v for k, v in enc.items() if isinstance(v, jax.Array)})
    weight = np.asarray(enc["lifting_target_weight"])
    np.testing.assert_array_equal(weight, [[1, 1, 0, 1], [0, 0, 0, 0]])
    visible_key = "keypoints_visible" if isinstance(codec, jaxcodecs.VideoPoseLifting) else "keypoint_labels_visible"
    np.testing.assert_array_equal(enc[visible_key], [[1, 1, 1, 1], [1, 1, 1, 0]])


@pytest.mark.parametrize("make", LIFTING[1:], ids=["video", "motionbert"])
def test_lifting_non_finite_camera_voids_the_sample(make):
    codec = make()
    kp, vis, target, target_vis = _lifting_sample()
    host = _encode(codec, kp, vis, target, target_vis, {"w": np.nan, "h": 120.0})
    traced = jax.jit(lambda c: _encode(codec, kp, vis, target, target_vis, c))({"w": 100.0, "h": np.inf})
    for enc in (host, traced):
        assert _finite({k: v for k, v in enc.items() if isinstance(v, jax.Array)})
        np.testing.assert_array_equal(enc["lifting_target_weight"], 0.0)
    fine = jax.jit(lambda c: _encode(codec, kp, vis, target, target_vis, c))(CAMERA)
    np.testing.assert_array_equal(fine["lifting_target_weight"], 1.0)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda c, kp, vis, t, tv: _encode(c, kp, vis[0], t, tv), "keypoints_visible"),
        (lambda c, kp, vis, t, tv: _encode(c, kp, vis, t, tv[0]), "lifting_target_visible"),
        (lambda c, kp, vis, t, tv: _encode(c, kp, vis, t[0], tv), "lifting_target"),
        (lambda c, kp, vis, t, tv: _encode(c, kp[:, :3], vis[:, :3], t[:, :3], tv[:, :3]), "keypoints"),
        (lambda c, kp, vis, t, tv: _encode(c, kp[0], vis, t, tv), "keypoints"),
    ],
    ids=["rank1-visibility", "rank1-target-visibility", "2d-target", "wrong-K", "2d-keypoints"],
)
@pytest.mark.parametrize("make", LIFTING, ids=["image", "video", "motionbert"])
def test_lifting_shapes_are_checked(make, call, name):
    kp, vis, target, target_vis = _lifting_sample()
    with pytest.raises(ValueError, match=f"`{name}`.*got"):
        call(make(), kp, vis, target, target_vis)


def test_lifting_last_dimensions():
    kp, vis, target, target_vis = _lifting_sample()
    with pytest.raises(ValueError, match=r"`keypoints` must have shape .* D in \(2,\), got shape \(2, 4, 3\)"):
        jaxcodecs.VideoPoseLifting(num_keypoints=4).encode(np.concatenate([kp, kp[..., :1]], -1), vis,
                                                          target, target_vis, CAMERA)
    with pytest.raises(ValueError, match=r"`lifting_target` must have shape .* C in \(3,\), got shape \(2, 4, 2\)"):
        jaxcodecs.MotionBERTLabel(num_keypoints=4).encode(kp, vis, target[..., :2], target_vis, CAMERA)


@pytest.mark.parametrize("make", LIFTING[:2], ids=["image", "video"])
def test_lifting_zero_instances(make):
    codec = make().replace(reshape_keypoints=True)
    kp, vis, target, target_vis = _lifting_sample()
    enc = jax.jit(lambda *a: _encode(codec, *a))(kp[:0], vis[:0], target, target_vis)
    assert enc["keypoint_labels"].shape == (8, 0)
    assert enc["lifting_target_label"].shape == (2, 4, 3)


def test_simcc_label_lengths_are_checked():
    codec = jaxcodecs.SimCCLabel(input_size=(48, 64), simcc_split_ratio=2.0)
    x, y = np.zeros((1, 3, 96), np.float32), np.zeros((1, 3, 128), np.float32)
    assert codec.decode(x, y)[0].shape == (1, 3, 2)
    with pytest.raises(ValueError, match=r"`simcc_x` must have shape .*Lx = 96.*got shape \(1, 3, 128\)"):
        codec.decode(y, x)  # swapped
    with pytest.raises(ValueError, match=r"`simcc_y` must have shape .*Ly = 128.*got shape \(1, 3, 127\)"):
        codec.decode_soft(x, y[..., :127])


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("compat", [True, False])
def test_simcc_zero_sigma_is_a_unit_impulse(normalize, compat):
    codec = jaxcodecs.SimCCLabel(input_size=(16, 12), sigma=0.0, simcc_split_ratio=2.0,
                                 normalize=normalize, mmpose_compat=compat)
    enc = codec.encode(np.array([[[3.2, 4.75]]], np.float32))
    x, y = np.asarray(enc["keypoint_x_labels"][0, 0]), np.asarray(enc["keypoint_y_labels"][0, 0])
    # 6.4 bins -> bin 6; 9.5 bins -> 10 (half to even in compat, floor(9.5 + 0.5) exact).
    np.testing.assert_array_equal(x, np.eye(32, dtype=np.float32)[6])
    np.testing.assert_array_equal(y, np.eye(24, dtype=np.float32)[10])


@pytest.mark.parametrize(
    "cfg, text",
    [
        (dict(heatmap_type="combined", radius_factor=0.0), r"`radius_factor` must be > 0, got 0.0"),
        (dict(heatmap_size=(1, 16)), r"`heatmap_size` must be at least 2 pixels on each axis.*got \(1, 16\)"),
        (dict(input_size=(48, 1)), r"`input_size` must be at least 2 pixels"),
    ],
)
def test_udp_configurations_without_a_scale(cfg, text):
    with pytest.raises(ValueError, match=text):
        jaxcodecs.build(dict(dict(type="UDPHeatmap", input_size=(48, 64), heatmap_size=(12, 16)), **cfg))
