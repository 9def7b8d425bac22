"""A synthetic population written straight into a workspace's tables, for tests and benchmarks.

Not a product path (issue 18 item 6): the product takes a target list only through
``targets.import_targets`` and numbers only through registration.  This loader skips both — one
SQL insert per table, numbers encrypted and indexed as registration would — so a test or a
benchmark starts from thousands of listed (and, for ``registered`` rows, registered) people in
seconds.  Benchmarks import it from here; nothing in ``workbench`` does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.core import audit
from workbench.core.numbers import BlindIndex
from workbench.core.workspace import Workspace
from workbench.simulate import World

__all__ = ["load_targets", "load_world"]


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
