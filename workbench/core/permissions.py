"""Roles and permissions: the one table every service method declares against (C5, DESIGN §6).

A service names the single permission it needs; a session holds the union of its
roles' permissions.  Nothing else in the code base decides who may do what.
"""

from __future__ import annotations

from enum import StrEnum

from workbench.core import labels

__all__ = ["INCOMPATIBLE_ROLES", "ROLE_LABELS", "ROLE_PERMISSIONS", "Permission", "Role", "permissions_for", "role_conflicts"]


class Permission(StrEnum):
    # everyone who can log in
    SELF = "self"                              # own password, logout
    # administration (no personal data)
    USERS_MANAGE = "users.manage"              # add, disable, list users; request role grants
    USERS_REVIEW = "users.review"              # yearly review of IDs and permissions (C6)
    # second person
    APPROVALS_DECIDE = "approvals.decide"      # approve or reject another person's request
    # registration (registrar)
    TARGETS_IMPORT = "targets.import"          # F0
    COLLECTION_EXPORT = "collection.export"    # F0b
    NUMBERS_REGISTER = "numbers.register"      # F1
    INTEGRATED_MANAGE = "integrated.manage"    # F1b
    PERSONS_VIEW = "persons.view"              # one person's page, numbers masked
    NUMBERS_REVEAL = "numbers.reveal"          # show a number unmasked (audited)
    PACKAGES_UNPACK = "packages.unpack"        # read a transfer package from outside
    # queries (query operator)
    PROCEDURES_IMPORT = "procedures.import"    # ⑧⑨
    BATCHES_CREATE = "batches.create"          # F2, F3
    RESULTS_IMPORT = "results.import"          # F4, F5
    LINKAGE_EXPORT = "linkage.export"          # F6
    # review (reviewer)
    DISCREPANCIES_REVIEW = "discrepancies.review"  # C7
    # audit (auditor)
    AUDIT_READ = "audit.read"
    AUDIT_VERIFY = "audit.verify"
    LEDGER_READ = "ledger.read"
    AUDIT_ACKNOWLEDGE = "audit.acknowledge"    # record what happened after the log was found broken
    AUDIT_ANCHOR = "audit.anchor"              # copy signed heads to a second place
    # statistics (analyst)
    STATS_READ = "stats.read"                  # F8, de-identified only
    STATS_PUBLISH = "stats.publish"            # F8: build the de-identified mart from the identified store (staff)
    # operations (no personal data)
    KEYS_MANAGE = "keys.manage"                # rotate keys, issue recipient key files
    MEDIA_MANAGE = "media.manage"              # record a transfer copy delivered and delete it
    BACKUP_RUN = "backup.run"
    # the end of the data's life (issue 12)
    DELETIONS_MANAGE = "deletions.manage"      # F7/C8: deletion lists, preview, request, apply
    REQUESTS_HANDLE = "requests.handle"        # F9 disclosure/correction/suspension, F10 inquiry log
    RETENTION_APPLY = "retention.apply"        # C11: retention rules report and nightly apply
    # the office's own records (issue 23): training, self-inspection, contractor kits, incidents
    RECORDS_MANAGE = "records.manage"


class Role(StrEnum):
    ADMINISTRATOR = "administrator"
    REGISTRAR = "registrar"
    QUERY_OPERATOR = "query_operator"
    REVIEWER = "reviewer"
    APPROVER = "approver"
    AUDITOR = "auditor"
    ANALYST = "analyst"
    OPERATIONS = "operations"


P = Permission
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    # The administrator also keeps the office's records (training, self-inspection, kits, incidents):
    # they hold staff IDs and counts, never a resident's data, and the auditor reads them in the
    # monthly evidence report (issue 23).
    Role.ADMINISTRATOR: frozenset({P.SELF, P.USERS_MANAGE, P.USERS_REVIEW, P.RECORDS_MANAGE}),
    Role.REGISTRAR: frozenset({
        P.SELF, P.TARGETS_IMPORT, P.COLLECTION_EXPORT, P.NUMBERS_REGISTER, P.INTEGRATED_MANAGE,
        P.PERSONS_VIEW, P.NUMBERS_REVEAL, P.PACKAGES_UNPACK, P.MEDIA_MANAGE,
        P.DELETIONS_MANAGE,
        P.STATS_PUBLISH,
    }),
    Role.QUERY_OPERATOR: frozenset({
        P.SELF, P.PROCEDURES_IMPORT, P.BATCHES_CREATE, P.RESULTS_IMPORT, P.LINKAGE_EXPORT,
        P.PERSONS_VIEW, P.PACKAGES_UNPACK, P.MEDIA_MANAGE,
        P.RETENTION_APPLY,
    }),
    Role.REVIEWER: frozenset({P.SELF, P.DISCREPANCIES_REVIEW, P.PERSONS_VIEW, P.NUMBERS_REVEAL,
                              P.REQUESTS_HANDLE}),
    Role.APPROVER: frozenset({P.SELF, P.APPROVALS_DECIDE}),
    Role.AUDITOR: frozenset({P.SELF, P.AUDIT_READ, P.AUDIT_VERIFY, P.LEDGER_READ, P.AUDIT_ACKNOWLEDGE, P.AUDIT_ANCHOR}),
    Role.ANALYST: frozenset({P.SELF, P.STATS_READ}),
    Role.OPERATIONS: frozenset({P.SELF, P.KEYS_MANAGE, P.BACKUP_RUN, P.AUDIT_ANCHOR, P.RETENTION_APPLY}),
}

ROLE_LABELS: dict[Role, tuple[str, str]] = {
    Role.ADMINISTRATOR: ("システム管理者", "administrator"),
    Role.REGISTRAR: ("番号登録担当", "registrar"),
    Role.QUERY_OPERATOR: ("情報照会担当", "query operator"),
    Role.REVIEWER: ("審査担当", "reviewer"),
    Role.APPROVER: ("承認者", "approver"),
    Role.AUDITOR: ("監査担当", "auditor"),
    Role.ANALYST: ("統計分析担当", "analyst"),
    Role.OPERATIONS: ("運用担当", "operations"),
}
labels.register("role", {role.value: words for role, words in ROLE_LABELS.items()})


def permissions_for(roles: list[str] | tuple[str, ...]) -> frozenset[Permission]:
    out: set[Permission] = set()
    for name in roles:
        out |= ROLE_PERMISSIONS[Role(name)]
    return frozenset(out)


# -- separation of duties (職務の分離, DESIGN §6) ------------------------------------

#: Role pairs one person may not hold together, with the reason staff see when a grant
#: is refused.  Checked when a grant is requested, approved and carried out, and when the
#: first users are created (docs/decisions.md, "Separation of duties").
INCOMPATIBLE_ROLES: tuple[tuple[Role, Role, str, str], ...] = (
    (Role.ADMINISTRATOR, Role.APPROVER,
     "the administrator requests role grants, so must not approve them", "役割の付与を依頼する管理者は、その承認者を兼ねられません"),
    (Role.ADMINISTRATOR, Role.AUDITOR,
     "the auditor checks what the administrator did", "監査担当は管理者の操作を点検する立場です"),
    (Role.ADMINISTRATOR, Role.REGISTRAR,
     "the administrator holds no personal data", "管理者は特定個人情報を扱いません"),
    (Role.ADMINISTRATOR, Role.QUERY_OPERATOR,
     "the administrator holds no personal data", "管理者は特定個人情報を扱いません"),
    (Role.ADMINISTRATOR, Role.REVIEWER,
     "the administrator holds no personal data", "管理者は特定個人情報を扱いません"),
    (Role.APPROVER, Role.REGISTRAR,
     "the registrar requests outgoing files that the approver checks", "番号登録担当が依頼する送付ファイルを承認者が確認します"),
    (Role.APPROVER, Role.QUERY_OPERATOR,
     "the query operator requests outgoing files that the approver checks", "情報照会担当が依頼する送付ファイルを承認者が確認します"),
    (Role.APPROVER, Role.REVIEWER,
     "the reviewer requests the notice list that the approver checks", "審査担当が依頼する通知対象者リストを承認者が確認します"),
    (Role.APPROVER, Role.OPERATIONS,
     "operations requests recipient key files that the approver checks", "運用担当が依頼する鍵ファイルの発行を承認者が確認します"),
    (Role.APPROVER, Role.AUDITOR,
     "the auditor checks what approvers approved", "監査担当は承認の内容を点検する立場です"),
    (Role.AUDITOR, Role.REGISTRAR,
     "the auditor must not audit their own work", "監査担当は自分の業務を監査できません"),
    (Role.AUDITOR, Role.QUERY_OPERATOR,
     "the auditor must not audit their own work", "監査担当は自分の業務を監査できません"),
    (Role.AUDITOR, Role.REVIEWER,
     "the auditor must not audit their own work", "監査担当は自分の業務を監査できません"),
    (Role.AUDITOR, Role.OPERATIONS,
     "operations holds the keys and files the auditor checks", "運用担当は監査担当が点検する鍵とファイルを管理します"),
    (Role.OPERATIONS, Role.REGISTRAR,
     "operations holds the keys, so must not hold personal data", "鍵を管理する運用担当は特定個人情報を扱いません"),
    (Role.OPERATIONS, Role.QUERY_OPERATOR,
     "operations holds the keys, so must not hold personal data", "鍵を管理する運用担当は特定個人情報を扱いません"),
    (Role.OPERATIONS, Role.REVIEWER,
     "operations holds the keys, so must not hold personal data", "鍵を管理する運用担当は特定個人情報を扱いません"),
)


def role_conflicts(roles: list[str] | tuple[str, ...]) -> list[tuple[str, str, str, str]]:
    """Every incompatible pair among ``roles``: (role, role, reason in English, in Japanese)."""
    held = set(roles)
    return [(a.value, b.value, en, ja) for a, b, en, ja in INCOMPATIBLE_ROLES if a.value in held and b.value in held]
