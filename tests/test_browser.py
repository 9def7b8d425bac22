"""The dashboards in a real browser: Voila as ``workbench serve`` runs it, driven by Chromium.

Starts :func:`workbench.web.serve.voila_command` on a free 127.0.0.1 port over a small demo
workspace, logs in as the registrar, checks the menu and opens one app.  Screenshots go
to ``test-artifacts/`` (git-ignored).  Skipped only if Debian's ``/usr/bin/chromium`` is
missing (``./dev setup`` installs it).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from workbench.core import channel
from workbench.demo import DEMO_PASSWORD, build_demo
from workbench.simulate import generate_world
from workbench.web.serve import free_port, stop, voila_command, wait_until_up

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PERSONS = 300
START_TIMEOUT = 90.0  # seconds; Voila and its first kernel are slow on a 2-core machine
UI_TIMEOUT = 60_000  # milliseconds


@dataclass
class Server:
    url: str
    workspace: Path
    log: Path

    def tracebacks(self) -> list[str]:
        return log_tracebacks(self.log)


def log_tracebacks(log: Path) -> list[str]:
    """Every traceback in a server's log but ipykernel's own teardown race.

    When Voila shuts a kernel down while the kernel is still publishing its idle status, the
    kernel prints ``ZMQError: Socket operation on non-socket`` from inside ipykernel and zmq
    (seen on CI); no frame of ours is in it and nothing a person did is lost. Anything else —
    and any traceback through workbench or widgets — counts.
    """
    blocks = log.read_text(errors="replace").split("Traceback (most recent call last):")[1:]
    return [block for block in blocks if not (_kernel_teardown_race(block) or _page_gone_race(block))]


def _kernel_teardown_race(block: str) -> bool:
    # the block runs to the next log line of Voila or of the kernel
    block = re.split(r"\n\[(?:WorkbenchVoila|IPKernelApp|Voila)\]", block, maxsplit=1)[0]
    ours = "/workbench/" in block or "/widgets/" in block
    return not ours and "ipykernel" in block and "ZMQError: Socket operation on non-socket" in block


def _page_gone_race(block: str) -> bool:
    """Tornado writing a kernel message to a page the test has just closed (``StreamClosedError`` then
    ``WebSocketClosedError`` in a task nobody awaits): only tornado's own frames, nothing of ours."""
    block = re.split(r"\n\[(?:WorkbenchVoila|IPKernelApp|Voila)\]|\nTask exception", block, maxsplit=1)[0]
    frames = re.findall(r'File "([^"]+)"', block)
    closed = "StreamClosedError: Stream is closed" in block or block.rstrip().endswith("WebSocketClosedError")
    return closed and bool(frames) and all("/tornado/" in f for f in frames)


def _remote(workspace: Path) -> channel.Remote:
    conn = channel.connect(workspace)
    assert isinstance(conn, channel.Remote), "the web server's data server answers for the workspace"
    return conn


def code_for(server: Server, user_id: str) -> str:
    """A demo account's current one-time code, from the data server that holds the workspace (a test
    never opens the file beside it: issue 19)."""
    return _remote(server.workspace).demo_code(user_id)


def as_user(server: Server, user_id: str) -> channel.RemoteSession:
    """A session for a demo account through the running data server (demo workspaces only)."""
    return _remote(server.workspace).demo_session(user_id)


def add_demo_user(server: Server, user_id: str, role: str) -> None:
    _remote(server.workspace).demo_add_user(user_id, role)


def launch_server(workspace: Path, log: Path, port: int, *, idle_minutes: float | None = None) -> subprocess.Popen[bytes]:
    """``workbench serve``'s Voila command on ``port`` over ``workspace``, answering /login; the
    caller stops it (:func:`workbench.web.serve.stop`).  Every browser and web-server test starts its
    server here."""
    env = dict(os.environ, WORKBENCH_WORKSPACE=str(workspace))
    command = voila_command(port) if idle_minutes is None else voila_command(port, idle_minutes=idle_minutes)
    with log.open("ab") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/login", proc, timeout=START_TIMEOUT, log=log)
    except Exception:
        stop(proc)
        raise
    return proc


@contextlib.contextmanager
def chromium_browser() -> Iterator[Any]:
    """Debian's Chromium through Playwright (no browser download), closed afterwards; the test is
    skipped only where ``/usr/bin/chromium`` is missing."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing; install it with ./dev setup (apt-get install chromium)")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


#: The demo workspace each browser module's server starts from, built once per test process (by size).
_DEMOS: dict[int, Path] = {}


def demo_copy(tmp_path_factory: pytest.TempPathFactory, workspace: Path, persons: int = PERSONS) -> None:
    """A demo workspace of ``persons`` people at ``workspace``, as ``build_demo(workspace, persons=persons)``
    leaves it: built once per test process and copied (files and modes), its places beside the workspace
    (backups, keyring copies) beside the copy, and its audit anchor in a folder of the copy's own (the
    setting ``audit_anchor_dir``: copies share the workspace ID).  A build took ~5 s of every browser
    module's set-up, most of it the eight accounts' password hashes.  Passwords, the demo accounts' and
    those the tests add, are hashed at the test worlds' cost (2**10)."""
    from workbench.core import anchor
    from workbench.core.keys import KEK_ENV

    if persons not in _DEMOS:
        template = tmp_path_factory.mktemp("demo-template") / "ws"
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv(anchor.ANCHOR_ENV, str(template.parent / "anchors"))
            mp.setenv(anchor.CHATTR_ENV, "0")
            build_demo(template, persons=persons)
            # The demo's own accounts log in at the test worlds' cost too (a 2**17 hash is ~0.5 s of the
            # server's CPU per log-in; the every-screen walk alone logs each of them in).
            from workbench import Workspace
            from workbench.core import credentials
            from workbench.demo import DEMO_USERS

            ws = Workspace.open(template)
            with ws.transaction("test.cheap_password_hashes", "test") as con:
                for user_id in DEMO_USERS:
                    con.execute("UPDATE users SET password_hash = ? WHERE user_id = ?",
                                [credentials.hash_password(DEMO_PASSWORD, n=2**10), user_id])
        _DEMOS[persons] = template
    template = _DEMOS[persons]
    shutil.copytree(template, workspace, copy_function=shutil.copy2)
    settings = json.loads((workspace / "workspace.json").read_text("utf-8"))
    beside = str(template)
    settings["exchange_folders"] = [f.replace(beside, str(workspace), 1) for f in settings["exchange_folders"]]
    for places in ("backup_places", "keyring_copy_places"):
        settings[places] = {k: v.replace(beside, str(workspace), 1) for k, v in settings[places].items()}
    anchors = workspace.parent / "anchors"
    settings["audit_anchor_dir"] = str(anchors)
    # The accounts the tests add (a fresh one per person and step) hash their passwords at the cost of every
    # other test world (make_world, the web-server tests' 2**10), as the demo's own accounts now do (above),
    # not the demo's 2**17 (~0.5 s of the server's CPU per account and per log-in).
    settings["scrypt_n"] = 2**10
    (workspace / "workspace.json").write_text(json.dumps(settings, ensure_ascii=False, indent=2) + "\n", "utf-8")
    anchors.mkdir(mode=0o700)
    wid = settings["workspace_id"]
    shutil.copy2(anchor.anchor_path(template.parent / "anchors", wid, template),
                 anchor.anchor_path(anchors, wid, workspace))
    assert os.environ.get(KEK_ENV), "the suite's key-encryption key wraps the demo's keyring"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing; install it with ./dev setup (apt-get install chromium)")
    root = tmp_path_factory.mktemp("browser")
    workspace = root / "ws"
    demo_copy(tmp_path_factory, workspace)
    port = free_port()
    log = root / "voila.log"
    proc = launch_server(workspace, log, port)
    try:
        yield Server(f"http://127.0.0.1:{port}/voila/render/index.ipynb", workspace, log)
    finally:
        stop(proc)


def test_registrar_logs_in_and_opens_an_app(server: Server) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    person_id = str(generate_world(PERSONS, seed=1).persons["person_id"].iloc[0])  # build_demo's default seed
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="ja-JP")
            page.set_default_timeout(UI_TIMEOUT)
            page.goto(server.url, timeout=UI_TIMEOUT)
            login = page.locator(".wb-login")
            expect(login).to_be_visible(timeout=UI_TIMEOUT)
            expect(page.get_by_text("都営住宅 マイナンバー管理ワークベンチ")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "browser-1-login.png"), full_page=True)

            texts = login.locator("input[type=text]")
            texts.nth(0).fill("registrar")
            login.locator("input[type=password]").fill(DEMO_PASSWORD)
            texts.nth(1).fill(code_for(server, "registrar"))
            login.get_by_role("button", name="ログイン / Log in").click()

            menu = page.locator(".wb-menu")
            expect(menu).to_be_visible(timeout=UI_TIMEOUT)
            expect(menu.get_by_role("button", name="個人の照会")).to_be_visible()
            expect(menu.get_by_role("button", name="対象者取込・番号登録")).to_be_visible()
            expect(menu.get_by_role("button", name="承認待ち一覧")).to_have_count(0)
            expect(menu.get_by_role("button", name="ユーザー管理")).to_have_count(0)
            expect(page.get_by_text("registrar さん（番号登録担当）がログイン中")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "browser-2-menu.png"), full_page=True)

            menu.get_by_role("button", name="個人の照会").click()
            field = page.locator(".widget-text", has_text="宛名番号").locator("input")
            expect(field).to_be_visible(timeout=UI_TIMEOUT)
            field.fill(person_id)
            page.get_by_role("button", name="検索 / Search").click()
            expect(page.locator("table.wb-person")).to_be_visible(timeout=UI_TIMEOUT)
            expect(page.locator(".wb-number")).to_contain_text("*")
            expect(page.get_by_role("button", name="番号を表示（記録されます）/ Reveal (audited)")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "browser-3-person.png"), full_page=True)

            page.get_by_role("button", name="ログアウト / Log out").click()
            expect(page.locator(".wb-login")).to_be_visible()
            expect(page.get_by_text("ログアウトしました。")).to_be_visible()
        finally:
            browser.close()
    assert server.tracebacks() == []


def _procedure_file(persons: int) -> tuple[bytes, int]:
    """A P1 procedures file for the current fiscal year: five living people, each filing for themselves."""
    import datetime as dt

    import pandas as pd

    from workbench.core.clock import JST
    from workbench.files import formats

    now = dt.datetime.now(JST)
    year = now.year if now.month >= 4 else now.year - 1
    people = generate_world(persons, seed=1).persons
    ids = people.loc[~people["deceased"].to_numpy(dtype=bool), "person_id"].head(5).tolist()
    rows = [(f"BR-{i}", "P1", str(year), f"{year}-05-01", pid, pid, "Y") for i, pid in enumerate(ids, start=1)]
    frame = pd.DataFrame(rows, columns=list(formats.LAYOUTS["housing_procedures"].names))
    return formats.write_table(frame, "housing_procedures", encoding="utf-8"), year


def test_query_operator_previews_a_p1_batch(server: Server, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    data, year = _procedure_file(PERSONS)
    procedures_file = tmp_path / "procedures.csv"
    procedures_file.write_bytes(data)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1200}, locale="ja-JP")
            page.set_default_timeout(UI_TIMEOUT)
            page.goto(server.url, timeout=UI_TIMEOUT)
            login = page.locator(".wb-login")
            expect(login).to_be_visible(timeout=UI_TIMEOUT)
            texts = login.locator("input[type=text]")
            texts.nth(0).fill("query")
            login.locator("input[type=password]").fill(DEMO_PASSWORD)
            texts.nth(1).fill(code_for(server, "query"))
            login.get_by_role("button", name="ログイン / Log in").click()

            menu = page.locator(".wb-menu")
            expect(menu).to_be_visible(timeout=UI_TIMEOUT)
            expect(page.get_by_text("query さん（情報照会担当）がログイン中")).to_be_visible()
            expect(menu.get_by_role("button", name="対象者取込・番号登録")).to_have_count(0)
            menu.get_by_role("button", name="照会ファイルの作成").click()

            # ⑧⑨ the procedures filed, through the file chooser
            with page.expect_file_chooser() as chooser:
                page.locator(".widget-upload", has_text="手続ファイルを選択").click()
            chooser.value.set_files(str(procedures_file))
            import_button = page.get_by_role("button", name="手続を取り込む / Import procedures")
            expect(import_button).to_be_enabled(timeout=UI_TIMEOUT)
            import_button.click()
            expect(page.locator(".wb-proc-summary")).to_contain_text("取り込みました", timeout=UI_TIMEOUT)

            # F2: P1, this fiscal year, every permitted information kind → preview
            expect(page.locator(".widget-dropdown", has_text="年度").first.locator("select")).to_contain_text(f"{year}年度（令和")
            page.get_by_role("button", name="件数を確認 / Preview").first.click()  # the batch box, not F6 below
            table = page.locator(".wb-batch-table table")
            expect(table).to_be_visible(timeout=UI_TIMEOUT)
            expect(table).to_contain_text("住民票関係情報")
            expect(table).to_contain_text("地方税関係情報")
            expect(page.locator(".wb-batch-summary")).to_contain_text("照会する件数 / requests:")
            expect(page.locator("svg.wb-chart").first).to_be_visible()
            expect(page.get_by_role("button", name="承認済みの情報照会ファイルを作成 / Make file")).to_be_disabled()
            page.screenshot(path=str(ARTIFACTS / "browser-4-batch-screen.png"), full_page=True)
            page.locator(".wb-batch-result").screenshot(path=str(ARTIFACTS / "browser-5-batch-preview.png"))

            page.get_by_role("button", name="ログアウト / Log out").click()
            expect(page.locator(".wb-login")).to_be_visible()
        finally:
            browser.close()
    assert server.tracebacks() == []
