"""benchmarks/gpu_model.py: the kernel traffic read from optimised HLO, on
a hand-written module whose bytes are counted here from its shapes, and on
programs XLA:CPU compiles (the text has the same form for every backend);
the calibration fit; the message when XLA:GPU's compiler is missing."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import load_script
from jax import lax


@pytest.fixture(scope="module")
def gpu_model():
    return load_script("benchmarks/gpu_model.py")


MAPS = 4 * 8 * 16 * 12 * 4  # f32[8,16,12] per sample, 4 samples: bytes
ROW = 4 * 8 * 12 * 4  # one row of each map

MODULE = """HloModule jit_f, is_scheduled=true

%fused_scale (param_0: f32[4,8,16,12]) -> f32[4,8,16,12] {
  %param_0 = f32[4,8,16,12]{3,2,1,0} parameter(0)
  %constant_1 = f32[] constant(2)
  %broadcast_1 = f32[4,8,16,12]{3,2,1,0} broadcast(%constant_1), dimensions={}
  ROOT %multiply_1 = f32[4,8,16,12]{3,2,1,0} multiply(%param_0, %broadcast_1)
}

%fused_row (param_0.1: f32[4,8,16,12], param_1.1: s32[]) -> f32[4,8,12] {
  %param_0.1 = f32[4,8,16,12]{3,2,1,0} parameter(0)
  %bitcast_2 = f32[32,16,12]{2,1,0} bitcast(%param_0.1)
  %param_1.1 = s32[] parameter(1)
  %constant_2 = s32[] constant(0)
  %dynamic-slice_2 = f32[32,1,12]{2,1,0} dynamic-slice(%bitcast_2, %constant_2, %param_1.1, %constant_2), dynamic_slice_sizes={32,1,12}
  ROOT %bitcast_3 = f32[4,8,12]{2,1,0} bitcast(%dynamic-slice_2)
}

%fused_scaled_row (param_0.9: f32[4,8,16,12], param_1.9: s32[]) -> f32[4,8,1,12] {
  %param_0.9 = f32[4,8,16,12]{3,2,1,0} parameter(0)
  %constant_9 = f32[] constant(3)
  %broadcast_9 = f32[4,8,16,12]{3,2,1,0} broadcast(%constant_9), dimensions={}
  %multiply_9 = f32[4,8,16,12]{3,2,1,0} multiply(%param_0.9, %broadcast_9)
  %constant_11 = f32[] constant(0)
  %pad_9 = f32[4,8,18,12]{3,2,1,0} pad(%multiply_9, %constant_11), padding=0_0x0_0x1_1x0_0
  %param_1.9 = s32[] parameter(1)
  %constant_10 = s32[] constant(0)
  ROOT %dynamic-slice_9 = f32[4,8,1,12]{3,2,1,0} dynamic-slice(%pad_9, %constant_10, %constant_10, %param_1.9, %constant_10), dynamic_slice_sizes={4,8,1,12}
}

%fused_update (param_0.2: f32[4,8,16,12], param_1.2: f32[4,8,1,12], param_2.2: s32[]) -> f32[4,8,16,12] {
  %param_0.2 = f32[4,8,16,12]{3,2,1,0} parameter(0)
  %param_1.2 = f32[4,8,1,12]{3,2,1,0} parameter(1)
  %param_2.2 = s32[] parameter(2)
  %constant_3 = s32[] constant(0)
  ROOT %dynamic-update-slice_3 = f32[4,8,16,12]{3,2,1,0} dynamic-update-slice(%param_0.2, %param_1.2, %constant_3, %constant_3, %param_2.2, %constant_3)
}

%branch_cheap (p.4: f32[4,8,16,12]) -> f32[4,8,12] {
  %p.4 = f32[4,8,16,12]{3,2,1,0} parameter(0)
  ROOT %slice_4 = f32[4,8,1,12]{3,2,1,0} slice(%p.4), slice={[0:4], [0:8], [0:1], [0:12]}
}

%branch_full (p.5: f32[4,8,16,12]) -> f32[4,8,12] {
  %p.5 = f32[4,8,16,12]{3,2,1,0} parameter(0)
  %copy_5 = f32[4,8,16,12]{3,2,1,0} copy(%p.5)
  ROOT %custom-call_5 = f32[4,8,12]{2,1,0} custom-call(%copy_5), custom_call_target="reduce_rows"
}

%body (p.6: (s32[], f32[4,8,16,12])) -> (s32[], f32[4,8,16,12]) {
  %p.6 = (s32[], f32[4,8,16,12]{3,2,1,0}) parameter(0)
  %gte_6 = f32[4,8,16,12]{3,2,1,0} get-tuple-element(%p.6), index=1
  %copy_6 = f32[4,8,16,12]{3,2,1,0} copy(%gte_6)
  %gte_7 = s32[] get-tuple-element(%p.6), index=0
  ROOT %tuple_6 = (s32[], f32[4,8,16,12]{3,2,1,0}) tuple(%gte_7, %copy_6)
}

%condition (p.7: (s32[], f32[4,8,16,12])) -> pred[] {
  %p.7 = (s32[], f32[4,8,16,12]{3,2,1,0}) parameter(0)
  ROOT %constant_7 = pred[] constant(false)
}

ENTRY %main (maps: f32[4,8,16,12], index: s32[], flag: pred[]) -> f32[4,8,12] {
  %maps = f32[4,8,16,12]{3,2,1,0} parameter(0)
  %index = s32[] parameter(1)
  %flag = pred[] parameter(2)
  %scaled = f32[4,8,16,12]{3,2,1,0} fusion(%maps), kind=kLoop, calls=%fused_scale
  %row = f32[4,8,12]{2,1,0} fusion(%scaled, %index), kind=kLoop, calls=%fused_row
  %scaled_row = f32[4,8,1,12]{3,2,1,0} fusion(%maps, %index), kind=kLoop, calls=%fused_scaled_row
  %updated = f32[4,8,16,12]{3,2,1,0} fusion(%scaled, %scaled_row, %index), kind=kLoop, calls=%fused_update
  %init = (s32[], f32[4,8,16,12]{3,2,1,0}) tuple(%index, %updated)
  %loop = (s32[], f32[4,8,16,12]{3,2,1,0}) while(%init), condition=%condition, body=%body, backend_config={"known_trip_count":{"n":"3"}}
  %looped = f32[4,8,16,12]{3,2,1,0} get-tuple-element(%loop), index=1
  ROOT %picked = f32[4,8,12]{2,1,0} conditional(%flag, %looped, %looped), true_computation=%branch_full, false_computation=%branch_cheap
}
"""


def test_hand_written_module(gpu_model):
    found = gpu_model.kernel_traffic(MODULE)
    main = {k[1]: (k[2], k[3]) for k in found["kernels"] if k[4] == "main"}
    assert main == {
        "scaled": (MAPS, MAPS),     # read and written whole
        "row": (ROW + 4, ROW),      # one row taken through a view, and the 4-byte index
        "scaled_row": (ROW + 4, ROW),  # a padded product computed only where it is sliced
        "updated": (ROW + 4, ROW),  # updated in place: the row and the index read, the row written
    }
    # The loop body copies the maps once per iteration, 3 iterations; the
    # larger branch copies them and reduces the copy (a library call reads
    # its operands), counted apart.
    assert found["loops"] == 1 and found["unknown_loops"] == 0
    assert found["loop_bytes"] == 3 * 2 * MAPS
    assert found["traffic"] == sum(r + w for r, w in main.values()) + found["loop_bytes"]
    assert found["branch_bytes"] == 2 * MAPS + MAPS + ROW
    assert found["launches"] == 4 + 3 * 1  # four kernels, a one-kernel body three times
    assert {k[4] for k in found["kernels"]} == {"main", "loop", "branch"}
    # A loop whose trip count XLA does not know counts once, and says so.
    unknown = gpu_model.kernel_traffic(MODULE.replace(', backend_config={"known_trip_count":{"n":"3"}}', ""))
    assert unknown["unknown_loops"] == 1 and unknown["loop_bytes"] == 2 * MAPS


def test_array_bytes_of_types_and_tuples(gpu_model):
    assert gpu_model.array_bytes("f32[4,8]{1,0}") == 128
    assert gpu_model.array_bytes("(f32[2]{0}, pred[3]{0}, s64[])") == 8 + 3 + 8
    assert gpu_model.array_bytes("bf16[0,5]{1,0}") == 0


@pytest.fixture(scope="module")
def maps():
    return jnp.asarray(np.random.default_rng(0).random((64, 17, 64, 48), np.float32))


def test_an_elementwise_program_reads_and_writes_once(gpu_model, maps):
    text = jax.jit(lambda m: jnp.exp(m) * 2).lower(maps).compile().as_text()
    found = gpu_model.kernel_traffic(text)
    assert [k[0] for k in found["kernels"]] == ["fusion"]
    assert found["traffic"] == 2 * maps.nbytes


def test_a_selected_row_costs_the_row(gpu_model, maps):
    text = jax.jit(lambda m, i: lax.dynamic_index_in_dim(m, i, axis=2, keepdims=False) * 2).lower(maps, 3)
    found = gpu_model.kernel_traffic(text.compile().as_text())
    row = maps.nbytes // maps.shape[2]
    assert found["traffic"] == 2 * row + 4  # the row read and written, the index read


def test_the_fit_reproduces_its_measurements(gpu_model):
    overhead, bandwidth = gpu_model.fit_calibration()
    assert 0 < overhead < 1e-3 and 1e12 < bandwidth < 4.8e12
    for _, mb, rate in gpu_model.CALIBRATION:
        measured = gpu_model.CALIBRATION_BATCH / rate
        assert abs(overhead + mb * 1e6 / bandwidth - measured) < 0.2 * measured
    # A line through two points is those points.
    pair = (("a", 100.0, 1024 / 1e-3), ("b", 1100.0, 1024 / 2e-3))
    overhead, bandwidth = gpu_model.fit_calibration(pair, 1024)
    np.testing.assert_allclose([overhead, bandwidth], [0.9e-3, 1e12], rtol=1e-9)


def test_missing_gpu_compiler_says_what_to_install(gpu_model, monkeypatch, tmp_path):
    from jax.experimental import topologies

    def unavailable(*args, **kwargs):
        raise NotImplementedError("topology not implemented for cuda")

    monkeypatch.setattr(topologies, "get_topology_desc", unavailable)
    target = tmp_path / "t.txtpb"
    target.write_text("gpu_device_info {}\n")
    with pytest.raises(SystemExit, match=r"jax-cuda12-plugin\[with-cuda\]==.*jaxlib.__version__"):
        gpu_model.target_devices(target)


def test_program_rows_on_this_cpu(gpu_model):
    """The driver compiles a codec's two programs for whatever devices it is
    given (here the host's CPU devices, the batch sharded over 8 of them):
    the floors are the encoder's output and the decoder's input, computed
    here from the shapes."""
    from jaxcodecs import examples

    config = dict(examples.get_examples("MSRAHeatmap").configs[0])
    cpus = jax.devices("cpu")[:8]
    mesh = jax.sharding.Mesh(np.array(cpus), ("batch",))
    replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    batched = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("batch"))
    maps = 16 * 17 * 64 * 48 * 4  # B = 16, K = 17, 48 x 64 maps, float32
    for share, sharding, batch_sharding in ((1, jax.sharding.SingleDeviceSharding(cpus[0]), None),
                                            (8, replicated, batched)):  # per device: an eighth of the batch
        encode, decode = gpu_model.program_rows("MSRAHeatmap", 0, config, "mmpose", 16, sharding, batch_sharding)
        assert encode["program"] == "encode" and decode["program"] == "decode"
        assert encode["minimum_bytes"] == (maps + 16 * 17 * 4) // share  # heatmaps and keypoint weights
        assert decode["minimum_bytes"] == maps // share
        assert encode["traffic"] >= maps // share and decode["traffic"] >= maps // share


def test_compare_with_a_measured_bench(gpu_model, tmp_path):
    """The model's rows against a bench JSON of the same programs: matched
    by codec, config, mode and batch size (the default allocator's), and
    the refitted line recovers the steps' own constants."""
    import json

    config = {"input_size": [192, 256], "heatmap_size": [48, 64], "sigma": 2.0}
    traffic = {("encode", 64): 20e6, ("decode", 64): 30e6, ("encode", 1024): 300e6, ("decode", 1024): 500e6}
    model = {"model": {"overhead_s": 2e-4, "bandwidth_bytes_per_s": 2e12}, "rows": [
        {"codec": "MSRAHeatmap", "config_index": 0, "config": config, "mode": "mmpose", "batch_size": b,
         "program": p, "traffic": t, "predicted_step_s": 2e-4 + t / 2e12} for (p, b), t in traffic.items()]}
    model["rows"].append({**model["rows"][0], "mode": "exact"})  # not measured: left out

    def measured(b):  # 50 us + traffic at 4 TB/s
        return {f"{p}_step_s": 5e-5 + traffic[(p, b)] / 4e12 for p in ("encode", "decode")}

    bench = {"results": [
        {"codec": "MSRAHeatmap", "config": config, "config_label": "sigma=2", "mode": "mmpose", "batch_size": b,
         "allocator": "default", **measured(b)} for b in (64, 1024)]
        + [{"codec": "MSRAHeatmap", "config": config, "mode": "mmpose", "batch_size": 64, "allocator": "tuned",
            "encode_step_s": 1.0, "decode_step_s": 1.0}]}
    rows, refit = gpu_model.compare(model, bench)
    assert len(rows) == 4 and {r["config"] for r in rows} == {"sigma=2"}
    for r in rows:
        assert r["measured_step_s"] == pytest.approx(5e-5 + r["traffic"] / 4e12)
        assert r["measured_over_predicted"] == pytest.approx(r["measured_step_s"] / (2e-4 + r["traffic"] / 2e12))
    np.testing.assert_allclose(refit, (5e-5, 4e12), rtol=1e-6)
    text = gpu_model.compare_markdown(rows, refit, model)
    assert "refit to these measurements: step = 0.050 ms + traffic / 4.00 TB/s" in text
    (tmp_path / "bench.json").write_text(json.dumps(bench))
    (tmp_path / "model.json").write_text(json.dumps(model))
    assert gpu_model.main(["--compare", str(tmp_path / "bench.json"), "--model", str(tmp_path / "model.json"),
                           "--markdown", str(tmp_path / "out.md")]) == 0
    assert (tmp_path / "out.md").read_text() == text
