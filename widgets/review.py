"""番号相違の確認 — the registrar's and reviewer's queues (C7).

* **登録時の番号相違** (registrar, ``numbers.register``): a file brought a *different*
  Individual Number for a person who already has one.  Nothing was changed; the
  registrar compares the two (both masked), opens the person's page if needed, and
  accepts (the received number replaces the held one) or rejects
  (:func:`workbench.registration.review_queue`, :func:`~workbench.registration.resolve_review`).
  Each decision is confirmed once more and recorded with who and when.
* **照会結果の相違** (reviewer, ``discrepancies.review``): the discrepancy queue of
  query results (:mod:`workbench.discrepancies`): not built yet; the section says so.

Numbers are masked here; showing one in full is the person page's audited reveal.
"""

from __future__ import annotations

import importlib
from typing import Any

import ipywidgets as w
import traitlets as t

from workbench import registration
from workbench.permissions import Permission
from workbench.registration import ReviewItem

from .common import App, esc, fmt_datetime, num

__all__ = ["SOURCE_LABELS", "ReviewApp", "ReviewModel"]

SOURCE_LABELS: dict[str, str] = {"contractor": "収集委託事業者の返送分", "portal": "マイナポータル"}


def _module(name: str) -> Any | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


class ReviewModel(t.HasTraits):
    reviews: t.List[Any] = t.List()
    #: (review_id, accept) waiting for its confirmation, or None.
    pending = t.Any(None)
    decided = t.Dict()  # review_id → "accepted" / "rejected"


class ReviewApp(App):
    title_key = "app_review"

    def build(self) -> list[w.Widget]:
        self.model = ReviewModel()
        self.row_buttons: dict[str, tuple[w.Button, w.Button, w.Button]] = {}
        self.person_area = w.VBox([])
        sections: list[w.Widget] = []

        # -- registration reviews (numbers.register)
        self.can_register = self.session.can(Permission.NUMBERS_REGISTER)
        self.review_count = w.HTML()
        self.review_rows = w.VBox([])
        self.review_confirm = w.VBox([])
        self.refresh_button = w.Button(description="更新 / Refresh", icon="refresh")
        self.refresh_button.on_click(lambda _b: self.refresh())
        if self.can_register:
            sections.append(w.VBox([
                w.HTML("<h4>登録時の番号相違 / different number received at registration (C7)</h4>"
                       "<small>既に個人番号がある人について、異なる番号が届きました。登録内容は変更していません。"
                       "本人確認書類などで確かめてから、採用（置き換え）か不採用を選んでください。"
                       " / A different number arrived for someone who has one; nothing was changed.</small>"),
                w.HBox([self.refresh_button, self.review_count]), self.review_rows, self.review_confirm,
            ]))
            self.model.observe(self._show_reviews, "reviews")
            self.model.observe(self._show_pending, "pending")

        # -- query-result discrepancies (discrepancies.review)
        self.discrepancy_view = w.HTML()
        if self.session.can(Permission.DISCREPANCIES_REVIEW):
            missing = "workbench.discrepancies" if _module("workbench.discrepancies") is None else "この画面"
            self.discrepancy_view.value = (
                "<h4>照会結果の相違 / query-result discrepancies (C7)</h4>"
                f"<div class='wb-empty'>この機能はまだ利用できません（{esc(missing)} が未実装です）。"
                " / Not yet available on this screen (the discrepancy queue view is not built yet).</div>")
            sections.append(self.discrepancy_view)

        sections.append(self.person_area)
        if self.can_register:
            self.refresh()
        return sections

    # -- views -------------------------------------------------------------------------------
    def _show_reviews(self, _change: Any = None) -> None:
        items: list[ReviewItem] = self.model.reviews
        self.review_count.value = f"<div style='padding:6px'>確認待ち / pending: <b>{num(len(items))}</b> 件</div>"
        self.row_buttons = {}
        rows: list[w.Widget] = []
        if not items:
            rows.append(w.HTML("<div class='wb-empty'>確認待ちはありません / none pending</div>"))
        can_view = self.session.can(Permission.PERSONS_VIEW)
        for r in items:
            text = w.HTML(
                f"<div class='wb-review' style='border:1px solid #ccc;padding:6px 10px;margin:2px 0'>"
                f"<b>{esc(r.review_id)}</b>　宛名番号 / person: <b>{esc(r.person_id)}</b><br>"
                f"登録済みの番号 / held: <span class='wb-number'>{esc(r.held_number_masked or '未登録')}</span>"
                f"　→　届いた番号 / received: <span class='wb-number'>{esc(r.new_number_masked)}</span><br>"
                f"<small>取込元: {esc(SOURCE_LABELS.get(r.source, r.source))}　取込番号 {esc(r.import_id)} の "
                f"{num(r.line)} 行目　受付: {esc(fmt_datetime(r.created_at))}（{esc(r.created_by)}）</small></div>",
                layout=w.Layout(width="70%"),
            )
            accept = w.Button(description="採用（置き換え）/ Accept", button_style="warning", icon="check")
            reject = w.Button(description="不採用 / Reject", icon="times")
            person = w.Button(description="個人の照会 / Person", icon="user", disabled=not can_view)
            accept.on_click(lambda _b, i=r.review_id: self.ask(i, accept=True))
            reject.on_click(lambda _b, i=r.review_id: self.ask(i, accept=False))
            person.on_click(lambda _b, p=r.person_id: self.open_person(p))
            self.row_buttons[r.review_id] = (accept, reject, person)
            rows.append(w.HBox([text, w.VBox([accept, reject, person])]))
        self.review_rows.children = rows
        self.model.pending = None

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
        ok = w.Button(description="決定する / Decide", button_style="warning" if accept else "", icon="check")
        cancel = w.Button(description="取消 / Cancel", icon="times")
        ok.on_click(lambda _b: self.decide(review_id, accept=accept))
        cancel.on_click(lambda _b: setattr(self.model, "pending", None))
        self.review_confirm.children = [summary, w.HBox([ok, cancel])]

    # -- handlers ----------------------------------------------------------------------------
    def refresh(self) -> None:
        items = self.call(registration.review_queue)
        if items is not None:
            self.model.reviews = list(items)

    def ask(self, review_id: str, *, accept: bool) -> None:
        """First click: show what the decision will do; nothing is changed yet."""
        self.model.pending = None
        self.model.pending = (review_id, accept)

    def decide(self, review_id: str, *, accept: bool) -> None:
        if self.model.pending != (review_id, accept):
            return
        self.model.pending = None
        result = self.call(registration.resolve_review, review_id, accept=accept)
        if result is None:
            return
        self.model.decided = {**self.model.decided, review_id: result.status}
        if accept:
            self.banner.success(f"{review_id} を採用しました。届いた番号に置き換えました。",
                                f"Accepted {review_id}; the received number replaced the held one.")
        else:
            self.banner.success(f"{review_id} を不採用にしました。登録済みの番号のままです。",
                                f"Rejected {review_id}; the held number stays.")
        self.refresh()

    def open_person(self, person_id: str) -> None:
        """The person's page below the queue (numbers masked; a reveal there is audited)."""
        if not self.session.can(Permission.PERSONS_VIEW):
            return
        from .person import PersonApp

        page = PersonApp(self.session, on_expired=self.on_expired)
        page.person_id.value = person_id
        page.lookup()
        self.person_area.children = [page]
