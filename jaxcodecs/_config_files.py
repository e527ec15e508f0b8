"""Reading MMPose config files: their statements, imports, ``_base_`` files
and ``read_base()`` imports, without executing anything.

A file's module-level statements run in a small interpreter over
:class:`jaxcodecs._config_eval.Evaluator`: assignments (also to keys, to
attributes of dicts, augmented and unpacking), ``for`` loops and ``if``
statements over resolvable values, container methods called as statements
(``datasets.append(...)``, ``default_hooks.update(...)``) and ``del``.
Imports bind :class:`Imported` placeholders; functions and classes are
unresolved names. A statement that cannot be evaluated leaves the names it
would have bound or changed unresolved, and the file goes on.

Two kinds of inheritance, as in MMEngine:

* ``_base_ = [...]`` (or one path): the base files load first, then this
  file's values merge into theirs (dicts key by key, ``_delete_=True``
  replaces); ``_base_.name`` and ``{{_base_.name}}`` read the bases' values.
* ``with read_base(): from .base import *``: the base module's names are
  bound as by a Python import; nothing merges (``.update`` does, as
  MMEngine's ``ConfigDict.update``).
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import os
import re
from pathlib import Path
from typing import Any, Mapping

from jaxcodecs._config_eval import BASE_VAR, Evaluator
from jaxcodecs._config_values import (
    BINOPS, ConfigDict, Failure, Imported, MMPoseConfigError, Unresolved, Where,
    deep_copy, merge_into,
)

__all__ = ["FileValues", "Loader"]

MAX_LOOPS = 100_000  # iterations of all the for loops of one file
_MUTATING = frozenset({"append", "extend", "insert", "update", "pop", "remove", "setdefault", "reverse"})


@dataclasses.dataclass
class FileValues:
    """One evaluated config file.

    Attributes:
      file: its path, or ``<text>``.
      names: every module-level name (what ``from file import *`` binds).
      hidden: the names that are no config values (imports, functions, classes).
      config: the config the file stands for: its own values merged into its
        ``_base_`` files' (MMEngine's config dict), in order.
    """

    file: str
    names: dict
    hidden: set
    config: ConfigDict


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class Loader:
    """Loads config files and their bases.

    Args:
      packages: package name -> directory, for ``_base_`` paths such as
        ``'mmpose::_base_/default_runtime.py'`` and ``read_base()`` imports
        such as ``from mmpose.configs._base_.default_runtime import *``. The
        directory is a source checkout of the package (holding ``configs/``
        and the package) or the installed package itself; a package not
        named here is looked up with :func:`importlib.util.find_spec`, which
        finds it without importing it.
    """

    def __init__(self, packages: Mapping[str, str | os.PathLike] | None = None):
        self.packages = {name: Path(path) for name, path in (packages or {}).items()}
        self._loading: list[Path] = []
        self._cache: dict[Path, FileValues] = {}

    # --------------------------------------------------------------- files
    def load_path(self, path: Path, where: Where | None = None) -> FileValues:
        """The evaluated file at ``path`` (a fresh copy; bases are read once per loader)."""
        path = path.resolve()
        if path in self._loading:
            chain = " -> ".join(str(p) for p in self._loading[self._loading.index(path):] + [path])
            raise MMPoseConfigError(f"config files inherit from each other in a circle: {chain}")
        if path not in self._cache:
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as error:
                at = f" (named at {where})" if where else ""
                raise MMPoseConfigError(f"cannot read config file {path}{at}: {error}") from None
            self._loading.append(path)
            try:
                self._cache[path] = self.load_text(_predefined(text, path), str(path), path.parent)
            finally:
                self._loading.pop()
        done = self._cache[path]
        return FileValues(done.file, deep_copy(done.names), set(done.hidden), deep_copy(done.config))

    def load_text(self, text: str, file: str, directory: Path | None) -> FileValues:
        """Evaluates config ``text`` named ``file``; relative paths start at ``directory``."""
        try:
            tree = ast.parse(text, filename=file)
        except SyntaxError as error:
            raise MMPoseConfigError(f"{file}, line {error.lineno}: invalid Python: {error.msg}") from None
        except (RecursionError, MemoryError):
            raise MMPoseConfigError(f"{file}: the config is nested too deeply to read") from None
        base_values = self._bases(tree, file, directory)
        runner = _Runner(self, Evaluator(file, {}, base_values), directory)
        try:
            runner.run(tree.body)
        except RecursionError:
            raise MMPoseConfigError(f"{file}: the config is nested too deeply to read") from None
        names = runner.evaluator.namespace
        own = ConfigDict((k, v) for k, v in names.items()
                         if k not in runner.hidden and not k.startswith("__") and k != BASE_VAR)
        config = merge_into(own, base_values) if base_values is not None else own
        return FileValues(file, {**config, **names}, runner.hidden, config)

    def _bases(self, tree: ast.Module, file: str, directory: Path | None) -> ConfigDict | None:
        """The merged configs of the ``_base_`` files a module names, or ``None``."""
        refs: Any = None
        for stmt in tree.body:
            if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == BASE_VAR
                                                    for t in stmt.targets):
                where = Where(file, stmt.lineno)
                try:
                    refs = Evaluator(file, {}).eval(stmt.value)
                except Failure as failure:
                    raise MMPoseConfigError(f"{BASE_VAR} cannot be read: {failure.unresolved.message()}") from None
        if refs is None:
            return None
        refs = [refs] if isinstance(refs, str) else refs
        if not isinstance(refs, (list, tuple)) or not all(isinstance(r, str) for r in refs):
            raise MMPoseConfigError(f"{where}: {BASE_VAR} must be a path or a list of paths, got {refs!r}")
        merged = ConfigDict()
        for ref in refs:
            values = self.load_path(self._base_path(ref, directory, where), where).config
            duplicates = sorted(set(merged) & set(values))
            if duplicates:
                raise MMPoseConfigError(f"{where}: the {BASE_VAR} files both define {', '.join(duplicates)}")
            merged.update(values)
        return merged

    # --------------------------------------------------------------- paths
    def _package_dirs(self, package: str) -> list[Path]:
        if package in self.packages:
            root = self.packages[package]
            return [root, root / package]
        if not package.isidentifier():  # find_spec imports the parents of a dotted name
            return []
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.submodule_search_locations:
            return []
        installed = Path(list(spec.submodule_search_locations)[0])
        return [installed, installed.parent]

    def _first(self, candidates: list[Path], what: str, where: Where, package: str | None) -> Path:
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        hint = ""
        if package is not None and package not in self.packages:
            hint = (f"; pass packages={{{package!r}: <directory of a {package} checkout>}} to "
                    f"jaxcodecs.from_mmpose_config")
        looked = f"looked at {', '.join(str(c) for c in candidates)}" if candidates \
            else f"{package} is not installed"
        raise MMPoseConfigError(f"{where}: cannot find {what} ({looked}){hint}")

    def _base_path(self, ref: str, directory: Path | None, where: Where) -> Path:
        if "::" in ref:  # 'mmpose::body_2d_keypoint/...': a config shipped with a package
            package, rel = ref.split("::", 1)
            candidates = [d / sub / rel for d in self._package_dirs(package)
                          for sub in ("configs", ".mim/configs", "")]
            return self._first(candidates, f"the {BASE_VAR} file {ref!r}", where, package)
        if directory is None and not Path(ref).is_absolute():
            raise MMPoseConfigError(
                f"{where}: the config names the {BASE_VAR} file {ref!r}, relative to a directory it "
                f"does not know: pass base_dir= with config text"
            )
        return self._first([(directory or Path()) / ref], f"the {BASE_VAR} file {ref!r}", where, None)

    def module_path(self, module: str, level: int, directory: Path | None, where: Where) -> Path:
        """The file of a module imported inside ``read_base()``."""
        parts = module.split(".") if module else []
        if level:
            if directory is None:
                raise MMPoseConfigError(f"{where}: a relative import in config text needs base_dir=")
            anchor = directory
            for _ in range(level - 1):
                anchor = anchor.parent
            return self._first([anchor.joinpath(*parts).with_suffix(".py")],
                               f"the module {'.' * level}{module}", where, None)
        candidates = [d.joinpath(*rest).with_suffix(".py") for d in self._package_dirs(parts[0])
                      for rest in (parts, parts[1:]) if rest]
        return self._first(candidates, f"the module {module}", where, parts[0])


def _predefined(text: str, path: Path) -> str:
    """MMEngine's predefined variables (``{{ fileBasenameNoExtension }}`` and the like) filled in."""
    values = {"fileDirname": str(path.parent), "fileBasename": path.name,
              "fileBasenameNoExtension": path.stem, "fileExtname": path.suffix}
    for key, value in values.items():
        text = re.sub(r"\{\{\s*" + key + r"\s*\}\}", value.replace("\\", "/"), text)
    return text


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


class _Runner:
    """Runs a file's statements over an evaluator's namespace."""

    def __init__(self, loader: Loader, evaluator: Evaluator, directory: Path | None):
        self.loader = loader
        self.evaluator = evaluator
        self.directory = directory
        self.hidden: set[str] = set()
        self.iterations = 0

    @property
    def names(self) -> dict:
        return self.evaluator.namespace

    def set(self, name: str, value: Any, hidden: bool = False) -> None:
        self.names[name] = value
        (self.hidden.add if hidden else self.hidden.discard)(name)

    def where(self, node: ast.AST) -> Where:
        return self.evaluator.where(node)

    def run(self, statements: list[ast.stmt]) -> None:
        for stmt in statements:
            try:
                self.statement(stmt)
            except Failure as failure:
                unresolved = failure.unresolved
            except (_Break, _Continue, MMPoseConfigError, RecursionError):
                raise
            except Exception as error:  # a Python operation of the statement itself failed
                text = ast.unparse(stmt).splitlines()[0][:80]
                unresolved = Unresolved(f"'{text}' failed: {type(error).__name__}: {error}", self.where(stmt))
            else:
                continue
            for name in self.touched(stmt):
                self.set(name, unresolved)

    def touched(self, stmt: ast.stmt) -> list[str]:
        """The names a statement binds or changes (left unresolved when it fails)."""
        found: list[str] = []
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                found.append(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                found.append(node.name)
            elif isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(node.ctx, (ast.Store, ast.Del)):
                found.append(_root_name(node))
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in _MUTATING:
                found.append(_root_name(node.func.value))
        return [n for n in dict.fromkeys(found)
                if n is not None and n != BASE_VAR and not isinstance(self.names.get(n), Imported)]

    def statement(self, stmt: ast.stmt) -> None:
        ev = self.evaluator
        if isinstance(stmt, ast.Assign):
            if any(isinstance(t, ast.Name) and t.id == BASE_VAR for t in stmt.targets):
                return  # read by Loader._bases
            value = ev.guarded(stmt.value)
            for target in stmt.targets:
                self.assign(target, value)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self.assign(stmt.target, ev.guarded(stmt.value))
        elif isinstance(stmt, ast.AugAssign):
            load = ast.fix_missing_locations(ast.copy_location(_as_load(stmt.target), stmt))
            current = ev.plain(stmt.target, ev.eval(load))
            value = ev.plain(stmt.value, ev.eval(stmt.value))
            if isinstance(current, list) and isinstance(stmt.op, ast.Add):
                BINOPS[ast.Add](current, value)  # refuses a result that is too long
                current.extend(value)  # in place, as Python's list +=
            else:
                self.assign(stmt.target, BINOPS[type(stmt.op)](current, value))
        elif isinstance(stmt, ast.Expr):
            if isinstance(stmt.value, ast.Call):  # a method called for its effect
                ev.eval(stmt.value)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            self.import_(stmt)
        elif isinstance(stmt, ast.With):
            self.with_(stmt)
        elif isinstance(stmt, ast.For):
            self.for_(stmt)
        elif isinstance(stmt, ast.If):
            test = ev.plain(stmt.test, ev.eval(stmt.test))
            self.run(stmt.body if test else stmt.orelse)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            kind = "class" if isinstance(stmt, ast.ClassDef) else "function"
            self.set(stmt.name, Unresolved(f"'{stmt.name}' is a {kind}, which is not evaluated",
                                           self.where(stmt)), hidden=True)
        elif isinstance(stmt, ast.Delete):
            for target in stmt.targets:
                self.delete(target)
        elif isinstance(stmt, ast.Break):
            raise _Break()
        elif isinstance(stmt, ast.Continue):
            raise _Continue()
        elif not isinstance(stmt, (ast.Pass, ast.Assert, ast.Raise, ast.Global, ast.Nonlocal, ast.Return)):
            ev.fail(stmt, f"a {type(stmt).__name__} statement is not evaluated")

    def assign(self, target: ast.AST, value: Any) -> None:
        ev = self.evaluator
        if isinstance(target, ast.Name):
            self.set(target.id, value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            if isinstance(value, Unresolved):
                raise Failure(value)
            scope: dict = {}
            ev.bind(target, value, scope)
            for name, item in scope.items():
                self.set(name, item)
        elif isinstance(target, ast.Attribute):
            owner = ev.eval(target.value)
            if not isinstance(owner, dict) or target.attr.startswith("__"):
                ev.fail(target, f"assigning to '{ast.unparse(target)}' is not evaluated")
            owner[target.attr] = value
        elif isinstance(target, ast.Subscript):
            owner = ev.eval(target.value)
            index = ev.plain(target.slice, ev.eval(target.slice))
            if not isinstance(owner, (dict, list)):
                ev.fail(target, f"assigning to '{ast.unparse(target)}' is not evaluated")
            owner[index] = value
        else:
            ev.fail(target, f"assigning to '{ast.unparse(target)}' is not evaluated")

    def delete(self, target: ast.AST) -> None:
        ev = self.evaluator
        if isinstance(target, ast.Name):
            self.names.pop(target.id, None)
            self.hidden.discard(target.id)
        elif isinstance(target, (ast.Subscript, ast.Attribute)):
            owner = ev.eval(target.value)
            key = target.attr if isinstance(target, ast.Attribute) else ev.plain(target.slice, ev.eval(target.slice))
            if not isinstance(owner, (dict, list)):
                ev.fail(target, f"deleting '{ast.unparse(target)}' is not evaluated")
            del owner[key]
        else:
            for element in getattr(target, "elts", []):
                self.delete(element)

    def import_(self, stmt: ast.Import | ast.ImportFrom) -> None:
        where = self.where(stmt)
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                qualname = alias.name if alias.asname else alias.name.split(".")[0]
                self.set(alias.asname or qualname, Imported(qualname, where), hidden=True)
            return
        module = "." * stmt.level + (stmt.module or "")
        for alias in stmt.names:
            if alias.name == "*":
                self.evaluator.star_imports.append(module)
            else:
                qualname = module + alias.name if module.endswith(".") else f"{module}.{alias.name}"
                self.set(alias.asname or alias.name, Imported(qualname, where), hidden=True)

    def with_(self, stmt: ast.With) -> None:
        if not (len(stmt.items) == 1 and isinstance(stmt.items[0].context_expr, ast.Call)
                and ast.unparse(stmt.items[0].context_expr.func).split(".")[-1] == "read_base"):
            self.evaluator.fail(stmt, "a with statement other than 'with read_base():' is not evaluated")
        for inner in stmt.body:  # each import loads a base module
            if not isinstance(inner, ast.ImportFrom):
                self.evaluator.fail(inner, "only 'from ... import ...' is evaluated inside read_base()")
            where = self.where(inner)
            path = self.loader.module_path(inner.module or "", inner.level, self.directory, where)
            base = self.loader.load_path(path, where)
            for alias in inner.names:
                if alias.name == "*":
                    for name, value in base.names.items():
                        if not name.startswith("_"):
                            self.set(name, value, hidden=name in base.hidden)
                elif alias.name in base.names:
                    self.set(alias.asname or alias.name, base.names[alias.name],
                             hidden=alias.name in base.hidden)
                else:
                    raise MMPoseConfigError(f"{where}: {path} defines no name {alias.name!r}")

    def for_(self, stmt: ast.For) -> None:
        ev = self.evaluator
        for item in list(ev.iterable(stmt.iter, ev.eval(stmt.iter))):
            self.iterations += 1
            if self.iterations > MAX_LOOPS:
                ev.fail(stmt, f"the file's loops run more than {MAX_LOOPS} times in all")
            self.assign(stmt.target, item)
            try:
                self.run(stmt.body)
            except _Break:
                return
            except _Continue:
                continue
        self.run(stmt.orelse)


def _as_load(target: ast.AST) -> ast.AST:
    """A copy of an assignment target that reads it."""
    node = ast.parse(ast.unparse(target), mode="eval").body
    return node
