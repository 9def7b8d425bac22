"""A small synthetic office for the query tests: target list, numbers, integrated numbers, filings."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tests.conftest import StaffedWorkspace
from tests.direct_load import load_world
from workbench.core import approvals
from workbench.files import formats
from workbench.simulate import generate_world
from workbench.simulate.integrated_numbers import integrated_number_for
from workbench.simulate.world import World as Population

_POP: Population | None = None


def population() -> Population:
    global _POP
    if _POP is None:
        _POP = generate_world(400, seed=21)
    return _POP


@dataclass
class Office:
    world: StaffedWorkspace
    pop: Population
    #: role → person_id in the hand-made scenario
    who: dict[str, str] = field(default_factory=dict)


def procedures_csv(rows: list[tuple[str, str, str, str, str, str, str]], encoding: str = "utf-8") -> bytes:
    frame = pd.DataFrame(rows, columns=list(formats.LAYOUTS["housing_procedures"].names))
    return formats.write_table(frame, "housing_procedures", encoding=encoding)


def load_office(world: StaffedWorkspace, *, unregistered: tuple[str, ...] = (), no_integrated: tuple[str, ...] = ()) -> Office:
    pop = population()
    p = pop.persons
    registered = ~p["person_id"].isin(list(unregistered)).to_numpy()
    load_world(world.ws, p, pop.households, registered=registered)
    reg = p[registered & ~p["person_id"].isin(list(no_integrated)).to_numpy()]
    frame = pd.DataFrame({"person_id": reg["person_id"].to_numpy(dtype=object),
                          "n": [integrated_number_for(x) for x in reg["individual_number"].tolist()]})
    with world.ws.transaction("test.integrated", "system") as con:
        con.register("_n", frame)
        con.execute("INSERT INTO integrated_numbers SELECT person_id, n, 'TEST', now() FROM _n")
        con.unregister("_n")
    return Office(world, pop)


def households(pop: Population, size: int) -> list[list[str]]:
    """Member lists (head first) of households with at least ``size`` people."""
    groups = pop.persons.groupby("household_id", sort=True)["person_id"].apply(list)
    return [g for g in groups.tolist() if len(g) >= size]


def scenario(world: StaffedWorkspace) -> Office:
    """Households chosen so each rule has a known outcome (see tests/test_batches.py)."""
    pop = population()
    big = households(pop, 3)
    solo = households(pop, 1)
    h1, h2, h3, h4, h5 = big[0], big[1], big[2], big[3], big[4]
    who = {
        "A": h1[0], "B": h1[1], "C": h1[2],   # A files P1 (consent); B, C same address; C has no number
        "D": h2[0],                           # D files P1 without consent
        "E": h3[0], "F": h3[1],               # E (no number) files P1; F same address, registered
        "G": h4[0],                           # G files P1 with consent, no integrated number
        "X": h5[0],                           # X files P2 only (and P1 for 2025)
        "Z": solo[-1][0],                     # Z files P1 with consent but is deceased
    }
    office = load_office(world, unregistered=(who["C"], who["E"]), no_integrated=(who["G"],))
    office.who = who
    # Everyone else in those households: keep them out of the way by marking them unlisted.
    named = set(who.values())
    others = [x for h in (h1, h2, h3, h4, h5) for x in h if x not in named]
    with world.ws.transaction("test.setup", "system") as con:
        con.execute("UPDATE persons SET listed = FALSE WHERE person_id IN (SELECT unnest(?::VARCHAR[]))", [others])
        con.execute("UPDATE persons SET deceased = TRUE WHERE person_id = ?", [who["Z"]])
    rows = [
        ("R-1", "P1", "2026", "2026-05-01", who["A"], who["A"], "Y"),
        ("R-2", "P1", "2026", "2026-05-02", who["D"], who["D"], "N"),
        ("R-3", "P1", "2026", "2026-05-03", who["E"], who["E"], "Y"),
        ("R-4", "P1", "2026", "2026-05-04", who["G"], who["G"], "Y"),
        ("R-5", "P2", "2026", "2026-05-05", who["X"], who["X"], "Y"),
        ("R-6", "P1", "2025", "2025-05-05", who["X"], who["X"], "Y"),
        ("R-7", "P1", "2026", "2026-05-06", who["Z"], who["Z"], "Y"),
    ]
    from workbench.queries import procedures

    procedures.import_procedures(world.login("query_operator"), procedures_csv(rows), file_name="procedures.csv")
    return office


def approve(world: StaffedWorkspace, approval: approvals.Approval) -> None:
    approvals.decide(world.login("approver"), approval.approval_id, approve=True)


def requests_of(world: StaffedWorkspace, batch_id: str) -> pd.DataFrame:
    with world.ws.transaction("test.read", "system") as con:
        return con.execute("SELECT * FROM query_requests WHERE batch_id = ? ORDER BY request_id", [batch_id]).df()


def as_set(frame: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(frame["person_id"].tolist(), frame["information"].tolist(), strict=True))


def unique(values: np.ndarray) -> bool:
    return len(set(values.tolist())) == len(values)
