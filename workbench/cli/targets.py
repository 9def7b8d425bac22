"""``workbench targets import`` (F0): the target list from the housing business system."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli._common import Subcommands, command, group, incoming_options, login
from workbench.files import incoming
from workbench.intake import targets

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    g = group(sub, "targets", "F0: the target list from the housing business system")
    p = command(g, "targets import", cmd_targets_import,
                "F0: import the target list (CSV, UTF-8/BOM/CP932, or a package made with the housing system's key file)")
    p.add_argument("file")
    incoming_options(p)
    p.add_argument("--reapply", action="store_true",
                   help="apply an older list again on purpose, making it the current target list (再反映)")
    p.add_argument("--confirm-unlisted", type=int, metavar="N",
                   help="a list that takes many people off the target list: confirm the number the preview named")


def cmd_targets_import(args: argparse.Namespace) -> Any:
    session = login(args)  # first: every refusal is audited
    if args.preview:
        return targets.preview_targets(session, args.file, reapply=args.reapply)
    return incoming.receive(session, args.file, kinds=(targets.SPEC.kind,), remove_source=not args.keep,
                            reapply=args.reapply, confirm_unlisted=args.confirm_unlisted)
