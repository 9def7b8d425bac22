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
from workbench.core.private_files import private_umask
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
    p.add_argument("--ledger", help="the receiving side's media ledger (default: WORKBENCH_RECEIVED_LEDGER or"
                                    " ~/.local/share/workbench/received-ledger.jsonl; never inside --out unless named)")
    p.add_argument("--max-member-mb", type=int, default=transfer.MAX_UNPACK_MEMBER >> 20,
                   help="refuse a package with a member larger than this (MiB)")
    p.add_argument("--max-package-mb", type=int, default=transfer.MAX_UNPACK_TOTAL >> 20,
                   help="refuse a package whose members together are larger than this (MiB)")
    command(g, "package sweep", cmd_package_sweep, "check outgoing/ and return_lists/ against the media ledger")
    p = command(g, "package delivered", cmd_package_delivered, "record a copy handed over and delete it")
    p.add_argument("entry_id")


def cmd_ledger(args: argparse.Namespace) -> Any:
    return media.ledger(login(args), limit=args.limit)


def cmd_package_delivered(args: argparse.Namespace) -> Any:
    return media.mark_delivered(login(args), args.entry_id)


def cmd_package_sweep(args: argparse.Namespace) -> Any:
    return media.sweep(login(args))


def _received_ledger(args: argparse.Namespace) -> Path:
    """The receiving side's media ledger: ``--ledger``, else ``WORKBENCH_RECEIVED_LEDGER``, else
    ``$XDG_DATA_HOME/workbench/received-ledger.jsonl`` — never inside the output folder unless named."""
    if args.ledger:
        return Path(args.ledger)
    if os.environ.get("WORKBENCH_RECEIVED_LEDGER"):
        return Path(os.environ["WORKBENCH_RECEIVED_LEDGER"])
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "workbench" / "received-ledger.jsonl"


def cmd_package_unpack(args: argparse.Namespace) -> Any:
    """The receiving side: no workspace, only the key file that was handed over.  All or nothing, bounded
    (``transfer.unpack_package``): nothing is written until the whole package verifies, nothing overwritten."""
    private_umask()  # the folder 0700 and every member 0600 from creation, never chmod-ed later
    recipient, key, _ = transfer.read_keyfile(Path(args.key))
    limits = {"max_member": args.max_member_mb << 20, "max_total": args.max_package_mb << 20}
    ledger_path = _received_ledger(args)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InvalidInput(f"{out} is not a folder.", f"{out} はフォルダーではありません。", reason="not_a_folder")
    own: list[Path] = []

    def verified(manifest: transfer.Manifest) -> None:
        root = _own_workspace(args, manifest.workspace_id)
        if root is not None:
            # The workspace's own package opened inside it: log in, and the service audits it.
            args.workspace = str(root)
            media.unpack_own(login(args), str(Path(args.file).resolve()), str(Path(args.key).resolve()))
            own.append(root)

    entry: dict[str, Any] = {}

    def record(manifest: transfer.Manifest) -> None:
        # The receiving side's own media ledger (C9): one line per package read, written before the
        # members appear (a kill after it leaves no member: the staging folder is removed next time).
        entry.update({"read_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                      "package_id": manifest.package_id, "kind": manifest.kind,
                      "record_count": manifest.record_count, "digest": manifest.digest, "creator": manifest.creator,
                      "recipient": recipient, "file": Path(args.file).name})
        ledger_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with ledger_path.open("a", encoding="utf-8") as ledger:
            ledger.write(json.dumps(entry, ensure_ascii=False) + "\n")
            ledger.flush()
            os.fsync(ledger.fileno())

    manifest, written = transfer.unpack_package(Path(args.file), key=key, out=out, reserved=[ledger_path],
                                                on_verified=verified, before_publish=record, **limits)
    return {"recipient": recipient, "manifest": manifest.to_dict(), "written": [str(p) for p in written],
            "ledger": str(ledger_path), "ledger_entry": entry, "audited_in": str(own[0]) if own else None}


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
