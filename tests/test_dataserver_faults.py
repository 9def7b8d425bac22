"""Faults of the data server (issue 19 item 7) and the client that cannot read the workspace (item 2).

The server runs as a process of its own (``python -m workbench.web.dataserver``), killed with
SIGKILL in the middle of writes; a client runs without the right to read the workspace folder.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, World
from workbench import Workspace
from workbench.controls import audit_log
from workbench.core import channel, credentials
from workbench.core.errors import SessionExpired
from workbench.lifecycle import inquiries

ROOT = Path(__file__).resolve().parent.parent


def start_server(ws: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "workbench.web.dataserver", str(ws)], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("ready"), line
    return proc


def kill(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    run = tmp_path / "run"
    monkeypatch.setenv(channel.RUNTIME_ENV, str(run))
    return dict(os.environ, PYTHONPATH=str(ROOT), **{channel.RUNTIME_ENV: str(run)})


@pytest.fixture
def served(world: World, env: dict[str, str]) -> Iterator[tuple[World, dict[str, str]]]:
    # the server process uses the real clock: the world's users log in with real-time codes
    world.ws = Workspace.open(world.ws.path)
    yield world, env


_LAST_STEP: dict[str, int] = {}


def login(world: World, user: str) -> channel.RemoteSession:
    conn = channel.connect(world.ws.path)
    assert isinstance(conn, channel.Remote)
    while int(time.time()) // 30 == _LAST_STEP.get(user):  # a one-time code is used once: wait for the next
        time.sleep(0.5)
    _LAST_STEP[user] = int(time.time()) // 30
    code = credentials.totp_code(world.secrets[user], dt.datetime.now(dt.UTC))
    return conn.login(user, PASSWORD, code)


def test_killed_mid_write_loses_nothing_committed(served: tuple[World, dict[str, str]]) -> None:
    world, env = served
    proc = start_server(world.ws.path, env)
    try:
        session = login(world, "reviewer")
        acknowledged: list[str] = []
        gone: list[BaseException] = []

        def write() -> None:
            try:
                while True:
                    q = inquiries.record(session, channel="phone", category="handling", question="記録")
                    acknowledged.append(q.inquiry_id)
            except channel.ServerGone as exc:
                gone.append(exc)

        writer = threading.Thread(target=write)
        writer.start()
        while len(acknowledged) < 5:
            assert writer.is_alive()
            threading.Event().wait(0.05)
        os.killpg(proc.pid, signal.SIGKILL)  # in the middle of the next write
        writer.join(30)
        assert len(gone) == 1 and gone[0].message_ja.startswith("ワークベンチのデータサーバーとの接続が切れました")
    finally:
        kill(proc)
    # the old token means nothing to a new server; everything acknowledged is there, nothing half
    proc = start_server(world.ws.path, env)
    try:
        with pytest.raises(SessionExpired):  # the session ended with the server that held it
            inquiries.search(session)
        again = login(world, "auditor")
        report = audit_log.verify(again)
        assert report.ok, report
        reviewer = login(world, "reviewer")
        found = {q.inquiry_id for q in inquiries.search(reviewer, limit=1000)}
        assert set(acknowledged) <= found and len(found) - len(acknowledged) in (0, 1)
    finally:
        kill(proc)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root and setpriv to run a client without the right to read the folder")
def test_a_client_works_with_the_workspace_folder_unreadable(served: tuple[World, dict[str, str]]) -> None:
    world, env = served
    proc = start_server(world.ws.path, env)
    script = textwrap.dedent(f"""
        import os, sys
        from pathlib import Path
        from workbench.core import channel
        from workbench.lifecycle import inquiries
        ws = Path({str(world.ws.path)!r})
        try:
            os.listdir(ws)
            sys.exit("the client could read the workspace folder")
        except PermissionError:
            pass
        conn = channel.connect(ws)
        assert isinstance(conn, channel.Remote), conn
        s = conn.login("reviewer", {PASSWORD!r}, os.environ["CODE"])
        q = inquiries.record(s, channel="phone", category="handling", question="読めない")
        print("ok", len(inquiries.search(s)))
    """)
    world.ws.path.chmod(0o000)
    try:
        code = credentials.totp_code(world.secrets["reviewer"], dt.datetime.now(dt.UTC))
        # root without any capability: the folder's mode 000 holds for it (the server keeps its own)
        out = subprocess.run(["setpriv", "--bounding-set=-all", "--inh-caps=-all", sys.executable, "-c", script],
                             env=dict(env, CODE=code), cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.strip() == "ok 1"
    finally:
        world.ws.path.chmod(0o700)
        kill(proc)
