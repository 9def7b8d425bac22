"""Issue 23: the monthly evidence report and the office's own records.

Every promise of REQUIREMENTS.md has a section; promises broken on purpose (a log-in out of the set
hours, an expired approval used, a missed reporting deadline, a self-approval) are exceptions; the
records refuse the wrong role and garbage; the report exports as HTML, PDF and xlsx."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, LiveWorld, StaffedWorkspace
from workbench.controls import access, evidence, records, users
from workbench.core import approvals
from workbench.core.access_rules import parse_hours
from workbench.core.clock import JST
from workbench.core.errors import AccessRefused, ApprovalError, InvalidInput, NotFound, PermissionDenied

ROOT = Path(__file__).resolve().parent.parent


def _requirements() -> str:
    for path in (ROOT / "docs" / "REQUIREMENTS.md", *(p / "shared" / "REQUIREMENTS.md" for p in ROOT.parents)):
        if path.exists():
            return path.read_text("utf-8")
    pytest.fail("REQUIREMENTS.md not found in docs/ or in a shared/ folder above the repository")


def test_every_promise_of_the_requirements_has_a_section() -> None:
    text = _requirements()
    ids = set(re.findall(r"^\| (F\d+b?|C\d+) \|", text, re.M)) | set(re.findall(r"^- (U\d+) ", text, re.M))
    assert {"F0", "F0b", "F1b", "F10", "U1", "U5", "C1", "C14"} <= ids and len(ids) == 32
    assert ids <= set(evidence.PROMISES), sorted(ids - set(evidence.PROMISES))
    assert set(evidence.PROMISES) == set(evidence.PROBES)
    for promise in evidence.PROMISES.values():
        assert promise.title_ja and promise.where and promise.sources_ja


def _month_of(world: StaffedWorkspace) -> str:
    return world.clock.now().astimezone(JST).strftime("%Y-%m")


def test_a_quiet_month_reads_no_evidence_and_names_what_to_do(world: StaffedWorkspace) -> None:
    report = evidence.monthly(world.login("auditor"), _month_of(world))
    by = {s.promise.promise_id: s for s in report.sections}
    assert len(by) == len(evidence.PROMISES)
    assert by["F2"].status == "no_evidence" and by["F7"].status == "no_evidence"
    assert by["C5"].status == "held"  # the logins of this test
    # nothing verified the log, nobody reviewed the IDs, no backup, nobody trained: each an exception with its owner
    for pid in ("C4", "C6", "C12", "O1"):
        assert by[pid].status == "exceptions", pid
    first_page = "\n".join(report.summary_lines())
    assert "対応が必要な事項は" in first_page and "令和8年6月" in first_page
    whom = {a["promise"]: a["who"] for a in report.actions()}
    assert whom["C4"] == "監査担当" and whom["C6"] == "システム管理者" and whom["C12"] == "運用担当"


def test_promises_broken_on_purpose_are_exceptions(world: StaffedWorkspace) -> None:
    # S6: a request whose approval expired is used anyway.
    world.clock.set(dt.datetime(2026, 6, 3, 10, 0, tzinfo=JST))
    request = users.request_grant(world.login("administrator"), "registrar", "reviewer")
    approvals.decide(world.login("approver"), request.approval_id, approve=True)
    world.clock.set(request.expires_at + dt.timedelta(minutes=5))
    with pytest.raises(ApprovalError):
        users.grant(world.login("administrator"), "registrar", "reviewer", approval_id=request.approval_id)
    # O4: an incident known on 6 June, with no preliminary report by the 11th.
    admin = world.login("administrator")
    incident = records.record_incident(admin, kind="wrong_recipient", summary="通知書1通を別の世帯へ誤送付", persons=1,
                                       discovered_at=dt.datetime(2026, 6, 6, 9, 0, tzinfo=JST))
    assert incident["preliminary_due"] == dt.date(2026, 6, 11) and incident["final_due"] == dt.date(2026, 7, 6)
    # C13: the office opens 08:30-18:00 on weekdays; someone tries at night.
    access.set_hours(admin, parse_hours(["mon-fri=08:30-18:00", "sat-sun=closed"]), confirm_ending=True)
    world.clock.set(dt.datetime(2026, 6, 16, 22, 15, tzinfo=JST))
    with pytest.raises(AccessRefused):
        world.login("registrar")
    world.clock.set(dt.datetime(2026, 6, 22, 10, 0, tzinfo=JST))
    report = evidence.monthly(world.login("auditor"), "2026-06")
    by = {s.promise.promise_id: s for s in report.sections}
    assert by["C13"].status == "exceptions"
    assert any("22:15" in x and "registrar" in x and "利用時間外" in x for x in by["C13"].exceptions), by["C13"].exceptions
    assert by["S6"].status == "exceptions"
    assert any("期限切れの承認" in x and "administrator" in x for x in by["S6"].exceptions), by["S6"].exceptions
    assert by["O4"].status == "exceptions"
    assert any(incident["incident_id"] in x and "速報" in x for x in by["O4"].exceptions)
    assert any(a["promise"] == "O4" for a in report.actions())
    # a late report stays an exception; an on-time final report does not add one
    records.add_incident_event(world.login("administrator"), incident["incident_id"], event="preliminary_report",
                               at=dt.datetime(2026, 6, 12, 9, 0, tzinfo=JST))
    again = records.incidents(world.login("administrator"))[0]
    assert again["preliminary"] == "late" and again["final"] == "due"


def test_the_final_report_of_unauthorised_access_has_60_days(world: StaffedWorkspace) -> None:
    admin = world.login("administrator")
    known = dt.datetime(2026, 5, 31, 23, 0, tzinfo=JST)
    out = records.record_incident(admin, kind="unauthorised_access", summary="不正アクセスの疑い", persons=120,
                                  discovered_at=known)
    assert out["unauthorised"] and out["final_due"] == dt.date(2026, 7, 30)
    assert records.deadlines(known, False)["final"] == dt.date(2026, 6, 30)


def test_office_records_need_the_right_and_refuse_garbage(world: StaffedWorkspace) -> None:
    for role in ("auditor", "registrar", "approver", "analyst"):
        with pytest.raises(PermissionDenied):
            records.record_training(world.login(role), held_on="2026-05-20", title="研修", topic="security",
                                    minutes=60, attendees=["registrar"])
    with pytest.raises(PermissionDenied):
        evidence.monthly(world.login("administrator"), "2026-06")
    admin = world.login("administrator")
    bad: list[dict[str, object]] = [
        {"held_on": "2026-13-01"}, {"held_on": "2030-01-01"}, {"title": ""}, {"title": "x\x00y"}, {"topic": "fun"},
        {"minutes": "-5"}, {"minutes": True}, {"attendees": []}, {"attendees": ["nobody"]},
    ]
    for change in bad:
        args: dict[str, object] = {"held_on": "2026-05-20", "title": "番号制度研修", "topic": "my_number_basics",
                                   "minutes": 90, "attendees": ["registrar", "reviewer"], **change}
        with pytest.raises(InvalidInput) as err:
            records.record_training(admin, **args)  # type: ignore[arg-type]
        assert err.value.message_ja and err.value.message_en, change
    done = records.record_training(admin, held_on="2026-05-20", title="番号制度研修", topic="my_number_basics",
                                   minutes=90, attendees=["registrar", "reviewer", "registrar"])
    assert done["attendees"] == 2
    staff = {s["user_id"]: s["last_trained"] for s in records.training(admin)["staff"]}
    assert staff["registrar"] == dt.date(2026, 5, 20) and staff["auditor"] is None
    with pytest.raises(InvalidInput):
        records.record_kits(admin, batch="K-1", direction="returned", kits=1, moved_on="2026-05-01")
    records.record_kits(admin, batch="K-1", direction="handed_out", kits=500, moved_on="2026-03-01")
    records.record_kits(admin, batch="K-1", direction="returned", kits=480, moved_on="2026-05-01")
    with pytest.raises(InvalidInput) as err:
        records.record_kits(admin, batch="K-1", direction="returned", kits=21, moved_on="2026-05-02")
    assert "20" in err.value.message_ja
    with pytest.raises(InvalidInput):
        records.record_kits(admin, batch="K 1;drop", direction="handed_out", kits=1, moved_on="2026-05-01")
    (kit,) = records.kit_reconciliation(admin)
    assert kit["outstanding"] == 20 and kit["overdue"]
    with pytest.raises(InvalidInput):
        records.record_inspection_item(admin, fiscal_year=2026, item="ids_reviewed", result="finding")  # no finding
    with pytest.raises(InvalidInput):
        records.record_inspection_item(admin, fiscal_year=2026, item="no_such_item", result="ok")
    with pytest.raises(NotFound):
        records.add_incident_event(admin, "I000", event="closed", at="2026-05-01T10:00")
    with pytest.raises(InvalidInput):
        records.record_incident(admin, kind="leak", summary="x", persons=1, discovered_at="2026-05-01T10:00",
                                occurred_at="2026-05-02T10:00")  # happened after it was known
    with pytest.raises(InvalidInput):
        evidence.monthly(world.login("auditor"), "2026-6")
    with pytest.raises(InvalidInput):
        evidence.monthly(world.login("auditor"), "2027-01")  # not begun
    report = evidence.monthly(world.login("auditor"), "2026-06")
    o3 = next(s for s in report.sections if s.promise.promise_id == "O3")
    assert o3.status == "exceptions" and any("K-1" in x for x in o3.exceptions)


def test_records_show_in_the_report_and_export(world: StaffedWorkspace, tmp_path: Path) -> None:
    admin = world.login("administrator")
    records.record_training(admin, held_on="2026-06-01", title="情報セキュリティ研修", topic="security", minutes=60,
                            attendees=["registrar", "reviewer", "query_operator"])
    records.record_inspection_item(admin, fiscal_year=2026, item="ids_reviewed", result="finding",
                                   finding="退職者のIDが1件残っていた", follow_up="無効化し手順を見直す", due_on="2026-07-31")
    report = evidence.monthly(world.login("auditor"), "2026-06")
    by = {s.promise.promise_id: s for s in report.sections}
    assert by["O1"].figures["研修の実施"] == 1 and by["O1"].figures["受講者（延べ）"] == 3
    assert by["O2"].figures["指摘事項"] == 1 and by["O2"].status == "held"
    html = report.write_html(tmp_path / "r.html").read_text("utf-8")
    assert html.index("概要") < html.index("約束ごとの結果") < html.index("F0 ")
    assert "令和8年6月" in html and "Traceback" not in html and "{'" not in html
    pdf = report.write_pdf(tmp_path / "r.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and b"NotoSansCJK" in _inflated(pdf)  # the Japanese font is embedded
    import openpyxl

    book = openpyxl.load_workbook(report.write_xlsx(tmp_path / "r.xlsx"))
    assert {"概要", "約束ごとの結果", "件数", "例外"} <= set(book.sheetnames)
    rows = list(book["約束ごとの結果"].iter_rows(values_only=True))
    assert len(rows) == len(evidence.PROMISES) + 1


def _inflated(pdf: bytes) -> bytes:
    """The PDF with its compressed streams inflated (font names live in object streams)."""
    import zlib

    out = [pdf]
    for m in re.finditer(rb"stream\r?\n", pdf):
        try:
            out.append(zlib.decompressobj().decompress(pdf[m.end():m.end() + 2_000_000]))
        except zlib.error:
            continue
    return b"".join(out)


def test_cli_commands(world: StaffedWorkspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                      tmp_path: Path) -> None:
    code, out, err = world.cli(monkeypatch, capsys, "administrator", "records", "training-add", "--date", "2026-05-20",
                               "--title", "番号制度研修", "--topic", "my_number_basics", "--minutes", "90",
                               "--attendee", "registrar", "--attendee", "reviewer")
    assert code == 0 and out["attendees"] == 2, err
    code, out, err = world.cli(monkeypatch, capsys, "administrator", "records", "kits", "--batch", "K-7", "--direction",
                               "handed_out", "--kits", "10", "--date", "2026-05-01")
    assert code == 0, err
    code, out, err = world.cli(monkeypatch, capsys, "administrator", "records", "incident-add", "--kind", "loss",
                               "--summary", "USBメモリの紛失", "--persons", "0", "--discovered", "2026-05-30T10:00")
    assert code == 0 and out["preliminary_due"] == "2026-06-04", err
    code, out, err = world.cli(monkeypatch, capsys, "administrator", "records", "incident-event", out["incident_id"],
                               "--event", "preliminary_report", "--at", "2026-06-01T10:00")
    assert code == 0 and out["preliminary"] == "on_time", err
    code, out, err = world.cli(monkeypatch, capsys, "administrator", "records", "inspection-add", "--year", "2026",
                               "--item", "backups_tested", "--result", "ok")
    assert code == 0, err
    for kind in ("training", "kits", "incidents", "inspection"):
        code, out, err = world.cli(monkeypatch, capsys, "administrator", "records", "list", kind)
        assert code == 0 and out, (kind, err)
    code, out, err = world.cli(monkeypatch, capsys, "auditor", "records", "list", "training")
    assert code != 0 and "records.manage" in err
    code, out, err = world.cli(monkeypatch, capsys, "auditor", "evidence", "show", "--month", "2026-06",
                               "--out", str(tmp_path / "ev"))
    assert code == 0 and len(out["sections"]) == len(evidence.PROMISES), err
    assert {p.name for p in (tmp_path / "ev").iterdir()} == {"evidence-2026-06.html", "evidence-2026-06.pdf",
                                                           "evidence-2026-06.xlsx"}
    code, out, err = world.cli(monkeypatch, capsys, "auditor", "evidence", "show", "--month", "June")
    assert code == 2 and "YYYY-MM" in err
    assert PASSWORD


@pytest.mark.slow
def test_the_evidence_pipeline_writes_the_report_without_personal_data(tmp_path: Path) -> None:
    """Done when: ``workbench pipeline run evidence -p month=…`` writes the report; every promise is in it
    with its evidence or 「記録なし」; the first page says what to do; no resident's data in any file."""
    from tests.query_helpers import load_office
    from workbench import Workspace
    from workbench.core.permissions import Role
    from workbench.cycles import pipeline_runs
    from workbench.simulate.integrated_numbers import integrated_number_for

    ws = Workspace.init(tmp_path / "ws", scrypt_n=2**10)
    world = LiveWorld(ws)
    for role in (Role.ADMINISTRATOR, Role.AUDITOR):
        world.add_user(role.value, [role.value])
    office = load_office(world)
    month = dt.datetime.now(JST).strftime("%Y-%m")
    info = pipeline_runs.run(world.login("auditor"), "evidence", {"month": month})
    assert info.status == "succeeded"
    executed = ws.path / str(info.notebook)
    text = executed.read_text("utf-8")
    book = __import__("json").loads(text)
    outputs = __import__("json").dumps([c.get("outputs") for c in book["cells"]], ensure_ascii=False)
    first = outputs.index("概要")
    assert first < outputs.index("対応が必要な事項") < outputs.index("今月の結果")  # the summary, then every promise
    for pid in evidence.PROMISES:
        assert f"{pid} " in outputs, pid
    assert "記録なし" in outputs and "image/png" in outputs and "Traceback" not in outputs
    folder = executed.parent
    names = {p.suffix for p in folder.iterdir()}
    assert {".html", ".pdf", ".xlsx", ".ipynb"} <= names
    p = office.pop.persons
    values = [str(v) for v in [*p["person_id"], *p["individual_number"], *p["name"], *p["kana"], *p["address"],
                               *(integrated_number_for(x) for x in p["individual_number"])] if str(v).strip()]
    for f in folder.iterdir():
        body = f.read_text("utf-8", errors="replace") if f.suffix != ".pdf" else _inflated(f.read_bytes()).decode(
            "latin-1")
        leaked = [v for v in values if v in body]
        assert not leaked, f"{len(leaked)} personal value(s) in {f.name}"
    with pytest.raises(InvalidInput):
        pipeline_runs.run(world.login("auditor"), "evidence", {"month": "山田"})
    with pytest.raises(PermissionDenied):
        pipeline_runs.run(world.login("administrator"), "evidence", {"month": month})
