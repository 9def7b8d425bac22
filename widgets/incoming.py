"""One screen component for every incoming file (受領ファイル): upload → preview → confirm → result.

:class:`IncomingFileFlow` runs the flow of :mod:`workbench.files.incoming` for one or more registered
kinds (the query screen takes F4 and F5 answers in one box: the file's kind chooses), the mirror of
``widgets.outgoing.OutgoingFileFlow``:

1. ファイルを選択 — the package (or, for a kind that accepts one, the bare file) from the clerk's PC;
2. 内容を確認 — the kind's preview service: the whole file is read and checked (a refusal is shown in
   words and audited); what it is, from whom, how many records and what importing would change;
3. 取り込む — enabled only after a preview of this very file, and only once the person ticks that the
   count and the changes were checked; the import service is given the previewed file's digest, so a
   different file is refused there, whatever the screen did;
4. the result: the kind's own summary in words, with counts;
5. 媒体のファイルを削除しました — nothing of an upload is kept on the server, so the person deletes the
   copy on the medium it came on (USB memory, the clerk's PC) and confirms it here (:class:`MediumCopy`,
   also on the target-list, registration and deletion screens); the media ledger records when.

Choosing another file cancels what was previewed.  The service refuses whatever the screen lets
through; the screen only keeps people from clicking into a refusal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as w
import traitlets as t

from workbench.core import labels
from workbench.files import incoming
from workbench.files.incoming import IncomingFileSpec, IncomingPreview

from .common import ActionButton, ErrorBanner, esc, num

__all__ = ["IncomingFileFlow", "IncomingModel", "MediumCopy", "uploaded"]


def uploaded(upload: w.FileUpload) -> tuple[str, bytes] | None:
    """The one file in an ipywidgets 8 FileUpload: (name, bytes)."""
    value = upload.value
    if not value:
        return None
    item = value[0]
    return str(item["name"]), bytes(item["content"])


class MediumCopy(w.VBox):
    """After an uploaded file was imported: the server kept nothing of it, and the copy on the medium it came on
    is to be deleted.  The person ticks that it is, and :func:`workbench.files.incoming.confirm_destroyed`
    records it in the media ledger (C9: the medium is erased once its content has been moved)."""

    def __init__(self, kind: str, reference: str, *, call: Callable[..., Any], file_ja: str) -> None:
        self.kind = kind
        self.reference = reference
        self._call = call
        self.done = False
        self.note = w.HTML(
            "<div class='wb-medium-copy' role='alert' style='background:#fff4e5;border-left:4px solid #e65100;"
            f"padding:6px 10px'><b>受け取った媒体の{esc(file_ja)}を削除してください。</b>"
            "取り込んだ内容はサーバーに残っていません（データベースに暗号化して保存済み）。"
            "USB メモリや端末に残ったファイルを削除したら、下のボタンで記録してください。"
            "<br><small>Delete the file on the medium it came on; the workbench kept no copy. "
            "Record it below once it is deleted.</small></div>")
        self.check = w.Checkbox(value=False, indent=False, layout=w.Layout(width="auto"),
                                description="媒体上のファイルを削除しました / I deleted the file on the medium")
        self.button = ActionButton(description="削除を記録 / Record the deletion", icon="check", disabled=True,
                                   layout=w.Layout(width="auto"))
        self.check.observe(lambda c: setattr(self.button, "disabled", not c["new"] or self.done), "value")
        self.button.on_click(lambda _b: self.record())
        super().__init__([self.note, w.HBox([self.check, self.button], layout=w.Layout(flex_flow="row wrap"))])
        self.add_class("wb-medium-copy-box")

    def record(self) -> None:
        if self.done or not self.check.value or self.button.disabled:
            return
        result = self._call(incoming.confirm_destroyed, self.kind, self.reference)
        if result is None:
            return
        self.done = True
        self.button.disabled = self.check.disabled = True
        self.note.value = (f"<div class='wb-medium-copy-done' style='color:#2e7d32'>{esc(result['message_ja'])}"
                           f"<br><small>{esc(result['message_en'])}</small></div>")


class IncomingModel(t.HasTraits):
    #: The file chosen: (name, bytes), or None.
    chosen = t.Any(None)
    preview = t.Any(None)
    result = t.Any(None)


class IncomingFileFlow(w.VBox):
    """The flow for incoming files of ``specs`` (one kind, or several told apart by the file's header).

    ``call`` and ``banner`` are the owning app's (refusals land in its banner; an expired session
    returns to the login screen); ``on_imported`` lets the host refresh what the import changed."""

    def __init__(self, specs: Sequence[IncomingFileSpec[Any]], *, session: Any, call: Callable[..., Any],
                 banner: ErrorBanner, on_imported: Callable[[Any], None] | None = None,
                 choose_label: str | None = None) -> None:
        if not specs:
            raise ValueError("at least one kind of incoming file")
        self.specs = {s.kind: s for s in specs}
        self.session = session
        self._call = call
        self.banner = banner
        self._on_imported = on_imported
        self.model = IncomingModel()
        accept = ".wbpkg" + (",.csv,.txt" if any(s.bare for s in specs) else "")
        first = specs[0]
        self.upload = w.FileUpload(accept=accept, multiple=False,
                                   description=choose_label or f"{first.file_ja}を選択 / Choose file",
                                   layout=w.Layout(width="auto"))
        self.preview_button = ActionButton(description="内容を確認 / Preview", icon="eye", button_style="primary",
                                           disabled=True, layout=w.Layout(width="auto"))
        self.view = w.HTML()
        self.check = w.Checkbox(value=False, indent=False, layout=w.Layout(width="auto", display="none"),
                                description="件数と取り込む内容を確認しました / I checked the count and the changes")
        self.import_button = ActionButton(description="取り込む / Import", icon="upload", button_style="warning",
                                          disabled=True, layout=w.Layout(width="auto"))
        self.result_view = w.HTML()
        self.medium = w.VBox([])
        self.upload.observe(lambda _c: self._chosen(), "value")
        self.preview_button.on_click(lambda _b: self.preview())
        self.import_button.on_click(lambda _b: self.import_())
        self.check.observe(lambda _c: self._enable(), "value")
        self.model.observe(lambda _c: self._show_preview(), "preview")
        self.model.observe(lambda _c: self._show_result(), "result")
        super().__init__([
            w.HBox([self.upload, self.preview_button], layout=w.Layout(flex_flow="row wrap", align_items="center")),
            self.view, w.HBox([self.check, self.import_button], layout=w.Layout(flex_flow="row wrap")),
            self.result_view, self.medium,
        ])
        self.add_class("wb-incoming")
        for kind in self.specs:
            self.add_class(f"wb-incoming-{kind}")

    # -- state -----------------------------------------------------------------------------
    def _chosen(self) -> None:
        """A (new) file was chosen: what was previewed no longer applies."""
        self.model.chosen = uploaded(self.upload)
        self.model.preview = None
        self.model.result = None
        self.check.value = False
        self.medium.children = []
        self._enable()

    def _enable(self) -> None:
        p: IncomingPreview | None = self.model.preview
        self.preview_button.disabled = self.model.chosen is None
        ready = p is not None and p.count > 0 and not p.already_imported and self.model.result is None
        self.check.layout.display = "" if ready else "none"
        self.import_button.disabled = not (ready and self.check.value)

    def spec_of(self, data: bytes) -> IncomingFileSpec[Any]:
        """The kind the file says it is (its clear header chooses; the service checks everything)."""
        return self.specs[incoming.kind_of(data, list(self.specs))]

    # -- views -----------------------------------------------------------------------------
    def _show_preview(self) -> None:
        self._enable()
        p: IncomingPreview | None = self.model.preview
        if p is None:
            self.view.value = ""
            return
        rows = "".join(
            f"<tr><td style='padding:1px 8px'>{esc(labels.ja(code, incoming.outcome_domain(p.kind)))}</td>"
            f"<td style='padding:1px 8px;text-align:right'>{num(n)} 件</td></tr>" for code, n in p.changes.items())
        spec = self.specs[p.kind]
        note = ("<div style='color:#c62828'>このファイルは取込済みです。取り込んでも何も変わりません。"
                " / Already imported: nothing would change.</div>" if p.already_imported else "")
        personal = "個人に関する回答を含みます。" if spec.holds_personal_data else ""
        self.view.value = (
            f"<div class='wb-incoming-preview' style='border:2px solid #1565c0;padding:6px 10px'>"
            f"<b>{esc(spec.label_ja)}</b>（{esc(spec.label_en)}）<br>"
            f"送付元 / from: <b>{esc(p.sender_ja)}</b>　ファイル / file: {esc(p.file_name)}<br>"
            f"件数 / records: <b>{num(p.count)}</b> 件。{esc(personal)}<br>{esc(p.summary_ja)}"
            f"<br><small>{esc(p.summary_en)}</small>"
            + (f"<table class='wb-incoming-changes'>{rows}</table>" if rows else "") + note + "</div>")

    def _show_result(self) -> None:
        r = self.model.result
        if r is None:
            self.result_view.value = ""
            return
        # The kind's own summary says what was done, counts in words (no code is shown).
        self.result_view.value = (
            f"<div class='wb-incoming-result' style='padding:4px 0'><b>取込結果 / imported</b>: "
            f"{esc(getattr(r, 'message_ja', '') or '取り込みました。')}"
            f"<br><small>{esc(getattr(r, 'message_en', '') or 'Imported.')}</small></div>")

    # -- steps -----------------------------------------------------------------------------
    def preview(self) -> None:
        chosen = self.model.chosen
        if chosen is None or self.preview_button.disabled:
            return
        self.banner.clear()
        self.model.result = None
        self.check.value = False
        name, data = chosen
        self.model.preview = self._call(incoming.preview, self.spec_of(data).kind, data, file_name=name)

    def import_(self) -> None:
        p: IncomingPreview | None = self.model.preview
        chosen = self.model.chosen
        if p is None or chosen is None or self.import_button.disabled or not self.check.value:
            return
        name, data = chosen
        self.import_button.disabled = True
        result = self._call(incoming.import_file, p.kind, data, file_name=name, expected_digest=p.file_digest)
        if result is None:
            self._enable()
            return
        self.model.result = result
        self.check.value = False
        self._enable()
        self.banner.success(f"{self.specs[p.kind].file_ja}を取り込みました（{num(p.count)} 件）。"
                            "受け取った媒体のファイルは、取込後に削除してください。",
                            f"Imported the {self.specs[p.kind].file_en} ({num(p.count)} records). "
                            "Delete the file on the medium it came on.")
        self.medium.children = [MediumCopy(p.kind, p.reference, call=self._call, file_ja=self.specs[p.kind].file_ja)]
        if self._on_imported is not None:
            self._on_imported(result)
