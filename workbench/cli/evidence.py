"""``workbench evidence show`` (issue 23): the monthly evidence report, every promise of the assessment
and what the system did about it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from workbench.cli._common import Subcommands, command, group, login
from workbench.controls import evidence

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    g = group(sub, "evidence", "the monthly evidence report: every promise of the assessment and what the system did")
    p = command(g, "evidence show", cmd_evidence, "the month's evidence, promise by promise (auditor)")
    p.add_argument("--month", required=True, help="YYYY-MM, Japan time")
    p.add_argument("--out", help="also write the report as HTML and PDF and the evidence tables as xlsx into this folder")


def cmd_evidence(args: argparse.Namespace) -> Any:
    report = evidence.monthly(login(args), args.month)
    out = report.to_dict()
    if args.out:
        folder = Path(args.out)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        stem = folder / f"evidence-{args.month}"
        out["files"] = [str(report.write_html(stem.with_suffix(".html"))), str(report.write_pdf(stem.with_suffix(".pdf"))),
                        str(report.write_xlsx(stem.with_suffix(".xlsx")))]
    return out
