"""A safe evaluator of the Python subset that MMPose config files are written in.

Nothing in a config file is executed: its expressions are walked with
:mod:`ast` and only literals, names, containers, arithmetic, comparisons,
comprehensions, f-strings, ``dict(...)`` and a short list of pure builtins
and container methods are computed. Imported names are bound to
:class:`Imported` placeholders that carry their dotted name and are never
imported. A value that cannot be computed (an undefined name, a call of an
imported function, a construct outside the subset) becomes an
:class:`Unresolved` that records why, with the file and line: it is stored
where the value would have gone, so only what depends on it fails, and it
fails with that record.
"""

from __future__ import annotations

import ast
import builtins
import re
from typing import Any, Callable, Mapping, NoReturn

from jaxcodecs._config_values import (
    BINOPS, COMPARE, MAX_ITEMS, MAX_TOTAL_ITEMS, METHODS, PURE_BUILTINS, UNARY, ConfigDict, Failure,
    Imported, MMPoseConfigError, Unresolved, Where, capped, check_method, deep_copy, find_unresolved, update,
)

__all__ = ["BASE_VAR", "Evaluator"]

#: The name a config file gives its base files, and the prefix of references to their values.
BASE_VAR = "_base_"
_BASE_REF = re.compile(r"^\{\{\s*_base_\.([\w.]+)\s*\}\}$")


# Expressions that read a value without building one (not counted against MAX_TOTAL_ITEMS).
_READS = (ast.Name, ast.Attribute, ast.Constant)


class _BaseVars:
    """What ``_base_`` stands for in a config file: attribute access reads a
    copy of a value of the merged base files."""

    def __init__(self, values: Mapping[str, Any]):
        self.values = values


class Evaluator:
    """Evaluates expressions of one config file against its namespace.

    Args:
      file: the file's path (or ``<text>``), for messages.
      namespace: the file's module-level names; read, and written by the
        statements' runner.
      base_values: the merged values of the file's ``_base_`` files, which
        ``_base_.name`` and ``{{_base_.name}}`` read, or ``None``.
      star_imports: modules imported with ``*`` outside ``read_base()``,
        named in the message of an undefined name.
    """

    def __init__(self, file: str, namespace: dict, base_values: Mapping | None = None,
                 star_imports: list[str] | None = None):
        self.file = file
        self.namespace = namespace
        self.base = _BaseVars(base_values) if base_values is not None else None
        self.star_imports = star_imports if star_imports is not None else []
        self.built = 0  # container items built so far, against MAX_TOTAL_ITEMS

    # ------------------------------------------------------------ helpers
    def where(self, node: ast.AST) -> Where:
        """Where ``node`` (an expression or statement of this file) was written."""
        return Where(self.file, getattr(node, "lineno", 0))

    def fail(self, node: ast.AST, reason: str) -> NoReturn:
        """Raises :class:`Failure`: the value of ``node`` is unresolved because of ``reason``."""
        raise Failure(Unresolved(reason, self.where(node)))

    def plain(self, node: ast.AST, value: Any) -> Any:
        """``value`` (of expression ``node``), checked to hold no unresolved
        part and to be no placeholder, before an operation computes with it."""
        bad = find_unresolved(value)
        if bad is not None:
            raise Failure(bad)
        if isinstance(value, (Imported, _BaseVars)):
            self.fail(node, f"{_describe(value)} is used in an expression, which is not evaluated")
        return value

    def iterable(self, node: ast.AST, value: Any) -> Any:
        """``value`` (of expression ``node``), checked to be a container the evaluator may iterate over."""
        if not isinstance(value, (list, tuple, dict, set, frozenset, range, str)):
            self.fail(node, f"'{_source(node)}' is not a list, tuple, dict, set, range or string")
        return value

    def guarded(self, node: ast.AST, local: dict | None = None) -> Any:
        """The value of expression ``node`` (with the comprehension variables
        ``local``), or the :class:`Unresolved` that stands for it."""
        try:
            return self.eval(node, local)
        except Failure as failure:
            return failure.unresolved

    def base_var(self, node: ast.AST, dotted: str) -> Any:
        """A copy of the bases' value ``dotted`` (``model.head``), read by expression ``node``."""
        if self.base is None:
            self.fail(node, f"'{BASE_VAR}.{dotted}' is used but the file has no {BASE_VAR} files")
        value: Any = self.base.values
        for part in dotted.split("."):
            if not isinstance(value, Mapping) or part not in value:
                self.fail(node, f"'{BASE_VAR}.{dotted}' is not defined in the {BASE_VAR} files")
            value = value[part]
        if isinstance(value, Unresolved):
            raise Failure(value)
        return deep_copy(value)

    # --------------------------------------------------------------- eval
    def eval(self, node: ast.AST, local: dict | None = None) -> Any:
        """The value of expression ``node``; :class:`Failure` when it has none.

        Args:
          node: an expression of this file.
          local: the variables of the comprehensions ``node`` is inside, if any.
        """
        kind = type(node).__name__  # expression nodes are CamelCase; _arguments & co. are helpers
        method = getattr(self, "_" + kind, None) if kind[0].isupper() else None
        if method is None:
            self.fail(node, f"the expression '{_source(node)}' ({type(node).__name__}) is not evaluated")
        try:
            value = method(node, local)
            if isinstance(value, (str, list, tuple, dict, set, frozenset)) and not isinstance(node, _READS):
                self.built += len(value)
                if self.built > MAX_TOTAL_ITEMS:
                    raise MMPoseConfigError(f"{self.where(node)}: the config builds more than "
                                            f"{MAX_TOTAL_ITEMS} container items in all; it is not read")
            return value
        except (Failure, MMPoseConfigError):
            raise
        except RecursionError:
            self.fail(node, "the expression is nested too deeply")
        except Exception as error:  # the Python operation itself failed (TypeError, KeyError...)
            self.fail(node, f"'{_source(node)}' failed: {type(error).__name__}: {error}")

    def _Constant(self, node: ast.Constant, local):
        match = _BASE_REF.match(node.value) if isinstance(node.value, str) else None
        return self.base_var(node, match.group(1)) if match else node.value

    def _Name(self, node: ast.Name, local):
        name = node.id
        for scope in (local, self.namespace):
            if scope is not None and name in scope:
                value = scope[name]
                if isinstance(value, Unresolved):
                    raise Failure(value)
                return value
        if name == BASE_VAR:
            if self.base is None:
                self.fail(node, f"'{BASE_VAR}' is used but the file names no {BASE_VAR} files")
            return self.base
        if name in PURE_BUILTINS or name in ("dict", "hasattr", "getattr", "isinstance"):
            self.fail(node, f"the builtin '{name}' is only evaluated when called")
        hint = f" (it may come from 'from {self.star_imports[0]} import *', which is not evaluated)" \
            if self.star_imports else ""
        self.fail(node, f"name '{name}' is not defined{hint}")

    def _Attribute(self, node: ast.Attribute, local):
        if node.attr.startswith("__"):
            self.fail(node, f"attribute '{node.attr}' is not evaluated")
        owner = self.eval(node.value, local)
        if isinstance(owner, _BaseVars):
            return self.base_var(node, node.attr)
        if isinstance(owner, Imported):
            return Imported(f"{owner.qualname}.{node.attr}", owner.where)
        if isinstance(owner, dict):  # MMEngine's ConfigDict reads keys as attributes
            if node.attr not in owner:
                self.fail(node, f"'{_source(node)}': the dict has no key '{node.attr}'")
            value = owner[node.attr]
            if isinstance(value, Unresolved):
                raise Failure(value)
            return value
        self.fail(node, f"attribute '{node.attr}' of a {type(owner).__name__} is not evaluated")

    def _Subscript(self, node: ast.Subscript, local):
        owner = self.eval(node.value, local)
        if not isinstance(owner, (dict, list, tuple, str, range)):
            self.fail(node, f"'{_source(node)}': a {type(owner).__name__} cannot be indexed here")
        index = self.plain(node.slice, self.eval(node.slice, local))
        value = owner[index]
        if isinstance(value, Unresolved):
            raise Failure(value)
        return value

    def _Slice(self, node: ast.Slice, local):
        bounds = (node.lower, node.upper, node.step)
        return slice(*[None if b is None else self.plain(b, self.eval(b, local)) for b in bounds])

    def _elements(self, nodes: list, local) -> list:
        out = []
        for element in nodes:
            if isinstance(element, ast.Starred):
                out.extend(capped(self.iterable(element, self.eval(element.value, local)), "*"))
            else:
                out.append(self.guarded(element, local))
        return out

    def _Tuple(self, node, local):
        return tuple(self._elements(node.elts, local))

    def _List(self, node, local):
        return self._elements(node.elts, local)

    def _Set(self, node: ast.Set, local):
        # MMEngine's ``{{_base_.name}}`` parses as a set holding a set.
        if len(node.elts) == 1 and isinstance(node.elts[0], ast.Set) and len(node.elts[0].elts) == 1:
            dotted = _dotted(node.elts[0].elts[0])
            if dotted and dotted.startswith(BASE_VAR + "."):
                return self.base_var(node, dotted[len(BASE_VAR) + 1:])
        return {self.plain(node, v) for v in self._elements(node.elts, local)}

    def _Dict(self, node: ast.Dict, local):
        out = ConfigDict(where=self.where(node))
        for key, value in zip(node.keys, node.values):
            if key is None:  # {**other}
                other = self.eval(value, local)
                if not isinstance(other, dict):
                    self.fail(value, f"'**{_source(value)}' is not a dict")
                out.update(other)
            else:
                out[self.plain(key, self.eval(key, local))] = self.guarded(value, local)
        return out

    def _BinOp(self, node: ast.BinOp, local):
        op = BINOPS.get(type(node.op))
        if op is None:
            self.fail(node, f"the operator {type(node.op).__name__} is not evaluated")
        left = self.plain(node.left, self.eval(node.left, local))
        right = self.plain(node.right, self.eval(node.right, local))
        return op(left, right)

    def _UnaryOp(self, node: ast.UnaryOp, local):
        return UNARY[type(node.op)](self.plain(node.operand, self.eval(node.operand, local)))

    def _BoolOp(self, node: ast.BoolOp, local):
        value = None
        for operand in node.values:
            value = self.plain(operand, self.eval(operand, local))
            if isinstance(node.op, ast.And) != bool(value):
                return value
        return value

    def _Compare(self, node: ast.Compare, local):
        left = self.plain(node.left, self.eval(node.left, local))
        for op, comparator in zip(node.ops, node.comparators):
            right = self.plain(comparator, self.eval(comparator, local))
            if not COMPARE[type(op)](left, right):
                return False
            left = right
        return True

    def _IfExp(self, node: ast.IfExp, local):
        test = self.plain(node.test, self.eval(node.test, local))
        return self.eval(node.body if test else node.orelse, local)

    def _JoinedStr(self, node: ast.JoinedStr, local):
        return "".join(str(self.eval(part, local)) for part in node.values)

    def _FormattedValue(self, node: ast.FormattedValue, local):
        value = self.plain(node.value, self.eval(node.value, local))
        if node.conversion > 0:
            value = {ord("s"): str, ord("r"): repr, ord("a"): ascii}[node.conversion](value)
        spec = self.eval(node.format_spec, local) if node.format_spec is not None else ""
        if len(spec) > 16 or any(int(n) > 1000 for n in re.findall(r"\d+", spec)):
            self.fail(node, f"the format spec {spec!r} is not evaluated")
        return format(value, spec)

    # ----------------------------------------------------- comprehensions
    def _comprehend(self, node, local, emit: Callable[[dict], None]) -> None:
        count = [0]

        def loop(generators, scope):
            if not generators:
                count[0] += 1
                if count[0] > MAX_ITEMS:
                    self.fail(node, f"the comprehension yields more than {MAX_ITEMS} items")
                emit(scope)
                return
            first, rest = generators[0], generators[1:]
            if first.is_async:
                self.fail(node, "async comprehensions are not evaluated")
            for item in self.iterable(first.iter, self.eval(first.iter, scope)):
                inner = dict(scope)
                self.bind(first.target, item, inner)
                if all(self.plain(c, self.eval(c, inner)) for c in first.ifs):
                    loop(rest, inner)

        loop(node.generators, dict(local or {}))

    def _ListComp(self, node: ast.ListComp, local):
        out: list = []
        self._comprehend(node, local, lambda s: out.append(self.guarded(node.elt, s)))
        return out

    _GeneratorExp = _ListComp

    def _SetComp(self, node: ast.SetComp, local):
        out: set = set()
        self._comprehend(node, local, lambda s: out.add(self.plain(node.elt, self.eval(node.elt, s))))
        return out

    def _DictComp(self, node: ast.DictComp, local):
        out = ConfigDict(where=self.where(node))

        def emit(scope):
            out[self.plain(node.key, self.eval(node.key, scope))] = self.guarded(node.value, scope)

        self._comprehend(node, local, emit)
        return out

    def bind(self, target: ast.AST, value: Any, scope: dict) -> None:
        """Binds ``value`` to ``target``, a name or (nested) tuple of names, in the dict ``scope``."""
        if isinstance(target, ast.Name):
            scope[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            values = list(self.plain(target, value))
            if len(values) != len(target.elts):
                self.fail(target, f"cannot unpack {len(values)} values into {len(target.elts)} names")
            for sub, item in zip(target.elts, values):
                self.bind(sub, item, scope)
        else:
            self.fail(target, f"assigning to '{_source(target)}' here is not evaluated")

    # --------------------------------------------------------------- calls
    def _arguments(self, node: ast.Call, local, plain: bool) -> tuple[list, dict]:
        args = self._elements(node.args, local)
        kwargs: dict = {}
        for keyword in node.keywords:
            if keyword.arg is None:
                other = self.eval(keyword.value, local)
                if not isinstance(other, dict):
                    self.fail(keyword.value, f"'**{_source(keyword.value)}' is not a dict")
                kwargs.update(other)
            else:
                kwargs[keyword.arg] = self.guarded(keyword.value, local)
        if plain:
            args = [self.plain(node, a) for a in args]
            kwargs = {k: self.plain(node, v) for k, v in kwargs.items()}
        return args, kwargs

    def _Call(self, node: ast.Call, local):
        func = node.func
        if isinstance(func, ast.Attribute) and not func.attr.startswith("_"):
            owner = self.eval(func.value, local)
            if isinstance(owner, Imported):
                self.fail(node, f"'{_source(func)}' is called, and calls of imported names "
                                f"('{owner.qualname}', imported at {owner.where}) are not evaluated")
            if isinstance(owner, (str, list, tuple, dict)):
                kind = next(k for k in (str, list, tuple, dict) if isinstance(owner, k))
                if func.attr in METHODS[kind]:
                    return self._method(node, owner, func.attr, local)
            self.fail(node, f"'{_source(func)}(...)' is not evaluated")
        if not isinstance(func, ast.Name) or (local and func.id in local) or func.id in self.namespace:
            target = self.eval(func, local)
            what = f"'{target.qualname}' (imported at {target.where})" if isinstance(target, Imported) \
                else f"'{_source(func)}'"
            self.fail(node, f"{what} is called, and calls are not evaluated")
        name = func.id
        if name == "dict":
            args, kwargs = self._arguments(node, local, plain=False)
            if len(args) > 1:
                self.fail(node, "dict() takes at most one positional argument")
            out = ConfigDict(where=self.where(node))
            if args:
                out.update(self.plain(node, args[0]) if not isinstance(args[0], dict) else args[0])
            out.update(kwargs)
            return out
        if name in ("hasattr", "getattr"):
            args, _ = self._arguments(node, local, plain=False)
            owner = args[0].values if isinstance(args[0], _BaseVars) else args[0]
            if not isinstance(owner, dict) or len(args) < 2 or not isinstance(args[1], str):
                self.fail(node, f"'{_source(node)}' is only evaluated on dicts and {BASE_VAR}")
            if name == "hasattr":
                return args[1] in owner
            if args[1] in owner:
                return deep_copy(owner[args[1]]) if isinstance(args[0], _BaseVars) else owner[args[1]]
            if len(args) > 2:
                return args[2]
            self.fail(node, f"'{_source(node)}': no key {args[1]!r}")
        if name in PURE_BUILTINS:
            args, kwargs = self._arguments(node, local, plain=True)
            return PURE_BUILTINS[name](*args, **kwargs)
        hint = " (a builtin the evaluator does not compute)" if hasattr(builtins, name) else ""
        self.fail(node, f"name '{name}' is not defined{hint}")

    def _method(self, node: ast.Call, owner: Any, name: str, local):
        mutating = name in ("append", "extend", "insert", "update", "setdefault")
        args, kwargs = self._arguments(node, local, plain=not mutating)
        if name == "update":
            update(owner, *args, **kwargs)
            return None
        if name in ("extend",) and args:
            args = [capped(self.plain(node, args[0]), "extend()")]
        check_method(owner, name, args)
        result = getattr(owner, name)(*args, **kwargs)
        if isinstance(result, str) and len(result) > MAX_ITEMS:
            self.fail(node, "the string is too long")
        if name in ("keys", "values", "items"):
            return list(result)
        if name == "copy" and isinstance(owner, dict):
            return ConfigDict(owner, where=getattr(owner, "where", None))
        if isinstance(result, Unresolved):
            raise Failure(result)
        return result

    def _Lambda(self, node, local):
        self.fail(node, "lambda expressions are not evaluated")


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr}" if head else None
    return None


def _describe(value: Any) -> str:
    if isinstance(value, Imported):
        return f"'{value.qualname}' (imported at {value.where})"
    return f"'{BASE_VAR}'"


def _source(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 80 else text[:77] + "..."
