"""The workspace itself: create one, build the demo, read a demo code, serve the dashboards."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from workbench.cli._common import Subcommands, command, connection, kek_file, kek_option, secret
from workbench.controls import users
from workbench.core import channel
from workbench.core.keys import KEK_ENV, KeyEncryptionKey
from workbench.core.workspace import Workspace
from workbench.demo import build_demo, current_code
from workbench.web.serve import serve

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    p = command(sub, "init", cmd_init, "create a workspace with its first administrator and approver")
    p.add_argument("path")
    p.add_argument("--admin", required=True)
    p.add_argument("--approver", required=True)
    kek_option(p)

    p = command(sub, "demo", cmd_demo, "build a demo workspace from the synthetic population")
    p.add_argument("--path", default="demo-workspace")
    p.add_argument("--persons", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--kek-file", help="the demo's key-encryption key, made if missing (default: WORKBENCH_KEK_FILE,"
                   " else .demo-kek beside the workspace folder)")

    p = command(sub, "demo-code", cmd_demo_code, "demo workspaces only: the current one-time code of a demo account")
    p.add_argument("user_id")

    p = command(sub, "serve", cmd_serve, "serve the dashboards with Voila on 127.0.0.1")
    p.add_argument("--path", default="demo-workspace")
    p.add_argument("--port", type=int, default=8866)
    p.add_argument("--trust-proxy", action="store_true",
                   help="behind a TLS reverse proxy: client address and certificate fingerprint from its headers")
    kek_option(p)


def cmd_init(args: argparse.Namespace) -> Any:
    ws = Workspace.init(args.path, kek=kek_file(args.kek_file))
    created: list[dict[str, Any]] = []
    out = {"workspace": str(ws.path), "workspace_id": ws.settings.workspace_id, "users": created}
    for user_id, roles, env in ((args.admin, ["administrator"], "WORKBENCH_ADMIN_PASSWORD"),
                                (args.approver, ["approver"], "WORKBENCH_APPROVER_PASSWORD")):
        password = secret(env, f"{user_id} のパスワード / password for {user_id}: ")
        enrolment = users.create_initial_user(ws, user_id, user_id, password, roles)
        created.append({"user_id": user_id, "roles": roles, "otpauth_uri": enrolment.otpauth_uri})
    return out


def cmd_demo(args: argparse.Namespace) -> Any:
    return build_demo(Path(args.path), persons=args.persons, seed=args.seed, kek=_demo_kek(args))


def cmd_demo_code(args: argparse.Namespace) -> Any:
    conn = connection(args)  # while `workbench serve` holds the file, its data server answers
    if isinstance(conn, channel.Remote):
        return {"user_id": args.user_id, "code": conn.demo_code(args.user_id)}
    return {"user_id": args.user_id, "code": current_code(conn.workspace, args.user_id)}


def _demo_kek(args: argparse.Namespace) -> KeyEncryptionKey:
    """A demo's KEK: ``--kek-file`` (made if missing), else ``WORKBENCH_KEK_FILE``, else ``.demo-kek``
    beside the workspace folder (made if missing) — never inside it."""
    path = args.kek_file or os.environ.get(KEK_ENV) or str(Path(args.path).resolve().parent / ".demo-kek")
    return KeyEncryptionKey.from_file(path) if Path(path).exists() else KeyEncryptionKey.create_file(path)


def _kek_to_environment(path: str | None) -> None:
    """``serve --kek-file``: the web server and its kernels find the KEK as every process does."""
    if path:
        KeyEncryptionKey.from_file(path)  # refused here, not in a kernel
        os.environ[KEK_ENV] = str(Path(path).resolve())


def cmd_serve(args: argparse.Namespace) -> Any:
    _kek_to_environment(args.kek_file)
    serve(Path(args.path), port=args.port, trust_proxy=args.trust_proxy)
    return None
