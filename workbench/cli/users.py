"""``workbench user …``: user IDs and roles."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli._common import Subcommands, command, group, login, secret
from workbench.controls import users
from workbench.core.errors import InvalidInput

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    g = group(sub, "user", "user IDs and roles")
    p = command(g, "user add", cmd_user_add, "add a user ID (password from WORKBENCH_NEW_PASSWORD or asked)")
    p.add_argument("user_id")
    p.add_argument("--name")
    p = command(g, "user disable", cmd_user_disable, "disable a user ID at once")
    p.add_argument("user_id")
    command(g, "user list", cmd_user_list, "list user IDs and roles")
    p = command(g, "user review", cmd_user_review, "the yearly review of IDs and permissions")
    p.add_argument("--confirm", action="store_true", help="refused: record a review with idreview start / signoff")
    p = command(g, "user grant", cmd_user_grant, "request a role grant, or carry it out with --approval")
    p.add_argument("user_id")
    p.add_argument("role")
    p.add_argument("--approval")
    p = command(g, "user revoke", cmd_user_revoke, "remove a role")
    p.add_argument("user_id")
    p.add_argument("role")


def cmd_user_add(args: argparse.Namespace) -> Any:
    session = login(args)
    password = secret("WORKBENCH_NEW_PASSWORD", f"{args.user_id} の初期パスワード / initial password: ")
    return users.add(session, args.user_id, args.name or args.user_id, password)


def cmd_user_disable(args: argparse.Namespace) -> Any:
    return users.disable(login(args), args.user_id)


def cmd_user_list(args: argparse.Namespace) -> Any:
    return users.list_users(login(args))


def cmd_user_review(args: argparse.Namespace) -> Any:
    if args.confirm:  # the old path that recorded the review without a second person (issue 18 item 5)
        raise InvalidInput(
            "user review --confirm no longer records the review: IDs count as reviewed only through the signed-off "
            "review (workbench idreview start, then idreview signoff with a second person's approval).",
            "user review --confirm では点検を記録できません。IDの点検は ID・権限の棚卸し（workbench idreview start の後、"
            "別の職員の承認を得て idreview signoff）でのみ記録されます。", reason="use_idreview")
    return users.review(login(args))


def cmd_user_grant(args: argparse.Namespace) -> Any:
    session = login(args)
    if args.approval:
        return users.grant(session, args.user_id, args.role, approval_id=args.approval)
    return {"approval_requested": users.request_grant(session, args.user_id, args.role)}


def cmd_user_revoke(args: argparse.Namespace) -> Any:
    return users.revoke(login(args), args.user_id, args.role)
