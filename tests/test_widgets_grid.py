"""The data grid without a browser (issue 11 item 6): the review queue over more than 1,000
discrepancies (count and chart from the database, paging, sorting, filtering, the chosen row),
and a row that is a person opening that person's page through the dashboard."""

from __future__ import annotations

from tests.conftest import StaffedWorkspace
from tests.query_helpers import load_office
from tests.test_paging import DECEASED, MOVED, RENAMED, TOTAL, queue
from widgets.dashboard import Dashboard
from widgets.lifecycle import DisclosureApp, InquiryApp
from widgets.person import PersonApp
from widgets.review import ReviewApp
from workbench.core.paging import PageRequest
from workbench.lifecycle import disclosure
from workbench.queries import discrepancies

__all__ = ["queue"]  # the fixture, re-exported so pytest finds it here

OPEN = TOTAL - len(range(0, TOTAL, 10))


def _bars(svg: str) -> list[int]:
    import re

    return [int(n.replace(",", "")) for n in re.findall(r">([\d,]+)</text>", svg)]


def test_the_queue_pages_sorts_and_filters_in_the_database(queue: StaffedWorkspace) -> None:
    app = ReviewApp(queue.login("reviewer"))
    grid = app.disc_grid
    assert app.banner.kind != "error", app.banner.text
    # the count and the chart are of every open discrepancy (more than the old 1,000 cap), not of the page
    assert len(grid.rows) == 50 and f"1–50 / 全 {OPEN:,} 件" in grid.value
    assert f"{OPEN:,}" in app.disc_count.value and sum(_bars(app.disc_chart.value)) == OPEN
    assert "転居" in app.disc_chart.value and "氏名変更" in app.disc_chart.value and "死亡" in app.disc_chart.value
    assert "moved" not in grid.value and "open" not in grid.value  # words, not codes
    first_page = [d.discrepancy_id for d in grid.rows]
    grid.next_button.click()
    assert f"51–100 / 全 {OPEN:,} 件" in grid.value and not set(first_page) & {d.discrepancy_id for d in grid.rows}
    grid.previous_button.click()
    assert [d.discrepancy_id for d in grid.rows] == first_page and grid.previous_button.disabled
    # the last page
    grid.page_size.value = 200
    while not grid.next_button.disabled:
        grid.next_button.click()
    assert grid.model.page.last == OPEN and f"–{OPEN:,} / 全 {OPEN:,} 件" in grid.value
    # sorted by number, descending: the newest first; the filter text finds one
    grid.sort_field.value = "discrepancy_id"
    grid.sort_direction.value = True
    assert grid.rows[0].discrepancy_id == f"D{TOTAL - 1:07d}" and grid.model.offset == 0
    grid.filter_text.value = "D0000077"
    assert [d.discrepancy_id for d in grid.rows] == ["D0000077"] and "1–1 / 全 1 件" in grid.value
    grid.filter_text.value = ""
    # the kind filter: every count follows the selection
    app.status_filter.value = ""
    app.kind_filter.value = "renamed"
    assert grid.model.page.total == RENAMED and sum(_bars(app.disc_chart.value)) == RENAMED
    app.kind_filter.value = ""
    assert grid.model.page.total == TOTAL
    assert grid.model.page.groups["kind"] == {"moved": MOVED, "renamed": RENAMED, "deceased": DECEASED}


def test_a_chosen_row_stays_chosen_until_it_leaves_the_list(queue: StaffedWorkspace) -> None:
    app = ReviewApp(queue.login("reviewer"))
    grid = app.disc_grid
    assert app.notified_button.disabled and grid.model.selected == ""
    grid.table.selected_rows = [2]  # the reviewer clicks the third row
    chosen = grid.rows[2].discrepancy_id
    assert grid.model.selected == chosen and chosen in app.disc_current.value and not app.notified_button.disabled
    grid.refresh()  # a refresh keeps it
    assert grid.model.selected == chosen and grid.table.selected_rows == [2]
    grid.next_button.click()  # not on this page: nothing else is chosen in its place
    assert grid.model.selected == "" and grid.table.selected_rows == [] and app.notified_button.disabled
    grid.previous_button.click()
    assert grid.model.selected == ""
    grid.select(chosen)
    app.notified_button.click()
    assert app.disc_result.kind == "success", app.disc_result.text
    # it left the open list; no other row was chosen for the reviewer
    assert grid.model.selected == "" and app.notified_button.disabled
    assert discrepancies.discrepancy_page(queue.login("reviewer"), PageRequest(text=chosen)).rows[0].status == "person_notified"


def test_a_row_that_is_a_person_opens_that_persons_page(world: StaffedWorkspace) -> None:
    office = load_office(world)
    pid = str(office.pop.persons["person_id"].iloc[3])
    disclosure.suspend(world.login("reviewer"), pid, reason="本人からの利用停止請求")

    gate = Dashboard(world.login("reviewer"), idle_check_seconds=None)
    app = gate.open_app("disclosure")
    assert isinstance(app, DisclosureApp)
    grid = app.suspensions_html
    assert "全 1 件" in grid.value and pid in grid.value and "reviewer" in grid.value  # who, and when
    assert grid.person_button.disabled
    grid.table.selected_rows = [0]  # the clerk clicks the row
    assert app.person_id.value == pid and not grid.person_button.disabled
    grid.person_button.click()
    person = gate.app
    assert isinstance(person, PersonApp) and person.model.person is not None and person.model.person.person_id == pid
    assert gate.model.current_app == "person" and gate.menu_buttons["person"].button_style == "info"

    # the inquiry log: a row names its person
    inq = gate.open_app("inquiry")
    assert isinstance(inq, InquiryApp)
    inq.person.value = pid
    inq.question.value = "利用停止について"
    inq.record_button.click()
    assert inq.banner.kind == "success", inq.banner.text
    inq.results.select(inq.inquiry_id.value)
    inq.results.person_button.click()
    assert isinstance(gate.app, PersonApp) and gate.app.model.person.person_id == pid


def test_without_persons_view_no_person_page_opens(world: StaffedWorkspace) -> None:
    office = load_office(world)
    pid = str(office.pop.persons["person_id"].iloc[0])
    gate = Dashboard(world.login("auditor"), idle_check_seconds=None)
    assert gate.open_person(pid) is None and not isinstance(gate.app, PersonApp)


def test_key_columns_stay_in_view_and_the_chosen_row_is_shown_whole() -> None:
    """Issue 20 item 8: a minor column is left out below 1,280 px unless all columns are asked for, and the
    chosen row is shown whole (every column with its header) in the detail pane below the table."""
    from widgets.grid import GridColumn, RecordGrid
    from workbench.core.paging import Page

    rows = [{"id": f"R{i}", "name": f"名前{i}", "memo": f"メモ{i}"} for i in range(3)]

    def fetch(request: PageRequest) -> Page[dict[str, str]]:
        return Page(rows=rows, total=len(rows), offset=0, limit=request.limit, sort="", descending=False)

    grid = RecordGrid(fetch=fetch, key=lambda r: r["id"], sorts=[], columns=[
        GridColumn("番号", lambda r: r["id"]), GridColumn("氏名", lambda r: r["name"]),
        GridColumn("メモ", lambda r: r["memo"], minor=True)])
    assert grid.all_columns.layout.display == "flex"  # offered: one column is minor
    assert "@media (max-width:1279px)" in grid.children[0].value and "wb-minor" in grid.children[0].value
    assert grid.detail.value == ""
    grid.select("R1")
    assert "メモ1" in grid.detail.value and "<dt>メモ</dt>" in grid.detail.value
    grid.all_columns.value = True
    assert "wb-all" in grid.table_box._dom_classes
    grid.all_columns.value = False
    assert "wb-all" not in grid.table_box._dom_classes
    grid.select("")
    assert grid.detail.value == ""
