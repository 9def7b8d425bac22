"""Dates as staff read them: Japan time and the Japanese era (和暦), for reports and documents.

``wareki(date(2026, 11, 1))`` → ``令和8年11月1日``; ``jst_text(moment)`` → ``令和8年11月1日 10:00``
(a moment is shown in Japan time whatever zone it was stored in; the log stores UTC).  Year 1
of an era is 元年.  The reports, the disclosure document and the evidence report use these, so
a date reads the same everywhere.
"""

from __future__ import annotations

import datetime as dt

from workbench.core.clock import JST

__all__ = ["ERAS", "jst", "jst_text", "month_bounds", "parse_month", "wareki", "wareki_month"]

#: Eras, newest first, with their first day.
ERAS: tuple[tuple[str, dt.date], ...] = (
    ("令和", dt.date(2019, 5, 1)), ("平成", dt.date(1989, 1, 8)), ("昭和", dt.date(1926, 12, 25)),
    ("大正", dt.date(1912, 7, 30)), ("明治", dt.date(1868, 1, 25)),
)


def jst(value: dt.datetime | str) -> dt.datetime:
    """A moment in Japan time (a naive value or ISO text without a zone is taken as UTC)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(JST)


def wareki(value: dt.date | dt.datetime | None, *, gregorian: bool = False) -> str:
    """``令和8年11月1日`` (with ``gregorian``, ``令和8年11月1日（2026-11-01）``); ``-`` for none."""
    if value is None:
        return "-"
    if isinstance(value, dt.datetime):
        value = jst(value).date()
    for era, start in ERAS:
        if value >= start:
            year = value.year - start.year + 1
            text = f"{era}{'元' if year == 1 else year}年{value.month}月{value.day}日"
            return f"{text}（{value.isoformat()}）" if gregorian else text
    return value.isoformat()


def wareki_month(year: int, month: int) -> str:
    """``令和8年11月`` for a calendar month (the era of its first day)."""
    return wareki(dt.date(year, month, 1)).split("月")[0] + "月"


def jst_text(value: dt.datetime | str | None) -> str:
    """``令和8年11月1日 10:00`` (Japan time); ``-`` for none."""
    if value is None:
        return "-"
    local = jst(value)
    return f"{wareki(local)} {local:%H:%M}"


def parse_month(text: str) -> tuple[int, int]:
    """``2026-11`` → (2026, 11); anything else is refused by the caller's InvalidInput."""
    parts = str(text or "").strip().split("-")
    if len(parts) != 2 or not all(p.isascii() and p.isdigit() for p in parts) or (len(parts[0]), len(parts[1])) != (4, 2):
        raise ValueError(text)
    year, month = int(parts[0]), int(parts[1])
    if not 1 <= month <= 12 or not 2000 <= year <= 2100:
        raise ValueError(text)
    return year, month


def month_bounds(year: int, month: int) -> tuple[dt.datetime, dt.datetime]:
    """The first moment of the month and of the next, in Japan time."""
    start = dt.datetime(year, month, 1, tzinfo=JST)
    end = dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=JST)
    return start, end
