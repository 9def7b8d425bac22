"""Helpers for the cycle tests: a batch account, a filed office, and the outside world answering."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.conftest import StaffedWorkspace, scalar
from tests.query_helpers import Office, procedures_csv
from workbench import Session, Workspace
from workbench.controls import batch_accounts
from workbench.core import approvals
from workbench.cycles import engine, pipeline_runs
from workbench.files import media, transfer
from workbench.simulate import integrated_numbers, intermediate_server, juki


def make_batch_account(world: StaffedWorkspace, admin: Session, approver: Session, user_id: str, cycle: str,
                       key_path: Path, **key: Any) -> Path:
    """Request, approve (a second person) and create the account, then issue its key file."""
    request = batch_accounts.request_account(admin, user_id, cycle)
    approvals.decide(approver, request.approval_id, approve=True)
    batch_accounts.add_account(admin, user_id, cycle, approval_id=request.approval_id)
    batch_accounts.issue_key(admin, user_id, str(key_path), **key)
    return key_path


def procedures_file(office: Office, folder: Path, procedure: str, year: int, *, relation: str = "head") -> Path:
    persons = office.pop.persons
    people = persons[persons["relation"] == relation]["person_id"].tolist()
    path = folder / f"procedures-{procedure}-{year}.csv"
    path.write_bytes(procedures_csv([(f"{procedure}-{year}-{i}", procedure, str(year), f"{year}-05-01", p, p, "Y")
                                     for i, p in enumerate(people)]))
    return path


def stage(state: engine.CycleState, name: str) -> engine.StageInfo:
    return next(s for s in state.stages if s.stage == name)


def waiting_stage(state: engine.CycleState) -> engine.StageInfo:
    return next(s for s in state.stages if s.status == "waiting")


def waiting_for(state: engine.CycleState) -> dict[str, Any]:
    """What the waiting stage waits for (``{"waiting": "approval", "approval_ids": [...]}`` or answers)."""
    waiting = waiting_stage(state).waiting_for
    assert waiting is not None, f"stage {waiting_stage(state).stage} waits for nothing"
    return waiting


def answer(ws: Workspace, office: Office, state: engine.CycleState, *, incoming: Path | None = None,
           which: str | None = None) -> list[Path]:
    """Play the linkage server and Juki-net: answer what the waiting stage (or ``which``) sent, into ``incoming/``."""
    folder = incoming or ws.folder("incoming")
    outgoing = ws.folder("outgoing")
    name = which or waiting_stage(state).stage
    if name == "integrated_in":
        request = stage(state, "integrated_out").detail["request"]
        path = folder / "integrated_answer.wbpkg"
        integrated_numbers.answer_package(ws, outgoing / request["package"], path, seed=3)
        return [path]
    sent = stage(state, "batches_out").detail
    later, _ = office.pop.evolve(seed=5, move_rate=0.1, rename_rate=0.05, death_rate=0.02)
    return [*intermediate_server.answer_package(ws, outgoing / sent["info"]["package"], office.pop, folder, seed=1),
            *juki.answer_package(ws, outgoing / sent["juki"]["package"], later, folder, seed=1)]


def malformed_info_answer(ws: Workspace, path: Path) -> Path:
    """A well-sealed package from the linkage server whose records are garbage."""
    key, key_id = media.recipient_key(ws, "linkage_server")
    transfer.write_package(path, key=key, key_id=key_id, kind="info_answer", recipient="housing_office",
                           members=[("answer_1.txt", b"this is not a fixed-width answer record\r\n")], record_count=1,
                           creator="linkage_server", workspace_id=ws.settings.workspace_id)
    return path


def approve_waiting(approver: Session, state: engine.CycleState) -> list[str]:
    ids = list(waiting_for(state)["approval_ids"])
    for approval_id in ids:
        approvals.decide(approver, approval_id, approve=True)
    return ids


def counts(ws: Workspace) -> dict[str, int]:
    """Rows in the tables a cycle writes to, to prove a refusal or a re-run changed nothing."""
    tables = ("approvals", "media_ledger", "query_batches", "query_requests", "integrated_requests", "linkage_exports",
              "pipeline_runs", "cycle_runs", "info_results", "juki_results", "housing_procedures")
    with ws.transaction("test.read", "system") as con:
        return {t: int(scalar(con, f"SELECT count(*) FROM {t}")) for t in tables}


def kernels_of(runner_pid: int) -> list[int]:
    """Processes started for a pipeline runner: their environment names it (``pipeline_runs.RUNNER_ENV``)."""
    mark = f"{pipeline_runs.RUNNER_ENV}={runner_pid}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != runner_pid:
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if mark in f.read().split(b"\0"):
                        found.append(int(entry))
            except OSError:
                continue
    return found
