"""``workbench approvals …``: second-person approvals."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli._common import Subcommands, command, group, login
from workbench.core import approvals

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    g = group(sub, "approvals", "second-person approvals")
    command(g, "approvals list", cmd_approvals_list, "requests waiting for a decision")
    for verb in ("approve", "reject"):
        p = command(g, f"approvals {verb}", cmd_approvals_decide, f"{verb} another person's request")
        p.add_argument("approval_id")
    p.add_argument("--reason", required=True, help="why it is rejected; shown to the person who asked")


def cmd_approvals_list(args: argparse.Namespace) -> Any:
    return approvals.pending(login(args))


def cmd_approvals_decide(args: argparse.Namespace) -> Any:
    return approvals.decide(login(args), args.approval_id, approve=args.command == "approve",
                            reason=getattr(args, "reason", None))
