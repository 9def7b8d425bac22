"""Workbench for Individual Numbers in Tokyo's public-housing administration.

都営住宅等の管理に関する事務における特定個人情報（マイナンバー）の管理ワークベンチ。

The public surface is what ``__all__`` lists; everything else is internal.
"""

from __future__ import annotations

from workbench import services
from workbench.controls import users

# `services` imports every service module, so SERVICES is complete whatever a caller imports.
from workbench.core import approvals, audit, credentials, errors
from workbench.core.clock import Clock, FixedClock, SystemClock
from workbench.core.errors import WorkbenchError
from workbench.core.keys import FileKeySource, Keyring, KeySource, MemoryKeySource
from workbench.core.permissions import Permission, Role
from workbench.core.workspace import SERVICES, Session, Settings, Unit, Workspace, service
from workbench.cycles import pipeline_runs
from workbench.files import media
from workbench.intake import persons

__version__ = "0.1.0"

__all__ = [
    "SERVICES",
    "Clock",
    "FileKeySource",
    "FixedClock",
    "KeySource",
    "Keyring",
    "MemoryKeySource",
    "Permission",
    "Role",
    "Session",
    "Settings",
    "SystemClock",
    "Unit",
    "WorkbenchError",
    "Workspace",
    "__version__",
    "approvals",
    "audit",
    "credentials",
    "errors",
    "media",
    "persons",
    "pipeline_runs",
    "service",
    "services",
    "users",
]
