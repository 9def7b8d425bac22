"""Widget tests without a browser for the query and review screens: batches (⑧⑨, F2, F3),
the C7 review queue, integrated numbers (F1b) and 「受け渡し済み」 (C9)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.conftest import StaffedWorkspace
from tests.direct_load import load_world
from tests.query_helpers import Office, procedures_csv, scenario
from tests.test_widgets import descendants, text, upload
from widgets import common
from widgets.approvals import ApprovalsApp
from widgets.batches import BatchesApp, fiscal_year_label
from widgets.dashboard import Dashboard
from widgets.packages import DeliverControl, PackageBox
from widgets.registration import RegistrationApp
from widgets.review import ReviewApp
from workbench import pending
from workbench.core.errors import WorkbenchError
from workbench.core.numbers import generate_numbers
from workbench.files import formats, media
from workbench.intake import persons
from workbench.queries import batches
from workbench.simulate import generate_world, housing, integrated_numbers


@pytest.fixture
def office(world: StaffedWorkspace) -> Office:
    return scenario(world)


def approve_in_queue(world: StaffedWorkspace, approval_id: str) -> str:
    """The approver opens 承認待ち一覧 and approves; returns what the row showed."""
    queue = ApprovalsApp(world.login("approver"))
    row = next(r for r in queue.rows.children if approval_id in r.children[0].value)
    shown = text(row.children[0].value)
    queue.buttons[approval_id][0].click()
    assert queue.banner.kind == "success", queue.banner.text
    return shown


def _made(app: BatchesApp, what: str) -> Any:
    """The batch flow's preview or result as a click left it (read afresh, not as an earlier assert left it)."""
    value = getattr(app.batch.model, what)
    assert value is not None, app.banner.text
    return value


def all_html(widget: Any) -> str:
    return "".join(getattr(d, "value", "") for d in descendants(widget) if isinstance(getattr(d, "value", None), str))


# --------------------------------------------------------------------------- the menu


def test_menu_offers_the_new_screens_by_permission(world: StaffedWorkspace) -> None:
    gate = Dashboard(world.login("query_operator"), idle_check_seconds=None)
    assert {"batches", "person"} <= set(gate.menu_buttons) and "review" not in gate.menu_buttons
    app = gate.open_app("batches")
    assert isinstance(app, BatchesApp) and app.banner.kind != "error"
    gate = Dashboard(world.login("reviewer"), idle_check_seconds=None)
    assert "batches" not in gate.menu_buttons
    review = gate.open_app("review")
    assert isinstance(review, ReviewApp)
    assert review.review_grid not in descendants(review)  # the registrar's queue only
    assert review.discrepancy_box in descendants(review) and review.banner.kind != "error"
    assert "全 0 件" in review.disc_grid.text and review.model.discrepancies == []
    gate = Dashboard(world.login("registrar"), idle_check_seconds=None)
    review = gate.open_app("review")
    assert isinstance(review, ReviewApp)
    assert review.discrepancy_box not in descendants(review)  # the reviewer's queue only


# --------------------------------------------------------------------------- ⑧⑨ procedures


def test_procedure_import_refuses_a_wrong_file_with_lines_then_imports(world: StaffedWorkspace) -> None:
    pop = generate_world(30, seed=8)
    load_world(world.ws, pop.persons, pop.households, registered=np.ones(len(pop.persons), dtype=bool))
    a, b = pop.persons["person_id"].iloc[0], pop.persons["person_id"].iloc[1]
    app = BatchesApp(world.login("query_operator"))
    assert app.proc_import_button.disabled  # no file yet

    bad = procedures_csv([("R-1", "P9", "2026", "2026-05-01", a, a, "Y"),
                          ("R-2", "P1", "2026", "2026-05-01", b, b, "maybe")])
    upload(app.proc_upload, "procedures.csv", bad)
    assert not app.proc_import_button.disabled
    app.proc_import_button.click()
    assert app.banner.kind == "error" and "取り込みませんでした" in app.banner.text
    shown = text(app.proc_view.value)
    assert "誤りのある行" in shown and "手続コードが不明です" in shown and "情報照会同意が Y / N ではありません" in shown
    assert a not in app.proc_view.value and b not in app.proc_view.value

    good = procedures_csv([("R-1", "P1", "2026", "2026-05-01", a, a, "Y"),
                           ("R-2", "P2", "2026", "2026-05-01", b, b, "N")])
    upload(app.proc_upload, "procedures.csv", good)
    assert app.proc_view.value == ""  # a new file clears what was shown
    app.proc_import_button.click()
    assert app.banner.kind == "success", app.banner.text
    shown = text(app.proc_view.value)
    assert "取り込みました" in shown and "照会への同意あり" in shown and "<svg" in app.proc_view.value
    assert app.proc_import_button.disabled  # not twice by a double click


# --------------------------------------------------------------------------- F2 information queries


def test_fiscal_year_labels() -> None:
    assert fiscal_year_label(2026) == "2026年度（令和8年度）"
    assert fiscal_year_label(2019) == "2019年度（令和元年度）"
    assert fiscal_year_label(2018) == "2018年度（平成30年度）"


def test_info_batch_preview_approval_confirm_package_and_delivery(office: Office, world: StaffedWorkspace) -> None:
    app = BatchesApp(world.login("query_operator"))
    assert app.procedure.value == "P1" and app.fiscal_year.value == 2026  # today is 2026-06-01: FY2026
    assert "令和8年度" in app.fiscal_year.label
    assert set(app.info_checks) == {"resident_register", "local_tax", "public_assistance", "physical_disability",
                                    "mental_disability", "ai_no_techo"}
    assert app.batch.request_button.disabled and app.batch.create_button.disabled

    app.batch.preview_button.click()
    assert app.banner.kind != "error", app.banner.text
    p = app.batch.model.preview
    assert p is not None and p.total == 8 and p.persons == 3
    summary = text(app.summary.value)
    assert "照会する件数 / requests: 8 件" in summary and "3 人" in summary and "未作成" in summary
    table = text(app.table.value)
    for reason in ("情報照会への同意がありません", "個人番号の届出がありません", "団体内統合宛名番号が未取得です",
                   "本人が届出・申請した手続ではない"):
        assert reason in table
    assert "地方税関係情報" in table and "住民票関係情報" in table
    assert "照会への同意なし" in app.chart.value and "統合宛名番号が未取得" in app.chart.value
    assert "<svg" in app.chart.value
    screen = app.summary.value + app.table.value + app.chart.value
    for pid in office.who.values():
        assert pid not in screen
    assert not app.batch.request_button.disabled

    app.batch.request_button.click()
    approval_id = app.batch.approval_id.value
    assert approval_id.startswith("A") and app.banner.kind == "success", app.banner.text
    assert app.batch.request_button.disabled  # one request per preview
    assert approval_id in text(app.batch.approval_view.value)

    # Before approval the file cannot be made: the button is off and the state says why, beside it;
    # the service refuses it as well (nothing is written).
    assert app.batch.create_button.disabled and app.batch.model.approval_state == "pending"
    assert "承認待ち" in text(app.batch.approval_state_view.value)
    app.batch.create_button.click()
    assert app.batch.confirm_area.children == () and app.batch.model.result is None
    with pytest.raises(WorkbenchError):
        batches.create_info_batch(world.login("query_operator"), approval_id=approval_id, procedure="P1", fiscal_year=2026)

    shown = approve_in_queue(world, approval_id)
    assert "8" in shown

    app = BatchesApp(world.login("query_operator"))
    app.batch.approval_id.value = approval_id
    assert not app.batch.create_button.disabled
    app.batch.create_button.click()
    (dialog,) = app.batch.confirm_area.children
    assert isinstance(dialog, common.ConfirmOutgoing) and dialog.count == 8
    assert dialog.recipient == "linkage_server"
    shown = text(dialog.summary.value)
    assert "団体内統合宛名システム" in shown and "8" in shown and approval_id in shown and "P1" in shown
    assert dialog.ok.disabled
    dialog.check.value = True
    dialog.ok.click()
    assert app.banner.kind == "success", app.banner.text
    result = app.batch.model.result
    assert result is not None and result.record_count == 8 and result.ledger_entry.kind == "info_query"
    (box,) = app.batch.package_area.children
    assert isinstance(box, PackageBox)
    package = text(box.table.value)
    assert result.ledger_entry.entry_id in package and approval_id in package and result.extra["batch_id"] in package
    assert "団体内統合宛名システム" in package
    assert result.path.exists()

    # 「受け渡し済み」: only after the tick; the copy is deleted and the ledger says when.
    assert box.deliver is not None and box.deliver.deliver.disabled
    box.deliver.deliver.click()
    assert result.path.exists()
    box.deliver.check.value = True
    box.deliver.deliver.click()
    assert app.banner.kind == "success" or app.banner.kind == "", app.banner.text
    assert not result.path.exists()
    assert "受け渡し済み" in text(box.deliver.state.value) and box.deliver.deliver.disabled
    (entry,) = [e for e in media.ledger(world.login("auditor")) if e.entry_id == result.ledger_entry.entry_id]
    assert entry.deleted_at is not None


def test_changing_a_parameter_discards_the_preview(office: Office, world: StaffedWorkspace) -> None:
    app = BatchesApp(world.login("query_operator"))
    app.batch.preview_button.click()
    assert app.batch.model.preview is not None and not app.batch.request_button.disabled
    app.info_checks["local_tax"].value = False
    assert app.batch.model.preview is None and app.batch.request_button.disabled and app.table.value == ""
    app.batch.preview_button.click()
    assert _made(app, "preview").information == ["resident_register", "public_assistance", "physical_disability",
                                                 "mental_disability", "ai_no_techo"]
    app.fiscal_year.value = 2025
    assert app.batch.model.preview is None
    for box in app.info_checks.values():
        box.value = False
    assert app.batch.preview_button.disabled  # nothing to ask
    app.procedure.value = "P6"
    assert list(app.info_checks) == ["resident_register"] and not app.batch.preview_button.disabled


def test_empty_selection_cannot_be_requested(office: Office, world: StaffedWorkspace) -> None:
    app = BatchesApp(world.login("query_operator"))
    app.procedure.value = "P4"  # no filings
    app.batch.preview_button.click()
    assert app.batch.model.preview is not None and app.batch.model.preview.total == 0
    assert app.batch.request_button.disabled
    assert "承認の依頼はできません" in text(app.summary.value)
    assert "この手続・年度の届出はありません" in text(app.table.value) or "照会しない" in text(app.table.value)


def test_juki_batch_confirms_recipient_juki_net(office: Office, world: StaffedWorkspace) -> None:
    app = BatchesApp(world.login("query_operator"))
    app.kind.value = "juki"
    assert app.info_area.layout.display == "none"
    app.batch.preview_button.click()
    p = app.batch.model.preview
    assert p is not None and p.kind == "juki" and p.total > 0, app.banner.text
    assert "住基ネット本人確認情報" in text(app.table.value) and "住基ネット" in text(app.summary.value)
    app.batch.request_button.click()
    approval_id = app.batch.approval_id.value
    approve_in_queue(world, approval_id)
    app = BatchesApp(world.login("query_operator"))
    app.kind.value = "juki"
    app.batch.approval_id.value = approval_id
    app.batch.create_button.click()
    (dialog,) = app.batch.confirm_area.children
    assert dialog.recipient == "juki_net" and dialog.count == p.total
    dialog.cancel.click()
    assert app.batch.confirm_area.children == () and "取り消しました" in app.banner.text and app.batch.model.result is None
    app.batch.create_button.click()
    (dialog,) = app.batch.confirm_area.children
    dialog.check.value = True
    dialog.ok.click()
    assert app.banner.kind == "success", app.banner.text
    assert _made(app, "result").ledger_entry.recipient == "juki_net"
    numbers = office.pop.persons["individual_number"].tolist()
    shown = all_html(app)
    assert not any(n in shown for n in numbers)


def test_batch_screen_refuses_other_roles_in_plain_words(office: Office, world: StaffedWorkspace) -> None:
    app = BatchesApp(world.login("registrar"))  # not on the registrar's menu; the service refuses too
    app.batch.preview_button.click()
    assert app.banner.kind == "error" and re.search(r"[ぁ-んァ-ン一-龥]", app.banner.text)


# --------------------------------------------------------------------------- C7 registration review


@pytest.fixture
def reviewed(world: StaffedWorkspace) -> dict[str, Any]:
    pop = generate_world(12, seed=6)
    load_world(world.ws, pop.persons, pop.households, registered=np.ones(len(pop.persons), dtype=bool))
    rows = pop.persons.head(2)
    fresh = [str(x) for x in generate_numbers(2, np.random.default_rng(42))]
    frame = pd.DataFrame({"person_id": rows["person_id"].tolist(), "individual_number": fresh,
                          "identity_checked": "1", "collected_on": "2026-05-01"})
    app = RegistrationApp(world.login("registrar"))
    upload(app.reg_upload, "second.csv", formats.write_table(frame, "contractor_return", encoding="utf-8"))
    app.reg_preview_button.click()
    assert app.model.reg_preview.detail.outcomes.get("review") == 2, app.banner.text
    (ok,) = app.reg_confirm_area.children
    ok.click()
    assert app.banner.kind == "success", app.banner.text
    return {"ids": rows["person_id"].tolist(), "held": rows["individual_number"].tolist(), "new": fresh}


def test_review_queue_masked_confirm_then_accept_or_reject(world: StaffedWorkspace, reviewed: dict[str, Any]) -> None:
    app = ReviewApp(world.login("registrar"))
    assert len(app.model.reviews) == 2 and "2 件" in text(app.review_count.value)
    assert "全 2 件" in app.review_grid.text
    assert app.accept_button.disabled and app.reject_button.disabled  # nothing chosen, nothing to act on
    screen = all_html(app) + app.review_grid.text
    for n in reviewed["held"] + reviewed["new"]:
        assert n not in screen
        assert "********" + n[-4:] in screen
    first, second = app.model.reviews
    app.review_grid.select(first.review_id)  # as a click on its row
    assert first.review_id in text(app.review_current.value) and not app.accept_button.disabled
    app.accept_button.click()  # first click only shows what will happen
    assert app.model.pending == (first.review_id, True) and len(app.model.reviews) == 2
    confirm = text(app.review_confirm.children[0].value)
    assert "置き換えます" in confirm and first.person_id in confirm
    cancel = app.review_confirm.children[1].children[1]
    cancel.click()
    assert app.model.pending is None and app.review_confirm.children == ()

    app.accept_button.click()
    app.review_confirm.children[1].children[0].click()
    assert app.review_result.kind == "success", app.review_result.text
    assert [r.review_id for r in app.model.reviews] == [second.review_id]
    # the decided row left the list and the selection did not move to the next person by itself
    assert app.review_grid.model.selected == "" and app.accept_button.disabled
    s = world.login("registrar")
    i = reviewed["ids"].index(first.person_id)
    assert persons.reveal_number(s, first.person_id) == reviewed["new"][i]

    app.review_grid.select(second.review_id)
    app.reject_button.click()
    assert "そのまま" in text(app.review_confirm.children[0].value)
    app.review_confirm.children[1].children[0].click()
    assert app.model.reviews == [] and "確認待ちはありません" in app.review_grid.text
    j = reviewed["ids"].index(second.person_id)
    assert persons.reveal_number(world.login("registrar"), second.person_id) == reviewed["held"][j]


def test_review_queue_pages_in_the_database(world: StaffedWorkspace, reviewed: dict[str, Any]) -> None:
    from workbench.core.errors import InvalidInput, PermissionDenied
    from workbench.core.paging import PageRequest
    from workbench.intake import registration

    s = world.login("registrar")
    page = registration.review_page(s, PageRequest(limit=1))
    assert page.total == 2 and len(page.rows) == 1 and page.groups["source"] == {"contractor": 2}
    second = registration.review_page(s, PageRequest(offset=1, limit=1))
    assert {page.rows[0].review_id, second.rows[0].review_id} == {r.review_id for r in registration.review_queue(s)}
    down = registration.review_page(s, PageRequest(sort="review_id", descending=True))
    assert [r.review_id for r in down.rows] == sorted((r.review_id for r in down.rows), reverse=True)
    one = registration.review_page(s, PageRequest(text=page.rows[0].person_id))
    assert [r.person_id for r in one.rows] == [page.rows[0].person_id]
    assert registration.review_page(s, PageRequest(text="%")).total == 0  # literal text, not a pattern
    with pytest.raises(InvalidInput):
        registration.review_page(s, PageRequest(sort="number_ct"))
    with pytest.raises(PermissionDenied):
        registration.review_page(world.login("reviewer"), PageRequest())


def test_review_queue_pages_from_the_cli(world: StaffedWorkspace, reviewed: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    import json

    def run(*argv: str) -> tuple[int, Any, str]:
        return world.cli(monkeypatch, capsys, "registrar", "review", "list", *argv)

    code, page, _ = run("--offset", "1", "--limit", "1")
    assert code == 0 and page["total"] == 2 and len(page["rows"]) == 1 and page["groups"]["source"] == {"contractor": 2}
    assert all(n not in json.dumps(page) for n in reviewed["held"] + reviewed["new"])  # masked, as on screen
    code, _, err = run("--sort", "number_ct")
    assert code != 0 and "並べ替え" in err and "Traceback" not in err


def test_review_opens_the_persons_page(world: StaffedWorkspace, reviewed: dict[str, Any]) -> None:
    app = ReviewApp(world.login("registrar"))
    item = app.model.reviews[0]
    app.review_grid.select(item.review_id)
    app.review_person_button.click()
    (page,) = app.person_area.children
    assert item.person_id in text(page.details.value)
    assert "*" in text(page.number.value)


def test_review_decided_elsewhere_is_refused_in_plain_words(world: StaffedWorkspace, reviewed: dict[str, Any]) -> None:
    app = ReviewApp(world.login("registrar"))
    item = app.model.reviews[0]
    other = ReviewApp(world.login("registrar"))
    other.ask(item.review_id, accept=False)
    other.decide(item.review_id, accept=False)
    app.review_grid.select(item.review_id)
    app.accept_button.click()
    app.review_confirm.children[1].children[0].click()
    assert app.review_result.kind == "error" and "処理済み" in app.review_result.text  # beside the buttons


# --------------------------------------------------------------------------- F1b integrated numbers


def test_integrated_request_approval_confirm_package_and_answers(world: StaffedWorkspace, tmp_path: Path) -> None:
    pop = generate_world(20, seed=9)
    load_world(world.ws, pop.persons, pop.households, registered=np.ones(len(pop.persons), dtype=bool))
    app = RegistrationApp(world.login("registrar"))
    assert app.integrated.request_button.disabled and app.integrated.create_button.disabled
    app.integrated.preview_button.click()
    assert app.integrated.model.preview.count == 20, app.banner.text
    assert "20" in text(app.integrated.view.value)
    app.integrated.request_button.click()
    approval_id = app.integrated.approval_id.value
    assert approval_id.startswith("A") and app.integrated.request_button.disabled
    approve_in_queue(world, approval_id)

    app = RegistrationApp(world.login("registrar"))
    app.integrated.approval_id.value = approval_id
    app.integrated.create_button.click()
    (dialog,) = app.integrated.confirm_area.children
    assert isinstance(dialog, common.ConfirmOutgoing) and dialog.recipient == "linkage_server" and dialog.count == 20
    assert "個人番号が含まれます" in text(dialog.summary.value)
    dialog.check.value = True
    dialog.ok.click()
    assert app.banner.kind == "success", app.banner.text
    result = app.integrated.model.result
    (box,) = app.integrated.package_area.children
    assert result.ledger_entry.entry_id in text(box.table.value) and "20" in text(box.table.value)

    # The answers come back as a package from the linkage server.
    answer = integrated_numbers.answer_package(world.ws, result.path, tmp_path / "answer.wbpkg", seed=1, not_found=0.1)
    assert app.answer_import_button.disabled
    upload(app.answer_upload, "answer.wbpkg", answer.read_bytes())
    app.answer_import_button.click()
    assert app.banner.kind == "success", app.banner.text
    summary = app.model.integrated_import
    assert summary.stored + summary.not_found == 20 and summary.stored > 0
    shown = text(app.answer_view.value)
    assert "取得（保存）" in shown and f"{summary.stored}" in shown and "<svg" in app.answer_view.value
    assert not any(integrated_numbers.integrated_number_for(n) in app.answer_view.value for n in pop.persons["individual_number"])

    # A bare CSV is not accepted on this screen: only packages are verified and recorded.
    upload(app.answer_upload, "answer.csv", b"request_id,person_id,result_code,integrated_number\r\n")
    app.answer_import_button.click()
    assert "回答パッケージ（.wbpkg）を選択してください" in app.banner.text


def test_collection_package_can_be_marked_delivered(world: StaffedWorkspace) -> None:
    population = generate_world(10, seed=13)
    app = RegistrationApp(world.login("registrar"))
    upload(app.target_upload, "targets.csv", housing.target_extract(population))
    app.target_preview_button.click()
    app.target_confirm.click()
    app.collection.preview_button.click()
    app.collection.request_button.click()
    approval_id = app.collection.approval_id.value
    approve_in_queue(world, approval_id)
    app = RegistrationApp(world.login("registrar"))
    app.collection.approval_id.value = approval_id
    app.collection.create_button.click()
    dialog = app.collection.confirm_area.children[0]
    dialog.check.value = True
    dialog.ok.click()
    (box,) = app.collection.package_area.children
    control = box.deliver
    assert isinstance(control, DeliverControl) and control.deliver.disabled
    path = app.collection.model.result.path
    control.download.click()  # the encrypted package, to save onto the medium (audited)
    assert "download=" in control.link.value and "base64," in control.link.value
    assert path.read_bytes()[:16] == __import__("base64").b64decode(control.link.value.split("base64,")[1].split("'")[0])[:16]
    control.check.value = True
    control.deliver.click()
    assert not path.exists() and "受け渡し済み" in text(control.state.value)
    assert control.link.value == "" and control.download.disabled
    control.deliver.click()  # a second click does nothing
    assert app.banner.kind != "error", app.banner.text


# --------------------------------------------------------------------------- request status chart (F4/F5)


def test_batch_screen_charts_requests_by_status(office: Office, world: StaffedWorkspace, tmp_path: Path) -> None:
    from workbench.queries import results

    app = BatchesApp(world.login("query_operator"))
    assert app.status_view.value == ""  # nothing sent yet: no chart
    app.batch.preview_button.click()
    app.batch.request_button.click()
    approval_id = app.batch.approval_id.value
    approve_in_queue(world, approval_id)
    app = BatchesApp(world.login("query_operator"))
    app.batch.approval_id.value = approval_id
    app.batch.create_button.click()
    (dialog,) = app.batch.confirm_area.children
    dialog.check.value = True
    dialog.ok.click()
    assert app.banner.kind == "success", app.banner.text
    shown = text(app.status_view.value)
    assert "照会の状況" in shown and "回答待ち" in shown and "8" in shown and "<svg" in app.status_view.value
    assert app.status_view in descendants(app)

    from workbench.simulate import intermediate_server

    paths = intermediate_server.answer_package(world.ws, app.batch.model.result.path, office.pop, tmp_path, seed=2, error=0.3)
    results.import_info_results(world.login("query_operator"), paths[0])
    counts = results.request_status(world.login("query_operator"))
    app = BatchesApp(world.login("query_operator"))  # the chart is there on opening
    shown = text(app.status_view.value)
    assert "回答あり" in shown and str(counts["answered"]) in shown
    assert app.banner.kind != "error", app.banner.text
    assert not any(pid in app.status_view.value for pid in office.who.values())


# --------------------------------------------------------------------------- approval kinds


def test_every_approval_kind_has_a_japanese_name() -> None:
    from widgets.approvals import KIND_LABELS
    from workbench.controls import users
    from workbench.intake import collection, integrated
    from workbench.queries import batches, discrepancies, linkage_file

    used = {users.GRANT_KIND, collection.APPROVAL_KIND, integrated.APPROVAL_KIND, linkage_file.APPROVAL_KIND,
            discrepancies.NOTICE_APPROVAL_KIND, *batches.APPROVAL_KINDS.values()}
    assert used <= set(KIND_LABELS) and "integrated_export" not in KIND_LABELS
    for kind in used:
        ja, en = KIND_LABELS[kind]
        assert re.search(r"[ぁ-んァ-ン一-龥]", ja) and en and ja != kind
    # and the sources name no other kind
    src = "".join(p.read_text(encoding="utf-8") for p in Path(batches.__file__).parent.glob("*.py"))
    for literal in re.findall(r'approvals\.request\(unit, "([a-z_]+)"', src):
        assert literal in KIND_LABELS


# --------------------------------------------------------------------------- C7 query-result discrepancies


@pytest.fixture
def discrepant(world: StaffedWorkspace, tmp_path: Path) -> Office:
    from tests.results_helpers import busy_office, send_batch
    from workbench.queries import results
    from workbench.simulate import juki

    office = busy_office(world)
    result, _reqs = send_batch(world, "juki")
    later, _ = office.pop.evolve(seed=5, move_rate=0.1, rename_rate=0.05, death_rate=0.05)
    results.import_juki_results(world.login("query_operator"),
                                juki.answer_package(world.ws, result.path, later, tmp_path, seed=1)[0])
    return office


def test_discrepancy_queue_filters_fields_and_actions(world: StaffedWorkspace, discrepant: Office) -> None:
    from workbench.queries import discrepancies

    app = ReviewApp(world.login("reviewer"))
    assert app.banner.kind != "error", app.banner.text
    assert app.review_grid not in descendants(app)
    expected = discrepancies.list_discrepancies(world.login("reviewer"), status="open")
    assert expected and [d.discrepancy_id for d in app.model.discrepancies] == [d.discrepancy_id for d in expected][:50]
    table = app.disc_grid.text
    assert f"{len(expected):,} 件" in text(app.disc_count.value) and f"全 {len(expected):,} 件" in table
    for d in expected[:50]:
        assert d.discrepancy_id in table
    assert "転居" in table and "住所" in table and "未対応" in table and "<svg" in app.disc_chart.value
    numbers = discrepant.pop.persons["individual_number"].tolist()
    assert not any(n in all_html(app) for n in numbers)

    app.kind_filter.value = "moved"
    moved = app.model.discrepancies
    assert moved and all(d.kind == "moved" for d in moved)
    table = app.disc_grid.text
    assert "氏名変更" not in table and "住所" in table
    d = moved[0]
    assert str(d.held["address"]) in table
    app.kind_filter.value = ""
    app.status_filter.value = "resolved"
    assert app.model.discrepancies == [] and "全 0 件" in app.disc_grid.text
    assert app.notified_button.disabled and app.resolved_button.disabled

    app.status_filter.value = "open"
    assert app.disc_grid.model.selected == "" and app.notified_button.disabled  # nothing chosen until the reviewer chooses
    first = app.disc_grid.rows[0].discrepancy_id
    app.disc_grid.table.selected_rows = [0]  # a click on the first row
    assert app.disc_grid.model.selected == first and first in app.disc_current.value
    assert not app.notified_button.disabled and not app.resolved_button.disabled
    # the chosen row's person opens below the actions (the person page's own service)
    assert app.disc_person.children and app.disc_person.children[0].model.person.person_id == app.disc_grid.rows[0].person_id
    app.disc_note.value = "電話で連絡"
    app.notified_button.click()
    # the result is beside the buttons, and the selection did not move on to the next person
    assert app.disc_result.kind == "success" and "本人へ通知済み" in app.disc_result.text, app.disc_result.text
    assert app.banner.kind == ""
    assert first not in [x.discrepancy_id for x in app.model.discrepancies]  # no longer open
    assert app.disc_grid.model.selected == "" and app.notified_button.disabled and app.disc_grid.table.selected_rows == []
    app.status_filter.value = "person_notified"
    assert [x.discrepancy_id for x in app.model.discrepancies] == [first]
    table = app.disc_grid.text
    assert "電話で連絡" in table and "本人へ通知済み" in table and "reviewer" in table  # who acted, and when
    app.disc_grid.select(first)
    assert app.notified_button.disabled and not app.resolved_button.disabled  # notified once only
    app.resolved_button.click()
    assert app.disc_result.kind == "success" and "解決済み" in app.disc_result.text
    app.status_filter.value = "resolved"
    (done,) = app.model.discrepancies
    assert done.discrepancy_id == first and done.resolved_by == "reviewer" and done.note == "電話で連絡"
    assert "解決済み" in app.disc_grid.text

    # decided elsewhere: the service refuses in plain words
    app.status_filter.value = "open"
    other = app.disc_grid.rows[0].discrepancy_id
    app.disc_grid.select(other)
    discrepancies.resolve_discrepancy(world.login("reviewer"), other, action="resolved")
    app.notified_button.click()
    assert app.disc_result.kind == "error" and re.search(r"[ぁ-んァ-ン一-龥]", app.disc_result.text)


def test_notice_list_approval_confirm_and_package(world: StaffedWorkspace, discrepant: Office) -> None:
    from workbench.queries import discrepancies

    app = ReviewApp(world.login("reviewer"))
    assert app.notices.create_button.disabled
    open_now = discrepancies.list_discrepancies(world.login("reviewer"), status="open")
    persons = len({d.person_id for d in open_now})
    assert app.notices.request_button.disabled  # count first
    app.notices.preview_button.click()
    preview = app.notices.model.preview
    assert preview.persons == persons and preview.discrepancies == len(open_now)  # SQL counts, not a fetched list
    assert f"{persons} 人" in text(app.notices.view.value)
    app.notices.request_button.click()
    assert app.banner.kind == "success", app.banner.text
    approval_id = app.notices.approval_id.value
    assert approval_id.startswith("A") and approval_id in text(app.notices.approval_view.value)
    assert f"{persons} 件" in text(app.notices.approval_view.value)

    # before approval: the button is off and the state says why, beside it; nothing written
    assert app.notices.create_button.disabled and "承認待ち" in text(app.notices.approval_state_view.value)
    app.notices.create_button.click()
    assert app.notices.confirm_area.children == () and app.notices.model.result is None
    # once approved, 承認の状況を確認 on the same screen turns it on
    shown = approve_in_queue(world, approval_id)
    app.notices.check_button.click()
    assert app.notices.model.approval_state == "approved" and not app.notices.create_button.disabled

    assert "通知対象者リストの送付" in shown and "都住システム" in shown and str(persons) in shown

    app = ReviewApp(world.login("reviewer"))
    app.notices.approval_id.value = approval_id
    assert not app.notices.create_button.disabled
    app.notices.create_button.click()
    (dialog,) = app.notices.confirm_area.children
    assert isinstance(dialog, common.ConfirmOutgoing)
    assert dialog.recipient == "housing_system" and dialog.count == persons
    summary = text(dialog.summary.value)
    assert "都住システム" in summary and f"{persons} 件" in summary and approval_id in summary
    dialog.cancel.click()
    assert app.notices.confirm_area.children == () and "取り消しました" in app.banner.text
    app.notices.create_button.click()
    (dialog,) = app.notices.confirm_area.children
    assert dialog.ok.disabled
    dialog.check.value = True
    dialog.ok.click()
    assert app.banner.kind == "success", app.banner.text
    result = app.notices.model.result
    assert result is not None and result.record_count == persons and result.ledger_entry.recipient == "housing_system"
    (box,) = app.notices.package_area.children
    assert isinstance(box, PackageBox) and box.deliver is None  # the reviewer does not hand over media
    package = text(box.table.value)
    assert result.ledger_entry.entry_id in package and approval_id in package and "都住システム" in package
    assert app.model.discrepancies == []  # everyone on the list is now notified
    assert app.notices.approval_id.value == "" and app.notices.create_button.disabled


# --------------------------------------------------------------------------- F6 linkage file


def test_linkage_file_preview_approval_confirm_and_package(world: StaffedWorkspace, discrepant: Office) -> None:
    from workbench.queries import linkage_file

    app = BatchesApp(world.login("query_operator"))
    assert app.linkage_box in descendants(app)
    assert (app.lk_procedure.value, app.lk_year.value) == ("P1", 2026)
    assert app.linkage.request_button.disabled and app.linkage.create_button.disabled
    app.linkage.preview_button.click()
    p = app.linkage.model.preview
    expected = linkage_file.preview_linkage(world.login("query_operator"), procedure="P1", fiscal_year=2026)
    assert p is not None and p.total == expected.total > 0, app.banner.text
    summary = text(app.lk_summary.value)
    assert f"{p.total} 件" in summary and "住基ネット本人確認情報" in summary and "未対応の相違あり" in summary
    assert "<svg" in app.lk_summary.value
    numbers = discrepant.pop.persons["individual_number"].tolist()
    assert not any(pid in app.lk_summary.value for pid in discrepant.pop.persons["person_id"])
    assert not app.linkage.request_button.disabled

    app.linkage.request_button.click()
    approval_id = app.linkage.approval_id.value
    assert approval_id.startswith("A") and app.banner.kind == "success" and app.linkage.request_button.disabled
    app.lk_year.value = 2025  # a change throws the preview away
    assert app.linkage.model.preview is None and app.lk_summary.value == ""
    shown = approve_in_queue(world, approval_id)
    assert "都住システム連携ファイル" in shown and str(p.total) in shown

    app = BatchesApp(world.login("query_operator"))
    app.linkage.approval_id.value = approval_id
    app.linkage.create_button.click()
    (dialog,) = app.linkage.confirm_area.children
    assert isinstance(dialog, common.ConfirmOutgoing)
    assert dialog.recipient == "housing_system" and dialog.count == p.total
    assert "都住システム" in text(dialog.summary.value) and approval_id in text(dialog.summary.value)
    dialog.cancel.click()
    assert app.linkage.confirm_area.children == () and app.linkage.model.result is None
    app.linkage.create_button.click()
    (dialog,) = app.linkage.confirm_area.children
    dialog.check.value = True
    dialog.ok.click()
    assert app.banner.kind == "success", app.banner.text
    result = app.linkage.model.result
    assert result is not None and result.record_count == p.total and result.ledger_entry.kind == "linkage_file"
    (box,) = app.linkage.package_area.children
    assert isinstance(box, PackageBox) and result.ledger_entry.entry_id in text(box.table.value)
    assert box.deliver is not None  # the query operator hands the media over
    assert not any(n in all_html(app) for n in numbers)

    app.linkage.preview_button.click()  # everything went out
    assert app.linkage.model.preview.total == 0 and app.linkage.request_button.disabled
    assert "承認の依頼はできません" in text(app.linkage.view.value)


def test_linkage_section_only_with_its_permission(office: Office, world: StaffedWorkspace) -> None:
    app = BatchesApp(world.login("registrar"))
    assert app.linkage_box not in descendants(app)


def test_review_with_the_documents_reveal_both_and_hold(world: StaffedWorkspace, reviewed: dict[str, Any]) -> None:
    """Issue 20 item 11: the registrar may show both numbers of a review (each reveal audited with its
    reason), and 保留 exists besides accept/reject, shown in the queue and set back."""
    from workbench.core.errors import InvalidInput, PermissionDenied
    from workbench.intake import registration

    app = ReviewApp(world.login("registrar"))
    first, second = app.model.reviews
    app.review_grid.select(first.review_id)
    assert app.reveal_button.disabled  # no reason chosen: nothing to show
    app.reveal_button.click()
    assert app.review_numbers.value == ""
    app.reveal_reason.value = "id_documents"
    assert not app.reveal_button.disabled
    app.reveal_button.click()
    assert app.review_result.kind != "error", app.review_result.text
    i = reviewed["ids"].index(first.person_id)
    shown = text(app.review_numbers.value)
    assert reviewed["held"][i] in shown and reviewed["new"][i] in shown and "本人確認書類" in shown
    app.review_grid.select(second.review_id)  # another row: the numbers go at once
    assert app.review_numbers.value == "" and app.revealed_review is None
    app.review_grid.select(first.review_id)
    app.reveal_button.click()
    app.hide_button.click()
    assert app.review_numbers.value == ""
    with world.ws.transaction("test.read", "test", writes=False) as con:
        reveals = con.execute("SELECT params, outcome FROM audit_log WHERE operation = 'registration.reveal_review_numbers'"
                              " ORDER BY seq").fetchall()
    assert len(reveals) == 2 and all(o == "ok" and '"id_documents"' in p for p, o in reveals)
    assert not any(n in str(reveals) for n in reviewed["held"] + reviewed["new"])  # the numbers never in the log

    # refused: no reason, a made-up reason, a person without the right, a decided or unknown review
    s = world.login("registrar")
    for reason in ("", "because", None):
        with pytest.raises(InvalidInput) as err:
            registration.reveal_review_numbers(s, first.review_id, reason=reason)  # type: ignore[arg-type]
        assert err.value.reason == "reason_required" and "理由" in err.value.message_ja
    with pytest.raises(PermissionDenied):
        registration.reveal_review_numbers(world.login("reviewer"), first.review_id, reason="id_documents")
    with pytest.raises(PermissionDenied):
        registration.hold_review(world.login("reviewer"), first.review_id)
    with pytest.raises(Exception) as missing:
        registration.reveal_review_numbers(s, "R-NOPE", reason="id_documents")
    assert "R-NOPE" in str(missing.value)

    # 保留: stays in the queue as 保留, the same button sets it back
    app.hold_button.click()
    assert app.review_result.kind == "success", app.review_result.text
    assert len(app.model.reviews) == 2 and "保留" in app.review_grid.text
    inbox = pending.inbox(s)  # held work is still waiting work: counted and named on the home screen
    assert first.review_id in {item.ref for item in inbox.items_of("registration_reviews")}
    app.review_grid.select(first.review_id)
    assert app.hold_button.description.startswith("保留を解除")
    with pytest.raises(InvalidInput) as twice:
        registration.hold_review(s, first.review_id)  # already held
    assert twice.value.reason == "wrong_status"
    app.hold_button.click()
    assert app.review_result.kind == "success" and "確認待ち" in app.review_result.text
    app.review_grid.select(first.review_id)
    assert app.hold_button.description.startswith("保留 /") and "保留" not in app.review_grid.text.split("\n", 1)[1]
    # a held review may still be decided
    registration.hold_review(s, second.review_id)
    registration.resolve_review(s, second.review_id, accept=False)
    with pytest.raises(InvalidInput) as decided:
        registration.reveal_review_numbers(s, second.review_id, reason="id_documents")
    assert decided.value.reason == "already_decided"
