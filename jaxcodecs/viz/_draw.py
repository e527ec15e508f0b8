"""Drawing a :class:`~jaxcodecs.viz.Panel`: one grid cell per codec sample,
split into the axes its kind needs (matplotlib, imported lazily)."""

from __future__ import annotations

import dataclasses
import os
import textwrap
from typing import Sequence

import numpy as np

from jaxcodecs.viz._common import (
    DECODED_COLORS, DECODED_MARKERS, PERSON_COLORS, TRUE_COLOR, draw_skeleton, pyplot,
)
from jaxcodecs.viz._panels import Panel

__all__ = ["draw_panel", "panel_figure", "person_keypoints_shown", "plot_panels"]

_CELL = (5.8, 4.0)  # inches per panel


def _image_axes(ax, size) -> None:
    width, height = size
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(height - 0.5, -0.5)
    ax.set_aspect("equal")
    ax.tick_params(labelsize=6)


def _show_map(ax, heatmap, scale, cmap="magma") -> None:
    rows, cols = heatmap.shape
    sx, sy = (float(v) for v in scale)
    ax.imshow(heatmap, cmap=cmap, extent=(-0.5 * sx, (cols - 0.5) * sx, (rows - 0.5) * sy, -0.5 * sy),
              interpolation="nearest")


def _truth(ax, panel: Panel, lw=0.8, size=6, alpha=0.7) -> None:
    shown = panel.visible > 0
    draw_skeleton(ax, panel.truth[:, :2], shown, panel.skeleton, color=TRUE_COLOR, lw=lw, alpha=alpha)
    ax.scatter(*panel.truth[shown, :2].T, s=size, c=TRUE_COLOR, lw=0, zorder=3)


def _valid_people(decoded: dict) -> np.ndarray:
    """The decoded people ``(P, K, 2)``, valid rows only (all rows without ``valid``)."""
    points = np.asarray(decoded.get("keypoints", np.zeros((0, 0, 2))), np.float32)
    if points.ndim == 2:
        points = points[None]
    valid = decoded.get("valid")
    return points[np.asarray(valid, bool)] if valid is not None else points


def person_keypoints_shown(decoded: dict) -> np.ndarray:
    """``(P, K)``: the valid people's keypoints with a positive score (a
    keypoint the grouping did not find decodes to a score of 0 and a
    placeholder position); all of them when the decode gives no scores."""
    people = _valid_people(decoded)
    scores = decoded.get("keypoint_scores", decoded.get("scores"))
    if scores is None or np.shape(scores)[-1:] != people.shape[1:2]:
        return np.ones(people.shape[:2], bool)
    scores = np.asarray(scores).reshape(-1, people.shape[1])
    valid = decoded.get("valid")
    return (scores[np.asarray(valid, bool)] if valid is not None else scores) > 0


def _nearest(people: np.ndarray, truth: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """The person nearest to the truth ``(K, D)``, over visible keypoints."""
    if len(people) == 0:
        return np.full_like(truth, np.nan)
    people = people[..., : truth.shape[-1]]
    distance = np.linalg.norm(people - truth, axis=-1)[:, visible > 0].mean(axis=1)
    return people[int(np.argmin(np.where(np.isfinite(distance), distance, np.inf)))]


def _errors(panel: Panel) -> str:
    shown = panel.visible > 0
    parts = []
    for label, decoded in panel.decoded.items():
        best = _nearest(_valid_people(decoded), panel.truth, panel.visible)
        distance = np.linalg.norm(best[shown] - panel.truth[shown], axis=-1)
        if distance.size:
            parts.append(f"{label} {np.nanmean(distance):.2f}/{np.nanmax(distance):.2f}")
    return "error px mean/max: " + ", ".join(parts) if parts else "nothing decoded"


def _round_trip(ax, panel: Panel, magnification: float = 10.0) -> None:
    """True keypoints and skeleton against each decode's nearest person, errors as magnified arrows."""
    shown = panel.visible > 0
    truth = panel.truth[:, :2]
    draw_skeleton(ax, truth, shown, panel.skeleton, color=TRUE_COLOR, lw=1.5)
    ax.scatter(*truth[shown].T, s=30, facecolors="none", edgecolors=TRUE_COLOR, lw=1.2, label="true", zorder=3)
    for i, (label, decoded) in enumerate(panel.decoded.items()):
        color = DECODED_COLORS[i % len(DECODED_COLORS)]
        points = _nearest(_valid_people(decoded), panel.truth, panel.visible)[:, :2]
        draw_skeleton(ax, points, shown, panel.skeleton, color=color, lw=0.7, ls="--")
        ax.scatter(*points[shown].T, s=28, c=color, marker=DECODED_MARKERS[i % 4], lw=1.2, label=label, zorder=4)
        delta = np.nan_to_num(points[shown] - truth[shown]) * magnification
        ax.quiver(*truth[shown].T, *delta.T, angles="xy", scale_units="xy", scale=1, color=color,
                  width=0.006, alpha=0.8, zorder=5)
    ax.set_title(f"round trip (error arrows x{magnification:g})\n{_errors(panel)}", fontsize=7)
    ax.legend(fontsize=6, loc="lower right", framealpha=0.7)
    _image_axes(ax, panel.input_size)


def _people(ax, panel: Panel) -> None:
    """Each valid decoded person of the first decode in its own colour, over the annotated people."""
    label, decoded = next(iter(panel.decoded.items()))
    for person, vis in zip(panel.data["people"], panel.data["people_visible"]):
        ax.scatter(*person[vis > 0].T, s=40, facecolors="none", edgecolors="0.6", lw=1.0, zorder=2)
    people, scored = _valid_people(decoded), person_keypoints_shown(decoded)
    for n, (person, shown) in enumerate(zip(people, scored)):
        color = PERSON_COLORS[n % len(PERSON_COLORS)]
        draw_skeleton(ax, person, shown, panel.skeleton, color=color, lw=1.2)
        ax.scatter(*person[shown, :2].T, s=14, c=color, zorder=4, label=f"person {n}")
    ax.set_title(f"{label}: {len(people)} people decoded (valid rows)\n{_errors(panel)}", fontsize=7)
    if len(people):
        ax.legend(fontsize=6, loc="lower right", framealpha=0.7)
    _image_axes(ax, panel.input_size)


def _boxes(ax, boxes, people, visible, style: str, label: str) -> None:
    from matplotlib.patches import Rectangle

    for n, (box, person) in enumerate(zip(boxes, people)):
        color = PERSON_COLORS[n % len(PERSON_COLORS)]
        x1, y1, x2, y2 = (float(v) for v in box)
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, ec=color, lw=1.4, ls=style,
                               label=f"{label} {n}"))
        shown = visible[n] > 0 if visible is not None else np.ones(len(person), bool)
        ax.scatter(*person[shown].T, s=10, c=color, zorder=4)


def _heatmap_kind(fig, spec, panel: Panel) -> list:
    ax_map, ax_rt = (fig.add_subplot(s) for s in spec.subgridspec(1, 2, wspace=0.15))
    data = panel.data
    what = {"heatmap": "summed heatmaps", "offsets": "class maps, offsets (arrows)",
            "points": "regression labels x (w, h)"}[panel.kind]
    if data.get("heatmap") is not None:
        _show_map(ax_map, data["heatmap"], data["scale"])
        what += f" {data['heatmap'].shape[1]}x{data['heatmap'].shape[0]}"
    else:
        ax_map.set_facecolor("0.95")
    _truth(ax_map, panel)
    if "arrows" in data:
        origins, vectors = data["arrows"]
        ax_map.quiver(*origins.T, *vectors.T, angles="xy", scale_units="xy", scale=1, color="#4dd0e1",
                      width=0.004, alpha=0.9, zorder=4)
        what += f", {len(origins)} arrows"
    if "label_points" in data:
        shown = panel.visible > 0
        ax_map.scatter(*data["label_points"][shown].T, s=22, marker="D", facecolors="none",
                       edgecolors="#ff7f0e", lw=1.0, zorder=5, label="labels")
        if panel.kind == "heatmap":
            what += " + labels (diamonds)"
    ax_map.set_title(f"{panel.title}\n{what}", fontsize=7)
    _image_axes(ax_map, panel.input_size)
    _round_trip(ax_rt, panel)
    return [ax_map, ax_rt]


def _simcc(fig, spec, panel: Panel) -> list:
    outer = spec.subgridspec(1, 2, wspace=0.15)
    grid = outer[0].subgridspec(2, 2, width_ratios=(4, 1.2), height_ratios=(1.2, 4), wspace=0.05, hspace=0.05)
    ax_img, ax_x, ax_y = fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[1, 1])
    ratio = panel.data["split_ratio"]
    _truth(ax_img, panel)
    _image_axes(ax_img, panel.input_size)
    shown = np.nonzero(panel.visible > 0)[0]
    for k in shown:
        color = pyplot().cm.tab20(k % 20)
        x_label, y_label = panel.data["x_labels"][k], panel.data["y_labels"][k]
        ax_x.plot(np.arange(len(x_label)) / ratio, x_label, color=color, lw=0.8)
        ax_y.plot(y_label, np.arange(len(y_label)) / ratio, color=color, lw=0.8)
    ax_x.set_xlim(ax_img.get_xlim())
    ax_y.set_ylim(ax_img.get_ylim())
    ax_x.set_title(f"{panel.title}\nx / y label distributions (1/{ratio:g} px bins)", fontsize=7)
    for ax in (ax_x, ax_y):
        ax.tick_params(labelsize=5, labelbottom=ax is ax_y, labelleft=ax is ax_x)
    ax_rt = fig.add_subplot(outer[1])
    _round_trip(ax_rt, panel)
    return [ax_img, ax_x, ax_y, ax_rt]


def _lifting(fig, spec, panel: Panel) -> list:
    grid = spec.subgridspec(1, 2, wspace=0.1)
    ax_2d = fig.add_subplot(grid[0])
    shown = panel.visible > 0
    points = panel.data["input_2d"]
    draw_skeleton(ax_2d, points, shown, panel.skeleton, color="0.3", lw=1.2)
    ax_2d.scatter(*points[shown].T, s=12, c="0.2", zorder=3)
    ax_2d.set_title(f"{panel.title}\n2-D input (pixels)", fontsize=7)
    ax_2d.invert_yaxis()
    ax_2d.set_aspect("equal")
    ax_2d.tick_params(labelsize=6)
    ax_3d = fig.add_subplot(grid[1], projection="3d")

    def pose(points3, color, label, **style):
        # Depth recedes, image y points down: plot (x, depth, -y) so the pose stands up.
        xyz = np.stack([points3[:, 0], points3[:, 2], -points3[:, 1]], -1)
        draw_skeleton(ax_3d, xyz, shown, panel.skeleton, color=color, **style)
        ax_3d.scatter(*xyz[shown].T, s=8, color=color, label=label)

    pose(panel.truth, TRUE_COLOR, "true", lw=1.5)
    for i, (label, decoded) in enumerate(panel.decoded.items()):
        best = _nearest(_valid_people(decoded), panel.truth, panel.visible)
        pose(best, DECODED_COLORS[i % len(DECODED_COLORS)], label, lw=0.8, ls="--")
    # One scale on all three axes, or the pose is stretched.
    xyz = np.stack([panel.truth[:, 0], panel.truth[:, 2], -panel.truth[:, 1]], -1)[shown]
    centre, half = (xyz.max(0) + xyz.min(0)) / 2, max(float(np.ptp(xyz, axis=0).max()) / 2, 1e-6)
    ax_3d.set_xlim(centre[0] - half, centre[0] + half)
    ax_3d.set_ylim(centre[1] - half, centre[1] + half)
    ax_3d.set_zlim(centre[2] - half, centre[2] + half)
    ax_3d.view_init(elev=12, azim=-75)  # nearly the camera's view, depth still readable
    ax_3d.set_xlabel("x", fontsize=6)
    ax_3d.set_ylabel("depth", fontsize=6)
    ax_3d.set_zlabel("-y", fontsize=6)
    ax_3d.tick_params(labelsize=5)
    ax_3d.legend(fontsize=6, loc="upper right")
    ax_3d.set_title("3-D pose\n" + _errors(panel).replace("px", ""), fontsize=7)
    return [ax_2d, ax_3d]


def _volume(fig, spec, panel: Panel) -> list:
    volume = panel.data["volume"]  # (D, H, W)
    axes = [fig.add_subplot(s) for s in spec.subgridspec(1, 3, wspace=0.3)]
    views = (("xy (max over depth)", volume.max(axis=0), "x", "y"),
             ("xz (max over y)", volume.max(axis=1), "x", "depth"),
             ("yz (max over x)", volume.max(axis=2), "y", "depth"))
    for ax, (name, image, horizontal, vertical) in zip(axes, views):
        ax.imshow(image, cmap="magma", interpolation="nearest", origin="upper")
        ax.set_title(name, fontsize=7)
        ax.set_xlabel(horizontal, fontsize=6)
        ax.set_ylabel(vertical, fontsize=6)
        ax.tick_params(labelsize=5)
    axes[1].set_title(f"{panel.title}: volume {volume.shape[2]}x{volume.shape[1]}x{volume.shape[0]}\n"
                      f"{views[1][0]}\n{_errors(panel).replace('px', '')}", fontsize=7)
    return axes


def _bottom_up(fig, spec, panel: Panel) -> list:
    data = panel.data
    if panel.kind == "instances":
        blocks = data["blocks"]
        grid = spec.subgridspec(1, 3, width_ratios=(2, 0.7, 2), wspace=0.12)
        ax_map, ax_people = fig.add_subplot(grid[0]), fig.add_subplot(grid[2])
        block_axes = [fig.add_subplot(s) for s in grid[1].subgridspec(max(len(blocks), 1), 1, hspace=0.3)]
        for n, (ax, block) in enumerate(zip(block_axes, blocks)):
            _show_map(ax, block, data["scale"], cmap="viridis")
            ax.scatter(*data["block_roots"][n], marker="+", c="w", s=20)
            ax.set_title(f"instance {n}", fontsize=6)
            ax.set_xticks([])
            ax.set_yticks([])
        what = "global heatmaps + root map"
    else:
        grid = spec.subgridspec(1, 2, wspace=0.15)
        ax_map, ax_people = fig.add_subplot(grid[0]), fig.add_subplot(grid[1])
        block_axes = []
        what = "summed heatmaps" if panel.kind == "people" else "root map, displacements (arrows)"
    _show_map(ax_map, data["heatmap"], data["scale"])
    if "arrows" in data:
        origins, vectors = data["arrows"]
        ax_map.quiver(*origins.T, *vectors.T, angles="xy", scale_units="xy", scale=1, color="#4dd0e1",
                      width=0.004, alpha=0.8, zorder=4)
        what += f": {len(origins)}"
    for person, vis in zip(data["people"], data["people_visible"]):
        ax_map.scatter(*person[vis > 0].T, s=5, c=TRUE_COLOR, lw=0, zorder=3)
    ax_map.set_title(f"{panel.title}\n{what}", fontsize=7)
    _image_axes(ax_map, panel.input_size)
    _people(ax_people, panel)
    return [ax_map, *block_axes, ax_people]


def _detection(fig, spec, panel: Panel, top: int = 3) -> list:
    ax_target, ax_out = (fig.add_subplot(s) for s in spec.subgridspec(1, 2, wspace=0.15))
    data = panel.data
    if panel.kind == "detection":
        _boxes(ax_target, data["target_boxes"], data["target_keypoints"], data["people_visible"], "-", "target")
        ax_target.set_title(f"{panel.title}\ntarget boxes and keypoints x (w, h)", fontsize=7)
        label, decoded = next(iter(panel.decoded.items()))
        boxes, points = decoded["boxes"][:top], decoded["keypoints"][:top]
        _boxes(ax_out, boxes, points, None, "-", "query")
        ax_out.set_title(f"{label}: top {len(boxes)} queries\n{_errors(panel)}", fontsize=7)
    else:
        people, vis = data["people"], data["people_visible"]
        _boxes(ax_target, data["boxes_before"], people, vis, "--", "box")
        _boxes(ax_out, data["boxes_after"], people, vis, "-", "box")
        ax_target.set_title(f"{panel.title}\nannotated boxes, keypoints", fontsize=7)
        ax_out.set_title("boxes " + ("expanded to the visible keypoints" if data["expanded"]
                                     else "unchanged (expand_bbox off)"), fontsize=7)
    for ax in (ax_target, ax_out):
        ax.legend(fontsize=5, loc="lower right", framealpha=0.7)
        _image_axes(ax, panel.input_size)
    return [ax_target, ax_out]


_DRAWERS = {"heatmap": _heatmap_kind, "offsets": _heatmap_kind, "points": _heatmap_kind, "simcc": _simcc,
            "lifting": _lifting, "volume": _volume, "people": _bottom_up, "displacements": _bottom_up,
            "instances": _bottom_up, "detection": _detection, "boxes": _detection}


def draw_panel(fig, spec, panel: Panel) -> list:
    """Draws ``panel`` into the grid cell ``spec`` (a matplotlib ``SubplotSpec``) of ``fig``.

    Returns:
      the axes drawn, in the kind's order (e.g. map then round trip).
    """
    return _DRAWERS[panel.kind](fig, spec, panel)


def panel_figure(panels: Panel | Sequence[Panel], *, columns: int = 2, title: str | None = None):
    """A matplotlib ``Figure`` of one or more panels (e.g. to show in a notebook)."""
    plt = pyplot()
    panels = [panels] if isinstance(panels, Panel) else list(panels)
    if not panels:
        raise ValueError("panel_figure: no panels.")
    columns = max(1, min(columns, len(panels)))
    rows = -(-len(panels) // columns)
    fig = plt.figure(figsize=(_CELL[0] * columns, _CELL[1] * rows + (0.4 if title else 0)))
    grid = fig.add_gridspec(rows, columns, left=0.04, right=0.98, bottom=0.04,
                            top=1 - (0.9 if title else 0.5) / (_CELL[1] * rows), wspace=0.12, hspace=0.35)
    for index, panel in enumerate(panels):
        if len(panel.title) > 40:  # long config labels wrap instead of running into the next panel
            panel = dataclasses.replace(panel, title="\n".join(textwrap.wrap(panel.title, 40)))
        draw_panel(fig, grid[divmod(index, columns)], panel)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_panels(path: str | os.PathLike, panels: Sequence[Panel], *, columns: int = 3,
                title: str | None = None, dpi: int = 100) -> str:
    """Writes :func:`panel_figure` of ``panels`` to ``path``; returns it as a string."""
    plt = pyplot()
    fig = panel_figure(panels, columns=columns, title=title)
    fig.savefig(os.fspath(path), dpi=dpi)
    plt.close(fig)
    return os.fspath(path)
