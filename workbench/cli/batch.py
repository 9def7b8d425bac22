"""``workbench batch …`` (F2-F5) and ``workbench results purge`` (C11): information-query and
Juki-net query batches, their answers, and the results' end."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli._common import Subcommands, command, group, incoming_options, login, outgoing_file
from workbench.core.errors import InvalidInput
from workbench.files import incoming
from workbench.queries import results
from workbench.queries.batches import APPROVAL_KINDS

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    g = group(sub, "batch", "F2/F3: information-query and Juki-net query batches")
    for verb, text in (("preview", "counts by procedure x information x exclusion reason (U1-U3)"),
                       ("request", "ask a second person to approve exactly this batch"),
                       ("create", "write the approved batch as one transfer package")):
        p = command(g, f"batch {verb}", cmd_batch, f"F2/F3: {text}")
        p.add_argument("kind", choices=["info", "juki"])
        p.add_argument("--procedure", required=True, help="P1-P6")
        p.add_argument("--year", type=int, required=True, help="fiscal year, e.g. 2026")
        p.add_argument("--information", action="append", help="info only: information key (repeatable; default all permitted)")
        p.add_argument("--records-per-file", type=int, default=10_000)
        p.add_argument("--filed-from", help="only filings made on or after this day (YYYY-MM-DD), e.g. one month's P4")
        p.add_argument("--filed-to", help="only filings made on or before this day (YYYY-MM-DD)")
        if verb == "create":
            p.add_argument("--approval", required=True)
    p = command(g, "batch import-results", cmd_batch_import_results,
                "F4/F5: import an answer package (info or Juki-net, from its kind)")
    p.add_argument("file")
    incoming_options(p)
    p = command(g, "batch expire", cmd_batch_expire, "C11: mark requests unanswered past the deadline as expired")
    p.add_argument("--days", type=int, help="answer deadline in days (default 30)")

    g = group(sub, "results", "C11: query results")
    command(g, "results purge", cmd_results_purge, "C11: delete results of batches closed longer than the retention period")


def cmd_batch(args: argparse.Namespace) -> Any:
    common: dict[str, Any] = {"procedure": args.procedure, "fiscal_year": args.year,
                              "records_per_file": args.records_per_file,
                              "filed_from": args.filed_from, "filed_to": args.filed_to}
    if args.kind == "info":
        common["information"] = args.information
    elif args.information:
        raise InvalidInput("--information applies to info batches only.", "--information は info の照会にのみ指定できます。")
    return outgoing_file(args, APPROVAL_KINDS[args.kind], args.command, **common)


def cmd_batch_import_results(args: argparse.Namespace) -> Any:
    # Log in first: every refusal, the header's included, is audited against the person running it (issue 24).
    session = login(args)
    kinds = (results.INFO_SPEC.kind, results.JUKI_SPEC.kind)
    if args.preview:
        return incoming.preview(session, incoming.kind_of(args.file, kinds), args.file)
    return incoming.receive(session, args.file, kinds=kinds, remove_source=not args.keep)


def cmd_batch_expire(args: argparse.Namespace) -> Any:
    return results.expire_requests(login(args), older_than_days=args.days)


def cmd_results_purge(args: argparse.Namespace) -> Any:
    return results.purge_results(login(args))
