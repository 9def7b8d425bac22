"""The dashboard: the single entry point, the menu of the apps the logged-in person's roles permit.

The web server, not this widget, decides who someone is (DESIGN §10): it serves the login
page and starts this dashboard's kernel for one web session, with a one-time ticket.
:meth:`Dashboard.from_server` exchanges the ticket for that person's session; tests pass a
:class:`~workbench.core.workspace.Session` instead.  The menu shows only what the roles permit,
but every service still checks its own permission.  When the session ends (logout, the
idle limit, the end of the set hours) the screen is cleared at once — a timer in the kernel
watches the idle limit — and says why, with the way back to the login page.

A session a clerk cannot lose (issue 20 item 3): where the person is — the screen and what is
chosen on it, a :class:`~workbench.pending.Place` — is kept in the store
(:func:`workbench.pending.remember_place`) each time it changes, and a new dashboard (a reload, a
second tab, a login after the idle limit) opens there (:meth:`Dashboard.open_screen`, the one typed "open
at" entry point; the inbox's 開く uses it too).  A minute before the idle limit (half the limit when
it is shorter than two minutes) a warning with 「続ける」 appears; an approver's count of requests
waiting is refreshed by a timer without a click (:data:`LIVE_SECONDS`), a call that does not count
as use.  Both timers stop when the session ends.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from typing import Any

import ipywidgets as w
import traitlets as t
from IPython.display import HTML, display

from workbench import pending
from workbench.core.errors import SessionExpired, WorkbenchError
from workbench.core.permissions import ROLE_LABELS, Permission, Role
from workbench.core.workspace import Session
from workbench.pending import Inbox, Opened, Place

from .common import BUSY_STYLE, READABLE_STYLE, ActionButton, App, ErrorBanner, esc, label, tr

__all__ = ["APPS", "AppEntry", "Dashboard", "DashboardModel", "DashboardStart"]

#: How often the kernel checks the idle limit, in seconds (more often when the limit is short).
IDLE_CHECK_SECONDS = 20.0
#: How long before the idle limit the warning with 「続ける」 appears, in seconds (at most half the limit).
IDLE_WARNING_SECONDS = 60.0
#: How often an approver's count of requests waiting is refreshed without a click, in seconds.
LIVE_SECONDS = 20.0


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
    AppEntry("handover", "handover:HandoverApp", frozenset({P.MEDIA_MANAGE})),
)

#: Where the server's login and logout pages are.
LOGIN_URL = "/login"
LOGOUT_URL = "/logout"


class DashboardModel(t.HasTraits):
    """What the dashboard shows: ``menu`` or ``ended``, who is in, which app is open."""

    screen = t.Unicode("menu")
    user_id = t.Unicode("")
    current_app = t.Unicode("")
    #: Where the person is: the screen and what is chosen on it (kept in the store as it changes).
    place = t.Instance(Place, default_value=Place())
    #: For approvers: requests waiting for them, refreshed by a timer (-1 until first counted).
    approvals_waiting = t.Int(-1)
    #: Whether the warning before the idle limit is shown.
    idle_warning = t.Bool(False)


class Dashboard(w.VBox):
    """The menu, the open app and the session's end (it logs no one in: the web server does)."""

    def __init__(self, session: Session | None, *, ended: WorkbenchError | None = None,
                 idle_check_seconds: float | None = IDLE_CHECK_SECONDS, live_seconds: float | None = LIVE_SECONDS,
                 restore: bool = True, place: Place | None = None, inbox: Inbox | None = None) -> None:
        self.session = session
        #: Read already by :class:`DashboardStart` (where the person was, the home screen's inbox): not read twice.
        self._first_place = place
        self._first_inbox = inbox
        self.model = DashboardModel()
        self.app: App | None = None
        self._timer: threading.Timer | None = None
        self._live_timer: threading.Timer | None = None
        self._idle_check_seconds = idle_check_seconds
        # no kernel timers at all when the idle timer is off (a test drives them by hand)
        self._live_seconds = live_seconds if idle_check_seconds is not None else None
        self._restore = restore
        #: While a place is being opened, the app's own selection changes are not remembered twice.
        self._opening = False

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
        #: The approver's live count of requests waiting (updated by a timer, without a click).
        self.live_count = w.HTML("")
        self.live_count.add_class("wb-live-count")
        # -- the warning before the idle limit, with 「続ける」
        self.idle_text = w.HTML("")
        self.continue_button = ActionButton(description="続ける / Continue", icon="play", button_style="warning",
                                            layout=w.Layout(width="auto"))
        self.continue_button.on_click(lambda _b: self.keep_session())
        self.idle_box = w.HBox([self.idle_text, self.continue_button],
                               layout=w.Layout(display="none", align_items="center", padding="6px 10px",
                                               border="2px solid #e65100", margin="4px 0"))
        self.idle_box.add_class("wb-idle-warning")
        self.menu_screen = w.VBox([w.HBox([self.who, self.live_count, self.logout_link]), self.idle_box,
                                   self.menu_box, self.app_area])
        # -- the screen after the session ended
        self.ended_box = w.HTML("")
        self.ended_box.add_class("wb-ended")

        self.title.value = BUSY_STYLE + READABLE_STYLE + self.title.value
        super().__init__([self.title, self.banner])
        self.add_class("wb-dashboard")
        self.model.observe(self._render, "screen")
        self.model.observe(self._show_live_count, "approvals_waiting")
        self.model.observe(self._show_idle_warning, "idle_warning")
        if session is None:
            self.end(ended or SessionExpired("Log in first.", "ログインしてください。"))
        else:
            self.model.user_id = session.user_id
            self._build_menu(session)
            self._render()
            self._arm_timer()
            if session.can(P.APPROVALS_DECIDE):
                self._arm_live()

    # -- construction ---------------------------------------------------------------
    @classmethod
    def from_server(cls) -> Dashboard:
        """In a dashboard kernel: the session the web server started this kernel for."""
        return DashboardStart.from_server(draw=False).dashboard()

    def show(self) -> None:
        display(self)

    # -- views ----------------------------------------------------------------------
    def _render(self, _change: object = None) -> None:
        if self.model.screen == "menu":
            self.children = [self.title, self.banner, self.menu_screen]
        else:
            self.children = [self.title, self.banner, self.ended_box]

    def _build_menu(self, session: Session) -> None:
        roles = _roles_text(session)
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
        first, self._first_place = self._first_place, None
        place = first if first is not None else _last_place(self.session) if self._restore else Place()
        if place.app == "home" or place.app not in self.menu_buttons or self.open_screen(place.app, item=place) is None:
            self.go_home(remember=False)

    def go_home(self, *, remember: bool = True) -> None:
        """The home screen (the inbox): what waits for this person, one click to each."""
        from .home import HomeApp

        session = self.session
        if session is None:
            return
        for b in self.menu_buttons.values():
            b.button_style = ""
        inbox, self._first_inbox = self._first_inbox, None
        self.app = home = HomeApp(session, on_expired=self.expired, open_app=self.open_app,
                                  available=frozenset(self.menu_buttons), open_place=self.open_place, inbox=inbox)
        self.model.current_app = "home"
        if self.model.screen == "menu":
            self.app_area.children = [home]
            counted = next((i.count for i in home.items if i.key == "approvals_waiting"), None)
            if counted is not None:  # the inbox has just counted them: the live count starts from there
                self.model.approvals_waiting = counted
            if remember:
                self.remember(Place())

    # -- handlers -------------------------------------------------------------------
    def open_screen(self, app: str, *, item: Place | None = None) -> App | None:
        """Open a screen at a place: ``app`` (a menu key, ``home`` for the inbox) with ``item`` —
        the approval, batch, file, review, discrepancy or person chosen on it — already selected.

        The place is checked by :func:`workbench.pending.open_item` first: one that is not this
        person's to see is refused there (the banner says why) and nothing opens.  A screen that
        cannot choose that kind of item opens without a selection."""
        if app == "home":
            self.go_home()
            return self.app
        place = item if item is not None and item.app == app else Place(app)
        opened: Opened | None = None
        if place.kind:
            session = self.session
            if session is None or app not in self.menu_buttons:
                return None
            try:
                opened = pending.open_item(session, place)
            except SessionExpired as exc:
                self.expired(exc)
                return None
            except WorkbenchError as exc:
                self.banner.error(exc)
                return None
        self._opening = True
        try:
            opened_app = self.open_app(app, remember=False)
            if opened_app is not None and opened is not None:
                if not opened_app.open_at(opened):
                    place = Place(app)
        finally:
            self._opening = False
        if opened_app is not None:
            self.remember(place)
        return opened_app

    def open_place(self, place: Place) -> App | None:
        """The inbox's 開く: the screen of ``place`` with its item chosen."""
        return self.open_screen(place.app, item=place)

    def remember(self, place: Place) -> None:
        """Keep where the person is (in the store, so a reload or the next login returns there)."""
        session = self.session
        if session is None or self._opening or place == self.model.place:
            return
        self.model.place = place
        try:
            pending.remember_place(session, place)
        except SessionExpired as exc:
            self.expired(exc)
        except WorkbenchError:
            pass  # a place not kept is a convenience lost, never a refusal of the work

    def _app_place_changed(self, place: Place) -> None:
        """An app's selection changed (a row chosen, a request checked)."""
        if self.app is not None and place.app == self.model.current_app:
            self.remember(place)

    def open_app(self, key: str, *, remember: bool = True) -> App | None:
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
        self.app.place_listener = self._app_place_changed
        self.model.current_app = key
        if self.model.screen == "menu":  # the app may have expired the session while starting
            self.app_area.children = [self.app]
            if remember:
                self.remember(Place(key))
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
        for timer in (self._timer, self._live_timer):
            if timer is not None:
                timer.cancel()
        self._timer = self._live_timer = None
        self.model.idle_warning = False
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
    def _idle_seconds(self) -> float:
        session = self.session
        return 60.0 * float(session.workspace.settings.idle_timeout_minutes) if session is not None else 0.0

    def warning_seconds(self) -> float:
        """How long before the idle limit the warning appears: a minute, or half a short limit."""
        return min(IDLE_WARNING_SECONDS, self._idle_seconds() / 2)

    def _arm_timer(self) -> None:
        if self._idle_check_seconds is None or self.session is None:
            return
        # often enough that the warning comes before the limit, however short the limit is
        interval = max(0.5, min(self._idle_check_seconds, self.warning_seconds() / 3))
        self._timer = threading.Timer(interval, self._check_idle)
        self._timer.daemon = True
        self._timer.start()

    def seconds_left(self) -> float:
        """Seconds until the idle limit ends this session (as the kernel's session counts it)."""
        session = self.session
        if session is None:
            return 0.0
        used = (session.workspace.clock.now() - session.last_activity).total_seconds()
        return self._idle_seconds() - used

    def _check_idle(self) -> None:
        session = self.session
        if session is None:
            return
        ended_by = getattr(session, "ended_by", None)
        if session.closed and isinstance(ended_by, SessionExpired):
            # Ended by the server for its own reason (the end of the hours, a restart), seen by a call
            # of a timer: the screen says that reason, not "idle".
            self.end(ended_by)
            return
        if session.idle_expired():
            self.end(SessionExpired("Logged out after a period without use; log in again.",
                                    "一定時間操作がなかったため、ログアウトしました。再度ログインしてください。"))
            return
        left = self.seconds_left()
        self.model.idle_warning = left <= self.warning_seconds()
        if self.model.idle_warning:
            self.idle_text.value = (
                f"<span role='alert'><b>操作がないため、あと約 {max(1, round(left))} 秒でログアウトします。</b>"
                "続ける場合は「続ける」を押してください。<br><small style='color:#666'>You will be logged out in about "
                f"{max(1, round(left))} seconds without use; press Continue to stay.</small></span>")
        self._arm_timer()

    def _show_idle_warning(self, _change: object = None) -> None:
        self.idle_box.layout.display = "flex" if self.model.idle_warning else "none"

    def keep_session(self) -> None:
        """「続ける」: the person is still here; the session's idle time starts again."""
        session = self.session
        if session is None:
            return
        try:
            pending.keep_session(session)
        except SessionExpired as exc:
            self.expired(exc)
            return
        except WorkbenchError as exc:
            self.banner.error(exc)
            return
        self.model.idle_warning = False

    # -- the approver's live count ---------------------------------------------------------
    def _arm_live(self) -> None:
        if self._live_seconds is None or self.session is None:
            return
        self._live_timer = threading.Timer(self._live_seconds, self._live_tick)
        self._live_timer.daemon = True
        self._live_timer.start()

    def refresh_live_count(self) -> None:
        """Ask how many requests wait for this approver (a timer's call: not counted as use)."""
        session = self.session
        if session is None or not session.can(P.APPROVALS_DECIDE):
            return
        try:
            self.model.approvals_waiting = pending.approvals_waiting(session)
        except SessionExpired as exc:
            self.expired(exc)
        except WorkbenchError:
            pass  # asked again at the next tick

    def _live_tick(self) -> None:
        if self.session is None:
            return
        self.refresh_live_count()
        self._arm_live()

    def _show_live_count(self, _change: object = None) -> None:
        count = self.model.approvals_waiting
        if count < 0:
            self.live_count.value = ""
            return
        colour = "#c62828" if count else "#2e7d32"
        self.live_count.value = (f"<span style='margin-left:12px;padding:2px 8px;border-radius:10px;border:1px solid "
                                 f"{colour};color:{colour}'>承認待ち <b>{count:,}</b> 件 / waiting</span>")
        button = self.menu_buttons.get("approvals")
        if button is not None:
            button.description = f"{tr('app_approvals')}（{count:,}）"
        from .home import HomeApp

        if isinstance(self.app, HomeApp):
            self.app.set_count("approvals_waiting", count)


def _roles_text(session: Session) -> str:
    """The session's roles in Japanese, as the dashboard names them."""
    return "、".join(ROLE_LABELS[Role(r)][0] for r in session.roles) or "役割なし"


def _last_place(session: Session | None) -> Place:
    """Where this person was (a reload, a second tab, a login after the idle limit); home if unknown."""
    if session is None:
        return Place()
    try:
        return pending.last_place(session)
    except WorkbenchError:
        return Place()


class DashboardStart:
    """The dashboard's start in its kernel, in two steps so the home screen is drawn early (issue 19 item 4).

    The notebook's first cell (:meth:`from_server`) becomes the session the web server started this kernel
    for, reads where the person was and — when that is the home screen — the inbox, and shows the home
    screen's counts as HTML (:func:`widgets.home.static_home_html`, marked with
    :data:`widgets.home.STATIC_MIME_KEY`).  Voila sends a cell's outputs as the cell finishes, so the page
    draws that screen before Voila's scripts have even loaded; the second cell (:meth:`show`) builds the
    live :class:`Dashboard` from the same reads (nothing is read twice, so the counts are the ones shown),
    and the page hides the static screen the moment the live one is drawn.  The static screen is built
    here, in the kernel bound to this login, for this session only: the page is never stored (``no-store``)
    and nothing is kept between sessions."""

    def __init__(self, session: Session | None, *, ended: WorkbenchError | None = None, place: Place | None = None,
                 inbox: Inbox | None = None) -> None:
        self.session = session
        self.ended = ended
        self.place = place
        self.inbox = inbox
        self._dashboard: Dashboard | None = None
        self._references: list[str] = []

    @classmethod
    def from_server(cls, *, draw: bool = True) -> DashboardStart:
        """In a dashboard kernel: the session, where the person was, the home screen's counts, shown at once."""
        from workbench.web.kernel import keep_tracebacks_in_server, session_from_server

        start = cls(None)
        keep_tracebacks_in_server(start._report)
        try:
            start.session = session_from_server()
        except WorkbenchError as exc:
            start.ended = exc
        start.read()
        if draw:
            start.draw()
        return start

    def _report(self, ref: str) -> None:
        dashboard = self._dashboard
        if dashboard is not None:
            dashboard.banner.reference(ref)
        else:  # before the dashboard is built: shown in its banner once it is
            self._references.append(ref)

    def read(self) -> None:
        """Where the person was and, for the home screen, its inbox (refusals are left to the live screen)."""
        from .home import SHOWN_PER_KIND

        session = self.session
        if session is None:
            return
        self.place = _last_place(session)
        permitted = {e.key for e in APPS if e.permitted(session)}
        if self.place.app != "home" and self.place.app in permitted:
            return  # the dashboard opens another screen: no home to draw
        try:
            self.inbox = pending.inbox(session, limit=SHOWN_PER_KIND)
        except WorkbenchError:
            self.inbox = None  # the live home screen reads it again and says why in its banner

    def static_html(self) -> str | None:
        """The home screen's counts as the page draws them before the live screen (None: nothing to draw)."""
        from .home import static_home_html

        session, inbox = self.session, self.inbox
        if session is None or inbox is None:
            return None
        roles = _roles_text(session)
        # not the live screen's words (「… さん（…）がログイン中」): a page holds one such line, the live one
        return static_home_html(inbox, who=f"ログイン中のユーザー / Logged in: {session.user_id}（{roles}）")

    def draw(self) -> None:
        from .home import STATIC_MIME_KEY

        text = self.static_html()
        if text is not None:
            display(HTML(text), metadata={STATIC_MIME_KEY: "home"})

    def dashboard(self, **kwargs: Any) -> Dashboard:
        """The live dashboard, built from what was read."""
        if self._dashboard is None:
            self._dashboard = Dashboard(self.session, ended=self.ended, place=self.place, inbox=self.inbox, **kwargs)
            for ref in self._references:
                self._dashboard.banner.reference(ref)
            self._references = []
        return self._dashboard

    def show(self) -> None:
        self.dashboard().show()
