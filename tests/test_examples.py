"""``jaxcodecs.examples``: an entry for every registered codec, configs that
build, encode arguments that encode and decode arguments that decode to the
documented layout, close to the poses they were made from."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxcodecs
from conftest import check_decode_layout
from jaxcodecs import examples, registry

PACKAGE = Path(jaxcodecs.__file__).resolve().parent
BATCH = 3
MODES = {"compat": True, "exact": False}
# Decoders that return a fixed number of ranked candidates, each row a
# decoded instance (EDPose's top num_select queries): the truth is the
# nearest row.
CANDIDATE_DECODERS = {"EDPoseLabel"}

CASES = [
    pytest.param(name, index, compat, id=f"{name}-{index}-{mode}")
    for name in jaxcodecs.list_codecs()
    for index in range(len(examples.get_examples(name).configs))
    for mode, compat in MODES.items()
]


@functools.lru_cache(maxsize=None)
def _codec(name, index, compat):
    config = examples.get_examples(name).configs[index]
    return jaxcodecs.build({"type": name, **config, "mmpose_compat": compat})


@functools.lru_cache(maxsize=None)
def _batch(name, index, compat):
    return examples.example_batch(_codec(name, index, compat), BATCH, seed=7)


def _sample(tree, i):
    return jax.tree_util.tree_map(lambda x: x[i], tree)


# ------------------------------------------------------------- the entries
def test_every_registered_codec_has_an_entry():
    assert set(jaxcodecs.list_codecs()) <= set(examples.list_examples())
    assert list(examples.list_examples()) == sorted(examples.list_examples())
    for name in jaxcodecs.list_codecs():
        entry = examples.get_examples(name)
        assert isinstance(entry, examples.CodecExamples)
        assert entry.configs and all(isinstance(c, dict) for c in entry.configs)
        assert callable(entry.encode_inputs) and callable(entry.decode_inputs)


@pytest.mark.parametrize("name,index,compat", CASES)
def test_config_builds(name, index, compat):
    config = examples.get_examples(name).configs[index]
    assert "type" not in config and "mmpose_compat" not in config
    codec = _codec(name, index, compat)
    assert type(codec) is jaxcodecs.get_codec_class(name)
    assert codec.mmpose_compat is compat
    assert codec == jaxcodecs.get_codec_class(name)(**config, mmpose_compat=compat)


@pytest.mark.parametrize("name,index,compat", CASES)
def test_encode_args_encode_jitted_and_batched(name, index, compat):
    codec = _codec(name, index, compat)
    batch = _batch(name, index, compat)
    assert batch.keypoints.shape[0] == BATCH and batch.visible.shape == batch.keypoints.shape[:2]
    encoded = jax.jit(codec.batch_encode)(*batch.encode_args, **batch.encode_kwargs)
    assert isinstance(encoded, dict) and encoded
    for leaf in jax.tree_util.tree_leaves(encoded):
        assert leaf.shape[0] == BATCH
        assert np.isfinite(np.asarray(leaf, np.float64)).all()
    # Sample 1 alone through the jitted single-sample encode: the same targets.
    single = jax.jit(codec.encode)(*_sample(batch.encode_args, 1), **_sample(batch.encode_kwargs, 1))
    jax.tree_util.tree_map(
        lambda a, b: np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64),
                                                rtol=1e-5, atol=1e-5),
        single, _sample(encoded, 1))


def _tolerance(codec):
    """The largest decoding error per coordinate (input units) of poses in
    the central 70% of the input: half a cell for quantised decoders (a
    heatmap pixel, a SimCC bin, a voxel), float32 rounding otherwise."""
    name = type(codec).__name__
    if name == "AssociativeEmbedding":
        # The pixel (0.5 px) plus the quarter-pixel step; UDP's refinement
        # is finer, the same bound holds.
        return 0.75 * np.asarray(codec.scale_factor) + 1e-3
    if name == "DecoupledHeatmap":
        # The pixel and the quarter-pixel step, plus in MMPose's mode the
        # one-pixel peak shift of a non-integer 3σ (box-derived sigmas).
        return (1.75 if codec.mmpose_compat else 0.75) * np.asarray(codec.scale_factor) + 1e-3
    if name in ("MSRAHeatmap", "UDPHeatmap", "MegviiHeatmap"):
        return 0.5 * np.asarray(codec.input_size) / np.asarray(codec.heatmap_size) + 1e-3
    if name == "SimCCLabel":
        return np.full(2, 0.5 / codec.simcc_split_ratio + 1e-3)
    if name == "Hand3DHeatmap":
        width, height, depth = codec.heatmap_size
        cells = np.array([codec.image_size[0] / width, codec.image_size[1] / height,
                          float(codec.heatmap3d_depth_bound) / depth])
        return 0.5 * cells + 1e-3
    return None  # exact decoders


@pytest.mark.parametrize("name,index,compat", CASES)
def test_decode_args_decode_to_the_documented_layout(name, index, compat):
    codec = _codec(name, index, compat)
    batch = _batch(name, index, compat)
    decoded = jax.jit(codec.batch_decode)(*batch.decode_args, **batch.decode_kwargs)
    if not codec.decode_outputs:  # an annotation processor: decode returns None
        assert decoded is None
        return
    assert isinstance(decoded, tuple) and len(decoded) >= 2
    parts = check_decode_layout(codec, decoded, batch=BATCH)
    keypoints = np.asarray(parts["keypoints"])
    _, joints, dims = batch.keypoints.shape
    assert keypoints.shape[2:] == (joints, dims), (keypoints.shape, batch.keypoints.shape)
    assert jnp.issubdtype(keypoints.dtype, jnp.floating)
    # The decoded instance nearest to the truth (a single-instance codec
    # decodes one; a multi-person one its valid rows) gives back the truth
    # at visible keypoints.
    distance = np.abs(keypoints.astype(np.float64) - batch.keypoints[:, None]).mean(axis=(2, 3))
    if "valid" in parts:
        assert np.asarray(parts["valid"]).any(axis=1).all()
        distance = np.where(np.asarray(parts["valid"]), distance, np.inf)
    elif name not in CANDIDATE_DECODERS:
        assert keypoints.shape[1] == 1
    keypoints = keypoints[np.arange(BATCH), np.argmin(distance, axis=1)][:, None]
    error = np.abs(keypoints[:, 0].astype(np.float64) - batch.keypoints)[batch.visible > 0]
    tolerance = _tolerance(codec)
    if tolerance is None:
        truth = batch.keypoints[batch.visible > 0]
        np.testing.assert_allclose(keypoints[:, 0][batch.visible > 0], truth,
                                   rtol=1e-5, atol=1e-7 * max(1.0, np.abs(truth).max()))
    else:
        assert (error <= tolerance).all(), (error.max(0), tolerance)


def test_one_stage_entries_use_the_default_image():
    """The one-stage entries' image size is the one the poses are placed in
    for a codec without ``input_size``; their truth is the first person."""
    from jaxcodecs import _example_entries_multi

    assert _example_entries_multi.IMAGE_SIZE == examples.DEFAULT_INPUT_SIZE
    keypoints, visible = examples.demo_keypoints(2, examples.DEFAULT_INPUT_SIZE, seed=1)
    for name in ("EDPoseLabel", "YOLOXPoseAnnotationProcessor"):
        batch = examples.make_batch(_codec(name, 0, True), keypoints, visible)
        people = batch.encode_args[1] if name == "EDPoseLabel" else batch.encode_args[0]
        np.testing.assert_array_equal(people[:, 0], keypoints)
        np.testing.assert_array_equal(batch.keypoints, keypoints)
    img_shape = examples.make_batch(_codec("EDPoseLabel", 0, True), keypoints, visible).encode_args[0]
    np.testing.assert_array_equal(img_shape, [examples.DEFAULT_INPUT_SIZE] * 2)


def test_the_truth_is_the_poses_or_their_lifted_pose():
    keypoints, visible = examples.demo_keypoints(4, examples.DEFAULT_INPUT_SIZE, seed=2)
    for name in ("MSRAHeatmap", "SimCCLabel", "RegressionLabel"):
        batch = examples.make_batch(_codec(name, 0, True), keypoints, visible)
        np.testing.assert_array_equal(batch.keypoints, keypoints)
        np.testing.assert_array_equal(batch.visible, visible)
    # The lifting codecs' 3-D pose: x, y in metres (pixels / 1000) at a
    # depth of 4 m + 0.2 sin(joint).
    lifted = np.concatenate([keypoints / 1000.0,
                             np.broadcast_to(4.0 + 0.2 * np.sin(np.arange(17.0)), (4, 17))[..., None]], -1)
    for name in ("ImagePoseLifting", "VideoPoseLifting"):
        batch = examples.make_batch(_codec(name, 0, True), keypoints, visible)
        np.testing.assert_allclose(batch.keypoints, lifted, rtol=1e-6, atol=1e-7)
    # MotionBERT's decode returns the root-relative label / 1000: the pose
    # relative to joint 0 times the default factor 4 ("test" mode) or, in
    # "train" mode with a 1000 x 1000 image, times 2 (image frame scale).
    relative = lifted - lifted[:, :1]
    for index, factor in ((0, 4.0), (1, 2.0)):
        batch = examples.make_batch(_codec("MotionBERTLabel", index, True), keypoints, visible)
        np.testing.assert_allclose(batch.keypoints, factor * relative / 1000.0, rtol=1e-4, atol=1e-9)


def test_hand3d_truth_and_annotations():
    codec = _codec("Hand3DHeatmap", 0, True)
    keypoints, visible = examples.demo_keypoints(5, codec.image_size, seed=3)
    batch = examples.make_batch(codec, keypoints, visible, seed=3)
    bound = float(codec.heatmap3d_depth_bound)
    np.testing.assert_array_equal(batch.keypoints[..., :2], keypoints)
    depth = batch.keypoints[..., 2]
    assert np.abs(depth).max() <= 0.3 * bound + 1e-3 and np.ptp(depth) > 0.3 * bound
    kp, vis, _, root, _, hand_type, *_ = batch.encode_args
    np.testing.assert_array_equal(kp[:, 0], batch.keypoints)
    np.testing.assert_array_equal(vis[:, 0], visible)
    assert root.shape == (5,) and np.abs(root).max() <= 0.4 * float(codec.root_depth_bound)
    assert hand_type.shape == (5, 1, 2) and (hand_type.sum(-1) == 1).all()
    # The decoded root depth and hand type are those annotations.
    _, _, rel_root, hand = codec.batch_decode(*batch.decode_args)
    np.testing.assert_allclose(np.asarray(rel_root).reshape(5), root, atol=0.5 * codec.root_depth_bound / 16 + 1e-4)
    np.testing.assert_array_equal(np.asarray(hand).reshape(5, 2), hand_type[:, 0].astype(int))


def test_seeded_and_deterministic():
    codec = _codec("Hand3DHeatmap", 0, False)
    a, b = examples.example_batch(codec, 4, seed=1), examples.example_batch(codec, 4, seed=1)
    c = examples.example_batch(codec, 4, seed=2)
    jax.tree_util.tree_map(np.testing.assert_array_equal, a.encode_args, b.encode_args)
    jax.tree_util.tree_map(np.testing.assert_array_equal, a.decode_args, b.decode_args)
    assert not np.array_equal(a.encode_args[0], c.encode_args[0])
    # More samples than the bundled 64 poses.
    assert examples.example_batch(_codec("RegressionLabel", 0, True), 70).keypoints.shape == (70, 17, 2)


def test_demo_keypoints_placement():
    from jaxcodecs.sample import load_coco17_sample

    keypoints, visible = examples.demo_keypoints(64, (192, 256), seed=3)
    unit, want_visible = load_coco17_sample()
    jitter = np.random.default_rng(3).uniform(-0.5, 0.5, size=(64, 17, 2))
    want = -0.5 + np.array([192.0, 256.0]) * (0.15 + 0.7 * unit.astype(np.float64)) + jitter
    np.testing.assert_array_equal(keypoints, want.astype(np.float32))
    np.testing.assert_array_equal(visible, want_visible)
    assert examples.DEMO_FILL == 0.7
    assert examples.input_size_of(_codec("MSRAHeatmap", 0, True)) == (192, 256)
    assert examples.input_size_of(_codec("Hand3DHeatmap", 0, True)) == (64, 64)
    assert examples.input_size_of(_codec("ImagePoseLifting", 0, True)) == examples.DEFAULT_INPUT_SIZE


# ------------------------------------------------------ codecs of one's own
class _Shift(jaxcodecs.Codec):
    """Encodes keypoints / 8; its decoder also reads per-keypoint offsets,
    which encode does not make (as a network's second head would)."""

    def encode(self, keypoints, keypoints_visible=None):
        return {"labels": jnp.asarray(keypoints) / 8.0}

    def decode(self, labels, offsets):
        keypoints = labels * 8.0 + offsets
        return keypoints, jnp.ones(keypoints.shape[:-1])


def _offsets(codec, inputs, rng):
    """Synthesised model output: labels from the truth, random offsets that
    the labels make up for."""
    offsets = rng.uniform(-1, 1, inputs.keypoints.shape).astype(np.float32)[:, None]
    labels = (inputs.keypoints[:, None] - offsets) / 8.0
    return (labels, offsets), {}


@pytest.fixture
def own_registries(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(examples, "_EXAMPLES", dict(examples._EXAMPLES))


def test_a_codec_without_examples_gets_a_clear_error(own_registries):
    jaxcodecs.register(_Shift)
    with pytest.raises(KeyError, match=r"'_Shift' has no examples.*register_examples"):
        examples.example_batch(_Shift(), 2)
    with pytest.raises(KeyError, match="NoSuchCodec"):
        examples.get_examples("NoSuchCodec")
    assert "_Shift" not in examples.list_examples()


def test_registered_examples_with_synthesised_decode_inputs(own_registries):
    jaxcodecs.register(_Shift, name="ShiftAlias")
    calls = []

    def decode_inputs(codec, inputs, rng):
        calls.append(codec)
        return _offsets(codec, inputs, rng)

    entry = examples.register_examples("ShiftAlias", examples.CodecExamples(
        configs=({},), decode_inputs=decode_inputs))
    assert examples.get_examples("ShiftAlias") is entry
    assert examples.list_examples().count("ShiftAlias") == 1
    codec = jaxcodecs.build({"type": "ShiftAlias", **entry.configs[0]})
    batch = examples.example_batch(codec, 5, seed=4)  # found by the registered name
    assert calls == []  # decode arguments are made on first use only
    keypoints, scores = jax.jit(codec.batch_decode)(*batch.decode_args, **batch.decode_kwargs)
    assert len(calls) == 1
    assert batch.decode_args[1].shape == (5, 1, 17, 2) and np.abs(batch.decode_args[1]).max() > 0.5
    np.testing.assert_allclose(np.asarray(keypoints)[:, 0], batch.keypoints, atol=1e-4)
    assert scores.shape == (5, 1, 17)
    # The default encode inputs: one instance per sample, the poses as truth.
    encoded = codec.batch_encode(*batch.encode_args)
    np.testing.assert_allclose(np.asarray(encoded["labels"])[:, 0], batch.keypoints / 8.0, rtol=1e-6)
    with pytest.raises(ValueError, match="force=True"):
        examples.register_examples("ShiftAlias", examples.CodecExamples(configs=({},), decode_inputs=_offsets))
    examples.register_examples("ShiftAlias", examples.CodecExamples(configs=({},), decode_inputs=_offsets),
                               force=True)
    assert examples.get_examples("ShiftAlias") is not entry


def test_from_encoded_and_validation(own_registries):
    jaxcodecs.register(_Shift)
    examples.register_examples("_Shift", examples.CodecExamples(
        configs=({},), decode_inputs=examples.from_encoded("labels", "missing")))
    with pytest.raises(KeyError, match="missing"):
        examples.example_batch(_Shift(), 2).decode_args
    with pytest.raises(ValueError, match="at least one"):
        examples.from_encoded()
    with pytest.raises(ValueError, match=r"\(B, K, 2\)"):
        examples.make_batch(_Shift(), np.zeros((2, 17, 3)), np.ones((2, 17)))
    with pytest.raises(TypeError, match="configs"):
        examples.CodecExamples(configs=(), decode_inputs=_offsets)
    with pytest.raises(ValueError, match="type"):
        examples.CodecExamples(configs=({"type": "X"},), decode_inputs=_offsets)
    with pytest.raises(TypeError, match="callable"):
        examples.CodecExamples(configs=({},), decode_inputs="labels")
    with pytest.raises(TypeError, match="CodecExamples"):
        examples.register_examples("_Shift", {"configs": ({},)})


# ----------------------------------------------------------------- layering
def _imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def test_layering():
    """registry -> codecs -> ops; examples and cli on top: nothing below
    imports them, cli's modules import each other only through its harness
    (bench also its own workers),
    and nothing in the package imports the tests."""
    top = ("jaxcodecs.examples", "jaxcodecs.cli")
    for sub in ("ops", "codecs"):
        for path in sorted((PACKAGE / sub).glob("*.py")):
            bad = [m for m in _imports(path) if m.startswith(top)]
            assert not bad, (path.name, bad)
    for name in ("base.py", "registry.py", "sample.py", "examples.py"):
        bad = [m for m in _imports(PACKAGE / name) if m.startswith("jaxcodecs.cli")]
        assert not bad, (name, bad)
    # bench's own workers (_measure, _oracle) are bench's alone.
    own = {"bench.py": {"jaxcodecs.cli._measure", "jaxcodecs.cli._oracle"},
           "_oracle.py": {"jaxcodecs.cli._measure"}}
    for name in ("_harness.py", "demo.py", "bench.py", "_measure.py", "_oracle.py"):
        cli_imports = {m for m in _imports(PACKAGE / "cli" / name) if m.startswith("jaxcodecs.cli")}
        allowed = ({"jaxcodecs.cli._harness"} | own.get(name, set())) if name != "_harness.py" else set()
        assert {m.rsplit(".", 1)[0] if m.count(".") > 2 else m for m in cli_imports} <= allowed, (name, cli_imports)
    for path in PACKAGE.rglob("*.py"):
        assert not [m for m in _imports(path) if m.split(".")[0] in ("tests", "test_api", "conftest")], path
