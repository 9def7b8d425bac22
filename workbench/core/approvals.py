"""Second-person approval (承認): requested by one person, decided by another.

REQUIREMENTS §6: most past incidents were sending to the wrong people, so outgoing
files with personal data, bulk deletions and role grants each need a second person's
approval bound to a digest of the *exact* parameters.  The feature that needs it
calls :func:`request` when previewing and :func:`consume` when executing, inside its
own service call; an approver decides with :func:`decide`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from workbench.core import labels
from workbench.core.errors import ApprovalError, InvalidInput, NotFound
from workbench.core.permissions import Permission
from workbench.core.workspace import Unit, service

__all__ = ["KINDS", "REASON_MAX", "STATUSES", "Approval", "consume", "decide", "get", "load", "params_digest", "pending",
           "register_kind", "rejection_words", "request"]

#: Every kind of request, with what it is in staff words (Japanese, English).  Filled by the
#: modules that ask for approvals (:func:`register_kind`: role grants, every outgoing file through
#: :func:`workbench.files.outgoing.register`); screens and the CLI read their labels here.
KINDS: dict[str, tuple[str, str]] = {}


def register_kind(kind: str, label_ja: str, label_en: str) -> None:
    """Declare a kind of approval request and its name on screen."""
    if kind in KINDS and KINDS[kind] != (label_ja, label_en):
        raise RuntimeError(f"approval kind {kind} declared twice")
    KINDS[kind] = (label_ja, label_en)
    labels.register("approval", {kind: (label_ja, label_en)})


#: What becomes of a request.
STATUSES: dict[str, tuple[str, str]] = {
    "pending": ("承認待ち", "pending"), "approved": ("承認済み", "approved"), "rejected": ("却下", "rejected"),
    "used": ("使用済み", "used"), "expired": ("期限切れ", "expired"),
}
labels.register("approval_status", STATUSES)


@dataclass(frozen=True)
class Approval:
    approval_id: str
    kind: str
    params_digest: str
    summary: dict[str, Any]
    requested_by: str
    requested_at: dt.datetime
    expires_at: dt.datetime
    status: str
    decided_by: str | None
    decided_at: dt.datetime | None
    #: Why it was rejected, in the approver's words (却下の理由); ``None`` unless rejected.
    reason: str | None = None

    @property
    def kind_ja(self) -> str:
        """What was asked for, in staff words (from :data:`KINDS`)."""
        return KINDS.get(self.kind, (self.kind, self.kind))[0]

    def to_dict(self) -> dict[str, Any]:
        out = {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in self.__dict__.items()}
        return {**out, "kind_ja": self.kind_ja}


def params_digest(kind: str, params: Mapping[str, Any]) -> str:
    """SHA-256 over the kind and canonical JSON of the parameters."""
    body = json.dumps([kind, dict(params)], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


_COLUMNS = (
    "approval_id, kind, params_digest, summary, requested_by, requested_at, expires_at, status,"
    " decided_by, decided_at,"
    " (SELECT r.reason FROM approval_reasons r WHERE r.approval_id = approvals.approval_id) AS reason"
)

#: The longest reason an approver may give for a rejection, in characters.
REASON_MAX = 500


def rejection_words(approval: Approval) -> tuple[str, str]:
    """「A… は却下されました（理由: …）」 in both languages, for the requester's views and refusals."""
    reason = approval.reason or "（理由の記録なし）"
    return (f"{approval.approval_id} は {approval.decided_by or '承認者'} により却下されました。理由: {reason}",
            f"{approval.approval_id} was rejected by {approval.decided_by or 'the approver'}. Reason: {approval.reason or '(none recorded)'}")


def _check_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise InvalidInput("A rejection needs a reason, for the person who asked: write why.",
                           "却下するには理由が必要です。依頼した人に伝わるよう、理由を入力してください。", reason="reason_required")
    if len(text) > REASON_MAX:
        raise InvalidInput(f"The reason is too long (at most {REASON_MAX} characters).",
                           f"理由が長すぎます（{REASON_MAX} 文字まで）。", reason="reason_too_long")
    if any((ord(c) < 32 and c not in "\n\t") or ord(c) == 127 for c in text):
        raise InvalidInput("The reason contains control characters.", "理由に制御文字が含まれています。", reason="bad_reason")
    return text


def _row(row: tuple[Any, ...]) -> Approval:
    values = list(row)
    values[3] = json.loads(values[3])
    return Approval(*values)


def load(unit: Unit, approval_id: str) -> Approval:
    """One request, inside a service (no permission of its own: the caller's service decides)."""
    return _load(unit, approval_id)


def _load(unit: Unit, approval_id: str) -> Approval:
    row = unit.con.execute(f"SELECT {_COLUMNS} FROM approvals WHERE approval_id = ?", [approval_id]).fetchone()
    if row is None:
        raise NotFound(f"No approval request {approval_id}.", f"承認依頼 {approval_id} はありません。")
    return _row(row)


def request(unit: Unit, kind: str, params: Mapping[str, Any], summary: Mapping[str, Any], *,
            selection: Mapping[str, Any] | None = None, beneficiary: str | None = None) -> Approval:
    """Open a request for ``kind`` with these exact parameters (call inside a service).

    ``selection`` (an outgoing file's ``count`` and ``selection_digest``) is bound too; the
    parameters' own digest is kept in the summary so :func:`consume` can tell "the same
    request, but the people selected changed" from "a different request".
    ``beneficiary`` names the person the request would benefit (a role grant's user):
    that person may not approve it, whoever asked for it."""
    if kind not in KINDS:
        raise RuntimeError(f"undeclared approval kind {kind}")
    ttl = dt.timedelta(hours=unit.workspace.settings.approval_ttl_hours)
    approval_id = "A" + uuid.uuid4().hex[:11].upper()
    digest = params_digest(kind, {**params, **(selection or {})})
    if selection is not None:
        summary = {**summary, "parameters_digest": params_digest(kind, params),
                   "count": int(selection.get("count", 0))}
    unit.con.execute(
        "INSERT INTO approvals VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', NULL, NULL, NULL)",
        [approval_id, kind, digest, json.dumps(dict(summary), ensure_ascii=False, default=str),
         unit.user_id, unit.now, unit.now + ttl],
    )
    if beneficiary is not None:
        unit.con.execute("INSERT INTO approval_beneficiaries VALUES (?, ?)", [approval_id, beneficiary])
    unit.note(approval_id=approval_id, approval_kind=kind)
    return _load(unit, approval_id)


def consume(unit: Unit, approval_id: str | None, kind: str, params: Mapping[str, Any], *,
            selection: Mapping[str, Any] | None = None) -> Approval:
    """Check the approval covers exactly this call, then mark it used (once only).

    For an outgoing file, ``selection`` is who is selected *now*; if the parameters are the
    approved ones but the selection moved, the refusal says so with both counts (the one
    place this is checked, for every kind of outgoing file)."""
    if not approval_id:
        raise ApprovalError(
            f"{kind} needs a second person's approval; request it first.",
            f"{kind} には別の職員の承認が必要です。先に承認を依頼してください。",
        )
    approval = _load(unit, approval_id)
    if approval.kind == kind and approval.status == "used":
        # The true reason first: once used, the selection it was bound to has usually moved on (the file
        # was made), and "given for different parameters" would send the person looking for a wrong cause.
        raise ApprovalError(
            "This approval has already been used; an approval carries out one action once. Request a new approval.",
            "この承認はすでに使用済みです（承認は 1 回の実行にのみ使えます）。改めて承認を依頼してください。",
            reason="used")
    if (approval.kind == kind and selection is not None and approval.status in ("approved", "pending")
            and approval.params_digest != params_digest(kind, {**params, **selection})
            and approval.summary.get("parameters_digest") == params_digest(kind, params)):
        then, now = int(approval.summary.get("count") or 0), int(selection.get("count", 0))
        raise ApprovalError(
            f"The selection has changed since it was approved ({then} then, {now} now); "
            "preview again and request a new approval.",
            f"承認後に対象が変わりました（承認時 {then:,} 件、現在 {now:,} 件）。再度確認し、改めて承認を依頼してください。",
            reason="population_changed", approved_count=then, count=now,
        )
    if approval.kind != kind or approval.params_digest != params_digest(kind, {**params, **(selection or {})}):
        raise ApprovalError(
            "The approval was given for different parameters; request a new approval.",
            "承認された内容と実行しようとしている内容が異なります。改めて承認を依頼してください。",
            reason="params_mismatch",
        )
    if approval.requested_by != unit.user_id:
        raise ApprovalError(
            "Only the person who requested this approval can carry it out.",
            "この承認は依頼した本人しか実行できません。",
            reason="not_requester",
        )
    if approval.status == "used":
        raise ApprovalError("This approval has already been used.", "この承認はすでに使用済みです。", reason="used")
    if approval.status == "rejected":
        ja, en = rejection_words(approval)
        raise ApprovalError(f"{en} It cannot be carried out.", f"{ja} この承認番号では実行できません。", reason="rejected")
    if approval.status != "approved":
        raise ApprovalError(
            f"The approval is {approval.status}, not approved.",
            f"承認依頼の状態が「{labels.ja(approval.status, 'approval_status')}」のため実行できません。",
            reason=approval.status,
        )
    if unit.now > approval.expires_at:
        raise ApprovalError("The approval has expired; request a new one.", "承認の有効期限が切れています。改めて依頼してください。", reason="expired")
    unit.con.execute("UPDATE approvals SET status = 'used', used_at = ? WHERE approval_id = ?", [unit.now, approval_id])
    unit.note(approval_id=approval_id)
    return approval


@service(Permission.APPROVALS_DECIDE)
def decide(unit: Unit, approval_id: str, *, approve: bool, reason: str | None = None) -> Approval:
    """Approve or reject another person's request.  A rejection needs ``reason`` (却下の理由): it is
    kept with the request and shown to the person who asked; the audit record says that a reason
    was given and how long it is (the words stay in the encrypted store)."""
    approval = _load(unit, approval_id)
    unit.note(approval_id=approval_id, approval_kind=approval.kind, approve=approve)
    text = None if approve else _check_reason(reason)
    if approval.requested_by == unit.user_id:
        raise ApprovalError(
            "You cannot approve your own request; another person must decide.",
            "自分の依頼は承認できません。別の職員が判断してください。",
            reason="self_approval",
        )
    beneficiary = unit.con.execute(
        "SELECT user_id FROM approval_beneficiaries WHERE approval_id = ?", [approval_id]
    ).fetchone()
    if approve and beneficiary is not None and beneficiary[0] == unit.user_id:
        raise ApprovalError(
            "You cannot approve a request that benefits yourself; another person must decide.",
            "自分が利益を受ける依頼は承認できません。別の職員が判断してください。",
            reason="self_benefit",
        )
    if approval.status != "pending":
        raise ApprovalError(
            f"The request is already {approval.status}.",
            f"この依頼はすでに「{labels.ja(approval.status, 'approval_status')}」です。",
            reason=approval.status,
        )
    if unit.now > approval.expires_at:
        raise ApprovalError("The request has expired.", "この依頼は有効期限が切れています。", reason="expired")
    unit.con.execute(
        "UPDATE approvals SET status = ?, decided_by = ?, decided_at = ? WHERE approval_id = ?",
        ["approved" if approve else "rejected", unit.user_id, unit.now, approval_id],
    )
    if text is not None:
        unit.con.execute("INSERT INTO approval_reasons VALUES (?, ?, ?, ?)", [approval_id, text, unit.user_id, unit.now])
        unit.note(reason_given=True, reason_chars=len(text))
    return _load(unit, approval_id)


@service(Permission.APPROVALS_DECIDE)
def pending(unit: Unit) -> list[Approval]:
    """Requests waiting for a decision, oldest first (expired ones left out)."""
    rows = unit.con.execute(
        f"SELECT {_COLUMNS} FROM approvals WHERE status = 'pending' AND expires_at >= ? ORDER BY requested_at",
        [unit.now],
    ).fetchall()
    return [_row(r) for r in rows]


@service(Permission.SELF)
def get(unit: Unit, approval_id: str) -> Approval:
    """One request, so its requester can see whether it was decided."""
    approval = _load(unit, approval_id)
    unit.note(approval_id=approval_id)
    return approval
