"""``workbench records …`` (issue 23): the office's records — training, the yearly self-inspection,
the contractor's collection kits and incidents with their reporting deadlines (administrator)."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable
from typing import Any

from workbench.cli._common import Subcommands, command, group, login
from workbench.controls import records
from workbench.core.clock import JST
from workbench.queries.query_rules import current_fiscal_year

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    g = group(sub, "records", "the office's records: training, self-inspection, contractor kits, incidents (administrator)")
    p = command(g, "records training-add", cmd_records, "record a training session and who attended (staff IDs)")
    p.add_argument("--date", required=True, help="YYYY-MM-DD")
    p.add_argument("--title", required=True)
    p.add_argument("--topic", required=True, help="my_number_basics, security, incident_response, system_operation, other")
    p.add_argument("--minutes", required=True)
    p.add_argument("--attendee", action="append", help="a staff user ID; repeat for each")
    p = command(g, "records inspection-add", cmd_records, "record one item of the yearly self-inspection")
    p.add_argument("--year", required=True, help="fiscal year (April to March)")
    p.add_argument("--item", required=True, help="a checklist item, e.g. ids_reviewed, training_done, backups_tested")
    p.add_argument("--result", required=True, choices=["ok", "finding"])
    p.add_argument("--finding")
    p.add_argument("--follow-up")
    p.add_argument("--due", help="YYYY-MM-DD: when the follow-up is due (needed for a finding)")
    p.add_argument("--closed", help="YYYY-MM-DD: when the follow-up was completed")
    p = command(g, "records kits", cmd_records, "record collection kits handed out to the contractor, returned or lost")
    p.add_argument("--batch", required=True)
    p.add_argument("--direction", required=True, choices=["handed_out", "returned", "lost"])
    p.add_argument("--kits", required=True)
    p.add_argument("--date", required=True, help="YYYY-MM-DD")
    p.add_argument("--note")
    p = command(g, "records incident-add", cmd_records, "open an incident; prints its reporting deadlines")
    p.add_argument("--kind", required=True, help="leak, loss, damage, wrong_recipient, unauthorised_access, other")
    p.add_argument("--summary", required=True, help="what happened, without personal data")
    p.add_argument("--persons", required=True, help="how many people are affected")
    p.add_argument("--discovered", required=True, help="when the office knew, e.g. 2026-11-04T10:30 (Japan time)")
    p.add_argument("--occurred", help="when it happened, if known")
    p.add_argument("--unauthorised", action="store_true", help="caused or possibly caused with an unfair purpose (60 days)")
    p = command(g, "records incident-event", cmd_records, "add a step to an incident's timeline (reports, notice, closed)")
    p.add_argument("incident_id")
    p.add_argument("--event", required=True,
                   help="contained, preliminary_report, final_report, persons_notified, recurrence_prevention, closed")
    p.add_argument("--at", required=True, help="e.g. 2026-11-06T15:00 (Japan time)")
    p.add_argument("--note")
    p = command(g, "records list", cmd_records, "list training, the self-inspection, kit reconciliation or incidents")
    p.add_argument("kind", choices=["training", "inspection", "kits", "incidents"])
    p.add_argument("--year", help="fiscal year of the self-inspection (default: the current one)")


def cmd_records(args: argparse.Namespace) -> Any:
    session = login(args)
    if args.command == "training-add":
        return records.record_training(session, held_on=args.date, title=args.title, topic=args.topic,
                                       minutes=args.minutes, attendees=args.attendee or [])
    if args.command == "inspection-add":
        return records.record_inspection_item(session, fiscal_year=args.year, item=args.item, result=args.result,
                                              finding=args.finding, follow_up=args.follow_up, due_on=args.due,
                                              closed_on=args.closed)
    if args.command == "kits":
        return records.record_kits(session, batch=args.batch, direction=args.direction, kits=args.kits,
                                   moved_on=args.date, note=args.note)
    if args.command == "incident-add":
        return records.record_incident(session, kind=args.kind, summary=args.summary, persons=args.persons,
                                       discovered_at=args.discovered, occurred_at=args.occurred,
                                       unauthorised=args.unauthorised)
    if args.command == "incident-event":
        return records.add_incident_event(session, args.incident_id, event=args.event, at=args.at, note=args.note)
    listing: dict[str, Callable[[], Any]] = {
        "training": lambda: records.training(session), "kits": lambda: records.kit_reconciliation(session),
        "incidents": lambda: records.incidents(session),
        "inspection": lambda: records.inspection(session, args.year or current_fiscal_year(dt.datetime.now(JST))),
    }
    return listing[args.kind]()
