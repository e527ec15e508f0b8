"""One sample of a codec's round trip, gathered for a picture (NumPy only).

:func:`panel_kind` reads what a codec is from what it declares and makes:
its ``decode_outputs`` and the keys of its encoded target. :func:`make_panel`
takes one sample of an example batch (:mod:`jaxcodecs.examples`), its
target and its decodes, and keeps the arrays that kind of picture draws, in
input pixels.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Mapping, Sequence

import numpy as np

from jaxcodecs.viz._common import default_skeleton, summed_heatmap

__all__ = ["KINDS", "Panel", "decoded_by_name", "make_panel", "panel_kind"]

#: Every kind of picture, what it shows:
KINDS = {
    "heatmap": "summed 2-D heatmaps over the skeleton (and regression labels as points)",
    "offsets": "the class maps and the offset field as arrows (UDP combined)",
    "simcc": "x / y 1-D label distributions along the image's axes",
    "points": "coordinate labels as points on the image",
    "lifting": "the 2-D input beside the 3-D pose",
    "volume": "max-projections of the 3-D heatmap volume (xy, xz, yz)",
    "people": "summed heatmaps; each decoded person in its own colour",
    "displacements": "root map and displacement arrows; each decoded person in its own colour",
    "instances": "global heatmaps, a few instance blocks; each decoded person in its own colour",
    "detection": "target boxes and keypoints; the top queries' boxes and keypoints",
    "boxes": "the annotated boxes before and after the processor, with the keypoints",
}


def _flat_names(names: Any) -> list[str]:
    out: list[str] = []
    for name in names:
        out.extend(_flat_names(name) if isinstance(name, (tuple, list)) else [str(name)])
    return out


def _flat_values(values: Any, names: Any) -> list[Any]:
    out: list[Any] = []
    for name, value in zip(names, values):
        if isinstance(name, (tuple, list)):
            out.extend(_flat_values(value if value is not None else (None,) * len(name), name))
        else:
            out.append(value)
    return out


def decoded_by_name(codec: Any, decoded: Any) -> dict[str, Any]:
    """``batch_decode``'s output as ``{name: array}`` by the codec's
    ``decode_outputs`` (nested names flattened); ``{}`` for None."""
    if decoded is None:
        return {}
    names = tuple(getattr(codec, "decode_outputs", ("keypoints", "scores")))
    if not isinstance(decoded, (tuple, list)):
        decoded = (decoded,)
    return {n: v for n, v in zip(_flat_names(names), _flat_values(decoded, names)) if v is not None}


def panel_kind(codec: Any, encoded_keys: Sequence[str], num_keypoints: int | None = None,
               channels: int | None = None) -> str:
    """The kind of picture (a key of :data:`KINDS`) for a codec.

    Args:
      codec: the codec; its ``decode_outputs`` and map sizes are read.
      encoded_keys: the keys ``encode`` returns.
      num_keypoints: K, to tell per-keypoint channel groups apart.
      channels: the channels of ``heatmaps`` when encoded.
    """
    outputs = _flat_names(getattr(codec, "decode_outputs", ("keypoints", "scores")))
    keys = set(encoded_keys)
    if not outputs:
        return "boxes"  # decode returns nothing: an annotation processor
    if "boxes" in outputs:
        return "detection"
    if "valid" in outputs:
        if "instance_heatmaps" in keys:
            return "instances"
        return "displacements" if "displacements" in keys else "people"
    if "keypoint_x_labels" in keys and "keypoint_y_labels" in keys:
        return "simcc"
    if "lifting_target_label" in keys:
        return "lifting"
    if "heatmaps" in keys:
        if len(tuple(getattr(codec, "heatmap_size", ()))) == 3:
            return "volume"
        if num_keypoints and channels == 3 * num_keypoints:
            return "offsets"
        return "heatmap"
    return "points"


@dataclasses.dataclass
class Panel:
    """What one picture draws, for one sample, in input pixels ``(x, y)``.

    Attributes:
      kind: a key of :data:`KINDS`.
      title: the panel's title.
      input_size: ``(w, h)`` of the picture.
      truth: ``(K, D)`` the keypoints decoding should give back.
      visible: ``(K,)``.
      decoded: ``{label: {output name: array}}``, one entry per decode
        (e.g. per ``mmpose_compat`` mode).
      data: the kind's own arrays (maps, labels, arrows, boxes, people).
      skeleton: limbs to draw.
    """

    kind: str
    title: str
    input_size: tuple[int, int]
    truth: np.ndarray
    visible: np.ndarray
    decoded: dict[str, dict[str, np.ndarray]]
    data: dict[str, Any]
    skeleton: Sequence[tuple[int, int]] = ()

    def add_decoded(self, label: str, codec: Any, decoded: Any, sample: int = 0) -> None:
        """Adds a further decode of the same sample (``batch_decode`` output)."""
        self.decoded[label] = _sample(decoded_by_name(codec, decoded), sample)


def _sample(values: Mapping[str, Any], sample: int) -> dict[str, np.ndarray]:
    return {k: np.asarray(v)[sample] for k, v in values.items() if v is not None and np.ndim(v) > 0}


def _bound_inputs(codec: Any, args: tuple, kwargs: dict) -> dict[str, Any]:
    try:
        return dict(inspect.signature(codec.encode).bind(*args, **kwargs).arguments)
    except TypeError:
        return {}


def _people(inputs: Mapping[str, Any], sample: int, truth: np.ndarray, visible: np.ndarray):
    """All annotated people of the sample ``(N, K, 2)`` and ``(N, K)``."""
    people = inputs.get("keypoints")
    if people is None or np.ndim(people) != 4:
        return truth[None, :, :2], visible[None]
    people = np.asarray(people, np.float32)[sample]
    vis = inputs.get("keypoints_visible")
    vis = np.ones(people.shape[:2], np.float32) if vis is None else np.asarray(vis, np.float32)[sample]
    return people[..., :2], vis.reshape(people.shape[:2])


def _offset_arrows(maps: np.ndarray, scale: np.ndarray, radius: float, step: int):
    """UDP combined ``(K, 3, H, W)``: an arrow from every ``step``-th pixel
    of each class disk to where its offset points, in input pixels."""
    origins, vectors = [], []
    for k in range(maps.shape[0]):
        ys, xs = np.nonzero(maps[k, 0] > 0)
        keep = (xs % step == 0) & (ys % step == 0)
        xs, ys = xs[keep], ys[keep]
        origins.append(np.stack([xs, ys], -1) * scale)
        vectors.append(np.stack([maps[k, 1, ys, xs], maps[k, 2, ys, xs]], -1) * radius * scale)
    return np.concatenate(origins).astype(np.float32), np.concatenate(vectors).astype(np.float32)


def _displacement_arrows(disp: np.ndarray, weights: np.ndarray, scale: np.ndarray, most: int):
    """SPR ``(2K, H, W)``: from at most ``most`` pixels of the written
    squares (evenly spread), an arrow per keypoint written there."""
    joints = disp.shape[0] // 2
    disp = disp.reshape(joints, 2, *disp.shape[1:])
    written = weights.reshape(joints, 2, *weights.shape[1:])[:, 0] > 0
    ys, xs = np.nonzero(written.any(axis=0))
    pick = np.unique(np.linspace(0, len(xs) - 1, min(most, len(xs))).round().astype(int)) if len(xs) else []
    origins, vectors = [], []
    for y, x in zip(ys[pick], xs[pick]):
        for k in np.nonzero(written[:, y, x])[0]:
            origins.append(np.array([x, y]) * scale)
            vectors.append(disp[k, :, y, x] * scale)
    return np.asarray(origins, np.float32).reshape(-1, 2), np.asarray(vectors, np.float32).reshape(-1, 2)


def make_panel(codec: Any, batch: Any, encoded: Mapping[str, Any] | None = None, decoded: Any = None, *,
               sample: int = 0, title: str | None = None, label: str = "decoded") -> Panel:
    """One sample of a round trip, ready to draw with :func:`jaxcodecs.viz.draw_panel`.

    Args:
      codec: the codec.
      batch: its :class:`jaxcodecs.examples.ExampleBatch` (e.g.
        ``examples.example_batch(codec, 2)``).
      encoded: ``codec.batch_encode(*batch.encode_args, **batch.encode_kwargs)``;
        computed (jitted) when None.
      decoded: ``codec.batch_decode(*batch.decode_args, **batch.decode_kwargs)``,
        or ``{label: that}`` for several decodes; computed when None.
      sample: which sample of the batch.
      title: default: the codec's class name.
      label: the label of a single ``decoded``.
    """
    import jax

    if encoded is None:
        encoded = jax.jit(codec.batch_encode)(*batch.encode_args, **batch.encode_kwargs)
    if decoded is None:
        decoded = jax.jit(codec.batch_decode)(*batch.decode_args, **batch.decode_kwargs)
    decodes = dict(decoded) if isinstance(decoded, Mapping) else {label: decoded}
    enc = {k: np.asarray(v)[sample] for k, v in (encoded or {}).items() if v is not None and np.ndim(v) > 0}
    truth = np.asarray(batch.keypoints, np.float32)[sample]
    visible = np.asarray(batch.visible, np.float32)[sample]
    joints = truth.shape[0]
    heatmaps = enc.get("heatmaps")
    kind = panel_kind(codec, list(enc), joints, None if heatmaps is None else heatmaps.shape[0])
    inputs = _bound_inputs(codec, batch.encode_args, batch.encode_kwargs)
    from jaxcodecs.examples import input_size_of

    size = input_size_of(codec)
    scale = np.asarray(getattr(codec, "scale_factor", (1.0, 1.0)), np.float32).reshape(-1)[:2]
    data: dict[str, Any] = {"scale": scale}
    people, people_visible = _people(inputs, sample, truth, visible)
    data.update(people=people, people_visible=people_visible)
    if kind in ("heatmap", "people"):
        data["heatmap"] = summed_heatmap(heatmaps, joints)
    if kind in ("heatmap", "points") and "keypoint_labels" in enc and enc["keypoint_labels"].shape[-1] == 2:
        # Regression labels are keypoints / (w, h).
        data["label_points"] = enc["keypoint_labels"].reshape(-1, joints, 2)[0] * np.asarray(size, np.float32)
    if kind == "offsets":
        maps = heatmaps.reshape(joints, 3, *heatmaps.shape[1:])
        data["heatmap"] = maps[:, 0].sum(axis=0)
        radius = float(np.asarray(codec.radius_factor)) * max(heatmaps.shape[1:])
        data["arrows"] = _offset_arrows(maps, scale, radius, step=2)
    elif kind == "simcc":
        data["x_labels"] = enc["keypoint_x_labels"].reshape(-1, joints, enc["keypoint_x_labels"].shape[-1])[0]
        data["y_labels"] = enc["keypoint_y_labels"].reshape(-1, joints, enc["keypoint_y_labels"].shape[-1])[0]
        data["split_ratio"] = float(np.asarray(codec.simcc_split_ratio))
    elif kind == "lifting":
        frames = np.asarray(inputs["keypoints"], np.float32)[sample]
        data["input_2d"] = frames.reshape(-1, joints, frames.shape[-1])[-1, :, :2]
    elif kind == "volume":
        data["volume"] = heatmaps.reshape(joints, -1, *heatmaps.shape[1:]).max(axis=0)  # (D, H, W)
        size = tuple(int(v) for v in getattr(codec, "image_size", size))
    elif kind == "displacements":
        data["heatmap"] = heatmaps[-1]  # the root map is last
        data["arrows"] = _displacement_arrows(enc["displacements"], enc["displacement_weights"], scale, most=6)
    elif kind == "instances":
        data["heatmap"] = heatmaps[:-1].sum(axis=0) + heatmaps[-1]
        valid = enc["instance_valid"].astype(bool)
        blocks = enc["instance_heatmaps"].reshape(len(valid), joints, *heatmaps.shape[1:])
        data["blocks"] = blocks[valid][:3].sum(axis=1)
        data["block_roots"] = enc["instance_coords"][valid][:3].astype(np.float32) * scale
    elif kind == "detection":
        shape = np.asarray(inputs["img_shape"])[sample]
        size = (int(shape[0]), int(shape[1]))
        wh = np.asarray(size, np.float32)
        box = enc["bbox"]
        data["target_boxes"] = np.concatenate([(box[:, :2] - box[:, 2:] / 2) * wh, (box[:, :2] + box[:, 2:] / 2) * wh], -1)
        data["target_keypoints"] = enc["keypoints"] * wh
    elif kind == "boxes":
        before = np.asarray(inputs["bbox"], np.float32)[sample]
        data["boxes_before"] = before
        data["boxes_after"] = enc.get("bbox", before)
        data["expanded"] = "bbox" in enc
        size = tuple(int(v) for v in np.ceil(np.maximum(size, people.reshape(-1, 2).max(0) + 1)))
    panel = Panel(kind, title or type(codec).__name__, (int(size[0]), int(size[1])), truth, visible, {}, data,
                  default_skeleton(joints))
    for name, value in decodes.items():
        panel.add_decoded(str(name), codec, value, sample)
    return panel
