"""Pipeline runs: a cycle notebook executed by Papermill under a staff member's authority.

DESIGN §10.  A pipeline is a parameterised notebook shipped with the package
(``pipelines/``, installed as package data).  Papermill's
parameters must never carry personal data or secrets, so a logged-in person asks for a
run with :func:`start` (or :func:`run`), which records the run and issues a one-time
*run ticket*, handed to the notebook's kernel in its environment (:data:`TICKET_ENV`, never a
parameter or a file).  The notebook receives only the run ID (and, without a data server, the
workspace path); it calls :meth:`resume` to get a session with its requester's current roles —
each service still checks its own permission.  The executed notebook is kept in
``runs/<run_id>/`` and holds counts only.  A failed cell fails the run with a non-zero exit.

**One code path (issue 19).**  While a data server owns the workspace, :func:`run` is handed to it
and runs beside everything else (not alone): Papermill runs in the server, and the notebook's kernel
is a client like a dashboard's — it gets the server's socket and its ticket, never the workspace's
path or the key-encryption key's place, redeems the ticket over the channel and calls every service
remotely.  Without a server the kernel opens the workspace itself, as before.  Either way the kernel
works in a scratch folder outside the workspace; what it writes there (the evidence report's files)
is moved into ``runs/<run_id>/`` afterwards.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import tempfile
import threading
import uuid
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from workbench.controls.batch_accounts import CYCLE_PERMISSIONS, batch_session
from workbench.core import audit, channel, labels, tickets
from workbench.core.composites import composite
from workbench.core.errors import InvalidInput, NotFound, PermissionDenied, SessionExpired, WorkbenchError
from workbench.core.paging import ListSpec, Page, PageRequest, SortKey, fetch_page
from workbench.core.permissions import Permission
from workbench.core.workspace import Session, Unit, Workspace, service
from workbench.cycles import catalogue, engine

#: Audited operation names keep this module's name before the 2026-12 move into packages, so the
#: seven-year audit log and its words stay one vocabulary (see ``workspace.service``).
SERVICE_PREFIX = "runs"

__all__ = ["PIPELINES", "PIPELINE_DIR", "RUNNER_ENV", "RUN_LIST", "TICKET_ENV", "RunInfo", "RunnerGone", "finish", "listing",
           "listing_page", "redeem_run_ticket",
           "resume", "run", "runs", "start"]

#: The cycle notebooks: the ``pipelines`` package's data (top-level ``pipelines/`` in the repository).
PIPELINE_DIR = Path(str(resources.files("pipelines")))

#: Pipeline name → the permission its requester must hold, and its allowed parameters.
PIPELINES: dict[str, tuple[Permission, frozenset[str]]] = {
    "audit_check": (Permission.AUDIT_VERIFY, frozenset()),
    "registration_cycle": (Permission.NUMBERS_REGISTER, frozenset({"targets_file", "return_file", "source"})),
    "query_retention": (Permission.RESULTS_IMPORT, frozenset({"answer_deadline_days"})),
    "retention": (Permission.RETENTION_APPLY, frozenset({"dry_run"})),
    "stats_publish": (Permission.STATS_PUBLISH, frozenset({"k", "max_loss", "epsilon_budget"})),
    # issue 23: the month's evidence, promise by promise (``-p month=2026-11``; default: last month)
    "evidence": (Permission.AUDIT_READ, frozenset({"month"})),
}
labels.register("pipeline", {
    "audit_check": ("操作ログの改ざん検査", "audit log check"), "registration_cycle": ("番号登録の定例処理", "registration cycle"),
    "query_retention": ("照会結果の保存期間処理", "query-result retention"), "retention": ("保存期間の適用", "retention rules"),
    "stats_publish": ("統計の公表", "statistics publication"),
    "evidence": ("月次の運用状況報告", "monthly evidence report"),
})
#: Where a run stands (pipeline runs and cycle runs alike).
RUN_STATUSES: dict[str, tuple[str, str]] = {
    "issued": ("発行済み", "issued"), "running": ("実行中", "running"), "waiting": ("待機中", "waiting"),
    "succeeded": ("完了", "succeeded"), "failed": ("失敗", "failed"), "refused": ("拒否", "refused"),
    "abandoned": ("中断（実行元が停止）", "abandoned (its runner stopped)"),
}
labels.register("run_status", RUN_STATUSES)


def _add_cycles() -> None:
    """The resumable cycles (issue 14, :mod:`workbench.cycles.catalogue`) are pipelines too."""
    for name, cycle in catalogue.CYCLES.items():
        PIPELINES[name] = (cycle.permission, frozenset(cycle.params))


_add_cycles()

TICKET_LIFETIME = dt.timedelta(minutes=30)
#: Run tickets: found by the run's ID (and bound to it), claimed by the run starting.
RUN_TICKETS = tickets.TicketKind("pipeline_runs", key="run_id", bound="run_id",
                                 unclaimed="status = 'issued'", claim="status = 'running', started_at = ?")


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    pipeline: str
    params: dict[str, Any]
    user_id: str
    status: str
    created_at: dt.datetime
    notebook: str | None

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in self.__dict__.items()}


#: The parameters of the pipelines that are not cycles which name files (the cycles declare theirs).
_FILE_PARAMS = {"registration_cycle": ("targets_file", "return_file")}


def path_params(pipeline: str, params: Any) -> list[str]:
    """The parameters of a run that name files or folders (the data server limits them to its exchange
    folders when a client asks for the run)."""
    if not isinstance(params, dict):
        return []
    cycle = engine.CYCLES.get(pipeline)
    names = [n for n, (kind, _d) in cycle.params.items() if kind in ("file", "dir")] if cycle is not None else \
        list(_FILE_PARAMS.get(pipeline, ()))
    return [n for n in names if params.get(n) not in (None, "")]


def _check(pipeline: str, params: dict[str, Any]) -> Permission:
    if pipeline not in PIPELINES:
        raise InvalidInput(f"Unknown pipeline {pipeline!r}; known: {', '.join(PIPELINES)}.",
                           f"不明なパイプライン {pipeline!r} です。")
    permission, allowed = PIPELINES[pipeline]
    extra = set(params) - allowed
    if extra:
        raise InvalidInput(f"Parameters not allowed for {pipeline}: {', '.join(sorted(extra))}.",
                           f"{pipeline} に指定できないパラメータです: {', '.join(sorted(extra))}")
    for name, value in params.items():
        if not isinstance(value, (str, int)) or len(str(value)) > 500:
            raise InvalidInput(f"Parameter {name} must be a short ID, year or path.",
                               f"パラメータ {name} は短いID・年度・パスのみ指定できます。")
    return permission


# A pipeline is only a way of calling services, each refused on its own while the audit
# log is found broken; its run record must still open and close (audit_check finds it).
@service(Permission.SELF, while_alarm=True)
def start(unit: Unit, pipeline: str, params: dict[str, Any], *, ticket_hash: str | None = None) -> tuple[RunInfo, Path]:
    """Record a run and its one-time ticket's hash; returns the run and its folder.  The runner makes the
    ticket (:func:`tickets.issue`) and gives only its hash here, so the ticket itself never leaves the
    runner's process but for the notebook's kernel's environment (without one, nobody holds the ticket)."""
    permission = _check(pipeline, params)
    batch_cycle = unit.session.batch_cycle
    if batch_cycle is not None and batch_cycle != pipeline:
        raise PermissionDenied(
            f"This batch account may run {batch_cycle} only, not {pipeline}.",
            f"このバッチ用アカウントが実行できるのは {batch_cycle} のみで、{pipeline} は実行できません。",
            permission=permission.value,
        )
    if not unit.session.can(permission):
        raise PermissionDenied(
            f"Running {pipeline} needs the permission {permission.value!r}.",
            f"{pipeline} の実行には権限 {permission.value!r} が必要です。",
            permission=permission.value,
        )
    run_id = "R" + uuid.uuid4().hex[:11].upper()
    if ticket_hash is not None and not (isinstance(ticket_hash, str) and len(ticket_hash) == 64
                                        and all(c in "0123456789abcdef" for c in ticket_hash)):
        raise InvalidInput("The run ticket's hash must be 64 lowercase hexadecimal digits (SHA-256).",
                           "実行チケットのハッシュは小文字の16進数64桁（SHA-256）で指定してください。", reason="bad_ticket_hash")
    hashed = ticket_hash if ticket_hash is not None else tickets.issue()[1]
    folder = unit.workspace.folder("runs") / run_id
    folder.mkdir(mode=0o700)
    engine.abandon_ghosts(unit)
    unit.con.execute(
        "INSERT INTO pipeline_runs (run_id, pipeline, params, user_id, ticket_hash, created_at, expires_at, status,"
        " runner_host, runner_pid) VALUES (?, ?, ?, ?, ?, ?, ?, 'issued', ?, ?)",
        [run_id, pipeline, json.dumps(params, ensure_ascii=False), unit.user_id,
         hashed, unit.now, unit.now + TICKET_LIFETIME, socket.gethostname(), os.getpid()],
    )
    unit.note(run_id=run_id, pipeline=pipeline)
    return _info(unit, run_id), folder


def _info(unit: Unit, run_id: str) -> RunInfo:
    row = unit.con.execute(
        "SELECT run_id, pipeline, params, user_id, status, created_at, notebook FROM pipeline_runs WHERE run_id = ?",
        [run_id],
    ).fetchone()
    if row is None:
        raise NotFound(f"No pipeline run {run_id}.", f"パイプライン実行 {run_id} はありません。")
    values = list(row)
    values[2] = json.loads(values[2])
    return RunInfo(*values)


#: The runner's process ID, handed to the notebook's kernel through its environment (not a parameter).
RUNNER_ENV = "WORKBENCH_RUNNER_PID"
#: The run's one-time ticket, handed to the notebook's kernel through its environment and claimed at once.
TICKET_ENV = "WORKBENCH_RUN_TICKET"
#: How often the kernel looks for its runner.
WATCH_SECONDS = 0.2


class RunnerGone(WorkbenchError):
    """The process that started this run is gone: the kernel must not write anything more."""

    code = "runner_gone"


def _runner_gone() -> RunnerGone:
    return RunnerGone("The pipeline's runner stopped; this notebook writes nothing more and ends.",
                      "パイプラインの実行元が停止したため、このノートブックは何も書き込まずに終了します。")


def _bind_to_runner(ws: Workspace | None) -> None:
    """The runner and its kernel live and die together (issue 22 item 6): Papermill starts the kernel
    in a session of its own, so a killed runner left it running — and it wrote the Juki-net file after
    its parent died.  Here the kernel refuses to commit once the runner is gone (checked before every
    commit: no write after the parent's death) and a watchdog ends it within :data:`WATCH_SECONDS`.
    A client kernel (``ws`` None) commits nothing itself: its runner is the data server, whose
    commits end with it."""
    value = os.environ.get(RUNNER_ENV)
    if not value:
        return  # a notebook run by hand in JupyterLab: no runner to follow
    runner = int(value)

    def alive() -> bool:
        return os.getppid() == runner  # once the runner dies the kernel is re-parented: no PID reuse race

    if not alive():
        raise _runner_gone()

    def guard() -> None:
        if not alive():
            raise _runner_gone()

    def watch() -> None:
        while alive():
            threading.Event().wait(WATCH_SECONDS)
        os._exit(70)  # EX_SOFTWARE: nothing below runs, nothing more is written

    if ws is not None:
        ws.commit_guard = guard
    threading.Thread(target=watch, name="workbench-runner-watch", daemon=True).start()


def resume(workspace: Workspace | str | Path, run_id: str) -> Session:
    """Inside the notebook: exchange the run's one-time ticket (from the kernel's environment) for its
    requester's session — over the data server's channel when the runner gave the kernel one (then
    ``workspace`` is empty and never opened), else by opening the workspace here."""
    ticket = os.environ.pop(TICKET_ENV, "")
    server = os.environ.get(channel.SERVER_ENV, "")
    if server:
        _bind_to_runner(None)
        return channel.connect_server(server).pipeline(ticket, run_id)
    ws = workspace if isinstance(workspace, Workspace) else Workspace.open(Path(workspace))
    _bind_to_runner(ws)
    return redeem_run_ticket(ws, run_id, ticket)


def redeem_run_ticket(ws: Workspace, run_id: str, ticket: str) -> Session:
    """Claim the run's ticket, once, for its requester's session (in the notebook without a data
    server, in the data server for a client notebook)."""
    now = ws.clock.now()
    refusal: WorkbenchError | None = None
    with ws.transaction("pipeline.resume", "pipeline") as con:
        row = con.execute(
            "SELECT r.user_id, u.roles, u.disabled, (SELECT b.cycle FROM batch_accounts b WHERE b.user_id = r.user_id)"
            " FROM pipeline_runs r JOIN users u USING (user_id) WHERE r.run_id = ?",
            [run_id],
        ).fetchone()
        ok = tickets.claim(con, RUN_TICKETS, key=run_id, ticket=ticket, bound=run_id, now=now,
                           holder_ok=row is not None and not row[2])
        if not ok:
            refusal = SessionExpired(
                "The run ticket is missing, used, expired or its requester is disabled; start the run again.",
                "実行チケットがないか、使用済み・期限切れ、または依頼者が無効化されています。実行をやり直してください。",
            )
        audit.append(con, key=ws.keyring.audit_key(), at=now, user_id=row[0] if row else "pipeline",
                     operation="pipeline.resume", outcome="ok" if ok else "denied", params={"run_id": run_id})
    if refusal is not None:
        raise refusal
    assert row is not None
    if row[3] is not None:  # a batch account: only its cycle's permissions (issue 14)
        return batch_session(ws, row[0], row[3], now)
    return Session(ws, row[0], tuple(row[1]), now)


@service(Permission.SELF, while_alarm=True)
def finish(unit: Unit, run_id: str, *, succeeded: bool, notebook: str | None, status: str | None = None) -> RunInfo:
    unit.con.execute(
        "UPDATE pipeline_runs SET status = ?, finished_at = ?, notebook = ? WHERE run_id = ? AND user_id = ?",
        [status or ("succeeded" if succeeded else "failed"), unit.now, notebook, run_id, unit.user_id],
    )
    unit.note(run_id=run_id, succeeded=succeeded)
    return _info(unit, run_id)


@service(Permission.SELF, while_alarm=True)
def runs(unit: Unit, *, limit: int = 100) -> list[RunInfo]:
    """The caller's own runs, newest first."""
    rows = unit.con.execute(
        "SELECT run_id FROM pipeline_runs WHERE user_id = ? ORDER BY created_at DESC LIMIT ?", [unit.user_id, limit]
    ).fetchall()
    return [_info(unit, r[0]) for r in rows]


def _kernel_manager(env: dict[str, str]) -> type[Any]:
    """A kernel manager whose kernel gets ``env`` (per run: two runs in the data server at once must
    not share one process-wide environment)."""
    from jupyter_client.manager import AsyncKernelManager

    class RunKernelManager(AsyncKernelManager):
        async def _async_pre_start_kernel(self, **kw: Any) -> Any:
            kw["env"] = dict(env)
            return await super()._async_pre_start_kernel(**kw)

    return RunKernelManager


def _kernel_environment(ws: Workspace, ticket: str) -> tuple[dict[str, str], str]:
    """The notebook kernel's environment and its ``workspace`` parameter: a client of the data server
    while this process serves the workspace (the socket, no workspace path, no KEK's place), else
    the workspace opened in the kernel."""
    extra = {RUNNER_ENV: str(os.getpid()), TICKET_ENV: ticket}
    if ws.serving is not None:
        return channel.client_environment(ws.serving, extra), ""
    env = {k: v for k, v in os.environ.items() if k != channel.SERVER_ENV}
    env.update(extra)
    return env, str(ws.path.resolve())


def _keep(scratch: Path, folder: Path) -> None:
    """What the notebook wrote in its scratch folder (reports) joins the executed notebook."""
    for item in sorted(scratch.iterdir()):
        if item.is_file() and not item.is_symlink() and not (folder / item.name).exists():
            shutil.move(str(item), folder / item.name)


@composite("pipeline.run", exclusive=False)
def run(session: Session, pipeline: str, params: dict[str, Any] | None = None) -> RunInfo:
    """Start a run and execute its notebook with Papermill; raise if a cell fails."""
    import papermill

    params = dict(params or {})
    ws = session.workspace
    cycle = _is_cycle(pipeline)
    if cycle:
        params = engine.check_params(pipeline, params, ws)  # refused before anything is recorded
        missing = sorted(p.value for p in CYCLE_PERMISSIONS[pipeline] - session.permissions)
        if missing:
            ws.audit_only(session.user_id, "runs.start", "denied", pipeline=pipeline, permission=missing[0])
            raise PermissionDenied(
                f"Running {pipeline} needs every permission its stages use; you lack {', '.join(missing)}. "
                "Schedule it under its batch account (workbench batch-account).",
                f"{pipeline} の実行には各段階の権限がすべて必要ですが、{', '.join(missing)} がありません。"
                "定例処理用のバッチアカウント（workbench batch-account）で実行してください。",
                permission=missing[0])
    ticket, ticket_hash = tickets.issue()
    info, folder = start(session, pipeline, params, ticket_hash=ticket_hash)
    output = folder / f"{pipeline}.ipynb"
    report = str(output.relative_to(ws.path))
    cycle_run_id: str | None = None
    if cycle:
        try:
            cycle_run_id = engine.claim(session, pipeline, params, info.run_id).cycle_run_id
        except WorkbenchError:
            finish(session, info.run_id, succeeded=False, notebook=None, status="refused")
            raise
    succeeded = False
    status: str | None = None
    failure: WorkbenchError | None = None
    error: str | None = None
    env, workspace = _kernel_environment(ws, ticket)  # the runner's PID too: see _bind_to_runner
    del ticket
    scratch = Path(tempfile.mkdtemp(prefix="workbench-run-"))  # 0700, outside the workspace
    try:
        papermill.execute_notebook(
            str(PIPELINE_DIR / f"{pipeline}.ipynb"), str(output),
            parameters={"workspace": workspace, "run_id": info.run_id, **params},
            kernel_name="python3", progress_bar=False, cwd=str(scratch), kernel_manager_class=_kernel_manager(env),
        )
        succeeded = True
    except papermill.PapermillExecutionError as exc:
        # The message names the cell and error type only: the error text may quote data.
        error = f"the notebook failed in cell {exc.exec_count}: {exc.ename}"
        failure = InvalidInput(
            f"Pipeline {pipeline} failed in cell {exc.exec_count}: {exc.ename}; see {report}.",
            f"パイプライン {pipeline} のセル {exc.exec_count} で失敗しました（{exc.ename}）。{report} を確認してください。",
            run_id=info.run_id,
        )
    except Exception as exc:  # the kernel died or could not start: the type only
        if not cycle:
            raise
        error = f"the notebook stopped: {type(exc).__name__}"
        failure = InvalidInput(f"Pipeline {pipeline} stopped: {type(exc).__name__}; see {report}.",
                               f"パイプライン {pipeline} が停止しました（{type(exc).__name__}）。{report} を確認してください。",
                               run_id=info.run_id)
    finally:
        _keep(scratch, folder)
        shutil.rmtree(scratch, ignore_errors=True)
        if cycle_run_id is not None:
            state = engine.release(session, cycle_run_id, info.run_id, notebook=report if output.exists() else None,
                                   error=error)
            failure, status = _cycle_outcome(pipeline, info.run_id, state, failure)
        final = finish(session, info.run_id, succeeded=succeeded and failure is None,
                       notebook=report if output.exists() else None, status=status)
    if failure is not None:
        raise failure
    return final


def _is_cycle(pipeline: str) -> bool:
    return pipeline in engine.CYCLES


def _cycle_outcome(pipeline: str, run_id: str, state: Any, failure: WorkbenchError | None
                   ) -> tuple[WorkbenchError | None, str | None]:
    """The cycle's state in the database, not the notebook, says how the run ended."""
    ids = {"run_id": run_id, "cycle_run_id": state.cycle_run_id}
    if state.status == "waiting":
        stage = next((s for s in state.stages if s.status == "waiting"), None)
        ja = (stage.waiting_for or {}).get("ja", "") if stage else ""
        return engine.CycleWaiting(
            f"{pipeline} {state.cycle_run_id} stopped, waiting — {state.reason}. Run it again later to continue.",
            f"{pipeline} {state.cycle_run_id} は待機のため停止しました — {stage.stage if stage else ''}: {ja}。"
            "後で同じパラメータで再実行すると続きから再開します。", **ids), "waiting"
    if state.status == "failed":
        return engine.StageFailed(
            f"{pipeline} {state.cycle_run_id} failed — {state.reason}. Fix the cause and run it again to continue.",
            f"{pipeline} {state.cycle_run_id} が失敗しました — {state.reason}。原因を取り除き、再実行すると続きから再開します。",
            **ids), "failed"
    return failure, None


# ------------------------------------------------------------------------------ listing
# The audited names stay ``cycle_runs.listing*``: these services were the cycle engine's before it
# stopped importing this module (issue 18 item 2), and the seven-year log reads as one.
def _run_item(unit: Unit, row: tuple[Any, ...]) -> dict[str, Any]:
    """One pipeline run as the listing shows it, with its cycle's stages, status and reason."""
    run_id, pipeline, user_id, run_status, created_at, notebook, cycle_run_id = row
    item: dict[str, Any] = {"run_id": run_id, "pipeline": pipeline, "user_id": user_id, "status": run_status,
                            "created_at": created_at.isoformat(), "report": notebook}
    if cycle_run_id:
        state = engine.cycle_state(unit, cycle_run_id)
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
    owned = [name for name, (perm, _) in PIPELINES.items() if unit.session.can(perm)]
    return ("p.user_id = $me OR list_contains($owned, p.pipeline) OR $monitor",
            {"me": unit.user_id, "owned": owned, "monitor": unit.session.can(Permission.BACKUP_RUN)}, owned)


def _listed(unit: Unit, row: tuple[Any, ...], owned: list[str]) -> dict[str, Any]:
    """A run as listed: the report of a run the caller does not own is not named to them."""
    run = _run_item(unit, row)
    if run["user_id"] != unit.user_id and run["pipeline"] not in owned:
        run["report"] = None
    return run


@service(Permission.SELF, operation="cycle_runs.listing_page")
def listing_page(unit: Unit, request: PageRequest) -> Page[dict[str, Any]]:
    """One page of the runs :func:`listing` shows, sorted and filtered in the database (a pure read: runs
    whose runner died are marked by the data server's sweep and by the next start, not here)."""
    where, params, owned = _visible(unit)
    page = fetch_page(unit, RUN_LIST, request,
                      "p.run_id, p.pipeline, p.user_id, p.status, p.created_at, p.notebook, e.cycle_run_id",
                      where=where, params=params)
    return page.map(lambda r: _listed(unit, r, owned))


@service(Permission.SELF, operation="cycle_runs.listing")
def listing(unit: Unit, *, limit: int = 20) -> list[dict[str, Any]]:
    """``workbench pipeline list``: the latest pipeline runs the caller may see (:func:`_visible`),
    with each cycle's stages, status and report path (a pure read, as :func:`listing_page`)."""
    where, params, owned = _visible(unit)
    rows = unit.con.execute(
        "SELECT p.run_id, p.pipeline, p.user_id, p.status, p.created_at, p.notebook, e.cycle_run_id"
        f" FROM pipeline_runs p LEFT JOIN cycle_executions e USING (run_id) WHERE {where}"
        " ORDER BY p.created_at DESC LIMIT $limit", {**params, "limit": int(limit)}).fetchall()
    out = [_listed(unit, r, owned) for r in rows]
    unit.note(count=len(out))
    return out
