"""The argument contract of ``batch_encode`` / ``batch_decode`` for every
registered codec (base.Codec's mapping over a leading batch axis, and the
codecs that batch on their own): a batch size that differs between
arguments, a non-numeric array and a call without any batched argument are
errors naming the argument, eagerly and under ``jax.jit``; a batch spelled
as nested lists is the batch of arrays."""

from __future__ import annotations

import inspect

import jax
import numpy as np
import pytest

import jaxcodecs
from jaxcodecs import examples

B = 3


def _calls():
    for name in jaxcodecs.list_codecs():
        for direction in ("encode", "decode"):
            if name == "YOLOXPoseAnnotationProcessor" and direction == "decode":
                continue  # MMPose's processor has no decode; the port's raises NotImplementedError
            yield pytest.param(name, direction, id=f"{name}-{direction}")


def _setup(name: str, direction: str):
    codec = jaxcodecs.get_codec_class(name)(**examples.get_examples(name).configs[0])
    batch = examples.example_batch(codec, B, seed=0, name=name)
    host = lambda tree: jax.tree_util.tree_map(  # noqa: E731 - decode inputs may be JAX arrays
        lambda a: np.asarray(a) if isinstance(a, jax.Array) else a, tree)
    if direction == "encode":
        return codec, codec.batch_encode, host(list(batch.encode_args)), host(dict(batch.encode_kwargs))
    return codec, codec.batch_decode, host(list(batch.decode_args)), host(dict(batch.decode_kwargs))


def _first_array(args: list) -> int:
    return next(i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.ndim > 0)


def _arg_name(fn, index: int) -> str:
    params = [p.name for p in inspect.signature(fn).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return params[index] if index < len(params) else ""


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize("name, direction", list(_calls()))
def test_batch_sizes_that_differ_name_the_argument(name, direction, jit):
    codec, fn, args, kwargs = _setup(name, direction)
    i = _first_array(args)
    args[i] = args[i][:B - 1]
    call = jax.jit(fn) if jit else fn
    if sum(np.ndim(leaf) > 0 for leaf in jax.tree_util.tree_leaves((args, kwargs))) == 1:
        # The one batched argument decides B.
        out = call(*args, **kwargs)
        assert {np.shape(leaf)[0] for leaf in jax.tree_util.tree_leaves(out)} == {B - 1}
        return
    with pytest.raises(ValueError, match="batch") as info:
        call(*args, **kwargs)
    message = str(info.value)
    names = {_arg_name(getattr(codec, direction), i), _arg_name(getattr(codec, f"batch_{direction}"), i)}
    assert any(f"`{n}`" in message for n in names if n), message
    assert f"{B - 1}" in message and f"{B}" in message, message


@pytest.mark.parametrize("name, direction", list(_calls()))
def test_an_object_array_is_a_type_error_naming_it(name, direction):
    codec, fn, args, kwargs = _setup(name, direction)
    i = _first_array(args)
    args[i] = args[i].astype(object)
    with pytest.raises(TypeError, match="numeric") as info:
        fn(*args, **kwargs)
    # Named as the single-sample method names it, or as a codec's own batch method does.
    names = {_arg_name(getattr(codec, direction), i), _arg_name(getattr(codec, f"batch_{direction}"), i)}
    assert any(f"`{n}`" in str(info.value) for n in names), str(info.value)


@pytest.mark.parametrize("name, direction", list(_calls()))
def test_a_batch_of_nested_lists_is_the_batch_of_arrays(name, direction):
    _, fn, args, kwargs = _setup(name, direction)
    expected = fn(*args, **kwargs)
    # Every float32 array argument spelled as nested Python floats (exact).
    as_lists = [a.tolist() if isinstance(a, np.ndarray) and a.dtype == np.float32 and a.ndim > 0 else a
                for a in args]
    assert any(a is not b for a, b in zip(as_lists, args)), "no float32 array argument to spell as lists"
    got = fn(*as_lists, **kwargs)
    for g, e in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(expected)):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(e))


def test_no_batched_argument_is_an_error():
    codec = jaxcodecs.MSRAHeatmap(input_size=(192, 256), heatmap_size=(48, 64), sigma=2.0)
    with pytest.raises(ValueError, match="no argument has a leading batch axis"):
        codec.batch_decode(np.float32(1.0))


def test_scalars_are_shared_by_every_sample():
    # Hand3D's root depth as one number for the whole batch, eagerly and as a
    # 0-d array under jit: each sample gets it, as with a (B,) array of it.
    codec = jaxcodecs.Hand3DHeatmap(**examples.get_examples("Hand3DHeatmap").configs[0])
    batch = examples.example_batch(codec, B, seed=0, name="Hand3DHeatmap")
    args = list(batch.encode_args)
    depth_at = next(i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.shape == (B,))
    value = float(args[depth_at][0])
    args[depth_at] = np.full(B, value, args[depth_at].dtype)
    expected = codec.batch_encode(*args, **batch.encode_kwargs)
    for call, scalar in ((codec.batch_encode, value), (jax.jit(codec.batch_encode), np.float32(value))):
        args[depth_at] = scalar
        got = call(*args, **batch.encode_kwargs)
        for key in expected:
            np.testing.assert_array_equal(np.asarray(got[key]), np.asarray(expected[key]), err_msg=key)
