"""A synthetic population written straight into a workspace's tables, for tests and benchmarks.

Not a product path (issue 18 item 6): the product takes a target list only through
``targets.import_targets`` and numbers only through registration.  This loader skips both — one
SQL insert per table, numbers encrypted and indexed as registration would — so a test or a
benchmark starts from thousands of listed (and, for ``registered`` rows, registered) people in
seconds; :func:`build_office` builds a whole busy office that way (the dashboards' benchmark and the
fast-selection tests).  Benchmarks import them from here (tests never import ``benchmarks``); nothing
in ``workbench`` does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from workbench.controls.users import create_initial_user
from workbench.core import audit
from workbench.core.numbers import BlindIndex, generate_numbers
from workbench.core.workspace import Session, Workspace
from workbench.demo import DEMO_PASSWORD, DEMO_USERS
from workbench.simulate import World, generate_world
from workbench.statistics import publishing

__all__ = ["OFFICE_SHAPE", "build_office", "load_targets", "load_world"]


def load_world(ws: Workspace, persons: pd.DataFrame, households: pd.DataFrame, *, registered: np.ndarray) -> dict[str, int]:
    """Load a synthetic target list and register the numbers of the ``registered`` rows."""
    now = ws.clock.now()
    ring = ws.keyring
    reg = persons.loc[registered, ["person_id", "individual_number"]]
    ids = reg["person_id"].tolist()
    numbers = reg["individual_number"].tolist()
    cts = ws.number_cipher().encrypt_many(
        numbers, ids, table="person_numbers", column="number_ct"
    )
    idx = BlindIndex(ring.key("blind_index")).digest_many(numbers)
    del numbers
    numbers_df = pd.DataFrame({"person_id": ids, "number_ct": cts, "number_index": idx})
    hh = households[["household_id", "ward_code", "address", "housing_type", "status", "phone"]]
    pp = persons[["person_id", "household_id", "relation", "name", "kana", "sex", "birth_date", "address", "status"]]
    with ws.transaction("demo.load_world", "system") as con:
        con.register("hh", hh)
        con.register("pp", pp)
        con.register("nn", numbers_df)
        con.execute("INSERT INTO households SELECT *, TRUE, ? FROM hh", [now])
        con.execute(
            "INSERT INTO persons SELECT person_id, household_id, relation, name, kana, sex, birth_date::DATE,"
            " address, status, TRUE, FALSE, ? FROM pp",
            [now],
        )
        con.execute(
            "INSERT INTO person_numbers SELECT person_id, number_ct, number_index, ?, 'demo', ?, 'system' FROM nn",
            [ring.current, now],
        )
        for name in ("hh", "pp", "nn"):
            con.unregister(name)
        counts = {"households": len(hh), "persons": len(pp), "registered": len(ids)}
        audit.append(con, key=ring.audit_key(), at=now, user_id="system", operation="demo.load_world",
                     outcome="ok", params=counts)
    return counts


def load_targets(ws: Workspace, world: World) -> dict[str, int]:
    """Load a synthetic world as the target list, no numbers registered (set-based)."""
    now = ws.clock.now()
    hh = world.households[["household_id", "ward_code", "address", "housing_type", "status", "phone"]]
    pp = world.persons[["person_id", "household_id", "relation", "name", "kana", "sex", "birth_date", "address",
                        "status", "deceased"]]
    with ws.transaction("bench.load_targets", "system") as con:
        con.register("hh", hh)
        con.register("pp", pp)
        con.execute(
            "INSERT INTO households (household_id, ward_code, address, housing_type, status, phone, listed, updated_at)"
            " SELECT household_id, ward_code, address, housing_type, status, phone, TRUE, ? FROM hh", [now])
        con.execute(
            "INSERT INTO persons (person_id, household_id, relation, name, kana, sex, birth_date, address, status,"
            " listed, deceased, updated_at) SELECT person_id, household_id, relation, name, kana, sex,"
            " birth_date::DATE, address, status, TRUE, deceased, ? FROM pp", [now])
        con.unregister("hh")
        con.unregister("pp")
    return {"households": len(hh), "persons": len(pp)}


# ------------------------------------------------------------------------------ a busy office
#: The office's shape at full size (shares of the population); the figures a clerk meets.
OFFICE_SHAPE = {
    "registered": 0.70,          # numbers held
    "integrated": 0.95,          # of the registered: integrated number obtained
    "juki_discrepancy": 0.40,    # of the Juki-net answers: a difference (moves, renames, deaths …)
    "info_waiting": 0.25,        # of the P1 filers: local-tax query sent, answer awaited
    "returns": 0.03,             # of the population: lines of the contractor's return list
    "reviews": 0.002,            # of the population: a different number waiting for review
}

_DISCREPANCY_KINDS = """
CASE WHEN r < 0.60 THEN 'moved' WHEN r < 0.85 THEN 'renamed' WHEN r < 0.90 THEN 'deceased'
     WHEN r < 0.95 THEN 'sex_differs' ELSE 'birth_date_differs' END"""


def build_office(path: Path, *, persons: int = 1_000_000, seed: int = 1, publish: bool = True,
                 log: Callable[[str], None] = print) -> dict[str, Any]:
    """A demo workspace of ``persons`` people in the state of a busy office, built set-based.

    Not through the services row by row (that would take hours at 1,000,000): the synthetic
    world is loaded with :func:`tests.direct_load.load_world` and the derived tables with a few
    ``INSERT … SELECT`` in the shapes the services write (:data:`OFFICE_SHAPE`).  The pending
    approval and the statistics publication go through the real services.  The demo accounts
    (``workbench demo-code``) log in with the real password hashing.
    """
    t_all = time.perf_counter()

    def step(name: str, t0: float) -> float:
        log(f"  built {name} in {time.perf_counter() - t0:.1f} s")
        return time.perf_counter()

    t = time.perf_counter()
    ws = Workspace.init(path, demo=True)
    for user_id, roles in DEMO_USERS.items():
        create_initial_user(ws, user_id, f"デモ {user_id}", DEMO_PASSWORD, roles)
    world = generate_world(persons, seed=seed)
    t = step("world", t)
    rng = np.random.default_rng(seed)
    pp = world.persons
    registered = (~pp["deceased"].to_numpy(dtype=bool)) & (rng.random(len(pp)) < OFFICE_SHAPE["registered"])
    counts = load_world(ws, pp, world.households, registered=registered)
    del world, pp
    t = step("targets and numbers", t)
    s = OFFICE_SHAPE
    now = ws.clock.now()
    year = now.year if now.month >= 4 else now.year - 1  # the fiscal year (年度) of today
    p = {"now": now, "year": year, "seed": seed / 1000}
    with ws.transaction("bench.build_office", "system") as con:
        con.execute("SELECT setseed($seed)", {"seed": p["seed"]})
        # F1b: integrated numbers of most registered people.
        con.execute(f"""INSERT INTO integrated_numbers
            SELECT person_id, lpad((row_number() OVER (ORDER BY person_id))::VARCHAR, 15, '0'), 'IR-' || person_id, $now
            FROM person_numbers WHERE random() < {s['integrated']}""", {"now": now})
        # ⑧⑨: everyone's P1 filing of this fiscal year, the head applying for the household, members named.
        con.execute("""INSERT INTO procedure_imports VALUES ('PI-BENCH', 'bench-' || $year, 'bench-procedures.csv', 'utf-8',
                       (SELECT count(*) FROM persons WHERE relation = 'head'), '{}', $now, 'query')""",
                    {"now": now, "year": year})
        con.execute("""INSERT INTO housing_procedures
            SELECT 'D-' || household_id, 'P1', $year, ($year || '-05-01')::DATE, person_id, 'PI-BENCH', $now
            FROM persons WHERE relation = 'head'""", {"now": now, "year": year})
        con.execute("""INSERT INTO procedure_members
            SELECT 'D-' || household_id, person_id, TRUE FROM persons WHERE relation = 'head'""")
        # F3/F5: one Juki-net round for everyone with a number; answers; C7 discrepancies (open, notified, resolved).
        con.execute("""INSERT INTO query_batches VALUES ('JB-BENCH', 'juki', 'P1', $year, '["juki"]', 'A-BENCH-J', 'bench',
                       (SELECT count(*) FROM person_numbers), 1, 10000, '{}', 'L-BENCH-J', 'PK-BENCH-J', 'closed', $now,
                       'query', $now)""", {"now": now, "year": year})
        con.execute("""INSERT INTO query_requests
            SELECT 'JB-BENCH-' || lpad(rn::VARCHAR, 7, '0'), 'JB-BENCH', 'juki', person_id, 'D-' || household_id, 'P1', $year,
                   'juki', NULL, CASE WHEN relation = 'head' THEN 'filed' ELSE 'household' END, ((rn - 1) // 10000 + 1)::INTEGER,
                   ((rn - 1) % 10000 + 1)::INTEGER, 'answered', $now, $now, '00', $now, 'RI-BENCH-J'
            FROM (SELECT p.*, row_number() OVER (ORDER BY p.person_id) AS rn FROM persons p JOIN person_numbers USING (person_id))""",
                    {"now": now, "year": year})
        con.execute("""INSERT INTO juki_results
            SELECT q.request_id, q.batch_id, q.person_id, '00', p.name, p.kana, p.sex, p.birth_date, p.address, FALSE,
                   strftime($now, '%Y%m%d%H%M%S'), 'RI-BENCH-J', $now
            FROM query_requests q JOIN persons p USING (person_id) WHERE q.batch_id = 'JB-BENCH'""", {"now": now})
        con.execute(f"""INSERT INTO discrepancies (discrepancy_id, request_id, batch_id, person_id, source, kind, fields, held,
                                                   reported, status, detected_at, notified_at, notified_by, resolved_at,
                                                   resolved_by)
            SELECT 'DBENCH-' || lpad((row_number() OVER (ORDER BY request_id))::VARCHAR, 7, '0'), request_id, batch_id,
                   person_id, 'juki', kind, fields, held, reported, status, $now - INTERVAL (days) DAY,
                   CASE WHEN status <> 'open' THEN $now END, CASE WHEN status <> 'open' THEN 'reviewer' END,
                   CASE WHEN status = 'resolved' THEN $now END, CASE WHEN status = 'resolved' THEN 'reviewer' END
            FROM (SELECT q.request_id, q.batch_id, q.person_id, k.kind,
                         CASE k.kind WHEN 'moved' THEN '["address"]' WHEN 'renamed' THEN '["name"]'
                              WHEN 'deceased' THEN '["deceased"]' WHEN 'sex_differs' THEN '["sex"]' ELSE '["birth_date"]' END
                           AS fields,
                         CASE k.kind WHEN 'moved' THEN json_object('address', p.address)::VARCHAR
                              WHEN 'renamed' THEN json_object('name', p.name)::VARCHAR
                              WHEN 'deceased' THEN '{{"deceased": false}}'
                              WHEN 'sex_differs' THEN json_object('sex', p.sex)::VARCHAR
                              ELSE json_object('birth_date', p.birth_date::VARCHAR)::VARCHAR END AS held,
                         CASE k.kind WHEN 'moved' THEN json_object('address', p.address || '（転居先）')::VARCHAR
                              WHEN 'renamed' THEN json_object('name', p.name || '子')::VARCHAR
                              WHEN 'deceased' THEN '{{"deceased": true}}'
                              WHEN 'sex_differs' THEN json_object('sex', CASE p.sex WHEN '1' THEN '2' ELSE '1' END)::VARCHAR
                              ELSE json_object('birth_date', (p.birth_date + 1)::VARCHAR)::VARCHAR END AS reported,
                         CASE WHEN random() < 0.8 THEN 'open' WHEN random() < 0.75 THEN 'person_notified' ELSE 'resolved' END
                           AS status,
                         (random() * 60)::INTEGER AS days
                  FROM query_requests q JOIN persons p USING (person_id),
                       LATERAL (SELECT {_DISCREPANCY_KINDS} AS kind FROM (SELECT random() AS r)) k
                  WHERE q.batch_id = 'JB-BENCH' AND random() < {s['juki_discrepancy']})""", {"now": now})
        # F2: a P1 local-tax batch already sent for a quarter of the filers, answers awaited (回答待ち).
        con.execute("""INSERT INTO query_batches VALUES ('QB-BENCH', 'info', 'P1', $year, '["local_tax"]', 'A-BENCH-Q', 'bench',
                       0, 1, 10000, '{}', 'L-BENCH-Q', 'PK-BENCH-Q', 'sent', $now, 'query', NULL)""",
                    {"now": now, "year": year})
        con.execute(f"""INSERT INTO query_requests
            SELECT 'QB-BENCH-' || lpad(rn::VARCHAR, 7, '0'), 'QB-BENCH', 'info', person_id, procedure_id, 'P1', $year,
                   'local_tax', 'TJ00000002', 'filed', ((rn - 1) // 10000 + 1)::INTEGER, ((rn - 1) % 10000 + 1)::INTEGER,
                   'sent', $now, $now, NULL, NULL, NULL
            FROM (SELECT m.person_id, m.procedure_id, row_number() OVER (ORDER BY m.person_id) AS rn
                  FROM procedure_members m JOIN integrated_numbers USING (person_id) WHERE random() < {s['info_waiting']})""",
                    {"now": now, "year": year})
        con.execute("UPDATE query_batches SET request_count = (SELECT count(*) FROM query_requests WHERE batch_id = 'QB-BENCH')"
                    " WHERE batch_id = 'QB-BENCH'")
        # F1: the contractor's return list (差戻リスト) and different numbers waiting for review.
        con.execute("""INSERT INTO registration_imports VALUES ('RG-BENCH', 'bench-registration', 'contractor',
                       'bench-contractor-return.csv', 'cp932', (SELECT count(*) FROM persons), '{}', NULL, $now, 'registrar')""",
                    {"now": now})
        con.execute(f"""INSERT INTO registration_returns
            SELECT 'RG-BENCH', row_number() OVER (ORDER BY person_id) + 1,
                   CASE WHEN random() < 0.5 THEN 'check_digit' WHEN random() < 0.5 THEN 'identity_not_checked'
                        ELSE 'unknown_person' END, person_id, NULL
            FROM persons WHERE random() < {s['returns']}""")
        reviews = con.execute("SELECT person_id FROM person_numbers WHERE random() < ? ORDER BY person_id",
                              [s["reviews"] / s["registered"]]).fetchall()
        _load_reviews(ws, con, [r[0] for r in reviews], now)
        info = dict(zip(("integrated", "discrepancies", "open", "waiting", "returns"), con.execute(
            "SELECT (SELECT count(*) FROM integrated_numbers), (SELECT count(*) FROM discrepancies),"
            " (SELECT count(*) FROM discrepancies WHERE status = 'open'),"
            " (SELECT count(*) FROM query_requests WHERE status = 'sent'),"
            " (SELECT count(*) FROM registration_returns)").fetchone() or (), strict=True))
        info["reviews"] = len(reviews)
        audit.append(con, key=ws.keyring.audit_key(), at=now, user_id="system", operation="bench.build_office",
                     outcome="ok", params={**counts, **info})
    t = step("derived tables", t)
    if publish:
        _publish(ws, t)
        t = step("statistics publication", t)
    log(f"  office of {persons:,} built in {time.perf_counter() - t_all:.0f} s")
    return {**counts, **info, "fiscal_year": year, "path": str(path)}


def _load_reviews(ws: Workspace, con: duckdb.DuckDBPyConnection, person_ids: list[str], now: Any) -> None:
    ring = ws.keyring
    ids = [f"RV-BENCH-{i:07d}" for i in range(1, len(person_ids) + 1)]
    numbers = [str(n) for n in generate_numbers(len(person_ids), np.random.default_rng(len(person_ids)))]
    cts = ws.number_cipher().encrypt_many(
        numbers, ids, table="registration_reviews", column="number_ct")
    idx = BlindIndex(ring.key("blind_index")).digest_many(numbers)
    frame = pd.DataFrame({"review_id": ids, "person_id": person_ids, "number_ct": cts, "number_index": idx,
                          "line": np.arange(2, len(ids) + 2)})
    con.register("_rv", frame)
    con.execute("INSERT INTO registration_reviews SELECT review_id, 'RG-BENCH', line, person_id, number_ct, number_index,"
                " ?, 'contractor', 'pending', ?, 'registrar', NULL, NULL FROM _rv", [ring.current, now])
    con.unregister("_rv")


def _publish(ws: Workspace, _t: float) -> None:
    """F8: last year's local-tax answers for every filer, and one publication (through the service)."""
    with ws.transaction("bench.load_income", "system") as con:
        con.execute("""INSERT INTO info_results (request_id, batch_id, person_id, information, status, taxable_income,
                                                 import_id, imported_at)
                       SELECT 'R-' || person_id, 'QB-BENCH-OLD', person_id, 'local_tax', '00',
                              (hash(person_id) % 6000000)::BIGINT, 'RI-BENCH-OLD', now()
                       FROM persons""")
    registrar = Session(ws, "registrar", tuple(DEMO_USERS["registrar"]), ws.clock.now())  # a demo account, no login
    publishing.publish(registrar, k=10)
