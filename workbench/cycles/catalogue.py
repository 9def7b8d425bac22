"""The office's cycles and their stages (定例処理: 収入申告・入居申込・夜間処理), issue 14.

**The one adapter**: every call a cycle makes to the services that read procedures,
write outgoing files (F1b request, F2/F3 batches, F6 linkage file) and import answers is
in this module, in the ``stage_*`` functions and the small helpers just above them.  The
notebooks in ``pipelines/`` call :meth:`workbench.cycles.engine.CycleRun.run` with a stage
name, never a service directly, so when the outgoing-file services change, only this
module changes.

Cycles (each a Papermill notebook of the same name):

* ``income_declaration`` — yearly, P1 (収入の申告), ``fiscal_year``;
* ``applications`` — monthly, P4 (入居の申込み), ``month`` (its fiscal year is derived);
* ``nightly`` — C11 expiry and purge, the retention rules (backups included), the daily check of numbers
  no longer needed, audit verification and the audit anchor outside the workspace.

Both P1 and P4 have the same shape: procedures in → integrated numbers for those without
(F1b) → information and Juki-net batches out (F2/F3) → answers in (F4/F5) → discrepancy
report (C7) → linkage file out (F6) → the cycle report.  Outgoing files wait for a second
person's approval (the stage stops the run, naming the approval ID); imports wait for the
answer packages to arrive in the workspace's ``incoming/`` folder (or ``incoming_dir``);
an imported package moves to ``incoming/done/``, a refused one to ``incoming/refused/``.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.controls import audit_log
from workbench.core import approvals, labels
from workbench.core.errors import ApprovalError, InvalidInput, PackageError, WorkbenchError
from workbench.core.permissions import Permission
from workbench.core.workspace import Session, Unit, composite, service
from workbench.cycles.engine import Cycle, Stage, StageContext, Waiting, register
from workbench.files import incoming, transfer
from workbench.intake import integrated
from workbench.intake.collection import ExportResult
from workbench.lifecycle import retention, unneeded
from workbench.queries import batches, discrepancies, linkage_file, procedures, results

#: Audited operation names keep this module's name before the 2026-12 move into packages, so the
#: seven-year audit log and its words stay one vocabulary (see ``workspace.service``).
SERVICE_PREFIX = "cycles"

__all__ = ["CYCLES", "cycle_figures"]


# ------------------------------------------------------------------------------ helpers
def _export(result: ExportResult) -> dict[str, Any]:
    """Counts and IDs of an outgoing package (no personal data)."""
    entry = result.ledger_entry
    return {"records": int(result.record_count), "package": Path(result.path).name, "ledger_entry": entry.entry_id,
            "approval_id": result.approval_id, "sent_at": entry.recorded_at.isoformat(),
            **{k: v for k, v in result.extra.items() if isinstance(v, (str, int, dict, list))}}


def _nothing(exc: InvalidInput) -> bool:
    return exc.details.get("reason") in ("nothing_to_send", "nothing_to_request")


@service(Permission.SELF)
def outgoing_for_approval(unit: Unit, approval_id: str) -> dict[str, Any] | None:
    """Recovery after a crash between writing a package and recording the stage: the package an approval
    (requested by the caller) was used for, with its batch or export ID."""
    row = unit.con.execute(
        "SELECT m.entry_id, m.package_id, m.file_name, m.record_count, m.recorded_at FROM media_ledger m"
        " JOIN approvals a USING (approval_id) WHERE m.approval_id = ? AND m.direction = 'out' AND a.requested_by = ?",
        [approval_id, unit.user_id]).fetchone()
    unit.note(approval_id=approval_id, found=row is not None)
    if row is None:
        return None
    ids = unit.con.execute(
        "SELECT batch_id FROM query_batches WHERE package_id = $p UNION ALL SELECT batch_id FROM integrated_batches"
        " WHERE package_id = $p UNION ALL SELECT export_id FROM linkage_exports WHERE package_id = $p",
        {"p": row[1]}).fetchall()
    out = {"records": int(row[3]), "package": row[2], "ledger_entry": row[0], "approval_id": approval_id,
           "sent_at": row[4].isoformat(), "recovered": True}
    if ids:
        out["batch_id"] = str(ids[0][0])
    return out


def _approved_exports(ctx: StageContext, steps: dict[str, tuple[Callable[[], approvals.Approval],
                                                                  Callable[[str], ExportResult], str]]) -> dict[str, Any]:
    """Outgoing files that need a second person's approval, requested together and written once approved.

    ``steps``: key → (request approval, create with the approval ID, what it is for the message).  Each
    key's approval ID and result are checkpointed, so a re-run never asks or writes twice."""
    session = ctx.session
    pending: list[approvals.Approval] = []
    for key, (request, create, _what) in steps.items():
        if f"{key}_result" in ctx.detail:
            continue
        approval_id = ctx.detail.get(f"{key}_approval")
        if approval_id is None:
            try:
                approval = request()
            except InvalidInput as exc:
                if not _nothing(exc):
                    raise
                ctx.detail[f"{key}_result"] = {"records": 0, "nothing_to_send": True}
                ctx.save()
                continue
            ctx.detail[f"{key}_approval"] = approval.approval_id
            ctx.save()
            pending.append(approval)
            continue
        approval = approvals.get(session, approval_id)
        if approval.status == "used":
            recovered = outgoing_for_approval(session, approval_id)
            if recovered is None:
                raise InvalidInput(f"The approval {approval_id} was used elsewhere; re-run to request a new one.",
                                   f"承認 {approval_id} は別の処理で使用済みです。再実行して新たに承認を依頼してください。")
            ctx.detail[f"{key}_result"] = recovered
        elif approval.status == "approved" and approval.expires_at >= session.workspace.clock.now():
            try:
                ctx.detail[f"{key}_result"] = _export(create(approval_id))
            except ApprovalError:
                # The selection changed since it was approved: the next run asks for a new approval.
                del ctx.detail[f"{key}_approval"]
                ctx.save()
                raise
        elif approval.status == "pending" and approval.expires_at >= session.workspace.clock.now():
            pending.append(approval)
            continue
        else:  # rejected or expired: the next run asks again
            del ctx.detail[f"{key}_approval"]
            ctx.save()
            state = "rejected" if approval.status == "rejected" else "expired"
            why = approvals.rejection_words(approval) if state == "rejected" else ("", "")
            raise InvalidInput(f"The approval {approval_id} was {state}; re-run the cycle to request a new one. {why[1]}",
                               f"承認 {approval_id} は{'却下' if state == 'rejected' else '期限切れ'}になりました。"
                               f"再実行すると新たに承認を依頼します。{why[0]}", reason=f"approval_{state}",
                               approval_id=approval_id)
        ctx.save()
    if pending:
        ids = ", ".join(a.approval_id for a in pending)
        since = min(a.requested_at for a in pending)
        kinds = ", ".join(sorted({a.kind for a in pending}))
        raise Waiting(f"a second person's approval of {ids} ({kinds}), requested {since.isoformat(timespec='seconds')}",
                      f"承認 {ids}（{kinds}）の承認者による承認待ち（{since.isoformat(timespec='seconds')} 依頼）",
                      waiting="approval", approval_ids=[a.approval_id for a in pending], kinds=kinds,
                      since=since.isoformat())
    # The results are returned into the stage's detail: the checkpoint copies are no longer needed.
    return {key: ctx.detail.pop(f"{key}_result") for key in steps}


def _importers() -> dict[str, Callable[[Session, str], Any]]:
    """The importer of each kind of answer package."""
    return {integrated.ANSWER_KIND: integrated.import_integrated_answers,
            "info_answer": results.import_info_results, "juki_answer": results.import_juki_results}


def _import_packages(ctx: StageContext, kind: str) -> list[dict[str, Any]]:
    return import_packages(ctx.session, kind, str(ctx.params.get("incoming_dir") or "") or None)


@composite("cycles.import_packages", exclusive=False, paths=("incoming_dir",))
def import_packages(session: Session, kind: str, incoming_dir: str | None = None) -> list[dict[str, Any]]:
    """Import every ``kind`` package waiting in the incoming folder (``incoming/`` or ``incoming_dir``),
    oldest name first, through the one incoming path (:func:`workbench.files.incoming.receive`: checked,
    audited, in the media ledger); each imported package moves to ``done/``, a refused one to
    ``refused/`` and fails the stage with the reason.  The folder's files are the data server's
    business: a pipeline's kernel, its client, names the kind only (each import checks its own permission)."""
    if kind not in _importers():
        raise InvalidInput(f"Unknown kind of answer package {kind[:40]!r}.", f"不明な回答パッケージの種類 {kind[:40]!r} です。",
                           reason="unknown_kind")
    folder = Path(incoming_dir) if incoming_dir else session.workspace.folder("incoming")
    refused = session.workspace.folder("incoming") / "refused"
    out = []
    for path in sorted(folder.glob("*.wbpkg")):
        try:
            header_kind = transfer.peek_header(path).kind
        except PackageError:
            header_kind = kind  # a damaged header: the import refuses it with the reason, audited
        if header_kind != kind:
            continue
        try:
            receipt = incoming.receive(session, str(path), kinds=(kind,))
        except (InvalidInput, PackageError) as exc:
            refused.mkdir(mode=0o700, exist_ok=True)
            shutil.move(str(path), refused / path.name)
            raise InvalidInput(f"the answer package {path.name} was refused and moved to incoming/refused/: "
                               f"{exc.message_en}",
                               f"回答パッケージ {path.name} を受け付けず incoming/refused/ に移しました: {exc.message_ja}",
                               reason="answer_refused") from None
        summary = receipt.result
        counts = summary.counts() if hasattr(summary, "counts") else {}
        out.append({"package": path.name, "kind": kind, **counts,
                    "already_imported": bool(getattr(summary, "already_imported", False))})
    return out


# ------------------------------------------------------------------------------ stages: P1 / P4
def _procedure(ctx: StageContext) -> tuple[str, int]:
    if "fiscal_year" in ctx.params:
        return "P1", int(ctx.params["fiscal_year"])
    year, month = (int(x) for x in str(ctx.params["month"]).split("-"))
    return "P4", year if month >= 4 else year - 1


def _filed(ctx: StageContext) -> dict[str, str]:
    """The monthly cycle (P4) asks about the month's filings only: an earlier month's applicants were
    asked in that month's run (those still awaiting an answer are excluded anyway, ``outstanding``)."""
    if "month" not in ctx.params:
        return {}
    year, month = (int(x) for x in str(ctx.params["month"]).split("-"))
    first = dt.date(year, month, 1)
    last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    return {"filed_from": first.isoformat(), "filed_to": last.isoformat()}


def stage_procedures_in(ctx: StageContext) -> dict[str, Any]:
    """⑧⑨ the procedures filed in the housing system, and (U4) the declared incomes, if given."""
    out: dict[str, Any] = {"procedure": _procedure(ctx)[0], "fiscal_year": _procedure(ctx)[1]}
    file = ctx.params.get("procedures_file")
    if file:
        s = procedures.import_procedures(ctx.session, Path(file).read_bytes(), file_name=Path(file).name)
        out["procedures"] = {**s.counts(), "already_imported": s.already_imported, "by_procedure": s.by_procedure}
    income = ctx.params.get("declared_income_file")
    if income:
        d = discrepancies.import_declared_income(ctx.session, Path(income).read_bytes(), file_name=Path(income).name)
        out["declared_income"] = {"rows": d["rows"], "already_imported": d["already_imported"]}
    return out


def stage_integrated_out(ctx: StageContext) -> dict[str, Any]:
    """F1b: the request file for registered people with no integrated number (approval first)."""
    s = ctx.session
    done = _approved_exports(ctx, {"integrated": (
        lambda: integrated.request_integrated_request(s),
        lambda a: integrated.create_integrated_request(s, approval_id=a), "integrated numbers")})
    return {"request": done["integrated"]}


@service(Permission.INTEGRATED_MANAGE)
def integrated_pending(unit: Unit, batch_id: str) -> dict[str, int]:
    """F1b: requests of one batch by status (open = still unanswered)."""
    counts = {str(k): int(v) for k, v in unit.con.execute(
        "SELECT status, count(*) FROM integrated_requests WHERE batch_id = ? GROUP BY 1", [batch_id]).fetchall()}
    unit.note(target=batch_id, **counts)
    return counts


def stage_integrated_in(ctx: StageContext) -> dict[str, Any]:
    """F1b: import the linkage server's answers; wait until the batch has none open."""
    request = ctx.earlier["integrated_out"].get("request", {})
    batch_id = request.get("batch_id")
    if not batch_id:
        return {"nothing_requested": True}
    imported = _import_packages(ctx, integrated.ANSWER_KIND)
    ctx.detail.setdefault("imports", []).extend(imported)
    ctx.save()
    counts = integrated_pending(ctx.session, batch_id)
    if counts.get("open", 0):
        raise Waiting(f"answers from the linkage server to {batch_id} ({counts['open']} of {sum(counts.values())} "
                      f"unanswered, sent {request.get('sent_at')}); put the answer package in incoming/",
                      f"統合宛名番号の依頼 {batch_id} への団体内統合宛名システムからの回答待ち（未回答 {counts['open']:,} 件 / "
                      f"{sum(counts.values()):,} 件、{request.get('sent_at')} 送付）。回答パッケージを incoming/ に置いてください",
                      waiting="answers", batch_id=batch_id, unanswered=counts["open"], since=request.get("sent_at"))
    return {"batch_id": batch_id, "by_status": counts}


def stage_batches_out(ctx: StageContext) -> dict[str, Any]:
    """F2 and F3: both batches for the procedure and year, approved together, written once approved."""
    s = ctx.session
    procedure, year = _procedure(ctx)
    filed = _filed(ctx)
    if "preview" not in ctx.detail:  # exclusions by reason for the report (counts only), before anything is sent
        previews = {"info": batches.preview_info_batch(s, procedure=procedure, fiscal_year=year, **filed),
                    "juki": batches.preview_juki_batch(s, procedure=procedure, fiscal_year=year, **filed)}
        ctx.detail["preview"] = {k: {"total": v.total, "persons": v.persons, "excluded": v.excluded, **filed}
                                 for k, v in previews.items()}
        ctx.save()
    done = _approved_exports(ctx, {
        "info": (lambda: batches.request_info_batch(s, procedure=procedure, fiscal_year=year, **filed),
                 lambda a: batches.create_info_batch(s, approval_id=a, procedure=procedure, fiscal_year=year, **filed),
                 "information queries"),
        "juki": (lambda: batches.request_juki_batch(s, procedure=procedure, fiscal_year=year, **filed),
                 lambda a: batches.create_juki_batch(s, approval_id=a, procedure=procedure, fiscal_year=year, **filed),
                 "Juki-net queries"),
    })
    return {"info": done["info"], "juki": done["juki"]}


def stage_answers_in(ctx: StageContext) -> dict[str, Any]:
    """F4 and F5: import the answer packages; wait until no request of the two batches is unanswered."""
    out = ctx.earlier["batches_out"]
    imported = (_import_packages(ctx, "info_answer") + _import_packages(ctx, "juki_answer"))
    ctx.detail.setdefault("imports", []).extend(imported)
    ctx.save()
    waiting = []
    status: dict[str, dict[str, int]] = {}
    for kind in ("info", "juki"):
        batch_id = out.get(kind, {}).get("batch_id")
        if not batch_id:
            continue
        status[kind] = counts = results.request_status(ctx.session, batch_id=batch_id)
        if counts["pending"]:
            waiting.append((kind, batch_id, counts, out[kind].get("sent_at")))
    if waiting:
        en = "; ".join(f"{'linkage server' if k == 'info' else 'Juki-net'} answers to {b} "
                       f"({c['pending']} of {sum(c.values())} unanswered, sent {t})" for k, b, c, t in waiting)
        ja = "、".join(f"{'情報照会' if k == 'info' else '住基ネット照会'} {b} の回答待ち（未回答 {c['pending']:,} 件 / "
                      f"{sum(c.values()):,} 件、{t} 送付）" for k, b, c, t in waiting)
        raise Waiting(en + "; put the answer packages in incoming/", ja + "。回答パッケージを incoming/ に置いてください",
                      waiting="answers", batch_ids=[b for _, b, _, _ in waiting],
                      unanswered=sum(c["pending"] for _, _, c, _ in waiting), since=min(str(t) for *_, t in waiting))
    return {"status": status}


def stage_discrepancy_report(ctx: StageContext) -> dict[str, Any]:
    """C7: what the answers differ in, by kind (counts only; the reviewers work the queue)."""
    procedure, year = _procedure(ctx)
    ids = [b["batch_id"] for b in (ctx.earlier["batches_out"].get(k, {}) for k in ("info", "juki")) if b.get("batch_id")]
    figures = cycle_figures(ctx.session, procedure=procedure, fiscal_year=year, batch_ids=ids)
    return {"discrepancies": figures["discrepancies"], "batch_ids": ids}


def stage_linkage_out(ctx: StageContext) -> dict[str, Any]:
    """F6: the linkage file for the housing system (approval first)."""
    s = ctx.session
    procedure, year = _procedure(ctx)
    done = _approved_exports(ctx, {"linkage": (lambda: linkage_file.request_linkage(s, procedure=procedure, fiscal_year=year),
                                               lambda a: linkage_file.export_linkage(s, approval_id=a, procedure=procedure, fiscal_year=year), "linkage file")})
    return {"linkage": done["linkage"]}


def stage_report(ctx: StageContext) -> dict[str, Any]:
    """The figures of the cycle report (counts by step, by ward, by status)."""
    procedure, year = _procedure(ctx)
    ids = ctx.earlier["discrepancy_report"].get("batch_ids", [])
    return {"figures": cycle_figures(ctx.session, procedure=procedure, fiscal_year=year, batch_ids=ids)}


@service(Permission.RESULTS_IMPORT)
def cycle_figures(unit: Unit, *, procedure: str, fiscal_year: int, batch_ids: list[str]) -> dict[str, Any]:
    """Counts for a cycle report: filings, requests by kind × status, by ward, discrepancies by kind ×
    state.  No identifier or value of a person — aggregate counts only."""
    con = unit.con
    ids = [str(b) for b in batch_ids]
    filed = con.execute("SELECT count(*), count(DISTINCT m.person_id) FROM housing_procedures h"
                        " JOIN procedure_members m USING (procedure_id) WHERE h.procedure_code = ? AND h.fiscal_year = ?",
                        [procedure, int(fiscal_year)]).fetchone()
    requests: dict[str, dict[str, int]] = {}
    for kind, st, n in con.execute("SELECT kind, status, count(*) FROM query_requests WHERE list_contains(?, batch_id)"
                                   " GROUP BY ALL ORDER BY ALL", [ids]).fetchall():
        requests.setdefault(str(kind), {})[str(st)] = int(n)
    wards: dict[str, dict[str, int]] = {}
    for ward, kind, n in con.execute(
            "SELECT h.ward_code, q.kind, count(*) FROM query_requests q JOIN persons p USING (person_id)"
            " JOIN households h USING (household_id) WHERE list_contains(?, q.batch_id) GROUP BY ALL ORDER BY ALL",
            [ids]).fetchall():
        wards.setdefault(str(ward), {})[str(kind)] = int(n)
    found: dict[str, dict[str, int]] = {}
    for kind, st, n in con.execute("SELECT kind, status, count(*) FROM discrepancies WHERE list_contains(?, batch_id)"
                                   " GROUP BY ALL ORDER BY ALL", [ids]).fetchall():
        found.setdefault(str(kind), {})[str(st)] = int(n)
    unit.note(procedure=procedure, fiscal_year=int(fiscal_year), batches=len(ids))
    return {"procedures_filed": int(filed[0]) if filed else 0, "persons_filed": int(filed[1]) if filed else 0,
            "requests": requests, "by_ward": wards, "discrepancies": found}


# ------------------------------------------------------------------------------ stages: nightly
def stage_expire(ctx: StageContext) -> dict[str, Any]:
    """C11: requests unanswered past the deadline become expired; batches with nothing left close."""
    e = results.expire_requests(ctx.session, older_than_days=int(ctx.params["answer_deadline_days"]))
    return {"expired": e.expired, "batches_closed": len(e.batches_closed)}


def stage_purge(ctx: StageContext) -> dict[str, Any]:
    """C11/C8: delete results past ``result_retention_days``, recorded in the deletion log."""
    p = results.purge_results(ctx.session)
    return {"batches_purged": len(p.batch_ids), "rows_deleted": p.counts, "rebuild_needed": p.rebuild_needed,
            "deletion_id": p.deletion_id}


def _apply_retention(session: Session) -> dict[str, Any]:
    """Every retention rule (C11, issue 12), applied; counts only."""
    report = retention.apply(session, dry_run=False)
    return {k: v for k, v in report.items() if isinstance(v, (int, float, bool, str))} | {
        "rules": len(report.get("items", []))}


#: The retention rules applied by the nightly cycle (``retention.apply``).
RETENTION_APPLY: Callable[[Session], dict[str, Any]] | None = _apply_retention


def stage_retention(ctx: StageContext) -> dict[str, Any]:
    """Retention rules (保存期間の適用): the slot for ``retention.apply``."""
    if RETENTION_APPLY is None:
        return {"wired": False, "note_en": "retention.apply is not wired into the nightly cycle yet",
                "note_ja": "保存期間の適用（retention.apply）は夜間処理にまだ組み込まれていません"}
    return {"wired": True, **RETENTION_APPLY(ctx.session)}


def stage_audit_verify(ctx: StageContext) -> dict[str, Any]:
    """C4: verify the audit log's hash chain and signed heads; a broken chain fails the cycle."""
    report = audit_log.verify(ctx.session)
    if not report.ok:
        ja, en = report.message()
        raise WorkbenchError(f"the audit log check failed: {en}", f"操作ログの検証に失敗しました: {ja}")
    return {"ok": True, "records": report.records, "heads_checked": report.heads_checked}


def stage_unneeded_numbers(ctx: StageContext) -> dict[str, Any]:
    """F7/C8 (issue 22 item 4): people off the target list who still hold a number, proposed for deletion."""
    found = unneeded.check_unneeded(ctx.session)
    return {"persons": found["persons"], "by_reason": found["by_reason"], "proposal": found["list_id"],
            "changed": found["changed"]}


def stage_audit_anchor(ctx: StageContext) -> dict[str, Any]:
    """C4 (issue 22 item 2): the newest signed head appended to the anchor outside the workspace, flushed
    to disk; says whether Linux keeps the anchor append-only."""
    done = audit_log.anchor_outside(ctx.session)
    return {"seq": done["seq"], "protection": done["protection"], "lines": done["lines"]}


def stage_nightly_summary(ctx: StageContext) -> dict[str, Any]:
    """What changed tonight, in one place."""
    e, p = ctx.earlier["expire"], ctx.earlier["purge"]
    return {"expired": e.get("expired", 0), "batches_closed": e.get("batches_closed", 0),
            "batches_purged": p.get("batches_purged", 0),
            "rows_deleted": sum(v for k, v in (p.get("rows_deleted") or {}).items() if k != "discrepancies_kept_open"),
            "retention_wired": ctx.earlier["retention"].get("wired", False),
            "backups_destroyed": ctx.earlier["retention"].get("deleted_backups", 0),
            "numbers_proposed_for_deletion": ctx.earlier["unneeded_numbers"].get("persons", 0),
            "audit_records": ctx.earlier["audit_verify"].get("records", 0),
            "audit_anchor": ctx.earlier["audit_anchor"].get("protection", "")}


_QUERY_STAGES = (
    Stage("procedures_in", "手続の取込", "procedures in", stage_procedures_in),
    Stage("integrated_out", "統合宛名番号の依頼（F1b）", "integrated numbers requested (F1b)", stage_integrated_out),
    Stage("integrated_in", "統合宛名番号の回答取込（F1b）", "integrated numbers in (F1b)", stage_integrated_in),
    Stage("batches_out", "情報照会・住基照会ファイル（F2/F3）", "information and Juki-net batches out (F2/F3)",
          stage_batches_out),
    Stage("answers_in", "照会結果の取込（F4/F5）", "answers in (F4/F5)", stage_answers_in),
    Stage("discrepancy_report", "相違の集計（C7）", "discrepancy report (C7)", stage_discrepancy_report),
    Stage("linkage_out", "都住システム連携ファイル（F6）", "linkage file out (F6)", stage_linkage_out),
    Stage("report", "サイクル報告", "cycle report", stage_report),
)

_QUERY_PARAMS: dict[str, tuple[str, Any]] = {"procedures_file": ("file", ""), "declared_income_file": ("file", ""),
                                             "incoming_dir": ("dir", "")}

#: The catalogue: every resumable cycle, registered with the engine below (``engine.CYCLES`` is the
#: engine's registry of the same cycles; the engine imports nothing from here).
CYCLES: dict[str, Cycle] = {
    "income_declaration": Cycle(
        "income_declaration", "収入申告（年次, P1）", "income declaration (yearly, P1)", Permission.BATCHES_CREATE,
        {"fiscal_year": ("year", None), **_QUERY_PARAMS}, _QUERY_STAGES),
    "applications": Cycle(
        "applications", "入居申込（月次, P4）", "move-in applications (monthly, P4)", Permission.BATCHES_CREATE,
        {"month": ("month", ""), **_QUERY_PARAMS}, _QUERY_STAGES),
    "nightly": Cycle(
        "nightly", "夜間処理", "nightly", Permission.RESULTS_IMPORT,
        {"run_date": ("date", ""), "answer_deadline_days": ("days", results.ANSWER_DEADLINE_DAYS)},
        (Stage("expire", "回答期限切れの処理（C11）", "expire unanswered requests (C11)", stage_expire),
         Stage("purge", "照会結果の消去（C11）", "purge results (C11)", stage_purge),
         Stage("retention", "保存期間の適用", "retention rules", stage_retention),
         Stage("unneeded_numbers", "不要になった個人番号の点検（削除の提案）", "numbers no longer needed (deletion proposal)",
               stage_unneeded_numbers),
         Stage("audit_verify", "操作ログの検証（C4）", "audit verification (C4)", stage_audit_verify),
         Stage("audit_anchor", "操作ログの外部アンカー（C4）", "audit anchor outside the workspace (C4)", stage_audit_anchor),
         Stage("summary", "変更の要約", "summary of what changed", stage_nightly_summary))),
}
labels.register("pipeline", {name: (c.title_ja, c.title_en) for name, c in CYCLES.items()})
for _cycle in CYCLES.values():
    labels.register("stage", {s.name: (s.title_ja, s.title_en) for s in _cycle.stages})
register(*CYCLES.values())
