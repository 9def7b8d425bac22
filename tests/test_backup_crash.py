"""Backup and restore survive a kill at every step (issue 24 items 1 and 2), as key rotation does.

The issue's cases, reproduced with SIGKILL and now safe:

- a killed ``restore`` left a half-restored folder that opened normally with the people deleted after the
  backup back in it, and no ``backup.restore`` record (or the deletions re-applied but no record): now the
  workspace is built in a staging folder marked unfinished, which never opens, and appears under its name
  only after the deletions are re-applied and the restore recorded; the next restore removes the leftover;
- a ``backup`` killed during its write left a ``.tmp`` file, and one killed after the rename but before it
  was recorded left a complete backup missing from the ledger: now the file is ``….partial`` until it is
  recorded, ``backup-verify`` names it as unfinished, and the next backup into the folder settles it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import StaffedWorkspace
from tests.lifecycle_helpers import delete_people, office_with_results, victim_households
from workbench import FileKeySource, Workspace
from workbench.core import audit
from workbench.core.errors import PackageError, StoreError
from workbench.core.keys import WrappedKeySource
from workbench.core.workspace import RESTORE_MARKER
from workbench.lifecycle import backup, deletion

ROOT = Path(__file__).resolve().parent.parent

CHILD = textwrap.dedent("""
    import os, signal, sys
    from workbench import Workspace
    from workbench.core.workspace import Session
    from workbench.lifecycle import backup

    mode, kill_at, *rest = sys.argv[1:]

    def hook(step):
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    backup.fault_hook = hook
    if mode == "backup":
        ws = Workspace.open(rest[0])
        backup.backup(Session(ws, "operations", ("operations",), ws.clock.now()), rest[1])
    else:
        backup.restore(rest[0], into=rest[1], keyring=rest[2], journal=rest[3])
    print("finished without being killed")
""")


def _killed(*argv: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", CHILD, *argv], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, f"not killed at {argv[:2]}: {proc.returncode} {proc.stderr[-2000:]}"


def _count(ws: Workspace, sql: str, params: list[object] | None = None) -> int:
    with ws.transaction("test.read", "system") as con:
        return int(con.execute(sql, params or []).fetchone()[0])  # type: ignore[index]


def _backups_in_ledger(world: StaffedWorkspace) -> set[str]:
    with world.ws.transaction("test.read", "system") as con:
        return {r[0] for r in con.execute("SELECT file_name FROM media_ledger WHERE kind = ?",
                                          [backup.BACKUP_KIND]).fetchall()}


@pytest.mark.parametrize("step", ["writing", "written", "recorded", "renamed"])
def test_a_killed_backup_leaves_no_file_the_ledger_does_not_know(world: StaffedWorkspace, tmp_path: Path, step: str) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    ring = tmp_path / "keys" / "ring.json"
    ring.parent.mkdir()
    kek = world.ws.kek
    assert kek is not None
    world.ws.keyring.save(WrappedKeySource(FileKeySource(ring), kek))  # a keyring copy, wrapped like the live one
    _killed("backup", step, str(world.ws.path), str(folder / "b1.wbbak"))
    assert not list(folder.glob(".wbpkg-*"))  # no anonymous temporary file, whatever the moment
    partial = folder / ("b1.wbbak" + backup.UNFINISHED)
    recorded = "b1.wbbak" in _backups_in_ledger(world)
    assert recorded == (step in ("recorded", "renamed"))
    if step == "renamed":
        assert (folder / "b1.wbbak").is_file() and not partial.exists()
        assert backup.verify_backup(folder / "b1.wbbak", keyring=ring)["ok"]
    elif step == "writing":  # the members are spooled to an unnamed file: a kill here leaves nothing at all
        assert list(folder.iterdir()) == []
        # a kill while the spool is copied out leaves the first part of the file under the unfinished name
        whole = backup.backup(world.login("operations"), tmp_path / "other" / "x.wbbak")
        partial.write_bytes(Path(whole["backup"]).read_bytes()[:5000])
        with pytest.raises(PackageError) as exc:
            backup.verify_backup(partial, keyring=ring)
        assert exc.value.details == {"reason": "unfinished_backup", "complete": False}
        assert "途中までしか書かれていません" in exc.value.message_ja and "only in part" in exc.value.message_en
    else:
        # only the unfinished name exists; backup-verify says what it is, never "ok"
        assert not (folder / "b1.wbbak").exists() and partial.is_file()
        with pytest.raises(PackageError) as exc:
            backup.verify_backup(partial, keyring=ring)
        assert exc.value.details["reason"] == "unfinished_backup"
        assert exc.value.details["complete"] is True
        assert "中断" in exc.value.message_ja and "interrupted" in exc.value.message_en
    # the next backup into the folder settles what was left: recorded → put in place, else removed
    backup.backup(world.login("operations"), folder / "b2.wbbak")
    names = {p.name for p in folder.iterdir()}
    assert names == ({"b1.wbbak", "b2.wbbak"} if recorded else {"b2.wbbak"})
    assert names <= _backups_in_ledger(world)  # every file there is a recorded backup
    for name in names:
        assert backup.verify_backup(folder / name, keyring=ring)["ok"]


@pytest.fixture
def deleted_after_backup(make_world: Callable[..., StaffedWorkspace], tmp_path: Path) -> tuple[StaffedWorkspace, list[str], Path, Path]:
    """An office backed up, then some people deleted (the journal outside the backup names them)."""
    world = make_world()
    office_with_results(world, tmp_path)
    victims = victim_households(world, 1)
    b1, k1 = tmp_path / "backups" / "b1.wbbak", tmp_path / "keys" / "k1.json"
    backup.backup(world.login("operations"), b1, keyring_out=k1)
    delete_people(world, victims, "moved_out")
    return world, victims, b1, k1


@pytest.mark.parametrize("step", ["staged", "verified", "reapplied", "recorded", "unmarked"])
def test_no_killed_restore_leaves_a_workspace_with_a_deleted_person(
        deleted_after_backup: tuple[StaffedWorkspace, list[str], Path, Path], tmp_path: Path, step: str) -> None:
    world, victims, b1, k1 = deleted_after_backup
    journal = world.ws.path / deletion.JOURNAL_FILE
    target = tmp_path / "restored"
    _killed("restore", step, str(b1), str(target), str(k1), str(journal))
    assert not target.exists()  # the folder appears under its name only when finished
    staging = tmp_path / ".restored.restoring"
    assert staging.is_dir()
    if step != "unmarked":
        assert (staging / RESTORE_MARKER).exists()
        with pytest.raises(StoreError) as exc:
            Workspace.open(staging)
        assert exc.value.details["reason"] == "unfinished_restore" and "中断" in exc.value.message_ja
    else:  # marked finished just before the rename: the deletions are re-applied and the restore recorded
        ws = Workspace.open(staging)
        assert _count(ws, "SELECT count(*) FROM persons WHERE person_id IN (SELECT unnest(?::VARCHAR[]))",
                      [victims]) == 0
    # the next restore removes the leftover and finishes; the deleted stay deleted and the restore is recorded
    done = backup.restore(b1, into=target, keyring=k1, journal=journal, clock=world.clock)
    assert done["unfinished_removed"] and len(done["deletions_reapplied"]) == 1 and not staging.exists()
    ws = Workspace.open(target, clock=world.clock)
    assert not (target / RESTORE_MARKER).exists()
    assert _count(ws, "SELECT count(*) FROM persons WHERE person_id IN (SELECT unnest(?::VARCHAR[]))", [victims]) == 0
    with ws.transaction("test.read", "system") as con:
        ops = [r[0] for r in con.execute("SELECT operation FROM audit_log ORDER BY seq").fetchall()]
        assert ops.count("backup.restore") == 1
        assert audit.verify(con, key=ws.keyring.audit_key(), heads=audit.read_heads(ws.heads_path)).ok
