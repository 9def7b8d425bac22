"""F6 linkage file for the housing system: keyed by internal number, no Individual Number, approval, U4 state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.conftest import StaffedWorkspace, run_benchmark
from tests.query_helpers import Office, approve
from tests.results_helpers import busy_office, count, frame, send_batch
from workbench.core.errors import ApprovalError, InvalidInput, PermissionDenied
from workbench.files import formats, media, transfer
from workbench.queries import linkage_file, results
from workbench.simulate import intermediate_server, juki
from workbench.simulate.integrated_numbers import integrated_number_for


@pytest.fixture
def office(world: StaffedWorkspace) -> Office:
    return busy_office(world)


def _unpack(path: Path, world: StaffedWorkspace) -> tuple[pd.DataFrame, bytes]:
    key, _ = media.recipient_key(world.ws, "housing_system")
    package = transfer.read_package(path, key=key)
    assert package.manifest.kind == "linkage_file" and package.manifest.recipient == "housing_system"
    body = b"".join(package.members.values())
    table = pd.concat([formats.read_table(b, linkage_file.LINKAGE_LAYOUT).frame for b in package.members.values()],
                      ignore_index=True)
    return table, body


def _export(world: StaffedWorkspace) -> Any:
    approval = linkage_file.request_linkage(world.login("query_operator"), procedure="P1", fiscal_year=2026)
    approve(world, approval)
    return linkage_file.export_linkage(world.login("query_operator"), approval_id=approval.approval_id, procedure="P1",
                                  fiscal_year=2026)


def test_linkage_file_keyed_by_internal_number(office: Office, world: StaffedWorkspace, tmp_path: Path) -> None:
    info, ireqs = send_batch(world, "info", information=["resident_register", "local_tax"])
    jk, jreqs = send_batch(world, "juki")
    later, _ = office.pop.evolve(seed=3, move_rate=0.2, rename_rate=0.1, death_rate=0.05)
    ipaths = intermediate_server.answer_package(world.ws, info.path, office.pop, tmp_path / "i", seed=1, error=0.1, late=0.1)
    jpaths = juki.answer_package(world.ws, jk.path, later, tmp_path / "j", seed=1)
    op = world.login("query_operator")
    results.import_info_results(op, ipaths[0])
    results.import_juki_results(op, jpaths[0])

    preview = linkage_file.preview_linkage(world.login("query_operator"), procedure="P1", fiscal_year=2026)
    answered = count(world, "SELECT count(*) FROM query_requests WHERE status IN ('answered', 'error')")
    assert preview.total == answered and preview.already_exported == 0
    assert set(preview.by_information) == {"resident_register", "local_tax", "juki"}
    assert preview.discrepancy_status["open"] > 0
    with pytest.raises(ApprovalError):
        linkage_file.export_linkage(world.login("query_operator"), approval_id=None, procedure="P1", fiscal_year=2026)
    with pytest.raises(PermissionDenied):
        linkage_file.preview_linkage(world.login("reviewer"), procedure="P1", fiscal_year=2026)
    with pytest.raises(InvalidInput):
        linkage_file.preview_linkage(world.login("query_operator"), procedure="P1", fiscal_year=26)

    out = _export(world)
    assert out.record_count == answered and out.ledger_entry.kind == "linkage_file"
    table, body = _unpack(out.path, world)
    assert len(table) == answered
    # keyed by internal person number; never the Individual Number or the integrated number (check the bytes)
    assert set(table["person_id"]) <= set(office.pop.persons["person_id"])
    numbers = office.pop.persons["individual_number"].tolist()
    assert not any(n.encode() in body for n in numbers)
    assert not any(integrated_number_for(n).encode() in body for n in numbers)
    assert "individual_number" not in table.columns and "integrated_no" not in table.columns
    # payload and U4 discrepancy state
    tax = table[(table["information"] == "local_tax") & (table["result_status"] == "00")]
    income = office.pop.persons.set_index("person_id")["annual_income"]
    assert len(tax) and all(int(v) == income[p] for p, v in zip(tax["person_id"], tax["taxable_income"], strict=True))
    dq = frame(world, "SELECT person_id, string_agg(DISTINCT kind, ';' ORDER BY kind) AS kinds FROM discrepancies"
                      " GROUP BY 1")
    kinds = dict(zip(dq["person_id"], dq["kinds"], strict=True))
    for pid, k, state in zip(table["person_id"], table["discrepancy_kinds"], table["discrepancy_status"], strict=True):
        assert k == kinds.get(pid, "") and state == ("open" if pid in kinds else "none")
    # Juki-net's items only where they differ from what is held
    jrows = table[table["information"] == "juki"]
    differing = set(frame(world, "SELECT request_id FROM discrepancies WHERE source = 'juki'")["request_id"])
    assert set(jrows.loc[jrows["juki_address"] != "", "request_id"]) <= differing
    assert (jrows.loc[~jrows["request_id"].isin(differing), "juki_name"] == "").all()
    assert count(world, "SELECT count(*) FROM linkage_export_members") == answered

    # late answers go out in the next export, only they; then nothing is left to send
    results.import_info_results(world.login("query_operator"), ipaths[1])
    again = linkage_file.preview_linkage(world.login("query_operator"), procedure="P1", fiscal_year=2026)
    assert again.total == len(ireqs) + len(jreqs) - answered and again.already_exported == answered
    second = _export(world)
    table2, _ = _unpack(second.path, world)
    assert not set(table2["request_id"]) & set(table["request_id"])
    with pytest.raises(InvalidInput) as exc:
        linkage_file.request_linkage(world.login("query_operator"), procedure="P1", fiscal_year=2026)
    assert exc.value.details["reason"] == "nothing_to_send"

    with world.ws.transaction("t", "t") as con:
        params = " ".join(r[0] for r in con.execute(
            "SELECT params FROM audit_log WHERE operation LIKE 'linkage.%'").fetchall())
    assert not any(p in params for p in office.pop.persons["person_id"])


def test_approval_is_bound_to_the_results(office: Office, world: StaffedWorkspace, tmp_path: Path) -> None:
    info, _ = send_batch(world, "info", information="local_tax")
    paths = intermediate_server.answer_package(world.ws, info.path, office.pop, tmp_path, seed=2, late=0.2)
    results.import_info_results(world.login("query_operator"), paths[0])
    approval = linkage_file.request_linkage(world.login("query_operator"), procedure="P1", fiscal_year=2026)
    approve(world, approval)
    results.import_info_results(world.login("query_operator"), paths[1])   # more results since the approval
    with pytest.raises(ApprovalError) as exc:
        linkage_file.export_linkage(world.login("query_operator"), approval_id=approval.approval_id, procedure="P1",
                               fiscal_year=2026)
    assert exc.value.details["reason"] == "population_changed"
    assert count(world, "SELECT count(*) FROM linkage_exports") == 0
    assert not list(world.ws.folder("outgoing").glob("linkage_file-*"))


def test_cli_discrepancies_and_linkage(office: Office, world: StaffedWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from workbench import cli

    monkeypatch.setattr("workbench.cli._common.open_workspace", lambda args: world.ws)
    monkeypatch.setenv("WORKBENCH_PASSWORD", "Test-Pass-2026!")
    jk, _ = send_batch(world, "juki")
    later, _ = office.pop.evolve(seed=3, move_rate=0.2)
    jpath = juki.answer_package(world.ws, jk.path, later, tmp_path, seed=1)[0]

    def run(user: str, *argv: str, expect: int = 0) -> Any:
        world.clock.advance(30)
        monkeypatch.setenv("WORKBENCH_USER", user)
        monkeypatch.setenv("WORKBENCH_TOTP", world.code(user))
        code = cli.main(["-w", str(world.ws.path), *argv])
        out = capsys.readouterr()
        assert code == expect, out.err
        return json.loads(out.out) if expect == 0 else json.loads(out.err)

    assert run("query_operator", "batch", "import-results", str(jpath))["discrepancies"]["moved"] > 0
    items = run("reviewer", "discrepancies", "list", "--kind", "moved")
    assert items and items[0]["fields"] == ["address"]
    done = run("reviewer", "discrepancies", "resolve", items[0]["discrepancy_id"], "--notified", "--note", "letter")
    assert done["status"] == "person_notified"
    assert run("reviewer", "discrepancies", "resolve", items[0]["discrepancy_id"], "--notified", expect=2)
    requested = run("reviewer", "discrepancies", "notices")["approval_requested"]
    run("approver", "approvals", "approve", requested["approval_id"])
    assert run("reviewer", "discrepancies", "notices", "--approval", requested["approval_id"])["record_count"] > 0
    common = ["--procedure", "P1", "--year", "2026"]
    assert run("query_operator", "linkage", "export", "--preview", *common)["total"] > 0
    requested = run("query_operator", "linkage", "export", *common)["approval_requested"]
    run("approver", "approvals", "approve", requested["approval_id"])
    out = run("query_operator", "linkage", "export", *common, "--approval", requested["approval_id"])
    assert out["ledger_entry"]["kind"] == "linkage_file"


def test_benchmark_script_runs_small(tmp_path: Path) -> None:
    result = run_benchmark(tmp_path, "bench_queries", "--persons", "3000", "--workdir", str(tmp_path))
    assert result["as_expected"]
    for step in ("create", "import", "linkage"):
        assert result[step]["wall_s"] > 0 and result[step]["peak_mb"] > 0
        assert result["floor"][step]["wall_s"] > 0
