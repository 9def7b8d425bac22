"""Key rotation (鍵の更新): every ciphertext and the database file move to new keys.

DESIGN §4, §3.  ``rotate`` runs under the workspace lock:

1. a new master version is added to the keyring and saved (both versions present);
2. in one transaction every Individual Number and TOTP secret is decrypted with its
   recorded version and encrypted under the new one, blind indexes are recomputed,
   and the audit record is appended;
3. the database is copied with ``COPY FROM DATABASE`` into a new file encrypted with
   the new database key, fsynced and swapped in atomically;
4. the keyring records the new database version, then the old versions are destroyed.

A crash at any step leaves a workspace that opens: before step 4 the keyring holds
both versions, and :meth:`Store.open_connection` is only ever given the version the
keyring names, which is updated only after the swap.  If the process dies between
the swap and step 4, ``repair`` finds the version that opens the file.
Packages written before a rotation cannot be opened afterwards: issue new key files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import duckdb

from . import audit
from ._files import fsync_file
from .errors import WrongKey
from .keys import Keyring
from .numbers import BlindIndex, NumberCipher
from .permissions import Permission
from .store import Store, attach_sql
from .workspace import Session, Workspace

__all__ = ["RotationReport", "repair", "rotate"]


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
    rows = con.execute(
        f"SELECT {col.row_key}, {col.ciphertext}, {col.version} FROM {col.table} ORDER BY {col.row_key}"
    ).fetchall()
    if not rows:
        return 0
    plain: list[str] = [""] * len(rows)
    by_version: dict[int, list[int]] = {}
    for i, row in enumerate(rows):
        by_version.setdefault(int(row[2]), []).append(i)
    for v, idx in by_version.items():
        old = NumberCipher(ring.key("numbers", v), v)
        clear = old.decrypt_many([rows[i][1] for i in idx], [rows[i][0] for i in idx],
                                 table=col.table, column=col.ciphertext)
        for i, c in zip(idx, clear, strict=True):
            plain[i] = c
    ids = [r[0] for r in rows]
    cts = NumberCipher(ring.key("numbers", new), new).encrypt_many(plain, ids, table=col.table, column=col.ciphertext)
    idxs = BlindIndex(ring.key("blind_index", new)).digest_many(plain)
    del plain
    con.execute("CREATE OR REPLACE TEMP TABLE rekey (k VARCHAR, ct BLOB, bi BLOB)")
    con.executemany("INSERT INTO rekey VALUES (?, ?, ?)", list(zip(ids, cts, idxs, strict=True)))
    # Two steps, because a blind index may be UNIQUE and old and new values could collide mid-update.
    con.execute(f"UPDATE {col.table} SET {col.blind_index} = ('tmp:' || {col.row_key})::BLOB")
    con.execute(
        f"UPDATE {col.table} AS t SET {col.ciphertext} = r.ct, {col.blind_index} = r.bi, {col.version} = ?"
        f" FROM rekey r WHERE t.{col.row_key} = r.k",
        [new],
    )
    con.execute("DROP TABLE rekey")
    return len(rows)


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


def rotate(session: Session) -> RotationReport:
    """Move every ciphertext and the database file to a new key version (``keys.manage``)."""
    ws = session.workspace
    session.require(Permission.KEYS_MANAGE, "keys.rotate")
    ring = ws.keyring
    old_db = ring.database_version
    new = ring.add_version()
    ring.save(ws.key_source)
    db = ws.db_path
    fresh = db.with_name(db.name + ".rotating")
    fresh.unlink(missing_ok=True)
    now = ws.clock.now()
    with ws.lock.hold("keys.rotate", session.user_id):
        con = Store.open_connection(db, ring.database_key_hex(old_db), ws.path / "tmp")
        try:
            con.execute("BEGIN TRANSACTION")
            counts = _reencrypt(con, ring, new, ws.totp_cipher)
            audit.append(con, key=ring.audit_key(), at=now, user_id=session.user_id, operation="keys.rotate",
                         outcome="ok", params={"new_version": new, "numbers": counts[0], "totp": counts[1]})
            con.execute("COMMIT")
            con.execute(attach_sql(fresh, "fresh", ring.database_key_hex(new)))
            con.execute("COPY FROM DATABASE wb TO fresh")
            con.execute("DETACH fresh")
            audit.write_head(con, key=ring.audit_key(), path=ws.heads_path, at=now)
        finally:
            con.close()
        fsync_file(fresh)
        os.replace(fresh, db)
        db.with_name(db.name + ".wal").unlink(missing_ok=True)
        ring.database_version = new
        ring.save(ws.key_source)
        gone = ring.destroy_versions_before(new)
        ring.save(ws.key_source)
        # The file was rebuilt by COPY FROM DATABASE: rows deleted before are now gone from
        # its bytes too (DESIGN §3), so earlier deletions can be recorded as erased.
        con = Store.open_connection(db, ring.database_key_hex(), ws.path / "tmp")
        try:
            erased = con.execute(
                "UPDATE result_deletions SET rebuilt_at = ? WHERE rebuild_needed AND rebuilt_at IS NULL RETURNING deletion_id",
                [now],
            ).fetchall()
        finally:
            con.close()
    return RotationReport(old_versions=gone, new_version=new, numbers=counts[0], totp_secrets=counts[1],
                          deletions_erased=len(erased))


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
