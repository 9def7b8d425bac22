"""F1b: integrated-number request and answer import — request IDs matched (C10), packages (C9)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from tests.conftest import StaffedWorkspace
from tests.direct_load import load_world
from workbench import Session
from workbench.core import approvals
from workbench.core.errors import ApprovalError, InvalidInput, PackageError, PermissionDenied
from workbench.files import transfer
from workbench.files.formats import read_table, write_table
from workbench.files.media import recipient_key
from workbench.files.outgoing import ExportResult
from workbench.intake import integrated
from workbench.simulate import integrated_numbers
from workbench.simulate.world import World as Population
from workbench.simulate.world import generate_world

#: A world with a population loaded, two in three registered: (world, population, who is registered).
Loaded = tuple[StaffedWorkspace, Population, npt.NDArray[np.bool_]]


@pytest.fixture
def loaded(world: StaffedWorkspace) -> Loaded:
    pop = generate_world(300, seed=5)
    reg = np.zeros(len(pop.persons), dtype=bool)
    reg[:200] = True
    load_world(world.ws, pop.persons, pop.households, registered=reg)
    return world, pop, reg


def _rows(world: StaffedWorkspace, sql: str) -> list[tuple[Any, ...]]:
    with world.ws.transaction("t", "t") as con:
        return con.execute(sql).fetchall()


def _approved_request(world: StaffedWorkspace, session: Session) -> ExportResult:
    """Request, approve as the approver, then create (F1b needs a second person)."""
    approval = integrated.request_integrated_request(session)
    approvals.decide(world.login("approver"), approval.approval_id, approve=True)
    return integrated.create_integrated_request(session, approval_id=approval.approval_id)


def test_request_needs_approval_bound_to_the_selection(loaded: Loaded) -> None:
    world, _pop, _reg = loaded
    s = world.login("registrar")
    assert integrated.preview_integrated_request(s).count == 200
    with pytest.raises(ApprovalError):
        integrated.create_integrated_request(s, approval_id=None)
    approval = integrated.request_integrated_request(s)
    with pytest.raises(ApprovalError):
        integrated.create_integrated_request(s, approval_id=approval.approval_id)  # not yet approved
    approvals.decide(world.login("approver"), approval.approval_id, approve=True)
    assert integrated.create_integrated_request(s, approval_id=approval.approval_id).record_count == 200


def test_request_answer_cycle(loaded: Loaded, tmp_path: Path) -> None:
    world, pop, _reg = loaded
    s = world.login("registrar")
    req = _approved_request(world, s)
    assert req.record_count == 200 and req.ledger_entry.kind == "integrated_request"
    assert req.ledger_entry.recipient == "linkage_server"
    key, _ = recipient_key(world.ws, "linkage_server")
    package = transfer.read_package(req.path, key=key)
    table = read_table(package.members[integrated.REQUEST_MEMBER], "integrated_request")
    assert table.frame["request_id"].is_unique
    truth = dict(zip(pop.persons["person_id"], pop.persons["individual_number"], strict=True))
    assert all(truth[p] == n for p, n in zip(table.frame["person_id"], table.frame["individual_number"], strict=True))

    answer = integrated_numbers.answer_package(world.ws, req.path, tmp_path / "answer.wbpkg", seed=3,
                                    unanswered=0.1, not_found=0.05, duplicate=0.05, unknown=0.03)
    summary = integrated.import_integrated_answers(s, str(answer))
    assert summary.package_id is not None
    assert summary.unanswered + summary.stored + summary.not_found == 200
    assert 5 <= summary.unanswered <= 40 and summary.not_found >= 1
    assert summary.duplicate == 10 and summary.unknown == 6
    assert {p["reason"] for p in summary.problems} == {"duplicate", "unknown"}
    stored = dict(_rows(world, "SELECT person_id, integrated_number FROM integrated_numbers"))
    assert len(stored) == summary.stored
    assert all(integrated_numbers.integrated_number_for(truth[p]) == n for p, n in stored.items())
    assert _rows(world, "SELECT count(*) FROM media_ledger WHERE direction = 'in' AND kind = 'integrated_answer'") == [(1,)]
    # the same file again changes nothing
    again = integrated.import_integrated_answers(s, str(answer))
    assert again.already_imported and again.stored == 0
    # a new request asks again for the unanswered and not-found; old open requests are superseded
    second = _approved_request(world, s)
    assert second.record_count == summary.unanswered + summary.not_found
    assert second.extra["superseded"] == summary.unanswered
    # audit has counts only
    audit = _rows(world, "SELECT params FROM audit_log WHERE operation LIKE 'integrated.%'")
    text = " ".join(p for (p,) in audit)
    assert not any(n in text for n in stored.values()) and not any(n in text for n in list(truth.values())[:50])
    assert json.loads(audit[-1][0])["requests"] == second.record_count


def test_answer_problems_classified(loaded: Loaded) -> None:
    world, _pop, _reg = loaded
    s = world.login("registrar")
    req = _approved_request(world, s)
    key, _ = recipient_key(world.ws, "linkage_server")
    frame = read_table(transfer.read_package(req.path, key=key).members[integrated.REQUEST_MEMBER], "integrated_request").frame
    r = frame["request_id"].tolist()
    p = frame["person_id"].tolist()
    rows = [
        (r[0], p[0], "00", "100000000000001"),   # ok
        (r[1], p[1], "00", "12345"),             # malformed number
        (r[2], p[2], "77", ""),                  # malformed code
        (r[3], p[0], "00", "100000000000003"),   # person mismatch -> unknown
        (r[4], p[4], "00", "100000000000004"),   # duplicate, disagreeing -> none stored
        (r[4], p[4], "00", "100000000000044"),
        (r[5], p[5], "00", "100000000000001"),   # number already given to p[0] in this file -> conflict
        (r[6], p[6], "10", ""),                  # not found
    ]
    data = write_table(pd.DataFrame(rows, columns=["request_id", "person_id", "result_code", "integrated_number"]),
                       "integrated_answer", encoding="cp932")
    summary = integrated.import_integrated_answers(s, data)
    by_line = {x["line"]: x["reason"] for x in summary.problems}
    assert by_line == {3: "malformed", 4: "malformed", 5: "unknown", 6: "duplicate", 7: "duplicate", 8: "conflict", 2: "conflict"}
    assert summary.stored == 0 and summary.not_found == 1
    # answering an already-closed request is stale
    late = write_table(pd.DataFrame([(r[6], p[6], "00", "100000000000006")],
                                    columns=["request_id", "person_id", "result_code", "integrated_number"]), "integrated_answer")
    assert integrated.import_integrated_answers(s, late).stale == 1


def test_refusals(loaded: Loaded, tmp_path: Path) -> None:
    world, _pop, _reg = loaded
    s = world.login("registrar")
    with pytest.raises(InvalidInput) as info:
        integrated.import_integrated_answers(s, b"request_id,person_id\r\n")
    assert info.value.details["reason"] == "bad_header"
    req = _approved_request(world, s)
    with pytest.raises(PackageError):  # our own request package is not an answer
        integrated.import_integrated_answers(s, str(req.path))
    with pytest.raises(PermissionDenied):
        integrated.create_integrated_request(world.login("query_operator"), approval_id=None)


def test_nothing_to_request(world: StaffedWorkspace) -> None:
    with pytest.raises(InvalidInput) as info:
        integrated.request_integrated_request(world.login("registrar"))
    assert info.value.details["reason"] == "nothing_to_request"
