"""The inbox (未処理の業務) and a session a clerk cannot lose (issue 20 items 1 and 3), without a browser.

* every item waiting for a person is named, and 開く lands on the screen with it chosen;
* the place (screen and selection) is kept in the store: a new dashboard (a reload, a second tab,
  a login after the idle limit) opens there; a deliberate logout forgets it;
* nobody sees another person's items, and 開く with an ID that is not theirs is refused by the service;
* the approver's live count is a timer's call that does not count as use; the idle warning's
  「続ける」 renews the session.
"""

from __future__ import annotations

import html
import re

import pytest

from tests.conftest import StaffedWorkspace
from widgets.approvals import ApprovalsApp
from widgets.dashboard import Dashboard
from widgets.handover import HandoverApp
from widgets.home import HomeApp
from widgets.registration import RegistrationApp
from workbench import pending
from workbench.core.errors import InvalidInput, NotFound
from workbench.pending import Place
from workbench.simulate import generate_world, housing

from .test_widgets import upload


def text(value: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", value)).split())


def _requests(world: StaffedWorkspace) -> tuple[str, str]:
    """The registrar asks twice for the collection list; the approver approves one and rejects the other."""
    population = generate_world(20, seed=21)
    app = RegistrationApp(world.login("registrar"))
    upload(app.target_upload, "targets.csv", housing.target_extract(population))
    app.target_preview_button.click()
    app.target_confirm.click()
    flow = app.collection
    ids = []
    for status in ("", "resident"):
        app.status.value = status
        flow.preview_button.click()
        flow.request_button.click()
        ids.append(flow.approval_id.value)
    assert all(i.startswith("A") for i in ids), app.banner.text
    queue = ApprovalsApp(world.login("approver"))
    queue.buttons[ids[0]][0].click()
    queue.reasons[ids[1]].value = "区分の指定が違います。全員で作り直してください。"
    queue.buttons[ids[1]][1].click()
    assert queue.banner.kind == "success", queue.banner.text
    return ids[0], ids[1]


def test_inbox_names_each_item_and_opens_it_where_it_is_done(world: StaffedWorkspace) -> None:
    approved, rejected = _requests(world)
    gate = Dashboard(world.login("registrar"), idle_check_seconds=None, live_seconds=None)
    home = gate.app
    assert isinstance(home, HomeApp) and gate.model.current_app == "home"
    assert home.inbox is not None
    mine = {i.ref: i for i in home.inbox.items}
    assert mine[approved].source == "my_approved_requests" and mine[rejected].source == "my_rejected_requests"
    shown = text(home.list_box.children[0].value) + " ".join(
        text(c.value) for row in home.list_box.children[1:] for c in getattr(row, "children", []) if hasattr(c, "value"))
    assert approved in shown and "番号収集リスト" in shown
    assert "区分の指定が違います" in shown  # the approver's reason, on the requester's inbox
    counts = {c.key: c.count for c in home.items}
    assert counts["my_approved_requests"] == 1 and counts["my_rejected_requests"] == 1

    # 開く: the registration screen, the collection list's approval entered and found approved
    home.item_buttons[("my_approved_requests", approved)].click()
    app = gate.app
    assert isinstance(app, RegistrationApp) and gate.model.current_app == "registration"
    assert app.collection.approval_id.value == approved and app.collection.model.approval_state == "approved"
    assert pending.last_place(world.login("registrar")) == Place("registration", "approval", approved)

    # a reload (a new dashboard for the same person) returns to the same screen and selection
    again = Dashboard(world.login("registrar"), idle_check_seconds=None, live_seconds=None)
    assert isinstance(again.app, RegistrationApp) and again.app.collection.approval_id.value == approved

    # the rejected one: its reason on the screen where it was asked for
    again.go_home()
    assert isinstance(again.app, HomeApp)
    again.app.item_buttons[("my_rejected_requests", rejected)].click()
    assert isinstance(again.app, RegistrationApp)
    assert "区分の指定が違います" in text(again.app.collection.approval_state_view.value)

    # make the approved file: the copy waits to be handed over, named in the inbox, 開く lands on it
    flow = app.collection
    flow.create_button.click()
    (dialog,) = flow.confirm_area.children
    dialog.check.value = True
    dialog.ok.click()
    assert app.banner.kind == "success", app.banner.text
    gate.go_home()
    home = gate.app
    assert isinstance(home, HomeApp)
    files = home.inbox.items_of("copies_not_delivered") if home.inbox else []
    assert len(files) == 1 and "番号収集委託事業者" in files[0].title_ja
    home.item_buttons[("copies_not_delivered", files[0].ref)].click()
    handover = gate.app
    assert isinstance(handover, HandoverApp) and handover.chosen == files[0].ref
    (box,) = handover.chosen_area.children
    assert box.deliver is not None and files[0].ref in text(box.table.value)
    box.deliver.check.value = True
    box.deliver.deliver.click()
    assert pending.inbox(world.login("registrar")).items_of("copies_not_delivered") == []


def test_no_one_sees_or_opens_another_persons_items(world: StaffedWorkspace) -> None:
    approved, rejected = _requests(world)
    world.add_user("registrar2", ["registrar"])
    other = world.login("registrar2")
    theirs = pending.inbox(other)
    assert not {approved, rejected} & {i.ref for i in theirs.items}  # same role, another person: never shown
    for ref in (approved, rejected):
        with pytest.raises(NotFound) as refused:
            pending.open_item(other, Place("registration", "approval", ref))
        assert refused.value.details["reason"] == "not_yours" and "未処理の業務" in refused.value.message_ja
    # an approval that does not exist is refused the same way (no oracle)
    with pytest.raises(NotFound):
        pending.open_item(other, Place("registration", "approval", "A000000000000"))
    # a reviewer may not open a registration review, nor anyone a file that is not theirs
    with pytest.raises(NotFound):
        pending.open_item(world.login("reviewer"), Place("review", "review", "R1"))
    with pytest.raises(NotFound):
        pending.open_item(other, Place("handover", "file", "M0000000000"))
    # the dashboard's 開く with a place not theirs: refused in words, nothing opened
    gate = Dashboard(other, idle_check_seconds=None, live_seconds=None)
    assert gate.open_screen("registration", item=Place("registration", "approval", approved)) is None
    assert gate.model.current_app == "home" and "未処理の業務にはありません" in gate.banner.text
    # garbage: free text, a kind without an ID, an unknown kind, a silly limit
    for bad in (Place("registration", "approval", "A1' OR 1=1"), Place("registration", "approval", ""),
                Place("registration", "secret", "A1"), Place("../etc", "", "")):
        with pytest.raises(InvalidInput):
            pending.open_item(other, bad)
        with pytest.raises(InvalidInput):
            pending.remember_place(other, bad)
    for limit in (0, 101, True):
        with pytest.raises(InvalidInput):
            pending.inbox(other, limit=limit)
    # a place kept for a screen the person may no longer open leads home, not to a refusal
    pending.remember_place(other, Place("approvals"))
    assert Dashboard(world.login("registrar2"), idle_check_seconds=None, live_seconds=None).model.current_app == "home"


def test_approver_inbox_live_count_and_idle_warning(world: StaffedWorkspace) -> None:
    approved, _rejected = _requests(world)
    del approved
    session = world.login("approver")
    gate = Dashboard(session, idle_check_seconds=None, live_seconds=None)
    assert gate.model.approvals_waiting == 0 and "承認待ち" in text(gate.live_count.value)
    # a new request arrives: the timer's call counts it, without a click, and is not use
    population = generate_world(5, seed=3)
    app = RegistrationApp(world.login("registrar"))
    upload(app.target_upload, "targets.csv", housing.target_extract(population))
    app.target_preview_button.click()
    app.target_confirm.click()
    app.collection.preview_button.click()
    app.collection.request_button.click()
    waiting = app.collection.approval_id.value
    before = session.last_activity
    world.clock.advance(60)
    gate.refresh_live_count()
    assert gate.model.approvals_waiting == 1 and session.last_activity == before
    assert "（1）" in gate.menu_buttons["approvals"].description
    assert isinstance(gate.app, HomeApp) and "1 件" in text(gate.app.count_views["approvals_waiting"].value)
    # the approver's inbox names it; 開く shows it first, marked
    gate.app.refresh()
    gate.app.item_buttons[("approvals_waiting", waiting)].click()
    queue = gate.app
    assert isinstance(queue, ApprovalsApp) and queue.chosen == waiting
    assert "wb-approval-chosen" in queue.rows.children[0]._dom_classes

    # a minute before the idle limit: the warning with 「続ける」; pressing it renews the session
    limit = 60 * world.ws.settings.idle_timeout_minutes
    world.clock.advance(limit - 30 - (world.clock.now() - session.last_activity).total_seconds())
    gate._check_idle()
    assert gate.model.idle_warning and gate.idle_box.layout.display == "flex"
    assert "ログアウトします" in text(gate.idle_text.value)
    gate.continue_button.click()
    assert not gate.model.idle_warning and gate.seconds_left() > limit - 1
    # the timers stop with the session
    gate.end(InvalidInput("bye", "終了"))
    assert gate._timer is None and gate._live_timer is None and gate.session is None


def test_auditor_finds_the_days_approvals_and_opens_their_trail(world: StaffedWorkspace, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """The last hand-off of a day (issue 20's walk): the auditor's inbox names each approval decided today;
    開く lands on the audit log with that approval's records (request, decision, the work it allowed)."""
    from widgets.audit import AuditApp
    from workbench.controls import audit_log
    from workbench.core.paging import PageRequest

    approved, rejected = _requests(world)
    auditor = world.login("auditor")
    today = pending.inbox(auditor).items_of("approvals_decided_today")
    assert {i.ref for i in today} == {approved, rejected}
    item = next(i for i in today if i.ref == rejected)
    assert "決定: approver" in item.detail_ja and "却下" in item.detail_ja and item.place == Place("audit", "approval", rejected)

    gate = Dashboard(auditor, idle_check_seconds=None, live_seconds=None)
    home = gate.app
    assert isinstance(home, HomeApp)
    home.item_buttons[("approvals_decided_today", approved)].click()
    app = gate.app
    assert isinstance(app, AuditApp) and app.by_approval.value == approved
    current = text(app.current.value)
    assert approved in current and "番号収集リスト" in current and "registrar" in current and "approver" in current
    operations = {r["operation"] for r in app.model.records}
    assert {"approvals.decide"} <= operations and any(op.startswith("collection.") for op in operations), operations
    assert all(r["params"] and approved in r["params"] for r in app.model.records)
    trail = len(app.model.records)
    assert pending.last_place(world.login("auditor")) == Place("audit", "approval", approved)
    # a reload returns to the same approval's records
    again = Dashboard(world.login("auditor"), idle_check_seconds=None, live_seconds=None)
    assert isinstance(again.app, AuditApp) and again.app.by_approval.value == approved

    # another search leaves the approval: the screen forgets it
    app.by_approval.value = ""
    app.search()
    assert app.current.value == "" and pending.last_place(world.login("auditor")) == Place("audit")

    # no one else opens the trail from the audit screen; garbage is refused with a reason
    with pytest.raises(NotFound):
        pending.open_item(world.login("reviewer"), Place("audit", "approval", approved))
    for bad in ("A1' OR 1=1", "承認", "A" * 40):
        with pytest.raises(InvalidInput) as refused:
            audit_log.search_page(world.login("auditor"), PageRequest(), approval_id=bad)
        assert refused.value.details["reason"] == "bad_approval_id" and "承認番号" in refused.value.message_ja
    # lower case typed by hand finds the same records
    page = audit_log.search_page(world.login("auditor"), PageRequest(), approval_id=approved.lower())
    assert page.total == trail
    # the CLI searches the same way
    code, out, _err = world.cli(monkeypatch, capsys, "auditor", "audit", "search", "--approval", approved)
    assert code == 0 and {r["operation"] for r in out} >= {"approvals.decide"}
    assert all(approved in r["params"] for r in out)
