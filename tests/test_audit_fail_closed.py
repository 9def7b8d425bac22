"""The audit log fails closed and can be anchored (issue 10 items 3 and 4).

A broken log — found by ``audit verify``, by the tail check at the start of every unit of
work, or against an anchor kept elsewhere — stops every write and every reveal until an
auditor records what happened; the reads needed to investigate stay possible.  Restoring
``db/`` and ``heads.jsonl`` together from an older copy is caught by the anchor, and a
missing or shorter heads file is a failure, not a pass."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pytest

from tests.direct_load import load_world
from workbench.cli import main
from workbench.controls import audit_log, users
from workbench.core import credentials, rotation
from workbench.core.errors import AuditIntegrityError, InvalidInput, PermissionDenied
from workbench.files import media
from workbench.intake import persons
from workbench.simulate import generate_world

from .conftest import PASSWORD, StaffedWorkspace
from .test_audit import _busy, _raw


@pytest.fixture
def person(world: StaffedWorkspace) -> tuple[str, str]:
    people = generate_world(20, seed=4)
    load_world(world.ws, people.persons, people.households, registered=np.ones(len(people.persons), bool))
    row = people.persons.iloc[0]
    return str(row["person_id"]), str(row["individual_number"])


def _stopped(world: StaffedWorkspace, person_id: str) -> None:
    with pytest.raises(AuditIntegrityError):
        users.add(world.login("administrator"), "late", "遅刻", "Another-Pass-2026!")
    with pytest.raises(AuditIntegrityError):
        persons.reveal_number(world.login("reviewer"), person_id)


def _cli(world: StaffedWorkspace, monkeypatch: pytest.MonkeyPatch, user: str, *argv: str) -> int:
    monkeypatch.setenv("WORKBENCH_USER", user)
    monkeypatch.setenv("WORKBENCH_PASSWORD", PASSWORD)
    monkeypatch.setenv("WORKBENCH_NEW_PASSWORD", "Another-Pass-2026!")
    monkeypatch.setenv("WORKBENCH_TOTP", credentials.totp_code(world.secrets[user], dt.datetime.now(dt.UTC)))
    return main(["-w", str(world.ws.path), *argv])


def test_an_edited_record_stops_writes_and_reveals_until_an_auditor_acknowledges(
    world: StaffedWorkspace, person: tuple[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    person_id, number = person
    _busy(world)
    _raw(world, lambda con: con.execute("UPDATE audit_log SET params = '{}' WHERE seq = 5"))
    users.add(world.login("administrator"), "before", "前", "Another-Pass-2026!")  # nobody has looked yet
    auditor = world.login("auditor")
    report = audit_log.verify(auditor)
    assert not report.ok and report.first_bad_seq == 5 and "edited" in (report.reason or "")
    # The commands of the report: refused, from the CLI too, and each refusal is in the log.
    world.add_user("kanri2", ["administrator"])  # the CLI logs in on the real clock, the fixtures on a fixed one
    world.add_user("shinsa2", ["reviewer"])
    assert _cli(world, monkeypatch, "kanri2", "user", "add", "ghost") == 7
    assert _cli(world, monkeypatch, "shinsa2", "person", "show", person_id, "--reveal") == 7
    err = capsys.readouterr().err
    assert "audit_integrity" in err and number not in err
    _stopped(world, person_id)
    with pytest.raises(AuditIntegrityError):
        persons.get(world.login("registrar"), person_id)
    # What the investigation needs still works.
    auditor = world.login("auditor")
    assert audit_log.search(auditor, operation="users.add", outcome="refused")
    assert media.ledger(auditor) == []
    assert not audit_log.verify(auditor).ok
    # Only an auditor records what happened, and must say what.
    with pytest.raises(PermissionDenied):
        audit_log.acknowledge(world.login("administrator"), "見なかったことにする")
    with pytest.raises(InvalidInput):
        audit_log.acknowledge(auditor, "  ")
    done = audit_log.acknowledge(auditor, "記録5番はテストで改変。バックアップと照合済み。")
    assert [5, "edited"] in [list(p) for p in done["problems"]]
    assert users.add(world.login("administrator"), "after", "後", "Another-Pass-2026!").user_id == "after"
    assert persons.reveal_number(world.login("reviewer"), person_id) == number
    report = audit_log.verify(world.login("auditor"))
    assert report.ok and report.acknowledged >= 1, report.message()
    # Damage after the acknowledgement is found again, even behind the acknowledged record.
    _raw(world, lambda con: con.execute("UPDATE audit_log SET outcome = 'ok?' WHERE seq = 8"))
    report = audit_log.verify(world.login("auditor"))
    assert not report.ok and report.first_bad_seq == 8
    _stopped(world, person_id)


def test_an_edited_last_record_is_caught_at_the_next_unit_of_work(world: StaffedWorkspace, person: tuple[str, str]) -> None:
    _busy(world)
    _raw(world, lambda con: con.execute(
        "UPDATE audit_log SET outcome = 'denied' WHERE seq = (SELECT max(seq) FROM audit_log)"))
    _stopped(world, person[0])
    with pytest.raises(AuditIntegrityError):  # no key rotation either
        rotation.rotate(world.login("operations"))
    assert set(world.ws.keyring.masters) == {1}
    hits = audit_log.search(world.login("auditor"), operation="audit.alarm")
    assert len(hits) == 1 and json.loads(hits[0]["params"])["reason"] == "edited"


def test_a_truncated_tail_is_caught_at_the_next_unit_of_work(world: StaffedWorkspace, person: tuple[str, str]) -> None:
    _busy(world)
    _raw(world, lambda con: con.execute("DELETE FROM audit_log WHERE seq > (SELECT max(seq) - 2 FROM audit_log)"))
    _stopped(world, person[0])
    report = audit_log.verify(world.login("auditor"))
    assert not report.ok and "truncated" in (report.reason or "")


def test_a_deleted_heads_file_is_a_failure_not_a_pass(world: StaffedWorkspace, person: tuple[str, str]) -> None:
    _busy(world)
    world.ws.heads_path.unlink()
    report = audit_log.verify(world.login("auditor"))  # the login writes a fresh heads file; the alarm stays
    assert not report.ok and "heads file is missing" in (report.reason or "")
    _stopped(world, person[0])


def test_restoring_an_older_copy_is_caught_by_the_anchor(world: StaffedWorkspace, person: tuple[str, str], tmp_path: Path) -> None:
    ws = world.ws
    _busy(world)
    backup = tmp_path / "backup"
    backup.mkdir()
    shutil.copy(ws.db_path, backup / "workbench.duckdb")
    shutil.copy(ws.heads_path, backup / "heads.jsonl")
    users.add(world.login("administrator"), "later1", "後日", "Another-Pass-2026!")
    anchor = tmp_path / "elsewhere" / "anchor.jsonl"
    done = audit_log.anchor(world.login("operations"), str(anchor))
    assert done["anchored"] and anchor.stat().st_mode & 0o777 == 0o600
    assert audit_log.verify(world.login("auditor"), anchor=str(anchor)).ok
    # Roll back the database and the heads file together, as an attacker would.
    shutil.copy(backup / "workbench.duckdb", ws.db_path)
    shutil.copy(backup / "heads.jsonl", ws.heads_path)
    # The next anchoring notices, and does not anchor over the rollback: it raises the alarm.
    again = audit_log.anchor(world.login("operations"), str(anchor))
    assert not again["anchored"] and "truncated" in (again["report"].reason or "")
    assert len(anchor.read_text().splitlines()) == 1
    report = audit_log.verify(world.login("auditor"), anchor=str(anchor))
    assert not report.ok and "truncated" in (report.reason or ""), report.message()
    _stopped(world, person[0])
    with pytest.raises(AuditIntegrityError):
        audit_log.anchor(world.login("operations"), str(anchor))


def test_a_missing_or_shorter_heads_file_fails_against_the_anchor(world: StaffedWorkspace, tmp_path: Path) -> None:
    _busy(world)
    anchor = tmp_path / "anchor.jsonl"
    audit_log.anchor(world.login("auditor"), str(anchor))
    lines = world.ws.heads_path.read_text().splitlines()
    world.ws.heads_path.write_text("\n".join(lines[: len(lines) // 2]) + "\n")  # the log itself untouched
    report = audit_log.verify(world.login("auditor"), anchor=str(anchor))
    assert not report.ok and "heads file is truncated" in (report.reason or ""), report.message()


def test_a_missing_or_forged_anchor_is_a_failure(world: StaffedWorkspace, tmp_path: Path) -> None:
    _busy(world)
    report = audit_log.verify(world.login("auditor"), anchor=str(tmp_path / "nowhere.jsonl"))
    assert not report.ok and "anchor file is missing" in (report.reason or "")
    audit_log.acknowledge(world.login("auditor"), "アンカーの保存先を誤って指定した")
    anchor = tmp_path / "anchor.jsonl"
    audit_log.anchor(world.login("auditor"), str(anchor))
    line = json.loads(anchor.read_text())
    line["seq"] += 100
    anchor.write_text(json.dumps(line) + "\n")
    report = audit_log.verify(world.login("auditor"), anchor=str(anchor))
    assert not report.ok and "anchor forged" in (report.reason or "")
    anchor.write_bytes(b"\xff\xfe garbage\n")
    report = audit_log.verify(world.login("auditor"), anchor=str(anchor))
    assert not report.ok and "anchor forged" in (report.reason or "")


def test_who_may_anchor_and_where(world: StaffedWorkspace) -> None:
    with pytest.raises(PermissionDenied):
        audit_log.anchor(world.login("registrar"), "/tmp/x.jsonl")
    with pytest.raises(InvalidInput):
        audit_log.anchor(world.login("operations"), str(world.ws.path / "audit" / "anchor.jsonl"))


def test_anchor_and_verify_from_the_cli(world: StaffedWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    anchor = tmp_path / "anchor.jsonl"
    assert _cli(world, monkeypatch, "operations", "audit", "anchor", "--to", str(anchor)) == 0
    assert json.loads(capsys.readouterr().out)["anchored"] is True
    assert _cli(world, monkeypatch, "auditor", "audit", "verify", "--anchor", str(anchor)) == 0
    capsys.readouterr()
    _raw(world, lambda con: con.execute("DELETE FROM audit_log WHERE seq > 3"))
    world.ws.heads_path.write_text("\n".join(world.ws.heads_path.read_text().splitlines()[:1]) + "\n")
    world.add_user("kansa2", ["auditor"])  # a one-time code cannot serve two CLI logins in one 30 s step
    assert _cli(world, monkeypatch, "kansa2", "audit", "verify", "--anchor", str(anchor)) == 7
    out = json.loads(capsys.readouterr().out)
    assert not out["ok"] and "truncated" in out["message_en"]


def test_the_alarm_cannot_be_lifted_by_editing_the_database_without_the_key(world: StaffedWorkspace) -> None:
    """The alarm and its acknowledgements live in the encrypted store, like the log."""
    _busy(world)
    with pytest.raises(duckdb.Error):
        duckdb.connect(str(world.ws.db_path)).execute("SELECT * FROM audit_alarms")


def test_a_head_line_cut_short_by_a_crash_does_not_stop_work(world: StaffedWorkspace) -> None:
    _busy(world)
    with world.ws.heads_path.open("a", encoding="ascii") as f:
        f.write('{"seq": 99, "ha')  # a kill mid-write, at the very end
    users.add(world.login("administrator"), "next", "次", "Another-Pass-2026!")
    last = world.ws.heads_path.read_text().splitlines()[-1]
    assert json.loads(last)["seq"] > 0
