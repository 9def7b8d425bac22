"""対象者取込・番号登録 — the registrar's screen (F0, F1).

Each step is upload → preview (counts only, nothing written) → confirm → summary
(counts and a bar chart).  Registration's rejected rows leave as a return list (差戻
リスト) package for the collection contractor, so its confirmation names the recipient
and the count, and the summary shows the package with its media-ledger entry.

The collection list (F0b) and the integrated-number request (F1b) are outgoing files:
each runs in the one screen component :class:`~widgets.outgoing.OutgoingFileFlow`.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w
import traitlets as t

from workbench.core import labels, places
from workbench.core.permissions import Permission
from workbench.intake import collection, integrated, registration, targets

from .common import ActionButton, App, ConfirmOutgoing, bar_chart_svg, esc, fmt_datetime, html_table, num, tr
from .incoming import MediumCopy, uploaded
from .outgoing import OutgoingFileFlow
from .packages import DeliverControl

__all__ = ["RegistrationApp", "RegistrationModel", "uploaded"]

STATUSES = [("すべて / all", ""), *[(labels.label(code, "person_status"), code) for code in labels.labels("person_status")]]

SOURCES = [(labels.label(code, "source"), code) for code in labels.labels("source")]

#: F1b answer import: count → words (IntegratedImportSummary.counts()).
INTEGRATED_COUNTS = [("stored", "取得（保存）"), ("not_found", "該当なし"), ("errors", "相手方エラー"),
                     ("unanswered", "未回答"), ("unknown", "依頼と一致しない回答"), ("duplicate", "重複した回答"),
                     ("stale", "回答済み・再依頼済みへの回答"), ("malformed", "形式の誤り"),
                     ("conflict", "別の人の番号と重複")]

TARGET_COUNTS = [("new", "新規"), ("changed", "変更"), ("relisted", "再掲載"), ("unchanged", "変更なし"),
                 ("unlisted", "対象外となった人")]


class RegistrationModel(t.HasTraits):
    target_preview = t.Any(None)
    target_result = t.Any(None)
    reg_preview = t.Any(None)
    reg_result = t.Any(None)
    integrated_import = t.Any(None)


class RegistrationApp(App):
    title_key = "app_registration"

    def build(self) -> list[w.Widget]:
        self.model = RegistrationModel()

        # -- F0 target list
        self.target_upload = w.FileUpload(accept=".csv,.txt,.wbpkg", multiple=False,
                                          description="対象者リストを選択 / Target list")
        self.target_preview_button = ActionButton(description="内容を確認 / Preview", icon="eye")
        self.target_preview_button.on_click(lambda _b: self.preview_targets())
        self.target_confirm = ActionButton(description="取り込む / Import", button_style="warning", icon="upload",
                                       disabled=True)
        self.target_confirm.on_click(lambda _b: self.import_targets())
        # An older list than the current one is only applied again on purpose (再反映).
        self.target_reapply = w.Checkbox(value=False, indent=False,
                                         description="古いリストを再反映する / re-apply an older list on purpose")
        self.target_reapply.observe(lambda _c: self._reset_target_preview(), names="value")
        self.target_view = w.HTML()
        #: A list that takes many people off: the clerk ticks the number before the import runs.
        self.target_large = w.Checkbox(value=False, indent=False, layout=w.Layout(display="none", width="auto"))
        self.target_large.observe(lambda _c: self._show_targets(), names="value")
        #: After an import: the copy on the medium is to be deleted, and its deletion recorded (C9).
        self.target_medium = w.VBox([])
        self.reg_medium = w.VBox([])
        targets_box = w.VBox([
            w.HTML("<h4>対象者リストの取込 / Target list (F0)</h4>"),
            w.HBox([self.target_upload, self.target_preview_button, self.target_confirm]), self.target_reapply,
            self.target_view, self.target_large, self.target_medium,
        ])

        # -- F1 registration
        self.source = w.Dropdown(description="取込元 / Source", options=SOURCES, value="contractor",
                                 style={"description_width": "120px"}, layout=w.Layout(width="480px"))
        self.reg_upload = w.FileUpload(accept=".csv,.txt,.wbpkg", multiple=False, description="登録ファイルを選択 / File")
        self.reg_preview_button = ActionButton(description="内容を確認 / Preview", icon="eye")
        self.reg_preview_button.on_click(lambda _b: self.preview_registration())
        self.reg_confirm_area = w.VBox([])
        self.reg_view = w.HTML()
        self.chart = w.HTML()
        self.return_view = w.HTML()
        self.return_deliver = w.VBox([])
        reg_box = w.VBox([
            w.HTML("<h4>個人番号の一括登録 / Bulk registration (F1)</h4>"), self.source,
            w.HBox([self.reg_upload, self.reg_preview_button]), self.reg_view, self.reg_confirm_area,
            self.chart, self.return_view, self.return_deliver, self.reg_medium,
        ])

        # -- F0b collection list for the contractor (an outgoing file)
        style = {"description_width": "120px"}
        #: Wards and cities chosen by name (issue 20 item 5: no codes to type); none chosen means all.
        self.wards = w.SelectMultiple(description="区市町村 / Wards（選ばなければすべて）",
                                      options=[(p.name, p.code) for p in places.PLACES], value=(), rows=6,
                                      style=style, layout=w.Layout(width="auto"))
        self.status = w.Dropdown(description="区分 / Status", options=STATUSES, value="", style=style)
        self.collection_chart = w.HTML()
        self.collection = OutgoingFileFlow(
            collection.SPEC, session=self.session, call=self.call, banner=self.banner, params=self._selection,
            detail=[self.collection_chart], on_preview=self._show_collection)
        collection_box = w.VBox([
            w.HTML("<h4>番号収集リストの作成 / Collection list for the contractor (F0b)</h4>"),
            w.HBox([self.wards, self.status]), self.collection,
        ])
        self.wards.observe(lambda _c: self.collection.reset(), "value")
        self.status.observe(lambda _c: self.collection.reset(), "value")

        for trait, view in (("target_preview", self._show_targets), ("target_result", self._show_targets),
                            ("reg_preview", self._show_registration), ("reg_result", self._show_registration)):
            self.model.observe(view, trait)
        # a new file cancels what was previewed
        self.target_upload.observe(lambda _c: self._reset_targets(), "value")
        self.reg_upload.observe(lambda _c: self._reset_registration(), "value")
        self.source.observe(lambda _c: self._reset_registration(), "value")
        boxes: list[w.Widget] = [targets_box, reg_box, collection_box]
        if self.session.can(Permission.INTEGRATED_MANAGE):
            boxes.append(self._build_integrated())
        return boxes

    def _build_integrated(self) -> w.Widget:
        """F1b: request integrated numbers (an outgoing file), import the answers."""
        self.integrated = OutgoingFileFlow(integrated.SPEC, session=self.session, call=self.call, banner=self.banner,
                                           extra=lambda r: [("バッチ番号", r.extra.get("batch_id", "-"))])
        self.answer_upload = w.FileUpload(accept=".wbpkg", multiple=False, description="回答パッケージを選択 / Answers",
                                          layout=w.Layout(width="auto"))
        self.answer_import_button = ActionButton(description="回答を取り込む / Import answers", button_style="warning",
                                             icon="upload", disabled=True, layout=w.Layout(width="auto"))
        self.answer_import_button.on_click(lambda _b: self.import_integrated_answers())
        self.answer_upload.observe(lambda _c: self._answer_chosen(), "value")
        self.answer_view = w.HTML()
        self.model.observe(self._show_answers, "integrated_import")
        return w.VBox([
            w.HTML("<h4>団体内統合利用番号の取得 / Integrated numbers (F1b)</h4>"
                   "<small>個人番号を登録済みで統合利用番号がまだない人の取得依頼ファイルを作成します（個人番号を含みます）。"
                   " / A request file, holding Individual Numbers, for registered people without an integrated number.</small>"),
            self.integrated,
            w.HTML("<b>回答の取込 / answers</b>"), w.HBox([self.answer_upload, self.answer_import_button]),
            self.answer_view,
        ])

    # -- helpers ---------------------------------------------------------------------------
    def _file(self, upload: w.FileUpload) -> tuple[str, bytes] | None:
        got = uploaded(upload)
        if got is None:
            self.banner.info("ファイルを選択してください。", "Choose a file first.")
        return got

    def _reset_targets(self) -> None:
        self.model.target_preview = None
        self.model.target_result = None
        self.target_medium.children = []

    def _reset_registration(self) -> None:
        self.model.reg_preview = None
        self.model.reg_result = None
        self.reg_medium.children = []

    # -- views -------------------------------------------------------------------------------
    def _show_targets(self, _change: Any = None) -> None:
        seen = self.model.target_preview.detail if self.model.target_preview is not None else None
        s = self.model.target_result or seen
        large = getattr(seen, "needs_confirmation", None) if self.model.target_result is None else None
        self.target_large.layout.display = "" if large else "none"
        if large:
            self.target_large.description = (f"{num(large)} 人を対象外にすることを確認しました"
                                             f" / I confirm {num(large)} people leave the list")
        self.target_confirm.disabled = not (self.model.target_preview is not None and self.model.target_result is None
                                            and not getattr(s, "already_imported", False)
                                            and (not large or self.target_large.value))
        if s is None:
            self.target_view.value = ""
            return
        state = "取込結果 / imported" if self.model.target_result is not None else "確認（未反映）/ preview, nothing applied"
        rows = [(ja, int(getattr(s, key, 0))) for key, ja in TARGET_COUNTS]
        warning = ""
        if large:
            warning = (f"<div class='wb-large-change' role='alert' style='background:#fff4e5;border-left:4px solid #e65100;"
                       f"padding:6px 10px'><b>注意: {num(large)} 人が対象外になります</b>（現在の対象者から外れます）。"
                       "ファイルが正しいか確認し、人数を確認のうえで取り込んでください。"
                       f"<br><small>{num(large)} people would leave the target list; confirm the number to go ahead.</small></div>")
        self.target_view.value = warning + (
            f"<div class='wb-target-summary'><b>{esc(state)}</b>: {num(s.rows)} 行、世帯 {num(s.households)}"
            f"<br>{esc(s.message_ja)}<br><small>{esc(s.message_en)}</small></div>"
            + bar_chart_svg(rows, title="対象者リストの変化 / changes", color="#6a1b9a")
        )

    def _show_registration(self, _change: Any = None) -> None:
        result = self.model.reg_result
        preview = self.model.reg_preview.detail if self.model.reg_preview is not None else None
        s = result or preview
        if s is None:
            self.reg_view.value = self.chart.value = self.return_view.value = ""
            self.reg_confirm_area.children = []
            return
        state = "登録結果 / registered" if result is not None else "確認（未登録）/ preview, nothing written"
        lines = [f"<b>{esc(state)}</b>: {esc(s.file_name)} — {num(s.rows)} 行 / rows"]
        if s.already_imported:
            lines.append(f"このファイルは {esc(fmt_datetime(s.imported_at))} に {esc(s.imported_by)} が取込済みです。"
                         "変更はありません。 / Already imported; nothing changed.")
        self.reg_view.value = "<div class='wb-reg-summary'>" + "<br>".join(lines) + html_table(
            ["結果", "件数"], [(labels.ja(k, "registration_outcome"), v) for k, v in s.outcomes.items()], numeric=[1]) + "</div>"
        chart = [(labels.ja(k, "registration_outcome"), v) for k, v in s.outcomes.items()]
        reasons = [(labels.ja(k, "return_reason"), v) for k, v in s.reasons.items()]
        self.chart.value = bar_chart_svg(chart, title="登録結果の内訳 / outcomes") + (
            bar_chart_svg(reasons, title="差戻し理由 / reasons for return", color="#c62828") if reasons else "")
        if result is None and not s.already_imported:
            returned = int(s.outcomes.get("returned", 0))
            if returned:
                self.reg_confirm_area.children = [ConfirmOutgoing(
                    "collection_contractor", returned, on_confirm=self.register, on_cancel=self._cancel,
                    detail=f"個人番号 {num(s.registered)} 件を登録し、"
                           f"登録できない {num(returned)} 件は差戻リストとして送付用パッケージになります。",
                )]
            else:
                ok = ActionButton(description="登録する / Register", button_style="warning", icon="check")
                ok.on_click(lambda _b: self.register())
                self.reg_confirm_area.children = [ok]
        else:
            self.reg_confirm_area.children = []
        entry = s.return_list
        if result is not None and entry:
            self.return_view.value = (
                "<div class='wb-return-list' style='border:1px solid #999;padding:6px 10px'>"
                "<b>差戻リスト（送付用パッケージ）/ return list package</b><br>"
                + html_table(["媒体管理簿番号", "送付先", "件数", "ファイル", "作成日時"], [(
                    entry.get("entry_id", "-"), "番号収集委託事業者", entry.get("record_count", 0),
                    entry.get("file_name", "-"), fmt_datetime(entry.get("recorded_at")),
                )], numeric=[2])
                + "<b>差し戻す行 / rows returned</b>（個人番号は表示しません / no numbers shown）"
                + html_table(["行", "理由"], [(r.get("line"), labels.ja(r.get("reason"), "return_reason"))
                                            for r in s.returns[:200]], numeric=[0])
                + (f"<small>先頭 200 行を表示（全 {num(len(s.returns))} 行）</small>" if len(s.returns) > 200 else "")
                + "<p><small>受け渡し: 「媒体に保存するファイルを用意」で暗号化済みパッケージを保存し、媒体管理簿の番号とともに"
                  "番号収集委託事業者へ渡してください。渡したら「受け渡し済み」を記録します（コピーは削除されます）。"
                  " / Hand-over: save the encrypted package onto the medium, give it to the contractor with its"
                  " ledger number, then mark it delivered.</small></p></div>"
            )
            if self.session.can(Permission.MEDIA_MANAGE) and entry.get("entry_id"):
                self.return_deliver.children = [DeliverControl(str(entry["entry_id"]), call=self.call)]
        else:
            self.return_view.value = ""
            self.return_deliver.children = []

    # -- handlers ------------------------------------------------------------------------------
    def _reset_target_preview(self) -> None:
        """A changed choice needs a new preview before anything is applied."""
        self.model.target_preview = None
        self.model.target_result = None
        self.target_large.value = False

    def preview_targets(self) -> None:
        got = self._file(self.target_upload)
        if got is None:
            return
        name, data = got
        self.model.target_result = None
        self.model.target_preview = self.call(targets.preview_targets, data, file_name=name, reapply=self.target_reapply.value)

    def import_targets(self) -> None:
        got = self._file(self.target_upload)
        if got is None or self.model.target_preview is None:
            return
        name, data = got
        seen = self.model.target_preview
        large = seen.detail.needs_confirmation
        # the previewed file's digest goes with it: another file under the same name is refused
        result = self.call(targets.import_targets, data, file_name=name, reapply=self.target_reapply.value,
                           confirm_unlisted=large if large and self.target_large.value else None,
                           expected_digest=seen.file_digest)
        if result is not None:
            self.model.target_result = result
            self.banner.success(result.message_ja, result.message_en)
            if result.applied:
                self.target_medium.children = [MediumCopy(targets.SPEC.kind, seen.reference, call=self.call,
                                                          file_ja=targets.SPEC.file_ja)]

    def preview_registration(self) -> None:
        got = self._file(self.reg_upload)
        if got is None:
            return
        name, data = got
        self.model.reg_result = None
        self.model.reg_preview = self.call(registration.preview_registration, data, source=self.source.value,
                                           file_name=name)

    def register(self) -> None:
        got = self._file(self.reg_upload)
        if got is None or self.model.reg_preview is None:
            return
        name, data = got
        seen = self.model.reg_preview
        # what the person confirmed goes with the request: the service refuses if the file would now do otherwise
        result = self.call(registration.register, data, source=self.source.value, file_name=name,
                           expected_outcomes=dict(seen.detail.outcomes), expected_digest=seen.file_digest)
        if result is not None:
            self.model.reg_result = result
            if not result.already_imported:
                self.reg_medium.children = [MediumCopy(seen.kind, seen.reference, call=self.call,
                                                       file_ja=registration.CONTRACTOR_SPEC.file_ja
                                                       if seen.kind == registration.CONTRACTOR_SPEC.kind
                                                       else registration.PORTAL_SPEC.file_ja)]
            self.banner.success(
                f"登録しました: 登録 {num(result.outcomes.get('registered', 0))} 件、差戻し {num(result.outcomes.get('returned', 0))} 件。",
                f"Registered {num(result.outcomes.get('registered', 0))}; returned {num(result.outcomes.get('returned', 0))}.",
            )

    # -- F0b ---------------------------------------------------------------------------------
    def open_at(self, opened: Any) -> bool:
        """Opened from the inbox (or a reload) on one of this person's requests: the collection list's
        selection set again and the approval number entered; or the integrated-number request's."""
        approval = opened.approval
        if opened.place.kind != "approval" or approval is None:
            return False
        if approval.kind == self.collection.spec.kind:
            params = approval.summary.get("parameters") or {}
            known = {code for _name, code in self.wards.options}
            self.wards.value = tuple(str(c) for c in params.get("wards") or [] if str(c) in known)
            statuses = params.get("status") or []
            if len(statuses) == 1 and statuses[0] in [o[1] for o in STATUSES]:
                self.status.value = statuses[0]
            self.collection.open_approval(approval)
            return True
        integrated_flow = getattr(self, "integrated", None)
        if integrated_flow is not None and approval.kind == integrated_flow.spec.kind:
            integrated_flow.open_approval(approval)
            return True
        return False

    def _selection(self) -> dict[str, Any]:
        wards = [str(x) for x in self.wards.value]
        return {"wards": wards or None, "status": self.status.value or None}

    def _show_collection(self, p: collection.CollectionPreview | None) -> None:
        if p is None:
            self.collection_chart.value = ""
            return
        by_status = "、".join(f"{labels.ja(k, 'person_status')} {num(v)} 人" for k, v in p.by_status.items())
        self.collection_chart.value = (
            f"<div class='wb-collection-summary'>番号未収集の対象者 / people still owing a number: "
            f"<b>{num(p.total)}</b> 人（{esc(by_status)}）</div>"
            + bar_chart_svg([(labels.ward_name(code), n) for code, n in sorted(p.by_ward.items())],
                            title="区市町村別 / by ward", color="#00695c")
        )

    def _cancel(self) -> None:
        self.model.reg_preview = None
        self.banner.info(*(tr("cancelled", lang) for lang in ("ja", "en")))

    # -- F1b answers --------------------------------------------------------------------------
    def _answer_chosen(self) -> None:
        self.answer_import_button.disabled = uploaded(self.answer_upload) is None
        self.model.integrated_import = None

    def import_integrated_answers(self) -> None:
        """The answer package is opened with the linkage server's key (and recorded in the ledger)."""
        got = self._file(self.answer_upload)
        if got is None:
            return
        name, data = got
        if not data.startswith(b"WBPKG"):
            self.banner.info("中間サーバーからの回答パッケージ（.wbpkg）を選択してください。",
                             "Choose the answer package (.wbpkg) from the linkage server.")
            return
        self.answer_import_button.disabled = True
        result = self.call(integrated.import_integrated_answers, data, file_name=name)
        self.model.integrated_import = result
        self.answer_import_button.disabled = result is not None
        if result is not None:
            if result.already_imported:
                self.banner.info("この回答は取込済みです。変更はありません。", "Already imported; nothing changed.")
            else:
                self.banner.success(f"回答を取り込みました: 取得 {num(result.stored)} 件。",
                                    f"Imported the answers: {num(result.stored)} stored.")

    def _show_answers(self, _change: Any = None) -> None:
        s = self.model.integrated_import
        if s is None:
            self.answer_view.value = ""
            return
        counts = s.counts()
        rows = [(ja, counts[key]) for key, ja in INTEGRATED_COUNTS if counts.get(key)]
        problems = html_table(["行", "理由"], [(p["line"], p["message_ja"]) for p in s.problems], numeric=[0]) \
            if s.problems else ""
        self.answer_view.value = (
            f"<div class='wb-answer-summary'>回答 {num(s.rows)} 行"
            + (f"（{esc(fmt_datetime(s.already_imported_at))} に取込済み）" if s.already_imported else "")
            + html_table(["結果", "件数"], rows, numeric=[1]) + "</div>"
            + bar_chart_svg(rows, title="回答の内訳 / answers", color="#00695c")
            + (f"<div class='wb-answer-problems'><b>確認が必要な行 / lines to check</b>{problems}</div>" if problems else "")
        )

    def _cancel_area(self, area: w.VBox) -> None:
        area.children = []
        self.banner.info(*(tr("cancelled", lang) for lang in ("ja", "en")))
