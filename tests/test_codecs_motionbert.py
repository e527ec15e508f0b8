"""MotionBERTLabel (and the pinhole projection it uses).

Every value is checked against an independent float64 NumPy formula written
here from ``MMPOSE_BEHAVIOUR.md`` §2.12 and ``SPEC.md`` §4 row 22, or against
a mathematical property (a closed-form round trip). Derivatives are checked
against finite differences in ``test_gradients.py``; golden-vector parity
with MMPose and the generic API conventions (jit, vmap, batch == loop,
retracing, sharding) in ``test_conformance.py``, ``test_api.py`` and
``test_sharding.py``.

The encode cases run eagerly: each configuration is called once, and an
eager call costs a few milliseconds against ~0.15 s for a jit compilation.
"""

import functools
import re

import jax
import numpy as np
import pytest

from jaxcodecs import MotionBERTLabel

K = 17  # H36M joints
W, H = 1280.0, 720.0  # not square, not 1000: train mode's w / 1000 matters
FRAMES = (1, 3, 27)
ROOTS = (0, 5)
MODES = ("train", "test", "TRAIN")
FACTOR_KINDS = ("none", "flat", "column", "zero_first")


# ------------------------------------------------------------- references
def np64(x):
    return np.asarray(x, np.float64)


def np_project(point, f, c):
    """Pinhole projection of one camera-frame point ``(x, y, z)`` with
    ``f``, ``c`` already divided by 1000: ``(x / z * fx + cx, y / z * fy + cy)``."""
    x, y, z = point
    return np.array([x / z * f[0] + c[0], y / z * f[1] + c[1]])


def np_camera_to_image(target, root_index, f, c):
    """§2.12's ``camera_to_image_coord`` with explicit loops, float64.

    Returns the image-frame target ``(T, K, 3)`` and the factor ``(T,)``."""
    target = np64(target)
    f = np64(f).reshape(2) / 1000.0
    c = np64(c).reshape(2) / 1000.0
    frames, joints, _ = target.shape
    image = np.zeros_like(target)
    factor = np.zeros(frames)
    for t in range(frames):
        root = target[t, root_index]
        top_left = np_project(root - np.array([1.0, 1.0, 0.0]), f, c)
        bottom_right = np_project(root + np.array([1.0, 1.0, 0.0]), f, c)
        width = bottom_right[0] - top_left[0] + 0.001
        ratio = width / 2.0
        factor[t] = 2.0 / width
        for k in range(joints):
            image[t, k, :2] = np_project(target[t, k], f, c)
            image[t, k, 2] = ratio * (target[t, k, 2] - root[2])
    return image, factor


def np_encode(kp, vis, target, target_vis, camera, factor, root_index, mode, concat_vis):
    """§2.12's encode, float64, written as plain per-channel formulas."""
    kp = np64(kp).copy()
    w, h = float(camera["w"]), float(camera["h"])
    frames = target.shape[0]
    vis_out = np.ones(kp.shape[:2]) if vis is None else np64(vis)
    if target_vis is None:
        target_vis_out = np.ones(target.shape[:2])
        weight = np.ones(target.shape[:2])
    else:
        target_vis_out = np64(target_vis)
        weight = (target_vis_out > 0.5).astype(np.float64)
    labels = kp.copy()
    labels[..., 0] = kp[..., 0] / w * 2 - 1
    labels[..., 1] = kp[..., 1] / w * 2 - h / w
    default = np.full(frames, 4.0)
    label = np64(target).copy()
    if "f" in camera and "c" in camera:
        label, default = np_camera_to_image(target, root_index, camera["f"], camera["c"])
    if mode.lower() == "train":
        wm, hm = w / 1000.0, h / 1000.0
        label[..., 0] = label[..., 0] / wm * 2 - 1
        label[..., 1] = label[..., 1] / wm * 2 - hm / wm
        label[..., 2] = label[..., 2] / wm * 2
    label = label - label[:, root_index : root_index + 1, :]
    used = default
    if factor is not None and np.ravel(factor)[0] != 0:
        used = np64(factor).reshape(frames)
    used = used.reshape(frames, 1)
    if mode.lower() == "test":
        label = label * used[:, :, None]
    if concat_vis:
        labels = np.concatenate([labels, vis_out[..., None]], axis=-1)
    return {
        "keypoint_labels": labels,
        "keypoint_labels_visible": vis_out,
        "lifting_target_label": label,
        "lifting_target": label,
        "lifting_target_weight": weight,
        "lifting_target_visible": target_vis_out,
        "factor": used,
    }


def np_decode(encoded, w, h, factor, root_index, zero_joint):
    """§2.12's decode, float64; ``zero_joint`` is the joint zeroed first
    (None: ``rootrel`` off). ``w``, ``h``, ``factor``: anything of N values."""
    x = np64(encoded).copy()
    rows = x.shape[0]
    if zero_joint is not None:
        x[:, zero_joint, :] = 0
    if w is not None:
        for n in range(rows):
            wn, hn = float(np.ravel(w)[n]), float(np.ravel(h)[n])
            x[n, :, 0] = (x[n, :, 0] + 1) * wn / 2
            x[n, :, 1] = (x[n, :, 1] + hn / wn) * wn / 2
            x[n, :, 2:] = x[n, :, 2:] * wn / 2
    if factor is not None:
        for n in range(rows):
            x[n] = x[n] * float(np.ravel(factor)[n])
    x = x - x[:, root_index : root_index + 1, :]
    return x / 1000.0


# ---------------------------------------------------------------- helpers
def assert_close(actual, expected, tol=2e-5, err_msg=""):
    """float32 results against float64 references: relative to the scale."""
    actual, expected = np64(actual), np64(expected)
    assert actual.shape == expected.shape, (err_msg, actual.shape, expected.shape)
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol * scale, err_msg=err_msg)


def make_camera(rng, with_fc):
    camera = {"w": W, "h": H}
    if with_fc:
        camera["f"] = rng.uniform(1100, 1200, (2, 1)).astype(np.float32)
        camera["c"] = np.array([[W / 2], [H / 2]], np.float32) + rng.uniform(-20, 20, (2, 1)).astype(np.float32)
    return camera


def make_target(rng, frames):
    """Camera-frame poses in metres, 4-6 m in front of the camera."""
    target = rng.normal(0.0, 0.4, (frames, K, 3))
    target[..., 2] += rng.uniform(4.0, 6.0, (frames, 1))
    return target.astype(np.float32)


def make_factor(rng, kind, frames):
    if kind == "none":
        return None
    values = rng.uniform(0.5, 3.0, frames).astype(np.float32)
    if kind == "column":
        return values[:, None]
    if kind == "zero_first":
        values[0] = 0.0  # the rest are not 0: still the default is used
    return values


@functools.lru_cache(maxsize=None)
def codec(root_index=0, mode="test", concat_vis=False, rootrel=False, compat=True):
    return MotionBERTLabel(num_keypoints=K, root_index=root_index, mode=mode, concat_vis=concat_vis,
                           rootrel=rootrel, mmpose_compat=compat)


# ------------------------------------------------------------ 1. encode
@pytest.mark.parametrize("with_fc", (False, True), ids=("no_fc", "fc"))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("root_index", ROOTS)
@pytest.mark.parametrize("frames", FRAMES)
def test_encode_matches_numpy(frames, root_index, mode, with_fc):
    """Every factor kind with concat_vis on and off; 3-D keypoints (a third
    channel the encoder leaves alone) for T != 3, 2-D for T == 3;
    visibilities given or defaulted depending on the root."""
    rng = np.random.default_rng([frames, root_index, MODES.index(mode), with_fc])
    dims = 2 if frames == 3 else 3
    kp = rng.uniform(0, W, (frames, K, dims)).astype(np.float32)
    if dims == 3:
        kp[..., 2] = rng.uniform(-5, 5, (frames, K))
    given_vis = root_index == 5
    vis = rng.uniform(0, 1, (frames, K)).astype(np.float32) if given_vis else None
    target_vis = rng.uniform(0, 1, (frames, K)).astype(np.float32) if given_vis else None
    target = make_target(rng, frames)
    camera = make_camera(rng, with_fc)
    for kind in FACTOR_KINDS:
        factor = make_factor(rng, kind, frames)
        for concat_vis in (False, True):
            msg = f"factor={kind} concat_vis={concat_vis}"
            enc = codec(root_index, mode, concat_vis).encode(kp, vis, target, target_vis, camera, factor)
            ref = np_encode(kp, vis, target, target_vis, camera, factor, root_index, mode, concat_vis)
            assert set(enc) == set(ref), msg
            for key in ref:
                assert_close(enc[key], ref[key], err_msg=f"{msg} {key}")
            assert enc["factor"].shape == (frames, 1)
            if dims == 3:  # the third keypoint channel is copied bit for bit
                np.testing.assert_array_equal(np.asarray(enc["keypoint_labels"])[..., 2], kp[..., 2])
            np.testing.assert_array_equal(np.asarray(enc["lifting_target_label"]),
                                          np.asarray(enc["lifting_target"]))


def test_encode_zero_first_factor_uses_the_camera_factor():
    """A factor starting with 0 falls back to the projection's factor
    ``2 / (br_x - tl_x + 0.001)`` = ``z_root / fx`` (to 1e-3), per frame."""
    rng = np.random.default_rng(7)
    target = make_target(rng, 3)
    camera = make_camera(rng, True)
    enc = codec(0, "test").encode(target[..., :2] * 100, None, target, None, camera, np.array([0.0, 2.0, 3.0]))
    fx = float(camera["f"][0, 0]) / 1000.0
    approx = 2.0 / (2 * fx / target[:, 0, 2].astype(np.float64) + 0.001)
    assert_close(np.asarray(enc["factor"])[:, 0], approx)


# ------------------------------------------------------------ 2. decode
# Every decode test uses N = 3 rows (and the errors test T = N = 3): the same
# shapes as the T = 3 encode cases, so eager calls reuse compiled primitives.
ROWS = 3


def test_decode_without_size_or_factor():
    rng = np.random.default_rng(11)
    encoded = rng.normal(size=(ROWS, K, 3)).astype(np.float32)
    for root_index in ROOTS:
        keypoints, scores = codec(root_index).decode(encoded)
        assert_close(keypoints, np_decode(encoded, None, None, None, root_index, None))
        np.testing.assert_array_equal(np.asarray(scores), np.ones((ROWS, K)))


@pytest.mark.parametrize("column", (False, True), ids=("flat", "column"))
@pytest.mark.parametrize("channels", (3, 4))
def test_decode_with_size_and_factor(column, channels):
    """w, h as (N,) or (N, 1); factor (N,) with N > 1 works as (N, 1)
    (row 22); every channel after the second is scaled by w / 2."""
    rng = np.random.default_rng([12, column, channels])
    rows = ROWS
    encoded = rng.normal(size=(rows, K, channels)).astype(np.float32)
    w = rng.uniform(500, 1500, rows).astype(np.float32)
    h = rng.uniform(500, 1500, rows).astype(np.float32)
    factor = rng.uniform(0.5, 4.0, rows).astype(np.float32)
    shaped = (lambda a: a[:, None]) if column else (lambda a: a)
    for root_index in ROOTS:
        c = codec(root_index)
        got, _ = c.decode(encoded, shaped(w), shaped(h))
        assert_close(got, np_decode(encoded, w, h, None, root_index, None))
        got, _ = c.decode(encoded, shaped(w), shaped(h), factor)
        assert_close(got, np_decode(encoded, w, h, factor, root_index, None))
        got, _ = c.decode(encoded, shaped(w), shaped(h), factor[:, None])
        assert_close(got, np_decode(encoded, w, h, factor, root_index, None))
        got, _ = c.decode(encoded, None, None, factor)
        assert_close(got, np_decode(encoded, None, None, factor, root_index, None))


@pytest.mark.parametrize("compat", (True, False))
def test_decode_rootrel_zeroed_joint(compat):
    """``rootrel`` zeroes joint 0 with mmpose_compat=True (MMPose), joint
    ``root_index`` with False; root_index = 3 tells the two apart."""
    rng = np.random.default_rng(13)
    encoded = rng.normal(size=(3, K, 3)).astype(np.float32)
    w = np.array([1000.0, 1280.0, 640.0], np.float32)
    h = np.array([1002.0, 720.0, 480.0], np.float32)
    factor = np.array([[2.0], [3.0], [0.5]], np.float32)
    c = codec(3, rootrel=True, compat=compat)
    zeroed = 0 if compat else 3
    other = 3 if compat else 0
    for args in ((), (w, h), (w, h, factor)):
        got, _ = c.decode(encoded, *args)
        full = list(args) + [None] * (3 - len(args))
        ref = np_decode(encoded, *full, 3, zeroed)
        assert_close(got, ref)
        # and not the other joint's reference
        assert not np.allclose(np.asarray(got), np_decode(encoded, *full, 3, other), atol=1e-4)
    if not compat:  # the root is zeroed, then everything is relative to it
        got, _ = c.decode(encoded, w, h, factor)
        assert_close(np.asarray(got)[:, 3], np.zeros((3, 3)))


# ------------------------------------------------------- 3. round trip
@pytest.mark.parametrize("seed", (0, 1))
@pytest.mark.parametrize("root_index", ROOTS)
def test_round_trip_closed_form(root_index, seed):
    """Mode "test", no f / c, no factor: encode gives ``label = 4 (P - P_r)``
    and factor 4. Decoding with ``w, h`` maps ``(x, y, z)`` to
    ``((x + 1) w/2, (y + h/w) w/2, z w/2)``, times 4, root-relative; the
    label's root is 0 so the shifts cancel and
    ``decode(label, w, h, factor) = 4 * 4 * (w / 2) * (P - P_r) / 1000
    = 0.008 w (P - P_r)``, per frame with that frame's ``w``."""
    frames = ROWS
    rng = np.random.default_rng([30, seed, root_index])
    target = make_target(rng, frames)
    kp = rng.uniform(0, W, (frames, K, 2)).astype(np.float32)
    c = codec(root_index, "test")
    enc = c.encode(kp, None, target, None, {"w": W, "h": H})
    w = rng.uniform(500, 2000, frames).astype(np.float32)
    h = rng.uniform(500, 2000, frames).astype(np.float32)
    got, _ = c.decode(enc["lifting_target_label"], w, h, factor=enc["factor"])
    t64 = np64(target)
    expected = 0.008 * np64(w)[:, None, None] * (t64 - t64[:, root_index : root_index + 1])
    assert_close(got, expected)


# ------------------------------------------------------------ 4. gradients
# The encode / decode Jacobians are checked entry by entry against finite
# differences in test_gradients.py.


# ---------------------------------------------------------------- 5. errors
def test_errors():
    rng = np.random.default_rng(50)
    kp = rng.uniform(0, W, (ROWS, K, 2)).astype(np.float32)
    target = make_target(rng, ROWS)
    mb = codec(0, "test")
    with pytest.raises(ValueError, match="lifting_target"):
        mb.encode(kp, None, None, None, {"w": W, "h": H})
    for camera in (None, {}, {"h": H}, {"w": W}, {"h": H, "f": np.ones((2, 1)), "c": np.ones((2, 1))}):
        with pytest.raises(ValueError, match="camera_param"):
            mb.encode(kp, None, target, None, camera)
    for bad in ("val", "Training", "", None, 1):
        with pytest.raises(ValueError, match="mode"):
            MotionBERTLabel(num_keypoints=K, mode=bad)
    for factor in (np.ones(ROWS + 1), np.ones(1), np.ones((ROWS + 1, 1))):
        with pytest.raises(ValueError, match="factor"):
            mb.encode(kp, None, target, None, {"w": W, "h": H}, factor)

    encoded = rng.normal(size=(ROWS, K, 3)).astype(np.float32)
    w2, h2 = np.full(ROWS, W, np.float32), np.full(ROWS, H, np.float32)
    for w, h in ((w2, h2[:, None]), (w2[:, None], h2), (w2, None), (w2, h2[:1]),
                 (np.full(ROWS + 1, W), np.full(ROWS + 1, H)), (w2[:1], h2[:1]),
                 (np.full((ROWS, 2), W), np.full((ROWS, 2), H))):
        with pytest.raises(ValueError, match=r"`w`.*got"):
            mb.decode(encoded, w, h)
    for factor in (np.ones(ROWS + 1), np.ones(1), np.ones((ROWS + 1, 1)), np.ones((ROWS, 2))):
        with pytest.raises(ValueError, match="factor"):
            mb.decode(encoded, w2, h2, factor)


@pytest.mark.parametrize("factor", [np.full((3, 2), 2.0), np.full((3, 1, 1), 2.0), np.float32(2.0)])
def test_encode_factor_of_another_shape_is_an_error(factor):
    codec = MotionBERTLabel(num_keypoints=17)
    kp, target, camera = np.zeros((3, 17, 2)), np.ones((3, 17, 3)), {"w": 1000.0, "h": 1000.0}
    with pytest.raises(ValueError, match="factor"):
        codec.encode(kp, None, target, None, camera, factor)


def test_encode_frames_must_agree():
    codec = MotionBERTLabel(num_keypoints=17)
    with pytest.raises(ValueError, match="frames"):
        codec.encode(np.zeros((2, 17, 2)), None, np.ones((3, 17, 3)), None, {"w": 1000.0, "h": 1000.0})


# ------------------------------------------------- 6. camera sizes in encode
# encode takes w and h as MMPose does, scalars (one image size for the clip),
# or one size per frame in the shapes decode takes, (T,) or (T, 1) each.
@pytest.mark.parametrize("mode", ("train", "test"))
@pytest.mark.parametrize("shape", ((), (ROWS,), (ROWS, 1)), ids=("scalar", "flat", "column"))
def test_encode_camera_size_per_frame(shape, mode):
    """Each frame is normalised with its own size: frame t of a per-frame
    encode equals the scalar encode of frame t with w[t], h[t]."""
    rng = np.random.default_rng([60, len(shape), MODES.index(mode)])
    kp = rng.uniform(0, W, (ROWS, K, 2)).astype(np.float32)
    target = make_target(rng, ROWS)
    w = rng.uniform(500, 2000, ROWS).astype(np.float32)
    h = rng.uniform(500, 2000, ROWS).astype(np.float32)
    if shape == ():
        w, h = np.full(ROWS, w[0]), np.full(ROWS, h[0])
        camera = {"w": np.float32(w[0]), "h": np.array(h[0], np.float32)}
    else:
        camera = {"w": w.reshape(shape), "h": h.reshape(shape)}
    enc = codec(0, mode).encode(kp, None, target, None, camera)
    for t in range(ROWS):
        ref = np_encode(kp[t:t + 1], None, target[t:t + 1], None, {"w": w[t], "h": h[t]}, None, 0, mode, False)
        for key in ("keypoint_labels", "lifting_target_label", "lifting_target_weight", "factor"):
            assert_close(np.asarray(enc[key])[t:t + 1], ref[key], err_msg=f"frame {t} {key}")


@pytest.mark.parametrize("w_shape,h_shape", [
    ((ROWS + 1,), (ROWS + 1,)),   # another number of frames
    ((1,), (1,)),                 # one size for 3 frames: no silent broadcasting
    ((ROWS,), ()),                # the two disagree (MMPose: inhomogeneous [1, h / w])
    ((), (ROWS, 1)),
    ((ROWS,), (ROWS, 1)),
    ((ROWS, 2), (ROWS, 2)),
    ((ROWS, 1, 1), (ROWS, 1, 1)),
])
def test_encode_camera_size_of_another_shape_is_an_error(w_shape, h_shape):
    rng = np.random.default_rng(61)
    kp = rng.uniform(0, W, (ROWS, K, 2)).astype(np.float32)
    target = make_target(rng, ROWS)
    camera = {"w": np.full(w_shape, W, np.float32), "h": np.full(h_shape, H, np.float32)}
    expected = (r"`camera_param\['w'\]` and `camera_param\['h'\]` must have the same shape \(\) .*"
                r"\(T,\) or \(T, 1\) with T = 3, got " + re.escape(f"{w_shape} and {h_shape}"))
    for mode in ("train", "test"):
        with pytest.raises(ValueError, match=expected):
            codec(0, mode).encode(kp, None, target, None, camera)
        with pytest.raises(ValueError, match=expected):
            jax.jit(codec(0, mode).encode)(kp, None, target, None, camera)


def test_encode_audit_reproducer_names_the_camera_width():
    """One frame with three widths used to fail inside the maths."""
    rng = np.random.default_rng(62)
    kp = rng.uniform(0, 500, (1, K, 2)).astype(np.float32)
    vis = np.ones((1, K), np.float32)
    target = make_target(rng, 1)
    camera = {"w": np.full(3, 1e3, np.float32), "h": np.full(3, 1e3, np.float32)}
    with pytest.raises(ValueError, match=r"camera_param\['w'\].*with T = 1, got \(3,\) and \(3,\)"):
        MotionBERTLabel(num_keypoints=K).encode(kp, vis, target, vis, camera)


@pytest.mark.parametrize("shape", [(2, 2), (3,), (), (1,), (2, 1, 1)])
@pytest.mark.parametrize("key", ("f", "c"))
def test_encode_camera_intrinsics_of_another_shape_are_an_error(key, shape):
    """f and c are projected as (x, y): any other number of values used to
    fail inside a reshape without naming the argument."""
    rng = np.random.default_rng(64)
    kp = rng.uniform(0, W, (ROWS, K, 2)).astype(np.float32)
    target = make_target(rng, ROWS)
    camera = make_camera(rng, True)
    camera[key] = np.full(shape, 500.0, np.float32)
    match = rf"`camera_param\['{key}'\]` must hold two values \(x, y\), shape \(2,\) or \(2, 1\), got shape " \
        + re.escape(str(shape))
    for mode in ("train", "test"):
        with pytest.raises(ValueError, match=match):
            codec(0, mode).encode(kp, None, target, None, camera)
        with pytest.raises(ValueError, match=match):
            jax.jit(codec(0, mode).encode)(kp, None, target, None, camera)
    # (2,), (2, 1) and (1, 2) are the same two values.
    encoded = [codec(0).encode(kp, None, target, None, {**camera, key: np.reshape(camera_value, s)})
               for camera_value in [make_camera(np.random.default_rng(64), True)[key]] for s in ((2,), (2, 1), (1, 2))]
    for other in encoded[1:]:
        np.testing.assert_array_equal(np.asarray(other["lifting_target_label"]),
                                      np.asarray(encoded[0]["lifting_target_label"]))


@pytest.mark.parametrize("key", ("w", "h", "f", "c"))
def test_encode_complex_camera_is_an_error(key):
    rng = np.random.default_rng(63)
    kp = rng.uniform(0, W, (ROWS, K, 2)).astype(np.float32)
    target = make_target(rng, ROWS)
    camera = make_camera(rng, True)
    camera[key] = np.asarray(camera[key], np.complex64)
    match = rf"`camera_param\['{key}'\]` must be real, got dtype complex64"
    with pytest.raises(TypeError, match=match):
        codec(0).encode(kp, None, target, None, camera)
    with pytest.raises(TypeError, match=match):
        jax.jit(codec(0).encode)(kp, None, target, None, camera)


# ----------------------------------------------- 7. a subnormal image size
TINY = float(np.finfo(np.float32).tiny)


@pytest.mark.parametrize("with_fc", (False, True), ids=("no_fc", "fc"))
@pytest.mark.parametrize("mode", ("train", "test"))
@pytest.mark.parametrize("key,value", [("w", 1e-40), ("w", -1e-40), ("w", TINY / 2), ("h", 1e-40)])
def test_subnormal_camera_size_is_a_zero_size(key, value, mode, with_fc):
    """XLA:CPU reads a float32 subnormal as 0, so dividing by such a width
    gave Inf labels: a size below float32's smallest normal voids the sample
    exactly as a zero size does (finite labels, weights 0), eagerly and
    jitted (the camera traced)."""
    rng = np.random.default_rng([64, mode == "train", with_fc])
    kp = rng.uniform(0, W, (ROWS, K, 2)).astype(np.float32)
    target = make_target(rng, ROWS)
    camera = make_camera(rng, with_fc)
    tiny = {**camera, key: np.float32(value)}
    zero = {**camera, key: np.float32(0.0)}
    c = codec(0, mode)
    for encode in (c.encode, jax.jit(c.encode)):
        got, ref = encode(kp, None, target, None, tiny), encode(kp, None, target, None, zero)
        assert set(got) == set(ref)
        for name in ref:
            assert np.isfinite(np.asarray(got[name])).all(), name
            np.testing.assert_array_equal(np.asarray(got[name]), np.asarray(ref[name]), err_msg=name)
        np.testing.assert_array_equal(np.asarray(got["lifting_target_weight"]), np.zeros((ROWS, K)))
    # The smallest normal width itself is a size: weights stay 1.
    normal = c.encode(kp, None, target, None, {**camera, key: np.float32(TINY)})
    np.testing.assert_array_equal(np.asarray(normal["lifting_target_weight"]), np.ones((ROWS, K)))


def test_subnormal_frame_width_voids_the_clip():
    """Per-frame sizes: one subnormal width voids the sample as a zero one does."""
    rng = np.random.default_rng(65)
    kp = rng.uniform(0, W, (ROWS, K, 2)).astype(np.float32)
    target = make_target(rng, ROWS)
    w = np.array([W, 1e-40, W], np.float32)
    h = np.full(ROWS, H, np.float32)
    for encode in (codec(0).encode, jax.jit(codec(0).encode)):
        got = encode(kp, None, target, None, {"w": w, "h": h})
        ref = encode(kp, None, target, None, {"w": np.where(w < 1, 0, w).astype(np.float32), "h": h})
        for name in ref:
            assert np.isfinite(np.asarray(got[name])).all(), name
            np.testing.assert_array_equal(np.asarray(got[name]), np.asarray(ref[name]), err_msg=name)
        np.testing.assert_array_equal(np.asarray(got["lifting_target_weight"]), np.zeros((ROWS, K)))


# ---------------------------------------- 8. decode of too few coordinates
@pytest.mark.parametrize("channels", (0, 1))
def test_decode_with_size_needs_x_and_y(channels):
    """Mapping back with w, h reads x and y: C < 2 is a ValueError naming
    `encoded` (MMPose fails there in a NumPy broadcast), for decode and
    batch_decode, eager and jitted."""
    encoded = np.zeros((ROWS, K, channels), np.float32)
    w, h = np.full(ROWS, W, np.float32), np.full(ROWS, H, np.float32)
    match = r"`encoded` must have shape \(N, K, C\) with C >= 2 .*got shape \(3, 17, " + str(channels)
    c = codec(0)
    with pytest.raises(ValueError, match=match):
        c.decode(encoded, w, h)
    with pytest.raises(ValueError, match=match):
        jax.jit(c.decode)(encoded, w, h)
    with pytest.raises(ValueError, match=match):
        c.batch_decode(encoded[None], w[None], h[None])


def test_decode_of_no_coordinates_without_size():
    """Without w, h nothing reads a coordinate: C = 0 decodes, as in MMPose,
    to empty keypoints and scores of ones (it raised an IndexError)."""
    for c in (codec(0), codec(5, rootrel=True, compat=False)):
        keypoints, scores = c.decode(np.zeros((ROWS, K, 0), np.float32), None, None, np.ones(ROWS))
        assert keypoints.shape == (ROWS, K, 0)
        np.testing.assert_array_equal(np.asarray(scores), np.ones((ROWS, K), np.float32))
        keypoints, scores = jax.jit(c.batch_decode)(np.zeros((2, ROWS, K, 0), np.float32))
        assert keypoints.shape == (2, ROWS, K, 0)
        np.testing.assert_array_equal(np.asarray(scores), np.ones((2, ROWS, K), np.float32))
