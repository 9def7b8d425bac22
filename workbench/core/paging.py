"""Lists that scale: one page of a list, fetched in the database (一覧のページ送り, issue 11 item 6).

Every list of people or records a screen shows is read one page at a time: the database
sorts, filters, counts and groups the *whole* selection, and hands back only the rows of the
page.  A screen never counts or charts the rows it happened to fetch.

* :class:`PageRequest` — which page (offset, limit ≤ :data:`MAX_LIMIT`), the sort key (one
  of the list's own keys, never SQL), the direction, a free-text filter and field filters;
* :class:`Page` — the rows, the total from the database, and counts per group
  (GROUP BY over the whole selection, e.g. 種類別の件数);
* :class:`ListSpec` — what a list may be sorted, searched and filtered by (a whitelist);
* :func:`fetch` — the three queries (count, groups, page), all with bound parameters.

A bad sort key, filter field or filter value is a :class:`~workbench.core.errors.InvalidInput` in
Japanese and English; the filter text is always a bound parameter compared literally
(``%`` and ``_`` are characters, not patterns).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import duckdb

from workbench.core.errors import InvalidInput

if TYPE_CHECKING:
    from workbench.core.workspace import Unit

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "MAX_TEXT", "ListSpec", "Page", "PageRequest", "SortKey", "fetch", "fetch_page"]

#: The most rows one page may carry.
MAX_LIMIT = 200
DEFAULT_LIMIT = 50
#: The longest free-text filter, in characters.
MAX_TEXT = 200

T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True)
class PageRequest:
    """Which page of a list (ページの指定): rows ``offset`` … ``offset + limit - 1`` of the
    selection sorted by ``sort`` (``None``: the list's default), filtered by ``text`` (any of the
    list's searchable columns contains it) and by ``filters`` (field → value, all must hold)."""

    offset: int = 0
    limit: int = DEFAULT_LIMIT
    sort: str | None = None
    descending: bool = False
    text: str = ""
    filters: Mapping[str, str] = field(default_factory=dict)

    def next(self) -> PageRequest:
        return PageRequest(self.offset + self.limit, self.limit, self.sort, self.descending, self.text, dict(self.filters))


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its rows, and ``total`` — how many the whole selection holds,
    counted by the database.  ``groups`` are counts per value over the whole selection
    (name → value → count), for charts."""

    rows: list[T]
    total: int
    offset: int
    limit: int
    sort: str
    descending: bool
    groups: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def first(self) -> int:
        """The 1-based number of the first row shown (0 when the page is empty)."""
        return self.offset + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.offset + len(self.rows)

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.rows) < self.total

    @property
    def has_previous(self) -> bool:
        return self.offset > 0

    def map(self, fn: Callable[[T], U]) -> Page[U]:
        return Page([fn(r) for r in self.rows], self.total, self.offset, self.limit, self.sort, self.descending, self.groups)

    def summary_ja(self) -> str:
        """「1–50 / 全 12,345 件」."""
        return f"{self.first:,}–{self.last:,} / 全 {self.total:,} 件"


@dataclass(frozen=True)
class SortKey:
    """A key a list may be sorted by: the SQL expression (ours, never the caller's) and its words."""

    sql: str
    ja: str
    en: str


@dataclass(frozen=True)
class ListSpec:
    """What one list may be sorted, searched and filtered by.

    ``source`` is the FROM clause, ``where`` the condition every row of the list meets,
    ``tiebreak`` a unique column so that paging is stable; ``search`` the SQL expressions the
    free text is looked for in; ``filters`` field → (SQL expression, allowed values or ``None``
    for any value); ``groups`` name → SQL expression counted over the whole selection.

    ``page_join`` (e.g. ``LEFT JOIN (SELECT person_id, … FROM person_numbers) USING (person_id)``) adds
    columns to the rows of the page only, after the page is chosen: it must be a LEFT JOIN on a key that
    is unique on its side, so it neither adds nor removes a row, and the list's sorts, search, filters,
    groups and ``where`` must not name its columns — then the count, the groups and the choice of the
    page read ``source`` alone, and the join runs for one page's rows instead of the whole selection
    (four times) (issue 19 item 5: the review queue page at 1,000,000 people)."""

    name_ja: str
    name_en: str
    source: str
    sorts: Mapping[str, SortKey]
    default_sort: str
    tiebreak: str
    search: Sequence[str] = ()
    filters: Mapping[str, tuple[str, Mapping[str, Any] | None]] = field(default_factory=dict)
    groups: Mapping[str, str] = field(default_factory=dict)
    where: str = "TRUE"
    page_join: str = ""

    def sort_options(self) -> list[tuple[str, str]]:
        """(Japanese words, key) for a sort menu."""
        return [(k.ja, key) for key, k in self.sorts.items()]


def _check(spec: ListSpec, request: PageRequest) -> tuple[str, dict[str, Any]]:
    """The WHERE clause and its parameters for ``request``; refuses what the list does not allow."""
    if not isinstance(request, PageRequest):
        raise InvalidInput("A page request is required.", "ページの指定が必要です。", reason="bad_page")
    if isinstance(request.offset, bool) or not isinstance(request.offset, int) or request.offset < 0:
        raise InvalidInput("The page offset must be a whole number of 0 or more.",
                           "ページの開始位置は 0 以上の整数で指定してください。", reason="bad_offset")
    if isinstance(request.limit, bool) or not isinstance(request.limit, int) or not 1 <= request.limit <= MAX_LIMIT:
        raise InvalidInput(f"A page holds 1 to {MAX_LIMIT} rows.",
                           f"1ページの件数は 1〜{MAX_LIMIT:,} 件で指定してください。", reason="bad_limit")
    if request.sort is not None and request.sort not in spec.sorts:
        raise InvalidInput(f"The {spec.name_en} cannot be sorted by that; use one of {', '.join(spec.sorts)}.",
                           f"{spec.name_ja}はその項目では並べ替えられません"
                           f"（{'、'.join(k.ja for k in spec.sorts.values())} のいずれか）。", reason="bad_sort")
    text = request.text if isinstance(request.text, str) else None
    if text is None:
        raise InvalidInput("The filter text must be text.", "絞り込みの文字列が正しくありません。", reason="bad_filter")
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"The filter text is too long (at most {MAX_TEXT} characters).",
                           f"絞り込みの文字列が長すぎます（{MAX_TEXT} 文字まで）。", reason="bad_filter")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InvalidInput("The filter text contains control characters.",
                           "絞り込みの文字列に制御文字が含まれています。", reason="bad_filter")
    clauses = [f"({spec.where})"]
    params: dict[str, Any] = {}
    if text and spec.search:
        params["q"] = text.lower()
        clauses.append("(" + " OR ".join(f"contains(lower(coalesce(CAST({expr} AS VARCHAR), '')), $q)"
                                         for expr in spec.search) + ")")
    for i, (name, value) in enumerate(sorted(dict(request.filters).items())):
        if name not in spec.filters:
            raise InvalidInput(f"The {spec.name_en} cannot be filtered by {name!r}.",
                               f"{spec.name_ja}はその項目では絞り込めません。", reason="bad_filter")
        expr, allowed = spec.filters[name]
        if value is None or value == "":
            continue
        if not isinstance(value, str) or (allowed is not None and value not in allowed):
            raise InvalidInput(f"Unknown value for the filter {name!r}.",
                               "絞り込みの値が正しくありません。", reason="bad_filter")
        params[f"f{i}"] = value
        clauses.append(f"{expr} = $f{i}")
    return " AND ".join(clauses), params


def fetch(con: duckdb.DuckDBPyConnection, spec: ListSpec, request: PageRequest, columns: str, *,
          where: str = "TRUE", params: Mapping[str, Any] | None = None) -> Page[tuple[Any, ...]]:
    """One page of ``spec`` as raw rows of ``columns``, with the total and group counts of the
    whole selection, all from the database.  ``where`` narrows the list for this caller (e.g. to
    the runs they may see), with its own named ``params`` (never the caller's text)."""
    checked, bound = _check(spec, request)
    where = f"{checked} AND ({where})"
    params = {**bound, **(params or {})}
    sort = request.sort or spec.default_sort
    direction = "DESC" if request.descending else "ASC"
    base = f"FROM {spec.source} WHERE {where}"

    def run(sql: str) -> duckdb.DuckDBPyConnection:
        # DuckDB refuses a named parameter the statement does not use
        return con.execute(sql, {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)})

    (total,) = run(f"SELECT count(*) {base}").fetchone() or (0,)
    groups: dict[str, dict[str, int]] = {}
    for name, expr in spec.groups.items():
        groups[name] = {str(k): int(n) for k, n in run(
            f"SELECT {expr} AS g, count(*) {base} GROUP BY 1 ORDER BY 2 DESC, 1").fetchall()}
    order = f"{spec.sorts[sort].sql} {direction} NULLS LAST, {spec.tiebreak} {direction}"
    window = f"ORDER BY {order} LIMIT {int(request.limit)} OFFSET {int(request.offset)}"
    if spec.page_join:  # the page's rows first, then the columns the join adds to them (the same rows, in order)
        rows = run(f"SELECT {columns} FROM (SELECT * {base} {window}) AS page_rows {spec.page_join}"
                   f" ORDER BY {order}").fetchall()
    else:
        rows = run(f"SELECT {columns} {base} {window}").fetchall()
    return Page(rows, int(total), request.offset, request.limit, sort, request.descending, groups)


def fetch_page(unit: Unit, spec: ListSpec, request: PageRequest, columns: str, *, where: str = "TRUE",
               params: Mapping[str, Any] | None = None, **note: Any) -> Page[tuple[Any, ...]]:
    """:func:`fetch` inside a service, with the same audit note for every list: the field
    filters, whether free text was given (never the text: it may name someone), the sort, the
    offset and the counts; ``note`` adds what the service's own filters were."""
    page = fetch(unit.con, spec, request, columns, where=where, params=params)
    unit.note(filters=dict(request.filters), text=bool(request.text.strip()), sort=page.sort, offset=page.offset,
              count=len(page.rows), total=page.total, **note)
    return page
