"""Transfer packages leaving or entering the workspace, and the media ledger (C9).

Every file that leaves the system is an encrypted, authenticated transfer package
(:mod:`workbench.files.transfer`) written into ``outgoing/`` and recorded in the media
ledger (媒体管理簿: date, user, kind, recipient, record count, digest, approval).
Each recipient gets its own key, derived from the workspace's package key, handed over
once as a key file; the same key opens what that recipient sends back.  Once a copy
has been handed over, :func:`mark_delivered` deletes it and records the deletion.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core import approvals, labels, workspace
from workbench.core.clock import JST
from workbench.core.errors import NotFound, PackageError
from workbench.core.paging import ListSpec, Page, PageRequest, SortKey, fetch_page
from workbench.core.permissions import Permission
from workbench.core.workspace import Unit, Workspace, service
from workbench.files import transfer

__all__ = [
    "RECIPIENTS",
    "SENDERS",
    "LedgerEntry",
    "entry",
    "handover_copy",
    "issue_key_file",
    "ledger",
    "ledger_page",
    "mark_delivered",
    "read_incoming",
    "recipient_key",
    "record_incoming",
    "request_key_file",
    "sweep",
    "unpack_own",
    "write_outgoing",
]

#: Who packages go to, and how staff name them on screen.
RECIPIENTS: dict[str, tuple[str, str]] = {
    "collection_contractor": ("番号収集委託事業者", "number-collection contractor"),
    "linkage_server": ("団体内統合宛名システム（中間サーバー連携）", "linkage / intermediate server"),
    "juki_net": ("住基ネット", "Juki-net"),
    "housing_system": ("都住システム", "housing business system"),
    "archive": ("保管用", "archive"),
}
#: Who files come from (the media ledger's 送付元 of an incoming line): every recipient (its key opens what it
#: sends back), and senders that cannot make a package, so they hand over a plain file only and are given no
#: key file — the My Number portal's downloads (LoGo form submissions saved by a clerk).
SENDERS: dict[str, tuple[str, str]] = {
    **RECIPIENTS,
    "my_number_portal": ("マイナポータル（ぴったりサービス・LoGoフォーム）", "My Number portal (form downloads)"),
}
#: Which way a package went, as the ledger (媒体管理簿) says it.
DIRECTIONS: dict[str, tuple[str, str]] = {"out": ("送付", "outgoing"), "in": ("受領", "incoming")}
labels.register("recipient", SENDERS)
#: Packages that come back name the office itself as their recipient.
labels.register("recipient", {"housing_office": ("都営住宅経営部（当部）", "housing office (this office)")})
labels.register("direction", DIRECTIONS)


@dataclass(frozen=True)
class LedgerEntry:
    entry_id: str
    recorded_at: dt.datetime
    direction: str
    kind: str
    package_id: str
    file_name: str
    recipient: str
    record_count: int
    digest: str
    user_id: str
    approval_id: str | None
    deleted_at: dt.datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in self.__dict__.items()}


def _check_recipient(recipient: str) -> None:
    if recipient not in RECIPIENTS:
        raise PackageError(
            f"Unknown recipient {recipient!r}.", f"不明な送付先 {recipient!r} です。", reason="unknown_recipient"
        )


def recipient_key(ws: Workspace, recipient: str) -> tuple[bytes, str]:
    """This workspace's key for one recipient's packages, and its public key ID."""
    _check_recipient(recipient)
    key = transfer.recipient_key(ws.keyring.key("packages"), recipient)
    return key, transfer.key_id_for(key)


def _record(unit: Unit, direction: str, manifest: transfer.Manifest, file_name: str) -> LedgerEntry:
    entry_id = "M" + uuid.uuid4().hex[:11].upper()
    unit.con.execute(
        "INSERT INTO media_ledger VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
        [entry_id, unit.now, direction, manifest.kind, manifest.package_id, file_name, manifest.recipient,
         manifest.record_count, manifest.digest, unit.user_id, manifest.approval_id],
    )
    unit.note(ledger_entry=entry_id, package_id=manifest.package_id, records=manifest.record_count)
    return _entry(unit, entry_id)


def write_outgoing(
    unit: Unit,
    *,
    kind: str,
    recipient: str,
    members: Iterable[tuple[str, bytes]],
    record_count: int,
    approval_id: str | None,
    folder: str = "outgoing",
) -> tuple[LedgerEntry, Path]:
    """Write a package for ``recipient`` and its ledger entry (call inside a service).

    The package is written under a staging name and appears in ``folder`` only after the
    service's transaction commits (:meth:`Unit.committed`); if the call fails or the process
    dies first, it never appears (:meth:`Workspace.sweep_files`).  So every file in
    ``outgoing/`` and ``return_lists/`` has a ledger entry, and an unconsumed approval never
    sits beside a finished package.  The path returned is where it will be published."""
    if folder not in unit.workspace.PUBLISHED:
        raise ValueError(folder)
    key, key_id = recipient_key(unit.workspace, recipient)
    # the date and time the screens show (JST), so a clerk finds the file by the time on screen
    stamp = unit.now.astimezone(JST).strftime("%Y%m%dT%H%M%S")
    path = unit.workspace.folder(folder) / f"{kind}-{stamp}-{uuid.uuid4().hex[:8]}.wbpkg"
    staging = unit.stage(path)
    manifest = transfer.write_package(
        staging, key=key, key_id=key_id, kind=kind, recipient=recipient, members=members,
        record_count=record_count, creator=unit.user_id, workspace_id=unit.workspace.settings.workspace_id,
        approval_id=approval_id, created_at=unit.now.isoformat(),
    )
    return _record(unit, "out", manifest, path.name), path


def read_incoming(unit: Unit, path: Path | bytes, *, sender: str, kind: str,
                  file_name: str | None = None) -> transfer.Package:
    """Open a package that ``sender`` made with its key file (a path, or the bytes of an upload);
    verify fully; record it under ``file_name`` (default: the path's name)."""
    key, _ = recipient_key(unit.workspace, sender)
    package = transfer.read_package(path, key=key)
    if package.manifest.kind != kind:
        raise PackageError(
            f"This package holds {package.manifest.kind}, not {kind}.",
            f"このパッケージの種別は {package.manifest.kind} で、{kind} ではありません。",
            reason="wrong_kind",
        )
    if package.manifest.workspace_id != unit.workspace.settings.workspace_id:
        raise PackageError(
            "This package was made for another workspace.",
            "このパッケージは別のワークスペース向けに作成されています。",
            reason="other_workspace",
        )
    name = file_name or (path.name if isinstance(path, Path) else "upload.wbpkg")
    record_incoming(unit, package.manifest, name)
    return package


def record_incoming(unit: Unit, manifest: transfer.Manifest, file_name: str) -> LedgerEntry:
    """The media-ledger line of a verified package read into the workspace (call inside a service)."""
    return _record(unit, "in", manifest, file_name[:200])


def entry(unit: Unit, entry_id: str) -> LedgerEntry:
    """One media-ledger entry (inside a service)."""
    return _entry(unit, entry_id)


_ENTRY = ("entry_id, recorded_at, direction, kind, package_id, file_name, recipient, record_count, digest, user_id,"
          " approval_id, deleted_at")


def _entry(unit: Unit, entry_id: str) -> LedgerEntry:
    row = unit.con.execute(f"SELECT {_ENTRY} FROM media_ledger WHERE entry_id = ?", [entry_id]).fetchone()
    if row is None:
        raise NotFound(f"No ledger entry {entry_id}.", f"媒体管理簿に {entry_id} はありません。")
    return LedgerEntry(*row)


@service(Permission.LEDGER_READ)
def ledger(unit: Unit, *, limit: int = 1000) -> list[LedgerEntry]:
    """The media ledger, newest first."""
    rows = unit.con.execute(f"SELECT {_ENTRY} FROM media_ledger ORDER BY recorded_at DESC LIMIT ?", [limit]).fetchall()
    unit.note(count=len(rows))
    return [LedgerEntry(*r) for r in rows]


#: The media ledger (媒体管理簿) as a list paging in the database.
LEDGER_LIST = ListSpec(
    "媒体管理簿", "media ledger", "media_ledger",
    sorts={"recorded_at": SortKey("recorded_at", "日時", "recorded"), "entry_id": SortKey("entry_id", "番号", "entry"),
           "kind": SortKey("kind", "種別", "kind"), "recipient": SortKey("recipient", "送付先", "recipient"),
           "record_count": SortKey("record_count", "件数", "records"), "user_id": SortKey("user_id", "担当", "by")},
    default_sort="recorded_at", tiebreak="entry_id",
    search=("entry_id", "package_id", "file_name", "user_id", "approval_id"),
    filters={"direction": ("direction", {"in": 1, "out": 1}), "recipient": ("recipient", SENDERS)},
    groups={"kind": "kind", "direction": "direction"},
)


@service(Permission.LEDGER_READ)
def ledger_page(unit: Unit, request: PageRequest) -> Page[LedgerEntry]:
    """One page of the media ledger, sorted and filtered in the database (counts of every match)."""
    page = fetch_page(unit, LEDGER_LIST, request, _ENTRY)
    return page.map(lambda r: LedgerEntry(*r))


@service(Permission.MEDIA_MANAGE)
def mark_delivered(unit: Unit, entry_id: str) -> LedgerEntry:
    """The copy was handed over: delete the file in ``outgoing/`` and record when."""
    entry = _entry(unit, entry_id)
    unit.note(ledger_entry=entry_id)
    if entry.direction != "out" or entry.deleted_at is not None:
        raise PackageError(
            "Only an outgoing copy not yet deleted can be marked delivered.",
            "削除済みでない送付用コピーのみ、受け渡し済みにできます。",
            reason="not_outgoing",
        )
    unit.con.execute("UPDATE media_ledger SET deleted_at = ? WHERE entry_id = ?", [unit.now, entry_id])
    for folder in unit.workspace.PUBLISHED:  # deleted once the deletion is recorded, put back if not
        unit.withdraw(unit.workspace.folder(folder) / entry.file_name)
    return _entry(unit, entry_id)


@service(Permission.MEDIA_MANAGE)
def handover_copy(unit: Unit, entry_id: str) -> tuple[str, bytes]:
    """The bytes of an outgoing copy not yet handed over, to save onto the transfer medium
    from the screen (the package stays encrypted for its recipient; taking it is audited)."""
    entry = _entry(unit, entry_id)
    unit.note(ledger_entry=entry_id)
    if entry.direction != "out" or entry.deleted_at is not None:
        raise PackageError("Only an outgoing copy not yet handed over can be taken.",
                           "受け渡し前の送付用コピーのみ取り出せます。", reason="not_outgoing")
    for folder in unit.workspace.PUBLISHED:
        path = unit.workspace.folder(folder) / entry.file_name
        if path.is_file():
            return entry.file_name, path.read_bytes()
    raise PackageError("The copy is missing from the workspace.", "送付用コピーがワークスペースにありません。",
                       reason="missing_copy")


KEY_FILE_KIND = "key_file"
labels.register("package", {KEY_FILE_KIND: ("鍵ファイル", "key file")})
approvals.register_kind(KEY_FILE_KIND, "送付先の鍵ファイルの発行", "recipient key file")


def _key_file_params(unit: Unit, recipient: str) -> dict[str, Any]:
    """What a key-file approval is bound to: the recipient and the key version it opens."""
    _check_recipient(recipient)
    version = unit.workspace.keyring.current
    issued = unit.con.execute(
        "SELECT issued_at, issued_by FROM key_files WHERE recipient = ? AND key_version = ?", [recipient, version]
    ).fetchone()
    if issued is not None:
        raise PackageError(
            f"A key file for {recipient} and key version {version} was already issued ({issued[0]:%Y-%m-%d} by"
            f" {issued[1]}); a key file is issued once per recipient and key version. Rotate the keys to issue a new one.",
            f"{RECIPIENTS[recipient][0]} の鍵バージョン {version} の鍵ファイルは発行済みです（{issued[0]:%Y-%m-%d}、"
            f"{issued[1]}）。鍵ファイルは送付先・鍵バージョンごとに1回だけ発行します。新しく発行するには鍵を更新してください。",
            reason="already_issued",
        )
    return {"recipient": recipient, "key_version": version}


@service(Permission.MEDIA_MANAGE)
def sweep(unit: Unit) -> dict[str, int]:
    """Check every file in outgoing/ and return_lists/ against the media ledger: publish or discard
    what a killed process left, delete a copy recorded as delivered or a file with no ledger entry
    (it never officially left).  Counts only."""
    counts = workspace.sweep(unit.workspace, unit.con, full=True)
    unit.params.update(counts)
    return counts


@service(Permission.KEYS_MANAGE)
def request_key_file(unit: Unit, recipient: str) -> approvals.Approval:
    """Ask a second person to approve handing ``recipient`` its key file (鍵ファイルの発行).

    A key file opens every package made for that recipient, personal data included, so
    it is issued only with an approval, once per recipient and key version."""
    params = _key_file_params(unit, recipient)
    unit.note(recipient=recipient, key_version=params["key_version"])
    return approvals.request(unit, KEY_FILE_KIND, params, params)


@service(Permission.KEYS_MANAGE, paths=("path",))
def issue_key_file(unit: Unit, recipient: str, path: str, *, approval_id: str | None = None) -> dict[str, Any]:
    """Write the key file a recipient uses to open its packages (hand it over out of band),
    with the approved request; recorded in ``key_files`` and the audit log."""
    params = _key_file_params(unit, recipient)
    unit.note(recipient=recipient, key_version=params["key_version"])
    approvals.consume(unit, approval_id, KEY_FILE_KIND, params)
    key, key_id = recipient_key(unit.workspace, recipient)
    unit.con.execute(
        "INSERT INTO key_files VALUES (?, ?, ?, ?, ?, ?)",
        [recipient, params["key_version"], key_id, unit.now, unit.user_id, approval_id],
    )
    transfer.write_keyfile(Path(path), recipient=recipient, key=key, key_id=key_id)  # last: nothing can fail after
    unit.note(key_id=key_id)
    return {"recipient": recipient, "key_id": key_id, "key_version": params["key_version"], "path": str(path),
            "approval_id": approval_id}


@service(Permission.PACKAGES_UNPACK, paths=("path", "key_path"))
def unpack_own(unit: Unit, path: str, key_path: str) -> transfer.Package:
    """Open one of this workspace's own packages with a recipient key file, from inside the
    workspace (``package unpack`` run here): verified completely, and audited, because it
    shows what the package holds to someone in this office."""
    recipient, key, _ = transfer.read_keyfile(Path(key_path))
    package = transfer.read_package(Path(path), key=key)
    manifest = package.manifest
    unit.note(package_id=manifest.package_id, kind=manifest.kind, records=manifest.record_count, recipient=recipient)
    if manifest.workspace_id != unit.workspace.settings.workspace_id:
        raise PackageError(
            "This package was made by another workspace.",
            "このパッケージは別のワークスペースで作成されたものです。",
            reason="other_workspace",
        )
    return package
