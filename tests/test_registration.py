"""F1 bulk registration: C1 (target list), C2 (check digit), C3 (identity checked), C7 (review)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.conftest import StaffedWorkspace, run_benchmark, scalar
from tests.direct_load import load_targets
from workbench.core.errors import InvalidInput, PermissionDenied, WorkbenchError
from workbench.core.numbers import generate_numbers
from workbench.files import formats, media, transfer
from workbench.intake import persons, registration
from workbench.simulate import generate_world
from workbench.simulate.contractor import contractor_return_with_truth
from workbench.simulate.portal import portal_download_with_truth


@pytest.fixture(scope="module")
def population() -> Any:
    return generate_world(1500, seed=11)


@pytest.fixture
def loaded(world: StaffedWorkspace, population: Any) -> StaffedWorkspace:
    load_targets(world.ws, population)
    return world


def contractor_csv(rows: list[dict[str, str]], encoding: str = "utf-8") -> bytes:
    frame = pd.DataFrame(rows)
    for col, default in (("person_id", ""), ("individual_number", ""), ("identity_checked", "1"), ("collected_on", "2026-05-01")):
        frame[col] = frame[col].fillna(default) if col in frame else default
    return formats.write_table(frame, "contractor_return", encoding=encoding)


def person(population: Any, i: int) -> tuple[str, str]:
    row = population.persons.iloc[i]
    return str(row["person_id"]), str(row["individual_number"])


def outcome_by_line(summary: registration.RegistrationSummary) -> dict[int, str]:
    return {r["line"]: r["reason"] for r in summary.returns}


def held(world: StaffedWorkspace) -> int:
    with world.ws.transaction("t", "t") as con:
        return int(scalar(con, "SELECT count(*) FROM person_numbers"))


def test_contractor_return_matches_truth_and_return_list_package(loaded: StaffedWorkspace, population: Any) -> None:
    data, truth = contractor_return_with_truth(population, seed=2, error_rate=0.4)
    s = loaded.login("registrar")
    summary = registration.register(s, data, source="contractor", file_name="return.csv")
    expected = truth[truth["outcome"] == "returned"].set_index("line")["reason"].to_dict()
    assert outcome_by_line(summary) == expected
    assert summary.outcomes["registered"] == int((truth["outcome"] == "registered").sum()) == held(loaded)
    assert set(summary.reasons) >= {"check_digit", "wrong_length", "not_digits", "unknown_person", "duplicate_row",
                                    "number_repeated_in_file", "blank", "identity_not_checked"}
    # the return list is a transfer package for the contractor with exactly those rows
    assert summary.return_list is not None and summary.return_list_path
    key, _ = media.recipient_key(loaded.ws, "collection_contractor")
    package = transfer.read_package(Path(summary.return_list_path), key=key)
    assert package.manifest.kind == "return_list" and package.manifest.record_count == len(expected)
    assert Path(summary.return_list_path).parent == loaded.ws.folder("return_lists")
    csv = package.members["return_list.csv"]
    assert csv.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(pd.io.common.BytesIO(csv), dtype=str, encoding="utf-8-sig", keep_default_na=False)
    assert list(back.columns) == ["line", "reason_code", "reason_ja", "reason_en", "person_id", "submission_id"]
    assert dict(zip(back["line"].astype(int), back["reason_code"], strict=True)) == expected
    ids = truth.set_index("line")["person_id"]
    assert (back["person_id"].to_numpy() == ids.loc[back["line"].astype(int)].to_numpy()).all()
    assert all(back["reason_ja"].str.len() > 0) and all(back["reason_en"].str.len() > 0)
    # and the registered numbers decrypt to the right person's number
    pid, number = person(population, int(np.flatnonzero(population.persons["person_id"] == truth.loc[
        truth["outcome"] == "registered", "person_id"].iloc[0])[0]))
    assert persons.reveal_number(s, pid) == number


def test_same_file_again_changes_nothing(loaded: StaffedWorkspace, population: Any) -> None:
    data, _ = contractor_return_with_truth(population, seed=3, error_rate=0.1)
    s = loaded.login("registrar")
    first = registration.register(s, data, source="contractor", file_name="a.csv")
    before = held(loaded)
    ledger = media.ledger(loaded.login("auditor"))
    again = registration.register(s, data, source="contractor", file_name="renamed.csv")
    assert again.already_imported and not first.already_imported
    assert again.imported_at == first.imported_at and again.import_id == first.import_id
    assert again.outcomes == first.outcomes
    assert held(loaded) == before
    assert len(media.ledger(loaded.login("auditor"))) == len(ledger)
    assert registration.preview_registration(s, data, source="contractor", file_name="a.csv").already_imported


def test_preview_writes_nothing(loaded: StaffedWorkspace, population: Any) -> None:
    data, truth = contractor_return_with_truth(population, seed=4, error_rate=0.2)
    s = loaded.login("registrar")
    preview = registration.preview_registration(s, data, source="contractor", file_name="p.csv").detail
    assert preview.preview and preview.outcomes["registered"] == int((truth["outcome"] == "registered").sum())
    assert preview.return_list is None and held(loaded) == 0
    assert not list(loaded.ws.folder("return_lists").iterdir())
    assert not registration.register(s, data, source="contractor", file_name="p.csv").already_imported


def test_already_registered_review_and_resolve(loaded: StaffedWorkspace, population: Any) -> None:
    (a, na), (b, nb), (c, _) = person(population, 0), person(population, 1), person(population, 2)
    s = loaded.login("registrar")
    registration.register(s, contractor_csv([{"person_id": a, "individual_number": na},
                                             {"person_id": b, "individual_number": nb}]), source="contractor", file_name="1")
    new_a = str(generate_numbers(1, np.random.default_rng(99))[0])
    second = registration.register(
        s, contractor_csv([{"person_id": a, "individual_number": new_a},       # C7: different number → review
                           {"person_id": b, "individual_number": nb},          # same number → no change
                           {"person_id": c, "individual_number": na}]),        # a's number for c → refused
        source="contractor", file_name="2")
    assert second.outcomes == {"registered": 0, "already_registered": 1, "review": 1, "returned": 1}
    assert outcome_by_line(second) == {4: "number_held_by_other"}
    assert persons.reveal_number(s, a) == na  # not overwritten
    queue = registration.review_queue(s)
    assert len(queue) == 1 and queue[0].person_id == a
    assert queue[0].held_number_masked == "********" + na[-4:] and queue[0].new_number_masked == "********" + new_a[-4:]
    # the same different number again is not queued twice
    registration.register(s, contractor_csv([{"person_id": a, "individual_number": new_a, "collected_on": "2026-05-02"}]),
                          source="contractor", file_name="3")
    assert len(registration.review_queue(s)) == 1
    done = registration.resolve_review(s, queue[0].review_id, accept=True)
    assert done.status == "accepted"
    assert persons.reveal_number(s, a) == new_a
    assert registration.review_queue(s) == []
    with pytest.raises(InvalidInput):
        registration.resolve_review(s, queue[0].review_id, accept=False)
    # a rejected review leaves the held number alone
    other = str(generate_numbers(1, np.random.default_rng(7))[0])
    registration.register(s, contractor_csv([{"person_id": b, "individual_number": other}]), source="contractor", file_name="4")
    (item,) = registration.review_queue(s)
    assert registration.resolve_review(s, item.review_id, accept=False).status == "rejected"
    assert persons.reveal_number(s, b) == nb


def test_in_file_conflicts_refuse_both_rows(loaded: StaffedWorkspace, population: Any) -> None:
    (a, na), (b, nb), (c, nc) = person(population, 3), person(population, 4), person(population, 5)
    s = loaded.login("registrar")
    summary = registration.register(s, contractor_csv([
        {"person_id": a, "individual_number": na},
        {"person_id": b, "individual_number": na},   # same number, other person
        {"person_id": c, "individual_number": nc},
        {"person_id": c, "individual_number": nb},   # same person, other number
        {"person_id": c, "individual_number": nc},   # exact duplicate
    ]), source="contractor", file_name="c")
    assert outcome_by_line(summary) == {2: "number_repeated_in_file", 3: "number_repeated_in_file",
                                        4: "person_repeated_in_file", 5: "person_repeated_in_file", 6: "duplicate_row"}
    assert held(loaded) == 0


def test_target_list_rules_c1(loaded: StaffedWorkspace, population: Any) -> None:
    (a, na), (b, nb), (c, nc) = person(population, 6), person(population, 7), person(population, 8)
    with loaded.ws.transaction("t", "t") as con:
        con.execute("UPDATE persons SET listed = FALSE WHERE person_id = ?", [a])
        con.execute("UPDATE persons SET deceased = TRUE WHERE person_id = ?", [b])
    s = loaded.login("registrar")
    summary = registration.register(s, contractor_csv([
        {"person_id": a, "individual_number": na}, {"person_id": b, "individual_number": nb},
        {"person_id": "", "individual_number": nc}, {"person_id": c, "individual_number": nc, "identity_checked": "0"},
        {"person_id": "Ｐ" + c[1:], "individual_number": "", "identity_checked": "1"},
    ]), source="contractor", file_name="c1")
    assert outcome_by_line(summary) == {2: "not_listed", 3: "deceased", 4: "unknown_person", 5: "identity_not_checked",
                                        6: "blank"}
    assert held(loaded) == 0


def test_number_forms_are_normalised(loaded: StaffedWorkspace, population: Any) -> None:
    (a, na), (b, nb), (c, nc) = person(population, 9), person(population, 10), person(population, 11)
    fw = na.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    summary = registration.register(loaded.login("registrar"), contractor_csv([
        {"person_id": a, "individual_number": fw},
        {"person_id": b, "individual_number": f"{nb[:4]}-{nb[4:8]}-{nb[8:]}"},
        {"person_id": c, "individual_number": f" {nc[:4]}　{nc[4:8]} {nc[8:]}", "identity_checked": "済"},
    ], encoding="cp932"), source="contractor", file_name="n")
    assert summary.returns == [] and summary.encoding == "cp932"


@pytest.mark.parametrize(
    ("data", "reason"),
    # an empty file and a header with no record: the one incoming path's reasons, the same for every kind
    [(b"", "empty_file"), (b"person_id,individual_number,identity_checked,collected_on\r\n", "empty_package"),
     (b"person_id,individual_number,collected_on\r\nP1,1,2026-01-01\r\n", "bad_header"),
     (b"person_id,individual_number,identity_checked,collected_on,extra\r\nP1,1,1,x,y\r\n", "bad_header"),
     (b"person_id,individual_number,identity_checked,collected_on\r\nP1,1,1\r\n", "field_count"),
     (b'person_id,individual_number,identity_checked,collected_on\r\nP1,"12345', "unterminated_quote"),
     ("person_id,individual_number,identity_checked,collected_on\r\nP1,1,1,x\r\n".encode("utf-16"), "undecodable")],
)
def test_broken_files_are_refused_whole(loaded: StaffedWorkspace, data: bytes, reason: str) -> None:
    s = loaded.login("registrar")
    with pytest.raises(WorkbenchError) as info:
        registration.register(s, data, source="contractor", file_name="bad")
    assert info.value.details["reason"] == reason and info.value.message_ja and info.value.message_en
    assert held(loaded) == 0


def test_bom_and_japanese_header_are_read(loaded: StaffedWorkspace, population: Any) -> None:
    a, na = person(population, 12)
    data = ("宛名番号,個人番号,本人確認,収集日\r\n" + f"{a},{na},1,2026-05-01\r\n").encode("utf-8-sig")
    summary = registration.register(loaded.login("registrar"), data, source="contractor", file_name="bom")
    assert summary.outcomes["registered"] == 1 and summary.encoding == "utf-8-sig"


def test_unknown_source_and_permission(loaded: StaffedWorkspace) -> None:
    with pytest.raises(InvalidInput):
        fax: Any = "fax"  # no such source, on purpose
        registration.register(loaded.login("registrar"), b"x", source=fax, file_name="x")
    with pytest.raises(PermissionDenied):
        registration.register(loaded.login("reviewer"), b"x", source="contractor", file_name="x")
    with pytest.raises(PermissionDenied):
        registration.review_queue(loaded.login("analyst"))


def test_portal_download_matches_truth(loaded: StaffedWorkspace, population: Any) -> None:
    data, truth = portal_download_with_truth(population, seed=5, persons=300, error_rate=0.4)
    summary = registration.register(loaded.login("registrar"), data, source="portal", file_name="portal.csv")
    expected = truth[truth["outcome"] == "returned"].set_index("line")["reason"].to_dict()
    assert outcome_by_line(summary) == expected
    assert summary.outcomes["registered"] == int((truth["outcome"] == "registered").sum()) == held(loaded)
    for code in ("portal_birth_date_mismatch", "portal_name_mismatch", "portal_sex_mismatch", "portal_address_mismatch",
                 "portal_no_match"):
        assert summary.reasons.get(code, 0) > 0, code
    key, _ = media.recipient_key(loaded.ws, "collection_contractor")
    assert summary.return_list_path
    package = transfer.read_package(Path(summary.return_list_path), key=key)
    back = pd.read_csv(pd.io.common.BytesIO(package.members["return_list.csv"]), dtype=str, encoding="utf-8-sig",
                       keep_default_na=False)
    subs = truth.set_index("line")["submission_id"]
    assert (back["submission_id"].to_numpy() == subs.loc[back["line"].astype(int)].to_numpy()).all()
    # a person is named on the return list only once all four items matched
    mism = back["reason_code"].str.startswith("portal_")
    assert (back.loc[mism, "person_id"] == "").all()


def test_portal_ambiguous_and_kana_tie_break(loaded: StaffedWorkspace, population: Any) -> None:
    p = population.persons
    twin_src = p.iloc[20]
    twin = {"person_id": "P99999991", "household_id": twin_src["household_id"], "relation": "other",
            "name": twin_src["name"], "kana": "ベツ\u3000ヨミ", "sex": twin_src["sex"],
            "birth_date": twin_src["birth_date"].date(), "address": twin_src["address"], "status": "resident"}
    with loaded.ws.transaction("t", "t") as con:
        con.execute("INSERT INTO persons (person_id, household_id, relation, name, kana, sex, birth_date, address, status,"
                    " listed, deceased, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, TRUE, FALSE, now())",
                    list(twin.values()))
    base = {"submission_id": "S1", "name": twin_src["name"], "kana": twin_src["kana"], "sex": twin_src["sex"],
            "birth_date": twin_src["birth_date"].strftime("%Y-%m-%d"), "address": twin_src["address"],
            "individual_number": twin_src["individual_number"], "identity_checked": "1", "submitted_at": "2026-05-01"}
    unclear = dict(base, submission_id="S2", kana="", individual_number=str(generate_numbers(1, np.random.default_rng(3))[0]))
    data = formats.write_table(pd.DataFrame([base, unclear]), "portal_download")
    summary = registration.register(loaded.login("registrar"), data, source="portal", file_name="amb")
    assert summary.outcomes["registered"] == 1  # kana told the twins apart
    assert outcome_by_line(summary) == {3: "portal_ambiguous"}


def test_audit_holds_counts_only(loaded: StaffedWorkspace, population: Any) -> None:
    data, _ = contractor_return_with_truth(population, seed=6, error_rate=0.3)
    s = loaded.login("registrar")
    registration.register(s, data, source="contractor", file_name="audit.csv")
    registration.preview_registration(s, data, source="contractor", file_name="audit.csv")
    with loaded.ws.transaction("t", "t") as con:
        rows = con.execute("SELECT operation, params, target_ref FROM audit_log WHERE operation LIKE 'registration.%'").fetchall()
    assert {r[0] for r in rows} == {"registration.register", "registration.preview_registration"}
    # Compare with the real values: a random package ID can hold 12 digits in a row.
    numbers = set(population.persons["individual_number"])
    person_ids = set(population.persons["person_id"])
    for _, params, target in rows:
        doc = json.loads(params)
        assert not [n for n in numbers if n in params]
        assert not [p for p in person_ids if p in params]
        assert "audit.csv" not in params
        assert all(isinstance(v, (int, bool, str, float)) for v in doc.values())
        assert target is None or "P0" not in target
    assert any(json.loads(p)["registered"] > 0 for op, p, _ in rows if op == "registration.register")


def test_benchmark_script_runs_small(tmp_path: Path) -> None:
    result = run_benchmark(tmp_path, "bench_registration", "--persons", "2000", "--workdir", str(tmp_path))
    assert result["as_expected"] and result["rows"] == 2000


def test_multi_chunk_columns_are_validated_whole() -> None:
    """A large file is read in blocks; its number column arrives as a multi-chunk Arrow array."""
    import pyarrow as pa

    from workbench.core.numbers import validate_numbers

    series = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([["123456789018"], ["123456789018", ""]])))
    check = validate_numbers(registration._as_arrow(series))
    assert check.ok.tolist() == [True, True, False]


def test_cli_register_and_review(loaded: StaffedWorkspace, population: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    from workbench import cli

    monkeypatch.setattr("workbench.cli._common.open_workspace", lambda args: loaded.ws)
    a, na = person(population, 30)
    new_a = str(generate_numbers(1, np.random.default_rng(5))[0])
    first, second = tmp_path / "r1.csv", tmp_path / "r2.csv"
    first.write_bytes(contractor_csv([{"person_id": a, "individual_number": na}, {"person_id": "P77777777", "individual_number": "123"}]))
    second.write_bytes(contractor_csv([{"person_id": a, "individual_number": new_a}]))

    def run(*argv: str) -> tuple[int, Any]:
        loaded.clock.advance(30)
        monkeypatch.setenv("WORKBENCH_USER", "registrar")
        monkeypatch.setenv("WORKBENCH_PASSWORD", "Test-Pass-2026!")
        monkeypatch.setenv("WORKBENCH_TOTP", loaded.code("registrar"))
        code = cli.main(list(argv))
        out = capsys.readouterr()
        return code, json.loads(out.out or out.err)

    code, out = run("register", str(first), "--source", "contractor", "--preview")
    assert code == 0 and out["detail"]["preview"] and out["changes"]["registered"] == 1 and held(loaded) == 0
    assert first.exists()  # a preview leaves the file where it is
    code, out = run("register", str(first), "--source", "contractor")
    assert code == 0 and out["outcomes"] == {"registered": 1, "already_registered": 0, "review": 0, "returned": 1}
    assert out["return_list"]["kind"] == "return_list"
    assert na not in json.dumps(out)
    # through the one incoming path: the plain file is gone, the media ledger says so (issue 22 item 3)
    assert out["incoming_kind"] == "contractor_return" and out["disposal"]["action"] == "deleted" and not first.exists()
    code, out = run("register", str(second), "--source", "contractor")
    assert out["outcomes"]["review"] == 1
    code, out = run("review", "list")
    assert code == 0 and len(out) == 1 and new_a not in json.dumps(out)
    code, out = run("review", "resolve", out[0]["review_id"], "--reject")
    assert code == 0 and out["status"] == "rejected"
    code, out = run("register", str(tmp_path / "missing.csv"), "--source", "contractor")
    assert code == 8 and out["reason"] == "unreadable_file"
