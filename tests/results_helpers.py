"""Shared set-up for the F4/F5/C7/F6 tests: a busy office, sent batches, answer packages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from tests.conftest import StaffedWorkspace, scalar
from tests.query_helpers import Office, approve, load_office, procedures_csv, requests_of
from workbench.files import formats, media, transfer
from workbench.files.query_files import ANSWER_LAYOUT, REQUEST_LAYOUT, read_fixed, write_fixed
from workbench.queries import batches, procedures


def busy_office(world: StaffedWorkspace) -> Office:
    """Every household head files P1 for 2026 with consent (household members: U1 contact only)."""
    office = load_office(world)
    heads = office.pop.persons[office.pop.persons["relation"] == "head"]["person_id"].tolist()
    rows = [(f"R-{i}", "P1", "2026", "2026-05-01", h, h, "Y") for i, h in enumerate(heads)]
    procedures.import_procedures(world.login("query_operator"), procedures_csv(rows), file_name="all.csv")
    return office


def send_batch(world: StaffedWorkspace, kind: str, information: Any = None) -> tuple[Any, pd.DataFrame]:
    """Request, approve and create a P1/2026 batch; the result and its requests."""
    s = world.login("query_operator")
    if kind == "info":
        approval = batches.request_info_batch(s, procedure="P1", fiscal_year=2026, information=information)
        approve(world, approval)
        result = batches.create_info_batch(world.login("query_operator"), approval_id=approval.approval_id,
                                           procedure="P1", fiscal_year=2026, information=information)
    else:
        approval = batches.request_juki_batch(s, procedure="P1", fiscal_year=2026)
        approve(world, approval)
        result = batches.create_juki_batch(world.login("query_operator"), approval_id=approval.approval_id,
                                           procedure="P1", fiscal_year=2026)
    return result, requests_of(world, result.extra["batch_id"])


def sent_requests(world: StaffedWorkspace, result: Any) -> pd.DataFrame:
    """The request records as the linkage server received them."""
    key, _ = media.recipient_key(world.ws, "linkage_server")
    package = transfer.read_package(result.path, key=key)
    return pd.concat([read_fixed(b, REQUEST_LAYOUT)[0] for b in package.members.values()], ignore_index=True)


def write_answer(world: StaffedWorkspace, path: Path, members: list[tuple[str, bytes]], *, kind: str = "info",
                 workspace_id: str | None = None, rows: int = 1) -> Path:
    """An answer package as the linkage server / Juki-net would send it."""
    sender = "linkage_server" if kind == "info" else "juki_net"
    key, key_id = media.recipient_key(world.ws, sender)
    transfer.write_package(path, key=key, key_id=key_id, kind=f"{kind}_answer", recipient="housing_office",
                           members=members, record_count=rows, creator=sender,
                           workspace_id=workspace_id or world.ws.settings.workspace_id)
    return path


def info_answer_bytes(frame: pd.DataFrame) -> bytes:
    return write_fixed(frame, ANSWER_LAYOUT)


def juki_answer_bytes(frame: pd.DataFrame) -> bytes:
    return formats.write_table(frame, "juki_answer", encoding="utf-8")


def count(world: StaffedWorkspace, sql: str, params: list[Any] | None = None) -> int:
    with world.ws.transaction("test.read", "system") as con:
        return int(scalar(con, sql, params or []))


def frame(world: StaffedWorkspace, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
    with world.ws.transaction("test.read", "system") as con:
        return con.execute(sql, params or []).df()
