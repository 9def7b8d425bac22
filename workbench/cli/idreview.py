"""``workbench idreview …`` (C6): the yearly review of IDs and permissions."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli._common import Subcommands, command, group, login
from workbench.controls import idreview

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    g = group(sub, "idreview", "C6: the yearly review of IDs and permissions")
    command(g, "idreview start", cmd_idreview, "C6: take stock of every ID (roles, dormant, overdue)")
    p = command(g, "idreview disable", cmd_idreview, "C6: disable IDs of people who left or no longer need them")
    p.add_argument("review_id")
    p.add_argument("user_id", nargs="+")
    p.add_argument("--reason", required=True)
    p = command(g, "idreview signoff", cmd_idreview, "C6: request the second person's sign-off, or (--approval A) record it")
    p.add_argument("review_id")
    p.add_argument("--approval")
    command(g, "idreview list", cmd_idreview, "C6: past and open reviews")


def cmd_idreview(args: argparse.Namespace) -> Any:
    session = login(args)
    if args.command == "start":
        return idreview.start_review(session)
    if args.command == "disable":
        return idreview.disable_in_review(session, args.review_id, args.user_id, reason=args.reason)
    if args.command == "signoff":
        if args.approval:
            return idreview.sign_off(session, args.review_id, approval_id=args.approval)
        return {"approval_requested": idreview.request_signoff(session, args.review_id)}
    return idreview.reviews(session)
