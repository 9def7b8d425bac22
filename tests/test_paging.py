"""Lists that page in the database (issue 11 item 6): totals and charts from the whole selection,
the last page, sorting both ways, filters, and refusals of bad or hostile requests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import StaffedWorkspace, run_benchmark
from workbench.core.errors import InvalidInput, PermissionDenied
from workbench.core.paging import MAX_LIMIT, MAX_TEXT, PageRequest
from workbench.queries import discrepancies

#: More than the old 1,000-row cap; the first 1,200 by detection time are all 転居, as in the report.
MOVED, RENAMED, DECEASED = 1200, 300, 7
TOTAL = MOVED + RENAMED + DECEASED


@pytest.fixture
def queue(world: StaffedWorkspace) -> StaffedWorkspace:
    """1,507 discrepancies, inserted set-based (synthetic, no personal data but IDs)."""
    start = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    with world.ws.transaction("test.seed", "test") as con:
        con.execute(
            "INSERT INTO discrepancies (discrepancy_id, request_id, batch_id, person_id, source, kind, fields, held,"
            " reported, status, detected_at, note)"
            " SELECT printf('D%07d', i), printf('R%07d', i), 'B1', printf('P%08d', i), 'juki',"
            " CASE WHEN i < $m THEN 'moved' WHEN i < $m + $r THEN 'renamed' ELSE 'deceased' END,"
            " '[\"address\"]', '{}', '{}', CASE WHEN i % 10 = 0 THEN 'resolved' ELSE 'open' END,"
            " $start + i * INTERVAL 1 MINUTE, CASE WHEN i = 77 THEN '100%_電話' END"
            " FROM range($n) t(i)", {"m": MOVED, "r": RENAMED, "n": TOTAL, "start": start})
    return world


def test_totals_and_chart_count_the_whole_selection(queue: StaffedWorkspace) -> None:
    reviewer = queue.login("reviewer")
    page = discrepancies.discrepancy_page(reviewer, PageRequest(limit=50))
    assert len(page.rows) == 50 and page.total == TOTAL
    assert page.groups["kind"] == {"moved": MOVED, "renamed": RENAMED, "deceased": DECEASED}
    assert sum(page.groups["status"].values()) == TOTAL
    assert {d.kind for d in page.rows} == {"moved"}  # the page alone would say 「all 転居」
    assert page.summary_ja() == f"1–50 / 全 {TOTAL:,} 件"
    # a field filter: the total and the chart follow the selection, not the page
    open_only = discrepancies.discrepancy_page(reviewer, PageRequest(limit=10, filters={"status": "open"}))
    assert open_only.total == TOTAL - len(range(0, TOTAL, 10)) and all(d.status == "open" for d in open_only.rows)
    assert sum(open_only.groups["kind"].values()) == open_only.total


def test_last_page_and_sorting_both_ways(queue: StaffedWorkspace) -> None:
    reviewer = queue.login("reviewer")
    last = discrepancies.discrepancy_page(reviewer, PageRequest(offset=1500, limit=MAX_LIMIT))
    assert len(last.rows) == 7 and not last.has_next and last.has_previous and last.last == TOTAL
    assert [d.discrepancy_id for d in last.rows][-1] == f"D{TOTAL - 1:07d}"
    beyond = discrepancies.discrepancy_page(reviewer, PageRequest(offset=5000))
    assert beyond.rows == [] and beyond.total == TOTAL
    up = discrepancies.discrepancy_page(reviewer, PageRequest(sort="discrepancy_id", limit=3))
    down = discrepancies.discrepancy_page(reviewer, PageRequest(sort="discrepancy_id", descending=True, limit=3))
    assert [d.discrepancy_id for d in up.rows] == ["D0000000", "D0000001", "D0000002"]
    assert [d.discrepancy_id for d in down.rows] == [f"D{TOTAL - i:07d}" for i in (1, 2, 3)]
    by_kind = discrepancies.discrepancy_page(reviewer, PageRequest(sort="kind", limit=1))
    assert by_kind.rows[0].kind == "deceased" and by_kind.sort == "kind"
    # consecutive pages neither repeat nor skip a row
    seen = [d.discrepancy_id for o in (0, 200, 400) for d in
            discrepancies.discrepancy_page(reviewer, PageRequest(offset=o, limit=200, sort="kind")).rows]
    assert len(seen) == len(set(seen)) == 600


def test_text_filter_is_literal(queue: StaffedWorkspace) -> None:
    reviewer = queue.login("reviewer")
    one = discrepancies.discrepancy_page(reviewer, PageRequest(text="D0000077"))
    assert [d.discrepancy_id for d in one.rows] == ["D0000077"] and one.total == 1
    assert discrepancies.discrepancy_page(reviewer, PageRequest(text="p0000007")).total == 10  # case-insensitive
    # % and _ are characters, not patterns; hostile text is a bound parameter
    assert [d.note for d in discrepancies.discrepancy_page(reviewer, PageRequest(text="100%_")).rows] == ["100%_電話"]
    for hostile in ("%", "_", "'; drop table discrepancies; --", "' OR '1'='1", "\\", "電話'--"):
        page = discrepancies.discrepancy_page(reviewer, PageRequest(text=hostile))
        assert page.total <= 1
    with queue.ws.transaction("test.check", "test") as con:
        assert con.execute("SELECT count(*) FROM discrepancies").fetchone() == (TOTAL,)


@pytest.mark.parametrize(("request_", "reason"), [
    (PageRequest(sort="detected_at; DROP TABLE discrepancies"), "bad_sort"),
    (PageRequest(sort="held"), "bad_sort"),
    (PageRequest(limit=MAX_LIMIT + 1), "bad_limit"),
    (PageRequest(limit=0), "bad_limit"),
    (PageRequest(offset=-1), "bad_offset"),
    (PageRequest(text="x" * 10_000), "bad_filter"),
    (PageRequest(text="a\x00b"), "bad_filter"),
    (PageRequest(filters={"held": "x"}), "bad_filter"),
    (PageRequest(filters={"kind": "moved' OR 1=1 --"}), "bad_filter"),
])
def test_bad_requests_are_refused_in_both_languages(queue: StaffedWorkspace, request_: PageRequest, reason: str) -> None:
    reviewer = queue.login("reviewer")
    with pytest.raises(InvalidInput) as caught:
        discrepancies.discrepancy_page(reviewer, request_)
    assert caught.value.reason == reason
    assert caught.value.message_en and any("\u3040" <= c <= "\u9fff" for c in caught.value.message_ja)
    assert "SELECT" not in caught.value.message_en and "SELECT" not in caught.value.message_ja


def test_the_queue_page_needs_the_review_permission(queue: StaffedWorkspace) -> None:
    for role in ("query_operator", "analyst", "auditor", "approver"):
        with pytest.raises(PermissionDenied):
            discrepancies.discrepancy_page(queue.login(role), PageRequest())


# --------------------------------------------------------------------------- every list that pages


def _pages(world: StaffedWorkspace) -> list[tuple[str, Any, str]]:
    """(role allowed, call(session, request), a role refused) for each list service."""
    from workbench.controls import users
    from workbench.cycles import pipeline_runs
    from workbench.files import media
    from workbench.lifecycle import deletion, disclosure, inquiries

    return [
        ("administrator", users.user_page, "reviewer"),
        ("auditor", media.ledger_page, "query_operator"),
        ("reviewer", disclosure.suspension_page, "analyst"),
        ("reviewer", inquiries.inquiry_page, "analyst"),
        ("query_operator", pipeline_runs.listing_page, ""),  # every role may list its own runs
        ("registrar", lambda s, r: deletion.list_members_page(s, "L-none", r), "analyst"),
    ]


def test_every_list_refuses_a_bad_sort_key_and_takes_hostile_text(world: StaffedWorkspace) -> None:
    from workbench.core.errors import NotFound

    for role, call, _refused in _pages(world):
        session = world.login(role)
        with pytest.raises(InvalidInput) as caught:
            call(session, PageRequest(sort="1; DROP TABLE users"))
        assert caught.value.reason == "bad_sort"
        for hostile in ("%", "_", "'; drop table users; --", "x" * MAX_TEXT):
            try:
                page = call(session, PageRequest(text=hostile))
            except NotFound:  # the deletion list named does not exist
                continue
            assert page.total >= 0 and len(page.rows) <= page.limit
        with pytest.raises(InvalidInput):
            call(session, PageRequest(text="x" * 10_000))


def test_every_list_refuses_a_role_without_the_right(world: StaffedWorkspace) -> None:
    for _role, call, refused in _pages(world):
        if refused:
            with pytest.raises(PermissionDenied):
                call(world.login(refused), PageRequest())


def test_user_list_pages_and_counts_in_the_database(world: StaffedWorkspace) -> None:
    from workbench.controls import users

    admin = world.login("administrator")
    every = users.list_users(admin)
    page = users.user_page(admin, PageRequest(limit=3, sort="user_id", descending=True))
    assert page.total == len(every) and [u.user_id for u in page.rows] == sorted(u.user_id for u in every)[::-1][:3]
    found = users.user_page(admin, PageRequest(text="AUDIT"))
    assert [u.user_id for u in found.rows] == ["auditor"] and found.total == 1


def test_audit_log_pages_with_chart_and_alerts_of_every_match(world: StaffedWorkspace) -> None:
    from collections import Counter

    from workbench.controls import access, audit_log
    from workbench.core.access_rules import hours_history, parse_hours
    from workbench.core.clock import JST
    from workbench.core.errors import AccessRefused
    from workbench.core.policy import _when, audit_alerts, is_out_of_hours

    world.clock.set(dt.datetime(2026, 6, 6, 22, 30, tzinfo=JST))  # a Saturday night
    for _ in range(3):
        world.login("registrar")
    world.clock.set(dt.datetime(2026, 6, 8, 7, 59, tzinfo=JST))  # before hours on a Monday
    world.login("registrar")
    world.clock.set(dt.datetime(2026, 6, 8, 10, 0, tzinfo=JST))
    # the office sets its hours (C13) after those logins: each record is judged by the hours in force
    # when it was made (issue 20 item 9), so those logins, made while every hour was open, are not late
    access.set_hours(world.login("administrator"), parse_hours(["mon-fri=08:30-18:00", "sat-sun=closed"]))
    world.clock.set(dt.datetime(2026, 6, 8, 19, 0, tzinfo=JST))  # after hours, under the new hours
    with pytest.raises(AccessRefused):
        world.login("registrar")  # refused, and recorded: a late record
    world.clock.set(dt.datetime(2026, 6, 8, 10, 30, tzinfo=JST))
    with world.ws.transaction("test.read", "system") as con:
        history = hours_history(con)
    auditor = world.login("auditor")
    every = audit_log.search(auditor, limit=100_000)
    page = audit_log.search_page(auditor, PageRequest(limit=5))
    assert len(page.rows) == 5 and page.total >= len(every)
    records = audit_log.search(auditor, limit=100_000)
    truth = {"out_of_hours": sum(is_out_of_hours(r, history.hours_at(_when(r))) for r in records),
             "bulk_export": audit_alerts(records, {})["bulk_export"]}
    page = audit_log.search_page(auditor, PageRequest(limit=5))
    assert page.groups["out_of_hours"].get("yes", 0) == truth["out_of_hours"] == 1
    assert page.groups["bulk_export"].get("yes", 0) == truth["bulk_export"]
    days = Counter(_when(r).date().isoformat() for r in audit_log.search(auditor, limit=100_000))
    page = audit_log.search_page(auditor, PageRequest(limit=5))
    assert {d: n for d, n in page.groups["day"].items() if d != "2026-06-08"} == {d: n for d, n in days.items() if d != "2026-06-08"}
    # the same filters as search: by user (pseudonym), by operation words
    mine = audit_log.search_page(auditor, PageRequest(), user_id="registrar", operation="auth.login")
    assert mine.total == 5 and all(r["user_id"] == "registrar" for r in mine.rows)
    assert [r["out_of_hours"] for r in mine.rows] == [False, False, False, False, True]  # oldest first
    up = audit_log.search_page(auditor, PageRequest(limit=3, descending=False))
    assert [r["seq"] for r in up.rows] == sorted(r["seq"] for r in up.rows) and up.rows[0]["seq"] <= 2
    with pytest.raises(InvalidInput):
        audit_log.search_page(auditor, PageRequest(sort="params"))
    with pytest.raises(PermissionDenied):
        audit_log.search_page(world.login("reviewer"), PageRequest())


def test_the_queue_pages_from_the_cli(queue: StaffedWorkspace, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    def run(*argv: str) -> tuple[int, Any, str]:
        return queue.cli(monkeypatch, capsys, "reviewer", "discrepancies", "list", *argv)

    code, page, _ = run("--offset", "1500", "--limit", "50")
    assert code == 0 and page["total"] == TOTAL and len(page["rows"]) == 7
    assert page["groups"]["kind"] == {"moved": MOVED, "renamed": RENAMED, "deceased": DECEASED}
    code, page, _ = run("--sort", "discrepancy_id", "--desc", "--limit", "2", "--kind", "renamed")
    assert [r["discrepancy_id"] for r in page["rows"]] == [f"D{MOVED + RENAMED - 1:07d}", f"D{MOVED + RENAMED - 2:07d}"]
    assert page["total"] == RENAMED
    code, _, err = run("--sort", "held")
    assert code != 0 and "並べ替え" in err and "Traceback" not in err


def test_operations_watch_every_run_without_its_report(world: StaffedWorkspace) -> None:
    """Issue 11 item 10: operations see pipeline runs (state and stages, to notice a stuck or
    failed cycle) on their own screen; the report of a run they do not own is not named to them."""
    from widgets.dashboard import APPS
    from widgets.runs import RunsApp
    from workbench.cycles import pipeline_runs

    info, _folder = pipeline_runs.start(world.login("auditor"), "audit_check", {})
    pipeline_runs.finish(world.login("auditor"), info.run_id, succeeded=True, notebook="runs/x/audit_check.ipynb")
    ops = world.login("operations")
    assert any(e.key == "runs" and e.permitted(ops) for e in APPS)
    page = pipeline_runs.listing_page(ops, PageRequest())
    (run,) = [r for r in page.rows if r["run_id"] == info.run_id]
    assert run["status"] == "succeeded" and run["report"] is None
    # the CLI (workbench pipeline list) lists exactly what the screen does
    assert [r for r in pipeline_runs.listing(ops) if r["run_id"] == info.run_id] == [run]
    mine = pipeline_runs.listing_page(world.login("auditor"), PageRequest())
    assert [r["report"] for r in mine.rows if r["run_id"] == info.run_id] == ["runs/x/audit_check.ipynb"]
    assert pipeline_runs.listing_page(world.login("reviewer"), PageRequest()).total == 0  # neither owner nor operations
    app = RunsApp(ops)
    assert "操作ログの改ざん検査" in app.table.text and "audit_check" not in app.table.text


def test_a_page_join_adds_columns_to_the_page_only_and_shows_what_the_full_join_shows() -> None:
    """``ListSpec.page_join`` (issue 19 item 5): the count, groups and choice of the page read the list's own
    table; the join adds its columns to the page's rows — every page, sort, direction and filter the same as
    the list whose source is the whole join."""
    import duckdb

    from workbench.core.paging import ListSpec, SortKey, fetch

    con = duckdb.connect()
    con.execute("CREATE TABLE items (item_id VARCHAR PRIMARY KEY, person_id VARCHAR, kind VARCHAR, seen INTEGER)")
    con.execute("CREATE TABLE held (person_id VARCHAR PRIMARY KEY, code VARCHAR)")
    con.execute("INSERT INTO items SELECT printf('I%03d', i), printf('P%02d', i % 17), CASE WHEN i % 3 = 0 THEN 'a'"
                " ELSE 'b' END, (i * 7) % 11 FROM range(95) t(i)")
    con.execute("INSERT INTO held SELECT printf('P%02d', i), printf('C%02d', i) FROM range(0, 17, 2) t(i)")
    common: dict[str, Any] = dict(
        sorts={"seen": SortKey("seen", "日時", "time"), "person_id": SortKey("person_id", "宛名番号", "person")},
        default_sort="seen", tiebreak="item_id", search=("item_id", "person_id"),
        filters={"kind": ("kind", {"a": "a", "b": "b"})}, groups={"kind": "kind"}, where="seen <> 3")
    whole = ListSpec("一覧", "list", "(SELECT i.*, h.code FROM items i LEFT JOIN held h USING (person_id)) AS x", **common)
    paged = ListSpec("一覧", "list", "items", **common,
                     page_join="LEFT JOIN (SELECT person_id, code FROM held) AS h USING (person_id)")
    columns = "item_id, person_id, kind, seen, code"
    for request in [PageRequest(), PageRequest(offset=40, limit=20), PageRequest(offset=80), PageRequest(offset=200),
                    PageRequest(sort="person_id", descending=True, limit=7, offset=14),
                    PageRequest(filters={"kind": "a"}, limit=5), PageRequest(text="p0", sort="person_id")]:
        expected, got = fetch(con, whole, request, columns), fetch(con, paged, request, columns)
        assert got == expected, request
        assert expected.rows or request.offset >= expected.total
    assert any(r[4] is None for r in fetch(con, paged, PageRequest(limit=MAX_LIMIT), columns).rows)
    assert any(r[4] is not None for r in fetch(con, paged, PageRequest(limit=MAX_LIMIT), columns).rows)


def test_benchmark_script_runs_small(tmp_path: Path) -> None:
    """``benchmarks/bench_paging.py`` runs on its own (its key-encryption key too) and pages as it says."""
    figures = {f["figure"]: f for f in run_benchmark(tmp_path, "bench_paging", "--rows", "600", "--rounds", "1")}
    assert figures["build"]["rows"] == 600
    assert figures["page_200"]["total"] == 600 and figures["page_200"]["shown"] == 200
