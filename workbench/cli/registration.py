"""``workbench register`` (F1) and ``workbench review …`` (C7): registering Individual Numbers,
and the numbers that differ from the one held."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli._common import Subcommands, command, group, incoming_options, login, page_options, page_request
from workbench.files import incoming
from workbench.intake import registration

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    p = command(sub, "register", cmd_register, "F1: register Individual Numbers from a contractor return or portal download")
    p.add_argument("file")
    p.add_argument("--source", required=True, choices=["contractor", "portal"])
    incoming_options(p)
    g = group(sub, "review", "C7: numbers that differ from the one held")
    p = command(g, "review list", cmd_review_list, "pending reviews, numbers masked")
    p.add_argument("--limit", type=int, default=200, help="rows of one page (≤ 200)")
    page_options(p, sorts="created_at, review_id, person_id or import_id",
                 text="reviews whose number, person or import contains this text")
    p = command(g, "review resolve", cmd_review_resolve, "accept (replace the held number) or reject a review")
    p.add_argument("review_id")
    decision = p.add_mutually_exclusive_group(required=True)
    decision.add_argument("--accept", dest="accept", action="store_true")
    decision.add_argument("--reject", dest="accept", action="store_false")


def cmd_register(args: argparse.Namespace) -> Any:
    session = login(args)  # first: every refusal is audited
    if args.preview:
        return registration.preview_registration(session, args.file, source=args.source)
    return incoming.receive(session, args.file, kinds=(registration.KINDS[args.source],), remove_source=not args.keep)


def cmd_review_list(args: argparse.Namespace) -> Any:
    request = page_request(args)
    if request is not None:
        return registration.review_page(login(args), request)
    return registration.review_queue(login(args))


def cmd_review_resolve(args: argparse.Namespace) -> Any:
    return registration.resolve_review(login(args), args.review_id, accept=args.accept)
