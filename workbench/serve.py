"""Serving the dashboards: Voila on 127.0.0.1 over ``notebooks/`` (DESIGN §10)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

__all__ = ["NOTEBOOKS", "serve", "voila_command"]

#: The dashboards, beside the installed (editable) package.
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

#: Large uploads (contractor returns of several tens of MB) go over the websocket.
MAX_MESSAGE_BYTES = 512 * 1024 * 1024


def voila_command(port: int, *, notebooks: Path = NOTEBOOKS) -> list[str]:
    return [
        sys.executable, "-m", "voila", str(notebooks),
        "--no-browser",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        "--show_tracebacks=False",
        "--VoilaConfiguration.file_allowlist=[]",
        # A kernel per notebook is started ahead of the request, so the login screen is
        # usable at once; it holds no session until someone logs in.
        "--preheat_kernel=True",
        "--MappingKernelManager.cull_idle_timeout=1800",
        "--MappingKernelManager.cull_interval=300",
        f"--Voila.tornado_settings={{'websocket_max_message_size': {MAX_MESSAGE_BYTES}}}",
        "--ServerApp.max_body_size=" + str(MAX_MESSAGE_BYTES),
        "--ServerApp.max_buffer_size=" + str(MAX_MESSAGE_BYTES),
    ]


def serve(workspace: Path, *, port: int = 8866) -> None:
    """Run Voila in the foreground with the workspace named for every kernel."""
    env = dict(os.environ, WORKBENCH_WORKSPACE=str(workspace.resolve()))
    print(f"ダッシュボード / dashboards: http://127.0.0.1:{port}/voila/render/index.ipynb", flush=True)
    print("ログイン / log in: see README.md, 'Logging in to the demo'", flush=True)
    try:
        subprocess.run(voila_command(port), env=env, check=False)
    except KeyboardInterrupt:
        pass
