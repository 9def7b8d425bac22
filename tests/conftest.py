"""Shared fixtures: a workspace on a fixed clock, users with every role, logins."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from workbench import FixedClock, Session, Workspace, credentials, users
from workbench.clock import JST
from workbench.permissions import Role

PASSWORD = "Test-Pass-2026!"


class World:
    """A workspace plus the helpers tests need to act as its staff."""

    def __init__(self, ws: Workspace, clock: FixedClock) -> None:
        self.ws = ws
        self.clock = clock
        self.secrets: dict[str, str] = {}

    def add_user(self, user_id: str, roles: list[str]) -> None:
        enrolment = users.create_initial_user(self.ws, user_id, user_id, PASSWORD, roles)
        self.secrets[user_id] = enrolment.otpauth_uri.split("secret=")[1].split("&")[0]

    def code(self, user_id: str) -> str:
        return credentials.totp_code(self.secrets[user_id], self.clock.now())

    def login(self, user_id: str) -> Session:
        self.clock.advance(30)  # a fresh TOTP step for every login
        return self.ws.login(user_id, PASSWORD, self.code(user_id))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(dt.datetime(2026, 6, 1, 10, 0, tzinfo=JST))


@pytest.fixture
def make_world(tmp_path: Path, clock: FixedClock) -> Callable[..., World]:
    def make(name: str = "ws", **settings: object) -> World:
        settings.setdefault("scrypt_n", 2**10)
        settings.setdefault("lock_timeout_seconds", 10.0)
        ws = Workspace.init(tmp_path / name, clock=clock, **settings)
        world = World(ws, clock)
        for role in Role:
            world.add_user(role.value, [role.value])
        return world

    return make


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:
    return make_world()
