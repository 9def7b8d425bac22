"""Admin and operations in the office's terms (issue 20 item 10): the hours' services refuse garbage and
people without the right; backups go to configured places by name; the keys screen shows the keys and
rotates and repairs them after a confirmation."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.conftest import StaffedWorkspace
from workbench.controls import access
from workbench.core import keyring_admin, rotation
from workbench.core.access_rules import check_hours, window_from
from workbench.core.errors import InvalidInput, PermissionDenied
from workbench.lifecycle import backup


@pytest.mark.parametrize("garbage", [
    {}, {7: None}, {-1: None}, {"mon": None}, {True: None}, {0: ("08:30", "18:00")}, {0: (dt.time(18), dt.time(8))},
    {0: (dt.time(9),)}, {0: (dt.time(9), dt.time(9))}, [0, 1], "mon-fri=08:30-18:00",
])
def test_the_hours_services_refuse_garbage(world: StaffedWorkspace, garbage: object) -> None:
    admin = world.login("administrator")
    before = access.policy(admin).to_dict()["hours"]
    for call in (access.preview_hours, access.set_hours):
        with pytest.raises(InvalidInput) as err:
            call(admin, garbage)  # type: ignore[arg-type]
        assert err.value.reason == "bad_hours" and "利用時間" in err.value.message_ja and "hours" in err.value.message_en
    assert access.policy(admin).to_dict()["hours"] == before


def test_times_chosen_on_the_screen_are_read_or_refused_in_words() -> None:
    assert window_from(0, "08:30", "24:00") == (dt.time(8, 30), dt.time(23, 59, 59, 999999))
    for opens, closes in (("25:00", "26:00"), ("08:75", "09:00"), ("x", "09:00"), ("18:00", "08:00")):
        with pytest.raises(InvalidInput) as err:
            window_from(2, opens, closes)
        assert "水曜日" in err.value.message_ja
    assert check_hours({6: None}) == {6: None}


def test_only_the_administrator_sets_the_hours(world: StaffedWorkspace) -> None:
    for user in ("operations", "registrar", "approver"):
        with pytest.raises(PermissionDenied):
            access.set_hours(world.login(user), {0: (dt.time(8), dt.time(18))})


def _places(world: StaffedWorkspace, tmp_path: Path) -> None:
    s = world.ws.settings
    s.exchange_folders = [str(tmp_path / "disk"), str(tmp_path / "safe")]
    s.backup_places = {"ディスク": str(tmp_path / "disk"), "外": str(tmp_path / "outside")}
    s.keyring_copy_places = {"金庫": str(tmp_path / "safe"), "同じ": str(tmp_path / "disk")}


def test_backups_go_to_configured_places_by_name(world: StaffedWorkspace, tmp_path: Path) -> None:
    ops = world.login("operations")
    with pytest.raises(InvalidInput) as none:
        backup.backup_to_place(ops, "ディスク")
    assert none.value.reason == "no_backup_place" and "設定されていません" in none.value.message_ja
    _places(world, tmp_path)
    listed = {(p.kind, p.name): p for p in backup.places(ops)}
    assert listed[("backup", "ディスク")].usable and not listed[("backup", "外")].usable
    assert "受け渡しフォルダー" in listed[("backup", "外")].problem_ja
    done = backup.backup_to_place(ops, "ディスク", keyring_place="金庫")
    assert (tmp_path / "disk" / done["file_name"]).exists() and (tmp_path / "safe" / done["keyring_file_name"]).exists()
    assert done["file_name"].startswith("backup-2026") and done["file_name"].endswith(".wbbak")
    again = backup.backup_to_place(ops, "ディスク")  # the same second: another name, never "already exists"
    assert again["file_name"] != done["file_name"] and again["keyring_copy"] is None
    for place, keyring, reason in (("外", None, "place_not_allowed"), ("どこか", None, "unknown_place"),
                                   ("ディスク", "どこか", "unknown_place"), ("ディスク", "同じ", "keyring_beside_data")):
        with pytest.raises(InvalidInput) as err:
            backup.backup_to_place(ops, place, keyring_place=keyring)
        assert err.value.reason == reason, err.value.message_en
    with pytest.raises(InvalidInput) as empty:
        backup.backup(ops, "")  # an empty destination: said so, never "already exists"
    assert empty.value.reason == "no_destination"
    for user in ("registrar", "administrator", "auditor"):
        with pytest.raises(PermissionDenied):
            backup.places(world.login(user))
        with pytest.raises(PermissionDenied):
            backup.backup_to_place(world.login(user), "ディスク")


def test_the_cli_backs_up_to_a_place(world: StaffedWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    _places(world, tmp_path)
    code, out, err = world.cli(monkeypatch, capsys, "operations", "backup-places")
    assert code == 0, err
    assert {p["name"] for p in out["places"]} == {"ディスク", "外", "金庫", "同じ"}
    code, out, err = world.cli(monkeypatch, capsys, "operations", "backup", "--place", "ディスク", "--keyring-place", "金庫")
    assert code == 0, err
    assert (tmp_path / "disk" / out["file_name"]).exists()
    code, out, err = world.cli(monkeypatch, capsys, "operations", "backup", "--place", "外")
    assert code != 0 and "使えません" in err


def test_the_keys_screen_shows_rotates_and_repairs(world: StaffedWorkspace) -> None:
    from widgets.keys import KeysApp

    app = KeysApp(world.login("operations"))
    assert app.status_result.kind == "", app.status_result.text
    shown = app.status_html.value
    assert "第1世代" in shown and "保護されています" in shown and "使用中" in shown
    assert app.rotate_button.disabled and "破棄" in app.rotate_confirm.description
    app.rotate_button.click()  # disabled, clicked anyway: nothing
    assert keyring_admin.key_status(world.login("operations")).versions == (1,)
    app.rotate_confirm.value = True
    app.rotate_button.click()
    assert app.rotate_result.kind == "success", app.rotate_result.text
    assert app.banner.kind == "" and "第2世代" in app.rotate_result.text  # beside the button
    status = keyring_admin.key_status(world.login("operations"))
    assert status.database_version == 2 and status.wrapped and not status.rotation_interrupted
    assert status.last_rotated_at is not None and "第2世代" in app.status_html.value
    assert not app.rotate_confirm.value and app.rotate_button.disabled  # one yes, one rotation
    app.repair_confirm.value = True
    app.repair_button.click()
    assert app.repair_result.kind == "success" and "中断した鍵の更新はありませんでした" in app.repair_result.text
    with world.ws.transaction("test.read", "test", writes=False) as con:
        ops = [json.loads(p) for (p,) in con.execute(
            "SELECT params FROM audit_log WHERE operation = 'keys.repair' AND outcome = 'ok'").fetchall()]
    assert ops and ops[-1]["database_version"] == 2


def test_keys_need_the_right(world: StaffedWorkspace) -> None:
    from widgets.keys import KeysApp

    for user in ("administrator", "registrar", "auditor"):
        s = world.login(user)
        with pytest.raises(PermissionDenied):
            keyring_admin.key_status(s)
        with pytest.raises(PermissionDenied):
            rotation.rotate(s)
        with pytest.raises(PermissionDenied):
            rotation.repair_now(s)
    refused = KeysApp(world.login("registrar"))
    assert refused.status_result.kind == "error" and refused.status_html.value == ""
