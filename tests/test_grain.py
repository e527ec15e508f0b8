"""jaxcodecs.grain: host-side encoding in a grain pipeline (the optional
extra ``grain``; CI installs it, these tests skip only without it)."""

import pickle

import jax
import numpy as np
import pytest

grain = pytest.importorskip("grain", reason="optional dependency; the test extra installs it and test_optional_dependencies.py fails where that extra is incomplete")

import jaxcodecs  # noqa: E402
from jaxcodecs.grain import EncodeKeypoints, RandomEncodeKeypoints  # noqa: E402

K = 5


def records(count, seed=0, people=1):
    rng = np.random.default_rng(seed)
    return [{"image_id": i,
             "keypoints": rng.uniform(0, 60, (people, K, 2)).astype(np.float32),
             "keypoints_visible": rng.choice([0.0, 1.0], (people, K), p=(0.2, 0.8)).astype(np.float32)}
            for i in range(count)]


@pytest.fixture(scope="module")
def msra():
    return jaxcodecs.MSRAHeatmap(input_size=(64, 48), heatmap_size=(16, 12), sigma=2.0)


def test_map_adds_the_encoded_targets_as_numpy(msra):
    transform = EncodeKeypoints(msra)
    record = records(1)[0]
    before = {k: np.copy(v) for k, v in record.items()}
    out = transform.map(record)
    expected = jax.jit(msra.encode)(record["keypoints"], record["keypoints_visible"])
    assert set(out) == set(record) | set(expected)
    for key, value in expected.items():
        assert isinstance(out[key], np.ndarray)
        np.testing.assert_array_equal(out[key], np.asarray(value))
    for key, value in before.items():  # the record given is left alone
        np.testing.assert_array_equal(record[key], value)
    assert set(record) == set(before)


def test_renamed_keys_and_prefix(msra):
    transform = EncodeKeypoints(msra, keys={"keypoints": "joints", "keypoints_visible": "flags"}, prefix="t/")
    record = records(1)[0]
    renamed = {"joints": record["keypoints"], "flags": record["keypoints_visible"]}
    out = transform.map(renamed)
    np.testing.assert_array_equal(out["t/heatmaps"], EncodeKeypoints(msra).map(record)["heatmaps"])


def test_pipeline_batches_and_matches_batch_encode(msra):
    data = records(8)
    dataset = grain.MapDataset.source(data).map(EncodeKeypoints(msra)).batch(4)
    batches = list(dataset)
    assert len(batches) == 2
    kp = np.stack([r["keypoints"] for r in data])
    vis = np.stack([r["keypoints_visible"] for r in data])
    expected = jax.jit(msra.batch_encode)(kp, vis)
    got = np.concatenate([b["heatmaps"] for b in batches])
    np.testing.assert_allclose(got, np.asarray(expected["heatmaps"]), rtol=1e-6, atol=1e-7)


def test_worker_processes(msra):
    """grain pickles the transform into spawned worker processes, each of
    which compiles its own encode; the targets are those of the main process."""
    from absl import flags

    if not flags.FLAGS.is_parsed():  # grain's multiprocessing reads absl flags (a program calls app.run)
        flags.FLAGS.mark_as_parsed()
    data = records(6, seed=1)
    transform = EncodeKeypoints(msra)
    transform.map(data[0])  # compiled here: the pickle must not carry it
    assert pickle.loads(pickle.dumps(transform))._encode is None
    dataset = grain.MapDataset.source(data).map(transform).to_iter_dataset()
    loaded = dataset.mp_prefetch(grain.MultiprocessingOptions(num_workers=2))
    out = list(loaded)
    assert [r["image_id"] for r in out] == list(range(6))
    for record, got in zip(data, out):
        np.testing.assert_array_equal(got["heatmaps"], EncodeKeypoints(msra).map(record)["heatmaps"])


def test_random_transform_is_reproducible_per_seed():
    codec = jaxcodecs.DecoupledHeatmap(input_size=(64, 48), heatmap_size=(16, 12), encode_max_instances=2)
    data = records(4, seed=2, people=3)
    transform = RandomEncodeKeypoints(codec)

    def run(seed):
        return list(grain.MapDataset.source(data).seed(seed).random_map(transform))

    first, again, other = run(0), run(0), run(1)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a["instance_coords"], b["instance_coords"])
    # each record's key draws the root offsets: another seed moves some roots
    assert any((a["instance_coords"] != c["instance_coords"]).any() for a, c in zip(first, other))
    # the global targets do not depend on the draws
    for a, c in zip(first, other):
        np.testing.assert_allclose(a["heatmaps"], c["heatmaps"])


def test_misuse_is_a_clear_error(msra):
    with pytest.raises(TypeError, match="`codec`"):
        EncodeKeypoints("MSRAHeatmap")
    with pytest.raises(ValueError, match="`keys`"):
        EncodeKeypoints(msra, keys={"joints": "keypoints"})
    with pytest.raises(KeyError, match="`keypoints`"):
        EncodeKeypoints(msra).map({"image_id": 0})
    with pytest.raises(TypeError, match="`key`"):
        RandomEncodeKeypoints(msra)
