"""F8 separation: the analyst reaches no identified record by any role, service, file,
screen or notebook; the example notebook and the publication pipeline run top to bottom."""

from __future__ import annotations

import ast
import importlib
import json
import pkgutil
from pathlib import Path

import pandas as pd
import pytest

import workbench
from workbench import SERVICES
from workbench.controls import audit_log
from workbench.core.errors import PermissionDenied
from workbench.core.permissions import ROLE_PERMISSIONS, Permission, Role
from workbench.cycles import pipeline_runs
from workbench.statistics import publishing

from .conftest import LiveWorld, World
from .stats_helpers import load_population

ROOT = Path(__file__).resolve().parent.parent

#: Everything that touches the identified database, its keys, packages or people.
IDENTIFIED = set(Permission) - {Permission.SELF, Permission.STATS_READ}


def _all_services() -> None:
    for mod in pkgutil.walk_packages(workbench.__path__, "workbench."):
        if ".simulate" not in mod.name and mod.name not in ("workbench.__main__",):
            importlib.import_module(mod.name)


def test_analyst_holds_only_de_identified_permissions() -> None:
    assert ROLE_PERMISSIONS[Role.ANALYST] == {Permission.SELF, Permission.STATS_READ}
    assert not ROLE_PERMISSIONS[Role.ANALYST] & IDENTIFIED
    holders = [r for r, perms in ROLE_PERMISSIONS.items() if Permission.STATS_PUBLISH in perms]
    assert holders and Role.ANALYST not in holders


def test_every_identified_service_refuses_the_analyst_and_is_audited(world: World) -> None:
    _all_services()
    analyst = world.login("analyst")
    refused = []
    for info in sorted(SERVICES.values(), key=lambda i: i.operation):
        if info.permission in (Permission.SELF, Permission.STATS_READ):
            continue
        call = info.entry  # the session-bound service, however it was declared (outgoing files too)
        assert call is not None
        with pytest.raises(PermissionDenied):
            call(analyst)
        refused.append(info.operation)
    assert "stats.publish" in refused and any(o.startswith("persons.") for o in refused)
    assert len(refused) >= 20
    records = audit_log.search(world.login("auditor"), user_id="analyst", outcome="denied", limit=10_000)
    assert sorted(r["operation"] for r in records) == sorted(refused)


def test_the_analyst_api_imports_no_key_or_database_code() -> None:
    tree = ast.parse((ROOT / "workbench" / "mart.py").read_text("utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            imported |= {f"{node.module}.{a.name}" if node.module else a.name for a in node.names}
            imported.add(node.module or "")
        elif isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
    forbidden = ("keys", "workspace", "store", "numbers", "credentials", "transfer", "duckdb")
    assert not [m for m in imported if any(part in forbidden for part in m.split("."))], imported


def test_mart_files_hold_no_identifier_name_address_phone_or_birth_date(world: World) -> None:
    population = load_population(world, 3000)
    registrar = world.login("registrar")
    summary = publishing.publish(registrar, k=3)
    analyst = world.login("analyst")
    publishing.table(analyst, summary.publication_id, "ward", "age_band", "sex")
    publishing.table(analyst, summary.publication_id, "household_size", value="income")
    publishing.table(analyst, summary.publication_id, "sex", epsilon=0.2)
    folder = publishing.stats_root(world.ws) / summary.publication_id
    blobs = [p.read_bytes() for p in folder.rglob("*") if p.is_file()]
    # the Parquet files decoded too, so compression cannot hide a value from the scan
    for p in folder.glob("*.parquet"):
        blobs.append(pd.read_parquet(p).to_csv(index=False).encode("utf-8"))
    data = b"\n".join(blobs)
    pp, hh = population.persons, population.households
    needles: set[str] = set()
    needles |= set(pp["individual_number"].astype(str))
    needles |= set(pp["person_id"].astype(str)) | set(hh["household_id"].astype(str))
    needles |= {n for n in pp["name"].astype(str) if len(n) >= 3} | {k for k in pp["kana"].astype(str) if len(k) >= 4}
    needles |= set(hh["address"].astype(str)) | set(hh["phone"].dropna().astype(str))
    births = pd.to_datetime(pp["birth_date"])
    needles |= set(births.dt.strftime("%Y-%m-%d")) | set(births.dt.strftime("%Y%m%d")) | set(births.dt.strftime("%Y/%m/%d"))
    found = [n for n in needles if n.encode("utf-8") in data]
    assert not found, f"{len(found)} identifying values found in the mart"


def test_stats_app_builds_a_suppressed_table_charts_and_exports(world: World) -> None:
    from widgets.stats import StatsApp

    load_population(world, 3000)
    pub = publishing.publish(world.login("registrar"), k=3).publication_id
    app = StatsApp(world.login("analyst"))
    assert app.publication.value == pub
    app.rows.value, app.cols.value, app.layers.value, app.min_count.value = "ward", "age_band", "sex", 10
    app.build_table()
    assert app.banner.kind != "error", app.banner.text
    assert "wb-x" in app.table_html.value and "総数" in app.table_html.value
    app.export_as("xlsx")
    app.export_as("csv")
    assert app.export["csv"].startswith(b"\xef\xbb\xbf") and app.export["xlsx"][:2] == b"PK"
    assert "download" in app.download.value
    app.draw_charts()
    assert set(app.model.charts) >= {"pyramid", "ward_income", "household", "ward"}
    assert all(png.startswith(b"\x89PNG") for png in app.model.charts.values())
    app.min_count.value = 1
    app.value.value = "income"
    app.epsilon.value = 0.5
    app.build_table()
    assert app.banner.kind == "error" and "差分プライバシー" in app.banner.text


def test_stats_app_is_refused_to_other_roles(world: World) -> None:
    from widgets.stats import StatsApp

    app = StatsApp(world.login("registrar"))
    assert app.banner.kind == "error" and app.model.publications == []


@pytest.mark.slow
def test_publish_pipeline_and_analyst_notebook_run_top_to_bottom(tmp_path: Path) -> None:

    import papermill

    from workbench import Workspace

    # the real clock: the notebook's kernel checks the run ticket's expiry
    ws = Workspace.init(tmp_path / "live", scrypt_n=2**10)
    live = LiveWorld(ws)
    live.add_user("registrar", ["registrar"])
    live.add_user("analyst", ["analyst"])

    login = live.login

    load_population(live, 2500)
    info = pipeline_runs.run(login("registrar"), "stats_publish", {"k": 3, "max_loss": "0.05", "epsilon_budget": "0.5"})
    assert info.status == "succeeded"
    executed = json.loads((ws.path / str(info.notebook)).read_text("utf-8"))
    text = json.dumps(executed, ensure_ascii=False)
    assert "S0001" in text and "k_achieved" in text
    with pytest.raises(workbench.WorkbenchError):
        pipeline_runs.run(login("analyst"), "stats_publish", {})
    out = tmp_path / "analyst_example.ipynb"
    papermill.execute_notebook(
        str(ROOT / "notebooks" / "analyst_example.ipynb"), str(out),
        parameters={"publications": str(publishing.stats_root(ws)), "publication_id": "S0001"},
        kernel_name="python3", progress_bar=False, cwd=str(tmp_path),
    )
    assert (tmp_path / "S0001_T0001.xlsx").exists()
    releases = [json.loads(line) for line in
                (publishing.stats_root(ws) / "S0001" / "ledger" / "releases.jsonl").read_text("utf-8").splitlines()]
    assert [r["release_id"] for r in releases] == ["T0001", "T0002", "T0003"]
