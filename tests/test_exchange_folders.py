"""Files named by a client of the data server (issue 19): the server reads and writes them with its own
rights (it can read the workspace, the keyring and the key-encryption key), so over the channel a
path in a service argument must lie in an exchange folder (:mod:`workbench.core.exchange`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import StaffedWorkspace, remote_login
from workbench.controls import audit_log
from workbench.core import exchange
from workbench.core.errors import InvalidInput
from workbench.core.keys import KEK_ENV
from workbench.cycles import pipeline_runs
from workbench.lifecycle import backup
from workbench.web.dataserver import DataServer


@pytest.fixture(autouse=True)
def no_exchange_setting(runtime: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(exchange.EXCHANGE_ENV, raising=False)


def refused(call: object) -> InvalidInput:
    with pytest.raises(InvalidInput) as err:
        call()  # type: ignore[operator]
    assert err.value.reason == "path_not_allowed", err.value.message_en
    assert "受け渡しフォルダー" in err.value.message_ja and "exchange folders" in err.value.message_en
    return err.value


def test_a_client_names_files_only_in_the_exchange_folders(world: StaffedWorkspace, server: DataServer, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    auditor = remote_login(world, "auditor")
    ws = world.ws
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    # Anywhere the server could write: refused, and nothing is written.
    refused(lambda: audit_log.anchor(auditor, to=str(outside / "anchor.txt")))
    assert not (outside / "anchor.txt").exists()
    # The key-encryption key, the keyring, the settings, the database: refused, whichever way they are named.
    refused(lambda: audit_log.verify(auditor, anchor=os.environ[KEK_ENV]))
    for inside in (ws.path / "keyring.json", ws.path / "workspace.json", ws.path / "db" / "workbench.duckdb",
                   ws.path / "incoming" / ".." / "keyring.json"):
        refused(lambda p=inside: audit_log.verify(auditor, anchor=str(p)))
    link = ws.path / "incoming" / "looks-harmless"
    link.symlink_to(ws.path / "keyring.json")
    refused(lambda: audit_log.verify(auditor, anchor=str(link)))
    # Relative paths and garbage.
    refused(lambda: audit_log.anchor(auditor, to="anchor.txt"))
    refused(lambda: audit_log.anchor(auditor, to="~/anchor.txt"))
    refused(lambda: audit_log.anchor(auditor, to=""))
    # A folder the operators named for the server is allowed (the share where anchors are kept).
    monkeypatch.setenv(exchange.EXCHANGE_ENV, str(outside))
    done = audit_log.anchor(auditor, to=str(outside / "anchor.txt"))
    assert done["anchored"] is True and (outside / "anchor.txt").exists()
    # A symbolic link in the named folder that leads out of it is refused again.
    (outside / "escape").symlink_to(tmp_path)
    refused(lambda: audit_log.anchor(auditor, to=str(outside / "escape" / "anchor.txt")))


def test_jobs_and_pipeline_parameters_are_limited_too(world: StaffedWorkspace, server: DataServer, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    operations = remote_login(world, "operations")
    refused(lambda: backup.backup(operations, str(tmp_path / "backup")))
    assert not (tmp_path / "backup").exists()
    registrar = remote_login(world, "registrar")
    secret = tmp_path / "secret.csv"
    secret.write_text("x", "utf-8")
    err = refused(lambda: pipeline_runs.run(registrar, "registration_cycle", {"return_file": str(secret)}))
    assert err.details["argument"] == "return_file"
    with world.ws.transaction("test.read", "test", writes=False) as con:
        assert con.execute("SELECT count(*) FROM pipeline_runs").fetchone() == (0,)  # refused before anything
    monkeypatch.setenv(exchange.EXCHANGE_ENV, str(tmp_path / "backups"))
    (tmp_path / "backups").mkdir(mode=0o700)
    out = backup.backup(operations, str(tmp_path / "backups" / "b1"))
    assert out  # the job ran, alone, and the server went on
    assert remote_login(world, "reviewer").user_id == "reviewer"


def test_an_embedded_caller_is_not_limited(world: StaffedWorkspace, tmp_path: Path) -> None:
    """Without a server the caller is the operator's own process, with its own rights."""
    auditor = world.login("auditor")
    done = audit_log.anchor(auditor, to=str(tmp_path / "anchor.txt"))
    assert done["anchored"] is True


def test_every_argument_that_names_a_file_is_declared() -> None:
    """A service or job taking a ``Path`` must say so (``paths=``), or the server would read or write
    the client's path with its own rights, unchecked."""
    import inspect

    from workbench.core.composites import COMPOSITES, PATH_ARGUMENTS
    from workbench.core.workspace import SERVICES

    jobs = [(name, info.function) for name, info in SERVICES.items()] + list(COMPOSITES.items())
    undeclared = [f"{name}({param.name})" for name, fn in jobs
                  for param in list(inspect.signature(fn).parameters.values())[1:]
                  if "Path" in str(param.annotation) and param.name not in PATH_ARGUMENTS.get(name, ())]
    assert undeclared == []
    assert PATH_ARGUMENTS["incoming.dispose"] == ("path",)  # a str that names a file: declared by hand
