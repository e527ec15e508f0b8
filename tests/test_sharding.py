"""Batch-sharded encode / decode on 8 fake CPU devices (conftest sets
``--xla_force_host_platform_device_count=8`` before JAX starts).

The mesh is built from ``jax.devices("cpu")`` and the unsharded reference is
computed on the first CPU device, so the module runs unchanged where JAX's
default backend is a GPU or TPU (the host's CPU devices are still there).

For every registered codec and example config (``jaxcodecs.examples``): the
encode arguments of 16 samples (keypoints ``(16, 1, K, D)``, and whatever
else the codec's encode takes) sharded along a ``"batch"`` mesh axis go
through ``jax.jit(batch_encode)``
and ``jax.jit(batch_decode)``, in MMPose's mode and in the exact one
(``mmpose_compat=False``, whose code paths differ: other reads, rounding
and selection); the outputs have the unsharded ones' structure
(dict keys, tuple length), shapes and dtypes and equal values, and every
output stays sharded along the batch axis (2 samples per device). Both an
``Auto`` mesh (``jax.sharding.Mesh``, GSPMD propagation) and an ``Explicit``
mesh (``jax.make_mesh`` + ``jax.set_mesh``, sharding in types) are covered.
"""

import contextlib
import functools

import chex
import jax
import numpy as np
import pytest
from jax.sharding import AxisType, Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

import jaxcodecs
from jaxcodecs import examples

NUM_DEVICES = 8
PER_DEVICE = 2
BATCH = NUM_DEVICES * PER_DEVICE
NUM_KEYPOINTS = 17


# The devices of the mesh: the host's CPU devices, whatever the default backend.
DEVICES = tuple(jax.devices("cpu"))


def test_eight_devices():
    assert len(DEVICES) == NUM_DEVICES, (
        "conftest.py must set XLA_FLAGS=--xla_force_host_platform_device_count=8 before JAX starts")


CONFIGS = [
    pytest.param(name, index, compat, id=f"{name}-{index}" + ("" if compat else "-exact"))
    for name in jaxcodecs.list_codecs()
    for index in range(len(examples.get_examples(name).configs))
    for compat in (True, False)
]


@functools.lru_cache(maxsize=None)
def _codec(name, index, compat=True):
    return jaxcodecs.build({"type": name, **examples.get_examples(name).configs[index],
                            "mmpose_compat": compat})


@functools.lru_cache(maxsize=None)
def _example(codec):
    """The example batch of BATCH samples: the codec's example inputs built
    on random poses, some keypoints outside the input. Its decode arguments
    are the model outputs the entry makes (the encoded targets, or tag maps
    that encode does not make)."""
    rng = np.random.default_rng(0)
    width, height = examples.input_size_of(codec)
    kp = np.stack([rng.uniform(-5, width + 5, (BATCH, NUM_KEYPOINTS)),
                   rng.uniform(-5, height + 5, (BATCH, NUM_KEYPOINTS))], -1).astype(np.float32)
    vis = rng.choice([1.0, 1.0, 0.6, 0.0], size=(BATCH, NUM_KEYPOINTS)).astype(np.float32)
    return examples.make_batch(codec, kp, vis)


def _batch(codec):
    """The encode arguments of BATCH samples (a tuple of arrays or array trees)."""
    return _example(codec).encode_args


def _decode_args(codec):
    return [np.asarray(a) for a in _example(codec).decode_args]


@functools.lru_cache(maxsize=None)
def _unsharded(name, index, compat):
    """Reference values computed on one device."""
    codec = _codec(name, index, compat)
    with jax.default_device(DEVICES[0]):
        encoded = jax.device_get(jax.jit(codec.batch_encode)(*_batch(codec)))
        decoded = jax.device_get(jax.jit(codec.batch_decode)(*_decode_args(codec)))
    return encoded, decoded


def assert_batch_sharded(tree, mesh):
    expected = NamedSharding(mesh, P("batch"))
    for leaf in jax.tree_util.tree_leaves(tree):
        assert leaf.shape[0] == BATCH
        assert leaf.sharding.is_equivalent_to(expected, leaf.ndim), leaf.sharding
        shards = leaf.addressable_shards
        assert len(shards) == NUM_DEVICES
        assert {s.device for s in shards} == set(DEVICES)
        assert all(s.data.shape[0] == PER_DEVICE for s in shards)


def assert_same_values(actual, expected):
    """Same structure (dict keys, tuple lengths), shapes and dtypes, then the
    same values. The structure comes first: zipping the leaves alone would
    let a missing trailing key or tuple element, or a changed dtype, pass."""
    chex.assert_trees_all_equal_structs(actual, expected)
    chex.assert_trees_all_equal_shapes_and_dtypes(actual, expected)
    for a, e in zip(jax.tree_util.tree_leaves(actual), jax.tree_util.tree_leaves(expected)):
        np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(e, np.float64),
                                   rtol=1e-6, atol=1e-6)


def _run(codec, mesh):
    sharding = NamedSharding(mesh, P("batch"))
    args = jax.device_put(_batch(codec), sharding)
    encoded = jax.jit(codec.batch_encode)(*args)
    batch_decode = jax.jit(codec.batch_decode)  # one jit for both decodes: they share a compilation
    decoded = batch_decode(*jax.device_put(_decode_args(codec), sharding))
    if not codec.decode_input_keys:  # decode reads outputs encode does not make
        return encoded, decoded, decoded
    decoded_from_encoded = batch_decode(*[encoded[key] for key in codec.decode_input_keys])
    return encoded, decoded, decoded_from_encoded


def _mesh(kind):
    if kind == "auto":
        return Mesh(np.array(DEVICES), ("batch",)), contextlib.nullcontext()
    # jax.make_mesh with Explicit axes, the default mesh of recent JAX.
    mesh = jax.make_mesh((NUM_DEVICES,), ("batch",), axis_types=(AxisType.Explicit,), devices=DEVICES)
    return mesh, jax.set_mesh(mesh)


@pytest.mark.parametrize("mesh_kind", ["auto", "explicit"])
@pytest.mark.parametrize("name,index,compat", CONFIGS)
def test_sharded_batch(name, index, compat, mesh_kind):
    assert len(DEVICES) == NUM_DEVICES
    mesh, context = _mesh(mesh_kind)
    codec = _codec(name, index, compat)
    assert codec.mmpose_compat is compat
    with context:
        encoded, decoded, chained = _run(codec, mesh)
    ref_encoded, ref_decoded = _unsharded(name, index, compat)
    for value, reference in ((encoded, ref_encoded), (decoded, ref_decoded), (chained, ref_decoded)):
        assert_same_values(value, reference)
        assert_batch_sharded(value, mesh)


@pytest.mark.parametrize("mesh_kind", ["auto", "explicit"])
def test_constant_like_is_sharded_like_the_batch(mesh_kind):
    """Outputs built with ``ops.constant_like`` (scores of ones, a flag, an
    index, a default factor) keep the batch sharding of the data they are
    derived from, and are exact where that data is NaN or ±Inf."""
    mesh, context = _mesh(mesh_kind)
    poses = np.random.default_rng(1).normal(size=(BATCH, 3, NUM_KEYPOINTS, 2)).astype(np.float32)
    poses[0, 0, 0, 0], poses[3, 1, 2, 1], poses[5] = np.nan, np.inf, np.nan

    def per_sample(p):
        return {
            "scores": jaxcodecs.ops.constant_like(1.0, p[..., 0]),
            "flag": jaxcodecs.ops.constant_like(True, p, shape=()),
            "index": jaxcodecs.ops.constant_like(0, p, shape=()),
            "factor": jaxcodecs.ops.constant_like(4.0, p[:, 0, 0]),
        }

    with context:
        out = jax.jit(jax.vmap(per_sample))(jax.device_put(poses, NamedSharding(mesh, P("batch"))))
    assert_batch_sharded(out, mesh)
    np.testing.assert_array_equal(out["scores"], np.ones((BATCH, 3, NUM_KEYPOINTS), np.float32))
    np.testing.assert_array_equal(out["flag"], np.ones(BATCH, bool))
    np.testing.assert_array_equal(out["index"], np.zeros(BATCH, np.int32))
    np.testing.assert_array_equal(out["factor"], np.full((BATCH, 3), 4.0, np.float32))
