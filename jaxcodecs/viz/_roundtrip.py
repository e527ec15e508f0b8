"""The round-trip picture: a summed map target beside true vs decoded keypoints."""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

import numpy as np

from jaxcodecs.viz._common import (
    DECODED_COLORS as _DECODED_COLORS,
    DECODED_MARKERS as _DECODED_MARKERS,
    TRUE_COLOR as _TRUE_COLOR,
    default_skeleton as _default_skeleton,
    draw_skeleton as _draw_skeleton,
    pyplot as _pyplot,
    summed_heatmap,
)

__all__ = ["plot_round_trip", "plot_round_trips"]


def _as_decoded(keypoints_decoded: Any) -> dict[str, np.ndarray]:
    if isinstance(keypoints_decoded, Mapping):
        return {str(k): np.asarray(v, np.float32)[..., :2] for k, v in keypoints_decoded.items()}
    return {"decoded": np.asarray(keypoints_decoded, np.float32)[..., :2]}


def _draw_panel_pair(
    ax_map,
    ax_points,
    codec_name: str,
    heatmap: np.ndarray | None,
    keypoints_true: np.ndarray,
    decoded: dict[str, np.ndarray],
    input_size: Sequence[int],
    visible: np.ndarray,
    skeleton: Sequence[tuple[int, int]],
    heatmap_scale: Sequence[float] | None,
    error_magnification: float,
) -> None:
    width, height = (float(v) for v in input_size)
    shown = visible > 0
    # Left: the summed target, stretched over the input so that keypoints overlay it.
    if heatmap is not None:
        rows, cols = heatmap.shape
        sx, sy = heatmap_scale if heatmap_scale is not None else (width / cols, height / rows)
        ax_map.imshow(
            heatmap,
            cmap="magma",
            extent=(-0.5 * sx, (cols - 0.5) * sx, (rows - 0.5) * sy, -0.5 * sy),
            interpolation="nearest",
        )
        ax_map.set_title(f"{codec_name}\nsummed target ({cols}x{rows})", fontsize=8)
    else:
        ax_map.set_facecolor("0.15")
        ax_map.text(0.5, 0.5, "target is not a map", color="w", ha="center", va="center",
                    transform=ax_map.transAxes, fontsize=8)
        ax_map.set_title(f"{codec_name}\ntarget", fontsize=8)
    _draw_skeleton(ax_map, keypoints_true, shown, skeleton, color=_TRUE_COLOR, lw=0.8, alpha=0.7)
    ax_map.scatter(*keypoints_true[shown].T, s=6, c=_TRUE_COLOR, lw=0)

    # Right: true keypoints and skeleton against each decoded set.
    _draw_skeleton(ax_points, keypoints_true, shown, skeleton, color=_TRUE_COLOR, lw=1.5)
    ax_points.scatter(*keypoints_true[shown].T, s=30, facecolors="none", edgecolors=_TRUE_COLOR,
                      lw=1.2, label="true", zorder=3)
    if (~shown).any():
        ax_points.scatter(*keypoints_true[~shown].T, s=30, facecolors="none", edgecolors="0.6",
                          lw=1.0, ls=":", label="true, invisible", zorder=3)
    errors = []
    for i, (label, points) in enumerate(decoded.items()):
        color = _DECODED_COLORS[i % len(_DECODED_COLORS)]
        _draw_skeleton(ax_points, points, shown, skeleton, color=color, lw=0.7, ls="--")
        ax_points.scatter(*points[shown].T, s=28, c=color, marker=_DECODED_MARKERS[i % 4],
                          lw=1.2, label=label, zorder=4)
        # Sub-pixel errors are invisible at this scale: draw them magnified.
        delta = np.nan_to_num(points[shown] - keypoints_true[shown]) * error_magnification
        ax_points.quiver(*keypoints_true[shown].T, *delta.T, angles="xy", scale_units="xy",
                         scale=1, color=color, width=0.006, alpha=0.8, zorder=5)
        distance = np.linalg.norm(points[shown] - keypoints_true[shown], axis=-1)
        if distance.size:
            errors.append(f"{label} {distance.mean():.2f} / {distance.max():.2f}")
    ax_points.set_title(
        f"error px, mean / max (arrows x{error_magnification:g})\n" + ",  ".join(errors), fontsize=7
    )
    ax_points.legend(fontsize=6, loc="lower right", framealpha=0.7)
    for ax in (ax_map, ax_points):
        ax.set_xlim(-0.5, width - 0.5)
        ax.set_ylim(height - 0.5, -0.5)
        ax.set_aspect("equal")
        ax.tick_params(labelsize=6)


def plot_round_trips(
    path: str | os.PathLike,
    panels: Sequence[Mapping[str, Any]],
    *,
    columns: int = 3,
    title: str | None = None,
    dpi: int = 110,
) -> str:
    """Writes a grid of round-trip pictures, two axes per panel, to ``path``.

    Args:
      path: the image file (the format follows its suffix, e.g. ``.png``).
      panels: one mapping per picture with the arguments of
        :func:`plot_round_trip` (``codec_name``, ``heatmaps``,
        ``keypoints_true``, ``keypoints_decoded``, ``input_size`` and
        optionally ``visible``, ``skeleton``, ``heatmap_scale``,
        ``error_magnification``).
      columns: panel pairs per figure row.
      title: the figure title.
      dpi: resolution.

    Returns:
      ``path`` as a string.
    """
    plt = _pyplot()
    if not panels:
        raise ValueError("plot_round_trips: `panels` is empty.")
    columns = max(1, min(columns, len(panels)))
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, 2 * columns, figsize=(5.6 * columns, 3.9 * rows + 0.5), squeeze=False)
    for ax in axes.flat:
        ax.set_visible(False)
    for index, panel in enumerate(panels):
        r, c = divmod(index, columns)
        ax_map, ax_points = axes[r, 2 * c], axes[r, 2 * c + 1]
        ax_map.set_visible(True)
        ax_points.set_visible(True)
        true = np.asarray(panel["keypoints_true"], np.float32)[..., :2]
        num_keypoints = true.shape[0]
        visible = panel.get("visible")
        visible = np.ones(num_keypoints) if visible is None else np.asarray(visible, np.float32)
        skeleton = panel.get("skeleton")
        _draw_panel_pair(
            ax_map,
            ax_points,
            str(panel["codec_name"]),
            summed_heatmap(panel.get("heatmaps"), num_keypoints),
            true,
            _as_decoded(panel["keypoints_decoded"]),
            panel["input_size"],
            visible,
            _default_skeleton(num_keypoints) if skeleton is None else skeleton,
            panel.get("heatmap_scale"),
            float(panel.get("error_magnification", 10.0)),
        )
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=dpi)
    plt.close(fig)
    return os.fspath(path)


def plot_round_trip(
    path: str | os.PathLike,
    codec_name: str,
    heatmaps: Any,
    keypoints_true: Any,
    keypoints_decoded: Any,
    input_size: Sequence[int],
    *,
    visible: Any = None,
    skeleton: Sequence[tuple[int, int]] | None = None,
    heatmap_scale: Sequence[float] | None = None,
    error_magnification: float = 10.0,
    title: str | None = None,
    dpi: int = 110,
) -> str:
    """Writes one round-trip picture: the summed target and true vs decoded keypoints.

    Args:
      path: the image file, e.g. ``"round_trip.png"``.
      codec_name: shown in the title, e.g. ``"MSRAHeatmap sigma=2"``.
      heatmaps: one sample's target ``(K, H, W)`` (see :func:`summed_heatmap`
        for other layouts), or ``None`` for targets that are not maps.
      keypoints_true: ``(K, 2)`` input pixels.
      keypoints_decoded: ``(K, 2)`` input pixels, or a mapping
        ``{label: (K, 2)}`` to compare several decodes (e.g. both modes).
      input_size: ``(w, h)`` of the model input.
      visible: ``(K,)``; invisible keypoints are drawn grey and left out of
        the skeleton and the errors. Default: all visible.
      skeleton: index pairs to join; default COCO-17's when ``K == 17``.
      heatmap_scale: input pixels per heatmap pixel ``(sx, sy)`` (a codec's
        ``scale_factor``); default ``input_size / heatmap_size``.
      error_magnification: the decoding errors are drawn as arrows this many
        times their length.
      title: the figure title.
      dpi: resolution.

    Returns:
      ``path`` as a string.

    Raises:
      MissingMatplotlibError: matplotlib is not installed.
    """
    panel = dict(
        codec_name=codec_name,
        heatmaps=heatmaps,
        keypoints_true=keypoints_true,
        keypoints_decoded=keypoints_decoded,
        input_size=input_size,
        visible=visible,
        skeleton=skeleton,
        heatmap_scale=heatmap_scale,
        error_magnification=error_magnification,
    )
    return plot_round_trips(path, [panel], columns=1, title=title, dpi=dpi)
