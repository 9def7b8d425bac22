"""F2/F3 query batches: rules U1–U3, preview counts and reasons, approval, request IDs (C10), files, simulators."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.conftest import StaffedWorkspace, scalar
from tests.query_helpers import Office, approve, as_set, load_office, procedures_csv, requests_of, scenario, unique
from workbench.core.errors import ApprovalError, InvalidInput, PermissionDenied
from workbench.files import formats, media, transfer
from workbench.files.query_files import ANSWER_LAYOUT, REQUEST_LAYOUT, read_fixed
from workbench.queries import batches, procedures
from workbench.queries.query_rules import load_rules
from workbench.simulate import intermediate_server, juki
from workbench.simulate.integrated_numbers import integrated_number_for

BUSINESS = ["local_tax", "public_assistance", "physical_disability", "mental_disability", "ai_no_techo"]
ALL = ["resident_register", *BUSINESS]


@pytest.fixture
def office(world: StaffedWorkspace) -> Office:
    return scenario(world)


def _unlisted_others(office: Office) -> int:
    with office.world.ws.transaction("t", "t") as con:
        return int(scalar(
            con, "SELECT count(*) FROM persons WHERE NOT listed AND household_id IN"
            " (SELECT household_id FROM persons WHERE person_id IN (SELECT unnest(?::VARCHAR[])))",
            [[office.who[k] for k in "ADEG"]],
        ))


def test_rules_u1_u2_u3_preview_and_created_requests(office: Office, world: StaffedWorkspace) -> None:
    w = office.who
    s = world.login("query_operator")
    preview = batches.preview_info_batch(s, procedure="P1", fiscal_year=2026, records_per_file=3)
    others = _unlisted_others(office)
    assert preview.information == ALL
    assert preview.total == 8 and preview.persons == 3 and preview.files == 3
    assert preview.included_by_basis == {"filed": 7, "household": 1}
    assert preview.excluded == {
        "not_covered": 6 * (1 + others),     # Z deceased, the unlisted household members
        "not_filed": 15,                     # B, C, F: business information, same address only (U3)
        "household_no_number": 1,            # F: the filer at the address has no number (U1)
        "no_number": 7,                      # C (resident register), E (all six)
        "no_consent": 5,                     # D: business information without consent (U2)
        "no_integrated_number": 6,           # G
    }
    assert preview.by_information["resident_register"]["included"] == 3
    assert preview.by_information["local_tax"] == {"included": 1, "no_consent": 1, "no_number": 1, "not_filed": 3,
                                                    "no_integrated_number": 1, "not_covered": 1 + others}
    assert set(preview.reasons) == set(preview.excluded)
    assert all(r["ja"] and r["en"] for r in preview.reasons.values())
    assert {r["outcome"] for r in preview.rows} == {"included", *preview.excluded}

    approval = batches.request_info_batch(s, procedure="P1", fiscal_year=2026, records_per_file=3)
    assert approval.summary["count"] == 8 and approval.summary["recipient"] == "linkage_server"
    approve(world, approval)
    s = world.login("query_operator")
    result = batches.create_info_batch(s, approval_id=approval.approval_id, procedure="P1", fiscal_year=2026,
                                       records_per_file=3)
    assert result.record_count == 8 and result.extra["files"] == 3
    reqs = requests_of(world, result.extra["batch_id"])
    expected = {(w["A"], k) for k in ALL} | {(w["B"], "resident_register"), (w["D"], "resident_register")}
    assert as_set(reqs) == expected
    assert unique(reqs["request_id"].to_numpy()) and (reqs["status"] == "sent").all()
    assert set(reqs.loc[reqs["person_id"] == w["B"], "basis"]) == {"household"}
    assert reqs["request_id"].str.len().eq(24).all()
    assert sorted(zip(reqs["file_no"], reqs["record_no"], strict=True)) == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3),
                                                                             (3, 1), (3, 2)]

    # One package, three members, fixed width, CRLF; no Individual Number anywhere.
    entry = result.ledger_entry
    assert (entry.kind, entry.recipient, entry.record_count, entry.approval_id) == ("info_query", "linkage_server", 8,
                                                                                   approval.approval_id)
    key, _ = media.recipient_key(world.ws, "linkage_server")
    package = transfer.read_package(result.path, key=key)
    assert len(package.members) == 3 and package.manifest.kind == "info_query"
    numbers = set(office.pop.persons["individual_number"])
    records = []
    for body in package.members.values():
        assert body.endswith(b"\r\n") and body.count(b"\r\n") == body.count(b"\n")
        assert all(len(line) == REQUEST_LAYOUT.record_length for line in body.split(b"\r\n")[:-1])
        assert not any(n.encode() in body for n in numbers)
        records.append(read_fixed(body, REQUEST_LAYOUT)[0])
    sent = pd.concat(records, ignore_index=True)
    assert [len(r) for r in records] == [3, 3, 2]
    assert set(sent["request_id"]) == set(reqs["request_id"])
    rules = load_rules()
    a_rows = sent[sent["atena_no"] == w["A"]]
    number_a = office.pop.persons.set_index("person_id").loc[w["A"], "individual_number"]
    assert set(a_rows["integrated_no"]) == {integrated_number_for(number_a)}
    assert set(sent["info_code"]) == {rules.information[k].info_code for k in ALL}
    tax = sent[sent["info_code"] == "TM00000000000002"].iloc[0]
    assert (tax["start_date"], tax["end_date"], tax["number_system"]) == ("20260401", "20270331", "1")
    assert set(sent["procedure_code"]) == {rules.procedures["P1"].procedure_code}
    assert set(sent["user_id"]) == {"query_operator"}
    assert sent["requested_at"].nunique() == 1 and sent["requested_at"][0].startswith("2026060110")  # JST

    with world.ws.transaction("t", "t") as con:
        batch = con.execute("SELECT kind, request_count, file_count, status, ledger_entry FROM query_batches").fetchall()
        audit_params = [r[0] for r in con.execute(
            "SELECT params FROM audit_log WHERE operation LIKE 'batches.%' ORDER BY seq").fetchall()]
    assert batch == [("info", 8, 3, "sent", entry.entry_id)]
    for params in audit_params:
        assert not any(pid in params for pid in w.values())
    assert json.loads(audit_params[-1])["requests"] == 8


def test_u3_permitted_pairs_and_filings_only(office: Office, world: StaffedWorkspace) -> None:
    w = office.who
    s = world.login("query_operator")
    p6 = batches.preview_info_batch(s, procedure="P6", fiscal_year=2026, information="local_tax")
    assert p6.total == 0 and set(p6.excluded) <= {"not_permitted", "not_covered"}
    with pytest.raises(InvalidInput) as exc:
        batches.request_info_batch(s, procedure="P6", fiscal_year=2026, information="local_tax")
    assert exc.value.details["reason"] == "nothing_to_send"
    # X filed P2 for 2026 and P1 for 2025 only.
    p2 = batches.preview_info_batch(s, procedure="P2", fiscal_year=2026)
    assert p2.information == ["resident_register", "local_tax"] and p2.total == 2
    p1_2025 = batches.preview_info_batch(s, procedure="P1", fiscal_year=2025, information=["local_tax"])
    assert p1_2025.total == 1
    p1 = batches.preview_info_batch(s, procedure="P1", fiscal_year=2026, information=["local_tax", "resident_register"])
    assert p1.information == ["resident_register", "local_tax"] and p1.total == 4
    assert w["X"] not in json.dumps(p1.to_dict())
    bads: list[dict[str, Any]] = [{"procedure": "P9", "fiscal_year": 2026}, {"procedure": "P1", "fiscal_year": 26},
                                  {"procedure": "P1", "fiscal_year": 2026, "information": "income"}]
    for bad in bads:
        with pytest.raises(InvalidInput) as exc:
            batches.preview_info_batch(s, **bad)
        assert exc.value.message_ja and exc.value.message_en
    with pytest.raises(PermissionDenied):
        batches.preview_info_batch(world.login("reviewer"), procedure="P1", fiscal_year=2026)
    assert inspect.signature(batches.create_info_batch).parameters["records_per_file"].default == 10_000


def test_approval_required_and_bound(office: Office, world: StaffedWorkspace) -> None:
    s = world.login("query_operator")
    with pytest.raises(ApprovalError):
        batches.create_info_batch(s, approval_id=None, procedure="P1", fiscal_year=2026)
    approval = batches.request_info_batch(s, procedure="P1", fiscal_year=2026)
    with pytest.raises(ApprovalError) as exc:  # not yet approved
        batches.create_info_batch(s, approval_id=approval.approval_id, procedure="P1", fiscal_year=2026)
    assert exc.value.details["reason"] == "pending"
    approve(world, approval)
    s = world.login("query_operator")
    for changed in ({"fiscal_year": 2025}, {"fiscal_year": 2026, "information": "local_tax"},
                    {"fiscal_year": 2026, "records_per_file": 5}):
        with pytest.raises(ApprovalError) as exc:
            batches.create_info_batch(s, approval_id=approval.approval_id, procedure="P1", **changed)
        assert exc.value.details["reason"] == "params_mismatch"
    with pytest.raises(ApprovalError):  # an info approval does not cover a Juki-net batch
        batches.create_juki_batch(s, approval_id=approval.approval_id, procedure="P1", fiscal_year=2026)
    # D now consents in a new filing: the approved selection is no longer the one on the screen.
    procedures.import_procedures(s, procedures_csv([("R-8", "P1", "2026", "2026-05-20", office.who["D"], office.who["D"], "Y")]),
                                 file_name="late.csv")
    with pytest.raises(ApprovalError) as exc:
        batches.create_info_batch(s, approval_id=approval.approval_id, procedure="P1", fiscal_year=2026)
    assert exc.value.details["reason"] == "population_changed"
    with world.ws.transaction("t", "t") as con:
        assert scalar(con, "SELECT count(*) FROM query_requests") == 0
        # nothing went out (the procedures files read in are in the ledger as incoming files, C9)
        assert scalar(con, "SELECT count(*) FROM media_ledger WHERE direction = 'out'") == 0
    assert not list(world.ws.folder("outgoing").iterdir())
    fresh = batches.request_info_batch(s, procedure="P1", fiscal_year=2026)
    approve(world, fresh)
    s = world.login("query_operator")
    done = batches.create_info_batch(s, approval_id=fresh.approval_id, procedure="P1", fiscal_year=2026)
    assert done.record_count == 13 and done.extra["files"] == 1
    with pytest.raises(ApprovalError) as exc:
        batches.create_info_batch(s, approval_id=fresh.approval_id, procedure="P1", fiscal_year=2026)
    # issue 24 item 5: the true reason, not "given for different parameters" (the selection moved on once sent)
    assert exc.value.details["reason"] == "used" and "already been used" in exc.value.message_en
    assert "使用済み" in exc.value.message_ja


def test_juki_batch_carries_numbers_only_in_the_package(office: Office, world: StaffedWorkspace) -> None:
    w = office.who
    s = world.login("query_operator")
    preview = batches.preview_juki_batch(s, procedure="P1", fiscal_year=2026)
    assert preview.total == 4 and preview.information == ["juki"]
    assert preview.excluded["no_number"] == 2 and preview.excluded["household_no_number"] == 1
    approval = batches.request_juki_batch(s, procedure="P1", fiscal_year=2026)
    approve(world, approval)
    s = world.login("query_operator")
    result = batches.create_juki_batch(s, approval_id=approval.approval_id, procedure="P1", fiscal_year=2026)
    assert (result.ledger_entry.kind, result.ledger_entry.recipient) == ("juki_query", "juki_net")
    reqs = requests_of(world, result.extra["batch_id"])
    assert set(reqs["person_id"]) == {w["A"], w["B"], w["D"], w["G"]} and reqs["request_id"].str.startswith("JB").all()
    with pytest.raises(Exception):  # noqa: B017 - the linkage server's key cannot open Juki-net's package
        transfer.read_package(result.path, key=media.recipient_key(world.ws, "linkage_server")[0])
    package = transfer.read_package(result.path, key=media.recipient_key(world.ws, "juki_net")[0])
    table = formats.read_table(next(iter(package.members.values())), "juki_request").frame
    truth = office.pop.persons.set_index("person_id")["individual_number"]
    by_request = dict(zip(reqs["request_id"], reqs["person_id"], strict=True))
    assert all(truth[by_request[r]] == n for r, n in zip(table["request_id"], table["individual_number"], strict=True))
    with world.ws.transaction("t", "t") as con:
        params = " ".join(r[0] for r in con.execute("SELECT params FROM audit_log").fetchall())
    assert not any(n in params for n in truth.tolist())


@pytest.fixture
def busy(world: StaffedWorkspace) -> Office:
    """Every household head files P1 with consent: a batch large enough for shares."""
    office = load_office(world)
    heads = office.pop.persons[office.pop.persons["relation"] == "head"]["person_id"].tolist()
    rows = [(f"R-{i}", "P1", "2026", "2026-05-01", h, h, "Y") for i, h in enumerate(heads)]
    procedures.import_procedures(world.login("query_operator"), procedures_csv(rows), file_name="all.csv")
    return office


def _create(world: StaffedWorkspace, kind: str) -> tuple[Any, pd.DataFrame]:
    s = world.login("query_operator")
    request = batches.request_info_batch if kind == "info" else batches.request_juki_batch
    create = batches.create_info_batch if kind == "info" else batches.create_juki_batch
    approval = request(s, procedure="P1", fiscal_year=2026, records_per_file=400)
    approve(world, approval)
    result = create(world.login("query_operator"), approval_id=approval.approval_id, procedure="P1", fiscal_year=2026,
                    records_per_file=400)
    return result, requests_of(world, result.extra["batch_id"])


def test_linkage_server_simulator_anomalies(busy: Office, world: StaffedWorkspace, tmp_path: Path) -> None:
    result, reqs = _create(world, "info")
    n = len(reqs)
    assert n > 500 and result.extra["files"] == -(-n // 400)
    paths = intermediate_server.answer_package(world.ws, result.path, busy.pop, tmp_path,
                                          seed=5, not_found=0.1, error=0.1, late=0.1, duplicate=0.05)
    assert len(paths) == 2
    key, _ = media.recipient_key(world.ws, "linkage_server")
    frames = []
    for path in paths:
        pkg = transfer.read_package(path, key=key)
        assert pkg.manifest.kind == "info_answer"
        frames.append(pd.concat([read_fixed(b, ANSWER_LAYOUT)[0] for b in pkg.members.values()], ignore_index=True))
    first, late = frames
    assert set(first["request_id"]) | set(late["request_id"]) == set(reqs["request_id"])
    assert not set(first["request_id"]) & set(late["request_id"])
    assert abs(len(late) - 0.1 * n) < 0.05 * n
    assert first["request_id"].duplicated().sum() == round(0.05 * n)
    status = pd.concat([first.drop_duplicates("request_id"), late])["status"].value_counts()
    assert abs(status["10"] - 0.1 * n) < 0.05 * n and abs(status[["20", "30", "90"]].sum() - 0.1 * n) < 0.05 * n
    ok_tax = first[(first["status"] == "00") & (first["info_code"] == "TM00000000000002")]
    income = busy.pop.persons.set_index("person_id")["annual_income"]
    assert len(ok_tax) and all(int(v) == income[p] for p, v in zip(ok_tax["atena_no"], ok_tax["taxable_income"], strict=True))
    assert set(ok_tax["tax_status"]) <= {"1", "2"} and set(ok_tax["tax_year"]) == {"2026"}
    certs = first[(first["status"] == "00") & (first["info_code"] == "TM00000000000061")]
    held = busy.pop.persons.set_index("person_id")["disability_certificate"]
    assert all((t == "01") == (held[p] == "身体障害者手帳") for p, t in zip(certs["atena_no"], certs["certificate_type"], strict=True))


def test_juki_simulator_reports_moves_renames_deaths(busy: Office, world: StaffedWorkspace, tmp_path: Path) -> None:
    result, reqs = _create(world, "juki")
    later, changes = busy.pop.evolve(seed=3, move_rate=0.2, rename_rate=0.1, death_rate=0.1)
    paths = juki.answer_package(world.ws, result.path, later, tmp_path, seed=2,
                                not_found=0.05, error=0.05, late=0.1, duplicate=0.02)
    key, _ = media.recipient_key(world.ws, "juki_net")
    answers = pd.concat([formats.read_table(b, "juki_answer").frame
                         for p in paths for b in transfer.read_package(p, key=key).members.values()], ignore_index=True)
    assert len(paths) == 2 and set(answers["request_id"]) == set(reqs["request_id"])
    assert answers["request_id"].duplicated().sum() == round(0.02 * len(reqs))
    ok = answers[answers["result_code"] == "00"].drop_duplicates("request_id")
    person = dict(zip(reqs["request_id"], reqs["person_id"], strict=True))
    ok = ok.assign(person_id=ok["request_id"].map(person))
    before = busy.pop.persons.set_index("person_id")
    moved = set(changes.loc[changes["kind"] == "moved", "person_id"])
    renamed = set(changes.loc[changes["kind"] == "renamed", "person_id"])
    died = set(changes.loc[changes["kind"] == "died", "person_id"])
    diff_addr = {p for p, a in zip(ok["person_id"], ok["address"], strict=True) if a != before.loc[p, "address"]}
    diff_name = {p for p, a in zip(ok["person_id"], ok["name"], strict=True) if a != before.loc[p, "name"]}
    dead = set(ok.loc[ok["deceased"] == "1", "person_id"])
    assert diff_addr and diff_addr <= moved
    assert diff_name and diff_name <= renamed
    assert dead and dead <= died
    assert set(answers["result_code"]) == {"00", "10", "90"}
    assert np.all(answers.loc[answers["result_code"] != "00", "name"] == "")


def test_cli_procedures_and_batch_flow(world: StaffedWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from workbench.cli import main

    monkeypatch.setattr("workbench.cli._common.open_workspace", lambda args: world.ws)  # the fixed test clock drives the one-time codes

    office = load_office(world)
    head = str(office.pop.persons["person_id"].iloc[0])
    file = tmp_path / "procedures.csv"
    file.write_bytes(procedures_csv([("R-1", "P1", "2026", "2026-05-01", head, head, "Y")]))
    monkeypatch.setenv("WORKBENCH_PASSWORD", "Test-Pass-2026!")

    def run(user: str, *argv: str) -> Any:
        world.clock.advance(30)
        monkeypatch.setenv("WORKBENCH_USER", user)
        monkeypatch.setenv("WORKBENCH_TOTP", world.code(user))
        code = main(["-w", str(world.ws.path), *argv])
        out = capsys.readouterr()
        assert code == 0, out.err
        return json.loads(out.out)

    assert run("query_operator", "procedures", "import", str(file))["new_procedures"] == 1
    common = ["--procedure", "P1", "--year", "2026", "--information", "local_tax"]
    preview = run("query_operator", "batch", "preview", "info", *common)
    assert preview["total"] == 1
    approval = run("query_operator", "batch", "request", "info", *common)
    run("approver", "approvals", "approve", approval["approval_id"])
    created = run("query_operator", "batch", "create", "info", *common, "--approval", approval["approval_id"])
    assert created["record_count"] == 1 and created["ledger_entry"]["kind"] == "info_query"
    assert run("query_operator", "batch", "preview", "juki", "--procedure", "P1", "--year", "2026")["total"] >= 1


def test_the_same_batch_cannot_be_made_twice(office: Office, world: StaffedWorkspace) -> None:
    """Issue 11 item 5: after a batch is sent, the people still awaiting its answers are left out with
    their own reason; a second approval finds nothing to send, and an approval given before the first
    batch was made refuses once the first is made (no 回答待ち 21,998 → 43,996)."""
    s = world.login("query_operator")
    first = batches.request_info_batch(s, procedure="P1", fiscal_year=2026)
    second = batches.request_info_batch(s, procedure="P1", fiscal_year=2026)  # the same batch, asked twice
    approve(world, first)
    approve(world, second)
    s = world.login("query_operator")
    done = batches.create_info_batch(s, approval_id=first.approval_id, procedure="P1", fiscal_year=2026)
    again = batches.preview_info_batch(s, procedure="P1", fiscal_year=2026)
    assert again.total == 0 and again.excluded["outstanding"] == done.record_count
    assert "回答を待っています" in again.reasons["outstanding"]["ja"]
    with pytest.raises(ApprovalError) as exc:
        batches.create_info_batch(s, approval_id=second.approval_id, procedure="P1", fiscal_year=2026)
    assert exc.value.details["reason"] == "population_changed"
    with pytest.raises(InvalidInput) as nothing:
        batches.request_info_batch(s, procedure="P1", fiscal_year=2026)
    assert nothing.value.details["reason"] == "nothing_to_send"
    # Another information kind is not a duplicate; Juki-net is its own information.
    assert batches.preview_juki_batch(s, procedure="P1", fiscal_year=2026).total > 0
    with world.ws.transaction("t", "t") as con:
        assert scalar(con, "SELECT count(*) FROM query_requests") == done.record_count
        # once answered (or expired) the question may be asked again
        con.execute("UPDATE query_requests SET status = 'answered'")
    assert batches.preview_info_batch(world.login("query_operator"), procedure="P1", fiscal_year=2026).total == \
        done.record_count


def _p4_filings(office: Office) -> tuple[bytes, dict[str, list[str]]]:
    """P4 (move-in applications) by the household heads: half filed in April, half in May."""
    persons = office.pop.persons
    heads = persons[(persons["relation"] == "head") & ~persons["deceased"].astype(bool)]["person_id"].tolist()[:40]
    by_month: dict[str, list[str]] = {"04": [], "05": []}
    rows = []
    for i, p in enumerate(heads):
        month = "04" if i % 2 else "05"
        by_month[month].append(f"P4-{i}")
        rows.append((f"P4-{i}", "P4", "2026", f"2026-{month}-{10 + i % 15:02d}", p, p, "Y"))
    return procedures_csv(rows), by_month


def test_a_filing_date_range_limits_a_batch_to_those_filings(world: StaffedWorkspace) -> None:
    """A monthly run (P4) asks about its month's applicants only, not again about an earlier month's."""
    office = load_office(world)
    csv, by_month = _p4_filings(office)
    s = world.login("query_operator")
    procedures.import_procedures(s, csv, file_name="p4.csv")
    year = batches.preview_juki_batch(s, procedure="P4", fiscal_year=2026)
    april = batches.preview_juki_batch(s, procedure="P4", fiscal_year=2026, filed_from="2026-04-01", filed_to="2026-04-30")
    may = batches.preview_juki_batch(s, procedure="P4", fiscal_year=2026, filed_from="2026-05-01", filed_to="2026-05-31")
    assert may.included_by_basis["filed"] > 0 and april.included_by_basis["filed"] > 0
    assert may.included_by_basis["filed"] + april.included_by_basis["filed"] == year.included_by_basis["filed"]
    assert (may.filed_from, may.filed_to) == ("2026-05-01", "2026-05-31") and "届出日 2026-05-01〜2026-05-31" in may.summary_ja()

    approval = batches.request_juki_batch(s, procedure="P4", fiscal_year=2026, filed_from="2026-05-01", filed_to="2026-05-31")
    approve(world, approval)
    with pytest.raises(ApprovalError):  # the approval names the range: the whole year is another batch
        batches.create_juki_batch(world.login("query_operator"), approval_id=approval.approval_id, procedure="P4",
                                  fiscal_year=2026)
    result = batches.create_juki_batch(world.login("query_operator"), approval_id=approval.approval_id, procedure="P4",
                                       fiscal_year=2026, filed_from="2026-05-01", filed_to="2026-05-31")
    reqs = requests_of(world, result.extra["batch_id"])
    assert result.record_count == may.total and set(reqs["procedure_id"]) <= set(by_month["05"])


@pytest.mark.parametrize("filed", [{"filed_from": "2026-05-32"}, {"filed_to": "May"},
                                   {"filed_from": "2026-05-31", "filed_to": "2026-05-01"}])
def test_a_bad_filing_date_range_is_refused_in_both_languages(world: StaffedWorkspace, filed: dict[str, str]) -> None:
    with pytest.raises(InvalidInput) as err:
        batches.preview_juki_batch(world.login("query_operator"), procedure="P4", fiscal_year=2026, **filed)
    assert err.value.details["reason"] == "bad_filed_range" and err.value.message_ja and err.value.message_en
