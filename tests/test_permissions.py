"""The whole role × permission matrix, allowed and denied (issue 2 item 8, C5)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from workbench import SERVICES
from workbench.controls import audit_log
from workbench.core.errors import PermissionDenied
from workbench.core.permissions import ROLE_PERMISSIONS, Permission, Role
from workbench.core.workspace import ServiceInfo

from .conftest import StaffedWorkspace


def test_every_permission_is_granted_to_some_role() -> None:
    granted = set().union(*ROLE_PERMISSIONS.values())
    assert granted == set(Permission)


def test_administrator_and_operations_hold_no_personal_data_permission() -> None:
    personal = {Permission.PERSONS_VIEW, Permission.NUMBERS_REVEAL, Permission.TARGETS_IMPORT,
                Permission.NUMBERS_REGISTER, Permission.RESULTS_IMPORT, Permission.DISCREPANCIES_REVIEW}
    for role in (Role.ADMINISTRATOR, Role.OPERATIONS, Role.AUDITOR, Role.ANALYST):
        assert not ROLE_PERMISSIONS[role] & personal


#: Every service the workbench declares.  A new service changes this number on purpose.
SERVICE_COUNT = 172


def test_every_service_is_known_however_the_tests_are_run() -> None:
    """``import workbench`` alone knows every service: each module that declares one is in
    workbench.services (checked against the source), and the count is the full count."""
    import pathlib
    import re

    from workbench import services

    root = pathlib.Path(services.__file__).parent
    declaring = set()
    for p in root.rglob("*.py"):
        text = p.read_text("utf-8")
        if re.search(r"^@service\(|(?:outgoing|incoming)\.register\(", text, re.M) and p.stem != "workspace":
            prefix = re.search(r'^SERVICE_PREFIX = "(\w+)"', text, re.M)
            declaring.add(prefix.group(1) if prefix else p.stem)
    assert declaring == set(services.MODULES)
    assert len(SERVICES) == SERVICE_COUNT, sorted(SERVICES)
    for info in SERVICES.values():
        assert isinstance(info.permission, Permission), info.operation
        # @service sets the info on the function it returns
        assert info.entry is not None and vars(info.entry)["service_info"].operation == info.operation


@pytest.mark.parametrize("role", list(Role))
def test_matrix(held_world: StaffedWorkspace, role: Role) -> None:
    world = held_world
    session = world.login(role.value)
    denied = 0
    for info in sorted(SERVICES.values(), key=lambda i: i.operation):
        call = _wrapper(info)
        allowed = info.permission in ROLE_PERMISSIONS[role]
        try:
            call(session)  # no arguments: allowed calls fail later, on their arguments
        except PermissionDenied:
            assert not allowed, f"{role.value} was denied {info.operation}"
            denied += 1
        except Exception:
            assert allowed, f"{role.value} reached {info.operation}"
        else:
            assert allowed, f"{role.value} ran {info.operation}"
    auditor = world.login("auditor")
    records = audit_log.search(auditor, user_id=role.value, outcome="denied", limit=10_000)
    assert len(records) == denied
    # every role x service pair was tried: the denied ones are exactly those outside the role
    assert denied == sum(1 for i in SERVICES.values() if i.permission not in ROLE_PERMISSIONS[role])
    assert len(SERVICES) == SERVICE_COUNT


def _wrapper(info: ServiceInfo) -> Callable[..., Any]:
    """The decorated, session-bound function registered for this operation."""
    assert info.entry is not None, info.operation
    return info.entry
