"""Simulated answers to the integrated-number request (団体内統合利用番号の回答, F1b).

DESIGN §8.  The linkage server's integrated-addressee side (団体内統合宛名システム; recipient code
``linkage_server``) answers the request :mod:`workbench.intake.integrated` writes, an ``integrated_request``
file with an ``integrated_answer`` file (layouts in :data:`workbench.files.formats.LAYOUTS`).
Each answer carries the request ID it answers (C10).  The integrated number is a
stable function of the Individual Number (the server gives one person one number): 15
digits from SHA-256 — invented, like everything the simulators produce.

Configurable imperfections, as shares of the requests (deterministic for ``seed``):

* ``unanswered`` — requests the server leaves without an answer;
* ``not_found`` — answered with result code 10 (該当なし), no number;
* ``duplicate`` — answered twice (identical rows);
* ``unknown`` — extra answers for request IDs that were never sent.

:func:`answer_package` plays the server end to end: it opens the request package with
the ``linkage_server`` key (the key file the office issued to the server,
:func:`workbench.files.media.recipient_key`) and writes the answer package with the same key,
as :func:`workbench.intake.integrated.import_integrated_answers` expects.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.core.workspace import Workspace
from workbench.files.formats import read_table, write_table
from workbench.simulate.answers import open_request, write_answer

__all__ = ["answer_file", "answer_package", "integrated_number_for"]


def integrated_number_for(individual_number: str) -> str:
    """The (simulated) 15-digit integrated number the server holds for a person."""
    digest = hashlib.sha256(b"linkage-sim:" + individual_number.encode("ascii")).digest()
    return str(int.from_bytes(digest[:8], "big") % 10**15).zfill(15)


def answer_file(
    request_csv: bytes,
    *,
    seed: int = 0,
    unanswered: float = 0.0,
    not_found: float = 0.0,
    duplicate: float = 0.0,
    unknown: float = 0.0,
    answered_at: str = "2026-06-02T09:00:00+09:00",
) -> bytes:
    """The answers CSV (``integrated_answer`` layout, UTF-8) for a request CSV."""
    req = read_table(request_csv, "integrated_request").frame
    rng = np.random.default_rng(seed)
    n = len(req)
    draw = rng.random(n)
    keep = draw >= unanswered
    nf = (draw >= unanswered) & (draw < unanswered + not_found)
    numbers = np.array([integrated_number_for(x) for x in req["individual_number"].tolist()], dtype=object)
    out = pd.DataFrame({
        "request_id": req["request_id"].to_numpy(dtype=object),
        "person_id": req["person_id"].to_numpy(dtype=object),
        "result_code": np.where(nf, "10", "00").astype(object),
        "integrated_number": np.where(nf, "", numbers).astype(object),
        "answered_at": answered_at,
    })[keep]
    n_dup = round(duplicate * n)
    if n_dup and len(out):
        out = pd.concat([out, out.sample(n=min(n_dup, len(out)), random_state=seed)], ignore_index=True)
    n_unknown = round(unknown * n)
    if n_unknown:
        fake = pd.DataFrame({
            "request_id": [f"IB00000000UNKNWN-{i:07d}" for i in range(1, n_unknown + 1)],
            "person_id": [f"P9{i:07d}" for i in range(n_unknown)],
            "result_code": "00",
            "integrated_number": [str(x).zfill(15) for x in rng.integers(0, 10**15, n_unknown)],
            "answered_at": answered_at,
        })
        out = pd.concat([out, fake], ignore_index=True)
    out = out.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return write_table(out, "integrated_answer")


def answer_package(
    ws: Workspace,
    request_path: str | Path,
    out_path: str | Path,
    *,
    seed: int = 0,
    unanswered: float = 0.0,
    not_found: float = 0.0,
    duplicate: float = 0.0,
    unknown: float = 0.0,
) -> Path:
    """Open the request package as the server, answer it, and write the answer package."""
    package = open_request(ws, request_path, system="linkage_server")
    request_csv = next(iter(package.members.values()))
    body = answer_file(request_csv, seed=seed, unanswered=unanswered, not_found=not_found, duplicate=duplicate, unknown=unknown)
    return write_answer(ws, out_path, system="linkage_server", kind="integrated_answer",
                        members=[("integrated_answer.csv", body)], record_count=body.count(b"\r\n") - 1,
                        workspace_id=package.manifest.workspace_id)
