"""jaxcodecs.base: declared field conversion, the one place constructor values are checked."""

import dataclasses

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
