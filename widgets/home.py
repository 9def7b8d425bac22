"""ホーム（未処理の業務）— the inbox: every item waiting for the logged-in person, named, with 開く.

The counts and the items come from :func:`workbench.pending.inbox` (the whole database, only what
the roles permit; the oldest few of each kind named): approvals waiting (for approvers), the
person's approved requests to carry out, requests rejected with the approver's reason, files not
yet handed over, answers waiting to be imported, reviews and discrepancies.  An item's 開く opens
the screen where it is done with that request, batch or file already chosen
(:meth:`widgets.dashboard.Dashboard.open_screen`, checked again by :func:`workbench.pending.open_item`);
a kind's card opens its screen.  Because all of it is read from the database, it survives a
reload, a logout, a new day and another person picking the work up.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as w

from workbench import pending
from workbench.core import labels
from workbench.core.errors import SessionExpired
from workbench.core.workspace import Session
from workbench.pending import Inbox, InboxItem, PendingItem, Place

from .common import ActionButton, App, esc, fmt_datetime, num, tr

__all__ = ["STATIC_MIME_KEY", "HomeApp", "static_home_html"]

#: How many items of each kind the inbox names (the count is always the whole).
SHOWN_PER_KIND = 10

#: A screen's state while its buttons are not yet live (the home screen drawn in the page itself).
labels.register("screen_state", {"getting_ready": ("準備中", "Getting ready")})
#: The output metadata that marks the static home screen: the page template (``workbench/web/template``)
#: writes only an output so marked into the page as HTML, so it is drawn before Voila's scripts run.
STATIC_MIME_KEY = "workbench_static"


class HomeApp(App):
    title_key = "app_home"

    def __init__(self, session: Session, *, on_expired: Callable[[SessionExpired], None] | None = None,
                 open_app: Callable[[str], object] | None = None, available: frozenset[str] = frozenset(),
                 open_place: Callable[[Place], object] | None = None, inbox: Inbox | None = None) -> None:
        #: The inbox read already (the dashboard's first home screen, drawn in the page from the same read).
        self._first_inbox = inbox
        self._open_app = open_app
        self._open_place = open_place
        self._available = available
        super().__init__(session, on_expired=on_expired)

    def build(self) -> list[w.Widget]:
        self.cards = w.HBox([], layout=w.Layout(flex_flow="row wrap"))
        self.cards.add_class("wb-home")
        self.list_box = w.VBox([])
        self.list_box.add_class("wb-inbox")
        self.refresh_button = ActionButton(description="最新の件数に更新 / Refresh", icon="refresh",
                                           layout=w.Layout(width="auto", align_self="flex-start"))
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.items: list[PendingItem] = []
        self.inbox: Inbox | None = None
        self.open_buttons: dict[str, w.Button] = {}
        #: 開く of each named item, by (kind, ID).
        self.item_buttons: dict[tuple[str, str], w.Button] = {}
        self.count_views: dict[str, w.HTML] = {}
        self.refresh()
        return [self.cards, self.list_box, self.refresh_button]

    def refresh(self) -> None:
        inbox, self._first_inbox = self._first_inbox, None
        if inbox is None:
            inbox = self.call(pending.inbox, limit=SHOWN_PER_KIND)
        if inbox is None:
            return
        self.inbox = inbox
        self.items = list(inbox.counts)
        self._show_cards()
        self._show_items()

    def set_count(self, key: str, count: int) -> None:
        """A live count (the approver's, from the dashboard's timer) without reading everything again."""
        view = self.count_views.get(key)
        if view is not None:
            view.value = self._count_html(count)

    @staticmethod
    def _count_html(count: int) -> str:
        return _count_html(count, "wb-count")

    def _show_cards(self) -> None:
        self.open_buttons = {}
        self.count_views = {}
        cards = []
        for item in self.items:
            head = w.HTML(_head_html(item))
            count = w.HTML(self._count_html(item.count))
            self.count_views[item.key] = count
            children: list[w.Widget] = [head, count, w.HTML(_since_html(item))]
            opener = self._open_app
            if item.count and item.app and item.app in self._available and opener is not None:
                button = ActionButton(description="画面を開く / Open screen", icon="arrow-right",
                                      layout=w.Layout(width="auto"))
                button.on_click(lambda _b, key=item.app, go=opener: go(key))
                self.open_buttons[item.key] = button
                children.append(button)
            card = w.VBox(children, layout=w.Layout(border="1px solid #ccc", padding="8px 12px", margin="4px",
                                                    min_width="260px", width="auto"))
            card.add_class(f"wb-pending-{item.key}")
            cards.append(card)
        self.cards.children = cards or [w.HTML(NOTHING_WAITING)]

    def _show_items(self) -> None:
        inbox = self.inbox
        self.item_buttons = {}
        if inbox is None or not inbox.items:
            self.list_box.children = []
            return
        sections: list[w.Widget] = [w.HTML("<h4 style='margin:8px 0 2px'>未処理の業務 / Work waiting for you</h4>")]
        for kind in inbox.counts:
            named = inbox.items_of(kind.key)
            if not named:
                continue
            more = (f"（古い順に {num(len(named))} 件を表示、全 {num(kind.count)} 件）" if kind.count > len(named)
                    else f"（{num(kind.count)} 件）")
            sections.append(w.HTML(f"<div style='margin-top:6px'><b>{esc(kind.label_ja)}</b>{esc(more)} "
                                   f"<small style='color:#666'>{esc(kind.label_en)}</small></div>"))
            sections += [self._row(item) for item in named]
        self.list_box.children = sections

    def _row(self, item: InboxItem) -> w.Widget:
        rejected = item.source == "my_rejected_requests"
        detail_style = "color:#8a1c1c" if rejected else "color:#444"
        text = w.HTML(
            f"<div><b>{esc(item.title_ja)}</b> <small style='color:#666'>{esc(item.title_en)}</small></div>"
            f"<div class='wb-inbox-detail' style='{detail_style}'>{esc(item.detail_ja)}"
            f" <small style='color:#666'>/ {esc(item.detail_en)}</small></div>"
            f"<div style='color:#666;font-size:90%'>{esc(fmt_datetime(item.at)) if item.at else ''}</div>",
            layout=w.Layout(flex="1 1 auto", width="auto"))
        children: list[w.Widget] = [text]
        opener = self._open_place
        if opener is not None and item.place.app in self._available:
            button = ActionButton(description="開く / Open", icon="arrow-right", layout=w.Layout(width="auto"))
            button.on_click(lambda _b, place=item.place, go=opener: go(place))
            button.add_class("wb-inbox-open")
            self.item_buttons[(item.source, item.ref)] = button
            children.append(button)
        row = w.HBox(children, layout=w.Layout(border="1px solid #ddd", padding="4px 10px", margin="2px 0",
                                               align_items="center", width="100%"))
        row.add_class("wb-inbox-item")
        row.add_class(f"wb-inbox-{item.source}")
        return row


# A card's words, the same on the live home screen and on the static one drawn before it.
NOTHING_WAITING = "待っている業務はありません。/ Nothing is waiting."


def _head_html(item: PendingItem) -> str:
    return (f"<div style='font-weight:bold'>{esc(item.label_ja)}</div>"
            f"<div style='color:#666;font-size:85%'>{esc(item.label_en)}</div>")


def _count_html(count: int, css_class: str) -> str:
    colour = "#c62828" if count else "#2e7d32"
    return f"<div class='{css_class}' style='font-size:2em;color:{colour}'>{num(count)} 件</div>"


def _since_html(item: PendingItem) -> str:
    if not (item.count and item.oldest):
        return ""
    return f"<div style='color:#666;font-size:90%'>最も古いもの: {esc(fmt_datetime(item.oldest))}</div>"


def static_home_html(inbox: Inbox, *, who: str) -> str:
    """The home screen's counts as HTML, drawn in the page itself before Voila's scripts have run
    (issue 19 item 4): the same cards, from the same :func:`workbench.pending.inbox` read the live
    :class:`HomeApp` is built with, but with no button — each card says its screen is getting ready
    (準備中) and nothing looks clickable.  The page hides it the moment the live home screen is drawn
    (``workbench/web/template``).  Every word from the data is escaped as on every screen; the named
    items are left to the live screen (the page holds the counts only)."""
    wait_ja, wait_en = labels.ja("getting_ready", "screen_state"), labels.en("getting_ready", "screen_state")
    cards = []
    for item in inbox.counts:
        cards.append(
            f"<div class='wb-static-card wb-static-pending-{esc(item.key)}' style='border:1px solid #ccc;"
            "padding:8px 12px;margin:4px;min-width:260px'>"
            f"{_head_html(item)}{_count_html(item.count, 'wb-static-count')}{_since_html(item)}</div>")
    body = "".join(cards) or f"<div>{NOTHING_WAITING}</div>"
    return (
        f"<div class='wb-static-home' aria-busy='true' style='font-family:sans-serif;cursor:progress'>"
        f"<h2 style='margin:4px 0'>{esc(tr('app_title', 'ja'))}</h2>"
        f"<div style='color:#666'>{esc(tr('app_title', 'en'))}</div>"
        f"<div style='margin:6px 0'><b>{esc(who)}</b></div>"
        f"<div class='wb-static-wait' role='status' style='display:inline-block;margin:4px 0;padding:2px 10px;"
        f"border-radius:10px;background:#eceff1;color:#546e7a'>{esc(wait_ja)}… "
        f"<small>/ {esc(wait_en)}…</small></div>"
        f"<h3 style='margin:4px 0'>{esc(tr('app_home', 'ja'))} <small style='color:#666'>{esc(tr('app_home', 'en'))}"
        f"</small></h3>"
        f"<div style='display:flex;flex-flow:row wrap'>{body}</div></div>")
