"""C11 retention rules as data: dry-run report, apply, limits, and the nightly pipeline (issue 12 item 3)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import PASSWORD, MakeWorld, StaffedWorkspace, scalar
from tests.direct_load import load_world
from tests.lifecycle_helpers import delete_people, office_with_results
from tests.query_helpers import population
from tests.results_helpers import count
from workbench import Session, Workspace
from workbench.controls import users
from workbench.core import approvals, credentials
from workbench.core.errors import InvalidInput, PermissionDenied
from workbench.cycles import pipeline_runs
from workbench.lifecycle import deletion, retention


def test_report_then_apply_then_pipeline(make_world: MakeWorld, tmp_path: Path) -> None:
    world = make_world()
    world.add_user("yakan", ["operations"])  # the nightly run's user: retention and keys, no personal data

    def delete_one() -> None:  # before any package is written, so no transfer copy is destroyed by it
        with world.ws.transaction("test.read", "system") as con:
            first = scalar(con, "SELECT person_id FROM persons ORDER BY person_id LIMIT 1")
        delete_people(world, [first], "withdrew")  # scheduled purge, waiting

    office_with_results(world, tmp_path, before_batch=delete_one)
    with world.ws.transaction("test.setup", "system") as con:
        con.execute("UPDATE query_batches SET status = 'closed', closed_at = ?",
                    [world.clock.now()])
    outgoing = [p for p in world.ws.folder("outgoing").iterdir()]
    assert outgoing
    results_before = count(world, "SELECT count(*) FROM juki_results")
    world.clock.advance(91 * 24 * 3600)

    report = retention.apply(world.login("query_operator"), dry_run=True)
    items = {i["kind"]: i for i in report["items"]}
    assert set(items) == {"query_results", "transfer_copies", "return_lists", "deleted_traces", "audit_records",
                          "executed_notebooks", "closed_inquiries", "backups", "unlisted_numbers"}
    assert items["query_results"]["due_now"] == 1 and items["transfer_copies"]["due_now"] == len(outgoing)
    assert items["audit_records"]["keep_days"] == 2555 and items["audit_records"]["due_now"] == 0
    assert all(i["deleted"] == 0 for i in items.values())
    assert count(world, "SELECT count(*) FROM juki_results") == results_before and all(p.exists() for p in outgoing)

    applied = retention.apply(world.login("query_operator"), dry_run=False)
    assert applied["purge_needed"]
    assert count(world, "SELECT count(*) FROM juki_results") == 0
    assert not any(p.exists() for p in outgoing)
    assert count(world, "SELECT count(*) FROM media_destructions WHERE reason = 'retention'") == len(outgoing)
    again = {i["kind"]: i for i in retention.apply(world.login("query_operator"), dry_run=True)["items"]}
    assert again["query_results"]["due_now"] == 0 and again["transfer_copies"]["due_now"] == 0


def test_nightly_pipeline_applies_and_purges(tmp_path: Path) -> None:
    """Real clock (a run ticket is checked against it): a scheduled deletion waits; the run purges it."""
    ws = Workspace.init(tmp_path / "ws", scrypt_n=2**10)
    secrets = {}
    for user, roles in (("reg1", ["registrar"]), ("reg2", ["registrar"]), ("shonin", ["approver"]),
                        ("yakan", ["operations"])):
        uri = users.create_initial_user(ws, user, user, PASSWORD, roles).otpauth_uri
        secrets[user] = uri.split("secret=")[1].split("&")[0]

    def login(user: str) -> Session:
        return ws.login(user, PASSWORD, credentials.totp_code(secrets[user], dt.datetime.now(dt.UTC)))

    pop = population()
    load_world(ws, pop.persons.head(20), pop.households, registered=np.ones(20, dtype=bool))
    pid = str(pop.persons["person_id"].iloc[0])
    reg1 = login("reg1")
    preview = deletion.select_for_deletion(reg1, person_ids=[pid], reason="moved_out")
    req = deletion.request_deletion(reg1, preview.list_id)  # the requester carries it out
    assert req.approval is not None
    approvals.decide(login("shonin"), req.approval.approval_id, approve=True)
    deletion.apply_deletion(reg1, preview.list_id, approval_id=req.approval.approval_id,
                            expected_count=preview.persons)
    assert deletion.pending_purge(ws) == 1
    info = pipeline_runs.run(login("yakan"), "retention", {"dry_run": "0"})
    assert info.status == "succeeded"
    text = (ws.path / str(info.notebook)).read_text("utf-8")
    assert "'purged': True" in text and "'deletions_erased': 1" in text
    assert deletion.pending_purge(ws) == 0
    leaked = [v for v in [*pop.persons["person_id"].head(20), *pop.persons["name"].head(20)] if v in text]
    assert not leaked


def test_rules_are_data_with_limits(world: StaffedWorkspace) -> None:
    op = world.login("query_operator")
    assert retention.set_rule(op, "transfer_copies", 7)["old_days"] == 30
    assert {r["kind"]: r["keep_days"] for r in retention.rules(op)}["transfer_copies"] == 7
    with pytest.raises(InvalidInput):
        retention.set_rule(op, "audit_records", 365)  # the audit log is kept 7 years
    with pytest.raises(InvalidInput):
        retention.set_rule(op, "everything", 1)
    with pytest.raises(InvalidInput):
        retention.set_rule(op, "transfer_copies", 0)
    assert {r["kind"]: r["keep_days"] for r in retention.rules(op)}["audit_records"] == 2555
    for role in ("registrar", "reviewer", "auditor", "analyst"):
        with pytest.raises(PermissionDenied):
            retention.apply(world.login(role), dry_run=True)
