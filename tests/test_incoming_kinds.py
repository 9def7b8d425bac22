"""Inbound media under the same controls as outgoing (issue 22 item 3): the target list, the contractor's
return, the portal download and the deletion list come in through the one incoming path.

Each case of the issue, tried for every kind: the file was read as plain CSV from any path, was not in the
media ledger and stayed on disk after the import.  Now each is recorded in the media ledger once (who,
what, how many), its plain file is gone after the import, the same file again changes nothing, a refused
file leaves no ledger line and nothing imported, a package of another kind is refused as such, and a
person without the right is refused before anything is read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import StaffedWorkspace
from tests.lifecycle_helpers import deletion_csv
from workbench.core.errors import InvalidInput, NotFound, PackageError, PermissionDenied, WorkbenchError
from workbench.files import formats, incoming, media, transfer
from workbench.intake import registration, targets
from workbench.lifecycle import deletion
from workbench.simulate.contractor import contractor_return
from workbench.simulate.housing import target_extract
from workbench.simulate.portal import portal_download
from workbench.simulate.world import World as Population
from workbench.simulate.world import generate_world


@pytest.fixture(scope="module")
def pop() -> Population:
    return generate_world(60, seed=21)


@dataclass(frozen=True)
class Kind:
    kind: str
    #: The file as the sender gives it (plain), and one the kind refuses whole.
    good: Callable[[Population], bytes]
    bad: bytes
    #: What importing changes, as one tuple of counts (the same after a re-import or a refusal).
    state: str
    #: How many records the good file holds (the ledger's count).
    records: Callable[[Population], int]
    cli: tuple[str, ...]
    needs_targets: bool = True


def _people(pop: Population, n: int) -> list[str]:
    return [str(p) for p in pop.persons["person_id"].iloc[:n]]


KINDS = {
    "housing_targets": Kind(
        "housing_targets", lambda pop: target_extract(pop, seed=1),
        b"person_id,household_id\r\nP1,H1\r\n",
        "SELECT (SELECT count(*) FROM target_imports), (SELECT count(*) FILTER (WHERE listed) FROM persons)",
        lambda pop: len(pop.persons), ("targets", "import"), needs_targets=False),
    "contractor_return": Kind(
        "contractor_return", lambda pop: contractor_return(pop, seed=2, error_rate=0.2),
        b"person_id,individual_number,collected_on\r\nP1,1,2026-01-01\r\n",
        "SELECT (SELECT count(*) FROM person_numbers), (SELECT count(*) FROM registration_imports)",
        lambda pop: formats.read_table(contractor_return(pop, seed=2, error_rate=0.2), "contractor_return").rows,
        ("register", "--source", "contractor")),
    "portal_download": Kind(
        "portal_download", lambda pop: portal_download(pop, seed=3, persons=20, error_rate=0.2),
        b"submission_id,name\r\nS1,x\r\n",
        "SELECT (SELECT count(*) FROM person_numbers), (SELECT count(*) FROM registration_imports)",
        lambda pop: formats.read_table(portal_download(pop, seed=3, persons=20, error_rate=0.2), "portal_download").rows,
        ("register", "--source", "portal")),
    "deletion_list": Kind(
        "deletion_list", lambda pop: deletion_csv([(p, "moved_out") for p in _people(pop, 3)]),
        deletion_csv([("NOPE-1", "moved_out")]),
        "SELECT (SELECT count(*) FROM deletion_lists), (SELECT count(*) FROM deletion_list_members)",
        lambda pop: 3, ("deletion", "import")),
}
USERS = {"housing_targets": "registrar", "contractor_return": "registrar", "portal_download": "registrar",
         "deletion_list": "registrar"}


def _read(world: StaffedWorkspace, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with world.ws.transaction("test.read", "test") as con:
        return con.execute(sql, params or []).fetchall()


def _ledger(world: StaffedWorkspace, kind: str) -> list[tuple[Any, ...]]:
    return _read(world, "SELECT direction, user_id, record_count, recipient, file_name, deleted_at IS NOT NULL"
                        " FROM media_ledger WHERE kind = ? ORDER BY recorded_at", [kind])


def _with_targets(world: StaffedWorkspace, pop: Population) -> None:
    targets.import_targets(world.login("registrar"), target_extract(pop, seed=1), file_name="t.csv")


def _package(world: StaffedWorkspace, path: Path, kind: str, sender: str, body: bytes, rows: int) -> Path:
    """A package as the sender makes it with its key file."""
    key, key_id = media.recipient_key(world.ws, sender)
    transfer.write_package(path, key=key, key_id=key_id, kind=kind, recipient="housing_office",
                           members=[(f"{kind}.csv", body)], record_count=rows, creator=sender,
                           workspace_id=world.ws.settings.workspace_id)
    return path


@pytest.mark.parametrize("name", list(KINDS))
def test_each_kind_comes_in_through_the_one_path(world: StaffedWorkspace, pop: Population, name: str,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    k = KINDS[name]
    spec = incoming.spec_for(k.kind)
    if k.needs_targets:
        _with_targets(world, pop)
    user = USERS[name]
    folder = world.ws.folder("incoming")
    data = k.good(pop)
    before = _read(world, k.state)

    # a person without the right is refused before anything is read; the file stays, nothing recorded
    plain = folder / f"{name}.csv"
    plain.write_bytes(data)
    with pytest.raises(PermissionDenied):
        incoming.receive(world.login("auditor"), str(plain), kinds=(k.kind,))
    assert plain.exists() and _ledger(world, k.kind) == [] and _read(world, k.state) == before

    # a file the kind refuses whole: a clear reason, no ledger line, nothing imported, the file left where it was
    bad = folder / f"{name}-bad.csv"
    bad.write_bytes(k.bad)
    with pytest.raises(WorkbenchError) as refused:
        incoming.receive(world.login(user), str(bad), kinds=(k.kind,))
    assert refused.value.message_ja and refused.value.message_en and refused.value.details["reason"]
    assert bad.exists() and _ledger(world, k.kind) == [] and _read(world, k.state) == before

    # a package of another kind, through this kind's import: refused as what it is
    other = _package(world, folder / "other.wbpkg", "integrated_answer", "linkage_server", b"x", 1)
    with pytest.raises(PackageError) as wrong:
        incoming.import_file(world.login(user), k.kind, str(other))
    assert wrong.value.details["reason"] == "wrong_kind" and "integrated_answer" in wrong.value.message_en
    assert _ledger(world, k.kind) == []

    # the preview writes nothing; the import (the CLI command of old, same name) is in the ledger once, and
    # the plain file is gone
    code, seen, err = world.cli(monkeypatch, capsys, user, *k.cli, str(plain), "--preview")
    assert code == 0, err
    assert seen["kind"] == k.kind and seen["count"] == k.records(pop) and seen["sender"] == spec.sender
    assert plain.exists() and _ledger(world, k.kind) == [] and _read(world, k.state) == before
    code, done, err = world.cli(monkeypatch, capsys, user, *k.cli, str(plain))
    assert code == 0, err
    assert done["incoming_kind"] == k.kind and done["disposal"]["action"] == "deleted" and not plain.exists()
    after = _read(world, k.state)
    assert after != before
    assert _ledger(world, k.kind) == [("in", user, k.records(pop), spec.sender, plain.name, True)]

    # the same file again: nothing changes, no second ledger line, and its copy is taken away too
    plain.write_bytes(data)
    again = incoming.receive(world.login(user), str(plain), kinds=(k.kind,))
    assert getattr(again.result, "already_imported", False) and not plain.exists()
    assert _read(world, k.state) == after and len(_ledger(world, k.kind)) == 1


def test_a_package_is_accepted_where_the_sender_can_make_one(world: StaffedWorkspace, pop: Population) -> None:
    """The housing system (target list, deletion list) and the contractor hold key files: their packages are
    opened with that key, recorded with the package's ID, and moved to incoming/done/ after the import."""
    folder = world.ws.folder("incoming")
    registrar = world.login("registrar")
    path = _package(world, folder / "targets.wbpkg", "housing_targets", "housing_system", target_extract(pop, seed=1),
                    len(pop.persons))
    receipt = incoming.receive(registrar, str(path), kinds=(targets.SPEC.kind,))
    assert receipt.result.applied and receipt.result.new == len(pop.persons)
    assert receipt.disposal is not None and receipt.disposal["action"] == "moved" and not path.exists()
    assert (folder / "done" / "targets.wbpkg").exists()
    body = contractor_return(pop, seed=5, error_rate=0.1)
    path = _package(world, folder / "return.wbpkg", "contractor_return", "collection_contractor", body, 1)
    summary = registration.register(world.login("registrar"), path.read_bytes(), source="contractor",
                                    file_name="return.wbpkg")
    assert summary.outcomes["registered"] > 0
    path = _package(world, folder / "del.wbpkg", "deletion_list", "housing_system",
                    deletion_csv([(p, "withdrew") for p in _people(pop, 2)]), 2)
    listed = deletion.import_deletion_list(world.login("registrar"), str(path))
    assert listed.persons == 2 and listed.by_reason == {"withdrew": 2}
    ledger = {(k, n) for k, n in _read(world, "SELECT kind, record_count FROM media_ledger WHERE direction = 'in'")}
    assert ledger == {("housing_targets", len(pop.persons)), ("contractor_return", summary.rows), ("deletion_list", 2)}
    # a package made with another sender's key does not open
    forged = _package(world, folder / "forged.wbpkg", "deletion_list", "collection_contractor",
                      deletion_csv([(p, "withdrew") for p in _people(pop, 4)]), 4)
    with pytest.raises(PackageError):
        deletion.import_deletion_list(world.login("registrar"), str(forged))


def test_the_portal_download_comes_as_the_plain_file_only(world: StaffedWorkspace, pop: Population) -> None:
    """The portal makes no package (no key file is ever issued for it): one that claims to be a portal download is
    refused with that reason; a package of another kind is refused as the other kind."""
    _with_targets(world, pop)
    with pytest.raises(PackageError) as wrong:
        # whoever made it, a package is not how a portal download comes
        key, key_id = media.recipient_key(world.ws, "collection_contractor")
        path = world.ws.folder("incoming") / "portal.wbpkg"
        transfer.write_package(path, key=key, key_id=key_id, kind="portal_download", recipient="housing_office",
                               members=[("p.csv", portal_download(pop, seed=3, persons=5))], record_count=5,
                               creator="x", workspace_id=world.ws.settings.workspace_id)
        registration.register(world.login("registrar"), str(path), source="portal")
    assert wrong.value.details["reason"] == "package_not_expected" and "パッケージでは受け付けません" in wrong.value.message_ja
    assert "my_number_portal" not in media.RECIPIENTS  # no key file can be issued for it
    assert _ledger(world, "portal_download") == []


def test_an_upload_keeps_nothing_and_the_medium_copy_is_confirmed(world: StaffedWorkspace, pop: Population) -> None:
    """On a screen the file is an upload: nothing of it is written on the server; the person deletes the copy on
    the medium and confirms it, and the media ledger records when (once, by someone with the kind's right)."""
    data = target_extract(pop, seed=1)
    registrar = world.login("registrar")
    seen = targets.preview_targets(registrar, data, file_name="t.csv")
    with pytest.raises(NotFound):  # nothing imported yet: nothing to record
        incoming.confirm_destroyed(registrar, "housing_targets", seen.reference)
    targets.import_targets(registrar, data, file_name="t.csv", expected_digest=seen.file_digest)
    assert not any(world.ws.folder("incoming").iterdir())
    assert _ledger(world, "housing_targets") == [("in", "registrar", len(pop.persons), "housing_system", "t.csv", False)]
    assert incoming.reference_of(data) == seen.reference
    with pytest.raises(PermissionDenied):
        incoming.confirm_destroyed(world.login("query_operator"), "housing_targets", seen.reference)
    done = incoming.confirm_destroyed(world.login("registrar"), "housing_targets", seen.reference)
    assert done["action"] == "confirmed_destroyed" and done["message_ja"]
    assert _ledger(world, "housing_targets")[0][-1] is True
    with pytest.raises(InvalidInput) as twice:
        incoming.confirm_destroyed(world.login("registrar"), "housing_targets", seen.reference)
    assert twice.value.details["reason"] == "already_recorded"
    # another file than the one previewed is refused by the import, whatever the screen did
    with pytest.raises(InvalidInput) as other:
        targets.import_targets(world.login("registrar"), target_extract(pop, seed=2), file_name="t.csv",
                               expected_digest=seen.file_digest)
    assert other.value.details["reason"] == "not_previewed"
    # an option the kind does not know is refused, never ignored
    with pytest.raises(InvalidInput) as unknown:
        targets.import_targets(world.login("registrar"), data, file_name="t.csv", confirm=True)
    assert unknown.value.details["reason"] == "unknown_option"
