"""``workbench keys …``: rotate the keyring, repair an interrupted rotation, issue recipients' key files,
and the key-encryption key that wraps the keyring (issue 19 item 3)."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli._common import Subcommands, command, group, kek_file, kek_option, login, workspace_path
from workbench.core import keyring_admin, rotation
from workbench.core.errors import InvalidInput
from workbench.core.keys import KeyEncryptionKey, locate_kek
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
    p = command(g, "keys kek-new", cmd_keys_kek_new, "write a new key-encryption key file (0600), outside any workspace")
    p.add_argument("file")
    p = command(g, "keys wrap", cmd_keys_wrap,
                "wrap an old workspace's unwrapped keyring (or --keyring FILE, a copy) by a KEK (no login)")
    kek_option(p)
    p.add_argument("--keyring", help="wrap this loose keyring copy instead of the workspace's keyring")
    p = command(g, "keys rewrap", cmd_keys_rewrap, "wrap the keyring by a new KEK (keys.manage)")
    p.add_argument("--new-kek-file", required=True)


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


# -- the key-encryption key (issue 19 item 3) --

def cmd_keys_kek_new(args: argparse.Namespace) -> Any:
    kek = KeyEncryptionKey.create_file(args.file)
    return {"kek_file": str(kek.path), "kek_id": kek.kek_id,
            "message_ja": "鍵暗号化鍵（KEK）を作成しました（モード 0600）。ワークスペースやバックアップとは別の場所に置いてください。",
            "message_en": "Key-encryption key written (mode 0600). Keep it apart from the workspace and its backups."}


def cmd_keys_wrap(args: argparse.Namespace) -> Any:
    """No login: an unwrapped keyring is readable by whoever holds the folder until this runs."""
    kek = kek_file(args.kek_file) or locate_kek()
    if kek is None:
        raise InvalidInput("Name the KEK file with --kek-file (or WORKBENCH_KEK_FILE).",
                           "--kek-file（または WORKBENCH_KEK_FILE）で KEK ファイルを指定してください。", reason="kek_missing")
    if args.keyring:
        return keyring_admin.wrap_keyring_copy(args.keyring, kek)
    return keyring_admin.wrap_workspace(workspace_path(args), kek)


def cmd_keys_rewrap(args: argparse.Namespace) -> Any:
    return keyring_admin.rewrap(login(args), KeyEncryptionKey.from_file(args.new_kek_file))
