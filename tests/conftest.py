"""Shared fixtures: a workspace on a fixed clock, users with every role, logins."""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import re
import shutil
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pytest

from workbench import FixedClock, Session, Workspace
from workbench.controls import users
from workbench.core import channel, credentials
from workbench.core.anchor import ANCHOR_ENV, CHATTR_ENV
from workbench.core.clock import JST
from workbench.core.keys import KEK_ENV, FileKeySource, KeyEncryptionKey, WrappedKeySource
from workbench.core.permissions import Role
from workbench.web.dataserver import DataServer

PASSWORD = "Test-Pass-2026!"


class StaffedWorkspace:
    """A workspace plus the helpers tests need to act as its staff."""

    def __init__(self, ws: Workspace, clock: FixedClock) -> None:
        self.ws = ws
        self.clock = clock
        self.secrets: dict[str, str] = {}
        #: The fresh world this one is a copy of (see ``make_world``), or None.
        self.template: Path | None = None

    def add_user(self, user_id: str, roles: list[str]) -> None:
        enrolment = users.create_initial_user(self.ws, user_id, user_id, PASSWORD, roles)
        self.secrets[user_id] = enrolment.otpauth_uri.split("secret=")[1].split("&")[0]

    def code(self, user_id: str) -> str:
        return credentials.totp_code(self.secrets[user_id], self.clock.now())

    def login(self, user_id: str) -> Session:
        self.clock.advance(30)  # a fresh TOTP step for every login
        return self.ws.login(user_id, PASSWORD, self.code(user_id))

    def cli(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], user_id: str,
            *argv: str) -> tuple[int, Any, str]:
        """``workbench … --json`` as ``user_id`` on this workspace: (exit code, the JSON printed or
        None, what went to stderr)."""
        from workbench import cli

        monkeypatch.setenv("WORKBENCH_PASSWORD", PASSWORD)
        monkeypatch.setattr("workbench.cli._common.open_workspace", lambda args: self.ws)
        self.clock.advance(30)
        monkeypatch.setenv("WORKBENCH_USER", user_id)
        monkeypatch.setenv("WORKBENCH_TOTP", self.code(user_id))
        code = cli.main(["-w", str(self.ws.path), *argv])
        out = capsys.readouterr()
        return code, json.loads(out.out) if code == 0 else None, out.err


class LiveWorld(StaffedWorkspace):
    """A world on the real clock, for notebooks run by Papermill (their kernel checks the run ticket
    against it): one-time codes of now, one login per person and step.  ``clock`` is the fixed clock
    of the base class only; the workspace keeps its own real one."""

    def __init__(self, ws: Workspace) -> None:
        super().__init__(ws, FixedClock(dt.datetime.now(dt.UTC)))

    def code(self, user_id: str) -> str:
        return live_code(self.secrets[user_id], user_id)

    def login(self, user_id: str) -> Session:
        return self.ws.login(user_id, PASSWORD, self.code(user_id))


#: The last one-time-code step each account was given a live code for, by (TOTP secret, user ID): the
#: last step used is kept per account of a workspace, and only copies of one template share a secret
#: (they share the step here too, which is stricter than they need).  A fresh workspace's accounts
#: have their own secrets, so their first log-ins never wait for another world's.
_LIVE_STEPS: dict[tuple[str, str], int] = {}


def live_code(secret: str, user_id: str) -> str:
    """A one-time code for ``user_id`` that the workspace accepts now.  A code is accepted once and never
    one older than the person's last (C5), within one 30-second step either side of now: a second log-in
    in the same step gets the next step's code (as an authenticator a few seconds fast would give);
    only a third waits for the clock to reach the step last used."""
    account = (secret, user_id)
    while int(time.time()) // 30 < _LIVE_STEPS.get(account, -2):
        time.sleep(0.2)
    step = max(int(time.time()) // 30, _LIVE_STEPS.get(account, -2) + 1)
    _LIVE_STEPS[account] = step
    return credentials.totp_code(secret, dt.datetime.fromtimestamp(step * 30, dt.UTC))


START = dt.datetime(2026, 6, 1, 10, 0, tzinfo=JST)

#: The test process's key-encryption key (issue 19): a file outside every workspace, made once per
#: process by :func:`test_kek`.  The worlds below get it through their injected key source.
_KEK: list[KeyEncryptionKey] = []


@pytest.fixture(scope="session", autouse=True)
def test_kek(tmp_path_factory: pytest.TempPathFactory) -> KeyEncryptionKey:
    """The KEK every test workspace is wrapped by.  Also named by ``WORKBENCH_KEK_FILE`` for this
    process and its children (CLI runs, pipelines, the web server and its kernels), as a deployment
    names it for its services; a test about a missing KEK removes it."""
    if not _KEK:
        _KEK.append(KeyEncryptionKey.create_file(tmp_path_factory.mktemp("kek") / "workbench.kek"))
        os.environ[KEK_ENV] = str(_KEK[0].path)
    return _KEK[0]


@pytest.fixture(autouse=True)
def audit_anchor_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's audit anchors and current deletion journal in a folder of its own (issue 22): test
    workspaces copied from one template share a workspace ID, so a shared folder would mix their
    histories.  No ``chattr +a`` in tests (an append-only file could not be cleaned up); the test
    of the attribute asks for it itself."""
    folder = tmp_path / "audit-anchors"
    monkeypatch.setenv(ANCHOR_ENV, str(folder))
    monkeypatch.setenv(CHATTR_ENV, "0")
    return folder


def key_source(path: Path) -> WrappedKeySource:
    """The injected key source of a test workspace at ``path``: its keyring file under the test KEK."""
    return WrappedKeySource(FileKeySource(path / "keyring.json"), _KEK[0])


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> Any:
    """The first value of the first row a query returns (a count, a status); the test fails if no row came."""
    row = con.execute(sql, list(params)).fetchone()
    assert row is not None, f"no row: {sql}"
    return row[0]


def first_row(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...]:
    """The first row a query returns; the test fails if no row came."""
    row = con.execute(sql, list(params)).fetchone()
    assert row is not None, f"no row: {sql}"
    return row


_BENCHMARK = ("import importlib, json, sys\n"
              "out, name = sys.argv[1:3]\n"
              "result = importlib.import_module('benchmarks.' + name).main(sys.argv[3:])\n"
              "open(out, 'w').write(json.dumps(result, default=str))\n")


def run_benchmark(tmp_path: Path, name: str, *argv: str) -> Any:
    """Run ``benchmarks/<name>.py`` as a program, as an operator would (tests never import
    ``benchmarks``), and return what its ``main`` returned, through JSON.  Without the suite's
    key-encryption key in its environment: a benchmark run by hand has none, so it must make its own."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    out = tmp_path / f"{name}-{len(list(tmp_path.glob(name + '-*.json')))}.json"
    env = dict(os.environ, PYTHONPATH=str(root))
    env.pop(KEK_ENV, None)
    subprocess.run([sys.executable, "-c", _BENCHMARK, str(out), name, *argv], cwd=root, env=env, check=True,
                   timeout=1800, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text("utf-8"))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


def copy_world(source: Path, world: StaffedWorkspace, end: dt.datetime) -> None:
    """Make ``world`` (a fresh copy of a template) a copy of ``source``, a later state of the same
    template reached with the clock at ``end``: files and modes, the clock, a newly opened workspace."""
    world.ws.anchor_path.unlink(missing_ok=True)  # another history now lives at this path: a new anchor
    shutil.rmtree(world.ws.path)
    shutil.copytree(source, world.ws.path, copy_function=shutil.copy2)
    world.ws = Workspace.open(world.ws.path, clock=world.clock, key_source=key_source(world.ws.path))
    world.clock.set(end)


def _build_world(path: Path, clock: FixedClock, settings: dict[str, Any]) -> StaffedWorkspace:
    ws = Workspace.init(path, clock=clock, key_source=key_source(path), **settings)
    world = StaffedWorkspace(ws, clock)
    for role in Role:
        world.add_user(role.value, [role.value])
    return world


class WorldTemplates:
    """Fresh worlds built once per test process, by name and settings: (folder, TOTP secrets).
    A test gets a copy (files, modes and all), exactly as :func:`_build_world` would have left it:
    the same workspace ID and keys in every test that uses the same name, never shared between tests."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.built: dict[tuple[Any, ...], tuple[Path, dict[str, str]]] = {}

    def get(self, name: str, settings: dict[str, Any]) -> tuple[Path, dict[str, str]]:
        key = (name, *sorted(settings.items()))
        if key not in self.built:
            folder = self.root / f"t{len(self.built)}" / name
            self.built[key] = (folder, _build_world(folder, FixedClock(START), settings).secrets)
        return self.built[key]


@pytest.fixture(scope="session")
def world_templates(tmp_path_factory: pytest.TempPathFactory, test_kek: KeyEncryptionKey) -> WorldTemplates:
    return WorldTemplates(tmp_path_factory.mktemp("world-templates"))


class MakeWorld(Protocol):
    """The ``make_world`` fixture: a fresh world in the test's folder ``name``, with workspace settings."""

    def __call__(self, name: str = "ws", **settings: Any) -> StaffedWorkspace: ...


@pytest.fixture
def make_world(tmp_path: Path, clock: FixedClock, world_templates: WorldTemplates) -> MakeWorld:
    def make(name: str = "ws", **settings: Any) -> StaffedWorkspace:
        settings.setdefault("scrypt_n", 2**10)
        settings.setdefault("lock_timeout_seconds", 10.0)
        if type(clock) is not FixedClock or clock.now() != START:  # a test that moved the clock first: build it
            return _build_world(tmp_path / name, clock, settings)
        folder, secrets = world_templates.get(name, settings)
        shutil.copytree(folder, tmp_path / name, copy_function=shutil.copy2)  # keeps every file's mode
        world = StaffedWorkspace(Workspace.open(tmp_path / name, clock=clock, key_source=key_source(tmp_path / name)), clock)
        world.secrets = dict(secrets)
        world.template = folder
        return world

    return make


@pytest.fixture
def world(make_world: MakeWorld) -> StaffedWorkspace:
    return make_world()


@pytest.fixture
def held_world(world: StaffedWorkspace) -> Iterator[StaffedWorkspace]:
    """``world`` with its database held open, as the data server holds it (issue 19), for a test that
    makes hundreds of calls to check who may make them: the checks do not depend on the store, and
    the file is not reopened for every call."""
    from workbench.core.workspace import READS

    store = world.ws.become_resident(READS)
    try:
        yield world
    finally:
        store.close()


_SHARED = re.compile(r"""scope=["'](module|class|package)["']""")


@functools.cache
def _shares_a_fixture(path: Path) -> bool:
    try:
        return bool(_SHARED.search(path.read_text("utf-8")))
    except OSError:
        return False


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``-n 2 --dist loadgroup`` (./dev test): the tests of a file with a module-scoped fixture (a
    server, a demo workspace) run in one process, so it is built once; every other test goes to
    whichever process is free, so the two finish together.  (pytest-xdist's own loadgroup reads
    ``xdist_group`` marks through a node attribute pytest 9 no longer uses, so it is done here.)"""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedFixturesTogether(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            file = nodeid.split("::", 1)[0]
            return file if _shares_a_fixture(config.rootpath / file) else nodeid

    return SharedFixturesTogether(config, log)


@pytest.fixture(autouse=True)
def _received_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``package unpack``'s receiving ledger defaults to the person's home: a test's goes to its own folder."""
    monkeypatch.setenv("WORKBENCH_RECEIVED_LEDGER", str(tmp_path / "received-ledger.jsonl"))


# -- the data server (issue 19): a private runtime folder, an in-process server, a client's login -------------------
@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A runtime folder of the test's own for the data server's socket (modules that talk to a data server
    use it for every test: ``pytestmark = pytest.mark.usefixtures("runtime")``)."""
    folder = tmp_path / "run"
    monkeypatch.setenv(channel.RUNTIME_ENV, str(folder))
    return folder


@pytest.fixture
def server(world: StaffedWorkspace, runtime: Path) -> Iterator[DataServer]:
    """A data server in this process owning ``world``'s workspace, stopped after the test."""
    srv = DataServer(world.ws).start()
    try:
        yield srv
    finally:
        srv.stop()


def remote_login(world: StaffedWorkspace, user: str) -> channel.RemoteSession:
    """Log ``user`` in over the channel, as a kernel does while a data server runs."""
    conn = channel.connect(world.ws.path)
    assert isinstance(conn, channel.Remote)
    world.clock.advance(30)
    return conn.login(user, PASSWORD, world.code(user))
