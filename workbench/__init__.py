"""Workbench for Individual Numbers in Tokyo's public-housing administration.

都営住宅等の管理に関する事務における特定個人情報（マイナンバー）の管理ワークベンチ。

The public surface is what ``__all__`` lists; everything else is internal.
"""

from __future__ import annotations

# `services` imports every service module, so SERVICES is complete whatever a caller imports.
from . import approvals, audit, credentials, errors, media, persons, runs, services, users
from .clock import Clock, FixedClock, SystemClock
from .errors import WorkbenchError
from .keys import FileKeySource, Keyring, KeySource, MemoryKeySource
from .permissions import Permission, Role
from .workspace import SERVICES, Session, Settings, Unit, Workspace, service

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
    "runs",
    "service",
    "services",
    "users",
]
