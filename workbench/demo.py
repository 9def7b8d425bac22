"""A ready demo workspace: synthetic population, demo accounts, registered numbers.

Everything in it comes from :mod:`workbench.simulate`; no real person's data.
The demo accounts share one password and their one-time codes can be printed with
``workbench demo-code USER`` (only in a workspace created as a demo).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.controls.users import create_initial_user
from workbench.core import audit, credentials
from workbench.core.errors import PermissionDenied
from workbench.core.keys import KeyEncryptionKey
from workbench.core.workspace import Session, Workspace
from workbench.simulate import generate_world

__all__ = ["DEMO_BACKUP_PLACE", "DEMO_KEYRING_PLACE", "DEMO_PASSWORD", "DEMO_USERS", "build_demo", "current_code"]

DEMO_PASSWORD = "Demo-Pass-2026!"
#: The demo's named places for backups and for keyring copies (beside the workspace folder).
DEMO_BACKUP_PLACE = "バックアップ用ディスク"
DEMO_KEYRING_PLACE = "鍵束の保管庫"

#: user ID → roles.  One person, one ID (C5); each role separate.
DEMO_USERS: dict[str, list[str]] = {
    "admin": ["administrator"],
    "approver": ["approver"],
    "registrar": ["registrar"],
    "query": ["query_operator"],
    "reviewer": ["reviewer"],
    "auditor": ["auditor"],
    "analyst": ["analyst"],
    "ops": ["operations"],
}


def build_demo(path: Path, *, persons: int = 10_000, seed: int = 1, registered_share: float = 0.7,
               kek: KeyEncryptionKey | None = None) -> dict[str, Any]:
    """Create a demo workspace at ``path`` through the real flows, and say how to log in.

    The keyring is wrapped by ``kek`` (recorded in the setting ``kek_file``), else by the KEK the
    environment names.  The registrar imports the housing system's target list (F0), then registers the
    numbers of ``registered_share`` of the people from a contractor return with the
    usual mistakes and of a few more from a portal download (F1): the workspace shows
    registrations, a review queue and return lists, every step audited.
    """
    from workbench.intake import registration, targets
    from workbench.simulate.contractor import contractor_return
    from workbench.simulate.housing import target_extract
    from workbench.simulate.portal import portal_download

    # The demo's backup places (issue 20 item 10): a folder for backups and another for keyring copies,
    # beside the workspace, both exchange folders, chosen by name on the operations screen.
    beside = Path(path).resolve().parent
    backups, keyrings = beside / f"{Path(path).name}-backups", beside / f"{Path(path).name}-keyring-copies"
    ws = Workspace.init(path, demo=True, kek=kek, exchange_folders=[str(backups), str(keyrings)],
                        backup_places={DEMO_BACKUP_PLACE: str(backups)},
                        keyring_copy_places={DEMO_KEYRING_PLACE: str(keyrings)})
    for user_id, roles in DEMO_USERS.items():
        create_initial_user(ws, user_id, f"デモ {user_id}", DEMO_PASSWORD, roles)
    world = generate_world(persons, seed=seed)
    rng = np.random.default_rng(seed)
    living = world.persons[~world.persons["deceased"].to_numpy(dtype=bool)]
    returned = living[rng.random(len(living)) < registered_share]
    session = _as(ws, "registrar")
    imported = targets.import_targets(session, target_extract(world, seed=seed), file_name="demo-targets.csv")
    contractor = registration.register(
        session, contractor_return(world, persons=returned, seed=seed, error_rate=0.05),
        source="contractor", file_name="demo-contractor-return.csv",
    )
    portal = registration.register(
        session, portal_download(world, seed=seed + 1, persons=max(1, persons // 50)),
        source="portal", file_name="demo-portal-download.csv",
    )
    queries = _demo_queries(ws, world, seed=seed)
    return {
        "workspace": str(ws.path),
        **queries,
        "persons": imported.new,
        "households": imported.households,
        "registered": contractor.registered + portal.registered,
        "returned": contractor.returned + portal.returned,
        "review": contractor.outcomes.get("review", 0) + portal.outcomes.get("review", 0),
        "users": dict(DEMO_USERS),
        "password": DEMO_PASSWORD,
        "one_time_code": f"workbench -w {ws.path} demo-code USER",
        "kek_file": ws.settings.kek_file or "WORKBENCH_KEK_FILE",
        "dashboards": "http://127.0.0.1:8866/",
    }


def _as(ws: Workspace, user_id: str) -> Session:
    """A demo account acting without logging in (its current one-time code stays unused)."""
    return Session(ws, user_id, tuple(DEMO_USERS[user_id]), ws.clock.now())


def _approved(ws: Workspace, approval_id: str) -> str:
    from workbench.core import approvals

    approvals.decide(_as(ws, "approver"), approval_id, approve=True)
    return approval_id


def _demo_queries(ws: Workspace, world: Any, *, seed: int) -> dict[str, int]:
    """Integrated numbers (F1b), P1 filings for 2026 (⑧⑨) and one Juki-net round (F3, F5)
    whose answers show moves, renames and deaths, so the query operator and the reviewer
    find work waiting.  The information-query batch itself is left for the person trying
    the demo."""
    import tempfile

    from workbench.files import formats
    from workbench.intake import integrated
    from workbench.queries import batches, procedures, results
    from workbench.simulate import integrated_numbers, juki

    registrar, query = _as(ws, "registrar"), _as(ws, "query")
    approval = integrated.request_integrated_request(registrar).approval_id
    request = integrated.create_integrated_request(registrar, approval_id=_approved(ws, approval))
    with tempfile.TemporaryDirectory(dir=ws.folder("tmp")) as tmp:
        answers = integrated_numbers.answer_package(ws, request.path, Path(tmp) / "integrated.wbpkg", seed=seed)
        stored = integrated.import_integrated_answers(registrar, str(answers)).stored
        people = world.persons
        heads = people[people["relation"] == "head"]["person_id"].tolist()
        filings = pd.DataFrame(
            [(f"D-{i:06d}", "P1", "2026", "2026-05-01", h, h, "Y") for i, h in enumerate(heads)],
            columns=list(formats.LAYOUTS["housing_procedures"].names),
        )
        procedures.import_procedures(query, formats.write_table(filings, "housing_procedures"),
                                     file_name="demo-procedures.csv")
        approval = batches.request_juki_batch(query, procedure="P1", fiscal_year=2026).approval_id
        batch = batches.create_juki_batch(query, approval_id=_approved(ws, approval), procedure="P1", fiscal_year=2026)
        later, _ = world.evolve(seed=seed, move_rate=0.03, rename_rate=0.01, death_rate=0.005)
        found = 0
        for path in juki.answer_package(ws, batch.path, later, Path(tmp), seed=seed, not_found=0.01):
            found += sum(results.import_juki_results(query, path).discrepancies.values())
    return {"integrated_numbers": stored, "filings": len(heads), "juki_requests": batch.record_count,
            "discrepancies": found}


def current_code(ws: Workspace, user_id: str) -> str:
    """The one-time code a demo account's authenticator would show now."""
    if not ws.settings.demo:
        raise PermissionDenied(
            "One-time codes are printed only in demo workspaces.",
            "ワンタイムコードの表示はデモ用ワークスペースでのみ可能です。",
        )
    now = ws.clock.now()
    with ws.transaction("demo.code", "system") as con:
        row = con.execute("SELECT totp_secret, totp_key_version FROM users WHERE user_id = ?", [user_id]).fetchone()
        audit.append(con, key=ws.keyring.audit_key(), at=now, user_id="system", operation="demo.code",
                     outcome="ok" if row else "refused", target=user_id)
    if row is None:
        raise PermissionDenied(f"No demo account {user_id}.", f"デモアカウント {user_id} はありません。")
    secret = ws.totp_cipher(row[1]).decrypt(row[0], user_id, table="users", column="totp_secret")
    return credentials.totp_code(secret, now)
