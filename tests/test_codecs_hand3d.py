"""Hand3DHeatmap and its ops (G5 rendering, M2 maximum) beyond the golden vectors.

* ``render_gaussian_heatmaps_3d`` against float64 loop references written
  here from the definitions, in both modes: MMPose's window (half-even
  rounded, clipped samples; every keypoint paints) and the exact one;
* ``heatmap_argmax_3d`` against a loop over voxels (ties, <= 0 maxima);
* the codec: root depth / hand type targets, decode constants per mode,
  round trip (exact mode: within half a voxel), gradients, batch == loop,
  never NaN, bad input.

Geometry: image 64x48, heatmaps (W, H, D) = (16, 12, 8), so ``scale = 4``
px per voxel, depth bound 256 (32 depth units per bin). Keypoints are built
from heatmap-space centres on a 1/64 grid, which every conversion keeps
exact in float32, so the half-voxel cases are real ties.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxcodecs import Hand3DHeatmap, build, ops

IMAGE = (64, 48)
HEATMAP = (16, 12, 8)
BOUND = 256.0
SCALE = 4.0
BIN = BOUND / HEATMAP[2]


def to_image(mu, heatmap=HEATMAP, image=IMAGE, bound=BOUND, dtype=np.float32):
    """Heatmap-space centres ``(..., 3)`` to image keypoints."""
    mu = np.asarray(mu, np.float64)
    width, height, depth = heatmap
    return np.stack([mu[..., 0] * image[0] / width, mu[..., 1] * image[1] / height,
                     (mu[..., 2] / depth - 0.5) * bound], -1).astype(dtype)


def sample_centres(seed, num_instances=2, num_keypoints=5, spill=3.0):
    """Random centres on a 1/64 grid, some beyond the volume, plus fixed
    cases: integer and half-voxel centres, and a keypoint outside in x."""
    rng = np.random.default_rng(seed)
    lo = -spill
    mu = np.stack([rng.uniform(lo, size - 1 + spill, (num_instances, num_keypoints))
                   for size in HEATMAP], -1)
    mu = np.round(mu * 64) / 64
    mu[0, 0] = (5.0, 4.0, 3.0)       # integer voxel
    mu[0, 1] = (6.5, 3.5, 2.5)       # half voxels on every axis
    mu[-1, 2] = (-4.25, 5.0, 4.0)    # outside in x
    vis = rng.choice([1.0, 1.0, 1.0, 0.5, 0.0], size=(num_instances, num_keypoints))
    vis[0, :2] = 1.0
    return mu, vis.astype(np.float32)


# ------------------------------------------------------------------ references
def g5_mmpose_reference(mu, vis, sigma, max_bound=1.0, heatmap=HEATMAP):
    """MMPose's G5 from its definition: every keypoint paints the samples
    ``mu + i - 3σ`` (i = 0 .. ceil(2·3σ + 1) - 1), each rounded half to even
    and clipped to the volume, with the exact Gaussian of the rounded voxel;
    weight = visibility where ``0 <= mu_z < D``."""
    width, height, depth = heatmap
    num_instances, num_keypoints = vis.shape
    heat = np.zeros((num_keypoints, depth, height, width))
    radius = 3 * sigma
    offsets = np.arange(math.ceil(2 * radius + 1)) - radius
    for n in range(num_instances):
        for k in range(num_keypoints):
            mx, my, mz = mu[n, k]
            xs = np.clip(np.rint(mx + offsets), 0, width - 1).astype(int)
            ys = np.clip(np.rint(my + offsets), 0, height - 1).astype(int)
            zs = np.clip(np.rint(mz + offsets), 0, depth - 1).astype(int)
            for z in set(zs.tolist()):
                for y in set(ys.tolist()):
                    for x in set(xs.tolist()):
                        d2 = (x - mx) ** 2 + (y - my) ** 2 + (z - mz) ** 2
                        value = math.exp(-d2 / (2 * sigma**2))
                        heat[k, z, y, x] = max(heat[k, z, y, x], value)
    weights = vis * ((mu[..., 2] >= 0) & (mu[..., 2] < depth))
    return heat * max_bound, weights


def g5_exact_reference(mu, vis, sigma, max_bound=1.0, heatmap=HEATMAP):
    """The exact G5: only visible keypoints whose nearest voxel lies in the
    volume paint, on every voxel within 3σ of the centre per axis."""
    sizes = heatmap
    width, height, depth = heatmap
    num_instances, num_keypoints = vis.shape
    heat = np.zeros((num_keypoints, depth, height, width))
    weights = np.zeros(vis.shape)
    radius = 3 * sigma
    for n in range(num_instances):
        for k in range(num_keypoints):
            centre = mu[n, k]
            inside = all(-0.5 <= c < s - 0.5 for c, s in zip(centre, sizes))
            weights[n, k] = vis[n, k] * inside
            if not (inside and vis[n, k] > 0):
                continue
            axes = [[i for i in range(s) if abs(i - c) <= radius] for c, s in zip(centre, sizes)]
            for z in axes[2]:
                for y in axes[1]:
                    for x in axes[0]:
                        d2 = (x - centre[0]) ** 2 + (y - centre[1]) ** 2 + (z - centre[2]) ** 2
                        heat[k, z, y, x] = max(heat[k, z, y, x], math.exp(-d2 / (2 * sigma**2)))
    return heat * max_bound, weights


def argmax3d_reference(volumes):
    """First maximum in (z, y, x) order; (-1, -1, -1) where it is <= 0."""
    flat = volumes.reshape(-1, *volumes.shape[-3:])
    locs, vals = [], []
    for vol in flat:
        best, where = None, None
        depth, height, width = vol.shape
        for z in range(depth):
            for y in range(height):
                for x in range(width):
                    if best is None or vol[z, y, x] > best:
                        best, where = vol[z, y, x], (x, y, z)
        locs.append(where if best > 0 else (-1, -1, -1))
        vals.append(best)
    shape = volumes.shape[:-3]
    return np.array(locs, np.float64).reshape(*shape, 3), np.array(vals).reshape(shape)


def render(kp, vis, sigma, compat, **kwargs):
    return ops.render_gaussian_heatmaps_3d(
        kp, vis, HEATMAP, IMAGE, sigma, depth_bound=BOUND, mmpose_compat=compat, **kwargs)


def render_jit(kp, vis, sigma, compat, **kwargs):
    return jax.jit(lambda k, v: render(k, v, sigma, compat, **kwargs))(kp, vis)


# ---------------------------------------------------------------- rendering
@pytest.mark.parametrize("compat", [True, False], ids=["compat", "exact"])
def test_render_matches_reference(compat):
    """σ = 1.5 has half-voxel offsets, 1.2 an asymmetric window (3.6 below
    the centre, 4.4 above); σ is traced here (one compile for all)."""
    fn = jax.jit(lambda k, v, s: render(k, v, s, compat, max_bound=255.0))
    width, height, depth = HEATMAP
    for sigma in (2.0, 1.5, 1.2, 0.7):
        mu, vis = sample_centres(int(sigma * 10))
        heatmaps, weights = fn(to_image(mu), vis, sigma)
        reference = g5_mmpose_reference if compat else g5_exact_reference
        want_heat, want_weights = reference(mu, vis, sigma, max_bound=255.0)
        assert heatmaps.shape == (5 * depth, height, width) and heatmaps.dtype == jnp.float32
        np.testing.assert_allclose(np.asarray(heatmaps).reshape(want_heat.shape), want_heat,
                                   rtol=1e-5, atol=255 * 1e-6, err_msg=f"sigma={sigma}")
        np.testing.assert_array_equal(np.asarray(weights), want_weights)


@pytest.mark.parametrize("depth", [12, 7, 48])
def test_depths_on_bin_boundaries_paint_as_numpy_rounds(depth):
    """Depths whose bin ``(z / bound + 0.5) * D`` lies on or next to whole
    and half voxels, for ``D`` not a power of two: the float32 product is
    not exact, and MMPose rounds it before adding the float32 window
    offsets ``i - 3σ`` (σ = 1.5 and 7/6: offsets on half and whole voxels,
    so the samples meet ties, rounded half to even). A fused multiply-add
    would round once and paint other depth slices."""
    f32 = np.float32
    quarter = np.arange(0, 4 * depth + 1) / 4.0
    z = ((quarter / depth - 0.5) * BOUND).astype(f32)
    kp = np.stack([np.full_like(z, 8.0), np.full_like(z, 8.0), z], -1)[None]  # (1, P, 3)
    vis = np.ones(kp.shape[:2], np.float32)
    mu_z = (z / f32(BOUND) + f32(0.5)) * f32(depth)  # NumPy float32: each step rounded
    for sigma in (1.5, 7 / 6):
        radius = 3 * sigma
        offsets = (np.arange(math.ceil(2 * radius + 1)) - radius).astype(f32)
        samples = np.clip(np.rint(mu_z[:, None] + offsets[None, :]), 0, depth - 1).astype(int)  # float32 sums
        want = np.zeros((z.size, depth), bool)
        for p, row in enumerate(samples):
            want[p, row] = True
        heatmaps, weights = jax.jit(lambda k, v: ops.render_gaussian_heatmaps_3d(
            k, v, (4, 4, depth), IMAGE, sigma, depth_bound=BOUND, mmpose_compat=True))(kp, vis)
        painted = (np.asarray(heatmaps).reshape(z.size, depth, 4, 4) > 0).any(axis=(2, 3))
        np.testing.assert_array_equal(painted, want, err_msg=f"D={depth} sigma={sigma}: painted depth slices")
        np.testing.assert_array_equal(np.asarray(weights)[0], (mu_z >= 0) & (mu_z < depth))


def test_half_voxel_samples_skip_every_other_voxel():
    """σ = 1.5 has half-integer offsets: around an integer centre MMPose's
    samples all round half to even, so only even voxels are painted and
    the centre voxel stays empty; the exact mode paints it."""
    mu = np.array([[[5.0, 4.0, 3.0]]])
    vis = np.ones((1, 1), np.float32)
    compat, _ = render_jit(to_image(mu), vis, 1.5, True)
    exact, _ = render_jit(to_image(mu), vis, 1.5, False)
    compat = np.asarray(compat).reshape(HEATMAP[2], HEATMAP[1], HEATMAP[0])
    exact = np.asarray(exact).reshape(compat.shape)
    painted_x = np.nonzero(compat.max(axis=(0, 1)))[0]
    np.testing.assert_array_equal(painted_x, [0, 2, 4, 6, 8, 10])
    assert compat[3, 4, 5] == 0 and exact[3, 4, 5] == 1.0
    # MMPose's first maximum is then a whole voxel off on every axis.
    loc, _ = ops.heatmap_argmax_3d(compat[None])
    np.testing.assert_array_equal(np.asarray(loc), [[4, 4, 2]])


def test_render_joint_indices_and_weights():
    """Selection applies to keypoints, visibility and dataset weights (MMPose
    fails to broadcast the latter: the evident answer is returned)."""
    mu, vis = sample_centres(3)
    kp = to_image(mu)
    joint_weights = np.array([0.5, 1.5, 2.0, 0.25, 1.0], np.float32)
    indices = (4, 0, 2)
    for compat, reference in ((True, g5_mmpose_reference), (False, g5_exact_reference)):
        heatmaps, weights = jax.jit(lambda k, v, w: render(
            k, v, 2.0, compat, joint_indices=indices, dataset_keypoint_weights=w))(kp, vis, joint_weights)
        want_heat, want_weights = reference(mu[:, indices], vis[:, indices], 2.0)
        np.testing.assert_allclose(np.asarray(heatmaps).reshape(want_heat.shape), want_heat,
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(weights), want_weights * joint_weights[list(indices)],
                                   rtol=1e-6)


def test_render_sigma_zero_is_a_unit_impulse():
    """MMPose divides 0 by 0 here (NaN); policy 6: a unit impulse at the
    keypoint's voxel, nothing for a keypoint off the volume."""
    mu = np.array([[[5.0, 4.0, 3.0], [2.25, 7.75, 1.5], [-3.0, 4.0, 3.0]]])
    vis = np.ones((1, 3), np.float32)
    for compat, nearest in ((True, np.rint), (False, lambda m: np.floor(m + 0.5))):
        heatmaps, _ = render_jit(to_image(mu), vis, 0.0, compat)
        volumes = np.asarray(heatmaps).reshape(3, HEATMAP[2], HEATMAP[1], HEATMAP[0])
        assert np.isfinite(volumes).all()
        np.testing.assert_array_equal(volumes.reshape(3, -1).sum(-1), [1.0, 1.0, 0.0])
        for k in range(2):
            x, y, z = nearest(mu[0, k]).astype(int)
            assert volumes[k, z, y, x] == 1.0


@pytest.mark.parametrize("compat", [True, False], ids=["compat", "exact"])
def test_render_gradients(compat):
    """The Gaussian is differentiable w.r.t. the keypoints and σ (the window
    is piecewise constant; centres sit away from its jumps)."""
    with jax.enable_x64(True):
        heatmap = (8, 8, 8)
        image = (32, 32)
        mu = np.array([[[3.2, 4.7, 2.3], [5.3, 2.2, 4.8]]])
        kp = jnp.asarray(to_image(mu, heatmap, image, BOUND, np.float64))
        vis = jnp.ones((1, 2), jnp.float64)

        @jax.jit
        def heat(keypoints, sigma):
            return ops.render_gaussian_heatmaps_3d(
                keypoints, vis, heatmap, image, sigma, depth_bound=BOUND, max_bound=2.0,
                mmpose_compat=compat, dtype=jnp.float64)[0]

        sigma = jnp.asarray(1.3, jnp.float64)
        # The full Jacobians are checked against finite differences in
        # test_gradients.py; here one analytic value: d/dx of the peak-voxel value is -(X - mu_x)/σ² · value / scale.
        grad = jax.grad(lambda k: heat(k, sigma).reshape(2, 8, 8, 8)[0, 2, 5, 3])(kp)
        value = 2.0 * math.exp(-((3 - 3.2) ** 2 + (5 - 4.7) ** 2 + (2 - 2.3) ** 2) / (2 * 1.3**2))
        assert float(grad[0, 0, 0]) == pytest.approx((3 - 3.2) / 1.3**2 * value * 8 / 32, rel=1e-9)


# ------------------------------------------------------------------- maxima
def test_argmax_3d_matches_reference(variant):
    rng = np.random.default_rng(0)
    volumes = rng.integers(0, 4, (2, 4, 5, 6, 7)).astype(np.float32)  # many ties
    volumes[0, 1] = -rng.uniform(0.1, 1.0, volumes.shape[2:])          # max < 0
    volumes[1, 2] = 0.0                                                # max == 0
    volumes[1, 3] = rng.uniform(0, 1, volumes.shape[2:])
    locations, values = variant(ops.heatmap_argmax_3d)(volumes)
    want_loc, want_val = argmax3d_reference(volumes)
    np.testing.assert_array_equal(np.asarray(locations), want_loc)
    np.testing.assert_array_equal(np.asarray(values), want_val)
    # vmap over the leading axis gives the same.
    loc_v, val_v = jax.vmap(ops.heatmap_argmax_3d)(volumes)
    np.testing.assert_array_equal(np.asarray(loc_v), want_loc)
    np.testing.assert_array_equal(np.asarray(val_v), want_val)


def test_argmax_3d_ranks_nan_as_infinity(variant):
    """NaN ranks as +inf in every plane, as the 2-D argmax ranks it: a later
    plane's NaN beats an earlier plane's larger finite maximum; +inf before it
    ties and wins; a plane with both infinities is ranked by its +inf."""
    volumes = np.zeros((3, 4, 3, 5), np.float32)
    volumes[0, 0, 1, 1], volumes[0, 2, 2, 3] = 9.0, np.nan
    volumes[1, 1, 0, 4], volumes[1, 3, 0, 0] = np.inf, np.nan
    volumes[2, 1, 2, 2], volumes[2, 1, 1, 1], volumes[2, 0, 0, 0] = np.inf, -np.inf, 5.0
    locations, values = variant(ops.heatmap_argmax_3d)(volumes)
    np.testing.assert_array_equal(np.asarray(locations), [[3, 2, 2], [4, 0, 1], [2, 2, 1]])
    np.testing.assert_array_equal(np.asarray(values), [np.nan, np.inf, np.inf])


# -------------------------------------------------------------------- codec
def make_codec(compat=True, **kwargs):
    config = dict(image_size=IMAGE, heatmap_size=HEATMAP, heatmap3d_depth_bound=BOUND,
                  root_depth_bound=300.0, heatmap_size_root=16, root_heatmap_size=16,
                  depth_size=HEATMAP[2], sigma=2.0)
    config.update(kwargs)
    return build({"type": "Hand3DHeatmap", **config, "mmpose_compat": compat})


def annotations(seed):
    rng = np.random.default_rng(seed)
    return dict(
        dataset_keypoint_weights=rng.uniform(0.5, 1.5, 5).astype(np.float32),
        rel_root_depth=np.float32(rng.uniform(-100, 100)),
        rel_root_valid=np.float32(1.0),
        hand_type=np.array([[0, 1]], np.int32),
        hand_type_valid=np.ones(1, np.float32),
        focal=np.full(2, 1000.0, np.float32),
        principal_pt=np.full(2, 120.0, np.float32),
    )


@pytest.mark.parametrize("compat", [True, False], ids=["compat", "exact"])
def test_encode_targets(compat, variant):
    codec = make_codec(compat, use_different_joint_weights=True, max_bound=255.0)
    mu, vis = sample_centres(7)
    kp = to_image(mu)
    ann = annotations(7)
    enc = variant(codec.encode)(kp, vis, **ann)
    reference = g5_mmpose_reference if compat else g5_exact_reference
    want_heat, want_weights = reference(mu, vis, 2.0, max_bound=255.0)
    np.testing.assert_allclose(np.asarray(enc["heatmaps"]), want_heat.reshape(-1, 12, 16),
                               rtol=1e-5, atol=255e-6)
    np.testing.assert_allclose(np.asarray(enc["keypoint_weights"]),
                               want_weights * ann["dataset_keypoint_weights"], rtol=1e-6)
    root = (float(ann["rel_root_depth"]) / 300.0 + 0.5) * 16
    np.testing.assert_allclose(np.asarray(enc["root_depth"]), [root], rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(enc["root_depth_weight"]), [1.0])
    np.testing.assert_array_equal(np.asarray(enc["type"]), [[0.0, 1.0]])
    np.testing.assert_array_equal(np.asarray(enc["type_weight"]), [1.0])


def test_root_depth_weight_bounds_and_defaults():
    """``0 <= root_depth <= heatmap_size_root`` (inclusive above, as MMPose);
    missing annotations encode zeros with weight 0."""
    codec = make_codec()
    kp = to_image(np.array([[[5.0, 4.0, 3.0]]]))
    encode = jax.jit(codec.encode)
    for rel, weight in ((150.0, 1.0), (150.5, 0.0), (-150.0, 1.0), (-151.0, 0.0)):
        enc = encode(kp, None, None, np.float32(rel), np.float32(1.0))
        assert float(enc["root_depth_weight"][0]) == weight, rel
    enc = jax.jit(codec.encode)(kp)
    np.testing.assert_array_equal(np.asarray(enc["root_depth"]), [8.0])
    for key, want in (("root_depth_weight", [0.0]), ("type", [[0.0, 0.0]]), ("type_weight", [0.0])):
        np.testing.assert_array_equal(np.asarray(enc[key]), want)
    # 2-D keypoints are read as zero relative depth: the middle depth bin.
    flat = jax.jit(codec.encode)(kp[..., :2])
    mid = to_image(np.array([[[5.0, 4.0, HEATMAP[2] / 2]]]))
    np.testing.assert_array_equal(np.asarray(flat["heatmaps"]),
                                  np.asarray(jax.jit(codec.encode)(mid)["heatmaps"]))


def test_decode_constants_per_mode():
    """compat decodes depth with ``depth_size`` and the root with
    ``root_heatmap_size`` (MMPose); exact with the encode constants."""
    kwargs = dict(depth_size=32, root_heatmap_size=40, heatmap_size_root=16)
    volumes = np.zeros((2, 8, 12, 16), np.float32)
    volumes[0, 5, 7, 9] = 0.75
    volumes[1] = -1.0
    root = np.array([12.0], np.float32)
    logits = np.array([[0.3, -0.2]], np.float32)
    for compat, depth, root_size in ((True, 32, 40), (False, 8, 16)):
        kp, scores, rel_root, hand = jax.jit(make_codec(compat, **kwargs).decode)(volumes, root, logits)
        np.testing.assert_allclose(np.asarray(kp), [[[9 * SCALE, 7 * SCALE, (5 / depth - 0.5) * BOUND],
                                                     [-SCALE, -SCALE, (-1 / depth - 0.5) * BOUND]]],
                                   rtol=1e-6)
        np.testing.assert_array_equal(np.asarray(scores), [[0.75, -1.0]])
        np.testing.assert_allclose(np.asarray(rel_root), [(12 / root_size - 0.5) * 300.0], rtol=1e-6)
        np.testing.assert_array_equal(np.asarray(hand), [[1, 0]])
        assert hand.dtype == jnp.int32
    # compat also takes volumes with depth_size bins; exact does not.
    jax.jit(make_codec(True, **kwargs).decode)(np.zeros((2, 32, 12, 16), np.float32), root, logits)
    with pytest.raises(ValueError, match="heatmaps"):
        jax.jit(make_codec(False, **kwargs).decode)(np.zeros((2, 32, 12, 16), np.float32), root, logits)


def voxel_coordinate(size):
    """Hypothesis strategy: a heatmap-space centre on one axis whose nearest
    voxel lies in the volume, ``[-0.5, size - 0.5)``, on the 1/64 grid that
    keeps every conversion exact. A third of the draws are the ends (the
    half-voxel edge of the volume and the last value before the next one), a
    third voxel centres and half voxels (the ties between two voxels), a
    third any grid value."""
    ends = [-0.5, size - 0.5 - 1 / 64]
    grid = [k / 2 for k in range(-1, 2 * size - 1)]
    return st.one_of(st.sampled_from(ends), st.sampled_from(grid),
                     st.integers(-32, 64 * size - 33).map(lambda i: i / 64))


@settings(max_examples=200)
@given(mu=st.lists(st.tuples(*(voxel_coordinate(size) for size in HEATMAP)), min_size=5, max_size=5),
       sigma=st.sampled_from([0.5, 1.0, 1.5, 2.0, 2.5]))
def test_exact_round_trip_within_half_a_voxel(mu, sigma):
    """Exact mode, visible keypoints whose nearest voxel lies in the volume,
    up to its faces and on the half-voxel ties: decode(encode(kp)) is within
    half a voxel per axis, i.e. 0.5 * 4 = 2 px in x and y and 0.5 * 256 / 8
    = 16 depth units in z (plus 1e-4 for float32 near-ties). sigma is a
    pytree leaf, so every example shares one compilation."""
    kp = to_image(np.array(mu)[None])
    vis = np.ones((1, 5), np.float32)
    codec = make_codec(False, sigma=sigma)
    decoded, scores, _, _ = _round_trip(codec, kp, vis)
    error = np.abs(np.asarray(decoded, np.float64) - kp)[0]
    assert (error[:, :2] <= 0.5 * SCALE + 1e-4).all(), error
    assert (error[:, 2] <= 0.5 * BIN + 1e-4).all(), error
    assert (np.asarray(scores) > 0).all()


@jax.jit
def _round_trip(codec, kp, vis):
    return codec.round_trip(kp, vis)


def test_compat_round_trip_is_off_when_constants_differ():
    """MMPose's decode divides by depth_size: with depth_size = 2 D every
    decoded depth is pulled halfway to -bound/2 (z' = z/2 - bound/4);
    the exact mode recovers the bin."""
    mu = np.array([[[5.0, 4.0, 6.0], [9.0, 2.0, 1.0]]])
    kp = to_image(mu)
    for compat in (True, False):
        codec = make_codec(compat, depth_size=16)
        decoded = np.asarray(jax.jit(codec.round_trip)(kp, np.ones((1, 2), np.float32))[0])
        want_z = (mu[0, :, 2] / (16 if compat else 8) - 0.5) * BOUND
        np.testing.assert_allclose(decoded[0, :, 2], want_z, rtol=1e-6)
        np.testing.assert_allclose(decoded[0, :, :2], mu[0, :, :2] * SCALE, rtol=1e-6)


def test_batch_equals_loop():
    codec = make_codec(False, use_different_joint_weights=True, joint_indices=(0, 3, 4))
    samples = []
    for seed in range(3):
        mu, vis = sample_centres(seed)
        samples.append(((to_image(mu), vis), annotations(seed)))
    args = [np.stack(x) for x in zip(*[s[0] for s in samples])]
    kwargs = {k: np.stack([s[1][k] for s in samples]) for k in samples[0][1]}
    batched = jax.jit(codec.batch_encode)(*args, **kwargs)
    encode = jax.jit(codec.encode)
    looped = [encode(*a, **k) for a, k in samples]
    for key in batched:
        np.testing.assert_allclose(np.asarray(batched[key]), np.stack([np.asarray(e[key]) for e in looped]),
                                   rtol=1e-6, atol=1e-7)
    inputs = [batched[key] for key in codec.decode_input_keys]
    dec_batched = jax.jit(codec.batch_decode)(*inputs)
    decode = jax.jit(codec.decode)
    dec_looped = [decode(*[e[key] for key in codec.decode_input_keys]) for e in looped]
    for i, out in enumerate(dec_batched):
        np.testing.assert_allclose(np.asarray(out), np.stack([np.asarray(d[i]) for d in dec_looped]),
                                   rtol=1e-6, atol=1e-7)
    assert dec_batched[0].shape == (3, 1, 3, 3)


def test_never_nan():
    """σ = 0 encodes a finite impulse; all-zero and negative volumes decode
    to finite -1 locations (converted) with their maxima as scores."""
    codec = make_codec(sigma=0.0)
    enc = jax.jit(codec.encode)(to_image(np.array([[[5.0, 4.0, 3.0]]])))
    assert np.isfinite(np.asarray(enc["heatmaps"])).all()
    assert float(np.asarray(enc["heatmaps"]).max()) == 1.0
    volumes = np.zeros((2, 8, 12, 16), np.float32)
    volumes[1] = -0.5
    kp, scores, _, _ = jax.jit(codec.decode)(volumes, np.zeros(1), np.zeros((1, 2)))
    assert np.isfinite(np.asarray(kp)).all()
    np.testing.assert_allclose(np.asarray(kp)[0, :, :2], -SCALE)
    np.testing.assert_array_equal(np.asarray(scores), [[0.0, -0.5]])


def test_bad_input_raises_value_error():
    """At trace time (under jit), naming the argument."""
    codec = make_codec(use_different_joint_weights=True)
    encode, decode = jax.jit(codec.encode), jax.jit(codec.decode)
    kp = to_image(np.array([[[5.0, 4.0, 3.0]]]))
    weights = np.ones(1, np.float32)
    with pytest.raises(ValueError, match="keypoints"):
        encode(kp[0], None, weights)
    with pytest.raises(ValueError, match="keypoints"):
        encode(np.zeros((1, 1, 4), np.float32), None, weights)
    with pytest.raises(ValueError, match="keypoints_visible"):
        encode(kp, np.ones((1, 2), np.float32), weights)
    with pytest.raises(ValueError, match="dataset_keypoint_weights"):
        encode(kp)
    with pytest.raises(ValueError, match="dataset_keypoint_weights"):
        encode(kp, None, np.ones(3, np.float32))
    with pytest.raises(ValueError, match="rel_root_depth"):
        encode(kp, None, weights, np.zeros(2, np.float32))
    root, logits = np.zeros(1), np.zeros((1, 2))
    for shape in [(2, 8, 12, 15), (2, 7, 12, 16), (17, 12, 16), (8, 12), (1, 2, 8, 12, 16)]:
        with pytest.raises(ValueError, match="heatmaps"):
            decode(np.zeros(shape, np.float32), root, logits)
    with pytest.raises(ValueError, match="joint_indices"):
        jax.jit(make_codec(joint_indices=(0, 5)).encode)(kp)
    with pytest.raises(ValueError, match="heatmap_size"):
        Hand3DHeatmap(IMAGE, 16, (16, 12))
    with pytest.raises(ValueError, match="sigma"):
        Hand3DHeatmap(sigma=-1.0)
    with pytest.raises(ValueError, match="heatmap3d_depth_bound"):
        Hand3DHeatmap(heatmap3d_depth_bound=0.0)
    with pytest.raises(TypeError, match="joint_indices"):
        Hand3DHeatmap(joint_indices=("a",))


def test_constructor_follows_mmpose():
    """MMPose's positional order and defaults; integer hyper-parameters from
    MMPose configs (``max_bound=255``) become float leaves."""
    codec = Hand3DHeatmap([256, 256], 64, [64, 64, 64], 400, 64, 400, 64, False, 2, None, 255)
    assert codec == Hand3DHeatmap(max_bound=255.0)
    assert isinstance(codec.max_bound, float) and isinstance(codec.sigma, float)
    assert codec.heatmap_size == (64, 64, 64) and codec.joint_indices is None
    np.testing.assert_array_equal(codec.scale_factor, np.float32([4, 4]))
    assert codec.input_size == codec.image_size == (256, 256)
    leaves = jax.tree_util.tree_leaves(codec)
    assert len(leaves) == 4  # depth bound, root depth bound, sigma, max_bound
