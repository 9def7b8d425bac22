"""A key rotation — and so a purge — in the data server does not block reads (issue 22 item 8).

The rotation holds the writers' turn: writes wait, reads go on against the old file while the new one
is written, and wait only for the swap.  What the reads add to the old file meanwhile (their audit
records) is carried into the new one, so the chain still verifies; a row written there by any other
path makes the rotation write the new file again rather than lose it.  In-process servers here; the
SIGKILL of a server in the middle of a purge is in ``test_rotation_crash.py``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from tests.conftest import StaffedWorkspace, remote_login, scalar
from tests.direct_load import load_world
from workbench.controls import audit_log
from workbench.core import rotation
from workbench.core.errors import PermissionDenied, WorkbenchError
from workbench.intake import persons
from workbench.lifecycle import deletion, inquiries
from workbench.simulate import generate_world
from workbench.web.dataserver import READS, DataServer

Loaded = tuple[StaffedWorkspace, dict[str, str]]


pytestmark = pytest.mark.usefixtures("runtime")


@pytest.fixture(autouse=True)
def no_hook() -> Iterator[None]:
    yield
    rotation.fault_hook = None


@pytest.fixture
def loaded(world: StaffedWorkspace) -> Loaded:
    people = generate_world(60, seed=11)
    load_world(world.ws, people.persons, people.households, registered=np.ones(len(people.persons), bool))
    return world, dict(zip(people.persons["person_id"], people.persons["individual_number"], strict=True))


@pytest.fixture
def server(loaded: Loaded, server: DataServer) -> DataServer:
    """The conftest's data server, started once the people are loaded."""
    return server


def test_a_read_during_a_purge_through_the_server_completes_before_the_purge_does(loaded: Loaded,
                                                                                  server: DataServer) -> None:
    world, numbers = loaded
    ops = remote_login(world, "operations")
    reader, writer = remote_login(world, "reviewer"), remote_login(world, "reviewer")
    assert "persons.reveal_number" in READS
    someone = next(iter(numbers))
    ring = server.workspace.keyring
    seen: dict[str, Any] = {}
    written: list[inquiries.Inquiry] = []
    threads: list[threading.Thread] = []

    def hook(step: str) -> None:  # runs in the server, inside the purge
        if step == "recorded":
            seen["current while the new file is written"] = ring.current
        if step != "built":
            return
        # The new file is written, the old one still open: a read (decrypting a number under the old key,
        # its audit record appended to the old file) completes while the purge waits for it here ...
        read = threading.Thread(target=lambda: seen.setdefault("number", persons.reveal_number(reader, someone)))
        started = time.monotonic()
        read.start()
        read.join(30)
        seen["read finished during the purge"] = not read.is_alive()
        seen["read seconds"] = time.monotonic() - started
        # ... while a write waits for the purge: it runs after the swap, on the new file.
        write = threading.Thread(target=lambda: written.append(
            inquiries.record(writer, channel="phone", category="handling", question="消去の間に")))
        write.start()
        threads.append(write)
        time.sleep(0.5)
        seen["write waited"] = not written

    rotation.fault_hook = hook
    result = deletion.purge(ops)
    rotation.fault_hook = None
    threads[0].join(30)

    assert seen["read finished during the purge"] and seen["read seconds"] < 20
    assert seen["number"] == numbers[someone]
    assert seen["write waited"] and len(written) == 1
    assert seen["current while the new file is written"] == 1  # the new key became current with the new file
    assert result["rotation"]["new_version"] == 2 and result["rotation"]["numbers"] == len(numbers)
    assert ring.current == ring.database_version == 2 and sorted(ring.masters) == [2]
    # the read's audit record went to the old file after the copy: it was carried into the new one
    with server.workspace.transaction("test.read", "test", writes=False) as con:
        assert scalar(con, "SELECT count(*) FROM audit_log WHERE operation = 'persons.reveal_number'") == 1
        assert scalar(con, "SELECT count(*) FROM inquiries WHERE question = '消去の間に'") == 1
        assert scalar(con, "SELECT DISTINCT key_version FROM person_numbers") == 2
    assert persons.reveal_number(reader, someone) == numbers[someone]  # the server reads the new file, new key
    report = audit_log.verify(remote_login(world, "auditor"))
    assert report.ok, report


def test_a_row_written_beside_the_copy_outside_the_writers_turn_is_not_lost(
        loaded: Loaded, server: DataServer, caplog: pytest.LogCaptureFixture) -> None:
    """Only audit records and alarms may be written outside the writers' turn; should anything else be,
    the new file is written again with everyone paused, never swapped in without it."""
    world, _numbers = loaded
    ops = remote_login(world, "operations")

    def hook(step: str) -> None:
        if step == "built":
            with server.store.reading() as con:
                con.execute("INSERT INTO login_failures VALUES ('ref-beside', 1, NULL, ?)",
                            [dt.datetime(2026, 6, 1, tzinfo=dt.UTC)])

    rotation.fault_hook = hook
    with caplog.at_level(logging.WARNING, logger="workbench.rotation"):
        rotation.rotate(ops)
    rotation.fault_hook = None
    assert any("written again" in r.getMessage() and "login_failures" in r.getMessage() for r in caplog.records)
    with server.workspace.transaction("test.read", "test", writes=False) as con:
        assert scalar(con, "SELECT count(*) FROM login_failures WHERE id_ref = 'ref-beside'") == 1
    assert server.workspace.keyring.database_version == 2
    assert audit_log.verify(remote_login(world, "auditor")).ok


def test_a_purge_through_the_server_without_the_right_changes_nothing(loaded: Loaded, server: DataServer) -> None:
    world, _numbers = loaded
    ring = server.workspace.keyring
    for user in ("administrator", "reviewer"):
        with pytest.raises(PermissionDenied) as denied:
            deletion.purge(remote_login(world, user))
        assert denied.value.message_ja and denied.value.message_en
        with pytest.raises(PermissionDenied):
            rotation.rotate(remote_login(world, user))
    assert ring.current == ring.database_version == 1 and sorted(ring.masters) == [1]
    assert not (world.ws.path / rotation.JOURNAL).exists()
    reviewer = remote_login(world, "reviewer")
    assert inquiries.search(reviewer) == []  # the server goes on as before


def test_two_purges_at_once_through_the_server_run_one_after_the_other(loaded: Loaded, server: DataServer) -> None:
    """The second waits for the first's turn (it does not find a journal half-way, nor a file half-written)."""
    world, numbers = loaded
    first, second = remote_login(world, "operations"), remote_login(world, "operations")
    results: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda s=s: results.append(deletion.purge(s))) for s in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(r["rotation"]["new_version"] for r in results) == [2, 3]
    ring = server.workspace.keyring
    assert ring.current == ring.database_version == 3 and sorted(ring.masters) == [3]
    someone = next(iter(numbers))
    assert persons.reveal_number(remote_login(world, "reviewer"), someone) == numbers[someone]
    assert audit_log.verify(remote_login(world, "auditor")).ok


def test_a_purge_that_fails_half_way_in_the_server_leaves_it_serving_and_the_next_one_finishes_it(
        loaded: Loaded, server: DataServer) -> None:
    world, numbers = loaded
    ops = remote_login(world, "operations")
    someone = next(iter(numbers))
    reader = remote_login(world, "reviewer")

    def hook(step: str) -> None:
        if step == "built":
            raise OSError("disk full (simulated)")

    rotation.fault_hook = hook
    with pytest.raises(WorkbenchError) as failed:
        deletion.purge(ops)
    rotation.fault_hook = None
    # the client hears that it failed and whom to tell, never what the server saw
    assert "disk full" not in str(failed.value) and failed.value.message_ja and failed.value.message_en
    ring = server.workspace.keyring
    assert (world.ws.path / rotation.JOURNAL).exists() and ring.database_version == ring.current == 1
    assert persons.reveal_number(reader, someone) == numbers[someone]  # the server goes on, on the old file
    inquiries.record(reader, channel="phone", category="handling", question="失敗の後に")  # and takes writes
    result = deletion.purge(ops)  # finishes the interrupted rotation (version 2), then its own (3)
    assert result["rotation"]["new_version"] == 3
    assert ring.database_version == ring.current == 3 and sorted(ring.masters) == [3]
    assert not (world.ws.path / rotation.JOURNAL).exists()
    assert persons.reveal_number(reader, someone) == numbers[someone]
    with server.workspace.transaction("test.read", "test", writes=False) as con:
        assert scalar(con, "SELECT count(*) FROM inquiries WHERE question = '失敗の後に'") == 1
    assert audit_log.verify(remote_login(world, "auditor")).ok
