"""``workbench discrepancies …`` (C7, U4): results that differ from what is held, the notice
list for the housing system, and the income declared in the applications."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from workbench.cli._common import (
    Subcommands,
    command,
    group,
    login,
    outgoing_file,
    outgoing_step,
    page_options,
    page_request,
    read_input,
)
from workbench.queries import discrepancies

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    g = group(sub, "discrepancies", "C7: results that differ from what is held")
    p = command(g, "discrepancies list", cmd_discrepancies_list, "C7: the review queue (fields that differ, by kind)")
    p.add_argument("--status", choices=["open", "person_notified", "resolved"])
    p.add_argument("--kind")
    p.add_argument("--limit", type=int, default=1000)
    page_options(p, sorts="detected_at, discrepancy_id, person_id, kind, status or acted_at",
                 text="rows whose number, person, note or batch contains this text")
    p = command(g, "discrepancies resolve", cmd_discrepancies_resolve, "C7: mark a discrepancy notified or resolved")
    p.add_argument("discrepancy_id")
    action = p.add_mutually_exclusive_group(required=True)
    action.add_argument("--notified", dest="action", action="store_const", const="notified")
    action.add_argument("--resolved", dest="action", action="store_const", const="resolved")
    p.add_argument("--note")
    p = command(g, "discrepancies notices", cmd_discrepancies_notices,
                "C7: preview, request approval for, or (--approval A) write, the notice list for the housing system")
    p.add_argument("--preview", action="store_true")
    p.add_argument("--approval")
    p = command(g, "discrepancies declared-income", cmd_declared_income_import,
                "U4: import the income declared in the applications (CSV, declared_income layout)")
    p.add_argument("file")


def cmd_discrepancies_list(args: argparse.Namespace) -> Any:
    request = page_request(args, status=args.status, kind=args.kind)
    if request is not None:
        return discrepancies.discrepancy_page(login(args), request)
    return discrepancies.list_discrepancies(login(args), status=args.status, kind=args.kind, limit=args.limit)


def cmd_discrepancies_resolve(args: argparse.Namespace) -> Any:
    return discrepancies.resolve_discrepancy(login(args), args.discrepancy_id, action=args.action, note=args.note)


def cmd_discrepancies_notices(args: argparse.Namespace) -> Any:
    return outgoing_file(args, discrepancies.NOTICE_APPROVAL_KIND, outgoing_step(args), wrap_request=True)


def cmd_declared_income_import(args: argparse.Namespace) -> Any:
    path = Path(args.file)
    return discrepancies.import_declared_income(login(args), read_input(path), file_name=path.name)
