"""The dashboard: the single entry point, the menu of the apps the logged-in person's roles permit.

The web server, not this widget, decides who someone is (DESIGN §10): it serves the login
page and starts this dashboard's kernel for one web session, with a one-time ticket.
:meth:`Dashboard.from_server` exchanges the ticket for that person's session; tests pass a
:class:`~workbench.core.workspace.Session` instead.  The menu shows only what the roles permit,
but every service still checks its own permission.  When the session ends (logout, the
idle limit, the end of the set hours) the screen is cleared at once — a timer in the kernel
watches the idle limit — and says why, with the way back to the login page.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass

import ipywidgets as w
import traitlets as t
from IPython.display import display

from workbench.core.errors import SessionExpired, WorkbenchError
from workbench.core.permissions import ROLE_LABELS, Permission, Role
from workbench.core.workspace import Session

from .common import BUSY_STYLE, READABLE_STYLE, ActionButton, App, ErrorBanner, esc, label, tr

__all__ = ["APPS", "AppEntry", "Dashboard", "DashboardModel"]

#: How often the kernel checks the idle limit, in seconds.
IDLE_CHECK_SECONDS = 20.0


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
    AppEntry("access", "access:AccessApp", frozenset({P.USERS_MANAGE})),
    AppEntry("deletion", "lifecycle:DeletionApp", frozenset({P.DELETIONS_MANAGE})),
    AppEntry("disclosure", "lifecycle:DisclosureApp", frozenset({P.REQUESTS_HANDLE})),
    AppEntry("inquiry", "lifecycle:InquiryApp", frozenset({P.REQUESTS_HANDLE})),
    AppEntry("idreview", "lifecycle:IdReviewApp", frozenset({P.USERS_REVIEW})),
    AppEntry("backup", "lifecycle:BackupApp", frozenset({P.BACKUP_RUN, P.KEYS_MANAGE, P.RETENTION_APPLY})),
    AppEntry("keys", "keys:KeysApp", frozenset({P.KEYS_MANAGE})),
    AppEntry("stats", "stats:StatsApp", frozenset({P.STATS_READ, P.STATS_PUBLISH})),
    AppEntry("runs", "runs:RunsApp",
             frozenset({P.BATCHES_CREATE, P.RESULTS_IMPORT, P.AUDIT_VERIFY, P.NUMBERS_REGISTER, P.BACKUP_RUN})),
    AppEntry("audit", "audit:AuditApp", frozenset({P.AUDIT_READ, P.AUDIT_VERIFY, P.LEDGER_READ})),
    AppEntry("evidence", "records:EvidenceApp", frozenset({P.AUDIT_READ})),
    AppEntry("records", "records:RecordsApp", frozenset({P.RECORDS_MANAGE})),
)

#: Where the server's login and logout pages are.
LOGIN_URL = "/login"
LOGOUT_URL = "/logout"


class DashboardModel(t.HasTraits):
    """What the dashboard shows: ``menu`` or ``ended``, who is in, which app is open."""

    screen = t.Unicode("menu")
    user_id = t.Unicode("")
    current_app = t.Unicode("")


class Dashboard(w.VBox):
    """The menu, the open app and the session's end (it logs no one in: the web server does)."""

    def __init__(self, session: Session | None, *, ended: WorkbenchError | None = None,
                 idle_check_seconds: float | None = IDLE_CHECK_SECONDS) -> None:
        self.session = session
        self.model = DashboardModel()
        self.app: App | None = None
        self._timer: threading.Timer | None = None
        self._idle_check_seconds = idle_check_seconds

        self.title = w.HTML(f"<h2 style='margin:4px 0'>{esc(tr('app_title', 'ja'))}</h2>"
                            f"<div style='color:#666'>{esc(tr('app_title', 'en'))}</div>")
        self.banner = ErrorBanner()
        # -- menu screen
        self.who = w.HTML("")
        self.logout_link = w.HTML(
            f"<a href='{LOGOUT_URL}' role='button' class='wb-logout' target='_top' "
            "style='display:inline-block;padding:4px 12px;border:1px solid #999;border-radius:3px;"
            f"text-decoration:none;color:#222;margin-left:12px'>{esc(label('logout'))}</a>")
        self.menu_buttons: dict[str, w.Button] = {}
        self.home_button: w.Button | None = None
        self.menu_box = w.HBox([], layout=w.Layout(flex_flow="row wrap"))
        self.menu_box.add_class("wb-menu")
        self.app_area = w.VBox([])
        self.menu_screen = w.VBox([w.HBox([self.who, self.logout_link]), self.menu_box, self.app_area])
        # -- the screen after the session ended
        self.ended_box = w.HTML("")
        self.ended_box.add_class("wb-ended")

        self.title.value = BUSY_STYLE + READABLE_STYLE + self.title.value
        super().__init__([self.title, self.banner])
        self.model.observe(self._render, "screen")
        if session is None:
            self.end(ended or SessionExpired("Log in first.", "ログインしてください。"))
        else:
            self.model.user_id = session.user_id
            self._build_menu(session)
            self._render()
            self._arm_timer()

    # -- construction ---------------------------------------------------------------
    @classmethod
    def from_server(cls) -> Dashboard:
        """In a dashboard kernel: the session the web server started this kernel for."""
        from workbench.web.kernel import keep_tracebacks_in_server, session_from_server

        try:
            session: Session | None = session_from_server()
            ended = None
        except WorkbenchError as exc:
            session, ended = None, exc
        dashboard = cls(session, ended=ended)
        keep_tracebacks_in_server(dashboard.banner.reference)
        return dashboard

    def show(self) -> None:
        display(self)

    # -- views ----------------------------------------------------------------------
    def _render(self, _change: object = None) -> None:
        if self.model.screen == "menu":
            self.children = [self.title, self.banner, self.menu_screen]
        else:
            self.children = [self.title, self.banner, self.ended_box]

    def _build_menu(self, session: Session) -> None:
        roles = "、".join(ROLE_LABELS[Role(r)][0] for r in session.roles) or "役割なし"
        self.who.value = f"<b>{esc(tr('logged_in_as', 'ja', user=session.user_id, roles=roles))}</b>"
        self.menu_buttons = {}
        for entry in APPS:
            if entry.permitted(session):
                button = ActionButton(description=tr(f"app_{entry.key}"), tooltip=tr(f"app_{entry.key}", "en"),
                                  layout=w.Layout(width="auto", margin="2px"))
                button.add_class(f"wb-menu-{entry.key}")
                button.on_click(lambda _b, e=entry: self.open_app(e.key))
                self.menu_buttons[entry.key] = button
        home = ActionButton(description=tr("app_home"), tooltip=tr("app_home", "en"), icon="home",
                        layout=w.Layout(width="auto", margin="2px"))
        home.add_class("wb-menu-home")
        home.on_click(lambda _b: self.go_home())
        self.home_button = home
        if self.menu_buttons:
            self.menu_box.children = [home, *self.menu_buttons.values()]
        else:
            self.menu_box.children = [home, w.HTML(esc(label("no_apps")))]
        self.go_home()

    def go_home(self) -> None:
        """The home screen: what waits for this person, one click to each."""
        from .home import HomeApp

        session = self.session
        if session is None:
            return
        for b in self.menu_buttons.values():
            b.button_style = ""
        self.app = HomeApp(session, on_expired=self.expired, open_app=self.open_app,
                           available=frozenset(self.menu_buttons))
        self.model.current_app = "home"
        if self.model.screen == "menu":
            self.app_area.children = [self.app]

    # -- handlers -------------------------------------------------------------------
    def open_app(self, key: str) -> App | None:
        """Open one app from the menu (refused if the roles do not permit it)."""
        session = self.session
        entry = next((e for e in APPS if e.key == key), None)
        if session is None or entry is None or key not in self.menu_buttons:
            return None
        if session.idle_expired():
            self.expired(SessionExpired("Logged out after a period without use; log in again.",
                                        "一定時間操作がなかったため、ログアウトしました。再度ログインしてください。"))
            return None
        self.banner.clear()
        for k, b in self.menu_buttons.items():
            b.button_style = "info" if k == key else ""
        self.app = entry.load()(session, on_expired=self.expired)
        self.app.person_opener = self.open_person
        self.model.current_app = key
        if self.model.screen == "menu":  # the app may have expired the session while starting
            self.app_area.children = [self.app]
        return self.app

    def open_person(self, person_id: str) -> App | None:
        """個人の照会, opened on one person (a row of a list that is a person).  Refused as the menu
        refuses it without ``persons.view``; the page is the person app's own service (checked, audited)."""
        from .person import PersonApp

        app = self.open_app("person")
        if isinstance(app, PersonApp):
            app.show(person_id)
        return app

    def expired(self, exc: SessionExpired) -> None:
        """The service layer ended the session: clear the screen and say why."""
        self.end(exc)

    def end(self, why: WorkbenchError) -> None:
        """Clear every app and all it showed; keep only the reason and the way back."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        app, self.app = self.app, None
        self.session = None
        self.app_area.children = []
        self.menu_box.children = []
        self.menu_buttons = {}
        if app is not None:
            app.close_all_views()
        self.model.current_app = ""
        self.model.user_id = ""
        self.banner.clear()
        self.ended_box.value = (
            f"<div role='alert' style='padding:10px;background:#fff4e5;border-radius:4px'>{esc(why.message_ja)}<br>"
            f"<span style='color:#666'>{esc(why.message_en)}</span></div>"
            f"<p><a href='{LOGIN_URL}' target='_top' role='button' class='wb-relogin'>"
            f"{esc(label('login'))}</a></p>")
        self.model.screen = "ended"

    # -- the idle limit, watched in the kernel ----------------------------------------
    def _arm_timer(self) -> None:
        if self._idle_check_seconds is None:
            return
        self._timer = threading.Timer(self._idle_check_seconds, self._check_idle)
        self._timer.daemon = True
        self._timer.start()

    def _check_idle(self) -> None:
        session = self.session
        if session is None:
            return
        if session.idle_expired():
            self.end(SessionExpired("Logged out after a period without use; log in again.",
                                    "一定時間操作がなかったため、ログアウトしました。再度ログインしてください。"))
            return
        self._arm_timer()
