"""File modes (issue 10, item 8): every file a workspace holds is 0600 and every folder 0700 from
the moment it is created — database and its WAL, heads, holder, settings, packages, return lists,
pipeline runs and executed notebooks — and so are the files and folder `package unpack` writes,
whatever the umask the process was started with."""

from __future__ import annotations

import datetime as dt
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench import Session, Workspace
from workbench.cli import main
from workbench.controls import users
from workbench.core import approvals, credentials
from workbench.core.store import Store
from workbench.cycles import pipeline_runs
from workbench.files import formats, media, transfer
from workbench.intake import collection, registration, targets
from workbench.simulate.contractor import contractor_return
from workbench.simulate.housing import target_extract
from workbench.simulate.world import generate_world

PASSWORD = "Test-Pass-2026!"


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """Start as a careless shell would: umask 022 (files 0644, folders 0755)."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _modes(root: Path) -> dict[str, str]:
    """Every path under ``root`` (and root itself) whose mode is not 0600 (files) / 0700 (folders)."""
    wrong = {}
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        want = 0o700 if path.is_dir() else 0o600
        if mode != want:
            wrong[str(path.relative_to(root.parent))] = oct(mode)
    return wrong


def test_every_file_0600_every_folder_0700(tmp_path: Path, loose_umask: None, capsys: pytest.CaptureFixture[str]) -> None:
    ws = Workspace.init(tmp_path / "ws", scrypt_n=2**10)
    secret = {}
    for user_id, role in (("registrar", "registrar"), ("approver", "approver"), ("auditor", "auditor")):
        uri = users.create_initial_user(ws, user_id, user_id, PASSWORD, [role]).otpauth_uri
        secret[user_id] = uri.split("secret=")[1].split("&")[0]

    def login(user_id: str) -> Session:
        return ws.login(user_id, PASSWORD, credentials.totp_code(secret[user_id], dt.datetime.now(dt.UTC)))

    pop = generate_world(80, seed=4)
    registrar = login("registrar")
    targets.import_targets(registrar, target_extract(pop, seed=1), file_name="t.csv")
    summary = registration.register(registrar, contractor_return(pop, seed=2, error_rate=0.3), source="contractor",
                                    file_name="r.csv")
    assert summary.return_list_path
    a = collection.request_collection_export(registrar)
    approvals.decide(login("approver"), a.approval_id, approve=True)
    exported = collection.export_collection(registrar, approval_id=a.approval_id)
    info = pipeline_runs.run(login("auditor"), "audit_check")
    assert info.status == "succeeded" and info.notebook is not None and (ws.path / info.notebook).exists()
    # the database's WAL while a connection is open after a commit, and the holder file meanwhile
    with ws.lock.hold("test.write", "test"):
        con = Store.open_connection(ws.db_path, ws.keyring.database_key_hex(), ws.path / "tmp")
        try:
            con.execute("CREATE TABLE _wal_probe AS SELECT range AS x FROM range(1000)")
            wal = ws.db_path.with_name(ws.db_path.name + ".wal")
            assert wal.exists() and ws.lock.holder_path.exists()
            inside = _modes(ws.path)
        finally:
            con.close()
    assert inside == {}
    assert _modes(ws.path) == {}

    # the receiving side: `package unpack` writes its folder 0700 and every member 0600 from the start
    key, key_id = media.recipient_key(ws, "collection_contractor")
    keyfile = tmp_path / "contractor.key"
    transfer.write_keyfile(keyfile, recipient="collection_contractor", key=key, key_id=key_id)
    out = tmp_path / "received" / "list"
    handed_over = tmp_path / "medium" / exported.path.name  # as the contractor receives it, outside the workspace
    handed_over.parent.mkdir()
    handed_over.write_bytes(exported.path.read_bytes())
    assert main(["package", "unpack", str(handed_over), "--key", str(keyfile), "--out", str(out)]) == 0, capsys.readouterr().err
    assert _modes(out) == {}
    assert stat.S_IMODE(out.parent.stat().st_mode) == 0o700
    assert formats.read_table((out / collection.MEMBER_NAME).read_bytes(), "collection_list").rows == exported.record_count


def test_an_older_workspace_is_tightened_on_open(tmp_path: Path, loose_umask: None) -> None:
    ws = Workspace.init(tmp_path / "ws", scrypt_n=2**10)
    for path in (ws.path / "workspace.json", ws.db_path, ws.path / "db"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    Workspace.open(ws.path)
    assert _modes(ws.path) == {}
