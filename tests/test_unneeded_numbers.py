"""Numbers no longer needed are found (issue 22 item 4).

People dropped from the target list kept their numbers and nothing said so.  The daily check (a
stage of the nightly cycle) proposes everyone off the list who holds a number, with a reason, as a
deletion list the registrar reviews; the proposal is counted on the registrar's home screen and
carried out through the usual preview, second person's approval and apply."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import StaffedWorkspace
from tests.cycle_helpers import make_batch_account
from tests.direct_load import load_world
from tests.query_helpers import approve
from widgets.lifecycle import DeletionApp
from workbench import pending
from workbench.controls import batch_accounts
from workbench.core.errors import PermissionDenied
from workbench.cycles import engine
from workbench.files.formats import write_table
from workbench.intake import targets
from workbench.lifecycle import deletion, retention, unneeded
from workbench.simulate.housing import target_frame
from workbench.simulate.world import generate_world


def _proposals(world: StaffedWorkspace) -> int:
    items = {i.key: i for i in pending.pending_work(world.login("registrar"))}
    return items["deletion_proposals"].count


def _numbers(world: StaffedWorkspace) -> int:
    with world.ws.transaction("test.read", "system") as con:
        return int(con.execute("SELECT count(*) FROM person_numbers").fetchone()[0])  # type: ignore[index]


def test_people_off_the_target_list_are_proposed_for_deletion(world: StaffedWorkspace, tmp_path: Path) -> None:
    pop = generate_world(120, seed=7)
    registered = np.zeros(len(pop.persons), dtype=bool)
    registered[:40] = True
    load_world(world.ws, pop.persons, pop.households, registered=registered)
    frame = target_frame(pop, seed=2)
    # the housing system's new list leaves out 8 people who hold a number and 5 who do not
    ids = pop.persons["person_id"].astype(str).tolist()
    dropped = set(ids[:8]) | set(ids[40:45])
    kept = frame[~frame["person_id"].astype(str).isin(dropped)]
    assert len(kept) == len(frame) - 13
    targets.import_targets(world.login("registrar"), write_table(kept, "housing_targets"), file_name="t.csv")
    assert _proposals(world) == 0
    # only the roles that apply retention rules run the check; the registrar decides
    with pytest.raises(PermissionDenied):
        unneeded.check_unneeded(world.login("registrar"))
    # the nightly cycle's daily check, under its batch account
    key = make_batch_account(world, world.login("administrator"), world.login("approver"), "night", "nightly",
                             tmp_path / "night.key")
    night = batch_accounts.login(world.ws, key)
    state = engine.run_inline(night, "nightly", {})
    stage = next(s for s in state.stages if s.stage == "unneeded_numbers")
    assert stage.status == "done" and stage.detail["persons"] == 8
    assert stage.detail["by_reason"] == {"unlisted": 8, "retention_expired": 0}
    assert _proposals(world) == 8
    first = stage.detail["proposal"]
    # the same people tomorrow: the same proposal, not a second one
    world.clock.advance(86400)
    again = unneeded.check_unneeded(batch_accounts.login(world.ws, key))
    assert again["list_id"] == first and not again["changed"] and _proposals(world) == 8
    # past the retention rule's period (30 days, data): the reason says so, the proposal is replaced
    rules = {r["kind"]: r["keep_days"] for r in retention.rules(world.login("operations"))}
    assert rules["unlisted_numbers"] == 30
    world.clock.advance(dt.timedelta(days=31).total_seconds())
    report = retention.apply(world.login("operations"), dry_run=True)
    assert next(i for i in report["items"] if i["kind"] == "unlisted_numbers")["due_now"] == 8
    later = unneeded.check_unneeded(batch_accounts.login(world.ws, key))
    assert later["changed"] and later["by_reason"] == {"unlisted": 0, "retention_expired": 8}
    assert later["superseded"] == [first] and _proposals(world) == 8
    lists = {x["list_id"]: x for x in deletion.open_lists(world.login("registrar"))}
    assert first not in lists and lists[later["list_id"]]["source"] == "proposal"
    # on the screen: 個人番号の一括削除 opens the proposal
    app = DeletionApp(world.login("registrar"))
    app.proposal_button.click()
    assert app.model.preview is not None and app.model.preview.list_id == later["list_id"]
    assert "保存期間の経過" in app.preview_html.value
    # the registrar reviews it like any deletion list: preview (with the reason in words), approval, apply
    preview = deletion.preview_deletion(world.login("registrar"), later["list_id"])
    assert preview.persons == 8 and preview.by_reason == {"retention_expired": 8}
    assert "保存期間の経過" in preview.message_ja
    requested = deletion.request_deletion(world.login("registrar"), later["list_id"])
    assert requested.approval is not None
    approve(world, requested.approval)
    before = _numbers(world)
    deletion.apply_and_purge(world.login("registrar"), later["list_id"], approval_id=requested.approval.approval_id,
                             discard_files=[f["entry_id"] for f in requested.pending_files],
                             expected_digest=requested.selection_digest)
    assert _numbers(world) == before - 8
    # nothing left to propose
    done = unneeded.check_unneeded(batch_accounts.login(world.ws, key))
    assert done["persons"] == 0 and done["list_id"] is None and _proposals(world) == 0
