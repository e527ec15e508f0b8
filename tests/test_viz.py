"""Tests of jaxcodecs.viz: every registered codec gets a picture of its kind,
drawn from its example batch, and the picture shows what the target holds
(points, curves, arrows, people, boxes), checked against the batch."""

import subprocess
import sys

from typing import NamedTuple

import jax
import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib", reason="optional dependency; the test extra installs it and test_optional_dependencies.py fails where that extra is incomplete")
matplotlib.use("Agg")

import jaxcodecs  # noqa: E402
from jaxcodecs import cli, examples, viz  # noqa: E402
from jaxcodecs.viz._common import PERSON_COLORS  # noqa: E402

from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from matplotlib.quiver import Quiver  # noqa: E402


def _cases():
    """(name, config index) of every registered codec, one config per kind of
    picture (told apart by the encoded keys and shapes, traced, not run)."""
    cases = []
    for name in jaxcodecs.list_codecs():
        kinds = set()
        for i, config in enumerate(examples.get_examples(name).configs):
            codec = jaxcodecs.get_codec_class(name)(**config)
            batch = examples.example_batch(codec, 1)
            shapes = jax.eval_shape(lambda *a: codec.batch_encode(*a, **batch.encode_kwargs), *batch.encode_args)
            channels = shapes["heatmaps"].shape[1] if "heatmaps" in shapes else None
            kind = viz.panel_kind(codec, list(shapes), batch.keypoints.shape[1], channels)
            if kind not in kinds:
                kinds.add(kind)
                cases.append((name, i))
    return cases


CASES = _cases()


class Built(NamedTuple):
    codec: object
    batch: object
    encoded: dict
    decoded: object
    panel: viz.Panel
    axes: list


@pytest.fixture(scope="module")
def built():
    """``{(name, i): Built}``: one sample encoded and decoded (jitted), its panel drawn once."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out = {}
    for name, i in CASES:
        codec = jaxcodecs.get_codec_class(name)(**examples.get_examples(name).configs[i])
        batch = examples.example_batch(codec, 1, seed=3)
        encoded = jax.jit(codec.batch_encode)(*batch.encode_args, **batch.encode_kwargs)
        decoded = jax.jit(codec.batch_decode)(*batch.decode_args, **batch.decode_kwargs)
        panel = viz.make_panel(codec, batch, encoded, decoded, title=f"{name} {i}")
        fig = Figure(figsize=(6, 4))
        FigureCanvasAgg(fig)
        axes = viz.draw_panel(fig, fig.add_gridspec(1, 1)[0], panel)
        fig.canvas.draw()  # renders everything with Agg: any drawing error shows here
        out[name, i] = Built(codec, batch, encoded, decoded, panel, axes)
    return out


def _of_kind(built, kind):
    found = [v for v in built.values() if v.panel.kind == kind]
    assert found, f"no registered codec draws a {kind!r} panel"
    return found


def _scatter_points(ax):
    return [c.get_offsets() for c in ax.collections if isinstance(c, PathCollection)]


def test_every_registered_codec_gets_a_panel(built):
    assert {name for name, _ in built} == set(jaxcodecs.list_codecs())
    for (name, i), (_, _, _, _, panel, axes) in built.items():
        assert panel.kind in viz.KINDS, name
        assert axes and all(ax.figure is axes[0].figure for ax in axes)
        assert any(ax.has_data() for ax in axes), (name, i)


def test_kind_follows_declarations_not_names():
    class Fake:
        decode_outputs = ("keypoints", "scores")

    fake = Fake()
    assert viz.panel_kind(fake, ["heatmaps"], 17, 17) == "heatmap"
    assert viz.panel_kind(fake, ["heatmaps"], 17, 51) == "offsets"
    assert viz.panel_kind(fake, ["keypoint_x_labels", "keypoint_y_labels"]) == "simcc"
    assert viz.panel_kind(fake, ["keypoint_labels"]) == "points"
    assert viz.panel_kind(fake, ["lifting_target_label"]) == "lifting"
    fake.heatmap_size = (8, 8, 8)
    assert viz.panel_kind(fake, ["heatmaps"], 17, 136) == "volume"
    fake.decode_outputs = ("keypoints", "scores", "valid")
    assert viz.panel_kind(fake, ["heatmaps"]) == "people"
    assert viz.panel_kind(fake, ["heatmaps", "displacements"]) == "displacements"
    assert viz.panel_kind(fake, ["heatmaps", "instance_heatmaps"]) == "instances"
    fake.decode_outputs = ("boxes", "keypoints", "scores")
    assert viz.panel_kind(fake, ["bbox"]) == "detection"
    fake.decode_outputs = ()
    assert viz.panel_kind(fake, ["bbox"]) == "boxes"


def test_heatmap_panels_show_the_map_and_the_visible_keypoints(built):
    for _, batch, _, _, panel, axes in _of_kind(built, "heatmap") + _of_kind(built, "points"):
        visible = batch.visible[0] > 0
        ax_map = axes[0]
        if panel.kind == "heatmap":
            assert any(isinstance(a, AxesImage) for a in ax_map.get_children())
        shown = _scatter_points(ax_map)
        assert any(len(s) == visible.sum() and np.allclose(s, batch.keypoints[0][visible]) for s in shown)
        if "label_points" in panel.data:  # regression labels x (w, h), drawn on the keypoints
            labels = panel.data["label_points"][visible]
            assert any(len(s) == len(labels) and np.allclose(s, labels) for s in shown[1:])
            np.testing.assert_allclose(labels, batch.keypoints[0][visible], atol=1e-3)


def test_simcc_curves_peak_at_the_keypoints(built):
    for codec, batch, encoded, decoded, panel, axes in _of_kind(built, "simcc"):
        ax_img, ax_x, ax_y, _ = axes
        ratio = float(codec.simcc_split_ratio)
        visible = np.nonzero(batch.visible[0] > 0)[0]
        x_lines, y_lines = ax_x.get_lines(), ax_y.get_lines()
        assert len(x_lines) == len(y_lines) == len(visible)
        for k, x_line, y_line in zip(visible, x_lines, y_lines):
            x, y = batch.keypoints[0, k]
            # x curve: positions on the x data axis; y curve: positions on the y data axis.
            peak_x = x_line.get_xdata()[np.argmax(x_line.get_ydata())]
            peak_y = y_line.get_ydata()[np.argmax(y_line.get_xdata())]
            assert abs(peak_x * ratio - x * ratio) <= 1.0 and abs(peak_y * ratio - y * ratio) <= 1.0
        # The marginals share the image's axes.
        assert ax_x.get_xlim() == ax_img.get_xlim() and ax_y.get_ylim() == ax_img.get_ylim()


def _nearest_truth(tips, people, visible):
    points = people[visible > 0]
    return np.min(np.linalg.norm(tips[:, None] - points[None], axis=-1), axis=1)


@pytest.mark.parametrize("kind", ["offsets", "displacements"])
def test_arrows_point_at_the_keypoints(built, kind):
    for codec, _, _, _, panel, axes in _of_kind(built, kind):
        origins, vectors = panel.data["arrows"]
        quivers = [c for c in axes[0].get_children() if isinstance(c, Quiver)]
        assert len(quivers) == 1 and quivers[0].N == len(origins) > 0
        tips = origins + vectors
        people, vis = panel.data["people"], panel.data["people_visible"]
        # Subsampled: every arrow ends on an annotated keypoint, and they are fewer than the field's pixels.
        assert _nearest_truth(tips, people, vis).max() < 1e-2 * float(np.max(codec.scale_factor))
        assert len(origins) < np.prod(codec.heatmap_size) * people.shape[1]


@pytest.mark.parametrize("kind", ["people", "displacements", "instances"])
def test_bottom_up_panels_colour_each_valid_person(built, kind):
    for codec, batch, encoded, decoded, panel, axes in _of_kind(built, kind):
        names = viz.decoded_by_name(codec, decoded)
        valid = np.asarray(names["valid"])[0]
        decoded_sample = {k: np.asarray(v)[0] for k, v in names.items() if v is not None and np.ndim(v)}
        shown = viz._draw.person_keypoints_shown(decoded_sample)
        people = [c for c in axes[-1].collections if isinstance(c, PathCollection)
                  and c.get_label().startswith("person")]
        assert len(people) == valid.sum() > 0
        colours = {tuple(np.round(c.get_facecolor()[0], 3)) for c in people}
        assert len(colours) == min(len(people), len(PERSON_COLORS))
        for collection, keypoints, scored in zip(people, np.asarray(names["keypoints"])[0][valid], shown):
            assert scored.sum() >= (batch.visible[0] > 0).sum() // 2  # most of a person is found
            np.testing.assert_allclose(collection.get_offsets(), keypoints[scored])
        if kind == "instances":
            blocks = axes[1:-1]
            assert len(blocks) == min(3, int(np.asarray(encoded["instance_valid"])[0].sum()))
            assert all(any(isinstance(a, AxesImage) for a in ax.get_children()) for ax in blocks)


def test_lifting_panels_have_the_2d_input_and_3d_axes(built):
    for _, batch, _, _, panel, axes in _of_kind(built, "lifting"):
        ax_2d, ax_3d = axes
        assert ax_3d.name == "3d" and ax_2d.name != "3d"
        visible = batch.visible[0] > 0
        assert [len(s) for s in _scatter_points(ax_2d)] == [visible.sum()]
        assert len(ax_3d.collections) == 1 + len(panel.decoded)  # truth and each decode


def test_hand3d_shows_three_projections(built):
    for codec, _, _, _, panel, axes in _of_kind(built, "volume"):
        width, height, depth = codec.heatmap_size
        images = [[c for c in ax.get_children() if isinstance(c, AxesImage)] for ax in axes]
        assert [len(i) for i in images] == [1, 1, 1]
        shapes = [i[0].get_array().shape for i in images]
        assert shapes == [(height, width), (depth, width), (depth, height)]


def test_box_panels(built):
    for codec, batch, encoded, decoded, panel, axes in _of_kind(built, "detection") + _of_kind(built, "boxes"):
        rectangles = [[p for p in ax.patches if isinstance(p, Rectangle)] for ax in axes]
        people = panel.data["people"]
        assert len(rectangles[0]) == len(people)
        if panel.kind == "detection":
            decoded = viz.decoded_by_name(codec, decoded)
            assert len(rectangles[1]) == min(3, np.asarray(decoded["boxes"]).shape[1])
        else:
            assert len(rectangles[1]) == len(people)
            if panel.data["expanded"]:  # each box holds its visible keypoints
                for rect, person, vis in zip(rectangles[1], people, panel.data["people_visible"]):
                    (x1, y1), (x2, y2) = rect.get_xy(), np.add(rect.get_xy(), (rect.get_width(), rect.get_height()))
                    inside = person[vis > 0]
                    assert (inside[:, 0] >= x1 - 1e-3).all() and (inside[:, 0] <= x2 + 1e-3).all()
                    assert (inside[:, 1] >= y1 - 1e-3).all() and (inside[:, 1] <= y2 + 1e-3).all()


def test_plot_panels_writes_a_png(built, tmp_path):
    panels = [v.panel for v in built.values()][:4]
    path = viz.plot_panels(tmp_path / "p.png", panels, columns=2, title="t")
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_importing_does_not_import_matplotlib():
    code = "import sys, jaxcodecs, jaxcodecs.viz, jaxcodecs.cli; print('matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_missing_matplotlib_is_clear(built, monkeypatch):
    panel = next(iter(built.values())).panel
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(viz.MissingMatplotlibError, match="pip install matplotlib"):
        viz.panel_figure(panel)


def test_demo_draws_one_panel_per_config(monkeypatch, tmp_path):
    drawn = []
    monkeypatch.setattr(viz, "plot_panels", lambda path, panels, **kw: drawn.extend(panels) or str(path))
    names = ["SimCCLabel", "YOLOXPoseAnnotationProcessor"]
    assert cli.main(["demo", "--codecs", *names, "--num-poses", "1", "--repeats", "1",
                     "--out", str(tmp_path / "d.png")]) == 0
    configs = sum(len(examples.get_examples(n).configs) for n in names)
    assert len(drawn) == configs
    assert {p.kind for p in drawn} == {"simcc", "boxes"}
    assert all(set(p.decoded) == {"mmpose", "exact"} for p in drawn)
