"""Bulk deletion of numbers and everything derived from them (個人番号一括削除, F7, C8).

II-6 ③ / III-7: "職員の指示した削除対象データをバッチ処理により削除する" — people who
moved out, failed screening, withdrew or died no longer need their numbers.  The flow:

1. **a deletion list**: the housing system's file (layout ``deletion_list``), refused
   whole with line numbers if any row names an unknown person or a bad reason — or a
   staff selection (people already on the target list, or every deceased person) — or the daily
   check's proposal of people off the target list who still hold a number
   (:mod:`workbench.lifecycle.unneeded`);
2. **preview**: counts by reason and by kind of record, nothing changed;
3. **request**: a second person's approval bound to exactly who is on the list (a
   digest of the selection) — a changed selection needs a new approval;
4. **apply**: one unit of work deletes the numbers and everything derived from them
   (registrations, reviews, integrated numbers, query requests and results,
   discrepancies, filings, corrections, suspensions, the person and an emptied
   household), marks the transfer copies that held them for destruction (local copies
   are deleted at once), writes the deletion record — requested by, approved by, when,
   method, counts, reasons, and no number, name or internal person number — and
   appends a signed entry to the deletion journal (:data:`JOURNAL_FILE`) outside the
   database, holding only keyed pseudonyms, so a restore of an older backup can
   delete them again (C12);
5. **purge** (:func:`purge`): DESIGN §3 — DELETE does not erase bytes, so the file is
   rebuilt under a new key (``workbench.core.rotation.rotate``) and the old key destroyed;
   the deletion record shows when (``erased_at``).  ``purge="now"`` does it right after
   the deletion (the person must also hold ``keys.manage``); ``"scheduled"`` leaves it to
   the operations staff or the nightly retention run.

The audit trail is kept (the law keeps it); it holds only pseudonyms.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb
import pandas as pd

from workbench.core import anchor, approvals, audit, labels
from workbench.core.composites import composite
from workbench.core.errors import InvalidInput, NotFound, StoreError
from workbench.core.paging import ListSpec, Page, PageRequest, SortKey, fetch_page
from workbench.core.permissions import Permission
from workbench.core.private_files import fsync_file
from workbench.core.workspace import Session, Unit, Workspace, service
from workbench.files import formats, incoming
from workbench.files.outgoing import digest_sql
from workbench.lifecycle import backup_retention

__all__ = [
    "APPROVAL_KIND",
    "DERIVED",
    "JOURNAL_FILE",
    "REASONS",
    "DeletionPreview",
    "DeletionRecord",
    "apply_deletion",
    "deletion_records",
    "import_deletion_list",
    "list_members_page",
    "preview_deletion",
    "preview_deletion_file",
    "purge",
    "read_journal",
    "reapply_journal",
    "request_deletion",
    "select_for_deletion",
]

APPROVAL_KIND = "person_deletion"
approvals.register_kind(APPROVAL_KIND, "個人番号等の一括削除", "bulk deletion of numbers")
METHOD = "batch_delete"
#: How many people a preview names (the counts cover everyone).
PREVIEW_PEOPLE = 1000
#: The signed deletion journal, beside the audit heads (no personal data: pseudonyms only).
JOURNAL_FILE = Path("audit") / "deletion_journal.jsonl"

#: Why a person's data is no longer needed (II-6 ② その妥当性).
REASONS: dict[str, tuple[str, str]] = {
    "moved_out": ("退去", "moved out"),
    "failed_screening": ("資格審査不合格", "failed screening"),
    "withdrew": ("入居辞退・申込取下げ", "withdrew"),
    "deceased": ("死亡", "deceased"),
    # proposed by the daily check of numbers no longer needed (workbench.lifecycle.unneeded, issue 22 item 4)
    "unlisted": ("対象者リストから外れた", "no longer on the target list"),
    "retention_expired": ("保存期間の経過（対象者リスト外）", "past retention (off the target list)"),
}
labels.register("deletion_reason", REASONS)
#: Why a row of a deletion list is refused.
labels.register("deletion_list_problem", {
    "missing_person": ("宛名番号なし", "no person ID"), "bad_reason": ("削除理由の誤り", "unknown reason"),
    "duplicate": ("同じ人の重複", "person listed twice"), "unknown_person": ("対象者リストにない人", "person not held"),
})
_REASON_ALIASES = {ja: code for code, (ja, _en) in REASONS.items()} | {
    "辞退": "withdrew", "取下げ": "withdrew", "不合格": "failed_screening", "転出": "moved_out",
}

#: Every table that holds a row about a person, and how that person's rows are found.  ``_del`` is
#: the temp table of people being deleted; ``_delreq`` their query requests.  A schema test fails if
#: a table with a person column is missing here.
DERIVED: tuple[tuple[str, str], ...] = (
    ("person_numbers", "person_id IN (SELECT person_id FROM _del)"),
    ("registration_reviews", "person_id IN (SELECT person_id FROM _del)"),
    ("registration_returns", "person_id IN (SELECT person_id FROM _del)"),
    ("collection_export_members", "person_id IN (SELECT person_id FROM _del)"),
    ("integrated_numbers", "person_id IN (SELECT person_id FROM _del)"),
    ("integrated_requests", "person_id IN (SELECT person_id FROM _del)"),
    ("linkage_export_members", "request_id IN (SELECT request_id FROM _delreq)"),
    ("result_problems", "request_id IN (SELECT request_id FROM _delreq)"),
    ("info_results", "person_id IN (SELECT person_id FROM _del)"),
    ("juki_results", "person_id IN (SELECT person_id FROM _del)"),
    ("discrepancies", "person_id IN (SELECT person_id FROM _del)"),
    ("declared_incomes", "person_id IN (SELECT person_id FROM _del)"),
    ("query_requests", "person_id IN (SELECT person_id FROM _del)"),
    ("procedure_members", "person_id IN (SELECT person_id FROM _del)"),
    ("use_suspensions", "person_id IN (SELECT person_id FROM _del)"),
    ("corrections", "person_id IN (SELECT person_id FROM _del)"),
    ("deletion_list_members", "person_id IN (SELECT person_id FROM _del)"),
    ("stats_source", "person_id IN (SELECT person_id FROM _del)"),
    ("stats_record_keys", "person_id IN (SELECT person_id FROM _del)"),
    ("unlisted_since", "person_id IN (SELECT person_id FROM _del)"),
    ("persons", "person_id IN (SELECT person_id FROM _del)"),
)

#: Labels for the preview, by table.
RECORD_LABELS: dict[str, tuple[str, str]] = {
    "person_numbers": ("個人番号", "Individual Numbers"),
    "registration_reviews": ("番号相違の確認待ち", "registration reviews"),
    "registration_returns": ("差戻記録", "return-list rows"),
    "collection_export_members": ("収集対象者リストの記録", "collection list entries"),
    "integrated_numbers": ("団体内統合利用番号", "integrated numbers"),
    "integrated_requests": ("統合番号の取得依頼", "integrated-number requests"),
    "linkage_export_members": ("連携ファイルの記録", "linkage file entries"),
    "result_problems": ("照会結果の不備記録", "result problems"),
    "info_results": ("情報照会結果", "information-query results"),
    "juki_results": ("住基ネット照会結果", "Juki-net results"),
    "discrepancies": ("相違", "discrepancies"),
    "declared_incomes": ("申告所得", "declared incomes"),
    "query_requests": ("照会依頼", "query requests"),
    "procedure_members": ("手続の対象者", "procedure members"),
    "use_suspensions": ("利用停止", "suspensions of use"),
    "corrections": ("訂正記録", "corrections"),
    "deletion_list_members": ("他の削除リストへの掲載", "entries on other deletion lists"),
    "unlisted_since": ("対象者リスト外の記録（日次点検）", "off-the-list marks (daily check)"),
    "persons": ("対象者（氏名・住所等）", "persons (name, address …)"),
    "households": ("世帯（全員削除の世帯）", "households left empty"),
    "housing_procedures": ("手続（申請者のみの届出）", "filings left without members"),
    "inquiries": ("問合せ記録の本人との紐付け", "inquiries linked to the person"),
}


@dataclass
class DeletionPreview:
    list_id: str
    source: str
    persons: int
    by_reason: dict[str, int]
    by_record: dict[str, int]
    transfer_copies: int
    message_ja: str = ""
    message_en: str = ""
    approval: approvals.Approval | None = None
    #: Who is on the list (internal person number, reason), at most :data:`PREVIEW_PEOPLE` of them.
    people: list[tuple[str, str]] = field(default_factory=list)
    #: Files not yet handed over that hold someone on the list: the deletion destroys them, so applying it
    #: needs their ledger entries named in ``discard_files`` (issue 22 item 5).
    pending_files: list[dict[str, Any]] = field(default_factory=list)
    #: SHA-256 over who is selected (as the approval binds it): what the person saw, handed back
    #: to :func:`apply_deletion` as ``expected_digest`` (issue 20 item 7).
    selection_digest: str = ""
    #: The housing system's file was imported before: nothing changed (the list it made is shown).
    already_imported: bool = False

    def consequence_ja(self) -> str:
        """What 削除を実行 does, in words, for the confirm beside the button."""
        return (f"{self.persons:,} 人の個人番号と関連データ（照会結果・相違・手続の記録など）を削除し、"
                f"送付用コピー {self.transfer_copies:,} 件に破棄の印を付けます。削除記録には人数と理由だけが残ります。"
                "取り消せません。")

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "approval"}
        if self.approval is not None:
            out["approval"] = self.approval.to_dict()
        return out


@dataclass
class DeletionRecord:
    deletion_id: str
    list_id: str | None
    requested_by: str
    approved_by: str | None
    approval_id: str | None
    applied_at: dt.datetime
    applied_by: str
    method: str
    persons: int
    reasons: dict[str, int]
    counts: dict[str, int]
    purge_mode: str
    erased_at: dt.datetime | None
    copies_marked: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in self.__dict__.items()}


_RECORD_COLUMNS = ("deletion_id, list_id, requested_by, approved_by, approval_id, applied_at, applied_by, method,"
                   " persons, reasons, counts, purge_mode, erased_at, copies_marked")


def _record(row: tuple[Any, ...]) -> DeletionRecord:
    values = list(row)
    values[9] = json.loads(values[9])
    values[10] = json.loads(values[10])
    return DeletionRecord(*values)


# ------------------------------------------------------------------------------ lists
def _reason(value: str) -> str | None:
    v = value.strip()
    if v in REASONS:
        return v
    return _REASON_ALIASES.get(v)


def _new_list(unit: Unit, source: str, rows: list[tuple[str, str, int | None]], *, digest: str | None,
              file_name: str | None) -> str:
    list_id = "D" + uuid.uuid4().hex[:11].upper()
    reasons: dict[str, int] = {}
    for _, r, _ in rows:
        reasons[r] = reasons.get(r, 0) + 1
    unit.con.execute("INSERT INTO deletion_lists VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?)",
                     [list_id, source, digest, file_name, len(rows), json.dumps(reasons, sort_keys=True),
                      unit.now, unit.user_id])
    members = pd.DataFrame({"person_id": [p for p, _, _ in rows], "reason": [r for _, r, _ in rows],
                            "line": pd.array([line for _, _, line in rows], dtype="Int64")})
    unit.con.register("_dlm", members)
    try:
        unit.con.execute("INSERT INTO deletion_list_members SELECT ?, person_id, reason, line FROM _dlm", [list_id])
    finally:
        unit.con.unregister("_dlm")
    unit.note(target=list_id, source=source, persons=len(rows), reasons=reasons)
    return list_id


def new_list(unit: Unit, source: str, rows: list[tuple[str, str, int | None]], *, digest: str) -> str:
    """A deletion list made by the workbench itself (``proposal``: the daily check of numbers no longer
    needed), in the caller's unit of work; the registrar reviews it like any other list."""
    return _new_list(unit, source, rows, digest=digest, file_name=None)


def _unknown_people(unit: Unit, person_ids: list[str]) -> set[str]:
    found = {r[0] for r in unit.con.execute(
        "SELECT person_id FROM persons WHERE person_id IN (SELECT unnest(?::VARCHAR[]))", [person_ids]).fetchall()}
    return set(person_ids) - found


def _read_list(unit: Unit, data: bytes) -> tuple[formats.Table, list[tuple[str, str, int | None]]]:
    """The housing system's deletion list (layout ``deletion_list``), checked whole: an unknown person, an
    unknown reason or a person twice refuses the whole file, naming the lines (never a value)."""
    table = formats.read_table(data, "deletion_list")
    frame = table.frame
    lines = [int(x) for x in table.lines.tolist()]
    problems: list[tuple[int, str]] = []
    rows: list[tuple[str, str, int | None]] = []
    seen: set[str] = set()
    for pid, reason_text, line in zip(frame["person_id"].tolist(), frame["reason"].tolist(), lines, strict=True):
        pid = str(pid).strip()
        reason = _reason(str(reason_text))
        if not pid:
            problems.append((line, "missing_person"))
        elif reason is None:
            problems.append((line, "bad_reason"))
        elif pid in seen:
            problems.append((line, "duplicate"))
        else:
            seen.add(pid)
            rows.append((pid, reason, line))
    unknown = _unknown_people(unit, [p for p, _, _ in rows])
    problems += [(int(line or 0), "unknown_person") for p, _, line in rows if p in unknown]
    if problems:
        problems.sort()
        shown = ", ".join(f"{line}" for line, _ in problems[:20])
        kinds = sorted({k for _, k in problems})
        raise InvalidInput(
            f"The deletion list was not imported: {len(problems)} row(s) are wrong "
            f"({'; '.join(labels.en(k, 'deletion_list_problem') for k in kinds)}) on line(s) {shown}. Nothing was changed.",
            f"削除対象者リストを取り込みませんでした。{len(problems):,} 行に誤りがあります"
            f"（{'、'.join(labels.ja(k, 'deletion_list_problem') for k in kinds)}）: {shown} 行目。何も変更していません。",
            reason=kinds[0], line=problems[0][0], rejected=len(problems),
        )
    return table, rows


def _earlier_list(unit: Unit, digest: str) -> tuple[str, str, int, Any] | None:
    """The list this very file made before (list ID, status, persons listed, when), if it was imported."""
    row = unit.con.execute("SELECT list_id, status, rows, created_at FROM deletion_lists WHERE digest = ?"
                           " ORDER BY created_at DESC LIMIT 1", [digest]).fetchone()
    return None if row is None else (str(row[0]), str(row[1]), int(row[2]), row[3])


def _already(unit: Unit, earlier: tuple[str, str, int, Any]) -> DeletionPreview:
    """The same file again: nothing changes.  A list still open is shown as it is now; one already applied
    or closed is named."""
    list_id, status, persons, at = earlier
    unit.note(target=list_id, already_imported=True)
    if status == "open":
        preview = _preview(unit, list_id)
        preview.already_imported = True
        preview.message_ja = "この削除対象者リストは取込済みで、実行待ちです（変更なし）。" + preview.message_ja
        preview.message_en = "Unchanged: this deletion list was already imported and waits to be applied. " + preview.message_en
        return preview
    when = at.date().isoformat()
    return DeletionPreview(
        list_id, "file", 0, {}, {}, 0, already_imported=True,
        message_ja=f"この削除対象者リストは {when} に取込済みで、処理も済んでいます（{list_id}、{persons:,} 人）。何も変更していません。",
        message_en=f"Unchanged: this deletion list was imported on {when} and has been dealt with ({list_id}, {persons} people).")


def _preview_file(unit: Unit, received: incoming.Received) -> incoming.Changes:
    """What importing the file would do: who would be put on a deletion list, by reason (nothing written)."""
    _name, data = received.only_member()
    table = formats.read_table(data, "deletion_list")
    earlier = _earlier_list(unit, table.digest)
    if earlier is not None:
        done = _already(unit, earlier)
        return incoming.Changes(table.rows, {}, done.message_ja, done.message_en, already_imported=True, detail=done)
    _table, rows = _read_list(unit, data)
    by_reason: dict[str, int] = {}
    for _pid, reason, _line in rows:
        by_reason[reason] = by_reason.get(reason, 0) + 1
    reasons_ja = "、".join(f"{REASONS[r][0]} {n:,}" for r, n in sorted(by_reason.items()))
    reasons_en = ", ".join(f"{REASONS[r][1]} {n}" for r, n in sorted(by_reason.items()))
    return incoming.Changes(
        len(rows), by_reason,
        f"{len(rows):,} 人（{reasons_ja}）の削除対象者リストを作成します。削除は承認の後に実行します。",
        f"A deletion list of {len(rows)} people ({reasons_en}) would be made; deleting them needs an approval.")


def _import_file(unit: Unit, received: incoming.Received) -> DeletionPreview:
    _name, data = received.only_member()
    table = formats.read_table(data, "deletion_list")
    earlier = _earlier_list(unit, table.digest)
    if earlier is not None:
        return _already(unit, earlier)
    table, rows = _read_list(unit, data)
    list_id = _new_list(unit, "file", rows, digest=table.digest, file_name=received.file_name)
    return _preview(unit, list_id)


#: The housing system's deletion list as an incoming file (workbench.files.incoming; issue 22 item 3): a plain
#: CSV or a package made with the housing system's key file, recorded in the media ledger, the plain file
#: removed after the import; importing it makes an open deletion list and previews it.
LIST_KIND = "deletion_list"
labels.register("package", {LIST_KIND: ("削除対象者リスト", "deletion list")})
SPEC: incoming.IncomingFileSpec[DeletionPreview] = incoming.IncomingFileSpec(
    kind=LIST_KIND, sender="housing_system", permission=Permission.DELETIONS_MANAGE,
    label_ja="削除対象者リストの取込", label_en="deletion list import", file_ja="削除対象者リスト",
    file_en="deletion list", preview=_preview_file, apply=_import_file,
    count=lambda preview: preview.persons, already=lambda preview: preview.already_imported, bare=True,
    outcomes=REASONS)

_list_services = incoming.register(SPEC, preview="deletion.preview_deletion_file", import_="deletion.import_deletion_list")
#: What importing the housing system's deletion list would do (who by reason; nothing written).
preview_deletion_file = _list_services.preview
#: Import the housing system's deletion list (layout ``deletion_list``) and preview the deletion.
#:
#: All or nothing: an unknown person, an unknown reason, a person twice or a wrong layout refuses the whole
#: file, naming the lines (never a value).  The same file again changes nothing (``already_imported``).
import_deletion_list = _list_services.import_


@service(Permission.DELETIONS_MANAGE)
def select_for_deletion(unit: Unit, *, person_ids: Iterable[str] = (), reason: str = "",
                        deceased: bool = False) -> DeletionPreview:
    """A staff selection (職員の指定): the named people, or (``deceased=True``) everyone marked deceased."""
    code = _reason(reason)
    if code is None:
        raise InvalidInput(f"Give a reason: {', '.join(REASONS)}.",
                           f"削除理由を指定してください: {'、'.join(f'{k}（{v[0]}）' for k, v in REASONS.items())}",
                           reason="bad_reason")
    ids = sorted({str(p).strip() for p in person_ids if str(p).strip()})
    if deceased:
        ids = sorted(set(ids) | {r[0] for r in unit.con.execute(
            "SELECT person_id FROM persons WHERE deceased").fetchall()})
    if not ids:
        raise InvalidInput("No one is selected.", "対象者が選ばれていません。", reason="empty")
    unknown = _unknown_people(unit, ids)
    if unknown:
        raise InvalidInput(f"{len(unknown)} of the selected people are not held; nothing was changed.",
                           f"選択した人のうち {len(unknown):,} 人は保有していません。何も変更していません。",
                           reason="unknown_person", rejected=len(unknown))
    list_id = _new_list(unit, "staff", [(p, code, None) for p in ids], digest=None, file_name=None)
    return _preview(unit, list_id)


def _open_list(unit: Unit, list_id: str) -> tuple[str, str]:
    row = unit.con.execute("SELECT source, status FROM deletion_lists WHERE list_id = ?", [list_id]).fetchone()
    if row is None:
        raise NotFound(f"No deletion list {list_id}.", f"削除対象者リスト {list_id} はありません。", reason="not_found")
    if row[1] != "open":
        raise InvalidInput(f"Deletion list {list_id} is {row[1]}, not open.",
                           f"削除対象者リスト {list_id} はすでに処理済みです。", reason="not_open")
    return str(row[0]), str(row[1])


_DIGEST = digest_sql("person_id || ':' || reason")


def _selection(con: duckdb.DuckDBPyConnection, list_id: str) -> dict[str, Any]:
    """Build ``_del`` / ``_delreq`` for the list; what an approval is bound to."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _del AS SELECT m.person_id, m.reason FROM deletion_list_members m"
        " WHERE m.list_id = ? AND EXISTS (SELECT 1 FROM persons p WHERE p.person_id = m.person_id)", [list_id])
    con.execute("CREATE OR REPLACE TEMP TABLE _delreq AS SELECT request_id FROM query_requests"
                " WHERE person_id IN (SELECT person_id FROM _del)")
    listed, persons, digest = con.execute(
        "SELECT (SELECT count(*) FROM deletion_list_members WHERE list_id = $l), count(*),"
        f" {_DIGEST} FROM _del",
        {"l": list_id}).fetchone()  # type: ignore[misc]
    return {"list_id": list_id, "listed": int(listed), "persons": int(persons), "selection_digest": str(digest)}


def _copies(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str, Any, int, int]]:
    """Ledger entries of transfer copies that held anyone in ``_del``:
    (entry, file, kind, deleted_at, everyone in it, of them to be deleted)."""
    return [tuple(r) for r in con.execute("""
        WITH e AS (
            SELECT x.ledger_entry AS entry_id, m.person_id FROM collection_exports x
              JOIN collection_export_members m USING (export_id) WHERE m.person_id IN (SELECT person_id FROM _del)
            UNION SELECT b.ledger_entry, r.person_id FROM integrated_batches b
              JOIN integrated_requests r USING (batch_id) WHERE r.person_id IN (SELECT person_id FROM _del)
            UNION SELECT b.ledger_entry, r.person_id FROM query_batches b
              JOIN query_requests r USING (batch_id) WHERE r.person_id IN (SELECT person_id FROM _del)
            UNION SELECT n.ledger_entry, d.person_id FROM notice_exports n
              JOIN discrepancies d ON d.notice_export = n.export_id WHERE d.person_id IN (SELECT person_id FROM _del)
            UNION SELECT l.ledger_entry, q.person_id FROM linkage_exports l
              JOIN linkage_export_members lm USING (export_id) JOIN query_requests q ON q.request_id = lm.request_id
              WHERE lm.request_id IN (SELECT request_id FROM _delreq)
            UNION SELECT r.return_entry_id, rr.person_id FROM registration_imports r
              JOIN registration_returns rr USING (import_id)
              WHERE r.return_entry_id IS NOT NULL AND rr.person_id IN (SELECT person_id FROM _del))
        SELECT m.entry_id, m.file_name, m.kind, m.deleted_at, m.record_count, count(DISTINCT e.person_id)
        FROM media_ledger m JOIN e USING (entry_id)
        WHERE m.direction = 'out' GROUP BY ALL ORDER BY m.entry_id""").fetchall()]


def _pending_files(copies: list[tuple[str, str, str, Any, int, int]]) -> list[dict[str, Any]]:
    """The copies still waiting in the workspace to be handed over (受け渡し前): deleting the people destroys
    them, so the preview names them and the deletion waits until the person confirms it knows."""
    return [{"entry_id": e, "file_name": f, "kind": k, "records": int(total), "persons_deleted": int(hit)}
            for e, f, k, deleted_at, total, hit in copies if deleted_at is None]


def _counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    counts = {table: int(con.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[0])  # type: ignore[index]
              for table, where in DERIVED}
    counts["deletion_list_members"] -= int(con.execute("SELECT count(*) FROM _del").fetchone()[0])  # type: ignore[index]
    counts["inquiries"] = int(con.execute(  # type: ignore[index]
        "SELECT count(*) FROM inquiries WHERE person_id IN (SELECT person_id FROM _del)").fetchone()[0])
    counts["households"] = int(con.execute(  # type: ignore[index]
        "SELECT count(*) FROM households h WHERE EXISTS (SELECT 1 FROM persons p WHERE p.household_id = h.household_id"
        " AND p.person_id IN (SELECT person_id FROM _del)) AND NOT EXISTS (SELECT 1 FROM persons p WHERE"
        " p.household_id = h.household_id AND p.person_id NOT IN (SELECT person_id FROM _del))").fetchone()[0])
    return counts


def _preview(unit: Unit, list_id: str) -> DeletionPreview:
    source, _ = _open_list(unit, list_id)
    sel = _selection(unit.con, list_id)
    by_reason = {r: int(n) for r, n in unit.con.execute(
        "SELECT reason, count(*) FROM _del GROUP BY reason ORDER BY reason").fetchall()}
    counts = _counts(unit.con)
    copies = _copies(unit.con)
    pending = _pending_files(copies)
    people = [(str(p), str(r)) for p, r in unit.con.execute(
        "SELECT person_id, reason FROM _del ORDER BY person_id LIMIT ?", [PREVIEW_PEOPLE]).fetchall()]
    reasons_ja = "、".join(f"{REASONS[r][0]} {n}" for r, n in by_reason.items())
    reasons_en = ", ".join(f"{REASONS[r][1]} {n}" for r, n in by_reason.items())
    unit.note(target=list_id, persons=sel["persons"], by_reason=by_reason, pending_files=len(pending))
    return DeletionPreview(
        list_id, source, sel["persons"], by_reason, counts, len(copies),
        f"{sel['persons']:,} 人（{reasons_ja}）の個人番号と関連データを削除します。"
        f"個人番号 {counts['person_numbers']:,} 件、照会結果 {counts['info_results'] + counts['juki_results']:,} 件、"
        f"送付用コピー {len(copies):,} 件に破棄の印を付けます。" + _pending_ja(pending),
        f"{sel['persons']:,} people ({reasons_en}) and everything derived from their numbers will be deleted: "
        f"{counts['person_numbers']:,} numbers, {counts['info_results'] + counts['juki_results']:,} query results; "
        f"{len(copies):,} transfer copies will be marked for destruction." + _pending_en(pending),
        people=people, pending_files=pending, selection_digest=sel["selection_digest"],
    )


def _pending_ja(pending: list[dict[str, Any]]) -> str:
    if not pending:
        return ""
    total = sum(f["records"] for f in pending)
    return (f"受け渡し前の送付ファイル {len(pending):,} 件（計 {total:,} 件分、他の人も含む）にこの削除の対象者が含まれ、"
            "削除するとこれらのファイルは破棄されます。先に受け渡すか、破棄を確認してから実行してください。")


def _pending_en(pending: list[dict[str, Any]]) -> str:
    if not pending:
        return ""
    total = sum(f["records"] for f in pending)
    return (f" {len(pending):,} files not yet handed over ({total:,} records in all, others included) hold people"
            " on this list and would be destroyed: hand them over first, or confirm their destruction.")


@service(Permission.DELETIONS_MANAGE, target="list_id")
def preview_deletion(unit: Unit, list_id: str) -> DeletionPreview:
    """Who and what will go: counts by reason and by kind of record (no personal data)."""
    return _preview(unit, list_id)


@service(Permission.DELETIONS_MANAGE, target="list_id")
def request_deletion(unit: Unit, list_id: str) -> DeletionPreview:
    """Ask a second person to approve deleting exactly the people now on this list."""
    preview = _preview(unit, list_id)
    if preview.persons == 0:
        raise InvalidInput("No one on this list is still held; there is nothing to delete.",
                           "このリストの対象者はすでに保有していません。削除するものはありません。", reason="empty")
    params = _selection(unit.con, list_id)
    preview.approval = approvals.request(unit, APPROVAL_KIND, params, {
        "list_id": list_id, "persons": preview.persons, "by_reason": preview.by_reason,
        "person_numbers": preview.by_record["person_numbers"], "transfer_copies": preview.transfer_copies})
    return preview


# ------------------------------------------------------------------------------ the deletion itself
def _erase(con: duckdb.DuckDBPyConnection, ws: Workspace, *, deletion_id: str, now: dt.datetime) -> tuple[dict[str, int], int]:
    """Delete everyone in ``_del`` and everything derived; mark transfer copies.  Caller's transaction."""
    copies = _copies(con)
    counts: dict[str, int] = {}
    con.execute("CREATE OR REPLACE TEMP TABLE _delhh AS SELECT DISTINCT household_id FROM persons"
                " WHERE person_id IN (SELECT person_id FROM _del)")
    con.execute("CREATE OR REPLACE TEMP TABLE _delproc AS SELECT DISTINCT procedure_id FROM procedure_members"
                " WHERE person_id IN (SELECT person_id FROM _del)")
    counts["inquiries"] = len(con.execute(
        "UPDATE inquiries SET person_id = NULL WHERE person_id IN (SELECT person_id FROM _del) RETURNING inquiry_id"
    ).fetchall())
    for table, where in DERIVED:
        counts[table] = int(con.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[0])  # type: ignore[index]
        con.execute(f"DELETE FROM {table} WHERE {where}")
    # Filings whose every member is gone go too; a filing with members left keeps no trace of the applicant.
    counts["housing_procedures"] = len(con.execute(
        "DELETE FROM housing_procedures h WHERE h.procedure_id IN (SELECT procedure_id FROM _delproc)"
        " AND NOT EXISTS (SELECT 1 FROM procedure_members m WHERE m.procedure_id = h.procedure_id) RETURNING procedure_id"
    ).fetchall())
    con.execute("UPDATE housing_procedures SET applicant_id = '-' WHERE applicant_id IN (SELECT person_id FROM _del)")
    counts["households"] = len(con.execute(
        "DELETE FROM households h WHERE h.household_id IN (SELECT household_id FROM _delhh)"
        " AND NOT EXISTS (SELECT 1 FROM persons p WHERE p.household_id = h.household_id) RETURNING household_id"
    ).fetchall())
    for entry_id, file_name, _kind, deleted_at, _total, _hit in copies:
        local = deleted_at is None
        if local:
            for folder in ("outgoing", "return_lists"):
                (ws.folder(folder) / file_name).unlink(missing_ok=True)
            con.execute("UPDATE media_ledger SET deleted_at = ? WHERE entry_id = ?", [now, entry_id])
        con.execute("INSERT INTO media_destructions VALUES (?, ?, 'person_deletion', ?, ?, NULL, NULL)",
                    [entry_id, deletion_id, now, now if local else None])
    for name in ("_delhh", "_delproc"):
        con.execute(f"DROP TABLE IF EXISTS {name}")
    return counts, len(copies)


def _check_expected(sel: dict[str, Any], expected_count: int | None, expected_digest: str | None) -> None:
    """The service does not trust the screen (issue 20 item 7): the caller hands back what the person
    saw — the preview's ``selection_digest`` or its count — and a selection that moved is refused."""
    if expected_count is None and not expected_digest:
        raise InvalidInput(
            "Preview the list first and pass what you saw (the preview's count or digest); nothing was deleted.",
            "先に件数を確認し、確認した内容（人数またはダイジェスト）を指定してください。削除はしていません。",
            reason="preview_required")
    moved = ((expected_digest and expected_digest != sel["selection_digest"])
             or (expected_count is not None and int(expected_count) != sel["persons"]))
    if moved:
        seen_ja = "不明" if expected_count is None else f"{int(expected_count):,}"
        raise InvalidInput(
            f"The list has changed since it was previewed ({expected_count if expected_count is not None else '?'} "
            f"then, {sel['persons']} now); preview it again. Nothing was deleted.",
            "確認した後に削除リストの対象が変わりました（確認時 " + seen_ja + f" 人、現在 {sel['persons']:,} 人）。"
            "もう一度件数を確認してください。削除はしていません。",
            reason="selection_changed", count=sel["persons"])


@service(Permission.DELETIONS_MANAGE, target="list_id")
def apply_deletion(unit: Unit, list_id: str, *, approval_id: str,
                   purge: Literal["now", "scheduled"] = "scheduled", discard_files: Iterable[str] = (),
                   expected_count: int | None = None, expected_digest: str | None = None) -> DeletionRecord:
    """Delete exactly the approved selection, in one unit of work, and record it (C8).

    ``expected_count`` / ``expected_digest`` are what the person saw in the preview (its ``persons``
    and ``selection_digest``); one is required, and a list that moved since is refused.
    Files not yet handed over that hold someone on the list are destroyed with them; they are never
    destroyed silently: ``discard_files`` must name exactly those ledger entries (as the preview listed
    them), or the deletion waits.  Use :func:`apply_and_purge` for ``purge="now"``: the rebuild runs after
    this unit commits."""
    if purge not in ("now", "scheduled"):
        raise InvalidInput("purge must be now or scheduled.", "消去の時期は now（直ちに）または scheduled（定時）です。",
                           reason="bad_purge")
    _open_list(unit, list_id)
    params = _selection(unit.con, list_id)
    _check_expected(params, expected_count, expected_digest)
    approval = approvals.consume(unit, approval_id, APPROVAL_KIND, params)
    # After the approval's own checks; a refusal here rolls the unit back, so the approval stays unused.
    _check_discards(_pending_files(_copies(unit.con)), discard_files)
    con = unit.con
    by_reason = {r: int(n) for r, n in con.execute("SELECT reason, count(*) FROM _del GROUP BY reason ORDER BY reason").fetchall()}
    person_ids = [r[0] for r in con.execute("SELECT person_id FROM _del ORDER BY person_id").fetchall()]
    deletion_id = "PD" + uuid.uuid4().hex[:10].upper()
    counts, copies = _erase(con, unit.workspace, deletion_id=deletion_id, now=unit.now)
    con.execute("DELETE FROM deletion_list_members WHERE list_id = ?", [list_id])
    con.execute("UPDATE deletion_lists SET status = 'applied' WHERE list_id = ?", [list_id])
    con.execute(f"INSERT INTO person_deletions ({_RECORD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
                [deletion_id, list_id, approval.requested_by, approval.decided_by, approval.approval_id, unit.now,
                 unit.user_id, METHOD, len(person_ids), json.dumps(by_reason, sort_keys=True),
                 json.dumps(counts, sort_keys=True), purge, copies])
    # Fail closed: if the journal cannot be written, the deletion does not happen.
    _append_journal(unit.workspace, deletion_id, unit.now, person_ids)
    unit.note(target=deletion_id, list_id=list_id, persons=len(person_ids), by_reason=by_reason,
              copies_marked=copies, purge=purge, **{f"n_{k}": v for k, v in counts.items()})
    return _load(con, deletion_id)


def _check_discards(pending: list[dict[str, Any]], discard_files: Iterable[str]) -> None:
    named = {str(e).strip().upper() for e in discard_files if str(e).strip()}
    waiting = {f["entry_id"] for f in pending}
    if named != waiting:
        listing = "、".join(f"{f['entry_id']}（{f['file_name']}、{f['records']:,} 件）" for f in pending) or "なし"
        listing_en = ", ".join(f"{f['entry_id']} ({f['file_name']}, {f['records']:,} records)" for f in pending) or "none"
        raise InvalidInput(
            f"The files not yet handed over that hold people on this list are: {listing_en}. Hand them over first,"
            " or name exactly these to confirm their destruction; nothing was deleted.",
            f"この削除の対象者を含む受け渡し前の送付ファイル: {listing}。先に受け渡すか、これらの破棄を確認して"
            "（すべてを指定して）実行してください。何も削除していません。", reason="pending_files")


# Not exclusive (nor is the purge): the deletion is a write like any other, and the rebuild holds the writers'
# turn while readers go on until the swap (workbench.core.rotation.rotate, issue 22 item 8).
@composite("deletion.apply_and_purge", exclusive=False)
def apply_and_purge(session: Session, list_id: str, *, approval_id: str,
                    purge: Literal["now", "scheduled"] = "scheduled", discard_files: Iterable[str] = (),
                    expected_count: int | None = None, expected_digest: str | None = None) -> DeletionRecord:
    """Apply the deletion; with ``purge="now"`` rebuild the file at once (needs ``keys.manage`` too,
    checked before anything is deleted)."""
    if purge == "now":
        session.require(Permission.KEYS_MANAGE, "deletion.purge")
    record = apply_deletion(session, list_id, approval_id=approval_id, purge=purge, discard_files=tuple(discard_files),
                            expected_count=expected_count, expected_digest=expected_digest)
    if purge == "now":
        purge_report = _rebuild_and_record(session)
        record = next(r for r in deletion_records(session) if r.deletion_id == record.deletion_id)
        record.extra["purge"] = purge_report
    return record


def _load(con: duckdb.DuckDBPyConnection, deletion_id: str) -> DeletionRecord:
    row = con.execute(f"SELECT {_RECORD_COLUMNS} FROM person_deletions WHERE deletion_id = ?", [deletion_id]).fetchone()
    if row is None:
        raise NotFound(f"No deletion {deletion_id}.", f"削除記録 {deletion_id} はありません。")
    return _record(row)


#: Who is on an open deletion list (削除対象者), as a list paging in the database.
MEMBER_LIST = ListSpec(
    "削除対象者", "people on the deletion list", "deletion_list_members",
    sorts={"person_id": SortKey("person_id", "宛名番号", "person"), "reason": SortKey("reason", "削除理由", "reason"),
           "line": SortKey("line", "行", "line")},
    default_sort="person_id", tiebreak="person_id", search=("person_id",),
    filters={"reason": ("reason", REASONS)}, groups={"reason": "reason"},
)


@service(Permission.DELETIONS_MANAGE, target="list_id")
def list_members_page(unit: Unit, list_id: str, request: PageRequest) -> Page[dict[str, Any]]:
    """One page of the people on a deletion list (宛名番号, reason, line in the file): the counts by
    reason are of the whole list.  An applied list names no one any more (only counts stay)."""
    unit.note(target=list_id)
    page = fetch_page(unit, MEMBER_LIST, request, "person_id, reason, line", where="list_id = $list",
                      params={"list": list_id})  # first: a bad request is refused as such, whatever the list
    if unit.con.execute("SELECT 1 FROM deletion_lists WHERE list_id = ?", [list_id]).fetchone() is None:
        raise NotFound(f"No deletion list {list_id}.", f"削除リスト {list_id} はありません。", reason="not_found")
    return page.map(lambda r: {"person_id": r[0], "reason": r[1], "line": r[2]})


@service(Permission.DELETIONS_MANAGE)
def deletion_records(unit: Unit, *, limit: int = 200) -> list[DeletionRecord]:
    """The deletion records (削除記録), newest first: who, when, how, counts — no one named."""
    rows = unit.con.execute(f"SELECT {_RECORD_COLUMNS} FROM person_deletions ORDER BY applied_at DESC LIMIT ?",
                            [limit]).fetchall()
    unit.note(count=len(rows))
    return [_record(r) for r in rows]


@service(Permission.DELETIONS_MANAGE)
def open_lists(unit: Unit) -> list[dict[str, Any]]:
    """Deletion lists waiting to be applied (counts only)."""
    rows = unit.con.execute("SELECT list_id, source, file_name, rows, reasons, created_at, created_by FROM deletion_lists"
                            " WHERE status = 'open' ORDER BY created_at").fetchall()
    unit.note(count=len(rows))
    return [{"list_id": r[0], "source": r[1], "file_name": r[2], "rows": r[3], "reasons": json.loads(r[4]),
             "created_at": r[5].isoformat(), "created_by": r[6]} for r in rows]


@service(Permission.MEDIA_MANAGE)
def destruction_marks(unit: Unit, *, pending_only: bool = True) -> list[dict[str, Any]]:
    """Transfer copies marked for destruction (C9): deleted here at once, or waiting for the recipient."""
    rows = unit.con.execute(
        "SELECT d.entry_id, d.deletion_id, d.reason, d.requested_at, d.destroyed_at, d.confirmed_at, d.confirmed_by,"
        " m.kind, m.recipient, m.file_name FROM media_destructions d JOIN media_ledger m USING (entry_id)"
        + (" WHERE d.destroyed_at IS NULL" if pending_only else "") + " ORDER BY d.requested_at").fetchall()
    keys = ("entry_id", "deletion_id", "reason", "requested_at", "destroyed_at", "confirmed_at", "confirmed_by",
            "kind", "recipient", "file_name")
    unit.note(count=len(rows))
    return [{k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in zip(keys, r, strict=True)} for r in rows]


@service(Permission.MEDIA_MANAGE, target="entry_id")
def confirm_destroyed(unit: Unit, entry_id: str) -> dict[str, Any]:
    """The recipient confirmed it destroyed a copy that held deleted people (破棄の確認)."""
    unit.note(target=entry_id)
    done = unit.con.execute(
        "UPDATE media_destructions SET destroyed_at = ?, confirmed_at = ?, confirmed_by = ? WHERE entry_id = ?"
        " AND destroyed_at IS NULL RETURNING deletion_id", [unit.now, unit.now, unit.user_id, entry_id]).fetchall()
    if not done:
        raise NotFound(f"No copy {entry_id} is waiting to be destroyed.", f"破棄待ちのコピー {entry_id} はありません。",
                       reason="not_found")
    return {"entry_id": entry_id, "deletions": [r[0] for r in done],
            "message_ja": "送付先での破棄を記録しました。", "message_en": "Destruction by the recipient recorded."}


@service(Permission.KEYS_MANAGE)
def record_erasure(unit: Unit, rebuilt_at: dt.datetime) -> int:
    """After the file was rebuilt under a new key: deletions applied before then are erased."""
    erased = unit.con.execute(
        "UPDATE person_deletions SET erased_at = ? WHERE erased_at IS NULL AND applied_at <= ? RETURNING deletion_id",
        [unit.now, rebuilt_at]).fetchall()
    unit.note(erased=len(erased))
    return len(erased)


@composite("deletion.pending_purge", exclusive=False)
def pending_purge(who: Workspace | Session) -> int:
    """How many deletions still wait for the rebuild (a count, no personal data): a system read on a
    workspace, or asked by a session that may apply the retention rules (a pipeline's, possibly a
    client of the data server)."""
    ws = who.workspace if isinstance(who, Session) else who
    if isinstance(who, Session):
        who.require(Permission.RETENTION_APPLY, "deletion.pending_purge")
    with ws.transaction("deletion.pending_purge", "system", writes=False) as con:
        row = con.execute("SELECT count(*) FROM person_deletions WHERE erased_at IS NULL").fetchone()
        return int(row[0]) if row else 0


@composite("deletion.purge", exclusive=False)
def purge(session: Session, *, expected_waiting: int | None = None) -> dict[str, Any]:
    """Erase the bytes of every deletion so far (DESIGN §3): rebuild the database file under a new
    key with ``workbench.core.rotation.rotate`` (the old key is destroyed), then record when.  In the
    data server, writes wait meanwhile and reads go on until the swap.

    ``expected_waiting`` is how many deletions the person saw waiting (:func:`pending_purge`); if
    another deletion arrived since, the purge is refused so they confirm what it covers."""
    session.require(Permission.KEYS_MANAGE, "deletion.purge")
    if expected_waiting is not None:
        waiting = pending_purge(session.workspace)
        if waiting != int(expected_waiting):
            raise InvalidInput(
                f"{waiting} deletion(s) wait for the purge now, not {expected_waiting} as shown; look again.",
                f"消去を待つ削除は現在 {waiting:,} 件です（表示は {int(expected_waiting):,} 件）。確認し直してください。",
                reason="selection_changed", count=waiting)
    return _rebuild_and_record(session)


def _rebuild_and_record(session: Session) -> dict[str, Any]:
    from workbench.core import rotation

    started = session.workspace.clock.now()
    report = rotation.rotate(session)
    erased = record_erasure(session, started)
    return {"rotation": report.to_dict(), "deletions_erased": erased,
            "message_ja": f"データベースファイルを新しい鍵で再構築し、削除 {erased:,} 件のデータを消去しました（旧鍵は破棄）。",
            "message_en": f"The database file was rebuilt under a new key; the bytes of {erased} deletion(s) are erased"
                          " (the old key was destroyed)."}


# ------------------------------------------------------------------------------ the deletion journal
def _journal_path(ws: Workspace) -> Path:
    return ws.path / JOURNAL_FILE


def _journal_mac(key: bytes, body: dict[str, Any]) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, b"deletion-journal:" + text.encode("ascii"), hashlib.sha256).hexdigest()


def _append_journal(ws: Workspace, deletion_id: str, at: dt.datetime, person_ids: list[str]) -> None:
    """Append the signed entry to the current journal outside the workspace (where every restore finds
    it, append-only: issue 22 item 1) and to the workspace's own copy (carried in its backups)."""
    key = ws.keyring.audit_key()
    path = _journal_path(ws)
    external = backup_retention.journal_file(ws)
    local = read_journal(path, key)
    current = read_journal(external, key) if external.exists() else []
    if not current and local:  # the first deletion since the journal moved outside: carry the earlier ones over
        for entry in local:
            anchor.append_line(external, entry)
        current = list(local)
    body = {"deletion_id": deletion_id, "at": at.astimezone(dt.UTC).isoformat(),
            "refs": sorted(audit.pseudonym(key, p) for p in person_ids),
            "prev": current[-1]["mac"] if current else "0" * 64}
    entry = {**body, "mac": _journal_mac(key, body)}
    anchor.append_line(external, entry, sync=True)
    line = json.dumps(entry, sort_keys=True) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    if [e["mac"] for e in local] == [e["mac"] for e in current]:
        with path.open("a", encoding="ascii") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
    else:  # the workspace's copy fell behind (a restored folder): it becomes a copy of the current one
        path.write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in [*current, entry]), "ascii")
    fsync_file(path)


def read_journal(path: Path, key: bytes) -> list[dict[str, Any]]:
    """The journal's entries, each MAC and the chain checked; a forged or damaged journal is refused."""
    try:
        lines = path.read_text("ascii").splitlines()
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError):
        raise StoreError("The deletion journal cannot be read.", "削除ジャーナルを読めません。") from None
    entries: list[dict[str, Any]] = []
    prev = "0" * 64
    for n, line in enumerate(lines, 1):
        try:
            doc = json.loads(line)
            body = {k: doc[k] for k in ("deletion_id", "at", "refs", "prev")}
            ok = hmac.compare_digest(str(doc["mac"]), _journal_mac(key, body)) and body["prev"] == prev
        except (ValueError, KeyError, TypeError):
            ok = False
        if not ok:
            raise StoreError(
                f"The deletion journal is damaged or was altered at line {n}, or belongs to another workspace.",
                f"削除ジャーナルの {n} 行目が破損または改ざんされているか、別のワークスペースのものです。",
                line=n, reason="journal_damaged")
        entries.append(doc)
        prev = doc["mac"]
    return entries


def reapply_journal(ws: Workspace, entries: list[dict[str, Any]]) -> list[str]:
    """After a restore (C12): delete again everyone a journal entry names that the restored database
    does not record as deleted.  Runs as ``system``; returns the new deletion IDs."""
    key = ws.keyring.audit_key()
    applied: list[str] = []
    now = ws.clock.now()
    with ws.transaction("deletion.reapply", "system") as con:
        done = {r[0] for r in con.execute("SELECT deletion_id FROM person_deletions").fetchall()}
        todo = [e for e in entries if e["deletion_id"] not in done]
        if not todo:
            return []
        ids = [r[0] for r in con.execute("SELECT person_id FROM persons").fetchall()]
        by_ref = {audit.pseudonym(key, p): p for p in ids}
        for entry in todo:
            victims = sorted(by_ref[r] for r in entry["refs"] if r in by_ref)
            con.execute("CREATE OR REPLACE TEMP TABLE _del AS SELECT unnest(?::VARCHAR[]) AS person_id,"
                        " 'journal' AS reason", [victims])
            con.execute("CREATE OR REPLACE TEMP TABLE _delreq AS SELECT request_id FROM query_requests"
                        " WHERE person_id IN (SELECT person_id FROM _del)")
            deletion_id = str(entry["deletion_id"])  # the same ID, so a second restore finds it done
            counts, copies = _erase(con, ws, deletion_id=deletion_id, now=now)
            con.execute(f"INSERT INTO person_deletions ({_RECORD_COLUMNS}) VALUES (?, NULL, 'system', NULL, NULL, ?,"
                        " 'system', 'reapplied_after_restore', ?, ?, ?, 'scheduled', NULL, ?)",
                        [deletion_id, now, len(victims), json.dumps({"journal": len(victims)}),
                         json.dumps(counts, sort_keys=True), copies])
            audit.append(con, key=key, at=now, user_id="system", operation="deletion.reapply", outcome="ok",
                         target=deletion_id, params={"journal_entry": entry["deletion_id"], "persons": len(victims)})
            applied.append(deletion_id)
    # Keep the journal complete in the restored workspace (the entries are already signed).
    path = _journal_path(ws)
    if len(entries) > len(read_journal(path, key)):
        path.write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in entries), "ascii")
    return applied


# ------------------------------------------------------------------------------ deceased persons (C7, III-7 ⑩)
@service(Permission.DISCREPANCIES_REVIEW, target="discrepancy_id")
def confirm_deceased(unit: Unit, discrepancy_id: str, *, note: str | None = None) -> dict[str, Any]:
    """After review of a Juki-net result reporting a death: mark the person deceased (kept under the
    same protection, left out of every batch and list) and resolve the discrepancy.  The person can
    then be deleted by the same flow (``select_for_deletion(deceased=True, reason="deceased")``)."""
    row = unit.con.execute("SELECT person_id, kind, status FROM discrepancies WHERE discrepancy_id = ?",
                           [discrepancy_id]).fetchone()
    unit.note(target=discrepancy_id)
    if row is None:
        raise NotFound(f"No discrepancy {discrepancy_id}.", f"相違 {discrepancy_id} はありません。", reason="not_found")
    person_id, kind, status = row
    if kind != "deceased":
        raise InvalidInput("Only a Juki-net report of death can mark a person deceased.",
                           "死亡の印は、住基ネットの死亡の回答（相違の種類「死亡」）からのみ付けられます。", reason="not_deceased")
    if status == "resolved":
        raise InvalidInput("This discrepancy is already resolved.", "この相違はすでに解決済みです。", reason="bad_transition")
    unit.con.execute("UPDATE persons SET deceased = TRUE, updated_at = ? WHERE person_id = ?", [unit.now, person_id])
    unit.con.execute("UPDATE discrepancies SET status = 'resolved', resolved_at = ?, resolved_by = ?,"
                     " note = coalesce(?, note, '死亡を確認') WHERE discrepancy_id = ?",
                     [unit.now, unit.user_id, note, discrepancy_id])
    return {"discrepancy_id": discrepancy_id, "deceased": True,
            "message_ja": "死亡を確認し、対象者に死亡の印を付けました。以後の照会・連携の対象外です。",
            "message_en": "Death confirmed: the person is marked deceased and left out of later batches and lists."}
