"""The access policy as data (C13): set hours, exceptions, registered terminals.

利用時間と登録端末の規則。Pure functions over the tables of migration 0007; the services
that change them are in :mod:`workbench.controls.access`.  :func:`check` is the one place the
policy is applied: by :meth:`Workspace.login` for every login (the command line is held
to the same hours; it runs on the server itself, so it names no terminal), and by the
web server on every request.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import duckdb

from workbench.core.clock import JST
from workbench.core.errors import AccessRefused, InvalidInput

__all__ = ["END_OF_DAY", "WEEKDAYS", "WEEKDAYS_JA", "AccessPolicy", "HourException", "HoursHistory", "Terminal", "check",
           "check_hours", "hours_history", "load_policy", "parse_hours", "record_hours", "window_from", "within_set_hours"]

#: Weekday keys as an administrator types them, Monday first (datetime.weekday()).
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAYS_JA = ("月", "火", "水", "木", "金", "土", "日")
END_OF_DAY = dt.time(23, 59, 59, 999999)


@dataclass(frozen=True)
class Terminal:
    terminal_id: str
    kind: str          # address | certificate
    value: str
    label: str
    registered_by: str
    registered_at: dt.datetime

    def matches(self, address: str | None, fingerprint: str | None) -> bool:
        if self.kind == "certificate":
            return fingerprint is not None and fingerprint.lower() == self.value.lower()
        if address is None:
            return False
        try:
            return ipaddress.ip_address(address) in ipaddress.ip_network(self.value, strict=False)
        except ValueError:
            return False

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class HourException:
    exception_id: str
    user_id: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    reason: str
    approval_id: str
    granted_by: str

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class AccessPolicy:
    """The hours, the exceptions still running or to come, and the registered terminals."""

    hours: dict[int, tuple[dt.time, dt.time]]
    exceptions: tuple[HourException, ...]
    terminals: tuple[Terminal, ...]

    def within_hours(self, user_id: str, at: dt.datetime) -> bool:
        if within_set_hours(self.hours, at):
            return True
        return any(e.user_id == user_id and e.starts_at <= at < e.ends_at for e in self.exceptions)

    def terminal_for(self, address: str | None, fingerprint: str | None) -> Terminal | None:
        return next((t for t in self.terminals if t.matches(address, fingerprint)), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "hours": {WEEKDAYS[d]: (None if d not in self.hours else
                                    f"{self.hours[d][0]:%H:%M}-{_end_text(self.hours[d][1])}") for d in range(7)},
            "exceptions": [e.to_dict() for e in self.exceptions],
            "terminals": [t.to_dict() for t in self.terminals],
        }


def within_set_hours(hours: Mapping[int, tuple[dt.time, dt.time]], at: dt.datetime) -> bool:
    """Whether ``at`` falls in the office's set hours (weekday → opens, closes in Japan time; a
    weekday without hours is closed).  Exceptions for one user are :meth:`AccessPolicy.within_hours`."""
    local = at.astimezone(JST)
    window = hours.get(local.weekday())
    return window is not None and window[0] <= local.time() <= window[1]


def _end_text(t: dt.time) -> str:
    return "24:00" if t == END_OF_DAY else f"{t:%H:%M}"


def load_policy(con: duckdb.DuckDBPyConnection, now: dt.datetime) -> AccessPolicy:
    hours = {int(d): (o, c) for d, o, c in con.execute("SELECT weekday, opens, closes FROM working_hours").fetchall()}
    exceptions = tuple(HourException(*r) for r in con.execute(
        "SELECT exception_id, user_id, starts_at, ends_at, reason, approval_id, granted_by FROM hour_exceptions"
        " WHERE ends_at > ? ORDER BY starts_at", [now]).fetchall())
    terminals = tuple(Terminal(*r) for r in con.execute(
        "SELECT terminal_id, kind, value, label, registered_by, registered_at FROM terminals"
        " WHERE removed_at IS NULL ORDER BY terminal_id").fetchall())
    return AccessPolicy(hours, exceptions, terminals)


class HoursHistory:
    """The set hours through time (migration 0020, ``working_hours_history``): which hours were in
    force at a moment, so an old record is judged by the hours of its day, not today's."""

    def __init__(self, rows: list[tuple[int, dt.datetime, dt.time | None, dt.time | None]]) -> None:
        #: weekday → [(valid_from UTC, window or None)], oldest first
        self._by_day: dict[int, list[tuple[dt.datetime, tuple[dt.time, dt.time] | None]]] = {}
        for day, valid_from, opens, closes in sorted(rows, key=lambda r: (r[0], r[1])):
            window = (opens, closes) if opens is not None and closes is not None else None
            self._by_day.setdefault(int(day), []).append((valid_from.replace(tzinfo=dt.UTC), window))

    def hours_at(self, at: dt.datetime) -> dict[int, tuple[dt.time, dt.time]]:
        """The set hours in force at ``at``: weekday → (opens, closes); a weekday without is closed."""
        hours: dict[int, tuple[dt.time, dt.time]] = {}
        for day, changes in self._by_day.items():
            window = None
            for valid_from, span in changes:
                if valid_from > at:
                    break
                window = span
            if window is not None:
                hours[day] = window
        return hours

    def within(self, at: dt.datetime) -> bool:
        """Whether ``at`` fell within the hours in force at that moment."""
        return within_set_hours(self.hours_at(at), at)


def hours_history(con: duckdb.DuckDBPyConnection) -> HoursHistory:
    return HoursHistory([(int(d), f, o, c) for d, f, o, c in con.execute(
        "SELECT weekday, valid_from, opens, closes FROM working_hours_history").fetchall()])


def record_hours(con: duckdb.DuckDBPyConnection, day: int, window: tuple[dt.time, dt.time] | None, *,
                 at: dt.datetime, user_id: str) -> None:
    """Keep a change of one weekday's hours in the history, in force from ``at``."""
    utc = at.astimezone(dt.UTC).replace(tzinfo=None)
    con.execute("INSERT INTO working_hours_history VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET"
                " opens = EXCLUDED.opens, closes = EXCLUDED.closes, changed_by = EXCLUDED.changed_by",
                [day, utc, window[0] if window else None, window[1] if window else None, user_id])


def check(policy: AccessPolicy, user_id: str, at: dt.datetime, *, web: bool,
          address: str | None = None, fingerprint: str | None = None) -> Terminal | None:
    """Refuse use outside the hours, or (for the web) from an unregistered terminal.

    Returns the terminal the request came from (``None`` for the command line)."""
    terminal = None
    if web:
        terminal = policy.terminal_for(address, fingerprint)
        if terminal is None:
            raise AccessRefused(
                "This terminal is not registered for the workbench; ask the administrator to register it.",
                "この端末はワークベンチの利用端末として登録されていません。システム管理者に登録を依頼してください。",
                reason="unknown_terminal",
            )
    if not policy.within_hours(user_id, at):
        raise AccessRefused(
            "The workbench may not be used at this hour; use outside the set hours needs an approved exception.",
            "現在は利用時間外です。時間外に利用するには、承認を受けた時間外利用の申請が必要です。",
            reason="out_of_hours",
        )
    return terminal


# -- parsing what an administrator types -------------------------------------------------

_RANGE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


def parse_hours(specs: list[str]) -> dict[int, tuple[dt.time, dt.time] | None]:
    """``["mon-fri=08:30-18:00", "sat=closed"]`` → weekday → (opens, closes) or None (closed)."""
    out: dict[int, tuple[dt.time, dt.time] | None] = {}
    for spec in specs:
        days, _, hours = spec.strip().lower().partition("=")
        first, _, last = days.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS) or not hours:
            raise _bad_hours(spec)
        a, b = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        if b < a:
            raise _bad_hours(spec)
        window: tuple[dt.time, dt.time] | None = None
        if hours != "closed":
            m = _RANGE.match(hours)
            if not m:
                raise _bad_hours(spec)
            h1, m1, h2, m2 = (int(x) for x in m.groups())
            if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
                raise _bad_hours(spec)
            opens = dt.time(h1, m1)
            closes = END_OF_DAY if h2 == 24 else dt.time(h2, m2)
            if closes <= opens:
                raise _bad_hours(spec)
            window = (opens, closes)
        for d in range(a, b + 1):
            out[d] = window
    return out


def _bad_hours(spec: str) -> InvalidInput:
    return InvalidInput(
        f"Cannot read the hours {spec[:40]!r}; write e.g. mon-fri=08:30-18:00 or sat=closed.",
        f"利用時間 {spec[:40]!r} を読み取れません。mon-fri=08:30-18:00 や sat=closed のように指定してください。",
    )


# -- hours chosen on the screen: a window per weekday, checked whatever the caller sends -------------

def _time_text(value: str, *, end: bool) -> dt.time:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", str(value).strip())
    if not m:
        raise ValueError(value)
    h, mi = int(m.group(1)), int(m.group(2))
    if end and (h, mi) == (24, 0):
        return END_OF_DAY
    return dt.time(h, mi)  # ValueError for 25:00, 12:75


def window_from(day: int, opens: str, closes: str) -> tuple[dt.time, dt.time]:
    """One weekday's window from the times chosen on the screen (``"08:30"``, ``"18:00"``; ``"24:00"``
    is the end of the day); refused in both languages when unreadable or not later than it opens."""
    name = WEEKDAYS_JA[day] + "曜日" if 0 <= day < 7 else "?"
    try:
        window = (_time_text(opens, end=False), _time_text(closes, end=True))
    except (ValueError, TypeError):
        raise InvalidInput(f"Cannot read the times given for {WEEKDAYS[day] if 0 <= day < 7 else day!r}; choose them"
                           " from the lists (e.g. 08:30 to 18:00).",
                           f"{name}の時刻を読み取れません。一覧から選んでください（例: 08:30〜18:00）。",
                           reason="bad_hours") from None
    checked = check_hours({day: window})[day]
    assert checked is not None
    return checked


def check_hours(hours: object) -> dict[int, tuple[dt.time, dt.time] | None]:
    """The hours a service was given (weekday 0–6 → (opens, closes) or ``None`` for closed), checked
    whole: any other shape, a time that is not a time, or a window that does not end after it opens is
    refused with its reason in Japanese and English — the screen is never trusted to have checked."""
    def bad(en: str, ja: str) -> InvalidInput:
        return InvalidInput(f"The hours are not valid: {en}.", f"利用時間が正しくありません（{ja}）。", reason="bad_hours")

    if not isinstance(hours, Mapping) or not hours:
        raise bad("give at least one weekday", "曜日を一つ以上指定してください")
    out: dict[int, tuple[dt.time, dt.time] | None] = {}
    for day, window in hours.items():
        if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day < 7:
            raise bad(f"{str(day)[:20]!r} is not a weekday", "曜日ではない値があります")
        name = WEEKDAYS_JA[day] + "曜日"
        if window is None:
            out[day] = None
            continue
        if not isinstance(window, (tuple, list)) or len(window) != 2 \
                or not all(isinstance(t, dt.time) and t.tzinfo is None for t in window):
            raise bad(f"{WEEKDAYS[day]}: give an opening and a closing time", f"{name}: 開始と終了の時刻を指定してください")
        opens, closes = window
        if closes <= opens:
            raise bad(f"{WEEKDAYS[day]}: the end {_end_text(closes)} is not after the start {opens:%H:%M}",
                      f"{name}: 終了 {_end_text(closes)} が開始 {opens:%H:%M} より後ではありません")
        out[day] = (opens, closes)
    return out
