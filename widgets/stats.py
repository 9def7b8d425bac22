"""統計分析 — the analyst's screen (F8), and the registrar's publishing.

Choose a publication, build a table (counts, income sums, means or quantile bands; up to
three dimensions and a filter) from the statistics service — perturbed by the cell-key method,
small cells "x", true zeros "-" — export it as CSV or Excel (recorded exports); and charts:
an age pyramid by sex, income bands by ward, household sizes, people by ward in code order,
registration and query progress by month.  Staff holding ``stats.publish`` publish from the
same screen.  Every figure comes through a ``workbench.statistics.publishing`` service, so
each is permission-checked, recorded in the release ledger and audited.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import ipywidgets as w
import numpy as np
import pandas as pd
import traitlets as t

from workbench.core.permissions import Permission
from workbench.statistics import publishing
from workbench.statistics.client import japanese_font
from workbench.statistics.tables import DIMENSIONS, TOTAL, StatTable

from .common import ActionButton, App, esc, num

__all__ = ["StatsApp", "StatsModel", "render_table"]

NONE = ("（なし） / none", "")
VALUES = [("人数 / count", "count"), ("所得の合計 / sum of income", "sum"), ("平均所得 / mean income", "mean"),
          ("所得の中央値（階級） / median income band", "quantile")]


def _font() -> None:
    import matplotlib

    matplotlib.use("Agg")
    japanese_font()


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def render_table(table: StatTable) -> str:
    """The table as HTML: "x" cells shaded, totals bold."""
    frame = table.to_frame()
    head = "".join(f"<th style='padding:2px 6px;border-bottom:1px solid #999'>{esc(c)}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        total_row = TOTAL in row[: len(table.dims) - 1 if len(table.dims) > 1 else 1]
        for i, v in enumerate(row):
            text = esc(v)
            style = "padding:2px 6px;text-align:right"
            if v == "x":
                style += ";background:#fde0dc;color:#b71c1c;font-weight:bold"
                text = "<span class='wb-x' title='秘匿 / suppressed'>x</span>"
            elif i < (len(table.dims) - 1 if len(table.dims) > 1 else 1):
                style = "padding:2px 6px;text-align:left"
            if total_row or frame.columns[i] == TOTAL:
                style += ";font-weight:bold"
            cells.append(f"<td style='{style}'>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    notes = "".join(f"<li>{esc(ja)}<br><small>{esc(en)}</small></li>" for ja, en in table.notes)
    c = table.counts()
    legend = (f"<div class='wb-legend'>x = 秘匿 {num(c['suppressed'])} セル / suppressed; - = 該当なし / true zero; "
              "数値はセルキー法で攪乱（多くは±3以内、最大±16） / perturbed by the cell-key method</div>")
    return (f"<div class='wb-stat-table'><b>{esc(table.title())}</b> "
            f"<small>{esc(table.publication_id)} / {esc(table.release_id)}</small>{legend}"
            f"<ul>{notes}</ul><div style='max-height:480px;overflow:auto'>"
            f"<table style='border-collapse:collapse;font-size:90%'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></div></div>")


class StatsModel(t.HasTraits):
    publications: t.List[Any] = t.List()
    table = t.Any(None)
    charts = t.Dict()


class StatsApp(App):
    title_key = "app_stats"

    def build(self) -> list[w.Widget]:
        self.model = StatsModel()
        style = {"description_width": "160px"}
        dims = [(f"{d.label_ja} / {d.label_en}", d.name) for d in DIMENSIONS.values()]
        self.publication = w.Dropdown(description="公表データ / Publication", options=[], style=style)
        self.refresh_button = ActionButton(description="一覧を更新 / Refresh", icon="refresh")
        self.rows = w.Dropdown(description="表側 / Rows", options=dims, value="ward", style=style)
        self.cols = w.Dropdown(description="表頭 / Columns", options=[NONE, *dims], value="age_band", style=style)
        self.layers = w.Dropdown(description="層 / Layers", options=[NONE, *dims], value="sex", style=style)
        self.value = w.Dropdown(description="集計値 / Value", options=VALUES, value="count", style=style)
        self.filter_var = w.Dropdown(description="絞り込み / Filter", options=[NONE, *[
            (f"{d.label_ja} / {d.label_en}", d.name) for d in DIMENSIONS.values() if d.name == d.base]], value="",
            style=style)
        self.filter_values = w.SelectMultiple(description="区分 / Categories", options=[], rows=4, style=style)
        self.min_count = w.BoundedIntText(description="最小セル度数 / Min count", value=3, min=0, max=1000, style=style)
        self.epsilon = w.BoundedFloatText(description="ε（0 = 使わない）", value=0.0, min=0.0, max=100.0, step=0.1,
                                          style=style)
        self.build_button = ActionButton(description="表を作成 / Build table", button_style="primary", icon="table")
        self.table_html = w.HTML()
        self.csv_button = ActionButton(description="CSV", icon="download", disabled=True)
        self.xlsx_button = ActionButton(description="Excel", icon="download", disabled=True)
        self.download = w.HTML()
        self.charts_button = ActionButton(description="グラフを表示 / Charts", icon="bar-chart")
        self.chart_box = w.VBox([])
        self.export: dict[str, bytes] = {}
        self.budget_html = w.HTML()
        self.publish_k = w.BoundedIntText(description="k", value=10, min=2, max=1000, style=style)
        self.publish_button = ActionButton(description="公表データを作成 / Publish", button_style="warning",
                                           icon="upload")
        self.publish_html = w.HTML()
        self.filter_var.observe(lambda _c: self._show_filter_values(), "value")
        self.publication.observe(lambda _c: self._show_filter_values(), "value")
        self.publish_button.on_click(lambda _b: self.publish())

        self.refresh_button.on_click(lambda _b: self.refresh())
        self.build_button.on_click(lambda _b: self.build_table())
        self.csv_button.on_click(lambda _b: self.export_as("csv"))
        self.xlsx_button.on_click(lambda _b: self.export_as("xlsx"))
        self.charts_button.on_click(lambda _b: self.draw_charts())
        self.model.observe(self._show_publications, "publications")
        self.model.observe(self._show_table, "table")
        self.model.observe(self._show_charts, "charts")
        staff = Permission.STATS_PUBLISH in self.session.permissions
        analyst = Permission.STATS_READ in self.session.permissions
        publish_box: list[w.Widget] = [
            w.HTML("<h4>公表データの作成 / Publish (統計担当 / staff)</h4><small>識別子を削除し準識別子を一般化した"
                   "統計用データを暗号化データベース内に作成します。分析担当には集計表だけが渡ります。 / Keeps the next "
                   "de-identified source inside the encrypted store; analysts only ever get tables.</small>"),
            w.HBox([self.publish_k, self.publish_button]), self.publish_html] if staff else []
        if not analyst:
            if not staff:
                self.refresh()  # shows the refusal
            return publish_box
        self.refresh()
        return [
            *publish_box,
            w.HBox([self.publication, self.refresh_button]), self.budget_html,
            w.HTML("<h4>表の作成 / Table</h4>"),
            w.HBox([w.VBox([self.rows, self.cols, self.layers]), w.VBox([self.value, self.min_count, self.epsilon]),
                    w.VBox([self.filter_var, self.filter_values])]),
            self.build_button, self.table_html, w.HBox([self.csv_button, self.xlsx_button]), self.download,
            w.HTML("<h4>グラフ / Charts</h4><small>表と同じ攪乱・秘匿済みの値です（各グラフも公表記録に残ります）。"
                   " / The same perturbed, suppressed cells as tables (each chart is recorded).</small>"),
            self.charts_button, self.chart_box,
        ]

    # -- views ---------------------------------------------------------------------------
    def _show_publications(self, _change: Any = None) -> None:
        live = [p for p in self.model.publications if p.status == "published"]
        options = [(f"{p.publication_id}（{p.published_at[:10]}、{num(p.persons)} 人、k={p.k_achieved}）", p.publication_id)
                   for p in reversed(live)]
        current = self.publication.value
        self.publication.options = options
        if current in [o[1] for o in options]:
            self.publication.value = current  # a newer publication never replaces the one open
        elif options:
            self.publication.value = options[0][1]  # nothing open yet: the newest
        if not options:
            self.banner.info("公表データがまだありません。統計担当に公表を依頼してください。",
                             "No publication yet; ask the statistics staff to publish one.")

    def _show_table(self, _change: Any = None) -> None:
        table: StatTable | None = self.model.table
        self.csv_button.disabled = self.xlsx_button.disabled = table is None
        self.table_html.value = "" if table is None else render_table(table)
        self.download.value = ""

    def _show_charts(self, _change: Any = None) -> None:
        self.chart_box.children = [w.Image(value=png, format="png", layout=w.Layout(max_width="760px"))
                                   for png in self.model.charts.values()]

    # -- handlers --------------------------------------------------------------------------
    def refresh(self) -> None:
        result = self.call(publishing.publications)
        if result is not None:
            self.model.publications = list(result)
            budget = self.call(publishing.budget)
            if budget is not None:
                self.budget_html.value = (f"<small>ε の残り（{esc(budget['period'])}） / ε left: "
                                          f"{budget['left']:g} / {budget['budget']:g}</small>")

    def _show_filter_values(self) -> None:
        if not self.filter_var.value or not self.publication.value:
            self.filter_values.options = []
            return
        info = self.call(publishing.describe, self.publication.value)
        if info is not None:
            self.filter_values.options = list(info["categories"].get(self.filter_var.value, []))

    def _request(self) -> dict[str, Any]:
        measure = self.value.value or "count"
        filters = ({self.filter_var.value: list(self.filter_values.value)}
                   if self.filter_var.value and self.filter_values.value else None)
        return dict(filters=filters, measure=measure, min_count=int(self.min_count.value),
                    quantile=0.5 if measure == "quantile" else None)

    def publish(self) -> None:
        result = self.call(publishing.publish, k=int(self.publish_k.value))
        if result is not None:
            self.banner.success(result.message_ja, result.message_en)
            self.publish_html.value = f"<b>{esc(result.publication_id)}</b>: {num(result.records)} 人"

    def build_table(self) -> None:
        if not self.publication.value:
            self.banner.info("公表データを選んでください。", "Choose a publication.")
            return
        eps = float(self.epsilon.value) or None
        result = self.call(publishing.table, self.publication.value, self.rows.value, self.cols.value or None,
                           self.layers.value or None, **self._request(), epsilon=eps)
        if result is not None:
            self.banner.clear()
            self.model.table = result
            if eps is not None:
                self.refresh()

    def export_as(self, kind: str) -> None:
        table: StatTable | None = self.model.table
        if table is None:
            return
        dims = [d for d in table.dims]
        request = dict(filters=table.filters or None, measure=table.measure, min_count=table.min_count,
                       quantile=table.quantile)
        if table.epsilon is not None:
            data = table.to_csv() if kind == "csv" else table.to_xlsx()  # already released; no new noise
        else:
            got = self.call(publishing.export, table.publication_id, *dims, fmt=kind, **request)
            if got is None:
                return
            table, data = got
        self.export[kind] = data
        name = f"{table.publication_id}_{table.release_id}.{kind}"
        mime = "text/csv" if kind == "csv" else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        href = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        self.download.value = (f"<a class='wb-download' download='{esc(name)}' href='{href}'>"
                               f"{esc(name)} をダウンロード / download</a>")

    def draw_charts(self) -> None:
        if not self.publication.value:
            self.banner.info("公表データを選んでください。", "Choose a publication.")
            return
        data = self.call(publishing.chart, self.publication.value)
        if data is not None:
            self.model.charts = charts(data)


def charts(data: dict[str, pd.DataFrame]) -> dict[str, bytes]:
    """PNG charts with Japanese labels from :func:`workbench.statistics.publishing.chart`."""
    _font()
    import matplotlib.pyplot as plt

    out: dict[str, bytes] = {}
    age = data["age_sex"].copy()
    age["n"] = age["n"].astype("Float64").fillna(0).astype(float)
    pivot = age.pivot_table(index="age_band", columns="sex", values="n", aggfunc="sum", observed=False).fillna(0)
    fig, ax = plt.subplots(figsize=(7, 5))
    bands = [str(b) for b in pivot.index]
    male = pivot["男"].to_numpy() if "男" in pivot else np.zeros(len(bands))
    female = pivot["女"].to_numpy() if "女" in pivot else np.zeros(len(bands))
    ax.barh(bands, -male, color="#1565c0", label="男")
    ax.barh(bands, female, color="#c62828", label="女")
    ax.set_title("年齢階級・男女別 人口ピラミッド")
    ax.set_xlabel("人数（左: 男、右: 女）")
    ticks = ax.get_xticks()
    ax.set_xticks(ticks, [f"{abs(int(x)):,}" for x in ticks])
    ax.legend()
    out["pyramid"] = _png(fig)

    wi = data["ward_income"].copy()
    wi["n"] = wi["n"].astype("Float64").fillna(0).astype(float)
    piv = wi.pivot_table(index="ward", columns="income_band", values="n", aggfunc="sum", observed=False).fillna(0)
    share = piv.div(piv.sum(axis=1).replace(0, 1), axis=0)
    fig, ax = plt.subplots(figsize=(8, max(3, 0.25 * len(share) + 1)))
    left = np.zeros(len(share))
    colors = plt.get_cmap("viridis")(np.linspace(0, 1, max(1, share.shape[1])))
    for color, col in zip(colors, share.columns, strict=False):
        ax.barh([str(i) for i in share.index], share[col].to_numpy(), left=left, color=color, label=str(col))
        left += share[col].to_numpy()
    ax.invert_yaxis()
    ax.set_title("区市町村別 所得階級の構成比")
    ax.set_xlabel("構成比")
    ax.legend(fontsize=7, bbox_to_anchor=(1.01, 1), loc="upper left")
    out["ward_income"] = _png(fig)

    hh = data["household"].copy()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar([str(s) for s in hh["household_size"]], hh["n"].astype("Float64").fillna(0).astype(float), color="#2e7d32")
    ax.set_title("世帯人員別 人数")
    ax.set_xlabel("世帯人員")
    ax.set_ylabel("人数")
    out["household"] = _png(fig)

    wd = data["ward"].copy()
    fig, ax = plt.subplots(figsize=(8, max(3, 0.22 * len(wd) + 1)))
    ax.barh([str(x) for x in wd["ward"]], wd["n"].astype("Float64").fillna(0).astype(float), color="#6a1b9a")
    ax.invert_yaxis()
    ax.set_title("区市町村別 人数（団体コード順）")
    ax.set_xlabel("人数")
    out["ward"] = _png(fig)

    act = data["activity"]
    if len(act):
        fig, ax = plt.subplots(figsize=(7, 3.5))
        labels = {"registered": "個人番号の登録", "queried": "照会", "answered": "回答"}
        for kind, group in act.groupby("kind"):
            g = group.sort_values("month")
            ax.plot(g["month"], g["n"].astype("Float64").fillna(0).astype(float).cumsum(), marker="o",
                    label=labels.get(str(kind), str(kind)))
        ax.set_title("登録・照会の進捗（累計、月別）")
        ax.set_ylabel("件数（累計）")
        ax.legend()
        out["activity"] = _png(fig)
    return out
