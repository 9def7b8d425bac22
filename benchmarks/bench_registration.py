"""F1 benchmark: bulk registration of a 1M-row contractor return, against its floor.

Run: ``.venv/bin/python benchmarks/bench_registration.py [--persons 1000000]``.

1. builds a workspace holding ``--persons`` targets (no numbers registered) and a
   contractor return for all of them with ``--error-rate`` mistakes (not timed);
2. in a fresh process, times ``registration.register`` on that file (wall time, peak
   RSS from ``resource.getrusage``, rows/s);
3. in another fresh process, times the floor: ``formats.read_table`` of the same file
   plus ``encrypt_many`` + ``digest_many`` + one ``INSERT`` of the same rows into a
   scratch table with the same keys, in the same kind of workspace, nothing else;
4. prints both and the ratio.  Targets: ≤ 15 s for 1M rows, ≤ 2× the floor, < 2 GB.

Each measurement runs in its own process so peak memory is that step's alone.
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

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent.parent))

from benchmarks import BENCH_PASSWORD as PASSWORD  # noqa: E402
from benchmarks import child, own_kek, peak_mb  # noqa: E402
from tests.direct_load import load_targets  # noqa: E402

__all__ = ["main"]

SECRET_FILE = "registrar.secret"


def prepare(workdir: Path, persons: int, error_rate: float, seed: int) -> dict[str, Any]:
    from workbench import Workspace
    from workbench.controls import users
    from workbench.simulate import generate_world
    from workbench.simulate.contractor import contractor_return_with_truth

    t0 = time.perf_counter()
    ws = Workspace.init(workdir / "ws", scrypt_n=2**10)
    enrol = users.create_initial_user(ws, "registrar", "registrar", PASSWORD, ["registrar"])
    (workdir / SECRET_FILE).write_text(enrol.otpauth_uri.split("secret=")[1].split("&")[0])
    world = generate_world(persons, seed=seed)
    load_targets(ws, world)
    data, truth = contractor_return_with_truth(world, seed=seed + 1, error_rate=error_rate, encoding="cp932")
    (workdir / "return.csv").write_bytes(data)
    registered = truth["outcome"].to_numpy() == "registered"
    ids = truth["person_id"].to_numpy(dtype=object)[registered]
    numbers = world.persons.set_index("person_id").loc[ids, "individual_number"].to_numpy(dtype=object)
    np.save(workdir / "floor_ids.npy", ids.astype(str))
    np.save(workdir / "floor_numbers.npy", numbers.astype(str))
    return {"prepare_s": time.perf_counter() - t0, "rows": len(truth), "expected_registered": int(registered.sum()),
            "bytes": len(data)}


def measure_register(workdir: Path) -> dict[str, Any]:
    from workbench import Workspace
    from workbench.core import credentials
    from workbench.intake import registration

    ws = Workspace.open(workdir / "ws")
    session = ws.login("registrar", PASSWORD, credentials.totp_code((workdir / SECRET_FILE).read_text(), ws.clock.now()))
    data = (workdir / "return.csv").read_bytes()
    t0 = time.perf_counter()
    summary = registration.register(session, data, source="contractor", file_name="return.csv")
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "peak_mb": peak_mb(), "rows": summary.rows, "outcomes": summary.outcomes}


def measure_floor(workdir: Path) -> dict[str, Any]:
    import pyarrow as pa

    from workbench import Workspace
    from workbench.core.numbers import BlindIndex, NumberCipher
    from workbench.files import formats

    ws = Workspace.open(workdir / "ws")
    data = (workdir / "return.csv").read_bytes()
    ids = np.load(workdir / "floor_ids.npy").astype(object).tolist()
    numbers = np.load(workdir / "floor_numbers.npy").astype(object).tolist()
    with ws.transaction("bench.floor_setup", "system") as con:
        con.execute("CREATE TABLE IF NOT EXISTS bench_scratch (person_id VARCHAR PRIMARY KEY, number_ct BLOB NOT NULL,"
                    " number_index BLOB NOT NULL UNIQUE, key_version SMALLINT, source VARCHAR,"
                    " registered_at TIMESTAMPTZ, registered_by VARCHAR)")
    ring = ws.keyring
    t0 = time.perf_counter()
    table = formats.read_table(data, "contractor_return")
    with ws.transaction("bench.floor", "system") as con:
        cts = NumberCipher(ring.key("numbers"), ring.current).encrypt_many(
            numbers, ids, table="person_numbers", column="number_ct")
        idx = BlindIndex(ring.key("blind_index")).digest_many(numbers)
        new = pa.table({"person_id": pa.array(ids, pa.string()), "number_ct": pa.array(cts, pa.binary()),
                        "number_index": pa.array(idx, pa.binary())})
        con.register("new", new)
        con.execute("INSERT INTO bench_scratch SELECT person_id, number_ct, number_index, ?, 'bench', now(), 'bench'"
                    " FROM new", [ring.current])
    wall = time.perf_counter() - t0
    with ws.transaction("bench.floor_teardown", "system") as con:
        con.execute("DROP TABLE bench_scratch")
    return {"wall_s": wall, "peak_mb": peak_mb(), "rows": table.rows}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--error-rate", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--step", choices=["register", "floor"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step:
        result = measure_register(args.workdir) if args.step == "register" else measure_floor(args.workdir)
        print(json.dumps(result))
        return result
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        workdir = Path(tmp)
        own_kek(workdir)
        prep = prepare(workdir, args.persons, args.error_rate, args.seed)
        floor = child(HERE, "floor", workdir)
        reg = child(HERE, "register", workdir)
    rows = prep["rows"]
    ratio = reg["wall_s"] / floor["wall_s"] if floor["wall_s"] else float("inf")
    print(f"F1 registration benchmark: {rows:,} rows, {args.error_rate:.0%} mistakes, "
          f"{prep['bytes'] / 1e6:.1f} MB CP932 (prepared in {prep['prepare_s']:.1f} s)")
    print(f"{'step':<22}{'wall s':>10}{'rows/s':>14}{'peak MB':>10}")
    for name, r in (("register", reg), ("floor (read+enc+ins)", floor)):
        print(f"{name:<22}{r['wall_s']:>10.2f}{rows / r['wall_s']:>14,.0f}{r['peak_mb']:>10.0f}")
    print(f"ratio register / floor: {ratio:.2f}x   outcomes: {reg['outcomes']}")
    ok = reg["outcomes"]["registered"] == prep["expected_registered"]
    print(f"registered as expected: {ok}")
    return {"rows": rows, "register": reg, "floor": floor, "ratio": ratio, "as_expected": ok}


if __name__ == "__main__":
    main()
