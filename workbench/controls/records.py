"""The office's own records for its organisational promises (組織的安全管理措置の記録, issue 23).

The assessment promises things no function of the system does by itself: staff are trained,
the office inspects itself every year and follows up what it found, the number-collection
contractor's kits are handed out and all come back, and an incident is reported on time.
These services keep those records (administrator, ``records.manage``; every call audited by
``@service``), and the monthly evidence report (:mod:`workbench.controls.evidence`) reads them.
Staff appear by user ID; no resident's personal data is kept here — an incident records how
many people it affects, never who.

**Reporting an incident (漏えい等の報告).**  A leak, loss or damage of Individual Numbers
(特定個人情報) that must be reported is reported to the Personal Information Protection
Commission (個人情報保護委員会) under 番号法 第29条の4 and the Commission's rules on reporting
leaks of specific personal information (特定個人情報の漏えい等に関する報告等に関する規則 第2条・
第3条; for public bodies also 個人情報保護法 第68条 and 同施行規則 第43条・第44条):

* a **preliminary report (速報)** "promptly" after the office knew of it — the Commission's
  guidance reads this as about **3 to 5 days**; this module warns after 3 days
  (:data:`PRELIMINARY_WARN_DAYS`) and counts it late after 5 (:data:`PRELIMINARY_DAYS`);
* a **final report (確報)** within **30 days** of knowing (:data:`FINAL_DAYS`), or within
  **60 days** when it was or may have been caused with an unfair purpose, such as
  unauthorised access (不正の目的をもって行われたおそれがある漏えい等, :data:`FINAL_DAYS_UNAUTHORISED`).

Days are counted from the day the office knew (``discovered_at``, Japan time), that day not
included (民法 第140条: the first day is not counted).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from workbench.core import labels
from workbench.core.clock import JST
from workbench.core.errors import InvalidInput, NotFound
from workbench.core.permissions import Permission
from workbench.core.workspace import Unit, service

__all__ = [
    "CHECKLIST", "FINAL_DAYS", "FINAL_DAYS_UNAUTHORISED", "INCIDENT_EVENTS", "INCIDENT_KINDS", "KIT_DIRECTIONS",
    "KIT_OVERDUE_DAYS", "PRELIMINARY_DAYS", "PRELIMINARY_WARN_DAYS", "TRAINING_TOPICS", "WORDS",
    "add_incident_event", "deadlines", "incidents", "inspection", "kit_reconciliation", "record_incident",
    "record_inspection_item", "record_kits", "record_training", "training",
]

PRELIMINARY_WARN_DAYS = 3
PRELIMINARY_DAYS = 5
FINAL_DAYS = 30
FINAL_DAYS_UNAUTHORISED = 60
#: Kits handed out this many days ago and still not back (nor reported lost) are an exception.
KIT_OVERDUE_DAYS = 60

TRAINING_TOPICS: dict[str, tuple[str, str]] = {
    "my_number_basics": ("番号制度と特定個人情報の取扱い", "the My Number system and handling of numbers"),
    "security": ("情報セキュリティ", "information security"),
    "incident_response": ("漏えい等事案への対応", "responding to incidents"),
    "system_operation": ("システムの操作", "operating the system"),
    "other": ("その他", "other"),
}

#: The yearly self-inspection checklist (自己点検項目), each item with the promise it checks.
CHECKLIST: dict[str, tuple[str, str]] = {
    "ids_reviewed": ("ID・権限の棚卸しを行い、不要なIDを削除した（C6）", "IDs and permissions reviewed, unneeded IDs removed (C6)"),
    "training_done": ("取扱者全員が年1回以上研修を受講した", "every member of staff trained at least once a year"),
    "audit_log_checked": ("操作ログを定期的に点検した（C4）", "the audit log was checked regularly (C4)"),
    "media_ledger_checked": ("媒体管理簿と媒体の実物を照合した（C9）", "the media ledger was checked against the media (C9)"),
    "copies_destroyed": ("受け渡し後の複製を消去した（C9・C14）", "copies were deleted after hand-over (C9, C14)"),
    "contractor_supervised": ("委託先を監督し、収集キットの回収を確認した", "the contractor was supervised and its kits reconciled"),
    "deletions_done": ("不要となった番号を削除し、記録した（C8）", "numbers no longer needed were deleted and recorded (C8)"),
    "backups_tested": ("バックアップを取得し、復元を確認した（C12）", "backups were made and a restore was tried (C12)"),
    "terminals_checked": ("利用時間と登録端末の設定を確認した（C13）", "set hours and registered terminals were checked (C13)"),
    "incidents_reviewed": ("事案の再発防止策の実施を確認した", "the measures against repeat incidents were checked"),
}

INSPECTION_RESULTS: dict[str, tuple[str, str]] = {"ok": ("適合", "in order"), "finding": ("指摘あり", "finding")}

KIT_DIRECTIONS: dict[str, tuple[str, str]] = {
    "handed_out": ("交付", "handed out"), "returned": ("返却", "returned"), "lost": ("紛失", "lost"),
}

INCIDENT_KINDS: dict[str, tuple[str, str]] = {
    "leak": ("漏えい", "leak"), "loss": ("滅失", "loss"), "damage": ("毀損", "damage"),
    "wrong_recipient": ("誤送付・誤交付", "sent to the wrong person"),
    "unauthorised_access": ("不正アクセス", "unauthorised access"), "other": ("その他", "other"),
}

INCIDENT_EVENTS: dict[str, tuple[str, str]] = {
    "contained": ("拡大防止の措置", "contained"),
    "preliminary_report": ("個人情報保護委員会への速報", "preliminary report to the PPC"),
    "final_report": ("個人情報保護委員会への確報", "final report to the PPC"),
    "persons_notified": ("本人への通知", "persons notified"),
    "recurrence_prevention": ("再発防止策の実施", "measures against recurrence"),
    "closed": ("対応完了", "closed"),
}

#: Every code this module defines, by domain (for the words table and the reports).
WORDS: dict[str, dict[str, tuple[str, str]]] = {
    "training_topic": TRAINING_TOPICS, "checklist": CHECKLIST, "inspection_result": INSPECTION_RESULTS,
    "kit_direction": KIT_DIRECTIONS, "incident_kind": INCIDENT_KINDS, "incident_event": INCIDENT_EVENTS,
}


# ------------------------------------------------------------------------------ input checks
def _choice(value: str, table: dict[str, tuple[str, str]], what_ja: str, what_en: str) -> str:
    code = (value or "").strip()
    if code not in table:
        raise InvalidInput(f"The {what_en} must be one of {', '.join(table)}.",
                           f"{what_ja}は {'、'.join(f'{k}（{v[0]}）' for k, v in table.items())} のいずれかです。",
                           reason=f"bad_{what_en.replace(' ', '_')}")
    return code


def _text(value: str | None, what_ja: str, what_en: str, *, limit: int = 500, required: bool = True) -> str | None:
    text = (value or "").strip()
    if not text and not required:
        return None
    if not text or len(text) > limit or any(ord(c) < 32 and c not in "\t\n" for c in text):
        raise InvalidInput(f"Give the {what_en} (1–{limit} characters, no control characters).",
                           f"{what_ja}を入力してください（1〜{limit} 文字、制御文字は使えません）。", reason="bad_text")
    return text


def _day(value: dt.date | str, what_ja: str, what_en: str, *, today: dt.date) -> dt.date:
    try:
        day = value if isinstance(value, dt.date) and not isinstance(value, dt.datetime) else dt.date.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(f"The {what_en} must be a date such as 2026-11-04.",
                           f"{what_ja}は 2026-11-04 のような日付で指定してください。", reason="bad_date") from None
    if day > today or day.year < 2000:
        raise InvalidInput(f"The {what_en} cannot be in the future or before 2000.",
                           f"{what_ja}に未来の日付や2000年より前の日付は指定できません。", reason="bad_date")
    return day


def _moment(value: dt.datetime | str | None, what_ja: str, what_en: str, *, now: dt.datetime) -> dt.datetime:
    try:
        at = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(f"The {what_en} must be a time such as 2026-11-04T10:30.",
                           f"{what_ja}は 2026-11-04T10:30 のような日時で指定してください。", reason="bad_time") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=JST)  # staff write Japan time
    if at > now + dt.timedelta(minutes=5) or at.year < 2000:
        raise InvalidInput(f"The {what_en} cannot be in the future.", f"{what_ja}に未来の日時は指定できません。",
                           reason="bad_time")
    return at


def _count(value: Any, what_ja: str, what_en: str, *, minimum: int = 0, maximum: int = 10_000_000) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().isdigit():
        raise InvalidInput(f"The {what_en} must be a whole number.", f"{what_ja}は整数で指定してください。", reason="bad_count")
    n = int(value)
    if not minimum <= n <= maximum:
        raise InvalidInput(f"The {what_en} must be between {minimum:,} and {maximum:,}.",
                           f"{what_ja}は {minimum:,} 以上 {maximum:,} 以下で指定してください。", reason="bad_count")
    return n


def _today(unit: Unit) -> dt.date:
    return unit.now.astimezone(JST).date()


# ------------------------------------------------------------------------------ training
@service(Permission.RECORDS_MANAGE)
def record_training(unit: Unit, *, held_on: dt.date | str, title: str, topic: str, minutes: int | str,
                    attendees: list[str]) -> dict[str, Any]:
    """Record a training session (研修) and who attended it, by staff user ID."""
    day = _day(held_on, "実施日", "date held", today=_today(unit))
    name = _text(title, "研修名", "title", limit=200)
    code = _choice(topic, TRAINING_TOPICS, "研修の分野", "topic")
    length = _count(minutes, "研修時間（分）", "length in minutes", minimum=1, maximum=24 * 60)
    people = sorted({str(a).strip() for a in attendees or [] if str(a).strip()})
    if not people:
        raise InvalidInput("Name at least one attendee (staff user ID).", "受講者のユーザーIDを1人以上指定してください。",
                           reason="no_attendees")
    known = {r[0] for r in unit.con.execute("SELECT user_id FROM users WHERE list_contains(?, user_id)",
                                            [people]).fetchall()}
    unknown = [p for p in people if p not in known]
    if unknown:
        raise InvalidInput(f"{len(unknown):,} attendee(s) are not user IDs of this workspace.",
                           f"受講者のうち {len(unknown):,} 人はこのワークスペースのユーザーIDではありません。",
                           reason="unknown_user", unknown=len(unknown))
    session_id = "TR" + uuid.uuid4().hex[:10].upper()
    unit.con.execute("INSERT INTO training_sessions VALUES (?, ?, ?, ?, ?, ?, ?)",
                     [session_id, day, name, code, length, unit.now, unit.user_id])
    unit.con.executemany("INSERT INTO training_attendance VALUES (?, ?)", [[session_id, p] for p in people])
    unit.note(session_id=session_id, topic=code, attendees=len(people))
    return {"session_id": session_id, "held_on": day.isoformat(), "topic": code, "attendees": len(people)}


def _training(unit: Unit) -> dict[str, Any]:
    sessions = [dict(zip(("session_id", "held_on", "title", "topic", "minutes", "attendees"), r, strict=True))
                for r in unit.con.execute(
                    "SELECT s.session_id, s.held_on, s.title, s.topic, s.minutes, count(a.user_id) FROM training_sessions s"
                    " LEFT JOIN training_attendance a USING (session_id) GROUP BY ALL ORDER BY s.held_on DESC").fetchall()]
    staff = unit.con.execute(
        "SELECT u.user_id, max(s.held_on) FROM users u LEFT JOIN training_attendance a USING (user_id)"
        " LEFT JOIN training_sessions s USING (session_id)"
        " WHERE NOT u.disabled AND NOT EXISTS (SELECT 1 FROM batch_accounts b WHERE b.user_id = u.user_id)"
        " GROUP BY u.user_id ORDER BY u.user_id").fetchall()
    return {"sessions": sessions, "staff": [{"user_id": u, "last_trained": d} for u, d in staff]}


@service(Permission.RECORDS_MANAGE)
def training(unit: Unit) -> dict[str, Any]:
    """Training sessions (newest first) and, for every active staff ID, when it was last trained."""
    out = _training(unit)
    unit.note(sessions=len(out["sessions"]), staff=len(out["staff"]))
    return out


# ------------------------------------------------------------------------------ self-inspection
@service(Permission.RECORDS_MANAGE)
def record_inspection_item(unit: Unit, *, fiscal_year: int | str, item: str, result: str,
                           finding: str | None = None, follow_up: str | None = None,
                           due_on: dt.date | str | None = None, closed_on: dt.date | str | None = None) -> dict[str, Any]:
    """Record one item of the yearly self-inspection (自己点検): in order, or a finding with its
    follow-up and due date; recording it again updates it (e.g. the follow-up closed)."""
    year = _count(fiscal_year, "年度", "fiscal year", minimum=2015, maximum=2100)
    code = _choice(item, CHECKLIST, "点検項目", "checklist item")
    outcome = _choice(result, INSPECTION_RESULTS, "点検結果", "result")
    found = _text(finding, "指摘事項", "finding", required=outcome == "finding")
    action = _text(follow_up, "改善措置", "follow-up", required=outcome == "finding")
    due: dt.date | None = None
    if due_on:
        try:
            due = due_on if isinstance(due_on, dt.date) else dt.date.fromisoformat(str(due_on))
        except ValueError:
            raise InvalidInput("The due date must be a date such as 2027-03-31.",
                               "改善期限は 2027-03-31 のような日付で指定してください。", reason="bad_date") from None
    closed = _day(closed_on, "改善完了日", "date closed", today=_today(unit)) if closed_on else None
    if outcome == "finding" and due is None:
        raise InvalidInput("A finding needs a due date for its follow-up (--due).",
                           "指摘事項には改善期限（--due）が必要です。", reason="no_due_date")
    unit.con.execute(
        "INSERT OR REPLACE INTO inspection_items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [year, code, outcome, found, action, due, closed, unit.now, unit.user_id])
    unit.note(fiscal_year=year, item=code, result=outcome, closed=closed is not None)
    return {"fiscal_year": year, "item": code, "result": outcome, "due_on": due.isoformat() if due else None,
            "closed_on": closed.isoformat() if closed else None}


def _inspection(unit: Unit, fiscal_year: int) -> list[dict[str, Any]]:
    rows = {r[0]: r for r in unit.con.execute(
        "SELECT item, result, finding, follow_up, due_on, closed_on, checked_at, checked_by FROM inspection_items"
        " WHERE fiscal_year = ?", [fiscal_year]).fetchall()}
    out = []
    for code in CHECKLIST:
        r = rows.get(code)
        out.append({"item": code, "result": r[1] if r else None, "finding": r[2] if r else None,
                    "follow_up": r[3] if r else None, "due_on": r[4] if r else None, "closed_on": r[5] if r else None,
                    "checked_by": r[7] if r else None})
    return out


@service(Permission.RECORDS_MANAGE)
def inspection(unit: Unit, fiscal_year: int | str) -> list[dict[str, Any]]:
    """The checklist of one fiscal year: every item, checked or not, with findings and follow-up."""
    year = _count(fiscal_year, "年度", "fiscal year", minimum=2015, maximum=2100)
    out = _inspection(unit, year)
    unit.note(fiscal_year=year, checked=sum(1 for r in out if r["result"]))
    return out


# ------------------------------------------------------------------------------ contractor kits
@service(Permission.RECORDS_MANAGE)
def record_kits(unit: Unit, *, batch: str, direction: str, kits: int | str, moved_on: dt.date | str,
                note: str | None = None) -> dict[str, Any]:
    """Record kits (番号収集キット) handed out to the collection contractor, returned, or reported lost.
    More kits back than went out for a batch is refused."""
    ref = _text(batch, "キットの交付番号", "kit batch", limit=40)
    assert ref is not None
    if not all(c.isalnum() or c in "-_" for c in ref):
        raise InvalidInput("The kit batch is letters, digits, '-' or '_'.", "キットの交付番号は英数字・「-」「_」で指定してください。",
                           reason="bad_batch")
    way = _choice(direction, KIT_DIRECTIONS, "区分", "direction")
    n = _count(kits, "キット数", "number of kits", minimum=1, maximum=1_000_000)
    day = _day(moved_on, "日付", "date", today=_today(unit))
    text = _text(note, "備考", "note", required=False)
    out, back = unit.con.execute(
        "SELECT coalesce(sum(kits) FILTER (WHERE direction = 'handed_out'), 0),"
        " coalesce(sum(kits) FILTER (WHERE direction <> 'handed_out'), 0) FROM kit_movements WHERE batch = ?",
        [ref]).fetchone() or (0, 0)
    if way != "handed_out" and back + n > out:
        raise InvalidInput(f"Batch {ref} has {out - back:,} kit(s) outstanding; {n:,} cannot come back.",
                           f"交付番号 {ref} の未返却は {out - back:,} 件です。{n:,} 件は記録できません。",
                           reason="more_than_out", outstanding=int(out - back))
    movement_id = "K" + uuid.uuid4().hex[:11].upper()
    unit.con.execute("INSERT INTO kit_movements VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     [movement_id, ref, way, n, day, text, unit.now, unit.user_id])
    unit.note(movement_id=movement_id, direction=way, kits=n)
    return {"movement_id": movement_id, "batch": ref, "direction": way, "kits": n, "moved_on": day.isoformat()}


def _kits(unit: Unit) -> list[dict[str, Any]]:
    rows = unit.con.execute(
        "SELECT batch, min(moved_on) FILTER (WHERE direction = 'handed_out'),"
        " coalesce(sum(kits) FILTER (WHERE direction = 'handed_out'), 0),"
        " coalesce(sum(kits) FILTER (WHERE direction = 'returned'), 0),"
        " coalesce(sum(kits) FILTER (WHERE direction = 'lost'), 0), max(moved_on) FROM kit_movements GROUP BY batch"
        " ORDER BY 2 NULLS LAST, batch").fetchall()
    today = _today(unit)
    out = []
    for batch, first, handed, returned, lost, last in rows:
        outstanding = int(handed - returned - lost)
        overdue = bool(outstanding and first and (today - first).days > KIT_OVERDUE_DAYS)
        out.append({"batch": batch, "handed_out_on": first, "handed_out": int(handed), "returned": int(returned),
                    "lost": int(lost), "outstanding": outstanding, "overdue": overdue, "last_movement": last})
    return out


@service(Permission.RECORDS_MANAGE)
def kit_reconciliation(unit: Unit) -> list[dict[str, Any]]:
    """Every kit batch: handed out, returned, lost, still out, and whether it is overdue."""
    out = _kits(unit)
    unit.note(batches=len(out), outstanding=sum(r["outstanding"] for r in out))
    return out


# ------------------------------------------------------------------------------ incidents
@service(Permission.RECORDS_MANAGE)
def record_incident(unit: Unit, *, kind: str, summary: str, persons: int | str, discovered_at: dt.datetime | str,
                    occurred_at: dt.datetime | str | None = None, unauthorised: bool = False) -> dict[str, Any]:
    """Open an incident (漏えい等事案): what happened (no personal data: a summary and a count), when
    it happened and when the office knew — the reporting deadlines run from then."""
    code = _choice(kind, INCIDENT_KINDS, "事案の種類", "kind")
    text = _text(summary, "概要", "summary", limit=1000)
    count = _count(persons, "影響を受けた人数", "number of persons affected")
    known = _moment(discovered_at, "発覚日時", "time discovered", now=unit.now)
    happened = _moment(occurred_at, "発生日時", "time it happened", now=unit.now) if occurred_at else None
    if happened is not None and happened > known:
        raise InvalidInput("It cannot have happened after it was discovered.", "発生日時が発覚日時より後になっています。",
                           reason="bad_time")
    incident_id = "I" + uuid.uuid4().hex[:11].upper()
    unit.con.execute("INSERT INTO incidents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open')",
                     [incident_id, code, bool(unauthorised or code == "unauthorised_access"), count, text, happened,
                      known, unit.now, unit.user_id])
    unit.note(incident_id=incident_id, kind=code, persons=count)
    return _incident(unit, incident_id)


@service(Permission.RECORDS_MANAGE)
def add_incident_event(unit: Unit, incident_id: str, *, event: str, at: dt.datetime | str,
                       note: str | None = None) -> dict[str, Any]:
    """Add a step to an incident's timeline (contained, preliminary or final report, persons
    notified, measures, closed); ``closed`` closes it."""
    row = unit.con.execute("SELECT discovered_at, status FROM incidents WHERE incident_id = ?", [incident_id]).fetchone()
    if row is None:
        raise NotFound(f"No incident {incident_id}.", f"事案 {incident_id} はありません。", reason="not_found")
    code = _choice(event, INCIDENT_EVENTS, "経過の区分", "event")
    when = _moment(at, "日時", "time", now=unit.now)
    if when < row[0] - dt.timedelta(days=366):
        raise InvalidInput("The time is long before the incident was discovered.", "日時が発覚日時より大幅に前です。",
                           reason="bad_time")
    if row[1] == "closed":
        raise InvalidInput("The incident is closed.", "この事案は対応完了として記録済みです。", reason="closed")
    unit.con.execute("INSERT OR REPLACE INTO incident_events VALUES (?, ?, ?, ?, ?, ?)",
                     [incident_id, code, when, _text(note, "備考", "note", required=False), unit.now, unit.user_id])
    if code == "closed":
        unit.con.execute("UPDATE incidents SET status = 'closed' WHERE incident_id = ?", [incident_id])
    unit.note(incident_id=incident_id, event=code)
    return _incident(unit, incident_id)


def deadlines(discovered_at: dt.datetime, unauthorised: bool) -> dict[str, dt.date]:
    """The reporting deadlines of an incident known at ``discovered_at`` (see the module's rule)."""
    day = discovered_at.astimezone(JST).date()
    return {"preliminary_warn": day + dt.timedelta(days=PRELIMINARY_WARN_DAYS),
            "preliminary": day + dt.timedelta(days=PRELIMINARY_DAYS),
            "final": day + dt.timedelta(days=FINAL_DAYS_UNAUTHORISED if unauthorised else FINAL_DAYS)}


def _incident(unit: Unit, incident_id: str) -> dict[str, Any]:
    r = unit.con.execute(
        "SELECT incident_id, kind, unauthorised, persons, summary, occurred_at, discovered_at, status FROM incidents"
        " WHERE incident_id = ?", [incident_id]).fetchone()
    if r is None:
        raise NotFound(f"No incident {incident_id}.", f"事案 {incident_id} はありません。", reason="not_found")
    events = unit.con.execute("SELECT event, happened_at, note FROM incident_events WHERE incident_id = ? ORDER BY happened_at",
                              [incident_id]).fetchall()
    due = deadlines(r[6], bool(r[2]))
    first = {e: min((a for ev, a, _ in events if ev == e), default=None) for e in ("preliminary_report", "final_report")}
    today = _today(unit)

    def state(event: str, limit: dt.date) -> str:
        done = first[event]
        if done is not None:
            return "on_time" if done.astimezone(JST).date() <= limit else "late"
        return "overdue" if today > limit else "due"

    return {"incident_id": r[0], "kind": r[1], "unauthorised": bool(r[2]), "persons": int(r[3]), "summary": r[4],
            "occurred_at": r[5], "discovered_at": r[6], "status": r[7],
            "preliminary_due": due["preliminary"], "final_due": due["final"],
            "preliminary": state("preliminary_report", due["preliminary"]), "final": state("final_report", due["final"]),
            "events": [{"event": e, "at": a, "note": n} for e, a, n in events]}


def _incidents(unit: Unit) -> list[dict[str, Any]]:
    ids = [r[0] for r in unit.con.execute("SELECT incident_id FROM incidents ORDER BY discovered_at DESC").fetchall()]
    return [_incident(unit, i) for i in ids]


@service(Permission.RECORDS_MANAGE)
def incidents(unit: Unit) -> list[dict[str, Any]]:
    """Every incident, newest first, with its timeline and where each report stands
    (``on_time``, ``late``, ``due``, ``overdue``)."""
    out = _incidents(unit)
    unit.note(incidents=len(out), open=sum(1 for i in out if i["status"] == "open"))
    return out


#: Words for the report states (labels for reports and the screen).
REPORT_STATES: dict[str, tuple[str, str]] = {
    "on_time": ("期限内に報告", "reported on time"), "late": ("期限後に報告", "reported late"),
    "due": ("報告期限前", "not yet due"), "overdue": ("報告期限超過（未報告）", "overdue, not reported"),
}
WORDS["report_state"] = REPORT_STATES
for _domain, _words in WORDS.items():  # one table of words (issue 18 item 3): each code in its domain
    labels.register(_domain, _words)


@dataclass(frozen=True)
class OfficeRecords:
    """Everything the evidence report reads from these records, computed in one unit of work."""

    training: dict[str, Any]
    inspection: list[dict[str, Any]]
    kits: list[dict[str, Any]]
    incidents: list[dict[str, Any]]


def office_records(unit: Unit, fiscal_year: int) -> OfficeRecords:
    """For the evidence report, inside its own service (no permission of its own)."""
    return OfficeRecords(_training(unit), _inspection(unit, fiscal_year), _kits(unit), _incidents(unit))
