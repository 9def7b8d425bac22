"""Key rotation (鍵の更新): every ciphertext and the database file move to new keys.

DESIGN §4, §3.  ``rotate`` is a journaled, restartable operation.  Its steps (:data:`STEPS`), each
recorded in the journal ``rotation.journal`` beside the keyring before the next begins:

1. ``journal_written`` — the journal names the old and the new key version;
2. ``key_added`` — the new master version is saved in the keyring (both versions present; the
   current version stays the old one until the switch, so nothing but the rotation uses the new key
   before the new file is in place);
3. ``recorded`` — in one transaction of the old file, earlier result deletions are marked erased and
   the audit record is appended (how many numbers and TOTP secrets move);
4. ``copied`` — a new file encrypted with the new database key is written from the old one: the
   schema (``COPY FROM DATABASE … (SCHEMA)``), then each table's rows with one ``INSERT … SELECT``,
   except that every Individual Number and TOTP secret is decrypted with its recorded version and
   encrypted under the new one, and its blind index recomputed, on its way in (Arrow batches; the old
   file is never rewritten, so no index is updated row by row); then fsynced;
5. ``swapped`` — the new file replaces the old one atomically;
6. ``keyring_switched`` — the keyring records the new version as current and as the database's;
7. ``old_destroyed`` — the old versions are destroyed;
8. ``done`` — the journal is removed.

A crash at any step leaves a workspace that :meth:`Workspace.open` brings back by
itself (:func:`recover`): if the new key never reached the keyring the rotation is
rolled back (nothing else had changed); otherwise it is completed, whichever key
now opens the database file, since the old key is destroyed only after the swap.
``workbench keys repair`` does the same on request and, with no journal, finds the
key version that opens the file.  Packages written before a rotation cannot be
opened afterwards: issue new key files.

Embedded, a rotation runs under the workspace lock from start to end.  In the data server (issue 19;
issue 22 item 8: a purge "does not block reads") it holds the writers' turn instead: every write waits,
but reads go on against the old file while the new one is written, and wait only for the swap
(:meth:`~workbench.core.store.ResidentStore.exclusive`).  Reads still append their audit records (and the
tail check its alarms) meanwhile; with everyone paused, the rows the old file gained since the copy are
carried into the new one (:data:`WRITTEN_BESIDE`), and a new file whose tables do not all hold as many
rows as the old one's is written again, before the swap.  Each phase's seconds are logged
(``workbench.rotation``, INFO).
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
from workbench.core.store import ResidentStore, Store, WorkspaceLock, attach_sql

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
    def transaction(self, operation: str, user_id: str) -> contextlib.AbstractContextManager[duckdb.DuckDBPyConnection]: ...


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
#: The TOTP secrets (under the "totp" key, the user ID bound in): (table, row key, ciphertext, version).
TOTP_SECRETS = ("users", "user_id", "totp_secret", "totp_key_version")
#: Tables a unit may write in the data server without the writers' turn — a read's audit record, the tail
#: check's alarm (``workbench.core.store.ResidentStore``) — with the column that tells their rows apart:
#: what reads add while a rotation writes the new file is carried into it before the swap.
WRITTEN_BESIDE = (("audit_log", "seq"), ("audit_alarms", "alarm_id"))
#: Rows re-encrypted per Arrow batch on their way into the new file.
BATCH_ROWS = 100_000


def _log_phase(name: str, seconds: float) -> None:
    log.info("rotation phase %s: %.2f s", name, seconds, extra={"phase": name, "seconds": seconds})


@contextlib.contextmanager
def _phase(name: str) -> Iterator[None]:
    """Log how long one phase of a rotation took (``workbench.rotation`` at INFO: a name and seconds, no data)."""
    t0 = time.perf_counter()
    yield
    _log_phase(name, time.perf_counter() - t0)


Transform = Callable[[pa.RecordBatch], pa.RecordBatch]


def _replace(batch: pa.RecordBatch, values: dict[str, list[Any]]) -> pa.RecordBatch:
    """``batch`` with the named columns replaced (each keeps its Arrow type)."""
    columns = list(batch.columns)
    for name, column in values.items():
        i = batch.schema.get_field_index(name)
        columns[i] = pa.array(column, type=batch.schema.field(i).type)
    return pa.RecordBatch.from_arrays(columns, schema=batch.schema)


def _numbers_transform(ring: Keyring, new: int, col: EncryptedNumbers) -> Transform:
    """Re-encrypt a batch of one number column: decrypt by recorded version, encrypt under ``new``, new
    blind indexes (AES-GCM and HMAC per value are the floor: ~3.5 s per million numbers on a quiet machine here)."""
    cipher = NumberCipher(ring.key("numbers", new), new)
    blind = BlindIndex(ring.key("blind_index", new))

    def transform(batch: pa.RecordBatch) -> pa.RecordBatch:
        keys: list[str] = batch.column(col.row_key).cast(pa.string()).to_pylist()
        old_cts: list[bytes] = batch.column(col.ciphertext).to_pylist()
        versions: list[int] = batch.column(col.version).to_pylist()
        plain = [""] * len(keys)
        by_version: dict[int, list[int]] = {}
        for i, v in enumerate(versions):
            by_version.setdefault(int(v), []).append(i)
        for v, idx in by_version.items():
            old = NumberCipher(ring.key("numbers", v), v)
            clear = old.decrypt_many([old_cts[i] for i in idx], [keys[i] for i in idx],
                                     table=col.table, column=col.ciphertext)
            for i, c in zip(idx, clear, strict=True):
                plain[i] = c
        del old_cts
        out = _replace(batch, {
            col.ciphertext: cipher.encrypt_many(plain, keys, table=col.table, column=col.ciphertext),
            col.blind_index: blind.digest_many(plain),
            col.version: [new] * len(keys),
        })
        del plain
        return out

    return transform


def _totp_transform(totp_cipher: Callable[[int], SecretCipher], new: int) -> Transform:
    table, row_key, ciphertext, version = TOTP_SECRETS
    cipher = totp_cipher(new)

    def transform(batch: pa.RecordBatch) -> pa.RecordBatch:
        ids: list[str] = batch.column(row_key).to_pylist()
        cts: list[bytes] = batch.column(ciphertext).to_pylist()
        versions: list[int] = batch.column(version).to_pylist()
        secrets = [totp_cipher(int(v)).decrypt(ct, u, table=table, column=ciphertext)
                   for u, ct, v in zip(ids, cts, versions, strict=True)]
        return _replace(batch, {
            ciphertext: [cipher.encrypt(s, u, table=table, column=ciphertext) for u, s in zip(ids, secrets, strict=True)],
            version: [new] * len(ids),
        })

    return transform


def _transforms(ring: Keyring, new: int, totp_cipher: Callable[[int], SecretCipher]) -> dict[str, Transform]:
    out = {col.table: _numbers_transform(ring, new, col) for col in ENCRYPTED_NUMBERS}
    out[TOTP_SECRETS[0]] = _totp_transform(totp_cipher, new)
    return out


def _tables(con: duckdb.DuckDBPyConnection, catalog: str) -> list[str]:
    return [str(r[0]) for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main' AND NOT temporary"
        " ORDER BY table_name", [catalog]).fetchall()]


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def _moved(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """How many numbers and TOTP secrets a rotation moves to the new key."""
    return sum(_count(con, col.table) for col in ENCRYPTED_NUMBERS), _count(con, TOTP_SECRETS[0])


def _record(con: duckdb.DuckDBPyConnection, ring: Keyring, new: int, user_id: str, now: dt.datetime
            ) -> tuple[tuple[int, int], int]:
    """In the caller's transaction: earlier deletions marked erased, and the rotation's audit record.

    The new file is written from the old one (step ``copied``), and ``COPY``-ing rebuilds every table,
    so rows deleted before are gone from its bytes too (DESIGN §3)."""
    counts = _moved(con)
    erased = len(con.execute(
        "UPDATE result_deletions SET rebuilt_at = ? WHERE rebuild_needed AND rebuilt_at IS NULL"
        " RETURNING deletion_id", [now],
    ).fetchall())
    audit.append(con, key=ring.audit_key(), at=now, user_id=user_id, operation="keys.rotate",
                 outcome="ok", params={"new_version": new, "numbers": counts[0], "totp": counts[1],
                                       "recovered": user_id == "system"})
    return counts, erased


#: Tables whose copy is worth a line in the phase log (the big ones).
_LOGGED = frozenset({"persons", "households", "audit_log"})


def _write_fresh(con: duckdb.DuckDBPyConnection, ring: Keyring, new: int, fresh: Path,
                 totp_cipher: Callable[[int], SecretCipher]) -> None:
    """Write ``fresh`` (attached as ``fresh``, left attached) from ``wb``: the schema, then every table's rows
    in one transaction, the numbers and TOTP secrets re-encrypted on their way in."""
    con.execute(attach_sql(fresh, "fresh", ring.database_key_hex(new)))
    try:
        con.execute("COPY FROM DATABASE wb TO fresh (SCHEMA)")
        transforms = _transforms(ring, new, totp_cipher)
        reader = con.cursor()  # streams the rows to re-encrypt while ``con`` inserts
        try:
            con.execute("BEGIN TRANSACTION")
            for table in _tables(con, "wb"):
                transform = transforms.get(table)
                if transform is None:
                    with _phase(f"copy {table}") if table in _LOGGED else contextlib.nullcontext():
                        con.execute(f'INSERT INTO fresh.main."{table}" SELECT * FROM wb.main."{table}"')
                    continue
                with _phase(f"re-encrypt {table}"):
                    batches = reader.execute(f'SELECT * FROM wb.main."{table}"').to_arrow_reader(BATCH_ROWS)
                    for batch in batches:
                        con.register("_rekeyed", pa.Table.from_batches([transform(batch)]))
                        try:
                            con.execute(f'INSERT INTO fresh.main."{table}" BY NAME SELECT * FROM _rekeyed')
                        finally:
                            con.unregister("_rekeyed")
            with _phase("commit"):
                con.execute("COMMIT")
        finally:
            reader.close()
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        with contextlib.suppress(duckdb.Error):
            con.execute("DETACH fresh")
        raise


def _catch_up(con: duckdb.DuckDBPyConnection, ring: Keyring, new: int, fresh: Path,
              totp_cipher: Callable[[int], SecretCipher]) -> None:
    """With no one else at work: carry into ``fresh`` what the old file gained while it was written (the
    audit records of reads beside a rotation in the data server), then check that every table holds as
    many rows in both; if one does not (a write we did not foresee), write ``fresh`` again.  Detaches it."""
    for table, key in WRITTEN_BESIDE:
        if table == "audit_log":
            con.execute(f"INSERT INTO fresh.{table} SELECT * FROM wb.{table}"
                        f" WHERE {key} > (SELECT coalesce(max({key}), -1) FROM fresh.{table})")
        else:
            con.execute(f"INSERT INTO fresh.{table} SELECT * FROM wb.{table}"
                        f" WHERE {key} NOT IN (SELECT {key} FROM fresh.{table})")
    differ = [t for t in _tables(con, "wb") if _count(con, f'wb.main."{t}"') != _count(con, f'fresh.main."{t}"')]
    if differ:
        log.warning("rotation: the new file was written again (tables changed meanwhile: %s)", ", ".join(differ[:10]))
        con.execute("DETACH fresh")
        fresh.unlink(missing_ok=True)
        _wal(fresh).unlink(missing_ok=True)
        _write_fresh(con, ring, new, fresh, totp_cipher)
    con.execute("DETACH fresh")


#: The named steps of a rotation, in order (see the module docstring).
STEPS = ("journal_written", "key_added", "recorded", "copied", "swapped", "keyring_switched",
         "old_destroyed", "done")
#: Steps of journals written by earlier versions, by what they mean now: ``reencrypted`` — the numbers were
#: re-encrypted inside the old file (the copy decrypts each by its recorded version, as any other) and the
#: audit record appended — is ``recorded``.
OLD_STEPS = {"reencrypted": "recorded"}
JOURNAL = "rotation.journal"
JOURNAL_FORMAT = "workbench-rotation/1"

#: Fault injection for the crash tests: called with each step's name once it is reached, and with
#: ``built`` once the new file is written (before a rotation in the data server pauses the readers).
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
    if isinstance(doc, dict) and doc.get("step") in OLD_STEPS:
        doc["step"] = OLD_STEPS[doc["step"]]
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


@contextlib.contextmanager
def _opened(ws: RotationWorkspace, version: int) -> Iterator[duckdb.DuckDBPyConnection]:
    """The database file as ``wb`` in a DuckDB instance of its own (the caller holds the lock)."""
    con = Store.open_connection(ws.db_path, ws.keyring.database_key_hex(version), ws.path / "tmp")
    try:
        yield con
    finally:
        con.close()


def _complete(ws: RotationWorkspace, journal: dict[str, Any], user_id: str, now: dt.datetime, *,
              beside: ResidentStore | None = None) -> RotationReport:
    """Carry a journaled rotation from wherever it stopped to its end.

    Embedded (``beside`` is None) the caller holds the lock.  ``beside``: the data server's store, whose
    writers' turn the caller holds; the file is open there, readers go on until the new file is written,
    and then it is handed over (readers paused) for the swap."""
    ring = ws.keyring
    new = int(journal["new"])
    db, fresh = ws.db_path, _fresh_path(ws)
    counts, erased = (0, 0), 0
    with contextlib.ExitStack() as paused:
        if beside is not None:
            opens_with = ring.database_version  # the server opened the file with it
        elif ring.plaintext_for_tests:  # every version "opens" an unencrypted file: go by the journal
            swapped = STEPS.index(journal["step"]) >= STEPS.index("swapped")
            opens_with = new if swapped else int(journal["old"])
        else:
            opens_with = _opening_version(ws, prefer=new)
        if opens_with != new:  # not swapped yet: record if needed, write the new file, swap
            fresh.unlink(missing_ok=True)
            _wal(fresh).unlink(missing_ok=True)
            recorded = STEPS.index(journal["step"]) >= STEPS.index("recorded")
            if beside is None:
                with _opened(ws, opens_with) as con:
                    if not recorded:
                        with _phase("record"):
                            con.execute("BEGIN TRANSACTION")
                            counts, erased = _record(con, ring, new, user_id, now)
                            con.execute("COMMIT")
                            audit.write_head(con, key=ring.audit_key(), path=ws.heads_path, at=now)
                        _write_journal(ws, journal, "recorded")
                    con.execute("CHECKPOINT")  # the old file's log goes before the file is replaced
                    with _phase("write new file"):
                        _write_fresh(con, ring, new, fresh, ws.totp_cipher)
                    _reached("built")
                    with _phase("catch up"):
                        _catch_up(con, ring, new, fresh, ws.totp_cipher)
            else:
                if not recorded:
                    with _phase("record"), ws.transaction("keys.rotate", user_id) as con:  # its head after the commit
                        counts, erased = _record(con, ring, new, user_id, now)
                    _write_journal(ws, journal, "recorded")
                with beside.reading() as con, _phase("write new file"):
                    _write_fresh(con, ring, new, fresh, ws.totp_cipher)
                    con.execute("DETACH fresh")
                _reached("built")
                t_paused = time.perf_counter()  # logged once the file is open again (the callback runs last)
                paused.callback(lambda: _log_phase("readers paused", time.perf_counter() - t_paused))
                with _phase("pause readers"):
                    paused.enter_context(beside.exclusive())  # readers wait from here; the file is closed
                    paused.enter_context(ws.lock.hold("keys.rotate", user_id))
                with _phase("catch up"), _opened(ws, opens_with) as con:
                    con.execute(attach_sql(fresh, "fresh", ring.database_key_hex(new)))
                    _catch_up(con, ring, new, fresh, ws.totp_cipher)
            if _wal(db).exists() or _wal(fresh).exists():
                raise StoreError(
                    "The database was not fully checkpointed before the key swap; run `workbench keys repair`.",
                    "鍵の切替前にデータベースの書き出しが完了していません。`workbench keys repair` を実行してください。",
                )
            with _phase("sync"):
                fsync_file(fresh)
            _write_journal(ws, journal, "copied")
            os.replace(fresh, db)
            fsync_dir(db.parent)
            _write_journal(ws, journal, "swapped")
        ring.current = ring.database_version = new
        ring.save(ws.key_source)
        _write_journal(ws, journal, "keyring_switched")
        gone = ring.destroy_versions_before(new)
        ring.save(ws.key_source)
        _write_journal(ws, journal, "old_destroyed")
        _journal_path(ws).unlink()
        fsync_dir(ws.path)
        _reached("done")
    # (leaving ``paused`` opens the new file in the data server, under the new key)
    return RotationReport(old_versions=gone, new_version=new,
                          numbers=counts[0], totp_secrets=counts[1], deletions_erased=erased)


def _start(ws: RotationWorkspace, user_id: str, now: dt.datetime) -> dict[str, Any]:
    """Steps 1 and 2: the journal, then the new master version in the keyring (not yet current)."""
    ring = ws.keyring
    new = max(ring.masters) + 1
    journal: dict[str, Any] = {"format": JOURNAL_FORMAT, "old": ring.database_version, "new": new,
                               "by": user_id, "started_at": now.isoformat()}
    _write_journal(ws, journal, "journal_written")
    current = ring.current
    added = ring.add_version()
    assert added == new
    ring.current = current  # the new version becomes current with the new file (step keyring_switched)
    ring.save(ws.key_source)
    _write_journal(ws, journal, "key_added")
    return journal


@composite("keys.rotate", exclusive=False)
def rotate(session: RotationSession) -> RotationReport:
    """Move every ciphertext and the database file to a new key version (``keys.manage``).

    In the data server it does not need the file alone from the start (so its composite is not
    ``exclusive``): it holds the writers' turn, lets reads go on while it writes the new file, and pauses
    them for the swap only (see the module docstring)."""
    ws = session.workspace
    session.require(Permission.KEYS_MANAGE, "keys.rotate")
    now = ws.clock.now()
    store = ws.store
    if isinstance(store, ResidentStore) and store.resident:
        return _rotate_beside_readers(ws, store, session.user_id, now)
    with ws.lock.hold("keys.rotate", session.user_id):
        ws.keyring.refresh(ws.key_source)  # another process may have rotated since we opened
        _recover_locked(ws, now)
        with _opened(ws, ws.keyring.database_version) as con:
            alarms = audit.open_alarms(con)
        if alarms:
            raise audit.alarm_refusal(alarms)
        journal = _start(ws, session.user_id, now)
        return _complete(ws, journal, session.user_id, now)


def _rotate_beside_readers(ws: RotationWorkspace, store: ResidentStore, user_id: str, now: dt.datetime
                           ) -> RotationReport:
    # Every writer waits from here, the logins' writes beside the turn too; readers go on.
    with store.queue.hold("keys.rotate", user_id), store.beside_shut():
        if _journal_path(ws).exists():  # a rotation in this server stopped half-way: finish it alone first
            with store.exclusive(), ws.lock.hold("keys.recover", user_id):
                ws.keyring.refresh(ws.key_source)
                _recover_locked(ws, now)
        ws.keyring.refresh(ws.key_source)  # in place: the readers' keyring is this one
        with store.transaction("keys.rotate", user_id, writes=False, read_only=True) as con:
            alarms = audit.open_alarms(con)
        if alarms:
            raise audit.alarm_refusal(alarms)
        journal = _start(ws, user_id, now)
        return _complete(ws, journal, user_id, now, beside=store)


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
