"""Eager codec calls, compiled once per configuration and shape.

Called outside any JAX transformation, a codec method would run op by op:
every primitive dispatched on its own, and compiled anew for every new shape
(benchmarks/NOTES.md, "Eager calls": over the example configurations, first
calls 2.4x and later calls about 25x slower than one program).
:func:`route_eager` wraps a codec method so that such a call runs one
``jax.jit`` program instead, made once per codec configuration, static
arguments and (by ``jit``'s own cache) array shapes and dtypes:

* the codec is closed over, not traced: its fields keep the concrete values
  they have in an eager call, so host-side arithmetic on them (float64
  radii, blur sizes derived from ``sigma``) is what it is op by op;
* array arguments (NumPy or JAX arrays, and dicts / tuples of them) are the
  program's inputs; ``None``, Python numbers, strings and other hashable
  values are static;
* the method runs unchanged (inline) when anything it gets is traced (the
  caller's ``jit``, ``vmap``, ``grad``), under ``jax.disable_jit()``, for a
  codec whose fields hold arrays or tracers, for an argument that is neither
  an array tree nor hashable (a Python list of keypoints, a camera dict with
  a name in it), and when an argument the class lists in
  ``eager_host_arguments`` is given: arguments whose concrete values the
  method checks or uses on the host (a jitter of offsets in {-1, 0, 1}, a
  camera's parameters), which a traced program would see only as tracers.

Errors raised while the method is traced (shapes, dtypes, configuration) are
raised by the call as they are op by op.
"""

from __future__ import annotations

import collections
import functools
import inspect
import threading
from typing import Any, Callable

import jax
import numpy as np

__all__ = ["route_eager", "op_by_op", "positional_names"]

# Compiled programs are held by ``jax.jit``'s own cache of each wrapper;
# this bounds the number of wrappers (codec configurations x static
# arguments) kept alive.
_MAX_WRAPPERS = 256
_wrappers: collections.OrderedDict = collections.OrderedDict()
_lock = threading.Lock()  # input pipelines call codecs from several threads

_SCALARS = (bool, int, float, complex, str, np.generic)


def _has_tracer(value: Any) -> bool:
    return any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(value))


def _is_array_tree(value: Any) -> bool:
    leaves = jax.tree_util.tree_leaves(value)
    return bool(leaves) and all(
        isinstance(leaf, jax.Array) or (isinstance(leaf, np.ndarray) and leaf.dtype.kind in "biufc")
        for leaf in leaves)


def _codec_key(codec: Any) -> Any:
    """A hashable key equal for codecs of equal configuration, or ``None``
    when the codec holds arrays or tracers (it then runs op by op)."""
    leaves, treedef = jax.tree_util.tree_flatten(codec)
    if not all(isinstance(leaf, _SCALARS) for leaf in leaves):
        return None
    key = (treedef, tuple((type(leaf), leaf) for leaf in leaves))
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _static_key(value: Any) -> Any:
    """``(type, value)`` for a hashable static argument, else ``None``."""
    try:
        hash(value)
    except TypeError:
        return None
    return (type(value), value)


def _plan(codec: Any, names: tuple, args: tuple, kwargs: dict):
    """``(key, dynamic, static)`` of a call that can be compiled, else
    ``None``. ``dynamic`` / ``static``: ``{slot: value}``, a slot being a
    position (int) or a keyword (str)."""
    if jax.config.jax_disable_jit:
        return None
    codec_key = _codec_key(codec)
    if codec_key is None:
        return None
    host = type(codec).eager_host_arguments
    dynamic, static, static_keys = {}, {}, []
    slots = [(i, names[i] if i < len(names) else None, value) for i, value in enumerate(args)]
    slots += [(name, name, value) for name, value in kwargs.items()]
    for slot, name, value in slots:
        if _has_tracer(value):
            return None
        if value is not None and name in host:
            return None
        if _is_array_tree(value):
            dynamic[slot] = value
            continue
        key = _static_key(value)
        if key is None:
            return None
        static[slot] = value
        static_keys.append((slot, key))
    dynamic_slots = tuple(sorted(dynamic, key=lambda slot: (isinstance(slot, str), slot)))
    return (codec_key, len(args), dynamic_slots, tuple(static_keys)), dynamic, static


def positional_names(fn: Callable[..., Any]) -> tuple[str, ...]:
    """The names of the parameters of ``fn`` that can be passed by position."""
    return tuple(p.name for p in inspect.signature(fn).parameters.values()
                 if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD))


def route_eager(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` (a codec method) whose eager calls run as one cached
    ``jax.jit`` program; see the module's docstring. The class attribute
    ``eager_host_arguments`` of the codec called names the arguments that
    keep the call op by op when given."""
    names = positional_names(method)[1:]  # after self

    @functools.wraps(method)
    def routed(self, *args, **kwargs):
        plan = _plan(self, names, args, kwargs)
        if plan is None:
            return method(self, *args, **kwargs)
        key, dynamic, static = plan
        slots = key[2]
        key = (method, key)
        with _lock:
            compiled = _wrappers.get(key)
            if compiled is not None:
                _wrappers.move_to_end(key)
        if compiled is None:
            codec, count = self, len(args)

            def run(dynamic_values):
                values = {**static, **dict(zip(slots, dynamic_values))}
                call_args = [values[i] for i in range(count)]
                call_kwargs = {slot: value for slot, value in values.items() if isinstance(slot, str)}
                return method(codec, *call_args, **call_kwargs)

            run.__name__ = method.__name__
            run.__qualname__ = method.__qualname__
            with _lock:
                compiled = _wrappers.setdefault(key, jax.jit(run))
                if len(_wrappers) > _MAX_WRAPPERS:
                    _wrappers.popitem(last=False)
        return compiled(tuple(dynamic[slot] for slot in slots))

    routed.__wrapped_eager__ = method
    return routed


def op_by_op(bound_method: Callable[..., Any]) -> Callable[..., Any]:
    """The codec method ``bound_method`` (e.g. ``codec.encode``) without the
    eager program: a call runs op by op (the jitted ops and JAX's loops
    compiled as units), as it would without :func:`route_eager`."""
    function = getattr(bound_method, "__func__", None)
    method = getattr(function, "__wrapped_eager__", function)
    if method is None:
        raise TypeError(f"op_by_op() takes a bound codec method, got {bound_method!r}.")
    return functools.partial(method, bound_method.__self__)
