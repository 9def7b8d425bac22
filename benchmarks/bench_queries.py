"""F2 → F4 → F6 benchmark: the yearly income-declaration batch (P1, local tax) for N people, against its floor.

Run: ``.venv/bin/python benchmarks/bench_queries.py [--persons 1000000]``.

1. builds a workspace (not timed): ``--persons`` targets with registered numbers and
   integrated numbers, every household filing P1 for 2026 with everyone's consent, and an
   approved ``local_tax`` batch (one request per person);
2. **create** (F2): ``batches.create_info_batch`` — request IDs, fixed-width files of
   10,000 records, one package, ledger entry;
3. the linkage server simulator answers (not timed);
4. **import** (F4): ``results.import_info_results`` — read and verify the package, parse,
   check every value, match by request ID, store, close requests and the batch, detect
   income discrepancies;
5. **linkage** (F6): ``linkage.export_linkage`` (approved beforehand, not timed) — select
   the results with each person's discrepancy state, write the CSV package, record which
   results went out;
6. the **floor** of each step, in the same kind of workspace: only reading and writing the
   same data — (create) select person + integrated number, insert as many request IDs into a
   scratch table, ``write_fixed`` and ``write_package``; (import) ``read_package`` +
   ``read_fixed`` + one ``INSERT`` into a scratch table; (linkage) select the results,
   ``write_table`` and ``write_package``, insert which request IDs went out into a scratch table.
   The ratio is taken against the **durable** floor: its scratch tables are persistent, keyed as the
   service's tables are (a primary key on the request ID), and committed — what any store must do
   at least.  The floor used before (``temp``: temporary tables without a key, no WAL, no commit work,
   nothing recorded for F6) is timed and printed too.

Each step goes **through the data server** (issue 19 item 6), as the CLI does when ``workbench serve``
runs: a data server is started as a process of its own for the step (not timed), and a client process
logs in over the channel and calls the service (timed: the call, the server's work, the result sent
back).  Peak memory is the larger ``VmHWM`` of the two processes.  ``--embedded`` times the old way
(the client opens the workspace itself) for comparison.  Each floor runs in a fresh process of its
own.  Targets: round trip (2+4+5) ≤ 60 s for 1M people, ≤ 1.5× the floor (issue 19 item 6), < 3 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import BENCH_PASSWORD as PASSWORD
from benchmarks import child, peak_mb
from tests.direct_load import load_targets

HERE = Path(__file__).resolve()
STATE = "state.json"
#: One user per login: a one-time code cannot be used twice within its 30-second step.
USERS = {"op_request": "query_operator", "op_create": "query_operator", "op_import": "query_operator",
         "op_linkage_request": "query_operator", "op_linkage": "query_operator", "approver_1": "approver",
         "approver_2": "approver"}
STEPS = ("create", "import", "linkage")


def _state(workdir: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((workdir / STATE).read_text())
    return doc


def _save(workdir: Path, **values: Any) -> None:
    path = workdir / STATE
    doc = json.loads(path.read_text()) if path.exists() else {}
    doc.update(values)
    path.write_text(json.dumps(doc))


#: The data server's process ID, for a step timed through it (its CPU seconds are the step's too).
SERVER_PID_ENV = "BENCH_SERVER_PID"


def _cpu() -> float:
    """CPU seconds of this process and, through the data server, of the server: on this shared machine
    (other sessions' work beside it) wall seconds vary ×2–3 from run to run, CPU seconds much less."""
    total = time.process_time()
    pid = os.environ.get(SERVER_PID_ENV)
    if pid:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _login(workdir: Path, user: str) -> Any:
    """A session for ``user``: through the data server when one runs for the workspace (the one code
    path, :func:`workbench.core.channel.connect`), else the workspace opened here."""
    import datetime as dt

    from workbench.core import channel, credentials

    secret = _state(workdir)["secrets"][user]
    conn = channel.connect(workdir / "ws")
    return conn.login(user, PASSWORD, credentials.totp_code(secret, dt.datetime.now(dt.UTC)))


class _Server:
    """The data server as a process of its own (``python -m workbench.web.dataserver``), as ``workbench
    serve`` runs it; its peak memory is read before it stops."""

    def __init__(self, workdir: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "workbench.web.dataserver", str(workdir / "ws")],
                                     env=dict(os.environ, PYTHONPATH=str(HERE.parent.parent)),
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     start_new_session=True)
        assert self.proc.stdout is not None
        if not self.proc.stdout.readline().startswith("ready"):
            self.stop()
            raise RuntimeError("the data server did not start")

    def peak_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def _as(workdir: Path, user: str) -> Any:
    """The untimed set-up acting as ``user`` without logging in (its one-time code stays
    free for the timed step): an approval can only be used by the person who asked (issue 10)."""
    from workbench import Session, Workspace

    ws = Workspace.open(workdir / "ws")
    return Session(ws, user, (USERS[user],), ws.clock.now())


def prepare(workdir: Path, persons: int, seed: int) -> Any:
    """Workspace, targets, numbers, integrated numbers, filings, approved batch (not timed)."""
    import pyarrow as pa

    from workbench import Workspace
    from workbench.controls import users
    from workbench.core import approvals
    from workbench.core.numbers import BlindIndex, NumberCipher
    from workbench.queries import batches
    from workbench.simulate import generate_world
    from workbench.simulate.integrated_numbers import integrated_number_for

    ws = Workspace.init(workdir / "ws", scrypt_n=2**10)
    secrets = {}
    for user, role in USERS.items():
        enrol = users.create_initial_user(ws, user, user, PASSWORD, [role])
        secrets[user] = enrol.otpauth_uri.split("secret=")[1].split("&")[0]
    _save(workdir, secrets=secrets, persons=persons)
    world = generate_world(persons, seed=seed)
    load_targets(ws, world)
    p = world.persons
    ids = p["person_id"].astype(str).tolist()
    numbers = p["individual_number"].astype(str).tolist()
    ring = ws.keyring
    cts = NumberCipher(ring.key("numbers"), ring.current).encrypt_many(numbers, ids, table="person_numbers",
                                                                        column="number_ct")
    idx = BlindIndex(ring.key("blind_index")).digest_many(numbers)
    heads = p.groupby("household_id")["person_id"].transform("first")
    with ws.transaction("bench.setup", "system") as con:
        con.register("_n", pa.table({"person_id": pa.array(ids), "ct": pa.array(cts, pa.binary()),
                                     "ix": pa.array(idx, pa.binary()),
                                     "g": pa.array([integrated_number_for(n) for n in numbers]),
                                     "head": pa.array(heads.astype(str).tolist())}))
        con.execute("INSERT INTO person_numbers SELECT person_id, ct, ix, ?, 'bench', now(), 'bench' FROM _n",
                    [ring.current])
        con.execute("INSERT INTO integrated_numbers SELECT person_id, g, 'BENCH', now() FROM _n")
        con.execute("INSERT INTO housing_procedures SELECT DISTINCT 'R-' || head, 'P1', 2026, DATE '2026-05-01', head,"
                    " 'BENCH', now() FROM _n")
        con.execute("INSERT INTO procedure_members SELECT 'R-' || head, person_id, TRUE FROM _n")
        con.unregister("_n")
    del cts, idx
    approval = batches.request_info_batch(_as(workdir, "op_create"), procedure="P1", fiscal_year=2026,
                                          information="local_tax")
    approvals.decide(_login(workdir, "approver_1"), approval.approval_id, approve=True)
    _save(workdir, batch_approval=approval.approval_id)
    return world


def measure(workdir: Path, step: str) -> dict[str, Any]:
    from workbench.queries import batches, linkage_file, results

    state = _state(workdir)
    if step == "create":
        session = _login(workdir, "op_create")
        t0, c0 = time.perf_counter(), _cpu()
        out = batches.create_info_batch(session, approval_id=state["batch_approval"], procedure="P1", fiscal_year=2026,
                                        information="local_tax")
        wall, cpu = time.perf_counter() - t0, _cpu() - c0
        _save(workdir, request_package=str(out.path), batch_id=out.extra["batch_id"])
        return {"wall_s": wall, "cpu_s": cpu, "peak_mb": peak_mb(), "records": out.record_count}
    if step == "import":
        session = _login(workdir, "op_import")
        t0, c0 = time.perf_counter(), _cpu()
        summary = results.import_info_results(session, state["answer_package"])
        wall, cpu = time.perf_counter() - t0, _cpu() - c0
        return {"wall_s": wall, "cpu_s": cpu, "peak_mb": peak_mb(), "records": summary.stored,
                "closed": summary.batches_closed}
    session = _login(workdir, "op_linkage")
    t0, c0 = time.perf_counter(), _cpu()
    out = linkage_file.export_linkage(session, approval_id=state["linkage_approval"], procedure="P1", fiscal_year=2026)
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    _save(workdir, linkage_package=str(out.path))
    return {"wall_s": wall, "cpu_s": cpu, "peak_mb": peak_mb(), "records": out.record_count}


#: The floor's kinds: ``durable`` (the honest lower bound, the ratio's denominator since 2026-12) stores what any
#: implementation must store — the requests with their unique IDs (C10), the answers, the record of which results
#: went out — in a persistent table with the same primary key as the service's, committed; ``temp`` (the floor
#: before) wrote a temporary table (no primary key, no WAL, no commit work) and recorded nothing for F6.
FLOORS = ("durable", "temp")


def measure_floor(workdir: Path, step: str, kind: str = "durable") -> dict[str, Any]:
    """Reading and writing the same data, nothing else (see the module docstring)."""
    from workbench import Workspace
    from workbench.files import formats, media, transfer
    from workbench.files.query_files import ANSWER_LAYOUT, REQUEST_LAYOUT, read_fixed_arrow, split_records, write_fixed
    from workbench.queries.linkage_file import LINKAGE_LAYOUT, RECORDS_PER_MEMBER

    ws = Workspace.open(workdir / "ws")
    state = _state(workdir)
    out = workdir / f"floor-{step}.wbpkg"
    durable = kind == "durable"
    t0, c0 = time.perf_counter(), _cpu()
    if step == "create":
        key, key_id = media.recipient_key(ws, "linkage_server")
        with ws.transaction("bench.floor", "system") as con:
            frame = con.execute("SELECT person_id AS atena_no, integrated_number AS integrated_no FROM integrated_numbers"
                                " ORDER BY person_id").df()
            if durable:  # a request ID of the real shape (24 characters) per person, unique by primary key
                con.execute("CREATE TABLE _floor_requests (request_id VARCHAR PRIMARY KEY, atena_no VARCHAR NOT NULL)")
                con.execute("INSERT INTO _floor_requests SELECT 'QB20260101FLOOR0-' || lpad((row_number() OVER ())::VARCHAR,"
                            " 7, '0'), atena_no FROM frame")
            else:
                con.execute("CREATE TEMP TABLE _s AS SELECT atena_no || '-' AS request_id, atena_no FROM frame")
            rows = len(frame)
            for name in REQUEST_LAYOUT.names:
                if name not in frame:
                    frame[name] = "X"
            members = ((f"m{n}.txt", write_fixed(frame.iloc[a:b], REQUEST_LAYOUT))
                       for n, (a, b) in enumerate(split_records(rows)))
            transfer.write_package(out, key=key, key_id=key_id, kind="floor", recipient="linkage_server",
                                   members=members, record_count=rows, creator="bench",
                                   workspace_id=ws.settings.workspace_id)
    elif step == "import":
        key, _ = media.recipient_key(ws, "linkage_server")
        package = transfer.read_package(Path(state["answer_package"]), key=key)
        # read as Arrow (read_fixed_arrow), the quickest way the workbench has into the database
        frame = pa.concat_tables([read_fixed_arrow(b, ANSWER_LAYOUT)[0] for b in package.members.values()])
        rows = frame.num_rows
        with ws.transaction("bench.floor", "system") as con:
            if durable:  # the answers as read (text), keyed by request ID as info_results is
                columns = ", ".join(f"{n} VARCHAR" + (" PRIMARY KEY" if n == "request_id" else "")
                                    for n in ANSWER_LAYOUT.names)
                con.execute(f"CREATE TABLE _floor_results ({columns})")
                con.execute("INSERT INTO _floor_results SELECT * FROM frame")
            else:
                con.execute("CREATE TEMP TABLE _s AS SELECT * FROM frame")
    else:
        key, key_id = media.recipient_key(ws, "housing_system")
        with ws.transaction("bench.floor", "system") as con:
            frame = con.execute("SELECT i.person_id, q.procedure_id, i.information, i.request_id, i.status AS result_status,"
                                " i.tax_year::VARCHAR AS tax_year, i.taxable_income::VARCHAR AS taxable_income,"
                                " i.tax_status FROM info_results i JOIN query_requests q USING (request_id)"
                                " ORDER BY i.person_id").df()
            rows = len(frame)
            for name in LINKAGE_LAYOUT.names:
                if name not in frame:
                    frame[name] = ""
            members = ((f"m{n}.csv", formats.write_table(frame.iloc[a:b], LINKAGE_LAYOUT))
                       for n, (a, b) in enumerate(split_records(rows, RECORDS_PER_MEMBER)))
            transfer.write_package(out, key=key, key_id=key_id, kind="floor", recipient="housing_system",
                                   members=members, record_count=rows, creator="bench",
                                   workspace_id=ws.settings.workspace_id)
            if durable:  # which results went out, as linkage_export_members records them
                con.execute("CREATE TABLE _floor_sent (export_id VARCHAR NOT NULL, request_id VARCHAR NOT NULL,"
                            " PRIMARY KEY (export_id, request_id))")
                con.execute("INSERT INTO _floor_sent SELECT 'LFLOOR000000', request_id FROM frame")
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    out.unlink(missing_ok=True)
    return {"wall_s": wall, "cpu_s": cpu, "peak_mb": peak_mb(), "records": rows}


def _child(workdir: Path, step: str, floor: str | None = None, *, server: bool = False) -> dict[str, Any]:
    if not server or floor:
        return child(HERE, step, workdir, *(["--floor", floor] if floor else []))
    srv = _Server(workdir)
    os.environ[SERVER_PID_ENV] = str(srv.proc.pid)
    try:
        result = child(HERE, step, workdir)
        result["client_peak_mb"] = result["peak_mb"]
        result["server_peak_mb"] = srv.peak_mb()
        result["peak_mb"] = max(result["peak_mb"], result["server_peak_mb"])
    finally:
        os.environ.pop(SERVER_PID_ENV, None)
        srv.stop()
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)
    parser.add_argument("--floor", choices=FLOORS, help=argparse.SUPPRESS)
    parser.add_argument("--embedded", action="store_true",
                        help="time the steps with the workspace opened in the client (no data server), as before")
    args = parser.parse_args(argv)
    if args.step:
        result = measure_floor(args.workdir, args.step, args.floor) if args.floor else measure(args.workdir, args.step)
        print(json.dumps(result))
        return result

    from workbench import Workspace
    from workbench.core import approvals
    from workbench.queries import linkage_file
    from workbench.simulate import intermediate_server

    with tempfile.TemporaryDirectory(dir=args.workdir, ignore_cleanup_errors=True) as tmp:
        workdir = Path(tmp)
        # The data server's socket, in a 0700 folder of its own (short: a Unix socket's path has ~107 bytes).
        os.environ["WORKBENCH_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="wbq-")
        os.environ.setdefault("WORKBENCH_ANCHOR_CHATTR", "0")  # a throwaway anchor: no append-only flag to clean up
        if not os.environ.get("WORKBENCH_KEK_FILE"):  # a key-encryption key of the run's own, outside the workspace
            from workbench.core.keys import KeyEncryptionKey

            os.environ["WORKBENCH_KEK_FILE"] = str(KeyEncryptionKey.create_file(workdir / "bench.kek").path)
        served = not args.embedded
        t0 = time.perf_counter()
        world = prepare(workdir, args.persons, args.seed)
        prepare_s = time.perf_counter() - t0
        out: dict[str, Any] = {"persons": args.persons, "prepare_s": prepare_s, "floor": {}, "floor_temp": {},
                               "path": "embedded" if args.embedded else "data server"}
        out["create"] = _child(workdir, "create", server=served)
        t1 = time.perf_counter()
        ws = Workspace.open(workdir / "ws")
        paths = intermediate_server.answer_package(ws, _state(workdir)["request_package"], world,
                                                   ws.folder("incoming"), seed=args.seed)
        _save(workdir, answer_package=str(paths[0]))
        out["answer_s"] = time.perf_counter() - t1
        del world
        out["import"] = _child(workdir, "import", server=served)
        approval = linkage_file.request_linkage(_as(workdir, "op_linkage"), procedure="P1", fiscal_year=2026)
        approvals.decide(_login(workdir, "approver_2"), approval.approval_id, approve=True)
        _save(workdir, linkage_approval=approval.approval_id)
        out["linkage"] = _child(workdir, "linkage", server=served)
        for step in STEPS:
            out["floor"][step] = _child(workdir, step, floor="durable")
            out["floor_temp"][step] = _child(workdir, step, floor="temp")
    shutil.rmtree(os.environ["WORKBENCH_RUNTIME_DIR"], ignore_errors=True)
    n = args.persons
    total = sum(out[s]["wall_s"] for s in STEPS)
    floor_total = sum(out["floor"][s]["wall_s"] for s in STEPS)
    out["round_trip_s"] = total
    out["floor_s"] = floor_total
    out["ratio"] = total / floor_total if floor_total else float("inf")
    out["peak_mb"] = max(out[s]["peak_mb"] for s in STEPS)
    out["as_expected"] = all(out[s]["records"] == n for s in STEPS) and bool(out["import"]["closed"])
    print(f"F2 -> F4 -> F6 benchmark (P1 local tax, through the {out['path']}): {n:,} people, one request each "
          f"(prepared in {prepare_s:.1f} s, answers simulated in {out['answer_s']:.1f} s, neither timed)")
    cpu = sum(out[s]["cpu_s"] for s in STEPS)
    floor_cpu = sum(out["floor"][s]["cpu_s"] for s in STEPS)
    out["cpu_s"], out["floor_cpu_s"] = cpu, floor_cpu
    out["cpu_ratio"] = cpu / floor_cpu if floor_cpu else float("inf")
    print(f"{'step':<16}{'wall s':>9}{'cpu s':>8}{'peak MB':>9}{'floor s':>9}{'cpu s':>8}{'floor MB':>10}"
          f"{'ratio':>7}{'cpu ratio':>10}")
    for step in STEPS:
        r, f = out[step], out["floor"][step]
        print(f"{step:<16}{r['wall_s']:>9.2f}{r['cpu_s']:>8.2f}{r['peak_mb']:>9.0f}{f['wall_s']:>9.2f}{f['cpu_s']:>8.2f}"
              f"{f['peak_mb']:>10.0f}{r['wall_s'] / f['wall_s']:>7.2f}{r['cpu_s'] / f['cpu_s']:>10.2f}")
    print(f"{'round trip':<16}{total:>9.2f}{cpu:>8.2f}{out['peak_mb']:>9.0f}{floor_total:>9.2f}{floor_cpu:>8.2f}{'':>10}"
          f"{out['ratio']:>7.2f}{out['cpu_ratio']:>10.2f}")
    temp_total = sum(out["floor_temp"][s]["wall_s"] for s in STEPS)
    temp_cpu = sum(out["floor_temp"][s]["cpu_s"] for s in STEPS)
    out["temp_floor_s"], out["temp_floor_cpu_s"] = temp_total, temp_cpu
    out["temp_ratio"] = total / temp_total if temp_total else float("inf")
    out["temp_cpu_ratio"] = cpu / temp_cpu if temp_cpu else float("inf")
    print("the floor before (a temporary table: no primary key, no WAL, no commit work; F6 recording nothing):")
    for step in STEPS:
        r, f = out[step], out["floor_temp"][step]
        print(f"{step:<16}{'':>9}{'':>8}{'':>9}{f['wall_s']:>9.2f}{f['cpu_s']:>8.2f}{f['peak_mb']:>10.0f}"
              f"{r['wall_s'] / f['wall_s']:>7.2f}{r['cpu_s'] / f['cpu_s']:>10.2f}")
    print(f"{'round trip':<16}{'':>9}{'':>8}{'':>9}{temp_total:>9.2f}{temp_cpu:>8.2f}{'':>10}"
          f"{out['temp_ratio']:>7.2f}{out['temp_cpu_ratio']:>10.2f}")
    print(f"targets: round trip <= 60 s: {total <= 60}; <= 1.5x floor: {out['ratio'] <= 1.5} "
          f"(in CPU seconds: {out['cpu_ratio'] <= 1.5}); "
          f"< 3 GB: {out['peak_mb'] < 3072}; records as expected: {out['as_expected']}")
    return out


if __name__ == "__main__":
    main()
