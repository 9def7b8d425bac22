"""Backups with an end (バックアップの保存期間, issue 22 item 1, C12, C9).

A backup holds everyone the database held the moment it was taken, deleted people included.  Two
things stop it bringing them back:

* **a retention rule for backups** (``backups`` in ``retention_rules``, as data like every other
  period; 90 days unless the office changes it with ``workbench retention set backups DAYS``).
  ``retention.apply`` — run every night by the nightly cycle's retention stage — destroys every
  backup older than the period at the place it was written, and its keyring copy, and records it:
  the media ledger has each backup's creation (``media_ledger``), its place (``backup_places``) and
  its destruction (``media_ledger.deleted_at``, ``media_destructions`` with reason ``retention``).
  A backup no longer at its place (moved to other media) is marked for destruction and waits,
  like a copy handed over, until someone confirms it (``workbench deletion copy-destroyed ENTRY``).
* **the current deletion journal where every restore finds it**: each deletion appends its signed
  entry to ``<anchor folder>/<workspace_id>.deletion_journal.jsonl`` outside the workspace (the
  anchor folder of :mod:`workbench.core.anchor`, opened ``O_APPEND``), and ``restore`` re-applies
  that journal by itself; a restore that cannot find it is refused (``--journal`` names a copy).

So a person deleted and purged is gone from every restore at once, and from every backup file once
the period has passed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from workbench.core import anchor
from workbench.core.keys import KeyEncryptionKey
from workbench.core.workspace import Settings, Unit, Workspace

__all__ = ["apply_rule", "external_journal", "journal_file", "record_place"]

#: ``workbench.lifecycle.backup.BACKUP_KIND`` (the media ledger's kind of a backup).
BACKUP_KIND = "workspace_backup"


def record_place(con: duckdb.DuckDBPyConnection, entry_id: str, *, path: Path, keyring_copy: Path | None,
                 at: dt.datetime) -> None:
    """Where a backup was written (and its keyring copy), in the caller's unit of work."""
    con.execute("INSERT INTO backup_places VALUES (?, ?, ?, ?, NULL, NULL, NULL)",
                [entry_id, str(path.resolve()), str(keyring_copy.resolve()) if keyring_copy else None, at])


def apply_rule(unit: Unit, cutoff: dt.datetime, keep: int, dry_run: bool) -> tuple[int, int, str | None]:
    """Destroy the backups taken up to ``cutoff`` (and their keyring copies); record each destruction.
    Returns (due, destroyed, when the next one falls due)."""
    con = unit.con
    due_rows = con.execute(
        "SELECT b.entry_id, b.path, b.keyring_copy FROM backup_places b JOIN media_ledger m USING (entry_id)"
        " WHERE b.destroyed_at IS NULL AND b.method IS NULL AND b.created_at <= ? ORDER BY b.created_at",
        [cutoff]).fetchall()
    nxt_row = con.execute("SELECT min(created_at) FROM backup_places WHERE destroyed_at IS NULL AND method IS NULL"
                          " AND created_at > ?", [cutoff]).fetchone()
    nxt = (nxt_row[0] + dt.timedelta(days=keep)).isoformat() if nxt_row and nxt_row[0] else None
    if dry_run:
        return len(due_rows), 0, nxt
    destroyed = 0
    for entry_id, path, keyring_copy in due_rows:
        backup_file = Path(path)
        found = backup_file.exists()
        backup_file.unlink(missing_ok=True)
        if keyring_copy:
            Path(keyring_copy).unlink(missing_ok=True)
        if found:
            destroyed += 1
            con.execute("UPDATE backup_places SET destroyed_at = ?, destroyed_by = ?, method = 'deleted'"
                        " WHERE entry_id = ?", [unit.now, unit.user_id, entry_id])
            con.execute("UPDATE media_ledger SET deleted_at = ? WHERE entry_id = ?", [unit.now, entry_id])
        else:  # moved to other media: it waits for someone to confirm its destruction
            con.execute("UPDATE backup_places SET method = 'not_found' WHERE entry_id = ?", [entry_id])
        con.execute("INSERT INTO media_destructions VALUES (?, 'retention', 'retention', ?, ?, NULL, NULL)"
                    " ON CONFLICT DO NOTHING", [entry_id, unit.now, unit.now if found else None])
    unit.params.update(backups_destroyed=destroyed, backups_not_found=len(due_rows) - destroyed)
    return len(due_rows), destroyed, nxt


# ------------------------------------------------------------------------------ the current deletion journal
def journal_file(ws: Workspace) -> Path:
    """The workspace's current deletion journal, outside it (beside its audit anchor)."""
    return anchor.journal_path(ws.anchor_dir(), ws.settings.workspace_id)


def external_journal(target: Path, settings: Settings, kek: KeyEncryptionKey | None) -> tuple[Path, bool]:
    """For a restore into ``target``: where the current journal of the backup's workspace is, and whether
    that folder is known to be the workspace's anchor folder (it holds the workspace's anchors)."""
    folder = anchor.destination(workspace_path=target, setting=settings.audit_anchor_dir,
                                kek_path=kek.path if kek is not None else None)
    known = any(folder.glob(f"{settings.workspace_id}-*.anchor.jsonl")) if folder.is_dir() else False
    return anchor.journal_path(folder, settings.workspace_id), known

