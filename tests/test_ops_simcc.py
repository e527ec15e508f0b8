"""``ops.simcc``'s visibility against a NumPy softmax written here (the
label renderers and the argmax are tested with SimCCLabel in
``test_codecs_simcc.py``)."""

import jax
import numpy as np

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
