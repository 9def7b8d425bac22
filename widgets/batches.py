"""照会ファイルの作成 — the query operator's screen (⑧⑨ procedures, F2 information queries, F3 Juki-net).

1. **手続ファイルの取込** (⑧⑨): the procedures filed in the housing system, uploaded and
   checked whole (:func:`workbench.procedures.import_procedures`); a refused file lists
   its first wrong lines with the reason in plain words.
2. **照会ファイルの作成** (F2/F3): choose the procedure (P1–P6), the fiscal year (shown
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
import importlib
from collections.abc import Callable
from typing import Any

import ipywidgets as w
import traitlets as t

from workbench import batches, linkage, procedures
from workbench.errors import InvalidInput
from workbench.media import RECIPIENTS
from workbench.permissions import Permission
from workbench.query_rules import load_rules

from .common import App, ConfirmOutgoing, bar_chart_svg, esc, fmt_datetime, html_table, num, tr, wareki
from .packages import PackageBox
from .registration import uploaded

__all__ = ["KINDS", "REASON_SHORT", "BatchesApp", "BatchesModel", "fiscal_year_label", "request_status"]

#: F2 / F3: label, the services, and who receives the file.
KINDS: dict[str, dict[str, Any]] = {
    "info": {"label": "情報照会（中間サーバー経由）/ information query (F2)", "recipient": batches.RECIPIENTS["info"],
             "preview": batches.preview_info_batch, "request": batches.request_info_batch,
             "create": batches.create_info_batch},
    "juki": {"label": "住基ネット照会（本人確認情報）/ Juki-net (F3)", "recipient": batches.RECIPIENTS["juki"],
             "preview": batches.preview_juki_batch, "request": batches.request_juki_batch,
             "create": batches.create_juki_batch},
}

#: Short plain words for the chart (the table gives the full reason from batches.EXCLUSIONS).
REASON_SHORT: dict[str, str] = {
    "included": "照会する",
    "not_covered": "リスト外・死亡",
    "not_permitted": "この手続では不可",
    "not_filed": "本人の届出なし",
    "household_no_number": "同住所に番号届出なし",
    "no_number": "個人番号の届出なし",
    "no_consent": "照会への同意なし",
    "no_integrated_number": "統合宛名番号が未取得",
}

JUKI_LABEL = "住基ネット本人確認情報（基本4情報）"

#: Query-request statuses (for the chart, when result import exists).
STATUS_LABELS: dict[str, str] = {
    "answered": "回答あり", "sent": "回答待ち", "created": "回答待ち", "pending": "回答待ち", "error": "エラー",
    "expired": "期限切れ", "not_found": "該当なし",
}


def fiscal_year_label(year: int) -> str:
    """``2026`` → ``2026年度（令和8年度）``; 2019 is 令和元年度."""
    era = wareki(dt.date(year, 5, 1), gregorian=False)  # the era that names the fiscal year
    return f"{year}年度（{era.split('年')[0]}年度）"


def request_status() -> Callable[..., Any] | None:
    """The result-import module's status counts service, once it exists (F4/F5)."""
    try:
        module = importlib.import_module("workbench.results")
    except ImportError:
        return None
    fn: Callable[..., Any] | None = getattr(module, "request_status", None)
    return fn


#: F6 discrepancy states (U4) in staff words.
LINKAGE_STATES: dict[str, str] = {"none": "相違なし", "open": "未対応の相違あり", "person_notified": "本人へ通知済み",
                                  "resolved": "相違は解決済み"}


class BatchesModel(t.HasTraits):
    linkage_preview = t.Any(None)
    linkage_approval = t.Any(None)
    linkage_result = t.Any(None)
    procedure_import = t.Any(None)
    import_errors: t.List[Any] = t.List()
    preview = t.Any(None)
    approval = t.Any(None)
    result = t.Any(None)


class BatchesApp(App):
    title_key = "app_batches"

    def build(self) -> list[w.Widget]:
        self.model = BatchesModel()
        self.rules = load_rules()
        style = {"description_width": "150px"}

        # -- ⑧⑨ procedures filed
        self.proc_upload = w.FileUpload(accept=".csv,.txt", multiple=False, description="手続ファイルを選択 / File",
                                       layout=w.Layout(width="auto"))
        self.proc_import_button = w.Button(description="取り込む / Import", button_style="warning", icon="upload",
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
        now = self.session.workspace.clock.now()
        current = now.year if now.month >= 4 else now.year - 1
        self.fiscal_year = w.Dropdown(description="年度 / Fiscal year", style=style, layout=w.Layout(width="520px"),
                                      options=[(fiscal_year_label(y), y) for y in range(current + 1, current - 4, -1)],
                                      value=current)
        self.info_checks: dict[str, w.Checkbox] = {}
        self.info_box = w.VBox([])
        self.info_area = w.VBox([w.HTML("<b>照会する情報 / information</b> "
                                        "<small>（この手続で照会が認められている情報のみ / only what the procedure may ask, U3）</small>"),
                                 self.info_box])
        self.preview_button = w.Button(description="件数を確認 / Preview", icon="eye", button_style="primary",
                                        layout=w.Layout(width="auto"))
        self.preview_button.on_click(lambda _b: self.preview())
        self.request_button = w.Button(description="作成の承認を依頼 / Request approval", icon="paper-plane",
                                       disabled=True, layout=w.Layout(width="auto"))
        self.request_button.on_click(lambda _b: self.request_approval())
        self.summary = w.HTML()
        self.table = w.HTML()
        self.chart = w.HTML()
        self.approval_view = w.HTML()
        self.result_box = w.VBox([self.summary, self.chart, self.table])
        self.result_box.add_class("wb-batch-result")
        self.approval_id = w.Text(description="承認番号 / Approval", placeholder="A…", style=style,
                                  layout=w.Layout(width="420px"))
        self.create_button = w.Button(description="承認済みの照会ファイルを作成 / Make file", icon="file-archive-o",
                                      disabled=True, layout=w.Layout(width="auto"))
        self.create_button.on_click(lambda _b: self.confirm_create())
        self.approval_id.observe(lambda _c: self._enable(), "value")
        self.confirm_area = w.VBox([])
        self.package_area = w.VBox([])
        self.status_view = w.HTML()
        batch_box = w.VBox([
            w.HTML("<h4>照会ファイルの作成 / Query batch (F2, F3)</h4>"),
            self.kind, self.procedure, self.fiscal_year, self.info_area,
            w.HBox([self.preview_button, self.request_button]),
            self.result_box, self.approval_view,
            w.HBox([self.approval_id, self.create_button]), self.confirm_area, self.package_area,
        ])

        self._fill_information()
        self.procedure.observe(lambda _c: self._fill_information(), "value")
        for widget in (self.kind, self.procedure, self.fiscal_year):
            widget.observe(lambda _c: self._reset(), "value")
        self.kind.observe(lambda _c: self._show_kind(), "value")
        self.model.observe(self._show_preview, "preview")
        self.model.observe(self._show_import, ["procedure_import", "import_errors"])
        self.model.observe(self._show_result, "result")
        self._show_kind()
        self._show_status()
        shown: list[w.Widget] = []
        if self.session.can(Permission.PROCEDURES_IMPORT):
            shown.append(procedures_box)
        if self.session.can(Permission.BATCHES_CREATE):
            shown += [batch_box, self.status_view]
        self.linkage_box = self._build_linkage(style)
        if self.session.can(Permission.LINKAGE_EXPORT):
            shown.append(self.linkage_box)
        return shown

    def _build_linkage(self, style: dict[str, str]) -> w.VBox:
        self.lk_procedure = w.Dropdown(description="手続 / Procedure", style=style, layout=w.Layout(width="520px"),
                                       options=list(self.procedure.options), value=self.procedure.value)
        self.lk_year = w.Dropdown(description="年度 / Fiscal year", style=style, layout=w.Layout(width="520px"),
                                  options=list(self.fiscal_year.options), value=self.fiscal_year.value)
        self.lk_preview_button = w.Button(description="件数を確認 / Preview", icon="eye", button_style="primary",
                                          layout=w.Layout(width="auto"))
        self.lk_request_button = w.Button(description="作成の承認を依頼 / Request approval", icon="paper-plane",
                                          disabled=True, layout=w.Layout(width="auto"))
        self.lk_summary = w.HTML()
        self.lk_approval_view = w.HTML()
        self.lk_approval_id = w.Text(description="承認番号 / Approval", placeholder="A…", style=style,
                                     layout=w.Layout(width="420px"))
        self.lk_export_button = w.Button(description="承認済みの連携ファイルを作成 / Make file", icon="file-archive-o",
                                         disabled=True, layout=w.Layout(width="auto"))
        self.lk_confirm = w.VBox([])
        self.lk_package = w.VBox([])
        self.lk_preview_button.on_click(lambda _b: self.preview_linkage())
        self.lk_request_button.on_click(lambda _b: self.request_linkage())
        self.lk_export_button.on_click(lambda _b: self.confirm_linkage())
        self.lk_approval_id.observe(lambda _c: self._enable_linkage(), "value")
        for widget in (self.lk_procedure, self.lk_year):
            widget.observe(lambda _c: self._reset_linkage(), "value")
        self.model.observe(lambda _c: self._show_linkage(), "linkage_preview")
        self.model.observe(lambda _c: self._show_linkage_result(), "linkage_result")
        ja, en = RECIPIENTS[linkage.RECIPIENT]
        return w.VBox([
            w.HTML(f"<h4>{esc(ja)}連携ファイルの作成 / linkage file for the {esc(en)} (F6)</h4>"
                   "<small>照会結果を宛名番号で送ります（個人番号は含めません）。未送付の結果のみが対象です。"
                   " / Results keyed by internal person number, never the Individual Number; only results not yet sent.</small>"),
            self.lk_procedure, self.lk_year, w.HBox([self.lk_preview_button, self.lk_request_button]),
            self.lk_summary, self.lk_approval_view, w.HBox([self.lk_approval_id, self.lk_export_button]),
            self.lk_confirm, self.lk_package,
        ])

    def linkage_params(self) -> dict[str, Any]:
        return {"procedure": self.lk_procedure.value, "fiscal_year": int(self.lk_year.value)}

    def _reset_linkage(self) -> None:
        self.model.linkage_preview = None
        self.model.linkage_approval = None
        self.lk_confirm.children = []
        self._enable_linkage()

    def _enable_linkage(self) -> None:
        p = self.model.linkage_preview
        self.lk_request_button.disabled = p is None or not p.total or self.model.linkage_approval is not None
        self.lk_export_button.disabled = not self.lk_approval_id.value.strip()

    def _show_linkage(self) -> None:
        self._enable_linkage()
        p = self.model.linkage_preview
        if p is None:
            self.lk_summary.value = self.lk_approval_view.value = ""
            return
        labels = {k: v.label_ja for k, v in self.rules.information.items()}
        rows = [(labels.get(info, JUKI_LABEL if info in ("", "juki", "None") else info), code, n)
                for info, codes in p.by_information.items() for code, n in codes.items()]
        states = [(LINKAGE_STATES.get(k, k), v) for k, v in p.discrepancy_status.items()]
        self.lk_summary.value = (
            "<div class='wb-linkage-summary' style='padding:4px 0'>"
            f"<b>確認（未作成）/ preview, nothing written</b>: {esc(p.procedure)}、{esc(fiscal_year_label(p.fiscal_year))}<br>"
            f"送付する照会結果 / results: <b class='wb-linkage-total'>{num(p.total)}</b> 件（{num(p.persons)} 人）"
            f"　送付済み / sent before: {num(p.already_exported)} 件</div>"
            + html_table(["照会情報", "処理結果", "件数"], rows, numeric=[2],
                         empty="この手続・年度で未送付の照会結果はありません / nothing not yet sent")
            + (bar_chart_svg(states, title="相違の状態（人数）/ discrepancy state, persons (U4)", color="#ef6c00")
               if states else ""))
        if not p.total:
            self.lk_summary.value += ("<div style='color:#c62828'>送付する照会結果がないため、承認の依頼はできません。"
                                      " / Nothing to send.</div>")

    def _show_linkage_result(self) -> None:
        r = self.model.linkage_result
        if r is None:
            self.lk_package.children = []
            return
        self.lk_package.children = [PackageBox.for_session(
            r.ledger_entry, title="都住システム連携ファイルの送付用パッケージを作成しました / linkage package written",
            call=self.call, session=self.session,
            extra=[("出力番号", r.extra.get("export_id", "-")), ("人数", num(r.extra.get("persons")))],
        )]

    def preview_linkage(self) -> None:
        self.banner.clear()
        self.model.linkage_approval = None
        self.lk_confirm.children = []
        self.model.linkage_preview = None
        self.model.linkage_preview = self.call(linkage.preview_linkage, **self.linkage_params())

    def request_linkage(self) -> None:
        p = self.model.linkage_preview
        if p is None or not p.total or self.model.linkage_approval is not None:
            return
        approval = self.call(linkage.request_linkage, **self.linkage_params())
        if approval is None:
            return
        self.model.linkage_approval = approval
        self.lk_approval_id.value = approval.approval_id
        self._enable_linkage()
        self.lk_approval_view.value = (
            f"<div class='wb-approval-requested'>承認番号 / approval: <b>{esc(approval.approval_id)}</b>"
            f"　件数 {num(p.total)} 件　期限 / expires: {esc(fmt_datetime(approval.expires_at))}</div>")
        self.banner.success(
            f"連携ファイル作成の承認を依頼しました（承認番号 {approval.approval_id}）。承認後に作成できます。",
            f"Approval requested ({approval.approval_id}); make the file once it is approved.")

    def confirm_linkage(self) -> None:
        """Preview again (late answers may have arrived), then the check before sending."""
        approval_id = self.lk_approval_id.value.strip()
        if not approval_id:
            return
        params = self.linkage_params()
        preview = self.call(linkage.preview_linkage, **params)
        if preview is None:
            return
        self.model.linkage_preview = preview
        if not preview.total:
            self.banner.info("送付する照会結果が 0 件のため、作成できません。", "Nothing to send.")
            return
        self.lk_confirm.children = [ConfirmOutgoing(
            linkage.RECIPIENT, preview.total, on_confirm=lambda: self.export_linkage(approval_id, params),
            on_cancel=self._cancel_linkage,
            detail=(f"承認番号 {approval_id}、{preview.procedure}、{fiscal_year_label(preview.fiscal_year)}、"
                    f"{num(preview.persons)} 人"),
        )]

    def export_linkage(self, approval_id: str, params: dict[str, Any]) -> None:
        self.lk_confirm.children = []
        if params != self.linkage_params():
            self.banner.info("条件が変わったため作成しませんでした。もう一度確認してください。",
                             "The selection changed; nothing was made. Check again.")
            return
        result = self.call(linkage.export_linkage, approval_id=approval_id, **params)
        if result is None:
            return
        self.model.linkage_result = result
        self.model.linkage_approval = None
        self.lk_approval_id.value = ""
        ja, _en = RECIPIENTS[linkage.RECIPIENT]
        self.banner.success(f"{ja} 宛ての連携ファイル {num(result.record_count)} 件の送付用パッケージを作成しました。",
                            f"Wrote the linkage package ({num(result.record_count)} records).")

    def _cancel_linkage(self) -> None:
        self.lk_confirm.children = []
        self.banner.info(*(tr("cancelled", lang) for lang in ("ja", "en")))

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
        self._enable()

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
        self.model.preview = None
        self.model.approval = None
        self.confirm_area.children = []
        self._enable()

    def _enable(self) -> None:
        p = self.model.preview
        no_info = self.kind.value == "info" and not self.information()
        self.preview_button.disabled = no_info
        self.request_button.disabled = p is None or not p.total or self.model.approval is not None
        self.create_button.disabled = no_info or not self.approval_id.value.strip()

    # -- views -----------------------------------------------------------------------------
    def _info_label(self, key: str) -> str:
        info = self.rules.information.get(key)
        return info.label_ja if info is not None else JUKI_LABEL

    def _show_preview(self, _change: Any = None) -> None:
        self._enable()
        p = self.model.preview
        if p is None:
            self.summary.value = self.table.value = self.chart.value = self.approval_view.value = ""
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
        chart = [(REASON_SHORT["included"], p.total)] + [(REASON_SHORT.get(k, k), v) for k, v in p.excluded.items()]
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

    def _show_result(self, _change: Any = None) -> None:
        r = self.model.result
        if r is None:
            self.package_area.children = []
            return
        self.package_area.children = [PackageBox.for_session(
            r.ledger_entry, title="照会ファイルの送付用パッケージを作成しました / query package written",
            call=self.call, session=self.session,
            extra=[("バッチ番号", r.extra.get("batch_id", "-")), ("ファイル数", num(r.extra.get("files")))],
        )]

    def _show_status(self) -> None:
        """Requests by status (answered, pending, error, expired), once result import exists."""
        fn = request_status()
        if fn is None or not self.session.can(Permission.RESULTS_IMPORT):
            self.status_view.value = ""
            return
        counts = self.call(fn)
        if not counts or not any(counts.values()):
            self.status_view.value = ""
            return
        merged: dict[str, int] = {}
        for key, value in dict(counts).items():
            name = STATUS_LABELS.get(str(key), str(key))
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

    def preview(self) -> None:
        if self.preview_button.disabled:
            return
        self.banner.clear()
        self.model.approval = None
        self.confirm_area.children = []
        self.model.preview = None
        self.model.preview = self.call(KINDS[self.kind.value]["preview"], **self.params())

    def request_approval(self) -> None:
        p = self.model.preview
        if p is None or not p.total or self.model.approval is not None:
            return
        approval = self.call(KINDS[self.kind.value]["request"], **self.params())
        if approval is None:
            return
        self.model.approval = approval
        self.approval_id.value = approval.approval_id
        self._enable()
        self.approval_view.value = (
            f"<div class='wb-approval-requested'>承認番号 / approval: <b>{esc(approval.approval_id)}</b>"
            f"　件数 {num(p.total)} 件　期限 / expires: {esc(fmt_datetime(approval.expires_at))}</div>")
        self.banner.success(
            f"作成の承認を依頼しました（承認番号 {approval.approval_id}）。承認後に照会ファイルを作成できます。",
            f"Approval requested ({approval.approval_id}); make the file once it is approved.")

    def confirm_create(self) -> None:
        """Preview again (the count may have moved), then the check before sending."""
        approval_id = self.approval_id.value.strip()
        if self.create_button.disabled or not approval_id:
            return
        kind = self.kind.value
        params = self.params()
        preview = self.call(KINDS[kind]["preview"], **params)
        if preview is None:
            return
        self.model.preview = preview
        if not preview.total:
            self.banner.info("照会する件数が 0 件のため、作成できません。", "Nothing to send.")
            return
        proc = self.rules.procedures[preview.procedure]
        self.confirm_area.children = [ConfirmOutgoing(
            KINDS[kind]["recipient"], preview.total,
            on_confirm=lambda: self.create(kind, approval_id, params), on_cancel=self._cancel,
            detail=(f"承認番号 {approval_id}、{preview.procedure} {proc.label_ja}、{fiscal_year_label(preview.fiscal_year)}、"
                    f"{num(preview.persons)} 人、ファイル {num(preview.files)} 個"),
        )]

    def create(self, kind: str, approval_id: str, params: dict[str, Any]) -> None:
        self.confirm_area.children = []
        if params != self.params() or kind != self.kind.value:  # changed under the dialog
            self.banner.info("条件が変わったため作成しませんでした。もう一度確認してください。",
                             "The selection changed; nothing was made. Check again.")
            return
        result = self.call(KINDS[kind]["create"], approval_id=approval_id, **params)
        if result is None:
            return
        self.model.result = result
        self.approval_id.value = ""
        self.model.approval = None
        ja, _en = RECIPIENTS[KINDS[kind]["recipient"]]
        self.banner.success(f"{ja} 宛ての照会ファイル {num(result.record_count)} 件の送付用パッケージを作成しました。",
                            f"Wrote the query package ({num(result.record_count)} records).")
        self._show_status()

    def _cancel(self) -> None:
        self.confirm_area.children = []
        self.banner.info(*(tr("cancelled", lang) for lang in ("ja", "en")))
