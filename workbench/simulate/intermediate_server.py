"""Simulated intermediate server (中間サーバー): its answers to information queries (F2 → F4, 別添1 ⑪–⑭).

DESIGN §8.  :func:`answer_package` plays the intermediate server, reached through the linkage server
(recipient code ``linkage_server``), end to end: it opens an ``info_query`` package
(:mod:`workbench.queries.batches`) with the linkage server's key (:func:`workbench.files.media.recipient_key`), reads every member in the
:data:`workbench.files.query_files.REQUEST_LAYOUT`, looks each person up **by integrated
number** in a :class:`~workbench.simulate.world.World` (pass an evolved world to answer
from a later year), and writes ``info_answer`` packages in
:data:`workbench.files.query_files.ANSWER_LAYOUT`, each answer carrying its request ID (C10).

Payloads (invented, like everything here): local tax → tax year, taxable income
(``annual_income``) and 課税/非課税 (taxable above 1,000,000 yen, illustrative);
public assistance → flag; the three certificates → type and grade when the person
holds *that* certificate, ``00`` otherwise; resident register → household size.

Configurable imperfections, shares of the requests, deterministic for ``seed``:

* ``not_found`` — status ``10`` (no such person at the provider), no payload;
* ``error`` — status ``20`` / ``30`` / ``90`` (withheld, invalid request, system error);
* ``late`` — missing from the first package and delivered in a second one;
* ``duplicate`` — answered twice in the same package (identical records).

A request whose integrated number the world does not know is answered ``10`` too.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.core.workspace import Workspace
from workbench.files.query_files import ANSWER_LAYOUT, CERTIFICATE_TYPES, REQUEST_LAYOUT, read_fixed, write_fixed
from workbench.queries.query_rules import load_rules
from workbench.simulate.answers import answer_packages, open_request, split_late_and_duplicate
from workbench.simulate.integrated_numbers import integrated_number_for
from workbench.simulate.world import World

__all__ = ["ANSWER_KIND", "TAXABLE_FROM", "answer_frames", "answer_package"]

ANSWER_KIND = "info_answer"
#: Income above which the simulated person is taxable (illustrative, not the real rule).
TAXABLE_FROM = 1_000_000

#: Information kind → its certificate's code in the answer (names from query_files.CERTIFICATE_TYPES).
_CERT_CODES = {"physical_disability": "01", "mental_disability": "02", "ai_no_techo": "03"}


def _people(world: World) -> pd.DataFrame:
    p = world.persons
    alive = ~p["deceased"].to_numpy(dtype=bool)
    size = p.loc[alive].groupby("household_id").size()
    return pd.DataFrame({
        "integrated_no": [integrated_number_for(x) for x in p["individual_number"].tolist()],
        "income": p["annual_income"].to_numpy(),
        "assisted": p["public_assistance"].to_numpy(dtype=bool),
        "cert": p["disability_certificate"].astype("object").where(p["disability_certificate"].notna(), "").to_numpy(),
        "grade": p["disability_grade"].astype("object").where(p["disability_grade"].notna(), "")
                 .str.extract(r"(\d+)", expand=False).fillna("").to_numpy(),
        "household_size": p["household_id"].map(size).fillna(0).astype(int).to_numpy(),
    }).drop_duplicates("integrated_no")


def answer_frames(
    requests: pd.DataFrame,
    world: World,
    *,
    seed: int = 0,
    not_found: float = 0.0,
    error: float = 0.0,
    late: float = 0.0,
    duplicate: float = 0.0,
    answered_at: dt.datetime | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(on-time answers, late answers)`` for request records (columns of ``REQUEST_LAYOUT``)."""
    rng = np.random.default_rng(seed)
    n = len(requests)
    keys = {v.info_code: k for k, v in load_rules().information.items()}
    info = requests["info_code"].map(keys).fillna("").to_numpy(dtype=object)
    people = _people(world).set_index("integrated_no")
    idx = people.index.get_indexer(requests["integrated_no"])
    known = idx >= 0
    safe = np.where(known, idx, 0)
    draw = rng.random(n)
    status = np.where(draw < not_found, "10", "00").astype(object)
    err = (draw >= not_found) & (draw < not_found + error)
    status[err] = rng.choice(np.array(["20", "30", "90"], dtype=object), size=int(err.sum()))
    status[~known] = "10"
    ok = status == "00"

    income = people["income"].to_numpy()[safe]
    cert = people["cert"].to_numpy()[safe]
    grade = people["grade"].to_numpy()[safe]
    out = pd.DataFrame({
        "request_id": requests["request_id"].to_numpy(dtype=object),
        "atena_no": requests["atena_no"].to_numpy(dtype=object),
        "integrated_no": requests["integrated_no"].to_numpy(dtype=object),
        "info_code": requests["info_code"].to_numpy(dtype=object),
        "status": status,
        "answered_at": (answered_at or dt.datetime(2026, 6, 2, 9, 0)).strftime("%Y%m%d%H%M%S"),
    })
    for col in ANSWER_LAYOUT.names:
        if col not in out:
            out[col] = ""
    tax = ok & (info == "local_tax")
    out.loc[tax, "tax_year"] = requests["start_date"].str.slice(0, 4).to_numpy(dtype=object)[tax]
    out.loc[tax, "taxable_income"] = income[tax].astype(str)
    out.loc[tax, "tax_status"] = np.where(income[tax] > TAXABLE_FROM, "1", "2")
    pa_ = ok & (info == "public_assistance")
    out.loc[pa_, "assistance"] = np.where(people["assisted"].to_numpy()[safe][pa_], "1", "0")
    for key, code in _CERT_CODES.items():
        sel = ok & (info == key)
        holds = cert[sel] == CERTIFICATE_TYPES[code]
        out.loc[sel, "certificate_type"] = np.where(holds, code, "00")
        out.loc[sel, "certificate_grade"] = np.where(holds, grade[sel], "")
    rr = ok & (info == "resident_register")
    out.loc[rr, "household_size"] = people["household_size"].to_numpy()[safe][rr].astype(str)

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
    """Answer an ``info_query`` package: the first answer package, then one of late answers if any."""
    package = open_request(ws, request_path, system="linkage_server")
    frames = [read_fixed(body, REQUEST_LAYOUT)[0] for body in package.members.values()]
    requests = pd.concat(frames, ignore_index=True)
    on_time, later = answer_frames(requests, world, seed=seed, not_found=not_found, error=error, late=late,
                                   duplicate=duplicate)
    return answer_packages(ws, package, out_dir, system="linkage_server", kind=ANSWER_KIND, parts=[on_time, later],
                           encode=lambda f: write_fixed(f, ANSWER_LAYOUT), suffix="txt")
