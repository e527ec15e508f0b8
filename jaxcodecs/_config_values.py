"""The values a config file's evaluation produces, and the pure operations on them.

:class:`Imported` stands for an imported name (never imported),
:class:`Unresolved` for a value that could not be computed, with why and
where; :class:`ConfigDict` is a dict that remembers where it was written.
:func:`merge_into` merges a config into its base the way MMEngine does.
"""

from __future__ import annotations

import ast
import dataclasses
import math
import operator
import re
from typing import Any, Callable, Mapping

__all__ = [
    "BINOPS", "COMPARE", "ConfigDict", "Failure", "Imported", "MAX_ITEMS", "MAX_TOTAL_ITEMS", "METHODS",
    "MMPoseConfigError", "check_method",
    "PURE_BUILTINS", "UNARY", "Unresolved", "Where", "capped", "deep_copy", "find_unresolved",
    "merge_into", "update",
]

MAX_ITEMS = 1_000_000  # no container, range or loop the evaluator builds may be longer
MAX_TOTAL_ITEMS = 5_000_000  # nor may all the containers one file's evaluation builds, together


class MMPoseConfigError(ValueError):
    """An MMPose config file that cannot be read, or a codec configuration in
    it that cannot be resolved or built."""


@dataclasses.dataclass(frozen=True)
class Where:
    """A place in a config file: its path (or ``<text>``) and line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}, line {self.line}"


class Unresolved:
    """A value that could not be computed: ``reason`` says why, ``where`` where."""

    __slots__ = ("reason", "where")

    def __init__(self, reason: str, where: Where):
        self.reason = reason
        self.where = where

    def message(self) -> str:
        return f"{self.reason} ({self.where})"

    def __repr__(self) -> str:
        return f"<unresolved: {self.message()}>"


class Imported:
    """An imported name (``from mmpose.codecs import SimCCLabel``), never imported.

    Attribute access extends the dotted name; anything else that needs its
    value is unresolved.
    """

    __slots__ = ("qualname", "where")

    def __init__(self, qualname: str, where: Where):
        self.qualname = qualname
        self.where = where

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Imported) and other.qualname == self.qualname

    def __hash__(self) -> int:
        return hash(("Imported", self.qualname))

    def __repr__(self) -> str:
        return f"<imported {self.qualname}>"


class ConfigDict(dict):
    """A dict written in a config file; ``where`` is where it was written."""

    __slots__ = ("where",)

    def __init__(self, *args: Any, where: Where | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.where = where


class Failure(Exception):
    """Raised inside the evaluator when a value cannot be computed."""

    def __init__(self, unresolved: Unresolved):
        super().__init__(unresolved.message())
        self.unresolved = unresolved


def deep_copy(value: Any) -> Any:
    """A copy of the containers in ``value`` (placeholders are shared: they are immutable)."""
    if isinstance(value, dict):
        out = ConfigDict(where=getattr(value, "where", None))
        for key, item in value.items():
            out[key] = deep_copy(item)
        return out
    if isinstance(value, list):
        return [deep_copy(v) for v in value]
    if isinstance(value, tuple):
        return tuple(deep_copy(v) for v in value)
    if isinstance(value, set):
        return {deep_copy(v) for v in value}
    return value


def find_unresolved(value: Any) -> Unresolved | None:
    """The first :class:`Unresolved` anywhere in ``value``, or ``None``."""
    if isinstance(value, Unresolved):
        return value
    if isinstance(value, dict):
        items = list(value.keys()) + list(value.values())
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
    else:
        return None
    for item in items:
        found = find_unresolved(item)
        if found is not None:
            return found
    return None


def merge_into(child: Mapping, base: Mapping) -> ConfigDict:
    """``child`` merged into ``base`` the way MMEngine merges a config into its base.

    Dicts merge key by key, recursively; a child dict with ``_delete_=True``
    replaces the base's value instead; anything else replaces. Neither input
    is modified.
    """
    out = ConfigDict(base, where=getattr(child, "where", None) or getattr(base, "where", None))
    for key, value in child.items():
        if isinstance(value, dict):
            value = ConfigDict(value, where=getattr(value, "where", None))
            delete = value.pop("_delete_", False)
            if not delete and isinstance(out.get(key), dict):
                value = merge_into(value, out[key])
        out[key] = value
    return out


def update(target: dict, *args: Any, **kwargs: Any) -> None:
    """``dict.update`` as MMEngine's ConfigDict does it: nested dicts merge."""
    other: dict = {}
    for arg in args:
        other.update(arg)
    other.update(kwargs)
    for key, value in other.items():
        if isinstance(target.get(key), dict) and isinstance(value, dict):
            update(target[key], value)
        else:
            target[key] = value


def capped(items: Any, node_name: str) -> list:
    out = []
    for item in items:
        out.append(item)
        if len(out) > MAX_ITEMS:
            raise ValueError(f"{node_name} yields more than {MAX_ITEMS} items")
    return out


def _safe_pow(a: Any, b: Any) -> Any:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(a) > 1 \
            and abs(b) * math.log2(abs(a)) > 4096:
        raise ValueError(f"{a!r} ** {b!r} is too large")
    return operator.pow(a, b)


def _safe_add(a: Any, b: Any) -> Any:
    if isinstance(a, (str, list, tuple)) and isinstance(b, (str, list, tuple)) and len(a) + len(b) > MAX_ITEMS:
        raise ValueError(f"the sum has more than {MAX_ITEMS} items")
    return operator.add(a, b)


def _safe_mod(a: Any, b: Any) -> Any:
    if isinstance(a, str) and re.search(r"%[^a-zA-Z%]*(\*|\d{4,})", a):
        raise ValueError(f"the format {a!r} is not evaluated")
    return operator.mod(a, b)


def check_method(owner: Any, name: str, args: list) -> None:
    """Refuses a container method call whose result would be too large."""
    size = 0
    if isinstance(owner, str) and name == "replace" and len(args) >= 2:
        size = (len(owner) + 1) * max(len(args[1]), 1)
    elif isinstance(owner, str) and name == "zfill" and args:
        size = args[0]
    elif isinstance(owner, str) and name == "join" and args:
        size = sum(len(a) + len(owner) for a in args[0] if isinstance(a, str))
    elif isinstance(owner, list) and name == "extend" and args:
        size = len(owner) + len(args[0])
    if isinstance(size, int) and size > MAX_ITEMS:
        raise ValueError(f"{name}() would build more than {MAX_ITEMS} items")


def _safe_mul(a: Any, b: Any) -> Any:
    seq, n = (a, b) if isinstance(a, (str, list, tuple)) else (b, a)
    if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_ITEMS:
        raise ValueError(f"a sequence repeated {n} times is too long")
    return operator.mul(a, b)


BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: _safe_add, ast.Sub: operator.sub, ast.Mult: _safe_mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: _safe_mod,
    ast.Pow: _safe_pow, ast.BitAnd: operator.and_, ast.BitOr: operator.or_,
    ast.BitXor: operator.xor,
}
UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_, ast.Invert: operator.invert}
COMPARE = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
PURE_BUILTINS: dict[str, Callable[..., Any]] = {
    "list": lambda *a: capped(*a, "list()") if a else [],
    "tuple": lambda *a: tuple(capped(*a, "tuple()")) if a else (),
    "set": lambda *a: set(capped(*a, "set()")) if a else set(),
    "frozenset": lambda *a: frozenset(capped(*a, "frozenset()")) if a else frozenset(),
    "int": int, "float": float, "str": str, "bool": bool, "round": round, "len": len,
    "min": min, "max": max, "abs": abs, "sum": sum, "any": any, "all": all,
    "range": lambda *a: checked_range(range(*a)),
    "zip": lambda *a: capped(zip(*a), "zip()"),
    "enumerate": lambda *a, **k: capped(enumerate(*a, **k), "enumerate()"),
    "reversed": lambda a: capped(reversed(a), "reversed()"),
    "sorted": lambda a, **k: sorted(capped(a, "sorted()"), **k),
}
METHODS: dict[type, frozenset] = {
    str: frozenset({"join", "replace", "split", "rsplit", "strip", "lstrip", "rstrip",
                    "upper", "lower", "startswith", "endswith", "count", "find", "zfill"}),
    list: frozenset({"append", "extend", "insert", "pop", "remove", "index", "count", "copy", "reverse"}),
    tuple: frozenset({"index", "count"}),
    dict: frozenset({"get", "keys", "values", "items", "copy", "update", "pop", "setdefault"}),
}


def checked_range(r: range) -> range:
    if len(r) > MAX_ITEMS:
        raise ValueError(f"range of {len(r)} items is too long")
    return r
