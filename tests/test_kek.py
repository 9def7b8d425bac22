"""The keyring is wrapped by a key-encryption key that is not in the workspace (issue 19 item 3).

A copy of the workspace folder, or a backup, without the KEK opens nothing: not through the
workbench, not by grepping, not by opening DuckDB with any key found in the folder; a wrong,
altered or badly kept KEK is refused; an audit log re-chained and re-signed with anything found
in the folder fails ``audit verify``; an old unwrapped keyring is migrated only on request."""

from __future__ import annotations

import base64
import binascii
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pytest

from tests.direct_load import load_world
from workbench import Workspace
from workbench.cli import main
from workbench.controls import audit_log
from workbench.core import audit, keyring_admin
from workbench.core.errors import KeyringError
from workbench.core.keys import KEK_ENV, FileKeySource, KeyEncryptionKey, Keyring, WrappedKeySource, _hkdf
from workbench.core.store import attach_sql, httpfs_extension_path
from workbench.lifecycle import backup
from workbench.simulate import generate_world

from .conftest import StaffedWorkspace, key_source


def _loaded(world: StaffedWorkspace) -> list[str]:
    people = generate_world(30, seed=4)
    load_world(world.ws, people.persons, people.households, registered=np.ones(len(people.persons), bool))
    return [str(n) for n in people.persons["individual_number"]]


def _candidates(folder: Path, workspace_id: str) -> set[bytes]:
    """Every key an attacker holding only ``folder`` could try: each base64 or hex token of 16+
    bytes in any file, as it is, cut to 32 bytes, and as a master key put through the keyring's
    derivations (database key v1–v3, audit key)."""
    found: set[bytes] = set()
    for path in folder.rglob("*"):
        if not path.is_file() or path.suffix == ".duckdb":  # the database is ciphertext: nothing is found in it
            continue
        text = path.read_bytes().decode("latin-1")
        for token in re.findall(r"[A-Za-z0-9+/=_-]{22,}", text):
            decoders: tuple[Callable[[str], bytes], ...] = (
                bytes.fromhex, lambda t: base64.b64decode(t + "=" * (-len(t) % 4)))
            for decode in decoders:
                try:
                    raw = decode(token)
                except (ValueError, binascii.Error):
                    continue
                if len(raw) >= 16:
                    found |= {raw, raw[:32]}
    derived = set()
    for raw in found:
        derived |= {_hkdf(raw, workspace_id, f"workbench:database:v{v}") for v in (1, 2, 3)}
        derived.add(_hkdf(raw, workspace_id, "workbench:audit"))
    return found | derived


def _no_number_in(folder: Path, numbers: list[str]) -> None:
    blobs = [p.read_bytes() for p in folder.rglob("*") if p.is_file()]
    for number in numbers:
        assert not any(number.encode() in b for b in blobs)


def test_a_copied_folder_without_the_kek_opens_nothing(make_world: Callable[..., StaffedWorkspace], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    world = make_world()
    numbers = _loaded(world)
    copy = tmp_path / "stolen"
    shutil.copytree(world.ws.path, copy)
    monkeypatch.delenv(KEK_ENV)  # another machine: the folder, and no KEK
    with pytest.raises(KeyringError) as err:
        Workspace.open(copy)
    assert err.value.reason == "kek_missing" and KEK_ENV in err.value.message_en and "KEK" in err.value.message_ja
    with pytest.raises(KeyringError):  # the keyring file read as it is: not a keyring
        Workspace.open(copy, key_source=FileKeySource(copy / "keyring.json"))
    _no_number_in(copy, numbers)
    keys = _candidates(copy, world.ws.settings.workspace_id)
    assert len(keys) > 20
    con = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False,
                                             "autoload_known_extensions": False})
    con.execute(f"LOAD '{httpfs_extension_path()}'")
    opened = []
    for key in [None, *keys]:
        try:
            con.execute(attach_sql(copy / "db" / "workbench.duckdb", "x", key.hex()[:64].ljust(64, "0"))
                        if key is not None else f"ATTACH '{copy / 'db' / 'workbench.duckdb'}' AS x (READ_ONLY)")
            opened.append(key)
            con.execute("DETACH x")
        except duckdb.Error:
            pass
    con.execute(attach_sql(copy / "db" / "workbench.duckdb", "x", world.ws.keyring.database_key_hex()))  # the control
    assert con.execute("SELECT count(*) FROM x.person_numbers").fetchone() == (len(numbers),)
    con.close()
    assert opened == []
    # with the KEK (the same folder, on the machine that holds it) everything opens
    assert Workspace.open(copy, key_source=key_source(copy)).keyring.workspace_id == world.ws.settings.workspace_id


def test_the_kek_file_named_in_the_settings_is_not_carried_by_a_copy(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEK_ENV)
    kek = KeyEncryptionKey.create_file(tmp_path / "etc" / "workbench.kek")
    ws = Workspace.init(tmp_path / "ws", kek=kek, scrypt_n=2**10)
    assert ws.settings.kek_file == str(kek.path) and ws.kek is not None and ws.kek.kek_id == kek.kek_id
    Workspace.open(tmp_path / "ws")  # found through the setting
    shutil.copytree(tmp_path / "ws", tmp_path / "copy")
    assert kek.path is not None
    kek.path.rename(tmp_path / "elsewhere.kek")  # the copy is on a machine without the KEK
    with pytest.raises(KeyringError) as err:
        Workspace.open(tmp_path / "copy")
    assert err.value.reason == "kek_missing" and "setting kek_file" in err.value.message_en


def test_a_backup_alone_or_with_its_keyring_copy_opens_nothing(world: StaffedWorkspace, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    numbers = _loaded(world)
    b, k = tmp_path / "b" / "b.wbbak", tmp_path / "k" / "keyring.json"
    backup.backup(world.login("operations"), b, keyring_out=k)
    assert json.loads(k.read_text())["format"] == "workbench-keyring-wrapped/1"  # the copy is wrapped too
    _no_number_in(b.parent, numbers)
    _no_number_in(k.parent, numbers)
    monkeypatch.delenv(KEK_ENV)
    attempts: tuple[Callable[[], object], ...] = (lambda: backup.verify_backup(b, keyring=k),
                                                  lambda: backup.restore(b, into=tmp_path / "r", keyring=k))
    for attempt in attempts:
        with pytest.raises(KeyringError) as err:
            attempt()
        assert err.value.reason == "kek_missing"
    other = KeyEncryptionKey.create_file(tmp_path / "other.kek")
    with pytest.raises(KeyringError) as err:
        backup.restore(b, into=tmp_path / "r", keyring=k, kek=other)
    assert err.value.reason == "kek_wrong" and other.kek_id in err.value.message_en
    assert not (tmp_path / "r").exists()
    # with the KEK, restored (and the KEK it was given is the one its setting names)
    kek = world.ws.kek
    assert kek is not None
    restored = backup.restore(b, into=tmp_path / "restored", keyring=k, kek=kek, clock=world.clock)
    assert restored["audit_ok"]
    assert Workspace.open(tmp_path / "restored").settings.kek_file == str(kek.path)


def test_wrong_altered_or_badly_kept_kek_is_refused(world: StaffedWorkspace, tmp_path: Path) -> None:
    path = world.ws.path
    other = KeyEncryptionKey.create_file(tmp_path / "other.kek")
    with pytest.raises(KeyringError) as err:
        Workspace.open(path, key_source=WrappedKeySource(FileKeySource(path / "keyring.json"), other))
    assert err.value.reason == "kek_wrong" and other.kek_id in err.value.message_ja
    with pytest.raises(KeyringError) as err:
        KeyEncryptionKey.create_file(other.path)  # type: ignore[arg-type]
    assert err.value.reason == "exists"
    loose = tmp_path / "loose.kek"
    shutil.copy(other.path, loose)  # type: ignore[arg-type]
    loose.chmod(0o644)
    with pytest.raises(KeyringError) as err:
        KeyEncryptionKey.from_file(loose)
    assert err.value.reason == "kek_mode" and "chmod 600" in err.value.message_ja
    for garbage in ("", "workbench-kek/1\nnot-base64!\n", "workbench-kek/1\nAAAA\n", "hello " * 10):
        bad = tmp_path / "bad.kek"
        bad.unlink(missing_ok=True)
        bad.write_text(garbage)
        bad.chmod(0o600)
        with pytest.raises(KeyringError) as err:
            KeyEncryptionKey.from_file(bad)
        assert err.value.reason == "kek_malformed"
    # a KEK kept inside the workspace, named by the setting: refused
    inside = path / "kek"
    shutil.copy(other.path, inside)  # type: ignore[arg-type]
    settings = json.loads((path / "workspace.json").read_text())
    (path / "workspace.json").write_text(json.dumps({**settings, "kek_file": str(inside)}))
    with pytest.raises(KeyringError) as err:
        with pytest.MonkeyPatch.context() as mp:
            mp.delenv(KEK_ENV)
            Workspace.open(path)
    assert err.value.reason == "kek_inside_workspace"
    with pytest.raises(KeyringError) as err:
        Workspace.init(tmp_path / "new", kek=KeyEncryptionKey.create_file(tmp_path / "new" / "in.kek"))
    assert err.value.reason == "kek_inside_workspace" and not (tmp_path / "new" / "workspace.json").exists()


def test_an_audit_log_rechained_and_resigned_with_the_folder_fails_verify(world: StaffedWorkspace) -> None:
    world.login("registrar").logout()
    ws = world.ws
    real = ws.keyring.audit_key()
    keys = _candidates(ws.path, ws.settings.workspace_id)
    assert real not in keys
    heads = [json.loads(line) for line in ws.heads_path.read_text().splitlines() if line.strip()]

    original = ws.heads_path.read_bytes()
    outcomes: dict[bytes, bool] = {}
    with ws.transaction("test.forge", "system") as con:
        # An insider with write access to the database (more than the folder gives) hides a denied
        # log-in: rewrites it, re-chains every later record, then re-signs every head with each key.
        records = [audit.AuditRecord(*r) for r in con.execute("SELECT * FROM audit_log ORDER BY seq").fetchall()]
        target = next(r for r in records if r.operation == "auth.login")
        new_hash: dict[int, str] = {}
        prev = audit.GENESIS
        for r in records:
            if r.seq >= target.seq:
                params = '{"forged": true}' if r.seq == target.seq else r.params
                r = audit.AuditRecord(**{**r.__dict__, "params": params, "prev_hash": prev})
                r = audit.AuditRecord(**{**r.__dict__, "hash": r.computed_hash()})
                con.execute("UPDATE audit_log SET params = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                            [r.params, r.prev_hash, r.hash, r.seq])
            new_hash[r.seq] = r.hash
            prev = r.hash
        for key in [*keys, real]:
            forged = []
            for h in heads:
                line = {**h, "hash": new_hash.get(int(h["seq"]), h["hash"])}
                line["mac"] = audit._head_mac(key, line)
                forged.append(json.dumps(line))
            ws.heads_path.write_text("\n".join(forged) + "\n")
            outcomes[key] = audit.verify(con, key=real, heads=audit.read_heads(ws.heads_path)).ok
        con.execute("ROLLBACK")
        con.execute("BEGIN TRANSACTION")
    ws.heads_path.write_bytes(original)
    assert outcomes.pop(real)  # the forgery is complete: only the key, kept under the KEK, is missing
    assert not any(outcomes.values())
    assert audit_log.verify(world.login("auditor")).ok


def test_an_old_unwrapped_keyring_is_migrated_only_on_request(world: StaffedWorkspace, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = world.ws.path
    world.ws.keyring.save(FileKeySource(path / "keyring.json"))  # as a workspace made before issue 19
    before = (path / "keyring.json").read_bytes()
    with pytest.raises(KeyringError) as err:
        Workspace.open(path)
    assert err.value.reason == "keyring_unwrapped" and "keys wrap" in err.value.message_en
    assert (path / "keyring.json").read_bytes() == before  # never migrated silently
    monkeypatch.delenv(KEK_ENV)
    kek_file = tmp_path / "etc" / "kek"
    assert main(["keys", "kek-new", str(kek_file)]) == 0
    assert kek_file.stat().st_mode & 0o777 == 0o600
    assert main(["-w", str(path), "keys", "wrap", "--kek-file", str(path / "inside.kek")]) != 0
    capsys.readouterr()
    assert main(["-w", str(path), "keys", "wrap", "--kek-file", str(kek_file)]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["wrapped"] and done["kek_file"] == str(kek_file.resolve())
    assert b"masters" not in (path / "keyring.json").read_bytes()
    assert main(["-w", str(path), "keys", "wrap", "--kek-file", str(kek_file)]) == 6  # already wrapped
    ws = Workspace.open(path, clock=world.clock)  # through the setting
    assert ws.keyring.masters == world.ws.keyring.masters
    world.ws = ws
    hits = audit_log.search(world.login("auditor"), operation="keys.wrap")
    assert len(hits) == 1
    # an old loose keyring copy is wrapped the same way, then opens with the KEK
    copy = tmp_path / "old-copy.json"
    Keyring.load(ws.key_source).save(FileKeySource(copy))
    assert main(["keys", "wrap", "--keyring", str(copy), "--kek-file", str(kek_file)]) == 0
    assert Keyring.load(WrappedKeySource(FileKeySource(copy), KeyEncryptionKey.from_file(kek_file))).current == 1


@pytest.mark.parametrize("step", ["rewrap_both", "rewrap_setting", None])
def test_rewrap_under_a_new_kek_survives_a_crash_at_every_step(world: StaffedWorkspace, tmp_path: Path, step: str | None,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    path = world.ws.path
    monkeypatch.delenv(KEK_ENV)
    old = KeyEncryptionKey.create_file(tmp_path / "old.kek")
    # put the world under a KEK named by its setting
    Keyring.load(world.ws.key_source).save(WrappedKeySource(FileKeySource(path / "keyring.json"), old))
    settings = json.loads((path / "workspace.json").read_text())
    (path / "workspace.json").write_text(json.dumps({**settings, "kek_file": str(old.path)}))
    world.ws = Workspace.open(path, clock=world.clock)
    new = KeyEncryptionKey.create_file(tmp_path / "new.kek")

    class Killed(Exception):
        pass

    def hook(reached: str) -> None:
        if reached == step:
            raise Killed(reached)

    monkeypatch.setattr(keyring_admin, "fault_hook", hook)
    ops = world.login("operations")
    if step is None:
        report = keyring_admin.rewrap(ops, new)
        assert report["new_kek_id"] == new.kek_id
        with pytest.raises(KeyringError) as err:  # the old KEK opens nothing any more
            Workspace.open(path, key_source=WrappedKeySource(FileKeySource(path / "keyring.json"), old))
        assert err.value.reason == "kek_wrong"
    else:
        with pytest.raises(Killed):
            keyring_admin.rewrap(ops, new)
    again = Workspace.open(path, clock=world.clock)  # whatever the setting names opens it
    assert again.keyring.masters == world.ws.keyring.masters
    world.ws = again
    assert audit_log.verify(world.login("auditor")).ok
    with pytest.raises(Exception) as refused:
        keyring_admin.rewrap(world.login("registrar"), new)
    assert "keys.manage" in str(refused.value)
