"""F8 separation: the analyst reaches no identified record by any role, service, file,
screen or notebook; the example notebook and the publication pipeline run top to bottom."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import pkgutil
from pathlib import Path

import pytest

import workbench
from workbench import SERVICES
from workbench.controls import audit_log
from workbench.core.errors import PermissionDenied
from workbench.core.permissions import ROLE_PERMISSIONS, Permission, Role
from workbench.cycles import pipeline_runs
from workbench.statistics import publishing

from .conftest import PASSWORD, StaffedWorkspace
from .stats_helpers import load_population

ROOT = Path(__file__).resolve().parent.parent

#: Everything that touches the identified database, its keys, packages or people.
IDENTIFIED = set(Permission) - {Permission.SELF, Permission.STATS_READ}


def _all_services() -> None:
    for mod in pkgutil.walk_packages(workbench.__path__, "workbench."):
        if ".simulate" not in mod.name and not mod.name.endswith("__main__"):
            importlib.import_module(mod.name)


def test_analyst_holds_only_de_identified_permissions() -> None:
    assert ROLE_PERMISSIONS[Role.ANALYST] == {Permission.SELF, Permission.STATS_READ}
    assert not ROLE_PERMISSIONS[Role.ANALYST] & IDENTIFIED
    holders = [r for r, perms in ROLE_PERMISSIONS.items() if Permission.STATS_PUBLISH in perms]
    assert holders and Role.ANALYST not in holders


def test_every_identified_service_refuses_the_analyst_and_is_audited(held_world: StaffedWorkspace) -> None:
    world = held_world
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


def test_no_file_of_rows_is_written_and_the_store_holds_no_identifier_in_the_source(world: StaffedWorkspace) -> None:
    population = load_population(world, 3000)
    summary = publishing.publish(world.login("registrar"), k=3)
    analyst = world.login("analyst")
    publishing.table(analyst, summary.publication_id, "ward", "age_band", "sex")
    publishing.table(analyst, summary.publication_id, "household_size", measure="sum")
    publishing.table(analyst, summary.publication_id, "sex", epsilon=0.2)
    files = [p for p in world.ws.path.rglob("*") if p.is_file() and p.suffix in (".parquet", ".csv", ".jsonl")
             and "audit" not in p.parts]
    assert not files, files
    with world.ws.transaction("test.read", "system") as con:
        columns = {c[0] for c in con.execute("DESCRIBE stats_source").fetchall()}
        releases = con.execute("SELECT * FROM stats_releases").df().to_csv(index=False)
    assert columns & {"name", "kana", "address", "phone", "birth_date", "individual_number", "household_id"} == set()
    pp = population.persons
    needles = set(pp["person_id"].astype(str)) | {n for n in pp["name"].astype(str) if len(n) >= 3}
    assert not [n for n in needles if n in releases]


def test_stats_app_builds_a_suppressed_table_charts_and_exports(world: StaffedWorkspace) -> None:
    from widgets.stats import StatsApp

    load_population(world, 3000)
    pub = publishing.publish(world.login("registrar"), k=3).publication_id
    app = StatsApp(world.login("analyst"))
    assert app.publication.value == pub
    app.rows.value, app.cols.value, app.layers.value, app.min_count.value = "ward", "age_band", "sex", 10
    app.filter_var.value = "income_band"
    assert app.filter_values.options
    app.filter_var.value = ""
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
    kinds = [r["kind"] for r in publishing.releases(world.login("analyst"))]
    assert kinds.count("stats_export") == 2 and kinds.count("stats_chart") == 5
    app.min_count.value = 3
    app.value.value = "sum"
    app.epsilon.value = 0.5
    app.build_table()
    assert app.banner.kind == "error" and "差分プライバシー" in app.banner.text


def test_stats_app_is_refused_to_other_roles_and_staff_publish_from_it(world: StaffedWorkspace) -> None:
    from widgets.stats import StatsApp

    app = StatsApp(world.login("reviewer"))
    assert app.banner.kind == "error" and app.model.publications == []
    load_population(world, 1500)
    staff = StatsApp(world.login("registrar"))
    staff.publish_k.value = 3
    staff.publish()
    assert staff.banner.kind != "error", staff.banner.text
    assert "S0001" in staff.publish_html.value


@pytest.mark.slow
def test_publish_pipeline_and_analyst_notebook_run_top_to_bottom(tmp_path: Path) -> None:
    import datetime as dt

    import papermill

    from workbench import SystemClock, Workspace
    from workbench.core import credentials

    # the real clock: the notebook's kernel checks the run ticket's expiry
    ws = Workspace.init(tmp_path / "live", scrypt_n=2**10)
    live = StaffedWorkspace(ws, SystemClock())  # type: ignore[arg-type]
    live.add_user("registrar", ["registrar"])
    live.add_user("analyst", ["analyst"])
    live.add_user("analyst2", ["analyst"])  # the refused run below: the analyst's code of now stays unused

    def login(user: str) -> workbench.Session:
        return ws.login(user, PASSWORD, credentials.totp_code(live.secrets[user], dt.datetime.now(dt.UTC)))

    load_population(live, 2500)
    info = pipeline_runs.run(login("registrar"), "stats_publish", {"k": 3, "max_loss": "0.05"})
    assert info.status == "succeeded"
    executed = json.loads((ws.path / str(info.notebook)).read_text("utf-8"))
    text = json.dumps(executed, ensure_ascii=False)
    assert "S0001" in text and "k_achieved" in text
    with pytest.raises(workbench.WorkbenchError):
        pipeline_runs.run(login("analyst2"), "stats_publish", {})
    out = tmp_path / "analyst_example.ipynb"
    started = dt.datetime.now(dt.UTC)
    papermill.execute_notebook(
        str(ROOT / "notebooks" / "analyst_example.ipynb"), str(out),
        parameters={"workspace": str(ws.path), "user": "analyst", "password": PASSWORD,
                    "totp": credentials.totp_code(live.secrets["analyst"], started)},
        kernel_name="python3", progress_bar=False, cwd=str(tmp_path),
    )
    assert (tmp_path / "ward_household_income.xlsx").exists()
    executed = json.loads(out.read_text("utf-8"))
    assert any(o.get("data", {}).get("image/png") for c in executed["cells"] for o in c.get("outputs", []))
    kinds = [r["kind"] for r in publishing.releases(login_again(ws, live, started))]
    assert "stats_export" in kinds and "stats_table" in kinds


def login_again(ws: workbench.Workspace, live: StaffedWorkspace, used: dt.datetime) -> workbench.Session:
    """The analyst again, after the notebook logged in with the code of ``used``: the code of the step
    after that one, or of now if time has moved on (both inside the ±1 step the workspace accepts), so
    no one waits for a new 30-second step."""
    from workbench.core import credentials

    at = max(used + dt.timedelta(seconds=30), dt.datetime.now(dt.UTC))
    return ws.login("analyst", PASSWORD, credentials.totp_code(live.secrets["analyst"], at))
