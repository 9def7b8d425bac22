"""Keeping the keyring under a key-encryption key (issue 19 item 3): wrapping a workspace made before
the KEK existed, wrapping a loose keyring copy from an old backup, and re-wrapping under a new KEK.

Above the workspace (it opens one), beside :mod:`workbench.core.rotation`, which moves the data to
new keys; this module moves the keyring to a new KEK.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core import audit, rotation
from workbench.core.errors import InvalidInput, KeyringError
from workbench.core.keys import (
    KEK_ENV,
    FileKeySource,
    KeyEncryptionKey,
    Keyring,
    WrappedKeySource,
    is_wrapped,
    refuse_inside,
)
from workbench.core.permissions import Permission
from workbench.core.store import WorkspaceLock
from workbench.core.workspace import SETTINGS_FILE, Session, Settings, Unit, Workspace, service

__all__ = ["REWRAP_STEPS", "KeyStatus", "key_status", "rewrap", "wrap_keyring_copy", "wrap_workspace"]

#: The rotation's journal: present only while a rotation runs or was interrupted.
ROTATION_JOURNAL = rotation.JOURNAL

#: The named steps of a re-wrap, in order: both KEKs wrap the keyring, then the setting names the new one.
REWRAP_STEPS = ("rewrap_both", "rewrap_setting")

#: Fault injection for the crash tests: called with each step's name once it is reached.
fault_hook: Callable[[str], None] | None = None


def _reached(step: str) -> None:
    if fault_hook is not None:
        fault_hook(step)


def wrap_workspace(path: str | Path, kek: KeyEncryptionKey) -> dict[str, Any]:
    """``workbench keys wrap``: wrap the unwrapped keyring of a workspace made before issue 19 by
    ``kek`` (outside the folder), once, on request — never silently.  No login: the keyring is
    readable by whoever holds the folder until this runs.  The KEK's path is recorded in the
    setting ``kek_file`` first, so a crash in between leaves a workspace that asks for this again."""
    root = Path(path)
    settings = Settings.load(root / SETTINGS_FILE)
    refuse_inside(kek, root)
    plain_source = FileKeySource(_resolve_keyring(root, settings))
    raw = plain_source.read()
    if raw is not None and is_wrapped(raw):
        raise KeyringError(
            "This keyring is already wrapped by a key-encryption key; to change the KEK use `workbench keys rewrap`.",
            "この鍵束はすでに鍵暗号化鍵（KEK）で保護されています。KEK を変えるには `workbench keys rewrap` を使ってください。",
            reason="already_wrapped")
    ring = Keyring.load(plain_source)  # a missing or damaged keyring is refused here
    if ring.workspace_id != settings.workspace_id:
        raise KeyringError("The keyring belongs to another workspace.", "この鍵束は別のワークスペースのものです。")
    lock = WorkspaceLock(root / "db.lock", timeout=settings.lock_timeout_seconds)
    with lock.hold("keys.wrap", "system"):
        if kek.path is not None and not kek.from_environment:
            settings.kek_file = str(kek.path)
            settings.save(root / SETTINGS_FILE)
        source = WrappedKeySource(plain_source, kek)
        ring.save(source)
    ws = Workspace.open(root, key_source=source)
    ws.audit_only("system", "keys.wrap", "ok", kek_id=kek.kek_id)
    return {"workspace": str(root), "wrapped": True, "kek_id": kek.kek_id, "kek_file": settings.kek_file,
            "message_ja": "鍵束を鍵暗号化鍵（KEK）で保護しました。以前の鍵束の写し（バックアップの鍵束の写しを含む）は平文です。"
                          "破棄し、`workbench keys rotate` で鍵を更新してください。",
            "message_en": "The keyring is now wrapped by the key-encryption key. Earlier copies of the keyring "
                          "(including backup keyring copies) are in clear: destroy them and run `workbench keys rotate`."}


def wrap_keyring_copy(path: str | Path, kek: KeyEncryptionKey) -> dict[str, Any]:
    """``workbench keys wrap --keyring FILE``: wrap a loose keyring copy (one ``backup --keyring-out``
    wrote before issue 19), so it can be used by ``restore``."""
    source = FileKeySource(path)
    raw = source.read()
    if raw is not None and is_wrapped(raw):
        raise KeyringError("This keyring copy is already wrapped.", "この鍵束の写しはすでに保護されています。",
                           reason="already_wrapped")
    ring = Keyring.load(source)
    ring.save(WrappedKeySource(source, kek))
    return {"keyring": str(path), "wrapped": True, "kek_id": kek.kek_id}


def rewrap(session: Session, new_kek: KeyEncryptionKey) -> dict[str, Any]:
    """``workbench keys rewrap``: wrap the keyring by a new KEK (``keys.manage``), e.g. when the old
    one may have leaked.  Three writes, each atomic, so a kill at any point leaves a keyring the
    KEK named in the settings opens: (1) wrapped by both KEKs, (2) the setting ``kek_file`` names
    the new one, (3) wrapped by the new one only.  Allowed while an audit alarm is open (it is
    how one answers a leak)."""
    ws = session.workspace
    session.require(Permission.KEYS_MANAGE, "keys.rewrap")
    source, old = ws.key_source, ws.kek
    if not isinstance(source, WrappedKeySource) or old is None:
        raise KeyringError("This workspace's keyring is not kept wrapped by a KEK file.",
                           "このワークスペースの鍵束は KEK ファイルで保護されていません。", reason="keyring_unwrapped")
    refuse_inside(new_kek, ws.path)
    if new_kek.kek_id == old.kek_id:
        raise InvalidInput("The new KEK is the one in use; create a new one with `workbench keys kek-new FILE`.",
                           "新しい KEK が現在のものと同じです。`workbench keys kek-new FILE` で新しく作成してください。",
                           reason="same_kek")
    now = ws.clock.now()
    with ws.transaction("keys.rewrap", session.user_id) as con:
        ws.keyring.refresh(source)
        plain = source.read()
        assert plain is not None
        source.write_wrapped(plain, [old, new_kek])
        _reached("rewrap_both")
        settings_file = ws.path / SETTINGS_FILE
        recorded = new_kek.path is not None and ws.settings.kek_file is not None
        if recorded:
            ws.settings.kek_file = str(new_kek.path)
            ws.settings.save(settings_file)
        _reached("rewrap_setting")
        source.kek = new_kek
        source.write_wrapped(plain, [new_kek])
        audit.append(con, key=ws.keyring.audit_key(), at=now, user_id=session.user_id, operation="keys.rewrap",
                     outcome="ok", params={"old_kek": old.kek_id, "new_kek": new_kek.kek_id})
    return {"rewrapped": True, "old_kek_id": old.kek_id, "new_kek_id": new_kek.kek_id,
            "kek_file": ws.settings.kek_file,
            "message_ja": "鍵束を新しい KEK で保護し直しました。" + (
                "設定 kek_file を新しい KEK に切り替えました。" if recorded else
                f"{KEK_ENV} や systemd の資格情報を新しい KEK ファイルに切り替えてください。") + "古い KEK は破棄してください。",
            "message_en": "The keyring is now wrapped by the new KEK. " + (
                "The setting kek_file names it." if recorded else
                f"Point {KEK_ENV} or the systemd credential at the new KEK file.") + " Destroy the old KEK."}


def _resolve_keyring(root: Path, settings: Settings) -> Path:
    p = Path(settings.keyring_path)
    return p if p.is_absolute() else root / p


# -- where the keys stand (issue 20 item 10: the keys screen) -----------------------------------------------


@dataclass(frozen=True)
class KeyStatus:
    """The keyring as operations see it: generations and counts, never a key."""

    #: The key generations (master versions) the keyring holds, oldest first.
    versions: tuple[int, ...]
    #: The generation new ciphertexts are made under.
    current: int
    #: The generation the database file is encrypted under.
    database_version: int
    #: Individual Numbers held, by the generation that encrypts them.
    numbers_by_version: dict[int, int]
    #: Whether the keyring file is kept wrapped by a key-encryption key (KEK) outside the workspace.
    wrapped: bool
    kek_id: str | None
    #: Where the KEK was found (a file path, ``WORKBENCH_KEK_FILE``, a systemd credential), or None.
    kek_origin: str | None
    #: A rotation was interrupted (its journal is there): finish or roll it back with 修復 / ``keys repair``.
    rotation_interrupted: bool
    last_rotated_at: dt.datetime | None


@service(Permission.KEYS_MANAGE, operation="keys.status")
def key_status(unit: Unit) -> KeyStatus:
    """Where the keys stand (``keys.manage``): generations, the database's, numbers by generation, the KEK."""
    ws = unit.workspace
    ring = ws.keyring
    counts = {int(v): int(n) for v, n in unit.con.execute(
        "SELECT key_version, count(*) FROM person_numbers GROUP BY key_version ORDER BY key_version").fetchall()}
    row = unit.con.execute("SELECT logged_at FROM audit_log WHERE operation = 'keys.rotate' AND outcome = 'ok'"
                           " ORDER BY seq DESC LIMIT 1").fetchone()
    last = dt.datetime.fromisoformat(str(row[0]).replace("Z", "+00:00")) if row is not None else None
    kek = ws.kek
    wrapped = isinstance(ws.key_source, WrappedKeySource) and kek is not None
    status = KeyStatus(
        versions=tuple(sorted(ring.masters)), current=ring.current, database_version=ring.database_version,
        numbers_by_version=counts, wrapped=wrapped, kek_id=kek.kek_id if kek is not None else None,
        kek_origin=(str(kek.origin) if kek is not None else None),
        rotation_interrupted=(ws.path / ROTATION_JOURNAL).exists(), last_rotated_at=last)
    unit.note(versions=len(status.versions), wrapped=wrapped, rotation_interrupted=status.rotation_interrupted)
    return status

