"""The example entries of the multi-person codecs; :mod:`jaxcodecs.examples`
registers them."""

from __future__ import annotations

from jaxcodecs._examples_core import CodecExamples

__all__ = ["ENTRIES"]

ENTRIES: dict[str, CodecExamples] = {}
