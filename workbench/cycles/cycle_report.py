"""The cycle report (サイクル報告): tables and charts of a cycle run, counts only (issue 14).

Used by the cycle notebooks in ``pipelines/``: the executed notebook *is* the cycle's
report for a supervisor.  Everything here is drawn from the stage details kept in the
database (:mod:`workbench.cycles.engine`) — counts, IDs and times, never a person.  Charts use
matplotlib with Noto Sans CJK JP (Debian's ``fonts-noto-cjk``, installed by ``./dev``) so
the Japanese labels render.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from workbench.cycles.engine import CYCLES, CycleState
from workbench.queries.batches import EXCLUSIONS
from workbench.queries.discrepancies import KINDS

__all__ = ["JAPANESE_FONTS", "charts", "stage_table", "step_counts", "use_japanese_font"]

JAPANESE_FONTS = ["Noto Sans CJK JP", "Noto Sans JP", "IPAexGothic", "DejaVu Sans"]

STATUS_JA = {"pending": "未実行", "running": "実行中", "waiting": "待機中", "failed": "失敗", "done": "完了"}


def use_japanese_font() -> None:
    import matplotlib

    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["font.sans-serif"] = JAPANESE_FONTS
    matplotlib.rcParams["axes.unicode_minus"] = False


def _titles(cycle: str) -> dict[str, str]:
    return {s.name: f"{s.title_ja} / {s.title_en}" for s in CYCLES[cycle].stages}


def stage_table(state: CycleState) -> pd.DataFrame:
    """One row per stage: state, attempts, working seconds, start and end (JST)."""
    titles = _titles(state.cycle)
    return pd.DataFrame([{
        "段階 / stage": titles.get(s.stage, s.stage),
        "状態 / status": f"{STATUS_JA.get(s.status, s.status)} / {s.status}",
        "試行 / attempts": s.attempts,
        "処理秒 / seconds": round(s.seconds, 1),
        "開始 / started": s.started_at.isoformat(timespec="seconds") if s.started_at else "",
        "終了 / finished": s.finished_at.isoformat(timespec="seconds") if s.finished_at else "",
    } for s in state.stages])


def _detail(state: CycleState, stage: str) -> dict[str, Any]:
    return next((s.detail for s in state.stages if s.stage == stage), {})


def step_counts(state: CycleState) -> dict[str, int]:
    """The number of records (or people) each step handled, for the counts-by-step chart."""
    d = {s.stage: s.detail for s in state.stages}
    out: dict[str, int] = {}
    proc = d.get("procedures_in", {}).get("procedures") or {}
    out["手続 procedures"] = int(proc.get("procedures", 0))
    out["F1b 依頼 requests"] = int((d.get("integrated_out", {}).get("request") or {}).get("records", 0))
    out["F2 情報照会 info"] = int((d.get("batches_out", {}).get("info") or {}).get("records", 0))
    out["F3 住基照会 Juki-net"] = int((d.get("batches_out", {}).get("juki") or {}).get("records", 0))
    status = d.get("answers_in", {}).get("status") or {}
    out["F4/F5 回答 answered"] = sum(int(v.get("answered", 0)) for v in status.values())
    found = d.get("discrepancy_report", {}).get("discrepancies") or {}
    out["C7 相違 discrepancies"] = sum(int(n) for by in found.values() for n in by.values())
    out["F6 連携 linkage"] = int((d.get("linkage_out", {}).get("linkage") or {}).get("records", 0))
    return out


def charts(state: CycleState) -> Any:
    """The report's five charts in one figure: counts by step, by ward, exclusions by reason,
    discrepancies by kind, time per step."""
    import matplotlib.pyplot as plt

    use_japanese_font()
    fig, axes = plt.subplots(3, 2, figsize=(15, 14), layout="constrained")
    ax = axes.flat

    def bars(axis: Any, data: dict[str, float], title: str, colour: str = "#4C72B0") -> None:
        axis.set_title(title)
        if not data or not any(data.values()):
            axis.text(0.5, 0.5, "なし / none", ha="center", va="center", transform=axis.transAxes)
            axis.set_axis_off()
            return
        labels = list(data)
        axis.barh(labels, [data[k] for k in labels], color=colour)
        axis.invert_yaxis()
        for i, v in enumerate(data[k] for k in labels):
            axis.text(v, i, f" {v:,.0f}" if float(v).is_integer() else f" {v:,.1f}", va="center", fontsize=8)

    bars(ax[0], {k: float(v) for k, v in step_counts(state).items()}, "段階ごとの件数 / records by step")
    figures = _detail(state, "report").get("figures") or {}
    wards = figures.get("by_ward") or {}
    top = sorted(wards, key=lambda w: -sum(wards[w].values()))[:20]
    bars(ax[1], {w: float(sum(wards[w].values())) for w in top}, "区市町村コード別の照会件数 / queries by ward (top 20)",
         "#55A868")
    preview = _detail(state, "batches_out").get("preview") or {}
    excluded: dict[str, float] = {}
    for kind in ("info", "juki"):
        for reason, n in (preview.get(kind, {}).get("excluded") or {}).items():
            label = f"{EXCLUSIONS.get(reason, (reason,))[0][:24]}… ({reason})"
            excluded[label] = excluded.get(label, 0) + float(n)
    bars(ax[2], excluded, "照会対象外の理由 / exclusions by reason", "#C44E52")
    found = figures.get("discrepancies") or _detail(state, "discrepancy_report").get("discrepancies") or {}
    bars(ax[3], {f"{KINDS.get(k, (k,))[0]} ({k})": float(sum(v.values())) for k, v in found.items()},
         "相違の種類 / discrepancies by kind", "#8172B2")
    titles = _titles(state.cycle)
    bars(ax[4], {titles[s.stage].split(" / ")[0]: float(s.seconds) for s in state.stages}, "段階ごとの処理時間（秒） / "
         "seconds per step", "#937860")
    requests = figures.get("requests") or {}
    bars(ax[5], {f"{k} {st}": float(n) for k, by in requests.items() for st, n in by.items()},
         "照会の状態 / requests by status", "#DA8BC3")
    fig.suptitle(f"{state.cycle} {state.cycle_run_id}", fontsize=14)
    return fig
