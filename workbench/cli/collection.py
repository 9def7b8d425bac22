"""``workbench collection …`` (F0b): the collection list for the number-collection contractor."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli._common import Subcommands, command, group, outgoing_file
from workbench.intake.collection import APPROVAL_KIND

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    g = group(sub, "collection", "F0b: the collection list for the number-collection contractor")
    for verb, text in (("preview", "counts by ward and status, no personal data"),
                       ("request", "ask a second person to approve this selection"),
                       ("export", "write the approved list as a transfer package")):
        p = command(g, f"collection {verb}", cmd_collection, f"F0b: {text}")
        p.add_argument("--ward", action="append", help="ward code (repeatable)")
        p.add_argument("--status", action="append", choices=["resident", "applicant"], help="repeatable")
        if verb == "export":
            p.add_argument("--approval", required=True)


def cmd_collection(args: argparse.Namespace) -> Any:
    step = {"preview": "preview", "request": "request", "export": "create"}[args.command]
    return outgoing_file(args, APPROVAL_KIND, step, wards=args.ward, status=args.status)
