"""Web sessions, kernel tickets and the access policy, without a server (issue 8, C13)."""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from typing import Any

import pytest

from tests.conftest import PASSWORD, StaffedWorkspace
from workbench.controls import access, audit_log
from workbench.core import approvals
from workbench.core.access_rules import parse_hours
from workbench.core.clock import JST
from workbench.core.errors import AccessRefused, ApprovalError, InvalidInput, SessionExpired
from workbench.web.sessions import WebSession, WebSessions, redeem_kernel_ticket

LOCAL = "127.0.0.1"


def web_login(world: StaffedWorkspace, sessions: WebSessions, user: str, *, address: str | None = LOCAL) -> tuple[str, WebSession]:
    world.clock.advance(30)
    return sessions.login(user, PASSWORD, world.code(user), address=address)


def audit_ops(world: StaffedWorkspace, operation: str) -> list[dict[str, Any]]:
    records = audit_log.search(world.login("auditor"), operation=operation)
    return [{**r, "params": json.loads(r["params"]) if isinstance(r["params"], str) else r["params"]} for r in records]


def test_cookie_finds_its_session_and_nothing_else(world: StaffedWorkspace) -> None:
    sessions = WebSessions(world.ws)
    token, web = web_login(world, sessions, "registrar")
    assert sessions.lookup(token, address=LOCAL) is web
    assert sessions.lookup(token + "x", address=LOCAL) is None
    assert sessions.lookup("", address=LOCAL) is None
    assert sessions.lookup(None, address=LOCAL) is None
    # the same cookie from another address ends the session
    assert sessions.lookup(token, address="10.0.0.9") is None
    assert sessions.lookup(token, address=LOCAL) is None


def test_idle_limit_ends_the_session_and_is_recorded(world: StaffedWorkspace) -> None:
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


def test_kernel_ticket_is_one_time_and_bound_to_its_kernel(world: StaffedWorkspace) -> None:
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


def test_ticket_of_an_ended_or_other_session_is_refused(world: StaffedWorkspace) -> None:
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


def test_restart_records_open_sessions_as_ended(world: StaffedWorkspace) -> None:
    sessions = WebSessions(world.ws)
    web_login(world, sessions, "registrar")
    web_login(world, sessions, "reviewer")
    assert WebSessions(world.ws).close_stale() == 2  # the next server
    assert WebSessions(world.ws).close_stale() == 0
    assert len(audit_ops(world, "auth.session_ended")) == 2


# -- C13: registered terminals ---------------------------------------------------------------------


def test_unregistered_terminal_is_refused_at_login_and_audited(world: StaffedWorkspace) -> None:
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


def test_terminal_registration_refuses_garbage(world: StaffedWorkspace) -> None:
    admin = world.login("administrator")
    for kind, value in (("address", "not-an-address"), ("certificate", "abc"), ("mac", "00:11"),
                        ("address", "10.0.0.1; DROP TABLE terminals")):
        with pytest.raises(InvalidInput):
            access.register_terminal(admin, kind, value, "x")
    fp = "AB:" * 31 + "AB"
    assert access.register_terminal(admin, "certificate", fp, "証明書端末").value == "ab" * 32


def test_cli_login_names_no_terminal_but_web_must(world: StaffedWorkspace) -> None:
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


def test_out_of_hours_login_refused_for_cli_and_web_until_an_exception_is_approved(world: StaffedWorkspace) -> None:
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


def test_web_session_ends_when_the_hours_end(world: StaffedWorkspace) -> None:
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


def test_exception_requests_refuse_bad_periods(world: StaffedWorkspace) -> None:
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


# -- the same policy from the CLI and the administrator's screen ---------------------------------------------


def test_cli_sets_hours_and_registers_terminals(world: StaffedWorkspace, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from workbench.cli import main

    def as_admin(*argv: str) -> tuple[int, str, str]:
        world.clock.advance(30)
        monkeypatch.setenv("WORKBENCH_USER", "administrator")
        monkeypatch.setenv("WORKBENCH_PASSWORD", PASSWORD)
        monkeypatch.setenv("WORKBENCH_TOTP", world.code("administrator"))
        monkeypatch.setattr("workbench.core.workspace.Workspace.open", lambda *_a, **_k: world.ws)
        code = main(["-w", str(world.ws.path), *argv])
        out = capsys.readouterr()
        return code, out.out, out.err

    code, out, err = as_admin("access", "hours", "mon-fri=08:30-18:00", "sat-sun=closed")
    assert code == 0, err
    assert json.loads(out)["hours"]["mon"] == "08:30-18:00" and json.loads(out)["hours"]["sun"] is None
    code, out, err = as_admin("access", "hours", "mon=18:00-08:00")
    assert code == 2 and "読み取れません" in json.loads(err)["message_ja"]
    code, out, err = as_admin("access", "terminal-add", "--address", "192.0.2.7", "--label", "窓口1")
    assert code == 0, err
    terminal_id = json.loads(out)["terminal_id"]
    code, out, _ = as_admin("access", "show")
    assert terminal_id in out
    code, out, err = as_admin("access", "terminal-remove", terminal_id)
    assert code == 0, err
    code, out, err = as_admin("access", "terminal-remove", terminal_id)
    assert code == 2


def test_access_screen_shows_and_changes_the_policy(world: StaffedWorkspace) -> None:
    from widgets.access import AccessApp

    app = AccessApp(world.login("administrator"))
    assert "月曜日" in app.policy_view.value and "127.0.0.1/32" in app.policy_view.value
    # the hours by weekday, chosen from lists in Japanese (issue 20 item 10), never typed
    assert app.days[0].name.value == "<b>月曜日</b>" and app.days[6].name.value == "<b>日曜日</b>"
    for row in app.days[:5]:
        row.opens.value, row.closes.value, row.closed.value = "08:30", "18:00", False
    for row in app.days[5:]:
        row.closed.value = True
    assert app.days[5].opens.disabled  # a closed day offers no times
    app.hours_button.click()
    assert app.hours_result.kind == "success" and "利用不可" in app.policy_view.value, app.hours_result.text
    policy = access.policy(world.login("administrator")).to_dict()["hours"]
    assert policy["mon"] == "08:30-18:00" and policy["sat"] is None
    app.days[0].opens.value, app.days[0].closes.value = "18:00", "08:30"  # ends before it starts
    app.hours_button.click()
    assert app.hours_result.kind == "error" and "月曜日" in app.hours_result.text and "終了" in app.hours_result.text
    assert app.banner.kind == ""  # the refusal is beside the control, not at the top
    app.days[0].opens.value, app.days[0].closes.value = "08:30", "24:00"  # until the end of the day
    app.hours_button.click()
    assert app.hours_result.kind == "success" and "08:30-24:00" in app.policy_view.value, app.hours_result.text
    reopened = AccessApp(world.login("administrator"))  # the screen shows the hours in force
    assert reopened.days[0].opens.value == "08:30" and reopened.days[0].closes.value == "24:00"
    assert reopened.days[6].closed.value
    app.address.value, app.terminal_label.value = "192.0.2.0/28", "住宅課 窓口"
    app.add_button.click()
    assert app.terminal_result.kind == "success" and "192.0.2.0/28" in app.policy_view.value
    app.exc_user.value, app.exc_reason.value = "registrar", "決算対応"
    app.exc_from.value, app.exc_to.value = "2026-06-01 18:00", "2026-06-01 22:00"
    app.exc_request.click()
    assert app.exc_result.kind == "success" and app.exc_approval.value.startswith("A")
    app.exc_grant.click()  # not approved yet
    assert app.exc_result.kind == "error"
    approvals.decide(world.login("approver"), app.exc_approval.value, approve=True)
    app.exc_grant.click()
    assert app.exc_result.kind == "success" and "決算対応" in app.policy_view.value


def test_kernel_tracebacks_stay_in_the_server_log(capfd: pytest.CaptureFixture[str]) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    from workbench.web.kernel import keep_tracebacks_in_server

    shell = InteractiveShell.instance()
    shown: list[str] = []
    stderr = sys.stderr
    try:
        keep_tracebacks_in_server(shown.append)
        try:
            raise ValueError("a value that must not reach the browser")
        except ValueError:
            shell.showtraceback()
        assert len(shown) == 1 and re.fullmatch(r"E-[0-9A-F]{8}", shown[0])
        err = capfd.readouterr().err
        assert shown[0] in err and "ValueError" in err  # the details are in the server's log
    finally:
        sys.stderr = stderr
        InteractiveShell.clear_instance()


def test_an_ended_session_says_why(world: StaffedWorkspace) -> None:
    """The login page names the reason (issue 11 item 9): the server remembers it per cookie."""
    sessions = WebSessions(world.ws)
    token, web = web_login(world, sessions, "registrar")
    assert sessions.ended_reason(token) is None  # alive
    assert sessions.ended_reason(None) is None  # never logged in
    assert sessions.ended_reason("made-up") == "ended"  # a cookie this server never issued (a restart)
    world.clock.advance(60 * world.ws.settings.idle_timeout_minutes + 1)
    assert sessions.lookup(token, address=LOCAL, touch=False) is None
    assert sessions.ended_reason(token) == "idle"  # marked by the lookup, before the sweep
    sessions.end(web, "idle")
    assert sessions.ended_reason(token) == "idle"  # and after it
    token2, web2 = web_login(world, sessions, "reviewer")
    sessions.end(web2, "logout")
    assert sessions.ended_reason(token2) == "logout"


def test_asking_whether_a_session_lives_is_not_use(world: StaffedWorkspace) -> None:
    sessions = WebSessions(world.ws)
    token, web = web_login(world, sessions, "registrar")
    seen = web.last_seen
    world.clock.advance(30)
    found = sessions.lookup(token, address=LOCAL, touch=False)
    assert found is web and found is not None and found.last_seen == seen
