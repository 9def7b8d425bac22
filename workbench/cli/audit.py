"""``workbench audit …``: verify, anchor, search the audit log; acknowledge a broken one."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from workbench.cli._common import Exit, Subcommands, command, group, login
from workbench.controls import audit_log

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    g = group(sub, "audit", "the audit log")
    p = command(g, "audit verify", cmd_audit_verify, "verify the hash chain and signed heads")
    p.add_argument("--anchor", help="an anchor file written by `audit anchor`, to check against too")
    p = command(g, "audit acknowledge", cmd_audit_acknowledge,
                "after a broken log: record what happened and lift the stop on writes and reveals")
    p.add_argument("--note", required=True, help="what happened and what was done")
    p = command(g, "audit anchor", cmd_audit_anchor, "append the newest signed head to an anchor file elsewhere")
    p.add_argument("--to", required=True, help="the anchor file, outside the workspace (another disk)")
    command(g, "audit anchor-outside", cmd_audit_anchor_outside,
            "append the newest signed head to the anchor outside the workspace now; where, lines, append-only?")
    p = command(g, "audit search", cmd_audit_search, "search records by user, target, operation, outcome, approval")
    p.add_argument("--by", help="user ID")
    p.add_argument("--target", help="target identifier (matched by pseudonym)")
    p.add_argument("--operation")
    p.add_argument("--outcome")
    p.add_argument("--approval", help="approval number: the records of its request, decision and the work it allowed")
    p.add_argument("--limit", type=int, default=100)


def cmd_audit_verify(args: argparse.Namespace) -> Any:
    report = audit_log.verify(login(args), anchor=args.anchor)
    ja, en = report.message()
    result = {**dataclasses.asdict(report), "message_ja": ja, "message_en": en}
    return Exit(result, 0 if report.ok else 7)


def cmd_audit_anchor_outside(args: argparse.Namespace) -> Any:
    return audit_log.anchor_outside(login(args))


def cmd_audit_acknowledge(args: argparse.Namespace) -> Any:
    return audit_log.acknowledge(login(args), args.note)


def cmd_audit_anchor(args: argparse.Namespace) -> Any:
    result = audit_log.anchor(login(args), args.to)
    if not result["anchored"]:
        report = result["report"]
        ja, en = report.message()
        return Exit({**result, "report": dataclasses.asdict(report), "message_ja": ja, "message_en": en}, 7)
    return result


def cmd_audit_search(args: argparse.Namespace) -> Any:
    return audit_log.search(login(args), user_id=args.by, target=args.target, operation=args.operation,
                           outcome=args.outcome, approval_id=args.approval, limit=args.limit)
