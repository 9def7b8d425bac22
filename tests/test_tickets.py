"""One-time tickets (workbench.core.tickets): hash-stored, bound, claimed once, expiring — the same
rules for the kernel ticket of a dashboard and the run ticket of a pipeline."""

from __future__ import annotations

import pytest

from workbench.controls import users
from workbench.core import tickets
from workbench.core.errors import SessionExpired
from workbench.cycles import pipeline_runs
from workbench.web.sessions import TICKET_LIFETIME, WebSessions, redeem_kernel_ticket

from .conftest import PASSWORD, StaffedWorkspace


def _stored(world: StaffedWorkspace, sql: str) -> list[tuple[object, ...]]:
    with world.ws.transaction("test.read", "test") as con:
        return con.execute(sql).fetchall()


def test_a_kernel_ticket_is_kept_as_its_hash_and_expires(world: StaffedWorkspace) -> None:
    sessions = WebSessions(world.ws)
    world.clock.advance(30)
    _token, web = sessions.login("reviewer", PASSWORD, world.code("reviewer"), address="127.0.0.1")
    ticket, _ = sessions.kernel_ticket(web, "k-1")
    assert all(ticket not in str(row) for row in _stored(world, "SELECT * FROM kernel_tickets"))
    world.clock.advance(TICKET_LIFETIME.total_seconds() + 1)
    with pytest.raises(SessionExpired):
        redeem_kernel_ticket(world.ws, "k-1", ticket)
    assert _stored(world, "SELECT used_at FROM kernel_tickets") == [(None,)]  # a refusal claims nothing


def _run_ticket(world: StaffedWorkspace) -> tuple[pipeline_runs.RunInfo, str]:
    """A run recorded with the hash of a ticket made by its runner (which hands the ticket to the
    notebook's kernel in its environment, never in a file)."""
    ticket, hashed = tickets.issue()
    info, _folder = pipeline_runs.start(world.login("auditor"), "audit_check", {}, ticket_hash=hashed)
    return info, ticket


def test_a_run_ticket_is_bound_to_its_run_and_claimed_once(world: StaffedWorkspace) -> None:
    first, first_ticket = _run_ticket(world)
    second, _ = _run_ticket(world)
    assert all(first_ticket not in str(row) for row in _stored(world, "SELECT * FROM pipeline_runs"))
    # the first run's ticket given for the second run does not start the second run
    with pytest.raises(SessionExpired):
        pipeline_runs.redeem_run_ticket(world.ws, second.run_id, first_ticket)
    assert pipeline_runs.redeem_run_ticket(world.ws, first.run_id, first_ticket).user_id == "auditor"
    with pytest.raises(SessionExpired):  # a kept copy of the ticket, used again
        pipeline_runs.redeem_run_ticket(world.ws, first.run_id, first_ticket)
    statuses = {run_id: status for run_id, status in _stored(world, "SELECT run_id, status FROM pipeline_runs")}
    assert statuses == {first.run_id: "running", second.run_id: "issued"}


def test_a_run_ticket_expires_and_its_requester_must_still_be_enabled(world: StaffedWorkspace) -> None:
    late, late_ticket = _run_ticket(world)
    world.clock.advance(pipeline_runs.TICKET_LIFETIME.total_seconds() + 1)
    with pytest.raises(SessionExpired):
        pipeline_runs.redeem_run_ticket(world.ws, late.run_id, late_ticket)
    disabled, ticket = _run_ticket(world)
    users.disable(world.login("administrator"), "auditor")
    with pytest.raises(SessionExpired):
        pipeline_runs.redeem_run_ticket(world.ws, disabled.run_id, ticket)
    statuses = {r[0] for r in _stored(world, "SELECT status FROM pipeline_runs")}
    assert statuses == {"issued"} and late_ticket != ticket
