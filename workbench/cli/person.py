"""``workbench person show`` and ``person search``: one person, the number masked unless revealed (audited);
finding people by 宛名番号, name or kana."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli._common import Subcommands, command, group, login
from workbench.core.paging import MAX_LIMIT, PageRequest
from workbench.intake import persons

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    g = group(sub, "person", "one person")
    p = command(g, "person show", cmd_person_show, "one person, number masked (--reveal: audited)")
    p.add_argument("person_id")
    p.add_argument("--reveal", action="store_true")
    p = command(g, "person search", cmd_person_search, "find people by 宛名番号, name or kana (masked, audited)")
    p.add_argument("text", help="a 宛名番号 in any width or case, or a name or kana")
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--sort", choices=["kana", "person_id", "birth_date"])
    p.add_argument("--desc", action="store_true")


def cmd_person_show(args: argparse.Namespace) -> Any:
    session = login(args)
    view = persons.get(session, args.person_id).to_dict()
    if args.reveal:
        view["number"] = persons.reveal_number(session, args.person_id)
    return view


def cmd_person_search(args: argparse.Namespace) -> Any:
    return persons.search(login(args), args.text, PageRequest(offset=args.offset, limit=min(args.limit, MAX_LIMIT),
                                                              sort=args.sort, descending=args.desc))
