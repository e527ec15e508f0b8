"""The exact mode's refinement up to the map border (``mmpose_compat=False``):
MSRA-DARK, UDP gaussian and SimCC-DARK switch from DARK to a fit of a
Gaussian of the codec's width where DARK's blurred reads reach past the
border; UDP combined reads its offsets. Round trips of keypoints anywhere
from half a map unit (heatmap px, SimCC bin) inside the border are checked
against the keypoints themselves, over several sizes, sigmas and blur
sizes; the refinement's derivatives w.r.t. the map values against finite
differences (``jax.test_util.check_grads``), for a keypoint in the border
band and one in the interior.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

from jaxcodecs import MSRAHeatmap, SimCCLabel, UDPHeatmap, ops

# name -> codec (exact mode). Map sizes (W, H): 48x64, 32x32, 64x64,
# 40x56 and SimCC vectors of 384x512 and 240x336 bins; sigmas 1.5 to 3
# (SimCC 3 and 6 bins) and blur sizes 7, 11 and 17.
CODECS = {
    "msra_s2_k11": lambda: MSRAHeatmap((192, 256), (48, 64), 2.0, unbiased=True, mmpose_compat=False),
    "msra_s1.5_k7": lambda: MSRAHeatmap((128, 128), (32, 32), 1.5, unbiased=True, blur_kernel_size=7,
                                         mmpose_compat=False),
    "udp_s3_k17": lambda: UDPHeatmap((256, 256), (64, 64), "gaussian", 3.0, blur_kernel_size=17,
                                     mmpose_compat=False),
    "udp_s1.5_k11": lambda: UDPHeatmap((160, 224), (40, 56), "gaussian", 1.5, mmpose_compat=False),
    "udp_combined": lambda: UDPHeatmap((192, 256), (48, 64), "combined", mmpose_compat=False),
    "simcc_s6": lambda: SimCCLabel((192, 256), sigma=6.0, use_dark=True, mmpose_compat=False),
    "simcc_s3": lambda: SimCCLabel((160, 224), sigma=3.0, simcc_split_ratio=1.5, use_dark=True,
                                   mmpose_compat=False),
}
NUM = 24


def _geometry(codec):
    """``(size (2,), unit (2,))``: the map's extent in map units and input px per unit."""
    if isinstance(codec, SimCCLabel):
        return np.asarray(codec.label_lengths, np.float64), np.full(2, 1.0 / codec.simcc_split_ratio)
    size = np.asarray(codec.heatmap_size, np.float64)
    if isinstance(codec, UDPHeatmap):
        return size, (np.asarray(codec.input_size, np.float64) - 1) / (size - 1)
    return size, np.asarray(codec.input_size, np.float64) / size


@functools.lru_cache(maxsize=None)
def _round_trip(name):
    codec = CODECS[name]()
    return codec, jax.jit(lambda kp: codec.round_trip(kp, jnp.ones(kp.shape[:2], jnp.float32))[0])


def _coordinate(size):
    """A map coordinate from 0.5 units inside the border: near the low end,
    near the high end (within 10 units) or anywhere."""
    near = st.floats(0.5, 10.0)
    return st.one_of(near, near.map(lambda d: size - 1 - d), st.floats(0.5, size - 1.5))


@pytest.mark.parametrize("name", list(CODECS))
@settings(max_examples=8)
@given(data=st.data())
def test_exact_round_trip_up_to_the_border(name, data):
    """Within 0.05 input px (measured: below 1e-3) anywhere from half a map
    unit inside the border; each example draws 24 keypoints, each coordinate
    near either end or anywhere on the map."""
    codec, round_trip = _round_trip(name)
    size, unit = _geometry(codec)
    points = np.array([[data.draw(_coordinate(size[0])), data.draw(_coordinate(size[1]))] for _ in range(NUM)])
    keypoints = (points * unit)[None].astype(np.float32)
    decoded = np.asarray(round_trip(keypoints), np.float64)
    error = np.abs(decoded - keypoints.astype(np.float64)).max()
    assert error < 0.05, (error, points[np.abs(decoded - keypoints)[0].max(-1).argmax()])


def _gaussians(centres, sigma, height, width, noise_seed):
    """float64 Gaussians at ``centres (K, 2)`` plus a small fixed perturbation
    (so that no fit is exact and every pixel matters)."""
    ys, xs = np.mgrid[0:height, 0:width]
    maps = np.exp(-((xs - centres[:, 0, None, None]) ** 2 + (ys - centres[:, 1, None, None]) ** 2) / (2 * sigma**2))
    return maps * (1 + 0.02 * np.random.default_rng(noise_seed).uniform(-1, 1, maps.shape))


@pytest.mark.parametrize("udp", [False, True])
def test_heatmap_refinement_gradients(udp):
    """``check_grads`` (float64, forward and reverse) of the exact-mode
    decode w.r.t. the map values: one keypoint 2.3 px from the left border
    (the fit) and one 8 px or more inside every border (DARK)."""
    sigma, (width, height) = 2.0, (20, 18)
    centres = np.array([[2.3, 9.4], [9.6, 8.7]])
    with jax.enable_x64(True):
        maps = jnp.asarray(_gaussians(centres, sigma, height, width, 1))
        if udp:
            codec = UDPHeatmap((77, 69), (width, height), "gaussian", sigma, mmpose_compat=False)
        else:
            codec = MSRAHeatmap((80, 72), (width, height), sigma, unbiased=True, mmpose_compat=False)
        decode = jax.jit(lambda h: codec.decode(h)[0])
        located = np.asarray(ops.heatmap_argmax(maps)[0])
        assert located.tolist() == [[2.0, 9.0], [10.0, 9.0]]
        keypoints = np.asarray(decode(maps))
        assert keypoints.dtype == np.float64
        # Both moved off their pixel: the gradients below are of real steps.
        assert np.all(np.abs(keypoints[0] / np.asarray(codec.scale_factor) - located) > 1e-3)
        check_grads(decode, (maps,), order=1, modes=("fwd", "rev"), eps=1e-5, atol=1e-5, rtol=1e-4)


def test_simcc_refinement_gradients():
    """``check_grads`` of the exact-mode SimCC-DARK decode w.r.t. the vectors:
    one keypoint 1.7 bins from an end (the fit) and one in the middle (DARK)."""
    codec = SimCCLabel((40, 40), sigma=2.0, simcc_split_ratio=1.0, use_dark=True, mmpose_compat=False)
    bins = np.arange(40)
    centres = np.array([[1.7, 20.4], [19.3, 37.6]])  # (K, axis)
    with jax.enable_x64(True):
        rng = np.random.default_rng(2)
        sx = np.exp(-((bins - centres[:, None, 0]) ** 2) / 8) * (1 + 0.02 * rng.uniform(-1, 1, (2, 40)))
        sy = np.exp(-((bins - centres[:, None, 1]) ** 2) / 8) * (1 + 0.02 * rng.uniform(-1, 1, (2, 40)))
        decode = jax.jit(lambda x, y: codec.decode(x, y)[0])
        keypoints = np.asarray(decode(jnp.asarray(sx), jnp.asarray(sy)))
        assert np.abs(keypoints[0] - centres).max() < 0.1
        check_grads(decode, (jnp.asarray(sx), jnp.asarray(sy)), order=1, modes=("fwd", "rev"),
                    eps=1e-5, atol=1e-5, rtol=1e-4)
