"""Retention rules as data (保存期間, C11, II-6 ②): how long each kind of record is kept.

One table, ``retention_rules`` (seeded by migration 0007), one row per kind:

=====================  ===================================================================
``query_results``      results of query batches, from the day the batch closed (C11)
``transfer_copies``    outgoing copies never marked handed over, from the day written (C9)
``return_lists``       return lists (差戻リスト) in ``return_lists/``, from the day written
``deleted_traces``     deletion records of people deleted (counts only), once their bytes
                       are erased; the signed deletion journal itself is kept (a restore of
                       an older backup needs it)
``audit_records``      the audit log: 7 years (C4).  Pruned under a signed checkpoint (the
                       last record pruned, signed with the anchor key, also in the anchor
                       outside the workspace), so the remaining chain still verifies
``backups``            backup files (and their keyring copies), from the day taken: destroyed
                       and recorded in the media ledger (:mod:`workbench.lifecycle.backup_retention`)
``unlisted_numbers``   numbers of people off the target list, from the day the daily check saw
                       them off it: proposed for deletion (:mod:`workbench.lifecycle.unneeded`)
``executed_notebooks`` executed pipeline notebooks in ``runs/``, from the run's end
``closed_inquiries``   inquiry log entries (F10), from the day closed
=====================  ===================================================================

:func:`apply` with ``dry_run=True`` is the report of what would go now and when the next
item is due; without it, everything due is deleted in one unit of work and recorded.
The nightly pipeline (``pipelines/retention.ipynb``, or the nightly cycle) calls it; rows
deleted from the database are erased from the file by the next purge
(``workbench deletion purge``), which the pipeline runs when its user may.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from typing import Any

from workbench.core import anchor, audit, labels
from workbench.core.errors import InvalidInput
from workbench.core.permissions import Permission
from workbench.core.workspace import Unit, service
from workbench.lifecycle import backup_retention, unneeded

__all__ = ["MIN_DAYS", "RetentionItem", "apply", "rules", "set_rule"]

#: Floors no rule may go below: the audit log is kept 7 years (C4, III-2 リスク2).
MIN_DAYS = {"audit_records": 2555}


#: The report's notes, in Japanese too (issue 20 item 5): the English note is the code, its words here.
NOTES: dict[str, tuple[str, str]] = {n: (ja, n) for n, ja in {
    "batches": "件数は閉じた照会バッチの数です",
    "the signed deletion journal is kept": "署名付きの削除ジャーナルは保存します",
    "not pruned: the audit log does not verify": "操作ログの検証に失敗したため、削除していません",
    "pruned under a signed checkpoint; the remaining chain verifies": "署名付きの区切りを残して削除しました。残りの記録は検証できます",
    "backup files and their keyring copies destroyed, recorded in the media ledger":
        "バックアップファイルと鍵束の写しを破棄し、媒体管理簿に記録します",
    "proposed for deletion by the daily check; the registrar decides": "日次点検で削除を提案し、登録担当が判断します",
}.items()}
labels.register("retention_note", NOTES)


@dataclass
class RetentionItem:
    kind: str
    label_ja: str
    label_en: str
    keep_days: int
    starts: str
    due_now: int
    deleted: int
    next_due: str | None
    note: str = ""
    note_ja: str = ""

    def __post_init__(self) -> None:
        if self.note and not self.note_ja:
            self.note_ja = labels.ja(self.note, "retention_note")

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _rules(unit: Unit) -> list[tuple[str, int, str, str, str]]:
    return [tuple(r) for r in unit.con.execute(
        "SELECT kind, keep_days, starts, label_ja, label_en FROM retention_rules ORDER BY kind").fetchall()]


@service(Permission.RETENTION_APPLY)
def rules(unit: Unit) -> list[dict[str, Any]]:
    """The retention table."""
    out = [{"kind": k, "keep_days": d, "starts": s, "label_ja": ja, "label_en": en} for k, d, s, ja, en in _rules(unit)]
    unit.note(count=len(out))
    return out


@service(Permission.RETENTION_APPLY, target="kind")
def set_rule(unit: Unit, kind: str, keep_days: int) -> dict[str, Any]:
    """Change how long one kind of record is kept (old and new period audited)."""
    row = unit.con.execute("SELECT keep_days FROM retention_rules WHERE kind = ?", [kind]).fetchone()
    if row is None:
        raise InvalidInput(f"Unknown kind of record {kind!r}.", f"不明な記録の種類 {kind!r} です。", reason="unknown_kind")
    if not isinstance(keep_days, int) or keep_days < MIN_DAYS.get(kind, 1) or keep_days > 36500:
        floor = MIN_DAYS.get(kind, 1)
        raise InvalidInput(f"The period must be {floor}–36500 days.", f"保存期間は {floor}〜36500 日で指定してください。",
                           reason="bad_days")
    unit.con.execute("UPDATE retention_rules SET keep_days = ?, updated_at = ?, updated_by = ? WHERE kind = ?",
                     [keep_days, unit.now, unit.user_id, kind])
    unit.note(target=kind, old_days=int(row[0]), new_days=keep_days)
    return {"kind": kind, "old_days": int(row[0]), "keep_days": keep_days}


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else None


def _files(unit: Unit, folder: str, cutoff: dt.datetime, keep: int, dry_run: bool) -> tuple[int, int, str | None]:
    ws = unit.workspace
    rows = unit.con.execute(
        "SELECT entry_id, file_name, recorded_at FROM media_ledger WHERE direction = 'out' AND deleted_at IS NULL"
        " AND kind <> 'workspace_backup' ORDER BY recorded_at").fetchall()
    rows = [r for r in rows if (ws.folder(folder) / r[1]).exists()]
    due = [r for r in rows if r[2] <= cutoff]
    later = [r for r in rows if r[2] > cutoff]
    if not dry_run:
        for entry_id, file_name, _ in due:
            (ws.folder(folder) / file_name).unlink(missing_ok=True)
            unit.con.execute("UPDATE media_ledger SET deleted_at = ? WHERE entry_id = ?", [unit.now, entry_id])
            unit.con.execute("INSERT INTO media_destructions VALUES (?, 'retention', 'retention', ?, ?, NULL, NULL)"
                             " ON CONFLICT DO NOTHING", [entry_id, unit.now, unit.now])
    nxt = _iso(later[0][2] + dt.timedelta(days=keep)) if later else None
    return len(due), 0 if dry_run else len(due), nxt


def _prune_audit(unit: Unit, cutoff: dt.datetime, dry_run: bool) -> tuple[int, int, str]:
    """C4: records older than the period are pruned under a signed checkpoint (the chain still verifies)."""
    ws = unit.workspace
    done = audit.prune(unit.con, key=ws.keyring.audit_key(), anchor_key=ws.keyring.anchor_key(),
                       workspace_id=ws.settings.workspace_id, cutoff=cutoff, at=unit.now, user_id=unit.user_id,
                       heads=audit.read_heads(ws.heads_path), external=anchor.read_lines(ws.anchor_path),
                       dry_run=dry_run)
    if done["checkpoint"] is not None:
        cp = done["checkpoint"]
        ws.write_anchor(cp, sync=True, kind="checkpoint", pruned=cp["pruned"])
        unit.params.update(audit_checkpoint_seq=cp["seq"])
    if done.get("refused"):
        return done["due"], 0, "not pruned: the audit log does not verify"
    return done["due"], done["pruned"], "pruned under a signed checkpoint; the remaining chain verifies"


@service(Permission.RETENTION_APPLY)
def apply(unit: Unit, *, dry_run: bool = True, expected_due: int | None = None) -> dict[str, Any]:
    """Report (``dry_run``) or delete everything past its retention period, rule by rule.

    ``expected_due`` is how many records the report the person saw had due (the sum of
    ``due_now``); if the records due have changed since, nothing is deleted and the refusal says
    so (issue 20 item 7: a service does not trust the screen).  The nightly run passes none."""
    if not dry_run and expected_due is not None:
        due_now = sum(int(i["due_now"]) for i in _apply(unit, dry_run=True)["items"])
        if due_now != int(expected_due):
            raise InvalidInput(
                f"{due_now} record(s) are past their period now, not {expected_due} as in the report you saw;"
                " look at the report again. Nothing was deleted.",
                f"保存期間を過ぎた記録は現在 {due_now:,} 件です（確認した一覧では {int(expected_due):,} 件）。"
                "一覧を確認し直してください。削除はしていません。", reason="selection_changed", count=due_now)
    return _apply(unit, dry_run=dry_run)


def _apply(unit: Unit, *, dry_run: bool) -> dict[str, Any]:
    from workbench.queries import results

    con = unit.con
    items: list[RetentionItem] = []
    purge_needed = False
    for kind, keep, starts, ja, en in _rules(unit):
        cutoff = unit.now - dt.timedelta(days=keep)
        due = deleted = 0
        nxt: str | None = None
        note = ""
        if kind == "query_results":
            due = int(con.execute("SELECT count(*) FROM query_batches WHERE status = 'closed' AND closed_at <= ?",
                                  [cutoff]).fetchone()[0])  # type: ignore[index]
            row = con.execute("SELECT min(closed_at) FROM query_batches WHERE status = 'closed' AND closed_at > ?",
                              [cutoff]).fetchone()
            nxt = _iso(row[0] + dt.timedelta(days=keep)) if row and row[0] else None
            if due and not dry_run:
                summary = results.purge_expired_results(unit, keep)
                deleted = sum(v for k, v in summary.counts.items() if k != "discrepancies_kept_open")
                purge_needed = purge_needed or summary.rebuild_needed
            note = "batches"
        elif kind == "transfer_copies":
            due, deleted, nxt = _files(unit, "outgoing", cutoff, keep, dry_run)
        elif kind == "return_lists":
            due, deleted, nxt = _files(unit, "return_lists", cutoff, keep, dry_run)
        elif kind == "deleted_traces":
            where = "erased_at IS NOT NULL AND applied_at <= ?"
            due = int(con.execute(f"SELECT count(*) FROM person_deletions WHERE {where}", [cutoff]).fetchone()[0])  # type: ignore[index]
            if due and not dry_run:
                con.execute(f"DELETE FROM person_deletions WHERE {where}", [cutoff])
                con.execute("DELETE FROM deletion_lists WHERE status = 'applied' AND created_at <= ?", [cutoff])
                deleted = due
            note = "the signed deletion journal is kept"
        elif kind == "audit_records":
            due, deleted, note = _prune_audit(unit, cutoff, dry_run)
        elif kind == "backups":
            due, deleted, nxt = backup_retention.apply_rule(unit, cutoff, keep, dry_run)
            note = "backup files and their keyring copies destroyed, recorded in the media ledger"
        elif kind == "unlisted_numbers":
            due, nxt = unneeded.due_counts(unit, cutoff, keep)
            note = "proposed for deletion by the daily check; the registrar decides"
        elif kind == "executed_notebooks":
            rows = con.execute("SELECT run_id, finished_at FROM pipeline_runs WHERE notebook IS NOT NULL"
                               " AND finished_at IS NOT NULL ORDER BY finished_at").fetchall()
            old = [r[0] for r in rows if r[1] <= cutoff]
            newer = [r[1] for r in rows if r[1] > cutoff]
            due = len(old)
            nxt = _iso(newer[0] + dt.timedelta(days=keep)) if newer else None
            if old and not dry_run:
                for run_id in old:
                    shutil.rmtree(unit.workspace.folder("runs") / run_id, ignore_errors=True)
                con.execute("UPDATE pipeline_runs SET notebook = NULL WHERE run_id IN (SELECT unnest(?::VARCHAR[]))", [old])
                deleted = len(old)
        elif kind == "closed_inquiries":
            where = "status = 'closed' AND closed_at <= ?"
            due = int(con.execute(f"SELECT count(*) FROM inquiries WHERE {where}", [cutoff]).fetchone()[0])  # type: ignore[index]
            if due and not dry_run:
                con.execute(f"DELETE FROM inquiries WHERE {where}", [cutoff])
                deleted = due
                purge_needed = True
        items.append(RetentionItem(kind, ja, en, keep, starts, due, deleted, nxt, note))
    counts: dict[str, Any] = {f"due_{i.kind}": i.due_now for i in items}
    counts.update({f"deleted_{i.kind}": i.deleted for i in items})
    unit.params.update(dry_run=dry_run, **counts)
    return {"dry_run": dry_run, "items": [i.to_dict() for i in items], "purge_needed": purge_needed, **counts,
            "message_ja": ("保存期間を過ぎた記録の一覧です（削除はしていません）。" if dry_run
                           else "保存期間を過ぎた記録を削除しました。"),
            "message_en": ("Records past their retention period (nothing deleted)." if dry_run
                           else "Records past their retention period were deleted.")}
