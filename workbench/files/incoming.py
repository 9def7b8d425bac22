"""Incoming files (受領ファイル): one spec per kind, one registry, one read path (C9, C14; issue 24 item 3).

The mirror of :mod:`workbench.files.outgoing`.  Every file that comes back or comes in — the
query answers (F4 from the linkage server, F5 from Juki-net), the integrated-number answers (F1b),
the procedures filed, the target list (F0), the contractor's return and the portal download (F1) and
the deletion list (F7; issue 22 item 3) — is one :class:`IncomingFileSpec` and one
:func:`register` call, which makes its two services and puts it in :data:`REGISTRY`:

1. **preview** (内容の確認): the file is read and checked completely (header and body), and the
   spec says how many records it holds and what importing it would change — nothing is written;
2. **import** (取込): the same reading and checks again, the file recorded in the media ledger
   (who, when, kind, how many; C9), and the spec's importer run in the same transaction.  The
   screen passes the digest of the file it previewed (``expected_digest``): a different file is
   refused (「確認した内容と異なる」), so what is imported is what the person saw.

Both run as services of the person logged in, so **every refusal is audited** with its reason
against that person — a header cut short, a flipped magic byte, a package of another kind, the
wrong key, an empty package — exactly as the body's refusals are.  Nothing in a file is looked at
before the log-in (the command line logs in first, then names the file).

One rule for every kind: a package with no member, or with no content, or whose records count as
zero, is refused (``empty_package``), never imported as "0 rows" for one kind and a traceback for
another.  Anything a reader did not foresee in the content (an exception that is not a refusal)
is refused as ``unreadable`` with no content in the message.

After a successful import, :func:`receive` takes the medium's copy away (:func:`dispose`): an
encrypted package is moved to ``incoming/done/`` (the evidence of what was received, still
encrypted), a bare (plaintext) file is deleted; the media ledger's ``deleted_at`` records when.
Only a file whose import committed can be disposed of this way.  A screen upload is never written on
the server: the person deletes the copy on the medium it came on and confirms it
(:func:`confirm_destroyed`), which the ledger records the same way.

A kind may take options of its own (``IncomingFileSpec.options``, given to both services by keyword
and to the spec's functions in ``Received.options``) and return its own preview summary
(``Changes.detail`` → ``IncomingPreview.detail``).  A sender that has no key file (the My Number portal,
:data:`workbench.files.media.SENDERS`) sends the plain file only (``packages=False``).

The CLI (``workbench batch import-results``, ``integrated import``, ``procedures import``, ``targets
import``, ``register``, ``deletion import``), the cycles' ``incoming/`` folder and the screens (the one
component ``widgets.incoming.IncomingFileFlow``, and the target-list, registration and deletion screens'
own steps) all go through :func:`receive` / the services made here.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import shutil
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Generic, TypeVar

from workbench.core import labels as code_words
from workbench.core.errors import InvalidInput, NotFound, PackageError, PermissionDenied, WorkbenchError
from workbench.core.permissions import Permission
from workbench.core.workspace import Session, Unit, service
from workbench.files import formats, media, transfer

__all__ = [
    "MAX_INCOMING_BYTES",
    "REGISTRY",
    "Changes",
    "IncomingFileSpec",
    "IncomingPreview",
    "IncomingServices",
    "Received",
    "confirm_destroyed",
    "dispose",
    "import_file",
    "kind_of",
    "outcome_domain",
    "preview",
    "receive",
    "reference_of",
    "register",
    "spec_for",
]

#: The largest incoming file read (bytes): a package is read into memory once it has been verified.
MAX_INCOMING_BYTES = 1 << 30


@dataclass(frozen=True)
class Received:
    """A file that came in, read and verified: its members (one for a bare file) and where it came from."""

    kind: str
    file_name: str
    #: SHA-256 of the bytes given (the preview's digest, which the import must match).
    file_digest: str
    size: int
    package: transfer.Package | None
    members: dict[str, bytes] = field(repr=False)
    #: The kind's own options given with the call (``IncomingFileSpec.options``: a target list's re-application,
    #: the outcomes a registration preview showed …), defaults filled in.
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def package_id(self) -> str | None:
        return None if self.package is None else self.package.manifest.package_id

    @property
    def digest(self) -> str:
        """The manifest's digest of the contents (a package) or the file's digest (a bare file)."""
        return self.file_digest if self.package is None else self.package.manifest.digest

    def only_member(self) -> tuple[str, bytes]:
        """The one file in it (a bare file is its own one member): name and bytes.  A package with more
        than one member is refused — a kind that holds one table is sent as one file."""
        if len(self.members) != 1:
            spec = REGISTRY.get(self.kind)
            what_en, what_ja = (spec.file_en, spec.file_ja) if spec is not None else (self.kind, self.kind)
            raise InvalidInput(f"The {what_en} package should hold one file, not {len(self.members)}; nothing was imported.",
                               f"{what_ja}のパッケージにはファイルが 1 つだけ入っているはずですが、"
                               f"{len(self.members):,} 個あります。何も取り込んでいません。",
                               reason="bad_package_members")
        name, data = next(iter(self.members.items()))
        return name, data


@dataclass(frozen=True)
class Changes:
    """What importing a file would do, as a spec's preview says it: counts only, and one sentence."""

    #: Records in the file that would be read (zero refuses the file, for every kind).
    count: int
    #: What would change, by outcome (stored, unknown request, duplicate …): counts only.
    changes: dict[str, int]
    summary_ja: str
    summary_en: str
    #: The file was imported before: importing it again changes nothing.
    already_imported: bool = False
    #: The kind's own preview summary (a dataclass of the ``workbench`` package: the screens that show more than
    #: the counts — a target list's people leaving the list, a registration's return reasons — read it).
    detail: Any = None


@dataclass(frozen=True)
class IncomingPreview:
    """A preview of one incoming file, for the confirmation box: what, from whom, how many, what changes."""

    kind: str
    label_ja: str
    sender: str
    sender_ja: str
    file_name: str
    file_digest: str
    package_id: str | None
    members: int
    count: int
    changes: dict[str, int]
    summary_ja: str
    summary_en: str
    already_imported: bool
    #: The kind's own preview summary (``Changes.detail``), or None.
    detail: Any = None

    @property
    def reference(self) -> str:
        """The media ledger's reference of this file (its package ID, or ``file:`` and its digest)."""
        return self.package_id or _file_reference(self.file_digest)

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        if hasattr(self.detail, "to_dict"):
            out["detail"] = self.detail.to_dict()
        return out


ResultT = TypeVar("ResultT")


@dataclass(frozen=True)
class IncomingFileSpec(Generic[ResultT]):
    """One kind of incoming file."""

    #: The package kind (``manifest.kind``), the registry key.
    kind: str
    #: Who sends it (a key of :data:`workbench.files.media.SENDERS`): that recipient's key opens its packages.
    sender: str
    #: The one permission its services need.
    permission: Permission
    #: What importing it is, in staff words (「情報照会結果の取込」).
    label_ja: str
    label_en: str
    #: The file itself in staff words (「情報照会結果」), for buttons and the upload box.
    file_ja: str
    file_en: str
    #: What importing would change (counts only; may leave temporary tables, dropped in ``release``).
    preview: Callable[[Unit, Received], Changes]
    #: The import itself, inside the import service's transaction; returns the kind's summary.
    apply: Callable[[Unit, Received], ResultT]
    #: How many records the import read (zero refuses the file and rolls the import back, for every kind).
    count: Callable[[ResultT], int]
    #: Whether the import found the file already imported (then nothing changed, and zero is no refusal).
    already: Callable[[ResultT], bool] = lambda _result: False
    #: A bare (unencrypted) file is accepted too (for senders that cannot make a package).
    bare: bool = False
    #: An encrypted package is accepted (False for a sender that has no key file and cannot make one: a package
    #: claiming to be of this kind is refused, ``package_not_expected``).
    packages: bool = True
    #: The kind's own keyword options (name → default), given to both services and to ``preview``/``apply``
    #: in ``Received.options``; an option the kind does not know is refused.
    options: Mapping[str, Any] = field(default_factory=dict)
    #: The file carries Individual Numbers or results about people (said in the confirmation box).
    holds_personal_data: bool = True
    #: Drop whatever ``preview`` or ``apply`` left behind (temporary tables); called after each step.
    release: Callable[[Unit], None] | None = None
    #: The words of the outcomes its preview counts (``Changes.changes``), for the confirmation box; registered
    #: in the labels table under :func:`outcome_domain`.
    outcomes: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def sender_ja(self) -> str:
        return media.SENDERS[self.sender][0]


#: Every kind of incoming file, by package kind.  Filled by :func:`register` as the owning modules are
#: imported; :mod:`workbench.services` imports them all.
REGISTRY: dict[str, IncomingFileSpec[Any]] = {}


@dataclass(frozen=True)
class IncomingServices(Generic[ResultT]):
    """The two services made for one spec (session-bound, permission-checked, audited)."""

    preview: Callable[..., IncomingPreview]
    import_: Callable[..., ResultT]


_SERVICES: dict[str, IncomingServices[Any]] = {}


# ------------------------------------------------------------------------------------ reading
def _refuse(reason: str, en: str, ja: str, **details: Any) -> PackageError:
    return PackageError(en, ja, reason=reason, **details)


def _bytes_of(source: str | Path | bytes, *, bare: bool = False) -> tuple[bytes, str]:
    """The file's bytes and its name (an upload has none); a missing or huge file is refused before it is
    read — for a kind that takes a plain file, a plain file over the CSV readers' limit
    (:data:`workbench.files.formats.MAX_FILE_BYTES`) too."""
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
        name = "upload"
    else:
        path = Path(source)
        name = path.name
        try:
            size = path.stat().st_size
            if not path.is_file():
                raise IsADirectoryError(str(path))
            if size > MAX_INCOMING_BYTES:
                raise _refuse("too_large", f"The file {name} is larger than {MAX_INCOMING_BYTES:,} bytes; it was not read.",
                              f"ファイル {name} は {MAX_INCOMING_BYTES:,} バイトを超えるため読み込みませんでした。",
                              size=size)
            if bare and size > formats.MAX_FILE_BYTES:
                with path.open("rb") as f:
                    head = f.read(len(transfer.MAGIC))
                if not head.startswith(transfer.MAGIC[:5]):
                    raise formats.too_large(size)
            data = path.read_bytes()
        except OSError:
            raise _refuse("unreadable_file", f"The file {name} cannot be read (missing, a folder, or not permitted).",
                          f"ファイル {name} を読めません（存在しない・フォルダー・権限がない）。") from None
    if len(data) > MAX_INCOMING_BYTES:
        raise _refuse("too_large", f"The file is larger than {MAX_INCOMING_BYTES:,} bytes; it was not read.",
                      f"ファイルが {MAX_INCOMING_BYTES:,} バイトを超えるため読み込みませんでした。", size=len(data))
    return data, name


def _read(unit: Unit, spec: IncomingFileSpec[Any], source: str | Path | bytes, file_name: str | None) -> Received:
    """Read and verify one incoming file for ``spec`` (inside a service: every refusal is audited)."""
    data, name = _bytes_of(source, bare=spec.bare)
    name = (file_name or name)[:200]
    digest = hashlib.sha256(data).hexdigest()
    unit.note(incoming=spec.kind, file_bytes=len(data))
    if not data:
        raise _refuse("empty_file", f"The file {name} is empty; nothing was imported.",
                      f"ファイル {name} は空です。何も取り込んでいません。")
    if data.startswith(transfer.MAGIC[:5]) or not spec.bare:
        # The clear header first (untrusted, only to refuse early with the true reason), then everything.
        header = transfer.peek_header(data)
        if header.kind != spec.kind:
            raise _refuse("wrong_kind",
                          f"This package does not hold {spec.file_en} (it says it holds {header.kind!r}); nothing was imported.",
                          f"このパッケージは{spec.file_ja}ではありません（種別 {header.kind!r}）。何も取り込んでいません。",
                          )
        if not spec.packages:
            raise _refuse("package_not_expected",
                          f"The {spec.file_en} comes as the file saved from {media.SENDERS[spec.sender][1]}, never as a "
                          "package (the sender has no key file); nothing was imported.",
                          f"{spec.file_ja}は{spec.sender_ja}から保存したファイルのまま取り込みます。パッケージでは受け付けません"
                          "（送付元に鍵ファイルはありません）。何も取り込んでいません。")
        key, _ = media.recipient_key(unit.workspace, spec.sender)
        package = transfer.read_package(data, key=key)
        manifest = package.manifest
        if manifest.workspace_id != unit.workspace.settings.workspace_id:
            raise _refuse("other_workspace", "This package was made for another workspace.",
                          "このパッケージは別のワークスペース向けに作成されています。")
        if not manifest.members or manifest.total_size == 0:
            raise _empty(spec, len(manifest.members))
        unit.note(package_id=manifest.package_id, members=len(manifest.members))
        return Received(spec.kind, name, digest, len(data), package, dict(package.members))
    return Received(spec.kind, name, digest, len(data), None, {name: data})


def _empty(spec: IncomingFileSpec[Any], members: int) -> InvalidInput:
    return InvalidInput(
                   f"The {spec.file_en} file holds no records ({members} file(s), no content); nothing was imported. "
                   "Ask the sender whether an answer is missing.",
                   f"{spec.file_ja}にレコードがありません（ファイル {members:,} 個、内容なし）。何も取り込んでいません。"
                   "回答が欠けていないか送付元に確認してください。", reason="empty_package", members=members)


#: A layout reader's refusals that mean "nothing in it": refused as ``empty_package``, the same for every kind.
_EMPTY_REASONS = frozenset({"empty", "no_records"})


def _guarded(spec: IncomingFileSpec[Any], received: Received, fn: Callable[[], ResultT]) -> ResultT:
    """Run a spec's reader: a refusal stays as it is (an empty member is refused as an empty file, the same
    for every kind); anything else becomes one clear refusal."""
    try:
        return fn()
    except InvalidInput as exc:
        if exc.reason in _EMPTY_REASONS:
            raise _empty(spec, len(received.members)) from None
        raise
    except WorkbenchError:
        raise
    except (ValueError, KeyError, IndexError, TypeError, UnicodeError, OverflowError, ArithmeticError) as exc:
        # The message of such an exception may quote the content: only its type is kept.
        raise InvalidInput(
            f"The {spec.file_en} could not be read: its content is not in the expected layout ({type(exc).__name__}). "
            "Nothing was imported; ask the sender to send it again.",
            f"{spec.file_ja}を読み取れませんでした（内容が所定の形式ではありません: {type(exc).__name__}）。"
            "何も取り込んでいません。送付元に再送を依頼してください。",
            reason="unreadable") from None


def _changes(unit: Unit, spec: IncomingFileSpec[Any], received: Received) -> Changes:
    try:
        found = _guarded(spec, received, lambda: spec.preview(unit, received))
    finally:
        if spec.release is not None:
            spec.release(unit)
    if found.count == 0 and not found.already_imported:
        raise _empty(spec, len(received.members))
    unit.params.update({f"would_{k}": int(v) for k, v in found.changes.items()})
    unit.note(count=int(found.count), already_imported=found.already_imported)
    return found


def _record(unit: Unit, spec: IncomingFileSpec[Any], received: Received, count: int) -> media.LedgerEntry:
    """The media-ledger line of a file read (C9): who, when, kind, from whom, how many, which file."""
    if received.package is not None:
        return media.record_incoming(unit, received.package.manifest, received.file_name)
    entry_id = "M" + uuid.uuid4().hex[:11].upper()
    unit.con.execute(
        "INSERT INTO media_ledger VALUES (?, ?, 'in', ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
        [entry_id, unit.now, spec.kind, _file_reference(received.file_digest), received.file_name, spec.sender, count,
         received.file_digest, unit.user_id])
    unit.note(ledger_entry=entry_id, records=count)
    return media.entry(unit, entry_id)


def _options(spec: IncomingFileSpec[Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """The kind's options with their defaults; one it does not know is refused (never silently ignored)."""
    unknown = sorted(set(given) - set(spec.options))
    if unknown:
        raise InvalidInput(f"The {spec.file_en} import takes no option {', '.join(unknown)}.",
                           f"{spec.file_ja}の取込に {', '.join(unknown)} という指定はありません。", reason="unknown_option")
    return {**spec.options, **given}


def register(spec: IncomingFileSpec[ResultT], *, preview: str, import_: str) -> IncomingServices[ResultT]:
    """Put ``spec`` in the registry and make its two services, audited under these operation names."""
    if spec.kind in REGISTRY:
        raise RuntimeError(f"duplicate incoming file kind {spec.kind}")
    if spec.sender not in media.SENDERS:
        raise RuntimeError(f"unknown sender {spec.sender}")
    if spec.packages and spec.sender not in media.RECIPIENTS:
        raise RuntimeError(f"{spec.sender} has no key to make a package of {spec.kind}")

    def _preview(unit: Unit, source: str | Path | bytes, /, *, file_name: str | None = None,
                 **options: Any) -> IncomingPreview:
        chosen = _options(spec, options)
        received = replace(_read(unit, spec, source, file_name), options=chosen)
        found = _changes(unit, spec, received)
        return IncomingPreview(
            kind=spec.kind, label_ja=spec.label_ja, sender=spec.sender, sender_ja=spec.sender_ja,
            file_name=received.file_name, file_digest=received.file_digest, package_id=received.package_id,
            members=len(received.members), count=int(found.count), changes=dict(found.changes),
            summary_ja=found.summary_ja, summary_en=found.summary_en, already_imported=found.already_imported,
            detail=found.detail)

    def _import(unit: Unit, source: str | Path | bytes, /, *, file_name: str | None = None,
                expected_digest: str | None = None, **options: Any) -> ResultT:
        chosen = _options(spec, options)
        received = replace(_read(unit, spec, source, file_name), options=chosen)
        if expected_digest is not None and expected_digest != received.file_digest:
            raise InvalidInput(
                "This is not the file that was previewed (its contents differ); preview it again before importing.",
                "確認した内容と異なるファイルです。取り込む前にもう一度内容を確認してください。",
                reason="not_previewed")
        declared = received.package.manifest.record_count if received.package is not None else 0
        entry = _record(unit, spec, received, declared)
        try:
            result = _guarded(spec, received, lambda: spec.apply(unit, received))
        finally:
            if spec.release is not None:
                spec.release(unit)
        count = int(spec.count(result))
        if spec.already(result):
            # Imported before: nothing changed, and the ledger keeps the one line of the first import (the
            # audit record says it was read again).
            unit.con.execute("DELETE FROM media_ledger WHERE entry_id = ?", [entry.entry_id])
            unit.params.pop("ledger_entry", None)
            unit.note(records=count)
            return result
        if count == 0:
            raise _empty(spec, len(received.members))  # the import is rolled back with the refusal
        if count != declared:
            unit.con.execute("UPDATE media_ledger SET record_count = ? WHERE entry_id = ?", [count, entry.entry_id])
        unit.note(records=count)
        return result

    src = inspect.Parameter("source", inspect.Parameter.POSITIONAL_ONLY, annotation="str | Path | bytes")
    unit_param = inspect.Parameter("unit", inspect.Parameter.POSITIONAL_ONLY, annotation="Unit")
    name_param = inspect.Parameter("file_name", inspect.Parameter.KEYWORD_ONLY, default=None, annotation="str | None")
    digest_param = inspect.Parameter("expected_digest", inspect.Parameter.KEYWORD_ONLY, default=None,
                                     annotation="str | None")
    own = [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=v) for k, v in spec.options.items()]
    for fn, name, extra in ((_preview, preview, own), (_import, import_, [digest_param, *own])):
        fn.__name__ = fn.__qualname__ = name.rsplit(".", 1)[-1]
        fn.__doc__ = f"{spec.label_en} ({spec.label_ja}): {name.rsplit('.', 1)[-1]} (see workbench.files.incoming)."
        setattr(fn, "__signature__", inspect.Signature([unit_param, src, name_param, *extra]))  # noqa: B010
    made: IncomingServices[ResultT] = IncomingServices(
        preview=service(spec.permission, operation=preview, paths=("source",))(_preview),
        import_=service(spec.permission, operation=import_, paths=("source",))(_import),
    )
    REGISTRY[spec.kind] = spec
    _SERVICES[spec.kind] = made
    code_words.register(outcome_domain(spec.kind), spec.outcomes)
    return made


def spec_for(kind: str) -> IncomingFileSpec[Any]:
    """The spec of one kind of incoming file (by package kind)."""
    try:
        return REGISTRY[kind]
    except KeyError:
        raise NotFound(f"Unknown kind of incoming file {kind!r}.", f"受領ファイルの種類 {kind!r} は不明です。",
                       reason="unknown_kind") from None


def services_for(kind: str) -> IncomingServices[Any]:
    spec_for(kind)
    return _SERVICES[kind]


def kind_of(source: str | Path | bytes, kinds: Sequence[str]) -> str:
    """Which of ``kinds`` a file claims to be, from its clear header (untrusted: it only chooses which
    service reads it; that service refuses and audits anything wrong).  The first kind if it names none."""
    try:
        claimed = transfer.peek_header(source if isinstance(source, bytes) else Path(source)).kind
    except PackageError:
        return kinds[0]
    return claimed if claimed in kinds else kinds[0]


def preview(session: Session, kind: str, source: str | Path | bytes, *, file_name: str | None = None,
            **options: Any) -> IncomingPreview:
    """Step 1 for any kind: read and check the file; how many records, what would change.  Nothing written."""
    result: IncomingPreview = services_for(kind).preview(session, source, file_name=file_name, **options)
    return result


def import_file(session: Session, kind: str, source: str | Path | bytes, *, file_name: str | None = None,
                expected_digest: str | None = None, **options: Any) -> Any:
    """Step 2 for any kind: read and check again, record in the media ledger, import."""
    return services_for(kind).import_(session, source, file_name=file_name, expected_digest=expected_digest, **options)


@dataclass(frozen=True)
class Receipt:
    """A file received: the importer's summary and what became of the medium's copy."""

    kind: str
    result: Any
    disposal: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        body = self.result.to_dict() if hasattr(self.result, "to_dict") else {"result": self.result}
        return {**body, "incoming_kind": self.kind, "disposal": self.disposal}


def receive(session: Session, source: str | Path | bytes, *, kinds: Sequence[str], file_name: str | None = None,
            expected_digest: str | None = None, remove_source: bool = True, **options: Any) -> Receipt:
    """Import a file of one of ``kinds`` (chosen by its header, refused by the service if wrong), then,
    for a file on disk, take the copy away (:func:`dispose`).  The one entry point of the CLI and cycles.
    ``options`` are the kind's own (``IncomingFileSpec.options``)."""
    kind = kind_of(source, kinds)
    result = import_file(session, kind, source, file_name=file_name, expected_digest=expected_digest, **options)
    disposal = None
    if remove_source and not isinstance(source, (bytes, bytearray)):
        disposal = dispose(session, str(source), kind)
    return Receipt(kind, result, disposal)


def _file_reference(file_digest: str) -> str:
    return "file:" + file_digest[:32]


def reference_of(data: bytes) -> str:
    """The media ledger's reference of a file given as bytes (a screen upload): the package ID its clear
    header names, or ``file:`` and the digest of a bare file.  Only to find the ledger line again."""
    if data.startswith(transfer.MAGIC[:5]):
        try:
            return transfer.peek_header(data).package_id
        except PackageError:
            pass
    return _file_reference(hashlib.sha256(data).hexdigest())


def _may(unit: Unit, spec: IncomingFileSpec[Any]) -> None:
    if not unit.session.can(spec.permission):
        raise PermissionDenied(f"You do not have the permission {spec.permission.value!r} needed for {spec.label_en}.",
                               f"「{spec.label_ja}」に必要な権限 {spec.permission.value!r} がありません。",
                               permission=spec.permission.value)


@service(Permission.SELF, operation="incoming.confirm_destroyed")
def confirm_destroyed(unit: Unit, kind: str, reference: str) -> dict[str, Any]:
    """A file imported from a screen upload: nothing of it was kept on the server, and the person confirms
    that the copy on the medium it came on (USB memory, the clerk's PC) is deleted; the media ledger records
    when (``deleted_at``), the audit record who.  Refused for a file never imported, or already recorded."""
    spec = spec_for(kind)
    _may(unit, spec)
    unit.note(incoming=spec.kind)
    row = unit.con.execute(
        "SELECT entry_id, deleted_at FROM media_ledger WHERE direction = 'in' AND kind = ? AND package_id = ?"
        " ORDER BY recorded_at DESC LIMIT 1", [spec.kind, str(reference)[:200]]).fetchone()
    if row is None:
        raise NotFound("This file was never imported; there is no ledger line to record its deletion on.",
                       "このファイルは取り込まれていないため、媒体管理簿に削除を記録できません。", reason="not_imported")
    if row[1] is not None:
        raise InvalidInput("The deletion of this file's copy is already recorded.",
                           "このファイルの媒体上のコピーの削除は記録済みです。", reason="already_recorded")
    unit.con.execute("UPDATE media_ledger SET deleted_at = ? WHERE entry_id = ?", [unit.now, row[0]])
    unit.note(ledger_entry=row[0], disposal="confirmed_destroyed")
    return {"ledger_entry": row[0], "action": "confirmed_destroyed",
            "message_ja": "受け取った媒体上のファイルを削除したことを媒体管理簿に記録しました。",
            "message_en": "Recorded in the media ledger that the copy on the medium was deleted."}


@service(Permission.SELF, operation="incoming.dispose", paths=("path",))
def dispose(unit: Unit, path: str, kind: str) -> dict[str, Any]:
    """After a committed import: move an encrypted package to ``incoming/done/``, delete a bare
    (plaintext) file, and record when in the media ledger.  Refused for a file with no import."""
    spec = spec_for(kind)
    _may(unit, spec)
    source = Path(path)
    name = source.name
    try:
        with source.open("rb") as f:
            is_package = f.read(len(transfer.MAGIC)) == transfer.MAGIC
    except OSError:
        raise _refuse("unreadable_file", f"The file {name} cannot be read (missing, a folder, or not permitted).",
                      f"ファイル {name} を読めません（存在しない・フォルダー・権限がない）。") from None
    if is_package:
        package_id = transfer.peek_header(source).package_id
        row = unit.con.execute(
            "SELECT entry_id FROM media_ledger WHERE direction = 'in' AND package_id = ? AND kind = ?"
            " ORDER BY recorded_at DESC LIMIT 1", [package_id, spec.kind]).fetchone()
    else:
        digest = hashlib.sha256(_bytes_of(source)[0]).hexdigest()
        row = unit.con.execute(
            "SELECT entry_id FROM media_ledger WHERE direction = 'in' AND digest = ? AND kind = ?"
            " ORDER BY recorded_at DESC LIMIT 1", [digest, spec.kind]).fetchone()
    if row is None:
        raise NotFound("This file was never imported, so it is not taken away.",
                       "このファイルは取り込まれていないため、移動・削除しません。", reason="not_imported")
    entry_id = str(row[0])
    unit.con.execute("UPDATE media_ledger SET deleted_at = ? WHERE entry_id = ? AND deleted_at IS NULL",
                     [unit.now, entry_id])
    done = unit.workspace.folder("incoming") / "done"
    if is_package:
        done.mkdir(mode=0o700, exist_ok=True)
        target = done / name
        if source.resolve() != target.resolve():
            if target.exists():
                target = done / f"{source.stem}-{uuid.uuid4().hex[:6]}{source.suffix}"
            shutil.move(str(source), target)
        action, where = "moved", str(target.relative_to(unit.workspace.path))
    else:
        os.unlink(source)
        action, where = "deleted", None
    unit.note(ledger_entry=entry_id, disposal=action)
    return {"ledger_entry": entry_id, "action": action, "moved_to": where,
            "message_ja": "取り込んだファイルを受領済みフォルダーに移しました。" if is_package
            else "取り込んだ平文のファイルを削除しました。",
            "message_en": "The imported package was moved to incoming/done/." if is_package
            else "The imported plaintext file was deleted."}


def outcome_domain(kind: str) -> str:
    """The domain of the labels table holding one kind's outcome words (the same code may mean another
    thing for another kind: a ``duplicate`` F4 answer is counted once, a ``duplicate`` F1b answer is not stored)."""
    return f"incoming_outcome.{kind}"


def labels() -> Mapping[str, tuple[str, str]]:
    """Package kind → (Japanese, English) for every registered incoming file."""
    return {k: (s.label_ja, s.label_en) for k, s in REGISTRY.items()}
