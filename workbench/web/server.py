"""The web server: Voila with the login at the HTTP layer and one kernel per session (DESIGN §10).

ウェブサーバー。The trust boundary is here, built on the extension points jupyter_server
and Voila provide rather than beside them:

* :class:`WorkbenchIdentityProvider` serves the login page (user ID, password, one-time
  code) and knows a request's user only from the session cookie (HttpOnly,
  SameSite=Strict, Secure over TLS, random, renewed on use, ended by logout, the idle
  limit, the set hours or a restart);
* :class:`WorkbenchAuthorizer` lets a kernel, its websocket and its shutdown be reached
  only with the cookie of the session it was started for; everything else it refuses;
* :class:`WorkbenchVoila` serves nothing but the dashboard, its assets and the login:
  no file browser, tree, contents or kernel listing, no file handler; the kernel is
  started with a one-time ticket that makes it the logged-in person's session, and the
  person's earlier kernel is shut down (one browser, one person, one kernel).

Tracebacks never leave the server: errors are logged with a reference number, and only
the number is shown.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import inspect
import json
import logging
import os
import re
import secrets
import threading
import time
import urllib.parse
import uuid
from collections.abc import Awaitable
from pathlib import Path
from queue import Empty
from typing import Any

import tornado.web
import tornado.websocket
from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_core.utils import ensure_async
from jupyter_server._tz import utcnow
from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.auth.identity import IdentityProvider, User
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.services.kernels.handlers import KernelHandler
from tornado.ioloop import IOLoop, PeriodicCallback
from traitlets import Bool, Int, Unicode, default
from voila.app import Voila
from voila.shutdown_kernel_handler import VoilaShutdownKernelHandler
from voila.static_file_handler import MultiStaticFileHandler, TemplateStaticFileHandler
from voila.tornado.handler import TornadoVoilaHandler
from voila.tornado.kernel_websocket_handler import VoilaKernelWebsocketHandler, read_header_from_binary_message

from workbench.core.channel import client_environment
from workbench.core.errors import WorkbenchError
from workbench.core.workspace import Workspace
from workbench.web.dataserver import DataServer
from workbench.web.sessions import WebSession, WebSessions

__all__ = [
    "COOKIE",
    "DASHBOARD",
    "TICKET_ENV",
    "WorkbenchAuthorizer",
    "WorkbenchIdentityProvider",
    "WorkbenchVoila",
    "main",
]

log = logging.getLogger("workbench.web")

#: The session cookie.
COOKIE = "wb_session"
#: "This browser was logged in": kept until logout, so when the session cookie has run out with
#: the idle limit the login page can still say why (it holds nothing else).
SEEN_COOKIE = "wb_seen"
#: The environment variable that carries a kernel's one-time ticket.
TICKET_ENV = "WORKBENCH_KERNEL_TICKET"
#: The one dashboard the server renders; everything else is refused.
DASHBOARD = "index.ipynb"
RENDER_URL = f"/voila/render/{DASHBOARD}"
#: How often ended and idle sessions are swept and their kernels shut down (at most; a third of the
#: idle limit when that is shorter, so a session ends within a third of its limit after it is due).
SWEEP_SECONDS = 15
#: The workbench's page template (``index.html.j2``, over Voila's lab template): searched first.
TEMPLATE_DIR = Path(__file__).resolve().parent / "template"
#: A client-certificate fingerprint, passed on by the TLS proxy, is trusted only with --trust-proxy.
FINGERPRINT_HEADER = "X-Client-Cert-Fingerprint"

_MESSAGES = {
    "logout": ("ログアウトしました。", "You have logged out."),
    "idle": ("一定時間操作がなかったため、ログアウトしました。再度ログインしてください。",
             "You were logged out after a period without use; log in again."),
    "out_of_hours": ("利用時間外になったため、ログアウトしました。", "You were logged out: the set hours have ended."),
    "unknown_terminal": ("この端末は登録されていないため、ログアウトしました。", "Logged out: this terminal is not registered."),
    "terminal_changed": ("接続元が変わったため、ログアウトしました。再度ログインしてください。",
                         "Logged out: the connection came from another terminal; log in again."),
    "ended": ("セッションが終了しました（サーバーの再起動など）。再度ログインしてください。",
              "Your session has ended (the server was restarted, for example); log in again."),
}
#: How often an open dashboard asks whether its session still lives, in milliseconds.
STATE_POLL_MS = 5000
#: Put into the dashboard's <head>: a page the browser restores from its back/forward cache
#: (its kernel is gone) loads afresh; when the session ends (logout elsewhere, the idle limit,
#: the hours, a restart) the screen is emptied at once and the login page says why; when another
#: tab (or window) of the same login took the session over, this tab empties itself and says so,
#: in words, with the way to continue here (issue 20 item 3).  The page asks again the moment it is
#: looked at (focus, visibility), so a person returning to the old tab is told at once.
_PAGE_SCRIPT = """<script>
(function () {
  window.addEventListener('pageshow', function (e) { if (e.persisted) { location.reload(); } });
  var fails = 0, done = false;
  function kernelId() {
    var el = document.getElementById('jupyter-config-data');
    try { return el ? (JSON.parse(el.textContent).kernelId || '') : ''; } catch (e) { return ''; }
  }
  function moved() {  // another tab took this session over: nothing of this screen stays
    if (done) { return; }
    done = true;
    document.body.innerHTML = MOVED_HTML;
  }
  function gone(reason) {
    if (done) { return; }
    done = true;
    document.body.replaceChildren();
    location.replace('/login?ended=' + encodeURIComponent(reason || 'ended'));
  }
  function lost() {  // the server is gone (a restart): clear the screen here and say why
    if (done) { return; }
    done = true;
    document.body.innerHTML = LOST_HTML;
  }
  function ask() {
    if (done) { return; }
    fetch('/session-state?kernel=' + encodeURIComponent(kernelId()), {credentials: 'same-origin', cache: 'no-store'})
      .then(function (r) { return r.json(); })
      .then(function (s) { fails = 0; if (!s.live) { gone(s.ended); } else if (s.moved) { moved(); } })
      .catch(function () { fails += 1; if (fails >= 2) { lost(); } });
  }
  setInterval(ask, STATE_POLL_MS);
  window.addEventListener('focus', ask);
  document.addEventListener('visibilitychange', function () { if (!document.hidden) { ask(); } });
})();
</script>""".replace("STATE_POLL_MS", str(STATE_POLL_MS)).replace("MOVED_HTML", json.dumps(
    "<main class='wb-moved' role='alert' style='max-width:560px;margin:8vh auto;padding:20px;background:#e8f4fd;"
    "font-family:sans-serif'><p>このログインは別のタブ（またはウィンドウ）で開かれたため、このタブでは操作できません。"
    "画面の内容は消去しました。<br><span style='color:#666'>This login was opened in another tab (or window), so this "
    "tab no longer works; its screen was cleared.</span></p>"
    "<p><a href='/' class='wb-continue-here'>このタブで続ける / Continue in this tab</a>"
    "<br><small style='color:#666'>（もう一方のタブは使えなくなります / the other tab then stops）</small></p>"
    "</main>")).replace("LOST_HTML", json.dumps(
    "<main class='wb-lost' role='alert' style='max-width:560px;margin:8vh auto;padding:20px;background:#fff4e5;"
    "font-family:sans-serif'><p>サーバーとの接続が切れたため、画面を消去しました（サーバーの再起動など）。"
    "再度ログインしてください。<br><span style='color:#666'>The connection to the server was lost (a restart, "
    "for example); the screen was cleared. Log in again.</span></p>"
    "<p><a href='/login?ended=ended' class='wb-relogin'>ログイン画面へ / To the login page</a></p></main>"))


def _sessions(handler: tornado.web.RequestHandler) -> WebSessions:
    sessions: WebSessions = handler.settings["wb_sessions"]
    return sessions


def _client(handler: tornado.web.RequestHandler) -> tuple[str | None, str | None]:
    """The client's address and (behind a trusted TLS proxy) certificate fingerprint."""
    if not handler.settings.get("wb_trust_proxy"):
        return handler.request.remote_ip, None
    headers = handler.request.headers
    raw = headers.get(FINGERPRINT_HEADER)
    forwarded = headers.get("X-Real-Ip") or headers.get("X-Forwarded-For", "").split(",")[-1].strip()
    return forwarded or handler.request.remote_ip, raw.replace(":", "").lower() if raw else None


def reference() -> str:
    """A short number a person can quote to the operators; the details stay in the log."""
    return "E-" + secrets.token_hex(4).upper()


async def _blocking(fn: Any, *args: Any, **kwargs: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, lambda: fn(*args, **kwargs))


class PlainErrors:
    """Error pages with a reference number and nothing else: no template that needs a
    user, no traceback; the details go to the server's log under the same number."""

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        handler: tornado.web.RequestHandler = self  # type: ignore[assignment]
        ref = reference()
        exc_info = kwargs.get("exc_info")
        if exc_info and not isinstance(exc_info[1], tornado.web.HTTPError):
            log.error("[%s] %s %s failed", ref, handler.request.method, handler.request.path, exc_info=exc_info)
        handler.set_header("Content-Type", "text/html; charset=utf-8")
        handler.set_header("Cache-Control", "no-store")
        handler.finish(f"<!doctype html><meta charset='utf-8'><title>{status_code}</title>"
                       f"<p>このページは表示できません（{status_code}、参照番号 {ref}）。"
                       f"<a href='/login'>ログイン画面へ</a></p>"
                       f"<p>This page cannot be shown ({status_code}, reference {ref}).</p>")


# -- identity and authorisation ---------------------------------------------------------------


class WorkbenchIdentityProvider(IdentityProvider):
    """Who a request is: only the session cookie says, and only while the session lives."""

    @property
    def auth_enabled(self) -> bool:
        return True

    @property
    def login_available(self) -> bool:
        return True

    @property
    def logout_available(self) -> bool:
        return True

    def get_handlers(self) -> list[tuple[str, object]]:
        return [(r"/login", LoginHandler), (r"/logout", LogoutHandler)]

    def get_user(self, handler: tornado.web.RequestHandler) -> User | None:
        address, fingerprint = _client(handler)
        web = _sessions(handler).lookup(handler.get_cookie(COOKIE), address=address, fingerprint=fingerprint)
        handler._wb_session = web  # type: ignore[attr-defined]
        if web is None:
            handler._wb_ended = why_ended(handler)  # type: ignore[attr-defined]
            return None
        if not isinstance(handler, tornado.websocket.WebSocketHandler):
            set_session_cookie(handler, handler.get_cookie(COOKIE) or "")  # renewed on use
        return User(username=web.user_id, name=web.user_id, display_name=web.user_id)

    def is_token_authenticated(self, handler: tornado.web.RequestHandler) -> bool:
        return False

    def should_check_origin(self, handler: tornado.web.RequestHandler) -> bool:
        return True

    def validate_security(self, app: Any, ssl_options: dict[str, Any] | None = None) -> None:
        """The login is ours; there is no token or password of jupyter_server to check."""


class WorkbenchAuthorizer(Authorizer):
    """A kernel answers only to the session it was started for; nothing else is allowed."""

    def is_authorized(self, handler: JupyterHandler, user: User, action: str, resource: str) -> bool:
        if user is None or resource != "kernels":
            return False
        kernel_id = getattr(handler, "kernel_id", None) or handler.path_kwargs.get("kernel_id")
        return _sessions(handler).owns(getattr(handler, "_wb_session", None), kernel_id)


def why_ended(handler: tornado.web.RequestHandler) -> str | None:
    """Why this browser has no live session: its session's end reason; ``"idle"`` when the
    session cookie itself ran out (it lives as long as the idle limit); ``None`` if it never
    logged in (or logged out)."""
    token = handler.get_cookie(COOKIE)
    if token:
        return _sessions(handler).ended_reason(token)
    return "idle" if handler.get_cookie(SEEN_COOKIE) else None


def set_session_cookie(handler: tornado.web.RequestHandler, token: str) -> None:
    max_age = max(1, int(60 * _sessions(handler).workspace.settings.idle_timeout_minutes))
    handler.set_cookie(COOKIE, token, path="/", httponly=True, samesite="Strict", max_age=max_age,
                       secure=handler.request.protocol == "https")


# -- the login page ---------------------------------------------------------------------------------

_PAGE = """<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>ログイン / Log in — 都営住宅 マイナンバー管理ワークベンチ</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: "Noto Sans CJK JP", "Hiragino Sans", "Yu Gothic", sans-serif; background: #f4f6f8; margin: 0; }}
main {{ max-width: 460px; margin: 8vh auto; background: #fff; padding: 28px 32px; border-radius: 8px;
        box-shadow: 0 1px 4px rgba(0,0,0,.15); }}
h1 {{ font-size: 1.3em; margin: 0 0 4px; }} .en {{ color: #666; font-size: .9em; }}
label {{ display: block; margin-top: 14px; font-weight: bold; }} label span {{ font-weight: normal; color: #666; }}
input {{ width: 100%; box-sizing: border-box; padding: 8px; font-size: 1em; margin-top: 4px; }}
button {{ margin-top: 20px; width: 100%; padding: 10px; font-size: 1em; background: #1565c0; color: #fff;
          border: 0; border-radius: 4px; cursor: pointer; }}
button:disabled {{ background: #90a4ae; }}
.msg {{ margin-top: 14px; padding: 10px; border-radius: 4px; }} .error {{ background: #fdecea; color: #8a1c1c; }}
.info {{ background: #e8f4fd; color: #0b4f80; }}
</style></head>
<body><main class="wb-login">
<h1>都営住宅 マイナンバー管理ワークベンチ</h1><div class="en">Public-housing My Number workbench</div>
{message}
<form method="post" action="/login" onsubmit="this.querySelector('button').disabled=true;
 this.querySelector('button').textContent='確認中… / Checking…'">
{xsrf}
<label for="user">ユーザーID <span>/ User ID</span></label>
<input type="text" id="user" name="user" autocomplete="username" required maxlength="64" value="{user}" autofocus>
<label for="password">パスワード <span>/ Password</span></label>
<input type="password" id="password" name="password" autocomplete="current-password" required maxlength="256">
<label for="totp">ワンタイムコード <span>/ One-time code</span></label>
<input type="text" id="totp" name="totp" inputmode="numeric" autocomplete="one-time-code" required maxlength="8"
 placeholder="123456">
<button type="submit">ログイン / Log in</button>
</form></main></body></html>
"""


class LoginHandler(PlainErrors, JupyterHandler):
    """GET shows the form; POST checks it with :meth:`Workspace.login` and sets the cookie."""

    def check_xsrf_cookie(self) -> None:
        # jupyter_server lets a login form through without XSRF; ours is checked like any form.
        tornado.web.RequestHandler.check_xsrf_cookie(self)

    def _page(self, *, message: str = "", kind: str = "error", user: str = "") -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Frame-Options", "DENY")
        box = f'<div class="msg {kind}" role="alert">{message}</div>' if message else ""
        self.finish(_PAGE.format(message=box, xsrf=self.xsrf_form_html(), user=html.escape(user)))

    @allow_unauthenticated
    def get(self) -> None:
        # A logged-in browser never sees the login form (Back after logging in, an old bookmark): to its screen.
        address, fingerprint = _client(self)
        if _sessions(self).lookup(self.get_cookie(COOKIE), address=address, fingerprint=fingerprint,
                                  touch=False) is not None:
            self.set_header("Cache-Control", "no-store")
            self.redirect(RENDER_URL)
            return
        ended = self.get_argument("ended", "")[:40]
        ja, en = _MESSAGES.get(ended, _MESSAGES["ended"] if ended else ("", ""))
        self._page(message=f"{html.escape(ja)}<br><span class='en'>{html.escape(en)}</span>" if ja else "",
                   kind="info")

    @allow_unauthenticated
    async def post(self) -> None:
        user = self.get_body_argument("user", "").strip()[:64]
        password = self.get_body_argument("password", "")[:256]
        code = self.get_body_argument("totp", "").strip()[:8]
        if not (user and password and code):
            self.set_status(400)
            self._page(message="ユーザーID・パスワード・ワンタイムコードをすべて入力してください。<br>"
                               "<span class='en'>Enter your user ID, password and one-time code.</span>", user=user)
            return
        address, fingerprint = _client(self)
        try:
            token, _web = await _blocking(_sessions(self).login, user, password, code, address=address,
                                          fingerprint=fingerprint)
        except WorkbenchError as exc:
            self.set_status(403)
            self._page(message=f"{html.escape(exc.message_ja)}<br><span class='en'>{html.escape(exc.message_en)}</span>",
                       user=user)
            return
        except Exception:
            ref = reference()
            log.exception("login failed unexpectedly [%s]", ref)
            self.set_status(500)
            self._page(message=f"ログインの処理中に問題が発生しました（参照番号 {ref}）。運用担当に連絡してください。<br>"
                               f"<span class='en'>Something went wrong (reference {ref}); tell the operators.</span>")
            return
        set_session_cookie(self, token)
        self.set_cookie(SEEN_COOKIE, "1", path="/", httponly=True, samesite="Strict",
                        secure=self.request.protocol == "https")
        self.redirect(RENDER_URL)


class LogoutHandler(PlainErrors, JupyterHandler):
    """End the session, shut its kernel down, clear the cookie.  A GET is enough: the
    cookie is SameSite=Strict, so another site cannot make the browser log out."""

    @allow_unauthenticated
    async def get(self) -> None:
        await self._logout()

    @allow_unauthenticated
    async def post(self) -> None:
        await self._logout()

    async def _logout(self) -> None:
        web: WebSession | None = getattr(self, "_wb_session", None)
        if web is not None:
            await end_session(self.settings, web, "logout")
        self.clear_cookie(COOKIE, path="/")
        self.clear_cookie(SEEN_COOKIE, path="/")
        self.redirect("/login?ended=" + (web.ended or "logout" if web else "ended"))


async def end_session(settings: dict[str, Any], web: WebSession, reason: str) -> None:
    """End a session (audited) and shut down its kernel, so nothing of it stays in memory."""
    sessions: WebSessions = settings["wb_sessions"]
    kernels = await _blocking(sessions.end, web, reason)
    km = settings["kernel_manager"]
    for kernel_id in kernels:
        if kernel_id in km:
            await ensure_async(km.shutdown_kernel(kernel_id, now=True))


class SaysWhy:
    """Without a live session, to the login page with the reason the session ended."""

    def get_login_url(self) -> str:
        ended = getattr(self, "_wb_ended", None)
        return "/login?ended=" + urllib.parse.quote(ended) if ended else "/login"


class SessionState(tornado.web.RequestHandler):
    """``/session-state``: whether this browser's session still lives, and if not why — for
    the open dashboard to empty itself.  Asking does not count as use (the idle limit runs on)."""

    def get(self) -> None:
        address, fingerprint = _client(self)
        sessions = _sessions(self)
        web = sessions.lookup(self.get_cookie(COOKIE), address=address, fingerprint=fingerprint, touch=False)
        self.set_header("Cache-Control", "no-store")
        kernel = self.get_argument("kernel", "")[:64] or None
        self.finish({"live": web is not None, "ended": None if web else why_ended(self) or "ended",
                     "moved": sessions.moved(web, kernel)})


class RootHandler(SaysWhy, PlainErrors, JupyterHandler):
    """``/`` leads to the dashboard (or, without a session, the login page)."""

    @tornado.web.authenticated
    def get(self) -> None:
        self.redirect(RENDER_URL)


# -- the dashboard and its kernel ----------------------------------------------------------------


#: What a kernel started ahead imports while it waits, so a login does not wait for it: what the dashboard's
#: notebook imports (``widgets.dashboard``: every screen, the services, pandas — 1.7 s) and the kernel's side
#: of the login.  It named a module that no longer existed, so the import failed at once and a login waited
#: for all of it (tests/test_kernel_warm_up.py runs it).
WARM_UP = "import widgets.dashboard, widgets.home, workbench.web.kernel"


def _digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode("ascii", "replace")).hexdigest()


class KernelPool:
    """Kernels started ahead (issue 19 item 4): a kernel holds no secret, so it can be started before
    anyone logs in — with the data server's socket and a ticket of its own that is worth nothing until a
    login binds the kernel to a session.  At login the dashboard takes a ready kernel instead of starting
    one (a kernel's start and its imports are most of the wait); the web session's kernel ticket is bound
    to it, and when the kernel presents its own ticket the data server exchanges it (:meth:`exchange`),
    once, for the bound one.  An unbound kernel's ticket opens nothing; the pool is filled again after
    each take and on each sweep (a kernel culled while it waited is dropped)."""

    def __init__(self, km: Any, *, size: int, server: Path) -> None:
        self._km = km
        self.size = max(0, size)
        # A kernel waiting here is idle by design: the idle culler must leave it (a kernel culled as it is
        # taken would leave the login's page without a kernel).
        cull = km.cull_kernel_if_idle

        async def cull_unless_waiting(kernel_id: str) -> Any:
            if kernel_id in self._ready or kernel_id in self._starting_ids:
                return None
            return await ensure_async(cull(kernel_id))

        km.cull_kernel_if_idle = cull_unless_waiting
        self._server = server
        self._ready: list[str] = []
        self._starting = 0
        self._starting_ids: set[str] = set()
        self._tickets: dict[str, str] = {}  # kernel → SHA-256 of its own ticket
        self._bound: dict[str, str] = {}  # kernel → the web session's kernel ticket, until redeemed
        self._lock = threading.Lock()  # exchange() is called from the data server's threads

    def _drop(self, kernel_id: str) -> None:
        with self._lock:
            self._tickets.pop(kernel_id, None)
            self._bound.pop(kernel_id, None)

    async def fill(self) -> None:
        self._ready = [k for k in self._ready if k in self._km]
        # Gone: neither running nor waiting nor still starting (a kernel another fill is starting is not
        # in the kernel manager yet; dropping its ticket made its login's kernel refused, seen in CI).
        for gone in [k for k in self._tickets
                     if k not in self._km and k not in self._ready and k not in self._starting_ids]:
            self._drop(gone)
        while len(self._ready) + self._starting < self.size:
            self._starting += 1
            kernel_id, ticket = str(uuid.uuid4()), secrets.token_urlsafe(32)
            with self._lock:
                self._tickets[kernel_id] = _digest(ticket)
            self._starting_ids.add(kernel_id)
            try:
                env = client_environment(self._server, {TICKET_ENV: ticket}, os.environ)
                await ensure_async(self._km.start_kernel(kernel_id=kernel_id, kernel_name="python3", path="", env=env,
                                                         extra_arguments=[f"--IPKernelApp.exec_lines={WARM_UP}"]))
                self._ready.append(kernel_id)
            except Exception:
                log.exception("could not start a kernel ahead [%s]", reference())
                self._drop(kernel_id)
                return
            finally:
                self._starting -= 1
                self._starting_ids.discard(kernel_id)

    def take(self) -> str | None:
        """A ready kernel, or None (the caller starts one as before)."""
        while self._ready:
            kernel_id = self._ready.pop(0)
            if kernel_id in self._km:
                self._km.get_kernel(kernel_id).last_activity = utcnow()  # its idle time starts now
                return kernel_id
            self._drop(kernel_id)
        return None

    def bind(self, kernel_id: str, ticket: str) -> None:
        with self._lock:
            self._bound[kernel_id] = ticket

    def exchange(self, kernel_id: str, ticket: str) -> str | None:
        """The bound kernel ticket for a pooled kernel presenting its own ticket (once), else None."""
        with self._lock:
            expected = self._tickets.get(kernel_id)
            if expected is None or kernel_id not in self._bound or not hmac.compare_digest(expected, _digest(ticket)):
                return None
            del self._tickets[kernel_id]
            return self._bound.pop(kernel_id)


class ReadyKernelClient(AsyncKernelClient):
    """The client Voila runs the dashboard's notebook with: ready as soon as the kernel has answered its
    ``kernel_info`` and its IOPub channel is seen connected (issue 19 item 4).

    jupyter_client's own wait then drains IOPub until 0.2 s pass without a message — 0.2 s at least on
    every page, before the first cell runs.  Here only what has already arrived is drained: a message that
    comes later belongs to no cell the page runs (nbclient takes only the replies to its own requests)."""

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
        while True:
            self.kernel_info()
            try:
                msg = await ensure_async(self.shell_channel.get_msg(timeout=1))
            except Empty:
                pass
            else:
                if msg["msg_type"] == "kernel_info_reply":
                    try:  # IOPub connected: the kernel_info's own status arrives on it
                        await ensure_async(self.iopub_channel.get_msg(timeout=0.2))
                    except Empty:
                        pass
                    else:
                        self._handle_kernel_info_reply(msg)
                        break
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")
        while True:  # what is already there, no waiting for more
            try:
                await ensure_async(self.iopub_channel.get_msg(timeout=0))
            except Empty:
                break


class _TicketingKernelManager:
    """The kernel manager as one render request sees it: a kernel it starts gets the
    session's ticket in its environment, and the session's earlier kernel is shut down."""

    def __init__(self, handler: DashboardHandler) -> None:
        self._handler = handler
        self._km = handler.settings["kernel_manager"]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._km, name)

    async def start_kernel(self, **kwargs: Any) -> str:
        web: WebSession | None = getattr(self._handler, "_wb_session", None)
        if web is None:
            raise tornado.web.HTTPError(403)
        pool: KernelPool | None = self._handler.settings.get("wb_pool")
        if pool is not None:
            ready = pool.take()
            IOLoop.current().add_callback(pool.fill)  # one more is started for the next login
            if ready is not None:  # started ahead: bind it to this session (its own ticket is exchanged for this one)
                try:
                    ticket, earlier = await _blocking(_sessions(self._handler).kernel_ticket, web, ready)
                except Exception:
                    await ensure_async(self._km.shutdown_kernel(ready, now=True))
                    raise
                pool.bind(ready, ticket)
                for old in earlier:
                    if old in self._km:
                        await ensure_async(self._km.shutdown_kernel(old, now=True))
                return ready
        kernel_id = str(uuid.uuid4())
        ticket, earlier = await _blocking(_sessions(self._handler).kernel_ticket, web, kernel_id)
        for old in earlier:
            if old in self._km:
                await ensure_async(self._km.shutdown_kernel(old, now=True))
        # A kernel reaches the data only through the data server: no workspace path, no key-encryption key's place.
        env = client_environment(self._handler.settings["wb_data_server"].path, {TICKET_ENV: ticket},
                                 kwargs.pop("env", None) or os.environ)
        kwargs.pop("kernel_id", None)
        try:
            return str(await ensure_async(self._km.start_kernel(kernel_id=kernel_id, env=env, **kwargs)))
        except Exception:
            _sessions(self._handler).release_kernel(web, kernel_id)
            raise


class OwnedKernel(PlainErrors, KernelHandler):
    """A kernel's model, for its owner only (the authorizer checks)."""


class DashboardHandler(SaysWhy, PlainErrors, TornadoVoilaHandler):
    """Renders the dashboard in a kernel that belongs to the logged-in session.

    The page is never stored (``no-store``): Back and Forward fetch it afresh, with a kernel
    of its own, instead of showing a copy whose kernel is gone (「model not found」)."""

    _wb_script_added = False

    @property
    def kernel_manager(self) -> Any:
        return _TicketingKernelManager(self)

    async def get(self, path: str | None = None) -> None:
        self.set_header("Cache-Control", "no-store")
        await super().get(path)

    def write(self, chunk: str | bytes | dict[str, Any]) -> None:
        if not self._wb_script_added and isinstance(chunk, str) and "</head>" in chunk:
            chunk = chunk.replace("</head>", _PAGE_SCRIPT + "</head>", 1)
            self._wb_script_added = True
        super().write(chunk)


class KernelWebsocket(PlainErrors, VoilaKernelWebsocketHandler):
    """The kernel's websocket: only for its session, which each message keeps alive; error
    messages (tracebacks) never reach the browser."""

    def on_message(self, ws_message: Any) -> Any:
        web: WebSession | None = getattr(self, "_wb_session", None)
        address, fingerprint = _client(self)
        token = self.get_cookie(COOKIE)
        if web is None or _sessions(self).lookup(token, address=address, fingerprint=fingerprint) is not web:
            self.close(code=1008, reason="session ended")
            return None
        return super().on_message(ws_message)

    def write_message(self, message: Any, binary: bool = False) -> Any:
        if isinstance(message, bytes):
            header = read_header_from_binary_message(message)
        elif isinstance(message, dict):
            header = message.get("header")
        elif isinstance(message, str) and '"msg_type": "error"' in message:
            return None
        else:
            header = None
        if header and header.get("msg_type") == "error":
            return None
        return super().write_message(message, binary)


class KernelShutdown(PlainErrors, VoilaShutdownKernelHandler):
    """The page's own kernel shutdown on unload, for its owner only."""

    async def post(self, kernel_id: str) -> None:
        if not _sessions(self).owns(getattr(self, "_wb_session", None), kernel_id):
            raise tornado.web.HTTPError(403)
        await super().post(kernel_id)


def _guarded(cls: type[tornado.web.RequestHandler]) -> type[tornado.web.RequestHandler]:
    """A static-file handler that answers only a live session (tornado's own handlers do
    not go through jupyter_server's authentication)."""

    class Guarded(PlainErrors, cls):  # type: ignore[valid-type,misc]
        async def prepare(self) -> None:
            if ".." in urllib.parse.unquote(self.request.path):  # no way out of the asset folders
                raise tornado.web.HTTPError(404)
            result = super().prepare()
            if inspect.isawaitable(result):
                await result
            address, fingerprint = _client(self)
            if _sessions(self).lookup(self.get_cookie(COOKIE), address=address, fingerprint=fingerprint) is None:
                raise tornado.web.HTTPError(403)

    Guarded.__name__ = f"Guarded{cls.__name__}"
    return Guarded


# -- the application ----------------------------------------------------------------------------------


class WorkbenchVoila(Voila):
    """Voila serving the one dashboard, behind the workbench login."""

    name = "workbench-voila"
    workspace = Unicode(os.environ.get("WORKBENCH_WORKSPACE", ""), config=True, help="The workspace folder.")
    kernel_pool = Int(2, config=True, help="Kernels started ahead, bound to a session at login (0: none).")
    trust_proxy = Bool(False, config=True,
                       help="Behind a TLS reverse proxy: take the client address from X-Real-Ip/X-Forwarded-For "
                            f"and a client certificate's fingerprint from {FINGERPRINT_HEADER}.")

    @default("identity_provider_class")
    def _default_identity_provider(self) -> type[IdentityProvider]:
        return WorkbenchIdentityProvider

    @default("authorizer_class")
    def _default_authorizer(self) -> type[Authorizer]:
        return WorkbenchAuthorizer

    def setup_template_dirs(self) -> None:
        """Voila's lab template under the workbench's own page (:data:`TEMPLATE_DIR`: the home screen drawn
        before Voila's scripts run, issue 19 item 4).  Neither the notebook nor a request may choose
        another template (a ``?template=`` would bypass it)."""
        self.voila_configuration.allow_template_override = "NO"
        super().setup_template_dirs()
        found: list[str] = list(self.template_paths)  # type: ignore[has-type]
        self.template_paths = [str(TEMPLATE_DIR), *(p for p in found if p != str(TEMPLATE_DIR))]

    def init_settings(self) -> dict[str, Any]:
        if not self.workspace:
            raise SystemExit("workbench: no workspace (set WORKBENCH_WORKSPACE or --WorkbenchVoila.workspace)")
        workspace = Workspace.open(Path(self.workspace))
        # The data server (issue 19): this process keeps the database open and answers the kernels,
        # the CLI and the pipelines on its socket; the kernels get the socket, never the workspace.
        self.data_server = DataServer(workspace).start()
        self.wb_sessions = WebSessions(workspace, on_end=self.data_server.revoke_session)
        ended = self.wb_sessions.close_stale()
        if ended:
            self.log.info("%d web sessions left open by the previous server were recorded as ended.", ended)
        # Voila's notebook runs start without jupyter_client's 0.2 s IOPub drain (ReadyKernelClient).
        self.config.ServerKernelManager.client_factory = ReadyKernelClient
        settings: dict[str, Any] = super().init_settings()
        settings.update(wb_sessions=self.wb_sessions, wb_data_server=self.data_server, wb_trust_proxy=self.trust_proxy, xsrf_cookies=True,
                        allow_unauthenticated_access=False, serve_traceback=False)
        return settings

    def init_kernel_pool(self) -> KernelPool | None:
        if self.kernel_pool <= 0:
            return None
        pool = KernelPool(self.kernel_manager, size=self.kernel_pool, server=self.data_server.path)
        self.data_server.pool_exchange = pool.exchange
        self.app.settings["wb_pool"] = pool
        return pool

    def init_handlers(self) -> list[Any]:
        """Keep only what the dashboard needs; swap in the guarded versions."""
        swap: dict[type, type | None] = {
            KernelHandler: OwnedKernel,
            VoilaKernelWebsocketHandler: KernelWebsocket,
            VoilaShutdownKernelHandler: KernelShutdown,
            TemplateStaticFileHandler: _guarded(TemplateStaticFileHandler),
            MultiStaticFileHandler: _guarded(MultiStaticFileHandler),
            LoginHandler: LoginHandler,
            LogoutHandler: LogoutHandler,
        }
        kept: list[Any] = [(r"/", RootHandler), (r"/session-state", SessionState)]
        for spec in super().init_handlers():
            pattern, cls = spec[0], spec[1]
            if cls in swap:
                kept.append((pattern, swap[cls], *spec[2:]))
            elif cls.__name__ in ("ThemesHandler", "FileFindHandler"):
                # static files (the widgets' front-ends, e.g. anywidget's under /voila/labextensions): tornado's
                # StaticFileHandler.get is not authenticated, so these too answer only a live session
                kept.append((pattern, _guarded(cls), *spec[2:]))
            elif cls is TornadoVoilaHandler and pattern.endswith("/voila/render/(.*)"):
                kept.append((pattern[: -len("(.*)")] + f"({re.escape(DASHBOARD)})", DashboardHandler, *spec[2:]))
        return kept

    def start(self) -> None:
        super().start()

    def listen(self) -> None:
        idle_seconds = self.wb_sessions.workspace.settings.idle_timeout_minutes * 60
        PeriodicCallback(self._sweep, min(SWEEP_SECONDS, max(1.0, idle_seconds / 3)) * 1000).start()
        self.pool = self.init_kernel_pool()
        if self.pool is not None:
            IOLoop.current().add_callback(self.pool.fill)
        super().listen()

    async def _sweep(self) -> None:
        """End sessions past their idle limit or hours, and shut their kernels down."""
        settings = self.app.settings
        try:  # the hours as they stand now (changed by an administrator), before judging the sessions
            await _blocking(self.wb_sessions.policy, refresh=True)
        except Exception:  # pragma: no cover - logged, retried next sweep
            self.log.exception("could not refresh the access policy")
        for web in self.wb_sessions.due():
            try:
                await end_session(settings, web, web.ended or "idle")
            except Exception:
                self.log.exception("could not end a web session [%s]", reference())
        pool = getattr(self, "pool", None)
        if pool is not None:
            await pool.fill()

    def stop(self) -> None:
        """On shutdown every kernel goes, so no person's data stays in any process."""
        try:
            km = self.kernel_manager
            for kernel_id in list(km.list_kernel_ids()):
                result = km.shutdown_kernel(kernel_id, now=True)
                if isinstance(result, Awaitable):
                    asyncio.get_event_loop().run_until_complete(result)
        except Exception:
            self.log.exception("could not shut every kernel down")
        super().stop()
        data_server = getattr(self, "data_server", None)
        if data_server is not None:
            data_server.stop()


main = WorkbenchVoila.launch_instance

if __name__ == "__main__":
    main()
