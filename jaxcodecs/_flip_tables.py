"""Keypoint names of common datasets, from which their flip tables are derived.

A horizontal image flip turns a person's left side into their right side:
keypoint ``left_X`` takes the place of ``right_X`` and vice versa, and a
keypoint whose name names no side (``nose``, ``neck``) maps to itself. Each
table here is a tuple of names; :func:`flip_indices_from_names` derives the
permutation from them, so the indices are never written by hand.

The 68 face landmarks of COCO-WholeBody and Halpe (the 300-W / iBUG layout:
jaw 0-16, eyebrows 17-26, nose 27-35, eyes 36-47, mouth 48-67) are called
``face-0`` … ``face-67`` by those datasets, names that do not say which side
a landmark is on. They are named here by side instead (``right_jaw_0`` is
``face-0``, the end of the jaw on the person's right), from the layout's
geometry: the jaw and the eyebrows run from the person's right to their
left, each eye starts at its outer corner (the right eye) or its inner
corner (the left eye), and each mouth contour starts at the right corner.
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = ["KEYPOINT_NAMES", "flip_indices_from_names"]

_SIDES = ("left", "right")

COCO_17 = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle",
)

MPII_16 = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "pelvis", "thorax",
    "upper_neck", "head_top", "right_wrist", "right_elbow", "right_shoulder", "left_shoulder",
    "left_elbow", "left_wrist",
)

AIC_14 = (
    "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "head_top", "neck",
)

CROWDPOSE_14 = (
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "top_head", "neck",
)

HALPE_26 = COCO_17 + (
    "head", "neck", "hip", "left_big_toe", "right_big_toe", "left_small_toe", "right_small_toe",
    "left_heel", "right_heel",
)

H36M_17 = (
    "root", "right_hip", "right_knee", "right_foot", "left_hip", "left_knee", "left_foot", "spine",
    "thorax", "neck_base", "head", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder",
    "right_elbow", "right_wrist",
)

#: One hand (OneHand10K, FreiHand, RHD, COCO-WholeBody-Hand): no joint has a
#: side, so the flip table is the identity.
HAND_21 = ("wrist",) + tuple(
    f"{finger}{joint}"
    for finger in ("thumb", "forefinger", "middle_finger", "ring_finger", "pinky_finger")
    for joint in range(1, 5)
)


def _face_68() -> tuple[str, ...]:
    """The 68 face landmarks named by side (see the module docstring)."""
    jaw = [f"right_jaw_{i}" for i in range(8)] + ["chin"] + [f"left_jaw_{i}" for i in reversed(range(8))]
    brows = [f"right_eyebrow_{i}" for i in range(5)] + [f"left_eyebrow_{i}" for i in reversed(range(5))]
    nose = [f"nose_bridge_{i}" for i in range(4)] + [
        "right_nostril_0", "right_nostril_1", "nose_base", "left_nostril_1", "left_nostril_0"]
    # Right eye from its outer corner, over the top, inner corner, under the
    # bottom; the left eye from its inner corner the same way round.
    right_eye = [f"right_eye_{i}" for i in range(6)]
    left_eye = ["left_eye_3", "left_eye_2", "left_eye_1", "left_eye_0", "left_eye_5", "left_eye_4"]
    # Outer lip: right corner, over the top to the left corner, back under.
    outer = ["right_lip_0", "right_lip_1", "right_lip_2", "upper_lip", "left_lip_2", "left_lip_1",
             "left_lip_0", "left_lip_3", "left_lip_4", "lower_lip", "right_lip_4", "right_lip_3"]
    inner = ["right_inner_lip_0", "right_inner_lip_1", "upper_inner_lip", "left_inner_lip_1",
             "left_inner_lip_0", "left_inner_lip_2", "lower_inner_lip", "right_inner_lip_2"]
    return tuple(jaw + brows + nose + right_eye + left_eye + outer + inner)


FACE_68 = _face_68()

COCO_WHOLEBODY_133 = (
    COCO_17
    + ("left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel")
    + FACE_68
    + tuple(f"left_{name}" for name in ("hand_root",) + HAND_21[1:])
    + tuple(f"right_{name}" for name in ("hand_root",) + HAND_21[1:])
)

#: Dataset name -> keypoint names, in the dataset's keypoint order.
KEYPOINT_NAMES = MappingProxyType({
    "coco": COCO_17,
    "coco_wholebody": COCO_WHOLEBODY_133,
    "mpii": MPII_16,
    "aic": AIC_14,
    "crowdpose": CROWDPOSE_14,
    "halpe26": HALPE_26,
    "h36m": H36M_17,
    "hand21": HAND_21,
    "face68": FACE_68,
})


def _mirror_name(name: str) -> str:
    """``name`` with its side word (``left`` / ``right``, a whole ``_``-separated
    word) swapped; unchanged when it has none."""
    words = name.split("_")
    sides = [i for i, word in enumerate(words) if word in _SIDES]
    if len(sides) > 1:
        raise ValueError(f"Keypoint name {name!r} names more than one side.")
    for i in sides:
        words[i] = _SIDES[1 - _SIDES.index(words[i])]
    return "_".join(words)


def flip_indices_from_names(names) -> tuple[int, ...]:
    """The flip table of keypoints named ``names``: entry ``i`` is the index of
    the keypoint that takes keypoint ``i``'s place in a mirrored image.

    ``left`` and ``right`` (whole words between underscores) are swapped;
    a name without a side maps to itself.

    Raises:
      ValueError: a name appears twice, or a sided name has no partner.
    """
    names = tuple(str(n) for n in names)
    position = {name: i for i, name in enumerate(names)}
    if len(position) != len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"Keypoint names must be distinct; repeated: {repeated}.")
    table = []
    for name in names:
        partner = _mirror_name(name)
        if partner not in position:
            raise ValueError(f"Keypoint {name!r} has no mirror partner {partner!r} among the names.")
        table.append(position[partner])
    return tuple(table)
