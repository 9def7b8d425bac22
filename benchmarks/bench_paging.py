"""How long one page of a list takes at full size (issue 11 item 6): the review queue.

Builds a workspace and inserts ``--rows`` discrepancies set-based (synthetic IDs, no personal
data), then times :func:`workbench.queries.discrepancies.discrepancy_page` — the service every
queue page goes through, with its total and counts by kind and state over the whole
selection — as the reviewer uses it:

* ``first``        — the first 50 open ones, oldest first (the screen's default);
* ``deep``         — 50 rows half-way through;
* ``sorted_desc``  — sorted by kind, descending;
* ``filtered``     — the free-text filter (a discrepancy number);
* ``kind``         — only one kind (転居), all states;
* ``page_200``     — a page of 200 rows.

Usage: ``.venv/bin/python benchmarks/bench_paging.py [--rows 1000000] [--rounds 3]``.
Prints one JSON line per figure (median seconds of ``--rounds``).  Target: each page ≤ 1 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import own_kek
from workbench import FixedClock, Workspace
from workbench.controls import users
from workbench.core import credentials
from workbench.core.clock import JST
from workbench.core.paging import PageRequest
from workbench.queries import discrepancies

PASSWORD = "Bench-Pass-2026!"


def build(root: Path, rows: int) -> tuple[Workspace, FixedClock, str]:
    clock = FixedClock(dt.datetime(2026, 6, 1, 10, 0, tzinfo=JST))
    ws = Workspace.init(root / "ws", clock=clock, scrypt_n=2**10)
    enrolment = users.create_initial_user(ws, "reviewer", "reviewer", PASSWORD, ["reviewer"])
    secret = enrolment.otpauth_uri.split("secret=")[1].split("&")[0]
    with ws.transaction("bench.seed", "bench") as con:
        con.execute(
            "INSERT INTO discrepancies (discrepancy_id, request_id, batch_id, person_id, source, kind, fields, held,"
            " reported, status, detected_at)"
            " SELECT printf('D%09d', i), printf('R%09d', i), 'B1', printf('P%08d', i % 1000000), 'juki',"
            " CASE WHEN i % 10 < 7 THEN 'moved' WHEN i % 10 < 9 THEN 'renamed' ELSE 'deceased' END,"
            " '[\"address\"]', '{\"address\": \"旧住所\"}', '{\"address\": \"新住所\"}',"
            " CASE WHEN i % 7 = 0 THEN 'resolved' ELSE 'open' END, $start + i * INTERVAL 1 SECOND"
            " FROM range($n) t(i)", {"n": rows, "start": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)})
    return ws, clock, secret


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    out: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        own_kek(Path(tmp))
        started = time.perf_counter()
        ws, clock, secret = build(Path(tmp), args.rows)
        out.append({"figure": "build", "rows": args.rows, "seconds": round(time.perf_counter() - started, 2)})
        print(json.dumps(out[-1]), flush=True)
        clock.advance(30)
        session = ws.login("reviewer", PASSWORD, credentials.totp_code(secret, clock.now()))
        cases = {
            "first": PageRequest(filters={"status": "open"}),
            "deep": PageRequest(offset=args.rows // 2, filters={"status": "open"}),
            "sorted_desc": PageRequest(sort="kind", descending=True),
            "filtered": PageRequest(text=f"D{args.rows // 3:09d}"),
            "kind": PageRequest(filters={"kind": "moved"}),
            "page_200": PageRequest(limit=200),
        }
        for name, request in cases.items():
            times = []
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                page = discrepancies.discrepancy_page(session, request)
                times.append(time.perf_counter() - t0)
            out.append({"figure": name, "rows": args.rows, "seconds": round(statistics.median(times), 3),
                        "total": page.total, "shown": len(page.rows)})
            print(json.dumps(out[-1]), flush=True)
    return out


if __name__ == "__main__":
    main()
