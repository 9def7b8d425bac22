"""One screen component for every outgoing file (送付ファイル): preview → approval request →
confirm → create → hand-over.

:class:`OutgoingFileFlow` runs the flow of :mod:`workbench.files.outgoing` for any registered kind,
so each screen only supplies its parameter controls and, if it wants, its own drawing of the
preview (charts, tables):

1. 件数を確認 — the kind's preview service; its Japanese summary is shown at once;
2. 承認を依頼 — the approval request; the approval number is filled in for the next step;
3. 承認済みの…を作成 — enabled only once the approval number names an approved request of
   this kind by this person (looked up when the number is entered, and again with
   承認の状況を確認); counts again (the selection may have moved), then the check before
   sending (:class:`~widgets.common.ConfirmOutgoing`: recipient, count, approval);
4. 作成する — the create service; the package and its media-ledger entry are shown with
   「受け渡し済み」 for someone holding ``media.manage`` (:class:`~widgets.packages.PackageBox`).

Changing a parameter cancels what was previewed or confirmed (the host calls :meth:`reset`).
The service refuses whatever the screen lets through; the screen only keeps people from
clicking into a refusal.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as w
import traitlets as t

from workbench.core import approvals, labels
from workbench.files import outgoing
from workbench.files.outgoing import ExportResult, OutgoingFileSpec

from .common import ActionButton, ConfirmOutgoing, ErrorBanner, esc, fmt_datetime, num, tr
from .packages import PackageBox

__all__ = ["FlowModel", "OutgoingFileFlow"]


class FlowModel(t.HasTraits):
    preview = t.Any(None)
    approval = t.Any(None)
    result = t.Any(None)
    #: What the approval number entered names: its status (``approved``, ``pending``, …),
    #: ``other_kind`` / ``not_yours`` when it is not for this file by this person, or "".
    approval_state = t.Unicode("")


#: An approval number as the workbench issues them (A + 11 hex digits).
_APPROVAL_ID = re.compile(r"^A[0-9A-F]{11}$")

#: What the state of the entered approval means for the 作成 button, in words.
_STATE_WORDS: dict[str, tuple[str, str]] = {
    "approved": ("承認済みです。作成できます。", "approved: the file can be made"),
    "pending": ("承認待ちです。承認者が承認した後に「承認の状況を確認」を押してください。",
                "waiting for approval; check again once it is approved"),
    "rejected": ("却下されました。この承認番号では作成できません。", "rejected"),
    "expired": ("期限が切れました。もう一度承認を依頼してください。", "expired: request approval again"),
    "used": ("この承認番号は使用済みです。", "already used"),
    "other_kind": ("この承認番号は別の種類の依頼のものです。", "this approval is for another kind of file"),
    "not_yours": ("この承認番号は他の人の依頼です。依頼した本人だけが作成できます。",
                  "only the person who requested it can make the file"),
}


class OutgoingFileFlow(w.VBox):
    """The flow for one kind of outgoing file (``spec``), inside an app.

    ``call`` and ``banner`` are the owning app's (so refusals land in its banner and an
    expired session returns to the login screen); ``params`` returns the current
    parameters from the host's controls; ``detail`` are the host's widgets drawn under the
    buttons, refreshed by ``on_preview`` whenever the preview changes; ``extra`` adds rows to
    the package box from the result.
    """

    def __init__(self, spec: OutgoingFileSpec[Any, Any], *, session: Any, call: Callable[..., Any],
                 banner: ErrorBanner, params: Callable[[], dict[str, Any]] | None = None,
                 detail: Sequence[w.Widget] = (), on_preview: Callable[[Any], None] | None = None,
                 extra: Callable[[ExportResult], list[tuple[str, Any]]] | None = None,
                 ready: Callable[[], bool] | None = None, on_created: Callable[[ExportResult], None] | None = None,
                 request_label: str = "送付の承認を依頼 / Request approval") -> None:
        self.spec = spec
        self._ready = ready or (lambda: True)
        self._on_created = on_created
        self.session = session
        self._call = call
        self.banner = banner
        self._params = params or dict
        self._on_preview = on_preview
        self._extra = extra
        self.model = FlowModel()
        self.rejection: tuple[str, str] | None = None
        style = {"description_width": "120px"}
        self.preview_button = ActionButton(description="件数を確認 / Preview", icon="eye", button_style="primary",
                                       layout=w.Layout(width="auto"))
        self.request_button = ActionButton(description=request_label, icon="paper-plane", disabled=True,
                                       layout=w.Layout(width="auto"))
        self.view = w.HTML()
        self.approval_view = w.HTML()
        self.approval_id = w.Text(description="承認番号 / Approval", placeholder="A…", style=style,
                                  layout=w.Layout(width="420px"))
        self.create_button = ActionButton(description=f"承認済みの{spec.file_ja}を作成 / Make file", icon="file-archive-o",
                                      disabled=True, layout=w.Layout(width="auto"))
        self.check_button = ActionButton(description="承認の状況を確認 / Check approval", icon="refresh",
                                         disabled=True, layout=w.Layout(width="auto"))
        #: What the entered approval number names, beside it (before anyone clicks 作成).
        self.approval_state_view = w.HTML()
        self.confirm_area = w.VBox([])
        self.package_area = w.VBox([])
        self.preview_button.on_click(lambda _b: self.preview())
        self.request_button.on_click(lambda _b: self.request())
        self.create_button.on_click(lambda _b: self.confirm())
        self.check_button.on_click(lambda _b: self.check_approval())
        self.approval_id.observe(lambda _c: self._approval_typed(), "value")
        self.model.observe(lambda _c: self._show_state(), "approval_state")
        self.model.observe(lambda _c: self._show_preview(), "preview")
        self.model.observe(lambda _c: self._show_result(), "result")
        super().__init__([
            w.HBox([self.preview_button, self.request_button]), self.view, *detail, self.approval_view,
            w.HBox([self.approval_id, self.check_button, self.create_button],
                   layout=w.Layout(flex_flow="row wrap", align_items="center")),
            self.approval_state_view, self.confirm_area, self.package_area,
        ])
        self.add_class("wb-outgoing")
        self.add_class(f"wb-outgoing-{spec.kind}")

    # -- state -----------------------------------------------------------------------------
    def use(self, spec: OutgoingFileSpec[Any, Any]) -> None:
        """Switch to another kind sharing the same controls (F2 ↔ F3)."""
        self.spec = spec
        self.create_button.description = f"承認済みの{spec.file_ja}を作成 / Make file"
        self.reset()

    def reset(self) -> None:
        """A parameter changed: what was previewed, requested or confirmed no longer applies."""
        self.model.preview = None
        self.model.approval = None
        self.approval_view.value = ""
        self.confirm_area.children = []
        self._enable()

    def _enable(self) -> None:
        p = self.model.preview
        ready = self._ready()
        self.preview_button.disabled = not ready
        self.request_button.disabled = p is None or not p.count or self.model.approval is not None
        self.check_button.disabled = not _APPROVAL_ID.match(self.approval_id.value.strip())
        self.create_button.disabled = not ready or self.model.approval_state != "approved"

    # -- the approval entered ----------------------------------------------------------------
    def _approval_typed(self) -> None:
        """A complete approval number was entered (typed, pasted, or filled in by 承認を依頼):
        look it up once, so 作成 is offered only for an approved request of this kind by this person."""
        self.model.approval_state = ""
        if _APPROVAL_ID.match(self.approval_id.value.strip()):
            self.check_approval()
        self._enable()

    def open_approval(self, approval: Any) -> None:
        """Opened from the inbox on one of this person's requests: its number in the box and its state
        shown (approved: the file can be made; rejected: the approver's reason)."""
        if self.approval_id.value == approval.approval_id:
            self.check_approval()
        else:
            self.approval_id.value = approval.approval_id  # looked up as a typed number is

    def check_approval(self) -> None:
        approval_id = self.approval_id.value.strip()
        if not _APPROVAL_ID.match(approval_id):
            self.model.approval_state = ""
            return
        a = self._call(approvals.get, approval_id)
        # the approver's words when it was rejected (issue 20 item 6): the requester reads why
        self.rejection = approvals.rejection_words(a) if a is not None and a.status == "rejected" else None
        if a is None:
            self.model.approval_state = ""
        elif a.kind != self.spec.kind:
            self.model.approval_state = "other_kind"
        elif a.requested_by != self.session.user_id:
            self.model.approval_state = "not_yours"
        else:
            self.model.approval_state = a.status

    def _show_state(self) -> None:
        state = self.model.approval_state
        if not state:
            self.approval_state_view.value = ""
            return
        ja, en = _STATE_WORDS.get(state, (labels.ja(state, "approval_status"), labels.en(state, "approval_status")))
        if state == "rejected" and self.rejection is not None:
            ja, en = self.rejection
        color = "#2e7d32" if state == "approved" else "#c62828"
        self.approval_state_view.value = (f"<div class='wb-approval-state' style='color:{color}'>"
                                          f"{esc(self.approval_id.value.strip())}: {esc(ja)} / {esc(en)}</div>")
        self._enable()

    def _show_preview(self) -> None:
        self._enable()
        p = self.model.preview
        if p is None:
            self.view.value = ""
        else:
            self.view.value = (f"<div class='wb-outgoing-summary' style='padding:4px 0'>{esc(p.summary_ja())}</div>"
                               + ("" if p.count else "<div style='color:#c62828'>送付するものがないため、承認の依頼はできません。"
                                                     " / Nothing to send.</div>"))
        if self._on_preview is not None:
            self._on_preview(p)

    def _show_result(self) -> None:
        r: ExportResult | None = self.model.result
        if r is None:
            self.package_area.children = []
            return
        self.package_area.children = [PackageBox.for_session(
            r.ledger_entry, title=f"{self.spec.file_ja}の送付用パッケージを作成しました / package written",
            call=self._call, session=self.session, extra=self._extra(r) if self._extra else None)]

    # -- steps -----------------------------------------------------------------------------
    def preview(self) -> None:
        if self.preview_button.disabled:
            return
        self.banner.clear()
        self.model.result = None
        self.reset()
        self.model.preview = self._call(outgoing.preview, self.spec.kind, **self._params())

    def request(self) -> None:
        p = self.model.preview
        if p is None or not p.count or self.model.approval is not None:
            return
        approval = self._call(outgoing.request, self.spec.kind, **self._params())
        if approval is None:
            return
        self.model.approval = approval
        self.approval_id.value = approval.approval_id
        self._enable()
        self.approval_view.value = (
            f"<div class='wb-approval-requested'>承認番号 / approval: <b>{esc(approval.approval_id)}</b>"
            f"　件数 {num(p.count)} 件　期限 / expires: {esc(fmt_datetime(approval.expires_at))}</div>")
        self.banner.success(
            f"{self.spec.file_ja}の承認を依頼しました（承認番号 {approval.approval_id}）。承認後に作成できます。",
            f"Approval requested ({approval.approval_id}); make the file once it is approved.")

    def confirm(self) -> None:
        """Count again (the selection may have moved since), then the check before sending."""
        approval_id = self.approval_id.value.strip()
        if not approval_id:
            self.banner.info("承認番号を入力してください。", "Enter the approval ID.")
            return
        if self.create_button.disabled:
            return
        params = self._params()
        p = self._call(outgoing.preview, self.spec.kind, **params)
        if p is None:
            return
        self.model.preview = p
        if not p.count:
            self.banner.info("送付するものが 0 件のため、作成できません。", "Nothing to send.")
            return
        numbers = "このファイルには個人番号が含まれます。" if self.spec.holds_numbers else ""
        kind = self.spec.kind
        self.confirm_area.children = [ConfirmOutgoing(
            self.spec.recipient, p.count, on_confirm=lambda: self.create(approval_id, params, kind),
            on_cancel=self._cancelled, detail=f"承認番号 {approval_id}。{p.summary_ja()}{numbers}",
        )]

    def create(self, approval_id: str, params: dict[str, Any], kind: str | None = None) -> None:
        self.confirm_area.children = []
        if params != self._params() or kind not in (None, self.spec.kind):  # changed under the dialog
            self.banner.info("条件が変わったため作成しませんでした。もう一度確認してください。",
                             "The selection changed; nothing was made. Check again.")
            return
        result = self._call(outgoing.create, self.spec.kind, approval_id=approval_id, **params)
        if result is None:
            return
        self.model.result = result
        self.model.approval = None
        self.approval_id.value = ""
        self.approval_view.value = ""
        self.banner.success(
            f"{self.spec.recipient_ja} 宛ての{self.spec.file_ja} {num(result.record_count)} 件の送付用パッケージを作成しました。",
            f"Wrote the {self.spec.file_en} package ({num(result.record_count)} records).")
        if self._on_created is not None:
            self._on_created(result)

    def _cancelled(self) -> None:
        self.confirm_area.children = []
        self.banner.info(*(tr("cancelled", lang) for lang in ("ja", "en")))
