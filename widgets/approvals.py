"""承認待ち一覧 — the approver's queue: each request with its summary; approve or reject.

A person cannot approve their own request; the service refuses and the banner says so.  A
rejection needs a reason (却下の理由, issue 20 item 6): 却下 stays grey until one is written, the
handler checks again, and the service refuses a rejection without one.  The reason is kept with
the request and shown to the person who asked.  Ward codes in a summary read as ward names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import ipywidgets as w
import traitlets as t

from workbench.core import approvals, labels
from workbench.core.approvals import Approval
from workbench.files import outgoing

from .common import ActionButton, App, esc, fmt_datetime, num

__all__ = ["KIND_LABELS", "ApprovalsApp", "ApprovalsModel"]

#: What each kind of request is, in staff words: from the workbench's registry of approval kinds
#: (role grants and every outgoing file, workbench.files.outgoing.REGISTRY), not a list kept here.
KIND_LABELS: Mapping[str, tuple[str, str]] = approvals.KINDS

#: Summary keys an approver reads as words (the rest are internal: digests, per-row detail).
_SHOWN = ("recipient", "count", "persons", "procedure", "fiscal_year", "information", "excluded", "by_ward",
          "by_status", "discrepancies", "discrepancy_status", "files", "user_id", "role_ja",
          "starts_at", "ends_at", "reason")

_SUMMARY_LABELS = {
    "user_id": "ユーザーID", "role_ja": "役割", "starts_at": "開始", "ends_at": "終了", "summary_ja": "内容", "recipient": "送付先", "record_count": "件数",
    "records": "件数", "count": "件数", "file_name": "ファイル", "reason": "理由",
    "by_ward": "区市町村別", "by_status": "区分別", "wards": "区市町村", "status": "区分",
    "persons": "人数", "discrepancies": "相違件数", "procedure": "手続", "fiscal_year": "年度",
    "information": "照会情報", "kind": "種類", "discrepancy_status": "相違の状態", "by_information": "照会情報別",
    "excluded": "照会しない件数", "files": "ファイル数", "key_version": "鍵バージョン",
    "cycle": "定例処理", "permissions": "権限",
}


#: The label-table domain of each summary key whose values (or dict keys) are codes.
_CODE_DOMAINS = {
    "information": "information", "excluded": "exclusion", "by_information": "information",
    "procedure": "procedure", "by_status": "person_status", "status": "person_status",
    "discrepancy_status": "linkage_state", "recipient": "recipient", "kind": "discrepancy", "by_ward": "ward",
    "wards": "ward",
}


#: Summary keys whose values (or dict keys) are ward or municipality codes.
_WARD_KEYS = frozenset({"by_ward", "wards", "ward", "ward_code"})


def _words(key: str, code: object) -> str:
    """A code in a summary as a clerk reads it: the Japanese word, the code beside it only for a
    procedure (staff cite procedures by number, 「P1 収入の申告」)."""
    if key in _WARD_KEYS:
        return labels.ward_name(code)  # 13101 → 千代田区 (issue 20 item 5)
    domain = _CODE_DOMAINS.get(key)
    if domain is None:
        return str(code)
    # an exclusion by its short name; the card's lead sentence carries the rule
    word = labels.short(code, domain) if key == "excluded" else labels.ja(code, domain)
    return f"{code} {word}" if key == "procedure" and word != str(code) else word


def summary_html(summary: dict[str, Any]) -> str:
    parts = []
    lead = summary.get("summary_ja")
    for key in _SHOWN:
        if key not in summary:
            continue
        value = summary[key]
        if isinstance(value, dict):
            shown: Any = "、".join(f"{_words(key, k)} {num(v) + ' 件' if isinstance(v, int) else v}" for k, v in value.items())
        elif isinstance(value, list):
            shown = "、".join(_words(key, v) for v in value)
        elif value is None:
            shown = "すべて"
        elif key == "fiscal_year":
            shown = f"{value}年度"
        elif isinstance(value, int) and not isinstance(value, bool):
            shown = num(value)
        else:
            shown = _words(key, value)
        parts.append(f"{esc(_SUMMARY_LABELS.get(key, key))}: <b>{esc(shown)}</b>")
    details = "、".join(parts)
    return (f"<span class='wb-approval-summary'>{esc(lead)}</span><br><small>{details}</small>" if lead else details)


class ApprovalsModel(t.HasTraits):
    pending: t.List[Any] = t.List()
    decided = t.Dict()  # approval_id → "approved" / "rejected"


class ApprovalsApp(App):
    title_key = "app_approvals"

    def build(self) -> list[w.Widget]:
        self.model = ApprovalsModel()
        self.count = w.HTML()
        self.rows = w.VBox([])
        self.buttons: dict[str, tuple[w.Button, w.Button]] = {}
        #: The reason typed for rejecting each request (却下の理由).
        self.reasons: dict[str, w.Text] = {}
        self.refresh_button = ActionButton(description="更新 / Refresh", icon="refresh")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.model.observe(self._show, "pending")
        self.refresh()
        return [w.HBox([self.refresh_button, self.count]), self.rows]

    #: The request the inbox's 開く chose: shown first and marked.
    chosen: str = ""

    def open_at(self, opened: Any) -> bool:
        """Opened from the inbox on one request: it comes first, marked, the others below it."""
        approval: Approval | None = opened.approval
        if opened.place.kind != "approval" or approval is None or approval.status != "pending":
            return False
        self.chosen = approval.approval_id
        self._show()
        return True

    def _show(self, _change: Any = None) -> None:
        items: list[Approval] = sorted(self.model.pending, key=lambda a: a.approval_id != self.chosen)
        self.count.value = f"<div style='padding:6px'>承認待ち / pending: <b>{num(len(items))}</b> 件</div>"
        self.buttons = {}
        self.reasons = {}
        self.check_buttons: dict[str, w.Button] = {}
        rows: list[w.Widget] = []
        for a in items:
            ja, en = KIND_LABELS.get(a.kind, (a.kind, a.kind))
            text = w.HTML(
                f"<div class='wb-approval' style='border:1px solid #ccc;padding:6px 10px;margin:2px 0'>"
                f"<b>{esc(a.approval_id)}</b> {esc(ja)} <small>({esc(en)})</small><br>"
                f"{summary_html(a.summary)}<br><!--now--><!--/now-->"
                f"<small>依頼者 / by: {esc(a.requested_by)}　依頼日時: {esc(fmt_datetime(a.requested_at))}"
                f"　期限 / expires: {esc(fmt_datetime(a.expires_at))}</small></div>",
                layout=w.Layout(width="70%"),
            )
            approve = ActionButton(description="承認 / Approve", button_style="success", icon="check")
            reject = ActionButton(description="却下 / Reject", button_style="danger", icon="times", disabled=True)
            reason = w.Text(placeholder="却下の理由（依頼者に伝わります）/ reason", layout=w.Layout(width="260px"))
            reason.add_class("wb-reject-reason")
            reason.observe(lambda c, b=reject: setattr(b, "disabled", not str(c["new"]).strip()), "value")
            approve.on_click(lambda _b, i=a.approval_id: self.decide(i, approve=True))
            reject.on_click(lambda _b, i=a.approval_id: self.decide(i, approve=False))
            self.buttons[a.approval_id] = (approve, reject)
            self.reasons[a.approval_id] = reason
            side: list[w.Widget] = [approve, reason, reject]
            if a.kind in outgoing.REGISTRY and "parameters" in a.summary:
                check = ActionButton(description="今のデータで確認 / Check now", icon="search", layout=w.Layout(width="auto"))
                check.on_click(lambda _b, ap=a, box=text: self.check_now(ap, box))
                self.check_buttons[a.approval_id] = check
                side.append(check)
            row = w.HBox([text, w.VBox(side)])
            if a.approval_id == self.chosen:
                row.add_class("wb-approval-chosen")
                row.layout.border = "2px solid #1565c0"
            rows.append(row)
        self.rows.children = rows

    def check_now(self, a: Approval, box: w.HTML) -> None:
        """For an outgoing file: count the selection again, so the approver judges today's data
        (on demand: at a million people a selection takes seconds)."""
        check = self.call(outgoing.recheck, a.approval_id)
        if check is not None:
            box.value = re.sub(r"<!--now-->.*<!--/now-->", lambda _m: f"<!--now-->{self._now_html(check)}<!--/now-->",
                               box.value, flags=re.S)

    @staticmethod
    def _now_html(check: outgoing.Recheck) -> str:
        if check.unchanged:
            return (f"<span class='wb-approval-now' style='color:#2e7d32'>現在のデータで確認済み: {num(check.count_now)} 件"
                    "（依頼時と同じ対象）/ checked against the data now: unchanged</span><br>")
        return (f"<span class='wb-approval-now wb-approval-changed' style='color:#c62828'><b>依頼後に対象が変わりました</b>"
                f"（依頼時 {num(check.count_then)} 件 → 現在 {num(check.count_now)} 件）。承認しても作成時に拒否されます。"
                "依頼者に確認し直してもらってください。 / The selection changed since the request.</span><br>")

    def refresh(self) -> None:
        result = self.call(approvals.pending)
        if result is not None:
            self.model.pending = list(result)

    def decide(self, approval_id: str, *, approve: bool) -> None:
        reason = self.reasons[approval_id].value.strip() if approval_id in self.reasons else ""
        if not approve and not reason:  # a disabled 却下 clicked anyway (over the websocket): no reason, no rejection
            self.banner.info("却下の理由を入力してください。理由は依頼した人に伝わります。",
                             "Write the reason for the rejection; the person who asked will see it.")
            return
        result = self.call(approvals.decide, approval_id, approve=approve, reason=None if approve else reason)
        if result is None:
            return
        self.model.decided = {**self.model.decided, approval_id: result.status}
        if approve:
            self.banner.success(f"{approval_id} を承認しました。", f"Approved {approval_id}.")
        else:
            self.banner.success(f"{approval_id} を却下しました。理由は依頼者に表示されます。",
                                f"Rejected {approval_id}; the requester sees the reason.")
        self.refresh()
