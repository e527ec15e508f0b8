"""``python -m jaxcodecs``: the round-trip demo and the codec benchmarks.

Subcommands:

* ``demo`` (:mod:`jaxcodecs.cli.demo`): every registered codec, each of its
  example configs, in both modes (``mmpose_compat=True``, "mmpose", and
  ``False``, "exact"): the round-trip error in input pixels, the batch
  throughput and the compile time, and a PNG with one pose per
  configuration (needs matplotlib).
* ``bench`` (:mod:`jaxcodecs.cli.bench`): compile time, jitted encode /
  decode throughput and the fraction of the memory-write floor for several
  batch sizes, under the default and the tuned C allocator, optionally
  against MMPose's per-sample loop, as a table and optionally JSON and
  Markdown files (see ``benchmarks/NOTES.md``).

Both run the same generic path for every codec, driven only by its entry in
:mod:`jaxcodecs.examples` (configs, encode and decode arguments, truth);
:mod:`jaxcodecs.cli._harness` holds what they share.
"""

from __future__ import annotations

import argparse
from typing import Sequence

from jaxcodecs.cli import bench, demo
from jaxcodecs.cli._harness import config_label, config_labels, host_kind, round_trip_errors
from jaxcodecs.examples import DEMO_FILL, demo_keypoints

__all__ = [
    "DEMO_FILL",
    "build_parser",
    "config_label",
    "config_labels",
    "demo_keypoints",
    "host_kind",
    "main",
    "round_trip_errors",
]


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m jaxcodecs`` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="python -m jaxcodecs",
        description="jaxcodecs: differentiable, jit-able keypoint codecs in JAX.",
    )
    sub = parser.add_subparsers(dest="command", metavar="{demo,bench}")
    demo.add_parser(sub)
    bench.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs ``python -m jaxcodecs`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    return int(args.func(args))

