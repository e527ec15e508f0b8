"""Codec-level flips: the shift each codec's convention needs, and the flip of
its targets, model outputs and decoded keypoints (re-exported by
:mod:`jaxcodecs.flip`).

Each codec's shift is derived from its own input-to-map mapping ``u(x)``
under the image flip ``x -> w - 1 - x`` (input pixels, a pixel's centre at
its integer coordinate): ``u(w - 1 - x) = W - 1 + shift - u(x)``.

* MSRA (``u = x W / w``; also IntegralRegressionLabel's heatmaps, SPR,
  DecoupledHeatmap, AssociativeEmbedding without UDP, Hand3DHeatmap's x):
  ``shift = 1 - W / w``.
* UDP (``u = x (W - 1) / (w - 1)``; AssociativeEmbedding with ``use_udp``):
  ``shift = 0``, the plain reversal.
* Megvii: encode puts ``x`` on pixel ``floor(x W / w)`` and decode reads
  pixel ``i`` as input ``(i + 0.5) w / W`` (its +0.5), so ``u = x W / w -
  1/2`` and ``shift = -W / w``.
* SimCC (bin ``i`` is ``x = i / r``, ``Lx = round(w r)`` bins):
  ``shift = (w - 1) r - (Lx - 1)``, ``1 - r`` when ``w r`` is whole.
* Regression labels ``x / w``: ``x -> 1 - 1/w - x`` (no map).

The shift is the same in both modes: ``mmpose_compat`` changes where some
targets are drawn (SPEC row 1 moves windowed Gaussians one pixel left for
``0 < frac(3σ) < 1/2``) but not the geometry the decoder reads them with, so
a flip-test average of such targets is centred on the keypoint (the two
halves' one-pixel errors cancel). Decoded keypoints mirror as ``x -> w - 1 -
x``, except UDPHeatmap with ``mmpose_compat=True``, whose decode scales by
``w / (W - 1)``: there ``x -> w - x``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxcodecs import ops
from jaxcodecs._flip_arrays import (
    _permute,
    check_flip_indices,
    flip_displacements,
    flip_heatmaps,
    flip_regression_labels,
    flip_root_relative,
    flip_simcc,
    flip_tags,
    flip_udp_offsets,
    flip_visibility,
    shift_along_x,
)
from jaxcodecs.base import Codec
from jaxcodecs.codecs import (
    AssociativeEmbedding,
    DecoupledHeatmap,
    Hand3DHeatmap,
    ImagePoseLifting,
    IntegralRegressionLabel,
    MegviiHeatmap,
    MotionBERTLabel,
    MSRAHeatmap,
    RegressionLabel,
    SimCCLabel,
    SPR,
    UDPHeatmap,
    VideoPoseLifting,
)

__all__ = ["flip_shift", "flip_encoded", "flip_decode_inputs", "flip_decoded"]

_MSRA_MAPS = (MSRAHeatmap, IntegralRegressionLabel, SPR, DecoupledHeatmap, Hand3DHeatmap)
_LIFTING = (ImagePoseLifting, VideoPoseLifting, MotionBERTLabel)
_SPATIAL = _MSRA_MAPS + (UDPHeatmap, MegviiHeatmap, SimCCLabel, RegressionLabel, AssociativeEmbedding)


def _no_spatial_target(codec: Any, what: str) -> TypeError:
    name = type(codec).__name__
    hint = ("its targets are root-relative 3-D poses: use flip_decode_inputs / flip_decoded, or "
            "flip_root_relative on the arrays" if isinstance(codec, _LIFTING) else
            "it has no map or normalised-coordinate target; flip its image-space keypoints with "
            "jaxcodecs.flip.flip_keypoints(..., image_width=w)")
    supported = sorted(c.__name__ for c in _SPATIAL)
    return TypeError(f"{what} does not support {name}: {hint}. Supported codecs: {', '.join(supported)}.")


def _check_codec(codec: Any, what: str) -> None:
    if not isinstance(codec, Codec):
        raise TypeError(f"{what} takes a jaxcodecs codec, got {type(codec).__name__}.")


def _widths(codec: Any) -> tuple[int, int]:
    """``(w, W)``: input and map widths of a map codec."""
    input_width = codec.image_size[0] if isinstance(codec, Hand3DHeatmap) else codec.input_size[0]
    return input_width, codec.heatmap_size[0]


def flip_shift(codec: Any) -> float:
    """Map pixels (or SimCC bins) by which a mirrored map is translated right
    after its columns are reversed, from the codec's convention.

    ``0.0`` for UDP, ``1 - W / w`` for MSRA (0.75 at 192 -> 48), ``-W / w``
    for Megvii, ``(w - 1) r - (Lx - 1)`` for SimCC; see the module docs.

    Args:
      codec: a codec with a map target (not RegressionLabel, the lifting
        codecs, EDPoseLabel or YOLOXPoseAnnotationProcessor).

    Raises:
      TypeError: the codec has no map target.
    """
    _check_codec(codec, "flip_shift()")
    if isinstance(codec, SimCCLabel):
        width = codec.input_size[0]
        return float((width - 1) * codec.simcc_split_ratio - (codec.label_lengths[0] - 1))
    if isinstance(codec, UDPHeatmap) or (isinstance(codec, AssociativeEmbedding) and codec.use_udp):
        return 0.0
    if isinstance(codec, MegviiHeatmap):
        width, map_width = _widths(codec)
        return -map_width / width
    if isinstance(codec, _MSRA_MAPS + (AssociativeEmbedding,)):
        width, map_width = _widths(codec)
        return 1.0 - map_width / width
    raise _no_spatial_target(codec, "flip_shift()")


def _mirror_pixel_x(pixel_x: jnp.ndarray, map_width: int, shift: float, *, floored: bool = False) -> jnp.ndarray:
    """The mirror of an integer pixel column (exact for a whole shift).

    A rounded position (AE's ``floor(u + 1/2)``) stands for ``u`` near ``x``:
    the result is the pixel nearest to ``W - 1 + shift - x``. A floored one
    (CID's root pixel, ``floor(u)``) stands for the cell ``[x, x + 1)``,
    whose mirror is the cell ``floor(W - 1 + shift - (x + 1/2))``.
    """
    centre = pixel_x.astype(jnp.float32) + (0.5 if floored else 0.0)
    mirrored = map_width - 1 + shift - centre
    return jnp.floor(mirrored if floored else mirrored + 0.5).astype(pixel_x.dtype)


def _flip_ae_indices(indices, flip_indices, map_width, shift):
    """``[y * W + x, v]`` rows of the mirrored keypoints."""
    flat = indices[..., 0]
    y, x = jnp.floor_divide(flat, map_width), jnp.mod(flat, map_width)
    mirrored = jnp.stack([y * map_width + _mirror_pixel_x(x, map_width, shift), indices[..., 1]], axis=-1)
    return _permute(mirrored, flip_indices, -2, "keypoint_indices")


def _flip_blocks(maps, flip_indices, shift, interpolation, joints_first: int):
    """Heatmaps whose first ``joints_first`` channels are per keypoint and the
    rest (SPR's and CID's root maps) are not."""
    rest = flip_heatmaps(maps[..., joints_first:, :, :], None, shift=shift, interpolation=interpolation)
    if not joints_first:
        return rest
    keypoint_maps = flip_heatmaps(maps[..., :joints_first, :, :], flip_indices, shift=shift,
                                  interpolation=interpolation)
    return jnp.concatenate([keypoint_maps, rest], axis=-3)


def _hand_volumes(codec, heatmaps, flip_indices, shift, interpolation):
    """``(..., K, D, H, W)`` or ``(..., K * D, H, W)`` volumes mirrored along x."""
    maps = jnp.asarray(heatmaps)
    joints = flip_indices.shape[0]
    width = maps.shape[-1]
    lead = maps.shape[:-4] if (maps.ndim >= 4 and maps.shape[-4] == joints) else maps.shape[:-3]
    grouped = maps.reshape(lead + (joints, -1, width))  # (..., K, D * H, W)
    flipped = flip_heatmaps(grouped, flip_indices, shift=shift, interpolation=interpolation)
    return flipped.reshape(maps.shape)


def _table(flip_indices):
    """A traced table as is, anything else as a NumPy array (checked where used)."""
    if flip_indices is None:
        raise ValueError("`flip_indices` is required: the mirror partner of each keypoint.")
    return flip_indices if isinstance(flip_indices, jax.core.Tracer) else np.asarray(flip_indices)


def _interp(interpolation, default):
    return default if interpolation is None else interpolation


def flip_encoded(codec: Any, encoded: dict, flip_indices: Any, *, interpolation: str | None = None) -> dict:
    """The targets of the mirrored image, from the targets ``codec.encode`` made.

    Every map is mirrored with the codec's shift (:func:`flip_shift`),
    per-keypoint arrays are permuted, and instance-level values are kept.
    Where the shift is whole (UDP; input and map of the same size), the
    result is exactly ``codec.encode`` of the mirrored keypoints in the exact
    mode; where it is fractional, a quantised target (a Gaussian drawn at the
    rounded pixel, an impulse, a pixel index) is moved to the mirrored
    position, which its re-encoding would round to a pixel instead.

    Keys per codec: ``heatmaps``, ``instance_heatmaps`` (blocks of K),
    ``heatmap_weights``, ``displacements`` (x negated),
    ``displacement_weights``, UDP combined maps (x offsets negated),
    ``keypoint_x_labels`` / ``keypoint_y_labels``, ``keypoint_labels``,
    ``keypoint_weights`` (permuted), ``keypoint_indices`` and
    ``instance_coords`` (the mirrored pixel, rounded as each codec rounds
    it; exact for a whole shift). SPR's
    displacement square ``[trunc(rx - r), trunc(rx + r))`` is not symmetric
    about the root, so the mirrored field covers the mirror of that square,
    which can be one or two pixels off the square encode draws for the
    mirrored root (the values agree where both are drawn). Hand3D's
    ``root_depth``, ``type`` and their weights, and ``instance_valid``, are
    kept (a two-hand layout's hand type is the caller's to swap).

    Args:
      codec: a codec with a spatial target.
      encoded: ``codec.encode``'s dict (or ``batch_encode``'s: a leading
        batch axis is kept).
      flip_indices: ``(K,)`` mirror partners (:func:`jaxcodecs.flip.flip_indices`).
      interpolation: for a fractional shift, ``"fourier"`` or ``"linear"``;
        default ``"fourier"`` for heatmaps and label vectors, ``"linear"``
        for fields, weights and tags.

    Raises:
      TypeError: a codec without a spatial target. ValueError: a bad table
      or an encoded key this function does not know.
    """
    _check_codec(codec, "flip_encoded()")
    if not isinstance(codec, _SPATIAL):
        raise _no_spatial_target(codec, "flip_encoded()")
    smooth, field = _interp(interpolation, "fourier"), _interp(interpolation, "linear")
    table = _table(flip_indices)
    joints = table.shape[0]
    out = {}
    for key, value in encoded.items():
        out[key] = _flip_encoded_key(codec, key, value, table, joints, smooth, field, encoded)
    return out


def _flip_encoded_key(codec, key, value, table, joints, smooth, field, encoded):
    name = type(codec).__name__
    value = jnp.asarray(value)
    if key == "keypoint_weights":
        return flip_visibility(value, table)
    if key in ("instance_valid", "root_depth", "root_depth_weight", "type", "type_weight"):
        return value
    if isinstance(codec, RegressionLabel) or (isinstance(codec, IntegralRegressionLabel) and key == "keypoint_labels"):
        if key == "keypoint_labels":
            return flip_regression_labels(value, table, image_width=codec.input_size[0])
    elif isinstance(codec, SimCCLabel):
        if key in ("keypoint_x_labels", "keypoint_y_labels"):
            if key == "keypoint_x_labels":
                reversed_ = _permute(value, table, -2, key)[..., ::-1]
                return shift_along_x(reversed_, flip_shift(codec), interpolation=smooth)
            return flip_visibility(value, table, axis=-2)
    else:
        shift = flip_shift(codec)
        map_width = codec.heatmap_size[0]
        if isinstance(codec, UDPHeatmap) and codec.heatmap_type == "combined" and key == "heatmaps":
            return flip_udp_offsets(value, table)
        if isinstance(codec, Hand3DHeatmap) and key == "heatmaps":
            return _hand_volumes(codec, value, table, shift, smooth)
        if isinstance(codec, SPR) and key in ("heatmaps", "heatmap_weights"):
            interp = smooth if key == "heatmaps" else field
            return _flip_blocks(value, table, shift, interp, joints if value.shape[-3] == joints + 1 else 0)
        if isinstance(codec, SPR) and key in ("displacements", "displacement_weights"):
            return flip_displacements(value, table, shift=shift, interpolation=field,
                                      negate_x=key == "displacements")
        if isinstance(codec, DecoupledHeatmap) and key == "heatmaps":
            return _flip_blocks(value, table, shift, smooth, joints)
        if isinstance(codec, DecoupledHeatmap) and key == "instance_heatmaps":
            return flip_tags(value, table, shift=shift, interpolation=smooth)
        if isinstance(codec, DecoupledHeatmap) and key == "instance_coords":
            # Rows without an instance stay zeros.
            valid = jnp.asarray(encoded.get("instance_valid", True))[..., None]
            mirrored = value.at[..., 0].set(_mirror_pixel_x(value[..., 0], map_width, shift, floored=True))
            return jnp.where(valid, mirrored, value)
        if isinstance(codec, AssociativeEmbedding) and key == "keypoint_indices":
            return _flip_ae_indices(value, table, map_width, shift)
        if key == "heatmaps":
            return flip_heatmaps(value, table, shift=shift, interpolation=smooth)
    raise ValueError(f"flip_encoded() does not know how to mirror {name}'s encoded key {key!r}.")


def flip_decode_inputs(codec: Any, *args: Any, flip_indices: Any, interpolation: str | None = None) -> tuple:
    """``codec.decode``'s arguments (a model's outputs on the mirrored image)
    mirrored back: for the flip test, average them with the outputs on the
    image and decode the average.

    Positional arguments as ``codec.decode`` (or ``batch_decode``: leading
    axes are kept) takes them:

    * MSRA, UDP, Megvii: ``heatmaps`` (UDP combined: class and offset maps);
    * RegressionLabel, IntegralRegressionLabel: ``keypoint_labels (..., K, 2|4)``;
    * SimCCLabel: ``simcc_x``, ``simcc_y``;
    * AssociativeEmbedding: ``heatmaps``, ``tags``;
    * SPR: ``heatmaps`` (root map last), ``displacements``;
    * DecoupledHeatmap: ``instance_heatmaps (..., M, K, H, W)``,
      ``instance_scores`` (kept);
    * Hand3DHeatmap: ``heatmaps`` (``(K, D, H, W)`` or ``(K * D, H, W)``),
      ``root_depth`` and ``hand_type`` (kept);
    * ImagePoseLifting, VideoPoseLifting: ``encoded (..., K', C)`` (x ->
      -x, in the de-standardised frame when the codec standardises its
      targets; without the root joint when ``remove_root``) and
      ``target_root`` (x -> -x);
    * MotionBERTLabel: ``encoded`` (x -> -x), then ``w``, ``h``, ``factor`` (kept).

    Args:
      codec: the codec.
      *args: its decode arguments (``None`` passes through).
      flip_indices: keyword-only ``(K,)`` mirror partners.
      interpolation: see :func:`flip_encoded`.

    Returns:
      a tuple of the same length: ``codec.decode(*flip_decode_inputs(...))``
      decodes to :func:`flip_decoded` of what the arguments decode to.
    """
    _check_codec(codec, "flip_decode_inputs()")
    smooth, field = _interp(interpolation, "fourier"), _interp(interpolation, "linear")
    if not args:
        raise TypeError("flip_decode_inputs() needs the decode arguments, e.g. (heatmaps,).")
    first, rest = args[0], args[1:]
    if isinstance(codec, _LIFTING):
        return (_flip_lifting_label(codec, first, flip_indices),) + _flip_lifting_rest(codec, rest)
    if not isinstance(codec, _SPATIAL):
        raise _no_spatial_target(codec, "flip_decode_inputs()")
    table = _table(flip_indices)
    if isinstance(codec, (RegressionLabel, IntegralRegressionLabel)):
        return (flip_regression_labels(first, table, image_width=codec.input_size[0]),) + rest
    shift = flip_shift(codec)
    if isinstance(codec, SimCCLabel):
        if len(args) != 2:
            raise TypeError(f"SimCCLabel's decode takes (simcc_x, simcc_y), got {len(args)} argument(s).")
        return flip_simcc(first, rest[0], table, shift=shift, interpolation=smooth)
    if isinstance(codec, UDPHeatmap) and codec.heatmap_type == "combined":
        return (flip_udp_offsets(first, table),) + rest
    if isinstance(codec, AssociativeEmbedding):
        return (flip_heatmaps(first, table, shift=shift, interpolation=smooth),
                flip_tags(rest[0], table, shift=shift, interpolation=field)) + rest[1:]
    if isinstance(codec, SPR):
        maps = jnp.asarray(first)
        joints = table.shape[0] if maps.shape[-3] == table.shape[0] + 1 else 0
        return (_flip_blocks(maps, table, shift, smooth, joints),
                flip_displacements(rest[0], table, shift=shift, interpolation=field)) + rest[1:]
    if isinstance(codec, Hand3DHeatmap):
        return (_hand_volumes(codec, first, table, shift, smooth),) + rest
    return (flip_heatmaps(first, table, shift=shift, interpolation=smooth),) + rest


def _lifting_table(codec, flip_indices):
    """The table over the joints of ``encoded`` (the root removed when the
    codec removes it), after checking the root joints are their own mirror set."""
    table = check_flip_indices(flip_indices, codec.num_keypoints, f"{type(codec).__name__}'s "
                               f"{codec.num_keypoints} keypoints")
    roots = np.atleast_1d(np.asarray(codec.root_index))
    if isinstance(table, jax.core.Tracer):
        return table
    if set(table[roots].tolist()) != set(roots.tolist()):
        raise ValueError(
            f"`flip_indices` must map the root joint(s) {roots.tolist()} onto themselves (a root-relative "
            f"pose mirrors about its root), got {table[roots].tolist()}."
        )
    if getattr(codec, "_removes_root", False):
        keep = np.delete(np.arange(len(table)), roots[0])
        renumber = np.full(len(table), -1)
        renumber[keep] = np.arange(len(keep))
        table = renumber[table[keep]].astype(np.int32)
    return table


def _flip_lifting_label(codec, encoded, flip_indices):
    table = _lifting_table(codec, flip_indices)
    label = jnp.asarray(encoded)
    stats = codec._statistics("target") if isinstance(codec, ImagePoseLifting) else None
    if stats is None:
        return flip_root_relative(label, table)
    mean, std = stats
    pose = ops.destandardize(label, mean, std)
    return ops.standardize(flip_root_relative(pose, table), mean, std)


def _flip_lifting_rest(codec, rest):
    if isinstance(codec, MotionBERTLabel) or not rest or rest[0] is None:
        return tuple(rest)
    root = jnp.asarray(rest[0])
    return (root.at[..., 0].set(-root[..., 0]),) + tuple(rest[1:])


def flip_decoded(codec: Any, keypoints: Any, flip_indices: Any) -> jnp.ndarray:
    """Decoded keypoints mirrored, in the codec's decoded frame.

    ``x -> w - 1 - x`` for the 2-D codecs (``x -> w - x`` for UDPHeatmap with
    ``mmpose_compat=True``, whose decode scales by ``w / (W - 1)``); for the
    lifting codecs ``x -> -x`` (root-relative or camera-frame poses). For
    flip tests that average decoded keypoints rather than model outputs.

    Args:
      codec: the codec that decoded them.
      keypoints: ``(..., K, D)`` as ``codec.decode`` returns them.
      flip_indices: ``(K,)``.

    Returns:
      ``(..., K, D)``.
    """
    _check_codec(codec, "flip_decoded()")
    if isinstance(codec, _LIFTING):
        return flip_root_relative(keypoints, flip_indices)
    if not isinstance(codec, _SPATIAL):
        raise _no_spatial_target(codec, "flip_decoded()")
    width = codec.image_size[0] if isinstance(codec, Hand3DHeatmap) else codec.input_size[0]
    axis = width if (isinstance(codec, UDPHeatmap) and codec.mmpose_compat) else width - 1
    kp = jnp.asarray(keypoints)
    return _permute(kp.at[..., 0].set(jnp.asarray(axis, kp.dtype) - kp[..., 0]), flip_indices, -2, "keypoints")

