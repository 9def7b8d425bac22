"""Papermill pipeline runs: one-time tickets, counts-only notebooks, failures fail the run."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from workbench import Session, Workspace
from workbench.controls import users
from workbench.core import credentials
from workbench.core.errors import InvalidInput, PermissionDenied, SessionExpired
from workbench.core.store import Store
from workbench.cycles import pipeline_runs

pytestmark = pytest.mark.slow

PASSWORD = "Test-Pass-2026!"

#: A workspace on the real clock and how to log in to it as one of its users.
Live = tuple[Workspace, Callable[[str], Session]]


@pytest.fixture
def live(tmp_path: Path) -> Live:
    """A workspace on the real clock: the notebook's kernel checks the ticket's expiry."""
    ws = Workspace.init(tmp_path / "ws", scrypt_n=2**10)
    secret: dict[str, str] = {}
    for user_id, role in (("kansa", "auditor"), ("bunseki", "analyst")):
        uri = users.create_initial_user(ws, user_id, user_id, PASSWORD, [role]).otpauth_uri
        secret[user_id] = uri.split("secret=")[1].split("&")[0]

    def login(user_id: str) -> Session:
        return ws.login(user_id, PASSWORD, credentials.totp_code(secret[user_id], dt.datetime.now(dt.UTC)))

    return ws, login


def test_audit_check_runs_and_keeps_counts_only(live: Live) -> None:
    ws, login = live
    session = login("kansa")
    info = pipeline_runs.run(session, "audit_check")
    assert info.status == "succeeded" and info.notebook is not None
    executed = ws.path / info.notebook
    cells = json.loads(executed.read_text("utf-8"))["cells"]
    outputs = json.dumps([c.get("outputs") for c in cells], ensure_ascii=False)
    assert "'ok': True" in outputs
    assert not (executed.parent / "ticket").exists()
    with pytest.raises(SessionExpired):
        pipeline_runs.resume(ws, info.run_id)  # the ticket was used once and deleted


def test_tampered_log_fails_the_run(live: Live) -> None:
    ws, login = live
    session = login("kansa")
    with ws.lock.hold("test", "attacker"):
        con = Store.open_connection(ws.db_path, ws.keyring.database_key_hex())
        con.execute("UPDATE audit_log SET operation = 'x' WHERE seq = 2")
        con.close()
    with pytest.raises(InvalidInput) as err:
        pipeline_runs.run(session, "audit_check")
    assert "cell" in err.value.message_en
    assert pipeline_runs.runs(session)[0].status == "failed"


def test_requester_needs_the_pipelines_permission(live: Live) -> None:
    _, login = live
    with pytest.raises(PermissionDenied):
        pipeline_runs.run(login("bunseki"), "audit_check")
    with pytest.raises(InvalidInput):
        pipeline_runs.run(login("kansa"), "audit_check", {"name": "山田"})


def test_registration_cycle_from_files(tmp_path: Path) -> None:
    from workbench.simulate import generate_world
    from workbench.simulate.contractor import contractor_return
    from workbench.simulate.housing import target_extract

    ws = Workspace.init(tmp_path / "ws", scrypt_n=2**10)
    uri = users.create_initial_user(ws, "touroku", "touroku", PASSWORD, ["registrar"]).otpauth_uri
    secret = uri.split("secret=")[1].split("&")[0]
    session = ws.login("touroku", PASSWORD, credentials.totp_code(secret, dt.datetime.now(dt.UTC)))
    people = generate_world(300, seed=11)
    (tmp_path / "targets.csv").write_bytes(target_extract(people, seed=1))
    (tmp_path / "return.csv").write_bytes(contractor_return(people, seed=2, error_rate=0.1))
    info = pipeline_runs.run(session, "registration_cycle",
                    {"targets_file": str(tmp_path / "targets.csv"), "return_file": str(tmp_path / "return.csv")})
    assert info.status == "succeeded"
    assert info.notebook is not None
    text = (ws.path / info.notebook).read_text("utf-8")
    found = re.search(r"'new': (\d+)", text)
    assert found is not None, "no count of new numbers in the notebook"
    new = int(found.group(1))
    assert new > 250 and "'registered'" in text
    persons = people.persons
    leaked = [v for v in [*persons["individual_number"], *persons["person_id"], *persons["name"]] if v in text]
    assert not leaked, f"{len(leaked)} personal values in the executed notebook"


def test_query_retention_runs_for_the_query_operator(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws", scrypt_n=2**10)
    uri = users.create_initial_user(ws, "shoukai", "shoukai", PASSWORD, ["query_operator"]).otpauth_uri
    secret = uri.split("secret=")[1].split("&")[0]
    session = ws.login("shoukai", PASSWORD, credentials.totp_code(secret, dt.datetime.now(dt.UTC)))
    info = pipeline_runs.run(session, "query_retention", {"answer_deadline_days": "30"})
    assert info.status == "succeeded"
    assert info.notebook is not None
    text = (ws.path / info.notebook).read_text("utf-8")
    assert "'expired': 0" in text and "'batches_purged': 0" in text
