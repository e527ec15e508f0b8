"""ops.instances (instance roots, pseudo-box diagonals, SPR displacement
fields, border-clamped bilinear sampling) against brute-force NumPy
references that follow MMPOSE_BEHAVIOUR.md §1.10 and §2.8 literally."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import default_branch
from gradcheck import check_jacobian
from jaxcodecs import ops


# ----------------------------------------------------------- references
def np_roots(kp, vis, root_type):
    roots = np.zeros((kp.shape[0], 2), np.float32)
    roots_vis = np.zeros(kp.shape[0], np.float32)
    for n in range(kp.shape[0]):
        pts = [kp[n, k] for k in range(kp.shape[1]) if vis[n, k] > 0]
        if not pts:
            continue
        pts = np.stack(pts).astype(np.float32)
        if root_type == "kpt_center":
            roots[n] = pts.mean(axis=0)
        else:
            roots[n] = (pts.max(axis=0) + pts.min(axis=0)) / 2
        roots_vis[n] = 1
    return roots, roots_vis


def np_diagonals(kp, vis):
    out = np.zeros(kp.shape[0], np.float32)
    for n in range(kp.shape[0]):
        pts = [kp[n, k] for k in range(kp.shape[1]) if vis[n, k] > 0]
        if pts:
            pts = np.stack(pts).astype(np.float32)
            side = pts.max(axis=0) - pts.min(axis=0)
            out[n] = np.sqrt(np.float32(side[0] * side[0] + side[1] * side[1]))
    return out


def np_displacements(kp, vis, roots, roots_vis, diag, size, radius):
    """The §2.8 rule, one pixel at a time."""
    width, height = size
    n_inst, joints = kp.shape[:2]
    disp = np.zeros((2 * joints, height, width), np.float32)
    weights = np.zeros((2 * joints, height, width), np.float32)
    size_map = np.zeros((height, width), np.float32)
    for n in range(n_inst):
        rx, ry = float(roots[n, 0]), float(roots[n, 1])
        if roots_vis[n] < 1 or rx < 0 or ry < 0 or rx >= width or ry >= height:
            continue
        for k in range(joints):
            x_k, y_k = kp[n, k]
            if vis[n, k] < 1 or x_k < 0 or y_k < 0 or x_k >= width or y_k >= height:
                continue
            x_range = range(max(int(np.float32(rx - radius)), 0), min(int(np.float32(rx + radius)), width))
            y_range = range(max(int(np.float32(ry - radius)), 0), min(int(np.float32(ry + radius)), height))
            for x in x_range:
                for y in y_range:
                    taken = disp[2 * k, y, x] != 0 or disp[2 * k + 1, y, x] != 0
                    if taken and diag[n] > size_map[y, x]:
                        continue
                    weights[2 * k:2 * k + 2, y, x] = 1 / diag[n] if diag[n] > 0 else 0
                    disp[2 * k, y, x] = np.float32(x_k) - np.float32(x)
                    disp[2 * k + 1, y, x] = np.float32(y_k) - np.float32(y)
                    size_map[y, x] = diag[n]
    return disp, weights


def np_bilinear_border(maps, pts):
    joints, height, width = maps.shape
    out = np.zeros(pts.shape[:2], np.float64)
    for n in range(pts.shape[0]):
        for k in range(joints):
            x = min(max(float(pts[n, k, 0]), 0.0), width - 1.0)
            y = min(max(float(pts[n, k, 1]), 0.0), height - 1.0)
            x0, y0 = int(np.floor(x)), int(np.floor(y))
            x1, y1 = min(x0 + 1, width - 1), min(y0 + 1, height - 1)
            fx, fy = x - x0, y - y0
            out[n, k] = (maps[k, y0, x0] * (1 - fx) * (1 - fy) + maps[k, y0, x1] * fx * (1 - fy)
                         + maps[k, y1, x0] * (1 - fx) * fy + maps[k, y1, x1] * fx * fy)
    return out


# ------------------------------------------------------------- crowds
def crowd(seed, n=5, k=6, size=(24, 20)):
    """Overlapping instances, a shrunken copy, fractional / zero
    visibility, keypoints off the map, one instance with nothing visible
    and one on an exact pixel (zero displacement)."""
    rng = np.random.default_rng(seed)
    width, height = size
    centre = rng.uniform([2, 2], [width - 2, height - 2], (n, 1, 2))
    spread = rng.uniform(1.5, 7.0, (n, 1, 1))
    kp = (centre + spread * rng.standard_normal((n, k, 2))).astype(np.float32)
    if n >= 2:
        kp[1] = ((kp[0] - kp[0].mean(0)) * 0.5 + kp[0].mean(0)).astype(np.float32)
    if n >= 3:
        kp[2, 0] = np.round(kp[2, 0])
    if n >= 4:
        kp[3, 1] = (-3.0, 5.0)
    vis = (rng.random((n, k)) > 0.2).astype(np.float32)
    vis[rng.random((n, k)) < 0.15] = 0.5
    if n >= 5:
        vis[4] = 0
    return kp, vis


SIZE = (24, 20)


@pytest.mark.parametrize("root_type", ["kpt_center", "bbox_center"])
@pytest.mark.parametrize("seed", range(4))
def test_roots_and_diagonals_match_reference(seed, root_type):
    kp, vis = crowd(seed)
    roots, roots_vis = jax.jit(ops.instance_roots, static_argnums=2)(kp, vis, root_type)
    ref_roots, ref_vis = np_roots(kp, vis, root_type)
    np.testing.assert_allclose(np.asarray(roots), ref_roots, rtol=1e-6, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(roots_vis), ref_vis)
    diag = ops.instance_diagonal_lengths(kp, vis)
    np.testing.assert_allclose(np.asarray(diag), np_diagonals(kp, vis), rtol=1e-6)
    assert diag.dtype == jnp.float32


def test_roots_reject_unknown_root_type():
    kp, vis = crowd(0)
    with pytest.raises(ValueError, match="`root_type`.*got 'box_center'"):
        ops.instance_roots(kp, vis, "box_center")


def _fields(kp, vis, radius, size=SIZE):
    roots, roots_vis = ops.instance_roots(kp, vis)
    diag = ops.instance_diagonal_lengths(kp, vis)
    return ops.render_displacement_fields(kp, vis, roots, roots_vis, diag, size, radius)


def _reference(kp, vis, radius, size=SIZE):
    roots, roots_vis = np_roots(kp, vis, "kpt_center")
    diag = np_diagonals(kp, vis)
    return np_displacements(kp, vis, roots, roots_vis, diag, size, radius)


@pytest.mark.parametrize("radius", [1.0, 2.5, 4.0, 6.3])
@pytest.mark.parametrize("seed", range(5))
def test_displacement_fields_match_the_sequential_rule(seed, radius):
    kp, vis = crowd(seed)
    disp, weights = jax.jit(_fields, static_argnums=3)(kp, vis, radius)
    ref_disp, ref_weights = _reference(kp, vis, radius)
    np.testing.assert_allclose(np.asarray(disp), ref_disp, rtol=0, atol=1e-5)
    np.testing.assert_allclose(np.asarray(weights), ref_weights, rtol=1e-6, atol=0)


@pytest.mark.parametrize("seed", range(3))
def test_the_off_cpu_fields_match_the_sequential_rule(seed, monkeypatch):
    """Off CPU the scan carries the weights in both rows of each keypoint
    (``lax.platform_dependent``); that program, run here, gives the same
    fields, and only its lowering for a GPU carries them so."""
    from jax import export

    kp, vis = crowd(seed)
    want_disp, want_weights = jax.jit(_fields, static_argnums=3)(kp, vis, 2.5)
    ref_disp, ref_weights = _reference(kp, vis, 2.5)
    np.testing.assert_allclose(np.asarray(want_weights), ref_weights, rtol=1e-6, atol=0)
    with monkeypatch.context() as patch:
        patch.setattr(jax.lax, "platform_dependent", default_branch)
        disp, weights = jax.jit(lambda *a: _fields(*a, 2.5))(kp, vis)
    np.testing.assert_array_equal(np.asarray(disp), np.asarray(want_disp))
    np.testing.assert_array_equal(np.asarray(weights), np.asarray(want_weights))
    carry = f"tensor<{kp.shape[1]}x2x{SIZE[1]}x{SIZE[0]}xf32>"
    texts = {platform: export.export(jax.jit(lambda *a: _fields(*a, 2.5)), platforms=[platform])(kp, vis)
             .mlir_module() for platform in ("cpu", "cuda")}
    assert texts["cuda"].count(carry) > texts["cpu"].count(carry)


def test_later_keypoints_of_an_instance_read_its_own_size_map_writes():
    # Instance 0 (large) writes keypoints 0 and 1 everywhere in its square;
    # instance 1 (smaller) writes only keypoint 1. Instance 2 (larger than
    # 1, smaller than 0): keypoint 0's pixels are occupied by instance 0 and
    # owned (size map) by the smaller instance 1 -> kept. Keypoint 1 is
    # occupied too and kept. Then keypoint 2 is empty -> written, and the
    # size map becomes diag_2; keypoint 3 (occupied by instance 0, whose
    # diagonal is larger) is now written because the size map holds diag_2.
    kp = np.array([
        [[10, 10], [12, 12], [-5, -5], [4, 4]],    # large: diag from the 4th point
        [[-5, -5], [11, 11], [12, 10], [-5, -5]],  # small
        [[9, 9], [11, 11], [12, 12], [8, 8]],
    ], np.float32)
    vis = np.array([[1, 1, 0, 1], [0, 1, 1, 0], [1, 1, 1, 1]], np.float32)
    disp, _ = _fields(kp, vis, 2.0, size=(24, 20))
    ref, _ = _reference(kp, vis, 2.0, size=(24, 20))
    np.testing.assert_allclose(np.asarray(disp), ref, atol=1e-5)
    # The scenario happened: some pixel of keypoint 3 holds instance 2's vector.
    assert np.any(np.isclose(ref[6] + np.arange(24)[None, :], 8.0) & (ref[7] != 0))


# Radius and size static: the radius stays concrete (the slab path of the
# eager call) and each (n, radius) compiles once instead of every example
# tracing a new scan.
_static_fields = jax.jit(_fields, static_argnums=(2, 3))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(0, 6), radius=st.sampled_from([1.0, 2.0, 3.5]))
def test_displacement_fields_property(seed, n, radius):
    kp, vis = crowd(seed, n=n, k=4, size=(12, 10))
    disp, weights = _static_fields(kp, vis, radius, (12, 10))
    ref_disp, ref_weights = _reference(kp, vis, radius, size=(12, 10))
    np.testing.assert_allclose(np.asarray(disp), ref_disp, atol=1e-5)
    np.testing.assert_allclose(np.asarray(weights), ref_weights, rtol=1e-6)


def test_displacement_fields_of_no_instance_are_zero():
    kp, vis = np.zeros((0, 3, 2), np.float32), np.zeros((0, 3), np.float32)
    disp, weights = _fields(kp, vis, 2.0, size=(8, 6))
    assert disp.shape == weights.shape == (6, 6, 8)
    assert not np.any(np.asarray(disp)) and not np.any(np.asarray(weights))


def test_displacement_fields_are_differentiable_wrt_keypoints():
    kp, vis = crowd(3, n=3, k=3, size=(12, 10))
    kp = kp.astype(np.float64)
    roots, roots_vis = np_roots(kp, vis, "kpt_center")
    diag = np_diagonals(kp, vis).astype(np.float64)

    def fields(points):
        return ops.render_displacement_fields(points, vis, roots, roots_vis, diag, (12, 10), 2.0)[0]

    with jax.enable_x64(True):
        stats = check_jacobian(fields, [kp], atol=1e-6, rtol=1e-4)
        jac = np.asarray(jax.jit(jax.jacfwd(fields))(jnp.asarray(kp)))
    assert stats["ratio"] < 1
    assert np.abs(jac).max() == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(3))
def test_bilinear_sampling_matches_reference(seed):
    rng = np.random.default_rng(seed)
    maps = rng.random((4, 7, 9)).astype(np.float32)
    pts = rng.uniform(-2, 11, (5, 4, 2)).astype(np.float32)
    pts[0, 0] = (8.0, 6.0)   # the last pixel exactly
    pts[0, 1] = (3.0, 2.0)   # an interior pixel exactly
    got = jax.jit(ops.sample_maps_bilinear)(maps, pts)
    np.testing.assert_allclose(np.asarray(got), np_bilinear_border(maps, pts), rtol=1e-5, atol=1e-6)
    assert float(got[0, 1]) == maps[1, 2, 3]


def test_bilinear_sampling_of_a_nan_point_is_nan_only_there():
    maps = np.ones((2, 4, 4), np.float32)
    pts = np.array([[[np.nan, 1.0], [1.5, 2.5]]], np.float32)
    got = np.asarray(ops.sample_maps_bilinear(maps, pts))
    assert np.isnan(got[0, 0]) and got[0, 1] == pytest.approx(1.0)


def test_ops_vmap():
    kp, vis = crowd(1, n=3, k=4, size=(12, 10))
    batch_kp, batch_vis = np.stack([kp, kp + 1]), np.stack([vis, vis])
    roots, roots_vis = jax.vmap(ops.instance_roots)(batch_kp, batch_vis)
    diag = jax.vmap(ops.instance_diagonal_lengths)(batch_kp, batch_vis)
    disp, _ = jax.vmap(lambda *a: ops.render_displacement_fields(*a, (12, 10), 2.0))(
        batch_kp, batch_vis, roots, roots_vis, diag)
    for b in range(2):
        ref, _ = _reference(batch_kp[b], batch_vis[b], 2.0, size=(12, 10))
        np.testing.assert_allclose(np.asarray(disp[b]), ref, atol=1e-5)


# ------------------------------------------------------------ CID selection
def np_candidates(roots, eligible, diagonals, jitter, size):
    """CID's visiting loop (MMPOSE_BEHAVIOUR §2.9) in Python: every
    candidate (instance, jittered and clamped root), in visiting order."""
    width, height = size
    coords, chosen = [], []
    for i in np.argsort(diagonals, kind="stable"):
        if not eligible[i]:
            continue
        x = min(max(float(roots[i, 0] + jitter[i, 0]), 0.0), width - 1.0)
        y = min(max(float(roots[i, 1] + jitter[i, 1]), 0.0), height - 1.0)
        if (x, y) not in coords:
            coords.append((x, y))
            chosen.append(int(i))
    return chosen, coords


@pytest.mark.parametrize("seed", range(6))
def test_select_jittered_roots_matches_the_loop(seed):
    rng = np.random.default_rng(seed)
    num, rows, size = 7, 3, (10, 8)
    # roots on a coarse grid (so that jittered roots collide), some off the map
    roots = rng.integers(-2, 12, (num, 2)).astype(np.float32) + rng.choice([0.0, 0.5], (num, 2)).astype(np.float32)
    roots[3] = roots[1]
    eligible = rng.uniform(size=num) < 0.8
    diagonals = rng.choice([1.0, 2.0, 3.0], num).astype(np.float32)  # ties: input order
    jitter = rng.integers(-1, 2, (num, 2)).astype(np.int32)
    chosen, coords = np_candidates(roots, eligible, diagonals, jitter, size)
    total = len(chosen)
    picks = [list(range(min(total, rows)))]  # no selection: the first candidates
    selections = [None]
    if total > rows:
        drawn = rng.permutation(total)[:rows]
        picks.append(drawn.tolist())
        selections.append(drawn.astype(np.int32))
        beyond = drawn.copy()
        beyond[-1] = total  # not a candidate: that row stays empty
        picks.append(drawn[:-1].tolist() + [None])
        selections.append(beyond.astype(np.int32))
    else:  # a selection is read only when the candidates over-fill the rows
        picks.append(picks[0])
        selections.append(np.arange(rows)[::-1].astype(np.int32))
    select = jax.jit(ops.select_jittered_roots, static_argnums=(4, 5))
    for pick, selection in zip(picks, selections):
        instance, xy, valid, count = select(roots, eligible, diagonals, jitter, size, rows, selection)
        assert int(count) == total
        live = [r for r, j in enumerate(pick) if j is not None]
        np.testing.assert_array_equal(np.asarray(valid), [r in live for r in range(rows)])
        np.testing.assert_array_equal(np.asarray(instance)[live], [chosen[pick[r]] for r in live])
        np.testing.assert_array_equal(np.asarray(xy)[live], np.asarray([coords[pick[r]] for r in live]).reshape(-1, 2))
        assert not np.asarray(xy)[~np.asarray(valid)].any()


def test_select_jittered_roots_priorities_draw_distinct_candidates():
    roots = np.arange(12, dtype=np.float32).reshape(6, 2)
    eligible = np.ones(6, bool)
    priorities = np.array([0.9, 0.1, 0.5, 0.3, 0.7, 0.2], np.float32)
    instance, _, valid, count = ops.select_jittered_roots(roots, eligible, np.zeros(6, np.float32),
                                                          np.zeros((6, 2), np.int32), (20, 20), 3,
                                                          priorities=priorities)
    assert int(count) == 6 and np.asarray(valid).all()
    # the candidates of the three lowest priorities, lowest first (visiting order = input order)
    np.testing.assert_array_equal(np.asarray(instance), np.argsort(priorities)[:3])


def test_box_corners_and_sigmas():
    kp = np.array([[[1, 2], [5, 9], [3, 4]], [[0, 0], [0, 0], [0, 0]]], np.float32)
    vis = np.array([[1, 1, 0], [0, 0, 0]], np.float32)
    corners = np.asarray(ops.instance_box_corners(kp, vis))
    np.testing.assert_array_equal(corners[0], [[1, 2], [1, 9], [5, 2], [5, 9]])
    assert not corners[1].any()
    from conftest import cid_sigmas

    boxes = np.random.default_rng(0).uniform(0, 50, (20, 4, 2)).astype(np.float32)
    for ov in (0.3, 0.7, 0.95):
        np.testing.assert_allclose(np.asarray(ops.box_instance_sigmas(boxes, ov)), cid_sigmas(boxes, ov), rtol=2e-6)
    assert np.asarray(ops.box_instance_sigmas(corners, 0.7))[1] == 0.0
