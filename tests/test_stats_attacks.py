"""F8 attack tests (issue 21 item 7): a privacy reviewer's attacks on the statistics service.

Differencing two publications around one death, one move and one suspension; differencing
overlapping filters; the LP attacker who knows every rule (p-table bound, "-" is a true zero,
"x" ≥ 1, margins); ledger tampering; budget exhaustion and reset attempts.  Each must fail to
learn anything about one person beyond what one perturbed table already says.  And: a
suspended person leaves every statistics path.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

from workbench.controls import audit_log
from workbench.core import approvals
from workbench.core.errors import ApprovalError, InvalidInput, PermissionDenied
from workbench.intake.persons import active_filter
from workbench.lifecycle import disclosure
from workbench.statistics import perturbation as ck
from workbench.statistics import publishing
from workbench.statistics import statistical_control as sdc
from workbench.statistics.tables import TOTAL, StatTable

from .conftest import StaffedWorkspace, first_row, scalar
from .stats_helpers import load_population, true_counts

DIMS = ["ward", "age_band", "sex", "income_band"]


def _attacker_lp(t: StatTable) -> tuple[sp.csr_matrix, list[tuple[float, float | None]]]:
    """The attacker's model of a table: every cell unknown, lines add up (``A x = 0``: each line's last
    cell is its total), a shown count is within the p-table's bound of the truth and at least 1, "-"
    is 0, "x" ≥ 1."""
    shape = t.state.shape
    n = t.state.size
    flat = np.arange(n).reshape(shape)
    rows, cols, data = [], [], []
    r = 0
    for axis, m in enumerate(shape):
        for line in np.moveaxis(flat, axis, -1).reshape(-1, m):
            for j, i in enumerate(line):
                rows.append(r)
                cols.append(int(i))
                data.append(-1.0 if j == m - 1 else 1.0)
            r += 1
    a = sp.csr_matrix((data, (rows, cols)), shape=(r, n))
    bounds: list[tuple[float, float | None]] = []
    for i in range(n):
        s = int(t.state.flat[i])
        if s == sdc.ZERO:
            bounds.append((0.0, 0.0))
        elif s in (sdc.PRIMARY, sdc.SECONDARY, sdc.LEDGER):
            bounds.append((1.0, None))
        else:
            low, high = ck.count_box(float(t.values.flat[i]))
            bounds.append((float(low), float(high)))
    return a, bounds


def lp_interval(t: StatTable, target: tuple[int, ...]) -> tuple[float, float]:
    """An independent attacker (scipy's linprog) on :func:`_attacker_lp`'s model: the least and the
    most the target cell can be."""
    a, bounds = _attacker_lp(t)
    c = np.zeros(t.state.size)
    c[int(np.ravel_multi_index(target, t.state.shape))] = 1.0
    low = linprog(c, A_eq=a, b_eq=np.zeros(a.shape[0]), bounds=bounds, method="highs")
    high = linprog(-c, A_eq=a, b_eq=np.zeros(a.shape[0]), bounds=bounds, method="highs")
    return float(low.fun), float("inf") if high.status == 3 else float(-high.fun)


class LpAttacker:
    """The same attacker as :func:`lp_interval` on the same model, asked about many cells of one table:
    the model is built once and HiGHS re-solves it from the last basis for each objective (a fresh
    ``linprog`` per cell took ~13 s for a table's 400 cells).  The first ``checked`` cells it is asked
    about are asked of :func:`lp_interval` too, and must agree."""

    def __init__(self, t: StatTable, *, checked: int = 3) -> None:
        import highspy

        self.t, self.checked, self.kinf = t, checked, highspy.kHighsInf
        a, bounds = _attacker_lp(t)
        csc = a.tocsc()
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = int(a.shape[1]), int(a.shape[0])
        lp.col_cost_ = np.zeros(lp.num_col_)
        lp.col_lower_ = np.array([b[0] for b in bounds], dtype=float)
        lp.col_upper_ = np.array([highspy.kHighsInf if b[1] is None else b[1] for b in bounds], dtype=float)
        lp.row_lower_ = lp.row_upper_ = np.zeros(lp.num_row_)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
        lp.a_matrix_.index_ = csc.indices.astype(np.int32)
        lp.a_matrix_.value_ = csc.data.astype(float)
        self.h = highspy.Highs()  # type: ignore[no-untyped-call]
        self.h.setOptionValue("output_flag", False)
        self.h.setOptionValue("presolve", "off")  # each re-solve starts from the last optimal basis,
        self.h.setOptionValue("solver", "simplex")
        self.h.setOptionValue("simplex_strategy", 4)  # primal: a new objective keeps that basis feasible
        self.h.passModel(lp)
        self.status = highspy.HighsModelStatus
        self.cols = np.arange(lp.num_col_, dtype=np.int32)

    def _optimum(self, c: np.ndarray) -> float:
        self.h.changeColsCost(len(self.cols), self.cols, c)
        self.h.run()
        status = self.h.getModelStatus()
        if status in (self.status.kUnbounded, self.status.kUnboundedOrInfeasible):
            return float("-inf")
        assert status == self.status.kOptimal, self.h.modelStatusToString(status)
        return float(self.h.getInfo().objective_function_value)

    def interval(self, target: tuple[int, ...]) -> tuple[float, float]:
        c = np.zeros(len(self.cols))
        c[int(np.ravel_multi_index(target, self.t.state.shape))] = 1.0
        low, high = self._optimum(c), -self._optimum(-c)
        if self.checked > 0:
            self.checked -= 1
            assert np.allclose((low, high), lp_interval(self.t, target), atol=1e-6), (target, low, high)
        return low, high


@pytest.fixture
def pop(world: StaffedWorkspace) -> StaffedWorkspace:
    load_population(world, 4000)
    return world


def _pick_person(world: StaffedWorkspace, pub_id: str) -> tuple[str, tuple[str, ...]]:
    """A person whose detailed cell holds at least 5 people (see README: a cell emptied by
    one person's leaving turns from a number to "-")."""
    truth = true_counts(world, pub_id, DIMS)
    with world.ws.transaction("test.pick", "system") as con:
        manifest = __import__("json").loads(scalar(
            con, "SELECT manifest FROM stats_publications WHERE publication_id = ?", [pub_id]))
        rows = con.execute(f"SELECT s.person_id, {', '.join('s.' + d for d in DIMS)} FROM stats_source s"
                           " WHERE publication_id = ? ORDER BY s.person_id", [pub_id]).fetchall()
    for row in rows:
        key = tuple(manifest["categories"][d][c] for d, c in zip(DIMS, row[1:], strict=True))
        if truth.get(key, 0) >= 5:
            return str(row[0]), key
    raise AssertionError("no suitable person")


def _long(t: StatTable) -> pd.Series:
    frame = t.to_long()
    return frame.set_index(list(t.dims))["value"]


def _shown(t: StatTable) -> dict[tuple[str, ...], float]:
    """:func:`_long` as a dictionary by cell (looking a few cells up in a MultiIndex, hundreds of times,
    took seconds)."""
    series = _long(t)
    return dict(zip(series.index, series.to_numpy(dtype=float), strict=True))


# ------------------------------------------------------------------------------ the Bayesian attacker

_SMALL = 80


#: :func:`_row_probabilities` of the p-table object it was computed from (a test may replace the p-table).
_ROWS: list[tuple[object, tuple[np.ndarray, np.ndarray]]] = []


def _row_probabilities() -> tuple[np.ndarray, np.ndarray]:
    """From the public p-table: P[c, v], the chance a true count c (≤ 80) is shown as v; and the
    distribution of the difference of two independent noises of a larger cell (index d + 2·MAX_NOISE).
    Computed once per p-table (the same p-table object gives the same arrays)."""
    if _ROWS and _ROWS[0][0] is ck._PTABLE:
        return _ROWS[0][1]
    source = ck._PTABLE
    rows = _compute_row_probabilities()
    _ROWS[:] = [(source, rows)]
    return rows


def _compute_row_probabilities() -> tuple[np.ndarray, np.ndarray]:
    t = ck.ptable()
    m = ck.MAX_NOISE
    p = np.zeros((_SMALL + 1, _SMALL + m + 2))
    p[0, 0] = 1.0
    for c in range(1, _SMALL + 1):
        values, n = np.unique(c + t[c], return_counts=True)
        p[c, values] = n / ck.KEY_RANGE
    bulk_values, bulk_n = np.unique(t[_SMALL], return_counts=True)
    bulk = np.zeros(2 * m + 1)
    bulk[bulk_values + m] = bulk_n / ck.KEY_RANGE
    return p, np.convolve(bulk, bulk[::-1])


def log_evidence(v1: np.ndarray, v2: np.ndarray) -> np.ndarray:
    """For each cell shown as ``v1`` before and ``v2`` after: log P(v1, v2 | the leaver was in it)
    − log P(v1, v2 | he was not), for an attacker who knows the p-table and nothing of the count
    (a flat prior): exact for small cells, the difference of two noises for large ones."""
    p, diff = _row_probabilities()
    m = ck.MAX_NOISE
    v1, v2 = np.asarray(v1, dtype=float), np.asarray(v2, dtype=float)
    out = np.zeros(len(v1))
    counts = np.arange(1, _SMALL + 1)
    for i in range(len(v1)):
        a, b = int(v1[i]), int(v2[i])
        if min(a, b) < _SMALL - m - 2:
            here = float((p[counts, a] * p[counts - 1, b]).sum())
            there = float((p[counts, a] * p[counts, b]).sum()) + float(a == 0 and b == 0)
        else:
            d = b - a

            def f(x: int) -> float:
                return float(diff[x + 2 * m]) if abs(x) <= 2 * m else 0.0

            here, there = f(d + 1), f(d)
        out[i] = np.log(here + 1e-300) - np.log(there + 1e-300)
    return out


def posterior_of_band(before: StatTable, after: StatTable, known: tuple[str, ...], band: str) -> float:
    """The attacker knows who left and his ward, age band and sex (``known``), and compares the
    two ward × age band × sex × income band tables: his posterior (flat prior) that the leaver's
    income band is ``band``, from every cell that separates the bands (interior and margins)."""
    a, b = _shown(before), _shown(after)
    bands = [x for x in before.categories[3][:-1] if x in after.categories[3]]
    logs = []
    for j in bands:
        cells = [(*combo, j) for combo in itertools.product(*[(k, TOTAL) for k in known])]
        logs.append(log_evidence(np.array([a[c] for c in cells]), np.array([b[c] for c in cells])).sum())
    ll = np.asarray(logs) - max(logs)
    post = np.exp(ll) / np.exp(ll).sum()
    return float(post[bands.index(band)])


def _assert_noise_not_a_person(before: StatTable, after: StatTable, key: tuple[str, ...]) -> None:
    """Comparing two tables: the cells the person was in are not singled out — many other
    cells change too — and an attacker who knows his ward, age band and sex, weighing every cell
    that separates the income bands with the public p-table, is left unsure of his income band
    (``test_differencing_posterior_is_not_concentrated`` measures how unsure, over many leavers)."""
    a, b = _long(before), _long(after)
    common = a.index.intersection(b.index)
    diff = (b[common] - a[common]).astype(float)
    theirs = [k for k in common if all(x in (y, TOTAL) for x, y in zip(k, key, strict=True))]
    others = diff.drop(theirs)
    nonzero_cells = int((a[common] > 0).sum())
    changed_elsewhere = int((others != 0).sum())
    assert changed_elsewhere >= 0.3 * nonzero_cells, (changed_elsewhere, nonzero_cells)
    assert posterior_of_band(before, after, key[:3], key[3]) <= 0.9


def test_two_publications_around_one_death(pop: StaffedWorkspace) -> None:
    world = pop
    registrar, analyst = world.login("registrar"), world.login("analyst")
    first = publishing.publish(registrar, k=3).publication_id
    person, key = _pick_person(world, first)
    before = publishing.table(analyst, first, *DIMS, min_count=0)
    with world.ws.transaction("test.death", "system") as con:
        con.execute("UPDATE persons SET deceased = true WHERE person_id = ?", [person])
    second = publishing.publish(world.login("registrar"), k=3).publication_id
    after = publishing.table(world.login("analyst"), second, *DIMS, min_count=0)
    _assert_noise_not_a_person(before, after, key)
    # and within the first publication: he has left it, every cell gets fresh noise
    again = publishing.table(world.login("analyst"), first, *DIMS, min_count=0)
    _assert_noise_not_a_person(before, again, key)


def test_two_publications_around_one_move(pop: StaffedWorkspace) -> None:
    world = pop
    first = publishing.publish(world.login("registrar"), k=3).publication_id
    person, key = _pick_person(world, first)
    before = publishing.table(world.login("analyst"), first, *DIMS, min_count=0)
    with world.ws.transaction("test.move", "system") as con:
        ward = scalar(con, "SELECT h.ward_code FROM persons p JOIN households h USING (household_id)"
                           " WHERE p.person_id = ?", [person])
        other = scalar(con, "SELECT household_id FROM households WHERE ward_code <> ? LIMIT 1", [ward])
        con.execute("UPDATE persons SET household_id = ? WHERE person_id = ?", [other, person])
    second = publishing.publish(world.login("registrar"), k=3).publication_id
    after = publishing.table(world.login("analyst"), second, *DIMS, min_count=0)
    _assert_noise_not_a_person(before, after, key)


def test_two_publications_around_one_suspension(pop: StaffedWorkspace) -> None:
    world = pop
    world.add_user("clerk", ["reviewer"])
    first = publishing.publish(world.login("registrar"), k=3).publication_id
    person, key = _pick_person(world, first)
    before = publishing.table(world.login("analyst"), first, *DIMS, min_count=0)
    _suspend(world, person)
    within = publishing.table(world.login("analyst"), first, *DIMS, min_count=0)
    _assert_noise_not_a_person(before, within, key)
    second = publishing.publish(world.login("registrar"), k=3).publication_id
    after = publishing.table(world.login("analyst"), second, *DIMS, min_count=0)
    _assert_noise_not_a_person(before, after, key)


def _suspend(world: StaffedWorkspace, person: str) -> None:
    for user in ("reviewer", "registrar", "query", "clerk"):
        if user not in world.secrets:
            continue
        try:
            disclosure.suspend(world.login(user), person, reason="本人の求め / the person's request")
            return
        except PermissionDenied:
            continue
    raise AssertionError("no role may suspend")


def test_differencing_overlapping_filters_gives_noise(pop: StaffedWorkspace) -> None:
    world = pop
    pub = publishing.publish(world.login("registrar"), k=3).publication_id
    analyst = world.login("analyst")
    bands = publishing.describe(analyst, pub)["categories"]["age_band"]
    old = [b for b in bands if b.startswith(("75", "80", "85", "90"))]
    assert len(old) >= 2
    wide = publishing.table(analyst, pub, "ward", "sex", "income_band", filters={"age_band": old}, min_count=0)
    narrow = publishing.table(analyst, pub, "ward", "sex", "income_band", filters={"age_band": old[1:]}, min_count=0)
    direct = true_counts(world, pub, ["ward", "sex", "income_band", "age_band"])
    derived = (_long(wide) - _long(narrow)).astype(float)
    errors = []
    for k, d in derived.items():
        truth = direct.get((*k, old[0]), 0) if TOTAL not in k else None
        if truth:
            errors.append(d - truth)
            assert abs(d - truth) <= 2 * ck.MAX_NOISE
    assert len(errors) >= 20
    assert np.mean(np.asarray(errors) != 0) >= 0.4, "the difference of two filters is not the true count"


def test_margins_and_x_at_least_one_lp_attack(pop: StaffedWorkspace) -> None:
    world = pop
    pub = publishing.publish(world.login("registrar"), k=3).publication_id
    analyst = world.login("analyst")
    for dims, m in ((("ward", "income_band", "sex"), 3), (("region", "age_band", "household_size"), 5),
                    (("ward", "number_registered"), 10)):
        t = publishing.table(analyst, pub, *dims, min_count=m)
        primary = true_counts(world, pub, list(dims))
        attacker = LpAttacker(t)
        checked = 0
        for index in np.ndindex(*t.state.shape):
            key = tuple(t.categories[k][i] for k, i in enumerate(index))
            if 0 < primary.get(key, 0) < m:
                low, high = attacker.interval(index)
                assert high - low >= m - 1e-6, (dims, key, low, high)
                checked += 1
        assert checked or (dims[0] == "ward" and dims[1] == "number_registered")
    # the ledger and the result never say which x is primary
    assert set(t.counts()) == {"cells", "shown", "zero", "suppressed"}


def test_ledger_cannot_be_tampered_with_or_misattributed(pop: StaffedWorkspace) -> None:
    world = pop
    pub = publishing.publish(world.login("registrar"), k=3).publication_id
    analyst = world.login("analyst")
    t = publishing.table(analyst, pub, "ward", "income_band", min_count=5)
    # no service takes the releaser's name from the caller
    for fn in (publishing.table, publishing.export, publishing.chart, publishing.dp_preview):
        assert not {"released_by", "user", "user_id"} & set(inspect.signature(fn).parameters)
    with pytest.raises(TypeError):
        publishing.table(analyst, pub, "ward", released_by="someone-else")  # type: ignore[call-arg]
    # the analyst holds no file to edit and no service that writes the ledger or the budget
    assert not (world.ws.path / "publications").exists()
    staff_only: list[Callable[[], object]] = [
        lambda: publishing.publish(analyst),
        lambda: publishing.withdraw(analyst, "S0001", reason="x"),
        lambda: publishing.request_budget_restore(analyst, "analyst", amount=1.0, reason="x"),
        lambda: publishing.restore_budget(analyst, "analyst", amount=1.0, reason="x", approval_id="A1"),
    ]
    for call in staff_only:
        with pytest.raises(PermissionDenied):
            call()
    rel = publishing.releases(analyst)
    assert rel[0]["release_id"] == t.release_id and rel[0]["kind"] == "stats_table"
    with world.ws.transaction("test.read", "system") as con:
        row = first_row(con, "SELECT released_by, request, shown_digest FROM stats_releases")
        columns = [c[0] for c in con.execute("DESCRIBE stats_releases").fetchall()]
    assert row[0] == "analyst"
    # nothing in the ledger is a cell value or says which cell is primary
    assert not {"cells_json", "values", "need", "primary"} & set(columns)
    assert "primary" not in row[1] and "need" not in row[1]
    records = audit_log.search(world.login("auditor"), user_id="analyst", operation="stats.table", limit=10)
    assert any(r.get("outcome") == "ok" for r in records)


def test_budget_exhaustion_and_reset_attempts(pop: StaffedWorkspace) -> None:
    world = pop
    world.add_user("analyst2", ["analyst"])
    pub = publishing.publish(world.login("registrar"), k=3).publication_id
    analyst = world.login("analyst")
    publishing.table(analyst, pub, "sex", epsilon=0.6)
    with pytest.raises(InvalidInput) as exc:
        publishing.table(analyst, pub, "ward", epsilon=0.5)
    assert exc.value.details["epsilon_left"] == pytest.approx(0.4) and "残り" in exc.value.message_ja
    publishing.table(analyst, pub, "age_group", epsilon=0.4)
    with pytest.raises(InvalidInput):
        publishing.table(analyst, pub, "sex", epsilon=0.01)
    # a new publication does not reset it; another analyst's budget is their own
    second = publishing.publish(world.login("registrar"), k=3).publication_id
    with pytest.raises(InvalidInput):
        publishing.table(world.login("analyst"), second, "sex", epsilon=0.01)
    assert publishing.budget(world.login("analyst2"))["left"] == 1.0
    # a refused spend spends nothing; previews spend nothing
    publishing.dp_preview(world.login("analyst2"), pub, "sex", epsilon=0.5)
    assert publishing.budget(world.login("analyst2"))["left"] == 1.0
    # the analyst cannot restore it, nor ask for it, nor approve it
    analyst = world.login("analyst")
    with pytest.raises(PermissionDenied):
        publishing.request_budget_restore(analyst, "analyst", amount=1.0, reason="more")
    request = publishing.request_budget_restore(world.login("registrar"), "analyst", amount=0.5, reason="新しい調査 / new study")
    with pytest.raises((PermissionDenied, ApprovalError)):
        approvals.decide(world.login("analyst"), request.approval_id, approve=True)
    with pytest.raises(ApprovalError):
        publishing.restore_budget(world.login("registrar"), "analyst", amount=0.5, reason="新しい調査 / new study",
                                  approval_id=request.approval_id)
    approvals.decide(world.login("approver"), request.approval_id, approve=True)
    with pytest.raises(ApprovalError):  # a different amount than approved
        publishing.restore_budget(world.login("registrar"), "analyst", amount=1.0, reason="新しい調査 / new study",
                                  approval_id=request.approval_id)
    out = publishing.restore_budget(world.login("registrar"), "analyst", amount=0.5, reason="新しい調査 / new study",
                                    approval_id=request.approval_id)
    assert out["left"] == pytest.approx(0.5)
    assert publishing.budget(world.login("analyst"))["left"] == pytest.approx(0.5)


def test_a_suspended_person_leaves_every_statistics_path(pop: StaffedWorkspace, monkeypatch: pytest.MonkeyPatch) -> None:
    world = pop
    world.add_user("clerk", ["reviewer"])
    pub = publishing.publish(world.login("registrar"), k=3).publication_id
    person, key = _pick_person(world, pub)
    # with the noise switched off, every path must count exactly one fewer in his cells
    monkeypatch.setattr(ck, "_PTABLE", np.zeros_like(ck._PTABLE))
    monkeypatch.setattr(ck, "_SUM_SHARE", np.zeros_like(ck._SUM_SHARE))
    from workbench.statistics import Statistics

    def everything() -> dict[str, float]:
        analyst = world.login("analyst")
        st = Statistics(analyst, pub)
        t = st.table(*DIMS, min_count=0)
        idx = tuple(t.categories[k].index(v) for k, v in enumerate(key))
        total = tuple(len(c) - 1 for c in t.categories)
        exported, _data = publishing.export(analyst, pub, *DIMS, min_count=0)
        charts = st.chart("age_sex")
        age_sex = charts["age_sex"].set_index(["age_band", "sex"])["n"]
        s = st.table("sex", measure="sum")
        return {"table": t.values[idx], "table_total": t.values[total], "export": exported.values[idx],
                "chart": float(age_sex[(key[1], key[2])]), "sum": float(s.values[-1])}

    before = everything()
    _suspend(world, person)
    after = everything()
    for path in ("table", "table_total", "export", "chart"):
        assert after[path] == before[path] - 1, path
    with world.ws.transaction("test.income", "system") as con:
        income = scalar(con, "SELECT coalesce(income, 0) FROM stats_source WHERE person_id = ? AND publication_id = ?",
                        [person, pub])
        assert con.execute(f"SELECT count(*) FROM persons p WHERE person_id = ? AND {active_filter('p')}",
                           [person]).fetchone() == (0,)
    assert after["sum"] == before["sum"] - income
    # a differentially private table is built from the same records (checked through its source)
    second = publishing.publish(world.login("registrar"), k=3)
    assert second.manifest["source"]["excluded_suspended"] == 1
    with world.ws.transaction("test.read", "system") as con:
        assert con.execute("SELECT count(*) FROM stats_source WHERE publication_id = ? AND person_id = ?",
                           [second.publication_id, person]).fetchone() == (0,)


def test_perturbation_agrees_with_the_ons_package() -> None:
    """ONS's cell-key-perturbation is the oracle: the same records, keys and p-table give the
    same interior cells."""
    from cell_key_perturbation.create_perturbed_table import create_perturbed_table

    rng = np.random.default_rng(3)
    n = 3000
    micro = pd.DataFrame({"a": rng.integers(0, 6, n).astype(str), "b": rng.integers(0, 4, n).astype(str),
                          "record_key": ck.record_keys(n, rng)})
    theirs = create_perturbed_table(micro, ck.ptable_frame(), [], ["a", "b"], "record_key", threshold=0)
    grouped = micro.groupby(["a", "b"]).agg(n=("record_key", "size"), keys=("record_key", "sum")).reset_index()
    mine = ck.perturb_counts(grouped["n"].to_numpy(), grouped["keys"].to_numpy())
    merged = grouped.assign(mine=mine).merge(theirs, on=["a", "b"])
    assert len(merged) == len(grouped) and (merged["mine"] == merged["count"]).all()


def _leaver_posteriors(trials: int, seed: int = 11) -> np.ndarray:
    """Many leavers of a synthetic population (4,000 people, 12 wards × 8 age bands × 2 sexes ×
    7 income bands): for each, the tables before and after he left (two versions, independent
    key permutations, as the service draws them) and the attacker's posterior of his true band.
    Leavers alone in their cell are skipped: that cell turns to "-" (README: not protected)."""
    from workbench.statistics import tables

    rng = np.random.default_rng(seed)
    n = 4000
    cats = {"ward": [f"区{i}" for i in range(12)], "age_band": [f"{5 * i}歳" for i in range(8)],
            "sex": ["男", "女"], "income_band": [f"階級{i}" for i in range(7)]}
    codes = {"ward": rng.integers(0, 12, n), "age_band": rng.integers(0, 8, n), "sex": rng.integers(0, 2, n),
             "income_band": rng.choice(7, n, p=[0.1, 0.15, 0.2, 0.2, 0.15, 0.1, 0.1])}
    keys = ck.record_keys(n, rng)
    s = tables.spec(cats, "ward", "age_band", "sex", "income_band", min_count=0)
    common = {"publication_id": "S", "release_id": "T", "released_at": "", "released_by": ""}
    out: list[float] = []
    while len(out) < trials:
        who = int(rng.integers(n))
        same = np.ones(n, dtype=bool)
        for d in codes:
            same &= codes[d] == codes[d][who]
        if same.sum() < 2:
            continue
        keep = np.arange(n) != who
        before = tables.build(tables.Records(codes, keys, None, cats, rng.permutation(ck.KEY_RANGE)), s, **common)
        after = tables.build(tables.Records({d: c[keep] for d, c in codes.items()}, keys[keep], None, cats,
                                            rng.permutation(ck.KEY_RANGE)), s, **common)
        known = tuple(cats[d][codes[d][who]] for d in ("ward", "age_band", "sex"))
        out.append(posterior_of_band(before, after, known, cats["income_band"][codes["income_band"][who]]))
    return np.asarray(out)


def test_differencing_posterior_is_not_concentrated() -> None:
    """Think like the attacker: he knows who left, and that person's ward, age band and sex; he
    compares the ward × age band × sex × income band tables before and after (every margin too)
    and weighs each cell's two numbers with the public p-table.  Over 150 leavers his posterior on
    the true income band (7 bands: 0.14 by guessing) stays low — never close to certain."""
    posts = _leaver_posteriors(150)
    assert posts.mean() <= 0.35, posts.mean()
    assert np.quantile(posts, 0.9) <= 0.6, np.quantile(posts, 0.9)
    assert posts.max() <= 0.9, posts.max()


def test_the_attacker_is_competent(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same attacker against tables without noise is certain: the test above measures the
    method, not a weak attacker."""
    monkeypatch.setattr(ck, "_PTABLE", np.zeros_like(ck._PTABLE))
    assert _leaver_posteriors(3).min() >= 0.99
