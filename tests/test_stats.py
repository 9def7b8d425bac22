"""F8: the statistics service — publication in the store, tables built on the server (counts,
sums, means, quantile bands, filters), cell-key perturbation, suppression, exports, ε, CLI."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from workbench.cli import main
from workbench.controls import audit_log
from workbench.core import credentials
from workbench.core.errors import InvalidInput, NotFound, PermissionDenied, WorkbenchError
from workbench.statistics import Statistics, publishing
from workbench.statistics import perturbation as ck
from workbench.statistics import statistical_control as sdc
from workbench.statistics.tables import TOTAL, neutralise

from .conftest import PASSWORD, StaffedWorkspace, first_row, run_benchmark, scalar
from .stats_helpers import load_population, true_counts


@pytest.fixture
def published(world: StaffedWorkspace) -> tuple[StaffedWorkspace, str]:
    load_population(world, 4000)
    summary = publishing.publish(world.login("registrar"), k=3, max_loss=0.05)
    return world, summary.publication_id


# ------------------------------------------------------------------------------ publication


def test_publication_lives_in_the_store_and_writes_no_file(published: tuple[StaffedWorkspace, str]) -> None:
    world, pub_id = published
    assert pub_id == "S0001"
    assert not (world.ws.path / "publications").exists()
    manifest = publishing.describe(world.login("analyst"), pub_id)
    assert manifest["records"] + manifest["k_anonymity"]["records_removed"] == 4000
    assert manifest["source"]["listed_living"] == 4000
    assert manifest["k_anonymity"]["achieved"] >= 3
    with world.ws.transaction("test.read", "system") as con:
        n, keys, distinct = first_row(
            con, "SELECT count(*), count(DISTINCT record_key), count(DISTINCT person_id) FROM stats_source")
        lo, hi = first_row(con, "SELECT min(record_key), max(record_key) FROM stats_record_keys")
    assert n == manifest["records"] == distinct and keys > 200 and 1 <= lo and hi < ck.KEY_RANGE


def test_pycanon_agrees_on_k(published: tuple[StaffedWorkspace, str]) -> None:
    from pycanon import anonymity

    world, pub_id = published
    manifest = publishing.describe(world.login("analyst"), pub_id)
    qi = manifest["k_anonymity"]["quasi_identifiers"]
    with world.ws.transaction("test.read", "system") as con:
        frame = con.execute(f"SELECT {', '.join(qi)} FROM stats_source").df()
    k = anonymity.k_anonymity(frame, qi)
    assert k == manifest["k_anonymity"]["achieved"] >= manifest["k_anonymity"]["required"]


def test_record_keys_never_change_across_publications(published: tuple[StaffedWorkspace, str]) -> None:
    world, _ = published
    with world.ws.transaction("test.read", "system") as con:
        before = dict(con.execute("SELECT person_id, record_key FROM stats_record_keys").fetchall())
    publishing.publish(world.login("registrar"), k=3)
    with world.ws.transaction("test.read", "system") as con:
        after = dict(con.execute("SELECT person_id, record_key FROM stats_record_keys").fetchall())
        again = dict(con.execute("SELECT person_id, record_key FROM stats_source WHERE publication_id = 'S0002'").fetchall())
    assert before == after and all(before[p] == k for p, k in again.items())


def test_only_staff_publish_and_the_denial_is_audited(world: StaffedWorkspace) -> None:
    analyst = world.login("analyst")
    with pytest.raises(PermissionDenied):
        publishing.publish(analyst)
    with pytest.raises(PermissionDenied):
        publishing.withdraw(analyst, "S0001", reason="x")
    records = audit_log.search(world.login("auditor"), user_id="analyst", outcome="denied", limit=100)
    assert {r["operation"] for r in records} == {"stats.publish", "stats.withdraw"}


def test_withdrawn_publication_is_refused_and_its_source_deleted(published: tuple[StaffedWorkspace, str]) -> None:
    world, pub_id = published
    with pytest.raises(InvalidInput):
        publishing.withdraw(world.login("registrar"), pub_id, reason=" ")
    info = publishing.withdraw(world.login("registrar"), pub_id, reason="誤りのため / found an error")
    assert info.status == "withdrawn"
    with world.ws.transaction("test.read", "system") as con:
        assert con.execute("SELECT count(*) FROM stats_source").fetchone() == (0,)
    with pytest.raises(InvalidInput) as exc:
        publishing.table(world.login("analyst"), pub_id, "sex")
    assert "取り下げ" in exc.value.message_ja and "withdrawn" in exc.value.message_en


# ------------------------------------------------------------------------------ tables


def test_counts_are_perturbed_consistently_within_the_ptable_bound(published: tuple[StaffedWorkspace, str]) -> None:
    world, pub_id = published
    analyst = world.login("analyst")
    t = publishing.table(analyst, pub_id, "ward", "age_group", "sex", min_count=0)
    truth = true_counts(world, pub_id, ["ward", "age_group", "sex"])
    diffs = []
    for index in np.ndindex(*t.state.shape):
        key = tuple(t.categories[k][i] for k, i in enumerate(index))
        n = truth.get(key, 0)
        v = t.cell_value(index)
        assert v is not None
        if n == 0:
            assert v == 0 and t.cell_text(index) == "-"
        else:
            assert v >= 1 and abs(v - n) <= ck.MAX_NOISE
            diffs.append(v - n)
    assert any(d != 0 for d in diffs), "the cells are perturbed"
    # the same cell in another table, margin or filter has the same number
    again = publishing.table(analyst, pub_id, "ward", "age_group", "sex", min_count=0)
    assert np.array_equal(again.values, t.values)
    by_ward_sex = publishing.table(analyst, pub_id, "ward", "sex", min_count=0)
    total = (slice(None), len(t.categories[1]) - 1, slice(None))
    assert np.array_equal(by_ward_sex.values, t.values[total])
    women = publishing.table(analyst, pub_id, "ward", filters={"sex": ["女"]}, min_count=0)
    col = t.categories[2].index("女")
    assert np.array_equal(women.values, t.values[:, len(t.categories[1]) - 1, col])


def test_small_cells_are_x_and_the_lp_attacker_cannot_narrow_them(published: tuple[StaffedWorkspace, str]) -> None:
    world, pub_id = published
    from .test_stats_attacks import LpAttacker

    t = publishing.table(world.login("analyst"), pub_id, "ward", "income_band", "sex", min_count=5)
    truth = true_counts(world, pub_id, ["ward", "income_band", "sex"])
    attacker = LpAttacker(t)
    hidden = 0
    for index in np.ndindex(*t.state.shape):
        key = tuple(t.categories[k][i] for k, i in enumerate(index))
        n = truth.get(key, 0)
        if 0 < n < 5:
            assert t.cell_text(index) == "x"
            hidden += 1
            low, high = attacker.interval(index)
            assert high - low >= 5 - 1e-6, (key, low, high)
    assert hidden > 0 and "x" in t.to_frame().to_numpy()


def test_sums_means_and_quantile_bands(published: tuple[StaffedWorkspace, str]) -> None:
    world, pub_id = published
    analyst = world.login("analyst")
    s = publishing.table(analyst, pub_id, "household_size", measure="sum")
    m = publishing.table(analyst, pub_id, "household_size", measure="mean")
    q = publishing.table(analyst, pub_id, "region", "sex", measure="quantile", quantile=0.5)
    with world.ws.transaction("test.read", "system") as con:
        real = scalar(con, "SELECT sum(income) FROM stats_source WHERE publication_id = ?", [pub_id])
        top = scalar(con, "SELECT max(income) FROM stats_source WHERE publication_id = ?", [pub_id])
    total = s.cell_value((len(s.categories[0]) - 1,))
    # the total's noise is a multiple of its largest income, never beyond the stated bound (issue 21)
    assert total is not None and abs(total - real) <= float(ck.sum_bound(top))
    mean = m.cell_value((len(m.categories[0]) - 1,))
    assert mean is not None and 0 < mean < 10_000_000
    bands = set(publishing.describe(analyst, pub_id)["categories"]["income_band"])
    assert all(q.cell_text(i) in bands | {"x", "-"} for i in np.ndindex(*q.state.shape))
    assert q.cell_text((len(q.categories[0]) - 1, len(q.categories[1]) - 1)) in bands


def test_csv_and_xlsx_exports_are_neutralised_and_group_readable(published: tuple[StaffedWorkspace, str], tmp_path: Path) -> None:
    from openpyxl import load_workbook

    world, pub_id = published
    st = Statistics(world.login("analyst"), pub_id)
    st.export("ward", "sex", path=tmp_path / "t.csv")
    st.export("ward", "sex", path=tmp_path / "t.xlsx")
    data = (tmp_path / "t.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert (tmp_path / "t.csv").stat().st_mode & 0o777 == 0o640 and (tmp_path / "t.xlsx").stat().st_mode & 0o777 == 0o640
    text = data.decode("utf-8-sig")
    assert "区市町村" in text and TOTAL in text
    for line in text.splitlines():
        for cell in line.split(","):
            assert not cell.strip('"').startswith(("=", "+", "@")), cell
    wb = load_workbook(tmp_path / "t.xlsx")
    assert any(isinstance(c.value, int) for row in wb.active.iter_rows() for c in row)
    kinds = list(st.releases()["kind"])
    assert kinds == ["stats_export", "stats_export"]


def test_formula_neutralisation() -> None:
    assert neutralise("=1+1") == "'=1+1"
    assert neutralise("+cmd") == "'+cmd"
    assert neutralise("-2+3") == "'-2+3"
    assert neutralise("@SUM(A1)") == "'@SUM(A1)"
    assert neutralise("\tx") == "'\tx" and neutralise("\rx") == "'\rx"
    assert neutralise("-") == "-" and neutralise("-12") == "-12" and neutralise("1,234") == "1,234"
    assert neutralise("足立区") == "足立区"


def test_bad_input_is_refused_in_both_languages_and_nothing_is_released(published: tuple[StaffedWorkspace, str]) -> None:
    world, pub_id = published
    analyst = world.login("analyst")
    cases: list[dict[str, Any]] = [
        dict(rows="name"),
        dict(rows="ward", cols="address"),
        dict(rows="ward", measure="sum", epsilon=0.1),
        dict(rows="ward", measure="phone"),
        dict(rows="ward", min_count=-1),
        dict(rows="ward", measure="sum", min_count=1),
        dict(rows="ward", epsilon=5.0),
        dict(rows="ward", epsilon=-1.0),
        dict(rows="ward", cols="region"),
        dict(rows="ward", filters={"ward": ["no such ward"]}),
        dict(rows="ward", filters={"name": ["x"]}),
        dict(rows="ward", measure="quantile", quantile=1.5),
        dict(rows="income_band", measure="quantile", quantile=0.5),
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
    assert publishing.releases(analyst) == []
    refused = audit_log.search(world.login("auditor"), user_id="analyst", operation="stats.table", outcome="refused",
                               limit=100)
    assert len(refused) == len(cases) + 2


def test_differential_privacy_is_non_negative_integers_with_consistent_margins(published: tuple[StaffedWorkspace, str]) -> None:
    world, pub_id = published
    analyst = world.login("analyst")
    preview = publishing.dp_preview(analyst, pub_id, "ward", "sex", epsilon=0.05)
    assert preview.epsilon_left == 1.0 and preview.accuracy_95 > 0
    t = publishing.table(analyst, pub_id, "ward", "sex", epsilon=0.05)
    v = t.values
    assert (v >= 0).all() and np.array_equal(v, np.round(v))
    assert np.allclose(v[-1, :], v[:-1, :].sum(axis=0)) and np.allclose(v[:, -1], v[:, :-1].sum(axis=1))
    assert t.accuracy_95 == pytest.approx(preview.accuracy_95)
    assert "95%" in t.notes[0][1]
    assert publishing.budget(analyst)["left"] == pytest.approx(0.95)


# ------------------------------------------------------------------------------ the CLI


def test_cli_publish_table_export_and_budget(world: StaffedWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    load_population(world, 3000)
    for extra in ("analyst2", "analyst3", "analyst4", "analyst5"):  # one login per user and 30-second step
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
                         "--filter", "sex=女", "--csv", str(tmp_path / "t.csv"),
                         "--xlsx", str(tmp_path / "t.xlsx"))
    assert code == 0, err
    assert "区市町村" in out and TOTAL in out
    assert (tmp_path / "t.csv").read_bytes().startswith(b"\xef\xbb\xbf") and (tmp_path / "t.xlsx").stat().st_size > 0
    assert oct(os.stat(tmp_path / "t.csv").st_mode & 0o777) == "0o640"
    code, out, err = run("analyst2", "stats", "table", "--publication", "S0001", "--rows", "ward", "--min-count", "-1")
    assert code == 2 and "最小セル度数" in json.loads(err)["message_ja"]
    code, out, err = run("analyst3", "stats", "publish")
    assert code == 4
    code, out, err = run("analyst4", "stats", "list")
    assert code == 0 and json.loads(out)[0]["publication_id"] == "S0001"
    code, out, err = run("analyst5", "stats", "budget")
    assert code == 0 and json.loads(out)["left"] == 1.0
    frame = pd.read_csv(io.BytesIO((tmp_path / "t.csv").read_bytes()), skiprows=3, encoding="utf-8-sig")
    assert frame.columns[0] == "区市町村"


def test_bad_publication_parameters_are_refused_and_nothing_is_written(world: StaffedWorkspace) -> None:
    load_population(world, 500)
    registrar = world.login("registrar")
    for kwargs in (dict(k=1), dict(k=True), dict(max_loss=0.9), dict(max_loss="x")):
        with pytest.raises(InvalidInput) as exc:
            publishing.publish(registrar, **kwargs)
        assert exc.value.message_ja != exc.value.message_en
    assert publishing.publications(world.login("analyst")) == []
    with pytest.raises(NotFound):
        publishing.withdraw(registrar, "S0001", reason="none there")


def test_grid_helpers_mark_true_zero_and_primary() -> None:
    codes = [np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1]), np.array([0, 0, 0, 1, 0, 0, 0, 0, 0, 1])]
    grid = sdc.build_grid(codes, [["a", "b"], ["p", "q"]], ["ward", "sex"])
    sdc.primary_suppression(grid, min_count=3)
    assert grid.state[0, 1] == sdc.PRIMARY and grid.state[0, 0] == sdc.PUBLISHED


def test_benchmark_script_runs_small(tmp_path: Path) -> None:
    """``benchmarks/bench_stats.py`` runs on its own (its key-encryption key too): a publication and its tables."""
    out = run_benchmark(tmp_path, "bench_stats", "--persons", "3000")
    assert out["publish"]["records"] > 2_000 and out["publish"]["k"] == 10
    assert all(out[step]["wall_s"] > 0 for step in ("publish_floor", "table", "table4", "table5", "table_floor"))
