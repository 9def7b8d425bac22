"""``workbench integrated …`` (F1b): integrated numbers (団体内統合利用番号) from the linkage server."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli._common import Subcommands, command, group, incoming_options, login, outgoing_file, outgoing_step
from workbench.files import incoming
from workbench.intake import integrated

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    g = group(sub, "integrated", "F1b: integrated numbers (団体内統合利用番号)")
    p = command(g, "integrated request", cmd_integrated_request,
                "F1b: preview, request approval for, or (--approval A) write the request file for the linkage server")
    p.add_argument("--preview", action="store_true")
    p.add_argument("--approval")
    p = command(g, "integrated import", cmd_integrated_import, "F1b: import the linkage server's answers (.wbpkg or CSV)")
    p.add_argument("file")
    incoming_options(p)


def cmd_integrated_request(args: argparse.Namespace) -> Any:
    return outgoing_file(args, integrated.APPROVAL_KIND, outgoing_step(args), wrap_request=True)


def cmd_integrated_import(args: argparse.Namespace) -> Any:
    session = login(args)  # first: every refusal is audited (issue 24)
    if args.preview:
        return integrated.preview_integrated_answers(session, args.file)
    return incoming.receive(session, args.file, kinds=(integrated.ANSWER_KIND,), remove_source=not args.keep)
