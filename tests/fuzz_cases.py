"""The per-codec table of the property fuzzing in ``test_fuzz.py``.

Every registered codec (``jaxcodecs.list_codecs()``) has an entry in
:data:`FUZZ`; ``test_fuzz.py`` fails for a registered codec without one, so
a new codec adds its entry here and gets every property. An entry holds:

* ``cases``: a few configurations, each with **fixed shapes** (the draws
  vary values only, so every configuration compiles once per test module)
  and what the properties need to know about it:

  - ``draw(d, wide)``: the ``encode`` arguments of one sample, drawn with
    ``d`` (hypothesis's ``data.draw``). ``wide=True`` widens the values to
    any finite number the codec takes (:meth:`Values.any_finite`), for the
    finiteness property; otherwise they are the values training data
    holds, the map's border, half-pixel ties and far-away points included;
  - ``owners``: for each encoded key whose entries belong to keypoints, the
    axis and how many consecutive entries belong to one keypoint
    (:class:`Owns`); every other encoded key belongs to no keypoint;
  - ``invisible(args, k)``: the same arguments with keypoint ``k``
    invisible, and ``zeroed``: the encoded keys whose entries of an
    invisible keypoint are zero (its weight, and its map where the codec
    paints only visible keypoints);
  - ``decode_args(codec, args, encoded)``: the positional arguments of
    ``decode`` (and, given a batch, of ``batch_decode``), for a codec whose
    decode reads arrays that encode does not make (AssociativeEmbedding's
    tag maps, painted from the drawn keypoints; its ``decode_input_keys`` is
    empty); by default the encoded ``decode_input_keys``;
  - ``decode_kwargs(args, encoded)``: keyword arguments of ``decode``
    beyond the encoded ``decode_input_keys`` (MotionBERT's image size), and
    ``decode_scale(decode_args, decode_kwargs)``, the magnitude of decode's
    intermediate values where they exceed its output's (float32 rounding is
    relative to them), and ``encode_condition(args)``, the factor by which
    encode amplifies float32 rounding where it subtracts nearly equal
    values (MotionBERT's projected width); ``decode_magnitude``, the largest
    value of the arbitrary arrays the finiteness property decodes (1e30 for
    maps; 1e20 for the lifting codecs' poses, as for their coordinates).

* ``round_trip``: ``(data) -> None``, asserting decode(encode(x)) within the
  codec's documented bound (README, docs/parity.md, the codec's docstring)
  on keypoints drawn in the documented region;
* ``shifts``: for the encoders that draw maps, their configurations in the
  exact mode whose translation equivariance is checked (:class:`Shift`);
  empty for the others.

Sizes are small where the property stays meaningful (a 16x12 heatmap), and
the round trips use the configurations whose bounds are documented.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import strategies as st

from jaxcodecs import (
    AssociativeEmbedding,
    DecoupledHeatmap,
    EDPoseLabel,
    Hand3DHeatmap,
    ImagePoseLifting,
    IntegralRegressionLabel,
    MegviiHeatmap,
    MotionBERTLabel,
    MSRAHeatmap,
    RegressionLabel,
    SimCCLabel,
    SPR,
    UDPHeatmap,
    VideoPoseLifting,
    YOLOXPoseAnnotationProcessor,
)

K = 5  # keypoints of every sample
FRAMES = 3  # frames (instances) of the lifting codecs' samples

F32_MAX = float(np.finfo(np.float32).max)
#: XLA on CPU flushes denormal results to zero: a value below the smallest
#: normal float32 may come back as 0.
FLUSHED = float(np.finfo(np.float32).tiny)
EXTREMES = np.array([-F32_MAX, F32_MAX, -FLUSHED, FLUSHED, 1e-45, -1e-45, 0.0, -1e6, 1e6], np.float32)


def f32(x: float) -> float:
    return float(np.float32(x))


_JITTED: dict = {}


def jitted(codec, method: str):
    """``jax.jit(codec.<method>)``, one wrapper per configuration (keyed by
    the codec's type and ``repr``, which spells out every field and its
    type), so that the properties of test_fuzz (``compiled``) and the round
    trips here share the compilations of equal codecs. A codec holding an
    array gets a wrapper of its own (an array's repr rounds its values)."""
    text = repr(codec)
    if "array(" in text or "..." in text:
        return jax.jit(getattr(codec, method))
    key = (type(codec), text, method)
    if key not in _JITTED:
        _JITTED[key] = jax.jit(getattr(codec, method))
    return _JITTED[key]


# ------------------------------------------------------------- values
# Hypothesis draws a seed and a style per sample; NumPy draws the values
# from them. Drawing each of the up to a hundred numbers of a sample through
# hypothesis costs about 0.1 ms apiece, which 200 examples of every property
# of every codec cannot afford on a 2-core CI. The styles weight the kinds of
# values (on the map, on the pixel and half-pixel grid the rounding rules
# decide ties on, around the map, far away); a failing example prints its
# seed and style, which regenerate it.
STYLES = {  # probabilities of: on the input, map grid, around the input, +-1e6
    "typical": (0.7, 0.2, 0.1, 0.0),
    "grid": (0.1, 0.8, 0.1, 0.0),
    "outside": (0.2, 0.1, 0.5, 0.2),
    "mixed": (0.4, 0.3, 0.2, 0.1),
}


class Values:
    """The value generator of one sample: ``Values(d)`` draws its seed and
    style with ``d`` (hypothesis's ``data.draw``)."""

    def __init__(self, d):
        self.style = d(st.sampled_from(sorted(STYLES)), label="style")
        self.rng = np.random.default_rng(d(st.integers(0, 2**32 - 1), label="seed"))

    def _kinds(self, shape, wide):
        p = np.array(STYLES[self.style])
        if wide:  # 20% float32 extremes, 20% any finite float32
            p = np.concatenate([0.6 * p, [0.2, 0.2]])
        return self.rng.choice(len(p), size=shape, p=p)

    def any_finite(self, shape):
        """Float32 values from random bit patterns: every finite float32 is
        possible (denormals, +-3.4e38); the few non-finite ones become 0."""
        bits = self.rng.integers(0, 2**32, size=shape, dtype=np.uint64).astype(np.uint32)
        values = bits.view(np.float32)
        return np.where(np.isfinite(values), values, np.float32(0))

    def points(self, sizes, scales, lead, wide=False):
        """``lead + (len(sizes),)`` float32 input coordinates; axis ``i``
        spans ``sizes[i]`` input units, ``sizes[i] / scales[i]`` map px: on
        the input, on the map's pixel centres and half pixels (from a pixel
        before the first to one after the last), around the input, a
        million units away; with ``wide`` also float32 extremes and any
        finite float32."""
        out = np.empty((*lead, len(sizes)), np.float32)
        for axis, (size, scale) in enumerate(zip(sizes, scales)):
            cells = int(round(size / scale))
            kinds = self._kinds(lead, wide)
            choices = [
                self.rng.uniform(-0.5, size - 0.5, lead),
                self.rng.integers(-2, 2 * cells + 1, lead) / 2 * scale,
                self.rng.uniform(-size, 2 * size, lead),
                self.rng.choice([-1e6, 1e6], lead),
            ]
            if wide:
                choices += [self.rng.choice(EXTREMES, lead), self.any_finite(lead)]
            out[..., axis] = np.choose(kinds, [np.asarray(c, np.float32) for c in choices])
        return out

    def visibility(self, shape, wide=False):
        """MMPose's 0 / 1 / 2 flags and scores around the 0.5 threshold; with
        ``wide`` a third are any finite float32 (negative, huge, denormal)."""
        values = self.rng.choice(np.array([0.0, 0.3, 0.5, 0.8, 1.0, 2.0], np.float32), shape)
        if wide:
            values = np.where(self.rng.uniform(size=shape) < 0.3, self.any_finite(shape), values)
        return values.astype(np.float32)

    def uniform(self, lo, hi, shape=()):
        return np.asarray(self.rng.uniform(lo, hi, shape), np.float32)

    def choice(self, values, shape=()):
        return np.asarray(self.rng.choice(values, shape), np.float32)

    def region(self, lo, hi, scale, shape, exclude_hi=False):
        """Input coordinates whose map position lies in ``[lo, hi]`` map px
        (``hi`` excluded with ``exclude_hi``): the ends themselves, pixel
        centres and half pixels inside, anything in between; times
        ``scale``, in float32."""
        high = hi - 1 / 64 if exclude_hi else hi
        grid = self.rng.integers(int(np.ceil(2 * lo)), int(np.floor(2 * high)) + 1, shape) / 2
        choices = [self.rng.choice([lo, high], shape), grid, self.rng.uniform(lo, high, shape)]
        kinds = self.rng.choice(3, size=shape, p=(0.2, 0.4, 0.4))
        return (np.choose(kinds, choices) * scale).astype(np.float32)


# ------------------------------------------------------------- the table
@dataclasses.dataclass(frozen=True)
class Owns:
    """Keypoint ``k`` owns entries ``[group * p, group * (p + 1))`` on
    ``axis`` of an encoded array, ``p = position(codec, k)``; ``position``
    returns None when the key holds nothing of keypoint ``k`` (a removed
    root joint, a keypoint not in ``joint_indices``)."""

    axis: int
    group: Callable[[Any], int] | int = 1
    position: Callable[[Any, int], int | None] = lambda codec, k: k
    # The entries repeat every ``period`` entries along ``axis`` (one block
    # per instance row: DecoupledHeatmap's instance heatmaps); None: once.
    period: int | None = None

    def mask(self, codec, shape: tuple[int, ...], k: int) -> np.ndarray:
        """Boolean mask of the entries of keypoint ``k`` in an array of ``shape``."""
        mask = np.zeros(shape, bool)
        p = self.position(codec, k)
        if p is None:
            return mask
        group = self.group(codec) if callable(self.group) else self.group
        index = [slice(None)] * len(shape)
        if self.period is None:
            index[self.axis] = slice(group * p, group * (p + 1))
            mask[tuple(index)] = True
            return mask
        for start in range(0, shape[self.axis], self.period):
            index[self.axis] = slice(start + group * p, start + group * (p + 1))
            mask[tuple(index)] = True
        return mask


def _no_kwargs(args, encoded):
    return {}


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    make: Callable[[], Any]
    draw: Callable[[Callable, bool], tuple]
    owners: Mapping[str, Owns]
    zeroed: tuple[str, ...]
    invisible: Callable[[tuple, int], tuple]
    decode_kwargs: Callable[[tuple, dict], dict] = _no_kwargs
    # The magnitude of the intermediate values of decode where it exceeds
    # that of its output (a root-relative difference of large values).
    decode_scale: Callable[[list, dict], float] | None = None
    # The condition number of encode where float32 rounding is amplified
    # (a difference of nearly equal projections); 1 by default.
    encode_condition: Callable[[tuple], float] | None = None
    # The largest magnitude of the arrays the finiteness property decodes.
    decode_magnitude: float = 1e30
    # ``(codec, args, encoded) -> [decode arguments]`` for a decoder that
    # reads arrays encode does not make (AssociativeEmbedding's tag maps);
    # None: the encoded ``decode_input_keys``.
    decode_args: Callable[[Any, tuple, dict], list] | None = None


@dataclasses.dataclass(frozen=True)
class Shift:
    """Translation equivariance of an exact-mode encoder.

    ``make()`` builds the codec; its keypoints ``(1, K, D)`` are drawn on a
    grid of ``1 / 16`` map px at least ``margin`` map px from every border
    (before and after the shift), shifted by whole map pixels ``n`` (one
    integer per coordinate, ``|n| <= max_shift``), i.e. by ``n * scale``
    input units, with every product exact in float32. ``maps(encoded)``
    returns the arrays that move, each with its spatial axes as the last
    ones and a function of the shift giving the per-axis shift of those
    axes (x, y... in array order); the keypoint weights must not change.
    """

    make: Callable[[], Any]
    map_size: tuple[int, ...]  # map px per coordinate (x, y[, z])
    scale: tuple[float, ...]  # input units per map px, per coordinate
    margin: int
    maps: Callable[[dict], list]
    offset: tuple[float, ...] | None = None  # input = map * scale + offset (0 by default)
    extra_args: Callable[[np.ndarray], tuple] = lambda kp: (np.ones(kp.shape[:2], np.float32),)
    max_shift: int = 3


@dataclasses.dataclass(frozen=True)
class Entry:
    cases: tuple[Case, ...]
    round_trip: Callable[[Any], None]
    shifts: tuple[Shift, ...] = ()


FUZZ: dict[str, Entry] = {}


# -------------------------------------------------- helpers for the entries
def _vis_off(args, k, positions=(1,)):
    """``args`` with column ``k`` of the visibility arrays at ``positions`` set to 0."""
    args = list(args)
    for i in positions:
        vis = np.array(args[i], np.float32)
        vis[..., k] = 0.0
        args[i] = vis
    return tuple(args)


def pose_case(id, make, input_size, scale, instances=1, owners=None, zeroed=()):
    """A codec that encodes ``keypoints (N, K, 2)`` and ``keypoints_visible (N, K)``."""
    def draw(d, wide):
        v = Values(d)
        return v.points(input_size, scale, (instances, K), wide), v.visibility((instances, K), wide)

    return Case(id, make, draw, owners or {}, zeroed, _vis_off)


def mixed_keypoints(v, regions):
    """``(1, K, len(regions))`` keypoints and visibility for a round trip,
    and the mask of those the bound applies to: most lie in the region
    (``regions[i] = (lo, hi, scale, exclude_hi)`` per coordinate) and are
    visible; the others are invisible, or visible and far off the map, and
    must not disturb the decoding of the former."""
    kp = np.stack([v.region(lo, hi, scale, (1, K), excl) for lo, hi, scale, excl in regions], -1)
    kinds = v.rng.choice(3, size=K, p=(0.6, 0.2, 0.2))  # in, invisible, off
    off = v.choice([-1e6, -40.0, 1e6], (K, len(regions)))
    kp[0, kinds == 2] = off[kinds == 2]
    vis = np.where(kinds == 1, 0.0, v.choice([0.5, 1.0, 2.0], K))[None].astype(np.float32)
    return kp, vis, kinds == 0


def _maps_2d(key):
    """The trailing ``(H, W)`` of ``encoded[key]`` shift by ``(ny, nx)``."""
    return lambda enc: [(np.asarray(enc[key]), lambda n: (n[1], n[0]))]


# ------------------------------------------------------- top-down heatmaps
SMALL_INPUT, SMALL_MAP = (64, 48), (16, 12)  # scale 4 x 4
UDP_SMALL_INPUT = (61, 45)  # (61 - 1) / (16 - 1) = (45 - 1) / (12 - 1) = 4
SHIFT_INPUT, SHIFT_MAP = (128, 96), (32, 24)  # scale 4: shifts are exact in float32
UDP_SHIFT_INPUT = (125, 93)  # (125 - 1) / 31 = (93 - 1) / 23 = 4
README_SIZES = dict(input_size=(192, 256), heatmap_size=(48, 64))  # the documented geometry
README_W, README_H = 48, 64
MSRA_SCALE = (4.0, 4.0)
UDP_SCALE = (191 / 47, 255 / 63)

HEATMAP_OWNERS = {"heatmaps": Owns(0), "keypoint_weights": Owns(1)}
HEATMAP_ZEROED = ("heatmaps", "keypoint_weights")


@functools.lru_cache(maxsize=None)
def readme_round_trip(kind):
    """The exact-mode codec of the README's accuracy table and its jitted round trip."""
    codec = {
        "plain": lambda: MSRAHeatmap(**README_SIZES, sigma=2.0, mmpose_compat=False),
        "dark": lambda: MSRAHeatmap(**README_SIZES, sigma=2.0, unbiased=True, mmpose_compat=False),
        "gaussian": lambda: UDPHeatmap(**README_SIZES, mmpose_compat=False),
        "combined": lambda: UDPHeatmap(**README_SIZES, heatmap_type="combined", mmpose_compat=False),
        "megvii": lambda: MegviiHeatmap(**README_SIZES, kernel_size=11, mmpose_compat=False),
    }[kind]()
    return codec, jax.jit(codec.round_trip)


def _decoded(kind, kp, vis):
    _, round_trip = readme_round_trip(kind)
    return np.asarray(round_trip(kp, vis)[0], np.float64)[0]


def round_trip_msra(data):
    """Exact mode, README geometry (192x256 input, 48x64 maps, σ 2), with
    other keypoints invisible or far off the map in the same sample:

    * plain: quantised, ``decode = floor(kp / s + 0.5) * s`` for every
      keypoint whose nearest pixel lies on the map (README: at most half a
      heatmap pixel per axis anywhere on the map);
    * DARK: within 0.02 input px at >= 5 heatmap px (the blur radius) from
      every border (README)."""
    v = Values(data.draw)
    if data.draw(st.booleans(), label="plain"):
        kp, vis, check = mixed_keypoints(v, [(-0.5, README_W - 0.5, 4.0, True), (-0.5, README_H - 0.5, 4.0, True)])
        pixel = np.floor(kp[0] / np.float32(4.0) + np.float32(0.5))
        on_map = (pixel >= 0).all(-1) & (pixel < [README_W, README_H]).all(-1)
        check &= on_map
        decoded = _decoded("plain", kp, vis)
        np.testing.assert_array_equal(decoded[check], (pixel * 4.0)[check])
        assert (np.abs(decoded - kp[0])[check] <= 2.0 + 1e-4).all()
    else:
        kp, vis, check = mixed_keypoints(v, [(5, README_W - 6, 4.0, False), (5, README_H - 6, 4.0, False)])
        err = np.abs(_decoded("dark", kp, vis) - kp[0])[check]
        assert (err < 0.02).all(), err.max()


def round_trip_udp(data):
    """Exact mode, README geometry, other keypoints invisible or off the map:
    gaussian within 0.005 input px at >= 5 heatmap px from every border;
    combined within 1e-3 px anywhere on the map (pixel centres 0 .. W - 1,
    half pixels included) (README)."""
    combined = data.draw(st.booleans(), label="combined")
    m = 0 if combined else 5
    kp, vis, check = mixed_keypoints(Values(data.draw), [(m, README_W - 1 - m, UDP_SCALE[0], False),
                                                         (m, README_H - 1 - m, UDP_SCALE[1], False)])
    err = np.abs(_decoded("combined" if combined else "gaussian", kp, vis) - kp[0])[check]
    assert (err < (1e-3 if combined else 0.005)).all(), err.max()


def round_trip_megvii(data):
    """Exact mode, README geometry, kernel 11, other keypoints invisible or
    off the map. For a keypoint whose pixel ``p = floor(kp / s)`` lies on
    the map, by its distance ``d`` to the nearest border (README): exactly
    the pixel's centre ``(p + 0.5) s`` at ``d >= 6``, within 0.75 px of map
    at ``d >= 2``, 1 px at ``d >= 1``, 2 px on the border pixel; always on
    the quarter-pixel grid."""
    kp, vis, check = mixed_keypoints(Values(data.draw), [(0, README_W, 4.0, True), (0, README_H, 4.0, True)])
    pixel = np.floor(kp[0] / np.float32(4.0))
    on_map = (pixel >= 0).all(-1) & (pixel < [README_W, README_H]).all(-1)
    check &= on_map
    decoded = _decoded("megvii", kp, vis)
    np.testing.assert_array_equal(decoded[check], np.round(decoded[check]))  # quarter map px = 1 input px
    distance = np.minimum(pixel, np.array([README_W, README_H]) - 1 - pixel).min(-1)
    err = np.abs(decoded - kp[0]).max(-1)
    inner = check & (distance >= 6)
    np.testing.assert_array_equal(decoded[inner], ((pixel + 0.5) * 4.0)[inner])
    for dist, bound in ((2, 0.75), (1, 1.0), (0, 2.0)):
        assert (err[check & (distance >= dist)] <= bound * 4.0 + 1e-4).all()


MSRA = Entry(
    cases=(
        pose_case("plain-compat-sigma1.5", lambda: MSRAHeatmap(SMALL_INPUT, SMALL_MAP, 1.5),
                  SMALL_INPUT, MSRA_SCALE, owners=HEATMAP_OWNERS, zeroed=HEATMAP_ZEROED),
        pose_case("dark-exact", lambda: MSRAHeatmap(SMALL_INPUT, SMALL_MAP, 2.0, unbiased=True,
                                                    blur_kernel_size=5, mmpose_compat=False),
                  SMALL_INPUT, MSRA_SCALE, owners=HEATMAP_OWNERS, zeroed=HEATMAP_ZEROED),
    ),
    round_trip=round_trip_msra,
    shifts=(
        Shift(lambda: MSRAHeatmap(SHIFT_INPUT, SHIFT_MAP, 1.5, mmpose_compat=False),
              SHIFT_MAP, MSRA_SCALE, margin=6, maps=_maps_2d("heatmaps")),
        Shift(lambda: MSRAHeatmap(SHIFT_INPUT, SHIFT_MAP, 2.0, unbiased=True, mmpose_compat=False),
              SHIFT_MAP, MSRA_SCALE, margin=1, maps=_maps_2d("heatmaps")),
    ),
)

UDP = Entry(
    cases=(
        pose_case("gaussian-compat-sigma1.5", lambda: UDPHeatmap(UDP_SMALL_INPUT, SMALL_MAP, sigma=1.5),
                  UDP_SMALL_INPUT, MSRA_SCALE, owners=HEATMAP_OWNERS, zeroed=HEATMAP_ZEROED),
        pose_case("combined-exact", lambda: UDPHeatmap(UDP_SMALL_INPUT, SMALL_MAP, "combined",
                                                       radius_factor=0.15, blur_kernel_size=3,
                                                       mmpose_compat=False),
                  UDP_SMALL_INPUT, MSRA_SCALE, owners={"heatmaps": Owns(0, 3), "keypoint_weights": Owns(1)},
                  zeroed=HEATMAP_ZEROED),
    ),
    round_trip=round_trip_udp,
    shifts=(
        Shift(lambda: UDPHeatmap(UDP_SHIFT_INPUT, SHIFT_MAP, sigma=1.5, mmpose_compat=False),
              SHIFT_MAP, MSRA_SCALE, margin=6, maps=_maps_2d("heatmaps")),
        Shift(lambda: UDPHeatmap(UDP_SHIFT_INPUT, SHIFT_MAP, "combined", radius_factor=0.1,
                                 mmpose_compat=False),
              SHIFT_MAP, MSRA_SCALE, margin=1, maps=_maps_2d("heatmaps")),
    ),
)

MEGVII = Entry(
    cases=(
        pose_case("compat", lambda: MegviiHeatmap(SMALL_INPUT, SMALL_MAP, 5),
                  SMALL_INPUT, MSRA_SCALE, owners=HEATMAP_OWNERS, zeroed=HEATMAP_ZEROED),
    ),
    round_trip=round_trip_megvii,
    # The reflect-101 border of the encode blur folds the impulse response
    # within kernel_size // 2 px of a border: margin 3 for kernel 5.
    shifts=(Shift(lambda: MegviiHeatmap(SHIFT_INPUT, SHIFT_MAP, 5, mmpose_compat=False),
                  SHIFT_MAP, MSRA_SCALE, margin=3, maps=_maps_2d("heatmaps")),),
)


# ------------------------------------------------------------- regression
REGRESSION_OWNERS = {"keypoint_labels": Owns(1), "keypoint_weights": Owns(1)}


@functools.lru_cache(maxsize=None)
def _regression_round_trip():
    codec = RegressionLabel(SMALL_INPUT)
    return jax.jit(codec.round_trip)


def round_trip_regression(data):
    """``decode(encode(kp)) = kp / (w, h) * (w, h)``: float32 rounding only
    (a true division and a product, each within half an ulp), for any
    keypoint, visible or not, on the input or a million pixels away."""
    kp = Values(data.draw).points(SMALL_INPUT, MSRA_SCALE, (2, K))
    decoded = np.asarray(_regression_round_trip()(kp)[0], np.float64)
    np.testing.assert_allclose(decoded, kp, rtol=2.0**-22, atol=FLUSHED * SMALL_INPUT[0])


@functools.lru_cache(maxsize=None)
def _integral_round_trip():
    codec = IntegralRegressionLabel(**README_SIZES, sigma=2.0, unbiased=True, mmpose_compat=False)

    def run(kp, vis):
        enc = codec.encode(kp, vis)
        return (codec.decode(enc["keypoint_labels"])[0],
                codec.decode_heatmaps(enc["heatmaps"], method="ipr")[0],
                codec.decode_heatmaps(enc["heatmaps"], method="dsnt")[0])

    return jax.jit(run)


def round_trip_integral(data):
    """README geometry, unbiased exact targets: the labels decode to the
    keypoints up to float32 rounding (any keypoint), and IPR / DSNT on the
    heatmaps within README's 0.003 input px for keypoints at least 4σ = 8
    heatmap px from every border (other keypoints invisible or off the map
    in the same sample). The expectation is biased inward by the Gaussian
    mass the border cuts off: measured max errors 0.068, 0.015, 0.0025 and
    0.00035 px at 5, 6, 7 and 8 heatmap px from a border, so README's
    "at least 5 heatmap px" does not hold for this row."""
    kp, vis, check = mixed_keypoints(Values(data.draw), [(8, README_W - 9, 4.0, False),
                                                         (8, README_H - 9, 4.0, False)])
    labels, ipr, dsnt = (np.asarray(a, np.float64)[0] for a in _integral_round_trip()(kp, vis))
    np.testing.assert_allclose(labels, kp[0], rtol=2.0**-22, atol=FLUSHED * README_SIZES["input_size"][1])
    for decoded in (ipr, dsnt):
        err = np.abs(decoded - kp[0])[check]
        assert (err < 0.003).all(), err.max()


REGRESSION = Entry(
    cases=(pose_case("two-instances", lambda: RegressionLabel(SMALL_INPUT), SMALL_INPUT, MSRA_SCALE,
                     instances=2, owners=REGRESSION_OWNERS, zeroed=("keypoint_weights",)),),
    round_trip=round_trip_regression,
)

INTEGRAL_OWNERS = {"heatmaps": Owns(0), **REGRESSION_OWNERS}
INTEGRAL = Entry(
    cases=(
        pose_case("windowed-compat-sigma1.5", lambda: IntegralRegressionLabel(SMALL_INPUT, SMALL_MAP, 1.5),
                  SMALL_INPUT, MSRA_SCALE, owners=INTEGRAL_OWNERS, zeroed=HEATMAP_ZEROED),
        pose_case("unbiased-exact", lambda: IntegralRegressionLabel(SMALL_INPUT, SMALL_MAP, 2.0, unbiased=True,
                                                                    mmpose_compat=False),
                  SMALL_INPUT, MSRA_SCALE, owners=INTEGRAL_OWNERS, zeroed=HEATMAP_ZEROED),
    ),
    round_trip=round_trip_integral,
    # Normalised windowed maps: equal sums need the whole window on the map.
    shifts=(Shift(lambda: IntegralRegressionLabel(SHIFT_INPUT, SHIFT_MAP, 1.5, mmpose_compat=False),
                  SHIFT_MAP, MSRA_SCALE, margin=6, maps=_maps_2d("heatmaps")),),
)


# ------------------------------------------------------------------ SimCC
SIMCC_OWNERS = {"keypoint_x_labels": Owns(1), "keypoint_y_labels": Owns(1), "keypoint_weights": Owns(1)}
SIMCC_ZEROED = tuple(SIMCC_OWNERS)
SIMCC_SCALE = (0.5, 0.5)  # input px per bin at split ratio 2
SIMCC_RT_INPUT, SIMCC_RT_SIGMA = (192, 256), (4.9, 5.66)


@functools.lru_cache(maxsize=None)
def _simcc_round_trip(kind):
    extra = {"dark": dict(use_dark=True), "argmax": {},
             "standard": dict(smoothing_type="standard", label_smooth_weight=0.1)}[kind]
    codec = SimCCLabel(SIMCC_RT_INPUT, sigma=SIMCC_RT_SIGMA, mmpose_compat=False, **extra)
    return jax.jit(codec.round_trip)


def round_trip_simcc(data):
    """Exact mode, input 192x256, split ratio 2, σ (4.9, 5.66) bins, other
    keypoints invisible or off the input: with ``use_dark`` within 0.05
    input px at >= 3σ bins from both ends (README); the argmax decode of
    Gaussian or one-hot (label-smoothed) labels within half a bin,
    ``0.5 / simcc_split_ratio`` px (plus 1e-4 px of float32 rounding of
    ``x * ratio``), for a bin position anywhere in ``[-0.5, L - 0.5]``."""
    kind = data.draw(st.sampled_from(["dark", "argmax", "standard"]), label="kind")
    lengths = (2 * SIMCC_RT_INPUT[0], 2 * SIMCC_RT_INPUT[1])
    if kind == "dark":
        regions = [(3 * s, n - 1 - 3 * s, 0.5, False) for s, n in zip(SIMCC_RT_SIGMA, lengths)]
    else:
        regions = [(-0.5, n - 0.5, 0.5, True) for n in lengths]
    kp, vis, check = mixed_keypoints(Values(data.draw), regions)
    decoded = np.asarray(_simcc_round_trip(kind)(kp, vis)[0], np.float64)[0]
    err = np.abs(decoded - kp[0])[check]
    assert (err < (0.05 if kind == "dark" else 0.25 + 1e-4)).all(), err.max()


SIMCC = Entry(
    cases=(
        pose_case("dark-visibility-exact",
                  lambda: SimCCLabel(SMALL_INPUT, sigma=(2.0, 3.0), use_dark=True, decode_visibility=True,
                                     mmpose_compat=False),
                  SMALL_INPUT, SIMCC_SCALE, instances=2, owners=SIMCC_OWNERS, zeroed=SIMCC_ZEROED),
        pose_case("dark-visibility-compat",
                  lambda: SimCCLabel(SMALL_INPUT, sigma=2.0, use_dark=True, decode_visibility=True),
                  SMALL_INPUT, SIMCC_SCALE, instances=2, owners=SIMCC_OWNERS, zeroed=SIMCC_ZEROED),
        pose_case("standard-smoothed",
                  lambda: SimCCLabel(SMALL_INPUT, smoothing_type="standard", label_smooth_weight=0.1),
                  SMALL_INPUT, SIMCC_SCALE, instances=2, owners=SIMCC_OWNERS, zeroed=SIMCC_ZEROED),
    ),
    round_trip=round_trip_simcc,
    shifts=(Shift(lambda: SimCCLabel(SMALL_INPUT, sigma=2.0, mmpose_compat=False), (128, 96), SIMCC_SCALE,
                  margin=6, maps=lambda enc: [(np.asarray(enc["keypoint_x_labels"]), lambda n: (n[0],)),
                                              (np.asarray(enc["keypoint_y_labels"]), lambda n: (n[1],))]),),
)


# ----------------------------------------------------------------- Hand3D
H3_IMAGE, H3_MAP, H3_BOUND = (64, 64), (16, 16, 16), 64.0  # 4 px and 4 depth units per voxel
H3_HALF = H3_BOUND / 2  # z = mu_z * 4 - 32


def hand3d(mmpose_compat, **kwargs):
    return Hand3DHeatmap(image_size=H3_IMAGE, heatmap_size=H3_MAP, depth_size=H3_MAP[2],
                         root_heatmap_size=16, heatmap_size_root=16, heatmap3d_depth_bound=H3_BOUND,
                         root_depth_bound=H3_BOUND, mmpose_compat=mmpose_compat, **kwargs)


def _selected(codec, k):
    """Position of keypoint ``k`` among the encoded ones (``joint_indices``)."""
    if codec.joint_indices is None:
        return k
    return codec.joint_indices.index(k) if k in codec.joint_indices else None


def hand3d_draw(joint_weights):
    def draw(d, wide):
        """Keypoints ``(1, K, 3)`` (z = map depth * 4 - 32), a root depth
        (in range, on its edges, far away; any finite float32 with
        ``wide``), a one-hot or arbitrary hand type and validities."""
        v = Values(d)
        xyz = v.points((*H3_IMAGE, int(H3_BOUND)), (4.0, 4.0, 4.0), (1, K), wide)
        xyz[..., 2] -= np.float32(H3_HALF)
        root = np.where(v.rng.uniform() < 0.5, v.uniform(-48.0, 48.0), v.choice([-H3_HALF, H3_HALF, 1e6]))
        if wide and v.rng.uniform() < 0.3:
            root = v.any_finite(())
        hand = v.choice([1.0, 0.0], 1) if v.rng.uniform() < 0.5 else v.uniform(-2, 2, 1)
        hand = np.array([[hand[0], 1 - hand[0]]], np.float32)
        vis = v.visibility((1, K), wide)
        if joint_weights:  # the weight is visibility x joint weight (< 2): keep it below float32 max
            vis = np.clip(vis, -1e38, 1e38)
        return (xyz, vis, v.uniform(0.0, 2.0, (K,)) if joint_weights else None,
                np.float32(root), v.visibility((), wide), hand, v.choice([0.0, 1.0], 1))
    return draw


def hand3d_case(id, make, joint_weights, zeroed):
    owners = {"heatmaps": Owns(0, H3_MAP[2], _selected), "keypoint_weights": Owns(1, 1, _selected)}
    return Case(id, make, hand3d_draw(joint_weights), owners, zeroed, _vis_off)


@functools.lru_cache(maxsize=None)
def _hand3d_round_trip():
    return jax.jit(hand3d(False, sigma=1.5).round_trip)


def round_trip_hand3d(data):
    """Exact mode (docstring): visible keypoints whose nearest voxel lies in
    the volume decode within half a voxel, ``0.5 * 64 / 16 = 2`` px in x, y
    and ``0.5 * 64 / 16 = 2`` depth units in z (plus 1e-4 for float32
    near-ties), other keypoints invisible or off the volume; the root depth
    within float32 rounding where it is in range; the hand type is the sign
    of the encoded one."""
    v = Values(data.draw)
    kp, vis, check = mixed_keypoints(v, [(-0.5, 15.5, 4.0, True)] * 3)
    kp[..., 2] -= np.float32(H3_HALF)
    root = v.uniform(-H3_HALF, H3_HALF)
    hand = v.uniform(-2, 2, (1, 2))
    decoded, scores, root_out, hand_out = _hand3d_round_trip()(kp, vis, None, root, np.float32(1), hand)
    err = np.abs(np.asarray(decoded, np.float64)[0] - kp[0])[check]
    assert (err <= 2.0 + 1e-4).all(), err.max()
    assert (np.asarray(scores)[0][check] > 0).all()
    np.testing.assert_allclose(np.asarray(root_out, np.float64), root, atol=H3_BOUND * 2.0**-20)
    np.testing.assert_array_equal(hand_out, (hand > 0).astype(np.int32))


HAND3D = Entry(
    cases=(
        hand3d_case("exact-sigma1.5", lambda: hand3d(False, sigma=1.5), False, HEATMAP_ZEROED),
        # Compat paints every keypoint, invisible ones included (docs/parity.md row 8).
        hand3d_case("compat-joint-weights-indices",
                    lambda: hand3d(True, sigma=2.0, use_different_joint_weights=True, joint_indices=(0, 2, 3)),
                    True, ("keypoint_weights",)),
    ),
    round_trip=round_trip_hand3d,
    shifts=(Shift(lambda: hand3d(False, sigma=1.0), H3_MAP, (4.0, 4.0, 4.0), margin=4, max_shift=2,
                  offset=(0.0, 0.0, -H3_HALF),
                  maps=lambda enc: [(np.asarray(enc["heatmaps"]).reshape(K, *H3_MAP[::-1]),
                                     lambda n: (n[2], n[1], n[0]))]),),
)


# --------------------------------------------------------------- lifting
def lifting_values(v, shape, lo, hi, wide):
    """Millimetres or pixels in ``[lo, hi]``, a few a million away; with
    ``wide`` a fifth up to +-1e20 (beyond, the difference of two values
    may overflow float32)."""
    values = np.where(v.rng.uniform(size=shape) < 0.05, v.choice([-1e6, 1e6], shape), v.uniform(lo, hi, shape))
    if wide:
        huge = np.sign(v.rng.uniform(-1, 1, shape)) * 10.0 ** v.rng.uniform(-45, 20, shape)
        values = np.where(v.rng.uniform(size=shape) < 0.2, huge, values)
    return values.astype(np.float32)


def lifting_pose(v, wide, positive_depth=False):
    """2-D keypoints ``(T, K, 2)`` (pixels), their visibility, a 3-D target
    ``(T, K, 3)`` (millimetres, depth 0.1 m to 8 m; in front of the camera
    with ``positive_depth``, then up to 1e20 with ``wide``) and its
    visibility."""
    kp = lifting_values(v, (FRAMES, K, 2), -100.0, 1100.0, wide)
    xy = lifting_values(v, (FRAMES, K, 2), -2000.0, 2000.0, wide)
    if positive_depth:
        z = v.uniform(100.0, 8000.0, (FRAMES, K, 1))
        if wide:
            z = np.where(v.rng.uniform(size=z.shape) < 0.2, 10.0 ** v.rng.uniform(-2, 20, z.shape), z)
    else:
        z = lifting_values(v, (FRAMES, K, 1), 100.0, 8000.0, wide)
    target = np.concatenate([xy, z.astype(np.float32)], -1)
    return kp, v.visibility((FRAMES, K), wide), target, v.visibility((FRAMES, K), wide)


def camera(v, wide, intrinsics):
    """Image size ``w, h`` (100 to 4000 px; 1 to 1e6 with ``wide``) and,
    with ``intrinsics``, focal lengths and principal point ``(2, 1)``."""
    lo, hi = (1.0, 1e6) if wide else (100.0, 4000.0)
    cam = {"w": v.uniform(lo, hi), "h": v.uniform(lo, hi)}
    if intrinsics:
        cam["f"] = v.uniform(100.0, 4000.0, (2, 1))
        cam["c"] = v.uniform(0.0, 4000.0, (2, 1))
    return cam


def _lifting_vis_off(args, k):
    return _vis_off(args, k, positions=[i for i in (1, 3) if args[i] is not None])


def _without_root(root):
    return lambda codec, k: None if k == root else (k if k < root else k - 1)


def lifting_owners(visible_key, columns=None, root=None, **more):
    """``keypoint_labels`` per joint (``columns`` values per joint on axis 0
    when reshaped to ``(K * D, T)``), the visibility, the label and weight
    per joint (without the ``root`` joint when it is removed) and the
    trajectory weights per joint (all K: the root is not removed there)."""
    joint = Owns(1, 1, _without_root(root)) if root is not None else Owns(1)
    return {"keypoint_labels": Owns(0, columns) if columns else Owns(1), visible_key: Owns(1),
            "lifting_target_label": joint, "lifting_target_weight": joint, "trajectory_weights": Owns(1),
            **more}


def image_lifting_case(id, make, owners, zeroed, target_visible=True):
    def draw(d, wide):
        kp, vis, target, target_vis = lifting_pose(Values(d), wide)
        return kp, vis, target, target_vis if target_visible else None
    return Case(id, make, draw, owners, zeroed, _lifting_vis_off, decode_magnitude=1e20)


def video_lifting_case(id, make, owners, zeroed, intrinsics):
    def draw(d, wide):
        v = Values(d)
        return (*lifting_pose(v, wide), camera(v, wide, intrinsics))
    return Case(id, make, draw, owners, zeroed, _lifting_vis_off, decode_magnitude=1e20)


_RNG = np.random.default_rng(7)
STATS = dict(keypoints_mean=_RNG.uniform(0, 500, (K, 2)), keypoints_std=_RNG.uniform(50, 300, (K, 2)),
             target_mean=_RNG.uniform(-500, 500, (K, 3)), target_std=_RNG.uniform(50, 300, (K, 3)))
LIFTING_ZEROED = ("lifting_target_weight", "trajectory_weights")


@functools.lru_cache(maxsize=None)
def _lifting_round_trip(kind):
    codec = {"image": lambda: ImagePoseLifting(num_keypoints=K, root_index=1, remove_root=True),
             "video": lambda: VideoPoseLifting(num_keypoints=K, root_index=2, remove_root=True),
             "video-absolute": lambda: VideoPoseLifting(num_keypoints=K, zero_center=False)}[kind]()

    def run(*args):
        enc = codec.encode(*args)
        return codec.decode(*[enc[key] for key in codec.decode_input_keys])[0]

    return jax.jit(run)


def round_trip_lifting(kind):
    def check(data):
        """README: exact for any number of frames, i.e. float32 rounding of
        ``(t - root) + root``: within 4 ulp of ``|t| + |root|`` (plus the
        smallest normal float32: denormals are flushed to zero)."""
        v = Values(data.draw)
        kp, vis, target, target_vis = lifting_pose(v, False)
        args = (kp, vis, target, target_vis)
        if kind != "image":
            args += (camera(v, False, False),)
        kind_run = data.draw(st.sampled_from(["video", "video-absolute"]), label="kind") if kind == "video" else kind
        decoded = np.asarray(_lifting_round_trip(kind_run)(*args), np.float64)
        t = target.astype(np.float64)
        root = t[:, [1 if kind_run == "image" else 2]]
        bound = 0.0 if kind_run == "video-absolute" else 2.0**-21 * (np.abs(t) + np.abs(root)) + FLUSHED
        assert (np.abs(decoded - t) <= bound).all()
    return check


IMAGE_LIFTING = Entry(
    cases=(
        # Compat, no target visibility: trajectory weights 1 / joint 2's
        # coordinates, (T, C), not per joint (docs/parity.md row 20).
        image_lifting_case("root1-removed-concat-vis-no-target-visibility",
                           lambda: ImagePoseLifting(num_keypoints=K, root_index=1, remove_root=True, concat_vis=True),
                           {"keypoint_labels": Owns(0, 3), "keypoint_labels_visible": Owns(1),
                            "lifting_target_label": Owns(1, 1, _without_root(1)),
                            "lifting_target_weight": Owns(1, 1, _without_root(1))},
                           ("keypoint_labels_visible",), target_visible=False),
        image_lifting_case("two-roots-statistics-exact",
                           lambda: ImagePoseLifting(num_keypoints=K, root_index=(0, 2), reshape_keypoints=False,
                                                    mmpose_compat=False, **STATS),
                           lifting_owners("keypoint_labels_visible"), LIFTING_ZEROED),
    ),
    round_trip=round_trip_lifting("image"),
)

VIDEO_LIFTING = Entry(
    cases=(
        video_lifting_case("root2-removed-normalize-camera",
                           lambda: VideoPoseLifting(num_keypoints=K, root_index=2, remove_root=True,
                                                    concat_vis=True, normalize_camera=True),
                           lifting_owners("keypoints_visible", columns=3, root=2),
                           LIFTING_ZEROED + ("keypoints_visible",), intrinsics=True),
        video_lifting_case("absolute-exact",
                           lambda: VideoPoseLifting(num_keypoints=K, zero_center=False, reshape_keypoints=False,
                                                    mmpose_compat=False),
                           lifting_owners("keypoints_visible"), LIFTING_ZEROED, intrinsics=False),
    ),
    round_trip=round_trip_lifting("video"),
)


# ------------------------------------------------------------- MotionBERT
def motionbert_factor(v):
    """A factor per frame, 0.25 to 8; the first 0 a third of the time (then
    the codec uses its own)."""
    factor = v.uniform(0.25, 8.0, FRAMES)
    if v.rng.uniform() < 1 / 3:
        factor[0] = 0.0
    return factor


def motionbert_case(id, make, intrinsics, with_factor):
    def draw(d, wide):
        v = Values(d)
        kp, vis, target, target_vis = lifting_pose(v, wide, positive_depth=True)
        factor = motionbert_factor(v) if with_factor else None
        return kp, vis, target, target_vis, camera(v, wide, intrinsics), factor

    def decode_kwargs(args, encoded):
        cam = args[4]
        rows = lambda v: np.broadcast_to(np.asarray(v)[..., None], np.shape(v) + (FRAMES,))  # noqa: E731
        return {"w": rows(cam["w"]), "h": rows(cam["h"]), "factor": encoded["factor"]}

    joint = Owns(1)
    owners = {key: joint for key in ("keypoint_labels", "keypoint_labels_visible", "lifting_target_label",
                                     "lifting_target_weight", "lifting_target", "lifting_target_visible")}
    zeroed = ("keypoint_labels_visible", "lifting_target_weight", "lifting_target_visible")
    return Case(id, make, draw, owners, zeroed, _lifting_vis_off, decode_kwargs, motionbert_decode_scale,
                motionbert_condition, decode_magnitude=1e20)


def motionbert_condition(args):
    """With intrinsics, the depth factor is ``2 / (right - left + 0.001)``,
    ``right, left`` the projections ``(x +- 1) / z * f + c`` of the root (in
    metres, f and c / 1000), whose difference is ``2 f / z``: float32
    rounding of the projections is amplified by ``((|x| + 1) / z * f + |c|)
    / (2 f / z + 0.001)`` (MMPose's formula, kept for parity)."""
    cam = args[4]
    if "f" not in cam:
        return 1.0
    target = np.asarray(args[2], np.float64)
    f = np.asarray(cam["f"], np.float64)[..., 0, 0, None, None] / 1000
    c = np.asarray(cam["c"], np.float64)[..., 0, 0, None, None] / 1000
    x, z = np.abs(target[..., 0]), np.abs(target[..., 2])
    return float(max(1.0, (((x + 1) / z * f + np.abs(c)) / (2 * f / z + 0.001)).max()))


def motionbert_decode_scale(dargs, dkwargs):
    """Decode adds the image-frame shift ``(1, h / w)``, scales by ``w / 2``
    and the factor, then subtracts the root joint: its rounding is relative
    to ``(|label| + 1 + h / w) * w / 2 * |factor| / 1000``."""
    w, h = (np.asarray(dkwargs[key], np.float64)[..., None, None] for key in ("w", "h"))
    factor = np.abs(np.asarray(dkwargs["factor"], np.float64))[..., None]
    label = np.abs(np.asarray(dargs[0], np.float64))
    return float(((label + 1 + h / w) * w / 2 * factor / 1000).max())


@functools.lru_cache(maxsize=None)
def _motionbert_round_trip(root_index):
    codec = MotionBERTLabel(num_keypoints=K, root_index=root_index)

    def run(kp, target, cam, factor):
        enc = codec.encode(kp, None, target, None, cam, factor)
        w = jnp.broadcast_to(cam["w"], (FRAMES,))
        h = jnp.broadcast_to(cam["h"], (FRAMES,))
        return codec.decode(enc["lifting_target_label"], w, h, enc["factor"])[0], enc["factor"]

    return jax.jit(run)


def round_trip_motionbert(data):
    """Mode "test" without intrinsics: encode gives ``label = F (P - P_r)``
    (``F`` the given factor, or 4 when it is None or starts with 0) and
    decoding with ``w, h, F`` maps it back to ``(w / 2) F^2 (P - P_r) /
    1000`` (the image-frame shift cancels in the root-relative pose; the
    closed form of tests/test_codecs_motionbert.py), up to float32 rounding:
    1e-6 of ``(w / 2) F (|label| + 1 + h / w) / 1000``."""
    root_index = data.draw(st.sampled_from([0, 3]), label="root_index")
    v = Values(data.draw)
    kp, _, target, _ = lifting_pose(v, False, positive_depth=True)
    cam = camera(v, False, False)
    factor = None if data.draw(st.booleans(), label="no factor") else motionbert_factor(v)
    decoded, used = _motionbert_round_trip(root_index)(kp, target, cam, factor)
    t = target.astype(np.float64)
    f = np.asarray(used, np.float64)[:, :, None]
    w, h = float(cam["w"]), float(cam["h"])
    label = f * (t - t[:, [root_index]])
    expected = (w / 2) * f * label / 1000
    bound = 1e-6 * (w / 2) * f * (np.abs(label) + 1 + h / w) / 1000
    assert (np.abs(np.asarray(decoded, np.float64) - expected) <= bound).all()


MOTIONBERT = Entry(
    cases=(
        motionbert_case("test-intrinsics", lambda: MotionBERTLabel(num_keypoints=K), True, False),
        motionbert_case("train-rootrel-factor-exact",
                        lambda: MotionBERTLabel(num_keypoints=K, root_index=2, mode="train", rootrel=True,
                                                concat_vis=True, mmpose_compat=False), False, True),
    ),
    round_trip=round_trip_motionbert,
)

# -------------------------------------------------------------------- SPR
def _spr_not_drawn(args, k):
    """Keypoint ``k`` no longer drawn: its visibility lowered into (0, 0.5),
    below the thresholds of its heatmap (0.5) and displacements (1), but
    still > 0, so that it keeps its place in the instance's root and box.
    (Zero visibility would move the root, and with it every keypoint's
    displacements: no keypoint owns the root.)"""
    kp, vis = args
    vis = np.array(vis, np.float32)
    vis[..., k] = np.where(vis[..., k] > 0, np.float32(0.3), np.float32(0))
    return kp, vis


def spr_case(id, make, keypoint_maps):
    owners = {"displacements": Owns(0, 2), "displacement_weights": Owns(0, 2)}
    if keypoint_maps:
        owners.update(heatmaps=Owns(0), heatmap_weights=Owns(0))
    zeroed = ("displacements", "displacement_weights") + (("heatmaps",) if keypoint_maps else ())
    case = pose_case(id, make, SMALL_INPUT, MSRA_SCALE, owners=owners, zeroed=zeroed)
    return dataclasses.replace(case, invisible=_spr_not_drawn)


@functools.lru_cache(maxsize=None)
def _spr_round_trip():
    return jax.jit(SPR(SMALL_INPUT, SMALL_MAP, sigma=4.0).round_trip)


def round_trip_spr(data):
    """MMPose mode, 64x48 input, 16x12 maps, σ 4 (root square of half side
    4 px), one instance with every keypoint on the map: when the instance
    has a root (a keypoint with visibility > 0, box diagonal >= 5 map px),
    exactly one row is valid and every keypoint with visibility >= 1 is
    decoded to within 1e-4 input px (the root pixel lies in the root's
    square and holds each keypoint's exact displacement; only float32
    rounding of ``kp / 4 - pixel`` and its sum with the pixel remains);
    otherwise no row is valid."""
    v = Values(data.draw)
    kp = np.stack([v.region(0, SMALL_MAP[0], 4.0, (1, K), True), v.region(0, SMALL_MAP[1], 4.0, (1, K), True)], -1)
    vis = v.choice([0.0, 0.5, 1.0, 2.0], (1, K))
    keypoints, (scores, _), valid = _spr_round_trip()(kp, vis)
    counted = vis[0] > 0
    points = (kp[0] / np.float32(4.0))[counted]
    side = (points.max(0) - points.min(0)) if counted.any() else np.zeros(2, np.float32)
    diag = np.sqrt(np.float32(side[0] * side[0]) + np.float32(side[1] * side[1]))
    valid = np.asarray(valid)
    if not counted.any() or diag < 5:
        assert not valid.any()
        return
    assert valid.tolist() == [True] + [False] * (len(valid) - 1)
    drawn = vis[0] >= 1
    err = np.abs(np.asarray(keypoints, np.float64)[0] - kp[0])[drawn]
    assert (err <= 1e-4).all(), err.max()


SPR_ENTRY = Entry(
    cases=(
        spr_case("root-compat-sigma4", lambda: SPR(SMALL_INPUT, SMALL_MAP, sigma=4.0), False),
        spr_case("keypoint-maps-bbox-exact",
                 lambda: SPR(SMALL_INPUT, SMALL_MAP, sigma=(2.0, 1.0), generate_keypoint_heatmaps=True,
                             root_type="bbox_center", decode_max_instances=8, mmpose_compat=False), True),
    ),
    round_trip=round_trip_spr,
)

# --------------------------------------------------- AssociativeEmbedding
AE_INPUT, AE_UDP_INPUT, AE_MAP = (64, 64), (61, 61), (16, 16)  # scale 4 x 4 both ways
AE_PEOPLE = 3
AE_SIGMA = 2.0  # 3σ = 6 px: the window ends on whole pixels
AE_TAG_STEP = 2.0  # person n's tag is 2n: twice the default decode_tag_thr apart
AE_OWNERS = {"heatmaps": Owns(0), "keypoint_indices": Owns(1), "keypoint_weights": Owns(1)}


def ae_tags(codec, people, visible):
    """Tag maps ``(..., K, H, W)`` (one tag dimension) of a perfectly
    separated crowd ``people (..., N, K, 2)``: person ``n``'s tag
    ``AE_TAG_STEP * n`` in a 3 x 3 patch around each of its visible
    keypoints' pixels ``trunc(kp / scale + 0.5)`` on the map, 0 elsewhere.
    (The example entry's ``painted_tags``, for one or a batch of images
    and any finite coordinate.)"""
    people = np.asarray(people, np.float64)
    visible = np.asarray(visible, np.float64)
    lead, (num_people, joints) = people.shape[:-3], people.shape[-3:-1]
    width, height = codec.heatmap_size
    tags = np.zeros((*lead, joints, height, width), np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        pixel = np.trunc(people / np.asarray(codec.scale_factor, np.float64) + 0.5)
    on_map = (visible > 0) & (pixel >= 0).all(-1) & (pixel < [width, height]).all(-1)
    pixel = np.where(on_map[..., None], pixel, 0).astype(int)
    for index in np.ndindex(*lead, num_people, joints):
        if on_map[index]:
            *image, n, k = index
            x, y = pixel[index]
            tags[(*image, k, slice(max(y - 1, 0), y + 2), slice(max(x - 1, 0), x + 2))] = AE_TAG_STEP * n
    return tags


def ae_decode_args(codec, args, encoded):
    """The encoded heatmaps and the painted tags of the drawn people."""
    return [encoded["heatmaps"], ae_tags(codec, *args)]


def ae_case(id, make, input_size):
    case = pose_case(id, make, input_size, MSRA_SCALE, instances=AE_PEOPLE, owners=AE_OWNERS,
                     zeroed=("heatmaps", "keypoint_weights"))
    return dataclasses.replace(case, decode_args=ae_decode_args)


def ae_codec(udp, mmpose_compat=True, **kwargs):
    return AssociativeEmbedding(AE_UDP_INPUT if udp else AE_INPUT, AE_MAP, sigma=AE_SIGMA, use_udp=udp,
                                mmpose_compat=mmpose_compat, **kwargs)


@functools.lru_cache(maxsize=None)
def _ae_round_trip(udp):
    """The codec of the round trip, its jitted heatmap encoder and decoder."""
    codec = ae_codec(udp, decode_max_instances=2 * AE_PEOPLE)
    return codec, jax.jit(lambda people, visible: codec.encode(people, visible)["heatmaps"]), jitted(codec, "decode")


# Same-type keypoints of different people lie in different cells of a 2 x 2
# grid of the 16 x 16 map, 10 px (two NMS kernels) or more apart per axis:
# a coordinate is low (2 to 2.75 px) or high (12.75 to 13.5 px), away from
# the border (refinement reads both neighbours).
AE_LOW, AE_HIGH = (2.0, 2.75), (12.75, 13.5)


def round_trip_ae(data):
    """MMPose mode, σ 2, 1 to 3 people whose same-type keypoints are at
    least 10 heatmap px apart per axis, perfectly separated painted tags
    (:func:`ae_tags`), some keypoints invisible (every person keeps one):
    ``decode`` finds exactly the people (one valid row each, rows matched
    to distinct people) and every visible keypoint within 0.75 heatmap px
    x ``scale_factor`` per axis (the Gaussian's centre pixel, half a pixel,
    plus the quarter-pixel refinement or UDP's sub-pixel step)."""
    udp = data.draw(st.booleans(), label="use_udp")
    v = Values(data.draw)
    num_people = int(v.rng.integers(1, AE_PEOPLE + 1))
    cells = np.stack([v.rng.permutation(4)[:num_people] for _ in range(K)], axis=1)  # (N, K)
    side = np.stack([cells % 2, cells // 2], axis=-1)  # 0: low, 1: high
    low = v.rng.uniform(*AE_LOW, side.shape)
    high = v.rng.uniform(*AE_HIGH, side.shape)
    map_points = np.where(side == 1, high, low)
    visible = v.choice([0.0, 1.0, 2.0], (num_people, K))
    visible[np.arange(num_people), v.rng.integers(0, K, num_people)] = 1.0
    codec, encode, decode = _ae_round_trip(udp)
    scale = np.asarray(codec.scale_factor, np.float64)
    people = (map_points * scale).astype(np.float32)
    heatmaps = encode(people, visible)
    keypoints, _, _, valid = decode(heatmaps, ae_tags(codec, people, visible))
    keypoints, valid = np.asarray(keypoints, np.float64), np.asarray(valid)
    assert valid.sum() == num_people, (valid.sum(), num_people)
    # err[r, n]: the largest per-axis error of row r against person n's visible keypoints, in map px
    err = np.abs(keypoints[valid][:, None] - people[None].astype(np.float64)) / scale
    err = np.where(visible[None, :, :, None] > 0, err, 0.0).max(axis=(-1, -2))
    matched = err <= 0.75 + 1e-4
    assert matched.any(axis=1).all(), err
    # Rows matched to distinct people: some one-to-one assignment within the bound (a row may
    # also be within it of a second person whose few visible keypoints lie near its own).
    assert any(matched[np.arange(num_people), list(order)].all()
               for order in itertools.permutations(range(num_people))), err


AE_ENTRY = Entry(
    cases=(
        ae_case("plain-compat-sigma2", lambda: ae_codec(False, decode_max_instances=2 * AE_PEOPLE), AE_INPUT),
        ae_case("udp-exact-sigma2", lambda: ae_codec(True, False, decode_max_instances=2 * AE_PEOPLE),
                AE_UDP_INPUT),
    ),
    round_trip=round_trip_ae,
    # Exact mode: MSRAHeatmap's and UDPHeatmap's renderers, max-combined over people.
    shifts=(
        Shift(lambda: AssociativeEmbedding(SHIFT_INPUT, SHIFT_MAP, sigma=1.5, mmpose_compat=False),
              SHIFT_MAP, MSRA_SCALE, margin=6, maps=_maps_2d("heatmaps")),
        Shift(lambda: AssociativeEmbedding(UDP_SHIFT_INPUT, SHIFT_MAP, sigma=1.5, use_udp=True,
                                           mmpose_compat=False),
              SHIFT_MAP, MSRA_SCALE, margin=6, maps=_maps_2d("heatmaps")),
    ),
)

# ------------------------------------------------------ DecoupledHeatmap
CID_PEOPLE, CID_ROWS = 3, 4


def cid_codec(mmpose_compat=True, **kwargs):
    return DecoupledHeatmap(SMALL_INPUT, SMALL_MAP, encode_max_instances=CID_ROWS, mmpose_compat=mmpose_compat,
                            **kwargs)


def cid_decode_args(codec, args, encoded):
    """The encoded instance heatmaps as ``(..., M, K, H, W)`` blocks, scores of one."""
    maps = np.asarray(encoded["instance_heatmaps"])
    lead = maps.shape[:-3]
    width, height = codec.heatmap_size
    blocks = maps.reshape(*lead, CID_ROWS, -1, height, width)
    return [blocks, np.ones((*lead, CID_ROWS, 1), np.float32)]


def cid_case(id, make):
    # Keypoint k not drawn (visibility in (0, 0.5)) keeps its place in every
    # root, box and diagonal (see _spr_not_drawn): its channel of the global
    # maps and of every instance block is zero, its weight column changes.
    owners = {"heatmaps": Owns(0), "keypoint_weights": Owns(1), "instance_heatmaps": Owns(0, period=K)}
    case = pose_case(id, make, SMALL_INPUT, MSRA_SCALE, instances=CID_PEOPLE, owners=owners,
                     zeroed=("heatmaps", "instance_heatmaps"))
    # Scores are maxima times instance scores, both model outputs: beyond
    # about 1e19 each their float32 product overflows.
    return dataclasses.replace(case, invisible=_spr_not_drawn, decode_args=cid_decode_args,
                               decode_kwargs=lambda args, encoded: {"instance_valid": encoded["instance_valid"]},
                               decode_magnitude=1e15)


@functools.lru_cache(maxsize=None)
def _cid_round_trip(mmpose_compat):
    codec = cid_codec(mmpose_compat)
    return codec, jitted(codec, "encode"), jitted(codec, "decode")


def round_trip_cid(data):
    """1 to 3 people, keypoints on the 16 x 12 map (scale 4; x in [0,
    15.5), y in [0, 11.5)), some
    invisible (each person keeps a visible one), no jitter: every person is
    one valid row (their roots differ), each row's block decodes to its
    person's visible keypoints within 0.75 map px x scale per axis in the
    exact mode (half a pixel, plus the quarter-pixel step), 1.75 in MMPose's
    (plus the one-pixel shift of a non-integer 3σ; sigmas come from the
    boxes)."""
    compat = data.draw(st.booleans(), label="mmpose_compat")
    v = Values(data.draw)
    num = int(v.rng.integers(1, CID_PEOPLE + 1))
    # On the map: within half a pixel of a pixel centre.
    kp = np.stack([v.region(0, SMALL_MAP[0] - 0.5, 4.0, (num, K), True),
                   v.region(0, SMALL_MAP[1] - 0.5, 4.0, (num, K), True)], -1)
    vis = v.choice([0.0, 0.5, 1.0, 2.0], (num, K))
    vis[np.arange(num), v.rng.integers(0, K, num)] = 1.0
    codec, encode, decode = _cid_round_trip(compat)
    encoded = encode(kp, vis)
    blocks, scores = cid_decode_args(codec, (kp, vis), encoded)
    keypoints, _, valid = decode(blocks, scores, instance_valid=encoded["instance_valid"])
    keypoints, valid = np.asarray(keypoints, np.float64), np.asarray(valid)
    assert valid.sum() == num and valid[:num].all(), (valid, num)
    bound = (1.75 if compat else 0.75) + 1e-4
    err = np.abs(keypoints[:num, None] - kp[None].astype(np.float64)) / 4.0  # (rows, people, K, 2)
    err = np.where(vis[None, :, :, None] > 0, err, 0.0).max(axis=(-1, -2))
    matched = err <= bound
    assert matched.any(axis=1).all(), err
    assert len(set(np.argmax(matched, axis=1).tolist())) == num, err


CID_ENTRY = Entry(
    cases=(
        cid_case("kpt-center-compat", lambda: cid_codec()),
        cid_case("bbox-center-exact", lambda: cid_codec(False, root_type="bbox_center", heatmap_min_overlap=0.5)),
    ),
    round_trip=round_trip_cid,
    shifts=(
        # one instance row, so that every weight is that instance's
        Shift(lambda: DecoupledHeatmap(SHIFT_INPUT, SHIFT_MAP, encode_max_instances=1, mmpose_compat=False),
              SHIFT_MAP, MSRA_SCALE,
              margin=6, maps=lambda enc: [(np.asarray(enc["heatmaps"])[:-1], lambda n: (n[1], n[0])),
                                          (np.asarray(enc["instance_heatmaps"]), lambda n: (n[1], n[0]))]),
    ),
)

FUZZ.update({
    "DecoupledHeatmap": CID_ENTRY,
    "SPR": SPR_ENTRY, "AssociativeEmbedding": AE_ENTRY,
    "MSRAHeatmap": MSRA, "UDPHeatmap": UDP, "MegviiHeatmap": MEGVII, "RegressionLabel": REGRESSION,
    "IntegralRegressionLabel": INTEGRAL, "SimCCLabel": SIMCC, "Hand3DHeatmap": HAND3D,
    "ImagePoseLifting": IMAGE_LIFTING, "VideoPoseLifting": VIDEO_LIFTING, "MotionBERTLabel": MOTIONBERT,
})


# ------------------------------------------------------- one-stage codecs
ED_PEOPLE, ED_CLASSES = 3, 2


def _image_size(v, wide):
    """``(w, h)`` int32: 1 to 4000 px; with ``wide`` up to 1e6."""
    return v.rng.integers(1, 1_000_001 if wide else 4001, 2).astype(np.int32)


def edpose_draw(d, wide):
    """``(img_shape (w, h), keypoints (3, K, 2), visibility, area (3,), boxes (3, 4))``;
    with ``wide`` any finite areas and keypoints up to 1e30 (decode scales
    the normalised keypoints back by ``(w, h)``, whose rounding must not
    cross the float32 maximum); boxes stay within a million pixels (their
    centre and size add and subtract corners)."""
    v = Values(d)
    size = _image_size(v, wide)
    sizes = tuple(float(s) for s in size)
    kp = np.clip(v.points(sizes, (1.0, 1.0), (ED_PEOPLE, K), wide), -1e30, 1e30)
    area = v.any_finite((ED_PEOPLE,)) if wide else v.uniform(0, sizes[0] * sizes[1], (ED_PEOPLE,))
    corners = v.points(sizes, (1.0, 1.0), (ED_PEOPLE, 2), False).reshape(ED_PEOPLE, 4)
    return size, kp, v.visibility((ED_PEOPLE, K), wide), area, corners


def edpose_decode_args(codec, args, encoded):
    """A detector's output made of the encoding (query n = instance n: its
    box and its keypoints, visibility appended), ``input_shapes = (h, w)``
    and logits on a quarter grid of the normalised keypoints (ties on
    purpose); for one sample or a batch."""
    kp, vis = np.asarray(encoded["keypoints"]), np.asarray(encoded["keypoints_visible"])
    lead = kp.shape[:-3]
    points = np.concatenate([kp.reshape(*lead, ED_PEOPLE, 2 * K), vis], axis=-1).astype(np.float32)
    logits = (np.round(np.stack([kp[..., 0, 0], kp[..., 1, 1]], axis=-1) * 4) / 4).astype(np.float32)
    input_shapes = np.asarray(args[0])[..., ::-1].copy()
    return [input_shapes, logits, np.asarray(encoded["bbox"]), points]


def edpose_case(id, make):
    return Case(id, make, edpose_draw, {"keypoints": Owns(1), "keypoints_visible": Owns(1)},
                ("keypoints_visible",), lambda args, k: _vis_off(args, k, positions=(2,)),
                decode_args=edpose_decode_args, decode_magnitude=1e15)


@functools.lru_cache(maxsize=None)
def _edpose_round_trip():
    codec = EDPoseLabel(num_select=4, num_keypoints=K)
    return codec, jitted(codec, "encode"), jitted(codec, "decode")


def round_trip_edpose(data):
    """Predictions made of the encoding decode back to the annotations:
    rows are the (query, class) pairs in the order of NumPy's stable
    ``argsort(-logits)`` (ties by index), scores those logits, keypoints
    ``kp / (w, h) * (w, h)`` within two float32 roundings, boxes the
    corners within a few float32 roundings of their magnitude."""
    v = Values(data.draw)
    size, kp, vis, area, corners = edpose_draw(data.draw, False)
    codec, encode, decode = _edpose_round_trip()
    encoded = encode(size, kp, vis, area, corners)
    logits = v.choice([-1.0, 0.0, 0.5, 2.0], (ED_PEOPLE, ED_CLASSES))
    points = np.concatenate([np.asarray(encoded["keypoints"]).reshape(ED_PEOPLE, 2 * K), vis], axis=-1)
    boxes, keypoints, scores = decode(size[::-1].copy(), logits, encoded["bbox"], points)
    order = np.argsort(-logits.reshape(-1), kind="stable")[: codec.num_select]
    query = order // ED_CLASSES
    np.testing.assert_array_equal(np.asarray(scores), np.repeat(logits.reshape(-1)[order][:, None], K, 1))
    np.testing.assert_allclose(np.asarray(keypoints, np.float64), kp[query], rtol=2.0**-21,
                               atol=FLUSHED * float(size.max()))
    magnitude = np.abs(corners).max()
    np.testing.assert_allclose(np.asarray(boxes, np.float64), corners[query].astype(np.float64), rtol=0,
                               atol=8 * 2.0**-24 * magnitude + FLUSHED * float(size.max()))


YOLOX_PEOPLE = 3


def yolox_draw(d, wide):
    """``(keypoints (3, K, 2), visibility (3, K), boxes (3, 4), category_id (3,))``
    around a 64x48 image; with ``wide`` any finite values and any int16 ids
    (past int8's range, where MMPose's cast wraps)."""
    v = Values(d)
    kp = v.points(SMALL_INPUT, MSRA_SCALE, (YOLOX_PEOPLE, K), wide)
    corners = v.points(SMALL_INPUT, MSRA_SCALE, (YOLOX_PEOPLE, 2), wide).reshape(YOLOX_PEOPLE, 4)
    low, high = (-32768, 32768) if wide else (1, 81)
    ids = v.rng.integers(low, high, YOLOX_PEOPLE).astype(np.int32)
    return kp, v.visibility((YOLOX_PEOPLE, K), wide), corners, ids


def yolox_case(id, make):
    # A box depends on all of its instance's keypoints: every row is owned by every keypoint.
    return Case(id, make, yolox_draw, {"bbox": Owns(0, YOLOX_PEOPLE, lambda codec, k: 0)}, (), _vis_off,
                decode_args=lambda codec, args, encoded: [])


@functools.lru_cache(maxsize=None)
def _yolox_encoders():
    return {compat: jax.jit(YOLOXPoseAnnotationProcessor(expand_bbox=True, mmpose_compat=compat).encode)
            for compat in (True, False)}


def _yolox_reference(kp, vis, corners, compat):
    """The expansion in NumPy (float64): counted keypoints (visibility != 0),
    MMPose's +-1e6 stand-ins for the others in the compat mode."""
    counted = (vis != 0)[..., None]
    far = 1e6 if compat else np.inf
    low = np.where(counted, kp, far).min(axis=1)
    high = np.where(counted, kp, -far).max(axis=1)
    return np.concatenate([np.minimum(corners[:, :2], low), np.maximum(corners[:, 2:], high)], axis=-1)


def round_trip_yolox(data):
    """Nothing to decode: the property is the expansion itself. Float boxes
    are exactly the smallest boxes holding the box and the counted
    keypoints (exact mode), with MMPose's +-1e6 stand-ins in the compat
    mode; integer boxes are those rounded outward (exact) or truncated
    toward zero (compat); ``bbox_labels = category_id - 1``."""
    kp, vis, corners, ids = yolox_draw(data.draw, False)
    for compat, encode in _yolox_encoders().items():
        expected = _yolox_reference(kp.astype(np.float64), vis, corners.astype(np.float64), compat)
        out = encode(kp, vis, corners, ids)
        np.testing.assert_array_equal(np.asarray(out["bbox"], np.float64), expected.astype(np.float32))
        np.testing.assert_array_equal(np.asarray(out["bbox_labels"]), ids - 1)
        integer = np.trunc(corners).astype(np.int32)
        expected = _yolox_reference(kp.astype(np.float64), vis, integer.astype(np.float64), compat)
        rounded = np.trunc(expected) if compat else np.concatenate(
            [np.floor(expected[:, :2]), np.ceil(expected[:, 2:])], axis=-1)
        got = np.asarray(encode(kp, vis, integer, ids)["bbox"])
        assert got.dtype == np.int32
        np.testing.assert_array_equal(got, rounded.astype(np.int32))


FUZZ.update({
    "EDPoseLabel": Entry(
        cases=(edpose_case("select4-compat", lambda: EDPoseLabel(num_select=4, num_keypoints=K)),
               edpose_case("all-exact", lambda: EDPoseLabel(num_keypoints=K, mmpose_compat=False))),
        round_trip=round_trip_edpose,
    ),
    "YOLOXPoseAnnotationProcessor": Entry(
        cases=(yolox_case("expand-compat", lambda: YOLOXPoseAnnotationProcessor(expand_bbox=True)),
               yolox_case("expand-exact", lambda: YOLOXPoseAnnotationProcessor(expand_bbox=True,
                                                                                 mmpose_compat=False))),
        round_trip=round_trip_yolox,
    ),
})
