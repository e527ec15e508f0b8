"""Codec registry: MMPose type names to classes, and ``build`` for config dicts."""

from __future__ import annotations

from typing import Any, Mapping, TypeVar

from jaxcodecs import base
from jaxcodecs.base import Codec

__all__ = ["build", "register", "list_codecs", "get_codec_class", "registered_name"]

_REGISTRY: dict[str, type[Codec]] = {}

C = TypeVar("C", bound=type)


def register(cls: C | None = None, *, name: str | None = None, force: bool = False):
    """Registers a codec class under ``name`` (default: the class name).

    Usable as ``@register`` or ``@register(name="MyCodec")``. Registering a
    different class under a taken name raises ``ValueError`` unless
    ``force=True``.
    """

    def add(klass: C) -> C:
        if not (isinstance(klass, type) and issubclass(klass, Codec)):
            raise TypeError(f"register() takes a subclass of jaxcodecs.Codec, got {klass!r}.")
        key = name or klass.__name__
        if key in _REGISTRY and _REGISTRY[key] is not klass and not force:
            raise ValueError(
                f"A codec named {key!r} is already registered ({_REGISTRY[key].__module__}."
                f"{_REGISTRY[key].__qualname__}); pass force=True to replace it."
            )
        _REGISTRY[key] = klass
        return klass

    return add if cls is None else add(cls)


def list_codecs() -> tuple[str, ...]:
    """The names of all registered codecs, sorted."""
    return tuple(sorted(_REGISTRY))


def get_codec_class(name: str) -> type[Codec]:
    """The class registered under ``name``; ``KeyError`` listing the known names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"Unknown codec type {name!r}. Known codecs: {', '.join(list_codecs())}."
        ) from None


def registered_name(cls: type) -> str:
    """The name ``cls`` is registered under (what ``build`` takes as ``type``).

    A class registered under several names gives its own class name if that
    is one of them, else the first name it was registered under.

    Raises:
      TypeError: ``cls`` is not registered (``jaxcodecs.register`` adds it).
    """
    names = [name for name, klass in _REGISTRY.items() if klass is cls]
    if not names:
        raise TypeError(
            f"{getattr(cls, '__qualname__', cls)!r} is not a registered codec, so no config can name "
            f"it; register it with jaxcodecs.register (optionally under name=...)."
        )
    return cls.__name__ if cls.__name__ in names else names[0]


base._set_registered_name(registered_name)


def build(cfg: Mapping[str, Any] | Codec) -> Codec:
    """Builds a codec from an MMPose-style config dict.

    Args:
      cfg: a mapping with ``type`` (a registered codec name) and the codec's
        constructor arguments by MMPose's names (lists or tuples for sizes).
        A ``Codec`` instance is returned unchanged.

    Raises:
      KeyError: unknown ``type`` (the message lists the known names).
      TypeError: ``cfg`` is not a mapping, lacks ``type``, or names an
        argument the codec does not take.
      ValueError: an argument has an invalid value.
    """
    if isinstance(cfg, Codec):
        return cfg
    if not isinstance(cfg, Mapping):
        raise TypeError(f"build() takes a dict with a 'type' key, got {type(cfg).__name__}.")
    if "type" not in cfg:
        raise TypeError(f"build(): the config has no 'type' key: {dict(cfg)!r}.")
    kwargs = dict(cfg)
    klass = get_codec_class(kwargs.pop("type"))
    return klass(**kwargs)
