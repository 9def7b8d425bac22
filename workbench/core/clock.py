"""Clocks, injected so tests can move time (idle timeout, TOTP steps, expiry)."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

__all__ = ["JST", "Clock", "FixedClock", "SystemClock"]

JST = dt.timezone(dt.timedelta(hours=9), "JST")


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """An aware datetime."""
        ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self._now = start or dt.datetime(2026, 4, 1, 9, 0, tzinfo=JST)

    def now(self) -> dt.datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += dt.timedelta(seconds=seconds)

    def set(self, when: dt.datetime) -> None:
        self._now = when
