"""F0b: export the collection list (収集対象者リスト) for the number-collection contractor.

Who is on it: people who still owe a number — listed in the current target list
(F0), not deceased, and with no row in ``person_numbers`` — optionally narrowed to a
cohort by ward code (区市町村コード) and/or status (入居者 / 入居申込者).

REQUIREMENTS §6 (sending to the wrong people was most past incidents) and C9: the list
leaves the system only as an encrypted transfer package recorded in the media ledger,
and only after a second person's approval (承認) of a preview:

1. :func:`preview_collection` — counts by ward and status, no personal data;
2. :func:`request_collection_export` — opens an approval bound to the exact
   parameters **and** to the count and a digest of who is selected, so a changed
   population (a new target list, numbers registered meanwhile) invalidates it;
3. :func:`export_collection` — consumes the approval, re-selects, checks the
   selection is still the approved one, and writes the package (kind
   ``collection_list``, recipient ``collection_contractor``) with one CSV member in
   the ``collection_list`` layout: only what the contractor needs to send the request
   letter (C14), never a number.  The CSV is UTF-8 with BOM, which holds every
   character of a name (𠮷 included) and opens in spreadsheet software.

Who was on each list is recorded (``collection_export_members``) so returns can be
traced to the list that asked for them.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import approvals, media
from .errors import ApprovalError, InvalidInput
from .formats import write_table
from .permissions import Permission
from .workspace import Unit, service

__all__ = [
    "APPROVAL_KIND",
    "CollectionPreview",
    "ExportResult",
    "export_collection",
    "preview_collection",
    "request_collection_export",
]

APPROVAL_KIND = "collection_export"
MEMBER_NAME = "collection_list.csv"
_STATUS = {"resident": "resident", "applicant": "applicant", "入居者": "resident", "入居申込者": "applicant"}


@dataclass(frozen=True)
class ExportResult:
    """A package written for a recipient: its ledger entry, file and record count (C9)."""

    ledger_entry: media.LedgerEntry
    path: Path
    record_count: int
    approval_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"ledger_entry": self.ledger_entry.to_dict(), "path": str(self.path), "record_count": self.record_count,
                "approval_id": self.approval_id, **self.extra}


@dataclass(frozen=True)
class CollectionPreview:
    """Counts of who would be on the list (no personal data)."""

    wards: list[str] | None
    status: list[str] | None
    total: int
    by_ward: dict[str, int]
    by_status: dict[str, int]
    selection_digest: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _normalise(wards: Iterable[str] | str | None, status: Iterable[str] | str | None) -> tuple[list[str] | None, list[str] | None]:
    """Canonical cohort parameters: sorted, unique, validated (so the approval digest is stable)."""
    w: list[str] | None = None
    if wards is not None:
        items = [wards] if isinstance(wards, str) else list(wards)
        bad = [x for x in items if not re.fullmatch(r"\d{5,6}", str(x).strip())]
        if bad or not items:
            raise InvalidInput(
                "A ward code must be a 5- or 6-digit local government code (e.g. 13121).",
                "区市町村コードは 5 桁または 6 桁の地方公共団体コードで指定してください（例: 13121）。",
                reason="bad_ward_code",
            )
        w = sorted({str(x).strip()[:5] for x in items})
    s: list[str] | None = None
    if status is not None:
        items = [status] if isinstance(status, str) else list(status)
        mapped = [_STATUS.get(str(x).strip()) for x in items]
        if not items or any(m is None for m in mapped):
            raise InvalidInput(
                "Status must be resident or applicant (入居者 / 入居申込者).",
                "入居区分は resident（入居者）または applicant（入居申込者）で指定してください。",
                reason="bad_status",
            )
        s = sorted({m for m in mapped if m is not None})
    return w, s


def _select_sql(wards: list[str] | None, status: list[str] | None) -> tuple[str, list[Any]]:
    """The people who still owe a number, in the cohort (F0b)."""
    sql = (
        "SELECT p.person_id, p.household_id, coalesce(p.relation, '') AS relation, p.name, p.kana,"
        " strftime(p.birth_date, '%Y-%m-%d') AS birth_date, p.address, h.ward_code, p.status"
        " FROM persons p JOIN households h USING (household_id)"
        " WHERE p.listed AND NOT p.deceased"
        " AND p.person_id NOT IN (SELECT person_id FROM suspended_persons) /* F9 利用停止 */"
        " AND NOT EXISTS (SELECT 1 FROM person_numbers n WHERE n.person_id = p.person_id)"
    )
    args: list[Any] = []
    if wards is not None:
        sql += " AND h.ward_code IN (SELECT unnest(?::VARCHAR[]))"
        args.append(wards)
    if status is not None:
        sql += " AND p.status IN (SELECT unnest(?::VARCHAR[]))"
        args.append(status)
    return sql, args


def _preview(unit: Unit, wards: list[str] | None, status: list[str] | None) -> CollectionPreview:
    sql, args = _select_sql(wards, status)
    con = unit.con
    total, digest = con.execute(
        f"SELECT count(*), sha256(coalesce(string_agg(person_id, ',' ORDER BY person_id), '')) FROM ({sql})", args
    ).fetchone()  # type: ignore[misc]
    by_ward = dict(con.execute(f"SELECT ward_code, count(*) FROM ({sql}) GROUP BY 1 ORDER BY 1", args).fetchall())
    by_status = dict(con.execute(f"SELECT status, count(*) FROM ({sql}) GROUP BY 1 ORDER BY 1", args).fetchall())
    return CollectionPreview(wards, status, int(total), {k: int(v) for k, v in by_ward.items()},
                             {k: int(v) for k, v in by_status.items()}, str(digest))


def _approval_params(p: CollectionPreview) -> dict[str, Any]:
    return {"wards": p.wards, "status": p.status, "count": p.total, "selection_digest": p.selection_digest}


@service(Permission.COLLECTION_EXPORT)
def preview_collection(unit: Unit, *, wards: Iterable[str] | str | None = None,
                       status: Iterable[str] | str | None = None) -> CollectionPreview:
    """F0b step 1: how many would be on the list, by ward and status."""
    w, s = _normalise(wards, status)
    preview = _preview(unit, w, s)
    unit.note(wards=w, status=s, count=preview.total)
    return preview


@service(Permission.COLLECTION_EXPORT)
def request_collection_export(unit: Unit, *, wards: Iterable[str] | str | None = None,
                              status: Iterable[str] | str | None = None) -> approvals.Approval:
    """F0b step 2: ask a second person to approve exactly this selection."""
    w, s = _normalise(wards, status)
    preview = _preview(unit, w, s)
    unit.note(wards=w, status=s, count=preview.total)
    if preview.total == 0:
        raise InvalidInput("Nobody in this selection still owes a number; there is nothing to export.",
                           "この条件で個人番号が未収集の対象者はいません。出力するものがありません。", reason="nothing_to_export")
    summary = {"count": preview.total, "by_ward": preview.by_ward, "by_status": preview.by_status,
               "wards": w, "status": s, "recipient": "collection_contractor"}
    return approvals.request(unit, APPROVAL_KIND, _approval_params(preview), summary)


@service(Permission.COLLECTION_EXPORT)
def export_collection(unit: Unit, *, approval_id: str | None, wards: Iterable[str] | str | None = None,
                      status: Iterable[str] | str | None = None) -> ExportResult:
    """F0b step 3: write the approved list as a transfer package (C9) and record who was on it."""
    w, s = _normalise(wards, status)
    preview = _preview(unit, w, s)
    unit.note(wards=w, status=s, count=preview.total)
    if approval_id:
        row = unit.con.execute("SELECT kind, summary FROM approvals WHERE approval_id = ?", [approval_id]).fetchone()
        if row is not None and row[0] == APPROVAL_KIND:
            approved = json.loads(row[1])
            if approved.get("wards") == w and approved.get("status") == s and approved.get("count") != preview.total:
                raise ApprovalError(
                    f"The selection has changed since it was approved ({approved.get('count')} then, {preview.total} now); "
                    "preview again and request a new approval.",
                    f"承認後に対象者が変わりました（承認時 {approved.get('count')} 人、現在 {preview.total} 人）。"
                    "再度確認し、改めて承認を依頼してください。",
                    reason="population_changed", approved_count=int(approved.get("count") or 0), count=preview.total,
                )
    approvals.consume(unit, approval_id, APPROVAL_KIND, _approval_params(preview))
    sql, args = _select_sql(w, s)
    frame = unit.con.execute(f"{sql} ORDER BY h.ward_code, p.household_id, p.person_id", args).df()
    body = write_table(frame, "collection_list", encoding="utf-8-sig")
    entry, path = media.write_outgoing(
        unit, kind="collection_list", recipient="collection_contractor", members=[(MEMBER_NAME, body)],
        record_count=len(frame), approval_id=approval_id,
    )
    export_id = "C" + uuid.uuid4().hex[:11].upper()
    unit.con.execute(
        "INSERT INTO collection_exports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [export_id, approval_id, entry.entry_id, entry.package_id, json.dumps(w), json.dumps(s), len(frame),
         unit.now, unit.user_id],
    )
    unit.con.execute(
        f"INSERT INTO collection_export_members SELECT ?, person_id FROM ({sql})", [export_id, *args]
    )
    unit.note(export_id=export_id, records=len(frame))
    return ExportResult(entry, path, len(frame), approval_id, {"export_id": export_id})
