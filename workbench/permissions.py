"""Roles and permissions: the one table every service method declares against (C5, DESIGN §6).

A service names the single permission it needs; a session holds the union of its
roles' permissions.  Nothing else in the code base decides who may do what.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ROLE_LABELS", "ROLE_PERMISSIONS", "Permission", "Role", "permissions_for"]


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
    # statistics (analyst)
    STATS_READ = "stats.read"                  # F8, de-identified only
    STATS_PUBLISH = "stats.publish"            # F8: build the de-identified mart from the identified store (staff)
    # operations (no personal data)
    KEYS_MANAGE = "keys.manage"                # rotate keys, issue recipient key files
    MEDIA_MANAGE = "media.manage"              # record a transfer copy delivered and delete it
    BACKUP_RUN = "backup.run"


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
    Role.ADMINISTRATOR: frozenset({P.SELF, P.USERS_MANAGE, P.USERS_REVIEW}),
    Role.REGISTRAR: frozenset({
        P.SELF, P.TARGETS_IMPORT, P.COLLECTION_EXPORT, P.NUMBERS_REGISTER, P.INTEGRATED_MANAGE,
        P.PERSONS_VIEW, P.NUMBERS_REVEAL, P.PACKAGES_UNPACK, P.MEDIA_MANAGE,
        P.STATS_PUBLISH,
    }),
    Role.QUERY_OPERATOR: frozenset({
        P.SELF, P.PROCEDURES_IMPORT, P.BATCHES_CREATE, P.RESULTS_IMPORT, P.LINKAGE_EXPORT,
        P.PERSONS_VIEW, P.PACKAGES_UNPACK, P.MEDIA_MANAGE,
    }),
    Role.REVIEWER: frozenset({P.SELF, P.DISCREPANCIES_REVIEW, P.PERSONS_VIEW, P.NUMBERS_REVEAL}),
    Role.APPROVER: frozenset({P.SELF, P.APPROVALS_DECIDE}),
    Role.AUDITOR: frozenset({P.SELF, P.AUDIT_READ, P.AUDIT_VERIFY, P.LEDGER_READ}),
    Role.ANALYST: frozenset({P.SELF, P.STATS_READ}),
    Role.OPERATIONS: frozenset({P.SELF, P.KEYS_MANAGE, P.BACKUP_RUN}),
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


def permissions_for(roles: list[str] | tuple[str, ...]) -> frozenset[Permission]:
    out: set[Permission] = set()
    for name in roles:
        out |= ROLE_PERMISSIONS[Role(name)]
    return frozenset(out)
