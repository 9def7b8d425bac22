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
from dataclasses import dataclass
from typing import Any

from workbench.core import labels
from workbench.core.errors import InvalidInput
from workbench.core.permissions import Permission
from workbench.core.workspace import Unit
from workbench.files import media, outgoing
from workbench.files.formats import write_table
from workbench.files.outgoing import ExportResult, OutgoingFileSpec

__all__ = [
    "APPROVAL_KIND",
    "SPEC",
    "CollectionParams",
    "CollectionPreview",
    "ExportResult",
    "export_collection",
    "preview_collection",
    "request_collection_export",
]

APPROVAL_KIND = "collection_export"
PACKAGE_KIND = "collection_list"
RECIPIENT = "collection_contractor"
MEMBER_NAME = "collection_list.csv"
_STATUS = {"resident": "resident", "applicant": "applicant", "入居者": "resident", "入居申込者": "applicant"}


@dataclass(frozen=True)
class CollectionPreview:
    """Counts of who would be on the list (no personal data)."""

    wards: list[str] | None
    status: list[str] | None
    total: int
    by_ward: dict[str, int]
    by_status: dict[str, int]
    selection_digest: str

    @property
    def count(self) -> int:
        return self.total

    def summary_ja(self) -> str:
        cohort = "、".join(labels.ja(s, "person_status") for s in self.status) if self.status else "入居者・入居申込者"
        wards = "、".join(labels.ward_name(c) for c in self.wards) if self.wards else "全区市町村"
        return (f"番号収集委託事業者へ、個人番号が未収集の対象者 {self.total:,} 人の番号収集リストを送付します"
                f"（{wards}、{cohort}）。個人番号は含みません。")

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class CollectionParams:
    """F0b parameters: the cohort (ward codes, 入居区分), canonical so an approval's digest is stable."""

    wards: list[str] | None = None
    status: list[str] | None = None


def collection_params(*, wards: Iterable[str] | str | None = None,
                      status: Iterable[str] | str | None = None) -> CollectionParams:
    return CollectionParams(*_normalise(wards, status))


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
    # "Owes a number" is an ANTI JOIN against ``person_numbers`` (exactly NOT EXISTS's meaning), not a
    # correlated NOT EXISTS: DuckDB decorrelated that into a delim join with a 1,000,000-row grouping of
    # ``persons`` — 0.8 of the preview's 0.9 CPU s at a 1,000,000-person office, 0.3 s this way.
    # ``tests/test_collection_select.py`` holds it to the straightforward query.
    sql = (
        "SELECT p.person_id, p.household_id, coalesce(p.relation, '') AS relation, p.name, p.kana,"
        " strftime(p.birth_date, '%Y-%m-%d') AS birth_date, p.address, h.ward_code, p.status"
        " FROM persons p ANTI JOIN person_numbers n ON n.person_id = p.person_id"
        " JOIN households h ON h.household_id = p.household_id"
        " WHERE p.listed AND NOT p.deceased"
        " AND p.person_id NOT IN (SELECT person_id FROM suspended_persons) /* F9 利用停止 */"
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
    # One pass: the total with its digest, by ward and by status (grouping sets, not three scans).
    rows = con.execute(
        f"SELECT grouping(ward_code) AS gw, grouping(status) AS gs, ward_code, status, count(*) AS n,"
        f" {outgoing.digest_sql('person_id')} AS digest FROM ({sql})"
        " GROUP BY GROUPING SETS ((ward_code), (status), ()) ORDER BY ward_code, status", args).fetchall()
    total, digest = 0, ""
    by_ward, by_status = {}, {}
    for gw, gs, ward, st, n, d in rows:
        if gw and gs:
            total, digest = n, d
        elif not gw:
            by_ward[ward] = n
        else:
            by_status[st] = n
    return CollectionPreview(wards, status, int(total), {k: int(v) for k, v in by_ward.items()},
                             {k: int(v) for k, v in by_status.items()}, str(digest))


def _select(unit: Unit, params: CollectionParams) -> CollectionPreview:
    return _preview(unit, params.wards, params.status)


def _write(unit: Unit, params: CollectionParams, preview: CollectionPreview, approval_id: str) -> ExportResult:
    """Write the approved list as a transfer package (C9) and record who was on it."""
    w, s = params.wards, params.status
    sql, args = _select_sql(w, s)
    frame = unit.con.execute(f"{sql} ORDER BY h.ward_code, p.household_id, p.person_id", args).df()
    body = write_table(frame, "collection_list", encoding="utf-8-sig")
    entry, path = media.write_outgoing(
        unit, kind=PACKAGE_KIND, recipient=RECIPIENT, members=[(MEMBER_NAME, body)],
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


#: F0b as an outgoing file (workbench.files.outgoing).
SPEC: OutgoingFileSpec[CollectionParams, CollectionPreview] = OutgoingFileSpec(
    kind=APPROVAL_KIND, package_kind=PACKAGE_KIND, recipient=RECIPIENT, permission=Permission.COLLECTION_EXPORT,
    label_ja="番号収集リストの送付", label_en="collection list export", file_ja="番号収集リスト", file_en="collection list",
    parameters=collection_params,
    select=_select, write=_write, records=("collection_exports", "collection_export_members"),
    nothing_en="Nobody in this selection still owes a number; there is nothing to export.",
    nothing_ja="この条件で個人番号が未収集の対象者はいません。出力するものがありません。",
    nothing_reason="nothing_to_export",
)

_services = outgoing.register(SPEC, preview="collection.preview_collection",
                              request="collection.request_collection_export", create="collection.export_collection")
#: F0b step 1: how many would be on the list, by ward and status.
preview_collection = _services.preview
#: F0b step 2: ask a second person to approve exactly this selection.
request_collection_export = _services.request
#: F0b step 3: write the approved list as a transfer package (C9) and record who was on it.
export_collection = _services.create
