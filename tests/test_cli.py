"""Tests of ``python -m jaxcodecs`` (demo, bench), the sample poses and viz."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import jaxcodecs
from conftest import load_script
from jaxcodecs import cli, examples, viz
from jaxcodecs.base import Codec
from jaxcodecs.registry import _REGISTRY
from jaxcodecs.sample import (
    COCO17_KEYPOINT_NAMES,
    COCO17_SKELETON,
    load_coco17_sample,
)

REPO = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MODES = {"mmpose": True, "exact": False}


def _run_module(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jaxcodecs", *args],
        capture_output=True, text=True, cwd=cwd, timeout=600,
    )


def _table_rows(stdout: str) -> dict[tuple[str, str, str], list[str]]:
    """The demo table's rows keyed by (codec, config, mode)."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:3] == ["codec", "config", "mode"])
    assert set(lines[start + 1].replace(" ", "")) == {"-"}
    rows = {}
    for line in lines[start + 2:]:
        if not line.strip():
            break
        cells = line.split()
        rows[tuple(cells[:3])] = cells
    return rows


# ----------------------------------------------------------------- sample
def _generator():
    return load_script("benchmarks/make_coco17_sample.py")


def test_sample_shapes_dtypes_range():
    keypoints, visible = load_coco17_sample()
    assert keypoints.shape == (64, 17, 2) and keypoints.dtype == np.float32
    assert visible.shape == (64, 17) and visible.dtype == np.float32
    assert np.all(np.isfinite(keypoints))
    assert keypoints.min() >= 0.0 and keypoints.max() <= 1.0
    assert set(np.unique(visible)) <= {0.0, 1.0}
    assert 0.05 <= 1.0 - visible.mean() <= 0.2  # about 10% invisible
    # Poses differ and fill a good part of their person box.
    extent = keypoints.max(axis=1) - keypoints.min(axis=1)
    assert np.all(extent.max(axis=1) > 0.5)
    assert len({keypoints[i].tobytes() for i in range(64)}) == 64


def test_sample_anatomy():
    keypoints, _ = load_coco17_sample()
    name = {n: i for i, n in enumerate(COCO17_KEYPOINT_NAMES)}
    # Upright people (y down): the head is above the hips for most poses.
    head_above_hips = keypoints[:, name["nose"], 1] < keypoints[:, [name["left_hip"], name["right_hip"]], 1].mean(-1)
    assert head_above_hips.mean() > 0.85
    # Facing the camera: the person's left shoulder is on image right mostly.
    assert (keypoints[:, name["left_shoulder"], 0] > keypoints[:, name["right_shoulder"], 0]).mean() > 0.85


def test_sample_constants():
    assert len(COCO17_KEYPOINT_NAMES) == 17 and len(set(COCO17_KEYPOINT_NAMES)) == 17
    assert COCO17_KEYPOINT_NAMES[0] == "nose" and COCO17_KEYPOINT_NAMES[-1] == "right_ankle"
    assert len(COCO17_SKELETON) == 19
    assert all(0 <= a < 17 and 0 <= b < 17 and a != b for a, b in COCO17_SKELETON)


def test_sample_matches_generator():
    generator = _generator()
    keypoints, visible = generator.make_coco17_sample()
    again_kp, again_vis = generator.make_coco17_sample()
    np.testing.assert_array_equal(keypoints, again_kp)
    np.testing.assert_array_equal(visible, again_vis)
    shipped_kp, shipped_vis = load_coco17_sample()
    np.testing.assert_allclose(shipped_kp, keypoints, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(shipped_vis, visible)
    assert (REPO / "jaxcodecs" / "data" / "coco17_sample.npz").stat().st_size < 50_000


# ------------------------------------------------------------------- help
@pytest.mark.parametrize("command", ["demo", "bench"])
def test_help(command):
    done = _run_module(command, "--help")
    assert done.returncode == 0, done.stderr
    assert f"usage: python -m jaxcodecs {command}" in done.stdout
    assert "--codecs" in done.stdout
    assert len(done.stdout) > 300


def test_top_level_help_and_no_command(capsys):
    done = _run_module("--help")
    assert done.returncode == 0 and "demo" in done.stdout and "bench" in done.stdout
    assert cli.main([]) == 2
    assert "usage" in capsys.readouterr().out


def test_console_script_and_main_module():
    """``jaxcodecs`` (pyproject's script) and ``python -m jaxcodecs`` both run
    ``jaxcodecs.cli.main``."""
    import importlib

    script = re.search(r'^jaxcodecs = "([\w.]+):(\w+)"$', (REPO / "pyproject.toml").read_text(), re.M)
    assert script, "pyproject.toml names no jaxcodecs script"
    assert getattr(importlib.import_module(script.group(1)), script.group(2)) is cli.main
    assert importlib.import_module("jaxcodecs.__main__").main is cli.main


# ------------------------------------------------------------------- demo
def _expected_placement(num_poses, input_size, seed):
    unit, visible = load_coco17_sample()
    jitter = np.random.default_rng(seed).uniform(-0.5, 0.5, size=(num_poses, 17, 2))
    size = np.asarray(input_size, np.float64)
    keypoints = -0.5 + size * (0.15 + 0.7 * unit[:num_poses].astype(np.float64)) + jitter
    return keypoints.astype(np.float32), visible[:num_poses]


def test_demo_keypoints_placement():
    keypoints, visible = examples.demo_keypoints(64, (192, 256), seed=3)
    want_kp, want_vis = _expected_placement(64, (192, 256), 3)
    np.testing.assert_array_equal(keypoints, want_kp)
    np.testing.assert_array_equal(visible, want_vis)
    # Inside the central 70% (plus jitter), and off the pixel grid.
    assert keypoints[..., 0].min() >= 0.15 * 192 - 1 and keypoints[..., 0].max() <= 0.85 * 192
    assert keypoints[..., 1].min() >= 0.15 * 256 - 1 and keypoints[..., 1].max() <= 0.85 * 256
    assert (np.abs(keypoints - np.round(keypoints)) < 1e-3).mean() < 0.01
    # More poses than the sample: repeated with fresh jitter, same prefix.
    more, more_vis = examples.demo_keypoints(130, (192, 256), seed=3)
    assert more.shape == (130, 17, 2) and more_vis.shape == (130, 17)
    np.testing.assert_array_equal(more[:64], keypoints)
    assert not np.allclose(more[64:128], keypoints)


def test_config_labels():
    sizes = {"input_size": (192, 256), "heatmap_size": (48, 64)}
    assert cli.config_labels([{**sizes, "sigma": 2.0}, {**sizes, "sigma": 2.0, "unbiased": True}]) == [
        "sigma=2", "unbiased"]
    assert cli.config_labels([{**sizes, "heatmap_type": "gaussian"}, {**sizes, "heatmap_type": "combined"}]) == [
        "gaussian", "combined"]
    assert cli.config_labels([{**sizes, "kernel_size": 11}]) == ["k=11"]
    assert cli.config_labels([sizes]) == ["default"]
    assert cli.config_labels([sizes, {**sizes, "heatmap_size": (24, 32)}]) == [
        "heatmap_size=48x64", "heatmap_size=24x32"]
    assert cli.config_labels([{"sigma": 1.5}, {"sigma": 1.5}]) == ["sigma=1.5", "sigma=1.5#2"]


def _independent_errors(cls, config, compat, num_poses, seed):
    """Round trip through the public per-sample API, error in NumPy."""
    codec = jaxcodecs.build({"type": cls.__name__, **config, "mmpose_compat": compat})
    keypoints, visible = _expected_placement(num_poses, codec.input_size, seed)
    encode, decode = jax.jit(codec.encode), jax.jit(codec.decode)
    decoded = []
    for b in range(num_poses):
        encoded = encode(keypoints[b][None], visible[b][None])
        out = decode(*[encoded[key] for key in codec.decode_input_keys])
        decoded.append(np.asarray(out[0])[0, :, :2])
    distance = np.sqrt(((np.stack(decoded).astype(np.float64) - keypoints) ** 2).sum(-1))
    distance = distance[visible > 0]
    return distance.mean(), distance.max()


def test_demo_subset_table_errors_and_png(tmp_path):
    png = tmp_path / "demo.png"
    seed = 5
    done = _run_module("demo", "--num-poses", "4", "--codecs", "MSRAHeatmap",
                       "--seed", str(seed), "--out", str(png), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = _table_rows(done.stdout)

    cls = jaxcodecs.get_codec_class("MSRAHeatmap")
    configs = examples.get_examples("MSRAHeatmap").configs
    labels = cli.config_labels(configs)
    assert labels == ["sigma=2", "unbiased"]
    expected = {("MSRAHeatmap", label, mode) for label in labels for mode in MODES}
    assert set(rows) == expected, done.stdout
    for config, label in zip(configs, labels):
        for mode, compat in MODES.items():
            cells = rows[("MSRAHeatmap", label, mode)]
            mean_error, max_error = float(cells[3]), float(cells[4])
            want_mean, want_max = _independent_errors(cls, config, compat, 4, seed)
            assert mean_error == pytest.approx(want_mean, abs=1.5e-3), (label, mode)
            assert max_error == pytest.approx(want_max, abs=1.5e-3), (label, mode)
            encode_rate, decode_rate, compile_s = float(cells[5]), float(cells[6]), float(cells[7])
            assert encode_rate > 0 and decode_rate > 0 and compile_s >= 0
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert str(png) in done.stdout
    assert not (tmp_path / "jaxcodecs_demo.png").exists()


def test_demo_default_png_and_no_plot(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["demo", "--num-poses", "2", "--codecs", "MegviiHeatmap", "--repeats", "1",
                     "--no-plot"]) == 0
    assert not (tmp_path / "jaxcodecs_demo.png").exists()
    assert cli.main(["demo", "--num-poses", "2", "--codecs", "MegviiHeatmap", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    png = tmp_path / "jaxcodecs_demo.png"
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert f"wrote {png}" in out


def test_demo_without_matplotlib(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    assert cli.main(["demo", "--num-poses", "2", "--codecs", "MegviiHeatmap", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "matplotlib is not installed" in out
    assert not (tmp_path / "jaxcodecs_demo.png").exists()
    with pytest.raises(viz.MissingMatplotlibError, match="matplotlib"):
        viz.plot_round_trip(tmp_path / "x.png", "c", None, np.zeros((17, 2)), np.zeros((17, 2)), (192, 256))


class _NoDemoCodec(Codec):
    """A codec without examples."""


class _BrokenCodec(Codec):
    def encode(self, keypoints, keypoints_visible=None):
        raise ValueError("broken on purpose")


def test_demo_no_examples_and_failing_rows(monkeypatch, capsys):
    monkeypatch.setitem(_REGISTRY, "_NoDemoCodec", _NoDemoCodec)
    monkeypatch.setitem(_REGISTRY, "_BrokenCodec", _BrokenCodec)
    monkeypatch.setitem(examples._EXAMPLES, "_BrokenCodec", examples.CodecExamples(
        configs=({},), decode_inputs=examples.from_encoded("heatmaps")))
    assert cli.main(["demo", "--codecs", "_NoDemoCodec", "--no-plot"]) == 0
    rows = _table_rows(capsys.readouterr().out)
    assert rows[("_NoDemoCodec", "-", "-")][-2:] == ["no", "examples"]
    # A failing codec is reported in its rows; the demo goes on and exits 1.
    assert cli.main(["demo", "--codecs", "_BrokenCodec", "MegviiHeatmap", "--num-poses", "2",
                     "--repeats", "1", "--no-plot"]) == 1
    out = capsys.readouterr().out
    rows = _table_rows(out)
    assert "FAILED" in rows[("_BrokenCodec", "default", "mmpose")]
    assert "broken on purpose" in out
    assert ("MegviiHeatmap", "k=11", "exact") in rows


def test_demo_unknown_codec(capsys):
    assert cli.main(["demo", "--codecs", "NoSuchCodec", "--no-plot"]) == 2
    assert "Known codecs" in capsys.readouterr().err


# ---------------------------------------------------------- demo --config
MMPOSE_CONFIGS = REPO / "tests" / "data" / "mmpose_configs"


def test_demo_config_file_table_and_png(tmp_path, capsys):
    path = MMPOSE_CONFIGS / "body_2d_keypoint/topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py"
    png = tmp_path / "demo.png"
    seed = 2
    assert cli.main(["demo", "--config", str(path), "--num-poses", "2", "--repeats", "1",
                     "--seed", str(seed), "--out", str(png)]) == 0
    out = capsys.readouterr().out
    assert f"{path}: 4 codec configurations, 1 distinct" in out
    assert ("codec: MSRAHeatmap (also at model.head.decoder, train_pipeline[6].encoder, "
            "train_dataloader.dataset.pipeline[6].encoder)") in out
    rows = _table_rows(out)
    assert set(rows) == {("MSRAHeatmap", "codec", mode) for mode in MODES}
    config = {"input_size": [192, 256], "heatmap_size": [48, 64], "sigma": 2}
    cls = jaxcodecs.get_codec_class("MSRAHeatmap")
    for mode, compat in MODES.items():
        cells = rows[("MSRAHeatmap", "codec", mode)]
        want_mean, want_max = _independent_errors(cls, config, compat, 2, seed)
        assert float(cells[3]) == pytest.approx(want_mean, abs=1.5e-3)
        assert float(cells[4]) == pytest.approx(want_max, abs=1.5e-3)
    assert png.read_bytes()[:8] == PNG_MAGIC


def test_demo_config_file_distinct_codecs_and_filter(capsys):
    path = MMPOSE_CONFIGS / "body_3d_keypoint/motionbert/h36m/motionbert_dstformer-243frm_8xb32-240e_h36m.py"
    assert cli.main(["demo", "--config", str(path), "--num-poses", "2", "--repeats", "1", "--no-plot"]) == 0
    out = capsys.readouterr().out
    rows = _table_rows(out)
    assert set(rows) == {("MotionBERTLabel", label, mode) for label in ("train_codec", "val_codec")
                         for mode in MODES}
    assert all(float(cells[4]) < 1e-3 for cells in rows.values())
    assert "val_codec: MotionBERTLabel (also at model.head.decoder, val_pipeline[0].encoder)" in out
    assert cli.main(["demo", "--config", str(path), "--codecs", "MSRAHeatmap", "--no-plot"]) == 2
    assert "none of the codecs MSRAHeatmap" in capsys.readouterr().err


def test_demo_config_file_errors(tmp_path, capsys):
    assert cli.main(["demo", "--config", str(tmp_path / "missing.py"), "--no-plot"]) == 2
    assert "no config file" in capsys.readouterr().err
    bad = tmp_path / "bad.py"
    bad.write_text("codec = dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64),\n"
                   "             sigma=undefined_sigma)\n")
    assert cli.main(["demo", "--config", str(bad), "--no-plot"]) == 2
    err = capsys.readouterr().err
    assert "undefined_sigma" in err and f"{bad}, line 2" in err
    assert cli.main(["demo", "--config", str(bad), "--package", "mmpose", "--no-plot"]) == 2
    assert "NAME=DIR" in capsys.readouterr().err


# ------------------------------------------------------------------- bench
def test_bench_json_without_oracle(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MMPOSE_ORACLE_PYTHON", raising=False)
    path = tmp_path / "bench.json"
    assert cli.main(["bench", "--codecs", "MegviiHeatmap", "--batch-sizes", "1", "2", "--allocator", "default",
                     "--repeats", "1", "--min-time", "0", "--rounds", "2", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "mmpose columns: not run" in out
    report = json.loads(path.read_text())
    assert report["host"]["kind"] == cli.host_kind()
    assert report["mmpose_oracle"] is None
    assert report["settings"]["rounds"] == 2 and report["settings"]["modes"] == list(MODES)
    assert report["settings"]["allocators"] == ["default"]
    assert report["processes"]["default"]["pid"] == os.getpid()  # measured in this process
    rows = report["results"]
    assert {(r["mode"], r["batch_size"]) for r in rows} == {
        (m, b) for m in MODES for b in (1, 2)}
    for row in rows:
        assert row["codec"] == "MegviiHeatmap" and row["config_label"] == "k=11"
        assert row["allocator"] == "default" and "error" not in row
        assert row["encode_samples_per_s"] > 0 and row["decode_samples_per_s"] > 0
        for part in ("encode", "decode"):
            assert row[f"{part}_compile_s"] > 0 and row[f"{part}_lower_s"] > 0
        # Heatmaps (B, 17, 64, 48) and keypoint weights (B, 1, 17), float32.
        assert row["encode_output_bytes"] == row["batch_size"] * (17 * 64 * 48 + 17) * 4
        # A heatmap encoder: the write floor is measured beside it.
        assert row["floor_step_s"] > 0
        assert row["encode_floor_fraction"] == pytest.approx(row["floor_step_s"] / row["encode_step_s"])
        assert row["encode_samples_per_s"] == pytest.approx(row["batch_size"] / row["encode_step_s"])
        # Every decoder: its read floor beside it.
        assert row["read_floor_step_s"] > 0
        assert row["decode_floor_fraction"] == pytest.approx(row["read_floor_step_s"] / row["decode_step_s"])


def test_bench_quick_both_allocators_and_markdown(tmp_path, monkeypatch, capsys):
    # The tuned allocator runs in a child process started with its environment.
    from jaxcodecs.allocator import ALLOCATOR_ENV_NAMES, cpu_allocator_env, heap_stats

    for name in ALLOCATOR_ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("MMPOSE_ORACLE_PYTHON", raising=False)
    path, table = tmp_path / "bench.json", tmp_path / "table.md"
    assert cli.main(["bench", "--codecs", "RegressionLabel", "--batch-sizes", "3", "--quick",
                     "--repeats", "1", "--min-time", "0", "--json", str(path), "--markdown", str(table)]) == 0
    report = json.loads(path.read_text())
    settings = report["settings"]
    assert settings["quick"] and settings["modes"] == ["mmpose"] and settings["rounds"] == 1
    assert settings["repeats"] == 1  # given options win over --quick's
    kinds = ["default", "tuned"] if heap_stats() is not None else ["default"]
    assert settings["allocators"] == kinds
    assert settings["batch_sizes_by_allocator"] == {kind: [3] for kind in kinds}
    rows = report["results"]
    assert [(r["allocator"], r["mode"], r["batch_size"]) for r in rows] == [(k, "mmpose", 3) for k in kinds]
    for row in rows:
        assert row["encode_samples_per_s"] > 0 and row["decode_samples_per_s"] > 0
        assert "floor_step_s" not in row and "encode_floor_fraction" not in row  # no heatmaps
        assert row["read_floor_step_s"] > 0 and row["decode_floor_fraction"] > 0
    if "tuned" in kinds:
        child = report["processes"]["tuned"]
        assert child["allocator"] == "tuned" and child["env"] == cpu_allocator_env()
        assert child["pid"] != os.getpid() and child["heap_stats"]["mmapped_blocks"] == 0
    lines = table.read_text().splitlines()
    assert lines[0].startswith("| codec | config | mode | B | allocator |")
    assert len(lines) == 2 + len(rows) and all(line.count("|") == lines[0].count("|") for line in lines)
    assert "| RegressionLabel | default | mmpose | 3 | default |" in lines[2]


# The oracle runs ``--oracle-python`` on a script that imports ``mmpose``. Whether
# MMPose is installed here must not matter: these tests put a stand-in package
# ``mmpose`` first on the oracle's PYTHONPATH (ahead of site-packages), either one
# that is "not installed" (its import fails as a missing module's does) or a tiny
# NumPy codec registry that logs what it is given.
_MISSING_MMPOSE = {
    "__init__.py": "raise ModuleNotFoundError(\"No module named 'mmpose'\", name='mmpose')\n",
}
_STUB_MMPOSE = {
    "__init__.py": "__version__ = '0.0.stub'\n",
    "codecs/__init__.py": "",
    "registry.py": """
import json, os
import numpy as np


def _log(**entry):
    with open(os.environ["JAXCODECS_TEST_MMPOSE_LOG"], "a") as log:
        log.write(json.dumps(entry) + "\\n")


class _Codec:
    def encode(self, keypoints, keypoints_visible):
        _log(keypoints=np.asarray(keypoints).tolist(), visible=np.asarray(keypoints_visible).tolist())
        return {"heatmaps": np.zeros((17, 64, 48), np.float32)}

    def decode(self, heatmaps):
        _log(decoded=np.asarray(heatmaps).shape, total=float(np.asarray(heatmaps, np.float64).sum()))
        return np.zeros((1, 17, 2)), np.zeros((1, 17))


class _Registry:
    def build(self, cfg):
        _log(built=cfg)
        return _Codec()


KEYPOINT_CODECS = _Registry()
""",
}


def _oracle_sees(monkeypatch, root: Path, files: dict[str, str]) -> None:
    """Makes ``import mmpose`` in the oracle's subprocess load ``files``."""
    for name, text in files.items():
        path = root / "mmpose" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))


def _bench_with_oracle(path: Path, oracle_python: str, *extra: str) -> int:
    return cli.main(["bench", "--codecs", "MegviiHeatmap", "--batch-sizes", "1", "--repeats", "1",
                     "--min-time", "0", "--allocator", "default", "--json", str(path),
                     "--oracle-python", oracle_python, *extra])


@pytest.mark.parametrize("oracle", ["without_mmpose", "no_such_python"])
def test_bench_broken_oracle_never_fails(tmp_path, monkeypatch, capsys, oracle):
    # An oracle that cannot import mmpose, or cannot start: a note, no columns, exit 0.
    path = tmp_path / "bench.json"
    if oracle == "without_mmpose":
        _oracle_sees(monkeypatch, tmp_path / "site", _MISSING_MMPOSE)
        python, note = sys.executable, (
            "note: MMPose oracle failed (exit 1: ModuleNotFoundError: No module named 'mmpose'); "
            "column skipped.")
    else:
        python, note = str(tmp_path / "no-such-python"), "note: MMPose oracle not run (FileNotFoundError: "
    assert _bench_with_oracle(path, python) == 0
    out = capsys.readouterr().out
    assert note in out
    assert "mmpose columns: not run" in out
    report = json.loads(path.read_text())
    assert report["mmpose_oracle"] is None
    assert {r["mode"] for r in report["results"]} == set(MODES)
    assert not any("mmpose_numpy_encode_samples_per_s" in r for r in report["results"])


def test_bench_oracle_columns(tmp_path, monkeypatch, capsys):
    # An oracle whose mmpose works: it gets the same configs and poses as jaxcodecs,
    # and its rates fill the mmpose columns of the mmpose_compat=True rows.
    log = tmp_path / "oracle.log"
    monkeypatch.setenv("JAXCODECS_TEST_MMPOSE_LOG", str(log))
    _oracle_sees(monkeypatch, tmp_path / "site", _STUB_MMPOSE)
    path = tmp_path / "bench.json"
    assert _bench_with_oracle(path, sys.executable, "--oracle-samples", "3", "--seed", "4", "--rounds", "2") == 0
    out = capsys.readouterr().out
    assert "mmpose columns: MMPose 0.0.stub per-sample NumPy loop, 3 samples" in out

    entries = [json.loads(line) for line in log.read_text().splitlines()]
    config = examples.get_examples("MegviiHeatmap").configs[0]
    assert entries[0] == {"built": json.loads(json.dumps({"type": "MegviiHeatmap", **config}))}
    calls = [entry for entry in entries[1:] if "keypoints" in entry]
    keypoints, visible = examples.demo_keypoints(3, config["input_size"], 4)
    assert len(calls) >= 3 and len(calls) % 3 == 0  # whole passes over the 3 samples
    for i, call in enumerate(calls):  # one instance per sample, as MMPose's encode takes
        np.testing.assert_array_equal(np.asarray(call["keypoints"], np.float32), keypoints[i % 3][None])
        np.testing.assert_array_equal(np.asarray(call["visible"], np.float32), visible[i % 3][None])
    # MMPose decodes the example batch's decode arguments, sample by sample:
    # here the heatmaps of the poses, rendered by jaxcodecs in MMPose's mode.
    decodes = [entry for entry in entries[1:] if "decoded" in entry]
    codec = jaxcodecs.build({"type": "MegviiHeatmap", **config})
    encode = jax.jit(codec.encode)  # one compilation for the 3 samples
    heatmaps = np.stack([np.asarray(encode(keypoints[b][None], visible[b][None])["heatmaps"]) for b in range(3)])
    assert len(decodes) >= 3 and len(decodes) % 3 == 0 and len(entries) == 1 + len(calls) + len(decodes)
    for i, call in enumerate(decodes):
        assert call["decoded"] == [17, 64, 48]
        assert call["total"] == pytest.approx(float(heatmaps[i % 3].astype(np.float64).sum()), rel=1e-5)

    report = json.loads(path.read_text())
    oracle = report["mmpose_oracle"]
    assert oracle["mmpose_version"] == "0.0.stub" and oracle["numpy_version"] == np.__version__
    (row,) = oracle["rows"]
    assert row["codec"] == "MegviiHeatmap" and row["config_label"] == "k=11" and "error" not in row
    assert row["encode_samples_per_s"] > 0 and row["decode_samples_per_s"] > 0
    for result in report["results"]:
        if result["mode"] == "mmpose":
            assert result["mmpose_numpy_encode_samples_per_s"] == row["encode_samples_per_s"]
            assert result["mmpose_numpy_decode_samples_per_s"] == row["decode_samples_per_s"]
            assert result["decode_speedup"] == pytest.approx(
                result["decode_samples_per_s"] / row["decode_samples_per_s"])
            assert result["decode_floor_speedup"] == pytest.approx(
                result["batch_size"] / result["read_floor_step_s"] / row["decode_samples_per_s"])
        else:
            assert "mmpose_numpy_encode_samples_per_s" not in result


_GENERIC_MMPOSE = {
    "__init__.py": "__version__ = '0.0.generic'\n",
    "codecs/__init__.py": "",
    "registry.py": """
import json, os
import numpy as np


def _describe(value):
    if isinstance(value, dict):
        return {key: _describe(v) for key, v in value.items()}
    return list(np.shape(value))


class _Codec:
    def __init__(self, cfg):
        self.name = cfg["type"]
        if "heatmap_size" in cfg:  # as MMPose's codecs keep it
            self.heatmap_size = cfg["heatmap_size"]

    def _log(self, method, args):
        with open(os.environ["JAXCODECS_TEST_MMPOSE_LOG"], "a") as log:
            log.write(json.dumps({"codec": self.name, method: [_describe(a) for a in args]}) + "\\n")

    def encode(self, *args):
        self._log("encode", args)
        return {}

    def decode(self, *args):
        self._log("decode", args)


class _Registry:
    def build(self, cfg):
        return _Codec(cfg)


KEYPOINT_CODECS = _Registry()
""",
}


def test_bench_oracle_gets_each_sample_of_the_example_arguments(tmp_path, monkeypatch, capsys):
    # Per sample: arrays without the batch axis, cameras as dicts, and
    # Hand3D's heatmaps as MMPose's decode takes them, (K, D, H, W).
    log = tmp_path / "oracle.log"
    monkeypatch.setenv("JAXCODECS_TEST_MMPOSE_LOG", str(log))
    _oracle_sees(monkeypatch, tmp_path / "site", _GENERIC_MMPOSE)
    path = tmp_path / "bench.json"
    assert cli.main(["bench", "--codecs", "Hand3DHeatmap", "VideoPoseLifting", "--batch-sizes", "1",
                     "--repeats", "1", "--min-time", "0", "--allocator", "default", "--modes", "mmpose",
                     "--rounds", "1", "--json", str(path), "--oracle-python",
                     sys.executable, "--oracle-samples", "2"]) == 0
    rows = json.loads(path.read_text())["mmpose_oracle"]["rows"]
    assert len(rows) == 4 and not [row["error"] for row in rows if "error" in row]
    calls = {}
    for line in log.read_text().splitlines():
        entry = json.loads(line)
        calls.setdefault(entry.pop("codec"), []).append(entry)
    def seen(codec, method):
        return [json.dumps(c[method]) for c in calls[codec] if method in c]

    # Both configs of each codec, each a whole number of passes over the 2 samples.
    assert set(seen("Hand3DHeatmap", "decode")) == {json.dumps([[17, 16, 16, 16], [1], [1, 2]])}
    assert set(seen("Hand3DHeatmap", "encode")) == {
        json.dumps([[1, 17, 3], [1, 17], [17], [], [], [1, 2], [1], [2], [2]])}
    assert set(seen("VideoPoseLifting", "encode")) == {json.dumps(
        [[1, 17, 2], [1, 17], [1, 17, 3], [1, 17], {"w": [], "h": [], "f": [2, 1], "c": [2, 1]}])}
    # The label and the root (zero_center): (1, 17, 3) and (1, 3) for the
    # first config, (1, 16, 3) without the root joint for the second.
    assert set(seen("VideoPoseLifting", "decode")) == {
        json.dumps([[1, 17, 3], [1, 3]]), json.dumps([[1, 16, 3], [1, 3]])}
    for codec in calls:
        assert len(seen(codec, "decode")) >= 4 and len(seen(codec, "decode")) % 2 == 0


def test_host_kind():
    kind = cli.host_kind()
    assert re.fullmatch(r"[a-z0-9-]+", kind)
    if jax.default_backend() == "cpu":
        assert re.fullmatch(r"cpu-\d+core", kind)


# --------------------------------------------------------------------- viz
def test_plot_round_trip(tmp_path):
    keypoints = np.random.default_rng(0).uniform(10, 180, size=(17, 2)).astype(np.float32)
    heatmaps = np.random.default_rng(1).random((17, 64, 48)).astype(np.float32)
    path = viz.plot_round_trip(tmp_path / "rt.png", "MSRAHeatmap sigma=2", heatmaps, keypoints,
                               keypoints + 0.5, (192, 256), visible=np.r_[np.ones(16), 0])
    assert Path(path).read_bytes()[:8] == PNG_MAGIC
    path = viz.plot_round_trip(tmp_path / "none.png", "SimCC", None, keypoints,
                               {"mmpose": keypoints, "exact": keypoints - 0.5}, (192, 256))
    assert Path(path).read_bytes()[:8] == PNG_MAGIC


def test_summed_heatmap_layouts():
    maps = np.ones((17, 4, 3), np.float32)
    np.testing.assert_array_equal(viz.summed_heatmap(maps, 17), np.full((4, 3), 17.0))
    combined = np.concatenate([np.ones((17, 1, 4, 3)), np.full((17, 2, 4, 3), 5.0)], axis=1)
    np.testing.assert_array_equal(viz.summed_heatmap(combined.reshape(51, 4, 3), 17), np.full((4, 3), 17.0))
    assert viz.summed_heatmap(np.ones((17, 32)), 17) is None
    assert viz.summed_heatmap(None) is None
