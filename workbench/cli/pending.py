"""``workbench pending`` and ``workbench inbox``: the work waiting for you (the home screen's counts and items)."""

from __future__ import annotations

import argparse
from typing import Any

from workbench import pending
from workbench.cli._common import Subcommands, command, login

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    command(sub, "pending", cmd_pending, "the work waiting for you, counted from the whole database")
    p = command(sub, "inbox", cmd_inbox, "the work waiting for you, each item named with where it is done")
    p.add_argument("--limit", type=int, default=10, help="items named per kind (1-100; the counts are always whole)")


def cmd_pending(args: argparse.Namespace) -> Any:
    return pending.pending_work(login(args))


def cmd_inbox(args: argparse.Namespace) -> Any:
    return pending.inbox(login(args), limit=args.limit)
