"""Grouping keypoint candidates into people by their embedding tags
(Associative Embedding, Newell et al., NeurIPS 2017).

A bottom-up model predicts, per keypoint type, a heatmap and a tag map. The
peaks of a keypoint type are matched to the groups (people) found so far by
the distance of their tags to each group's mean tag; a peak that matches no
group opens one. Here every step runs at a fixed shape under ``jax.jit`` and
``jax.vmap``: groups live in a pool of static capacity with a count of those
in use, and the matching is :func:`~jaxcodecs.ops.linear_assignment`.

Shapes: ``K`` keypoint types, ``T`` candidates per type (the top-k peaks),
``L`` tag dimensions, ``G`` pool capacity, ``(H, W)`` map size.

Both functions are jitted (their loops compile once per shape and static
option, also when called eagerly); inside an outer ``jit`` they are inlined.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxcodecs.ops.assignment import _assign
from jaxcodecs.ops.maxima import first_where
from jaxcodecs.ops.numerics import constant_like, divide_exact
from jaxcodecs.ops.validation import as_float_array, check_rank

__all__ = ["TagGroups", "group_keypoints_by_tags", "fill_missing_keypoints_by_tags"]


class TagGroups(NamedTuple):
    """The groups found by :func:`group_keypoints_by_tags`.

    Attributes:
      keypoints: ``(G, K, 2)`` candidate locations; zeros where a group has
        no keypoint of that type.
      scores: ``(G, K)`` the candidates' heatmap values; 0 where missing.
      count: int32 scalar, the groups in use (the first ``count`` rows, in
        the order they were opened).
      overflow: bool scalar, true when more groups were opened than the
        pool holds (those were dropped; rerun with a larger ``capacity``).
    """

    keypoints: jnp.ndarray
    scores: jnp.ndarray
    count: jnp.ndarray
    overflow: jnp.ndarray


def _reduction_blocks(size: int) -> tuple[int, ...]:
    """A shape of dimensions of at most 32 whose product is at least
    ``size`` (by less than its block of 32^(n-1))."""
    inner = 0
    while 32 ** (inner + 1) < size:
        inner += 1
    return (-(-size // 32 ** inner),) + (32,) * inner


def _tag_cost(distance: jnp.ndarray, values: jnp.ndarray) -> jnp.ndarray:
    # The reference cost: tag distance in whole units (rounded half to
    # even) dominates, the heatmap value breaks ties in favour of strong peaks.
    return jnp.round(distance) * 100.0 - values


@functools.partial(jax.jit, static_argnames=("order", "capacity"))
def group_keypoints_by_tags(
    values: jnp.ndarray,
    locations: jnp.ndarray,
    tags: jnp.ndarray,
    order: Sequence[int],
    value_threshold,
    tag_threshold,
    capacity: int,
) -> TagGroups:
    """Greedy keypoint-by-keypoint grouping by tag distance.

    Keypoint types are visited in ``order``. A type's candidates are those
    with ``value > value_threshold`` (``values`` is sorted descending, so
    they come first). While no group exists, each candidate opens one.
    Otherwise the candidates are matched to the groups by a minimum-cost
    maximum-cardinality assignment with cost ``round(d) * 100 - value``,
    ``d`` the Euclidean distance of the candidate's tag to the group's mean
    tag; a matched pair joins when ``d < tag_threshold``, and every other
    candidate opens a new group, in candidate order.

    MMPose 1.3.2 keys its groups by the first tag component of the candidate
    that opened them: a candidate that would open a group whose key already
    exists instead overwrites that group's keypoint of this type and
    restarts its tag list. This is reproduced (it is exact only for exactly
    equal float tags, e.g. synthetic integer tags).

    Args:
      values: ``(K, T)`` candidate heatmap values, each row descending.
      locations: ``(K, T, 2)`` candidate ``(x, y)``.
      tags: ``(K, T, L)`` candidate tags.
      order: static permutation of ``range(K)``, the visiting order.
      value_threshold, tag_threshold: scalars (may be traced).
      capacity: static size ``G`` of the group pool; ``K * T`` can never
        overflow. Groups opened beyond it are dropped and ``overflow`` is
        set: the groups kept are then not those of a larger pool (a dropped
        group no longer competes for later candidates).

    Returns:
      :class:`TagGroups` with ``G = capacity`` rows.
    """
    values = as_float_array(values, "values")
    check_rank(values, 2, "values", "(K, T)")
    locations = jnp.asarray(locations, values.dtype)
    tags = jnp.asarray(tags, values.dtype)
    check_rank(tags, 3, "tags", "(K, T, L)")
    joints, opened = _group_table(_candidate_table(values, locations, tags), order, value_threshold,
                                  tag_threshold, capacity, like=values)
    return _tag_groups(joints, opened, capacity)


def _tag_groups(joints: jnp.ndarray, opened: jnp.ndarray, capacity: int) -> TagGroups:
    """:class:`TagGroups` from :func:`_group_table`'s joints ``(..., G, K, 3)``
    and counts of groups opened."""
    return TagGroups(joints[..., :2], joints[..., 2], jnp.minimum(opened, capacity), opened > capacity)


def _candidate_table(values: jnp.ndarray, locations: jnp.ndarray, tags: jnp.ndarray) -> jnp.ndarray:
    """The candidates of :func:`group_keypoints_by_tags` as one ``(K, T',
    5 + L)`` table, rows ``(x, y, value, tag..., 1, 0)``: each entry also
    carries what it adds to a pool row (its tag, a count of one, nothing to
    the key), so a step writes the pool as one expression of whole rows.

    ``T`` is padded to a multiple of 8 with candidates that are never valid
    (value -inf): XLA:CPU compiles arrays of such lengths to much less code
    (no loop remainders, no fully unrolled short rows).
    """
    pad = -values.shape[-1] % 8
    if pad:
        values = jnp.pad(values, ((0, 0), (0, pad)), constant_values=-jnp.inf)
        locations = jnp.pad(locations, ((0, 0), (0, pad), (0, 0)))
        tags = jnp.pad(tags, ((0, 0), (0, pad), (0, 0)))
    return jnp.concatenate([locations, values[..., None], tags, jnp.ones_like(values)[..., None],
                            jnp.zeros_like(values)[..., None]], axis=-1)


def _group_table(table, order, value_threshold, tag_threshold, capacity: int, *, like) -> tuple:
    """:func:`group_keypoints_by_tags` on a :func:`_candidate_table`:
    ``joints (G, K, 3)`` (location and value) and the number of groups
    opened (int32). ``like`` is an array of the same problem that the
    initial state is derived from (so that it is sharded like the batch)."""
    num_types, num_candidates, width = table.shape
    dim = width - 5
    dtype = table.dtype
    value_threshold = jnp.asarray(value_threshold, dtype)
    tag_threshold = jnp.asarray(tag_threshold, dtype)
    # The pool is padded to a multiple of 8 as well; the padded groups are
    # never in use.
    pool_size = -(-capacity // 8) * 8
    # Static index vectors are NumPy constants: an index computed in the
    # program would be a kernel of its own.
    slots = np.arange(pool_size, dtype=np.int32)
    rows = np.arange(num_candidates, dtype=np.int32)
    itself = np.eye(num_candidates, dtype=bool)
    first_half = np.arange(2 * num_candidates) < num_candidates
    visit = np.asarray(order, np.int32)
    table = table[visit]  # each step reads one row: location, value, tag, 1, 0
    key_column = np.arange(dim + 2) == dim + 1

    # A group is a row of ``pool``: its tags' sum, their count and its key
    # (one carried array, one kernel to update).
    def step(state, entries):
        pool, opened = state
        count = jnp.minimum(opened, capacity)
        tag_sum, tag_count, keys = pool[:, :dim], pool[:, dim], pool[:, dim + 1]
        loc_val, tag = entries[:, :3], entries[:, 3:3 + dim]
        val = loc_val[:, 2]
        valid = val > value_threshold
        active = slots < count
        # Correctly rounded on every backend: the mean decides round(d)
        # and d < tag_threshold, where synthetic tags meet exact ties.
        mean = divide_exact(tag_sum, jnp.maximum(tag_count, 1)[:, None])
        distance = jnp.sqrt(jnp.sum((tag[:, None, :] - mean[None, :, :]) ** 2, axis=-1))
        match = _assign(_tag_cost(distance, val[:, None]), valid, active, leading_columns=count)
        matched_distance = jnp.take_along_axis(distance, jnp.maximum(match, 0)[:, None], axis=1)[:, 0]
        # Opening under an existing key writes into that group instead; so
        # does opening under a key opened earlier in this step.
        key = tag[:, 0]
        existing = first_where(active[None, :] & (keys[None, :] == key[:, None]), float_index=True)
        # What each candidate does, as one code (one array for the steps
        # below to read): 0 nothing, 1 joins its match, 2 opens into an
        # existing key, 3 opens afresh.
        joins = valid & (match >= 0) & (matched_distance < tag_threshold)
        action = jnp.where(valid, jnp.where(joins, 1, jnp.where(existing < capacity, 2, 3)), 0)
        # Computed once, into a buffer: XLA:CPU would otherwise repeat this
        # code inside each (T, T) reduction that reads it below (first_of,
        # rank, the targets), the larger part of their code and of its
        # compile time. It does not copy an integer division into its
        # consumers; dividing by a one it cannot fold (``opened`` is never
        # negative) keeps the code apart.
        action = jax.lax.div(action, (opened >= 0).astype(action.dtype))
        joins, opens, fresh = action == 1, action >= 2, action == 3
        first_of = jnp.min(jnp.where((fresh[None, :] & (key[None, :] == key[:, None])) | itself, rows[None, :],
                                     num_candidates), axis=1)
        first = fresh & (first_of == rows)
        # A new group's slot: the groups opened before its first candidate.
        rank = jnp.sum(first[None, :] & (rows[None, :] < first_of[:, None]), axis=1)
        slot = jnp.choose(action, [capacity, match, existing, count + rank], mode='clip')
        slot = jnp.where(slot < capacity, slot, pool_size)  # none, or past the pool (dropped)

        # The last candidate row opening and joining each slot (-1: none),
        # in one scatter into one vector, openings then joins (comparing
        # every row with every slot would cost 2 T G per step; a flat
        # scatter's index is half the code of a (2, G + 1) one's).
        # (Two halves by a select against a literal, not a concatenation:
        # less code to compile.)
        both = lambda v: jnp.broadcast_to(v, (2,) + v.shape).reshape(-1)  # noqa: E731
        target = jnp.where(first_half, jnp.where(both(opens), both(slot), pool_size),
                           jnp.where(both(joins), both(slot), pool_size) + pool_size + 1)
        last = jnp.full((2 * (pool_size + 1),), -1, jnp.int32).at[target].max(np.tile(rows, 2))
        reset, joined = last[:pool_size], last[pool_size + 1:-1]
        writer = jnp.maximum(reset, joined)  # every valid candidate opens or joins
        picked = entries[jnp.maximum(jnp.stack([writer, reset, joined]), 0)]  # (3, G, 5 + L), one gather
        # Each type is visited once, so this step's writes are the whole
        # column of this type: an output of the step, not carried state.
        column = jnp.where((writer >= 0)[:, None], picked[0, :, :3], jnp.zeros((), dtype))
        # A reset group restarts from its opener's tag, count and key (an
        # existing group's key is rewritten with an equal value), a joined
        # one adds its joiner's tag and count; both when the join came after
        # the reset. One elementwise expression of (G, L + 2) rows, not a
        # concatenation of columns (less code to compile).
        joined_row = jnp.where((joined >= 0)[:, None], picked[2, :, 3:], jnp.zeros((), dtype))
        after_reset = (joined > reset).astype(dtype)
        reset_row = jnp.where(key_column, picked[1, :, 3:4], picked[1, :, 3:] + after_reset[:, None] * joined_row)
        pool = jnp.where((reset >= 0)[:, None], reset_row, pool + joined_row)
        # Groups opened past the pool are dropped, and counted.
        opened = opened + jnp.sum(first, dtype=jnp.float32).astype(opened.dtype)  # exact
        return (pool, opened), column

    # Data-dependent initial state (constant_like): sharded like the batch
    # under a batch-sharded vmap, as the state the steps make.
    state = (
        constant_like(0.0, like, (pool_size, dim + 2), dtype),
        constant_like(0, like, (), jnp.int32),
    )
    (_, opened), columns = jax.lax.scan(step, state, table)
    # columns[i] belongs to keypoint type order[i]; put the types back in order.
    if np.any(visit != np.arange(num_types)):
        columns = columns[np.argsort(visit)]
    return jnp.moveaxis(columns, 0, 1)[:capacity], opened  # (G, K, 3), ()


@jax.jit
def fill_missing_keypoints_by_tags(
    keypoints: jnp.ndarray,
    scores: jnp.ndarray,
    valid: jnp.ndarray,
    heatmaps: jnp.ndarray,
    tags: jnp.ndarray,
    cost_maps: jnp.ndarray | None = None,
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Places each group's missing keypoints (score ``<= 0``) at the pixel
    whose tag is nearest to the group's tag, strong heatmap values breaking
    ties.

    A group's tag is the mean of the tag maps read at its detected
    keypoints (truncated to pixels, clipped into the map). For a missing
    keypoint ``k`` the pixel minimises ``round(|tag_k(p) - tag|) * 100 -
    cost_maps[k](p)`` (first in row-major order); its score is
    ``cost_maps[k]`` there. A group with no detected keypoint is left as is.

    Only the (group, keypoint) pairs that need it are computed: a loop runs
    once per missing keypoint of a valid group, each step one map.

    Args:
      keypoints: ``(M, K, 2)`` in heatmap pixels.
      scores: ``(M, K)``.
      valid: ``(M,)`` bool, the groups in use.
      heatmaps: ``(K, H, W)``.
      tags: ``(L * K, H, W)``, channel ``l * K + k`` = tag dimension ``l`` of
        keypoint ``k``.
      cost_maps: ``(K, H, W)`` maps that score the filled pixels (default
        ``heatmaps``).

    Returns:
      ``keypoints (M, K, 2)`` and ``scores (M, K)`` with the missing ones
      filled (integer pixel locations).
    """
    keypoints = as_float_array(keypoints, "keypoints")
    scores = as_float_array(scores, "scores")
    heatmaps = as_float_array(heatmaps, "heatmaps")
    tags = as_float_array(tags, "tags")
    valid = jnp.asarray(valid, bool)
    check_rank(heatmaps, 3, "heatmaps", "(K, H, W)")
    num_groups, num_types = scores.shape
    _, height, width = heatmaps.shape
    dim = tags.shape[0] // num_types
    maps = heatmaps if cost_maps is None else as_float_array(cost_maps, "cost_maps")
    # Channel l * K + k of the tags is dimension l of keypoint k; read by
    # index, not by reshaping the maps (a batch-sharded jit refuses that).
    dims = num_types * jnp.arange(dim)
    detected = scores > 0
    x = jnp.clip(jnp.trunc(keypoints[..., 0]), 0, width - 1).astype(jnp.int32)
    y = jnp.clip(jnp.trunc(keypoints[..., 1]), 0, height - 1).astype(jnp.int32)
    read = tags[dims[:, None, None] + jnp.arange(num_types)[None, None, :], y[None], x[None]]  # (L, M, K)
    weight = detected.astype(tags.dtype)
    # A group's tag is divided out where the loop reads it: an (L, M)
    # division of its own is a large unrolled kernel to compile on XLA:CPU.
    tag_sum, detections = jnp.sum(read * weight, axis=-1), jnp.sum(weight, axis=-1)  # (L, M), (M,)
    tag_count = jnp.maximum(detections, 1)
    todo = valid[:, None] & ~detected & (detections > 0)[:, None]  # (no reduction of its own)
    # The pairs in row-major order, each step finding the next one by a
    # compare-and-min (no sort of the pairs, no table to read).
    num_pairs = num_groups * num_types
    pair_ids = np.arange(num_pairs, dtype=np.int32).reshape(num_groups, num_types)

    def next_pair(after):
        return jnp.min(jnp.where(todo & (pair_ids > after), pair_ids, num_pairs))

    # The maps are read as blocks of at most 32 pixels a side (a bitcast
    # when H * W is a multiple of the blocks): XLA:CPU reduces over such
    # dimensions in one kernel with the cost fused in, where a longer one is
    # split in two and its cost computed by a kernel of its own.
    pixels = height * width
    shape = _reduction_blocks(pixels)
    padded = math.prod(shape)

    def blocks(maps_, fill_value):
        flat = maps_.reshape(maps_.shape[0], pixels)
        if padded > pixels:
            flat = jnp.pad(flat, ((0, 0), (0, padded - pixels)), constant_values=fill_value)
        return flat.reshape((maps_.shape[0],) + shape)

    tag_blocks = blocks(tags, 0)
    cost_blocks = blocks(maps, -jnp.inf)  # padding costs +inf: never chosen first
    axes = tuple(range(-len(shape), 0))
    index = jnp.asarray(np.arange(padded, dtype=np.int32).reshape(shape))  # a literal, not a kernel

    # The loop only records the pixel chosen for each pair (-1: none); the
    # locations and scores are read once after it, in one gather, rather
    # than at every step.
    def fill(state):
        pair, chosen = state
        group, kind = jax.lax.div(pair, num_types), jax.lax.rem(pair, num_types)  # not negative
        group_tag = divide_exact(tag_sum[:, group], tag_count[group]).reshape((dim,) + (1,) * len(shape))
        distance = jnp.sqrt(jnp.sum((tag_blocks[dims + kind] - group_tag) ** 2, axis=0))
        cost = _tag_cost(distance, cost_blocks[kind])
        cost = jnp.where(jnp.isnan(cost), -jnp.inf, cost)  # NaN first, as the first minimum ranks it
        best = jnp.min(jnp.where(cost == jnp.min(cost, axis=axes), index, padded - 1), axis=axes)
        return next_pair(pair), jnp.where(pair_ids == pair, best, chosen)

    _, chosen = jax.lax.while_loop(lambda s: s[0] < num_pairs, fill,
                                   (next_pair(-1), constant_like(-1, scores, None, jnp.int32)))
    filled = chosen >= 0
    pixel = jnp.maximum(chosen, 0)  # a real pixel: padding costs +inf, never first
    # x and y of the pixel (not negative: C division, no floor fix-up), one
    # expression over both columns rather than a stack of two.
    pixel = pixel[..., None]
    location = jnp.where(np.arange(2) == 0, jax.lax.rem(pixel, width), jax.lax.div(pixel, width))
    location = location.astype(keypoints.dtype)
    score = maps.reshape(num_types, pixels)[np.arange(num_types)[None, :], pixel[..., 0]].astype(scores.dtype)
    keypoints = jnp.where(filled[..., None], location, keypoints)
    scores = jnp.where(filled, score, scores)
    return keypoints, scores
