"""送付ファイルの受け渡し — the outgoing files this person made that are not yet handed over (C9).

The inbox names each file (媒体管理簿番号, what, for whom, how many) and its 開く lands here with
that file chosen: the package's ledger entry, 「媒体に保存するファイルを用意」 and 「受け渡し済み」
(:class:`widgets.packages.PackageBox`).  Before, both existed only right after the file was made;
now a file made yesterday, or before a reload, can be found and finished.  The list is the
person's own files, read from the database (:func:`workbench.pending.inbox`); a file is opened
through :func:`workbench.pending.open_item`, which refuses another person's file.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from workbench import pending
from workbench.pending import InboxItem, Opened, Place

from .common import ActionButton, App, esc, fmt_datetime, num
from .packages import PackageBox

__all__ = ["HandoverApp"]

#: The most files listed at once (the count above the list is the whole).
LISTED = 100


class HandoverApp(App):
    title_key = "app_handover"

    def build(self) -> list[w.Widget]:
        self.count = w.HTML()
        self.rows = w.VBox([])
        self.rows.add_class("wb-handover-list")
        self.chosen_area = w.VBox([])
        self.chosen_area.add_class("wb-handover-chosen")
        self.choose_buttons: dict[str, w.Button] = {}
        self.chosen: str = ""
        self.refresh_button = ActionButton(description="更新 / Refresh", icon="refresh", layout=w.Layout(width="auto"))
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.refresh()
        return [w.HBox([self.refresh_button, self.count]), self.rows, self.chosen_area]

    def refresh(self) -> None:
        inbox = self.call(pending.inbox, limit=LISTED)
        if inbox is None:
            return
        files = inbox.items_of("copies_not_delivered")
        total = next((c.count for c in inbox.counts if c.key == "copies_not_delivered"), 0)
        self.count.value = (f"<div style='padding:6px'>受け渡しが済んでいない送付ファイル / not yet handed over: "
                            f"<b>{num(total)}</b> 件</div>")
        self.choose_buttons = {}
        self.rows.children = [self._row(item) for item in files] or [
            w.HTML("受け渡しを待っているファイルはありません。/ Nothing waits to be handed over.")]

    def _row(self, item: InboxItem) -> w.Widget:
        text = w.HTML(f"<b>{esc(item.title_ja)}</b>　{esc(item.detail_ja)}　"
                      f"<small style='color:#666'>{esc(fmt_datetime(item.at)) if item.at else ''}</small>",
                      layout=w.Layout(flex="1 1 auto", width="auto"))
        button = ActionButton(description="選ぶ / Choose", icon="hand-o-right", layout=w.Layout(width="auto"))
        button.on_click(lambda _b, ref=item.ref: self.choose(ref))
        self.choose_buttons[item.ref] = button
        row = w.HBox([text, button], layout=w.Layout(align_items="center", border="1px solid #ddd", padding="2px 8px",
                                                     margin="2px 0"))
        row.add_class("wb-handover-item")
        return row

    def choose(self, entry_id: str) -> None:
        """Choose one file of the list (checked again by the service: only one's own files)."""
        opened = self.call(pending.open_item, Place("handover", "file", entry_id))
        if opened is not None and self.open_at(opened):
            self.place_changed("file", entry_id)

    def open_at(self, opened: Opened | Any) -> bool:
        entry = opened.entry
        if opened.place.kind != "file" or entry is None:
            return False
        self.chosen = entry.entry_id
        self.chosen_area.children = [PackageBox.for_session(
            entry, title="受け渡す送付ファイル / file to hand over", call=self.call, session=self.session)]
        return True
