"""Issue 14, done when: ``workbench pipeline run income_declaration -p fiscal_year=2027 …`` under the batch
account runs a year against the simulators, stops at the approval, is resumed after a second person
approves, stops again waiting for the answers, completes when they arrive, and leaves an executed
notebook — the year's report — with no personal data in it.  Also the other cycle notebooks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveWorld, scalar
from tests.cycle_helpers import answer, approve_waiting, kernels_of, make_batch_account, procedures_file, waiting_for
from tests.query_helpers import Office, load_office
from workbench import Session, Workspace, cli
from workbench.core.permissions import Role
from workbench.cycles import engine, pipeline_runs
from workbench.simulate.integrated_numbers import integrated_number_for

pytestmark = pytest.mark.slow


#: A live world with a filed office, an administrator's and an approver's session.
Live = tuple[LiveWorld, Office, Session, Session]


@pytest.fixture
def live(tmp_path: Path) -> Live:
    ws = Workspace.init(tmp_path / "ws", scrypt_n=2**10)
    world = LiveWorld(ws)
    for role in (Role.ADMINISTRATOR, Role.APPROVER, Role.QUERY_OPERATOR):
        world.add_user(role.value, [role.value])
    office = load_office(world)
    return world, office, world.login("administrator"), world.login("approver")


def _cli(ws: Workspace, key: Path, *argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, Any, Any]:
    code = cli.main(["-w", str(ws.path), "--batch-key", str(key), *argv])
    out = capsys.readouterr()
    return code, json.loads(out.out) if out.out.strip() else None, json.loads(out.err) if out.err.strip() else None


def _personal_values(office: Office) -> list[str]:
    p = office.pop.persons
    values = [*p["person_id"], *p["individual_number"], *p["name"], *p["kana"], *p["address"],
              *(integrated_number_for(x) for x in p["individual_number"])]
    return [str(v) for v in values if str(v).strip()]


def _scan(ws: Workspace, office: Office) -> list[Path]:
    """Every file a run left (executed notebooks with their metadata and outputs): no personal value."""
    files = [f for f in ws.folder("runs").rglob("*") if f.is_file()]
    values = _personal_values(office)
    for f in files:
        text = f.read_text("utf-8", errors="replace")
        leaked = [v for v in values if v in text]
        assert not leaked, f"{len(leaked)} personal value(s) in {f.name}"
    return files


def test_income_declaration_year_under_the_batch_account(live: Live, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    world, office, admin, approver = live
    ws = world.ws
    (tmp_path / "keys").mkdir(mode=0o700)
    key = make_batch_account(world, admin, approver, "p1-batch", "income_declaration", tmp_path / "keys" / "p1.key")
    file = procedures_file(office, tmp_path, "P1", 2027)
    run = ["pipeline", "run", "income_declaration", "-p", "fiscal_year=2027", "-p", f"procedures_file={file}"]

    # 1. Stops at the approval of the F2 and F3 batches, naming the approval IDs and since when.
    code, _, err = _cli(ws, key, *run, capsys=capsys)
    assert code == 10 and err["error"] == "waiting", err
    code, shown, _ = _cli(ws, key, "pipeline", "status", err["run_id"], capsys=capsys)
    assert code == 0 and shown["status"] == "waiting"
    state = engine.status(_operator(world), shown["cycle_run_id"])
    ids = waiting_for(state)["approval_ids"]
    assert len(ids) == 2 and all(i in err["message_en"] and i in err["message_ja"] for i in ids)
    assert "requested" in err["message_en"] and "承認" in err["message_ja"]

    # 2. A second person approves; the re-run writes the batches and stops waiting for the answers.
    approve_waiting(approver, state)
    code, _, err = _cli(ws, key, *run, capsys=capsys)
    assert code == 10 and "answers" in err["message_en"] and "回答待ち" in err["message_ja"], err
    state = engine.status(_operator(world), err["cycle_run_id"])
    sent = next(s for s in state.stages if s.stage == "batches_out").detail
    assert sent["info"]["batch_id"] in err["message_en"] and sent["juki"]["batch_id"] in err["message_en"]

    # 3. The linkage server and Juki-net answer; the re-run imports them and stops at the linkage file's approval.
    answer(ws, office, state)
    code, _, err = _cli(ws, key, *run, capsys=capsys)
    assert code == 10 and "linkage_out" in err["message_en"], err
    approve_waiting(approver, engine.status(_operator(world), err["cycle_run_id"]))

    # 4. Completes.
    code, out, err = _cli(ws, key, *run, capsys=capsys)
    assert code == 0, err
    assert out["status"] == "succeeded" and out["user_id"] == "p1-batch"
    report = ws.path / out["notebook"]
    book = json.loads(report.read_text("utf-8"))
    outputs = json.dumps([c.get("outputs") for c in book["cells"]], ensure_ascii=False)
    assert "image/png" in outputs and "'status': 'succeeded'" in outputs  # the charts and the final state
    assert "already_done" in outputs  # earlier stages were not run again

    code, listed, _ = _cli(ws, key, "pipeline", "list", capsys=capsys)
    assert code == 0 and listed[0]["run_id"] == out["run_id"] and listed[0]["report"] == out["notebook"]
    assert [s["status"] for s in listed[0]["stages"]] == ["done"] * 8 and len(listed) == 4
    assert {r["status"] for r in listed[1:]} == {"waiting"}

    files = _scan(ws, office)
    assert len([f for f in files if f.suffix == ".ipynb"]) == 4


_OPERATOR: dict[int, Session] = {}


def _operator(world: LiveWorld) -> Session:
    """One query-operator session per workspace (a one-time code is good for one login)."""
    key = id(world)
    if key not in _OPERATOR:
        _OPERATOR[key] = world.login("query_operator")
    return _OPERATOR[key]


def test_nightly_and_applications_notebooks(live: Live, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    world, office, admin, approver = live
    ws = world.ws
    night = make_batch_account(world, admin, approver, "night", "nightly", tmp_path / "night.key")
    code, out, err = _cli(ws, night, "pipeline", "run", "nightly", capsys=capsys)
    assert code == 0, err
    text = (ws.path / out["notebook"]).read_text("utf-8")
    assert "'retention_wired': True" in text and "'expired': 0" in text

    # Applications (P4): the stops are answered in process, the last run is the notebook (the report).
    apps = make_batch_account(world, admin, approver, "p4-batch", "applications", tmp_path / "p4.key")
    file = procedures_file(office, tmp_path, "P4", 2027)
    params = {"month": "2027-05", "procedures_file": str(file)}
    from workbench.controls import batch_accounts

    session = batch_accounts.login(ws, apps)
    for _ in range(3):
        try:
            engine.run_inline(session, "applications", params)
        except engine.CycleWaiting as exc:
            state = engine.status(session, exc.details["cycle_run_id"])
            if waiting_for(state)["waiting"] == "approval":
                approve_waiting(approver, state)
            else:
                answer(ws, office, state)
    code, out, err = _cli(ws, apps, "pipeline", "run", "applications", "-p", "month=2027-05", "-p",
                          f"procedures_file={file}", capsys=capsys)
    assert code == 0, err
    text = (ws.path / out["notebook"]).read_text("utf-8")
    assert "image/png" in text and "'status': 'succeeded'" in text
    _scan(ws, office)


def test_a_killed_run_leaves_the_database_consistent_and_the_next_run_completes(
        live: Live, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    world, _, admin, approver = live
    ws = world.ws
    night = make_batch_account(world, admin, approver, "night", "nightly", tmp_path / "night.key")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "-w", str(ws.path), "--batch-key", str(night),
                             "pipeline", "run", "nightly"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    claimed = None
    while time.monotonic() < deadline and claimed is None and proc.poll() is None:
        time.sleep(0.2)
        with ws.transaction("test.read", "system") as con:
            claimed = con.execute("SELECT cycle_run_id FROM cycle_runs WHERE status = 'running'").fetchone()
    assert claimed is not None, "the run never claimed the cycle"
    proc.send_signal(signal.SIGKILL)  # killed: no chance to release the cycle
    proc.wait()
    with ws.transaction("test.read", "system") as con:
        row = con.execute("SELECT status, holder_pid FROM cycle_runs").fetchone()
    assert row is not None
    status, holder_pid = row
    assert status == "running" and holder_pid == proc.pid

    code, _, err = _cli(ws, night, "pipeline", "run", "nightly", capsys=capsys)
    assert code == 0, err
    state = engine.status(batch_login(ws, night), claimed[0])
    assert state.status == "succeeded" and all(s.status == "done" for s in state.stages)
    assert len(state.runs) == 2


def batch_login(ws: Workspace, key: Path) -> Session:
    from workbench.controls import batch_accounts

    return batch_accounts.login(ws, key)


def test_a_runner_killed_in_any_stage_takes_its_kernel_with_it_and_nothing_more_is_written(
        live: Live, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 22 item 6: SIGKILL of ``workbench pipeline run`` left the kernel running on its own (it wrote
    the Juki-net file after its parent died) and the run showed "running" for ever."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from workbench.core import channel
    from workbench.cycles.catalogue import CYCLES
    from workbench.web.dataserver import DataServer

    monkeypatch.setenv(channel.RUNTIME_ENV, str(tmp_path / "run"))
    world, _, admin, approver = live
    ws = world.ws
    night = make_batch_account(world, admin, approver, "night", "nightly", tmp_path / "night.key")
    stages = [s.name for s in CYCLES["nightly"].stages]
    for stage in stages:
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
               engine.PAUSE_ENV: stage, engine.PAUSE_ENV + "_SECONDS": "30"}
        proc = subprocess.Popen([sys.executable, "-m", "workbench", "-w", str(ws.path), "--batch-key", str(night),
                                 "pipeline", "run", "nightly"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 180
        inside = None
        while time.monotonic() < deadline and inside is None and proc.poll() is None:
            time.sleep(0.3)
            with ws.transaction("test.read", "system") as con:
                inside = con.execute("SELECT cycle_run_id FROM cycle_stages WHERE stage = ? AND status = 'running'",
                                     [stage]).fetchone()
        assert inside is not None, f"the run never reached {stage}"
        kernels = kernels_of(proc.pid)
        assert kernels, "the notebook's kernel runs beside its runner"
        with ws.transaction("test.read", "system") as con:
            records = scalar(con, "SELECT count(*) FROM audit_log")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        gone_by = time.monotonic() + 30
        while time.monotonic() < gone_by and kernels_of(proc.pid):
            time.sleep(0.2)
        assert not kernels_of(proc.pid), f"the kernel outlived its runner (killed in {stage})"
        time.sleep(1)
        with ws.transaction("test.read", "system") as con:
            after = scalar(con, "SELECT count(*) FROM audit_log")
            status = scalar(con, "SELECT status FROM cycle_stages WHERE stage = ? AND cycle_run_id = ?",
                            [stage, inside[0]])
        assert after == records and status == "running", "nothing is written after the runner's death"
        # A listing is a pure read: the run still shows as it was left.
        listed = pipeline_runs.listing(batch_login(ws, night))
        assert listed[0]["pipeline"] == "nightly" and listed[0]["status"] in ("issued", "running")
        # The data server finds the ghost (at its start, then every 30 s): abandoned, with the stage it reached.
        with DataServer(Workspace.open(ws.path)).start():
            pass
        listed = pipeline_runs.listing(batch_login(ws, night))
        assert listed[0]["pipeline"] == "nightly" and listed[0]["status"] == "abandoned"
        with ws.transaction("test.read", "system") as con:
            reason = scalar(con, "SELECT reason FROM cycle_runs WHERE cycle_run_id = ?", [inside[0]])
        assert f"stage {stage}" in reason
    code, _, err = _cli(ws, night, "pipeline", "run", "nightly", capsys=capsys)
    assert code == 0, err
    assert inside is not None
    state = engine.status(batch_login(ws, night), inside[0])
    assert state.status == "succeeded" and all(s.status == "done" for s in state.stages)
