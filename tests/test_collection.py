"""F0b: collection list export — preview, second-person approval bound to parameters and population, package (C9)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from tests.conftest import StaffedWorkspace, scalar
from tests.direct_load import load_world
from workbench.core import approvals
from workbench.core.errors import ApprovalError, InvalidInput, PermissionDenied
from workbench.files import transfer
from workbench.files.formats import read_table
from workbench.files.media import recipient_key
from workbench.intake import collection
from workbench.simulate.world import World as Population
from workbench.simulate.world import generate_world

#: A world with a population loaded, half of it registered: (world, population, who is registered).
Loaded = tuple[StaffedWorkspace, Population, npt.NDArray[np.bool_]]


@pytest.fixture
def loaded(world: StaffedWorkspace) -> Loaded:
    pop = generate_world(400, seed=11)
    reg = np.zeros(len(pop.persons), dtype=bool)
    reg[::2] = True
    load_world(world.ws, pop.persons, pop.households, registered=reg)
    return world, pop, reg


def _approve(world: StaffedWorkspace, approval_id: str) -> None:
    approvals.decide(world.login("approver"), approval_id, approve=True)


def test_preview_counts_without_personal_data(loaded: Loaded) -> None:
    world, pop, reg = loaded
    s = world.login("registrar")
    p = collection.preview_collection(s)
    assert p.total == int((~reg).sum())
    assert sum(p.by_ward.values()) == p.total and sum(p.by_status.values()) == p.total
    text = json.dumps(p.to_dict(), ensure_ascii=False)
    assert not any(name in text for name in pop.persons["name"].head(50))
    ward = max(p.by_ward, key=lambda k: p.by_ward[k])
    q = collection.preview_collection(s, wards=[ward], status="入居者")
    assert set(q.by_ward) == {ward} and set(q.by_status) <= {"resident"}
    with pytest.raises(InvalidInput):
        collection.preview_collection(s, wards=["12x"])
    with pytest.raises(InvalidInput):
        collection.preview_collection(s, status=["tenant"])


def test_export_needs_approval_bound_to_parameters(loaded: Loaded, tmp_path: Path) -> None:
    world, pop, reg = loaded
    s = world.login("registrar")
    wards = sorted(collection.preview_collection(s).by_ward)[:3]
    with pytest.raises(ApprovalError):
        collection.export_collection(s, approval_id=None, wards=wards)
    a = collection.request_collection_export(s, wards=wards, status=["resident", "applicant"])
    assert a.summary["count"] > 0
    with pytest.raises(ApprovalError):  # not yet approved
        collection.export_collection(s, approval_id=a.approval_id, wards=wards, status=["resident", "applicant"])
    with pytest.raises(PermissionDenied):  # the registrar cannot approve at all
        approvals.decide(s, a.approval_id, approve=True)
    _approve(world, a.approval_id)
    with pytest.raises(ApprovalError) as info:  # other wards than approved
        collection.export_collection(s, approval_id=a.approval_id, wards=wards[:1], status=["resident", "applicant"])
    assert info.value.details["reason"] == "params_mismatch"
    # order and duplicates do not matter: parameters are canonical
    result = collection.export_collection(s, approval_id=a.approval_id, wards=[*reversed(wards), wards[0]],
                                          status=["applicant", "resident"])
    assert result.record_count == a.summary["count"]
    assert result.ledger_entry.kind == "collection_list" and result.ledger_entry.recipient == "collection_contractor"
    assert result.ledger_entry.approval_id == a.approval_id and result.path.exists()
    with pytest.raises(ApprovalError):  # used once only
        collection.export_collection(s, approval_id=a.approval_id, wards=wards, status=["resident", "applicant"])
    # the contractor opens it with its key: the list, with no number
    key, _ = recipient_key(world.ws, "collection_contractor")
    package = transfer.read_package(result.path, key=key)
    table = read_table(package.members[collection.MEMBER_NAME], "collection_list")
    assert table.encoding == "utf-8-sig" and table.rows == result.record_count
    owed = set(pop.persons.loc[~reg, "person_id"])
    assert set(table.frame["person_id"]) <= owed
    assert not set(table.frame.columns) & {"individual_number", "phone"}
    numbers = set(pop.persons["individual_number"])
    assert not any(n.encode() in package.members[collection.MEMBER_NAME] for n in list(numbers)[:200])
    with world.ws.transaction("t", "t") as con:
        assert scalar(con, "SELECT count(*) FROM collection_export_members") == result.record_count
        ops = con.execute("SELECT operation, outcome, params FROM audit_log WHERE operation LIKE 'collection.%' ORDER BY seq").fetchall()
    assert ("collection.export_collection", "ok") in [(o, r) for o, r, _ in ops]
    assert all(pop.persons["name"].iloc[0] not in p for _, _, p in ops)


def test_changed_population_invalidates_approval(loaded: Loaded) -> None:
    world, _pop, _reg = loaded
    s = world.login("registrar")
    a = collection.request_collection_export(s)
    _approve(world, a.approval_id)
    # someone registers a number meanwhile
    with world.ws.transaction("t", "t") as con:
        con.execute("INSERT INTO person_numbers SELECT person_id, 'x'::BLOB, 'y'::BLOB, 1, 'test', now(), 't'"
                    " FROM persons WHERE person_id NOT IN (SELECT person_id FROM person_numbers) LIMIT 1")
    with pytest.raises(ApprovalError) as info:
        collection.export_collection(s, approval_id=a.approval_id)
    assert info.value.details["reason"] == "population_changed"
    # typed fields, not only a details dict
    assert info.value.reason == "population_changed" and info.value.count == a.summary["count"] - 1
    assert info.value.approved_count == a.summary["count"]
    assert approvals.get(s, a.approval_id).status == "approved"  # refused: the approval was not used up


def test_nothing_to_export_and_permission(world: StaffedWorkspace) -> None:
    s = world.login("registrar")
    with pytest.raises(InvalidInput) as info:
        collection.request_collection_export(s)
    assert info.value.details["reason"] == "nothing_to_export"
    with pytest.raises(PermissionDenied):
        collection.preview_collection(world.login("analyst"))


def test_approver_rechecks_a_request_against_the_data_now(loaded: Loaded) -> None:
    """Issue 11 item 2: the approver's card can count the selection again (counts only)."""
    from widgets.approvals import ApprovalsApp
    from workbench.core.errors import PermissionDenied as Denied
    from workbench.files import outgoing

    world, _pop, reg = loaded
    a = collection.request_collection_export(world.login("registrar"))
    with pytest.raises(Denied):
        outgoing.recheck(world.login("registrar"), a.approval_id)
    same = outgoing.recheck(world.login("approver"), a.approval_id)
    assert same.unchanged and same.count_now == same.count_then == int((~reg).sum())
    app = ApprovalsApp(world.login("approver"))
    (row,) = app.rows.children
    app.check_buttons[a.approval_id].click()
    assert "依頼時と同じ対象" in row.children[0].value, app.banner.text
    with world.ws.transaction("t", "t") as con:  # a number registered meanwhile
        con.execute("INSERT INTO person_numbers SELECT person_id, 'x'::BLOB, 'y'::BLOB, 1, 'test', now(), 't'"
                    " FROM persons WHERE person_id NOT IN (SELECT person_id FROM person_numbers) LIMIT 1")
    moved = outgoing.recheck(world.login("approver"), a.approval_id)
    assert not moved.unchanged and moved.count_now == moved.count_then - 1
    app.check_buttons[a.approval_id].click()
    shown = row.children[0].value
    assert "依頼後に対象が変わりました" in shown and "依頼時と同じ対象" not in shown
