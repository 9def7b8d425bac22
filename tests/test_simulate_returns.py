"""Simulators of the contractor's returns and the portal download (DESIGN §8, F1)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from workbench.core.numbers import validate_numbers
from workbench.files import formats
from workbench.intake import matching
from workbench.simulate import generate_world
from workbench.simulate.contractor import DEFECTS as CONTRACTOR_DEFECTS
from workbench.simulate.contractor import contractor_return, contractor_return_with_truth
from workbench.simulate.portal import DEFECTS as PORTAL_DEFECTS
from workbench.simulate.portal import portal_download, portal_download_with_truth


@pytest.fixture(scope="module")
def population() -> Any:
    return generate_world(2000, seed=21)


def test_contractor_is_seeded_and_in_layout(population: Any) -> None:
    a = contractor_return(population, seed=1)
    assert a == contractor_return(population, seed=1) != contractor_return(population, seed=2)
    table = formats.read_table(a, "contractor_return")
    assert table.encoding == "cp932" and table.rows == 2000
    utf8 = contractor_return(population, seed=1, encoding="utf-8-sig")
    assert formats.read_table(utf8, "contractor_return").encoding == "utf-8-sig"


def test_contractor_every_defect_appears_with_its_mark(population: Any) -> None:
    data, truth = contractor_return_with_truth(population, seed=3, error_rate=0.5)
    assert set(truth["defect"]) - {""} == set(CONTRACTOR_DEFECTS)
    table = formats.read_table(data, "contractor_return")
    assert (table.lines == truth["line"].to_numpy()).all()
    frame = table.frame.assign(defect=truth["defect"].to_numpy())
    check = validate_numbers(frame["individual_number"])
    reasons = np.where(check.ok, "", check.reasons.astype(str))
    for kind, code in (("check_digit", "check_digit"), ("transposed", "check_digit"), ("missing_digit", "wrong_length"),
                       ("letter", "not_digits"), ("blank_number", "blank"), ("full_width", ""), ("separators", "")):
        assert set(reasons[frame["defect"] == kind]) == {code}, kind
    raw = frame["individual_number"]
    assert raw[frame["defect"] == "full_width"].str.contains("[０-９]").all()
    assert raw[frame["defect"] == "separators"].str.contains("[-－ \u3000]").all()
    assert (frame.loc[frame["defect"] == "identity_not_checked", "identity_checked"] == "0").all()
    assert not frame.loc[frame["defect"] == "unknown_person", "person_id"].isin(population.persons["person_id"]).any()
    dups = frame.drop(columns=["line_no", "defect"]).duplicated(keep="first")
    assert (frame.loc[dups, "defect"] == "duplicate_row").all() and dups.sum() == (truth["defect"] == "duplicate_row").sum()
    shared = frame[frame["defect"] == "shared_number"]
    assert shared["individual_number"].duplicated(keep=False).all()


def test_contractor_error_rate_zero_is_clean(population: Any) -> None:
    _, truth = contractor_return_with_truth(population, seed=4, error_rate=0.0)
    assert (truth["outcome"] == "registered").all()


def test_portal_is_seeded_and_in_layout(population: Any) -> None:
    a = portal_download(population, seed=1, persons=100)
    assert a == portal_download(population, seed=1, persons=100) != portal_download(population, seed=2, persons=100)
    assert formats.read_table(a, "portal_download").encoding == "utf-8-sig"
    cp = portal_download(population, seed=1, persons=100, encoding="cp932")
    assert formats.read_table(cp, "portal_download").encoding == "cp932"


def test_portal_variation_still_normalises_to_the_target_list(population: Any) -> None:
    data, truth = portal_download_with_truth(population, seed=5, persons=400, error_rate=0.0, variation_rate=0.9)
    frame = formats.read_table(data, "portal_download").frame
    people = population.persons.set_index("person_id").loc[truth["person_id"]]
    assert (frame["name"].to_numpy() != people["name"].to_numpy()).mean() > 0.5  # variation really happens
    assert (matching.normalize_name(frame["name"]).to_numpy() == matching.normalize_name(people["name"]).to_numpy()).all()
    assert (matching.normalize_kana(frame["kana"]).to_numpy() == matching.normalize_kana(people["kana"]).to_numpy()).all()
    assert (matching.normalize_date(frame["birth_date"]).to_numpy() == people["birth_date"].to_numpy()).all()
    assert (matching.normalize_sex(frame["sex"]).to_numpy() == people["sex"].to_numpy()).all()
    assert (matching.address_key(frame["address"]).to_numpy() == matching.address_key(people["address"]).to_numpy()).all()
    assert frame["birth_date"].str.contains("平成|昭和|令和|H|S|R").any()
    assert frame["kana"].str.contains("[ｱ-ﾝ]").any()


def test_portal_every_defect_appears(population: Any) -> None:
    _, truth = portal_download_with_truth(population, seed=6, persons=400, error_rate=0.5)
    assert set(truth["defect"]) - {""} == set(PORTAL_DEFECTS)
    assert truth["submission_id"].is_unique
