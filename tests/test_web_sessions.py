"""Web sessions, kernel tickets and the access policy, without a server (issue 8, C13)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from tests.conftest import PASSWORD, World
from workbench import access, approvals, auditing
from workbench.access_rules import parse_hours
from workbench.clock import JST
from workbench.errors import AccessRefused, ApprovalError, InvalidInput, SessionExpired
from workbench.web.sessions import WebSessions, redeem_kernel_ticket

LOCAL = "127.0.0.1"


def web_login(world: World, sessions: WebSessions, user: str, *, address: str | None = LOCAL) -> tuple[str, object]:
    world.clock.advance(30)
    return sessions.login(user, PASSWORD, world.code(user), address=address)


def audit_ops(world: World, operation: str) -> list[dict[str, Any]]:
    records = auditing.search(world.login("auditor"), operation=operation)
    return [{**r, "params": json.loads(r["params"]) if isinstance(r["params"], str) else r["params"]} for r in records]


def test_cookie_finds_its_session_and_nothing_else(world: World) -> None:
    sessions = WebSessions(world.ws)
    token, web = web_login(world, sessions, "registrar")
    assert sessions.lookup(token, address=LOCAL) is web
    assert sessions.lookup(token + "x", address=LOCAL) is None
    assert sessions.lookup("", address=LOCAL) is None
    assert sessions.lookup(None, address=LOCAL) is None
    # the same cookie from another address ends the session
    assert sessions.lookup(token, address="10.0.0.9") is None
    assert sessions.lookup(token, address=LOCAL) is None


def test_idle_limit_ends_the_session_and_is_recorded(world: World) -> None:
    sessions = WebSessions(world.ws)
    token, web = web_login(world, sessions, "reviewer")
    world.clock.advance(14 * 60)
    assert sessions.lookup(token, address=LOCAL) is web  # renewed on use
    world.clock.advance(15 * 60 + 1)
    assert sessions.due() == [web]
    ticket_kernels = sessions.end(web, "idle")
    assert ticket_kernels == set()
    assert sessions.lookup(token, address=LOCAL) is None and web.session.closed
    assert len(audit_ops(world, "auth.idle_timeout")) == 1


def test_kernel_ticket_is_one_time_and_bound_to_its_kernel(world: World) -> None:
    sessions = WebSessions(world.ws)
    _token, web = web_login(world, sessions, "reviewer")
    ticket, earlier = sessions.kernel_ticket(web, "k-1")
    assert earlier == set() and sessions.owns(web, "k-1")
    with pytest.raises(SessionExpired):
        redeem_kernel_ticket(world.ws, "k-other", ticket)  # another kernel cannot use it
    session = redeem_kernel_ticket(world.ws, "k-1", ticket)
    assert session.user_id == "reviewer" and session.session_id == web.session_id
    with pytest.raises(SessionExpired):
        redeem_kernel_ticket(world.ws, "k-1", ticket)  # once only
    # one browser, one kernel: a new kernel replaces the first
    _ticket2, earlier = sessions.kernel_ticket(web, "k-2")
    assert earlier == {"k-1"} and not sessions.owns(web, "k-1") and sessions.owns(web, "k-2")


def test_ticket_of_an_ended_or_other_session_is_refused(world: World) -> None:
    sessions = WebSessions(world.ws)
    _t, web = web_login(world, sessions, "registrar")
    _t2, other = web_login(world, sessions, "reviewer")
    ticket, _ = sessions.kernel_ticket(web, "k-1")
    assert not sessions.owns(other, "k-1")
    assert sessions.end(web, "logout") == {"k-1"}
    with pytest.raises(SessionExpired):
        redeem_kernel_ticket(world.ws, "k-1", ticket)
    with pytest.raises(SessionExpired):
        redeem_kernel_ticket(world.ws, "k-1", "made-up")
    assert len(audit_ops(world, "auth.logout")) == 1
    assert any(r["outcome"] == "denied" for r in audit_ops(world, "auth.kernel_session"))


def test_restart_records_open_sessions_as_ended(world: World) -> None:
    sessions = WebSessions(world.ws)
    web_login(world, sessions, "registrar")
    web_login(world, sessions, "reviewer")
    assert WebSessions(world.ws).close_stale() == 2  # the next server
    assert WebSessions(world.ws).close_stale() == 0
    assert len(audit_ops(world, "auth.session_ended")) == 2


# -- C13: registered terminals ---------------------------------------------------------------------


def test_unregistered_terminal_is_refused_at_login_and_audited(world: World) -> None:
    sessions = WebSessions(world.ws)
    with pytest.raises(AccessRefused) as caught:
        web_login(world, sessions, "registrar", address="192.0.2.10")
    assert "登録されていません" in caught.value.message_ja and caught.value.details["reason"] == "unknown_terminal"
    admin = world.login("administrator")
    terminal = access.register_terminal(admin, "address", "192.0.2.0/28", "住宅課 窓口端末")
    token, web = web_login(world, sessions, "registrar", address="192.0.2.10")
    assert web.terminal_id == terminal.terminal_id
    access.remove_terminal(admin, terminal.terminal_id)
    sessions.policy(refresh=True)
    assert sessions.lookup(token, address="192.0.2.10") is None  # ends on the next request
    denied = [r for r in audit_ops(world, "auth.login") if r["outcome"] == "denied"]
    assert denied and denied[0]["params"]["reason"] == "unknown_terminal"


def test_terminal_registration_refuses_garbage(world: World) -> None:
    admin = world.login("administrator")
    for kind, value in (("address", "not-an-address"), ("certificate", "abc"), ("mac", "00:11"),
                        ("address", "10.0.0.1; DROP TABLE terminals")):
        with pytest.raises(InvalidInput):
            access.register_terminal(admin, kind, value, "x")
    fp = "AB:" * 31 + "AB"
    assert access.register_terminal(admin, "certificate", fp, "証明書端末").value == "ab" * 32


def test_cli_login_names_no_terminal_but_web_must(world: World) -> None:
    world.clock.advance(30)
    assert world.ws.login("registrar", PASSWORD, world.code("registrar")).user_id == "registrar"
    world.clock.advance(30)
    with pytest.raises(AccessRefused):
        world.ws.login("registrar", PASSWORD, world.code("registrar"), web=True, address=None)


# -- C13: set hours -------------------------------------------------------------------------------------


def test_parse_hours() -> None:
    hours = parse_hours(["mon-fri=08:30-18:00", "sat=09:00-12:00", "sun=closed"])
    assert hours[0] == (dt.time(8, 30), dt.time(18)) and hours[4] == hours[0]
    assert hours[5] == (dt.time(9), dt.time(12)) and hours[6] is None
    assert parse_hours(["sun=00:00-24:00"])[6] is not None
    for bad in ("mon=18:00-08:00", "fri-mon=08:00-18:00", "xyz=08:00-18:00", "mon=8-18", "mon=25:00-26:00", "mon"):
        with pytest.raises(InvalidInput):
            parse_hours([bad])


def test_out_of_hours_login_refused_for_cli_and_web_until_an_exception_is_approved(world: World) -> None:
    admin = world.login("administrator")
    access.set_hours(admin, parse_hours(["mon-fri=08:30-18:00", "sat-sun=closed"]))
    world.clock.set(dt.datetime(2026, 6, 1, 20, 0, tzinfo=JST))  # Monday evening
    with pytest.raises(AccessRefused) as caught:
        world.login("registrar")
    assert "利用時間外" in caught.value.message_ja
    with pytest.raises(AccessRefused):
        web_login(world, WebSessions(world.ws), "registrar")
    # an exception: requested by the administrator, approved by a second person
    world.clock.set(dt.datetime(2026, 6, 1, 17, 0, tzinfo=JST))
    admin = world.login("administrator")
    start, end = dt.datetime(2026, 6, 1, 18, 0, tzinfo=JST), dt.datetime(2026, 6, 1, 22, 0, tzinfo=JST)
    request = access.request_exception(admin, "registrar", start, end, "決算対応")
    with pytest.raises(ApprovalError):
        access.grant_exception(admin, "registrar", start, end, "決算対応", approval_id=request.approval_id)
    approvals.decide(world.login("approver"), request.approval_id, approve=True)
    with pytest.raises(ApprovalError):  # not for other hours than approved
        access.grant_exception(admin, "registrar", start, end + dt.timedelta(hours=1), "決算対応",
                               approval_id=request.approval_id)
    access.grant_exception(admin, "registrar", start, end, "決算対応", approval_id=request.approval_id)
    world.clock.set(dt.datetime(2026, 6, 1, 20, 0, tzinfo=JST))
    assert world.login("registrar").user_id == "registrar"
    with pytest.raises(AccessRefused):
        world.login("reviewer")  # the exception is for one person only
    world.clock.set(dt.datetime(2026, 6, 1, 22, 30, tzinfo=JST))
    with pytest.raises(AccessRefused):
        world.login("registrar")  # and for one period only


def test_web_session_ends_when_the_hours_end(world: World) -> None:
    admin = world.login("administrator")
    access.set_hours(admin, parse_hours(["mon-fri=08:30-18:00", "sat-sun=closed"]))
    world.clock.set(dt.datetime(2026, 6, 1, 17, 58, tzinfo=JST))
    sessions = WebSessions(world.ws)
    token, web = web_login(world, sessions, "registrar")
    world.clock.set(dt.datetime(2026, 6, 1, 18, 0, 30, tzinfo=JST))
    sessions.policy(refresh=True)
    assert sessions.due() == [web] and web.ended == "out_of_hours"
    assert sessions.lookup(token, address=LOCAL) is None
    sessions.end(web, "out_of_hours")
    world.clock.set(dt.datetime(2026, 6, 2, 10, 0, tzinfo=JST))  # the auditor reads it next morning
    assert any(r["params"].get("reason") == "out_of_hours" for r in audit_ops(world, "auth.session_ended"))


def test_exception_requests_refuse_bad_periods(world: World) -> None:
    admin = world.login("administrator")
    now = world.clock.now()
    for start, end, reason in ((now + dt.timedelta(hours=2), now + dt.timedelta(hours=1), "x"),
                               (now, now + dt.timedelta(days=30), "x"),
                               (now - dt.timedelta(days=2), now - dt.timedelta(days=1), "x"),
                               (now, now + dt.timedelta(hours=1), " ")):
        with pytest.raises(InvalidInput):
            access.request_exception(admin, "registrar", start, end, reason)
    with pytest.raises(Exception) as caught:
        access.request_exception(world.login("registrar"), "registrar", now, now + dt.timedelta(hours=1), "x")
    assert caught.value.__class__.__name__ == "PermissionDenied"
