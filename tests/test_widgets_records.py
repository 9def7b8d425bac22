"""Issue 23's screens: 組織の記録 (administrator) and 運用状況報告 (auditor), without a browser."""

from __future__ import annotations

import datetime as dt

from widgets.login import LoginGate

from tests.conftest import StaffedWorkspace
from widgets.home import HomeApp
from widgets.records import EvidenceApp, RecordsApp
from workbench.controls import records


def test_records_screen_records_and_refuses(world: StaffedWorkspace) -> None:
    app = RecordsApp(world.login("administrator"))
    app.t_title.value = "番号制度研修"
    app.t_attendees.value = "registrar reviewer"
    app.t_date.value = dt.date(2026, 5, 20)
    app.record_training()
    assert app.banner.kind == "success", app.banner.text
    assert "registrar" in app.t_html.value and "令和8年5月20日" in app.t_html.value
    app.t_title.value = "研修"
    app.t_attendees.value = "nobody"
    app.record_training()
    assert app.banner.kind == "error" and "ユーザーID" in app.banner.text  # a clear reason, in Japanese
    app.n_summary.value = "封筒の誤送付"
    app.n_persons.value = 2
    app.n_known.value = "2026-05-25T09:00"
    app.record_incident()
    assert app.banner.kind == "success" and "速報期限 令和8年5月30日" in app.banner.text
    assert "期限" in app.n_html.value
    app.k_batch.value = "K-9"
    app.k_direction.value = "returned"
    app.record_kits()
    assert app.banner.kind == "error"  # nothing was handed out
    # reachable from the home screen: the open incident is a card that opens this screen
    opened: list[str] = []
    home = HomeApp(world.login("administrator"), open_app=opened.append, available=frozenset({"records"}))
    home.open_buttons["incidents_open"].click()
    assert opened == ["records"]


def test_evidence_screen_summary_first(world: StaffedWorkspace) -> None:
    records.record_training(world.login("administrator"), held_on="2026-05-20", title="研修", topic="security",
                            minutes=30, attendees=["registrar"])
    app = EvidenceApp(world.login("auditor"))
    app.month.value = "2026-06"
    app.show()
    assert app.banner.kind != "error", app.banner.text
    assert "概要（令和8年6月）" in app.summary.value and "対応すること" in app.summary.value
    assert "C13 " in app.details.value and "F0 " in app.details.value
    app.files()
    assert "evidence-2026-06.pdf" in app.downloads.value and "data:application/pdf;base64," in app.downloads.value


def test_the_menu_opens_both_screens(world: StaffedWorkspace) -> None:
    gate = LoginGate(world.login("auditor"), idle_check_seconds=None)
    gate.menu_buttons["evidence"].click()
    assert isinstance(gate.app, EvidenceApp)
    gate = LoginGate(world.login("administrator"), idle_check_seconds=None)
    gate.menu_buttons["records"].click()
    assert isinstance(gate.app, RecordsApp)
