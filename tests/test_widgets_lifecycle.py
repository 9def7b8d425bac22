"""The issue 12 screens without a browser: deletion, disclosure, inquiries, backup and retention."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import MakeWorld
from tests.lifecycle_helpers import deletion_csv, office_with_results, victim_households
from tests.query_helpers import approve
from tests.results_helpers import count
from tests.test_widgets import text, upload
from widgets.lifecycle import BackupApp, DeletionApp, DisclosureApp, InquiryApp
from workbench.core import approvals


def test_deletion_screen_from_list_to_record(make_world: MakeWorld, tmp_path: Path) -> None:
    world = make_world()
    office_with_results(world, tmp_path)
    victims = victim_households(world, 1)
    app = DeletionApp(world.login("registrar"))
    upload(app.upload, "sakujo.csv", deletion_csv([(v, "moved_out") for v in victims]))
    app.import_button.click()
    assert app.banner.kind == "success", app.banner.text
    assert "退去" in text(app.preview_html.value) and "個人番号" in text(app.preview_html.value)
    assert all(v in app.people_grid.value for v in victims)  # who: internal numbers and reasons only
    assert f"全 {len(victims)} 件" in app.people_grid.value and "退去" in app.people_grid.value
    with world.ws.transaction("t", "t") as con:
        names = [r[0] for r in con.execute("SELECT name FROM persons WHERE person_id IN (SELECT unnest(?::VARCHAR[]))",
                                           [victims]).fetchall()]
    assert not any(n in app.preview_html.value + app.people_grid.value for n in names)
    # the list's file is in the media ledger; its copy on the medium is deleted and that recorded (issue 22 item 3)
    (medium,) = app.list_medium.children
    medium.check.value = True
    medium.button.click()
    assert medium.done, app.banner.text
    assert count(world, "SELECT count(*) FROM media_ledger WHERE kind = 'deletion_list' AND direction = 'in'"
                        " AND record_count = ? AND deleted_at IS NOT NULL", [len(victims)]) == 1
    app.request_button.click()
    approval_id = app.approval_id.value
    assert approval_id.startswith("A")
    approve(world, approvals.get(world.login("registrar"), approval_id))
    assert app.apply_button.disabled
    app.confirm.value = True
    app.apply_button.click()
    assert app.banner.kind == "success", app.banner.text
    assert count(world, "SELECT count(*) FROM persons WHERE person_id IN (SELECT unnest(?::VARCHAR[]))", [victims]) == 0
    assert "未消去" in text(app.records_html.value)
    # a wrong list: refused in Japanese and English, nothing changed
    upload(app.upload, "bad.csv", deletion_csv([("NOBODY", "moved_out")]))
    app.import_button.click()
    assert app.banner.kind == "error" and "行目" in app.banner.text and "line" in app.banner.text
    # the operations screen purges it
    ops = BackupApp(world.login("operations"))
    assert ops.purge_button.disabled and "取り消せません" in ops.purge_confirm.description
    ops.purge_confirm.value = True
    ops.purge_button.click()
    assert ops.banner.kind == "success", ops.banner.text
    app.refresh()
    assert "未消去" not in text(app.records_html.value)


def test_disclosure_inquiry_and_backup_screens(make_world: MakeWorld, tmp_path: Path) -> None:
    world = make_world()
    office_with_results(world, tmp_path)
    pid = victim_households(world, 1)[0]
    app = DisclosureApp(world.login("reviewer"))
    app.person_id.value = pid
    app.disclose_button.click()
    assert app.banner.kind == "success" and "<iframe" in app.document.value and "開示" in app.document.value
    app.field.value = "address"
    app.new_value.value = "東京都新宿区西新宿二丁目8番1号"
    app.reason.value = "本人からの訂正請求"
    app.correct_button.click()
    assert app.banner.kind == "success", app.banner.text
    app.suspend_button.click()
    assert app.banner.kind == "success" and "1" in text(app.suspensions_html.value)
    app.field.value = "sex"
    app.new_value.value = "X"
    app.correct_button.click()
    assert app.banner.kind == "error"

    inq = InquiryApp(world.login("reviewer"))
    inq.question.value = "利用停止の手続を知りたい"
    inq.person.value = pid
    inq.record_button.click()
    assert inq.banner.kind == "success" and inq.inquiry_id.value.startswith("Q")
    inq.response.value = "手続を説明した"
    inq.close_button.click()
    assert inq.banner.kind == "success"
    inq.monthly_button.click()
    assert "2026-06" in text(inq.monthly_html.value)
    inq.question.value = ""
    inq.record_button.click()
    assert inq.banner.kind == "error"

    ops = BackupApp(world.login("operations"))
    # no place configured: said in words beside the button, nothing to click (issue 20 item 10)
    assert ops.backup_button.disabled and ops.backup_result.kind == "info" and "backup_places" in ops.backup_result.text
    settings = world.ws.settings
    settings.exchange_folders = [str(tmp_path / "bk"), str(tmp_path / "keys")]
    settings.backup_places = {"別ディスク": str(tmp_path / "bk"), "外": str(tmp_path / "elsewhere")}
    settings.keyring_copy_places = {"金庫": str(tmp_path / "keys")}
    ops.load_places()
    assert ops.place.options == ((f"別ディスク（{tmp_path / 'bk'}）", "別ディスク"),)  # the one outside is not offered
    assert "「外」は使えません" in ops.places_html.value and ops.keyring_place.value == "金庫"
    ops.backup_button.click()
    assert ops.backup_result.kind == "success", ops.backup_result.text
    assert ops.banner.kind == ""  # the result is beside the button
    made = sorted(p.name for p in (tmp_path / "bk").iterdir())
    assert len(made) == 1 and made[0].startswith("backup-") and made[0].endswith(".wbbak") and made[0] in ops.backup_result.text
    assert len(list((tmp_path / "keys").iterdir())) == 1
    ops.backup_button.click()  # again at once: a new name, never "already exists"
    assert ops.backup_result.kind == "success", ops.backup_result.text
    assert len(list((tmp_path / "bk").iterdir())) == 2
    ops.report_button.click()
    assert "操作ログ" in text(ops.retention_html.value) and "2,555" in text(ops.retention_html.value)
    # a registrar sees none of the operations functions; a reviewer's disclosure screen refuses an analyst
    assert BackupApp(world.login("registrar")).children[3:] == ()
    refused = DisclosureApp(world.login("analyst"))
    assert refused.banner.kind == "error"


def test_id_review_and_death_confirmation_screens(make_world: MakeWorld, tmp_path: Path) -> None:
    from widgets.lifecycle import IdReviewApp
    from widgets.review import ReviewApp

    world = make_world()
    office_with_results(world, tmp_path)
    app = IdReviewApp(world.login("administrator"))
    app.start_button.click()
    assert app.banner.kind == "success" and app.review_id.value.startswith("IR")
    app.user_ids.value = "analyst"
    app.reason.value = "異動"
    app.disable_button.click()
    assert app.banner.kind == "success", app.banner.text
    app.request_button.click()
    approve(world, approvals.get(world.login("administrator"), app.approval_id.value))
    app.signoff_button.click()
    assert app.banner.kind == "success" and "記録済み" in text(app.history.value)

    review = ReviewApp(world.login("reviewer"))
    review.kind_filter.value = "deceased"
    review.disc_refresh_button.click()
    dead = [d for d in review.model.discrepancies if d.kind == "deceased"]
    assert dead
    review.disc_grid.select(dead[0].discrepancy_id)
    assert review.deceased_button.disabled and not review.deceased_confirm.disabled  # the consequence first
    assert "取り消せません" in review.deceased_confirm.description
    review.deceased_confirm.value = True
    assert not review.deceased_button.disabled
    review.deceased_button.click()
    assert review.banner.kind == "success", review.banner.text
    assert count(world, "SELECT count(*) FROM persons WHERE deceased AND person_id = ?", [dead[0].person_id]) == 1
