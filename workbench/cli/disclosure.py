"""``workbench disclosure …`` (F9): disclosure, correction and suspension-of-use requests."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli._common import Subcommands, command, group, login
from workbench.lifecycle import disclosure

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    g = group(sub, "disclosure", "F9: disclosure, correction and suspension-of-use requests")
    p = command(g, "disclosure show", cmd_disclosure, "F9: everything held on one person, as printable HTML in Japanese (written to --out)")
    p.add_argument("person_id")
    p.add_argument("--out", required=True, help="the HTML file to print and hand over (recorded in the media ledger)")
    p = command(g, "disclosure correct", cmd_disclosure, "F9: correct one held item (name, kana, sex, birth_date, address)")
    p.add_argument("person_id")
    p.add_argument("field", help="name, kana, sex, birth_date, address")
    p.add_argument("value")
    p.add_argument("--reason", required=True)
    for verb, text in (("suspend", "suspend use: out of every batch, export and statistic until lifted"),
                       ("lift", "lift a suspension of use")):
        p = command(g, f"disclosure {verb}", cmd_disclosure, f"F9: {text}")
        p.add_argument("person_id")
        p.add_argument("--reason", required=True)
    command(g, "disclosure suspensions", cmd_disclosure, "F9: suspensions of use in force")


def cmd_disclosure(args: argparse.Namespace) -> Any:
    session = login(args)
    if args.command == "show":
        return disclosure.disclose(session, args.person_id, out=args.out)
    if args.command == "correct":
        return disclosure.correct(session, args.person_id, args.field, args.value, reason=args.reason)
    if args.command == "suspend":
        return disclosure.suspend(session, args.person_id, reason=args.reason)
    if args.command == "lift":
        return disclosure.lift_suspension(session, args.person_id, reason=args.reason)
    return disclosure.suspensions(session)
