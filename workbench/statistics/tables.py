"""Tables for analysts, built on the server (統計表の作成) — pure numpy, no database.

DESIGN §9, issue 21.  :func:`build` turns the records of one publication (category codes,
record keys, incomes; only people still in it) into one :class:`StatTable`:

* **counts, sums, means, quantile bands** over any 1–5 released dimensions, with filters on
  any released variable; every margin (総数) is a cell of its own;
* **cell-key perturbation** (:mod:`workbench.statistics.perturbation`) of every cell, margins
  included: the same cell gives the same number in every table, filter and margin;
* **"x" where the office wants it** (``min_count``): primary cells (a count below it; a sum
  with fewer contributors or dominated by two), then secondary cells until an LP attacker who
  knows every rule — the p-table's noise bound, "-" is a true zero, every "x" is at least 1,
  the lines add up — cannot narrow any primary cell below its claim
  (:func:`workbench.statistics.statistical_control.protect_noisy`);
* or **differentially private counts** (OpenDP), post-processed to non-negative integers with
  margins that are the sums of their cells, and their 95 % intervals.

Nothing here reads a file or the database; :mod:`workbench.statistics.publishing` gives it the
records and records what it returns.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from workbench.core.errors import InvalidInput
from workbench.statistics import perturbation as ck
from workbench.statistics import statistical_control as sdc

__all__ = [
    "DIMENSIONS",
    "MEASURES",
    "TOTAL",
    "Dimension",
    "StatTable",
    "TableSpec",
    "build",
    "neutralise",
    "spec",
    "write_shared",
]

TOTAL = "総数"
#: Suppression with its LP proof is offered up to this many cells (margins included).
MAX_SUPPRESSED_CELLS = 20_000
#: Most cells a table may have at all.
MAX_CELLS = 2_000_000
#: A quantile band is shown only for a cell of at least this many people.
QUANTILE_MIN = 10

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Dimension:
    """A released dimension: a variable of the publication, or a grouping of one."""

    name: str
    base: str
    label_ja: str
    label_en: str


#: Every dimension a table may use.  ``region`` and ``age_group`` group ``ward`` and ``age_band``.
DIMENSIONS: dict[str, Dimension] = {d.name: d for d in (
    Dimension("ward", "ward", "区市町村", "ward / city"),
    Dimension("region", "ward", "地域", "region"),
    Dimension("age_band", "age_band", "年齢（5歳階級）", "age band"),
    Dimension("age_group", "age_band", "年齢（3区分）", "age group"),
    Dimension("sex", "sex", "男女", "sex"),
    Dimension("household_size", "household_size", "世帯人員", "household size"),
    Dimension("income_band", "income_band", "所得階級", "income band"),
    Dimension("number_registered", "number_registered", "個人番号の登録", "Individual Number registered"),
)}
#: The variables of a publication, in the order they are stored.
BASES = ("ward", "age_band", "sex", "household_size", "income_band", "number_registered")

#: What a table can show: (Japanese, English).
MEASURES: dict[str, tuple[str, str]] = {
    "count": ("人数", "people"), "sum": ("所得金額の合計（円）", "sum of income (yen)"),
    "mean": ("平均所得（円）", "mean income (yen)"), "quantile": ("所得の分位（階級）", "income quantile (band)"),
}


def _age_low(label: str) -> int | None:
    m = re.match(r"^(\d+)", label)
    return int(m.group(1)) if m else None


def groups(dim: Dimension, base_categories: list[str]) -> list[tuple[str, list[int]]]:
    """The dimension's categories as (label, indices into the base variable's categories)."""
    if dim.name == "region":
        out: dict[str, list[int]] = {}
        for i, ward in enumerate(base_categories):
            label = ("区部" if ward.endswith("区") or ward == "区部" else
                     "市部" if ward.endswith("市") or ward == "市部" else "その他")
            out.setdefault(label, []).append(i)
        return [(k, out[k]) for k in ("区部", "市部", "その他") if k in out]
    if dim.name == "age_group":
        out = {}
        for i, band in enumerate(base_categories):
            low = _age_low(band)
            label = ("不詳" if low is None else "0〜14歳" if low < 15 else "15〜64歳" if low < 65 else "65歳以上")
            out.setdefault(label, []).append(i)
        return [(k, out[k]) for k in ("0〜14歳", "15〜64歳", "65歳以上", "不詳") if k in out]
    return [(c, [i]) for i, c in enumerate(base_categories)]


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^-?\d[\d,]*(\.\d+)?$")


def neutralise(text: str) -> str:
    """A cell safe in a spreadsheet: text starting with = + - @ tab or CR gets a leading '.

    A plain number (``-3``, ``1,234``) and the lone "-" of a true zero cannot be a formula
    and are left as they are.

    >>> neutralise("=HYPERLINK(\\"http://x\\")")
    '\\'=HYPERLINK("http://x")'
    >>> neutralise("1,234"), neutralise("-")
    ('1,234', '-')
    """
    if text.startswith(_FORMULA_START) and text != "-" and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def _refuse(en: str, ja: str, **details: Any) -> InvalidInput:
    return InvalidInput(en, ja, **details)


# ------------------------------------------------------------------------------ the request


@dataclass(frozen=True)
class TableSpec:
    """A validated request: dimensions, filters (base variable → category indices), measure."""

    dims: tuple[str, ...]
    filters: tuple[tuple[str, tuple[int, ...]], ...]
    measure: str
    min_count: int
    quantile: float | None
    epsilon: float | None

    def bases(self) -> list[str]:
        return list(dict.fromkeys([DIMENSIONS[d].base for d in self.dims] + [b for b, _ in self.filters]))

    def describe(self, categories: Mapping[str, list[str]]) -> dict[str, Any]:
        """The request in words (for the ledger and the audit): no value in it."""
        return {"dims": list(self.dims), "measure": self.measure, "min_count": self.min_count,
                "quantile": self.quantile, "epsilon": self.epsilon,
                "filters": {b: [categories[b][i] for i in idx] for b, idx in self.filters}}


def spec(categories: Mapping[str, list[str]], rows: str, cols: str | None = None, layers: str | None = None,
         *extra: str, filters: Mapping[str, Sequence[str]] | None = None, measure: str = "count",
         min_count: int = 3, quantile: float | None = None, epsilon: float | None = None) -> TableSpec:
    """Check a table request against a publication's categories; refuse in both languages."""
    names = [d for d in (rows, cols, layers, *extra) if d]
    known = [d.name for d in DIMENSIONS.values() if d.base in categories]
    for name in names:
        if not isinstance(name, str) or name not in known:
            raise _refuse(f"{name!r} is not a released dimension; released: {', '.join(known)}.",
                          f"{name!r} は公表された集計項目ではありません。使える項目: {', '.join(known)}",
                          reason="unknown_dimension")
    if not names:
        raise _refuse("Name at least the rows of the table.", "表側（行）の項目を指定してください。", reason="no_dimension")
    if len(names) > 5:
        raise _refuse("A table has at most five dimensions.", "集計項目は 5 つまでです。", reason="too_many_dimensions")
    if len(set(names)) != len(names) or len({DIMENSIONS[n].base for n in names}) != len(names):
        raise _refuse("Each dimension may appear once, and two groupings of one item cannot be crossed.",
                      "同じ項目（またはその区分）を二度指定することはできません。", reason="repeated_dimension")
    if measure not in MEASURES:
        raise _refuse(f"{measure!r} is not a measure; measures: {', '.join(MEASURES)}.",
                      f"{measure!r} は集計値ではありません（使える集計値: {', '.join(MEASURES)}）。", reason="unknown_measure")
    if not isinstance(min_count, int) or isinstance(min_count, bool) or not 0 <= min_count <= 1000:
        raise _refuse("The minimum cell count must be a whole number from 0 (no x) to 1,000.",
                      "最小セル度数は 0（秘匿なし）から 1,000 までの整数で指定してください。", reason="bad_min_count")
    if measure != "count" and min_count < 3:
        raise _refuse("Income sums, means and quantiles are always suppressed below 3 contributors.",
                      "所得の合計・平均・分位は、3 人未満のセルを必ず秘匿します。最小セル度数は 3 以上にしてください。",
                      reason="bad_min_count")
    if measure == "quantile":
        if not isinstance(quantile, (int, float)) or isinstance(quantile, bool) or not 0 < quantile < 1:
            raise _refuse("Give the quantile as a number between 0 and 1 (0.5 is the median).",
                          "分位は 0 より大きく 1 より小さい数で指定してください（中央値は 0.5）。", reason="bad_quantile")
        if "income_band" in [DIMENSIONS[n].base for n in names]:
            raise _refuse("A quantile of income cannot be taken within an income band.",
                          "所得階級を集計項目にした表では所得の分位は求められません。", reason="bad_quantile")
    elif quantile is not None:
        raise _refuse("A quantile is given only with the measure 'quantile'.",
                      "分位は集計値「quantile」のときだけ指定します。", reason="bad_quantile")
    if epsilon is not None:
        if not isinstance(epsilon, (int, float)) or isinstance(epsilon, bool) or not np.isfinite(epsilon) or epsilon <= 0:
            raise _refuse("ε must be a positive number.", "ε は正の数で指定してください。", reason="bad_epsilon")
        if measure != "count":
            raise _refuse("Differential privacy is available for counts only.",
                          "差分プライバシーは人数（度数）の表のみで使えます。", reason="value_on_count_only")
    chosen: list[tuple[str, tuple[int, ...]]] = []
    for base, wanted in (filters or {}).items():
        if base not in categories:
            raise _refuse(f"{base!r} cannot be filtered on; variables: {', '.join(categories)}.",
                          f"{base!r} では絞り込めません（使える項目: {', '.join(categories)}）。", reason="bad_filter")
        values = [wanted] if isinstance(wanted, str) else list(wanted)
        unknown = [v for v in values if v not in categories[base]]
        if unknown or not values:
            raise _refuse(f"Filter {base}: {unknown or values} are not its categories.",
                          f"絞り込み {base}: {unknown or values} は区分にありません。", reason="bad_filter")
        chosen.append((base, tuple(sorted({categories[base].index(v) for v in values}))))
    return TableSpec(tuple(names), tuple(sorted(chosen)), measure, min_count,
                     float(quantile) if quantile is not None else None,
                     float(epsilon) if epsilon is not None else None)


# ------------------------------------------------------------------------------ tables


@dataclass
class StatTable:
    """One released table, every margin included (総数 is the last category of each dimension).

    ``values`` holds what is shown (perturbed or differentially private), ``state`` whether a
    cell is shown, a true zero ("-") or suppressed ("x"); ``labels`` holds quantile bands."""

    publication_id: str
    release_id: str
    dims: list[str]
    categories: list[list[str]]          # with TOTAL last
    measure: str
    values: FloatArray
    state: IntArray
    min_count: int
    released_at: str
    released_by: str
    filters: dict[str, list[str]] = field(default_factory=dict)
    quantile: float | None = None
    epsilon: float | None = None
    accuracy_95: float | None = None
    labels: npt.NDArray[np.object_] | None = None
    notes: list[tuple[str, str]] = field(default_factory=list)

    # -- cells ----------------------------------------------------------------------
    def cell_text(self, index: tuple[int, ...]) -> str:
        s = int(self.state[index])
        if s in (sdc.PRIMARY, sdc.SECONDARY, sdc.LEDGER):
            return "x"
        if s == sdc.ZERO and self.epsilon is None:
            return "-"
        if self.labels is not None:
            return str(self.labels[index])
        return f"{round(float(self.values[index])):,}"

    def cell_value(self, index: tuple[int, ...]) -> float | None:
        """The released number (``None`` if suppressed or a quantile band)."""
        s = int(self.state[index])
        if s in (sdc.PRIMARY, sdc.SECONDARY, sdc.LEDGER) or self.labels is not None:
            return None
        return float(self.values[index])

    def digest(self) -> str:
        """SHA-256 of the cells as shown (state, rounded number, band): what the ledger keeps
        to recognise a table again — not a value anyone can read back."""
        import hashlib

        h = hashlib.sha256()
        hidden = np.isin(self.state, (sdc.PRIMARY, sdc.SECONDARY, sdc.LEDGER))
        h.update(np.where(hidden, sdc.PRIMARY, self.state).astype(np.int8).tobytes())
        h.update(np.where(hidden, 0, np.round(self.values)).astype(np.int64).tobytes())
        if self.labels is not None:
            h.update("\x1f".join(str(x) for x in self.labels.ravel()).encode())
        return h.hexdigest()

    def counts(self) -> dict[str, int]:
        """How many cells are shown, true zeros and "x" (primary and secondary together: which
        is which is not released)."""
        hidden = int(np.isin(self.state, (sdc.PRIMARY, sdc.SECONDARY, sdc.LEDGER)).sum())
        return {"cells": int(self.state.size), "shown": int((self.state == sdc.PUBLISHED).sum()),
                "zero": int((self.state == sdc.ZERO).sum()), "suppressed": hidden}

    # -- shapes for people ----------------------------------------------------------
    def to_frame(self, *, text: bool = True) -> pd.DataFrame:
        """Rows × columns as staff read it; a third or further dimension stacks blocks (layers
        first).  ``text=True``: "x", "-" and separators; ``False``: numbers, ``None`` for "x".

        >>> t.to_frame().head(3)                                        # doctest: +SKIP
             区市町村    男    女   総数
        0    千代田区   41    52    93
        """
        dims, cats = self.dims, self.categories
        labels = [DIMENSIONS[d].label_ja for d in dims]
        records = []
        if len(dims) == 1:
            for i, cat in enumerate(cats[0]):
                records.append({labels[0]: cat, MEASURES[self.measure][0]: self.cell_text((i,)) if text
                                else self.cell_value((i,))})
            return pd.DataFrame.from_records(records)
        outer = list(np.ndindex(*[len(c) for c in cats[2:]]))
        for layer in outer:
            for i, row_cat in enumerate(cats[0]):
                rec: dict[str, Any] = {}
                for d, li in enumerate(layer):
                    rec[labels[2 + d]] = cats[2 + d][li]
                rec[labels[0]] = row_cat
                for j, col_cat in enumerate(cats[1]):
                    key = (i, j, *layer)
                    rec[col_cat] = self.cell_text(key) if text else self.cell_value(key)
                records.append(rec)
        return pd.DataFrame.from_records(records)

    def to_long(self) -> pd.DataFrame:
        """One row per cell (dimensions, value, shown): the shape for charts and further work.

        >>> t.to_long().query("sex != '総数'").pivot(index="ward", columns="sex", values="value")  # doctest: +SKIP
        """
        rows = []
        for index in np.ndindex(*self.state.shape):
            rec: dict[str, Any] = {d: self.categories[k][i] for k, (d, i) in enumerate(zip(self.dims, index, strict=True))}
            rec["value"] = self.cell_value(index)
            rec["text"] = self.cell_text(index)
            rows.append(rec)
        return pd.DataFrame.from_records(rows)

    def title(self) -> str:
        parts = "×".join(DIMENSIONS[d].label_ja for d in self.dims)
        what = MEASURES[self.measure][0]
        if self.measure == "quantile" and self.quantile is not None:
            what = f"所得の{self.quantile:g}分位（階級）"
        where = "".join(f"［{'・'.join(v)}］" for v in self.filters.values())
        return f"{parts}別 {what}{where}"

    def legend(self) -> str:
        if self.epsilon is not None:
            return (f"差分プライバシー ε={self.epsilon:g}、各セルの95%区間 ±{self.accuracy_95:,.0f} / "
                    "differentially private counts")
        return ("x: 秘匿 / suppressed; -: 該当なし / true zero; 数値はセルキー法で攪乱（多くは±3以内、最大±16）/ "
                "perturbed by the cell-key method")

    def _sheet(self) -> list[list[str]]:
        frame = self.to_frame()
        rows = [[self.title()], [f"公表番号 / publication {self.publication_id}  表番号 / release {self.release_id}"],
                [self.legend()], [str(c) for c in frame.columns]]
        rows += [[str(v) for v in r] for r in frame.itertuples(index=False)]
        return rows

    def to_csv(self, path: str | Path | None = None) -> bytes:
        """UTF-8 with BOM (Excel opens it as it is); every cell neutralised against formulas.
        Written with mode 0640, readable by the analysts' group."""
        import csv

        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        for row in self._sheet():
            writer.writerow([neutralise(c) for c in row])
        data = ("\ufeff" + buf.getvalue()).encode("utf-8")
        if path is not None:
            write_shared(Path(path), data)
        return data

    def to_xlsx(self, path: str | Path | None = None) -> bytes:
        """An Excel workbook (openpyxl); numbers as numbers, every text cell neutralised."""
        from openpyxl import Workbook
        from openpyxl.styles import Alignment, Font

        wb = Workbook()
        ws = wb.active
        ws.title = self.release_id
        for r, row in enumerate(self._sheet(), start=1):
            for c, text in enumerate(row, start=1):
                plain = text.replace(",", "")
                if r > 4 and _PLAIN_NUMBER.match(text) and text != "-":
                    cell = ws.cell(row=r, column=c, value=float(plain) if "." in plain else int(plain))
                    cell.number_format = "#,##0"
                else:
                    cell = ws.cell(row=r, column=c, value=neutralise(text))
                    cell.data_type = "s"
                if r > 4 and text in ("x", "-"):
                    cell.alignment = Alignment(horizontal="right")
        ws.cell(row=1, column=1).font = Font(bold=True)
        buf = io.BytesIO()
        wb.save(buf)
        data = buf.getvalue()
        if path is not None:
            write_shared(Path(path), data)
        return data

    def to_dict(self) -> dict[str, Any]:
        frame = self.to_frame()
        return {
            "publication_id": self.publication_id, "release_id": self.release_id, "title": self.title(),
            "dims": self.dims, "measure": self.measure, "filters": self.filters, "quantile": self.quantile,
            "min_count": self.min_count, "epsilon": self.epsilon, "accuracy_95": self.accuracy_95,
            "counts": self.counts(), "notes": [{"ja": ja, "en": en} for ja, en in self.notes],
            "released_by": self.released_by, "released_at": self.released_at,
            "columns": [str(c) for c in frame.columns], "rows": frame.astype(str).values.tolist(),
        }

    def __str__(self) -> str:
        return f"{self.title()}（{self.publication_id} / {self.release_id}）\n" + str(self.to_frame().to_string(index=False))


def write_shared(path: Path, data: bytes) -> None:
    """Write an export readable by the analysts' group (0640), whatever the umask."""
    import os

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    try:
        os.fchmod(fd, 0o640)
        os.write(fd, data)
    finally:
        os.close(fd)


# ------------------------------------------------------------------------------ building


@dataclass
class Records:
    """What a table of one publication version is built from: one row per person, or (what the
    service passes) one row per **group** of people sharing the table's categories, aggregated in
    the database.  ``codes``: a category code per base variable; ``keys``: the sum of the group's
    record keys; ``income``: the sum of its incomes (0 where unknown); ``n``: how many people
    (``None``: one each); ``top``: its two largest incomes (``None``: ``income`` itself)."""

    codes: dict[str, IntArray]
    keys: IntArray
    income: FloatArray | None
    categories: dict[str, list[str]]
    perm: IntArray | None
    n: IntArray | None = None
    top: FloatArray | None = None

    def weights(self) -> FloatArray | None:
        return None if self.n is None else self.n.astype(np.float64)


def _margins(interior: npt.NDArray[Any], op: str = "sum") -> npt.NDArray[Any]:
    return sdc.with_margins(interior, op)


def _cells(records: Records, s: TableSpec) -> tuple[list[Dimension], list[list[tuple[str, list[int]]]], IntArray, tuple[int, ...]]:
    dims = [DIMENSIONS[n] for n in s.dims]
    grps = [groups(d, records.categories[d.base]) for d in dims]
    keep = np.ones(len(records.keys), dtype=bool)
    for base, idx in s.filters:
        keep &= np.isin(records.codes[base], np.asarray(idx, dtype=np.int64))
    shape = tuple(len(g) for g in grps)
    if int(np.prod([n + 1 for n in shape])) > MAX_CELLS:
        raise _refuse(f"The table would have more than {MAX_CELLS:,} cells; use fewer or coarser dimensions.",
                      f"表のセル数が {MAX_CELLS:,} を超えます。項目を減らすか、粗い区分を使ってください。",
                      reason="too_many_cells")
    flat = np.zeros(len(records.keys), dtype=np.int64)
    for d, g, n in zip(dims, grps, shape, strict=True):
        lookup = np.full(len(records.categories[d.base]), -1, dtype=np.int64)
        for gi, (_label, members) in enumerate(g):
            lookup[members] = gi
        code = lookup[records.codes[d.base]]
        keep &= code >= 0
        flat = flat * n + np.where(code >= 0, code, 0)
    return dims, grps, np.where(keep, flat, -1), shape


def _tabulate(flat: IntArray, shape: tuple[int, ...], weights: FloatArray | None = None) -> FloatArray:
    size = int(np.prod(shape))
    sel = flat >= 0
    out = np.bincount(flat[sel], weights=None if weights is None else weights[sel], minlength=size)[:size]
    full: FloatArray = _margins(out.reshape(shape).astype(np.float64))
    return full


def _top(flat: IntArray, shape: tuple[int, ...], values: FloatArray, n_top: int = 2) -> FloatArray:
    """The ``n_top`` largest values of each cell, margins too: shape (..., n_top)."""
    size = int(np.prod(shape))
    sel = flat >= 0
    f, v = flat[sel], values[sel]
    order = np.lexsort((-v, f))
    f_sorted, v_sorted = f[order], v[order]
    start = np.searchsorted(f_sorted, np.arange(size))
    rank = np.arange(len(f_sorted)) - start[f_sorted]
    top_interior = np.zeros((size, n_top))
    ok = rank < n_top
    top_interior[f_sorted[ok], rank[ok]] = v_sorted[ok]
    full_shape = tuple(n + 1 for n in shape)
    top = np.zeros((*full_shape, n_top))
    top[tuple(slice(0, n) for n in shape)] = top_interior.reshape((*shape, n_top))
    for axis, n in enumerate(shape):
        inner = np.take(top, np.arange(n), axis=axis)
        moved = np.moveaxis(inner, axis, -2)
        best = -np.sort(-moved.reshape((*moved.shape[:-2], -1)), axis=-1)[..., :n_top]
        target: list[Any] = [slice(None)] * (len(shape) + 1)
        target[axis] = n
        top[tuple(target)] = best
    return top


def build(records: Records, s: TableSpec, *, publication_id: str, release_id: str, released_at: str,
          released_by: str) -> StatTable:
    """Tabulate, perturb, suppress (or apply differential privacy) — one table."""
    _dims, grps, flat, shape = _cells(records, s)
    cats = [[label for label, _ in g] + [TOTAL] for g in grps]
    full = tuple(n + 1 for n in shape)
    counts = np.round(_tabulate(flat, shape, records.weights())).astype(np.int64)
    keysum = np.round(_tabulate(flat, shape, records.keys.astype(np.float64))).astype(np.int64)
    notes: list[tuple[str, str]] = []
    filters = {b: [records.categories[b][i] for i in idx] for b, idx in s.filters}
    common = dict(publication_id=publication_id, release_id=release_id, dims=list(s.dims), categories=cats,
                  measure=s.measure, min_count=s.min_count, released_at=released_at, released_by=released_by,
                  filters=filters, quantile=s.quantile)
    if s.epsilon is not None:
        interior = counts[tuple(slice(0, n) for n in shape)]
        values, state, accuracy, margin_acc = _dp(interior, s.epsilon)
        notes.append((f"差分プライバシー（OpenDP、離散ラプラス）ε={s.epsilon:g}。各セルの95%区間は ±{accuracy:,.0f}、"
                      f"合計欄は各セルの和で95%区間はおよそ ±{margin_acc:,.0f}。負の値は 0 にしています。",
                      f"Differentially private counts (OpenDP, discrete Laplace), ε={s.epsilon:g}; each cell's 95% "
                      f"interval is ±{accuracy:,.0f}; totals are sums of the cells (about ±{margin_acc:,.0f}); "
                      "negative values are set to 0."))
        return StatTable(values=values, state=state, epsilon=s.epsilon, accuracy_95=accuracy, notes=notes, **common)  # type: ignore[arg-type]
    shown_counts = ck.perturb_counts(counts, keysum, records.perm).astype(np.float64)
    state = np.where(counts == 0, sdc.ZERO, sdc.PUBLISHED).astype(np.int64)
    labels = None
    truth: FloatArray | None = None
    if s.measure == "count":
        values = shown_counts
        bound = np.full(full, float(ck.MAX_NOISE))
        if s.min_count:
            state[(counts > 0) & (counts < s.min_count)] = sdc.PRIMARY
        need = np.full(full, float(max(s.min_count, 1)))
        x_low = 1.0
        truth = counts.astype(np.float64)
    elif s.measure == "quantile":
        values, labels = _quantiles(records, s, flat, shape, counts)
        state[(counts > 0) & (counts < max(s.min_count, QUANTILE_MIN))] = sdc.PRIMARY
        bound, need, x_low = np.zeros(full), np.zeros(full), 0.0
    else:
        assert records.income is not None
        income = np.nan_to_num(np.clip(records.income, 0, None), nan=0.0)
        sums = _tabulate(flat, shape, income)
        if records.top is None:
            top = _top(flat, shape, income)
        else:
            both = np.nan_to_num(np.clip(records.top, 0, None), nan=0.0)
            top = _top(np.concatenate([flat, flat]), shape, np.concatenate([both[:, 0], both[:, 1]]))
        shown_sums = ck.perturb_sums(sums, top[..., 0], keysum, records.perm)
        small = (counts > 0) & (counts < s.min_count)
        dominated = (counts > 0) & (sums > 0) & (top.sum(axis=-1) > 0.85 * sums)
        state[small | dominated] = sdc.PRIMARY
        if s.measure == "sum":
            values, bound = shown_sums, ck.sum_bound(top[..., 0])
            need = np.maximum(0.25 * sums, 1.0)
            x_low = 0.0
            truth = np.asarray(sums, dtype=np.float64)
        else:
            values = np.where(shown_counts > 0, shown_sums / np.maximum(shown_counts, 1), 0.0)
            values = np.round(values / 1000) * 1000
            bound, need, x_low = np.zeros(full), np.zeros(full), 0.0
    if (state == sdc.PRIMARY).any() and s.measure in ("count", "sum"):
        if state.size > MAX_SUPPRESSED_CELLS:
            raise _refuse(
                f"Suppression with its proof is available up to {MAX_SUPPRESSED_CELLS:,} cells; this table has "
                f"{state.size:,}. Use fewer or coarser dimensions, or min_count=0 (perturbation only).",
                f"秘匿（x）とその検証は {MAX_SUPPRESSED_CELLS:,} セルまでです（この表は {state.size:,} セル）。"
                "項目を減らすか粗い区分にするか、最小セル度数 0（攪乱のみ）にしてください。", reason="too_many_cells")
        before = int((state == sdc.PRIMARY).sum())
        # the true table is one point the attacker cannot rule out: a witness for the audit
        sdc.protect_noisy(state, values, bound, need, x_low=x_low, truth=truth)
        added = int((state == sdc.SECONDARY).sum())
        notes.append((f"度数 {s.min_count} 未満などのセル {before:,} 個と、差し引きで推計されないための {added:,} 個を x で秘匿しました。",
                      f"{before + added:,} cell(s) shown as x: small or dominated cells and the cells that keep them "
                      "from being worked out."))
    elif s.measure in ("mean", "quantile"):
        # a mean or quantile of a hidden sum's cell is hidden too; nothing here adds up
        pass
    return StatTable(values=values, state=state, labels=labels, notes=notes, **common)  # type: ignore[arg-type]


def _quantiles(records: Records, s: TableSpec, flat: IntArray, shape: tuple[int, ...],
               counts: IntArray) -> tuple[FloatArray, npt.NDArray[np.object_]]:
    """The income band holding the ``s.quantile`` of each cell, from cell-key perturbed counts
    of cell × income band (so the same cell always gives the same band)."""
    bands = records.categories["income_band"]
    known = [i for i, b in enumerate(bands) if b != "不明"]
    band_code = records.codes["income_band"]
    n_band = len(bands)
    flat2 = np.where(flat >= 0, flat * n_band + band_code, -1)
    inner = (*shape, n_band)
    c = np.round(_tabulate(flat2, inner, records.weights())[..., :n_band]).astype(np.int64)
    k = np.round(_tabulate(flat2, inner, records.keys.astype(np.float64))[..., :n_band]).astype(np.int64)
    pert = ck.perturb_counts(c, k, records.perm)[..., known].astype(np.float64)
    cum = np.cumsum(pert, axis=-1)
    total = cum[..., -1:]
    q = float(s.quantile or 0.5)
    pos = np.argmax(cum >= q * np.maximum(total, 1), axis=-1)
    names = np.asarray([bands[i] for i in known], dtype=object)
    labels: npt.NDArray[np.object_] = names[pos]
    labels = np.where(total[..., 0] > 0, labels, "-").astype(object)
    return pos.astype(np.float64), labels


def _dp(interior: IntArray, epsilon: float) -> tuple[FloatArray, IntArray, float, float]:
    """OpenDP noisy counts over every combination of the categories (the public lists), then
    post-processing (no privacy cost): rounded, negative set to 0, margins the sums of cells.

    Adding or removing one person changes one cell by one, so the vector of counts has L1
    sensitivity 1 (what ``make_count_by_categories`` over the records declares); the counts are
    taken in the database and the discrete Laplace mechanism is applied to the vector."""
    import opendp.prelude as dp

    dp.enable_features("contrib")
    shape = interior.shape
    space = (dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int))

    def make(scale: float) -> Any:
        return dp.m.make_laplace(*space, scale)

    scale = dp.binary_search_param(make, d_in=1, d_out=float(epsilon))
    noisy = np.asarray(make(scale)([int(v) for v in interior.ravel()]), dtype=np.float64).reshape(shape)
    values: FloatArray = _margins(np.clip(np.round(noisy), 0, None))
    state = np.full(values.shape, sdc.PUBLISHED, dtype=np.int64)
    accuracy = float(dp.discrete_laplacian_scale_to_accuracy(scale, 0.05))
    widest = max(int(np.prod(shape)) // max(min(shape), 1), 1)
    margin_acc = float(1.96 * np.sqrt(2.0 * widest) * scale)
    return values, state, accuracy, margin_acc
