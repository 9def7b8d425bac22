"""Small file-system helpers shared by the keyring, packages, rotation and the workspace."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["PRIVATE_UMASK", "fsync_dir", "fsync_file", "private_umask", "write_private"]

#: Files 0600, folders 0700: nothing the workbench writes is readable by another account.
PRIVATE_UMASK = 0o077


def private_umask() -> None:
    """Make every file this process creates from now on 0600 and every folder 0700.

    Set for the whole process (the umask is per process) when a workspace is opened or
    created and before ``package unpack`` writes anything, so that files created by
    DuckDB (database, WAL), Papermill (executed notebooks) and the standard library are
    private from the moment they exist, not chmod-ed afterwards.  A stricter umask
    already in force is kept.
    """
    current = os.umask(PRIVATE_UMASK)
    os.umask(current | PRIVATE_UMASK)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to a new or existing file that is 0600 from its creation."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb", closefd=False) as f:
            f.write(data)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    """Flush a file's contents to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Flush a directory entry (after a rename) to disk."""
    fsync_file(path)
