"""Backups with an end (issue 22 item 1).

Delete and purge people, then restore every older backup: none brings them back, because restore
re-applies the current deletion journal kept outside the workspace by itself (and refuses when it
cannot find it).  After the retention rule's period the nightly cycle destroys the backups and their
keyring copies, recorded in the media ledger with where they were."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import StaffedWorkspace
from tests.cycle_helpers import make_batch_account
from tests.lifecycle_helpers import delete_people, office_with_results, victim_households
from workbench import Workspace
from workbench.controls import batch_accounts
from workbench.core import anchor
from workbench.core.errors import InvalidInput
from workbench.cycles import engine
from workbench.lifecycle import backup, deletion, retention


def _count(ws: Workspace, sql: str, params: list[object] | None = None) -> int:
    with ws.transaction("test.read", "system") as con:
        return int(con.execute(sql, params or []).fetchone()[0])  # type: ignore[index]


def _held(ws: Workspace, people: list[str]) -> int:
    return _count(ws, "SELECT count(*) FROM persons WHERE person_id IN (SELECT unnest(?::VARCHAR[]))", [people])


def test_deleted_and_purged_people_come_back_from_no_backup(make_world: Callable[..., StaffedWorkspace], tmp_path: Path,
                                                            audit_anchor_dir: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    world = make_world()
    office_with_results(world, tmp_path)
    victims = victim_households(world, 2)
    made = []
    for n in (1, 2):
        b, k = tmp_path / "backups" / f"b{n}.wbbak", tmp_path / "keys" / f"k{n}.json"
        backup.backup(world.login("operations"), b, keyring_out=k)
        made.append((b, k))
        world.clock.advance(3600)
    record = delete_people(world, victims, "moved_out")
    deletion.purge(world.login("operations"))
    assert _held(world.ws, victims) == 0
    journal = anchor.journal_path(audit_anchor_dir.resolve(), world.ws.settings.workspace_id)
    assert record.deletion_id in journal.read_text()  # the current journal, outside the workspace
    # every older backup, restored with no journal named: the current one is found and re-applied
    for n, (b, k) in enumerate(made, 1):
        restored = backup.restore(b, into=tmp_path / f"restored{n}", keyring=k, clock=world.clock)
        assert restored["deletions_reapplied"] == [record.deletion_id]
        ws = Workspace.open(tmp_path / f"restored{n}", clock=world.clock)
        assert _held(ws, victims) == 0
        for table in ("person_numbers", "juki_results", "discrepancies", "query_requests"):
            assert _count(ws, f"SELECT count(*) FROM {table} WHERE person_id IN (SELECT unnest(?::VARCHAR[]))",
                          [victims]) == 0, table
    # without the current journal a restore is refused, never run silently on the backup's own
    monkeypatch.setenv(anchor.ANCHOR_ENV, str(tmp_path / "elsewhere"))
    with pytest.raises(InvalidInput) as refused:
        backup.restore(made[0][0], into=tmp_path / "refused", keyring=made[0][1], clock=world.clock)
    assert refused.value.reason == "journal_missing" and "削除ジャーナル" in str(refused.value)
    assert not (tmp_path / "refused").exists()
    # a journal older than the backup is not the current one
    old = tmp_path / "old-journal.jsonl"
    old.write_text("")
    later = tmp_path / "backups" / "b3.wbbak"
    monkeypatch.setenv(anchor.ANCHOR_ENV, str(audit_anchor_dir))
    backup.backup(world.login("operations"), later, keyring_out=tmp_path / "keys" / "k3.json")
    with pytest.raises(InvalidInput) as older:
        backup.restore(later, into=tmp_path / "older", keyring=tmp_path / "keys" / "k3.json", journal=old)
    assert older.value.reason == "journal_older"


def test_backups_past_their_period_are_destroyed_and_recorded(world: StaffedWorkspace, tmp_path: Path) -> None:
    kept, gone, moved = (tmp_path / "b" / f"{n}.wbbak" for n in ("kept", "gone", "moved"))
    backup.backup(world.login("operations"), gone, keyring_out=tmp_path / "k" / "gone.json")
    backup.backup(world.login("operations"), moved)
    shutil.move(moved, tmp_path / "offsite.wbbak")  # taken to other media: not at its place
    world.clock.advance(dt.timedelta(days=60).total_seconds())
    backup.backup(world.login("operations"), kept, keyring_out=tmp_path / "k" / "kept.json")
    world.clock.advance(dt.timedelta(days=31).total_seconds())
    rules = {r["kind"]: r for r in retention.rules(world.login("operations"))}
    assert rules["backups"]["keep_days"] == 90
    report = retention.apply(world.login("operations"), dry_run=True)
    item = next(i for i in report["items"] if i["kind"] == "backups")
    assert item["due_now"] == 2 and item["deleted"] == 0 and gone.exists()
    # the nightly cycle applies the rule (its retention stage), under its batch account
    key = make_batch_account(world, world.login("administrator"), world.login("approver"), "night", "nightly",
                             tmp_path / "night.key")
    state = engine.run_inline(batch_accounts.login(world.ws, key), "nightly", {})
    stages = {s.stage: s for s in state.stages}
    assert stages["retention"].detail["deleted_backups"] == 1
    assert not gone.exists() and not (tmp_path / "k" / "gone.json").exists()
    assert kept.exists() and (tmp_path / "k" / "kept.json").exists() and (tmp_path / "offsite.wbbak").exists()
    with world.ws.transaction("test.read", "system") as con:
        rows = con.execute("SELECT m.file_name, m.deleted_at IS NOT NULL, b.path, b.method, d.destroyed_at IS NOT NULL"
                           " FROM backup_places b JOIN media_ledger m USING (entry_id)"
                           " LEFT JOIN media_destructions d USING (entry_id) ORDER BY b.created_at").fetchall()
    assert rows == [("gone.wbbak", True, str(gone.resolve()), "deleted", True),
                    ("moved.wbbak", False, str(moved.resolve()), "not_found", False),
                    ("kept.wbbak", False, str(kept.resolve()), None, False)]
    # the one not found waits, like a copy handed over, until its destruction is confirmed
    marks = deletion.destruction_marks(world.login("registrar"))
    assert [m["file_name"] for m in marks] == ["moved.wbbak"]
    # the period is data: the floor is one day, and the change is audited
    with pytest.raises(InvalidInput):
        retention.set_rule(world.login("operations"), "backups", 0)
