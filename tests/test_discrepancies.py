"""C7 discrepancies from an evolved world (moves, renames, deaths), sex/birth date, income (U4), states, notices."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import StaffedWorkspace
from tests.query_helpers import Office, approve
from tests.results_helpers import busy_office, count, frame, send_batch
from workbench.core.errors import ApprovalError, InvalidInput, NotFound, PermissionDenied
from workbench.files import formats, media, transfer
from workbench.queries import discrepancies, results
from workbench.simulate import intermediate_server, juki


@pytest.fixture
def office(world: StaffedWorkspace) -> Office:
    return busy_office(world)


def test_juki_discrepancies_from_an_evolved_world(office: Office, world: StaffedWorkspace, tmp_path: Path) -> None:
    result, reqs = send_batch(world, "juki")
    # a wrong sex and birth date held for two people (as if the target list had a typo)
    p_sex, p_birth = reqs["person_id"].iloc[0], reqs["person_id"].iloc[1]
    with world.ws.transaction("t", "t") as con:
        con.execute("UPDATE persons SET sex = CASE sex WHEN '1' THEN '2' ELSE '1' END WHERE person_id = ?", [p_sex])
        con.execute("UPDATE persons SET birth_date = birth_date + INTERVAL 1 DAY WHERE person_id = ?", [p_birth])
    later, changes = office.pop.evolve(seed=3, move_rate=0.2, rename_rate=0.1, death_rate=0.1)
    paths = juki.answer_package(world.ws, result.path, later, tmp_path, seed=2)
    summary = results.import_juki_results(world.login("query_operator"), paths[0])
    assert set(summary.discrepancies) == {"moved", "renamed", "deceased", "sex_differs", "birth_date_differs"}

    found = frame(world, "SELECT person_id, kind, fields, held, reported, status FROM discrepancies")
    asked = set(reqs["person_id"])
    truth = {k: set(changes.loc[changes["kind"] == k, "person_id"]) & asked for k in ("moved", "renamed", "died")}
    by_kind = {k: set(found.loc[found["kind"] == k, "person_id"]) for k in summary.discrepancies}
    before = office.pop.persons.set_index("person_id")
    now = later.persons.set_index("person_id")
    differs = {p for p in asked if before.loc[p, "address"] != now.loc[p, "address"]}
    assert by_kind["moved"] == differs and differs <= truth["moved"] and differs
    assert by_kind["renamed"] and by_kind["renamed"] <= truth["renamed"]
    assert by_kind["deceased"] == truth["died"] and by_kind["deceased"]
    assert by_kind["sex_differs"] == {p_sex} and by_kind["birth_date_differs"] == {p_birth}
    assert (found["status"] == "open").all()
    moved = found[found["kind"] == "moved"].iloc[0]
    assert json.loads(moved["fields"]) == ["address"]
    assert json.loads(moved["held"])["address"] == before.loc[moved["person_id"], "address"]
    assert json.loads(moved["reported"])["address"] == now.loc[moved["person_id"], "address"]
    renamed = found[found["kind"] == "renamed"]
    assert all(set(json.loads(f)) <= {"name", "kana"} and json.loads(f) for f in renamed["fields"])

    # the reviewer's queue: filters, field names, values; audit params hold counts only
    reviewer = world.login("reviewer")
    items = discrepancies.list_discrepancies(reviewer, kind="moved")
    assert {d.person_id for d in items} == by_kind["moved"] and all(d.fields == ["address"] for d in items)
    assert items[0].kind_ja.startswith("転居") and items[0].held != items[0].reported
    assert len(discrepancies.list_discrepancies(reviewer, status="open", limit=5)) == 5
    with pytest.raises(InvalidInput):
        discrepancies.list_discrepancies(reviewer, kind="nonsense")
    with pytest.raises(PermissionDenied):
        discrepancies.list_discrepancies(world.login("query_operator"))
    with world.ws.transaction("t", "t") as con:
        params = " ".join(r[0] for r in con.execute("SELECT params FROM audit_log").fetchall())
    assert not any(p in params for p in asked)
    assert not any(a in params for a in now.loc[list(differs), "address"])


def test_states_and_notice_list_with_approval(office: Office, world: StaffedWorkspace, tmp_path: Path) -> None:
    result, _reqs = send_batch(world, "juki")
    later, _ = office.pop.evolve(seed=5, move_rate=0.1, rename_rate=0.05, death_rate=0.05)
    results.import_juki_results(world.login("query_operator"),
                                juki.answer_package(world.ws, result.path, later, tmp_path, seed=1)[0])
    reviewer = world.login("reviewer")
    items = discrepancies.list_discrepancies(reviewer)
    first, second = items[0], items[1]
    done = discrepancies.resolve_discrepancy(reviewer, first.discrepancy_id, action="notified", note="電話で連絡")
    assert (done.status, done.notified_by, done.note) == ("person_notified", "reviewer", "電話で連絡")
    with pytest.raises(InvalidInput):  # notified twice
        discrepancies.resolve_discrepancy(reviewer, first.discrepancy_id, action="notified")
    done = discrepancies.resolve_discrepancy(reviewer, first.discrepancy_id, action="resolved", note="届出済み")
    assert (done.status, done.resolved_by, done.note) == ("resolved", "reviewer", "届出済み") and done.resolved_at
    with pytest.raises(InvalidInput):
        discrepancies.resolve_discrepancy(reviewer, first.discrepancy_id, action="resolved")
    with pytest.raises(NotFound):
        discrepancies.resolve_discrepancy(reviewer, "D-NONE", action="resolved")
    assert discrepancies.resolve_discrepancy(reviewer, second.discrepancy_id, action="resolved").status == "resolved"

    # notice list: approval bound to who is on it, package for the housing system, then person_notified
    open_now = frame(world, "SELECT person_id, discrepancy_id FROM discrepancies WHERE status = 'open'")
    with pytest.raises(ApprovalError):
        discrepancies.notice_list(reviewer, approval_id=None)
    approval = discrepancies.request_notice_list(reviewer)
    assert approval.summary["persons"] == open_now["person_id"].nunique() and approval.summary["recipient"] == "housing_system"
    approve(world, approval)
    exported = discrepancies.notice_list(world.login("reviewer"), approval_id=approval.approval_id)
    assert exported.ledger_entry.kind == "notice_list" and exported.ledger_entry.recipient == "housing_system"
    assert exported.record_count == open_now["person_id"].nunique() and exported.extra["discrepancies"] == len(open_now)
    key, _ = media.recipient_key(world.ws, "housing_system")
    package = transfer.read_package(exported.path, key=key)
    table = formats.read_table(next(iter(package.members.values())), discrepancies.NOTICE_LAYOUT).frame
    assert set(table["person_id"]) == set(open_now["person_id"])
    numbers = office.pop.persons["individual_number"].tolist()
    body = b"".join(package.members.values())
    assert not any(n.encode() in body for n in numbers)
    assert count(world, "SELECT count(*) FROM discrepancies WHERE status = 'open'") == 0
    assert count(world, "SELECT count(*) FROM discrepancies WHERE notice_export = ?", [exported.extra["export_id"]]) == len(open_now)
    with pytest.raises(InvalidInput):  # nobody left to notify
        discrepancies.request_notice_list(world.login("reviewer"))
    with pytest.raises(ApprovalError):  # used
        discrepancies.notice_list(world.login("reviewer"), approval_id=approval.approval_id)


def _declared_csv(rows: list[tuple[str, str, str]]) -> bytes:
    return formats.write_table(pd.DataFrame(rows, columns=["procedure_id", "person_id", "declared_income"]),
                               discrepancies.DECLARED_INCOME)


def test_income_against_the_declaration(office: Office, world: StaffedWorkspace, tmp_path: Path) -> None:
    result, reqs = send_batch(world, "info", information="local_tax")
    income = office.pop.persons.set_index("person_id")["annual_income"]
    r = reqs.head(4)
    rows = [(pid, person, str(int(income[person]) + (1000 if i < 2 else 0)))
            for i, (pid, person) in enumerate(zip(r["procedure_id"], r["person_id"], strict=True))]
    op = world.login("query_operator")
    bad = [*rows, ("R-NONE", r["person_id"].iloc[0], "100"), (rows[0][0], rows[0][1], "12a")]
    with pytest.raises(InvalidInput) as exc:
        discrepancies.import_declared_income(op, _declared_csv(bad), file_name="bad.csv")
    assert [(e["line"], e["reason"]) for e in exc.value.details["errors"]] == [
        (6, "unknown_filing"), (7, "bad_amount"), (7, "duplicate_row")]
    out = discrepancies.import_declared_income(op, _declared_csv(rows), file_name="declared.csv")
    assert out["rows"] == 4 and out["discrepancies"] == {}                   # no results yet
    assert discrepancies.import_declared_income(op, _declared_csv(rows), file_name="again.csv")["already_imported"]

    paths = intermediate_server.answer_package(world.ws, result.path, office.pop, tmp_path, seed=1)
    summary = results.import_info_results(world.login("query_operator"), paths[0])
    assert summary.discrepancies == {"income_differs": 2}
    items = discrepancies.list_discrepancies(world.login("reviewer"), kind="income_differs")
    assert {d.person_id for d in items} == set(r["person_id"].head(2))
    d = items[0]
    assert d.fields == ["taxable_income"] and d.reported["taxable_income"] == d.held["declared_income"] - 1000
