"""Files written before the commit (issue 10 item 2): a package appears in outgoing/ or
return_lists/ only once its media-ledger entry has committed.

A child process exports (the collection list, or a return list from registration) and is
SIGKILLed at each step: while the package is half written, once it is written but not
committed, once committed but not published, once published but before the audit head.
After each kill the workspace is opened again and must hold no file without a ledger
entry, no staged leftovers, and the approval must be unconsumed unless the export committed
(in which case the package is there and opens).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import StaffedWorkspace
from tests.direct_load import load_world
from workbench import Workspace
from workbench.core import approvals
from workbench.core.errors import PermissionDenied
from workbench.files import media, transfer
from workbench.intake import collection
from workbench.simulate.world import generate_world

CHILD = textwrap.dedent(
    """
    import datetime as dt, os, signal, sys
    from workbench import FixedClock, Session, Workspace, audit
    from workbench.core import workspace
    from workbench.files import transfer
    from workbench.intake import collection, registration
    path, step, at, job, arg = sys.argv[1:6]
    now = dt.datetime.fromisoformat(at)
    ws = Workspace.open(path, clock=FixedClock(now))

    def die(*_a, **_k):
        os.kill(os.getpid(), signal.SIGKILL)

    real_write = transfer.write_package
    if step == "mid_write":      # the package is half written
        def write(target, *, members, **kw):
            def first_only():
                for m in members:
                    yield m
                    die()
            return real_write(target, members=first_only(), **kw)
        transfer.write_package = write
    elif step == "written":      # complete under its staging name, transaction not committed
        def write(target, **kw):
            real_write(target, **kw)
            die()
        transfer.write_package = write
    elif step == "committed":    # the ledger entry committed, nothing published yet
        workspace.Unit.committed = die
    elif step == "published":    # published, the audit head not yet exported
        audit.write_head = die
    session = Session(ws, "registrar", ("registrar",), now)
    if job == "collection":
        collection.export_collection(session, approval_id=arg)
    else:
        registration.register(session, open(arg, "rb").read(), source="contractor", file_name="r.csv")
    print("survived", flush=True)
    """
)

STEPS = ["mid_write", "written", "committed", "published"]


def _kill_at(ws: Workspace, tmp_path: Path, step: str, at: dt.datetime, job: str, arg: str) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent.parent), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(script), str(ws.path), step, at.isoformat(), job, arg],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stdout, proc.stderr[-2000:])


def _ledger(ws: Workspace) -> dict[str, Any]:
    with ws.transaction("test.read", "test") as con:
        rows = con.execute("SELECT file_name, kind, approval_id, deleted_at FROM media_ledger WHERE direction = 'out'"
                           ).fetchall()
    return {r[0]: r for r in rows}


def _check_every_file_traceable(ws: Workspace) -> dict[str, Any]:
    ledger = _ledger(ws)
    for folder in ("outgoing", "return_lists"):
        for f in ws.folder(folder).iterdir():
            assert f.name in ledger and ledger[f.name][3] is None, f"untracked file {folder}/{f.name}"
    for name, row in ledger.items():
        if row[3] is None:
            assert any((ws.folder(d) / name).exists() for d in ("outgoing", "return_lists")), f"lost {name}"
    assert not [f for f in (ws.path / "staging").rglob("*") if f.is_file()], "staged leftovers"
    return ledger


@pytest.fixture
def loaded(world: StaffedWorkspace) -> StaffedWorkspace:
    pop = generate_world(300, seed=5)
    reg = np.zeros(len(pop.persons), dtype=bool)
    reg[::3] = True
    load_world(world.ws, pop.persons, pop.households, registered=reg)
    return world


@pytest.mark.parametrize("step", STEPS)
def test_collection_export_killed_at_each_step(loaded: StaffedWorkspace, tmp_path: Path, step: str) -> None:
    world = loaded
    s = world.login("registrar")
    approval = collection.request_collection_export(s)
    approvals.decide(world.login("approver"), approval.approval_id, approve=True)
    _kill_at(world.ws, tmp_path, step, world.clock.now(), "collection", approval.approval_id)

    ws = Workspace.open(world.ws.path, clock=world.clock)  # the sweep runs here
    ledger = _check_every_file_traceable(ws)
    status = approvals.get(world.login("registrar"), approval.approval_id).status
    committed = step in ("committed", "published")
    assert status == ("used" if committed else "approved")
    assert len(ledger) == (1 if committed else 0)
    if committed:
        (name,) = ledger
        path = ws.folder("outgoing") / name
        key, _ = media.recipient_key(ws, "collection_contractor")
        assert transfer.read_package(path, key=key).manifest.approval_id == approval.approval_id
    else:  # the approval is still good: the export can be made now
        result = collection.export_collection(world.login("registrar"), approval_id=approval.approval_id)
        assert result.path.exists() and result.path.parent == ws.folder("outgoing")
        _check_every_file_traceable(ws)


@pytest.mark.parametrize("step", ["written", "committed"])
def test_return_list_killed_before_and_after_commit(loaded: StaffedWorkspace, tmp_path: Path, step: str) -> None:
    import pandas as pd

    from workbench.files import formats
    with loaded.ws.transaction("test.read", "test") as con:
        ids = [r[0] for r in con.execute("SELECT person_id FROM persons ORDER BY person_id LIMIT 3").fetchall()]
    bad = pd.DataFrame({"person_id": ids, "individual_number": ["123456789012"] * 3, "identity_checked": "1",
                        "collected_on": "2026-05-01"})  # wrong check digits: all three are returned
    data = tmp_path / "return.csv"
    data.write_bytes(formats.write_table(bad, "contractor_return", encoding="utf-8"))
    _kill_at(loaded.ws, tmp_path, step, loaded.clock.now(), "registration", str(data))
    ws = Workspace.open(loaded.ws.path, clock=loaded.clock)
    ledger = _check_every_file_traceable(ws)
    assert [r[1] for r in ledger.values()] == (["return_list"] if step == "committed" else [])
    if step == "committed":
        assert len(list(ws.folder("return_lists").iterdir())) == 1


def test_untracked_files_are_swept_by_the_full_check(loaded: StaffedWorkspace) -> None:
    ws = loaded.ws
    stray = ws.folder("outgoing") / "collection_list-20260601T000000-deadbeef.wbpkg"
    stray.write_bytes(b"WBPKG not in the ledger")
    Workspace.open(ws.path, clock=loaded.clock)  # opening does no database work for it
    assert stray.exists()
    with pytest.raises(PermissionDenied):
        media.sweep(loaded.login("auditor"))
    assert media.sweep(loaded.login("registrar")) == {"untracked_removed": 1}
    assert not stray.exists()
    _check_every_file_traceable(ws)


CHILD_DELIVER = textwrap.dedent(
    """
    import datetime as dt, os, signal, sys
    from workbench import FixedClock, Session, Workspace, audit, media
    from workbench.core import workspace
    path, step, at, entry = sys.argv[1:5]
    now = dt.datetime.fromisoformat(at)
    ws = Workspace.open(path, clock=FixedClock(now))
    die = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
    if step == "withdrawn":        # the copy taken back, the deletion not committed
        real = workspace.Unit.withdraw
        def withdraw(self, current):
            real(self, current)
            die()
        workspace.Unit.withdraw = withdraw
    else:                          # the deletion committed, the copy not yet deleted
        workspace.Unit.committed = die
    media.mark_delivered(Session(ws, "registrar", ("registrar",), now), entry)
    """
)


@pytest.mark.parametrize("step", ["withdrawn", "committed"])
def test_delivery_killed_before_and_after_commit(loaded: StaffedWorkspace, tmp_path: Path, step: str) -> None:
    world = loaded
    a = collection.request_collection_export(world.login("registrar"))
    approvals.decide(world.login("approver"), a.approval_id, approve=True)
    done = collection.export_collection(world.login("registrar"), approval_id=a.approval_id)
    script = tmp_path / "deliver.py"
    script.write_text(CHILD_DELIVER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent.parent), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(script), str(world.ws.path), step, world.clock.now().isoformat(),
                           done.ledger_entry.entry_id], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    ws = Workspace.open(world.ws.path, clock=world.clock)
    ledger = _check_every_file_traceable(ws)
    delivered = ledger[done.path.name][3] is not None
    assert delivered == (step == "committed") and done.path.exists() == (not delivered)
