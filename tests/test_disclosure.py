"""F9 disclosure, correction and suspension of use (issue 12 item 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import MakeWorld, StaffedWorkspace
from tests.lifecycle_helpers import office_with_results, victim_households
from tests.results_helpers import count
from workbench.controls import audit_log
from workbench.core.errors import InvalidInput, NotFound, PermissionDenied
from workbench.files import media
from workbench.intake import collection, persons
from workbench.lifecycle import disclosure
from workbench.queries import batches, linkage_file


@pytest.fixture
def busy(make_world: MakeWorld, tmp_path: Path) -> tuple[StaffedWorkspace, str]:
    world = make_world()
    office_with_results(world, tmp_path)
    return world, victim_households(world, 1)[0]


def test_disclosure_holds_everything_and_who_accessed(busy: tuple[StaffedWorkspace, str], tmp_path: Path) -> None:
    world, pid = busy
    persons.get(world.login("registrar"), pid)  # an access to show
    reviewer = world.login("reviewer")
    doc = disclosure.disclose(reviewer, pid, out=str(tmp_path / "kaiji.html"))
    view = persons.get(world.login("reviewer"), pid)
    assert doc.html.startswith("<!DOCTYPE html>") and 'lang="ja"' in doc.html
    assert view.name in doc.html and view.address in doc.html
    assert doc.sections["queries"] >= 1 and doc.sections["juki_results"] >= 1 and doc.sections["discrepancies"] >= 1
    assert "registrar（registrar）" in doc.html and "個人：参照" in doc.html  # who accessed, from the audit trail
    # issue 23: every code in words from the label table, none raw
    for raw in ("persons.get", "ai_no_techo", "local_tax", ">answered<", ">False<", ">True<", ">00<", ">P1<", ">juki<"):
        assert raw not in doc.html, raw
    printed = disclosure.disclose(world.login("reviewer"), pid, out=str(tmp_path / "kaiji.pdf"))
    assert printed.path and Path(printed.path).read_bytes().startswith(b"%PDF")
    assert "令和" in doc.html
    assert doc.path and Path(doc.path).stat().st_mode & 0o777 == 0o600
    assert any(e.kind == "disclosure" for e in media.ledger(world.login("auditor")))
    # the audit record of the disclosure names no one in clear
    rec = audit_log.search(world.login("auditor"), operation="disclosure.disclose")[0]
    assert pid not in json.dumps(rec, ensure_ascii=False) and view.name not in json.dumps(rec, ensure_ascii=False)
    with pytest.raises(NotFound):
        disclosure.disclose(world.login("reviewer"), "NOBODY")
    for role in ("registrar", "query_operator", "auditor", "operations", "analyst", "administrator"):
        with pytest.raises(PermissionDenied):
            disclosure.disclose(world.login(role), pid)


def test_correction_old_and_new_audited_and_refusals(busy: tuple[StaffedWorkspace, str]) -> None:
    world, pid = busy
    before = persons.get(world.login("reviewer"), pid)
    result = disclosure.correct(world.login("reviewer"), pid, "name", "訂正 太郎", reason="本人からの訂正請求")
    after = persons.get(world.login("reviewer"), pid)
    assert after.name == "訂正 太郎"
    assert count(world, "SELECT count(*) FROM corrections WHERE old_value = ? AND new_value = ?", [before.name, "訂正 太郎"]) == 1
    rec = audit_log.search(world.login("auditor"), operation="disclosure.correct", outcome="ok")[0]
    params = json.loads(rec["params"])
    assert params["field"] == "name" and params["correction_id"] == result["correction_id"]
    assert params["old_digest"] != params["new_digest"] and before.name not in rec["params"] and "訂正" not in rec["params"]
    doc = disclosure.disclose(world.login("reviewer"), pid)
    assert "8. 訂正の記録" in doc.html and doc.sections["corrections"] == 1
    held = count(world, "SELECT count(*) FROM corrections")
    for field, value in (("individual_number", "123456789012"), ("person_id", "X"), ("status", "applicant"),
                         ("sex", "X"), ("birth_date", "2099-01-01"), ("birth_date", "yesterday"), ("name", " ")):
        with pytest.raises(InvalidInput) as refused:
            disclosure.correct(world.login("reviewer"), pid, field, value, reason="r")
        assert refused.value.message_ja and refused.value.message_en
    with pytest.raises(InvalidInput):
        disclosure.correct(world.login("reviewer"), pid, "address", "新住所", reason="")
    with pytest.raises(NotFound):
        disclosure.correct(world.login("reviewer"), "NOBODY", "name", "x", reason="r")
    assert count(world, "SELECT count(*) FROM corrections") == held
    assert persons.get(world.login("reviewer"), pid).name == "訂正 太郎"


def test_suspension_keeps_the_person_out_of_every_batch_and_export(busy: tuple[StaffedWorkspace, str]) -> None:
    world, pid = busy
    op = world.login("query_operator")
    juki_before = batches.preview_juki_batch(op, procedure="P1", fiscal_year=2026)
    info_before = batches.preview_info_batch(op, procedure="P1", fiscal_year=2026)
    link_before = linkage_file.preview_linkage(world.login("query_operator"), procedure="P1", fiscal_year=2026)
    disclosure.suspend(world.login("reviewer"), pid, reason="本人からの利用停止請求")
    with pytest.raises(InvalidInput):
        disclosure.suspend(world.login("reviewer"), pid, reason="again")
    op = world.login("query_operator")
    juki_after = batches.preview_juki_batch(op, procedure="P1", fiscal_year=2026)
    info_after = batches.preview_info_batch(op, procedure="P1", fiscal_year=2026)
    link_after = linkage_file.preview_linkage(world.login("query_operator"), procedure="P1", fiscal_year=2026)
    assert juki_after.persons == juki_before.persons - 1
    assert info_after.persons == info_before.persons - 1
    assert juki_after.excluded.get("not_covered", 0) > juki_before.excluded.get("not_covered", 0)
    assert link_after.persons == link_before.persons - 1
    # the collection list: a suspended person who owes a number is not on it either
    with world.ws.transaction("t", "t") as con:
        con.execute("DELETE FROM person_numbers WHERE person_id = ?", [pid])
    assert collection.preview_collection(world.login("registrar")).to_dict()["total"] == 0
    assert [s["person_id"] for s in disclosure.suspensions(world.login("reviewer"))] == [pid]
    disclosure.lift_suspension(world.login("reviewer"), pid, reason="請求の取下げ")
    assert collection.preview_collection(world.login("registrar")).to_dict()["total"] == 1
    with pytest.raises(InvalidInput):
        disclosure.lift_suspension(world.login("reviewer"), pid, reason="again")
    assert persons.active_filter("p").startswith("(p.listed")
