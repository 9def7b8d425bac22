"""The selections made fast for a 1,000,000-person office (issue 11 item 12) select exactly what they did.

* the query-batch candidates (U1–U3, consent, integrated numbers, outstanding queries) are the
  same rows with the same reasons as the straightforward query they replaced (kept here as the
  reference), on a small office with every reason present;
* the order-free selection digest (``outgoing.digest_sql``) is stable for the same selection and
  changes when one row is added, removed or replaced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.conftest import run_benchmark
from tests.direct_load import build_office
from workbench import Workspace
from workbench.core.workspace import Session
from workbench.demo import DEMO_USERS
from workbench.files import outgoing
from workbench.queries import batches
from workbench.queries.query_rules import load_rules

#: The candidate query as it was before it was made set-based per person (correlated EXISTS for
#: outstanding queries, numbers joined per person × information): the reference.
REFERENCE = """
WITH filed AS (
    SELECT m.person_id,
           coalesce(min(m.procedure_id) FILTER (WHERE m.consent), min(m.procedure_id)) AS procedure_id,
           bool_or(m.consent) AS consent
    FROM housing_procedures h JOIN procedure_members m USING (procedure_id)
    WHERE h.procedure_code = $procedure AND h.fiscal_year = $year
    GROUP BY m.person_id),
filers AS (
    SELECT f.person_id, f.procedure_id, f.consent, p.address,
           (p.listed AND NOT p.deceased AND p.person_id NOT IN (SELECT person_id FROM suspended_persons)) AS covered,
           EXISTS (SELECT 1 FROM person_numbers n WHERE n.person_id = f.person_id) AS has_number
    FROM filed f JOIN persons p USING (person_id)),
addr AS (
    SELECT address, bool_or(covered AND has_number) AS anchored,
           coalesce(min(procedure_id) FILTER (WHERE covered AND has_number), min(procedure_id)) AS procedure_id
    FROM filers GROUP BY address),
universe AS (
    SELECT person_id, procedure_id, consent, 'filed' AS basis, TRUE AS anchored, covered FROM filers
    UNION ALL
    SELECT p.person_id, a.procedure_id, FALSE, 'household', a.anchored,
           (p.listed AND NOT p.deceased AND p.person_id NOT IN (SELECT person_id FROM suspended_persons))
    FROM persons p JOIN addr a ON p.address = a.address
    WHERE NOT EXISTS (SELECT 1 FROM filed f WHERE f.person_id = p.person_id))
SELECT u.person_id, i.information, i.info_code, i.period, u.procedure_id, u.basis,
    CASE
        WHEN NOT u.covered THEN 'not_covered'
        WHEN NOT i.permitted THEN 'not_permitted'
        WHEN u.basis = 'household' AND i.kind = 'business' THEN 'not_filed'
        WHEN u.basis = 'household' AND NOT u.anchored THEN 'household_no_number'
        WHEN n.person_id IS NULL THEN 'no_number'
        WHEN i.kind = 'business' AND NOT u.consent THEN 'no_consent'
        WHEN $need_integrated AND g.person_id IS NULL THEN 'no_integrated_number'
        WHEN EXISTS (SELECT 1 FROM query_requests o
                     WHERE o.person_id = u.person_id AND o.procedure_code = $procedure AND o.fiscal_year = $year
                       AND o.information = i.information AND o.status IN ('created', 'sent')) THEN 'outstanding'
    END AS reason
FROM universe u CROSS JOIN _qinfo i
LEFT JOIN person_numbers n ON n.person_id = u.person_id
LEFT JOIN integrated_numbers g ON g.person_id = u.person_id
"""

COLUMNS = ["person_id", "information", "info_code", "period", "procedure_id", "basis", "reason"]


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, int]:
    """A small busy office (tests.direct_load.build_office) with every exclusion reason present."""
    path: Path = tmp_path_factory.mktemp("fast") / "ws"
    info = build_office(path, persons=3000, publish=False, log=lambda _m: None)
    ws = Workspace.open(path)
    with ws.transaction("test.variety", "system") as con:
        # not covered (dead, unlisted), no consent, household members whose filer has no number.
        con.execute("UPDATE persons SET deceased = TRUE WHERE person_id IN"
                    " (SELECT person_id FROM persons ORDER BY hash(person_id || 'd') LIMIT 40)")
        con.execute("UPDATE persons SET listed = FALSE WHERE person_id IN"
                    " (SELECT person_id FROM persons ORDER BY hash(person_id || 'l') LIMIT 40)")
        con.execute("UPDATE procedure_members SET consent = FALSE WHERE person_id IN"
                    " (SELECT person_id FROM procedure_members ORDER BY hash(person_id || 'c') LIMIT 200)")
        # a second filer in some households (the spouse, without consent), and a filing of another year
        con.execute("INSERT INTO procedure_members SELECT 'D-' || household_id, person_id, FALSE FROM persons"
                    " WHERE relation = 'spouse' AND hash(person_id) % 3 = 0")
        # a query still awaited for some people, one answered (not outstanding)
        con.execute("UPDATE query_requests SET status = 'answered' WHERE request_id IN"
                    " (SELECT request_id FROM query_requests WHERE batch_id = 'QB-BENCH' ORDER BY request_id LIMIT 20)")
    return ws, int(info["fiscal_year"])


def _session(ws: Workspace, user: str) -> Session:
    return Session(ws, user, tuple(DEMO_USERS[user]), ws.clock.now())


def _candidates(ws: Workspace, kind: Any, procedure: str, year: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rules = load_rules()
    infos = list(rules.procedures[procedure].information) if kind == "info" else ["juki"]
    with ws.transaction("test.candidates", "system") as con:

        class _Unit:
            pass

        unit: Any = _Unit()
        unit.con = con
        batches._select(unit, rules, kind, procedure, year, infos)
        fast = con.execute(f"SELECT {', '.join(COLUMNS)} FROM _qsel").df()
        reference = con.execute(REFERENCE, {"procedure": procedure, "year": year,
                                            "need_integrated": kind == "info"}).df()
        batches._drop(unit)
    order = ["information", "person_id"]
    return (fast[COLUMNS].sort_values(order).reset_index(drop=True),
            reference[COLUMNS].sort_values(order).reset_index(drop=True))


@pytest.mark.parametrize("kind", ["info", "juki"])
def test_batch_candidates_equal_the_reference_query(office: tuple[Workspace, int], kind: str) -> None:
    ws, year = office
    fast, reference = _candidates(ws, kind, "P1", year)
    assert len(fast) > 1000
    pd.testing.assert_frame_equal(fast, reference)
    reasons = set(fast["reason"].dropna())
    expected = {"not_covered", "no_number", "outstanding", "no_integrated_number"} if kind == "info" else \
        {"not_covered", "no_number"}
    assert expected <= reasons, reasons
    assert fast["reason"].isna().sum() > 0


def test_preview_counts_agree_with_the_candidates(office: tuple[Workspace, int]) -> None:
    ws, year = office
    fast, _reference = _candidates(ws, "info", "P1", year)
    preview: Any = outgoing.preview(_session(ws, "query"), "info_query_batch", procedure="P1", fiscal_year=year)
    included = fast[fast["reason"].isna()]
    assert preview.total == len(included)
    assert preview.persons == included["person_id"].nunique()
    assert preview.included_by_basis == {k: int(v) for k, v in included["basis"].value_counts().sort_index().items()}
    excluded = fast["reason"].value_counts().to_dict()
    assert preview.excluded == {k: excluded[k] for k in preview.excluded} and set(preview.excluded) == set(excluded)
    again = outgoing.preview(_session(ws, "query"), "info_query_batch", procedure="P1", fiscal_year=year)
    assert again.selection_digest == preview.selection_digest


def _digest(ws: Workspace, rows: list[str]) -> str:
    with ws.transaction("test.digest", "system") as con:
        con.register("_rows", pd.DataFrame({"r": rows}))
        value = con.execute(f"SELECT {outgoing.digest_sql('r')} FROM _rows").fetchone()
        con.unregister("_rows")
    assert value is not None
    return str(value[0])


def test_selection_digest_is_order_free_and_moves_with_the_selection(office: tuple[Workspace, int]) -> None:
    ws, _year = office
    rows = [f"P{i:08d}" for i in range(5000)]
    base = _digest(ws, rows)
    assert len(base) == 64
    assert _digest(ws, list(reversed(rows))) == base
    assert _digest(ws, rows[:-1]) != base                        # one removed
    assert _digest(ws, [*rows, "P99999999"]) != base             # one added
    assert _digest(ws, [*rows[:-1], "P99999999"]) != base        # one replaced
    assert _digest(ws, []) != base and _digest(ws, []) == _digest(ws, [])


def test_dashboard_benchmark_runs_small(tmp_path: Path) -> None:
    """benchmarks/bench_dashboard.py builds its office and times every preview (no browser), so it cannot rot."""
    common = ("--persons", "2000", "--workspace", str(tmp_path / "ws"), "--no-browser", "--only")
    out = run_benchmark(tmp_path, "bench_dashboard", *common, "previews", "--json", str(tmp_path / "figures.json"))
    names = [f["what"] for f in out["figures"]]
    assert out["persons"] == 2000
    assert any("P1" in n for n in names) and any("notice list" in n for n in names) and len(names) == 8
    assert all(f["seconds"] > 0 and f["target_s"] == 3.0 for f in out["figures"])
    # reused, not rebuilt, the second time
    again = run_benchmark(tmp_path, "bench_dashboard", *common, "home")
    assert again["persons"] == 2000 and len(again["figures"]) == 8
    # every list as its grid pages it: a first and a next page each, with the whole selection's count
    lists = run_benchmark(tmp_path, "bench_dashboard", *common, "lists")
    pages = [f for f in lists["figures"] if f["what"].startswith("list ")]
    assert len(pages) == 20 and any("registration reviews" in f["what"] and " of " in f["note"] for f in pages)


#: The collection list's selection as it was (a correlated NOT EXISTS against the numbers): the reference.
COLLECTION_REFERENCE = """
SELECT p.person_id, h.ward_code, p.status FROM persons p JOIN households h USING (household_id)
WHERE p.listed AND NOT p.deceased AND p.person_id NOT IN (SELECT person_id FROM suspended_persons)
  AND NOT EXISTS (SELECT 1 FROM person_numbers n WHERE n.person_id = p.person_id)
"""


def test_collection_selection_equals_the_reference_query(office: tuple[Workspace, int]) -> None:
    """F0b's preview counts the same people, by ward and status, with the same digest as the reference
    (numbered, dead, unlisted and suspended people left out), unfiltered and for a cohort."""
    ws, _year = office
    with ws.transaction("test.suspend", "system") as con:
        con.execute("INSERT INTO use_suspensions SELECT 'S-' || person_id, person_id, 'test', now(), 'system',"
                    " NULL, NULL, NULL FROM persons ORDER BY hash(person_id || 's') LIMIT 15")
        ward, status = con.execute("SELECT h.ward_code, p.status FROM persons p JOIN households h USING (household_id)"
                                   " ORDER BY p.person_id LIMIT 1").fetchone()  # type: ignore[misc]
    from workbench.intake import collection

    for wards, statuses in ((None, None), ([ward], None), (None, [status]), ([ward], [status])):
        preview: Any = outgoing.preview(_session(ws, "registrar"), "collection_export", wards=wards, status=statuses)
        where = " WHERE TRUE" + (" AND ward_code = $w" if wards else "") + (" AND status = $s" if statuses else "")
        with ws.transaction("test.collection", "system") as con:
            args = {**({"w": ward} if wards else {}), **({"s": status} if statuses else {})}
            ref = con.execute(f"SELECT * FROM ({COLLECTION_REFERENCE}){where}", args).df()
            digest = con.execute(f"SELECT {outgoing.digest_sql('person_id')} FROM ({COLLECTION_REFERENCE}){where}",
                                 args).fetchone()
            sql, sargs = collection._select_sql(wards, statuses)
            listed = con.execute(f"SELECT person_id FROM ({sql}) ORDER BY person_id", sargs).df()
        assert len(ref) > 0 and preview.total == len(ref), (wards, statuses)
        assert preview.by_ward == {k: int(v) for k, v in ref["ward_code"].value_counts().items()}
        assert preview.by_status == {k: int(v) for k, v in ref["status"].value_counts().items()}
        assert digest is not None and preview.selection_digest == digest[0]
        assert listed["person_id"].tolist() == sorted(ref["person_id"].tolist())  # what the export writes
