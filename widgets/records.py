"""組織の記録 and 運用状況報告 (issue 23): the office's own records, and the monthly evidence report.

:class:`RecordsApp` (administrator, ``records.manage``): training sessions and attendance, the yearly
self-inspection, the contractor's kits, incidents with their reporting deadlines.
:class:`EvidenceApp` (auditor, ``audit.read``): the month's report, summary first, each promise with
its one line, and the HTML/PDF/xlsx files for the re-evaluation.  Both only call services.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import ipywidgets as w

from workbench.controls import evidence, records
from workbench.core.clock import JST
from workbench.core.dates import jst_text, wareki

from .common import ActionButton, App, esc, html_table

__all__ = ["EvidenceApp", "RecordsApp"]

_STYLE = {"description_width": "150px"}


def _options(table: dict[str, tuple[str, str]]) -> list[tuple[str, str]]:
    return [(f"{ja} / {en}", code) for code, (ja, en) in table.items()]


class RecordsApp(App):
    """組織の記録: training, self-inspection, contractor kits, incidents."""

    title_key = "app_records"

    def build(self) -> list[w.Widget]:
        today = self.session.workspace.clock.now().astimezone(JST).date()
        fiscal = today.year if today.month >= 4 else today.year - 1
        # -- training
        self.t_date = w.DatePicker(description="実施日 / Date", value=today, style=_STYLE)
        self.t_title = w.Text(description="研修名 / Title", style=_STYLE, layout=w.Layout(width="520px"))
        self.t_topic = w.Dropdown(description="分野 / Topic", options=_options(records.TRAINING_TOPICS), style=_STYLE)
        self.t_minutes = w.BoundedIntText(description="時間（分）/ Minutes", value=60, min=1, max=1440, style=_STYLE)
        self.t_attendees = w.Textarea(description="受講者ID / Attendees", placeholder="ユーザーIDを改行か空白で区切って入力",
                                      style=_STYLE, layout=w.Layout(width="520px"))
        self.t_button = ActionButton(description="研修を記録 / Record training", button_style="primary", icon="plus")
        self.t_button.on_click(lambda _b: self.record_training())
        self.t_html = w.HTML()
        # -- self-inspection
        self.i_year = w.BoundedIntText(description="年度 / Fiscal year", value=fiscal, min=2015, max=2100, style=_STYLE)
        self.i_item = w.Dropdown(description="点検項目 / Item", options=_options(records.CHECKLIST), style=_STYLE,
                                 layout=w.Layout(width="720px"))
        self.i_result = w.Dropdown(description="結果 / Result", options=_options(records.INSPECTION_RESULTS), style=_STYLE)
        self.i_finding = w.Text(description="指摘事項 / Finding", style=_STYLE, layout=w.Layout(width="520px"))
        self.i_follow = w.Text(description="改善措置 / Follow-up", style=_STYLE, layout=w.Layout(width="520px"))
        self.i_due = w.DatePicker(description="改善期限 / Due", style=_STYLE)
        self.i_closed = w.DatePicker(description="改善完了日 / Closed", style=_STYLE)
        self.i_button = ActionButton(description="点検結果を記録 / Record", button_style="primary", icon="check")
        self.i_button.on_click(lambda _b: self.record_inspection())
        self.i_html = w.HTML()
        # -- kits
        self.k_batch = w.Text(description="交付番号 / Kit batch", style=_STYLE)
        self.k_direction = w.Dropdown(description="区分 / Direction", options=_options(records.KIT_DIRECTIONS), style=_STYLE)
        self.k_kits = w.BoundedIntText(description="キット数 / Kits", value=1, min=1, max=1_000_000, style=_STYLE)
        self.k_date = w.DatePicker(description="日付 / Date", value=today, style=_STYLE)
        self.k_button = ActionButton(description="記録 / Record", button_style="primary", icon="plus")
        self.k_button.on_click(lambda _b: self.record_kits())
        self.k_html = w.HTML()
        # -- incidents
        self.n_kind = w.Dropdown(description="種類 / Kind", options=_options(records.INCIDENT_KINDS), style=_STYLE)
        self.n_summary = w.Textarea(description="概要 / Summary", placeholder="個人情報を書かずに、何が起きたか",
                                    style=_STYLE, layout=w.Layout(width="520px"))
        self.n_persons = w.BoundedIntText(description="影響人数 / Persons", value=0, min=0, max=10_000_000, style=_STYLE)
        self.n_known = w.Text(description="発覚日時 / Discovered", value=f"{today.isoformat()}T09:00", style=_STYLE)
        self.n_unfair = w.Checkbox(description="不正の目的のおそれ（確報60日）/ unfair purpose", indent=False)
        self.n_button = ActionButton(description="事案を記録 / Record incident", button_style="danger", icon="exclamation")
        self.n_button.on_click(lambda _b: self.record_incident())
        self.e_incident = w.Text(description="事案番号 / Incident", style=_STYLE)
        self.e_event = w.Dropdown(description="経過 / Event", options=_options(records.INCIDENT_EVENTS), style=_STYLE)
        self.e_at = w.Text(description="日時 / At", value=f"{today.isoformat()}T09:00", style=_STYLE)
        self.e_button = ActionButton(description="経過を記録 / Add event", icon="plus")
        self.e_button.on_click(lambda _b: self.add_event())
        self.n_html = w.HTML()
        self.refresh()
        return [
            w.HTML("<h4>研修と受講者 / Training and attendance</h4>"), self.t_date, self.t_title, self.t_topic,
            self.t_minutes, self.t_attendees, self.t_button, self.t_html,
            w.HTML("<h4>自己点検（年1回） / Yearly self-inspection</h4>"), self.i_year, self.i_item, self.i_result,
            self.i_finding, self.i_follow, w.HBox([self.i_due, self.i_closed]), self.i_button, self.i_html,
            w.HTML("<h4>収集キットの交付・返却 / Contractor kits</h4>"), self.k_batch, self.k_direction, self.k_kits,
            self.k_date, self.k_button, self.k_html,
            w.HTML("<h4>漏えい等事案と報告期限 / Incidents and reporting deadlines</h4>"
                   "<div style='color:#555'>速報は発覚から3〜5日以内、確報は30日以内（不正の目的によるおそれがある場合は60日以内）。</div>"),
            self.n_kind, self.n_summary, self.n_persons, self.n_known, self.n_unfair, self.n_button,
            self.e_incident, self.e_event, self.e_at, self.e_button, self.n_html,
        ]

    # -- actions ------------------------------------------------------------------------
    def record_training(self) -> None:
        people = [p for p in self.t_attendees.value.replace(",", " ").split() if p]
        out = self.call(records.record_training, held_on=self.t_date.value or "", title=self.t_title.value,
                        topic=self.t_topic.value, minutes=int(self.t_minutes.value), attendees=people)
        if out is not None:
            self.banner.success(f"研修を記録しました（{out['session_id']}、受講者 {out['attendees']:,} 人）。",
                                f"Training recorded ({out['session_id']}).")
            self.t_title.value = self.t_attendees.value = ""
            self.refresh()

    def record_inspection(self) -> None:
        out = self.call(records.record_inspection_item, fiscal_year=int(self.i_year.value), item=self.i_item.value,
                        result=self.i_result.value, finding=self.i_finding.value or None,
                        follow_up=self.i_follow.value or None, due_on=self.i_due.value, closed_on=self.i_closed.value)
        if out is not None:
            self.banner.success("点検結果を記録しました。", "Inspection item recorded.")
            self.refresh()

    def record_kits(self) -> None:
        out = self.call(records.record_kits, batch=self.k_batch.value, direction=self.k_direction.value,
                        kits=int(self.k_kits.value), moved_on=self.k_date.value or "")
        if out is not None:
            self.banner.success(f"収集キットを記録しました（{out['movement_id']}）。", "Kits recorded.")
            self.refresh()

    def record_incident(self) -> None:
        out = self.call(records.record_incident, kind=self.n_kind.value, summary=self.n_summary.value,
                        persons=int(self.n_persons.value), discovered_at=self.n_known.value,
                        unauthorised=bool(self.n_unfair.value))
        if out is not None:
            self.e_incident.value = out["incident_id"]
            self.banner.success(f"事案 {out['incident_id']} を記録しました。速報期限 {wareki(out['preliminary_due'])}、"
                                f"確報期限 {wareki(out['final_due'])}。", f"Incident {out['incident_id']} recorded.")
            self.n_summary.value = ""
            self.refresh()

    def add_event(self) -> None:
        out = self.call(records.add_incident_event, self.e_incident.value.strip(), event=self.e_event.value,
                        at=self.e_at.value)
        if out is not None:
            self.banner.success("経過を記録しました。", "Event recorded.")
            self.refresh()

    # -- the lists -----------------------------------------------------------------------
    def refresh(self) -> None:
        trained = self.call(records.training)
        if trained is not None:
            self.t_html.value = html_table(
                ["職員ID", "直近の受講日"], [[s["user_id"], wareki(s["last_trained"]) if s["last_trained"] else "未受講"]
                                           for s in trained["staff"]]) + html_table(
                ["研修番号", "実施日", "研修名", "分野", "受講者数"],
                [[x["session_id"], wareki(x["held_on"]), x["title"], records.TRAINING_TOPICS[x["topic"]][0], x["attendees"]]
                 for x in trained["sessions"][:20]], numeric=[4])
        items = self.call(records.inspection, int(self.i_year.value))
        if items is not None:
            self.i_html.value = html_table(
                ["点検項目", "結果", "指摘事項", "改善措置", "期限", "完了"],
                [[records.CHECKLIST[i["item"]][0], records.INSPECTION_RESULTS[i["result"]][0] if i["result"] else "未点検",
                  i["finding"] or "", i["follow_up"] or "", wareki(i["due_on"]) if i["due_on"] else "",
                  wareki(i["closed_on"]) if i["closed_on"] else ""] for i in items])
        kits = self.call(records.kit_reconciliation)
        if kits is not None:
            self.k_html.value = html_table(
                ["交付番号", "交付日", "交付", "返却", "紛失", "未返却", "返却期限超過"],
                [[k["batch"], wareki(k["handed_out_on"]) if k["handed_out_on"] else "", k["handed_out"], k["returned"],
                  k["lost"], k["outstanding"], "超過" if k["overdue"] else ""] for k in kits], numeric=[2, 3, 4, 5])
        incidents = self.call(records.incidents)
        if incidents is not None:
            self.n_html.value = html_table(
                ["事案番号", "種類", "影響人数", "発覚", "速報期限", "速報", "確報期限", "確報", "状況"],
                [[i["incident_id"], records.INCIDENT_KINDS[i["kind"]][0], i["persons"], jst_text(i["discovered_at"]),
                  wareki(i["preliminary_due"]), records.REPORT_STATES[i["preliminary"]][0], wareki(i["final_due"]),
                  records.REPORT_STATES[i["final"]][0], "対応完了" if i["status"] == "closed" else "対応中"]
                 for i in incidents], numeric=[2])


class EvidenceApp(App):
    """運用状況報告: the month's evidence, promise by promise (auditor)."""

    title_key = "app_evidence"

    def build(self) -> list[w.Widget]:
        now = self.session.workspace.clock.now().astimezone(JST)
        months = []
        year, month = now.year, now.month
        for _ in range(13):
            months.append((f"{year}年{month}月", f"{year:04d}-{month:02d}"))
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        self.month = w.Dropdown(description="対象月 / Month", options=months, style=_STYLE)
        self.show_button = ActionButton(description="報告を表示 / Show", button_style="primary", icon="file-text")
        self.show_button.on_click(lambda _b: self.show())
        self.files_button = ActionButton(description="HTML・PDF・Excel を作成 / Files", icon="download")
        self.files_button.on_click(lambda _b: self.files())
        self.summary = w.HTML()
        self.details = w.HTML()
        self.downloads = w.HTML()
        self.report: evidence.EvidenceReport | None = None
        return [w.HBox([self.month, self.show_button, self.files_button]), self.summary, self.downloads, self.details]

    def show(self) -> None:
        report = self.call(evidence.monthly, self.month.value)
        if report is None:
            return
        self.report = report
        lines = "".join(f"<p>{esc(x)}</p>" for x in report.summary_lines())
        actions = report.actions()
        self.summary.value = (f"<h4>概要（{esc(report.month_ja)}）</h4>{lines}"
                              + (html_table(["項目", "約束", "対応すること", "担当"],
                                            [[a["promise"], a["title"], a["what"], a["who"]] for a in actions])
                                 if actions else ""))
        colour = {"held": "#1b5e20", "exceptions": "#b00020", "no_evidence": "#666"}
        parts = []
        for s in report.sections:
            figures = "、".join(f"{k} {v:,} 件" for k, v in s.figures.items())
            extra = "".join(f"<li>{esc(x)}</li>" for x in s.exceptions[:20])
            parts.append(f"<div style='margin:6px 0'><b>{esc(s.promise.promise_id)} {esc(s.promise.title_ja)}</b> — "
                         f"<span style='color:{colour[s.status]}'>{esc(s.line_ja)}</span>"
                         f"<div style='color:#555;font-size:90%'>{esc(figures)}</div>"
                         + (f"<ul>{extra}</ul>" if extra else "") + "</div>")
        self.details.value = "<h4>約束ごとの結果 / Every promise</h4>" + "".join(parts)

    def files(self) -> None:
        if self.report is None or f"{self.report.year:04d}-{self.report.month:02d}" != self.month.value:
            self.show()
        report = self.report
        if report is None:
            return
        import base64

        links = []
        with tempfile.TemporaryDirectory() as tmp:
            stem = Path(tmp) / f"evidence-{report.year:04d}-{report.month:02d}"
            for path, mime in ((report.write_html(stem.with_suffix(".html")), "text/html"),
                               (report.write_pdf(stem.with_suffix(".pdf")), "application/pdf"),
                               (report.write_xlsx(stem.with_suffix(".xlsx")),
                                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")):
                data = base64.b64encode(path.read_bytes()).decode("ascii")
                links.append(f"<a download='{esc(path.name)}' href='data:{mime};base64,{data}'>{esc(path.name)}</a>")
        self.downloads.value = "ダウンロード / Download: " + "　".join(links)
