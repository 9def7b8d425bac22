"""Widget tests without a browser: set values, click, read what the views show (issue 5)."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import ipywidgets as w
import numpy as np
import pytest

from tests.conftest import StaffedWorkspace
from tests.direct_load import load_world
from widgets import common
from widgets.admin import AdminApp
from widgets.approvals import ApprovalsApp
from widgets.audit import AuditApp
from widgets.dashboard import Dashboard
from widgets.person import PersonApp
from widgets.registration import RegistrationApp
from workbench.controls import access, audit_log, users
from workbench.core.access_rules import parse_hours
from workbench.core.clock import JST
from workbench.core.errors import AccessRefused, InvalidInput
from workbench.simulate import contractor, generate_world, housing


def text(value: str) -> str:
    """What a person reads: tags dropped, runs of white space made one space."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", value)).split())


def descendants(widget: w.Widget) -> list[w.Widget]:
    out = [widget]
    for child in getattr(widget, "children", ()):
        out += descendants(child)
    return out


def buttons(widget: w.Widget) -> list[str]:
    return [d.description for d in descendants(widget) if isinstance(d, w.Button)]


def upload(widget: w.FileUpload, name: str, data: bytes) -> None:
    widget.value = ({"name": name, "type": "text/csv", "size": len(data), "content": memoryview(data),
                     "last_modified": dt.datetime(2026, 6, 1, tzinfo=dt.UTC)},)


@pytest.fixture
def people(world: StaffedWorkspace) -> dict[str, Any]:
    """A small synthetic population loaded into the world; the first two without numbers."""
    population = generate_world(12, seed=5)
    registered = np.ones(len(population.persons), dtype=bool)
    registered[:2] = False
    load_world(world.ws, population.persons, population.households, registered=registered)
    ids = population.persons["person_id"].tolist()
    return {"with_number": ids[2], "without_number": ids[0],
            "number": population.persons["individual_number"].iloc[2]}


# --------------------------------------------------------------------------- common


def test_wareki_and_numbers() -> None:
    assert common.wareki(dt.date(2026, 6, 1)) == "令和8年6月1日（2026-06-01）"
    assert common.wareki(dt.date(2019, 5, 1), gregorian=False) == "令和元年5月1日"
    assert common.wareki(dt.date(2019, 4, 30), gregorian=False) == "平成31年4月30日"
    assert common.wareki(dt.date(1989, 1, 7), gregorian=False) == "昭和64年1月7日"
    assert common.wareki(dt.date(1989, 1, 8), gregorian=False) == "平成元年1月8日"
    assert common.wareki(dt.datetime(2026, 5, 31, 16, 0, tzinfo=dt.UTC), gregorian=False) == "令和8年6月1日"  # JST
    assert common.fmt_datetime("2026-06-01T01:00:00.000000Z").endswith("10:00")
    assert common.num(1234567) == "1,234,567"
    assert common.num(None) == "-"
    assert common.tr("login") == "ログイン" and common.tr("login", "en") == "Log in"


def test_every_message_key_is_used() -> None:
    """Issue 18 item 6: no dead words in the screens' message table (``app_*`` keys are the menu's)."""
    import ast
    from pathlib import Path

    from widgets.dashboard import APPS

    texts = []
    for path in (Path(__file__).resolve().parent.parent / "widgets").glob("*.py"):
        text = path.read_text("utf-8")
        if path.name == "common.py":  # leave out the table itself
            table = next(n for n in ast.parse(text).body if isinstance(n, ast.AnnAssign)
                         and getattr(n.target, "id", "") == "MESSAGES")
            lines = text.splitlines()
            text = "\n".join(lines[: table.lineno - 1] + lines[table.end_lineno or 0:])
        texts.append(text)
    source = "\n".join(texts)
    menu = {f"app_{e.key}" for e in APPS} | {"app_home"}
    unused = [k for k in common.MESSAGES if k not in menu and f'"{k}"' not in source and f"'{k}'" not in source]
    assert unused == []


def test_error_banner_plain_words() -> None:
    banner = common.ErrorBanner()
    banner.error(InvalidInput("The file is <bad>.", "ファイルが<不正>です。"))
    assert "ファイルが<不正>です。" in banner.text and "The file is <bad>." in banner.text
    assert "<不正>" not in banner.value  # escaped
    assert banner.kind == "error" and banner.code == "invalid_input"
    banner.clear()
    assert banner.text == ""


def test_confirm_outgoing_names_recipient_and_count() -> None:
    confirmed: list[bool] = []
    dialog = common.ConfirmOutgoing("collection_contractor", 12345, on_confirm=lambda: confirmed.append(True))
    shown = text(dialog.summary.value)
    assert "番号収集委託事業者" in shown and "12,345" in shown
    assert dialog.ok.disabled
    dialog.ok.click()
    assert not confirmed
    dialog.check.value = True
    assert not dialog.ok.disabled
    dialog.ok.click()
    assert confirmed == [True]


def test_progress_and_chart() -> None:
    progress = common.Progress()
    with progress.run(2_000) as step:
        step(1_000)
        assert progress.caption.value.endswith("1,000 / 2,000")
    assert progress.bar.value == progress.bar.max
    svg = common.bar_chart_svg([("登録", 1500), ("差戻し", 20)], title="内訳")
    assert svg.startswith("<svg") and "1,500" in svg and "差戻し" in svg


# --------------------------------------------------------------------------- the dashboard

EXPECTED_MENUS = {
    "administrator": {"admin", "access", "idreview", "records"},
    "approver": {"approvals"},
    "registrar": {"registration", "person", "review", "runs", "deletion", "stats", "handover"},  # publishes statistics (issue 21)
    "query_operator": {"person", "batches", "runs", "backup", "handover"},
    "reviewer": {"person", "review", "disclosure", "inquiry"},
    "auditor": {"audit", "runs", "evidence"},
    "analyst": {"stats"},
    "operations": {"backup", "keys", "runs"},
}


@pytest.mark.parametrize("role", sorted(EXPECTED_MENUS))
def test_menu_shows_only_permitted_apps(world: StaffedWorkspace, role: str) -> None:
    gate = Dashboard(world.login(role), idle_check_seconds=None)
    assert gate.model.screen == "menu", gate.banner.text
    assert set(gate.menu_buttons) == EXPECTED_MENUS[role]
    assert gate.menu_screen in gate.children and gate.ended_box not in gate.children
    assert role in text(gate.who.value)
    assert "href='/logout'" in gate.logout_link.value  # the server ends the session
    for key, button in gate.menu_buttons.items():
        button.click()
        assert gate.model.current_app == key and gate.app is not None
        assert gate.app_area.children == (gate.app,)
        assert gate.app.banner.kind != "error", gate.app.banner.text
    assert gate.open_app("admin") is None or role == "administrator"  # not on the menu: not opened


def test_gate_has_no_login_form_of_its_own(world: StaffedWorkspace) -> None:
    """The web server logs people in; a kernel without a session shows only the way back."""
    gate = Dashboard(None, idle_check_seconds=None)
    assert gate.model.screen == "ended" and gate.session is None
    assert not [d for d in descendants(gate) if isinstance(d, (w.Password, w.Text))]
    assert "href='/login'" in gate.ended_box.value and "ログインしてください" in text(gate.ended_box.value)


def test_from_server_without_a_ticket_shows_the_way_back(world: StaffedWorkspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKBENCH_KERNEL_TICKET", raising=False)
    monkeypatch.setenv("WORKBENCH_WORKSPACE", str(world.ws.path))
    gate = Dashboard.from_server()
    assert gate.session is None and gate.model.screen == "ended"
    assert "ログイン画面から開かれていません" in text(gate.ended_box.value)


def test_session_expired_clears_the_screen(world: StaffedWorkspace, people: dict[str, Any]) -> None:
    gate = Dashboard(world.login("reviewer"), idle_check_seconds=None)
    app = gate.open_app("person")
    assert isinstance(app, PersonApp)
    world.clock.advance(16 * 60)  # idle timeout is 15 minutes
    app.person_id.value = people["with_number"]
    app.search_button.click()
    assert gate.model.screen == "ended" and gate.session is None and gate.app is None
    assert "操作がなかったため" in text(gate.ended_box.value)
    assert gate.app_area.children == () and app.comm is None  # the app's widgets are closed
    found = audit_log.search(world.login("auditor"), operation="auth.idle_timeout")
    assert len(found) == 1


def test_idle_timer_clears_the_screen_without_a_click(world: StaffedWorkspace, people: dict[str, Any]) -> None:
    """Names on screen do not wait for the next click: the kernel's timer ends the view."""
    import time

    gate = Dashboard(world.login("reviewer"), idle_check_seconds=0.05)
    app = gate.open_app("person")
    assert isinstance(app, PersonApp)
    app.person_id.value = people["with_number"]
    app.search_button.click()
    assert "table" in "".join(getattr(d, "value", "") for d in descendants(app) if isinstance(d, w.HTML))
    world.clock.advance(16 * 60)
    deadline = time.monotonic() + 5
    while gate.model.screen != "ended" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert gate.model.screen == "ended" and gate.app is None and app.comm is None


def test_unexpected_error_shows_only_a_reference(world: StaffedWorkspace) -> None:
    gate = Dashboard(world.login("auditor"), idle_check_seconds=None)
    gate.banner.reference("E-1234ABCD")
    assert "E-1234ABCD" in gate.banner.text and "Traceback" not in gate.banner.value


# --------------------------------------------------------------------------- admin and approvals


def test_admin_adds_user_and_shows_qr_once(world: StaffedWorkspace) -> None:
    app = AdminApp(world.login("administrator"))
    assert "administrator" in text(app.users_table.value)
    app.new_id.value = "tanaka.k"
    app.new_name.value = "田中"
    app.new_password.value = "Kawasaki-Pass-77"
    app.add_button.click()
    assert app.banner.kind == "success", app.banner.text
    assert "<svg" in app.qr.value and "認証アプリ" in text(app.qr.value)
    assert app.new_password.value == ""
    assert "tanaka.k" in text(app.users_table.value)
    app.qr_done.click()
    assert app.qr.value == "" and app.model.enrolment_uri == ""


def test_admin_bad_password_is_refused_in_plain_words(world: StaffedWorkspace) -> None:
    app = AdminApp(world.login("administrator"))
    app.new_id.value, app.new_password.value = "short", "abc"
    app.add_button.click()
    assert app.banner.kind == "error" and "パスワードが要件を満たしていません" in app.banner.text
    assert app.qr.value == ""


def test_role_grant_needs_approver(world: StaffedWorkspace) -> None:
    admin = AdminApp(world.login("administrator"))
    admin.user_pick.value = "analyst"
    admin.role_pick.value = "reviewer"
    admin.request_button.click()
    approval_id = admin.approval_id.value
    assert approval_id.startswith("A"), admin.banner.text
    admin.grant_button.click()  # not approved yet
    assert admin.banner.kind == "error" and "承認" in admin.banner.text

    queue = ApprovalsApp(world.login("approver"))
    assert "1 件" in text(queue.count.value)
    shown = text(queue.rows.children[0].children[0].value)
    assert approval_id in shown and "役割の付与" in shown and "審査担当" in shown and "analyst" in shown
    approve, _reject = queue.buttons[approval_id]
    approve.click()
    assert queue.banner.kind == "success" and queue.model.decided[approval_id] == "approved"
    assert "0 件" in text(queue.count.value)

    admin = AdminApp(world.login("administrator"))
    admin.user_pick.value, admin.role_pick.value, admin.approval_id.value = "analyst", "reviewer", approval_id
    admin.grant_button.click()
    assert admin.banner.kind == "success", admin.banner.text
    assert "審査担当" in text(admin.users_table.value)


def test_approver_rejects(world: StaffedWorkspace) -> None:
    users.request_grant(world.login("administrator"), "analyst", "auditor")
    queue = ApprovalsApp(world.login("approver"))
    (approval_id,) = queue.buttons
    queue.buttons[approval_id][1].click()  # 却下 waits for a reason (issue 20 item 6)
    assert approval_id not in queue.model.decided
    queue.reasons[approval_id].value = "監査の役割は兼務できません"
    queue.buttons[approval_id][1].click()
    assert queue.model.decided[approval_id] == "rejected"


def test_admin_disable_and_review(world: StaffedWorkspace) -> None:
    app = AdminApp(world.login("administrator"))
    app.user_pick.value = "analyst"
    app.disable_button.click()  # needs the tick first
    assert "analyst" not in app.banner.text
    app.disable_check.value = True
    app.disable_button.click()
    assert app.banner.kind == "success" and "無効化しました" in app.banner.text
    app.review_button.click()
    assert "有効なID" in text(app.review_html.value)
    assert not hasattr(app, "review_confirm")  # recorded only through the signed-off review (issue 18 item 5)


# --------------------------------------------------------------------------- audit


def test_auditor_verify_shows_ok(world: StaffedWorkspace) -> None:
    app = AuditApp(world.login("auditor"))
    app.verify_button.click()
    shown = text(app.verify_result.value)
    assert "正常" in shown and "改ざんは検出されませんでした" in shown


def test_audit_search_chart_and_alerts(world: StaffedWorkspace) -> None:
    world.clock.set(dt.datetime(2026, 6, 6, 22, 30, tzinfo=JST))  # a Saturday night
    world.login("registrar")
    world.clock.set(dt.datetime(2026, 6, 8, 10, 0, tzinfo=JST))  # Monday morning
    app = AuditApp(world.login("auditor"))
    app.since.value = dt.date(2026, 5, 1)
    app.until.value = dt.date(2026, 6, 8)
    app.operation.value = "auth.*"
    app.search_button.click()
    assert app.banner.kind == "", app.banner.text
    assert "<svg" in app.chart.value and "records per day" in app.chart.value
    assert "時間外" not in text(app.alerts.value)  # the office has set no hours: every hour is open
    shown = text(app.table.value)
    assert "ログイン" in shown and "auth.login" not in shown
    assert "registrar" in shown and "auditor" in shown  # user IDs, not pseudonyms, for the auditor
    app.operation.value = "ログイン"  # the filter takes Japanese words
    app.search_button.click()
    assert "該当 / matching: 2 件" in text(app.summary.value), text(app.summary.value)
    app.by_user.value = "registrar"
    app.operation.value = ""
    app.search_button.click()
    assert "該当 / matching: 1 件" in text(app.summary.value)
    app.ledger_button.click()
    assert "該当するものはありません" in text(app.ledger_table.value)
    # the alert reads the office's set hours (one source, C13) in force when each record was made
    # (issue 20 item 9): setting them leaves the Saturday login before them ordinary, and a login
    # on the next Saturday night is late
    app.by_user.value, app.operation.value = "", "auth.*"
    access.set_hours(world.login("administrator"), parse_hours(["mon-fri=08:30-18:00", "sat-sun=closed"]))
    app.search_button.click()
    assert "時間外" not in text(app.alerts.value), text(app.alerts.value)
    world.clock.set(dt.datetime(2026, 6, 13, 22, 30, tzinfo=JST))
    with pytest.raises(AccessRefused):
        world.login("registrar")  # refused, and recorded
    world.clock.set(dt.datetime(2026, 6, 15, 10, 0, tzinfo=JST))
    app = AuditApp(world.login("auditor"))  # a new day, a new login
    app.since.value, app.until.value, app.operation.value = dt.date(2026, 5, 1), dt.date(2026, 6, 15), "auth.*"
    app.search_button.click()
    assert "時間外・休日の操作 / out of hours: 1 件" in text(app.alerts.value), text(app.alerts.value)
    assert "時間外" in text(app.table.value)


def test_alert_rules() -> None:
    """The rules are workbench policy (data), not screen code; the hours are the office's set hours (C13)."""
    from workbench.core.access_rules import parse_hours
    from workbench.core.policy import POLICY, Policy, audit_alerts, is_bulk_export, is_out_of_hours

    assert POLICY.bulk_export_records == 1000
    office = {d: w for d, w in parse_hours(["mon-fri=08:00-20:00"]).items() if w is not None}
    weekday_day = {"logged_at": "2026-06-01T01:00:00.000000Z", "operation": "x", "params": "{}"}  # Mon 10:00 JST
    weekday_late = {**weekday_day, "logged_at": "2026-06-01T11:30:00.000000Z"}  # 20:30 JST
    early = {**weekday_day, "logged_at": "2026-05-31T22:59:00.000000Z"}  # Mon 07:59 JST
    saturday = {**weekday_day, "logged_at": "2026-06-06T01:00:00.000000Z"}  # Sat 10:00 JST
    assert not is_out_of_hours(weekday_day, office) and is_out_of_hours(weekday_late, office)
    assert is_out_of_hours(early, office) and is_out_of_hours(saturday, office)
    export = {**weekday_day, "operation": "collection.export", "params": '{"records": 5000}'}
    small = {**export, "params": '{"records": 10}'}
    assert is_bulk_export(export) and not is_bulk_export(small) and not is_bulk_export(weekday_day)
    assert audit_alerts([weekday_day, weekday_late, early, export, small], office) == {"out_of_hours": 2, "bulk_export": 1}
    shorter = {d: w for d, w in parse_hours(["mon-fri=09:00-17:00"]).items() if w is not None}  # other hours
    assert is_out_of_hours({**weekday_day, "logged_at": "2026-06-01T08:30:00Z"}, shorter)  # 17:30 JST
    assert not is_out_of_hours({**weekday_day, "logged_at": "2026-06-01T08:30:00Z"}, office)
    always = {d: w for d, w in parse_hours(["mon-sun=00:00-24:00"]).items() if w is not None}  # never set: all open
    assert audit_alerts([weekday_late, early, saturday], always)["out_of_hours"] == 0
    assert is_bulk_export(small, Policy(5, 100))


# --------------------------------------------------------------------------- one person


def test_reveal_button_absent_for_query_operator(world: StaffedWorkspace, people: dict[str, Any]) -> None:
    app = PersonApp(world.login("query_operator"))
    assert app.reveal_button is None
    assert not any("番号を表示" in b for b in buttons(app))
    app.person_id.value = people["with_number"]
    app.search_button.click()
    shown = text(app.number.value)
    assert people["number"] not in shown and people["number"][-4:] in shown and "*" in shown
    assert "令和" in text(app.details.value) or "平成" in text(app.details.value) or "昭和" in text(app.details.value)


def test_reveal_for_reviewer_is_audited(world: StaffedWorkspace, people: dict[str, Any]) -> None:
    app = PersonApp(world.login("reviewer"))
    assert app.reveal_button is not None and any("番号を表示" in b for b in buttons(app))
    app.person_id.value = people["with_number"]
    app.search_button.click()
    assert people["number"] not in text(app.number.value)
    app.reveal_button.click()
    assert people["number"] in text(app.number.value)
    assert "記録されています" in app.banner.text
    app.search_button.click()  # a new look-up hides it again
    assert people["number"] not in text(app.number.value)
    log = audit_log.search(world.login("auditor"), operation="persons.reveal_number", target=people["with_number"])
    assert [r["outcome"] for r in log] == ["ok"]
    assert people["number"] not in str(log)


def test_person_not_found_and_unregistered(world: StaffedWorkspace, people: dict[str, Any]) -> None:
    app = PersonApp(world.login("reviewer"))
    app.person_id.value = "P9999999"
    app.search_button.click()
    assert "該当する人がいません" in app.banner.text
    app.person_id.value = people["without_number"]
    app.search_button.click()
    assert "未登録" in text(app.number.value)
    assert app.reveal_button is not None and app.reveal_button.disabled


# --------------------------------------------------------------------------- registration


def test_registration_flow(world: StaffedWorkspace) -> None:
    population = generate_world(40, seed=11)
    app = RegistrationApp(world.login("registrar"))

    upload(app.target_upload, "targets.csv", housing.target_extract(population))
    assert app.target_confirm.disabled
    app.target_preview_button.click()
    assert app.banner.kind != "error", app.banner.text
    assert "未反映" in text(app.target_view.value) and "<svg" in app.target_view.value
    assert not app.target_confirm.disabled
    app.target_confirm.click()
    assert app.banner.kind == "success", app.banner.text
    assert "取込結果" in text(app.target_view.value) and app.target_confirm.disabled
    # nothing of the upload stays on the server: the copy on the medium is deleted and that recorded (C9)
    (medium,) = app.target_medium.children
    assert "媒体" in text(medium.note.value) and medium.button.disabled
    medium.check.value = True
    medium.button.click()
    assert medium.done and "記録しました" in text(medium.note.value)
    with world.ws.transaction("test.read", "test") as con:
        assert con.execute("SELECT count(*) FROM media_ledger WHERE kind = 'housing_targets' AND direction = 'in'"
                           " AND deleted_at IS NOT NULL").fetchone() == (1,)

    upload(app.reg_upload, "returns.csv", contractor.contractor_return(population, seed=3, error_rate=0.3))
    app.reg_preview_button.click()
    assert app.banner.kind != "error", app.banner.text
    preview = app.model.reg_preview.detail
    assert preview is not None and preview.preview
    assert "未登録" in text(app.reg_view.value) and "<svg" in app.chart.value
    returned = preview.outcomes.get("returned", 0)
    assert returned > 0
    (dialog,) = app.reg_confirm_area.children
    assert isinstance(dialog, common.ConfirmOutgoing)
    assert "番号収集委託事業者" in text(dialog.summary.value) and f"{returned:,}" in text(dialog.summary.value)
    dialog.check.value = True
    dialog.ok.click()
    assert app.banner.kind == "success", app.banner.text
    assert "登録結果" in text(app.reg_view.value)
    assert len(app.reg_medium.children) == 1  # the medium's copy to delete, as for the target list
    shown = text(app.return_view.value)
    assert "差戻リスト" in shown and "M" in shown and f"{returned:,}" in shown
    # the rows returned, by line and reason in Japanese, and how to hand the list over
    assert "差し戻す行" in shown and "受け渡し" in shown
    assert not re.search(r"\b(check_digit|identity_not_checked|unknown_person)\b", shown + app.chart.value)
    for number in population.persons["individual_number"].head(20):
        assert number not in app.reg_view.value + app.return_view.value + app.chart.value


def test_registration_reapplies_an_older_target_list_only_on_purpose(world: StaffedWorkspace) -> None:
    """Issue 10 item 14: an older list is named as older and applied again only when ticked."""
    from workbench.files import formats
    from workbench.intake import targets
    from workbench.simulate.housing import target_frame

    frame = target_frame(generate_world(30, seed=5), seed=1, date_format="%Y-%m-%d")
    old, new = formats.write_table(frame, "housing_targets"), formats.write_table(frame.iloc[3:], "housing_targets")
    s = world.login("registrar")
    targets.import_targets(s, old, file_name="april.csv")
    targets.import_targets(s, new, file_name="may.csv")
    app = RegistrationApp(world.login("registrar"))
    upload(app.target_upload, "april.csv", old)
    app.target_preview_button.click()
    assert "古い対象者リスト" in text(app.target_view.value) and "may.csv" in text(app.target_view.value)
    assert app.target_confirm.disabled
    app.target_reapply.value = True
    app.target_preview_button.click()
    assert app.model.target_preview.detail.relisted == 3 and not app.target_confirm.disabled
    app.target_confirm.click()
    assert app.banner.kind == "success", app.banner.text
    assert app.model.target_result.reapplied and app.model.target_result.relisted == 3


def test_registration_bad_file_is_refused_in_japanese(world: StaffedWorkspace) -> None:
    app = RegistrationApp(world.login("registrar"))
    upload(app.target_upload, "broken.csv", b"\xff\xfe nonsense,\r\n1,2\r\n")
    app.target_preview_button.click()
    assert app.banner.kind == "error"
    assert re.search(r"[ぁ-んァ-ン一-龥]", app.banner.text)
    assert app.target_confirm.disabled


def test_registration_needs_a_file(world: StaffedWorkspace) -> None:
    app = RegistrationApp(world.login("registrar"))
    app.reg_preview_button.click()
    assert "ファイルを選択してください" in app.banner.text


def test_collection_export_needs_approval_and_confirmation(world: StaffedWorkspace) -> None:
    population = generate_world(30, seed=12)
    app = RegistrationApp(world.login("registrar"))
    upload(app.target_upload, "targets.csv", housing.target_extract(population))
    app.target_preview_button.click()
    app.target_confirm.click()
    assert app.banner.kind == "success", app.banner.text

    flow = app.collection
    assert flow.request_button.disabled and flow.create_button.disabled  # nothing to click into yet
    flow.preview_button.click()
    preview = flow.model.preview
    assert preview is not None and preview.total == 30, app.banner.text
    assert "30" in text(app.collection_chart.value) and "<svg" in app.collection_chart.value
    assert "30 人の番号収集リスト" in text(flow.view.value)  # the plain-Japanese summary
    flow.request_button.click()
    approval_id = flow.approval_id.value
    assert approval_id.startswith("A"), app.banner.text

    queue = ApprovalsApp(world.login("approver"))
    shown = text(queue.rows.children[0].children[0].value)
    assert "番号収集リストの送付" in shown and "番号収集委託事業者" in shown and "30" in shown
    queue.buttons[approval_id][0].click()

    app = RegistrationApp(world.login("registrar"))
    flow = app.collection
    flow.approval_id.value = approval_id
    flow.create_button.click()
    (dialog,) = flow.confirm_area.children
    assert isinstance(dialog, common.ConfirmOutgoing) and dialog.count == 30
    assert "番号収集委託事業者" in text(dialog.summary.value)
    dialog.check.value = True
    dialog.ok.click()
    assert app.banner.kind == "success", app.banner.text
    (box,) = flow.package_area.children
    package = text(box.table.value)
    assert "送付用パッケージ" in package and approval_id in package and "30" in package
    ledger = AuditApp(world.login("auditor"))
    ledger.ledger_button.click()
    assert "番号収集リスト" in text(ledger.ledger_table.value)


# --------------------------------------------------------------------------- home screen


def test_home_screen_counts_waiting_work_and_opens_it(world: StaffedWorkspace) -> None:
    from widgets.home import HomeApp
    from workbench import pending

    users.request_grant(world.login("administrator"), "registrar", "reviewer")
    gate = Dashboard(world.login("approver"), idle_check_seconds=None)
    home = gate.app
    assert isinstance(home, HomeApp) and gate.model.current_app == "home"
    counts = {i.key: i.count for i in home.items}
    assert counts["approvals_waiting"] == 1 and "discrepancies_open" not in counts  # only what the roles permit
    assert "1 件" in text(home.cards.children[0].children[1].value)
    home.open_buttons["approvals_waiting"].click()
    assert gate.model.current_app == "approvals" and isinstance(gate.app, ApprovalsApp)
    assert gate.home_button is not None
    gate.home_button.click()
    assert gate.model.current_app == "home"
    # the requester sees their own request only once it is approved, and never as one to decide
    mine = {i.key: i.count for i in pending.pending_work(world.login("administrator"))}
    # (and, as the administrator who keeps the office's records, the open incidents: issue 23)
    assert mine == {"my_approved_requests": 0, "my_rejected_requests": 0, "incidents_open": 0}


def test_operations_and_auditors_see_their_own_waiting_work(world: StaffedWorkspace) -> None:
    """Issue 11 item 10: operations see stopped cycles and failed runs, auditors unacknowledged
    audit alarms — each with one click to the screen where it is dealt with."""
    from widgets.home import HomeApp
    from workbench import pending
    from workbench.cycles import pipeline_runs

    info, _folder = pipeline_runs.start(world.login("auditor"), "audit_check", {})
    pipeline_runs.finish(world.login("auditor"), info.run_id, succeeded=False, notebook=None)
    ops = {i.key: (i.count, i.app) for i in pending.pending_work(world.login("operations"))}
    assert ops["runs_failed"] == (1, "runs") and ops["cycles_stopped"] == (0, "runs")
    assert "audit_alarms" not in ops and "approvals_waiting" not in ops
    audit = {i.key: i.count for i in pending.pending_work(world.login("auditor"))}
    assert audit["audit_alarms"] == 0 and "runs_failed" not in audit
    gate = Dashboard(world.login("operations"), idle_check_seconds=None)
    home = gate.app
    assert isinstance(home, HomeApp)
    home.open_buttons["runs_failed"].click()
    assert gate.model.current_app == "runs"


def test_action_button_shows_it_is_working_and_cannot_start_twice() -> None:
    button = common.ActionButton(description="作成 / Make", icon="check")
    seen: list[tuple[str, str, bool]] = []

    def handler(b: w.Button) -> None:
        seen.append((b.description, b.icon, "wb-busy" in b._dom_classes))
        b.click()  # a second click while it works does nothing

    button.on_click(handler)
    button.click()
    assert seen == [("処理中… / Working…", "spinner", True)]
    assert button.description == "作成 / Make" and button.icon == "check" and "wb-busy" not in button._dom_classes
    button.disabled = True
    button.click()
    assert len(seen) == 1
