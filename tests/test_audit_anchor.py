"""An audit log that anchors itself (issue 22 item 2).

Every commit appends its signed head to an anchor outside the workspace, signed with a key the
workspace folder does not hold; ``audit verify`` checks it by default and every unit of work checks
its newest line.  Tail truncation, a rollback of database and heads together, and a tail re-signed
with the audit key are each caught without anyone naming an anchor; the 7-year pruning leaves a
signed checkpoint so the remaining chain still verifies."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from workbench.controls import audit_log, users
from workbench.core import anchor, audit
from workbench.core.errors import AuditIntegrityError, InvalidInput, PermissionDenied
from workbench.lifecycle import retention

from .conftest import StaffedWorkspace
from .test_audit import _busy, _raw


def _write_refused(world: StaffedWorkspace) -> None:
    with pytest.raises(AuditIntegrityError):
        users.add(world.login("administrator"), "late", "遅刻", "Another-Pass-2026!")


def test_every_commit_is_anchored_outside_the_workspace(world: StaffedWorkspace, audit_anchor_dir: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _busy(world)
    ws = world.ws
    path = ws.anchor_path
    assert path.parent == audit_anchor_dir.resolve() and not path.is_relative_to(ws.path.resolve())
    lines = [json.loads(t) for t in path.read_text().splitlines()]
    last = audit.last_head(ws.heads_path)
    assert last is not None and lines[-1]["seq"] == last["seq"] and lines[-1]["hash"] == last["hash"]
    assert len(lines) >= 6 and path.stat().st_mode & 0o777 == 0o600
    # signed with the anchor key, which is not the audit key
    assert anchor.line_ok(ws.keyring.anchor_key(), lines[-1], ws.settings.workspace_id)
    assert not anchor.line_ok(ws.keyring.audit_key(), lines[-1], ws.settings.workspace_id)
    report = audit_log.verify(world.login("auditor"))
    assert report.ok and report.heads_checked > len(audit.read_heads(ws.heads_path)), report.message()
    # the nightly step: flushed, and it says whether Linux holds it append-only
    done = audit_log.anchor_outside(world.login("auditor"))
    assert done["path"] == str(path) and done["protection"] in ("append_only", "none")
    with pytest.raises(PermissionDenied):
        audit_log.anchor_outside(world.login("registrar"))
    # where it goes: the environment, else the setting, else beside the KEK; never inside the workspace
    kek = ws.kek
    assert kek is not None and kek.path is not None
    monkeypatch.delenv(anchor.ANCHOR_ENV)
    assert anchor.destination(workspace_path=ws.path, setting=None, kek_path=kek.path) == \
        kek.path.parent.resolve() / anchor.BESIDE_KEK
    assert anchor.destination(workspace_path=ws.path, setting="/srv/anchors", kek_path=kek.path) == Path("/srv/anchors")
    with pytest.raises(InvalidInput) as refused:
        anchor.destination(workspace_path=ws.path, setting=str(ws.path / "audit"), kek_path=kek.path)
    assert refused.value.reason == "anchor_inside_workspace" and "ワークスペースの中" in str(refused.value)


def test_tail_truncation_is_caught_without_a_flag(world: StaffedWorkspace) -> None:
    _busy(world)
    ws = world.ws
    last = audit.last_head(ws.heads_path)
    assert last is not None
    keep = int(last["seq"]) - 3
    # the attacker cuts the log's last records and the heads that name them
    _raw(world, lambda con: con.execute("DELETE FROM audit_log WHERE seq > ?", [keep]))
    heads = [t for t in ws.heads_path.read_text().splitlines() if json.loads(t)["seq"] <= keep]
    ws.heads_path.write_text("\n".join(heads) + "\n")
    assert audit.tail_problem(_open(world), key=ws.keyring.audit_key(), heads_path=ws.heads_path) is None
    _write_refused(world)  # the next unit of work met the anchor
    report = audit_log.verify(world.login("auditor"))
    assert not report.ok and report.first_bad_seq == keep + 1 and "truncated" in (report.reason or ""), report.message()


def _open(world: StaffedWorkspace) -> duckdb.DuckDBPyConnection:
    from workbench.core.store import Store

    return Store.open_connection(world.ws.db_path, world.ws.keyring.database_key_hex())


def test_a_rollback_of_database_and_heads_is_caught_without_a_flag(world: StaffedWorkspace, tmp_path: Path) -> None:
    _busy(world)
    ws = world.ws
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(ws.db_path, copy / "db")
    shutil.copy(ws.heads_path, copy / "heads")
    users.add(world.login("administrator"), "later1", "後日", "Another-Pass-2026!")
    shutil.copy(copy / "db", ws.db_path)
    shutil.copy(copy / "heads", ws.heads_path)
    _write_refused(world)
    report = audit_log.verify(world.login("auditor"))
    assert not report.ok and "truncated" in (report.reason or ""), report.message()


def test_a_tail_resigned_with_the_audit_key_is_caught(world: StaffedWorkspace) -> None:
    _busy(world)
    ws = world.ws
    key = ws.keyring.audit_key()

    def rewrite(con: duckdb.DuckDBPyConnection) -> None:
        row = con.execute("SELECT seq, logged_at, user_ref, operation, target_ref, params, outcome, prev_hash, hash"
                          " FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        assert row is not None
        record = audit.AuditRecord(row[0], row[1], row[2], row[3], row[4], row[5], "denied", row[7], "")  # the attacker changes the outcome…
        forged = record.computed_hash()
        con.execute("UPDATE audit_log SET outcome = 'denied', hash = ? WHERE seq = ?", [forged, row[0]])
        # …and signs a new head for it with the audit key, as anyone holding that key could
        head = {"seq": int(row[0]), "hash": forged, "at": "2026-06-01T01:00:00.000000Z"}
        epoch = audit.current_epoch(con)
        if epoch:
            head["epoch"] = epoch
        head["mac"] = audit._head_mac(key, head)
        with ws.heads_path.open("a") as f:
            f.write(json.dumps(head) + "\n")

    _raw(world, rewrite)
    _write_refused(world)
    report = audit_log.verify(world.login("auditor"))
    assert not report.ok and "differs from its signed head" in (report.reason or ""), report.message()


def test_an_anchor_line_forged_with_the_audit_key_is_caught(world: StaffedWorkspace) -> None:
    _busy(world)
    ws = world.ws
    last = audit.last_head(ws.heads_path)
    assert last is not None
    line = anchor.make_line(ws.keyring.audit_key(), {**last, "seq": int(last["seq"]) + 50}, workspace_id=ws.settings.workspace_id,
                            at=world.clock.now())
    anchor.append_line(ws.anchor_path, line)
    _write_refused(world)
    report = audit_log.verify(world.login("auditor"))
    assert not report.ok and "anchor forged" in (report.reason or ""), report.message()


def test_seven_year_pruning_leaves_a_signed_checkpoint_and_the_chain_verifies(world: StaffedWorkspace) -> None:
    _busy(world)
    old = audit.last_head(world.ws.heads_path)
    assert old is not None
    world.clock.advance(dt.timedelta(days=2556).total_seconds())
    users.add(world.login("administrator"), "newer", "最近", "Another-Pass-2026!")
    ops = world.login("operations")
    report = retention.apply(ops, dry_run=True)
    item = next(i for i in report["items"] if i["kind"] == "audit_records")
    assert item["due_now"] >= int(old["seq"]) and item["deleted"] == 0
    applied = retention.apply(world.login("operations"), dry_run=False)
    item = next(i for i in applied["items"] if i["kind"] == "audit_records")
    assert item["deleted"] == item["due_now"] > 0 and "checkpoint" in item["note"]
    with world.ws.transaction("test.read", "system") as con:
        first = con.execute("SELECT min(seq) FROM audit_log").fetchone()
        cp = audit.latest_checkpoint(con)
    assert cp is not None and first is not None and int(first[0]) == cp["seq"] + 1 and cp["seq"] >= int(old["seq"])
    lines = [json.loads(t) for t in world.ws.anchor_path.read_text().splitlines()]
    assert any(x["kind"] == "checkpoint" and x["seq"] == cp["seq"] for x in lines)
    verified = audit_log.verify(world.login("auditor"))
    assert verified.ok, verified.message()
    # the checkpoint cannot be forged (another count of records pruned) …
    _raw(world, lambda con: con.execute("UPDATE audit_checkpoints SET pruned = pruned + 1"))
    forged = audit_log.verify(world.login("auditor"))
    assert not forged.ok and any(code == "checkpoint_forged" for _, code in forged.problems), forged.message()


def test_a_deleted_checkpoint_is_a_gap(world: StaffedWorkspace) -> None:
    _busy(world)
    world.clock.advance(dt.timedelta(days=2556).total_seconds())
    users.add(world.login("administrator"), "newer", "最近", "Another-Pass-2026!")
    retention.apply(world.login("operations"), dry_run=False)
    _raw(world, lambda con: con.execute("DELETE FROM audit_checkpoints"))
    report = audit_log.verify(world.login("auditor"))
    assert not report.ok and report.first_bad_seq == 1, report.message()


def test_append_only_where_linux_permits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if os.geteuid() != 0 or shutil.which("chattr") is None:
        pytest.skip("chattr +a needs CAP_LINUX_IMMUTABLE (root)")
    monkeypatch.setenv(anchor.CHATTR_ENV, "1")
    path = tmp_path / "a" / "x.anchor.jsonl"
    try:
        assert anchor.append_line(path, {"seq": 1, "hash": "h"})
        if anchor.protection(path) != "append_only":
            pytest.skip("this file system does not keep the append-only attribute")
        anchor.append_line(path, {"seq": 2, "hash": "h"})  # appending still works
        assert len(path.read_text().splitlines()) == 2
        with pytest.raises(PermissionError):
            path.open("w")  # rewriting does not, not even for root
        with pytest.raises(PermissionError):
            path.unlink()
    finally:
        subprocess.run(["chattr", "-a", str(path)], check=False, capture_output=True)


def test_checkpoint_mac_is_not_the_head_mac() -> None:
    key = b"k" * 32
    mac = anchor.checkpoint_mac(key, workspace_id="w", seq=1, hash_="h", pruned=1, at="t")
    assert mac != hmac.new(key, b"audit-head:[1,\"h\",\"t\"]", hashlib.sha256).hexdigest()


def test_an_anchor_folder_that_cannot_be_written_refuses_work_before_it_starts(
        world: StaffedWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench import Workspace
    from workbench.core.errors import StoreError

    from .conftest import PASSWORD, key_source

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(anchor.ANCHOR_ENV, str(blocker / "anchors"))
    ws = Workspace.open(world.ws.path, clock=world.clock, key_source=key_source(world.ws.path))
    before = len(world.ws.heads_path.read_text().splitlines())
    world.clock.advance(30)
    with pytest.raises(StoreError) as refused:
        ws.login("administrator", PASSWORD, world.code("administrator"))
    assert refused.value.reason == "anchor_unwritable" and "アンカー" in str(refused.value)
    assert len(world.ws.heads_path.read_text().splitlines()) == before  # nothing was committed
