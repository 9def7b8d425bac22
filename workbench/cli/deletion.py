"""``workbench deletion …`` (F7, C8, C9): bulk deletion of numbers and everything derived from them."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli._common import Subcommands, command, group, incoming_options, login
from workbench.files import incoming
from workbench.lifecycle import deletion

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    g = group(sub, "deletion", "F7/C8: bulk deletion of numbers and everything derived from them")
    p = command(g, "deletion import", cmd_deletion,
                "F7: import the housing system's deletion list (CSV, deletion_list layout, or a package) and preview it")
    p.add_argument("file")
    incoming_options(p)
    p = command(g, "deletion select", cmd_deletion, "F7: a staff selection of people to delete (--person, repeatable; or --deceased)")
    p.add_argument("--person", action="append", help="internal person number (repeatable)")
    p.add_argument("--reason", required=True, help="moved_out, failed_screening, withdrew, deceased")
    p.add_argument("--deceased", action="store_true", help="everyone marked deceased")
    for verb, text in (("preview", "counts by reason and by kind of record"),
                       ("request", "ask a second person to approve exactly this selection")):
        p = command(g, f"deletion {verb}", cmd_deletion, f"F7: {text}")
        p.add_argument("list_id")
    p = command(g, "deletion apply", cmd_deletion, "F7/C8: delete the approved selection and record it")
    p.add_argument("list_id")
    p.add_argument("--approval", required=True)
    p.add_argument("--purge", choices=["now", "scheduled"], default="scheduled",
                   help="now: rebuild the file at once (needs keys.manage); scheduled: leave it to the nightly run")
    p.add_argument("--discard-file", action="append", metavar="ENTRY",
                   help="a file not yet handed over that holds people on the list (as the preview names it): confirm"
                        " its destruction; every such file must be named, or nothing is deleted")
    p.add_argument("--expected-count", type=int, required=True,
                   help="how many people the preview showed; refused if the list has moved since")
    command(g, "deletion purge", cmd_deletion, "erase the bytes of every deletion: rebuild the file under a new key")
    command(g, "deletion lists", cmd_deletion, "deletion lists waiting to be applied")
    p = command(g, "deletion copies", cmd_deletion, "C9: transfer copies marked for destruction (waiting for the recipient)")
    p.add_argument("--all", action="store_true", help="also those already destroyed")
    p = command(g, "deletion copy-destroyed", cmd_deletion, "C9: record that the recipient destroyed a marked copy")
    p.add_argument("entry_id")
    p = command(g, "deletion records", cmd_deletion, "the deletion records (who, when, how, counts; no one named)")
    p.add_argument("--limit", type=int, default=200)


def cmd_deletion(args: argparse.Namespace) -> Any:
    session = login(args)
    if args.command == "import":
        if args.preview:
            return deletion.preview_deletion_file(session, args.file)
        return incoming.receive(session, args.file, kinds=(deletion.SPEC.kind,), remove_source=not args.keep)
    if args.command == "select":
        return deletion.select_for_deletion(session, person_ids=args.person or [], reason=args.reason,
                                            deceased=args.deceased)
    if args.command == "preview":
        return deletion.preview_deletion(session, args.list_id)
    if args.command == "request":
        return deletion.request_deletion(session, args.list_id)
    if args.command == "apply":
        return deletion.apply_and_purge(session, args.list_id, approval_id=args.approval, purge=args.purge,
                                        discard_files=args.discard_file or [], expected_count=args.expected_count)
    if args.command == "purge":
        return deletion.purge(session)
    if args.command == "lists":
        return deletion.open_lists(session)
    if args.command == "copies":
        return deletion.destruction_marks(session, pending_only=not args.all)
    if args.command == "copy-destroyed":
        return deletion.confirm_destroyed(session, args.entry_id)
    return deletion.deletion_records(session, limit=args.limit)
