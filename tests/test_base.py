"""jaxcodecs.base: declared field conversion, the one place constructor values are checked."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxcodecs
from jaxcodecs.base import Codec, codec_field
from jaxcodecs.codecs._fields import flag, non_negative, one_of, size_pair
from inventory import IMPLEMENTED


@pytest.mark.parametrize("name", sorted(IMPLEMENTED))
def test_every_field_declares_its_conversion(name):
    # A field without a converter would accept anything, unchecked.
    cls = jaxcodecs.registry.get_codec_class(name)
    missing = [f.name for f in dataclasses.fields(cls) if "convert" not in f.metadata]
    assert missing == [], f"{name}: fields without a declared converter: {missing}"


def test_conversion_runs_on_construction_and_replace():
    codec = jaxcodecs.MSRAHeatmap(input_size=[192.0, 256], heatmap_size=np.array([48, 64]), sigma=2,
                                  unbiased=1, blur_kernel_size=np.int64(5))
    assert codec.input_size == (192, 256) and type(codec.input_size[0]) is int
    assert codec.heatmap_size == (48, 64) and codec.unbiased is True and type(codec.blur_kernel_size) is int
    assert codec.dtype == np.dtype("float32")
    replaced = codec.replace(heatmap_size=[24, 32])
    assert replaced.heatmap_size == (24, 32)
    with pytest.raises(ValueError, match=r"`blur_kernel_size` must be a positive odd int, got 4"):
        codec.replace(blur_kernel_size=4)


def test_converters_normalise_each_family():
    simcc = jaxcodecs.SimCCLabel(input_size=(192, 256), sigma=[4.9, 5.66])
    assert simcc.sigma == (4.9, 5.66)
    motion = jaxcodecs.MotionBERTLabel(num_keypoints=17.0, mode="TRAIN", root_index=[3])
    assert motion.num_keypoints == 17 and motion.mode == "train" and motion.root_index == 3
    lifting = jaxcodecs.ImagePoseLifting(num_keypoints=3, root_index=0, remove_root=True,
                                         target_mean=[[0.0, 0.0, 1.0]] * 2, target_std=[[1.0] * 3] * 2)
    assert lifting.target_mean.shape == (1, 2, 3) and lifting.target_mean.dtype == np.float32
    hand = jaxcodecs.Hand3DHeatmap(joint_indices=[2, 0], sigma=np.float32(2.5))
    assert hand.joint_indices == (2, 0) and type(hand.sigma) is float and hand.sigma == 2.5


@pytest.mark.parametrize(
    "build, error, text",
    [
        (lambda: jaxcodecs.UDPHeatmap((8, 8), (4, 4), heatmap_type="disk"), ValueError,
         r"UDPHeatmap got invalid `heatmap_type` 'disk'; `heatmap_type` must be 'gaussian' or 'combined'"),
        (lambda: jaxcodecs.MotionBERTLabel(num_keypoints=17, mode="eval"), ValueError,
         r"`mode` must be 'train' or 'test' \(any case\)"),
        (lambda: jaxcodecs.MotionBERTLabel(num_keypoints=True), TypeError, r"`num_keypoints` must be a positive int, got True"),
        (lambda: jaxcodecs.Hand3DHeatmap(heatmap_size=(8, 8)), ValueError, r"`heatmap_size` must be \(W, H, D\)"),
        (lambda: jaxcodecs.RegressionLabel(input_size=(192, 0)), ValueError, r"`input_size` must be a pair"),
        (lambda: jaxcodecs.SimCCLabel((8, 8), sigma=(1.0, -2.0)), ValueError, r"`sigma` must be finite and >= 0, got -2.0"),
        (lambda: jaxcodecs.MSRAHeatmap((8, 8), (4, 4), 2.0, mmpose_compat="yes"), TypeError, r"`mmpose_compat` must be a bool"),
        (lambda: jaxcodecs.ImagePoseLifting(num_keypoints=3, additional_encode_keys="abc"), TypeError,
         r"`additional_encode_keys` must be a sequence of names"),
    ],
)
def test_conversion_errors_name_the_field(build, error, text):
    with pytest.raises(error, match=text) as info:
        build()
    assert type(info.value) is error and "got" in str(info.value)


class _Scaled(Codec):
    """A user codec written against the declared-field API."""

    size: tuple[int, int] = codec_field(size_pair, static=True)
    mode: str = codec_field(one_of("add", "mul"), static=True, default="add")
    gain: float = codec_field(non_negative, default=1.0)
    clip: bool = codec_field(flag, static=True, default=False)

    def check_config(self):
        if self.mode == "mul" and isinstance(self.gain, float) and self.gain == 0:
            raise ValueError("_Scaled: `gain` must be > 0 with mode='mul', got 0.0.")

    def encode(self, keypoints, keypoints_visible=None):
        out = keypoints * self.gain if self.mode == "mul" else keypoints + self.gain
        return {"labels": jnp.clip(out, 0, 1) if self.clip else out}


def test_user_codec_fields_convert_and_leaves_trace():
    codec = _Scaled(size=[4, 4], mode="mul", gain=2.0, clip=0)
    assert codec.size == (4, 4) and codec.clip is False
    with pytest.raises(ValueError, match="`gain` must be > 0"):
        _Scaled(size=(4, 4), mode="mul", gain=0.0)
    # The leaf converter lets tracers through when JAX rebuilds the codec.
    grad = jax.grad(lambda c: c.encode(jnp.ones((1, 2, 2)))["labels"].sum())(codec)
    np.testing.assert_allclose(grad.gain, 4.0)
    batched = jax.vmap(lambda g: codec.replace(gain=g).encode(jnp.ones((1, 1, 2)))["labels"])(jnp.arange(3.0))
    np.testing.assert_allclose(batched[:, 0, 0, 0], [0.0, 1.0, 2.0])


# ------------------------------------------------------------------ to_config
# MMPose 1.3.2's constructor arguments of each codec (MMPOSE_BEHAVIOUR.md §2):
# ``to_config(mmpose=True)`` writes no other key.
MMPOSE_ARGUMENTS = {
    "MSRAHeatmap": {"input_size", "heatmap_size", "sigma", "unbiased", "blur_kernel_size"},
    "MegviiHeatmap": {"input_size", "heatmap_size", "kernel_size"},
    "UDPHeatmap": {"input_size", "heatmap_size", "heatmap_type", "sigma", "radius_factor",
                   "blur_kernel_size"},
    "RegressionLabel": {"input_size"},
    "IntegralRegressionLabel": {"input_size", "heatmap_size", "sigma", "unbiased", "blur_kernel_size",
                                "normalize"},
    "SimCCLabel": {"input_size", "smoothing_type", "sigma", "simcc_split_ratio", "label_smooth_weight",
                   "normalize", "use_dark", "decode_visibility", "decode_beta"},
    "AssociativeEmbedding": {"input_size", "heatmap_size", "sigma", "use_udp", "decode_keypoint_order",
                             "decode_nms_kernel", "decode_gaussian_kernel", "decode_keypoint_thr",
                             "decode_tag_thr", "decode_topk", "decode_center_shift", "decode_max_instances"},
    "SPR": {"input_size", "heatmap_size", "sigma", "generate_keypoint_heatmaps", "root_type",
            "minimal_diagonal_length", "background_weight", "decode_nms_kernel", "decode_max_instances",
            "decode_thr"},
    "DecoupledHeatmap": {"input_size", "heatmap_size", "root_type", "heatmap_min_overlap",
                         "encode_max_instances"},
    "ImagePoseLifting": {"num_keypoints", "root_index", "remove_root", "save_index", "reshape_keypoints",
                         "concat_vis", "keypoints_mean", "keypoints_std", "target_mean", "target_std",
                         "additional_encode_keys"},
    "VideoPoseLifting": {"num_keypoints", "zero_center", "root_index", "remove_root", "save_index",
                         "reshape_keypoints", "concat_vis", "normalize_camera"},
    "MotionBERTLabel": {"num_keypoints", "root_index", "remove_root", "save_index", "concat_vis", "rootrel",
                        "mode"},
    "Hand3DHeatmap": {"image_size", "root_heatmap_size", "heatmap_size", "heatmap3d_depth_bound",
                      "heatmap_size_root", "root_depth_bound", "depth_size", "use_different_joint_weights",
                      "sigma", "joint_indices", "max_bound"},
    "EDPoseLabel": {"num_select", "num_keypoints"},
    "YOLOXPoseAnnotationProcessor": {"expand_bbox", "input_size"},
}


def assert_same_codec(actual, expected, same_leaf_types=True):
    """Equal codecs, compared field by field: ``==`` cannot compare array
    leaves. Static fields equal with equal types; leaves equal as arrays of
    equal shapes (and, with ``same_leaf_types``, the same pytree structure, so
    that jit caches hit)."""
    assert type(actual) is type(expected)
    for field in dataclasses.fields(expected):
        got, want = getattr(actual, field.name), getattr(expected, field.name)
        if not field.metadata.get("pytree_node", True):
            assert got == want and type(got) is type(want), (field.name, got, want)
            continue
        got_leaves, want_leaves = jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)
        if same_leaf_types:
            assert jax.tree_util.tree_structure(got) == jax.tree_util.tree_structure(want), field.name
            assert [type(v) for v in got_leaves] == [type(v) for v in want_leaves], field.name
        np.testing.assert_array_equal(np.asarray(got, np.float64) if got is not None else None,
                                      np.asarray(want, np.float64) if want is not None else None,
                                      err_msg=field.name, strict=True)
    if same_leaf_types:
        assert jax.tree_util.tree_structure(actual) == jax.tree_util.tree_structure(expected)


def _example_cases():
    from jaxcodecs import examples

    return [pytest.param(name, dict(config), compat, id=f"{name}-{index}-{'compat' if compat else 'exact'}")
            for name in jaxcodecs.list_codecs()
            for index, config in enumerate(examples.get_examples(name).configs)
            for compat in (True, False)]


@pytest.mark.parametrize("name,config,compat", _example_cases())
def test_to_config_round_trips_through_json(name, config, compat):
    codec = jaxcodecs.build({"type": name, **config, "mmpose_compat": compat})
    full = codec.to_config()
    init_fields = {f.name for f in dataclasses.fields(codec) if f.init}
    assert full["type"] == name and set(full) == {"type"} | init_fields
    assert full["mmpose_compat"] is compat
    rebuilt = jaxcodecs.build(json.loads(json.dumps(full)))
    assert_same_codec(rebuilt, codec)
    assert rebuilt.to_config() == full
    if compat:
        mmpose = codec.to_config(mmpose=True)
        assert set(mmpose) - {"type"} <= MMPOSE_ARGUMENTS[name], set(mmpose) - MMPOSE_ARGUMENTS[name]
        assert set(mmpose) == set(full) - {"mmpose_compat", "dtype"}
        assert_same_codec(jaxcodecs.build(json.loads(json.dumps(mmpose))), codec)
    else:
        with pytest.raises(ValueError, match=r"`mmpose_compat` is a jaxcodecs option .* mmpose_compat=False"):
            codec.to_config(mmpose=True)


def test_to_config_writes_converted_values_as_json():
    hand = jaxcodecs.Hand3DHeatmap(joint_indices=np.array([2, 0]), sigma=np.float32(2.5), dtype=jnp.bfloat16)
    config = hand.to_config()
    assert config["joint_indices"] == [2, 0] and config["sigma"] == 2.5 and config["dtype"] == "bfloat16"
    assert config["image_size"] == [256, 256] and config["heatmap_size"] == [64, 64, 64]
    assert_same_codec(jaxcodecs.build(json.loads(json.dumps(config))), hand)
    with pytest.raises(ValueError, match=r"`dtype` is a jaxcodecs option .*'bfloat16'.*'float32'"):
        hand.to_config(mmpose=True)
    # Float32 statistics come back bit for bit; JAX scalars become Python floats.
    stats = np.random.default_rng(0).normal(size=(3, 2)).astype(np.float32)
    lifting = jaxcodecs.ImagePoseLifting(num_keypoints=3, root_index=[0, 1], keypoints_mean=stats,
                                         keypoints_std=stats + 2)
    config = json.loads(json.dumps(lifting.to_config(mmpose=True)))
    assert config["root_index"] == [0, 1] and np.shape(config["keypoints_mean"]) == (1, 3, 2)
    assert_same_codec(jaxcodecs.build(config), lifting)
    udp = jaxcodecs.UDPHeatmap((192, 256), (48, 64), sigma=jnp.float32(1.5), radius_factor=np.float64(0.05))
    config = udp.to_config()
    assert type(config["sigma"]) is float and type(config["radius_factor"]) is float
    assert_same_codec(jaxcodecs.build(config), udp, same_leaf_types=False)  # jax scalar -> float
    for sigma in (np.float16(2.5), jnp.bfloat16(2.5)):
        sigma_config = jaxcodecs.MSRAHeatmap((192, 256), (48, 64), sigma=sigma).to_config()["sigma"]
        assert sigma_config == 2.5 and type(sigma_config) is float


def test_to_config_of_a_user_codec_uses_its_registered_name(monkeypatch):
    monkeypatch.setattr(jaxcodecs.registry, "_REGISTRY", dict(jaxcodecs.registry._REGISTRY))
    codec = _Scaled(size=(4, 6), mode="mul", gain=np.float32(0.5))
    with pytest.raises(TypeError, match=r"_Scaled.* is not a registered codec.*jaxcodecs.register"):
        codec.to_config()
    jaxcodecs.register(_Scaled, name="ScaledKeypoints")
    config = codec.to_config()
    assert config == {"type": "ScaledKeypoints", "size": [4, 6], "mode": "mul", "gain": 0.5, "clip": False,
                      "mmpose_compat": True}
    assert codec.to_config(mmpose=True) == {k: v for k, v in config.items() if k != "mmpose_compat"}
    assert_same_codec(jaxcodecs.build(json.loads(json.dumps(config))), codec, same_leaf_types=False)
    jaxcodecs.register(_Scaled)  # a second name: the class's own name wins
    assert codec.to_config()["type"] == "_Scaled"
    with pytest.raises(TypeError, match=r"_Scaled.gain holds <object.*\(type object\), which has no JSON form"):
        codec.replace(gain=object()).to_config()


def test_to_config_refuses_traced_values():
    codec = jaxcodecs.MSRAHeatmap((192, 256), (48, 64), sigma=2.0)
    with pytest.raises(TypeError, match=r"MSRAHeatmap.sigma holds a traced value.*outside jax.jit"):
        jax.jit(lambda c: c.to_config() and 0)(codec)
