"""Simulator of Juki-net's answers to identity-confirmation queries (F3 → F5, 別添1 ⑮–⑰).

DESIGN §8.  :func:`answer_package` plays Juki-net (住民基本台帳ネットワークシステム):
it opens a ``juki_query`` package with the ``juki_net`` key, reads the
``juki_request`` CSV members, looks each Individual Number up in a
:class:`~workbench.simulate.world.World` — pass ``world.evolve(...)[0]`` so that moves,
marriages (new surname) and deaths since the target list was loaded show up — and
writes ``juki_answer`` packages (CSV, :data:`workbench.files.formats.LAYOUTS`) with the
current four basic items and a deceased flag, each answer carrying its request ID (C10).

Configurable imperfections, shares of the requests, deterministic for ``seed``:
``not_found`` (result ``10``), ``error`` (``90``), ``late`` (delivered in a second
package) and ``duplicate`` (answered twice in the same package).  A number the world
does not know is answered ``10``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from workbench.core.workspace import Workspace
from workbench.files.formats import read_table, write_table
from workbench.simulate.answers import answer_packages, open_request, split_late_and_duplicate
from workbench.simulate.world import World

__all__ = ["ANSWER_KIND", "answer_frames", "answer_package"]

ANSWER_KIND = "juki_answer"


def answer_frames(
    requests: pd.DataFrame,
    world: World,
    *,
    seed: int = 0,
    not_found: float = 0.0,
    error: float = 0.0,
    late: float = 0.0,
    duplicate: float = 0.0,
    answered_at: str = "2026-06-03T09:00:00+09:00",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(on-time answers, late answers)`` in the ``juki_answer`` layout for ``juki_request`` rows."""
    rng = np.random.default_rng(seed)
    n = len(requests)
    p = world.persons.drop_duplicates("individual_number").set_index("individual_number")
    idx = p.index.get_indexer(requests["individual_number"].str.strip())
    known = idx >= 0
    safe = np.where(known, idx, 0)
    draw = rng.random(n)
    result = np.where(draw < not_found, "10", "00").astype(object)
    result[(draw >= not_found) & (draw < not_found + error)] = "90"
    result[~known] = "10"
    ok = result == "00"

    def col(name: str) -> np.ndarray:
        values = p[name].astype("object").to_numpy()[safe]
        return np.where(ok, values, "").astype(object)

    birth = p["birth_date"].dt.strftime("%Y-%m-%d").astype("object").to_numpy()[safe]
    out = pd.DataFrame({
        "request_id": requests["request_id"].to_numpy(dtype=object),
        "result_code": result,
        "name": col("name"), "kana": col("kana"), "sex": col("sex"),
        "birth_date": np.where(ok, birth, "").astype(object),
        "address": col("address"),
        "deceased": np.where(ok, np.where(p["deceased"].to_numpy(dtype=bool)[safe], "1", "0"), "").astype(object),
        "answered_at": answered_at,
    })
    return split_late_and_duplicate(out, rng, seed=seed, late=late, duplicate=duplicate)


def answer_package(
    ws: Workspace,
    request_path: str | Path,
    world: World,
    out_dir: str | Path,
    *,
    seed: int = 0,
    not_found: float = 0.0,
    error: float = 0.0,
    late: float = 0.0,
    duplicate: float = 0.0,
) -> list[Path]:
    """Answer a ``juki_query`` package: the first answer package, then one of late answers if any."""
    package = open_request(ws, request_path, system="juki_net")
    requests = pd.concat([read_table(body, "juki_request").frame for body in package.members.values()], ignore_index=True)
    on_time, later = answer_frames(requests, world, seed=seed, not_found=not_found, error=error, late=late,
                                   duplicate=duplicate)
    return answer_packages(ws, package, out_dir, system="juki_net", kind=ANSWER_KIND, parts=[on_time, later],
                           encode=lambda f: write_table(f, "juki_answer", encoding="utf-8"), suffix="csv")
