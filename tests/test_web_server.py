"""The web server as an attacker meets it (issue 8): a real server, real kernels, raw HTTP and websockets.

Knowing a kernel's ID (taken here from the server's own process list, as anyone on the
machine could), the port and a user ID must be worth nothing without that person's
password and one-time code; a logged-out or idle person's kernel must be gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import http.cookiejar
import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.test_browser import launch_server, log_tracebacks
from workbench import Workspace
from workbench.controls import users
from workbench.core import credentials
from workbench.web.serve import free_port, stop

pytestmark = pytest.mark.slow

PASSWORD = "Test-Pass-2026!"


@dataclass
class Server:
    base: str
    workspace: Path
    log: Path
    proc: subprocess.Popen[bytes]
    secrets: dict[str, str] = field(default_factory=dict)

    def tracebacks(self) -> list[str]:
        return log_tracebacks(self.log)

    def code(self, user: str) -> str:
        return credentials.totp_code(self.secrets[user], dt.datetime.now(dt.UTC))

    def connection_dir(self) -> str:
        found = re.search(r"Storing connection files in (\S+?)\.?$", self.log.read_text(errors="replace"), re.M)
        assert found, "the server did not say where its kernels' connection files are"
        return found.group(1)

    def kernel_ids(self) -> set[str]:
        """Kernel IDs as any local user reads them: from the command lines in /proc."""
        ids = set()
        for proc in Path("/proc").iterdir():
            try:
                cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if self.connection_dir() in cmdline:
                ids.update(re.findall(r"kernel-([0-9a-f-]{36})\.json", cmdline))
        return ids


def _start(root: Path, *, idle_minutes: float, users_: list[str]) -> Server:
    ws = Workspace.init(root / "ws", scrypt_n=2**10, idle_timeout_minutes=idle_minutes)
    secrets = {}
    for entry in users_:  # "name" (a reviewer) or "name:role"
        user, _, role = entry.partition(":")
        enrolment = users.create_initial_user(ws, user, user, PASSWORD, [role or "reviewer"])
        secrets[user] = enrolment.otpauth_uri.split("secret=")[1].split("&")[0]
    port = free_port()
    log = root / "server.log"
    proc = launch_server(ws.path, log, port, idle_minutes=idle_minutes)
    return Server(f"http://127.0.0.1:{port}", ws.path, log, proc, secrets)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = _start(tmp_path_factory.mktemp("web"), idle_minutes=15,
                 users_=["owner", "other", "second", "walker", "prober", "inspected", "kansa:auditor", "early"])
    try:
        yield srv
    finally:
        stop(srv.proc)


class Browser:
    """A cookie jar and the XSRF dance, as a browser does it."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

    def get(self, path: str) -> tuple[int, str, dict[str, str]]:
        try:
            with self.opener.open(self.server.base + path, timeout=120) as r:
                return r.status, r.read().decode(errors="replace"), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace"), dict(e.headers)

    def post(self, path: str, fields: dict[str, str], *, xsrf: bool = True) -> tuple[int, str, dict[str, str]]:
        if xsrf:
            fields = {**fields, "_xsrf": self.xsrf()}
        data = urllib.parse.urlencode(fields).encode()
        try:
            with self.opener.open(self.server.base + path, data, timeout=120) as r:
                return r.status, r.read().decode(errors="replace"), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace"), dict(e.headers)

    def xsrf(self) -> str:
        if not any(c.name == "_xsrf" for c in self.jar):
            self.get("/login")
        return next(c.value for c in self.jar if c.name == "_xsrf") or ""

    def login(self, user: str) -> tuple[int, str, dict[str, str]]:
        # one code per 30-second step: wait for a fresh step if this user has just used one
        return self.post("/login", {"user": user, "password": PASSWORD, "totp": self.server.code(user)})

    @property
    def cookie(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)

    def session_cookie(self) -> str | None:
        return next((c.value for c in self.jar if c.name == "wb_session"), None)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def open_dashboard(browser: Browser) -> str:
    """Render the dashboard; returns the kernel ID the page was given."""
    status, body, _ = browser.get("/voila/render/index.ipynb")
    assert status == 200, body[:500]
    found = re.search(r'"kernelId": "([0-9a-f-]{36})"', body)
    assert found
    return found.group(1)


async def _ws(server: Server, kernel_id: str, cookie: str | None, *, send: dict[str, object] | None = None,
              listen: float = 0.0) -> tuple[int | str, list[dict[str, object]]]:
    """Open the kernel's websocket; the HTTP status if refused, else ``"open"`` and what came back."""
    from tornado.httpclient import HTTPClientError, HTTPRequest
    from tornado.websocket import websocket_connect

    url = server.base.replace("http", "ws") + f"/api/kernels/{kernel_id}/channels?session_id={uuid.uuid4().hex}"
    request = HTTPRequest(url, headers={"Cookie": cookie} if cookie else {})
    try:
        conn = await websocket_connect(request)
    except HTTPClientError as exc:
        return exc.code, []
    received: list[dict[str, object]] = []
    try:
        if send is not None:
            await conn.write_message(json.dumps(send))
        deadline = time.monotonic() + listen
        while time.monotonic() < deadline:
            try:
                msg = await asyncio.wait_for(conn.read_message(), timeout=max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                break
            if msg is None:
                break
            if isinstance(msg, str):
                received.append(json.loads(msg))
    finally:
        conn.close()
    return "open", received


def ws(server: Server, kernel_id: str, cookie: str | None, *, send: dict[str, object] | None = None,
       listen: float = 0.0) -> tuple[int | str, list[dict[str, object]]]:
    return asyncio.run(_ws(server, kernel_id, cookie, send=send, listen=listen))


def execute_request(code: str) -> dict[str, object]:
    msg_id = uuid.uuid4().hex
    return {"header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "x", "session": uuid.uuid4().hex,
                       "date": dt.datetime.now(dt.UTC).isoformat(), "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}


def wait_for(predicate: Callable[[], object], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False


# -- nothing without a session --------------------------------------------------------------------


def test_nothing_is_served_without_a_session(server: Server) -> None:
    anon = Browser(server)
    status, body, _ = anon.get("/login")
    assert status == 200 and "ユーザーID" in body and "ワンタイムコード" in body and 'name="_xsrf"' in body
    for path in ("/", "/voila/render/index.ipynb"):
        status, _, headers = anon.get(path)
        assert status == 302 and headers["Location"].startswith("/login")
    for path in ("/voila/static/voila.js", "/voila/templates/lab/static/voila.js", "/api/kernels",
                 "/voila/tree", "/voila/api/contents/", "/voila/files/workspace.json", "/tree", "/api/contents",
                 "/voila/render/other.ipynb", "/api/sessions", "/voila/query/x", "/api/kernelspecs"):
        status, body, _ = anon.get(path)
        assert status in (403, 404), (path, status)
        assert "Traceback" not in body


def test_login_form_needs_xsrf_and_refuses_bad_credentials_in_one_message(server: Server) -> None:
    anon = Browser(server)
    status, _, _ = anon.post("/login", {"user": "owner", "password": PASSWORD, "totp": "000000"}, xsrf=False)
    assert status == 403
    assert anon.session_cookie() is None
    status, body, _ = anon.post("/login", {"user": "owner", "password": "wrong", "totp": "123456"})
    assert status == 403 and "ログインできませんでした" in body and anon.session_cookie() is None
    status, body, _ = anon.post("/login", {"user": "owner", "password": "", "totp": ""})
    assert status == 400 and "すべて入力してください" in body


def test_login_sets_a_strict_short_lived_cookie(server: Server) -> None:
    b = Browser(server)
    status, _, headers = b.login("walker")
    assert status == 302 and headers["Location"] == "/voila/render/index.ipynb"
    set_cookie = [v for k, v in headers.items() if k.lower() == "set-cookie" and v.startswith("wb_session=")]
    assert set_cookie, headers
    flags = set_cookie[0].lower()
    assert "httponly" in flags and "samesite=strict" in flags and "max-age=900" in flags
    assert "secure" not in flags  # plain http on 127.0.0.1; https sets Secure
    assert len(b.session_cookie() or "") >= 40


# -- the kernel belongs to its session -----------------------------------------------------------------


def test_kernel_websocket_refuses_everyone_but_its_owner(server: Server, tmp_path: Path) -> None:
    owner, other = Browser(server), Browser(server)
    assert owner.login("owner")[0] == 302 and other.login("other")[0] == 302
    kernel_id = open_dashboard(owner)
    assert kernel_id in server.kernel_ids()  # the same ID any local user sees in ps (started ahead, or now)

    # (a) no cookie, and a made-up one
    assert ws(server, kernel_id, None)[0] == 403
    assert ws(server, kernel_id, "wb_session=" + "A" * 43)[0] == 403
    # (b) another logged-in member of staff
    assert ws(server, kernel_id, other.cookie)[0] == 403
    assert other.get(f"/api/kernels/{kernel_id}")[0] == 403
    assert other.post(f"/voila/api/shutdown/{kernel_id}", {})[0] == 403
    assert kernel_id in server.kernel_ids()

    # the owner may connect, but code cannot be run through the websocket
    marker = tmp_path / "executed"
    state, replies = ws(server, kernel_id, owner.cookie,
                        send=execute_request(f"open({str(marker)!r}, 'w').write('x')"), listen=4.0)
    assert state == "open"
    assert not [r for r in replies if r.get("msg_type") in ("execute_reply", "execute_result", "error")]
    assert not marker.exists()

    # (c) after the owner logged out: refused, and the kernel is gone from memory
    status, _, headers = owner.get("/logout")
    assert status == 302 and "ended=logout" in headers["Location"]
    assert wait_for(lambda: kernel_id not in server.kernel_ids()), "the kernel outlived the logout"
    stale = "wb_session=" + (owner.session_cookie() or "")
    assert ws(server, kernel_id, stale)[0] in (403, 404)
    assert ws(server, kernel_id, owner.cookie)[0] in (403, 404)
    assert owner.get("/voila/render/index.ipynb")[0] == 302  # back to the login page
    assert server.tracebacks() == []


def test_one_browser_one_kernel(server: Server) -> None:
    b = Browser(server)
    assert b.login("second")[0] == 302
    first = open_dashboard(b)
    second = open_dashboard(b)  # a reload
    assert first != second
    assert wait_for(lambda: first not in server.kernel_ids())
    assert ws(server, first, b.cookie)[0] in (403, 404)
    assert second in server.kernel_ids()
    b.get("/logout")
    assert wait_for(lambda: second not in server.kernel_ids())


def test_no_path_leads_to_the_keyring_or_the_database(server: Server) -> None:
    b = Browser(server)
    assert b.login("prober")[0] == 302  # a user of its own: a one-time code is used once
    secret_bytes = (server.workspace / "keyring.json").read_text()[:40]
    for path in ("/voila/render/../../keyring.json", "/voila/render/%2e%2e/%2e%2e/keyring.json",
                 "/voila/render/..%2F..%2Fkeyring.json", "/voila/static/..%2F..%2F..%2Fkeyring.json",
                 "/voila/templates/..%2F..%2Fkeyring.json", "/voila/labextensions/..%2F..%2Fkeyring.json",
                 f"/voila/static/{server.workspace}/keyring.json", "/voila/files/keyring.json",
                 f"/voila/render/{server.workspace}/db/workbench.duckdb", "/voila/api/themes/..%2F..%2Fkeyring.json",
                 "/voila/render/index.ipynb/../../workspace.json"):
        status, body, _ = b.get(path)
        assert status in (400, 403, 404), (path, status)
        assert secret_bytes not in body and "workspace_id" not in body


# -- a live kernel holds no secret (issue 19 item 2) ------------------------------------------------------


def _kernel_pid(server: Server, kernel_id: str) -> int:
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if f"kernel-{kernel_id}.json" in cmdline and "ipykernel" in cmdline:
            return int(proc.name)
    raise AssertionError("the kernel's process was not found")


def test_a_live_kernel_holds_no_key_and_opens_no_workspace_file(server: Server) -> None:
    """Issue 19 item 2, proved on a real kernel: logged in, the dashboard rendered (so the kernel has
    redeemed its ticket and called the data server), its environment, open files and memory maps
    hold no key, no workspace path, no place of the key-encryption key."""
    import os

    from workbench.core.keys import KEK_ENV

    b = Browser(server)
    assert b.login("inspected")[0] == 302
    kernel_id = open_dashboard(b)  # rendered: the kernel has run the dashboard's cell
    pid = _kernel_pid(server, kernel_id)
    # It became the logged-in session through the data server (its ticket was redeemed there).
    from workbench.controls import audit_log
    from workbench.core import channel

    remote = channel.connect(server.workspace)
    assert isinstance(remote, channel.Remote), "the web server's data server does not answer"
    auditor = remote.login("kansa", PASSWORD, server.code("kansa"))
    try:
        redeemed = audit_log.search(auditor, operation="auth.kernel_session", user_id="inspected", outcome="ok")
    finally:
        auditor.logout()
    assert redeemed, "the kernel did not become the logged-in session"
    workspace = os.path.realpath(server.workspace)
    kek_path = os.environ[KEK_ENV]
    kek_bytes = Path(kek_path).read_bytes()
    ws = Workspace.load(server.workspace)  # settings and keyring only: no lock, no database
    db_key = ws.keyring.database_key_hex()
    keyring_file = (server.workspace / "keyring.json").read_bytes()

    environ = Path(f"/proc/{pid}/environ").read_bytes()
    names = {item.split(b"=", 1)[0].decode() for item in environ.split(b"\0") if item}
    assert not names & {"WORKBENCH_WORKSPACE", KEK_ENV, "CREDENTIALS_DIRECTORY", "WORKBENCH_PASSWORD",
                        "WORKBENCH_BATCH_KEY"}, names
    assert "WORKBENCH_SERVER" in names  # the socket is its only way to the data
    for secret in (db_key.encode(), kek_bytes.strip(), kek_path.encode(), workspace.encode(), keyring_file[:64]):
        assert secret not in environ

    opened = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            opened.append(os.readlink(fd))
    assert opened, "the kernel's open files could not be read"
    assert not [f for f in opened if f.startswith(workspace + "/") or f == workspace or f == kek_path]
    maps = Path(f"/proc/{pid}/maps").read_text(errors="replace")
    assert workspace not in maps and kek_path not in maps
    cwd = os.readlink(f"/proc/{pid}/cwd")
    assert not cwd.startswith(workspace)
    b.get("/logout")


def _ticket_of(pid: int) -> str:
    for item in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
        if item.startswith(b"WORKBENCH_KERNEL_TICKET="):
            return item.split(b"=", 1)[1].decode()
    raise AssertionError("no ticket in the kernel's environment")


def test_a_kernel_started_ahead_is_worth_nothing_until_a_login_binds_it(server: Server) -> None:
    """Issue 19 item 4: kernels are started before anyone logs in (a pool); one is bound to a session at
    login.  Its own ticket, read from its environment as any local process of the user could, opens
    nothing before the binding, and nothing after the kernel used it."""
    from workbench.core import channel
    from workbench.core.errors import SessionExpired

    owned: set[str] = set()
    assert wait_for(lambda: bool(server.kernel_ids()), timeout=120), "no kernel was started ahead"
    waiting = server.kernel_ids()
    remote = channel.connect(server.workspace)
    assert isinstance(remote, channel.Remote)
    for kernel_id in waiting:
        with pytest.raises(SessionExpired):  # not bound to anyone: worth nothing
            remote.kernel(_ticket_of(_kernel_pid(server, kernel_id)), kernel_id)
    b = Browser(server)
    assert b.login("early")[0] == 302
    started = time.monotonic()
    kernel_id = open_dashboard(b)
    took = time.monotonic() - started
    assert kernel_id in waiting, "the login did not take a kernel started ahead"
    owned.add(kernel_id)
    ticket = _ticket_of(_kernel_pid(server, kernel_id))
    with pytest.raises(SessionExpired):  # the kernel has used it: worth nothing again
        remote.kernel(ticket, kernel_id)
    assert wait_for(lambda: len(server.kernel_ids() - owned) >= 1, timeout=120), "the pool was not filled again"
    b.get("/logout")
    assert took < 60


# -- the idle limit ----------------------------------------------------------------------------------------


def test_idle_limit_ends_the_session_and_its_kernel(tmp_path: Path) -> None:
    srv = _start(tmp_path, idle_minutes=0.25, users_=["idler", "restarter"])  # 15 seconds
    try:
        b = Browser(srv)
        assert b.login("idler")[0] == 302
        kernel_id = open_dashboard(b)
        assert kernel_id in srv.kernel_ids()
        # (d) nobody touches it: the server ends the session and shuts the kernel down
        assert wait_for(lambda: kernel_id not in srv.kernel_ids(), timeout=60), "the idle kernel was not shut down"
        assert ws(srv, kernel_id, b.cookie)[0] in (403, 404)
        status, _, headers = b.get("/voila/render/index.ipynb")
        assert status == 302 and headers["Location"].startswith("/login")
        # a restart ends everything too: a live session's kernel goes with the server
        # (another user: idler's one-time code of this 30-second step is used, and waiting for the next is slow)
        b = Browser(srv)
        assert b.login("restarter")[0] == 302
        live = open_dashboard(b)
        assert live in srv.kernel_ids()
    finally:
        stop(srv.proc)
    assert not srv.kernel_ids(), "a kernel outlived the server"
    ended = subprocess.run([sys.executable, "-c", (
        "from workbench.web.sessions import WebSessions; from workbench import Workspace; "
        f"print(WebSessions(Workspace.open({str(srv.workspace)!r})).close_stale())")],
        capture_output=True, text=True, check=True).stdout.strip()
    assert ended == "1"  # the next server records the session the restart ended


def test_a_kernel_started_ahead_keeps_its_ticket_while_another_fill_runs() -> None:
    """Two fills at once (a login's and the sweep's): the kernel the first is still starting is not
    in the kernel manager yet, and must not lose its ticket to the second (its login's kernel was
    then refused: 「この画面は有効なログインから開かれていません」)."""
    import asyncio

    from workbench.web.server import TICKET_ENV, KernelPool

    class Manager:
        def __init__(self) -> None:
            self.kernels: dict[str, str] = {}
            self.gate = asyncio.Event()

        def __contains__(self, kernel_id: object) -> bool:
            return kernel_id in self.kernels

        async def cull_kernel_if_idle(self, kernel_id: str) -> None:
            return None

        def get_kernel(self, kernel_id: str) -> Any:
            return type("Kernel", (), {"last_activity": None})()

        async def start_kernel(self, *, kernel_id: str, env: dict[str, str], **_: Any) -> str:
            await self.gate.wait()
            self.kernels[kernel_id] = env[TICKET_ENV]
            return kernel_id

    async def two_fills(pool: KernelPool, km: Manager) -> None:
        first = asyncio.create_task(pool.fill())
        await asyncio.sleep(0)  # the first fill is starting its kernel
        await pool.fill()  # the second runs meanwhile
        km.gate.set()
        await first

    km = Manager()
    pool = KernelPool(km, size=1, server=Path("/nonexistent/socket"))
    asyncio.run(two_fills(pool, km))
    kernel_id = pool.take()
    assert kernel_id is not None and kernel_id in km.kernels
    pool.bind(kernel_id, "the-login's-ticket")
    assert pool.exchange(kernel_id, km.kernels[kernel_id]) == "the-login's-ticket"
    assert pool.exchange(kernel_id, km.kernels[kernel_id]) is None  # once
