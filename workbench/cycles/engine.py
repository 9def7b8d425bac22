"""Cycles that resume (定例処理の再開): named stages whose state lives in the database (issue 14).

A *cycle* (``income_declaration``, ``applications``, ``nightly``; stages in
:mod:`workbench.cycles.catalogue`) is identified by its name and a digest of its parameters.  Each
Papermill execution of its notebook (a pipeline run, :mod:`workbench.cycles.pipeline_runs`) *claims* the
cycle run with those parameters — creating it the first time — and then runs the stages
in order, each through :meth:`CycleRun.run`:

* a stage already ``done`` is not run again: its recorded counts are returned, so
  re-running a finished cycle changes nothing;
* a stage that fails records a one-line reason and fails the run; re-running with the
  same parameters continues from that stage;
* a stage that needs something from outside — a second person's approval, answers from
  the linkage server or Juki-net — raises :class:`Waiting`; the stage becomes
  ``waiting`` with exactly what it waits for (approval ID, batch, since when) and the run
  stops with :class:`CycleWaiting` (exit code 10).  Re-running later continues there.

Only one execution of a cycle works at a time: a claim while another holds the cycle is
refused (:class:`CycleBusy`), unless the holder's process is gone (killed), in which case
its stage is marked failed (``interrupted``) and the new run takes over.  Stage details
hold counts, IDs and checkpoints only — never personal data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workbench.core import labels
from workbench.core.errors import InvalidInput, NotFound, PermissionDenied, WorkbenchError
from workbench.core.paging import ListSpec, Page, PageRequest, SortKey, fetch_page
from workbench.core.permissions import Permission
from workbench.core.workspace import Session, Unit, service

#: Audited operation names keep this module's name before the 2026-12 move into packages, so the
#: seven-year audit log and its words stay one vocabulary (see ``workspace.service``).
SERVICE_PREFIX = "cycle_runs"

__all__ = [
    "STAGE_STATUSES",
    "CycleBusy",
    "CycleRun",
    "CycleWaiting",
    "StageFailed",
    "StageInfo",
    "Waiting",
    "attach",
    "claim",
    "listing",
    "listing_page",
    "release",
    "status",
]

#: Where a stage of a cycle run stands (cycle_stages.status).
STAGE_STATUSES: dict[str, tuple[str, str]] = {
    "pending": ("未実行", "not started"), "running": ("実行中", "running"), "waiting": ("待機中", "waiting"),
    "failed": ("失敗", "failed"), "done": ("完了", "done"),
}
labels.register("stage_status", STAGE_STATUSES)


class CycleWaiting(WorkbenchError):
    """The cycle stopped cleanly: a stage waits for something from outside."""

    code = "waiting"
    exit_code = 10


class StageFailed(WorkbenchError):
    """A stage failed; the one-line reason is recorded and a re-run continues from it."""

    code = "stage_failed"
    exit_code = 11


class CycleBusy(WorkbenchError):
    """Another run of the same cycle is working now."""

    code = "cycle_busy"
    exit_code = 12


class Waiting(Exception):
    """Raised by a stage function: what it waits for (IDs and dates only), in both languages."""

    def __init__(self, en: str, ja: str, **what: Any) -> None:
        super().__init__(en)
        self.en, self.ja, self.what = en, ja, what


@dataclass(frozen=True)
class StageInfo:
    stage: str
    seq: int
    status: str
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    detail: dict[str, Any]
    waiting_for: dict[str, Any] | None
    attempts: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class CycleState:
    cycle_run_id: str
    cycle: str
    params: dict[str, Any]
    params_digest: str
    user_id: str
    status: str
    created_at: dt.datetime
    updated_at: dt.datetime
    finished_at: dt.datetime | None
    reason: str | None
    notebook: str | None
    stages: list[StageInfo] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in self.__dict__.items()
               if k != "stages"}
        out["stages"] = [s.to_dict() for s in self.stages]
        return out


def params_digest(cycle: str, params: dict[str, Any]) -> str:
    body = json.dumps([cycle, params], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _stage_names(cycle: str) -> list[str]:
    from workbench.cycles.catalogue import CYCLES

    return [s.name for s in CYCLES[cycle].stages]


# ------------------------------------------------------------------------------ reading
_RUN_COLS = ("cycle_run_id, cycle, params, params_digest, user_id, status, created_at, updated_at, finished_at,"
             " reason, notebook")


def _state(unit: Unit, cycle_run_id: str) -> CycleState:
    row = unit.con.execute(f"SELECT {_RUN_COLS} FROM cycle_runs WHERE cycle_run_id = ?", [cycle_run_id]).fetchone()
    if row is None:
        raise NotFound(f"No cycle run {cycle_run_id}.", f"定例処理の実行 {cycle_run_id} はありません。")
    values = list(row)
    values[2] = json.loads(values[2])
    stages = [StageInfo(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), json.loads(r[6]) if r[6] else None, r[7], r[8])
              for r in unit.con.execute(
                  "SELECT stage, seq, status, started_at, finished_at, detail, waiting_for, attempts, seconds"
                  " FROM cycle_stages WHERE cycle_run_id = ? ORDER BY seq", [cycle_run_id]).fetchall()]
    executions = [r[0] for r in unit.con.execute(
        "SELECT e.run_id FROM cycle_executions e JOIN pipeline_runs p USING (run_id) WHERE e.cycle_run_id = ?"
        " ORDER BY p.created_at", [cycle_run_id]).fetchall()]
    return CycleState(cycle_run_id=values[0], cycle=values[1], params=values[2], params_digest=values[3],
                      user_id=values[4], status=values[5], created_at=values[6], updated_at=values[7],
                      finished_at=values[8], reason=values[9], notebook=values[10], stages=stages, runs=executions)


def _owner_permission(cycle: str) -> Permission:
    from workbench.cycles.catalogue import CYCLES

    return CYCLES[cycle].permission


def _may_see(unit: Unit, cycle: str, user_id: str) -> bool:
    return user_id == unit.user_id or unit.session.can(_owner_permission(cycle))


# ------------------------------------------------------------------------------ claiming
def _alive(host: str | None, pid: int | None) -> bool:
    """Whether the process holding a cycle still runs (on another host we cannot tell: assume so)."""
    if host != socket.gethostname() or pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: Tests only: the stage named here waits once it is marked running, so a test can kill the run inside it.
PAUSE_ENV = "WORKBENCH_TEST_PAUSE_STAGE"


def _interrupt(unit: Unit, cycle_run_id: str, why: str) -> None:
    unit.con.execute("UPDATE cycle_stages SET status = 'failed', finished_at = ? WHERE cycle_run_id = ?"
                     " AND status = 'running'", [unit.now, cycle_run_id])
    unit.con.execute("UPDATE cycle_runs SET status = 'failed', reason = ?, holder = NULL, holder_user = NULL,"
                     " holder_pid = NULL,"
                     " updated_at = ? WHERE cycle_run_id = ?", [why, unit.now, cycle_run_id])


@service(Permission.SELF)
def claim(unit: Unit, cycle: str, params: dict[str, Any], run_id: str, *, pid: int | None = None) -> CycleState:
    """Find or create the cycle run for these parameters and hold it for the execution ``run_id``.

    Refused (:class:`CycleBusy`) while another execution of the same cycle is working."""
    con = unit.con
    for other, holder, host, holder_pid, since, by in con.execute(
            "SELECT cycle_run_id, holder, holder_host, holder_pid, updated_at, user_id FROM cycle_runs"
            " WHERE cycle = ? AND status = 'running'", [cycle]).fetchall():
        if _alive(host, holder_pid):
            raise CycleBusy(
                f"The cycle {cycle} is already running (run {holder} of {other}, by {by}, since "
                f"{since.isoformat(timespec='seconds')}); wait for it to finish.",
                f"定例処理 {cycle} はすでに実行中です（{other} の実行 {holder}、{by}、"
                f"{since.isoformat(timespec='seconds')} から）。終了を待ってください。",
                cycle_run_id=other, run_id=holder)
        _interrupt(unit, other, "interrupted: the process running it stopped (killed or lost)")
    digest = params_digest(cycle, params)
    row = con.execute("SELECT cycle_run_id FROM cycle_runs WHERE cycle = ? AND params_digest = ?"
                      " ORDER BY created_at DESC LIMIT 1", [cycle, digest]).fetchone()
    if row is None:
        cycle_run_id = "C" + uuid.uuid4().hex[:11].upper()
        con.execute(f"INSERT INTO cycle_runs ({_RUN_COLS}) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, NULL, NULL, NULL)",
                    [cycle_run_id, cycle, json.dumps(params, ensure_ascii=False, sort_keys=True), digest,
                     unit.user_id, unit.now, unit.now])
        for seq, name in enumerate(_stage_names(cycle), start=1):
            con.execute("INSERT INTO cycle_stages (cycle_run_id, cycle, params_digest, stage, seq, status, detail)"
                        " VALUES (?, ?, ?, ?, ?, 'pending', '{}')", [cycle_run_id, cycle, digest, name, seq])
    else:
        cycle_run_id = str(row[0])
    state = _state(unit, cycle_run_id)
    if state.status != "succeeded":
        con.execute("UPDATE cycle_runs SET status = 'running', holder = ?, holder_user = ?, holder_host = ?,"
                    " holder_pid = ?, reason = NULL, updated_at = ? WHERE cycle_run_id = ?",
                    [run_id, unit.user_id, socket.gethostname(), pid if pid is not None else os.getpid(), unit.now,
                     cycle_run_id])
    con.execute("INSERT INTO cycle_executions VALUES (?, ?)", [run_id, cycle_run_id])
    unit.note(target=cycle_run_id, cycle=cycle, run_id=run_id, resumed=row is not None)
    return _state(unit, cycle_run_id)


@service(Permission.SELF)
def release(unit: Unit, cycle_run_id: str, run_id: str, *, notebook: str | None,
            error: str | None = None) -> CycleState:
    """The execution ended: let go of the cycle.  A cycle left ``running`` (the kernel died, a cell
    outside the stages failed) becomes ``failed`` with ``error`` as its reason."""
    unit.con.execute(
        "UPDATE cycle_stages SET status = 'failed', finished_at = ? WHERE cycle_run_id = ? AND status = 'running'"
        " AND EXISTS (SELECT 1 FROM cycle_runs WHERE cycle_run_id = ? AND holder = ? AND holder_user = ?)",
        [unit.now, cycle_run_id, cycle_run_id, run_id, unit.user_id])
    unit.con.execute(
        "UPDATE cycle_runs SET status = CASE WHEN status = 'running' THEN 'failed' ELSE status END,"
        " reason = CASE WHEN status = 'running' THEN coalesce(?, 'the notebook stopped outside a stage') ELSE reason END,"
        " holder = NULL, holder_user = NULL, holder_pid = NULL, notebook = coalesce(?, notebook), updated_at = ?"
        " WHERE cycle_run_id = ? AND holder = ? AND holder_user = ?",
        [error, notebook, unit.now, cycle_run_id, run_id, unit.user_id])
    unit.note(target=cycle_run_id, run_id=run_id)
    return _state(unit, cycle_run_id)


# ------------------------------------------------------------------------------ stage transitions
def _held(unit: Unit, cycle_run_id: str, run_id: str) -> None:
    row = unit.con.execute("SELECT holder, holder_user FROM cycle_runs WHERE cycle_run_id = ?",
                           [cycle_run_id]).fetchone()
    if row is None or row[0] != run_id or row[1] != unit.user_id:
        raise CycleBusy("This run no longer holds the cycle (lost lock); start it again.",
                        "この実行は定例処理を保持していません（ロック喪失）。もう一度実行してください。",
                        cycle_run_id=cycle_run_id, run_id=run_id)


@service(Permission.SELF)
def _begin(unit: Unit, cycle_run_id: str, run_id: str, stage: str) -> StageInfo:
    _held(unit, cycle_run_id, run_id)
    unit.con.execute("UPDATE cycle_stages SET status = 'running', attempts = attempts + 1,"
                     " started_at = coalesce(started_at, ?), waiting_for = NULL WHERE cycle_run_id = ? AND stage = ?",
                     [unit.now, cycle_run_id, stage])
    unit.note(target=cycle_run_id, stage=stage)
    return next(s for s in _state(unit, cycle_run_id).stages if s.stage == stage)


@service(Permission.SELF)
def _checkpoint(unit: Unit, cycle_run_id: str, run_id: str, stage: str, detail: dict[str, Any]) -> None:
    _held(unit, cycle_run_id, run_id)
    unit.con.execute("UPDATE cycle_stages SET detail = ? WHERE cycle_run_id = ? AND stage = ?",
                     [json.dumps(detail, ensure_ascii=False, default=str), cycle_run_id, stage])
    unit.note(target=cycle_run_id, stage=stage)


@service(Permission.SELF)
def _end(unit: Unit, cycle_run_id: str, run_id: str, stage: str, *, status: str, detail: dict[str, Any],
         seconds: float, waiting_for: dict[str, Any] | None = None, reason: str | None = None) -> CycleState:
    _held(unit, cycle_run_id, run_id)
    con = unit.con
    con.execute("UPDATE cycle_stages SET status = ?, detail = ?, waiting_for = ?, seconds = seconds + ?,"
                " finished_at = CASE WHEN ? = 'done' THEN ? ELSE finished_at END WHERE cycle_run_id = ? AND stage = ?",
                [status, json.dumps(detail, ensure_ascii=False, default=str),
                 json.dumps(waiting_for, ensure_ascii=False, default=str) if waiting_for else None, seconds,
                 status, unit.now, cycle_run_id, stage])
    left = con.execute("SELECT count(*) FROM cycle_stages WHERE cycle_run_id = ? AND status <> 'done'",
                       [cycle_run_id]).fetchone()[0]  # type: ignore[index]
    run_status = {"waiting": "waiting", "failed": "failed"}.get(status, "running" if left else "succeeded")
    con.execute("UPDATE cycle_runs SET status = ?, reason = ?, updated_at = ?,"
                " finished_at = CASE WHEN ? = 'succeeded' THEN ? ELSE finished_at END WHERE cycle_run_id = ?",
                [run_status, reason, unit.now, run_status, unit.now, cycle_run_id])
    unit.note(target=cycle_run_id, stage=stage, status=status)
    return _state(unit, cycle_run_id)


@service(Permission.SELF)
def _by_execution(unit: Unit, run_id: str) -> CycleState:
    row = unit.con.execute("SELECT cycle_run_id FROM cycle_executions WHERE run_id = ?", [run_id]).fetchone()
    if row is None:
        raise NotFound(f"The run {run_id} is not part of a cycle.", f"実行 {run_id} は定例処理ではありません。")
    owner = unit.con.execute("SELECT user_id FROM pipeline_runs WHERE run_id = ?", [run_id]).fetchone()
    if owner is not None and owner[0] != unit.user_id:
        raise PermissionDenied("This pipeline run belongs to someone else.", "このパイプライン実行は他の利用者のものです。")
    return _state(unit, str(row[0]))


# ------------------------------------------------------------------------------ in the notebook
@dataclass
class StageContext:
    """What a stage function gets: the session, the cycle's parameters, earlier stages' details and
    its own checkpoint (kept across attempts; :meth:`save` persists it at once)."""

    session: Session
    params: dict[str, Any]
    earlier: dict[str, dict[str, Any]]
    detail: dict[str, Any]
    save: Callable[[], None]


class CycleRun:
    """One execution's handle on its cycle run (``cycle_runs.attach(session, run_id)`` in the notebook)."""

    def __init__(self, session: Session, run_id: str, state: CycleState) -> None:
        self.session, self.run_id, self.state = session, run_id, state

    @property
    def params(self) -> dict[str, Any]:
        return self.state.params

    def refresh(self) -> CycleState:
        self.state = _state_of(self.session, self.state.cycle_run_id)
        return self.state

    def run(self, stage: str) -> dict[str, Any]:
        """Run one stage unless it is done; return its details (counts and IDs)."""
        from workbench.cycles.catalogue import CYCLES

        spec = {s.name: s for s in CYCLES[self.state.cycle].stages}[stage]
        # The cached state is current: only this execution holds the cycle (every transition checks it).
        info = {s.stage: s for s in self.state.stages}[stage]
        if info.status == "done":
            return dict(info.detail, already_done=True)
        if self.state.status == "succeeded":  # pragma: no cover - every stage is done then
            return dict(info.detail)
        undone = [s.stage for s in self.state.stages if s.seq < info.seq and s.status != "done"]
        if undone:
            raise StageFailed(f"Stage {stage} cannot start before {undone[0]} is done.",
                              f"段階 {undone[0]} が終わる前に {stage} は開始できません。")
        cid = self.state.cycle_run_id
        _begin(self.session, cid, self.run_id, stage)
        if os.environ.get(PAUSE_ENV) == stage:  # the kill tests hold a stage open (a pause changes nothing)
            time.sleep(float(os.environ.get(PAUSE_ENV + "_SECONDS", "60")))
        detail = dict(info.detail)
        ctx = StageContext(self.session, self.params, {s.stage: s.detail for s in self.state.stages}, detail,
                           lambda: _checkpoint(self.session, cid, self.run_id, stage, detail))
        started = time.monotonic()
        try:
            result = spec.fn(ctx)
        except Waiting as wait:
            reason = f"{stage}: {wait.en}"
            _end(self.session, cid, self.run_id, stage, status="waiting", detail=detail,
                 seconds=time.monotonic() - started, waiting_for={**wait.what, "en": wait.en, "ja": wait.ja},
                 reason=reason)
            what: dict[str, Any] = {k: v for k, v in wait.what.items()
                                    if isinstance(v, (str, int)) and k not in ("reason", "line")}
            raise CycleWaiting(f"Waiting — {reason}", f"待機中 — {stage}: {wait.ja}", stage=stage, cycle_run_id=cid,
                               **what) from None
        except WorkbenchError as exc:
            reason = f"{stage}: {exc.message_en}"
            _end(self.session, cid, self.run_id, stage, status="failed", detail=detail,
                 seconds=time.monotonic() - started, reason=reason[:500])
            raise StageFailed(f"Stage failed — {reason}", f"段階の失敗 — {stage}: {exc.message_ja}", stage=stage,
                              cycle_run_id=cid, error=exc.code) from None
        except Exception as exc:  # the type only: an exception's text may quote data
            reason = f"{stage}: unexpected {type(exc).__name__}"
            _end(self.session, cid, self.run_id, stage, status="failed", detail=detail,
                 seconds=time.monotonic() - started, reason=reason)
            raise StageFailed(f"Stage failed — {reason}", f"段階の失敗 — {stage}: 予期しないエラー {type(exc).__name__}",
                              stage=stage, cycle_run_id=cid) from None
        detail.update(result)
        self.state = _end(self.session, cid, self.run_id, stage, status="done", detail=detail,
                          seconds=time.monotonic() - started)
        return detail

    def run_all(self) -> CycleState:
        """Run every stage in order (for tests and the CLI without a notebook)."""
        from workbench.cycles.catalogue import CYCLES

        for spec in CYCLES[self.state.cycle].stages:
            self.run(spec.name)
        return self.state


@service(Permission.SELF)
def _state_service(unit: Unit, cycle_run_id: str) -> CycleState:
    state = _state(unit, cycle_run_id)
    if not _may_see(unit, state.cycle, state.user_id):
        raise PermissionDenied(f"You may not see runs of {state.cycle}.", f"{state.cycle} の実行は閲覧できません。")
    return state


def _state_of(session: Session, cycle_run_id: str) -> CycleState:
    return _state_service(session, cycle_run_id)


def attach(session: Session, run_id: str) -> CycleRun:
    """Inside the notebook: the cycle run this execution claimed."""
    return CycleRun(session, run_id, _by_execution(session, run_id))


def run_inline(session: Session, cycle: str, params: dict[str, Any]) -> CycleState:
    """Claim and run a cycle in this process, without Papermill (tests, operators' scripts).

    Raises :class:`CycleWaiting` / :class:`StageFailed` like the notebook would."""
    from workbench.cycles.catalogue import check_params

    params = check_params(cycle, params, session.workspace)
    run_id = "I" + uuid.uuid4().hex[:11].upper()
    state = claim(session, cycle, params, run_id)
    error: str | None = None
    try:
        if state.status == "succeeded":
            return state
        return CycleRun(session, run_id, state).run_all()
    except BaseException as exc:
        error = f"interrupted: {type(exc).__name__}"
        raise
    finally:
        release(session, state.cycle_run_id, run_id, notebook=None, error=error)


# ------------------------------------------------------------------------------ status and listing
@service(Permission.SELF)
def status(unit: Unit, run: str) -> CycleState:
    """``workbench pipeline status RUN``: a cycle run (``C…``) or one of its executions (``R…``) with its
    stages — for its requester and for the roles that own the cycle."""
    row = unit.con.execute("SELECT cycle_run_id FROM cycle_executions WHERE run_id = ?", [run]).fetchone()
    cycle_run_id = str(row[0]) if row else run
    unit.note(target=cycle_run_id)
    if not str(cycle_run_id).startswith("C"):
        raise InvalidInput(f"{run} is not a cycle run; give a run ID (R…) or cycle run ID (C…).",
                           f"{run} は定例処理の実行ではありません。実行ID（R…）か定例処理ID（C…）を指定してください。")
    state = _state(unit, cycle_run_id)
    if not _may_see(unit, state.cycle, state.user_id):
        raise PermissionDenied(f"You may not see runs of {state.cycle}.", f"{state.cycle} の実行は閲覧できません。",
                               permission=_owner_permission(state.cycle).value)
    return state


def _run_item(unit: Unit, row: tuple[Any, ...]) -> dict[str, Any]:
    """One pipeline run as the listing shows it, with its cycle's stages, status and reason."""
    run_id, pipeline, user_id, run_status, created_at, notebook, cycle_run_id = row
    item: dict[str, Any] = {"run_id": run_id, "pipeline": pipeline, "user_id": user_id, "status": run_status,
                            "created_at": created_at.isoformat(), "report": notebook}
    if cycle_run_id:
        state = _state(unit, cycle_run_id)
        item.update(cycle_run_id=cycle_run_id, cycle_status=state.status, reason=state.reason,
                    stages=[{"stage": s.stage, "status": s.status} for s in state.stages])
    return item


#: Pipeline runs as a list paging in the database (the caller's own, and every run of a pipeline they hold).
RUN_LIST = ListSpec(
    "実行の一覧", "run list", "pipeline_runs p LEFT JOIN cycle_executions e USING (run_id)",
    sorts={"created_at": SortKey("p.created_at", "開始日時", "started"), "pipeline": SortKey("p.pipeline", "処理", "pipeline"),
           "user_id": SortKey("p.user_id", "実行者", "by"), "status": SortKey("p.status", "実行の状態", "state")},
    default_sort="created_at", tiebreak="p.run_id", search=("p.run_id", "p.pipeline", "p.user_id", "e.cycle_run_id"),
    groups={"status": "p.status"},
)


def _visible(unit: Unit) -> tuple[str, dict[str, Any], list[str]]:
    """Which runs the caller may list: their own, every run of a pipeline whose permission they
    hold, and — for operations (運用担当, who run the machine: ``backup.run``) — every run's state
    and stages, so that a stuck or failed cycle is seen.  Returns the WHERE clause over
    ``pipeline_runs p``, its parameters and the pipelines the caller owns."""
    from workbench.cycles.pipeline_runs import PIPELINES

    owned = [name for name, (perm, _) in PIPELINES.items() if unit.session.can(perm)]
    return ("p.user_id = $me OR list_contains($owned, p.pipeline) OR $monitor",
            {"me": unit.user_id, "owned": owned, "monitor": unit.session.can(Permission.BACKUP_RUN)}, owned)


def _listed(unit: Unit, row: tuple[Any, ...], owned: list[str]) -> dict[str, Any]:
    """A run as listed: the report of a run the caller does not own is not named to them."""
    run = _run_item(unit, row)
    if run["user_id"] != unit.user_id and run["pipeline"] not in owned:
        run["report"] = None
    return run


def abandon_ghosts(unit: Unit) -> list[str]:
    """Runs whose runner process on this host is gone (killed, lost) are marked ``abandoned``, and a
    cycle one of them held is failed naming the stage it reached (issue 22 item 6: killed runs showed
    "running" for ever).  Returns the run IDs marked."""
    host = socket.gethostname()
    ghosts = [str(run_id) for run_id, pid in unit.con.execute(
        "SELECT run_id, runner_pid FROM pipeline_runs WHERE status IN ('issued', 'running') AND runner_host = ?"
        " AND runner_pid IS NOT NULL", [host]).fetchall() if not _alive(host, int(pid))]
    for run_id in ghosts:
        unit.con.execute("UPDATE pipeline_runs SET status = 'abandoned', finished_at = ? WHERE run_id = ?",
                         [unit.now, run_id])
        for cycle_run_id, stage in unit.con.execute(
                "SELECT r.cycle_run_id, (SELECT s.stage FROM cycle_stages s WHERE s.cycle_run_id = r.cycle_run_id"
                " AND s.status = 'running' ORDER BY s.seq LIMIT 1) FROM cycle_runs r"
                " WHERE r.holder = ? AND r.status = 'running'", [run_id]).fetchall():
            _interrupt(unit, cycle_run_id, f"abandoned: the process running it stopped during stage {stage}"
                       if stage else "abandoned: the process running it stopped between stages")
    if ghosts:
        unit.note(abandoned=len(ghosts))
    return ghosts


@service(Permission.SELF)
def listing_page(unit: Unit, request: PageRequest) -> Page[dict[str, Any]]:
    """One page of the runs :func:`listing` shows, sorted and filtered in the database."""
    abandon_ghosts(unit)
    where, params, owned = _visible(unit)
    page = fetch_page(unit, RUN_LIST, request,
                      "p.run_id, p.pipeline, p.user_id, p.status, p.created_at, p.notebook, e.cycle_run_id",
                      where=where, params=params)
    return page.map(lambda r: _listed(unit, r, owned))


@service(Permission.SELF)
def listing(unit: Unit, *, limit: int = 20) -> list[dict[str, Any]]:
    """``workbench pipeline list``: the latest pipeline runs the caller may see (:func:`_visible`),
    with each cycle's stages, status and report path."""
    abandon_ghosts(unit)
    where, params, owned = _visible(unit)
    rows = unit.con.execute(
        "SELECT p.run_id, p.pipeline, p.user_id, p.status, p.created_at, p.notebook, e.cycle_run_id"
        f" FROM pipeline_runs p LEFT JOIN cycle_executions e USING (run_id) WHERE {where}"
        " ORDER BY p.created_at DESC LIMIT $limit", {**params, "limit": int(limit)}).fetchall()
    out = [_listed(unit, r, owned) for r in rows]
    unit.note(count=len(out))
    return out
