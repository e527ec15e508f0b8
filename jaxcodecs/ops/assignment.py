"""Fixed-size linear assignment, the matching step of bottom-up grouping.

Bottom-up decoders match the candidates of one keypoint type to the groups
(people) found so far: a minimum-cost matching in which as many pairs as
possible are formed. The problem sizes vary per image, the array shapes may
not, so the solver here takes a cost matrix of fixed shape plus masks of the
rows and columns that take part, and runs under ``jax.jit`` and ``jax.vmap``.

The algorithm is the shortest-augmenting-path form of the Hungarian method
(Kuhn 1955; Jonker and Volgenant 1987): the smaller side is augmented one
member at a time, each by a Dijkstra search over the other side with dual
potentials. Every step of a search is one vector operation over a side, so
the sequential work is ``min(rows, cols)`` augmentations of a few steps each
on typical problems (an unmatched column is usually reached at once). Masked
rows and columns are left out entirely (no large stand-in costs, which would
wipe out float32 resolution); both orientations are solved with the same
code, so "more rows than columns" needs no padding.

The function is jitted (its loops compile once per shape, also when called
eagerly).

Why not ``optax.assignment.hungarian_algorithm``: it matches every row of the
smaller *shape*, so the masked problem of varying size needs padding costs
(MMPose pads with ``1e10``) that, in float32 potentials, absorb differences
below ~1e3 and change the matching; and it always runs one augmentation per
row of the shape rather than per row that takes part.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxcodecs.ops.maxima import first_index
from jaxcodecs.ops.numerics import constant_like
from jaxcodecs.ops.validation import as_float_array, check_rank

__all__ = ["linear_assignment"]


def _solve(cost: jnp.ndarray, row_valid: jnp.ndarray, col_valid: jnp.ndarray, leading_columns) -> jnp.ndarray:
    """The column matched to each row of ``cost (R, C)`` (-1: none), by
    augmenting the smaller valid side (the rows on equal counts).
    ``leading_columns`` (a traced count, or None) says that the valid columns
    are the first ones."""
    num_rows, num_cols = cost.shape
    if num_rows <= num_cols:
        return _solve_wide(cost, row_valid, col_valid, rows_on_tie=True, leading_columns=leading_columns)
    # A tall problem is solved transposed (the same lines and slots, so the
    # same matching), then read back per row.
    row_of_col = _solve_wide(cost.T, col_valid, row_valid, rows_on_tie=False, leading_columns=None)
    cols = np.arange(num_cols, dtype=np.int32)
    rows = np.arange(num_rows, dtype=np.int32)
    return jnp.max(jnp.where(row_of_col[None, :] == rows[:, None], cols[None, :], -1), axis=1)


def _solve_wide(cost, row_valid, col_valid, *, rows_on_tie: bool, leading_columns) -> jnp.ndarray:
    """:func:`_solve` for ``R <= C``.

    The side augmented ("lines") has at most ``R`` valid members: the rows,
    or, when there are fewer valid columns than valid rows, the valid
    columns in order (the first ones when ``leading_columns`` counts
    them). The other side ("slots") has
    at most ``C``. One ``(R, C)`` table of line costs is built per problem,
    so every search step reads one row of it, whichever side is augmented.
    Each iteration of the loop is one step of the current line's Dijkstra
    search or of its augmenting path's write-back.
    """
    num_rows, num_cols = cost.shape
    dtype = cost.dtype
    inf = jnp.asarray(jnp.inf, dtype)
    valid_rows = jnp.sum(row_valid)
    valid_cols = jnp.sum(col_valid) if leading_columns is None else leading_columns
    flip = valid_rows > valid_cols if rows_on_tie else valid_rows >= valid_cols  # augment the columns
    lines = np.arange(num_rows, dtype=np.int32)  # constants, not iota kernels
    if leading_columns is not None:
        column_of_line = jnp.asarray(lines)
    else:
        column_of_line = jnp.argsort(~col_valid, stable=True)[:num_rows].astype(jnp.int32)
    by_column = jnp.pad(jnp.take(cost, column_of_line, axis=1).T, ((0, 0), (0, num_cols - num_rows)))
    table = jnp.where(flip, by_column, cost)  # (lines, slots)
    line_valid = jnp.where(flip, lines < valid_cols, row_valid)
    slot_valid = jnp.where(flip, jnp.pad(row_valid, (0, num_cols - num_rows)), col_valid)

    # Start from the line minima as potentials and give each slot to the
    # first line whose cheapest slot it is: zero reduced cost, optimal for
    # the lines it covers. Only the lines left out are augmented; on
    # well-separated problems that is none.
    masked = jnp.where(slot_valid[None, :], table, inf)
    minimum = jnp.min(masked, axis=1)
    # First index of the minimum by compare-and-min (an argmin is a slow
    # scalar reduction on XLA:CPU); no NaN reaches these costs.
    cheapest = first_index(masked, minimum)
    earlier = jnp.asarray(np.tri(num_rows, k=-1, dtype=bool))  # [i, j]: j comes before i
    taken = jnp.any(earlier & line_valid[None, :] & (cheapest[None, :] == cheapest[:, None]), axis=1)
    seated = line_valid & ~taken
    pending = line_valid & taken
    count = jnp.sum(pending).astype(jnp.int32)
    # Slot j + 1 is slot j; slot 0 is the virtual start of each search.
    # Line i + 1 is line i; index 0 (none) and R + 1 absorb updates.
    slot_ids = np.arange(num_cols + 1, dtype=np.int32)
    owner = jnp.max(jnp.where(seated[:, None] & (cheapest[:, None] + 1 == slot_ids[None, :]), lines[:, None] + 1, 0),
                    axis=0)
    open_slot = jnp.concatenate([jnp.zeros((1,), bool), slot_valid])
    u = jnp.concatenate([jnp.zeros((1,), dtype), jnp.where(line_valid, minimum, 0).astype(dtype),
                         jnp.zeros((1,), dtype)])

    def fresh(owner_):
        # Before the next search: the first pending line after the one the
        # virtual slot holds (slot 0 holds line + 1, 0 before the first
        # search) starts there, found by a compare-and-min.
        after = jnp.min(jnp.where(pending & (lines >= owner_[0]), lines, num_rows))
        return jnp.where(slot_ids == 0, jnp.where(after < num_rows, after + 1, 0), owner_)

    # The loop state is packed into four arrays (scalars; u; v and minv;
    # owner, way and used): under ``vmap`` every carried array is selected
    # and often copied on each iteration, one kernel each. Single-element
    # writes are selects against an iota rather than scatters: a scatter
    # into a carried vector whose old value is still read makes XLA copy
    # the vector every iteration.
    def body(state):
        scalars, u_, floats, ints = state
        step, back, col, iteration = scalars[0], scalars[1] > 0, scalars[2], scalars[3]
        v_, minv = floats[0], floats[1]
        owner_, way, used = ints[0], ints[1], ints[2] > 0
        # A search step: settle ``col``, relax the slots reachable from its
        # line, move to the nearest unsettled slot.
        used_s = used | (slot_ids == col)
        current = owner_[col]
        row = jax.lax.dynamic_index_in_dim(table, jnp.maximum(current - 1, 0), 0, False)
        reduced = jnp.concatenate([jnp.full((1,), inf, dtype), row - u_[current] - v_[1:]])
        free = open_slot & ~used_s
        better = free & (reduced < minv)
        minv_s = jnp.where(better, reduced, minv)
        way_s = jnp.where(better, col, way)
        candidates = jnp.where(free, minv_s, inf)
        nxt = jnp.argmin(candidates).astype(jnp.int32)
        delta = candidates[nxt]
        u_s = u_.at[jnp.where(used_s, owner_, num_rows + 1)].add(delta)
        v_s = jnp.where(used_s, v_ - delta, v_)
        minv_s = jnp.where(free, minv_s - delta, minv_s)
        found = owner_[nxt] == 0
        # A write-back step along the augmenting path.
        prev = way[col]
        owner_b = jnp.where(slot_ids == col, owner_[prev], owner_)
        done = prev == 0
        owner_n = fresh(owner_b)
        pick = lambda b_value, s_value: jnp.where(back, b_value, s_value)  # noqa: E731
        scalars = jnp.stack([step + (back & done), pick(~done, found).astype(jnp.int32), pick(prev, nxt),
                             iteration + 1])
        floats = jnp.stack([pick(v_, v_s), pick(jnp.where(done, inf, minv), minv_s)])
        ints = jnp.stack([pick(jnp.where(done, owner_n, owner_b), owner_), pick(way, way_s),
                          pick(jnp.where(done, False, used), used_s).astype(jnp.int32)])
        return scalars, pick(u_, u_s), floats, ints

    owner = fresh(owner)
    zero = constant_like(0, cost, (num_cols + 1,), jnp.int32)
    state = (constant_like(0, cost, (4,), jnp.int32), u, jnp.stack([zero.astype(dtype), zero.astype(dtype) + inf]),
             jnp.stack([owner, zero, zero]))
    # Each search settles at most ``C`` slots and each path is at most as
    # long: the bound only guards against a non-terminating loop.
    limit = 2 * (num_cols + 1) * (num_rows + 1)
    owner = jax.lax.while_loop(lambda s: (s[0][0] < count) & (s[0][3] < limit), body, state)[3][0][1:] - 1
    # owner[j]: the line matched to slot j. Back to a column per row.
    slots = np.arange(num_cols, dtype=np.int32)
    col_of_row = jnp.max(jnp.where(owner[None, :] == lines[:, None], slots[None, :], -1), axis=1)
    line_of_row = owner[:num_rows]
    col_of_row_flipped = jnp.where(line_of_row >= 0, column_of_line[jnp.maximum(line_of_row, 0)], -1)
    return jnp.where(flip, col_of_row_flipped, col_of_row)


@jax.jit
def linear_assignment(
    cost: jnp.ndarray,
    row_valid: jnp.ndarray | None = None,
    col_valid: jnp.ndarray | None = None,
) -> jnp.ndarray:
    """Minimum-cost maximum-cardinality matching between valid rows and
    valid columns of a fixed-shape cost matrix.

    Exactly ``min(#valid rows, #valid columns)`` pairs are formed, and among
    such matchings the total cost is minimal (the rectangular linear
    assignment problem). Masked entries never take part, whatever their
    cost (they may be ``inf`` or NaN). Among equally cheap matchings the
    result is deterministic but otherwise unspecified.

    Args:
      cost: ``(R, C)`` float costs; only entries of valid rows and columns
        are read. A non-finite one among them counts as dearer than every
        finite cost.
      row_valid: ``(R,)`` bool, default all rows.
      col_valid: ``(C,)`` bool, default all columns.

    Returns:
      ``(R,)`` int32: the column matched to each row, ``-1`` for a row left
      unmatched (or masked).
    """
    cost = as_float_array(cost, "cost")
    check_rank(cost, 2, "cost", "(R, C)")
    num_rows, num_cols = cost.shape
    if num_rows == 0 or num_cols == 0:
        return jnp.full((num_rows,), -1, jnp.int32)
    row_valid = jnp.ones(num_rows, bool) if row_valid is None else jnp.asarray(row_valid, bool)
    col_valid = jnp.ones(num_cols, bool) if col_valid is None else jnp.asarray(col_valid, bool)
    if row_valid.shape != (num_rows,) or col_valid.shape != (num_cols,):
        raise ValueError(
            f"`row_valid` / `col_valid` must have shapes ({num_rows},) / ({num_cols},), got "
            f"{row_valid.shape} / {col_valid.shape}."
        )
    return _assign(cost, row_valid, col_valid)


def _assign(cost, row_valid, col_valid, *, leading_columns=None) -> jnp.ndarray:
    """:func:`linear_assignment` on checked arrays. ``leading_columns``, a
    count, promises that the valid columns are the first ones (the groups
    in use of a pool), which spares finding and counting them."""
    # Masked entries are never chosen, but a search reads whole rows: zero
    # them so that a NaN cannot reach the potentials. A non-finite valid
    # cost becomes dearer than any finite one (the search needs finite
    # reduced costs to reach a free column).
    both = row_valid[:, None] & col_valid[None, :]
    finite = jnp.isfinite(cost) & both
    worst = jnp.max(jnp.where(finite, jnp.abs(cost), jnp.zeros_like(cost)))
    cost = jnp.where(finite, cost, jnp.where(both, 2 * worst + 1, jnp.zeros_like(cost)))
    return _solve(cost, row_valid, col_valid, leading_columns)
