"""Every role's screens in real Chromium at 1400×900 and 1024×768 (issue 11, "How to check it").

Each demo role logs in once through the server's /login page; its home screen and every app
on its menu are opened at both sizes and must show no raw code from the label table, no
cut-off label, no long count without separators and (at 1024 px) no sideways scrollbar.
Screenshots: ``test-artifacts/walk-<role>-<app>-<width>.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser_helpers import SIZES, log_in, page_problems, shot, wait_idle
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, UI_TIMEOUT, Server, server
from widgets.common import tr
from widgets.login import APPS
from workbench.demo import DEMO_USERS
from workbench.workspace import Session

pytestmark = pytest.mark.browser

__all__ = ["server"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing; install it with ./dev setup (apt-get install chromium)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _menu(server: Server, user_id: str) -> list[str]:
    from workbench import Workspace

    ws = Workspace.open(server.workspace)
    session = Session(ws, user_id, tuple(DEMO_USERS[user_id]), ws.clock.now())
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
    assert "Traceback" not in server.log.read_text(errors="replace")
