"""ops.maxima (heatmap_nms, topk_peaks) and ops.filters.max_pool against
brute-force NumPy references, jitted and not."""

import jax
import numpy as np
import pytest

from jaxcodecs import ops


def np_max_pool(x, k):
    half = k // 2
    height, width = x.shape[-2:]
    out = np.empty_like(x)
    for y in range(height):
        for x0 in range(width):
            window = x[..., max(0, y - half):y + half + 1, max(0, x0 - half):x0 + half + 1]
            out[..., y, x0] = window.max(axis=(-2, -1))
    return out


def np_topk(maps, k):
    flat = maps.reshape(maps.shape[:-2] + (-1,))
    # Descending by value, ties by the lower flat index: a stable sort of -value.
    order = np.argsort(-flat, axis=-1, kind="stable")[..., :k]
    return np.take_along_axis(flat, order, -1), order


def sample(seed, shape=(2, 3, 9, 7)):
    rng = np.random.default_rng(seed)
    maps = rng.random(shape).astype(np.float32)
    maps[0, 0, 2:4, 2:5] = 2.0          # a plateau: all its pixels survive NMS
    maps[1, 2] = np.round(maps[1, 2] * 4) / 4  # many exact ties
    maps[0, 1] -= 0.5                   # negative values: -inf padding never wins
    return maps


@pytest.mark.parametrize("jit", [False, True], ids=["nojit", "jit"])
@pytest.mark.parametrize("k", [1, 3, 5])
def test_max_pool_and_nms_match_brute_force(k, jit):
    maps = sample(k)
    pool = jax.jit(ops.max_pool, static_argnums=1) if jit else ops.max_pool
    nms = jax.jit(ops.heatmap_nms, static_argnums=1) if jit else ops.heatmap_nms
    expected_pool = np_max_pool(maps, k)
    np.testing.assert_array_equal(pool(maps, k), expected_pool)
    np.testing.assert_array_equal(nms(maps, k), np.where(maps == expected_pool, maps, 0))
    if k > 1:
        kept = np.asarray(nms(maps, k))[0, 0, 2:4, 2:5]
        np.testing.assert_array_equal(kept, 2.0)


@pytest.mark.parametrize("jit", [False, True], ids=["nojit", "jit"])
def test_topk_peaks_order_ties_and_locations(jit):
    maps = sample(7)
    fn = jax.jit(ops.topk_peaks, static_argnums=1) if jit else ops.topk_peaks
    values, locations, indices = fn(maps, 10)
    want_values, want_indices = np_topk(maps, 10)
    np.testing.assert_array_equal(values, want_values)
    np.testing.assert_array_equal(indices, want_indices)
    width = maps.shape[-1]
    np.testing.assert_array_equal(locations[..., 0], want_indices % width)
    np.testing.assert_array_equal(locations[..., 1], want_indices // width)
    assert indices.dtype == np.int32 and locations.dtype == np.float32


def test_nms_then_topk_finds_separated_peaks():
    maps = np.zeros((1, 12, 12), np.float32)
    peaks = [(2, 3, 0.9), (9, 8, 0.7), (5, 10, 0.5)]
    yy, xx = np.mgrid[:12, :12]
    for x, y, v in peaks:
        maps[0] = np.maximum(maps[0], v * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / 2.0))
    values, locations, _ = ops.topk_peaks(ops.heatmap_nms(maps, 5), 3)
    np.testing.assert_allclose(values[0], [0.9, 0.7, 0.5], rtol=1e-6)
    np.testing.assert_array_equal(locations[0], [[2, 3], [9, 8], [5, 10]])


@pytest.mark.parametrize("call, text", [
    (lambda: ops.max_pool(np.zeros((4, 4), np.float32), 2), "`ksize` must be odd"),
    (lambda: ops.heatmap_nms(np.zeros((4,), np.float32), 3), r"`heatmaps` must have shape \(\.\.\., H, W\)"),
    (lambda: ops.topk_peaks(np.zeros((2, 4, 4), np.float32), 17), r"`k` must be an int in \[1, H \* W\] = \[1, 16\], got 17"),
    (lambda: ops.topk_peaks(np.zeros((2, 4, 4), np.float32), 0), r"`k` must be an int"),
])
def test_errors_name_the_argument(call, text):
    with pytest.raises(ValueError, match=text):
        call()


def test_first_true_and_first_min_are_numpys_argmax_and_argmin():
    # The index helpers of the grouping (ops.maxima.first_true / first_min)
    # against NumPy's argmax of bools and a loop that finds the first
    # minimum with NaN ranking lowest, on rows with ties, no True, NaN and
    # infinities, jitted.
    from jaxcodecs.ops.maxima import first_min, first_true

    rng = np.random.default_rng(3)
    mask = rng.random((6, 40)) < 0.1
    mask[0] = False
    mask[1, -1] = True
    mask[1, :-1] = False
    got = np.asarray(jax.jit(first_true)(mask))
    np.testing.assert_array_equal(got, np.argmax(mask, axis=-1))

    values = np.round(rng.normal(size=(7, 33)) * 2).astype(np.float32)  # many ties
    values[1, 5] = np.nan
    values[2, [3, 9]] = -np.inf
    values[3] = np.inf
    values[4, 7] = np.nan
    values[4, 2] = -np.inf  # NaN and -inf rank alike: the first of them wins
    values[5, [0, 32]] = -50.0

    def reference(row):
        ranked = [(-np.inf if np.isnan(v) else v) for v in row]
        lowest = min(ranked)
        return next(i for i, v in enumerate(ranked) if v == lowest)

    got = np.asarray(jax.jit(first_min)(values))
    np.testing.assert_array_equal(got, [reference(row) for row in values])
    finite = values[[0, 3, 5, 6]]
    np.testing.assert_array_equal(np.asarray(first_min(finite)), np.argmin(finite, axis=-1))


@pytest.mark.parametrize("length", [5, 32, 33, 511])
def test_first_where_is_the_first_true_index(length):
    # Short axes reduce integer indices, long ones float32 indices: both
    # against NumPy, with rows that hold no True (the default and a given
    # stand-in), jitted.
    from jaxcodecs.ops.maxima import first_where

    rng = np.random.default_rng(length)
    mask = rng.random((9, length)) < 0.05
    mask[0] = False
    mask[1] = False
    mask[1, -1] = True
    mask[2, 0] = True
    want = np.where(mask.any(axis=-1), np.argmax(mask, axis=-1), length)
    for float_index in (False, True):
        got = np.asarray(jax.jit(lambda m: first_where(m, float_index=float_index))(mask))
        assert got.dtype == np.int32
        np.testing.assert_array_equal(got, want)
        got = np.asarray(jax.jit(lambda m: first_where(m, -1, float_index=float_index))(mask))
        np.testing.assert_array_equal(got, np.where(mask.any(axis=-1), want, -1))


def _rows_with_specials(rng, length):
    """Random rows, and rows holding NaN, +inf, -inf, both infinities, only
    -inf, signed zeros and negatives, each special at a random position."""
    rows = [rng.normal(size=(6, length)).astype(np.float32)]
    for special in ([np.nan], [np.inf], [-np.inf], [np.inf, -np.inf], [np.nan, -np.inf], [-0.0, 0.0]):
        block = rng.normal(size=(4, length)).astype(np.float32) - 3.0
        for row in block:
            at = rng.choice(length, size=min(len(special), length), replace=False)
            row[at] = special[: len(at)]
        rows.append(block)
    rows.append(np.full((1, length), -np.inf, np.float32))
    return np.concatenate(rows)


@pytest.mark.parametrize("length", [1, 3, 48, 64, 257])
def test_both_branches_of_ranked_max_are_numpys_nan_as_inf_max(length):
    """``ranked_max`` is one program per backend (a product that finds NaN
    on CPU, NaN replaced inside the reduction elsewhere): both branches,
    jitted and under vmap, equal NumPy's maximum with NaN ranked +inf (the
    sign of a zero maximum is left to the reduction's order, as NumPy's)."""
    from jaxcodecs.ops.maxima import _ranked_max_fused, _ranked_max_probed

    rows = _rows_with_specials(np.random.default_rng(length), length)
    expected = np.where(np.isnan(rows), np.inf, rows).max(axis=-1)
    for branch in (_ranked_max_probed, _ranked_max_fused, ops.maxima.ranked_max):
        for call in (jax.jit(branch), jax.vmap(branch)):
            got = np.asarray(call(rows))
            np.testing.assert_array_equal(got, expected, err_msg=branch.__name__)


def test_ranked_max_lowers_one_branch_per_platform():
    """A CPU program holds the NaN-finding product and no other branch; a
    program lowered for a GPU holds no product (one pass over the maps)."""
    from jax import export

    maps = jax.ShapeDtypeStruct((4, 17, 64, 48), np.float32)
    texts = {platform: export.export(jax.jit(ops.heatmap_argmax), platforms=[platform])(maps).mlir_module()
             for platform in ("cpu", "cuda")}
    assert "dot_general" in texts["cpu"] and "dot_general" not in texts["cuda"]
