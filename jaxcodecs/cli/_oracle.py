"""MMPose's per-sample loop for the benchmark, in the MMPose oracle's python.

The oracle is a child process (``--oracle-python``, a virtual environment
with MMPose 1.3.2, NumPy < 2 and torch) that builds MMPose's codecs from the
same config dicts and times its ``encode`` / ``decode`` one sample at a time
on the same arguments as jaxcodecs. It stays up for the whole run and
answers one measurement per request, so that its rounds interleave with
jaxcodecs' rounds.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from jaxcodecs.cli._harness import jsonable as _jsonable, short_error
from jaxcodecs.cli._measure import JsonLineProcess

__all__ = ["Oracle", "oracle_item"]

_ORACLE_SCRIPT = r'''
import inspect, json, os, statistics, sys, time, warnings
warnings.simplefilter("ignore")
reply_to = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)  # whatever the libraries print goes to stderr
import numpy as np
spec = json.load(open(sys.argv[1]))
with np.load(sys.argv[2]) as npz:
    data = {name: npz[name] for name in npz.files}  # read once: a sample is a view into its array
import mmpose
import mmpose.codecs  # noqa: F401  registers the codecs
from mmpose.registry import KEYPOINT_CODECS

def timed(fn, min_repeats, min_time):
    times, begin = [], time.perf_counter()
    while len(times) < min_repeats or (time.perf_counter() - begin < min_time and len(times) < 50):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)

def prepare(item):
    cfg = {k: tuple(v) if isinstance(v, list) else v for k, v in item["config"].items()}
    if item["codec"] == "AssociativeEmbedding":
        # MMPose's default order [] fails; jaxcodecs' default is range(K).
        joints = data[item["args"][0]["array"]].shape[-2]
        cfg["decode_keypoint_order"] = list(cfg.get("decode_keypoint_order") or range(joints))
    codec = KEYPOINT_CODECS.build(dict(type=item["codec"], **cfg))
    def sample_args(specs, b):
        return [{k: data[name][b] for k, name in spec["dict"].items()} if "dict" in spec
                else data[spec["array"]][b] for spec in specs]
    def sample_kwargs(specs, b):
        return {key: sample_args([spec], b)[0] for key, spec in specs.items()}
    n = item["num_samples"]
    samples = [(sample_args(item["args"], b), sample_kwargs(item["kwargs"], b)) for b in range(n)]
    size = getattr(codec, "heatmap_size", None)
    def decode_input(j, value):
        if j == 0 and size is not None and len(size) == 3 and value.ndim == 3:
            value = value.reshape(-1, size[2], size[1], size[0])  # Hand3D decodes (K, D, H, W)
        return value
    params = inspect.signature(codec.decode).parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    decode_kwargs = {k: v for k, v in item["decode_kwargs"].items() if takes_any or k in params}
    # (jaxcodecs-only options, such as DecoupledHeatmap's instance_valid, are left out)
    decode_samples = [([decode_input(j, v) for j, v in enumerate(sample_args(item["decode_args"], b))],
                       sample_kwargs(decode_kwargs, b)) for b in range(n)]
    encode_all = lambda: [codec.encode(*a, **k) for a, k in samples]
    decode_all = lambda: [codec.decode(*a, **k) for a, k in decode_samples]
    if item["codec"] in ("AssociativeEmbedding", "SPR"):
        import torch  # the bottom-up decoders take torch tensors
        if item["codec"] == "AssociativeEmbedding":  # only MMPose's batch_decode exists
            maps = [torch.from_numpy(np.stack([a[j] for a, _ in decode_samples])) for j in range(2)]
            decode_all = lambda: codec.batch_decode(*maps)
        else:
            decode_samples = [([torch.from_numpy(v) for v in a], k) for a, k in decode_samples]
            decode_all = lambda: [codec.decode(*a, **k) for a, k in decode_samples]
    encode_all()
    decode_all()  # warm-ups
    return n, encode_all, decode_all

def send(reply):
    reply_to.write(json.dumps(reply) + "\n")
    reply_to.flush()

send({"mmpose_version": mmpose.__version__, "numpy_version": np.__version__})
prepared = {}
for line in sys.stdin:
    i = json.loads(line)["index"]
    result = {"index": i}
    if i not in prepared:
        prepared.clear()  # one config at a time: its rounds come one after another
        try:
            prepared[i] = prepare(spec["rows"][i])
        except Exception as error:
            prepared[i] = "%s: %s" % (type(error).__name__, error)
    try:
        if isinstance(prepared[i], str):
            raise RuntimeError(prepared[i])
        n, encode_all, decode_all = prepared[i]
        result["encode_samples_per_s"] = n / timed(encode_all, spec["repeats"], spec["min_time"])
        result["decode_samples_per_s"] = n / timed(decode_all, spec["repeats"], spec["min_time"])
    except Exception as error:
        result["error"] = str(error) if isinstance(prepared[i], str) else "%s: %s" % (type(error).__name__, error)
    send(result)
'''


def _array_specs(values: Any, prefix: str, arrays: dict[str, np.ndarray]) -> Any:
    """Stores a batch argument (an array, or a dict of arrays such as a
    camera) in ``arrays`` under names starting with ``prefix``; returns the
    spec the oracle script reads it back by, one sample at a time."""
    if isinstance(values, Mapping):
        names = {str(key): f"{prefix}_{key}" for key in values}
        arrays.update({names[str(key)]: np.asarray(value) for key, value in values.items()})
        return {"dict": names}
    arrays[prefix] = np.asarray(values)
    return {"array": prefix}


def oracle_item(index: int, name: str, label: str, config: Mapping[str, Any], batch: Any,
                arrays: dict[str, np.ndarray]) -> dict:
    """The oracle's job for one config: the example ``batch``'s encode and
    decode arguments (stored in ``arrays``), which MMPose's codec gets one
    sample at a time."""
    specs: dict[str, Any] = {}
    for part in ("encode", "decode"):
        args, kwargs = getattr(batch, f"{part}_args"), getattr(batch, f"{part}_kwargs")
        specs[part] = (
            [_array_specs(arg, f"{part}{j}_{index}", arrays) for j, arg in enumerate(args)],
            {key: _array_specs(arg, f"{part}_{key}_{index}", arrays) for key, arg in kwargs.items()},
        )
    return {
        "index": index, "codec": name, "config_label": label, "config": _jsonable(config),
        "args": specs["encode"][0], "kwargs": specs["encode"][1],
        "decode_args": specs["decode"][0], "decode_kwargs": specs["decode"][1],
        "num_samples": len(batch.keypoints),
    }


class Oracle:
    """MMPose's loop in ``python``, over ``items`` (see :func:`oracle_item`).

    ``start()`` returns the versions (or None with a printed note when the
    oracle cannot start); ``measure(i)`` one round of item ``i``. After a
    failure every later ``measure`` returns ``{"error": ...}``.
    """

    def __init__(self, python: str, items: list[dict], arrays: dict[str, np.ndarray],
                 repeats: int, min_time: float) -> None:
        self.python, self.items, self.arrays = python, items, arrays
        self.repeats, self.min_time = repeats, min_time
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._process: JsonLineProcess | None = None
        self._error: str | None = None

    def start(self) -> dict | None:
        self._tmp = tempfile.TemporaryDirectory(prefix="jaxcodecs-oracle-")
        tmp = Path(self._tmp.name)
        (tmp / "oracle.py").write_text(_ORACLE_SCRIPT)
        (tmp / "spec.json").write_text(
            json.dumps({"rows": self.items, "repeats": self.repeats, "min_time": self.min_time}))
        np.savez(tmp / "poses.npz", **self.arrays)
        try:
            self._process = JsonLineProcess(
                [self.python, str(tmp / "oracle.py"), str(tmp / "spec.json"), str(tmp / "poses.npz")])
        except (OSError, ValueError) as error:
            print(f"note: MMPose oracle not run ({short_error(error)}); column skipped.")
            return None
        try:
            return self._process.receive()
        except RuntimeError as error:
            print(f"note: MMPose oracle failed ({error}); column skipped.")
            self._error = str(error)
            return None

    def measure(self, index: int) -> dict:
        if self._error is not None or self._process is None:
            return {"index": index, "error": self._error or "not started"}
        try:
            return self._process.request({"index": index})
        except RuntimeError as error:
            self._error = f"oracle failed ({error})"
            return {"index": index, "error": self._error}

    def close(self) -> None:
        if self._process is not None:
            self._process.close()
        if self._tmp is not None:
            self._tmp.cleanup()
