"""Office policy as data (運用ルール): what counts as a bulk export, how many problem lines a
refusal lists.

The values live in ``workbench/data/policy.json`` (package data), so the office changes a
threshold there, not in code or on a screen.  The audit alert rules (C4: work out of hours,
bulk exports) are here too, so the auditor's screen, reports and the CLI flag the same records.
Working hours have one source: the office's set hours (the ``working_hours`` table of C13,
``workbench access hours``), which the out-of-hours rule is given (:func:`workbench.controls.access.policy`).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from workbench.core.access_rules import within_set_hours
from workbench.core.clock import JST

__all__ = ["POLICY", "Hours", "Policy", "audit_alerts", "is_bulk_export", "is_out_of_hours", "load_policy"]

FORMAT = "workbench-policy/1"


@dataclass(frozen=True)
class Policy:
    """The office's thresholds (see ``data/policy.json``)."""

    #: An outgoing package of at least this many records is flagged for the auditor.
    bulk_export_records: int
    #: A refusal or import summary lists at most this many problem lines.
    max_listed_problems: int


@functools.cache
def load_policy() -> Policy:
    doc = json.loads(resources.files("workbench").joinpath("data/policy.json").read_text("utf-8"))
    if doc.get("format") != FORMAT:
        raise RuntimeError(f"workbench/data/policy.json: expected format {FORMAT}")
    return Policy(int(doc["bulk_export_records"]), int(doc["max_listed_problems"]))


POLICY = load_policy()


def _when(record: Mapping[str, Any]) -> dt.datetime:
    value = record["logged_at"]
    when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return when.astimezone(JST)


def _params(record: Mapping[str, Any]) -> dict[str, Any]:
    value = record.get("params") or {}
    if isinstance(value, str):
        try:
            value = json.loads(value or "{}")
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


#: Weekday (Monday = 0) → (opens, closes), Japan time: ``AccessPolicy.hours``.
Hours = Mapping[int, tuple[dt.time, dt.time]]


def is_out_of_hours(record: Mapping[str, Any], hours: Hours) -> bool:
    """An audit record made outside the office's set hours (a weekday without hours is a day off)."""
    return not within_set_hours(hours, _when(record))


def is_bulk_export(record: Mapping[str, Any], policy: Policy = POLICY) -> bool:
    """An outgoing package (or an ``*export*`` operation) of ``bulk_export_records`` records or more."""
    params = _params(record)
    records = params.get("records", params.get("record_count", 0))
    outgoing = "export" in str(record["operation"]) or "package_id" in params
    return bool(outgoing and isinstance(records, int) and records >= policy.bulk_export_records)


def audit_alerts(records: Iterable[Mapping[str, Any]], hours: Hours, policy: Policy = POLICY) -> dict[str, int]:
    """C4 alerts over audit records: how many out of the set ``hours``, how many bulk exports."""
    late = bulk = 0
    for r in records:
        late += is_out_of_hours(r, hours)
        bulk += is_bulk_export(r, policy)
    return {"out_of_hours": late, "bulk_export": bulk}
