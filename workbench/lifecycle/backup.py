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
so a restore never brings them back.  The journal re-applied is the *current* one, kept outside the
workspace beside the audit anchor (:mod:`workbench.lifecycle.backup_retention`), or a copy named with
``--journal`` (it holds only keyed pseudonyms); a restore that finds neither is refused, never
silently run on the backup's own, older journal.  Backups older than the retention rule ``backups``
are destroyed by the nightly cycle (``backup_retention``).

**Places** (issue 20 item 10): the operations screen never asks for a server path.  The settings
``backup_places`` and ``keyring_copy_places`` (``workspace.json``: name → absolute folder) name where
backups and keyring copies go, each inside an exchange folder (:mod:`workbench.core.exchange`);
:func:`places` lists them with whether each can be used, and :func:`backup_to_place` writes a backup into
a place by name under a name the system makes from the date and time (``backup-20261206-093012.wbbak``;
never one that exists).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core import audit, exchange
from workbench.core.clock import JST
from workbench.core.composites import composite
from workbench.core.errors import AuditIntegrityError, InvalidInput, PackageError, WrongKey
from workbench.core.keys import FileKeySource, KeyEncryptionKey, Keyring, KeySource, WrappedKeySource, locate_kek, refuse_inside
from workbench.core.permissions import Permission
from workbench.core.private_files import fsync_dir, write_private
from workbench.core.workspace import RESTORE_MARKER, SETTINGS_FILE, Session, Settings, Unit, Workspace, service
from workbench.files import transfer
from workbench.lifecycle import backup_retention, deletion

__all__ = ["BACKUP_KIND", "UNFINISHED", "BackupPlace", "backup", "backup_to_place", "places", "restore", "settle",
           "verify_backup"]

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


#: The name a backup (and its keyring copy) has until it is recorded: a file so named is unfinished.
UNFINISHED = ".partial"

#: Called with the name of each step of a backup or restore (tests kill the process there).
fault_hook: Callable[[str], None] | None = None


def _step(name: str) -> None:
    if fault_hook is not None:
        fault_hook(name)


@service(Permission.BACKUP_RUN)
def _record_backup(unit: Unit, manifest: dict[str, Any], file_name: str, keyring_copy: bool,
                   place: str | None = None, keyring_place: str | None = None) -> None:
    entry_id = "M" + uuid.uuid4().hex[:11].upper()
    unit.con.execute(
        "INSERT INTO media_ledger VALUES (?, ?, 'out', ?, ?, ?, 'backup', 1, ?, ?, NULL, NULL)",
        [entry_id, unit.now, BACKUP_KIND, manifest["package_id"], file_name, manifest["digest"], unit.user_id])
    if place is not None:  # where it is, so the retention rule for backups can destroy it (issue 22 item 1)
        backup_retention.record_place(unit.con, entry_id, path=Path(place),
                                      keyring_copy=Path(keyring_place) if keyring_place else None, at=unit.now)
    unit.note(target=manifest["package_id"], ledger_entry=entry_id, keyring_copy=keyring_copy,
              bytes=sum(m["size"] for m in manifest["members"]))


@service(Permission.BACKUP_RUN, paths=("folder",))
def settle(unit: Unit, folder: str) -> dict[str, int]:
    """Finish what a killed backup left in ``folder``: an unfinished file whose backup is in the media ledger
    (killed after the record, before the rename) is renamed into place; any other is deleted (it was never
    recorded, so it never was a backup).  Counts only."""
    counts = {"published": 0, "discarded": 0}
    for partial in sorted(Path(folder).glob("*" + UNFINISHED)):
        final = partial.with_name(partial.name[: -len(UNFINISHED)])
        known = unit.con.execute(
            "SELECT count(*) FROM media_ledger WHERE kind = ? AND file_name = ? AND deleted_at IS NULL",
            [BACKUP_KIND, final.name]).fetchone()
        if known is not None and known[0] and not final.exists() and _complete(partial):
            os.rename(partial, final)
            counts["published"] += 1
        else:
            partial.unlink(missing_ok=True)
            counts["discarded"] += 1
    unit.params.update(counts)
    return counts


def _complete(path: Path) -> bool:
    """Whether a file is a whole package (every frame present; not decrypted: no key is needed)."""
    try:
        with path.open("rb") as f:
            data = f.read(10)
            if not data.startswith(transfer.MAGIC):
                return False
            f.seek(0, os.SEEK_END)
            size = f.tell()
            pos = 10 + int.from_bytes(data[6:10], "big")
            last = 0
            while pos + 4 <= size:
                f.seek(pos)
                last = int.from_bytes(f.read(4), "big")
                pos += 4 + last
            return pos == size and last == 1 + 4 + 8 + 16  # ends exactly with the final frame
    except OSError:
        return False


@composite("backup.backup", paths=("out", "keyring_out"))
def backup(session: Session, out: str | Path, *, keyring_out: str | Path | None = None) -> dict[str, Any]:
    """Write an encrypted, verifiable backup of the workspace to ``out`` (``backup.run``), all or nothing.

    The package is written under an unfinished name (``….partial``); the backup is recorded in the media
    ledger and the audit log in one transaction, and only then renamed into place; the keyring copy is
    written last (a kill before it leaves a recorded backup without a copy: take another).
    A kill leaves either nothing, or an unfinished file that ``backup-verify`` names as such and the next
    backup into the same folder settles (renamed into place if it was recorded, deleted if not)."""
    ws = session.workspace
    session.require(Permission.BACKUP_RUN, "backup.create")
    if not str(out).strip():
        raise InvalidInput("Name the backup file (or choose a configured place on the backup screen).",
                           "バックアップの保存先を指定してください（画面では設定済みの保存場所から選びます）。",
                           reason="no_destination")
    out = Path(out)
    if out.is_dir():  # a folder named: the file name is made by the system, from the date and time
        out = _fresh_name(out, "backup-", ".wbbak", ws.clock.now())
    if out.exists():
        raise InvalidInput(f"{out.name} already exists; choose a new file name.",
                           f"{out.name} はすでに存在します。別のファイル名を指定してください。", reason="exists")
    if out.name.endswith(UNFINISHED):
        raise InvalidInput(f"A backup's name may not end with {UNFINISHED}.",
                           f"バックアップのファイル名の末尾に {UNFINISHED} は使えません。", reason="bad_name")
    if keyring_out is not None:
        keyring_out = Path(keyring_out)
        if keyring_out.parent.resolve() == out.parent.resolve() or _inside(keyring_out, ws.path) or keyring_out.exists():
            raise InvalidInput(
                "The keyring copy must go to another place than the backup, outside the workspace, as a new file.",
                "鍵束の写しはバックアップとは別の場所（ワークスペースの外）に、新しいファイルとして保存してください。",
                reason="keyring_beside_data")
    out.parent.mkdir(parents=True, exist_ok=True)
    settle(session, str(out.parent))
    partial = out.with_name(out.name + UNFINISHED)
    ring = ws.keyring
    key, key_id = _backup_key(ring)
    now = ws.clock.now()
    try:
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

            def stream() -> Iterator[tuple[str, bytes]]:
                for n, item in enumerate(members):
                    yield item
                    if n == 0:
                        _step("writing")

            manifest = transfer.write_package(
                out, key=key, key_id=key_id, kind=BACKUP_KIND, recipient=_RECIPIENT, members=stream(),
                record_count=1, creator=session.user_id, workspace_id=ws.settings.workspace_id,
                created_at=now.isoformat(), unfinished=partial)
        _step("written")
        _record_backup(session, manifest.to_dict(), out.name, keyring_out is not None, str(out),
                       str(keyring_out) if keyring_out is not None else None)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    _step("recorded")
    os.rename(partial, out)
    fsync_dir(out.parent)
    _step("renamed")
    if keyring_out is not None:
        # Last, so no copy of the keys is ever left beside a backup that does not exist.
        ring.save(_copy_source(keyring_out, ws.kek))
    return {"backup": str(out), "package_id": manifest.package_id, "digest": manifest.digest,
            "bytes": manifest.total_size, "keyring_copy": str(keyring_out) if keyring_out else None,
            "database_version": ring.database_version,
            "message_ja": "バックアップを作成しました。鍵束の写しはバックアップとは別の場所に保管してください。",
            "message_en": "Backup written. Keep the keyring copy in another place than the backup."}


# -- named places (issue 20 item 10) -----------------------------------------------------------------


@dataclass(frozen=True)
class BackupPlace:
    """One configured place: its name, its folder, and whether a backup may be written there now."""

    name: str
    folder: str
    kind: str           # backup | keyring
    usable: bool
    problem_ja: str = ""
    problem_en: str = ""


def _fresh_name(folder: Path, stem: str, suffix: str, now: Any) -> Path:
    """A new file name in ``folder`` from the date and time in Japan (``backup-20261206-093012.wbbak``), with
    ``-2``, ``-3`` … when one of that second exists (finished or unfinished)."""
    base = f"{stem}{now.astimezone(JST):%Y%m%d-%H%M%S}"
    for n in range(1, 1000):
        candidate = folder / f"{base}{'' if n == 1 else f'-{n}'}{suffix}"
        if not candidate.exists() and not candidate.with_name(candidate.name + UNFINISHED).exists():
            return candidate
    raise InvalidInput("No free file name in the place; try again in a second.",
                       "保存場所に使えるファイル名がありません。少し待ってからやり直してください。", reason="exists")


def _place(ws: Workspace, name: str, folder: str, kind: str) -> BackupPlace:
    try:
        exchange.check_path(ws, folder, "backup_places" if kind == "backup" else "keyring_copy_places")
    except InvalidInput as exc:
        return BackupPlace(name, folder, kind, False, exc.message_ja, exc.message_en)
    if kind == "keyring" and _inside(Path(folder), ws.path):
        return BackupPlace(name, folder, kind, False, "ワークスペースの中には置けません。", "inside the workspace")
    return BackupPlace(name, folder, kind, True)


def _configured(ws: Workspace) -> list[BackupPlace]:
    return ([_place(ws, n, f, "backup") for n, f in sorted(ws.settings.backup_places.items())]
            + [_place(ws, n, f, "keyring") for n, f in sorted(ws.settings.keyring_copy_places.items())])


def _no_places() -> InvalidInput:
    return InvalidInput(
        "No backup place is configured. Ask the operators to name one in workspace.json (backup_places: name → a "
        "folder inside an exchange folder; keyring_copy_places likewise, on another disk).",
        "バックアップの保存場所が設定されていません。運用担当に、workspace.json の backup_places（名前 → 受け渡しフォルダーの中の"
        "フォルダー）と keyring_copy_places（鍵束の写しの保存場所、別のディスク）の設定を依頼してください。",
        reason="no_backup_place")


@service(Permission.BACKUP_RUN)
def places(unit: Unit) -> list[BackupPlace]:
    """The configured backup and keyring-copy places, each with whether it can be used now (a place outside
    the exchange folders is listed with the reason it cannot)."""
    found = _configured(unit.workspace)
    unit.note(places=len(found), usable=sum(p.usable for p in found))
    return found


@composite("backup.backup_to_place")
def backup_to_place(session: Session, place: str, *, keyring_place: str | None = None) -> dict[str, Any]:
    """:func:`backup` into a configured place chosen by name, under a name the system makes (date and time);
    the keyring copy, if asked for, into a configured keyring place.  An unknown place, one outside the exchange
    folders, or none configured at all is refused in words."""
    ws = session.workspace
    session.require(Permission.BACKUP_RUN, "backup.create")
    configured = {(p.kind, p.name): p for p in _configured(ws)}
    if not configured:
        raise _no_places()

    def folder(kind: str, name: str) -> Path:
        chosen = configured.get((kind, str(name)))
        if chosen is None:
            what_ja, what_en = ("バックアップ", "backup") if kind == "backup" else ("鍵束の写し", "keyring copy")
            raise InvalidInput(f"There is no {what_en} place named {str(name)[:40]!r}; choose one from the list.",
                               f"{what_ja}の保存場所「{str(name)[:40]}」は設定されていません。一覧から選んでください。",
                               reason="unknown_place")
        if not chosen.usable:
            raise InvalidInput(f"The place {chosen.name} cannot be used: {chosen.problem_en}",
                               f"保存場所「{chosen.name}」は使えません: {chosen.problem_ja}", reason="place_not_allowed")
        path = Path(chosen.folder)
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    now = ws.clock.now()
    out = _fresh_name(folder("backup", place), "backup-", ".wbbak", now)
    keyring_out = (_fresh_name(folder("keyring", keyring_place), "keyring-", ".json", now)
                   if keyring_place else None)
    result = backup(session, out, keyring_out=keyring_out)
    return {**result, "place": place, "keyring_place": keyring_place, "file_name": out.name,
            "keyring_file_name": keyring_out.name if keyring_out is not None else None}


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
    """Read the whole backup with the keyring copy (wrapped by ``kek``, else the KEK ``WORKBENCH_KEK_FILE``
    or the systemd credential names): every frame authenticated, digest checked.  A file
    left by an interrupted backup (its name ends with ``.partial``) is named as such, never passed."""
    if str(path).endswith(UNFINISHED):
        whole = _complete(Path(path))
        raise PackageError(
            "This is not a backup: it is the file of a backup that was interrupted before it was recorded"
            f" ({'written completely' if whole else 'written only in part'}). Do not use it; the next backup into"
            " this folder finishes or removes it.",
            "これはバックアップではありません。記録される前に中断されたバックアップの書きかけのファイルです"
            f"（{'書き込みは完了' if whole else '途中までしか書かれていません'}）。使用しないでください。"
            "同じフォルダーへの次回のバックアップで完了または削除されます。",
            reason="unfinished_backup", complete=whole)
    _, package, meta = _open_backup(Path(path), Path(keyring), kek)
    return {"ok": True, "package_id": package.manifest.package_id, "created_at": meta["created_at"],
            "created_by": meta["created_by"], "members": [m.name for m in package.manifest.members],
            "message_ja": "バックアップは完全で、改ざんされていません。", "message_en": "The backup is complete and unaltered."}


def _staging_for(target: Path) -> Path:
    """Where a restore into ``target`` is built: beside it, hidden, one per target (the next attempt finds it)."""
    return target.parent / f".{target.name}.restoring"


def _current_journal(package: transfer.Package, ring: Keyring, target: Path, kek: KeyEncryptionKey,
                     journal: str | Path | None) -> list[dict[str, Any]]:
    """The deletion journal a restore re-applies: ``journal`` if named, else the current one outside the
    workspace (issue 22 item 1).  A restore never falls back silently on the backup's own, older journal:
    without the current one it is refused; a journal that lacks a deletion the backup's own records is
    not the current one and is refused too."""
    key = ring.audit_key()
    own_raw = package.members.get("deletion_journal.jsonl", b"")
    own = [json.loads(line) for line in own_raw.decode("ascii").splitlines() if line.strip()]
    if journal is not None:
        where = Path(journal)
        entries = deletion.read_journal(where, key)
    else:
        settings = Settings(**{k: v for k, v in json.loads(package.members[SETTINGS_FILE]).items()
                               if k in Settings.__dataclass_fields__})
        where, known = backup_retention.external_journal(target, settings, kek)
        if where.exists():
            entries = deletion.read_journal(where, key)
        elif known and not own:
            entries = []  # the workspace's anchor folder, and no deletion was ever journaled
        else:
            raise InvalidInput(
                f"The current deletion journal was not found ({where}): without it this restore could bring back people"
                " deleted after the backup was taken, so it is refused. Make the anchor folder reachable (setting "
                "audit_anchor_dir or WORKBENCH_AUDIT_ANCHOR_DIR), or name the newest copy of the journal with --journal.",
                f"現在の削除ジャーナルが見つかりません（{where}）。これがないと、バックアップ後に削除した人が復元される"
                "おそれがあるため、復元しません。アンカーの保存先（設定 audit_anchor_dir または WORKBENCH_AUDIT_ANCHOR_DIR）"
                "を参照できるようにするか、--journal で最新の削除ジャーナルを指定してください。", reason="journal_missing")
    missing = {str(e.get("deletion_id")) for e in own} - {str(e["deletion_id"]) for e in entries}
    if missing:
        raise InvalidInput(
            f"The deletion journal {where} is older than the backup (it lacks {len(missing)} deletion(s) the backup"
            " records): it is not the current one. Name the newest journal with --journal.",
            f"削除ジャーナル {where} はバックアップより古く（バックアップにある削除 {len(missing):,} 件がありません）、"
            "現在のものではありません。--journal で最新の削除ジャーナルを指定してください。", reason="journal_older")
    return entries


def restore(path: str | Path, *, into: str | Path, keyring: str | Path, journal: str | Path | None = None,
            clock: Any = None, kek: KeyEncryptionKey | None = None) -> dict[str, Any]:
    """Build a new workspace in ``into`` from a backup, all or nothing (issue 24 item 1).

    The workspace is built in a hidden staging folder beside ``into``, marked unfinished
    (:data:`workbench.core.workspace.RESTORE_MARKER`: such a folder never opens as a workspace); there the
    audit chain is verified, the deletion journal re-applied and the restore recorded in the audit log; only
    then is the mark removed and the folder renamed to ``into`` in one step.  A kill at any moment leaves
    either no ``into`` at all or the finished workspace; the next restore into the same place removes what
    a killed one left (and says so).

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
    entries = _current_journal(package, ring, target, kek, journal)
    staging = _staging_for(target)
    left_over = staging.exists()
    if left_over:  # a killed restore's folder: never a workspace; removed before anything else
        shutil.rmtree(staging)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        staging.mkdir(mode=0o700)
        write_private(staging / RESTORE_MARKER, b"unfinished restore\n")
        fsync_dir(staging)
        for name in Workspace.DIRS:
            (staging / name).mkdir(exist_ok=True, mode=0o700)
        for name, data in package.members.items():
            if name == "backup.json":
                continue
            if name not in _FILES:
                raise PackageError("The backup holds an unexpected file.", "バックアップに想定外のファイルがあります。",
                                   reason="tampered")
            dest = staging / _FILES[name]
            dest.parent.mkdir(parents=True, exist_ok=True)
            write_private(dest, data)
        settings = Settings.load(staging / SETTINGS_FILE)
        settings.keyring_path = "keyring.json"
        if named:
            settings.kek_file = str(kek.path)
        settings.save(staging / SETTINGS_FILE)
        ring.database_version = int(meta["database_version"])
        ring.save(WrappedKeySource(FileKeySource(staging / "keyring.json"), kek))
        _step("staged")
        ws = Workspace.open(staging, clock=clock, restoring=True,
                            key_source=WrappedKeySource(FileKeySource(staging / "keyring.json"), kek))
        with ws.transaction("backup.restore", "system") as con:
            report = audit.verify(con, key=ws.keyring.audit_key(), heads=audit.read_heads(ws.heads_path))
            if not report.ok:
                ja, en = report.message()
                raise AuditIntegrityError(f"The restored audit log does not verify: {en}",
                                          f"復元した操作ログの検証に失敗しました: {ja}")
        _step("verified")
        reapplied = deletion.reapply_journal(ws, entries)
        _step("reapplied")
        with ws.transaction("backup.restore", "system") as con:
            audit.append(con, key=ws.keyring.audit_key(), at=ws.clock.now(), user_id="system",
                         operation="backup.restore", outcome="ok", target=package.manifest.package_id,
                         params={"backup_created_at": meta["created_at"], "records": report.records,
                                 "deletions_reapplied": len(reapplied), "journal_given": journal is not None,
                                 "unfinished_removed": left_over})
        _step("recorded")
        (staging / RESTORE_MARKER).unlink()
        fsync_dir(staging)
        _step("unmarked")
        if target.exists():
            target.rmdir()  # empty (checked above): the rename below puts the finished folder in its place
        os.rename(staging, target)
        fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {"workspace": str(target), "backup_created_at": meta["created_at"], "audit_records": report.records,
            "audit_ok": True, "deletions_reapplied": reapplied, "unfinished_removed": left_over,
            "purge_needed": bool(reapplied),
            "message_ja": "復元しました。操作ログの検証に成功しました。"
                          + ("中断された前回の復元の途中のフォルダーを削除しました。" if left_over else "")
                          + (f"バックアップ後の削除 {len(reapplied):,} 件を再実行しました。"
                             "`workbench deletion purge` でファイルから消去してください。" if reapplied else ""),
            "message_en": "Restored; the audit log verifies."
                          + (" The folder of an earlier, interrupted restore was removed." if left_over else "")
                          + (f" {len(reapplied)} deletion(s) made after the backup were applied again;"
                             " run `workbench deletion purge` to erase their bytes." if reapplied else "")}
