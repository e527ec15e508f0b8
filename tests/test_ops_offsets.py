"""UDP's combined targets (``ops.offsets``): rendering against MMPose's
formula (MMPOSE_BEHAVIOUR §1.5, ``npref.g4``), decoding against a NumPy
re-implementation, and the round trip, which is exact because the offset
maps are affine in the pixel coordinates."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcodecs import ops

SIZE = (24, 20)  # (W, H)


def random_keypoints(rng, num_instances, num_keypoints, margin=-3.0):
    width, height = SIZE
    return np.stack([rng.uniform(margin, width - 1 - margin, (num_instances, num_keypoints)),
                     rng.uniform(margin, height - 1 - margin, (num_instances, num_keypoints))],
                    -1).astype(np.float32)


@pytest.mark.parametrize("radius_factor", (0.0546875, 0.15))
def test_render_matches_mmpose_formula(radius_factor, npref):
    rng = np.random.default_rng(7)
    kp = random_keypoints(rng, 2, 5)
    vis = np.array([[1.0, 1.0, 0.0, 0.6, 0.0], [1.0, 0.3, 1.0, 0.0, 0.0]], np.float32)
    heat, weights = jax.jit(lambda a, b: ops.render_udp_offset_maps(a, b, SIZE, radius_factor))(kp, vis)
    ref_heat, ref_weights = npref.g4(kp, vis, SIZE, radius_factor)
    assert heat.shape == (15, 20, 24)
    np.testing.assert_allclose(heat, ref_heat, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(weights, ref_weights)
    # Keypoint 4 is invisible in both instances: all three channels are zero.
    np.testing.assert_array_equal(heat[12:15], 0.0)


def decode_reference(maps, radius_factor, blur_kernel_size, npref):
    """Blur the class maps (reflect-101), take the first maximum, add the
    offsets read there times the radius; no offset where the maximum is <= 0."""
    width, height = maps.shape[2], maps.shape[1]
    classes = npref.blur2d(maps[0::3], blur_kernel_size)
    locs, vals = npref.argmax(classes)
    radius = radius_factor * max(width, height)
    kp = locs.copy()
    for k, (x, y) in enumerate(locs.astype(int)):
        if vals[k] > 0:
            kp[k] += (maps[3 * k + 1, y, x] * radius, maps[3 * k + 2, y, x] * radius)
    return kp, vals


@pytest.mark.parametrize("blur_kernel_size", (3, 23))
def test_decode_matches_reference(blur_kernel_size, npref, variant):
    rng = np.random.default_rng(blur_kernel_size)
    maps = rng.uniform(-1.0, 1.0, (12, 20, 24)).astype(np.float32)
    maps[6] = -np.abs(maps[6])  # a class map with no peak: location -1, no offset
    kp, scores = variant(lambda m: ops.decode_udp_offset_maps(m, 0.1, blur_kernel_size))(maps)
    ref_kp, ref_scores = decode_reference(maps.astype(np.float64), 0.1, blur_kernel_size, npref)
    assert kp.shape == (4, 2) and scores.shape == (4,)
    np.testing.assert_allclose(kp, ref_kp, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(kp[2], [-1.0, -1.0])


@pytest.mark.parametrize("radius_factor", (0.0546875, 0.3))
def test_decode_inverts_render(radius_factor, variant):
    """Wherever the class maximum lands, ``pixel + radius * offset(pixel)``
    is the keypoint: the round trip is exact up to float32 rounding."""
    rng = np.random.default_rng(3)
    kp = random_keypoints(rng, 1, 12, margin=0.5)

    def round_trip(k):
        maps, _ = ops.render_udp_offset_maps(k, jnp.ones((1, 12)), SIZE, radius_factor)
        return ops.decode_udp_offset_maps(maps, radius_factor, 11)

    decoded, scores = variant(round_trip)(kp)
    np.testing.assert_allclose(decoded, kp[0], atol=2e-5)
    assert np.all(np.asarray(scores) > 0)


def test_decode_bad_shapes():
    with pytest.raises(ValueError, match=r"`maps` must have shape \(3K, H, W\).*multiple of 3"):
        ops.decode_udp_offset_maps(np.zeros((4, 8, 8), np.float32), 0.1, 3)
    with pytest.raises(ValueError, match=r"`maps` must have shape \(3K, H, W\)"):
        ops.decode_udp_offset_maps(np.zeros((8, 8), np.float32), 0.1, 3)
