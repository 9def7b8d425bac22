"""F8 benchmark: publish the de-identified source from N people, then tables from the service.

Run: ``.venv/bin/python benchmarks/bench_stats.py [--persons 1000000] [--min-count 20] [--keep DIR]``.

``--keep DIR`` builds the workspace and its first publication in ``DIR`` once (outside the
repository) and reuses them on the next run: the 1,000,000-person world takes minutes to build.

1. builds a workspace holding ``--persons`` targets (set-based, as bench_registration)
   with an income result for each (not timed);
2. in a fresh process, times ``stats.publish`` (k = 10): the source query, APPI rule 34
   processing, k-anonymity, record keys and the source kept in the store;
3. in a fresh process each, times ``stats.table`` as an analyst — the whole service call: login
   excluded; the records read from the store, the version check, cell-key perturbation, and the
   release's ledger row and audit record written in its transaction:
   * ward × age band × sex with perturbation, primary and secondary suppression and the LP
     audit (``--min-count``: the default 20 is above k = 10, so that suppression has work to do);
   * ward × age band × sex × household size × income band with perturbation only (min count 0:
     suppression with its proof is offered up to 20,000 cells);
   * age band × household size × income band × number registered with suppression (many
     protected cells: the 4-way case that took 37–83 s).
4. floor: the same records read from the store and counted with numpy (no perturbation).

Targets (issue 21): a 3-way table ≤ 1 s and < 1 GB at 1,000,000 people; a 5-way table ≤ 3 s.
Each table step also reports its CPU seconds (the machine is shared: wall time varies with load).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent.parent))

from benchmarks import BENCH_PASSWORD as PASSWORD  # noqa: E402
from benchmarks import child, own_kek, peak_mb  # noqa: E402
from tests.direct_load import load_targets  # noqa: E402


def prepare(workdir: Path, persons: int, seed: int) -> dict[str, Any]:
    from workbench import Workspace
    from workbench.controls import users
    from workbench.simulate import generate_world

    t0 = time.perf_counter()
    ws = Workspace.init(workdir / "ws", scrypt_n=2**10)
    # An analyst per table step: each logs in once, so no step waits for a fresh one-time-code step.
    for user, role in (("registrar", "registrar"), ("analyst", "analyst"), ("analyst4", "analyst"), ("analyst5", "analyst")):
        enrol = users.create_initial_user(ws, user, user, PASSWORD, [role])
        (workdir / f"{user}.secret").write_text(enrol.otpauth_uri.split("secret=")[1].split("&")[0])
    world = generate_world(persons, seed=seed)
    load_targets(ws, world)
    pp = world.persons
    inc = pd.DataFrame({"person_id": pp["person_id"].to_numpy(dtype=object),
                        "income": pp["annual_income"].to_numpy(dtype=np.int64)})
    with ws.transaction("bench.load_income", "system") as con:
        con.register("inc", inc)
        con.execute("INSERT INTO info_results (request_id, batch_id, person_id, information, status, taxable_income,"
                    " import_id, imported_at) SELECT 'R' || person_id, 'B1', person_id, 'local_tax', '00', income,"
                    " 'I1', now() FROM inc")
        con.unregister("inc")
    return {"prepare_s": time.perf_counter() - t0, "persons": persons}


def _session(workdir: Path, user: str) -> Any:
    from workbench import Workspace
    from workbench.core import credentials
    from workbench.core.errors import AuthenticationFailed

    ws = Workspace.open(workdir / "ws")
    if not (workdir / f"{user}.secret").exists():  # a workspace kept (--keep) before the per-step analysts
        user = "analyst"
    secret = (workdir / f"{user}.secret").read_text()
    try:
        return ws.login(user, PASSWORD, credentials.totp_code(secret, ws.clock.now()))
    except AuthenticationFailed:
        # the last step logged the same user in within this 30-second step: a one-time code is
        # used once, so wait for the next (login is not timed)
        time.sleep(30.5 - time.time() % 30)
        return ws.login(user, PASSWORD, credentials.totp_code(secret, ws.clock.now()))


def measure_publish(workdir: Path) -> dict[str, Any]:
    from workbench.statistics import publishing

    session = _session(workdir, "registrar")
    t0 = time.perf_counter()
    summary = publishing.publish(session, k=10)
    wall = time.perf_counter() - t0
    rep = summary.manifest["k_anonymity"]
    return {"wall_s": wall, "peak_mb": peak_mb(), "publication_id": summary.publication_id,
            "records": summary.records, "k": rep["achieved"], "removed": rep["records_removed"],
            "generalisation": rep["generalisation"]}


def measure_publish_floor(workdir: Path) -> dict[str, Any]:
    from workbench import Workspace
    from workbench.statistics.publishing import _SOURCE

    ws = Workspace.open(workdir / "ws")
    t0 = time.perf_counter()
    day = ws.clock.now().date()
    with ws.transaction("bench.publish_floor", "system") as con:
        frame = con.execute(_SOURCE, [day, day]).df()
    frame.to_parquet(workdir / "floor.parquet", index=False)
    return {"wall_s": time.perf_counter() - t0, "peak_mb": peak_mb(), "rows": len(frame)}


def measure_table(workdir: Path, min_count: int, dims: list[str], user: str = "analyst") -> dict[str, Any]:
    from workbench.statistics import publishing

    session = _session(workdir, user)
    import scipy.optimize  # noqa: F401  (imported by a warm server already: not the table's cost)

    c0, t0 = time.process_time(), time.perf_counter()
    table = publishing.table(session, "S0001", *dims, min_count=min_count)
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "cpu_s": time.process_time() - c0, "peak_mb": peak_mb(), "cells": table.counts()}


def measure_table_floor(workdir: Path) -> dict[str, Any]:
    from workbench import Workspace

    ws = Workspace.open(workdir / "ws")
    t0 = time.perf_counter()
    with ws.transaction("bench.table_floor", "system") as con:
        got = con.execute("SELECT ward, age_band, sex FROM stats_source WHERE publication_id = 'S0001'").fetchnumpy()
    flat = (np.asarray(got["ward"], dtype=np.int64) * 64 + np.asarray(got["age_band"], dtype=np.int64)) * 8 \
        + np.asarray(got["sex"], dtype=np.int64)
    counts = np.bincount(flat)
    return {"wall_s": time.perf_counter() - t0, "peak_mb": peak_mb(), "cells": int((counts > 0).sum())}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--min-count", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--keep", type=Path, help="build the workspace here once and reuse it")
    parser.add_argument("--step", choices=["publish", "publish_floor", "table", "table4", "table5", "table_floor"],
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step:
        steps = {"publish": lambda: measure_publish(args.workdir), "publish_floor": lambda: measure_publish_floor(args.workdir),
                 "table": lambda: measure_table(args.workdir, args.min_count, ["ward", "age_band", "sex"]),
                 "table5": lambda: measure_table(args.workdir, 0, ["ward", "age_band", "sex", "household_size",
                                                                   "income_band"], "analyst5"),
                 "table4": lambda: measure_table(args.workdir, args.min_count, ["age_band", "household_size",
                                                                               "income_band", "number_registered"], "analyst4"),
                 "table_floor": lambda: measure_table_floor(args.workdir)}
        result = steps[args.step]()
        print(json.dumps(result, ensure_ascii=False))
        return result
    if args.keep is not None:
        workdir = args.keep
        workdir.mkdir(parents=True, exist_ok=True)
        own_kek(workdir)
        built = workdir / "built.json"
        if built.exists() and json.loads(built.read_text())["persons"] == args.persons:
            prep, pub, pfloor = json.loads(built.read_text())["prep"], *json.loads(built.read_text())["publish"]
        else:
            prep = prepare(workdir, args.persons, args.seed)
            pfloor = child(HERE, "publish_floor", workdir)
            pub = child(HERE, "publish", workdir)
            built.write_text(json.dumps({"persons": args.persons, "prep": prep, "publish": [pub, pfloor]}))
        tfloor, tab, tab4, tab5 = _tables(workdir, args.min_count)
    else:
        with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
            workdir = Path(tmp)
            own_kek(workdir)
            prep = prepare(workdir, args.persons, args.seed)
            pfloor = child(HERE, "publish_floor", workdir)
            pub = child(HERE, "publish", workdir)
            tfloor, tab, tab4, tab5 = _tables(workdir, args.min_count)
    print(f"F8 statistics benchmark: {args.persons:,} people (prepared in {prep['prepare_s']:.1f} s)")
    print(f"{'step':<40}{'wall s':>10}{'cpu s':>8}{'peak MB':>10}{'ratio':>8}")
    for name, r, floor in (("publish (k=10)", pub, pfloor), ("  floor: query + Parquet", pfloor, None),
                           (f"table ward×age×sex (min {args.min_count})", tab, tfloor),
                           (f"table age×household×income×reg (min {args.min_count})", tab4, tfloor),
                           ("table 5-way, perturbation only", tab5, tfloor),
                           ("  floor: store read + bincount", tfloor, None)):
        ratio = f"{r['wall_s'] / floor['wall_s']:.1f}x" if floor else ""
        cpu = f"{r['cpu_s']:.2f}" if "cpu_s" in r else ""
        print(f"{name:<40}{r['wall_s']:>10.2f}{cpu:>8}{r['peak_mb']:>10.0f}{ratio:>8}")
    print(f"publication: {pub['records']:,} records, k={pub['k']}, removed {pub['removed']:,}, "
          f"generalisation {pub['generalisation'] or 'none'}")
    print(f"3-way cells: {tab['cells']}; 4-way cells: {tab4['cells']}; 5-way cells: {tab5['cells']}")
    return {"publish": pub, "publish_floor": pfloor, "table": tab, "table4": tab4, "table5": tab5,
            "table_floor": tfloor}


def _tables(workdir: Path, min_count: int) -> tuple[dict[str, Any], ...]:
    return (child(HERE, "table_floor", workdir), child(HERE, "table", workdir, "--min-count", str(min_count)),
            child(HERE, "table4", workdir, "--min-count", str(min_count)), child(HERE, "table5", workdir))


if __name__ == "__main__":
    main()
