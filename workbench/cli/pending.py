"""``workbench pending``: the work waiting for you (the home screen's list)."""

from __future__ import annotations

import argparse
from typing import Any

from workbench import pending
from workbench.cli._common import Subcommands, command, login

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    command(sub, "pending", cmd_pending, "the work waiting for you, counted from the whole database")


def cmd_pending(args: argparse.Namespace) -> Any:
    return pending.pending_work(login(args))
