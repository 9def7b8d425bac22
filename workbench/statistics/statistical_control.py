"""Statistical disclosure control (秘匿処理) for released tables — pure numpy and scipy (not F9 disclosure: that is workbench.lifecycle.disclosure).

DESIGN §9.  A table is a :class:`Grid`: one or more dimensions, each with its interior
categories plus a total (総数), so a ``k``-way table holds every margin too.  Its cells
are counts (度数) or sums (合計) with the number of contributors behind each.

* **Primary suppression** (一次秘匿): a count below ``min_count`` (default 3, as in
  Japanese official statistics); a sum with fewer than ``min_count`` contributors or whose
  largest ``n`` contributors make more than ``k`` of it (the (n, k) dominance rule).
  A true zero is never suppressed: it is shown as "-".
* **Secondary suppression** (二次秘匿), so that no primary cell can be recovered by
  subtraction from rows, columns, layers and margins: a greedy hypercube-style search
  (:func:`protect`) adds complementary cells line by line, and a **linear-programming
  audit** (:func:`audit`, ``scipy.optimize.linprog`` with HiGHS) computes, for every
  primary cell, the interval an attacker can derive from everything published.  The
  search goes on until every primary cell's interval is at least its protection level
  wide.  The audit is the proof; the greedy search only proposes cells.
* **Across releases** (:func:`audit_releases`): the same audit over the atoms (the finest
  cross-classification of the publication's variables), with every cell published by
  every earlier table of the same publication as a constraint, so that differencing two
  tables (the same table with one ward merged, a table and its sub-table) cannot narrow
  a suppressed cell either.

See docs/decisions.md (Statistics) for why this method and these protection levels.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # scipy is imported when a table is audited, not when a kernel starts
    import scipy.sparse as sp

__all__ = [
    "PRIMARY",
    "PUBLISHED",
    "SECONDARY",
    "ZERO",
    "Grid",
    "Interval",
    "audit",
    "audit_releases",
    "build_grid",
    "primary_suppression",
    "protect",
]

#: Cell states.
PUBLISHED, ZERO, PRIMARY, SECONDARY, LEDGER = 0, 1, 2, 3, 4
STATE_NAMES = {PUBLISHED: "published", ZERO: "zero", PRIMARY: "primary", SECONDARY: "secondary", LEDGER: "ledger"}

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass
class Grid:
    """A table with all its margins: the last index of every axis is the total (総数)."""

    dims: list[str]
    categories: list[list[str]]
    values: FloatArray          # counts or sums, shape (n1+1, ..., nk+1)
    counts: IntArray            # contributors behind each cell
    top: FloatArray             # the largest contributions, shape (..., n_top), sums only
    state: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.values.shape)

    def suppressed(self) -> BoolArray:
        return np.isin(self.state, (PRIMARY, SECONDARY, LEDGER))


def _margins(interior: npt.NDArray[np.generic], op: str = "sum") -> npt.NDArray[np.generic]:
    """Embed ``interior`` into an array one larger on every axis holding all margins."""
    k = interior.ndim
    full = np.zeros(tuple(n + 1 for n in interior.shape), dtype=interior.dtype)
    full[tuple(slice(0, n) for n in interior.shape)] = interior
    for axis in range(k):
        n = interior.shape[axis]
        inner = np.take(full, np.arange(n), axis=axis)
        target: list[Any] = [slice(None)] * k
        target[axis] = n
        full[tuple(target)] = inner.sum(axis=axis) if op == "sum" else inner.max(axis=axis)
    return full


def build_grid(codes: Sequence[IntArray], categories: Sequence[list[str]], dims: Sequence[str],
               values: FloatArray | None = None, n_top: int = 2) -> Grid:
    """Cross-tabulate records: ``codes[d][i]`` is record ``i``'s category index on dimension ``d``.

    With ``values`` the cells are sums of those values (negative values count as 0),
    and the ``n_top`` largest contributions of every cell (margins too) are kept for
    the dominance rule.
    """
    shape = tuple(len(c) for c in categories)
    flat = np.ravel_multi_index(tuple(np.asarray(c, dtype=np.int64) for c in codes), shape) if shape else np.zeros(0, np.int64)
    size = int(np.prod(shape))
    counts = np.bincount(flat, minlength=size).reshape(shape).astype(np.int64)
    full_counts = _margins(counts).astype(np.int64)
    if values is None:
        grid_values = full_counts.astype(np.float64)
        top = np.zeros((*full_counts.shape, 0))
    else:
        v = np.round(np.clip(np.asarray(values, dtype=np.float64), 0, None))
        sums = np.bincount(flat, weights=v, minlength=size).reshape(shape)
        grid_values = _margins(sums).astype(np.float64)
        # the n_top largest contribution of each interior cell, then of each margin
        order = np.lexsort((-v, flat))
        f_sorted, v_sorted = flat[order], v[order]
        start = np.searchsorted(f_sorted, np.arange(size))
        rank = np.arange(len(f_sorted)) - start[f_sorted]
        top_interior = np.zeros((size, n_top))
        keep = rank < n_top
        top_interior[f_sorted[keep], rank[keep]] = v_sorted[keep]
        top = np.zeros((*full_counts.shape, n_top))
        top[tuple(slice(0, n) for n in shape)] = top_interior.reshape((*shape, n_top))
        k = len(shape)
        for axis in range(k):
            n = shape[axis]
            inner = np.take(top, np.arange(n), axis=axis)          # (..., n, ..., n_top)
            moved = np.moveaxis(inner, axis, -2)                   # (..., n, n_top)
            merged = moved.reshape((*moved.shape[:-2], -1))
            best = -np.sort(-merged, axis=-1)[..., :n_top]
            target: list[Any] = [slice(None)] * (k + 1)
            target[axis] = n
            top[tuple(target)] = best
    return Grid(list(dims), [list(c) for c in categories], grid_values, full_counts, top,
                np.zeros(full_counts.shape, dtype=np.int64))


def primary_suppression(grid: Grid, *, min_count: int = 3, sums: bool = False,
                        dominance: tuple[int, float] = (2, 0.85)) -> None:
    """Mark true zeros and primary cells in ``grid.state`` (every cell, margins included)."""
    state = np.full(grid.shape, PUBLISHED, dtype=np.int64)
    zero = grid.counts == 0
    state[zero] = ZERO
    small = ~zero & (grid.counts < min_count)
    if sums:
        n, k = dominance
        top_n = grid.top[..., :n].sum(axis=-1)
        dominated = ~zero & (grid.values > 0) & (top_n > k * grid.values)
        small |= dominated
    state[small] = PRIMARY
    grid.state = state


def protection_levels(grid: Grid, *, min_count: int, sums: bool, ratio: float = 0.25) -> FloatArray:
    """How wide the derivable interval of each cell must be: ``min_count`` for counts,
    ``ratio`` of the cell's value (at least 1) for sums."""
    if sums:
        return np.maximum(grid.values * ratio, 1.0)
    return np.full(grid.shape, float(min_count))


# ------------------------------------------------------------------------------ the LP audit


@dataclass(frozen=True)
class Interval:
    """What an attacker can derive about a suppressed cell from what is published."""

    low: float
    high: float  # inf when unbounded

    @property
    def width(self) -> float:
        return self.high - self.low


def _lines(shape: tuple[int, ...], suppressed: BoolArray) -> list[tuple[IntArray, int]]:
    """Every additive line (interior cells + its total) that holds a suppressed cell,
    as (flat indices of the line, position of the total within them)."""
    out: list[tuple[IntArray, int]] = []
    flat_index = np.arange(int(np.prod(shape))).reshape(shape)
    for axis, n in enumerate(shape):
        moved = np.moveaxis(flat_index, axis, -1).reshape(-1, n)
        sup = np.moveaxis(suppressed, axis, -1).reshape(-1, n).any(axis=1)
        for row in moved[sup]:
            out.append((row, n - 1))
    return out


class _Bounds:
    """One LP (``A x = b``, ``x ≥ 0``) asked for the min and max of many linear objectives.

    HiGHS (through ``highspy``) keeps the model and warm-starts each objective from the
    last basis, which is many times faster than a fresh ``linprog`` per cell.
    """

    def __init__(self, a_eq: sp.spmatrix, b_eq: FloatArray) -> None:
        import highspy

        self.highspy = highspy
        self.n = int(a_eq.shape[1])
        self.h = _quiet_highs()
        import scipy.sparse as sp

        a = sp.csc_matrix(a_eq)
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = self.n, int(a.shape[0])
        lp.col_cost_ = np.zeros(self.n)
        lp.col_lower_ = np.zeros(self.n)
        lp.col_upper_ = np.full(self.n, highspy.kHighsInf)
        lp.row_lower_ = np.asarray(b_eq, dtype=float)
        lp.row_upper_ = np.asarray(b_eq, dtype=float)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a.indptr.astype(np.int32)
        lp.a_matrix_.index_ = a.indices.astype(np.int32)
        lp.a_matrix_.value_ = a.data.astype(float)
        self.h.passModel(lp)
        self.cols = np.arange(self.n, dtype=np.int32)

    def _optimum(self, c: FloatArray) -> float:
        self.h.changeColsCost(self.n, self.cols, np.asarray(c, dtype=float))
        self.h.run()
        status = self.h.getModelStatus()
        ms = self.highspy.HighsModelStatus
        if status in (ms.kUnbounded, ms.kUnboundedOrInfeasible):
            return float("-inf")
        if status != ms.kOptimal:
            raise RuntimeError(f"LP audit failed: {self.h.modelStatusToString(status)}")
        return float(self.h.getInfo().objective_function_value)

    def interval(self, c: FloatArray) -> tuple[float, float]:
        return self._optimum(c), -self._optimum(-np.asarray(c))


def _quiet_highs() -> Any:
    """A HiGHS instance; its start-up banner goes to /dev/null, not into CLI output."""
    import os

    import highspy

    fd = os.dup(1)
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
        h = highspy.Highs()  # type: ignore[no-untyped-call]
    finally:
        os.dup2(fd, 1)
        os.close(fd)
    h.setOptionValue("output_flag", False)
    # Without presolve, each re-solve starts from the previous optimal basis.
    h.setOptionValue("presolve", "off")
    h.setOptionValue("solver", "simplex")
    h.setOptionValue("simplex_strategy", 4)  # primal: a new objective keeps the basis feasible
    return h


def audit(grid: Grid, cells: BoolArray | None = None) -> dict[int, Interval]:
    """The interval of every cell in ``cells`` (default: primary cells) an attacker can
    derive from the published cells of this one table, by linear programming."""
    suppressed = grid.suppressed()
    cells = (grid.state == PRIMARY) if cells is None else cells
    targets = np.flatnonzero(cells.ravel())
    if not len(targets):
        return {}
    var_of = np.full(suppressed.size, -1, dtype=np.int64)
    sup_flat = np.flatnonzero(suppressed.ravel())
    var_of[sup_flat] = np.arange(len(sup_flat))
    known = np.where(suppressed.ravel(), 0.0, grid.values.ravel())
    rows, cols, data, rhs = [], [], [], []
    for r, (line, total_pos) in enumerate(_lines(grid.shape, suppressed)):
        sign = np.full(len(line), -1.0)
        sign[total_pos] = 1.0
        v = var_of[line]
        unknown = v >= 0
        rows += [r] * int(unknown.sum())
        cols += v[unknown].tolist()
        data += sign[unknown].tolist()
        rhs.append(-float((sign[~unknown] * known[line[~unknown]]).sum()))
    n = len(sup_flat)
    import scipy.sparse as sp

    a_eq = sp.csr_matrix((data, (rows, cols)), shape=(len(rhs), n))
    scale = _scale(grid.values)
    b_eq = np.asarray(rhs) / scale
    out: dict[int, Interval] = {}
    solver = _Bounds(a_eq, b_eq)
    for t in targets:
        c = np.zeros(n)
        c[var_of[t]] = 1.0
        low, high = solver.interval(c)
        out[int(t)] = Interval(low * scale, high * scale)
    return out


def _scale(values: FloatArray) -> float:
    """Solve in units that keep HiGHS's tolerances meaningful (yen sums reach 1e12)."""
    peak = float(np.max(values)) if values.size else 1.0
    return max(1.0, peak / 1e6)


# ------------------------------------------------------------------------------ secondary suppression


def _cost(grid: Grid, candidate: BoolArray, suppressed: BoolArray) -> FloatArray:
    """Prefer cells whose other lines already hold a suppressed cell (closing a hypercube),
    then the smallest value (least information lost)."""
    open_lines = np.zeros(grid.shape)
    for axis in range(len(grid.shape)):
        has = suppressed.any(axis=axis, keepdims=True)
        open_lines += ~np.broadcast_to(has, grid.shape)
    big = float(grid.values.max() + 1)
    cost = grid.values + big * open_lines
    return np.where(candidate, cost, np.inf)


def _close_single_lines(grid: Grid, state: IntArray) -> bool:
    """Wherever a line holds exactly one suppressed cell, suppress its cheapest partner.
    Returns whether anything was added."""
    added = False
    while True:
        suppressed = np.isin(state, (PRIMARY, SECONDARY, LEDGER))
        candidate = ~suppressed & (state != ZERO)
        changed = False
        for axis in range(len(grid.shape)):
            single = suppressed.sum(axis=axis, keepdims=True) == 1
            if not single.any():
                continue
            cost = _cost(grid, candidate, suppressed)
            cost = np.where(np.broadcast_to(single, grid.shape), cost, np.inf)
            best = np.argmin(cost, axis=axis)
            best_cost = np.min(cost, axis=axis)
            for idx in zip(*np.nonzero(np.isfinite(best_cost)), strict=True):
                full = list(idx)
                full.insert(axis, int(best[idx]))
                if state[tuple(full)] == PUBLISHED:
                    state[tuple(full)] = SECONDARY
                    changed = added = True
            if changed:
                break
        if not changed:
            return added


def protect(grid: Grid, *, min_count: int = 3, sums: bool = False, ratio: float = 0.25,
            max_rounds: int = 10_000, need: FloatArray | None = None) -> dict[int, Interval]:
    """Secondary suppression: add cells until the LP audit shows every primary cell's
    interval at least its protection level wide.  Returns the final audit.

    Suppressing one more cell turns a published constant into an unknown, which can only
    widen every interval, so a cell that passed the audit is not audited again.
    """
    levels = protection_levels(grid, min_count=min_count, sums=sums, ratio=ratio)
    need = (levels if need is None else np.maximum(levels, need)).ravel()
    tol = 1e-6 * _scale(grid.values)
    state = grid.state
    pending = grid.state == PRIMARY
    final: dict[int, Interval] = {}
    for _ in range(max_rounds):
        _close_single_lines(grid, state)
        intervals = audit(grid, pending)
        failing = [t for t, iv in intervals.items() if iv.width < need[t] - tol]
        final.update(intervals)
        if not failing:
            return final
        pending = np.zeros(grid.shape, dtype=bool)
        pending.flat[failing] = True
        suppressed = grid.suppressed()
        for t in failing:
            # suppress the cheapest neighbour on any of the failing cell's lines
            target = np.unravel_index(t, grid.shape)
            neighbour = np.zeros(grid.shape, dtype=bool)
            for axis in range(len(grid.shape)):
                sl: list[Any] = list(target)
                sl[axis] = slice(None)
                neighbour[tuple(sl)] = True
            candidate = neighbour & (state == PUBLISHED)
            if not candidate.any():
                candidate = state == PUBLISHED
            if not candidate.any():
                return final
            cost = _cost(grid, candidate, suppressed)
            best = int(np.argmin(cost))
            state.flat[best] = SECONDARY
            suppressed.flat[best] = True
    raise RuntimeError("secondary suppression did not converge")


# ------------------------------------------------------------------------------ across releases


@dataclass
class ReleasedCell:
    """One cell of a released table over the atoms: for each base variable, the atom
    indices it covers (``None``: all), its value (``None`` if suppressed), whether it is
    a primary cell, and the width it needs."""

    cover: dict[str, list[int] | None]
    value: float | None
    primary: bool
    need: float
    release: str
    index: tuple[int, ...]


def _atom_mask(cover: dict[str, list[int] | None], variables: list[str], sizes: list[int]) -> BoolArray:
    masks = []
    for var, n in zip(variables, sizes, strict=True):
        m = np.zeros(n, dtype=bool)
        sel = cover.get(var)
        if sel is None:
            m[:] = True
        else:
            m[sel] = True
        masks.append(m)
    out = masks[0]
    for m in masks[1:]:
        out = np.logical_and.outer(out, m)
    return np.asarray(out).ravel()


def audit_releases(cells: list[ReleasedCell], variables: list[str], sizes: list[int],
                   check: list[ReleasedCell] | None = None) -> list[tuple[ReleasedCell, Interval]]:
    """Cells (of ``check``, default every primary cell) whose interval, derived from every
    published cell of every release together, is narrower than they need.

    Variables are the atoms (the product of ``sizes``), each ≥ 0; every published cell is
    an equality over the atoms it covers.
    """
    n = int(np.prod(sizes))
    rows, cols, rhs = [], [], []
    r = 0
    for cell in cells:
        if cell.value is None:
            continue
        idx = np.flatnonzero(_atom_mask(cell.cover, variables, sizes))
        rows.append(np.full(len(idx), r))
        cols.append(idx)
        rhs.append(cell.value)
        r += 1
    import scipy.sparse as sp

    a_eq = sp.csr_matrix((np.ones(sum(len(c) for c in cols)), (np.concatenate(rows) if rows else [],
                          np.concatenate(cols) if cols else [])), shape=(r, n))
    scale = _scale(np.asarray(rhs, dtype=float))
    b_eq = np.asarray(rhs, dtype=float) / scale
    targets = [c for c in (check if check is not None else cells) if c.primary and c.value is None]
    failing: list[tuple[ReleasedCell, Interval]] = []
    solver = _Bounds(a_eq, b_eq) if targets else None
    for cell in targets:
        assert solver is not None
        c = _atom_mask(cell.cover, variables, sizes).astype(float)
        low, high = solver.interval(c)
        low, high = low * scale, high * scale
        if high - low < cell.need - 1e-6 * scale:
            failing.append((cell, Interval(low, high)))
    return failing


def iter_cells(shape: tuple[int, ...]) -> itertools.product[tuple[int, ...]]:
    return itertools.product(*(range(n) for n in shape))


# ------------------------------------------------------------------------------ perturbed tables


def _all_lines_matrix(shape: tuple[int, ...]) -> sp.csr_matrix:
    """Every additive line of a table with margins (interior cells − total = 0), as rows of a
    sparse matrix over all cells."""
    import scipy.sparse as sparse

    flat_index = np.arange(int(np.prod(shape))).reshape(shape)
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    data: list[FloatArray] = []
    r = 0
    for axis, n in enumerate(shape):
        lines = np.moveaxis(flat_index, axis, -1).reshape(-1, n)
        m = len(lines)
        rows.append(np.repeat(np.arange(r, r + m), n))
        cols.append(lines.ravel())
        sign = np.ones(n)
        sign[-1] = -1.0
        data.append(np.tile(sign, m))
        r += m
    return sparse.csr_matrix((np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
                             shape=(r, int(np.prod(shape))))


class _BoxBounds(_Bounds):
    """Like :class:`_Bounds` (``A x = 0``) with a box ``lo ≤ x ≤ hi`` on every variable."""

    def __init__(self, a_eq: sp.spmatrix, lo: FloatArray, hi: FloatArray) -> None:
        super().__init__(a_eq, np.zeros(a_eq.shape[0]))
        inf = self.highspy.kHighsInf
        self.h.changeColsBounds(self.n, self.cols, np.asarray(lo, dtype=float),
                                np.where(np.isinf(hi), inf, np.asarray(hi, dtype=float)))


def audit_noisy(shape: tuple[int, ...], lo: FloatArray, hi: FloatArray, targets: Sequence[int]) -> dict[int, Interval]:
    """What an attacker who knows every rule derives about each target cell of one perturbed
    table: every true cell (interior and margins) is unknown, the lines add up, a published
    cell lies within the p-table's noise of what was printed (``lo``…``hi``), a "-" is 0 and an
    "x" is at least 1.  Returns each target's interval (HiGHS, exact LP)."""
    if not len(targets):
        return {}
    a_eq = _all_lines_matrix(shape)
    finite_hi = hi[np.isfinite(hi)]
    scale = _scale(np.concatenate([lo, finite_hi]) if len(finite_hi) else lo)
    solver = _BoxBounds(a_eq, lo / scale, hi / scale)
    out: dict[int, Interval] = {}
    n = a_eq.shape[1]
    for t in targets:
        c = np.zeros(n)
        c[int(t)] = 1.0
        low, high = solver.interval(c)
        out[int(t)] = Interval(low * scale, high * scale if np.isfinite(high) else float("inf"))
    return out


def protect_noisy(state: IntArray, published: FloatArray, bound: FloatArray, need: FloatArray, *, x_low: float,
                  max_rounds: int = 200) -> dict[int, Interval]:
    """Secondary suppression for a perturbed table: while the LP audit (:func:`audit_noisy`)
    narrows a primary cell below ``need``, suppress the smallest published cell on one of its
    lines.  ``state`` is changed in place; returns the final intervals of the primary cells.

    Suppressing a cell replaces its box by ``[x_low, ∞)``, which only widens every interval, so
    a cell that passed is not audited again."""
    shape = state.shape
    pending = [int(t) for t in np.flatnonzero(state.ravel() == PRIMARY)]
    final: dict[int, Interval] = {}

    def boxes() -> tuple[FloatArray, FloatArray]:
        flat_state = state.ravel()
        lo = np.maximum(published.ravel() - bound.ravel(), 0.0)
        hi = published.ravel() + bound.ravel()
        hidden = np.isin(flat_state, (PRIMARY, SECONDARY, LEDGER))
        lo = np.where(hidden, x_low, lo)
        hi = np.where(hidden, np.inf, hi)
        zero = flat_state == ZERO
        return np.where(zero, 0.0, lo), np.where(zero, 0.0, hi)

    for _ in range(max_rounds):
        lo, hi = boxes()
        intervals = audit_noisy(shape, lo, hi, pending)
        final.update(intervals)
        tol = 1e-6 * _scale(np.abs(published.ravel()))
        failing = [t for t, iv in intervals.items() if iv.width < need.ravel()[t] - tol]
        if not failing:
            return final
        pending = failing
        for t in failing:
            target = np.unravel_index(t, shape)
            neighbour = np.zeros(shape, dtype=bool)
            for axis in range(len(shape)):
                sl: list[Any] = list(target)
                sl[axis] = slice(None)
                neighbour[tuple(sl)] = True
            candidate = neighbour & (state == PUBLISHED)
            if not candidate.any():
                candidate = state == PUBLISHED
            if not candidate.any():
                return final
            cost = np.where(candidate, published, np.inf)
            state.flat[int(np.argmin(cost))] = SECONDARY
    raise RuntimeError("secondary suppression did not converge")
