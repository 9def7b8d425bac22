"""定例処理の実行状況 — the latest cycle runs for the roles that own them (issue 14).

Shows what ``workbench pipeline list`` shows: each run, who ran it (a person or a batch
account), its status, the cycle's stages and what a waiting stage waits for, and the path of
its report (the executed notebook, counts only).  The list comes from
:func:`workbench.cycles.pipeline_runs.listing`, which shows the caller's own runs and every run of a
pipeline whose permission the caller holds.  Nothing here is personal data.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w
import traitlets as t

from workbench.core import labels
from workbench.cycles import pipeline_runs

from .common import ActionButton, App, esc, fmt_datetime
from .grid import GridColumn, RecordGrid

__all__ = ["RunsApp", "RunsModel"]

_MARKS = {"done": "✔", "waiting": "⏸", "failed": "✖", "running": "▶", "pending": "·"}


def _status(value: str | None) -> str:
    return f"{labels.ja(value, 'run_status') if value else '-'} / {value or '-'}"


def _stages(run: dict[str, Any]) -> str:
    return " ".join(f"{_MARKS.get(s['status'], '?')}{labels.ja(s['stage'], 'stage')}" for s in run.get("stages") or [])


class RunsModel(t.HasTraits):
    runs: t.List[Any] = t.List()


class RunsApp(App):
    title_key = "app_runs"

    def build(self) -> list[w.Widget]:
        self.model = RunsModel()
        self.table = RecordGrid(
            fetch=lambda r: self.call(pipeline_runs.listing_page, r), key=lambda r: r["run_id"],
            columns=[GridColumn("処理 / pipeline", lambda r: labels.ja(r["pipeline"], "pipeline")), GridColumn("実行 / run", lambda r: r["run_id"]),
                     GridColumn("定例処理 / cycle run", lambda r: r.get("cycle_run_id") or ""),
                     GridColumn("実行者 / by", lambda r: r["user_id"]),
                     GridColumn("開始 / started", lambda r: fmt_datetime(r["created_at"])),
                     GridColumn("実行の状態 / run", lambda r: _status(r["status"])),
                     GridColumn("定例処理の状態 / cycle", lambda r: _status(r.get("cycle_status")) if r.get("cycle_run_id") else ""),
                     GridColumn("段階 / stages", _stages), GridColumn("理由・待機 / reason", lambda r: r.get("reason") or ""),
                     GridColumn("報告 / report", lambda r: r.get("report") or "")],
            sorts=pipeline_runs.RUN_LIST.sort_options(), descending=True, placeholder="実行ID・処理・実行者",
            autoload=False, empty="実行はありません / no runs", css_class="wb-runs-table")
        self.table.model.observe(lambda _c: setattr(self.model, "runs", self.table.rows), "page")
        self.detail = w.HTML()
        self.refresh_button = ActionButton(description="更新 / Refresh", icon="refresh")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.model.observe(self._show, "runs")
        self.refresh()
        return [self.refresh_button, self.table, self.detail]

    def refresh(self) -> None:
        self.table.refresh()

    def _show(self, _change: Any = None) -> None:
        waiting = [r for r in self.model.runs if r.get("cycle_status") == "waiting"]
        latest = {r["cycle_run_id"]: r for r in reversed(waiting)}
        self.detail.value = "".join(
            f"<div style='margin-top:6px'>⏸ <b>{esc(labels.ja(r['pipeline'], 'pipeline'))} {esc(cid)}</b>: {esc(r.get('reason') or '')}</div>"
            for cid, r in latest.items())
