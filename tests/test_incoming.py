"""Incoming files (issue 24 item 3, issue 20 item 2, issue 22 item 3): one read path for every kind.

Each case of issue 24's "Why" about incoming packages is reproduced here and now fails safely: a
refusal decided from the clear header is audited against the person who ran the command (it was
not, because the header was read before the log-in); an empty, correctly signed Juki-net package is
refused like an empty information-answer package (it crashed with a traceback, and the other was
accepted as 0 rows); and the whole reader, header included, is fuzzed.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import StaffedWorkspace
from tests.results_helpers import count, write_answer
from workbench.core.errors import InvalidInput, NotFound, PackageError, PermissionDenied, WorkbenchError
from workbench.files import incoming, media, transfer
from workbench.intake import integrated
from workbench.queries import results


def _refusals(world: StaffedWorkspace, user: str) -> list[dict[str, Any]]:
    """Refused audit records of ``user`` (their params), oldest first."""
    from workbench.core import audit

    pseudonym = audit.pseudonym(world.ws.keyring.audit_key(), user)
    with world.ws.transaction("test.read", "system") as con:
        rows = con.execute("SELECT operation, params FROM audit_log WHERE outcome = 'refused' AND user_ref = ?"
                           " ORDER BY seq", [pseudonym]).fetchall()
    return [{"operation": op, **json.loads(p)} for op, p in rows]


def _answer(world: StaffedWorkspace, path: Path, members: list[tuple[str, bytes]], *, kind: str = "info", rows: int = 1) -> Path:
    """An answer package as its sender makes it (the linkage server answers F4 and F1b, Juki-net F5)."""
    if kind != "integrated":
        return write_answer(world, path, members, kind=kind, rows=rows)
    key, key_id = media.recipient_key(world.ws, "linkage_server")
    transfer.write_package(path, key=key, key_id=key_id, kind="integrated_answer", recipient="housing_office",
                           members=members, record_count=rows, creator="linkage_server",
                           workspace_id=world.ws.settings.workspace_id)
    return path


def _valid_package(world: StaffedWorkspace, path: Path) -> Path:
    return write_answer(world, path, [("a.txt", b"x" * 40)])


def _hostile_files(world: StaffedWorkspace, tmp_path: Path) -> dict[str, bytes]:
    """The header cases of issue 24 (18 of them), as bytes."""
    good = _valid_package(world, tmp_path / "good.wbpkg").read_bytes()
    header_len = int.from_bytes(good[6:10], "big")
    cases: dict[str, bytes] = {"empty": b"", "random_10mb": os.urandom(10 << 20), "text": b"request_id,person_id\r\n"}
    for n in (1, 3, 5, 6, 8, 10, 12, 10 + header_len // 2, 10 + header_len - 1):
        cases[f"cut_at_{n}"] = good[:n]
    for at, name in ((0, "magic"), (4, "magic_end"), (5, "version"), (12, "header_byte"), (10 + header_len - 2, "header_end")):
        flipped = bytearray(good)
        flipped[at] ^= 0x41
        cases[f"flipped_{name}"] = bytes(flipped)
    cases["huge_header_length"] = good[:6] + (2**32 - 1).to_bytes(4, "big") + good[10:]
    other = _answer(world, tmp_path / "other.wbpkg", [("a.csv", b"x")], kind="integrated")
    cases["other_kind"] = other.read_bytes()
    assert len(cases) == 19
    return cases


def test_header_refusals_are_audited_against_the_person(world: StaffedWorkspace, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """``batch import-results`` logs in first: every refusal, from the header or the body, is in the audit log
    with its reason, against the person who ran it; never a traceback; nothing in the media ledger."""
    cases = _hostile_files(world, tmp_path)
    before = len(_refusals(world, "query_operator"))
    reasons = {}
    for name, data in cases.items():
        path = tmp_path / f"{name}.wbpkg"
        path.write_bytes(data)
        code, _, err = world.cli(monkeypatch, capsys, "query_operator", "batch", "import-results", str(path))
        assert code in (2, 8) and "Traceback" not in err, (name, err)
        refusal = json.loads(err)
        assert refusal["message_ja"] and refusal["message_en"] and refusal["reason"], name
        reasons[name] = refusal["reason"]
        assert path.exists()  # a refused file is left where it was
    audited = _refusals(world, "query_operator")[before:]
    assert len(audited) == len(cases)
    assert [a["reason"] for a in audited] == list(reasons.values())
    assert {a["operation"] for a in audited} <= {"results.import_info_results", "results.import_juki_results"}
    assert reasons["empty"] == "empty_file" and reasons["other_kind"] == "wrong_kind"
    assert reasons["random_10mb"] == "not_a_package" and reasons["flipped_version"] == "unsupported_version"
    assert reasons["cut_at_5"] == "truncated" and reasons["huge_header_length"] == "tampered"
    assert count(world, "SELECT count(*) FROM media_ledger") == 0


def test_a_file_that_is_not_there_is_refused_after_login(world: StaffedWorkspace, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = world.cli(monkeypatch, capsys, "query_operator", "batch", "import-results", str(tmp_path / "nope"))
    assert code == 8 and json.loads(err)["reason"] == "unreadable_file"
    assert _refusals(world, "query_operator")[-1]["reason"] == "unreadable_file"


@pytest.mark.parametrize("kind", ["info", "juki", "integrated"])
@pytest.mark.parametrize("members", [[], [("a", b"")], "header_only"], ids=["no_member", "empty_member", "header_only"])
def test_an_empty_package_is_refused_the_same_way_for_every_kind(world: StaffedWorkspace, tmp_path: Path, kind: str,
                                                                  members: Any) -> None:
    """Issue 24: an empty, correctly signed Juki-net package crashed with a traceback (no audit record), the same
    for information answers was accepted as 0 rows.  Now: one refusal, one reason, audited, for every kind."""
    if members == "header_only":
        header = {"info": b"",
                  "juki": b"request_id,result_code,name,kana,sex,birth_date,address,deceased,answered_at\r\n",
                  "integrated": b"request_id,person_id,result_code,integrated_number\r\n"}[kind]
        members = [("a", header)]
    path = _answer(world, tmp_path / f"{kind}.wbpkg", members, kind=kind, rows=0)
    user = "registrar" if kind == "integrated" else "query_operator"
    importer = {"info": results.import_info_results, "juki": results.import_juki_results,
                "integrated": integrated.import_integrated_answers}[kind]
    with pytest.raises(InvalidInput) as exc:
        importer(world.login(user), path)
    assert exc.value.details["reason"] == "empty_package", exc.value.details
    assert "レコードがありません" in exc.value.message_ja and "no records" in exc.value.message_en
    assert _refusals(world, user)[-1]["reason"] == "empty_package"
    assert count(world, "SELECT count(*) FROM media_ledger") == 0


def test_preview_then_import_exactly_what_was_seen(world: StaffedWorkspace, tmp_path: Path) -> None:
    """The screen's shape: preview (nothing stored, no ledger line), then import with the preview's digest;
    another file under the same name is refused; the import is in the media ledger (who, kind, how many)."""
    body = b"request_id,person_id,result_code,integrated_number\r\nR1,P1,10,\r\n"
    path = _answer(world, tmp_path / "a.wbpkg", [("integrated_answer.csv", body)], kind="integrated")
    registrar = world.login("registrar")
    seen = incoming.preview(registrar, "integrated_answer", path.read_bytes(), file_name="a.wbpkg")
    assert seen.count == 1 and seen.changes == {"unknown": 1} and seen.sender == "linkage_server"
    assert count(world, "SELECT count(*) FROM media_ledger") == 0
    other = _answer(world, tmp_path / "b.wbpkg", [("integrated_answer.csv", body)], kind="integrated")
    with pytest.raises(InvalidInput) as exc:
        incoming.import_file(registrar, "integrated_answer", other.read_bytes(), expected_digest=seen.file_digest)
    assert exc.value.details["reason"] == "not_previewed"
    done = incoming.import_file(registrar, "integrated_answer", path.read_bytes(), file_name="a.wbpkg",
                                expected_digest=seen.file_digest)
    assert done.rows == 1 and done.unknown == 1
    ledger = media.ledger(world.login("auditor"))
    assert [(e.direction, e.kind, e.record_count, e.user_id, e.file_name) for e in ledger] == [
        ("in", "integrated_answer", 1, "registrar", "a.wbpkg")]


def test_a_bare_file_is_deleted_after_import_and_the_ledger_says_so(world: StaffedWorkspace, tmp_path: Path) -> None:
    plain = tmp_path / "answers.csv"
    plain.write_bytes(b"request_id,person_id,result_code,integrated_number\r\nR1,P1,10,\r\n")
    receipt = incoming.receive(world.login("registrar"), str(plain), kinds=("integrated_answer",))
    assert receipt.disposal is not None and receipt.disposal["action"] == "deleted" and not plain.exists()
    entry = media.ledger(world.login("auditor"))[0]
    assert entry.direction == "in" and entry.deleted_at is not None and entry.record_count == 1
    # a file never imported is not taken away, and nobody without the right takes anything
    stray = tmp_path / "stray.csv"
    stray.write_bytes(b"request_id,person_id,result_code,integrated_number\r\nR2,P2,10,\r\n")
    with pytest.raises(NotFound):
        incoming.dispose(world.login("registrar"), str(stray), "integrated_answer")
    with pytest.raises(PermissionDenied):
        incoming.dispose(world.login("auditor"), str(stray), "integrated_answer")
    with pytest.raises(PermissionDenied):
        results.import_info_results(world.login("registrar"), str(stray))
    assert stray.exists()


# ------------------------------------------------------------------------------ fuzz: the whole reader
@pytest.fixture(scope="module")
def package_bytes(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    key = bytes(range(32))
    path = tmp_path_factory.mktemp("pkg") / "p.wbpkg"
    transfer.write_package(path, key=key, key_id=transfer.key_id_for(key), kind="info_answer", recipient="office",
                           members=[("a.txt", b"0123456789" * 30), ("b.txt", b"z" * 5)], record_count=2,
                           creator="linkage_server", workspace_id="w" * 32)
    return path.read_bytes(), key


_EDIT = st.tuples(st.sampled_from(["flip", "cut", "insert", "delete", "set"]), st.floats(0, 1), st.binary(min_size=1, max_size=8))


@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(_EDIT, min_size=1, max_size=4), header_only=st.booleans())
def test_fuzz_the_package_reader_header_included(package_bytes: tuple[bytes, bytes], edits: list[Any],
                                                 header_only: bool) -> None:
    """Any edit anywhere — the magic, the header length, the clear header's JSON, a frame — is a PackageError
    with a reason in both languages (or, if the bytes are unchanged, the same package), never anything else."""
    data, key = package_bytes
    header_end = 10 + int.from_bytes(data[6:10], "big")
    edited = bytearray(data)
    for op, where, blob in edits:
        span = header_end if header_only else len(edited)
        at = min(int(where * span), max(len(edited) - 1, 0))
        if op == "flip" and edited:
            edited[at] ^= blob[0] or 1
        elif op == "cut":
            del edited[at:]
        elif op == "insert":
            edited[at:at] = blob
        elif op == "delete":
            del edited[at:at + len(blob)]
        else:
            edited[at:at + len(blob)] = blob
    try:
        transfer.peek_header(bytes(edited))
        package = transfer.read_package(bytes(edited), key=key)
    except PackageError as err:
        assert err.reason and err.message_ja and err.message_en
        return
    assert bytes(edited) == data and package.members["b.txt"] == b"z" * 5


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(at=st.floats(0, 1), blob=st.binary(min_size=1, max_size=4), cut=st.booleans())
def test_fuzz_through_the_import_service(world: StaffedWorkspace, tmp_path: Path, at: float, blob: bytes, cut: bool) -> None:
    """The same through the service: a refusal (audited), never another exception."""
    data = bytearray(_valid_package(world, tmp_path / f"f{uuid.uuid4().hex}.wbpkg").read_bytes())
    pos = int(at * (len(data) - 1))
    if cut:
        del data[pos:]
    else:
        data[pos:pos + len(blob)] = bytes(b ^ 0xA5 for b in blob)
    before = len(_refusals(world, "query_operator"))
    with pytest.raises(WorkbenchError):
        results.import_info_results(world.login("query_operator"), bytes(data), file_name="fuzz.wbpkg")
    assert len(_refusals(world, "query_operator")) == before + 1


def test_a_plain_procedures_file_goes_the_same_way(world: StaffedWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The housing system's procedures extract (issue 22 item 3): previewed, imported, in the media ledger, and
    the plaintext removed from where it was given; an empty one refused like an empty answer package."""
    from tests.query_helpers import load_office, procedures_csv

    office = load_office(world)
    head = office.pop.persons["person_id"].iloc[0]
    plain = tmp_path / "procedures.csv"
    plain.write_bytes(procedures_csv([("R-1", "P1", "2026", "2026-05-01", head, head, "Y")]))
    code, seen, err = world.cli(monkeypatch, capsys, "query_operator", "procedures", "import", "--preview", str(plain))
    assert code == 0, err
    assert seen["count"] == 1 and seen["changes"] == {"new_procedures": 1, "unchanged_procedures": 0} and plain.exists()
    code, done, err = world.cli(monkeypatch, capsys, "query_operator", "procedures", "import", str(plain))
    assert code == 0, err
    assert done["new_procedures"] == 1 and done["disposal"]["action"] == "deleted" and not plain.exists()
    entry = media.ledger(world.login("auditor"))[0]
    assert (entry.direction, entry.kind, entry.record_count, entry.file_name) == ("in", "housing_procedures", 1,
                                                                                   "procedures.csv")
    assert entry.deleted_at is not None
    header_only = tmp_path / "empty.csv"
    header_only.write_bytes(procedures_csv([]))
    code, _, err = world.cli(monkeypatch, capsys, "query_operator", "procedures", "import", str(header_only))
    assert code == 2 and json.loads(err)["reason"] == "empty_package" and header_only.exists()
