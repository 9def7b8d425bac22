"""Issue 14: cycles whose stages resume from the database, run by batch accounts (in process, no Papermill).

The Papermill faces of the same cycles are in tests/test_cycle_pipelines.py."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import StaffedWorkspace
from tests.cycle_helpers import (
    answer,
    approve_waiting,
    counts,
    make_batch_account,
    malformed_info_answer,
    procedures_file,
    stage,
    waiting_for,
    waiting_stage,
)
from tests.query_helpers import Office, load_office, population
from workbench import Session, cli
from workbench.controls import batch_accounts
from workbench.core import approvals
from workbench.core.errors import AuthenticationFailed, InvalidInput, PermissionDenied, SessionExpired, WorkbenchError
from workbench.core.permissions import Permission
from workbench.cycles import engine, pipeline_runs
from workbench.cycles.engine import CycleBusy, CycleWaiting, StageFailed
from workbench.intake import persons
from workbench.queries import results

#: The office with a P1 batch account: its filed office, the batch account's session, the approver, the parameters.
CycleOffice = tuple[Office, Session, Session, dict[str, str]]


@pytest.fixture
def office(world: StaffedWorkspace, tmp_path: Path) -> CycleOffice:
    pop_office = load_office(world)
    admin, approver = world.login("administrator"), world.login("approver")
    key = make_batch_account(world, admin, approver, "p1-batch", "income_declaration", tmp_path / "p1.key")
    batch = batch_accounts.login(world.ws, key)
    params = {"fiscal_year": "2026", "procedures_file": str(procedures_file(pop_office, tmp_path, "P1", 2026))}
    return pop_office, batch, approver, params


def _until_stopped(batch: Session, cycle: str, params: dict[str, str]) -> engine.CycleState:
    try:
        return engine.run_inline(batch, cycle, params)
    except (CycleWaiting, StageFailed) as exc:
        return engine.status(batch, exc.details["cycle_run_id"])


def drive(world: StaffedWorkspace, office: Office, batch: Session, approver: Session, params: dict[str, str],
          limit: int = 8) -> engine.CycleState:
    """Run the cycle as the scheduler would: every stop is answered by the outside world, then re-run."""
    for _ in range(limit):
        state = _until_stopped(batch, "income_declaration", params)
        if state.status == "succeeded":
            return state
        assert state.status == "waiting", state.reason
        if waiting_for(state)["waiting"] == "approval":
            approve_waiting(approver, state)
        else:
            answer(world.ws, office, state)
    raise AssertionError("the cycle did not finish")


def test_income_declaration_stops_for_approvals_and_answers_and_resumes(world: StaffedWorkspace, tmp_path: Path) -> None:
    # Two registered people without an integrated number: F1b has work to do.
    office = load_office(world, no_integrated=tuple(population().persons["person_id"].iloc[:2]))
    admin, approver = world.login("administrator"), world.login("approver")
    batch = batch_accounts.login(world.ws, make_batch_account(world, admin, approver, "p1", "income_declaration",
                                                              tmp_path / "p1.key"))
    params = {"fiscal_year": "2026", "procedures_file": str(procedures_file(office, tmp_path, "P1", 2026))}

    with pytest.raises(CycleWaiting) as first:
        engine.run_inline(batch, "income_declaration", params)
    assert first.value.exit_code == 10
    state = engine.status(batch, first.value.details["cycle_run_id"])
    waiting = waiting_stage(state)
    assert waiting.stage == "integrated_out" and stage(state, "procedures_in").status == "done"
    approval_id = waiting_for(state)["approval_ids"][0]
    assert approval_id in first.value.message_en and "requested" in first.value.message_en
    assert approval_id in first.value.message_ja

    # Re-run while the approval is still pending: the same wait, nothing new asked or written.
    before = counts(world.ws)
    with pytest.raises(CycleWaiting) as again:
        engine.run_inline(batch, "income_declaration", params)
    assert approval_id in again.value.message_en
    assert counts(world.ws) == before

    # The batch account can never approve its own request.
    with pytest.raises(PermissionDenied):
        approvals.decide(batch, approval_id, approve=True)
    approvals.decide(approver, approval_id, approve=True)

    state = _until_stopped(batch, "income_declaration", params)
    assert waiting_stage(state).stage == "integrated_in"
    request = stage(state, "integrated_out").detail["request"]
    assert request["records"] == 2 and request["batch_id"] in (state.reason or "")
    answer(world.ws, office, state)

    state = _until_stopped(batch, "income_declaration", params)
    assert waiting_stage(state).stage == "batches_out" and stage(state, "integrated_in").status == "done"
    assert len(approve_waiting(approver, state)) == 2  # F2 and F3 approved together

    state = _until_stopped(batch, "income_declaration", params)
    assert waiting_stage(state).stage == "answers_in"
    sent = stage(state, "batches_out").detail
    assert sent["info"]["batch_id"] in (state.reason or "") and sent["juki"]["batch_id"] in (state.reason or "")
    answer(world.ws, office, state)

    state = _until_stopped(batch, "income_declaration", params)
    assert waiting_stage(state).stage == "linkage_out"
    assert stage(state, "discrepancy_report").detail["discrepancies"]["moved"]["open"] > 0
    approve_waiting(approver, state)

    final = engine.run_inline(batch, "income_declaration", params)
    assert final.status == "succeeded"
    assert all(s.status == "done" for s in final.stages)
    figures = stage(final, "report").detail["figures"]
    assert figures["procedures_filed"] > 0 and figures["by_ward"] and figures["requests"]["juki"]["answered"] > 0
    assert sorted(os.listdir(world.ws.folder("incoming") / "done")) and not list(world.ws.folder("incoming").glob("*.wbpkg"))

    # Re-running a finished cycle changes nothing.
    before = counts(world.ws)
    again_state = engine.run_inline(batch, "income_declaration", params)
    assert again_state.cycle_run_id == final.cycle_run_id and again_state.status == "succeeded"
    assert counts(world.ws) == before

    # Everything was done as the batch account, and it is audited as itself.
    from workbench.controls import audit_log

    records = audit_log.search(world.login("auditor"), user_id="p1", limit=10_000)
    operations = {r["operation"] for r in records if r["outcome"] == "ok"}
    assert {"auth.batch_login", "batches.create_info_batch", "linkage.export_linkage",
            "integrated.create_integrated_request", "cycle_runs.claim"} <= operations


def test_an_exception_in_a_stage_fails_the_run_and_the_rerun_continues(world: StaffedWorkspace, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    admin, approver = world.login("administrator"), world.login("approver")
    night = batch_accounts.login(world.ws, make_batch_account(world, admin, approver, "night", "nightly",
                                                              tmp_path / "night.key"))
    params = {"run_date": "2026-06-01"}

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("injected fault with a secret 123456789012")

    monkeypatch.setattr(results, "purge_results", broken)
    with pytest.raises(StageFailed) as err:
        engine.run_inline(night, "nightly", params)
    assert err.value.exit_code == 11
    assert "purge: unexpected RuntimeError" in err.value.message_en and "\n" not in err.value.message_en
    assert "123456789012" not in err.value.message_en + err.value.message_ja  # the exception's text is never repeated
    state = engine.status(night, err.value.details["cycle_run_id"])
    assert state.status == "failed" and state.reason == "purge: unexpected RuntimeError"
    assert [s.status for s in state.stages] == ["done", "failed", "pending", "pending", "pending", "pending", "pending"]
    before = counts(world.ws)

    monkeypatch.undo()
    final = engine.run_inline(night, "nightly", params)
    assert final.cycle_run_id == state.cycle_run_id and final.status == "succeeded"
    assert [s.attempts for s in final.stages] == [1, 2, 1, 1, 1, 1, 1]  # continued from the failed stage
    assert stage(final, "retention").detail["wired"] is True  # retention.apply runs in the nightly cycle
    assert stage(final, "audit_verify").detail["ok"] and stage(final, "summary").detail["expired"] == 0
    assert counts(world.ws) == before


def test_a_malformed_answer_package_fails_the_stage_and_is_set_aside(world: StaffedWorkspace, office: CycleOffice) -> None:
    pop, batch, approver, params = office
    state = _until_stopped(batch, "income_declaration", params)
    approve_waiting(approver, state)
    state = _until_stopped(batch, "income_declaration", params)
    assert waiting_stage(state).stage == "answers_in"
    malformed_info_answer(world.ws, world.ws.folder("incoming") / "a-bad.wbpkg")
    before = counts(world.ws)
    with pytest.raises(StageFailed) as err:
        engine.run_inline(batch, "income_declaration", params)
    assert "a-bad.wbpkg" in err.value.message_en and "refused" in err.value.message_en
    assert "a-bad.wbpkg" in err.value.message_ja and "\n" not in err.value.message_en
    state = engine.status(batch, err.value.details["cycle_run_id"])
    assert state.status == "failed" and stage(state, "answers_in").status == "failed"
    after = counts(world.ws)
    assert after["info_results"] == before["info_results"] == 0 and after["query_requests"] == before["query_requests"]
    assert (world.ws.folder("incoming") / "refused" / "a-bad.wbpkg").exists()
    # The real answers arrive; the re-run continues from answers_in and completes.
    assert answer(world.ws, pop, state, which="answers_in")
    final = drive(world, pop, batch, approver, params)
    assert final.status == "succeeded" and stage(final, "answers_in").attempts == 3


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_killed_run_is_taken_over_and_a_live_one_refuses_a_second(world: StaffedWorkspace, office: CycleOffice) -> None:
    _, batch, _, params = office
    checked = engine.check_params("income_declaration", params, world.ws)
    # A run that was killed mid-stage: the cycle is held by a process that no longer exists.
    state = engine.claim(batch, "income_declaration", checked, "RKILLED00001", pid=_dead_pid())
    engine._begin(batch, state.cycle_run_id, "RKILLED00001", "procedures_in")
    state = _until_stopped(batch, "income_declaration", params)
    assert state.status == "waiting" and stage(state, "procedures_in").status == "done"
    assert stage(state, "procedures_in").attempts == 2

    # A live run holds the cycle: a second run of the same cycle is refused clearly, nothing changes.
    engine.claim(batch, "income_declaration", checked, "RLIVE0000001", pid=os.getpid())
    before = counts(world.ws)
    with pytest.raises(CycleBusy) as busy:
        engine.run_inline(batch, "income_declaration", params)
    assert "RLIVE0000001" in busy.value.message_en and "実行中" in busy.value.message_ja
    assert counts(world.ws) == before
    # Even with other parameters: one run of a cycle at a time.
    with pytest.raises(CycleBusy):
        engine.run_inline(batch, "income_declaration", {**params, "fiscal_year": "2025"})

    # Nobody else can move the stages of a run they do not hold, even knowing its IDs.
    with pytest.raises(CycleBusy):
        engine._begin(world.login("query_operator"), state.cycle_run_id, "RLIVE0000001", "batches_out")

    # Lost lock: the holder changed under a running execution; its next stage transition is refused.
    run = engine.CycleRun(batch, "RSTALE000001", engine.status(batch, state.cycle_run_id))
    with pytest.raises(CycleBusy) as lost:
        run.run("batches_out")
    assert "lost lock" in lost.value.message_en
    engine.release(batch, state.cycle_run_id, "RLIVE0000001", notebook=None, error="test: released")


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(("params", "reason"), [
    ({"fiscal_year": "2026", "colour": "red"}, "unknown_parameter"),
    ({"fiscal_year": "123456789012"}, "personal_data"),
    ({"fiscal_year": "2026", "incoming_dir": "/tmp/x/123456789012"}, "personal_data"),
    ({"fiscal_year": "山田太郎"}, "personal_data"),
    ({"fiscal_year": "2026", "procedures_file": "/nonexistent/procedures.csv"}, "missing_file"),
    ({"fiscal_year": "2026", "procedures_file": "山田太郎"}, "missing_file"),
    ({}, "missing_parameter"),
    ({"fiscal_year": "20x6"}, "bad_year"),
])
def test_bad_parameters_are_refused_in_both_languages_and_change_nothing(world: StaffedWorkspace, office: CycleOffice,
                                                                         params: dict[str, str], reason: str) -> None:
    _, batch, _, _ = office
    before = counts(world.ws)
    with pytest.raises(InvalidInput) as err:
        pipeline_runs.run(batch, "income_declaration", params)
    assert err.value.details["reason"] == reason
    assert err.value.message_ja != err.value.message_en and "パラメータ" in err.value.message_ja
    assert "山田" not in err.value.message_en + err.value.message_ja
    assert "123456789012" not in err.value.message_en + err.value.message_ja
    assert counts(world.ws) == before


def test_unknown_cycle_and_parameters_from_the_cli(world: StaffedWorkspace, office: CycleOffice, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    monkeypatch.setattr("workbench.cli._common.open_workspace", lambda args: world.ws)
    key = tmp_path / "p1.key"
    before = counts(world.ws)
    for argv, ja in ((["pipeline", "run", "harvest"], "不明なパイプライン"),
                     (["pipeline", "run", "income_declaration", "-p", "fiscal_year=2026", "-p", "name=山田"],
                      "指定できないパラメータ"),
                     (["pipeline", "run", "income_declaration", "-p", "fiscal_year=123456789012"], "個人番号")):
        code = cli.main(["-w", str(world.ws.path), "--batch-key", str(key), *argv])
        err = json.loads(capsys.readouterr().err)
        assert code == 2 and ja in err["message_ja"] and err["message_en"]
    assert counts(world.ws) == before


# ------------------------------------------------------------------------------ batch accounts
def test_batch_key_is_refused_when_expired_revoked_exposed_or_foreign(world: StaffedWorkspace, office: CycleOffice, tmp_path: Path) -> None:
    _, _, approver, _ = office
    admin = world.login("administrator")
    key = make_batch_account(world, admin, approver, "night", "nightly", tmp_path / "night.key", days=1)
    assert (key.stat().st_mode & 0o777) == 0o600
    assert batch_accounts.login(world.ws, key).user_id == "night"

    # No interactive login: the password is random and thrown away.
    with pytest.raises(AuthenticationFailed):
        world.ws.login("night", "Test-Pass-2026!", "000000")

    key.chmod(0o644)
    with pytest.raises(AuthenticationFailed) as exposed:
        batch_accounts.login(world.ws, key)
    assert "0600" in exposed.value.message_en and "0600" in exposed.value.message_ja
    key.chmod(0o600)

    world.clock.advance(2 * 86400)
    with pytest.raises(SessionExpired) as expired:
        batch_accounts.login(world.ws, key)
    assert "expired" in expired.value.message_en and "有効期限" in expired.value.message_ja

    admin = world.login("administrator")
    fresh = batch_accounts.issue_key(admin, "night", str(tmp_path / "night2.key"))
    assert batch_accounts.login(world.ws, fresh.path).user_id == "night"
    assert fresh.key_id in batch_accounts.revoke_keys(admin, "night")["revoked"]
    before = counts(world.ws)
    with pytest.raises(SessionExpired) as revoked:
        batch_accounts.login(world.ws, fresh.path)
    assert "revoked" in revoked.value.message_en and "失効" in revoked.value.message_ja
    assert counts(world.ws) == before

    forged = tmp_path / "forged.key"
    forged.write_text(json.dumps({**json.loads(Path(fresh.path).read_text()), "secret": "guess"}))
    forged.chmod(0o600)
    with pytest.raises(AuthenticationFailed):
        batch_accounts.login(world.ws, forged)


def test_batch_account_holds_only_its_cycle(world: StaffedWorkspace, office: CycleOffice, tmp_path: Path) -> None:
    pop, batch, _, params = office
    person_id = pop.pop.persons["person_id"].iloc[0]
    with pytest.raises(PermissionDenied) as reveal:
        persons.reveal_number(batch, person_id)
    assert reveal.value.message_ja and reveal.value.message_en
    state = _until_stopped(batch, "income_declaration", params)
    approval_id = waiting_for(state)["approval_ids"][0]
    before = counts(world.ws)
    with pytest.raises(PermissionDenied):
        approvals.decide(batch, approval_id, approve=True)
    assert counts(world.ws) == before
    for perms in batch_accounts.CYCLE_PERMISSIONS.values():
        assert not perms & batch_accounts.NEVER
    with pytest.raises(PermissionDenied):
        pipeline_runs.run(batch, "nightly")  # only its own cycle
    assert not batch.can(Permission.APPROVALS_DECIDE) and not batch.can(Permission.NUMBERS_REVEAL)


def test_cli_batch_account_refusals_in_both_languages(world: StaffedWorkspace, office: CycleOffice, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    pop, batch, _, params = office
    state = _until_stopped(batch, "income_declaration", params)
    approval_id = waiting_for(state)["approval_ids"][0]
    monkeypatch.setattr("workbench.cli._common.open_workspace", lambda args: world.ws)
    key = str(tmp_path / "p1.key")
    person_id = str(pop.pop.persons["person_id"].iloc[0])
    for argv in (["approvals", "approve", approval_id], ["person", "show", person_id, "--reveal"],
                 ["batch-account", "key", "p1-batch", "--out", str(tmp_path / "more.key")]):
        code = cli.main(["-w", str(world.ws.path), "--batch-key", key, *argv])
        err = json.loads(capsys.readouterr().err)
        assert code == 4 and err["error"] == "permission_denied" and err["message_ja"] and err["message_en"]
    assert approvals.get(batch, approval_id).status == "pending"
    assert not (tmp_path / "more.key").exists()
    # A revoked key: the scheduled run is refused before anything runs, in both languages.
    batch_accounts.revoke_keys(world.login("administrator"), "p1-batch")
    before = counts(world.ws)
    code = cli.main(["-w", str(world.ws.path), "--batch-key", key, "pipeline", "run", "income_declaration",
                     "-p", "fiscal_year=2026"])
    err = json.loads(capsys.readouterr().err)
    assert code == 3 and "失効" in err["message_ja"] and "revoked" in err["message_en"]
    assert counts(world.ws) == before


def test_key_files_stay_out_of_the_repository_and_need_an_administrator(world: StaffedWorkspace, office: CycleOffice, tmp_path: Path) -> None:
    admin = world.login("administrator")
    with pytest.raises(InvalidInput) as inside:
        batch_accounts.issue_key(admin, "p1-batch", str(batch_accounts.REPO_ROOT / "pipelines" / "p1.key"))
    assert "repository" in inside.value.message_en and "リポジトリ" in inside.value.message_ja
    with pytest.raises(InvalidInput):
        batch_accounts.issue_key(admin, "p1-batch", str(world.ws.folder("runs") / "p1.key"))
    with pytest.raises(PermissionDenied):
        batch_accounts.issue_key(world.login("query_operator"), "p1-batch", str(tmp_path / "x.key"))
    with pytest.raises(WorkbenchError):
        batch_accounts.add_account(admin, "sneaky", "nightly", approval_id=None)  # needs a second person
    listed = batch_accounts.list_accounts(admin)
    assert [a["user_id"] for a in listed] == ["p1-batch"] and listed[0]["keys"][0]["live"]


# ------------------------------------------------------------------------------ status and listing
def test_status_and_list_show_stages_to_the_owning_roles(world: StaffedWorkspace, office: CycleOffice, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    _, batch, _, params = office
    state = _until_stopped(batch, "income_declaration", params)
    monkeypatch.setenv("WORKBENCH_PASSWORD", "Test-Pass-2026!")
    monkeypatch.setattr("workbench.cli._common.open_workspace", lambda args: world.ws)

    def run(user: str, *argv: str) -> tuple[int, str, str]:
        world.clock.advance(30)
        monkeypatch.setenv("WORKBENCH_USER", user)
        monkeypatch.setenv("WORKBENCH_TOTP", world.code(user))
        code = cli.main(["-w", str(world.ws.path), *argv])
        out = capsys.readouterr()
        return code, out.out, out.err

    code, out, _ = run("query_operator", "pipeline", "status", state.cycle_run_id)
    shown = json.loads(out)
    assert code == 0 and [s["stage"] for s in shown["stages"]][:2] == ["procedures_in", "integrated_out"]
    assert shown["status"] == "waiting" and shown["stages"][3]["waiting_for"]["waiting"] == "approval"
    code, out, err = run("auditor", "pipeline", "status", state.cycle_run_id)
    assert code == 4 and json.loads(err)["message_ja"]
    # The inline runs are not pipeline runs; a Papermill run would be listed with its report path.
    code, out, _ = run("query_operator", "pipeline", "list")
    assert code == 0 and isinstance(json.loads(out), list)


# ------------------------------------------------------------------------------ dashboard
def test_runs_widget_shows_the_latest_runs_to_the_owning_roles(world: StaffedWorkspace, office: CycleOffice) -> None:
    from widgets.runs import RunsApp

    _, batch, _, params = office
    # A scheduled run that stopped waiting (the pipeline-run record and the cycle it worked on).
    checked = engine.check_params("income_declaration", params, world.ws)
    info, _folder = pipeline_runs.start(batch, "income_declaration", checked)
    state = engine.claim(batch, "income_declaration", checked, info.run_id)
    with pytest.raises(CycleWaiting):
        engine.CycleRun(batch, info.run_id, state).run_all()
    engine.release(batch, state.cycle_run_id, info.run_id, notebook="runs/x/income_declaration.ipynb")
    pipeline_runs.finish(batch, info.run_id, succeeded=False, notebook="runs/x/income_declaration.ipynb", status="waiting")

    app = RunsApp(world.login("query_operator"))
    html = app.table.value
    assert info.run_id in html and state.cycle_run_id in html and "p1-batch" in html and "待機中" in html
    assert "runs/x/income_declaration.ipynb" in html and "batches_out" in html
    assert "A" in app.detail.value and "approval" in app.detail.value
    other = RunsApp(world.login("auditor"))  # auditors own audit_check, not this cycle
    assert info.run_id not in other.table.value and "no runs" in other.table.value
    from widgets.approvals import KIND_LABELS

    assert batch_accounts.APPROVAL_KIND in KIND_LABELS  # the approver sees what a batch-account request is


def test_a_person_without_every_stage_permission_is_refused_up_front(world: StaffedWorkspace, office: CycleOffice) -> None:
    _, _, _, params = office
    before = counts(world.ws)
    with pytest.raises(PermissionDenied) as err:
        pipeline_runs.run(world.login("query_operator"), "income_declaration", params)
    assert "integrated.manage" in err.value.message_en and "バッチアカウント" in err.value.message_ja
    assert counts(world.ws) == before


def test_the_monthly_applications_cycle_asks_about_its_months_filings_only(world: StaffedWorkspace, office: CycleOffice, tmp_path: Path) -> None:
    """P4: a May run does not ask again about April's applicants (their filing dates are April's)."""
    from tests.query_helpers import procedures_csv
    from workbench.queries import batches

    pop_office, _p1_batch, approver, _params = office
    heads = pop_office.pop.persons
    heads = heads[(heads["relation"] == "head") & ~heads["deceased"].astype(bool)]["person_id"].tolist()[:30]
    path = tmp_path / "p4.csv"
    path.write_bytes(procedures_csv([(f"P4-{i}", "P4", "2026", "2026-04-20" if i % 2 else "2026-05-12", p, p, "Y")
                                     for i, p in enumerate(heads)]))
    admin = world.login("administrator")
    batch = batch_accounts.login(world.ws, make_batch_account(world, admin, approver, "p4-batch", "applications",
                                                              tmp_path / "p4.key"))
    params = {"month": "2026-05", "procedures_file": str(path)}
    state = _until_stopped(batch, "applications", params)
    while waiting_stage(state).stage != "batches_out":
        approve_waiting(approver, state)
        state = _until_stopped(batch, "applications", params)
    preview = stage(state, "batches_out").detail["preview"]["juki"]
    operator = world.login("query_operator")
    may = batches.preview_juki_batch(operator, procedure="P4", fiscal_year=2026, filed_from="2026-05-01", filed_to="2026-05-31")
    year = batches.preview_juki_batch(operator, procedure="P4", fiscal_year=2026)
    assert preview["total"] == may.total < year.total
    assert (preview["filed_from"], preview["filed_to"]) == ("2026-05-01", "2026-05-31")
