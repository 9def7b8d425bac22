"""``workbench ledger`` and ``workbench package …``: the media ledger and transfer packages (C9)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from workbench.cli._common import Subcommands, command, group, login
from workbench.core.errors import InvalidInput, WorkbenchError
from workbench.core.private_files import private_umask, write_private
from workbench.core.workspace import SETTINGS_FILE, Settings
from workbench.files import media, transfer

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    p = command(sub, "ledger", cmd_ledger, "the media ledger of packages written and read")
    p.add_argument("--limit", type=int, default=100)

    g = group(sub, "package", "transfer packages")
    p = command(g, "package unpack", cmd_package_unpack, "receiving side: verify and unpack with a key file")
    p.add_argument("file")
    p.add_argument("--key", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--ledger", help="the receiving side's media ledger (default: OUT/ledger.jsonl)")
    command(g, "package sweep", cmd_package_sweep, "check outgoing/ and return_lists/ against the media ledger")
    p = command(g, "package delivered", cmd_package_delivered, "record a copy handed over and delete it")
    p.add_argument("entry_id")


def cmd_ledger(args: argparse.Namespace) -> Any:
    return media.ledger(login(args), limit=args.limit)


def cmd_package_delivered(args: argparse.Namespace) -> Any:
    return media.mark_delivered(login(args), args.entry_id)


def cmd_package_sweep(args: argparse.Namespace) -> Any:
    return media.sweep(login(args))


def cmd_package_unpack(args: argparse.Namespace) -> Any:
    """The receiving side: no workspace, only the key file that was handed over."""
    private_umask()  # the folder 0700 and every member 0600 from creation, never chmod-ed later
    recipient, key, _ = transfer.read_keyfile(Path(args.key))
    package = transfer.read_package(Path(args.file), key=key)
    own = _own_workspace(args, package.manifest.workspace_id)
    if own is not None:
        # The workspace's own package opened inside it: log in, and the service audits it.
        args.workspace = str(own)
        package = media.unpack_own(login(args), str(Path(args.file).resolve()), str(Path(args.key).resolve()))
    out = Path(args.out)
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    written = []
    for name, data in package.members.items():
        target = out / Path(name).name
        if target.exists():
            raise InvalidInput(f"{target} already exists.", f"{target} はすでに存在します。")
        write_private(target, data)
        written.append(str(target))
    # The receiving side's own media ledger (C9): one line per package read.
    manifest = package.manifest
    entry = {"read_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "package_id": manifest.package_id,
             "kind": manifest.kind, "record_count": manifest.record_count, "digest": manifest.digest,
             "creator": manifest.creator, "recipient": recipient, "file": Path(args.file).name}
    with (Path(args.ledger) if args.ledger else out / "ledger.jsonl").open("a", encoding="utf-8") as ledger:
        ledger.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return {"recipient": recipient, "manifest": manifest.to_dict(), "written": written, "ledger_entry": entry,
            "audited_in": None if own is None else str(own)}


def _own_workspace(args: argparse.Namespace, workspace_id: str) -> Path | None:
    """The workspace that made this package, if the unpacking happens inside it: the
    workspace named by ``--workspace``/``WORKBENCH_WORKSPACE``, or one that holds the
    package, the output folder or the current directory."""
    candidates = []
    named = args.workspace or os.environ.get("WORKBENCH_WORKSPACE")
    if named:
        candidates.append(Path(named))
    for start in (Path(args.file), Path(args.out), Path.cwd()):
        here = start.resolve()
        candidates += [p for p in (here, *here.parents) if (p / SETTINGS_FILE).is_file()][:1]
    for root in candidates:
        try:
            if Settings.load(root / SETTINGS_FILE).workspace_id == workspace_id:
                return root
        except WorkbenchError:
            continue
    return None
