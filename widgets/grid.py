"""一覧表 — one data grid for every list of people or records (issue 11 item 6).

:class:`RecordGrid` shows one page of a list that pages in the database
(:mod:`workbench.core.paging`): the database sorts, filters and counts the whole selection, the
grid shows the page and 「1–50 / 全 12,345 件」.  Its toolbar has the filter box (絞り込み),
the sort field and direction (並べ替え・昇順/降順), 前へ / 次へ and the page size.

The table is itables' ``ITable`` widget (DataTables, an anywidget): rows are DOM text that a
browser test and a screen reader can read, a click selects a row (``selected_rows``), cells
do not wrap (``nowrap``) and a wide table scrolls sideways inside the grid.  DataTables' own
paging, search, ordering and info line are off: they would page and count only the rows of
the page and mislead.

The sepal_ui pattern: :class:`GridModel` holds the traits (offset, page size, sort,
direction, filter text, field filters, the selected row's key, the page); the view observes
it; the handlers call the ``fetch`` function the app hands in (which calls a service).  The
selection is the key of a row, moved only by the person: a refresh keeps it while the row is
on the page and drops it (never moves it to another row) when the row has gone.

**At 1024 px** (issue 20 item 8) the key columns stay in view: a column marked ``minor`` is left out
of the table on a screen narrower than 1,280 px unless 「すべての列を表示」 is ticked, and the chosen
row is shown whole, every column with its header, in a detail pane right below the table.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as w
import pandas as pd
import traitlets as t

from workbench.core.paging import DEFAULT_LIMIT, MAX_LIMIT, Page, PageRequest

from .common import ActionButton, esc, num

__all__ = ["GRID_STYLE", "GridColumn", "GridModel", "RecordGrid"]

PAGE_SIZES = (20, 50, 100, MAX_LIMIT)

#: Cells on one line, the grid scrolling sideways within its own box; the selected row marked.
GRID_STYLE = (
    "<style>.wb-grid table.dataTable td,.wb-grid table.dataTable th{white-space:nowrap;word-break:keep-all}"
    ".wb-grid .dt-container{max-width:100%}.wb-grid .dt-scroll-body{max-height:none}"
    ".wb-grid table.dataTable tbody tr{cursor:pointer}"
    ".wb-grid-toolbar .widget-label{min-width:0}"
    "@media (max-width:1279px){.wb-grid:not(.wb-all) .wb-minor{display:none}}"
    ".wb-grid-detail dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:4px 0}"
    ".wb-grid-detail dt{color:#555}.wb-grid-detail dd{margin:0;overflow-wrap:anywhere}</style>"
)


@dataclass(frozen=True)
class GridColumn:
    """One column: its Japanese header and how a row becomes the cell's text."""

    title: str
    cell: Callable[[Any], Any]
    numeric: bool = False
    #: Not a key column: left out on a narrow screen (below 1,280 px) unless all columns are asked for;
    #: always in the chosen row's detail pane.
    minor: bool = False

    def text(self, row: Any) -> str:
        value = self.cell(row)
        if value is None or value == "":
            return "-" if self.numeric else ""
        if self.numeric and isinstance(value, (int, float)) and not isinstance(value, bool):
            return num(value)
        return str(value)


class GridModel(t.HasTraits):
    offset = t.Int(0)
    page_size = t.Int(DEFAULT_LIMIT)
    sort = t.Unicode("")
    descending = t.Bool(False)
    text = t.Unicode("")
    filters = t.Dict()
    #: The key of the row the person chose ("" when none).
    selected = t.Unicode("")
    #: The last page fetched (workbench.core.paging.Page), or None.
    page = t.Any(None)


def _table() -> Any:
    from itables import options
    from itables.widget import ITable

    options.warn_on_undocumented_option = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ITable(pd.DataFrame(), **_TABLE_OPTIONS)


_TABLE_OPTIONS: dict[str, Any] = dict(
    paging=False, searching=False, info=False, ordering=False, showIndex=False, scrollX=True,
    # a long page scrolls inside the grid, its header kept in view, the actions below it stay near
    scrollY="min(60vh, 560px)", scrollCollapse=True,
    select={"style": "single", "info": False}, classes="display nowrap compact cell-border",
    layout={"topStart": None, "topEnd": None, "bottomStart": None, "bottomEnd": None},
    language={"emptyTable": "該当するものはありません"}, style="width:100%;margin:0",
)


class RecordGrid(w.VBox):
    """A list that pages in the database, as a data grid with a toolbar.

    ``fetch`` takes a :class:`~workbench.core.paging.PageRequest` and returns a
    :class:`~workbench.core.paging.Page` (or ``None`` when the service refused; the app's banner
    says why).  ``key`` names a row (its record number); ``sorts`` are the list's sort keys
    as (Japanese words, key).  ``on_select`` is called with the chosen row (or ``None``)."""

    def __init__(self, *, fetch: Callable[[PageRequest], Page[Any] | None], columns: Sequence[GridColumn],
                 key: Callable[[Any], str], sorts: Sequence[tuple[str, str]], default_sort: str = "",
                 descending: bool = False, page_size: int = DEFAULT_LIMIT, searchable: bool = True,
                 placeholder: str = "番号・名前などの一部", on_select: Callable[[Any], None] | None = None,
                 css_class: str = "", autoload: bool = True, empty: str = "該当するものはありません",
                 person_of: Callable[[Any], str | None] | None = None,
                 on_person: Callable[[str], None] | None = None) -> None:
        self.model = GridModel(sort=default_sort or (sorts[0][1] if sorts else ""), descending=descending,
                               page_size=page_size)
        self._fetch, self.columns, self._key, self._on_select = fetch, list(columns), key, on_select
        self._syncing = False
        self.empty = empty
        self.filter_text = w.Text(description="絞り込み", placeholder=placeholder, continuous_update=False,
                                  style={"description_width": "70px"}, layout=w.Layout(width="300px"))
        self.search_button = ActionButton(description="検索", icon="search", layout=w.Layout(width="auto"))
        self.sort_field = w.Dropdown(description="並べ替え", options=list(sorts), value=self.model.sort or None,
                                     style={"description_width": "70px"}, layout=w.Layout(width="230px"))
        self.sort_direction = w.Dropdown(options=[("昇順（古い・小さい順）", False), ("降順（新しい・大きい順）", True)],
                                         value=descending, layout=w.Layout(width="190px"))
        self.page_size = w.Dropdown(description="表示件数", options=[(f"{n:,} 件", n) for n in PAGE_SIZES],
                                    value=page_size if page_size in PAGE_SIZES else DEFAULT_LIMIT,
                                    style={"description_width": "70px"}, layout=w.Layout(width="160px"))
        self.previous_button = ActionButton(description="前へ", icon="chevron-left", disabled=True,
                                            layout=w.Layout(width="auto"))
        self.next_button = ActionButton(description="次へ", icon="chevron-right", disabled=True,
                                        layout=w.Layout(width="auto"))
        self.summary = w.HTML(layout=w.Layout(margin="0 8px"))
        #: A row that is (or names) a person: 個人の照会 opens that person's page.
        self._person_of, self._on_person = person_of, on_person
        self.person_button = ActionButton(description="個人の照会を開く / Open person", icon="user", disabled=True,
                                          layout=w.Layout(width="auto", display="flex" if person_of and on_person else "none"))
        self.person_button.on_click(lambda _b: self.open_person())
        #: 「すべての列を表示」: only when some columns are minor (left out on a narrow screen).
        self.all_columns = w.Checkbox(description="すべての列を表示 / all columns", indent=False, value=False,
                                      layout=w.Layout(width="auto", display="flex" if any(c.minor for c in columns)
                                                      else "none"))
        self.all_columns.observe(lambda c: self._all_columns(bool(c["new"])), "value")
        #: The chosen row, every column with its header (the detail pane, below the table).
        self.detail = w.HTML()
        self.detail.add_class("wb-grid-detail")
        self.table = _table()
        self.table.update(language={"emptyTable": empty})
        for control in (self.filter_text, self.sort_field, self.sort_direction, self.page_size):
            control.observe(self._changed, "value")
        self.search_button.on_click(lambda _b: self._changed())
        self.previous_button.on_click(lambda _b: self.previous())
        self.next_button.on_click(lambda _b: self.next())
        self.table.observe(self._table_selected, "selected_rows")
        self.model.observe(self._show_page, "page")
        self.model.observe(self._show_selected, "selected")
        filters = [self.filter_text, self.search_button] if searchable else []
        toolbar = w.HBox([*filters, self.sort_field, self.sort_direction],
                         layout=w.Layout(flex_flow="row wrap", align_items="center"))
        pager = w.HBox([self.previous_button, self.next_button, self.summary, self.page_size, self.all_columns,
                        self.person_button],
                       layout=w.Layout(flex_flow="row wrap", align_items="center"))
        toolbar.add_class("wb-grid-toolbar")
        pager.add_class("wb-grid-toolbar")
        self.table_box = w.Box([self.table], layout=w.Layout(width="100%", overflow="auto"))
        self.table_box.add_class("wb-grid")
        if css_class:
            self.table_box.add_class(css_class)
        # the pager above the table: the count and 次へ are where the eye is, not below 50 rows
        super().__init__([w.HTML(GRID_STYLE), toolbar, pager, self.table_box, self.detail], layout=w.Layout(width="100%"))
        self.add_class("wb-record-grid")
        if autoload:
            self.refresh()

    # -- the request -------------------------------------------------------------------------
    def request(self) -> PageRequest:
        m = self.model
        return PageRequest(offset=m.offset, limit=m.page_size, sort=m.sort or None, descending=m.descending,
                           text=m.text, filters={k: v for k, v in m.filters.items() if v})

    def set_filters(self, **filters: str) -> None:
        """Field filters from the app's own controls (e.g. 種類, 状態); back to the first page."""
        self.model.filters = {**self.model.filters, **filters}
        self.model.offset = 0
        self.refresh()

    # -- handlers ----------------------------------------------------------------------------
    def _changed(self, _change: Any = None) -> None:
        m = self.model
        m.text = self.filter_text.value
        m.sort = self.sort_field.value or ""
        m.descending = bool(self.sort_direction.value)
        m.page_size = int(self.page_size.value)
        m.offset = 0
        self.refresh()

    def previous(self) -> None:
        if self.model.offset > 0:
            self.model.offset = max(self.model.offset - self.model.page_size, 0)
            self.refresh()

    def next(self) -> None:
        page: Page[Any] | None = self.model.page
        if page is not None and page.has_next:
            self.model.offset = page.offset + len(page.rows)
            self.refresh()

    def refresh(self) -> None:
        """Fetch the page the model names (again), keeping the person's selection if it is still there."""
        page = self._fetch(self.request())
        if page is not None:
            if not page.rows and page.offset > 0 and page.total > 0:  # the last page emptied: show the new last
                self.model.offset = max((page.total - 1) // self.model.page_size * self.model.page_size, 0)
                page = self._fetch(self.request()) or page
            self.model.page = page

    def open_person(self) -> None:
        """Open the chosen row's person (the person page's own service checks the permission)."""
        row = self.selected_row
        pid = self._person_of(row) if row is not None and self._person_of is not None else None
        if pid and self._on_person is not None:
            self._on_person(pid)

    def select(self, key: str) -> None:
        """Choose the row named ``key`` (as a click on it does)."""
        self.model.selected = key

    def open_at(self, key: str) -> bool:
        """Show the row named ``key`` (its ID in the filter box, so it is on the page) and choose it;
        ``False`` if no such row is in the list."""
        if self.filter_text.value != key:
            self.filter_text.value = key  # the filter's own handler fetches the page again
        else:
            self.refresh()
        if not any(self._key(r) == key for r in self.rows):
            return False
        self.select(key)
        return True

    @property
    def rows(self) -> list[Any]:
        page: Page[Any] | None = self.model.page
        return list(page.rows) if page is not None else []

    @property
    def text(self) -> str:
        """The headers, the cells and the count line as plain text (for tests and checks)."""
        import html
        import re

        shown = getattr(self, "shown", [])
        lines = ["\t".join(c.title for c in self.columns), *("\t".join(r) for r in shown)]
        if not shown:
            lines.append(self.empty)
        return "\n".join(lines) + "\n" + html.unescape(re.sub(r"<[^>]+>", "", self.summary.value))

    @property
    def value(self) -> str:
        """What the grid shows, as text: screen walks (the raw-code check) read it like an HTML widget's value."""
        return self.text

    @property
    def selected_row(self) -> Any:
        return next((r for r in self.rows if self._key(r) == self.model.selected), None) if self.model.selected else None

    # -- views -------------------------------------------------------------------------------
    def _show_page(self, _change: Any = None) -> None:
        page: Page[Any] | None = self.model.page
        rows = self.rows
        frame = pd.DataFrame([[c.text(r) for c in self.columns] for r in rows], columns=[c.title for c in self.columns],
                             dtype=object) if rows else pd.DataFrame({c.title: pd.Series([], dtype=object) for c in self.columns})
        #: The cells shown, as text (what a person reads), row by row.
        self.shown: list[list[str]] = frame.astype(str).values.tolist() if rows else []
        classes = {i: " ".join(n for n, on in (("dt-right", c.numeric), ("wb-minor", c.minor)) if on)
                   for i, c in enumerate(self.columns)}
        defs = [{"className": name, "targets": [i]} for i, name in classes.items() if name]
        self._syncing = True
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                extra: dict[str, Any] = {"columnDefs": defs} if defs else {}
                self.table.update(frame, selected_rows=[], **extra)
        finally:
            self._syncing = False
        total = page.total if page is not None else 0
        if page is None or not rows:
            self.summary.value = f"<span class='wb-grid-count'>0 / 全 {num(total)} 件</span>"
        else:
            self.summary.value = f"<span class='wb-grid-count'>{esc(page.summary_ja())}</span>"
        self.previous_button.disabled = page is None or not page.has_previous
        self.next_button.disabled = page is None or not page.has_next
        if self.model.selected and self.selected_row is None:
            self.model.selected = ""  # the chosen row has gone (acted on, filtered out): nothing is chosen
        else:
            self._show_selected()

    def _show_selected(self, _change: Any = None) -> None:
        key = self.model.selected
        index = next((i for i, r in enumerate(self.rows) if self._key(r) == key), None) if key else None
        wanted = [index] if index is not None else []
        row = self.selected_row
        self.person_button.disabled = not (row is not None and self._person_of is not None and self._person_of(row))
        self._show_detail(row)
        if list(self.table.selected_rows) != wanted:
            self._syncing = True
            try:
                self.table.selected_rows = wanted
            finally:
                self._syncing = False
        if _change is not None and self._on_select is not None:
            self._on_select(self.selected_row)

    def _table_selected(self, change: Any) -> None:
        if self._syncing:
            return
        chosen = list(change["new"] or [])
        rows = self.rows
        if len(chosen) == 1 and 0 <= chosen[0] < len(rows):
            self.model.selected = self._key(rows[chosen[0]])
        elif not chosen:
            self.model.selected = ""

    def _show_detail(self, row: Any) -> None:
        """The chosen row whole, every column with its header (what a narrow screen leaves out)."""
        if row is None:
            self.detail.value = ""
            return
        items = "".join(f"<dt>{esc(c.title)}</dt><dd>{esc(c.text(row)) or '-'}</dd>" for c in self.columns)
        self.detail.value = f"<div class='wb-grid-detail-pane'><small>選択した行 / chosen row</small><dl>{items}</dl></div>"

    def _all_columns(self, on: bool) -> None:
        if on:
            self.table_box.add_class("wb-all")
        else:
            self.table_box.remove_class("wb-all")
