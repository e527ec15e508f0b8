"""Windowed DARK refinements (``jaxcodecs.ops.windows``) against whole-map
NumPy formulas: the window gather's border rules, the window blur, and
R2 / R3 on batches where the rescale factor cancels (a window suffices)
and where it does not (the whole maps are blurred), at the border, on
all-zero, constant and negative channels, and their gradients.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcodecs import ops
from jaxcodecs.ops.windows import blur_windows, border_index, gather_windows

_MODES = {"zero": "constant", "edge": "edge", "reflect101": "reflect"}


@pytest.mark.parametrize("border", sorted(_MODES))
@pytest.mark.parametrize("shape", [(9, 7), (1, 5), (2, 3)])
def test_gather_windows_matches_padded_map(border, shape):
    """Every window equals the slice of the map padded (far enough) by
    NumPy's rule of the same name, for centres on, near and far off the map."""
    rng = np.random.default_rng(0)
    height, width = shape
    maps = rng.normal(size=(2, 3, height, width)).astype(np.float32)
    x = rng.integers(-12, width + 12, size=(2, 4, 3))
    y = rng.integers(-12, height + 12, size=(2, 4, 3))
    half = 4
    out = np.asarray(jax.jit(lambda m, a, b: gather_windows(m, a, b, half, border))(maps, x, y))
    assert out.shape == (2, 4, 3, 9, 9)
    pad = 40
    padded = np.pad(maps, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode=_MODES[border])
    for b in range(2):
        for n in range(4):
            for k in range(3):
                r0, c0 = y[b, n, k] - half + pad, x[b, n, k] - half + pad
                np.testing.assert_array_equal(out[b, n, k], padded[b, k, r0:r0 + 9, c0:c0 + 9])


def test_border_index_reflect101_is_opencv_rule(npref):
    for size in (1, 2, 5):
        index = np.arange(-20, 25)
        got, inside = border_index(jnp.asarray(index), size, "reflect101")
        assert np.asarray(inside).all()
        np.testing.assert_array_equal(got, [npref.reflect101(int(i), size) for i in index])


@pytest.mark.parametrize("ksize", [1, 3, 5, 11])
def test_blur_windows_equals_whole_map_blur(ksize, npref):
    """A zero-bordered window, blurred, holds the whole map's zero-padded
    blur (float64 direct 2-D reference) at the pixels inside the map."""
    rng = np.random.default_rng(ksize)
    maps = rng.uniform(-0.2, 1.0, size=(3, 10, 8)).astype(np.float32)
    whole = npref.blur2d(maps, ksize, border="zero")
    x = np.array([[0, 4, 7]])
    y = np.array([[9, 5, 0]])
    reach = 2
    windows = blur_windows(gather_windows(jnp.asarray(maps), x, y, reach + ksize // 2, "zero"), ksize)
    windows = np.asarray(windows)
    assert windows.shape == (1, 3, 5, 5)
    for k in range(3):
        for i in range(5):
            for j in range(5):
                row, col = y[0, k] - reach + i, x[0, k] - reach + j
                if 0 <= row < 10 and 0 <= col < 8:
                    np.testing.assert_allclose(windows[0, k, i, j], whole[k, row, col], rtol=2e-6, atol=1e-7)


def _maps(rng, npref, batch, height=20, width=24):
    """A batch of (K = 8) maps of every kind: clean and noisy Gaussians (the
    window suffices), a Gaussian beside a broader second blob (the blurred
    maximum lies outside the window), a Gaussian on a negative background
    (reads clipped and unclipped: the true rescale factor is needed), an
    all-zero, a constant and an all-negative channel, and a peak on the border."""
    out = []
    for _ in range(batch):
        clean, _ = npref.gaussian_blob_maps(rng, 3, height, width, sigma=2.0, margin=3, noise=0.0)
        noisy, _ = npref.gaussian_blob_maps(rng, 1, height, width, sigma=2.0, margin=3, noise=0.05)
        maps = np.concatenate([clean, noisy, np.zeros((4, height, width), np.float32)])
        ys, xs = np.mgrid[0:height, 0:width]
        cx, cy = rng.uniform(5, width - 6), rng.uniform(5, height - 6)
        narrow = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * 0.6**2))
        broad = 0.9 * np.exp(-((xs - (cx + 7) % width) ** 2 + (ys - cy) ** 2) / (2 * 3.0**2))
        maps[2] = narrow + broad
        maps[3] = np.where(np.hypot(xs - cx, ys - cy) < 1.5, narrow, -0.3)  # background < 0
        maps[5] = 0.25  # constant: the first pixel is the maximum
        maps[6] = -rng.uniform(0.1, 1.0, size=(height, width))  # no peak (-1)
        maps[7] = np.exp(-((xs - 0.3) ** 2 + (ys - cy) ** 2) / 8.0)  # peak on the left border
        out.append(maps.astype(np.float32))
    return np.stack(out)


@pytest.mark.parametrize("name,ref_name", [("refine_keypoints_dark", "refine_dark"),
                                           ("refine_keypoints_dark_udp", "refine_dark_udp")])
def test_batched_dark_matches_whole_map_reference(name, ref_name, npref):
    """(B, N, K, 2) keypoints on (B, K, H, W) maps in one call equal the
    float64 whole-map formulas sample by sample, at the maxima and at
    every pixel of a row through the border."""
    rng = np.random.default_rng(3)
    maps = _maps(rng, npref, 3)
    locs = np.asarray(ops.heatmap_argmax(maps)[0])
    row = np.stack([np.stack([np.full(8, c), np.full(8, 10)], -1) for c in (0, 1, 2, 21, 22, 23)])
    kp = np.concatenate([locs[:, None], np.broadcast_to(row, (3,) + row.shape)], axis=1).astype(np.float32)
    fn = jax.jit(lambda a, b: getattr(ops, name)(a, b, 11))
    out = np.asarray(fn(kp, maps))
    for b in range(3):
        ref = getattr(npref, ref_name)(kp[b], maps[b], 11)
        finite = np.isfinite(ref)
        assert np.isfinite(out[b]).all()
        # Off the maxima the step may be long (nearly flat log-maps): relative there.
        np.testing.assert_allclose((out[b] - kp[b])[finite], (ref - kp[b])[finite], rtol=1e-3, atol=2e-4)
        np.testing.assert_array_equal(out[b, 0, 6], [-1, -1])  # no peak: unchanged
        np.testing.assert_array_equal(out[b, 0, 4], kp[b, 0, 4])  # all-zero channel: unchanged
    # One sample alone gives what it gives in the batch.
    np.testing.assert_allclose(fn(kp[1], maps[1]), out[1], rtol=1e-6, atol=1e-6)


def test_negative_background_needs_the_whole_map(npref):
    """On the negative-background channel of ``_maps`` the window's blurred
    values are not all positive, so the bounds on the rescale factor decide
    nothing (here the whole blurred map is negative and the factor flips
    its sign): the whole-map path must give the reference."""
    rng = np.random.default_rng(8)
    maps = _maps(rng, npref, 1)[0]
    kp = np.asarray(ops.heatmap_argmax(maps)[0])[None]
    x, y = (int(v) for v in kp[0, 3])
    raw = npref.blur2d(maps, 11, border="zero")[3, y - 2:y + 3, x - 2:x + 3]
    assert (raw <= 0).any()
    for name, ref_name in (("refine_keypoints_dark", "refine_dark"), ("refine_keypoints_dark_udp", "refine_dark_udp")):
        out = np.asarray(jax.jit(lambda a, b, f=getattr(ops, name): f(a, b, 11))(kp, maps))
        np.testing.assert_allclose(out[0, 3], getattr(npref, ref_name)(kp, maps, 11)[0, 3], atol=1e-4)


@pytest.mark.parametrize("name", ["refine_keypoints_dark", "refine_keypoints_dark_udp"])
@pytest.mark.parametrize("channel", [0, 3])
def test_dark_gradient_matches_finite_differences(name, channel, npref):
    """The Jacobian of the refined keypoint w.r.t. the 5x5 pixels around
    the maximum, through the window path (clean Gaussian) and through the
    whole-map path (negative background), against central differences in
    float64 of the NumPy whole-map formula."""
    rng = np.random.default_rng(9)
    maps = _maps(rng, npref, 1)[0]
    kp = np.asarray(ops.heatmap_argmax(maps)[0])[None]
    x, y = (int(v) for v in kp[0, channel])
    ref_name = "refine_dark" if name == "refine_keypoints_dark" else "refine_dark_udp"

    def refined(m):
        return getattr(ops, name)(kp, m, 11)[0, channel]

    jac = np.asarray(jax.jacfwd(refined)(jnp.asarray(maps)))[:, channel, y - 2:y + 3, x - 2:x + 3]
    step = 1e-4
    for i in range(5):
        for j in range(5):
            up, down = maps.astype(np.float64), maps.astype(np.float64)
            up[channel, y - 2 + i, x - 2 + j] += step
            down[channel, y - 2 + i, x - 2 + j] -= step
            ref = getattr(npref, ref_name)(kp, up, 11)[0, channel] - getattr(npref, ref_name)(kp, down, 11)[0, channel]
            np.testing.assert_allclose(jac[:, i, j], ref / (2 * step), rtol=2e-2, atol=2e-2)


def test_udp_dark_reads_given_log_maps_as_its_own(npref):
    """With ``lazy=False``, UDP-DARK given the whole modulated log-maps
    (``log(clip(blur_rescaled(h), 1e-3, 50))``, as AssociativeEmbedding's
    decode computes them anyway) steps exactly as it does computing its own:
    same values read, same rounding; the float64 formulas agree too. A lazy
    call, which never computes whole maps, refuses them."""
    rng = np.random.default_rng(5)
    maps = _maps(rng, npref, 2)
    locs = np.asarray(ops.heatmap_argmax(maps)[0])[:, None].astype(np.float32)  # (B, 1, K, 2)
    logs = jax.jit(lambda h: jnp.log(jnp.clip(ops.gaussian_blur_rescaled(h, 5), 1e-3, 50.0)))(maps)
    own = jax.jit(lambda k, h: ops.refine_keypoints_dark_udp(k, h, 5, lazy=False))(locs, maps)
    given = jax.jit(lambda k, h, g: ops.refine_keypoints_dark_udp(k, h, 5, lazy=False, log_maps=g))(locs, maps, logs)
    np.testing.assert_array_equal(np.asarray(given), np.asarray(own))
    for b in range(2):
        ref = npref.refine_dark_udp(locs[b], maps[b], 5)
        finite = np.isfinite(ref)
        np.testing.assert_allclose((np.asarray(given[b]) - locs[b])[finite], (ref - locs[b])[finite],
                                   rtol=1e-3, atol=2e-4)
    with pytest.raises(ValueError, match="log_maps"):
        ops.refine_keypoints_dark_udp(locs, maps, 5, lazy=True, log_maps=logs)
