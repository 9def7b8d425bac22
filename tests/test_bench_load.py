"""The load benchmark runs (issue 19 item 5), tiny: two clerks through the data server for a few seconds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_load", "--persons", "60", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=900, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


def test_bench_load_runs_tiny_and_reports_errors_last(tmp_path: Path) -> None:
    out = _bench("--clerks", "2", "--seconds", "3", "--think", "0.3", "--workspace", str(tmp_path / "ws"),
                 "--clerks-per-process", "2", "--server-timings")
    lines = out.stdout.strip().splitlines()
    assert lines and lines[-1] == "errors: 0", out.stdout + out.stderr[-3000:]
    assert any(line.startswith("person ") for line in lines) and any(line.startswith("login ") for line in lines)
    assert any(line.strip().startswith("persons.get ") and "lane" in line for line in lines)  # the server's timing
    assert out.returncode == 0


def test_bench_load_measures_the_per_call_overhead(tmp_path: Path) -> None:
    out = _bench("--clerks", "4", "--overhead", "2", "--workspace", str(tmp_path / "ws"))
    assert out.returncode == 0, out.stdout + out.stderr[-3000:]
    rows = [line for line in out.stdout.splitlines() if line.startswith(("person ", "preview ", "decision "))]
    assert len(rows) == 3, out.stdout
