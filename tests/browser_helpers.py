"""What the browser tests share: sizes, one login helper, fresh accounts, and the page checks.

* :data:`SIZES` — the two screens the office uses (1400×900 and 1024×768, issue 11);
* :func:`fresh_user` — a new account with the given roles in the running demo workspace,
  so each login uses a one-time code nobody used before (no 30-second wait);
* :func:`log_in` — through the server's own /login page, as a person does it;
* :func:`page_problems` — what a clerk would stumble on in the page as shown: raw codes,
  cut-off labels, long numbers without separators, a sideways scrollbar.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from tests.test_browser import ARTIFACTS, UI_TIMEOUT, Server, add_demo_user, code_for
from tests.test_labels import RAW_CODES, coded_numbers
from workbench import SERVICES
from workbench.demo import DEMO_PASSWORD

__all__ = ["SIZES", "fresh_user", "log_in", "page_problems", "shot", "wait_idle"]

#: (name, viewport): the two screen sizes every browser test is run at.
SIZES = {"1400": {"width": 1400, "height": 900}, "1024": {"width": 1024, "height": 768}}

_serial = itertools.count(1)


def fresh_user(server: Server, role: str, stem: str | None = None) -> str:
    """A new account with one role in the server's demo workspace; returns its user ID."""
    user_id = f"{stem or role.replace('_', '')}{next(_serial)}"
    add_demo_user(server, user_id, role)
    return user_id


def log_in(browser: Any, server: Server, user_id: str, viewport: dict[str, int]) -> Any:
    """A fresh context and page, logged in through /login with the account's current code."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport=viewport, locale="ja-JP")
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT)
    base = server.url.split("/voila/")[0]
    page.goto(base + "/login", timeout=UI_TIMEOUT)
    page.fill("#user", user_id)
    page.fill("#password", DEMO_PASSWORD)
    page.fill("#totp", code_for(server, user_id))
    page.get_by_role("button", name="ログイン / Log in").click()
    expect(page.locator(".wb-menu")).to_be_visible(timeout=UI_TIMEOUT)
    wait_idle(page)
    return page


def wait_idle(page: Any) -> None:
    """Until no button is busy (an action's 処理中 state has ended)."""
    page.wait_for_function("() => !document.querySelector('.wb-busy')", timeout=UI_TIMEOUT)


def shot(page: Any, name: str) -> None:
    """The whole screen: Voila scrolls inside ``#rendered_cells``, so the window is made as tall
    as its content for the picture and put back after."""
    ARTIFACTS.mkdir(exist_ok=True)
    size = page.viewport_size
    tall = page.evaluate("() => { const c = document.querySelector('#rendered_cells');"
                         " return c ? c.scrollHeight + c.getBoundingClientRect().top : 0; }")
    if size and tall > size["height"]:
        page.set_viewport_size({"width": size["width"], "height": int(min(tall, 12000))})
    try:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    finally:
        if size:
            page.set_viewport_size(size)


#: A raw code from the label table, or a service's operation name, standing alone in the text
#: (not inside a file name such as ``return_list-20261130T100248-….wbpkg``).
RAW = re.compile(r"(?<![A-Za-z0-9_.-])(" + "|".join(map(re.escape, RAW_CODES)) + "|"
                 + "|".join(map(re.escape, sorted(SERVICES, key=len, reverse=True))) + r")(?![A-Za-z0-9_-])")

#: The rule for numbers in sentences: a count of 4 or more digits right before a counter word
#: (件 行 人 名 世帯 通 回 個 枚) is written with thousands separators.  Years (followed by 年),
#: IDs and reference numbers (no counter after them) and ordinals (「12 行目」) are not counts.
BARE_COUNT = re.compile(r"(?<![\d,.\-:/A-Za-z_#])\d{4,}\s?(?:件(?!目)|行(?!目)|人|名|世帯|通|回(?!目)|個|枚)")
#: A year printed as a count (「2,026年」).
YEAR_AS_COUNT = re.compile(r"(?<![\d,])\d,\d{3}\s?年(?!齢)")

#: Elements whose words a clerk must read whole.
_LABELS_JS = """
() => {
  const sel = ['.widget-label', '.widget-label-basic', '.widget-button', '.jupyter-button', 'button',
               '.lm-TabBar-tabLabel', '.p-TabBar-tabLabel', 'h1', 'h2', 'h3', 'h4', '.widget-checkbox label',
               '.widget-toggle-button', '.widget-dropdown select', 'th'].join(',');
  const out = [];
  for (const el of document.querySelectorAll(sel)) {
    if (!el.offsetParent || !el.textContent.trim()) continue;
    if (el.tagName === 'SELECT') {
      const option = el.options[el.selectedIndex];
      if (!option) continue;
      // a select cuts its chosen option when the box is narrower than the text
      const probe = document.createElement('span');
      probe.style.cssText = 'position:absolute;visibility:hidden;white-space:nowrap;font:' + getComputedStyle(el).font;
      probe.textContent = option.text;
      document.body.appendChild(probe);
      const need = probe.getBoundingClientRect().width + 28;  // the arrow and padding
      probe.remove();
      if (need > el.clientWidth + 1) out.push('select: ' + option.text);
      continue;
    }
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible')
      out.push(el.tagName.toLowerCase() + ': ' + el.textContent.trim().slice(0, 80));
  }
  // words past the right edge of the window are words nobody can read
  const width = window.innerWidth;
  for (const el of document.querySelectorAll('#rendered_cells *')) {
    if (!el.offsetParent) continue;
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    let scrolled = false;  // a wide table in a box of its own that scrolls sideways can be read
    for (let a = el.parentElement; a && a.id !== 'rendered_cells'; a = a.parentElement)
      // (a grid's header row is clipped and scrolled with its body: DataTables' .dt-scroll-head)
      if ((/(auto|scroll)/.test(getComputedStyle(a).overflowX) || a.classList.contains('dt-scroll-head'))
          && a.scrollWidth > a.clientWidth) { scrolled = true; break; }
    if (own && !scrolled && el.getBoundingClientRect().right > width + 1)
      out.push('past the edge: ' + el.textContent.trim().slice(0, 80));
  }
  return out;
}
"""

_SCROLL_JS = """
() => { const cells = document.querySelector('#rendered_cells');
  return {doc: document.documentElement.scrollWidth - document.documentElement.clientWidth,
          body: document.body.scrollWidth - document.body.clientWidth,
          cells: cells ? cells.scrollWidth - cells.clientWidth : 0}; }
"""


def page_problems(page: Any, *, width: int) -> list[str]:
    """Everything on the page as shown that a clerk should not meet (empty when all is well)."""
    problems: list[str] = []
    text = page.locator("body").inner_text()
    problems += [f"raw code: {m}" for m in sorted(set(RAW.findall(text)))]
    problems += [f"coded number without words: {m}" for m in coded_numbers(text)]  # issue 20 item 5
    problems += [f"truncated: {t}" for t in page.evaluate(_LABELS_JS)]
    problems += [f"count without separators: {m}" for m in sorted(set(BARE_COUNT.findall(text)))]
    problems += [f"year as a count: {m}" for m in sorted(set(YEAR_AS_COUNT.findall(text)))]
    if width <= 1024:
        scroll = page.evaluate(_SCROLL_JS)
        if max(scroll.values()) > 0:
            problems.append(f"horizontal scrollbar: {scroll}")
    return problems
