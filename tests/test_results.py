"""F4/F5 result import (C10 matching, bad input, duplicates, late answers, re-import) and C11 expiry/purge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.conftest import MakeWorld, StaffedWorkspace, scalar
from tests.query_helpers import Office
from tests.results_helpers import (
    busy_office,
    count,
    frame,
    info_answer_bytes,
    juki_answer_bytes,
    send_batch,
    sent_requests,
    write_answer,
)
from workbench.core.errors import InvalidInput, NotFound, PackageError, PermissionDenied
from workbench.files import media
from workbench.files.query_files import ANSWER_LAYOUT
from workbench.queries import results
from workbench.simulate import intermediate_server, juki


@pytest.fixture
def office(world: StaffedWorkspace) -> Office:
    return busy_office(world)


def _operator(world: StaffedWorkspace) -> Any:
    return world.login("query_operator")


def _base_answers(world: StaffedWorkspace, office: Office, result: Any) -> pd.DataFrame:
    """Correct, on-time answers for every request (status 00), in the answer layout."""
    on_time, _ = intermediate_server.answer_frames(sent_requests(world, result), office.pop, seed=1)
    return on_time.sort_values("request_id", ignore_index=True)


def test_import_with_anomalies_late_answers_and_reimport(office: Office, world: StaffedWorkspace, tmp_path: Path) -> None:
    result, reqs = send_batch(world, "info")
    n = len(reqs)
    paths = intermediate_server.answer_package(world.ws, result.path, office.pop, tmp_path, seed=5, not_found=0.1, error=0.1,
                                          late=0.1, duplicate=0.05)
    first = results.import_info_results(_operator(world), paths[0])
    late_n = n - first.stored
    assert first.duplicates_identical == round(0.05 * n) and first.rows == first.stored + first.duplicates_identical
    assert first.unanswered == late_n > 0 and first.batches_closed == [] and first.problems == []
    assert first.answered == first.by_status.get("00", 0) + first.by_status.get("10", 0)
    assert first.errors == sum(first.by_status.get(c, 0) for c in ("20", "30", "90")) > 0
    status = frame(world, "SELECT status, result_code, count(*) AS n FROM query_requests GROUP BY ALL")
    assert status.loc[status["status"] == "sent", "n"].sum() == late_n
    assert set(status.loc[status["status"] == "answered", "result_code"]) == {"00", "10"}
    assert set(status.loc[status["status"] == "error", "result_code"]) == {"20", "30", "90"}
    # payload: local tax as the linkage server reported it, keyed by request (C10)
    tax = frame(world, "SELECT person_id, taxable_income, tax_status FROM info_results WHERE information = 'local_tax'"
                       " AND status = '00'")
    income = office.pop.persons.set_index("person_id")["annual_income"]
    assert len(tax) and all(int(v) == income[p] for p, v in zip(tax["person_id"], tax["taxable_income"], strict=True))

    # late answers (second package) are accepted while their requests are open; the batch then closes
    second = results.import_info_results(_operator(world), paths[1])
    assert second.stored == late_n and second.unanswered == 0
    assert second.batches_closed == [result.extra["batch_id"]]
    assert count(world, "SELECT count(*) FROM query_batches WHERE status = 'closed' AND closed_at IS NOT NULL") == 1
    assert count(world, "SELECT count(*) FROM info_results") == n

    # the same package twice changes nothing, and says so
    again = results.import_info_results(_operator(world), paths[0])
    assert again.already_imported and again.stored == 0 and "already imported" in again.message_en
    assert count(world, "SELECT count(*) FROM info_results") == n
    assert count(world, "SELECT count(*) FROM result_imports") == 2

    # audit: counts and IDs only
    with world.ws.transaction("t", "t") as con:
        params = [json.loads(r[0]) for r in con.execute(
            "SELECT params FROM audit_log WHERE operation = 'results.import_info_results' ORDER BY seq").fetchall()]
    assert params[0]["stored"] == first.stored and params[0]["duplicates_identical"] == first.duplicates_identical
    text = json.dumps(params)
    assert not any(p in text for p in reqs["person_id"].unique())
    assert not any(str(v) in text for v in tax["taxable_income"].head(20) if int(v) > 99999)


def test_orphans_wrong_person_wrong_information_and_conflicting_duplicates(office: Office, world: StaffedWorkspace,
                                                                           tmp_path: Path) -> None:
    result, reqs = send_batch(world, "info", information=["resident_register", "local_tax"])
    base = _base_answers(world, office, result)
    assert len(base) >= 6
    bad = base.copy()
    bad.loc[0, "request_id"] = "QB20260601ZZZZZZ-9999999"                 # orphan
    other = next(p for p in reqs["person_id"] if p != bad.loc[1, "atena_no"])
    bad.loc[1, "atena_no"] = other                                         # wrong person
    bad.loc[2, "integrated_no"] = "9" * 15                                 # wrong integrated number
    codes = sorted(set(base["info_code"]))
    bad.loc[3, "info_code"] = next(c for c in codes if c != bad.loc[3, "info_code"])  # wrong information
    twin = bad.loc[[4]].copy()
    twin["taxable_income"] = "123"                                         # conflicting duplicate
    twin["status"] = "00"
    same = bad.loc[[5]].copy()                                             # identical duplicate
    body = info_answer_bytes(pd.concat([bad, twin, same], ignore_index=True))
    path = write_answer(world, tmp_path / "a.wbpkg", [("answer.txt", body)], rows=len(bad) + 2)
    summary = results.import_info_results(_operator(world), path)
    assert summary.unknown_request == 1 and summary.wrong_person == 2 and summary.wrong_information == 1
    assert summary.conflicting_duplicate == 2 and summary.duplicates_identical == 1
    assert summary.stored == len(base) - 5
    assert summary.unanswered == 5                                         # 0-4 stay open for a later answer
    assert {p["reason"] for p in summary.problems} == {"unknown_request", "wrong_person", "wrong_information",
                                                       "conflicting_duplicate"}
    assert all(p["line"] >= 1 and p["member"] == "answer.txt" and p["message_ja"] for p in summary.problems)
    assert count(world, "SELECT count(*) FROM result_problems") == 6
    open_ids = set(frame(world, "SELECT request_id FROM query_requests WHERE status = 'sent'")["request_id"])
    assert set(base.loc[0:4, "request_id"]) == open_ids
    assert count(world, "SELECT count(*) FROM info_results WHERE request_id IN (SELECT unnest(?::VARCHAR[]))",
                 [list(open_ids)]) == 0

    # a later package answers the open ones; answers for closed requests are not_open
    fix = base.loc[0:5].copy()
    path2 = write_answer(world, tmp_path / "b.wbpkg", [("answer2.txt", info_answer_bytes(fix))], rows=len(fix))
    later = results.import_info_results(_operator(world), path2)
    assert later.stored == 5 and later.not_open == 1 and later.batches_closed == [result.extra["batch_id"]]


def _refused(world: StaffedWorkspace, path: Path) -> InvalidInput:
    before = count(world, "SELECT count(*) FROM media_ledger")
    with pytest.raises(InvalidInput) as exc:
        results.import_info_results(_operator(world), path)
    assert count(world, "SELECT count(*) FROM info_results") == 0
    assert count(world, "SELECT count(*) FROM query_requests WHERE status <> 'sent'") == 0
    assert count(world, "SELECT count(*) FROM media_ledger") == before      # rolled back with the rest
    assert exc.value.message_ja and exc.value.message_en
    return exc.value


def test_malformed_packages_are_refused_whole_with_line_numbers(office: Office, world: StaffedWorkspace, tmp_path: Path) -> None:
    result, reqs = send_batch(world, "info", information="local_tax")
    base = _base_answers(world, office, result)
    good = info_answer_bytes(base)
    lines = good.split(b"\r\n")

    bad = base.copy()
    bad.loc[2, "status"] = "77"
    bad.loc[4, "taxable_income"] = "12x4"
    bad.loc[5, "answered_at"] = "20261399000000"
    err = _refused(world, write_answer(world, tmp_path / "1.wbpkg", [("ok.txt", good), ("bad.txt", info_answer_bytes(bad))]))
    assert err.details["reason"] == "invalid_answers" and err.details["line"] == 3
    assert err.details["counts"] == {"bad_answered_at": 1, "bad_status": 1, "bad_value": 1}
    assert [(e["member"], e["line"]) for e in err.details["errors"]] == [("bad.txt", 3), ("bad.txt", 5), ("bad.txt", 6)]

    short = b"\r\n".join([*lines[:3], lines[3][:-5], *lines[4:]])         # wrong record length on line 4
    err = _refused(world, write_answer(world, tmp_path / "2.wbpkg", [("short.txt", short)]))
    assert err.details["reason"] == "bad_record" and err.details["line"] == 4 and err.details["member"] == "short.txt"
    assert "short.txt" in err.message_en

    cut = good[: len(good) - 40]                                            # file cut short
    err = _refused(world, write_answer(world, tmp_path / "3.wbpkg", [("cut.txt", cut)]))
    assert err.details["reason"] == "no_crlf" and err.details["line"] == len(base)

    assert len(ANSWER_LAYOUT.names) == 14
    err = _refused(world, write_answer(world, tmp_path / "4.wbpkg", [("empty.txt", b"")]))
    assert err.details["reason"] == "empty_package"  # the same refusal for every kind of incoming file (issue 24)

    # nothing was half-imported: the good package still imports completely
    ok = results.import_info_results(_operator(world), write_answer(world, tmp_path / "5.wbpkg", [("ok.txt", good)]))
    assert ok.stored == len(reqs) and ok.batches_closed


def test_packages_from_elsewhere_are_refused(office: Office, world: StaffedWorkspace, tmp_path: Path,
                                             make_world: MakeWorld) -> None:
    result, _ = send_batch(world, "info", information="local_tax")
    body = info_answer_bytes(_base_answers(world, office, result))
    # made with this workspace's key but for another workspace
    other_id = write_answer(world, tmp_path / "o.wbpkg", [("a.txt", body)], workspace_id="0" * 32)
    with pytest.raises(PackageError) as exc:
        results.import_info_results(_operator(world), other_id)
    assert exc.value.details["reason"] == "other_workspace"
    # made by another workspace's linkage server (its key)
    other = make_world("other")
    foreign = write_answer(other, tmp_path / "f.wbpkg", [("a.txt", body)])
    with pytest.raises(PackageError):
        results.import_info_results(_operator(world), foreign)
    # a Juki-net package given to the information importer, and the reverse
    juki_pkg = write_answer(world, tmp_path / "j.wbpkg", [("a.csv", b"x")], kind="juki")
    with pytest.raises(PackageError):
        results.import_info_results(_operator(world), juki_pkg)
    info_pkg = write_answer(world, tmp_path / "i.wbpkg", [("a.txt", body)])
    with pytest.raises(PackageError):
        results.import_juki_results(_operator(world), info_pkg)
    # a truncated package file
    data = info_pkg.read_bytes()
    cut = tmp_path / "cut.wbpkg"
    cut.write_bytes(data[: len(data) - 50])
    with pytest.raises(PackageError):
        results.import_info_results(_operator(world), cut)
    assert count(world, "SELECT count(*) FROM info_results") == 0
    with pytest.raises(PermissionDenied):
        results.import_info_results(world.login("reviewer"), info_pkg)


def test_juki_import_duplicates_errors_and_malformed(office: Office, world: StaffedWorkspace, tmp_path: Path) -> None:
    result, reqs = send_batch(world, "juki")
    paths = juki.answer_package(world.ws, result.path, office.pop, tmp_path, seed=4, not_found=0.1, error=0.1,
                                late=0.1, duplicate=0.03)
    first = results.import_juki_results(_operator(world), paths[0])
    assert first.duplicates_identical == round(0.03 * len(reqs)) and first.unanswered > 0
    assert set(first.by_status) == {"00", "10", "90"} and first.errors == first.by_status["90"]
    assert first.discrepancies == {}                                        # the same world: nothing differs
    # an upload: the package's bytes, no temporary file; recorded in the ledger under its file name
    second = results.import_juki_results(_operator(world), paths[1].read_bytes(), file_name=paths[1].name)
    assert second.unanswered == 0 and second.batches_closed == [result.extra["batch_id"]]
    assert paths[1].name in [e.file_name for e in media.ledger(world.login("auditor")) if e.direction == "in"]
    stored = frame(world, "SELECT j.person_id, j.name, j.deceased FROM juki_results j WHERE result_code = '00'")
    held = office.pop.persons.set_index("person_id")["name"]
    assert all(held[p] == nm for p, nm in zip(stored["person_id"], stored["name"], strict=True))

    # a found answer without a name, a bad sex code, a bad date: refused whole with lines
    result2, reqs2 = send_batch(world, "juki")
    answers = pd.DataFrame({"request_id": reqs2["request_id"].head(4), "result_code": "00", "name": "山田　花子",
                            "kana": "ヤマダ　ハナコ", "sex": "2", "birth_date": "1980-01-02", "address": "東京都",
                            "deceased": "0"})
    answers.loc[1, "name"] = ""
    answers.loc[2, "sex"] = "x"
    answers.loc[3, "birth_date"] = "1980-02-30"
    path = write_answer(world, tmp_path / "bad.wbpkg", [("bad.csv", juki_answer_bytes(answers))], kind="juki")
    with pytest.raises(InvalidInput) as exc:
        results.import_juki_results(_operator(world), path)
    assert [e["line"] for e in exc.value.details["errors"]] == [3, 4, 5]     # header is line 1
    # a CSV cut inside a quoted value
    body = juki_answer_bytes(answers.head(1).assign(address='東京都, "A"'))
    path = write_answer(world, tmp_path / "cut.wbpkg", [("cut.csv", body[:-8])], kind="juki")
    with pytest.raises(InvalidInput) as exc:
        results.import_juki_results(_operator(world), path)
    assert exc.value.details["line"] == 2 and exc.value.details["member"] == "cut.csv"
    assert count(world, "SELECT count(*) FROM juki_results WHERE batch_id = ?", [result2.extra["batch_id"]]) == 0


def test_expiry_late_answers_after_deadline_and_purge(office: Office, world: StaffedWorkspace, tmp_path: Path,
                                                      make_world: MakeWorld) -> None:
    result, _reqs = send_batch(world, "info", information="local_tax")
    paths = intermediate_server.answer_package(world.ws, result.path, office.pop, tmp_path, seed=8, late=0.2)
    first = results.import_info_results(_operator(world), paths[0])
    waiting = first.unanswered
    assert waiting > 0
    # not yet past the deadline: nothing expires
    assert results.expire_requests(_operator(world)).expired == 0
    world.clock.advance(31 * 86400)
    expired = results.expire_requests(_operator(world))
    assert expired.expired == waiting and expired.by_batch == {result.extra["batch_id"]: waiting}
    assert expired.batches_closed == [result.extra["batch_id"]] and expired.older_than_days == 30
    assert count(world, "SELECT count(*) FROM query_requests WHERE status = 'expired'") == waiting
    with pytest.raises(InvalidInput):
        results.expire_requests(_operator(world), older_than_days=-1)
    # the late package after the deadline: not stored
    late = results.import_info_results(_operator(world), paths[1])
    assert late.stored == 0 and late.not_open == waiting

    # purge after the retention period (90 days after closing), recorded in the deletion log
    world.clock.advance(60 * 86400)
    assert results.purge_results(_operator(world)).deletion_id is None       # 60 days: too early
    world.clock.advance(31 * 86400)
    stored = count(world, "SELECT count(*) FROM info_results")
    purged = results.purge_results(_operator(world))
    assert purged.batch_ids == [result.extra["batch_id"]] and purged.counts["info_results"] == stored > 0
    assert purged.rebuild_needed and purged.method == "sql_delete" and "keys rotate" in purged.message_en
    assert count(world, "SELECT count(*) FROM info_results") == 0
    log = frame(world, "SELECT * FROM result_deletions")
    assert len(log) == 1 and json.loads(log["batch_ids"][0]) == purged.batch_ids
    assert json.loads(log["counts"][0])["info_results"] == stored and log["deleted_by"][0] == "query_operator"
    assert log["reason"][0] == "retention_expired" and bool(log["rebuild_needed"][0])
    assert count(world, "SELECT count(*) FROM query_batches WHERE status = 'purged'") == 1
    assert results.purge_results(_operator(world)).deletion_id is None       # nothing left
    with world.ws.transaction("t", "t") as con:
        params = json.loads(scalar(con, "SELECT params FROM audit_log WHERE operation = 'results.purge_results'"
                                        " AND outcome = 'ok' ORDER BY seq DESC LIMIT 1 OFFSET 1"))
    assert params["info_results"] == stored and params["retention_days"] == 90
    # Rotation rebuilds the file, which erases the deleted rows' bytes: recorded as such.
    from workbench.core import rotation

    assert rotation.rotate(world.login("operations")).deletions_erased == 1
    assert count(world, "SELECT count(*) FROM result_deletions WHERE rebuilt_at IS NOT NULL") == 1

    # the retention period is the workspace setting
    short = make_world("short", result_retention_days=1)
    assert short.ws.settings.result_retention_days == 1


def test_cli_import_expire_purge(office: Office, world: StaffedWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    from workbench import cli

    monkeypatch.setattr("workbench.cli._common.open_workspace", lambda args: world.ws)
    monkeypatch.setenv("WORKBENCH_PASSWORD", "Test-Pass-2026!")
    result, _ = send_batch(world, "info", information="local_tax")
    jresult, _ = send_batch(world, "juki")
    info = intermediate_server.answer_package(world.ws, result.path, office.pop, tmp_path / "i", seed=1)
    jk = juki.answer_package(world.ws, jresult.path, office.pop, tmp_path / "j", seed=1)

    def run(*argv: str, expect: int = 0) -> Any:
        world.clock.advance(30)
        monkeypatch.setenv("WORKBENCH_USER", "query_operator")
        monkeypatch.setenv("WORKBENCH_TOTP", world.code("query_operator"))
        code = cli.main(["-w", str(world.ws.path), *argv])
        out = capsys.readouterr()
        assert code == expect, out.err
        return json.loads(out.out) if expect == 0 else json.loads(out.err)

    preview = run("batch", "import-results", "--preview", str(info[0]))
    assert preview["kind"] == "info_answer" and preview["count"] > 0 and info[0].exists()  # nothing taken or stored
    first = run("batch", "import-results", str(info[0]))
    assert first["kind"] == "info" and first["stored"] == preview["changes"]["ok"]
    # the medium's copy is taken away once imported, and the ledger says when (C9, issue 22 item 3)
    assert not info[0].exists() and first["disposal"]["action"] == "moved"
    done = world.ws.path / first["disposal"]["moved_to"]
    assert done.is_file() and done.parent == world.ws.folder("incoming") / "done"
    assert run("batch", "import-results", str(jk[0]))["kind"] == "juki"
    assert run("batch", "import-results", "--keep", str(done))["already_imported"] is True
    assert done.is_file()
    assert run("batch", "import-results", str(result.path), expect=8)["reason"] == "wrong_kind"
    assert run("batch", "expire", "--days", "0")["expired"] == 0
    assert run("results", "purge")["deletion_id"] is None


def test_request_status_counts_by_group(office: Office, world: StaffedWorkspace, tmp_path: Path) -> None:
    op = _operator(world)
    assert results.request_status(op) == {"answered": 0, "pending": 0, "error": 0, "expired": 0}
    result, reqs = send_batch(world, "info")
    n = len(reqs)
    batch_id = result.extra["batch_id"]
    assert results.request_status(op) == {"answered": 0, "pending": n, "error": 0, "expired": 0}
    paths = intermediate_server.answer_package(world.ws, result.path, office.pop, tmp_path, seed=5, error=0.2, late=0.2)
    first = results.import_info_results(op, paths[0])
    counts = results.request_status(_operator(world), batch_id=batch_id)
    assert counts == {"answered": first.answered, "pending": first.unanswered, "error": first.errors, "expired": 0}
    assert sum(counts.values()) == n and counts["error"] > 0 and counts["pending"] > 0
    world.clock.advance(31 * 86400)
    results.expire_requests(_operator(world))
    later = results.request_status(_operator(world), batch_id=batch_id)
    assert later["pending"] == 0 and later["expired"] == first.unanswered and sum(later.values()) == n
    with pytest.raises(NotFound):
        results.request_status(_operator(world), batch_id="B-NONE")
    with pytest.raises(PermissionDenied):
        results.request_status(world.login("reviewer"))
    with world.ws.transaction("t", "t") as con:
        params = " ".join(r[0] for r in con.execute(
            "SELECT params FROM audit_log WHERE operation = 'results.request_status'").fetchall())
    assert not any(p in params for p in reqs["person_id"])
