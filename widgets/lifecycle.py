"""The end of the data's life, on screen (issue 12): bulk deletion, disclosure / correction /
suspension, the inquiry log, backup, retention and purge.

* :class:`DeletionApp` 個人番号の一括削除 — registrar (``deletions.manage``): the housing
  system's deletion list or a staff selection, the preview (counts by reason and by kind of
  record, chart), the second person's approval, the deletion with its purge mode, and the
  deletion records; a deceased person confirmed by the reviewer is chosen with 死亡者を選択.
* :class:`DisclosureApp` 開示・訂正・利用停止 — reviewer (``requests.handle``): the
  disclosure document (printable, in a frame), a correction, suspension and its lifting.
* :class:`InquiryApp` 問合せ記録 — reviewer (``requests.handle``): record, close, search,
  monthly counts.
* :class:`IdReviewApp` ID・権限の棚卸し — administrator (``users.review``): the yearly review,
  departures disabled, the second person's sign-off.
* :class:`BackupApp` バックアップ・保存期間 — operations (``backup.run``, ``keys.manage``,
  ``retention.apply``): backup with the keyring copy elsewhere, the retention report and
  its application, the purge of deletions waiting for it.

Every handler calls a ``workbench`` service through :meth:`App.call`; nothing here opens
the database.  Counts and charts come before tables; no personal data in the deletion screens.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w
import traitlets as t

from workbench.controls import idreview
from workbench.core import labels
from workbench.core.paging import Page, PageRequest
from workbench.core.permissions import Permission
from workbench.files import incoming
from workbench.lifecycle import backup, deletion, disclosure, inquiries, retention

from .common import ActionButton, App, ErrorBanner, Progress, bar_chart_svg, esc, fmt_datetime, html_table, num
from .grid import GridColumn, RecordGrid
from .incoming import MediumCopy

__all__ = ["BackupApp", "DeletionApp", "DisclosureApp", "IdReviewApp", "InquiryApp"]

_STYLE = {"description_width": "160px"}
REASON_OPTIONS = [(f"{ja} / {en}", code) for code, (ja, en) in deletion.REASONS.items()]
#: What a purge does, in words, on the confirmation beside its button (issue 20 item 6).
PURGE_CONSEQUENCE = ("データベースファイルを新しい鍵で作り直し、削除済みのデータをファイルから消去します。旧鍵は破棄され、"
                     "それ以前のバックアップは旧鍵では開けなくなります。取り消せません。")


class DeletionModel(t.HasTraits):
    preview = t.Any(None)          # DeletionPreview | None
    records: t.List[Any] = t.List()


class DeletionApp(App):
    """個人番号の一括削除 (F7, C8)."""

    title_key = "app_deletion"

    def build(self) -> list[w.Widget]:
        self.model = DeletionModel()
        self.can_purge = self.session.can(Permission.KEYS_MANAGE)
        self.upload = w.FileUpload(accept=".csv,.txt,.wbpkg", multiple=False, description="削除対象者リスト / List")
        #: After the list's file is imported: the copy on the medium is to be deleted, and that recorded (C9).
        self.list_medium = w.VBox([])
        self.upload.observe(lambda _c: setattr(self.list_medium, "children", []), "value")
        self.import_button = ActionButton(description="取込・件数確認 / Import and preview", button_style="primary", icon="upload")
        self.import_button.on_click(lambda _b: self.import_list())
        self.person_ids = w.Textarea(description="宛名番号 / Person IDs", placeholder="1 行に 1 人 / one per line",
                                     style=_STYLE, layout=w.Layout(width="420px", height="80px"))
        self.reason = w.Dropdown(description="削除理由 / Reason", options=REASON_OPTIONS, style=_STYLE)
        self.deceased = w.Checkbox(description="死亡の印がある全員 / everyone marked deceased", indent=False)
        self.select_button = ActionButton(description="選択して件数確認 / Select and preview", icon="list")
        self.select_button.on_click(lambda _b: self.select())
        #: The daily check's proposal of people off the target list who still hold a number (issue 22 item 4).
        self.proposal_button = ActionButton(description="削除の提案を開く / Open the deletion proposal", icon="lightbulb-o")
        self.proposal_button.on_click(lambda _b: self.open_proposal())
        self.preview_html = w.HTML()
        #: Who is on the list, a page at a time from the database; a row's person opens with 個人の照会.
        self.people_grid = RecordGrid(
            fetch=self._fetch_people, key=lambda r: r["person_id"],
            columns=[GridColumn("宛名番号", lambda r: r["person_id"]),
                     GridColumn("削除理由", lambda r: labels.ja(r["reason"], "deletion_reason")),
                     GridColumn("ファイルの行", lambda r: r["line"], numeric=True)],
            sorts=deletion.MEMBER_LIST.sort_options(), placeholder="宛名番号", autoload=False,
            person_of=lambda r: r["person_id"], on_person=self.open_person_page, css_class="wb-deletion-people")
        self.people_grid.layout.display = "none"
        self.request_button = ActionButton(description="承認を依頼 / Request approval", icon="paper-plane", disabled=True)
        self.request_button.on_click(lambda _b: self.request())
        self.approval_id = w.Text(description="承認番号 / Approval", placeholder="A…", style=_STYLE)
        self.purge_mode = w.RadioButtons(options=[("定時に消去（夜間処理） / scheduled", "scheduled"),
                                                  ("直ちに消去（鍵の更新を伴う） / now", "now")], value="scheduled")
        #: What 削除を実行 will do, in words, from the preview the person saw (issue 20 item 6).
        self.consequence = w.HTML()
        self.confirm = w.Checkbox(description="上記のとおり削除します（取り消せません）/ I understand this cannot be undone",
                                  indent=False, disabled=True, layout=w.Layout(width="auto"))
        self.apply_button = ActionButton(description="削除を実行 / Delete", button_style="danger", icon="trash", disabled=True)
        self.confirm.observe(lambda c: setattr(self.apply_button, "disabled", not c["new"]), "value")
        self.apply_button.on_click(lambda _b: self.apply())
        self.records_html = w.HTML()
        self.refresh_button = ActionButton(description="削除記録 / Deletion records", icon="refresh")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.model.observe(self._show_preview, "preview")
        self.model.observe(self._show_records, "records")
        children: list[w.Widget] = [
            w.HTML("<h4>1. 削除対象者 / Who is to be deleted</h4>"), w.HBox([self.upload, self.import_button]),
            self.list_medium,
            w.HTML("<div>または職員による指定 / or a staff selection:</div>"), self.person_ids, self.reason,
            self.deceased, self.select_button,
            w.HTML("<div>または日次点検の提案（対象者リストから外れた人の個人番号）/ or the daily check's proposal:</div>"),
            self.proposal_button,
            w.HTML("<h4>2. 件数の確認と承認 / Preview and approval</h4>"), self.preview_html, self.people_grid,
            self.request_button,
            w.HTML("<h4>3. 削除の実行 / Delete</h4>"), self.approval_id, self.purge_mode, self.consequence, self.confirm,
            self.apply_button,
            w.HTML("<h4>削除記録 / Deletion records</h4>"), self.refresh_button, self.records_html,
        ]
        if self.can_purge:
            self.purge_confirm = w.Checkbox(description=PURGE_CONSEQUENCE, indent=False, layout=w.Layout(width="auto"))
            self.purge_button = ActionButton(description="消去を実行（ファイル再構築）/ Purge now", icon="eraser", disabled=True)
            self.purge_confirm.observe(lambda c: setattr(self.purge_button, "disabled", not c["new"]), "value")
            self.purge_button.on_click(lambda _b: self.purge())
            children += [self.purge_confirm, self.purge_button]
        if self.session.can(Permission.DELETIONS_MANAGE):
            self.refresh()
        return children

    # -- views ----------------------------------------------------------------------------
    def _show_preview(self, _change: Any = None) -> None:
        p = self.model.preview
        self.confirm.value = False
        self.confirm.disabled = p is None or p.persons == 0
        self.consequence.value = "" if p is None else (
            f"<div class='wb-consequence' style='color:#c62828;padding:4px 0'>{esc(p.consequence_ja())}</div>")
        if p is None:
            self.preview_html.value = ""
            self.people_grid.layout.display = "none"
            self.request_button.disabled = True
            return
        reasons = [(f"{deletion.REASONS[r][0]}", n) for r, n in p.by_reason.items() if r in deletion.REASONS]
        records = [(deletion.RECORD_LABELS.get(k, (k, k))[0], k, v) for k, v in p.by_record.items() if v]
        self.preview_html.value = (
            f"<div>削除リスト {esc(p.list_id)}: <b>{num(p.persons)}</b> 人、破棄する送付用コピー <b>{num(p.transfer_copies)}</b> 件"
            f" / {num(p.persons)} people, {num(p.transfer_copies)} transfer copies to destroy</div>"
            + bar_chart_svg(reasons, title="削除理由別 / by reason")
            + html_table(["記録の種類", "kind", "件数"], records, numeric=[2])
            + self._pending_html(p)
            + "<div><b>対象者（宛名番号）/ who</b></div>"
        )
        self.confirm.description = (
            "削除は取り消せず、受け渡し前の送付ファイルも破棄されることを確認しました / I understand this cannot be undone"
            " and destroys the files not yet handed over" if p.pending_files
            else "削除は取り消せないことを確認しました / I understand this cannot be undone")
        self.people_grid.layout.display = "flex"
        self.people_grid.model.offset = 0
        self.people_grid.refresh()
        self.request_button.disabled = p.persons == 0

    @staticmethod
    def _pending_html(p: deletion.DeletionPreview) -> str:
        """Files not yet handed over that the deletion destroys (issue 22 item 5): named before anyone confirms."""
        if not p.pending_files:
            return ""
        rows = [(f["entry_id"], f["file_name"], labels.ja(f["kind"]), f["records"], f["persons_deleted"])
                for f in p.pending_files]
        return ("<div style='color:#a61b1b'><b>受け渡し前の送付ファイルが破棄されます / files not yet handed over will be"
                " destroyed</b> — 他の人の分も含みます。先に受け渡す場合は、受け渡してから件数確認をやり直してください。</div>"
                + html_table(["媒体番号", "ファイル", "種類", "全件数", "うち削除対象"], rows, numeric=[3, 4]))

    def _fetch_people(self, request: PageRequest) -> Page[dict[str, Any]] | None:
        p = self.model.preview
        if p is None:
            return None
        return self.call(deletion.list_members_page, p.list_id, request)

    def _show_records(self, _change: Any = None) -> None:
        rows = [(r.deletion_id, fmt_datetime(r.applied_at), r.requested_by, r.approved_by or "", r.method, r.persons,
                 "、".join(f"{labels.ja(k, 'deletion_reason')} {v}" for k, v in r.reasons.items()),
                 fmt_datetime(r.erased_at) if r.erased_at else "未消去 / waiting")
                for r in self.model.records]
        self.records_html.value = html_table(
            ["削除番号", "実行日時", "依頼者", "承認者", "方法", "人数", "理由", "ファイルからの消去"], rows, numeric=[5])

    # -- handlers --------------------------------------------------------------------------
    def import_list(self) -> None:
        files = list(self.upload.value)
        if not files:
            self.banner.info("削除対象者リストのファイルを選んでください。", "Choose the deletion list file.")
            return
        f = files[0]
        data = bytes(f["content"])
        preview = self.call(deletion.import_deletion_list, data, file_name=f["name"])
        if preview is not None:
            self.model.preview = preview if preview.persons or not preview.already_imported else None
            self.banner.success(preview.message_ja, preview.message_en)
            if not preview.already_imported:
                self.list_medium.children = [MediumCopy(deletion.SPEC.kind, incoming.reference_of(data), call=self.call,
                                                        file_ja=deletion.SPEC.file_ja)]

    def select(self) -> None:
        ids = [x.strip() for x in self.person_ids.value.splitlines() if x.strip()]
        preview = self.call(deletion.select_for_deletion, person_ids=ids, reason=self.reason.value,
                            deceased=self.deceased.value)
        if preview is not None:
            self.model.preview = preview
            self.banner.success(preview.message_ja, preview.message_en)

    def open_proposal(self) -> None:
        lists = self.call(deletion.open_lists) or []
        proposals = [x for x in lists if x["source"] == "proposal"]
        if not proposals:
            self.banner.info("削除の提案はありません（対象者リストから外れて番号を持つ人はいません）。",
                             "There is no deletion proposal (no one off the target list holds a number).")
            return
        preview = self.call(deletion.preview_deletion, proposals[-1]["list_id"])
        if preview is not None:
            self.model.preview = preview
            self.banner.success(preview.message_ja, preview.message_en)

    def request(self) -> None:
        p = self.model.preview
        if p is None:
            return
        result = self.call(deletion.request_deletion, p.list_id)
        if result is not None and result.approval is not None:
            self.approval_id.value = result.approval.approval_id
            self.banner.success(f"承認を依頼しました（承認番号 {result.approval.approval_id}）。別の職員の承認後に実行してください。",
                                f"Approval requested ({result.approval.approval_id}); delete once another person approves.")

    def apply(self) -> None:
        p = self.model.preview
        # The handler checks its own state too: a disabled 削除を実行 clicked over the websocket does nothing.
        if p is None or not self.confirm.value or self.apply_button.disabled:
            self.banner.info("件数を確認し、削除の内容を確かめてチェックを入れてから実行してください。",
                             "Preview the list and tick the confirmation first.")
            return
        # What the person saw goes with the request (the selection, and the unsent files it destroys):
        # the service refuses, nothing lost, if either moved since.
        record = self.call(deletion.apply_and_purge, p.list_id, approval_id=self.approval_id.value.strip(),
                           purge=self.purge_mode.value, discard_files=[f["entry_id"] for f in p.pending_files],
                           expected_count=p.persons, expected_digest=p.selection_digest)
        self.confirm.value = False
        if record is not None:
            erased = "ファイルからも消去しました。" if record.erased_at else "ファイルからの消去は夜間処理で行います。"
            self.banner.success(f"{num(record.persons)} 人の個人番号と関連データを削除しました（削除番号 {record.deletion_id}）。{erased}",
                                f"Deleted {record.persons} people ({record.deletion_id}).")
            self.model.preview = None
            self.approval_id.value = ""
            self.refresh()

    def purge(self) -> None:
        if not self.purge_confirm.value or self.purge_button.disabled:
            return
        self.purge_confirm.value = False
        report = self.call(deletion.purge)
        if report is not None:
            self.banner.success(report["message_ja"], report["message_en"])
            self.refresh()

    def refresh(self) -> None:
        records = self.call(deletion.deletion_records)
        if records is not None:
            self.model.records = list(records)


class DisclosureApp(App):
    """開示・訂正・利用停止 (F9)."""

    title_key = "app_disclosure"

    def build(self) -> list[w.Widget]:
        self.person_id = w.Text(description="宛名番号 / Person ID", style=_STYLE)
        self.disclose_button = ActionButton(description="開示書を作成 / Disclosure document", button_style="primary",
                                        icon="file-text")
        self.disclose_button.on_click(lambda _b: self.disclose())
        self.document = w.HTML()
        self.field = w.Dropdown(description="訂正する項目 / Field",
                                options=[(f"{ja} / {en}", k) for k, (ja, en) in disclosure.CORRECTABLE.items()], style=_STYLE)
        self.new_value = w.Text(description="訂正後の値 / New value", style=_STYLE)
        self.reason = w.Text(description="理由 / Reason", style=_STYLE)
        self.correct_button = ActionButton(description="訂正 / Correct", icon="pencil")
        self.correct_button.on_click(lambda _b: self.correct())
        self.suspend_button = ActionButton(description="利用停止 / Suspend use", button_style="warning", icon="pause")
        self.suspend_button.on_click(lambda _b: self.suspend())
        self.lift_button = ActionButton(description="停止を解除 / Lift", icon="play")
        self.lift_button.on_click(lambda _b: self.lift())
        #: Suspensions in force; a chosen row is the person the forms above act on (宛名番号 filled in).
        self.suspensions_html = RecordGrid(
            fetch=lambda r: self.call(disclosure.suspension_page, r), key=lambda r: r["suspension_id"],
            columns=[GridColumn("停止番号", lambda r: r["suspension_id"]), GridColumn("宛名番号", lambda r: r["person_id"]),
                     GridColumn("理由", lambda r: r["reason"]), GridColumn("停止日時", lambda r: fmt_datetime(r["suspended_at"])),
                     GridColumn("担当", lambda r: r["suspended_by"])],
            sorts=disclosure.SUSPENSION_LIST.sort_options(), descending=True, placeholder="停止番号・宛名番号・理由",
            on_select=lambda r: self._suspension_chosen(r), person_of=lambda r: r["person_id"],
            on_person=self.open_person_page, css_class="wb-suspensions", autoload=False)
        self.refresh_suspensions()
        return [w.HBox([self.person_id, self.disclose_button]), self.document,
                w.HTML("<h4>訂正 / Correction</h4>"), self.field, self.new_value, self.reason, self.correct_button,
                w.HTML("<h4>利用停止 / Suspension of use</h4>"), w.HBox([self.suspend_button, self.lift_button]),
                self.suspensions_html]

    def _pid(self) -> str | None:
        pid = str(self.person_id.value).strip()
        if not pid:
            self.banner.info("宛名番号を入力してください。", "Enter the internal person number.")
            return None
        return pid

    def disclose(self) -> None:
        pid = self._pid()
        if pid is None:
            return
        doc = self.call(disclosure.disclose, pid)
        if doc is not None:
            self.document.value = (f"<iframe title='開示書' srcdoc=\"{html.escape(doc.html, quote=True)}\" "
                                   "style='width:100%;height:520px;border:1px solid #999'></iframe>"
                                   "<div>印刷は枠内を右クリックして「印刷」 / print from the frame</div>")
            self.banner.success(f"開示書を作成しました（操作の記録 {num(doc.accesses)} 件を含む）。",
                                f"Disclosure document made ({doc.accesses} accesses listed).")

    def correct(self) -> None:
        pid = self._pid()
        if pid is None:
            return
        result = self.call(disclosure.correct, pid, self.field.value, self.new_value.value, reason=self.reason.value)
        if result is not None:
            self.banner.success(result["message_ja"], result["message_en"])
            self.new_value.value = ""

    def suspend(self) -> None:
        pid = self._pid()
        if pid is None:
            return
        result = self.call(disclosure.suspend, pid, reason=self.reason.value)
        if result is not None:
            self.banner.success(result["message_ja"], result["message_en"])
            self.refresh_suspensions()

    def lift(self) -> None:
        pid = self._pid()
        if pid is None:
            return
        result = self.call(disclosure.lift_suspension, pid, reason=self.reason.value)
        if result is not None:
            self.banner.success(result["message_ja"], result["message_en"])
            self.refresh_suspensions()

    def refresh_suspensions(self) -> None:
        self.suspensions_html.refresh()

    def _suspension_chosen(self, row: dict[str, Any] | None) -> None:
        if row is not None:
            self.person_id.value = row["person_id"]


class InquiryApp(App):
    """問合せ記録 (F10)."""

    title_key = "app_inquiry"

    def build(self) -> list[w.Widget]:
        self.channel = w.Dropdown(description="受付方法 / Channel",
                                  options=[(f"{ja} / {en}", k) for k, (ja, en) in inquiries.CHANNELS.items()], style=_STYLE)
        self.category = w.Dropdown(description="区分 / Category",
                                   options=[(f"{ja} / {en}", k) for k, (ja, en) in inquiries.CATEGORIES.items()], style=_STYLE)
        self.person = w.Text(description="宛名番号（任意）/ Person", style=_STYLE)
        self.question = w.Textarea(description="内容 / Question", style=_STYLE, layout=w.Layout(width="520px"))
        self.record_button = ActionButton(description="記録 / Record", button_style="primary", icon="plus")
        self.record_button.on_click(lambda _b: self.record())
        self.inquiry_id = w.Text(description="問合せ番号 / Inquiry", style=_STYLE)
        self.response = w.Textarea(description="対応 / Response", style=_STYLE, layout=w.Layout(width="520px"))
        self.close_button = ActionButton(description="対応を記録して完了 / Close", icon="check")
        self.close_button.on_click(lambda _b: self.close_inquiry())
        #: The log, a page at a time from the database; a chosen row fills 問合せ番号, its person opens with 個人の照会.
        self.results = RecordGrid(
            fetch=lambda r: self.call(inquiries.inquiry_page, r), key=lambda q: q.inquiry_id,
            columns=[GridColumn("問合せ番号", lambda q: q.inquiry_id), GridColumn("受付日時", lambda q: fmt_datetime(q.received_at)),
                     GridColumn("方法", lambda q: labels.ja(q.channel, "inquiry_channel"), minor=True),
                     GridColumn("区分", lambda q: labels.ja(q.category, "inquiry_category")),
                     GridColumn("宛名番号", lambda q: q.person_id or "-"), GridColumn("内容", lambda q: q.question[:60]),
                     GridColumn("担当", lambda q: q.handled_by, minor=True),
                     GridColumn("状態", lambda q: "完了" if q.status == "closed" else "対応中"),
                     GridColumn("完了日時", lambda q: fmt_datetime(q.closed_at) if q.closed_at else "-", minor=True)],
            sorts=inquiries.INQUIRY_LIST.sort_options(), descending=True, placeholder="問合せ番号・宛名番号・内容",
            on_select=lambda q: self._inquiry_chosen(q), person_of=lambda q: q.person_id,
            on_person=self.open_person_page, css_class="wb-inquiries", autoload=False)
        self.year = w.BoundedIntText(description="年 / Year", min=2000, max=2100, value=self.session.workspace.clock.now().year,
                                     style=_STYLE)
        self.monthly_button = ActionButton(description="月別件数 / Monthly counts", icon="bar-chart")
        self.monthly_button.on_click(lambda _b: self.monthly())
        self.monthly_html = w.HTML()
        self.search()
        return [w.HTML("<h4>問合せの記録 / Record an inquiry</h4>"), self.channel, self.category, self.person,
                self.question, self.record_button,
                w.HTML("<h4>対応と完了 / Answer and close</h4>"), self.inquiry_id, self.response, self.close_button,
                w.HTML("<h4>問合せの一覧 / The log</h4>"), self.results,
                w.HTML("<h4>月別件数 / Monthly report</h4>"), w.HBox([self.year, self.monthly_button]), self.monthly_html]

    def record(self) -> None:
        q = self.call(inquiries.record, channel=self.channel.value, category=self.category.value,
                      question=self.question.value, person_id=self.person.value.strip() or None)
        if q is not None:
            self.inquiry_id.value = q.inquiry_id
            self.question.value = ""
            self.banner.success(f"問合せを記録しました（{q.inquiry_id}）。", f"Inquiry recorded ({q.inquiry_id}).")
            self.search()

    def close_inquiry(self) -> None:
        # Not ``close``: that is ipywidgets' Widget.close, which the dashboard calls on every widget of an
        # app it leaves (close_all_views) and Python calls on collection — it must not close an inquiry.
        q = self.call(inquiries.close, self.inquiry_id.value.strip(), response=self.response.value)
        if q is not None:
            self.response.value = ""
            self.banner.success(f"問合せ {q.inquiry_id} を完了しました。", f"Inquiry {q.inquiry_id} closed.")
            self.search()

    def search(self) -> None:
        """The log again (the grid's own filter box searches number, person and text)."""
        self.results.refresh()

    def _inquiry_chosen(self, q: Any) -> None:
        if q is not None:
            self.inquiry_id.value = q.inquiry_id

    def monthly(self) -> None:
        report = self.call(inquiries.monthly, year=int(self.year.value))
        if report is None:
            return
        self.monthly_html.value = (
            bar_chart_svg([(m["month"], m["received"]) for m in report["months"]], title="月別受付件数 / received per month")
            + html_table(["月", "受付", "完了"], [(m["month"], m["received"], m["closed"]) for m in report["months"]],
                         numeric=[1, 2]))


class BackupApp(App):
    """バックアップ・保存期間・消去 (C12, C11, C8) for operations."""

    title_key = "app_backup"

    def build(self) -> list[w.Widget]:
        children: list[w.Widget] = []
        if self.session.can(Permission.BACKUP_RUN):
            # Places chosen by name from the settings (issue 20 item 10): never a typed server path; the
            # file name is made by the system from the date and time.
            self.place = w.Dropdown(description="保存場所 / Place", options=[], style=_STYLE)
            self.keyring_place = w.Dropdown(description="鍵束の写し / Keyring copy", options=[], style=_STYLE)
            self.places_html = w.HTML()
            self.backup_button = ActionButton(description="バックアップ / Back up", button_style="primary", icon="save")
            self.backup_button.on_click(lambda _b: self.backup())
            #: The backup's progress and result, beside its button.
            self.backup_progress = Progress()
            self.backup_result = ErrorBanner()
            children += [w.HTML("<h4>バックアップ / Backup (鍵束は別の場所へ / keyring elsewhere)</h4>"),
                         self.places_html, self.place, self.keyring_place, self.backup_button, self.backup_progress,
                         self.backup_result]
            self.load_places()
        if self.session.can(Permission.RETENTION_APPLY):
            self.report_button = ActionButton(description="保存期間の確認 / Retention report", icon="calendar")
            self.report_button.on_click(lambda _b: self.report(dry_run=True))
            #: Offered once a report was shown, naming what it will delete; the report's total goes to the service.
            self.apply_check = w.Checkbox(description="先に「保存期間の確認」で対象を確認してください / report first",
                                          indent=False, disabled=True, layout=w.Layout(width="auto"))
            self.apply_button = ActionButton(description="削除を実行 / Apply", button_style="danger", icon="trash", disabled=True)
            self.apply_check.observe(lambda c: setattr(self.apply_button, "disabled", not c["new"]), "value")
            self.reported_due: int | None = None
            self.apply_button.on_click(lambda _b: self.report(dry_run=False))
            self.retention_html = w.HTML()
            children += [w.HTML("<h4>保存期間 / Retention (C11)</h4>"), self.report_button, self.retention_html,
                         w.HBox([self.apply_check, self.apply_button])]
        if self.session.can(Permission.KEYS_MANAGE):
            self.purge_confirm = w.Checkbox(description=PURGE_CONSEQUENCE, indent=False, layout=w.Layout(width="auto"))
            self.purge_button = ActionButton(description="削除済みデータの消去（鍵の更新）/ Purge", icon="eraser", disabled=True)
            self.purge_confirm.observe(lambda c: setattr(self.purge_button, "disabled", not c["new"]), "value")
            self.purge_button.on_click(lambda _b: self.purge())
            children += [w.HTML("<h4>消去 / Purge</h4>"), self.purge_confirm, self.purge_button]
        return children

    def load_places(self) -> None:
        """The configured places; those that cannot be used are named with the reason, not offered."""
        found = self.call_beside(self.backup_result, backup.places) or []
        usable = [p for p in found if p.usable]
        kept = self.place.value
        self.place.options = [(f"{p.name}（{p.folder}）", p.name) for p in usable if p.kind == "backup"]
        names = [p.name for p in usable if p.kind == "backup"]
        self.place.value = kept if kept in names else (names[0] if names else None)
        self.keyring_place.options = [("写しを作らない / no copy", ""), *[
            (f"{p.name}（{p.folder}）", p.name) for p in usable if p.kind == "keyring"]]
        self.keyring_place.value = next((p.name for p in usable if p.kind == "keyring"), "")
        unusable = [p for p in found if not p.usable]
        self.places_html.value = "".join(
            f"<div class='wb-place-problem' style='color:#8a4b00'>保存場所「{esc(p.name)}」は使えません: {esc(p.problem_ja)}"
            f"<br><small>{esc(p.problem_en)}</small></div>" for p in unusable)
        self.place.disabled = self.backup_button.disabled = not self.place.options
        if not self.place.options and self.backup_result.kind != "error":
            self.backup_result.info(
                "バックアップの保存場所が設定されていません。運用担当（サーバーの管理者）に workspace.json の"
                " backup_places と keyring_copy_places の設定を依頼してください。",
                "No backup place is configured; ask the server's operators to set backup_places and keyring_copy_places"
                " in workspace.json.")

    def backup(self) -> None:
        self.backup_result.clear()
        if not self.place.value:
            self.load_places()
            return
        with self.backup_progress.run(1, "バックアップを作成しています… / Backing up…"):
            result = self.call_beside(self.backup_result, backup.backup_to_place, str(self.place.value),
                                      keyring_place=str(self.keyring_place.value) or None)
        if result is None:
            self.backup_progress.layout.display = "none"  # refused: the reason is beside the button, no "done"
        else:
            copy = (f"鍵束の写し: {result['keyring_place']} の {result['keyring_file_name']}。" if result["keyring_place"]
                    else "鍵束の写しは作っていません。")
            self.backup_result.success(
                f"{result['message_ja']}保存場所: {result['place']} の {result['file_name']}（{num(result['bytes'])} バイト）。{copy}",
                f"{result['message_en']} {result['file_name']} in {result['place']}.")

    def report(self, *, dry_run: bool) -> None:
        if not dry_run and (self.reported_due is None or not self.apply_check.value or self.apply_button.disabled):
            return  # a disabled 削除を実行 clicked anyway: nothing without a report and the confirmation
        result = self.call(retention.apply, dry_run=dry_run, expected_due=None if dry_run else self.reported_due)
        self.apply_check.value = False
        if result is None:
            return
        due = sum(int(i["due_now"]) for i in result["items"])
        self.reported_due = due if dry_run and due else None
        self.apply_check.disabled = self.reported_due is None
        self.apply_check.description = (
            f"保存期間を過ぎた記録 {due:,} 件（" + "、".join(f"{i['label_ja']} {int(i['due_now']):,}" for i in result["items"]
                                                  if i["due_now"]) + "）を削除します。取り消せません。"
            if self.reported_due else "削除する記録はありません / nothing is due")
        self.retention_html.value = html_table(
            ["記録の種類", "保存期間（日）", "期限到来", "削除", "次の期限", "備考"],
            [(i["label_ja"], i["keep_days"], i["due_now"], i["deleted"], fmt_datetime(i["next_due"]) if i["next_due"] else "-",
              i.get("note_ja") or labels.ja(i["note"], "retention_note")) for i in result["items"]], numeric=[1, 2, 3])
        self.banner.success(result["message_ja"], result["message_en"])

    def purge(self) -> None:
        if not self.purge_confirm.value or self.purge_button.disabled:
            return
        self.purge_confirm.value = False
        result = self.call(deletion.purge)
        if result is not None:
            self.banner.success(result["message_ja"], result["message_en"])


class IdReviewApp(App):
    """ID・権限の棚卸し (C6): take stock, disable departures, the second person's sign-off."""

    title_key = "app_idreview"

    def build(self) -> list[w.Widget]:
        self.start_button = ActionButton(description="棚卸しを開始 / Start the review", button_style="primary", icon="list")
        self.start_button.on_click(lambda _b: self.start())
        self.review_id = w.Text(description="棚卸し番号 / Review", style=_STYLE)
        self.findings = w.HTML()
        self.user_ids = w.Text(description="無効化するID / IDs", placeholder="tanaka, suzuki", style=_STYLE)
        self.reason = w.Text(description="理由 / Reason", placeholder="退職・異動", style=_STYLE)
        self.disable_button = ActionButton(description="無効化 / Disable", button_style="danger", icon="ban")
        self.disable_button.on_click(lambda _b: self.disable())
        self.request_button = ActionButton(description="承認を依頼 / Request sign-off", icon="paper-plane")
        self.request_button.on_click(lambda _b: self.request())
        self.approval_id = w.Text(description="承認番号 / Approval", style=_STYLE)
        self.signoff_button = ActionButton(description="承認済みの棚卸しを記録 / Record sign-off", icon="check")
        self.signoff_button.on_click(lambda _b: self.sign_off())
        self.history = w.HTML()
        self.refresh()
        return [self.start_button, self.review_id, self.findings,
                w.HTML("<h4>退職・異動者のID / IDs of people who left</h4>"), self.user_ids, self.reason,
                self.disable_button,
                w.HTML("<h4>別の職員による確認 / Second person's sign-off</h4>"), self.request_button,
                self.approval_id, self.signoff_button, w.HTML("<h4>履歴 / History</h4>"), self.history]

    def _show(self, review: dict[str, Any]) -> None:
        f = review["findings"]
        self.review_id.value = review["review_id"]
        self.findings.value = (
            f"<div>有効なID <b>{num(len(f['active']))}</b>、90日以上未使用 <b>{num(len(f['dormant']))}</b>、"
            f"点検期限超過 <b>{num(len(f['overdue']))}</b>、この棚卸しで無効化 <b>{num(len(f['disabled']))}</b></div>"
            + html_table(["ユーザーID", "役割", "未使用"], [(u, "、".join(r), "○" if u in f["dormant"] else "")
                                                        for u, r in f["active"].items()]))

    def start(self) -> None:
        review = self.call(idreview.start_review)
        if review is not None:
            self._show(review)
            self.banner.success("棚卸しを開始しました。", "Review started.")

    def disable(self) -> None:
        ids = [x.strip() for x in self.user_ids.value.replace("、", ",").split(",") if x.strip()]
        review = self.call(idreview.disable_in_review, self.review_id.value.strip(), ids, reason=self.reason.value)
        if review is not None:
            self._show(review)
            self.user_ids.value = ""
            self.banner.success(f"{len(ids):,} 件のIDを無効化しました。", f"Disabled {len(ids)} ID(s).")

    def request(self) -> None:
        approval = self.call(idreview.request_signoff, self.review_id.value.strip())
        if approval is not None:
            self.approval_id.value = approval.approval_id
            self.banner.success(f"承認を依頼しました（{approval.approval_id}）。", f"Sign-off requested ({approval.approval_id}).")

    def sign_off(self) -> None:
        review = self.call(idreview.sign_off, self.review_id.value.strip(), approval_id=self.approval_id.value.strip())
        if review is not None:
            self.banner.success(f"棚卸しを記録しました（確認者 {review['signed_off_by']}）。",
                                f"Review signed off by {review['signed_off_by']}.")
            self.refresh()

    def refresh(self) -> None:
        rows = self.call(idreview.reviews) or []
        self.history.value = html_table(["棚卸し番号", "開始", "開始者", "状態", "確認者", "確認日時"],
                                        [(r["review_id"], fmt_datetime(r["started_at"]), r["started_by"],
                                          "記録済み" if r["status"] == "signed_off" else "実施中", r["signed_off_by"] or "",
                                          fmt_datetime(r["signed_off_at"]) if r["signed_off_at"] else "") for r in rows])
