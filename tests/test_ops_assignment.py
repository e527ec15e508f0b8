"""ops.linear_assignment against SciPy's rectangular assignment solver."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from jaxcodecs import ops

SOLVE = jax.jit(ops.linear_assignment)


def _check(cost, row_valid, col_valid, matched):
    """``matched`` is a matching of valid rows to distinct valid columns of
    SciPy's cardinality and total cost on the valid block."""
    rows = np.nonzero(matched >= 0)[0]
    cols = matched[rows]
    assert row_valid[rows].all() and col_valid[cols].all()
    assert len(set(cols.tolist())) == len(cols)
    block = cost[np.ix_(row_valid, col_valid)]
    if block.size == 0:
        assert len(rows) == 0
        return
    best_rows, best_cols = linear_sum_assignment(block)
    assert len(rows) == len(best_rows) == min(block.shape)
    np.testing.assert_allclose(cost[rows, cols].sum(), block[best_rows, best_cols].sum(), rtol=1e-5, atol=1e-4)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_matches_scipy_on_masked_rectangular_problems(data):
    # Fixed shapes (one compilation); sizes vary through the masks.
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    cost = rng.normal(size=(7, 9)).astype(np.float32)
    if data.draw(st.booleans()):
        cost = np.round(cost * 2).astype(np.float32)  # many equal costs
    row_valid = rng.random(7) < data.draw(st.floats(0, 1))
    col_valid = rng.random(9) < data.draw(st.floats(0, 1))
    _check(cost, row_valid, col_valid, np.asarray(SOLVE(cost, row_valid, col_valid)))
    # The transposed problem (more rows than columns in the other direction).
    matched = np.asarray(SOLVE(cost.T, col_valid, row_valid))
    _check(cost.T, col_valid, row_valid, matched)


@pytest.mark.parametrize("shape", [(1, 1), (1, 2), (2, 1), (1, 3), (3, 1), (2, 2), (2, 3)])
def test_tiny_problems(shape):
    """The smallest shapes, where the solver's state vectors are shortest."""
    rng = np.random.default_rng(sum(shape))
    cost = rng.normal(size=shape).astype(np.float32)
    every_row, every_col = np.ones(shape[0], bool), np.ones(shape[1], bool)
    _check(cost, every_row, every_col, np.asarray(ops.linear_assignment(cost)))
    _check(cost, every_row, every_col, np.asarray(SOLVE(cost, every_row, every_col)))


def test_large_pool_and_vmap():
    rng = np.random.default_rng(1)
    cost = rng.normal(size=(4, 30, 120)).astype(np.float32) * 100
    rows = np.stack([np.arange(30) < n for n in (0, 5, 30, 12)])
    cols = np.stack([np.arange(120) < n for n in (7, 3, 120, 12)])
    out = np.asarray(jax.jit(jax.vmap(ops.linear_assignment))(cost, rows, cols))
    for b in range(4):
        _check(cost[b], rows[b], cols[b], out[b])
        np.testing.assert_array_equal(out[b], np.asarray(SOLVE(cost[b], rows[b], cols[b])))


def test_masked_entries_are_never_read_and_nan_is_dearest():
    cost = np.array([[1.0, np.nan, 5.0], [2.0, 0.0, np.inf]], np.float32)
    # Column 1 is masked: its NaN never matters.
    out = np.asarray(SOLVE(cost, np.array([True, True]), np.array([True, False, True])))
    np.testing.assert_array_equal(out, [2, 0])  # 5 + 2 < 1 + inf
    # A valid NaN / inf counts as dearer than every finite cost.
    out = np.asarray(SOLVE(cost, np.array([True, True]), np.array([True, True, True])))
    np.testing.assert_array_equal(out, [0, 1])
    assert np.asarray(SOLVE(np.zeros((0, 3)), np.zeros(0, bool), np.ones(3, bool))).shape == (0,)


def test_default_masks_and_errors():
    cost = np.array([[4.0, 1.0, 3.0], [2.0, 0.0, 5.0], [3.0, 2.0, 2.0]], np.float32)
    np.testing.assert_array_equal(np.asarray(ops.linear_assignment(cost)), [1, 0, 2])
    with pytest.raises(ValueError, match="`cost`"):
        ops.linear_assignment(jnp.zeros(3))
    with pytest.raises(ValueError, match="`row_valid`"):
        ops.linear_assignment(cost, np.ones(2, bool))


def test_leading_columns_path_equals_the_general_one():
    # The grouping's pools: the valid columns come first and their count is
    # given (no search for them). Same matchings as the general path, and
    # optimal by SciPy's account, in both orientations.
    from jaxcodecs.ops.assignment import _assign

    rng = np.random.default_rng(4)
    cost = np.round(rng.normal(size=(40, 30, 120)) * 3).astype(np.float32)  # many ties
    rows = rng.random((40, 30)) < rng.random((40, 1))
    counts = rng.integers(0, 40, 40)
    cols = np.arange(120)[None, :] < counts[:, None]
    prefix = jax.jit(jax.vmap(lambda c, r, k, n: _assign(c, r, k, leading_columns=n)))
    got = np.asarray(prefix(cost, rows, cols, counts.astype(np.int32)))
    general = np.asarray(jax.jit(jax.vmap(ops.linear_assignment))(cost, rows, cols))
    np.testing.assert_array_equal(got, general)
    for b in range(40):
        _check(cost[b], rows[b], cols[b], got[b])
