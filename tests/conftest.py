"""Shared test set-up.

1. Eight fake CPU devices for the sharding tests. ``XLA_FLAGS`` must be set
   before JAX creates its CPU client, so this runs at the very top of the
   conftest, which pytest imports before any test module. Next to it, one
   XLA compilation cache directory for the whole run (see below).
2. Hypothesis settings profiles, chosen by ``HYPOTHESIS_PROFILE``:
   ``ci`` (the default) is reproducible: derandomized (the same examples on
   every run and machine), no example database, no deadline (the first
   example of a test pays JAX's compilation), and a failing example is
   printed with a blob that replays it (``@reproduce_failure``). ``dev``
   draws new random examples on every run and keeps failing ones in the
   local ``.hypothesis/`` database, to be replayed first next time. Tests set
   only ``max_examples``; everything else comes from the profile.
3. ``npref``: independent NumPy re-implementations (plain loops, float64) of
   the formulas of MMPose 1.3.2 that jaxcodecs ports, written from
   ``MMPOSE_BEHAVIOUR.md`` §1 and OpenCV's documented rules, never from the
   library's code. Tests compare the library against them.
4. ``JAXCODECS_TEST_OFF_CPU_PROGRAMS=1`` makes every ``lax.platform_dependent``
   take its ``default`` branch, so that the programs other backends (GPU,
   TPU) compile run here on the CPU: ``test_conformance`` runs the golden
   vectors so in a child process (``OFF_CPU_PROGRAMS`` below).
"""

import os

_DEVICE_FLAG = "--xla_force_host_platform_device_count=8"
if _DEVICE_FLAG not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + _DEVICE_FLAG).strip()

import shutil  # noqa: E402
import tempfile  # noqa: E402

# One XLA compilation cache for the whole run, shared by the xdist workers
# and the notebooks' kernels (they inherit the environment): many modules
# compile the same codec functions (the API, example, sharding, fuzz and
# conformance suites walk the same configurations), and a compilation found
# in the cache is the same executable, so only time is saved. The directory
# is made by the process that starts the run and removed when it ends; a
# JAX_COMPILATION_CACHE_DIR set by the caller is used (and kept) instead:
# `.ci/run` keeps one between runs.
_OWN_CACHE_DIR = None
if "PYTEST_XDIST_WORKER" not in os.environ:
    if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
        _OWN_CACHE_DIR = tempfile.mkdtemp(prefix="jaxcodecs-test-xla-cache-")
        os.environ["JAX_COMPILATION_CACHE_DIR"] = _OWN_CACHE_DIR
    # Every compilation and entry size: most of the suite's compilations
    # take 0.1-1 s, below JAX's defaults for what is worth caching.
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

OFF_CPU_PROGRAMS = "JAXCODECS_TEST_OFF_CPU_PROGRAMS"


def default_branch(*args, default=None, **per_platform):
    """``lax.platform_dependent`` as other backends see it: the ``default``
    branch (patched in for the child run below, or by a test)."""
    return default(*args)


if os.environ.get(OFF_CPU_PROGRAMS) == "1":
    import jax  # noqa: E402

    jax.lax.platform_dependent = default_branch

import math  # noqa: E402
import types  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# ----------------------------------------------------------------- hypothesis
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("dev", derandomize=False, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# --------------------------------------------------------------------- blurs
# OpenCV's GaussianBlur with sigma = 0 uses these integer tables for k <= 9.
_OPENCV_TABLES = {
    1: [1],
    3: [1, 2, 1],
    5: [1, 4, 6, 4, 1],
    7: [2, 7, 14, 18, 14, 7, 2],
    9: [4, 13, 30, 51, 60, 51, 30, 13, 4],
}


def opencv_kernel(k):
    """OpenCV's 1-D kernel for ``GaussianBlur(img, (k, k), 0)`` (float64)."""
    if k in _OPENCV_TABLES:
        table = np.array(_OPENCV_TABLES[k], np.float64)
        return table / table.sum()
    sigma = 0.3 * ((k - 1) * 0.5 - 1) + 0.8
    taps = np.arange(k, dtype=np.float64) - (k - 1) / 2
    kernel = np.exp(-(taps**2) / (2 * sigma**2))
    return kernel / kernel.sum()


def reflect101(p, n):
    """OpenCV's BORDER_REFLECT_101 index (``dcb|abcd|cba``), repeated as needed."""
    if n == 1:
        return 0
    while p < 0 or p >= n:
        p = -p if p < 0 else 2 * (n - 1) - p
    return p


def _source(p, n, border):
    """(index, factor) of the sample read at position ``p`` of an axis of ``n``."""
    if 0 <= p < n:
        return p, 1.0
    if border == "zero":
        return 0, 0.0
    return reflect101(p, n), 1.0


def blur2d(x, k, border="reflect101"):
    """Direct (non-separable) 2-D convolution with the outer-product kernel."""
    x = np.asarray(x, np.float64)
    kernel = opencv_kernel(k)
    half = k // 2
    height, width = x.shape[-2:]
    out = np.zeros_like(x)
    for dy in range(-half, half + 1):
        rows = [_source(y + dy, height, border) for y in range(height)]
        row_idx = np.array([r[0] for r in rows])
        row_fac = np.array([r[1] for r in rows])
        for dx in range(-half, half + 1):
            cols = [_source(c + dx, width, border) for c in range(width)]
            col_idx = np.array([c[0] for c in cols])
            col_fac = np.array([c[1] for c in cols])
            shifted = x[..., row_idx, :][..., :, col_idx] * row_fac[:, None] * col_fac[None, :]
            out += kernel[dy + half] * kernel[dx + half] * shifted
    return out


def blur1d(x, k, border="reflect101"):
    """1-D convolution along the last axis."""
    x = np.asarray(x, np.float64)
    kernel = opencv_kernel(k)
    half = k // 2
    length = x.shape[-1]
    out = np.zeros_like(x)
    for d in range(-half, half + 1):
        src = [_source(i + d, length, border) for i in range(length)]
        idx = np.array([s[0] for s in src])
        fac = np.array([s[1] for s in src])
        out += kernel[d + half] * x[..., idx] * fac
    return out


def blur_rescaled(x, k):
    """MMPose's B1: zero-padded blur, each map rescaled to its original max
    (an all-zero map stays zero instead of MMPose's 0/0 NaN)."""
    x = np.asarray(x, np.float64)
    out = blur2d(x, k, border="zero")
    flat_in = x.reshape(-1, *x.shape[-2:])
    flat_out = out.reshape(-1, *x.shape[-2:])
    for i in range(flat_out.shape[0]):
        peak = flat_out[i].max()
        if peak != 0:
            flat_out[i] *= flat_in[i].max() / peak
    return flat_out.reshape(x.shape)


def blur1d_rescaled(x, k):
    x = np.asarray(x, np.float64)
    out = blur1d(x, k, border="zero")
    flat_in = x.reshape(-1, x.shape[-1])
    flat_out = out.reshape(-1, x.shape[-1])
    for i in range(flat_out.shape[0]):
        peak = flat_out[i].max()
        if peak != 0:
            flat_out[i] *= flat_in[i].max() / peak
    return flat_out.reshape(x.shape)


# ---------------------------------------------------------------- renderers
def _sigma_of(sigma, n):
    sigma = np.asarray(sigma, np.float64)
    return float(sigma) if sigma.ndim == 0 else float(sigma[n])


def g1_mmpose(kp, vis, size, sigma):
    """MMPose's windowed Gaussian G1 (§1.2), incl. its one-pixel shift.

    sigma = 0 gives the unit impulse of the policy (MMPose: NaN)."""
    kp = np.asarray(kp, np.float64)
    vis = np.asarray(vis)
    width, height = size
    num_instances, num_keypoints = vis.shape
    heat = np.zeros((num_keypoints, height, width))
    weights = vis.astype(np.float64).copy()
    for n in range(num_instances):
        s = _sigma_of(sigma, n)
        r = 3 * s
        gs = 2 * r + 1
        length = math.ceil(gs)
        c = math.floor(gs / 2)
        for k in range(num_keypoints):
            if vis[n, k] < 0.5:
                continue
            mu_x = int(kp[n, k, 0] + 0.5)  # int() truncates toward zero
            mu_y = int(kp[n, k, 1] + 0.5)
            left, top = int(mu_x - r), int(mu_y - r)
            right, bottom = int(mu_x + r + 1), int(mu_y + r + 1)
            if left >= width or top >= height or right < 0 or bottom < 0:
                weights[n, k] = 0
                continue
            for y in range(max(0, top), min(height, bottom)):
                for x in range(max(0, left), min(width, right)):
                    i, j = x - left, y - top
                    assert i < length and j < length
                    if s == 0:
                        value = 1.0 if (i == c and j == c) else 0.0
                    else:
                        value = math.exp(-((i - c) ** 2 + (j - c) ** 2) / (2 * s * s))
                    heat[k, y, x] = max(heat[k, y, x], value)
    return heat, weights


def g1_exact(kp, vis, size, sigma):
    """The geometrically exact windowed Gaussian (``mmpose_compat=False``):
    centred on ``mu = floor(kp + 0.5)``, every pixel with ``|p - mu| <= 3σ``
    per axis drawn; weight 0 when no such pixel lies on the map."""
    kp = np.asarray(kp, np.float64)
    vis = np.asarray(vis)
    width, height = size
    num_instances, num_keypoints = vis.shape
    heat = np.zeros((num_keypoints, height, width))
    weights = vis.astype(np.float64).copy()
    for n in range(num_instances):
        s = _sigma_of(sigma, n)
        r = 3 * s
        for k in range(num_keypoints):
            if vis[n, k] < 0.5:
                continue
            mu_x = math.floor(kp[n, k, 0] + 0.5)
            mu_y = math.floor(kp[n, k, 1] + 0.5)
            xs = [x for x in range(width) if abs(x - mu_x) <= r]
            ys = [y for y in range(height) if abs(y - mu_y) <= r]
            if not xs or not ys:
                weights[n, k] = 0
                continue
            for y in ys:
                for x in xs:
                    d2 = (x - mu_x) ** 2 + (y - mu_y) ** 2
                    value = float(d2 == 0) if s == 0 else math.exp(-d2 / (2 * s * s))
                    heat[k, y, x] = max(heat[k, y, x], value)
    return heat, weights


def g2(kp, vis, size, sigma):
    """MMPose's full-map Gaussian G2 (§1.3)."""
    kp = np.asarray(kp, np.float64)
    vis = np.asarray(vis)
    width, height = size
    num_instances, num_keypoints = vis.shape
    heat = np.zeros((num_keypoints, height, width))
    weights = vis.astype(np.float64).copy()
    for n in range(num_instances):
        s = _sigma_of(sigma, n)
        r = 3 * s
        for k in range(num_keypoints):
            if vis[n, k] < 0.5:
                continue
            mx, my = kp[n, k]
            if mx - r >= width or my - r >= height or mx + r + 1 < 0 or my + r + 1 < 0:
                weights[n, k] = 0
                continue
            for y in range(height):
                for x in range(width):
                    value = math.exp(-((x - mx) ** 2 + (y - my) ** 2) / (2 * s * s))
                    heat[k, y, x] = max(heat[k, y, x], value)
    return heat, weights


def g3_mmpose(kp, vis, size, sigma):
    """MMPose's UDP windowed Gaussian G3 (§1.4): G1's window, sub-pixel centre."""
    kp = np.asarray(kp, np.float64)
    vis = np.asarray(vis)
    width, height = size
    num_instances, num_keypoints = vis.shape
    heat = np.zeros((num_keypoints, height, width))
    weights = vis.astype(np.float64).copy()
    s = float(sigma)
    r = 3 * s
    c = math.floor((2 * r + 1) / 2)
    for n in range(num_instances):
        for k in range(num_keypoints):
            if vis[n, k] < 0.5:
                continue
            mu_x = int(kp[n, k, 0] + 0.5)
            mu_y = int(kp[n, k, 1] + 0.5)
            left, top = int(mu_x - r), int(mu_y - r)
            right, bottom = int(mu_x + r + 1), int(mu_y + r + 1)
            if left >= width or top >= height or right < 0 or bottom < 0:
                weights[n, k] = 0
                continue
            x0 = c + (kp[n, k, 0] - mu_x)
            y0 = c + (kp[n, k, 1] - mu_y)
            for y in range(max(0, top), min(height, bottom)):
                for x in range(max(0, left), min(width, right)):
                    i, j = x - left, y - top
                    value = math.exp(-((i - x0) ** 2 + (j - y0) ** 2) / (2 * s * s))
                    heat[k, y, x] = max(heat[k, y, x], value)
    return heat, weights


def g3_exact(kp, vis, size, sigma):
    """The exact UDP Gaussian: the true Gaussian of the keypoint on the pixels
    within 3σ (per axis) of ``mu = floor(kp + 0.5)``; weight 0 off the map."""
    kp = np.asarray(kp, np.float64)
    vis = np.asarray(vis)
    width, height = size
    num_instances, num_keypoints = vis.shape
    heat = np.zeros((num_keypoints, height, width))
    weights = vis.astype(np.float64).copy()
    s = float(sigma)
    r = 3 * s
    for n in range(num_instances):
        for k in range(num_keypoints):
            if vis[n, k] < 0.5:
                continue
            kx, ky = kp[n, k]
            mu_x, mu_y = math.floor(kx + 0.5), math.floor(ky + 0.5)
            xs = [x for x in range(width) if abs(x - mu_x) <= r]
            ys = [y for y in range(height) if abs(y - mu_y) <= r]
            if not xs or not ys:
                weights[n, k] = 0
                continue
            for y in ys:
                for x in xs:
                    value = math.exp(-((x - kx) ** 2 + (y - ky) ** 2) / (2 * s * s))
                    heat[k, y, x] = max(heat[k, y, x], value)
    return heat, weights


def g4(kp, vis, size, radius_factor):
    """MMPose's UDP offset maps G4 (§1.5): class disk + x / y offsets, the
    last visible instance overwriting earlier ones. Offsets are float32 as in
    MMPose (float32 keypoints and grid), which decides pixels on the disk's
    boundary."""
    kp = np.asarray(kp, np.float32)
    vis = np.asarray(vis)
    width, height = size
    num_instances, num_keypoints = vis.shape
    radius = np.float32(radius_factor * max(width, height))
    heat = np.zeros((num_keypoints * 3, height, width))
    for n in range(num_instances):
        for k in range(num_keypoints):
            if vis[n, k] < 0.5:
                continue
            ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
            xo = (kp[n, k, 0] - xs) / radius
            yo = (kp[n, k, 1] - ys) / radius
            heat[3 * k] = (xo * xo + yo * yo <= np.float32(1)).astype(np.float64)
            heat[3 * k + 1] = xo
            heat[3 * k + 2] = yo
    return heat, vis.astype(np.float64).copy()


# ------------------------------------------------------- maxima, refinement
def argmax(heatmaps):
    """M1: first maximum in row-major order; (-1, -1) where max <= 0."""
    heatmaps = np.asarray(heatmaps)
    num_keypoints, height, width = heatmaps.shape
    locs = np.zeros((num_keypoints, 2))
    vals = np.zeros(num_keypoints)
    for k in range(num_keypoints):
        best = None
        for y in range(height):
            for x in range(width):
                if best is None or heatmaps[k, y, x] > heatmaps[k, best[1], best[0]]:
                    best = (x, y)
        vals[k] = heatmaps[k, best[1], best[0]]
        locs[k] = best if vals[k] > 0 else (-1, -1)
    return locs, vals


def _sign(v):
    return float(v > 0) - float(v < 0)


def refine_quarter(kp, hm, mmpose_compat=True):
    """R1 with MMPose's asymmetric bounds, or symmetric ones."""
    kp = np.array(kp, np.float64)
    hm = np.asarray(hm, np.float64)
    _, height, width = hm.shape
    for n in range(kp.shape[0]):
        for k in range(kp.shape[1]):
            x, y = int(kp[n, k, 0]), int(kp[n, k, 1])
            if mmpose_compat:
                ok_x = 1 < x < width - 1 and 0 < y < height
                ok_y = 1 < y < height - 1 and 0 < x < width
            else:
                ok_x = 0 < x < width - 1 and 0 <= y < height
                ok_y = 0 < y < height - 1 and 0 <= x < width
            if ok_x:
                kp[n, k, 0] += 0.25 * _sign(hm[k, y, x + 1] - hm[k, y, x - 1])
            if ok_y:
                kp[n, k, 1] += 0.25 * _sign(hm[k, y + 1, x] - hm[k, y - 1, x])
    return kp


def refine_megvii(kp, blurred):
    kp = np.array(kp, np.float64)
    hm = np.asarray(blurred, np.float64)
    _, height, width = hm.shape
    for n in range(kp.shape[0]):
        for k in range(kp.shape[1]):
            x, y = int(kp[n, k, 0]), int(kp[n, k, 1])
            if 1 < x < width - 1 and 1 < y < height - 1:
                kp[n, k, 0] += _sign(hm[k, y, x + 1] - hm[k, y, x - 1]) * 0.25 + 0.5
                kp[n, k, 1] += _sign(hm[k, y + 1, x] - hm[k, y - 1, x]) * 0.25 + 0.5
    return kp


def refine_dark(kp, hm, k_blur):
    """R2: DARK's Newton step on the log of the rescaled blur (§1.9)."""
    kp = np.array(kp, np.float64)
    h = np.log(np.maximum(blur_rescaled(hm, k_blur), 1e-10))
    _, height, width = h.shape
    for n in range(kp.shape[0]):
        for k in range(kp.shape[1]):
            x, y = int(kp[n, k, 0]), int(kp[n, k, 1])
            if not (1 < x < width - 2 and 1 < y < height - 2):
                continue
            m = h[k]
            dx = 0.5 * (m[y, x + 1] - m[y, x - 1])
            dy = 0.5 * (m[y + 1, x] - m[y - 1, x])
            dxx = 0.25 * (m[y, x + 2] - 2 * m[y, x] + m[y, x - 2])
            dxy = 0.25 * (m[y + 1, x + 1] - m[y - 1, x + 1] - m[y + 1, x - 1] + m[y - 1, x - 1])
            dyy = 0.25 * (m[y + 2, x] - 2 * m[y, x] + m[y - 2, x])
            hess = np.array([[dxx, dxy], [dxy, dyy]])
            if np.linalg.det(hess) != 0:
                kp[n, k] -= np.linalg.solve(hess, [dx, dy])
    return kp


def refine_dark_udp(kp, hm, k_blur):
    """R3: UDP's DARK step on the edge-padded log map (§1.9); a location -1
    is left unchanged (policy 5)."""
    kp = np.array(kp, np.float64)
    h = np.log(np.clip(blur_rescaled(hm, k_blur), 1e-3, 50.0))
    padded = np.pad(h, ((0, 0), (1, 1), (1, 1)), mode="edge")
    _, height, width = h.shape
    eps = 1.1920929e-07
    for n in range(kp.shape[0]):
        for k in range(kp.shape[1]):
            x, y = int(kp[n, k, 0]), int(kp[n, k, 1])
            if not (0 <= x < width and 0 <= y < height):
                continue
            p = padded[k]
            X, Y = x + 1, y + 1
            i0 = p[Y, X]
            ixp, ixm, iyp, iym = p[Y, X + 1], p[Y, X - 1], p[Y + 1, X], p[Y - 1, X]
            ixyp, ixym = p[Y + 1, X + 1], p[Y - 1, X - 1]
            dx, dy = 0.5 * (ixp - ixm), 0.5 * (iyp - iym)
            dxx = ixp - 2 * i0 + ixm
            dyy = iyp - 2 * i0 + iym
            dxy = 0.5 * (ixyp - ixp - iyp + 2 * i0 - ixm - iym + ixym)
            hess = np.array([[dxx, dxy], [dxy, dyy]]) + eps * np.eye(2)
            kp[n, k] -= np.linalg.solve(hess, [dx, dy])
    return kp


def fit_gaussian(values, offsets, sigma, max_step):
    """The known-width Gaussian fit (float64): ``values (S,)`` the in-map
    samples, ``offsets (S, D)`` their offsets from the maximum, ``sigma
    (D,)``. Samples above 1e-3 of the largest and above 0 are kept; the log
    of the model is fitted by least squares with weights ``v^2``, then one
    Gauss-Newton step of the model itself; returns the centre's offset
    ``(D,)``, or None if undefined or beyond ``max_step`` on an axis."""
    values = np.asarray(values, np.float64)
    offsets = np.asarray(offsets, np.float64).reshape(len(values), -1)
    sigma = np.asarray(sigma, np.float64)
    keep = (values > 1e-3 * values.max()) & (values > 0)
    v, d = values[keep], offsets[keep]
    if len(v) <= d.shape[1] or np.linalg.matrix_rank(np.c_[np.ones(len(v)), d]) <= d.shape[1]:
        return None
    design = np.c_[np.ones(len(v)), d] * v[:, None]
    coef = np.linalg.lstsq(design, (np.log(v) + (d**2 / (2 * sigma**2)).sum(1)) * v, rcond=None)[0]
    mu = coef[1:] * sigma**2
    level = np.exp(coef[0] + (mu**2 / (2 * sigma**2)).sum())
    g = np.exp(-((d - mu) ** 2 / (2 * sigma**2)).sum(1))
    jac = np.c_[g, level * g[:, None] * (d - mu) / sigma**2]
    mu = mu + np.linalg.lstsq(jac, v - level * g, rcond=None)[0][1:]
    return mu if np.all(np.abs(mu) <= max_step) else None


def refine_dark_to_border(kp, hm, k_blur, sigma, udp=False):
    """The exact mode's DARK: R2 (or R3 with ``udp``) where the maximum lies
    at least ``k_blur // 2 + 2`` (UDP: ``+ 1``) pixels inside every border;
    closer, the fit of a Gaussian of width ``sigma`` over the in-map pixels
    within ``ceil(2 sigma)`` of the maximum, bounded by ``max(1.5,
    ceil(2 sigma) / 2)`` px (R2 / R3 where the fit is undefined)."""
    out = (refine_dark_udp if udp else refine_dark)(kp, hm, k_blur)
    _, height, width = hm.shape
    radius = int(np.ceil(2 * sigma))
    reach = k_blur // 2 + (1 if udp else 2)
    for n in range(kp.shape[0]):
        for k in range(kp.shape[1]):
            x, y = int(kp[n, k, 0]), int(kp[n, k, 1])
            if kp[n, k, 0] < 0 or not (0 <= x < width and 0 <= y < height):
                continue
            if min(x, width - 1 - x, y, height - 1 - y) >= reach:
                continue
            ys, xs = np.mgrid[max(y - radius, 0):min(y + radius + 1, height),
                              max(x - radius, 0):min(x + radius + 1, width)]
            offsets = np.stack([xs.ravel() - x, ys.ravel() - y], -1)
            mu = fit_gaussian(hm[k][ys, xs].ravel(), offsets, [sigma, sigma], max(1.5, radius / 2))
            if mu is not None:
                out[n, k] = [x + mu[0], y + mu[1]]
    return out


def cid_sigmas(corners, ov):
    """CID's per-instance sigma from box corners ``(N, 4, 2)`` (left-top,
    left-bottom, right-top, right-bottom), MMPose's formulas transcribed in
    float64 (MMPOSE_BEHAVIOUR §2.9)."""
    corners = np.asarray(corners, np.float64)
    h = np.linalg.norm(corners[:, 0] - corners[:, 1], axis=-1)
    w = np.linalg.norm(corners[:, 0] - corners[:, 2], axis=-1)
    r1 = ((h + w) + np.sqrt((h + w) ** 2 - 4 * w * h * (1 - ov) / (1 + ov))) / 2
    r2 = (2 * (h + w) + np.sqrt((2 * (h + w)) ** 2 - 16 * (1 - ov) * w * h)) / 2
    b3 = -2 * ov * (h + w)
    r3 = (b3 + np.sqrt(b3 ** 2 - 16 * ov * (ov - 1) * w * h)) / 2
    return np.minimum(np.minimum(r1, r2), r3) / 3


def gaussian_blob_maps(rng, num_keypoints, height, width, sigma=2.0, margin=3, noise=0.0):
    """Smooth positive test maps: a Gaussian at a random sub-pixel point plus
    (optional) small positive noise; returns ``(maps (K, H, W), centres (K, 2))``."""
    centres = np.stack(
        [rng.uniform(margin, width - 1 - margin, num_keypoints),
         rng.uniform(margin, height - 1 - margin, num_keypoints)], axis=-1)
    ys, xs = np.mgrid[0:height, 0:width]
    maps = np.exp(-((xs[None] - centres[:, 0, None, None]) ** 2
                    + (ys[None] - centres[:, 1, None, None]) ** 2) / (2 * sigma**2))
    maps = maps + noise * rng.uniform(0, 1, maps.shape)
    return maps.astype(np.float32), centres


_NPREF = types.SimpleNamespace(
    opencv_kernel=opencv_kernel,
    reflect101=reflect101,
    blur2d=blur2d,
    blur1d=blur1d,
    blur_rescaled=blur_rescaled,
    blur1d_rescaled=blur1d_rescaled,
    g1_mmpose=g1_mmpose,
    g1_exact=g1_exact,
    g2=g2,
    g3_mmpose=g3_mmpose,
    g3_exact=g3_exact,
    g4=g4,
    argmax=argmax,
    refine_quarter=refine_quarter,
    refine_megvii=refine_megvii,
    refine_dark=refine_dark,
    refine_dark_udp=refine_dark_udp,
    fit_gaussian=fit_gaussian,
    refine_dark_to_border=refine_dark_to_border,
    gaussian_blob_maps=gaussian_blob_maps,
    cid_sigmas=cid_sigmas,
)


def load_script(path):
    """A script of the repository (e.g. ``benchmarks/x.py``) loaded as a module."""
    import importlib.util
    from pathlib import Path

    file = Path(__file__).resolve().parents[1] / path
    spec = importlib.util.spec_from_file_location(file.stem, file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def npref():
    """The independent NumPy references above, as one namespace."""
    return _NPREF


def _identity(fn):
    return fn


def _jit(fn):
    import jax

    return jax.jit(fn)


@pytest.fixture(params=[_jit, _identity], ids=["jit", "nojit"])
def variant(request):
    """Runs a test body jitted and un-jitted (pytest-style chex.variants)."""
    return request.param


def decode_parts(codec, decoded):
    """``decode``'s outputs by the names the codec declares in
    ``decode_outputs`` (nested tuples walked alongside), as a dict; fails
    when the structure differs from the declaration."""
    parts = {}

    def walk(names, values):
        if isinstance(names, tuple):
            assert isinstance(values, tuple) and len(values) == len(names), (names, type(values))
            for name, value in zip(names, values):
                walk(name, value)
        else:
            assert names not in parts, f"{names} declared twice"
            parts[names] = values

    walk(tuple(codec.decode_outputs), tuple(decoded))
    return parts


# Per-row outputs of one sample (N rows): their shapes relative to keypoints (N, K, D).
ROW_OUTPUTS = ("instance_scores", "root_scores", "valid")
SCORE_OUTPUTS = ("scores", "keypoint_scores")


def check_decode_layout(codec, decoded, batch: int | None = None):
    """Checks ``decoded`` against the codec's declared layout (shapes of
    the known names, ``valid`` bool, finite values); returns the parts.
    ``batch``: the leading axis of a batched decode. A codec that declares
    no outputs (an annotation processor) must return None."""
    if not codec.decode_outputs:
        assert decoded is None, type(decoded)
        return {}
    parts = decode_parts(codec, decoded)
    lead = () if batch is None else (batch,)
    keypoints = parts["keypoints"]
    assert keypoints.ndim == 3 + len(lead) and keypoints.shape[: len(lead)] == lead, keypoints.shape
    rows = keypoints.shape[: len(lead) + 2]
    # Scores per keypoint (SPR without keypoint heatmaps has none: None) or per row.
    assert any(parts.get(name) is not None for name in SCORE_OUTPUTS + ROW_OUTPUTS[:2]), "no scores"
    for name in SCORE_OUTPUTS:
        if parts.get(name) is not None:
            assert parts[name].shape == rows, (name, parts[name].shape, rows)
    for name in ROW_OUTPUTS:
        if name in parts:
            assert parts[name].shape == rows[:-1], (name, parts[name].shape, rows)
    if "valid" in parts:
        assert parts["valid"].dtype == bool
    for name, value in parts.items():
        if value is not None and np.asarray(value).dtype.kind == "f":
            assert np.isfinite(np.asarray(value)).all(), name
    return parts


# ------------------------------------------------------------- scheduling
# pytest-xdist's ``--dist loadfile`` hands whole modules to the workers; the
# longest modules go first (longest-processing-time first), so that the run
# does not end with one worker alone on a long module while the other idles.
# Only the order changes, never what runs. Since pytest-xdist 3.5 loadfile
# re-sorts the modules by their number of tests (most first), which put
# modules of a few long tests (test_fuzz, test_sharding, the grouping
# decoder's module) last; 3.8 can turn that off (``--no-loadscope-reorder``),
# and it is turned off here so that the collection order below is the
# schedule (older versions keep their own order). Ordered by CPU time on the
# 2-core machine (user + sys, ``-n 0``).
_LONG_MODULES = (
    "test_notebooks.py",  # few, long tests (one kernel per notebook): first of all
    "test_bad_input.py", "test_api.py", "test_fuzz.py", "test_examples.py",
    "test_codecs_decoupled_heatmap.py", "test_viz.py", "test_conformance.py",
    "test_sharding.py", "test_codecs_associative_embedding.py", "test_gradients.py", "test_codecs_simcc.py",
    "test_cli.py", "test_codecs_spr.py", "test_codecs_topdown.py", "test_codecs_lifting.py", "test_export.py",
    "test_ops_refine.py", "test_ops_instances.py", "test_ops_soft.py", "test_codecs_inputs.py",
    "test_codecs_hand3d.py", "test_ops_heatmap.py", "test_memory.py", "test_codecs_motionbert.py",
    "test_codecs_edpose.py", "test_grain.py",
)


def pytest_configure(config):
    if hasattr(config.option, "loadscopereorder"):  # pytest-xdist >= 3.8
        config.option.loadscopereorder = False


def pytest_unconfigure(config):
    if _OWN_CACHE_DIR is not None and "PYTEST_XDIST_WORKER" not in os.environ:
        shutil.rmtree(_OWN_CACHE_DIR, ignore_errors=True)


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(_LONG_MODULES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
