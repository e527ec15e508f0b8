"""Pure array functions that codecs are composed of.

Nothing here holds configuration: every function takes arrays and static
options, is vmappable, and is differentiable where the maths allows.
"""

from jaxcodecs.ops.filters import (
    gaussian_blur,
    gaussian_blur1d,
    gaussian_blur1d_rescaled,
    gaussian_blur_rescaled,
    max_pool,
    opencv_gaussian_kernel1d,
)
from jaxcodecs.ops.coords import decode_regression_labels, encode_regression_labels, input_to_map_scale
from jaxcodecs.ops.heatmap import (
    normalize_heatmaps,
    render_megvii_heatmaps,
    render_msra_heatmaps,
    render_gaussian_heatmaps,
    render_udp_gaussian_heatmaps,
    render_unbiased_gaussian_heatmaps,
)
from jaxcodecs.ops.heatmap3d import bins_to_depth, depth_to_bins, heatmap_argmax_3d, render_gaussian_heatmaps_3d
from jaxcodecs.ops.assignment import linear_assignment
from jaxcodecs.ops.boxes import bbox_cxcywh_to_xyxy, bbox_xyxy_to_cxcywh, expand_boxes_to_points, rank_descending
from jaxcodecs.ops.grouping import TagGroups, fill_missing_keypoints_by_tags, group_keypoints_by_tags
from jaxcodecs.ops.maxima import heatmap_argmax, heatmap_nms, topk_peaks
from jaxcodecs.ops.normalize import (
    add_root,
    append_visibility,
    camera_to_image,
    camera_to_image_with_depth,
    denormalize_image_frame_with_depth,
    destandardize,
    frames_as_columns,
    insert_joint,
    normalize_camera,
    normalize_image_frame,
    normalize_image_frame_with_depth,
    normalize_screen_coordinates,
    remove_joint,
    root_relative,
    standardize,
)
from jaxcodecs.ops.numerics import constant_like, divide_exact
from jaxcodecs.ops.offsets import decode_udp_offset_maps, render_udp_offset_maps
from jaxcodecs.ops.gaussian_fit import refine_keypoints_gaussian_fit, refine_simcc_gaussian_fit
from jaxcodecs.ops.border_fit import (
    dark_border_reach,
    gaussian_fit_radius,
    max_fit_step,
    refine_keypoints_dark_to_border,
    refine_simcc_dark_to_border,
    refine_simcc_xy_dark_to_border,
)
from jaxcodecs.ops.refine import (
    modulate_simcc_dark,
    refine_keypoints_dark,
    refine_keypoints_dark_udp,
    refine_keypoints_megvii,
    refine_keypoints_quarter,
    refine_simcc_dark,
)
from jaxcodecs.ops.simcc import (
    render_simcc_gaussian_labels,
    render_simcc_standard_labels,
    simcc_argmax,
    simcc_label_lengths,
    simcc_visibility,
)
from jaxcodecs.ops.soft import (
    dsnt,
    dsnt_variance_regularizer,
    integral,
    simcc_soft_decode,
    soft_argmax,
    soft_decode,
    spatial_softmax,
)
from jaxcodecs.ops.instances import (
    box_instance_sigmas,
    instance_box_corners,
    instance_diagonal_lengths,
    select_jittered_roots,
    instance_roots,
    render_displacement_fields,
    sample_maps_bilinear,
)

__all__ = [
    "input_to_map_scale",
    "decode_regression_labels",
    "encode_regression_labels",
    "normalize_heatmaps",
    "render_megvii_heatmaps",
    "render_msra_heatmaps",
    "gaussian_blur",
    "gaussian_blur1d",
    "gaussian_blur1d_rescaled",
    "gaussian_blur_rescaled",
    "opencv_gaussian_kernel1d",
    "render_gaussian_heatmaps",
    "render_udp_gaussian_heatmaps",
    "render_udp_offset_maps",
    "decode_udp_offset_maps",
    "render_unbiased_gaussian_heatmaps",
    "heatmap_argmax",
    "heatmap_nms",
    "topk_peaks",
    "linear_assignment",
    "bbox_xyxy_to_cxcywh",
    "bbox_cxcywh_to_xyxy",
    "expand_boxes_to_points",
    "rank_descending",
    "TagGroups",
    "group_keypoints_by_tags",
    "fill_missing_keypoints_by_tags",
    "max_pool",
    "heatmap_argmax_3d",
    "render_gaussian_heatmaps_3d",
    "depth_to_bins",
    "bins_to_depth",
    "constant_like",
    "divide_exact",
    "refine_keypoints_dark",
    "refine_keypoints_dark_udp",
    "refine_keypoints_gaussian_fit",
    "refine_simcc_gaussian_fit",
    "dark_border_reach",
    "gaussian_fit_radius",
    "max_fit_step",
    "refine_keypoints_dark_to_border",
    "refine_simcc_dark_to_border",
    "refine_simcc_xy_dark_to_border",
    "refine_keypoints_megvii",
    "refine_keypoints_quarter",
    "modulate_simcc_dark",
    "refine_simcc_dark",
    "render_simcc_gaussian_labels",
    "render_simcc_standard_labels",
    "simcc_argmax",
    "simcc_label_lengths",
    "simcc_visibility",
    "dsnt",
    "dsnt_variance_regularizer",
    "integral",
    "simcc_soft_decode",
    "soft_argmax",
    "soft_decode",
    "spatial_softmax",
    "add_root",
    "append_visibility",
    "camera_to_image",
    "camera_to_image_with_depth",
    "denormalize_image_frame_with_depth",
    "destandardize",
    "frames_as_columns",
    "insert_joint",
    "normalize_camera",
    "normalize_screen_coordinates",
    "normalize_image_frame",
    "normalize_image_frame_with_depth",
    "remove_joint",
    "root_relative",
    "standardize",
    "instance_roots",
    "instance_box_corners",
    "box_instance_sigmas",
    "select_jittered_roots",
    "instance_diagonal_lengths",
    "render_displacement_fields",
    "sample_maps_bilinear",
]
