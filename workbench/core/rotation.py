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

import contextlib
import datetime as dt
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from workbench.core import audit
from workbench.core.clock import Clock
from workbench.core.composites import composite
from workbench.core.errors import KeyringError, StoreError, WrongKey
from workbench.core.keys import Keyring, KeySource
from workbench.core.numbers import BlindIndex, NumberCipher, SecretCipher
from workbench.core.permissions import Permission
from workbench.core.private_files import fsync_dir, fsync_file
from workbench.core.store import Store, WorkspaceLock, attach_sql

log = logging.getLogger("workbench.rotation")

__all__ = ["STEPS", "RotationReport", "RotationSession", "RotationWorkspace", "recover", "repair", "repair_workspace", "rotate"]


class RotationWorkspace(Protocol):
    """What a rotation needs of :class:`workbench.core.workspace.Workspace`.  The workspace builds on
    this module (:meth:`Workspace.open` recovers an interrupted rotation), so this module names
    only the parts it uses instead of importing it: no circle."""

    path: Path
    key_source: KeySource
    keyring: Keyring
    lock: WorkspaceLock
    store: Store
    clock: Clock

    @property
    def db_path(self) -> Path: ...
    @property
    def heads_path(self) -> Path: ...
    def totp_cipher(self, version: int | None = None) -> SecretCipher: ...
    def audit_only(self, user_id: str, operation: str, outcome: str, **params: Any) -> None: ...


class RotationSession(Protocol):
    """What :func:`rotate` needs of :class:`workbench.core.workspace.Session`."""

    @property
    def workspace(self) -> RotationWorkspace: ...
    @property
    def user_id(self) -> str: ...
    def require(self, permission: Permission, operation: str, *, target: str | None = None) -> dt.datetime: ...


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


@contextlib.contextmanager
def _phase(name: str) -> Iterator[None]:
    """Log how long one phase of a rotation took (``workbench.rotation`` at INFO; no data, a name and seconds)."""
    t0 = time.perf_counter()
    yield
    seconds = time.perf_counter() - t0
    log.info("rotation phase %s: %.2f s", name, seconds, extra={"phase": name, "seconds": seconds})


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


def _journal_path(ws: RotationWorkspace) -> Path:
    return ws.path / JOURNAL


def _read_journal(ws: RotationWorkspace) -> dict[str, Any] | None:
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


def _write_journal(ws: RotationWorkspace, journal: dict[str, Any], step: str) -> None:
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


def _fresh_path(ws: RotationWorkspace) -> Path:
    return ws.db_path.with_name(ws.db_path.name + ".rotating")


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _opening_version(ws: RotationWorkspace, prefer: int) -> int:
    """The key version that opens the database file now (``prefer`` tried first)."""
    ring = ws.keyring
    for version in [prefer, *sorted((v for v in ring.masters if v != prefer), reverse=True)]:
        try:
            Store.open_connection(ws.db_path, ring.database_key_hex(version)).close()
        except WrongKey:
            continue
        return version
    raise WrongKey("No key in the keyring opens the database.", "鍵束のどの鍵でもデータベースを開けません。")


def _complete(ws: RotationWorkspace, journal: dict[str, Any], user_id: str, now: dt.datetime) -> RotationReport:
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
def rotate(session: RotationSession) -> RotationReport:
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


def _recover_locked(ws: RotationWorkspace, now: dt.datetime) -> dict[str, Any] | None:
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


def recover(ws: RotationWorkspace) -> dict[str, Any] | None:
    """Finish or roll back a rotation a crash interrupted (called by :meth:`Workspace.open`).

    Returns what was done, or ``None`` when no rotation was interrupted."""
    if not _journal_path(ws).exists():
        return None
    with ws.lock.hold("keys.recover", "system"):
        ws.keyring.refresh(ws.key_source)
        return _recover_locked(ws, ws.clock.now())


def repair_workspace(ws: RotationWorkspace) -> dict[str, Any]:
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


@composite("keys.repair")
def repair_now(session: RotationSession) -> dict[str, Any]:
    """``keys repair`` from the keys screen (``keys.manage``, issue 20 item 10): finish or roll back an
    interrupted rotation, or make the keyring name the key version that opens the database; audited as the
    person who asked.  (``workbench keys repair`` needs no login, for a workspace nobody can log in to.)"""
    ws = session.workspace
    session.require(Permission.KEYS_MANAGE, "keys.repair")
    done = recover(ws)
    if done is None:
        with ws.lock.hold("keys.repair", session.user_id):
            ws.keyring.refresh(ws.key_source)
            before = ws.keyring.database_version
            version = repair(ws)
        done = {"rotation": None, "database_version": version, "changed": version != before}
    ws.audit_only(session.user_id, "keys.repair", "ok", **{k: v for k, v in done.items() if k != "rotation"},
                  rotation=str(done["rotation"]))
    return done


def repair(ws: RotationWorkspace) -> int:
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
