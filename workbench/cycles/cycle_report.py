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

from workbench.core import labels as code_words
from workbench.cycles.engine import CYCLES, CycleState

__all__ = ["JAPANESE_FONTS", "charts", "stage_table", "step_counts", "use_japanese_font"]

JAPANESE_FONTS = ["Noto Sans CJK JP", "Noto Sans JP", "IPAexGothic", "DejaVu Sans"]



def use_japanese_font() -> None:
    import matplotlib

    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["font.sans-serif"] = JAPANESE_FONTS
    matplotlib.rcParams["axes.unicode_minus"] = False


def _titles(cycle: str) -> dict[str, str]:
    return {s.name: f"{s.title_ja} / {s.title_en}" for s in CYCLES[cycle].stages}


def stage_table(state: CycleState) -> pd.DataFrame:
    """One row per stage: state, attempts, working seconds, start and end (JST)."""
    from workbench.core.dates import jst_text

    titles = _titles(state.cycle)

    def status(s: Any) -> str:
        word = code_words.ja(s.status, "stage_status")
        waiting = (s.waiting_for or {}).get("ja") if s.status == "waiting" else None
        if waiting:  # 「承認待ち: …」, never a code or a traceback
            kind = (s.waiting_for or {}).get("waiting")
            return f"{'承認待ち' if kind == 'approval' else '回答待ち' if kind == 'answers' else word}: {waiting}"
        return word

    return pd.DataFrame([{
        "段階": titles.get(s.stage, s.stage).split(" / ")[0],
        "状態": status(s),
        "試行回数": s.attempts,
        "処理時間（秒）": round(s.seconds, 1),
        "開始（日本時間）": jst_text(s.started_at) if s.started_at else "",
        "終了（日本時間）": jst_text(s.finished_at) if s.finished_at else "",
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
    bars(ax[1], {code_words.ja(w, "ward"): float(sum(wards[w].values())) for w in top}, "区市町村別の照会件数（件、上位20） / queries by ward",
         "#55A868")
    preview = _detail(state, "batches_out").get("preview") or {}
    excluded: dict[str, float] = {}
    for kind in ("info", "juki"):
        for reason, n in (preview.get(kind, {}).get("excluded") or {}).items():
            label = code_words.short(reason, "exclusion")
            excluded[label] = excluded.get(label, 0) + float(n)
    bars(ax[2], excluded, "照会対象外の理由 / exclusions by reason", "#C44E52")
    found = figures.get("discrepancies") or _detail(state, "discrepancy_report").get("discrepancies") or {}
    bars(ax[3], {code_words.ja(k, "discrepancy"): float(sum(v.values())) for k, v in found.items()},
         "相違の種類 / discrepancies by kind", "#8172B2")
    titles = _titles(state.cycle)
    bars(ax[4], {titles[s.stage].split(" / ")[0]: float(s.seconds) for s in state.stages}, "段階ごとの処理時間（秒） / "
         "seconds per step", "#937860")
    requests = figures.get("requests") or {}
    bars(ax[5], {f"{k} {st}": float(n) for k, by in requests.items() for st, n in by.items()},
         "照会の状態 / requests by status", "#DA8BC3")
    fig.suptitle(f"{state.cycle} {state.cycle_run_id}", fontsize=14)
    return fig


# ------------------------------------------------------------------------------ the monthly evidence report (issue 23)
def previous_month(now: Any) -> str:
    """``YYYY-MM`` of the month before ``now`` in Japan time (the monthly run reports the month just ended)."""
    from workbench.core.dates import jst

    local = jst(now)
    year, month = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def _md_table(headers: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        return str(v).replace("|", "｜").replace("\n", " ")

    return "\n".join(["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers),
                      *("| " + " | ".join(cell(c) for c in r) + " |" for r in rows)])


def evidence_summary_markdown(report: Any) -> str:
    """The first page: what happened, what needs action and by whom, in sentences and one table."""
    from workbench.core.dates import jst_text

    parts = [f"## 概要（{report.month_ja}） / Summary",
             f"作成: {jst_text(report.made_at)}　作成者: {report.made_by}", "",
             *(f"- {line}" for line in report.summary_lines()), ""]
    actions = report.actions()
    if actions:
        parts += ["### 対応が必要な事項 / What needs action", "",
                  _md_table(["項目", "約束", "対応すること", "担当"],
                            [[a["promise"], a["title"], a["what"], a["who"]] for a in actions])]
    return "\n".join(parts)


def evidence_overview(report: Any) -> pd.DataFrame:
    """One row per promise: its one-line result, who acts on an exception, where the evidence is."""
    from workbench.core.permissions import ROLE_LABELS

    return pd.DataFrame([{"項目": s.promise.promise_id, "約束": s.promise.title_ja, "今月の結果": s.line_ja,
                          "担当": ROLE_LABELS[s.promise.owner][0], "根拠": s.promise.sources_ja}
                         for s in report.sections]).set_index("項目")


def evidence_section_markdown(section: Any) -> str:
    """A promise's section: the one line, what was counted, the exceptions."""
    from workbench.core.permissions import ROLE_LABELS

    p = section.promise
    parts = [f"### {p.promise_id} {p.title_ja}",
             f"**今月の結果: {section.line_ja}**（評価書 {p.where}、担当: {ROLE_LABELS[p.owner][0]}）"]
    if section.note:
        parts.append(section.note)
    if section.figures:
        parts.append(_md_table(["記録", "件数"], [[k, f"{v:,}"] for k, v in section.figures.items()]))
    if section.exceptions:
        parts.append("例外:\n\n" + "\n".join(f"- {x}" for x in section.exceptions))
    return "\n\n".join(parts)


def evidence_tables(section: Any) -> dict[str, pd.DataFrame]:
    """A section's tables with dates in 和暦 and Japan time, numbers with separators."""
    from workbench.controls.evidence import cell_text

    return {title: pd.DataFrame([{c: cell_text(v) for c, v in r.items()} for r in rows])
            for title, rows in section.tables.items() if rows}


def evidence_charts(report: Any) -> Any:
    """Two charts, each in one unit: promises by result (項目), audit records per day (件)."""
    import matplotlib.pyplot as plt

    from workbench.controls.evidence import STATUSES

    use_japanese_font()
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4), layout="constrained")
    counts = report.counts()
    words = [STATUSES[k][0] for k in counts]
    left.bar(words, list(counts.values()), color=["#2e7d32", "#c62828", "#9e9e9e"])
    left.set_title("約束ごとの今月の結果（項目数）")
    left.set_ylabel("項目")
    for i, v in enumerate(counts.values()):
        left.text(i, v, f"{v:,}", ha="center", va="bottom")
    days = list(report.per_day)
    right.bar([str(int(d)) for d in days], [report.per_day[d] for d in days], color="#4C72B0")
    right.set_title(f"操作ログの記録件数（日別、{report.month_ja}）")
    right.set_xlabel("日")
    right.set_ylabel("件")
    if not days:
        right.text(0.5, 0.5, "記録なし", ha="center", va="center", transform=right.transAxes)
    return fig
