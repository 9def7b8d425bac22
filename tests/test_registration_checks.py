"""F1 registration's checks as set operations (issue 19 item 6): the same rows refused, for the same
reasons, on the same lines, as the rules say row by row — in-file duplicates and conflicts, number
validation, the target-list look-up beside the blind index — and a look-up that fails halfway leaves
nothing behind.  (Speed is measured by benchmarks/bench_registration.py, never here.)"""

from __future__ import annotations

import random
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from tests.conftest import StaffedWorkspace, remote_login, run_benchmark, scalar
from tests.direct_load import load_targets
from workbench.core.errors import WorkbenchError
from workbench.core.numbers import generate_numbers, is_valid_number, validate_numbers
from workbench.files import formats
from workbench.intake import registration
from workbench.simulate import generate_world
from workbench.simulate.contractor import contractor_return_with_truth
from workbench.web.dataserver import DataServer


@pytest.fixture(scope="module")
def population() -> Any:
    return generate_world(400, seed=23)


@pytest.fixture
def loaded(world: StaffedWorkspace, population: Any) -> StaffedWorkspace:
    load_targets(world.ws, population)
    return world


def contractor_csv(rows: list[tuple[str, str, str]]) -> bytes:
    frame = pd.DataFrame(rows, columns=["person_id", "individual_number", "identity_checked"])
    frame["collected_on"] = "2026-05-01"
    return formats.write_table(frame, "contractor_return")


# ------------------------------------------------------------------ the set operations against row-by-row rules
def _reference_duplicated(parts: list[list[Any]]) -> list[bool]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for key in zip(*[[("" if v is None else v) for v in p] for p in parts], strict=True):
        out.append(key in seen)
        seen.add(key)
    return out


def _reference_conflicts(group: list[Any], other: list[Any], mask: list[bool]) -> list[bool]:
    seen: dict[Any, set[Any]] = {}
    for g, o, m in zip(group, other, mask, strict=True):
        if m:
            seen.setdefault(g, set()).add(o)
    return [bool(m and len(seen[g]) > 1) for g, m in zip(group, mask, strict=True)]


@pytest.mark.parametrize("seed", range(6))
def test_duplicates_and_conflicts_as_the_row_by_row_rule(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.choice([0, 1, 2, 50, 400])
    people = [rng.choice(["P1", "P2", "P3", "", None, "P4"]) for _ in range(n)]
    numbers = [rng.choice(["111", "222", "333", None]) for _ in range(n)]
    flags = [rng.choice(["1", "0", "済"]) for _ in range(n)]
    parts: list[pa.Array | np.ndarray] = [pa.array(people, pa.string()), np.array(numbers, dtype=object),
                                          pa.array(flags, pa.string())]
    assert registration._duplicated(parts).tolist() == _reference_duplicated([people, numbers, flags])
    # a None and an empty first part are the same key part (as they always were)
    codes = registration._codes(pa.array([("" if p is None else p) for p in people], pa.string()))
    assert registration._duplicated(parts, codes).tolist() == _reference_duplicated([people, numbers, flags])

    mask = [rng.random() < 0.8 for _ in range(n)]
    group = [rng.randrange(5) for _ in range(n)]
    other = np.array([rng.choice(["a", "b", None]) for _ in range(n)], dtype=object)
    got = registration._conflicts(np.array(group, dtype=np.int64), other, np.array(mask, dtype=bool))
    assert got.tolist() == _reference_conflicts(group, other.tolist(), mask)


def _reference_number(value: Any) -> tuple[str | None, str | None]:
    """One value by the documented rules (numbers.validate_numbers): normalised text and reason."""
    if not isinstance(value, str):
        return None, ("blank" if value is None or (isinstance(value, float) and value != value) else "not_digits")
    separators = set(" \t\r\n\u00a0\u3000-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d\u30fc\uff70")
    text = "".join(c for c in value if c not in separators)
    text = "".join(unicodedata.normalize("NFKC", c) if "０" <= c <= "９" else c for c in text)
    if not text:
        return text, "blank"
    if not (text.isascii() and text.isdigit()):
        return text, "not_digits"
    if len(text) != 12:
        return text, "wrong_length"
    return text, None if is_valid_number(text) else "check_digit"


def test_number_validation_as_the_row_by_row_rule_and_its_keys() -> None:
    rng = random.Random(8)
    good = [str(v) for v in generate_numbers(300, np.random.default_rng(3))]
    noise = list(" -\u3000\u2010ー０１９①²aＡ\t\u00a0")
    values: list[Any] = []
    for _ in range(3000):
        r = rng.random()
        if r < 0.5:
            values.append(rng.choice(good))
        elif r < 0.7:
            chars = list(rng.choice(good))
            chars[rng.randrange(12)] = rng.choice(noise + list("0123456789"))
            values.append("".join(chars))
        elif r < 0.75:
            values.append(rng.choice([None, 12, float("nan")]))
        else:
            values.append("".join(rng.choice(noise + list("0123456789") * 3) for _ in range(rng.randrange(0, 15))))
    check = validate_numbers(values)
    assert check.keys is not None
    for i, value in enumerate(values):
        text, reason = _reference_number(value)
        assert check.numbers[i] == text and check.reasons[i] == reason, i
        assert bool(check.ok[i]) == (reason is None)
        assert check.keys[i] == (int(text) if reason is None and text else -1)
    # the clean values and the messy ones may come in any mix and order
    assert validate_numbers(good).ok.all() and validate_numbers([]).keys is not None


# ------------------------------------------------------------------------------ a whole file, line by line
_FULL_WIDTH = str.maketrans("P0123456789", "Ｐ０１２３４５６７８９")


def test_every_reason_on_its_line(loaded: StaffedWorkspace, population: Any) -> None:
    alive = population.persons[~population.persons["deceased"].astype(bool)]
    pid = alive["person_id"].astype(str).tolist()
    num = alive["individual_number"].astype(str).tolist()
    s = loaded.login("registrar")
    registration.register(s, contractor_csv([(pid[0], num[0], "1"), (pid[1], num[2], "1")]),
                          source="contractor", file_name="before.csv")
    other = str(generate_numbers(1, np.random.default_rng(5))[0])
    hyphenated = f"{num[20][:4]}-{num[20][4:8]}-{num[20][8:]}"
    rows = [
        (pid[0], num[0], "1"),                  # 2 already registered
        (pid[1], num[1], "1"),                  # 3 person 1 holds another number (num 2): to review (C7)
        (pid[3], num[3], "1"),                  # 4 registered
        (pid[3], num[3], "1"),                  # 5 an exact repeat of line 4
        (unicodedata.normalize("NFKC", pid[4]).translate(_FULL_WIDTH), num[4], "1"),  # 6 registered (NFKC person ID)
        (pid[5], num[5], "0"),                  # 7 identity not checked
        (pid[6], "", "1"),                      # 8 blank
        (pid[7], num[7][:11], "1"),             # 9 wrong length
        (pid[8], num[8][:11] + str((int(num[8][11]) + 1) % 10), "1"),  # 10 check digit
        (pid[9], "12345678901a", "1"),          # 11 not digits
        ("NOBODY", num[10], "1"),               # 12 unknown person
        (pid[11], num[12], "1"),                # 13 number also given for another person (line 14)
        (pid[12], num[12], "1"),                # 14
        (pid[13], num[13], "1"),                # 15 two numbers for one person (line 16)
        (pid[13], num[14], "1"),                # 16
        (pid[20], hyphenated, "1"),             # 17 the same number as line 18, written otherwise: one person, fine
        (pid[20], num[20], "1"),                # 18 line 17 again once normalised: an exact repeat
        (pid[21], hyphenated, "1"),             # 19 person 20's number for person 21: a repeated number
        (pid[22], other, "1"),                  # 20 registered
        (pid[2], num[2], "1"),                  # 21 person 2's number is held by person 1: refused
    ]
    summary = registration.register(s, contractor_csv(rows), source="contractor", file_name="main.csv")
    returned = {r["line"]: r["reason"] for r in summary.returns}
    assert returned == {21: "number_held_by_other", 5: "duplicate_row", 7: "identity_not_checked", 8: "blank",
                        9: "wrong_length", 10: "check_digit", 11: "not_digits", 12: "unknown_person",
                        13: "number_repeated_in_file", 14: "number_repeated_in_file",
                        15: "person_repeated_in_file", 16: "person_repeated_in_file",
                        17: "number_repeated_in_file", 18: "duplicate_row", 19: "number_repeated_in_file"}
    assert summary.outcomes == {"registered": 3, "already_registered": 1, "review": 1, "returned": 15}
    assert [item.line for item in registration.review_queue(s)] == [3]
    with loaded.ws.transaction("t", "t") as con:
        kept = dict(con.execute("SELECT line, reason FROM registration_returns r JOIN registration_imports i"
                                " USING (import_id) WHERE i.file_name = 'main.csv'").fetchall())
        assert kept == returned
        assert scalar(con, "SELECT count(*) FROM person_numbers") == 2 + 3


def test_a_simulated_return_as_its_truth_says(loaded: StaffedWorkspace, population: Any) -> None:
    data, truth = contractor_return_with_truth(population, seed=31, error_rate=0.5, encoding="cp932")
    summary = registration.register(loaded.login("registrar"), data, source="contractor", file_name="r.csv")
    expected = truth[truth["outcome"] == "returned"].set_index("line")["reason"].to_dict()
    assert {r["line"]: r["reason"] for r in summary.returns} == expected
    assert summary.outcomes["registered"] == int((truth["outcome"] == "registered").sum())


# ------------------------------------------------------------------------------ crash it halfway
def test_a_target_list_look_up_that_fails_beside_the_index_leaves_nothing(
        loaded: StaffedWorkspace, population: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    data, _truth = contractor_return_with_truth(population, seed=32, error_rate=0.1)
    s = loaded.login("registrar")
    with loaded.ws.transaction("t", "t") as con:
        ledger = scalar(con, "SELECT count(*) FROM media_ledger")

    def broken(*_args: Any) -> Any:
        raise RuntimeError("the look-up thread died")

    monkeypatch.setattr(registration, "_person_state", broken)
    with pytest.raises(RuntimeError):
        registration.register(s, data, source="contractor", file_name="r.csv")
    with loaded.ws.transaction("t", "t") as con:
        assert scalar(con, "SELECT count(*) FROM person_numbers") == 0
        assert scalar(con, "SELECT count(*) FROM registration_imports") == 0
        assert scalar(con, "SELECT count(*) FROM media_ledger") == ledger
        assert scalar(con, "SELECT count(*) FROM registration_returns") == 0
    monkeypatch.undo()
    assert registration.register(s, data, source="contractor", file_name="r.csv").registered > 0


def test_a_registrar_without_the_right_gets_no_look_up(loaded: StaffedWorkspace, population: Any,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    data, _truth = contractor_return_with_truth(population, seed=33, error_rate=0.1)
    called: list[int] = []
    real = registration._person_state
    def counted(*args: Any) -> Any:
        called.append(1)
        return real(*args)

    monkeypatch.setattr(registration, "_person_state", counted)
    loaded.add_user("analyst2", ["analyst"])
    with pytest.raises(WorkbenchError):
        registration.register(loaded.login("analyst2"), data, source="contractor", file_name="r.csv")
    assert called == []


# ------------------------------------------------------------------------------ the benchmark's reuse
def test_benchmark_reuses_a_kept_workdir(tmp_path: Path) -> None:
    keep = tmp_path / "keep"
    first = run_benchmark(tmp_path, "bench_registration", "--persons", "300", "--keep", str(keep), "--rounds", "2")
    assert first["as_expected"] and first["rows"] == 300 and len(first["register"]["walls"]) == 2
    # the same folder again: not prepared again, the workspace put back (the same file registers the same)
    again = run_benchmark(tmp_path, "bench_registration", "--persons", "300", "--keep", str(keep), "--only", "register")
    assert again["as_expected"] and again["floor"] is None
    assert again["register"]["outcomes"] == first["register"]["outcomes"]


# ------------------------------------------------------------------------------ through the data server
def test_registration_through_the_data_server(loaded: StaffedWorkspace, server: DataServer, runtime: Path,
                                              population: Any) -> None:
    """The target-list look-up runs on a thread of its own beside the blind index: in the data server too."""
    data, truth = contractor_return_with_truth(population, seed=34, error_rate=0.3)
    summary = registration.register(remote_login(loaded, "registrar"), data, source="contractor", file_name="r.csv")
    expected = truth[truth["outcome"] == "returned"].set_index("line")["reason"].to_dict()
    assert {r["line"]: r["reason"] for r in summary.returns} == expected
    assert summary.outcomes["registered"] == int((truth["outcome"] == "registered").sum()) > 0


def test_read_table_takes_the_digest_the_caller_has() -> None:
    import hashlib

    data = contractor_csv([("P00000001", "123456789018", "1")])
    assert formats.read_table(data, "contractor_return").digest == hashlib.sha256(data).hexdigest()
    assert formats.read_table(data, "contractor_return", digest="ab" * 32).digest == "ab" * 32
