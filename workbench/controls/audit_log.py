"""Services over the audit log: verify the chain and search it (auditor, C4); anchor its
signed heads elsewhere, and acknowledge a broken log (fail closed, issue 10)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench.core import anchor as anchor_mod
from workbench.core import audit, labels
from workbench.core.access_rules import hours_history
from workbench.core.errors import InvalidInput
from workbench.core.paging import ListSpec, Page, PageRequest, SortKey, fetch_page
from workbench.core.permissions import Permission
from workbench.core.policy import POLICY, is_bulk_export, is_out_of_hours
from workbench.core.workspace import SERVICES, Unit, service

#: Audited operation names keep this module's name before the 2026-12 move into packages, so the
#: seven-year audit log and its words stay one vocabulary (see ``workspace.service``).
SERVICE_PREFIX = "auditing"

__all__ = ["acknowledge", "anchor", "anchor_outside", "known_operations", "search", "search_page", "verify"]


def known_operations() -> list[str]:
    """Every operation the audit log can hold: each service, and the events recorded outside
    any service (:data:`workbench.core.labels.EVENTS`), for a search by words."""
    return sorted(set(SERVICES) | set(labels.EVENTS))


@service(Permission.AUDIT_VERIFY, paths=("anchor",))
def verify(unit: Unit, *, anchor: str | None = None) -> audit.AuditReport:
    """Check every record's hash and chain, and the signed heads exported beside the log;
    with ``anchor``, also the signed heads kept elsewhere (``audit anchor``), which catch a
    workspace restored from an older copy.  A problem no auditor has acknowledged raises an
    alarm that stops every write and reveal until one does (``acknowledge``)."""
    ws = unit.workspace
    key = ws.keyring.audit_key()
    report = audit.verify(
        unit.con, key=key, heads=audit.read_heads(ws.heads_path),
        anchor=None if anchor is None else audit.read_anchor(Path(anchor)),
        heads_index=None if anchor is None else audit.heads_index(ws.heads_path),
        workspace_id=ws.settings.workspace_id, known=audit.alarm_problems(unit.con),
        external=anchor_mod.read_lines(ws.anchor_path), external_key=ws.keyring.anchor_key(),
    )
    unit.note(ok=report.ok, records=report.records, first_bad_seq=report.first_bad_seq, anchored=anchor is not None,
              external_anchor=True)
    if not report.ok:
        accepted = audit.epochs(unit.con)[2]
        found = [p for p in report.problems if p not in accepted]
        alarm = audit.raise_alarm(unit.con, key=key, at=unit.now, source="anchor" if anchor else "verify",
                                  problems=found, user_id=unit.user_id)
        unit.note(alarm_id=alarm)
    return report


#: The longest note an auditor can record with an acknowledgement.
NOTE_MAX = 2000


@service(Permission.AUDIT_ACKNOWLEDGE)
def acknowledge(unit: Unit, note: str) -> dict[str, Any]:
    """Record what happened to a broken log (確認記録), and lift the stop on writes and reveals.

    Every problem verification finds now is accepted from here on, and a new epoch of
    signed heads begins; damage found later raises a new alarm.  The note stays inside the
    encrypted store; the log records only its length."""
    note = (note or "").strip()
    if not note or len(note) > NOTE_MAX:
        raise InvalidInput(
            f"Write what happened and what was done (1–{NOTE_MAX} characters) with --note.",
            f"経緯と対応を --note に記入してください（1〜{NOTE_MAX} 文字）。",
        )
    ws = unit.workspace
    alarms = audit.open_alarms(unit.con)
    if not alarms:
        raise InvalidInput("No audit alarm is open; there is nothing to acknowledge.",
                           "未確認の操作ログの異常はありません。")
    report = audit.verify(unit.con, key=ws.keyring.audit_key(), heads=audit.read_heads(ws.heads_path),
                          workspace_id=ws.settings.workspace_id,
                          # every anchor line, so a later verify's spread meets only problems accepted here
                          external=anchor_mod.read_lines(ws.anchor_path, keep=1 << 40),
                          external_key=ws.keyring.anchor_key())
    problems = sorted(set(report.problems) | set(audit.alarm_problems(unit.con)))
    epoch = audit.current_epoch(unit.con) + 1
    last = unit.con.execute("SELECT coalesce(max(seq), 0) FROM audit_log").fetchone()
    baseline = int(last[0]) if last else 0
    unit.con.execute("INSERT INTO audit_epochs VALUES (?, ?, ?, ?, ?, ?)",
                     [epoch, unit.now, baseline, unit.user_id, note, json.dumps([list(p) for p in problems])])
    unit.con.execute(
        "UPDATE audit_alarms SET acknowledged_at = ?, acknowledged_by = ?, epoch = ? WHERE acknowledged_at IS NULL",
        [unit.now, unit.user_id, epoch],
    )
    unit.note(epoch=epoch, alarms=len(alarms), problems=len(problems), note_chars=len(note))
    return {"epoch": epoch, "alarms": [a["alarm_id"] for a in alarms], "problems": problems,
            "baseline_seq": baseline, "acknowledged_by": unit.user_id}


@service(Permission.AUDIT_ANCHOR, paths=("to",))
def anchor(unit: Unit, to: str) -> dict[str, Any]:
    """Append the newest signed head to an anchor file outside the workspace (another disk,
    a mounted share; print it for paper).  The file is first checked against the log: an
    anchor that shows the workspace was rolled back raises an alarm instead."""
    ws = unit.workspace
    path = Path(to).expanduser().resolve()
    if path.is_relative_to(ws.path.resolve()):
        raise InvalidInput("The anchor must be kept outside the workspace folder (another disk or system).",
                           "アンカーはワークスペースの外（別のディスクやシステム）に保存してください。")
    key = ws.keyring.audit_key()
    earlier = audit.read_anchor(path)
    if earlier:
        report = audit.verify(unit.con, key=key, heads=audit.read_heads(ws.heads_path), anchor=earlier,
                              heads_index=audit.heads_index(ws.heads_path), workspace_id=ws.settings.workspace_id)
        if not report.ok:
            accepted = audit.epochs(unit.con)[2]
            alarm = audit.raise_alarm(unit.con, key=key, at=unit.now, source="anchor",
                                      problems=[p for p in report.problems if p not in accepted], user_id=unit.user_id)
            unit.note(anchored=False, alarm_id=alarm, first_bad_seq=report.first_bad_seq)
            return {"anchored": False, "report": report, "alarm_id": alarm}
    head = audit.last_head(ws.heads_path)
    if head is None:
        raise InvalidInput("The log has no signed head yet; nothing to anchor.", "署名付きヘッドがまだないため、アンカーできません。")
    line = audit.anchor_line(key, head, workspace_id=ws.settings.workspace_id, at=unit.now)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")
        f.flush()
        os.fsync(f.fileno())
    unit.note(anchored=True, seq=line["seq"], lines=len(earlier) + 1)
    return {"anchored": True, "path": str(path), "seq": line["seq"], "epoch": line.get("epoch", 0),
            "hash": line["hash"], "lines": len(earlier) + 1}


@service(Permission.AUDIT_VERIFY)
def anchor_outside(unit: Unit) -> dict[str, Any]:
    """The anchor the workbench keeps by itself (issue 22 item 2): append the newest signed head to it now,
    flushed to disk (the nightly cycle does, and every commit appends its head anyway), and say where
    it is, how many lines it has and whether Linux holds it append-only (``chattr +a``)."""
    ws = unit.workspace
    head = audit.last_head(ws.heads_path)
    if head is None:
        raise InvalidInput("The log has no signed head yet; nothing to anchor.", "署名付きヘッドがまだないため、アンカーできません。")
    line = ws.write_anchor(head, sync=True)
    assert line is not None
    path = ws.anchor_path
    with path.open("rb") as f:
        lines = sum(1 for _ in f)
    protection = anchor_mod.protection(path)
    unit.note(seq=line["seq"], lines=lines, protection=protection)
    return {"path": str(path), "seq": line["seq"], "lines": lines, "protection": protection,
            "message_ja": "外部アンカーに署名付きヘッドを追記しました。" + (
                "追記専用（chattr +a）で保護されています。" if protection == "append_only" else
                "このファイルは追記専用属性（chattr +a）を持ちません。保存先のフォルダーをワークスペースの利用者が"
                "書き換えられないアカウントの所有にしてください。"),
            "message_en": "The newest signed head was appended to the anchor outside the workspace. " + (
                "Linux holds the file append-only (chattr +a)." if protection == "append_only" else
                "The file is not append-only (chattr +a needs root): make the anchor folder belong to an account the"
                " workspace's users are not.")}


@service(Permission.AUDIT_READ)
def search(
    unit: Unit,
    *,
    user_id: str | None = None,
    target: str | None = None,
    operation: str | None = None,
    operations: Sequence[str] | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    outcome: str | None = None,
    approval_id: str | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Records matching every given filter, newest first.  Users and targets are
    matched by their pseudonym, so the log itself never holds them in clear."""
    key = unit.workspace.keyring.audit_key()
    where, params = _log_where(key, user_id=user_id, target=target, operation=operation, operations=operations,
                               since=since, until=until, outcome=outcome, approval_id=approval_id)
    rows = unit.con.execute(f"SELECT {_LOG_COLUMNS} FROM audit_log WHERE {where} ORDER BY seq DESC LIMIT $limit",
                            {**params, "limit": int(limit)}).fetchall()
    unit.note(count=len(rows), filters=sorted(k for k, v in {"user": user_id, "target": target, "operation": operation,
                                                           "since": since, "until": until, "approval": approval_id}.items() if v))
    names = _user_names(unit, key)
    return [{**dict(zip(_LOG_FIELDS, r, strict=True)), "user_id": names.get(r[2])} for r in rows]


_LOG_FIELDS = ("seq", "logged_at", "user_ref", "operation", "target_ref", "params", "outcome")
_LOG_COLUMNS = ", ".join(_LOG_FIELDS)


#: An approval number as the workbench writes it (letters and digits); anything else is refused, not searched.
_APPROVAL_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")


def _log_where(key: bytes, *, user_id: str | None, target: str | None, operation: str | None,
               operations: Sequence[str] | None, since: dt.datetime | None, until: dt.datetime | None,
               outcome: str | None, approval_id: str | None = None) -> tuple[str, dict[str, Any]]:
    """The WHERE clause of a log search and its named parameters (users and targets by pseudonym).
    ``approval_id``: the records that name one approval — its request, its decision and the work it allowed."""
    where: list[str] = []
    params: dict[str, Any] = {}
    if approval_id:
        if not isinstance(approval_id, str) or not _APPROVAL_ID.match(approval_id.strip()):
            raise InvalidInput("An approval number is letters and digits, such as A1B2C3D4E5F6.",
                               "承認番号は英数字で指定してください（例: A1B2C3D4E5F6）。", reason="bad_approval_id")
        where.append("json_extract_string(params, '$.approval_id') = $approval_id")
        params["approval_id"] = approval_id.strip().upper()
    if user_id:
        where.append("user_ref = $user_ref")
        params["user_ref"] = audit.pseudonym(key, user_id)
    if target:
        where.append("target_ref = $target_ref")
        params["target_ref"] = audit.pseudonym(key, target)
    if operation:
        where.append("operation LIKE $operation")
        params["operation"] = operation.replace("*", "%")
    if operations is not None:  # the operations a word names (labels.operations_matching)
        where.append("list_contains($operations, operation)")
        params["operations"] = list(operations)
    if outcome:
        where.append("outcome = $outcome")
        params["outcome"] = outcome
    if since:
        where.append("logged_at >= $since")
        params["since"] = since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if until:
        where.append("logged_at < $until")
        params["until"] = until.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return " AND ".join(where) or "TRUE", params


def _user_names(unit: Unit, key: bytes) -> dict[str, str]:
    """The auditor reads user IDs, not pseudonyms: staff IDs are resolved; a pseudonym no
    current user has (a deleted account) stays as it is."""
    names = {audit.pseudonym(key, u): u for (u,) in unit.con.execute("SELECT user_id FROM users").fetchall()}
    names.update({audit.pseudonym(key, u): u for u in ("system", "web", "kernel", "pipeline")})
    return names


# ------------------------------------------------------------------------------ the log, a page at a time
#: The moment in JST (the log stores UTC ISO 8601 text).
_JST = "(CAST(replace(replace(logged_at, 'Z', ''), '+00:00', '') AS TIMESTAMP) + INTERVAL 9 HOUR)"
#: The moment in UTC, as ``working_hours_history.valid_from`` holds it.
_UTC = "CAST(replace(replace(logged_at, 'Z', ''), '+00:00', '') AS TIMESTAMP)"
#: C4 alerts in SQL, as policy.is_out_of_hours / is_bulk_export say them for one record: out of the
#: office's set hours *in force when the record was made* (``working_hours_history``, kept by
#: ``access.set_hours``; a weekday without hours is a day off) — not today's hours (issue 20 item 9).
_LATE = (f"NOT EXISTS (SELECT 1 FROM working_hours_history h WHERE h.weekday = isodow({_JST}) - 1"
         f" AND h.valid_from = (SELECT max(h2.valid_from) FROM working_hours_history h2"
         f" WHERE h2.weekday = h.weekday AND h2.valid_from <= {_UTC})"
         f" AND CAST({_JST} AS TIME) BETWEEN h.opens AND h.closes)")
_COUNT = ("CASE WHEN json_type(params, '$.records') IN ('BIGINT', 'UBIGINT') THEN CAST(json_extract(params, '$.records') AS BIGINT)"
          " WHEN json_exists(params, '$.records') THEN 0"
          " WHEN json_type(params, '$.record_count') IN ('BIGINT', 'UBIGINT') THEN CAST(json_extract(params, '$.record_count') AS BIGINT)"
          " ELSE 0 END")
_BULK = (f"((operation LIKE '%export%' OR json_exists(params, '$.package_id')) AND {_COUNT} >= {int(POLICY.bulk_export_records)})")

#: The audit log as a list paging in the database; the chart (per day) and the alerts count every match.
LOG_LIST = ListSpec(
    "操作ログ", "audit log", "audit_log",
    sorts={"seq": SortKey("seq", "番号（日時）", "number (time)"), "operation": SortKey("operation", "操作", "operation"),
           "outcome": SortKey("outcome", "結果", "outcome")},
    default_sort="seq", tiebreak="seq",
    groups={"day": f"strftime({_JST}, '%Y-%m-%d')", "out_of_hours": f"CASE WHEN {_LATE} THEN 'yes' ELSE 'no' END",
            "bulk_export": f"CASE WHEN {_BULK} THEN 'yes' ELSE 'no' END"},
)


@service(Permission.AUDIT_READ)
def search_page(unit: Unit, request: PageRequest, *, user_id: str | None = None, target: str | None = None,
                operation: str | None = None, operations: Sequence[str] | None = None, since: dt.datetime | None = None,
                until: dt.datetime | None = None, outcome: str | None = None,
                approval_id: str | None = None) -> Page[dict[str, Any]]:
    """:func:`search`, one page at a time: the filters are the same, the total, the records per day
    (``groups["day"]``, JST) and the C4 alerts (``groups["out_of_hours"]``, ``groups["bulk_export"]``)
    count every match in the database, and each row of the page carries its own alert flags."""
    key = unit.workspace.keyring.audit_key()
    where, params = _log_where(key, user_id=user_id, target=target, operation=operation, operations=operations,
                               since=since, until=until, outcome=outcome, approval_id=approval_id)
    page = fetch_page(unit, LOG_LIST, request, _LOG_COLUMNS, where=where, params=params, by=sorted(
        k for k, v in {"user": user_id, "target": target, "operation": operation, "since": since, "until": until,
                       "approval": approval_id}.items() if v))
    names = _user_names(unit, key)
    history = hours_history(unit.con)
    targets = _target_names(unit, key, {str(r[4]) for r in page.rows if r[4]})

    def row(r: tuple[Any, ...]) -> dict[str, Any]:
        record = {**dict(zip(_LOG_FIELDS, r, strict=True)), "user_id": names.get(r[2])}
        return {**record, "target": names.get(r[4]) or targets.get(r[4]) if r[4] else None,
                "out_of_hours": is_out_of_hours(record, history.hours_at(_logged(record))),
                "bulk_export": is_bulk_export(record)}

    return page.map(row)


#: Records a target may name, other than people and users: (table, ID column).  The log holds only the
#: keyed pseudonym of a target; these IDs are matched back so the auditor reads 「A1B2…」 and
#: 「D0C4…」.  A person's 宛名番号 is not matched back (a search by 宛名番号 finds their records).
_TARGET_TABLES = (("approvals", "approval_id"), ("deletion_lists", "list_id"), ("query_batches", "batch_id"),
                  ("media_ledger", "entry_id"), ("pipeline_runs", "run_id"), ("discrepancies", "discrepancy_id"),
                  ("person_deletions", "deletion_id"))
#: The most IDs of one kind matched back (the newest); older ones show as their pseudonym.
_TARGET_LIMIT = 20_000


def _target_names(unit: Unit, key: bytes, refs: set[str]) -> dict[str, str]:
    """Pseudonym → ID for the targets of one page that are records (not people)."""
    found: dict[str, str] = {}
    if not refs:
        return found
    for table, column in _TARGET_TABLES:
        for (value,) in unit.con.execute(f"SELECT {column} FROM {table} ORDER BY {column} DESC LIMIT {_TARGET_LIMIT}").fetchall():
            ref = audit.pseudonym(key, str(value))
            if ref in refs:
                found[ref] = str(value)
        if len(found) == len(refs):
            break
    return found


def _logged(record: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(str(record["logged_at"]).replace("Z", "+00:00"))
