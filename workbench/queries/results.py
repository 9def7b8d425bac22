"""F4/F5 result import (情報照会結果・住基ネット照会結果の取込, 別添1 ⑫–⑭, ⑰) and C11 expiry/retention.

:func:`import_info_results` (F4) reads an ``info_answer`` package from the linkage server,
:func:`import_juki_results` (F5) a ``juki_answer`` package from Juki-net.  Both are incoming files
(:mod:`workbench.files.incoming`: key of the sender, kind, workspace, an empty package refused the
same way for every kind, every refusal audited; the package is recorded in the media ledger, C9),
with a preview (:func:`preview_info_results`, :func:`preview_juki_results`) of what would change; then:

1. **Whole-package check** (DESIGN §7): every member is parsed (fixed width for F4,
   :data:`workbench.files.query_files.ANSWER_LAYOUT`; CSV ``juki_answer`` for F5) and every value
   checked.  A record of the wrong length, a file cut short, an unknown status code or a
   value of the wrong shape refuses the **whole** package with file name and line numbers
   (``InvalidInput``, reason ``invalid_answers``): nothing is half-imported.
2. **Matching by request ID** (C10, III-2 リスク3 「識別子を回答データに付記して返却」):
   each answer line is classified in one set-based query (first rule wins):

   ``unknown_request``
       no request of this kind has that ID (an orphan);
   ``wrong_person``
       F4 only: the echoed 宛名番号 or 統合宛名番号 is not the requested person's
       (Juki-net echoes nothing but the request ID; a wrong person there shows up as a
       sex / birth-date discrepancy, C7);
   ``wrong_information``
       F4 only: the 特定個人情報名コード is not the one asked;
   ``conflicting_duplicate``
       the request is answered more than once with different contents: none is stored,
       the request stays open (a later package may answer it);
   ``duplicate``
       an identical repeat: counted once, not a problem;
   ``not_open``
       the request was already answered, expired (C11) or its batch is closed;
   ``ok``
       stored.

3. Accepted answers are stored (``info_results`` / ``juki_results``, encrypted database
   only) and their requests leave ``sent``: ``answered`` (F4 status 00/10, F5 00/10) or
   ``error`` (F4 20/30/90, F5 90), with the result code.  A batch with no request left
   ``sent`` is **closed** (``closed_at`` starts the C11 retention clock).  Answers that come
   late in a second package are accepted while their request is still open.
4. Differences from what is held are detected (C7, :mod:`workbench.queries.discrepancies`).

Importing the same package again (same package ID) changes nothing and says so.

C11 (III-6 リスク4 「完了又は中断した情報照会結果については、一定期間経過後に…自動で削除」):
:func:`expire_requests` marks requests unanswered after :data:`ANSWER_DEADLINE_DAYS` as
``expired`` (and closes their batches); :func:`purge_results` deletes the results of
batches closed more than ``Settings.result_retention_days`` ago and records the deletion
(counts, batch IDs, date, method) in ``result_deletions`` (C8).  DuckDB's DELETE does not
erase the bytes (DESIGN §3): the log says a file rebuild is needed, which
``workbench keys rotate`` does (``COPY FROM DATABASE`` under a fresh key).

The audit record holds counts and batch IDs only, never a person or a value.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.core import labels
from workbench.core.errors import InvalidInput, NotFound
from workbench.core.permissions import Permission
from workbench.core.policy import POLICY
from workbench.core.workspace import Unit, service
from workbench.files import incoming
from workbench.files.formats import get_layout, read_table
from workbench.files.query_files import ANSWER_LAYOUT, ANSWER_STATUS, CERTIFICATE_TYPES, read_fixed_arrow
from workbench.queries import discrepancies

__all__ = [
    "ANSWER_DEADLINE_DAYS",
    "JUKI_CODES",
    "MALFORMED",
    "PROBLEMS",
    "ExpirySummary",
    "PurgeSummary",
    "ResultImportSummary",
    "expire_requests",
    "import_info_results",
    "import_juki_results",
    "preview_info_results",
    "preview_juki_results",
    "purge_expired_results",
    "purge_results",
    "request_status",
]

Kind = Literal["info", "juki"]

#: C11: a request still unanswered this many days after it was sent is expired (default).
ANSWER_DEADLINE_DAYS = 30

#: Juki-net result codes (``juki_answer``) → request status.
JUKI_CODES: dict[str, str] = {"00": "answered", "10": "answered", "90": "error"}
#: Linkage-server status codes → request status (query_files.ANSWER_STATUS).
INFO_CODES: dict[str, str] = {k: ("answered" if k in ("00", "10") else "error") for k in ANSWER_STATUS}

PACKAGE_KINDS: dict[str, str] = {"info": "info_answer", "juki": "juki_answer"}
SENDERS: dict[str, str] = {"info": "linkage_server", "juki": "juki_net"}
labels.register("package", {"info_answer": ("情報照会の回答", "information query answers"),
                            "juki_answer": ("住基ネット照会の回答", "Juki-net answers")})

#: Answer lines that are read but not stored → (Japanese, English).
PROBLEMS: dict[str, tuple[str, str]] = {
    "unknown_request": ("照会依頼番号に該当する照会がありません（孤立した回答）", "no query has this request ID (orphan answer)"),
    "wrong_person": ("回答の宛名番号・統合宛名番号が照会した本人と一致しません",
                     "the person echoed in the answer is not the person asked about"),
    "wrong_information": ("回答の特定個人情報名コードが照会した情報と一致しません",
                          "the information code of the answer is not the one asked"),
    "conflicting_duplicate": ("同じ照会に内容の異なる回答が複数あります（いずれも取り込みません）",
                              "the same query is answered more than once with different contents (none stored)"),
    "not_open": ("照会はすでに回答済み・期限切れ・終了済みです", "the query is already answered, expired or closed"),
}

#: Why a package is refused as malformed (value checks) → (Japanese, English).
MALFORMED: dict[str, tuple[str, str]] = {
    "bad_request_id": ("照会依頼番号が空か形式が誤っています", "the request ID is empty or malformed"),
    "bad_status": ("処理結果コードが不明です", "the status / result code is unknown"),
    "bad_answered_at": ("回答日時が日時として正しくありません", "the answer time is not a valid date and time"),
    "bad_value": ("回答項目の値の形式が誤っています（数字・コード・日付）",
                  "an answer value has the wrong shape (digits, code, date)"),
    "missing_value": ("該当ありの回答に必須の項目が空です", "a value required in a found answer is empty"),
}
labels.register("answer_problem", {**PROBLEMS, **MALFORMED})

#: Every outcome of an answer line (what a preview counts) → (Japanese, English).
OUTCOMES: dict[str, tuple[str, str]] = {
    "ok": ("取り込む回答", "stored"), "duplicate": ("同一内容の重複（1 件として扱う）", "identical repeat (counted once)"),
    **PROBLEMS,
}

MAX_LISTED = POLICY.max_listed_problems  # office policy, workbench/data/policy.json


# ------------------------------------------------------------------------------ summaries
@dataclass
class ResultImportSummary:
    """What a result import did (F4/F5).  Counts, file names, line numbers and batch IDs only."""

    kind: str
    package_id: str
    rows: int
    import_id: str | None = None
    stored: int = 0
    answered: int = 0
    errors: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    duplicates_identical: int = 0
    unknown_request: int = 0
    wrong_person: int = 0
    wrong_information: int = 0
    conflicting_duplicate: int = 0
    not_open: int = 0
    #: Requests of the batches this package answers that are still waiting.
    unanswered: int = 0
    batches: list[str] = field(default_factory=list)
    batches_closed: list[str] = field(default_factory=list)
    discrepancies: dict[str, int] = field(default_factory=dict)
    already_imported: bool = False
    already_imported_at: str | None = None
    problems: list[dict[str, Any]] = field(default_factory=list)
    message_ja: str = ""
    message_en: str = ""

    def counts(self) -> dict[str, int]:
        keys = ("rows", "stored", "answered", "errors", "duplicates_identical", "unknown_request", "wrong_person",
                "wrong_information", "conflicting_duplicate", "not_open", "unanswered")
        return {k: int(getattr(self, k)) for k in keys}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ExpirySummary:
    """C11: requests expired, by batch, and batches closed."""

    older_than_days: int
    expired: int
    by_batch: dict[str, int]
    batches_closed: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PurgeSummary:
    """C11/C8: results deleted after the retention period, as recorded in ``result_deletions``."""

    deletion_id: str | None
    retention_days: int
    batch_ids: list[str]
    counts: dict[str, int]
    rebuild_needed: bool
    method: str
    message_ja: str
    message_en: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------------------ parsing
def _member_error(exc: InvalidInput, member: str) -> InvalidInput:
    return InvalidInput(
        f"The answer package was not imported: file {member}: {exc.message_en} Nothing was changed.",
        f"回答パッケージを取り込みませんでした: ファイル {member}: {exc.message_ja} 何も変更していません。",
        **{**exc.details, "member": member},
    )


def _parse_info(members: dict[str, bytes]) -> pa.Table:
    """Every member's records as one Arrow table of text columns (with member and line): no Python string
    per value on the way to the database."""
    tables = []
    for member, body in members.items():
        try:
            table, lines = read_fixed_arrow(body, ANSWER_LAYOUT)
        except InvalidInput as exc:
            raise _member_error(exc, member) from None
        tables.append(table.append_column("member", pa.array(np.full(len(lines), member, dtype=object), pa.string()))
                      .append_column("line", pa.array(lines)))
    if not tables:
        return pa.table({n: pa.array([], pa.string()) for n in [*ANSWER_LAYOUT.names, "member"]}
                        | {"line": pa.array([], pa.int64())})
    return pa.concat_tables([t.cast(tables[0].schema) for t in tables]).combine_chunks()


def _parse_juki(members: dict[str, bytes]) -> pd.DataFrame:
    frames = []
    for member, body in members.items():
        try:
            table = read_table(body, "juki_answer")
        except InvalidInput as exc:
            raise _member_error(exc, member) from None
        f = table.frame
        out = pd.DataFrame({c: f[c].astype("str").str.strip().to_numpy(dtype=object) for c in f.columns})
        frames.append(out.assign(member=member, line=table.lines))
    if not frames:
        return pd.DataFrame(columns=[*get_layout("juki_answer").names, "member", "line"], dtype=object)
    return pd.concat(frames, ignore_index=True)


def _digits(s: pd.Series, pattern: str) -> np.ndarray:
    """True where the value is blank or fully matches ``pattern``."""
    ok: np.ndarray = ((s == "") | s.str.fullmatch(pattern).fillna(False)).to_numpy(dtype=bool)
    return ok


def _valid_date(s: pd.Series, fmt: str) -> np.ndarray:
    parsed = pd.to_datetime(s.where(s != "", None), format=fmt, errors="coerce")
    ok: np.ndarray = (s == "").to_numpy(dtype=bool) | parsed.notna().to_numpy(dtype=bool)
    return ok


def _full(col: pa.ChunkedArray, pattern: str) -> np.ndarray:
    ok: np.ndarray = np.asarray(pc.match_substring_regex(col, f"^(?:{pattern})$").to_numpy(zero_copy_only=False), bool)
    return ok


def _blank_or(col: pa.ChunkedArray, pattern: str) -> np.ndarray:
    ok: np.ndarray = np.asarray(pc.equal(col, "").to_numpy(zero_copy_only=False), bool) | _full(col, pattern)
    return ok


def _exact_date(col: pa.ChunkedArray, fmt: str) -> np.ndarray:
    """True where the value is a calendar date-time in ``fmt`` exactly (Arrow's parser rolls 30 February
    over into March: the parsed value must print back as the text)."""
    parsed = pc.strptime(col, format=fmt, unit="s", error_is_null=True)
    back = pc.fill_null(pc.equal(pc.strftime(parsed, format=fmt), col), False)
    ok: np.ndarray = np.asarray(back.to_numpy(zero_copy_only=False), bool)
    return ok


def _in(col: pa.ChunkedArray, values: list[str]) -> np.ndarray:
    return np.asarray(pc.is_in(col, value_set=pa.array(values, pa.string())).to_numpy(zero_copy_only=False), bool)


def _check_info_arrow(t: pa.Table) -> list[tuple[np.ndarray, str]]:
    """:func:`_check_info` in Arrow compute over the whole package.  Stricter where it is quick to be (a date
    must be 8 or 14 digits from the year 1000 on that print back the same): a line it flags is checked again by
    :func:`_check_info`, whose verdict stands, so the refusals are exactly the same."""
    c = t.column
    resident = c("resident_since")
    value_ok = (_blank_or(c("tax_year"), r"\d{4}") & _blank_or(c("taxable_income"), r"\d{1,12}")
                & _in(c("tax_status"), ["", "1", "2"]) & _in(c("assistance"), ["", "0", "1"])
                & _in(c("certificate_type"), ["", *CERTIFICATE_TYPES]) & _blank_or(c("certificate_grade"), r"\d{1,2}")
                & _blank_or(c("household_size"), r"\d{1,2}")
                & (np.asarray(pc.equal(resident, "").to_numpy(zero_copy_only=False), bool)
                   | (_full(resident, r"[1-9]\d{7}") & _exact_date(resident, "%Y%m%d"))))
    answered = c("answered_at")
    issues = [
        (~_full(c("request_id"), r"[0-9A-Z\-]{1,24}"), "bad_request_id"),
        (~_in(c("status"), list(ANSWER_STATUS)), "bad_status"),
        (~(_full(answered, r"[1-9]\d{13}") & _exact_date(answered, "%Y%m%d%H%M%S")), "bad_answered_at"),
        (~value_ok, "bad_value"),
    ]
    flagged = np.zeros(t.num_rows, dtype=bool)
    for mask, _ in issues:
        flagged |= mask
    if not flagged.any():
        return []
    rows = np.flatnonzero(flagged)
    some = t.take(pa.array(rows))
    again = _check_info(pd.DataFrame({n: some.column(n).to_numpy() for n in some.column_names}))
    out = []
    for mask, reason in again:
        full = np.zeros(t.num_rows, dtype=bool)
        full[rows[mask]] = True
        out.append((full, reason))
    return out


def _check_info(f: pd.DataFrame) -> list[tuple[np.ndarray, str]]:
    ok_status = f["status"].isin(list(ANSWER_STATUS)).to_numpy(dtype=bool)
    value_ok = (_digits(f["tax_year"], r"\d{4}") & _digits(f["taxable_income"], r"\d{1,12}")
                & f["tax_status"].isin(["", "1", "2"]).to_numpy(dtype=bool)
                & f["assistance"].isin(["", "0", "1"]).to_numpy(dtype=bool)
                & f["certificate_type"].isin(["", *CERTIFICATE_TYPES]).to_numpy(dtype=bool)
                & _digits(f["certificate_grade"], r"\d{1,2}") & _digits(f["household_size"], r"\d{1,2}")
                & _valid_date(f["resident_since"], "%Y%m%d"))
    answered = f["answered_at"]
    return [
        (~f["request_id"].str.fullmatch(r"[0-9A-Z\-]{1,24}").fillna(False).to_numpy(dtype=bool), "bad_request_id"),
        (~ok_status, "bad_status"),
        (~(answered.str.fullmatch(r"\d{14}").fillna(False).to_numpy(dtype=bool) & _valid_date(answered, "%Y%m%d%H%M%S")),
         "bad_answered_at"),
        (~value_ok, "bad_value"),
    ]


def _check_juki(f: pd.DataFrame) -> list[tuple[np.ndarray, str]]:
    found = (f["result_code"] == "00").to_numpy(dtype=bool)
    empty = np.zeros(len(f), dtype=bool)
    for col in ("name", "kana", "sex", "birth_date", "address", "deceased"):
        empty |= (f[col] == "").to_numpy(dtype=bool)
    value_ok = (f["sex"].isin(["", "1", "2", "9"]).to_numpy(dtype=bool)
                & f["deceased"].isin(["", "0", "1"]).to_numpy(dtype=bool)
                & _digits(f["birth_date"], r"\d{4}-\d{2}-\d{2}") & _valid_date(f["birth_date"], "%Y-%m-%d"))
    return [
        (~f["request_id"].str.fullmatch(r"[0-9A-Z\-]{1,24}").fillna(False).to_numpy(dtype=bool), "bad_request_id"),
        (~f["result_code"].isin(list(JUKI_CODES)).to_numpy(dtype=bool), "bad_status"),
        (found & empty, "missing_value"),
        (~value_ok, "bad_value"),
    ]


def _refuse_malformed(f: pd.DataFrame | pa.Table, issues: list[tuple[np.ndarray, str]]) -> None:
    if not any(m.any() for m, _ in issues):
        return
    member = np.asarray(f["member"].to_numpy(), dtype=object) if isinstance(f, pd.DataFrame) \
        else f.column("member").to_numpy()
    line = np.asarray(f["line"].to_numpy()) if isinstance(f, pd.DataFrame) else f.column("line").to_numpy()
    parts = [pd.DataFrame({"member": member[m], "line": line[m], "reason": r}) for m, r in issues if m.any()]
    frame = pd.concat(parts, ignore_index=True).sort_values(["member", "line", "reason"], kind="stable", ignore_index=True)
    counts = {str(k): int(v) for k, v in frame["reason"].value_counts().sort_index().items()}
    shown = frame.head(MAX_LISTED)
    errors = [{"member": m, "line": int(ln), "reason": r, "message_ja": MALFORMED[r][0], "message_en": MALFORMED[r][1]}
              for m, ln, r in zip(shown["member"], shown["line"], shown["reason"], strict=True)]
    first = errors[0]
    bad = int(frame[["member", "line"]].drop_duplicates().shape[0])
    by_reason = ", ".join(f"{k}: {v}" for k, v in counts.items())
    raise InvalidInput(
        f"The answer package was not imported: {bad} line(s) are malformed ({by_reason}). First: file {first['member']} "
        f"line {first['line']}, {first['message_en']}. Nothing was changed.",
        f"回答パッケージを取り込みませんでした: {bad:,} 行の形式が誤っています（{by_reason}）。最初の誤り: ファイル "
        f"{first['member']} の {first['line']} 行目 {first['message_ja']}。何も変更していません。",
        reason="invalid_answers", line=first["line"], invalid_lines=bad, counts=counts, errors=errors,
    )


# ------------------------------------------------------------------------------ staging
_INFO_STAGE = """
SELECT member::VARCHAR AS member, line::BIGINT AS line, request_id::VARCHAR AS request_id,
       atena_no::VARCHAR AS atena_no, integrated_no::VARCHAR AS integrated_no, info_code::VARCHAR AS info_code,
       status::VARCHAR AS code, strptime(answered_at, '%Y%m%d%H%M%S') AS answered_at,
       nullif(tax_year, '')::INTEGER AS tax_year, nullif(taxable_income, '')::BIGINT AS taxable_income,
       nullif(tax_status, '') AS tax_status, CASE assistance WHEN '1' THEN TRUE WHEN '0' THEN FALSE END AS assistance,
       nullif(certificate_type, '') AS certificate_type, nullif(certificate_grade, '') AS certificate_grade,
       nullif(household_size, '')::INTEGER AS household_size,
       strptime(nullif(resident_since, ''), '%Y%m%d')::DATE AS resident_since
FROM _ra_df
"""

_JUKI_STAGE = """
SELECT member::VARCHAR AS member, line::BIGINT AS line, request_id::VARCHAR AS request_id,
       result_code::VARCHAR AS code, nullif(name, '') AS name, nullif(kana, '') AS kana, nullif(sex, '') AS sex,
       nullif(birth_date, '')::DATE AS birth_date, nullif(address, '') AS address,
       CASE deceased WHEN '1' THEN TRUE WHEN '0' THEN FALSE END AS deceased, nullif(answered_at, '') AS answered_at
FROM _ra_df
"""

#: What two lines answering one request ID must share to be the same answer (an identical repeat), as a row
#: of the typed values: compared only among the lines of repeated request IDs.
_INFO_SIG = ("(atena_no, integrated_no, info_code, code, answered_at, tax_year, taxable_income, tax_status, assistance,"
             " certificate_type, certificate_grade, household_size, resident_since)")
_JUKI_SIG = "(code, name, kana, sex, birth_date, address, deceased, answered_at)"

#: The lines with their repeat counts: ``variants`` (different answers to one request ID) and ``k`` (the
#: line's place among the repeats, by member and line).
_REPEATS = """rep AS (
    SELECT request_id FROM _ra GROUP BY request_id HAVING count(*) > 1),
dr AS (
    SELECT * FROM _ra WHERE request_id IN (SELECT request_id FROM rep)),
dup AS (
    SELECT request_id, count(DISTINCT {sig}) AS variants FROM dr GROUP BY request_id),
dk AS (
    SELECT member, line, row_number() OVER (PARTITION BY request_id ORDER BY member, line) AS k FROM dr),
d AS (
    SELECT a.*, coalesce(dup.variants, 1) AS variants, coalesce(dk.k, 1) AS k
    FROM _ra a LEFT JOIN dup USING (request_id) LEFT JOIN dk USING (member, line))"""
#: No request ID repeats (checked on the parsed frame, the usual answer package): every line is its own, and
#: the lines are typed as the classification reads them (no staging table ``_ra`` written and read again:
#: 1 of the 10 CPU s of a 1,000,000-answer import).
_NO_REPEATS = "d AS (SELECT *, 1 AS variants, 1 AS k FROM ({stage}))"

# One row per answer line with its outcome; first matching rule wins.  Repeated request IDs are found
# by one aggregate, and only their lines are numbered and compared (windows over every line — a
# count(DISTINCT) of a signature string per request ID — took 1.6 s of a 7 s import at 100,000 answers).
_CLASSIFY = """
CREATE OR REPLACE TEMP TABLE _rc AS
WITH {repeats}
SELECT d.*, r.batch_id, r.person_id, r.information,
    CASE
      WHEN r.request_id IS NULL OR r.kind <> $kind THEN 'unknown_request'
      {person_rule}
      WHEN d.variants > 1 THEN 'conflicting_duplicate'
      WHEN d.k > 1 THEN 'duplicate'
      WHEN r.status <> 'sent' OR b.status <> 'sent' THEN 'not_open'
      ELSE 'ok'
    END AS outcome
FROM d LEFT JOIN query_requests r ON r.request_id = d.request_id
LEFT JOIN query_batches b ON b.batch_id = r.batch_id
{extra_join}
"""

_INFO_PERSON_RULE = """
      WHEN d.atena_no <> r.person_id OR g.integrated_number IS NULL OR d.integrated_no <> g.integrated_number
           THEN 'wrong_person'
      WHEN d.info_code IS DISTINCT FROM r.info_code THEN 'wrong_information'
"""


def _already(unit: Unit, kind: Kind, package_id: str) -> ResultImportSummary | None:
    """The summary of a package imported before (same package ID): importing it again changes nothing."""
    done = unit.con.execute("SELECT import_id, imported_at, rows FROM result_imports WHERE package_id = ?",
                            [package_id]).fetchone()
    if done is None:
        return None
    at = done[1]
    summary = ResultImportSummary(
        kind=kind, package_id=package_id, rows=int(done[2]), import_id=done[0], already_imported=True,
        already_imported_at=at.isoformat(),
        message_ja=f"この回答パッケージは {at.date().isoformat()} に取込済みです（変更なし）。",
        message_en=f"Unchanged: this answer package was already imported on {at.date().isoformat()}.",
    )
    unit.note(kind=kind, rows=summary.rows, already_imported=True)
    return summary


def _classify(unit: Unit, kind: Kind, members: dict[str, bytes]) -> None:
    """Parse and check the whole package (refusing it if malformed), then classify each answer line into ``_rc``."""
    frame: pa.Table | pd.DataFrame
    if kind == "info":
        frame = _parse_info(members)
        _refuse_malformed(frame, _check_info_arrow(frame))
        repeats = pc.count_distinct(frame.column("request_id")).as_py() != frame.num_rows
    else:
        frame = _parse_juki(members)
        _refuse_malformed(frame, _check_juki(frame))
        repeats = bool(frame["request_id"].duplicated().any())
    con = unit.con
    stage = _INFO_STAGE if kind == "info" else _JUKI_STAGE
    con.register("_ra_df", frame)
    try:
        if repeats:  # the lines are read several times to find and compare the repeats: staged once, typed
            con.execute(f"CREATE OR REPLACE TEMP TABLE _ra AS {stage}")
            found = _REPEATS.format(sig=_INFO_SIG if kind == "info" else _JUKI_SIG)
        else:
            found = _NO_REPEATS.format(stage=stage)
        if kind == "info":
            sql = _CLASSIFY.format(person_rule=_INFO_PERSON_RULE, repeats=found,
                                   extra_join="LEFT JOIN integrated_numbers g ON g.person_id = r.person_id")
        else:
            sql = _CLASSIFY.format(person_rule="", repeats=found, extra_join="")
        con.execute(sql, {"kind": kind})
    finally:
        con.unregister("_ra_df")
    del frame


def _release(unit: Unit) -> None:
    unit.con.execute("DROP TABLE IF EXISTS _ra")
    unit.con.execute("DROP TABLE IF EXISTS _rc")


def _preview(unit: Unit, received: incoming.Received, kind: Kind) -> incoming.Changes:
    """What importing this answer package would do, by outcome (nothing stored)."""
    package_id = received.package_id or ""
    done = _already(unit, kind, package_id)
    if done is not None:
        return incoming.Changes(done.rows, {}, done.message_ja, done.message_en, already_imported=True)
    _classify(unit, kind, received.members)
    outcomes = {str(k): int(v) for k, v in unit.con.execute("SELECT outcome, count(*) FROM _rc GROUP BY 1 ORDER BY 1").fetchall()}
    rows = sum(outcomes.values())
    ok = outcomes.get("ok", 0)
    others = rows - ok - outcomes.get("duplicate", 0)
    return incoming.Changes(
        rows, outcomes,
        f"回答 {rows:,} 行のうち {ok:,} 件を取り込みます。取り込まない行 {others:,} 行（照会に該当しない・重複・終了済みなど）。",
        f"{ok} of {rows} answer line(s) would be stored; {others} would not (unknown request, conflicting, closed …).")


def _import(unit: Unit, received: incoming.Received, kind: Kind) -> ResultImportSummary:
    package_id, digest = received.package_id or "", received.digest
    entry = str(unit.params.get("ledger_entry", ""))
    done = _already(unit, kind, package_id)
    if done is not None:
        return done
    con = unit.con
    import_id = ("F4" if kind == "info" else "F5") + uuid.uuid4().hex[:10].upper()
    try:
        _classify(unit, kind, received.members)
        summary = _store(unit, kind, import_id, package_id)
    finally:
        _release(unit)
    if summary.rows == 0:
        return summary  # refused as empty by the incoming path, for every kind alike
    if kind == "juki":
        summary.discrepancies = discrepancies.detect_juki(unit, import_id)
    else:
        summary.discrepancies = discrepancies.detect_income(unit, import_id=import_id)
    con.execute("INSERT INTO result_imports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [import_id, kind, package_id, digest, entry, summary.rows, json.dumps(summary.counts()), unit.now,
                 unit.user_id])
    unit.note(target=import_id, kind=kind, **summary.counts(), batches=summary.batches,
              batches_closed=summary.batches_closed, discrepancies=summary.discrepancies)
    return summary


def _store(unit: Unit, kind: Kind, import_id: str, package_id: str) -> ResultImportSummary:
    con = unit.con
    codes = INFO_CODES if kind == "info" else JUKI_CODES
    outcomes = dict(con.execute("SELECT outcome, count(*) FROM _rc GROUP BY 1").fetchall())
    rows = int(sum(outcomes.values()))
    if kind == "info":
        con.execute(
            """INSERT INTO info_results
               SELECT request_id, batch_id, person_id, information, code, answered_at, tax_year, taxable_income,
                      tax_status, assistance, certificate_type, certificate_grade, household_size, resident_since, ?, ?
               FROM _rc WHERE outcome = 'ok'""", [import_id, unit.now])
    else:
        con.execute(
            """INSERT INTO juki_results
               SELECT request_id, batch_id, person_id, code, name, kana, sex, birth_date, address, deceased, answered_at,
                      ?, ? FROM _rc WHERE outcome = 'ok'""", [import_id, unit.now])
    cases = " ".join(f"WHEN '{c}' THEN '{s}'" for c, s in codes.items())
    con.execute(
        f"""UPDATE query_requests AS r SET status = CASE c.code {cases} END, result_code = c.code,
               answered_at = ?, status_at = ?, import_id = ?
            FROM _rc c WHERE c.outcome = 'ok' AND r.request_id = c.request_id""",
        [unit.now, unit.now, import_id])
    by_status = {str(k): int(v) for k, v in con.execute(
        "SELECT code, count(*) FROM _rc WHERE outcome = 'ok' GROUP BY 1 ORDER BY 1").fetchall()}
    batches = [r[0] for r in con.execute(
        "SELECT DISTINCT batch_id FROM _rc WHERE batch_id IS NOT NULL ORDER BY 1").fetchall()]
    closed = [r[0] for r in con.execute(
        """UPDATE query_batches AS b SET status = 'closed', closed_at = ?
           WHERE b.status = 'sent' AND b.batch_id IN (SELECT DISTINCT batch_id FROM _rc WHERE batch_id IS NOT NULL)
             AND NOT EXISTS (SELECT 1 FROM query_requests r WHERE r.batch_id = b.batch_id AND r.status = 'sent')
           RETURNING b.batch_id""", [unit.now]).fetchall()]
    unanswered = int(con.execute(  # type: ignore[index]
        "SELECT count(*) FROM query_requests WHERE status = 'sent' AND batch_id IN"
        " (SELECT DISTINCT batch_id FROM _rc WHERE batch_id IS NOT NULL)").fetchone()[0])
    con.execute(
        f"""INSERT INTO result_problems
            SELECT ?, member, line, outcome, CASE WHEN outcome = 'unknown_request' THEN NULL ELSE request_id END
            FROM _rc WHERE outcome IN ({', '.join(f"'{p}'" for p in PROBLEMS)})""", [import_id])
    listed = con.execute(
        f"SELECT member, line, outcome FROM _rc WHERE outcome IN ({', '.join(repr(p) for p in PROBLEMS)})"
        f" ORDER BY member, line LIMIT {MAX_LISTED}").fetchall()
    answered = sum(n for c, n in by_status.items() if codes.get(c) == "answered")
    summary = ResultImportSummary(
        kind=kind, package_id=package_id, rows=rows, import_id=import_id, stored=int(outcomes.get("ok", 0)),
        answered=int(answered), errors=int(outcomes.get("ok", 0)) - int(answered), by_status=by_status,
        duplicates_identical=int(outcomes.get("duplicate", 0)),
        unknown_request=int(outcomes.get("unknown_request", 0)), wrong_person=int(outcomes.get("wrong_person", 0)),
        wrong_information=int(outcomes.get("wrong_information", 0)),
        conflicting_duplicate=int(outcomes.get("conflicting_duplicate", 0)), not_open=int(outcomes.get("not_open", 0)),
        unanswered=unanswered, batches=[str(b) for b in batches], batches_closed=sorted(str(b) for b in closed),
        problems=[{"member": m, "line": int(ln), "reason": r, "message_ja": PROBLEMS[r][0], "message_en": PROBLEMS[r][1]}
                  for m, ln, r in listed],
    )
    problems = rows - summary.stored - summary.duplicates_identical
    summary.message_en = (f"Imported {summary.stored} answer(s) ({summary.answered} answered, {summary.errors} error); "
                          f"{summary.duplicates_identical} identical repeat(s) counted once; {problems} line(s) not stored; "
                          f"{unanswered} request(s) still unanswered; {len(closed)} batch(es) closed.")
    summary.message_ja = (f"回答 {summary.stored:,} 件を取り込みました（回答 {summary.answered:,} 件、エラー {summary.errors:,} 件）。"
                          f"同一内容の重複 {summary.duplicates_identical:,} 件は 1 件として扱い、{problems:,} 行は取り込んでいません。"
                          f"未回答 {unanswered:,} 件、終了したバッチ {len(closed):,} 件。")
    return summary


# ------------------------------------------------------------------------------ services: F4, F5
def _spec(kind: Kind) -> incoming.IncomingFileSpec[ResultImportSummary]:
    f4 = kind == "info"
    return incoming.IncomingFileSpec(
        kind=PACKAGE_KINDS[kind], sender=SENDERS[kind], permission=Permission.RESULTS_IMPORT,
        label_ja="情報照会結果の取込" if f4 else "住基ネット照会結果の取込",
        label_en="information-query answers import" if f4 else "Juki-net answers import",
        file_ja="情報照会結果" if f4 else "住基ネット照会結果", file_en="information-query answers" if f4 else "Juki-net answers",
        preview=lambda unit, received: _preview(unit, received, kind),
        apply=lambda unit, received: _import(unit, received, kind),
        count=lambda summary: summary.rows, already=lambda summary: summary.already_imported,
        release=_release, outcomes=OUTCOMES)


#: F4 ⑭ as an incoming file: an ``info_answer`` package from the linkage server, matched by request ID (C10).
INFO_SPEC = _spec("info")
#: F5 ⑰ as an incoming file: a ``juki_answer`` package from Juki-net (C10), differences detected (C7).
JUKI_SPEC = _spec("juki")
_info = incoming.register(INFO_SPEC, preview="results.preview_info_results", import_="results.import_info_results")
_juki = incoming.register(JUKI_SPEC, preview="results.preview_juki_results", import_="results.import_juki_results")

#: F4: what importing an answer package would change (counts by outcome), nothing stored.
preview_info_results = _info.preview
#: F4 ⑭: import an ``info_answer`` package (a path, or its bytes with ``file_name``).  Malformed answers refuse
#: the whole package with line numbers; orphans, wrong persons, conflicting duplicates and answers for closed
#: requests are reported, not stored.
import_info_results = _info.import_
#: F5: what importing a Juki-net answer package would change, nothing stored.
preview_juki_results = _juki.preview
#: F5 ⑰: import a ``juki_answer`` package from Juki-net (C10) and detect differences (C7).
import_juki_results = _juki.import_


# ------------------------------------------------------------------------------ services: status
#: query_requests.status → the four groups a screen shows.
STATUS_GROUPS: dict[str, str] = {"answered": "answered", "created": "pending", "sent": "pending", "error": "error",
                                 "expired": "expired"}
#: The one group that is no status of its own (created or sent: no answer yet).
labels.register("query_status", {"pending": ("回答待ち", "waiting for the answer")})


@service(Permission.RESULTS_IMPORT)
def request_status(unit: Unit, *, batch_id: str | None = None) -> dict[str, int]:
    """F4/F5/C11: how many query requests are ``answered``, ``pending`` (created or sent, no answer yet),
    ``error`` or ``expired`` — for every batch, or for one (``batch_id``).  Counts only; every group is
    present (0 when empty).  An unknown batch is refused."""
    con = unit.con
    if batch_id is not None and con.execute("SELECT 1 FROM query_batches WHERE batch_id = ?", [batch_id]).fetchone() is None:
        unit.note(target=batch_id)
        raise NotFound(f"No query batch {batch_id}.", f"照会バッチ {batch_id} はありません。", reason="not_found")
    counts = dict.fromkeys(("answered", "pending", "error", "expired"), 0)
    for status, n in con.execute("SELECT status, count(*) FROM query_requests WHERE ($batch_id IS NULL OR batch_id = $batch_id)"
                                 " GROUP BY status", {"batch_id": batch_id}).fetchall():
        group = STATUS_GROUPS.get(str(status))
        if group is not None:
            counts[group] += int(n)
    unit.note(target=batch_id, **counts)
    return counts


# ------------------------------------------------------------------------------ services: C11
@service(Permission.RESULTS_IMPORT)
def expire_requests(unit: Unit, *, older_than_days: int | None = None) -> ExpirySummary:
    """C11: requests still unanswered ``older_than_days`` (default :data:`ANSWER_DEADLINE_DAYS`) after
    they were sent become ``expired``; a batch with nothing left waiting is closed."""
    days = ANSWER_DEADLINE_DAYS if older_than_days is None else older_than_days
    if not isinstance(days, int) or isinstance(days, bool) or days < 0:
        raise InvalidInput("The answer deadline must be a whole number of days (0 or more).",
                           "回答期限は 0 以上の整数（日数）で指定してください。", reason="bad_days")
    con = unit.con
    cutoff = unit.now - dt.timedelta(days=days)
    rows = con.execute(
        "UPDATE query_requests SET status = 'expired', status_at = ? WHERE status = 'sent' AND requested_at <= ?"
        " RETURNING batch_id", [unit.now, cutoff]).fetchall()
    by_batch: dict[str, int] = {}
    for (batch_id,) in rows:
        by_batch[batch_id] = by_batch.get(batch_id, 0) + 1
    closed = sorted(r[0] for r in con.execute(
        """UPDATE query_batches AS b SET status = 'closed', closed_at = ?
           WHERE b.status = 'sent' AND NOT EXISTS (SELECT 1 FROM query_requests r WHERE r.batch_id = b.batch_id
                                                   AND r.status = 'sent')
           RETURNING b.batch_id""", [unit.now]).fetchall())
    summary = ExpirySummary(older_than_days=days, expired=len(rows), by_batch=dict(sorted(by_batch.items())),
                            batches_closed=closed)
    unit.note(older_than_days=days, expired=len(rows), by_batch=summary.by_batch, batches_closed=closed)
    return summary


_PURGE_METHOD = "sql_delete"


@service(Permission.RESULTS_IMPORT)
def purge_results(unit: Unit) -> PurgeSummary:
    """C11 (III-6 リスク4) / C8: delete the results of batches closed more than
    ``result_retention_days`` ago and record the deletion (what, when, by whom, how).

    Deleted: ``info_results``, ``juki_results`` and *resolved* discrepancies of those
    batches; discrepancies still open or notified are kept (still being worked on) and
    counted.  The batch becomes ``purged``.  DESIGN §3: the bytes stay in the database file
    until it is rebuilt (``workbench keys rotate``); the log records ``rebuild_needed``.
    """
    return purge_expired_results(unit, int(unit.workspace.settings.result_retention_days))


def purge_expired_results(unit: Unit, days: int) -> PurgeSummary:
    """The body of :func:`purge_results` for a given retention period, inside the caller's unit of
    work (the retention rules of ``workbench.lifecycle.retention`` pass theirs)."""
    con = unit.con
    cutoff = unit.now - dt.timedelta(days=days)
    batch_ids = [r[0] for r in con.execute(
        "SELECT batch_id FROM query_batches WHERE status = 'closed' AND closed_at <= ? ORDER BY batch_id",
        [cutoff]).fetchall()]
    if not batch_ids:
        unit.note(retention_days=days, batches=0)
        return PurgeSummary(None, days, [], {}, False, _PURGE_METHOD,
                            f"保存期間（{days} 日）を過ぎた照会結果はありません。",
                            f"No query results are past the retention period ({days} days).")
    con.execute("CREATE OR REPLACE TEMP TABLE _purge AS SELECT unnest(?::VARCHAR[]) AS batch_id", [batch_ids])
    try:
        counts: dict[str, int] = {}
        for table in ("info_results", "juki_results"):
            counts[table] = len(con.execute(
                f"DELETE FROM {table} WHERE batch_id IN (SELECT batch_id FROM _purge) RETURNING request_id").fetchall())
        counts["discrepancies"] = len(con.execute(
            "DELETE FROM discrepancies WHERE status = 'resolved' AND batch_id IN (SELECT batch_id FROM _purge)"
            " RETURNING discrepancy_id").fetchall())
        counts["discrepancies_kept_open"] = int(con.execute(  # type: ignore[index]
            "SELECT count(*) FROM discrepancies WHERE batch_id IN (SELECT batch_id FROM _purge)").fetchone()[0])
        con.execute("UPDATE query_batches SET status = 'purged' WHERE batch_id IN (SELECT batch_id FROM _purge)")
    finally:
        con.execute("DROP TABLE IF EXISTS _purge")
    deletion_id = "X" + uuid.uuid4().hex[:11].upper()
    deleted = sum(v for k, v in counts.items() if k != "discrepancies_kept_open")
    con.execute("INSERT INTO result_deletions VALUES (?, ?, ?, ?, 'retention_expired', ?, ?, ?, ?, NULL)",
                [deletion_id, unit.now, unit.user_id, _PURGE_METHOD, days, json.dumps(batch_ids), json.dumps(counts),
                 deleted > 0])
    unit.note(target=deletion_id, retention_days=days, batch_ids=batch_ids, **counts)
    return PurgeSummary(
        deletion_id, days, batch_ids, counts, deleted > 0, _PURGE_METHOD,
        f"保存期間（{days} 日）を過ぎた {len(batch_ids):,} バッチの照会結果 {deleted:,} 件を削除し、削除記録 {deletion_id} を残しました。"
        "データベースファイルから完全に消去するには鍵の更新（workbench keys rotate）でファイルを再構築してください。",
        f"Deleted {deleted} result row(s) of {len(batch_ids)} batch(es) past the retention period ({days} days); "
        f"recorded as {deletion_id}. To erase the bytes from the database file, rebuild it (workbench keys rotate).",
    )
