"""Decisions with consequences, and services that do not trust the screen (issue 20 items 6 and 7).

* 却下 needs a reason; it is kept, shown to the person who asked (the approval-state lookup of
  OutgoingFileFlow, a refusal to carry it out) and audited (that a reason was given, not its words);
* the bulk deletion takes what the person saw in the preview and refuses a list that moved; a
  disabled 「削除を実行」 clicked over the websocket eight times deletes nothing;
* retention apply refuses when the records due are not those of the report the person saw.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.conftest import StaffedWorkspace
from tests.direct_load import load_world
from widgets.approvals import ApprovalsApp
from widgets.common import ErrorBanner
from widgets.lifecycle import DeletionApp
from widgets.outgoing import OutgoingFileFlow
from workbench.controls import audit_log
from workbench.core import approvals
from workbench.core.errors import ApprovalError, InvalidInput
from workbench.intake import collection
from workbench.lifecycle import deletion, retention
from workbench.simulate import generate_world

REASON = "対象の区が違います。江東区だけで依頼し直してください。"


@pytest.fixture
def people(world: StaffedWorkspace) -> pd.DataFrame:
    pop = generate_world(30, seed=7)
    load_world(world.ws, pop.persons, pop.households, registered=np.arange(len(pop.persons)) % 3 == 0)
    return pop.persons


def _websocket_click(button: object) -> None:
    """A click that ignores ``disabled``: the message the browser sends on the button's comm (which
    ActionButton drops while disabled), then the button's handlers called directly, as a page
    that bypassed the button would reach them."""
    button._handle_button_msg(None, {"event": "click"}, [])  # type: ignore[attr-defined]
    for handler in button._click_handlers.callbacks:  # type: ignore[attr-defined]
        handler(button)


# ------------------------------------------------------------------------------ 却下 with a reason
def test_a_rejection_needs_a_reason_kept_shown_and_audited(world: StaffedWorkspace, people: pd.DataFrame) -> None:
    request = collection.request_collection_export(world.login("registrar"))
    approver = world.login("approver")
    for missing in (None, "", "   ", "\u3000"):
        with pytest.raises(InvalidInput) as err:
            approvals.decide(approver, request.approval_id, approve=False, reason=missing)
        assert err.value.details["reason"] == "reason_required" and "理由" in err.value.message_ja
    for garbage in ("x" * (approvals.REASON_MAX + 1), "bad\x00text"):
        with pytest.raises(InvalidInput):
            approvals.decide(approver, request.approval_id, approve=False, reason=garbage)
    assert approvals.get(world.login("registrar"), request.approval_id).status == "pending"  # nothing decided

    decided = approvals.decide(approver, request.approval_id, approve=False, reason=REASON)
    assert decided.status == "rejected" and decided.reason == REASON
    mine = approvals.get(world.login("registrar"), request.approval_id)
    assert mine.reason == REASON and mine.to_dict()["reason"] == REASON
    # carrying it out is refused with the approver's words
    with pytest.raises(ApprovalError) as refused:
        collection.export_collection(world.login("registrar"), approval_id=request.approval_id)
    assert REASON in refused.value.message_ja and "approver" in refused.value.message_ja
    # audited: that a reason was given and its length, never its words
    records = audit_log.search(world.login("auditor"), operation="approvals.decide")
    ok = [json.loads(r["params"]) for r in records if r["outcome"] == "ok"]
    assert ok == [{**ok[0], "reason_given": True, "reason_chars": len(REASON)}]
    assert REASON not in json.dumps(records, ensure_ascii=False, default=str)
    assert len([r for r in records if r["outcome"] != "ok"]) == 6


def test_the_requester_sees_the_reason_where_the_state_is_shown(world: StaffedWorkspace, people: pd.DataFrame) -> None:
    registrar = world.login("registrar")
    request = collection.request_collection_export(registrar)
    approvals.decide(world.login("approver"), request.approval_id, approve=False, reason=REASON)
    banner = ErrorBanner()
    flow = OutgoingFileFlow(collection.SPEC, session=registrar, banner=banner,
                            call=lambda fn, *a, **k: fn(registrar, *a, **k))
    flow.approval_id.value = request.approval_id.lower()  # typed in lower case, as the issue found
    flow.approval_id.value = request.approval_id
    assert flow.model.approval_state == "rejected" and flow.create_button.disabled
    assert REASON in flow.approval_state_view.value and "却下" in flow.approval_state_view.value


def test_the_approvals_screen_asks_for_the_reason(world: StaffedWorkspace, people: pd.DataFrame) -> None:
    request = collection.request_collection_export(world.login("registrar"))
    app = ApprovalsApp(world.login("approver"))
    _approve, reject = app.buttons[request.approval_id]
    assert reject.disabled  # no reason yet
    for _ in range(3):
        _websocket_click(reject)  # the disabled button, clicked over the websocket
    assert approvals.get(world.login("registrar"), request.approval_id).status == "pending"
    assert "理由" in app.banner.text
    app.reasons[request.approval_id].value = REASON
    assert not reject.disabled
    reject.click()
    assert app.banner.kind == "success", app.banner.text
    assert approvals.get(world.login("registrar"), request.approval_id).reason == REASON


def test_cli_reject_needs_reason(world: StaffedWorkspace, people: pd.DataFrame, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    request = collection.request_collection_export(world.login("registrar"))
    with pytest.raises(SystemExit):
        world.cli(monkeypatch, capsys, "approver", "approvals", "reject", request.approval_id)
    capsys.readouterr()
    code, out, _ = world.cli(monkeypatch, capsys, "approver", "approvals", "reject", request.approval_id, "--reason", REASON)
    assert code == 0 and out["status"] == "rejected" and out["reason"] == REASON


# ------------------------------------------------------------------------------ services take what was seen
def _approved_list(world: StaffedWorkspace, person_ids: list[str]) -> tuple[deletion.DeletionPreview, str]:
    preview = deletion.select_for_deletion(world.login("registrar"), person_ids=person_ids, reason="moved_out")
    requested = deletion.request_deletion(world.login("registrar"), preview.list_id)
    assert requested.approval is not None
    approvals.decide(world.login("approver"), requested.approval.approval_id, approve=True)
    return preview, requested.approval.approval_id


def _held(world: StaffedWorkspace, person_ids: list[str]) -> int:
    with world.ws.transaction("test.read", "system") as con:
        row = con.execute("SELECT count(*) FROM persons WHERE person_id IN (SELECT unnest(?::VARCHAR[]))",
                          [person_ids]).fetchone()
    return int(row[0]) if row else 0


def test_deletion_refuses_without_or_against_what_was_seen(world: StaffedWorkspace, people: pd.DataFrame) -> None:
    victims = [str(p) for p in people["person_id"].iloc[:3]]
    preview, approval_id = _approved_list(world, victims)
    registrar = world.login("registrar")
    with pytest.raises(InvalidInput) as err:
        deletion.apply_deletion(registrar, preview.list_id, approval_id=approval_id)
    assert err.value.details["reason"] == "preview_required" and "削除はしていません" in err.value.message_ja
    with pytest.raises(InvalidInput) as err:
        deletion.apply_deletion(registrar, preview.list_id, approval_id=approval_id, expected_count=2)
    assert err.value.details["reason"] == "selection_changed" and "確認時 2 人、現在 3 人" in err.value.message_ja
    with pytest.raises(InvalidInput) as err:
        deletion.apply_deletion(registrar, preview.list_id, approval_id=approval_id, expected_digest="0" * 64)
    assert err.value.details["reason"] == "selection_changed"
    assert _held(world, victims) == 3  # nothing deleted, and the approval is still unused
    record = deletion.apply_deletion(registrar, preview.list_id, approval_id=approval_id,
                                     expected_count=3, expected_digest=preview.selection_digest)
    assert record.persons == 3 and _held(world, victims) == 0


def test_a_disabled_delete_button_clicked_over_the_websocket_deletes_nothing(world: StaffedWorkspace, people: pd.DataFrame) -> None:
    victims = [str(p) for p in people["person_id"].iloc[3:5]]
    app = DeletionApp(world.login("registrar"))
    app.person_ids.value = "\n".join(victims)
    app.select_button.click()
    assert app.model.preview is not None and app.model.preview.persons == 2
    assert "2 人の個人番号" in app.consequence.value and "取り消せません" in app.consequence.value
    app.request_button.click()
    approvals.decide(world.login("approver"), app.approval_id.value, approve=True)
    assert app.apply_button.disabled
    for _ in range(8):
        _websocket_click(app.apply_button)
    assert _held(world, victims) == 2 and app.banner.kind == "info"
    # the screen's own state is not the only guard: a forged call with the approval alone is refused
    with pytest.raises(InvalidInput):
        deletion.apply_and_purge(world.login("registrar"), app.model.preview.list_id, approval_id=app.approval_id.value)
    assert _held(world, victims) == 2
    app.confirm.value = True
    app.apply_button.click()
    assert app.banner.kind == "success", app.banner.text
    assert _held(world, victims) == 0


def test_retention_apply_refuses_when_what_is_due_moved(world: StaffedWorkspace) -> None:
    operator = world.login("query_operator")
    report = retention.apply(operator, dry_run=True)
    due = sum(int(i["due_now"]) for i in report["items"])
    with pytest.raises(InvalidInput) as err:
        retention.apply(operator, dry_run=False, expected_due=due + 5)
    assert err.value.details["reason"] == "selection_changed" and "削除はしていません" in err.value.message_ja
    assert retention.apply(operator, dry_run=False, expected_due=due)["dry_run"] is False


def test_registration_refuses_when_the_file_would_now_do_otherwise(world: StaffedWorkspace) -> None:
    from workbench.intake import registration, targets
    from workbench.simulate.contractor import contractor_return
    from workbench.simulate.housing import target_extract

    pop = generate_world(40, seed=4)
    registrar = world.login("registrar")
    targets.import_targets(registrar, target_extract(pop, seed=1), file_name="t.csv")
    data = contractor_return(pop, seed=2, error_rate=0.3)
    seen = registration.preview_registration(registrar, data, source="contractor", file_name="r.csv").detail
    assert seen.registered > 0
    wrong = {**seen.outcomes, "registered": seen.registered + 1}
    with pytest.raises(InvalidInput) as err:
        registration.register(world.login("registrar"), data, source="contractor", file_name="r.csv", expected_outcomes=wrong)
    assert err.value.details["reason"] == "selection_changed" and "登録はしていません" in err.value.message_ja
    done = registration.register(world.login("registrar"), data, source="contractor", file_name="r.csv",
                                 expected_outcomes=dict(seen.outcomes))
    assert done.registered == seen.registered and not done.already_imported
