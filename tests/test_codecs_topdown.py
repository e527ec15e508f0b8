"""MSRAHeatmap, UDPHeatmap and MegviiHeatmap beyond the golden vectors.

* encode / decode against MMPose's pipelines recomposed from the NumPy
  references of conftest (G1/G2/G3/G4 renderers, B0/B1 blurs, M1, R1/R2/R3),
  jitted and un-jitted (``chex.variants``), in both ``mmpose_compat`` modes;
* round-trip accuracy of ``mmpose_compat=False`` on keypoints drawn by
  hypothesis right up to each documented region's edge (the DARK margin
  itself, the map's border pixels) and on the half-pixel ties, with the
  bounds stated per test;
* UDP's documented ``w / (w - 1)`` scale bias in compat mode;
* gradients through ``encode``; the never-NaN policies; bad input; dtypes
  (bfloat16 decode against the float64 pipeline on the same values).

Geometry used throughout: input 192x256, heatmaps 48x64 (MSRA / Megvii
scale 4, UDP scale 191/47 x 255/63), σ = 2, blur kernel 11.
"""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from absl.testing import parameterized
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxcodecs import MegviiHeatmap, MSRAHeatmap, UDPHeatmap

INPUT = (192, 256)
HEATMAP = (48, 64)
NPREF = None  # filled by the autouse fixture below for chex.TestCase classes


@pytest.fixture(autouse=True, scope="module")
def _install_npref(npref):
    global NPREF
    NPREF = npref


def sample_keypoints(seed, scale, num=4, spill=8.0, edges=True):
    """(1, K, 2) input-pixel keypoints (K = 17 by default): ``num`` random ones over the map and up to
    ``spill`` heatmap px beyond it, plus hand-made edge values in heatmap px
    (negative, half pixels, window just touching / missing the map)."""
    rng = np.random.default_rng(seed)
    width, height = HEATMAP
    rand = np.stack([rng.uniform(-spill, width - 1 + spill, num),
                     rng.uniform(-spill, height - 1 + spill, num)], -1)
    edge_points = np.array([[-0.5, 10.0], [-0.6, 20.0], [-1.5, 30.0], [10.0, -0.4], [-6.5, 12.0],
                      [-7.6, 13.0], [width - 0.5, 15.0], [width + 5.5, 16.0], [20.0, height + 6.75],
                      [0.0, 0.0], [width - 1.0, height - 1.0], [1.0, 1.0], [2.49, 2.5]])
    kp_hm = np.concatenate([rand, edge_points]) if edges else rand
    kp = (kp_hm * np.asarray(scale, np.float64))[None].astype(np.float32)
    vis = rng.choice([1.0, 1.0, 1.0, 0.8, 0.4, 0.0], size=kp.shape[:2]).astype(np.float32)
    return kp, vis


def to_heatmap(kp, scale):
    """Input to heatmap px, in float32 as MMPose divides."""
    return np.asarray(kp, np.float32) / np.asarray(scale, np.float32)


def noisy(heatmaps, seed, amount=0.02):
    """Heatmaps as a model might predict them: perturbed, with an all-zero,
    an all-negative and a noise-only channel."""
    rng = np.random.default_rng(seed)
    hm = np.array(heatmaps, np.float32)
    hm = hm + amount * rng.uniform(0, 1, hm.shape).astype(np.float32) * hm.max()
    hm[0] = 0.0
    hm[1] = -rng.uniform(0.1, 1.0, hm.shape[1:])
    hm[2] = rng.uniform(0, 1, hm.shape[1:])
    return hm


def assert_refined_close(actual, expected, unrefined, atol):
    """Blur-refined keypoints: absolute ``atol`` plus 1e-3 of the refinement
    offset. On noise-only channels the Hessian is near singular and the
    offset (tens of px) amplifies float32 vs float64 rounding, as the
    conformance notes explain."""
    actual = np.asarray(actual, np.float64)
    np.testing.assert_allclose(actual - unrefined, expected - unrefined, rtol=1e-3, atol=atol)


# ----------------------------------------------------------- MMPose pipelines
def ref_msra_decode(codec, hm):
    """Returns (keypoints, scores, unrefined keypoints), in input px."""
    locs, vals = NPREF.argmax(hm)
    kp = locs[None]
    if codec.unbiased and not codec.mmpose_compat:
        kp = NPREF.refine_dark_to_border(kp, hm, codec.blur_kernel_size, float(codec.sigma))
    elif codec.unbiased:
        kp = NPREF.refine_dark(kp, hm, codec.blur_kernel_size)
    else:
        kp = NPREF.refine_quarter(kp, hm, codec.mmpose_compat)
    scale = np.asarray(codec.scale_factor, np.float64)
    return kp * scale, vals[None], locs[None] * scale


def ref_udp_decode(codec, hm):
    width, height = HEATMAP
    if codec.heatmap_type == "gaussian":
        locs, vals = NPREF.argmax(hm)
        if codec.mmpose_compat:
            kp = NPREF.refine_dark_udp(locs[None], hm, codec.blur_kernel_size)
        else:
            kp = NPREF.refine_dark_to_border(locs[None], hm, codec.blur_kernel_size, float(codec.sigma), udp=True)
        base = locs[None]
    else:
        classes = NPREF.blur2d(hm[0::3], 2 * codec.blur_kernel_size + 1)
        locs, vals = NPREF.argmax(classes)
        radius = codec.radius_factor * max(width, height)
        kp = locs.copy()
        for k, (x, y) in enumerate(locs.astype(int)):
            if vals[k] > 0:
                kp[k] += (hm[3 * k + 1, y, x] * radius, hm[3 * k + 2, y, x] * radius)
        kp = kp[None]
        base = kp
    if codec.mmpose_compat:
        scale = np.array(INPUT, np.float64) / (np.array(HEATMAP) - 1)
    else:
        scale = (np.array(INPUT, np.float64) - 1) / (np.array(HEATMAP) - 1)
    return kp * scale, vals[None], base * scale


def ref_megvii_encode(codec, kp, vis):
    width, height = HEATMAP
    scaled = to_heatmap(kp[0], codec.scale_factor).astype(np.float64)
    pixel = np.trunc(scaled) if codec.mmpose_compat else np.floor(scaled)
    heat = np.zeros((kp.shape[1], height, width))
    weights = vis.astype(np.float64).copy()
    for k, (px, py) in enumerate(pixel.astype(int)):
        if vis[0, k] < 0.5:
            continue
        if not (0 <= px < width and 0 <= py < height):
            weights[0, k] = 0
            continue
        impulse = np.zeros((height, width))
        impulse[py, px] = 1.0
        blurred = NPREF.blur2d(impulse, codec.kernel_size)
        heat[k] = blurred / blurred[py, px] * 255
    return heat, weights


def ref_megvii_decode(codec, hm):
    blurred = NPREF.blur_rescaled(hm, codec.kernel_size)
    locs, vals = NPREF.argmax(blurred)
    kp = NPREF.refine_megvii(locs[None], blurred)
    return kp * np.asarray(codec.scale_factor, np.float64), (vals / 255 + 0.5)[None]


# ------------------------------------------------------------- parity tests
class MSRAHeatmapTest(chex.TestCase):

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.parameters(
        *[dict(sigma=s, mmpose_compat=m, unbiased=False) for s in (2.0, 1.7, 1.5) for m in (True, False)],
        dict(sigma=1.7, mmpose_compat=True, unbiased=True),   # G2 ignores the mode
    )
    def test_encode(self, sigma, mmpose_compat, unbiased):
        codec = MSRAHeatmap(INPUT, HEATMAP, sigma, unbiased=unbiased, mmpose_compat=mmpose_compat)
        kp, vis = sample_keypoints(int(sigma * 10), codec.scale_factor)
        enc = self.variant(codec.encode)(kp, vis)
        kp_hm = to_heatmap(kp, codec.scale_factor)
        if unbiased:
            ref = NPREF.g2(kp_hm, vis, HEATMAP, sigma)
        elif mmpose_compat:
            ref = NPREF.g1_mmpose(kp_hm, vis, HEATMAP, sigma)
        else:
            ref = NPREF.g1_exact(kp_hm, vis, HEATMAP, sigma)
        self.assertEqual(enc["heatmaps"].shape, (kp.shape[1], 64, 48))
        self.assertEqual(enc["heatmaps"].dtype, jnp.float32)
        np.testing.assert_allclose(enc["heatmaps"], ref[0], atol=1e-6)
        np.testing.assert_array_equal(enc["keypoint_weights"], ref[1].astype(np.float32))

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.product(mmpose_compat=(True, False), unbiased=(False, True))
    def test_decode(self, mmpose_compat, unbiased):
        codec = MSRAHeatmap(INPUT, HEATMAP, 2.0, unbiased=unbiased, mmpose_compat=mmpose_compat)
        kp, _ = sample_keypoints(3, codec.scale_factor, spill=0.0)
        hm = noisy(NPREF.g2(to_heatmap(kp, codec.scale_factor), np.ones(kp.shape[:2]), HEATMAP, 2.0)[0], 4)
        keypoints, scores = self.variant(codec.decode)(hm)
        ref_kp, ref_scores, unrefined = ref_msra_decode(codec, hm)
        self.assertEqual(keypoints.shape, (1, kp.shape[1], 2))
        assert_refined_close(keypoints, ref_kp, unrefined, atol=1e-3 if unbiased else 1e-5)
        np.testing.assert_array_equal(scores, ref_scores.astype(np.float32))
        # The all-zero and all-negative channels decode to -scale (policy 5).
        np.testing.assert_array_equal(keypoints[0, :2], -np.broadcast_to(codec.scale_factor, (2, 2)))


class UDPHeatmapTest(chex.TestCase):

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.product(sigma=(2.0, 1.7, 1.5), mmpose_compat=(True, False))
    def test_encode_gaussian(self, sigma, mmpose_compat):
        codec = UDPHeatmap(INPUT, HEATMAP, "gaussian", sigma, mmpose_compat=mmpose_compat)
        kp, vis = sample_keypoints(int(sigma * 10) + 1, codec.scale_factor)
        enc = self.variant(codec.encode)(kp, vis)
        kp_hm = to_heatmap(kp, codec.scale_factor)
        ref = (NPREF.g3_mmpose if mmpose_compat else NPREF.g3_exact)(kp_hm, vis, HEATMAP, sigma)
        np.testing.assert_allclose(enc["heatmaps"], ref[0], atol=2e-6)
        np.testing.assert_array_equal(enc["keypoint_weights"], ref[1].astype(np.float32))

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.product(radius_factor=(0.0546875, 0.1), mmpose_compat=(True, False))
    def test_encode_combined(self, radius_factor, mmpose_compat):
        codec = UDPHeatmap(INPUT, HEATMAP, "combined", radius_factor=radius_factor,
                           mmpose_compat=mmpose_compat)
        kp, vis = sample_keypoints(7, codec.scale_factor)
        enc = self.variant(codec.encode)(kp, vis)
        ref = NPREF.g4(to_heatmap(kp, codec.scale_factor), vis, HEATMAP, radius_factor)
        self.assertEqual(enc["heatmaps"].shape, (3 * kp.shape[1], 64, 48))
        np.testing.assert_allclose(enc["heatmaps"], ref[0], rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(enc["keypoint_weights"], ref[1])

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.product(heatmap_type=("gaussian", "combined"), mmpose_compat=(True, False))
    def test_decode(self, heatmap_type, mmpose_compat):
        codec = UDPHeatmap(INPUT, HEATMAP, heatmap_type, mmpose_compat=mmpose_compat)
        kp, vis = sample_keypoints(5, codec.scale_factor, spill=0.0)
        enc = UDPHeatmap(INPUT, HEATMAP, heatmap_type, mmpose_compat=False).encode(kp, np.ones_like(vis))
        hm = np.array(enc["heatmaps"])
        if heatmap_type == "gaussian":
            hm = noisy(hm, 6)
        else:  # perturb the class maps only; zero and negative class maps
            rng = np.random.default_rng(6)
            hm[0::3] += 0.05 * rng.uniform(0, 1, hm[0::3].shape)
            hm[0] = 0.0
            hm[3] = -1.0
        keypoints, scores = self.variant(codec.decode)(hm)
        ref_kp, ref_scores, unrefined = ref_udp_decode(codec, hm)
        assert_refined_close(keypoints, ref_kp, unrefined, atol=1e-3)
        np.testing.assert_allclose(scores, ref_scores, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(keypoints[0, 0], -_decode_scale(codec), rtol=1e-6)  # zero channel


class MegviiHeatmapTest(chex.TestCase):

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.product(kernel_size=(11, 7, 9), mmpose_compat=(True, False))
    def test_encode(self, kernel_size, mmpose_compat):
        codec = MegviiHeatmap(INPUT, HEATMAP, kernel_size, mmpose_compat=mmpose_compat)
        kp, vis = sample_keypoints(kernel_size, codec.scale_factor)
        enc = self.variant(codec.encode)(kp, vis)
        ref_heat, ref_weights = ref_megvii_encode(codec, kp, vis)
        np.testing.assert_allclose(enc["heatmaps"], ref_heat, rtol=1e-5, atol=2e-4)
        np.testing.assert_array_equal(enc["keypoint_weights"], ref_weights.astype(np.float32))

    def test_encode_truncates_or_floors_negatives(self):
        """-0.9 heatmap px: MMPose truncates to pixel 0 (inside, weight kept);
        exact mode floors to -1 (outside, weight 0)."""
        kp = np.array([[[-0.9 * 4, 40.0], [40.0, -0.25 * 4]]], np.float32)
        for compat, weight in ((True, 1.0), (False, 0.0)):
            enc = MegviiHeatmap(INPUT, HEATMAP, 11, mmpose_compat=compat).encode(kp)
            np.testing.assert_array_equal(enc["keypoint_weights"], [[weight, weight]])
            self.assertEqual(float(enc["heatmaps"][0, 10, 0]), 255.0 * weight)

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.product(kernel_size=(11, 7), mmpose_compat=(True, False))
    def test_decode(self, kernel_size, mmpose_compat):
        codec = MegviiHeatmap(INPUT, HEATMAP, kernel_size, mmpose_compat=mmpose_compat)
        kp, vis = sample_keypoints(kernel_size + 1, codec.scale_factor, spill=0.0)
        hm = noisy(codec.encode(kp)["heatmaps"], 8)
        keypoints, scores = self.variant(codec.decode)(hm)
        ref_kp, ref_scores = ref_megvii_decode(codec, hm)
        np.testing.assert_allclose(keypoints, ref_kp, atol=1e-4)
        np.testing.assert_allclose(scores, ref_scores, rtol=1e-5)
        # Zero channel: MMPose returns NaN; the port keeps -scale and 0 / 255 + 0.5.
        np.testing.assert_array_equal(keypoints[0, 0], -codec.scale_factor)
        self.assertEqual(float(scores[0, 0]), 0.5)


# ---------------------------------------------------- policies across codecs
ALL_CODECS = [
    ("msra_compat", lambda: MSRAHeatmap(INPUT, HEATMAP, 2.0)),
    ("msra_exact", lambda: MSRAHeatmap(INPUT, HEATMAP, 2.0, mmpose_compat=False)),
    ("dark_compat", lambda: MSRAHeatmap(INPUT, HEATMAP, 2.0, unbiased=True)),
    ("dark_exact", lambda: MSRAHeatmap(INPUT, HEATMAP, 2.0, unbiased=True, mmpose_compat=False)),
    ("udp_compat", lambda: UDPHeatmap(INPUT, HEATMAP)),
    ("udp_exact", lambda: UDPHeatmap(INPUT, HEATMAP, mmpose_compat=False)),
    ("combined_compat", lambda: UDPHeatmap(INPUT, HEATMAP, "combined")),
    ("combined_exact", lambda: UDPHeatmap(INPUT, HEATMAP, "combined", mmpose_compat=False)),
    ("megvii_compat", lambda: MegviiHeatmap(INPUT, HEATMAP, 11)),
    ("megvii_exact", lambda: MegviiHeatmap(INPUT, HEATMAP, 11, mmpose_compat=False)),
]


def _decode_scale(codec):
    if isinstance(codec, UDPHeatmap) and codec.mmpose_compat:
        return np.array(INPUT, np.float32) / (np.array(HEATMAP, np.float32) - 1)
    return np.asarray(codec.scale_factor)


@pytest.mark.parametrize("name,make", ALL_CODECS[1::2], ids=[n for n, _ in ALL_CODECS[1::2]])
def test_all_zero_heatmaps_decode_finite(name, make):
    """Policy 6 / 5: every channel zero -> keypoints -1 x scale, scores 0
    (Megvii: 0 / 255 + 0.5), nothing NaN or Inf. (The decode parity tests
    above check a zero and a negative channel for every codec and mode,
    jitted and un-jitted.)"""
    codec = make()
    channels = 3 * 4 if getattr(codec, "heatmap_type", "") == "combined" else 4
    keypoints, scores = jax.jit(codec.decode)(jnp.zeros((channels, 64, 48)))
    keypoints, scores = np.asarray(keypoints), np.asarray(scores)
    assert keypoints.shape == (1, 4, 2) and scores.shape == (1, 4)
    assert np.isfinite(keypoints).all() and np.isfinite(scores).all()
    np.testing.assert_allclose(keypoints, -np.broadcast_to(_decode_scale(codec), (1, 4, 2)), rtol=1e-6)
    np.testing.assert_array_equal(scores, 0.5 if isinstance(codec, MegviiHeatmap) else 0.0)


@pytest.mark.parametrize("name,make", ALL_CODECS[::2], ids=[n for n, _ in ALL_CODECS[::2]])
def test_missing_visibility_means_all_visible(name, make):
    """``keypoints_visible=None`` equals ones (MMPose's Megvii crashes)."""
    codec = make()
    kp, _ = sample_keypoints(9, np.asarray(codec.scale_factor), num=6, spill=0.0, edges=False)
    encode = jax.jit(codec.encode)
    with_none = encode(kp)
    with_ones = encode(kp, np.ones(kp.shape[:2], np.float32))
    chex.assert_trees_all_equal(with_none, with_ones)
    np.testing.assert_array_equal(with_none["keypoint_weights"], 1.0)


@pytest.mark.parametrize("unbiased", [False, True])
def test_sigma_zero_codec(unbiased):
    """σ = 0 renders unit impulses at the rounded keypoint; decoding them is
    finite and, without DARK, exactly the pixel times the scale."""
    codec = MSRAHeatmap(INPUT, HEATMAP, 0.0, unbiased=unbiased, mmpose_compat=False)
    kp = np.array([[[41.0, 81.0], [100.2, 30.6]]], np.float32)  # heatmap px (10.25, 20.25), (25.05, 7.65)
    enc = jax.jit(codec.encode)(kp)
    hm = np.asarray(enc["heatmaps"])
    assert np.isfinite(hm).all()
    np.testing.assert_array_equal(hm.sum(axis=(1, 2)), 1.0)
    assert hm[0, 20, 10] == 1.0 and hm[1, 8, 25] == 1.0
    keypoints, scores = jax.jit(codec.decode)(hm)
    assert np.isfinite(np.asarray(keypoints)).all()
    np.testing.assert_array_equal(scores, 1.0)
    if not unbiased:
        np.testing.assert_array_equal(keypoints, [[[40.0, 80.0], [100.0, 32.0]]])


# ----------------------------------------------------------- round trips
@functools.lru_cache(maxsize=None)
def _round_trip(kind, mmpose_compat=False, sigma=2.0):
    if kind == "msra":
        codec = MSRAHeatmap(INPUT, HEATMAP, sigma, mmpose_compat=mmpose_compat)
    elif kind == "dark":
        codec = MSRAHeatmap(INPUT, HEATMAP, sigma, unbiased=True, mmpose_compat=mmpose_compat)
    elif kind == "megvii":
        codec = MegviiHeatmap(INPUT, HEATMAP, 11, mmpose_compat=mmpose_compat)
    else:
        codec = UDPHeatmap(INPUT, HEATMAP, kind, sigma, mmpose_compat=mmpose_compat)
    return codec, jax.jit(codec.round_trip)


def interior_keypoints(unit, scale, margin):
    """Maps unit points to input px whose heatmap position lies at least
    ``margin`` heatmap px from every border."""
    width, height = HEATMAP
    lo = np.array([margin, margin], np.float64)
    hi = np.array([width - 1 - margin, height - 1 - margin], np.float64)
    kp_hm = lo + unit * (hi - lo)
    return (kp_hm * np.asarray(scale, np.float64))[None].astype(np.float32)


def coordinate(lo, hi, scale, exclude_hi=False):
    """Hypothesis strategy: one float32 input-px coordinate whose heatmap
    position lies in ``[lo, hi]`` heatmap px (``hi`` excluded with
    ``exclude_hi``).

    A third of the draws are the interval's ends (the documented margin
    itself, the first / last pixel), a third the pixel centres and half
    pixels inside it (the ties of ``floor(x + 0.5)`` and ``floor(x)``, which
    uniform random floats essentially never produce), and a third any
    float32 in the interval.
    """
    low = np.float32(lo * scale)
    high = np.float32(hi * scale)
    if exclude_hi:
        high = np.nextafter(high, np.float32(-np.inf))
    grid = np.float32(np.arange(np.ceil(2 * lo), np.floor(2 * hi) + 1) / 2 * scale)
    grid = [float(v) for v in grid if low <= v <= high]
    return st.one_of(st.sampled_from([float(low), float(high)]), st.sampled_from(grid),
                     st.floats(float(low), float(high), width=32))


def keypoints_in(x_range, y_range, scale, num=17, exclude_hi=False):
    """Hypothesis strategy: ``(1, num, 2)`` float32 input-px keypoints whose
    heatmap position lies in ``x_range`` x ``y_range`` (heatmap px)."""
    scale = np.asarray(scale, np.float64)
    point = st.tuples(coordinate(*x_range, scale[0], exclude_hi),
                      coordinate(*y_range, scale[1], exclude_hi))
    return st.lists(point, min_size=num, max_size=num).map(lambda p: np.array(p, np.float32)[None])


WIDTH, HEIGHT = HEATMAP
MSRA_SCALE = np.array(INPUT, np.float64) / np.array(HEATMAP, np.float64)  # (4, 4)
UDP_SCALE = (np.array(INPUT, np.float64) - 1) / (np.array(HEATMAP, np.float64) - 1)
DARK_MARGIN = 5  # the blur radius, blur_kernel_size // 2 (README, docs/parity.md)
# Inside the margin: [5, W - 6] x [5, H - 6] heatmap px, both ends included.
INTERIOR = ((DARK_MARGIN, WIDTH - 1 - DARK_MARGIN), (DARK_MARGIN, HEIGHT - 1 - DARK_MARGIN))
# The whole map, pixel centres: [0, W - 1] x [0, H - 1].
WHOLE_MAP = ((0, WIDTH - 1), (0, HEIGHT - 1))


@settings(max_examples=150)
@given(keypoints_in(*INTERIOR, MSRA_SCALE))
def test_round_trip_dark(kp):
    """MSRAHeatmap(unbiased=True, mmpose_compat=False), keypoints at least 5
    heatmap px (the blur radius) from every border, exactly 5 included:
    max error < 0.02 input px (README) and < 0.01 (measured: 0.0023 over
    8000 random keypoints 5 to 8 px from a border, 0.031 at 4 px: the margin
    is tight)."""
    _, round_trip = _round_trip("dark")
    decoded, scores = round_trip(kp)
    err = np.abs(np.asarray(decoded) - kp).max()
    assert err < 0.02
    assert err < 0.01
    np.testing.assert_allclose(scores, 1.0, atol=0.1)  # the maximum of a sampled unit Gaussian


@settings(max_examples=150)
@given(keypoints_in(*INTERIOR, UDP_SCALE))
def test_round_trip_udp_gaussian(kp):
    """UDPHeatmap('gaussian', mmpose_compat=False), at least 5 heatmap px
    from every border, exactly 5 included: max error < 0.005 input px
    (README; measured 0.0024 over 10000 keypoints 5 to 8 px from a border,
    0.031 at 4 px)."""
    _, round_trip = _round_trip("gaussian")
    err = np.abs(np.asarray(round_trip(kp)[0]) - kp).max()
    assert err < 0.005


@settings(max_examples=150)
@given(keypoints_in(*WHOLE_MAP, UDP_SCALE))
def test_round_trip_udp_combined(kp):
    """UDPHeatmap('combined', mmpose_compat=False) anywhere on the map,
    border pixels and half pixels included: the maximum of the blurred class
    map lies inside the keypoint's disk and the offset read there is exact,
    so the error is float32 rounding: < 1e-3 input px (README; measured
    2e-5)."""
    _, round_trip = _round_trip("combined")
    err = np.abs(np.asarray(round_trip(kp)[0]) - kp).max()
    assert err < 1e-3


@settings(max_examples=150)
@given(keypoints_in((-0.5, WIDTH - 0.5), (-0.5, HEIGHT - 0.5), MSRA_SCALE, exclude_hi=True))
def test_round_trip_msra_plain_is_quantised(kp):
    """MSRAHeatmap(mmpose_compat=False) anywhere on the map: every keypoint
    whose nearest pixel ``mu = floor(kp / s + 0.5)`` lies on the map (heatmap
    x in [-0.5, W - 0.5)), border pixels and the half-pixel ties included.
    Encode centres a symmetric Gaussian on mu; its neighbours are then
    exactly equal, or missing at the border, so the quarter-pixel step is 0
    and decode returns exactly ``mu * s``. Bound: per axis <= 0.5 s = 2
    input px, Euclidean <= 0.5 * sqrt(sx^2 + sy^2) = 2.83 px."""
    _, round_trip = _round_trip("msra")
    scale = MSRA_SCALE.astype(np.float32)
    decoded = np.asarray(round_trip(kp)[0])
    np.testing.assert_array_equal(decoded, np.floor(kp / scale + 0.5) * scale)
    assert np.abs(decoded - kp).max() <= 0.5 * scale.max() + 1e-4
    assert np.linalg.norm(decoded - kp, axis=-1).max() <= 0.5 * np.hypot(*scale) + 1e-4


@settings(max_examples=150)
@given(keypoints_in((0, WIDTH), (0, HEIGHT), MSRA_SCALE, exclude_hi=True))
def test_round_trip_megvii_is_quantised(kp):
    """MegviiHeatmap(mmpose_compat=False) anywhere on the map: every keypoint
    whose pixel p = floor(kp / s) lies on it, the pixel edges (the ties of
    floor) included. Decode moves the maximum by 0.25 px toward the larger
    neighbour and adds 0.5 px only where 1 < x < W - 1 and 1 < y < H - 1
    (MMPose's rule, kept in both modes), so the result always lies on the
    quarter-pixel grid. By the distance d of p to the nearest border (both
    axes):

    * d >= 6 (kernel radius + 1): the encoded impulse response is symmetric
      about p (no reflect-101 fold), the quarter step is 0 and decode returns
      exactly (p + 0.5) * s: per axis error <= 0.5 s = 2 input px;
    * d >= 2: the fold can tip the sign test: <= 0.75 s = 3 px;
    * d = 1: no +0.5 on either axis: < 1 s = 4 px;
    * d = 0: the maximum moves one pixel inward besides: < 2 s = 8 px
      (measured 7.94).
    """
    _, round_trip = _round_trip("megvii")
    scale = MSRA_SCALE.astype(np.float32)
    decoded = np.asarray(round_trip(kp)[0])[0]
    kp = kp[0]
    np.testing.assert_array_equal(decoded * 4 / scale, np.round(decoded * 4 / scale))
    pixel = np.floor(kp / scale)
    distance = np.minimum(pixel, np.array(HEATMAP) - 1 - pixel).min(axis=-1)
    err = np.abs(decoded - kp)
    inner = distance >= 6
    np.testing.assert_array_equal(decoded[inner], (pixel[inner] + 0.5) * scale)
    for d, bound in ((2, 0.75), (1, 1.0), (0, 2.0)):
        assert (err[distance >= d] <= bound * scale.max() + 1e-4).all(), (d, err[distance >= d].max())


def test_udp_compat_scale_bias():
    """Issue 4: MMPose decodes UDP with input / (heatmap - 1) instead of
    (input - 1) / (heatmap - 1). With σ = 2 (integer 3σ, so compat and exact
    encode agree away from the border), the compat round trip is the exact
    one times input / (input - 1) = (192/191, 256/255): a +0.5 % bias
    (about +1 px at the right edge)."""
    codec_c, rt_c = _round_trip("gaussian", True)
    codec_e, rt_e = _round_trip("gaussian", False)
    rng = np.random.default_rng(12)
    kp = interior_keypoints(rng.uniform(size=(40, 2)), codec_e.scale_factor, 7)
    enc_c = jax.jit(codec_c.encode)(kp)
    enc_e = jax.jit(codec_e.encode)(kp)
    np.testing.assert_array_equal(enc_c["heatmaps"], enc_e["heatmaps"])
    compat = np.asarray(rt_c(kp)[0], np.float64)
    exact = np.asarray(rt_e(kp)[0], np.float64)
    ratio = np.array(INPUT, np.float64) / (np.array(INPUT, np.float64) - 1)
    np.testing.assert_allclose(compat, exact * ratio, rtol=2e-6)
    np.testing.assert_allclose(compat / kp, np.broadcast_to(ratio, kp.shape), rtol=2e-4)


def test_udp_compat_one_pixel_shift_for_fractional_three_sigma():
    """Issue 1 through the codec: σ = 1.7 (frac(3σ) = 0.1) draws interior
    Gaussians one heatmap px up-left in compat mode, so the compat round
    trip lands at (kp / s - 1) x compat scale; exact mode has no shift."""
    codec_c, rt_c = _round_trip("gaussian", True, 1.7)
    codec_e, rt_e = _round_trip("gaussian", False, 1.7)
    rng = np.random.default_rng(13)
    kp = interior_keypoints(rng.uniform(size=(30, 2)), codec_e.scale_factor, 7)
    compat_scale = np.array(INPUT, np.float64) / (np.array(HEATMAP) - 1)
    expected = (kp / np.asarray(codec_e.scale_factor, np.float64) - 1) * compat_scale
    np.testing.assert_allclose(rt_c(kp)[0], expected, atol=0.05)
    np.testing.assert_allclose(rt_e(kp)[0], kp, atol=0.05)


# ----------------------------------------------------------------- gradients
def _grad_keypoints(scale):
    # heatmap-px fractional parts in [0.15, 0.35]: a finite-difference step
    # never moves the rounded window centre.
    kp_hm = np.array([[10.2, 12.3], [20.25, 30.15], [30.3, 50.2]])
    return jnp.asarray((kp_hm * np.asarray(scale, np.float64))[None], jnp.float32)


@pytest.mark.parametrize(
    "make",
    [lambda: MSRAHeatmap(INPUT, HEATMAP, 2.0, unbiased=True),
     lambda: UDPHeatmap(INPUT, HEATMAP, mmpose_compat=True),
     lambda: UDPHeatmap(INPUT, HEATMAP, mmpose_compat=False)],
    ids=["dark", "udp_compat", "udp_exact"],
)
def test_encode_gradient_wrt_keypoints(make):
    codec = make()
    kp = _grad_keypoints(codec.scale_factor)
    # Full Jacobians against finite differences: test_gradients.py. Here the
    # analytic value: moving keypoint 0 right raises the pixel right of it,
    # by h (x0 - kx) / σ^2 per heatmap px, i.e. divided by s per input px.
    kx, ky = np.asarray(kp[0, 0]) / np.asarray(codec.scale_factor)
    x0, y0 = 11, 12
    grad = jax.jit(jax.grad(lambda k: codec.encode(k)["heatmaps"][0, y0, x0]))(kp)
    h = np.exp(-((x0 - kx) ** 2 + (y0 - ky) ** 2) / 8.0)
    expected_x = h * (x0 - kx) / 4.0 / float(codec.scale_factor[0])
    np.testing.assert_allclose(grad[0, 0, 0], expected_x, rtol=1e-3)
    assert float(grad[0, 0, 0]) > 0
    np.testing.assert_array_equal(grad[0, 1:], 0.0)


def test_encode_gradient_wrt_sigma_leaf():
    """sigma is a pytree leaf: jax.grad w.r.t. the codec gives d/dσ of the
    summed heatmap, which grows with σ (a wider Gaussian has more mass)."""
    codec = MSRAHeatmap(INPUT, HEATMAP, 2.0, unbiased=True)
    kp = _grad_keypoints(codec.scale_factor)

    def mass(c):
        return c.encode(kp)["heatmaps"].sum()

    grad_codec = jax.jit(jax.grad(mass))(codec)
    assert isinstance(grad_codec, MSRAHeatmap)
    # Interior Gaussians: mass ~ 2π σ^2 per keypoint, d/dσ ~ 4π σ per keypoint.
    np.testing.assert_allclose(grad_codec.sigma, 3 * 4 * np.pi * 2.0, rtol=1e-3)
    step = 1e-2
    fd = (mass(codec.replace(sigma=2.0 + step)) - mass(codec.replace(sigma=2.0 - step))) / (2 * step)
    np.testing.assert_allclose(grad_codec.sigma, fd, rtol=1e-3)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("name,make", ALL_CODECS[::2], ids=[n for n, _ in ALL_CODECS[::2]])
def test_bad_input_raises_naming_the_argument(name, make):
    codec = make()
    channels = 3 if getattr(codec, "heatmap_type", "") == "combined" else 1
    kp = np.zeros((1, 5, 2), np.float32)
    with pytest.raises(ValueError, match="keypoints"):
        codec.encode(np.zeros((2, 5, 2), np.float32))            # two instances
    with pytest.raises(ValueError, match="keypoints_visible"):
        codec.encode(kp, np.ones((1, 4), np.float32))            # K mismatch
    with pytest.raises(ValueError, match="keypoints_visible"):
        codec.encode(kp, np.ones((5,), np.float32))              # rank
    with pytest.raises(ValueError, match="keypoints"):
        codec.encode(np.zeros((5, 2), np.float32))               # rank
    with pytest.raises(ValueError, match="keypoints"):
        codec.encode(np.zeros((1, 5, 1), np.float32))            # D < 2
    with pytest.raises(ValueError, match="encoded"):
        codec.decode(np.zeros((5 * channels, 63, 48), np.float32))  # wrong H
    with pytest.raises(ValueError, match="encoded"):
        codec.decode(np.zeros((5 * channels, 64, 64), np.float32))  # wrong W (transposed sizes)
    with pytest.raises(ValueError, match="encoded"):
        codec.decode(np.zeros((64, 48), np.float32))              # rank
    with pytest.raises(ValueError, match="encoded"):
        jax.jit(codec.decode)(np.zeros((5 * channels, 65, 48), np.float32))  # at trace time
    with pytest.raises(TypeError, match="keypoints"):
        codec.encode(np.zeros((1, 5, 2), np.complex64))


def test_bad_configuration_raises():
    with pytest.raises(ValueError, match="heatmap_type"):
        UDPHeatmap(INPUT, HEATMAP, heatmap_type="offset")
    with pytest.raises(ValueError, match="blur_kernel_size"):
        MSRAHeatmap(INPUT, HEATMAP, 2.0, unbiased=True, blur_kernel_size=10)
    with pytest.raises(ValueError, match="blur_kernel_size"):
        UDPHeatmap(INPUT, HEATMAP, blur_kernel_size=4)
    with pytest.raises(ValueError, match="kernel_size"):
        MegviiHeatmap(INPUT, HEATMAP, 8)
    with pytest.raises(TypeError, match="kernel_size"):
        MegviiHeatmap(INPUT, HEATMAP, 11.0)
    with pytest.raises(ValueError, match="sigma"):
        MSRAHeatmap(INPUT, HEATMAP, -1.0)
    with pytest.raises(ValueError, match="sigma"):
        UDPHeatmap(INPUT, HEATMAP, sigma=float("nan"))
    with pytest.raises(ValueError, match="input_size"):
        MSRAHeatmap((192,), HEATMAP, 2.0)
    with pytest.raises(ValueError, match="heatmap_size"):
        MSRAHeatmap(INPUT, (48.5, 64), 2.0)
    with pytest.raises(TypeError, match="mmpose_compat"):
        MSRAHeatmap(INPUT, HEATMAP, 2.0, mmpose_compat="yes")
    with pytest.raises(ValueError, match="dtype"):
        MSRAHeatmap(INPUT, HEATMAP, 2.0, dtype=jnp.int32)
    with pytest.raises(TypeError, match="positional"):
        UDPHeatmap(INPUT, HEATMAP, "gaussian", 2.0, 0.05, 11, True)  # mmpose_compat is keyword-only


def test_combined_decode_needs_channels_multiple_of_three():
    codec = UDPHeatmap(INPUT, HEATMAP, "combined")
    with pytest.raises(ValueError, match="multiple of 3"):
        codec.decode(np.zeros((17, 64, 48), np.float32))


# --------------------------------------------------------------------- dtypes
BF16_CODECS = [ALL_CODECS[i] for i in (0, 3, 4, 6, 8)]


@pytest.mark.parametrize("name,make", BF16_CODECS, ids=[n for n, _ in BF16_CODECS])
def test_bfloat16_heatmaps(name, make):
    codec = make()
    codec_bf16 = codec.replace(dtype=np.dtype(jnp.bfloat16))
    kp, vis = sample_keypoints(14, np.asarray(codec.scale_factor), num=6, spill=0.0)
    enc = jax.jit(codec.encode)(kp, vis)
    enc_bf16 = jax.jit(codec_bf16.encode)(kp, vis)
    assert enc_bf16["heatmaps"].dtype == jnp.bfloat16
    ref = np.asarray(enc["heatmaps"])
    np.testing.assert_allclose(np.asarray(enc_bf16["heatmaps"], np.float32), ref,
                               atol=np.abs(ref).max() * 2**-8)
    np.testing.assert_array_equal(enc_bf16["keypoint_weights"], enc["keypoint_weights"])
    # Decode of the bf16 maps against the float64 NumPy pipeline of MMPose
    # run on the same (exactly widened) values.
    keypoints, scores = jax.jit(codec_bf16.decode)(enc_bf16["heatmaps"])
    hm = np.asarray(enc_bf16["heatmaps"], np.float64)
    if isinstance(codec, MegviiHeatmap):
        ref_kp, ref_scores = ref_megvii_decode(codec, hm)
    elif isinstance(codec, UDPHeatmap):
        ref_kp, ref_scores, _ = ref_udp_decode(codec, hm)
    else:
        ref_kp, ref_scores, _ = ref_msra_decode(codec, hm)
    kp_atol, score_rtol = bf16_decode_tolerance(codec)
    scale = _decode_scale(codec).astype(np.float64)
    assert keypoints.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(keypoints, np.float64) / scale, ref_kp / scale,
                               rtol=1e-6, atol=kp_atol)
    np.testing.assert_allclose(np.asarray(scores, np.float64), ref_scores, rtol=score_rtol)


def bf16_decode_tolerance(codec):
    """(keypoint atol in heatmap px, score rtol) of a decode of bfloat16
    heatmaps against the float64 pipeline on the same values. The decoders
    work in the maps' dtype, so bf16 rounding (8-bit significand) enters
    wherever a value is computed from the maps:

    * the maximum and its location are exact: plain MSRA (quarter step = the
      sign of a difference of two bf16 values) matches exactly, and the
      scores of MSRA and UDP-gaussian (a value of the map) too;
    * DARK and UDP's Newton step on bf16 blurred log maps, and UDP-combined's
      pixel + offset summed in bf16 (spacing 0.25 px from 32 px on): within
      0.25 heatmap px (measured 0.15, 0.18, 0.13 over 850 keypoints);
    * Megvii's quarter step on near-tied bf16 blurred neighbours can take
      either sign: within 0.5 px (measured 0.25);
    * scores read from a map blurred in bf16 (Megvii, UDP-combined's 23-tap
      class blur): within 2^-5 relative (measured 0.005 and 0.019).
    """
    if isinstance(codec, MegviiHeatmap):
        return 0.5, 2.0**-5
    if isinstance(codec, UDPHeatmap):
        return 0.25, (2.0**-5 if codec.heatmap_type == "combined" else 0.0)
    return (0.25 if codec.unbiased else 0.0), 0.0


@pytest.mark.parametrize("name,make", ALL_CODECS[1::2], ids=[n for n, _ in ALL_CODECS[1::2]])
def test_integer_keypoints_accepted(name, make):
    codec = make()
    kp = np.array([[[40, 80], [100, 30], [7, 250]]], np.int32)
    encode = jax.jit(codec.encode)
    chex.assert_trees_all_close(encode(kp, np.ones((1, 3), np.int32)),
                                encode(kp.astype(np.float32), np.ones((1, 3), np.float32)))


X64_CODECS = [ALL_CODECS[i] for i in (2, 5, 6, 9)]  # every family, both modes


@pytest.mark.parametrize("name,make", X64_CODECS, ids=[n for n, _ in X64_CODECS])
def test_enable_x64(name, make):
    """With jax_enable_x64 the codecs still work; float64 in gives the same
    values as float32 in (to float32 precision)."""
    codec = make()
    kp, vis = sample_keypoints(15, np.asarray(codec.scale_factor), num=8, spill=0.0, edges=False)
    enc32 = jax.jit(codec.encode)(kp, vis)
    dec32 = jax.jit(codec.decode)(enc32["heatmaps"])
    with jax.enable_x64(True):
        enc64 = jax.jit(codec.encode)(kp.astype(np.float64), vis.astype(np.float64))
        dec64 = jax.jit(codec.decode)(enc64["heatmaps"])
        enc64, dec64 = jax.device_get((enc64, dec64))
    np.testing.assert_allclose(enc64["heatmaps"], enc32["heatmaps"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dec64[0], dec32[0], atol=1e-2)
    np.testing.assert_allclose(dec64[1], dec32[1], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("compat", [True, False])
@pytest.mark.parametrize("make", [
    lambda compat: MSRAHeatmap((192, 256), (48, 64), sigma=2.0, unbiased=True, mmpose_compat=compat),
    lambda compat: UDPHeatmap((192, 256), (48, 64), sigma=2.0, mmpose_compat=compat),
], ids=["msra-dark", "udp-gaussian"])
def test_refining_decoders_take_empty_input(make, compat):
    # No keypoints (K = 0) and no samples (B = 0): empty outputs of the
    # documented shapes in both modes (the exact mode's Gaussian fit once
    # failed to reshape its zero windows), eagerly and jitted.
    codec = make(compat)
    for decode in (codec.decode, jax.jit(codec.decode)):
        keypoints, scores = decode(np.zeros((0, 64, 48), np.float32))
        assert keypoints.shape == (1, 0, 2) and scores.shape == (1, 0)
    keypoints, scores = codec.batch_decode(np.zeros((0, 17, 64, 48), np.float32))
    assert keypoints.shape == (0, 1, 17, 2) and scores.shape == (0, 1, 17)
