"""Backup and restore (バックアップと復元, C12, III-7 ⑦).

``backup`` writes one encrypted, authenticated file (a transfer package of kind
``workspace_backup``, :mod:`workbench.files.transfer`: a flipped bit, truncation or the wrong
key is refused) holding the database file exactly as it is on disk (itself encrypted
with DuckDB's AES-256-GCM), the settings, the signed audit heads and the deletion
journal.  It is taken under the workspace lock, so it is one consistent moment, and
recorded in the audit log and the media ledger.

The keyring is **not** in it.  ``backup --keyring-out`` writes a copy of the keyring to a
different place (refused in the backup's own folder or inside the workspace): the key
and the data are kept apart.  The copy is wrapped by the same key-encryption key (KEK) as the
live keyring (issue 19), so a backup and its keyring copy together still open nothing without
the KEK, which is kept outside both.  A backup can only be restored with a keyring that still
holds the key version it was made under, so keep the keyring copy taken with it — a key
rotation (and every purge) destroys old versions in the live keyring.

``restore`` builds a *new* workspace folder from a backup and a keyring copy, checks the
audit chain against the signed heads, and then re-applies the deletion journal
(:mod:`workbench.lifecycle.deletion`): people deleted after the backup was taken are deleted again,
so a restore never brings them back.  Pass the newest journal (``--journal``; it holds
only keyed pseudonyms, so it can be copied off the machine freely); without it, the
journal inside the backup is used.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

from workbench.core import audit
from workbench.core.errors import AuditIntegrityError, InvalidInput, PackageError, WrongKey
from workbench.core.keys import FileKeySource, KeyEncryptionKey, Keyring, KeySource, WrappedKeySource, locate_kek, refuse_inside
from workbench.core.permissions import Permission
from workbench.core.workspace import SETTINGS_FILE, Session, Settings, Unit, Workspace, composite, service
from workbench.files import transfer
from workbench.lifecycle import deletion

__all__ = ["BACKUP_KIND", "backup", "restore", "verify_backup"]

BACKUP_KIND = "workspace_backup"
_RECIPIENT = "backup"
_DB = "db/workbench.duckdb"
#: Member name in the backup → path in the workspace (member names are single file names).
_FILES = {SETTINGS_FILE: SETTINGS_FILE, "workbench.duckdb": _DB, "workbench.duckdb.wal": _DB + ".wal",
          "heads.jsonl": "audit/heads.jsonl", "deletion_journal.jsonl": "audit/deletion_journal.jsonl"}


def _backup_key(ring: Keyring, version: int | None = None) -> tuple[bytes, str]:
    key = transfer.recipient_key(ring.key("packages", version), _RECIPIENT)
    return key, transfer.key_id_for(key)


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


@service(Permission.BACKUP_RUN)
def _record_backup(unit: Unit, manifest: dict[str, Any], file_name: str, keyring_copy: bool) -> None:
    entry_id = "M" + uuid.uuid4().hex[:11].upper()
    unit.con.execute(
        "INSERT INTO media_ledger VALUES (?, ?, 'out', ?, ?, ?, 'backup', 1, ?, ?, NULL, NULL)",
        [entry_id, unit.now, BACKUP_KIND, manifest["package_id"], file_name, manifest["digest"], unit.user_id])
    unit.note(target=manifest["package_id"], ledger_entry=entry_id, keyring_copy=keyring_copy,
              bytes=sum(m["size"] for m in manifest["members"]))


@composite("backup.backup", paths=("out", "keyring_out"))
def backup(session: Session, out: str | Path, *, keyring_out: str | Path | None = None) -> dict[str, Any]:
    """Write an encrypted, verifiable backup of the workspace to ``out`` (``backup.run``)."""
    ws = session.workspace
    session.require(Permission.BACKUP_RUN, "backup.create")
    out = Path(out)
    if out.exists():
        raise InvalidInput(f"{out.name} already exists; choose a new file name.",
                           f"{out.name} はすでに存在します。別のファイル名を指定してください。", reason="exists")
    if keyring_out is not None:
        keyring_out = Path(keyring_out)
        if keyring_out.parent.resolve() == out.parent.resolve() or _inside(keyring_out, ws.path) or keyring_out.exists():
            raise InvalidInput(
                "The keyring copy must go to another place than the backup, outside the workspace, as a new file.",
                "鍵束の写しはバックアップとは別の場所（ワークスペースの外）に、新しいファイルとして保存してください。",
                reason="keyring_beside_data")
    ring = ws.keyring
    key, key_id = _backup_key(ring)
    now = ws.clock.now()
    with ws.lock.hold("backup.create", session.user_id):
        members: list[tuple[str, bytes]] = []
        for member, rel in _FILES.items():
            path = ws.path / rel
            if path.exists():
                members.append((member, path.read_bytes()))
        meta = {"format": "workbench-backup/1", "workspace_id": ws.settings.workspace_id,
                "database_version": ring.database_version, "packages_version": ring.current,
                "created_at": now.isoformat(), "created_by": session.user_id}
        members.append(("backup.json", json.dumps(meta).encode("utf-8")))
        out.parent.mkdir(parents=True, exist_ok=True)
        manifest = transfer.write_package(
            out, key=key, key_id=key_id, kind=BACKUP_KIND, recipient=_RECIPIENT, members=members,
            record_count=1, creator=session.user_id, workspace_id=ws.settings.workspace_id, created_at=now.isoformat())
    if keyring_out is not None:
        ring.save(_copy_source(Path(keyring_out), ws.kek))
    try:
        _record_backup(session, manifest.to_dict(), out.name, keyring_out is not None)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return {"backup": str(out), "package_id": manifest.package_id, "digest": manifest.digest,
            "bytes": manifest.total_size, "keyring_copy": str(keyring_out) if keyring_out else None,
            "database_version": ring.database_version,
            "message_ja": "バックアップを作成しました。鍵束の写しはバックアップとは別の場所に保管してください。",
            "message_en": "Backup written. Keep the keyring copy in another place than the backup."}


def _copy_source(path: Path, kek: KeyEncryptionKey | None) -> KeySource:
    """A keyring copy: wrapped by the KEK (a workspace whose keyring an injected source keeps
    without one writes it as that source would, plain)."""
    return FileKeySource(path) if kek is None else WrappedKeySource(FileKeySource(path), kek)


def _kek(kek: KeyEncryptionKey | None) -> KeyEncryptionKey | None:
    return kek if kek is not None else locate_kek()


def _open_backup(path: Path, keyring_path: Path,
                 kek: KeyEncryptionKey | None) -> tuple[Keyring, transfer.Package, dict[str, Any]]:
    ring = Keyring.load(WrappedKeySource(FileKeySource(keyring_path), _kek(kek)))
    header = transfer.peek_header(path)
    if header.kind != BACKUP_KIND:
        raise PackageError("This file is not a workspace backup.", "このファイルはワークスペースのバックアップではありません。",
                           reason="wrong_kind")
    for version in sorted(ring.masters, reverse=True):
        key, key_id = _backup_key(ring, version)
        if key_id == header.key_id:
            break
    else:
        raise WrongKey(
            "This keyring does not open the backup: it belongs to another workspace, or the key version the backup "
            "was made under has since been destroyed (use the keyring copy taken with the backup).",
            "この鍵束ではバックアップを開けません。別のワークスペースの鍵束か、バックアップ作成時の鍵が破棄されています"
            "（バックアップと同時に保存した鍵束の写しを使ってください）。")
    package = transfer.read_package(path, key=key)
    meta = json.loads(package.members["backup.json"].decode("utf-8"))
    if meta.get("workspace_id") != ring.workspace_id or package.manifest.workspace_id != ring.workspace_id:
        raise WrongKey("The backup belongs to another workspace.", "このバックアップは別のワークスペースのものです。")
    if int(meta["database_version"]) not in ring.masters:
        raise WrongKey("The keyring no longer holds the database key of this backup.",
                       "この鍵束には、このバックアップのデータベースの鍵がありません。")
    return ring, package, meta


def verify_backup(path: str | Path, *, keyring: str | Path, kek: KeyEncryptionKey | None = None) -> dict[str, Any]:
    """Read the whole backup with the keyring copy (wrapped by ``kek``, else the KEK
    ``WORKBENCH_KEK_FILE`` or the systemd credential names): every frame authenticated, digest checked."""
    _, package, meta = _open_backup(Path(path), Path(keyring), kek)
    return {"ok": True, "package_id": package.manifest.package_id, "created_at": meta["created_at"],
            "created_by": meta["created_by"], "members": [m.name for m in package.manifest.members],
            "message_ja": "バックアップは完全で、改ざんされていません。", "message_en": "The backup is complete and unaltered."}


def restore(path: str | Path, *, into: str | Path, keyring: str | Path, journal: str | Path | None = None,
            clock: Any = None, kek: KeyEncryptionKey | None = None) -> dict[str, Any]:
    """Build a new workspace in ``into`` from a backup; verify the audit chain; re-apply deletions.

    The keyring copy is opened with ``kek`` (else the KEK ``WORKBENCH_KEK_FILE`` or the systemd
    credential names), and the new workspace's keyring is wrapped by the same KEK, which must be
    outside the new folder; a ``kek`` given here is recorded in its setting ``kek_file``."""
    target = Path(into)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InvalidInput(f"{target} exists and is not empty; restore into a new folder.",
                           f"{target} は空ではありません。新しいフォルダーに復元してください。", reason="exists")
    named = kek is not None
    kek = _kek(kek)
    if kek is not None:
        refuse_inside(kek, target)
    ring, package, meta = _open_backup(Path(path), Path(keyring), kek)
    assert kek is not None  # _open_backup refused a missing one
    entries: list[dict[str, Any]] | None = None
    if journal is not None:
        entries = deletion.read_journal(Path(journal), ring.audit_key())
    created = not target.exists()
    try:
        target.mkdir(parents=True, exist_ok=True)
        target.chmod(0o700)
        for name in Workspace.DIRS:
            (target / name).mkdir(exist_ok=True, mode=0o700)
        for name, data in package.members.items():
            if name == "backup.json":
                continue
            if name not in _FILES:
                raise PackageError("The backup holds an unexpected file.", "バックアップに想定外のファイルがあります。",
                                   reason="tampered")
            dest = target / _FILES[name]
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
            dest.chmod(0o600)
        settings = Settings.load(target / SETTINGS_FILE)
        settings.keyring_path = "keyring.json"
        if named:
            settings.kek_file = str(kek.path)
        settings.save(target / SETTINGS_FILE)
        ring.database_version = int(meta["database_version"])
        source = WrappedKeySource(FileKeySource(target / "keyring.json"), kek)
        ring.save(source)
        ws = Workspace.open(target, clock=clock, key_source=source)
        with ws.transaction("backup.restore", "system") as con:
            report = audit.verify(con, key=ws.keyring.audit_key(), heads=audit.read_heads(ws.heads_path))
            if not report.ok:
                ja, en = report.message()
                raise AuditIntegrityError(f"The restored audit log does not verify: {en}",
                                          f"復元した操作ログの検証に失敗しました: {ja}")
        if entries is None:
            entries = deletion.read_journal(ws.path / deletion.JOURNAL_FILE, ws.keyring.audit_key())
        reapplied = deletion.reapply_journal(ws, entries)
        with ws.transaction("backup.restore", "system") as con:
            audit.append(con, key=ws.keyring.audit_key(), at=ws.clock.now(), user_id="system",
                         operation="backup.restore", outcome="ok", target=package.manifest.package_id,
                         params={"backup_created_at": meta["created_at"], "records": report.records,
                                 "deletions_reapplied": len(reapplied)})
    except BaseException:
        if created:
            shutil.rmtree(target, ignore_errors=True)
        else:
            for child in target.iterdir():
                shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)
        raise
    return {"workspace": str(target), "backup_created_at": meta["created_at"], "audit_records": report.records,
            "audit_ok": True, "deletions_reapplied": reapplied,
            "purge_needed": bool(reapplied),
            "message_ja": "復元しました。操作ログの検証に成功しました。"
                          + (f"バックアップ後の削除 {len(reapplied):,} 件を再実行しました。"
                             "`workbench deletion purge` でファイルから消去してください。" if reapplied else ""),
            "message_en": "Restored; the audit log verifies."
                          + (f" {len(reapplied)} deletion(s) made after the backup were applied again;"
                             " run `workbench deletion purge` to erase their bytes." if reapplied else "")}
