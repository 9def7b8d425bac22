"""Separation of duties (issue 10 item 6): no approving what benefits oneself,
incompatible role pairs refused, an approval usable only by the person who asked."""

from __future__ import annotations

import numpy as np
import pytest

from tests.direct_load import load_world
from workbench.controls import users
from workbench.core import approvals
from workbench.core.errors import ApprovalError, InvalidInput
from workbench.core.permissions import INCOMPATIBLE_ROLES, Role, role_conflicts
from workbench.intake import collection
from workbench.simulate.world import generate_world

from .conftest import PASSWORD, StaffedWorkspace


def test_an_approver_cannot_approve_a_role_grant_for_themselves(world: StaffedWorkspace) -> None:
    admin = world.login("administrator")
    request = users.request_grant(admin, "approver", "analyst")  # asked by someone else
    with pytest.raises(ApprovalError) as err:
        approvals.decide(world.login("approver"), request.approval_id, approve=True)
    assert err.value.details["reason"] == "self_benefit"
    assert approvals.get(admin, request.approval_id).status == "pending"
    world.add_user("approver2", ["approver"])
    approvals.decide(world.login("approver2"), request.approval_id, approve=True)
    assert sorted(users.grant(admin, "approver", "analyst", approval_id=request.approval_id).roles) == ["analyst", "approver"]


def test_incompatible_roles_are_refused_when_requested(world: StaffedWorkspace) -> None:
    admin = world.login("administrator")
    for holder, role in (("approver", "registrar"), ("operations", "registrar"), ("auditor", "administrator"),
                         ("administrator", "approver")):
        with pytest.raises(InvalidInput) as err:
            users.request_grant(admin, holder, role)
        assert err.value.details["reason"] == "incompatible_roles"
        assert "兼ねられません" in err.value.message_ja


def test_a_conflict_that_arises_after_the_request_is_refused_at_grant(world: StaffedWorkspace) -> None:
    admin = world.login("administrator")
    users.add(admin, "newbie", "新人", "Another-Pass-2026!")
    first = users.request_grant(admin, "newbie", "registrar")
    second = users.request_grant(admin, "newbie", "approver")  # no conflict yet: newbie holds nothing
    approver = world.login("approver")
    approvals.decide(approver, first.approval_id, approve=True)
    approvals.decide(approver, second.approval_id, approve=True)
    users.grant(admin, "newbie", "registrar", approval_id=first.approval_id)
    with pytest.raises(InvalidInput) as err:
        users.grant(admin, "newbie", "approver", approval_id=second.approval_id)
    assert err.value.details["reason"] == "incompatible_roles"
    assert [u.roles for u in users.list_users(admin) if u.user_id == "newbie"] == [("registrar",)]


def test_bootstrap_refuses_incompatible_roles(world: StaffedWorkspace) -> None:
    with pytest.raises(InvalidInput):
        users.create_initial_user(world.ws, "boss", "boss", PASSWORD, ["administrator", "approver"])


def test_the_pairs_are_data_and_symmetric() -> None:
    assert role_conflicts(["approver", "administrator"]) == role_conflicts(["administrator", "approver"])
    assert len(role_conflicts(["approver", "administrator"])) == 1
    assert not role_conflicts(["registrar", "query_operator", "reviewer"])
    for a, b, en, ja in INCOMPATIBLE_ROLES:
        assert a != b and en and ja
        assert Role(a) and Role(b)


def test_review_names_ids_holding_an_incompatible_pair(world: StaffedWorkspace) -> None:
    with world.ws.transaction("test.legacy", "test") as con:  # an account from before the rule
        con.execute("UPDATE users SET roles = ['administrator', 'approver'] WHERE user_id = 'administrator'")
    report = users.review(world.login("administrator"))
    assert report["incompatible_roles"] == {"administrator": [["administrator", "approver"]]}


def test_only_the_requester_can_use_an_approval(world: StaffedWorkspace) -> None:
    admin = world.login("administrator")
    world.add_user("admin2", ["administrator"])
    users.add(admin, "newbie", "新人", "Another-Pass-2026!")
    request = users.request_grant(admin, "newbie", "analyst")
    approvals.decide(world.login("approver"), request.approval_id, approve=True)
    with pytest.raises(ApprovalError) as err:
        users.grant(world.login("admin2"), "newbie", "analyst", approval_id=request.approval_id)
    assert err.value.details["reason"] == "not_requester"
    assert users.grant(admin, "newbie", "analyst", approval_id=request.approval_id).roles == ("analyst",)


def test_a_second_registrar_cannot_use_another_registrars_export(world: StaffedWorkspace) -> None:
    pop = generate_world(60, seed=5)
    load_world(world.ws, pop.persons, pop.households, registered=np.zeros(len(pop.persons), bool))
    world.add_user("registrar2", ["registrar"])
    mine = world.login("registrar")
    request = collection.request_collection_export(mine)
    approvals.decide(world.login("approver"), request.approval_id, approve=True)
    with pytest.raises(ApprovalError) as err:
        collection.export_collection(world.login("registrar2"), approval_id=request.approval_id)
    assert err.value.details["reason"] == "not_requester"
    assert not list(world.ws.folder("outgoing").iterdir())
    assert collection.export_collection(mine, approval_id=request.approval_id).record_count > 0
