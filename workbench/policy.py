"""Office policy as data (運用ルール): working hours, what counts as a bulk export, how many
problem lines a refusal lists.

The values live in ``workbench/data/policy.json`` (package data), so the office changes a
threshold there, not in code or on a screen.  The audit alert rules (C4: work out of hours,
bulk exports) are here too, so the auditor's screen, reports and the CLI flag the same records.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from .clock import JST

__all__ = ["POLICY", "Policy", "audit_alerts", "is_bulk_export", "is_out_of_hours", "load_policy"]

FORMAT = "workbench-policy/1"


@dataclass(frozen=True)
class Policy:
    """The office's thresholds (see ``data/policy.json``)."""

    #: Work from this hour (inclusive) to ``work_end_hour`` (exclusive), JST, on working weekdays.
    work_start_hour: int
    work_end_hour: int
    #: Monday = 0 … Sunday = 6.
    working_weekdays: frozenset[int]
    #: An outgoing package of at least this many records is flagged for the auditor.
    bulk_export_records: int
    #: A refusal or import summary lists at most this many problem lines.
    max_listed_problems: int


@functools.cache
def load_policy() -> Policy:
    doc = json.loads(resources.files("workbench").joinpath("data/policy.json").read_text("utf-8"))
    if doc.get("format") != FORMAT:
        raise RuntimeError(f"workbench/data/policy.json: expected format {FORMAT}")
    hours = doc["working_hours"]
    return Policy(int(hours["start_hour"]), int(hours["end_hour"]), frozenset(int(d) for d in hours["working_weekdays"]),
                  int(doc["bulk_export_records"]), int(doc["max_listed_problems"]))


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


def is_out_of_hours(record: Mapping[str, Any], policy: Policy = POLICY) -> bool:
    """An audit record made outside working hours or on a day off (JST)."""
    when = _when(record)
    return (when.weekday() not in policy.working_weekdays or when.hour < policy.work_start_hour
            or when.hour >= policy.work_end_hour)


def is_bulk_export(record: Mapping[str, Any], policy: Policy = POLICY) -> bool:
    """An outgoing package (or an ``*export*`` operation) of ``bulk_export_records`` records or more."""
    params = _params(record)
    records = params.get("records", params.get("record_count", 0))
    outgoing = "export" in str(record["operation"]) or "package_id" in params
    return bool(outgoing and isinstance(records, int) and records >= policy.bulk_export_records)


def audit_alerts(records: Iterable[Mapping[str, Any]], policy: Policy = POLICY) -> dict[str, int]:
    """C4 alerts over audit records: how many out of hours, how many bulk exports."""
    late = bulk = 0
    for r in records:
        late += is_out_of_hours(r, policy)
        bulk += is_bulk_export(r, policy)
    return {"out_of_hours": late, "bulk_export": bulk}
