"""``workbench procedures import`` (⑧⑨): procedures filed in the housing system."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from workbench.cli._common import Subcommands, command, group, login, read_input
from workbench.queries import procedures

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    g = group(sub, "procedures", "⑧⑨: procedures filed in the housing system")
    p = command(g, "procedures import", cmd_procedures_import, "⑧⑨: import procedures filed (CSV, housing_procedures layout)")
    p.add_argument("file")


def cmd_procedures_import(args: argparse.Namespace) -> Any:
    path = Path(args.file)
    return procedures.import_procedures(login(args), read_input(path), file_name=path.name)
