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
import re
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core import audit, labels
from workbench.core.clock import JST
from workbench.core.errors import InvalidInput, NotFound, PermissionDenied, WorkbenchError
from workbench.core.permissions import Permission
from workbench.core.workspace import Session, Unit, Workspace, service

#: Audited operation names keep this module's name before the 2026-12 move into packages, so the
#: seven-year audit log and its words stay one vocabulary (see ``workspace.service``).
SERVICE_PREFIX = "cycle_runs"

__all__ = [
    "CYCLES",
    "STAGE_STATUSES",
    "Cycle",
    "CycleBusy",
    "CycleRun",
    "CycleWaiting",
    "Stage",
    "StageFailed",
    "StageInfo",
    "Waiting",
    "attach",
    "check_params",
    "claim",
    "cycle_state",
    "register",
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
class Stage:
    name: str
    title_ja: str
    title_en: str
    fn: Callable[[StageContext], dict[str, Any]]


@dataclass(frozen=True)
class Cycle:
    name: str
    title_ja: str
    title_en: str
    #: The permission of the roles that own the cycle: to run it, see its runs and its report.
    permission: Permission
    #: parameter → (kind, default); kinds: year, month, date, days, file, dir.
    params: dict[str, tuple[str, Any]]
    stages: tuple[Stage, ...]


#: The cycles the engine can run, by name: filled by the catalogue (:func:`register`), which builds on
#: the engine and every feature package, so the engine itself imports none of them.
CYCLES: dict[str, Cycle] = {}


def register(*cycles: Cycle) -> None:
    """The catalogue (:mod:`workbench.cycles.catalogue`) hands the engine its cycles; a name is registered once."""
    for cycle in cycles:
        if cycle.name in CYCLES:
            raise RuntimeError(f"duplicate cycle {cycle.name}")
        CYCLES[cycle.name] = cycle


def _cycle(cycle: str) -> Cycle:
    if cycle not in CYCLES:
        raise InvalidInput(f"Unknown cycle {cycle!r}; cycles: {', '.join(CYCLES)}.",
                           f"不明な定例処理 {cycle!r} です（{', '.join(CYCLES)}）。", reason="unknown_cycle")
    return CYCLES[cycle]


# ------------------------------------------------------------------------------ parameters
_LONG_DIGITS = re.compile(r"\d{12,}")


def _bad(name: str, en: str, ja: str, reason: str) -> InvalidInput:
    # The value itself is never repeated: it may be the personal data it should not be.
    return InvalidInput(f"Parameter {name}: {en}", f"パラメータ {name}: {ja}", reason=reason, parameter=name)


def check_params(cycle: str, raw: dict[str, Any], ws: Workspace | None = None) -> dict[str, Any]:
    """Validate a cycle's parameters and fill the defaults.  Parameters are years, dates, day counts and
    paths: a value that looks like personal data (12+ digits, a name), a missing file or an unknown
    parameter is refused, naming the parameter but never repeating its value."""
    spec = _cycle(cycle).params
    unknown = sorted(set(raw) - set(spec))
    if unknown:
        raise InvalidInput(f"Parameters not allowed for {cycle}: {', '.join(unknown)}.",
                           f"{cycle} に指定できないパラメータです: {', '.join(unknown)}", reason="unknown_parameter")
    out: dict[str, Any] = {}
    today = (ws.clock.now() if ws is not None else dt.datetime.now(dt.UTC)).astimezone(JST).date()
    for name, (kind, default) in spec.items():
        value = raw.get(name, default)
        text = "" if value is None else str(value).strip()
        if _LONG_DIGITS.search(text):
            raise _bad(name, "looks like an Individual Number or other personal data (12 or more digits); "
                             "parameters carry only years, dates and paths.",
                       "個人番号などの個人情報（12 桁以上の数字）のようです。パラメータには年度・日付・パスのみ指定できます。",
                       "personal_data")
        if kind not in ("file", "dir") and not text.isascii():
            raise _bad(name, "looks like a name or other personal data; parameters carry only years, dates and paths.",
                       "氏名などの個人情報のようです。パラメータには年度・日付・パスのみ指定できます。", "personal_data")
        if kind == "year":
            if not text:
                raise _bad(name, "is required.", "必須です。", "missing_parameter")
            if not re.fullmatch(r"\d{4}", text) or not 2000 <= int(text) <= 2100:
                raise _bad(name, "must be a 4-digit fiscal year (2000-2100).", "西暦 4 桁の年度（2000〜2100）で指定してください。",
                           "bad_year")
            out[name] = int(text)
        elif kind == "month":
            text = text or today.strftime("%Y-%m")
            if not re.fullmatch(r"20\d\d-(0[1-9]|1[0-2])", text):
                raise _bad(name, "must be a month as YYYY-MM.", "年月（YYYY-MM）で指定してください。", "bad_month")
            out[name] = text
        elif kind == "date":
            text = text or today.isoformat()
            try:
                dt.date.fromisoformat(text)
            except ValueError:
                raise _bad(name, "must be a date as YYYY-MM-DD.", "日付（YYYY-MM-DD）で指定してください。", "bad_date") from None
            out[name] = text
        elif kind == "days":
            if not re.fullmatch(r"\d{1,4}", text):
                raise _bad(name, "must be a whole number of days.", "日数（整数）で指定してください。", "bad_days")
            out[name] = int(text)
        elif kind in ("file", "dir"):
            if text:
                path = Path(text).expanduser()
                if not (path.is_file() if kind == "file" else path.is_dir()):
                    raise _bad(name, f"the {'file' if kind == 'file' else 'folder'} does not exist or cannot be read.",
                               f"{'ファイル' if kind == 'file' else 'フォルダ'}が存在しないか、読めません。", "missing_file")
                text = str(path.resolve())
            out[name] = text
        else:  # pragma: no cover - a programming error in the catalogue
            raise AssertionError(kind)
    return out


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
    return [s.name for s in _cycle(cycle).stages]


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


def cycle_state(unit: Unit, cycle_run_id: str) -> CycleState:
    """A cycle run's state and stages, read inside the caller's unit of work (no permission check:
    the caller decides who may see it, as :mod:`workbench.cycles.pipeline_runs`' listing does)."""
    return _state(unit, cycle_run_id)


def _owner_permission(cycle: str) -> Permission:
    return _cycle(cycle).permission


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
        spec = {s.name: s for s in _cycle(self.state.cycle).stages}[stage]
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
        for spec in _cycle(self.state.cycle).stages:
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


# ------------------------------------------------------------------------------ status
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


def _ghosts(con: Any) -> list[str]:
    """The runs whose runner process on this host is gone (a read)."""
    host = socket.gethostname()
    return [str(run_id) for run_id, pid in con.execute(
        "SELECT run_id, runner_pid FROM pipeline_runs WHERE status IN ('issued', 'running') AND runner_host = ?"
        " AND runner_pid IS NOT NULL", [host]).fetchall() if not _alive(host, int(pid))]


def abandon_ghosts(unit: Unit) -> list[str]:
    """Runs whose runner process on this host is gone (killed, lost) are marked ``abandoned``, and a
    cycle one of them held is failed naming the stage it reached (issue 22 item 6: killed runs showed
    "running" for ever).  Returns the run IDs marked.

    Called where a run starts (:func:`workbench.cycles.pipeline_runs.start`) and by the data server's
    sweep (:func:`sweep_ghosts`, at its start and every :data:`GHOST_SWEEP_SECONDS`) — never from a
    listing, which stays a pure read."""
    ghosts = _ghosts(unit.con)
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


#: How often the data server looks for runs whose runner died (:func:`sweep_ghosts`).
GHOST_SWEEP_SECONDS = 30.0
#: The audit operation of the sweep (a system unit of work, recorded when it marks a run).
SWEEP_OPERATION = "cycle_runs.abandon_ghosts"


def sweep_ghosts(ws: Workspace) -> list[str]:
    """The data server's sweep: a read of the unfinished runs first (no queue, no audit record when
    every runner lives); only when one died, one system unit of work marks it (and its cycle) abandoned
    with its audit record.  Returns the run IDs marked."""
    with ws.store.transaction(SWEEP_OPERATION, "system", writes=False, read_only=True) as con:
        if not _ghosts(con):
            return []
    system = Session(ws, "system", (), ws.clock.now())
    with ws.transaction(SWEEP_OPERATION, "system") as con:
        unit = Unit(con=con, session=system, now=ws.clock.now())
        ghosts = abandon_ghosts(unit)
        if ghosts:
            audit.append(con, key=ws.keyring.audit_key(), at=unit.now, user_id="system", operation=SWEEP_OPERATION,
                         outcome="ok", target=None, params={"abandoned": len(ghosts), "runs": ghosts})
    return ghosts
