"""What every picture shares: the lazy matplotlib import, colours, skeletons
and the summed map of a target. Needs NumPy only until :func:`pyplot` runs."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = [
    "DECODED_COLORS", "DECODED_MARKERS", "PERSON_COLORS", "TRUE_COLOR", "MissingMatplotlibError",
    "default_skeleton", "draw_skeleton", "pyplot", "summed_heatmap",
]

TRUE_COLOR = "#2ca02c"
DECODED_COLORS = ("#d62728", "#1f77b4", "#ff7f0e", "#9467bd")
DECODED_MARKERS = ("x", "+", "1", "2")
#: One colour per decoded person (bottom-up and one-stage codecs).
PERSON_COLORS = ("#e6194b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324", "#000075")


class MissingMatplotlibError(ImportError):
    """matplotlib is not installed; ``pip install matplotlib`` (the extra ``viz``)."""


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend; :class:`MissingMatplotlibError` without matplotlib."""
    try:
        import matplotlib
    except ImportError as error:
        raise MissingMatplotlibError(
            'jaxcodecs.viz needs matplotlib: pip install matplotlib '
            '(the extra "viz": pip install ".[viz]" in a jaxcodecs checkout).'
        ) from error
    # Agg renders to files only; switching is harmless if pyplot is not loaded yet.
    if matplotlib.get_backend().lower() != "agg" and "inline" not in matplotlib.get_backend().lower():
        try:
            matplotlib.use("Agg")
        except Exception:  # pragma: no cover - pyplot already bound to another backend
            pass
    import matplotlib.pyplot as plt

    return plt


def summed_heatmap(heatmaps: Any, num_keypoints: int | None = None) -> np.ndarray | None:
    """One ``(H, W)`` picture of a sample's map target, or ``None``.

    Args:
      heatmaps: ``(K, H, W)`` maps (summed over K); ``(C * K, H, W)`` with
        ``C`` channels per keypoint (e.g. UDP "combined": class, x / y offset)
        when ``num_keypoints`` is given, of which the first channel of each
        keypoint is summed; ``(K, D, H, W)`` volumes are max-projected over D.
        Anything else (e.g. SimCC vectors, coordinates) gives ``None``.
      num_keypoints: K, to pick the first channel per keypoint out of
        ``C * K`` channels.
    """
    if heatmaps is None:
        return None
    maps = np.asarray(heatmaps, dtype=np.float32)
    if maps.ndim == 4:
        maps = maps.max(axis=1)
    if maps.ndim != 3:
        return None
    channels = maps.shape[0]
    if num_keypoints and channels != num_keypoints and channels % num_keypoints == 0:
        maps = maps.reshape(num_keypoints, channels // num_keypoints, *maps.shape[1:])[:, 0]
    return maps.sum(axis=0)


def default_skeleton(num_keypoints: int) -> Sequence[tuple[int, int]]:
    """COCO-17's limbs when ``num_keypoints == 17``, else none."""
    if num_keypoints == 17:
        from jaxcodecs.sample import COCO17_SKELETON

        return COCO17_SKELETON
    return ()


def draw_skeleton(ax, keypoints, visible, skeleton, **style) -> None:
    """Joins the visible ends of each limb of ``keypoints (K, 2)`` (or ``(K, 3)`` on 3-D axes)."""
    for a, b in skeleton:
        if a < len(keypoints) and b < len(keypoints) and visible[a] and visible[b]:
            ax.plot(*(keypoints[[a, b], i] for i in range(keypoints.shape[-1])), **style)
