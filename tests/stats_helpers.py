"""A workspace holding a synthetic population for the F8 statistics tests (set-based load)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd

from tests.direct_load import load_targets
from workbench.simulate import World as Population
from workbench.simulate import generate_world

from .conftest import StaffedWorkspace, scalar


def load_population(world: StaffedWorkspace, persons: int = 4000, seed: int = 7) -> Population:
    """Targets for ``persons`` synthetic people, an income result for four in five of them
    and a registered number (random ciphertext, not a real encryption) for two in three."""
    population = generate_world(persons, seed=seed)
    load_targets(world.ws, population)
    pp = population.persons
    rng = np.random.default_rng(seed)
    with_income = pp[rng.random(len(pp)) < 0.8]
    incomes = pd.DataFrame({
        "request_id": [f"R{i:09d}" for i in range(len(with_income))],
        "person_id": with_income["person_id"].to_numpy(dtype=object),
        "income": with_income["annual_income"].to_numpy(dtype=np.int64),
    })
    registered = pp[rng.random(len(pp)) < 0.66]
    numbers = pd.DataFrame({"person_id": registered["person_id"].to_numpy(dtype=object)})
    numbers["ct"] = [rng.bytes(40) for _ in range(len(numbers))]
    numbers["ix"] = [rng.bytes(32) for _ in range(len(numbers))]
    now = world.clock.now()
    with world.ws.transaction("test.load_statistics", "system") as con:
        con.register("inc", incomes)
        con.execute(
            "INSERT INTO info_results (request_id, batch_id, person_id, information, status, taxable_income, import_id,"
            " imported_at) SELECT request_id, 'B1', person_id, 'local_tax', '00', income, 'I1', ? FROM inc", [now])
        con.register("num", numbers)
        con.execute(
            "INSERT INTO person_numbers SELECT person_id, ct, ix, 1, 'contractor', ?, 'registrar' FROM num", [now])
        con.unregister("inc")
        con.unregister("num")
    return population


def true_counts(world: StaffedWorkspace, publication_id: str, dims: list[str]) -> dict[tuple[str, ...], int]:
    """The unperturbed counts of every cell (margins as 総数) of the people still in a
    publication — what the tests compare the service's tables with (never released)."""
    from workbench.intake.persons import active_filter
    from workbench.statistics.tables import DIMENSIONS, TOTAL, groups

    with world.ws.transaction("test.true_counts", "system") as con:
        manifest = json.loads(scalar(con, "SELECT manifest FROM stats_publications WHERE publication_id = ?",
                                     [publication_id]))
        bases = [DIMENSIONS[d].base for d in dims]
        frame = con.execute(f"SELECT {', '.join('s.' + b for b in bases)} FROM stats_source s JOIN persons p"
                            f" USING (person_id) WHERE s.publication_id = ? AND {active_filter('p')}",
                            [publication_id]).df()
    labelled = pd.DataFrame()
    for d, b in zip(dims, bases, strict=True):
        lookup = {}
        for label, members in groups(DIMENSIONS[d], manifest["categories"][b]):
            for m in members:
                lookup[m] = label
        labelled[d] = frame[b].map(lookup)
    out: dict[tuple[str, ...], int] = {}
    for mask in itertools.product((False, True), repeat=len(dims)):
        cols = [d for d, total in zip(dims, mask, strict=True) if not total]
        if cols:
            counts = labelled.groupby(cols).size()
            for key, n in counts.items():
                key_t = key if isinstance(key, tuple) else (key,)
                it = iter(key_t)
                out[tuple(TOTAL if total else next(it) for total in mask)] = int(n)
        else:
            out[tuple(TOTAL for _ in dims)] = len(labelled)
    return out
