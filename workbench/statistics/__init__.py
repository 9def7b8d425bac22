"""F8 statistics: the statistics service and its analysts' client (:class:`Statistics`)."""

from __future__ import annotations

from typing import Any

__all__ = ["Statistics"]


def __getattr__(name: str) -> Any:
    if name == "Statistics":
        from workbench.statistics.client import Statistics

        return Statistics
    raise AttributeError(name)
