"""番号相違の確認 — the registrar's and reviewer's queues (C7).

* **登録時の番号相違** (registrar, ``numbers.register``): a file brought a *different*
  Individual Number for a person who already has one.  Nothing was changed; the
  registrar compares the two (both masked; with the documents at hand, both may be shown in full,
  each reveal audited with its reason, :func:`~workbench.intake.registration.reveal_review_numbers`),
  opens the person's page if needed, and accepts (the received number replaces the held one), rejects,
  or puts it on hold (保留, shown in the queue, and set back to 確認待ち with the same button)
  (:func:`workbench.intake.registration.review_queue`, :func:`~workbench.intake.registration.resolve_review`,
  :func:`~workbench.intake.registration.hold_review`).
  Each decision is confirmed once more and recorded with who and when.
* **照会結果の相違** (reviewer, ``discrepancies.review``): the discrepancy queue of
  query results (:mod:`workbench.queries.discrepancies`), filtered by kind and state, as a table
  naming the fields that differ with the value held and the value reported; a chosen row
  is marked 本人へ通知済み or 解決 with a note (who and when are recorded by the service).
  The 通知対象者リスト for the housing system: request approval (the approver uses
  承認待ち一覧), then, with the approval number, the check before sending names the
  recipient (都住システム) and the number of people, and the package is shown with its
  media-ledger entry.

Numbers are masked here; showing one in full is an audited reveal (the person page's, or a review's
two numbers with a reason), hidden again when another row is chosen or on 隠す.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w
import traitlets as t

from workbench.core import labels
from workbench.core.paging import Page, PageRequest
from workbench.core.permissions import Permission
from workbench.files.media import RECIPIENTS
from workbench.intake import registration
from workbench.intake.registration import ReviewItem
from workbench.queries import discrepancies
from workbench.queries.discrepancies import Discrepancy

from .common import ActionButton, App, ErrorBanner, bar_chart_svg, esc, fmt_datetime, num
from .grid import GridColumn, RecordGrid
from .outgoing import OutgoingFileFlow

__all__ = ["ReviewApp", "ReviewModel"]

NOTICE_RECIPIENT = discrepancies.NOTICE_RECIPIENT
#: What 死亡を確認 does, in words, on the confirmation beside it (issue 20 item 6).
DECEASED_CONSEQUENCE = ("死亡を確認します: この人は照会・送付の対象から外れ、削除リストで選べるようになります。"
                        "取り消せません。")


def _value(field: str, value: Any) -> str:
    if value is None or value == "":
        return "-"
    if field == "deceased":
        return "死亡" if value in (True, "1", 1) else "生存"
    if field == "sex":
        return labels.ja(value, "sex")
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{num(value)} 円" if "income" in field else str(value)
    return str(value)


def _pair(d: Discrepancy, key: str) -> str:
    """held / reported for the fields that differ (and for income, the declared amount)."""
    values = d.held if key == "held" else d.reported
    names = d.fields if key == "reported" or d.kind != "income_differs" else ["declared_income"]
    return "、".join(f"{labels.ja(f, 'discrepancy_field')}: {_value(f, values.get(f))}" for f in names)


class ReviewModel(t.HasTraits):
    reviews: t.List[Any] = t.List()
    #: (review_id, accept) waiting for its confirmation, or None.
    pending = t.Any(None)
    decided = t.Dict()  # review_id → "accepted" / "rejected"
    discrepancies: t.List[Any] = t.List()


class ReviewApp(App):
    title_key = "app_review"

    def build(self) -> list[w.Widget]:
        self.model = ReviewModel()
        self.row_buttons: dict[str, tuple[w.Button, w.Button, w.Button]] = {}
        self.person_area = w.VBox([])
        sections: list[w.Widget] = []

        # -- registration reviews (numbers.register): a grid paging in the database; a chosen row
        #    is the current item, its actions and their result right below it
        self.can_register = self.session.can(Permission.NUMBERS_REGISTER)
        self.review_count = w.HTML()
        self.review_grid = RecordGrid(
            fetch=lambda r: self.call(registration.review_page, r), key=lambda r: r.review_id,
            columns=[
                GridColumn("確認番号", lambda r: r.review_id),
                GridColumn("宛名番号", lambda r: r.person_id),
                GridColumn("登録済みの番号", lambda r: r.held_number_masked or "未登録"),
                GridColumn("届いた番号", lambda r: r.new_number_masked),
                GridColumn("状態", lambda r: labels.ja(r.status, "review_status")),
                GridColumn("取込元", lambda r: labels.ja(r.source, "source"), minor=True),
                GridColumn("取込番号", lambda r: r.import_id, minor=True),
                GridColumn("行", lambda r: r.line, numeric=True, minor=True),
                GridColumn("受付日時", lambda r: fmt_datetime(r.created_at), minor=True),
                GridColumn("受付者", lambda r: r.created_by, minor=True),
            ],
            sorts=registration.REVIEW_LIST.sort_options(), default_sort="created_at",
            placeholder="確認番号・宛名番号・取込番号", on_select=lambda _r: self._review_chosen(),
            css_class="wb-review-table", autoload=False, empty="確認待ちはありません / none pending")
        self.review_current = w.HTML()
        self.accept_button = ActionButton(description="採用（置き換え）/ Accept", button_style="warning", icon="check",
                                          disabled=True, layout=w.Layout(width="auto"))
        self.reject_button = ActionButton(description="不採用 / Reject", icon="times", disabled=True,
                                          layout=w.Layout(width="auto"))
        self.review_person_button = ActionButton(description="個人の照会 / Person", icon="user", disabled=True,
                                                 layout=w.Layout(width="auto"))
        #: 保留 (issue 20 item 11): a held review stays in the queue; the same button sets it back.
        self.hold_button = ActionButton(description="保留 / Hold", icon="pause", disabled=True, layout=w.Layout(width="auto"))
        self.hold_button.on_click(lambda _b: self.toggle_hold())
        #: Both numbers in full, with the documents at hand: a reason is chosen first; each reveal is audited.
        self.can_reveal = self.session.can(Permission.NUMBERS_REVEAL)
        self.reveal_reason = w.Dropdown(
            description="表示の理由 / Reason", style={"description_width": "110px"}, value="",
            options=[("理由を選んでください / choose a reason", ""),
                     *[(ja, code) for code, (ja, _en) in registration.REVEAL_REASONS.items()]])
        self.reveal_button = ActionButton(description="両方の番号を表示（記録されます）/ Show both (audited)", icon="eye",
                                          disabled=True, layout=w.Layout(width="auto"))
        self.reveal_button.on_click(lambda _b: self.reveal())
        self.reveal_reason.observe(lambda _c: self._review_chosen(), "value")
        self.hide_button = ActionButton(description="隠す / Hide", icon="eye-slash", layout=w.Layout(display="none"))
        self.hide_button.on_click(lambda _b: self.hide_numbers())
        self.review_numbers = w.HTML()
        #: The review whose numbers are shown (hidden as soon as another row is chosen).
        self.revealed_review: str | None = None
        self.accept_button.on_click(lambda _b: self._ask_current(accept=True))
        self.reject_button.on_click(lambda _b: self._ask_current(accept=False))
        self.review_person_button.on_click(lambda _b: self._open_review_person())
        self.review_confirm = w.VBox([])
        #: The decision's result, beside the buttons that made it (not at the top of a long page).
        self.review_result = ErrorBanner()
        self.review_grid.model.observe(self._show_reviews, "page")
        self.refresh_button = ActionButton(description="更新 / Refresh", icon="refresh")
        self.refresh_button.on_click(lambda _b: self.refresh())
        if self.can_register:
            sections.append(w.VBox([
                w.HTML("<h4>登録時の番号相違 / different number received at registration (C7)</h4>"
                       "<small>既に個人番号がある人について、異なる番号が届きました。登録内容は変更していません。"
                       "本人確認書類などで確かめてから、採用（置き換え）か不採用を選んでください。"
                       " / A different number arrived for someone who has one; nothing was changed.</small>"),
                w.HBox([self.refresh_button, self.review_count]), self.review_grid,
                self.review_current,
                *([w.HBox([self.reveal_reason, self.reveal_button, self.hide_button]), self.review_numbers]
                  if self.can_reveal else []),
                w.HBox([self.accept_button, self.reject_button, self.hold_button, self.review_person_button]),
                self.review_confirm, self.review_result,
            ]))
            self.model.observe(self._show_pending, "pending")
            self._review_chosen()

        # -- query-result discrepancies (discrepancies.review)
        self.can_review = self.session.can(Permission.DISCREPANCIES_REVIEW)
        self.discrepancy_box = self._build_discrepancies()
        if self.can_review:
            sections.append(self.discrepancy_box)

        sections.append(self.person_area)
        if self.can_register:
            self.refresh()
        if self.can_review:
            self.refresh_discrepancies()
        return sections

    def _build_discrepancies(self) -> w.VBox:
        style = {"description_width": "110px"}
        self.kind_filter = w.Dropdown(description="種類 / Kind", style=style, value="",
                                      options=[("すべて / all", ""), *[(ja, k) for k, (ja, _en) in discrepancies.KINDS.items()]])
        self.status_filter = w.Dropdown(description="状態 / State", style=style, value="open",
                                        options=[("すべて / all", ""), *[(ja, k) for k, (ja, _en) in discrepancies.STATUSES.items()]])
        self.disc_refresh_button = ActionButton(description="表示 / Show", icon="refresh")
        self.disc_refresh_button.on_click(lambda _b: self.refresh_discrepancies())
        for widget in (self.kind_filter, self.status_filter):
            widget.observe(lambda _c: self._filters_changed(), "value")
        self.disc_count = w.HTML()
        self.disc_chart = w.HTML()
        #: The queue as a data grid paging in the database; a chosen row is the current item.
        self.disc_grid = RecordGrid(
            fetch=self._fetch_discrepancies, key=lambda d: d.discrepancy_id,
            columns=[
                GridColumn("相違番号", lambda d: d.discrepancy_id),
                GridColumn("宛名番号", lambda d: d.person_id),
                GridColumn("種類", lambda d: labels.ja(d.kind, "discrepancy")),
                GridColumn("相違項目", lambda d: "、".join(labels.ja(f, "discrepancy_field") for f in d.fields), minor=True),
                GridColumn("保有情報", lambda d: _pair(d, "held")),
                GridColumn("照会結果", lambda d: _pair(d, "reported")),
                GridColumn("状態", lambda d: labels.ja(d.status, "discrepancy_status")),
                GridColumn("検知日時", lambda d: fmt_datetime(d.detected_at), minor=True),
                GridColumn("対応者", lambda d: d.resolved_by or d.notified_by or "-", minor=True),
                GridColumn("対応日時", lambda d: fmt_datetime(d.resolved_at or d.notified_at)
                           if (d.resolved_at or d.notified_at) else "-", minor=True),
                GridColumn("メモ", lambda d: d.note or "", minor=True),
            ],
            sorts=discrepancies.QUEUE.sort_options(), default_sort="detected_at",
            placeholder="相違番号・宛名番号・メモ", on_select=lambda _d: self._chosen(), css_class="wb-discrepancy-table",
            autoload=False)
        #: The chosen row's person, right below the actions (persons.get, permission-checked and audited).
        self.disc_person = w.VBox([])
        self.disc_current = w.HTML("<div class='wb-current'>一覧の行を選ぶと、その相違が対象になります。"
                                   " / Choose a row in the list.</div>")
        self.disc_note = w.Text(description="メモ / Note", style=style, placeholder="例: 電話で連絡済み",
                                layout=w.Layout(width="420px"))
        self.notified_button = ActionButton(description="本人へ通知済み / Notified", icon="envelope", disabled=True,
                                        layout=w.Layout(width="auto"))
        self.resolved_button = ActionButton(description="解決 / Resolved", icon="check", button_style="success",
                                        disabled=True, layout=w.Layout(width="auto"))
        self.notified_button.on_click(lambda _b: self.resolve(action="notified"))
        self.resolved_button.on_click(lambda _b: self.resolve(action="resolved"))
        #: The result of 本人へ通知済み / 解決, beside those buttons (not at the top of a long page).
        self.disc_result = ErrorBanner()
        # C7 / issue 12: a Juki-net death report, once checked, marks the person deceased.
        self.deceased_button = ActionButton(description="死亡を確認（死亡の印）/ Confirm death", icon="user-times",
                                        button_style="warning", disabled=True, layout=w.Layout(width="auto"))
        self.deceased_button.on_click(lambda _b: self.confirm_deceased())
        #: 死亡を確認 cannot be undone: the consequence in words, ticked before the button is offered (issue 20 item 6).
        self.deceased_confirm = w.Checkbox(description=DECEASED_CONSEQUENCE, indent=False, disabled=True,
                                           layout=w.Layout(width="auto"))
        self.deceased_confirm.observe(lambda _c: self._enable_actions(), "value")

        self.notices = OutgoingFileFlow(
            discrepancies.NOTICE_SPEC, session=self.session, call=self.call, banner=self.banner,
            request_label="通知対象者リストの承認を依頼 / Request approval",
            extra=lambda r: [("出力番号", r.extra.get("export_id", "-")), ("相違件数", num(r.extra.get("discrepancies")))],
            on_created=lambda _r: self.refresh_discrepancies())
        self.disc_grid.model.observe(self._show_discrepancies, "page")
        ja, en = RECIPIENTS[NOTICE_RECIPIENT]
        return w.VBox([
            w.HTML("<h4>照会結果の相違 / query-result discrepancies (C7)</h4>"
                   "<small>照会結果が保有情報と異なるもの（転居・氏名変更・死亡・性別・生年月日・所得）。"
                   "本人に届出を勧奨し、対応を記録してください。 / Results that differ from what is held.</small>"),
            w.HBox([self.kind_filter, self.status_filter, self.disc_refresh_button]), self.disc_count,
            self.disc_chart, self.disc_grid,
            w.HTML("<b>対応の記録 / record an action</b>"), self.disc_current, self.disc_note,
            w.HBox([self.notified_button, self.resolved_button, self.deceased_button]), self.deceased_confirm,
            self.disc_result, self.disc_person,
            w.HTML(f"<h4>通知対象者リスト / notice list</h4><small>未対応の相違がある本人の一覧を{esc(ja)}（{esc(en)}）へ"
                   "送付し、通知文を印字してもらいます。承認者の承認が必要です。"
                   " / The list of people to prompt, for the housing system, after a second person's approval.</small>"),
            self.notices,
        ])

    # -- views -------------------------------------------------------------------------------
    def _show_reviews(self, _change: Any = None) -> None:
        page: Page[ReviewItem] | None = self.review_grid.model.page
        total = page.total if page is not None else 0
        self.review_count.value = f"<div style='padding:6px'>確認待ち / pending: <b>{num(total)}</b> 件</div>"
        self.model.reviews = list(page.rows) if page is not None else []
        self._review_chosen()

    def open_at(self, opened: Any) -> bool:
        """Opened from the inbox (or a reload) on one review, discrepancy or notice-list request."""
        kind, ref = opened.place.kind, opened.place.ref
        if kind == "review" and self.can_register:
            return self.review_grid.open_at(ref)
        if kind == "discrepancy" and self.can_review:
            if self.status_filter.value != "":
                self.status_filter.value = ""  # every state: a discrepancy acted on since is still found
            return self.disc_grid.open_at(ref)
        if kind == "approval" and opened.approval is not None and hasattr(self, "notices") \
                and opened.approval.kind == self.notices.spec.kind:
            self.notices.open_approval(opened.approval)
            return True
        return False

    def _review_chosen(self) -> None:
        """The registrar chose a row (or the chosen row left the list): it is the current item."""
        r: ReviewItem | None = self.review_grid.selected_row
        self.place_changed("review", r.review_id if r is not None else "")
        if r is None:
            self.review_current.value = ("<div class='wb-current'>一覧の行を選ぶと、その確認待ちが対象になります。"
                                         " / Choose a row in the list.</div>")
            self.model.pending = None
        else:
            self.review_current.value = (
                f"<div class='wb-current wb-review' style='padding:4px 8px;border-left:4px solid #e65100'>対象 / current: "
                f"<b>{esc(r.review_id)}</b>　宛名番号 / person: <b>{esc(r.person_id)}</b>　"
                f"登録済みの番号 / held: <span class='wb-number'>{esc(r.held_number_masked or '未登録')}</span>"
                f"　→　届いた番号 / received: <span class='wb-number'>{esc(r.new_number_masked)}</span><br>"
                f"<small>取込元: {esc(labels.ja(r.source, 'source'))}　取込番号 {esc(r.import_id)} の "
                f"{num(r.line)} 行目　受付: {esc(fmt_datetime(r.created_at))}（{esc(r.created_by)}）　"
            f"状態: <b>{esc(labels.ja(r.status, 'review_status'))}</b></small></div>")
            if self.model.pending is not None and self.model.pending[0] != r.review_id:
                self.model.pending = None
        if self.revealed_review is not None and (r is None or r.review_id != self.revealed_review):
            self.hide_numbers()  # the numbers shown belong to another row: hidden at once
        self.accept_button.disabled = self.reject_button.disabled = self.hold_button.disabled = r is None
        self.hold_button.description = ("保留を解除 / Back to waiting" if r is not None and r.status == "held"
                                        else "保留 / Hold")
        self.reveal_button.disabled = r is None or not self.reveal_reason.value
        self.review_person_button.disabled = r is None or not self.session.can(Permission.PERSONS_VIEW)

    def _ask_current(self, *, accept: bool) -> None:
        r: ReviewItem | None = self.review_grid.selected_row
        if r is not None:
            self.ask(r.review_id, accept=accept)

    def _open_review_person(self) -> None:
        r: ReviewItem | None = self.review_grid.selected_row
        if r is not None:
            self.open_person(r.person_id)

    def _show_pending(self, _change: Any = None) -> None:
        pending = self.model.pending
        if pending is None:
            self.review_confirm.children = []
            return
        review_id, accept = pending
        item = next((r for r in self.model.reviews if r.review_id == review_id), None)
        if item is None:
            self.model.pending = None
            return
        what = (f"宛名番号 {item.person_id} の個人番号を {item.held_number_masked or '未登録'} から "
                f"{item.new_number_masked} に置き換えます。" if accept else
                f"届いた番号 {item.new_number_masked} を採用せず、登録済みの番号をそのまま使います。")
        summary = w.HTML(f"<div class='wb-review-confirm' style='border:2px solid #e65100;padding:8px 12px'>"
                         f"<b>{esc(review_id)} の確認 / check</b><br>{esc(what)}</div>")
        ok = ActionButton(description="決定する / Decide", button_style="warning" if accept else "", icon="check")
        cancel = ActionButton(description="取消 / Cancel", icon="times")
        ok.on_click(lambda _b: self.decide(review_id, accept=accept))
        cancel.on_click(lambda _b: setattr(self.model, "pending", None))
        self.review_confirm.children = [summary, w.HBox([ok, cancel])]

    # -- handlers ----------------------------------------------------------------------------
    def refresh(self) -> None:
        self.review_grid.refresh()

    def reveal(self) -> None:
        """Both numbers of the chosen review in full (audited with the reason chosen)."""
        r: ReviewItem | None = self.review_grid.selected_row
        self.review_result.clear()
        if r is None:
            return
        shown = self.call_beside(self.review_result, registration.reveal_review_numbers, r.review_id,
                                 reason=str(self.reveal_reason.value))
        if shown is None:
            return
        self.revealed_review = r.review_id
        why = labels.ja(shown.reason, "reveal_reason")
        self.review_numbers.value = (
            "<div class='wb-revealed' style='padding:4px 8px;border:2px solid #c62828'>"
            f"<b>{esc(r.review_id)}</b>　登録済みの番号 / held: <span class='wb-number'>{esc(shown.held_number or '未登録')}</span>"
            f"　届いた番号 / received: <span class='wb-number'>{esc(shown.received_number)}</span><br>"
            f"<small>表示の理由: {esc(why)}（この表示は記録されました / this reveal was recorded）。"
            "確認が済んだら「隠す」を押してください。</small></div>")
        self.hide_button.layout.display = "flex"

    def hide_numbers(self) -> None:
        self.revealed_review = None
        self.review_numbers.value = ""
        self.hide_button.layout.display = "none"

    def toggle_hold(self) -> None:
        """保留, or (a held review) back to 確認待ち; the row stays in the queue either way."""
        r: ReviewItem | None = self.review_grid.selected_row
        self.review_result.clear()
        if r is None:
            return
        hold = r.status != "held"
        done = self.call_beside(self.review_result, registration.hold_review, r.review_id, hold=hold)
        if done is None:
            return
        if hold:
            self.review_result.success(f"{r.review_id} を保留にしました。一覧に「保留」として残ります。",
                                       f"{r.review_id} is on hold; it stays in the list.")
        else:
            self.review_result.success(f"{r.review_id} の保留を解除しました（確認待ち）。", f"{r.review_id} is waiting again.")
        self.refresh()

    def ask(self, review_id: str, *, accept: bool) -> None:
        """First click: show what the decision will do; nothing is changed yet."""
        self.review_result.clear()
        self.model.pending = None
        self.model.pending = (review_id, accept)

    def decide(self, review_id: str, *, accept: bool) -> None:
        if self.model.pending != (review_id, accept):
            return
        self.model.pending = None
        result = self.call_beside(self.review_result, registration.resolve_review, review_id, accept=accept)
        if result is None:
            return
        self.model.decided = {**self.model.decided, review_id: result.status}
        if accept:
            self.review_result.success(f"{review_id} を採用しました。届いた番号に置き換えました。",
                                       f"Accepted {review_id}; the received number replaced the held one.")
        else:
            self.review_result.success(f"{review_id} を不採用にしました。登録済みの番号のままです。",
                                       f"Rejected {review_id}; the held number stays.")
        self.refresh()  # the decided row leaves the list; nothing else is chosen by itself

    # -- query-result discrepancies ------------------------------------------------------------
    def _fetch_discrepancies(self, request: PageRequest) -> Page[Discrepancy] | None:
        filters = {"kind": self.kind_filter.value, "status": self.status_filter.value}
        request = PageRequest(request.offset, request.limit, request.sort, request.descending, request.text,
                              {k: v for k, v in filters.items() if v})
        return self.call(discrepancies.discrepancy_page, request)

    def _show_discrepancies(self, _change: Any = None) -> None:
        page: Page[Discrepancy] | None = self.disc_grid.model.page
        total = page.total if page is not None else 0
        self.disc_count.value = f"<div style='padding:6px'>該当 / matching: <b>{num(total)}</b> 件</div>"
        by_kind = [(labels.ja(k, "discrepancy"), n) for k, n in (page.groups.get("kind", {}) if page else {}).items()]
        self.disc_chart.value = bar_chart_svg(by_kind, title="種類別の件数（該当するすべて） / by kind (all matching)",
                                              color="#ad1457") if by_kind else ""
        self.model.discrepancies = list(page.rows) if page is not None else []
        self._chosen(open_person=False)

    def _selected(self) -> Discrepancy | None:
        d: Discrepancy | None = self.disc_grid.selected_row
        return d

    def _chosen(self, *, open_person: bool = True) -> None:
        """The reviewer chose a row (or the chosen row left the list): it is the current item."""
        d = self._selected()
        self.place_changed("discrepancy", d.discrepancy_id if d is not None else "")
        if d is None:
            self.disc_current.value = ("<div class='wb-current'>一覧の行を選ぶと、その相違が対象になります。"
                                       " / Choose a row in the list.</div>")
            self.disc_person.children = []
        else:
            self.disc_current.value = (
                f"<div class='wb-current' style='padding:4px 8px;border-left:4px solid #ad1457'>対象 / current: "
                f"<b>{esc(d.discrepancy_id)}</b>　宛名番号 {esc(d.person_id)}　"
                f"{esc(labels.ja(d.kind, 'discrepancy'))}（{esc(labels.ja(d.status, 'discrepancy_status'))}）</div>")
            if open_person:
                self.open_person(d.person_id, area=self.disc_person)
        self._enable_actions()

    def _enable_actions(self) -> None:
        d = self._selected()
        self.notified_button.disabled = d is None or d.status != "open"
        self.resolved_button.disabled = d is None or d.status == "resolved"
        death = d is not None and d.kind == "deceased" and d.status != "resolved"
        if not death and self.deceased_confirm.value:
            self.deceased_confirm.value = False  # another row: the confirmation was for the one before
        self.deceased_confirm.disabled = not death
        self.deceased_button.disabled = not (death and self.deceased_confirm.value)

    def confirm_deceased(self) -> None:
        from workbench.lifecycle import deletion

        d = self._selected()
        if d is None or self.deceased_button.disabled or not self.deceased_confirm.value:
            return
        self.deceased_confirm.value = False
        done = self.call(deletion.confirm_deceased, d.discrepancy_id, note=self.disc_note.value.strip() or None)
        if done is not None:
            self.disc_note.value = ""
            self.banner.success(done["message_ja"], done["message_en"])
            self.refresh_discrepancies()

    def refresh_discrepancies(self) -> None:
        """The page again (after an action), the chosen row kept while it is listed."""
        self.disc_grid.refresh()

    def _filters_changed(self) -> None:
        """種類・状態 changed: the first page of the new selection."""
        self.disc_grid.model.offset = 0
        self.disc_grid.refresh()

    def resolve(self, *, action: str) -> None:
        d = self._selected()
        button = self.notified_button if action == "notified" else self.resolved_button
        if d is None or button.disabled:
            return
        self.disc_result.clear()
        note = self.disc_note.value.strip() or None
        done = self.call_beside(self.disc_result, discrepancies.resolve_discrepancy, d.discrepancy_id, action=action,
                                note=note)
        if done is None:
            return
        self.disc_note.value = ""
        self.refresh_discrepancies()
        self.disc_result.success(f"{done.discrepancy_id} を「{labels.ja(done.status, 'discrepancy_status')}」にしました。",
                                 f"{done.discrepancy_id} is now {labels.en(done.status, 'discrepancy_status')}.")

    def open_person(self, person_id: str, *, area: w.VBox | None = None) -> None:
        """The person's page below the queue (numbers masked; a reveal there is audited)."""
        if not self.session.can(Permission.PERSONS_VIEW):
            return
        from .person import PersonApp

        page = PersonApp(self.session, on_expired=self.on_expired)
        page.person_id.value = person_id
        page.lookup()
        (area or self.person_area).children = [page]
