"""F1: bulk registration of Individual Numbers (個人番号一括登録).

Two sources feed it: the collection contractor's digitised returns (layout
``contractor_return``: one row per returned form, keyed by the person number of the
collection list) and the My Number portal download (layout ``portal_download``: LoGo
form submissions, matched to the target list by the four basic items).

Every row is checked as part of the whole batch, then

* **registered** — a valid number (C2) for a listed, living person in the target list
  (C1) whose identity check is recorded as done (C3), held by no one else;
* **already_registered** — the person already holds this very number: nothing changes;
* **review** — the person already holds a *different* number: it is not overwritten but
  queued for a registrar (C7, :func:`review_queue`, :func:`resolve_review`);
* **returned** — anything else: the row goes on the return list (差戻リスト) with its
  line number and a reason code from :data:`REASONS` (Japanese and English).

All of it happens in one transaction (:func:`workbench.core.workspace.service`): the new
numbers are inserted set-based (one ``INSERT … SELECT`` from an Arrow table, numbers
encrypted with :class:`~workbench.core.numbers.NumberCipher` and indexed with the HMAC
:class:`~workbench.core.numbers.BlindIndex`), the return list is written as a transfer
package with its media-ledger entry (C9), and the file's SHA-256 is recorded so the
same file imported again changes nothing.  A structurally broken file (empty,
header only, wrong columns, wrong field count, bad encoding) is refused as a whole by
:mod:`workbench.files.formats`.  The audit record holds counts only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.core import labels
from workbench.core.errors import InvalidInput, NotFound, PermissionDenied
from workbench.core.numbers import REASONS as NUMBER_REASONS
from workbench.core.numbers import BlindIndex, mask_number, validate_numbers
from workbench.core.paging import ListSpec, Page, PageRequest, SortKey, fetch_page
from workbench.core.permissions import Permission
from workbench.core.workspace import Session, Unit, service
from workbench.files import formats, incoming
from workbench.files.media import write_outgoing
from workbench.intake import matching

__all__ = [
    "CONTRACTOR_SPEC",
    "KINDS",
    "OUTCOMES",
    "PORTAL_SPEC",
    "REASONS",
    "REVEAL_REASONS",
    "RegistrationSummary",
    "ReviewItem",
    "ReviewNumbers",
    "hold_review",
    "preview_registration",
    "register",
    "resolve_review",
    "reveal_review_numbers",
    "review_page",
    "review_queue",
]

Source = Literal["contractor", "portal"]

#: Layout of each source in :data:`workbench.files.formats.LAYOUTS`.
SOURCE_LAYOUTS: dict[str, str] = {"contractor": "contractor_return", "portal": "portal_download"}

#: Outcomes of a row, in the order the summary lists them.
OUTCOMES = ("registered", "already_registered", "review", "returned")

#: Why a row was returned (差戻理由): code → (Japanese, English), for staff and the contractor.
REASONS: dict[str, tuple[str, str]] = {
    **NUMBER_REASONS,
    "duplicate_row": (
        "前の行と同じ内容の重複行です（1回だけ処理しました）",
        "This row repeats an earlier row exactly (it was processed once)",
    ),
    "unknown_person": (
        "宛名番号が対象者リストにありません",
        "The person number is not in the target list",
    ),
    "not_listed": (
        "対象者リストから外れている人です（転出・辞退など）",
        "The person is no longer on the target list (moved out, withdrew, etc.)",
    ),
    "deceased": (
        "死亡により対象外の人です",
        "The person has died and is no longer covered",
    ),
    "identity_not_checked": (
        "本人確認（番号確認・身元確認）が済んでいません",
        "The identity check (number and identity confirmation) has not been done",
    ),
    "number_repeated_in_file": (
        "同じ個人番号がファイル内で別の人の番号として記載されています",
        "The same Individual Number is given for another person elsewhere in this file",
    ),
    "person_repeated_in_file": (
        "同じ人について、ファイル内で異なる個人番号が記載されています",
        "Different Individual Numbers are given for this person in this file",
    ),
    "number_held_by_other": (
        "この個人番号は既に別の人の番号として登録されています",
        "This Individual Number is already registered for another person",
    ),
    "portal_no_match": (
        "氏名・生年月日などが対象者リストの誰とも一致しません",
        "The name, birth date and other details match no one in the target list",
    ),
    "portal_name_mismatch": (
        "氏名が対象者リストと一致しません（フリガナと生年月日は一致）",
        "The name does not match the target list (the kana and birth date do)",
    ),
    "portal_birth_date_mismatch": (
        "生年月日が対象者リストと一致しません（氏名は一致）",
        "The birth date does not match the target list (the name does)",
    ),
    "portal_birth_date_unreadable": (
        "生年月日を日付として読み取れません",
        "The birth date cannot be read as a date",
    ),
    "portal_sex_mismatch": (
        "性別が対象者リストと一致しません（氏名と生年月日は一致）",
        "The sex does not match the target list (the name and birth date do)",
    ),
    "portal_address_mismatch": (
        "住所が対象者リストと一致しません（氏名と生年月日は一致）",
        "The address does not match the target list (the name and birth date do)",
    ),
    "portal_ambiguous": (
        "対象者リストに同じ氏名・生年月日の人が複数いて、1人に特定できません",
        "Several people in the target list share this name and birth date; the person cannot be identified",
    ),
}
labels.register("return_reason", REASONS)
#: A row's outcome in words (the summary, the chart and the incoming file's confirmation box).
OUTCOME_WORDS: dict[str, tuple[str, str]] = {
    "registered": ("登録", "registered"), "already_registered": ("登録済み（同じ番号）", "already registered (same number)"),
    "review": ("要確認（番号相違）", "to review (another number held)"), "returned": ("差戻し", "returned"),
}
labels.register("registration_outcome", OUTCOME_WORDS)
labels.register("source", {"contractor": ("収集委託事業者の返送分", "contractor returns"),
                           "portal": ("マイナポータル", "My Number portal")})
#: A number that differs from the one held waits for a person's decision (確認待ち).
labels.register("review_status", {"pending": ("確認待ち", "waiting for review"), "accepted": ("受入れ", "accepted"),
                                  "rejected": ("却下", "rejected"), "held": ("保留", "on hold")})
#: Why a registrar shows both numbers of a review in full (issue 20 item 11): the reason is recorded with
#: the reveal in the audit log (as its code: free text could carry personal data into the log).
REVEAL_REASONS: dict[str, tuple[str, str]] = {
    "id_documents": ("本人確認書類（通知カード・マイナンバーカード等）との照合", "checking against the identity documents"),
    "contractor_check": ("収集委託事業者への確認", "checking with the collection contractor"),
    "person_inquiry": ("本人からの問合せへの対応", "answering the person's inquiry"),
}
labels.register("reveal_reason", REVEAL_REASONS)
labels.register("package", {"return_list": ("差戻リスト", "return list")})

#: Values of the 本人確認 column that mean "checked" (after NFKC and trimming).
IDENTITY_CHECKED = frozenset({"1", "済", "済み", "確認済", "確認済み", "○", "〇", "TRUE", "Y", "YES"})

#: At most this many returned rows are listed in a summary (the package has them all).
SUMMARY_RETURN_LIMIT = 1000

_RETURN_COLUMNS = ("line", "reason_code", "reason_ja", "reason_en", "person_id", "submission_id")


# ------------------------------------------------------------------------------ results


@dataclass
class RegistrationSummary:
    """What a registration did (or, for a preview, would do): counts only, no numbers.

    ``outcomes``: rows by outcome (:data:`OUTCOMES`); ``reasons``: returned rows by
    reason code (:data:`REASONS`); ``returns``: the first returned rows (line, reason,
    no personal data); ``return_list``: the media-ledger entry of the return-list
    package and ``return_list_path`` its file.  ``already_imported``: this exact file
    (same SHA-256) was imported before, on ``imported_at`` by ``imported_by``; nothing
    was changed.
    """

    source: str
    file_name: str
    digest: str
    rows: int
    preview: bool
    already_imported: bool
    import_id: str | None
    imported_at: dt.datetime | None
    imported_by: str | None
    encoding: str | None
    outcomes: dict[str, int]
    reasons: dict[str, int]
    returns: list[dict[str, Any]] = field(default_factory=list)
    return_list: dict[str, Any] | None = None
    return_list_path: str | None = None

    @property
    def registered(self) -> int:
        return self.outcomes.get("registered", 0)

    @property
    def returned(self) -> int:
        return self.outcomes.get("returned", 0)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            out[key] = value.isoformat() if isinstance(value, dt.datetime) else value
        return out


@dataclass(frozen=True)
class ReviewItem:
    """One pending C7 review: a person's held number and a different one received (masked)."""

    review_id: str
    person_id: str
    import_id: str
    line: int
    source: str
    held_number_masked: str | None
    new_number_masked: str
    status: str
    created_at: dt.datetime
    created_by: str

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in self.__dict__.items()}


# ------------------------------------------------------------------------------ helpers


def _clean(series: pd.Series) -> pa.Array:
    """IDs and flags as written, NFKC-normalised and trimmed (Arrow kernels, no Python loop)."""
    return pc.utf8_trim_whitespace(pc.utf8_normalize(_as_arrow(series), "NFKC"))


def _codes(values: Any) -> np.ndarray:
    """Integer codes of a text column in order of first appearance (missing is one code)."""
    arr = values if isinstance(values, pa.Array) else pa.array(values, type=pa.string(), from_pandas=True)
    encoded = pc.dictionary_encode(pc.fill_null(arr, "\x00missing"))
    return np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)


def _repeated(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The rows of ``rows`` (ascending) whose value in ``values`` (integers) occurs on at least one other
    row of ``rows``, ascending.  Dense codes are counted; other integers go through a hash table (no sort)."""
    if rows.size < 2:
        return rows[:0]
    v = values[rows]
    if v.min() >= 0 and v.max() < 4 * v.size:
        hit = np.bincount(v)[v] > 1
    else:
        hit = pd.Series(v).duplicated(keep=False).to_numpy()
    out: np.ndarray = rows[hit]
    return out


def _duplicated(parts: list[pa.Array | np.ndarray], first_codes: np.ndarray | None = None) -> np.ndarray:
    """True for each row whose key (all of ``parts``, missing as ``""``) appeared on an earlier row.

    An exact repeat repeats its first part too, so only the rows whose first part occurs more than
    once are compared in full (``first_codes``: integer codes of the first part, missing as ``""``, if
    the caller has them; in a return with a million rows a few thousand such rows at most).
    """
    n = len(parts[0]) if parts else 0
    out = np.zeros(n, dtype=bool)
    if n < 2:
        return out
    if first_codes is None:
        first_codes = _codes(pc.fill_null(_text(parts[0]), ""))
    maybe = _repeated(first_codes, np.arange(n))
    if maybe.size < 2:
        return out
    take = pa.array(maybe, type=pa.int64())
    codes = np.stack([_codes(pc.fill_null(_text(p).take(take) if isinstance(p, pa.Array) else _text(p[maybe]), ""))
                      for p in parts], axis=1)
    _values, first = np.unique(codes, axis=0, return_index=True)
    repeat = np.ones(maybe.size, dtype=bool)
    repeat[first] = False
    out[maybe] = repeat
    return out


def _conflicts(group: np.ndarray, other: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Rows in ``mask`` whose ``group`` value comes with more than one ``other`` value among ``mask`` rows.

    ``group``: integer codes (equal values, equal codes); ``other``: any values.  Only the rows whose
    group value occurs on two or more ``mask`` rows can conflict; the others are not looked at.
    """
    out = np.zeros(len(mask), dtype=bool)
    rows = _repeated(group, np.flatnonzero(mask))
    if rows.size < 2:
        return out
    g = group[rows]
    o = _codes(np.asarray(other, dtype=object)[rows])
    order = np.argsort(g, kind="stable")
    gs, os_ = g[order], o[order]
    start = np.concatenate([[True], gs[1:] != gs[:-1]])
    starts = np.flatnonzero(start)
    bad = np.minimum.reduceat(os_, starts) != np.maximum.reduceat(os_, starts)
    out[rows[order[bad[np.cumsum(start) - 1]]]] = True
    return out


def _text(values: pa.Array | np.ndarray) -> pa.Array:
    """An Arrow string array of a column (an object array of text and ``None`` converted)."""
    return values if isinstance(values, pa.Array) else pa.array(values, type=pa.string(), from_pandas=True)


def _blobs(values: list[bytes]) -> pa.Array:
    return pa.array(values, type=pa.binary())


def _as_arrow(series: pd.Series) -> pa.Array:
    """One Arrow string array for a text column.

    A large file is read in blocks, so the column may be a multi-chunk Arrow array;
    ``validate_numbers`` takes a Series of it for non-text values, hence combine here.
    """
    arr = pa.array(series, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.string())


def _nullable(series: pd.Series) -> pa.Array:
    """Text column with ``""`` as null."""
    values = series.astype(str).to_numpy(dtype=object)
    return pa.array(values, type=pa.string(), mask=values == "")


#: Every reason a row may be returned for, by number (0: none), for the per-row codes of a plan.
_REASON_CODES: tuple[str, ...] = ("", *REASONS)
_REASON_NUMBER = {code: i for i, code in enumerate(_REASON_CODES) if code}


class _Reasons:
    """Per row the first reason found, as a small integer (:data:`_REASON_CODES`; 0 while the row is open)."""

    def __init__(self, n: int) -> None:
        self.code = np.zeros(n, dtype=np.int16)

    def open(self) -> np.ndarray:
        """The rows with no reason yet."""
        return np.asarray(self.code == 0)

    def set(self, mask: np.ndarray, reason: str) -> None:
        """Give ``reason`` to rows in ``mask`` that have no reason yet (the first reason wins)."""
        self.code[mask & (self.code == 0)] = _REASON_NUMBER[reason]

    def set_each(self, mask: np.ndarray, reasons: np.ndarray) -> None:
        """Give each open row in ``mask`` its own reason from ``reasons`` (codes, one per row)."""
        rows = np.flatnonzero(mask & (self.code == 0))
        self.code[rows] = [_REASON_NUMBER[str(r)] for r in reasons[rows]]

    def words(self, rows: np.ndarray) -> np.ndarray:
        """The reason codes (text) of ``rows``."""
        words: np.ndarray = np.asarray(_REASON_CODES, dtype=object)[self.code[rows]]
        return words


def _person_state(unit: Unit, person_ids: pa.Array,
                  rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """C1 looked up: whether each of ``rows``' person (``person_ids``: an Arrow string array, one per row)
    is in the target list, listed, and deceased, and the person's row in it (-1 if not found) — one
    set-based join against ``persons``, as arrays over all the rows (False and -1 for rows not asked).
    Touches only the database (it may run beside other work)."""
    n = len(person_ids)
    found = np.zeros(n, dtype=bool)
    listed = np.zeros(n, dtype=bool)
    deceased = np.zeros(n, dtype=bool)
    target_row = np.full(n, -1, dtype=np.int64)
    if not rows.size:
        return found, listed, deceased, target_row
    at_rows = pa.array(rows, type=pa.int64())
    probe = pa.table({"row": at_rows, "person_id": person_ids if rows.size == n else person_ids.take(at_rows)})
    unit.con.register("reg_people", probe)
    try:
        state = unit.con.execute(
            "SELECT r.row, p.person_id IS NOT NULL AS found, coalesce(p.listed, FALSE) AS listed,"
            " coalesce(p.deceased, FALSE) AS deceased, coalesce(p.rowid, -1) AS target_row"
            " FROM reg_people r LEFT JOIN persons p USING (person_id)"
        ).to_arrow_table()
    finally:
        unit.con.unregister("reg_people")
    at = state["row"].to_numpy()
    found[at] = state["found"].to_numpy(zero_copy_only=False)
    listed[at] = state["listed"].to_numpy(zero_copy_only=False)
    deceased[at] = state["deceased"].to_numpy(zero_copy_only=False)
    target_row[at] = state["target_row"].to_numpy(zero_copy_only=False)
    return found, listed, deceased, target_row


def _person_codes(person_ids: pa.Array, target_row: np.ndarray) -> np.ndarray:
    """An integer per row for its person ID (equal IDs, equal codes; missing as ``""``): the target list's
    row of a person found there, a number past them for the IDs not found."""
    codes = target_row.copy()
    missing = codes < 0
    if missing.any():
        codes[missing] = _codes(pc.fill_null(person_ids.filter(pa.array(missing)), "")) + int(codes.max()) + 1
    return codes


def _check_person_state(reasons: _Reasons, state: tuple[np.ndarray, ...], mask: np.ndarray) -> None:
    """C1: the person must be in the target list, listed and not deceased (rows in ``mask``; ``state``
    from :func:`_person_state`, which asked about every row of ``mask``)."""
    found, listed, deceased = state[:3]
    reasons.set(mask & ~found, "unknown_person")
    reasons.set(mask & found & deceased, "deceased")
    reasons.set(mask & found & ~listed, "not_listed")


# ---------------------------------------------------------------------- portal matching


def _match_portal(unit: Unit, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Match portal rows to the target list by the four basic items (F1, C1).

    Candidates are found by birth date + normalised name; several candidates are told
    apart by kana, then sex and address.  Without a candidate, kana + birth date (→ the
    name differs) and name alone (→ the birth date differs) say which item failed.
    With one candidate, sex and address must agree too.  Returns (person_id or None,
    reason or None) per row.
    """
    n = len(frame)
    person = np.full(n, None, dtype=object)
    reason = np.full(n, None, dtype=object)
    rows = pd.DataFrame({
        "row": np.arange(n),
        "n": matching.normalize_name(frame["name"]).to_numpy(dtype=object),
        "k": matching.normalize_kana(frame["kana"]).to_numpy(dtype=object),
        "b": matching.normalize_date(frame["birth_date"]).to_numpy(),
        "s": matching.normalize_sex(frame["sex"]).to_numpy(dtype=object),
        "a": matching.normalize_address(frame["address"]).to_numpy(dtype=object),
        "ak": matching.address_key(frame["address"]).to_numpy(dtype=object),
    })
    people = unit.con.execute("SELECT person_id, name, kana, sex, birth_date, address FROM persons").df()
    cand = pd.DataFrame({
        "person_id": people["person_id"].to_numpy(dtype=object),
        "n": matching.normalize_name(people["name"]).to_numpy(dtype=object),
        "k": matching.normalize_kana(people["kana"]).to_numpy(dtype=object),
        "b": matching.normalize_date(people["birth_date"]).to_numpy(),
        "s": matching.normalize_sex(people["sex"]).to_numpy(dtype=object),
        "a": matching.normalize_address(people["address"]).to_numpy(dtype=object),
        "ak": matching.address_key(people["address"]).to_numpy(dtype=object),
    })
    bad_date = rows["b"].isna().to_numpy()
    both = rows.merge(cand, on=["n", "b"], suffixes=("", "_p"))
    # several candidates: keep those agreeing on kana, then on sex and address
    size = both.groupby("row")["person_id"].transform("size")
    multi = size > 1
    if multi.any():
        kana_ok = both["k"] == both["k_p"]
        has_kana = kana_ok.groupby(both["row"]).transform("any")
        both = both[~multi | ~has_kana | kana_ok]
        size = both.groupby("row")["person_id"].transform("size")
        multi = size > 1
        if multi.any():
            full = (both["s"] == both["s_p"]) & ((both["a"] == both["a_p"]) | (both["ak"] == both["ak_p"]))
            has_full = full.groupby(both["row"]).transform("any")
            both = both[~multi | ~has_full | full]
    counts = both.groupby("row").size()
    ambiguous = counts.index[counts.to_numpy() > 1].to_numpy()
    reason[ambiguous] = "portal_ambiguous"
    single = both[both["row"].isin(counts.index[counts.to_numpy() == 1])]
    srow = single["row"].to_numpy()
    sex_ok = (single["s"] == single["s_p"]).to_numpy()
    addr_ok = ((single["a"] == single["a_p"]) | (single["ak"] == single["ak_p"])).to_numpy()
    reason[srow[~sex_ok]] = "portal_sex_mismatch"
    reason[srow[sex_ok & ~addr_ok]] = "portal_address_mismatch"
    person[srow[sex_ok & addr_ok]] = single["person_id"].to_numpy(dtype=object)[sex_ok & addr_ok]

    none = np.ones(n, dtype=bool)
    none[counts.index.to_numpy()] = False
    if none.any():
        rest = rows[none]
        by_kana = set(rest.merge(cand[["k", "b"]].dropna(), on=["k", "b"])["row"].tolist())
        by_name = set(rest.merge(cand[["n"]].dropna().drop_duplicates(), on="n")["row"].tolist())
        for r in rest["row"].to_numpy():
            if r in by_name:
                reason[r] = "portal_birth_date_unreadable" if bad_date[r] else "portal_birth_date_mismatch"
            elif r in by_kana:
                reason[r] = "portal_name_mismatch"
            elif bad_date[r]:
                reason[r] = "portal_birth_date_unreadable"
            else:
                reason[r] = "portal_no_match"
    return person, reason


# ------------------------------------------------------------------------------ the work


@dataclass
class _Plan:
    """The checked batch: per row the outcome, reason, person and number (internal)."""

    table: formats.Table
    source: str
    #: Per row the index of its outcome in :data:`OUTCOMES`.
    outcome: np.ndarray
    reasons: _Reasons
    person: np.ndarray
    submission: np.ndarray
    numbers: np.ndarray
    #: The rows whose number was indexed (ascending) and their blind indexes (Arrow binary, same order).
    indexed: np.ndarray
    index: pa.Array

    def index_of(self, rows: np.ndarray) -> pa.Array:
        """The blind indexes of ``rows`` (all of them indexed rows)."""
        return self.index.take(pa.array(np.searchsorted(self.indexed, rows), type=pa.int64()))


def _plan(unit: Unit, table: formats.Table, source: str) -> _Plan:
    frame = table.frame
    n = len(frame)
    reasons = _Reasons(n)

    check = validate_numbers(_as_arrow(frame["individual_number"]))
    numbers = check.numbers
    assert check.keys is not None
    identity_text = _clean(frame["identity_checked"])
    identity = pc.is_in(identity_text, value_set=pa.array(sorted(IDENTITY_CHECKED))).to_numpy(zero_copy_only=False)

    person_codes: np.ndarray | None = None
    match_reason: np.ndarray | None = None
    if source == "contractor":
        person_text = _clean(frame["person_id"])
        person = raw_person = person_text.to_numpy(zero_copy_only=False)
        submission = np.full(n, None, dtype=object)
        key_parts: list[pa.Array | np.ndarray] = [person_text, numbers, identity_text]
        person_arr = person_text
        asked = np.arange(n)
        in_list = np.ones(n, dtype=bool)
        who = raw_person
    else:
        submission = _clean(frame["submission_id"]).to_numpy(zero_copy_only=False)
        key_parts = [_as_arrow(frame[c]) for c in ("name", "kana", "sex", "birth_date", "address")]
        key_parts += [numbers, identity_text]
        person, match_reason = _match_portal(unit, frame)
        found = np.asarray(~pd.isna(person), dtype=bool)
        person_arr = pa.array(person, type=pa.string(), from_pandas=True)
        person_codes = _codes(person_arr)
        asked = np.flatnonzero(found)
        in_list = found
        who = np.where(found, person, "submission:" + submission.astype(str))

    # The target list is looked up in the database (C1) while this thread computes the blind index of
    # every valid number (the look-up of what is held needs them): the two cores work at once.  A valid
    # number's index is computed whatever the row's outcome; only the rows registered keep theirs.
    blind = BlindIndex(unit.workspace.keyring.key("blind_index"))
    valid_rows = np.flatnonzero(check.ok)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="registration-c1") as pool:
        looked_up = pool.submit(_person_state, unit, person_arr, asked)
        valid_index = _blobs(blind.digest_many(numbers[valid_rows].tolist()) if valid_rows.size else [])
        state = looked_up.result()
    if source == "contractor":
        # the target list's row of each person found is the person's code (equal IDs, equal rows)
        person_codes = _person_codes(person_text, state[3])

    # The reasons, the first found kept, in this order.
    reasons.set(_duplicated(key_parts, person_codes if source == "contractor" else None), "duplicate_row")
    duplicate = reasons.code == _REASON_NUMBER["duplicate_row"]
    reasons.set_each(~check.ok, check.reasons)
    if match_reason is not None:
        reasons.set_each(np.asarray(~pd.isna(match_reason), dtype=bool), match_reason)
    _check_person_state(reasons, state[:3], reasons.open() & in_list)
    reasons.set(~identity, "identity_not_checked")

    # In-file conflicts among rows with a valid number (exact duplicates aside).
    considered = check.ok & ~duplicate
    reasons.set(_conflicts(check.keys, who, considered), "number_repeated_in_file")
    real_person = considered & pc.fill_null(pc.not_equal(person_arr, ""), False).to_numpy(zero_copy_only=False)
    assert person_codes is not None
    reasons.set(_conflicts(person_codes, numbers, real_person), "person_repeated_in_file")

    # Compare with what is held, through the blind index (never the number in clear).
    registered, already, review, returned = (OUTCOMES.index(k) for k in
                                             ("registered", "already_registered", "review", "returned"))
    outcome = np.full(n, returned, dtype=np.int8)
    candidates = np.flatnonzero(reasons.open())  # all of them valid numbers
    index = valid_index.take(pa.array(np.searchsorted(valid_rows, candidates), type=pa.int64()))
    del valid_index
    held_any = bool(unit.con.execute("SELECT EXISTS (SELECT 1 FROM person_numbers)").fetchone()[0])  # type: ignore[index]
    if candidates.size and not held_any:
        outcome[candidates] = registered  # nothing is held yet (the first return): no one holds these numbers
    elif candidates.size:
        at_rows = pa.array(candidates, type=pa.int64())
        probe = pa.table({"row": at_rows, "person_id": person_arr.take(at_rows), "number_index": index})
        unit.con.register("reg_probe", probe)
        try:
            held = unit.con.execute(
                "SELECT r.row, coalesce(h.person_id <> r.person_id, FALSE) AS other,"
                " coalesce(h.person_id = r.person_id, FALSE) AS same, o.person_id IS NOT NULL AS has_own"
                " FROM reg_probe r"
                " LEFT JOIN person_numbers h ON h.number_index = r.number_index"
                " LEFT JOIN person_numbers o ON o.person_id = r.person_id"
            ).to_arrow_table()
        finally:
            unit.con.unregister("reg_probe")
        rows = held["row"].to_numpy()
        other = held["other"].to_numpy(zero_copy_only=False)
        same = held["same"].to_numpy(zero_copy_only=False)
        has_own = held["has_own"].to_numpy(zero_copy_only=False)
        held_by_other = np.zeros(n, dtype=bool)
        held_by_other[rows[other]] = True
        reasons.set(held_by_other, "number_held_by_other")
        outcome[rows[same]] = already
        outcome[rows[~same & ~other & has_own]] = review
        outcome[rows[~same & ~other & ~has_own]] = registered
    outcome[~reasons.open()] = returned
    return _Plan(table, source, outcome, reasons, person, submission, numbers, candidates, index)


def _rows(plan: _Plan, outcome: str) -> np.ndarray:
    """The rows (ascending) with this outcome."""
    return np.flatnonzero(plan.outcome == OUTCOMES.index(outcome))


def _counts(plan: _Plan) -> tuple[dict[str, int], dict[str, int]]:
    by_outcome = np.bincount(plan.outcome, minlength=len(OUTCOMES))
    outcomes = {k: int(by_outcome[i]) for i, k in enumerate(OUTCOMES)}
    by_reason = np.bincount(plan.reasons.code, minlength=len(_REASON_CODES))
    return outcomes, {c: int(by_reason[_REASON_NUMBER[c]]) for c in sorted(_REASON_NUMBER) if by_reason[_REASON_NUMBER[c]]}


def _returns(plan: _Plan, *, with_ids: bool) -> pd.DataFrame:
    """The return list rows: line, reason code and words; person/submission IDs if asked."""
    mask = _rows(plan, "returned")
    codes = plan.reasons.words(mask).astype(str)
    ja = np.array([REASONS[c][0] for c in codes], dtype=object)
    en = np.array([REASONS[c][1] for c in codes], dtype=object)
    data: dict[str, Any] = {"line": plan.table.lines[mask], "reason_code": codes, "reason_ja": ja, "reason_en": en}
    if with_ids:
        person = plan.person[mask]
        # a portal row's candidate is named only once all four items matched (C1)
        data["person_id"] = np.where(pd.isna(person), "", person).astype(str)
        sub = plan.submission[mask]
        data["submission_id"] = np.where(pd.isna(sub), "", sub).astype(str)
    return pd.DataFrame(data)


def _return_csv(frame: pd.DataFrame) -> bytes:
    """The return list as CSV, UTF-8 with BOM (opens in Excel), CRLF."""
    # the return_list layout is for people: every cell is neutralised against formula injection
    return formats.write_table(frame[list(_RETURN_COLUMNS)].astype(str), formats.RETURN_LIST, encoding="utf-8-sig")


def _check_source(source: str) -> str:
    if source not in SOURCE_LAYOUTS:
        raise InvalidInput(
            f"Unknown source {source!r}; use contractor or portal.",
            f"不明な取込元 {source!r} です。contractor（収集委託事業者）または portal（マイナポータル）を指定してください。",
            reason="unknown_source",
        )
    return source


def _earlier(unit: Unit, digest: str) -> tuple[Any, ...] | None:
    return unit.con.execute(
        "SELECT import_id, imported_at, imported_by, rows, outcomes, return_entry_id, encoding"
        " FROM registration_imports WHERE digest = ?",
        [digest],
    ).fetchone()


def _run(unit: Unit, data: bytes, source: str, file_name: str, *, preview: bool,
         expected: dict[str, int] | None = None, digest: str | None = None) -> RegistrationSummary:
    """Check (and unless ``preview``, register) one file's rows; ``digest``: the SHA-256 of ``data`` if the
    caller has it already (the incoming path hashed a plain file as it read it)."""
    _check_source(source)
    digest = digest or hashlib.sha256(data).hexdigest()
    unit.note(source=source, preview=preview)
    earlier = _earlier(unit, digest)
    if earlier is not None:
        import_id, at, by, rows, outcomes_json, earlier_entry, encoding = earlier
        stored = json.loads(outcomes_json)
        unit.note(target=import_id, already_imported=True, rows=rows)
        return RegistrationSummary(
            source=source, file_name=file_name, digest=digest, rows=rows, preview=preview, already_imported=True,
            import_id=import_id, imported_at=at, imported_by=by, encoding=encoding,
            outcomes=stored["outcomes"], reasons=stored["reasons"],
            return_list={"entry_id": earlier_entry} if earlier_entry else None,
        )
    table = formats.read_table(data, SOURCE_LAYOUTS[source], digest=digest)
    plan = _plan(unit, table, source)
    outcomes, reasons = _counts(plan)
    returns = _returns(plan, with_ids=not preview)
    shown = [
        {"line": int(r.line), "reason": r.reason_code, "reason_ja": r.reason_ja, "reason_en": r.reason_en}
        for r in returns.head(SUMMARY_RETURN_LIMIT).itertuples(index=False)
    ]
    unit.params.update(already_imported=False, rows=table.rows, **outcomes, **{f"reason_{k}": v for k, v in reasons.items()})
    summary = RegistrationSummary(
        source=source, file_name=file_name, digest=digest, rows=table.rows, preview=preview, already_imported=False,
        import_id=None, imported_at=None, imported_by=None, encoding=table.encoding,
        outcomes=outcomes, reasons=reasons, returns=shown,
    )
    if preview:
        return summary
    if expected is not None and {k: int(v) for k, v in expected.items() if v} != {k: v for k, v in outcomes.items() if v}:
        # what the person confirmed is not what this file would do now (the target list or the
        # numbers held moved since the preview): nothing is registered (issue 20 item 7)
        then = int(expected.get("registered", 0))
        raise InvalidInput(
            f"The file would now register {outcomes.get('registered', 0)} number(s) and return "
            f"{outcomes.get('returned', 0)}, not what the preview showed ({then} registered); preview it again. "
            "Nothing was registered.",
            f"確認時と結果が変わりました（確認時の登録 {then:,} 件、現在 {outcomes.get('registered', 0):,} 件・"
            f"差戻し {outcomes.get('returned', 0):,} 件）。もう一度確認してください。登録はしていません。",
            reason="selection_changed", count=int(outcomes.get("registered", 0)))

    import_id = "I" + uuid.uuid4().hex[:15].upper()
    unit.note(target=import_id)
    con = unit.con
    ring = unit.workspace.keyring
    cipher = unit.workspace.number_cipher()

    reg = _rows(plan, "registered")
    if reg.size:
        ids = plan.person[reg].tolist()  # a registered row's person is always a person ID (text)
        cts = cipher.encrypt_many(plan.numbers[reg].tolist(), ids, table="person_numbers", column="number_ct")
        new = pa.table({
            "person_id": pa.array(ids, type=pa.string()),
            "number_ct": _blobs(cts),
            "number_index": plan.index_of(reg),
        })
        del cts
        con.register("reg_new", new)
        try:
            con.execute(
                "INSERT INTO person_numbers SELECT person_id, number_ct, number_index, ?, ?, ?, ? FROM reg_new",
                [ring.current, source, unit.now, unit.user_id],
            )
        finally:
            con.unregister("reg_new")

    rev = _rows(plan, "review")
    if rev.size:
        review_ids = ["R" + uuid.uuid4().hex[:15].upper() for _ in range(rev.size)]
        cts = cipher.encrypt_many(plan.numbers[rev].tolist(), review_ids, table="registration_reviews", column="number_ct")
        queued = pa.table({
            "review_id": pa.array(review_ids, type=pa.string()),
            "line": pa.array(table.lines[rev], type=pa.int64()),
            "person_id": pa.array(plan.person[rev].astype(str), type=pa.string()),
            "number_ct": _blobs(cts),
            "number_index": plan.index_of(rev),
        })
        con.register("reg_review", queued)
        try:
            # the same new number already waiting for the same person is not queued twice
            con.execute(
                "INSERT INTO registration_reviews SELECT q.review_id, ?, q.line, q.person_id, q.number_ct,"
                " q.number_index, ?, ?, 'pending', ?, ?, NULL, NULL FROM reg_review q"
                " WHERE NOT EXISTS (SELECT 1 FROM registration_reviews r WHERE r.status IN ('pending', 'held')"
                "   AND r.person_id = q.person_id AND r.number_index = q.number_index)",
                [import_id, ring.current, source, unit.now, unit.user_id],
            )
        finally:
            con.unregister("reg_review")

    entry_id: str | None = None
    if len(returns):
        entry, path = write_outgoing(
            unit, kind="return_list", recipient="collection_contractor",
            members=[("return_list.csv", _return_csv(returns))], record_count=len(returns),
            approval_id=None, folder="return_lists",
        )
        entry_id = entry.entry_id
        summary.return_list = entry.to_dict()
        summary.return_list_path = str(path)
        kept = pa.table({
            "line": pa.array(returns["line"].to_numpy(), type=pa.int64()),
            "reason": pa.array(returns["reason_code"].to_numpy(dtype=object), type=pa.string()),
            "person_id": _nullable(returns["person_id"]),
            "submission_id": _nullable(returns["submission_id"]),
        })
        con.register("reg_returns", kept)
        try:
            con.execute(
                "INSERT INTO registration_returns SELECT ?, line, reason, person_id, submission_id FROM reg_returns",
                [import_id],
            )
        finally:
            con.unregister("reg_returns")

    con.execute(
        "INSERT INTO registration_imports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [import_id, digest, source, file_name, table.encoding, table.rows,
         json.dumps({"outcomes": outcomes, "reasons": reasons}), entry_id, unit.now, unit.user_id],
    )
    summary.import_id = import_id
    summary.imported_at = unit.now
    summary.imported_by = unit.user_id
    return summary


# ------------------------------------------------------------------------------ services


# The two files of F1 are incoming files (workbench.files.incoming, C9, C14): each is read through the one
# incoming path, recorded in the media ledger (who, when, what, how many) and, given as a file, removed
# after the import.  The contractor holds the collection contractor's key file (the collection list came
# in a package made for it), so its return may come as a package too; the portal's downloads are saved
# by a clerk from the LoGo form and come as the plain file only.
#: Each source's incoming kind (the package kind and the media ledger's kind).
KINDS: dict[str, str] = {"contractor": "contractor_return", "portal": "portal_download"}
labels.register("package", {"contractor_return": ("収集委託事業者の返送データ", "contractor's return"),
                            "portal_download": ("マイナポータルのダウンロードデータ", "portal download")})


def _digest_of(received: incoming.Received) -> str | None:
    """The SHA-256 of the one member, if the incoming path has it (a plain file is its own member)."""
    return received.file_digest if received.package is None else None


def _preview_file(source: str) -> Callable[[Unit, incoming.Received], incoming.Changes]:
    def preview(unit: Unit, received: incoming.Received) -> incoming.Changes:
        _name, data = received.only_member()
        summary = _run(unit, data, source, received.file_name, preview=True, digest=_digest_of(received))
        registered, returned = summary.outcomes.get("registered", 0), summary.outcomes.get("returned", 0)
        if summary.already_imported:
            ja, en = "このファイルは取込済みです（変更なし）。", "Unchanged: this file was already imported."
        else:
            ja = (f"{summary.rows:,} 行のうち個人番号 {registered:,} 件を登録します。"
                  f"登録できない {returned:,} 件は差戻リストになります。")
            en = f"{registered} of {summary.rows} row(s) would be registered; {returned} would be returned."
        return incoming.Changes(summary.rows, dict(summary.outcomes), ja, en,
                                already_imported=summary.already_imported, detail=summary)
    return preview


def _apply_file(source: str) -> Callable[[Unit, incoming.Received], RegistrationSummary]:
    def apply(unit: Unit, received: incoming.Received) -> RegistrationSummary:
        _name, data = received.only_member()
        return _run(unit, data, source, received.file_name, preview=False, digest=_digest_of(received),
                    expected=received.options["expected_outcomes"])
    return apply


def _spec(source: str) -> incoming.IncomingFileSpec[RegistrationSummary]:
    contractor = source == "contractor"
    return incoming.IncomingFileSpec(
        kind=KINDS[source], sender="collection_contractor" if contractor else "my_number_portal",
        permission=Permission.NUMBERS_REGISTER,
        label_ja="個人番号の一括登録（" + ("収集委託事業者の返送分" if contractor else "マイナポータル") + "）",
        label_en="bulk registration (" + ("contractor's return" if contractor else "portal download") + ")",
        file_ja="収集委託事業者の返送データ" if contractor else "マイナポータルのダウンロードデータ",
        file_en="contractor's return" if contractor else "portal download",
        preview=_preview_file(source), apply=_apply_file(source), count=lambda summary: summary.rows,
        already=lambda summary: summary.already_imported, bare=True, packages=contractor,
        outcomes=OUTCOME_WORDS, options={"expected_outcomes": None})


#: F1 from the contractor's return (a plain CSV, or a package made with the collection contractor's key file).
CONTRACTOR_SPEC = _spec("contractor")
#: F1 from the portal download (the plain file only: the portal makes no package).
PORTAL_SPEC = _spec("portal")
# The contractor's services keep the operation names the audit log has always had.
_contractor = incoming.register(CONTRACTOR_SPEC, preview="registration.preview_registration",
                                import_="registration.register")
_portal = incoming.register(PORTAL_SPEC, preview="registration.preview_portal", import_="registration.register_portal")
_SERVICES = {"contractor": _contractor, "portal": _portal}


def register(session: Session, file: str | Path | bytes, *, source: Source, file_name: str | None = None,
             expected_outcomes: dict[str, int] | None = None, expected_digest: str | None = None) -> RegistrationSummary:
    """F1: register the numbers of one file in one transaction; return list for the rest.

    C1 (target list), C2 (check digit), C3 (identity checked), C7 (a different number
    goes to review).  The same file again (same SHA-256) changes nothing and says so.
    ``file`` is the file's bytes (with ``file_name``) or its path; read through the one incoming path
    (``contractor_return`` / ``portal_download``), recorded in the media ledger.
    ``expected_outcomes`` is the preview the person confirmed (its ``outcomes``): if the file
    would now do something else, nothing is registered (the screen passes it; issue 20 item 7);
    ``expected_digest`` the previewed file's digest (another file is refused).
    """
    result: RegistrationSummary = _SERVICES[_check_source(source)].import_(
        session, file, file_name=file_name, expected_digest=expected_digest, expected_outcomes=expected_outcomes)
    return result


def preview_registration(session: Session, file: str | Path | bytes, *, source: Source,
                         file_name: str | None = None) -> incoming.IncomingPreview:
    """F1: the same checks as :func:`register`, counts and reasons only; nothing is written (``detail``
    is the :class:`RegistrationSummary`)."""
    result: incoming.IncomingPreview = _SERVICES[_check_source(source)].preview(session, file, file_name=file_name)
    return result


_REVIEW_COLUMNS = ("review_id, person_id, import_id, line, source, number_ct, key_version, status, created_at, created_by,"
                   " held_ct, held_v")

#: The registrar's queue of C7 reviews as a list that pages in the database (issue 11 item 6):
#: the pending ones, with the number held for the person (both decrypted only for the page, masked).
REVIEW_LIST = ListSpec(
    "番号相違の確認待ち", "pending number reviews",
    "registration_reviews",
    sorts={
        "created_at": SortKey("created_at", "受付日時", "received"),
        "review_id": SortKey("review_id", "確認番号", "review number"),
        "person_id": SortKey("person_id", "宛名番号", "person"),
        "import_id": SortKey("import_id, line", "取込番号・行", "import and line"),
    },
    default_sort="created_at", tiebreak="review_id",
    search=("review_id", "person_id", "import_id"),
    filters={"source": ("source", {"contractor": "contractor", "portal": "portal"}),
             "status": ("status", {"pending": "pending", "held": "held"})},
    groups={"source": "source", "status": "status"},
    where="status IN ('pending', 'held')",  # 保留 stays in the queue, shown as such (issue 20 item 11)
    # The number held for the person, for the page's rows only (person_numbers has one row per person).
    page_join="LEFT JOIN (SELECT person_id, number_ct AS held_ct, key_version AS held_v FROM person_numbers) AS held"
              " USING (person_id)",
)


def _review_item(unit: Unit, row: tuple[Any, ...]) -> ReviewItem:
    review_id, person_id, import_id, line, source, new_ct, new_v, status, at, by, held_ct, held_v = row
    new = unit.workspace.number_cipher(new_v).decrypt(new_ct, review_id, table="registration_reviews", column="number_ct")
    held = None
    if held_ct is not None:
        held = mask_number(unit.workspace.number_cipher(held_v).decrypt(
            held_ct, person_id, table="person_numbers", column="number_ct"))
    return ReviewItem(review_id, person_id, import_id, int(line), source, held, mask_number(new), status, at, by)


@service(Permission.NUMBERS_REGISTER)
def review_queue(unit: Unit) -> list[ReviewItem]:
    """C7: reviews waiting (a different number received for a person who has one; 保留 included), masked."""
    rows = unit.con.execute(
        f"SELECT {_REVIEW_COLUMNS} FROM {REVIEW_LIST.source} {REVIEW_LIST.page_join} WHERE {REVIEW_LIST.where}"
        " ORDER BY created_at, import_id, line").fetchall()
    items = [_review_item(unit, r) for r in rows]
    unit.note(count=len(items))
    return items


@service(Permission.NUMBERS_REGISTER)
def review_page(unit: Unit, request: PageRequest) -> Page[ReviewItem]:
    """C7: one page of the pending reviews, sorted and filtered in the database; ``total`` and the
    counts by source are over the whole queue.  Only the page's numbers are decrypted (masked)."""
    page = fetch_page(unit, REVIEW_LIST, request, _REVIEW_COLUMNS)
    return page.map(lambda r: _review_item(unit, r))


@service(Permission.NUMBERS_REGISTER)
def resolve_review(unit: Unit, review_id: str, *, accept: bool) -> ReviewItem:
    """C7: accept (the received number replaces the held one, re-encrypted) or reject a review.

    Who decided and when is recorded on the review.  Accepting is refused if the new
    number has meanwhile been registered for someone else, or the person is no longer
    listed.
    """
    unit.note(target=review_id, accept=accept)
    con = unit.con
    row = con.execute(
        "SELECT person_id, number_ct, number_index, key_version, status, source FROM registration_reviews"
        " WHERE review_id = ?",
        [review_id],
    ).fetchone()
    if row is None:
        raise NotFound(f"No review {review_id}.", f"確認待ち {review_id} はありません。")
    person_id, ct, index, version, status, source = row
    if status not in ("pending", "held"):
        raise InvalidInput(
            f"Review {review_id} has already been decided ({status}).",
            f"確認待ち {review_id} は既に処理済みです（{labels.ja(status, 'review_status')}）。",
            reason="already_decided",
        )
    if accept:
        holder = con.execute(
            "SELECT person_id FROM person_numbers WHERE number_index = ? AND person_id <> ?", [index, person_id]
        ).fetchone()
        if holder is not None:
            raise InvalidInput(
                "The received number is now registered for another person; it cannot replace the held one.",
                "受け付けた個人番号は現在別の人の番号として登録されているため、置き換えできません。",
                reason="number_held_by_other",
            )
        state = con.execute("SELECT listed, deceased FROM persons WHERE person_id = ?", [person_id]).fetchone()
        if state is None or not state[0] or state[1]:
            raise InvalidInput(
                "The person is no longer on the target list; the number cannot be registered.",
                "対象者リストから外れているため、個人番号を登録できません。",
                reason="not_listed",
            )
        number = unit.workspace.number_cipher(version).decrypt(ct, review_id, table="registration_reviews", column="number_ct")
        cipher = unit.workspace.number_cipher()
        new_ct = cipher.encrypt(number, person_id, table="person_numbers", column="number_ct")
        del number
        held = con.execute("SELECT 1 FROM person_numbers WHERE person_id = ?", [person_id]).fetchone()
        if held is not None:
            con.execute(
                "UPDATE person_numbers SET number_ct = ?, number_index = ?, key_version = ?, source = ?,"
                " registered_at = ?, registered_by = ? WHERE person_id = ?",
                [new_ct, index, cipher.key_version, source, unit.now, unit.user_id, person_id],
            )
        else:
            con.execute(
                "INSERT INTO person_numbers VALUES (?, ?, ?, ?, ?, ?, ?)",
                [person_id, new_ct, index, cipher.key_version, source, unit.now, unit.user_id],
            )
    con.execute(
        "UPDATE registration_reviews SET status = ?, decided_at = ?, decided_by = ? WHERE review_id = ?",
        ["accepted" if accept else "rejected", unit.now, unit.user_id, review_id],
    )
    r = con.execute(
        "SELECT review_id, person_id, import_id, line, source, status, created_at, created_by"
        " FROM registration_reviews WHERE review_id = ?",
        [review_id],
    ).fetchone()
    assert r is not None
    masked = mask_number(unit.workspace.number_cipher(version).decrypt(
        ct, review_id, table="registration_reviews", column="number_ct"))
    return ReviewItem(r[0], r[1], r[2], int(r[3]), r[4], None, masked, r[5], r[6], r[7])


# ------------------------------------------------------------------------------ review with the documents (issue 20 item 11)


@dataclass(frozen=True)
class ReviewNumbers:
    """Both numbers of one review in full, for the registrar comparing them with the documents."""

    review_id: str
    person_id: str
    held_number: str | None
    received_number: str
    reason: str

    def __repr__(self) -> str:  # never the numbers in a log or a traceback
        return f"ReviewNumbers(review_id={self.review_id!r}, reason={self.reason!r})"


def _review_row(unit: Unit, review_id: object) -> tuple[Any, ...]:
    if not isinstance(review_id, str) or not review_id.strip() or len(review_id) > 40:
        raise InvalidInput("Choose a review from the list.", "一覧から確認待ちを選んでください。", reason="no_review")
    row = unit.con.execute(
        "SELECT r.person_id, r.number_ct, r.key_version, r.status, n.number_ct, n.key_version FROM registration_reviews r"
        " LEFT JOIN person_numbers n USING (person_id) WHERE r.review_id = ?", [review_id]).fetchone()
    if row is None:
        raise NotFound(f"No review {review_id[:40]}.", f"確認待ち {review_id[:40]} はありません。")
    return tuple(row)


@service(Permission.NUMBERS_REVEAL, target="review_id")
def reveal_review_numbers(unit: Unit, review_id: str, *, reason: str) -> ReviewNumbers:
    """Both numbers of a review waiting for a decision — the one held and the one received — in full, so the
    registrar can compare them with the person's documents.  Needs ``numbers.reveal`` and the registrar's
    ``numbers.register``; a reason (one of :data:`REVEAL_REASONS`) is required and recorded with the reveal
    in the audit log; a decided review is not revealed."""
    unit.note(target=review_id if isinstance(review_id, str) else None)
    if not unit.session.can(Permission.NUMBERS_REGISTER):  # the registrar's queue only, not every revealer
        raise PermissionDenied(
            "Showing a review's numbers needs the registrar's permission numbers.register as well.",
            "番号相違の番号の表示には、番号登録の権限（numbers.register）も必要です。",
            permission=Permission.NUMBERS_REGISTER.value)
    if not isinstance(reason, str) or reason not in REVEAL_REASONS:
        raise InvalidInput("Give the reason for showing the numbers (choose it from the list); nothing was shown.",
                           "番号を表示する理由を一覧から選んでください。理由がなければ表示しません。", reason="reason_required")
    person_id, new_ct, new_v, status, held_ct, held_v = _review_row(unit, review_id)
    if status not in ("pending", "held"):
        raise InvalidInput(f"Review {review_id} has already been decided; its numbers are no longer shown here.",
                           f"確認待ち {review_id} は既に処理済みのため、番号は表示しません。", reason="already_decided")
    received = unit.workspace.number_cipher(new_v).decrypt(new_ct, review_id, table="registration_reviews",
                                                           column="number_ct")
    held = None if held_ct is None else unit.workspace.number_cipher(held_v).decrypt(
        held_ct, person_id, table="person_numbers", column="number_ct")
    unit.note(reason=reason, held=held is not None)
    return ReviewNumbers(review_id, person_id, held, received, reason)


@service(Permission.NUMBERS_REGISTER, target="review_id")
def hold_review(unit: Unit, review_id: str, *, hold: bool = True) -> ReviewItem:
    """保留: put a review waiting for a decision on hold (documents asked for, the person to be called), or
    (``hold=False``) back to 確認待ち.  A held review stays in the queue, shown as 保留, and may still be
    accepted or rejected; who held it and when are recorded on it."""
    unit.note(target=review_id if isinstance(review_id, str) else None, hold=bool(hold))
    _pid, _ct, _version, status, _h, _hv = _review_row(unit, review_id)
    want, was = ("held", "pending") if hold else ("pending", "held")
    if status != was:
        raise InvalidInput(
            f"Review {review_id} is {status}, not {was}; nothing was changed.",
            f"確認待ち {review_id} は「{labels.ja(status, 'review_status')}」のため、"
            + ("保留にできません。" if hold else "保留を解除できません。"), reason="wrong_status")
    unit.con.execute(
        "UPDATE registration_reviews SET status = ?, decided_at = ?, decided_by = ? WHERE review_id = ?",
        [want, unit.now if hold else None, unit.user_id if hold else None, review_id])
    r = unit.con.execute(
        "SELECT review_id, person_id, import_id, line, source, number_ct, key_version, status, created_at, created_by,"
        " NULL, NULL FROM registration_reviews WHERE review_id = ?", [review_id]).fetchone()
    assert r is not None
    return _review_item(unit, r)
