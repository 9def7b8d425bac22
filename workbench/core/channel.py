"""The data server's channel: how kernels, the CLI and pipelines call services (issue 19).

データサーバーとの通信路。One process — the data server (``workbench serve`` runs it beside the web
server) — owns the database and the keyring.  Its clients reach it over a Unix socket (mode 0600 in
a 0700 folder outside the workspace) and call the same service functions: a
:class:`RemoteSession` is a :class:`~workbench.core.workspace.Session` whose :meth:`run` sends the
operation's name and its arguments to the server, which runs them through its own ``Session.run``
(permission, alarm, one transaction with its audit record) and sends back the typed result.

:func:`connect` is the one code path: a :class:`Remote` when a server answers for the workspace, an
:class:`Embedded` workspace (lock, open, work, commit, close, as before) when none does.

**Nothing a client sends is unpickled.**  Messages are JSON; values JSON lacks are tagged objects
(``{"$t": "date", "v": "2026-04-01"}``): dates, times, bytes, paths, tuples, sets, decimals, enums and
dataclasses — only classes of the ``workbench`` package already imported, looked up by name and
built field by field (:data:`ALLOWED_PACKAGES`); pandas frames travel as Arrow IPC streams.  Anything
else is refused (:class:`InvalidInput`).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import decimal
import enum
import hashlib
import json
import os
import socket
import struct
import sys
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any, cast

from workbench.core.clock import SystemClock
from workbench.core.errors import InvalidInput, SessionExpired, WorkbenchError
from workbench.core.permissions import Permission, permissions_for
from workbench.core.workspace import ServiceInfo, Session, Workspace

__all__ = [
    "ALLOWED_PACKAGES",
    "SECRET_ENV",
    "SERVER_ENV",
    "Embedded",
    "Remote",
    "RemoteSession",
    "ServerGone",
    "client_environment",
    "connect",
    "decode",
    "encode",
    "probe",
    "read_frame",
    "refused",
    "runtime_dir",
    "socket_for",
    "write_frame",
]

#: The kernel's (and a pipeline notebook's) way to the server: the socket's path, never the workspace's.
SERVER_ENV = "WORKBENCH_SERVER"
#: What a client process started by the server (a dashboard's or a pipeline's kernel) must not inherit:
#: the workspace's place, the key-encryption key's place, the operator's log-in and batch key.
SECRET_ENV = ("WORKBENCH_WORKSPACE", "WORKBENCH_KEK_FILE", "CREDENTIALS_DIRECTORY", "WORKBENCH_PASSWORD",
              "WORKBENCH_TOTP", "WORKBENCH_BATCH_KEY")
#: Where sockets live (default ``$XDG_RUNTIME_DIR/workbench`` or ``/tmp/workbench-<uid>``).
RUNTIME_ENV = "WORKBENCH_RUNTIME_DIR"
#: Dataclasses and enums are decoded only from these packages, and only if already imported.
ALLOWED_PACKAGES = ("workbench.",)
#: The largest message (an upload of a contractor's return, base64 inside JSON).
MAX_FRAME = 1024 * 1024 * 1024
TAG = "$t"


class ServerGone(SessionExpired):
    """The data server went away (stopped, restarted or killed): the session ended with it."""

    code = "server_gone"
    exit_code = 9

    def __init__(self) -> None:
        super().__init__(
            "The connection to the workbench data server was lost (it was stopped or restarted); nothing more was "
            "done. Log in again; if it keeps happening, contact operations.",
            "ワークベンチのデータサーバーとの接続が切れました（停止または再起動）。これ以上の処理は行われていません。"
            "再度ログインしてください。続く場合は運用担当に連絡してください。",
            reason="server_gone",
        )


# -- where the socket is ----------------------------------------------------------------------------


def runtime_dir() -> Path:
    """The 0700 folder of the sockets (created if missing; refused if others could enter it)."""
    given = os.environ.get(RUNTIME_ENV)
    if given:
        base = Path(given)
    elif os.environ.get("XDG_RUNTIME_DIR"):
        base = Path(os.environ["XDG_RUNTIME_DIR"]) / "workbench"
    else:
        base = Path("/tmp") / f"workbench-{os.getuid()}"
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = base.lstat()
    if st.st_uid != os.getuid() or st.st_mode & 0o077 or not base.is_dir() or base.is_symlink():
        raise InvalidInput(f"The server folder {base} must be a folder of this user with mode 0700.",
                           f"サーバー用フォルダー {base} は、この利用者の権限 0700 のフォルダーである必要があります。",
                           reason="runtime_dir_unsafe")
    return base


def socket_for(workspace: str | Path) -> Path:
    """The data server's socket for a workspace: named by a digest of its real path, so neither
    the name nor the folder holding it says where the workspace is."""
    real = os.path.realpath(os.fspath(workspace))
    return runtime_dir() / (hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:24] + ".sock")


# -- the codec --------------------------------------------------------------------------------------


def _class_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _allowed_class(name: str) -> type:
    module, _, qualname = name.partition(":")
    if not module.startswith(ALLOWED_PACKAGES) or module not in sys.modules or not qualname:
        raise refused(f"class {name}")
    obj: Any = sys.modules[module]
    for part in qualname.split("."):
        if part.startswith("_") and part != "__":
            raise refused(f"class {name}")
        obj = getattr(obj, part, None)
    if not isinstance(obj, type) or not (dataclasses.is_dataclass(obj) or issubclass(obj, enum.Enum)):
        raise refused(f"class {name}")
    return obj


def refused(what: str) -> InvalidInput:
    return InvalidInput(f"The message holds a value that is not allowed ({what}).",
                        f"メッセージに許可されていない値があります（{what}）。", reason="codec_refused")


def encode(value: Any) -> Any:
    """A value as JSON-ready data (tagged where JSON has no type)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, enum.Enum):
        return {TAG: "enum", "c": _class_name(type(value)), "v": encode(value.value)}
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, dt.datetime):
        return {TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, dt.date):
        return {TAG: "date", "v": value.isoformat()}
    if isinstance(value, dt.time):
        return {TAG: "time", "v": value.isoformat()}
    if isinstance(value, dt.timedelta):
        return {TAG: "timedelta", "v": value.total_seconds()}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {TAG: "bytes", "v": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, PurePath):
        return {TAG: "path", "v": str(value)}
    if isinstance(value, decimal.Decimal):
        return {TAG: "decimal", "v": str(value)}
    if isinstance(value, uuid.UUID):
        return {TAG: "uuid", "v": str(value)}
    if isinstance(value, tuple):
        return {TAG: "tuple", "v": [encode(v) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {TAG: "frozenset" if isinstance(value, frozenset) else "set", "v": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and TAG not in value:
            return {k: encode(v) for k, v in value.items()}
        return {TAG: "dict", "v": [[encode(k), encode(v)] for k, v in value.items()]}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls = type(value)
        if not cls.__module__.startswith(ALLOWED_PACKAGES):
            raise refused(f"class {_class_name(cls)}")
        return {TAG: "dc", "c": _class_name(cls),
                "v": {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    frame = _encode_frame(value)
    if frame is not None:
        return frame
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item) and type(value).__module__ == "numpy":
        return encode(item())
    raise refused(f"type {type(value).__name__}")


def _encode_frame(value: Any) -> dict[str, Any] | None:
    pd = sys.modules.get("pandas")
    if pd is None or not isinstance(value, pd.DataFrame):
        return None
    import pyarrow as pa

    table = pa.Table.from_pandas(value)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return {TAG: "frame", "v": base64.b64encode(sink.getvalue().to_pybytes()).decode("ascii")}


def decode(data: Any) -> Any:
    """The inverse of :func:`encode`; refuses every tag and class it does not know."""
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict):
        raise refused(f"type {type(data).__name__}")
    if TAG not in data:
        return {k: decode(v) for k, v in data.items()}
    tag, raw = data.get(TAG), data.get("v")
    try:
        if tag == "datetime":
            return dt.datetime.fromisoformat(str(raw))
        if tag == "date":
            return dt.date.fromisoformat(str(raw))
        if tag == "time":
            return dt.time.fromisoformat(str(raw))
        if tag == "timedelta":
            return dt.timedelta(seconds=float(raw))  # type: ignore[arg-type]
        if tag == "bytes":
            return base64.b64decode(str(raw), validate=True)
        if tag == "path":
            return Path(str(raw))
        if tag == "decimal":
            return decimal.Decimal(str(raw))
        if tag == "uuid":
            return uuid.UUID(str(raw))
        if tag in ("tuple", "set", "frozenset") and isinstance(raw, list):
            items = [decode(v) for v in raw]
            return tuple(items) if tag == "tuple" else set(items) if tag == "set" else frozenset(items)
        if tag == "dict" and isinstance(raw, list):
            return {decode(k): decode(v) for k, v in raw}
        if tag == "enum":
            cls = _allowed_class(str(data.get("c")))
            if not issubclass(cls, enum.Enum):
                raise refused("enum")
            return cls(decode(raw))
        if tag == "dc" and isinstance(raw, dict):
            return _decode_dataclass(_allowed_class(str(data.get("c"))), raw)
        if tag == "frame":
            return _decode_frame(base64.b64decode(str(raw), validate=True))
    except WorkbenchError:
        raise
    except (ValueError, TypeError, KeyError, decimal.InvalidOperation):
        raise refused(f"malformed {tag}") from None
    raise refused(f"tag {tag!r}")


def _decode_dataclass(cls: type, raw: dict[str, Any]) -> Any:
    if not dataclasses.is_dataclass(cls):
        raise refused("dataclass")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if set(raw) - set(fields):
        raise refused(f"fields of {cls.__qualname__}")
    values = {k: decode(v) for k, v in raw.items()}
    obj = cls(**{k: v for k, v in values.items() if fields[k].init})
    for k, v in values.items():
        if not fields[k].init:
            object.__setattr__(obj, k, v)
    return obj


def _decode_frame(raw: bytes) -> Any:
    import pyarrow as pa

    with pa.ipc.open_stream(pa.py_buffer(raw)) as reader:
        return reader.read_all().to_pandas()


# -- framing ------------------------------------------------------------------------------------


def write_frame(sock: socket.socket, message: dict[str, Any]) -> None:
    body = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    sock.sendall(struct.pack(">I", len(body)) + body)


def _read_exact(sock: socket.socket, n: int) -> bytes | None:
    chunks: list[bytes] = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_frame(sock: socket.socket) -> dict[str, Any] | None:
    """The next message, or ``None`` when the other side closed the connection."""
    head = _read_exact(sock, 4)
    if head is None:
        return None
    (size,) = struct.unpack(">I", head)
    if size > MAX_FRAME:
        raise refused("size")
    body = _read_exact(sock, size)
    if body is None:
        return None
    try:
        message = json.loads(body.decode("utf-8"))
    except ValueError:
        raise refused("not JSON") from None
    if not isinstance(message, dict):
        raise refused("not an object")
    return message


def error_to_wire(exc: WorkbenchError) -> dict[str, Any]:
    return {"class": type(exc).__name__, "message_en": exc.message_en, "message_ja": exc.message_ja,
            "reason": exc.reason, "line": exc.line, "details": encode({k: v for k, v in exc.details.items()
                                                                       if _plain(v)})}


def _plain(value: Any) -> bool:
    try:
        encode(value)
    except WorkbenchError:
        return False
    return True


def _error_classes() -> dict[str, type[WorkbenchError]]:
    found: dict[str, type[WorkbenchError]] = {"WorkbenchError": WorkbenchError}
    todo: list[type[WorkbenchError]] = [WorkbenchError]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub.__module__.startswith(ALLOWED_PACKAGES):
                found.setdefault(sub.__name__, sub)
            todo.append(sub)
    return found


def error_from_wire(doc: dict[str, Any]) -> WorkbenchError:
    """The refusal the server raised, as the same class here (built without its constructor)."""
    cls = _error_classes().get(str(doc.get("class")), WorkbenchError)
    exc = cls.__new__(cls)
    exc.message_en = str(doc.get("message_en", ""))
    exc.message_ja = str(doc.get("message_ja", exc.message_en))
    reason, line = doc.get("reason"), doc.get("line")
    exc.reason = str(reason) if reason is not None else None
    exc.line = int(line) if isinstance(line, int) else None
    details = decode(doc.get("details") or {})
    exc.details = details if isinstance(details, dict) else {}
    for name in ("approved_count", "count"):
        if name in exc.details:
            setattr(exc, name, exc.details[name])
    exc.args = (f"{exc.message_ja} / {exc.message_en}",)
    return exc


# -- the client ---------------------------------------------------------------------------------


class Channel:
    """One connection to the data server; one request at a time (a lock keeps them in order)."""

    def __init__(self, path: Path, *, timeout: float | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._sock: socket.socket | None = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(os.fspath(path))
        except TimeoutError:  # the server's backlog is full: it is there, and busy
            self._sock.close()
            self._sock = None
            raise
        except OSError:
            self._sock.close()
            self._sock = None
            raise ServerGone() from None

    def request(self, op: str, **fields: Any) -> Any:
        with self._lock:
            sock = self._sock
            if sock is None:
                raise ServerGone()
            try:
                write_frame(sock, {"op": op, **fields})
                reply = read_frame(sock)
            except TimeoutError:  # only a channel opened with a time limit (probe): the server is slow
                self.close()
                raise
            except OSError:
                reply = None
            if reply is None:
                self.close()
                raise ServerGone()
        if reply.get("ok"):
            return decode(reply.get("result"))
        raise error_from_wire(dict(reply.get("error") or {}))

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()


class _RemoteSettings:
    def __init__(self, idle_timeout_minutes: float) -> None:
        self.idle_timeout_minutes = idle_timeout_minutes


class RemoteWorkspace:
    """What a client may know of the workspace: the time and the idle limit — no path, no key."""

    def __init__(self, idle_timeout_minutes: float) -> None:
        self.clock = SystemClock()
        self.settings = _RemoteSettings(idle_timeout_minutes)


class RemoteSession(Session):
    """A session held by the data server, used from another process through its token.  Service
    functions work unchanged with it: ``fn(session, ...)`` calls :meth:`run`, which sends the call."""

    def __init__(self, channel: Channel, token: str, info: dict[str, Any]) -> None:
        # Not Session.__init__: there is no workspace here, only what the server said.
        self.channel = channel
        self._token = token
        self._seq = 0
        self._seq_lock = threading.Lock()
        self.workspace = cast(Workspace, RemoteWorkspace(float(info.get("idle_timeout_minutes", 15))))
        self.user_id = str(info["user_id"])
        self.roles = tuple(str(r) for r in info.get("roles", ()))
        given = info.get("permissions")
        self.permissions = frozenset(Permission(p) for p in given) if isinstance(given, list) else \
            permissions_for(self.roles)
        self.session_id = str(info.get("session_id", ""))
        self.last_activity = self.workspace.clock.now()
        self.closed = False
        #: Why the server ended the session (idle limit, end of hours, a restart), once it said so.
        self.ended_by: SessionExpired | None = None

    def __repr__(self) -> str:
        return f"RemoteSession(user_id={self.user_id!r}, roles={list(self.roles)!r})"

    def _send(self, op: str, **fields: Any) -> Any:
        if self.closed:
            raise SessionExpired("You have logged out; log in again.", "ログアウト済みです。再度ログインしてください。")
        with self._seq_lock:
            self._seq += 1
            try:
                result = self.channel.request(op, token=self._token, seq=self._seq, **fields)
            except SessionExpired as exc:
                self.closed, self.ended_by = True, exc
                raise
        self.last_activity = self.workspace.clock.now()
        return result

    def run(self, info: ServiceInfo, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        before = self.last_activity
        result = self._send("call", service=info.operation, args=encode(list(args)), kwargs=encode(kwargs))
        if info.idle_neutral:  # a timer's call (a live count) is not use: the idle time runs on
            self.last_activity = before
        return result

    def forward_composite(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return self._send("composite", name=name, args=encode(list(args)), kwargs=encode(kwargs))

    def require(self, permission: Any, operation: str, *, target: str | None = None, use: bool = True) -> dt.datetime:
        raise InvalidInput("A client session cannot run work itself; call a service.",
                           "クライアントのセッションでは処理を直接実行できません。サービスを呼び出してください。")

    def logout(self, *, operation: str = "auth.logout", **params: Any) -> None:
        if not self.closed:
            try:
                self._send("logout", operation=operation, params=encode(params))
            except SessionExpired:
                pass
            self.closed = True
            self.channel.close()


# -- one code path: a server if one runs, the workspace itself if not ------------------------------


class Embedded:
    """No server runs: the workspace is opened here (lock, open, work, commit, close)."""

    remote = False

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def login(self, user_id: str, password: str, totp_code: str, *, hours_recovery: bool = False) -> Session:
        return self.workspace.login(user_id, password, totp_code, hours_recovery=hours_recovery)



class Remote:
    """A data server answers for the workspace: log in through it."""

    remote = True

    def __init__(self, path: Path, hello: dict[str, Any]) -> None:
        self.path = path
        self.hello = hello

    def _session(self, op: str, **fields: Any) -> RemoteSession:
        channel = Channel(self.path)
        try:
            reply = channel.request(op, **fields)
        except BaseException:
            channel.close()
            raise
        return RemoteSession(channel, str(reply["token"]), reply)

    def login(self, user_id: str, password: str, totp_code: str, *, hours_recovery: bool = False) -> RemoteSession:
        # The socket admits only the server's own OS account: this is the server's command line (C13's way back).
        return self._session("login", user_id=user_id, password=password, totp=totp_code, hours_recovery=hours_recovery)

    def demo_code(self, user_id: str) -> str:
        """A demo account's current one-time code (demo workspaces only)."""
        channel = Channel(self.path)
        try:
            return str(channel.request("demo_code", user_id=user_id)["code"])
        finally:
            channel.close()

    def demo_session(self, user_id: str) -> RemoteSession:
        """A session for a demo account, without its code (demo workspaces only; audited)."""
        return self._session("demo_session", user_id=user_id)

    def demo_add_user(self, user_id: str, role: str) -> None:
        """A new demo account with one role and the demo password (demo workspaces only)."""
        channel = Channel(self.path)
        try:
            channel.request("demo_add_user", user_id=user_id, role=role)
        finally:
            channel.close()

    def batch_login(self, key: dict[str, Any]) -> RemoteSession:
        """A batch account: the contents of its key file, read by the client (the file is its own)."""
        return self._session("batch_login", key=encode(key))

    def kernel(self, ticket: str, kernel_id: str) -> RemoteSession:
        return self._session("kernel", ticket=ticket, kernel_id=kernel_id)

    def pipeline(self, ticket: str, run_id: str) -> RemoteSession:
        """A pipeline notebook's kernel: its one-time run ticket for its requester's session."""
        return self._session("pipeline", ticket=ticket, run_id=run_id)


#: How long :func:`probe` waits for a server's greeting: first, and again after a first wait ran out.
PROBE_SECONDS = (10.0, 120.0)


def probe(path: Path) -> dict[str, Any] | None:
    """The server's greeting on ``path``, or ``None`` if no server answers there (no socket, nobody
    listening, connection closed).  A server that is there but slow to greet (200 clerks connecting at
    once on a busy machine) is waited for, never taken for "no server": that would open the workspace
    beside it and fail on its lock.  Raises :class:`ServerGone` if it never greets."""
    if not path.exists():
        return None
    for wait in PROBE_SECONDS:
        try:
            channel = Channel(path, timeout=wait)
        except TimeoutError:
            continue
        except ServerGone:
            return None
        try:
            hello = channel.request("hello")
            return hello if isinstance(hello, dict) else None
        except TimeoutError:
            continue
        except (ServerGone, OSError):
            return None
        finally:
            channel.close()
    raise ServerGone()


def connect(workspace: str | Path, **open_kwargs: Any) -> Embedded | Remote:
    """The workspace's data server if one answers, else the workspace opened here."""
    sock = socket_for(workspace)
    hello = probe(sock)
    if hello is not None:
        return Remote(sock, hello)
    return Embedded(Workspace.open(workspace, **open_kwargs))


def client_environment(server: Path, extra: dict[str, str], base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a process the data server starts as its client: ``base`` (this process's)
    without :data:`SECRET_ENV`, with the socket in :data:`SERVER_ENV` and ``extra``."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in SECRET_ENV}
    env[SERVER_ENV] = str(server)
    env.update(extra)
    return env


def connect_server(path: str | Path | None = None) -> Remote:
    """A kernel's or notebook's way in: the socket named in :data:`SERVER_ENV` (never a workspace)."""
    sock = Path(path or os.environ.get(SERVER_ENV, ""))
    hello = probe(sock) if str(sock) not in ("", ".") else None
    if hello is None:
        raise ServerGone()
    return Remote(sock, hello)
