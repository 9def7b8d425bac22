"""F10 inquiry log, C6 yearly ID review loop, C7 deceased persons (issue 12 items 5, 6, 8)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MakeWorld, StaffedWorkspace
from tests.lifecycle_helpers import office_with_results
from tests.query_helpers import approve
from tests.results_helpers import count
from workbench.controls import idreview
from workbench.core.errors import ApprovalError, InvalidInput, NotFound, PermissionDenied
from workbench.lifecycle import deletion, inquiries
from workbench.queries import batches


def test_inquiry_log_record_search_monthly(world: StaffedWorkspace) -> None:
    rev = world.login("reviewer")
    q1 = inquiries.record(rev, channel="phone", category="handling", question="番号の保管方法を知りたい")
    inquiries.record(rev, channel="counter", category="disclosure", question="開示請求の様式について",
                     received_at=world.clock.now() - dt.timedelta(days=40))
    assert q1.status == "open" and q1.handled_by == "reviewer"
    closed = inquiries.close(world.login("reviewer"), q1.inquiry_id, response="保管方法を説明した")
    assert closed.status == "closed" and closed.closed_at is not None
    found = inquiries.search(world.login("reviewer"), text="保管")
    assert [q.inquiry_id for q in found] == [q1.inquiry_id]
    assert len(inquiries.search(world.login("reviewer"), status="open")) == 1
    assert len(inquiries.search(world.login("reviewer"), month="2026-06")) == 1
    report = inquiries.monthly(world.login("reviewer"), year=2026)
    by_month = {m["month"]: m for m in report["months"]}
    assert by_month["2026-06"]["received"] == 1 and by_month["2026-06"]["closed"] == 1
    assert by_month["2026-04"]["received"] == 1 and by_month["2026-04"]["by_channel"] == {"counter": 1}
    assert report["total"] == 2
    held = count(world, "SELECT count(*) FROM inquiries")
    for kwargs in ({"channel": "fax", "category": "other", "question": "x"},
                   {"channel": "phone", "category": "gossip", "question": "x"},
                   {"channel": "phone", "category": "other", "question": "  "},
                   {"channel": "phone", "category": "other", "question": "x", "received_at": world.clock.now() + dt.timedelta(days=1)}):
        with pytest.raises(InvalidInput):
            inquiries.record(world.login("reviewer"), **kwargs)
    with pytest.raises(NotFound):
        inquiries.record(world.login("reviewer"), channel="phone", category="other", question="x", person_id="NOBODY")
    with pytest.raises(InvalidInput):
        inquiries.close(world.login("reviewer"), q1.inquiry_id, response="again")
    with pytest.raises(InvalidInput):
        inquiries.search(world.login("reviewer"), month="June")
    assert count(world, "SELECT count(*) FROM inquiries") == held
    for role in ("registrar", "auditor", "operations", "analyst"):
        with pytest.raises(PermissionDenied):
            inquiries.search(world.login(role))


def test_yearly_id_review_loop(world: StaffedWorkspace) -> None:
    world.add_user("taishoku", ["registrar"])      # left the office
    world.clock.advance(100 * 24 * 3600)           # everyone is dormant by now except who logs in below
    admin = world.login("administrator")
    review = idreview.start_review(admin)
    assert "taishoku" in review["findings"]["dormant"] and "administrator" not in review["findings"]["dormant"]
    assert set(review["findings"]["overdue"]) >= {"taishoku", "registrar"}
    with pytest.raises(InvalidInput):
        idreview.disable_in_review(world.login("administrator"), review["review_id"], ["administrator"], reason="x")
    with pytest.raises(InvalidInput):
        idreview.disable_in_review(world.login("administrator"), review["review_id"], ["ghost"], reason="退職")
    review = idreview.disable_in_review(world.login("administrator"), review["review_id"], ["taishoku"], reason="退職")
    assert review["findings"]["disabled"] == {"taishoku": "退職"}
    assert count(world, "SELECT count(*) FROM users WHERE user_id = 'taishoku' AND disabled") == 1
    approval = idreview.request_signoff(world.login("administrator"), review["review_id"])
    with pytest.raises(ApprovalError):   # not yet approved by the second person
        idreview.sign_off(world.login("administrator"), review["review_id"], approval_id=approval.approval_id)
    approve(world, approval)
    done = idreview.sign_off(world.login("administrator"), review["review_id"], approval_id=approval.approval_id)
    assert done["status"] == "signed_off" and done["signed_off_by"] == "approver"
    assert count(world, "SELECT count(*) FROM users WHERE NOT disabled AND reviewed_by = 'approver'") == \
        count(world, "SELECT count(*) FROM users WHERE NOT disabled")
    assert idreview.reviews(world.login("administrator"))[0]["status"] == "signed_off"
    with pytest.raises(InvalidInput):
        idreview.disable_in_review(world.login("administrator"), review["review_id"], ["registrar"], reason="x")
    with pytest.raises(PermissionDenied):
        idreview.start_review(world.login("approver"))


def test_ids_are_marked_reviewed_only_through_the_signed_off_review(world: StaffedWorkspace, monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 18 item 5: the old one-person path (``users.review(confirm=True)``, ``user review --confirm``,
    the admin screen's 点検済みとして記録) no longer records a review; only ``idreview.sign_off`` does."""
    from widgets.admin import AdminApp
    from workbench.controls import users

    def reviewed() -> int:
        return int(count(world, "SELECT count(*) FROM users WHERE reviewed_at IS NOT NULL"))

    assert reviewed() == 0
    with pytest.raises(TypeError):
        users.review(world.login("administrator"), confirm=True)  # type: ignore[call-arg]
    overview = users.review(world.login("administrator"))
    assert overview["active"] > 0 and "confirmed" not in overview
    code, out, err = world.cli(monkeypatch, capsys, "administrator", "user", "review", "--confirm")
    assert code != 0 and out is None and "idreview" in err and "棚卸し" in err
    code, out, _ = world.cli(monkeypatch, capsys, "administrator", "user", "review")
    assert code == 0 and out["active"] == overview["active"]
    app = AdminApp(world.login("administrator"))

    def labels(widget: Any) -> list[str]:
        return [str(getattr(widget, "description", ""))] + [x for c in getattr(widget, "children", ()) for x in labels(c)]

    assert not any("点検済み" in label or "Record review" in label for label in labels(app))
    app.review_button.click()
    assert reviewed() == 0
    review = idreview.start_review(world.login("administrator"))
    approval = idreview.request_signoff(world.login("administrator"), review["review_id"])
    approve(world, approval)
    idreview.sign_off(world.login("administrator"), review["review_id"], approval_id=approval.approval_id)
    assert reviewed() == len(review["findings"]["active"])


def test_deceased_marked_after_review_excluded_and_deletable(make_world: MakeWorld, tmp_path: Path) -> None:
    world = make_world()
    office_with_results(world, tmp_path)
    with world.ws.transaction("t", "t") as con:
        rows = con.execute("SELECT discrepancy_id, person_id FROM discrepancies WHERE kind = 'deceased' ORDER BY 1").fetchall()
        other = con.execute("SELECT discrepancy_id FROM discrepancies WHERE kind <> 'deceased' LIMIT 1").fetchone()
    assert rows and other
    with pytest.raises(InvalidInput):
        deletion.confirm_deceased(world.login("reviewer"), other[0])
    before = batches.preview_juki_batch(world.login("query_operator"), procedure="P1", fiscal_year=2026)
    for discrepancy_id, _ in rows:
        deletion.confirm_deceased(world.login("reviewer"), discrepancy_id, note="死亡届を確認")
    with pytest.raises(InvalidInput):
        deletion.confirm_deceased(world.login("reviewer"), rows[0][0])
    after = batches.preview_juki_batch(world.login("query_operator"), procedure="P1", fiscal_year=2026)
    dead = {p for _, p in rows}
    assert after.persons <= before.persons - len(dead)  # their households may lose their U1 anchor too
    assert after.excluded["not_covered"] >= len(dead)
    assert count(world, "SELECT count(*) FROM persons WHERE deceased") == len(dead)
    with pytest.raises(PermissionDenied):
        deletion.confirm_deceased(world.login("registrar"), rows[0][0])
    # the same deletion flow, choosing everyone marked deceased
    preview = deletion.select_for_deletion(world.login("registrar"), reason="deceased", deceased=True)
    assert preview.persons == len(dead) and preview.by_reason == {"deceased": len(dead)}
    req = deletion.request_deletion(world.login("registrar"), preview.list_id)
    assert req.approval is not None
    approve(world, req.approval)
    deletion.apply_deletion(world.login("registrar"), preview.list_id, approval_id=req.approval.approval_id,
                            discard_files=[f["entry_id"] for f in req.pending_files],
                            expected_digest=preview.selection_digest)
    assert count(world, "SELECT count(*) FROM persons WHERE deceased") == 0
