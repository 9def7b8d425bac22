"""Workspace, store, keyring, login and session (issue 2: items 3, 4, 5, 8)."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import duckdb
import pytest

from workbench import Workspace
from workbench.controls import users
from workbench.core.errors import (
    AccountDisabled,
    AuthenticationFailed,
    KeyringError,
    SessionExpired,
    StoreError,
    WrongKey,
)
from workbench.core.keys import FileKeySource, Keyring

from .conftest import PASSWORD, StaffedWorkspace


def test_init_lays_out_one_folder(world: StaffedWorkspace) -> None:
    root = world.ws.path
    for name in Workspace.DIRS:
        assert (root / name).is_dir()
    assert (root / "workspace.json").exists()
    keyring = root / "keyring.json"
    assert stat.S_IMODE(keyring.stat().st_mode) == 0o600
    assert world.ws.db_path.exists() and world.ws.db_path.parent == root / "db"


def test_database_is_encrypted_at_rest(world: StaffedWorkspace) -> None:
    with pytest.raises(duckdb.Error):
        duckdb.connect(str(world.ws.db_path), read_only=True).execute("SELECT * FROM users").fetchall()


def test_reopen_runs_no_migration_twice(world: StaffedWorkspace) -> None:
    again = Workspace.open(world.ws.path, clock=world.clock)
    assert again.store.migrate() == []


def test_wrong_keyring_is_refused(world: StaffedWorkspace, tmp_path: Path) -> None:
    other = Keyring.create(world.ws.settings.workspace_id)
    source = FileKeySource(tmp_path / "other-keyring.json")
    other.save(source)
    with pytest.raises(WrongKey) as err:
        Workspace.open(world.ws.path, key_source=source)
    assert "鍵" in err.value.message_ja


def test_damaged_keyring_is_refused(world: StaffedWorkspace) -> None:
    path = world.ws.path / "keyring.json"
    good = path.read_text()
    doc = json.loads(good)
    doc["current"] = 7
    path.write_text(json.dumps(doc))
    with pytest.raises(KeyringError) as err:
        Workspace.open(world.ws.path)
    assert "damaged" in err.value.message_en and err.value.reason == "keyring_damaged"
    doc = json.loads(good)  # the wrapped keyring itself altered: authenticated, so refused
    ct = bytearray(base64.b64decode(doc["wraps"][0]["ciphertext"]))
    ct[5] ^= 1
    doc["wraps"][0]["ciphertext"] = base64.b64encode(bytes(ct)).decode()
    path.write_text(json.dumps(doc))
    with pytest.raises(KeyringError) as err:
        Workspace.open(world.ws.path)
    assert err.value.reason == "keyring_tampered" and "改変" in err.value.message_ja


def test_damaged_database_is_refused(world: StaffedWorkspace) -> None:
    db = world.ws.db_path
    data = bytearray(db.read_bytes())
    data[0:4096] = b"\0" * 4096
    db.write_bytes(bytes(data))
    with pytest.raises((StoreError, WrongKey)):
        Workspace.open(world.ws.path)


def test_login_and_logout_are_audited(world: StaffedWorkspace) -> None:
    session = world.login("administrator")
    session.logout()
    auditor = world.login("auditor")
    from workbench.controls import audit_log

    ops = [r["operation"] for r in audit_log.search(auditor, user_id="administrator")]
    assert ops[:2] == ["auth.logout", "auth.login"]


def test_wrong_password_names_no_detail_and_counts(world: StaffedWorkspace) -> None:
    world.clock.advance(30)
    with pytest.raises(AuthenticationFailed) as err:
        world.ws.login("registrar", "wrong-password", world.code("registrar"))
    assert "パスワード" in err.value.message_ja
    with pytest.raises(AuthenticationFailed):
        world.ws.login("nobody", PASSWORD, "123456")


def test_wrong_and_reused_totp(world: StaffedWorkspace) -> None:
    world.clock.advance(30)
    with pytest.raises(AuthenticationFailed) as err:
        world.ws.login("registrar", PASSWORD, "000000" if world.code("registrar") != "000000" else "111111")
    assert "ワンタイムコード" in err.value.message_ja
    code = world.code("registrar")
    world.ws.login("registrar", PASSWORD, code)
    with pytest.raises(AuthenticationFailed) as again:
        world.ws.login("registrar", PASSWORD, code)
    assert again.value.to_dict() == err.value.to_dict()  # no oracle (issue 10 item 7)


def test_previous_step_accepted_two_steps_refused(world: StaffedWorkspace) -> None:
    world.clock.advance(60)
    code = world.code("reviewer")
    world.clock.advance(30)
    world.ws.login("reviewer", PASSWORD, code)  # one step old: accepted
    old = world.code("reviewer")
    world.clock.advance(90)
    with pytest.raises(AuthenticationFailed):
        world.ws.login("reviewer", PASSWORD, old)


def test_lockout_with_backoff(world: StaffedWorkspace) -> None:
    for _ in range(5):
        world.clock.advance(30)
        with pytest.raises(AuthenticationFailed):
            world.ws.login("approver", "bad-password-x", world.code("approver"))
    world.clock.advance(30)
    with pytest.raises(AuthenticationFailed):  # locked: the same answer as any failure (issue 10 item 7)
        world.ws.login("approver", PASSWORD, world.code("approver"))
    world.clock.advance(120)
    assert world.login("approver").user_id == "approver"


def test_disabled_user_cannot_log_in(world: StaffedWorkspace) -> None:
    admin = world.login("administrator")
    users.disable(admin, "analyst")
    with pytest.raises(AccountDisabled):
        world.login("analyst")


def test_idle_timeout_logs_out(world: StaffedWorkspace) -> None:
    admin = world.login("administrator")
    users.list_users(admin)
    world.clock.advance(16 * 60)
    with pytest.raises(SessionExpired):
        users.list_users(admin)
    with pytest.raises(SessionExpired):
        users.list_users(admin)
