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

* **Perturbed tables** (:func:`protect_noisy`, what the statistics service uses): every cell is
  unknown to the attacker within its box (a shown number ± the p-table's bound and at least 1,
  "-" = 0, "x" ≥ 1), the lines add up.  The audit needs each primary cell's interval to be at
  least its claim wide, and proves that cheaply: any two points the attacker cannot rule out
  bound the width from below, so the true table, every LP optimum and the optima of a small LP
  over the "x" cells alone (the published cells held at their true values) are kept and checked
  in numpy; a cell they already spread is proven without an LP of its own.  A cell its lines
  alone hold too narrow fails without an LP.  Only the rest get their exact min and max from one
  HiGHS model of the whole table, warm-started across cells and rounds.

See docs/decisions.md (Statistics) for why this method and these protection levels.
"""

from __future__ import annotations

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
    "atom_mask",
    "audit",
    "audit_releases",
    "build_grid",
    "close_single_lines",
    "primary_suppression",
    "protect",
    "with_margins",
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


def with_margins(interior: npt.NDArray[np.generic], op: str = "sum") -> npt.NDArray[np.generic]:
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
    full_counts = with_margins(counts).astype(np.int64)
    if values is None:
        grid_values = full_counts.astype(np.float64)
        top = np.zeros((*full_counts.shape, 0))
    else:
        v = np.round(np.clip(np.asarray(values, dtype=np.float64), 0, None))
        sums = np.bincount(flat, weights=v, minlength=size).reshape(shape)
        grid_values = with_margins(sums).astype(np.float64)
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


def close_single_lines(grid: Grid, state: IntArray) -> bool:
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
        close_single_lines(grid, state)
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


def atom_mask(cover: dict[str, list[int] | None], variables: list[str], sizes: list[int]) -> BoolArray:
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
        idx = np.flatnonzero(atom_mask(cell.cover, variables, sizes))
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
        c = atom_mask(cell.cover, variables, sizes).astype(float)
        low, high = solver.interval(c)
        low, high = low * scale, high * scale
        if high - low < cell.need - 1e-6 * scale:
            failing.append((cell, Interval(low, high)))
    return failing


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


class _Model:
    """The attacker's model of a perturbed table, in scaled units: every cell (interior and
    margins) unknown, ``A x = 0`` for every line, ``lo ≤ x ≤ hi``.  Only checks points."""

    def __init__(self, shape: tuple[int, ...], lo: FloatArray, hi: FloatArray, scale: float) -> None:
        self.a = _all_lines_matrix(shape).tocsr()
        self.n = int(self.a.shape[1])
        self.scale = scale
        self.lo = np.asarray(lo, dtype=float) / scale
        self.hi = np.asarray(hi, dtype=float) / scale
        finite = self.hi[np.isfinite(self.hi)]
        #: an "x" is capped here in the LPs (above anything the published cells allow): a point
        #: of a capped LP is a point of the model, so widths proven with it hold for the attacker
        self.cap = 2.0 * float(finite.sum() if len(finite) else 0.0) + 1.0

    def set_bounds(self, idx: IntArray, lo: FloatArray, hi: FloatArray) -> None:
        self.lo[idx] = np.asarray(lo, dtype=float) / self.scale
        self.hi[idx] = np.asarray(hi, dtype=float) / self.scale

    def verified(self, x: FloatArray | None) -> FloatArray | None:
        """``x`` if it is a point of the model (within every box, every line adding up)."""
        if x is None or len(x) != self.n:
            return None
        tol = 1e-6 * np.maximum(1.0, np.abs(x))
        ok = (bool(np.all(x >= self.lo - tol)) and bool(np.all(x <= self.hi + tol))
              and float(np.max(np.abs(self.a @ x), initial=0.0)) <= 1e-6 * max(1.0, float(np.max(np.abs(x), initial=0.0))))
        return x if ok else None


class _NoisyLP(_Bounds):
    """A HiGHS model over some of the cells (``cols``; the others held at ``base``), asked for
    many objectives: each solve warm-starts from the last basis (dual simplex for the first
    solve, primal after, which keeps the basis feasible when only the objective changes).

    Over every cell it is the attacker's model (with "x" capped at ``model.cap``), kept across
    rounds of suppression (a new "x" only changes its bounds).  Over the "x" cells alone, the
    published ones held at their true values, it is a much smaller model whose every point is
    a point of the attacker's model too: cheap witnesses, never a verdict that a cell fails."""

    def __init__(self, model: _Model, cols: IntArray | None = None, base: FloatArray | None = None) -> None:
        self.model = model
        self.full = model.n
        if cols is None:
            a, b = model.a, np.zeros(model.a.shape[0])
            self.map: IntArray | None = None
            self.base = np.zeros(model.n)
        else:
            assert base is not None
            sub = model.a[:, cols].tocsr()
            rows = np.flatnonzero(np.diff(sub.indptr) > 0)
            a, b = sub[rows], sub[rows] @ base[cols]
            self.map = np.asarray(cols, dtype=np.int64)
            self.base = np.asarray(base, dtype=float)
        super().__init__(a, b)
        idx = np.arange(self.full) if self.map is None else self.map
        self.update(idx)
        self.h.setOptionValue("simplex_strategy", 1)
        self.fresh = True

    def update(self, idx: IntArray) -> None:
        """Copy the model's bounds of cells ``idx`` (all in this LP)."""
        idx = np.asarray(idx, dtype=np.int64)
        if not len(idx):
            return
        local = idx if self.map is None else np.searchsorted(self.map, idx)
        self.h.changeColsBounds(len(idx), local.astype(np.int32), self.model.lo[idx],
                                np.minimum(self.model.hi[idx], self.model.cap))

    def solve(self, c_full: FloatArray) -> tuple[float, FloatArray | None]:
        """Minimise ``c·x``: the optimum and the optimal point over every cell if it is a
        point of the attacker's model (checked in numpy)."""
        c = c_full if self.map is None else c_full[self.map]
        value = self._optimum(c)
        if self.fresh:
            self.h.setOptionValue("simplex_strategy", 4)
            self.fresh = False
        x = np.asarray(self.h.getSolution().col_value, dtype=float)
        if self.map is not None:
            y = self.base.copy()
            y[self.map] = x
            x = y
        return value + (0.0 if self.map is None else float(c_full @ self.base) - float(c @ self.base[self.map])), \
            self.model.verified(x)

    def tight(self) -> IntArray:
        """The cells whose bounds hold the last optimum where it is (non-zero reduced cost)."""
        dual = np.asarray(self.h.getSolution().col_dual, dtype=float)
        local = np.flatnonzero(np.abs(dual) > 1e-9)
        return local if self.map is None else self.map[local]


class _Witnesses:
    """Feasible points of the attacker's model seen so far.  For any two such points ``p``, ``q``
    the attacker's interval for cell ``t`` is at least ``p[t] − q[t]`` wide, so the spread of the
    points is a proven lower bound of every cell's width — checked in numpy, no LP."""

    def __init__(self, n: int) -> None:
        self.high = np.full(n, -np.inf)
        self.low = np.full(n, np.inf)

    def add(self, x: FloatArray | None) -> None:
        if x is not None:
            np.maximum(self.high, x, out=self.high)
            np.minimum(self.low, x, out=self.low)

    def width(self, idx: IntArray) -> FloatArray:
        w = self.high[idx] - self.low[idx]
        return np.where(np.isfinite(w), w, 0.0)


def _noisy_boxes(state: IntArray, published: FloatArray, bound: FloatArray, x_low: float) -> tuple[FloatArray, FloatArray]:
    """The attacker's box for every cell: a published number is within ``bound`` of the truth
    and, not being "-", at least ``x_low``; an "x" is at least ``x_low``; "-" is 0."""
    flat_state = state.ravel()
    lo = np.maximum(published.ravel() - bound.ravel(), x_low)
    hi = published.ravel() + bound.ravel()
    hidden = np.isin(flat_state, (PRIMARY, SECONDARY, LEDGER))
    lo = np.where(hidden, x_low, lo)
    hi = np.where(hidden, np.inf, hi)
    zero = flat_state == ZERO
    return np.where(zero, 0.0, lo).astype(float), np.where(zero, 0.0, hi).astype(float)


def _spread(lp: _NoisyLP, seen: _Witnesses, targets: IntArray, need: FloatArray, rounds: int = 40) -> None:
    """A few LPs with many open targets in the objective (all up, all down, then random signs
    and random weights), each optimum a witness for every cell at once."""
    tol = 1e-6
    need_t = need[targets]
    rng = np.random.default_rng(len(targets))
    for round_ in range(rounds):
        todo = targets[seen.width(targets) < need_t - tol]
        if not len(todo):
            return
        c = np.zeros(lp.full)
        if round_ == 0:
            c[todo] = -1.0
        elif round_ == 1:
            c[todo] = 1.0
        elif round_ % 2:
            c[todo] = rng.choice((-1.0, 1.0), size=len(todo))
        else:
            c[todo] = -rng.exponential(size=len(todo))
        seen.add(lp.solve(c)[1])
        left = int((seen.width(todo) < need[todo] - tol).sum())
        if round_ >= 2 and left > 0.95 * len(todo):
            return


def _witness_cell(lp: _NoisyLP, seen: _Witnesses, t: int, need: FloatArray) -> bool:
    """The min and max of cell ``t`` over ``lp`` as witnesses; whether ``t`` is proven now."""
    c = np.zeros(lp.full)
    for sign in (-1.0, 1.0):
        c[t] = sign
        seen.add(lp.solve(c)[1])
        if seen.width(np.asarray([t]))[0] >= need[t] - 1e-6:
            return True
    return False


def _audit_noisy(lp: _NoisyLP, seen: _Witnesses, targets: IntArray, need: FloatArray,
                 exact: bool = False, binding: dict[int, IntArray] | None = None,
                 published: BoolArray | None = None, verdict: bool = True) -> dict[int, Interval]:
    """Intervals of ``targets`` (all in scaled units; ``need`` too).  Without ``exact``, a target
    whose witnesses already spread at least ``need`` is proven by them (its interval is then an
    inner bound); the rest get their min and max by LP (exact over the attacker's model;
    with ``verdict`` false only witnesses are gathered and nothing is returned for them)."""
    tol = 1e-6
    out: dict[int, Interval] = {}
    targets = np.asarray(targets, dtype=np.int64)
    if not len(targets):
        return out
    if not exact:
        _spread(lp, seen, targets, need)
    misses = 0
    for t in targets:
        t = int(t)
        if not exact and seen.width(np.asarray([t]))[0] >= need[t] - tol:
            continue
        if not verdict:
            # a model that only gathers witnesses is left once it stops proving cells
            if misses >= 10:
                break
            misses += 1
            if _witness_cell(lp, seen, t, need):
                misses = 0
            continue
        c = np.zeros(lp.full)
        c[t] = -1.0
        neg_high, x = lp.solve(c)
        seen.add(x)
        high = -neg_high
        if not exact and max(high, seen.high[t]) - seen.low[t] >= need[t] - tol:
            continue
        tight = lp.tight() if binding is not None else None
        c[t] = 1.0
        low, x = lp.solve(c)
        seen.add(x)
        out[t] = Interval(low, high)
        if binding is not None and tight is not None and published is not None:
            both = np.union1d(tight, lp.tight())
            binding[t] = both[published[both]]
    if verdict:
        for t in targets:
            if int(t) not in out:
                out[int(t)] = Interval(float(seen.low[t]), float(seen.high[t]))
    return out


def _interval_out(iv: Interval, model: _Model) -> Interval:
    high = float("inf") if iv.high >= model.cap * (1 - 1e-9) else iv.high * model.scale
    return Interval(iv.low * model.scale, high)


def audit_noisy(shape: tuple[int, ...], lo: FloatArray, hi: FloatArray, targets: Sequence[int]) -> dict[int, Interval]:
    """What an attacker who knows every rule derives about each target cell of one perturbed
    table: every true cell (interior and margins) is unknown, the lines add up, a published
    cell lies within the p-table's noise of what was printed (``lo``…``hi``), a "-" is 0 and an
    "x" is at least 1.  Returns each target's exact interval (HiGHS, two LPs per target)."""
    if not len(targets):
        return {}
    finite_hi = hi[np.isfinite(hi)]
    scale = _scale(np.concatenate([lo, finite_hi]) if len(finite_hi) else lo)
    model = _Model(shape, lo, hi, scale)
    seen = _Witnesses(model.n)
    got = _audit_noisy(_NoisyLP(model), seen, np.asarray(targets, dtype=np.int64), np.zeros(model.n), exact=True)
    return {t: _interval_out(iv, model) for t, iv in got.items()}


def _line_widths(state: IntArray, lo: FloatArray, hi: FloatArray, cells: IntArray) -> FloatArray:
    """Upper bounds of each cell's interval, one per axis (``(len(cells), k)``), in numpy: on every line through it the cell is
    the sum (or difference) of the line's other cells, so it cannot vary by more than their
    boxes together — infinite when another "x" is on the line.  A cell narrower than it needs
    here fails the LP audit too, without solving one."""
    shape = state.shape
    width = (hi - lo).reshape(shape)
    finite = np.isfinite(width)
    w0 = np.where(finite, width, 0.0)
    where = np.unravel_index(cells, shape)
    out = np.full((len(cells), len(shape)), np.inf)
    own = w0.ravel()[cells]
    own_inf = ~finite.ravel()[cells]
    for axis in range(len(shape)):
        total = w0.sum(axis=axis)
        n_inf = (~finite).sum(axis=axis)
        rest = tuple(w for a, w in enumerate(where) if a != axis)
        others_inf = n_inf[rest] - own_inf.astype(np.int64)
        out[:, axis] = np.where(others_inf > 0, np.inf, total[rest] - own)
    return out


def _on_lines(shape: tuple[int, ...], cells: IntArray) -> BoolArray:
    """The cells sharing a line with any of ``cells``."""
    mark = np.zeros(shape, dtype=bool)
    mark.flat[cells] = True
    out = np.zeros(shape, dtype=bool)
    for axis in range(len(shape)):
        out |= mark.any(axis=axis, keepdims=True)
    return out


def _cheapest_on_lines(state: IntArray, published: FloatArray, failing: IntArray,
                       axes: BoolArray | None = None) -> IntArray:
    """For each failing cell, the published cell with the smallest value on any of its lines
    (only along ``axes[i]`` where given; flat index), or -1 when none has one — all at once."""
    shape = state.shape
    cost = np.where(state == PUBLISHED, published, np.inf)
    where = np.unravel_index(failing, shape)
    best_cost = np.full(len(failing), np.inf)
    best = np.full(len(failing), -1, dtype=np.int64)
    for axis in range(len(shape)):
        arg = np.argmin(cost, axis=axis)            # shape without ``axis``
        low = np.min(cost, axis=axis)
        rest = tuple(w for a, w in enumerate(where) if a != axis)
        c_t, a_t = low[rest], arg[rest]
        full = list(where)
        full[axis] = a_t
        flat = np.ravel_multi_index(tuple(full), shape)
        better = c_t < best_cost
        if axes is not None:
            better &= axes[:, axis]
        best_cost = np.where(better, c_t, best_cost)
        best = np.where(better, flat, best)
    return best


def protect_noisy(state: IntArray, published: FloatArray, bound: FloatArray, need: FloatArray, *, x_low: float,
                  max_rounds: int = 200, truth: FloatArray | None = None) -> dict[int, Interval]:
    """Secondary suppression for a perturbed table: while the LP audit narrows a primary cell
    below ``need``, suppress the smallest published cell on one of its lines (on any line of the
    table when its own lines have none).  ``state`` is changed in place; returns an interval for
    each primary cell at least as narrow as the attacker's (exact where an LP was needed).

    The audit is sound and cheap: every feasible point of the attacker's model (the true table
    ``truth`` if given, and every LP optimum) is kept, and a cell whose points already spread
    ``need`` is proven without an LP of its own.  Suppressing a cell replaces its box by
    ``[x_low, ∞)``, which holds the old one, so points stay feasible and a cell that passed is
    not audited again."""
    shape = state.shape
    scale = _scale(np.abs(published.ravel()))
    need_s = np.asarray(need, dtype=float).ravel() / scale
    tol = 1e-6
    lp: _NoisyLP | None = None
    model: _Model | None = None
    base: FloatArray | None = None
    seen = _Witnesses(state.size)
    pending = np.flatnonzero(state.ravel() == PRIMARY)
    final: dict[int, Interval] = {}
    for _ in range(max_rounds):
        lo, hi = _noisy_boxes(state, published, bound, x_low)
        narrow = _line_widths(state, lo / scale, hi / scale, pending) < need_s[pending, None] - tol
        on_line = narrow.any(axis=1)
        failing = pending[on_line]
        binding: dict[int, IntArray] = {}
        if len(failing):
            best = _cheapest_on_lines(state, published, failing, narrow[on_line])
        else:
            # every pending cell could be wide enough: the LP audit decides
            if model is None:
                model = _Model(shape, lo, hi, scale)
                base = model.verified(None if truth is None else np.asarray(truth, dtype=float).ravel() / scale)
                seen.add(base)
            else:
                model.set_bounds(np.arange(model.n), lo, hi)
            if base is not None:
                # witnesses from the small LP over the "x" cells, the published ones held at the truth
                hidden = np.flatnonzero(np.isin(state.ravel(), (PRIMARY, SECONDARY, LEDGER)))
                _audit_noisy(_NoisyLP(model, hidden, base), seen, pending, need_s, verdict=False)
            open_ = pending[seen.width(pending) < need_s[pending] - tol]
            if len(open_) and base is not None:
                # then with the published cells on their lines free within their boxes too
                near = np.flatnonzero((_on_lines(shape, open_) & (state == PUBLISHED)).ravel())
                cols = np.union1d(hidden, near)
                _audit_noisy(_NoisyLP(model, cols, base), seen, open_, need_s, verdict=False)
                open_ = open_[seen.width(open_) < need_s[open_] - tol]
            if len(open_) and lp is None:
                lp = _NoisyLP(model)
            elif len(open_) and lp is not None:
                lp.update(np.arange(model.n))
            intervals = {} if lp is None else _audit_noisy(lp, seen, open_, need_s, binding=binding,
                                                          published=(state == PUBLISHED).ravel())
            final.update({int(t): _interval_out(Interval(float(seen.low[t]), float(seen.high[t])), model)
                          for t in pending})
            final.update({t: _interval_out(iv, model) for t, iv in intervals.items()})
            failing = np.asarray([t for t, iv in intervals.items() if iv.width < need_s[t] - tol], dtype=np.int64)
            if not len(failing):
                return final
            pending = failing   # a cell that passed stays passed: more x only widens the model
            # the cheapest published cell whose box holds the failing cell's min or max
            best = _cheapest_on_lines(state, published, failing)
            flat_pub = published.ravel()
            for i, t in enumerate(failing):
                cells = binding.get(int(t), np.zeros(0, dtype=np.int64))
                if len(cells):
                    best[i] = int(cells[np.argmin(flat_pub[cells])])
        if (best < 0).any():
            cost = np.where(state == PUBLISHED, published, np.inf)
            if not np.isfinite(cost).any():
                return final
            best = np.where(best < 0, int(np.argmin(cost)), best)
        new = np.unique(best)
        state.flat[new] = SECONDARY
    raise RuntimeError("secondary suppression did not converge")
