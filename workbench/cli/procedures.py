"""``workbench procedures import`` (⑧⑨): procedures filed in the housing system."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli._common import Subcommands, command, group, incoming_options, login
from workbench.files import incoming
from workbench.queries import procedures

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    g = group(sub, "procedures", "⑧⑨: procedures filed in the housing system")
    p = command(g, "procedures import", cmd_procedures_import, "⑧⑨: import procedures filed (CSV, housing_procedures layout)")
    p.add_argument("file")
    incoming_options(p)


def cmd_procedures_import(args: argparse.Namespace) -> Any:
    session = login(args)  # first: every refusal is audited (issue 24)
    if args.preview:
        return procedures.preview_procedures(session, args.file)
    return incoming.receive(session, args.file, kinds=(procedures.SPEC.kind,), remove_source=not args.keep)
