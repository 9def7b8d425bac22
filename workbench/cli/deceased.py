"""``workbench deceased confirm`` (C7): deceased persons from Juki-net results."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli._common import Subcommands, command, group, login
from workbench.lifecycle import deletion

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    g = group(sub, "deceased", "C7: deceased persons from Juki-net results")
    p = command(g, "deceased confirm", cmd_deceased_confirm, "C7: after review, mark the person of a death discrepancy deceased")
    p.add_argument("discrepancy_id")
    p.add_argument("--note")


def cmd_deceased_confirm(args: argparse.Namespace) -> Any:
    return deletion.confirm_deceased(login(args), args.discrepancy_id, note=args.note)
