"""YOLOXPoseAnnotationProcessor: box expansion and labels, against NumPy
formulas written here from the behaviour (MMPOSE_BEHAVIOUR.md §2.15)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcodecs import YOLOXPoseAnnotationProcessor, build

K = 5


def annotations(seed=0, n=3, k=K):
    rng = np.random.default_rng(seed)
    kp = rng.uniform(0, 200, (n, k, 2)).astype(np.float32)
    vis = rng.choice([0.0, 1.0, 2.0], (n, k)).astype(np.float32)
    low = rng.uniform(50, 100, (n, 2))
    boxes = np.concatenate([low, low + rng.uniform(5, 50, (n, 2))], -1).astype(np.float32)
    return kp, vis, boxes


def expanded(kp, vis, boxes, far=np.inf):
    """NumPy: each box grown to its keypoints with visibility != 0; with a
    finite ``far`` (MMPose's 1e6) the other keypoints stand at +-far."""
    counted = (np.asarray(vis) != 0)[..., None]
    kp = np.asarray(kp, np.float64)
    low = np.where(counted, kp, far).min(axis=1)
    high = np.where(counted, kp, -far).max(axis=1)
    boxes = np.asarray(boxes, np.float64)
    return np.concatenate([np.minimum(boxes[:, :2], low), np.maximum(boxes[:, 2:], high)], -1)


@pytest.fixture(params=[True, False], ids=["compat", "exact"])
def codec(request):
    return YOLOXPoseAnnotationProcessor(expand_bbox=True, mmpose_compat=request.param)


def test_mmpose_example(codec, variant):
    """MMPose's own test: integer keypoints and boxes, labels category - 1."""
    kp = np.array([[[0, 1], [3, 6]], [[1, 2], [8, 9]]])
    boxes = np.array([[1, 2, 2, 3], [2, 3, 4, 5]])
    out = variant(codec.encode)(kp, np.ones((2, 2)), boxes, [1, 2])
    np.testing.assert_array_equal(out["bbox"], [[0, 1, 3, 6], [1, 2, 8, 9]])
    np.testing.assert_array_equal(out["bbox_labels"], [0, 1])
    assert out["bbox"].dtype == jnp.int32 and out["bbox_labels"].dtype == jnp.int32


def test_expansion_counts_only_nonzero_visibility(codec, variant):
    kp, vis, boxes = annotations()
    vis[0] = 0.0  # an instance without counted keypoints
    vis[1, 0] = -1.0  # a negative flag counts (only exactly 0 does not)
    out = variant(codec.encode)(kp, vis, boxes)
    np.testing.assert_array_equal(out["bbox"], expanded(kp, vis, boxes).astype(np.float32))
    np.testing.assert_array_equal(out["bbox"][0], boxes[0])
    assert set(out) == {"bbox"}


def test_caller_bbox_is_not_modified(codec):
    kp, vis, boxes = annotations(1)
    snapshot = boxes.copy()
    out = codec.encode(kp, vis, boxes)
    np.testing.assert_array_equal(boxes, snapshot)
    assert not np.array_equal(np.asarray(out["bbox"]), snapshot)  # something did expand


def test_integer_box_keeps_its_dtype(variant):
    kp, vis, boxes = annotations(2)
    boxes = np.trunc(boxes).astype(np.int32)
    for compat, rounding in ((True, "trunc"), (False, "outward")):
        codec = YOLOXPoseAnnotationProcessor(expand_bbox=True, mmpose_compat=compat)
        out = variant(codec.encode)(kp, vis, boxes)
        assert out["bbox"].dtype == jnp.int32
        want = expanded(kp, vis, boxes)
        if rounding == "trunc":  # NumPy's assignment of floats into an int array
            want = np.trunc(want)
        else:  # the box contains every counted keypoint
            want = np.concatenate([np.floor(want[:, :2]), np.ceil(want[:, 2:])], -1)
        np.testing.assert_array_equal(out["bbox"], want.astype(np.int32))


def test_visibility_with_extra_axis_and_none(codec, variant):
    kp, vis, boxes = annotations(3)
    flags = np.stack([vis, 1.0 - vis], -1)  # (N, K, 2): the first flag is read
    np.testing.assert_array_equal(variant(codec.encode)(kp, flags, boxes)["bbox"],
                                  expanded(kp, vis, boxes).astype(np.float32))
    # SPEC row 21: no visibility, every keypoint counts (MMPose crashes)
    np.testing.assert_array_equal(variant(codec.encode)(kp, None, boxes)["bbox"],
                                  expanded(kp, np.ones_like(vis), boxes).astype(np.float32))


def test_sentinel_in_compat_mode_only(variant):
    """The near corner (x1, y1) of an instance without counted keypoints is
    capped at 1e6 and its far corner raised to -1e6 in the compat mode
    (MMPose's stand-ins); the exact mode keeps the box."""
    kp, vis, boxes = annotations(4, n=2)
    vis[:] = 0.0
    boxes[0] = [2e6, 3e6, 4e6, 5e6]
    boxes[1] = [-5e6, -4e6, -3e6, -2e6]
    compat = variant(YOLOXPoseAnnotationProcessor(expand_bbox=True).encode)(kp, vis, boxes)["bbox"]
    exact = variant(YOLOXPoseAnnotationProcessor(expand_bbox=True, mmpose_compat=False).encode)(
        kp, vis, boxes)["bbox"]
    np.testing.assert_array_equal(compat, expanded(kp, vis, boxes, far=1e6).astype(np.float32))
    np.testing.assert_array_equal(exact, expanded(kp, vis, boxes).astype(np.float32))
    np.testing.assert_array_equal(compat, [[1e6, 1e6, 4e6, 5e6], [-5e6, -4e6, -1e6, -1e6]])
    np.testing.assert_array_equal(exact, boxes)


def test_non_finite_keypoints_do_not_count(codec, variant):
    kp, vis, boxes = annotations(5)
    vis[:] = 1.0
    kp[0, 1, 0] = np.nan
    kp[2, 3, 1] = -np.inf
    out = variant(codec.encode)(kp, vis, boxes)["bbox"]
    counted = np.isfinite(kp).all(-1).astype(np.float32)
    np.testing.assert_array_equal(out, expanded(np.nan_to_num(kp), counted, boxes).astype(np.float32))
    assert np.isfinite(np.asarray(out)).all()


def test_keys_that_apply(variant):
    kp, vis, boxes = annotations(6)
    plain = YOLOXPoseAnnotationProcessor()
    out = variant(plain.encode)(kp, vis, boxes, np.array([3, 2, 1]))
    assert set(out) == {"bbox_labels"}
    np.testing.assert_array_equal(out["bbox_labels"], [2, 1, 0])
    assert variant(plain.encode)(kp, vis, boxes) == {}
    expand = YOLOXPoseAnnotationProcessor(expand_bbox=True)
    assert set(variant(expand.encode)(kp, vis, None, [1, 1, 1])) == {"bbox_labels"}
    assert set(variant(expand.encode)(kp, vis, boxes)) == {"bbox"}


def test_labels_past_int8(variant):
    """MMPose casts ids to int8 before subtracting 1 (compat reproduces the
    wrap-around); the exact mode subtracts in int32."""
    ids = np.array([1, 128, 300, 0])
    compat = variant(YOLOXPoseAnnotationProcessor().encode)(category_id=ids)["bbox_labels"]
    exact = variant(YOLOXPoseAnnotationProcessor(mmpose_compat=False).encode)(category_id=ids)["bbox_labels"]
    np.testing.assert_array_equal(compat, (ids.astype(np.int8) - 1).astype(np.int32))  # int8 arithmetic
    np.testing.assert_array_equal(exact, ids - 1)


def test_decode_returns_none():
    codec = YOLOXPoseAnnotationProcessor(expand_bbox=True)
    assert codec.decode() is None and codec.decode(1, 2, x=3) is None
    assert jax.jit(codec.decode)(np.ones(3)) is None
    assert codec.batch_decode(np.ones((2, 3))) is None


def test_batch_encode_equals_per_sample(codec):
    samples = [annotations(s) for s in range(4)]
    ids = np.array([[1, 2, 3]] * 4)
    batch = jax.jit(codec.batch_encode)(*[np.stack(x) for x in zip(*samples)], ids)
    for b, (kp, vis, boxes) in enumerate(samples):
        one = codec.encode(kp, vis, boxes, ids[b])
        for key in one:
            np.testing.assert_array_equal(np.asarray(batch[key])[b], one[key])


def test_no_recompilation_for_new_values(codec):
    encode = jax.jit(codec.encode)
    encode(*annotations(7), np.array([1, 2, 3]))
    with jax.log_compiles(True):
        before = encode._cache_size()
        encode(*annotations(8), np.array([4, 5, 6]))
        assert encode._cache_size() == before


@pytest.mark.parametrize("call,name", [
    (lambda c: c.encode(None, None, annotations()[2]), "keypoints"),
    (lambda c: c.encode(annotations()[0][..., :1], None, annotations()[2]), "keypoints"),
    (lambda c: c.encode(annotations()[0], np.ones((3, K + 1)), annotations()[2]), "keypoints_visible"),
    (lambda c: c.encode(annotations()[0], np.ones(3), annotations()[2]), "keypoints_visible"),
    (lambda c: c.encode(annotations()[0], None, annotations()[2][:2]), "bbox"),
    (lambda c: c.encode(annotations()[0], None, annotations()[2][:, :3]), "bbox"),
    (lambda c: c.encode(annotations()[0], None, annotations()[2], [1, 2]), "category_id"),
    (lambda c: c.encode(category_id=np.ones((3, 1))), "category_id"),
])
def test_bad_input_names_the_argument(codec, call, name):
    with pytest.raises(ValueError, match=f"`{name}`") as info:
        call(codec)
    assert "got" in str(info.value)


def test_input_size_is_accepted_and_checked():
    assert build({"type": "YOLOXPoseAnnotationProcessor", "input_size": [640, 640]}).input_size == (640, 640)
    with pytest.raises(ValueError, match="`input_size`"):
        build({"type": "YOLOXPoseAnnotationProcessor", "input_size": (640, 640, 3)})
