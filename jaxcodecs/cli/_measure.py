"""The benchmark's measurements of jaxcodecs, in this process or in a child.

A :class:`Measurer` prepares cells (one codec, example config, mode and
batch size): it builds the codec and the example batch, puts the arguments
on the device, and times ``jax.jit(codec.batch_encode).lower(...)`` (trace
and lower) and ``.compile()`` (XLA), likewise for ``batch_decode``. Each
:meth:`Measurer.measure` then times the compiled calls (median step, every
call ``block_until_ready``-ed) and, for an encoder whose targets include
heatmaps, the *write floor*: a jitted call that writes as many bytes as the
encoder returns into buffers the process already holds (each output leaf,
overwritten but for its first slab along its first axis longer than 1, by a
``dynamic_update_slice`` into a donated buffer, the time scaled up by the
bytes left out), so it costs the memory write alone, without allocation or
page faults, on any backend. Every decoder is measured beside its *read
floor*: a jitted call that reads each of its array arguments once (the
maximum of every leaf), the least any decode of those inputs must do.

:class:`ChildMeasurer` runs the same in a child process started with another
environment (the tuned C allocator, whose settings glibc reads at start-up)
and speaks to it in JSON lines; ``python -m jaxcodecs.cli._measure`` is that
child.
"""

from __future__ import annotations

import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Mapping, Sequence

from jaxcodecs.cli._harness import short_error

__all__ = ["ChildMeasurer", "JsonLineProcess", "Measurer", "cell_key", "serve", "steps"]

_MAX_CALLS = 500  # per measurement, whatever min_time asks


def cell_key(codec: str, index: int, mode: str, batch_size: int) -> str:
    """The name of one cell: codec, config index, mode and batch size."""
    return f"{codec}|{index}|{mode}|{batch_size}"


def _minor_faults() -> int | None:
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def steps(call: Callable[[], Any], repeats: int, min_time: float) -> tuple[float, float | None]:
    """Times ``call()`` (each result blocked on) after one warm-up call.

    Runs at least ``repeats`` calls and for at least ``min_time`` seconds (at
    most 500 calls).

    Returns:
      ``(median seconds per call, minor page faults of the process per call
      or None where the platform does not count them)``.
    """
    import jax

    jax.block_until_ready(call())
    times: list[float] = []
    faults = _minor_faults()
    begin = time.perf_counter()
    while len(times) < max(1, repeats) or (time.perf_counter() - begin < min_time and len(times) < _MAX_CALLS):
        start = time.perf_counter()
        jax.block_until_ready(call())
        times.append(time.perf_counter() - start)
    after = _minor_faults()
    per_call = None if faults is None or after is None else (after - faults) / len(times)
    return statistics.median(times), per_call


def _write_floor(outputs: Any) -> tuple[Callable[[], Any], float]:
    """A call that rewrites buffers shaped as ``outputs`` in place, and the
    ratio of the outputs' bytes to the bytes it writes; see the module."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    def axis_of(shape):  # the first axis along which a slab can be left out
        return next((i for i, size in enumerate(shape) if size >= 2), None)

    def overwrite(buffers, value):
        def one(buffer):
            axis = axis_of(buffer.shape)
            if axis is None:
                return buffer
            shape, start = list(buffer.shape), [0] * buffer.ndim
            shape[axis], start[axis] = shape[axis] - 1, 1  # all but the first slab: in place
            return lax.dynamic_update_slice(buffer, jnp.full(shape, value).astype(buffer.dtype), start)
        return jax.tree.map(one, buffers)

    leaves = jax.tree.leaves(outputs)
    written = sum(leaf.nbytes * (1 - 1 / leaf.shape[axis_of(leaf.shape)])
                  for leaf in leaves if axis_of(leaf.shape) is not None)
    write = jax.jit(overwrite, donate_argnums=0)
    state = {"buffers": jax.tree.map(jnp.zeros_like, outputs), "value": 0}

    def call():
        state["value"] += 1
        state["buffers"] = write(state["buffers"], jnp.float32(state["value"] % 7))
        return state["buffers"]
    return call, (_nbytes(outputs) / written if written else 1.0)


def _read_floor(args: Any, kwargs: Any) -> Callable[[], Any]:
    """A call that reads every array leaf of ``(args, kwargs)`` once (its
    maximum) and returns one scalar, so that for small inputs it costs a
    call's dispatch with one output."""
    import jax
    import jax.numpy as jnp

    leaves = [leaf for leaf in jax.tree.leaves((args, kwargs)) if getattr(leaf, "size", 0)]
    read = jax.jit(lambda arrays: sum(jnp.max(a).astype(jnp.float32) for a in arrays))
    return lambda: read(leaves)


def _nbytes(tree: Any) -> int:
    import jax

    return int(sum(getattr(leaf, "nbytes", 0) for leaf in jax.tree.leaves(tree)))


class Measurer:
    """Prepares and measures cells in this process; see the module."""

    def __init__(self, seed: int = 0, repeats: int = 5, min_time: float = 0.2) -> None:
        self.seed, self.repeats, self.min_time = seed, repeats, min_time
        self._cells: dict[str, dict] = {}

    def info(self) -> dict:
        """The process: pid, allocator settings, glibc's heap statistics."""
        from jaxcodecs.allocator import ALLOCATOR_ENV_NAMES, allocator_kind, heap_stats

        return {"pid": os.getpid(), "allocator": allocator_kind(),
                "env": {k: os.environ[k] for k in ALLOCATOR_ENV_NAMES if k in os.environ},
                "heap_stats": heap_stats()}

    def prepare(self, codec: str, index: int, mode: str, batch_size: int) -> dict:
        """Builds and compiles one cell; returns its compile times (or ``error``)."""
        try:
            return self._prepare(codec, index, mode, batch_size)
        except Exception as error:
            return {"error": short_error(error)}

    def _prepare(self, name: str, index: int, mode: str, batch_size: int) -> dict:
        import jax

        import jaxcodecs
        from jaxcodecs import examples

        config = dict(examples.get_examples(name).configs[index])
        codec = jaxcodecs.get_codec_class(name)(**config, mmpose_compat=(mode == "mmpose"))
        batch = examples.example_batch(codec, batch_size, seed=self.seed, name=name)
        cell: dict[str, Any] = {}
        report: dict[str, Any] = {}
        for part, method in (("encode", codec.batch_encode), ("decode", codec.batch_decode)):
            args, kwargs = jax.device_put((getattr(batch, f"{part}_args"), getattr(batch, f"{part}_kwargs")))
            start = time.perf_counter()
            lowered = jax.jit(method).lower(*args, **kwargs)
            lowered_at = time.perf_counter()
            compiled = lowered.compile()
            report[f"{part}_lower_s"] = lowered_at - start
            report[f"{part}_compile_s"] = time.perf_counter() - lowered_at
            cell[part] = (lambda c=compiled, a=args, k=kwargs: c(*a, **k))
            if part == "decode":
                cell["read_floor"] = _read_floor(args, kwargs)
                jax.block_until_ready(cell["read_floor"]())  # compile it now
        outputs = jax.block_until_ready(cell["encode"]())
        report["encode_output_bytes"] = _nbytes(outputs)
        if isinstance(outputs, Mapping) and any("heatmaps" in str(key) for key in outputs):
            cell["floor"], cell["floor_scale"] = _write_floor(outputs)
            jax.block_until_ready(cell["floor"]())  # compile it now, not in the first round
        del outputs
        self._cells[cell_key(name, index, mode, batch_size)] = cell
        return report

    def measure(self, key: str) -> dict:
        """One round of a prepared cell: median step times and faults per call."""
        cell = self._cells.get(key)
        if cell is None:
            return {"error": "not prepared"}
        result: dict[str, Any] = {}
        try:
            for part in ("encode", "floor", "decode", "read_floor"):
                if part in cell:
                    step, faults = steps(cell[part], self.repeats, self.min_time)
                    step *= cell["floor_scale"] if part == "floor" else 1.0
                    result[f"{part}_step_s"] = step
                    result[f"{part}_minor_faults_per_call"] = faults
        except Exception as error:
            result["error"] = short_error(error)
        return result

    def release(self) -> dict:
        """Forgets every prepared cell (their buffers and executables)."""
        self._cells.clear()
        return {}


def serve(stdin=None, stdout=None) -> int:
    """The child's loop: one JSON request per line in, one JSON reply per line out.

    Requests: ``{"op": "init", "seed", "repeats", "min_time"}``, ``{"op":
    "info"}``, ``{"op": "prepare", "codec", "index", "mode", "batch_size"}``,
    ``{"op": "measure", "key"}``, ``{"op": "release"}``. Anything the
    process prints goes to stderr, so stdout carries the replies alone.
    """
    if stdout is None:
        stdout = os.fdopen(os.dup(sys.stdout.fileno()), "w")
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    stdin = sys.stdin if stdin is None else stdin
    measurer = Measurer()
    for line in stdin:
        request = json.loads(line)
        op = request.pop("op")
        if op == "init":
            measurer = Measurer(**request)
            reply: dict = {}
        elif op in ("info", "prepare", "measure", "release"):
            reply = getattr(measurer, op)(**request)
        else:
            reply = {"error": f"unknown op {op!r}"}
        stdout.write(json.dumps(reply) + "\n")
        stdout.flush()
    return 0


class JsonLineProcess:
    """A child process spoken to in JSON lines (requests on its stdin,
    replies on its stdout, its stderr kept in a file for error messages)."""

    def __init__(self, command: Sequence[str], env: Mapping[str, str] | None = None,
                 timeout: float = 1800.0) -> None:
        self.timeout = timeout
        self._stderr = tempfile.TemporaryFile(mode="w+")
        self._process = subprocess.Popen(
            list(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            text=True, env=None if env is None else dict(env), bufsize=1,
        )
        self._lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self._process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def failure(self) -> str:
        """``exit N: last line of stderr`` once the process has ended."""
        try:
            code = self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = "?"
        self._stderr.seek(0)
        tail = self._stderr.read().strip().splitlines()[-1:] or ["no output"]
        return f"exit {code}: {tail[0]}"

    def receive(self) -> dict:
        """The next reply; ``RuntimeError`` when the process ended or timed out."""
        try:
            line = self._lines.get(timeout=self.timeout)
        except queue.Empty:
            self.close()
            raise RuntimeError(f"no reply within {self.timeout:g} s") from None
        if line is None:
            raise RuntimeError(self.failure())
        return json.loads(line)

    def request(self, message: Mapping[str, Any]) -> dict:
        """Sends ``message`` and returns the reply."""
        try:
            self._process.stdin.write(json.dumps(dict(message)) + "\n")
            self._process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            raise RuntimeError(self.failure()) from None
        return self.receive()

    def close(self) -> None:
        """Ends the process (closing its stdin, then killing it if it lingers)."""
        if self._process.poll() is None:
            try:
                self._process.stdin.close()
                self._process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait()
        self._stderr.close()


class ChildMeasurer:
    """A :class:`Measurer` in a child process started with ``env``; once the
    child fails, every call returns ``{"error": ...}``."""

    def __init__(self, env: Mapping[str, str], seed: int = 0, repeats: int = 5, min_time: float = 0.2) -> None:
        self._error: str | None = None
        env = dict(env)
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        self._child = JsonLineProcess([sys.executable, "-m", "jaxcodecs.cli._measure"], env=env)
        self._call({"op": "init", "seed": seed, "repeats": repeats, "min_time": min_time})

    def _call(self, message: Mapping[str, Any]) -> dict:
        if self._error is not None:
            return {"error": self._error}
        try:
            return self._child.request(message)
        except RuntimeError as error:
            self._error = f"child process failed ({error})"
            return {"error": self._error}

    def info(self) -> dict:
        return self._call({"op": "info"})

    def prepare(self, codec: str, index: int, mode: str, batch_size: int) -> dict:
        return self._call({"op": "prepare", "codec": codec, "index": index, "mode": mode,
                           "batch_size": batch_size})

    def measure(self, key: str) -> dict:
        return self._call({"op": "measure", "key": key})

    def release(self) -> dict:
        return self._call({"op": "release"})

    def close(self) -> None:
        self._child.close()


if __name__ == "__main__":
    sys.exit(serve())
