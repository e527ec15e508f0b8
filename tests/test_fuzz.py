"""Property fuzzing of every registered codec (hypothesis).

Each property runs ``EXAMPLES = 200`` examples per codec in the ``ci``
profile (set on each test; the profile does not cap it), drawn across the
codec's configurations in ``tests/fuzz_cases.py``. Shapes are fixed per
configuration and only values are drawn, so each configuration compiles
once per function (``compiled`` caches the jitted functions for the module).

Properties, for every codec in ``jaxcodecs.list_codecs()`` (a registered
codec without an entry in ``fuzz_cases.FUZZ`` fails every test, naming it):

1. ``jax.jit`` agrees with op-by-op execution (``jaxcodecs._eager.op_by_op``:
   an eager call itself runs one jitted program), ``encode`` and ``decode``
   (the tolerances are at :data:`JIT_RTOL`);
2. ``batch_encode`` / ``batch_decode`` equal a loop of ``encode`` /
   ``decode`` over the samples;
3. making one keypoint invisible changes only that keypoint's entries
   (its map channels, label rows, weight) and zeroes its weight (and the
   maps of codecs that paint visible keypoints only);
4. the map-drawing encoders in the exact mode are translation equivariant:
   keypoints shifted by whole map pixels give the maps shifted by as many
   pixels, away from the borders, and the same weights;
5. ``decode(encode(x))`` is within each codec's documented bound;
6. outputs are finite for any finite input whose outputs are representable:
   keypoints anywhere in the float32 range (lifting: up to 1e20, where a
   difference of two coordinates still fits), any finite visibility (Hand3D
   with joint weights: up to 1e38, as its weight is visibility x joint
   weight), and decoders fed any map with ``|value| <= 1e30`` (noise,
   constants, spikes, denormals; lifting poses up to 1e20; maps near the
   float32 maximum belong to the bad-input matrix).
"""

from __future__ import annotations

import functools

import jax
import numpy as np
import pytest
from fuzz_cases import FUZZ, K, jitted
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxcodecs
from jaxcodecs._eager import op_by_op

EXAMPLES = 200
BATCH = 3
NAMES = jaxcodecs.list_codecs()
SHIFTED = [name for name in NAMES if name in FUZZ and FUZZ[name].shifts]

# jit vs op-by-op: XLA compiles the whole function at once and may fuse
# element-wise chains (contracting a * b + c into one fused multiply-add,
# reassociating reductions, constant-folding the codec's fields, which jit
# closes over). Each such rewrite moves a float32 result by about an ulp
# (6e-8 relative); a chain of a few dozen operations stays within 1e-5 of
# the largest value of the array.
JIT_RTOL = 1e-5


def entry(name):
    if name not in FUZZ:
        pytest.fail(f"{name} is registered (jaxcodecs.list_codecs()) but has no entry in tests/fuzz_cases.py "
                    f"FUZZ: add its configurations, owners, round trip and shifts there.")
    return FUZZ[name]


@functools.lru_cache(maxsize=None)
def compiled(name, index):
    """The case, its codec and the codec's four jitted functions, once per
    configuration (``fuzz_cases.jitted``: shared with a round trip of an
    equal codec)."""
    case = FUZZ[name].cases[index]
    codec = case.make()
    fns = {fn: jitted(codec, fn) for fn in ("encode", "decode", "batch_encode", "batch_decode")}
    return case, codec, fns


def draw_case(data, name):
    cases = entry(name).cases
    return compiled(name, data.draw(st.sampled_from(range(len(cases))), label="case"))


def decode_call(case, codec, args, encoded):
    """Positional and keyword arguments of ``decode`` (of ``batch_decode``
    for a batch): the encoded ``decode_input_keys``, or the case's own
    ``decode_args`` for a decoder that reads arrays encode does not make."""
    if case.decode_args is not None:
        return case.decode_args(codec, args, encoded), case.decode_kwargs(args, encoded)
    return [encoded[key] for key in codec.decode_input_keys], case.decode_kwargs(args, encoded)


def condition(case, args):
    return 1.0 if case.encode_condition is None else case.encode_condition(args)


def decode_scale(case, dargs, dkwargs):
    return 0.0 if case.decode_scale is None else case.decode_scale(dargs, dkwargs)


def flat(tree):
    return [(jax.tree_util.keystr(path), np.asarray(leaf)) for path, leaf in
            jax.tree_util.tree_flatten_with_path(tree)[0]]


def assert_trees_close(actual, expected, rtol, what, scale=0.0):
    """Same structure, shapes and dtypes; floats within ``rtol`` of the
    largest magnitude of each array (or of ``scale``, the magnitude of the
    intermediate values, where larger), everything else equal."""
    actual, expected = flat(actual), flat(expected)
    assert [p for p, _ in actual] == [p for p, _ in expected], what
    for (path, a), (_, b) in zip(actual, expected):
        assert a.shape == b.shape and a.dtype == b.dtype, (what, path, a.shape, b.shape, a.dtype, b.dtype)
        if np.issubdtype(b.dtype, np.inexact):
            a64, b64 = a.astype(np.float64), b.astype(np.float64)
            atol = rtol * max(np.abs(b64).max(initial=0.0), scale)
            if not (np.abs(a64 - b64) <= atol).all():  # (assert_allclose is slow; called for the message)
                np.testing.assert_allclose(a64, b64, rtol=0, atol=atol, err_msg=f"{what} {path}")
        elif not np.array_equal(a, b):
            np.testing.assert_array_equal(a, b, err_msg=f"{what} {path}")


def assert_finite(tree, what):
    for path, leaf in flat(tree):
        if np.issubdtype(leaf.dtype, np.inexact):
            assert np.isfinite(leaf.astype(np.float64)).all(), f"{what} {path}: {leaf}"


def stack(trees):
    return jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *trees)


def unbatch(tree, i):
    return jax.tree_util.tree_map(lambda x: np.asarray(x)[i], tree)


# ---------------------------------------------------------------- the table
def test_every_registered_codec_has_a_fuzz_entry():
    missing = sorted(set(NAMES) - set(FUZZ))
    stale = sorted(set(FUZZ) - set(NAMES))
    assert not missing, f"registered codecs without an entry in tests/fuzz_cases.py FUZZ: {missing}"
    assert not stale, f"entries in tests/fuzz_cases.py FUZZ for codecs that are not registered: {stale}"


# --------------------------------------------------------------- properties
@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_jit_matches_eager(name, data):
    case, codec, fns = draw_case(data, name)
    args = case.draw(data.draw, False)
    encoded = fns["encode"](*args)
    # op_by_op: an eager call of the codec would run a jitted program itself.
    assert_trees_close(encoded, op_by_op(codec.encode)(*args), JIT_RTOL * condition(case, args), "encode")
    dargs, dkwargs = decode_call(case, codec, args, encoded)
    eager = op_by_op(codec.decode)(*dargs, **dkwargs)
    assert_trees_close(fns["decode"](*dargs, **dkwargs), eager, JIT_RTOL, "decode", decode_scale(case, dargs, dkwargs))


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_batch_equals_loop(name, data):
    case, codec, fns = draw_case(data, name)
    samples = [case.draw(data.draw, False) for _ in range(BATCH)]
    batched = fns["batch_encode"](*stack(samples))
    looped = stack([fns["encode"](*sample) for sample in samples])
    assert_trees_close(batched, looped, JIT_RTOL * condition(case, stack(samples)), "batch_encode")
    dargs, dkwargs = decode_call(case, codec, stack(samples), batched)
    looped_dec = []
    for i, sample in enumerate(samples):
        one = unbatch(batched, i)
        args_i, kwargs_i = decode_call(case, codec, sample, one)
        looped_dec.append(fns["decode"](*args_i, **kwargs_i))
    assert_trees_close(fns["batch_decode"](*dargs, **dkwargs), stack(looped_dec), JIT_RTOL, "batch_decode",
                       decode_scale(case, dargs, dkwargs))


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_invisible_keypoint_changes_only_its_own_entries(name, data):
    case, codec, fns = draw_case(data, name)
    args = case.draw(data.draw, False)
    k = data.draw(st.integers(0, K - 1), label="k")
    before = fns["encode"](*args)
    after = fns["encode"](*case.invisible(args, k))
    assert set(before) == set(after)
    assert set(case.owners) <= set(before), (case.id, sorted(set(case.owners) - set(before)))
    assert set(case.zeroed) <= set(case.owners), case.id
    for key in before:
        if key not in case.owners:
            assert_trees_close(after[key], before[key], 0.0, key)
            continue
        b, a = np.asarray(before[key]), np.asarray(after[key])
        own = case.owners[key].mask(codec, b.shape, k)
        np.testing.assert_array_equal(a[~own], b[~own], err_msg=f"{case.id}: {key} changed outside keypoint {k}")
        if key in case.zeroed:
            np.testing.assert_array_equal(a[own], 0, err_msg=f"{case.id}: {key} of invisible keypoint {k}")


def overlap(before, after, shifts):
    """The parts of ``before`` and ``after`` that a shift of the trailing
    axes by ``shifts`` maps onto each other."""
    index_b, index_a = [], []
    for s, size in zip(shifts, before.shape[len(before.shape) - len(shifts):]):
        index_b.append(slice(0, size - s) if s >= 0 else slice(-s, size))
        index_a.append(slice(s, size) if s >= 0 else slice(0, size + s))
    return before[(Ellipsis, *index_b)], after[(Ellipsis, *index_a)]


@functools.lru_cache(maxsize=None)
def shift_encoder(name, index):
    codec = FUZZ[name].shifts[index].make()
    assert not codec.mmpose_compat
    return jax.jit(codec.encode)


@pytest.mark.parametrize("name", SHIFTED)
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_translation_equivariance_in_exact_mode(name, data):
    """Keypoints on a 1/16 map-px grid at least ``margin + max_shift`` map px
    from every border, shifted by whole map pixels ``n`` (``n * scale`` input
    units, exact in float32): the maps move by ``n`` pixels (equal on the
    overlap up to float32 rounding, 1e-6 of the peak) and the weights stay."""
    shifts = FUZZ[name].shifts
    index = data.draw(st.sampled_from(range(len(shifts))), label="config")
    spec, encode = shifts[index], shift_encoder(name, index)
    lo = spec.margin + spec.max_shift
    coordinate = [st.integers(16 * lo, 16 * (size - 1 - lo)) for size in spec.map_size]
    grid = np.array(data.draw(st.lists(st.tuples(*coordinate), min_size=K, max_size=K)), np.float64) / 16
    n = np.array(data.draw(st.tuples(*[st.integers(-spec.max_shift, spec.max_shift)] * len(spec.map_size)),
                           label="shift"))
    scale = np.array(spec.scale, np.float64)
    offset = np.zeros(len(scale)) if spec.offset is None else np.array(spec.offset)
    kp = (grid * scale + offset)[None]
    moved = ((grid + n) * scale + offset)[None]
    assert (kp.astype(np.float32) == kp).all() and (moved.astype(np.float32) == moved).all()
    kp, moved = kp.astype(np.float32), moved.astype(np.float32)
    before, after = encode(kp, *spec.extra_args(kp)), encode(moved, *spec.extra_args(moved))
    np.testing.assert_array_equal(after["keypoint_weights"], before["keypoint_weights"])
    assert (np.asarray(before["keypoint_weights"]) > 0).all()
    for (b, axes), (a, _) in zip(spec.maps(before), spec.maps(after)):
        ob, oa = overlap(b, a, axes(n))
        peak = np.abs(b).max()
        assert peak > 0
        np.testing.assert_allclose(oa, ob, rtol=1e-6, atol=1e-6 * peak)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_round_trip_within_documented_bound(name, data):
    entry(name).round_trip(data)


MAGNITUDES = [0.0, 1e-42, 1e-30, 1e-3, 1.0, 255.0, 1e6, 1e15, 1e20, 1e30]


def finite_maps(data, template, largest):
    """An array of the shape of ``template`` as a model might output it, or
    worse: noise, a constant, sparse spikes or a ramp, of any magnitude up
    to ``largest`` (denormals included), positive, negative or mixed."""
    kind = data.draw(st.sampled_from(["noise", "constant", "spikes", "ramp"]), label="map kind")
    magnitude = data.draw(st.sampled_from([m for m in MAGNITUDES if m <= largest]), label="magnitude")
    sign = data.draw(st.sampled_from([1.0, -1.0, 0.0]), label="offset sign")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    shape = np.shape(template)
    if kind == "noise":
        values = rng.uniform(-1, 1, shape) + sign
    elif kind == "constant":
        values = np.full(shape, sign if sign else 1.0)
    elif kind == "spikes":
        values = np.where(rng.uniform(size=shape) < 0.02, rng.uniform(0.5, 1, shape), 0.0) + sign
    else:
        values = np.linspace(-1, 1, int(np.prod(shape))).reshape(shape) + sign
    return (values / 2 * magnitude).astype(np.float32)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_outputs_are_finite_for_finite_input(name, data):
    case, codec, fns = draw_case(data, name)
    args = case.draw(data.draw, True)
    encoded = fns["encode"](*args)
    assert_finite(encoded, "encode")
    dargs, dkwargs = decode_call(case, codec, args, encoded)
    assert_finite(fns["decode"](*dargs, **dkwargs), "decode of the targets")
    maps = [finite_maps(data, a, case.decode_magnitude) for a in dargs]
    assert_finite(fns["decode"](*maps, **dkwargs), "decode of finite maps")
