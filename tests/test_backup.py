"""C12 backup and restore: the restore drill (issue 12 item 7; Done when: an older backup does not bring them back)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import MakeWorld, StaffedWorkspace, scalar
from tests.lifecycle_helpers import delete_people, office_with_results, victim_households
from workbench import Workspace
from workbench.controls import audit_log
from workbench.core.errors import InvalidInput, KeyringError, PackageError, PermissionDenied, StoreError, WrongKey
from workbench.core.keys import FileKeySource, WrappedKeySource
from workbench.lifecycle import backup, deletion


def _count(ws: Workspace, sql: str, params: list[object] | None = None) -> int:
    with ws.transaction("test.read", "system") as con:
        return int(scalar(con, sql, params or []))


def test_restore_drill(make_world: MakeWorld, tmp_path: Path) -> None:
    world = make_world()
    office_with_results(world, tmp_path)
    victims = victim_households(world, 2)
    ops = world.login("operations")
    b1 = tmp_path / "backups" / "b1.wbbak"
    k1 = tmp_path / "keys" / "keyring-b1.json"
    made = backup.backup(ops, b1, keyring_out=k1)
    assert made["keyring_copy"] == str(k1) and b1.exists() and k1.exists()
    assert k1.stat().st_mode & 0o777 == 0o600
    # nothing readable in the backup file: the database inside is encrypted, and so is the package
    assert backup.verify_backup(b1, keyring=k1)["ok"]

    # after the backup: the victims are deleted and purged (the purge destroys the old key in the live keyring)
    delete_people(world, victims, "moved_out")
    deletion.purge(world.login("operations"))
    live_numbers = _count(world.ws, "SELECT count(*) FROM person_numbers")
    live_persons = _count(world.ws, "SELECT count(*) FROM persons")

    # the live keyring cannot open the old backup any more (its key version was destroyed)
    live_ring = tmp_path / "keys" / "live.json"
    world.ws.keyring.save(WrappedKeySource(FileKeySource(live_ring), world.ws.kek))
    with pytest.raises(WrongKey):
        backup.restore(b1, into=tmp_path / "r0", keyring=live_ring)
    assert not (tmp_path / "r0").exists()

    # restore the older backup with its keyring copy and the live deletion journal
    journal = world.ws.path / deletion.JOURNAL_FILE
    restored = backup.restore(b1, into=tmp_path / "restored", keyring=k1, journal=journal, clock=world.clock)
    assert restored["audit_ok"] and len(restored["deletions_reapplied"]) == 1 and restored["purge_needed"]
    ws2 = Workspace.open(tmp_path / "restored", clock=world.clock)
    assert _count(ws2, "SELECT count(*) FROM persons WHERE person_id IN (SELECT unnest(?::VARCHAR[]))", [victims]) == 0
    assert _count(ws2, "SELECT count(*) FROM person_numbers") == live_numbers
    assert _count(ws2, "SELECT count(*) FROM persons") == live_persons
    # the audit chain of the restored workspace verifies (login needs the users, restored with the data)
    world2 = StaffedWorkspace(ws2, world.clock)
    world2.secrets = world.secrets
    assert audit_log.verify(world2.login("auditor")).ok
    # restoring twice into the same folder is refused; the same journal again changes nothing
    with pytest.raises(InvalidInput):
        backup.restore(b1, into=tmp_path / "restored", keyring=k1)
    assert deletion.reapply_journal(ws2, deletion.read_journal(journal, ws2.keyring.audit_key())) == []
    # a restore naming no journal finds the current one outside the workspace by itself (issue 22 item 1):
    # it never falls back on the backup's own, older journal
    plain = backup.restore(b1, into=tmp_path / "no-journal", keyring=k1, clock=world.clock)
    assert len(plain["deletions_reapplied"]) == 1
    assert _count(Workspace.open(tmp_path / "no-journal"), "SELECT count(*) FROM persons WHERE person_id IN"
                  " (SELECT unnest(?::VARCHAR[]))", [victims]) == 0


def test_wrong_key_corrupted_backup_and_permissions(make_world: MakeWorld, tmp_path: Path) -> None:
    world = make_world()
    other = make_world("other")
    ops = world.login("operations")
    b = tmp_path / "b" / "b.wbbak"
    k = tmp_path / "k" / "k.json"
    backup.backup(ops, b, keyring_out=k)
    # the keyring never beside the data, nor inside the workspace
    with pytest.raises(InvalidInput):
        backup.backup(world.login("operations"), tmp_path / "b" / "b2.wbbak", keyring_out=tmp_path / "b" / "k2.json")
    with pytest.raises(InvalidInput):
        backup.backup(world.login("operations"), tmp_path / "b" / "b3.wbbak", keyring_out=world.ws.path / "k3.json")
    # another workspace's keyring
    ko = tmp_path / "k" / "other.json"
    other.ws.keyring.save(WrappedKeySource(FileKeySource(ko), other.ws.kek))
    with pytest.raises(WrongKey):
        backup.restore(b, into=tmp_path / "r1", keyring=ko)
    # a flipped bit, a truncated file
    data = bytearray(b.read_bytes())
    data[len(data) // 2] ^= 0x01
    bad = tmp_path / "b" / "flipped.wbbak"
    bad.write_bytes(bytes(data))
    with pytest.raises(PackageError):
        backup.restore(bad, into=tmp_path / "r2", keyring=k)
    cut = tmp_path / "b" / "cut.wbbak"
    cut.write_bytes(b.read_bytes()[:-100])
    with pytest.raises(PackageError):
        backup.verify_backup(cut, keyring=k)
    # a damaged keyring copy, a forged journal
    kd = tmp_path / "k" / "damaged.json"
    doc = json.loads(k.read_text())
    doc["wraps"][0]["ciphertext"] = doc["wraps"][0]["ciphertext"].replace("A", "B", 1).replace("a", "b", 1)
    kd.write_text(json.dumps(doc))
    with pytest.raises(KeyringError):
        backup.restore(b, into=tmp_path / "r3", keyring=kd)
    jf = tmp_path / "k" / "journal.jsonl"
    jf.write_text('{"deletion_id": "PDX", "at": "x", "refs": [], "prev": "' + "0" * 64 + '", "mac": "00"}\n')
    with pytest.raises(StoreError):
        backup.restore(b, into=tmp_path / "r4", keyring=k, journal=jf)
    assert not any((tmp_path / f"r{i}").exists() for i in range(1, 5))
    # only operations may back up
    for role in ("registrar", "auditor", "administrator"):
        with pytest.raises(PermissionDenied):
            backup.backup(world.login(role), tmp_path / "b" / f"{role}.wbbak")
    assert not (tmp_path / "b" / "registrar.wbbak").exists()
