"""``workbench backup``, ``backup-verify`` and ``restore`` (C12)."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from workbench.cli._common import Subcommands, command, kek_file, kek_option, login
from workbench.core.errors import InvalidInput
from workbench.lifecycle import backup

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    p = command(sub, "backup", cmd_backup, "C12: write an encrypted, verifiable backup (database, settings, audit heads, deletion journal)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", help="the backup file (or a folder: the name is made from the date and time)")
    where.add_argument("--place", help="a configured backup place by name (setting backup_places)")
    p.add_argument("--keyring-out", help="also write a keyring copy here (never beside the backup)")
    p.add_argument("--keyring-place", help="with --place: a configured keyring-copy place by name")
    command(sub, "backup-places", cmd_backup_places, "C12: the configured backup and keyring-copy places, and whether each can be used")
    p = command(sub, "backup-verify", cmd_backup_verify, "C12: read a whole backup with its keyring copy and check it")
    p.add_argument("file")
    p.add_argument("--keyring", required=True)
    kek_option(p)
    p = command(sub, "restore", cmd_restore, "C12: restore a backup into a new workspace; verify the audit chain; re-apply deletions")
    p.add_argument("file")
    p.add_argument("--into", required=True)
    p.add_argument("--keyring", required=True, help="the keyring copy taken with the backup")
    p.add_argument("--journal", help="the newest deletion journal (default: the one in the backup)")
    kek_option(p)


def cmd_backup(args: argparse.Namespace) -> Any:
    if args.place is not None:
        if args.keyring_out:
            raise InvalidInput("With --place, name the keyring copy's place with --keyring-place.",
                               "--place と一緒に使うときは、鍵束の写しの保存場所を --keyring-place で指定してください。")
        return backup.backup_to_place(login(args), args.place, keyring_place=args.keyring_place)
    if args.keyring_place:
        raise InvalidInput("--keyring-place goes with --place.", "--keyring-place は --place と一緒に指定してください。")
    return backup.backup(login(args), args.out, keyring_out=args.keyring_out)


def cmd_backup_places(args: argparse.Namespace) -> Any:
    return {"places": [dataclasses.asdict(p) for p in backup.places(login(args))]}


def cmd_backup_verify(args: argparse.Namespace) -> Any:
    return backup.verify_backup(args.file, keyring=args.keyring, kek=kek_file(args.kek_file))


def cmd_restore(args: argparse.Namespace) -> Any:
    """No login: the workspace does not exist yet; the backup and its keyring copy are the authority."""
    return backup.restore(args.file, into=args.into, keyring=args.keyring, journal=args.journal,
                          kek=kek_file(args.kek_file))
