"""The data server: one process owns the database and the keyring; everyone else is a client (issue 19).

データサーバー。``workbench serve`` runs it in the web server's process (a thread beside Voila), so the
process that checks logins also holds the open database; dashboard kernels, the CLI and Papermill runs
call it over a Unix socket (:mod:`workbench.core.channel`).  What it does with a call is exactly what
an embedded process does: :meth:`Session.run` — permission, alarm, one transaction with its audit
record — only the transport and the store differ:

* the database stays open (:class:`~workbench.core.store.ResidentStore`): every unit gets its own
  cursor; the operations in :data:`READS` run at once beside everything else, the others queue first
  come, first served; audit records, commits and signed heads go one at a time, in chain order;
* a client proves itself on every call with its session token (random, kept here only as a SHA-256,
  in memory — a restarted server knows none) and a sequence number that must grow, so a replayed
  message is refused; an unknown, ended or replayed token is refused and audited
  (``auth.server_token``); a replayed token is revoked;
* the socket is 0600 in a 0700 folder outside the workspace, and the peer must run as this user
  (``SO_PEERCRED``);
* nothing a client sends is unpickled: arguments are decoded by the channel's codec, bound to the
  service's signature, and only then run;
* a job that needs the file itself (backup, key repair: :data:`~workbench.core.workspace.COMPOSITES`) takes its
  turn among the writers, then runs alone: new units wait, running ones finish, the file is handed to the job,
  then opened again.  A key rotation (and so a purge) holds the writers' turn only: reads go on against the
  old file while it builds the new one, and wait only for the swap (:func:`workbench.core.rotation.rotate`);
* pipeline runs whose runner died (killed, lost, or this server's own predecessor) are marked
  abandoned here, at start and then every :data:`~workbench.cycles.engine.GHOST_SWEEP_SECONDS`
  (:func:`~workbench.cycles.engine.sweep_ghosts`, a system unit of work, audited when it marks one), so the
  run listings stay pure reads.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import logging
import os
import secrets
import socket
import socketserver
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.controls import batch_accounts
from workbench.controls.users import create_initial_user
from workbench.core import channel, exchange
from workbench.core.composites import COMPOSITES, PATH_ARGUMENTS, SHARED_COMPOSITES
from workbench.core.errors import InvalidInput, NotFound, PermissionDenied, SessionExpired, WorkbenchError
from workbench.core.store import WAITED
from workbench.core.workspace import READS, SERVICES, Session, Workspace
from workbench.cycles import engine, pipeline_runs
from workbench.demo import DEMO_PASSWORD, current_code
from workbench.web.sessions import redeem_kernel_ticket

__all__ = ["READS", "DataServer"]

log = logging.getLogger("workbench.dataserver")



def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def _token_refused(why: str) -> SessionExpired:
    return SessionExpired(
        "This session is not valid on the data server (ended, replaced by a restart, or not issued by it); log in again.",
        "このセッションはデータサーバーで有効ではありません（終了済み・サーバーの再起動・発行元が異なる）。再度ログインしてください。",
        reason=why,
    )


@dataclass(eq=False)
class Grant:
    """A token's session, how it was issued, and the last sequence number it used."""

    session: Session
    kind: str
    last_seq: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(socketserver.BaseRequestHandler):
    server: _SocketServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        if not _same_user(sock):
            return
        data = self.server.data
        with data._lock:
            data._connections.add(sock)
        try:
            self._serve(sock, data)
        finally:
            with data._lock:
                data._connections.discard(sock)

    def _serve(self, sock: socket.socket, data: DataServer) -> None:
        while True:
            try:
                message = channel.read_frame(sock)
            except WorkbenchError as exc:
                with contextlib.suppress(OSError):
                    channel.write_frame(sock, {"ok": False, "error": channel.error_to_wire(exc)})
                return
            except OSError:
                return
            if message is None:
                return
            reply = data.answer(message)
            try:
                channel.write_frame(sock, reply)
            except OSError:
                return


def _same_user(sock: socket.socket) -> bool:
    """Only a process of this user may talk to the server (besides the socket's own mode)."""
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return False
    _pid, uid, _gid = struct.unpack("3i", raw)
    return bool(uid == os.getuid())


class _SocketServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    #: Connections waiting to be accepted (socketserver's default is 5: 200 clerks connecting at once
    #: waited in connect() and took the server for gone).
    request_queue_size = 256
    data: DataServer


#: The interpreter's thread switch interval in the data server's process (seconds; Python's default 0.005).
SWITCH_INTERVAL = 0.0005

#: What a demo workspace's server answers beside the services (see :meth:`DataServer._demo`).
DEMO_OPS = ("demo_code", "demo_session", "demo_add_user")


class Timings:
    """How long each kind of call took in the server, and of that how long it waited (``--timings``):
    for the load benchmark.  Only operation names and seconds — nothing about whom a call was for."""

    KINDS = ("total", "queue", "lane", "gate", "held", "group")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: dict[str, list[tuple[float, ...]]] = {}

    def add(self, label: str, total: float, waited: dict[str, float]) -> None:
        row = (total, *(waited.get(k, 0.0) for k in self.KINDS[1:]))
        with self._lock:
            self.calls.setdefault(label, []).append(row)

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per call: count, and p50 / p95 / mean milliseconds of the whole and of each wait."""
        out: dict[str, dict[str, Any]] = {}
        with self._lock:
            calls = {k: list(v) for k, v in self.calls.items()}
        for label, rows in sorted(calls.items()):
            doc: dict[str, Any] = {"count": len(rows)}
            for i, kind in enumerate(self.KINDS):
                ms = sorted(r[i] * 1000 for r in rows)
                doc[kind] = {"p50": ms[len(ms) // 2], "p95": ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))],
                             "mean": sum(ms) / len(ms)}
            out[label] = doc
        return out


def _label(message: dict[str, Any]) -> str:
    op = str(message.get("op"))
    if op == "call":
        return str(message.get("service", ""))[:80]
    if op == "composite":
        return "composite " + str(message.get("name", ""))[:80]
    return op[:40]


class DataServer:
    """Open the workspace's database for good and answer clients on its socket."""

    def __init__(self, workspace: Workspace, *, socket_path: Path | None = None,
                 sweep_seconds: float = engine.GHOST_SWEEP_SECONDS, timings: bool = False) -> None:
        self.workspace = workspace
        #: Time per call and its waits (``--timings``), or ``None``.
        self.timings = Timings() if timings else None
        self.sweep_seconds = sweep_seconds
        self._stopping = threading.Event()
        self._sweeper: threading.Thread | None = None
        self._switch: float | None = None
        self.store = workspace.become_resident(READS)
        self.path = socket_path or channel.socket_for(workspace.path)
        self.server_id = secrets.token_hex(8)
        self._grants: dict[str, Grant] = {}
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._server: _SocketServer | None = None
        self._thread: threading.Thread | None = None
        #: Kernels started ahead present a ticket of their own, exchanged here for the ticket of the session
        #: a login bound them to (``workbench.web.server.KernelPool``).
        self.pool_exchange: Callable[[str, str], str | None] | None = None

    # -- life ----------------------------------------------------------------------------------
    def start(self) -> DataServer:
        if self.path.exists() or self.path.is_symlink():
            if channel.probe(self.path) is not None:  # pragma: no cover - the workspace lock stops it first
                raise InvalidInput("A data server already runs for this workspace.",
                                   "このワークスペースのデータサーバーはすでに動いています。", reason="server_running")
            self.path.unlink()  # left by a server that was killed
        old = os.umask(0o077)
        try:
            server = _SocketServer(os.fspath(self.path), _Handler)
        finally:
            os.umask(old)
        self.path.chmod(0o600)
        self.workspace.serving = self.path
        self.sweep()  # runs a killed server (or runner) left behind
        self._stopping.clear()
        self._sweeper = threading.Thread(target=self._sweep_every, name="workbench-ghost-sweep", daemon=True)
        self._sweeper.start()
        # Units hand the interpreter back and forth at every database call; with the default 5 ms turn a
        # unit in the audit lane waited a turn behind each busy thread at each call, and held the lane meanwhile.
        self._switch = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
        server.data = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="workbench-data-server", daemon=True)
        self._thread.start()
        log.info("data server listening on %s", self.path)
        return self

    def stop(self) -> None:
        """Stop answering, forget every token, close the database."""
        self._stopping.set()
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None:
            sweeper.join()
        server, self._server = self._server, None
        self.workspace.serving = None
        if server is not None:
            server.shutdown()
            server.server_close()
        with self._lock:
            connections = list(self._connections)
        for sock in connections:  # clients hear at once that the server is gone
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.path.unlink()
        with self._lock:
            self._grants.clear()
        self.store.close()
        if self._switch is not None:
            sys.setswitchinterval(self._switch)
            self._switch = None

    def sweep(self) -> list[str]:
        """Mark the runs whose runner died (:func:`workbench.cycles.engine.sweep_ghosts`); never raises: a
        failure is logged and the next sweep tries again (an audit alarm refuses it, as every write)."""
        try:
            return engine.sweep_ghosts(self.workspace)
        except Exception:
            log.exception("the sweep for abandoned pipeline runs failed")
            return []

    def _sweep_every(self) -> None:
        while not self._stopping.wait(self.sweep_seconds):
            self.sweep()

    def __enter__(self) -> DataServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- tokens --------------------------------------------------------------------------------
    def grant(self, session: Session, kind: str) -> dict[str, Any]:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._grants[_digest(token)] = Grant(session, kind)
        permissions = sorted(p.value for p in session.permissions)
        return {"token": token, "user_id": session.user_id, "roles": list(session.roles), "permissions": permissions,
                "session_id": session.session_id, "idle_timeout_minutes": self.workspace.settings.idle_timeout_minutes}

    def revoke_session(self, session_id: str) -> int:
        """A web session ended: its kernels' tokens end with it."""
        with self._lock:
            gone = [k for k, g in self._grants.items() if g.session.session_id == session_id]
            for k in gone:
                del self._grants[k]
        return len(gone)

    def _check(self, message: dict[str, Any]) -> tuple[str, Grant]:
        token, seq = message.get("token"), message.get("seq")
        key = _digest(token) if isinstance(token, str) else ""
        with self._lock:
            grant = self._grants.get(key)
        if grant is None:
            self.workspace.audit_only("unknown", "auth.server_token", "denied", reason="unknown_token")
            raise _token_refused("unknown_token")
        with grant.lock:
            replay = not isinstance(seq, int) or isinstance(seq, bool) or seq <= grant.last_seq
            if not replay:
                grant.last_seq = int(seq)  # type: ignore[arg-type]
        if replay or grant.session.closed:
            why = "replayed" if replay else "ended"
            with self._lock:
                self._grants.pop(key, None)
            self.workspace.audit_only(grant.session.user_id, "auth.server_token", "denied", reason=why)
            raise _token_refused(why)
        return key, grant

    # -- answering -------------------------------------------------------------------------------
    def answer(self, message: dict[str, Any]) -> dict[str, Any]:
        if self.timings is None:
            return self._answer(message)
        WAITED.seconds = {}
        started = time.perf_counter()
        try:
            return self._answer(message)
        finally:
            self.timings.add(_label(message), time.perf_counter() - started, WAITED.seconds)

    def _answer(self, message: dict[str, Any]) -> dict[str, Any]:
        try:
            return {"ok": True, "result": channel.encode(self._dispatch(message))}
        except WorkbenchError as exc:
            return {"ok": False, "error": channel.error_to_wire(exc)}
        except Exception:
            ref = "E-" + secrets.token_hex(4).upper()
            log.exception("[%s] data server call failed", ref)
            return {"ok": False, "error": channel.error_to_wire(WorkbenchError(
                f"Something went wrong in the data server (reference {ref}); tell the operators.",
                f"データサーバーで問題が発生しました（参照番号 {ref}）。運用担当に連絡してください。", reference=ref))}

    def _demo(self, op: str, message: dict[str, Any]) -> Any:
        """Demo workspaces only (synthetic people, published passwords, printable codes): the current code
        of a demo account (``workbench demo-code`` while the server holds the file), a session for one, or
        a new account — nothing a demo's open accounts could not do already.  Refused elsewhere."""
        ws = self.workspace
        user = str(message.get("user_id", ""))
        if not ws.settings.demo:
            ws.audit_only("unknown", "demo.code", "denied", reason="not_demo")
            raise PermissionDenied("Only a demo workspace answers this.", "デモ用ワークスペースでのみ利用できます。")
        if op == "demo_code":
            return {"user_id": user, "code": current_code(ws, user)}
        if op == "demo_add_user":
            role = str(message.get("role", ""))
            create_initial_user(ws, user, f"テスト {user}", DEMO_PASSWORD, [role])
            return {"user_id": user, "role": role}
        with ws.transaction("demo.session", "system") as con:
            row = con.execute("SELECT roles FROM users WHERE user_id = ? AND NOT disabled", [user]).fetchone()
        if row is None:
            raise PermissionDenied(f"No demo account {user}.", f"デモアカウント {user} はありません。")
        ws.audit_only(user, "demo.session", "ok")
        return self.grant(Session(ws, user, tuple(row[0]), ws.clock.now()), "demo")

    def _dispatch(self, message: dict[str, Any]) -> Any:
        op = message.get("op")
        ws = self.workspace
        if op == "hello":
            return {"server": "workbench", "protocol": 1, "server_id": self.server_id}
        if op in DEMO_OPS:
            return self._demo(op, message)
        if op == "login":
            user, password, code = (str(message.get(k, "")) for k in ("user_id", "password", "totp"))
            return self.grant(ws.login(user, password, code, hours_recovery=message.get("hours_recovery") is True),
                              "login")
        if op == "batch_login":
            doc = channel.decode(message.get("key"))
            if not isinstance(doc, dict):
                raise channel.refused("key")
            return self.grant(batch_accounts.login_with(ws, doc), "batch")
        if op == "kernel":
            ticket, kernel_id = str(message.get("ticket", "")), str(message.get("kernel_id", ""))
            if self.pool_exchange is not None:
                ticket = self.pool_exchange(kernel_id, ticket) or ticket
            return self.grant(redeem_kernel_ticket(ws, kernel_id, ticket), "kernel")
        if op == "pipeline":
            ticket, run_id = str(message.get("ticket", "")), str(message.get("run_id", ""))
            return self.grant(pipeline_runs.redeem_run_ticket(ws, run_id, ticket), "pipeline")
        if op not in ("call", "composite", "logout"):
            raise channel.refused(f"operation {str(op)[:40]!r}")
        key, grant = self._check(message)
        session = grant.session
        if op == "logout":
            params = channel.decode(message.get("params") or {})
            session.logout(operation=str(message.get("operation") or "auth.logout"),
                           **(params if isinstance(params, dict) else {}))
            with self._lock:
                self._grants.pop(key, None)
            return None
        try:
            if op == "call":
                return self._call(session, message)
            return self._composite(session, message)
        finally:
            if session.closed:  # ended by the idle limit during the call
                with self._lock:
                    self._grants.pop(key, None)

    def _arguments(self, name: str, fn: Any, message: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        args, kwargs = channel.decode(message.get("args") or []), channel.decode(message.get("kwargs") or {})
        if not isinstance(args, list) or not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
            raise channel.refused("arguments")
        try:
            bound = inspect.signature(fn).bind(None, *args, **kwargs)
        except TypeError:
            raise InvalidInput("The call's arguments do not fit the service.",
                               "呼び出しの引数がサービスに合いません。", reason="bad_arguments") from None
        # A path the client names is read or written with the server's rights: only in an exchange folder.
        for argument in PATH_ARGUMENTS.get(name, ()):
            exchange.check_path(self.workspace, bound.arguments.get(argument), argument)
        if name == "pipeline.run":
            params = bound.arguments.get("params") or {}
            for argument in pipeline_runs.path_params(str(bound.arguments.get("pipeline")), params):
                exchange.check_path(self.workspace, params.get(argument), argument)
        return tuple(args), kwargs

    def _call(self, session: Session, message: dict[str, Any]) -> Any:
        name = str(message.get("service", ""))
        info = SERVICES.get(name)
        if info is None:
            raise NotFound(f"No service {name[:80]!r}.", f"サービス {name[:80]!r} はありません。", reason="unknown_service")
        args, kwargs = self._arguments(name, info.function, message)
        return session.run(info, args, kwargs)

    def _composite(self, session: Session, message: dict[str, Any]) -> Any:
        name = str(message.get("name", ""))
        fn = COMPOSITES.get(name)
        if fn is None:
            raise NotFound(f"No job {name[:80]!r}.", f"処理 {name[:80]!r} はありません。", reason="unknown_service")
        args, kwargs = self._arguments(name, fn, message)
        if name in SHARED_COMPOSITES:
            return fn(session, *args, **kwargs)
        # Its turn among the writers first (a key rotation holds it while readers go on), then the file alone.
        with self.store.queue.hold(name, session.user_id), self.store.exclusive():
            return fn(session, *args, **kwargs)


def main(argv: list[str] | None = None) -> int:
    """``python -m workbench.web.dataserver WORKSPACE``: the data server alone, in the foreground
    (for tests, benchmarks and an operator who runs it without the dashboards)."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(prog="workbench-dataserver")
    parser.add_argument("workspace")
    parser.add_argument("--timings", type=Path, help="at stop, write each kind of call's time and waits here (JSON)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    server = DataServer(Workspace.open(Path(args.workspace)), timings=args.timings is not None).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"ready {server.path}", flush=True)
    stop.wait()
    server.stop()
    if args.timings is not None and server.timings is not None:
        args.timings.write_text(json.dumps(server.timings.summary(), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
