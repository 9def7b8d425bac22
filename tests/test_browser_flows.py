"""Whole flows in a real browser, each through the real login form (Voila + Debian's Chromium).

1. The registrar uploads a contractor return through the file chooser, previews, confirms
   (the check before sending the return list) and sees the counts and the return-list package.
2. The query operator previews a P1 information batch (local tax) and requests approval;
   the approver approves it in 承認待ち一覧; the query operator makes the file behind the
   check before sending and sees the package with its media-ledger entry.
3. The reviewer opens the Juki-net discrepancy queue the demo holds.

Each flow logs in a different demo account, so no one-time code is used twice.  The
``server`` fixture is the one from :mod:`tests.test_browser` (this module starts its own).
Screenshots go to ``test-artifacts/flow-*.png``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.test_browser import ARTIFACTS, PERSONS, UI_TIMEOUT, Server, chromium_browser, code_for, server
from workbench.demo import DEMO_PASSWORD
from workbench.simulate import generate_world
from workbench.simulate.contractor import contractor_return_with_truth

pytestmark = pytest.mark.browser

__all__ = ["server"]  # the shared module-scoped fixture, re-exported so pytest finds it here

VIEWPORT = {"width": 1280, "height": 1200}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium_browser() as launched:
        yield launched

def log_in(browser: Any, server: Server, user_id: str, role_ja: str) -> Any:
    """A fresh context and page, logged in through the form with the account's current code."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport=VIEWPORT, locale="ja-JP")
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT)
    page.goto(server.url, timeout=UI_TIMEOUT)
    login = page.locator(".wb-login")
    expect(login).to_be_visible(timeout=UI_TIMEOUT)
    texts = login.locator("input[type=text]")
    texts.nth(0).fill(user_id)
    login.locator("input[type=password]").fill(DEMO_PASSWORD)
    texts.nth(1).fill(code_for(server, user_id))
    login.get_by_role("button", name="ログイン / Log in").click()
    expect(page.locator(".wb-menu")).to_be_visible(timeout=UI_TIMEOUT)
    expect(page.get_by_text(f"{user_id} さん（{role_ja}）がログイン中")).to_be_visible()
    return page


def log_out(page: Any) -> None:
    from playwright.sync_api import expect

    page.get_by_role("button", name="ログアウト / Log out").click()
    expect(page.locator(".wb-login")).to_be_visible()
    page.context.close()


def open_app(page: Any, name: str) -> None:
    page.locator(".wb-menu").get_by_role("button", name=name).click()


def no_traceback(server: Server) -> None:
    assert server.tracebacks() == []


def _unregistered_return(tmp_path: Path) -> tuple[Path, int]:
    """A contractor return (error rate 0.2) for living people build_demo left unregistered."""
    world = generate_world(PERSONS, seed=1)  # build_demo's default seed
    rng = np.random.default_rng(1)  # as build_demo draws who came back
    living = world.persons[~world.persons["deceased"].to_numpy(dtype=bool)]
    came_back = rng.random(len(living)) < 0.7
    people = living[~came_back].head(30)
    data, truth = contractor_return_with_truth(world, persons=people, seed=7, error_rate=0.2)
    returned = int((truth["outcome"] == "returned").sum())
    assert returned > 0, "the drawn file should hold rows to return"
    path = tmp_path / "contractor-return-browser.csv"
    path.write_bytes(data)
    return path, len(truth)


def test_registrar_registers_a_contractor_return(server: Server, browser: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    path, rows = _unregistered_return(tmp_path)
    page = log_in(browser, server, "registrar", "番号登録担当")
    open_app(page, "対象者取込・番号登録")

    upload = page.locator(".widget-upload", has_text="登録ファイルを選択")
    expect(upload).to_be_visible(timeout=UI_TIMEOUT)
    # ipywidgets 8 keeps the FileUpload's <input type=file> out of the DOM and clicks it from
    # the button, so the file goes in through the chooser that click opens
    with page.expect_file_chooser() as chooser:
        upload.click()
    chooser.value.set_files(str(path))
    expect(upload).to_contain_text("(1)", timeout=UI_TIMEOUT)  # ipywidgets counts the chosen file

    preview = page.get_by_role("button", name="内容を確認 / Preview").nth(1)  # the F0 box has its own Preview
    preview.click()
    summary = page.locator(".wb-reg-summary")
    expect(summary).to_contain_text("確認（未登録）/ preview, nothing written", timeout=UI_TIMEOUT)
    expect(summary).to_contain_text(path.name)
    expect(summary).to_contain_text(f"{rows} 行")
    expect(summary).to_contain_text("差戻し")
    expect(page.locator(".wb-return-list")).to_have_count(0)  # nothing written yet

    # the check before sending: the return list goes to the contractor
    confirm = page.locator(".wb-confirm")
    expect(confirm).to_contain_text("番号収集委託事業者")
    ok = page.get_by_role("button", name="作成する")
    expect(ok).to_be_disabled()
    page.locator(".widget-checkbox", has_text="送付先と件数を確認しました").locator("input").check()
    expect(ok).to_be_enabled()
    page.screenshot(path=str(ARTIFACTS / "flow-1-registration-preview.png"), full_page=True)
    ok.click()

    expect(summary).to_contain_text("登録結果 / registered", timeout=UI_TIMEOUT)
    expect(page.locator(".wb-banner")).to_contain_text("登録しました: 登録", timeout=UI_TIMEOUT)
    registered = re.search(r"登録 (\d+) 件、差戻し (\d+) 件", page.locator(".wb-banner").inner_text())
    assert registered and int(registered.group(1)) > 0 and int(registered.group(2)) > 0
    returns = page.locator(".wb-return-list")
    expect(returns).to_be_visible(timeout=UI_TIMEOUT)
    expect(returns).to_contain_text("差戻リスト（送付用パッケージ）")
    expect(returns).to_contain_text("番号収集委託事業者")
    expect(returns.locator("td").first).to_contain_text(re.compile(r"\S"))
    expect(page.locator("svg.wb-chart").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "flow-1-registration-done.png"), full_page=True)
    log_out(page)
    no_traceback(server)


def test_query_batch_requested_approved_and_made(server: Server, browser: Any) -> None:
    from playwright.sync_api import expect

    query = log_in(browser, server, "query", "情報照会担当")
    open_app(query, "照会ファイルの作成")
    # the F2/F3 box: the innermost box holding its heading (the F6 linkage box below has its own fields)
    box = query.locator(".widget-vbox").filter(has=query.locator("h4", has_text="Query batch (F2, F3)")).last
    expect(box.locator(".widget-dropdown", has_text="手続 / Procedure").locator("select")).to_contain_text("P1")
    year = box.locator(".widget-dropdown", has_text="年度").locator("select")
    expect(year).to_contain_text("2026年度（令和8年度）")
    year.select_option(label="2026年度（令和8年度）")
    # local tax only: untick every other information kind P1 may ask
    for label in ("住民票関係情報", "生活保護関係情報", "身体障害者手帳関係情報", "精神障害者保健福祉手帳関係情報", "愛の手帳関係情報"):
        box.locator(".widget-checkbox", has_text=label).locator("input").uncheck()
    expect(box.locator(".widget-checkbox", has_text="地方税関係情報").locator("input")).to_be_checked()

    box.get_by_role("button", name="件数を確認 / Preview").click()
    summary = query.locator(".wb-batch-summary")
    expect(summary).to_contain_text("照会する件数 / requests:", timeout=UI_TIMEOUT)
    expect(summary).to_contain_text("2026年度")
    total = int(query.locator(".wb-batch-total").inner_text().replace(",", ""))
    assert total > 0
    table = query.locator(".wb-batch-table table")
    expect(table).to_contain_text("地方税関係情報")
    expect(table).not_to_contain_text("生活保護関係情報")

    box.get_by_role("button", name="作成の承認を依頼 / Request approval").click()
    requested = box.locator(".wb-approval-requested")
    expect(requested).to_contain_text("承認番号 / approval:", timeout=UI_TIMEOUT)
    approval_id = requested.locator("b").inner_text().strip()
    assert approval_id
    make = query.get_by_role("button", name="承認済みの情報照会ファイルを作成 / Make file")
    expect(make).to_be_disabled()  # not before the approval (issue 11 item 4); the state says why
    expect(query.locator(".wb-approval-state")).to_contain_text("承認待ち", timeout=UI_TIMEOUT)
    query.screenshot(path=str(ARTIFACTS / "flow-2-batch-requested.png"), full_page=True)

    # the approver, in a browser context of their own
    approver = log_in(browser, server, "approver", "承認者")
    open_app(approver, "承認待ち一覧")
    item = approver.locator(".wb-approval", has_text=approval_id)
    expect(item).to_be_visible(timeout=UI_TIMEOUT)
    expect(item).to_contain_text("情報照会ファイルの作成")
    expect(item).to_contain_text("依頼者 / by: query")
    row = item.locator("xpath=ancestor::div[contains(@class, 'widget-hbox')][1]")
    row.get_by_role("button", name="承認 / Approve").click()
    expect(approver.locator(".wb-banner")).to_contain_text(f"{approval_id} を承認しました", timeout=UI_TIMEOUT)
    expect(approver.locator(".wb-approval", has_text=approval_id)).to_have_count(0)
    approver.screenshot(path=str(ARTIFACTS / "flow-2-approved.png"), full_page=True)
    log_out(approver)

    # back to the query operator: the approval checked on the same screen, then the file behind
    # the check before sending
    query.get_by_role("button", name="承認の状況を確認 / Check approval", disabled=False).click()
    expect(query.locator(".wb-approval-state")).to_contain_text("承認済み", timeout=UI_TIMEOUT)
    expect(make).to_be_enabled()
    make.click()
    confirm = query.locator(".wb-confirm")
    expect(confirm).to_contain_text("団体内統合宛名システム（中間サーバー連携）", timeout=UI_TIMEOUT)
    expect(confirm).to_contain_text(f"承認番号 {approval_id}")
    ok = query.get_by_role("button", name="作成する")
    expect(ok).to_be_disabled()
    query.locator(".widget-checkbox", has_text="送付先と件数を確認しました").locator("input").check()
    expect(ok).to_be_enabled()
    ok.click()

    package = query.locator(".wb-package").filter(has_text="照会ファイルの送付用パッケージを作成しました")
    expect(package).to_be_visible(timeout=UI_TIMEOUT)
    expect(package).to_contain_text(approval_id)
    expect(package).to_contain_text("団体内統合宛名システム（中間サーバー連携）")
    expect(package).to_contain_text("媒体管理簿番号")
    expect(query.locator(".wb-banner")).to_contain_text("送付用パッケージを作成しました")
    query.screenshot(path=str(ARTIFACTS / "flow-2-batch-made.png"), full_page=True)
    log_out(query)
    no_traceback(server)


def test_reviewer_sees_juki_discrepancies(server: Server, browser: Any) -> None:
    from playwright.sync_api import expect

    page = log_in(browser, server, "reviewer", "審査担当")
    open_app(page, "番号相違の確認")
    table = page.locator(".wb-discrepancy-table")
    expect(table).to_be_visible(timeout=UI_TIMEOUT)
    expect(table.locator("tbody tr").first).to_be_visible(timeout=UI_TIMEOUT)
    assert table.locator("tbody tr").count() >= 1
    expect(table).to_contain_text(re.compile("転居|氏名変更|死亡"))
    expect(table).to_contain_text("未対応")
    notified = page.get_by_role("button", name="本人へ通知済み / Notified")
    expect(notified).to_be_disabled()  # nothing is chosen for the reviewer
    table.locator("tbody tr").first.click()  # a row of the grid is the current item (issue 11 item 6)
    expect(notified).to_be_enabled()
    page.screenshot(path=str(ARTIFACTS / "flow-3-discrepancies.png"), full_page=True)
    log_out(page)
    no_traceback(server)
