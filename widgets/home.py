"""ホーム — the home screen: the logged-in person's waiting work, with one click to each.

The counts come from :func:`workbench.pending.pending_work` (the whole database, only
what the roles permit); a card's button opens the screen where that work is done.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as w

from workbench import pending
from workbench.core.errors import SessionExpired
from workbench.core.workspace import Session
from workbench.pending import PendingItem

from .common import ActionButton, App, esc, fmt_datetime, num

__all__ = ["HomeApp"]


class HomeApp(App):
    title_key = "app_home"

    def __init__(self, session: Session, *, on_expired: Callable[[SessionExpired], None] | None = None,
                 open_app: Callable[[str], object] | None = None, available: frozenset[str] = frozenset()) -> None:
        self._open_app = open_app
        self._available = available
        super().__init__(session, on_expired=on_expired)

    def build(self) -> list[w.Widget]:
        self.cards = w.HBox([], layout=w.Layout(flex_flow="row wrap"))
        self.cards.add_class("wb-home")
        self.refresh_button = ActionButton(description="最新の件数に更新 / Refresh", icon="refresh",
                                       layout=w.Layout(width="auto", align_self="flex-start"))
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.items: list[PendingItem] = []
        self.open_buttons: dict[str, w.Button] = {}
        self.refresh()
        return [self.cards, self.refresh_button]

    def refresh(self) -> None:
        items = self.call(pending.pending_work)
        if items is None:
            return
        self.items = items
        self.open_buttons = {}
        cards = []
        for item in items:
            colour = "#c62828" if item.count else "#2e7d32"
            since = f"<div style='color:#666;font-size:90%'>最も古いもの: {esc(fmt_datetime(item.oldest))}</div>" \
                if item.count and item.oldest else ""
            body = w.HTML(
                f"<div style='font-weight:bold'>{esc(item.label_ja)}</div>"
                f"<div style='color:#666;font-size:85%'>{esc(item.label_en)}</div>"
                f"<div style='font-size:2em;color:{colour}'>{num(item.count)} 件</div>{since}")
            children: list[w.Widget] = [body]
            opener = self._open_app
            if item.count and item.app and item.app in self._available and opener is not None:
                button = ActionButton(description="開く / Open", icon="arrow-right", layout=w.Layout(width="auto"))
                button.on_click(lambda _b, key=item.app, go=opener: go(key))
                self.open_buttons[item.key] = button
                children.append(button)
            card = w.VBox(children, layout=w.Layout(border="1px solid #ccc", padding="8px 12px", margin="4px",
                                                    min_width="260px", width="auto"))
            card.add_class(f"wb-pending-{item.key}")
            cards.append(card)
        self.cards.children = cards or [w.HTML("待っている業務はありません。/ Nothing is waiting.")]
