"""Every error the workbench raises on purpose.

Each carries a stable ``code`` for scripts, and a message in Japanese and English
that a member of staff can act on.  Messages never contain personal data: they name
line numbers, counts, user IDs and operations, never a number, name or address.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AccessRefused",
    "AccountDisabled",
    "AccountLocked",
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
]


class WorkbenchError(Exception):
    """Base class: a refusal with a reason in Japanese and English."""

    code = "error"
    exit_code = 1

    def __init__(self, message_en: str, message_ja: str | None = None, **details: Any) -> None:
        self.message_en = message_en
        self.message_ja = message_ja or message_en
        self.details = details
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


class NotFound(WorkbenchError):
    code = "not_found"
    exit_code = 2


class AuthenticationFailed(WorkbenchError):
    """Wrong user ID, password or one-time code.  Deliberately does not say which."""

    code = "authentication_failed"
    exit_code = 3


class AccountLocked(WorkbenchError):
    code = "account_locked"
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
