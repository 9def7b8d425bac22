"""Issue 4, done when: a full cycle against the simulators from the CLI alone —
procedures in, batches out, answers in, discrepancies listed, linkage file out —
every step audited, with no personal data in the audit log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import StaffedWorkspace
from tests.query_helpers import load_office, procedures_csv
from workbench import cli
from workbench.controls import audit_log
from workbench.simulate import intermediate_server, juki

pytestmark = pytest.mark.slow


def test_full_query_cycle_from_the_cli(world: StaffedWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    office = load_office(world)
    persons = office.pop.persons
    heads = persons[persons["relation"] == "head"]["person_id"].tolist()
    file = tmp_path / "procedures.csv"
    file.write_bytes(procedures_csv([(f"R-{i}", "P1", "2026", "2026-05-01", h, h, "Y") for i, h in enumerate(heads)]))
    monkeypatch.setenv("WORKBENCH_PASSWORD", "Test-Pass-2026!")
    monkeypatch.setattr("workbench.cli._common.open_workspace", lambda args: world.ws)  # the test's fixed clock

    def run(user: str, *argv: str) -> Any:
        world.clock.advance(30)
        monkeypatch.setenv("WORKBENCH_USER", user)
        monkeypatch.setenv("WORKBENCH_TOTP", world.code(user))
        code = cli.main(["-w", str(world.ws.path), *argv])
        out = capsys.readouterr()
        assert code == 0, out.err
        return json.loads(out.out)

    def approved(user: str, *argv: str) -> Any:
        """Request (no --approval), approve as the approver, then carry it out."""
        request = run(user, *argv)
        approval_id = (request.get("approval_requested") or request)["approval_id"]
        run("approver", "approvals", "approve", approval_id)
        return run(user, *argv, "--approval", approval_id)

    assert run("query_operator", "procedures", "import", str(file))["new_procedures"] == len(heads)
    p1 = ["--procedure", "P1", "--year", "2026"]
    assert run("query_operator", "batch", "preview", "info", *p1, "--information", "local_tax")["total"] > 0

    def batch(kind: str, *extra: str) -> Any:
        request = run("query_operator", "batch", "request", kind, *p1, *extra)
        run("approver", "approvals", "approve", request["approval_id"])
        return run("query_operator", "batch", "create", kind, *p1, *extra, "--approval", request["approval_id"])

    info = batch("info", "--information", "local_tax")
    jk = batch("juki")
    later, _ = office.pop.evolve(seed=5, move_rate=0.1, rename_rate=0.05, death_rate=0.02)
    info_answers = intermediate_server.answer_package(world.ws, info["path"], office.pop, tmp_path / "ia", seed=1,
                                                 not_found=0.05, error=0.02)
    juki_answers = juki.answer_package(world.ws, jk["path"], later, tmp_path / "ja", seed=1)
    imported = run("query_operator", "batch", "import-results", str(info_answers[0]))
    assert imported["stored"] > 0
    assert run("query_operator", "batch", "import-results", str(juki_answers[0]))["discrepancies"]["moved"] > 0
    assert run("reviewer", "discrepancies", "list")
    out = approved("query_operator", "linkage", "export", *p1)
    assert out["ledger_entry"]["kind"] == "linkage_file" and out["record_count"] > 0

    records = audit_log.search(world.login("auditor"), limit=10_000)
    operations = {r["operation"] for r in records if r["outcome"] == "ok"}
    assert {"procedures.import_procedures", "batches.create_info_batch", "batches.create_juki_batch",
            "results.import_info_results", "results.import_juki_results", "discrepancies.list_discrepancies",
            "linkage.export_linkage", "approvals.decide"} <= operations
    log = json.dumps(records, ensure_ascii=False)
    leaked = [v for v in [*persons["person_id"], *persons["individual_number"], *persons["name"]] if v in log]
    assert not leaked
