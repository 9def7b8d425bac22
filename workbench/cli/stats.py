"""``workbench stats …`` (F8): de-identified statistics."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from workbench.cli._common import Subcommands, command, group, login
from workbench.core.errors import InvalidInput
from workbench.statistics import publishing

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    g = group(sub, "stats", "F8: de-identified statistics")
    p = command(g, "stats publish", cmd_stats_publish, "F8: build the next numbered de-identified publication (staff)")
    p.add_argument("--k", type=int, default=10, help="k-anonymity required over the quasi-identifiers (default 10)")
    p.add_argument("--max-loss", type=float, default=0.05, help="share of records that may be removed (default 0.05)")
    p.add_argument("--epsilon-budget", type=float, default=1.0, help="differential-privacy budget of the publication")
    p.add_argument("--as-of", help="count ages on this date (YYYY-MM-DD; default today)")
    p = command(g, "stats withdraw", cmd_stats_withdraw, "F8: withdraw a publication (its microdata is deleted)")
    p.add_argument("publication_id")
    p.add_argument("--reason", required=True)
    command(g, "stats list", cmd_stats_list, "F8: the publications and their status")
    p = command(g, "stats table", cmd_stats_table, "F8: release a suppressed table from a publication")
    p.add_argument("--publication", required=True, help="publication ID, e.g. S0001")
    p.add_argument("--rows", required=True)
    p.add_argument("--cols")
    p.add_argument("--layers")
    p.add_argument("--value", help="sum this value instead of counting people (income)")
    p.add_argument("--min-count", type=int, default=3)
    p.add_argument("--epsilon", type=float, help="differentially private counts with this ε (OpenDP)")
    p.add_argument("--merge", action="append", help="DIMENSION=A+B[:LABEL], repeatable")
    p.add_argument("--csv", help="also write CSV (UTF-8 with BOM)")
    p.add_argument("--xlsx", help="also write Excel")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")


def cmd_stats_publish(args: argparse.Namespace) -> Any:
    as_of = dt.date.fromisoformat(args.as_of) if args.as_of else None
    result = publishing.publish(login(args), k=args.k, max_loss=args.max_loss, epsilon_budget=args.epsilon_budget,
                                as_of=as_of)
    result.manifest = {}
    return result


def cmd_stats_withdraw(args: argparse.Namespace) -> Any:
    return publishing.withdraw(login(args), args.publication_id, reason=args.reason)


def cmd_stats_list(args: argparse.Namespace) -> Any:
    return publishing.publications(login(args))


def _merges(items: list[str] | None) -> dict[str, dict[str, list[str]]]:
    """``ward=千代田区+中央区`` or ``ward=千代田区+中央区:都心`` → {"ward": {"都心": [...]}}."""
    out: dict[str, dict[str, list[str]]] = {}
    for item in items or []:
        dim, sep, rest = item.partition("=")
        members, _, label = rest.partition(":")
        parts = [m for m in members.split("+") if m]
        if not sep or len(parts) < 2:
            raise InvalidInput(f"--merge {item!r}: write DIMENSION=A+B[:LABEL].",
                               f"--merge {item!r} の形式が誤っています（項目=区分A+区分B[:名前]）。")
        out.setdefault(dim, {})[label or "+".join(parts)] = parts
    return out


def cmd_stats_table(args: argparse.Namespace) -> Any:
    result = publishing.table(login(args), args.publication, args.rows, args.cols, args.layers, value=args.value,
                              min_count=args.min_count, epsilon=args.epsilon, merge=_merges(args.merge) or None)
    if args.csv:
        result.to_csv(args.csv)
    if args.xlsx:
        result.to_xlsx(args.xlsx)
    if args.json:
        return result
    print(result)
    for ja, en in result.notes:
        print(f"注: {ja} / {en}")
    return None
