"""One-time tickets (一回限りのチケット): how one process hands a login to another.

A ticket is a random secret given to the process that will use it (a dashboard kernel in its
environment, a pipeline notebook in a 0600 file); the database keeps only its SHA-256, bound to
what it was issued for (the kernel's ID, the run's ID), with an expiry.  It is claimed once:
the check of hash, binding and expiry and the mark that it is used are one step in the
claimant's unit of work.  Two kinds use it: kernel tickets (:mod:`workbench.web.sessions`) and
run tickets (:mod:`workbench.cycles.pipeline_runs`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import duckdb

__all__ = ["TicketKind", "claim", "digest", "issue"]


@dataclass(frozen=True)
class TicketKind:
    """Where a kind of ticket is kept (SQL names are constants of this module's callers, never input)."""

    table: str
    #: The column a claim finds the ticket by.
    key: str
    #: The column naming what the ticket was issued for.
    bound: str
    #: SQL: the ticket is not claimed yet.
    unclaimed: str
    #: SQL ``SET`` list marking it claimed; its one parameter is the time of the claim.
    claim: str
    hash_column: str = "ticket_hash"
    expires: str = "expires_at"


def digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode("ascii", "replace")).hexdigest()


def issue() -> tuple[str, str]:
    """A new ticket and the hash to store in its place."""
    ticket = secrets.token_urlsafe(32)
    return ticket, digest(ticket)


def claim(con: duckdb.DuckDBPyConnection, kind: TicketKind, *, key: str, ticket: str, bound: str,
          now: dt.datetime, holder_ok: bool = True) -> bool:
    """Claim a ticket once.  True when it matches its stored hash, was issued for ``bound``, is not
    claimed or expired, and its holder may still use it (``holder_ok``: the caller's own check, e.g.
    the user is not disabled); it is then marked claimed in the same transaction.  False changes nothing."""
    row = con.execute(f"SELECT {kind.hash_column}, {kind.bound}, {kind.expires} FROM {kind.table}"
                      f" WHERE {kind.key} = ? AND {kind.unclaimed}", [key]).fetchone()
    ok = (holder_ok and row is not None and bool(ticket) and secrets.compare_digest(str(row[0]), digest(ticket))
          and secrets.compare_digest(str(row[1]), bound) and row[2] >= now)
    if ok:
        con.execute(f"UPDATE {kind.table} SET {kind.claim} WHERE {kind.key} = ? AND {kind.unclaimed}", [now, key])
    return ok
