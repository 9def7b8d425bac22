"""A dashboard kernel's side of the web login (DESIGN §10).

ダッシュボードのカーネル側。The server starts each kernel for one web session, with a
one-time ticket in its environment.  :func:`session_from_server` exchanges it, once, for
that person's :class:`~workbench.core.workspace.Session`; the ticket is removed from the
environment at once.  :func:`keep_tracebacks_in_server` makes sure an error in a widget
callback is logged in the server's log with a reference number and never sent to the
browser.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.core import channel
from workbench.core.channel import SERVER_ENV
from workbench.core.errors import SessionExpired
from workbench.core.workspace import Session, Workspace
from workbench.web.sessions import redeem_kernel_ticket

__all__ = ["TICKET_ENV", "WORKSPACE_ENV", "current_kernel_id", "keep_tracebacks_in_server", "session_from_server"]

TICKET_ENV = "WORKBENCH_KERNEL_TICKET"
WORKSPACE_ENV = "WORKBENCH_WORKSPACE"
log = logging.getLogger("workbench.kernel")


def current_kernel_id() -> str | None:
    """This kernel's ID, from its connection file (``kernel-<id>.json``)."""
    try:
        from ipykernel import get_connection_file

        name = Path(get_connection_file()).stem
    except Exception:
        return None
    return name[len("kernel-"):] if name.startswith("kernel-") else None


def session_from_server(open_workspace: Callable[[str], Workspace] = Workspace.open) -> Session:
    """Become the session this kernel was started for, or raise :class:`SessionExpired`."""
    ticket = os.environ.pop(TICKET_ENV, "")
    kernel_id = current_kernel_id()
    server = os.environ.get(SERVER_ENV, "")
    if server:  # the data server (issue 19): this process never holds a key or opens the workspace
        if not (ticket and kernel_id):
            raise SessionExpired("This screen was not opened through the login page; log in again.",
                                 "この画面はログイン画面から開かれていません。再度ログインしてください。")
        return channel.connect_server(server).kernel(ticket, kernel_id)
    path = os.environ.get(WORKSPACE_ENV, "")
    if not (ticket and path and kernel_id):
        raise SessionExpired("This screen was not opened through the login page; log in again.",
                             "この画面はログイン画面から開かれていません。再度ログインしてください。")
    return redeem_kernel_ticket(open_workspace(path), kernel_id, ticket)


def keep_tracebacks_in_server(report: Callable[[str], None]) -> None:
    """Route every traceback of this kernel to the server's log, and show only a reference.

    ``report(reference)`` is called so the screen can say something happened.  Output to
    standard error goes to the server's log too, never to the browser."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - always there in a kernel
        return
    shell = get_ipython()
    if shell is None:
        return

    def showtraceback(*_args: Any, **_kwargs: Any) -> None:
        ref = "E-" + secrets.token_hex(4).upper()
        etype, value, tb = sys.exc_info()
        text = "".join(traceback.format_exception(etype, value, tb)) if etype else "(no exception)"
        print(f"[{ref}] {text}", file=sys.__stderr__, flush=True)
        try:
            report(ref)
        except Exception:
            print(f"[{ref}] the screen could not show the reference", file=sys.__stderr__, flush=True)

    shell.showtraceback = showtraceback
    sys.stderr = sys.__stderr__
