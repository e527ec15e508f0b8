"""Tests of jaxcodecs.allocator: the tuned C allocator's recipe and helpers.

The checks read glibc's own account (``mallinfo2``) in a fresh process: how
many bytes it holds in ``mmap``-ed blocks while a jitted call's 64 MiB output
is alive. Under glibc's defaults that output is such a block (above the
32 MiB ceiling of the mmap threshold); under the recipe it comes from the
heap.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jaxcodecs.allocator import (
    ALLOCATOR_ENV_NAMES,
    allocator_kind,
    cpu_allocator_env,
    heap_stats,
    tune_cpu_allocator,
)

REPO = Path(__file__).resolve().parents[1]
MIB = 1 << 20

needs_glibc = pytest.mark.skipif(heap_stats() is None, reason="glibc's mallinfo2 is needed")

# A child that allocates a 64 MiB float32 output on XLA's threads and reports
# how the mmap-ed bytes of the process moved while it is alive.
_CHILD = r"""
import json, sys
import jax, jax.numpy as jnp
from jaxcodecs.allocator import heap_stats, tune_cpu_allocator
tuned = tune_cpu_allocator() if "--mallopt" in sys.argv else None
fill = jax.jit(lambda s: jnp.full((16 << 20,), s, jnp.float32))
jax.block_until_ready(fill(jnp.float32(0)))  # compiled; its output freed
before = heap_stats()
out = jax.block_until_ready(fill(jnp.float32(1)))
during = heap_stats()
print(json.dumps({"tuned": tuned, "before": before, "during": during, "value": float(out[-1])}))
"""


def _child(env_update: dict[str, str], *args: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ALLOCATOR_ENV_NAMES}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(env_update)
    done = subprocess.run([sys.executable, "-c", _CHILD, *args], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["value"] == 1.0
    report["grew"] = report["during"]["mmapped_bytes"] - report["before"]["mmapped_bytes"]
    return report


def test_env_values():
    env = cpu_allocator_env()
    assert env == {"MALLOC_ARENA_MAX": "1", "MALLOC_MMAP_MAX_": "0",
                   "MALLOC_TOP_PAD_": str(256 * MIB), "MALLOC_TRIM_THRESHOLD_": str(2**31 - 1)}
    assert set(env) <= set(ALLOCATOR_ENV_NAMES)
    assert cpu_allocator_env(top_pad=0, trim_threshold=4_000_000_000)["MALLOC_TRIM_THRESHOLD_"] == "4000000000"
    with pytest.raises(ValueError):
        cpu_allocator_env(top_pad=-1)
    with pytest.raises(ValueError):
        tune_cpu_allocator(trim_threshold=2**31)  # mallopt takes a C int


def test_allocator_kind():
    assert allocator_kind({}) == "default"
    assert allocator_kind({"PATH": "/bin"}) == "default"
    assert allocator_kind(cpu_allocator_env()) == "tuned"
    assert allocator_kind({**cpu_allocator_env(), "GLIBC_TUNABLES": "glibc.malloc.tcache_count=0"}) == "custom"
    assert allocator_kind({"MALLOC_MMAP_MAX_": "0"}) == "custom"
    assert allocator_kind({"GLIBC_TUNABLES": "glibc.pthread.rseq=0"}) == "default"


@needs_glibc
def test_default_allocator_maps_the_output_afresh():
    # Also shows that `import jaxcodecs` leaves malloc alone (the child imports it).
    report = _child({})
    assert report["grew"] >= 64 * MIB


@needs_glibc
def test_tuned_environment_serves_the_output_from_the_heap():
    report = _child(cpu_allocator_env())
    assert report["during"]["mmapped_blocks"] == 0 and report["during"]["mmapped_bytes"] == 0
    assert report["during"]["heap_bytes"] >= 64 * MIB


@needs_glibc
def test_mallopt_at_start_serves_the_output_from_the_heap():
    report = _child({}, "--mallopt")
    assert report["tuned"] is True
    assert report["grew"] < 64 * MIB
    assert report["during"]["heap_bytes"] >= 64 * MIB
