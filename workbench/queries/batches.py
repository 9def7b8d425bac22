"""F2 information-query batches and F3 Juki-net query batches (照会用ファイル作成, 別添1 ⑩⑪⑮⑯).

Who may be asked what (II-3 ⑧, III-2 リスク1, III-3 リスク1), decided in one set-based
query over the procedures filed (:mod:`workbench.queries.procedures`) and the rules table
(:mod:`workbench.queries.query_rules`):

* **U3** — only people concerned by a filing of the chosen procedure and fiscal year,
  and only information that procedure is permitted to ask (``not_permitted``);
* **U1** — *contact-type* information (住民票関係情報; for F3 the four basic items)
  also for people at the same address as a filer whose number is registered
  (``basis = 'household'``); without such an anchor → ``household_no_number``;
  business-type information is never asked for them → ``not_filed``;
* **U2** — *business-type* information only for a filer who notified a number and
  consented (``no_number``, ``no_consent``);
* people no longer listed or deceased → ``not_covered``; F2 identifies people by the
  integrated number, so someone without one → ``no_integrated_number`` (get it with
  F1b first; the linkage server accepts only people linked to one, III-2 リスク3).

A request that breaks a rule is never created: the preview shows how many were left
out and why (:data:`EXCLUSIONS`, Japanese and English).  Each flow is preview →
request (second person's approval bound to the exact parameters **and** to a digest of
who is selected, REQUIREMENTS §6) → create.  Creating consumes the approval, gives
every query its own request ID held in ``query_requests`` (C10), writes the files and
sends them as ONE transfer package with a media-ledger entry (C9):

* F2: kind ``info_query`` for ``linkage_server``, members of at most
  ``records_per_file`` (default 10,000) fixed-width records
  (:data:`workbench.files.query_files.REQUEST_LAYOUT`, DESIGN §7); no Individual Number;
* F3: kind ``juki_query`` for ``juki_net``, CSV members in the ``juki_request`` layout;
  here the Individual Number is needed (個人番号による本人確認情報照会) and is decrypted
  in batch only while the package is written.

The audit record holds parameters and counts only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.core import labels
from workbench.core.clock import JST
from workbench.core.errors import InvalidInput
from workbench.core.paging import ListSpec, Page, PageRequest, SortKey, fetch_page
from workbench.core.permissions import Permission
from workbench.core.workspace import Unit, service
from workbench.files import media, outgoing
from workbench.files.formats import write_table
from workbench.files.outgoing import ExportResult, OutgoingFileSpec
from workbench.files.query_files import RECORDS_PER_FILE, REQUEST_LAYOUT, split_records, write_fixed
from workbench.queries.query_rules import QueryRules, check_fiscal_year, load_rules

__all__ = [
    "APPROVAL_KINDS",
    "EXCLUSIONS",
    "EXCLUSIONS_SHORT",
    "PACKAGE_KINDS",
    "SPECS",
    "STATUSES",
    "BatchInfo",
    "BatchParams",
    "BatchPreview",
    "batch_page",
    "create_info_batch",
    "create_juki_batch",
    "preview_info_batch",
    "preview_juki_batch",
    "request_info_batch",
    "request_juki_batch",
]

Kind = Literal["info", "juki"]

#: Approval kinds (approvals.kind) and package kinds (manifest.kind) of the two batches.
APPROVAL_KINDS: dict[str, str] = {"info": "info_query_batch", "juki": "juki_query_batch"}
PACKAGE_KINDS: dict[str, str] = {"info": "info_query", "juki": "juki_query"}
RECIPIENTS: dict[str, str] = {"info": "linkage_server", "juki": "juki_net"}

#: Why a (person, information) pair was left out, in the order the rules are applied.
EXCLUSIONS: dict[str, tuple[str, str]] = {
    "not_covered": ("対象者リストに載っていないか、死亡または利用停止により対象外です",
                    "not on the current target list, deceased, or use suspended"),
    "not_permitted": ("この手続では照会が認められていない情報です（U3）",
                      "this procedure is not permitted to query this information (U3)"),
    "not_filed": ("本人が届出・申請した手続ではないため、業務関係情報は照会できません（同一住所の世帯員, U3）",
                  "the person did not file this procedure, so business information cannot be queried (same-address member, U3)"),
    "household_no_number": ("同一住所に個人番号を届け出た申請者・対象者がいません（U1）",
                            "no one at the same address who filed has notified a number (U1)"),
    "no_number": ("個人番号の届出がありません（U1, U2）", "no Individual Number has been notified (U1, U2)"),
    "no_consent": ("情報照会への同意がありません（業務関係情報, U2）",
                   "no consent to information queries (business information, U2)"),
    "no_integrated_number": ("団体内統合宛名番号が未取得です（先に F1b で取得してください）",
                             "no integrated number yet (obtain it with F1b first)"),
    "outstanding": ("同じ手続・年度・情報の照会を送付済みで、回答を待っています（二重照会の防止）",
                    "a query for the same procedure, year and information was sent and its answer is awaited"),
}
#: The same reasons in a few words, for a chart's bars.
EXCLUSIONS_SHORT: dict[str, str] = {
    "not_covered": "リスト外・死亡", "not_permitted": "この手続では不可", "not_filed": "本人の届出なし",
    "household_no_number": "同住所に番号届出なし", "no_number": "個人番号の届出なし", "no_consent": "照会への同意なし",
    "no_integrated_number": "統合宛名番号が未取得", "outstanding": "回答待ちの照会あり",
}
#: A pair that is not left out is queried (``included``), beside the reasons in the same domain.
labels.register("exclusion", {**EXCLUSIONS, "included": ("照会対象", "included")}, short=EXCLUSIONS_SHORT)
#: Juki-net queries ask for the basic four items, which the rules table (information kinds) does not list.
labels.register("information", {"juki": ("住基ネット本人確認情報（基本4情報）", "Juki-net identity information (basic four items)")})
#: Where a query request or batch stands (query_requests.status, query_batches.status).
STATUSES: dict[str, tuple[str, str]] = {
    "created": ("作成済み", "created"), "sent": ("回答待ち", "waiting for the answer"), "answered": ("回答あり", "answered"),
    "error": ("エラー", "error"), "closed": ("完了", "closed"), "purged": ("結果削除済み", "results purged"),
    "expired": ("期限切れ", "expired"),
}
labels.register("query_status", STATUSES)

_JUKI = "juki"


@dataclass
class BatchPreview:
    """What a batch would hold (F2/F3): counts by procedure × information × outcome, no personal data."""

    kind: str
    procedure: str
    fiscal_year: int
    information: list[str]
    records_per_file: int
    #: Requests that would be created.
    total: int
    #: Distinct people among them.
    persons: int
    files: int
    #: One row per (procedure, information, outcome); outcome ``included`` or an exclusion code.
    rows: list[dict[str, Any]] = field(default_factory=list)
    #: information → outcome → count.
    by_information: dict[str, dict[str, int]] = field(default_factory=dict)
    #: exclusion code → count (all information together).
    excluded: dict[str, int] = field(default_factory=dict)
    #: basis of the included requests: filed, household (U1).
    included_by_basis: dict[str, int] = field(default_factory=dict)
    #: The exclusion codes present, with their Japanese and English reasons.
    reasons: dict[str, dict[str, str]] = field(default_factory=dict)
    selection_digest: str = ""
    #: The filing dates the selection was limited to (ISO dates), if any.
    filed_from: str | None = None
    filed_to: str | None = None

    @property
    def count(self) -> int:
        return self.total

    def summary_ja(self) -> str:
        what = "住基ネットへ本人確認情報（基本 4 情報）の照会" if self.kind == "juki" else "中間サーバー経由で情報照会"
        infos = "" if self.kind == "juki" else f"（照会情報: {'、'.join(_info_ja(i) for i in self.information)}）"
        left = "、".join(f"{EXCLUSIONS[k][0].split('（')[0]} {n:,} 件" for k, n in self.excluded.items())
        filed = (f"（届出日 {self.filed_from or ''}〜{self.filed_to or ''}）"
                 if self.filed_from or self.filed_to else "")
        text = (f"{what}ファイルを作成します: 手続 {self.procedure}、{self.fiscal_year} 年度{filed}{infos}、"
                f"{self.persons:,} 人・{self.total:,} 件（{self.files:,} ファイル）。")
        if self.kind == "juki":
            text += "このファイルには個人番号が含まれます。"
        return text + (f"照会しないもの: {left}。" if left else "")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _info_ja(key: str) -> str:
    try:
        return load_rules().information[key].label_ja
    except KeyError:
        return key


@dataclass(frozen=True)
class BatchParams:
    """F2/F3 parameters, canonical and validated (so an approval's digest is stable)."""

    kind: str
    procedure: str
    fiscal_year: int
    information: list[str]
    records_per_file: int
    #: Only filings made on or after / on or before these days (ISO dates), e.g. one month's
    #: applications (P4) in a monthly cycle, so earlier months' applicants are not asked again.
    filed_from: str | None = None
    filed_to: str | None = None


def _filed_range(filed_from: dt.date | str | None, filed_to: dt.date | str | None) -> tuple[str | None, str | None]:
    out: list[str | None] = []
    for name, value in (("filed_from", filed_from), ("filed_to", filed_to)):
        if value is None or value == "":
            out.append(None)
            continue
        try:
            day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value).strip())
        except ValueError:
            raise InvalidInput(f"{name} must be a date as YYYY-MM-DD.", f"{name} は日付（YYYY-MM-DD）で指定してください。",
                               reason="bad_filed_range") from None
        out.append(day.isoformat())
    if out[0] is not None and out[1] is not None and out[1] < out[0]:
        raise InvalidInput("filed_to is before filed_from.", "届出日の終わり（filed_to）が始まり（filed_from）より前です。",
                           reason="bad_filed_range")
    return out[0], out[1]


# ------------------------------------------------------------------------------ parameters
def _params(kind: Kind, procedure: str, fiscal_year: int, information: Iterable[str] | str | None,
            records_per_file: int) -> tuple[QueryRules, str, int, list[str]]:
    """Canonical, validated parameters (so the approval digest is stable)."""
    rules = load_rules()
    code = str(procedure).strip().upper()
    proc = rules.procedure(code)
    year = check_fiscal_year(fiscal_year)
    if not isinstance(records_per_file, int) or records_per_file < 1:
        raise InvalidInput("records_per_file must be a positive whole number.",
                           "1 ファイルあたりの件数は正の整数で指定してください。", reason="bad_records_per_file")
    if kind == "juki":
        if information not in (None, [], (), _JUKI, [_JUKI]):
            raise InvalidInput("A Juki-net batch asks the four basic items only; do not name information kinds.",
                               "住基ネット照会は基本 4 情報のみです。照会する情報は指定しないでください。",
                               reason="bad_information")
        return rules, code, year, [_JUKI]
    if information is None:
        infos = list(proc.information)
    else:
        items = [information] if isinstance(information, str) else list(information)
        if not items:
            raise InvalidInput("Name at least one information kind, or none for all permitted.",
                               "照会する情報を 1 つ以上指定するか、指定なし（許可された全情報）にしてください。",
                               reason="bad_information")
        wanted = {rules.info(str(i).strip()).key for i in items}
        infos = [k for k in rules.information if k in wanted]
    return rules, code, year, infos


def _info_table(rules: QueryRules, kind: Kind, procedure: str, infos: list[str]) -> pd.DataFrame:
    proc = rules.procedures[procedure]
    if kind == "juki":
        return pd.DataFrame({"information": [_JUKI], "kind": ["contact"], "permitted": [proc.juki],
                             "info_code": [None], "period": ["as_of"]})
    return pd.DataFrame({
        "information": infos,
        "kind": [rules.information[k].kind for k in infos],
        "permitted": [rules.permitted(procedure, k) for k in infos],
        "info_code": [rules.information[k].info_code for k in infos],
        "period": [rules.information[k].period for k in infos],
    })


# ------------------------------------------------------------------------------ selection
#: One row per person in the universe, from ONE pass over ``persons`` with each person's filing, number and
#: integrated number joined (the filers' rows and their addresses' household members are the same scan, not
#: a join of the filings to ``persons``, a second join of ``persons`` to the anchored addresses, an anti-join
#: against the filings and the numbers joined twice: 2.8 of the 9.6 CPU s of a 1,000,000-person create).
#: ``tests/test_fast_selections.py`` holds it to the straightforward query it replaced.
_SELECT = """
CREATE OR REPLACE TEMP TABLE _qper AS
WITH filed AS (            -- U3: people named in a filing of this procedure and year
    SELECT m.person_id,
           coalesce(min(m.procedure_id) FILTER (WHERE m.consent), min(m.procedure_id)) AS procedure_id,
           bool_or(m.consent) AS consent
    FROM housing_procedures h JOIN procedure_members m USING (procedure_id)
    WHERE h.procedure_code = $procedure AND h.fiscal_year = $year
      AND ($filed_from IS NULL OR h.filed_on >= $filed_from::DATE) AND ($filed_to IS NULL OR h.filed_on <= $filed_to::DATE)
    GROUP BY m.person_id),
everyone AS MATERIALIZED (  -- every person once: filed or not, covered, with a number, with an integrated number
    SELECT p.person_id, p.address, f.person_id IS NOT NULL AS filer, f.procedure_id, f.consent,
           (p.listed AND NOT p.deceased AND p.person_id NOT IN (SELECT person_id FROM suspended_persons) /* F9 利用停止 */) AS covered,
           n.person_id IS NOT NULL AS has_number, g.integrated_number
    FROM persons p
    LEFT JOIN filed f ON f.person_id = p.person_id
    LEFT JOIN person_numbers n ON n.person_id = p.person_id
    LEFT JOIN integrated_numbers g ON g.person_id = p.person_id),
addr AS (                  -- U1: an address is anchored by a covered filer who notified a number
    SELECT address, bool_or(covered AND has_number) AS anchored,
           coalesce(min(procedure_id) FILTER (WHERE covered AND has_number), min(procedure_id)) AS procedure_id
    FROM everyone WHERE filer GROUP BY address)
SELECT e.person_id,
       CASE WHEN e.filer THEN e.procedure_id ELSE a.procedure_id END AS procedure_id,
       CASE WHEN e.filer THEN e.consent ELSE FALSE END AS consent,
       CASE WHEN e.filer THEN 'filed' ELSE 'household' END AS basis,
       CASE WHEN e.filer THEN TRUE ELSE a.anchored END AS anchored,
       e.covered, e.has_number, e.integrated_number IS NOT NULL AS has_integrated, e.integrated_number
FROM everyone e
LEFT JOIN addr a ON a.address = e.address   -- (its columns are read for the others only)
WHERE e.filer OR a.address IS NOT NULL
"""

_OUTSTANDING = """
-- asked already for this procedure and year, answer still awaited (a join below, not a correlated
-- EXISTS per candidate: that took 10 s over the 6,000,000 candidates of a 1,000,000-person office)
CREATE OR REPLACE TEMP TABLE _qout AS
SELECT DISTINCT person_id, information FROM query_requests
WHERE procedure_code = $procedure AND fiscal_year = $year AND status IN ('created', 'sent')
"""

#: Every candidate (person × information) with its exclusion reason (NULL = included).  A view over the
#: per-person table ``_qper`` (1 row a person) and ``_qinfo`` (1 row an information kind): the product
#: (6,000,000 rows for P1 at 1,000,000 people) is counted and written as it streams, never stored.
_CANDIDATES = """
CREATE OR REPLACE TEMP VIEW _qsel AS
SELECT u.person_id, i.information, i.info_code, i.period, u.procedure_id, u.basis, u.integrated_number,
    CASE
        WHEN NOT u.covered THEN 'not_covered'
        WHEN NOT i.permitted THEN 'not_permitted'
        WHEN u.basis = 'household' AND i.kind = 'business' THEN 'not_filed'
        WHEN u.basis = 'household' AND NOT u.anchored THEN 'household_no_number'
        WHEN NOT u.has_number THEN 'no_number'
        WHEN i.kind = 'business' AND NOT u.consent THEN 'no_consent'
        WHEN i.need_integrated AND NOT u.has_integrated THEN 'no_integrated_number'
        WHEN o.person_id IS NOT NULL THEN 'outstanding'
    END AS reason
FROM _qper u CROSS JOIN _qinfo i
LEFT JOIN _qout o ON o.person_id = u.person_id AND o.information = i.information
"""


def _select(unit: Unit, rules: QueryRules, kind: Kind, procedure: str, year: int, infos: list[str],
            filed: tuple[str | None, str | None] = (None, None)) -> None:
    """Build ``_qsel``: every candidate (person, information) with its exclusion reason (NULL = included)."""
    con = unit.con
    con.register("_qinfo_df", _info_table(rules, kind, procedure, infos))
    con.execute("CREATE OR REPLACE TEMP TABLE _qinfo AS SELECT information::VARCHAR AS information, kind::VARCHAR AS kind,"
                " permitted::BOOLEAN AS permitted, info_code::VARCHAR AS info_code, period::VARCHAR AS period,"
                " $need_integrated AS need_integrated FROM _qinfo_df", {"need_integrated": kind == "info"})
    con.unregister("_qinfo_df")
    con.execute(_SELECT, {"procedure": procedure, "year": year, "filed_from": filed[0], "filed_to": filed[1]})
    con.execute(_OUTSTANDING, {"procedure": procedure, "year": year})
    con.execute(_CANDIDATES)


def _drop(unit: Unit) -> None:
    unit.con.execute("DROP VIEW IF EXISTS _qsel")
    for table in ("_qper", "_qout", "_qinfo", "_qinc"):
        unit.con.execute(f"DROP TABLE IF EXISTS {table}")
    unit.con.unregister("_qreq")  # the numbered requests (an Arrow table), if a batch was written


#: A selected query, as the approval's digest names it (``outgoing.digest_sql`` of this row).
_DIGEST_ROW = "information || ':' || person_id || ':' || procedure_id || ':' || basis"


def _preview(unit: Unit, kind: Kind, procedure: str, year: int, infos: list[str], records_per_file: int,
             *, keep: bool) -> BatchPreview:
    con = unit.con
    # The counts by information × outcome × basis with the included rows' digest (its per-group XORs
    # combined here exactly as ``outgoing.digest_sql`` combines them) in one pass over the candidates.
    # When the writer follows (``keep``), the included rows are kept too (``_qinc``, what it numbers and
    # sends, with the integrated number: the candidates are not evaluated a third time, nor
    # ``integrated_numbers`` joined again); a preview, a request or a recheck only counts their people
    # (storing 2,100,000 rows of seven columns took 2.3 of a 1,000,000-person P1 preview's 6.3 CPU s).
    grouped = con.execute(
        "SELECT information, coalesce(reason, 'included') AS outcome, basis, count(*),"
        f" bit_xor(CASE WHEN reason IS NULL THEN md5_number(({_DIGEST_ROW})::VARCHAR) END)::VARCHAR"
        " FROM _qsel GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    merged: dict[tuple[str, str], int] = {}
    basis: dict[str, int] = {}
    total, xor = 0, 0
    for info, outcome, how, n, part in grouped:
        merged[(info, outcome)] = merged.get((info, outcome), 0) + int(n)
        if outcome == "included":
            basis[str(how)] = basis.get(str(how), 0) + int(n)
            total += int(n)
            xor ^= int(part)
    digest = hashlib.sha256(f"{total}:{xor if total else ''}".encode()).hexdigest()
    counts = sorted((info, outcome, n) for (info, outcome), n in merged.items())
    if keep:
        con.execute("CREATE OR REPLACE TEMP TABLE _qinc AS SELECT person_id, information, info_code, period,"
                    " procedure_id, basis, integrated_number FROM _qsel WHERE reason IS NULL")
    # (person, information) pairs are distinct: with one information kind there are as many people as pairs.
    persons = total if len(infos) == 1 else int(con.execute(  # type: ignore[index]
        "SELECT count(DISTINCT person_id) FROM _qinc" if keep
        else "SELECT count(DISTINCT person_id) FROM _qsel WHERE reason IS NULL").fetchone()[0])
    basis = dict(sorted(basis.items()))
    by_info: dict[str, dict[str, int]] = {k: {} for k in infos}
    excluded: dict[str, int] = {}
    rows = []
    for info, outcome, n in counts:
        by_info.setdefault(info, {})[outcome] = int(n)
        if outcome != "included":
            excluded[outcome] = excluded.get(outcome, 0) + int(n)
        rows.append({"procedure": procedure, "information": info, "outcome": outcome, "count": int(n),
                     "label_ja": labels.ja(outcome, "exclusion"), "label_en": labels.en(outcome, "exclusion")})
    order = list(EXCLUSIONS)
    excluded = {k: excluded[k] for k in order if k in excluded}
    return BatchPreview(
        kind=kind, procedure=procedure, fiscal_year=year, information=infos, records_per_file=records_per_file,
        total=int(total), persons=int(persons), files=-(-int(total) // records_per_file), rows=rows,
        by_information=by_info, excluded=excluded, included_by_basis={str(k): int(v) for k, v in basis.items()},
        reasons={k: {"ja": EXCLUSIONS[k][0], "en": EXCLUSIONS[k][1]} for k in excluded}, selection_digest=str(digest),
    )


def _note(unit: Unit, p: BatchPreview) -> None:
    unit.note(kind=p.kind, procedure=p.procedure, fiscal_year=p.fiscal_year, information=p.information,
              count=p.total, persons=p.persons, files=p.files, excluded=p.excluded)


def _parameters(kind: Kind) -> Callable[..., BatchParams]:
    def parameters(*, procedure: str, fiscal_year: int, information: Iterable[str] | str | None = None,
                   records_per_file: int = RECORDS_PER_FILE, filed_from: dt.date | str | None = None,
                   filed_to: dt.date | str | None = None) -> BatchParams:
        _rules, code, year, infos = _params(kind, procedure, fiscal_year, information, records_per_file)
        return BatchParams(kind, code, year, infos, records_per_file, *_filed_range(filed_from, filed_to))
    return parameters


def _select_batch(unit: Unit, p: BatchParams, *, keep: bool = False) -> BatchPreview:
    """Build ``_qsel`` and count it; with ``keep`` (the create step) keep the included rows for the writer
    (``_qinc``; released by the outgoing flow)."""
    kind: Kind = "info" if p.kind == "info" else "juki"
    _select(unit, load_rules(), kind, p.procedure, p.fiscal_year, p.information, (p.filed_from, p.filed_to))
    preview = _preview(unit, kind, p.procedure, p.fiscal_year, p.information, p.records_per_file, keep=keep)
    preview.filed_from, preview.filed_to = p.filed_from, p.filed_to
    _note(unit, preview)
    return preview


# ------------------------------------------------------------------------------ creation
def _insert_requests(unit: Unit, kind: Kind, batch_id: str, preview: BatchPreview) -> pa.Table:
    """C10: one row per query, request ID = batch ID + 7-digit sequence (unique by primary key).

    The included queries (``_qinc``) are read once, sorted by information and person, and numbered in
    Arrow (no window and no second sort); the same table is inserted (registered as ``_qreq``, inserted
    ``sent``: one write, not an insert then an update of every row) and, for F2, written to the files
    with the integrated number and the query period joined in that one read."""
    if kind == "info":
        y = preview.fiscal_year
        today = unit.now.astimezone(JST).strftime("%Y%m%d")
        fc = load_rules().file_codes
        read = unit.con.execute(
            """SELECT i.person_id, i.procedure_id, i.information, i.info_code, i.basis,
                      i.integrated_number AS integrated_no,
                      CASE WHEN i.period = 'fiscal_year' THEN $cy ELSE $ca END AS condition_code,
                      CASE WHEN i.period = 'fiscal_year' THEN $yy ELSE $ya END AS year_code,
                      CASE WHEN i.period = 'fiscal_year' THEN $start ELSE $today END AS start_date,
                      CASE WHEN i.period = 'fiscal_year' THEN $end ELSE $today END AS end_date
               FROM _qinc i ORDER BY i.information, i.person_id""",
            {"cy": fc.condition_code["fiscal_year"], "ca": fc.condition_code["as_of"], "yy": fc.year_code["fiscal_year"],
             "ya": fc.year_code["as_of"], "start": f"{y}0401", "end": f"{y + 1}0331", "today": today})
    else:
        read = unit.con.execute("SELECT person_id, procedure_id, information, info_code, basis FROM _qinc"
                                " ORDER BY information, person_id")
    table = read.to_arrow_table()
    if table.num_rows != preview.total:  # pragma: no cover - the same transaction counted them
        raise RuntimeError("the query selection changed within its transaction")
    rn = pa.array(np.arange(1, table.num_rows + 1, dtype=np.int64))
    request_ids = pc.binary_join_element_wise(f"{batch_id}-", pc.utf8_lpad(pc.cast(rn, pa.string()), 7, "0"), "")
    table = table.append_column("rn", rn).append_column("request_id", request_ids)
    unit.con.register("_qreq", table)
    unit.con.execute(
        """INSERT INTO query_requests (request_id, batch_id, kind, person_id, procedure_id, procedure_code, fiscal_year,
                                       information, info_code, basis, file_no, record_no, status, requested_at, status_at)
           SELECT request_id, $batch, $kind, person_id, procedure_id, $procedure, $year,
                  information, info_code, basis, ((rn - 1) // $rpf + 1)::INTEGER, ((rn - 1) % $rpf + 1)::INTEGER,
                  'sent', $now, $now
           FROM _qreq""",
        {"batch": batch_id, "kind": kind, "procedure": preview.procedure, "year": preview.fiscal_year,
         "rpf": preview.records_per_file, "now": unit.now},
    )
    return table


def _info_members(unit: Unit, batch_id: str, preview: BatchPreview, table: pa.Table) -> Iterator[tuple[str, bytes]]:
    """F2 request files (DESIGN §7 fixed width), one member per ``records_per_file`` records; the fields that
    are the same on every record are checked and padded once."""
    rules = load_rules()
    fc = rules.file_codes
    proc = rules.procedures[preview.procedure]
    constants = {
        "number_system": fc.number_system, "requested_at": unit.now.astimezone(JST).strftime("%Y%m%d%H%M%S"),
        "department_code": fc.department_code, "user_id": unit.user_id, "agency_code": fc.agency_code,
        "nondisclosure_code": fc.nondisclosure_code, "jimu_code": proc.jimu_code, "procedure_code": proc.procedure_code,
        "delegator_agency_code": fc.delegator_agency_code, "delegator_jimu_code": fc.delegator_jimu_code,
        "moved_from_code": fc.moved_from_code,
    }
    fields = table.select(["request_id", "person_id", "integrated_no", "info_code", "condition_code", "year_code",
                           "start_date", "end_date"]).rename_columns(
        ["request_id", "atena_no", "integrated_no", "info_code", "condition_code", "year_code", "start_date", "end_date"])
    for n, (start, stop) in enumerate(split_records(fields.num_rows, preview.records_per_file), start=1):
        yield f"{batch_id}_{n:03d}.txt", write_fixed(fields.slice(start, stop - start), REQUEST_LAYOUT,
                                                     constants=constants)


def _juki_members(unit: Unit, batch_id: str, preview: BatchPreview) -> Iterator[tuple[str, bytes]]:
    """F3 request files: the Individual Number is decrypted in batch here, one member at a time."""
    rows = unit.con.execute(
        """SELECT r.request_id, r.person_id, n.number_ct, n.key_version FROM _qreq r
           JOIN person_numbers n USING (person_id) ORDER BY r.rn""",
    ).df()
    on = unit.now.astimezone(JST).date().isoformat()
    for n, (start, stop) in enumerate(split_records(len(rows), preview.records_per_file), start=1):
        part = rows.iloc[start:stop]
        ids = part["person_id"].astype(str).to_numpy(dtype=object)
        cts = part["number_ct"].to_numpy()
        versions = part["key_version"].to_numpy()
        numbers = np.empty(len(part), dtype=object)
        for version in np.unique(versions):
            sel = np.flatnonzero(versions == version)
            numbers[sel] = unit.workspace.number_cipher(int(version)).decrypt_many(
                [bytes(c) for c in cts[sel]], ids[sel].tolist(), table="person_numbers", column="number_ct")
        frame = pd.DataFrame({"request_id": part["request_id"].to_numpy(dtype=object), "individual_number": numbers,
                              "requested_on": on})
        body = write_table(frame, "juki_request", encoding="utf-8")
        del numbers, frame
        yield f"{batch_id}_{n:03d}.csv", body


def _select_to_write(unit: Unit, p: BatchParams) -> BatchPreview:
    return _select_batch(unit, p, keep=True)


def _write(unit: Unit, p: BatchParams, preview: BatchPreview, approval_id: str) -> ExportResult:
    """Request IDs (C10), the files, ONE package for the recipient (C9), and the batch record."""
    kind: Kind = "info" if p.kind == "info" else "juki"
    batch_id = ("QB" if kind == "info" else "JB") + unit.now.astimezone(JST).strftime("%Y%m%d") + uuid.uuid4().hex[:6].upper()
    table = _insert_requests(unit, kind, batch_id, preview)
    members = (_info_members(unit, batch_id, preview, table) if kind == "info"
               else _juki_members(unit, batch_id, preview))
    entry, path = media.write_outgoing(
        unit, kind=PACKAGE_KINDS[kind], recipient=RECIPIENTS[kind], members=members, record_count=preview.total,
        approval_id=approval_id,
    )
    # The requests were written 'sent' (one write, not an insert then an update of every row): the package,
    # its ledger entry and the requests commit together or not at all.
    unit.con.execute(
        "INSERT INTO query_batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'sent', ?, ?, NULL)",
        [batch_id, kind, p.procedure, p.fiscal_year, json.dumps(p.information), approval_id, preview.selection_digest,
         preview.total, preview.files, p.records_per_file, json.dumps(preview.excluded), entry.entry_id,
         entry.package_id, unit.now, unit.user_id],
    )
    unit.note(target=batch_id, batch_id=batch_id, requests=preview.total)
    return ExportResult(entry, path, preview.total, approval_id,
                        {"batch_id": batch_id, "files": preview.files, "persons": preview.persons,
                         "excluded": preview.excluded, "kind": kind})


_NOTHING_EN = "No query in this selection satisfies the rules (U1-U3); there is nothing to send. See the preview for why."
_NOTHING_JA = "この条件では照会ルール（U1〜U3）を満たす照会がなく、送付するものがありません。理由はプレビューで確認してください。"

#: F2 and F3 as outgoing files (workbench.files.outgoing).
INFO_SPEC: OutgoingFileSpec[BatchParams, BatchPreview] = OutgoingFileSpec(
    kind=APPROVAL_KINDS["info"], package_kind=PACKAGE_KINDS["info"], recipient=RECIPIENTS["info"],
    permission=Permission.BATCHES_CREATE, label_ja="情報照会ファイルの作成", label_en="information query file (F2)",
    file_ja="情報照会ファイル", file_en="information query file",
    parameters=_parameters("info"), select=_select_batch, write=_write, records=("query_requests", "query_batches"),
    release=_drop, nothing_en=_NOTHING_EN, nothing_ja=_NOTHING_JA, restore=lambda d: BatchParams(**d),
    select_to_write=_select_to_write,
)
JUKI_SPEC: OutgoingFileSpec[BatchParams, BatchPreview] = OutgoingFileSpec(
    kind=APPROVAL_KINDS["juki"], package_kind=PACKAGE_KINDS["juki"], recipient=RECIPIENTS["juki"],
    permission=Permission.BATCHES_CREATE, label_ja="住基ネット照会ファイルの作成", label_en="Juki-net query file (F3)",
    file_ja="住基ネット照会ファイル", file_en="Juki-net query file",
    parameters=_parameters("juki"), select=_select_batch, write=_write, records=("query_requests", "query_batches"),
    release=_drop, holds_numbers=True, nothing_en=_NOTHING_EN, nothing_ja=_NOTHING_JA, restore=lambda d: BatchParams(**d),
    select_to_write=_select_to_write,
)
SPECS: dict[str, OutgoingFileSpec[BatchParams, BatchPreview]] = {"info": INFO_SPEC, "juki": JUKI_SPEC}

_info = outgoing.register(INFO_SPEC, preview="batches.preview_info_batch", request="batches.request_info_batch",
                          create="batches.create_info_batch")
_juki = outgoing.register(JUKI_SPEC, preview="batches.preview_juki_batch", request="batches.request_juki_batch",
                          create="batches.create_juki_batch")

#: F2 step 1: counts by procedure × information × exclusion reason (U1–U3); nothing written.
preview_info_batch = _info.preview
#: F2 step 2: ask a second person to approve exactly this batch (parameters and selection digest).
request_info_batch = _info.request
#: F2 step 3: request IDs (C10), fixed-width files, one ``info_query`` package for the linkage server (C9).
create_info_batch = _info.create
#: F3 step 1: who would be confirmed on Juki-net (U1, U3), counts and exclusion reasons.
preview_juki_batch = _juki.preview
#: F3 step 2: ask a second person to approve exactly this Juki-net batch.
request_juki_batch = _juki.request
#: F3 step 3: request IDs (C10) and one ``juki_query`` package for Juki-net with the numbers (C9).
create_juki_batch = _juki.create


# ------------------------------------------------------------------------------ the batches made
@dataclass(frozen=True)
class BatchInfo:
    """One query batch made (照会ファイル): what, how many, its state, who made it and when, under which approval."""

    batch_id: str
    kind: str
    procedure: str
    fiscal_year: int
    request_count: int
    file_count: int
    status: str
    created_at: Any
    created_by: str
    approval_id: str
    closed_at: Any


#: The query batches made, as a list paging in the database.
BATCH_LIST = ListSpec(
    "照会ファイルの一覧", "batch list", "query_batches",
    sorts={"created_at": SortKey("created_at", "作成日時", "made"), "batch_id": SortKey("batch_id", "照会番号", "batch"),
           "procedure": SortKey("procedure_code", "手続", "procedure"), "fiscal_year": SortKey("fiscal_year", "年度", "year"),
           "request_count": SortKey("request_count", "件数", "requests"), "status": SortKey("status", "状態", "state")},
    default_sort="created_at", tiebreak="batch_id", search=("batch_id", "procedure_code", "created_by", "approval_id"),
    filters={"kind": ("kind", {"info": 1, "juki": 1}), "status": ("status", {"sent": 1, "closed": 1})},
    groups={"status": "status", "kind": "kind"},
)


@service(Permission.BATCHES_CREATE)
def batch_page(unit: Unit, request: PageRequest) -> Page[BatchInfo]:
    """One page of the query batches made, sorted and filtered in the database (counts of every match)."""
    page = fetch_page(unit, BATCH_LIST, request, "batch_id, kind, procedure_code, fiscal_year, request_count, file_count,"
                      " status, created_at, created_by, approval_id, closed_at")
    return page.map(lambda r: BatchInfo(*r))
