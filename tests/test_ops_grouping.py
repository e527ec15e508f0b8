"""ops.group_keypoints_by_tags and ops.fill_missing_keypoints_by_tags
against a literal NumPy transcription of the grouping (MMPose 1.3.2's
AssociativeEmbedding, MMPOSE_BEHAVIOUR.md §2.7), with SciPy's assignment
(crowds whose optimal assignment is not unique are skipped)."""

import jax
import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from jaxcodecs import ops

K, T, THR, TAG_THR = 4, 5, 0.1, 1.0


class Ambiguous(Exception):
    """Several assignments are optimal: the solvers may pick either."""


def _unique_optimum(cost: np.ndarray, real_cols: int) -> list[int]:
    """The optimal injective row -> column map (SciPy); columns past
    ``real_cols`` are identical padding, so optima differing only there are
    one. Another optimum differs in some row's choice: forbidding that
    choice (its real column, or every padding column) keeps the optimal
    total, which is what is tested for each row."""
    rows, cols = linear_sum_assignment(cost)
    best = cost[rows, cols].sum()
    for r, c in zip(rows, cols):
        forbidden = cost.copy()
        if c < real_cols:
            forbidden[r, c] = 1e12
        else:
            forbidden[r, real_cols:] = 1e12
        again = linear_sum_assignment(forbidden)
        if abs(forbidden[again].sum() - best) <= 1e-6 * max(1.0, abs(best)):
            raise Ambiguous
    return [int(c) for c in cols]


def reference_groups(values, locations, tags, order):
    """The grouping step by step: a dict keyed by the first tag component."""
    groups: dict = {}
    for kind in order:
        keep = values[kind] > THR
        if not keep.any():
            continue
        val, loc, tag = values[kind][keep], locations[kind][keep], tags[kind][keep]
        joint = np.concatenate([loc, val[:, None]], axis=1)
        if not groups:
            for r in range(len(val)):
                group = groups.setdefault(float(tag[r, 0]), {"joints": np.zeros((K, 3)), "tags": []})
                group["joints"][kind] = joint[r]
                group["tags"] = [tag[r]]
            continue
        keys = list(groups)
        means = np.array([np.mean(groups[key]["tags"], axis=0) for key in keys])
        dist = np.linalg.norm(tag[:, None, :].astype(np.float64) - means[None], axis=2)
        cost = np.round(dist) * 100 - val[:, None]
        if len(val) > len(keys):
            cost = np.concatenate([cost, np.full((len(val), len(val) - len(keys)), 1e10)], axis=1)
        for r, c in enumerate(_unique_optimum(cost, len(keys))):
            if c < len(keys) and dist[r, c] < TAG_THR:
                group = groups[keys[c]]
                group["tags"].append(tag[r])
            else:
                group = groups.setdefault(float(tag[r, 0]), {"joints": np.zeros((K, 3)), "tags": []})
                group["tags"] = [tag[r]]
            group["joints"][kind] = joint[r]
    return np.array([g["joints"] for g in groups.values()]).reshape(-1, K, 3)


def random_candidates(rng, dim):
    """People with tags 3 p (+ noise), some missing, some doubled (equal
    tags: the reference's key collisions), spurious peaks, weak peaks.
    (Crowds whose optimal assignment is not unique are skipped.)"""
    people = rng.integers(1, 5)
    exact = rng.random() < 0.5
    person_tags = 3.0 * np.arange(people)[:, None] + (0 if exact else rng.normal(0, 0.2, (people, dim)))
    person_tags = np.broadcast_to(person_tags, (people, dim))
    values = np.zeros((K, T))
    locations = rng.integers(0, 32, (K, T, 2)).astype(np.float64)
    tags = rng.uniform(-2, 14, (K, T, dim))
    for kind in range(K):
        rows = []
        for p in range(people):
            if rng.random() < 0.8:
                rows.append(person_tags[p])
                if rng.random() < 0.2:
                    rows.append(person_tags[p])
        # Spurious peaks, far from every person and from each other.
        rows += [np.full(dim, 20.0 + 7 * rng.integers(0, 6)) + rng.normal(0, 3.0, dim)
                 for _ in range(rng.integers(0, 2))]
        rows = rows[:T]
        vals = np.sort(rng.uniform(0.02, 1.0, len(rows)))[::-1]
        values[kind, : len(rows)] = vals
        if rows:
            tags[kind, : len(rows)] = np.array(rows).reshape(len(rows), dim)
    return values.astype(np.float32), locations.astype(np.float32), tags.astype(np.float32)


@pytest.mark.parametrize("dim", [1, 2])
def test_grouping_matches_the_reference(dim):
    rng = np.random.default_rng(dim)
    group = jax.jit(ops.group_keypoints_by_tags, static_argnums=(3, 6))
    order = (2, 0, 3, 1) if dim == 1 else (0, 1, 2, 3)
    checked = 0
    for _ in range(400):
        values, locations, tags = random_candidates(rng, dim)
        try:
            expected = reference_groups(values, locations, tags, order)
        except Ambiguous:
            continue
        got = group(values, locations, tags, order, THR, TAG_THR, K * T)
        count = int(got.count)
        assert count == len(expected) and not bool(got.overflow)
        np.testing.assert_allclose(np.asarray(got.keypoints)[:count], expected[..., :2])
        np.testing.assert_allclose(np.asarray(got.scores)[:count], expected[..., 2], rtol=1e-6)
        assert not np.asarray(got.scores)[count:].any()
        checked += 1
    assert checked >= 50


def test_small_pool_reports_overflow():
    rng = np.random.default_rng(3)
    values = np.tile(np.linspace(1.0, 0.5, T, dtype=np.float32), (K, 1))
    locations = rng.integers(0, 32, (K, T, 2)).astype(np.float32)
    tags = (10.0 * np.arange(K * T, dtype=np.float32)).reshape(K, T, 1)  # nobody matches
    full = ops.group_keypoints_by_tags(values, locations, tags, tuple(range(K)), THR, TAG_THR, K * T)
    assert int(full.count) == K * T and not bool(full.overflow)
    small = ops.group_keypoints_by_tags(values, locations, tags, tuple(range(K)), THR, TAG_THR, 7)
    assert int(small.count) == 7 and bool(small.overflow)
    np.testing.assert_array_equal(np.asarray(small.keypoints), np.asarray(full.keypoints)[:7])


@pytest.mark.parametrize("height, width", [(9, 11), (32, 32), (40, 64)])
def test_fill_missing_keypoints_against_numpy(height, width):
    # The maps are read in blocks of at most 32 pixels a side: padded
    # (9 x 11), exactly one block (32 x 32) and several blocks (40 x 64).
    rng = np.random.default_rng(height)
    num_types, dim = 3, 2
    heatmaps = rng.random((num_types, height, width)).astype(np.float32)
    tags = rng.normal(0, 2, (dim * num_types, height, width)).astype(np.float32)
    keypoints = rng.uniform(-1, max(height, width) + 1, (4, num_types, 2)).astype(np.float32)
    scores = rng.choice([0.0, 0.7], (4, num_types)).astype(np.float32)
    scores[3] = 0  # no detected keypoint: left as is
    valid = np.array([True, True, False, True])
    got_kp, got_sc = ops.fill_missing_keypoints_by_tags(keypoints, scores, valid, heatmaps, tags)
    want_kp, want_sc = keypoints.copy(), scores.copy()
    for n in range(3):
        if not valid[n] or not (scores[n] > 0).any():
            continue
        reads = []
        for k in np.nonzero(scores[n] > 0)[0]:
            x = min(max(int(keypoints[n, k, 0]), 0), width - 1)
            y = min(max(int(keypoints[n, k, 1]), 0), height - 1)
            reads.append(tags[k::num_types, y, x])
        tag = np.mean(reads, axis=0)
        for k in np.nonzero(scores[n] <= 0)[0]:
            dist = np.linalg.norm(tags[k::num_types] - tag[:, None, None], axis=0)
            cost = np.round(dist) * 100 - heatmaps[k]
            y, x = np.unravel_index(np.argmin(cost), (height, width))
            want_kp[n, k] = x, y
            want_sc[n, k] = heatmaps[k, y, x]
    np.testing.assert_allclose(np.asarray(got_kp), want_kp, atol=1e-6)
    np.testing.assert_allclose(np.asarray(got_sc), want_sc, atol=1e-6)


@pytest.mark.parametrize("size", [1, 2, 31, 32, 33, 1000, 1024, 1025, 4096, 5000, 40000])
def test_reduction_blocks_cover_the_pixels_with_short_dimensions(size):
    from jaxcodecs.ops.grouping import _reduction_blocks

    shape = _reduction_blocks(size)
    assert all(1 <= d <= 32 for d in shape)
    total = int(np.prod(shape))
    assert total >= size
    # Padding is less than one leading block: the blocks are as few as can be.
    assert total - size < int(np.prod(shape[1:]))
