"""``workbench targets import`` (F0): the target list from the housing business system."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from workbench.cli._common import Subcommands, command, group, login, read_input
from workbench.intake import targets

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    g = group(sub, "targets", "F0: the target list from the housing business system")
    p = command(g, "targets import", cmd_targets_import, "F0: import the target list (CSV, UTF-8/BOM/CP932)")
    p.add_argument("file")
    p.add_argument("--preview", action="store_true", help="check and count only; change nothing")
    p.add_argument("--reapply", action="store_true",
                   help="apply an older list again on purpose, making it the current target list (再反映)")
    p.add_argument("--confirm-unlisted", type=int, metavar="N",
                   help="a list that takes many people off the target list: confirm the number the preview named")


def cmd_targets_import(args: argparse.Namespace) -> Any:
    path = Path(args.file)
    if args.preview:
        return targets.preview_targets(login(args), read_input(path), file_name=path.name, reapply=args.reapply)
    return targets.import_targets(login(args), read_input(path), file_name=path.name, reapply=args.reapply,
                                  confirm_unlisted=args.confirm_unlisted)
