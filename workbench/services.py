"""Every module that declares services, imported in one place.

``SERVICES`` (and the outgoing-file registry) fill as service modules are imported, so
a partial import would show a partial list: a permission matrix run alone would check
only what happened to be imported.  ``workbench/__init__`` imports this module, so
whatever a caller imports, every service is known.  A new service module is added here
(``tests/test_permissions.py`` fails otherwise: it counts them).
"""

from __future__ import annotations

from . import (
    access,
    approvals,
    auditing,
    backup,
    batch_accounts,
    batches,
    collection,
    cycle_runs,
    cycles,
    deletion,
    disclosure,
    discrepancies,
    idreview,
    inquiries,
    integrated,
    linkage,
    media,
    outgoing,
    pending,
    persons,
    procedures,
    registration,
    results,
    retention,
    runs,
    stats,
    targets,
    users,
)

__all__ = ["MODULES"]

#: The modules that declare services, by name.
MODULES = {m.__name__.rsplit(".", 1)[-1]: m for m in (
    access, approvals, auditing, backup, batch_accounts, batches, collection, cycle_runs, cycles, deletion,
    disclosure, discrepancies, idreview, inquiries, integrated, linkage, media, outgoing, pending, persons,
    procedures, registration, results, retention, runs, stats, targets, users,
)}
