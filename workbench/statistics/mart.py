"""The analysts' statistics mart (統計用データマート) — the one module an analyst imports.

DESIGN §9, F8.  A publication is a folder of files that needs no key of the identified
workspace: ``persons.parquet`` (de-identified microdata: one row per person, generalised
quasi-identifiers only), ``manifest.json`` (what it is, what was done to it, the k it
achieves) and ``ledger/releases.jsonl`` (every table released from it).  DuckDB, pandas,
Polars or Spark read the Parquet as it is; this module adds the release rules::

    from workbench.statistics.mart import Mart
    mart = Mart("/shared/publications")
    pub = mart.open("S0001")                      # a withdrawn one is refused
    t = pub.table(rows="ward", cols="age_band", layers="sex")
    t.to_frame()                                  # "x" suppressed, "-" true zero
    t.to_xlsx("ward_age_sex.xlsx")

:meth:`Publication.table` applies primary and secondary suppression
(:mod:`workbench.lifecycle.disclosure`), checks the new table against every earlier release of
the same publication so that differencing cannot narrow a suppressed cell, records the
release, and returns it.  With ``epsilon`` it releases differentially private counts
through OpenDP instead, within the publication's ε budget.  Bad parameters are refused
in Japanese and English and nothing is recorded.

This module reads files only: it never opens the identified database or the keyring.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import io
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.core.errors import InvalidInput, NotFound
from workbench.statistics import statistical_control as sdc

__all__ = [
    "DIMENSIONS",
    "TOTAL",
    "Mart",
    "Publication",
    "StatTable",
    "neutralise",
]

TOTAL = "総数"
MANIFEST = "manifest.json"
MICRODATA = "persons.parquet"
WITHDRAWN = "withdrawn.json"
LEDGER_DIR = "ledger"
LEDGER = "releases.jsonl"
PUBLICATION_ID = re.compile(r"^S\d{4,}$")

#: Value columns a table may sum (合計), with labels.
VALUES: dict[str, tuple[str, str]] = {"income": ("所得金額（円）", "income (yen)")}


@dataclass(frozen=True)
class Dimension:
    """A released dimension: a column of the microdata, or a grouping of one."""

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


def _age_low(label: str) -> int | None:
    m = re.match(r"^(\d+)", label)
    return int(m.group(1)) if m else None


def _groups(dim: Dimension, base_categories: list[str]) -> list[tuple[str, list[int]]]:
    """The dimension's categories as (label, indices into the base column's categories)."""
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
    """
    if text.startswith(_FORMULA_START) and text != "-" and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def _refuse(en: str, ja: str, **details: Any) -> InvalidInput:
    return InvalidInput(en, ja, **details)


# ------------------------------------------------------------------------------ tables


@dataclass
class StatTable:
    """One released table, every margin included (総数 is the last category of each dimension)."""

    publication_id: str
    release_id: str
    dims: list[str]
    categories: list[list[str]]          # with TOTAL last
    measure: str                          # "count" or "sum"
    value: str | None
    values: np.ndarray
    state: np.ndarray
    min_count: int
    released_at: str
    released_by: str
    epsilon: float | None = None
    accuracy_95: float | None = None
    notes: list[tuple[str, str]] = field(default_factory=list)

    # -- cells ----------------------------------------------------------------------
    def cell_text(self, index: tuple[int, ...]) -> str:
        s = int(self.state[index])
        if s in (sdc.PRIMARY, sdc.SECONDARY, sdc.LEDGER):
            return "x"
        if s == sdc.ZERO and self.epsilon is None:
            return "-"
        value = float(self.values[index])
        return f"{round(value):,}"

    def cell_value(self, index: tuple[int, ...]) -> float | None:
        """The released number (``None`` if suppressed)."""
        s = int(self.state[index])
        if s in (sdc.PRIMARY, sdc.SECONDARY, sdc.LEDGER):
            return None
        return float(self.values[index])

    def counts(self) -> dict[str, int]:
        return {name: int((self.state == code).sum()) for code, name in sdc.STATE_NAMES.items()} | {
            "cells": int(self.state.size)}

    # -- shapes for people ----------------------------------------------------------
    def to_frame(self, *, text: bool = True) -> pd.DataFrame:
        """Rows × columns as staff read it; a third dimension stacks blocks (layer first).
        ``text=True``: "x", "-" and separators; ``False``: numbers with ``None`` for "x"."""
        dims, cats = self.dims, self.categories
        labels = [DIMENSIONS[d].label_ja for d in dims]
        records = []
        if len(dims) == 1:
            for i, cat in enumerate(cats[0]):
                records.append({labels[0]: cat, "値": self.cell_text((i,)) if text else self.cell_value((i,))})
            return pd.DataFrame.from_records(records)
        outer = range(len(cats[2])) if len(dims) == 3 else [None]
        for layer in outer:
            for i, row_cat in enumerate(cats[0]):
                rec: dict[str, Any] = {}
                if layer is not None:
                    rec[labels[2]] = cats[2][layer]
                rec[labels[0]] = row_cat
                for j, col_cat in enumerate(cats[1]):
                    key = (i, j) if layer is None else (i, j, layer)
                    rec[col_cat] = self.cell_text(key) if text else self.cell_value(key)
                records.append(rec)
        return pd.DataFrame.from_records(records)

    def _sheet(self) -> list[list[str]]:
        frame = self.to_frame()
        title = self.title()
        note = "x: 秘匿（一次・二次） / suppressed; -: 該当なし / true zero"
        if self.epsilon is not None:
            note = f"差分プライバシー ε={self.epsilon:g}、95%区間 ±{self.accuracy_95:,.0f} / differentially private counts"
        rows = [[title], [f"公表番号 / publication {self.publication_id}  表番号 / release {self.release_id}"], [note],
                [str(c) for c in frame.columns]]
        rows += [[str(v) for v in r] for r in frame.itertuples(index=False)]
        return rows

    def title(self) -> str:
        parts = "×".join(DIMENSIONS[d].label_ja for d in self.dims)
        what = "人数" if self.measure == "count" else f"{VALUES[self.value or 'income'][0]}の合計"
        return f"{parts}別 {what}"

    def to_csv(self, path: str | Path | None = None) -> bytes:
        """UTF-8 with BOM (Excel opens it as it is); every cell neutralised against formulas."""
        import csv

        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        for row in self._sheet():
            writer.writerow([neutralise(c) for c in row])
        data = ("\ufeff" + buf.getvalue()).encode("utf-8")
        if path is not None:
            Path(path).write_bytes(data)
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
            Path(path).write_bytes(data)
        return data

    def to_dict(self) -> dict[str, Any]:
        frame = self.to_frame()
        return {
            "publication_id": self.publication_id, "release_id": self.release_id, "title": self.title(),
            "dims": self.dims, "measure": self.measure, "value": self.value, "min_count": self.min_count,
            "epsilon": self.epsilon, "accuracy_95": self.accuracy_95, "counts": self.counts(),
            "notes": [{"ja": ja, "en": en} for ja, en in self.notes],
            "columns": [str(c) for c in frame.columns], "rows": frame.astype(str).values.tolist(),
        }

    def __str__(self) -> str:
        return f"{self.title()}（{self.publication_id} / {self.release_id}）\n" + str(self.to_frame().to_string(index=False))


# ------------------------------------------------------------------------------ publications


@dataclass(frozen=True)
class PublicationInfo:
    publication_id: str
    published_at: str
    status: str
    persons: int
    k_required: int
    k_achieved: int | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Mart:
    """The publication root: numbered folders ``S0001``, ``S0002`` … each kept as published."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def publications(self) -> list[PublicationInfo]:
        out: list[PublicationInfo] = []
        if not self.root.is_dir():
            return out
        for folder in sorted(self.root.iterdir()):
            if not (PUBLICATION_ID.match(folder.name) and (folder / MANIFEST).is_file()):
                continue
            m = json.loads((folder / MANIFEST).read_text("utf-8"))
            status = "withdrawn" if (folder / WITHDRAWN).exists() else "published"
            out.append(PublicationInfo(m["publication_id"], m["published_at"], status, int(m["records"]),
                                       int(m["k_anonymity"]["required"]), m["k_anonymity"].get("achieved")))
        return out

    def latest(self) -> Publication:
        """The newest publication still in force (never replaces one already opened)."""
        live = [p for p in self.publications() if p.status == "published"]
        if not live:
            raise NotFound("No publication is available yet; ask the statistics staff to publish one.",
                           "利用できる公表データがまだありません。統計担当に公表を依頼してください。")
        return self.open(live[-1].publication_id)

    def open(self, publication_id: str) -> Publication:
        if not isinstance(publication_id, str) or not PUBLICATION_ID.match(publication_id):
            raise NotFound(f"There is no publication {publication_id!r}.", f"公表データ {publication_id!r} はありません。",
                           reason="no_publication")
        folder = self.root / publication_id
        if not (folder / MANIFEST).is_file():
            raise NotFound(f"There is no publication {publication_id}.", f"公表データ {publication_id} はありません。",
                           reason="no_publication")
        return Publication(folder)


class Publication:
    """One publication, opened by number: its manifest, microdata and release ledger."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.manifest: dict[str, Any] = json.loads((folder / MANIFEST).read_text("utf-8"))
        self.publication_id: str = self.manifest["publication_id"]
        self._frame: pd.DataFrame | None = None

    def __repr__(self) -> str:
        return f"Publication({self.publication_id!r}, records={self.manifest['records']})"

    # -- state ----------------------------------------------------------------------
    @property
    def withdrawn(self) -> bool:
        return (self.folder / WITHDRAWN).exists()

    def _check_live(self) -> None:
        if self.withdrawn:
            raise InvalidInput(
                f"Publication {self.publication_id} was withdrawn; it can no longer be used. Open a newer one.",
                f"公表データ {self.publication_id} は取り下げられたため利用できません。新しい公表データを開いてください。",
                reason="withdrawn",
            )

    def categories(self, base: str) -> list[str]:
        return list(self.manifest["variables"][base]["categories"])

    def dimensions(self) -> list[str]:
        """The dimensions a table may use from this publication."""
        return [d.name for d in DIMENSIONS.values() if d.base in self.manifest["variables"]]

    def frame(self, columns: list[str] | None = None) -> pd.DataFrame:
        """The de-identified microdata (one row per person), or only some of its columns."""
        self._check_live()
        if self._frame is not None:
            return self._frame if columns is None else self._frame[columns]
        if columns is not None:
            return pd.read_parquet(self.folder / MICRODATA, columns=columns)
        self._frame = pd.read_parquet(self.folder / MICRODATA)
        return self._frame

    # -- the ledger -----------------------------------------------------------------
    @property
    def ledger_path(self) -> Path:
        return self.folder / LEDGER_DIR / LEDGER

    @contextlib.contextmanager
    def _ledger_lock(self) -> Iterator[None]:
        (self.folder / LEDGER_DIR).mkdir(exist_ok=True)
        fd = os.open(self.folder / LEDGER_DIR / "ledger.lock", os.O_RDWR | os.O_CREAT, 0o660)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def releases(self) -> list[dict[str, Any]]:
        """Every table released from this publication, oldest first."""
        if not self.ledger_path.exists():
            return []
        return [json.loads(line) for line in self.ledger_path.read_text("utf-8").splitlines() if line.strip()]

    def epsilon_spent(self) -> float:
        return float(sum(r.get("epsilon") or 0.0 for r in self.releases()))

    def epsilon_left(self) -> float:
        return max(0.0, float(self.manifest.get("epsilon_budget", 0.0)) - self.epsilon_spent())

    # -- tables ---------------------------------------------------------------------
    def _spec(self, rows: str, cols: str | None, layers: str | None, value: str | None, min_count: int,
              epsilon: float | None, merge: Mapping[str, Mapping[str, Sequence[str]]] | None,
              ) -> tuple[list[Dimension], list[list[tuple[str, list[int]]]]]:
        names = [d for d in (rows, cols, layers) if d]
        known = self.dimensions()
        for name in names:
            if name not in known:
                raise _refuse(f"{name!r} is not a released dimension; released: {', '.join(known)}.",
                              f"{name!r} は公表された集計項目ではありません。使える項目: {', '.join(known)}",
                              reason="unknown_dimension")
        if not names:
            raise _refuse("Name at least the rows of the table.", "表側（行）の項目を指定してください。", reason="no_dimension")
        if len(set(names)) != len(names) or len({DIMENSIONS[n].base for n in names}) != len(names):
            raise _refuse("Each dimension may appear once, and two groupings of one item cannot be crossed.",
                          "同じ項目（またはその区分）を二度指定することはできません。", reason="repeated_dimension")
        if value is not None:
            if value not in VALUES or value not in self.manifest.get("values", []):
                raise _refuse(f"{value!r} cannot be summed in this publication; values: {', '.join(VALUES)}.",
                              f"{value!r} は合計できる値ではありません（合計できる値: {', '.join(VALUES)}）。",
                              reason="unknown_value")
            if epsilon is not None:
                raise _refuse("Differential privacy is available for counts only; remove the value column.",
                              "差分プライバシーは人数（度数）の表のみで使えます。値の列を外してください。",
                              reason="value_on_count_only")
        if not isinstance(min_count, int) or isinstance(min_count, bool) or min_count < 1:
            raise _refuse("The minimum cell count must be a whole number of at least 1.",
                          "最小セル度数は 1 以上の整数で指定してください。", reason="bad_min_count")
        if epsilon is not None:
            if not isinstance(epsilon, (int, float)) or not np.isfinite(epsilon) or epsilon <= 0:
                raise _refuse("ε must be a positive number.", "ε は正の数で指定してください。", reason="bad_epsilon")
        dims = [DIMENSIONS[n] for n in names]
        groups = [_groups(d, self.categories(d.base)) for d in dims]
        for name, wanted in (merge or {}).items():
            if name not in names:
                raise _refuse(f"Merging needs {name!r} in the table.", f"結合する項目 {name!r} が表にありません。",
                              reason="unknown_dimension")
            pos = names.index(name)
            current = groups[pos]
            for label, members in wanted.items():
                labels = [g[0] for g in current]
                missing = [m for m in members if m not in labels]
                if missing or len(members) < 2 or not str(label).strip():
                    raise _refuse(f"Cannot merge {list(members)} in {name}: name two or more of its categories.",
                                  f"{name} の {list(members)} は結合できません。2 つ以上の区分名を指定してください。",
                                  reason="bad_merge")
                first = labels.index(members[0])
                union = sorted(i for g in current if g[0] in members for i in g[1])
                current = [g for g in current if g[0] not in members]
                current.insert(min(first, len(current)), (str(label), union))
            groups[pos] = current
        return dims, groups

    def table(self, rows: str, cols: str | None = None, layers: str | None = None, *, value: str | None = None,
              min_count: int = 3, epsilon: float | None = None,
              merge: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
              released_by: str | None = None, now: dt.datetime | None = None) -> StatTable:
        """Build, protect, check against earlier releases, record and return one table."""
        self._check_live()
        dims, groups = self._spec(rows, cols, layers, value, min_count, epsilon, merge)
        frame = self.frame([d.base for d in dims] + ([value] if value else []))
        codes = []
        for d, g in zip(dims, groups, strict=True):
            base_cats = self.categories(d.base)
            lookup = np.full(len(base_cats), -1, dtype=np.int64)
            for gi, (_label, members) in enumerate(g):
                lookup[members] = gi
            base_codes = pd.Index(base_cats).get_indexer(frame[d.base])
            codes.append(lookup[base_codes])
        cats = [[label for label, _ in g] for g in groups]
        sums = value is not None
        weights = None
        if sums:
            weights = frame[value].fillna(0).to_numpy(dtype=np.float64)
        grid = sdc.build_grid(codes, cats, [d.name for d in dims], values=weights)
        notes: list[tuple[str, str]] = []
        accuracy = None
        with self._ledger_lock():
            earlier = self.releases()
            release_id = f"T{len(earlier) + 1:04d}"
            if epsilon is not None:
                left = self.epsilon_left()
                if epsilon > left + 1e-12:
                    raise _refuse(
                        f"ε={epsilon:g} is more than is left of this publication's budget ({left:g}).",
                        f"ε={epsilon:g} はこの公表データの残り予算（{left:g}）を超えています。",
                        reason="epsilon_exceeded", epsilon_left=left)
                accuracy = _dp_counts(grid, codes, epsilon)
                notes.append((f"差分プライバシー（OpenDP、離散ラプラス）ε={epsilon:g}。各セルの95%区間は ±{accuracy:,.0f}"
                              "（合計欄は各セルの和）。",
                              f"Differentially private counts (OpenDP, discrete Laplace), ε={epsilon:g}; each cell's "
                              f"95% interval is ±{accuracy:,.0f} (totals are sums of noisy cells)."))
            else:
                sdc.primary_suppression(grid, min_count=min_count, sums=sums)
                shared_need = self._hidden_before(grid, dims, groups, value, earlier)
                shared = shared_need > 0
                grid.state[shared] = sdc.PRIMARY
                sdc.protect(grid, min_count=min_count, sums=sums, need=shared_need)
                grid.state[shared & (grid.state == sdc.PRIMARY)] = sdc.LEDGER
                added = int(shared.sum()) + self._check_ledger(grid, dims, groups, value, min_count, earlier)
                if added:
                    notes.append((f"過去の公表表との差し引きで秘匿セルが推計されないよう、{added} セルを追加で秘匿しました。",
                                  f"{added} more cell(s) suppressed so that differencing with earlier releases "
                                  "cannot reveal a suppressed cell."))
            at = (now or dt.datetime.now(dt.UTC)).isoformat()
            by = released_by or os.environ.get("USER", "analyst")
            table = StatTable(self.publication_id, release_id, [d.name for d in dims],
                              [[*c, TOTAL] for c in cats], "sum" if sums else "count", value, grid.values, grid.state,
                              min_count, at, by, epsilon, accuracy, notes)
            self._record(table, dims, groups)
        return table

    def _cells(self, grid_values: np.ndarray, state: np.ndarray, dims: list[Dimension],
               groups: list[list[tuple[str, list[int]]]], need: np.ndarray, release: str) -> list[sdc.ReleasedCell]:
        out = []
        for index in np.ndindex(*state.shape):
            cover: dict[str, list[int] | None] = {}
            for d, g, i in zip(dims, groups, index, strict=True):
                cover[d.base] = None if i == len(g) else g[i][1]
            s = int(state[index])
            suppressed = s in (sdc.PRIMARY, sdc.SECONDARY, sdc.LEDGER)
            out.append(sdc.ReleasedCell(cover, None if suppressed else float(grid_values[index]), s == sdc.PRIMARY,
                                        float(need[index]), release, tuple(int(i) for i in index)))
        return out

    def _hidden_before(self, grid: sdc.Grid, dims: list[Dimension], groups: list[list[tuple[str, list[int]]]],
                       value: str | None, earlier: list[dict[str, Any]]) -> np.ndarray:
        """For each cell of the new table, the protection it needed in an earlier release of
        the same measure that suppressed it (0: not hidden before): such cells stay
        suppressed and protected here, so the tables agree."""
        measure = value or "count"
        hidden: dict[str, float] = {}
        for r in earlier:
            if r.get("epsilon") is None and (r.get("value") or "count") == measure:
                for c in r["cells"]:
                    if c["v"] is None:
                        key = _cover_key(c["cover"])
                        hidden[key] = max(hidden.get(key, 0.0), float(c["need"]))
        out = np.zeros(grid.shape)
        if not hidden:
            return out
        for index in np.ndindex(*grid.shape):
            cover = {d.base: (None if i == len(g) else g[i][1]) for d, g, i in zip(dims, groups, index, strict=True)}
            if grid.state[index] == sdc.PUBLISHED:
                out[index] = hidden.get(_cover_key(cover), 0.0)
        return out

    def _check_ledger(self, grid: sdc.Grid, dims: list[Dimension], groups: list[list[tuple[str, list[int]]]],
                      value: str | None, min_count: int, earlier: list[dict[str, Any]]) -> int:
        """Suppress more cells of the new table until no earlier or new primary cell can be
        narrowed by combining this table with the earlier releases; return how many."""
        measure = value or "count"
        mine = {d.base for d in dims}

        def nested(r: dict[str, Any]) -> bool:
            theirs = {b for c in r["cells"][:1] for b in c["cover"]}
            return theirs <= mine or mine <= theirs

        # The joint LP covers releases over the same or nested variables (a table and its
        # merged, coarser or finer versions).  Releases over other variables share margins
        # with this one; those cells are kept suppressed by _hidden_before (decisions.md).
        old = [r for r in earlier if r.get("epsilon") is None and (r.get("value") or "count") == measure and nested(r)]
        if not old:
            return 0
        sums = value is not None
        need = sdc.protection_levels(grid, min_count=min_count, sums=sums)
        old_cells: list[sdc.ReleasedCell] = []
        bases: list[str] = [d.base for d in dims]
        for r in old:
            for c in r["cells"]:
                cover = {b: (None if v is None else list(v)) for b, v in c["cover"].items()}
                old_cells.append(sdc.ReleasedCell(cover, c["v"], c["s"] == "primary", c["need"], r["release_id"],
                                                  tuple(c["i"])))
                for b in cover:
                    if b not in bases:
                        bases.append(b)
        variables = bases
        sizes = [len(self.categories(b)) for b in variables]
        if int(np.prod(sizes)) > 50_000:
            raise _refuse("Together with earlier releases this table spans too many categories to check; "
                          "use fewer or coarser dimensions.",
                          "過去の公表表と合わせると区分が多すぎて確認できません。項目を減らすか、粗い区分を使ってください。",
                          reason="too_many_atoms")
        added = 0
        for _ in range(50):
            new_cells = self._cells(grid.values, grid.state, dims, groups, need, "new")
            failing = sdc.audit_releases(old_cells + new_cells, variables, sizes)
            if not failing:
                return added
            # the new table's published cell that overlaps the failing cell most cheaply
            cell = failing[0][0]
            target_mask = sdc.atom_mask(cell.cover, variables, sizes)
            best, best_value = None, float("inf")
            for nc in new_cells:
                if nc.value is None or nc.value == 0:
                    continue
                if (sdc.atom_mask(nc.cover, variables, sizes) & target_mask).any() and nc.value < best_value:
                    best, best_value = nc, nc.value
            if best is None:
                break
            grid.state[best.index] = sdc.LEDGER
            sdc.close_single_lines(grid, grid.state)
            added += 1
        raise _refuse(
            "This table cannot be released: combined with earlier tables from the same publication it would "
            "reveal a suppressed cell. Use other dimensions or categories.",
            "この表は公表できません。同じ公表データから過去に公表した表と差し引くと、秘匿したセルが推計できてしまいます。"
            "別の項目や区分を使ってください。", reason="differencing_risk")

    def _record(self, table: StatTable, dims: list[Dimension], groups: list[list[tuple[str, list[int]]]]) -> None:
        need = sdc.protection_levels(
            sdc.Grid(table.dims, table.categories, table.values, np.zeros(table.state.shape, np.int64),
                     np.zeros(0)), min_count=table.min_count, sums=table.measure == "sum")
        cells = []
        for c in self._cells(table.values, table.state, dims, groups, need, table.release_id):
            s = int(table.state[c.index])
            value = c.value
            if table.epsilon is not None and value is not None:
                value = float(round(value))
            cells.append({"i": list(c.index), "cover": c.cover, "v": value, "s": sdc.STATE_NAMES[s], "need": c.need})
        entry = {
            "release_id": table.release_id, "publication_id": self.publication_id, "released_at": table.released_at,
            "released_by": table.released_by, "dims": table.dims, "value": table.value, "min_count": table.min_count,
            "epsilon": table.epsilon, "groups": [[[label, idx] for label, idx in g] for g in groups],
            "counts": table.counts(), "cells": cells,
        }
        with self.ledger_path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())


def _cover_key(cover: Mapping[str, Sequence[int] | None]) -> str:
    """The same cell whichever table it is in: its base categories, totals left out."""
    return json.dumps({k: sorted(v) for k, v in sorted(cover.items()) if v is not None})


def _dp_counts(grid: sdc.Grid, codes: list[np.ndarray], epsilon: float) -> float:
    """Replace the grid's interior counts by OpenDP's noisy counts over the public category
    lists (every combination of the dimensions' categories); margins are their sums.
    Returns the 95% accuracy of one cell."""
    import opendp.prelude as dp

    dp.enable_features("contrib")
    interior = tuple(n - 1 for n in grid.shape)
    size = int(np.prod(interior))
    keys = [str(i) for i in range(size)]
    records = np.ravel_multi_index(tuple(codes), interior).astype(str).tolist() if size else []

    def make(scale: float) -> Any:
        return (dp.t.make_count_by_categories(dp.vector_domain(dp.atom_domain(T=str)), dp.symmetric_distance(),
                                              categories=keys, null_category=False, TOA=int)
                >> dp.m.then_laplace(scale))

    scale = dp.binary_search_param(make, d_in=1, d_out=float(epsilon))
    noisy = np.asarray(make(scale)(records), dtype=np.float64).reshape(interior)
    full = np.zeros(grid.shape)
    full[tuple(slice(0, n) for n in interior)] = noisy
    for axis, n in enumerate(interior):
        inner = np.take(full, np.arange(n), axis=axis)
        target: list[Any] = [slice(None)] * len(interior)
        target[axis] = n
        full[tuple(target)] = inner.sum(axis=axis)
    grid.values = full
    grid.state = np.full(grid.shape, sdc.PUBLISHED, dtype=np.int64)
    return float(dp.discrete_laplacian_scale_to_accuracy(scale, 0.05))
