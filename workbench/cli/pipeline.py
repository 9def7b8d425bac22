"""``workbench pipeline …``: run the Papermill cycle notebooks and follow their runs."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli._common import Subcommands, command, group, login
from workbench.core.errors import InvalidInput
from workbench.cycles import engine, pipeline_runs

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    g = group(sub, "pipeline", "Papermill cycle notebooks")
    p = command(g, "pipeline run", cmd_pipeline_run, "run a cycle notebook under your authority (-p NAME=VALUE)")
    p.add_argument("pipeline", help=", ".join(sorted(pipeline_runs.PIPELINES)))
    p.add_argument("-p", "--param", action="append", help="NAME=VALUE: IDs, years and paths only")
    p = command(g, "pipeline list", cmd_pipeline_list, "the latest runs you may see, with cycle stages and report")
    p.add_argument("--limit", type=int, default=20)
    p = command(g, "pipeline status", cmd_pipeline_status, "a cycle run's stages (RUN: run ID R… or cycle run ID C…)")
    p.add_argument("run")


def cmd_pipeline_run(args: argparse.Namespace) -> Any:
    params = {}
    for item in args.param or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise InvalidInput(f"Write parameters as NAME=VALUE, not {item!r}.", f"パラメータは 名前=値 の形で指定してください: {item!r}")
        params[name] = value
    return pipeline_runs.run(login(args), args.pipeline, params)


def cmd_pipeline_list(args: argparse.Namespace) -> Any:
    return pipeline_runs.listing(login(args), limit=args.limit)


def cmd_pipeline_status(args: argparse.Namespace) -> Any:
    return engine.status(login(args), args.run)
