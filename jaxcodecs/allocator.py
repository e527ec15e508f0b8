"""The C allocator of a CPU process: the recipe that keeps large batches at the memory floor.

On a CPU host, XLA allocates every output and temporary buffer of a jitted
call with ``posix_memalign`` and frees it when the array dies. glibc serves
an allocation above its *mmap threshold* with fresh ``mmap`` pages and
returns them to the kernel on ``free``. The threshold adapts upwards to the
largest block freed, but never beyond 32 MiB on a 64-bit host, so a call
that returns a larger array (17 heatmaps of 64 x 48 floats at B = 256 is
53 MiB) gets fresh pages on every call, and the first write to each 4 KiB
page is a page fault: the call runs at the kernel's page-fault rate, a
fraction of the memory's write bandwidth. A second limit: XLA's worker
threads allocate from glibc's per-thread arenas, which cannot hold a block
above 64 MiB (``HEAP_MAX_SIZE``) and ``mmap`` it whatever ``M_MMAP_MAX``
says; a large temporary (a decoder's blurred maps) is faulted in afresh on
every call.

The recipe keeps freed memory in the process: no ``mmap`` for blocks
(``MALLOC_MMAP_MAX_=0``), no trimming of the heap's free top below 2 GiB
(``MALLOC_TRIM_THRESHOLD_``), 256 MiB of slack each time the heap grows
(``MALLOC_TOP_PAD_``) and one arena for all threads (``MALLOC_ARENA_MAX=1``,
whose heap has no size limit). The cost: memory freed by the process stays
mapped (up to the trim threshold) instead of going back to the system.

Nothing here runs on import. Two opt-in ways:

* :func:`cpu_allocator_env` returns the environment variables; glibc reads
  them when a process starts, so set them for a new process (a shell
  ``export``, ``subprocess.run(..., env={**os.environ, **env})``, a
  launcher's environment).
* :func:`tune_cpu_allocator` sets the same parameters in the running process
  through ``mallopt``; call it first thing, before JAX runs anything (the
  one-arena setting binds only threads that have not allocated yet).

:func:`heap_stats` reads glibc's ``mallinfo2`` (how many bytes are held in
``mmap``-ed blocks), which tests use to check that the recipe took effect.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from typing import Mapping

__all__ = [
    "ALLOCATOR_ENV_NAMES",
    "allocator_kind",
    "cpu_allocator_env",
    "heap_stats",
    "tune_cpu_allocator",
]

#: Heap slack added each time the heap grows (``MALLOC_TOP_PAD_``), bytes.
TOP_PAD = 256 << 20
#: Free heap top kept before it is returned to the system, bytes: the largest
#: value ``mallopt`` takes (a C ``int``).
TRIM_THRESHOLD = 2**31 - 1

# mallopt parameter numbers (glibc's malloc.h).
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD, _M_MMAP_MAX, _M_ARENA_MAX = -1, -2, -3, -4, -8

#: Environment variables through which glibc's malloc is tuned at start-up;
#: :func:`allocator_kind` looks at these (and at ``glibc.malloc.*`` entries
#: of ``GLIBC_TUNABLES``).
ALLOCATOR_ENV_NAMES = (
    "MALLOC_ARENA_MAX",
    "MALLOC_MMAP_MAX_",
    "MALLOC_MMAP_THRESHOLD_",
    "MALLOC_TOP_PAD_",
    "MALLOC_TRIM_THRESHOLD_",
)


def cpu_allocator_env(*, top_pad: int = TOP_PAD, trim_threshold: int = TRIM_THRESHOLD) -> dict[str, str]:
    """The environment variables of the tuned allocator, for a new process.

    Args:
      top_pad: heap slack per growth in bytes (``MALLOC_TOP_PAD_``).
      trim_threshold: free heap top, in bytes, kept mapped before glibc
        returns it to the system (``MALLOC_TRIM_THRESHOLD_``); at least the
        largest buffer a call allocates.

    Returns:
      ``{"MALLOC_ARENA_MAX": "1", "MALLOC_MMAP_MAX_": "0",
      "MALLOC_TOP_PAD_": ..., "MALLOC_TRIM_THRESHOLD_": ...}``, to merge into
      the environment a process starts with. Other C libraries than glibc
      ignore them.
    """
    if top_pad < 0 or trim_threshold < 0:
        raise ValueError(f"top_pad and trim_threshold must be >= 0, got {top_pad}, {trim_threshold}")
    return {
        "MALLOC_ARENA_MAX": "1",
        "MALLOC_MMAP_MAX_": "0",
        "MALLOC_TOP_PAD_": str(int(top_pad)),
        "MALLOC_TRIM_THRESHOLD_": str(int(trim_threshold)),
    }


def _glibc() -> ctypes.CDLL | None:
    """The process's C library if it is glibc, else None."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018  present in glibc only
    except (OSError, AttributeError):
        return None
    return libc


def tune_cpu_allocator(*, top_pad: int = TOP_PAD, trim_threshold: int = TRIM_THRESHOLD) -> bool:
    """Applies the recipe of :func:`cpu_allocator_env` to the running process.

    Calls glibc's ``mallopt`` for one arena, no ``mmap``-ed blocks, the trim
    threshold and the top pad. It affects the allocations made after it;
    call it before JAX's first computation so that XLA's threads, which bind
    to an arena at their first allocation, share the single one. It cannot
    be undone exactly (glibc stops adapting its thresholds once one is set).

    Args:
      top_pad: heap slack per growth in bytes.
      trim_threshold: free heap top kept mapped, in bytes (at most
        ``2**31 - 1``, ``mallopt`` takes a C ``int``).

    Returns:
      True when glibc accepted every setting; False on another C library
      (nothing is changed) or when a setting was refused.
    """
    if not 0 <= top_pad <= TRIM_THRESHOLD or not 0 <= trim_threshold <= TRIM_THRESHOLD:
        raise ValueError(f"top_pad and trim_threshold must be in [0, 2**31 - 1], got {top_pad}, {trim_threshold}")
    libc = _glibc()
    if libc is None:
        return False
    libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    settings = ((_M_ARENA_MAX, 1), (_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, trim_threshold),
                (_M_TOP_PAD, top_pad))
    return all([libc.mallopt(param, int(value)) == 1 for param, value in settings])


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def heap_stats() -> dict[str, int] | None:
    """glibc's ``mallinfo2`` for the running process, or None elsewhere.

    Returns:
      ``{"mmapped_blocks": hblks, "mmapped_bytes": hblkhd, "heap_bytes":
      arena, "heap_in_use_bytes": uordblks, "heap_free_bytes": fordblks}``:
      blocks served by ``mmap`` (each page of which is faulted in afresh)
      against the heap's bytes, over all arenas.
    """
    libc = _glibc()
    if libc is None or not hasattr(libc, "mallinfo2"):
        return None
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    return {"mmapped_blocks": int(info.hblks), "mmapped_bytes": int(info.hblkhd),
            "heap_bytes": int(info.arena), "heap_in_use_bytes": int(info.uordblks),
            "heap_free_bytes": int(info.fordblks)}


def allocator_kind(environ: Mapping[str, str] | None = None) -> str:
    """How a process with ``environ`` (default ``os.environ``) tunes malloc.

    Returns:
      ``"tuned"`` when the variables of :func:`cpu_allocator_env` (default
      arguments) are set and nothing else, ``"default"`` when none of
      :data:`ALLOCATOR_ENV_NAMES` nor a ``glibc.malloc`` tunable is set,
      ``"custom"`` otherwise.
    """
    environ = os.environ if environ is None else environ
    present = {name: environ[name] for name in ALLOCATOR_ENV_NAMES if name in environ}
    tunables = "glibc.malloc." in environ.get("GLIBC_TUNABLES", "")
    if not present and not tunables:
        return "default"
    return "tuned" if present == cpu_allocator_env() and not tunables else "custom"
