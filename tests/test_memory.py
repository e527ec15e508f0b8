"""Memory of the jitted batch encoders that draw maps: a structural property
of the compiled program, read from XLA's buffer assignment
(``compiled.memory_analysis()``), not a measurement of time or of the
process.

Every map-drawing encoder, in both modes, at ``BATCH`` samples of 17
keypoints (192x256 input, 48x64 maps; SimCC split ratio 2; Hand3D volumes
of 32x32x32 voxels; the multi-person AssociativeEmbedding, SPR and DecoupledHeatmap (4 instance rows) at
256x256 -> 64x64 with their example's people) allocates at most twice its output: the temporaries
XLA assigns besides arguments and outputs are at most the output's size.
Only compiled, never run. ``benchmarks/memory.py`` prints the same figures
for B = 64 and 1024 and records them in ``benchmarks/results/``.
"""

import jax
import numpy as np
import pytest

import jaxcodecs
from jaxcodecs.examples import example_batch

BATCH = 1024  # the batch size the contract is stated for; compiling costs the same as at 64
SIZES = {"input_size": (192, 256), "heatmap_size": (48, 64)}
ENCODERS = {
    "MSRAHeatmap-plain": ("MSRAHeatmap", {**SIZES, "sigma": 2.0}),
    "MSRAHeatmap-DARK": ("MSRAHeatmap", {**SIZES, "sigma": 2.0, "unbiased": True}),
    "UDPHeatmap-gaussian": ("UDPHeatmap", SIZES),
    "UDPHeatmap-combined": ("UDPHeatmap", {**SIZES, "heatmap_type": "combined"}),
    "MegviiHeatmap": ("MegviiHeatmap", {**SIZES, "kernel_size": 11}),
    "IntegralRegressionLabel": ("IntegralRegressionLabel", {**SIZES, "sigma": 2.0}),
    "SimCCLabel-gaussian": ("SimCCLabel", {"input_size": (192, 256), "sigma": (4.9, 5.66)}),
    "SimCCLabel-standard": ("SimCCLabel", {"input_size": (192, 256), "smoothing_type": "standard",
                                           "label_smooth_weight": 0.1}),
    "Hand3DHeatmap": ("Hand3DHeatmap", {"image_size": (256, 256), "heatmap_size": (32, 32, 32),
                                        "depth_size": 32, "root_heatmap_size": 32, "heatmap_size_root": 32}),
    # The multi-person encoders, with their example's people per sample.
    "AssociativeEmbedding": ("AssociativeEmbedding", {"input_size": (256, 256), "heatmap_size": (64, 64),
                                                      "sigma": 2.0}),
    "AssociativeEmbedding-UDP": ("AssociativeEmbedding", {"input_size": (256, 256), "heatmap_size": (64, 64),
                                                          "sigma": 2.0, "use_udp": True}),
    "SPR": ("SPR", {"input_size": (256, 256), "heatmap_size": (64, 64)}),
    "SPR-keypoint-heatmaps": ("SPR", {"input_size": (256, 256), "heatmap_size": (64, 64), "sigma": (4.0, 2.0),
                                      "generate_keypoint_heatmaps": True}),
    "DecoupledHeatmap": ("DecoupledHeatmap", {"input_size": (256, 256), "heatmap_size": (64, 64),
                                              "encode_max_instances": 4}),
}


def test_every_map_drawing_codec_is_measured():
    """Each registered codec whose encoder draws maps or vectors is in the table."""
    drawing = {"MSRAHeatmap", "UDPHeatmap", "MegviiHeatmap", "IntegralRegressionLabel", "SimCCLabel",
               "Hand3DHeatmap", "AssociativeEmbedding", "SPR", "DecoupledHeatmap"}
    assert drawing <= set(jaxcodecs.list_codecs())
    assert drawing == {name for name, _ in ENCODERS.values()}


@pytest.mark.parametrize("mmpose_compat", [True, False], ids=["mmpose", "exact"])
@pytest.mark.parametrize("key", sorted(ENCODERS))
def test_batch_encode_allocates_at_most_twice_its_output(key, mmpose_compat):
    name, config = ENCODERS[key]
    codec = jaxcodecs.build({"type": name, **config, "mmpose_compat": mmpose_compat})
    example = example_batch(codec, BATCH)
    # Compiled for the host CPU whatever the default backend is: the bound is
    # a property of XLA:CPU's buffer assignment (a GPU assigns its own
    # temporaries; benchmarks/memory.py reports them on any backend).
    on_cpu = jax.sharding.SingleDeviceSharding(jax.devices("cpu")[0])
    shapes = jax.tree_util.tree_map(
        lambda x: jax.ShapeDtypeStruct(np.shape(x), np.asarray(x).dtype, sharding=on_cpu),
        (example.encode_args, example.encode_kwargs))
    stats = jax.jit(codec.batch_encode).lower(*shapes[0], **shapes[1]).compile().memory_analysis()
    assert stats is not None, "XLA:CPU reports no memory analysis"
    output = stats.output_size_in_bytes
    # The output buffers: the arrays encode returns, plus the table of their addresses.
    leaves = jax.tree_util.tree_leaves(jax.eval_shape(codec.batch_encode, *shapes[0], **shapes[1]))
    arrays = sum(int(np.prod(x.shape)) * x.dtype.itemsize for x in leaves)
    assert arrays <= output <= arrays + 64 * len(leaves)
    assert stats.temp_size_in_bytes <= output, (
        f"{key}: temporaries {stats.temp_size_in_bytes / 1e6:.1f} MB > output {output / 1e6:.1f} MB")
