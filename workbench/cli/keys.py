"""``workbench keys …``: rotate the keyring, repair an interrupted rotation, issue recipients' key files."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli._common import Subcommands, command, group, login, workspace_path
from workbench.core import rotation
from workbench.core.errors import InvalidInput
from workbench.core.workspace import Workspace
from workbench.files import media

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    g = group(sub, "keys", "the keyring")
    command(g, "keys rotate", cmd_keys_rotate, "move every ciphertext and the database to new keys")
    command(g, "keys repair", cmd_keys_repair, "finish or roll back an interrupted key rotation (no login)")
    p = command(g, "keys issue", cmd_keys_issue,
                "request approval for, or (--approval A --out FILE) write, a recipient's key file")
    p.add_argument("--recipient", required=True, choices=sorted(media.RECIPIENTS))
    p.add_argument("--approval")
    p.add_argument("--out")


def cmd_keys_rotate(args: argparse.Namespace) -> Any:
    return rotation.rotate(login(args))


def cmd_keys_repair(args: argparse.Namespace) -> Any:
    """No login: a workspace whose keyring and database disagree cannot be logged in to."""
    return rotation.repair_workspace(Workspace.load(workspace_path(args)))


def cmd_keys_issue(args: argparse.Namespace) -> Any:
    session = login(args)
    if args.approval:
        if not args.out:
            raise InvalidInput("Name the key file to write with --out.", "書き出す鍵ファイルを --out で指定してください。")
        return media.issue_key_file(session, args.recipient, args.out, approval_id=args.approval)
    return {"approval_requested": media.request_key_file(session, args.recipient)}
