"""⑧⑨: import the procedures filed in the housing system (届出・申請された手続の取込).

U3 (III-2 リスク1, III-3 リスク1): "a query is possible only for a procedure that is
permitted for information linkage **and** that the person actually filed".  The
housing business system (都住システム) extracts the procedures filed — procedure code
P1–P6, fiscal year, filing date, the applicant, the household members it concerns and
each one's consent to information queries (U2) — in the ``housing_procedures``
layout (:data:`workbench.files.formats.LAYOUTS`, one row per procedure × person).

:func:`import_procedures` checks the **whole** file and refuses it whole if any row is
wrong, listing (line, reason code, Japanese, English) for the first 100 and counts by
reason (:data:`REASONS`); nothing is half-imported (DESIGN §7).  A procedure already
held is accepted unchanged only if the file repeats it exactly; the same file twice
is recognised by its SHA-256 and changes nothing.  Audit: counts only.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench.core import labels
from workbench.core.errors import InvalidInput, rows_refused
from workbench.core.permissions import Permission
from workbench.core.policy import POLICY
from workbench.core.workspace import Unit
from workbench.files import incoming
from workbench.files.formats import read_table
from workbench.queries.query_rules import load_rules

__all__ = ["REASONS", "SPEC", "ProcedureImportSummary", "import_procedures", "preview_procedures"]

#: Row-level reason codes → (Japanese, English).
REASONS: dict[str, tuple[str, str]] = {
    "missing_value": ("必須項目が空です", "a required value is empty"),
    "bad_procedure_id": ("申請番号の形式が誤っています（英数字とハイフン 30 文字以内）",
                         "the procedure ID is malformed (up to 30 letters, digits, hyphens)"),
    "unknown_procedure": ("手続コードが不明です（P1〜P6）", "the procedure code is unknown (P1-P6)"),
    "bad_fiscal_year": ("年度が誤っています（西暦 4 桁、2000〜2100）", "the fiscal year is not a 4-digit year in 2000-2100"),
    "bad_date": ("届出日が日付として正しくないか、範囲外です", "the filing date is not a valid date or is out of range"),
    "bad_consent": ("情報照会同意が Y / N ではありません", "the consent is not Y / N"),
    "unknown_person": ("宛名番号が対象者リストにありません（申請者または対象者）",
                       "a person ID (applicant or member) is not in the target list"),
    "duplicate_member": ("同じ申請番号・対象者の行がファイル内で重複しています",
                         "the same procedure and person appear more than once in the file"),
    "inconsistent_procedure": ("同じ申請番号の行で手続コード・年度・届出日・申請者が一致しません",
                               "rows of one procedure ID disagree on code, year, filing date or applicant"),
    "applicant_not_member": ("申請者本人の行がありません（申請者も対象者として記載してください）",
                             "the applicant has no row of his or her own (list the applicant as a member too)"),
    "duplicate_procedure": ("この申請番号は取込済みで、内容が異なります",
                            "this procedure ID is already held with different contents"),
}
labels.register("procedure_reason", REASONS)

MAX_LISTED = POLICY.max_listed_problems  # office policy, workbench/data/policy.json

_CONSENT = {"Y": True, "N": False, "1": True, "0": False, "有": True, "無": False, "同意": True, "不同意": False,
            "YES": True, "NO": False}
_REQUIRED = ("procedure_id", "procedure_code", "fiscal_year", "filed_on", "applicant_id", "person_id", "consent")


@dataclass
class ProcedureImportSummary:
    """What a procedure import did (⑧⑨).  Counts only."""

    rows: int
    encoding: str
    procedures: int = 0
    new_procedures: int = 0
    unchanged_procedures: int = 0
    members: int = 0
    consent_yes: int = 0
    consent_no: int = 0
    by_procedure: dict[str, int] = field(default_factory=dict)
    already_imported: bool = False
    already_imported_at: str | None = None
    import_id: str | None = None
    message_ja: str = ""
    message_en: str = ""

    def counts(self) -> dict[str, int]:
        keys = ("rows", "procedures", "new_procedures", "unchanged_procedures", "members", "consent_yes", "consent_no")
        return {k: int(getattr(self, k)) for k in keys}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _clean(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple[np.ndarray, str]]]:
    """Normalised values and the row masks of value problems (no database needed)."""
    rules = load_rules()
    out = pd.DataFrame(index=frame.index)
    for col in _REQUIRED:
        out[col] = frame[col].astype("str").str.normalize("NFKC").str.strip()
    out["procedure_code"] = out["procedure_code"].str.upper()
    issues: list[tuple[np.ndarray, str]] = []
    empty = np.zeros(len(out), dtype=bool)
    for col in _REQUIRED:
        empty |= (out[col] == "").to_numpy()
    issues.append((empty, "missing_value"))
    ok_id = r"[0-9A-Za-z\-]{1,30}"
    issues.append((~empty & ~out["procedure_id"].str.fullmatch(ok_id).to_numpy(dtype=bool), "bad_procedure_id"))
    issues.append((~empty & ~out["procedure_code"].isin(list(rules.procedures)).to_numpy(), "unknown_procedure"))
    year = pd.to_numeric(out["fiscal_year"].where(out["fiscal_year"].str.fullmatch(r"\d{4}"), None), errors="coerce")
    issues.append((~empty & ~((year >= 2000) & (year <= 2100)).to_numpy(dtype=bool), "bad_fiscal_year"))
    out["fiscal_year"] = year.fillna(0).astype("int64")
    raw = out["filed_on"].str.replace(r"[/.]", "-", regex=True)
    compact = raw.str.fullmatch(r"\d{8}").to_numpy(dtype=bool)
    raw = raw.where(~compact, raw.str.slice(0, 4) + "-" + raw.str.slice(4, 6) + "-" + raw.str.slice(6, 8))
    shaped = raw.str.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}").to_numpy(dtype=bool)
    parsed = pd.to_datetime(raw.where(shaped, None), format="%Y-%m-%d", errors="coerce")
    in_range = ((parsed >= pd.Timestamp("2000-01-01")) & (parsed <= pd.Timestamp("2100-12-31"))).to_numpy(dtype=bool)
    issues.append((~empty & ~(shaped & in_range), "bad_date"))
    out["filed_on"] = parsed
    consent = out["consent"].str.upper().map(_CONSENT)
    issues.append((~empty & consent.isna().to_numpy(), "bad_consent"))
    out["consent"] = consent.fillna(False).astype(bool)
    dup = out.duplicated(["procedure_id", "person_id"], keep="first").to_numpy() & ~empty
    issues.append((dup, "duplicate_member"))
    head = ["procedure_code", "fiscal_year", "filed_on", "applicant_id"]
    variants = out.groupby("procedure_id")[head].transform("nunique").max(axis=1).to_numpy()
    issues.append((~empty & (variants > 1), "inconsistent_procedure"))
    has_self = (out["applicant_id"] == out["person_id"]).groupby(out["procedure_id"]).transform("any").to_numpy(dtype=bool)
    issues.append((~empty & ~has_self, "applicant_not_member"))
    return out, issues


def _refusal(issues: pd.DataFrame) -> InvalidInput:
    return rows_refused("procedure file", "手続ファイル", zip(issues["line"].tolist(), issues["reason"].tolist(), strict=True),
                        REASONS, limit=MAX_LISTED)


def _already(unit: Unit, table: Any) -> ProcedureImportSummary | None:
    done = unit.con.execute("SELECT import_id, imported_at, counts FROM procedure_imports WHERE digest = ?",
                            [table.digest]).fetchone()
    if done is None:
        return None
    at = done[1].date().isoformat()
    held = json.loads(done[2])
    unit.note(rows=table.rows, already_imported=True)
    return ProcedureImportSummary(
        rows=table.rows, encoding=table.encoding, procedures=int(held.get("procedures", 0)),
        unchanged_procedures=int(held.get("procedures", 0)), already_imported=True,
        already_imported_at=done[1].isoformat(), import_id=done[0],
        message_ja=f"このファイルは {at} に取込済みです（変更なし）。",
        message_en=f"Unchanged: this file was already imported on {at}.",
    )


def _check(unit: Unit, table: Any) -> set[str]:
    """Stage the file into ``_pr`` and refuse it whole if any row is wrong; the procedure IDs already held."""
    con = unit.con
    clean, issues = _clean(table.frame)
    clean["line"] = table.lines
    staged = clean[["line", "procedure_id", "procedure_code", "fiscal_year", "filed_on", "applicant_id", "person_id",
                    "consent"]].copy()
    con.register("_pr_df", staged)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _pr AS SELECT line::BIGINT AS line, procedure_id::VARCHAR AS procedure_id,"
        " procedure_code::VARCHAR AS procedure_code, fiscal_year::INTEGER AS fiscal_year, filed_on::DATE AS filed_on,"
        " applicant_id::VARCHAR AS applicant_id, person_id::VARCHAR AS person_id, consent::BOOLEAN AS consent FROM _pr_df"
    )
    con.unregister("_pr_df")
    unknown = con.execute(
        "SELECT line FROM _pr s WHERE NOT EXISTS (SELECT 1 FROM persons p WHERE p.person_id = s.person_id)"
        " OR NOT EXISTS (SELECT 1 FROM persons p WHERE p.person_id = s.applicant_id)"
    ).fetchnumpy()["line"]
    # A procedure already held is fine only if the file repeats it exactly (header and members).
    clash = con.execute(
        """WITH held AS (SELECT DISTINCT s.procedure_id FROM _pr s JOIN housing_procedures h USING (procedure_id)),
                mine AS (SELECT s.* FROM _pr s JOIN held USING (procedure_id)),
                theirs AS (SELECT h.procedure_id, h.procedure_code, h.fiscal_year, h.filed_on, h.applicant_id,
                                  m.person_id, m.consent
                           FROM housing_procedures h JOIN held USING (procedure_id)
                           JOIN procedure_members m USING (procedure_id)),
                diff AS (
                    (SELECT procedure_id, procedure_code, fiscal_year, filed_on, applicant_id, person_id, consent FROM mine
                     EXCEPT SELECT * FROM theirs)
                    UNION ALL
                    (SELECT * FROM theirs
                     EXCEPT SELECT procedure_id, procedure_code, fiscal_year, filed_on, applicant_id, person_id, consent FROM mine))
           SELECT m.line, m.procedure_id FROM mine m WHERE m.procedure_id IN (SELECT procedure_id FROM diff)"""
    ).fetchnumpy()
    held_ids = {r[0] for r in con.execute(
        "SELECT DISTINCT procedure_id FROM _pr JOIN housing_procedures USING (procedure_id)").fetchall()}
    by_line = pd.Series(np.arange(len(table.lines)), index=table.lines)
    for lines, reason in ((unknown, "unknown_person"), (clash["line"], "duplicate_procedure")):
        mask = np.zeros(len(table.lines), dtype=bool)
        if len(lines):
            mask[by_line.loc[np.asarray(lines, dtype=np.int64)].to_numpy()] = True
        issues.append((mask, reason))
    parts = [pd.DataFrame({"line": table.lines[m], "reason": r}) for m, r in issues if m.any()]
    if parts:
        frame = pd.concat(parts, ignore_index=True).sort_values(["line", "reason"], kind="stable", ignore_index=True)
        raise _refusal(frame)
    return held_ids


def _release(unit: Unit) -> None:
    unit.con.execute("DROP TABLE IF EXISTS _pr")


def _table(received: incoming.Received) -> Any:
    members = list(received.members.values())
    if len(members) != 1:
        raise InvalidInput(f"The procedures package should hold one file, not {len(members)}.",
                           f"手続ファイルのパッケージにはファイルが 1 つだけ入っているはずですが、{len(members):,} 個あります。",
                           reason="bad_package_members")
    return read_table(members[0], "housing_procedures")


def _preview(unit: Unit, received: incoming.Received) -> incoming.Changes:
    """What importing the file would do (the whole file checked, nothing stored)."""
    table = _table(received)
    done = _already(unit, table)
    if done is not None:
        return incoming.Changes(table.rows, {}, done.message_ja, done.message_en, already_imported=True)
    held = _check(unit, table)
    new = int(unit.con.execute("SELECT count(DISTINCT procedure_id) FROM _pr").fetchone()[0]) - len(held)  # type: ignore[index]
    return incoming.Changes(
        table.rows, {"new_procedures": new, "unchanged_procedures": len(held)},
        f"{table.rows:,} 行を取り込みます。新規手続 {new:,} 件、取込済み（変更なし） {len(held):,} 件。",
        f"{table.rows} row(s) would be imported: {new} new procedure(s), {len(held)} already held unchanged.")


def _apply(unit: Unit, received: incoming.Received) -> ProcedureImportSummary:
    """⑧⑨: validate the whole procedure file and store it in one transaction (or refuse it whole).

    Afterwards :mod:`workbench.queries.batches` may query a person only for a procedure held
    here (U3), and business information only with the member's consent (U2).
    """
    table = _table(received)
    file_name = received.file_name
    done = _already(unit, table)
    if done is not None:
        return done
    con = unit.con
    try:
        held_ids = _check(unit, table)
        import_id = "R" + uuid.uuid4().hex[:11].upper()
        con.execute(
            """INSERT INTO housing_procedures
               SELECT procedure_id, any_value(procedure_code), any_value(fiscal_year), any_value(filed_on),
                      any_value(applicant_id), ?, ?
               FROM _pr WHERE procedure_id NOT IN (SELECT procedure_id FROM housing_procedures) GROUP BY procedure_id""",
            [import_id, unit.now],
        )
        con.execute(
            "INSERT INTO procedure_members SELECT procedure_id, person_id, consent FROM _pr"
            " WHERE (procedure_id, person_id) NOT IN (SELECT (procedure_id, person_id) FROM procedure_members)"
        )
        stats = con.execute(
            "SELECT count(DISTINCT procedure_id), count(*), count(*) FILTER (WHERE consent), count(*) FILTER (WHERE NOT consent)"
            " FROM _pr"
        ).fetchone()
        by_code = dict(con.execute(
            "SELECT procedure_code, count(DISTINCT procedure_id) FROM _pr GROUP BY 1 ORDER BY 1").fetchall())
    finally:
        con.execute("DROP TABLE IF EXISTS _pr")
    assert stats is not None
    summary = ProcedureImportSummary(
        rows=table.rows, encoding=table.encoding, procedures=int(stats[0]), new_procedures=int(stats[0]) - len(held_ids),
        unchanged_procedures=len(held_ids), members=int(stats[1]), consent_yes=int(stats[2]), consent_no=int(stats[3]),
        by_procedure={str(k): int(v) for k, v in by_code.items()}, import_id=import_id,
    )
    summary.message_en = (f"Imported: {summary.rows} rows; {summary.new_procedures} new procedure(s), "
                          f"{summary.unchanged_procedures} already held unchanged.")
    summary.message_ja = (f"取り込みました: {summary.rows:,} 行。新規手続 {summary.new_procedures:,} 件、"
                          f"取込済み（変更なし） {summary.unchanged_procedures:,} 件。")
    con.execute("INSERT INTO procedure_imports VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [import_id, table.digest, file_name, table.encoding, table.rows, json.dumps(summary.counts()),
                 unit.now, unit.user_id])
    unit.note(target=import_id, encoding=table.encoding, **summary.counts(), by_procedure=summary.by_procedure)
    return summary


#: ⑧⑨ as an incoming file: the housing system's extract of the procedures filed (a bare CSV, or a package
#: made with the housing system's key file), read through the one incoming path (workbench.files.incoming).
SPEC: incoming.IncomingFileSpec[ProcedureImportSummary] = incoming.IncomingFileSpec(
    kind="housing_procedures", sender="housing_system", permission=Permission.PROCEDURES_IMPORT,
    label_ja="届出・申請された手続の取込", label_en="procedures filed import", file_ja="手続ファイル",
    file_en="procedures file", preview=_preview, apply=_apply, count=lambda summary: summary.rows,
    already=lambda summary: summary.already_imported, bare=True, release=_release,
    outcomes={"new_procedures": ("新規手続", "new procedures"),
              "unchanged_procedures": ("取込済み（変更なし）の手続", "procedures already held, unchanged")})
_services = incoming.register(SPEC, preview="procedures.preview_procedures", import_="procedures.import_procedures")
#: ⑧⑨ step 1: check the whole file, say what importing it would do; nothing stored.
preview_procedures = _services.preview
#: ⑧⑨: validate the whole procedure file and store it in one transaction (or refuse it whole); ``source`` is the
#: file's bytes (with ``file_name``) or its path.
import_procedures = _services.import_
