"""Tests of ``jaxcodecs.from_mmpose_config``: MMPose config files read without being executed.

The config files under ``tests/data/mmpose_configs`` are written the way
MMPose's ``configs/`` write them, one or more per codec family; each test
compares the codecs found with codecs built from dicts written out here.
"""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import jax
import numpy as np
import pytest

import jaxcodecs
from jaxcodecs import MMPoseConfigError, from_mmpose_config
from jaxcodecs._config_values import ConfigDict, merge_into

CONFIGS = Path(__file__).resolve().parent / "data" / "mmpose_configs"
BODY = CONFIGS / "body_2d_keypoint"


def assert_same_codec(got, want):
    """Same class, same static fields, same leaves."""
    assert type(got) is type(want), (type(got), type(want))
    got_leaves, got_def = jax.tree_util.tree_flatten(got)
    want_leaves, want_def = jax.tree_util.tree_flatten(want)
    assert got_def == want_def, (got, want)
    for a, b in zip(got_leaves, want_leaves):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def assert_codecs(found, expected):
    """``found`` holds exactly the keys of ``expected``, each the codec built from its dict."""
    assert list(found) == list(expected), list(found)
    for key, config in expected.items():
        assert_same_codec(found[key], jaxcodecs.build(config))


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def load_text(text: str, **kwargs):
    return from_mmpose_config(textwrap.dedent(text), **kwargs)


MSRA = dict(type="MSRAHeatmap", input_size=(192, 256), heatmap_size=(48, 64), sigma=2)
MSRA_TEXT = "codec = dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2)\n"


# -------------------------------------------------------- codec families
def test_msra_codec_in_head_and_pipelines():
    found = from_mmpose_config(BODY / "topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py")
    assert_codecs(found, {
        "codec": MSRA,
        "model.head.decoder": MSRA,
        "train_pipeline[6].encoder": MSRA,
        "train_dataloader.dataset.pipeline[6].encoder": MSRA,
    })
    assert found.decoder_key == "model.head.decoder"
    assert_same_codec(found.decoder, jaxcodecs.build(MSRA))
    assert found.has_model and not found.errors and not found.unresolved
    # One configuration, one codec, reached by four paths.
    assert len({id(c) for c in found.values()}) == 1
    (keys, codec), = found.distinct()
    assert keys == ("codec", "model.head.decoder", "train_pipeline[6].encoder",
                    "train_dataloader.dataset.pipeline[6].encoder")
    assert found.configs["codec"] == {**MSRA, "input_size": (192, 256)}


def test_dark_child_merges_into_its_base():
    found = from_mmpose_config(BODY / "topdown_heatmap/coco/td-hm_res50_dark-8xb64-210e_coco-256x192.py")
    dark = {**MSRA, "unbiased": True, "blur_kernel_size": 11}
    assert_codecs(found, {
        "codec": dark,
        "model.head.decoder": dark,
        "train_pipeline[3].encoder": dark,
        # The child's pipeline replaces the base's inside the merged loader.
        "train_dataloader.dataset.pipeline[3].encoder": dark,
    })


def test_udp_base_references_derived_sizes_and_dict_updates():
    found = from_mmpose_config(BODY / "topdown_heatmap/coco/td-hm_hrnet-w32_udp-8xb64-210e_coco-256x192.py")
    udp = dict(type="UDPHeatmap", input_size=(192, 256), heatmap_size=(48, 64), sigma=2)
    combined = dict(type="UDPHeatmap", input_size=(192, 256), heatmap_size=(48, 64),
                    heatmap_type="combined", radius_factor=0.0546875)
    assert_codecs(found, {"codec": udp, "model.head.decoder": udp,
                          "train_pipeline[3].encoder": udp, "combined_codec": combined})
    assert not found.unresolved  # {{_base_.backend_args}} and {{ fileBasenameNoExtension }} resolved


def test_megvii_codec_list_from_a_comprehension():
    found = from_mmpose_config(BODY / "topdown_heatmap/coco/td-hm_rsn18_8xb32-210e_coco-256x192.py")

    def megvii(k):
        return dict(type="MegviiHeatmap", input_size=(192, 256), heatmap_size=(48, 64), kernel_size=k)

    expected = {f"codec[{i}]": megvii(k) for i, k in enumerate([11, 9, 7, 5])}
    expected["model.head.decoder"] = megvii(5)
    expected.update({f"train_pipeline[3].encoder[{i}]": megvii(k) for i, k in enumerate([11, 9, 7, 5])})
    assert_codecs(found, expected)
    assert found.decoder_key == "model.head.decoder"
    assert [keys for keys, _ in found.distinct()][3] == ("codec[3]", "model.head.decoder",
                                                         "train_pipeline[3].encoder[3]")


def test_simcc_with_two_bases():
    found = from_mmpose_config(BODY / "simcc/coco/simcc_res50_8xb64-210e_coco-256x192.py")
    simcc = dict(type="SimCCLabel", input_size=(192, 256), sigma=6.0, simcc_split_ratio=2.0)
    assert_codecs(found, {"codec": simcc, "model.head.decoder": simcc, "train_pipeline[3].encoder": simcc})
    assert not found.unresolved


def test_rtmpose_codec_in_two_pipeline_stages_and_a_hook():
    found = from_mmpose_config(BODY / "rtmpose/coco/rtmpose-m_8xb256-420e_coco-256x192.py")
    simcc = dict(type="SimCCLabel", input_size=(192, 256), sigma=(4.9, 5.66), simcc_split_ratio=2.0,
                 normalize=False, use_dark=False)
    keys = ["custom_hooks[1].switch_pipeline[4].encoder", "codec", "model.head.decoder",
            "train_pipeline[7].encoder", "train_pipeline_stage2[4].encoder",
            "train_dataloader.dataset.pipeline[7].encoder"]
    assert_codecs(found, dict.fromkeys(keys, simcc))
    (paths, _), = found.distinct()
    assert paths[0] == "codec"  # the shallowest key first


@pytest.mark.parametrize("relative, config", [
    ("topdown_regression/coco/td-reg_res50_rle-8xb64-210e_coco-256x192.py",
     dict(type="RegressionLabel", input_size=(192, 256))),
    ("integral_regression/coco/ipr_res50_dsnt-8xb64-210e_coco-256x256.py",
     dict(type="IntegralRegressionLabel", input_size=(256, 256), heatmap_size=(64, 64), sigma=2.0,
          normalize=True)),
    ("cid/coco/cid_hrnet-w32_8xb20-140e_coco-512x512.py",
     dict(type="DecoupledHeatmap", input_size=(512, 512), heatmap_size=(128, 128))),
    ("dekr/coco/dekr_hrnet-w32_8xb10-140e_coco-512x512.py",
     dict(type="SPR", input_size=(512, 512), heatmap_size=(128, 128), sigma=(4, 2),
          minimal_diagonal_length=32 ** 0.5, generate_keypoint_heatmaps=True, decode_max_instances=30)),
])
def test_one_codec_in_codec_head_and_pipeline(relative, config):
    found = from_mmpose_config(BODY / relative)
    assert_codecs(found, {"codec": config, "model.head.decoder": config, "train_pipeline[3].encoder": config})


def test_associative_embedding_decoder_updates_the_codec():
    found = from_mmpose_config(BODY / "associative_embedding/coco/ae_hrnet-w32_8xb24-300e_coco-512x512.py")
    codec = dict(type="AssociativeEmbedding", input_size=(512, 512), heatmap_size=(128, 128), sigma=2,
                 decode_topk=30, decode_center_shift=0.5,
                 decode_keypoint_order=[0, 1, 2, 3, 4, 5, 6, 11, 12, 7, 8, 9, 10, 13, 14, 15, 16],
                 decode_max_instances=30)
    decoder = {**codec, "heatmap_size": (512, 512)}
    assert_codecs(found, {"codec": codec, "model.head.decoder": decoder, "train_pipeline[3].encoder": codec})
    assert [paths for paths, _ in found.distinct()] == [
        ("codec", "train_pipeline[3].encoder"), ("model.head.decoder",)]


def test_edpose_read_base_and_imported_codec_type():
    found = from_mmpose_config(BODY / "edpose/coco/edpose_res50_8xb2-50e_coco-800x1333.py")
    edpose = dict(type="EDPoseLabel", num_select=50, num_keypoints=17)
    assert_codecs(found, {"codec": edpose, "model.head.data_decoder": edpose})
    assert found.decoder_key == "model.head.data_decoder"
    assert found.configs["codec"]["type"] == "EDPoseLabel"  # the imported name, as registered


def test_yoloxpose_annotation_processor_and_a_child_with_base_references():
    parent = from_mmpose_config(BODY / "yoloxpose/coco/yoloxpose_s_8xb32-300e_coco-640.py")
    big = dict(type="YOLOXPoseAnnotationProcessor", input_size=(640, 640))
    assert_codecs(parent, dict.fromkeys([
        "custom_hooks[0].new_train_pipeline[6].encoder", "codec", "train_pipeline_stage1[6].encoder",
        "train_pipeline_stage2[6].encoder"], big))
    with pytest.raises(MMPoseConfigError, match="names no decoder"):
        parent.decoder  # the head decodes by itself
    child = from_mmpose_config(BODY / "yoloxpose/coco/yoloxpose_tiny_4xb64-300e_coco-416.py")
    small = dict(type="YOLOXPoseAnnotationProcessor", input_size=(416, 416))
    # The child's codec merges into the base's; pipelines written in the base
    # (and _base_.codec) keep the base's codec, as MMEngine gives them.
    assert_codecs(child, {
        "custom_hooks[0].new_train_pipeline[6].encoder": big, "codec": small,
        "train_pipeline_stage1[4].encoder": big, "train_pipeline_stage2[6].encoder": big})


def test_lifting_codecs():
    video = from_mmpose_config(CONFIGS / "body_3d_keypoint/video_pose_lift/h36m/vid-pl_tcn-27frm-supv_8xb128-160e_h36m.py")
    lifting = dict(type="VideoPoseLifting", num_keypoints=17, zero_center=True, root_index=0, remove_root=False)
    assert_codecs(video, {"codec": lifting, "model.head.decoder": lifting, "train_pipeline[1].encoder": lifting,
                          "train_dataloader.dataset.pipeline[1].encoder": lifting})

    motionbert = from_mmpose_config(
        CONFIGS / "body_3d_keypoint/motionbert/h36m/motionbert_dstformer-243frm_8xb32-240e_h36m.py")
    train = dict(type="MotionBERTLabel", num_keypoints=17, concat_vis=True, mode="train")
    val = dict(type="MotionBERTLabel", num_keypoints=17, concat_vis=True, rootrel=True)
    assert_codecs(motionbert, {"train_codec": train, "val_codec": val, "model.head.decoder": val,
                               "train_pipeline[0].encoder": train, "val_pipeline[0].encoder": val})
    assert_same_codec(motionbert.decoder, jaxcodecs.build(val))

    image = from_mmpose_config(CONFIGS / "body_3d_keypoint/image_pose_lift/h36m/image-pose-lift_tcn_8xb64-200e_h36m.py")
    lifting = dict(
        type="ImagePoseLifting", num_keypoints=17, root_index=0, remove_root=True,
        target_mean=[[0.01 * k, -0.02 * k, 0.005 * k] for k in range(1, 17)],
        target_std=[[0.1 + 0.01 * k, 0.12, 0.15 - 0.002 * k] for k in range(1, 17)],
        keypoints_mean=[[530.0 + k, 420.0 - 5.5 * k] for k in range(17)],
        keypoints_std=[[110.0 - k, 60.0 + 1.5 * k] for k in range(17)])
    assert_codecs(image, {"codec": lifting, "model.head.decoder": lifting, "train_pipeline[0].encoder": lifting})


def test_hand3d_internet():
    found = from_mmpose_config(
        CONFIGS / "hand_3d_keypoint/internet/interhand3d/internet_res50_4xb16-20e_interhand3d-256x256.py")
    hand = dict(type="Hand3DHeatmap", image_size=[256, 256], root_heatmap_size=64, heatmap_size=[64, 64, 64],
                sigma=2.5, max_bound=255, depth_size=64)
    assert_codecs(found, {"codec": hand, "model.head.decoder": hand, "train_pipeline[3].encoder": hand})


def test_imports_are_never_executed_and_poison_only_their_dependents():
    found = from_mmpose_config(CONFIGS / "edge_cases/td-hm_res50_torch-imports_coco-256x192.py")
    assert_codecs(found, {"codec": MSRA, "model.head.decoder": MSRA})
    assert set(found.unresolved) == {
        "num_gpus", "work_dir", "optim_wrapper.optimizer.lr", "model.backbone.norm_eval",
        "model.head.final_layer.act", "val_pipeline"}
    assert "torch.cuda.device_count" in found.unresolved["num_gpus"]
    assert "make_pipeline" in found.unresolved["val_pipeline"]


# ---------------------------------------------------------------- inputs
def test_text_path_and_pathlike():
    found = load_text(MSRA_TEXT)
    assert found.source == "<text>"
    assert_codecs(found, {"codec": MSRA})
    assert found.decoder_key == "codec"  # no model, one codec
    path = BODY / "topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py"
    assert list(from_mmpose_config(str(path))) == list(from_mmpose_config(path))


def test_text_with_bases_needs_base_dir(tmp_path):
    write(tmp_path, "_base_/runtime.py", "backend_args = None\nsigma = 3\n")
    text = "_base_ = ['_base_/runtime.py']\n" + MSRA_TEXT.replace("sigma=2", "sigma={{_base_.sigma}}")
    with pytest.raises(MMPoseConfigError, match="base_dir"):
        load_text(text)
    assert_codecs(load_text(text, base_dir=tmp_path), {"codec": {**MSRA, "sigma": 3}})
    quoted = text.replace("sigma={{_base_.sigma}}", "sigma='{{ _base_.sigma }}'")
    assert_codecs(load_text(quoted, base_dir=str(tmp_path)), {"codec": {**MSRA, "sigma": 3}})


def test_missing_file_and_syntax_error(tmp_path):
    with pytest.raises(MMPoseConfigError, match="no config file"):
        from_mmpose_config(tmp_path / "nothing.py")
    bad = write(tmp_path, "bad.py", "codec = dict(\n  type='MSRAHeatmap',,\n)\n")
    with pytest.raises(MMPoseConfigError, match=r"bad\.py, line 2: invalid Python"):
        from_mmpose_config(bad)
    with pytest.raises(TypeError, match="path or config text"):
        from_mmpose_config(42)


# ---------------------------------------------------------------- errors
def test_unresolvable_name_names_it_the_file_and_the_line(tmp_path):
    path = write(tmp_path, "cfg.py", """\
        input_size = (192, 256)
        codec = dict(
            type='MSRAHeatmap',
            input_size=input_size,
            heatmap_size=(48, 64),
            sigma=my_sigma)
        """)
    with pytest.raises(MMPoseConfigError) as info:
        from_mmpose_config(path)
    message = str(info.value)
    assert "name 'my_sigma' is not defined" in message
    assert f"{path}, line 6" in message and "'codec'" in message


def test_unresolvable_value_in_a_base_file(tmp_path):
    write(tmp_path, "_base_/base.py", "import math\n\nsigma = math.sqrt(4)\n")
    child = write(tmp_path, "child.py", "_base_ = './_base_/base.py'\n" +
                  MSRA_TEXT.replace("sigma=2", "sigma={{_base_.sigma}}"))
    with pytest.raises(MMPoseConfigError) as info:
        from_mmpose_config(child)
    assert "math.sqrt" in str(info.value) and f"{tmp_path / '_base_/base.py'}, line 3" in str(info.value)


def test_no_codec(tmp_path):
    path = write(tmp_path, "cfg.py", "model = dict(type='TopdownPoseEstimator', head=dict(decoder=foo()))\n")
    with pytest.raises(MMPoseConfigError, match="holds no codec configuration.*model.head.decoder"):
        from_mmpose_config(path)
    found = from_mmpose_config(path, strict=False)
    assert len(found) == 0 and "model.head.decoder" in found.unresolved
    with pytest.raises(MMPoseConfigError, match="names no decoder"):
        found.decoder


def test_unknown_argument_and_strict_false():
    text = MSRA_TEXT + "other = dict(type='UDPHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigmaa=2)\n"
    with pytest.raises(MMPoseConfigError, match=r"UDPHeatmap codec at 'other' \(written at line 2\) cannot be "
                                                r"built: .*sigmaa"):
        load_text(text)
    found = load_text(text, strict=False)
    assert list(found) == ["codec"] and list(found.errors) == ["other"]
    assert "sigmaa" in found.errors["other"]


def test_imported_value_in_a_codec_is_an_error():
    text = "import torch\n" + MSRA_TEXT.replace("sigma=2", "sigma=torch.tensor(2.0)")
    with pytest.raises(MMPoseConfigError, match=r"'torch\.tensor'.*imported at <text>, line 1"):
        load_text(text)
    text = "from numpy import float32\n" + MSRA_TEXT.replace("sigma=2", "sigma=2, dtype=float32")
    with pytest.raises(MMPoseConfigError, match="argument 'dtype' is the imported name 'numpy.float32'"):
        load_text(text)


@pytest.mark.parametrize("expression", [
    "__import__('os').system('touch {marker}')",
    "open('{marker}', 'w').write('x')",
    "exec(\"open('{marker}', 'w')\")",
    "eval(\"open('{marker}', 'w')\")",
    "[c for c in ().__class__.__base__.__subclasses__()]",
    "getattr('', '__class__')",
    "(lambda: open('{marker}', 'w'))()",
    "print('{marker}')",
    "'{{0.__class__}}'.format(1)",
    "dict(a=1).__class__",
    "codec.__class__",
])
def test_nothing_is_executed(tmp_path, expression):
    marker = tmp_path / "marker"
    expression = expression.format(marker=marker)
    text = MSRA_TEXT + f"value = {expression}\n{expression}\n" + \
        f"bad = dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma={expression})\n"
    with pytest.raises(MMPoseConfigError, match=r"'bad' \(written at line 4\).*\(<text>, line 4\)"):
        load_text(text)
    found = load_text(text, strict=False)
    assert list(found) == ["codec"] and "value" in found.unresolved and list(found.errors) == ["bad"]
    assert not marker.exists()


@pytest.mark.parametrize("expression", ["10 ** 10 ** 10", "list(range(10 ** 9))", "'a' * 10 ** 9",
                                        "[0] * 10 ** 8", "[i for i in range(10 ** 9)]",
                                        " + ".join(["1"] * 800), "'%999999999s' % 'x'",
                                        "'a'.zfill(10 ** 9)", "('a' * 1000).replace('', 'b' * 5000)",
                                        "[[0] * 10 ** 6 for i in range(2)][0] + [1]",
                                        "'-'.join(['x' * 10 ** 6] * 2)"])
def test_expensive_values_are_refused_quickly(expression):
    started = time.perf_counter()
    found = load_text(MSRA_TEXT + f"value = {expression}\n")
    assert list(found) == ["codec"] and "value" in found.unresolved
    assert time.perf_counter() - started < 10


def test_too_deep_to_parse():
    with pytest.raises(MMPoseConfigError, match="nested too deeply"):
        load_text(MSRA_TEXT + "value = " + " + ".join(["1"] * 100_000) + "\n")
    with pytest.raises(MMPoseConfigError, match="nested too deeply"):
        load_text(MSRA_TEXT + "value = []\nfor i in range(100_000):\n    value = [value]\n")


def test_growing_loops_are_refused():
    found = load_text(MSRA_TEXT + "value = [0] * 1000\nfor i in range(100):\n    value += value\n"
                      "other = []\nfor i in range(10 ** 6):\n    other.append(i)\n")
    assert list(found) == ["codec"] and {"value", "other"} <= set(found.unresolved)
    assert "loops run more than" in found.unresolved["other"]
    with pytest.raises(MMPoseConfigError, match="builds more than 5000000 container items"):
        load_text(MSRA_TEXT + "value = [[0] * 10 ** 6 for i in range(10)]\n")


def test_circular_and_duplicate_bases(tmp_path):
    write(tmp_path, "a.py", "_base_ = './b.py'\n")
    write(tmp_path, "b.py", "_base_ = './a.py'\n")
    with pytest.raises(MMPoseConfigError, match="in a circle"):
        from_mmpose_config(tmp_path / "a.py")
    write(tmp_path, "c.py", "sigma = 2\n")
    write(tmp_path, "d.py", "sigma = 3\n")
    write(tmp_path, "e.py", "_base_ = ['./c.py', './d.py']\n" + MSRA_TEXT)
    with pytest.raises(MMPoseConfigError, match="both define sigma"):
        from_mmpose_config(tmp_path / "e.py")
    write(tmp_path, "f.py", "_base_ = ['./missing.py']\n" + MSRA_TEXT)
    with pytest.raises(MMPoseConfigError, match=r"f\.py, line 1: cannot find the _base_ file './missing.py'"):
        from_mmpose_config(tmp_path / "f.py")


# ------------------------------------------------------ MMEngine semantics
def test_merge_and_delete(tmp_path):
    write(tmp_path, "base.py", """\
        codec = dict(type='UDPHeatmap', input_size=(192, 256), heatmap_size=(48, 64),
                     heatmap_type='combined', radius_factor=0.05)
        model = dict(head=dict(decoder=codec, in_channels=32))
        """)
    merged = write(tmp_path, "merged.py", "_base_ = './base.py'\ncodec = dict(radius_factor=0.1)\n")
    replaced = write(tmp_path, "replaced.py", """\
        _base_ = './base.py'
        codec = dict(_delete_=True, type='UDPHeatmap', input_size=(192, 256), heatmap_size=(48, 64))
        model = dict(head=dict(decoder=dict(sigma=3)))
        """)
    combined = dict(type="UDPHeatmap", input_size=(192, 256), heatmap_size=(48, 64),
                    heatmap_type="combined", radius_factor=0.05)
    assert_codecs(from_mmpose_config(merged), {
        "codec": {**combined, "radius_factor": 0.1}, "model.head.decoder": combined})
    assert_codecs(from_mmpose_config(replaced), {
        "codec": dict(type="UDPHeatmap", input_size=(192, 256), heatmap_size=(48, 64)),
        "model.head.decoder": {**combined, "sigma": 3}})


def test_merge_into_leaves_its_inputs_alone():
    base = ConfigDict(a=dict(b=1, c=dict(d=2)), e=[1])
    child = ConfigDict(a=dict(c=dict(d=3), f=4), e=dict(_delete_=True, g=5))
    assert merge_into(child, base) == {"a": {"b": 1, "c": {"d": 3}, "f": 4}, "e": {"g": 5}}
    assert base == {"a": {"b": 1, "c": {"d": 2}}, "e": [1]}
    assert child["e"] == {"_delete_": True, "g": 5}


def test_package_bases_and_read_base_imports(tmp_path):
    checkout = tmp_path / "checkout"
    write(checkout, "configs/_base_/runtime.py", "sigma = 3\n")
    write(checkout, "mypose/configs/_base_/runtime.py", "sigma = 4\nheatmap = (48, 64)\n")
    old = write(tmp_path, "old.py", "_base_ = ['mypose::_base_/runtime.py']\n" +
                MSRA_TEXT.replace("sigma=2", "sigma={{_base_.sigma}}"))
    new = write(tmp_path, "new.py", """\
        from mmengine.config import read_base

        with read_base():
            from mypose.configs._base_.runtime import *
            from mypose.configs._base_.runtime import sigma as base_sigma

        codec = dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=heatmap,
                     sigma=base_sigma + 1)
        """)
    with pytest.raises(MMPoseConfigError, match=r"packages=\{'mypose'"):
        from_mmpose_config(old)
    dotted = write(tmp_path, "dotted.py", "_base_ = 'json.tool::x.py'\n" + MSRA_TEXT)
    with pytest.raises(MMPoseConfigError, match="json.tool is not installed"):
        from_mmpose_config(dotted)  # found without importing anything
    packages = {"mypose": checkout}
    assert_codecs(from_mmpose_config(old, packages=packages), {"codec": {**MSRA, "sigma": 3}})
    assert_codecs(from_mmpose_config(new, packages=packages), {"codec": {**MSRA, "sigma": 5}})


def test_codec_type_forms():
    text = """\
        import mmpose.codecs as C
        from mmpose.codecs import MSRAHeatmap
        from mylib.codecs import UDPHeatmap

        size = dict(input_size=(192, 256), heatmap_size=(48, 64), sigma=2)
        a = dict(type='mmpose.MSRAHeatmap', **size)
        b = dict(type=MSRAHeatmap, **size)
        c = dict(type=C.MSRAHeatmap, _scope_='mmpose', **size)
        d = dict(type='mmdet.MSRAHeatmap', **size)
        e = dict(type=UDPHeatmap, **size)
        f = dict(type='MSRAHeatmapX', **size)
        """
    assert_codecs(load_text(text), {"a": MSRA, "b": MSRA, "c": MSRA})


def test_expressions_mmpose_configs_use():
    text = """\
        w, h = 192, 256
        stride = 2 ** 2
        sizes = dict(input_size=(w, h), heatmap_size=tuple(s // stride for s in (w, h)))
        sigmas = {k: 0.5 * k for k in range(1, 5)}
        names = [f'{k}x' for k in 'ab']
        kinds = ['MSRA', 'UDP']
        blur = [3, 5, 7, 9, 11][-1] if len(names) == 2 and not False else 0
        a = dict(type=f'{kinds[0]}Heatmap', **sizes, sigma=sigmas[4], unbiased=w < h <= 256,
                 blur_kernel_size=blur)
        b = {**a, 'sigma': max(1, min(3, round(abs(-2.6)))), 'unbiased': 'x' in names[0]}
        c = dict(b, blur_kernel_size=sum([1, 2]) * 2 + 1)
        c.update(sigma=float(int('3')))
        c.unbiased = None is None
        c['heatmap_size'] = list(c['heatmap_size'])[::-1][::-1]
        del c['blur_kernel_size']
        stages = []
        for i, (k, v) in enumerate(zip([3, 5], 'xy')):
            if i == 0:
                continue
            stages.append(dict(a, blur_kernel_size=k, sigma=1.0 + i))
        else:
            stages += [dict(a, sigma=2 * 3.5 - 6)]
        d = stages
        e = dict(a.get('type'), input_size=a['input_size'], heatmap_size=(48, 64)) if False else a.copy()
        """
    base = dict(type="MSRAHeatmap", input_size=(192, 256), heatmap_size=(48, 64))
    a = {**base, "sigma": 2.0, "unbiased": True, "blur_kernel_size": 11}
    b = {**a, "sigma": 3, "unbiased": True}
    c = {**base, "sigma": 3.0, "unbiased": True, "heatmap_size": [48, 64]}
    found = load_text(text)
    stages = [{**a, "blur_kernel_size": 5, "sigma": 2.0}, {**a, "sigma": 1.0}]
    assert_codecs(found, {"a": a, "b": b, "c": c, "stages[0]": stages[0], "stages[1]": stages[1],
                          "d[0]": stages[0], "d[1]": stages[1], "e": a})
    assert not found.unresolved


def test_distinct_mapping_and_decoder_choice():
    found = load_text(MSRA_TEXT + "model = dict(head=dict(decoder=codec), "
                                  "aux_head=dict(decoder=dict(codec, sigma=3)))\n")
    assert len(found) == 3 and "codec" in found and found["codec"] is found["model.head.decoder"]
    with pytest.raises(KeyError, match="no codec at 'model.decoder'.*model.head.decoder"):
        found["model.decoder"]
    with pytest.raises(MMPoseConfigError, match="2 different decoders"):
        found.decoder
    assert "MSRAHeatmap" in repr(found)
    two = load_text(MSRA_TEXT + "other = dict(codec, sigma=3)\n")
    with pytest.raises(MMPoseConfigError, match="not exactly one codec"):
        two.decoder
    assert [keys for keys, _ in two.distinct()] == [("codec",), ("other",)]
