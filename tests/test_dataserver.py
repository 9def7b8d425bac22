"""The data server (issue 19): one process owns the database; the CLI and kernels are its clients.

In-process servers here (fast); the fault tests (SIGKILL, a client that cannot read the
workspace) start the server as a process of its own in ``test_dataserver_faults.py``.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import PASSWORD, StaffedWorkspace, remote_login
from workbench import Workspace, pending
from workbench.controls import audit_log, users
from workbench.core import channel, rotation
from workbench.core.errors import InvalidInput, NotFound, PermissionDenied, SessionExpired
from workbench.core.paging import PageRequest
from workbench.core.permissions import Permission
from workbench.intake import persons
from workbench.lifecycle import inquiries
from workbench.web.dataserver import READS, DataServer

pytestmark = pytest.mark.usefixtures("runtime")


def denied_tokens(ws: Workspace) -> list[str]:
    with ws.transaction("test.read", "test", writes=False) as con:
        rows = con.execute("SELECT params FROM audit_log WHERE operation = 'auth.server_token' AND outcome = 'denied'"
                           " ORDER BY seq").fetchall()
    return [str(r[0]) for r in rows]


def test_the_socket_is_private_and_names_no_workspace(world: StaffedWorkspace, server: DataServer, runtime: Path) -> None:
    assert server.path.parent == runtime
    assert server.path.stat().st_mode & 0o777 == 0o600
    assert runtime.stat().st_mode & 0o777 == 0o700
    assert world.ws.path.name not in server.path.name and str(world.ws.path) not in str(server.path)


def test_a_remote_session_calls_the_same_services(world: StaffedWorkspace, server: DataServer) -> None:
    session = remote_login(world, "reviewer")
    assert isinstance(session, channel.RemoteSession) and session.can(Permission.REQUESTS_HANDLE)
    embedded = pending.pending_work(world.login("reviewer"))
    assert pending.pending_work(session) == embedded  # typed results, equal to the embedded ones
    q = inquiries.record(session, channel="phone", category="handling", question="保管方法について")
    assert isinstance(q, inquiries.Inquiry)
    assert [i.inquiry_id for i in inquiries.search(session)] == [q.inquiry_id]
    with pytest.raises(NotFound):
        persons.get(session, "nobody")
    with pytest.raises(PermissionDenied) as denied:
        users.list_users(session)
    assert denied.value.details["permission"] == "users.manage"
    with pytest.raises(InvalidInput):
        inquiries.record(session, channel="pigeon", category="handling", question="x")


def test_the_cli_goes_through_the_server_when_one_runs(world: StaffedWorkspace, server: DataServer,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    opened: list[str] = []
    from workbench import cli

    monkeypatch.setattr("workbench.cli._common.open_workspace", lambda args: opened.append("embedded"))  # never reached
    monkeypatch.setenv("WORKBENCH_PASSWORD", PASSWORD)
    monkeypatch.setenv("WORKBENCH_USER", "reviewer")
    world.clock.advance(30)
    monkeypatch.setenv("WORKBENCH_TOTP", world.code("reviewer"))
    assert cli.main(["-w", str(world.ws.path), "pending"]) == 0
    assert opened == []
    assert '"key"' in capsys.readouterr().out  # the JSON of the pending items
    assert any(g.kind == "login" for g in server._grants.values())


def test_without_a_server_the_cli_opens_the_workspace(world: StaffedWorkspace) -> None:
    conn = channel.connect(world.ws.path)
    assert isinstance(conn, channel.Embedded)


def _raw(server: DataServer) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(str(server.path))
    return sock


def _ask(sock: socket.socket, **message: object) -> dict[str, object]:
    channel.write_frame(sock, dict(message))
    reply = channel.read_frame(sock)
    assert reply is not None
    return reply


def test_a_wrong_replayed_or_old_token_is_refused_and_audited(world: StaffedWorkspace, server: DataServer) -> None:
    session = remote_login(world, "reviewer")
    sock = _raw(server)
    try:
        made_up = _ask(sock, op="call", token="made-up", seq=1, service="pending.pending_work", args=[], kwargs={})
        assert not made_up["ok"] and made_up["error"]["reason"] == "unknown_token"  # type: ignore[index]
        token = session._token
        first = _ask(sock, op="call", token=token, seq=100, service="pending.pending_work", args=[], kwargs={})
        assert first["ok"]
        replay = _ask(sock, op="call", token=token, seq=100, service="pending.pending_work", args=[], kwargs={})
        assert not replay["ok"] and replay["error"]["reason"] == "replayed"  # type: ignore[index]
    finally:
        sock.close()
    with pytest.raises(SessionExpired):  # a replayed token is revoked: its owner logs in again
        pending.pending_work(session)
    reasons = denied_tokens(world.ws)
    assert any("unknown_token" in r for r in reasons) and any("replayed" in r for r in reasons)


def test_a_restarted_server_refuses_old_tokens(world: StaffedWorkspace) -> None:
    first = DataServer(world.ws).start()
    session = remote_login(world, "reviewer")
    token = session._token
    first.stop()
    with pytest.raises(channel.ServerGone) as gone:
        pending.pending_work(session)
    assert "データサーバー" in gone.value.message_ja and "data server" in gone.value.message_en
    assert isinstance(gone.value, SessionExpired)  # the screen ends the session and says why
    ws = Workspace.open(world.ws.path, clock=world.clock)
    with DataServer(ws).start() as second:
        sock = _raw(second)
        try:
            reply = _ask(sock, op="call", token=token, seq=5, service="pending.pending_work", args=[], kwargs={})
        finally:
            sock.close()
        assert not reply["ok"] and reply["error"]["reason"] == "unknown_token"  # type: ignore[index]
    world.ws = Workspace.open(world.ws.path, clock=world.clock)
    assert any("unknown_token" in r for r in denied_tokens(world.ws))


def test_reads_do_not_wait_for_a_writer(world: StaffedWorkspace, server: DataServer) -> None:
    session = remote_login(world, "reviewer")
    assert "inquiries.search" in READS
    held, release = threading.Event(), threading.Event()

    def long_write() -> None:
        with server.store.queue.hold("deletion.purge", "ops"):
            held.set()
            release.wait(30)

    writer = threading.Thread(target=long_write)
    writer.start()
    try:
        assert held.wait(10)
        started = time.monotonic()
        assert inquiries.search(session) == []  # a read, its audit record and all, beside the writer
        assert time.monotonic() - started < 5
        done: list[object] = []
        t = threading.Thread(target=lambda: done.append(
            inquiries.record(session, channel="phone", category="handling", question="待つ")))
        t.start()
        time.sleep(0.5)
        assert done == []  # a write waits its turn
    finally:
        release.set()
        writer.join()
    t.join(10)
    assert len(done) == 1
    report = audit_log.verify(world.login("auditor"))
    assert report.ok, report


def test_a_job_that_needs_the_file_runs_alone_and_the_server_goes_on(world: StaffedWorkspace, server: DataServer) -> None:
    ops = remote_login(world, "operations")
    before = server.workspace.keyring.current
    report = rotation.rotate(ops)
    assert isinstance(report, rotation.RotationReport)
    assert server.workspace.keyring.current != before
    reviewer = remote_login(world, "reviewer")
    assert inquiries.search(reviewer) == []  # the database is open again, with the new key
    assert audit_log.verify(world.login("auditor")).ok


def test_the_codec_builds_only_what_it_knows() -> None:
    value = {"when": dt.datetime(2026, 6, 1, 9, tzinfo=dt.UTC), "day": dt.date(2026, 6, 1), "raw": b"\x00\xff",
             "pair": (1, "a"), "set": frozenset({1}), "path": Path("/x"), "perm": Permission.AUDIT_READ,
             "item": pending.PendingItem("k", 1, None, "", "ja", "en"), 3: "int key"}
    assert channel.decode(channel.encode(value)) == value
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    pd.testing.assert_frame_equal(channel.decode(channel.encode(frame)), frame)
    for hostile in (
        {"$t": "dc", "c": "os:system", "v": {}},
        {"$t": "dc", "c": "subprocess:Popen", "v": {}},
        {"$t": "dc", "c": "workbench.core.workspace:Workspace", "v": {}},  # not a dataclass
        {"$t": "dc", "c": "workbench.nowhere:Thing", "v": {}},  # never imported: not imported now
        {"$t": "dc", "c": "workbench.intake.persons:__class__", "v": {}},
        {"$t": "pickle", "v": "gASVAAAAAA=="},
        {"$t": "dc", "c": "workbench.pending:PendingItem", "v": {"nope": 1}},
        {"$t": "bytes", "v": "not base64!"},
    ):
        with pytest.raises(InvalidInput) as refused:
            channel.decode(hostile)
        assert refused.value.message_ja and refused.value.message_en
    with pytest.raises(InvalidInput):
        channel.encode(object())
    assert "workbench.nowhere" not in os.sys.modules  # type: ignore[attr-defined]


def test_garbage_on_the_socket_is_refused_and_the_server_goes_on(world: StaffedWorkspace, server: DataServer) -> None:
    sock = _raw(server)
    try:
        sock.sendall(b"\x00\x00\x00\x05{oops")
        reply = channel.read_frame(sock)
        assert reply is not None and not reply["ok"]
    finally:
        sock.close()
    sock = _raw(server)
    try:
        reply = _ask(sock, op="shell", command="id")
        assert not reply["ok"]
        reply = _ask(sock, op="call", token="x", seq=1, service="os.system", args=["id"], kwargs={})
        assert not reply["ok"]
    finally:
        sock.close()
    session = remote_login(world, "reviewer")
    with pytest.raises(InvalidInput):  # arguments that do not fit the service are refused before it runs
        session._send("call", service="inquiries.search", args=[], kwargs={"evil": 1})
    assert inquiries.search(session) == []


def _ghost(ws: Workspace, run_id: str) -> None:
    """A pipeline run whose runner on this host is gone (killed before it finished)."""
    import subprocess

    proc = subprocess.Popen(["true"])
    proc.wait()
    with ws.transaction("test.write", "test") as con:
        con.execute("INSERT INTO pipeline_runs (run_id, pipeline, params, user_id, ticket_hash, created_at, expires_at,"
                    " status, runner_host, runner_pid) VALUES (?, 'nightly', '{}', 'operations', ?, now(),"
                    " now() + INTERVAL 1 HOUR, 'running', ?, ?)", [run_id, "0" * 64, socket.gethostname(), proc.pid])


def _statuses(ws: Workspace) -> dict[str, str]:
    with ws.transaction("test.read", "test", writes=False) as con:
        return {str(r[0]): str(r[1]) for r in con.execute("SELECT run_id, status FROM pipeline_runs").fetchall()}


def test_the_server_marks_dead_runs_at_start_and_on_its_timer_and_listings_only_read(world: StaffedWorkspace) -> None:
    """Review note of issue 19: a listing wrote (it marked ghosts).  Now the data server does, at its start and
    every 30 s, as a system unit of work with its audit record; the listings are reads (READS enforces it)."""
    from workbench.cycles import engine, pipeline_runs

    assert {"cycle_runs.listing", "cycle_runs.listing_page"} <= READS
    _ghost(world.ws, "RGHOSTSTART1")
    ops = world.login("operations")
    assert pipeline_runs.listing(ops)[0]["status"] == "running"  # embedded, a listing changes nothing
    with DataServer(world.ws, sweep_seconds=0.05).start() as srv:
        assert _statuses(world.ws)["RGHOSTSTART1"] == "abandoned"  # at start
        _ghost(world.ws, "RGHOSTTIMER1")
        deadline = time.monotonic() + 10
        while _statuses(world.ws)["RGHOSTTIMER1"] != "abandoned" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _statuses(world.ws)["RGHOSTTIMER1"] == "abandoned"  # on the timer
        remote = remote_login(world, "operations")
        listed = {r["run_id"]: r["status"] for r in pipeline_runs.listing(remote)}
        assert listed["RGHOSTTIMER1"] == "abandoned"
        page = pipeline_runs.listing_page(remote, PageRequest())
        assert page.total == 2
        assert srv.sweep() == []  # nothing left: a read, no record
    world.ws = Workspace.open(world.ws.path, clock=world.clock)
    with world.ws.transaction("test.read", "test", writes=False) as con:
        sweeps = con.execute("SELECT outcome, params FROM audit_log WHERE operation = ? ORDER BY seq",
                             [engine.SWEEP_OPERATION]).fetchall()
    assert [s[0] for s in sweeps] == ["ok", "ok"]  # one record per sweep that marked a run, none otherwise
    assert "RGHOSTSTART1" in str(sweeps[0][1]) and "RGHOSTTIMER1" in str(sweeps[1][1])
    assert audit_log.verify(world.login("auditor")).ok


def test_a_write_waits_its_turn_longer_than_the_file_lock(world: StaffedWorkspace, server: DataServer) -> None:
    """Issue 19 item 5: 200 clerks, 0 errors — in the server a write waits in the queue (``server_wait_seconds``,
    10 minutes) instead of failing after the file lock's wait (``lock_timeout_seconds``)."""
    assert server.store.queue.timeout == world.ws.settings.server_wait_seconds == 600.0
    assert world.ws.settings.server_wait_seconds > world.ws.settings.lock_timeout_seconds


def test_a_server_slow_to_greet_is_waited_for_not_taken_for_none(world: StaffedWorkspace, runtime: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """200 clerks connecting at once: a server that is there but slow must not send the client to open the
    workspace beside it (it failed on the workspace lock after 30 s).  It is waited for, then refused clearly."""
    from workbench.web import dataserver

    assert dataserver._SocketServer.request_queue_size >= 200  # the backlog: 200 connecting at once wait in it
    path = channel.socket_for(world.ws.path)
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    silent.bind(os.fspath(path))
    silent.listen(8)  # accepts (the kernel does), never answers
    monkeypatch.setattr(channel, "PROBE_SECONDS", (0.2, 0.3))
    try:
        started = time.monotonic()
        with pytest.raises(channel.ServerGone) as gone:
            channel.connect(world.ws.path)
        assert time.monotonic() - started >= 0.5  # both waits, then the clear message
        assert "データサーバー" in gone.value.message_ja
    finally:
        silent.close()
        path.unlink()
    assert channel.probe(path) is None  # no socket: no server, the workspace opens embedded
