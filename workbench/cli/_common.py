"""What every command module shares: the parser helpers, logging in, reading input files,
the outgoing-file dispatch, paging options and printing results and refusals.

Private to :mod:`workbench.cli`; the names are plain because only the command modules of
this package import them.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import getpass
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeAlias

from workbench.controls import batch_accounts
from workbench.core import channel
from workbench.core.errors import InvalidInput, WorkbenchError
from workbench.core.keys import KeyEncryptionKey
from workbench.core.paging import MAX_LIMIT, PageRequest
from workbench.core.workspace import Session, Workspace
from workbench.files import formats, outgoing

__all__ = [
    "COMMANDS", "Exit", "Handler", "Subcommands", "command", "connection", "group", "incoming_options", "jsonable",
    "kek_file", "kek_option", "login", "open_workspace",
    "outgoing_file", "outgoing_step", "page_options", "page_request", "print_json", "print_refusal", "read_input",
    "secret", "workspace_path",
]

#: A command's handler: the parsed arguments in, what to print out (None: nothing).
Handler = Callable[[argparse.Namespace], Any]

#: What ``add_subparsers`` returns: the top level's groups, or one group's commands.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

#: Every command path and its handler, filled by :func:`command`; a test checks each is in the README.
COMMANDS: dict[str, Handler] = {}


@dataclasses.dataclass(frozen=True)
class Exit:
    """A result printed on stdout with a non-default exit code (a failed verification is a
    report, not an error: no exception carries it)."""

    payload: Any
    code: int


# -- the parser ---------------------------------------------------------------------------

def group(sub: Subcommands, name: str, help_text: str) -> Subcommands:
    """A command group (``workbench NAME …``) and the subparsers its commands go in."""
    g = sub.add_parser(name, help=help_text)
    return g.add_subparsers(dest="command", required=True)


def command(parent: Subcommands, path: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
    """One command, ``path`` being how it is typed after ``workbench`` (``"user add"``)."""
    COMMANDS[path] = handler
    p: argparse.ArgumentParser = parent.add_parser(path.split()[-1], help=help_text)
    p.set_defaults(handler=handler)
    return p


# -- output -------------------------------------------------------------------------------

def jsonable(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return jsonable(value.to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


def print_json(value: Any) -> None:
    print(json.dumps(jsonable(value), ensure_ascii=False, indent=2))


def print_refusal(exc: WorkbenchError) -> None:
    """The refusal on stderr: its reason in Japanese and English, as JSON."""
    print(json.dumps(exc.to_dict(), ensure_ascii=False, indent=2), file=sys.stderr)


# -- logging in ---------------------------------------------------------------------------

def secret(env: str, prompt: str) -> str:
    value = os.environ.get(env)
    if value is not None:
        return value
    if not sys.stdin.isatty():
        raise InvalidInput(f"Set {env} or run interactively.", f"{env} を設定するか、対話的に実行してください。")
    return getpass.getpass(prompt)


def workspace_path(args: argparse.Namespace) -> str:
    path: str | None = args.workspace or os.environ.get("WORKBENCH_WORKSPACE")
    if not path:
        raise InvalidInput("Name the workspace with --workspace or WORKBENCH_WORKSPACE.",
                           "--workspace または WORKBENCH_WORKSPACE でワークスペースを指定してください。")
    return path


def _waiting(holder: Any) -> None:
    """Say on stderr who holds the workspace while this command waits for it."""
    if holder is not None:
        ja, en = holder.describe()
        print(f"{ja} / {en}", file=sys.stderr)


def open_workspace(args: argparse.Namespace) -> Workspace:
    return Workspace.open(workspace_path(args), on_wait=_waiting)


def connection(args: argparse.Namespace) -> channel.Remote | channel.Embedded:
    """The workspace's data server when one answers for it (``workbench serve`` runs one), else the
    workspace opened here by :func:`open_workspace`, as before (issue 19: one code path)."""
    path = args.workspace or os.environ.get("WORKBENCH_WORKSPACE")
    if path:
        hello = channel.probe(channel.socket_for(path))
        if hello is not None:
            return channel.Remote(channel.socket_for(path), hello)
    return channel.Embedded(open_workspace(args))


def login(args: argparse.Namespace, *, hours_recovery: bool = False) -> Session:
    """Log in through :func:`connection`. ``hours_recovery``: an administrator may log in outside the
    hours, only to read and change them (C13: hours set by mistake)."""
    conn = connection(args)
    key = getattr(args, "batch_key", None) or os.environ.get("WORKBENCH_BATCH_KEY")
    if key:  # a batch account (issue 14): the key file, no password or one-time code
        if isinstance(conn, channel.Remote):  # the client reads its own key file and sends its contents
            return conn.batch_login(batch_accounts.read_key(key))
        return batch_accounts.login(conn.workspace, key)
    user = args.user or os.environ.get("WORKBENCH_USER") or input("ユーザーID / user ID: ")
    password = secret("WORKBENCH_PASSWORD", "パスワード / password: ")
    code = secret("WORKBENCH_TOTP", "ワンタイムコード / one-time code: ")
    return conn.login(user, password, code, hours_recovery=hours_recovery)


# -- the key-encryption key (issue 19 item 3) ---------------------------------------------

def kek_file(path: str | None) -> KeyEncryptionKey | None:
    """The KEK file named on the command line (else the environment or the setting decide)."""
    return KeyEncryptionKey.from_file(path) if path else None


def kek_option(p: argparse.ArgumentParser) -> None:
    """``--kek-file``: the key-encryption key file, outside the workspace."""
    p.add_argument("--kek-file", help="the key-encryption key file, outside the workspace (or WORKBENCH_KEK_FILE)")


# -- input files, outgoing files, pages ---------------------------------------------------

def incoming_options(p: argparse.ArgumentParser) -> None:
    """The options of every command that imports an incoming file (``workbench.files.incoming``)."""
    p.add_argument("--preview", action="store_true", help="read and check the file; say what importing would change")
    p.add_argument("--keep", action="store_true",
                   help="leave the file where it is after the import (default: a package moves to incoming/done/,"
                        " a plain file is deleted, recorded in the media ledger)")


def read_input(path: Path) -> bytes:
    try:
        if path.stat().st_size > formats.MAX_FILE_BYTES:  # refused before reading it into memory (the limit read now)
            raise formats.too_large(path.stat().st_size)
        return path.read_bytes()
    except OSError:
        raise InvalidInput(f"Cannot read the file {path.name}.", f"ファイル {path.name} を読めません。") from None


def outgoing_file(args: argparse.Namespace, kind: str, step: str, *, wrap_request: bool = False, **params: Any) -> Any:
    """One dispatch for every outgoing file (``workbench.files.outgoing.REGISTRY``): preview, request, create."""
    session = login(args)
    if step == "preview":
        return outgoing.preview(session, kind, **params)
    if step == "request":
        approval = outgoing.request(session, kind, **params)
        return {"approval_requested": approval} if wrap_request else approval
    return outgoing.create(session, kind, approval_id=args.approval, **params)


def outgoing_step(args: argparse.Namespace) -> str:
    """``--preview`` / ``--approval A`` / neither (request) for the one-command outgoing files."""
    return "preview" if args.preview else "create" if args.approval else "request"


def page_options(p: argparse.ArgumentParser, *, sorts: str, text: str) -> None:
    """The options of a list that pages in the database (issue 11): one page instead of the whole list."""
    p.add_argument("--offset", type=int, help="one page from this row (≤ 200 rows), with the total and counts")
    p.add_argument("--sort", help=sorts)
    p.add_argument("--desc", action="store_true", help="sort descending")
    p.add_argument("--text", help=text)


def page_request(args: argparse.Namespace, **filters: str | None) -> PageRequest | None:
    """The page the options of :func:`page_options` ask for, or None when none was given."""
    if args.offset is None and not (args.sort or args.desc or args.text):
        return None
    return PageRequest(offset=args.offset or 0, limit=min(args.limit, MAX_LIMIT), sort=args.sort, descending=args.desc,
                       text=args.text or "", filters={k: v for k, v in filters.items() if v})
