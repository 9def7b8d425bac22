"""Reads in the data server: their audit records are committed together (issue 19, the load benchmark).

A read's work runs beside everything else; its audit record is handed to the group commit
(:class:`workbench.core.store.GroupCommit`), which commits every record handed in meanwhile in one
transaction.  Each caller is answered only after the commit that holds its record.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import StaffedWorkspace
from workbench.controls import audit_log
from workbench.core import audit, channel
from workbench.core.errors import AuditIntegrityError
from workbench.core.workspace import ReadRecord, Session
from workbench.lifecycle import inquiries
from workbench.web.dataserver import DataServer


@pytest.fixture(autouse=True)
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "run"
    monkeypatch.setenv(channel.RUNTIME_ENV, str(folder))
    return folder


@pytest.fixture
def server(world: StaffedWorkspace) -> Iterator[DataServer]:
    srv = DataServer(world.ws).start()
    try:
        yield srv
    finally:
        srv.stop()


def records(world: StaffedWorkspace, operation: str) -> list[tuple[Any, ...]]:
    with world.ws.transaction("test.read", "test", writes=False) as con:
        return con.execute("SELECT seq, prev_hash, hash, outcome FROM audit_log WHERE operation = ? ORDER BY seq",
                           [operation]).fetchall()


def reads_at_once(server: DataServer, sessions: list[Session]) -> tuple[list[Any], list[BaseException]]:
    """Each session runs one read; the audit lane is held until every record has been handed in."""
    answers: list[Any] = []
    errors: list[BaseException] = []

    def read(session: Session) -> None:
        try:
            answers.append(inquiries.search(session))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=read, args=(s,)) for s in sessions]
    with server.store.lane.lock:  # as if another commit were under way
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(server.store.group._pending) < len(sessions) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(server.store.group._pending) == len(sessions)
        assert answers == [] and errors == []  # nobody is answered before the commit
    for t in threads:
        t.join(30)
    return answers, errors


def test_concurrent_reads_share_one_commit_and_chain(world: StaffedWorkspace, server: DataServer,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    reviewer, other = world.login("reviewer"), world.login("reviewer")
    before = len(records(world, "inquiries.search"))
    batches: list[list[ReadRecord]] = []
    commit = world.ws.commit_reads

    def counted(batch: list[ReadRecord]) -> None:
        batches.append(list(batch))
        commit(batch)

    monkeypatch.setattr(world.ws, "commit_reads", counted)
    answers, errors = reads_at_once(server, [reviewer, other, reviewer])
    assert errors == [] and answers == [[], [], []]
    assert [len(b) for b in batches] == [3]  # one commit for the three
    rows = records(world, "inquiries.search")[before:]
    assert len(rows) == 3 and all(r[3] == "ok" for r in rows)
    assert [r[0] for r in rows] == [rows[0][0], rows[0][0] + 1, rows[0][0] + 2]  # one after the other
    assert rows[1][1] == rows[0][2] and rows[2][1] == rows[1][2]  # chained
    monkeypatch.setattr(world.ws, "commit_reads", commit)
    assert audit_log.verify(world.login("auditor")).ok


def test_a_commit_that_fails_gives_no_answer_to_any_of_its_reads(world: StaffedWorkspace, server: DataServer,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    reviewer = world.login("reviewer")
    before = len(records(world, "inquiries.search"))
    append = audit.append
    appended: list[int] = []

    def crash_after_the_records(*args: Any, **kwargs: Any) -> Any:
        record = append(*args, **kwargs)
        if kwargs.get("operation") == "inquiries.search":
            appended.append(record.seq)
            if len(appended) == 2:
                raise RuntimeError("killed before the commit")  # both records written, none committed
        return record

    monkeypatch.setattr("workbench.core.workspace.audit.append", crash_after_the_records)
    answers, errors = reads_at_once(server, [reviewer, reviewer])
    assert answers == []  # neither read was answered
    assert len(errors) == 2 and all("killed before the commit" in str(e) for e in errors)
    monkeypatch.setattr("workbench.core.workspace.audit.append", append)
    assert len(records(world, "inquiries.search")) == before  # and neither record was committed
    assert inquiries.search(reviewer) == []  # the server goes on
    assert len(records(world, "inquiries.search")) == before + 1
    assert audit_log.verify(world.login("auditor")).ok


def test_a_broken_log_found_at_the_group_commit_refuses_the_reads(world: StaffedWorkspace, server: DataServer,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The tail check runs in the group's commit, before any of its reads is answered: a log found broken
    there raises the alarm, refuses the reads that may not run during one (recorded as refused) and
    answers an auditor's investigation."""
    reviewer, auditor = world.login("reviewer"), world.login("auditor")
    commit = world.ws.commit_reads

    def tampered_first(batch: list[ReadRecord]) -> None:
        heads = world.ws.heads_path
        lines = heads.read_text().splitlines()
        heads.write_text("\n".join([*lines[:-1], lines[-1].replace('"mac": "', '"mac": "0')]) + "\n")
        commit(batch)

    monkeypatch.setattr(world.ws, "commit_reads", tampered_first)
    answers: list[Any] = []
    with pytest.raises(AuditIntegrityError):
        answers.append(inquiries.search(reviewer))
    assert answers == []
    rows = records(world, "inquiries.search")
    assert rows[-1][3] == "refused"
    monkeypatch.setattr(world.ws, "commit_reads", commit)
    with world.ws.transaction("test.read", "test", writes=False) as con:
        assert audit.open_alarms(con)  # the alarm is raised
    assert audit_log.search(auditor) is not None  # and an investigation still reads


def test_the_tail_check_skipped_for_own_commits_still_sees_a_file_touched_outside(
        world: StaffedWorkspace, server: DataServer) -> None:
    """The data server checks the log's tail again only when something besides its own commits changed
    (``Workspace._tail_stamp``): a signed head edited in place — same size, modified time put back — is
    still found at the next call."""
    reviewer = world.login("reviewer")
    assert inquiries.search(reviewer) == []
    assert inquiries.search(reviewer) == []  # checked once, then known
    heads = world.ws.heads_path
    before = heads.stat()
    raw = heads.read_bytes()
    at = raw.rindex(b'"mac": "') + len(b'"mac": "')
    forged = raw[:at] + (b"0" if raw[at:at + 1] != b"0" else b"1") + raw[at + 1:]
    heads.write_bytes(forged)
    os.utime(heads, ns=(before.st_atime_ns, before.st_mtime_ns))
    with pytest.raises(AuditIntegrityError):
        inquiries.search(reviewer)
    with world.ws.transaction("test.read", "test", writes=False) as con:
        assert [a["reason"] for a in audit.open_alarms(con)] == ["head_forged"]
