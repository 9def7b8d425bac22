"""Shared scaffolding of the benchmarks: set-based workspaces, timing, memory, child processes, tables.

Every benchmark builds its workspace without going through the services row by row (a
1,000,000-person world is loaded with a few ``INSERT … SELECT`` by the direct loaders the tests use too,
``tests.direct_load``: ``load_targets``, ``load_world`` and ``build_office``, a whole busy office), times
the services as staff call them, and prints a table.  What they share lives here:

* :func:`peak_mb`, :func:`timed`, :func:`profiled`, :func:`child` (a step in a fresh process, so its peak memory is
  its own), :func:`print_table` and :func:`machine` (what to record beside a figure).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["BENCH_PASSWORD", "child", "machine", "own_kek", "peak_mb", "print_table", "profiled", "timed"]

BENCH_PASSWORD = "Bench-Pass-2026!"
T = TypeVar("T")


def own_kek(folder: Path) -> None:
    """A key-encryption key of the run's own beside (never inside) the workspace folder, unless one is
    named, and — unless one is named — the audit anchors in ``folder`` too, not append-only (a
    benchmark's folder is thrown away); child steps inherit both through the environment."""
    if not os.environ.get("WORKBENCH_KEK_FILE"):
        from workbench.core.keys import KeyEncryptionKey

        path = folder / "bench.kek"
        os.environ["WORKBENCH_KEK_FILE"] = str(path if path.exists() else KeyEncryptionKey.create_file(path).path)
    if not os.environ.get("WORKBENCH_AUDIT_ANCHOR_DIR"):
        os.environ["WORKBENCH_AUDIT_ANCHOR_DIR"] = str(folder / "anchors")
        os.environ["WORKBENCH_ANCHOR_CHATTR"] = "0"


# ------------------------------------------------------------------------------ measuring
def peak_mb() -> float:
    """This process's peak resident memory (MB).

    ``VmHWM`` belongs to the process image, so unlike ``ru_maxrss`` it does not inherit
    the parent's peak across fork + exec.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn: Callable[[], T], *, rounds: int = 1) -> tuple[float, T]:
    """Wall seconds of ``fn()`` (the best of ``rounds`` calls) and its last result.

    The CPU seconds of the same call are in :data:`LAST_CPU` (all threads of this process): on a
    shared, loaded machine they say what the call costs when it has the cores to itself.
    """
    global LAST_CPU
    best = float("inf")
    result: Any = None
    for _ in range(max(1, rounds)):
        c0, t0 = time.process_time(), time.perf_counter()
        result = fn()
        wall = time.perf_counter() - t0
        if wall < best:
            best, LAST_CPU = wall, time.process_time() - c0
    return best, result


#: CPU seconds of the last :func:`timed` call.
LAST_CPU = 0.0


def profiled(fn: Callable[[], T], profile: str | Path | None = None) -> tuple[T, float, float]:
    """``fn()``'s result with its wall and CPU seconds (all threads of this process), run under
    cProfile with the statistics written to ``profile`` when a file is named."""
    import cProfile

    prof = cProfile.Profile() if profile else None
    c0, t0 = time.process_time(), time.perf_counter()
    if prof is not None:
        prof.enable()
    try:
        result = fn()
    finally:
        if prof is not None:
            prof.disable()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if prof is not None and profile:
        Path(profile).parent.mkdir(parents=True, exist_ok=True)
        prof.dump_stats(str(profile))
    return result, wall, cpu


def child(script: Path, step: str, workdir: Path, *extra: str) -> dict[str, Any]:
    """Run ``script --step STEP --workdir WORKDIR …`` in a fresh process; its last stdout line is JSON."""
    out = subprocess.run([sys.executable, str(script), "--step", step, "--workdir", str(workdir), *extra],
                         check=False, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"step {step} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def machine() -> dict[str, Any]:
    """What to record beside a figure: date, cores, load, memory, Python."""
    mem = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) / 1024 / 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpus": os.cpu_count(),
            "load": round(os.getloadavg()[0], 1), "memory_gb": round(mem, 1), "python": platform.python_version()}


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str = "") -> str:
    """A plain text table (numbers right-aligned), printed and returned."""
    cells = [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) if cells else len(str(h)) for i, h in enumerate(headers)]
    numeric = [all(_is_number(r[i]) for r in rows) if rows else False for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric, strict=True))

    text = "\n".join(([title] if title else []) + [line([str(h) for h in headers]), line(["-" * w for w in widths])]
                     + [line(r) for r in cells])
    print(text, flush=True)
    return text


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.2f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return "" if v is None else str(v)
