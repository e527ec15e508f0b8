"""``ops.simcc``'s visibility against a NumPy softmax written here, and the
windowed SimCC-DARK pieces against the whole-vector NumPy blur (the label
renderers and the argmax are tested with SimCCLabel in
``test_codecs_simcc.py``)."""

import jax
import numpy as np
import pytest

from jaxcodecs import ops


def np_peak_probability(x, beta):
    z = beta * np.asarray(x, np.float64)
    p = np.exp(z - z.max(-1, keepdims=True))
    return (p / p.sum(-1, keepdims=True)).max(-1)


def test_simcc_visibility_matches_numpy(variant):
    rng = np.random.default_rng(92)
    sx, sy = rng.normal(size=(2, 5, 30)).astype(np.float32), rng.normal(size=(2, 5, 24)).astype(np.float32)
    vis = variant(ops.simcc_visibility)(sx, sy, np.float32(3.0), np.float32(0.5))
    ref = np.minimum(np_peak_probability(sx, 3.0), np_peak_probability(sy, 0.5))
    np.testing.assert_allclose(vis, ref, rtol=1e-6, atol=1e-7)


def test_simcc_visibility_limits():
    flat = ops.simcc_visibility(np.zeros((3, 40)), np.zeros((3, 20)), 1.0, 1.0)
    np.testing.assert_allclose(flat, np.full(3, 1 / 40), rtol=1e-6)
    one_hot = np.eye(20, dtype=np.float32)[[3, 7]]
    peaked = jax.jit(ops.simcc_visibility)(one_hot, one_hot, 1e4, 1e4)
    np.testing.assert_allclose(peaked, [1.0, 1.0], rtol=1e-6)


# ------------------------------------------------ windowed SimCC-DARK pieces
def _vectors(kind, rng, rows, length):
    """Peaked (the window suffices), noisy, negative and two-peak vectors
    (a broad lower peak whose blur beats a narrow higher one: the whole
    vector is needed)."""
    bins = np.arange(length)
    centre = rng.uniform(0, length, (rows, 1))
    if kind == "peaked":
        return np.exp(-((bins - centre) ** 2) / 50.0) * rng.uniform(0.9, 1.1, (rows, length))
    if kind == "noise":
        return rng.random((rows, length))
    if kind == "negative":
        return rng.normal(size=(rows, length)) - 3
    far = rng.uniform(0, length, (rows, 1))
    return np.exp(-((bins - centre) ** 2) / 2.0) + 0.9 * np.exp(-((bins - far) ** 2) / 450.0)


@pytest.mark.parametrize("kind", ["peaked", "noise", "negative", "two_peaks"])
@pytest.mark.parametrize("length,k", [(384, 29), (512, 35), (130, 7), (100, 3), (40, 1)])
def test_simcc_blurred_max_is_the_whole_blur_maximum(variant, npref, kind, length, k):
    rng = np.random.default_rng(length + k)
    rows = _vectors(kind, rng, 24, length).astype(np.float32)
    rows[3] = 0.0  # an all-zero row
    got = variant(lambda r, n: ops.simcc_blurred_max(r, k, n))(rows, np.ones(24, bool))
    ref = npref.blur1d(rows, k, border="zero").max(-1)
    np.testing.assert_allclose(got, ref, rtol=2e-6, atol=1e-30)


def test_simcc_blurred_max_ignores_rows_not_needed(npref):
    """A row not needed may get a value from the window alone; every needed
    row still gets the whole blur's maximum."""
    rng = np.random.default_rng(5)
    rows = _vectors("two_peaks", rng, 8, 384).astype(np.float32)
    rows[:4] = _vectors("peaked", rng, 4, 384)
    needed = np.arange(8) < 4
    got = jax.jit(ops.simcc_blurred_max, static_argnums=1)(rows, 29, needed)
    ref = npref.blur1d(rows, 29, border="zero").max(-1)
    np.testing.assert_allclose(np.asarray(got)[needed], ref[needed], rtol=2e-6)
    assert np.all(np.asarray(got) <= ref * (1 + 1e-6))


@pytest.mark.parametrize("compat", [True, False])
@pytest.mark.parametrize("kind", ["peaked", "two_peaks", "noise"])
def test_refine_simcc_dark_window_matches_numpy(variant, npref, compat, kind):
    """The Newton step on the whole log-blurred vector written in NumPy
    (edge bins repeated in compat mode; inward stencil, maximum-only step
    and one-bin clamp in exact mode), at maxima near and away from the ends."""
    rng = np.random.default_rng(7)
    length, k = 200, 13
    rows = _vectors(kind, rng, 30, length).astype(np.float32)
    rows[0, :] = np.exp(-((np.arange(length) - 0.3) ** 2) / 20.0)  # maximum at an end
    rows[1, :] = 0.0
    loc = np.argmax(rows, -1).astype(np.float32)
    loc[1] = -1.0
    logs = np.log(np.clip(npref.blur1d_rescaled(rows, k), 1e-3, 50))
    ref = loc.astype(np.float64)
    for r in range(30):
        if loc[r] < 0:
            continue
        i = int(loc[r])
        c = i if compat else min(max(i, 2), length - 3)
        at = lambda o: logs[r, min(max(c + o, 0), length - 1)]  # noqa: E731
        d, dd = 0.5 * (at(1) - at(-1)), 1e-9 + 0.25 * (at(2) - 2 * at(0) + at(-2))
        if compat and dd != 0:
            ref[r] = i - d / dd
        elif not compat and dd < 0:
            ref[r] = min(max(c - d / dd, i - 1), i + 1)
    got = variant(lambda a, b: ops.refine_simcc_dark_window(a, b, k, mmpose_compat=compat))(loc, rows)
    well = np.abs(ref - loc) < 3  # ill-conditioned noise steps move far on float32 rounding
    np.testing.assert_allclose(np.asarray(got)[well], ref[well], atol=1e-3)
    assert np.isfinite(np.asarray(got)).all() and np.asarray(got)[1] == -1
