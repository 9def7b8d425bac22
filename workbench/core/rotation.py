"""Key rotation (鍵の更新): every ciphertext and the database file move to new keys.

DESIGN §4, §3.  ``rotate`` is a journaled, restartable operation, run under the
workspace lock from start to end.  Its steps (:data:`STEPS`), each recorded in the
journal ``rotation.journal`` beside the keyring before the next begins:

1. ``journal_written`` — the journal names the old and the new key version;
2. ``key_added`` — the new master version is saved in the keyring (both versions present);
3. ``reencrypted`` — in one transaction every Individual Number and TOTP secret is
   decrypted with its recorded version and encrypted under the new one, blind indexes
   are recomputed, earlier result deletions are marked erased, and the audit record
   is appended;
4. ``copied`` — the database is copied with ``COPY FROM DATABASE`` into a new file
   encrypted with the new database key, and fsynced;
5. ``swapped`` — the new file replaces the old one atomically;
6. ``keyring_switched`` — the keyring records the new database version;
7. ``old_destroyed`` — the old versions are destroyed;
8. ``done`` — the journal is removed.

A crash at any step leaves a workspace that :meth:`Workspace.open` brings back by
itself (:func:`recover`): if the new key never reached the keyring the rotation is
rolled back (nothing else had changed); otherwise it is completed, whichever key
now opens the database file, since the old key is destroyed only after the swap.
``workbench keys repair`` does the same on request and, with no journal, finds the
key version that opens the file.  Packages written before a rotation cannot be
opened afterwards: issue new key files.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from workbench.core import audit
from workbench.core.errors import InvalidInput, KeyringError, StoreError, WrongKey
from workbench.core.keys import (
    KEK_ENV,
    FileKeySource,
    KeyEncryptionKey,
    Keyring,
    WrappedKeySource,
    is_wrapped,
    refuse_inside,
)
from workbench.core.numbers import BlindIndex, NumberCipher
from workbench.core.permissions import Permission
from workbench.core.private_files import fsync_dir, fsync_file
from workbench.core.store import Store, WorkspaceLock, attach_sql
from workbench.core.workspace import SETTINGS_FILE, Session, Settings, Workspace, composite

__all__ = ["STEPS", "RotationReport", "recover", "repair", "repair_workspace", "rewrap", "rotate", "wrap_keyring_copy",
           "wrap_workspace"]


@dataclass(frozen=True)
class RotationReport:
    old_versions: list[int]
    new_version: int
    numbers: int
    totp_secrets: int
    #: Earlier result deletions whose bytes this rebuild erased (C11, DESIGN §3).
    deletions_erased: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class EncryptedNumbers:
    """A table column holding Individual Numbers under the "numbers" key."""

    table: str
    row_key: str        # the column bound into the ciphertext's associated data
    ciphertext: str = "number_ct"
    blind_index: str = "number_index"
    version: str = "key_version"


#: Every place an Individual Number is stored.  A test fails if the schema gains another.
ENCRYPTED_NUMBERS = (
    EncryptedNumbers("person_numbers", "person_id"),
    EncryptedNumbers("registration_reviews", "review_id"),
)


def _reencrypt_numbers(con: duckdb.DuckDBPyConnection, ring: Keyring, new: int, col: EncryptedNumbers) -> int:
    """Re-encrypt one column set-based: the rows come out and go back as Arrow columns, joined in one
    UPDATE (issue 22 item 8: row-by-row inserts took 32 s for 90,000 numbers)."""
    src = con.execute(
        f"SELECT {col.row_key}::VARCHAR AS k, {col.ciphertext} AS ct, {col.version} AS v FROM {col.table}"
        f" ORDER BY {col.row_key}"
    ).to_arrow_table()
    if src.num_rows == 0:
        return 0
    ids: list[str] = src.column("k").to_pylist()
    old_cts: list[bytes] = src.column("ct").to_pylist()
    versions: list[int] = src.column("v").to_pylist()
    plain: list[str] = [""] * len(ids)
    by_version: dict[int, list[int]] = {}
    for i, v in enumerate(versions):
        by_version.setdefault(int(v), []).append(i)
    for v, idx in by_version.items():
        old = NumberCipher(ring.key("numbers", v), v)
        clear = old.decrypt_many([old_cts[i] for i in idx], [ids[i] for i in idx],
                                 table=col.table, column=col.ciphertext)
        for i, c in zip(idx, clear, strict=True):
            plain[i] = c
    del old_cts
    cts = NumberCipher(ring.key("numbers", new), new).encrypt_many(plain, ids, table=col.table, column=col.ciphertext)
    idxs = BlindIndex(ring.key("blind_index", new)).digest_many(plain)
    del plain
    rekey = pa.table({"k": pa.array(ids, pa.string()), "ct": pa.array(cts, pa.binary()), "bi": pa.array(idxs, pa.binary())})
    con.register("_rekey_arrow", rekey)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE rekey AS SELECT k, ct, bi FROM _rekey_arrow")
    finally:
        con.unregister("_rekey_arrow")
    # Two steps, because a blind index may be UNIQUE and old and new values could collide mid-update.
    con.execute(f"UPDATE {col.table} SET {col.blind_index} = ('tmp:' || {col.row_key})::BLOB")
    con.execute(
        f"UPDATE {col.table} AS t SET {col.ciphertext} = r.ct, {col.blind_index} = r.bi, {col.version} = ?"
        f" FROM rekey r WHERE t.{col.row_key}::VARCHAR = r.k",
        [new],
    )
    con.execute("DROP TABLE rekey")
    return len(ids)


def _reencrypt(con: duckdb.DuckDBPyConnection, ring: Keyring, new: int, totp_cipher: Any) -> tuple[int, int]:
    numbers = sum(_reencrypt_numbers(con, ring, new, col) for col in ENCRYPTED_NUMBERS)
    users = con.execute("SELECT user_id, totp_secret, totp_key_version FROM users").fetchall()
    for user_id, ct, v in users:
        secret = totp_cipher(v).decrypt(ct, user_id, table="users", column="totp_secret")
        con.execute(
            "UPDATE users SET totp_secret = ?, totp_key_version = ? WHERE user_id = ?",
            [totp_cipher(new).encrypt(secret, user_id, table="users", column="totp_secret"), new, user_id],
        )
    return numbers, len(users)


#: The named steps of a rotation, in order (see the module docstring).
STEPS = ("journal_written", "key_added", "reencrypted", "copied", "swapped", "keyring_switched",
         "old_destroyed", "done")
JOURNAL = "rotation.journal"
JOURNAL_FORMAT = "workbench-rotation/1"

#: Fault injection for the crash tests: called with each step's name once it is reached.
fault_hook: Callable[[str], None] | None = None


def _reached(step: str) -> None:
    if fault_hook is not None:
        fault_hook(step)


def _journal_path(ws: Workspace) -> Path:
    return ws.path / JOURNAL


def _read_journal(ws: Workspace) -> dict[str, Any] | None:
    try:
        doc = json.loads(_journal_path(ws).read_text("utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:
        raise KeyringError(
            f"The rotation journal {JOURNAL} is damaged; run `workbench keys repair`.",
            f"鍵更新のジャーナル {JOURNAL} が破損しています。`workbench keys repair` を実行してください。",
        ) from None
    if (not isinstance(doc, dict) or doc.get("format") != JOURNAL_FORMAT or not isinstance(doc.get("new"), int)
            or doc.get("step") not in STEPS):
        raise KeyringError(
            f"The rotation journal {JOURNAL} is not in a known format.",
            f"鍵更新のジャーナル {JOURNAL} の形式が不明です。",
        )
    return dict(doc)


def _write_journal(ws: Workspace, journal: dict[str, Any], step: str) -> None:
    journal["step"] = step
    path = _journal_path(ws)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".rotation-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(journal, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    _reached(step)


def _fresh_path(ws: Workspace) -> Path:
    return ws.db_path.with_name(ws.db_path.name + ".rotating")


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _opening_version(ws: Workspace, prefer: int) -> int:
    """The key version that opens the database file now (``prefer`` tried first)."""
    ring = ws.keyring
    for version in [prefer, *sorted((v for v in ring.masters if v != prefer), reverse=True)]:
        try:
            Store.open_connection(ws.db_path, ring.database_key_hex(version)).close()
        except WrongKey:
            continue
        return version
    raise WrongKey("No key in the keyring opens the database.", "鍵束のどの鍵でもデータベースを開けません。")


def _complete(ws: Workspace, journal: dict[str, Any], user_id: str, now: dt.datetime) -> RotationReport:
    """Carry a journaled rotation from wherever it stopped to its end.  Caller holds the lock."""
    ring = ws.keyring
    new = int(journal["new"])
    db, fresh = ws.db_path, _fresh_path(ws)
    counts, erased = (0, 0), 0
    if ring.plaintext_for_tests:  # every version "opens" an unencrypted file: go by the journal
        swapped = STEPS.index(journal["step"]) >= STEPS.index("swapped")
        opens_with = new if swapped else int(journal["old"])
    else:
        opens_with = _opening_version(ws, prefer=new)
    if opens_with != new:  # not swapped yet: (re-)encrypt if needed, copy, swap
        fresh.unlink(missing_ok=True)
        _wal(fresh).unlink(missing_ok=True)
        con = Store.open_connection(db, ring.database_key_hex(opens_with), ws.path / "tmp")
        try:
            if STEPS.index(journal["step"]) < STEPS.index("reencrypted"):
                con.execute("BEGIN TRANSACTION")
                counts = _reencrypt(con, ring, new, ws.totp_cipher)
                # COPY FROM DATABASE rebuilds the file, so rows deleted before are gone from
                # its bytes too (DESIGN §3): earlier deletions are recorded as erased.
                erased = len(con.execute(
                    "UPDATE result_deletions SET rebuilt_at = ? WHERE rebuild_needed AND rebuilt_at IS NULL"
                    " RETURNING deletion_id", [now],
                ).fetchall())
                audit.append(con, key=ring.audit_key(), at=now, user_id=user_id, operation="keys.rotate",
                             outcome="ok", params={"new_version": new, "numbers": counts[0], "totp": counts[1],
                                                   "recovered": user_id == "system"})
                con.execute("COMMIT")
                audit.write_head(con, key=ring.audit_key(), path=ws.heads_path, at=now)
                _write_journal(ws, journal, "reencrypted")
            con.execute("CHECKPOINT")
            con.execute(attach_sql(fresh, "fresh", ring.database_key_hex(new)))
            con.execute("COPY FROM DATABASE wb TO fresh")
            con.execute("DETACH fresh")
        finally:
            con.close()
        if _wal(db).exists() or _wal(fresh).exists():
            raise StoreError(
                "The database was not fully checkpointed before the key swap; run `workbench keys repair`.",
                "鍵の切替前にデータベースの書き出しが完了していません。`workbench keys repair` を実行してください。",
            )
        fsync_file(fresh)
        _write_journal(ws, journal, "copied")
        os.replace(fresh, db)
        fsync_dir(db.parent)
        _write_journal(ws, journal, "swapped")
    ring.database_version = new
    ring.save(ws.key_source)
    _write_journal(ws, journal, "keyring_switched")
    gone = ring.destroy_versions_before(new)
    ring.save(ws.key_source)
    _write_journal(ws, journal, "old_destroyed")
    _journal_path(ws).unlink()
    fsync_dir(ws.path)
    _reached("done")
    return RotationReport(old_versions=gone, new_version=new,
                          numbers=counts[0], totp_secrets=counts[1], deletions_erased=erased)


@composite("keys.rotate")
def rotate(session: Session) -> RotationReport:
    """Move every ciphertext and the database file to a new key version (``keys.manage``)."""
    ws = session.workspace
    session.require(Permission.KEYS_MANAGE, "keys.rotate")
    now = ws.clock.now()
    with ws.lock.hold("keys.rotate", session.user_id):
        ws.keyring.refresh(ws.key_source)  # another process may have rotated since we opened
        _recover_locked(ws, now)
        con = Store.open_connection(ws.db_path, ws.keyring.database_key_hex(), ws.path / "tmp")
        try:
            alarms = audit.open_alarms(con)
        finally:
            con.close()
        if alarms:
            raise audit.alarm_refusal(alarms)
        ring = ws.keyring
        new = max(ring.masters) + 1
        journal: dict[str, Any] = {"format": JOURNAL_FORMAT, "old": ring.database_version, "new": new,
                                   "by": session.user_id,
                                   "started_at": now.isoformat()}
        _write_journal(ws, journal, "journal_written")
        added = ring.add_version()
        assert added == new
        ring.save(ws.key_source)
        _write_journal(ws, journal, "key_added")
        return _complete(ws, journal, session.user_id, now)


def _recover_locked(ws: Workspace, now: dt.datetime) -> dict[str, Any] | None:
    journal = _read_journal(ws)
    if journal is None:
        return None
    _fresh_path(ws).unlink(missing_ok=True)
    if journal["new"] not in ws.keyring.masters:
        # The new key never reached the keyring: nothing else changed, so roll back.
        _journal_path(ws).unlink()
        fsync_dir(ws.path)
        return {"rotation": "rolled_back", "step": journal["step"], "database_version": ws.keyring.database_version}
    report = _complete(ws, journal, "system", now)
    return {"rotation": "completed", "step": journal["step"], "database_version": report.new_version}


def recover(ws: Workspace) -> dict[str, Any] | None:
    """Finish or roll back a rotation a crash interrupted (called by :meth:`Workspace.open`).

    Returns what was done, or ``None`` when no rotation was interrupted."""
    if not _journal_path(ws).exists():
        return None
    with ws.lock.hold("keys.recover", "system"):
        ws.keyring.refresh(ws.key_source)
        return _recover_locked(ws, ws.clock.now())


def repair_workspace(ws: Workspace) -> dict[str, Any]:
    """``workbench keys repair``: finish an interrupted rotation, or (with no journal) make the
    keyring name the key version that opens the database file.  Needs no login: it runs on the
    files, by whoever holds the keyring, and is audited as ``system``."""
    done = recover(ws)
    if done is None:
        with ws.lock.hold("keys.repair", "system"):
            ws.keyring.refresh(ws.key_source)
            before = ws.keyring.database_version
            version = repair(ws)
        done = {"rotation": None, "database_version": version, "changed": version != before}
    ws.store.migrate()
    ws.audit_only("system", "keys.repair", "ok", **{k: v for k, v in done.items() if k != "rotation"},
                  rotation=str(done["rotation"]))
    return done


def repair(ws: Workspace) -> int:
    """After a crash mid-rotation: find the key version that opens the file, record it."""
    ring = ws.keyring
    for version in sorted(ring.masters, reverse=True):
        try:
            Store.open_connection(ws.db_path, ring.database_key_hex(version)).close()
        except WrongKey:
            continue
        ring.database_version = version
        ring.save(ws.key_source)
        return version
    raise WrongKey("No key in the keyring opens the database.", "鍵束のどの鍵でもデータベースを開けません。")


# -- the key-encryption key (issue 19 item 3): migrate an old keyring, re-wrap under a new KEK --------

def wrap_workspace(path: str | Path, kek: KeyEncryptionKey) -> dict[str, Any]:
    """``workbench keys wrap``: wrap the unwrapped keyring of a workspace made before issue 19 by
    ``kek`` (outside the folder), once, on request — never silently.  No login: the keyring is
    readable by whoever holds the folder until this runs.  The KEK's path is recorded in the
    setting ``kek_file`` first, so a crash in between leaves a workspace that asks for this again."""
    root = Path(path)
    settings = Settings.load(root / SETTINGS_FILE)
    refuse_inside(kek, root)
    plain_source = FileKeySource(_resolve_keyring(root, settings))
    raw = plain_source.read()
    if raw is not None and is_wrapped(raw):
        raise KeyringError(
            "This keyring is already wrapped by a key-encryption key; to change the KEK use `workbench keys rewrap`.",
            "この鍵束はすでに鍵暗号化鍵（KEK）で保護されています。KEK を変えるには `workbench keys rewrap` を使ってください。",
            reason="already_wrapped")
    ring = Keyring.load(plain_source)  # a missing or damaged keyring is refused here
    if ring.workspace_id != settings.workspace_id:
        raise KeyringError("The keyring belongs to another workspace.", "この鍵束は別のワークスペースのものです。")
    lock = WorkspaceLock(root / "db.lock", timeout=settings.lock_timeout_seconds)
    with lock.hold("keys.wrap", "system"):
        if kek.path is not None and not kek.from_environment:
            settings.kek_file = str(kek.path)
            settings.save(root / SETTINGS_FILE)
        source = WrappedKeySource(plain_source, kek)
        ring.save(source)
    ws = Workspace.open(root, key_source=source)
    ws.audit_only("system", "keys.wrap", "ok", kek_id=kek.kek_id)
    return {"workspace": str(root), "wrapped": True, "kek_id": kek.kek_id, "kek_file": settings.kek_file,
            "message_ja": "鍵束を鍵暗号化鍵（KEK）で保護しました。以前の鍵束の写し（バックアップの鍵束の写しを含む）は平文です。"
                          "破棄し、`workbench keys rotate` で鍵を更新してください。",
            "message_en": "The keyring is now wrapped by the key-encryption key. Earlier copies of the keyring "
                          "(including backup keyring copies) are in clear: destroy them and run `workbench keys rotate`."}


def wrap_keyring_copy(path: str | Path, kek: KeyEncryptionKey) -> dict[str, Any]:
    """``workbench keys wrap --keyring FILE``: wrap a loose keyring copy (one ``backup --keyring-out``
    wrote before issue 19), so it can be used by ``restore``."""
    source = FileKeySource(path)
    raw = source.read()
    if raw is not None and is_wrapped(raw):
        raise KeyringError("This keyring copy is already wrapped.", "この鍵束の写しはすでに保護されています。",
                           reason="already_wrapped")
    ring = Keyring.load(source)
    ring.save(WrappedKeySource(source, kek))
    return {"keyring": str(path), "wrapped": True, "kek_id": kek.kek_id}


def rewrap(session: Session, new_kek: KeyEncryptionKey) -> dict[str, Any]:
    """``workbench keys rewrap``: wrap the keyring by a new KEK (``keys.manage``), e.g. when the old
    one may have leaked.  Three writes, each atomic, so a kill at any point leaves a keyring the
    KEK named in the settings opens: (1) wrapped by both KEKs, (2) the setting ``kek_file`` names
    the new one, (3) wrapped by the new one only.  Allowed while an audit alarm is open (it is
    how one answers a leak)."""
    ws = session.workspace
    session.require(Permission.KEYS_MANAGE, "keys.rewrap")
    source, old = ws.key_source, ws.kek
    if not isinstance(source, WrappedKeySource) or old is None:
        raise KeyringError("This workspace's keyring is not kept wrapped by a KEK file.",
                           "このワークスペースの鍵束は KEK ファイルで保護されていません。", reason="keyring_unwrapped")
    refuse_inside(new_kek, ws.path)
    if new_kek.kek_id == old.kek_id:
        raise InvalidInput("The new KEK is the one in use; create a new one with `workbench keys kek-new FILE`.",
                           "新しい KEK が現在のものと同じです。`workbench keys kek-new FILE` で新しく作成してください。",
                           reason="same_kek")
    now = ws.clock.now()
    with ws.transaction("keys.rewrap", session.user_id) as con:
        ws.keyring.refresh(source)
        plain = source.read()
        assert plain is not None
        source.write_wrapped(plain, [old, new_kek])
        _reached("rewrap_both")
        settings_file = ws.path / SETTINGS_FILE
        recorded = new_kek.path is not None and ws.settings.kek_file is not None
        if recorded:
            ws.settings.kek_file = str(new_kek.path)
            ws.settings.save(settings_file)
        _reached("rewrap_setting")
        source.kek = new_kek
        source.write_wrapped(plain, [new_kek])
        audit.append(con, key=ws.keyring.audit_key(), at=now, user_id=session.user_id, operation="keys.rewrap",
                     outcome="ok", params={"old_kek": old.kek_id, "new_kek": new_kek.kek_id})
    return {"rewrapped": True, "old_kek_id": old.kek_id, "new_kek_id": new_kek.kek_id,
            "kek_file": ws.settings.kek_file,
            "message_ja": "鍵束を新しい KEK で保護し直しました。" + (
                "設定 kek_file を新しい KEK に切り替えました。" if recorded else
                f"{KEK_ENV} や systemd の資格情報を新しい KEK ファイルに切り替えてください。") + "古い KEK は破棄してください。",
            "message_en": "The keyring is now wrapped by the new KEK. " + (
                "The setting kek_file names it." if recorded else
                f"Point {KEK_ENV} or the systemd credential at the new KEK file.") + " Destroy the old KEK."}


def _resolve_keyring(root: Path, settings: Settings) -> Path:
    p = Path(settings.keyring_path)
    return p if p.is_absolute() else root / p
