"""Recipient key files and reading one's own packages (issue 10 item 5): a key file needs
a second person's approval, is recorded, and is issued once per recipient and key version;
unpacking the workspace's own package from inside the workspace is audited."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.controls import audit_log
from workbench.core import approvals, credentials, rotation
from workbench.core.errors import ApprovalError, PackageError, PermissionDenied
from workbench.core.workspace import Unit
from workbench.files import media

from .conftest import PASSWORD, StaffedWorkspace


def _issue(world: StaffedWorkspace, recipient: str, path: Path) -> dict[str, object]:
    ops = world.login("operations")
    request = media.request_key_file(ops, recipient)
    approvals.decide(world.login("approver"), request.approval_id, approve=True)
    return media.issue_key_file(ops, recipient, str(path), approval_id=request.approval_id)


def test_operations_cannot_issue_a_key_file_without_approval(world: StaffedWorkspace, tmp_path: Path) -> None:
    ops = world.login("operations")
    with pytest.raises(ApprovalError):
        media.issue_key_file(ops, "linkage_server", str(tmp_path / "k.key"))
    request = media.request_key_file(ops, "linkage_server")
    assert request.kind == "key_file" and request.summary == {"recipient": "linkage_server", "key_version": 1}
    with pytest.raises(ApprovalError):  # asked, not yet approved
        media.issue_key_file(ops, "linkage_server", str(tmp_path / "k.key"), approval_id=request.approval_id)
    with pytest.raises(PermissionDenied):  # operations cannot approve, not even its own
        approvals.decide(ops, request.approval_id, approve=True)
    assert not (tmp_path / "k.key").exists()
    with pytest.raises(PackageError):
        media.request_key_file(ops, "../../etc/passwd")


def test_a_key_file_is_recorded_and_issued_once_per_key_version(world: StaffedWorkspace, tmp_path: Path) -> None:
    issued = _issue(world, "linkage_server", tmp_path / "first.key")
    assert (tmp_path / "first.key").stat().st_mode & 0o777 == 0o600
    assert issued["key_version"] == 1
    ops = world.login("operations")
    with pytest.raises(PackageError) as err:
        media.request_key_file(ops, "linkage_server")
    assert err.value.details["reason"] == "already_issued"
    hits = audit_log.search(world.login("auditor"), operation="media.issue_key_file", outcome="ok")
    assert len(hits) == 1 and json.loads(hits[0]["params"])["recipient"] == "linkage_server"
    _issue(world, "juki_net", tmp_path / "juki.key")  # another recipient is another key
    rotation.rotate(world.login("operations"))  # a new key version: one new key file each
    assert _issue(world, "linkage_server", tmp_path / "second.key")["key_version"] == 2


def test_the_same_approval_cannot_write_a_second_copy(world: StaffedWorkspace, tmp_path: Path) -> None:
    ops = world.login("operations")
    request = media.request_key_file(ops, "housing_system")
    approvals.decide(world.login("approver"), request.approval_id, approve=True)
    media.issue_key_file(ops, "housing_system", str(tmp_path / "a.key"), approval_id=request.approval_id)
    with pytest.raises(PackageError):
        media.issue_key_file(ops, "housing_system", str(tmp_path / "b.key"), approval_id=request.approval_id)
    assert not (tmp_path / "b.key").exists()


def _outgoing(world: StaffedWorkspace) -> Path:
    session = world.login("registrar")
    with world.ws.transaction("test.package", session.user_id) as con:
        unit = Unit(con=con, session=session, now=world.clock.now())
        _, path = media.write_outgoing(unit, kind="integrated_request", recipient="linkage_server",
                                       members=[("request.csv", b"request_id\r\nR1\r\n")], record_count=1,
                                       approval_id=None)
    unit.committed()  # what a service's unit of work does after its commit: publish (issue 10 item 2)
    return path


def _cli_as(world: StaffedWorkspace, monkeypatch: pytest.MonkeyPatch, user: str, *argv: str) -> int:
    monkeypatch.setenv("WORKBENCH_USER", user)
    monkeypatch.setenv("WORKBENCH_PASSWORD", PASSWORD)
    monkeypatch.setenv("WORKBENCH_TOTP", credentials.totp_code(world.secrets[user], dt.datetime.now(dt.UTC)))
    return main(list(argv))


def test_unpacking_the_workspaces_own_package_inside_it_is_audited(
    world: StaffedWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    package = _outgoing(world)
    keyfile = tmp_path / "linkage.key"
    _issue(world, "linkage_server", keyfile)
    # Operations (no personal data) tries to read the package where it lies: refused, audited, nothing written.
    code = _cli_as(world, monkeypatch, "operations", "package", "unpack", str(package), "--key", str(keyfile),
                   "--out", str(tmp_path / "ops"))
    assert code == 4 and "permission_denied" in capsys.readouterr().err
    assert not (tmp_path / "ops").exists()
    # With the workspace named, a copy taken elsewhere is still this workspace's package.
    copy = tmp_path / "copy.wbpkg"
    shutil.copy(package, copy)
    monkeypatch.setenv("WORKBENCH_WORKSPACE", str(world.ws.path))
    code = _cli_as(world, monkeypatch, "registrar", "package", "unpack", str(copy), "--key", str(keyfile),
                   "--out", str(tmp_path / "reg"))
    assert code == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["audited_in"] == str(world.ws.path)
    assert (tmp_path / "reg" / "request.csv").exists()
    auditor = world.login("auditor")
    hits = audit_log.search(auditor, operation="media.unpack_own")
    assert [h["outcome"] for h in hits] == ["ok", "denied"]
    assert json.loads(hits[0]["params"])["records"] == 1


def test_the_receiving_side_needs_no_workspace(world: StaffedWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = _outgoing(world)
    keyfile = tmp_path / "linkage.key"
    _issue(world, "linkage_server", keyfile)
    elsewhere = tmp_path / "receiver"
    elsewhere.mkdir()
    shutil.copy(package, elsewhere / package.name)
    monkeypatch.delenv("WORKBENCH_WORKSPACE", raising=False)
    monkeypatch.chdir(elsewhere)
    assert main(["package", "unpack", str(elsewhere / package.name), "--key", str(keyfile),
                 "--out", str(elsewhere / "out")]) == 0
