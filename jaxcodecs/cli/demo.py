"""``python -m jaxcodecs demo``: the round trip of every registered codec.

Every codec, each of its example configs (:mod:`jaxcodecs.examples`), in
both modes (``mmpose_compat=True``, "mmpose", and ``False``, "exact"): the
example batch of the bundled COCO-17 poses (:func:`jaxcodecs.examples.
example_batch`) is encoded with ``jax.jit(batch_encode)`` and its decode
arguments decoded with ``jax.jit(batch_decode)``. The table gives the error
of the decoded keypoints against the batch's truth in input pixels, the
batch throughput and the compile time; a PNG shows one pose per
configuration (needs matplotlib).

With ``--config PATH``, the codecs are those of an MMPose config file
(:func:`jaxcodecs.from_mmpose_config`): each distinct codec configuration
in it once, labelled by the first key it was found at.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import time
from typing import Any

import numpy as np

from jaxcodecs.cli._harness import (
    MODES,
    Selected,
    decoded_keypoints,
    fmt,
    format_table,
    pick_instances,
    rate,
    round_trip_errors,
    select_codecs,
    short_error,
    timed,
)

__all__ = ["DEMO_HEADERS", "DemoRow", "add_parser", "config_file_selection", "run_demo"]

_DEMO_MIN_TIME = 0.05  # seconds of timed calls per measurement, on top of --repeats


@dataclasses.dataclass
class DemoRow:
    """One row of the demo table."""

    codec: str
    config: str
    mode: str
    mean_error: float = math.nan
    max_error: float = math.nan
    encode_per_s: float | None = None
    decode_per_s: float | None = None
    compile_s: float | None = None
    note: str = ""

    def cells(self) -> list[str]:
        return [
            self.codec, self.config, self.mode,
            fmt(self.mean_error), fmt(self.max_error),
            rate(self.encode_per_s), rate(self.decode_per_s),
            fmt(self.compile_s, 2), self.note,
        ]


DEMO_HEADERS = (
    "codec", "config", "mode", "mean err px", "max err px",
    "encode/s", "decode/s", "compile s", "note",
)
_DEMO_RIGHT = (False, False, False, True, True, True, True, True, False)


def _demo_row(cls, name, label, config, mode, compat, num_poses, seed, repeats):
    import jax

    from jaxcodecs import examples

    codec = cls(**config, mmpose_compat=compat)
    batch = examples.example_batch(codec, num_poses, seed=seed, name=name)
    encode = jax.jit(codec.batch_encode)
    decode = jax.jit(codec.batch_decode)
    encoded, enc_first, enc_step = timed(
        lambda *a: encode(*a, **batch.encode_kwargs), batch.encode_args, repeats, _DEMO_MIN_TIME
    )
    decoded, dec_first, dec_step = timed(
        lambda *a: decode(*a, **batch.decode_kwargs), batch.decode_args, repeats, _DEMO_MIN_TIME
    )
    truth, visible = batch.keypoints, batch.visible
    compile_s = max(0.0, enc_first - enc_step) + max(0.0, dec_first - dec_step)
    keypoints = decoded_keypoints(codec, decoded)
    if keypoints is None:  # an annotation processor: nothing to decode
        row = DemoRow(name, label, mode, encode_per_s=num_poses / enc_step, decode_per_s=num_poses / dec_step,
                      compile_s=compile_s, note="decode returns None")
        return row, codec, batch, encoded, decoded
    picked = pick_instances(np.asarray(keypoints), truth, visible)
    mean_error, max_error = round_trip_errors(picked, truth, visible)
    row = DemoRow(
        name, label, mode, mean_error, max_error,
        num_poses / enc_step, num_poses / dec_step, compile_s,
    )
    return row, codec, batch, encoded, decoded


def _add_to_panel(panel, codec, batch, encoded, decoded, mode, title):
    """The panel of a config (made from its first mode), with this mode's decode added."""
    from jaxcodecs.viz import make_panel

    if panel is None:
        return make_panel(codec, batch, encoded, {mode: decoded}, title=title)
    panel.add_decoded(mode, codec, decoded)
    return panel


def config_file_selection(
    path: str, names: list[str] | None = None, packages: dict[str, str] | None = None
) -> tuple[list[Selected], list[str]]:
    """The codecs of an MMPose config file, as the demo runs them.

    Args:
      path: the config file.
      names: only codecs registered under these names (default: all).
      packages: package name -> directory, passed to
        :func:`jaxcodecs.from_mmpose_config` for ``mmpose::`` bases.

    Returns:
      The selection (each distinct configuration once, under its codec's
      name, labelled by the first key it was found at) and lines that say
      where each was found.

    Raises:
      jaxcodecs.MMPoseConfigError: the file cannot be read, a codec in it
        cannot be built, or it holds none.
    """
    import jaxcodecs

    found = jaxcodecs.from_mmpose_config(path, packages=packages)
    by_name: dict[str, Selected] = {}
    lines = [f"{found.source}: {len(found)} codec configurations, {len(found.distinct())} distinct"]
    for keys, codec in found.distinct():
        name = found.configs[keys[0]]["type"]
        lines.append(f"  {keys[0]}: {name}" + (f" (also at {', '.join(keys[1:])})" if keys[1:] else ""))
        if names and name not in names:
            continue
        config = {k: v for k, v in found.configs[keys[0]].items() if k not in ("type", "mmpose_compat")}
        selected = by_name.setdefault(name, Selected(name, type(codec), [], []))
        selected.configs.append(config)
        selected.labels.append(keys[0])
    return list(by_name.values()), lines


def _parse_packages(items: list[str] | None) -> dict[str, str]:
    packages = {}
    for item in items or []:
        name, sep, directory = item.partition("=")
        if not sep or not name or not directory:
            raise ValueError(f"--package takes NAME=DIR, got {item!r}")
        packages[name] = directory
    return packages


def run_demo(args: argparse.Namespace) -> int:
    """Runs the demo for parsed ``args``; returns the exit code."""
    import jax

    from jaxcodecs.examples import DEMO_FILL

    started = time.perf_counter()
    if args.num_poses < 1:
        print("demo: --num-poses must be >= 1", file=sys.stderr)
        return 2
    from jaxcodecs import MMPoseConfigError

    found_lines: list[str] = []
    try:
        if getattr(args, "config", None):
            selection, found_lines = config_file_selection(
                args.config, args.codecs, _parse_packages(getattr(args, "package", None)))
        else:
            selection = select_codecs(args.codecs)
    except KeyError as error:
        print(f"demo: {error.args[0]}", file=sys.stderr)
        return 2
    except (MMPoseConfigError, ValueError) as error:
        print(f"demo: {error}", file=sys.stderr)
        return 2
    if found_lines and not selection:
        print("\n".join(found_lines))
        print(f"demo: none of the codecs {', '.join(args.codecs)} is in {args.config}", file=sys.stderr)
        return 2
    device = jax.devices()[0]
    print(
        f"jaxcodecs demo: {args.num_poses} COCO-17 poses in the central {DEMO_FILL:.0%} of each "
        f"codec's input, sub-pixel jitter (seed {args.seed}); batch B={args.num_poses}; "
        f"jax {jax.__version__} on {device.platform} ({device.device_kind})"
    )
    print(
        "errors: round trip encode->decode over visible keypoints, input pixels; "
        f"throughput: poses/s, jitted, median of >= {args.repeats} calls; compile s: first call minus steady state, encode + decode\n"
    )
    if found_lines:
        print("\n".join(found_lines) + "\n")
    rows: list[DemoRow] = []
    panels: list[dict] = []
    failed = 0
    for name, cls, configs, labels in selection:
        if not configs:
            rows.append(DemoRow(name, "-", "-", note="no examples"))
            continue
        for config, label in zip(configs, labels):
            panel = None
            for mode, compat in MODES:
                try:
                    row, codec, batch, encoded, decoded = _demo_row(
                        cls, name, label, config, mode, compat, args.num_poses, args.seed, args.repeats
                    )
                except Exception as error:  # report the row, keep going
                    failed += 1
                    rows.append(DemoRow(name, label, mode, note=f"FAILED {short_error(error)}"))
                    continue
                rows.append(row)
                if not args.no_plot:
                    try:  # one sample of each config, both modes' decodes
                        panel = _add_to_panel(panel, codec, batch, encoded, decoded, mode, f"{name} {label}")
                    except Exception as error:  # a picture never fails the demo
                        print(f"note: no picture of {name} {label} ({short_error(error)})")
            if panel is not None:
                panels.append(panel)
    print(format_table(DEMO_HEADERS, [r.cells() for r in rows], _DEMO_RIGHT))
    elapsed = time.perf_counter() - started
    print(f"\n{len(rows)} rows in {elapsed:.1f} s" + (f"; {failed} FAILED" if failed else ""))

    if not args.no_plot and panels:
        out = args.out
        try:
            from jaxcodecs import viz

            path = out if out is not None else "jaxcodecs_demo.png"
            viz.plot_panels(
                path, panels, columns=3,
                title="jaxcodecs round trip, sample pose 0 of each config: the target, and the decodes of both modes",
            )
            print(f"wrote {os.path.abspath(path)}")
        except ImportError:
            print("note: matplotlib is not installed; skipped the picture (pip install matplotlib, "
                  "or the extra: pip install '.[viz]' in a jaxcodecs checkout).")
    return 1 if failed else 0


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Adds the ``demo`` subcommand to ``subparsers``."""
    demo = subparsers.add_parser(
        "demo",
        help="round-trip every codec on sample COCO-17 poses: error, throughput, a picture",
        description=(
            "Encode and decode sample COCO-17 poses with every registered codec "
            "(each of its example configs from jaxcodecs.examples, both modes: "
            "'mmpose' = mmpose_compat=True, 'exact' = mmpose_compat=False) using "
            "jax.jit(batch_encode / batch_decode). Prints the round-trip error in input "
            "pixels over visible keypoints, the batch throughput and the compile time, "
            "and draws one pose per config."
        ),
    )
    demo.add_argument("--num-poses", type=int, default=64, metavar="N",
                      help="poses per batch (default 64; the sample repeats beyond 64)")
    demo.add_argument("--codecs", nargs="+", metavar="NAME",
                      help="only these registered codecs (default: all)")
    demo.add_argument("--config", metavar="PATH",
                      help="run the codecs of this MMPose config file instead of the examples "
                           "(read without executing it; each distinct codec configuration once)")
    demo.add_argument("--package", action="append", metavar="NAME=DIR",
                      help="with --config: where a package's configs live, for bases such as "
                           "'mmpose::_base_/default_runtime.py' (DIR: a source checkout); repeatable")
    demo.add_argument("--out", metavar="PATH",
                      help="PNG path (default: jaxcodecs_demo.png in the current directory "
                           "when matplotlib is installed)")
    demo.add_argument("--no-plot", action="store_true", help="do not draw the picture")
    demo.add_argument("--seed", type=int, default=0, help="seed of the sub-pixel jitter (default 0)")
    demo.add_argument("--repeats", type=int, default=3,
                      help="minimum timed runs after the warm-up call (default 3; timing "
                           "goes on for at least 0.05 s)")
    demo.set_defaults(func=run_demo)
    return demo
