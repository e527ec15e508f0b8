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

from jaxcodecs.ops.numerics import constant_like
from jaxcodecs.ops.validation import as_float_array, check_rank

__all__ = ["linear_assignment"]


def _augment_side(cost: jnp.ndarray, row_valid: jnp.ndarray, col_valid: jnp.ndarray,
                  active: jnp.ndarray) -> jnp.ndarray:
    """Matches every valid row of ``cost (P, Q)`` to a distinct valid column
    at minimum total cost (needs #valid rows <= #valid columns); returns the
    row matched to each column, ``(Q,)`` int32, -1 where none. With
    ``active`` false it does no search and returns its starting matching."""
    num_rows, num_cols = cost.shape
    dtype = cost.dtype
    inf = jnp.asarray(jnp.inf, dtype)
    rows = jnp.arange(num_rows, dtype=jnp.int32)
    # Start from the row minima as dual potentials and give each column to
    # the first row whose cheapest column it is: a matching of zero reduced
    # cost, optimal for the rows it covers. Only the rows left out are
    # augmented; on well-separated problems that is none.
    masked = jnp.where(col_valid[None, :], cost, inf)
    cheapest = jnp.argmin(masked, axis=1).astype(jnp.int32)
    row_min = jnp.where(row_valid, jnp.min(masked, axis=1), 0)
    claim = jnp.full((num_cols + 1,), num_rows, jnp.int32).at[
        jnp.where(row_valid, cheapest, num_cols)].min(rows)[:num_cols]
    seated = row_valid & (claim[cheapest] == rows)
    # Column j + 1 is column j; column 0 is the virtual start of each search.
    # Row r + 1 is row r; row 0 (no row) and row num_rows + 1 absorb updates.
    owner = jnp.concatenate([jnp.zeros((1,), jnp.int32), jnp.where(claim < num_rows, claim + 1, 0)])
    open_col = jnp.concatenate([jnp.zeros((1,), bool), col_valid])
    pending = row_valid & ~seated
    order = jnp.nonzero(pending, size=num_rows, fill_value=0)[0].astype(jnp.int32)
    count = jnp.where(active, jnp.sum(pending), 0)
    u = jnp.concatenate([jnp.zeros((1,), dtype), row_min.astype(dtype), jnp.zeros((1,), dtype)])
    v = jnp.zeros(num_cols + 1, dtype)

    def augment(state):
        step, u, v, owner = state
        owner = owner.at[0].set(order[step] + 1)

        def searching(carry):
            col, owner_, iteration = carry[4], carry[5], carry[7]
            return (owner_[col] != 0) & (iteration <= num_cols)

        def search(carry):
            # One Dijkstra step: settle column ``col``, relax the columns
            # reachable from its row, move to the nearest unsettled column.
            u_, v_, used, minv, col, owner_, way, iteration = carry
            used = used.at[col].set(True)
            current = owner_[col]
            reduced = jnp.concatenate([jnp.full((1,), inf, dtype), cost[current - 1] - u_[current] - v_[1:]])
            free = open_col & ~used
            better = free & (reduced < minv)
            minv = jnp.where(better, reduced, minv)
            way = jnp.where(better, col, way)
            candidates = jnp.where(free, minv, inf)
            nxt = jnp.argmin(candidates).astype(jnp.int32)
            delta = candidates[nxt]
            u_ = u_.at[jnp.where(used, owner_, num_rows + 1)].add(delta)
            v_ = jnp.where(used, v_ - delta, v_)
            minv = jnp.where(free, minv - delta, minv)
            return u_, v_, used, minv, nxt, owner_, way, iteration + 1

        # Loop state derived from the data (constant_like), so that under a
        # batch-sharded vmap it is sharded like the values the body makes.
        init = (u, v, constant_like(False, cost, (num_cols + 1,)), constant_like(jnp.inf, cost, (num_cols + 1,), dtype),
                constant_like(0, cost, (), jnp.int32), owner, constant_like(0, cost, (num_cols + 1,), jnp.int32),
                constant_like(0, cost, (), jnp.int32))
        u, v, _, _, col, owner, way, _ = jax.lax.while_loop(searching, search, init)

        def back(carry):
            col_, owner_ = carry
            prev = way[col_]
            return prev, owner_.at[col_].set(owner_[prev])

        _, owner = jax.lax.while_loop(lambda c: c[0] != 0, back, (col, owner))
        return step + 1, u, v, owner

    _, _, _, owner = jax.lax.while_loop(
        lambda s: s[0] < count, augment, (constant_like(0, cost, (), jnp.int32), u, v, owner))
    return owner[1:] - 1


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
    # Masked entries are never chosen, but a search reads whole rows: zero
    # them so that a NaN cannot reach the potentials. A non-finite valid
    # cost becomes dearer than any finite one (the search needs finite
    # reduced costs to reach a free column).
    both = row_valid[:, None] & col_valid[None, :]
    finite = jnp.isfinite(cost) & both
    worst = jnp.max(jnp.where(finite, jnp.abs(cost), jnp.zeros_like(cost)))
    cost = jnp.where(finite, cost, jnp.where(both, 2 * worst + 1, jnp.zeros_like(cost)))
    rows = jnp.sum(row_valid).astype(jnp.int32)
    cols = jnp.sum(col_valid).astype(jnp.int32)
    rows_side = rows <= cols
    # Augment from the smaller side; the other call does no search.
    owner_of_col = _augment_side(cost, row_valid, col_valid, rows_side)
    owner_of_row = _augment_side(cost.T, col_valid, row_valid, ~rows_side)
    from_cols = jnp.full((num_rows + 1,), -1, jnp.int32).at[
        jnp.where(owner_of_col >= 0, owner_of_col, num_rows)].set(jnp.arange(num_cols, dtype=jnp.int32))
    return jnp.where(rows_side, from_cols[:num_rows], owner_of_row)
