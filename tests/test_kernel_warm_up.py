"""Kernels started ahead import what the dashboard needs before anyone logs in (issue 19 item 4)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from workbench.core.channel import SECRET_ENV
from workbench.web.server import DASHBOARD, WARM_UP

ROOT = Path(__file__).resolve().parent.parent


def _imported(code: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_warm_up_covers_what_the_dashboard_imports() -> None:
    notebook = json.loads((ROOT / "notebooks" / DASHBOARD).read_text(encoding="utf-8"))
    needed = set().union(*(_imported("".join(c["source"])) for c in notebook["cells"] if c["cell_type"] == "code"))
    assert needed and needed <= _imported(WARM_UP), f"the kernels started ahead do not import {needed - _imported(WARM_UP)}"


def test_the_warm_up_runs_in_a_kernels_environment() -> None:
    """As a kernel started ahead runs it: no workspace, no key-encryption key, no log-in in the environment.
    A failing line is only logged by the kernel, so a module renamed would silently undo the warm-up."""
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-c", f"{WARM_UP}\nimport sys\nprint(sorted(m for m in sys.modules"
                           " if m.startswith('widgets.dashboard')))"],
                          cwd=ROOT / "notebooks", env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "widgets.dashboard" in done.stdout
