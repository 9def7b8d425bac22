"""Shared set-up for the issue 12 tests: a busy office with results and discrepancies, victims chosen."""

from __future__ import annotations

import copy
import datetime as dt
import shutil
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from tests.conftest import START, StaffedWorkspace, copy_world
from tests.query_helpers import Office, approve
from tests.results_helpers import busy_office, send_batch
from workbench import FixedClock, Workspace
from workbench.files import formats
from workbench.lifecycle import deletion
from workbench.queries import results
from workbench.simulate import juki

#: office_with_results, built once per process for each fresh world: template → (folder, answers, clock, office, later).
_BUILT: dict[Path, tuple[Path, Path, dt.datetime, Office, Any]] = {}


def office_with_results(world: StaffedWorkspace, tmp_path: Path, before_batch: Any = None) -> tuple[Office, Any]:
    """Numbers, filings, one Juki-net round answered from an evolved world (so discrepancies exist).

    On a fresh world copied from a template (nothing done yet) the same state is built once per
    process and copied, files, modes and clock: the steps are deterministic, so the copy is what
    building it here would leave."""
    if before_batch is not None or world.template is None or world.clock.now() != START:
        return _office_with_results(world, tmp_path, before_batch)
    if world.template not in _BUILT:
        root = world.template.parent / f"office-{len(_BUILT)}"
        shutil.copytree(world.template, root / "ws", copy_function=shutil.copy2)
        clock = FixedClock(START)
        built = StaffedWorkspace(Workspace.open(root / "ws", clock=clock), clock)
        built.secrets = dict(world.secrets)
        office, later = _office_with_results(built, root / "tmp")
        _BUILT[world.template] = (root / "ws", root / "tmp", built.clock.now(), office, later)
    folder, answers, end, office, later = _BUILT[world.template]
    copy_world(folder, world, end)
    if answers.exists():
        shutil.copytree(answers, tmp_path, dirs_exist_ok=True, copy_function=shutil.copy2)
    return Office(world, copy.deepcopy(office.pop), dict(office.who)), copy.deepcopy(later)


def _office_with_results(world: StaffedWorkspace, tmp_path: Path, before_batch: Any = None) -> tuple[Office, Any]:
    office = busy_office(world)
    if before_batch is not None:
        before_batch()
    result, _reqs = send_batch(world, "juki")
    later, _changes = office.pop.evolve(seed=3, move_rate=0.2, rename_rate=0.1, death_rate=0.1)
    paths = juki.answer_package(world.ws, result.path, later, tmp_path / "answers", seed=2)
    results.import_juki_results(world.login("query_operator"), paths[0])
    return office, later


def victim_households(world: StaffedWorkspace, n: int) -> list[str]:
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


def delete_people(world: StaffedWorkspace, people: list[str], reason: str = "moved_out", *,
                  purge: Literal["now", "scheduled"] = "scheduled", applier: str = "registrar") -> deletion.DeletionRecord:
    """Import a deletion list, request, approve and apply it."""
    registrar = world.login("registrar")
    preview = deletion.import_deletion_list(registrar, deletion_csv([(p, reason) for p in people]), file_name="del.csv")
    requested = deletion.request_deletion(world.login("registrar"), preview.list_id)
    assert requested.approval is not None
    approve(world, requested.approval)
    # As a person who read the preview: the files not yet handed over that it names are destroyed knowingly.
    return deletion.apply_and_purge(world.login(applier), preview.list_id,
                                    approval_id=requested.approval.approval_id, purge=purge,
                                    discard_files=[f["entry_id"] for f in requested.pending_files],
                                    expected_digest=requested.selection_digest)
