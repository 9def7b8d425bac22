"""Search as the office speaks (issue 20 item 4): 宛名番号 in any width or case, names and kana
normalised, results paged and masked, every search audited without its text."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.conftest import StaffedWorkspace
from tests.direct_load import load_world
from widgets.person import PersonApp
from workbench.controls import audit_log
from workbench.core import search_keys
from workbench.core.errors import InvalidInput, PermissionDenied
from workbench.core.paging import PageRequest
from workbench.intake import persons
from workbench.simulate import generate_world

#: Who the tests rename (stored names with old and variant kanji, and one with a % in it).
VARIANT = "P00000003"
PERCENT = "P00000004"


@pytest.fixture
def people(world: StaffedWorkspace) -> pd.DataFrame:
    pop = generate_world(30, seed=5)
    load_world(world.ws, pop.persons, pop.households, registered=np.arange(len(pop.persons)) % 2 == 0)
    with world.ws.transaction("test.names", "system") as con:
        con.execute("UPDATE persons SET name = '髙橋　﨑子', kana = 'タカハシ　サキコ' WHERE person_id = ?", [VARIANT])
        con.execute("UPDATE persons SET name = '渡邉　100%_子', kana = 'ワタナベ　ヒャクコ' WHERE person_id = ?", [PERCENT])
    return pop.persons


def _ids(page: Any) -> list[str]:
    return [h.person_id for h in page.rows]


def test_the_three_inputs_that_found_no_one(world: StaffedWorkspace, people: pd.DataFrame) -> None:
    clerk = world.login("reviewer")
    for typed in ("p00000015", "Ｐ００００００１５", "P0000 0015", "ｐ－００００００１５"):
        assert _ids(persons.search(clerk, typed)) == ["P00000015"], typed
    row = people.set_index("person_id").loc["P00000015"]
    family, given = str(row["name"]).split("\u3000")
    for typed in (f"{family} {given}", f"{family}{given}", family):
        assert "P00000015" in _ids(persons.search(clerk, typed)), "a name finds them"


def test_kana_in_either_script_width_and_spaces(world: StaffedWorkspace, people: pd.DataFrame) -> None:
    clerk = world.login("reviewer")
    for typed in ("たかはし さきこ", "タカハシサキコ", "ﾀｶﾊｼ ｻｷｺ", "たかはし"):
        assert VARIANT in _ids(persons.search(clerk, typed)), typed


def test_old_and_variant_kanji_fold(world: StaffedWorkspace, people: pd.DataFrame) -> None:
    clerk = world.login("reviewer")
    for typed in ("高橋崎子", "高橋 﨑子", "髙橋", "高橋　崎子"):
        assert VARIANT in _ids(persons.search(clerk, typed)), typed
    assert PERCENT in _ids(persons.search(clerk, "渡辺"))  # 邉 → 辺
    assert PERCENT in _ids(persons.search(clerk, "渡邊"))  # 邊 → 辺 on the typed side too
    # the folding is data, one character for one
    assert search_keys.variants()["髙"] == "高" and search_keys.name_key("齋藤 ﾊﾅｺ") == "斎藤ハナコ"


def test_wildcards_and_sql_are_literal_text(world: StaffedWorkspace, people: pd.DataFrame) -> None:
    clerk = world.login("reviewer")
    assert _ids(persons.search(clerk, "%")) == [PERCENT]  # the one name with a % in it, not everyone
    assert _ids(persons.search(clerk, "_")) == [PERCENT]
    assert _ids(persons.search(clerk, "0%_")) == [PERCENT]
    for attack in ("%%", "_%", "' OR '1'='1", "'; DROP TABLE persons; --", "%' OR 1=1 --", "P%", "P0000001_"):
        assert persons.search(clerk, attack).total == 0, attack
    assert persons.search(clerk, "p00000015").total == 1  # the table is still there


def test_results_are_masked_and_paged(world: StaffedWorkspace, people: pd.DataFrame) -> None:
    clerk = world.login("reviewer")
    found = persons.search(clerk, "P00000001")
    hit = found.rows[0]
    number = str(people.set_index("person_id").loc["P00000001", "individual_number"])
    assert hit.number_masked == "********" + number[-4:] and number not in json.dumps(hit.to_dict(), ensure_ascii=False)
    birth = str(people.set_index("person_id").loc["P00000001", "birth_date"])[:10]
    assert hit.birth_month == birth[:7] and birth not in json.dumps(hit.to_dict())
    everyone = persons.search(clerk, "ア", PageRequest(limit=2, sort="person_id"))  # a kana most names hold
    assert len(everyone.rows) <= 2 and everyone.total >= len(everyone.rows)
    if everyone.total > 2:
        assert _ids(persons.search(clerk, "ア", PageRequest(offset=2, limit=2, sort="person_id")))[0] not in _ids(everyone)


def test_every_search_is_audited_without_its_text(world: StaffedWorkspace, people: pd.DataFrame) -> None:
    clerk = world.login("reviewer")
    persons.search(clerk, "たかはし")
    persons.search(clerk, "Ｐ００００００１５")
    records = audit_log.search(world.login("auditor"), operation="persons.search")
    assert len(records) == 2
    by_name, by_id = (json.loads(r["params"]) for r in reversed(records))
    assert by_name["searched"] == "name" and by_name["hits"] >= 1 and by_id["searched"] == "person_id"
    text = json.dumps(records, ensure_ascii=False, default=str)
    for secret in ("たかはし", "タカハシ", "高橋", "P00000015", "００００００１５"):
        assert secret not in text
    # a 宛名番号 search is found again by its person (pseudonymised target)
    assert audit_log.search(world.login("auditor"), target="P00000015", operation="persons.search")


def test_garbage_and_the_wrong_right_are_refused(world: StaffedWorkspace, people: pd.DataFrame) -> None:
    clerk = world.login("reviewer")
    for bad in ("", "   ", "\u3000", "x" * 61, "a\x00b", "abc\x1b[2J"):
        with pytest.raises(InvalidInput) as err:
            persons.search(clerk, bad)
        assert err.value.message_ja and err.value.message_en
    with pytest.raises(InvalidInput):
        persons.search(clerk, "たかはし", PageRequest(sort="name; DROP TABLE persons"))
    for role in ("analyst", "auditor", "operations", "administrator"):
        with pytest.raises(PermissionDenied):
            persons.search(world.login(role), "たかはし")
    denied = audit_log.search(world.login("auditor"), operation="persons.search", outcome="denied")
    assert len(denied) == 4


def test_cli_person_search(world: StaffedWorkspace, people: pd.DataFrame, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = world.cli(monkeypatch, capsys, "reviewer", "person", "search", "Ｐ００００００１５")
    assert code == 0 and out["total"] == 1 and out["rows"][0]["person_id"] == "P00000015"
    assert out["rows"][0]["number_masked"] is None or out["rows"][0]["number_masked"].startswith("********")
    code, out, err = world.cli(monkeypatch, capsys, "analyst", "person", "search", "たかはし")
    assert code != 0 and out is None and "権限" in err


def test_the_screen_one_box_a_grid_and_a_row_opens_the_person(world: StaffedWorkspace, people: pd.DataFrame) -> None:
    app = PersonApp(world.login("reviewer"))
    app.person_id.value = "たかはし　さきこ"
    app.search_button.click()
    assert app.results.layout.display == "flex" and VARIANT in app.results.value and "********" in app.results.value
    assert app.model.person is None  # a name lists people; none is opened for the clerk
    app.results.select(VARIANT)  # the clerk clicks the row
    assert app.model.person is not None and app.model.person.person_id == VARIANT
    assert "髙橋" in app.details.value
    # a 宛名番号 typed with the IME opens the one person at once
    app.person_id.value = "Ｐ００００００１５"
    app.search_button.click()
    assert app.model.person is not None and app.model.person.person_id == "P00000015"
    # no one: said in words, beside the box
    app.person_id.value = "存在しない名前"
    app.search_button.click()
    assert app.model.person is None and "該当する人がいません" in app.banner.text
