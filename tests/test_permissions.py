"""The whole role × permission matrix, allowed and denied (issue 2 item 8, C5)."""

from __future__ import annotations

import pytest

from workbench import SERVICES, auditing
from workbench.errors import PermissionDenied
from workbench.permissions import ROLE_PERMISSIONS, Permission, Role

from .conftest import World


def test_every_permission_is_granted_to_some_role() -> None:
    granted = set().union(*ROLE_PERMISSIONS.values())
    assert granted == set(Permission)


def test_administrator_and_operations_hold_no_personal_data_permission() -> None:
    personal = {Permission.PERSONS_VIEW, Permission.NUMBERS_REVEAL, Permission.TARGETS_IMPORT,
                Permission.NUMBERS_REGISTER, Permission.RESULTS_IMPORT, Permission.DISCREPANCIES_REVIEW}
    for role in (Role.ADMINISTRATOR, Role.OPERATIONS, Role.AUDITOR, Role.ANALYST):
        assert not ROLE_PERMISSIONS[role] & personal


def test_every_service_declares_a_permission() -> None:
    assert len(SERVICES) >= 10
    for info in SERVICES.values():
        assert isinstance(info.permission, Permission), info.operation


@pytest.mark.parametrize("role", list(Role))
def test_matrix(world: World, role: Role) -> None:
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
    records = auditing.search(auditor, user_id=role.value, outcome="denied", limit=10_000)
    assert len(records) == denied


def _wrapper(info):  # the decorated function registered for this operation
    import importlib

    module = importlib.import_module(info.function.__module__)
    return getattr(module, info.function.__name__)
