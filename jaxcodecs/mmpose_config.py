"""MMPose config files -> codecs, read with :mod:`ast` and never executed.

:func:`from_mmpose_config` reads an MMPose 1.x config file (or its text),
resolves what MMPose's configs are written with (module-level names and
re-assignments, arithmetic on sizes, ``dict(...)`` and ``{...}``,
``dict(base, key=...)`` updates, comprehensions, f-strings, ``_base_``
files merged as MMEngine merges them, ``{{_base_.name}}`` and
``_base_.name``, and ``with read_base(): from .base import *``) and builds
every codec configuration it holds, keyed by where it was found::

    codecs = jaxcodecs.from_mmpose_config("td-hm_hrnet-w32_8xb64-210e_coco-256x192.py")
    codecs.keys()      # 'codec', 'model.head.decoder', 'train_pipeline[4].encoder', ...
    codecs.decoder     # the codec the model decodes with

Nothing runs: imports bind placeholders that are never imported, and a
value that cannot be computed (a call of an imported function, an
undefined name) poisons only what depends on it. A codec configuration
that depends on such a value is an :class:`MMPoseConfigError` naming the
value, the file and the line.

A dict is a codec configuration when its ``type`` is the name of a
registered codec (:func:`jaxcodecs.list_codecs`), written as a string
(``'MSRAHeatmap'``, ``'mmpose.MSRAHeatmap'``) or as a name imported from
``mmpose`` (``from mmpose.codecs import SimCCLabel``; ``type=SimCCLabel``).
MMEngine's bookkeeping keys ``_scope_`` and ``_delete_`` are dropped before
the codec is built; every other key goes to the codec's constructor, which
rejects one it does not take.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any, Iterator, Mapping

from jaxcodecs._config_files import Loader
from jaxcodecs._config_values import Imported, MMPoseConfigError, Unresolved, find_unresolved
from jaxcodecs.base import Codec
from jaxcodecs.registry import build, list_codecs

__all__ = ["MMPoseConfigCodecs", "MMPoseConfigError", "from_mmpose_config"]

_BOOKKEEPING = ("_scope_", "_delete_")
_CODEC_PREFIXES = ("mmpose", "jaxcodecs")
_IDENTIFIER = re.compile(r"^[A-Za-z_]\w*$")


@dataclasses.dataclass(frozen=True, eq=False)
class MMPoseConfigCodecs(Mapping[str, Codec]):
    """The codecs of one MMPose config file, keyed by where they were found.

    A mapping from a key path to the built codec: ``codec``, ``codec[0]``,
    ``model.head.decoder``, ``train_pipeline[3].encoder``,
    ``train_pipeline[3].encoder[1]``, in the order of the config's names.
    A configuration reached by several paths (``decoder=codec``) appears
    under each; :meth:`distinct` lists each configuration once.

    Attributes:
      source: the file's path, or ``<text>``.
      codecs: key path -> codec.
      configs: key path -> the configuration as written, with ``type``
        the codec's registered name (plain dicts, lists and tuples).
      errors: key path -> why that codec configuration could not be
        built (filled only by ``strict=False``; otherwise an error raises).
      unresolved: key path -> why a value of the config (outside the
        codecs) could not be computed; for information, since the codecs do
        not depend on them.
      has_model: whether the config defines ``model``.
    """

    source: str
    codecs: dict[str, Codec]
    configs: dict[str, dict]
    errors: dict[str, str]
    unresolved: dict[str, str]
    has_model: bool

    def __getitem__(self, key: str) -> Codec:
        try:
            return self.codecs[key]
        except KeyError:
            raise KeyError(f"{self.source} has no codec at {key!r}; codecs at: "
                           f"{', '.join(self.codecs) or 'none'}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.codecs)

    def __len__(self) -> int:
        return len(self.codecs)

    def __repr__(self) -> str:
        found = ", ".join(f"{k}: {type(c).__name__}" for k, c in self.codecs.items())
        return f"MMPoseConfigCodecs({self.source!r}, {{{found}}})"

    def distinct(self) -> list[tuple[tuple[str, ...], Codec]]:
        """Each distinct codec configuration once: ``(paths, codec)``, in the
        order of first appearance; ``paths`` are all keys it was found at,
        the shallowest first (``codec`` before ``model.head.decoder``)."""
        groups: dict[str, list[str]] = {}
        for key, config in self.configs.items():
            if key in self.codecs:
                groups.setdefault(repr(_canonical(config)), []).append(key)
        order = {key: i for i, key in enumerate(self.codecs)}
        out = []
        for keys in groups.values():
            keys = sorted(keys, key=lambda k: (len(re.findall(r"[.\[]", k)), order[k]))
            out.append((tuple(keys), self.codecs[keys[0]]))
        return out

    @property
    def decoder_key(self) -> str:
        """The key of the codec the model decodes with.

        That is the codec at a key under ``model`` whose last part ends in
        ``decoder`` (``model.head.decoder``; EDPose's ``data_decoder``); in a
        config without ``model``, its only distinct codec configuration.

        Raises:
          MMPoseConfigError: there is no such codec, or the model holds
            several different decoders.
        """
        decoders = [k for k in self.codecs if re.match(r"^model[.\[]", k)
                    and re.split(r"[.\[]", k)[-1].rstrip("]'\"").endswith("decoder")]
        distinct = self.distinct()
        if decoders:
            kinds = {repr(_canonical(self.configs[k])) for k in decoders}
            if len(kinds) > 1:
                raise MMPoseConfigError(
                    f"{self.source}: the model holds {len(kinds)} different decoders, at "
                    f"{', '.join(decoders)}; pick one by its key")
            return decoders[0]
        if not self.has_model and len(distinct) == 1:
            return distinct[0][0][0]
        where = ", ".join(self.codecs) or "none"
        raise MMPoseConfigError(
            f"{self.source}: the model names no decoder codec (no codec at a 'model. ... decoder' key"
            + ("" if self.has_model else ", and the config has no model and not exactly one codec")
            + f"); codecs at: {where}")

    @property
    def decoder(self) -> Codec:
        """The codec the model decodes with (see :attr:`decoder_key`)."""
        return self.codecs[self.decoder_key]


def from_mmpose_config(
    path_or_text: str | os.PathLike,
    *,
    base_dir: str | os.PathLike | None = None,
    packages: Mapping[str, str | os.PathLike] | None = None,
    strict: bool = True,
) -> MMPoseConfigCodecs:
    """Builds every codec configuration of an MMPose config file, without executing it.

    Args:
      path_or_text: the path of an MMPose 1.x ``.py`` config file (a
        ``str`` or ``os.PathLike``), or the config's text (a ``str`` that is
        no existing path and holds a newline, or a ``=`` and does not end
        in ``.py``).
      base_dir: for text, the directory its ``_base_`` paths and relative
        ``read_base()`` imports start from (for a file: the file's own
        directory, always).
      packages: package name -> directory, for bases named by package:
        ``_base_ = ['mmpose::_base_/default_runtime.py']`` and
        ``from mmpose.configs._base_.default_runtime import *``. The
        directory is a source checkout (holding ``configs/``) or the
        installed package; a package not named here is found, not imported,
        with :func:`importlib.util.find_spec`.
      strict: ``True`` raises on the first codec configuration that cannot
        be built, and when the config holds none; ``False`` records the
        failures in :attr:`MMPoseConfigCodecs.errors` and returns what was
        built (possibly nothing).

    Returns:
      An :class:`MMPoseConfigCodecs`: key path -> codec, with
      ``.decoder`` the model's decoder.

    Raises:
      MMPoseConfigError: (a ``ValueError``) the file or a ``_base_`` file
        cannot be found or parsed; a codec configuration depends on a value
        that cannot be resolved (the message names it, the file and the
        line) or is rejected by the codec; with ``strict``, the config
        holds no codec configuration.
    """
    if not isinstance(path_or_text, (str, os.PathLike)):
        raise TypeError(f"from_mmpose_config() takes a path or config text, got {type(path_or_text).__name__}.")
    try:
        return _from_config(path_or_text, base_dir, packages, strict)
    except RecursionError:  # containers nested by a loop deeper than Python's stack
        raise MMPoseConfigError(f"{path_or_text!s:.200}: the config is nested too deeply to read") from None


def _from_config(path_or_text, base_dir, packages, strict) -> MMPoseConfigCodecs:
    """:func:`from_mmpose_config`, its arguments checked."""
    loader = Loader(packages)
    if isinstance(path_or_text, os.PathLike) or not _looks_like_text(path_or_text):
        path = Path(path_or_text)
        if not path.is_file():
            raise MMPoseConfigError(f"no config file at {str(path)!r}")
        values = loader.load_path(path)
    else:
        directory = Path(base_dir).resolve() if base_dir is not None else None
        values = loader.load_text(path_or_text, "<text>", directory)
    found: list[tuple[str, str, dict]] = []
    unresolved: dict[str, str] = {}
    for name, value in values.config.items():
        _walk(value, name, found, unresolved, set())
    codecs: dict[str, Codec] = {}
    configs: dict[str, dict] = {}
    errors: dict[str, str] = {}
    built: dict[str, Codec | str] = {}  # one codec per distinct configuration, however many paths reach it
    for key, name, config in found:
        configs[key] = {"type": name, **{k: _plain(v) for k, v in config.items()
                                         if k != "type" and k not in _BOOKKEEPING}}
        canonical = repr(_canonical(configs[key]))
        if canonical not in built:
            built[canonical] = _build(values.file, key, name, config)
        result = built[canonical]
        if isinstance(result, str):
            if strict:
                raise MMPoseConfigError(result)
            errors[key] = result
        else:
            codecs[key] = result
    if strict and not found:
        detail = ""
        if unresolved:
            shown = "; ".join(f"{k}: {v}" for k, v in list(unresolved.items())[:5])
            detail = f"; values it could not resolve: {shown}"
        raise MMPoseConfigError(
            f"{values.file} holds no codec configuration (no dict whose type is one of "
            f"{', '.join(list_codecs())}){detail}")
    return MMPoseConfigCodecs(values.file, codecs, configs, errors, unresolved, "model" in values.config)


def _looks_like_text(value: str) -> bool:
    try:
        if os.path.exists(value):
            return False
    except (ValueError, OSError):  # embedded NUL, name too long
        pass
    return "\n" in value or ("=" in value and not value.rstrip().endswith(".py"))


def _codec_name(config: Mapping) -> str | None:
    """The registered codec name a dict's ``type`` names, or ``None``."""
    kind = config.get("type")
    if isinstance(kind, Imported):
        kind = kind.qualname
    if not isinstance(kind, str):
        return None
    prefix, _, name = kind.rpartition(".")
    if name not in list_codecs():
        return None
    if prefix and not any(prefix == p or prefix.startswith(p + ".") for p in _CODEC_PREFIXES):
        return None
    return name


def _join(path: str, key: Any) -> str:
    if isinstance(key, str) and _IDENTIFIER.match(key):
        return f"{path}.{key}"
    return f"{path}[{key!r}]"


def _walk(value: Any, path: str, found: list, unresolved: dict, active: set) -> None:
    """Collects ``(path, codec name, config)`` for every codec configuration in ``value``."""
    if isinstance(value, Unresolved):
        unresolved[path] = value.message()
        return
    if id(value) in active:
        return
    if isinstance(value, dict):
        name = _codec_name(value)
        if name is not None:
            found.append((path, name, value))
            return
        items = [(_join(path, k), v) for k, v in value.items()]
    elif isinstance(value, (list, tuple)):
        items = [(f"{path}[{i}]", v) for i, v in enumerate(value)]
    else:
        return
    active.add(id(value))
    for sub_path, item in items:
        _walk(item, sub_path, found, unresolved, active)
    active.discard(id(value))


def _plain(value: Any) -> Any:
    """A config value with plain dicts, lists and tuples."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((str(k), _canonical(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_canonical(v) for v in value)
    return value


def _build(file: str, key: str, name: str, config: Mapping) -> Codec | str:
    """The codec of one configuration, or the message of why it cannot be built."""
    where = getattr(config, "where", None)
    head = f"{file}: the {name} codec at {key!r}" + (f" (written at line {where.line})" if where else "")
    kwargs = {k: _plain(v) for k, v in config.items() if k != "type" and k not in _BOOKKEEPING}
    bad = find_unresolved(kwargs)
    if bad is not None:
        return f"{head} depends on a value that cannot be resolved: {bad.message()}"
    for arg, value in kwargs.items():
        imported = _find_imported(value)
        if imported is not None:
            return (f"{head}: its argument {arg!r} is the imported name {imported.qualname!r} "
                    f"(imported at {imported.where}), which is not evaluated")
    try:
        return build({"type": name, **kwargs})
    except (TypeError, ValueError, KeyError) as error:
        return f"{head} cannot be built: {error}"


def _find_imported(value: Any) -> Imported | None:
    if isinstance(value, Imported):
        return value
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    for item in items:
        found = _find_imported(item)
        if found is not None:
            return found
    return None
