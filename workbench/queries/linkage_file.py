"""F6: the linkage file for the housing business system (都住システム連携用ファイル作成, 別添1 ⑱–㉑).

"Linkage" here is the F6 file to the housing system only — not the linkage server (the recipient of
the F1b and F2 files, simulated in :mod:`workbench.simulate.integrated_numbers` and
:mod:`workbench.simulate.intermediate_server`), nor the integrated-number request (:mod:`workbench.intake.integrated`).

⑱ the workbench writes the file, ⑲ it is carried to the housing system, ⑳ imported there,
㉑ the contractor screens with it.  So the file carries the query results (F4, F5) of one
procedure and fiscal year, **keyed by the internal person number (宛名番号)** — never the
Individual Number, nor the integrated number (C14: no copy beyond what screening needs).

* Each export holds the results not yet sent in an earlier export (a later package of late
  answers goes out in the next export); ``linkage_export_members`` records exactly which
  results (request IDs) went out in which export.
* U4 (情報の突合): every row carries the person's discrepancy state (C7): the kinds still
  ``open`` or ``person_notified``, and the overall state (``open`` / ``person_notified`` /
  ``resolved`` / ``none``), so screening sees unresolved differences.  Juki-net's current
  four items are included only for a result that differs from what is held (otherwise the
  housing system already has the same values).
* Flow as for every outgoing file (REQUIREMENTS §6): :func:`preview_linkage` (counts only)
  → :func:`request_linkage` (second person's approval bound to the parameters, the count
  and a digest of the request IDs) → :func:`export_linkage` (consumes the approval, writes a
  ``linkage_file`` package for ``housing_system`` in CSV layout :data:`LINKAGE_LAYOUT`, with
  a media-ledger entry, C9).

The audit record holds parameters and counts only.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from workbench.core import labels
from workbench.core.permissions import Permission
from workbench.core.workspace import Unit
from workbench.files import media, outgoing
from workbench.files.formats import Column, Layout, write_table
from workbench.files.outgoing import ExportResult, OutgoingFileSpec
from workbench.queries.query_rules import check_fiscal_year, load_rules

#: Audited operation names keep this module's name before the 2026-12 move into packages, so the
#: seven-year audit log and its words stay one vocabulary (see ``workspace.service``).
SERVICE_PREFIX = "linkage"

__all__ = ["APPROVAL_KIND", "LINKAGE_LAYOUT", "PACKAGE_KIND", "SPEC", "LinkageParams", "LinkagePreview", "export_linkage", "preview_linkage",
           "request_linkage"]

APPROVAL_KIND = "linkage_file"
PACKAGE_KIND = "linkage_file"
RECIPIENT = "housing_system"
#: A record's ``discrepancy_status`` (the most pressing state of the person's discrepancies, or none).
labels.register("linkage_state", {"none": ("相違なし", "no discrepancy"), "open": ("未対応の相違あり", "open discrepancies"),
                                  "person_notified": ("本人へ通知済み", "person notified"),
                                  "resolved": ("相違は解決済み", "discrepancies resolved")})
#: Records per CSV member of the package.
RECORDS_PER_MEMBER = 100_000

_COLUMNS: tuple[tuple[str, str], ...] = (
    ("person_id", "宛名番号"), ("procedure_id", "申請番号"), ("procedure_code", "手続コード"), ("fiscal_year", "年度"),
    ("information", "照会情報"), ("request_id", "照会依頼番号"), ("result_status", "処理結果"),
    ("answered_on", "回答日"), ("tax_year", "課税年度"), ("taxable_income", "所得金額"), ("tax_status", "課税区分"),
    ("assistance", "生活保護受給"), ("certificate_type", "手帳種別"), ("certificate_grade", "手帳等級"),
    ("household_size", "世帯人員"), ("resident_since", "住定日"), ("juki_name", "住基氏名"), ("juki_kana", "住基カナ"),
    ("juki_sex", "住基性別"), ("juki_birth_date", "住基生年月日"), ("juki_address", "住基住所"), ("juki_deceased", "住基死亡"),
    ("discrepancy_kinds", "未解決の相違"), ("discrepancy_status", "相違の状態"),
)

LINKAGE_LAYOUT = Layout("linkage_file", 1, tuple(Column(n, label) for n, label in _COLUMNS), """
都住システム連携用ファイル（F6 ⑱）: 照会結果 1 件 1 行、宛名番号で本人を特定する（個人番号・統合宛名番号は含めない）。
result_status は照会結果の処理結果コード（情報照会 00/10/20/30/90、住基 00/10/90）。住基の基本 4 情報は、保有情報と
相違がある場合のみ記載する。discrepancy_kinds は未対応・通知済みの相違の種類（; 区切り）、discrepancy_status は
open / person_notified / resolved / none（U4 情報の突合）。""", for_people=True)


@dataclass
class LinkagePreview:
    """F6 step 1: what the linkage file would hold (counts, no personal data)."""

    procedure: str
    fiscal_year: int
    total: int
    persons: int
    by_information: dict[str, dict[str, int]] = field(default_factory=dict)
    discrepancy_status: dict[str, int] = field(default_factory=dict)
    already_exported: int = 0
    selection_digest: str = ""

    @property
    def count(self) -> int:
        return self.total

    def summary_ja(self) -> str:
        open_ = self.discrepancy_status.get("open", 0) + self.discrepancy_status.get("person_notified", 0)
        return (f"都住システムへ、手続 {self.procedure}・{self.fiscal_year} 年度の未送付の照会結果 {self.total:,} 件"
                f"（{self.persons:,} 人、うち未解決の相違がある人 {open_:,} 人）の連携ファイルを送付します。"
                "宛名番号で本人を特定し、個人番号・統合宛名番号は含みません。")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LinkageParams:
    """F6 parameters: one procedure and fiscal year."""

    procedure: str
    fiscal_year: int


def linkage_params(*, procedure: str, fiscal_year: int) -> LinkageParams:
    code = str(procedure).strip().upper()
    load_rules().procedure(code)  # refuses an unknown procedure
    return LinkageParams(code, check_fiscal_year(fiscal_year))


# Everything answered for this procedure and year and not yet sent, with the person's discrepancy state.
_TODO = """
CREATE OR REPLACE TEMP TABLE _lk_todo AS
SELECT q.request_id, q.person_id, q.procedure_id, q.procedure_code, q.fiscal_year, q.information, q.kind
FROM query_requests q
WHERE q.procedure_code = $procedure AND q.fiscal_year = $year AND q.status IN ('answered', 'error')
  AND NOT EXISTS (SELECT 1 FROM linkage_export_members m WHERE m.request_id = q.request_id)
  AND q.person_id NOT IN (SELECT person_id FROM suspended_persons) /* F9 利用停止 */
"""

#: The rows of the file, as a view over ``_lk_todo``: the preview's counts read only the columns they
#: need (a stored table of every name and address took seconds at 1,000,000 people); the writer reads all.
_SELECT = """
CREATE OR REPLACE TEMP VIEW _lk AS
WITH todo AS (SELECT * FROM _lk_todo),
dq AS (                    -- per person: the kinds not resolved, and the state (distinct kinds first: a
    SELECT person_id,      -- DISTINCT aggregate per person took 8 s over 280,000 discrepancies)
           array_to_string(list_sort(list(kind) FILTER (WHERE unresolved)), ';') AS kinds,
           CASE WHEN bool_or(has_open) THEN 'open' WHEN bool_or(has_notified) THEN 'person_notified'
                ELSE 'resolved' END AS state
    FROM (SELECT person_id, kind, bool_or(status <> 'resolved') AS unresolved, bool_or(status = 'open') AS has_open,
                 bool_or(status = 'person_notified') AS has_notified
          FROM discrepancies WHERE person_id IN (SELECT person_id FROM todo) GROUP BY person_id, kind)
    GROUP BY person_id),
dr AS (SELECT DISTINCT request_id FROM discrepancies WHERE source = 'juki')
SELECT t.person_id, t.procedure_id, t.procedure_code, t.fiscal_year, t.information, t.request_id,
       coalesce(i.status, j.result_code) AS result_status,
       strftime(coalesce(i.answered_at, i.imported_at, j.imported_at), '%Y-%m-%d') AS answered_on,
       i.tax_year, i.taxable_income, i.tax_status,
       CASE WHEN i.assistance THEN '1' WHEN NOT i.assistance THEN '0' END AS assistance,
       i.certificate_type, i.certificate_grade, i.household_size, strftime(i.resident_since, '%Y-%m-%d') AS resident_since,
       CASE WHEN dr.request_id IS NOT NULL THEN j.name END AS juki_name,
       CASE WHEN dr.request_id IS NOT NULL THEN j.kana END AS juki_kana,
       CASE WHEN dr.request_id IS NOT NULL THEN j.sex END AS juki_sex,
       CASE WHEN dr.request_id IS NOT NULL THEN strftime(j.birth_date, '%Y-%m-%d') END AS juki_birth_date,
       CASE WHEN dr.request_id IS NOT NULL THEN j.address END AS juki_address,
       CASE WHEN j.deceased THEN '1' WHEN NOT j.deceased THEN '0' END AS juki_deceased,
       coalesce(dq.kinds, '') AS discrepancy_kinds, coalesce(dq.state, 'none') AS discrepancy_status
FROM todo t
LEFT JOIN info_results i ON i.request_id = t.request_id   -- request IDs are unique across kinds
LEFT JOIN juki_results j ON j.request_id = t.request_id
LEFT JOIN dq ON dq.person_id = t.person_id
LEFT JOIN dr ON dr.request_id = t.request_id
WHERE i.request_id IS NOT NULL OR j.request_id IS NOT NULL
"""


def _select(unit: Unit, procedure: str, year: int) -> LinkagePreview:
    con = unit.con
    con.execute(_TODO, {"procedure": procedure, "year": year})
    con.execute(_SELECT)
    # The counts from one pass over the view, keeping only the columns they need.
    con.execute("CREATE OR REPLACE TEMP TABLE _lk_keys AS"
                " SELECT request_id, person_id, information, result_status, discrepancy_status FROM _lk")
    # The counts by information × result with each group's digest XOR (combined here exactly as
    # ``outgoing.digest_sql`` combines them: one pass, not a second one for the digest), and the people by
    # discrepancy state — one state per person (``dq`` is per person), so their sum is the people in the file
    # (one count of distinct people, not two).
    by_info: dict[str, dict[str, int]] = {}
    total, xor = 0, 0
    for info, status, n, part in con.execute(
            "SELECT information, result_status, count(*), bit_xor(md5_number(request_id::VARCHAR))::VARCHAR"
            " FROM _lk_keys GROUP BY ALL ORDER BY ALL").fetchall():
        by_info.setdefault(str(info), {})[str(status)] = int(n)
        total += int(n)
        xor ^= int(part)
    digest = hashlib.sha256(f"{total}:{xor if total else ''}".encode()).hexdigest()
    states = {str(k): int(v) for k, v in con.execute(
        "SELECT discrepancy_status, count(DISTINCT person_id) FROM _lk_keys GROUP BY 1 ORDER BY 1").fetchall()}
    persons = sum(states.values())
    # _lk_keys stays until _release: the writer records from it which results went out.
    sent = int(con.execute(  # type: ignore[index]
        "SELECT count(*) FROM linkage_export_members m JOIN query_requests q USING (request_id)"
        " WHERE q.procedure_code = ? AND q.fiscal_year = ?", [procedure, year]).fetchone()[0])
    return LinkagePreview(procedure, year, int(total), int(persons), by_info, states, sent, str(digest))


def _note(unit: Unit, p: LinkagePreview) -> None:
    unit.note(procedure=p.procedure, fiscal_year=p.fiscal_year, count=p.total, persons=p.persons,
              discrepancy_status=p.discrepancy_status, already_exported=p.already_exported)


def _select_linkage(unit: Unit, params: LinkageParams) -> LinkagePreview:
    preview = _select(unit, params.procedure, params.fiscal_year)
    _note(unit, preview)
    return preview


def _release(unit: Unit) -> None:
    unit.con.execute("DROP VIEW IF EXISTS _lk")
    unit.con.execute("DROP TABLE IF EXISTS _lk_keys")
    unit.con.execute("DROP TABLE IF EXISTS _lk_todo")


def _members(unit: Unit, export_id: str, total: int) -> Iterator[tuple[str, bytes]]:
    """CSV members of at most :data:`RECORDS_PER_MEMBER` records, ordered by person: the view is read once,
    sorted once, as Arrow (a stored copy numbered by a window, then read again a member at a time, and
    the view evaluated a third time to record what went out, took 2 of the 5 s at 100,000 results)."""
    names = [c for c, _ in _COLUMNS]
    cols = ", ".join(f"{c}::VARCHAR AS {c}" for c in names)
    table = unit.con.execute(f"SELECT {cols} FROM _lk ORDER BY person_id, request_id").to_arrow_table()
    if table.num_rows != total:  # pragma: no cover - the same transaction read the count
        raise RuntimeError("the linkage selection changed within its transaction")
    for n, start in enumerate(range(0, total, RECORDS_PER_MEMBER), start=1):
        frame: pd.DataFrame = table.slice(start, RECORDS_PER_MEMBER).to_pandas()
        yield f"{export_id}_{n:03d}.csv", write_table(frame, LINKAGE_LAYOUT, encoding="utf-8")
        del frame


def _write(unit: Unit, params: LinkageParams, preview: LinkagePreview, approval_id: str) -> ExportResult:
    """F6 step 3: the ``linkage_file`` package for the housing system (C9), keyed by internal person number,
    and which results went out."""
    export_id = "L" + uuid.uuid4().hex[:11].upper()
    entry, path = media.write_outgoing(unit, kind=PACKAGE_KIND, recipient=RECIPIENT,
                                       members=_members(unit, export_id, preview.total),
                                       record_count=preview.total, approval_id=approval_id)
    unit.con.execute("INSERT INTO linkage_export_members SELECT ?, request_id FROM _lk_keys", [export_id])
    unit.con.execute("INSERT INTO linkage_exports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     [export_id, params.procedure, params.fiscal_year, approval_id, entry.entry_id, entry.package_id,
                      preview.total, preview.persons, unit.now, unit.user_id])
    unit.note(target=export_id, export_id=export_id)
    return ExportResult(entry, path, preview.total, approval_id,
                        {"export_id": export_id, "persons": preview.persons,
                         "discrepancy_status": preview.discrepancy_status})


#: F6 as an outgoing file (workbench.files.outgoing).
SPEC: OutgoingFileSpec[LinkageParams, LinkagePreview] = OutgoingFileSpec(
    kind=APPROVAL_KIND, package_kind=PACKAGE_KIND, recipient=RECIPIENT, permission=Permission.LINKAGE_EXPORT,
    label_ja="都住システム連携ファイル", label_en="housing-system linkage file",
    file_ja="都住システム連携ファイル", file_en="linkage file", parameters=linkage_params,
    select=_select_linkage, write=_write, release=_release, records=("linkage_exports", "linkage_export_members"),
    nothing_en="There are no results for this procedure and year that have not been sent yet.",
    nothing_ja="この手続・年度で未送付の照会結果はありません。",
)
_services = outgoing.register(SPEC, preview="linkage.preview_linkage", request="linkage.request_linkage",
                              create="linkage.export_linkage")
#: F6 step 1: how many results (by information × result code) and persons would go to the housing system,
#: and how many of those persons have unresolved discrepancies (U4).  Nothing is written.
preview_linkage = _services.preview
#: F6 step 2: ask a second person to approve exactly this linkage file (REQUIREMENTS §6).
request_linkage = _services.request
#: F6 step 3: consume the approval, write the package, record which results went out.
export_linkage = _services.create
