"""jaxcodecs.export: every codec's encoder and decoder as a jax.export artifact
with a symbolic batch size, serialised, loaded and called.

One artifact per codec and method (one example config each, MMPose's mode),
exported from a batch of two samples, lowered for every platform jax.export
knows and run on the CPU at batch sizes 3 and 1 (the first samples of the
codec's example batch). The reference is ``jax.jit`` of the codec's
own ``batch_encode`` / ``batch_decode``, compiled once per case at ``B = 3``;
the artifact's ``B = 1`` call is compared with the first row of it (the
batch functions map each sample alone).
"""

import functools
import re

import jax
import numpy as np
import pytest

import jaxcodecs
from jaxcodecs import examples

EXAMPLE_BATCH = 2
CALL_BATCH = 3
ALL_PLATFORMS = ("cpu", "cuda", "rocm", "tpu")

# The example config each codec is exported with (default: its last, which
# switches on the most options); YOLOX's first expands boxes.
CONFIG_INDEX = {"YOLOXPoseAnnotationProcessor": 0}

# Outputs that may differ from the jitted codec's by rounding, and why. The
# Gaussian of DecoupledHeatmap has a per-instance sigma (from the box):
# jitted with static shapes, XLA multiplies by the reciprocal of the
# broadcast 2 sigma^2; the symbolic-shape module broadcasts dynamically and
# keeps the division. The exponents differ by 1 ulp, which exp() scales by
# the exponent's size (a few units inside the 3-sigma window): relative
# 1e-6, and 1e-7 absolute for the far tail (the maps peak at 1).
ROUNDING = {
    ("DecoupledHeatmap", "encode", "heatmaps"),
    ("DecoupledHeatmap", "encode", "instance_heatmaps"),
}


def _cases():
    cases = []
    for name in jaxcodecs.list_codecs():
        codec = _codec(name)
        for method in ("encode", "decode"):
            if method == "decode" and not codec.decode_outputs:
                continue  # YOLOX: decode returns None (test_export_errors)
            cases.append(pytest.param(name, method, id=f"{name}-{method}"))
    return cases


@functools.lru_cache(maxsize=None)
def _codec(name):
    config = examples.get_examples(name).configs[CONFIG_INDEX.get(name, -1)]
    return jaxcodecs.build({"type": name, **config})


@functools.lru_cache(maxsize=None)
def _example(name):
    return examples.example_batch(_codec(name), CALL_BATCH)


def _arguments(name, method):
    """``batch_<method>``'s arguments ``(args, kwargs)`` of ``CALL_BATCH``
    samples; DecoupledHeatmap's encoder also takes a key per sample (jitter,
    sampling)."""
    example = _example(name)
    if method == "decode":
        return example.decode_args, example.decode_kwargs
    kwargs = dict(example.encode_kwargs)
    if name == "DecoupledHeatmap":
        kwargs["key"] = jax.random.split(jax.random.key(0), CALL_BATCH)
    return example.encode_args, kwargs


def _arrays_only(args):
    return [a for a in args if a is not None and not isinstance(a, (bool, int, float, str))]


def _rows(tree, count):
    """The first ``count`` samples of every array (options stay as they are)."""
    return jax.tree_util.tree_map(lambda x: x[:count] if hasattr(x, "shape") else x, tree)


@functools.lru_cache(maxsize=None)
def _exported(name, method):
    """The artifact, lowered for every platform (from an example batch of
    ``EXAMPLE_BATCH`` samples), serialised and loaded."""
    args, kwargs = _rows(_arguments(name, method), EXAMPLE_BATCH)
    export = jaxcodecs.export_encoder if method == "encode" else jaxcodecs.export_decoder
    exported = export(_codec(name), *args, platforms=ALL_PLATFORMS, **kwargs)
    return exported, jaxcodecs.load_exported(exported.serialize())


@pytest.mark.parametrize("name,method", _cases())
def test_exported_codec_serves_every_batch_size(name, method):
    exported, loaded = _exported(name, method)
    assert loaded.platforms == ALL_PLATFORMS and exported.platforms == ALL_PLATFORMS
    assert {str(aval.shape[0]) for aval in loaded.in_avals} == {"b"}
    # The codecs need no platform-specific kernel: the only custom call is
    # the artifact's own shape check.
    assert set(re.findall(r"custom_call @(\w+)", loaded.mlir_module())) <= {"shape_assertion"}

    args, kwargs = _arguments(name, method)
    expected = jax.jit(getattr(_codec(name), "batch_" + method))(*args, **kwargs)
    for count in (CALL_BATCH, 1):
        got = loaded.call(*_arrays_only(_rows(args, count)), **_rows(kwargs, count))
        want = _rows(expected, count)
        assert jax.tree_util.tree_structure(got) == jax.tree_util.tree_structure(want)
        for path, value in jax.tree_util.tree_leaves_with_path(got):
            key = jax.tree_util.keystr(path, simple=True, separator="/")
            reference = functools.reduce(lambda tree, k: tree[k.key if hasattr(k, "key") else k.idx], path, want)
            assert value.shape == reference.shape and value.dtype == reference.dtype, key
            if (name, method, key) in ROUNDING:
                np.testing.assert_allclose(np.asarray(value), np.asarray(reference), rtol=1e-6, atol=1e-7,
                                           err_msg=key)
            else:
                np.testing.assert_array_equal(np.asarray(value), np.asarray(reference), err_msg=key)


def test_export_takes_arrays_and_shape_specs_and_fixes_options():
    codec = jaxcodecs.ImagePoseLifting(num_keypoints=17)
    label = np.zeros((4, 1, 17, 3), np.float32)
    # None is an option: fixed in the artifact, left out of its arguments.
    exported = jaxcodecs.export_decoder(codec, label, None)
    assert len(exported.in_avals) == 1 and str(exported.in_avals[0].shape) == "(b, 1, 17, 3)"
    assert exported.platforms == (jax.default_backend(),)
    spec = jax.ShapeDtypeStruct((5, 1, 17, 3), np.float32)
    from_spec = jaxcodecs.export_decoder(codec, spec, platforms="cpu")
    assert str(from_spec.in_avals) == str(exported.in_avals) and str(from_spec.out_avals) == str(exported.out_avals)
    # One batch size b for all arguments: the artifact refuses roots for 3 samples with labels for 4.
    root = np.zeros((4, 1, 3), np.float32)
    with_root = jaxcodecs.load_exported(jaxcodecs.export_decoder(codec, label, root).serialize())
    assert [tuple(o.shape) for o in with_root.call(label, root)] == [(4, 1, 17, 3), (4, 1, 17)]
    with pytest.raises(ValueError, match=r"args\[1\]\.shape\[0\] \(= 3\).*'b' \(= 4\)"):
        with_root.call(label, root[:3])


def test_export_errors():
    codec = jaxcodecs.build({"type": "RegressionLabel", "input_size": (192, 256)})
    labels = np.zeros((2, 1, 17, 2), np.float32)
    with pytest.raises(TypeError, match=r"export_decoder\(\): `encoded` must be an array .* got list"):
        jaxcodecs.export_decoder(codec, [[0.0, 1.0]])
    with pytest.raises(ValueError, match=r"same leading batch axis B, got `keypoints` \(2, 1, 17, 2\), "
                                         r"`keypoints_visible` \(3, 1, 17\)"):
        jaxcodecs.export_encoder(codec, labels, np.ones((3, 1, 17), np.float32))
    with pytest.raises(ValueError, match=r"`encoded` has shape \(\) and no leading batch axis"):
        jaxcodecs.export_decoder(codec, np.zeros((), np.float32))
    with pytest.raises(TypeError, match="no array argument"):
        jaxcodecs.export_encoder(codec, None)
    with pytest.raises(TypeError, match="takes a jaxcodecs codec first"):
        jaxcodecs.export_decoder({"type": "RegressionLabel"}, labels)
    with pytest.raises(ValueError, match="keypoints"):  # the codec's own check, at export
        jaxcodecs.export_encoder(codec, np.zeros((2, 1, 17, 5), np.float32))
    yolox = jaxcodecs.build({"type": "YOLOXPoseAnnotationProcessor"})
    with pytest.raises(TypeError, match="YOLOXPoseAnnotationProcessor has no decoder"):
        jaxcodecs.export_decoder(yolox, labels)
    with pytest.raises(TypeError, match="takes the bytes"):
        jaxcodecs.load_exported("artifact.bin")
