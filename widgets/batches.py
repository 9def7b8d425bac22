"""照会ファイルの作成 — the query operator's screen (⑧⑨ procedures, F2 information queries, F3 Juki-net).

1. **手続ファイルの取込** (⑧⑨): the procedures filed in the housing system, uploaded and
   checked whole (:func:`workbench.queries.procedures.import_procedures`); a refused file lists
   its first wrong lines with the reason in plain words.
2. **照会結果の取込** (F4/F5): an answer package uploaded, previewed (what it would change, in
   counts) and imported through the one incoming-file component (``widgets.incoming``).
3. **照会ファイルの作成** (F2/F3): choose the procedure (P1–P6), the fiscal year (shown
   with 和暦) and, for F2, the information kinds the procedure may ask (U3).  *Preview*
   counts who would be asked, by procedure × information × reason left out, as a table
   and a bar chart with each reason in plain Japanese (U1–U3); nothing is written.
   *Request approval* asks a second person (the approver uses 承認待ち一覧).  With the
   approval number, *make the file* previews again, then the check before sending
   names the recipient and the record count (REQUIREMENTS §6); only then is the
   package written, and it is shown with its media-ledger entry and 「受け渡し済み」 (C9).

Every parameter change throws the preview away, so a count on screen is always the
count of what the buttons would do.  The screen shows counts only, never a person.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ipywidgets as w
import traitlets as t

from workbench.core.errors import InvalidInput
from workbench.core.labels import ja as code_ja
from workbench.core.labels import short as code_short
from workbench.core.permissions import Permission
from workbench.files.media import RECIPIENTS
from workbench.files.query_files import ANSWER_STATUS
from workbench.queries import batches, linkage_file, procedures, results
from workbench.queries.query_rules import current_fiscal_year, load_rules

from .common import ActionButton, App, bar_chart_svg, esc, fmt_datetime, html_table, num, wareki
from .grid import GridColumn, RecordGrid
from .incoming import IncomingFileFlow
from .outgoing import OutgoingFileFlow
from .registration import uploaded

__all__ = ["KINDS", "BatchesApp", "BatchesModel", "fiscal_year_label"]

#: F2 / F3: the label of the choice (the rest is the outgoing-file spec, batches.SPECS).
KINDS: dict[str, dict[str, Any]] = {
    "info": {"label": "情報照会（中間サーバー経由）/ information query (F2)", "recipient": batches.RECIPIENTS["info"]},
    "juki": {"label": "住基ネット照会（本人確認情報）/ Juki-net (F3)", "recipient": batches.RECIPIENTS["juki"]},
}

JUKI_LABEL = code_ja("juki", "information")


def _set(control: Any, value: Any) -> None:
    """Set a choice to ``value`` if it is one of its options (a request's parameters put back)."""
    values = [o[1] if isinstance(o, tuple) else o for o in control.options]
    if value in values and control.value != value:
        control.value = value


def fiscal_year_label(year: int) -> str:
    """``2026`` → ``2026年度（令和8年度）``; 2019 is 令和元年度."""
    era = wareki(dt.date(year, 5, 1), gregorian=False)  # the era that names the fiscal year
    return f"{year}年度（{era.split('年')[0]}年度）"


def _result_words(code: object) -> str:
    """A result code as a clerk reads it: 「00 正常（情報あり）」 (issue 20 item 5)."""
    words = ANSWER_STATUS.get(str(code))
    return f"{code} {words[0]}" if words else str(code)


class BatchesModel(t.HasTraits):
    procedure_import = t.Any(None)
    import_errors: t.List[Any] = t.List()


class BatchesApp(App):
    title_key = "app_batches"

    def build(self) -> list[w.Widget]:
        self.model = BatchesModel()
        self.rules = load_rules()
        style = {"description_width": "150px"}

        # -- ⑧⑨ procedures filed
        self.proc_upload = w.FileUpload(accept=".csv,.txt", multiple=False, description="手続ファイルを選択 / File",
                                       layout=w.Layout(width="auto"))
        self.proc_import_button = ActionButton(description="手続を取り込む / Import procedures", button_style="warning", icon="upload",
                                           disabled=True)
        self.proc_import_button.on_click(lambda _b: self.import_procedures())
        self.proc_upload.observe(lambda _c: self._file_chosen(), "value")
        self.proc_view = w.HTML()
        procedures_box = w.VBox([
            w.HTML("<h4>届出・申請された手続の取込 / Procedures filed (⑧⑨)</h4>"
                   "<small>ファイル全体を検査し、誤りが 1 行でもあれば何も取り込みません。"
                   " / The whole file is checked; one wrong line and nothing is imported.</small>"),
            w.HBox([self.proc_upload, self.proc_import_button]), self.proc_view,
        ])

        # -- F2 / F3 parameters
        self.kind = w.ToggleButtons(options=[(v["label"], k) for k, v in KINDS.items()], value="info",
                                    style={"button_width": "360px"})
        self.procedure = w.Dropdown(
            description="手続 / Procedure", style=style, layout=w.Layout(width="520px"),
            options=[(f"{p.code} {p.label_ja} / {p.label_en}", p.code) for p in self.rules.procedures.values()],
            value=next(iter(self.rules.procedures)))
        current = current_fiscal_year(self.session.workspace.clock.now())
        self.fiscal_year = w.Dropdown(description="年度 / Fiscal year", style=style, layout=w.Layout(width="520px"),
                                      options=[(fiscal_year_label(y), y) for y in range(current + 1, current - 4, -1)],
                                      value=current)
        self.info_checks: dict[str, w.Checkbox] = {}
        self.info_box = w.VBox([])
        self.info_area = w.VBox([w.HTML("<b>照会する情報 / information</b> "
                                        "<small>（この手続で照会が認められている情報のみ / only what the procedure may ask, U3）</small>"),
                                 self.info_box])
        self.summary = w.HTML()
        self.table = w.HTML()
        self.chart = w.HTML()
        self.result_box = w.VBox([self.summary, self.chart, self.table])
        self.result_box.add_class("wb-batch-result")
        self.batch = OutgoingFileFlow(
            batches.SPECS["info"], session=self.session, call=self.call, banner=self.banner, params=self.params,
            detail=[self.result_box], on_preview=self._show_preview, ready=self._ready,
            request_label="作成の承認を依頼 / Request approval",
            extra=lambda r: [("バッチ番号", r.extra.get("batch_id", "-")), ("ファイル数", num(r.extra.get("files")))],
            on_created=lambda _r: self._show_status())
        self.status_view = w.HTML()
        batch_box = w.VBox([
            w.HTML("<h4>照会ファイルの作成 / Query batch (F2, F3)</h4>"),
            self.kind, self.procedure, self.fiscal_year, self.info_area, self.batch,
        ])

        self._fill_information()
        self.procedure.observe(lambda _c: self._fill_information(), "value")
        for widget in (self.kind, self.procedure, self.fiscal_year):
            widget.observe(lambda _c: self._reset(), "value")
        self.kind.observe(lambda _c: self._show_kind(), "value")
        self.model.observe(self._show_import, ["procedure_import", "import_errors"])
        self._show_kind()
        self._show_status()
        shown: list[w.Widget] = []
        if self.session.can(Permission.PROCEDURES_IMPORT):
            shown.append(procedures_box)
        #: The batches made, a page at a time from the database: who made each, when, under which approval.
        self.batch_list = RecordGrid(
            fetch=lambda r: self.call(batches.batch_page, r), key=lambda b: b.batch_id,
            columns=[GridColumn("照会番号", lambda b: b.batch_id),
                     GridColumn("種類", lambda b: "住基ネット照会" if b.kind == "juki" else "情報照会"),
                     GridColumn("手続", lambda b: self._procedure_label(b.procedure)),
                     GridColumn("年度", lambda b: fiscal_year_label(b.fiscal_year)),
                     GridColumn("件数", lambda b: b.request_count, numeric=True),
                     GridColumn("ファイル数", lambda b: b.file_count, numeric=True, minor=True),
                     GridColumn("状態", lambda b: code_ja(b.status, "query_status")),
                     GridColumn("作成者", lambda b: b.created_by, minor=True),
                     GridColumn("作成日時", lambda b: fmt_datetime(b.created_at), minor=True),
                     GridColumn("承認番号", lambda b: b.approval_id, minor=True),
                     GridColumn("完了日時", lambda b: fmt_datetime(b.closed_at) if b.closed_at else "-", minor=True)],
            sorts=batches.BATCH_LIST.sort_options(), descending=True, placeholder="照会番号・手続・作成者・承認番号",
            autoload=False, empty="作成済みの照会ファイルはありません / no batches yet", css_class="wb-batch-list")
        if self.session.can(Permission.BATCHES_CREATE):
            shown += [batch_box, self.status_view,
                      w.HTML("<h4>作成済みの照会ファイル / batches made</h4>"), self.batch_list]
            self.batch_list.refresh()
        # -- F4 / F5 answers: one box for both, the file's kind chooses (issue 20 item 2)
        self.answers_note = w.HTML()
        self.answers = IncomingFileFlow([results.INFO_SPEC, results.JUKI_SPEC], session=self.session, call=self.call,
                                        banner=self.banner, on_imported=self._answers_imported,
                                        choose_label="回答パッケージを選択 / Answer package")
        self.answers_box = w.VBox([
            w.HTML("<h4>照会結果の取込 / Answers (F4, F5)</h4>"
                   "<small>中間サーバー（情報照会）または住基ネットからの回答パッケージを取り込みます。内容を確認してから"
                   "取り込みます。 / An answer package from the linkage server or Juki-net: preview, then import.</small>"),
            self.answers_note, self.answers,
        ])
        if self.session.can(Permission.RESULTS_IMPORT):
            shown.append(self.answers_box)
        self.linkage_box = self._build_linkage(style)
        if self.session.can(Permission.LINKAGE_EXPORT):
            shown.append(self.linkage_box)
        return shown

    def open_at(self, opened: Any) -> bool:
        """Opened from the inbox (or a reload): an approved or rejected request of this person with its
        parameters set again, or a batch whose answers are awaited, named above the answers' import."""
        place, approval = opened.place, opened.approval
        if place.kind == "batch":
            self.answers_note.value = (
                f"<div class='wb-answers-for' style='padding:4px 8px;border-left:4px solid #00695c'>照会番号 "
                f"<b>{esc(place.ref)}</b> の回答待ち: {num(opened.waiting)} 件。回答パッケージを選んで取り込んでください。"
                f"<br><small>Batch {esc(place.ref)}: {num(opened.waiting)} answers waiting; choose the answer package."
                "</small></div>")
            if self.session.can(Permission.BATCHES_CREATE):
                self.batch_list.open_at(place.ref)
            return True
        if place.kind != "approval" or approval is None:
            return False
        params = approval.summary.get("parameters") or {}
        kind = next((k for k, spec in batches.SPECS.items() if spec.kind == approval.kind), None)
        if kind is not None:
            _set(self.kind, kind)
            _set(self.procedure, params.get("procedure"))
            _set(self.fiscal_year, params.get("fiscal_year"))
            wanted = set(params.get("information") or [])
            for key, box in self.info_checks.items():
                box.value = key in wanted
            self.batch.open_approval(approval)
            return True
        if approval.kind == self.linkage.spec.kind:
            _set(self.lk_procedure, params.get("procedure"))
            _set(self.lk_year, params.get("fiscal_year"))
            self.linkage.open_approval(approval)
            return True
        return False

    def _answers_imported(self, result: Any = None) -> None:
        """Answers imported: the waiting counts and the batch list change, and the note above the upload says
        what became of the batch — answered in full or still waiting — and what it handed on to the reviewer
        (the discrepancies found go to 番号相違の確認, in the reviewer's inbox)."""
        if isinstance(result, results.ResultImportSummary) and not result.already_imported:
            self.answers_note.value = self._answers_done_html(result)
        self._show_status()
        if self.session.can(Permission.BATCHES_CREATE):
            self.batch_list.refresh()

    @staticmethod
    def _answers_done_html(r: results.ResultImportSummary) -> str:
        named = "、".join(r.batches) or "-"
        if r.unanswered:
            waiting_ja = f"まだ {num(r.unanswered)} 件の回答を待っています。"
            waiting_en = f"{num(r.unanswered)} answer(s) still awaited."
        else:
            waiting_ja, waiting_en = "回答はすべて揃いました。", "Every answer is in."
        found = sum(r.discrepancies.values())
        if found:
            kinds = "、".join(f"{code_ja(k, 'discrepancy')} {num(n)} 件" for k, n in sorted(r.discrepancies.items()))
            handed_ja = (f"保有情報と異なる照会結果 {num(found)} 件（{kinds}）を、審査担当の「番号相違の確認」"
                         "（未処理の業務）に回しました。")
            handed_en = f"{num(found)} result(s) differ from what is held: handed to the reviewer's queue."
        else:
            handed_ja, handed_en = "保有情報と異なる照会結果はありませんでした。", "No result differs from what is held."
        return ("<div class='wb-answers-done' style='padding:4px 8px;border-left:4px solid #2e7d32'>"
                f"照会番号 <b>{esc(named)}</b>: 回答を取り込みました。{esc(waiting_ja)}{esc(handed_ja)}"
                f"<br><small>Batch {esc(named)}: answers imported. {esc(waiting_en)} {esc(handed_en)}</small></div>")

    def _build_linkage(self, style: dict[str, str]) -> w.VBox:
        self.lk_procedure = w.Dropdown(description="手続 / Procedure", style=style, layout=w.Layout(width="520px"),
                                       options=list(self.procedure.options), value=self.procedure.value)
        self.lk_year = w.Dropdown(description="年度 / Fiscal year", style=style, layout=w.Layout(width="520px"),
                                  options=list(self.fiscal_year.options), value=self.fiscal_year.value)
        self.lk_summary = w.HTML()
        self.linkage = OutgoingFileFlow(
            linkage_file.SPEC, session=self.session, call=self.call, banner=self.banner, params=self.linkage_params,
            detail=[self.lk_summary], on_preview=self._show_linkage, request_label="作成の承認を依頼 / Request approval",
            extra=lambda r: [("出力番号", r.extra.get("export_id", "-")), ("人数", num(r.extra.get("persons")))])
        for widget in (self.lk_procedure, self.lk_year):
            widget.observe(lambda _c: self.linkage.reset(), "value")
        ja, en = RECIPIENTS[linkage_file.RECIPIENT]
        return w.VBox([
            w.HTML(f"<h4>{esc(ja)}連携ファイルの作成 / linkage file for the {esc(en)} (F6)</h4>"
                   "<small>照会結果を宛名番号で送ります（個人番号は含めません）。未送付の結果のみが対象です。"
                   " / Results keyed by internal person number, never the Individual Number; only results not yet sent.</small>"),
            self.lk_procedure, self.lk_year, self.linkage,
        ])

    def linkage_params(self) -> dict[str, Any]:
        return {"procedure": self.lk_procedure.value, "fiscal_year": int(self.lk_year.value)}

    def _show_linkage(self, p: linkage_file.LinkagePreview | None) -> None:
        if p is None:
            self.lk_summary.value = ""
            return
        labels = {k: v.label_ja for k, v in self.rules.information.items()}
        rows = [(labels.get(info, JUKI_LABEL if info in ("", "juki", "None") else info), _result_words(code), n)
                for info, codes in p.by_information.items() for code, n in codes.items()]
        states = [(code_ja(k, "linkage_state"), v) for k, v in p.discrepancy_status.items()]
        self.lk_summary.value = (
            "<div class='wb-linkage-summary' style='padding:4px 0'>"
            f"<b>確認（未作成）/ preview, nothing written</b>: {esc(p.procedure)}、{esc(fiscal_year_label(p.fiscal_year))}<br>"
            f"送付する照会結果 / results: <b class='wb-linkage-total'>{num(p.total)}</b> 件（{num(p.persons)} 人）"
            f"　送付済み / sent before: {num(p.already_exported)} 件</div>"
            + html_table(["照会情報", "処理結果", "件数"], rows, numeric=[2],
                         empty="この手続・年度で未送付の照会結果はありません / nothing not yet sent")
            + (bar_chart_svg(states, title="相違の状態（人数）/ discrepancy state, persons (U4)", color="#ef6c00")
               if states else ""))

    # -- parameters ------------------------------------------------------------------------
    def _fill_information(self) -> None:
        proc = self.rules.procedures[self.procedure.value]
        self.info_checks = {}
        for key in proc.information:
            info = self.rules.information[key]
            kind = "連絡先等情報" if info.kind == "contact" else "業務関係情報・同意が必要"
            box = w.Checkbox(value=True, indent=False, layout=w.Layout(width="auto"),
                             description=f"{info.label_ja}（{kind}）/ {info.label_en}")
            box.observe(lambda _c: self._reset(), "value")
            self.info_checks[key] = box
        self.info_box.children = list(self.info_checks.values())
        self._reset()

    def _show_kind(self) -> None:
        self.info_area.layout.display = "flex" if self.kind.value == "info" else "none"
        self.batch.use(batches.SPECS[self.kind.value])

    def information(self) -> list[str]:
        return [k for k, box in self.info_checks.items() if box.value]

    def params(self) -> dict[str, Any]:
        """What the buttons would ask the service for, exactly."""
        out: dict[str, Any] = {"procedure": self.procedure.value, "fiscal_year": int(self.fiscal_year.value)}
        if self.kind.value == "info":
            out["information"] = self.information()
        return out

    def _reset(self) -> None:
        """A parameter changed: what was previewed no longer applies."""
        self.batch.reset()

    def _ready(self) -> bool:
        return not (self.kind.value == "info" and not self.information())

    # -- views -----------------------------------------------------------------------------
    def _info_label(self, key: str) -> str:
        info = self.rules.information.get(key)
        return info.label_ja if info is not None else JUKI_LABEL

    def _procedure_label(self, code: str) -> str:
        proc = self.rules.procedures.get(code)
        return f"{code} {proc.label_ja}" if proc is not None else code_ja(code, "procedure")

    def _show_preview(self, p: batches.BatchPreview | None) -> None:
        if p is None:
            self.summary.value = self.table.value = self.chart.value = ""
            return
        proc = self.rules.procedures[p.procedure]
        excluded = sum(p.excluded.values())
        basis = "、".join(f"{'本人の届出' if k == 'filed' else '同一住所の世帯員'} {num(v)} 件"
                          for k, v in p.included_by_basis.items())
        ja, en = RECIPIENTS[KINDS[p.kind]["recipient"]]
        self.summary.value = (
            "<div class='wb-batch-summary' style='padding:4px 0'>"
            f"<b>確認（未作成）/ preview, nothing written</b>: {esc(p.procedure)} {esc(proc.label_ja)}、"
            f"{esc(fiscal_year_label(p.fiscal_year))}、送付先 {esc(ja)}（{esc(en)}）<br>"
            f"照会する件数 / requests: <b class='wb-batch-total'>{num(p.total)}</b> 件"
            f"（{num(p.persons)} 人、ファイル {num(p.files)} 個）"
            f"{'　内訳: ' + esc(basis) if basis else ''}<br>"
            f"照会しないもの / left out: <b>{num(excluded)}</b> 件（理由は下の表 / reasons below）</div>"
        )
        if not p.total:
            self.summary.value += ("<div style='color:#c62828'>照会ルール（U1〜U3）を満たす照会がないため、"
                                   "承認の依頼はできません。 / No query satisfies the rules; nothing to request.</div>")
        chart = [(code_short("included", "exclusion"), p.total)] + [(code_short(k, "exclusion"), v) for k, v in p.excluded.items()]
        self.chart.value = bar_chart_svg(chart, title="照会する件数と照会しない理由 / included and why left out",
                                         color="#1565c0")
        order = {k: i for i, k in enumerate(["included", *batches.EXCLUSIONS])}
        rows = sorted(p.rows, key=lambda r: (p.information.index(r["information"]) if r["information"] in p.information
                                             else 99, order.get(r["outcome"], 99)))
        self.table.value = "<div class='wb-batch-table'>" + html_table(
            ["手続", "照会する情報", "結果", "理由", "件数"],
            [(r["procedure"], self._info_label(r["information"]),
              "照会する" if r["outcome"] == "included" else "照会しない",
              "-" if r["outcome"] == "included" else r["label_ja"], r["count"]) for r in rows],
            numeric=[4], empty="この手続・年度の届出はありません。先に手続ファイルを取り込んでください。"
                               " / No filings for this procedure and year.",
        ) + "</div>"

    def _show_import(self, _change: Any = None) -> None:
        s, errors = self.model.procedure_import, self.model.import_errors
        if errors:
            self.proc_view.value = "<div class='wb-proc-errors'><b>誤りのある行（最初の {} 件）/ wrong lines</b>{}</div>".format(
                num(len(errors)), html_table(["行", "理由"], [(e["line"], e["message_ja"]) for e in errors],
                                            numeric=[0]))
            return
        if s is None:
            self.proc_view.value = ""
            return
        counts = [("手続（新規）", s.new_procedures), ("手続（取込済み・変更なし）", s.unchanged_procedures),
                  ("対象者", s.members), ("照会への同意あり", s.consent_yes), ("照会への同意なし", s.consent_no)]
        self.proc_view.value = (
            f"<div class='wb-proc-summary'>{esc(s.message_ja)}<br><small>{esc(s.message_en)}</small>"
            + html_table(["項目", "件数"], [("行数", s.rows), *counts], numeric=[1]) + "</div>"
            + (bar_chart_svg(sorted(s.by_procedure.items()), title="手続別の件数 / procedures by code", color="#6a1b9a")
               if s.by_procedure else "")
        )

    def _show_status(self) -> None:
        """Requests by status (answered, pending, error, expired), once result import exists."""
        if not self.session.can(Permission.RESULTS_IMPORT):
            self.status_view.value = ""
            return
        counts = self.call(results.request_status)
        if not counts or not any(counts.values()):
            self.status_view.value = ""
            return
        merged: dict[str, int] = {}
        for key, value in dict(counts).items():
            name = code_ja(key, "query_status")
            merged[name] = merged.get(name, 0) + int(value)
        self.status_view.value = "<h4>照会の状況 / requests by status</h4>" + bar_chart_svg(
            list(merged.items()), title="照会の状況 / status", color="#00695c")

    # -- handlers ----------------------------------------------------------------------------
    def _file_chosen(self) -> None:
        self.proc_import_button.disabled = uploaded(self.proc_upload) is None
        self.model.procedure_import = None
        self.model.import_errors = []

    def import_procedures(self) -> None:
        got = uploaded(self.proc_upload)
        if got is None:
            self.banner.info("ファイルを選択してください。", "Choose a file first.")
            return
        name, data = got
        errors: list[dict[str, Any]] = []

        def run(session: Any) -> procedures.ProcedureImportSummary:
            try:
                return procedures.import_procedures(session, data, file_name=name)
            except InvalidInput as exc:
                errors.extend(exc.details.get("errors") or [])
                raise

        self.proc_import_button.disabled = True
        self.banner.clear()
        result = self.call(run)
        self.model.import_errors = errors
        self.model.procedure_import = result
        if result is not None:
            self.banner.success(result.message_ja, result.message_en)
            self._reset()  # the filings changed: preview again
        else:
            self.proc_import_button.disabled = False

