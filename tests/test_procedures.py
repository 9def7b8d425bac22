"""⑧⑨ procedure import: all-or-nothing, line-numbered bilingual reasons, same file twice unchanged (U3 input)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import StaffedWorkspace, scalar
from tests.query_helpers import Office, load_office, procedures_csv
from workbench.core.errors import InvalidInput, PermissionDenied
from workbench.queries import procedures


@pytest.fixture
def office(world: StaffedWorkspace) -> Office:
    return load_office(world)


def _ids(office: Office, n: int) -> list[str]:
    return [str(x) for x in office.pop.persons["person_id"].tolist()[:n]]


def _count(world: StaffedWorkspace, table: str) -> int:
    with world.ws.transaction("t", "t") as con:
        return int(scalar(con, f"SELECT count(*) FROM {table}"))


def test_import_counts_and_same_file_twice(office: Office, world: StaffedWorkspace) -> None:
    a, b, c = _ids(office, 3)
    data = procedures_csv([
        ("R-1", "P1", "2026", "2026-05-01", a, a, "Y"),
        ("R-1", "P1", "2026", "2026-05-01", a, b, "N"),
        ("R-2", "p3", "２０２６", "20260502", c, c, "1"),
    ])
    s = world.login("query_operator")
    summary = procedures.import_procedures(s, data, file_name="p.csv")
    assert (summary.procedures, summary.new_procedures, summary.members) == (2, 2, 3)
    assert (summary.consent_yes, summary.consent_no) == (2, 1)
    assert summary.by_procedure == {"P1": 1, "P3": 1}
    again = procedures.import_procedures(s, data, file_name="p.csv")
    assert again.already_imported and again.import_id == summary.import_id
    # The same procedures in another file (CP932, other order) are held unchanged.
    other = procedures_csv([
        ("R-2", "P3", "2026", "2026-05-02", c, c, "Y"),
        ("R-1", "P1", "2026", "2026-05-01", a, b, "N"),
        ("R-1", "P1", "2026", "2026-05-01", a, a, "Y"),
    ], encoding="cp932")
    third = procedures.import_procedures(s, other, file_name="p2.csv")
    assert (third.new_procedures, third.unchanged_procedures) == (0, 2)
    assert _count(world, "housing_procedures") == 2 and _count(world, "procedure_members") == 3
    with world.ws.transaction("t", "t") as con:
        params = con.execute(
            "SELECT params FROM audit_log WHERE operation = 'procedures.import_procedures' AND outcome = 'ok' ORDER BY seq"
        ).fetchall()
    for (p,) in params:
        assert a not in p and b not in p and c not in p
    assert json.loads(params[0][0])["members"] == 3


def test_every_bad_row_is_named_and_nothing_is_imported(office: Office, world: StaffedWorkspace) -> None:
    a, b, c, d = _ids(office, 4)
    data = procedures_csv([
        ("R-1", "P1", "2026", "2026-05-01", a, a, "Y"),            # 2 fine
        ("R-2", "P9", "2026", "2026-05-01", b, b, "Y"),            # 3 unknown procedure
        ("R-3", "P1", "2026", "2026-02-30", c, c, "Y"),            # 4 bad date
        ("R-4", "P1", "2026", "2026-05-01", "P99999999", "P99999999", "Y"),  # 5 unknown person
        ("R-1", "P1", "2026", "2026-05-01", a, a, "Y"),            # 6 duplicate member
        ("R-5", "P1", "2026", "2026-05-01", d, d, "maybe"),        # 7 bad consent
        ("R-6", "P1", "2026", "2026-05-01", d, d, "Y"),            # 8 / 9 inconsistent
        ("R-6", "P2", "2026", "2026-05-01", d, c, "Y"),
        ("R-7", "P1", "2026", "2026-05-01", a, b, "Y"),            # 10 applicant not a member
    ])
    with pytest.raises(InvalidInput) as exc:
        procedures.import_procedures(world.login("query_operator"), data, file_name="bad.csv")
    err = exc.value
    got = {(e["line"], e["reason"]) for e in err.details["errors"]}
    assert got >= {(3, "unknown_procedure"), (4, "bad_date"), (5, "unknown_person"), (6, "duplicate_member"),
                   (7, "bad_consent"), (8, "inconsistent_procedure"), (9, "inconsistent_procedure"),
                   (10, "applicant_not_member")}
    assert not any(line == 2 for line, _ in got)
    assert all(e["message_ja"] and e["message_en"] for e in err.details["errors"])
    assert "行目" in err.message_ja and "line" in err.message_en
    assert _count(world, "housing_procedures") == 0 and _count(world, "procedure_imports") == 0


def test_changed_procedure_id_is_refused(office: Office, world: StaffedWorkspace) -> None:
    a, b = _ids(office, 2)
    s = world.login("query_operator")
    procedures.import_procedures(s, procedures_csv([("R-1", "P1", "2026", "2026-05-01", a, a, "Y")]), file_name="1.csv")
    changed = procedures_csv([("R-1", "P1", "2026", "2026-05-01", a, a, "N"), ("R-2", "P1", "2026", "2026-05-01", b, b, "Y")])
    with pytest.raises(InvalidInput) as exc:
        procedures.import_procedures(s, changed, file_name="2.csv")
    assert [(e["line"], e["reason"]) for e in exc.value.details["errors"]] == [(2, "duplicate_procedure")]
    assert _count(world, "housing_procedures") == 1


def test_permission(office: Office, world: StaffedWorkspace) -> None:
    a = _ids(office, 1)[0]
    with pytest.raises(PermissionDenied):
        procedures.import_procedures(world.login("registrar"), procedures_csv([("R-1", "P1", "2026", "2026-05-01", a, a, "Y")]),
                                     file_name="p.csv")
