"""Per-instance geometry of bottom-up codecs: instance roots, pseudo-box
diagonals, SPR displacement fields and bilinear sampling of maps at points.

Shapes: keypoints ``(N, K, 2)`` in heatmap pixels (x right, y down, a pixel's
centre at its integer coordinate), visibility ``(N, K)``, maps ``(K, H, W)``.
A keypoint counts towards its instance's root and box when its visibility is
``> 0``. Everything is vectorised over instances, keypoints and pixels except
:func:`render_displacement_fields`, whose pixel-ownership rule is sequential
over instances and scans them (``N`` is static).
"""

from __future__ import annotations

import functools

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxcodecs.ops.numerics import constant_like, divide_exact
from jaxcodecs.ops.validation import (
    as_float_array,
    as_parameter,
    check_axis_size,
    check_rank,
    check_shape,
    points_and_visibility,
)

__all__ = [
    "instance_roots",
    "instance_diagonal_lengths",
    "instance_box_corners",
    "box_instance_sigmas",
    "select_jittered_roots",
    "render_displacement_fields",
    "sample_maps_bilinear",
]

ROOT_TYPES = ("kpt_center", "bbox_center")


def _points(keypoints: Any, keypoints_visible: Any) -> tuple[jnp.ndarray, jnp.ndarray]:
    return points_and_visibility(keypoints, keypoints_visible, exact_dims=True)


def _visible_extent(kp: jnp.ndarray, counted: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Per-instance min and max ``(N, 2)`` of the counted keypoints (zeros
    for an instance with none)."""
    mask = counted[..., None]
    lo = jnp.min(jnp.where(mask, kp, jnp.inf), axis=1, initial=jnp.inf)
    hi = jnp.max(jnp.where(mask, kp, -jnp.inf), axis=1, initial=-jnp.inf)
    some = jnp.any(counted, axis=1)[:, None]
    return jnp.where(some, lo, jnp.zeros_like(lo)), jnp.where(some, hi, jnp.zeros_like(hi))


def instance_roots(
    keypoints: jnp.ndarray, keypoints_visible: jnp.ndarray, root_type: str = "kpt_center"
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """The root (centre) of each instance, from its visible (``> 0``) keypoints.

    Args:
      keypoints: ``(N, K, 2)``.
      keypoints_visible: ``(N, K)``.
      root_type: ``"kpt_center"`` (mean of the visible keypoints) or
        ``"bbox_center"`` (centre of their bounding box, ``(max + min) / 2``).

    Returns:
      ``roots (N, 2)`` and ``roots_visible (N,)``: 1 where the instance has a
      visible keypoint, else 0 with the root at ``(0, 0)``.
    """
    if root_type not in ROOT_TYPES:
        raise ValueError(f"`root_type` must be one of {ROOT_TYPES}, got {root_type!r}.")
    kp, vis = _points(keypoints, keypoints_visible)
    counted = vis > 0
    count = jnp.sum(counted, axis=1).astype(kp.dtype)
    some = count > 0
    if root_type == "kpt_center":
        total = jnp.sum(jnp.where(counted[..., None], kp, jnp.zeros_like(kp)), axis=1)
        # Correctly rounded on every backend (the root is then truncated
        # to its pixel); the box centre's halving is exact everywhere.
        roots = divide_exact(total, jnp.where(some, count, jnp.ones_like(count))[:, None])
    else:
        lo, hi = _visible_extent(kp, counted)
        roots = (hi + lo) * 0.5
    roots = jnp.where(some[:, None], roots, jnp.zeros_like(roots))
    return roots, some.astype(kp.dtype)


def instance_diagonal_lengths(keypoints: jnp.ndarray, keypoints_visible: jnp.ndarray) -> jnp.ndarray:
    """Diagonal length of each instance's pseudo bounding box, the tightest
    box around its visible (``> 0``) keypoints; 0 without visible keypoints.

    Args:
      keypoints: ``(N, K, 2)``.
      keypoints_visible: ``(N, K)``.

    Returns:
      ``(N,)`` in the keypoints' dtype.
    """
    kp, vis = _points(keypoints, keypoints_visible)
    lo, hi = _visible_extent(kp, vis > 0)
    side = hi - lo
    # The maximum with 0 (a no-op on squares, NaN kept) stands between the
    # products and the sum, so that XLA cannot contract them into a fused
    # multiply-add, one ulp off NumPy's x * x + y * y (and 1 / diag with it).
    squares = jnp.maximum(side * side, 0.0)
    return jnp.sqrt(squares[..., 0] + squares[..., 1])


def instance_box_corners(keypoints: jnp.ndarray, keypoints_visible: jnp.ndarray) -> jnp.ndarray:
    """The four corners of each instance's pseudo box, the tightest box
    around its visible (``> 0``) keypoints; all zeros without one.

    Args:
      keypoints: ``(N, K, 2)``.
      keypoints_visible: ``(N, K)``.

    Returns:
      ``(N, 4, 2)``: left-top, left-bottom, right-top, right-bottom.
    """
    kp, vis = _points(keypoints, keypoints_visible)
    lo, hi = _visible_extent(kp, vis > 0)
    x0, y0, x1, y1 = lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1]
    return jnp.stack([jnp.stack([x0, y0], -1), jnp.stack([x0, y1], -1),
                      jnp.stack([x1, y0], -1), jnp.stack([x1, y1], -1)], axis=1)


def _norm2(d: jnp.ndarray) -> jnp.ndarray:
    # As in instance_diagonal_lengths: the maximum keeps XLA from fusing the
    # squares and the sum into one multiply-add (one ulp off NumPy).
    squares = jnp.maximum(d * d, 0.0)
    return jnp.sqrt(squares[..., 0] + squares[..., 1])


def box_instance_sigmas(corners: jnp.ndarray, min_overlap: Any) -> jnp.ndarray:
    """Per-instance Gaussian sigma from box size, as CID (Wang et al., CVPR
    2022) sizes its instance heatmaps, after CornerNet's radius rule (Law and
    Deng, ECCV 2018).

    With ``h = |c0 - c1|``, ``w = |c0 - c2|`` and ``ov = min_overlap``, the
    three radii ``(b + sqrt(b^2 - 4 a c)) / 2`` with ``(a, b, c) = (1, h + w,
    w h (1 - ov) / (1 + ov))``, ``(4, 2 (h + w), (1 - ov) w h)`` and ``(4 ov,
    -2 ov (h + w), (ov - 1) w h)`` are taken and ``sigma = min(r) / 3``. The
    division by 2 rather than by 2a is CID's (and MMPose's) formula, kept as
    written: models trained with those targets expect these sigmas. A box of
    zero size gives sigma 0.

    Args:
      corners: ``(N, 4, 2)`` box corners (left-top, left-bottom, right-top,
        right-bottom) in heatmap pixels.
      min_overlap: the overlap ``ov`` a box shifted by the radius keeps with
        the true box, in ``(0, 1)`` (scalar, may be traced).

    Returns:
      ``(N,)`` sigmas, finite and never negative for finite corners (at
      most 1e18, so that ``2σ²`` stays finite in float32).
    """
    corners = as_float_array(corners, "corners")
    check_rank(corners, 3, "corners", "(N, 4, 2)")
    check_shape(corners, (None, 4, 2), "corners", "(N, 4, 2)")
    ov = jnp.asarray(min_overlap, corners.dtype)

    def sigma(h, w):
        def radius(b, four_ac):
            return (b + jnp.sqrt(jnp.maximum(b * b - four_ac, 0.0))) / 2.0

        r1 = radius(h + w, 4.0 * (w * h * (1.0 - ov) / (1.0 + ov)))
        r2 = radius(2.0 * (h + w), 16.0 * ((1.0 - ov) * w * h))
        # b < 0 here: (b + sqrt(b^2 - 4ac)) / 2 cancels for thin boxes
        # (float32 would keep few digits); the same value as
        # -2ac / (sqrt(b^2 - 4ac) - b) adds positive terms only.
        b3 = -2.0 * ov * (h + w)
        four_ac3 = 4.0 * (4.0 * ov) * ((ov - 1.0) * w * h)
        denominator = jnp.sqrt(jnp.maximum(b3 * b3 - four_ac3, 0.0)) - b3
        safe = jnp.where(denominator > 0, denominator, jnp.ones_like(denominator))
        r3 = jnp.where(denominator > 0, -four_ac3 / (2.0 * safe), 0.0)
        return jnp.minimum(jnp.minimum(r1, r2), r3) / 3.0

    h_side = corners[:, 0] - corners[:, 1]
    w_side = corners[:, 0] - corners[:, 2]
    direct = sigma(_norm2(h_side), _norm2(w_side))
    # The formulas are homogeneous of degree 1 in the box size: for a box
    # whose squares overflow, the sigma of the box scaled to unit size,
    # scaled back (only there, so that ordinary boxes keep the direct
    # formula's rounding).
    # Halved corners, so that not even the corner differences overflow.
    half = corners / 2.0
    h_half, w_half = half[:, 0] - half[:, 1], half[:, 0] - half[:, 2]
    h, w = jnp.hypot(h_half[:, 0], h_half[:, 1]), jnp.hypot(w_half[:, 0], w_half[:, 1])
    size = jnp.maximum(h, w)
    unit = jnp.where(size > 0, size, jnp.ones_like(size))
    scaled = jnp.where(size > 0, sigma(h / unit, w / unit) * jnp.minimum(2.0 * size, _SIGMA_CAP), 0.0)
    result = jnp.where(jnp.isfinite(direct), direct, scaled)
    return jnp.clip(jnp.nan_to_num(result, nan=0.0), 0.0, _SIGMA_CAP)


# Box sigmas are capped so that 2σ² stays finite in float32 (a box of
# 1e18 px is already far beyond any image).
_SIGMA_CAP = 1e18


def select_jittered_roots(
    roots: jnp.ndarray,
    eligible: jnp.ndarray,
    diagonals: jnp.ndarray,
    jitter: jnp.ndarray,
    heatmap_size: tuple[int, int],
    max_instances: int,
    selection: jnp.ndarray | None = None,
    priorities: jnp.ndarray | None = None,
) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray, jnp.ndarray]:
    """CID's choice of training instances, at a fixed shape.

    Instances are visited by ascending pseudo-box diagonal (ties in input
    order). Each eligible one proposes its root moved by its ``jitter``
    offset and clamped to the map; a proposal equal to an earlier eligible
    one is dropped. The ``C`` remaining candidates, in visiting order, fill
    the ``max_instances`` rows; when ``C > max_instances`` row ``r`` takes
    candidate ``selection[r]``, or with ``priorities`` the candidates of
    the ``M`` lowest priorities, lowest first (a uniform random subset in
    random order for i.i.d. priorities); default the first ``M``.

    Args:
      roots: ``(N, 2)`` in heatmap pixels.
      eligible: ``(N,)`` bool.
      diagonals: ``(N,)`` visiting keys.
      jitter: ``(N, 2)`` offsets, indexed by instance.
      heatmap_size: ``(W, H)``.
      max_instances: ``M``, the static number of rows.
      selection: ``(M,)`` int indices into the candidate list, used only
        when it holds more than ``M`` candidates; a row whose index is not
        a candidate is invalid.
      priorities: ``(N,)`` one number per candidate slot, used instead of
        ``selection`` (when that is None) in the same over-full case.

    Returns:
      ``(instances (M,) int32, coords (M, 2) float, valid (M,) bool,
      count ())``: the instance each row encodes, its jittered, clamped
      root, whether the row holds one, and ``C``. Invalid rows have
      instance 0 and coordinates 0.
    """
    num = roots.shape[0]
    width, height = heatmap_size
    upper = jnp.asarray([width - 1, height - 1], roots.dtype)
    proposals = jnp.clip(roots + jitter.astype(roots.dtype), 0.0, upper)
    order = jnp.argsort(diagonals, stable=True)
    visited = proposals[order]
    open_ = eligible[order]
    earlier = jnp.tril(jnp.ones((num, num), bool), k=-1)
    same = jnp.all(visited[:, None, :] == visited[None, :, :], axis=-1) & open_[None, :] & earlier
    kept = open_ & ~jnp.any(same, axis=1)
    count = jnp.sum(kept.astype(jnp.int32))
    position = jnp.arange(num)
    # Positions (in visiting order) of the candidates, first to last.
    candidates = jnp.argsort(jnp.where(kept, position, num + position))
    rows = jnp.arange(max_instances)
    if selection is None and priorities is not None and num > max_instances:
        slot = jnp.where(position < count, priorities, jnp.inf)
        selection = jnp.argsort(slot, stable=True)[:max_instances]
    if selection is not None:
        rows = jnp.where(count > max_instances, selection.astype(rows.dtype), rows)
    valid = (rows >= 0) & (rows < count)
    if num == 0:
        zeros = jnp.zeros((max_instances,), jnp.int32)
        return zeros, jnp.zeros((max_instances, 2), roots.dtype), valid, count
    instance = order[candidates[jnp.clip(rows, 0, num - 1)]].astype(jnp.int32)
    instance = jnp.where(valid, instance, jnp.zeros_like(instance))
    coords = jnp.where(valid[:, None], proposals[instance], jnp.zeros((), roots.dtype))
    return instance, coords, valid, count


def render_displacement_fields(
    keypoints: jnp.ndarray,
    keypoints_visible: jnp.ndarray,
    roots: jnp.ndarray,
    roots_visible: jnp.ndarray,
    diagonal_lengths: jnp.ndarray,
    heatmap_size: tuple[int, int],
    radius: Any,
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Dense keypoint displacement fields of the Structured Pose
    Representation (Nie et al., ICCV 2019; DEKR, Geng et al., CVPR 2021).

    Every pixel in a square around an instance's root holds, per keypoint,
    the vector from the pixel to that keypoint. The square of instance n is
    ``[trunc(rx - r), trunc(rx + r))`` clipped to the map (and likewise in
    y, end exclusive), ``r = radius``. An instance is drawn when its root is
    visible (``>= 1``) and on the map ``[0, W) x [0, H)``; a keypoint when its
    visibility is ``>= 1`` and it lies on the map.

    Where instances overlap, the smaller one keeps the pixel: instances are
    drawn in order and one size map records, per pixel, the diagonal of the
    instance that wrote there last (any keypoint). Keypoint k of instance n
    leaves a pixel as it is when that pixel's displacement for k is non-zero
    (a displacement of exactly ``(0, 0)`` counts as empty) and ``diag_n`` is
    larger than the size map there; otherwise it writes the displacement,
    the weight ``1 / diag_n`` and ``diag_n`` into the size map, which the
    instance's later keypoints then read. So once an instance writes a pixel,
    all its later keypoints write it too, and the decision before that
    depends only on the size map left by the earlier instances.

    Args:
      keypoints: ``(N, K, 2)`` in heatmap pixels.
      keypoints_visible: ``(N, K)``.
      roots: ``(N, 2)``; roots_visible: ``(N,)``.
      diagonal_lengths: ``(N,)``, the instances' sizes.
      heatmap_size: ``(W, H)``.
      radius: half the side of the square, in pixels (scalar).

    Returns:
      ``displacements (2K, H, W)`` (rows ``2k, 2k + 1`` are keypoint k's x
      and y) and ``displacement_weights (2K, H, W)``, 0 where nothing was
      written. A zero diagonal writes weight 0 (not ``1 / 0``).
      Differentiable w.r.t. ``keypoints`` (the squares and the ownership are
      piecewise constant).
    """
    kp, vis = _points(keypoints, keypoints_visible)
    num, joints = kp.shape[:2]
    roots = as_float_array(roots, "roots")
    check_shape(roots, (num, 2), "roots", f"(N, 2) = ({num}, 2)")
    roots_visible = as_float_array(roots_visible, "roots_visible")
    check_shape(roots_visible, (num,), "roots_visible", f"(N,) = ({num},)")
    diag = as_float_array(diagonal_lengths, "diagonal_lengths").astype(kp.dtype)
    check_shape(diag, (num,), "diagonal_lengths", f"(N,) = ({num},)")
    r = as_parameter(radius, "radius", (), dtype=kp.dtype, expected="a scalar", host=True)
    width, height = heatmap_size
    dtype = kp.dtype
    # Each instance touches only its square: with a concrete radius the
    # scan updates a slab of static side floor(2r) + 2 (a bound on the
    # square's side) around the root instead of the whole map.
    if isinstance(r, np.ndarray) and np.isfinite(r):
        side = int(np.floor(2 * float(r))) + 2
        slab_w, slab_h = max(1, min(side, width)), max(1, min(side, height))
    else:
        slab_w, slab_h = width, height
    r = jnp.asarray(r, dtype)

    on_map_root = (roots[:, 0] >= 0) & (roots[:, 1] >= 0) & (roots[:, 0] < width) & (roots[:, 1] < height)
    drawn = (roots_visible >= 1) & on_map_root
    on_map_kp = (kp[..., 0] >= 0) & (kp[..., 1] >= 0) & (kp[..., 0] < width) & (kp[..., 1] < height)
    eligible = (vis >= 1) & on_map_kp & drawn[:, None]  # (N, K)

    def axis_window(centre, size, slab):
        # trunc and floor agree once the start is clipped at 0 and the end
        # (of a root on the map) is positive.
        lo = jnp.maximum(jnp.trunc(centre - r), 0.0)
        hi = jnp.minimum(jnp.trunc(centre + r), size)
        start = jnp.clip(lo, 0, size - slab).astype(jnp.int32)
        grid = start.astype(dtype) + jnp.arange(slab, dtype=dtype)
        return start, grid, (grid >= lo) & (grid < hi)

    safe_diag = jnp.where(diag > 0, diag, jnp.ones_like(diag))
    # A literal 1 over a square root becomes rsqrt under jit (one ulp off
    # MMPose's 1 / diag); a data-dependent numerator keeps the division.
    inverse = jnp.where(diag > 0, constant_like(1.0, diag, dtype=diag.dtype) / safe_diag, jnp.zeros_like(diag))

    up_to = jnp.arange(joints)[None, :] <= jnp.arange(joints)[:, None]  # [k, j]: j <= k

    def draw(carry, inst, paired):
        disp, weights, size_map = carry  # (K, 2, H, W), (K, H, W) or paired (K, 2, H, W), (H, W)
        points, ok, root, d, w = inst
        y0, grid_y, in_y = axis_window(root[1], height, slab_h)
        x0, grid_x, in_x = axis_window(root[0], width, slab_w)
        zero = jnp.zeros((), jnp.int32)
        start = (zero, zero, y0, x0)
        slab_disp = jax.lax.dynamic_slice(disp, start, (joints, 2, slab_h, slab_w))
        weight_start = start if paired else (zero, y0, x0)
        slab_weights = jax.lax.dynamic_slice(weights, weight_start, (joints,) + (2,) * paired + (slab_h, slab_w))
        slab_size = jax.lax.dynamic_slice(size_map, (y0, x0), (slab_h, slab_w))
        candidate = ok[:, None, None] & (in_y[:, None] & in_x[None, :])[None]  # (K, h, w)
        occupied = jnp.any(slab_disp != 0, axis=1)
        smaller_owner = (d > slab_size)[None]
        # The first candidate keypoint that finds its pixel free (or not
        # owned by a smaller instance) writes, and so do all later ones.
        opens = candidate & ~occupied
        opened = jnp.any(opens[None] & up_to[:, :, None, None], axis=1)  # an open at or before k
        write = candidate & (~smaller_owner | opened)
        field = jnp.stack(
            [points[:, 0, None, None] - grid_x[None, None, :] + jnp.zeros((1, slab_h, 1), dtype),
             points[:, 1, None, None] - grid_y[None, :, None] + jnp.zeros((1, 1, slab_w), dtype)],
            axis=1,
        )
        slab_disp = jnp.where(write[:, None], field, slab_disp)
        slab_weights = jnp.where(write[:, None] if paired else write, w, slab_weights)
        slab_size = jnp.where(jnp.any(write, axis=0), d, slab_size)
        disp = jax.lax.dynamic_update_slice(disp, slab_disp, start)
        weights = jax.lax.dynamic_update_slice(weights, slab_weights, weight_start)
        size_map = jax.lax.dynamic_update_slice(size_map, slab_size, (y0, x0))
        return (disp, weights, size_map), None

    def fields(paired, *inst):
        # Data-dependent zeros (a batch-sharded vmap shards the carry like the slabs), the paired
        # weights' from another array: two equal fields would become one buffer and a copy.
        init = (constant_like(0.0, kp, (joints, 2, height, width), dtype),
                constant_like(0.0, diag if paired else kp, (joints,) + (2,) * paired + (height, width), dtype),
                constant_like(0.0, kp, (height, width), dtype))
        (disp, weights, _), _ = jax.lax.scan(functools.partial(draw, paired=paired), init, inst)
        weights = weights.reshape(2 * joints, height, width) if paired else jnp.repeat(weights, 2, axis=0)
        return disp.reshape(2 * joints, height, width), weights

    # Both rows of a keypoint share its weights: XLA:CPU scans (K, H, W) faster and repeats it
    # after; elsewhere that repeat is a second full write, so the carry holds both rows.
    return jax.lax.platform_dependent(kp, eligible, roots.astype(dtype), diag, inverse,
                                      cpu=functools.partial(fields, False), default=functools.partial(fields, True))


def sample_maps_bilinear(maps: jnp.ndarray, points: jnp.ndarray) -> jnp.ndarray:
    """Bilinear sampling of each map at its keypoints, border-clamped.

    The value of map k at ``points[n, k]``: the point is clamped to
    ``[0, W - 1] x [0, H - 1]`` (PyTorch's ``grid_sample`` with
    ``padding_mode='border'``) and the four neighbouring pixels are
    interpolated. A non-finite point gives NaN.

    Args:
      maps: ``(K, H, W)``.
      points: ``(N, K, 2)`` as ``(x, y)`` in pixels.

    Returns:
      ``(N, K)`` in the maps' dtype.
    """
    maps = as_float_array(maps, "maps")
    pts = as_float_array(points, "points")
    check_rank(maps, 3, "maps", "(K, H, W)")
    check_rank(pts, 3, "points", "(N, K, 2)")
    check_axis_size(pts, -1, "points", "(N, K, 2)", sizes=2)
    check_axis_size(pts, 1, "points", f"(N, K, 2) with K = {maps.shape[0]}", sizes=maps.shape[0])
    joints, height, width = maps.shape
    x = jnp.clip(pts[..., 0], 0.0, width - 1.0)
    y = jnp.clip(pts[..., 1], 0.0, height - 1.0)
    x0, y0 = jnp.floor(x), jnp.floor(y)
    fx, fy = x - x0, y - y0

    def corner(dx, dy):
        # The far neighbour of a point on the last row / column has weight 0;
        # clamping its index keeps the read inside the map.
        ix = jnp.clip(jnp.nan_to_num(x0).astype(jnp.int32) + dx, 0, width - 1)
        iy = jnp.clip(jnp.nan_to_num(y0).astype(jnp.int32) + dy, 0, height - 1)
        channel = jnp.broadcast_to(jnp.arange(joints), ix.shape)
        return maps[channel, iy, ix]

    # Weight products in grid_sample's order (north-west, north-east,
    # south-west, south-east), so float32 rounding matches.
    value = (corner(0, 0) * ((1.0 - fx) * (1.0 - fy)) + corner(1, 0) * (fx * (1.0 - fy))
             + corner(0, 1) * ((1.0 - fx) * fy) + corner(1, 1) * (fx * fy))
    finite = jnp.isfinite(pts[..., 0]) & jnp.isfinite(pts[..., 1])
    return jnp.where(finite, value, jnp.nan).astype(maps.dtype)
