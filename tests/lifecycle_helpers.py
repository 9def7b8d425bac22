"""Shared set-up for the issue 12 tests: a busy office with results and discrepancies, victims chosen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from tests.conftest import World
from tests.query_helpers import Office, approve
from tests.results_helpers import busy_office, send_batch
from workbench import deletion, formats, results
from workbench.simulate import juki


def office_with_results(world: World, tmp_path: Path, before_batch: Any = None) -> tuple[Office, Any]:
    """Numbers, filings, one Juki-net round answered from an evolved world (so discrepancies exist)."""
    office = busy_office(world)
    if before_batch is not None:
        before_batch()
    result, _reqs = send_batch(world, "juki")
    later, _changes = office.pop.evolve(seed=3, move_rate=0.2, rename_rate=0.1, death_rate=0.1)
    paths = juki.answer_package(world.ws, result.path, later, tmp_path / "answers", seed=2)
    results.import_juki_results(world.login("query_operator"), paths[0])
    return office, later


def victim_households(world: World, n: int) -> list[str]:
    """Members of ``n`` whole households that have results and a discrepancy (so much is derived)."""
    with world.ws.transaction("test.read", "system") as con:
        rows = con.execute("""
            SELECT p.household_id FROM persons p
            WHERE p.person_id IN (SELECT person_id FROM discrepancies)
              AND p.person_id IN (SELECT person_id FROM juki_results)
            GROUP BY p.household_id ORDER BY p.household_id LIMIT ?""", [n]).fetchall()
        hh = [r[0] for r in rows]
        return [r[0] for r in con.execute(
            "SELECT person_id FROM persons WHERE household_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY person_id",
            [hh]).fetchall()]


def deletion_csv(rows: list[tuple[str, str]], encoding: str = "utf-8") -> bytes:
    frame = pd.DataFrame(rows, columns=["person_id", "reason"])
    frame["decided_on"] = "2026-05-31"
    return formats.write_table(frame, "deletion_list", encoding=encoding)


def delete_people(world: World, people: list[str], reason: str = "moved_out", *,
                  purge: str = "scheduled", applier: str = "registrar") -> deletion.DeletionRecord:
    """Import a deletion list, request, approve and apply it."""
    registrar = world.login("registrar")
    preview = deletion.import_deletion_list(registrar, deletion_csv([(p, reason) for p in people]), file_name="del.csv")
    requested = deletion.request_deletion(world.login("registrar"), preview.list_id)
    assert requested.approval is not None
    approve(world, requested.approval)
    return deletion.apply_and_purge(world.login(applier), preview.list_id,
                                    approval_id=requested.approval.approval_id, purge=purge)  # type: ignore[arg-type]
