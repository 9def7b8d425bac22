"""The keyring (鍵束): master keys outside the database, purpose keys derived by HKDF.

DESIGN §4.  The keyring file lives beside the database, never inside it, mode 0600.
It holds versioned master keys; every purpose key (database, Individual Numbers,
blind index, transfer packages, TOTP secrets) is derived from the master of a given
version with HKDF-SHA256, so a ciphertext records only the version it was made with.

The audit pseudonym key has its own root that rotation keeps: the log is retained for
seven years (C4) and searching it by user or person must keep working across rotations.

Where the master keys are kept is pluggable (:class:`KeySource`), so a deployment can
hold them in an HSM or the OS keystore instead of a file.  The workspace's own source is a
:class:`WrappedKeySource`: the file holds the keyring only wrapped (AES-256-GCM) by a
key-encryption key that is not in the workspace folder (issue 19), so a copy of the folder
or a backup opens nothing.
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
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from workbench.core.errors import KeyringError
from workbench.core.private_files import fsync_dir

__all__ = ["KEK_CREDENTIAL", "KEK_ENV", "PURPOSES", "FileKeySource", "KeyEncryptionKey", "KeySource", "Keyring",
           "MemoryKeySource", "WrappedKeySource", "is_wrapped", "locate_kek", "refuse_inside", "unwrap_keyring",
           "wrap_keyring"]

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


# -- the key-encryption key (KEK, issue 19 item 3) ----------------------------------------------
#
# The keyring file is kept wrapped (AES-256-GCM) by a key that is *not* in the workspace folder:
# a KEK file on another path, found through ``WORKBENCH_KEK_FILE``, systemd's credentials
# (``LoadCredential=workbench-kek:/etc/workbench/kek`` → ``$CREDENTIALS_DIRECTORY/workbench-kek``)
# or the workspace setting ``kek_file`` (an absolute path outside the folder).  A copy of the
# folder, or a backup, without that file opens nothing.

#: The environment variable naming the KEK file.
KEK_ENV = "WORKBENCH_KEK_FILE"
#: The credential name under ``$CREDENTIALS_DIRECTORY`` (systemd ``LoadCredential=``).
KEK_CREDENTIAL = "workbench-kek"
KEK_FORMAT = "workbench-kek/1"
WRAPPED_FORMAT = "workbench-keyring-wrapped/1"


def _no_kek_error() -> KeyringError:
    return KeyringError(
        "This workspace's keyring is wrapped by a key-encryption key (KEK) that is not in the workspace folder, and "
        f"no KEK was found: set {KEK_ENV} to the KEK file, give it to the service as the systemd credential "
        f"'{KEK_CREDENTIAL}' (LoadCredential=), or name it in the setting kek_file. A copy of the folder or a backup "
        "alone cannot be opened.",
        "このワークスペースの鍵束は、ワークスペースのフォルダーの外にある鍵暗号化鍵（KEK）で保護されていますが、KEK が"
        f"見つかりません。環境変数 {KEK_ENV} に KEK ファイルを指定するか、systemd の資格情報 '{KEK_CREDENTIAL}'"
        "（LoadCredential=）として渡すか、設定 kek_file に指定してください。フォルダーやバックアップの写しだけでは開けません。",
        reason="kek_missing")


class KeyEncryptionKey:
    """A 32-byte key-encryption key from a file outside the workspace.

    It never encrypts data itself: per workspace it derives (HKDF, salted with the workspace
    ID) the key that wraps that workspace's keyring, so one KEK may guard several workspaces."""

    def __init__(self, secret: bytes, *, origin: str, path: Path | None = None) -> None:
        if len(secret) != 32:
            raise ValueError("a KEK is 32 bytes")
        self._secret = secret
        #: Where it came from, for messages (never the key).
        self.origin = origin
        self.path = path

    def __repr__(self) -> str:
        return f"KeyEncryptionKey(id={self.kek_id}, origin={self.origin!r})"

    @property
    def from_environment(self) -> bool:
        """Named by ``WORKBENCH_KEK_FILE`` or a systemd credential (so not recorded in a setting)."""
        return self.origin == KEK_ENV or self.origin.startswith("systemd credential")

    @property
    def kek_id(self) -> str:
        """A public fingerprint (names the KEK in a wrapped keyring and in messages; reveals nothing)."""
        return _hkdf(self._secret, "", "workbench:kek-id")[:8].hex()

    def _wrapping_key(self, workspace_id: str) -> bytes:
        return _hkdf(self._secret, workspace_id, "workbench:keyring-wrap")

    def wrap(self, plain: bytes, workspace_id: str) -> dict[str, str]:
        nonce = secrets.token_bytes(12)
        ct = AESGCM(self._wrapping_key(workspace_id)).encrypt(nonce, plain, _wrap_aad(workspace_id, self.kek_id))
        return {"kind": "file", "kek_id": self.kek_id, "nonce": _b64(nonce), "ciphertext": _b64(ct)}

    def unwrap(self, entry: dict[str, Any], workspace_id: str) -> bytes:
        try:
            return AESGCM(self._wrapping_key(workspace_id)).decrypt(
                _unb64(str(entry["nonce"])), _unb64(str(entry["ciphertext"])), _wrap_aad(workspace_id, self.kek_id))
        except (InvalidTag, KeyError, ValueError, TypeError):
            raise KeyringError(
                "The wrapped keyring does not open with this KEK although it names it: the keyring file (or the KEK "
                "file) has been altered. Restore the keyring from its copy.",
                "この KEK で保護されているはずの鍵束を開けません。鍵束ファイル（または KEK ファイル）が改変されています。"
                "鍵束を写しから復元してください。",
                reason="keyring_tampered") from None

    # -- files ----------------------------------------------------------------------------
    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, origin: str | None = None) -> KeyEncryptionKey:
        """Read a KEK file; refuse a missing, malformed or group/other-readable one."""
        p = Path(path)
        origin = origin or str(p)
        try:
            st = p.stat()
            text = p.read_text("ascii")
        except FileNotFoundError:
            raise KeyringError(
                f"The key-encryption key file named by {origin} does not exist: {p}.",
                f"{origin} が指す鍵暗号化鍵（KEK）のファイルがありません: {p}",
                reason="kek_missing") from None
        except (OSError, UnicodeDecodeError):
            raise KeyringError(
                f"The key-encryption key file {p} cannot be read (permissions, or not a KEK file).",
                f"鍵暗号化鍵（KEK）のファイル {p} を読めません（権限がないか、KEK ファイルではありません）。",
                reason="kek_unreadable") from None
        if st.st_mode & 0o077:
            raise KeyringError(
                f"The key-encryption key file {p} is readable by other accounts (mode {st.st_mode & 0o777:o}); "
                "make it 0600 or 0400 (chmod 600).",
                f"鍵暗号化鍵（KEK）のファイル {p} が他のアカウントから読める設定です（モード {st.st_mode & 0o777:o}）。"
                "0600 または 0400 にしてください（chmod 600）。",
                reason="kek_mode")
        lines = text.split()
        try:
            if len(lines) != 2 or lines[0] != KEK_FORMAT:
                raise ValueError("format")
            secret = _unb64(lines[1])
            return cls(secret, origin=origin, path=p.resolve())
        except ValueError:
            raise KeyringError(
                f"{p} is not a key-encryption key file (expected '{KEK_FORMAT}' and 32 bytes in base64); "
                "create one with `workbench keys kek-new FILE`.",
                f"{p} は鍵暗号化鍵（KEK）のファイルではありません（'{KEK_FORMAT}' と base64 の 32 バイトが必要です）。"
                "`workbench keys kek-new FILE` で作成してください。",
                reason="kek_malformed") from None

    @classmethod
    def create_file(cls, path: str | os.PathLike[str]) -> KeyEncryptionKey:
        """Write a new random KEK to ``path`` (mode 0600, a new file only)."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_bytes(32)
        try:
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise KeyringError(
                f"{p} already exists; a KEK file is never overwritten (the keyrings it wraps would be lost).",
                f"{p} はすでに存在します。KEK ファイルは上書きしません（保護している鍵束が開けなくなるため）。",
                reason="exists") from None
        with os.fdopen(fd, "w", encoding="ascii") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(f"{KEK_FORMAT}\n{_b64(secret)}\n")
            f.flush()
            os.fsync(f.fileno())
        fsync_dir(p.parent)
        return cls(secret, origin=str(p), path=p.resolve())


def locate_kek(setting: str | None = None) -> KeyEncryptionKey | None:
    """The KEK from the environment or the workspace setting, or None when none is named.

    In order: ``$WORKBENCH_KEK_FILE``; systemd's ``$CREDENTIALS_DIRECTORY/workbench-kek``;
    the setting ``kek_file``."""
    env = os.environ.get(KEK_ENV)
    if env:
        return KeyEncryptionKey.from_file(env, origin=KEK_ENV)
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    if creds and (Path(creds) / KEK_CREDENTIAL).exists():
        return KeyEncryptionKey.from_file(Path(creds) / KEK_CREDENTIAL, origin=f"systemd credential {KEK_CREDENTIAL}")
    if setting:
        return KeyEncryptionKey.from_file(setting, origin="setting kek_file")
    return None


def refuse_inside(kek: KeyEncryptionKey, folder: Path, *, what_en: str = "the workspace",
                  what_ja: str = "ワークスペース") -> None:
    """A KEK kept inside the folder it protects protects nothing: refuse it."""
    if kek.path is None:
        return
    try:
        kek.path.resolve().relative_to(folder.resolve())
    except ValueError:
        return
    raise KeyringError(
        f"The key-encryption key file {kek.path} is inside {what_en} ({folder}); a copy of the folder would carry its "
        "key. Keep it on another path (e.g. /etc/workbench/kek, or a systemd credential).",
        f"鍵暗号化鍵（KEK）のファイル {kek.path} が{what_ja}（{folder}）の中にあります。フォルダーの写しに鍵が含まれてしまいます。"
        "別の場所（例: /etc/workbench/kek や systemd の資格情報）に置いてください。",
        reason="kek_inside_workspace")


def _wrap_aad(workspace_id: str, kek_id: str) -> bytes:
    return f"{WRAPPED_FORMAT}|{workspace_id}|{kek_id}".encode()


def is_wrapped(raw: bytes) -> bool:
    """Whether a keyring file's bytes are a wrapped keyring (without opening it)."""
    try:
        return bool(json.loads(raw.decode("utf-8")).get("format") == WRAPPED_FORMAT)
    except (ValueError, UnicodeDecodeError, AttributeError):
        return False


def wrap_keyring(plain: bytes, keks: list[KeyEncryptionKey]) -> bytes:
    """A serialised keyring, wrapped by each of ``keks`` (two only while ``keys rewrap`` runs)."""
    workspace_id = str(json.loads(plain.decode("utf-8"))["workspace_id"])
    doc = {"format": WRAPPED_FORMAT, "workspace_id": workspace_id,
           "wraps": [k.wrap(plain, workspace_id) for k in keks]}
    return json.dumps(doc, indent=1).encode("utf-8")


def unwrap_keyring(raw: bytes, kek: KeyEncryptionKey | None) -> bytes:
    """The serialised keyring inside a wrapped keyring file; refuses an unwrapped (old) one."""
    try:
        doc = json.loads(raw.decode("utf-8"))
        fmt = doc.get("format")
    except (ValueError, UnicodeDecodeError, AttributeError):
        fmt, doc = None, {}
    if fmt == FORMAT:
        raise KeyringError(
            "This keyring is not wrapped by a key-encryption key (a workspace made before issue 19): anyone who can "
            "read the folder can read it. Wrap it once with `workbench keys wrap --kek-file FILE` (the KEK outside "
            "the workspace); it is never done silently.",
            "この鍵束は鍵暗号化鍵（KEK）で保護されていません（以前の形式のワークスペース）。フォルダーを読める人なら誰でも"
            "読めます。`workbench keys wrap --kek-file FILE`（KEK はワークスペースの外）で一度保護してください。"
            "自動では行いません。",
            reason="keyring_unwrapped")
    wraps = doc.get("wraps") if isinstance(doc, dict) else None
    if (fmt != WRAPPED_FORMAT or not isinstance(wraps, list) or not isinstance(doc.get("workspace_id"), str)
            or set(doc) != {"format", "workspace_id", "wraps"}):
        raise KeyringError(
            "The keyring file is damaged (not a wrapped keyring); restore it from its copy.",
            "鍵束ファイルが破損しています（保護された鍵束の形式ではありません）。写しから復元してください。",
            reason="keyring_damaged")
    if kek is None:
        raise _no_kek_error()
    ids = [str(w.get("kek_id")) for w in wraps if isinstance(w, dict)]
    for entry in wraps:
        if isinstance(entry, dict) and entry.get("kek_id") == kek.kek_id:
            return kek.unwrap(entry, str(doc["workspace_id"]))
    raise KeyringError(
        f"Wrong key-encryption key: the keyring is wrapped by KEK {', '.join(ids) or '?'}, but the KEK from "
        f"{kek.origin} is {kek.kek_id}. Supply the KEK this workspace was made (or last re-wrapped) with.",
        f"鍵暗号化鍵（KEK）が違います。鍵束は KEK {', '.join(ids) or '?'} で保護されていますが、{kek.origin} の KEK は"
        f" {kek.kek_id} です。このワークスペースの作成時（または最後の再ラップ時）の KEK を指定してください。",
        reason="kek_wrong")


class WrappedKeySource:
    """A :class:`KeySource` whose stored bytes are the keyring wrapped by a KEK: what it reads
    and writes is the plain serialised keyring, what reaches ``inner`` is only ever wrapped."""

    def __init__(self, inner: KeySource, kek: KeyEncryptionKey | None) -> None:
        self.inner = inner
        self.kek = kek

    def read(self) -> bytes | None:
        raw = self.inner.read()
        return None if raw is None else unwrap_keyring(raw, self.kek)

    def write(self, data: bytes) -> None:
        self.write_wrapped(data, [] if self.kek is None else [self.kek])

    def write_wrapped(self, data: bytes, keks: list[KeyEncryptionKey]) -> None:
        if not keks:
            raise _no_kek_error()
        self.inner.write(wrap_keyring(data, keks))

    def stamp(self) -> tuple[int, ...] | None:
        stamp = getattr(self.inner, "stamp", None)
        return stamp() if stamp is not None else None
