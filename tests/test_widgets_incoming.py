"""The query screen imports answers (issue 20 item 2): the incoming-file component, without a browser.

The query screen showed 回答待ち but could not import answers.  Now an answer package (F4 or F5: the
file's kind chooses) is uploaded, previewed with what it would change, confirmed and imported; a damaged
file is refused in words; the import button works only for the file that was previewed.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import StaffedWorkspace
from tests.results_helpers import busy_office, count, send_batch
from tests.test_widgets import text, upload
from widgets.batches import BatchesApp
from widgets.incoming import IncomingFileFlow
from workbench.simulate import intermediate_server, juki


def test_the_query_screen_imports_answers_preview_confirm_result(world: StaffedWorkspace, tmp_path: Path) -> None:
    office = busy_office(world)
    result, reqs = send_batch(world, "info", information="local_tax")
    jresult, _ = send_batch(world, "juki")
    info = intermediate_server.answer_package(world.ws, result.path, office.pop, tmp_path / "i", seed=1)
    jk = juki.answer_package(world.ws, jresult.path, office.pop, tmp_path / "j", seed=1)
    app = BatchesApp(world.login("query_operator"))
    flow = app.answers
    assert isinstance(flow, IncomingFileFlow) and flow in app.answers_box.children
    assert flow.preview_button.disabled and flow.import_button.disabled

    # F4: preview says what it would change, nothing stored; import only after the tick
    upload(flow.upload, info[0].name, info[0].read_bytes())
    flow.preview_button.click()
    assert app.banner.kind != "error", app.banner.text
    shown = text(flow.view.value)
    assert "情報照会結果の取込" in shown and "取り込む回答" in shown and f"{len(reqs):,}" in shown
    assert count(world, "SELECT count(*) FROM info_results") == 0
    assert flow.import_button.disabled
    flow.import_button.click()  # disabled: nothing happens
    assert count(world, "SELECT count(*) FROM info_results") == 0
    flow.check.value = True
    flow.import_button.click()
    assert app.banner.kind == "success", app.banner.text
    assert count(world, "SELECT count(*) FROM info_results") == flow.model.result.stored > 0
    assert "取込結果" in text(flow.result_view.value) and flow.import_button.disabled

    # F5 in the same box: the file's kind chooses the importer
    upload(flow.upload, jk[0].name, jk[0].read_bytes())
    assert flow.model.preview is None and flow.result_view.value == ""  # another file: the old preview is gone
    flow.preview_button.click()
    assert "住基ネット照会結果の取込" in text(flow.view.value)
    flow.check.value = True
    flow.import_button.click()
    assert app.banner.kind == "success" and count(world, "SELECT count(*) FROM juki_results") > 0

    # the same file again: already imported, nothing to do
    upload(flow.upload, info[0].name, info[0].read_bytes())
    flow.preview_button.click()
    assert "取込済み" in text(flow.view.value) and flow.import_button.disabled

    # a damaged file: refused in words, nothing imported
    damaged = bytearray(info[0].read_bytes())
    damaged[len(damaged) // 2] ^= 1
    upload(flow.upload, "damaged.wbpkg", bytes(damaged))
    flow.preview_button.click()
    assert app.banner.kind == "error" and "改変または破損" in app.banner.text
    assert flow.model.preview is None and flow.import_button.disabled


def test_a_file_swapped_after_the_preview_is_refused_by_the_service(world: StaffedWorkspace, tmp_path: Path) -> None:
    office = busy_office(world)
    result, _ = send_batch(world, "info", information="local_tax")
    first = intermediate_server.answer_package(world.ws, result.path, office.pop, tmp_path / "a", seed=1)
    second = intermediate_server.answer_package(world.ws, result.path, office.pop, tmp_path / "b", seed=2)
    app = BatchesApp(world.login("query_operator"))
    flow = app.answers
    upload(flow.upload, first[0].name, first[0].read_bytes())
    flow.preview_button.click()
    flow.check.value = True
    flow.model.chosen = ("other.wbpkg", second[0].read_bytes())  # changed under the screen, past its checks
    flow.import_button.click()
    assert app.banner.kind == "error" and "確認した内容と異なる" in app.banner.text
    assert count(world, "SELECT count(*) FROM info_results") == 0


def test_the_answers_box_only_for_those_who_may_import(world: StaffedWorkspace) -> None:
    registrar = BatchesApp(world.login("registrar"))
    assert registrar.answers_box not in registrar.children
    operator = BatchesApp(world.login("query_operator"))
    assert operator.answers_box in operator.children


def test_answers_opened_from_the_inbox_say_what_was_handed_on(world: StaffedWorkspace, tmp_path: Path) -> None:
    """Issue 20's walk: the inbox's batch waiting for answers opens the query screen naming it; once the
    answers are in, the note says so (no stale 「回答待ち」) and names what went on to the reviewer."""
    from widgets.dashboard import Dashboard
    from widgets.home import HomeApp
    from workbench import pending
    from workbench.pending import Place

    office = busy_office(world)
    jresult, reqs = send_batch(world, "juki")
    batch_id = jresult.extra["batch_id"]
    later, _changes = office.pop.evolve(seed=3, move_rate=0.2, rename_rate=0.1, death_rate=0.1)
    (answer,) = juki.answer_package(world.ws, jresult.path, later, tmp_path, seed=3)
    gate = Dashboard(world.login("query_operator"), idle_check_seconds=None, live_seconds=None)
    home = gate.app
    assert isinstance(home, HomeApp) and home.inbox is not None
    (item,) = home.inbox.items_of("answers_waiting")
    assert item.place == Place("batches", "batch", batch_id)
    home.item_buttons[("answers_waiting", batch_id)].click()
    app = gate.app
    assert isinstance(app, BatchesApp)
    assert f"{batch_id} の回答待ち: {len(reqs):,} 件" in text(app.answers_note.value)

    flow = app.answers
    upload(flow.upload, answer.name, answer.read_bytes())
    flow.preview_button.click()
    flow.check.value = True
    flow.import_button.click()
    assert app.banner.kind == "success", app.banner.text
    found = flow.model.result.discrepancies
    assert sum(found.values()) > 0
    note = text(app.answers_note.value)
    assert "回答待ち" not in note and batch_id in note and "回答を取り込みました。回答はすべて揃いました" in note
    assert f"保有情報と異なる照会結果 {sum(found.values()):,} 件" in note and "番号相違の確認" in note
    assert "転居" in note and "moved" not in note.split("Batch")[0]  # words, not codes
    assert pending.inbox(world.login("query_operator")).items_of("answers_waiting") == []
    assert len(pending.inbox(world.login("reviewer")).items_of("discrepancies_open")) == min(10, sum(found.values()))
