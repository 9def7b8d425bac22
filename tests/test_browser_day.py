"""A day in the office, in real Chromium (issue 20, "Done when"): each role's work handed to the next, and
each person finding their next item from the inbox (ホーム・未処理の業務) alone.

registrar → approver → registrar → query → approver → query imports answers → reviewer → approver → auditor:

1. the registrar asks for the collection list (F0b);
2. the approver finds the request in the inbox, 開く lands on it chosen, approves;
3. the registrar finds it approved in the inbox, 開く lands on the collection list with it entered, makes the
   file; the inbox names the file not yet handed over, 開く lands on it: download, 受け渡し済み;
4. the query operator asks for a Juki-net query batch (F3);
5. the approver (in a second tab) finds it, approves;
6. the query operator finds it approved, makes the file and hands it over (the download is what Juki-net
   answers, through the project's simulator); the inbox names the batch waiting for answers, 開く lands on
   the answers' upload naming it; the answer package is uploaded, previewed and imported (F5);
7. the reviewer finds a discrepancy from that batch in the inbox, 開く lands on it chosen; asks for the
   notice list (通知対象者リスト);
8. the approver finds it, approves;
9. the auditor finds the day's approvals in the inbox, 開く lands on the log of one: who asked, who decided,
   what it allowed; the chain verified.

Between every hand-off there is a reload, a logout and a login, or a second tab.  After every screen the
page is checked for raw codes, cut labels and bare counts (:func:`tests.browser_helpers.page_problems`), and
at the end the server's log holds no traceback.  One demo server (300 persons, the module fixture of
:mod:`tests.test_browser`), one browser, a context per person, no sleeps: every person is a fresh account,
so each logs in once with a one-time code nobody used.  Screenshots: ``test-artifacts/day-*.png``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser_helpers import SIZES, fresh_user, log_in, page_problems, shot, wait_idle
from tests.test_browser import PERSONS, UI_TIMEOUT, Server, chromium_browser, server
from workbench.core.workspace import Workspace
from workbench.intake import collection
from workbench.queries import discrepancies
from workbench.simulate import generate_world, juki

pytestmark = pytest.mark.browser

__all__ = ["server"]  # the shared module-scoped demo server, re-exported so pytest finds it here

VIEWPORT = SIZES["1024"]
T = UI_TIMEOUT


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium_browser() as launched:
        yield launched


class Day:
    """What the walk shares: the screens' checks, gathered, and the screenshots numbered in order."""

    def __init__(self) -> None:
        self.problems: dict[str, list[str]] = {}
        self.step = 0

    def check(self, page: Any, name: str) -> None:
        """After a screen: a picture, and whatever a clerk should not meet on it."""
        wait_idle(page)
        self.step += 1
        label = f"day-{self.step:02d}-{name}"
        shot(page, label)
        found = page_problems(page, width=VIEWPORT["width"])
        if found:
            self.problems[label] = found


def home(page: Any) -> None:
    """The inbox (ホーム), read again from the database."""
    from playwright.sync_api import expect

    page.locator(".wb-menu-home").click()
    expect(page.locator(".wb-home")).to_be_visible(timeout=T)
    wait_idle(page)


def open_from_inbox(page: Any, source: str, names: str) -> Any:
    """The inbox names the item (``names`` in its row, of the kind ``source``); its 開く is pressed."""
    from playwright.sync_api import expect

    item = page.locator(f".wb-inbox-{source}", has_text=names)
    expect(item).to_have_count(1, timeout=T)
    expect(item).to_be_visible()
    item.locator(".wb-inbox-open").click()
    wait_idle(page)
    return item


def reload_page(page: Any) -> None:
    """A hand-off by reload: the same person's page loaded again lands on its menu."""
    from playwright.sync_api import expect

    page.reload()
    expect(page.locator(".wb-menu")).to_be_visible(timeout=T)


def open_approved(page: Any, approval_id: str, flow: Any) -> None:
    """From the inbox (ホーム), 開く on one's own approved request lands on the flow, shown as 承認済み."""
    from playwright.sync_api import expect

    home(page)
    open_from_inbox(page, "my_approved_requests", approval_id)
    expect(flow.locator(".wb-approval-state")).to_contain_text(f"{approval_id}: 承認済み", timeout=T)


def confirm_and_make(page: Any, flow: Any) -> str:
    """作成 behind the check before sending; returns the media-ledger entry of the package written."""
    from playwright.sync_api import expect

    flow.get_by_role("button", name=re.compile("Make file")).click()
    expect(flow.locator(".wb-confirm")).to_be_visible(timeout=T)
    ok = flow.get_by_role("button", name="作成する")
    expect(ok).to_be_disabled()
    flow.locator(".widget-checkbox", has_text="送付先と件数を確認しました").locator("input").check()
    ok.click()
    package = flow.locator(".wb-package")
    expect(package).to_contain_text("媒体管理簿番号", timeout=T)
    entry = re.search(r"\bM[0-9A-F]{11}\b", package.inner_text())
    assert entry, package.inner_text()
    return entry.group(0)


def hand_over(page: Any, entry: str, save_to: Path | None = None) -> None:
    """From the inbox: the file not yet handed over, its download (kept at ``save_to``), 受け渡し済み."""
    from playwright.sync_api import expect

    home(page)
    open_from_inbox(page, "copies_not_delivered", entry)
    chosen = page.locator(".wb-handover-chosen")
    expect(chosen).to_contain_text(entry, timeout=T)
    chosen.get_by_role("button", name=re.compile("媒体に保存するファイルを用意")).click()
    link = chosen.locator("a.wb-download")
    expect(link).to_be_visible(timeout=T)
    if save_to is not None:
        with page.expect_download(timeout=T) as download:
            link.click()
        download.value.save_as(str(save_to))
    chosen.locator(".widget-checkbox", has_text="受け渡しが完了したことを確認しました").locator("input").check()
    chosen.get_by_role("button", name=re.compile("受け渡し済みにする")).click()
    expect(chosen.locator(".wb-delivered")).to_contain_text(entry, timeout=T)


def approve_from_inbox(page: Any, approval_id: str, what: str) -> None:
    """The approver: the request named in the inbox, 開く lands on it chosen (first, marked), 承認."""
    from playwright.sync_api import expect

    home(page)
    open_from_inbox(page, "approvals_waiting", approval_id)
    chosen = page.locator(".wb-approval-chosen")
    expect(chosen).to_contain_text(approval_id, timeout=T)
    expect(chosen).to_contain_text(what)
    chosen.get_by_role("button", name="承認 / Approve").click()
    expect(page.locator(".wb-banner")).to_contain_text(f"{approval_id} を承認しました", timeout=T)


def test_a_day_in_the_office(server: Server, browser: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    day = Day()
    registrar, approver, query, reviewer, auditor = (fresh_user(server, role, stem) for role, stem in (
        ("registrar", "dayreg"), ("approver", "dayapp"), ("query_operator", "dayqry"), ("reviewer", "dayrev"),
        ("auditor", "dayaud")))
    pages: list[Any] = []
    try:
        # 1. the registrar asks for the collection list for the contractor (F0b)
        reg = log_in(browser, server, registrar, VIEWPORT)
        pages.append(reg)
        day.check(reg, "registrar-home")
        reg.locator(".wb-menu-registration").click()
        flow = reg.locator(f".wb-outgoing-{collection.SPEC.kind}")
        flow.get_by_role("button", name="件数を確認 / Preview").click()
        expect(flow.locator(".wb-outgoing-summary")).to_be_visible(timeout=T)
        flow.get_by_role("button", name="送付の承認を依頼 / Request approval").click()
        requested = flow.locator(".wb-approval-requested b")
        expect(requested).to_have_text(re.compile(r"^A[0-9A-F]+$"), timeout=T)
        collection_id = requested.inner_text().strip()
        day.check(reg, "registrar-requests-collection-list")

        # hand-off — a login: the approver's own browser
        appr = log_in(browser, server, approver, VIEWPORT)
        pages.append(appr)
        # 2. the approver: the request named in the inbox, opened, approved
        expect(appr.locator(".wb-inbox-approvals_waiting", has_text=collection_id)).to_be_visible(timeout=T)
        day.check(appr, "approver-inbox")
        approve_from_inbox(appr, collection_id, "番号収集リスト")
        day.check(appr, "approver-approved-collection-list")

        # hand-off — a reload of the registrar's page
        reload_page(reg)
        # 3. the registrar: the approved request in the inbox, 開く lands on it; the file; its hand-over
        flow = reg.locator(f".wb-outgoing-{collection.SPEC.kind}")
        open_approved(reg, collection_id, flow)
        day.check(reg, "registrar-opens-approved-request")
        entry = confirm_and_make(reg, flow)
        day.check(reg, "registrar-made-collection-list")
        hand_over(reg, entry)
        day.check(reg, "registrar-handed-over")

        # hand-off — a logout, and the query operator's login
        reg.get_by_role("button", name="ログアウト / Log out").click()
        expect(reg.locator(".wb-login")).to_be_visible(timeout=T)
        qry = log_in(browser, server, query, VIEWPORT)
        pages.append(qry)
        day.check(qry, "query-home")
        # 4. the query operator asks for a Juki-net identity check of this year's P1 filers (F3)
        qry.locator(".wb-menu-batches").click()
        box = qry.locator(".widget-vbox").filter(has=qry.locator("h4", has_text="Query batch (F2, F3)")).last
        box.get_by_role("button", name=re.compile("住基ネット照会")).click()
        box.get_by_role("button", name="件数を確認 / Preview").click()
        expect(qry.locator(".wb-batch-summary")).to_contain_text("照会する件数", timeout=T)
        box.get_by_role("button", name="作成の承認を依頼 / Request approval").click()
        requested = box.locator(".wb-approval-requested b")
        expect(requested).to_have_text(re.compile(r"^A[0-9A-F]+$"), timeout=T)
        batch_approval = requested.inner_text().strip()
        day.check(qry, "query-requests-juki-batch")

        # hand-off — a second tab of the approver's: it works, and the first says the login moved
        first_tab = appr
        appr = appr.context.new_page()
        appr.set_default_timeout(T)
        pages.append(appr)
        appr.goto(server.url, timeout=T)
        expect(appr.locator(".wb-menu")).to_be_visible(timeout=T)
        first_tab.bring_to_front()
        first_tab.evaluate("() => window.dispatchEvent(new Event('focus'))")
        expect(first_tab.locator(".wb-moved")).to_contain_text("別のタブ", timeout=T)
        appr.bring_to_front()
        # 5. the approver approves the batch
        approve_from_inbox(appr, batch_approval, "住基ネット")
        day.check(appr, "approver-approved-juki-batch")

        # hand-off — a reload of the query operator's page
        reload_page(qry)
        # 6. the query operator: the approved batch from the inbox, the file, its hand-over …
        box = qry.locator(".widget-vbox").filter(has=qry.locator("h4", has_text="Query batch (F2, F3)")).last
        open_approved(qry, batch_approval, box)
        day.check(qry, "query-opens-approved-batch")
        entry = confirm_and_make(qry, box)
        batch_id = re.search(r"\bJB\w+\b", box.locator(".wb-package").inner_text())
        assert batch_id, box.locator(".wb-package").inner_text()
        day.check(qry, "query-made-juki-batch")
        sent = tmp_path / "juki-request.wbpkg"
        hand_over(qry, entry, save_to=sent)
        day.check(qry, "query-handed-over")
        # … Juki-net answers what was handed over (the project's simulator, a later state of the same people)
        later, _ = generate_world(PERSONS, seed=1).evolve(seed=7, move_rate=0.05, rename_rate=0.02, death_rate=0.01)
        (answer,) = juki.answer_package(Workspace.load(server.workspace), sent, later, tmp_path / "answers", seed=7)
        # … the inbox names the batch waiting for answers; 開く lands on the answers' upload, naming it
        home(qry)
        open_from_inbox(qry, "answers_waiting", batch_id.group(0))
        expect(qry.locator(".wb-answers-for")).to_contain_text(batch_id.group(0), timeout=T)
        incoming = qry.locator(".wb-incoming")
        with qry.expect_file_chooser(timeout=T) as chooser:
            incoming.locator(".widget-upload").click()
        chooser.value.set_files(str(answer))
        incoming.get_by_role("button", name="内容を確認 / Preview").click()
        expect(incoming.locator(".widget-checkbox", has_text="件数と取り込む内容を確認しました")).to_be_visible(timeout=T)
        day.check(qry, "query-previews-answers")
        incoming.locator(".widget-checkbox", has_text="件数と取り込む内容を確認しました").locator("input").check()
        incoming.get_by_role("button", name="取り込む / Import").click()
        # the note above the upload: the batch answered, and what went on to the reviewer
        done = qry.locator(".wb-answers-done")
        expect(done).to_contain_text(batch_id.group(0), timeout=T)
        expect(done).to_contain_text("番号相違の確認")
        # the copy on the medium the answers came on is deleted, and that is recorded (C9)
        expect(incoming.locator(".wb-medium-copy")).to_be_visible(timeout=T)
        incoming.locator(".widget-checkbox", has_text="媒体上のファイルを削除しました").locator("input").check()
        incoming.get_by_role("button", name="削除を記録 / Record the deletion").click()
        expect(incoming.locator(".wb-medium-copy-done")).to_be_visible(timeout=T)
        day.check(qry, "query-imported-answers")
        home(qry)
        expect(qry.locator(".wb-inbox-answers_waiting", has_text=batch_id.group(0))).to_have_count(0, timeout=T)

        # hand-off — a logout, and the reviewer's login
        qry.get_by_role("button", name="ログアウト / Log out").click()
        expect(qry.locator(".wb-login")).to_be_visible(timeout=T)
        rev = log_in(browser, server, reviewer, VIEWPORT)
        pages.append(rev)
        day.check(rev, "reviewer-inbox")
        # 7. the reviewer: a discrepancy the batch found, named in the inbox, opened chosen; the notice list asked for
        found = rev.locator(".wb-inbox-discrepancies_open", has_text=batch_id.group(0)).first
        expect(found).to_be_visible(timeout=T)
        discrepancy = found.locator("b").first.inner_text().split()[0]
        found.locator(".wb-inbox-open").click()
        expect(rev.locator(".wb-current")).to_contain_text(discrepancy, timeout=T)
        day.check(rev, "reviewer-opens-discrepancy")
        # … the person is reached by phone: recorded on the discrepancy; the rest go on the notice list
        rev.locator(".widget-text", has_text="メモ / Note").locator("input").fill("電話で転居届を勧奨しました")
        rev.get_by_role("button", name="本人へ通知済み / Notified").click()
        expect(rev.get_by_text(f"{discrepancy} を「本人へ通知済み」にしました")).to_be_visible(timeout=T)
        notices = rev.locator(f".wb-outgoing-{discrepancies.NOTICE_SPEC.kind}")
        notices.get_by_role("button", name="件数を確認 / Preview").click()
        expect(notices.locator(".wb-outgoing-summary")).to_be_visible(timeout=T)
        notices.get_by_role("button", name="通知対象者リストの承認を依頼 / Request approval").click()
        requested = notices.locator(".wb-approval-requested b")
        expect(requested).to_have_text(re.compile(r"^A[0-9A-F]+$"), timeout=T)
        notice_approval = requested.inner_text().strip()
        day.check(rev, "reviewer-requests-notice-list")

        # hand-off — a reload of the approver's (second) tab
        reload_page(appr)
        # 8. the approver approves the notice list, and leaves for the day
        approve_from_inbox(appr, notice_approval, "通知対象者リスト")
        day.check(appr, "approver-approved-notice-list")
        appr.get_by_role("button", name="ログアウト / Log out").click()
        expect(appr.locator(".wb-login")).to_be_visible(timeout=T)

        # hand-off — the auditor's login
        aud = log_in(browser, server, auditor, VIEWPORT)
        pages.append(aud)
        # 9. the auditor: the day's approvals named in the inbox; one opened on its trail in the log
        for approval_id in (collection_id, batch_approval, notice_approval):
            expect(aud.locator(".wb-inbox-approvals_decided_today", has_text=approval_id)).to_be_visible(timeout=T)
        day.check(aud, "auditor-inbox")
        open_from_inbox(aud, "approvals_decided_today", batch_approval)
        current = aud.locator(".wb-audit-approval")
        expect(current).to_contain_text(batch_approval, timeout=T)
        expect(current).to_contain_text(query)
        expect(current).to_contain_text(approver)
        table = aud.locator(".wb-audit-table")
        expect(table).to_contain_text(approver, timeout=T)
        expect(table).to_contain_text(query)
        verify = aud.get_by_role("button", name="改ざん検査 / Verify log")
        if verify.count():
            verify.click()
            expect(aud.locator(".wb-verify")).to_contain_text("正常", timeout=T)
        day.check(aud, "auditor-reads-the-trail")
    finally:
        for context in {id(p.context): p.context for p in pages}.values():
            context.close()
    assert day.problems == {}
    assert server.tracebacks() == []
