"""``workbench access …`` (C13): set hours, exceptions to them, registered terminals."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from workbench.cli._common import Subcommands, command, group, login
from workbench.controls import access
from workbench.core import access_rules
from workbench.core.clock import JST
from workbench.core.errors import InvalidInput

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    g = group(sub, "access", "C13: set hours and registered terminals")
    command(g, "access show", cmd_access_show, "the set hours, approved exceptions and registered terminals")
    p = command(g, "access hours", cmd_access_hours, "set the hours by weekday, e.g. mon-fri=08:30-18:00 sat-sun=closed")
    p.add_argument("days", nargs="+")
    p.add_argument("--preview", action="store_true", help="only show what the change would do now (whose sessions end)")
    p.add_argument("--confirm", action="store_true", help="go ahead although the change ends sessions now (yours too)")
    p = command(g, "access exception", cmd_access_exception,
                "request use outside the hours for one user and period; with --approval, carry it out")
    p.add_argument("user_id")
    p.add_argument("--from", dest="starts", required=True)
    p.add_argument("--to", dest="ends", required=True)
    p.add_argument("--reason", required=True)
    p.add_argument("--approval")
    p = command(g, "access terminal-add", cmd_access_terminal_add, "register a terminal by address/range or certificate")
    p.add_argument("--address")
    p.add_argument("--certificate", help="SHA-256 fingerprint of the client certificate")
    p.add_argument("--label", required=True)
    p = command(g, "access terminal-remove", cmd_access_terminal_remove, "remove a registered terminal")
    p.add_argument("terminal_id")


def cmd_access_show(args: argparse.Namespace) -> Any:
    return access.policy(login(args, hours_recovery=True))


def cmd_access_hours(args: argparse.Namespace) -> Any:
    hours = access_rules.parse_hours(args.days)  # refused before anyone is asked for a password
    # An administrator may log in here outside the hours, only to change them (C13: hours set by mistake).
    session = login(args, hours_recovery=True)
    if args.preview:
        return access.preview_hours(session, hours)
    return access.set_hours(session, hours, confirm_ending=args.confirm)


def _period(args: argparse.Namespace) -> tuple[dt.datetime, dt.datetime]:
    try:
        starts, ends = (dt.datetime.fromisoformat(v) for v in (args.starts, args.ends))
    except ValueError:
        raise InvalidInput("Give the period as e.g. 2026-12-01T18:00+09:00.",
                           "期間は 2026-12-01T18:00+09:00 のように指定してください。") from None
    return (starts if starts.tzinfo else starts.replace(tzinfo=JST)), (ends if ends.tzinfo else ends.replace(tzinfo=JST))


def cmd_access_exception(args: argparse.Namespace) -> Any:
    starts, ends = _period(args)
    session = login(args)
    if args.approval:
        return access.grant_exception(session, args.user_id, starts, ends, args.reason, approval_id=args.approval)
    return access.request_exception(session, args.user_id, starts, ends, args.reason)


def cmd_access_terminal_add(args: argparse.Namespace) -> Any:
    kind, value = ("certificate", args.certificate) if args.certificate else ("address", args.address)
    if not value:
        raise InvalidInput("Give --address or --certificate.", "--address か --certificate を指定してください。")
    return access.register_terminal(login(args), kind, value, args.label)


def cmd_access_terminal_remove(args: argparse.Namespace) -> Any:
    access.remove_terminal(login(args), args.terminal_id)
    return {"removed": args.terminal_id}
