"""The public API and the codec contract, checked for every registered codec.

Like dm-pix's ``api_test.py``: the convention tests are parametrised over
``jaxcodecs.list_codecs()`` and each codec's example configs
(``jaxcodecs.examples``) in both ``mmpose_compat`` modes, so codecs
registered later are covered without touching this file. Encode and decode
arguments come from the codec's entry in ``jaxcodecs.examples``, built on
random poses anywhere in the input; a codec missing from
``MMPOSE_SIGNATURES`` fails the signature test until its MMPose signature is
written down there.
"""

import dataclasses
import functools
import inspect
import logging

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxcodecs
from conftest import check_decode_layout
from inventory import IMPLEMENTED
from jaxcodecs import examples, registry

# ------------------------------------------------------------ MMPose's API
REQUIRED = inspect.Parameter.empty
ANY = object()  # MMPose's default not pinned down here
UNCHECKED = None  # MMPose has no usable signature for this method

# MMPose 1.3.2's positional parameters (name, default) of encode / decode,
# from MMPOSE_BEHAVIOUR.md §2. The port keeps these names, order and
# defaults; any further parameter must be keyword-only.
_KP = (("keypoints", REQUIRED), ("keypoints_visible", None))
MMPOSE_SIGNATURES = {
    "MSRAHeatmap": {"encode": _KP, "decode": (("encoded", REQUIRED),)},
    "UDPHeatmap": {"encode": _KP, "decode": (("encoded", REQUIRED),)},
    "MegviiHeatmap": {"encode": _KP, "decode": (("encoded", REQUIRED),)},
    "RegressionLabel": {"encode": _KP, "decode": (("encoded", REQUIRED),)},
    "IntegralRegressionLabel": {"encode": _KP, "decode": (("encoded", REQUIRED),)},
    "SimCCLabel": {"encode": _KP, "decode": (("simcc_x", REQUIRED), ("simcc_y", REQUIRED))},
    "AssociativeEmbedding": {
        "encode": _KP,
        "decode": UNCHECKED,  # MMPose raises NotImplementedError
        "batch_decode": (("batch_heatmaps", REQUIRED), ("batch_tags", REQUIRED)),
    },
    "SPR": {"encode": _KP, "decode": (("heatmaps", REQUIRED), ("displacements", REQUIRED))},
    "DecoupledHeatmap": {
        "encode": _KP + (("bbox", None),),
        "decode": (("instance_heatmaps", REQUIRED), ("instance_scores", REQUIRED)),
    },
    "ImagePoseLifting": {
        "encode": _KP + (("lifting_target", None), ("lifting_target_visible", None)),
        "decode": (("encoded", REQUIRED), ("target_root", None)),
    },
    "VideoPoseLifting": {
        "encode": _KP + (("lifting_target", None), ("lifting_target_visible", None),
                         ("camera_param", None)),
        "decode": (("encoded", REQUIRED), ("target_root", None)),
    },
    "MotionBERTLabel": {
        "encode": _KP + (("lifting_target", ANY), ("lifting_target_visible", None),
                         ("camera_param", ANY), ("factor", None)),
        "decode": (("encoded", REQUIRED), ("w", None), ("h", None), ("factor", None)),
    },
    "Hand3DHeatmap": {
        "encode": (("keypoints", REQUIRED), ("keypoints_visible", ANY),
                   ("dataset_keypoint_weights", ANY), ("rel_root_depth", ANY),
                   ("rel_root_valid", ANY), ("hand_type", ANY), ("hand_type_valid", ANY),
                   ("focal", ANY), ("principal_pt", ANY)),
        "decode": (("heatmaps", REQUIRED), ("root_depth", ANY), ("hand_type", ANY)),
    },
    "EDPoseLabel": {
        "encode": (("img_shape", REQUIRED),) + _KP + (("area", None), ("bboxes", None)),
        "decode": (("input_shapes", REQUIRED), ("pred_logits", REQUIRED),
                   ("pred_boxes", REQUIRED), ("pred_keypoints", REQUIRED)),
    },
    "YOLOXPoseAnnotationProcessor": {
        "encode": (("keypoints", None), ("keypoints_visible", None), ("bbox", None),
                   ("category_id", None)),
        "decode": UNCHECKED,  # MMPose: decode(*args, **kwargs) -> None
    },
}

# MMPose's constructor arguments, in order (MMPOSE_BEHAVIOUR.md §2): configs
# written for MMPose, positional ones included, build the same codec.
MMPOSE_CONSTRUCTORS = {
    "MSRAHeatmap": ("input_size", "heatmap_size", "sigma", "unbiased", "blur_kernel_size"),
    "UDPHeatmap": ("input_size", "heatmap_size", "heatmap_type", "sigma", "radius_factor",
                   "blur_kernel_size"),
    "MegviiHeatmap": ("input_size", "heatmap_size", "kernel_size"),
    "RegressionLabel": ("input_size",),
    "IntegralRegressionLabel": ("input_size", "heatmap_size", "sigma", "unbiased",
                                "blur_kernel_size", "normalize"),
    "SimCCLabel": ("input_size", "smoothing_type", "sigma", "simcc_split_ratio",
                   "label_smooth_weight"),
    "AssociativeEmbedding": ("input_size", "heatmap_size", "sigma", "use_udp"),
    "SPR": ("input_size", "heatmap_size", "sigma", "generate_keypoint_heatmaps", "root_type"),
    "DecoupledHeatmap": ("input_size", "heatmap_size", "root_type", "heatmap_min_overlap",
                         "encode_max_instances"),
    "ImagePoseLifting": ("num_keypoints", "root_index", "remove_root", "save_index",
                         "reshape_keypoints", "concat_vis"),
    "VideoPoseLifting": ("num_keypoints", "zero_center", "root_index", "remove_root",
                         "save_index", "reshape_keypoints", "concat_vis", "normalize_camera"),
    "MotionBERTLabel": ("num_keypoints", "root_index", "remove_root", "save_index",
                        "concat_vis", "rootrel", "mode"),
    "Hand3DHeatmap": ("image_size", "root_heatmap_size", "heatmap_size"),
    "EDPoseLabel": ("num_select", "num_keypoints"),
    "YOLOXPoseAnnotationProcessor": ("expand_bbox", "input_size"),
}

# Annotations beyond encode's arguments that a codec's MMPose mapping tables
# name (MMPose packs them from the data sample): YOLOX-Pose's areas, box
# scores and keypoints.
PACKED_ANNOTATIONS = {
    "YOLOXPoseAnnotationProcessor": {"keypoints", "keypoints_visible", "area", "bbox_score"},
}

NUM_KEYPOINTS = 17
BATCH = 3


# ------------------------------------------------------------------- cases
def _cases():
    cases = []
    for name in jaxcodecs.list_codecs():
        for index in range(len(examples.get_examples(name).configs)):
            for compat in (True, False):
                cases.append(pytest.param(name, index, compat,
                                          id=f"{name}-{index}-{'compat' if compat else 'exact'}"))
    return cases


CASES = _cases()


def config(name, index):
    return dict(examples.get_examples(name).configs[index])


@functools.lru_cache(maxsize=None)
def make_codec(name, index, compat):
    return jaxcodecs.build({"type": name, **config(name, index), "mmpose_compat": compat})


def example(codec, seed, batch=1):
    """The codec's example batch (``jaxcodecs.examples``) of ``batch`` random
    poses anywhere in its input, a third of the keypoints invisible."""
    rng = np.random.default_rng(seed)
    width, height = examples.input_size_of(codec)
    kp = np.stack([rng.uniform(0, width - 1, (batch, NUM_KEYPOINTS)),
                   rng.uniform(0, height - 1, (batch, NUM_KEYPOINTS))], -1).astype(np.float32)
    vis = rng.choice([1.0, 1.0, 0.0], size=(batch, NUM_KEYPOINTS)).astype(np.float32)
    return examples.make_batch(codec, kp, vis, seed=seed)


def unbatch(tree, i=0):
    """Sample ``i`` of batched arguments."""
    return jax.tree_util.tree_map(lambda x: x[i], tree)


def sample(codec, seed):
    """One sample's encode arguments ``(args, kwargs)`` and decode arguments
    ``(args, kwargs)``."""
    batch = example(codec, seed)
    return ((unbatch(batch.encode_args), unbatch(batch.encode_kwargs)),
            (unbatch(batch.decode_args), unbatch(batch.decode_kwargs)))


def from_encoded(codec, encoded):
    """``decode``'s arguments taken from ``encode``'s output by the codec's
    ``decode_input_keys`` (what ``round_trip`` does)."""
    return [encoded[key] for key in codec.decode_input_keys]


TRACES = {}


def _counted(fn, key):
    """Counts how often ``fn`` is traced (called with tracers)."""
    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves((args, kwargs))):
            TRACES[key] = TRACES.get(key, 0) + 1
        return fn(*args, **kwargs)
    return wrapped


def _named(fn, name):
    """``fn`` renamed: ``jax.jit`` names its program after the function, and
    the test run's compilation cache keys on that name, so a program named
    like the one the example batches and other modules compile (e.g.
    ``batch_encode``) is compiled once."""
    fn.__name__ = fn.__qualname__ = name
    return fn


def _call(method):
    def call(codec, *args, **kwargs):
        return getattr(codec, method)(*args, **kwargs)
    return _named(call, method)


@functools.lru_cache(maxsize=None)
def jitted(name, index, compat):
    """Module-wide jitted encode / decode / batch functions of one case (one
    compile each for the whole module). encode / decode close over the codec;
    the batch functions take it as a static argument (``*_static``; the
    plain ``batch_*`` entries pass this case's codec), so that a codec built
    again from the same config can be passed to the same compiled function."""
    codec = make_codec(name, index, compat)
    key = (name, index, compat)
    fns = {
        "encode": jax.jit(_counted(codec.encode, key + ("encode",))),
        "decode": jax.jit(_counted(codec.decode, key + ("decode",))),
    }
    for method in ("batch_encode", "batch_decode"):
        fns[method + "_static"] = jax.jit(_counted(_call(method), key + (method,)), static_argnums=0)
        fns[method] = functools.partial(fns[method + "_static"], codec)
    return fns


def assert_close(actual, expected, tol=1e-6):
    chex.assert_trees_all_equal_structs(actual, expected)
    for a, e in zip(jax.tree_util.tree_leaves(actual), jax.tree_util.tree_leaves(expected)):
        np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(e, np.float64), rtol=tol, atol=tol)


# ------------------------------------------------------------ exports / build
def test_exports():
    for symbol in jaxcodecs.__all__:
        assert hasattr(jaxcodecs, symbol), symbol
    for symbol in jaxcodecs.ops.__all__:
        assert callable(getattr(jaxcodecs.ops, symbol)), symbol
    assert set(jaxcodecs.__all__) >= {"Codec", "build", "register", "list_codecs",
                                      "get_codec_class", "ops", "__version__"}
    for name in jaxcodecs.list_codecs():
        assert getattr(jaxcodecs, name) is jaxcodecs.get_codec_class(name)
        assert name in jaxcodecs.__all__


def test_submodules_after_a_plain_import():
    # In a fresh interpreter: this one has imported the submodules already.
    import os  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    script = (
        "import sys, jaxcodecs\n"
        "assert 'jaxcodecs.examples' not in sys.modules\n"
        "print(jaxcodecs.examples.get_examples('MSRAHeatmap').configs[0]['sigma'])\n"
        "print(jaxcodecs.viz.__name__, 'examples' in dir(jaxcodecs))\n"
        "try:\n"
        "    jaxcodecs.no_such_name\n"
        "except AttributeError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         env={**os.environ, "JAX_PLATFORMS": "cpu"}).stdout.split("\n")
    assert float(out[0]) == examples.get_examples("MSRAHeatmap").configs[0]["sigma"]
    assert out[1] == "jaxcodecs.viz True"
    assert out[2] == "module 'jaxcodecs' has no attribute 'no_such_name'"


def test_list_codecs():
    names = jaxcodecs.list_codecs()
    assert isinstance(names, tuple) and list(names) == sorted(names)
    # The written inventory, not a few pinned names: a codec that stops
    # registering fails here (and in the conformance run).
    assert set(names) == set(IMPLEMENTED)
    for name in names:
        klass = jaxcodecs.get_codec_class(name)
        assert issubclass(klass, jaxcodecs.Codec)
        assert examples.get_examples(name).configs, f"{name} has no example configs"


def test_build_matches_constructor_and_accepts_lists():
    cfg = {"type": "UDPHeatmap", "input_size": [192, 256], "heatmap_size": [48, 64],
           "heatmap_type": "combined"}
    snapshot = dict(cfg)
    codec = jaxcodecs.build(cfg)
    assert cfg == snapshot  # the config is not mutated
    direct = jaxcodecs.UDPHeatmap((192, 256), (48, 64), heatmap_type="combined")
    assert codec == direct
    assert codec.input_size == (192, 256) and isinstance(codec.input_size, tuple)
    assert jaxcodecs.build(direct) is direct


def test_build_errors():
    with pytest.raises(KeyError) as err:
        jaxcodecs.build({"type": "NoSuchCodec"})
    message = str(err.value)
    assert "NoSuchCodec" in message
    for name in jaxcodecs.list_codecs():
        assert name in message
    with pytest.raises(KeyError, match="MSRAHeatmap"):
        jaxcodecs.get_codec_class("msraheatmap")
    with pytest.raises(TypeError, match="type"):
        jaxcodecs.build({"input_size": (192, 256)})
    with pytest.raises(TypeError, match="dict"):
        jaxcodecs.build([("type", "MSRAHeatmap")])
    with pytest.raises(TypeError, match="sigmaa"):
        jaxcodecs.build({"type": "MSRAHeatmap", "input_size": (192, 256),
                         "heatmap_size": (48, 64), "sigmaa": 2.0})
    with pytest.raises(TypeError, match="sigma"):
        jaxcodecs.build({"type": "MSRAHeatmap", "input_size": (192, 256), "heatmap_size": (48, 64)})
    with pytest.raises(ValueError, match="heatmap_type"):
        jaxcodecs.build({"type": "UDPHeatmap", "input_size": (192, 256), "heatmap_size": (48, 64),
                         "heatmap_type": "gaussain"})


# MMPose 1.3.2's own codec tests match these phrases in the error text
# (``assertRaisesRegex``); code written against those tests keeps working.
# The exception type is the SPEC's (ValueError), where MMPose asserts.
_TWO_INSTANCES = np.zeros((2, 17, 2), np.float32)
MMPOSE_ERROR_PHRASES = [
    (lambda: jaxcodecs.MSRAHeatmap((192, 256), (48, 64), 2.0).encode(_TWO_INSTANCES),
     "only support single-instance"),
    (lambda: jaxcodecs.MegviiHeatmap((192, 256), (48, 64), 11).encode(_TWO_INSTANCES),
     "only support single-instance"),
    (lambda: jaxcodecs.UDPHeatmap((192, 256), (48, 64)).encode(_TWO_INSTANCES),
     "only support single-instance"),
    (lambda: jaxcodecs.UDPHeatmap((192, 256), (48, 64), heatmap_type="invalid"),
     "invalid `heatmap_type`"),
    (lambda: jaxcodecs.build(dict(type="SimCCLabel", input_size=(192, 256), smoothing_type="uniform")),
     "got invalid `smoothing_type`"),
    (lambda: jaxcodecs.build(dict(type="SimCCLabel", input_size=(192, 256), smoothing_type="standard",
                                  label_smooth_weight=1.1)),
     "`label_smooth_weight` should be"),
    (lambda: jaxcodecs.build(dict(type="SimCCLabel", input_size=(192, 256), smoothing_type="gaussian",
                                  label_smooth_weight=0.1)),
     "is only used for `standard` mode."),
]


@pytest.mark.parametrize("call,phrase", MMPOSE_ERROR_PHRASES,
                         ids=[f"{i}-{case[1][:20]}" for i, case in enumerate(MMPOSE_ERROR_PHRASES)])
def test_mmpose_error_phrases(call, phrase):
    with pytest.raises(ValueError, match=phrase) as info:
        call()
    assert "got" in str(info.value)


def test_register(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    @jaxcodecs.register
    class ToyCodec(jaxcodecs.Codec):
        scale: float = 2.0

        def encode(self, keypoints, keypoints_visible=None):
            return {"keypoint_labels": jnp.asarray(keypoints) / self.scale}

    assert jaxcodecs.get_codec_class("ToyCodec") is ToyCodec
    assert "ToyCodec" in jaxcodecs.list_codecs()
    toy = jaxcodecs.build({"type": "ToyCodec", "scale": 4.0})
    np.testing.assert_array_equal(toy.encode(np.full((1, 2, 2), 8.0))["keypoint_labels"], 2.0)

    jaxcodecs.register(name="Alias")(ToyCodec)
    assert jaxcodecs.get_codec_class("Alias") is ToyCodec

    class Other(jaxcodecs.Codec):
        pass

    with pytest.raises(ValueError, match="ToyCodec"):
        jaxcodecs.register(Other, name="ToyCodec")
    jaxcodecs.register(Other, name="ToyCodec", force=True)
    assert jaxcodecs.get_codec_class("ToyCodec") is Other
    with pytest.raises(TypeError):
        jaxcodecs.register(dict)


def test_register_is_undone(monkeypatch):
    """The registry seen by the other tests has no toy codec."""
    assert "ToyCodec" not in jaxcodecs.list_codecs()


# ------------------------------------------------------------- conventions
@pytest.mark.parametrize("name", jaxcodecs.list_codecs())
def test_signatures(name):
    """MMPose's arguments keep MMPose's names, positions and defaults; every
    other argument of encode / decode / the constructor's jaxcodecs options
    is keyword-only."""
    assert name in MMPOSE_SIGNATURES, f"write down MMPose's signature of {name}"
    klass = jaxcodecs.get_codec_class(name)
    codec = make_codec(name, 0, True)
    for method, expected in MMPOSE_SIGNATURES[name].items():
        if expected is UNCHECKED:
            continue
        params = list(inspect.signature(getattr(codec, method)).parameters.values())
        assert len(params) >= len(expected), (method, params)
        for param, (pname, default) in zip(params, expected):
            assert param.name == pname, (method, param.name, pname)
            assert param.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD, (method, param)
            if default is not ANY:
                assert param.default is default or param.default == default, (method, param)
        for param in params[len(expected):]:
            assert param.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.VAR_KEYWORD), (
                f"{name}.{method}: extra argument {param.name!r} must be keyword-only")
    init = inspect.signature(klass).parameters
    positional = [p.name for p in init.values() if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    expected_init = MMPOSE_CONSTRUCTORS.get(name, ())
    assert tuple(positional[:len(expected_init)]) == expected_init, positional
    assert init["mmpose_compat"].kind is inspect.Parameter.KEYWORD_ONLY
    assert init["mmpose_compat"].default is True
    if "dtype" in init:
        assert init["dtype"].kind is inspect.Parameter.KEYWORD_ONLY


@pytest.mark.parametrize("name,index,compat", CASES)
def test_codec_is_a_pytree(name, index, compat):
    codec = make_codec(name, index, compat)
    leaves, treedef = jax.tree_util.tree_flatten(codec)
    rebuilt = jax.tree_util.tree_unflatten(treedef, leaves)
    assert type(rebuilt) is type(codec)
    chex.assert_trees_all_equal(rebuilt, codec)
    hash(treedef)
    # The same configuration gives an equal treedef (so jit caches hit).
    again = jaxcodecs.build({"type": name, **config(name, index), "mmpose_compat": compat})
    assert jax.tree_util.tree_structure(again) == treedef
    # Leaves are numbers / arrays; static fields are hashable.
    for leaf in leaves:
        assert isinstance(leaf, (int, float, np.number, np.ndarray, jax.Array)), leaf
    static = [f for f in dataclasses.fields(codec) if not f.metadata.get("pytree_node", True)]
    assert any(f.name == "mmpose_compat" for f in static)
    for field in static:
        hash(getattr(codec, field.name))
    assert codec.mmpose_compat is compat
    # Mapping tables: a pixel field is neither a label nor an instance; labels
    # and instances may share a key (YOLOX-Pose packs its boxes as both, as
    # in MMPose). decode reads encoded keys.
    tables = [set(codec.label_mapping_table), set(codec.instance_mapping_table),
              set(codec.field_mapping_table)]
    assert not (tables[0] & tables[2] or tables[1] & tables[2])
    # decode reads encoded keys, unless it reads model outputs encode does
    # not make (then round_trip says so).
    if not codec.decode_input_keys:
        with pytest.raises(TypeError, match="round_trip"):
            codec.round_trip(np.zeros((1, 17, 2), np.float32))


@pytest.mark.parametrize("name,index,compat", CASES)
def test_jit_encode_decode_and_output_convention(name, index, compat):
    codec = make_codec(name, index, compat)
    fns = jitted(name, index, compat)
    (args, kwargs), (dec_args, dec_kwargs) = sample(codec, 0)
    encoded = fns["encode"](*args, **kwargs)
    assert isinstance(encoded, dict) and encoded
    for key, value in encoded.items():
        for leaf in jax.tree_util.tree_leaves(value):  # arrays, or dicts of arrays (camera_param)
            assert isinstance(leaf, jax.Array), key
            assert np.isfinite(np.asarray(leaf, np.float64)).all(), key
    assert set(codec.decode_input_keys) <= set(encoded)
    for table in (codec.label_mapping_table, codec.instance_mapping_table, codec.field_mapping_table):
        # MMPose packs these from the encoded dict or, for the lifting codecs'
        # instance tables, from the annotations passed to encode (and, for
        # YOLOX-Pose's, from dataset annotations encode does not take).
        packed = set(encoded) | set(codec.auxiliary_encode_keys) | PACKED_ANNOTATIONS.get(name, set())
        assert set(table) <= packed
    decoded = fns["decode"](*dec_args, **dec_kwargs)
    if not codec.decode_outputs:  # an annotation processor: decode returns None
        assert decoded is None and check_decode_layout(codec, decoded) == {}
        return
    assert isinstance(decoded, tuple) and len(decoded) >= 2
    # The layout the codec declares: (keypoints, scores) for most, nested or
    # with padded rows and ``valid`` for the multi-person decoders.
    parts = check_decode_layout(codec, decoded)
    assert all(isinstance(v, jax.Array) for v in jax.tree_util.tree_leaves(decoded))
    assert jnp.issubdtype(parts["keypoints"].dtype, jnp.floating)
    if not codec.auxiliary_encode_keys and codec.decode_input_keys:
        round_trip = jax.jit(codec.round_trip)(*args, **kwargs)
        assert_close(round_trip, fns["decode"](*from_encoded(codec, encoded)), tol=1e-5)


@pytest.mark.parametrize("name,index,compat", CASES)
def test_batch_equals_loop_and_vmap(name, index, compat):
    """batch_encode / batch_decode (jitted) equal a Python loop of the
    jitted single-sample functions within 1e-6, and jax.vmap works."""
    codec = make_codec(name, index, compat)
    fns = jitted(name, index, compat)
    batch = example(codec, 1, BATCH)
    args, kwargs = batch.encode_args, batch.encode_kwargs
    batched = fns["batch_encode"](*args, **kwargs)
    looped = [fns["encode"](*unbatch(args, i), **unbatch(kwargs, i)) for i in range(BATCH)]
    assert_close(batched, jax.tree_util.tree_map(lambda *xs: np.stack(xs), *looped))
    # jax.vmap of encode traces to batch_encode's program; under that name
    # the compilation is shared (only the XLA compile: vmap is still traced).
    vmapped = jax.jit(_named(jax.vmap(codec.encode), "batch_encode"))(*args, **kwargs)
    assert_close(vmapped, batched)

    dec_args, dec_kwargs = batch.decode_args, batch.decode_kwargs
    batched_dec = fns["batch_decode"](*dec_args, **dec_kwargs)
    looped_dec = [fns["decode"](*unbatch(dec_args, i), **unbatch(dec_kwargs, i)) for i in range(BATCH)]
    assert_close(batched_dec, jax.tree_util.tree_map(lambda *xs: np.stack(xs), *looped_dec))
    check_decode_layout(codec, batched_dec, batch=BATCH)


def _compilations(caplog):
    return [r.getMessage() for r in caplog.records if "Compiling" in r.getMessage()]


@pytest.mark.parametrize("name,index,compat", CASES)
def test_no_retrace_on_new_values(name, index, compat, caplog):
    """A second call with new values of the same shapes traces and compiles
    nothing (jax.log_compiles reports no compilation), for encode, decode,
    batch_encode and batch_decode. The batch functions get, the second
    time, a codec built again from the same config: as a static jit argument
    it hits the cache only if it is hashable and equal to the first one
    (SPEC §3: hashable static fields; equality by value, not identity). The
    counts are checked after a first call in this test, so they hold
    whichever tests ran the jitted functions before (one trace each for the
    whole module)."""
    codec = make_codec(name, index, compat)
    fresh = jaxcodecs.build({"type": name, **config(name, index), "mmpose_compat": compat})
    assert fresh is not codec
    fns = jitted(name, index, compat)
    key = (name, index, compat)
    kinds = ("encode", "decode", "batch_encode", "batch_decode")
    (args, kwargs), (dec_args, dec_kwargs) = sample(codec, 10)
    encoded = fns["encode"](*args, **kwargs)
    decoded = fns["decode"](*dec_args, **dec_kwargs)
    batch = example(codec, 40, BATCH)
    batch_encoded = fns["batch_encode"](*batch.encode_args, **batch.encode_kwargs)
    batch_decoded = fns["batch_decode"](*batch.decode_args, **batch.decode_kwargs)
    assert [TRACES[key + (kind,)] for kind in kinds] == [1, 1, 1, 1]
    # New values of the same shapes and dtypes (made before compilations are watched).
    (new_args, new_kwargs), (new_dec_args, new_dec_kwargs) = sample(codec, 11)
    new_batch = example(codec, 50, BATCH)
    new_batch_dec = (new_batch.decode_args, new_batch.decode_kwargs)
    jax.block_until_ready((decoded, batch_decoded, new_dec_args, new_batch_dec))
    with caplog.at_level(logging.WARNING), jax.log_compiles(True):
        out = fns["encode"](*new_args, **new_kwargs)
        out2 = fns["decode"](*new_dec_args, **new_dec_kwargs)
        out3 = fns["batch_encode_static"](fresh, *new_batch.encode_args, **new_batch.encode_kwargs)
        out4 = fns["batch_decode_static"](fresh, *new_batch_dec[0], **new_batch_dec[1])
        jax.block_until_ready((out, out2, out3, out4))
    assert _compilations(caplog) == []
    assert [TRACES[key + (kind,)] for kind in kinds] == [1, 1, 1, 1]
    # The second calls really saw new values (a decoder that returns None has none to see).
    for new, old in ((out, encoded), (out2, decoded), (out3, batch_encoded), (out4, batch_decoded)):
        if new is None and not codec.decode_outputs:
            continue
        assert any(not np.array_equal(np.asarray(a), np.asarray(b))
                   for a, b in zip(jax.tree_util.tree_leaves(new), jax.tree_util.tree_leaves(old)))


@pytest.mark.parametrize("name", jaxcodecs.list_codecs())
def test_chex_assert_max_traces(name):
    """The same check through chex's public API, once per codec class; also
    a codec passed as a jit argument with a changed float leaf (e.g. sigma)
    is not retraced."""
    chex.clear_trace_counter()
    codec = make_codec(name, 0, False)
    encode = jax.jit(chex.assert_max_traces(lambda c, *a, **k: c.encode(*a, **k), n=1))
    (args, kwargs), _ = sample(codec, 20)
    first = encode(codec, *args, **kwargs)
    (args2, kwargs2), _ = sample(codec, 21)
    encode(codec, *args2, **kwargs2)  # raises AssertionError if traced again
    leaves, treedef = jax.tree_util.tree_flatten(codec)
    if leaves:
        bumped = jax.tree_util.tree_map(lambda v: v * 1.25, codec)  # same leaf types
        second = encode(bumped, *args, **kwargs)
        assert any(not np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(first),
                                                            jax.tree_util.tree_leaves(second)))
    chex.clear_trace_counter()


def _one_case_per_codec():
    seen, cases = set(), []
    for case in CASES:
        name = case.values[0]
        # The last example config (e.g. DARK rather than plain MSRA) exercises most.
        last = len(examples.get_examples(name).configs) - 1
        if name not in seen and case.values[1] == last:
            seen.add(name)
            cases.append(case)
    return cases


@pytest.mark.parametrize("name,index,compat", _one_case_per_codec())
def test_inputs_are_not_mutated(name, index, compat):
    """Un-jitted (where NumPy could write in place, as MMPose's blurs do)."""
    codec = make_codec(name, index, compat)
    fns = jitted(name, index, compat)
    (args, kwargs), (dec_args, dec_kwargs) = sample(codec, 30)
    snapshot = jax.tree_util.tree_map(np.copy, (args, kwargs))
    codec.encode(*args, **kwargs)
    chex.assert_trees_all_equal((args, kwargs), snapshot)
    inputs = jax.tree_util.tree_map(np.array, (dec_args, dec_kwargs))
    inputs_copy = jax.tree_util.tree_map(np.copy, inputs)
    fns["decode"](*inputs[0], **inputs[1])
    codec.decode(*inputs[0], **inputs[1])
    chex.assert_trees_all_equal(inputs, inputs_copy)
