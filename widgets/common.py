"""Shared pieces of every dashboard: words, dates, numbers, banners, progress, charts.

* **Words** — a small message table, Japanese first with English beside it
  (:func:`tr`, :func:`label`).  Staff read Japanese; the English is there for
  reviewers and for the CLI-minded.
* **Dates** — :func:`wareki` gives 和暦 with the Gregorian date, e.g.
  ``令和8年6月1日（2026-06-01）``.  Times are shown in JST.
* **Numbers** — :func:`num` puts thousands separators in (``12,345``).
* **Components** — :class:`ErrorBanner` (a refusal in plain words, never a traceback),
  :class:`Progress`, :class:`ConfirmOutgoing` (the check before a file leaves: names the
  recipient and the record count, REQUIREMENTS §6), :func:`html_table`,
  :func:`bar_chart_svg`, and :class:`App`, the base every app derives from.

The sepal_ui pattern: an app holds a *model* of traitlets, its views observe the
model, and its handlers call ``workbench`` service functions and write what comes back
into the model.  Nothing here opens the database or logs personal data.
"""

from __future__ import annotations

import datetime as dt
import html
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, TypeVar

import ipywidgets as w
import traitlets as t

from workbench.core.clock import JST
from workbench.core.errors import SessionExpired, WorkbenchError
from workbench.core.workspace import Session
from workbench.files.media import RECIPIENTS

__all__ = [
    "BUSY_STYLE",
    "MESSAGES",
    "READABLE_STYLE",
    "ActionButton",
    "App",
    "ConfirmOutgoing",
    "ErrorBanner",
    "Progress",
    "bar_chart_svg",
    "esc",
    "fmt_datetime",
    "html_table",
    "label",
    "num",
    "tr",
    "wareki",
]

R = TypeVar("R")

# --------------------------------------------------------------------------- words

#: key → (Japanese, English).  ``{name}`` placeholders are filled by :func:`tr`.
MESSAGES: dict[str, tuple[str, str]] = {
    "app_title": ("都営住宅 マイナンバー管理ワークベンチ", "Public-housing My Number workbench"),
    "user_id": ("ユーザーID", "User ID"),
    "login": ("ログイン", "Log in"),
    "logout": ("ログアウト", "Log out"),
    "logged_in_as": ("{user} さん（{roles}）がログイン中", "Logged in as {user} ({roles})"),
    "menu": ("業務メニュー", "Menu"),
    "no_apps": ("この役割で使える画面はありません。", "No screens are available for your roles."),
    "unexpected": ("予期しないエラーが発生しました。操作は完了していない可能性があります。運用担当に連絡してください。",
                   "An unexpected error occurred; the operation may not have completed. Contact operations."),
    "working": ("処理中です…", "Working…"),
    "done": ("完了しました。", "Done."),
    # apps
    "app_admin": ("ユーザー管理", "Users and roles"),
    "app_access": ("利用時間・登録端末", "Hours and terminals"),
    "app_home": ("ホーム（未処理の業務）", "Home: work waiting for you"),
    "app_approvals": ("承認待ち一覧", "Approvals"),
    "app_audit": ("操作ログ監査", "Audit log"),
    "app_batches": ("照会ファイルの作成", "Query batches"),
    "app_review": ("番号相違の確認", "Reviews"),
    "app_person": ("個人の照会", "One person"),
    "app_registration": ("対象者取込・番号登録", "Targets and registration"),
    "app_runs": ("定例処理の実行状況", "Cycle runs"),
    "app_deletion": ("個人番号の一括削除", "Bulk deletion"),
    "app_disclosure": ("開示・訂正・利用停止", "Disclosure, correction, suspension"),
    "app_inquiry": ("問合せ記録", "Inquiry log"),
    "app_backup": ("バックアップ・保存期間", "Backup and retention"),
    "app_keys": ("鍵の管理", "Keys"),
    "app_idreview": ("ID・権限の棚卸し", "Yearly ID review"),
    "app_records": ("組織の記録（研修・自己点検・収集キット・事案）", "Office records"),
    "app_evidence": ("運用状況報告（月次）", "Monthly evidence report"),
    "app_stats": ("統計分析", "Statistics"),
    "app_handover": ("送付ファイルの受け渡し", "Files to hand over"),
    # confirm dialog
    "confirm_title": ("送付前の確認", "Check before sending"),
    "confirm_body": ("送付先「{recipient}」へ {count} 件を含むファイルを作成します。送付先と件数に誤りがないか確認してください。",
                     "A file of {count} records will be made for {recipient_en}. Check the recipient and the count."),
    "confirm_check": ("送付先と件数を確認しました", "I have checked the recipient and the count"),
    "confirm_ok": ("作成する", "Create"),
    "cancel": ("取消", "Cancel"),
    "cancelled": ("取り消しました。ファイルは作成していません。", "Cancelled; no file was made."),
    "records": ("{count} 件", "{count} records"),
}


def tr(key: str, lang: str | None = None, **fmt: Any) -> str:
    """The message ``key`` in Japanese (``lang="en"``: in English), placeholders filled."""
    ja, en = MESSAGES[key]
    text = en if lang == "en" else ja
    return text.format(**fmt) if fmt else text


def label(key: str, **fmt: Any) -> str:
    """Japanese first, English after a slash: for buttons and field labels."""
    return f"{tr(key, 'ja', **fmt)} / {tr(key, 'en', **fmt)}"


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


# --------------------------------------------------------------------------- numbers and dates


def num(value: int | float | None) -> str:
    """``12345`` → ``12,345``; ``None`` → ``-``."""
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


#: (era, first day), newest first.
ERAS: tuple[tuple[str, dt.date], ...] = (
    ("令和", dt.date(2019, 5, 1)),
    ("平成", dt.date(1989, 1, 8)),
    ("昭和", dt.date(1926, 12, 25)),
    ("大正", dt.date(1912, 7, 30)),
    ("明治", dt.date(1868, 1, 25)),
)


def wareki(value: dt.date | dt.datetime | None, *, gregorian: bool = True) -> str:
    """``2026-06-01`` → ``令和8年6月1日（2026-06-01）``; year 1 is 元年."""
    if value is None:
        return "-"
    if isinstance(value, dt.datetime):
        value = (value.astimezone(JST) if value.tzinfo else value).date()
    for era, start in ERAS:
        if value >= start:
            year = value.year - start.year + 1
            text = f"{era}{'元' if year == 1 else year}年{value.month}月{value.day}日"
            return f"{text}（{value.isoformat()}）" if gregorian else text
    return value.isoformat()


def fmt_datetime(value: dt.datetime | str | None) -> str:
    """A moment in JST: ``令和8年6月1日（2026-06-01） 10:00``."""
    if value is None:
        return "-"
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    local = value.astimezone(JST)
    return f"{wareki(local)} {local:%H:%M}"


# --------------------------------------------------------------------------- components


class ActionButton(w.Button):
    """A button whose action shows it is working and cannot be started twice (issue 11 item 8).

    While the handler runs, the button says 「処理中…」 with a spinner and takes no clicks
    (``wb-busy``: no pointer events), so a slow service call is visible where the clerk
    clicked, and a second click during it does nothing.  The handler's own ``disabled``
    decisions are left alone."""

    BUSY = "処理中… / Working…"

    def click(self) -> None:
        if self.disabled or "wb-busy" in self._dom_classes:
            return
        description = str(getattr(self, "description", ""))
        icon = str(getattr(self, "icon", ""))
        app = getattr(self, "_wb_app", None)
        if app is not None:  # a new action starts: the messages of the last one go (issue 11 item 3)
            app.clear_messages()
        self.add_class("wb-busy")
        self.description, self.icon = self.BUSY, "spinner"
        try:
            super().click()
        finally:
            if self.description == self.BUSY:
                self.description = description
            if self.icon == "spinner":
                self.icon = icon
            self.remove_class("wb-busy")


#: The style the busy state needs; the dashboard puts it on the page once.
BUSY_STYLE = "<style>.wb-busy{pointer-events:none;opacity:.7}.wb-busy i.fa{animation:fa-spin 1s infinite linear}</style>"

#: No label is ever cut (issue 11 item 11): a description, a button's words, a checkbox's or a
#: tab's title, the chosen option of a list take the width they need, whatever width a widget
#: was given; long words in HTML wrap.  The dashboard puts it on the page with BUSY_STYLE.
READABLE_STYLE = (
    "<style>"
    ".widget-inline-hbox>.widget-label,.widget-checkbox .widget-label-basic,.widget-checkbox label"
    "{min-width:max-content;overflow:visible;text-overflow:clip}"
    ".jupyter-widgets.widget-label{white-space:normal;height:auto;line-height:1.5;overflow-wrap:break-word}"
    ".jupyter-widgets.widget-button,.jupyter-widgets.widget-toggle-button,.jupyter-widgets.widget-upload,"
    ".jupyter-widgets.jupyter-button{min-width:max-content;overflow:visible;text-overflow:clip}"
    ".jupyter-widgets.widget-checkbox,.jupyter-widgets.widget-dropdown{min-width:max-content}"
    ".jupyter-widgets.widget-html{min-width:0;max-width:100%}.widget-html-content{overflow-x:auto;max-width:100%}"
    ".widget-dropdown>select{min-width:max-content}"
    ".jupyter-widgets.widget-tab>.lm-TabBar .lm-TabBar-tab{flex:0 0 auto;max-width:none;overflow:visible}"
    ".jupyter-widgets.widget-tab>.lm-TabBar .lm-TabBar-tabLabel{overflow:visible}"
    ".widget-html-content{overflow-wrap:break-word}"
    ".wb-table{line-height:1.4}.wb-table th{white-space:nowrap}.wb-table td{word-break:keep-all}"
    "</style>"
)


class ErrorBanner(w.HTML):
    """One line of status: a refusal in plain words (Japanese, then English), or a notice."""

    kind = t.Unicode("")  # "", "error", "info", "success"
    code = t.Unicode("")

    _STYLE: ClassVar[dict[str, str]] = {
        "error": "background:#fdecea;border-left:4px solid #c62828;color:#611a15",
        "info": "background:#e8f1fb;border-left:4px solid #1565c0;color:#0d3c61",
        "success": "background:#edf7ed;border-left:4px solid #2e7d32;color:#1e4620",
    }

    def _set(self, kind: str, ja: str, en: str = "", code: str = "") -> None:
        self.kind, self.code = kind, code
        en_html = f'<div style="font-size:90%;opacity:.8">{esc(en)}</div>' if en and en != ja else ""
        self.value = (
            f'<div class="wb-banner wb-{kind}" role="alert" style="{self._STYLE[kind]};padding:8px 12px;margin:4px 0">'
            f"<div>{esc(ja)}</div>{en_html}</div>"
        )

    def error(self, exc: WorkbenchError) -> None:
        self._set("error", exc.message_ja, exc.message_en, exc.code)

    def unexpected(self) -> None:
        ja, en = MESSAGES["unexpected"]
        self._set("error", ja, en, "unexpected")

    def reference(self, ref: str) -> None:
        """An unexpected error, logged on the server under ``ref``; only the number is shown."""
        ja, en = MESSAGES["unexpected"]
        self._set("error", f"{ja}（参照番号 {ref}）", f"{en} (reference {ref})", "unexpected")

    def info(self, ja: str, en: str = "") -> None:
        self._set("info", ja, en)

    def success(self, ja: str, en: str = "") -> None:
        self._set("success", ja, en)

    def clear(self) -> None:
        self.kind, self.code, self.value = "", "", ""

    @property
    def text(self) -> str:
        """The words shown, without markup (for tests and screen readers)."""
        import re

        return html.unescape(re.sub(r"<[^>]+>", " ", self.value)).strip()


class Progress(w.VBox):
    """A progress bar with a caption: ``with progress.run(total) as step: step(n)``."""

    def __init__(self) -> None:
        self.bar = w.IntProgress(value=0, min=0, max=1, layout=w.Layout(width="100%"))
        self.caption = w.Label("")
        super().__init__([self.bar, self.caption], layout=w.Layout(display="none"))

    @contextmanager
    def run(self, total: int, caption: str | None = None) -> Iterator[Callable[[int], None]]:
        self.bar.max = max(total, 1)
        self.bar.value = 0
        self.bar.bar_style = ""
        text = caption or tr("working")
        self.caption.value = text
        self.layout.display = "flex"

        def step(done: int) -> None:
            self.bar.value = min(done, self.bar.max)
            self.caption.value = f"{text} {num(done)} / {num(total)}"

        try:
            yield step
            self.bar.value = self.bar.max
            self.bar.bar_style = "success"
            self.caption.value = tr("done")
        finally:
            self.layout.display = "none" if self.bar.bar_style != "success" else "flex"


class ConfirmOutgoing(w.VBox):
    """The check before a file with personal data leaves (REQUIREMENTS §6).

    Names the recipient (in Japanese and English) and the record count; the create
    button stays disabled until the person ticks that both were checked.
    """

    def __init__(self, recipient: str, count: int, on_confirm: Callable[[], None],
                 on_cancel: Callable[[], None] | None = None, detail: str = "") -> None:
        ja_name, en_name = RECIPIENTS.get(recipient, (recipient, recipient))
        self.recipient = recipient
        self.count = count
        self.summary = w.HTML(
            f'<div class="wb-confirm" style="border:2px solid #e65100;padding:8px 12px">'
            f"<b>{esc(tr('confirm_title'))}</b><br>"
            f"送付先 / recipient: <b>{esc(ja_name)}</b>（{esc(en_name)}）<br>"
            f"件数 / records: <b>{num(count)}</b> 件<br>"
            f"{esc(tr('confirm_body', recipient=ja_name, count=num(count)))}"
            f"{'<br>' + esc(detail) if detail else ''}</div>"
        )
        self.check = w.Checkbox(value=False, description=label("confirm_check"), indent=False,
                                layout=w.Layout(width="auto"))
        self.ok = ActionButton(description=tr("confirm_ok"), button_style="warning", disabled=True, icon="check")
        self.cancel = ActionButton(description=tr("cancel"), icon="times")
        self._on_confirm, self._on_cancel = on_confirm, on_cancel
        self.check.observe(lambda change: setattr(self.ok, "disabled", not change["new"]), "value")
        self.ok.on_click(lambda _b: self._confirm())
        self.cancel.on_click(lambda _b: self._cancelled())
        super().__init__([self.summary, self.check, w.HBox([self.ok, self.cancel])])

    def _confirm(self) -> None:
        if not self.check.value:
            return
        self.ok.disabled = True
        self._on_confirm()

    def _cancelled(self) -> None:
        self.ok.disabled = True
        if self._on_cancel:
            self._on_cancel()


def html_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, numeric: Iterable[int] = (),
               empty: str = "該当するものはありません / none") -> str:
    """An escaped HTML table; numeric columns are right-aligned with separators."""
    right = set(numeric)
    head = "".join(f'<th style="text-align:left;padding:2px 8px;border-bottom:1px solid #999">{esc(c)}</th>'
                   for c in columns)
    body = []
    for row in rows:
        cells = []
        for i, v in enumerate(row):
            if i in right:
                cells.append(f'<td style="text-align:right;padding:2px 8px">{num(v) if isinstance(v, (int, float)) else esc(v)}</td>')
            else:
                cells.append(f'<td style="padding:2px 8px">{esc(v)}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    if not body:
        return f'<div class="wb-empty">{esc(empty)}</div>'
    return f'<table class="wb-table" style="border-collapse:collapse"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def bar_chart_svg(data: Sequence[tuple[str, int | float]], *, title: str = "", width: int = 640,
                  bar_height: int = 18, color: str = "#1565c0") -> str:
    """A horizontal bar chart as inline SVG (no plotting library needed)."""
    if not data:
        return f'<div class="wb-empty">{esc(title)}: 該当なし / no data</div>'
    # the labels take the width their words need (12 px a full-width character, 7 px a narrow one)
    label_w = max(150, min(480, 12 + max(sum(12 if ord(c) > 0x2E7F else 7 for c in str(n)) for n, _ in data)))
    value_w = 80
    width = max(width, label_w + value_w + 200)
    plot_w = max(width - label_w - value_w, 50)
    top = 24 if title else 4
    height = top + len(data) * (bar_height + 4) + 4
    peak = max(float(v) for _, v in data) or 1.0
    parts = [f'<svg class="wb-chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img" aria-label="{esc(title)}" style="font-family:sans-serif;font-size:12px">']
    if title:
        parts.append(f'<text x="0" y="16" font-weight="bold">{esc(title)}</text>')
    for i, (name, value) in enumerate(data):
        y = top + i * (bar_height + 4)
        bar = plot_w * float(value) / peak
        parts.append(f'<text x="{label_w - 6}" y="{y + bar_height - 5}" text-anchor="end">{esc(name)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{bar:.1f}" height="{bar_height}" fill="{color}"/>')
        parts.append(f'<text x="{label_w + bar + 4:.1f}" y="{y + bar_height - 5}">{num(value)}</text>')
    parts.append("</svg>")
    return "".join(parts)


# --------------------------------------------------------------------------- the app base


def _tree(widget: w.Widget) -> Iterator[w.Widget]:
    stack = [widget]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(getattr(node, "children", ()))


class App(w.VBox):
    """Base of every app: a session, a banner, and :meth:`call` for service calls.

    ``call`` shows a :class:`~workbench.core.errors.WorkbenchError` in the banner in plain
    words; on :class:`~workbench.core.errors.SessionExpired` it hands over to
    ``on_expired`` (the dashboard shows the session ended).
    """

    title_key = "app_title"
    #: Opens 個人の照会 on a person (set by the dashboard; a row that is a person calls it).
    person_opener: Callable[[str], object] | None = None
    #: Told where the person is when the app's selection changes (set by the dashboard, which keeps it
    #: for a reload or the next login: issue 20 item 3).
    place_listener: Callable[[Any], object] | None = None

    def __init__(self, session: Session, *, on_expired: Callable[[SessionExpired], None] | None = None) -> None:
        self.session = session
        self.on_expired = on_expired
        self.banner = ErrorBanner()
        self.progress = Progress()
        self.heading = w.HTML(f"<h3 style='margin:4px 0'>{esc(tr(self.title_key, 'ja'))} "
                              f"<small style='color:#666'>{esc(tr(self.title_key, 'en'))}</small></h3>")
        super().__init__([self.heading, self.banner, self.progress, *self.build()])
        for node in _tree(self):
            if isinstance(node, ActionButton):
                node._wb_app = self

    def clear_messages(self) -> None:
        """Clear every message this app shows (its banner and those beside its controls)."""
        for node in _tree(self):
            if isinstance(node, ErrorBanner):
                node.clear()

    def build(self) -> list[w.Widget]:
        """The app's views, below its heading and banner."""
        return []

    def open_at(self, opened: Any) -> bool:
        """Choose what ``opened`` (a :class:`workbench.pending.Opened`, already checked by the service)
        names on this screen; ``False`` when this screen has nothing of that kind to choose."""
        return False

    def place_changed(self, kind: str = "", ref: str = "") -> None:
        """The app's selection changed: tell the dashboard where the person now is."""
        from workbench.pending import Place

        key = self.title_key.removeprefix("app_")
        if self.place_listener is not None and key:
            self.place_listener(Place(key, kind, ref) if kind and ref else Place(key))

    def open_person_page(self, person_id: str) -> None:
        """A row that is a person was chosen: open that person's page (where the dashboard allows it)."""
        if self.person_opener is not None and person_id:
            self.person_opener(person_id)

    def close_all_views(self) -> None:
        """Close this app's widgets, so nothing it showed stays in the page or the kernel."""

        def close(widget: w.Widget) -> None:
            for child in getattr(widget, "children", ()):
                close(child)
            widget.close()

        close(self)

    def call(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R | None:
        """Run one service function for this session; ``None`` if it was refused."""
        return self.call_beside(self.banner, fn, *args, **kwargs)

    def call_beside(self, banner: ErrorBanner, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R | None:
        """:meth:`call`, with a refusal shown in ``banner`` — the one beside the control."""
        try:
            result = fn(self.session, *args, **kwargs)
        except SessionExpired as exc:
            banner.error(exc)
            if self.on_expired is not None:
                self.on_expired(exc)
            return None
        except WorkbenchError as exc:
            banner.error(exc)
            return None
        except Exception:  # never a traceback on a staff screen
            import logging

            # The type only: an exception's text may quote personal data.
            exc_type = type(sys.exc_info()[1]).__name__
            logging.getLogger(__name__).error("unexpected %s in %s", exc_type, getattr(fn, "__name__", "service"))
            banner.unexpected()
            return None
        return result
