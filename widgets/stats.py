"""統計分析 — the analyst's screen (F8).

Choose a publication, build a table from its released dimensions, see it with suppressed
cells marked "x" (and true zeros "-"), export it as CSV or Excel; and charts people would
rather look at than read: an age pyramid by sex, income bands by ward, household sizes,
people by ward in code order, and registration and query progress by month.  Japanese
labels, drawn with matplotlib in Noto Sans CJK JP.  Every figure comes through a
``workbench.statistics.publishing`` service, so each is permission-checked and audited.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import ipywidgets as w
import numpy as np
import pandas as pd
import traitlets as t

from workbench.statistics import publishing
from workbench.statistics.mart import DIMENSIONS, TOTAL, StatTable

from .common import ActionButton, App, esc, num

__all__ = ["StatsApp", "StatsModel", "render_table"]

NONE = ("（なし） / none", "")
VALUES = [("人数 / count", ""), ("所得の合計 / sum of income", "income")]


def _font() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    for family in ("Noto Sans CJK JP", "Noto Sans JP", "IPAexGothic", "IPAGothic"):
        if family in names:
            matplotlib.rcParams["font.family"] = [family]
            break
    matplotlib.rcParams["axes.unicode_minus"] = False


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
    legend = (f"<div class='wb-legend'>x = 秘匿（一次 {num(c['primary'])}・二次 {num(c['secondary'])}・"
              f"過去の表との整合 {num(c['ledger'])}） / suppressed; - = 該当なし / true zero</div>")
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
        self.value = w.Dropdown(description="集計値 / Value", options=VALUES, value="", style=style)
        self.min_count = w.BoundedIntText(description="最小セル度数 / Min count", value=3, min=1, max=1000, style=style)
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

        self.refresh_button.on_click(lambda _b: self.refresh())
        self.build_button.on_click(lambda _b: self.build_table())
        self.csv_button.on_click(lambda _b: self.export_as("csv"))
        self.xlsx_button.on_click(lambda _b: self.export_as("xlsx"))
        self.charts_button.on_click(lambda _b: self.draw_charts())
        self.model.observe(self._show_publications, "publications")
        self.model.observe(self._show_table, "table")
        self.model.observe(self._show_charts, "charts")
        self.refresh()
        return [
            w.HBox([self.publication, self.refresh_button]),
            w.HTML("<h4>表の作成 / Table</h4>"),
            w.HBox([w.VBox([self.rows, self.cols, self.layers]), w.VBox([self.value, self.min_count, self.epsilon])]),
            self.build_button, self.table_html, w.HBox([self.csv_button, self.xlsx_button]), self.download,
            w.HTML("<h4>グラフ / Charts</h4><small>画面表示用（度数 3 未満は表示しません）。公表する表は上の「表を作成」で。"
                   " / For viewing; counts below 3 hidden. Tables to publish: build them above.</small>"),
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

    def build_table(self) -> None:
        if not self.publication.value:
            self.banner.info("公表データを選んでください。", "Choose a publication.")
            return
        eps = float(self.epsilon.value) or None
        result = self.call(publishing.table, self.publication.value, self.rows.value, self.cols.value or None,
                           self.layers.value or None, value=self.value.value or None,
                           min_count=int(self.min_count.value), epsilon=eps)
        if result is not None:
            self.banner.clear()
            self.model.table = result

    def export_as(self, kind: str) -> None:
        table: StatTable | None = self.model.table
        if table is None:
            return
        data = table.to_csv() if kind == "csv" else table.to_xlsx()
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
        data = self.call(publishing.chart_data, self.publication.value)
        if data is not None:
            self.model.charts = charts(data)


def charts(data: dict[str, pd.DataFrame]) -> dict[str, bytes]:
    """PNG charts with Japanese labels from :func:`workbench.statistics.publishing.chart_data`."""
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
