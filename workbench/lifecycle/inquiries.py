"""The inquiry log (問合せ記録, F10, V-2 ②「問合せを受け付けた際は、対応について記録を残す」).

Each inquiry: how it came in, about which person (if any), what was asked, who handled
it, how it was answered and when it was closed.  Searchable, with a monthly count report.
The text lives in the encrypted store; the audit log records only the inquiry ID, the
channel and the category.  When a person is deleted (F7), the link to them is cleared and
the inquiry itself is kept until its retention period (``closed_inquiries``) ends.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from workbench.core import labels
from workbench.core.clock import JST
from workbench.core.errors import InvalidInput, NotFound
from workbench.core.paging import ListSpec, Page, PageRequest, SortKey, fetch_page
from workbench.core.permissions import Permission
from workbench.core.workspace import Unit, service

__all__ = ["CATEGORIES", "CHANNELS", "Inquiry", "close", "inquiry_page", "monthly", "record", "search"]

CHANNELS: dict[str, tuple[str, str]] = {
    "phone": ("電話", "telephone"),
    "counter": ("窓口", "at the counter"),
    "mail": ("郵送", "post"),
    "email": ("電子メール", "e-mail"),
    "web": ("ホームページ", "web form"),
}
CATEGORIES: dict[str, tuple[str, str]] = {
    "handling": ("特定個人情報の取扱い", "how numbers are handled"),
    "disclosure": ("開示・訂正・利用停止の手続", "disclosure, correction, suspension"),
    "collection": ("番号の提供依頼", "the request to provide a number"),
    "complaint": ("苦情", "complaint"),
    "other": ("その他", "other"),
}
labels.register("inquiry_channel", CHANNELS)
labels.register("inquiry_category", CATEGORIES)


@dataclass(frozen=True)
class Inquiry:
    inquiry_id: str
    received_at: dt.datetime
    channel: str
    person_id: str | None
    category: str
    question: str
    handled_by: str
    response: str | None
    status: str
    closed_at: dt.datetime | None
    recorded_by: str

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in self.__dict__.items()}


_COLUMNS = ("inquiry_id, received_at, channel, person_id, category, question, handled_by, response, status, closed_at,"
            " recorded_by")


def _text(value: str | None, what_ja: str, what_en: str, *, limit: int = 2000) -> str:
    text = (value or "").strip()
    if not text or len(text) > limit:
        raise InvalidInput(f"Give the {what_en} (1–{limit} characters).", f"{what_ja}を入力してください（1〜{limit} 文字）。",
                           reason="bad_text")
    return text


def _load(unit: Unit, inquiry_id: str) -> Inquiry:
    row = unit.con.execute(f"SELECT {_COLUMNS} FROM inquiries WHERE inquiry_id = ?", [inquiry_id]).fetchone()
    if row is None:
        raise NotFound(f"No inquiry {inquiry_id}.", f"問合せ {inquiry_id} はありません。", reason="not_found")
    return Inquiry(*row)


@service(Permission.REQUESTS_HANDLE)
def record(unit: Unit, *, channel: str, category: str, question: str, person_id: str | None = None,
           handled_by: str | None = None, received_at: dt.datetime | None = None) -> Inquiry:
    """Record an inquiry as it comes in."""
    if channel not in CHANNELS:
        raise InvalidInput(f"The channel must be one of {', '.join(CHANNELS)}.",
                           f"受付方法は {'、'.join(f'{k}（{v[0]}）' for k, v in CHANNELS.items())} のいずれかです。",
                           reason="bad_channel")
    if category not in CATEGORIES:
        raise InvalidInput(f"The category must be one of {', '.join(CATEGORIES)}.",
                           f"区分は {'、'.join(f'{k}（{v[0]}）' for k, v in CATEGORIES.items())} のいずれかです。",
                           reason="bad_category")
    text = _text(question, "問合せの内容", "question")
    when = received_at or unit.now
    if when > unit.now + dt.timedelta(minutes=5):
        raise InvalidInput("The time received is in the future.", "受付日時が未来です。", reason="bad_time")
    pid = (person_id or "").strip() or None
    if pid is not None and unit.con.execute("SELECT 1 FROM persons WHERE person_id = ?", [pid]).fetchone() is None:
        raise NotFound("No such person is held.", "該当する人の情報は保有していません。", reason="unknown_person")
    handler = (handled_by or unit.user_id).strip()
    if unit.con.execute("SELECT 1 FROM users WHERE user_id = ?", [handler]).fetchone() is None:
        raise NotFound(f"No user ID {handler}.", f"ユーザーID {handler} は存在しません。", reason="unknown_user")
    inquiry_id = "Q" + uuid.uuid4().hex[:11].upper()
    unit.con.execute("INSERT INTO inquiries VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 'open', NULL, ?)",
                     [inquiry_id, when, channel, pid, category, text, handler, unit.user_id])
    unit.note(target=pid, inquiry_id=inquiry_id, channel=channel, category=category)
    return _load(unit, inquiry_id)


@service(Permission.REQUESTS_HANDLE, target="inquiry_id")
def close(unit: Unit, inquiry_id: str, *, response: str) -> Inquiry:
    """Record how the inquiry was answered, and close it."""
    current = _load(unit, inquiry_id)
    unit.note(target=inquiry_id)
    if current.status == "closed":
        raise InvalidInput("This inquiry is already closed.", "この問合せはすでに完了しています。", reason="closed")
    text = _text(response, "対応の内容", "response")
    unit.con.execute("UPDATE inquiries SET response = ?, status = 'closed', closed_at = ? WHERE inquiry_id = ?",
                     [text, unit.now, inquiry_id])
    return _load(unit, inquiry_id)


@service(Permission.REQUESTS_HANDLE)
def search(unit: Unit, *, text: str | None = None, person_id: str | None = None, status: str | None = None,
           channel: str | None = None, month: str | None = None, limit: int = 200) -> list[Inquiry]:
    """Inquiries matching every filter given (``month`` as YYYY-MM), newest first."""
    where: list[str] = []
    args: list[Any] = []
    if text:
        where.append("(question ILIKE ? OR coalesce(response, '') ILIKE ?)")
        args += [f"%{text}%", f"%{text}%"]
    if person_id:
        where.append("person_id = ?")
        args.append(person_id)
    if status:
        if status not in ("open", "closed"):
            raise InvalidInput("The status is open or closed.", "状態は open（対応中）または closed（完了）です。", reason="bad_status")
        where.append("status = ?")
        args.append(status)
    if channel:
        where.append("channel = ?")
        args.append(channel)
    if month:
        try:
            start = dt.datetime.strptime(month, "%Y-%m").replace(tzinfo=JST)
        except ValueError:
            raise InvalidInput("The month is YYYY-MM.", "月は YYYY-MM で指定してください。", reason="bad_month") from None
        end = (start + dt.timedelta(days=32)).replace(day=1)
        where.append("received_at >= ? AND received_at < ?")
        args += [start, end]
    sql = f"SELECT {_COLUMNS} FROM inquiries" + (" WHERE " + " AND ".join(where) if where else "")
    rows = unit.con.execute(sql + " ORDER BY received_at DESC LIMIT ?", [*args, limit]).fetchall()
    unit.note(count=len(rows), filters=sorted(k for k, v in {"text": text, "person": person_id, "status": status,
                                                             "channel": channel, "month": month}.items() if v))
    return [Inquiry(*r) for r in rows]


#: The inquiry log (問合せ記録) as a list paging in the database.
INQUIRY_LIST = ListSpec(
    "問合せ記録", "inquiry log", "inquiries",
    sorts={"received_at": SortKey("received_at", "受付日時", "received"), "inquiry_id": SortKey("inquiry_id", "問合せ番号", "number"),
           "person_id": SortKey("person_id", "宛名番号", "person"), "status": SortKey("status", "状態", "state"),
           "closed_at": SortKey("closed_at", "完了日時", "closed")},
    default_sort="received_at", tiebreak="inquiry_id",
    search=("inquiry_id", "person_id", "question", "response", "handled_by"),
    filters={"status": ("status", {"open": 1, "closed": 1}), "channel": ("channel", CHANNELS),
             "category": ("category", CATEGORIES)},
    groups={"status": "status", "category": "category"},
)


@service(Permission.REQUESTS_HANDLE)
def inquiry_page(unit: Unit, request: PageRequest) -> Page[Inquiry]:
    """One page of the inquiry log, sorted and filtered in the database; counts by state and
    category are of every match.  The audit record holds counts only, never the filter text."""
    page = fetch_page(unit, INQUIRY_LIST, request, _COLUMNS)
    return page.map(lambda r: Inquiry(*r))


@service(Permission.REQUESTS_HANDLE)
def monthly(unit: Unit, *, year: int) -> dict[str, Any]:
    """The monthly count report: inquiries received per month, by channel and category, and how many closed."""
    if not isinstance(year, int) or not 2000 <= year <= 2100:
        raise InvalidInput("The year must be between 2000 and 2100.", "年は 2000〜2100 で指定してください。", reason="bad_year")
    rows = unit.con.execute(
        "SELECT received_at, channel, category, status FROM inquiries WHERE received_at >= ? AND received_at < ?",
        [dt.datetime(year, 1, 1, tzinfo=JST), dt.datetime(year + 1, 1, 1, tzinfo=JST)]).fetchall()
    months: dict[int, dict[str, Any]] = {m: {"month": f"{year}-{m:02d}", "received": 0, "closed": 0,
                                             "by_channel": {}, "by_category": {}} for m in range(1, 13)}
    for at, ch, cat, status in rows:
        n = 1
        entry = months[at.astimezone(JST).month]
        entry["received"] += n
        entry["closed"] += n if status == "closed" else 0
        entry["by_channel"][ch] = entry["by_channel"].get(ch, 0) + n
        entry["by_category"][cat] = entry["by_category"].get(cat, 0) + n
    unit.note(year=year, total=sum(e["received"] for e in months.values()))
    return {"year": year, "months": list(months.values()), "total": sum(e["received"] for e in months.values()),
            "channels": {k: v[0] for k, v in CHANNELS.items()}, "categories": {k: v[0] for k, v in CATEGORIES.items()}}
