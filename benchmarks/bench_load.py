"""A busy office through the data server (issue 19 item 5).

    python -m benchmarks.bench_load --persons 10000 --clerks 30 --seconds 120
    python -m benchmarks.bench_load --persons 1000000 --office --workspace /tmp/office-1m/ws --clerks 50 --seconds 180
    python -m benchmarks.bench_load --persons 1000000 --office --workspace /tmp/office-1m/ws --clerks 50 --overhead 20

Builds a demo workspace of ``--persons`` people through the real flows (``build_demo``), or with
``--office`` a whole busy office set-based (``tests.direct_load.build_office``: ~2 minutes at 1,000,000
people on a quiet machine; discrepancies, pending batches, reviews), or reuses ``--workspace`` when it
is built already.  It adds one user ID per clerk (registrars and reviewers, alternately; their one-time
code secrets are kept beside the workspace in ``<workspace>.clerks.json``, so a built world serves
run after run), starts the data server as a process of its own, and runs ``--clerks`` clerks as
separate processes going through the same client path as the dashboards' kernels (``channel.connect``
→ log in → service calls over the socket; ``--clerks-per-process N`` lets N clerks share a process, a
thread and a connection each, so 200 clerks fit in memory).  Each clerk does a day's mix with think time (exponential,
mean ``--think`` seconds): list pages, person look-ups, previews (registrars) and decisions (reviewers
record and close inquiries).  Beside them one more process (``--job-every`` seconds, 0 for none), a
query operator, runs the nightly-size work: the year's P1 information batch preview over everyone
(``job preview``) and the answer deadline over every request (``job expiry``, a write).  Prints
p50 / p95 / max per kind of action in milliseconds and, last, ``errors: N``; ``--server-timings`` adds the
server's own time per kind of call and how long of it was spent waiting (the writers' queue, the audit
lane).  ``--overhead CALLS`` instead times each kind of action in the data server's process and through
the socket, one after the other (the per-call overhead of the server path).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Bench-Pass-2026!"


#: The nightly-size job's own user ID (a query operator).
JOB_USER = "job000"


def _secrets_file(workspace: Path) -> Path:
    return workspace.with_name(workspace.name + ".clerks.json")


def _prepare(workspace: Path, persons: int, clerks: int, *, office: bool) -> tuple[list[str], dict[str, str]]:
    """A demo workspace with one user per clerk (and the job's); returns some person IDs and each user's TOTP
    secret.  A workspace built before is reused with the clerks it has (their secrets are in
    :func:`_secrets_file`); missing clerks are added."""
    from workbench import Workspace
    from workbench.controls.users import create_initial_user
    from workbench.demo import build_demo

    if not (workspace / "workspace.json").exists():
        if office:
            from tests.direct_load import build_office

            build_office(workspace, persons=persons, publish=False)
        else:
            build_demo(workspace, persons=persons)
    ws = Workspace.open(workspace)
    ws.settings.scrypt_n = 2**12  # the clerks' own IDs: a cheaper hash, so set-up stays quick
    kept = _secrets_file(workspace)
    secrets: dict[str, str] = json.loads(kept.read_text()) if kept.exists() else {}
    with ws.transaction("bench.users", "bench") as con:
        known = {r[0] for r in con.execute("SELECT user_id FROM users").fetchall()}
        ids = [r[0] for r in con.execute("SELECT person_id FROM persons ORDER BY person_id LIMIT 2000").fetchall()]
    wanted = {f"clerk{i:03d}": "registrar" if i % 2 == 0 else "reviewer" for i in range(clerks)}
    wanted[JOB_USER] = "query_operator"
    for user, role in wanted.items():
        if user in known:
            if user not in secrets:
                raise SystemExit(f"{workspace} has {user} but {kept} does not know its code; use a fresh workspace")
            continue
        enrolment = create_initial_user(ws, user, user, PASSWORD, [role])
        secrets[user] = enrolment.otpauth_uri.split("secret=")[1].split("&")[0]
    kept.write_text(json.dumps(secrets))
    kept.chmod(0o600)
    return [str(i) for i in ids], secrets


def _job(workspace: str, secret: str, seconds: float, every: float, out: Any) -> None:
    """The nightly-size work beside the clerks: the year's P1 batch preview and the answer deadline."""
    import datetime as dt

    from workbench.core import channel, credentials
    from workbench.queries import batches, results

    samples: list[tuple[str, float, str | None]] = []
    conn = channel.connect(workspace)
    session = conn.login(JOB_USER, PASSWORD, credentials.totp_code(secret, dt.datetime.now(dt.UTC)))
    now = dt.datetime.now(dt.UTC)
    year = now.year if now.month >= 4 else now.year - 1
    deadline = time.monotonic() + seconds
    turn = 0
    time.sleep(min(every, seconds) / 4)
    while time.monotonic() < deadline:
        kind, started = ("job preview", "job expiry")[turn % 2], time.perf_counter()
        try:
            if turn % 2 == 0:
                batches.preview_info_batch(session, procedure="P1", fiscal_year=year)
            else:
                results.expire_requests(session)
            samples.append((kind, time.perf_counter() - started, None))
        except Exception as exc:
            samples.append((kind, time.perf_counter() - started, str(getattr(exc, "code", type(exc).__name__))))
        turn += 1
        time.sleep(max(0.0, min(every, deadline - time.monotonic())))
    out.put(samples)


def _clerk(index: int, workspace: str, secret: str, person_ids: list[str], seconds: float, think: float,
           out: Any) -> None:
    import datetime as dt

    from workbench.core import channel, credentials
    from workbench.core.paging import PageRequest
    from workbench.intake import collection, persons, registration
    from workbench.lifecycle import inquiries

    rng = random.Random(index)
    user = f"clerk{index:03d}"
    samples: list[tuple[str, float, str | None]] = []

    def timed(kind: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            result = fn(*args, **kwargs)
            samples.append((kind, time.perf_counter() - started, None))
            return result
        except Exception as exc:
            code = getattr(exc, "code", type(exc).__name__)
            expected = code in ("not_found",)  # a look-up of someone not on the list is an answer
            samples.append((kind, time.perf_counter() - started, None if expected else str(code)))
            return None

    time.sleep(rng.random() * min(think, 5))  # not all at the same instant
    try:
        conn = channel.connect(workspace)
    except Exception as exc:  # counted, never lost
        samples.append(("login", 0.0, str(getattr(exc, "code", type(exc).__name__))))
        out.put(samples)
        return
    code = credentials.totp_code(secret, dt.datetime.now(dt.UTC))
    session = timed("login", conn.login, user, PASSWORD, code)
    if session is None:
        out.put(samples)
        return
    registrar = index % 2 == 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        roll = rng.random()
        if roll < 0.45:
            timed("person", persons.get, session, rng.choice(person_ids))
        elif roll < 0.8:
            if registrar:
                timed("list", registration.review_page, session, PageRequest(offset=rng.randrange(0, 3) * 50))
            else:
                timed("list", inquiries.inquiry_page, session, PageRequest())
        elif registrar:
            timed("preview", collection.preview_collection, session)
        else:
            q = timed("decision", inquiries.record, session, channel="phone", category="handling",
                      question="負荷試験の問合せ")
            if q is not None:
                timed("decision", inquiries.close, session, q.inquiry_id, response="回答済み")
        time.sleep(rng.expovariate(1 / think) if think > 0 else 0)
    out.put(samples)


class _Collected:
    """The samples of the clerks that share one process (threads), handed on together."""

    def __init__(self) -> None:
        self.samples: list[tuple[str, float, str | None]] = []
        self._lock = threading.Lock()

    def put(self, samples: list[tuple[str, float, str | None]]) -> None:
        with self._lock:
            self.samples.extend(samples)


def _clerks(indices: list[int], workspace: str, secrets: list[str], person_ids: list[str], seconds: float,
            think: float, out: Any) -> None:
    """Clerks sharing one process, one thread each (``--clerks-per-process``): each has its own connection,
    its own log-in and its own session, exactly as a kernel would — only the memory of the process is shared
    (200 processes importing the workbench need ~30 GB)."""
    # Imported before the threads start: threads importing the workbench at once raced in its circular imports
    # (ImportError in a clerk's thread, which then took no sample at all).
    import workbench.core.channel
    import workbench.intake.collection
    import workbench.lifecycle.inquiries  # noqa: F401

    got = _Collected()
    threads = [threading.Thread(target=_clerk, args=(i, workspace, secret, person_ids, seconds, think, got))
               for i, secret in zip(indices, secrets, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(got.samples)


def overhead(workspace: Path, secrets: dict[str, str], person_ids: list[str], calls: int) -> None:
    """Per-call overhead of the server path (issue 19 item 5: ≤ 20 ms over the query itself): each kind of
    action ``calls`` times in the data server's own process (a session there) and the same through the
    socket (a client session), one after the other with nothing else running; prints p50 / min of both."""
    import datetime as dt

    from workbench import Workspace
    from workbench.core import channel, credentials
    from workbench.core.paging import PageRequest
    from workbench.intake import collection, persons, registration
    from workbench.lifecycle import inquiries
    from workbench.web.dataserver import DataServer

    ws = Workspace.open(workspace)
    server = DataServer(ws).start()
    try:
        def code(user: str) -> str:
            return credentials.totp_code(secrets[user], dt.datetime.now(dt.UTC))

        conn = channel.connect(workspace)
        sessions = {"in the server": {"registrar": ws.login("clerk000", PASSWORD, code("clerk000")),
                                      "reviewer": ws.login("clerk001", PASSWORD, code("clerk001"))},
                    "through the socket": {"registrar": conn.login("clerk002", PASSWORD, code("clerk002")),
                                           "reviewer": conn.login("clerk003", PASSWORD, code("clerk003"))}}
        kinds: list[tuple[str, str, Any]] = [
            ("person", "registrar", lambda s, i: persons.get(s, person_ids[i % len(person_ids)])),
            ("list (review queue)", "registrar", lambda s, i: registration.review_page(s, PageRequest(offset=i % 3 * 50))),
            ("list (inquiries)", "reviewer", lambda s, i: inquiries.inquiry_page(s, PageRequest())),
            ("decision (record)", "reviewer", lambda s, i: inquiries.record(s, channel="phone", category="handling",
                                                                            question="負荷試験の問合せ")),
            ("preview", "registrar", lambda s, i: collection.preview_collection(s)),
        ]
        print(f"per-call overhead, {calls} calls each (ms, p50 / min; load {os.getloadavg()[0]:.1f}):")
        print(f"{'action':<22}{'in the server':>16}{'through socket':>17}{'overhead p50':>14}")
        for kind, role, fn in kinds:
            figures: dict[str, list[float]] = {}
            for way, by_role in sessions.items():
                times = figures.setdefault(way, [])
                for i in range(calls):
                    started = time.perf_counter()
                    fn(by_role[role], i)
                    times.append((time.perf_counter() - started) * 1000)
            local, remote = figures["in the server"], figures["through the socket"]
            print(f"{kind:<22}{statistics.median(local):>9.1f} / {min(local):<5.1f}{statistics.median(remote):>10.1f} / "
                  f"{min(remote):<5.1f}{statistics.median(remote) - statistics.median(local):>11.1f}")
    finally:
        server.stop()


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_load")
    parser.add_argument("--persons", type=int, default=10_000)
    parser.add_argument("--clerks", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--think", type=float, default=5.0, help="mean think time between actions, seconds")
    parser.add_argument("--workspace", type=Path,
                        help="the folder of the demo: built there if empty, reused if built (default: a temporary one)")
    parser.add_argument("--clerks-per-process", type=int, default=1,
                        help="clerks sharing one process, a thread each (memory: ~150 MB a process)")
    parser.add_argument("--office", action="store_true",
                        help="build a whole busy office set-based (tests.direct_load.build_office) instead of the demo")
    parser.add_argument("--job-every", type=float, default=60.0,
                        help="seconds between the nightly-size job's runs beside the clerks (0: no job)")
    parser.add_argument("--server-timings", action="store_true",
                        help="also print the server's own time per kind of call and how much of it was waiting "
                             "(the writers' queue, the audit lane)")
    parser.add_argument("--overhead", type=int, default=0, metavar="CALLS",
                        help="instead of the clerks: time each kind of action CALLS times in the server's process "
                             "and through the socket (the per-call overhead of the server path)")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    workspace = (args.workspace or tmp / "ws").resolve()
    runtime = tmp / "run"
    os.environ["WORKBENCH_RUNTIME_DIR"] = str(runtime)
    if not os.environ.get("WORKBENCH_KEK_FILE"):  # a key-encryption key of the world's own, beside (outside) it
        from workbench.core.keys import KeyEncryptionKey

        kek = workspace.with_name(workspace.name + ".kek")
        if not kek.exists():
            KeyEncryptionKey.create_file(kek)
        os.environ["WORKBENCH_KEK_FILE"] = str(kek)
    print(f"building {args.persons:,} persons and {args.clerks} clerks in {workspace} …", flush=True)
    person_ids, secrets = _prepare(workspace, args.persons, args.clerks, office=args.office)
    if args.overhead:
        if args.clerks < 4:
            raise SystemExit("--overhead needs 4 clerks (--clerks 4 or more)")
        overhead(workspace, secrets, person_ids, args.overhead)
        return 0
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    timings = tmp / "timings.json"
    server = subprocess.Popen([sys.executable, "-m", "workbench.web.dataserver", str(workspace),
                               *(["--timings", str(timings)] if args.server_timings else [])], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        assert server.stdout is not None
        ready = server.stdout.readline()
        if not ready.startswith("ready"):
            raise SystemExit("the data server did not start")
        ctx = mp.get_context("spawn")
        out = ctx.Queue()
        per = max(1, args.clerks_per_process)
        groups = [list(range(a, min(a + per, args.clerks))) for a in range(0, args.clerks, per)]
        clerks = [ctx.Process(target=_clerks, args=(g, str(workspace), [secrets[f"clerk{i:03d}"] for i in g],
                                                    person_ids, args.seconds, args.think, out))
                  for g in groups]
        if args.job_every > 0:
            clerks.append(ctx.Process(target=_job, args=(str(workspace), secrets[JOB_USER], args.seconds,
                                                         args.job_every, out)))
        for p in clerks:
            p.start()
        samples: list[tuple[str, float, str | None]] = []
        for _ in clerks:
            samples.extend(out.get(timeout=args.seconds + 600))
        for p in clerks:
            p.join(60)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
    kinds = sorted({k for k, _, _ in samples})
    print(f"persons {args.persons:,}  clerks {args.clerks}  seconds {args.seconds:g}  think {args.think:g} s")
    print(f"{'action':<12}{'count':>8}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    for kind in kinds:
        ms = [t * 1000 for k, t, _ in samples if k == kind]
        print(f"{kind:<12}{len(ms):>8}{statistics.median(ms):>10.0f}{_percentile(ms, 0.95):>10.0f}{max(ms):>10.0f}")
    if args.server_timings and timings.exists():
        print("in the server, ms: the whole call p50 / p95; means: waited for the writers' turn (queue) and the audit"
              " lane (lane), held the lane (held), committed reads' records as a group (group)")
        for label, doc in json.loads(timings.read_text()).items():
            print(f"  {label:<32}{doc['count']:>6}{doc['total']['p50']:>8.0f}{doc['total']['p95']:>8.0f}"
                  + "".join(f"   {k} {doc[k]['mean']:>6.1f}" for k in ("queue", "lane", "held", "group")))
    errors = [e for _, _, e in samples if e is not None]
    for code in sorted(set(errors)):
        print(f"  {code}: {errors.count(code)}")
    print(f"errors: {len(errors)}")
    return 0 if not errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
