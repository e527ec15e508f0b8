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

from jaxcodecs.ops.maxima import first_where
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


def _argmin_and_min(x: jnp.ndarray, flag: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
    """The first index of the minimum of a vector, the minimum and ``flag``
    there, in one reduction (no NaN)."""
    index = jax.lax.broadcasted_iota(jnp.int32, x.shape, 0)

    def smaller(a, b):
        take_b = (b[0] < a[0]) | ((b[0] == a[0]) & (b[1] < a[1]))
        return tuple(jnp.where(take_b, u, v) for u, v in zip(b, a))

    value, first, flag = jax.lax.reduce((x, index, flag), (jnp.asarray(jnp.inf, x.dtype), jnp.int32(x.shape[0]), False),
                                        smaller, (0,))
    return first, value, flag


# Rows of the solver's packed loop state, one vector over the slots each.
# A settled slot is marked by minv = -inf (a row fewer to carry and update).
_V, _MINV, _POTENTIAL, _OWNER, _WAY, _SCALARS = range(6)


def _solve_wide(cost, row_valid, col_valid, *, rows_on_tie: bool, leading_columns) -> jnp.ndarray:
    """:func:`_solve` for ``R <= C``.

    The side augmented ("lines") has at most ``R`` valid members: the rows,
    or, when there are fewer valid columns than valid rows, the valid
    columns in order (the first ones when ``leading_columns`` counts them).
    The other side ("slots") has at most ``C``. One table of line costs is
    built per problem, so every search step reads one row of it, whichever
    side is augmented. Each iteration of the loop is one step of the current
    line's Dijkstra search or of its augmenting path's write-back.
    """
    num_rows, num_cols = cost.shape
    if cost.dtype.itemsize < 4:
        cost = cost.astype(jnp.float32)  # potentials in at least single precision
    dtype = cost.dtype
    bits = jnp.int64 if dtype.itemsize == 8 else jnp.int32
    inf = jnp.asarray(jnp.inf, dtype)
    # Counted in float32 (exact): XLA:CPU unrolls an integer sum of a mask
    # into several times the code of a float one, and compile time follows
    # the code (benchmarks/NOTES.md, "Compile time").
    valid_rows = jnp.sum(row_valid, dtype=jnp.float32).astype(jnp.int32)
    valid_cols = jnp.sum(col_valid) if leading_columns is None else leading_columns
    flip = valid_rows > valid_cols if rows_on_tie else valid_rows >= valid_cols  # augment the columns
    lines = np.arange(num_rows, dtype=np.int32)  # constants, not iota kernels
    if leading_columns is not None:
        line_columns = cost[:, :num_rows]
    else:
        column_of_line = jnp.argsort(~col_valid, stable=True)[:num_rows].astype(jnp.int32)
        line_columns = jnp.take(cost, column_of_line, axis=1)
    # Slot j + 1 is slot j; slot 0 is the virtual start of each search; at
    # least three slots (the last row of the loop state holds three scalars),
    # rounded up to a multiple of 8 (the extra slots never open): the loop's
    # state update then vectorises without a remainder, less code to compile.
    size = -(-max(num_cols + 1, 3) // 8) * 8
    # Only the first R slots differ between the orientations (a flipped
    # line's slots are the R rows): the rest of the table is the costs or
    # zeros, and no transposed read reaches it. Slot 0, the virtual one,
    # costs inf: never a candidate.
    table = jnp.concatenate([jnp.pad(jnp.where(flip, line_columns.T, cost[:, :num_rows]), ((0, 0), (1, 0)),
                                     constant_values=inf),
                             jnp.where(flip, jnp.zeros((), dtype), cost[:, num_rows:]),
                             jnp.zeros((num_rows, size - 1 - num_cols), dtype)], axis=1)  # (lines, slots)
    line_valid = jnp.where(flip, lines < valid_cols, row_valid)
    open_slot = jnp.where(flip, jnp.pad(row_valid, (1, size - 1 - num_rows)), jnp.pad(col_valid, (1, size - 1 - num_cols)))

    # Start from the line minima as potentials and give each slot to the
    # first line whose cheapest slot it is: zero reduced cost, optimal for
    # the lines it covers. Only the lines left out are augmented; on
    # well-separated problems that is none.
    masked = jnp.where(open_slot[None, :], table, inf)
    minimum = jnp.min(masked, axis=1)
    # First index of the minimum by compare-and-min (an argmin is a slow
    # scalar reduction on XLA:CPU); no NaN reaches these costs.
    cheapest = first_where(masked == minimum[:, None], size - 1, float_index=True)
    earlier = np.tri(num_rows, k=-1, dtype=bool)  # [i, j]: j comes before i
    taken = jnp.any(earlier & line_valid[None, :] & (cheapest[None, :] == cheapest[:, None]), axis=1)
    seated = line_valid & ~taken
    pending = line_valid & taken
    potential = jnp.where(line_valid, minimum, 0).astype(dtype)  # of each line

    # The state's rows are put together by selects against literal arrays
    # of row and slot numbers, not a stack of rows or a broadcast iota: LLVM
    # would emit a loop per row (or unswitch one on each row condition),
    # several times the code to compile (benchmarks/NOTES.md). Every row's
    # expression is then evaluated at every element, a few percent of the
    # decode's run time.
    kind = np.repeat(np.arange(6, dtype=np.int32)[:, None], size, axis=1)
    slot_of = np.repeat(np.arange(size, dtype=np.int32)[None, :], 6, axis=0)

    def assemble(rows):
        out = jnp.broadcast_to(jnp.asarray(rows[-1], bits), (6, size))
        for r in range(len(rows) - 2, -1, -1):
            out = jnp.where(kind == r, jnp.asarray(rows[r], bits), out)
        return out

    # next_pending[i]: the first pending line from line i on (R: none), so
    # that finding the next search's line is one read, not a reduction
    # inside the loop.
    next_pending = jnp.min(jnp.where(pending[None, :] & (lines[None, :] >= lines[:, None]), lines[None, :], num_rows),
                           axis=1)
    next_pending = jnp.concatenate([next_pending, jnp.full((1,), num_rows, next_pending.dtype)])

    def fresh(owner_, potential_):
        # Before the next search: the first pending line after the one the
        # virtual slot holds (slot 0 holds line + 1, 0 before the first
        # search) starts there, with its potential.
        after = next_pending[jnp.clip(owner_[0], 0, num_rows)]
        first = np.arange(size) == 0
        start = potential[jnp.minimum(after, num_rows - 1)]
        return (jnp.where(first, jnp.where(after < num_rows, after + 1, 0).astype(owner_.dtype), owner_),
                jnp.where(first, start, potential_))

    # The whole loop state is one integer array (floats by their bits):
    # under ``vmap`` every carried array is selected and copied on each
    # iteration, one kernel each. A slot's potential is that of the line
    # holding it (each line holds at most one slot), so the potentials move
    # with the write-back and the search updates them elementwise;
    # single-element writes are selects against an iota, not scatters.
    def body(state):
        slot_ids = jnp.arange(size)
        as_float = lambda row: jax.lax.bitcast_convert_type(row, dtype)  # noqa: E731
        v_, minv, potential_ = as_float(state[_V]), as_float(state[_MINV]), as_float(state[_POTENTIAL])
        owner_, way, used = state[_OWNER], state[_WAY], minv == -inf
        back, col, iteration = (state[_SCALARS, i] for i in range(3))
        back = back > 0
        at_col = state[:, col]
        # A search step: settle ``col``, relax the slots reachable from its
        # line, move to the nearest unsettled slot.
        used_s = used | (slot_ids == col)
        row = jax.lax.dynamic_index_in_dim(table, jnp.maximum(at_col[_OWNER] - 1, 0).astype(jnp.int32), 0, False)
        reduced = row - as_float(at_col[_POTENTIAL]) - v_  # inf at the virtual slot
        # The unsettled open slots, ``open & ~used_s``, written once for the
        # new state and once, differently, for the search's minimum, so that
        # no mask is shared between the kernels that read them (XLA would
        # keep a shared one in a kernel and a buffer of its own).
        free = open_slot & ~used_s
        better = free & (reduced < minv)
        minv_s = jnp.where(better, reduced, minv)
        way_s = jnp.where(better, col, way)
        searched = open_slot & ~used & (slot_ids != col)
        candidates = jnp.where(searched & (reduced < minv), reduced, jnp.where(searched, minv, inf))
        nxt, delta, found = _argmin_and_min(candidates, owner_ == 0)
        potential_s = jnp.where(used_s, potential_ + delta, potential_)
        v_s = jnp.where(used_s, v_ - delta, v_)
        minv_s = jnp.where(used_s, -inf, jnp.where(free, minv_s - delta, minv_s))
        # A write-back step along the augmenting path: the slot takes the
        # line (and its potential) of the previous slot on the path.
        prev = at_col[_WAY]
        at_prev = state[:, prev]
        here = slot_ids == col
        owner_b = jnp.where(here, at_prev[_OWNER], owner_)
        potential_b = jnp.where(here, as_float(at_prev[_POTENTIAL]), potential_)
        done = prev == 0
        owner_n, potential_n = fresh(owner_b, potential_b)
        pick = lambda b_value, s_value: jnp.where(back, b_value, s_value)  # noqa: E731
        scalars = jnp.where(slot_of == 0, pick(~done, found).astype(bits), jnp.where(
            slot_of == 1, pick(prev, nxt).astype(bits), jnp.where(slot_of == 2, iteration + 1, 0).astype(bits)))
        return assemble([
            jax.lax.bitcast_convert_type(pick(v_, v_s), bits),
            jax.lax.bitcast_convert_type(pick(jnp.where(done, inf, minv), minv_s), bits),
            jax.lax.bitcast_convert_type(pick(jnp.where(done, potential_n, potential_b), potential_s), bits),
            pick(jnp.where(done, owner_n, owner_b), owner_),
            pick(way, way_s),
            scalars,
        ])

    # The seated lines hold their cheapest slots, with their potentials.
    holds = seated[:, None] & (cheapest[:, None] == np.arange(size)[None, :])
    owner = jnp.max(jnp.where(holds, lines[:, None] + 1, 0), axis=0).astype(bits)
    owner, held = fresh(owner, jnp.where(owner > 0, potential[jnp.maximum(owner - 1, 0)], 0).astype(dtype))
    state = jnp.where(kind == _OWNER, owner[None, :], jnp.where(
        kind == _POTENTIAL, jax.lax.bitcast_convert_type(held, bits)[None, :], jnp.where(
            kind == _MINV, jax.lax.bitcast_convert_type(inf, bits), 0).astype(bits)))
    # Each search settles at most ``C`` slots and each path is at most as
    # long: the bound only guards against a non-terminating loop.
    limit = 2 * (num_cols + 1) * (num_rows + 1)
    # The loop runs while a search holds the virtual slot.
    final = jax.lax.while_loop(lambda s: (s[_OWNER, 0] > 0) & (s[_SCALARS, 2] < limit), body, state)
    owner = final[_OWNER, 1:num_cols + 1].astype(jnp.int32) - 1
    # owner[j]: the line matched to slot j. Back to a column per row.
    col_of_row = first_where(owner[None, :] == lines[:, None], -1, float_index=True)
    line_of_row = owner[:num_rows]
    if leading_columns is None:
        col_of_row_flipped = jnp.where(line_of_row >= 0, column_of_line[jnp.maximum(line_of_row, 0)], -1)
    else:  # line i is column i
        col_of_row_flipped = jnp.where(line_of_row >= 0, line_of_row, -1)
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
    worst = jnp.max(jnp.where(jnp.isfinite(cost) & both, jnp.abs(cost), jnp.zeros_like(cost)))
    # (The same values as ``where(finite & both, cost, where(both, ...))``,
    # nested so that no (R, C) mask is shared between the two: XLA would
    # keep a shared one in a kernel and a buffer of its own.)
    cost = jnp.where(both, jnp.where(jnp.isfinite(cost), cost, 2 * worst + 1), jnp.zeros_like(cost))
    return _solve(cost, row_valid, col_valid, leading_columns)
