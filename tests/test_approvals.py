"""The approval primitive and role grants (issue 2 item 8; REQUIREMENTS §6)."""

from __future__ import annotations

import pytest

from workbench.controls import users
from workbench.core import approvals
from workbench.core.errors import ApprovalError, PermissionDenied

from .conftest import StaffedWorkspace


def test_role_grant_needs_another_persons_approval(world: StaffedWorkspace) -> None:
    admin = world.login("administrator")
    users.add(admin, "newbie", "新人", "Another-Pass-2026!")
    request = users.request_grant(admin, "newbie", "registrar")
    with pytest.raises(ApprovalError):
        users.grant(admin, "newbie", "registrar", approval_id=request.approval_id)  # not yet approved
    approver = world.login("approver")
    assert [a.approval_id for a in approvals.pending(approver)] == [request.approval_id]
    approvals.decide(approver, request.approval_id, approve=True)
    with pytest.raises(ApprovalError) as err:
        users.grant(admin, "newbie", "reviewer", approval_id=request.approval_id)  # other parameters
    assert err.value.details["reason"] == "params_mismatch"
    info = users.grant(admin, "newbie", "registrar", approval_id=request.approval_id)
    assert info.roles == ("registrar",)
    with pytest.raises(ApprovalError) as err:
        users.grant(admin, "newbie", "registrar", approval_id=request.approval_id)
    assert err.value.details["reason"] in ("used", "already")


def test_no_self_approval(world: StaffedWorkspace) -> None:
    admin = world.login("administrator")
    users.add(admin, "helper", "助手", "Another-Pass-2026!")
    request = users.request_grant(admin, "helper", "auditor")
    # An account holding both roles (from before the incompatible pairs, issue 10) still cannot.
    with world.ws.transaction("test.legacy", "test") as con:
        con.execute("UPDATE users SET roles = ['administrator', 'approver'] WHERE user_id = 'administrator'")
    with pytest.raises(ApprovalError) as err:
        approvals.decide(world.login("administrator"), request.approval_id, approve=True)
    assert err.value.details["reason"] == "self_approval"


def test_rejected_and_expired(world: StaffedWorkspace) -> None:
    admin = world.login("administrator")
    users.add(admin, "temp1", "一時", "Another-Pass-2026!")
    r1 = users.request_grant(admin, "temp1", "analyst")
    r2 = users.request_grant(admin, "temp1", "auditor")
    approver = world.login("approver")
    approvals.decide(approver, r1.approval_id, approve=False, reason="対象のIDが違います")
    with pytest.raises(ApprovalError):
        users.grant(admin, "temp1", "analyst", approval_id=r1.approval_id)
    approvals.decide(approver, r2.approval_id, approve=True)
    world.clock.advance(73 * 3600)
    admin = world.login("administrator")
    with pytest.raises(ApprovalError) as err:
        users.grant(admin, "temp1", "auditor", approval_id=r2.approval_id)
    assert err.value.details["reason"] == "expired"


def test_only_approvers_decide(world: StaffedWorkspace) -> None:
    admin = world.login("administrator")
    users.add(admin, "temp2", "一時", "Another-Pass-2026!")
    request = users.request_grant(admin, "temp2", "analyst")
    with pytest.raises(PermissionDenied):
        approvals.decide(world.login("registrar"), request.approval_id, approve=True)
