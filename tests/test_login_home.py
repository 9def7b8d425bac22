"""Login to home fast (issue 19 item 4): the home screen's counts drawn in the page itself.

The dashboard's first cell (:class:`widgets.dashboard.DashboardStart`) reads the session, where the person
was and the inbox, and shows the counts as a static screen whose buttons are getting ready (準備中); the
page template writes only that marked output into the page as HTML; the second cell builds the live
dashboard from the same reads, and the page drops the static screen once the live home is drawn.  Here:
the counts are one read, shared by both screens; the static screen escapes what it shows and offers
nothing to click; it is drawn only for the home screen and only for a live session; through the real
server, each login's page holds its own counts only, a request cannot choose another template, and in
Chromium the static screen is seen first and then replaced by the live one.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import StaffedWorkspace
from widgets.dashboard import Dashboard, DashboardStart
from widgets.home import STATIC_MIME_KEY, HomeApp, static_home_html
from workbench import pending
from workbench.core import labels
from workbench.pending import Inbox, PendingItem, Place


def _counting_inbox(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = pending.inbox

    def inbox(*args: Any, **kwargs: Any) -> Inbox:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(pending, "inbox", inbox)
    return calls


def _counts(html: str) -> dict[str, str]:
    """The static screen's cards: kind → the count it shows."""
    found = re.findall(r"wb-static-pending-([a-z_]+)'.*?class='wb-static-count'[^>]*>([^<]*)<", html)
    return dict(found)


@pytest.mark.parametrize("role", ["approver", "registrar", "reviewer", "auditor"])
def test_the_static_home_shows_the_counts_the_live_home_is_built_with(world: StaffedWorkspace, role: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting_inbox(monkeypatch)
    start = DashboardStart(world.login(role))
    start.read()
    html = start.static_html()
    assert html is not None and start.inbox is not None
    dashboard = start.dashboard(idle_check_seconds=None)
    assert calls == [1], "the inbox is read once, for both screens"
    home = dashboard.app
    assert isinstance(home, HomeApp) and home.inbox is start.inbox
    shown = _counts(html)
    assert shown == {item.key: f"{item.count:,} 件" for item in home.items}
    assert f"Logged in: {role}" in html
    # the live home reads afresh when asked (the shared read is used once only)
    home.refresh()
    assert calls == [1, 1]


def test_the_static_home_escapes_what_it_shows_and_offers_nothing_to_click() -> None:
    hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    inbox = Inbox(counts=[PendingItem("approvals_waiting", 3, dt.datetime(2026, 4, 1, tzinfo=dt.UTC), "approvals",
                                      hostile, hostile)], items=[], limit=10)
    html = static_home_html(inbox, who=hostile)
    assert "<script" not in html and "<img" not in html and "&lt;script&gt;" in html
    assert "<button" not in html and "onclick" not in html and "href" not in html
    assert labels.ja("getting_ready", "screen_state") == "準備中" and "準備中" in html
    assert labels.en("getting_ready", "screen_state") in html
    # none of the live screen's classes or words, so a page never holds two of either
    assert not re.search(r"class='(wb-home|wb-count|wb-pending-)", html)
    assert "がログイン中" not in static_home_html(inbox, who="x")
    empty = static_home_html(Inbox(counts=[], items=[], limit=10), who="x")
    assert "待っている業務はありません" in empty


def test_no_static_home_when_the_dashboard_opens_another_screen(world: StaffedWorkspace,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    session = world.login("reviewer")
    pending.remember_place(session, Place("person"))
    calls = _counting_inbox(monkeypatch)
    start = DashboardStart(session)
    start.read()
    assert start.place == Place("person") and start.static_html() is None and calls == []
    dashboard = start.dashboard(idle_check_seconds=None)
    assert dashboard.model.current_app == "person"


def test_a_screen_the_roles_no_longer_permit_falls_back_to_the_static_home(world: StaffedWorkspace) -> None:
    session = world.login("auditor")
    pending.remember_place(session, Place("registration"))  # not on an auditor's menu
    start = DashboardStart(session)
    start.read()
    assert start.static_html() is not None
    assert start.dashboard(idle_check_seconds=None).model.current_app == "home"


def test_without_a_session_nothing_is_drawn(world: StaffedWorkspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKBENCH_KERNEL_TICKET", raising=False)
    monkeypatch.setenv("WORKBENCH_WORKSPACE", str(world.ws.path))
    shown: list[Any] = []
    monkeypatch.setattr("widgets.dashboard.display", lambda *a, **k: shown.append((a, k)))
    start = DashboardStart.from_server()
    assert start.session is None and start.static_html() is None and shown == []
    gate = start.dashboard(idle_check_seconds=None)
    assert gate.model.screen == "ended"


def test_the_static_output_is_marked_for_the_page_template(world: StaffedWorkspace,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[Any] = []
    monkeypatch.setattr("widgets.dashboard.display", lambda *a, **k: shown.append((a, k)))
    start = DashboardStart(world.login("approver"))
    start.read()
    start.draw()
    ((args, kwargs),) = shown
    assert kwargs["metadata"] == {STATIC_MIME_KEY: "home"}
    assert "wb-static-home" in args[0].data
    assert isinstance(start.dashboard(idle_check_seconds=None), Dashboard)


# -- through the real server -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.test_web_server import _start
    from workbench.web.serve import stop

    srv = _start(tmp_path_factory.mktemp("login-home"), idle_minutes=15,
                 users_=["homeone:approver", "hometwo:auditor", "homethree:registrar", "homefour:approver",
                         "homefive:auditor"])
    try:
        yield srv
    finally:
        stop(srv.proc)


def _static_of(page: str) -> str:
    found = re.findall(r"<div class='wb-static-home'.*?</div></div>", page, re.S)
    assert len(found) == 1, "the page holds its static home screen once, as HTML"
    return str(found[0])


@pytest.mark.slow
def test_each_login_s_page_holds_its_own_static_home(web: Any) -> None:
    from tests.test_web_server import Browser

    one, two = Browser(web), Browser(web)
    assert one.login("homeone")[0] == 302 and two.login("hometwo")[0] == 302
    status, page_one, headers = one.get("/voila/render/index.ipynb")
    assert status == 200 and "no-store" in headers.get("Cache-Control", "")
    status, page_two, _ = two.get("/voila/render/index.ipynb")
    assert status == 200
    static_one, static_two = _static_of(page_one), _static_of(page_two)
    assert "homeone" in static_one and "hometwo" not in page_one
    assert "hometwo" in static_two and "homeone" not in page_two
    assert "wb-static-pending-approvals_waiting" in static_one  # an approver's kind …
    assert "wb-static-pending-approvals_waiting" not in static_two  # … not an auditor's
    # every other output stays JSON for Voila's scripts (the live dashboard's widget view)
    assert "application/vnd.voila.cell-output+json" in page_one
    assert "application/vnd.jupyter.widget-view+json" in page_one
    # the live dashboard is in the page: the static one is only until it is drawn
    assert page_one.index("wb-static-home'") < page_one.index("widget-view+json")
    assert web.tracebacks() == []


@pytest.mark.slow
def test_a_request_cannot_choose_another_template(web: Any) -> None:
    from tests.test_web_server import Browser

    b = Browser(web)
    assert b.login("homethree")[0] == 302
    for query in ("?template=reveal", "?template=classic", "?voila-template=reveal", "?template=../../etc"):
        status, page, _ = b.get("/voila/render/index.ipynb" + query)
        assert status == 200, query
        assert "reveal.js" not in page and "jp-Notebook" in page and _static_of(page)
    # without a session: no page, no kernel, no counts
    anon = Browser(web)
    status, page, headers = anon.get("/voila/render/index.ipynb")
    assert status == 302 and "/login" in headers["Location"] and "wb-static" not in page


@pytest.mark.browser
def test_in_chromium_the_static_home_is_seen_first_then_replaced_by_the_live_one(web: Any) -> None:
    from playwright.sync_api import expect

    from tests.test_browser import ARTIFACTS, chromium_browser
    from tests.test_web_server import PASSWORD

    # what the page showed when the static screen was first laid out, and when it went
    record = """
      window.__wb = {static: null, gone: false};
      new MutationObserver(() => {
        const el = document.querySelector('.wb-static-home');
        if (el && !window.__wb.static && el.getClientRects().length) {
          window.__wb.static = {counts: [...el.querySelectorAll('.wb-static-count')].map(c => c.textContent),
                                live: !!document.querySelector('.wb-home'), text: el.textContent};
        }
        if (window.__wb.static && !el) { window.__wb.gone = true; }
      }).observe(document, {childList: true, subtree: true, attributes: true});
    """
    with chromium_browser() as browser:
        for user in ("homefour", "homefive"):  # one-time codes of their own (one login per code step)
            context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
            try:
                page = context.new_page()
                page.set_default_timeout(120_000)
                page.add_init_script(record)
                page.goto(web.base + "/login")
                page.fill("#user", user)
                page.fill("#password", PASSWORD)
                page.fill("#totp", web.code(user))
                page.get_by_role("button", name="ログイン / Log in").click()
                home = page.locator(".wb-home")
                expect(home).to_be_visible(timeout=120_000)
                expect(page.locator(".wb-static-home")).to_have_count(0, timeout=10_000)  # removed once the live one is drawn
                seen = page.evaluate("window.__wb")
                assert seen["static"] is not None, "the static home screen was never drawn"
                assert not seen["static"]["live"], "the static screen came after the live one"
                assert seen["gone"] and "準備中" in seen["static"]["text"] and user in seen["static"]["text"]
                other = "homefive" if user == "homefour" else "homefour"
                assert other not in seen["static"]["text"]
                live = page.locator(".wb-home .wb-count").all_text_contents()
                assert [c.strip() for c in seen["static"]["counts"]] == [c.strip() for c in live]
                # live: its buttons answer (the home's refresh)
                page.get_by_role("button", name="最新の件数に更新 / Refresh").click()
                expect(home).to_be_visible()
                page.screenshot(path=str(ARTIFACTS / f"login-home-{user}.png"), full_page=True)
            finally:
                context.close()
    assert web.tracebacks() == []


def test_the_template_is_shipped_with_the_package() -> None:
    from workbench.web.server import TEMPLATE_DIR

    text = (TEMPLATE_DIR / "index.html.j2").read_text(encoding="utf-8")
    assert "workbench_static" in text and STATIC_MIME_KEY == "workbench_static"
    pyproject = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert '"web/template/*.j2"' in pyproject
