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
from .errors import WrongKey
from .keys import Keyring
from .numbers import BlindIndex, NumberCipher
from .permissions import Permission
from .store import Store
from .workspace import Session, Workspace

__all__ = ["RotationReport", "repair", "rotate"]


@dataclass(frozen=True)
class RotationReport:
    old_versions: list[int]
    new_version: int
    numbers: int
    totp_secrets: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _reencrypt(con: duckdb.DuckDBPyConnection, ring: Keyring, new: int, totp_cipher: Any) -> tuple[int, int]:
    rows = con.execute("SELECT person_id, number_ct, key_version FROM person_numbers ORDER BY person_id").fetchall()
    new_cipher = NumberCipher(ring.key("numbers", new), new)
    new_index = BlindIndex(ring.key("blind_index", new))
    if rows:
        by_version: dict[int, list[int]] = {}
        for i, (_, _, v) in enumerate(rows):
            by_version.setdefault(int(v), []).append(i)
        plain: list[str] = [""] * len(rows)
        for v, idx in by_version.items():
            old = NumberCipher(ring.key("numbers", v), v)
            clear = old.decrypt_many([rows[i][1] for i in idx], [rows[i][0] for i in idx],
                                     table="person_numbers", column="number_ct")
            for i, c in zip(idx, clear, strict=True):
                plain[i] = c
        ids = [r[0] for r in rows]
        cts = new_cipher.encrypt_many(plain, ids, table="person_numbers", column="number_ct")
        idxs = new_index.digest_many(plain)
        del plain
        con.execute("CREATE TEMP TABLE rekey (person_id VARCHAR, ct BLOB, bi BLOB)")
        con.executemany("INSERT INTO rekey VALUES (?, ?, ?)", list(zip(ids, cts, idxs, strict=True)))
        # Two steps, because the blind index is UNIQUE and old and new values may collide mid-update.
        con.execute("UPDATE person_numbers SET number_index = ('tmp:' || person_id)::BLOB")
        con.execute(
            "UPDATE person_numbers AS p SET number_ct = r.ct, number_index = r.bi, key_version = ?"
            " FROM rekey r WHERE p.person_id = r.person_id",
            [new],
        )
        con.execute("DROP TABLE rekey")
    users = con.execute("SELECT user_id, totp_secret, totp_key_version FROM users").fetchall()
    for user_id, ct, v in users:
        secret = totp_cipher(v).decrypt(ct, user_id, table="users", column="totp_secret")
        con.execute(
            "UPDATE users SET totp_secret = ?, totp_key_version = ? WHERE user_id = ?",
            [totp_cipher(new).encrypt(secret, user_id, table="users", column="totp_secret"), new, user_id],
        )
    return len(rows), len(users)


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
            con.execute(f"ATTACH '{fresh}' AS fresh (ENCRYPTION_KEY '{ring.database_key_hex(new)}')")
            con.execute("COPY FROM DATABASE wb TO fresh")
            con.execute("DETACH fresh")
            audit.write_head(con, key=ring.audit_key(), path=ws.heads_path, at=now)
        finally:
            con.close()
        fd = os.open(fresh, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
        os.replace(fresh, db)
        db.with_name(db.name + ".wal").unlink(missing_ok=True)
        ring.database_version = new
        ring.save(ws.key_source)
        gone = ring.destroy_versions_before(new)
        ring.save(ws.key_source)
    return RotationReport(old_versions=gone, new_version=new, numbers=counts[0], totp_secrets=counts[1])


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
