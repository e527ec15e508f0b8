"""EDPoseLabel: normalisation, None passthrough, dtypes, top-k decoding and
its gather, against NumPy formulas written here from the behaviour
(MMPOSE_BEHAVIOUR.md §2.14), never against values taken from the port."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcodecs import EDPoseLabel, build

W, H = 640, 480
K = 4


def annotations(seed=0, n=3, k=K):
    rng = np.random.default_rng(seed)
    kp = np.stack([rng.uniform(-20, W + 20, (n, k)), rng.uniform(-20, H + 20, (n, k))], -1).astype(np.float32)
    vis = rng.choice([0.0, 1.0, 2.0], (n, k)).astype(np.float32)
    low = rng.uniform(0, 300, (n, 2))
    boxes = np.concatenate([low, low + rng.uniform(1, 200, (n, 2))], -1).astype(np.float32)
    area = rng.uniform(10, 5e4, n).astype(np.float32)
    return kp, vis, area, boxes


def predictions(seed=0, q=6, c=2, k=K, extra=True):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(q, c)).astype(np.float32)
    boxes = rng.uniform(0.1, 0.9, (q, 4)).astype(np.float32)
    points = rng.uniform(0, 1, (q, (3 if extra else 2) * k)).astype(np.float32)
    return logits, boxes, points


def numpy_decode(num_select, k, input_hw, logits, boxes, points):
    """The decode written out: stable argsort of -logits, query = index // C,
    cxcywh -> xyxy (x2 from x1), times (w, h)."""
    h, w = (float(v) for v in input_hw)
    flat = np.asarray(logits, np.float64).reshape(-1)
    order = np.argsort(-flat, kind="stable")[:num_select]
    query = order // logits.shape[1]
    b = np.asarray(boxes, np.float64)[query]
    x1, y1 = b[:, 0] - 0.5 * b[:, 2], b[:, 1] - 0.5 * b[:, 3]
    out_boxes = np.stack([x1, y1, x1 + b[:, 2], y1 + b[:, 3]], -1) * [w, h, w, h]
    out_points = np.asarray(points, np.float64)[query, : 2 * k].reshape(-1, k, 2) * [w, h]
    return out_boxes, out_points, np.repeat(flat[order][:, None], k, axis=1)


@pytest.fixture(params=[True, False], ids=["compat", "exact"])
def codec(request):
    return EDPoseLabel(num_select=5, num_keypoints=K, mmpose_compat=request.param)


# -------------------------------------------------------------------- encode
def test_encode_normalises_by_the_image(codec, variant):
    kp, vis, area, boxes = annotations()
    out = variant(codec.encode)((W, H), kp, vis, area, boxes)
    np.testing.assert_allclose(out["keypoints"], kp / np.array([W, H], np.float32), rtol=1e-7)
    np.testing.assert_allclose(out["area"], area / np.float32(W * H), rtol=1e-7)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    size = boxes[:, 2:] - boxes[:, :2]
    np.testing.assert_allclose(out["bbox"], np.concatenate([centre, size], -1) / [W, H, W, H], rtol=1e-6)
    np.testing.assert_array_equal(out["keypoints_visible"], vis)
    assert set(out) == {"keypoints", "area", "bbox", "keypoints_visible"}
    for key in ("keypoints", "area", "bbox"):
        assert out[key].dtype == jnp.float32


def test_mmpose_example():
    """MMPose's own test: 2 instances x 2 keypoints on (640, 480), with area."""
    codec = EDPoseLabel(num_keypoints=2)
    kp = np.array([[[100, 200], [300, 400]], [[50, 60], [70, 80]]], np.float32)
    area = np.array([1000.0, 2000.0], np.float32)
    out = codec.encode((640, 480), kp, area=area)
    np.testing.assert_allclose(out["keypoints"], kp / [640, 480], rtol=1e-7)
    np.testing.assert_allclose(out["area"], area / (640 * 480), rtol=1e-7)
    assert out["bbox"] is None
    np.testing.assert_array_equal(out["keypoints_visible"], np.ones((2, 2)))


def test_none_passes_through(variant):
    codec = EDPoseLabel(num_keypoints=K)
    kp, vis, _, _ = annotations(1)
    out = variant(codec.encode)((W, H), kp)
    assert out["area"] is None and out["bbox"] is None
    np.testing.assert_array_equal(out["keypoints_visible"], np.ones(kp.shape[:2]))
    # keypoints None with a visibility: MMPose returns keypoints None
    out = variant(codec.encode)((W, H), None, vis)
    assert out["keypoints"] is None and out["area"] is None
    np.testing.assert_array_equal(out["keypoints_visible"], vis)


def test_integer_inputs_give_float32(variant):
    codec = EDPoseLabel(num_keypoints=K)
    kp = np.arange(3 * K * 2).reshape(3, K, 2).astype(np.int64) * 7
    area = np.array([100, 2000, 30000], np.int64)
    boxes = np.array([[0, 0, 10, 20], [5, 5, 7, 9], [1, 2, 3, 4]], np.int64)
    out = variant(codec.encode)(np.array([W, H]), kp, None, area, boxes)
    for key in ("keypoints", "area", "bbox"):
        assert out[key].dtype == jnp.float32, key  # MMPose: float64 (documented deviation)
    np.testing.assert_allclose(out["keypoints"], kp / np.array([W, H], np.float64), rtol=1e-7)
    np.testing.assert_allclose(out["area"], area / (W * H), rtol=1e-7)
    expected = np.concatenate([(boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]], -1) / [W, H, W, H]
    np.testing.assert_allclose(out["bbox"], expected, rtol=1e-7)


def test_float64_stays_float64_with_x64():
    codec = EDPoseLabel(num_keypoints=K)
    kp, _, area, boxes = annotations(2)
    with jax.enable_x64(True):
        out = codec.encode((W, H), kp.astype(np.float64), None, area.astype(np.float64), boxes.astype(np.float64))
        assert out["keypoints"].dtype == jnp.float64 and out["area"].dtype == jnp.float64
        np.testing.assert_allclose(out["keypoints"], kp.astype(np.float64) / [W, H], rtol=1e-15)


def test_traced_image_size_equals_static(variant):
    codec = EDPoseLabel(num_keypoints=K)
    kp, vis, area, boxes = annotations(3)
    static = codec.encode((W, H), kp, vis, area, boxes)
    traced = variant(codec.encode)(jnp.array([W, H]), kp, vis, area, boxes)
    for key in static:
        np.testing.assert_allclose(traced[key], static[key], rtol=1e-7)


def test_single_box_and_nan_keypoint(variant):
    codec = EDPoseLabel(num_keypoints=K)
    kp, vis, _, _ = annotations(4, n=1)
    kp[0, 2, 1] = np.nan
    out = variant(codec.encode)((W, H), kp, vis, None, np.array([10, 20, 30, 60], np.float32))
    np.testing.assert_allclose(out["bbox"], np.array([20, 40, 20, 40]) / [W, H, W, H], rtol=1e-7)
    # the NaN keypoint is invisible at the origin; the others untouched
    assert out["keypoints_visible"][0, 2] == 0 and (np.asarray(out["keypoints"])[0, 2] == 0).all()
    np.testing.assert_allclose(np.delete(np.asarray(out["keypoints"])[0], 2, 0),
                               np.delete(kp[0], 2, 0) / [W, H], rtol=1e-7)


def test_encode_does_not_check_k_against_num_keypoints():
    """MMPose's encode ignores num_keypoints: any K works."""
    out = EDPoseLabel(num_keypoints=17).encode((W, H), annotations(5, k=3)[0])
    assert out["keypoints"].shape == (3, 3, 2)


# -------------------------------------------------------------------- decode
def test_decode_top_k_order_and_gather(codec, variant):
    logits, boxes, points = predictions(0)
    input_hw = (H, W)
    got = variant(codec.decode)(np.array(input_hw), logits, boxes, points)
    want = numpy_decode(codec.num_select, K, input_hw, logits, boxes, points)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g, np.float64), w, rtol=1e-6, atol=1e-4)
    assert [x.shape for x in got] == [(5, 4), (5, K, 2), (5, K)]


def test_decode_ties_take_the_lower_index_first(variant):
    codec = EDPoseLabel(num_select=6, num_keypoints=K)
    logits = np.array([[1.0, 2.0], [2.0, 1.0], [2.0, 0.0], [0.0, -0.0]], np.float32)
    _, boxes, points = predictions(1, q=4)
    got = variant(codec.decode)((H, W), logits, boxes, points)
    want = numpy_decode(6, K, (H, W), logits, boxes, points)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g, np.float64), w, rtol=1e-6, atol=1e-4)
    np.testing.assert_array_equal(np.asarray(got[2])[:, 0], [2, 2, 2, 1, 1, 0])


def test_nan_logit_ranks_last():
    codec = EDPoseLabel(num_select=3, num_keypoints=K)
    logits = np.array([[np.nan], [0.5], [-np.inf]], np.float32)
    _, boxes, points = predictions(2, q=3)
    _, keypoints, scores = jax.jit(codec.decode)((H, W), logits, boxes, points)
    np.testing.assert_array_equal(np.asarray(scores)[:2, 0], [0.5, -np.inf])
    assert np.isnan(np.asarray(scores)[2]).all()
    np.testing.assert_allclose(keypoints[0], points[1, : 2 * K].reshape(K, 2) * [W, H], rtol=1e-6)


def test_all_candidates_when_num_select_exceeds_them(variant):
    codec = EDPoseLabel(num_select=100, num_keypoints=K)
    logits, boxes, points = predictions(3, q=5, c=3)
    got = variant(codec.decode)((H, W), logits, boxes, points)
    assert got[0].shape == (15, 4) and got[1].shape == (15, K, 2) and got[2].shape == (15, K)
    want = numpy_decode(100, K, (H, W), logits, boxes, points)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g, np.float64), w, rtol=1e-6, atol=1e-4)


def test_keypoint_columns_past_2k_are_ignored():
    codec = EDPoseLabel(num_select=4, num_keypoints=K)
    logits, boxes, points = predictions(4)
    with_extra = codec.decode((H, W), logits, boxes, points)
    exactly_2k = codec.decode((H, W), logits, boxes, points[:, : 2 * K])
    for a, b in zip(with_extra, exactly_2k):
        np.testing.assert_array_equal(a, b)


def test_decode_inverts_encode_with_the_swapped_size():
    """Encode takes (w, h), decode (h, w): predictions made of the encoding
    decode back to the annotations (the best query first)."""
    codec = EDPoseLabel(num_select=1, num_keypoints=K)
    kp, vis, area, boxes = annotations(5)
    enc = codec.encode((W, H), kp, vis, area, boxes)
    logits = np.array([[0.1], [0.9], [0.3]], np.float32)
    points = np.concatenate([np.asarray(enc["keypoints"]).reshape(3, 2 * K), vis], -1)
    out_boxes, out_kp, _ = codec.decode((H, W), logits, enc["bbox"], points)
    np.testing.assert_allclose(out_kp[0], kp[1], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(out_boxes[0], boxes[1], rtol=1e-5, atol=1e-3)


def test_batch_decode_equals_per_sample_decode():
    codec = EDPoseLabel(num_select=5, num_keypoints=K)
    samples = [predictions(s) for s in range(3)]
    sizes = np.array([[H, W], [200, 100], [32, 64]])
    batch = jax.jit(codec.batch_decode)(sizes, *[np.stack(x) for x in zip(*samples)])
    for b, sample in enumerate(samples):
        one = codec.decode(sizes[b], *sample)
        for got, want in zip(batch, one):
            np.testing.assert_allclose(np.asarray(got)[b], want, rtol=1e-6)


def test_no_recompilation_for_new_values():
    codec = EDPoseLabel(num_select=5, num_keypoints=K)
    encode, decode = jax.jit(codec.encode), jax.jit(codec.decode)
    kp, vis, area, boxes = annotations(6)
    encode(np.array([W, H]), kp, vis, area, boxes)
    decode(np.array([H, W]), *predictions(6))
    with jax.log_compiles(True):
        before = encode._cache_size(), decode._cache_size()
        kp2, vis2, area2, boxes2 = annotations(7)
        encode(np.array([100, 200]), kp2, vis2, area2, boxes2)
        decode(np.array([200, 100]), *predictions(7))
        assert (encode._cache_size(), decode._cache_size()) == before


# --------------------------------------------------------------- bad input
@pytest.mark.parametrize("call,name", [
    (lambda c: c.encode((W,), annotations()[0]), "img_shape"),
    (lambda c: c.encode((0, H), annotations()[0]), "img_shape"),
    (lambda c: c.encode((W, H), annotations()[0][..., :1]), "keypoints"),
    (lambda c: c.encode((W, H), None), "keypoints"),
    (lambda c: c.encode((W, H), annotations()[0], np.ones((3, K + 1))), "keypoints_visible"),
    (lambda c: c.encode((W, H), annotations()[0], None, np.ones(4)), "area"),
    (lambda c: c.encode((W, H), annotations()[0], None, None, np.ones((3, 3))), "bboxes"),
    (lambda c: c.decode((H, W, 3), *predictions()), "input_shapes"),
    (lambda c: c.decode((H, W), predictions()[0].reshape(-1), *predictions()[1:]), "pred_logits"),
    (lambda c: c.decode((H, W), predictions()[0], predictions()[1][:-1], predictions()[2]), "pred_boxes"),
    (lambda c: c.decode((H, W), *predictions()[:2], predictions()[2][:, : 2 * K - 1]), "pred_keypoints"),
    (lambda c: c.decode((H, W), *predictions()[:2], predictions()[2][:-1]), "pred_keypoints"),
])
def test_bad_input_names_the_argument(codec, call, name):
    with pytest.raises(ValueError, match=f"`{name}`") as info:
        call(codec)
    assert "got" in str(info.value)


def test_bad_configuration():
    for field in ("num_select", "num_keypoints"):
        with pytest.raises(ValueError, match=f"`{field}`"):
            build({"type": "EDPoseLabel", field: 0})


@pytest.mark.parametrize("size", [np.array([192 + 7j, 256], np.complex64), ("192", "256"), (192, "256")],
                         ids=["complex", "strings", "a-string"])
def test_image_sizes_must_be_real_numbers(size):
    # Read on the host: a complex size would lose its imaginary part (NumPy
    # only warns) and a string would be parsed as a number.
    codec = EDPoseLabel(num_keypoints=17)
    keypoints = np.ones((1, 17, 2), np.float32)
    with pytest.raises(TypeError, match=r"`img_shape` must be \(w, h\), two real numbers"):
        codec.encode(size, keypoints)
    queries = (np.zeros((4, 2), np.float32), np.zeros((4, 4), np.float32), np.zeros((4, 51), np.float32))
    with pytest.raises(TypeError, match=r"`input_shapes` must be \(h, w\), two real numbers"):
        codec.decode(size, *queries)
    # Integer and float sizes, in a tuple, list or array, are the same size.
    expected = np.asarray(codec.encode((192, 256), keypoints)["keypoints"])
    for same in ([192, 256], (192.0, 256.0), np.array([192, 256], np.int32)):
        np.testing.assert_array_equal(np.asarray(codec.encode(same, keypoints)["keypoints"]), expected)
