"""Reads are enforced, not trusted (issue 19): the services named in ``READS`` run beside the writers in
the data server without queueing, so a write wrongly listed there would bypass the writers' queue.
Every read now runs in a DuckDB ``READ ONLY`` transaction (its audit record is appended after it, in a
transaction of its own, before the result is returned): a listed service that tries to change data is
refused, nothing it did stays, and the refusal is audited — embedded and over the channel alike."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD, StaffedWorkspace
from workbench.core import channel, workspace
from workbench.core.errors import StoreError
from workbench.core.workspace import READS, SERVICES
from workbench.lifecycle import inquiries
from workbench.web import dataserver
from workbench.web.dataserver import DataServer

pytestmark = pytest.mark.usefixtures("runtime")


def _count(world: StaffedWorkspace, sql: str) -> int:
    with world.ws.transaction("test.read", "test", writes=False) as con:
        return int(con.execute(sql).fetchone()[0])  # type: ignore[index]


def test_every_listed_read_is_a_service() -> None:
    assert dataserver.READS is READS
    assert READS <= set(SERVICES), sorted(READS - set(SERVICES))


@pytest.mark.parametrize("remote", [False, True], ids=["embedded", "through the server"])
def test_a_write_listed_as_a_read_is_refused_and_leaves_nothing(world: StaffedWorkspace, remote: bool,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    server = DataServer(world.ws).start() if remote else None
    try:
        if server is not None:
            conn = channel.connect(world.ws.path)
            assert isinstance(conn, channel.Remote)
            world.clock.advance(30)
            session = conn.login("reviewer", PASSWORD, world.code("reviewer"))
        else:
            session = world.login("reviewer")  # type: ignore[assignment]
        monkeypatch.setattr(workspace, "READS", READS | {"inquiries.record"})  # the mistake
        with pytest.raises(StoreError) as err:
            inquiries.record(session, channel="phone", category="handling", question="保管方法について")
        assert err.value.reason == "read_wrote"
        assert "読み取り" in err.value.message_ja and "read" in err.value.message_en
        assert _count(world, "SELECT count(*) FROM inquiries") == 0
        assert _count(world, "SELECT count(*) FROM audit_log WHERE operation = 'inquiries.record'"
                             " AND outcome = 'refused'") == 1
        monkeypatch.setattr(workspace, "READS", READS)
        q = inquiries.record(session, channel="phone", category="handling", question="保管方法について")
        assert [i.inquiry_id for i in inquiries.search(session)] == [q.inquiry_id]  # a true read works, audited
        assert _count(world, "SELECT count(*) FROM audit_log WHERE operation = 'inquiries.search'"
                             " AND outcome = 'ok'") == 1
    finally:
        if server is not None:
            server.stop()
