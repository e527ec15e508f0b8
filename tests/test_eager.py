"""Eager codec calls run one cached jitted program (``jaxcodecs._eager``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxcodecs
from jaxcodecs import _eager, examples


def compilations(fn):
    """The number of programs ``fn()`` traces for compilation (counted at
    tracing: a compilation found in the persistent cache still traces)."""
    events = []

    def listen(event, duration, **kwargs):
        if event == "/jax/core/compile/jaxpr_trace_duration":
            events.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        jax.block_until_ready(fn())
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    return len(events)


def sample(codec, seed=0):
    batch = examples.example_batch(codec, 1, seed=seed)
    one = lambda tree: jax.tree_util.tree_map(lambda a: np.asarray(a)[0], tree)  # noqa: E731
    return one(tuple(batch.encode_args)), one(tuple(batch.decode_args))


def msra(**kwargs):
    kwargs.setdefault("sigma", 2.0)
    return jaxcodecs.MSRAHeatmap(input_size=(48, 64), heatmap_size=(12, 16), **kwargs)


def test_a_second_eager_call_compiles_nothing():
    codec = msra(unbiased=True)
    (kp, vis), (heatmaps,) = sample(codec)
    _eager._wrappers.clear()  # whatever ran before in this process
    # The first call traces the codec's program (and the jitted ops inlined
    # in it), not one program per primitive as an op-by-op call does.
    assert 0 < compilations(lambda: codec.encode(kp, vis)) <= 3
    assert compilations(lambda: codec.encode(kp + 1.0, vis)) == 0
    codec.decode(heatmaps)
    assert compilations(lambda: codec.decode(heatmaps * 2.0)) == 0
    # An equal codec, built again, shares the program.
    assert compilations(lambda: msra(unbiased=True).encode(kp, vis)) == 0


def test_new_shapes_and_new_configurations_compile_again():
    codec = msra()
    (kp, vis), _ = sample(codec)
    _eager._wrappers.clear()
    codec.encode(kp, vis)
    assert compilations(lambda: codec.encode(kp[:, :5], vis[:, :5])) > 0
    assert compilations(lambda: msra(mmpose_compat=False).encode(kp, vis)) > 0


@pytest.mark.parametrize("name", ["MSRAHeatmap", "UDPHeatmap"])
def test_eager_equals_jit_and_op_by_op(name):
    # (test_fuzz compares jit with op by op for every codec; here: an eager
    # call is the jitted program, bit for bit.)
    entry = examples.get_examples(name)
    for config in entry.configs:
        codec = jaxcodecs.build({"type": name, **config})
        args, dargs = sample(codec, seed=3)
        for method, call in (("encode", args), ("decode", dargs)):
            eager = getattr(codec, method)(*call)
            jitted = jax.jit(getattr(codec, method))(*call)
            op_by_op = _eager.op_by_op(getattr(codec, method))(*call)
            for a, b, c in zip(jax.tree_util.tree_leaves(eager), jax.tree_util.tree_leaves(jitted),
                               jax.tree_util.tree_leaves(op_by_op)):
                np.testing.assert_array_equal(np.asarray(a), np.asarray(b))  # one program
                a64, c64 = np.asarray(a, np.float64), np.asarray(c, np.float64)
                np.testing.assert_allclose(a64, c64, rtol=0, atol=1e-5 * max(1.0, np.abs(c64).max(initial=0)))


def test_calls_that_stay_op_by_op():
    codec = msra()
    (kp, vis), _ = sample(codec)
    reference = np.asarray(jax.jit(codec.encode)(kp, vis)["heatmaps"])
    _eager._wrappers.clear()
    # A Python list (neither an array nor hashable) and a codec holding an array.
    listed = codec.encode(kp.tolist(), vis.tolist())["heatmaps"]
    traced_sigma = codec.replace(sigma=jnp.float32(2.0)).encode(kp, vis)["heatmaps"]
    assert not _eager._wrappers  # no program was made for them
    np.testing.assert_allclose(np.asarray(listed), reference, atol=1e-6)
    np.testing.assert_allclose(np.asarray(traced_sigma), reference, atol=1e-6)


def test_host_arguments_are_checked_by_value():
    codec = jaxcodecs.build({"type": "DecoupledHeatmap", **examples.get_examples("DecoupledHeatmap").configs[0]})
    args, _ = sample(codec)
    num = np.asarray(args[0]).shape[0]
    with pytest.raises(ValueError, match="`jitter`"):
        codec.encode(*args, jitter=np.full((num, 2), 2, np.int32))
    # Under jit the same offsets are clipped into {-1, 0, 1}, as documented.
    traced = jax.jit(lambda j: codec.encode(*args, jitter=j))(np.full((num, 2), 2, np.int32))
    eager = codec.encode(*args, jitter=np.ones((num, 2), np.int32))
    np.testing.assert_array_equal(np.asarray(traced["heatmaps"]), np.asarray(eager["heatmaps"]))


def test_op_by_op_takes_a_codec_method():
    with pytest.raises(TypeError, match="bound codec method"):
        _eager.op_by_op(len)


def test_errors_are_raised_as_op_by_op():
    codec = msra()
    with pytest.raises(ValueError, match="`keypoints`"):
        codec.encode(np.zeros((1, 17, 2, 2), np.float32))
    with pytest.raises(ValueError, match="`encoded`"):
        codec.decode(np.zeros((17, 5, 5), np.float32))


def test_threads_share_the_cache():
    from concurrent.futures import ThreadPoolExecutor

    codecs = [msra(sigma=s) for s in (1.0, 1.5, 2.0, 2.5)]
    (kp, vis), _ = sample(codecs[0])
    expected = [np.asarray(jax.jit(c.encode)(kp, vis)["heatmaps"]) for c in codecs]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda i: np.asarray(codecs[i % 4].encode(kp, vis)["heatmaps"]), range(32)))
    for i, heatmaps in enumerate(got):
        np.testing.assert_array_equal(heatmaps, expected[i % 4])
