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
from workbench.core.errors import SessionExpired
from workbench.core.workspace import Session
from workbench.pending import Inbox, InboxItem, PendingItem, Place

from .common import ActionButton, App, esc, fmt_datetime, num

__all__ = ["HomeApp"]

#: How many items of each kind the inbox names (the count is always the whole).
SHOWN_PER_KIND = 10


class HomeApp(App):
    title_key = "app_home"

    def __init__(self, session: Session, *, on_expired: Callable[[SessionExpired], None] | None = None,
                 open_app: Callable[[str], object] | None = None, available: frozenset[str] = frozenset(),
                 open_place: Callable[[Place], object] | None = None) -> None:
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
        colour = "#c62828" if count else "#2e7d32"
        return f"<div class='wb-count' style='font-size:2em;color:{colour}'>{num(count)} 件</div>"

    def _show_cards(self) -> None:
        self.open_buttons = {}
        self.count_views = {}
        cards = []
        for item in self.items:
            since = f"<div style='color:#666;font-size:90%'>最も古いもの: {esc(fmt_datetime(item.oldest))}</div>" \
                if item.count and item.oldest else ""
            head = w.HTML(f"<div style='font-weight:bold'>{esc(item.label_ja)}</div>"
                          f"<div style='color:#666;font-size:85%'>{esc(item.label_en)}</div>")
            count = w.HTML(self._count_html(item.count))
            self.count_views[item.key] = count
            children: list[w.Widget] = [head, count, w.HTML(since)]
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
        self.cards.children = cards or [w.HTML("待っている業務はありません。/ Nothing is waiting.")]

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
