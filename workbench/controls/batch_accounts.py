"""Batch accounts (バッチ用アカウント) for cycles that run unattended (issue 14).

A scheduled cycle has no person at the keyboard to type a one-time code, so it runs
under a *batch account*: a user ID with no person behind it, created for exactly one
cycle, after a second person's approval (like a role grant: it opens personal data).

* **Credential** — a key file (mode 0600) written by the administrator to a path
  outside the repository checkout and the workspace's ``runs/`` folder; it never goes
  into a notebook or a Papermill parameter.  The database keeps only a SHA-256 of its
  secret.  Each key expires (``days``, default 90) and can be revoked at once.
* **No interactive login** — the account's password is random and thrown away, so
  ``Workspace.login`` cannot succeed for it; :func:`login` with the key file is the
  only way in, and a key file that others can read is refused.
* **Least privilege** — the session holds only :data:`CYCLE_PERMISSIONS` of its cycle,
  never the power to approve, reveal a number, manage users or keys
  (:data:`NEVER`); it may run only its own cycle.
* **Audited as itself** — every call is recorded under the batch account's user ID.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.controls.users import check_user_id
from workbench.core import approvals, audit, credentials
from workbench.core.access_rules import END_OF_DAY, WEEKDAYS, within_set_hours
from workbench.core.errors import AccessRefused, AuthenticationFailed, InvalidInput, NotFound, SessionExpired, WorkbenchError
from workbench.core.permissions import Permission
from workbench.core.workspace import Session, Unit, Workspace, service

__all__ = [
    "CYCLE_PERMISSIONS",
    "NEVER",
    "BatchKey",
    "add_account",
    "batch_session",
    "issue_key",
    "list_accounts",
    "login",
    "login_with",
    "read_key",
    "request_account",
    "revoke_keys",
    "set_hours",
]

P = Permission

#: What each cycle's batch account may do: exactly the services its stages call.
CYCLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "income_declaration": frozenset({P.SELF, P.PROCEDURES_IMPORT, P.INTEGRATED_MANAGE, P.BATCHES_CREATE,
                                     P.RESULTS_IMPORT, P.LINKAGE_EXPORT}),
    "applications": frozenset({P.SELF, P.PROCEDURES_IMPORT, P.INTEGRATED_MANAGE, P.BATCHES_CREATE,
                               P.RESULTS_IMPORT, P.LINKAGE_EXPORT}),
    # Nightly: C11 expiry and purge, audit verification.  Issue 14: the retention rules
    # (retention.apply) will add their permission here when that service is merged.
    "nightly": frozenset({P.SELF, P.RESULTS_IMPORT, P.AUDIT_VERIFY, P.RETENTION_APPLY}),
}

#: Powers a batch account never holds, whatever its cycle.
NEVER: frozenset[Permission] = frozenset({P.APPROVALS_DECIDE, P.NUMBERS_REVEAL, P.USERS_MANAGE, P.USERS_REVIEW,
                                          P.KEYS_MANAGE, P.BACKUP_RUN})
assert not any(perms & NEVER for perms in CYCLE_PERMISSIONS.values())

APPROVAL_KIND = "batch_account"
approvals.register_kind(APPROVAL_KIND, "定例処理用バッチアカウントの作成", "batch account for a scheduled cycle")
KEY_FORMAT = "workbench-batch-key/1"
DEFAULT_DAYS = 90
MAX_DAYS = 366
#: The repository checkout: key files must live outside it.
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class BatchKey:
    key_id: str
    user_id: str
    path: str
    expires_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        return {"key_id": self.key_id, "user_id": self.user_id, "path": self.path,
                "expires_at": self.expires_at.isoformat()}


def _check_cycle(cycle: str) -> str:
    if cycle not in CYCLE_PERMISSIONS:
        raise InvalidInput(f"Unknown cycle {cycle!r}; cycles: {', '.join(CYCLE_PERMISSIONS)}.",
                           f"不明な定例処理 {cycle!r} です（{', '.join(CYCLE_PERMISSIONS)}）。", reason="unknown_cycle")
    return cycle


def batch_session(ws: Workspace, user_id: str, cycle: str, now: dt.datetime) -> Session:
    """A session holding only the cycle's permissions (no roles)."""
    session = Session(ws, user_id, (), now)
    session.permissions = CYCLE_PERMISSIONS[cycle]
    session.batch_cycle = cycle
    return session


# ------------------------------------------------------------------------------ administration
@service(Permission.USERS_MANAGE, target="user_id")
def request_account(unit: Unit, user_id: str, cycle: str) -> approvals.Approval:
    """Ask a second person to approve a batch account for ``cycle`` (it will reach personal data)."""
    check_user_id(user_id)
    _check_cycle(cycle)
    unit.note(target=user_id, cycle=cycle)
    if unit.con.execute("SELECT 1 FROM users WHERE user_id = ?", [user_id]).fetchone():
        raise InvalidInput(f"The user ID {user_id} already exists.", f"ユーザーID {user_id} はすでに存在します。")
    perms = sorted(p.value for p in CYCLE_PERMISSIONS[cycle])
    return approvals.request(unit, APPROVAL_KIND, {"user_id": user_id, "cycle": cycle},
                             {"user_id": user_id, "cycle": cycle, "permissions": perms})


@service(Permission.USERS_MANAGE, target="user_id")
def add_account(unit: Unit, user_id: str, cycle: str, *, approval_id: str | None) -> dict[str, Any]:
    """Create the approved batch account: no roles, an unusable password, only its cycle's permissions."""
    check_user_id(user_id)
    _check_cycle(cycle)
    unit.note(target=user_id, cycle=cycle)
    approvals.consume(unit, approval_id, APPROVAL_KIND, {"user_id": user_id, "cycle": cycle})
    if unit.con.execute("SELECT 1 FROM users WHERE user_id = ?", [user_id]).fetchone():
        raise InvalidInput(f"The user ID {user_id} already exists.", f"ユーザーID {user_id} はすでに存在します。")
    cipher = unit.workspace.totp_cipher()
    unusable = credentials.hash_password(secrets.token_urlsafe(32), n=unit.workspace.settings.scrypt_n)
    unit.con.execute(
        "INSERT INTO users (user_id, display_name, password_hash, totp_secret, totp_key_version, roles, created_at,"
        " created_by) VALUES (?, ?, ?, ?, ?, [], ?, ?)",
        [user_id, f"batch: {cycle}", unusable,
         cipher.encrypt(credentials.new_totp_secret(), user_id, table="users", column="totp_secret"),
         cipher.key_version, unit.now, unit.user_id])
    unit.con.execute("INSERT INTO batch_accounts VALUES (?, ?, ?, ?, ?)",
                     [user_id, cycle, unit.now, unit.user_id, approval_id])
    # Declared from the start, every day all day, until the administrator narrows them (set_hours).
    unit.con.executemany("INSERT INTO batch_account_hours VALUES (?, ?, ?, ?)",
                         [[user_id, d, dt.time(0, 0), END_OF_DAY] for d in range(7)])
    return {"user_id": user_id, "cycle": cycle, "permissions": sorted(p.value for p in CYCLE_PERMISSIONS[cycle])}


def _check_key_path(ws: Workspace, path: Path) -> Path:
    target = path.expanduser().resolve()
    forbidden = [(REPO_ROOT, "the repository checkout", "リポジトリ"),
                 (ws.path.resolve() / "runs", "the workspace's runs/ folder", "ワークスペースの runs/")]
    for root, en, ja in forbidden:
        if target == root or root in target.parents:
            raise InvalidInput(f"Write the key file outside {en}.", f"鍵ファイルは{ja}の外に保存してください。",
                               reason="key_path")
    if target.suffix == ".ipynb":
        raise InvalidInput("A key file is not a notebook.", "鍵ファイルをノートブックにはできません。", reason="key_path")
    if target.exists():
        raise InvalidInput(f"{target.name} already exists.", f"{target.name} はすでに存在します。", reason="key_path")
    if not target.parent.is_dir():
        raise InvalidInput("The folder for the key file does not exist.", "鍵ファイルの保存先フォルダがありません。",
                           reason="key_path")
    return target


@service(Permission.USERS_MANAGE, target="user_id", paths=("path",))
def issue_key(unit: Unit, user_id: str, path: str, *, days: int = DEFAULT_DAYS) -> BatchKey:
    """Write a new key file (mode 0600) for a batch account, valid ``days`` days."""
    unit.note(target=user_id, days=days)
    row = unit.con.execute("SELECT u.disabled FROM users u JOIN batch_accounts b USING (user_id) WHERE user_id = ?",
                           [user_id]).fetchone()
    if row is None:
        raise NotFound(f"{user_id} is not a batch account.", f"{user_id} はバッチ用アカウントではありません。")
    if row[0]:
        raise InvalidInput(f"{user_id} is disabled.", f"{user_id} は無効化されています。")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"A key is valid for 1 to {MAX_DAYS} days.", f"鍵の有効期間は 1〜{MAX_DAYS} 日です。",
                           reason="bad_days")
    target = _check_key_path(unit.workspace, Path(path))
    key_id = "K" + uuid.uuid4().hex[:11].upper()
    secret = secrets.token_urlsafe(32)
    expires = unit.now + dt.timedelta(days=days)
    doc = {"format": KEY_FORMAT, "workspace_id": unit.workspace.settings.workspace_id, "user_id": user_id,
           "key_id": key_id, "secret": secret, "expires_at": expires.isoformat()}
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(doc) + "\n")
        unit.con.execute("INSERT INTO batch_credentials VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, NULL)",
                         [key_id, user_id, hashlib.sha256(secret.encode()).hexdigest(), unit.now, unit.user_id, expires])
    except BaseException:
        target.unlink(missing_ok=True)  # the transaction rolls back, so must the file
        raise
    unit.note(key_id=key_id)
    return BatchKey(key_id, user_id, str(target), expires)


@service(Permission.USERS_MANAGE, target="user_id")
def revoke_keys(unit: Unit, user_id: str, *, key_id: str | None = None) -> dict[str, Any]:
    """Revoke every live key of a batch account (or one, ``key_id``) at once."""
    unit.note(target=user_id, key_id=key_id)
    if unit.con.execute("SELECT 1 FROM batch_accounts WHERE user_id = ?", [user_id]).fetchone() is None:
        raise NotFound(f"{user_id} is not a batch account.", f"{user_id} はバッチ用アカウントではありません。")
    revoked = [r[0] for r in unit.con.execute(
        "UPDATE batch_credentials SET revoked_at = ?, revoked_by = ? WHERE user_id = ? AND revoked_at IS NULL"
        " AND (? IS NULL OR key_id = ?) RETURNING key_id", [unit.now, unit.user_id, user_id, key_id, key_id]).fetchall()]
    if key_id is not None and not revoked:
        raise NotFound(f"No live key {key_id} for {user_id}.", f"{user_id} の有効な鍵 {key_id} はありません。")
    unit.note(revoked=len(revoked))
    return {"user_id": user_id, "revoked": sorted(revoked)}


def _hours(con: Any, user_id: str) -> dict[int, tuple[dt.time, dt.time]]:
    return {int(d): (o, c) for d, o, c in con.execute(
        "SELECT weekday, opens, closes FROM batch_account_hours WHERE user_id = ?", [user_id]).fetchall()}


def _hours_text(hours: dict[int, tuple[dt.time, dt.time]]) -> dict[str, str | None]:
    return {WEEKDAYS[d]: (None if d not in hours else
                          f"{hours[d][0]:%H:%M}-{'24:00' if hours[d][1] == END_OF_DAY else format(hours[d][1], '%H:%M')}")
            for d in range(7)}


@service(Permission.USERS_MANAGE, target="user_id")
def set_hours(unit: Unit, user_id: str, hours: dict[int, tuple[dt.time, dt.time] | None]) -> dict[str, Any]:
    """Declare when a batch account may run (C13), by weekday in Japan time; weekdays not given stay.

    A batch account does not follow the office's set hours (its cycles run at night), but hours of
    its own: a stolen key file is of no use outside them."""
    if unit.con.execute("SELECT 1 FROM batch_accounts WHERE user_id = ?", [user_id]).fetchone() is None:
        raise NotFound(f"No batch account {user_id}.", f"バッチ用アカウント {user_id} はありません。")
    for day, window in hours.items():
        unit.con.execute("DELETE FROM batch_account_hours WHERE user_id = ? AND weekday = ?", [user_id, day])
        if window is not None:
            unit.con.execute("INSERT INTO batch_account_hours VALUES (?, ?, ?, ?)", [user_id, day, window[0], window[1]])
    declared = _hours_text(_hours(unit.con, user_id))
    unit.note(target=user_id, hours=declared)
    return {"user_id": user_id, "hours": declared}


@service(Permission.USERS_MANAGE)
def list_accounts(unit: Unit) -> list[dict[str, Any]]:
    """Batch accounts, their cycle and keys (IDs and dates only)."""
    out = []
    for user_id, cycle, created_at, disabled in unit.con.execute(
            "SELECT b.user_id, b.cycle, b.created_at, u.disabled FROM batch_accounts b JOIN users u USING (user_id)"
            " ORDER BY b.user_id").fetchall():
        keys = [{"key_id": k, "issued_at": i.isoformat(), "expires_at": e.isoformat(),
                 "revoked_at": r.isoformat() if r else None, "last_used_at": u.isoformat() if u else None,
                 "live": r is None and e > unit.now}
                for k, i, e, r, u in unit.con.execute(
                    "SELECT key_id, issued_at, expires_at, revoked_at, last_used_at FROM batch_credentials"
                    " WHERE user_id = ? ORDER BY issued_at", [user_id]).fetchall()]
        out.append({"user_id": user_id, "cycle": cycle, "created_at": created_at.isoformat(), "disabled": disabled,
                    "permissions": sorted(p.value for p in CYCLE_PERMISSIONS.get(cycle, frozenset())), "keys": keys,
                    "hours": _hours_text(_hours(unit.con, user_id))})
    unit.note(count=len(out))
    return out


# ------------------------------------------------------------------------------ logging in with the key
def _refused(en: str, ja: str, reason: str) -> AuthenticationFailed:
    return AuthenticationFailed(en, ja, reason=reason)


def _read_key(path: Path) -> dict[str, Any]:
    try:
        mode = path.stat().st_mode
    except OSError:
        raise _refused("The batch key file cannot be read.", "バッチ用の鍵ファイルを読めません。", "key_missing") from None
    if mode & 0o077:
        raise _refused("The batch key file is readable by others; it must be mode 0600.",
                       "バッチ用の鍵ファイルが他の利用者から読める状態です。モード 0600 にしてください。", "key_mode")
    try:
        doc = json.loads(path.read_text("utf-8"))
        if doc.get("format") != KEY_FORMAT or not all(isinstance(doc.get(k), str) for k in ("user_id", "key_id", "secret")):
            raise ValueError
    except (OSError, ValueError, AttributeError):
        raise _refused("This is not a batch key file.", "バッチ用の鍵ファイルではありません。", "key_format") from None
    return dict(doc)


def read_key(key_path: str | Path) -> dict[str, Any]:
    """A batch key file's contents (refused if others may read it or it is not one)."""
    return _read_key(Path(key_path))


def login(ws: Workspace, key_path: str | Path) -> Session:
    """Log a batch account in with its key file; refuse a revoked, expired, foreign or exposed key."""
    return login_with(ws, _read_key(Path(key_path)))


def login_with(ws: Workspace, doc: dict[str, Any]) -> Session:
    """Log a batch account in with the contents of its key file (the data server gets them from
    its client, which read its own file)."""
    if not all(isinstance(doc.get(k), str) for k in ("user_id", "key_id", "secret")):
        raise _refused("This is not a batch key file.", "バッチ用の鍵ファイルではありません。", "key_format")
    user_id = str(doc["user_id"])
    now = ws.clock.now()
    refusal: WorkbenchError | None = None
    cycle: str | None = None
    with ws.transaction("auth.batch_login", user_id) as con:
        row = con.execute(
            "SELECT c.secret_hash, c.expires_at, c.revoked_at, u.disabled, b.cycle FROM batch_credentials c"
            " JOIN users u USING (user_id) JOIN batch_accounts b USING (user_id) WHERE c.key_id = ? AND c.user_id = ?",
            [doc["key_id"], user_id]).fetchone()
        digest = hashlib.sha256(str(doc["secret"]).encode()).hexdigest()
        if doc.get("workspace_id") != ws.settings.workspace_id or row is None \
                or not secrets.compare_digest(row[0], digest):
            refusal = _refused("The batch key is not valid for this workspace.",
                               "このバッチ用の鍵はこのワークスペースでは使えません。", "key_unknown")
        elif row[2] is not None:
            refusal = SessionExpired("This batch key has been revoked; ask the administrator for a new one.",
                                     "このバッチ用の鍵は失効（取消）されています。システム管理者に新しい鍵を依頼してください。",
                                     reason="key_revoked")
        elif row[1] <= now:
            refusal = SessionExpired(f"This batch key expired on {row[1].date().isoformat()}; ask for a new one.",
                                     f"このバッチ用の鍵は {row[1].date().isoformat()} に有効期限が切れています。"
                                     "新しい鍵を依頼してください。", reason="key_expired")
        elif row[3]:
            refusal = _refused("This batch account is disabled.", "このバッチ用アカウントは無効化されています。", "disabled")
        elif not within_set_hours(_hours(con, user_id), now):
            refusal = AccessRefused("This batch account may not run at this hour (outside the hours declared for it).",
                                    "このバッチ用アカウントは現在は利用できません（このアカウントに定めた利用時間外です）。",
                                    reason="out_of_hours")
        else:
            cycle = str(row[4])
            con.execute("UPDATE batch_credentials SET last_used_at = ? WHERE key_id = ?", [now, doc["key_id"]])
        audit.append(con, key=ws.keyring.audit_key(), at=now, user_id=user_id, operation="auth.batch_login",
                     outcome="ok" if refusal is None else "denied",
                     params={"key_id": doc["key_id"]} if refusal is None else {"key_id": doc["key_id"],
                                                                               "reason": refusal.details["reason"]})
    if refusal is not None:
        raise refusal
    assert cycle is not None
    return batch_session(ws, user_id, cycle, now)
