"""Tests for workbench.simulate.world: the synthetic population every simulator uses.

python-stdnum's ``stdnum.jp.in_`` is the independent oracle for the Individual Numbers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from stdnum.jp import in_ as stdnum_in

from workbench.simulate import World, generate_world
from workbench.simulate.world import (
    CHANGE_KINDS,
    HOUSING_TYPES,
    MUNICIPALITIES,
    RELATIONS,
    STATUSES,
    VARIANT_SURNAMES,
)

N = 10_000
FW = "\u3000"
KANA = re.compile(r"^[\u30a1-\u30fc]+\u3000[\u30a1-\u30fc]+$")
VARIANT_CHARS = set("髙﨑邊邉齋齊𠮷濱澤廣櫻")

PERSON_COLUMNS = [
    "person_id",
    "household_id",
    "relation",
    "name",
    "kana",
    "sex",
    "birth_date",
    "address",
    "status",
    "individual_number",
    "annual_income",
    "public_assistance",
    "disability_certificate",
    "disability_grade",
    "deceased",
]
HOUSEHOLD_COLUMNS = ["household_id", "ward_code", "address", "housing_type", "status", "phone"]


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(N, seed=0)


@pytest.fixture(scope="module")
def evolved(world: World) -> tuple[World, pd.DataFrame]:
    return world.evolve(seed=1)


def ages(w: World) -> pd.Series:
    return (pd.Timestamp(w.as_of) - w.persons["birth_date"]).dt.days / 365.2425


def surname(names: pd.Series) -> pd.Series:
    return names.str.split(FW).str[0]


# ------------------------------------------------------------------------- determinism


def test_same_seed_same_world() -> None:
    a, b = generate_world(2_000, seed=7), generate_world(2_000, seed=7)
    pd.testing.assert_frame_equal(a.persons, b.persons)
    pd.testing.assert_frame_equal(a.households, b.households)
    assert a.as_of == b.as_of


def test_different_seed_different_world() -> None:
    a, b = generate_world(2_000, seed=7), generate_world(2_000, seed=8)
    assert not a.persons["individual_number"].equals(b.persons["individual_number"])
    assert not a.persons["name"].equals(b.persons["name"])
    assert not a.households["address"].equals(b.households["address"])


def test_same_world_in_another_process() -> None:
    """No dependence on hash randomisation or process state."""
    code = (
        "import hashlib, pandas as pd; from workbench.simulate import generate_world; "
        "w = generate_world(1500, seed=3); "
        "print(hashlib.sha256(pd.util.hash_pandas_object(w.persons).values.tobytes()"
        " + pd.util.hash_pandas_object(w.households).values.tobytes()).hexdigest())"
    )
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        digests.add(out.stdout.strip())
    w = generate_world(1500, seed=3)
    here = hashlib.sha256(
        pd.util.hash_pandas_object(w.persons).values.tobytes()
        + pd.util.hash_pandas_object(w.households).values.tobytes()
    ).hexdigest()
    assert digests == {here}


# ------------------------------------------------------------------- shape and counts


@pytest.mark.parametrize("n", [0, 1, 2, 7, 999])
def test_exact_person_count(n: int) -> None:
    w = generate_world(n, seed=n)
    assert len(w.persons) == n
    assert list(w.persons.columns) == PERSON_COLUMNS
    assert list(w.households.columns) == HOUSEHOLD_COLUMNS
    assert set(w.persons["household_id"]) == set(w.households["household_id"])


def test_negative_count_refused() -> None:
    with pytest.raises(ValueError):
        generate_world(-1)


def test_columns_and_dtypes(world: World) -> None:
    p, h = world.persons, world.households
    assert len(p) == N
    assert list(p.columns) == PERSON_COLUMNS
    assert list(h.columns) == HOUSEHOLD_COLUMNS
    assert p["birth_date"].dtype == "datetime64[ns]"
    assert p["annual_income"].dtype == np.int64
    assert p["public_assistance"].dtype == bool
    assert p["deceased"].dtype == bool
    for col in ("person_id", "household_id", "name", "kana", "sex", "address", "individual_number"):
        assert pd.api.types.is_string_dtype(p[col]), col
        assert p[col].notna().all(), col
    assert world.as_of == dt.date(2026, 4, 1)
    assert world.cycle == 0


def test_ids(world: World) -> None:
    p, h = world.persons, world.households
    assert p["person_id"].str.fullmatch(r"P\d{8}").all()
    assert h["household_id"].str.fullmatch(r"H\d{7}").all()
    assert p["person_id"].is_unique
    assert h["household_id"].is_unique


def test_household_sizes(world: World) -> None:
    sizes = world.persons.groupby("household_id").size()
    assert sizes.min() >= 1
    assert sizes.max() <= 8
    share = sizes.value_counts(normalize=True)
    assert share[1] > 0.3  # many single (mostly elderly) households
    assert share.get(6, 0) > 0  # and some large families
    assert 1.8 < sizes.mean() < 2.4


# --------------------------------------------------------------------- Individual Numbers


def test_numbers_valid_and_distinct(world: World) -> None:
    numbers = world.persons["individual_number"]
    assert numbers.is_unique
    assert numbers.str.fullmatch(r"[0-9]{12}").all()
    assert all(stdnum_in.is_valid(number) for number in numbers.tolist())


# ----------------------------------------------------------------------- households


def test_every_person_in_an_existing_household(world: World) -> None:
    p, h = world.persons, world.households
    merged = p.merge(h, on="household_id", how="left", suffixes=("", "_hh"), validate="many_to_one")
    assert merged["address_hh"].notna().all()
    assert (merged["address"] == merged["address_hh"]).all()
    assert (merged["status"] == merged["status_hh"]).all()
    assert set(h["household_id"]) == set(p["household_id"])


def test_one_head_per_household_listed_first(world: World) -> None:
    p = world.persons
    assert set(p["relation"]) <= set(RELATIONS)
    assert (p.groupby("household_id")["relation"].first() == "head").all()
    assert (p["relation"] == "head").sum() == len(world.households)
    # persons are grouped by household
    assert p["household_id"].is_monotonic_increasing


def test_addresses_and_wards(world: World) -> None:
    h = world.households
    names = {m.code: m.name for m in MUNICIPALITIES}
    assert set(h["ward_code"]) <= set(names)
    assert len(set(h["ward_code"])) > 20
    prefix = "東京都" + h["ward_code"].map(names)
    assert all(a.startswith(x) for a, x in zip(h["address"], prefix, strict=True))
    assert h["address"].str.contains(r"\d+丁目\d+番\d+号").all()
    resident = h[h["status"] == "resident"]
    applicant = h[h["status"] == "applicant"]
    assert resident["address"].str.contains("都営").all()
    assert resident["address"].str.fullmatch(r".+\u3000都営.+\d+号棟\d+号室").all()
    assert resident["address"].is_unique  # no two households in one room
    assert not applicant["address"].str.contains("都営").any()
    assert set(h["status"]) == set(STATUSES)
    assert 0.05 < len(applicant) / len(h) < 0.3


def test_housing_types_and_phones(world: World) -> None:
    h = world.households
    assert set(h["housing_type"]) <= {t for t, _ in HOUSING_TYPES}
    assert (h["housing_type"] == "都営住宅").mean() > 0.85
    phones = h["phone"].dropna()
    assert 0.9 < len(phones) / len(h) < 1.0
    assert phones.str.fullmatch(r"0\d{1,3}-\d{3,4}-\d{4}").all()


# ----------------------------------------------------------------------- people


def test_names_and_kana(world: World) -> None:
    p = world.persons
    assert p["kana"].str.fullmatch(KANA.pattern).all()
    assert (p["name"].str.count(FW) == 1).all()
    assert (p["kana"].str.count(FW) == 1).all()
    assert not p["name"].str.contains(r"[A-Za-z0-9 ]").any()
    # head, spouse and children share the household's surname
    core = p[p["relation"].isin(["head", "spouse", "child"])]
    assert (core.groupby("household_id")["name"].agg(lambda s: surname(s).nunique()) == 1).all()


def test_variant_kanji_present(world: World) -> None:
    p = world.persons
    sur = surname(p["name"])
    used = {c for s in sur.unique() for c in s} & VARIANT_CHARS
    assert len(used) >= 3, used
    share = sur.map(lambda s: bool(set(s) & VARIANT_CHARS)).mean()
    assert 0.001 < share < 0.05
    # a variant reads like its base surname
    variant_of = {v: base for base, variants in VARIANT_SURNAMES.items() for v, _ in variants}
    kana_of = dict(zip(sur, surname(p["kana"]), strict=True))
    for variant in set(sur) & set(variant_of):
        if variant_of[variant] in kana_of:
            assert kana_of[variant] == kana_of[variant_of[variant]]


def test_variants_include_non_cp932() -> None:
    variants = {v for vs in VARIANT_SURNAMES.values() for v, _ in vs}
    assert "𠮷田" in variants
    with pytest.raises(UnicodeEncodeError):
        "𠮷田".encode("cp932")
    assert "髙橋".encode("cp932")  # IBM extension: CP932 has it, Shift_JIS does not


def test_sex(world: World) -> None:
    p = world.persons
    assert set(p["sex"]) == {"1", "2"}
    assert 0.48 < (p["sex"] == "2").mean() < 0.6
    heads = p[p["relation"] == "head"].set_index("household_id")["sex"]
    spouses = p[p["relation"] == "spouse"].set_index("household_id")["sex"]
    assert (heads.loc[spouses.index] != spouses).all()


def test_ages(world: World) -> None:
    p = world.persons
    age = ages(world)
    assert age.min() >= 0
    assert age.max() < 106
    assert (p["birth_date"] <= pd.Timestamp(world.as_of)).all()
    assert (age[p["relation"].isin(["head", "spouse"])] >= 18).all()
    assert 0.25 < (age >= 65).mean() < 0.6  # many elderly
    assert 0.08 < (age < 18).mean() < 0.25  # children in families
    child = p["relation"] == "child"
    head_age = age.groupby(p["household_id"]).transform("first")
    assert (age[child] <= head_age[child] - 15).all()


def test_income_assistance_disability(world: World) -> None:
    p = world.persons
    age = ages(world)
    income = p["annual_income"]
    assert (income >= 0).all()
    assert (income[age < 18] == 0).all()
    adults = income[age >= 18]
    assert 500_000 < adults.median() < 2_500_000  # low incomes
    assert adults.max() <= 12_000_000
    assert 0.07 < p["public_assistance"].mean() < 0.13
    assert (p.groupby("household_id")["public_assistance"].nunique() == 1).all()
    cert = p["disability_certificate"]
    assert set(cert.dropna()) <= {"身体障害者手帳", "精神障害者保健福祉手帳", "愛の手帳"}
    assert 0.05 < cert.notna().mean() < 0.2
    grade = p["disability_grade"]
    assert (cert.isna() == grade.isna()).all()
    assert grade[cert == "愛の手帳"].str.fullmatch(r"[1-4]度").all()
    assert grade[cert == "身体障害者手帳"].str.fullmatch(r"[1-6]級").all()
    assert grade[cert == "精神障害者保健福祉手帳"].str.fullmatch(r"[1-3]級").all()
    assert not p["deceased"].any()


def test_fast_enough() -> None:
    generate_world(100, seed=1)  # pools built once per process
    start = time.perf_counter()
    generate_world(N, seed=11)
    assert time.perf_counter() - start < 3.0  # about 0.1 s here; generous for CI


# ---------------------------------------------------------------------------- evolve


def test_evolve_rates(world: World, evolved: tuple[World, pd.DataFrame]) -> None:
    new, changes = evolved
    assert new.as_of == dt.date(2027, 4, 1)
    assert new.cycle == 1
    assert list(changes.columns) == ["person_id", "household_id", "kind", "effective_date"]
    assert set(changes["kind"]) == set(CHANGE_KINDS)
    assert not changes.duplicated(["person_id", "kind"]).any()
    counts = changes["kind"].value_counts()
    assert counts["renamed"] == round(0.005 * N)
    assert counts["died"] == round(0.005 * N)
    assert 0.01 * N < counts["moved"] < 0.03 * N
    dates = changes["effective_date"]
    assert (dates >= pd.Timestamp(world.as_of)).all()
    assert (dates < pd.Timestamp(new.as_of)).all()


def test_evolve_applies_changes(world: World, evolved: tuple[World, pd.DataFrame]) -> None:
    new, changes = evolved
    old_p = world.persons.set_index("person_id")
    new_p = new.persons.set_index("person_id")
    assert list(new.persons.columns) == PERSON_COLUMNS
    assert new.persons["person_id"].equals(world.persons["person_id"])
    by_kind = {k: changes.loc[changes["kind"] == k, "person_id"] for k in CHANGE_KINDS}

    moved = by_kind["moved"]
    assert (new_p.loc[moved, "address"] != old_p.loc[moved, "address"]).all()
    # whole households move
    moved_hh = set(changes.loc[changes["kind"] == "moved", "household_id"])
    assert set(world.persons.loc[world.persons["household_id"].isin(moved_hh), "person_id"]) == set(moved)

    renamed = by_kind["renamed"]
    assert (surname(new_p.loc[renamed, "name"]) != surname(old_p.loc[renamed, "name"])).all()
    given_new = new_p.loc[renamed, "name"].str.split(FW).str[1]
    given_old = old_p.loc[renamed, "name"].str.split(FW).str[1]
    assert (given_new == given_old).all()
    assert (new_p.loc[renamed, "kana"].str.split(FW).str[1] == old_p.loc[renamed, "kana"].str.split(FW).str[1]).all()
    assert new_p.loc[renamed, "kana"].str.fullmatch(KANA.pattern).all()
    assert (new_p.loc[renamed, "sex"] == "2").mean() > 0.7  # mostly women take the new surname
    assert not (new_p.loc[renamed, "relation"] == "spouse").any()

    died = by_kind["died"]
    assert new_p.loc[died, "deceased"].all()
    assert int(new_p["deceased"].sum()) == len(died)
    old_age = ages(world).set_axis(world.persons["person_id"])
    assert old_age[died].mean() > old_age.mean() + 15  # the old die more

    # households stay consistent
    merged = new.persons.merge(new.households, on="household_id", suffixes=("", "_hh"))
    assert (merged["address"] == merged["address_hh"]).all()
    h_old = world.households.set_index("household_id")
    h_new = new.households.set_index("household_id")
    assert (h_new.loc[list(moved_hh), "address"] != h_old.loc[list(moved_hh), "address"]).all()
    codes = {m.code for m in MUNICIPALITIES}
    assert set(h_new["ward_code"]) <= codes
    resident = h_new[h_new["status"] == "resident"]
    assert resident.loc[resident["address"].str.contains("都営"), "address"].is_unique


def test_evolve_leaves_untouched_people_unchanged(world: World, evolved: tuple[World, pd.DataFrame]) -> None:
    new, changes = evolved
    untouched = ~world.persons["person_id"].isin(changes["person_id"])
    pd.testing.assert_frame_equal(world.persons[untouched], new.persons[untouched])
    moved_hh = changes.loc[changes["kind"] == "moved", "household_id"]
    stay = ~world.households["household_id"].isin(moved_hh)
    pd.testing.assert_frame_equal(world.households[stay], new.households[stay])
    # and the original world is not modified
    assert world.cycle == 0
    assert not world.persons["deceased"].any()


def test_evolve_deterministic_and_chained(world: World, evolved: tuple[World, pd.DataFrame]) -> None:
    again, changes_again = world.evolve(seed=1)
    pd.testing.assert_frame_equal(again.persons, evolved[0].persons)
    pd.testing.assert_frame_equal(changes_again, evolved[1])
    _, other_changes = world.evolve(seed=2)
    assert not other_changes["person_id"].equals(evolved[1]["person_id"])
    third, changes3 = evolved[0].evolve(seed=1)  # same seed, next cycle: other people
    assert third.cycle == 2
    assert not changes3["person_id"].equals(evolved[1]["person_id"])
    dead_before = set(evolved[0].persons.loc[evolved[0].persons["deceased"], "person_id"])
    assert not dead_before & set(changes3["person_id"])  # the dead neither move, marry nor die again
    assert int(third.persons["deceased"].sum()) == len(dead_before) + (changes3["kind"] == "died").sum()


def test_evolve_rates_are_parameters(world: World) -> None:
    same, none = world.evolve(seed=3, move_rate=0, rename_rate=0, death_rate=0)
    assert none.empty
    pd.testing.assert_frame_equal(same.persons, world.persons)
    pd.testing.assert_frame_equal(same.households, world.households)
    _, many = world.evolve(seed=3, move_rate=0.1, rename_rate=0.02, death_rate=0.03)
    counts = many["kind"].value_counts()
    assert 0.07 * N < counts["moved"] < 0.13 * N
    assert counts["renamed"] == round(0.02 * N)
    assert counts["died"] == round(0.03 * N)
    with pytest.raises(ValueError):
        world.evolve(seed=3, move_rate=1.5)
