"""Masked numbers and audited reveals; transfer packages and the media ledger (C9)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.direct_load import load_world
from workbench.cli import main
from workbench.controls import audit_log
from workbench.core import approvals
from workbench.core.errors import PackageError, PermissionDenied
from workbench.core.workspace import Unit
from workbench.files import media, transfer
from workbench.intake import persons
from workbench.simulate import generate_world

from .conftest import StaffedWorkspace


@pytest.fixture
def people(world: StaffedWorkspace) -> pd.DataFrame:
    people = generate_world(30, seed=5)
    registered = np.arange(len(people.persons)) % 2 == 0
    load_world(world.ws, people.persons, people.households, registered=registered)
    return people.persons


def test_number_masked_unless_revealed_and_reveal_audited(world: StaffedWorkspace, people: pd.DataFrame) -> None:
    row = people.iloc[0]
    reviewer = world.login("reviewer")
    view = persons.get(reviewer, row["person_id"])
    assert view.number_masked == "********" + row["individual_number"][-4:]
    assert row["individual_number"] not in str(view.to_dict())
    assert persons.reveal_number(reviewer, row["person_id"]) == row["individual_number"]
    with pytest.raises(PermissionDenied):
        persons.reveal_number(world.login("query_operator"), row["person_id"])
    hits = audit_log.search(world.login("auditor"), target=row["person_id"], operation="persons.reveal_number")
    assert [h["outcome"] for h in hits] == ["denied", "ok"]


def _package(world: StaffedWorkspace, tmp_path: Path) -> tuple[media.LedgerEntry, Path]:
    session = world.login("registrar")
    units: list[Unit] = []
    with world.ws.transaction("test.package", session.user_id, after_commit=lambda: units[0].committed()) as con:
        units.append(Unit(con=con, session=session, now=world.clock.now()))
        written = media.write_outgoing(units[0], kind="collection_list", recipient="collection_contractor",
                                       members=[("list.csv", b"person_id\r\nP1\r\n")], record_count=1,
                                       approval_id=None)
        assert not written[1].exists()  # published only after the commit
    assert written[1].exists()
    return written


def _key_file(world: StaffedWorkspace, recipient: str, path: Path) -> None:
    ops = world.login("operations")
    request = media.request_key_file(ops, recipient)
    approvals.decide(world.login("approver"), request.approval_id, approve=True)
    media.issue_key_file(ops, recipient, str(path), approval_id=request.approval_id)


def test_outgoing_package_is_in_the_ledger_and_opens_with_the_key_file(world: StaffedWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    entry, path = _package(world, tmp_path)
    entries = media.ledger(world.login("auditor"))
    assert [e.entry_id for e in entries] == [entry.entry_id]
    assert entries[0].record_count == 1 and entries[0].recipient == "collection_contractor"
    keyfile = tmp_path / "contractor.key"
    _key_file(world, "collection_contractor", keyfile)
    handed_over = tmp_path / "media"  # the receiving side opens a copy, outside the workspace
    handed_over.mkdir()
    path = Path(shutil.copy(path, handed_over))
    assert main(["package", "unpack", str(path), "--key", str(keyfile), "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "list.csv").read_bytes() == b"person_id\r\nP1\r\n"
    assert not (tmp_path / "out" / "ledger.jsonl").exists()  # the ledger is never inside --out unless named
    ledger = (tmp_path / "received-ledger.jsonl").read_text("utf-8").splitlines()
    assert len(ledger) == 1 and '"record_count": 1' in ledger[0]
    other = tmp_path / "juki.key"
    _key_file(world, "juki_net", other)
    assert main(["package", "unpack", str(path), "--key", str(other), "--out", str(tmp_path / "x")]) == 8
    assert "wrong_key" in capsys.readouterr().err


def test_delivered_copy_is_deleted_and_recorded(world: StaffedWorkspace, tmp_path: Path) -> None:
    entry, path = _package(world, tmp_path)
    done = media.mark_delivered(world.login("registrar"), entry.entry_id)
    assert done.deleted_at is not None and not path.exists()
    with pytest.raises(PackageError):
        media.mark_delivered(world.login("registrar"), entry.entry_id)


def test_damaged_package_is_refused(world: StaffedWorkspace, tmp_path: Path) -> None:
    _, path = _package(world, tmp_path)
    data = bytearray(path.read_bytes())
    data[-20] ^= 1
    bad = tmp_path / "bad.wbpkg"
    bad.write_bytes(bytes(data))
    key, _ = media.recipient_key(world.ws, "collection_contractor")
    with pytest.raises(PackageError):
        transfer.read_package(bad, key=key)
