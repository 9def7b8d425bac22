"""C7 discrepancies (相違の検知と届出の勧奨) and U4 matching against the application (情報の突合).

III-2 リスク3 / III-7 リスク2: 「入手した特定個人情報を反映する際に、システムで管理している
情報と相違がある場合は、エラーとして検知する」, and the person is prompted to notify the change.
II-3 ⑧ / U4: results are matched against the application before screening.

Detected when results are imported (:mod:`workbench.queries.results`), one row per (request, kind):

=====================  =========================================  =====================
kind                   differs                                    source
=====================  =========================================  =====================
``moved``              address (住所)                              Juki-net (F5)
``renamed``            name and/or kana (氏名・カナ)               Juki-net
``deceased``           Juki-net reports death; held as living     Juki-net
``sex_differs``        sex (性別)                                  Juki-net
``birth_date_differs`` birth date (生年月日)                       Juki-net
``income_differs``     taxable income ≠ declared income            linkage server (F4)
=====================  =========================================  =====================

Text is compared after NFKC and with all spaces removed, so width or spacing alone is
never a difference.  A Juki-net answer carries no identifier but the request ID, so a
wrong person there shows up as a sex / birth-date discrepancy.

Declared income (申告所得) is not in the ``housing_procedures`` layout (adding a column
would change every existing procedures file), so it comes in its own small file,
:func:`import_declared_income` (layout :data:`DECLARED_INCOME`).

States: ``open`` → ``person_notified`` → ``resolved`` (who, when, note).
:func:`notice_list` sends the housing system a list of people to prompt (通知対象者リスト)
after a second person's approval; the housing system prints the letters.

Values held and reported are personal data: they appear in the return values a reviewer
sees (Permission ``discrepancies.review``), never in audit parameters or errors.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from workbench.core import labels
from workbench.core.errors import InvalidInput, NotFound, rows_refused
from workbench.core.paging import ListSpec, Page, PageRequest, SortKey, fetch_page
from workbench.core.permissions import Permission
from workbench.core.workspace import Unit, service
from workbench.files import media, outgoing
from workbench.files.formats import Column, Layout, read_table, write_table
from workbench.files.outgoing import ExportResult, OutgoingFileSpec

__all__ = [
    "DECLARED_INCOME",
    "FIELDS",
    "KINDS",
    "NOTICE_LAYOUT",
    "NOTICE_SPEC",
    "STATUSES",
    "Discrepancy",
    "NoticePreview",
    "detect_income",
    "detect_juki",
    "discrepancy_page",
    "import_declared_income",
    "list_discrepancies",
    "notice_list",
    "preview_notice_list",
    "request_notice_list",
    "resolve_discrepancy",
]

#: kind → (Japanese, English).
KINDS: dict[str, tuple[str, str]] = {
    "moved": ("転居", "moved"),
    "renamed": ("氏名変更", "renamed"),
    "deceased": ("死亡", "deceased"),
    "sex_differs": ("性別の相違", "sex differs"),
    "birth_date_differs": ("生年月日の相違", "birth date differs"),
    "income_differs": ("所得金額の相違", "income differs from the declared"),
}
STATUSES: dict[str, tuple[str, str]] = {
    "open": ("未対応", "open"),
    "person_notified": ("本人へ通知済み", "person notified"),
    "resolved": ("解決済み", "resolved"),
}
#: The fields a discrepancy names (``Discrepancy.fields``, ``held``, ``reported``).
FIELDS: dict[str, tuple[str, str]] = {
    "address": ("住所", "address"), "name": ("氏名", "name"), "kana": ("氏名カナ", "name in kana"), "deceased": ("死亡", "deceased"),
    "sex": ("性別", "sex"), "birth_date": ("生年月日", "birth date"), "taxable_income": ("所得金額", "taxable income"),
    "declared_income": ("申告所得", "declared income"), "tax_year": ("課税年度", "tax year"),
}
labels.register("discrepancy", KINDS)
labels.register("discrepancy_status", STATUSES)
labels.register("discrepancy_field", FIELDS)
#: Why a row of a declared-income file is refused.
DECLARED_INCOME_PROBLEMS: dict[str, tuple[str, str]] = {
    "bad_amount": ("申告所得金額が数字ではありません", "the declared income is not a whole number of yen"),
    "unknown_filing": ("申請番号と対象者の組が取込済みの手続にありません",
                       "no procedure held names this person under this procedure ID"),
    "duplicate_row": ("同じ申請番号・対象者の行が重複しています", "the same procedure and person appear twice"),
}
labels.register("declared_income_problem", DECLARED_INCOME_PROBLEMS)

NOTICE_APPROVAL_KIND = "notice_list"
NOTICE_KIND = "notice_list"
NOTICE_RECIPIENT = "housing_system"

#: Declared income per procedure × person (U4), CSV like the other housing-system extracts.
DECLARED_INCOME = Layout("declared_income", 1, (
    Column("procedure_id", "申請番号", max_length=30), Column("person_id", "対象者宛名番号", max_length=20),
    Column("declared_income", "申告所得金額", max_length=20),
), "収入申告の申告所得（都住システム抽出, U4）: 手続 1 件 × 対象者 1 人で 1 行。金額は円、数字のみ。")

#: The notice list for the housing system (C14: what it needs to address a letter).
NOTICE_LAYOUT = Layout("notice_list", 1, (
    Column("person_id", "宛名番号"), Column("household_id", "世帯番号"), Column("kinds", "相違の種類"),
    Column("fields", "相違項目"), Column("discrepancy_ids", "相違番号"),
), "通知対象者リスト（C7）: 届出を勧奨する本人 1 人 1 行。宛名・住所は都住システムが保有する情報で印字する。", for_people=True)


@dataclass(frozen=True)
class Discrepancy:
    """One difference for a reviewer: which fields differ (by name), the values, the state."""

    discrepancy_id: str
    person_id: str
    kind: str
    kind_ja: str
    source: str
    fields: list[str]
    held: dict[str, Any]
    reported: dict[str, Any]
    status: str
    request_id: str
    batch_id: str
    detected_at: str
    notified_at: str | None
    notified_by: str | None
    resolved_at: str | None
    resolved_by: str | None
    note: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------------------ detection
def _norm(values: pd.Series) -> pd.Series:
    """NFKC, every kind of space removed: width or spacing alone is not a difference."""
    return values.fillna("").astype(str).str.normalize("NFKC").str.replace(r"\s+", "", regex=True)


def _insert(unit: Unit, frame: pd.DataFrame, source: str) -> dict[str, int]:
    if frame.empty:
        return {}
    prefix = "D" + uuid.uuid4().hex[:8].upper() + "-"
    frame = frame.reset_index(drop=True)
    frame["discrepancy_id"] = prefix + pd.Series(np.arange(1, len(frame) + 1)).astype(str).str.zfill(7)
    con = unit.con
    con.register("_dq", frame[["discrepancy_id", "request_id", "batch_id", "person_id", "kind", "fields", "held",
                               "reported"]])
    con.execute(
        """INSERT INTO discrepancies (discrepancy_id, request_id, batch_id, person_id, source, kind, fields, held, reported,
                                      status, detected_at)
           SELECT discrepancy_id, request_id, batch_id, person_id, ?, kind, fields, held, reported, 'open', ?
           FROM _dq d WHERE NOT EXISTS (SELECT 1 FROM discrepancies x WHERE x.request_id = d.request_id AND x.kind = d.kind)""",
        [source, unit.now])
    con.unregister("_dq")
    return {str(k): int(v) for k, v in frame["kind"].value_counts().sort_index().items()}


def _dumps(frame: pd.DataFrame, cols: list[str]) -> list[str]:
    return [json.dumps(dict(zip(cols, row, strict=True)), ensure_ascii=False) for row in frame[cols].itertuples(index=False)]


def detect_juki(unit: Unit, import_id: str) -> dict[str, int]:
    """C7 for F5: compare the four basic items and death from Juki-net with what is held.

    Runs inside the import's transaction; returns counts by kind (no personal data)."""
    j = unit.con.execute(
        """SELECT r.request_id, r.batch_id, r.person_id, r.name, r.kana, r.sex, strftime(r.birth_date, '%Y-%m-%d') AS birth_date,
                  r.address, r.deceased, p.name AS h_name, p.kana AS h_kana, p.sex AS h_sex,
                  strftime(p.birth_date, '%Y-%m-%d') AS h_birth_date, p.address AS h_address, p.deceased AS h_deceased
           FROM juki_results r JOIN persons p USING (person_id)
           WHERE r.import_id = ? AND r.result_code = '00'""", [import_id]).df()
    if j.empty:
        return {}
    parts = []
    name_d = (_norm(j["name"]) != _norm(j["h_name"])).to_numpy()
    kana_d = (_norm(j["kana"]) != _norm(j["h_kana"])).to_numpy()
    checks: list[tuple[str, np.ndarray, list[str]]] = [
        ("moved", (_norm(j["address"]) != _norm(j["h_address"])).to_numpy(), ["address"]),
        ("renamed", name_d | kana_d, ["name", "kana"]),
        ("deceased", (j["deceased"].fillna(False).astype(bool) & ~j["h_deceased"].astype(bool)).to_numpy(), ["deceased"]),
        ("sex_differs", (_norm(j["sex"]) != _norm(j["h_sex"])).to_numpy(), ["sex"]),
        ("birth_date_differs", (j["birth_date"].fillna("") != j["h_birth_date"].fillna("")).to_numpy(), ["birth_date"]),
    ]
    for kind, mask, cols in checks:
        if not mask.any():
            continue
        sub = j.loc[mask].copy()
        if kind == "renamed":
            which = np.where(name_d[mask] & kana_d[mask], '["name", "kana"]', np.where(name_d[mask], '["name"]', '["kana"]'))
            sub["fields"] = which
        else:
            sub["fields"] = json.dumps(cols)
        held = sub[[f"h_{c}" for c in cols]].rename(columns=lambda c: c[2:])
        sub["held"] = _dumps(held.astype(object).where(held.notna(), None), cols)
        sub["reported"] = _dumps(sub[cols].astype(object).where(sub[cols].notna(), None), cols)
        sub["kind"] = kind
        parts.append(sub[["request_id", "batch_id", "person_id", "kind", "fields", "held", "reported"]])
    return _insert(unit, pd.concat(parts, ignore_index=True), "juki") if parts else {}


def detect_income(unit: Unit, *, import_id: str | None = None) -> dict[str, int]:
    """U4/C7 for F4: local-tax income reported by the linkage server against the income declared in the
    application (``declared_incomes``) of the filing that permitted the query.  Set-based; runs inside the
    caller's transaction (after a result import, or after a declared-income import)."""
    where = "AND i.import_id = $import_id" if import_id else ""
    frame = unit.con.execute(
        f"""SELECT i.request_id, i.batch_id, i.person_id, 'income_differs' AS kind, '["taxable_income"]' AS fields,
                   json_object('declared_income', d.declared_income) AS held,
                   json_object('taxable_income', i.taxable_income, 'tax_year', i.tax_year) AS reported
            FROM info_results i JOIN query_requests q USING (request_id)
            JOIN declared_incomes d ON d.procedure_id = q.procedure_id AND d.person_id = q.person_id
            WHERE i.information = 'local_tax' AND i.status = '00' AND i.taxable_income IS NOT NULL
              AND i.taxable_income <> d.declared_income {where}
              AND NOT EXISTS (SELECT 1 FROM discrepancies x WHERE x.request_id = i.request_id AND x.kind = 'income_differs')""",
        {"import_id": import_id} if import_id else {},
    ).df()
    return _insert(unit, frame, "info")


# ------------------------------------------------------------------------------ declared income
@service(Permission.PROCEDURES_IMPORT)
def import_declared_income(unit: Unit, data: bytes, *, file_name: str) -> dict[str, Any]:
    """U4: import the income declared in the applications (procedure × person, yen) and compare it with
    local-tax results already held (C7).  Any bad row refuses the whole file with line numbers; a
    (procedure, person) already held is replaced; the same file twice changes nothing."""
    table = read_table(data, DECLARED_INCOME)
    con = unit.con
    done = con.execute("SELECT import_id, imported_at FROM declared_income_imports WHERE digest = ?",
                       [table.digest]).fetchone()
    if done is not None:
        unit.note(rows=table.rows, already_imported=True)
        return {"rows": table.rows, "import_id": done[0], "already_imported": True,
                "message_ja": "このファイルは取込済みです（変更なし）。", "message_en": "Unchanged: this file was already imported."}
    f = table.frame
    clean = pd.DataFrame({
        "line": table.lines,
        "procedure_id": f["procedure_id"].astype(str).str.normalize("NFKC").str.strip(),
        "person_id": f["person_id"].astype(str).str.normalize("NFKC").str.strip(),
        "income": f["declared_income"].astype(str).str.normalize("NFKC").str.replace(",", "").str.strip(),
    })
    bad_amount = ~clean["income"].str.fullmatch(r"\d{1,12}").fillna(False)
    clean["income"] = pd.to_numeric(clean["income"].where(~bad_amount, "0"))
    con.register("_di", clean)
    try:
        unknown = set(con.execute(
            """SELECT line FROM _di d WHERE NOT EXISTS (SELECT 1 FROM procedure_members m
               WHERE m.procedure_id = d.procedure_id AND m.person_id = d.person_id)""").fetchnumpy()["line"].tolist())
        dup = clean.duplicated(["procedure_id", "person_id"], keep="first").to_numpy()
        problems = sorted(
            [(int(ln), "bad_amount") for ln in clean.loc[bad_amount.to_numpy(), "line"]]
            + [(int(ln), "unknown_filing") for ln in unknown]
            + [(int(ln), "duplicate_row") for ln in clean.loc[dup, "line"]])
        if problems:
            raise rows_refused("declared-income file", "申告所得ファイル", problems, DECLARED_INCOME_PROBLEMS)
        import_id = "DI" + uuid.uuid4().hex[:10].upper()
        con.execute("DELETE FROM declared_incomes WHERE (procedure_id, person_id) IN"
                    " (SELECT (procedure_id, person_id) FROM _di)")
        con.execute("INSERT INTO declared_incomes SELECT procedure_id, person_id, income::BIGINT, ?, ? FROM _di",
                    [import_id, unit.now])
    finally:
        con.unregister("_di")
    con.execute("INSERT INTO declared_income_imports VALUES (?, ?, ?, ?, ?, ?)",
                [import_id, table.digest, file_name, table.rows, unit.now, unit.user_id])
    found = detect_income(unit)
    unit.note(target=import_id, rows=table.rows, discrepancies=found)
    return {"rows": table.rows, "import_id": import_id, "already_imported": False, "discrepancies": found,
            "message_ja": f"申告所得 {table.rows:,} 件を取り込みました。", "message_en": f"Imported {table.rows} declared income(s)."}


# ------------------------------------------------------------------------------ review
_COLUMNS = ("discrepancy_id, person_id, kind, source, fields, held, reported, status, request_id, batch_id, detected_at,"
            " notified_at, notified_by, resolved_at, resolved_by, note")


def _iso(v: Any) -> str | None:
    return None if v is None else v.isoformat()


def _row(r: tuple[Any, ...]) -> Discrepancy:
    (did, pid, kind, source, fields, held, reported, status, req, batch, det, nat, nby, rat, rby, note) = r
    return Discrepancy(did, pid, kind, KINDS.get(kind, (kind, kind))[0], source, json.loads(fields), json.loads(held),
                       json.loads(reported), status, req, batch, det.isoformat(), _iso(nat), nby, _iso(rat), rby, note)


def _check_choice(value: str | None, allowed: dict[str, tuple[str, str]], what: str) -> None:
    if value is not None and value not in allowed:
        raise InvalidInput(f"Unknown {what} {value!r}; use one of {', '.join(allowed)}.",
                           f"{what} {value!r} は不明です（{', '.join(allowed)} のいずれか）。", reason=f"bad_{what}")


@service(Permission.DISCREPANCIES_REVIEW)
def list_discrepancies(unit: Unit, *, status: str | None = None, kind: str | None = None,
                       limit: int = 1000) -> list[Discrepancy]:
    """C7: the review queue, oldest first: which fields differ (by name and kind) and the values a
    reviewer needs.  The audit record holds the filter and the count only."""
    _check_choice(status, STATUSES, "status")
    _check_choice(kind, KINDS, "kind")
    rows = unit.con.execute(
        f"SELECT {_COLUMNS} FROM discrepancies WHERE ($status IS NULL OR status = $status)"
        " AND ($kind IS NULL OR kind = $kind) ORDER BY detected_at, discrepancy_id LIMIT $limit",
        {"status": status, "kind": kind, "limit": int(limit)}).fetchall()
    unit.note(status=status, kind=kind, count=len(rows))
    return [_row(r) for r in rows]


#: The review queue as a list that pages in the database (issue 11 item 6).
QUEUE = ListSpec(
    "相違の一覧", "discrepancy list", "discrepancies",
    sorts={
        "detected_at": SortKey("detected_at", "検知日時", "detected"),
        "discrepancy_id": SortKey("discrepancy_id", "相違番号", "discrepancy number"),
        "person_id": SortKey("person_id", "宛名番号", "person"),
        "kind": SortKey("kind", "種類", "kind"),
        "status": SortKey("status", "状態", "state"),
        "acted_at": SortKey("coalesce(resolved_at, notified_at)", "対応日時", "acted"),
    },
    default_sort="detected_at", tiebreak="discrepancy_id",
    search=("discrepancy_id", "person_id", "note", "batch_id"),
    filters={"status": ("status", STATUSES), "kind": ("kind", KINDS)},
    groups={"kind": "kind", "status": "status"},
)


@service(Permission.DISCREPANCIES_REVIEW)
def discrepancy_page(unit: Unit, request: PageRequest) -> Page[Discrepancy]:
    """C7: one page of the review queue, sorted and filtered in the database; ``total`` and the
    counts by kind and state (``groups``) are over the whole selection, not the page.  The audit
    record holds the filters and the counts only (never the filter text, which may name someone)."""
    page = fetch_page(unit, QUEUE, request, _COLUMNS)
    return page.map(_row)


@service(Permission.DISCREPANCIES_REVIEW, target="discrepancy_id")
def resolve_discrepancy(unit: Unit, discrepancy_id: str, *, action: Literal["notified", "resolved"],
                        note: str | None = None) -> Discrepancy:
    """C7: record that the person was prompted to notify (``notified``: open → person_notified), or
    that the difference is settled (``resolved``), with who, when and a note."""
    row = unit.con.execute(f"SELECT {_COLUMNS} FROM discrepancies WHERE discrepancy_id = ?", [discrepancy_id]).fetchone()
    unit.note(target=discrepancy_id, action=action)
    if row is None:
        raise NotFound(f"No discrepancy {discrepancy_id}.", f"相違 {discrepancy_id} はありません。", reason="not_found")
    current = row[7]
    if action == "notified":
        if current != "open":
            raise InvalidInput(f"Only an open discrepancy can be marked notified (this one is {current}).",
                               f"通知済みにできるのは未対応の相違のみです（現在: {STATUSES[current][0]}）。",
                               reason="bad_transition")
        unit.con.execute("UPDATE discrepancies SET status = 'person_notified', notified_at = ?, notified_by = ?,"
                         " note = coalesce(?, note) WHERE discrepancy_id = ?", [unit.now, unit.user_id, note, discrepancy_id])
    elif action == "resolved":
        if current == "resolved":
            raise InvalidInput("This discrepancy is already resolved.", "この相違はすでに解決済みです。",
                               reason="bad_transition")
        unit.con.execute("UPDATE discrepancies SET status = 'resolved', resolved_at = ?, resolved_by = ?,"
                         " note = coalesce(?, note) WHERE discrepancy_id = ?", [unit.now, unit.user_id, note, discrepancy_id])
    else:
        raise InvalidInput("The action must be notified or resolved.", "操作は notified または resolved を指定してください。",
                           reason="bad_action")
    updated = unit.con.execute(f"SELECT {_COLUMNS} FROM discrepancies WHERE discrepancy_id = ?", [discrepancy_id]).fetchone()
    assert updated is not None
    return _row(updated)


# ------------------------------------------------------------------------------ notice list
_NOTICE_SELECT = """
SELECT d.person_id, any_value(p.household_id) AS household_id,
       string_agg(DISTINCT d.kind, ';' ORDER BY d.kind) AS kinds,
       list_sort(list_distinct(flatten(list(d.fields::JSON::VARCHAR[])))) AS field_list,
       string_agg(d.discrepancy_id, ';' ORDER BY d.discrepancy_id) AS discrepancy_ids
FROM discrepancies d JOIN persons p USING (person_id)
WHERE d.status = 'open' AND d.notice_export IS NULL AND d.person_id NOT IN (SELECT person_id FROM suspended_persons) /* F9 利用停止 */
GROUP BY d.person_id ORDER BY d.person_id
"""


@dataclass(frozen=True)
class NoticeParams:
    """The notice list takes no parameters: everyone with an open discrepancy not yet on a list."""


@dataclass(frozen=True)
class NoticePreview:
    """Who would be on the notice list, as counts (SQL counts over the whole selection)."""

    persons: int
    discrepancies: int
    by_kind: dict[str, int]
    selection_digest: str

    @property
    def count(self) -> int:
        return self.persons

    def summary_ja(self) -> str:
        kinds = "、".join(f"{KINDS.get(k, (k,))[0]} {n:,} 件" for k, n in self.by_kind.items())
        return (f"都住システムへ、未対応の相違がある {self.persons:,} 人（相違 {self.discrepancies:,} 件: {kinds}）の"
                "通知対象者リストを送付します。送付すると相違は「本人へ通知済み」になります。")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_NOTICE_WHERE = ("d.status = 'open' AND d.notice_export IS NULL"
                 " AND d.person_id NOT IN (SELECT person_id FROM suspended_persons) /* F9 利用停止 */")


def _notice_select(unit: Unit, _params: NoticeParams) -> NoticePreview:
    persons, count, digest = unit.con.execute(
        "SELECT count(DISTINCT d.person_id), count(*),"
        f" {outgoing.digest_sql('d.discrepancy_id')}"
        f" FROM discrepancies d JOIN persons p USING (person_id) WHERE {_NOTICE_WHERE}").fetchone()  # type: ignore[misc]
    by_kind = {str(k): int(n) for k, n in unit.con.execute(
        f"SELECT d.kind, count(*) FROM discrepancies d JOIN persons p USING (person_id) WHERE {_NOTICE_WHERE}"
        " GROUP BY 1 ORDER BY 1").fetchall()}
    return NoticePreview(int(persons), int(count), by_kind, str(digest))


def _notice_write(unit: Unit, _params: NoticeParams, preview: NoticePreview, approval_id: str) -> ExportResult:
    """C7: write the approved notice list as a ``notice_list`` package for the housing system, which prints
    the letters; the discrepancies on it become ``person_notified``."""
    frame = unit.con.execute(_NOTICE_SELECT).df()
    export_id = "N" + uuid.uuid4().hex[:11].upper()
    out = frame.assign(fields=frame["field_list"].map(lambda v: ";".join(v))).drop(columns=["field_list"])
    body = write_table(out, NOTICE_LAYOUT, encoding="utf-8")
    entry, path = media.write_outgoing(unit, kind=NOTICE_KIND, recipient=NOTICE_RECIPIENT,
                                       members=[(f"{export_id}.csv", body)], record_count=len(out),
                                       approval_id=approval_id)
    notified = len(unit.con.execute(
        "UPDATE discrepancies SET status = 'person_notified', notified_at = ?, notified_by = ?, notice_export = ?"
        " WHERE status = 'open' AND notice_export IS NULL AND person_id NOT IN (SELECT person_id FROM suspended_persons) /* F9 利用停止 */"
        " RETURNING discrepancy_id",
        [unit.now, unit.user_id, export_id]).fetchall())
    unit.con.execute("INSERT INTO notice_exports VALUES (?, ?, ?, ?, ?, ?, ?)",
                     [export_id, approval_id, entry.entry_id, entry.package_id, len(out), unit.now, unit.user_id])
    unit.note(target=export_id, notified=notified)
    return ExportResult(entry, path, len(out), approval_id, {"export_id": export_id, "discrepancies": notified})


#: The notice list (C7) as an outgoing file (workbench.files.outgoing).
NOTICE_SPEC: OutgoingFileSpec[NoticeParams, NoticePreview] = OutgoingFileSpec(
    kind=NOTICE_APPROVAL_KIND, package_kind=NOTICE_KIND, recipient=NOTICE_RECIPIENT,
    permission=Permission.DISCREPANCIES_REVIEW, label_ja="通知対象者リストの送付", label_en="notice list (C7)",
    file_ja="通知対象者リスト", file_en="notice list",
    parameters=NoticeParams, select=_notice_select, write=_notice_write, records=("notice_exports", "discrepancies"),
    nothing_en="No open discrepancy waits for a notice.", nothing_ja="通知が必要な未対応の相違はありません。",
)
_notice = outgoing.register(NOTICE_SPEC, preview="discrepancies.preview_notice_list",
                            request="discrepancies.request_notice_list", create="discrepancies.notice_list")
#: C7 step 1: how many people (and discrepancies, by kind) would be on the notice list.
preview_notice_list = _notice.preview
#: C7 step 2: ask a second person to approve the notice list of exactly these people (REQUIREMENTS §6).
request_notice_list = _notice.request
#: C7 step 3: write the approved notice list; its discrepancies become ``person_notified``.
notice_list = _notice.create
