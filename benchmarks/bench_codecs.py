"""Benchmarks every registered codec: compile time, throughput, write floor.

This script is ``python -m jaxcodecs bench --results-dir benchmarks/results``
(the measuring code lives in :mod:`jaxcodecs.cli.bench`): for each codec,
each of its example configs (:mod:`jaxcodecs.examples`), both modes
(``mmpose_compat=True`` "mmpose", ``False`` "exact") and each batch size B in
{1, 64, 256}, ``jax.jit(codec.batch_encode)`` and ``jax.jit(codec.batch_decode)``
on the example batch's arguments (the sample COCO-17 poses of
:mod:`jaxcodecs.sample`, placed in the central 70% of the codec's input with
sub-pixel jitter), lowered and compiled (timed), then timed: samples/s =
B / median step, median over interleaved rounds. The heatmap encoders are
compared with the write floor, and every cell runs under the default and the
tuned C allocator. The results go to ``benchmarks/results/<host-kind>.json``
(e.g. ``cpu-2core.json``, ``gpu-nvidia-h100-80gb-hbm3.json``)::

    python benchmarks/bench_codecs.py                      # all codecs
    python benchmarks/bench_codecs.py --quick              # a few minutes
    python benchmarks/bench_codecs.py --codecs UDPHeatmap --batch-sizes 64
    python -m jaxcodecs bench --help                       # same options

Comparison with MMPose (optional). MMPose's codecs encode and decode one
sample at a time in NumPy. Timing that per-sample loop on the same configs
and poses needs MMPose 1.3.2, which lives in its own virtual environment
(numpy<2, torch): build it with ``/work/shared/mmpose-oracle/setup.sh`` and
point ``MMPOSE_ORACLE_PYTHON`` (or ``--oracle-python``) at its python::

    bash /work/shared/mmpose-oracle/setup.sh          # -> ./.mmpose-oracle-venv
    MMPOSE_ORACLE_PYTHON=$PWD/.mmpose-oracle-venv/bin/python \\
        python benchmarks/bench_codecs.py

The MMPose loop then runs in a child process for the whole run (``mmpose.codecs``
built from the same config dicts, encoding the same encode arguments and
decoding the same decode arguments one sample at a time), one measurement per
round, interleaved with jaxcodecs'; its per-sample throughput fills the
"mmpose enc/s" / "mmpose dec/s" columns (and the speed-ups) of the
mmpose-mode rows and the ``mmpose_oracle`` section of the JSON. Without it (or
if the oracle fails) those columns are skipped with a note; the benchmark
never fails because of it. ``benchmarks/NOTES.md`` says how to read the table.
"""

from __future__ import annotations

import sys
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    from jaxcodecs.cli import main as cli_main

    argv = list(sys.argv[1:] if argv is None else argv)
    if not any(a in ("--json", "--results-dir") or a.startswith(("--json=", "--results-dir=")) for a in argv):
        argv = ["--results-dir", str(RESULTS_DIR), *argv]
    return cli_main(["bench", *argv])


if __name__ == "__main__":
    sys.exit(main())
