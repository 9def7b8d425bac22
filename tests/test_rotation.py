"""Key rotation: every ciphertext and the database move to new keys; old keys destroyed."""

from __future__ import annotations

import numpy as np
import pytest

from tests.direct_load import load_world
from workbench.controls import audit_log
from workbench.core import rotation
from workbench.core.errors import KeyringError, PermissionDenied, WrongKey
from workbench.core.store import Store
from workbench.intake import persons
from workbench.simulate import generate_world

from .conftest import StaffedWorkspace


def test_rotate_moves_everything(world: StaffedWorkspace) -> None:
    people = generate_world(50, seed=3)
    load_world(world.ws, people.persons, people.households, registered=np.ones(len(people.persons), bool))
    first = people.persons.iloc[0]
    ring = world.ws.keyring
    old_db_key = ring.database_key_hex()
    ops = world.login("operations")
    report = rotation.rotate(ops)
    assert report.new_version == 2 and report.old_versions == [1]
    assert report.numbers == 50 and report.totp_secrets == 8
    assert sorted(ring.masters) == [2]
    with pytest.raises(KeyringError):
        ring.key("numbers", 1)
    with pytest.raises(WrongKey):
        Store.open_connection(world.ws.db_path, old_db_key)
    reviewer = world.login("reviewer")  # TOTP secrets were re-encrypted
    assert persons.reveal_number(reviewer, first["person_id"]) == first["individual_number"]
    assert audit_log.verify(world.login("auditor")).ok


def test_only_operations_may_rotate(world: StaffedWorkspace) -> None:
    with pytest.raises(PermissionDenied):
        rotation.rotate(world.login("administrator"))
    assert world.ws.keyring.current == 1


def test_repair_finds_the_version_after_a_crash(world: StaffedWorkspace) -> None:
    ring = world.ws.keyring
    ring.database_version = ring.add_version()  # keyring says v2, file is still v1
    ring.save(world.ws.key_source)
    assert rotation.repair(world.ws) == 1


def test_every_encrypted_number_column_is_rotated(world: StaffedWorkspace) -> None:
    """Any BLOB column named like a number ciphertext must be listed for rotation."""
    with world.ws.transaction("test.schema", "test") as con:
        found = {
            (t, c) for t, c in con.execute(
                "SELECT table_name, column_name FROM information_schema.columns"
                " WHERE data_type = 'BLOB' AND column_name LIKE '%number_ct%'"
            ).fetchall()
        }
    assert found == {(col.table, col.ciphertext) for col in rotation.ENCRYPTED_NUMBERS}


def test_another_process_notices_a_rotation_without_rereading_an_unchanged_keyring(
        world: StaffedWorkspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """``Workspace._db_key`` reads the keyring file only when its stamp (inode, size, times) changed."""
    from workbench import Workspace
    from workbench.core.keys import FileKeySource

    other = Workspace.open(world.ws.path, clock=world.clock)  # as a second process would
    reads: list[object] = []
    real_read = FileKeySource.read
    def counted_read(self: FileKeySource) -> bytes | None:
        reads.append(self)
        return real_read(self)

    monkeypatch.setattr(FileKeySource, "read", counted_read)
    for _ in range(3):
        other.audit_only("system", "test.unit", "ok")
    assert reads == []  # unchanged keyring: stat only
    rotation.rotate(world.login("operations"))  # by the first "process"
    reads.clear()
    other.audit_only("system", "test.unit", "ok")  # would fail on the old database key
    assert reads and other.keyring.current == 2 and sorted(other.keyring.masters) == [2]
    assert audit_log.verify(world.login("auditor")).ok
