"""``workbench person show``: one person, the number masked unless revealed (audited)."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli._common import Subcommands, command, group, login
from workbench.intake import persons

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    g = group(sub, "person", "one person")
    p = command(g, "person show", cmd_person_show, "one person, number masked (--reveal: audited)")
    p.add_argument("person_id")
    p.add_argument("--reveal", action="store_true")


def cmd_person_show(args: argparse.Namespace) -> Any:
    session = login(args)
    view = persons.get(session, args.person_id).to_dict()
    if args.reveal:
        view["number"] = persons.reveal_number(session, args.person_id)
    return view
