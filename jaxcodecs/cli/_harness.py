"""What the demo and the benchmark share: the codecs and configs to run,
their labels, timing, round-trip errors and plain-text tables."""

from __future__ import annotations

import math
import os
import re
import statistics
import time
from typing import Any, Callable, Mapping, NamedTuple, Sequence

import numpy as np

__all__ = [
    "jsonable",
    "MODES",
    "Selected",
    "config_label",
    "config_labels",
    "decoded_keypoints",
    "fmt",
    "format_table",
    "host_kind",
    "pick_instances",
    "rate",
    "round_trip_errors",
    "scale_factor",
    "select_codecs",
    "short_error",
    "timed",
]

#: The two modes every config runs in: (name, ``mmpose_compat``).
MODES = (("mmpose", True), ("exact", False))
_SHAPE_KEYS = frozenset({"input_size", "heatmap_size"})
_SHORT_NAMES = {"kernel_size": "k"}


# ------------------------------------------------------------------ labels
def _format_value(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}"
    if isinstance(value, (tuple, list)):
        return "x".join(_format_value(v) for v in value)
    return str(value).replace(" ", "")


def _label_parts(config: Mapping[str, Any], skip: frozenset = frozenset()) -> list[str]:
    parts = []
    for key, value in config.items():
        if key in skip:
            continue
        if isinstance(value, (bool, np.bool_)):
            parts.append(key if value else f"{key}=False")
        elif isinstance(value, str):
            parts.append(value)
        else:
            parts.append(f"{_SHORT_NAMES.get(key, key)}={_format_value(value)}")
    return parts


def config_label(config: Mapping[str, Any]) -> str:
    """A short label for one config: ``sigma=2,unbiased``; sizes left out."""
    return ",".join(_label_parts(config, _SHAPE_KEYS)) or "default"


def config_labels(configs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Short, distinct labels for a codec's configs.

    A ``True`` flag is shown by its name, a string by its value, anything else
    as ``name=value`` (``kernel_size`` as ``k``). Parts that all configs share
    are dropped where something else tells the configs apart, and sizes are
    shown only where they differ, so MSRAHeatmap's two example configs read
    ``sigma=2`` and ``unbiased``.
    """
    configs = [dict(c) for c in configs]
    varying_shapes = frozenset(
        key for key in _SHAPE_KEYS
        if len({_format_value(c.get(key)) for c in configs}) > 1
    )
    skip = _SHAPE_KEYS - varying_shapes
    parts = [_label_parts(c, skip) for c in configs]
    common = set.intersection(*(set(p) for p in parts)) if len(parts) > 1 else set()
    labels = []
    for p in parts:
        kept = [x for x in p if x not in common] or p
        labels.append(",".join(kept) or "default")
    seen: dict[str, int] = {}
    for i, label in enumerate(labels):  # make repeats distinct: label#2, label#3
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            labels[i] = f"{label}#{seen[label]}"
    return labels


class Selected(NamedTuple):
    """One codec to run: its registered name, class, example configs and
    their labels (both empty when it has no examples)."""

    name: str
    cls: type
    configs: list[dict]
    labels: list[str]


def select_codecs(names: Sequence[str] | None) -> list[Selected]:
    """The codecs ``names`` (default: all registered) with their example
    configs; ``KeyError`` listing the known names for an unknown one."""
    import jaxcodecs
    from jaxcodecs import examples

    known = jaxcodecs.list_codecs()
    selected = list(known) if not names else list(dict.fromkeys(names))
    out = []
    for name in selected:
        cls = jaxcodecs.get_codec_class(name)
        try:
            configs = [dict(c) for c in examples.get_examples(name).configs]
        except KeyError:
            configs = []
        out.append(Selected(name, cls, configs, config_labels(configs) if configs else []))
    return out


# ------------------------------------------------------------------ errors
def decoded_keypoints(codec: Any, decoded: Any) -> Any:
    """The keypoints among ``decoded``, found by the codec's declared
    ``decode_outputs`` (EDPose's come after its boxes); None when decode
    returns nothing (an annotation processor)."""
    names = tuple(getattr(codec, "decode_outputs", ("keypoints",)))
    if decoded is None or not names:
        return None
    return decoded[names.index("keypoints")] if "keypoints" in names else decoded[0]


def pick_instances(decoded: np.ndarray, keypoints: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """``(B, K, D)`` from decoded ``(B, N, K, D')`` (or ``(B, K, D')``): per
    sample, the instance nearest to the true pose (the only one when N = 1),
    cut to the truth's ``D`` coordinates."""
    decoded = np.asarray(decoded, np.float64)
    if decoded.ndim == 3:
        decoded = decoded[:, None]
    decoded = decoded[..., : keypoints.shape[-1]]
    if decoded.shape[1] == 1:
        return decoded[:, 0]
    distance = np.linalg.norm(decoded - keypoints[:, None].astype(np.float64), axis=-1)
    mask = (visible > 0)[:, None, :]
    mean = np.where(mask, distance, 0).sum(-1) / np.maximum(mask.sum(-1), 1)
    mean = np.where(np.isfinite(mean), mean, np.inf)
    best = np.argmin(mean, axis=1)
    return decoded[np.arange(len(decoded)), best]


def round_trip_errors(
    decoded: np.ndarray, keypoints: np.ndarray, visible: np.ndarray
) -> tuple[float, float]:
    """Mean and max Euclidean distance in pixels over visible keypoints.

    Args:
      decoded: ``(B, K, D)`` decoded keypoints (or ``(B, N, K, D')`` model
        output, of which the instance nearest to the truth is taken).
      keypoints: ``(B, K, D)`` true keypoints.
      visible: ``(B, K)``; keypoints with ``visible > 0`` count.
    """
    decoded = np.asarray(decoded, np.float64)
    if decoded.ndim != 3 or decoded.shape[-1] != np.shape(keypoints)[-1]:
        decoded = pick_instances(decoded, keypoints, visible)
    distance = np.linalg.norm(decoded - np.asarray(keypoints, np.float64), axis=-1)
    distance = distance[np.asarray(visible) > 0]
    if distance.size == 0:
        return math.nan, math.nan
    return float(distance.mean()), float(distance.max())


def scale_factor(codec: Any) -> tuple[float, float] | None:
    """The codec's input-to-heatmap ``scale_factor`` per axis, if it has one."""
    try:
        scale = np.asarray(getattr(codec, "scale_factor"), np.float64).reshape(-1)
    except Exception:
        return None
    return (float(scale[0]), float(scale[1])) if scale.shape == (2,) else None


# ------------------------------------------------------------------ timing
def timed(
    fn: Callable[..., Any], args: Sequence[Any], repeats: int, min_time: float = 0.0, max_repeats: int = 200
) -> tuple[Any, float, float]:
    """Calls ``fn(*args)`` once (compile + run), then at least ``repeats``
    more times (and for at least ``min_time`` seconds), each blocked until
    its result is ready.

    Returns:
      ``(output, first_call_s, median_steady_s)``.
    """
    import jax

    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    first = time.perf_counter() - start
    times: list[float] = []
    begin = time.perf_counter()
    while len(times) < max(1, repeats) or (time.perf_counter() - begin < min_time and len(times) < max_repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return out, first, statistics.median(times)


def jsonable(value: Any) -> Any:
    """``value`` as JSON data: mappings with string keys, lists, Python
    scalars; anything else by its ``str``."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)


def host_kind() -> str:
    """``cpu-<cores>core`` or ``<platform>-<device kind>[-x<count>]``, for result file names."""
    import jax

    device = jax.devices()[0]
    if device.platform == "cpu":
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - macOS, Windows
            cores = os.cpu_count() or 1
        return f"cpu-{cores}core"
    kind = re.sub(r"[^a-z0-9]+", "-", device.device_kind.lower()).strip("-")
    count = jax.device_count()
    return f"{device.platform}-{kind}" + (f"-x{count}" if count > 1 else "")


# ------------------------------------------------------------------ tables
def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]) -> str:
    """An aligned plain-text table."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row)]

    def line(cells):
        text = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)]
        return "  ".join(text).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def short_error(error: BaseException) -> str:
    """``Type: message`` on one line, at most 100 characters."""
    text = f"{type(error).__name__}: {error}".replace("\n", " ")
    return text if len(text) <= 100 else text[:97] + "..."


def fmt(value: float | None, digits: int = 3) -> str:
    """A fixed-point cell; ``-`` for None or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def rate(value: float | None) -> str:
    """A rate cell without decimals; ``-`` for None or non-finite."""
    return "-" if value is None or not math.isfinite(value) else f"{value:.0f}"
