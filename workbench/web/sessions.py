"""Web sessions: the server's side of a login, and the kernel tickets that carry it (DESIGN §10).

ウェブセッション。The web server, not a widget, decides who someone is.  A person logs in
on the server's own page with :meth:`WebSessions.login` (the same
:meth:`Workspace.login`, lock-out and audit records as the command line); the browser
gets a random cookie whose SHA-256 is the key of a :class:`WebSession` held in the
server's memory only.  Every request looks the cookie up with :meth:`WebSessions.lookup`,
which also applies the idle limit, the set hours and the registered terminal (C13), so a
session ends on the first request after any of them fails.

A dashboard kernel belongs to one web session: the server issues a one-time **kernel
ticket** bound to the kernel's ID (:func:`issue_kernel_ticket`), passes it to the kernel
in its environment, and the kernel exchanges it once for a :class:`Session` of the same
person (:func:`redeem_kernel_ticket`).  Only that session's cookie may reach the kernel;
ending the session (logout, idle limit, end of hours, server restart) shuts it down.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from workbench import pending
from workbench.core import access_rules, audit, tickets
from workbench.core.access_rules import AccessPolicy
from workbench.core.errors import AccessRefused, SessionExpired, WorkbenchError
from workbench.core.workspace import Session, Workspace

__all__ = [
    "TICKET_LIFETIME",
    "WebSession",
    "WebSessions",
    "issue_kernel_ticket",
    "redeem_kernel_ticket",
]

#: A kernel must claim its ticket this soon after the server starts it.
TICKET_LIFETIME = dt.timedelta(minutes=2)
#: Kernel tickets: found by their hash, bound to the kernel's ID, claimed by setting ``used_at``.
KERNEL_TICKETS = tickets.TicketKind("kernel_tickets", key="ticket_hash", bound="kernel_id",
                                    unclaimed="used_at IS NULL", claim="used_at = ?")
#: How many ended sessions' reasons the server remembers, to tell their browsers why.
ENDED_KEPT = 10_000
#: How many replaced kernels a session remembers, to tell their old tabs the session moved.
MOVED_KEPT = 50
#: How long the server trusts its copy of the access policy before reading it again.
POLICY_TTL = dt.timedelta(seconds=60)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


@dataclass(eq=False)
class WebSession:
    """One logged-in browser: the person's session in the server and their kernel."""

    session: Session
    token_hash: str
    address: str | None
    fingerprint: str | None
    terminal_id: str | None
    last_seen: dt.datetime
    kernels: set[str] = field(default_factory=set)
    ended: str | None = None
    #: Kernels this session had before a newer tab (or a reload) took over: their pages are told
    #: "moved to another tab" (issue 20 item 3).  Bounded; memory only.
    moved: set[str] = field(default_factory=set)

    @property
    def session_id(self) -> str:
        return self.session.session_id

    @property
    def user_id(self) -> str:
        return self.session.user_id


class WebSessions:
    """The server's table of live web sessions (memory only: a restart ends them all).

    Methods that touch the database (:meth:`login`, :meth:`end`, :meth:`kernel_ticket`)
    block and are serialised by one lock; the server runs them off its event loop.
    :meth:`lookup` only reads memory, so every request stays cheap."""

    def __init__(self, workspace: Workspace, *, on_end: Callable[[str], object] | None = None) -> None:
        self.workspace = workspace
        #: Told the ID of every session that ends (the data server drops its kernels' tokens).
        self.on_end = on_end
        self._sessions: dict[str, WebSession] = {}
        self._db = threading.Lock()
        self._mem = threading.RLock()
        self._policy: AccessPolicy | None = None
        self._policy_read: dt.datetime | None = None
        #: cookie hash → why its session ended, for the login page to say (bounded, memory only).
        self._ended: dict[str, str] = {}

    # -- the access policy, read at most once a minute ----------------------------------
    def policy(self, *, refresh: bool = False) -> AccessPolicy:
        now = self.workspace.clock.now()
        if refresh or self._policy is None or self._policy_read is None or now - self._policy_read > POLICY_TTL:
            with self._db, self.workspace.transaction("access.policy", "web") as con:
                self._policy = access_rules.load_policy(con, now)
            self._policy_read = now
        return self._policy

    # -- login and logout -------------------------------------------------------------------
    def login(self, user_id: str, password: str, totp_code: str, *, address: str | None,
              fingerprint: str | None = None) -> tuple[str, WebSession]:
        """Log in through the web server; returns the cookie value and the new session."""
        with self._db:
            session = self.workspace.login(user_id, password, totp_code, web=True, address=address,
                                           fingerprint=fingerprint)
            now = self.workspace.clock.now()
            with self.workspace.transaction("auth.web_session", user_id) as con:
                policy = access_rules.load_policy(con, now)
                terminal = policy.terminal_for(address, fingerprint)
                con.execute("INSERT INTO web_sessions VALUES (?, ?, ?, ?, NULL, NULL)",
                            [session.session_id, user_id, terminal.terminal_id if terminal else None, now])
            # The hours just read are the newest: kept, so a session opened right after the hours were
            # changed is not judged by the copy read before the change.
            self._policy, self._policy_read = policy, now
        token = secrets.token_urlsafe(32)
        web = WebSession(session, _hash(token), address, fingerprint, terminal.terminal_id if terminal else None, now)
        with self._mem:
            self._sessions[web.token_hash] = web
        return token, web

    def lookup(self, token: str | None, *, address: str | None, fingerprint: str | None = None,
               touch: bool = True) -> WebSession | None:
        """The live session for this cookie, or ``None``.  A session past its idle limit or
        its hours, or seen from another terminal, is marked ended here (see :meth:`due`)."""
        if not token:
            return None
        with self._mem:
            web = self._sessions.get(_hash(token))
        if web is None or web.ended is not None:
            return None
        now = self.workspace.clock.now()
        reason = self._reason_to_end(web, now, address=address, fingerprint=fingerprint)
        if reason is not None:
            web.ended = web.ended or reason
            return None
        if touch:
            web.last_seen = now
            web.session.last_activity = now
        return web

    def _reason_to_end(self, web: WebSession, now: dt.datetime, *, address: str | None,
                       fingerprint: str | None) -> str | None:
        idle = dt.timedelta(minutes=self.workspace.settings.idle_timeout_minutes)
        if address != web.address or fingerprint != web.fingerprint:
            return "terminal_changed"
        try:
            access_rules.check(self.policy(), web.user_id, now, web=True, address=address, fingerprint=fingerprint)
        except AccessRefused as exc:
            return str(exc.details.get("reason", "access_refused"))
        if now - web.last_seen > idle:
            return "idle"
        return None

    def due(self) -> list[WebSession]:
        """Sessions to end now: marked ended by a lookup, or idle past the limit."""
        now = self.workspace.clock.now()
        idle = dt.timedelta(minutes=self.workspace.settings.idle_timeout_minutes)
        with self._mem:
            live = [w for w in self._sessions.values() if w.ended is None]
        for web in live:
            # The hours first: a person whose hours ended is told so, even if she was also idle by then
            # (her screen ended at the hours' end, so she stopped using it).
            try:
                access_rules.check(self.policy(), web.user_id, now, web=True, address=web.address,
                                   fingerprint=web.fingerprint)
            except AccessRefused as exc:
                web.ended = str(exc.details.get("reason", "access_refused"))
                continue
            if now - web.last_seen > idle:
                web.ended = "idle"
        with self._mem:
            return [w for w in self._sessions.values() if w.ended is not None]

    def end(self, web: WebSession, reason: str) -> set[str]:
        """End a session (audited); returns the kernels the server must shut down."""
        with self._mem:
            self._sessions.pop(web.token_hash, None)
            kernels, web.kernels = set(web.kernels), set()
            web.ended = web.ended or reason
            self._ended[web.token_hash] = web.ended
            while len(self._ended) > ENDED_KEPT:
                self._ended.pop(next(iter(self._ended)))
        if self.on_end is not None:
            self.on_end(web.session_id)
        operation = {"logout": "auth.logout", "idle": "auth.idle_timeout"}.get(web.ended, "auth.session_ended")
        with self._db:
            web.session.logout(operation=operation, reason=web.ended, kernels=len(kernels))
            with self.workspace.transaction("auth.web_session", web.user_id) as con:
                con.execute("UPDATE web_sessions SET ended_at = ?, end_reason = ? WHERE session_id = ?",
                            [self.workspace.clock.now(), web.ended, web.session_id])
                if web.ended == "logout":  # a deliberate logout: the next login starts at the inbox
                    pending.forget_place(con, web.user_id)
        return kernels

    def ended_reason(self, token: str | None) -> str | None:
        """Why the session of this cookie is over (``None`` while it lives or with no cookie).
        A cookie this server never issued — its session ended with a restart — is ``"ended"``."""
        if not token:
            return None
        key = _hash(token)
        with self._mem:
            web = self._sessions.get(key)
            if web is not None:
                return web.ended
            return self._ended.get(key, "ended")

    def close_stale(self) -> int:
        """At start-up: sessions a previous server left open ended with it; record that."""
        now = self.workspace.clock.now()
        with self._db, self.workspace.transaction("auth.web_session", "web") as con:
            rows = con.execute("UPDATE web_sessions SET ended_at = ?, end_reason = 'server_restart'"
                               " WHERE ended_at IS NULL RETURNING user_id", [now]).fetchall()
            for (user_id,) in rows:
                audit.append(con, key=self.workspace.keyring.audit_key(), at=now, user_id=user_id,
                             operation="auth.session_ended", outcome="ok", params={"reason": "server_restart"})
        return len(rows)

    # -- kernels ----------------------------------------------------------------------------
    def kernel_ticket(self, web: WebSession, kernel_id: str) -> tuple[str, set[str]]:
        """Bind a new kernel to this session and issue its ticket.  One browser, one kernel:
        returns the session's earlier kernels too, for the server to shut down."""
        with self._db:
            ticket = issue_kernel_ticket(self.workspace, web.session, kernel_id)
        with self._mem:
            earlier, web.kernels = set(web.kernels), {kernel_id}
            web.moved |= earlier
            while len(web.moved) > MOVED_KEPT:
                web.moved.pop()
        return ticket, earlier

    def moved(self, web: WebSession | None, kernel_id: str | None) -> bool:
        """Whether ``kernel_id`` was this session's until a newer tab or a reload took over."""
        return web is not None and kernel_id is not None and kernel_id in web.moved

    def release_kernel(self, web: WebSession, kernel_id: str) -> None:
        with self._mem:
            web.kernels.discard(kernel_id)

    def owns(self, web: WebSession | None, kernel_id: str | None) -> bool:
        return web is not None and web.ended is None and kernel_id is not None and kernel_id in web.kernels

    def live(self) -> list[WebSession]:
        with self._mem:
            return [w for w in self._sessions.values() if w.ended is None]


def issue_kernel_ticket(ws: Workspace, session: Session, kernel_id: str) -> str:
    """Record a one-time ticket for ``kernel_id`` to become ``session``; returns the ticket."""
    ticket, hashed = tickets.issue()
    now = ws.clock.now()
    with ws.transaction("auth.kernel_ticket", session.user_id) as con:
        con.execute("INSERT INTO kernel_tickets VALUES (?, ?, ?, ?, ?, ?, NULL)",
                    [hashed, session.session_id, session.user_id, kernel_id, now, now + TICKET_LIFETIME])
        audit.append(con, key=ws.keyring.audit_key(), at=now, user_id=session.user_id,
                     operation="auth.kernel_ticket", outcome="ok", params={"kernel_id": kernel_id})
    return ticket


def redeem_kernel_ticket(ws: Workspace, kernel_id: str, ticket: str) -> Session:
    """In the kernel: exchange the ticket, once, for the session it was issued to."""
    now = ws.clock.now()
    refusal: WorkbenchError | None = None
    with ws.transaction("auth.kernel_session", "kernel") as con:
        hashed = tickets.digest(ticket)
        row = con.execute(
            "SELECT t.session_id, t.user_id, u.roles, u.disabled, w.ended_at"
            " FROM kernel_tickets t JOIN users u USING (user_id) JOIN web_sessions w USING (session_id)"
            " WHERE t.ticket_hash = ?", [hashed]).fetchone()
        ok = tickets.claim(con, KERNEL_TICKETS, key=hashed, ticket=ticket, bound=kernel_id, now=now,
                           holder_ok=row is not None and not row[3] and row[4] is None)
        if not ok:
            refusal = SessionExpired(
                "This screen was not opened by a live login; log in again.",
                "この画面は有効なログインから開かれていません。再度ログインしてください。",
            )
        audit.append(con, key=ws.keyring.audit_key(), at=now, user_id=row[1] if row else "kernel",
                     operation="auth.kernel_session", outcome="ok" if ok else "denied", params={"kernel_id": kernel_id})
    if refusal is not None:
        raise refusal
    assert row is not None
    return Session(ws, row[1], tuple(row[2]), now, session_id=row[0])
