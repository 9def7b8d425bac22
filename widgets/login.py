"""The single entry point: log in, then a menu of the apps the user's roles permit.

``LoginGate.from_env()`` opens the workspace named by ``WORKBENCH_WORKSPACE`` (set by
``workbench serve``); tests pass a :class:`~workbench.workspace.Workspace` instead.
The menu shows only what the roles permit, but every service still checks its own
permission.  The idle timeout is the service layer's: when a call raises
:class:`~workbench.errors.SessionExpired`, the gate returns to the login screen
and says why.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass

import ipywidgets as w
import traitlets as t
from IPython.display import display

from workbench.errors import SessionExpired, WorkbenchError
from workbench.permissions import ROLE_LABELS, Permission, Role
from workbench.workspace import Session, Workspace

from .common import App, ErrorBanner, esc, label, tr

__all__ = ["APPS", "AppEntry", "LoginGate", "LoginModel"]

ENV_VAR = "WORKBENCH_WORKSPACE"


@dataclass(frozen=True)
class AppEntry:
    key: str
    #: "module:Class" under ``widgets``; imported only when opened.
    target: str
    #: The menu shows the entry if the session holds any of these.
    any_of: frozenset[Permission]

    def permitted(self, session: Session) -> bool:
        return any(session.can(p) for p in self.any_of)

    def load(self) -> type[App]:
        module, cls = self.target.split(":")
        app: type[App] = getattr(importlib.import_module(f"widgets.{module}"), cls)
        return app


P = Permission
APPS: tuple[AppEntry, ...] = (
    AppEntry("registration", "registration:RegistrationApp",
             frozenset({P.TARGETS_IMPORT, P.NUMBERS_REGISTER, P.COLLECTION_EXPORT})),
    AppEntry("batches", "batches:BatchesApp", frozenset({P.BATCHES_CREATE, P.PROCEDURES_IMPORT})),
    AppEntry("review", "review:ReviewApp", frozenset({P.NUMBERS_REGISTER, P.DISCREPANCIES_REVIEW})),
    AppEntry("person", "person:PersonApp", frozenset({P.PERSONS_VIEW})),
    AppEntry("approvals", "approvals:ApprovalsApp", frozenset({P.APPROVALS_DECIDE})),
    AppEntry("admin", "admin:AdminApp", frozenset({P.USERS_MANAGE, P.USERS_REVIEW})),
    AppEntry("audit", "audit:AuditApp", frozenset({P.AUDIT_READ, P.AUDIT_VERIFY, P.LEDGER_READ})),
)


class LoginModel(t.HasTraits):
    """What the gate shows: ``login`` or ``menu``, who is in, which app is open."""

    screen = t.Unicode("login")
    user_id = t.Unicode("")
    current_app = t.Unicode("")


class LoginGate(w.VBox):
    def __init__(self, workspace: Workspace | None = None, *, workspace_path: str | None = None,
                 open_workspace: Callable[[str], Workspace] = Workspace.open) -> None:
        self._workspace = workspace
        self._workspace_path = workspace_path
        self._open_workspace = open_workspace
        self.session: Session | None = None
        self.model = LoginModel()
        self.app: App | None = None

        # -- login screen
        self.title = w.HTML(f"<h2 style='margin:4px 0'>{esc(tr('app_title', 'ja'))}</h2>"
                            f"<div style='color:#666'>{esc(tr('app_title', 'en'))}</div>")
        style = {"description_width": "200px"}
        wide = w.Layout(width="440px")
        self.user = w.Text(description=label("user_id"), style=style, layout=wide)
        self.password = w.Password(description=label("password"), style=style, layout=wide)
        self.totp = w.Text(description=label("totp"), placeholder="123456", style=style, layout=wide)
        self.login_button = w.Button(description=label("login"), button_style="primary", icon="sign-in",
                                     layout=w.Layout(width="240px"))
        self.banner = ErrorBanner()
        self.login_box = w.VBox([self.user, self.password, self.totp, self.login_button],
                                layout=w.Layout(padding="8px"))
        self.login_box.add_class("wb-login")
        self.login_button.on_click(lambda _b: self.submit())

        # -- menu screen
        self.who = w.HTML("")
        self.logout_button = w.Button(description=label("logout"), icon="sign-out", layout=w.Layout(width="auto"))
        self.logout_button.on_click(lambda _b: self.logout())
        self.menu_buttons: dict[str, w.Button] = {}
        self.menu_box = w.HBox([], layout=w.Layout(flex_flow="row wrap"))
        self.menu_box.add_class("wb-menu")
        self.app_area = w.VBox([])
        self.menu_screen = w.VBox([w.HBox([self.who, self.logout_button]), self.menu_box, self.app_area])

        super().__init__([self.title, self.banner, self.login_box])
        self.model.observe(self._render, "screen")

    # -- construction ---------------------------------------------------------------
    @classmethod
    def from_env(cls) -> LoginGate:
        return cls(workspace_path=os.environ.get(ENV_VAR))

    def show(self) -> None:
        display(self)

    @property
    def workspace(self) -> Workspace | None:
        if self._workspace is None and self._workspace_path:
            self._workspace = self._open_workspace(self._workspace_path)
        return self._workspace

    # -- views ----------------------------------------------------------------------
    def _render(self, _change: object = None) -> None:
        if self.model.screen == "login":
            self.children = [self.title, self.banner, self.login_box]
        else:
            self.children = [self.title, self.banner, self.menu_screen]

    def _build_menu(self, session: Session) -> None:
        roles = "、".join(ROLE_LABELS[Role(r)][0] for r in session.roles) or "役割なし"
        self.who.value = f"<b>{esc(tr('logged_in_as', 'ja', user=session.user_id, roles=roles))}</b>"
        self.menu_buttons = {}
        for entry in APPS:
            if entry.permitted(session):
                button = w.Button(description=tr(f"app_{entry.key}"), tooltip=tr(f"app_{entry.key}", "en"),
                                  layout=w.Layout(width="auto", margin="2px"))
                button.add_class(f"wb-menu-{entry.key}")
                button.on_click(lambda _b, e=entry: self.open_app(e.key))
                self.menu_buttons[entry.key] = button
        if self.menu_buttons:
            self.menu_box.children = list(self.menu_buttons.values())
        else:
            self.menu_box.children = [w.HTML(esc(label("no_apps")))]
        self.app_area.children = []

    # -- handlers -------------------------------------------------------------------
    def submit(self) -> None:
        user, password, code = self.user.value.strip(), self.password.value, self.totp.value.strip()
        self.password.value = ""
        self.totp.value = ""
        if not (user and password and code):
            self.banner.info(*_pair("fill_all"))
            return
        try:
            workspace = self.workspace
            if workspace is None:
                self.banner.info(*_pair("no_workspace"))
                return
            self.login_button.disabled = True
            self.session = workspace.login(user, password, code)
        except WorkbenchError as exc:
            self.banner.error(exc)
            return
        except Exception:
            self.banner.unexpected()
            return
        finally:
            self.login_button.disabled = False
        self.banner.clear()
        self.model.user_id = self.session.user_id
        self._build_menu(self.session)
        self.model.screen = "menu"

    def open_app(self, key: str) -> App | None:
        """Open one app from the menu (refused if the roles do not permit it)."""
        session = self.session
        entry = next((e for e in APPS if e.key == key), None)
        if session is None or entry is None or key not in self.menu_buttons:
            return None
        self.banner.clear()
        for k, b in self.menu_buttons.items():
            b.button_style = "info" if k == key else ""
        self.app = entry.load()(session, on_expired=self.expired)
        self.model.current_app = key
        if self.model.screen == "menu":  # the app may have expired the session while starting
            self.app_area.children = [self.app]
        return self.app

    def expired(self, exc: SessionExpired) -> None:
        """The service layer ended the session: back to the login screen, saying why."""
        self.session = None
        self.app = None
        self.app_area.children = []
        self.model.current_app = ""
        self.model.user_id = ""
        self.model.screen = "login"
        self.banner.error(exc)

    def logout(self) -> None:
        if self.session is not None:
            try:
                self.session.logout()
            except WorkbenchError:
                pass
        self.session = None
        self.app = None
        self.app_area.children = []
        self.model.current_app = ""
        self.model.user_id = ""
        self.model.screen = "login"
        self.banner.success(*_pair("logged_out"))


def _pair(key: str) -> tuple[str, str]:
    return tr(key, "ja"), tr(key, "en")
