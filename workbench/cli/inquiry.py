"""``workbench inquiry …`` (F10): the inquiry log."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli._common import Subcommands, command, group, login
from workbench.lifecycle import inquiries

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    g = group(sub, "inquiry", "F10: the inquiry log")
    p = command(g, "inquiry add", cmd_inquiry, "F10: record an inquiry (how received, about whom, what was asked)")
    p.add_argument("--channel", required=True, help="phone, counter, mail, email, web")
    p.add_argument("--category", required=True, help="handling, disclosure, collection, complaint, other")
    p.add_argument("--question", required=True)
    p.add_argument("--person", help="internal person number, if the inquiry is about someone held")
    p.add_argument("--handled-by", help="user ID who handles it (default: you)")
    p = command(g, "inquiry close", cmd_inquiry, "F10: record how the inquiry was answered and close it")
    p.add_argument("inquiry_id")
    p.add_argument("--response", required=True)
    p = command(g, "inquiry search", cmd_inquiry, "F10: search by text, person, status, channel, month (YYYY-MM)")
    p.add_argument("--text")
    p.add_argument("--person")
    p.add_argument("--status", choices=["open", "closed"])
    p.add_argument("--channel")
    p.add_argument("--month")
    p.add_argument("--limit", type=int, default=200)
    p = command(g, "inquiry monthly", cmd_inquiry, "F10: monthly counts by channel and category")
    p.add_argument("--year", type=int, required=True)


def cmd_inquiry(args: argparse.Namespace) -> Any:
    session = login(args)
    if args.command == "add":
        return inquiries.record(session, channel=args.channel, category=args.category, question=args.question,
                                person_id=args.person, handled_by=args.handled_by)
    if args.command == "close":
        return inquiries.close(session, args.inquiry_id, response=args.response)
    if args.command == "search":
        return inquiries.search(session, text=args.text, person_id=args.person, status=args.status,
                                channel=args.channel, month=args.month, limit=args.limit)
    return inquiries.monthly(session, year=args.year)
