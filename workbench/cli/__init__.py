"""``workbench``: a thin command line over the service modules.

Every command that touches personal data logs in first (user ID, password, one-time
code: from ``WORKBENCH_USER``/``WORKBENCH_PASSWORD``/``WORKBENCH_TOTP`` or asked for),
calls one service, prints its result as JSON and exits non-zero on refusal with the
reason in Japanese and English on stderr.

One module per command group, each with ``register(subcommands)`` declaring its commands'
options beside their handlers; what they share (logging in, input files, outgoing files,
paging options, printing) is in :mod:`workbench.cli._common`.  A new group is a new module
here, added to :data:`GROUPS` in the order ``workbench --help`` lists it, plus its README rows.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from types import ModuleType

from workbench.cli import (
    access,
    approvals,
    audit,
    backup,
    batch,
    batch_account,
    collection,
    deceased,
    deletion,
    disclosure,
    discrepancies,
    evidence,
    idreview,
    inquiry,
    integrated,
    keys,
    linkage,
    package,
    pending,
    person,
    pipeline,
    procedures,
    records,
    registration,
    retention,
    stats,
    targets,
    users,
    workspace,
)
from workbench.cli._common import COMMANDS, Exit, print_json, print_refusal
from workbench.core.errors import WorkbenchError

__all__ = ["COMMANDS", "GROUPS", "build_parser", "main"]

#: The command modules, in the order ``workbench --help`` lists their commands.
GROUPS: tuple[ModuleType, ...] = (
    workspace, users, pending, access, approvals, audit, keys, package, person, pipeline, batch_account,
    targets, collection, integrated, registration, procedures, batch, discrepancies, linkage,
    deletion, retention, disclosure, inquiry, idreview, deceased, backup, stats, evidence, records,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description="都営住宅 マイナンバー管理ワークベンチ")
    parser.add_argument("--workspace", "-w", help="workspace folder (or WORKBENCH_WORKSPACE)")
    parser.add_argument("--user", "-u", help="your user ID (or WORKBENCH_USER)")
    parser.add_argument("--batch-key", help="a batch account's key file (or WORKBENCH_BATCH_KEY), for scheduled cycles")
    sub = parser.add_subparsers(dest="group", required=True)
    for module in GROUPS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.handler(args)
    except WorkbenchError as exc:
        print_refusal(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    if isinstance(result, Exit):
        print_json(result.payload)
        return result.code
    if result is not None:
        print_json(result)
    return 0
