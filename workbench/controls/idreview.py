"""The yearly review of IDs and permissions, closed as a loop (ID・権限の棚卸し, C6, III-3 リスク2).

1. :func:`start_review` — the administrator takes stock: every active ID with its roles,
   the **dormant** ones (no login for :data:`DORMANT_DAYS` days, or never since created)
   and those whose last review is over a year old;
2. :func:`disable_in_review` — IDs of people who left or moved (and dormant IDs no longer
   needed) are disabled, with the reason, as part of this review;
3. :func:`request_signoff` — a second person's approval bound to exactly these findings;
4. :func:`sign_off` — with the approval, every active ID is recorded as reviewed and the
   review is kept (``id_reviews``) with who signed it off.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from workbench.core import approvals
from workbench.core.errors import InvalidInput, NotFound
from workbench.core.permissions import Permission
from workbench.core.workspace import Unit, service

__all__ = ["APPROVAL_KIND", "DORMANT_DAYS", "disable_in_review", "request_signoff", "reviews", "sign_off", "start_review"]

APPROVAL_KIND = "id_review"
approvals.register_kind(APPROVAL_KIND, "ID・権限の棚卸しの承認", "yearly ID review sign-off")
DORMANT_DAYS = 90


def _load(unit: Unit, review_id: str) -> dict[str, Any]:
    row = unit.con.execute("SELECT review_id, started_at, started_by, findings, approval_id, status, signed_off_by,"
                           " signed_off_at FROM id_reviews WHERE review_id = ?", [review_id]).fetchone()
    if row is None:
        raise NotFound(f"No ID review {review_id}.", f"棚卸し {review_id} はありません。", reason="not_found")
    keys = ("review_id", "started_at", "started_by", "findings", "approval_id", "status", "signed_off_by", "signed_off_at")
    out = dict(zip(keys, row, strict=True))
    out["findings"] = json.loads(out["findings"])
    for k in ("started_at", "signed_off_at"):
        out[k] = out[k].isoformat() if out[k] else None
    return out


def _pending(unit: Unit, review_id: str) -> dict[str, Any]:
    review = _load(unit, review_id)
    if review["status"] != "open":
        raise InvalidInput(f"The review {review_id} is {review['status']}.", f"棚卸し {review_id} はすでに処理済みです。",
                           reason="not_open")
    return review


@service(Permission.USERS_REVIEW)
def start_review(unit: Unit) -> dict[str, Any]:
    """Take stock of every ID: roles, last login, dormant, overdue review."""
    rows = unit.con.execute("SELECT user_id, roles, disabled, created_at, last_login_at, reviewed_at FROM users"
                            " ORDER BY user_id").fetchall()
    dormant_before = unit.now - dt.timedelta(days=DORMANT_DAYS)
    year_ago = unit.now - dt.timedelta(days=365)
    active = [r for r in rows if not r[2]]
    findings = {
        "active": {r[0]: sorted(r[1]) for r in active},
        "dormant": [r[0] for r in active if (r[4] or r[3]) < dormant_before],
        "overdue": [r[0] for r in active if r[5] is None or r[5] < year_ago],
        "already_disabled": [r[0] for r in rows if r[2]],
        "disabled": {},
    }
    review_id = "IR" + uuid.uuid4().hex[:10].upper()
    unit.con.execute("INSERT INTO id_reviews VALUES (?, ?, ?, ?, '', 'open', NULL, NULL)",
                     [review_id, unit.now, unit.user_id, json.dumps(findings, ensure_ascii=False)])
    unit.note(target=review_id, active=len(active), dormant=len(findings["dormant"]), overdue=len(findings["overdue"]))
    return _load(unit, review_id)


@service(Permission.USERS_REVIEW, target="review_id")
def disable_in_review(unit: Unit, review_id: str, user_ids: list[str], *, reason: str) -> dict[str, Any]:
    """Disable the IDs of people who left, moved, or no longer need them (dormant), as part of the review."""
    review = _pending(unit, review_id)
    text = (reason or "").strip()
    if not text or len(text) > 200:
        raise InvalidInput("Give the reason (1–200 characters).", "理由を入力してください（1〜200 文字）。", reason="bad_reason")
    ids = sorted({u.strip() for u in user_ids if u.strip()})
    if not ids:
        raise InvalidInput("Name at least one user ID.", "ユーザーIDを 1 つ以上指定してください。", reason="empty")
    if unit.user_id in ids:
        raise InvalidInput("You cannot disable your own ID in the review.", "自分のIDは棚卸しで無効化できません。",
                           reason="self")
    active = review["findings"]["active"]
    unknown = [u for u in ids if u not in active]
    if unknown:
        raise InvalidInput(f"Not active IDs in this review: {', '.join(unknown)}.",
                           f"この棚卸しの有効なIDではありません: {', '.join(unknown)}", reason="unknown_user")
    unit.con.execute("UPDATE users SET disabled = TRUE WHERE user_id IN (SELECT unnest(?::VARCHAR[]))", [ids])
    findings = review["findings"]
    for u in ids:
        findings["disabled"][u] = text
        active.pop(u, None)
    unit.con.execute("UPDATE id_reviews SET findings = ? WHERE review_id = ?",
                     [json.dumps(findings, ensure_ascii=False), review_id])
    unit.note(target=review_id, disabled=ids)
    return _load(unit, review_id)


def _params(review: dict[str, Any]) -> dict[str, Any]:
    return {"review_id": review["review_id"], "findings": approvals.params_digest("findings", review["findings"])}


@service(Permission.USERS_REVIEW, target="review_id")
def request_signoff(unit: Unit, review_id: str) -> approvals.Approval:
    """Ask a second person to sign off exactly these findings."""
    review = _pending(unit, review_id)
    f = review["findings"]
    approval = approvals.request(unit, APPROVAL_KIND, _params(review), {
        "review_id": review_id, "active": len(f["active"]), "dormant": len(f["dormant"]),
        "overdue": len(f["overdue"]), "disabled": len(f["disabled"])})
    unit.con.execute("UPDATE id_reviews SET approval_id = ? WHERE review_id = ?", [approval.approval_id, review_id])
    return approval


@service(Permission.USERS_REVIEW, target="review_id")
def sign_off(unit: Unit, review_id: str, *, approval_id: str) -> dict[str, Any]:
    """With the second person's approval: every active ID is recorded as reviewed; the review is kept."""
    review = _pending(unit, review_id)
    approval = approvals.consume(unit, approval_id, APPROVAL_KIND, _params(review))
    active = list(review["findings"]["active"])
    unit.con.execute("UPDATE users SET reviewed_at = ?, reviewed_by = ? WHERE user_id IN (SELECT unnest(?::VARCHAR[]))"
                     " AND NOT disabled", [unit.now, approval.decided_by, active])
    unit.con.execute("UPDATE id_reviews SET status = 'signed_off', signed_off_by = ?, signed_off_at = ? WHERE review_id = ?",
                     [approval.decided_by, unit.now, review_id])
    unit.note(target=review_id, reviewed=len(active), signed_off_by=approval.decided_by)
    return _load(unit, review_id)


@service(Permission.USERS_REVIEW)
def reviews(unit: Unit, *, limit: int = 20) -> list[dict[str, Any]]:
    """Past and open reviews, newest first."""
    ids = [r[0] for r in unit.con.execute("SELECT review_id FROM id_reviews ORDER BY started_at DESC LIMIT ?",
                                          [limit]).fetchall()]
    unit.note(count=len(ids))
    return [_load(unit, i) for i in ids]
