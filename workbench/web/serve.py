"""Serving the dashboards: Voila on 127.0.0.1 over the ``notebooks`` package's notebooks (DESIGN §10)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from importlib import resources
from pathlib import Path

__all__ = ["NOTEBOOKS", "serve", "voila_command"]

#: The dashboards: the ``notebooks`` package's data (top-level ``notebooks/`` in the repository), found
#: wherever the package is installed.
NOTEBOOKS = Path(str(resources.files("notebooks")))

#: Large uploads (contractor returns of several tens of MB) go over the websocket.
MAX_MESSAGE_BYTES = 512 * 1024 * 1024


def voila_command(port: int, *, notebooks: Path = NOTEBOOKS, idle_minutes: float = 15,
                  trust_proxy: bool = False, kernel_pool: int = 2) -> list[str]:
    """The server: :mod:`workbench.web.server` (Voila behind the workbench login)."""
    return [
        sys.executable, "-m", "workbench.web.server", str(notebooks),
        "--no-browser",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        "--show_tracebacks=False",
        "--VoilaConfiguration.file_allowlist=[]",
        # Voila's pre-heated kernels run the notebook before anyone logs in; ours (the workbench's
        # KernelPool) only start and import, and are bound to a session at login.
        "--preheat_kernel=False",
        f"--WorkbenchVoila.kernel_pool={kernel_pool}",
        # Culling matches the session's idle limit; the server ends idle sessions itself too.
        f"--MappingKernelManager.cull_idle_timeout={max(1, int(idle_minutes * 60))}",
        f"--MappingKernelManager.cull_interval={max(1, min(60, int(idle_minutes * 60)))}",
        "--MappingKernelManager.cull_connected=True",
        f"--WorkbenchVoila.trust_proxy={trust_proxy}",
        f"--Voila.tornado_settings={{'websocket_max_message_size': {MAX_MESSAGE_BYTES}}}",
        "--ServerApp.max_body_size=" + str(MAX_MESSAGE_BYTES),
        "--ServerApp.max_buffer_size=" + str(MAX_MESSAGE_BYTES),
    ]


def serve(workspace: Path, *, port: int = 8866, trust_proxy: bool = False) -> None:
    """Run the web server in the foreground for this workspace."""
    from workbench.core.workspace import Workspace

    idle = Workspace.open(workspace).settings.idle_timeout_minutes
    env = dict(os.environ, WORKBENCH_WORKSPACE=str(workspace.resolve()))
    print(f"ダッシュボード / dashboards: http://127.0.0.1:{port}/login", flush=True)
    print("ログイン / log in: see README.md, 'Logging in to the demo'", flush=True)
    try:
        subprocess.run(voila_command(port, idle_minutes=idle, trust_proxy=trust_proxy), env=env, check=False)
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
