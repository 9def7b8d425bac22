"""操作ログ監査 — the auditor's screen (C4, C9).

* verify the hash chain and signed heads, with the result in plain words;
* search by user, operation (any part of its words, Japanese or English), outcome and period
  (users and targets are matched by their pseudonym: the log never holds them in clear); the
  screen opens on today's records;
* each row names its target (a record's ID; a person only by pseudonym) and, chosen, shows its
  details;
* an activity chart of records per day, and alerts for work outside the office's set
  hours (C13, ``workbench access hours``) and for bulk exports;
* the media ledger (媒体管理簿).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ipywidgets as w
import traitlets as t

from workbench.controls import audit_log
from workbench.core import labels
from workbench.core.clock import JST
from workbench.core.paging import Page, PageRequest
from workbench.core.permissions import Permission
from workbench.core.policy import POLICY
from workbench.files import media

from .common import ActionButton, App, bar_chart_svg, esc, fmt_datetime, num, wareki
from .grid import GridColumn, RecordGrid

__all__ = ["BULK_THRESHOLD", "AuditApp", "AuditModel"]

#: The threshold is office policy (workbench/data/policy.json); the hours are the office's set hours.
BULK_THRESHOLD = POLICY.bulk_export_records
OUTCOMES = [("すべて / all", ""), *[(labels.label(code, "outcome"), code) for code in labels.labels("outcome")]]


def _when(record: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(str(record["logged_at"]).replace("Z", "+00:00")).astimezone(JST)


def _target(record: dict[str, Any]) -> str:
    """What the record was about: a record's ID or a user; a person (or an ID no longer held) by pseudonym."""
    if record.get("target"):
        return str(record["target"])
    ref = record.get("target_ref")
    return f"（仮名 {str(ref)[:8]}）" if ref else "-"


#: Parameter names in a record's details, in words (the rest are shown as they are).
_PARAM_WORDS = {
    "count": "件数", "total": "総数", "records": "件数", "record_count": "件数", "persons": "人数", "hits": "該当件数",
    "approval_id": "承認番号", "approval_kind": "承認の種類", "approve": "承認", "reason_given": "理由の記入",
    "searched": "検索の種類", "text": "文字での絞り込み", "filters": "絞り込み", "sort": "並べ替え", "offset": "開始位置",
    "list_id": "削除リスト", "package_id": "パッケージ", "dry_run": "確認のみ", "error": "エラー", "reason": "理由",
}


def _detail_html(record: dict[str, Any]) -> str:
    import json

    try:
        params = json.loads(record.get("params") or "{}")
    except ValueError:
        params = {}
    rows = [("番号", num(record["seq"])), ("日時", fmt_datetime(_when(record))),
            ("利用者", record.get("user_id") or f"（仮名 {str(record['user_ref'])[:8]}）"),
            ("操作", f"{labels.operation_label(record['operation'])}（{record['operation']}）"), ("対象", _target(record)),
            ("結果", labels.ja(record["outcome"], "outcome"))]
    for k, v in (params.items() if isinstance(params, dict) else ()):
        shown = labels.ja(v) if isinstance(v, str) else ("はい" if v is True else "いいえ" if v is False else
                                                         num(v) if isinstance(v, int) else json.dumps(v, ensure_ascii=False))
        rows.append((_PARAM_WORDS.get(k, str(k)), shown))
    return ("<div class='wb-audit-detail' style='border:1px solid #ccc;padding:6px 10px;margin:4px 0'>"
            "<b>選んだ記録 / the chosen record</b><table>" + "".join(
                f"<tr><th style='text-align:left;padding:1px 12px 1px 0'>{esc(k)}</th><td>{esc(v)}</td></tr>"
                for k, v in rows) + "</table></div>")


class AuditModel(t.HasTraits):
    report = t.Dict()
    records: t.List[dict[str, Any]] = t.List()
    ledger: t.List[Any] = t.List()


class AuditApp(App):
    title_key = "app_audit"

    def build(self) -> list[w.Widget]:
        self.model = AuditModel()
        style = {"description_width": "150px"}
        children: list[w.Widget] = []

        self.verify_button = ActionButton(description="改ざん検査 / Verify log", button_style="primary", icon="shield")
        self.verify_button.on_click(lambda _b: self.verify())
        self.verify_result = w.HTML()
        if self.session.can(Permission.AUDIT_VERIFY):
            children += [w.HTML("<h4>改ざん検査 / Integrity</h4>"), self.verify_button, self.verify_result]

        today = self.session.workspace.clock.now().astimezone(JST).date()
        self.by_user = w.Text(description="ユーザーID / User", style=style)
        self.operation = w.Text(description="操作 / Operation", placeholder="例: 照会、ログアウト、番号の表示、reveal", style=style)
        self.outcome = w.Dropdown(description="結果 / Outcome", options=OUTCOMES, value="", style=style)
        #: The records that name one approval: its request, its decision and the work it allowed.
        self.by_approval = w.Text(description="承認番号 / Approval", placeholder="例: A1B2C3D4E5F6", style=style)
        #: What the screen was opened on (an approval from the inbox), or a hint.
        self.current = w.HTML("")
        self._opened_approval = ""
        self.since = w.DatePicker(description="開始日 / From", value=today, style=style)
        self.until = w.DatePicker(description="終了日 / To", value=today, style=style)
        self.search_button = ActionButton(description="検索 / Search", icon="search")
        self.search_button.on_click(lambda _b: self.search())
        self.summary = w.HTML()
        self.chart = w.HTML()
        self.alerts = w.HTML()
        #: The log, a page at a time from the database; the chart and the alerts count every match.
        self.table = RecordGrid(
            fetch=self._fetch_records, key=lambda r: str(r["seq"]),
            columns=[GridColumn("番号", lambda r: r["seq"], numeric=True), GridColumn("日時", lambda r: fmt_datetime(_when(r))),
                     GridColumn("利用者", lambda r: r.get("user_id") or f"（仮名 {str(r['user_ref'])[:8]}）"),
                     GridColumn("操作", lambda r: labels.operation_label(r["operation"])),
                     GridColumn("対象", _target),
                     GridColumn("結果", lambda r: labels.ja(r["outcome"], "outcome")),
                     GridColumn("注意", lambda r: " ".join(w for w, on in (("時間外", r["out_of_hours"]), ("大量", r["bulk_export"]))
                                                           if on))],
            sorts=audit_log.LOG_LIST.sort_options(), descending=True, searchable=False, autoload=False,
            css_class="wb-audit-table", on_select=self._record_chosen)
        #: The chosen record in full: every field and its parameters, in words where there are words.
        self.detail = w.HTML()
        self.table.model.observe(lambda _c: self._show_records(), "page")
        self._filters: dict[str, Any] = {}
        if self.session.can(Permission.AUDIT_READ):
            children += [
                w.HTML("<h4>操作ログ検索 / Search</h4>"),
                w.HBox([w.VBox([self.by_user, self.operation, self.outcome]),
                        w.VBox([self.since, self.until, self.by_approval])], layout=w.Layout(flex_flow="row wrap")),
                self.current, self.search_button, self.summary, self.chart, self.alerts, self.table, self.detail,
            ]

        self.ledger_button = ActionButton(description="媒体管理簿 / Media ledger", icon="book", layout=w.Layout(width="auto"))
        self.ledger_button.on_click(lambda _b: self.load_ledger())
        self.ledger_table = RecordGrid(
            fetch=lambda r: self.call(media.ledger_page, r), key=lambda e: e.entry_id,
            columns=[GridColumn("番号", lambda e: e.entry_id), GridColumn("日時", lambda e: fmt_datetime(e.recorded_at)),
                     GridColumn("区分", lambda e: labels.ja(e.direction, "direction")), GridColumn("種別", lambda e: labels.ja(e.kind, "package")),
                     GridColumn("送付先", lambda e: labels.ja(e.recipient, "recipient")),
                     GridColumn("件数", lambda e: e.record_count, numeric=True),
                     GridColumn("担当", lambda e: e.user_id), GridColumn("承認", lambda e: e.approval_id or "-"),
                     GridColumn("削除日時", lambda e: fmt_datetime(e.deleted_at) if e.deleted_at else "-")],
            sorts=media.LEDGER_LIST.sort_options(), descending=True, placeholder="番号・ファイル名・担当・承認番号",
            autoload=False, css_class="wb-ledger-table")
        self.ledger_table.model.observe(lambda _c: setattr(self.model, "ledger", self.ledger_table.rows), "page")
        if self.session.can(Permission.LEDGER_READ):
            children += [w.HTML("<h4>媒体管理簿 / Media ledger (C9)</h4>"), self.ledger_button, self.ledger_table]

        self.model.observe(self._show_report, "report")
        self.model.observe(self._show_records, "records")
        self.model.observe(self._show_ledger, "ledger")
        if self.session.can(Permission.AUDIT_READ):
            self.search()  # today's records on opening, not an empty list until 検索
        return children

    # -- views -------------------------------------------------------------------------
    def _show_report(self, _change: Any = None) -> None:
        r = self.model.report
        ok = r.get("ok")
        color = "#2e7d32" if ok else "#c62828"
        head = "正常 / OK" if ok else "異常あり / PROBLEM"
        self.verify_result.value = (
            f"<div class='wb-verify' style='border-left:4px solid {color};padding:6px 10px'>"
            f"<b style='color:{color}'>{head}</b><br>{esc(r.get('ja', ''))}<br><small>{esc(r.get('en', ''))}</small></div>"
        )

    def _show_records(self, _change: Any = None) -> None:
        page = self.table.model.page
        if page is None:
            return
        self.model.records = list(page.rows)
        per_day = sorted(page.groups.get("day", {}).items())
        self.summary.value = f"<div>該当 / matching: <b>{num(page.total)}</b> 件（{num(len(per_day))} 日）</div>"
        self.chart.value = bar_chart_svg([(wareki(dt.date.fromisoformat(d), gregorian=False), n) for d, n in per_day],
                                         title="1日あたりの操作件数 / records per day")
        late = page.groups.get("out_of_hours", {}).get("yes", 0)
        bulk = page.groups.get("bulk_export", {}).get("yes", 0)
        items = []
        if late:
            items.append(f"<li>時間外・休日の操作 / out of hours: <b>{num(late)}</b> 件"
                         "（利用時間外・休日 / outside the set hours）</li>")
        if bulk:
            items.append(f"<li>大量の持ち出し / bulk exports ({num(BULK_THRESHOLD)} 件以上): <b>{num(bulk)}</b> 件</li>")
        self.alerts.value = (
            "<div class='wb-alerts' style='background:#fff4e5;padding:6px 10px'><b>注意 / alerts</b><ul>"
            + "".join(items) + "</ul></div>" if items else "<div class='wb-alerts'>注意事項なし / no alerts</div>"
        )

    def _show_ledger(self, _change: Any = None) -> None:
        """The ledger grid shows itself (media.ledger_page); ``model.ledger`` is its page."""

    # -- handlers ------------------------------------------------------------------------
    def verify(self) -> None:
        report = self.call(audit_log.verify)
        if report is not None:
            ja, en = report.message()
            self.model.report = {"ok": report.ok, "records": report.records, "ja": ja, "en": en}

    def search(self) -> None:
        since = dt.datetime.combine(self.since.value, dt.time(), JST) if self.since.value else None
        until = dt.datetime.combine(self.until.value + dt.timedelta(days=1), dt.time(), JST) if self.until.value else None
        word = self.operation.value.strip()
        # Any part of the words names the operations it is part of (照会, ファイル 作成, reveal, import
        # results); a code pattern with * (persons.*) is matched as one.
        by_words = bool(word) and "*" not in word
        approval = self.by_approval.value.strip() or None
        self._filters = dict(user_id=self.by_user.value.strip() or None, operation=None if by_words else (word or None),
                             operations=labels.operations_matching(word, audit_log.known_operations()) if by_words else None,
                             outcome=self.outcome.value or None, since=since, until=until, approval_id=approval)
        if self._opened_approval and (approval or "").upper() != self._opened_approval:
            self._opened_approval = ""  # another search: the approval opened from the inbox is no longer the subject
            self.current.value = ""
            self.place_changed()
        self.detail.value = ""
        self.table.model.offset = 0
        self.table.refresh()

    def open_at(self, opened: Any) -> bool:
        """Opened from the inbox (or a reload) on one approval: its records — the request, the decision
        and the work it allowed — from the day it was asked for to today, with who did what above them."""
        a = opened.approval
        if opened.place.kind != "approval" or a is None or not self.session.can(Permission.AUDIT_READ):
            return False
        self.by_user.value = self.operation.value = ""
        self.outcome.value = ""
        self.by_approval.value = self._opened_approval = a.approval_id
        self.since.value = a.requested_at.astimezone(JST).date()
        self.until.value = self.session.workspace.clock.now().astimezone(JST).date()
        ja, en = labels.ja(a.kind, "approval"), labels.en(a.kind, "approval")
        decided = (f"　決定 / decided: {esc(a.decided_by)}（{esc(labels.ja(a.status, 'approval_status'))}、"
                   f"{esc(fmt_datetime(a.decided_at))}）" if a.decided_by and a.decided_at else
                   f"　状態 / state: {esc(labels.ja(a.status, 'approval_status'))}")
        self.current.value = (
            f"<div class='wb-current wb-audit-approval' style='padding:4px 8px;border-left:4px solid #00695c'>"
            f"承認番号 / approval <b>{esc(a.approval_id)}</b> {esc(ja)} <small>({esc(en)})</small><br>"
            f"依頼 / requested: {esc(a.requested_by)}（{esc(fmt_datetime(a.requested_at))}）{decided}<br>"
            "<small>下の一覧は、この承認番号を記録した操作（依頼・決定・実行）です。"
            " / Below: the records that name this approval (request, decision, the work it allowed).</small></div>")
        self.search()
        return True

    def _fetch_records(self, request: PageRequest) -> Page[dict[str, Any]] | None:
        return self.call(audit_log.search_page, request, **self._filters)

    def _record_chosen(self, record: dict[str, Any] | None) -> None:
        self.detail.value = "" if record is None else _detail_html(record)

    def load_ledger(self) -> None:
        self.ledger_table.refresh()
