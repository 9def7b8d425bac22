"""Pending work (未処理の業務): what waits for the logged-in person, counted and named from the database.

The home screen (the inbox, issue 20 item 1) shows it after login; ``workbench pending`` prints the
counts and ``workbench inbox`` the named items.  Each count is given only for the work the caller's
roles permit, and always comes from the database (never from a page of a list), so a clerk learns
the real total; the items are the oldest few of each kind, each with the :class:`Place` where it is
done — the screen (a menu key) and what is chosen on it (an approval number, a batch, a file).

* :func:`inbox` — the counts and the named items (one or two SQL queries per source);
* :func:`open_item` — what a 開く opens, checked again: an item that is not this person's to see is
  refused (a request of someone else, another clerk's file), whatever the screen sent;
* :func:`remember_place` / :func:`last_place` — where the person is (screen and selection), kept in
  the store per person, so a reload, a second tab or a new login after the idle limit returns there
  (a deliberate logout forgets it: ``workbench.web.sessions``);
* :func:`approvals_waiting` — the approver's live count, asked by a timer in the kernel: it does not
  count as use (``idle_neutral``), so the idle limit still ends an unattended session;
* :func:`keep_session` — 「続ける」 on the idle warning: the person is still here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workbench.core import approvals, labels
from workbench.core.approvals import Approval
from workbench.core.clock import JST
from workbench.core.errors import InvalidInput, NotFound
from workbench.core.permissions import Permission
from workbench.core.workspace import Unit, service
from workbench.files import media
from workbench.files.media import LedgerEntry

__all__ = ["APPROVAL_APPS", "PLACE_KINDS", "REJECTED_SHOWN_DAYS", "Inbox", "InboxItem", "Opened", "PendingItem",
           "Place", "approvals_waiting", "inbox", "keep_session", "last_place", "open_item", "pending_work",
           "remember_place"]


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


def _start_of_day(unit: Unit) -> dt.datetime:
    """Midnight of today in Tokyo (the office's day)."""
    return dt.datetime.combine(unit.now.astimezone(JST).date(), dt.time(), JST)


#: How long a rejected request stays in its requester's inbox (the reason is kept with the request for good).
REJECTED_SHOWN_DAYS = 14

P = Permission
#: What counts as waiting, for whom.  Add a row here when a new kind of work can wait.
SOURCES: tuple[_Source, ...] = (
    _Source("approvals_waiting", P.APPROVALS_DECIDE, "approvals", "承認を待っている依頼", "requests waiting for approval",
            "SELECT count(*), min(requested_at) FROM approvals WHERE status = 'pending' AND expires_at >= ?"
            " AND requested_by <> ?", _now_and_me),
    _Source("my_approved_requests", P.SELF, "", "承認済みで実行を待っている自分の依頼", "your approved requests not yet carried out",
            "SELECT count(*), min(decided_at) FROM approvals WHERE status = 'approved' AND expires_at >= ?"
            " AND requested_by = ?", _now_and_me),
    _Source("my_rejected_requests", P.SELF, "", "却下された自分の依頼（理由つき）", "your requests rejected (with the reason)",
            "SELECT count(*), min(decided_at) FROM approvals WHERE status = 'rejected' AND decided_at >= ?"
            " AND requested_by = ?", lambda u: [u.now - dt.timedelta(days=REJECTED_SHOWN_DAYS), u.user_id]),
    _Source("registration_reviews", P.NUMBERS_REGISTER, "review", "確認待ちの番号相違（登録）", "registration reviews waiting",
            "SELECT count(*), min(created_at) FROM registration_reviews WHERE status IN ('pending', 'held')", lambda _u: []),
    _Source("discrepancies_open", P.DISCREPANCIES_REVIEW, "review", "未対応の照会結果の相違", "open discrepancies",
            "SELECT count(*), min(detected_at) FROM discrepancies WHERE status = 'open'", lambda _u: []),
    _Source("answers_waiting", P.RESULTS_IMPORT, "batches", "回答待ちの照会", "queries waiting for answers",
            "SELECT count(*), min(status_at) FROM query_requests WHERE status = 'sent'", lambda _u: []),
    _Source("copies_not_delivered", P.MEDIA_MANAGE, "handover", "受け渡しが済んでいない送付ファイル", "outgoing files not yet handed over",
            "SELECT count(*), min(recorded_at) FROM media_ledger WHERE direction = 'out' AND deleted_at IS NULL"
            " AND user_id = ?", _me),
    # the daily check of numbers no longer needed (issue 22 item 4): the registrar reviews the proposal
    _Source("deletion_proposals", P.DELETIONS_MANAGE, "deletion", "削除の提案（不要になった個人番号）",
            "deletion proposals (numbers no longer needed)",
            "SELECT count(*), min(l.created_at) FROM deletion_list_members m JOIN deletion_lists l USING (list_id)"
            " WHERE l.source = 'proposal' AND l.status = 'open'", lambda _u: []),
    # operations run the machine: a cycle that failed or waits is theirs to notice (the runs screen)
    _Source("cycles_stopped", P.BACKUP_RUN, "runs", "止まっている定例処理（失敗・待機中）", "cycles failed or waiting",
            "SELECT count(*), min(updated_at) FROM cycle_runs WHERE status IN ('failed', 'waiting')", lambda _u: []),
    _Source("runs_failed", P.BACKUP_RUN, "runs", "失敗したパイプラインの実行", "pipeline runs that failed",
            "SELECT count(*), min(created_at) FROM pipeline_runs WHERE status = 'failed'", lambda _u: []),
    # auditors: an audit-log alarm holds the workbench closed until it is acknowledged (C4)
    _Source("audit_alarms", P.AUDIT_VERIFY, "audit", "確認されていない操作ログの警報", "audit alarms not acknowledged",
            "SELECT count(*), min(raised_at) FROM audit_alarms WHERE acknowledged_at IS NULL", lambda _u: []),
    # the day's second-person checks, for the auditor to read in the log (who asked, who decided, what was
    # made): REQUIREMENTS §6 — checks by several people, the date and the person recorded
    _Source("approvals_decided_today", P.AUDIT_READ, "audit", "本日決定された承認（操作ログで確認）",
            "approvals decided today (check them in the log)",
            "SELECT count(*), min(decided_at) FROM approvals WHERE decided_at >= ?", lambda u: [_start_of_day(u)]),
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


# -- the inbox: every item named, each with the place where it is done (issue 20 item 1) -------------

#: What a screen can have chosen: the kind of thing a :class:`Place` names, in words.
PLACE_KINDS: dict[str, tuple[str, str]] = {
    "approval": ("承認番号", "approval"),
    "file": ("媒体管理簿番号", "media-ledger entry"),
    "batch": ("照会番号", "query batch"),
    "review": ("確認番号", "registration review"),
    "discrepancy": ("相違番号", "discrepancy"),
    "deletion_list": ("削除リスト", "deletion list"),
    "person": ("宛名番号", "person"),
}
labels.register("place_kind", PLACE_KINDS)

#: The screen (menu key) where a request of each approval kind is made and, once approved, carried out.
APPROVAL_APPS: dict[str, str] = {
    "collection_export": "registration", "integrated_request": "registration",
    "info_query_batch": "batches", "juki_query_batch": "batches", "linkage_file": "batches",
    "notice_list": "review", "person_deletion": "deletion", "role_grant": "admin", "hours_exception": "access",
    "id_review": "idreview", "key_file": "backup", "stats_budget_restore": "stats",
}

#: An ID a screen may have chosen: letters, digits, hyphens and underscores, at most 64 (never free text).
_REF = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: A menu key.
_APP = re.compile(r"^[a-z_]{1,32}$")


@dataclass(frozen=True)
class Place:
    """Where a person is: the screen (a menu key, ``home`` for the inbox) and what is chosen on it
    (``kind`` from :data:`PLACE_KINDS` and its ID ``ref``; both empty when nothing is chosen)."""

    app: str = "home"
    kind: str = ""
    ref: str = ""

    def checked(self) -> Place:
        """This place if it is well formed, else :class:`InvalidInput` (a screen never sends free text)."""
        if not _APP.match(self.app or "") or (self.kind and self.kind not in PLACE_KINDS) \
                or (self.ref and not _REF.match(self.ref)) or bool(self.kind) != bool(self.ref):
            raise InvalidInput("That is not a screen and a selection the workbench knows.",
                               "画面と選択の指定が正しくありません。", reason="bad_place")
        return self


@dataclass(frozen=True)
class InboxItem:
    """One piece of waiting work, named: what it is, since when, and where it is done."""

    source: str
    ref: str
    title_ja: str
    title_en: str
    #: A second line (the approver's reason for a rejection, a count, the recipient), or "".
    detail_ja: str
    detail_en: str
    at: dt.datetime | None
    place: Place

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "place"}
        return {**out, "at": self.at.isoformat() if self.at else None, "place": dict(self.place.__dict__)}


@dataclass(frozen=True)
class Inbox:
    """The counts of every kind (true totals) and the oldest ``limit`` items of each kind, named."""

    counts: list[PendingItem]
    items: list[InboxItem]
    limit: int

    def items_of(self, source: str) -> list[InboxItem]:
        return [i for i in self.items if i.source == source]

    def to_dict(self) -> dict[str, Any]:
        return {"counts": [c.to_dict() for c in self.counts], "items": [i.to_dict() for i in self.items],
                "limit": self.limit}


@dataclass(frozen=True)
class Opened:
    """What :func:`open_item` found at a place: the approval or the ledger entry it names, checked."""

    place: Place
    approval: Approval | None = None
    entry: LedgerEntry | None = None
    #: For a batch: how many of its queries still wait for an answer.
    waiting: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _kind_words(kind: str) -> tuple[str, str]:
    return approvals.KINDS.get(kind, (labels.ja(kind, "approval"), kind))


def _approval_app(kind: str) -> str:
    return APPROVAL_APPS.get(kind, "")


def _items_approvals_waiting(unit: Unit, limit: int) -> list[InboxItem]:
    rows = unit.con.execute(
        "SELECT approval_id, kind, requested_by, requested_at FROM approvals WHERE status = 'pending'"
        " AND expires_at >= ? AND requested_by <> ? ORDER BY requested_at, approval_id LIMIT ?",
        [unit.now, unit.user_id, limit]).fetchall()
    out = []
    for approval_id, kind, by, at in rows:
        ja, en = _kind_words(kind)
        out.append(InboxItem("approvals_waiting", approval_id, f"{approval_id} {ja}", f"{approval_id} {en}",
                             f"依頼者: {by}", f"requested by {by}", at, Place("approvals", "approval", approval_id)))
    return out


def _items_my_requests(unit: Unit, limit: int, status: str) -> list[InboxItem]:
    if status == "approved":
        rows = unit.con.execute(
            "SELECT approval_id, kind, decided_by, decided_at, NULL FROM approvals WHERE status = 'approved'"
            " AND expires_at >= ? AND requested_by = ? ORDER BY decided_at, approval_id LIMIT ?",
            [unit.now, unit.user_id, limit]).fetchall()
    else:
        rows = unit.con.execute(
            "SELECT a.approval_id, a.kind, a.decided_by, a.decided_at, r.reason FROM approvals a"
            " LEFT JOIN approval_reasons r USING (approval_id) WHERE a.status = 'rejected' AND a.decided_at >= ?"
            " AND a.requested_by = ? ORDER BY a.decided_at DESC, a.approval_id LIMIT ?",
            [unit.now - dt.timedelta(days=REJECTED_SHOWN_DAYS), unit.user_id, limit]).fetchall()
    out = []
    for approval_id, kind, by, at, reason in rows:
        ja, en = _kind_words(kind)
        if status == "approved":
            detail = (f"{by} が承認しました。実行できます。", f"approved by {by}; ready to carry out")
            source = "my_approved_requests"
        else:
            detail = (f"{by} が却下しました。理由: {reason or '（理由の記録なし）'}",
                      f"rejected by {by}. Reason: {reason or '(none recorded)'}")
            source = "my_rejected_requests"
        out.append(InboxItem(source, approval_id, f"{approval_id} {ja}", f"{approval_id} {en}", *detail, at,
                             Place(_approval_app(kind) or "home", "approval", approval_id)))
    return out


def _items_files(unit: Unit, limit: int) -> list[InboxItem]:
    rows = unit.con.execute(
        "SELECT entry_id, recipient, record_count, recorded_at, kind FROM media_ledger WHERE direction = 'out'"
        " AND deleted_at IS NULL AND user_id = ? ORDER BY recorded_at, entry_id LIMIT ?", [unit.user_id, limit]).fetchall()
    out = []
    for entry_id, recipient, count, at, kind in rows:
        to_ja, to_en = media.RECIPIENTS.get(recipient, (recipient, recipient))
        what_ja = labels.ja(kind, "package")
        what_ja = "送付ファイル" if what_ja == kind else what_ja
        out.append(InboxItem("copies_not_delivered", entry_id, f"{entry_id} {what_ja}（{to_ja} 宛て）",
                             f"{entry_id} for {to_en}", f"{count:,} 件。受け渡しが済んでいません。",
                             f"{count:,} records; not yet handed over", at, Place("handover", "file", entry_id)))
    return out


def _items_answers(unit: Unit, limit: int) -> list[InboxItem]:
    rows = unit.con.execute(
        "SELECT batch_id, any_value(kind), count(*), min(status_at) FROM query_requests WHERE status = 'sent'"
        " GROUP BY batch_id ORDER BY min(status_at), batch_id LIMIT ?", [limit]).fetchall()
    out = []
    for batch_id, kind, count, at in rows:
        what = ("住基ネット照会", "Juki-net query") if kind == "juki" else ("情報照会", "information query")
        out.append(InboxItem("answers_waiting", batch_id, f"{batch_id} {what[0]}", f"{batch_id} {what[1]}",
                             f"{count:,} 件の回答を待っています。回答パッケージを取り込んでください。",
                             f"{count:,} answers waiting; import the answer package", at,
                             Place("batches", "batch", batch_id)))
    return out


def _items_reviews(unit: Unit, limit: int) -> list[InboxItem]:
    rows = unit.con.execute(
        "SELECT review_id, import_id, line, created_at FROM registration_reviews WHERE status IN ('pending', 'held')"
        " ORDER BY created_at, review_id LIMIT ?", [limit]).fetchall()
    return [InboxItem("registration_reviews", rid, f"{rid} 登録時の番号相違", f"{rid} different number at registration",
                      f"取込番号 {imp} の {line} 行目", f"import {imp}, line {line}", at, Place("review", "review", rid))
            for rid, imp, line, at in rows]


def _items_discrepancies(unit: Unit, limit: int) -> list[InboxItem]:
    rows = unit.con.execute(
        "SELECT discrepancy_id, kind, batch_id, detected_at FROM discrepancies WHERE status = 'open'"
        " ORDER BY detected_at, discrepancy_id LIMIT ?", [limit]).fetchall()
    return [InboxItem("discrepancies_open", did, f"{did} {labels.ja(kind, 'discrepancy')}",
                      f"{did} {labels.en(kind, 'discrepancy')}", f"照会番号 {batch}", f"query batch {batch}", at,
                      Place("review", "discrepancy", did))
            for did, kind, batch, at in rows]


def _items_deletion(unit: Unit, limit: int) -> list[InboxItem]:
    rows = unit.con.execute(
        "SELECT l.list_id, count(m.list_id), min(l.created_at) FROM deletion_lists l JOIN deletion_list_members m"
        " USING (list_id) WHERE l.source = 'proposal' AND l.status = 'open' GROUP BY l.list_id"
        " ORDER BY min(l.created_at), l.list_id LIMIT ?", [limit]).fetchall()
    return [InboxItem("deletion_proposals", lid, f"{lid} 削除の提案", f"{lid} deletion proposal",
                      f"{n:,} 人", f"{n:,} persons", at, Place("deletion", "deletion_list", lid))
            for lid, n, at in rows]


def _items_decided_today(unit: Unit, limit: int) -> list[InboxItem]:
    rows = unit.con.execute(
        "SELECT approval_id, kind, status, requested_by, decided_by, decided_at FROM approvals WHERE decided_at >= ?"
        " ORDER BY decided_at, approval_id LIMIT ?", [_start_of_day(unit), limit]).fetchall()
    out = []
    for approval_id, kind, status, by, decider, at in rows:
        ja, en = _kind_words(kind)
        state_ja, state_en = labels.ja(status, "approval_status"), labels.en(status, "approval_status")
        out.append(InboxItem("approvals_decided_today", approval_id, f"{approval_id} {ja}", f"{approval_id} {en}",
                             f"依頼者: {by}、決定: {decider}（{state_ja}）", f"requested by {by}, decided by {decider} ({state_en})",
                             at, Place("audit", "approval", approval_id)))
    return out


#: The sources whose items are named, and how they are read (one query each, limited).
NAMED: dict[str, Callable[[Unit, int], list[InboxItem]]] = {
    "approvals_waiting": _items_approvals_waiting,
    "my_approved_requests": lambda u, n: _items_my_requests(u, n, "approved"),
    "my_rejected_requests": lambda u, n: _items_my_requests(u, n, "rejected"),
    "copies_not_delivered": _items_files,
    "answers_waiting": _items_answers,
    "registration_reviews": _items_reviews,
    "discrepancies_open": _items_discrepancies,
    "deletion_proposals": _items_deletion,
    "approvals_decided_today": _items_decided_today,
}

#: The most items of one kind an inbox names (the count is always the whole).
INBOX_LIMIT_MAX = 100


@service(Permission.SELF)
def inbox(unit: Unit, *, limit: int = 10) -> Inbox:
    """The caller's waiting work: a true count of every kind its roles permit, and the oldest ``limit``
    items of each kind named, each with the place where it is done."""
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= INBOX_LIMIT_MAX:
        raise InvalidInput(f"limit must be 1–{INBOX_LIMIT_MAX}.", f"表示件数は 1〜{INBOX_LIMIT_MAX} で指定してください。",
                           reason="bad_limit")
    counts: list[PendingItem] = []
    items: list[InboxItem] = []
    for source in SOURCES:
        if not unit.session.can(source.permission):
            continue
        count, oldest = unit.con.execute(source.sql, source.params(unit)).fetchone() or (0, None)
        counts.append(PendingItem(source.key, int(count or 0), oldest, source.app, source.label_ja, source.label_en))
        reader = NAMED.get(source.key)
        if count and reader is not None:
            items += reader(unit, limit)
    unit.note(kinds=len(counts), items=len(items))
    return Inbox(counts, items, limit)


def _not_yours(place: Place) -> NotFound:
    ja, en = PLACE_KINDS.get(place.kind, ("", ""))
    return NotFound(f"There is no {en} {place.ref} waiting for you.",
                    f"{ja} {place.ref} は、あなたの未処理の業務にはありません。", reason="not_yours")


@service(Permission.SELF)
def open_item(unit: Unit, place: Place) -> Opened:
    """What a place names, if it is this person's to see: an approval they asked for (or, for an
    approver, one waiting for them), a file they made, a batch, review or discrepancy their roles
    handle.  Anything else is refused the same way (``not_yours``), whether it exists or not."""
    if not isinstance(place, Place):
        raise InvalidInput("Not a place.", "画面の指定が正しくありません。", reason="bad_place")
    place = place.checked()
    unit.note(app=place.app, kind=place.kind)
    can = unit.session.can
    con = unit.con
    if not place.kind:
        return Opened(place)
    if place.kind == "approval":
        try:
            a = approvals.load(unit, place.ref)
        except NotFound:
            raise _not_yours(place) from None
        mine = a.requested_by == unit.user_id
        decidable = can(Permission.APPROVALS_DECIDE) and a.status == "pending" and not mine
        # an auditor reads any request's trail in the log (its summary holds counts and parameters only)
        audited = can(Permission.AUDIT_READ) and place.app == "audit"
        if not (mine or decidable or audited):
            raise _not_yours(place)
        return Opened(place, approval=a)
    if place.kind == "file":
        row = con.execute("SELECT user_id, direction FROM media_ledger WHERE entry_id = ?", [place.ref]).fetchone()
        if row is None or row[0] != unit.user_id or row[1] != "out" or not can(Permission.MEDIA_MANAGE):
            raise _not_yours(place)
        return Opened(place, entry=media.entry(unit, place.ref))
    if place.kind == "batch":
        if not (can(Permission.RESULTS_IMPORT) or can(Permission.BATCHES_CREATE)):
            raise _not_yours(place)
        row = con.execute("SELECT count(*) FILTER (WHERE r.status = 'sent') FROM query_batches b"
                          " LEFT JOIN query_requests r USING (batch_id) WHERE b.batch_id = ? GROUP BY b.batch_id",
                          [place.ref]).fetchone()
        if row is None:
            raise _not_yours(place)
        return Opened(place, waiting=int(row[0] or 0))
    table = {"review": ("registration_reviews", "review_id", Permission.NUMBERS_REGISTER),
             "discrepancy": ("discrepancies", "discrepancy_id", Permission.DISCREPANCIES_REVIEW),
             "deletion_list": ("deletion_lists", "list_id", Permission.DELETIONS_MANAGE),
             "person": ("persons", "person_id", Permission.PERSONS_VIEW)}.get(place.kind)
    if table is None or not can(table[2]):
        raise _not_yours(place)
    if con.execute(f"SELECT 1 FROM {table[0]} WHERE {table[1]} = ?", [place.ref]).fetchone() is None:
        raise _not_yours(place)
    return Opened(place)


@service(Permission.SELF)
def remember_place(unit: Unit, place: Place) -> Place:
    """Keep where this person is (screen and selection) for a reload, a second tab or the next login
    after the idle limit.  Only the screen's key goes into the audit record, never the selection."""
    if not isinstance(place, Place):
        raise InvalidInput("Not a place.", "画面の指定が正しくありません。", reason="bad_place")
    place = place.checked()
    unit.con.execute("INSERT OR REPLACE INTO user_places VALUES (?, ?, ?, ?, ?, ?)",
                     [unit.user_id, place.app, place.kind, place.ref, unit.session.session_id, unit.now])
    unit.note(app=place.app, kind=place.kind)
    return place


@service(Permission.SELF)
def last_place(unit: Unit) -> Place:
    """Where this person was (``home`` when nothing is kept)."""
    row = unit.con.execute("SELECT app, kind, ref FROM user_places WHERE user_id = ?", [unit.user_id]).fetchone()
    place = Place(*row) if row else Place()
    unit.note(app=place.app)
    return place


def forget_place(con: Any, user_id: str) -> None:
    """A deliberate logout: the next login starts at the inbox (called in the logout's transaction)."""
    con.execute("DELETE FROM user_places WHERE user_id = ?", [user_id])


@service(Permission.APPROVALS_DECIDE, idle_neutral=True)
def approvals_waiting(unit: Unit) -> int:
    """How many requests wait for this approver (the live count; asking is not use)."""
    row = unit.con.execute("SELECT count(*) FROM approvals WHERE status = 'pending' AND expires_at >= ?"
                           " AND requested_by <> ?", [unit.now, unit.user_id]).fetchone()
    return int(row[0]) if row else 0


@service(Permission.SELF)
def keep_session(unit: Unit) -> bool:
    """「続ける」 on the idle warning: the person is still here (the call itself renews the session)."""
    return True
