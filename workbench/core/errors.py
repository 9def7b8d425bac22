"""Every error the workbench raises on purpose.

Each carries a stable ``code`` for scripts, and a message in Japanese and English
that a member of staff can act on.  Messages never contain personal data: they name
line numbers, counts, user IDs and operations, never a number, name or address.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "AccessRefused",
    "AccountDisabled",
    "ApprovalError",
    "AuditFailure",
    "AuditIntegrityError",
    "AuthenticationFailed",
    "InvalidInput",
    "KeyringError",
    "LockTimeout",
    "NotFound",
    "PackageError",
    "PermissionDenied",
    "SessionExpired",
    "StoreError",
    "WorkbenchError",
    "WrongKey",
    "rows_refused",
]


class WorkbenchError(Exception):
    """Base class: a refusal with a reason in Japanese and English."""

    code = "error"
    exit_code = 1

    def __init__(self, message_en: str, message_ja: str | None = None, *, reason: str | None = None,
                 line: int | None = None, **details: Any) -> None:
        self.message_en = message_en
        self.message_ja = message_ja or message_en
        #: Why, as a stable code (``bad_fiscal_year``, ``population_changed`` …), when there is one.
        self.reason = reason
        #: The first line of a file at fault, when a file is refused.
        self.line = line
        #: Further counts and codes (never personal data); ``reason`` and ``line`` are in it too.
        self.details = {**({"reason": reason} if reason is not None else {}),
                        **({"line": line} if line is not None else {}), **details}
        super().__init__(f"{self.message_ja} / {self.message_en}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": self.code,
            "message_ja": self.message_ja,
            "message_en": self.message_en,
            **{k: v for k, v in self.details.items() if _is_plain(v)},
        }


def _is_plain(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool, type(None), list, dict))


class InvalidInput(WorkbenchError):
    """The input (file, parameter) cannot be accepted as it is (入力エラー)."""

    code = "invalid_input"
    exit_code = 2


def rows_refused(what_en: str, what_ja: str, problems: Iterable[tuple[int, str]],
                 labels: Mapping[str, tuple[str, str]], *, limit: int = 100) -> InvalidInput:
    """The one refusal for a whole file rejected row by row (all-or-nothing imports).

    ``problems`` are (line, reason code) pairs in file order; ``labels`` gives each reason
    in Japanese and English.  The message names the count of bad lines, the counts by
    reason and the first problem; ``details["errors"]`` lists up to ``limit`` of them —
    line numbers and reasons only, never a value from the file."""
    found = sorted((int(line), str(reason)) for line, reason in problems)
    if not found:
        raise ValueError("rows_refused needs at least one problem")
    counts: dict[str, int] = {}
    for _line, reason in found:
        counts[reason] = counts.get(reason, 0) + 1
    counts = dict(sorted(counts.items()))
    errors: list[dict[str, Any]] = [{"line": line, "reason": r, "message_ja": labels[r][0], "message_en": labels[r][1]}
                                     for line, r in found[:limit]]
    first = errors[0]
    bad_lines = len({line for line, _r in found})
    by_reason = ", ".join(f"{k}: {v}" for k, v in counts.items())
    by_reason_ja = "、".join(f"{labels[k][0]} {v:,} 行" for k, v in counts.items())
    return InvalidInput(
        f"The {what_en} was not imported: {bad_lines} line(s) have problems ({by_reason}). "
        f"First: line {first['line']}, {first['message_en']}. Nothing was changed; fix the file and import it again.",
        f"{what_ja}を取り込みませんでした: {bad_lines:,} 行に誤りがあります（{by_reason_ja}）。"
        f"最初の誤り: {first['line']} 行目 {first['message_ja']}。何も変更していません。ファイルを修正して再度取り込んでください。",
        reason="invalid_rows", line=int(first["line"]), invalid_lines=bad_lines, problems=len(found), counts=counts,
        errors=errors,
    )


class NotFound(WorkbenchError):
    code = "not_found"
    exit_code = 2


class AuthenticationFailed(WorkbenchError):
    """Wrong user ID, password or one-time code.  Deliberately does not say which."""

    code = "authentication_failed"
    exit_code = 3


class AccountDisabled(WorkbenchError):
    code = "account_disabled"
    exit_code = 3


class AccessRefused(WorkbenchError):
    """Outside the set hours, or from a terminal that is not registered (C13)."""

    code = "access_refused"
    exit_code = 3


class SessionExpired(WorkbenchError):
    code = "session_expired"
    exit_code = 3


class PermissionDenied(WorkbenchError):
    code = "permission_denied"
    exit_code = 4


class ApprovalError(WorkbenchError):
    """A second person's approval (承認) is missing, expired, used, or for other parameters."""

    code = "approval_required"
    exit_code = 4

    def __init__(self, message_en: str, message_ja: str | None = None, *, reason: str | None = None,
                 approved_count: int | None = None, count: int | None = None, **details: Any) -> None:
        #: For ``population_changed``: how many were selected when approved, and now.
        self.approved_count = approved_count
        self.count = count
        extra = {k: v for k, v in (("approved_count", approved_count), ("count", count)) if v is not None}
        super().__init__(message_en, message_ja, reason=reason, **extra, **details)


class LockTimeout(WorkbenchError):
    """Another operation held the workspace longer than the configured wait."""

    code = "busy"
    exit_code = 5


class StoreError(WorkbenchError):
    code = "store_error"
    exit_code = 6


class KeyringError(WorkbenchError):
    code = "keyring_error"
    exit_code = 6


class WrongKey(KeyringError):
    code = "wrong_key"


class AuditFailure(WorkbenchError):
    """The audit record could not be written, so the operation did not happen."""

    code = "audit_failure"
    exit_code = 6


class AuditIntegrityError(WorkbenchError):
    code = "audit_integrity"
    exit_code = 7


class PackageError(WorkbenchError):
    """A transfer package (媒体) is damaged, truncated, reordered or for another key."""

    code = "package_error"
    exit_code = 8
