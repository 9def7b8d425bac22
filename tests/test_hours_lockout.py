"""C13 hours that never lock the office out (issue 22 item 7).

An administrator set ``mon-fri=08:30-18:00 sat-sun=closed`` on a Sunday: within 5 s every session
ended, the administrator's included, and nobody could log in to undo it until Monday.  Now the change
is previewed with its effect, needs a second yes when it ends sessions, and an administrator at the
server's command line may always log in to change the hours — and only that, audited.  Batch accounts
run only in hours declared for them.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, StaffedWorkspace
from tests.cycle_helpers import make_batch_account
from tests.test_web_sessions import audit_ops, web_login
from workbench.controls import access, batch_accounts, users
from workbench.core.access_rules import parse_hours
from workbench.core.clock import JST
from workbench.core.errors import AccessRefused, InvalidInput, PermissionDenied
from workbench.web.sessions import WebSessions

SUNDAY = dt.datetime(2026, 6, 7, 10, 0, tzinfo=JST)
OFFICE_HOURS = ["mon-fri=08:30-18:00", "sat-sun=closed"]


def test_a_change_that_closes_the_office_now_is_previewed_and_needs_a_second_yes(world: StaffedWorkspace) -> None:
    world.clock.set(SUNDAY)
    world.login("registrar")  # at work this Sunday
    admin = world.login("administrator")
    change = access.preview_hours(admin, parse_hours(OFFICE_HOURS))
    assert change.closes_now and change.closes_for_you
    assert set(change.ended) >= {"administrator", "registrar"}
    assert "あなたを含む" in change.message_ja and "yours included" in change.message_en
    with pytest.raises(InvalidInput) as refused:
        access.set_hours(admin, parse_hours(OFFICE_HOURS))
    assert refused.value.reason == "ends_sessions"
    assert access.policy(admin).within_hours("registrar", world.clock.now())  # nothing changed
    # A change that ends no one's session needs no confirmation.
    calm = access.preview_hours(admin, parse_hours(["mon=08:30-18:00"]))
    assert not calm.ended and not calm.closes_now
    access.set_hours(admin, parse_hours(["mon=08:30-18:00"]))
    access.set_hours(admin, parse_hours(OFFICE_HOURS), confirm_ending=True)
    with pytest.raises(AccessRefused):
        world.login("registrar")


def test_an_administrator_can_always_come_back_to_change_the_hours_and_only_that(world: StaffedWorkspace) -> None:
    world.clock.set(SUNDAY)
    access.set_hours(world.login("administrator"), parse_hours(OFFICE_HOURS), confirm_ending=True)
    world.clock.advance(60)
    with pytest.raises(AccessRefused):
        world.login("administrator")  # an ordinary log-in stays refused
    for user in ("registrar", "approver"):  # the way back is the administrator's alone
        world.clock.advance(30)
        with pytest.raises(AccessRefused):
            world.ws.login(user, PASSWORD, world.code(user), hours_recovery=True)
    world.clock.advance(30)
    with pytest.raises(AccessRefused):  # and not over the web
        world.ws.login("administrator", PASSWORD, world.code("administrator"), web=True, address="127.0.0.1",
                       hours_recovery=True)
    world.clock.advance(30)
    back = world.ws.login("administrator", PASSWORD, world.code("administrator"), hours_recovery=True)
    assert not access.policy(back).within_hours("administrator", world.clock.now())
    with pytest.raises(PermissionDenied) as narrow:
        users.list_users(back)
    assert narrow.value.reason == "hours_recovery_only"
    access.set_hours(back, parse_hours(["sun=09:00-17:00"]))
    assert world.login("registrar").user_id == "registrar"
    logins = [r for r in audit_ops(world, "auth.login") if r["params"].get("out_of_hours") == "hours_recovery"]
    assert len(logins) == 1
    denied = [r for r in audit_ops(world, "controls.users.list_users") + audit_ops(world, "users.list_users")
              if r["outcome"] == "denied"]
    assert denied and denied[-1]["params"]["reason"] == "hours_recovery_only"
    assert web_login(world, WebSessions(world.ws), "registrar")[0]  # the web is open again in the new hours


def test_the_cli_shows_the_effect_refuses_without_confirm_and_lets_the_administrator_back(
        world: StaffedWorkspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    world.clock.set(SUNDAY)
    code, shown, _ = world.cli(monkeypatch, capsys, "administrator", "access", "hours", *OFFICE_HOURS, "--preview")
    assert code == 0 and shown["closes_for_you"] and "administrator" in shown["ended"]
    code, _, err = world.cli(monkeypatch, capsys, "administrator", "access", "hours", *OFFICE_HOURS)
    assert code == 2 and "確認が必要" in json.loads(err)["message_ja"]
    code, _, err = world.cli(monkeypatch, capsys, "administrator", "access", "hours", *OFFICE_HOURS, "--confirm")
    assert code == 0, err
    code, _, err = world.cli(monkeypatch, capsys, "administrator", "user", "list")
    assert code != 0 and "利用時間外" in json.loads(err)["message_ja"]
    code, out, err = world.cli(monkeypatch, capsys, "administrator", "access", "hours", "sat-sun=00:00-24:00")
    assert code == 0, err
    assert out["hours"]["sun"] == "00:00-24:00"


def test_batch_accounts_run_only_in_their_declared_hours(world: StaffedWorkspace, tmp_path: Path) -> None:
    admin, approver = world.login("administrator"), world.login("approver")
    key = make_batch_account(world, admin, approver, "night", "nightly", tmp_path / "night.key")
    listed = next(a for a in batch_accounts.list_accounts(world.login("administrator")) if a["user_id"] == "night")
    assert listed["hours"]["sun"] == "00:00-24:00"  # declared from the start, visible
    declared = batch_accounts.set_hours(world.login("administrator"), "night", parse_hours(["mon-sun=01:00-06:00"]))
    assert declared["hours"]["mon"] == "01:00-06:00"
    world.clock.set(dt.datetime(2026, 6, 2, 2, 30, tzinfo=JST))
    assert batch_accounts.login(world.ws, key).user_id == "night"
    world.clock.set(dt.datetime(2026, 6, 2, 10, 0, tzinfo=JST))  # office hours are not the account's hours
    with pytest.raises(AccessRefused) as refused:
        batch_accounts.login(world.ws, key)
    assert refused.value.reason == "out_of_hours" and "利用時間外" in refused.value.message_ja
    assert any(r["outcome"] == "denied" and r["params"].get("reason") == "out_of_hours"
               for r in audit_ops(world, "auth.batch_login"))
    with pytest.raises(PermissionDenied):
        batch_accounts.set_hours(world.login("registrar"), "night", parse_hours(["mon-sun=00:00-24:00"]))
    with pytest.raises(Exception) as unknown:
        batch_accounts.set_hours(world.login("administrator"), "nobody", parse_hours(["mon=01:00-02:00"]))
    assert unknown.value.__class__.__name__ == "NotFound"
