"""``workbench integrated …`` (F1b): integrated numbers (団体内統合利用番号) from the linkage server."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from workbench.cli._common import Subcommands, command, group, login, outgoing_file, outgoing_step, read_input
from workbench.core.errors import InvalidInput
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


def cmd_integrated_request(args: argparse.Namespace) -> Any:
    return outgoing_file(args, integrated.APPROVAL_KIND, outgoing_step(args), wrap_request=True)


def cmd_integrated_import(args: argparse.Namespace) -> Any:
    path = Path(args.file)
    if not path.is_file():
        raise InvalidInput(f"Cannot read the file {path.name}.", f"ファイル {path.name} を読めません。")
    # A transfer package (preferred) is opened with the linkage server's key; a bare CSV is read as it is.
    source: bytes | str = str(path) if path.suffix == ".wbpkg" else read_input(path)
    return integrated.import_integrated_answers(login(args), source)
