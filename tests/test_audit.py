"""Audit log: same transaction, pseudonyms, hash chain, tampering, heads (issue 2 item 7)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import NoReturn

import duckdb
import pytest

from workbench.controls import audit_log, users
from workbench.core import audit
from workbench.core.errors import AuditFailure
from workbench.core.store import Store

from .conftest import StaffedWorkspace, scalar


def _raw(world: StaffedWorkspace, sql_steps: Callable[[duckdb.DuckDBPyConnection], object]) -> None:
    """Edit the database behind the workbench's back, as an attacker with the key would."""
    ws = world.ws
    with ws.lock.hold("test", "attacker"):
        con = Store.open_connection(ws.db_path, ws.keyring.database_key_hex())
        try:
            sql_steps(con)
        finally:
            con.close()


def _busy(world: StaffedWorkspace) -> None:
    admin = world.login("administrator")
    for i in range(5):
        users.add(admin, f"staff{i}", f"職員{i}", "Another-Pass-2026!")


def _verify(world: StaffedWorkspace) -> audit.AuditReport:
    return audit_log.verify(world.login("auditor"))


def test_log_holds_no_identifier_in_clear(world: StaffedWorkspace) -> None:
    _busy(world)
    _raw(world, lambda con: _assert_no_clear(con))


def _assert_no_clear(con: duckdb.DuckDBPyConnection) -> None:
    text = json.dumps(con.execute("SELECT * FROM audit_log").fetchall(), default=str, ensure_ascii=False)
    assert "staff3" not in text and "職員3" not in text


def test_clean_log_verifies(world: StaffedWorkspace) -> None:
    _busy(world)
    report = _verify(world)
    assert report.ok and report.records > 10 and report.heads_checked > 0


@pytest.mark.parametrize(
    "attack",
    [
        "UPDATE audit_log SET outcome = 'tampered' WHERE seq = 5",
        "UPDATE audit_log SET params = '{}' WHERE seq = 5",
        "DELETE FROM audit_log WHERE seq = 5",
        "UPDATE audit_log SET seq = CASE seq WHEN 5 THEN 6 WHEN 6 THEN 5 END WHERE seq IN (5, 6)",
        "insert",
        "truncate",
    ],
)
def test_tampering_is_detected_and_named(world: StaffedWorkspace, attack: str) -> None:
    _busy(world)

    def edit(con: duckdb.DuckDBPyConnection) -> None:
        if attack == "insert":
            # Make room at 5 and insert a forged record with a self-consistent hash.
            con.execute("UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 5")
            con.execute("UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1005")
            prev = scalar(con, "SELECT hash FROM audit_log WHERE seq = 4")
            rec = audit.AuditRecord(5, "2026-06-01T00:00:00.000000Z", "x", "forged", None, "{}", "ok", prev, "")
            con.execute("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [5, rec.logged_at, "x", "forged", None, "{}", "ok", prev, rec.computed_hash()])
        elif attack == "truncate":
            con.execute("DELETE FROM audit_log WHERE seq > (SELECT max(seq) - 3 FROM audit_log)")
        else:
            con.execute(attack)

    _raw(world, edit)
    # The auditor's own login appends to the log; verification still names the damage.
    report = _verify(world)
    assert not report.ok
    assert report.first_bad_seq is not None
    if attack != "truncate":
        assert report.first_bad_seq in (5, 6)
    ja, en = report.message()
    assert str(report.first_bad_seq) in en and "操作ログ" in ja


def test_operation_fails_closed_when_audit_cannot_be_written(world: StaffedWorkspace, monkeypatch: pytest.MonkeyPatch) -> None:
    admin = world.login("administrator")

    def broken(*args: object, **kwargs: object) -> NoReturn:
        raise AuditFailure("audit down", "監査ログ停止")

    monkeypatch.setattr(audit, "append", broken)
    with pytest.raises(AuditFailure):
        users.add(admin, "ghost", "幽霊", "Another-Pass-2026!")
    monkeypatch.undo()
    names = [u.user_id for u in users.list_users(admin)]
    assert "ghost" not in names


def test_search_by_user_target_operation(world: StaffedWorkspace) -> None:
    _busy(world)
    auditor = world.login("auditor")
    hits = audit_log.search(auditor, target="staff2")
    assert [h["operation"] for h in hits] == ["users.add"]
    assert audit_log.search(auditor, operation="users.*", user_id="administrator")


def test_cli_verify_reports_a_broken_chain_with_exit_code_7(world: StaffedWorkspace, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A failed verification is a report on stdout with its own exit code (no exception used to carry it)."""
    from workbench import cli

    _busy(world)
    monkeypatch.setenv("WORKBENCH_PASSWORD", "Test-Pass-2026!")
    monkeypatch.setattr("workbench.cli._common.open_workspace", lambda args: world.ws)

    def verify() -> tuple[int, dict[str, object]]:
        world.clock.advance(30)
        monkeypatch.setenv("WORKBENCH_USER", "auditor")
        monkeypatch.setenv("WORKBENCH_TOTP", world.code("auditor"))
        code = cli.main(["-w", str(world.ws.path), "audit", "verify"])
        return code, json.loads(capsys.readouterr().out)

    code, report = verify()
    assert code == 0 and report["ok"] is True
    _raw(world, lambda con: con.execute("UPDATE audit_log SET outcome = 'tampered' WHERE seq = 5"))
    code, report = verify()
    assert code == 7 and report["ok"] is False and report["message_ja"]
