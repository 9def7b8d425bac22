"""Pending work (未処理の業務): what waits for the logged-in person, counted from the whole database.

The home screen shows it after login, and ``workbench pending`` prints it.  Each count is
given only for the work the caller's roles permit, and always comes from the database
(never from a page of a list), so a clerk learns the real total.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workbench.core.permissions import Permission
from workbench.core.workspace import Unit, service

__all__ = ["PendingItem", "pending_work"]


@dataclass(frozen=True)
class PendingItem:
    """One kind of waiting work: how many, since when, and which screen does it."""

    key: str
    count: int
    oldest: dt.datetime | None
    #: The menu key of the screen where it is done.
    app: str
    label_ja: str
    label_en: str

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class _Source:
    key: str
    permission: Permission
    app: str
    label_ja: str
    label_en: str
    #: SQL returning (count, oldest); parameters: (now, user_id).
    sql: str
    params: Callable[[Unit], list[Any]]


def _now_and_me(unit: Unit) -> list[Any]:
    return [unit.now, unit.user_id]


def _me(unit: Unit) -> list[Any]:
    return [unit.user_id]


P = Permission
#: What counts as waiting, for whom.  Add a row here when a new kind of work can wait.
SOURCES: tuple[_Source, ...] = (
    _Source("approvals_waiting", P.APPROVALS_DECIDE, "approvals", "承認を待っている依頼", "requests waiting for approval",
            "SELECT count(*), min(requested_at) FROM approvals WHERE status = 'pending' AND expires_at >= ?"
            " AND requested_by <> ?", _now_and_me),
    _Source("my_approved_requests", P.SELF, "", "承認済みで実行を待っている自分の依頼", "your approved requests not yet carried out",
            "SELECT count(*), min(decided_at) FROM approvals WHERE status = 'approved' AND expires_at >= ?"
            " AND requested_by = ?", _now_and_me),
    _Source("registration_reviews", P.NUMBERS_REGISTER, "review", "確認待ちの番号相違（登録）", "registration reviews waiting",
            "SELECT count(*), min(created_at) FROM registration_reviews WHERE status = 'pending'", lambda _u: []),
    _Source("discrepancies_open", P.DISCREPANCIES_REVIEW, "review", "未対応の照会結果の相違", "open discrepancies",
            "SELECT count(*), min(detected_at) FROM discrepancies WHERE status = 'open'", lambda _u: []),
    _Source("answers_waiting", P.RESULTS_IMPORT, "batches", "回答待ちの照会", "queries waiting for answers",
            "SELECT count(*), min(status_at) FROM query_requests WHERE status = 'sent'", lambda _u: []),
    _Source("copies_not_delivered", P.MEDIA_MANAGE, "", "受け渡しが済んでいない送付ファイル", "outgoing files not yet handed over",
            "SELECT count(*), min(recorded_at) FROM media_ledger WHERE direction = 'out' AND deleted_at IS NULL"
            " AND user_id = ?", _me),
    # operations run the machine: a cycle that failed or waits is theirs to notice (the runs screen)
    _Source("cycles_stopped", P.BACKUP_RUN, "runs", "止まっている定例処理（失敗・待機中）", "cycles failed or waiting",
            "SELECT count(*), min(updated_at) FROM cycle_runs WHERE status IN ('failed', 'waiting')", lambda _u: []),
    _Source("runs_failed", P.BACKUP_RUN, "runs", "失敗したパイプラインの実行", "pipeline runs that failed",
            "SELECT count(*), min(created_at) FROM pipeline_runs WHERE status = 'failed'", lambda _u: []),
    # auditors: an audit-log alarm holds the workbench closed until it is acknowledged (C4)
    _Source("audit_alarms", P.AUDIT_VERIFY, "audit", "確認されていない操作ログの警報", "audit alarms not acknowledged",
            "SELECT count(*), min(raised_at) FROM audit_alarms WHERE acknowledged_at IS NULL", lambda _u: []),
    # the office's records (issue 23): an open incident has reporting deadlines running
    _Source("incidents_open", P.RECORDS_MANAGE, "records", "対応中の漏えい等事案（報告期限あり）", "open incidents (reports due)",
            "SELECT count(*), min(discovered_at) FROM incidents WHERE status = 'open'", lambda _u: []),
)


@service(Permission.SELF)
def pending_work(unit: Unit) -> list[PendingItem]:
    """The caller's waiting work, by kind, with counts from the whole database."""
    items = []
    for source in SOURCES:
        if not unit.session.can(source.permission):
            continue
        count, oldest = unit.con.execute(source.sql, source.params(unit)).fetchone() or (0, None)
        items.append(PendingItem(source.key, int(count or 0), oldest, source.app, source.label_ja, source.label_en))
    unit.note(kinds=len(items))
    return items
