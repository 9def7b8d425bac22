"""F7/C8 bulk deletion and the purge that leaves no byte behind (issue 12 items 1, 2; Done when)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MakeWorld, StaffedWorkspace, run_benchmark
from tests.lifecycle_helpers import delete_people, deletion_csv, office_with_results, victim_households
from tests.query_helpers import approve
from tests.results_helpers import count
from workbench.controls import audit_log
from workbench.core.errors import ApprovalError, InvalidInput, NotFound, PermissionDenied, StoreError
from workbench.core.store import MIGRATIONS
from workbench.files import formats, media
from workbench.lifecycle import deletion


def _all_bytes(root: Path) -> list[tuple[Path, bytes]]:
    return [(p, p.read_bytes()) for p in sorted(root.rglob("*")) if p.is_file()]


def _found(files: list[tuple[Path, bytes]], needles: set[str]) -> set[str]:
    hits = set()
    for needle in needles:
        b = needle.encode("utf-8")
        if any(b in data for _, data in files):
            hits.add(needle)
    return hits


@pytest.fixture
def plain_world(make_world: MakeWorld, monkeypatch: pytest.MonkeyPatch) -> StaffedWorkspace:
    monkeypatch.setenv("WORKBENCH_TEST_PLAINTEXT_DB", "1")
    return make_world("plain", test_plaintext_database=True)


def test_delete_and_purge_leaves_no_trace_in_any_file(plain_world: StaffedWorkspace, tmp_path: Path) -> None:
    world = plain_world
    office, later = office_with_results(world, tmp_path)
    victims = victim_households(world, 3)
    assert len(victims) >= 3
    pop = office.pop.persons.set_index("person_id")
    now = later.persons.set_index("person_id")
    others = [p for p in pop.index if p not in set(victims)]

    def strings(ids: list[str], *frames: Any) -> set[str]:
        out: set[str] = set()
        for f in frames:
            sub = f.loc[[i for i in ids if i in f.index]]
            for col in ("name", "kana", "address"):
                out |= set(sub[col].astype(str))
        return out

    theirs = strings(victims, pop, now) - strings(others, pop, now)
    numbers = set(pop.loc[victims, "individual_number"].astype(str))
    ws_root = world.ws.path
    with world.ws.transaction("test.read", "system") as con:  # their ciphertexts and blind indexes, as stored
        stored = [bytes(b) for row in con.execute(
            "SELECT number_ct, number_index FROM person_numbers WHERE person_id IN (SELECT unnest(?::VARCHAR[]))",
            [victims]).fetchall() for b in row]
    files = _all_bytes(ws_root)
    before = _found(files, theirs)
    assert before, "the test-only plaintext database must show names and addresses, or the search means nothing"
    assert all(any(b in data for _, data in files) for b in stored), "stored number bytes must be findable before"
    assert _found(files, set(victims)), "internal person numbers must be findable before"

    # others' data and counts before
    others_numbers = count(world, "SELECT count(*) FROM person_numbers WHERE person_id NOT IN (SELECT unnest(?::VARCHAR[]))", [victims])
    others_results = count(world, "SELECT count(*) FROM juki_results WHERE person_id NOT IN (SELECT unnest(?::VARCHAR[]))", [victims])

    # apply as registrar (scheduled purge), then operations purges
    record = delete_people(world, victims, "moved_out")
    assert record.persons == len(victims) and record.purge_mode == "scheduled" and record.erased_at is None
    assert record.requested_by == "registrar" and record.approved_by == "approver"
    assert record.counts["person_numbers"] == len(victims) and record.counts["juki_results"] > 0
    assert record.counts["discrepancies"] > 0 and record.counts["households"] == 3
    assert record.copies_marked >= 1
    text = json.dumps(record.to_dict(), ensure_ascii=False)
    assert not any(v in text for v in victims) and not any(s in text for s in theirs)

    purged = deletion.purge(world.login("operations"))
    assert purged["deletions_erased"] == 1
    rec = deletion.deletion_records(world.login("registrar"))[0]
    assert rec.erased_at is not None

    files = _all_bytes(ws_root)
    assert not _found(files, theirs), "a deleted person's name or address is still in a workspace file"
    assert not _found(files, numbers)
    assert not any(b in data for _, data in files for b in stored), "a deleted number's ciphertext or blind index remains"
    assert not _found(files, set(victims)), "a deleted person's internal number remains in a file"
    for table, _ in deletion.DERIVED:
        col = "person_id" if table not in ("linkage_export_members", "result_problems") else None
        if col:
            assert count(world, f"SELECT count(*) FROM {table} WHERE person_id IN (SELECT unnest(?::VARCHAR[]))", [victims]) == 0
    # everyone else intact
    assert count(world, "SELECT count(*) FROM person_numbers") == others_numbers
    assert count(world, "SELECT count(*) FROM juki_results") == others_results
    assert _found(files, strings(others[:20], pop) - theirs)
    # the audit chain verifies, and the transfer copies are marked
    assert audit_log.verify(world.login("auditor")).ok
    assert count(world, "SELECT count(*) FROM media_destructions") == record.copies_marked
    marks = deletion.destruction_marks(world.login("registrar"), pending_only=False)
    assert len(marks) == record.copies_marked and all(m["destroyed_at"] for m in marks)  # local copies: gone now


def test_every_person_table_is_covered_by_the_deletion() -> None:
    import re

    sql = "\n".join(s for _, _, s in MIGRATIONS)
    tables = re.findall(r"CREATE TABLE (\w+) \((.*?)\n\);", sql, re.S)
    covered = {t for t, _ in deletion.DERIVED} | {"inquiries", "housing_procedures", "households"}
    for name, body in tables:
        if re.search(r"^\s+(person_id|applicant_id)\s", body, re.M) or name in ("linkage_export_members", "result_problems"):
            assert name in covered, f"{name} holds people but the deletion does not cover it"


def test_refusals_change_nothing(make_world: MakeWorld, tmp_path: Path) -> None:
    world = make_world()
    office_with_results(world, tmp_path)
    victims = victim_households(world, 2)
    assert len(victims) >= 2
    registrar = world.login("registrar")
    held = count(world, "SELECT count(*) FROM persons")
    # unknown person, bad reason, wrong layout: refused whole, with line numbers
    with pytest.raises(InvalidInput) as bad:
        deletion.import_deletion_list(registrar, deletion_csv([(victims[0], "moved_out"), ("NOPE999", "withdrew")]),
                                      file_name="x.csv")
    assert bad.value.details["line"] == 3 and "3" in bad.value.message_ja
    with pytest.raises(InvalidInput):
        deletion.import_deletion_list(registrar, deletion_csv([(victims[0], "bored")]), file_name="x.csv")
    with pytest.raises(InvalidInput):
        deletion.import_deletion_list(registrar, b"a,b\n1,2\n", file_name="x.csv")
    assert count(world, "SELECT count(*) FROM deletion_lists") == 0
    # the requester cannot approve; a different list cannot use the approval; a changed selection is refused
    world.add_user("both", ["registrar"])
    with world.ws.transaction("test.roles", "test") as con:  # an account from before incompatible pairs were refused
        con.execute("UPDATE users SET roles = ['registrar', 'approver'] WHERE user_id = 'both'")
    p1 = deletion.import_deletion_list(registrar, deletion_csv([(v, "withdrew") for v in victims]), file_name="a.csv")
    req = deletion.request_deletion(world.login("both"), p1.list_id)
    assert req.approval is not None
    from workbench.core import approvals

    def _seen(list_id: str) -> str:  # what the registrar sees in the preview now (issue 20 item 7)
        return deletion.preview_deletion(world.login("registrar"), list_id).selection_digest

    with pytest.raises(ApprovalError) as own:
        approvals.decide(world.login("both"), req.approval.approval_id, approve=True)
    assert own.value.details["reason"] == "self_approval"
    with pytest.raises(ApprovalError):  # not yet approved
        deletion.apply_deletion(world.login("registrar"), p1.list_id, expected_digest=_seen(p1.list_id), approval_id=req.approval.approval_id)
    approve(world, req.approval)
    p2 = deletion.select_for_deletion(world.login("registrar"), person_ids=victims[:1], reason="withdrew")
    with pytest.raises(ApprovalError):
        deletion.apply_deletion(world.login("registrar"), p2.list_id, expected_digest=_seen(p2.list_id), approval_id=req.approval.approval_id)
    # someone on list 1 is deleted through list 2 first: list 1's selection changed
    req2 = deletion.request_deletion(world.login("registrar"), p2.list_id)
    assert req2.approval is not None
    approve(world, req2.approval)
    deletion.apply_deletion(world.login("registrar"), p2.list_id, expected_digest=_seen(p2.list_id),
                            approval_id=req2.approval.approval_id, discard_files=[f["entry_id"] for f in req2.pending_files])
    with pytest.raises(ApprovalError) as changed:
        deletion.apply_deletion(world.login("registrar"), p1.list_id, expected_digest=_seen(p1.list_id), approval_id=req.approval.approval_id)
    assert changed.value.details["reason"] == "params_mismatch"
    assert count(world, "SELECT count(*) FROM persons") == held - 1
    # an expired approval
    req3 = deletion.request_deletion(world.login("registrar"), p1.list_id)
    assert req3.approval is not None
    approve(world, req3.approval)
    world.clock.advance(4 * 24 * 3600)
    with pytest.raises(ApprovalError) as expired:
        deletion.apply_deletion(world.login("registrar"), p1.list_id, expected_digest=_seen(p1.list_id),
                                approval_id=req3.approval.approval_id)
    assert expired.value.details["reason"] == "expired"
    assert count(world, "SELECT count(*) FROM persons") == held - 1
    # immediate purge without keys.manage is refused before anything is deleted
    req4 = deletion.request_deletion(world.login("registrar"), p1.list_id)
    assert req4.approval is not None
    approve(world, req4.approval)
    with pytest.raises(PermissionDenied):
        deletion.apply_and_purge(world.login("registrar"), p1.list_id, expected_digest=_seen(p1.list_id),
                                 approval_id=req4.approval.approval_id,
                                 purge="now")
    assert count(world, "SELECT count(*) FROM persons") == held - 1
    # no one without the permission gets in
    for role in ("query_operator", "reviewer", "auditor", "operations", "analyst"):
        with pytest.raises(PermissionDenied):
            deletion.preview_deletion(world.login(role), p1.list_id)


def test_a_deletion_names_the_unsent_files_it_would_destroy_and_waits(make_world: MakeWorld, tmp_path: Path) -> None:
    """Issue 22 item 5: deleting 4 people destroyed undelivered files covering 1,136 and 183 others, unannounced."""
    world = make_world()
    office_with_results(world, tmp_path)
    victims = victim_households(world, 1)
    registrar = world.login("registrar")
    preview = deletion.import_deletion_list(registrar, deletion_csv([(p, "moved_out") for p in victims]), file_name="d.csv")
    # The preview names every file not yet handed over that holds them, and how many others it holds.
    assert preview.pending_files, "the Juki-net batch is still waiting in outgoing/"
    for f in preview.pending_files:
        assert 0 < f["persons_deleted"] <= len(victims) < f["records"]
    assert "受け渡し前の送付ファイル" in preview.message_ja and "not yet handed over" in preview.message_en
    files = {f["entry_id"]: world.ws.folder("outgoing") / f["file_name"] for f in preview.pending_files}
    assert all(p.exists() for p in files.values())
    requested = deletion.request_deletion(world.login("registrar"), preview.list_id)
    assert requested.approval is not None
    approve(world, requested.approval)
    held = count(world, "SELECT count(*) FROM persons")
    # Not named, or only some named: the deletion waits; nothing is deleted and the approval is not used up.
    for named in ([], list(files)[:-1] if len(files) > 1 else ["M00000000000"]):
        with pytest.raises(InvalidInput) as refused:
            deletion.apply_deletion(world.login("registrar"), preview.list_id, expected_digest=preview.selection_digest,
                                    approval_id=requested.approval.approval_id, discard_files=named)
        assert refused.value.reason == "pending_files"
        assert all(e in refused.value.message_ja for e in files)
        assert count(world, "SELECT count(*) FROM persons") == held and all(p.exists() for p in files.values())
    # Named as the preview showed them (in any case): deleted, the files destroyed and recorded as such.
    record = deletion.apply_deletion(world.login("registrar"), preview.list_id, approval_id=requested.approval.approval_id,
                                     discard_files=[e.lower() for e in files], expected_digest=preview.selection_digest)
    assert record.persons == len(victims) and record.copies_marked >= len(files)
    assert not any(p.exists() for p in files.values())
    destroyed = count(world, "SELECT count(*) FROM media_destructions WHERE destroyed_at IS NOT NULL AND entry_id IN"
                             f" ({', '.join(repr(e) for e in files)})")
    assert destroyed == len(files)


def test_immediate_purge_and_deceased_selection(make_world: MakeWorld, tmp_path: Path) -> None:
    world = make_world()
    office_with_results(world, tmp_path)
    victims = victim_households(world, 1)
    # the query package was handed over before the deletion: the recipient must destroy its copy
    for entry in media.ledger(world.login("auditor")):
        if entry.direction == "out" and entry.deleted_at is None:
            media.mark_delivered(world.login("query_operator"), entry.entry_id)
    # separation of duties: the registrar deletes, operations (who holds the keys) erases the bytes at once
    applied = delete_people(world, victims, "failed_screening", purge="scheduled")
    assert applied.erased_at is None
    deletion.purge(world.login("operations"))
    record = next(r for r in deletion.deletion_records(world.login("registrar")) if r.deletion_id == applied.deletion_id)
    assert record.erased_at is not None
    waiting = deletion.destruction_marks(world.login("registrar"))
    assert waiting and all(m["destroyed_at"] is None for m in waiting)
    deletion.confirm_destroyed(world.login("registrar"), waiting[0]["entry_id"])
    assert len(deletion.destruction_marks(world.login("registrar"))) == len(waiting) - 1
    with pytest.raises(NotFound):
        deletion.confirm_destroyed(world.login("registrar"), waiting[0]["entry_id"])
    with pytest.raises(InvalidInput):
        deletion.select_for_deletion(world.login("registrar"), reason="deceased", deceased=True)  # no one marked yet


def test_plaintext_switch_is_refused_outside_tests(make_world: MakeWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_TEST_PLAINTEXT_DB", "1")
    world = make_world("p2", test_plaintext_database=True)
    monkeypatch.delenv("WORKBENCH_TEST_PLAINTEXT_DB")
    from workbench import Workspace

    with pytest.raises(StoreError):
        Workspace.open(world.ws.path)
    monkeypatch.setenv("WORKBENCH_TEST_PLAINTEXT_DB", "1")
    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    with pytest.raises(StoreError):
        Workspace.open(world.ws.path)
    assert formats.LAYOUTS["deletion_list"].version == 1


def test_benchmark_script_runs_small(tmp_path: Path) -> None:
    steps = run_benchmark(tmp_path, "bench_lifecycle", "--persons", "300", "--delete", "0.2")
    assert [s["step"] for s in steps] == ["select+preview", "request", "apply", "purge", "backup", "restore"]
    # built once and kept, then started again from the copy; the purge through a data server, a reader beside it
    for _ in range(2):
        steps = run_benchmark(tmp_path, "bench_lifecycle", "--persons", "300", "--delete", "0.2", "--server",
                              "--keep", str(tmp_path / "kept"))
        assert [s["step"] for s in steps] == ["select+preview", "request", "apply", "purge", "backup", "restore"]
