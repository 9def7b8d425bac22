"""``workbench batch-account …`` (issue 14): batch accounts for unattended cycles."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli._common import Subcommands, command, group, login
from workbench.controls import batch_accounts
from workbench.core import access_rules

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    g = group(sub, "batch-account", "batch accounts for unattended cycles")
    p = command(g, "batch-account add", cmd_batch_account,
                "request approval for, or (--approval A) create, a batch account for one cycle")
    p.add_argument("user_id")
    p.add_argument("--cycle", required=True)
    p.add_argument("--approval")
    p = command(g, "batch-account key", cmd_batch_account, "write a new key file (mode 0600) for a batch account")
    p.add_argument("user_id")
    p.add_argument("--out", required=True, help="outside the repository and the workspace's runs/")
    p.add_argument("--days", type=int, default=90)
    p = command(g, "batch-account revoke", cmd_batch_account, "revoke a batch account's keys at once")
    p.add_argument("user_id")
    p.add_argument("--key-id")
    command(g, "batch-account list", cmd_batch_account, "batch accounts, their cycle, keys and hours")
    p = command(g, "batch-account hours", cmd_batch_account,
                "C13: declare when a batch account may run, e.g. mon-sun=01:00-06:00 (its own hours, not the office's)")
    p.add_argument("user_id")
    p.add_argument("days", nargs="+")


def cmd_batch_account(args: argparse.Namespace) -> Any:
    session = login(args)
    if args.command == "add":
        if args.approval:
            return batch_accounts.add_account(session, args.user_id, args.cycle, approval_id=args.approval)
        return {"approval_requested": batch_accounts.request_account(session, args.user_id, args.cycle)}
    if args.command == "key":
        return batch_accounts.issue_key(session, args.user_id, args.out, days=args.days)
    if args.command == "revoke":
        return batch_accounts.revoke_keys(session, args.user_id, key_id=args.key_id)
    if args.command == "hours":
        return batch_accounts.set_hours(session, args.user_id, access_rules.parse_hours(args.days))
    return batch_accounts.list_accounts(session)
