"""A login's write in the data server does not take the writers' turn (issue 19 item 5: 200 clerks logging in
held the turn ~0.5 s each, and the decisions behind them waited up to 2.5 minutes).

It changes one row of its own (the used one-time-code step, or the failure count) and appends its audit
record: two logins that meet on a row conflict in the database and the loser runs again, so a code is still
used once, no failure goes uncounted, and every login is audited before it is answered.  A key rotation,
which writes the file anew beside the readers, shuts these writes out while it does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import PASSWORD, StaffedWorkspace
from workbench.core.errors import AuthenticationFailed, WorkbenchError
from workbench.core.store import ResidentStore
from workbench.core.workspace import READS, Session


@pytest.fixture
def resident(world: StaffedWorkspace) -> Iterator[ResidentStore]:
    store = world.ws.become_resident(READS)
    try:
        yield store
    finally:
        store.close()


def at_once(calls: list[Callable[[], Any]]) -> tuple[list[Any], list[BaseException]]:
    """Run the calls in threads released together; (answers, errors)."""
    answers: list[Any] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> None:
        start.wait()
        try:
            answers.append(call())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    return answers, errors


def login_records(world: StaffedWorkspace, user: str) -> list[tuple[str, str]]:
    from workbench.core import audit

    ref = audit.pseudonym(world.ws.keyring.audit_key(), user)
    with world.ws.transaction("test.read", "test", writes=False) as con:
        return [(str(o), str(p)) for o, p in con.execute(
            "SELECT outcome, params FROM audit_log WHERE operation = 'auth.login' AND user_ref = ? ORDER BY seq",
            [ref]).fetchall()]


def user_row(world: StaffedWorkspace, user: str) -> tuple[Any, ...]:
    with world.ws.transaction("test.read", "test", writes=False) as con:
        row = con.execute("SELECT last_totp_step, failed_logins FROM users WHERE user_id = ?", [user]).fetchone()
    assert row is not None
    return tuple(row)


def test_a_login_does_not_wait_for_the_writers_turn(world: StaffedWorkspace, resident: ResidentStore) -> None:
    held = threading.Event()
    release = threading.Event()

    def writer() -> None:  # a long write holds the turn
        with resident.queue.hold("test.long_write", "registrar"):
            held.set()
            release.wait(30)

    t = threading.Thread(target=writer)
    t.start()
    try:
        assert held.wait(10)
        world.clock.advance(30)
        session = world.ws.login("reviewer", PASSWORD, world.code("reviewer"))  # answered while the turn is held
        assert isinstance(session, Session) and session.user_id == "reviewer"
        assert login_records(world, "reviewer")[-1][0] == "ok"
    finally:
        release.set()
        t.join(30)


def test_while_a_rotation_writes_the_file_anew_a_login_waits_its_turn(world: StaffedWorkspace,
                                                                      resident: ResidentStore) -> None:
    """A rotation copies the file beside the readers and carries over only what reads add: a login's changed
    row would be lost from the new file, so while the turn's holder has shut the writes beside it, a login
    queues behind it and runs after."""
    answers: list[Any] = []
    world.clock.advance(30)
    code = world.code("reviewer")
    with resident.queue.hold("keys.rotate", "admin"), resident.beside_shut():
        t = threading.Thread(target=lambda: answers.append(world.ws.login("reviewer", PASSWORD, code)))
        t.start()
        time.sleep(0.5)
        assert answers == [] and resident.queue.waiting() == 2  # the rotation holding the turn, the login behind it
    t.join(30)
    assert len(answers) == 1 and answers[0].user_id == "reviewer"


def test_one_code_wins_once_when_two_logins_race(world: StaffedWorkspace, resident: ResidentStore) -> None:
    for _ in range(3):
        world.clock.advance(30)
        code = world.code("registrar")
        answers, errors = at_once([lambda code=code: world.ws.login("registrar", PASSWORD, code)] * 4)  # type: ignore[misc]
        assert len(answers) == 1, errors
        assert len(errors) == 3 and all(isinstance(e, WorkbenchError) for e in errors)
        assert all(isinstance(e, AuthenticationFailed) or e.code == "login_conflict" for e in errors)  # type: ignore[attr-defined]
    outcomes = [o for o, _ in login_records(world, "registrar")]
    assert outcomes.count("ok") == 3  # exactly one per code, each audited


def test_failures_at_once_are_all_counted(world: StaffedWorkspace, resident: ResidentStore) -> None:
    world.clock.advance(30)
    before = user_row(world, "auditor")[1]
    answers, errors = at_once([lambda: world.ws.login("auditor", "wrong-" + PASSWORD, world.code("auditor"))] * 3)
    assert answers == [] and len(errors) == 3
    counted = [e for e in errors if isinstance(e, AuthenticationFailed)]
    assert user_row(world, "auditor")[1] == before + len(counted)  # none lost
    denied = [p for o, p in login_records(world, "auditor") if o == "denied"]
    assert len(denied) >= len(counted) and all("wrong_password" in p for p in denied[-len(counted):])


def test_logins_of_everyone_at_once_all_get_in(world: StaffedWorkspace, resident: ResidentStore) -> None:
    world.clock.advance(30)
    users = sorted(world.secrets)
    codes = {u: world.code(u) for u in users}
    answers, errors = at_once([lambda u=u: world.ws.login(u, PASSWORD, codes[u]) for u in users])  # type: ignore[misc]
    assert errors == [] and sorted(s.user_id for s in answers) == users
    for u in users:
        assert login_records(world, u)[-1][0] == "ok"


def test_a_writer_that_meets_a_login_on_its_row_is_told_plainly_and_keeps_nothing(
        world: StaffedWorkspace, resident: ResidentStore) -> None:
    """An administrator's change to the account a login is writing at that moment: the login's write wins,
    the administrator's unit is refused as a write conflict (bilingual), and nothing of it is kept."""
    from workbench.core.errors import StoreError

    login_wrote = threading.Event()
    release = threading.Event()

    def login_write() -> None:  # a login's write, held open on the registrar's row
        with world.ws.transaction("auth.login", "registrar", beside=True) as con:
            con.execute("UPDATE users SET failed_logins = failed_logins + 1 WHERE user_id = 'registrar'")
            login_wrote.set()
            release.wait(30)

    before = user_row(world, "registrar")
    thread = threading.Thread(target=login_write)
    thread.start()
    assert login_wrote.wait(30)
    try:
        with pytest.raises(StoreError) as refused, world.ws.transaction("users.set_roles", "admin") as con:
            con.execute("UPDATE users SET disabled = TRUE WHERE user_id = 'registrar'")
            con.execute("UPDATE users SET failed_logins = 99 WHERE user_id = 'registrar'")
    finally:
        release.set()
        thread.join(30)
    assert refused.value.reason == "write_conflict"
    assert "保存しませんでした" in refused.value.message_ja and "Nothing was saved" in refused.value.message_en
    with world.ws.transaction("test.read", "test", writes=False) as con:
        disabled = con.execute("SELECT disabled FROM users WHERE user_id = 'registrar'").fetchone()
    assert disabled == (False,)
    assert user_row(world, "registrar") == (before[0], before[1] + 1)  # the login's write kept, the admin's not
