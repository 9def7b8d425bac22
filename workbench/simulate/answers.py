"""What every simulated answering system does alike (Juki-net F5, the linkage server F4, F1b).

A simulator opens the request package with its own key, answers, and sends its answers back
as one or two packages (answers on time, then late answers), some answered twice.  The
imperfections and the package handling live here once; each simulator only says how to
answer one request.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.core.workspace import Workspace
from workbench.files import media, transfer

__all__ = ["answer_packages", "open_request", "split_late_and_duplicate", "write_answer"]


def open_request(ws: Workspace, request_path: str | Path, *, system: str) -> transfer.Package:
    """The request package, opened as ``system`` (its key file is the workspace's key for it)."""
    key, _ = media.recipient_key(ws, system)
    return transfer.read_package(Path(request_path), key=key)


def write_answer(ws: Workspace, path: str | Path, *, system: str, kind: str, members: list[tuple[str, bytes]],
                 record_count: int, workspace_id: str) -> Path:
    """One answer package from ``system`` back to the housing office, with ``system``'s key."""
    key, key_id = media.recipient_key(ws, system)
    transfer.write_package(path, key=key, key_id=key_id, kind=kind, recipient="housing_office", members=members,
                           record_count=record_count, creator=system, workspace_id=workspace_id)
    return Path(path)


def split_late_and_duplicate(answers: pd.DataFrame, rng: np.random.Generator, *, seed: int, late: float,
                             duplicate: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Answers on time (shuffled, a ``duplicate`` share answered twice) and answers delivered late."""
    n = len(answers)
    is_late = rng.random(n) < late
    on_time, later = answers[~is_late], answers[is_late]
    k = min(round(duplicate * n), len(on_time))
    if k:
        on_time = pd.concat([on_time, on_time.sample(n=k, random_state=seed)], ignore_index=True)
    on_time = on_time.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return on_time, later.reset_index(drop=True)


def answer_packages(ws: Workspace, package: transfer.Package, out_dir: str | Path, *, system: str, kind: str,
                    parts: list[pd.DataFrame], encode: Callable[[pd.DataFrame], bytes], suffix: str) -> list[Path]:
    """Write the answers (on time first, then late ones if any) as packages in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = package.manifest.package_id[:12]
    paths = []
    for i, frame in enumerate(parts, start=1):
        if i > 1 and not len(frame):
            continue
        paths.append(write_answer(ws, out / f"{kind}-{stem}-{i}.wbpkg", system=system, kind=kind,
                                  members=[(f"{stem}_answer_{i}.{suffix}", encode(frame))], record_count=len(frame),
                                  workspace_id=package.manifest.workspace_id))
    return paths
