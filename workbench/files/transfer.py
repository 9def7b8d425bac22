"""Transfer packages (媒体・送付ファイル): every file that leaves the system.

DESIGN §7, REQUIREMENTS C9 and §6.  A pure file-format module: no database, no
permissions, no audit.  The service that calls it previews, gets the second person's
approval, records the media ledger entry and deletes the copy after the transfer; this
module makes sure that what arrives on the other side is exactly what was approved, for
the recipient it was approved for, or is refused with a reason staff can act on.

Keys
----
The workspace keyring derives one *packages key* (``Keyring.key("packages")``).  Each
recipient gets its own key, :func:`recipient_key` = HKDF-SHA256 of the packages key with
the recipient bound into ``info``, so the collection contractor's key cannot open the
linkage server's packages and a key of another workspace opens nothing.  The recipient
receives its key out of band in a key file (:func:`write_keyfile`), and chooses the key
for a package by the non-secret ``key_id`` in the package's clear header
(:func:`peek_header`, :func:`key_id_for`).

File layout (all integers big-endian)
-------------------------------------
::

    magic       b"WBPKG" ‖ version byte 0x01                               6 bytes
    header_len  uint32                                                     4 bytes
    header      JSON object, UTF-8, in the clear                           header_len bytes
    frame 0     uint32 length ‖ AES-256-GCM ciphertext (incl. 16-byte tag)
    frame 1 …   the same
    frame n     the final frame

The clear header holds ``format`` ("workbench-package/1"), ``key_id``, ``key_check``,
``package_id`` (uuid4 hex), ``kind``, ``recipient`` and ``nonce_prefix`` (8 random bytes,
hex).  It never holds personal data.  It is *untrusted* until :func:`read_package` has
verified the frames, because every frame authenticates it as associated data.

Each frame is sealed with AES-256-GCM under the frame key
``HKDF-SHA256(key, salt=package_id, info="workbench-package/1:frames")`` with::

    nonce(i) = nonce_prefix ‖ uint32(i)
    aad(i)   = SHA-256(magic ‖ header_len ‖ header) ‖ uint32(i) ‖ final flag (0x00 / 0x01)

Frame plaintexts:

* frame 0: ``0x01 ‖ manifest JSON`` (UTF-8, sorted keys; see :class:`Manifest`);
* data frames: ``0x02 ‖ uint32 member index ‖ 1 byte … 1 MiB of the member's content``,
  members in manifest order, each member's content in order; an empty member has no
  data frame;
* the final frame (final flag 1): ``0x03 ‖ uint32 total frame count (including itself)
  ‖ uint64 total content bytes``.

The manifest's ``digest`` is SHA-256 over, for each member in order,
``uint64 len(name) ‖ name (UTF-8) ‖ uint64 len(content) ‖ content``
(:func:`compute_digest`); each member also carries its own size and SHA-256.

What is detected, and the ``details["reason"]`` of the :class:`PackageError` raised:

===================== =====================================================================
``not_a_package``     the file does not start with the magic
``unsupported_version`` the magic or header names a format version this code cannot read
``truncated``         the file ends inside the header or a frame, or before the final frame
``wrong_key``         the key's check value differs from the header's: the wrong key, or a
                      package for another recipient or workspace
``reordered``         a frame authenticates, but under another position: frames were
                      swapped, duplicated or removed
``tampered``          a frame (or the clear header, bound into every frame) fails its
                      authentication tag, or the header cannot be parsed
``trailing_data``     bytes follow the final frame
``digest_mismatch``   the contents do not match the manifest (size, member SHA-256, digest)
``invalid_manifest``  :meth:`Manifest.from_dict` was given something that is not a manifest
``invalid_argument``  :func:`write_package` was called with unusable parameters
``exists``            :func:`write_package` would overwrite an existing file
``io_error``          the file could not be read or written
===================== =====================================================================

Streaming: :func:`write_package` encrypts each member as it is consumed from the
iterable into an anonymous, already-unlinked spool file (ciphertext only) in the target
directory, then writes the header, frame 0 (the manifest, known only once every member
has been seen), the spooled frames and the final frame to a temporary file that is
fsync'ed and then linked into place.  Memory holds one member plus one frame; disk holds
the package twice for a moment.  :func:`read_package` reads and decrypts one frame at a
time and keeps only the plaintext it returns; :func:`verify_package` keeps none.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import io
import json
import os
import re
import secrets
import shutil
import tempfile
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from workbench.core.errors import KeyringError, PackageError
from workbench.core.private_files import fsync_dir

__all__ = [
    "CHUNK_SIZE",
    "FORMAT",
    "FORMAT_VERSION",
    "MAGIC",
    "MAX_UNPACK_MEMBER",
    "MAX_UNPACK_TOTAL",
    "Manifest",
    "MemberInfo",
    "Package",
    "PackageHeader",
    "compute_digest",
    "key_id_for",
    "peek_header",
    "read_keyfile",
    "read_package",
    "recipient_key",
    "unpack_package",
    "verify_package",
    "write_keyfile",
    "write_package",
]

FORMAT_VERSION = 1
FORMAT = f"workbench-package/{FORMAT_VERSION}"
_MAGIC_PREFIX = b"WBPKG"
MAGIC = _MAGIC_PREFIX + bytes([FORMAT_VERSION])

#: Largest member chunk in one data frame (the writer's size; the reader's limit).
CHUNK_SIZE = 1 << 20
_MAX_CHUNK = 1 << 20

KEYFILE_FORMAT = "workbench-package-key/1"

_KEY_LEN = 32
_TAG_LEN = 16
_MAX_HEADER = 64 * 1024
_MAX_MANIFEST = 16 << 20
_MAX_FRAME_LEN = 1 + _MAX_MANIFEST + _TAG_LEN  # the manifest frame is the largest allowed
_MIN_FRAME_LEN = 1 + _TAG_LEN
_MAX_FRAMES = 2**32 - 1

_T_MANIFEST = 0x01
_T_DATA = 0x02
_T_END = 0x03
_END_PLAIN_LEN = 1 + 4 + 8
_END_FRAME_LEN = _END_PLAIN_LEN + _TAG_LEN

_FRAME_INFO = b"workbench-package/1:frames"
_KEY_CHECK_INFO = b"workbench-package/1:key-check"
_RECIPIENT_SALT = b"workbench-package/1:recipient"
_KEY_ID_DOMAIN = b"workbench-package-key-id/1\x00"

#: kind, recipient: short identifiers, never free text (they travel in the clear).
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX16 = re.compile(r"[0-9a-f]{16}")

_ASK_AGAIN_EN = "Do not use this file; ask the sender to send it again."
_ASK_AGAIN_JA = "このファイルは使用せず、送付元に再送を依頼してください。"


# --------------------------------------------------------------------------- data types


@dataclass(frozen=True)
class MemberInfo:
    """One member (file) of a package: its name, size in bytes and SHA-256 (hex)."""

    name: str
    size: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class Manifest:
    """What a package holds, who made it and for whom (authenticated, in frame 0)."""

    package_id: str
    kind: str
    recipient: str
    record_count: int
    digest: str
    creator: str
    approval_id: str | None
    workspace_id: str
    created_at: str
    members: tuple[MemberInfo, ...]
    format_version: int = FORMAT_VERSION

    @property
    def total_size(self) -> int:
        """Bytes of content over all members."""
        return sum(m.size for m in self.members)

    def to_dict(self) -> dict[str, Any]:
        return {
            "package_id": self.package_id,
            "kind": self.kind,
            "recipient": self.recipient,
            "record_count": self.record_count,
            "digest": self.digest,
            "creator": self.creator,
            "approval_id": self.approval_id,
            "workspace_id": self.workspace_id,
            "created_at": self.created_at,
            "members": [m.to_dict() for m in self.members],
            "format_version": self.format_version,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Manifest:
        """Build and validate a manifest; anything malformed raises PackageError."""
        try:
            if not isinstance(data, dict):
                raise ValueError("not an object")
            members_raw = data["members"]
            if not isinstance(members_raw, list):
                raise ValueError("members")
            members = []
            for item in members_raw:
                if not isinstance(item, dict):
                    raise ValueError("member")
                name, size, sha = item["name"], item["size"], item["sha256"]
                if not isinstance(name, str) or _member_name_problem(name):
                    raise ValueError("member name")
                if not _is_int(size) or size < 0:
                    raise ValueError("member size")
                if not isinstance(sha, str) or not _HEX64.fullmatch(sha):
                    raise ValueError("member sha256")
                members.append(MemberInfo(name, size, sha))
            if len({m.name for m in members}) != len(members):
                raise ValueError("duplicate member names")
            manifest = cls(
                package_id=_expect_str(data, "package_id", _HEX32),
                kind=_expect_str(data, "kind", _TOKEN),
                recipient=_expect_str(data, "recipient", _TOKEN),
                record_count=_expect_count(data, "record_count"),
                digest=_expect_str(data, "digest", _HEX64),
                creator=_expect_text(data, "creator"),
                approval_id=None if data["approval_id"] is None else _expect_text(data, "approval_id"),
                workspace_id=_expect_text(data, "workspace_id"),
                created_at=_expect_text(data, "created_at"),
                members=tuple(members),
                format_version=_expect_count(data, "format_version"),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise _error(
                "invalid_manifest",
                "The package manifest is malformed (a field is missing or has the wrong form).",
                "パッケージのマニフェストが不正です（項目の欠落または形式の誤り）。",
                field=str(exc.args[0]) if exc.args else type(exc).__name__,
            ) from None
        return manifest


@dataclass(frozen=True)
class PackageHeader:
    """The clear outer header of a package.

    **Untrusted**: anyone can edit these fields.  Use them only to choose which key to
    try; :func:`read_package` detects any edit, because the header bytes are bound as
    associated data into every frame.
    """

    format: str
    format_version: int
    key_id: str
    package_id: str
    kind: str
    recipient: str


@dataclass(frozen=True)
class Package:
    """A completely verified package: its manifest and members (in manifest order)."""

    header: PackageHeader
    manifest: Manifest
    members: dict[str, bytes] = field(repr=False)


# --------------------------------------------------------------------------- keys


def recipient_key(packages_key: bytes, recipient: str) -> bytes:
    """The 32-byte key for ``recipient``'s packages, derived from the workspace's packages key.

    HKDF-SHA256 with the recipient in ``info``: each recipient's key opens only the
    packages made for that recipient in that workspace.
    """
    _check_key(packages_key, "packages_key")
    _check_token(recipient, "recipient")
    return HKDF(
        algorithm=hashes.SHA256(),
        length=_KEY_LEN,
        salt=_RECIPIENT_SALT,
        info=b"workbench:packages:recipient:" + recipient.encode("ascii"),
    ).derive(bytes(packages_key))


def key_id_for(key: bytes) -> str:
    """A short non-secret identifier of a key (16 hex digits), to choose a key by."""
    _check_key(key, "key")
    return hashlib.sha256(_KEY_ID_DOMAIN + bytes(key)).hexdigest()[:16]


def _key_check(key: bytes) -> str:
    """The header's check value: tells a wrong key from a damaged package."""
    return hmac.new(bytes(key), _KEY_CHECK_INFO, hashlib.sha256).hexdigest()[:16]


def _frame_key(key: bytes, package_id: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=_KEY_LEN, salt=bytes.fromhex(package_id), info=_FRAME_INFO).derive(
        bytes(key)
    )


class _Sealer:
    """AES-256-GCM for the frames of one package."""

    def __init__(self, key: bytes, package_id: str, nonce_prefix: bytes, header_hash: bytes) -> None:
        self._aead = AESGCM(_frame_key(key, package_id))
        self._prefix = nonce_prefix
        self._hash = header_hash

    def _nonce_aad(self, counter: int, final: bool) -> tuple[bytes, bytes]:
        c = counter.to_bytes(4, "big")
        return self._prefix + c, self._hash + c + (b"\x01" if final else b"\x00")

    def seal(self, counter: int, plaintext: bytes, *, final: bool = False) -> bytes:
        """One frame: uint32 length ‖ ciphertext."""
        nonce, aad = self._nonce_aad(counter, final)
        ct = self._aead.encrypt(nonce, plaintext, aad)
        return len(ct).to_bytes(4, "big") + ct

    def seal_to(self, out: IO[bytes], counter: int, plaintext: bytes) -> None:
        """Write one (non-final) frame to ``out`` without another copy of it."""
        nonce, aad = self._nonce_aad(counter, False)
        ct = self._aead.encrypt(nonce, plaintext, aad)
        out.write(len(ct).to_bytes(4, "big"))
        out.write(ct)

    def open(self, counter: int, ciphertext: bytes) -> tuple[bool, bytes] | None:
        """(final, plaintext) if the frame authenticates at ``counter``, else None."""
        flags = (False, True) if len(ciphertext) == _END_FRAME_LEN else (False,)
        for final in flags:
            nonce, aad = self._nonce_aad(counter, final)
            try:
                return final, self._aead.decrypt(nonce, ciphertext, aad)
            except InvalidTag:
                continue
        return None


# --------------------------------------------------------------------------- writing


def compute_digest(members: Iterable[tuple[str, bytes]]) -> str:
    """The manifest digest of ``members`` (for a preview before approval)."""
    h = hashlib.sha256()
    for name, content in members:
        _digest_member_start(h, name, len(content))
        h.update(content)
    return h.hexdigest()


def _digest_member_start(h: Any, name: str, size: int) -> None:
    raw = name.encode("utf-8")
    h.update(len(raw).to_bytes(8, "big"))
    h.update(raw)
    h.update(size.to_bytes(8, "big"))


def _manifest_bytes(manifest: Manifest) -> bytes:
    return _canonical(manifest.to_dict())


def write_package(
    path: str | os.PathLike[str],
    *,
    key: bytes,
    key_id: str,
    kind: str,
    recipient: str,
    members: Iterable[tuple[str, bytes]],
    record_count: int,
    creator: str,
    workspace_id: str,
    approval_id: str | None = None,
    created_at: str | None = None,
    unfinished: str | os.PathLike[str] | None = None,
) -> Manifest:
    """Write a transfer package to ``path`` and return its manifest.

    With ``unfinished``, the package is written at that name (created exclusively) and left there when
    complete; the caller renames it to ``path`` once it has recorded it (a backup: the name tells a
    half-written file from a finished one, issue 24 item 2).

    ``key`` is the recipient's key (:func:`recipient_key`), ``key_id`` its identifier
    (normally :func:`key_id_for`), written in the clear header.  ``members`` is consumed
    once, in order, each member encrypted as it arrives.  The file appears at ``path``
    only when complete (temporary file in the same directory, fsync, link into place),
    with mode 0600; an existing file is never overwritten.
    """
    _check_key(key, "key")
    _check_token(kind, "kind")
    _check_token(recipient, "recipient")
    _check_text(key_id, "key_id")
    _check_text(creator, "creator")
    _check_text(workspace_id, "workspace_id")
    if approval_id is not None:
        _check_text(approval_id, "approval_id")
    if not _is_int(record_count) or record_count < 0:
        raise _bad_argument("record_count")
    if created_at is None:
        created_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    else:
        _check_text(created_at, "created_at")
        try:
            dt.datetime.fromisoformat(created_at)
        except ValueError:
            raise _bad_argument("created_at") from None

    target = Path(path)
    if os.path.lexists(target) or (unfinished is not None and os.path.lexists(unfinished)):
        raise _exists()
    directory = target.parent
    package_id = uuid.uuid4().hex
    nonce_prefix = secrets.token_bytes(8)
    header = _canonical(
        {
            "format": FORMAT,
            "key_id": key_id,
            "key_check": _key_check(key),
            "package_id": package_id,
            "kind": kind,
            "recipient": recipient,
            "nonce_prefix": nonce_prefix.hex(),
        }
    )
    prefix = MAGIC + len(header).to_bytes(4, "big") + header
    sealer = _Sealer(key, package_id, nonce_prefix, hashlib.sha256(prefix).digest())
    chunk_size = max(1, min(int(CHUNK_SIZE), _MAX_CHUNK))

    tmp: Path | None = None
    try:
        with tempfile.TemporaryFile(dir=directory, prefix=".wbpkg-spool-") as spool:
            counter = 1
            infos: list[MemberInfo] = []
            seen: set[str] = set()
            digest = hashlib.sha256()
            total = 0
            index = -1
            for item in members:
                index += 1
                # Unpack and drop the pair at once, so the previous member's content is
                # freed before the iterable produces the next one.
                try:
                    name, content = item
                except (TypeError, ValueError):
                    raise _bad_argument("members (each must be a (name, bytes) pair)", member=index) from None
                del item
                if not isinstance(name, str) or _member_name_problem(name):
                    raise _bad_argument("members", member=index)
                if name in seen:
                    raise _bad_argument("members (duplicate name)", member=index)
                seen.add(name)
                if not isinstance(content, (bytes, bytearray, memoryview)):
                    raise _bad_argument("members (content must be bytes)", member=index)
                view = memoryview(content).cast("B")
                _digest_member_start(digest, name, len(view))
                member_hash = hashlib.sha256()
                tag = bytes([_T_DATA]) + index.to_bytes(4, "big")
                for start in range(0, len(view), chunk_size):
                    chunk = view[start : start + chunk_size]
                    member_hash.update(chunk)
                    digest.update(chunk)
                    if counter >= _MAX_FRAMES:
                        raise _bad_argument("members (package too large)")
                    sealer.seal_to(spool, counter, tag + chunk)
                    counter += 1
                    del chunk
                infos.append(MemberInfo(name, len(view), member_hash.hexdigest()))
                total += len(view)
                del view, content

            manifest = Manifest(
                package_id=package_id,
                kind=kind,
                recipient=recipient,
                record_count=record_count,
                digest=digest.hexdigest(),
                creator=creator,
                approval_id=approval_id,
                workspace_id=workspace_id,
                created_at=created_at,
                members=tuple(infos),
            )
            body = _manifest_bytes(manifest)
            if len(body) > _MAX_MANIFEST:
                raise _bad_argument("members (too many for one manifest)")
            end = bytes([_T_END]) + (counter + 1).to_bytes(4, "big") + total.to_bytes(8, "big")

            if unfinished is not None:
                fd = os.open(unfinished, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                tmp = Path(unfinished)
            else:
                fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=".wbpkg-", suffix=".tmp")
                tmp = Path(tmp_name)
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(prefix)
                out.write(sealer.seal(0, bytes([_T_MANIFEST]) + body))
                spool.flush()
                spool.seek(0)
                shutil.copyfileobj(spool, out, 1 << 20)
                out.write(sealer.seal(counter, end, final=True))
                out.flush()
                os.fsync(out.fileno())
        if unfinished is None:
            _publish(tmp, target)
        tmp = None
        fsync_dir(directory)
    except OSError as exc:
        raise _io_error(exc) from None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return manifest


def _publish(tmp: Path, target: Path) -> None:
    """Move the finished temporary file to ``target`` without ever overwriting a file."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise _exists() from None
    except OSError:
        # Media without hard links (FAT/exFAT, some network shares): check, then rename.
        if os.path.lexists(target):
            raise _exists() from None
        os.replace(tmp, target)
        return
    tmp.unlink()


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class _Prefix:
    header: PackageHeader
    key_check: str
    nonce_prefix: bytes
    header_hash: bytes
    frames_offset: int


def peek_header(path: str | os.PathLike[str] | bytes) -> PackageHeader:
    """The package's clear outer header, to choose the key.  **Untrusted** until
    :func:`read_package` (or :func:`verify_package`) has verified the package."""
    with _open(path) as (f, size):
        return _read_prefix(f, size).header


def read_package(path: str | os.PathLike[str] | bytes, *, key: bytes) -> Package:
    """Read and verify a package (a file, or its bytes) completely; return it only if every check passed.

    Raises :class:`PackageError` (``details["reason"]`` as in the module docstring) for
    any damage, and before returning any content, so a caller imports nothing from a
    damaged file.
    """
    contents: list[io.BytesIO] = []

    def start(index: int, size: int) -> None:
        contents.append(io.BytesIO())

    def data(index: int, chunk: memoryview) -> None:
        contents[index].write(chunk)

    header, manifest = _read(path, key, start, data)
    members = {m.name: buf.getvalue() for m, buf in zip(manifest.members, contents, strict=True)}
    return Package(header=header, manifest=manifest, members=members)


def verify_package(path: str | os.PathLike[str] | bytes, *, key: bytes) -> Manifest:
    """Verify a package completely without keeping its contents; return its manifest."""
    return _read(path, key, None, None)[1]


#: ``package unpack``'s limits (issue 24 item 4): the largest member and the largest package it writes out.
MAX_UNPACK_MEMBER = 128 << 20
MAX_UNPACK_TOTAL = 1 << 30
_UNPACK_STAGING = ".wbunpack-"


def _too_large(what_en: str, what_ja: str, size: int, limit: int, **details: Any) -> PackageError:
    return _error(
        "too_large",
        f"The package was not unpacked: {what_en} is {size:,} bytes, over the limit of {limit:,} bytes. "
        "Nothing was written.",
        f"パッケージを展開しませんでした。{what_ja}が {size:,} バイトで、上限 {limit:,} バイトを超えています。"
        "何も書き出していません。",
        size=size, limit=limit, **details,
    )


def unpack_package(
    path: str | os.PathLike[str] | bytes,
    *,
    key: bytes,
    out: str | os.PathLike[str],
    reserved: Iterable[str | os.PathLike[str]] = (),
    max_member: int = MAX_UNPACK_MEMBER,
    max_total: int = MAX_UNPACK_TOTAL,
    on_verified: Callable[[Manifest], None] | None = None,
    before_publish: Callable[[Manifest], None] | None = None,
) -> tuple[Manifest, list[Path]]:
    """Unpack a package into the folder ``out``, all or nothing (the receiving side, issue 24 item 4).

    1. A first pass verifies the whole package and its limits (each member at most ``max_member``
       bytes, all together at most ``max_total``) without keeping anything; a member whose name
       exists in ``out`` or is one of ``reserved`` (the receiver's ledger) refuses the package
       **before anything is written** (``exists``);
    2. the members are written (0600) into a staging folder inside ``out``, and only when the whole
       package has verified again are they linked into place, none overwriting anything
       (``on_verified`` runs after the first pass, before anything is written);
       ``before_publish`` (the ledger line) runs just before.  Any failure, or a kill, leaves no
       member in ``out``: a staging folder a killed run left is removed by the next run.
    """
    _check_key(key, "key")
    target = Path(out)
    if target.is_dir():
        for stale in target.glob(_UNPACK_STAGING + "*"):  # a killed earlier run's partial plaintext
            shutil.rmtree(stale, ignore_errors=True)
    sizes: list[int] = []

    def limit(index: int, size: int) -> None:
        if size > max_member:
            raise _too_large(f"member {index}", f"メンバー {index}", size, max_member, member=index)
        sizes.append(size)
        if sum(sizes) > max_total:
            raise _too_large("the package's content", "パッケージの内容", sum(sizes), max_total)

    _, manifest = _read(path, key, limit, None)
    if on_verified is not None:
        on_verified(manifest)
    taken = {Path(r).resolve() for r in reserved}
    clashes = [m.name for m in manifest.members
               if os.path.lexists(target / m.name) or (target / m.name).resolve() in taken
               or m.name.startswith(_UNPACK_STAGING)]
    if clashes:
        raise _error(
            "exists",
            f"The package was not unpacked: {len(clashes)} of its file name(s) already exist in the output folder or"
            " name the receiving ledger; nothing was overwritten or written. Unpack into a new, empty folder.",
            f"パッケージを展開しませんでした。ファイル名 {len(clashes):,} 件が出力先に既に存在するか、受領記録"
            "（台帳）と同じ名前です。何も上書き・書き出ししていません。新しい空のフォルダーに展開してください。",
            clashes=len(clashes),
        )
    target.mkdir(mode=0o700, parents=True, exist_ok=True)  # only now: a refused package leaves no folder
    staging = Path(tempfile.mkdtemp(prefix=_UNPACK_STAGING, dir=target))
    handles: list[IO[bytes]] = []
    placed: list[Path] = []
    try:
        sizes.clear()

        def start(index: int, size: int) -> None:
            limit(index, size)
            fd = os.open(staging / str(index), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            handles.append(os.fdopen(fd, "wb"))

        def data(index: int, chunk: memoryview) -> None:
            handles[index].write(chunk)

        try:
            _, again = _read(path, key, start, data)
        finally:
            for handle in handles:
                handle.flush()
                os.fsync(handle.fileno())
                handle.close()
        if again.digest != manifest.digest:  # the file changed between the passes
            raise _digest_mismatch()
        if before_publish is not None:
            before_publish(again)
        for index, member in enumerate(again.members):
            final = target / member.name
            _publish_link(staging / str(index), final)
            placed.append(final)
        fsync_dir(target)
    except BaseException:
        for final in placed:
            final.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return again, placed


def _publish_link(tmp: Path, target: Path) -> None:
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise _exists() from None
    except OSError:
        if os.path.lexists(target):
            raise _exists() from None
        os.replace(tmp, target)


@contextmanager
def _open(path: str | os.PathLike[str] | bytes) -> Iterator[tuple[BinaryIO, int]]:
    if isinstance(path, bytes):  # a package already in memory (an upload on a screen)
        yield io.BytesIO(path), len(path)
        return
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise _io_error(exc) from None
    try:
        yield f, os.fstat(f.fileno()).st_size
    except OSError as exc:
        raise _io_error(exc) from None
    finally:
        f.close()


def _read_exact(f: IO[bytes], n: int) -> bytes:
    data = f.read(n)
    return data if data is not None else b""


def _read_prefix(f: BinaryIO, size: int) -> _Prefix:
    magic = _read_exact(f, len(MAGIC))
    if len(magic) < len(MAGIC):
        if MAGIC.startswith(magic):
            raise _truncated("header", offset=len(magic))
        raise _not_a_package()
    if magic[: len(_MAGIC_PREFIX)] != _MAGIC_PREFIX:
        raise _not_a_package()
    if magic[-1] != FORMAT_VERSION:
        raise _unsupported(magic[-1])
    raw_len = _read_exact(f, 4)
    if len(raw_len) < 4:
        raise _truncated("header", offset=len(MAGIC) + len(raw_len))
    header_len = int.from_bytes(raw_len, "big")
    if not 2 <= header_len <= _MAX_HEADER:
        raise _tampered(where="header")
    if len(MAGIC) + 4 + header_len > size:
        raise _truncated("header", offset=size)
    header_bytes = _read_exact(f, header_len)
    if len(header_bytes) < header_len:
        raise _truncated("header", offset=len(MAGIC) + 4 + len(header_bytes))
    try:
        doc = json.loads(header_bytes.decode("utf-8"), object_pairs_hook=_no_duplicates)
        if not isinstance(doc, dict):
            raise ValueError("not an object")
        fmt = doc["format"]
        if not isinstance(fmt, str):
            raise ValueError("format")
        if fmt != FORMAT:
            m = re.fullmatch(r"workbench-package/(\d{1,6})", fmt)
            if m:
                raise _unsupported(int(m.group(1)))
            raise ValueError("format")
        header = PackageHeader(
            format=fmt,
            format_version=FORMAT_VERSION,
            key_id=_expect_text(doc, "key_id"),
            package_id=_expect_str(doc, "package_id", _HEX32),
            kind=_expect_str(doc, "kind", _TOKEN),
            recipient=_expect_str(doc, "recipient", _TOKEN),
        )
        key_check = _expect_str(doc, "key_check", _HEX16)
        nonce_prefix = bytes.fromhex(_expect_str(doc, "nonce_prefix", _HEX16))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise _tampered(where="header") from None
    prefix = MAGIC + raw_len + header_bytes
    return _Prefix(
        header=header,
        key_check=key_check,
        nonce_prefix=nonce_prefix,
        header_hash=hashlib.sha256(prefix).digest(),
        frames_offset=len(prefix),
    )


def _read(
    path: str | os.PathLike[str] | bytes,
    key: bytes,
    on_member: Callable[[int, int], None] | None,
    on_data: Callable[[int, memoryview], None] | None,
) -> tuple[PackageHeader, Manifest]:
    _check_key(key, "key")
    with _open(path) as (f, size):
        pre = _read_prefix(f, size)
        if not hmac.compare_digest(pre.key_check, _key_check(key)):
            raise _error(
                "wrong_key",
                "This key does not open the package: wrong key, or the package is not for "
                "this recipient/workspace. Check the key file and the recipient.",
                "この鍵ではパッケージを開けません。鍵が違うか、このパッケージは別の送付先・"
                "ワークスペース宛てです。鍵ファイルと送付先を確認してください。",
            )
        sealer = _Sealer(key, pre.header.package_id, pre.nonce_prefix, pre.header_hash)
        manifest: Manifest | None = None
        digest = hashlib.sha256()
        current = -1  # member whose data is being read
        member_hash = hashlib.sha256()
        member_bytes = 0
        total = 0
        counter = 0

        def finish_members(upto: int) -> None:
            """Close members current..upto-1 and open member ``upto`` (if it exists)."""
            nonlocal current, member_hash, member_bytes
            assert manifest is not None
            while current < upto:
                if current >= 0:
                    info = manifest.members[current]
                    if member_bytes != info.size or member_hash.hexdigest() != info.sha256:
                        raise _digest_mismatch(member=current)
                current += 1
                if current < len(manifest.members):
                    info = manifest.members[current]
                    _digest_member_start(digest, info.name, info.size)
                    member_hash, member_bytes = hashlib.sha256(), 0
                    if on_member is not None:
                        on_member(current, info.size)

        while True:
            ct = _next_frame(f, size, counter)
            opened = sealer.open(counter, ct)
            if opened is None:
                found = _locate(sealer, ct, counter, f, pre.frames_offset, size)
                if found is not None:
                    raise _error(
                        "reordered",
                        f"Frame {counter} of the package belongs at position {found}: frames "
                        f"were reordered, duplicated or removed. {_ASK_AGAIN_EN}",
                        f"パッケージのフレーム {counter} の位置が不正です（本来は {found} 番目）。"
                        f"フレームの順序入替・重複・欠落があります。{_ASK_AGAIN_JA}",
                        frame=counter,
                        belongs_at=found,
                    )
                raise _tampered(frame=counter)
            final, plain = opened
            kind = plain[0]
            if counter == 0:
                if final or kind != _T_MANIFEST:
                    raise _tampered(frame=0)
                try:
                    doc = json.loads(plain[1:].decode("utf-8"), object_pairs_hook=_no_duplicates)
                except (ValueError, UnicodeDecodeError):
                    raise _tampered(frame=0) from None
                manifest = Manifest.from_dict(doc)
                h = pre.header
                if (
                    manifest.package_id != h.package_id
                    or manifest.kind != h.kind
                    or manifest.recipient != h.recipient
                    or manifest.format_version != FORMAT_VERSION
                ):
                    raise _tampered(frame=0)
                finish_members(0)
            elif final:
                assert manifest is not None
                if kind != _T_END or len(plain) != _END_PLAIN_LEN:
                    raise _tampered(frame=counter)
                frames = int.from_bytes(plain[1:5], "big")
                declared_total = int.from_bytes(plain[5:13], "big")
                if frames != counter + 1:
                    raise _tampered(frame=counter)
                extra = size - f.tell()
                if extra > 0:
                    raise _error(
                        "trailing_data",
                        f"The package has {extra} unexpected bytes after its final frame. {_ASK_AGAIN_EN}",
                        f"パッケージの最終フレームの後に想定外のデータが {extra} バイトあります。{_ASK_AGAIN_JA}",
                        extra_bytes=extra,
                    )
                finish_members(len(manifest.members))
                if declared_total != total or total != manifest.total_size or digest.hexdigest() != manifest.digest:
                    raise _digest_mismatch()
                return pre.header, manifest
            else:
                assert manifest is not None
                if kind != _T_DATA or len(plain) < 6 or len(plain) > 5 + _MAX_CHUNK:
                    raise _tampered(frame=counter)
                index = int.from_bytes(plain[1:5], "big")
                if index < current or index >= len(manifest.members):
                    raise _tampered(frame=counter)
                finish_members(index)
                chunk = memoryview(plain)[5:]
                member_bytes += len(chunk)
                total += len(chunk)
                if member_bytes > manifest.members[index].size:
                    raise _digest_mismatch(member=index)
                member_hash.update(chunk)
                digest.update(chunk)
                if on_data is not None:
                    on_data(index, chunk)
                del chunk, plain, ct  # before the next frame is read
            counter += 1
            if counter > _MAX_FRAMES:
                raise _tampered(frame=counter)


def _next_frame(f: BinaryIO, size: int, counter: int) -> bytes:
    pos = f.tell()
    raw = _read_exact(f, 4)
    if len(raw) < 4:
        raise _truncated("frame", frame=counter, offset=pos + len(raw))
    length = int.from_bytes(raw, "big")
    if not _MIN_FRAME_LEN <= length <= _MAX_FRAME_LEN:
        raise _tampered(frame=counter)
    if pos + 4 + length > size:
        raise _truncated("frame", frame=counter, offset=size)
    ct = _read_exact(f, length)
    if len(ct) < length:
        raise _truncated("frame", frame=counter, offset=pos + 4 + len(ct))
    return ct


def _locate(sealer: _Sealer, ct: bytes, position: int, f: BinaryIO, frames_offset: int, size: int) -> int | None:
    """The position a frame that fails at ``position`` really belongs at, if any.

    Only run once the package is already refused, to name the reason.  The search is
    bounded by the frames present in the file and by a budget of bytes decrypted.
    """
    saved = f.tell()
    frames = 0
    pos = frames_offset
    try:
        while pos + 4 <= size and frames < 1_000_000:
            f.seek(pos)
            length = int.from_bytes(_read_exact(f, 4), "big")
            if not _MIN_FRAME_LEN <= length <= _MAX_FRAME_LEN or pos + 4 + length > size:
                break
            pos += 4 + length
            frames += 1
    finally:
        f.seek(saved)
    budget = max(256 << 20, 2 * size)
    for candidate in range(frames + 2):
        if candidate == position:
            continue
        budget -= len(ct)
        if budget < 0:
            return None
        if sealer.open(candidate, ct) is not None:
            return candidate
    return None


# --------------------------------------------------------------------------- key files


def write_keyfile(path: str | os.PathLike[str], *, recipient: str, key: bytes, key_id: str) -> None:
    """Write the key file handed to ``recipient`` out of band (JSON, mode 0600, checksum).

    Never overwrites an existing file.
    """
    _check_key(key, "key")
    _check_token(recipient, "recipient")
    _check_text(key_id, "key_id")
    body = {
        "format": KEYFILE_FORMAT,
        "recipient": recipient,
        "key_id": key_id,
        "key": base64.b64encode(bytes(key)).decode("ascii"),
    }
    doc = dict(body, checksum=_checksum(body))
    data = json.dumps(doc, indent=1, sort_keys=True).encode("utf-8") + b"\n"
    target = Path(path)
    if os.path.lexists(target):
        raise _exists()
    tmp: Path | None = None
    try:
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".wbkey-", suffix=".tmp")
        tmp = Path(tmp_name)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        _publish(tmp, target)
        tmp = None
        fsync_dir(target.parent)
    except OSError as exc:
        raise _io_error(exc) from None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def read_keyfile(path: str | os.PathLike[str]) -> tuple[str, bytes, str]:
    """Read a package key file: ``(recipient, key, key_id)``.  Damage raises KeyringError."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise KeyringError(
            "The package key file is missing.",
            "パッケージ鍵ファイルがありません。",
            reason="missing_keyfile",
        ) from None
    except OSError as exc:
        raise KeyringError(
            "The package key file cannot be read.",
            "パッケージ鍵ファイルを読み込めません。",
            reason="io_error",
            errno=exc.errno,
        ) from None
    try:
        if len(raw) > _MAX_HEADER:
            raise ValueError("size")
        doc = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
        if not isinstance(doc, dict):
            raise ValueError("not an object")
        body = {k: v for k, v in doc.items() if k != "checksum"}
        if body.get("format") != KEYFILE_FORMAT:
            raise ValueError("format")
        checksum = doc.get("checksum")
        if not isinstance(checksum, str) or not hmac.compare_digest(checksum, _checksum(body)):
            raise ValueError("checksum")
        recipient = _expect_str(body, "recipient", _TOKEN)
        key_id = _expect_text(body, "key_id")
        key_text = body["key"]
        if not isinstance(key_text, str):
            raise ValueError("key")
        key = base64.b64decode(key_text.encode("ascii"), validate=True)
        if len(key) != _KEY_LEN:
            raise ValueError("key length")
    except (ValueError, KeyError, TypeError, UnicodeError, binascii.Error) as exc:
        raise KeyringError(
            "The package key file is damaged (its checksum or layout is wrong); ask the sender for the key file again.",
            "パッケージ鍵ファイルが破損しています（チェックサムまたは形式の不一致）。"
            "送付元に鍵ファイルの再送を依頼してください。",
            reason="damaged_keyfile",
            cause=str(exc.args[0]) if exc.args and isinstance(exc.args[0], str) else type(exc).__name__,
        ) from None
    return recipient, key, key_id


def _checksum(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- helpers


def _canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for k, v in pairs:
        if k in doc:
            raise ValueError("duplicate key")
        doc[k] = v
    return doc


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _expect_str(doc: dict[str, Any], name: str, pattern: re.Pattern[str]) -> str:
    value = doc[name]
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError(name)
    return value


def _expect_text(doc: dict[str, Any], name: str) -> str:
    value = doc[name]
    if not isinstance(value, str) or _text_problem(value):
        raise ValueError(name)
    return value


def _expect_count(doc: dict[str, Any], name: str) -> int:
    value = doc[name]
    if not _is_int(value) or value < 0:
        raise ValueError(name)
    return int(value)


def _text_problem(value: str) -> bool:
    return not value or len(value) > 256 or any(unicodedata.category(ch) == "Cc" for ch in value)


def _member_name_problem(name: str) -> bool:
    """Member names must be safe as a single file name on the receiving side."""
    if _text_problem(name) or len(name.encode("utf-8")) > 255:
        return True
    return name in (".", "..") or any(ch in name for ch in "/\\")


def _check_key(key: object, what: str) -> None:
    if not isinstance(key, (bytes, bytearray)) or len(key) != _KEY_LEN:
        raise _bad_argument(f"{what} (must be {_KEY_LEN} bytes)")


def _check_token(value: object, what: str) -> None:
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise _bad_argument(f"{what} (letters, digits, _ . : - only, at most 64)")


def _check_text(value: object, what: str) -> None:
    if not isinstance(value, str) or _text_problem(value):
        raise _bad_argument(what)


def _error(reason: str, en: str, ja: str, **details: Any) -> PackageError:
    return PackageError(en, ja, reason=reason, **details)


def _bad_argument(what: str, **details: Any) -> PackageError:
    return _error(
        "invalid_argument",
        f"The package cannot be written: the parameter {what} is not acceptable.",
        f"パッケージを作成できません。パラメータ {what} が不正です。",
        parameter=what,
        **details,
    )


def _exists() -> PackageError:
    return _error(
        "exists",
        "A file already exists at the package path; it was not overwritten. Choose another name.",
        "出力先に同名のファイルが既に存在します（上書きしていません）。別の名前を指定してください。",
    )


def _io_error(exc: OSError) -> PackageError:
    return _error(
        "io_error",
        f"The package file could not be read or written ({exc.strerror or type(exc).__name__}).",
        f"パッケージファイルの読み書きに失敗しました（{exc.strerror or type(exc).__name__}）。",
        errno=exc.errno,
    )


def _not_a_package() -> PackageError:
    return _error(
        "not_a_package",
        "This file is not a workbench transfer package.",
        "このファイルは送付パッケージ（媒体ファイル）ではありません。",
    )


def _unsupported(version: int) -> PackageError:
    return _error(
        "unsupported_version",
        f"The package uses format version {version}, which this version of the workbench cannot read.",
        f"このパッケージの形式バージョン {version} は、このバージョンのワークベンチでは読めません。",
        version=version,
    )


def _truncated(where: str, **details: Any) -> PackageError:
    frame = details.get("frame")
    if frame is None:
        at_en, at_ja = "inside its header", "ヘッダーの途中で"
    else:
        at_en, at_ja = f"at frame {frame}, before its final frame", f"フレーム {frame} で（最終フレームの前に）"
    return _error(
        "truncated",
        f"The package is incomplete: it ends {at_en}. The copy was probably cut short. {_ASK_AGAIN_EN}",
        f"パッケージが{at_ja}途切れています。コピーが不完全な可能性があります。{_ASK_AGAIN_JA}",
        where=where,
        **details,
    )


def _tampered(**details: Any) -> PackageError:
    frame = details.get("frame")
    where_en = "its clear header" if frame is None else f"frame {frame}"
    where_ja = "ヘッダー" if frame is None else f"フレーム {frame}"
    if frame == 0:
        where_en, where_ja = "its header or frame 0", "ヘッダーまたはフレーム 0"
    return _error(
        "tampered",
        f"The package has been altered or damaged ({where_en} failed its integrity check). {_ASK_AGAIN_EN}",
        f"パッケージが改変または破損しています（{where_ja}の完全性検査に失敗）。{_ASK_AGAIN_JA}",
        **details,
    )


def _digest_mismatch(**details: Any) -> PackageError:
    return _error(
        "digest_mismatch",
        f"The package contents do not match its manifest (size or digest). {_ASK_AGAIN_EN}",
        f"パッケージの内容がマニフェストと一致しません（サイズまたはダイジェスト）。{_ASK_AGAIN_JA}",
        **details,
    )
