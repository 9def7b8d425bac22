"""Pipelines as clients of the data server (issue 19 item 2): while a server owns the workspace, a
pipeline run is handed to it and runs beside everything else; its notebook's kernel redeems the run
ticket over the channel, holds no workspace path and no key-encryption key's place, and calls every
service remotely.  (Without a server the same notebooks open the workspace: test_pipelines.py and
test_cycle_pipelines.py.)"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import StaffedWorkspace, remote_login
from tests.cycle_helpers import kernels_of, make_batch_account
from workbench import pending
from workbench.controls import batch_accounts
from workbench.core import channel
from workbench.core.errors import SessionExpired
from workbench.core.keys import KEK_ENV
from workbench.cycles import engine, pipeline_runs
from workbench.web.dataserver import DataServer

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("runtime")]


def test_a_pipeline_notebook_is_a_client_of_the_server(world: StaffedWorkspace, server: DataServer) -> None:
    session = remote_login(world, "auditor")
    info = pipeline_runs.run(session, "audit_check")  # handed to the server, which runs Papermill
    assert info.status == "succeeded"
    executed = world.ws.path / str(info.notebook)
    book = json.loads(executed.read_text("utf-8"))
    text = json.dumps(book, ensure_ascii=False)
    assert "'ok': True" in text
    # The parameters carry the run's ID only: no workspace path (the kernel never had one).
    injected = next(c for c in book["cells"] if "injected-parameters" in c.get("metadata", {}).get("tags", []))
    cells = json.dumps(book["cells"], ensure_ascii=False)  # (Papermill's own metadata names the output file)
    assert "workspace = \"\"" in "".join(injected["source"]) and str(world.ws.path) not in cells
    assert sorted(p.name for p in executed.parent.iterdir()) == ["audit_check.ipynb"]  # no ticket file
    # The kernel redeemed its ticket over the channel: at the server, once.
    with world.ws.transaction("test.read", "test", writes=False) as con:
        resumed = con.execute("SELECT outcome FROM audit_log WHERE operation = 'pipeline.resume'").fetchall()
    assert resumed == [("ok",)]
    with pytest.raises(SessionExpired):
        channel.connect_server(server.path).pipeline("", info.run_id)


def test_a_cycle_runs_beside_the_office_and_its_kernel_holds_no_secret(
        world: StaffedWorkspace, server: DataServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    admin, approver = world.login("administrator"), world.login("approver")
    key = make_batch_account(world, admin, approver, "night", "nightly", tmp_path / "night.key")
    monkeypatch.setenv(engine.PAUSE_ENV, "expire")  # the kernel inherits it from the runner (the server)
    monkeypatch.setenv(engine.PAUSE_ENV + "_SECONDS", "6")
    conn = channel.connect(world.ws.path)
    assert isinstance(conn, channel.Remote)
    night = conn.batch_login(batch_accounts.read_key(str(key)))
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["info"] = pipeline_runs.run(night, "nightly")
        except Exception as exc:  # pragma: no cover - shown by the assertion below
            outcome["error"] = exc

    runner = threading.Thread(target=run)
    runner.start()
    try:
        deadline = time.monotonic() + 120
        kernels: list[int] = []
        while time.monotonic() < deadline and not kernels and runner.is_alive():
            time.sleep(0.3)
            kernels = kernels_of(os.getpid())  # the runner is the server: this test's process
        assert kernels, "the notebook's kernel did not start"
        environ = Path(f"/proc/{kernels[0]}/environ").read_bytes().split(b"\0")
        names = {e.split(b"=", 1)[0].decode() for e in environ if e}
        assert channel.SERVER_ENV in names
        assert not names & {"WORKBENCH_WORKSPACE", KEK_ENV, "CREDENTIALS_DIRECTORY"}, names
        assert not any(str(world.ws.path).encode() in e for e in environ)
        cwd = os.readlink(f"/proc/{kernels[0]}/cwd")
        assert not cwd.startswith(str(world.ws.path))
        # The run is not a job alone: a clerk's read is answered while the stage waits.
        reviewer = remote_login(world, "reviewer")
        started = time.monotonic()
        pending.pending_work(reviewer)
        assert time.monotonic() - started < 3.0
        assert runner.is_alive(), "the stage's pause ended before the read was tried"
    finally:
        runner.join(timeout=300)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["info"].status == "succeeded"
    assert not kernels_of(os.getpid())


def test_the_new_ways_in_refuse_garbage_and_the_wrong_people(world: StaffedWorkspace, server: DataServer) -> None:
    from workbench.core.errors import InvalidInput, PermissionDenied
    from workbench.cycles import catalogue
    from workbench.lifecycle import deletion

    auditor = remote_login(world, "auditor")
    with pytest.raises(InvalidInput) as bad:  # a run's ticket hash is a SHA-256 or nothing
        pipeline_runs.start(auditor, "audit_check", {}, ticket_hash="not-a-hash")
    assert bad.value.reason == "bad_ticket_hash"
    with pytest.raises(InvalidInput) as kind:  # only the known kinds of answer package
        catalogue.import_packages(remote_login(world, "query_operator"), "../../keyring")
    assert kind.value.reason == "unknown_kind"
    with pytest.raises(PermissionDenied):  # the count of deletions waiting is for who applies the retention rules
        deletion.pending_purge(auditor)
    assert deletion.pending_purge(remote_login(world, "operations")) == 0
    for ticket, run_id in (("", ""), ("x" * 5000, "R" + "0" * 11), ("🙂", "../runs")):
        with pytest.raises(SessionExpired):
            channel.connect_server(server.path).pipeline(ticket, run_id)
