"""The workspace, the logged-in session, and the unit of work every service runs in.

DESIGN §2: ``Workspace.open(path)`` → ``workspace.login(user, password, totp)`` →
a :class:`Session` carrying identity and permissions.  A service method is a plain
function ``fn(unit, ...)`` decorated with :func:`service`, which

1. checks the one permission it declares (a denied call is audited too);
2. opens the database under the workspace lock, runs the function in one
   transaction, appends its audit record in that same transaction, commits;
3. returns the function's typed result.

A refusal raised by the function (bad input, missing approval) rolls its work back
and is then audited as ``refused`` in a transaction of its own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import inspect
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import duckdb

from . import audit, credentials
from .clock import Clock, SystemClock
from .errors import (
    AccountDisabled,
    AccountLocked,
    AuthenticationFailed,
    InvalidInput,
    PermissionDenied,
    SessionExpired,
    StoreError,
    WorkbenchError,
)
from .keys import FileKeySource, Keyring, KeySource
from .numbers import SecretCipher
from .permissions import Permission, permissions_for
from .store import LockHolder, Store, WorkspaceLock

__all__ = ["SERVICES", "ServiceInfo", "Session", "Settings", "Unit", "Workspace", "service"]

SETTINGS_FILE = "workspace.json"
FORMAT = "workbench-workspace/1"

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class Settings:
    """Everything configurable about a workspace, kept in ``workspace.json``."""

    workspace_id: str
    created_at: str
    format: str = FORMAT
    #: Longest wait for another process's unit of work before giving up.
    lock_timeout_seconds: float = 30.0
    #: A session unused this long is logged out.
    idle_timeout_minutes: int = 15
    #: scrypt cost for new password hashes (DESIGN §6: 2**17).
    scrypt_n: int = 2**17
    #: How long a second person's approval stays valid.
    approval_ttl_hours: int = 72
    #: Query results are deleted this many days after the batch closes (C11).
    result_retention_days: int = 90
    #: Where the keyring file lives; relative paths are inside the workspace.
    keyring_path: str = "keyring.json"
    #: A demo workspace may print current one-time codes for its demo accounts.
    demo: bool = False
    #: Where F8 statistics publications go (analysts read them without any key); relative paths are inside the workspace.
    stats_root: str = "publications"

    @classmethod
    def load(cls, path: Path) -> Settings:
        try:
            doc = json.loads(path.read_text("utf-8"))
            known = {f.name for f in dataclasses.fields(cls)}
            settings = cls(**{k: v for k, v in doc.items() if k in known})
        except FileNotFoundError:
            raise StoreError(
                f"{path.parent} is not a workspace (no {SETTINGS_FILE}); create one with `workbench init`.",
                f"{path.parent} はワークスペースではありません（{SETTINGS_FILE} がありません）。`workbench init` で作成してください。",
            ) from None
        except (ValueError, TypeError):
            raise StoreError(
                f"The settings file {SETTINGS_FILE} is damaged.",
                f"設定ファイル {SETTINGS_FILE} が破損しています。",
            ) from None
        if settings.format != FORMAT:
            raise StoreError(
                f"Unsupported workspace format {settings.format!r}.",
                f"未対応のワークスペース形式 {settings.format!r} です。",
            )
        return settings

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(dataclasses.asdict(self), indent=2, ensure_ascii=False) + "\n", "utf-8")
        tmp.replace(path)


@dataclass(frozen=True)
class ServiceInfo:
    operation: str
    permission: Permission
    function: Callable[..., Any]
    #: The argument naming who or what the call is about, so a denial records it too.
    target_arg: str | None = None

    def target_of(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        if self.target_arg is None:
            return None
        try:
            bound = inspect.signature(self.function).bind(None, *args, **kwargs)
        except TypeError:
            return None
        value = bound.arguments.get(self.target_arg)
        return None if value is None else str(value)


#: Every service method, by operation name.  Tests walk it for the permission matrix.
SERVICES: dict[str, ServiceInfo] = {}


class Workspace:
    """One folder: database, keyring, outgoing packages, return lists, runs, audit heads."""

    DIRS = ("db", "outgoing", "incoming", "return_lists", "runs", "audit", "tmp")

    def __init__(
        self,
        path: Path,
        settings: Settings,
        *,
        key_source: KeySource,
        clock: Clock,
        on_wait: Callable[[LockHolder | None], None] | None = None,
    ) -> None:
        self.path = path
        self.settings = settings
        self.key_source = key_source
        self.clock = clock
        self.keyring = Keyring.load(key_source)
        if self.keyring.workspace_id != settings.workspace_id:
            raise StoreError(
                "The keyring belongs to another workspace.",
                "この鍵束は別のワークスペースのものです。",
            )
        self.lock = WorkspaceLock(path / "db.lock", timeout=settings.lock_timeout_seconds, on_wait=on_wait)
        self.store = Store(path / "db" / "workbench.duckdb", self.lock, self._db_key, path / "tmp")

    def _db_key(self) -> str:
        return self.keyring.database_key_hex()

    # -- files ----------------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return self.store.db_path

    @property
    def heads_path(self) -> Path:
        return self.path / "audit" / "heads.jsonl"

    def folder(self, name: str) -> Path:
        if name not in self.DIRS:
            raise ValueError(name)
        return self.path / name

    # -- creation and opening --------------------------------------------------------
    @classmethod
    def init(
        cls,
        path: str | Path,
        *,
        key_source: KeySource | None = None,
        clock: Clock | None = None,
        **settings: Any,
    ) -> Workspace:
        """Create a new, empty workspace folder with a fresh keyring."""
        root = Path(path)
        if (root / SETTINGS_FILE).exists():
            raise InvalidInput(f"{root} is already a workspace.", f"{root} はすでにワークスペースです。")
        root.mkdir(parents=True, exist_ok=True)
        root.chmod(0o700)
        for name in cls.DIRS:
            (root / name).mkdir(exist_ok=True, mode=0o700)
        clock = clock or SystemClock()
        cfg = Settings(workspace_id=uuid.uuid4().hex, created_at=clock.now().isoformat(), **settings)
        source = key_source or FileKeySource(root / cfg.keyring_path)
        Keyring.create(cfg.workspace_id).save(source)
        cfg.save(root / SETTINGS_FILE)
        ws = cls(root, cfg, key_source=source, clock=clock)
        ws.store.migrate()
        return ws

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        key_source: KeySource | None = None,
        clock: Clock | None = None,
        on_wait: Callable[[LockHolder | None], None] | None = None,
    ) -> Workspace:
        """Open an existing workspace and bring its schema up to date."""
        root = Path(path)
        cfg = Settings.load(root / SETTINGS_FILE)
        source = key_source or FileKeySource(_resolve(root, cfg.keyring_path))
        ws = cls(root, cfg, key_source=source, clock=clock or SystemClock(), on_wait=on_wait)
        ws.store.migrate()
        return ws

    # -- low-level unit of work (for services and system jobs) -------------------------
    @contextlib.contextmanager
    def transaction(self, operation: str, user_id: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction under the lock; the signed audit head is exported after commit."""

        def export_head(con: duckdb.DuckDBPyConnection) -> None:
            audit.write_head(con, key=self.keyring.audit_key(), path=self.heads_path, at=self.clock.now())

        with self.store.transaction(operation, user_id, after_commit=export_head) as con:
            yield con

    def audit_only(self, user_id: str, operation: str, outcome: str, **params: Any) -> None:
        """Record an event that did no other work (a denial, a refusal, a failed login)."""
        with self.transaction(operation, user_id) as con:
            audit.append(
                con, key=self.keyring.audit_key(), at=self.clock.now(), user_id=user_id,
                operation=operation, outcome=outcome, target=params.pop("target", None), params=params,
            )

    def totp_cipher(self, version: int | None = None) -> SecretCipher:
        v = self.keyring.current if version is None else version
        return SecretCipher(self.keyring.key("totp", v), v)

    # -- login (DESIGN §6, C5) ----------------------------------------------------------
    def login(self, user_id: str, password: str, totp_code: str) -> Session:
        """Check password and one-time code; return a session or raise a clear refusal."""
        now = self.clock.now()
        with self.transaction("auth.login", user_id) as con:
            row = con.execute(
                "SELECT password_hash, totp_secret, totp_key_version, last_totp_step, roles, disabled,"
                " failed_logins, locked_until FROM users WHERE user_id = ?",
                [user_id],
            ).fetchone()
        # Verify outside the lock: scrypt is deliberately slow.
        refusal: WorkbenchError | None = None
        step: int | None = None
        failed = False
        if row is None:
            credentials.dummy_verify(password)  # same time as a real check
            refusal, failed = _bad_credentials(), False
        else:
            pw_hash, secret_ct, secret_v, last_step, _roles, disabled, _failures, locked_until = row
            if disabled:
                refusal = AccountDisabled(
                    "This user ID has been disabled; ask the administrator.",
                    "このユーザーIDは無効化されています。システム管理者に連絡してください。",
                )
            elif locked_until is not None and locked_until > now:
                wait = int((locked_until - now).total_seconds()) + 1
                refusal = AccountLocked(
                    f"Too many failed log-ins; this user ID is locked for another {wait} s.",
                    f"ログインの失敗が続いたため、このユーザーIDはあと {wait} 秒ロックされています。",
                    retry_after_seconds=wait,
                )
            elif not credentials.verify_password(password, pw_hash):
                refusal, failed = _bad_credentials(), True
            else:
                secret = self.totp_cipher(secret_v).decrypt(secret_ct, user_id, table="users", column="totp_secret")
                step = credentials.verify_totp(secret, totp_code, now, last_used_step=None)
                if step is None:
                    refusal, failed = AuthenticationFailed(
                        "The one-time code is wrong or has expired; enter the code now shown in your authenticator.",
                        "ワンタイムコードが誤っているか期限切れです。認証アプリに表示中のコードを入力してください。",
                    ), True
                elif last_step is not None and step <= last_step:
                    refusal, failed = AuthenticationFailed(
                        "This one-time code has already been used; wait for the next code.",
                        "このワンタイムコードは使用済みです。次のコードが表示されるまでお待ちください。",
                    ), True
        with self.transaction("auth.login", user_id) as con:
            if row is not None and failed:
                failures = con.execute(
                    "UPDATE users SET failed_logins = failed_logins + 1 WHERE user_id = ? RETURNING failed_logins",
                    [user_id],
                ).fetchone()[0]  # type: ignore[index]
                delay = credentials.lockout_delay(failures)
                if delay:
                    con.execute(
                        "UPDATE users SET locked_until = ? WHERE user_id = ?",
                        [now + dt.timedelta(seconds=delay), user_id],
                    )
            elif refusal is None:
                # Re-check the step under the lock: two logins with one code must not both win.
                updated = con.execute(
                    "UPDATE users SET failed_logins = 0, locked_until = NULL, last_totp_step = ?, last_login_at = ?"
                    " WHERE user_id = ? AND (last_totp_step IS NULL OR last_totp_step < ?) RETURNING user_id",
                    [step, now, user_id, step],
                ).fetchall()
                if not updated:
                    refusal = AuthenticationFailed(
                        "This one-time code has already been used; wait for the next code.",
                        "このワンタイムコードは使用済みです。次のコードが表示されるまでお待ちください。",
                    )
            outcome = "ok" if refusal is None else "denied"
            audit.append(
                con, key=self.keyring.audit_key(), at=now, user_id=user_id, operation="auth.login",
                outcome=outcome, params={} if refusal is None else {"reason": refusal.code},
            )
        if refusal is not None:
            raise refusal
        assert row is not None
        return Session(self, user_id, tuple(row[4]), now)


def _resolve(root: Path, path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else root / p


def _bad_credentials() -> AuthenticationFailed:
    return AuthenticationFailed(
        "The user ID or password is wrong.",
        "ユーザーIDまたはパスワードが誤っています。",
    )



class Session:
    """A logged-in user: identity, roles, permissions, idle timer."""

    def __init__(self, workspace: Workspace, user_id: str, roles: tuple[str, ...], now: dt.datetime) -> None:
        self.workspace = workspace
        self.user_id = user_id
        self.roles = roles
        self.permissions = permissions_for(roles)
        self.session_id = uuid.uuid4().hex
        self.last_activity = now
        self.closed = False

    def __repr__(self) -> str:
        return f"Session(user_id={self.user_id!r}, roles={list(self.roles)!r})"

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    def _touch(self, operation: str) -> dt.datetime:
        ws = self.workspace
        now = ws.clock.now()
        if self.closed:
            raise SessionExpired("You have logged out; log in again.", "ログアウト済みです。再度ログインしてください。")
        idle = dt.timedelta(minutes=ws.settings.idle_timeout_minutes)
        if now - self.last_activity > idle:
            self.closed = True
            ws.audit_only(self.user_id, "auth.idle_timeout", "ok", attempted=operation)
            raise SessionExpired(
                f"Logged out after {ws.settings.idle_timeout_minutes} minutes without use; log in again.",
                f"{ws.settings.idle_timeout_minutes} 分間操作がなかったため"
                "ログアウトしました。再度ログインしてください。",
            )
        self.last_activity = now
        return now

    def logout(self) -> None:
        if not self.closed:
            self.closed = True
            self.workspace.audit_only(self.user_id, "auth.logout", "ok")

    def require(self, permission: Permission, operation: str, *, target: str | None = None) -> dt.datetime:
        """Refuse (and audit the denial) unless the session is live and holds ``permission``."""
        now = self._touch(operation)
        if permission not in self.permissions:
            self.workspace.audit_only(self.user_id, operation, "denied", permission=permission.value, target=target)
            raise PermissionDenied(
                f"You do not have the permission {permission.value!r} needed for {operation}.",
                f"「{operation}」に必要な権限 {permission.value!r} がありません。",
                permission=permission.value,
            )
        return now

    def run(self, info: ServiceInfo, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        ws = self.workspace
        now = self.require(info.permission, info.operation, target=info.target_of(args, kwargs))
        try:
            with ws.transaction(info.operation, self.user_id) as con:
                unit = Unit(con=con, session=self, now=now)
                result = info.function(unit, *args, **kwargs)
                audit.append(
                    con, key=ws.keyring.audit_key(), at=now, user_id=self.user_id,
                    operation=info.operation, outcome="ok", target=unit.target, params=unit.params,
                )
        except WorkbenchError as exc:
            if exc.code not in ("busy", "audit_failure"):
                ws.audit_only(self.user_id, info.operation, "refused", target=info.target_of(args, kwargs),
                              **{**_safe(exc.details), "error": exc.code})
            raise
        return result


def _safe(details: dict[str, Any]) -> dict[str, Any]:
    """Only counts, codes and line numbers from an error's details go into the log."""
    return {k: v for k, v in details.items() if isinstance(v, (int, float, bool)) or k in ("reason", "permission")}


@dataclass
class Unit:
    """What a service function gets: the open transaction, who is calling, and when."""

    con: duckdb.DuckDBPyConnection
    session: Session
    now: dt.datetime
    #: The identifier the audit record is about (pseudonymised when written).
    target: str | None = None
    #: Non-personal parameters and counts for the audit record.
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def workspace(self) -> Workspace:
        return self.session.workspace

    @property
    def user_id(self) -> str:
        return self.session.user_id

    def note(self, target: str | None = None, **params: Any) -> None:
        """Add to this call's audit record."""
        if target is not None:
            self.target = target
        self.params.update(params)


def service(
    permission: Permission, *, operation: str | None = None, target: str | None = None
) -> Callable[[Callable[Concatenate[Unit, P], R]], Callable[Concatenate[Session, P], R]]:
    """Declare a service method: the permission it needs, the audited operation name, and
    (``target``) the argument naming who the call is about, recorded even when denied."""

    def decorate(fn: Callable[Concatenate[Unit, P], R]) -> Callable[Concatenate[Session, P], R]:
        name = operation or f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__name__}"
        if name in SERVICES:
            raise RuntimeError(f"duplicate service {name}")
        info = ServiceInfo(name, permission, fn, target)
        SERVICES[name] = info

        @functools.wraps(fn)
        def call(session: Session, /, *args: P.args, **kwargs: P.kwargs) -> R:
            return session.run(info, args, kwargs)  # type: ignore[no-any-return,unused-ignore]

        call.service_info = info  # type: ignore[attr-defined]
        return call

    return decorate
