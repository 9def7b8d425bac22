"""``workbench stats …`` (F8): de-identified statistics."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from workbench.cli._common import Subcommands, command, group, login
from workbench.core.errors import InvalidInput
from workbench.statistics import publishing
from workbench.statistics.tables import write_shared

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    g = group(sub, "stats", "F8: de-identified statistics")
    p = command(g, "stats publish", cmd_stats_publish, "F8: keep the next numbered de-identified source in the store (staff)")
    p.add_argument("--k", type=int, default=10, help="k-anonymity required over the quasi-identifiers (default 10)")
    p.add_argument("--max-loss", type=float, default=0.05, help="share of records that may be removed (default 0.05)")
    p.add_argument("--as-of", help="count ages on this date (YYYY-MM-DD; default today)")
    p = command(g, "stats withdraw", cmd_stats_withdraw, "F8: withdraw a publication (its source is deleted)")
    p.add_argument("publication_id")
    p.add_argument("--reason", required=True)
    command(g, "stats list", cmd_stats_list, "F8: the publications and their status")
    p = command(g, "stats table", cmd_stats_table, "F8: a perturbed, suppressed table from the statistics service")
    p.add_argument("--publication", required=True, help="publication ID, e.g. S0001")
    p.add_argument("--rows", required=True)
    p.add_argument("--cols")
    p.add_argument("--layers")
    p.add_argument("--more", action="append", help="a fourth or fifth dimension, repeatable")
    p.add_argument("--filter", action="append", help="VARIABLE=A,B: keep only these categories, repeatable")
    p.add_argument("--measure", default="count", choices=["count", "sum", "mean", "quantile"])
    p.add_argument("--quantile", type=float, help="with --measure quantile: e.g. 0.5 for the median band")
    p.add_argument("--min-count", type=int, default=3, help="counts below it are x (0: perturbation only)")
    p.add_argument("--epsilon", type=float, help="differentially private counts with this ε (spends your budget)")
    p.add_argument("--csv", help="export as CSV (UTF-8 with BOM, mode 0640)")
    p.add_argument("--xlsx", help="export as Excel (mode 0640)")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    command(g, "stats budget", cmd_stats_budget, "F8: your ε budget for this fiscal year")
    command(g, "stats releases", cmd_stats_budget, "F8: your releases (the ledger; no values)")
    p = command(g, "stats budget-restore", cmd_stats_budget,
                "F8 (staff): give an analyst ε back, with a second person's approval")
    p.add_argument("user_id")
    p.add_argument("--amount", type=float, required=True)
    p.add_argument("--reason", required=True)
    p.add_argument("--approval", help="the approved request's ID, to carry it out")


def cmd_stats_publish(args: argparse.Namespace) -> Any:
    as_of = dt.date.fromisoformat(args.as_of) if args.as_of else None
    result = publishing.publish(login(args), k=args.k, max_loss=args.max_loss, as_of=as_of)
    result.manifest = {}
    return result


def cmd_stats_withdraw(args: argparse.Namespace) -> Any:
    return publishing.withdraw(login(args), args.publication_id, reason=args.reason)


def cmd_stats_list(args: argparse.Namespace) -> Any:
    return publishing.publications(login(args))


def _stats_filters(items: list[str] | None) -> dict[str, list[str]]:
    """``age_band=75歳以上,70〜74歳`` (repeatable) → {"age_band": [...]}."""
    out: dict[str, list[str]] = {}
    for item in items or []:
        var, sep, rest = item.partition("=")
        values = [v for v in rest.split(",") if v]
        if not sep or not values:
            raise InvalidInput(f"--filter {item!r}: write VARIABLE=A,B.", f"--filter {item!r} の形式が誤っています（項目=区分A,区分B）。")
        out.setdefault(var, []).extend(values)
    return out


def cmd_stats_table(args: argparse.Namespace) -> Any:
    session = login(args)
    dims = [args.rows, args.cols, args.layers, *(args.more or [])]
    request = dict(filters=_stats_filters(args.filter) or None, measure=args.measure, min_count=args.min_count,
                   quantile=args.quantile)
    if args.csv or args.xlsx:
        result = None
        for path, fmt in ((args.csv, "csv"), (args.xlsx, "xlsx")):
            if path:
                result, data = publishing.export(session, args.publication, *dims, fmt=fmt, **request)
                write_shared(Path(path), data)
    else:
        result = publishing.table(session, args.publication, *dims, epsilon=args.epsilon, **request)
    assert result is not None
    if args.json:
        return result
    print(result)
    for ja, en in result.notes:
        print(f"注: {ja} / {en}")
    return None


def cmd_stats_budget(args: argparse.Namespace) -> Any:
    session = login(args)
    if args.command == "budget-restore":
        if args.approval:
            return publishing.restore_budget(session, args.user_id, amount=args.amount, reason=args.reason,
                                             approval_id=args.approval)
        return {"approval_requested": publishing.request_budget_restore(session, args.user_id, amount=args.amount,
                                                                        reason=args.reason)}
    if args.command == "releases":
        return publishing.releases(session)
    return publishing.budget(session)
