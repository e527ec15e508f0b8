"""Flip test: mirror keypoints, maps, SimCC vectors and labels with the shift
each codec's coordinate convention needs.

A flip test runs the model on the image and on its mirror, mirrors the
second output back and averages the two. The image flip is ``x -> w - 1 -
x`` in input pixels; on a map it is the array reversal plus a translation by
:func:`flip_shift` map pixels, which depends on how the codec maps input to
map pixels: 0 for UDP, ``1 - W / w`` for MSRA (0.75 for 192 -> 48, not the
constant one pixel often used), ``-W / w`` for Megvii, ``1 - r`` bins for
SimCC with split ratio ``r``. ::

    fi = jaxcodecs.flip.flip_indices("coco")
    (back,) = jaxcodecs.flip.flip_decode_inputs(codec, model(flipped_image), flip_indices=fi)
    keypoints, scores = codec.decode((model(image) + back) / 2)

Array-level functions take ``flip_indices`` (the mirror partner of each
keypoint) and an explicit ``shift``; the codec-level ones
(:func:`flip_shift`, :func:`flip_encoded`, :func:`flip_decode_inputs`,
:func:`flip_decoded`) derive everything from the codec. Flip tables of
common datasets are derived from their keypoint names
(:func:`flip_indices`, :func:`keypoint_names`).

A fractional shift is applied by band-limited (``"fourier"``) interpolation
by default, which moves a Gaussian without changing its shape: on MSRA-DARK
targets (192x256 -> 48x64, σ = 2) the flip-test average decodes within
0.0014 input px of the truth, as without a flip test, against 0.013 px with
linear interpolation, 0.50 px with a constant one-pixel shift and 1.50 px
with none.
"""

from __future__ import annotations

from jaxcodecs._flip_arrays import (
    check_flip_indices,
    flip_displacements,
    flip_heatmaps,
    flip_keypoints,
    flip_regression_labels,
    flip_root_relative,
    flip_simcc,
    flip_tags,
    flip_udp_offsets,
    flip_visibility,
    shift_along_x,
)
from jaxcodecs._flip_codecs import flip_decode_inputs, flip_decoded, flip_encoded, flip_shift
from jaxcodecs._flip_tables import KEYPOINT_NAMES, flip_indices_from_names

__all__ = [
    "check_flip_indices",
    "flip_decode_inputs",
    "flip_decoded",
    "flip_displacements",
    "flip_encoded",
    "flip_heatmaps",
    "flip_indices",
    "flip_indices_from_names",
    "flip_keypoints",
    "flip_regression_labels",
    "flip_root_relative",
    "flip_shift",
    "flip_simcc",
    "flip_tags",
    "flip_udp_offsets",
    "flip_visibility",
    "keypoint_names",
    "list_flip_tables",
    "shift_along_x",
]


def list_flip_tables() -> tuple[str, ...]:
    """The dataset names :func:`flip_indices` knows, sorted."""
    return tuple(sorted(KEYPOINT_NAMES))


def keypoint_names(dataset: str) -> tuple[str, ...]:
    """The keypoint names of ``dataset`` in its keypoint order.

    Known: ``"coco"`` (17), ``"coco_wholebody"`` (133; its 68 face landmarks
    named by side, see :mod:`jaxcodecs._flip_tables`), ``"mpii"`` (16),
    ``"aic"`` (14), ``"crowdpose"`` (14), ``"halpe26"`` (26), ``"h36m"``
    (17), ``"hand21"`` (21: OneHand10K, FreiHand, RHD), ``"face68"`` (68).

    Raises:
      KeyError: an unknown name, listing the known ones.
    """
    try:
        return KEYPOINT_NAMES[dataset]
    except (KeyError, TypeError):
        raise KeyError(
            f"No flip table for {dataset!r}; known: {', '.join(list_flip_tables())}. For another "
            f"dataset, jaxcodecs.flip.flip_indices_from_names(names) derives one from left_/right_ names."
        ) from None


def flip_indices(dataset: str) -> tuple[int, ...]:
    """The flip table of ``dataset``: entry ``k`` is the keypoint that takes
    keypoint ``k``'s place in the mirrored image (``left_*`` <-> ``right_*``).

    Raises:
      KeyError: an unknown name, listing the known ones.
    """
    return flip_indices_from_names(keypoint_names(dataset))
