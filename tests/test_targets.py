"""F0: target list import (対象者リスト取込) — whole-file validation, diff, re-import, audit."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

from tests.conftest import StaffedWorkspace
from workbench.core.errors import InvalidInput, PermissionDenied, WorkbenchError
from workbench.files.formats import write_table
from workbench.intake import targets
from workbench.simulate.housing import target_extract, target_frame
from workbench.simulate.world import World as Population
from workbench.simulate.world import generate_world


@pytest.fixture(scope="module")
def pop() -> Population:
    return generate_world(300, seed=7)


def _audit(world: StaffedWorkspace, operation: str) -> list[tuple[str, dict[str, Any]]]:
    with world.ws.transaction("test.read", "test") as con:
        rows = con.execute("SELECT outcome, params FROM audit_log WHERE operation = ? ORDER BY seq", [operation]).fetchall()
    return [(o, json.loads(p)) for o, p in rows]


def _held(world: StaffedWorkspace, sql: str) -> list[tuple[Any, ...]]:
    with world.ws.transaction("test.read", "test") as con:
        return con.execute(sql).fetchall()


def test_import_new_then_unchanged_file(world: StaffedWorkspace, pop: Population) -> None:
    s = world.login("registrar")
    data = target_extract(pop, seed=1)
    preview = targets.preview_targets(s, data, file_name="t.csv").detail
    assert preview.new == 300 and not preview.applied and preview.encoding == "cp932"
    assert _held(world, "SELECT count(*) FROM persons") == [(0,)]
    summary = targets.import_targets(s, data, file_name="t.csv")
    assert summary.applied and summary.new == 300 and summary.households == pop.households.shape[0]
    assert summary.households_new == pop.households.shape[0]
    assert _held(world, "SELECT count(*), count(*) FILTER (WHERE listed) FROM persons") == [(300, 300)]
    again = targets.import_targets(s, data, file_name="t.csv")
    assert again.already_imported and not again.applied
    assert "2026-06-01" in again.message_en and "取込済み" in again.message_ja
    assert _held(world, "SELECT count(*) FROM target_imports") == [(1,)]
    audit = _audit(world, "targets.import_targets")
    assert [o for o, _ in audit] == ["ok", "ok"]
    assert audit[0][1]["new"] == 300
    text = json.dumps(audit)
    assert pop.persons["name"].iloc[0] not in text and pop.persons["person_id"].iloc[0] not in text


def test_changed_unlisted_relisted(world: StaffedWorkspace, pop: Population) -> None:
    s = world.login("registrar")
    frame = target_frame(pop, seed=1, date_format="%Y-%m-%d")
    targets.import_targets(s, write_table(frame, "housing_targets"), file_name="a.csv")
    gone = frame["person_id"].iloc[:5].tolist()
    second = frame.iloc[5:].copy()
    second.loc[second.index[:3], "address"] = "東京都北区桐ケ丘1丁目1番1号"
    summary = targets.import_targets(s, write_table(second, "housing_targets", encoding="utf-8-sig"), file_name="b.csv")
    assert (summary.new, summary.changed, summary.unlisted, summary.unchanged) == (0, 3, 5, 292)
    listed = dict(_held(world, "SELECT person_id, listed FROM persons"))
    assert not any(listed[p] for p in gone)
    back = targets.import_targets(s, write_table(frame.iloc[::-1], "housing_targets"), file_name="c.csv")
    assert back.relisted == 5 and back.changed == 3 and back.unlisted == 0


def test_numbers_kept_when_unlisted(world: StaffedWorkspace, pop: Population) -> None:
    import numpy as np

    from tests.direct_load import load_world

    reg = np.zeros(len(pop.persons), dtype=bool)
    reg[:10] = True
    load_world(world.ws, pop.persons, pop.households, registered=reg)
    s = world.login("registrar")
    frame = target_frame(pop, seed=2)
    summary = targets.import_targets(s, write_table(frame.iloc[10:], "housing_targets"), file_name="x.csv")
    assert summary.unlisted == 10
    assert _held(world, "SELECT count(*) FROM person_numbers") == [(10,)]


def test_invalid_rows_refuse_whole_file(world: StaffedWorkspace, pop: Population) -> None:
    s = world.login("registrar")
    frame = target_frame(pop, seed=1, date_format="%Y%m%d")
    frame.loc[0, "sex"] = "X"
    frame.loc[1, "birth_date"] = "19990231"
    frame.loc[2, "status"] = "tenant"
    frame.loc[3, "name"] = ""
    frame.loc[4, "ward_code"] = "1312"
    frame.loc[5, "person_id"] = frame.loc[6, "person_id"]
    with pytest.raises(InvalidInput) as info:
        targets.import_targets(s, write_table(frame, "housing_targets"), file_name="bad.csv")
    err = info.value
    assert err.details["reason"] == "invalid_rows"
    assert err.details["counts"] == {"bad_birth_date": 1, "bad_sex": 1, "bad_status": 1, "bad_ward_code": 1,
                                     "duplicate_person": 1, "missing_value": 1}
    lines = {e["reason"]: e["line"] for e in err.details["errors"]}
    assert lines == {"bad_sex": 2, "bad_birth_date": 3, "bad_status": 4, "missing_value": 5, "bad_ward_code": 6,
                     "duplicate_person": 8}
    assert all(e["message_ja"] and e["message_en"] for e in err.details["errors"])
    assert err.details["line"] == 2 and "2 行目" in err.message_ja
    assert _held(world, "SELECT count(*) FROM persons") == [(0,)]
    assert _audit(world, "targets.import_targets")[-1][0] == "refused"


def test_error_list_capped_at_100(world: StaffedWorkspace, pop: Population) -> None:
    s = world.login("registrar")
    frame = target_frame(pop, seed=1).assign(sex="7")
    with pytest.raises(InvalidInput) as info:
        targets.preview_targets(s, write_table(frame, "housing_targets"), file_name="bad.csv")
    assert len(info.value.details["errors"]) == 100 and info.value.details["counts"] == {"bad_sex": 300}


def test_normalisation_and_labels(world: StaffedWorkspace) -> None:
    s = world.login("registrar")
    row = {"person_id": "Ｐ０１", "household_id": "H1", "relation": "世帯主", "name": "髙橋　①", "kana": "ﾀｶﾊｼ ｲﾁ",
           "sex": "女", "birth_date": "1950/1/2", "address": "東京都", "ward_code": "131211", "housing_type": "都営住宅",
           "status": "入居申込者", "phone": ""}
    data = write_table(pd.DataFrame([row]), "housing_targets", encoding="cp932")
    assert targets.import_targets(s, data, file_name="n.csv").new == 1
    got = _held(world, "SELECT p.person_id, relation, kana, sex, birth_date::VARCHAR, p.status, h.ward_code, h.phone"
                       " FROM persons p JOIN households h USING (household_id)")
    assert got == [("P01", "head", "タカハシ　イチ", "2", "1950-01-02", "applicant", "13121", None)]


BAD_FILES = [
    (b"", "empty_file"),  # the one incoming path's reasons, the same for every kind of file
    (b"person_id,household_id\r\n", "bad_header"),
    ("\ufeff宛名番号,世帯番号,氏名,氏名カナ,性別,生年月日,住所,区市町村コード,住宅種別,入居区分\r\n".encode(), "empty_package"),
    ("x".encode("utf-16"), "undecodable"),
    (b"person_id,household_id,name,kana,sex,birth_date,address,ward_code,housing_type,status\r\nP1,H1,\"a", "unterminated_quote"),
]


def test_bad_files_refused(world: StaffedWorkspace) -> None:
    s = world.login("registrar")
    for data, reason in BAD_FILES:
        with pytest.raises(WorkbenchError) as info:
            targets.import_targets(s, data, file_name="bad.csv")
        assert info.value.details["reason"] == reason
    assert [o for o, _ in _audit(world, "targets.import_targets")] == ["refused"] * len(BAD_FILES)


def test_permission(world: StaffedWorkspace, pop: Population) -> None:
    s = world.login("query_operator")
    with pytest.raises(PermissionDenied):
        targets.import_targets(s, target_extract(pop), file_name="t.csv")
    assert _audit(world, "targets.import_targets")[-1][0] == "denied"


def test_cp932_extract_substitutes_tsuchi_yoshi() -> None:
    pop = generate_world(20, seed=1)
    persons = pop.persons.copy()
    persons.loc[0, "name"] = "𠮷田　太郎"
    from dataclasses import replace

    pop2 = replace(pop, persons=persons)
    data = target_extract(pop2, encoding="cp932")
    assert "吉田　太郎".encode("cp932") in data
    assert "𠮷田".encode() in target_extract(pop2, encoding="utf-8")


def test_a_list_that_takes_many_people_off_needs_the_number_confirmed(world: StaffedWorkspace, pop: Population) -> None:
    """Issue 11 item 4: 280 of 300 people 「対象外」 in one click is refused until the number is named."""
    s = world.login("registrar")
    frame = target_frame(pop, seed=1, date_format="%Y-%m-%d")
    targets.import_targets(s, write_table(frame, "housing_targets"), file_name="a.csv")
    small = write_table(frame.iloc[:20], "housing_targets", encoding="utf-8")
    preview = targets.preview_targets(s, small, file_name="b.csv").detail
    assert preview.unlisted == 280 and preview.needs_confirmation == 280
    for confirm in (None, 279, 300):
        with pytest.raises(InvalidInput) as caught:
            targets.import_targets(s, small, file_name="b.csv", confirm_unlisted=confirm)
        assert "280 人が対象外" in caught.value.message_ja and caught.value.details["reason"] == "confirmation_needed"
    assert _held(world, "SELECT count(*) FILTER (WHERE listed) FROM persons") == [(300,)]  # nothing applied
    done = targets.import_targets(s, small, file_name="b.csv", confirm_unlisted=280)
    assert done.applied and done.unlisted == 280
    assert _held(world, "SELECT count(*) FILTER (WHERE listed) FROM persons") == [(20,)]
    # a small change needs no confirmation (5 of 20 is below the minimum of 50 people)
    assert targets.preview_targets(s, write_table(frame.iloc[:15], "housing_targets"), file_name="c.csv").detail.needs_confirmation is None


def test_registration_screen_names_the_number_before_a_large_change(world: StaffedWorkspace, pop: Population) -> None:
    import datetime as dt

    from widgets.registration import RegistrationApp

    frame = target_frame(pop, seed=1, date_format="%Y-%m-%d")
    targets.import_targets(world.login("registrar"), write_table(frame, "housing_targets"), file_name="a.csv")
    app = RegistrationApp(world.login("registrar"))
    data = write_table(frame.iloc[:20], "housing_targets", encoding="utf-8")
    app.target_upload.value = ({"name": "b.csv", "type": "text/csv", "size": len(data), "content": memoryview(data),
                                "last_modified": dt.datetime(2026, 6, 1, tzinfo=dt.UTC)},)
    app.target_preview_button.click()
    assert "280 人が対象外になります" in app.target_view.value
    assert app.target_confirm.disabled and app.target_large.layout.display == ""
    app.target_large.value = True
    assert not app.target_confirm.disabled
    app.target_confirm.click()
    assert app.model.target_result is not None and app.model.target_result.unlisted == 280, app.banner.text
