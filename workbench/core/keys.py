"""The keyring (鍵束): master keys outside the database, purpose keys derived by HKDF.

DESIGN §4.  The keyring file lives beside the database, never inside it, mode 0600.
It holds versioned master keys; every purpose key (database, Individual Numbers,
blind index, transfer packages, TOTP secrets) is derived from the master of a given
version with HKDF-SHA256, so a ciphertext records only the version it was made with.

The audit pseudonym key has its own root that rotation keeps: the log is retained for
seven years (C4) and searching it by user or person must keep working across rotations.

Where the master keys are kept is pluggable (:class:`KeySource`), so a deployment can
hold them in an HSM or the OS keystore instead of a file.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from workbench.core.errors import KeyringError
from workbench.core.private_files import fsync_dir

__all__ = ["PURPOSES", "FileKeySource", "KeySource", "Keyring", "MemoryKeySource"]

FORMAT = "workbench-keyring/1"

#: Purposes whose keys rotate with the master version.
PURPOSES = ("database", "numbers", "blind_index", "packages", "totp")


class KeySource(Protocol):
    """Where the serialised keyring is kept."""

    def read(self) -> bytes | None: ...

    def write(self, data: bytes) -> None: ...


class FileKeySource:
    """A keyring file, written atomically with mode 0600."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def read(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None

    def stamp(self) -> tuple[int, int, int, int] | None:
        """What changes whenever the file is written (every write replaces it: a new inode), so a
        reader can skip reading an unchanged keyring: (inode, size, mtime_ns, ctime_ns)."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns

    def write(self, data: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".keyring-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        fsync_dir(self.path.parent)


class MemoryKeySource:
    """For tests: the keyring held in memory."""

    def __init__(self, data: bytes | None = None) -> None:
        self.data = data

    def read(self) -> bytes | None:
        return self.data

    def write(self, data: bytes) -> None:
        self.data = data


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


@dataclass
class Keyring:
    """Versioned master keys and the keys derived from them."""

    workspace_id: str
    masters: dict[int, bytes]
    current: int
    audit_root: bytes
    #: The master version the database file is currently encrypted under.
    database_version: int
    _cache: dict[tuple[str, int], bytes] = field(default_factory=dict, repr=False)
    #: TEST ONLY (never saved): the database file is written without DuckDB encryption, so a
    #: byte search of the workspace means something.  Set only by ``Workspace`` when
    #: ``Settings.test_plaintext_database`` is on inside a pytest run (see store.PLAINTEXT_FOR_TESTS).
    plaintext_for_tests: bool = field(default=False, repr=False)

    # -- construction -------------------------------------------------------------
    @classmethod
    def create(cls, workspace_id: str) -> Keyring:
        return cls(
            workspace_id=workspace_id,
            masters={1: secrets.token_bytes(32)},
            current=1,
            audit_root=secrets.token_bytes(32),
            database_version=1,
        )

    @classmethod
    def load(cls, source: KeySource) -> Keyring:
        raw = source.read()
        if raw is None:
            raise KeyringError(
                "The keyring is missing; without it the workspace cannot be opened.",
                "鍵束ファイルがありません。鍵束なしではワークスペースを開けません。",
            )
        try:
            doc = json.loads(raw.decode("utf-8"))
            body = {k: v for k, v in doc.items() if k != "checksum"}
            if doc.get("format") != FORMAT:
                raise ValueError("format")
            if doc.get("checksum") != _checksum(body):
                raise ValueError("checksum")
            masters = {int(v): _unb64(k) for v, k in body["masters"].items()}
            ring = cls(
                workspace_id=str(body["workspace_id"]),
                masters=masters,
                current=int(body["current"]),
                audit_root=_unb64(body["audit_root"]),
                database_version=int(body["database_version"]),
            )
            if ring.current not in masters or ring.database_version not in masters:
                raise ValueError("versions")
            if any(len(k) != 32 for k in masters.values()) or len(ring.audit_root) != 32:
                raise ValueError("length")
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise KeyringError(
                "The keyring file is damaged (its checksum or layout is wrong); restore it from backup.",
                "鍵束ファイルが破損しています（チェックサムまたは形式の不一致）。バックアップから復元してください。",
                cause=type(exc).__name__,
            ) from None
        return ring

    def refresh(self, source: KeySource) -> None:
        """Re-read the keyring in place (another process may have rotated the keys)."""
        fresh = Keyring.load(source)
        if fresh.workspace_id != self.workspace_id:
            raise KeyringError("The keyring belongs to another workspace.", "この鍵束は別のワークスペースのものです。")
        self.masters, self.current, self.audit_root = fresh.masters, fresh.current, fresh.audit_root
        self.database_version = fresh.database_version
        self._cache = {}

    def save(self, source: KeySource) -> None:
        body = {
            "format": FORMAT,
            "workspace_id": self.workspace_id,
            "current": self.current,
            "database_version": self.database_version,
            "masters": {str(v): _b64(k) for v, k in sorted(self.masters.items())},
            "audit_root": _b64(self.audit_root),
        }
        doc = dict(body, checksum=_checksum(body))
        source.write(json.dumps(doc, indent=1).encode("utf-8"))

    # -- derivation ---------------------------------------------------------------
    def key(self, purpose: str, version: int | None = None) -> bytes:
        """The 32-byte key for ``purpose`` at ``version`` (default: current)."""
        if purpose not in PURPOSES:
            raise KeyringError(f"Unknown key purpose {purpose!r}.", f"不明な鍵用途 {purpose!r} です。")
        version = self.current if version is None else version
        cached = self._cache.get((purpose, version))
        if cached is not None:
            return cached
        try:
            master = self.masters[version]
        except KeyError:
            raise KeyringError(
                f"Key version {version} is not in the keyring (it was destroyed after a rotation).",
                f"鍵バージョン {version} は鍵束にありません（鍵更新後に破棄されています）。",
                version=version,
            ) from None
        derived = _hkdf(master, self.workspace_id, f"workbench:{purpose}:v{version}")
        self._cache[(purpose, version)] = derived
        return derived

    def audit_key(self) -> bytes:
        """The key for audit pseudonyms and signed heads (kept across rotations)."""
        return _hkdf(self.audit_root, self.workspace_id, "workbench:audit")

    def database_key_hex(self, version: int | None = None) -> str:
        """The DuckDB ENCRYPTION_KEY for the database file."""
        if self.plaintext_for_tests:
            from workbench.core.store import PLAINTEXT_FOR_TESTS

            return PLAINTEXT_FOR_TESTS
        return self.key("database", self.database_version if version is None else version).hex()

    # -- rotation steps (driven by workbench.core.rotation) ------------------------------
    def add_version(self) -> int:
        new = max(self.masters) + 1
        self.masters[new] = secrets.token_bytes(32)
        self.current = new
        return new

    def destroy_versions_before(self, version: int) -> list[int]:
        gone = [v for v in self.masters if v < version]
        for v in gone:
            del self.masters[v]
        self._cache = {k: v for k, v in self._cache.items() if k[1] >= version}
        return gone


def _hkdf(master: bytes, salt: str, info: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=salt.encode("utf-8"), info=info.encode("utf-8")
    ).derive(master)


def _checksum(body: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()
