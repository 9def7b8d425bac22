"""How long staff wait for the dashboards (DESIGN §10): Voila + Chromium, timed end to end.

Figures printed (seconds, median of ``--rounds`` page loads in fresh browser pages):

* ``server_start``       — ``workbench serve``'s Voila command until it answers HTTP;
* ``request_to_login``   — page request until the login form is usable (includes the
                           kernel start and the notebook's one cell);
* ``login_to_menu``      — clicking ログイン until the menu is shown (scrypt + TOTP + audit);
* ``menu_to_app``        — clicking 個人の照会 until its search field is usable;
* ``lookup``             — one person looked up and shown (one service call).

Usage: ``.venv/bin/python benchmarks/bench_dashboard.py [--persons 10000] [--rounds 3]``.
Needs Debian's ``/usr/bin/chromium``.  Everything runs on a synthetic demo workspace in
a temporary folder, which is removed afterwards; the server is always stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from workbench import Workspace
from workbench.demo import DEMO_PASSWORD, build_demo, current_code
from workbench.serve import free_port, stop, voila_command, wait_until_up
from workbench.simulate import generate_world

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 120_000


def one_round(page_factory: object, url: str, workspace: Path, person_id: str) -> dict[str, float]:
    from playwright.sync_api import Page, expect

    page: Page = page_factory()  # type: ignore[operator]
    out: dict[str, float] = {}
    try:
        t0 = time.perf_counter()
        page.goto(url, timeout=TIMEOUT_MS)
        login = page.locator(".wb-login")
        expect(login.locator("input[type=password]")).to_be_editable(timeout=TIMEOUT_MS)
        out["request_to_login"] = time.perf_counter() - t0

        texts = login.locator("input[type=text]")
        texts.nth(0).fill("registrar")
        login.locator("input[type=password]").fill(DEMO_PASSWORD)
        time.sleep(max(0.0, 30 - time.time() % 30) + 0.5)  # a fresh TOTP step each round
        texts.nth(1).fill(current_code(Workspace.open(workspace), "registrar"))
        t0 = time.perf_counter()
        login.get_by_role("button", name="ログイン / Log in").click()
        expect(page.locator(".wb-menu button").first).to_be_visible(timeout=TIMEOUT_MS)
        out["login_to_menu"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        page.locator(".wb-menu").get_by_role("button", name="個人の照会").click()
        field = page.locator(".widget-text", has_text="宛名番号").locator("input")
        expect(field).to_be_editable(timeout=TIMEOUT_MS)
        out["menu_to_app"] = time.perf_counter() - t0

        field.fill(person_id)
        t0 = time.perf_counter()
        page.get_by_role("button", name="照会 / Look up").click()
        expect(page.locator("table.wb-person")).to_be_visible(timeout=TIMEOUT_MS)
        out["lookup"] = time.perf_counter() - t0
    finally:
        page.close()
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--persons", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing; run ./dev setup")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        workspace = Path(tmp) / "ws"
        t0 = time.perf_counter()
        build_demo(workspace, persons=args.persons)
        build_s = time.perf_counter() - t0
        person_id = str(generate_world(args.persons, seed=1).persons["person_id"].iloc[args.persons // 2])
        port = free_port()
        env = dict(os.environ, WORKBENCH_WORKSPACE=str(workspace))
        t0 = time.perf_counter()
        proc = subprocess.Popen(voila_command(port), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            wait_until_up(f"http://127.0.0.1:{port}/", proc)
            server_start = time.perf_counter() - t0
            url = f"http://127.0.0.1:{port}/voila/render/index.ipynb"
            rounds: list[dict[str, float]] = []
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                try:
                    for _ in range(args.rounds):
                        rounds.append(one_round(lambda: browser.new_page(viewport={"width": 1280, "height": 900}),
                                                url, workspace, person_id))
                finally:
                    browser.close()
        finally:
            stop(proc)
    keys = ("request_to_login", "login_to_menu", "menu_to_app", "lookup")
    report = {
        "persons": args.persons, "rounds": args.rounds, "cpus": os.cpu_count(), "python": sys.version.split()[0],
        "demo_build_s": round(build_s, 2), "server_start_s": round(server_start, 2),
        **{f"{k}_s": {"median": round(statistics.median(r[k] for r in rounds), 2),
                      "max": round(max(r[k] for r in rounds), 2),
                      "all": [round(r[k], 2) for r in rounds]} for k in keys},
    }
    print(json.dumps(report, ensure_ascii=False, indent=2))
    print("\nダッシュボードの待ち時間 / dashboard waits (median, s):")
    for k in keys:
        print(f"  {k:<18} {report[f'{k}_s']['median']:>6.2f}")


if __name__ == "__main__":
    main()
