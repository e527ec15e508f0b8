"""jaxcodecs: differentiable, jit-able keypoint codecs for pose estimation in JAX.

A codec is a frozen pytree of configuration with two pure methods::

    import jax, jaxcodecs
    codec = jaxcodecs.build(dict(type="UDPHeatmap", input_size=(192, 256), heatmap_size=(48, 64)))
    enc = jax.jit(codec.encode)(keypoints, keypoints_visible)
    keypoints, scores = jax.jit(codec.decode)(enc["heatmaps"])
"""

from jaxcodecs import flip, ops
from jaxcodecs.allocator import cpu_allocator_env, tune_cpu_allocator
from jaxcodecs.base import Codec, FieldAt, codec_field
from jaxcodecs.codecs import (
    AssociativeEmbedding,
    DecoupledHeatmap,
    Hand3DHeatmap,
    ImagePoseLifting,
    MotionBERTLabel,
    VideoPoseLifting,
    IntegralRegressionLabel,
    MegviiHeatmap,
    MSRAHeatmap,
    RegressionLabel,
    SimCCLabel,
    SPR,
    UDPHeatmap,
    EDPoseLabel,
    YOLOXPoseAnnotationProcessor,
)
from jaxcodecs.export import export_decoder, export_encoder, load_exported
from jaxcodecs.mmpose_config import MMPoseConfigCodecs, MMPoseConfigError, from_mmpose_config
from jaxcodecs.registry import build, get_codec_class, list_codecs, register

__version__ = "0.1.0"

# Submodules that ``import jaxcodecs`` does not load (they pull in example
# data, matplotlib or grain), imported on first attribute access, so that
# ``jaxcodecs.examples`` works after a plain ``import jaxcodecs``.
_LAZY_SUBMODULES = ("examples", "viz", "grain")


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        import importlib  # noqa: PLC0415

        return importlib.import_module(f"jaxcodecs.{name}")
    raise AttributeError(f"module 'jaxcodecs' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_SUBMODULES))

__all__ = [
    "Codec",
    "codec_field",
    "FieldAt",
    "build",
    "register",
    "list_codecs",
    "get_codec_class",
    "export_encoder",
    "export_decoder",
    "load_exported",
    "from_mmpose_config",
    "MMPoseConfigCodecs",
    "MMPoseConfigError",
    "ops",
    "flip",
    "MSRAHeatmap",
    "UDPHeatmap",
    "MegviiHeatmap",
    "RegressionLabel",
    "IntegralRegressionLabel",
    "SimCCLabel",
    "ImagePoseLifting",
    "VideoPoseLifting",
    "MotionBERTLabel",
    "Hand3DHeatmap",
    "AssociativeEmbedding",
    "SPR",
    "DecoupledHeatmap",
    "EDPoseLabel",
    "YOLOXPoseAnnotationProcessor",
    "cpu_allocator_env",
    "tune_cpu_allocator",
    "__version__",
]
