"""Login → home screen with its counts, with and without kernels started ahead (issue 19 item 4).

Run: ``.venv/bin/python benchmarks/bench_login.py [--persons 2000] [--logins 6] [--pools 0 2] [--gap 8]``.

Builds a demo office of ``--persons`` people (:func:`workbench.demo.build_demo`) and ``--logins`` clerks
of their own (registrar, reviewer and query operator in turn: each home screen counts its pending
work), then for each pool size starts the web server as ``workbench serve`` does
(``--WorkbenchVoila.kernel_pool=N``), waits until the kernels started ahead are up, and logs each clerk
in with Chromium: from the click on ログイン until the home screen (``.wb-home``) shows.  Clerks arrive
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
    from workbench import Workspace
    from workbench.controls import users
    from workbench.core.keys import KEK_ENV, KeyEncryptionKey
    from workbench.demo import build_demo

    if not os.environ.get(KEK_ENV):
        kek = workspace.parent / "bench.kek"
        KeyEncryptionKey.create_file(kek)
        os.environ[KEK_ENV] = str(kek)
    build_demo(workspace, persons=persons)
    ws = Workspace.open(workspace)
    secrets = {}
    for i in range(logins):
        user = f"clerk{i:02d}"
        enrolment = users.create_initial_user(ws, user, user, PASSWORD, [ROLES[i % len(ROLES)]])
        secrets[user] = enrolment.otpauth_uri.split("secret=")[1].split("&")[0]
    return secrets


def measure(workspace: Path, secrets: dict[str, str], pool: int, gap: float) -> list[float]:
    from playwright.sync_api import expect, sync_playwright

    from workbench.core import credentials
    from workbench.web.serve import free_port, stop, voila_command, wait_until_up

    port = free_port()
    log_path = workspace.parent / f"bench-login-pool{pool}.log"
    env = dict(os.environ, WORKBENCH_WORKSPACE=str(workspace))
    with log_path.open("wb") as log:
        proc = subprocess.Popen(voila_command(port, kernel_pool=pool), env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    figures: list[float] = []
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base + "/login", proc, timeout=180, log=log_path)
        deadline = time.monotonic() + 180
        while pool and _kernels_of(proc.pid) < pool and time.monotonic() < deadline:
            time.sleep(1)
        time.sleep(gap)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            try:
                for user, secret in secrets.items():
                    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="ja-JP")
                    page = context.new_page()
                    page.set_default_timeout(TIMEOUT_MS)
                    page.goto(base + "/login")
                    expect(page.locator("#totp")).to_be_editable()
                    page.fill("#user", user)
                    page.fill("#password", PASSWORD)
                    page.fill("#totp", credentials.totp_code(secret, dt.datetime.now(dt.UTC)))
                    t0 = time.perf_counter()
                    page.get_by_role("button", name="ログイン / Log in").click()
                    expect(page.locator(".wb-home").first).to_be_visible()
                    figures.append(time.perf_counter() - t0)
                    print(f"  pool {pool}: {user} login → home {figures[-1]:.2f} s", flush=True)
                    context.close()
                    time.sleep(gap)
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
    args = ap.parse_args(argv)
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing; run ./dev setup")
    tmp = Path(tempfile.mkdtemp(prefix="bench-login-"))
    try:
        workspace = tmp / "ws"
        print(f"building a demo office of {args.persons:,} people …", flush=True)
        secrets = prepare(workspace, args.persons, args.logins * len(args.pools))
        users = list(secrets.items())
        result: dict[str, Any] = {"persons": args.persons, "cpus": os.cpu_count(), "load": os.getloadavg()[0],
                                  "date": dt.date.today().isoformat(), "pools": {}}
        for i, pool in enumerate(args.pools):
            mine = dict(users[i * args.logins:(i + 1) * args.logins])  # a one-time code is used once per user
            result["pools"][str(pool)] = measure(workspace, mine, pool, args.gap)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nlogin → home with counts, {args.persons:,} people ({result['date']}, {result['cpus']} cores, "
          f"load {result['load']:.1f}):")
    for pool, figures in result["pools"].items():
        print(f"  kernels started ahead: {pool:>2}   p50 {statistics.median(figures):.2f} s   max {max(figures):.2f} s"
              f"   ({len(figures)} logins)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
