"""Login → home screen with its counts, with and without kernels started ahead (issue 19 item 4).

Two times per login: **home with counts** — the home screen's counts drawn, whichever comes first: the
page's own static screen (its buttons getting ready, drawn before Voila's scripts run) or the live one —
which the target (≤ 1.5 s) is judged on, and **live** — the widget view drawn (its buttons answer).

Run: ``.venv/bin/python benchmarks/bench_login.py [--persons 2000] [--logins 6] [--pools 0 2] [--gap 8]
[--workspace PATH]``.

Builds a demo office of ``--persons`` people (:func:`workbench.demo.build_demo`) and ``--logins`` clerks
of their own (registrar, reviewer and query operator in turn: each home screen counts its pending
work), then for each pool size starts the web server as ``workbench serve`` does
(``--WorkbenchVoila.kernel_pool=N``), waits until the kernels started ahead are up, and logs each clerk
in with Chromium: from the click on ログイン until the home screen (``.wb-home``) shows, two by two in
one browser profile: the first with nothing cached (fresh), the second with Voila's scripts cached (warm),
each with the steps' times (the login POST's answer, the dashboard's page, the kernel's channel).  Clerks arrive
``--gap`` seconds apart (the pool refills between them, as between clerks arriving in the morning).
Prints p50 and max per pool size; ``--json PATH`` writes every figure.  Needs ``/usr/bin/chromium``.
The server is always stopped.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "Bench-Pass-2026!"
ROLES = ("registrar", "reviewer", "query_operator")
TIMEOUT_MS = 180_000
#: What each login's line shows, seconds after the click: the login POST answered, the dashboard's page begun
#: and ended (Voila streams it while the kernel runs the notebook), the kernel's channel opened by the page.
STEPS = ("post", "page", "page end", "kernel", "live")
#: True once the home screen's counts are in the page's layout: the static one (drawn from the page itself)
#: or the live widget view's.
HOME_DRAWN = """() => {
  const shown = el => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  return [...document.querySelectorAll('.wb-static-home .wb-static-card, .wb-static-home .wb-static-wait,'
                                       + ' .wb-home > *')].some(shown);
}"""
#: Whether the counts first drawn were the static screen's (1) or the live one's (0).
STATIC_SHOWN = "() => [...document.querySelectorAll('.wb-static-home')].some(el => el.getClientRects().length > 0)"


def _kernels_of(server_pid: int) -> int:
    """Kernel processes the server started (its children running ipykernel)."""
    count = 0
    for proc in Path("/proc").iterdir():
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
        if ppid == server_pid and "ipykernel" in cmdline:
            count += 1
    return count


def prepare(workspace: Path, persons: int, logins: int) -> dict[str, str]:
    """A demo office (or the one built at ``workspace`` already, e.g. bench_load's ``--office`` at
    1,000,000 people) with ``logins`` clerks of their own at the office's own password hashing; a built
    workspace keeps them in ``<workspace>.login.json`` (their code secrets) for the next run."""
    from workbench import Workspace
    from workbench.controls import users
    from workbench.core.keys import KEK_ENV, KeyEncryptionKey

    if not os.environ.get(KEK_ENV):
        kek = workspace.with_name(workspace.name + ".kek")
        if not kek.exists():
            KeyEncryptionKey.create_file(kek)
        os.environ[KEK_ENV] = str(kek)
    if not (workspace / "workspace.json").exists():
        from workbench.demo import build_demo

        build_demo(workspace, persons=persons)
    ws = Workspace.open(workspace)
    kept = workspace.with_name(workspace.name + ".login.json")
    secrets: dict[str, str] = json.loads(kept.read_text()) if kept.exists() else {}
    with ws.transaction("bench.users", "bench", writes=False) as con:
        known = {r[0] for r in con.execute("SELECT user_id FROM users").fetchall()}
    for i in range(logins):
        user = f"login{i:02d}"
        if user in known:
            if user not in secrets:
                raise SystemExit(f"{workspace} has {user} but {kept} does not know its code; use a fresh workspace")
            continue
        enrolment = users.create_initial_user(ws, user, user, PASSWORD, [ROLES[i % len(ROLES)]])
        secrets[user] = enrolment.otpauth_uri.split("secret=")[1].split("&")[0]
    kept.write_text(json.dumps(secrets))
    kept.chmod(0o600)
    return {f"login{i:02d}": secrets[f"login{i:02d}"] for i in range(logins)}


def _login(page: Any, base: str, user: str, secret: str) -> dict[str, float]:
    """One login on ``page``: seconds from the click on ログイン until the login POST's answer, the
    dashboard's page, the kernel's channel and the home screen with its counts."""
    from playwright.sync_api import expect

    from workbench.core import credentials

    marks: dict[str, float] = {}
    t0 = 0.0

    def on_response(response: Any) -> None:
        if not t0:
            return
        url = response.url
        if response.request.method == "POST" and url.endswith("/login"):
            marks.setdefault("post", time.perf_counter() - t0)
        elif "/voila/render/" in url:
            marks.setdefault("page", time.perf_counter() - t0)

    def on_finished(request: Any) -> None:
        if t0 and "/voila/render/" in request.url:
            marks.setdefault("page end", time.perf_counter() - t0)

    def on_websocket(ws: Any) -> None:
        if t0 and "/channels" in ws.url:
            marks.setdefault("kernel", time.perf_counter() - t0)

    page.on("response", on_response)
    page.on("websocket", on_websocket)
    page.on("requestfinished", on_finished)
    page.goto(base + "/login")
    expect(page.locator("#totp")).to_be_editable()
    page.fill("#user", user)
    page.fill("#password", PASSWORD)
    page.fill("#totp", credentials.totp_code(secret, dt.datetime.now(dt.UTC)))
    t0 = time.perf_counter()
    page.get_by_role("button", name="ログイン / Log in").click()
    # The home screen with its counts, whichever is drawn first: the page's own (static, its buttons getting
    # ready) or the live widget view.
    page.wait_for_function(HOME_DRAWN, polling="raf", timeout=TIMEOUT_MS)
    marks["home"] = time.perf_counter() - t0
    marks["static"] = float(page.evaluate(STATIC_SHOWN))
    # The live home screen: the widget view drawn (its kernel connected, its buttons answer).
    expect(page.locator(".wb-home").first).to_be_visible()
    marks["live"] = time.perf_counter() - t0
    page.remove_listener("response", on_response)
    page.remove_listener("websocket", on_websocket)
    page.remove_listener("requestfinished", on_finished)
    return marks


def measure(workspace: Path, secrets: dict[str, str], pool: int, gap: float) -> list[dict[str, Any]]:
    """Clerks two by two in one browser profile each: the first logs in with nothing cached (``fresh``),
    the second, after the first's session cookie is gone, with Voila's scripts in the profile's cache
    (``warm``: a clerk's own browser, the second morning)."""
    from playwright.sync_api import sync_playwright

    from workbench.web.serve import free_port, stop, voila_command, wait_until_up

    port = free_port()
    log_path = workspace.parent / f"bench-login-pool{pool}.log"
    env = dict(os.environ, WORKBENCH_WORKSPACE=str(workspace))
    with log_path.open("wb") as log:
        proc = subprocess.Popen(voila_command(port, kernel_pool=pool), env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    figures: list[dict[str, Any]] = []
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base + "/login", proc, timeout=180, log=log_path)
        deadline = time.monotonic() + 180
        while pool and _kernels_of(proc.pid) < pool and time.monotonic() < deadline:
            time.sleep(1)
        time.sleep(gap)
        users = list(secrets.items())
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            try:
                for pair in range(0, len(users), 2):
                    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="ja-JP")
                    for n, (user, secret) in enumerate(users[pair:pair + 2]):
                        context.clear_cookies()  # a new log-in; the cache stays
                        page = context.new_page()
                        page.set_default_timeout(TIMEOUT_MS)
                        marks = _login(page, base, user, secret)
                        marks["profile"] = "warm" if n else "fresh"
                        figures.append(marks)
                        steps = "  ".join(f"{k} {marks[k]:.2f}" for k in STEPS if k in marks)
                        print(f"  pool {pool}: {user} ({marks['profile']}) login → home with counts {marks['home']:.2f} s"
                              f" ({'static' if marks['static'] else 'live'}), live {marks['live']:.2f} s"
                              f"   [{steps}]", flush=True)
                        page.close()
                        time.sleep(gap)
                    context.close()
            finally:
                browser.close()
    finally:
        stop(proc)
    return figures


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--persons", type=int, default=2000)
    ap.add_argument("--logins", type=int, default=6)
    ap.add_argument("--pools", type=int, nargs="+", default=[0, 2])
    ap.add_argument("--gap", type=float, default=8.0, help="seconds between clerks")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--workspace", type=Path,
                    help="an office built already (e.g. bench_load --office at 1,000,000 people), reused; "
                         "default: a demo of --persons people in a temporary folder")
    args = ap.parse_args(argv)
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing; run ./dev setup")
    tmp = Path(tempfile.mkdtemp(prefix="bench-login-"))
    try:
        workspace = (args.workspace or tmp / "ws").resolve()
        print(f"preparing the office of {args.persons:,} people in {workspace} …", flush=True)
        users = list(prepare(workspace, args.persons, args.logins * len(args.pools)).items())
        result: dict[str, Any] = {"persons": args.persons, "cpus": os.cpu_count(), "load": os.getloadavg()[0],
                                  "date": dt.date.today().isoformat(), "pools": {}}
        for i, pool in enumerate(args.pools):
            mine = dict(users[i * args.logins:(i + 1) * args.logins])  # a one-time code is used once per user
            result["pools"][str(pool)] = measure(workspace, mine, pool, args.gap)
        result["load_after"] = os.getloadavg()[0]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nlogin → home with counts, {args.persons:,} people ({result['date']}, {result['cpus']} cores, "
          f"load {result['load']:.1f} → {result['load_after']:.1f}):")
    for pool, figures in result["pools"].items():
        for profile in ("fresh", "warm"):
            mine = [f for f in figures if f["profile"] == profile]
            if not mine:
                continue
            homes = [f["home"] for f in mine]
            lives = [f["live"] for f in mine]
            steps = "  ".join(f"{k} {statistics.median([f[k] for f in mine if k in f]):.2f}"
                              for k in STEPS if any(k in f for f in mine))
            print(f"  kernels started ahead: {pool:>2}  {profile:<5}  home with counts p50 {statistics.median(homes):.2f} s"
                  f"   max {max(homes):.2f} s;  live p50 {statistics.median(lives):.2f} s   max {max(lives):.2f} s"
                  f"   ({len(homes)} logins, {sum(int(f['static']) for f in mine)} drawn static first;"
                  f" p50 of the steps: {steps})")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
