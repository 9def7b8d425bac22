"""``workbench retention …`` (C11): retention rules as data, and applying them."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli._common import Subcommands, command, group, login
from workbench.lifecycle import retention, unneeded

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    g = group(sub, "retention", "C11: retention rules as data")
    command(g, "retention rules", cmd_retention, "how long each kind of record is kept")
    p = command(g, "retention set", cmd_retention, "change one retention period (audited; the audit log keeps 7 years)")
    p.add_argument("kind")
    p.add_argument("days", type=int)
    command(g, "retention report", cmd_retention, "dry run: what is past its period now, and when the next item is due")
    command(g, "retention apply", cmd_retention, "delete everything past its retention period and record it")
    command(g, "retention check-numbers", cmd_retention_check_numbers,
            "the daily check: propose people off the target list who hold a number for deletion")


def cmd_retention_check_numbers(args: argparse.Namespace) -> Any:
    return unneeded.check_unneeded(login(args))


def cmd_retention(args: argparse.Namespace) -> Any:
    session = login(args)
    if args.command == "rules":
        return retention.rules(session)
    if args.command == "set":
        return retention.set_rule(session, args.kind, args.days)
    return retention.apply(session, dry_run=args.command == "report")
