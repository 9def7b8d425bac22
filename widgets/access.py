"""利用時間・登録端末 — the set hours and registered terminals, for the administrator (C13).

The hours by weekday, the exceptions a second person approved, and the terminals the web
server admits; change each here (the same services as ``workbench access …``).  Each
section shows its result beside its own button.

The hours are chosen per weekday (月曜日…日曜日: 開始 and 終了 from lists of times every 15
minutes, or 休み), never typed in an engineer's syntax (issue 20 item 10); they go through the same
``access.preview_hours`` → ``access.set_hours`` as the command line, with the preview's effect
named before anything is changed.
"""

from __future__ import annotations

import datetime as dt

import ipywidgets as w

from workbench.controls import access
from workbench.core import access_rules
from workbench.core.access_rules import WEEKDAYS, AccessPolicy
from workbench.core.clock import JST
from workbench.core.errors import InvalidInput, WorkbenchError

from .common import ActionButton, App, ErrorBanner, fmt_datetime, html_table

__all__ = ["AccessApp"]

WEEKDAYS_JA = access_rules.WEEKDAYS_JA
#: The times offered: every 15 minutes; a day may end at 24:00 (the end of the day).
STARTS = [f"{h:02d}:{m:02d}" for h in range(24) for m in (0, 15, 30, 45)]
ENDS = [*STARTS[1:], "24:00"]


class DayHours(w.HBox):
    """One weekday's row: 月曜日 [開始 ▾] 〜 [終了 ▾] [ ] 休み."""

    def __init__(self, day: int) -> None:
        self.day = day
        self.name = w.HTML(f"<b>{WEEKDAYS_JA[day]}曜日</b>", layout=w.Layout(width="70px"))
        self.opens = w.Dropdown(options=STARTS, value="08:30", layout=w.Layout(width="90px"))
        self.closes = w.Dropdown(options=ENDS, value="17:15", layout=w.Layout(width="90px"))
        self.closed = w.Checkbox(description="休み / closed", indent=False, layout=w.Layout(width="auto"))
        self.closed.observe(lambda _c: self._closed_changed(), "value")
        super().__init__([self.name, w.HTML("開始 / from", layout=w.Layout(width="auto")), self.opens,
                          w.HTML("〜 終了 / to", layout=w.Layout(width="auto")), self.closes, self.closed],
                         layout=w.Layout(align_items="center", grid_gap="6px"))
        self.add_class(f"wb-hours-{WEEKDAYS[day]}")

    def _closed_changed(self) -> None:
        self.opens.disabled = self.closes.disabled = self.closed.value

    def show(self, window: str | None) -> None:
        """The hours in force, as ``"08:30-18:00"`` or ``None`` (closed)."""
        if window is None:
            self.closed.value = True
            return
        opens, _, closes = window.partition("-")
        if opens in STARTS and closes in ENDS:
            self.opens.value, self.closes.value = opens, closes
        self.closed.value = False

    def window(self) -> tuple[dt.time, dt.time] | None:
        """The window chosen (refused in words when the end is not after the start)."""
        if self.closed.value:
            return None
        return access_rules.window_from(self.day, str(self.opens.value), str(self.closes.value))


class AccessApp(App):
    title_key = "app_access"

    def build(self) -> list[w.Widget]:
        style = {"description_width": "150px"}
        self.policy_view = w.HTML()

        #: 月曜日…日曜日, each with its start and end time or 休み.
        self.days = [DayHours(d) for d in range(7)]
        self.hours_button = ActionButton(description="利用時間を設定 / Set hours", icon="clock-o")
        self.hours_button.on_click(lambda _b: self.set_hours())
        self.hours_result = ErrorBanner()
        #: Shown when a change would end sessions now (the administrator's own too): a second, explicit yes.
        self.hours_confirm = w.Checkbox(description="セッションが終了することを確認しました / I accept that sessions end",
                                        indent=False, layout=w.Layout(display="none"))

        self.address = w.Text(description="アドレス / Address", placeholder="192.0.2.0/28", style=style)
        self.terminal_label = w.Text(description="端末名 / Label", style=style)
        self.add_button = ActionButton(description="端末を登録 / Register", icon="desktop")
        self.add_button.on_click(lambda _b: self.add_terminal())
        self.remove_pick = w.Dropdown(description="登録端末 / Terminal", options=[], style=style)
        self.remove_button = ActionButton(description="登録を解除 / Remove", icon="minus-circle")
        self.remove_button.on_click(lambda _b: self.remove_terminal())
        self.terminal_result = ErrorBanner()

        self.exc_user = w.Text(description="ユーザーID / User ID", style=style)
        self.exc_from = w.Text(description="開始 / From", placeholder="2026-12-01 18:00", style=style)
        self.exc_to = w.Text(description="終了 / To", placeholder="2026-12-01 22:00", style=style)
        self.exc_reason = w.Text(description="理由 / Reason", style=style)
        self.exc_approval = w.Text(description="承認番号 / Approval", placeholder="A…", style=style)
        self.exc_request = ActionButton(description="時間外利用の承認を依頼 / Request", icon="paper-plane")
        self.exc_request.on_click(lambda _b: self.exception(grant=False))
        self.exc_grant = ActionButton(description="承認済みの時間外利用を登録 / Grant", icon="check")
        self.exc_grant.on_click(lambda _b: self.exception(grant=True))
        self.exc_result = ErrorBanner()

        self.refresh()
        return [
            self.policy_view,
            w.HTML("<h4>利用時間 / Set hours</h4><div style='color:#555'>曜日ごとに開始と終了の時刻（日本時間）を選びます。"
                   "利用しない曜日は「休み」にします。 / Choose each weekday's hours in Japan time, or closed.</div>"),
            w.VBox(self.days), self.hours_button, self.hours_confirm, self.hours_result,
            w.HTML("<h4>登録端末 / Registered terminals</h4>"),
            w.HBox([self.address, self.terminal_label, self.add_button]),
            w.HBox([self.remove_pick, self.remove_button]), self.terminal_result,
            w.HTML("<h4>時間外利用 / Use outside the hours</h4><div style='color:#555'>別の職員（承認者）の承認が必要です。"
                   "本人は承認できません。</div>"),
            w.HBox([self.exc_user, self.exc_reason]), w.HBox([self.exc_from, self.exc_to]),
            w.HBox([self.exc_request, self.exc_approval, self.exc_grant]), self.exc_result,
        ]

    # -- views ----------------------------------------------------------------------
    def refresh(self) -> None:
        policy = self.call(access.policy)
        if policy is not None:
            self.show(policy)

    def show(self, policy: AccessPolicy) -> None:
        hours = policy.to_dict()["hours"]
        rows = [[f"{WEEKDAYS_JA[i]}曜日", hours[d] or "利用不可"] for i, d in enumerate(WEEKDAYS)]
        terminals = [[t.terminal_id, t.label, "アドレス" if t.kind == "address" else "証明書", t.value,
                      fmt_datetime(t.registered_at)] for t in policy.terminals]
        exceptions = [[e.user_id, fmt_datetime(e.starts_at), fmt_datetime(e.ends_at), e.reason, e.approval_id]
                      for e in policy.exceptions]
        self.policy_view.value = (
            "<div style='display:flex;gap:24px;flex-wrap:wrap'><div><b>利用時間（日本時間）</b>"
            + html_table(["曜日", "時間"], rows) + "</div><div><b>登録端末</b>"
            + html_table(["番号", "端末名", "種類", "値", "登録日時"], terminals)
            + "</div></div><b>承認済みの時間外利用</b>"
            + (html_table(["ユーザーID", "開始", "終了", "理由", "承認番号"], exceptions) if exceptions
               else "<div>ありません。</div>"))
        self.remove_pick.options = [(f"{t.label}（{t.value}）", t.terminal_id) for t in policy.terminals]
        for row in self.days:
            row.show(hours[WEEKDAYS[row.day]])

    # -- handlers -------------------------------------------------------------------
    def set_hours(self) -> None:
        self.hours_result.clear()
        try:
            parsed = {row.day: row.window() for row in self.days}
        except WorkbenchError as exc:
            self.hours_result.error(exc)
            return
        confirmed = self.hours_confirm.value
        if not confirmed:
            change = self.call_beside(self.hours_result, access.preview_hours, parsed)
            if change is None:
                return
            if change.ended:  # the effect first, in words; nothing is changed until the person says yes
                self.hours_result.info(change.message_ja, change.message_en)
                self.hours_confirm.layout.display = "flex"
                return
        policy = self.call_beside(self.hours_result, access.set_hours, parsed, confirm_ending=confirmed)
        self.hours_confirm.value = False
        self.hours_confirm.layout.display = "none"
        if policy is not None:
            self.show(policy)
            self.hours_result.success("利用時間を設定しました。", "The hours were set.")

    def add_terminal(self) -> None:
        self.terminal_result.clear()
        terminal = self.call_beside(self.terminal_result, access.register_terminal, "address", self.address.value,
                              self.terminal_label.value)
        if terminal is not None:
            self.refresh()
            self.terminal_result.success(f"端末 {terminal.label}（{terminal.terminal_id}）を登録しました。",
                                         f"Terminal {terminal.terminal_id} registered.")

    def remove_terminal(self) -> None:
        self.terminal_result.clear()
        if not self.remove_pick.value:
            return
        terminal_id = str(self.remove_pick.value)
        self.call_beside(self.terminal_result, access.remove_terminal, terminal_id)
        if self.terminal_result.kind != "error":
            self.refresh()
            self.terminal_result.success(f"端末 {terminal_id} の登録を解除しました。", f"Terminal {terminal_id} removed.")

    def exception(self, *, grant: bool) -> None:
        self.exc_result.clear()
        try:
            starts, ends = (_when(v) for v in (self.exc_from.value, self.exc_to.value))
        except InvalidInput as exc:
            self.exc_result.error(exc)
            return
        user, reason = self.exc_user.value.strip(), self.exc_reason.value
        if grant:
            done = self.call_beside(self.exc_result, access.grant_exception, user, starts, ends, reason,
                              approval_id=self.exc_approval.value.strip())
            if done is not None:
                self.refresh()
                self.exc_result.success(f"{user} の時間外利用を登録しました。", "The exception was granted.")
        else:
            approval = self.call_beside(self.exc_result, access.request_exception, user, starts, ends, reason)
            if approval is not None:
                self.exc_approval.value = approval.approval_id
                self.exc_result.success(f"承認を依頼しました（承認番号 {approval.approval_id}）。承認後に「登録」を押してください。",
                                        f"Approval requested ({approval.approval_id}).")


def _when(value: str) -> dt.datetime:
    try:
        at = dt.datetime.fromisoformat(value.strip().replace(" ", "T"))
    except ValueError:
        raise InvalidInput("Give the time as 2026-12-01 18:00.", "日時は 2026-12-01 18:00 のように入力してください。") from None
    return at if at.tzinfo else at.replace(tzinfo=JST)
