"""F0: import the collection target list (対象者リスト取込) from the housing business system.

The housing business system (都住システム) extracts residents (入居者) and applicants
(入居申込者) with their households in the ``housing_targets`` layout
(:data:`workbench.files.formats.LAYOUTS`).  :func:`import_targets`

1. reads the file (UTF-8, UTF-8 with BOM or CP932; :func:`workbench.files.formats.read_table`);
2. validates **every** row — required values, sex code, birth date, status, ward
   code, person IDs repeated in the file — and refuses the whole file if any row is
   invalid, listing (line, reason code, Japanese, English) for the first 100 and the
   count for each reason: nothing is half-imported (DESIGN §7);
3. compares it with what is held: new persons, changed persons, persons listed
   before but absent now (対象外: ``listed = FALSE``; their numbers are kept until a
   bulk deletion removes them, C8), unchanged; the same for households;
4. applies it in one transaction with set-based SQL and records the file's SHA-256,
   so the same file twice reports "already imported on <date>" and changes nothing.

C1 relies on this list: registration accepts a number only for a listed person.
The audit record holds counts only.  :func:`preview_targets` returns the same summary
without applying anything.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.core import labels
from workbench.core.errors import InvalidInput, rows_refused
from workbench.core.permissions import Permission
from workbench.core.policy import POLICY
from workbench.core.workspace import Unit
from workbench.files import incoming
from workbench.files.formats import Table, read_table

__all__ = ["REASONS", "SEXES", "SPEC", "STATUSES", "TargetImportSummary", "import_targets", "preview_targets",
           "validate_targets"]

#: Row-level reason codes with their Japanese and English messages.
REASONS: dict[str, tuple[str, str]] = {
    "missing_value": ("必須項目が空です", "a required value is empty"),
    "bad_person_id": ("宛名番号の形式が誤っています（英数字とハイフン 20 文字以内）", "the person ID is malformed (up to 20 letters, digits, hyphens)"),
    "bad_household_id": ("世帯番号の形式が誤っています（英数字とハイフン 20 文字以内）", "the household ID is malformed (up to 20 letters, digits, hyphens)"),
    "bad_sex": ("性別コードが誤っています（1, 2, 9 のいずれか）", "the sex code is not 1, 2 or 9"),
    "bad_birth_date": ("生年月日が日付として正しくないか、範囲外です", "the birth date is not a valid date or is out of range"),
    "bad_status": ("入居区分が誤っています（入居者 / 入居申込者）", "the status is not resident / applicant (入居者 / 入居申込者)"),
    "bad_ward_code": ("区市町村コードが誤っています（数字 5 桁または 6 桁）", "the ward code is not 5 or 6 digits"),
    "duplicate_person": ("同じ宛名番号がファイル内で重複しています", "the same person ID appears more than once in the file"),
}

#: Who a person is to the housing office (入居区分), as staff say it.
STATUSES: dict[str, tuple[str, str]] = {"resident": ("入居者", "resident"), "applicant": ("入居申込者", "applicant")}
#: Sex codes as stored (1, 2, 9, as the target-list layout says).
SEXES: dict[str, tuple[str, str]] = {"1": ("男", "male"), "2": ("女", "female"), "9": ("その他・不明", "other or not known")}
labels.register("target_reason", REASONS)
labels.register("person_status", STATUSES)
labels.register("sex", SEXES)

#: Errors listed in a refusal; the rest are counted.
MAX_LISTED = POLICY.max_listed_problems  # office policy, workbench/data/policy.json

_SEX = {"1": "1", "2": "2", "9": "9", "0": "9", "男": "1", "女": "2", "男性": "1", "女性": "2", "M": "1", "F": "2"}
_STATUS = {"resident": "resident", "applicant": "applicant", "入居者": "resident", "入居申込者": "applicant",
           "申込者": "applicant"}
_RELATION = {"世帯主": "head", "本人": "head", "配偶者": "spouse", "妻": "spouse", "夫": "spouse", "子": "child",
             "親": "parent", "父": "parent", "母": "parent", "その他": "other"}
_REQUIRED = ("person_id", "household_id", "name", "kana", "sex", "birth_date", "address", "ward_code", "housing_type", "status")
_PERSON_COLS = ("household_id", "relation", "name", "kana", "sex", "birth_date", "address", "status")
_HOUSEHOLD_COLS = ("ward_code", "address", "housing_type", "status", "phone")


@dataclass
class TargetImportSummary:
    """What an import did (or, for a preview, would do).  Counts only (F0)."""

    rows: int
    encoding: str
    households: int
    new: int = 0
    changed: int = 0
    relisted: int = 0
    unchanged: int = 0
    unlisted: int = 0
    households_new: int = 0
    households_changed: int = 0
    households_unlisted: int = 0
    applied: bool = False
    preview: bool = False
    already_imported: bool = False
    already_imported_at: str | None = None
    import_id: str | None = None
    #: The file is an older list than the current one (its import ID): nothing was applied.
    superseded_by: str | None = None
    #: The import ID of the list now current.
    current_import_id: str | None = None
    #: An older list applied again on purpose (``reapply=True``).
    reapplied: bool = False
    #: Applying it takes this many people off the list, more than the workspace's threshold: the
    #: import must name this number (``confirm_unlisted``) to go ahead.
    needs_confirmation: int | None = None
    message_ja: str = ""
    message_en: str = ""
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------------------ validation
def _text(frame: pd.DataFrame, col: str) -> pd.Series:
    return frame[col].astype("str").str.strip()


def _nfkc(series: pd.Series, pattern: str = r"[^\x00-\x7f]") -> pd.Series:
    """NFKC-normalise only the values that contain a character matching ``pattern`` (fast on ASCII)."""
    mask = pc.match_substring_regex(pa.array(series, type=pa.string()), pattern).to_numpy(zero_copy_only=False)
    if not mask.any():
        return series
    out = series.copy()
    out[mask] = series[mask].str.normalize("NFKC")
    return out


def validate_targets(table: Table) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Normalise and check every row of a ``housing_targets`` table.

    Returns ``(clean, issues)``: ``clean`` has normalised values (NFKC for codes and
    IDs, katakana width for kana, ``birth_date`` as a date, ``status`` as
    resident/applicant, relation as code), ``issues`` one row per problem with
    ``line`` and ``reason`` (:data:`REASONS`), sorted by line.
    """
    f = table.frame
    lines = table.lines
    out = pd.DataFrame(index=f.index)
    for col in ("person_id", "household_id", "sex", "birth_date", "ward_code", "status", "phone", "relation"):
        out[col] = _nfkc(_text(f, col)).str.strip()
    for col in ("name", "address", "housing_type"):
        out[col] = _text(f, col)
    # kana: half-width katakana to full width, spaces to one full-width space
    kana = _nfkc(_text(f, "kana"), r"[\x{ff01}-\x{ff9f}]")
    out["kana"] = pd.Series(
        pc.replace_substring_regex(pa.array(kana, type=pa.string()), r"[ \t\x{3000}]+", "\u3000").to_numpy(zero_copy_only=False),
        index=f.index, dtype="str",
    )
    issues: list[tuple[np.ndarray, str]] = []

    empty = np.zeros(len(f), dtype=bool)
    for col in _REQUIRED:
        empty |= (out[col] == "").to_numpy()
    issues.append((empty, "missing_value"))
    id_ok = r"^[0-9A-Za-z\-]{1,20}$"
    issues.append((~empty & ~out["person_id"].str.fullmatch(id_ok).to_numpy(dtype=bool), "bad_person_id"))
    issues.append((~empty & ~out["household_id"].str.fullmatch(id_ok).to_numpy(dtype=bool), "bad_household_id"))

    sex = out["sex"].str.upper().map(_SEX)
    issues.append((~empty & sex.isna().to_numpy(), "bad_sex"))
    out["sex"] = sex.fillna("")

    status = out["status"].str.lower().map(_STATUS)
    issues.append((~empty & status.isna().to_numpy(), "bad_status"))
    out["status"] = status.fillna("")

    raw_date = out["birth_date"].str.replace(r"[/.]", "-", regex=True)
    compact = raw_date.str.fullmatch(r"\d{8}").to_numpy(dtype=bool)
    raw_date = raw_date.where(~compact, raw_date.str.slice(0, 4) + "-" + raw_date.str.slice(4, 6) + "-" + raw_date.str.slice(6, 8))
    shaped = raw_date.str.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}").to_numpy(dtype=bool)
    parsed = pd.to_datetime(raw_date.where(shaped, None), format="%Y-%m-%d", errors="coerce")
    in_range = (parsed >= pd.Timestamp("1880-01-01")) & (parsed <= pd.Timestamp("2100-01-01"))
    bad_date = ~empty & ~(shaped & in_range.to_numpy(dtype=bool))
    issues.append((bad_date, "bad_birth_date"))
    out["birth_date"] = parsed.dt.date

    ward_ok = out["ward_code"].str.fullmatch(r"\d{5,6}").to_numpy(dtype=bool)
    issues.append((~empty & ~ward_ok, "bad_ward_code"))
    out["ward_code"] = out["ward_code"].str.slice(0, 5)

    out["relation"] = out["relation"].map(_RELATION).fillna(out["relation"])

    dup = out["person_id"].duplicated(keep="first").to_numpy() & (out["person_id"] != "").to_numpy()
    issues.append((dup, "duplicate_person"))

    parts = [pd.DataFrame({"line": lines[mask], "reason": reason}) for mask, reason in issues if mask.any()]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({"line": np.array([], dtype=np.int64), "reason": []})
    frame = frame.sort_values(["line", "reason"], kind="stable", ignore_index=True)
    out["line"] = lines
    return out, frame


def _refusal(issues: pd.DataFrame) -> InvalidInput:
    return rows_refused("target list", "対象者リスト", zip(issues["line"].tolist(), issues["reason"].tolist(), strict=True),
                        REASONS, limit=MAX_LISTED)


# ------------------------------------------------------------------------------ comparison
_DIFF_PERSON = " OR ".join(f"p.{c} IS DISTINCT FROM i.{c}" for c in _PERSON_COLS)
_DIFF_HOUSEHOLD = " OR ".join(f"h.{c} IS DISTINCT FROM i.{c}" for c in _HOUSEHOLD_COLS)


def _stage(unit: Unit, clean: pd.DataFrame) -> None:
    """Register the incoming persons and households (first row of each household) as temp tables."""
    persons = clean[["person_id", "household_id", "relation", "name", "kana", "sex", "birth_date", "address", "status"]].copy()
    persons["relation"] = persons["relation"].where(persons["relation"] != "", None)
    first = clean.drop_duplicates("household_id", keep="first")
    households = first[["household_id", "ward_code", "address", "housing_type", "status", "phone"]].copy()
    households["phone"] = households["phone"].where(households["phone"] != "", None)
    con = unit.con
    con.register("_in_persons_df", persons)
    con.register("_in_households_df", households)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _in_persons AS SELECT person_id::VARCHAR AS person_id,"
        " household_id::VARCHAR AS household_id, relation::VARCHAR AS relation, name::VARCHAR AS name,"
        " kana::VARCHAR AS kana, sex::VARCHAR AS sex, birth_date::DATE AS birth_date, address::VARCHAR AS address,"
        " status::VARCHAR AS status FROM _in_persons_df"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _in_households AS SELECT household_id::VARCHAR AS household_id,"
        " ward_code::VARCHAR AS ward_code, address::VARCHAR AS address, housing_type::VARCHAR AS housing_type,"
        " status::VARCHAR AS status, phone::VARCHAR AS phone FROM _in_households_df"
    )
    con.unregister("_in_persons_df")
    con.unregister("_in_households_df")


def _drop_stage(unit: Unit) -> None:
    unit.con.execute("DROP TABLE IF EXISTS _in_persons")
    unit.con.execute("DROP TABLE IF EXISTS _in_households")


def _compare(unit: Unit, summary: TargetImportSummary) -> None:
    con = unit.con
    row = con.execute(
        f"""SELECT
              count(*) FILTER (WHERE p.person_id IS NULL),
              count(*) FILTER (WHERE p.person_id IS NOT NULL AND p.listed AND ({_DIFF_PERSON})),
              count(*) FILTER (WHERE p.person_id IS NOT NULL AND NOT p.listed),
              count(*) FILTER (WHERE p.person_id IS NOT NULL AND p.listed AND NOT ({_DIFF_PERSON}))
            FROM _in_persons i LEFT JOIN persons p USING (person_id)"""
    ).fetchone()
    assert row is not None
    summary.new, summary.changed, summary.relisted, summary.unchanged = (int(v) for v in row)
    summary.unlisted = int(con.execute(
        "SELECT count(*) FROM persons p WHERE p.listed AND NOT EXISTS (SELECT 1 FROM _in_persons i WHERE i.person_id = p.person_id)"
    ).fetchone()[0])  # type: ignore[index]
    hrow = con.execute(
        f"""SELECT
              count(*) FILTER (WHERE h.household_id IS NULL),
              count(*) FILTER (WHERE h.household_id IS NOT NULL AND (NOT h.listed OR {_DIFF_HOUSEHOLD}))
            FROM _in_households i LEFT JOIN households h USING (household_id)"""
    ).fetchone()
    assert hrow is not None
    summary.households_new, summary.households_changed = int(hrow[0]), int(hrow[1])
    summary.households_unlisted = int(con.execute(
        "SELECT count(*) FROM households h WHERE h.listed"
        " AND NOT EXISTS (SELECT 1 FROM _in_households i WHERE i.household_id = h.household_id)"
    ).fetchone()[0])  # type: ignore[index]


def _apply(unit: Unit) -> None:
    """Set-based upsert of households and persons; unlist those absent (numbers kept, C8)."""
    con, now = unit.con, unit.now
    con.execute(
        f"""UPDATE households AS h SET ward_code = i.ward_code, address = i.address, housing_type = i.housing_type,
                   status = i.status, phone = i.phone, listed = TRUE, updated_at = ?
            FROM _in_households i WHERE h.household_id = i.household_id AND (NOT h.listed OR {_DIFF_HOUSEHOLD})""",
        [now],
    )
    con.execute(
        "INSERT INTO households (household_id, ward_code, address, housing_type, status, phone, listed, updated_at)"
        " SELECT household_id, ward_code, address, housing_type, status, phone, TRUE, ? FROM _in_households i"
        " WHERE NOT EXISTS (SELECT 1 FROM households h WHERE h.household_id = i.household_id)",
        [now],
    )
    con.execute(
        "UPDATE households AS h SET listed = FALSE, updated_at = ? WHERE h.listed"
        " AND NOT EXISTS (SELECT 1 FROM _in_households i WHERE i.household_id = h.household_id)",
        [now],
    )
    con.execute(
        f"""UPDATE persons AS p SET household_id = i.household_id, relation = i.relation, name = i.name, kana = i.kana,
                   sex = i.sex, birth_date = i.birth_date, address = i.address, status = i.status,
                   listed = TRUE, updated_at = ?
            FROM _in_persons i WHERE p.person_id = i.person_id AND (NOT p.listed OR {_DIFF_PERSON})""",
        [now],
    )
    con.execute(
        "INSERT INTO persons (person_id, household_id, relation, name, kana, sex, birth_date, address, status,"
        " listed, deceased, updated_at)"
        " SELECT person_id, household_id, relation, name, kana, sex, birth_date, address, status, TRUE, FALSE, ?"
        " FROM _in_persons i WHERE NOT EXISTS (SELECT 1 FROM persons p WHERE p.person_id = i.person_id)",
        [now],
    )
    con.execute(
        "UPDATE persons AS p SET listed = FALSE, updated_at = ? WHERE p.listed"
        " AND NOT EXISTS (SELECT 1 FROM _in_persons i WHERE i.person_id = p.person_id)",
        [now],
    )


def _counts(summary: TargetImportSummary) -> dict[str, int]:
    keys = ("rows", "households", "new", "changed", "relisted", "unchanged", "unlisted",
            "households_new", "households_changed", "households_unlisted")
    return {k: int(getattr(summary, k)) for k in keys}


def _current(unit: Unit) -> tuple[str, str, Any] | None:
    """The target list now in force: (import ID, file name, when applied) of the latest import or re-application."""
    row = unit.con.execute(
        """SELECT x.import_id, t.file_name, x.at FROM (
               SELECT import_id, imported_at AS at, 0 AS k, rowid AS r FROM target_imports
               UNION ALL SELECT import_id, reapplied_at, 1, rowid FROM target_reapplications) x
           JOIN target_imports t USING (import_id) ORDER BY x.at DESC, x.k DESC, x.r DESC LIMIT 1"""
    ).fetchone()
    return None if row is None else (row[0], row[1], row[2])


def _large_change(unit: Unit, unlisted: int) -> bool:
    """Whether taking ``unlisted`` people off the list is a change that needs a named confirmation."""
    settings = unit.workspace.settings
    listed = int(unit.con.execute("SELECT count(*) FROM persons WHERE listed").fetchone()[0])  # type: ignore[index]
    return unlisted >= max(settings.large_change_min, settings.large_change_share * listed)


def _run(unit: Unit, data: bytes, file_name: str, *, apply: bool, reapply: bool = False,
         confirm_unlisted: int | None = None) -> TargetImportSummary:
    table = read_table(data, "housing_targets")
    done = unit.con.execute(
        "SELECT import_id, imported_at, counts, file_name FROM target_imports WHERE digest = ?", [table.digest]
    ).fetchone()
    current = _current(unit)
    older = done is not None and current is not None and current[0] != done[0]
    if done is not None and not (older and reapply):
        at = done[1].date().isoformat()
        summary = TargetImportSummary(
            rows=table.rows, encoding=table.encoding, households=int(json.loads(done[2]).get("households", 0)),
            unchanged=table.rows, preview=not apply, already_imported=True, already_imported_at=done[1].isoformat(),
            import_id=done[0], current_import_id=current[0] if current else done[0],
            message_ja=f"このファイルは {at} に取込済みで、現在の対象者リストです（変更なし）。",
            message_en=f"Unchanged: this file was already imported on {at} and is the current target list.",
        )
        if older:
            assert current is not None
            now_at = current[2].date().isoformat()
            summary.superseded_by = current[0]
            summary.unchanged = 0
            summary.message_ja = (
                f"何も変更していません: このファイルは {at} に取り込んだ古い対象者リスト（{done[0]}、{done[3]}）です。"
                f"現在の対象者リストは {now_at} に反映した {current[1]}（{current[0]}）で、このファイルより新しいものです。"
                "このファイルに無い人は対象外のままです。古いリストを改めて現在のリストにするときは、"
                "再反映（--reapply）を指定して取り込んでください。")
            summary.message_en = (
                f"Nothing changed: this file is an older target list, imported on {at} ({done[0]}, {done[3]}). "
                f"The current target list is {current[1]} ({current[0]}), applied on {now_at}, which is newer. "
                "People missing from this file stay unlisted. To make this older list the current one again, "
                "import it deliberately with --reapply.")
        summary.counts = _counts(summary)
        unit.note(target=done[0], rows=table.rows, already_imported=True, older=older, preview=not apply)
        return summary
    clean, issues = validate_targets(table)
    if len(issues):
        raise _refusal(issues)
    summary = TargetImportSummary(
        rows=table.rows, encoding=table.encoding, households=int(clean["household_id"].nunique()), preview=not apply,
    )
    _stage(unit, clean)
    try:
        _compare(unit, summary)
        if summary.unlisted and _large_change(unit, summary.unlisted):
            summary.needs_confirmation = summary.unlisted
            if apply and confirm_unlisted != summary.unlisted:
                raise InvalidInput(
                    f"This list would take {summary.unlisted:,} people off the target list; nothing was applied. "
                    f"If that is right, import it again confirming the number ({summary.unlisted}).",
                    f"この対象者リストを反映すると {summary.unlisted:,} 人が対象外になります。何も反映していません。"
                    f"誤りでなければ、人数（{summary.unlisted:,} 人）を確認したうえで改めて取り込んでください。",
                    reason="confirmation_needed", unlisted=summary.unlisted,
                )
        if apply:
            _apply(unit)
            summary.applied = True
            summary.counts = _counts(summary)
            if done is not None:  # an older list, applied again on purpose
                summary.import_id, summary.reapplied = done[0], True
                unit.con.execute("INSERT INTO target_reapplications VALUES (?, ?, ?, ?)",
                                 [done[0], unit.now, unit.user_id, json.dumps(summary.counts)])
            else:
                summary.import_id = "T" + uuid.uuid4().hex[:11].upper()
                unit.con.execute(
                    "INSERT INTO target_imports VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [summary.import_id, table.digest, file_name, table.encoding, table.rows,
                     json.dumps(summary.counts), unit.now, unit.user_id],
                )
            summary.current_import_id = summary.import_id
    finally:
        _drop_stage(unit)
    summary.counts = _counts(summary)
    verb_en, verb_ja = ("Imported", "取り込みました") if apply else ("Preview (nothing applied)", "確認のみ（未反映）")
    if done is not None:
        verb_en, verb_ja = (("Re-applied the older list", "古いリストを再反映しました") if apply
                            else ("Preview of re-applying the older list (nothing applied)", "古いリストの再反映の確認のみ（未反映）"))
        summary.import_id = done[0]
    summary.message_en = (f"{verb_en}: {summary.rows} rows; new {summary.new}, changed {summary.changed + summary.relisted}, "
                          f"no longer listed {summary.unlisted}, unchanged {summary.unchanged}.")
    summary.message_ja = (f"{verb_ja}: {summary.rows:,} 行。新規 {summary.new:,}、変更 {summary.changed + summary.relisted:,}、"
                          f"対象外 {summary.unlisted:,}、変更なし {summary.unchanged:,}。")
    unit.note(target=summary.import_id, preview=not apply, encoding=table.encoding, reapplied=done is not None,
              **summary.counts)
    return summary


# ------------------------------------------------------------------------------ as an incoming file
KIND = "housing_targets"
labels.register("package", {KIND: ("対象者リスト", "target list")})
#: What a preview counts, in words (the confirmation box's table).
OUTCOMES: dict[str, tuple[str, str]] = {
    "new": ("新規", "new"), "changed": ("変更", "changed"), "relisted": ("再掲載", "listed again"),
    "unchanged": ("変更なし", "unchanged"), "unlisted": ("対象外となる人", "no longer listed"),
}


def _preview_file(unit: Unit, received: incoming.Received) -> incoming.Changes:
    _name, data = received.only_member()
    summary = _run(unit, data, received.file_name, apply=False, reapply=bool(received.options["reapply"]))
    return incoming.Changes(
        summary.rows, {k: int(getattr(summary, k)) for k in OUTCOMES}, summary.message_ja, summary.message_en,
        already_imported=summary.already_imported, detail=summary)


def _apply_file(unit: Unit, received: incoming.Received) -> TargetImportSummary:
    _name, data = received.only_member()
    options = received.options
    return _run(unit, data, received.file_name, apply=True, reapply=bool(options["reapply"]),
                confirm_unlisted=options["confirm_unlisted"])


#: F0 as an incoming file (workbench.files.incoming): the housing system's extract, a plain CSV (UTF-8, BOM or
#: CP932) or a package made with the housing system's key file; recorded in the media ledger, the plain file
#: removed after the import (C9, C14).
SPEC: incoming.IncomingFileSpec[TargetImportSummary] = incoming.IncomingFileSpec(
    kind=KIND, sender="housing_system", permission=Permission.TARGETS_IMPORT,
    label_ja="対象者リストの取込", label_en="target list import", file_ja="対象者リスト", file_en="target list",
    preview=_preview_file, apply=_apply_file, count=lambda summary: summary.rows,
    already=lambda summary: summary.already_imported and not summary.applied, bare=True, outcomes=OUTCOMES,
    options={"reapply": False, "confirm_unlisted": None})
_services = incoming.register(SPEC, preview="targets.preview_targets", import_="targets.import_targets")
#: F0 step 1: the same checks and counts as :func:`import_targets`, with nothing applied (``detail`` is the
#: :class:`TargetImportSummary`, ``needs_confirmation`` included).  ``source``: the file's bytes or its path.
preview_targets = _services.preview
#: F0: validate the whole target list and apply it in one transaction (or refuse it whole).
#:
#: A file already imported changes nothing.  If it is an *older* list than the current one, the summary says
#: so (``superseded_by``); ``reapply=True`` applies it again on purpose, making it the current list (再反映).
#: A list that would take more people off the list than the workspace's threshold is applied only when
#: ``confirm_unlisted`` names exactly that number (the preview says it: ``detail.needs_confirmation``).
import_targets = _services.import_
