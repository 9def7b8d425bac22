"""Every module that declares services, imported in one place.

``SERVICES`` (and the outgoing-file registry) fill as service modules are imported, so
a partial import would show a partial list: a permission matrix run alone would check
only what happened to be imported.  ``workbench/__init__`` imports this module, so
whatever a caller imports, every service is known.  A new service module is added here
(``tests/test_permissions.py`` fails otherwise: it counts them).
"""

from __future__ import annotations

from workbench import pending
from workbench.controls import access, audit_log, batch_accounts, evidence, idreview, records, users
from workbench.core import approvals, keyring_admin, places
from workbench.cycles import catalogue, engine, pipeline_runs
from workbench.files import incoming, media, outgoing
from workbench.intake import collection, integrated, persons, registration, targets
from workbench.lifecycle import backup, deletion, disclosure, inquiries, retention, unneeded
from workbench.queries import batches, discrepancies, linkage_file, procedures, results
from workbench.statistics import publishing

__all__ = ["MODULES", "WORDS_ONLY"]

#: The modules that declare services, by name.
MODULES = {getattr(m, "SERVICE_PREFIX", m.__name__.rsplit(".", 1)[-1]): m for m in (
    access, approvals, audit_log, backup, batch_accounts, batches, collection, engine, catalogue, deletion,
    disclosure, discrepancies, evidence, idreview, incoming, inquiries, integrated, keyring_admin, linkage_file, media,
    outgoing, pending,
    persons, procedures, records, registration, results, retention, pipeline_runs, publishing, targets, unneeded, users,
)}

#: Modules that declare no service but register words with ``workbench.core.labels`` (service
#: modules register theirs as they are imported above), so the words table is complete too.
WORDS_ONLY = (places,)
