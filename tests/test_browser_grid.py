"""The review queue as a data grid in real Chromium (issue 11 item 6), at 1400×900 and 1024×768.

A demo workspace with 260 more discrepancies than the demo's own; the reviewer pages the
queue (「1–50 / 全 … 件」, 次へ), sorts, filters, clicks a row and sees that person's page.
The grid's front-end files (the anywidget extension) are served to a logged-in browser and
refused without a session.  Screenshots go to ``test-artifacts/grid-*.png``.
"""

from __future__ import annotations

import datetime as dt
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.test_browser import ARTIFACTS, CHROMIUM, UI_TIMEOUT, Server, chromium_browser, code_for, demo_copy, launch_server
from workbench import Workspace
from workbench.controls import users
from workbench.demo import DEMO_PASSWORD
from workbench.web.serve import free_port, stop

pytestmark = pytest.mark.browser

EXTRA = 260
SIZES = {"wide": {"width": 1400, "height": 900}, "narrow": {"width": 1024, "height": 768}}
ACCOUNT = {"wide": "reviewer", "narrow": "reviewer2"}


@pytest.fixture(scope="module")
def grid_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing; install it with ./dev setup (apt-get install chromium)")
    root = tmp_path_factory.mktemp("grid")
    workspace = root / "ws"
    demo_copy(tmp_path_factory, workspace, 300)
    ws = Workspace.open(workspace)
    # a second reviewer, so the two window sizes never reuse one account's one-time code
    users.create_initial_user(ws, "reviewer2", "審査担当2", DEMO_PASSWORD, ["reviewer"])
    users.create_initial_user(ws, "auditor2", "監査担当2", DEMO_PASSWORD, ["auditor"])
    with ws.transaction("test.seed", "test") as con:
        con.execute(
            "INSERT INTO discrepancies (discrepancy_id, request_id, batch_id, person_id, source, kind, fields, held,"
            " reported, status, detected_at)"
            " SELECT printf('DX%06d', i), printf('RX%06d', i), 'BX', p.person_id, 'juki',"
            " CASE WHEN i % 3 = 0 THEN 'renamed' ELSE 'moved' END, '[\"address\"]', '{\"address\": \"旧住所\"}',"
            " '{\"address\": \"新住所\"}', 'open', $start + i * INTERVAL 1 MINUTE"
            " FROM (SELECT person_id, row_number() OVER (ORDER BY person_id) - 1 AS i FROM persons) p WHERE i < $n",
            {"n": EXTRA, "start": dt.datetime(2026, 5, 1, tzinfo=dt.UTC)})
    port = free_port()
    log = root / "voila.log"
    proc = launch_server(workspace, log, port)
    try:
        yield Server(f"http://127.0.0.1:{port}/voila/render/index.ipynb", workspace, log)
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with chromium_browser() as launched:
        yield launched

def _log_in(browser: Any, server: Server, viewport: dict[str, int], user_id: str) -> Any:
    from playwright.sync_api import expect

    expect.set_options(timeout=UI_TIMEOUT)
    context = browser.new_context(viewport=viewport, locale="ja-JP")
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT)
    page.goto(server.url, timeout=UI_TIMEOUT)
    login = page.locator(".wb-login")
    expect(login).to_be_visible()
    texts = login.locator("input[type=text]")
    texts.nth(0).fill(user_id)
    login.locator("input[type=password]").fill(DEMO_PASSWORD)
    texts.nth(1).fill(code_for(server, user_id))
    login.get_by_role("button", name="ログイン / Log in").click()
    expect(page.locator(".wb-menu")).to_be_visible()
    return page


def _grid_rows(page: Any) -> Any:
    return page.locator(".wb-discrepancy-table table.dataTable tbody tr")


@pytest.mark.parametrize("size", list(SIZES))
def test_reviewer_pages_sorts_filters_and_opens_a_person(grid_server: Server, chromium: Any, size: str) -> None:
    from playwright.sync_api import expect

    page = _log_in(chromium, grid_server, SIZES[size], ACCOUNT[size])
    page.locator(".wb-menu").get_by_role("button", name="番号相違の確認").click()
    grid = page.locator(".wb-record-grid").first
    count = grid.locator(".wb-grid-count")
    expect(count).to_contain_text(re.compile(r"1–50 / 全 \d{3} 件"))
    shown = re.search(r"全 (\d+) 件", count.inner_text())
    assert shown is not None
    total = int(shown.group(1))
    assert total >= EXTRA
    expect(_grid_rows(page)).to_have_count(50)
    # headers in Japanese; no raw kind or state code on screen
    table = page.locator(".wb-discrepancy-table")
    expect(table).to_contain_text("相違番号")
    text = table.inner_text()
    assert "転居" in text and "未対応" in text
    assert not re.search(r"\b(moved|renamed|open|person_notified)\b", text)
    # cells stay on one line at this width: the table scrolls sideways inside the grid instead
    heights = page.evaluate("""() => [...document.querySelectorAll('.wb-discrepancy-table tbody td')]
        .map(td => td.getBoundingClientRect().height)""")
    assert heights and max(heights) < 40, max(heights)
    # the kind chart counts every matching discrepancy, not the 50 shown
    chart = page.locator("svg.wb-chart")
    expect(chart).to_be_visible()
    bars = [int(n.replace(",", "")) for n in chart.locator("text").all_text_contents() if re.fullmatch(r"[\d,]+", n)]
    assert sum(bars) == total, (bars, total)
    page.screenshot(path=str(ARTIFACTS / f"grid-{size}-1-queue.png"))

    # 次へ: the second page
    grid.get_by_role("button", name="次へ").click()
    expect(count).to_contain_text(f"51–100 / 全 {total} 件")
    # sort by 相違番号, descending: the DX… rows come first
    grid.locator(".widget-dropdown", has_text="並べ替え").locator("select").select_option(label="相違番号")
    grid.locator("select").nth(1).select_option(index=1)
    expect(count).to_contain_text(f"1–50 / 全 {total} 件")
    expect(_grid_rows(page).first).to_contain_text(f"DX{EXTRA - 1:06d}")
    # filter: one discrepancy by its number
    box = grid.locator("input[type=text]").first
    box.fill(f"DX{7:06d}")
    box.press("Enter")
    expect(count).to_contain_text("1–1 / 全 1 件")
    expect(_grid_rows(page)).to_have_count(1)
    page.screenshot(path=str(ARTIFACTS / f"grid-{size}-2-filtered.png"))

    # a click on the row: it becomes the current item and the person's page opens below
    _grid_rows(page).first.click()
    expect(page.locator(".wb-current")).to_contain_text(f"DX{7:06d}")
    person = page.locator("table.wb-person")
    expect(person).to_be_visible()
    expect(person).to_contain_text("宛名番号")
    notified = page.get_by_role("button", name="本人へ通知済み / Notified")
    expect(notified).to_be_enabled()
    person.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"grid-{size}-3-person.png"))

    # the grid's front-end (the anywidget extension) is served to this session and to no one else
    assets = page.evaluate("() => performance.getEntriesByType('resource').map(e => e.name)"
                           ".filter(n => n.includes('anywidget'))")
    assert assets, "the anywidget extension was not loaded"
    asset = assets[0]
    assert page.context.request.get(asset).status == 200
    try:
        status = urllib.request.urlopen(asset, timeout=10).status  # no cookie, no session
    except urllib.error.HTTPError as exc:
        status = exc.code
    assert status in (401, 403), (asset, status)
    page.get_by_role("button", name="ログアウト / Log out").click()
    page.context.close()
    assert grid_server.tracebacks() == []


def _number(text: str, pattern: str) -> int:
    found = re.search(pattern, text)
    assert found is not None, text
    return int(found.group(1).replace(",", ""))


def _settled(first: Callable[[], int], second: Callable[[], int], seconds: float = 30) -> tuple[int, int]:
    """Two figures on one screen, read until they agree (or the time is up: then as they stand)."""
    deadline = time.monotonic() + seconds
    while True:
        a, b = first(), second()
        if a == b or time.monotonic() > deadline:
            return a, b
        time.sleep(0.2)


@pytest.mark.parametrize("size", list(SIZES))
def test_auditor_pages_the_log_and_the_ledger(grid_server: Server, chromium: Any, size: str) -> None:
    from playwright.sync_api import expect

    user = {"wide": "auditor", "narrow": "auditor2"}[size]
    page = _log_in(chromium, grid_server, SIZES[size], user)
    page.locator(".wb-menu").get_by_role("button", name="操作ログ監査").click()
    page.get_by_role("button", name="検索 / Search").click()
    grid = page.locator(".wb-record-grid").first
    count = grid.locator(".wb-grid-count")
    expect(count).to_contain_text(re.compile(r"1–[\d,]+ / 全 [\d,]+ 件"))
    summary = page.get_by_text(re.compile("該当 / matching"))
    # the count is of every match, not of the page; read once both show the same search (the log
    # grows while the test runs: the search itself and other logins are entries)
    total, matching = _settled(lambda: _number(count.inner_text(), r"全 ([\d,]+) 件"),
                               lambda: _number(summary.inner_text(), r"matching: ([\d,]+) 件"))
    assert total == matching
    expect(page.locator(".wb-audit-table table.dataTable tbody tr")).to_have_count(min(50, total))
    text = page.locator(".wb-audit-table").inner_text()
    assert "ログイン" in text and "auth.login" not in text
    page.screenshot(path=str(ARTIFACTS / f"grid-{size}-4-audit.png"))
    page.get_by_role("button", name="媒体管理簿 / Media ledger").click()
    expect(page.locator(".wb-ledger-table")).to_contain_text(re.compile("差戻リスト|番号収集リスト|対象者リスト"))
    ledger_text = page.locator(".wb-ledger-table").inner_text()
    assert not re.search(r"\b(return_list|collection_list|housing_office)\b", ledger_text)
    page.locator(".wb-ledger-table").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"grid-{size}-5-ledger.png"))
    page.get_by_role("button", name="ログアウト / Log out").click()
    page.context.close()
    assert grid_server.tracebacks() == []
