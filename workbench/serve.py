"""Serving the dashboards: Voila on 127.0.0.1 over ``notebooks/`` (DESIGN §10)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
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


# -- for tests and benchmarks that start their own server ------------------------------


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, proc: subprocess.Popen[bytes], *, timeout: float = 90.0, log: Path | None = None) -> None:
    """Poll ``url`` until it answers 200; raise RuntimeError (with the log's tail) otherwise."""
    tail = (lambda: "\n" + log.read_text(errors="replace")[-3000:]) if log is not None else (lambda: "")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Voila exited with {proc.returncode}:{tail()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"Voila did not answer within {timeout} s:{tail()}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM lets Voila shut its kernels down; then the process group (started with
    ``start_new_session=True``) is made sure of, so nothing is left running."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)
