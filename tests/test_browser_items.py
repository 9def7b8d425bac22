"""Issue 11 in real Chromium at 1400×900 and 1024×768: every role's screens, and each item.

**The walk**: each demo role logs in once through the server's /login page; its home screen
and every app on its menu are opened at both sizes and must show no raw code from the label
table, no cut-off label, no long count without separators and (at 1024 px) no sideways
scrollbar.  Screenshots: ``test-artifacts/walk-<role>-<app>-<width>.png``.

**One test per item** (1–5, 7–11; item 6 is the data grid's own), on the same server, each
logging in accounts of its own (:func:`fresh_user`: no one-time code is waited for); each
screen that matters is checked and kept at both sizes: ``test-artifacts/item<N>-…-<width>.png``.
(The session's end — idle limit, hours, restart — is in :mod:`tests.test_browser_session`.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser_helpers import SIZES, fresh_user, log_in, page_problems, shot, wait_idle
from tests.test_browser import PERSONS, UI_TIMEOUT, Server, as_user, chromium_browser, server
from widgets.common import tr
from widgets.dashboard import APPS
from workbench.demo import DEMO_USERS

pytestmark = pytest.mark.browser

__all__ = ["server"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium_browser() as launched:
        yield launched

def _menu(server: Server, user_id: str) -> list[str]:

    session = as_user(server, user_id)
    return [e.key for e in APPS if e.permitted(session)]


@pytest.mark.parametrize("user_id", sorted(DEMO_USERS))
def test_every_screen_of_every_role_reads_cleanly(server: Server, browser: Any, user_id: str) -> None:
    from playwright.sync_api import expect

    page = log_in(browser, server, user_id, SIZES["1400"])
    problems: dict[str, list[str]] = {}
    try:
        for key in ["home", *_menu(server, user_id)]:
            page.locator(".wb-menu").locator(f".wb-menu-{key}").click()
            expect(page.locator("h3", has_text=tr(f"app_{key}", "ja")).first).to_be_visible(timeout=UI_TIMEOUT)
            wait_idle(page)
            for size, viewport in SIZES.items():  # one opening, both screens
                page.set_viewport_size(viewport)
                shot(page, f"walk-{user_id}-{key}-{size}")
                found = page_problems(page, width=viewport["width"])
                if found:
                    problems[f"{key}@{size}"] = found
    finally:
        page.context.close()
    assert not problems, f"{user_id}:\n" + "\n".join(f"{k}: {v}" for k, v in problems.items())
    assert server.tracebacks() == []


# -- one test per item ---------------------------------------------------------------------------


def at_both_sizes(page: Any, name: str) -> None:
    """Screenshot the screen as it is at both sizes; it must read cleanly at each."""
    problems = {}
    for size, viewport in SIZES.items():
        page.set_viewport_size(viewport)
        shot(page, f"{name}-{size}")
        found = page_problems(page, width=viewport["width"])
        if found:
            problems[size] = found
    page.set_viewport_size(SIZES["1400"])
    assert not problems, f"{name}: {problems}"


def open_app(page: Any, key: str) -> None:
    from playwright.sync_api import expect

    page.locator(".wb-menu").locator(f".wb-menu-{key}").click()
    expect(page.locator("h3", has_text=tr(f"app_{key}", "ja")).first).to_be_visible(timeout=UI_TIMEOUT)
    wait_idle(page)


def test_item_9_reload_back_forward_and_logout(server: Server, browser: Any) -> None:
    """Reload keeps the person in, on the same screen (issue 20 item 3); Back/Forward never shows a dead
    page nor a login form to a logged-in person; the root is the workbench; logging out says so."""
    from playwright.sync_api import expect

    user = fresh_user(server, "reviewer")
    page = log_in(browser, server, user, SIZES["1400"])
    base = server.url.split("/voila/")[0]
    try:
        open_app(page, "person")
        page.reload()
        expect(page.locator(".wb-menu")).to_be_visible(timeout=UI_TIMEOUT)  # still logged in (the cookie)
        expect(page.get_by_text(f"{user} さん")).to_be_visible()
        expect(page.locator("h3", has_text=tr("app_person", "ja"))).to_be_visible(timeout=UI_TIMEOUT)  # where she was
        page.goto(base + "/")  # the server's root is the workbench, not a file list
        expect(page.locator(".wb-menu")).to_be_visible(timeout=UI_TIMEOUT)
        page.goto(base + "/login")  # logged in: the dashboard, never the login form
        expect(page.locator(".wb-menu")).to_be_visible(timeout=UI_TIMEOUT)
        expect(page.locator(".wb-login")).to_have_count(0)
        page.go_back()
        expect(page.locator(".wb-menu")).to_be_visible(timeout=UI_TIMEOUT)
        page.go_forward()
        expect(page.locator(".wb-menu")).to_be_visible(timeout=UI_TIMEOUT)
        expect(page.locator(".wb-login")).to_have_count(0)
        open_app(page, "review")  # the restored page works: its widgets have a live kernel
        expect(page.locator("body")).not_to_contain_text("Error displaying widget")
        expect(page.locator("body")).not_to_contain_text("model not found")
        at_both_sizes(page, "item9-after-back-forward")
        page.get_by_role("button", name="ログアウト / Log out").click()
        expect(page.locator(".wb-login .msg")).to_contain_text("ログアウトしました。")
        at_both_sizes(page, "item9-logged-out")
        page.go_back()  # after the logout, Back leads to the login page saying why
        expect(page.locator(".wb-login")).to_be_visible(timeout=UI_TIMEOUT)
    finally:
        page.context.close()


def test_item_10_home_counts_and_one_click(server: Server, browser: Any) -> None:
    from playwright.sync_api import expect

    page = log_in(browser, server, fresh_user(server, "reviewer"), SIZES["1400"])
    try:
        home = page.locator(".wb-home")
        expect(home).to_be_visible()
        card = home.locator("[class*='wb-pending-']").filter(has=page.get_by_role("button", name="開く / Open")).first
        expect(card).to_contain_text(re.compile(r"[1-9][\d,]* 件"))
        at_both_sizes(page, "item10-home")
        card.get_by_role("button", name="開く / Open").click()
        expect(page.locator("h3", has_text=tr("app_review", "ja"))).to_be_visible(timeout=UI_TIMEOUT)
        expect(page.locator(".wb-menu-review")).to_have_class(re.compile("mod-info"))
    finally:
        page.context.close()


def test_item_3_result_beside_its_button_and_stale_message_cleared(server: Server, browser: Any) -> None:
    from playwright.sync_api import expect

    page = log_in(browser, server, fresh_user(server, "reviewer"), SIZES["1024"])
    try:
        open_app(page, "review")
        table = page.locator(".wb-discrepancy-table")
        row = table.locator("tbody tr").nth(1)
        expect(row).to_be_visible(timeout=UI_TIMEOUT)
        chosen = row.locator("td").first.inner_text().strip()
        row.click()  # a row of the grid is the current item
        current = page.locator(".wb-current")
        expect(current).to_contain_text(chosen, timeout=UI_TIMEOUT)
        notified = page.get_by_role("button", name="本人へ通知済み / Notified")
        expect(notified).to_be_enabled(timeout=UI_TIMEOUT)
        notified.click()
        wait_idle(page)
        result = page.locator(".wb-banner", has_text="本人へ通知済み").first
        expect(result).to_be_visible(timeout=UI_TIMEOUT)
        expect(result).to_be_in_viewport()  # where the eye is, without scrolling
        box, button = result.bounding_box(), notified.bounding_box()
        assert box and button and abs(box["y"] - button["y"]) < 200, (box, button)  # beside the button
        # the selection never moves to someone else by itself (a notified item leaves the open list)
        expect(table.locator("tbody tr.selected")).to_have_count(0, timeout=UI_TIMEOUT)
        expect(notified).to_be_disabled()
        at_both_sizes(page, "item3-result-beside")
        page.get_by_role("button", name="表示 / Show").click()  # the next action: the old message goes
        wait_idle(page)
        expect(page.locator(".wb-banner", has_text="本人へ通知済み")).to_have_count(0)
    finally:
        page.context.close()


def test_items_2_5_8_query_batch_approved_once(server: Server, browser: Any) -> None:
    """8: the button says 処理中 and a double click requests one approval; 2: the approver's
    card in plain Japanese with counts checked now; 5: the same batch cannot be made twice."""
    from playwright.sync_api import expect

    from workbench.core import approvals

    query_id, approver_id = fresh_user(server, "query_operator"), fresh_user(server, "approver")
    query = log_in(browser, server, query_id, SIZES["1400"])
    approver = None
    try:
        open_app(query, "batches")
        box = query.locator(".widget-vbox").filter(has=query.locator("h4", has_text="Query batch (F2, F3)")).last
        box.locator(".widget-dropdown", has_text="年度").locator("select").select_option(label="2026年度（令和8年度）")
        for info in ("住民票関係情報", "生活保護関係情報", "身体障害者手帳関係情報", "精神障害者保健福祉手帳関係情報", "愛の手帳関係情報"):
            box.locator(".widget-checkbox", has_text=info).locator("input").uncheck()
        box.get_by_role("button", name="件数を確認 / Preview").click()
        expect(query.locator(".wb-batch-total")).to_be_visible(timeout=UI_TIMEOUT)
        total = int(query.locator(".wb-batch-total").inner_text().replace(",", ""))
        assert total > 0

        # item 8: watch the button while it works; click it twice
        query.evaluate("""() => { window.wbBusySeen = false;
            new MutationObserver(() => { if (document.querySelector('.wb-busy')
                && document.body.innerText.includes('処理中')) window.wbBusySeen = true; })
              .observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true}); }""")
        request = box.get_by_role("button", name="作成の承認を依頼 / Request approval")
        request.dblclick()
        requested = box.locator(".wb-approval-requested")
        expect(requested).to_contain_text("承認番号 / approval:", timeout=UI_TIMEOUT)
        wait_idle(query)
        assert query.evaluate("() => window.wbBusySeen"), "the button never showed 処理中"
        approval_id = requested.locator("b").inner_text().strip()
        mine = [a for a in approvals.pending(as_user(server, "approver")) if a.requested_by == query_id]
        assert len(mine) == 1, "a double click requested two approvals"
        at_both_sizes(query, "item8-requested-once")

        # item 2: the approver's card
        approver = log_in(browser, server, approver_id, SIZES["1400"])
        open_app(approver, "approvals")
        card = approver.locator(".wb-approval", has_text=approval_id)
        expect(card).to_contain_text("地方税関係情報", timeout=UI_TIMEOUT)
        expect(card).to_contain_text("2026年度")
        expect(card).not_to_contain_text("2,026")
        expect(card).not_to_contain_text("local_tax")
        expect(card).not_to_contain_text("not_filed")
        row = card.locator("xpath=ancestor::div[contains(@class, 'widget-hbox')][1]")
        row.get_by_role("button", name="今のデータで確認 / Check now").click()
        expect(card).to_contain_text(f"現在のデータで確認済み: {total:,} 件", timeout=UI_TIMEOUT)
        expect(card).to_contain_text(re.compile(r"人"))
        at_both_sizes(approver, "item2-approval-card")
        row.get_by_role("button", name="承認 / Approve").click()
        expect(approver.locator(".wb-banner")).to_contain_text(f"{approval_id} を承認しました", timeout=UI_TIMEOUT)

        # the file is made once
        query.get_by_role("button", name="承認の状況を確認 / Check approval", disabled=False).click()
        expect(query.locator(".wb-approval-state")).to_contain_text("承認済み", timeout=UI_TIMEOUT)
        query.get_by_role("button", name="承認済みの情報照会ファイルを作成 / Make file").click()
        query.locator(".widget-checkbox", has_text="送付先と件数を確認しました").locator("input").check()
        query.get_by_role("button", name="作成する").click()
        expect(query.locator(".wb-package").filter(has_text="照会ファイルの送付用パッケージを作成しました")).to_be_visible(
            timeout=UI_TIMEOUT)

        # item 5: the same preview again leaves everyone out, with their own reason
        box.get_by_role("button", name="件数を確認 / Preview").click()
        expect(query.locator(".wb-batch-total")).to_have_text("0", timeout=UI_TIMEOUT)
        expect(query.locator(".wb-batch-table")).to_contain_text("回答を待っています")
        expect(request).to_be_disabled()
        at_both_sizes(query, "item5-second-batch-refused")
    finally:
        query.context.close()
        if approver is not None:
            approver.context.close()


def test_items_1_4_7_registrar_large_change_and_return_list(server: Server, browser: Any, tmp_path: Path) -> None:
    """4: a list that would drop most people asks for the number first; 7: the return list's
    rows on screen (line, reason in Japanese, no number) and its package to download; 1: no code."""
    from playwright.sync_api import expect

    from tests.test_browser_flows import _unregistered_return
    from workbench.files import formats
    from workbench.simulate import generate_world
    from workbench.simulate.housing import target_frame

    frame = target_frame(generate_world(PERSONS, seed=1), seed=1)  # the demo's list, cut to a tenth
    short_list = tmp_path / "targets-short.csv"
    short_list.write_bytes(formats.write_table(frame.head(len(frame) // 10), "housing_targets", encoding="utf-8"))
    page = log_in(browser, server, fresh_user(server, "registrar"), SIZES["1400"])
    try:
        open_app(page, "registration")
        with page.expect_file_chooser() as chooser:
            page.locator(".widget-upload", has_text="対象者リストを選択").click()
        chooser.value.set_files(str(short_list))
        page.get_by_role("button", name="内容を確認 / Preview").first.click()
        warning = page.locator(".wb-large-change")
        expect(warning).to_contain_text(re.compile(r"注意: [\d,]+ 人が対象外になります"), timeout=UI_TIMEOUT)
        imp = page.locator("button[title='取り込む / Import']")
        expect(imp).to_be_disabled()  # not before the number is confirmed
        at_both_sizes(page, "item4-large-change")

        path, _rows = _unregistered_return(tmp_path)
        with page.expect_file_chooser() as chooser:
            page.locator(".widget-upload", has_text="登録ファイルを選択").click()
        chooser.value.set_files(str(path))
        page.get_by_role("button", name="内容を確認 / Preview").nth(1).click()
        page.locator(".widget-checkbox", has_text="送付先と件数を確認しました").locator("input").check()
        page.get_by_role("button", name="作成する").click()
        returns = page.locator(".wb-return-list")
        expect(returns).to_be_visible(timeout=UI_TIMEOUT)
        text = returns.inner_text()
        assert not re.search(r"\d{12}", text), "a number on the return list"
        expect(returns).to_contain_text("受け渡し")
        expect(returns.locator("tbody").last.locator("tr").first).to_be_visible()
        assert re.search("[ぁ-んァ-ン一-龥]", returns.locator("tbody").last.locator("td").nth(1).inner_text())
        deliver = page.locator(".wb-deliver")
        expect(deliver).to_be_visible()
        deliver.get_by_role("button", name="媒体に保存するファイルを用意 / Prepare download").click()
        expect(page.locator("a.wb-download")).to_be_visible(timeout=UI_TIMEOUT)
        at_both_sizes(page, "item7-return-list")
    finally:
        page.context.close()


def test_items_1_11_auditor_reads_user_ids_and_japanese_operations(server: Server, browser: Any) -> None:
    from playwright.sync_api import expect

    page = log_in(browser, server, fresh_user(server, "auditor"), SIZES["1400"])
    try:
        open_app(page, "audit")
        page.locator(".widget-text", has_text="操作 / Operation").locator("input").fill("ログイン")
        page.get_by_role("button", name="検索 / Search").click()
        wait_idle(page)
        body = page.locator("body")
        expect(body).to_contain_text("ログイン")
        expect(body).to_contain_text("registrar")  # user IDs, not pseudonyms
        at_both_sizes(page, "item1-11-audit")
    finally:
        page.context.close()
