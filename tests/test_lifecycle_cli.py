"""Issue 12 from the CLI alone: deletion list → approval → delete → purge → backup → restore, plus
retention, disclosure, inquiry, ID review; refusals exit non-zero with Japanese and English."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import StaffedWorkspace, scalar
from tests.lifecycle_helpers import deletion_csv, office_with_results, victim_households
from workbench import Workspace, cli


def test_lifecycle_from_the_cli(world: StaffedWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    office_with_results(world, tmp_path)
    victims = victim_households(world, 2)
    monkeypatch.setenv("WORKBENCH_PASSWORD", "Test-Pass-2026!")
    monkeypatch.setattr("workbench.cli._common.open_workspace", lambda args: world.ws)  # the test's fixed clock

    def call(user: str, *argv: str) -> tuple[int, str, str]:
        world.clock.advance(30)
        monkeypatch.setenv("WORKBENCH_USER", user)
        monkeypatch.setenv("WORKBENCH_TOTP", world.code(user))
        code = cli.main(["-w", str(world.ws.path), *argv])
        out = capsys.readouterr()
        return code, out.out, out.err

    def run(user: str, *argv: str) -> Any:
        code, out, err = call(user, *argv)
        assert code == 0, err
        return json.loads(out)

    listfile = tmp_path / "sakujo.csv"
    listfile.write_bytes(deletion_csv([(v, "退去") for v in victims], encoding="cp932"))
    preview = run("registrar", "deletion", "import", str(listfile))
    assert preview["persons"] == len(victims) and preview["by_reason"] == {"moved_out": len(victims)}
    list_id = preview["list_id"]
    assert run("registrar", "deletion", "lists")[0]["list_id"] == list_id
    assert run("registrar", "deletion", "preview", list_id)["by_record"]["person_numbers"] == len(victims)
    requested = run("registrar", "deletion", "request", list_id)
    approval_id = requested["approval"]["approval_id"]
    run("approver", "approvals", "approve", approval_id)

    # bad input: wrong layout, unknown person; a refusal is bilingual and exits non-zero
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"foo,bar\n1,2\n")
    code, _, err = call("registrar", "deletion", "import", str(bad))
    assert code == 2 and json.loads(err)["message_ja"] and json.loads(err)["message_en"]

    backup_file, key_copy = tmp_path / "bk" / "before.wbbak", tmp_path / "keys" / "before.json"
    assert run("operations", "backup", "--out", str(backup_file), "--keyring-out", str(key_copy))["keyring_copy"]
    # Files not yet handed over that hold them (the preview names them): without --discard-file for each,
    # the deletion waits and deletes nothing (issue 22 item 5); named, they are destroyed with it.
    pending = [f["entry_id"] for f in preview["pending_files"]]
    assert pending, "the Juki-net batch is still waiting in outgoing/"
    seen = ("--expected-count", str(len(victims)))  # how many the preview showed (issue 20 item 7)
    code, _, err = call("registrar", "deletion", "apply", list_id, "--approval", approval_id, *seen)
    assert code == 2 and json.loads(err)["reason"] == "pending_files"
    discards = [arg for entry in pending for arg in ("--discard-file", entry)]
    record = run("registrar", "deletion", "apply", list_id, "--approval", approval_id, *seen, *discards)
    assert record["persons"] == len(victims) and record["erased_at"] is None
    assert run("operations", "deletion", "purge")["deletions_erased"] == 1
    assert run("registrar", "deletion", "records")[0]["erased_at"]
    assert run("operations", "backup-verify", str(backup_file), "--keyring", str(key_copy))["ok"]
    restored = run("operations", "restore", str(backup_file), "--into", str(tmp_path / "restored"),
                   "--keyring", str(key_copy), "--journal", str(world.ws.path / "audit" / "deletion_journal.jsonl"))
    assert restored["audit_ok"] and len(restored["deletions_reapplied"]) == 1
    # naming no journal: the current one, outside the workspace, is found and re-applied (issue 22 item 1)
    found = run("operations", "restore", str(backup_file), "--into", str(tmp_path / "restored-2"),
                "--keyring", str(key_copy))
    assert found["deletions_reapplied"] == restored["deletions_reapplied"]
    # the daily check and the anchor from the command line
    assert run("query_operator", "retention", "check-numbers")["persons"] == 0
    outside = run("auditor", "audit", "anchor-outside")
    assert outside["protection"] in ("append_only", "none") and outside["lines"] > 0
    ws2 = Workspace.open(tmp_path / "restored")
    with ws2.transaction("t", "t") as con:
        assert scalar(con, "SELECT count(*) FROM persons WHERE person_id IN (SELECT unnest(?::VARCHAR[]))",
                      [victims]) == 0
    code, _, err = call("operations", "restore", str(backup_file), "--into", str(tmp_path / "r2"),
                        "--keyring", str(world.ws.path / "keyring.json"))
    assert code == 6 and json.loads(err)["error"] == "wrong_key"

    assert {i["kind"] for i in run("query_operator", "retention", "report")["items"]} >= {"audit_records"}
    assert run("query_operator", "retention", "set", "return_lists", "120")["keep_days"] == 120
    code, _, err = call("query_operator", "retention", "set", "audit_records", "10")
    assert code == 2

    pid = victim_households(world, 1)[0]
    html_out = tmp_path / "kaiji.html"
    assert run("reviewer", "disclosure", "show", pid, "--out", str(html_out))["path"] == str(html_out)
    assert run("reviewer", "disclosure", "correct", pid, "kana", "テスト", "--reason", "請求")["field"] == "kana"
    code, _, err = call("reviewer", "disclosure", "correct", pid, "individual_number", "1", "--reason", "請求")
    assert code == 2 and "訂正できません" in json.loads(err)["message_ja"]
    run("reviewer", "disclosure", "suspend", pid, "--reason", "請求")
    assert run("reviewer", "disclosure", "suspensions")[0]["person_id"] == pid
    run("reviewer", "disclosure", "lift", pid, "--reason", "取下げ")
    q = run("reviewer", "inquiry", "add", "--channel", "phone", "--category", "handling", "--question", "保管について")
    run("reviewer", "inquiry", "close", q["inquiry_id"], "--response", "説明した")
    assert run("reviewer", "inquiry", "search", "--text", "保管")[0]["status"] == "closed"
    assert run("reviewer", "inquiry", "monthly", "--year", "2026")["total"] == 1

    review = run("administrator", "idreview", "start")
    run("administrator", "idreview", "disable", review["review_id"], "analyst", "--reason", "異動")
    sign = run("administrator", "idreview", "signoff", review["review_id"])["approval_requested"]
    run("approver", "approvals", "approve", sign["approval_id"])
    assert run("administrator", "idreview", "signoff", review["review_id"], "--approval",
               sign["approval_id"])["status"] == "signed_off"
    assert run("administrator", "idreview", "list")[0]["signed_off_by"] == "approver"
    with world.ws.transaction("t", "t") as con:
        dead = con.execute("SELECT discrepancy_id FROM discrepancies WHERE kind = 'deceased' LIMIT 1").fetchone()
    if dead:
        assert run("reviewer", "deceased", "confirm", dead[0])["deceased"]
