"""Set hours and registered terminals (C13): when, and from where, the workbench may be used.

利用時間の制限と端末の登録。評価書は「取扱時間の制限」と「登録した端末からのみの利用」を
約束している。Both are data in the database (:mod:`workbench.core.access_rules`), not code:

* **working hours** by weekday, in Japan time; a user may work outside them only under an
  **exception** for one period, requested by an administrator and approved by a second
  person;
* **registered terminals**: a network address or range, or a client certificate's SHA-256
  fingerprint passed on by the TLS proxy.  The server itself (127.0.0.1, ::1) is
  registered when a workspace is created.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import re
import uuid
from dataclasses import dataclass
from typing import Any

from workbench.core import approvals, audit
from workbench.core.access_rules import (
    AccessPolicy,
    HourException,
    Terminal,
    check_hours,
    load_policy,
    record_hours,
    within_set_hours,
)
from workbench.core.clock import JST
from workbench.core.errors import InvalidInput, NotFound
from workbench.core.permissions import Permission
from workbench.core.workspace import Unit, service

__all__ = [
    "EXCEPTION_KIND",
    "HoursChange",
    "grant_exception",
    "policy",
    "preview_hours",
    "register_terminal",
    "remove_terminal",
    "request_exception",
    "set_hours",
]

EXCEPTION_KIND = "hours_exception"
approvals.register_kind(EXCEPTION_KIND, "利用時間外の利用", "use outside the set hours")
#: The longest single exception a second person may approve.
MAX_EXCEPTION = dt.timedelta(days=14)


# -- services ---------------------------------------------------------------------------------


@service(Permission.SELF)
def policy(unit: Unit) -> AccessPolicy:
    """The hours, running exceptions and registered terminals (everyone may read their rules)."""
    return load_policy(unit.con, unit.now)


@dataclass(frozen=True)
class HoursChange:
    """What a change of the set hours does now (C13): whether it closes the office at this moment,
    for whom among those working, and for the administrator making it."""

    closes_now: bool
    closes_for_you: bool
    #: User IDs active within the idle limit whose sessions the change ends now (no running exception).
    ended: tuple[str, ...]
    message_ja: str
    message_en: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _change(unit: Unit, hours: dict[int, tuple[dt.time, dt.time] | None]) -> HoursChange:
    hours = check_hours(hours)  # whatever the caller sent: garbage is refused before anything is read
    current = load_policy(unit.con, unit.now)
    merged = {d: w for d, w in current.hours.items() if d not in hours} | {d: w for d, w in hours.items() if w is not None}
    after = dataclasses.replace(current, hours=merged)
    since = unit.now - dt.timedelta(minutes=unit.workspace.settings.idle_timeout_minutes)
    key = unit.workspace.keyring.audit_key()
    people = [u for (u,) in unit.con.execute(
        "SELECT user_id FROM users WHERE NOT disabled AND user_id NOT IN (SELECT user_id FROM batch_accounts)").fetchall()]
    by_ref = {audit.pseudonym(key, u): u for u in people}
    active = {by_ref[r] for (r,) in unit.con.execute(
        "SELECT DISTINCT user_ref FROM audit_log WHERE logged_at >= ?", [since.astimezone(dt.UTC).isoformat()]).fetchall()
        if r in by_ref} | {unit.user_id}
    ended = tuple(sorted(u for u in active if current.within_hours(u, unit.now) and not after.within_hours(u, unit.now)))
    closes_now = within_set_hours(current.hours, unit.now) and not within_set_hours(merged, unit.now)
    you = unit.user_id in ended
    if ended:
        others = len(ended) - (1 if you else 0)
        ja = (f"この変更で今は利用時間外になり、利用中の {len(ended):,} 人" + ("（あなたを含む）" if you else "")
              + "のセッションがすぐに終了します。" + ("あなた自身もログアウトされ、時間内になるまでこの画面からは戻せません"
              "（サーバーのコマンド `workbench access hours` でのみ変更できます）。" if you else ""))
        en = (f"This change closes the office now: {len(ended):,} sessions end at once"
              + (f", yours included ({others:,} others)" if you else "") + "."
              + (" You will be logged out and can undo it only with `workbench access hours` on the server." if you else ""))
    else:
        ja, en = "この変更で今すぐ終了するセッションはありません。", "This change ends no session now."
    return HoursChange(closes_now, you, ended, ja, en)


@service(Permission.USERS_MANAGE)
def preview_hours(unit: Unit, hours: dict[int, tuple[dt.time, dt.time] | None]) -> HoursChange:
    """What changing the hours would do now, before anything is changed (C13)."""
    change = _change(unit, hours)
    unit.note(closes_now=change.closes_now, sessions_ended=len(change.ended))
    return change


@service(Permission.USERS_MANAGE)
def set_hours(unit: Unit, hours: dict[int, tuple[dt.time, dt.time] | None], *,
              confirm_ending: bool = False) -> AccessPolicy:
    """Change the set hours for the weekdays given; other weekdays stay as they are.

    A change that ends anyone's session now (the administrator's own included) is refused unless
    ``confirm_ending`` says the person saw :func:`preview_hours`'s effect and means it."""
    hours = check_hours(hours)
    change = _change(unit, hours)
    if change.ended and not confirm_ending:
        raise InvalidInput(change.message_en + " Confirm to go ahead; nothing was changed.",
                           change.message_ja + "実行するには確認が必要です。何も変更していません。",
                           reason="ends_sessions", sessions=len(change.ended))
    for day, window in hours.items():
        unit.con.execute("DELETE FROM working_hours WHERE weekday = ?", [day])
        if window is not None:
            unit.con.execute("INSERT INTO working_hours VALUES (?, ?, ?)", [day, window[0], window[1]])
        # the history keeps the hours in force until now, so older records are judged by them
        record_hours(unit.con, day, window, at=unit.now, user_id=unit.user_id)
    result = load_policy(unit.con, unit.now)
    unit.note(hours=result.to_dict()["hours"], sessions_ended=len(change.ended))
    return result


@service(Permission.USERS_MANAGE, target="user_id")
def request_exception(unit: Unit, user_id: str, starts_at: dt.datetime, ends_at: dt.datetime,
                      reason: str) -> approvals.Approval:
    """Ask a second person to approve use outside the set hours for one user and period."""
    params = _exception_params(unit, user_id, starts_at, ends_at, reason)
    unit.note(target=user_id)
    return approvals.request(unit, EXCEPTION_KIND, params, {
        "user_id": user_id, "starts_at": params["starts_at"], "ends_at": params["ends_at"], "reason": reason,
        "summary_ja": f"{user_id} の時間外利用（{_jst(starts_at)} から {_jst(ends_at)} まで）",
    }, beneficiary=user_id)


@service(Permission.USERS_MANAGE, target="user_id")
def grant_exception(unit: Unit, user_id: str, starts_at: dt.datetime, ends_at: dt.datetime, reason: str,
                    *, approval_id: str) -> HourException:
    """Carry out an approved exception (the approval must match exactly)."""
    params = _exception_params(unit, user_id, starts_at, ends_at, reason)
    approval = approvals.consume(unit, approval_id, EXCEPTION_KIND, params)
    if approval.decided_by == user_id:
        raise InvalidInput("An exception cannot be approved by the person it is for.",
                           "時間外利用は、その本人が承認することはできません。", reason="self_benefit")
    exception_id = "H" + uuid.uuid4().hex[:11].upper()
    unit.con.execute("INSERT INTO hour_exceptions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     [exception_id, user_id, starts_at, ends_at, reason, approval_id, unit.user_id, unit.now])
    unit.note(target=user_id, exception_id=exception_id)
    return next(e for e in load_policy(unit.con, unit.now).exceptions if e.exception_id == exception_id)


def _exception_params(unit: Unit, user_id: str, starts_at: dt.datetime, ends_at: dt.datetime,
                      reason: str) -> dict[str, str]:
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise InvalidInput("Give times with their time zone.", "日時はタイムゾーン付きで指定してください。")
    if not ends_at > starts_at or ends_at - starts_at > MAX_EXCEPTION or ends_at <= unit.now:
        raise InvalidInput(
            f"An exception must end after it starts, in the future, and last at most {MAX_EXCEPTION.days} days.",
            f"時間外利用の期間は、開始より後に終わり、未来を含み、{MAX_EXCEPTION.days} 日以内にしてください。",
        )
    if not reason.strip() or len(reason) > 200:
        raise InvalidInput("Give a reason (at most 200 characters).", "理由を200文字以内で入力してください。")
    if unit.con.execute("SELECT 1 FROM users WHERE user_id = ?", [user_id]).fetchone() is None:
        raise NotFound(f"No user ID {user_id}.", f"ユーザーID {user_id} はありません。")
    return {"user_id": user_id, "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat(),
            "reason": reason.strip()}


def _jst(at: dt.datetime) -> str:
    return f"{at.astimezone(JST):%Y-%m-%d %H:%M}"


@service(Permission.USERS_MANAGE)
def register_terminal(unit: Unit, kind: str, value: str, label: str) -> Terminal:
    """Register a terminal by network address/range or client-certificate fingerprint."""
    value = value.strip()
    if kind == "address":
        try:
            value = str(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise InvalidInput(f"{value[:60]!r} is not an IP address or range.",
                               f"{value[:60]!r} は IP アドレスまたはアドレス範囲ではありません。") from None
    elif kind == "certificate":
        value = value.replace(":", "").lower()
        if not re.fullmatch(r"[0-9a-f]{64}|[0-9a-f]{40}", value):
            raise InvalidInput("A certificate fingerprint is 64 (SHA-256) or 40 (SHA-1, as nginx gives it) hexadecimal digits.",
                               "証明書のフィンガープリントは16進数64桁（SHA-256）または40桁（SHA-1）です。")
    else:
        raise InvalidInput("A terminal is registered by address or certificate.",
                           "端末は address（アドレス）か certificate（証明書）で登録します。")
    if not label.strip() or len(label) > 100:
        raise InvalidInput("Give the terminal a label (at most 100 characters).", "端末名を100文字以内で入力してください。")
    terminal_id = "T" + uuid.uuid4().hex[:8].upper()
    unit.con.execute("INSERT INTO terminals VALUES (?, ?, ?, ?, ?, ?, NULL)",
                     [terminal_id, kind, value, label.strip(), unit.user_id, unit.now])
    unit.note(terminal_id=terminal_id, kind=kind)
    return next(t for t in load_policy(unit.con, unit.now).terminals if t.terminal_id == terminal_id)


@service(Permission.USERS_MANAGE)
def remove_terminal(unit: Unit, terminal_id: str) -> None:
    removed = unit.con.execute(
        "UPDATE terminals SET removed_at = ? WHERE terminal_id = ? AND removed_at IS NULL RETURNING terminal_id",
        [unit.now, terminal_id]).fetchall()
    if not removed:
        raise NotFound(f"No registered terminal {terminal_id}.", f"登録端末 {terminal_id} はありません。")
    unit.note(terminal_id=terminal_id)
