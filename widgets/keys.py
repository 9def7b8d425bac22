"""鍵の管理 — the keys screen for operations (issue 20 item 10): status, rotate, repair.

* **状況 / status** (``keys.status``): the key generations the keyring holds, the one new data and the
  database file are encrypted under, how many Individual Numbers each generation still encrypts, whether
  the keyring is wrapped by the key-encryption key (KEK) kept outside the workspace, and whether a
  rotation was interrupted;
* **鍵の更新 / rotate** (``keys.rotate``, the same job as ``workbench keys rotate``): after ticking the
  box that names what it does (every ciphertext and the database file moved to a new key, old keys
  destroyed, older backups opened only with the keyring copy taken with them);
* **修復 / repair** (``keys.repair``): finish or roll back an interrupted rotation, or record the key
  version that opens the database; likewise after a confirmation naming it.

Both jobs show a progress bar beside their button while they run (they take seconds on a large
database) and their result beside it.  No key is ever shown, only generations and identifiers.
"""

from __future__ import annotations

import ipywidgets as w

from workbench.core import keyring_admin, rotation
from workbench.core.keyring_admin import KeyStatus

from .common import ActionButton, App, ErrorBanner, Progress, esc, fmt_datetime, html_table, num

__all__ = ["REPAIR_CONSEQUENCE", "ROTATE_CONSEQUENCE", "KeysApp"]

#: What 鍵の更新 does, in words, on the confirmation beside its button.
ROTATE_CONSEQUENCE = ("鍵を更新します: すべての暗号化された個人番号とデータベースファイルを新しい鍵で作り直し、古い鍵を破棄します。"
                      "これ以前のバックアップは、その時に保存した鍵束の写しでしか開けません。処理中は他の操作が待たされます。"
                      " / Every ciphertext and the database move to a new key; old keys are destroyed.")
#: What 修復 does, in words.
REPAIR_CONSEQUENCE = ("修復します: 中断した鍵の更新を完了（新しい鍵が保存されていなければ取り消し）し、データベースを開ける鍵の世代を"
                      "鍵束に記録します。処理中は他の操作が待たされます。"
                      " / Finish or roll back an interrupted rotation; record the key that opens the database.")


class KeysApp(App):
    title_key = "app_keys"

    def build(self) -> list[w.Widget]:
        self.status_html = w.HTML()
        self.status_button = ActionButton(description="状況を更新 / Refresh", icon="refresh")
        self.status_button.on_click(lambda _b: self.refresh())
        self.status_result = ErrorBanner()

        self.rotate_confirm = w.Checkbox(description=ROTATE_CONSEQUENCE, indent=False, layout=w.Layout(width="auto"))
        self.rotate_button = ActionButton(description="鍵を更新 / Rotate keys", button_style="warning", icon="key",
                                          disabled=True)
        self.rotate_confirm.observe(lambda c: setattr(self.rotate_button, "disabled", not c["new"]), "value")
        self.rotate_button.on_click(lambda _b: self.rotate())
        self.rotate_progress = Progress()
        self.rotate_result = ErrorBanner()

        self.repair_confirm = w.Checkbox(description=REPAIR_CONSEQUENCE, indent=False, layout=w.Layout(width="auto"))
        self.repair_button = ActionButton(description="修復 / Repair", icon="wrench", disabled=True)
        self.repair_confirm.observe(lambda c: setattr(self.repair_button, "disabled", not c["new"]), "value")
        self.repair_button.on_click(lambda _b: self.repair())
        self.repair_progress = Progress()
        self.repair_result = ErrorBanner()

        self.refresh()
        return [
            w.HTML("<h4>鍵の状況 / Key status</h4>"), self.status_html, self.status_button, self.status_result,
            w.HTML("<h4>鍵の更新 / Rotate the keys</h4>"), self.rotate_confirm, self.rotate_button,
            self.rotate_progress, self.rotate_result,
            w.HTML("<h4>修復 / Repair</h4><div style='color:#555'>鍵の更新が中断されたとき（状況に表示されます）に使います。"
                   " / Use when a rotation was interrupted.</div>"),
            self.repair_confirm, self.repair_button, self.repair_progress, self.repair_result,
        ]

    # -- views -------------------------------------------------------------------------------
    def refresh(self) -> None:
        status = self.call_beside(self.status_result, keyring_admin.key_status)
        if status is not None:
            self.show(status)

    def show(self, s: KeyStatus) -> None:
        rows = [[f"第{v}世代", "使用中" if v == s.current else "保持（以前の世代）",
                 "はい" if v == s.database_version else "-", s.numbers_by_version.get(v, 0)] for v in s.versions]
        wrapped = (f"<span class='wb-ok' style='color:#1e4620'>保護されています（鍵暗号化鍵 {esc(s.kek_id)}、"
                   f"{esc(s.kek_origin)}）</span>" if s.wrapped else
                   "<span class='wb-warn' style='color:#8a1c1c'>保護されていません。`workbench keys wrap` で鍵暗号化鍵（KEK）"
                   "により保護してください / not wrapped by a KEK</span>")
        interrupted = ("<div class='wb-warn' style='color:#8a1c1c'><b>鍵の更新が中断されています。</b>下の「修復」で完了または"
                       "取り消してください。 / A rotation was interrupted: repair it below.</div>" if s.rotation_interrupted else "")
        self.status_html.value = (
            f"{interrupted}<div>鍵束 / keyring: {wrapped}</div>"
            f"<div>最後の鍵の更新 / last rotation: {esc(fmt_datetime(s.last_rotated_at)) if s.last_rotated_at else 'なし'}</div>"
            + html_table(["鍵の世代", "状態", "データベース", "この世代の個人番号（件）"], rows, numeric=[3]))

    # -- handlers ----------------------------------------------------------------------------
    def rotate(self) -> None:
        if not self.rotate_confirm.value or self.rotate_button.disabled:
            return  # a disabled button clicked anyway: nothing without the confirmation
        self.rotate_confirm.value = False
        with self.rotate_progress.run(1, "鍵を更新しています… / Rotating…"):
            report = self.call_beside(self.rotate_result, rotation.rotate)
        if report is None:
            self.rotate_progress.layout.display = "none"
            return
        self.rotate_result.success(
            f"鍵を更新しました。第{report.new_version}世代になり、個人番号 {num(report.numbers)} 件を暗号化し直しました。"
            f"破棄した世代: {'、'.join(f'第{v}世代' for v in report.old_versions) or 'なし'}。"
            "以前のバックアップは、その時の鍵束の写しで開けます。",
            f"Rotated to key version {report.new_version}; {report.numbers:,} numbers re-encrypted.")
        self.refresh()

    def repair(self) -> None:
        if not self.repair_confirm.value or self.repair_button.disabled:
            return
        self.repair_confirm.value = False
        with self.repair_progress.run(1, "修復しています… / Repairing…"):
            done = self.call_beside(self.repair_result, rotation.repair_now)
        if done is None:
            self.repair_progress.layout.display = "none"
            return
        what = {"completed": "中断していた鍵の更新を完了しました。", "rolled_back": "中断していた鍵の更新を取り消しました。"}.get(
            str(done.get("rotation")), "中断した鍵の更新はありませんでした。" + (
                "鍵束の記録を直しました。" if done.get("changed") else "鍵束の記録は正しく、変更はありません。"))
        self.repair_result.success(f"{what}データベースは第{done['database_version']}世代の鍵で開きます。",
                                   f"Repaired: {done.get('rotation') or 'no interrupted rotation'}; database key "
                                   f"version {done['database_version']}.")
        self.refresh()
