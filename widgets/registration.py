"""対象者取込・番号登録 — the registrar's screen (F0, F1).

Each step is upload → preview (counts only, nothing written) → confirm → summary
(counts and a bar chart).  Registration's rejected rows leave as a return list (差戻
リスト) package for the collection contractor, so its confirmation names the recipient
and the count, and the summary shows the package with its media-ledger entry.

The services live in :mod:`workbench.targets` and :mod:`workbench.registration`,
written alongside this screen.  Each is looked up by name when used; a service not
yet present is reported as "not yet available" instead of failing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import ipywidgets as w
import traitlets as t

from .common import App, ConfirmOutgoing, bar_chart_svg, esc, fmt_datetime, html_table, num, tr

__all__ = ["RegistrationApp", "RegistrationModel", "service_fn", "uploaded"]

#: step → (module, function) of the service it calls.
SERVICES: dict[str, tuple[str, str]] = {
    "preview_targets": ("workbench.targets", "preview_targets"),
    "import_targets": ("workbench.targets", "import_targets"),
    "preview_registration": ("workbench.registration", "preview_registration"),
    "register": ("workbench.registration", "register"),
    "preview_collection": ("workbench.collection", "preview_collection"),
    "request_collection_export": ("workbench.collection", "request_collection_export"),
    "export_collection": ("workbench.collection", "export_collection"),
}

STATUSES = [("すべて / all", ""), ("入居者 / residents", "resident"), ("入居申込者 / applicants", "applicant")]

SOURCES = [("収集委託事業者の返送分 / contractor returns", "contractor"),
           ("マイナポータル ダウンロード / My Number portal", "portal")]

OUTCOME_LABELS = {"registered": "登録", "unchanged": "登録済み（変更なし）", "review": "要確認（番号相違）",
                  "returned": "差戻し"}

_STATUS_JA = {"resident": "入居者", "applicant": "入居申込者"}

TARGET_COUNTS = [("new", "新規"), ("changed", "変更"), ("relisted", "再掲載"), ("unchanged", "変更なし"),
                 ("unlisted", "対象外となった人")]


def service_fn(step: str) -> Callable[..., Any] | None:
    """The service function for ``step``, or ``None`` if it is not (yet) in the package."""
    module, name = SERVICES[step]
    try:
        fn: Callable[..., Any] | None = getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None
    return fn


def uploaded(upload: w.FileUpload) -> tuple[str, bytes] | None:
    """The one file in an ipywidgets 8 FileUpload: (name, bytes)."""
    value = upload.value
    if not value:
        return None
    item = value[0]
    return str(item["name"]), bytes(item["content"])


class RegistrationModel(t.HasTraits):
    target_preview = t.Any(None)
    target_result = t.Any(None)
    reg_preview = t.Any(None)
    reg_result = t.Any(None)
    collection_preview = t.Any(None)
    collection_approval = t.Unicode("")
    collection_result = t.Any(None)


class RegistrationApp(App):
    title_key = "app_registration"

    def build(self) -> list[w.Widget]:
        self.model = RegistrationModel()

        # -- F0 target list
        self.target_upload = w.FileUpload(accept=".csv,.txt", multiple=False,
                                          description="対象者リストを選択 / Target list")
        self.target_preview_button = w.Button(description="内容を確認 / Preview", icon="eye")
        self.target_preview_button.on_click(lambda _b: self.preview_targets())
        self.target_confirm = w.Button(description="取り込む / Import", button_style="warning", icon="upload",
                                       disabled=True)
        self.target_confirm.on_click(lambda _b: self.import_targets())
        self.target_view = w.HTML()
        targets_box = w.VBox([
            w.HTML("<h4>対象者リストの取込 / Target list (F0)</h4>"),
            w.HBox([self.target_upload, self.target_preview_button, self.target_confirm]), self.target_view,
        ])

        # -- F1 registration
        self.source = w.Dropdown(description="取込元 / Source", options=SOURCES, value="contractor",
                                 style={"description_width": "120px"}, layout=w.Layout(width="480px"))
        self.reg_upload = w.FileUpload(accept=".csv,.txt", multiple=False, description="登録ファイルを選択 / File")
        self.reg_preview_button = w.Button(description="内容を確認 / Preview", icon="eye")
        self.reg_preview_button.on_click(lambda _b: self.preview_registration())
        self.reg_confirm_area = w.VBox([])
        self.reg_view = w.HTML()
        self.chart = w.HTML()
        self.return_view = w.HTML()
        reg_box = w.VBox([
            w.HTML("<h4>個人番号の一括登録 / Bulk registration (F1)</h4>"), self.source,
            w.HBox([self.reg_upload, self.reg_preview_button]), self.reg_view, self.reg_confirm_area,
            self.chart, self.return_view,
        ])

        # -- F0b collection list for the contractor (an outgoing file: preview, approval, confirm)
        style = {"description_width": "120px"}
        self.wards = w.Text(description="区市町村コード / Wards", placeholder="131016, 131024（空欄はすべて）",
                            style=style, layout=w.Layout(width="480px"))
        self.status = w.Dropdown(description="区分 / Status", options=STATUSES, value="", style=style)
        self.collection_preview_button = w.Button(description="件数を確認 / Preview", icon="eye")
        self.collection_preview_button.on_click(lambda _b: self.preview_collection())
        self.collection_request_button = w.Button(description="送付の承認を依頼 / Request approval",
                                                  icon="paper-plane", disabled=True)
        self.collection_request_button.on_click(lambda _b: self.request_collection())
        self.collection_approval_id = w.Text(description="承認番号 / Approval", placeholder="A…", style=style)
        self.collection_export_button = w.Button(description="承認済みの送付ファイルを作成 / Make file",
                                                 icon="file-archive-o", layout=w.Layout(width="auto"))
        self.collection_export_button.on_click(lambda _b: self.confirm_collection())
        self.collection_view = w.HTML()
        self.collection_confirm_area = w.VBox([])
        self.collection_package = w.HTML()
        collection_box = w.VBox([
            w.HTML("<h4>番号収集リストの作成 / Collection list for the contractor (F0b)</h4>"),
            w.HBox([self.wards, self.status]),
            w.HBox([self.collection_preview_button, self.collection_request_button]), self.collection_view,
            w.HBox([self.collection_approval_id, self.collection_export_button]),
            self.collection_confirm_area, self.collection_package,
        ])
        self.model.observe(self._show_collection, ["collection_preview", "collection_result"])
        self.wards.observe(lambda _c: setattr(self.model, "collection_preview", None), "value")
        self.status.observe(lambda _c: setattr(self.model, "collection_preview", None), "value")

        for trait, view in (("target_preview", self._show_targets), ("target_result", self._show_targets),
                            ("reg_preview", self._show_registration), ("reg_result", self._show_registration)):
            self.model.observe(view, trait)
        # a new file cancels what was previewed
        self.target_upload.observe(lambda _c: self._reset_targets(), "value")
        self.reg_upload.observe(lambda _c: self._reset_registration(), "value")
        self.source.observe(lambda _c: self._reset_registration(), "value")
        return [targets_box, reg_box, collection_box]

    # -- helpers ---------------------------------------------------------------------------
    def _service(self, step: str) -> Callable[..., Any] | None:
        fn = service_fn(step)
        if fn is None:
            module, name = SERVICES[step]
            self.banner.info(tr("not_available", "ja", what=f"{module}.{name}"),
                             tr("not_available", "en", what=f"{module}.{name}"))
        return fn

    def _file(self, upload: w.FileUpload) -> tuple[str, bytes] | None:
        got = uploaded(upload)
        if got is None:
            self.banner.info("ファイルを選択してください。", "Choose a file first.")
        return got

    def _reset_targets(self) -> None:
        self.model.target_preview = None
        self.model.target_result = None

    def _reset_registration(self) -> None:
        self.model.reg_preview = None
        self.model.reg_result = None

    # -- views -------------------------------------------------------------------------------
    def _show_targets(self, _change: Any = None) -> None:
        s = self.model.target_result or self.model.target_preview
        self.target_confirm.disabled = not (self.model.target_preview is not None and self.model.target_result is None
                                            and not getattr(s, "already_imported", False))
        if s is None:
            self.target_view.value = ""
            return
        state = "取込結果 / imported" if self.model.target_result is not None else "確認（未反映）/ preview, nothing applied"
        rows = [(ja, int(getattr(s, key, 0))) for key, ja in TARGET_COUNTS]
        self.target_view.value = (
            f"<div class='wb-target-summary'><b>{esc(state)}</b>: {num(s.rows)} 行、世帯 {num(s.households)}"
            f"<br>{esc(s.message_ja)}<br><small>{esc(s.message_en)}</small></div>"
            + bar_chart_svg(rows, title="対象者リストの変化 / changes", color="#6a1b9a")
        )

    def _show_registration(self, _change: Any = None) -> None:
        result, preview = self.model.reg_result, self.model.reg_preview
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
            ["結果", "件数"], [(OUTCOME_LABELS.get(k, k), v) for k, v in s.outcomes.items()], numeric=[1]) + "</div>"
        chart = [(OUTCOME_LABELS.get(k, k), v) for k, v in s.outcomes.items()]
        reasons = [(k, v) for k, v in s.reasons.items()]
        self.chart.value = bar_chart_svg(chart, title="登録結果の内訳 / outcomes") + (
            bar_chart_svg(reasons, title="差戻し理由 / reasons for return", color="#c62828") if reasons else "")
        if result is None and not s.already_imported:
            returned = int(s.outcomes.get("returned", 0))
            if returned:
                self.reg_confirm_area.children = [ConfirmOutgoing(
                    "collection_contractor", returned, on_confirm=self.register, on_cancel=self._cancel,
                    detail=f"登録できない {num(returned)} 件は差戻リストとして送付用パッケージになります。",
                )]
            else:
                ok = w.Button(description="登録する / Register", button_style="warning", icon="check")
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
                )], numeric=[2]) + "</div>"
            )
        else:
            self.return_view.value = ""

    # -- handlers ------------------------------------------------------------------------------
    def preview_targets(self) -> None:
        fn, got = self._service("preview_targets"), self._file(self.target_upload)
        if fn is None or got is None:
            return
        name, data = got
        self.model.target_result = None
        self.model.target_preview = self.call(fn, data, file_name=name)

    def import_targets(self) -> None:
        fn, got = self._service("import_targets"), self._file(self.target_upload)
        if fn is None or got is None or self.model.target_preview is None:
            return
        name, data = got
        result = self.call(fn, data, file_name=name)
        if result is not None:
            self.model.target_result = result
            self.banner.success(result.message_ja, result.message_en)

    def preview_registration(self) -> None:
        fn, got = self._service("preview_registration"), self._file(self.reg_upload)
        if fn is None or got is None:
            return
        name, data = got
        self.model.reg_result = None
        self.model.reg_preview = self.call(fn, data, source=self.source.value, file_name=name)

    def register(self) -> None:
        fn, got = self._service("register"), self._file(self.reg_upload)
        if fn is None or got is None or self.model.reg_preview is None:
            return
        name, data = got
        result = self.call(fn, data, source=self.source.value, file_name=name)
        if result is not None:
            self.model.reg_result = result
            self.banner.success(
                f"登録しました: 登録 {num(result.outcomes.get('registered', 0))} 件、差戻し {num(result.outcomes.get('returned', 0))} 件。",
                f"Registered {num(result.outcomes.get('registered', 0))}; returned {num(result.outcomes.get('returned', 0))}.",
            )

    # -- F0b ---------------------------------------------------------------------------------
    def _selection(self) -> dict[str, Any]:
        wards = [x.strip() for x in self.wards.value.replace("、", ",").split(",") if x.strip()]
        return {"wards": wards or None, "status": self.status.value or None}

    def _show_collection(self, _change: Any = None) -> None:
        p, result = self.model.collection_preview, self.model.collection_result
        self.collection_request_button.disabled = p is None or not p.total
        if p is None:
            self.collection_view.value = ""
        else:
            by_status = "、".join(f"{_STATUS_JA.get(k, k)} {num(v)} 人" for k, v in p.by_status.items())
            self.collection_view.value = (
                f"<div class='wb-collection-summary'>番号未収集の対象者 / people still owing a number: "
                f"<b>{num(p.total)}</b> 人（{esc(by_status)}）</div>"
                + bar_chart_svg(sorted(p.by_ward.items()), title="区市町村別 / by ward", color="#00695c")
            )
        if result is None:
            self.collection_package.value = ""
            return
        e = result.ledger_entry
        self.collection_package.value = (
            "<div class='wb-package' style='border:1px solid #999;padding:6px 10px'>"
            "<b>送付用パッケージを作成しました / package written</b>"
            + html_table(["媒体管理簿番号", "送付先", "件数", "ファイル", "承認番号", "作成日時"], [(
                e.entry_id, "番号収集委託事業者", e.record_count, e.file_name, e.approval_id or "-",
                fmt_datetime(e.recorded_at))], numeric=[2])
            + "<small>受け渡し後は「受け渡し済み」を記録し、コピーを削除してください（C9）。</small></div>"
        )

    def preview_collection(self) -> None:
        fn = self._service("preview_collection")
        if fn is not None:
            self.model.collection_result = None
            self.collection_confirm_area.children = []
            self.model.collection_preview = self.call(fn, **self._selection())

    def request_collection(self) -> None:
        fn = self._service("request_collection_export")
        if fn is None or self.model.collection_preview is None:
            return
        approval = self.call(fn, **self._selection())
        if approval is not None:
            self.model.collection_approval = approval.approval_id
            self.collection_approval_id.value = approval.approval_id
            self.banner.success(
                f"送付の承認を依頼しました（承認番号 {approval.approval_id}）。承認後に送付ファイルを作成できます。",
                f"Approval requested ({approval.approval_id}); make the file once it is approved.",
            )

    def confirm_collection(self) -> None:
        """Preview again (the count may have changed), then ask for the check before sending."""
        fn = self._service("preview_collection")
        approval_id = self.collection_approval_id.value.strip()
        if fn is None:
            return
        if not approval_id:
            self.banner.info("承認番号を入力してください。", "Enter the approval ID.")
            return
        preview = self.call(fn, **self._selection())
        if preview is None:
            return
        self.model.collection_preview = preview
        self.collection_confirm_area.children = [ConfirmOutgoing(
            "collection_contractor", preview.total, on_confirm=lambda: self.export_collection(approval_id),
            on_cancel=self._cancel_collection, detail=f"承認番号 {approval_id}",
        )]

    def export_collection(self, approval_id: str) -> None:
        fn = self._service("export_collection")
        self.collection_confirm_area.children = []
        if fn is None:
            return
        result = self.call(fn, approval_id=approval_id, **self._selection())
        if result is not None:
            self.model.collection_result = result
            self.collection_approval_id.value = ""
            self.banner.success(f"番号収集リスト {num(result.record_count)} 件の送付用パッケージを作成しました。",
                                f"Wrote the collection list package ({num(result.record_count)} records).")

    def _cancel_collection(self) -> None:
        self.collection_confirm_area.children = []
        self.banner.info(*(tr("cancelled", lang) for lang in ("ja", "en")))

    def _cancel(self) -> None:
        self.model.reg_preview = None
        self.banner.info(*(tr("cancelled", lang) for lang in ("ja", "en")))
