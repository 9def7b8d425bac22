"""Services over the audit log: verify the chain and search it (auditor, C4)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from . import audit
from .permissions import Permission
from .workspace import Unit, service

__all__ = ["search", "verify"]


@service(Permission.AUDIT_VERIFY)
def verify(unit: Unit) -> audit.AuditReport:
    """Check every record's hash and chain, and the signed heads exported beside the log."""
    ws = unit.workspace
    report = audit.verify(unit.con, key=ws.keyring.audit_key(), heads=audit.read_heads(ws.heads_path))
    unit.note(ok=report.ok, records=report.records, first_bad_seq=report.first_bad_seq)
    return report


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
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Records matching every given filter, newest first.  Users and targets are
    matched by their pseudonym, so the log itself never holds them in clear."""
    key = unit.workspace.keyring.audit_key()
    where: list[str] = []
    args: list[Any] = []
    if user_id:
        where.append("user_ref = ?")
        args.append(audit.pseudonym(key, user_id))
    if target:
        where.append("target_ref = ?")
        args.append(audit.pseudonym(key, target))
    if operation:
        where.append("operation LIKE ?")
        args.append(operation.replace("*", "%"))
    if operations is not None:  # the operations a word names (labels.operations_matching)
        where.append("list_contains(?, operation)")
        args.append(list(operations))
    if outcome:
        where.append("outcome = ?")
        args.append(outcome)
    if since:
        where.append("logged_at >= ?")
        args.append(since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    if until:
        where.append("logged_at < ?")
        args.append(until.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    sql = "SELECT seq, logged_at, user_ref, operation, target_ref, params, outcome FROM audit_log"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = unit.con.execute(sql + " ORDER BY seq DESC LIMIT ?", [*args, limit]).fetchall()
    unit.note(count=len(rows), filters=sorted(k for k, v in
              {"user": user_id, "target": target, "operation": operation, "since": since, "until": until}.items() if v))
    cols = ("seq", "logged_at", "user_ref", "operation", "target_ref", "params", "outcome")
    # The auditor reads user IDs, not pseudonyms: staff IDs are resolved; a pseudonym no
    # current user has (a deleted account) stays as it is.
    names = {audit.pseudonym(key, u): u for (u,) in unit.con.execute("SELECT user_id FROM users").fetchall()}
    names.update({audit.pseudonym(key, u): u for u in ("system", "web", "kernel", "pipeline")})
    return [{**dict(zip(cols, r, strict=True)), "user_id": names.get(r[2])} for r in rows]
