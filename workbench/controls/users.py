"""User IDs, roles and the yearly review (C5, C6; DESIGN §6).

One user ID per person.  Adding a user enrols a password and a TOTP secret (the
otpauth URI is shown once, for the authenticator app) and gives *no* role: a role
is granted only with a second person's approval bound to (user, role), because a
role grant opens personal data (REQUIREMENTS §6).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from workbench.core import approvals, credentials
from workbench.core.errors import InvalidInput, NotFound
from workbench.core.paging import ListSpec, Page, PageRequest, SortKey, fetch_page
from workbench.core.permissions import ROLE_LABELS, Permission, Role, role_conflicts
from workbench.core.workspace import Unit, Workspace, service

__all__ = [
    "Enrolment",
    "UserInfo",
    "add",
    "change_password",
    "check_user_id",
    "create_initial_user",
    "disable",
    "grant",
    "list_users",
    "request_grant",
    "review",
    "revoke",
    "user_page",
]

GRANT_KIND = "role_grant"
approvals.register_kind(GRANT_KIND, "役割の付与", "role grant")


@dataclass(frozen=True)
class UserInfo:
    user_id: str
    display_name: str
    roles: tuple[str, ...]
    disabled: bool
    locked: bool
    created_at: dt.datetime
    last_login_at: dt.datetime | None
    reviewed_at: dt.datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Enrolment:
    """What the new user needs once: the otpauth URI for the authenticator app."""

    user_id: str
    otpauth_uri: str

    def to_dict(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "otpauth_uri": self.otpauth_uri}


def check_user_id(user_id: str) -> None:
    if not user_id or not user_id.isascii() or not all(c.isalnum() or c in "._-" for c in user_id) or len(user_id) > 32:
        raise InvalidInput(
            "A user ID is 1–32 ASCII letters, digits, '.', '_' or '-'.",
            "ユーザーIDは半角英数字と . _ - の 1〜32 文字です。",
        )


def _check_password(password: str, user_id: str) -> None:
    problems = credentials.check_password_policy(password, user_id)
    if problems:
        raise InvalidInput(
            "The password is not acceptable: " + "; ".join(en for _, en in problems),
            "パスワードが要件を満たしていません: " + "、".join(ja for ja, _ in problems),
        )


def _insert_user(
    ws: Workspace, con: Any, *, user_id: str, display_name: str, password: str, roles: list[str], by: str, now: dt.datetime
) -> Enrolment:
    check_user_id(user_id)
    _check_password(password, user_id)
    if con.execute("SELECT 1 FROM users WHERE user_id = ?", [user_id]).fetchone():
        raise InvalidInput(f"The user ID {user_id} already exists.", f"ユーザーID {user_id} はすでに存在します。")
    secret = credentials.new_totp_secret()
    cipher = ws.totp_cipher()
    con.execute(
        "INSERT INTO users (user_id, display_name, password_hash, totp_secret, totp_key_version, roles,"
        " created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            user_id, display_name, credentials.hash_password(password, n=ws.settings.scrypt_n),
            cipher.encrypt(secret, user_id, table="users", column="totp_secret"), cipher.key_version,
            roles, now, by,
        ],
    )
    return Enrolment(user_id, credentials.otpauth_uri(secret, user_id))


def _check_compatible(user_id: str, roles: list[str] | tuple[str, ...]) -> None:
    """Refuse a set of roles that holds an incompatible pair (separation of duties)."""
    conflicts = role_conflicts(roles)
    if conflicts:
        a, b, en, ja = conflicts[0]
        raise InvalidInput(
            f"{user_id} cannot hold both {a} and {b}: {en}.",
            f"{user_id} は {ROLE_LABELS[Role(a)][0]} と {ROLE_LABELS[Role(b)][0]} を兼ねられません（{ja}）。",
            reason="incompatible_roles",
        )


def create_initial_user(ws: Workspace, user_id: str, display_name: str, password: str, roles: list[str]) -> Enrolment:
    """Bootstrap a user without a session (``workbench init`` and the demo), audited as ``system``."""
    from workbench.core import audit

    for r in roles:
        Role(r)
    _check_compatible(user_id, roles)
    now = ws.clock.now()
    with ws.transaction("users.bootstrap", "system") as con:
        enrolment = _insert_user(ws, con, user_id=user_id, display_name=display_name, password=password,
                                 roles=roles, by="system", now=now)
        audit.append(con, key=ws.keyring.audit_key(), at=now, user_id="system", operation="users.bootstrap",
                     outcome="ok", target=user_id, params={"roles": roles})
    return enrolment


@service(Permission.USERS_MANAGE, target="user_id")
def add(unit: Unit, user_id: str, display_name: str, password: str) -> Enrolment:
    """Create a user ID with no roles; returns the TOTP enrolment URI (show it once)."""
    unit.note(target=user_id)
    return _insert_user(unit.workspace, unit.con, user_id=user_id, display_name=display_name,
                        password=password, roles=[], by=unit.user_id, now=unit.now)


def _exists(unit: Unit, user_id: str) -> tuple[Any, ...]:
    row = unit.con.execute("SELECT roles, disabled FROM users WHERE user_id = ?", [user_id]).fetchone()
    if row is None:
        raise NotFound(f"No user ID {user_id}.", f"ユーザーID {user_id} は存在しません。")
    return tuple(row)


@service(Permission.USERS_MANAGE, target="user_id")
def disable(unit: Unit, user_id: str) -> UserInfo:
    """Disable a user ID at once (retirement, transfer).  It can no longer log in."""
    unit.note(target=user_id)
    _exists(unit, user_id)
    unit.con.execute("UPDATE users SET disabled = TRUE WHERE user_id = ?", [user_id])
    return _info(unit, user_id)


_INFO = "user_id, display_name, roles, disabled, coalesce(locked_until > ?, FALSE), created_at, last_login_at, reviewed_at"


def _info(unit: Unit, user_id: str) -> UserInfo:
    row = unit.con.execute(f"SELECT {_INFO} FROM users WHERE user_id = ?", [unit.now, user_id]).fetchone()
    assert row is not None
    return _to_info(row)


def _to_info(row: tuple[Any, ...]) -> UserInfo:
    values = list(row)
    values[2] = tuple(values[2])
    return UserInfo(*values)


@service(Permission.USERS_MANAGE)
def list_users(unit: Unit) -> list[UserInfo]:
    rows = unit.con.execute(f"SELECT {_INFO} FROM users ORDER BY user_id", [unit.now]).fetchall()
    unit.note(count=len(rows))
    return [_to_info(r) for r in rows]


#: The user list (ユーザー一覧) as a list paging in the database.
USER_LIST = ListSpec(
    "ユーザー一覧", "user list", "users",
    sorts={"user_id": SortKey("user_id", "ユーザーID", "user ID"), "display_name": SortKey("display_name", "氏名", "name"),
           "last_login_at": SortKey("last_login_at", "最終ログイン", "last login"),
           "created_at": SortKey("created_at", "登録日時", "created")},
    default_sort="user_id", tiebreak="user_id", search=("user_id", "display_name", "array_to_string(roles, ',')"),
    filters={"state": ("CASE WHEN disabled THEN 'disabled' ELSE 'active' END", {"active": 1, "disabled": 1})},
)


@service(Permission.USERS_MANAGE)
def user_page(unit: Unit, request: PageRequest) -> Page[UserInfo]:
    """One page of the users, sorted and filtered in the database (the total is of every match)."""
    page = fetch_page(unit, USER_LIST, request, _INFO.replace("?", "$now"), params={"now": unit.now})
    return page.map(_to_info)


@service(Permission.USERS_REVIEW)
def review(unit: Unit) -> dict[str, Any]:
    """An overview for the yearly review (C6): every user, roles, last login, and who is overdue.

    It records nothing: an ID counts as reviewed only through the signed-off review of
    :mod:`workbench.controls.idreview` (``start_review`` → ``request_signoff`` → a second person's
    approval → ``sign_off``), the one path that marks IDs reviewed (issue 18 item 5).
    """
    year_ago = unit.now - dt.timedelta(days=365)
    users = [_to_info(r) for r in unit.con.execute(f"SELECT {_INFO} FROM users ORDER BY user_id", [unit.now]).fetchall()]
    active = [u for u in users if not u.disabled]
    overdue = [u.user_id for u in active if u.reviewed_at is None or u.reviewed_at < year_ago]
    unused = [u.user_id for u in active if u.last_login_at is None or u.last_login_at < unit.now - dt.timedelta(days=90)]
    # IDs that hold an incompatible pair (granted before the rule, or edited in): revoke one.
    conflicting = {u.user_id: [[a, b] for a, b, _, _ in role_conflicts(u.roles)] for u in active if role_conflicts(u.roles)}
    unit.note(active=len(active), overdue=len(overdue))
    return {
        "users": [u.to_dict() for u in users],
        "active": len(active),
        "overdue_review": overdue,
        "unused_90_days": unused,
        "incompatible_roles": conflicting,
    }


def _grant_params(user_id: str, role: str) -> dict[str, str]:
    try:
        Role(role)
    except ValueError:
        raise InvalidInput(
            f"Unknown role {role!r}; roles are: {', '.join(r.value for r in Role)}.",
            f"不明な役割 {role!r} です。役割: {', '.join(ROLE_LABELS[r][0] for r in Role)}",
        ) from None
    return {"user_id": user_id, "role": role}


@service(Permission.USERS_MANAGE, target="user_id")
def request_grant(unit: Unit, user_id: str, role: str) -> approvals.Approval:
    """Ask a second person to approve giving ``role`` to ``user_id``."""
    params = _grant_params(user_id, role)
    unit.note(target=user_id, role=role)
    roles, disabled = _exists(unit, user_id)
    if disabled:
        raise InvalidInput(f"{user_id} is disabled.", f"{user_id} は無効化されています。")
    if role in roles:
        raise InvalidInput(f"{user_id} already has the role {role}.", f"{user_id} はすでに役割 {role} を持っています。")
    _check_compatible(user_id, [*roles, role])
    label = ROLE_LABELS[Role(role)]
    return approvals.request(unit, GRANT_KIND, params, {"user_id": user_id, "role": role, "role_ja": label[0]},
                             beneficiary=user_id)


@service(Permission.USERS_MANAGE, target="user_id")
def grant(unit: Unit, user_id: str, role: str, *, approval_id: str) -> UserInfo:
    """Give the role, consuming the approval for exactly (user, role)."""
    params = _grant_params(user_id, role)
    unit.note(target=user_id, role=role)
    roles, _ = _exists(unit, user_id)
    _check_compatible(user_id, [*roles, role])  # a role granted since the request may conflict now
    approvals.consume(unit, approval_id, GRANT_KIND, params)
    unit.con.execute("UPDATE users SET roles = list_distinct(list_append(roles, ?)) WHERE user_id = ?", [role, user_id])
    return _info(unit, user_id)


@service(Permission.USERS_MANAGE, target="user_id")
def revoke(unit: Unit, user_id: str, role: str) -> UserInfo:
    """Remove a role at once (no approval needed to take access away)."""
    _grant_params(user_id, role)
    unit.note(target=user_id, role=role)
    _exists(unit, user_id)
    unit.con.execute("UPDATE users SET roles = list_filter(roles, r -> r <> ?) WHERE user_id = ?", [role, user_id])
    return _info(unit, user_id)


@service(Permission.SELF)
def change_password(unit: Unit, old_password: str, new_password: str) -> None:
    row = unit.con.execute("SELECT password_hash FROM users WHERE user_id = ?", [unit.user_id]).fetchone()
    if row is None or not credentials.verify_password(old_password, row[0]):
        raise InvalidInput("The current password is wrong.", "現在のパスワードが誤っています。")
    _check_password(new_password, unit.user_id)
    unit.con.execute(
        "UPDATE users SET password_hash = ? WHERE user_id = ?",
        [credentials.hash_password(new_password, n=unit.workspace.settings.scrypt_n), unit.user_id],
    )
