"""``workbench linkage export`` (F6): the linkage file for the housing business system."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli._common import Subcommands, command, group, outgoing_file, outgoing_step
from workbench.queries.linkage_file import APPROVAL_KIND

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    g = group(sub, "linkage", "F6: the linkage file for the housing business system")
    p = command(g, "linkage export", cmd_linkage_export,
                "F6: preview, request approval for, or (--approval A) write the linkage file")
    p.add_argument("--preview", action="store_true")
    p.add_argument("--approval")
    p.add_argument("--procedure", required=True, help="P1-P6")
    p.add_argument("--year", type=int, required=True, help="fiscal year, e.g. 2026")


def cmd_linkage_export(args: argparse.Namespace) -> Any:
    return outgoing_file(args, APPROVAL_KIND, outgoing_step(args), wrap_request=True, procedure=args.procedure,
                         fiscal_year=args.year)
