"""Key rotation survives a kill at every step (issue 10 item 1): a process running
``keys rotate`` is SIGKILLed at each named step; the workspace then opens, every
Individual Number and TOTP secret decrypts, and the audit log verifies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.direct_load import load_world
from workbench import Workspace
from workbench.cli import main
from workbench.controls import audit_log
from workbench.core import channel, rotation
from workbench.core.errors import KeyringError
from workbench.core.numbers import BlindIndex, NumberCipher
from workbench.intake import persons
from workbench.simulate import generate_world

from .conftest import PASSWORD, StaffedWorkspace

ROOT = Path(__file__).resolve().parent.parent

CHILD = textwrap.dedent("""
    import os, signal, sys
    from workbench import Workspace
    from workbench.core import channel, rotation
    from workbench.core.workspace import Session

    path, kill_at, mode = sys.argv[1:4]

    def hook(step):
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    rotation.fault_hook = hook
    ws = Workspace.open(path)  # recovers whatever an earlier kill left
    if mode == "rotate":
        rotation.rotate(Session(ws, "operations", ("operations",), ws.clock.now()))
""")


#: A data server in a process of its own, killed at a step of a purge a client asked it for (issue 22 item 8:
#: there the rotation writes the new file beside the readers and pauses them for the swap only).
SERVER_CHILD = textwrap.dedent("""
    import datetime as dt, os, signal, sys
    from pathlib import Path
    from workbench import Workspace
    from workbench.core import channel, credentials, rotation
    from workbench.lifecycle import deletion, inquiries
    from workbench.web.dataserver import DataServer

    path, kill_at = sys.argv[1:3]

    def hook(step):
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    server = DataServer(Workspace.open(path)).start()
    rotation.fault_hook = hook
    conn = channel.connect(Path(path))
    code = credentials.totp_code(os.environ["TEST_TOTP_SECRET"], dt.datetime.now(dt.UTC))
    deletion.purge(conn.login("operations", os.environ["TEST_PASSWORD"], code))
""")


def _killed_at(path: Path, step: str, mode: str = "rotate") -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path), step, mode], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == -9, f"not killed at {step}: {proc.returncode} {proc.stderr[-2000:]}"


#: A world with 40 registered people, and their numbers by person.
Loaded = tuple[StaffedWorkspace, dict[str, str]]


@pytest.fixture
def loaded(world: StaffedWorkspace) -> Loaded:
    people = generate_world(40, seed=9)
    load_world(world.ws, people.persons, people.households, registered=np.ones(len(people.persons), bool))
    return world, dict(zip(people.persons["person_id"], people.persons["individual_number"], strict=True))


def _check_whole(world: StaffedWorkspace, numbers: dict[str, str], *, versions: set[int]) -> None:
    """Open afresh (recovering), then check every ciphertext, a login, a reveal and the log."""
    ws = Workspace.open(world.ws.path, clock=world.clock)
    assert not (ws.path / rotation.JOURNAL).exists()
    assert not ws.db_path.with_name(ws.db_path.name + ".rotating").exists()
    ring = ws.keyring
    assert set(ring.masters) == versions and ring.database_version == max(versions) == ring.current
    with ws.transaction("test.check", "test") as con:
        rows = con.execute("SELECT person_id, number_ct, number_index, key_version FROM person_numbers"
                           " ORDER BY person_id").fetchall()
    assert len(rows) == len(numbers)
    for version in {r[3] for r in rows}:
        assert version in ring.masters
        mine = [r for r in rows if r[3] == version]
        clear = NumberCipher(ring.key("numbers", version), version).decrypt_many(
            [r[1] for r in mine], [r[0] for r in mine], table="person_numbers", column="number_ct")
        assert clear == [numbers[r[0]] for r in mine]
        assert BlindIndex(ring.key("blind_index", version)).digest_many(clear) == [bytes(r[2]) for r in mine]
    fresh = StaffedWorkspace(ws, world.clock)
    fresh.secrets = world.secrets
    someone = next(iter(numbers))
    assert persons.reveal_number(fresh.login("reviewer"), someone) == numbers[someone]  # TOTP secret decrypts too
    report = audit_log.verify(fresh.login("auditor"))
    assert report.ok, report.message()


@pytest.mark.parametrize("step", rotation.STEPS)
def test_a_kill_at_every_step_leaves_a_workspace_that_opens(loaded: Loaded, step: str) -> None:
    world, numbers = loaded
    _killed_at(world.ws.path, step)
    # Killed before the new key reached the keyring: rolled back; at any later step: completed.
    _check_whole(world, numbers, versions={1} if step == "journal_written" else {2})


@pytest.mark.parametrize("step", [*rotation.STEPS, "built"])
def test_a_data_server_killed_at_every_step_of_a_purge_leaves_a_workspace_that_opens(
        loaded: Loaded, step: str, tmp_path: Path) -> None:
    world, numbers = loaded
    env = dict(os.environ, PYTHONPATH=str(ROOT), TEST_TOTP_SECRET=world.secrets["operations"], TEST_PASSWORD=PASSWORD,
               **{channel.RUNTIME_ENV: str(tmp_path / "run")})
    proc = subprocess.run([sys.executable, "-c", SERVER_CHILD, str(world.ws.path), step], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, f"not killed at {step}: {proc.returncode} {proc.stderr[-2000:]}"
    _check_whole(world, numbers, versions={1} if step == "journal_written" else {2})


def test_a_journal_of_an_earlier_version_is_completed(loaded: Loaded) -> None:
    """Journals written before the re-encryption moved into the copy name the step ``reencrypted``."""
    world, numbers = loaded
    _killed_at(world.ws.path, "recorded")
    path = world.ws.path / rotation.JOURNAL
    journal = json.loads(path.read_text("utf-8"))
    path.write_text(json.dumps({**journal, "step": "reencrypted"}), "utf-8")
    _check_whole(world, numbers, versions={2})


def test_a_kill_during_recovery_is_recovered_too(loaded: Loaded) -> None:
    world, numbers = loaded
    _killed_at(world.ws.path, "copied")
    _killed_at(world.ws.path, "swapped", mode="recover")  # the recovery itself dies after the swap
    _check_whole(world, numbers, versions={2})
    _killed_at(world.ws.path, "recorded")  # and a second rotation, killed early, completes as well
    _check_whole(world, numbers, versions={3})


def test_keys_repair_finishes_an_interrupted_rotation(loaded: Loaded, capsys: pytest.CaptureFixture[str]) -> None:
    world, numbers = loaded
    _killed_at(world.ws.path, "swapped")
    assert main(["-w", str(world.ws.path), "keys", "repair"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rotation"] == "completed" and out["database_version"] == 2
    assert main(["-w", str(world.ws.path), "keys", "repair"]) == 0  # nothing left to do
    assert json.loads(capsys.readouterr().out) == {"rotation": None, "database_version": 2, "changed": False}
    _check_whole(world, numbers, versions={2})


def test_keys_repair_without_a_journal_finds_the_key_that_opens_the_file(world: StaffedWorkspace) -> None:
    ring = world.ws.keyring
    ring.database_version = ring.add_version()  # a keyring that names the wrong version, no journal
    ring.save(world.ws.key_source)
    with pytest.raises(Exception, match="keys repair"):
        Workspace.open(world.ws.path)
    assert main(["-w", str(world.ws.path), "keys", "repair"]) == 0
    assert Workspace.open(world.ws.path).keyring.database_version == 1


def test_a_damaged_journal_is_refused_with_a_clear_error(world: StaffedWorkspace) -> None:
    (world.ws.path / rotation.JOURNAL).write_text("{not json", "utf-8")
    with pytest.raises(KeyringError) as err:
        Workspace.open(world.ws.path)
    assert "rotation.journal" in err.value.message_en and "ジャーナル" in err.value.message_ja
