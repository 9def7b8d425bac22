"""The package a screen has just written, its media-ledger entry, and 「受け渡し済み」 (C9).

:class:`PackageBox` shows one outgoing transfer package (ledger entry number, recipient
in Japanese and English, record count, file, approval, time in 和暦) and, for someone
holding ``media.manage``, the button that records the copy as handed over — which
deletes the copy in ``outgoing/`` (:func:`workbench.files.media.mark_delivered`).  Because
the deletion cannot be undone, the button stays disabled until the person ticks that
the hand-over is complete.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from workbench.core.permissions import Permission
from workbench.files import media
from workbench.files.media import RECIPIENTS, LedgerEntry

from .common import ActionButton, esc, fmt_datetime, html_table

__all__ = ["DeliverControl", "PackageBox", "ledger_table"]


def ledger_table(entry: LedgerEntry, extra: list[tuple[str, Any]] | None = None) -> str:
    """One ledger entry as a small table: what left, for whom, how many, when."""
    ja, en = RECIPIENTS.get(entry.recipient, (entry.recipient, entry.recipient))
    columns = ["媒体管理簿番号", "送付先", "件数", "ファイル", "承認番号", "作成日時"]
    row: list[Any] = [entry.entry_id, f"{ja}（{en}）", entry.record_count, entry.file_name, entry.approval_id or "-",
                      fmt_datetime(entry.recorded_at)]
    for name, value in extra or []:
        columns.append(name)
        row.append(value)
    return html_table(columns, [row], numeric=[2])


#: Larger copies are copied from the server's outgoing/ folder by operations, not through the browser.
MAX_DOWNLOAD_BYTES = 50 * 1024 * 1024


class DeliverControl(w.VBox):
    """「受け渡し済み」 for one outgoing ledger entry: a tick, then the button (the copy is deleted).

    ``call`` is the owning app's :meth:`~widgets.common.App.call` (so refusals land in
    its banner and an expired session returns to the login screen).
    """

    def __init__(self, entry_id: str, *, call: Callable[..., Any], delivered_at: Any = None,
                 on_delivered: Callable[[LedgerEntry], None] | None = None) -> None:
        self.entry_id = entry_id
        self.delivered_at = delivered_at
        self._call = call
        self._on_delivered = on_delivered
        self.check = w.Checkbox(value=False, indent=False, layout=w.Layout(width="auto"),
                                description="受け渡しが完了したことを確認しました / The copy has been handed over")
        self.deliver = ActionButton(description="受け渡し済みにする（コピーを削除）/ Mark delivered", icon="check-square-o",
                                disabled=True, layout=w.Layout(width="auto"))
        self.state = w.HTML()
        self.download = ActionButton(description="媒体に保存するファイルを用意 / Prepare download", icon="download",
                                 layout=w.Layout(width="auto"))
        self.download.on_click(lambda _b: self.prepare_download())
        self.link = w.HTML()
        self.check.observe(lambda _c: self._enable(), "value")
        self.deliver.on_click(lambda _b: self.mark_delivered())
        super().__init__([w.HBox([self.download, self.link]), w.HBox([self.check, self.deliver]), self.state])
        self.add_class("wb-deliver")
        self._render()

    def _enable(self) -> None:
        self.deliver.disabled = not self.check.value or self.delivered_at is not None

    def _render(self) -> None:
        if self.delivered_at is not None:
            self.state.value = (f"<span class='wb-delivered' style='color:#2e7d32'>{esc(self.entry_id)}: 受け渡し済み・"
                                f"コピー削除 / delivered, copy deleted — {esc(fmt_datetime(self.delivered_at))}</span>")
            self.check.disabled = True
        else:
            self.state.value = ("<small>受け渡し後は「受け渡し済み」を記録し、コピーを削除してください（C9）。"
                                " / After handing it over, mark it delivered so the copy is deleted.</small>")
        self._enable()

    def prepare_download(self) -> None:
        """Offer the (encrypted) package as a file to save onto the transfer medium; audited."""
        if self.delivered_at is not None:
            return
        got = self._call(media.handover_copy, self.entry_id)
        if got is None:
            return
        name, data = got
        if len(data) > MAX_DOWNLOAD_BYTES:
            self.link.value = ("<small>ファイルが大きいため、運用担当がサーバーの outgoing/ から媒体へ複写してください。"
                               f" / Too large for the browser: operations copy {esc(name)} from outgoing/.</small>")
            return
        encoded = base64.b64encode(data).decode("ascii")
        self.link.value = (f"<a download='{esc(name)}' href='data:application/octet-stream;base64,{encoded}' "
                           f"class='wb-download'>{esc(name)} を保存 / Save</a> "
                           "<small>暗号化済みパッケージです。媒体に保存して受け渡し、受取側は鍵ファイルで開封します。"
                           " / Encrypted for its recipient; they open it with their key file.</small>")

    def mark_delivered(self) -> None:
        if not self.check.value or self.delivered_at is not None:
            return
        self.deliver.disabled = True
        entry = self._call(media.mark_delivered, self.entry_id)
        if entry is None:
            self._enable()
            return
        self.delivered_at = entry.deleted_at
        self.link.value = ""
        self.download.disabled = True
        self._render()
        if self._on_delivered is not None:
            self._on_delivered(entry)


class PackageBox(w.VBox):
    """An outgoing package and its ledger entry, with 「受け渡し済み」 for ``media.manage``."""

    def __init__(self, entry: LedgerEntry, *, title: str, call: Callable[..., Any], can_deliver: bool,
                 extra: list[tuple[str, Any]] | None = None) -> None:
        self.entry = entry
        self.table = w.HTML(f"<b>{esc(title)}</b>" + ledger_table(entry, extra))
        rows: list[w.Widget] = [self.table]
        self.deliver: DeliverControl | None = None
        if can_deliver:
            self.deliver = DeliverControl(entry.entry_id, call=call, delivered_at=entry.deleted_at,
                                          on_delivered=self._delivered)
            rows.append(self.deliver)
        super().__init__(rows, layout=w.Layout(border="1px solid #999", padding="6px 10px", margin="4px 0"))
        self.add_class("wb-package")

    @classmethod
    def for_session(cls, entry: LedgerEntry, *, title: str, call: Callable[..., Any], session: Any,
                    extra: list[tuple[str, Any]] | None = None) -> PackageBox:
        return cls(entry, title=title, call=call, can_deliver=session.can(Permission.MEDIA_MANAGE), extra=extra)

    def _delivered(self, entry: LedgerEntry) -> None:
        self.entry = entry
