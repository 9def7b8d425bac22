"""F8: the de-identified publication, suppressed tables, the release ledger, ε, exports, CLI."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

from workbench.cli import main
from workbench.controls import audit_log
from workbench.core import credentials
from workbench.core.errors import InvalidInput, NotFound, PermissionDenied, WorkbenchError
from workbench.statistics import publishing
from workbench.statistics import statistical_control as disclosure
from workbench.statistics.mart import TOTAL, Mart, StatTable, neutralise

from .conftest import PASSWORD, World
from .stats_helpers import load_population


@pytest.fixture
def published(world: World) -> tuple[World, str]:
    load_population(world, 4000)
    summary = publishing.publish(world.login("registrar"), k=3, max_loss=0.05, epsilon_budget=1.0)
    return world, summary.publication_id


def _interval_by_scipy(table: StatTable, target: tuple[int, ...]) -> tuple[float, float]:
    """An independent audit: scipy's linprog over the released table's additive structure."""
    shape = table.state.shape
    suppressed = np.isin(table.state, (disclosure.PRIMARY, disclosure.SECONDARY, disclosure.LEDGER))
    var = -np.ones(suppressed.size, dtype=int)
    var[np.flatnonzero(suppressed)] = np.arange(int(suppressed.sum()))
    flat = np.arange(suppressed.size).reshape(shape)
    rows, cols, data, rhs = [], [], [], []
    r = 0
    for axis, n in enumerate(shape):
        for line in np.moveaxis(flat, axis, -1).reshape(-1, n):
            coef = np.r_[np.ones(n - 1), -1.0]
            known = sum(c * table.values.flat[i] for c, i in zip(coef, line, strict=True) if var[i] < 0)
            unknown = [(c, var[i]) for c, i in zip(coef, line, strict=True) if var[i] >= 0]
            if not unknown:
                continue
            for c, v in unknown:
                rows.append(r)
                cols.append(v)
                data.append(c)
            rhs.append(-known)
            r += 1
    n_var = int(suppressed.sum())
    a = sp.csr_matrix((data, (rows, cols)), shape=(r, n_var))
    c = np.zeros(n_var)
    c[var[np.ravel_multi_index(target, shape)]] = 1
    low = linprog(c, A_eq=a, b_eq=rhs, bounds=[(0, None)] * n_var, method="highs")
    high = linprog(-c, A_eq=a, b_eq=rhs, bounds=[(0, None)] * n_var, method="highs")
    return float(low.fun), float("inf") if high.status == 3 else float(-high.fun)


# ------------------------------------------------------------------------------ publication


def test_publication_is_a_separate_file_set_with_its_manifest(published: tuple[World, str]) -> None:
    world, pub_id = published
    root = publishing.stats_root(world.ws)
    folder = root / pub_id
    assert pub_id == "S0001"
    assert sorted(p.name for p in folder.iterdir()) == ["activity.parquet", "ledger", "manifest.json", "persons.parquet"]
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    assert manifest["records"] + manifest["k_anonymity"]["records_removed"] == 4000
    assert manifest["source"]["listed_living"] == 4000
    assert manifest["k_anonymity"]["achieved"] >= 3
    frame = pd.read_parquet(folder / "persons.parquet")
    assert list(frame.columns) == ["ward", "age_band", "sex", "household_size", "income_band", "income", "number_registered"]
    assert len(frame) == manifest["records"]
    # generalised: age bands, 90+ top-coded, household 7+ top-coded (or coarser), income rounded
    assert set(frame["age_band"]) <= set(manifest["variables"]["age_band"]["categories"])
    assert all(b.endswith("歳") or b.endswith("以上") or b == "不詳" for b in frame["age_band"])
    assert (frame["income"].dropna() % 100_000 == 0).all() and frame["income"].max() <= 10_000_000
    # k measured independently: the smallest class over the quasi-identifiers
    qi = manifest["k_anonymity"]["quasi_identifiers"]
    assert int(frame.groupby(qi).size().min()) == manifest["k_anonymity"]["achieved"]


def test_pycanon_agrees_on_k(published: tuple[World, str]) -> None:
    from pycanon import anonymity

    world, pub_id = published
    folder = publishing.stats_root(world.ws) / pub_id
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    frame = pd.read_parquet(folder / "persons.parquet").astype({"income": "float64"})
    k = anonymity.k_anonymity(frame, manifest["k_anonymity"]["quasi_identifiers"])
    assert k == manifest["k_anonymity"]["achieved"] >= manifest["k_anonymity"]["required"]


def test_k_too_high_for_the_population_generalises_and_reports_the_loss(world: World) -> None:
    load_population(world, 1500)
    summary = publishing.publish(world.login("registrar"), k=10)
    rep = summary.manifest["k_anonymity"]
    assert rep["achieved"] >= 10
    assert rep["generalisation"], "k=10 over 1,500 people needs coarser categories"
    assert rep["records_removed"] <= 0.05 * 1500


def test_numbered_publications_are_kept_and_never_replace_one_in_use(published: tuple[World, str]) -> None:
    world, first = published
    mart = Mart(publishing.stats_root(world.ws))
    opened = mart.open(first)
    before = (opened.folder / "persons.parquet").read_bytes()
    second = publishing.publish(world.login("registrar"), k=3).publication_id
    assert second == "S0002"
    assert (opened.folder / "persons.parquet").read_bytes() == before
    assert opened.publication_id == first and opened.table("sex").publication_id == first
    assert [p.publication_id for p in mart.publications()] == [first, second]


def test_only_staff_publish_and_the_denial_is_audited(world: World) -> None:
    analyst = world.login("analyst")
    with pytest.raises(PermissionDenied):
        publishing.publish(analyst)
    with pytest.raises(PermissionDenied):
        publishing.withdraw(analyst, "S0001", reason="x")
    records = audit_log.search(world.login("auditor"), user_id="analyst", outcome="denied", limit=100)
    assert {r["operation"] for r in records} == {"stats.publish", "stats.withdraw"}


def test_withdrawn_publication_is_refused_and_its_microdata_deleted(published: tuple[World, str]) -> None:
    world, pub_id = published
    pub = Mart(publishing.stats_root(world.ws)).open(pub_id)
    with pytest.raises(InvalidInput):
        publishing.withdraw(world.login("registrar"), pub_id, reason=" ")
    info = publishing.withdraw(world.login("registrar"), pub_id, reason="誤りのため / found an error")
    assert info.status == "withdrawn"
    assert not (pub.folder / "persons.parquet").exists()
    with pytest.raises(InvalidInput) as exc:
        publishing.table(world.login("analyst"), pub_id, "sex")
    assert "取り下げ" in exc.value.message_ja and "withdrawn" in exc.value.message_en
    with pytest.raises(InvalidInput):
        pub.table("sex")  # the analyst's already-open object refuses too
    assert pub.releases() == []


# ------------------------------------------------------------------------------ tables


def test_three_way_table_is_suppressed_and_no_cell_can_be_recovered(published: tuple[World, str]) -> None:
    world, pub_id = published
    # Over quasi-identifiers only, every non-zero cell already holds >= k people: suppression
    # bites with a minimum count above k, or with a dimension that is not a quasi-identifier.
    for dims, min_count in ((("ward", "age_band", "sex"), 10), (("ward", "income_band", "sex"), 3)):
        _check_three_way(world, pub_id, dims, min_count)


def _check_three_way(world: World, pub_id: str, dims: tuple[str, str, str], min_count: int) -> None:
    t = publishing.table(world.login("analyst"), pub_id, *dims, min_count=min_count)
    counts = t.counts()
    assert counts["primary"] > 0 and counts["secondary"] > 0
    # released values equal a direct count of the microdata
    frame = Mart(publishing.stats_root(world.ws)).open(pub_id).frame()
    direct = frame.groupby(list(dims)).size()
    for (a, b, c), n in direct.items():
        idx = (t.categories[0].index(a), t.categories[1].index(b), t.categories[2].index(c))
        value = t.cell_value(idx)
        assert value is None or value == n
        assert (n >= min_count) or value is None, "a count below the minimum was published"
    total = t.cell_value((len(t.categories[0]) - 1, len(t.categories[1]) - 1, len(t.categories[2]) - 1))
    assert total == len(frame)
    # every primary cell: its interval, found by an independent LP, is at least 3 wide
    for index in zip(*np.nonzero(t.state == disclosure.PRIMARY), strict=True):
        low, high = _interval_by_scipy(t, tuple(int(i) for i in index))
        assert high - low >= min_count - 1e-6, (index, low, high)
    shown = t.to_frame()
    assert "x" in shown.to_numpy() and TOTAL in shown.to_numpy()


def test_sum_table_uses_the_dominance_rule(published: tuple[World, str]) -> None:
    world, pub_id = published
    t = publishing.table(world.login("analyst"), pub_id, "ward", "household_size", value="income")
    assert t.measure == "sum"
    frame = Mart(publishing.stats_root(world.ws)).open(pub_id).frame()
    for (ward, size), group in frame.groupby(["ward", "household_size"]):
        values = group["income"].fillna(0).astype(float).sort_values(ascending=False)
        idx = (t.categories[0].index(ward), t.categories[1].index(size))
        published_value = t.cell_value(idx)
        if published_value is None:
            continue
        assert published_value == values.sum()
        assert len(values) >= 3
        assert values.iloc[:2].sum() <= 0.85 * values.sum() or values.sum() == 0


def test_true_zero_is_a_dash_and_suppressed_is_x() -> None:
    codes = [np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1]), np.array([0, 0, 0, 1, 0, 0, 0, 0, 0, 1])]
    grid = disclosure.build_grid(codes, [["a", "b"], ["p", "q"]], ["ward", "sex"])
    disclosure.primary_suppression(grid, min_count=3)
    disclosure.protect(grid, min_count=3)
    t = StatTable("S0001", "T0001", ["ward", "sex"], [["a", "b", TOTAL], ["p", "q", TOTAL]], "count", None,
                  grid.values, grid.state, 3, "", "")
    assert t.cell_text((0, 1)) == "x"  # 1 person
    codes2 = [np.array([0, 0, 0, 1, 1, 1]), np.array([0, 0, 0, 0, 0, 0])]
    grid2 = disclosure.build_grid(codes2, [["a", "b"], ["p", "q"]], ["ward", "sex"])
    disclosure.primary_suppression(grid2, min_count=3)
    t2 = StatTable("S0001", "T0001", ["ward", "sex"], [["a", "b", TOTAL], ["p", "q", TOTAL]], "count", None,
                   grid2.values, grid2.state, 3, "", "")
    assert t2.cell_text((0, 1)) == "-" and t2.cell_text((0, 0)) == "3"


def test_csv_and_xlsx_exports(published: tuple[World, str], tmp_path: Path) -> None:
    from openpyxl import load_workbook

    world, pub_id = published
    t = publishing.table(world.login("analyst"), pub_id, "ward", "sex")
    data = t.to_csv(tmp_path / "t.csv")
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert "区市町村" in text and TOTAL in text
    for line in text.splitlines():
        for cell in line.split(","):
            assert not cell.strip('"').startswith(("=", "+", "@")), cell
    t.to_xlsx(tmp_path / "t.xlsx")
    wb = load_workbook(tmp_path / "t.xlsx")
    values = [c.value for row in wb.active.iter_rows() for c in row if c.value is not None]
    assert "x" in values or t.counts()["primary"] == 0
    assert any(isinstance(v, int) for v in values)


def test_formula_neutralisation() -> None:
    assert neutralise("=1+1") == "'=1+1"
    assert neutralise("+cmd") == "'+cmd"
    assert neutralise("-2+3") == "'-2+3"
    assert neutralise("@SUM(A1)") == "'@SUM(A1)"
    assert neutralise("\tx") == "'\tx" and neutralise("\rx") == "'\rx"
    assert neutralise("-") == "-" and neutralise("-12") == "-12" and neutralise("1,234") == "1,234"
    assert neutralise("足立区") == "足立区"


# ------------------------------------------------------------------------------ the release ledger


def test_same_table_with_one_ward_merged_cannot_reveal_a_suppressed_cell(published: tuple[World, str]) -> None:
    world, pub_id = published
    analyst = world.login("analyst")
    first = publishing.table(analyst, pub_id, "ward", "sex", min_count=20)
    primaries = [i for i in zip(*np.nonzero(first.state == disclosure.PRIMARY), strict=True)
                 if i[0] < len(first.categories[0]) - 1]
    assert primaries, "the fixture should give at least one small ward × sex cell"
    ward = first.categories[0][int(primaries[0][0])]
    other = next(w for w in first.categories[0][:-1] if w != ward)
    second = publishing.table(analyst, pub_id, "ward", "sex", min_count=20, merge={"ward": {"結合": [ward, other]}})
    pub = Mart(publishing.stats_root(world.ws)).open(pub_id)
    releases = pub.releases()
    assert [r["release_id"] for r in releases] == [first.release_id, second.release_id]
    # differencing the two releases narrows no primary cell below its protection
    cells = []
    for r in releases:
        for c in r["cells"]:
            cells.append(disclosure.ReleasedCell(c["cover"], c["v"], c["s"] == "primary", c["need"], r["release_id"],
                                                 tuple(c["i"])))
    sizes = [len(pub.categories("ward")), len(pub.categories("sex"))]
    assert disclosure.audit_releases(cells, ["ward", "sex"], sizes) == []
    # and the naive attack on the cell itself fails: the merged cell or its partner is hidden
    w_idx, s_idx = int(primaries[0][0]), int(primaries[0][1])
    merged_row = second.categories[0].index("結合")
    partner = first.cell_value((first.categories[0].index(other), s_idx))
    merged = second.cell_value((merged_row, s_idx))
    assert partner is None or merged is None, "A = (A+B) - B would reveal the suppressed cell"
    assert w_idx >= 0


def test_bad_input_is_refused_in_both_languages_and_nothing_is_released(published: tuple[World, str]) -> None:
    world, pub_id = published
    analyst = world.login("analyst")
    pub = Mart(publishing.stats_root(world.ws)).open(pub_id)
    cases: list[dict[str, Any]] = [
        dict(rows="name"),
        dict(rows="ward", cols="address"),
        dict(rows="ward", value="income", epsilon=0.1),
        dict(rows="ward", value="phone"),
        dict(rows="ward", min_count=0),
        dict(rows="ward", epsilon=5.0),
        dict(rows="ward", epsilon=-1.0),
        dict(rows="ward", cols="region"),
        dict(rows="ward", merge={"ward": {"x": ["no such ward", "nor this"]}}),
    ]
    for kwargs in cases:
        with pytest.raises(WorkbenchError) as exc:
            publishing.table(analyst, pub_id, **kwargs)
        assert exc.value.message_ja != exc.value.message_en, kwargs
        assert exc.value.message_ja and exc.value.message_en
    with pytest.raises(NotFound):
        publishing.table(analyst, "S9999", "ward")
    with pytest.raises(NotFound):
        publishing.table(analyst, "../../etc", "ward")
    assert pub.releases() == []
    refused = audit_log.search(world.login("auditor"), user_id="analyst", operation="stats.table", outcome="refused",
                              limit=100)
    assert len(refused) == len(cases) + 2


def test_differential_privacy_budget_cannot_be_overspent(published: tuple[World, str]) -> None:
    world, pub_id = published
    analyst = world.login("analyst")
    t = publishing.table(analyst, pub_id, "age_group", "sex", epsilon=0.6)
    assert t.epsilon == 0.6 and t.accuracy_95 is not None and t.accuracy_95 > 0
    assert t.counts()["primary"] == 0 and "95%" in t.notes[0][1]
    with pytest.raises(InvalidInput) as exc:
        publishing.table(analyst, pub_id, "ward", epsilon=0.5)
    assert exc.value.details["epsilon_left"] == pytest.approx(0.4)
    assert "残り" in exc.value.message_ja
    publishing.table(analyst, pub_id, "sex", epsilon=0.4)
    pub = Mart(publishing.stats_root(world.ws)).open(pub_id)
    assert pub.epsilon_left() == pytest.approx(0.0)
    assert len(pub.releases()) == 2


def test_the_mart_is_read_without_any_workspace(published: tuple[World, str], tmp_path: Path) -> None:
    import shutil

    world, pub_id = published
    copy = tmp_path / "analyst-share"
    shutil.copytree(publishing.stats_root(world.ws), copy)
    shutil.rmtree(world.ws.path)  # keyring, database and all
    pub = Mart(copy).open(pub_id)
    t = pub.table("ward", "age_group", released_by="analyst")
    assert t.release_id == "T0001" and pub.releases()[0]["released_by"] == "analyst"


# ------------------------------------------------------------------------------ the CLI


def test_cli_publish_and_table(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    load_population(world, 3000)
    for extra in ("analyst2", "analyst3", "analyst4"):  # one login per user and 30-second step (TOTP reuse)
        world.add_user(extra, ["analyst"])

    def run(user: str, *argv: str) -> tuple[int, str, str]:
        monkeypatch.setenv("WORKBENCH_USER", user)
        monkeypatch.setenv("WORKBENCH_PASSWORD", PASSWORD)
        monkeypatch.setenv("WORKBENCH_TOTP", credentials.totp_code(world.secrets[user], dt.datetime.now(dt.UTC)))
        code = main(["-w", str(world.ws.path), *argv])
        out = capsys.readouterr()
        return code, out.out, out.err

    code, out, err = run("registrar", "stats", "publish", "--k", "3")
    assert code == 0, err
    assert json.loads(out)["publication_id"] == "S0001"
    code, out, err = run("analyst", "stats", "table", "--publication", "S0001", "--rows", "ward", "--cols", "sex",
                         "--csv", str(tmp_path / "t.csv"), "--xlsx", str(tmp_path / "t.xlsx"))
    assert code == 0, err
    assert "区市町村" in out and TOTAL in out
    assert (tmp_path / "t.csv").read_bytes().startswith(b"\xef\xbb\xbf") and (tmp_path / "t.xlsx").stat().st_size > 0
    code, out, err = run("analyst2", "stats", "table", "--publication", "S0001", "--rows", "ward", "--min-count", "0")
    assert code == 2 and "最小セル度数" in json.loads(err)["message_ja"]
    code, out, err = run("analyst3", "stats", "publish")
    assert code == 4
    code, out, err = run("analyst4", "stats", "list")
    assert code == 0 and json.loads(out)[0]["publication_id"] == "S0001"
    frame = pd.read_csv(io.BytesIO((tmp_path / "t.csv").read_bytes()), skiprows=3, encoding="utf-8-sig")
    assert frame.columns[0] == "区市町村"


@pytest.mark.slow
def test_benchmark_script_runs_small(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, str(root / "benchmarks" / "bench_stats.py"), "--persons", "3000",
                          "--min-count", "5", "--workdir", str(tmp_path)], check=True, capture_output=True, text=True,
                         cwd=root, env={**__import__("os").environ, "PYTHONPATH": str(root)})
    assert "publish (k=10)" in out.stdout and "table ward×age×sex" in out.stdout


def test_bad_publication_parameters_are_refused_and_nothing_is_written(world: World) -> None:
    load_population(world, 500)
    registrar = world.login("registrar")
    for kwargs in (dict(k=1), dict(k=True), dict(max_loss=0.9), dict(epsilon_budget=-1.0)):
        with pytest.raises(InvalidInput) as exc:
            publishing.publish(registrar, **kwargs)
        assert exc.value.message_ja != exc.value.message_en
    root = publishing.stats_root(world.ws)
    assert not root.exists() or not list(root.iterdir())
    with pytest.raises(NotFound):
        publishing.withdraw(registrar, "S0001", reason="none there")
