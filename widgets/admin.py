"""ユーザー管理 — users and roles for the administrator (C5, C6).

Add a user ID (no roles; the authenticator QR code is shown once), ask a second
person to approve a role grant and carry it out once approved, remove a role, disable
an ID, and the yearly review.  No personal data of residents here.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w
import traitlets as t

from workbench.controls import users
from workbench.controls.users import UserInfo
from workbench.core import credentials
from workbench.core.permissions import ROLE_LABELS, Permission, Role

from .common import ActionButton, App, esc, fmt_datetime, num
from .grid import GridColumn, RecordGrid

__all__ = ["AdminApp", "AdminModel"]

ROLE_OPTIONS = [(f"{ja} / {en}", r.value) for r, (ja, en) in ROLE_LABELS.items()]


def role_names(roles: tuple[str, ...] | list[str]) -> str:
    return "、".join(ROLE_LABELS[Role(r)][0] for r in roles) or "（なし）"


class AdminModel(t.HasTraits):
    users: t.List[Any] = t.List()
    enrolment_uri = t.Unicode("")  # shown once as a QR code, then cleared
    last_approval_id = t.Unicode("")
    review = t.Dict()


class AdminApp(App):
    title_key = "app_admin"

    def build(self) -> list[w.Widget]:
        self.model = AdminModel()
        style = {"description_width": "160px"}
        self.can_manage = self.session.can(Permission.USERS_MANAGE)
        self.can_review = self.session.can(Permission.USERS_REVIEW)

        # users list: a grid paging in the database; a chosen row is the user the forms below act on
        self.users_table = RecordGrid(
            fetch=lambda r: self.call(users.user_page, r), key=lambda u: u.user_id,
            columns=[GridColumn("ユーザーID", lambda u: u.user_id), GridColumn("氏名", lambda u: u.display_name),
                     GridColumn("役割", lambda u: role_names(u.roles)),
                     GridColumn("状態", lambda u: "無効" if u.disabled else ("ロック中" if u.locked else "有効")),
                     GridColumn("登録日時", lambda u: fmt_datetime(u.created_at)),
                     GridColumn("最終ログイン", lambda u: fmt_datetime(u.last_login_at)),
                     GridColumn("最終点検", lambda u: fmt_datetime(u.reviewed_at))],
            sorts=users.USER_LIST.sort_options(), placeholder="ユーザーID・氏名・役割", autoload=False,
            on_select=lambda u: self._user_chosen(u), css_class="wb-users-table")
        self.refresh_button = ActionButton(description="一覧を更新 / Refresh", icon="refresh")
        self.refresh_button.on_click(lambda _b: self.refresh())

        # add user
        self.new_id = w.Text(description="ユーザーID / User ID", style=style)
        self.new_name = w.Text(description="氏名 / Name", style=style)
        self.new_password = w.Password(description="初期パスワード / Password", style=style)
        self.add_button = ActionButton(description="ユーザーを追加 / Add user", button_style="primary", icon="user-plus")
        self.add_button.on_click(lambda _b: self.add_user())
        self.qr = w.HTML()
        self.qr_done = ActionButton(description="登録完了（QRを消す）/ Done", icon="eye-slash",
                                layout=w.Layout(display="none"))
        self.qr_done.on_click(lambda _b: setattr(self.model, "enrolment_uri", ""))
        add_box = w.VBox([w.HTML("<h4>ユーザーの追加 / Add a user</h4>"), self.new_id, self.new_name,
                          self.new_password, self.add_button, self.qr, self.qr_done])

        # roles
        self.user_pick = w.Dropdown(description="ユーザー / User", options=[], style=style)
        self.role_pick = w.Dropdown(description="役割 / Role", options=ROLE_OPTIONS, style=style)
        self.request_button = ActionButton(description="付与の承認を依頼 / Request grant", icon="paper-plane")
        self.request_button.on_click(lambda _b: self.request_grant())
        self.approval_id = w.Text(description="承認番号 / Approval", placeholder="A…", style=style)
        self.grant_button = ActionButton(description="承認済みの付与を実行 / Grant", icon="check")
        self.grant_button.on_click(lambda _b: self.grant())
        self.revoke_button = ActionButton(description="役割を外す / Revoke", icon="minus-circle")
        self.revoke_button.on_click(lambda _b: self.revoke())
        self.disable_check = w.Checkbox(description="このIDを無効化する / Disable this ID", indent=False)
        self.disable_button = ActionButton(description="無効化 / Disable", button_style="danger", icon="ban", disabled=True)
        self.disable_check.observe(lambda c: setattr(self.disable_button, "disabled", not c["new"]), "value")
        self.disable_button.on_click(lambda _b: self.disable())
        roles_box = w.VBox([
            w.HTML("<h4>役割と無効化 / Roles and disabling</h4>"), self.user_pick, self.role_pick,
            w.HBox([self.request_button, self.revoke_button]), w.HBox([self.approval_id, self.grant_button]),
            w.HBox([self.disable_check, self.disable_button]),
        ])

        # review
        self.review_button = ActionButton(description="年次点検を表示 / Yearly review", icon="list")
        self.review_button.on_click(lambda _b: self.run_review())
        self.review_html = w.HTML()
        # Recording the review is the signed-off review's alone (a second person's approval): the
        # ID・権限の棚卸し screen (widgets.lifecycle.IdReviewApp), issue 18 item 5.
        review_box = w.VBox([w.HTML("<h4>年次点検 / Yearly review (C6)</h4>"), self.review_button, self.review_html,
                             w.HTML("<div><small>点検の記録は「ID・権限の棚卸し」画面で、別の職員の承認を得て行います。"
                                    " / The review is recorded on the yearly ID review screen, with a second person's"
                                    " sign-off.</small></div>")])

        self.model.observe(self._show_users, "users")
        self.model.observe(self._show_qr, "enrolment_uri")
        self.model.observe(self._show_review, "review")

        children: list[w.Widget] = []
        if self.can_manage:
            children += [w.HBox([self.refresh_button]), self.users_table, add_box, roles_box]
        if self.can_review:
            children.append(review_box)
        if self.can_manage:
            self.refresh()
        return children

    # -- views --------------------------------------------------------------------------
    def _show_users(self, _change: Any = None) -> None:
        kept = self.user_pick.value
        self.user_pick.options = [u.user_id for u in self.model.users]
        if kept in self.user_pick.options:
            self.user_pick.value = kept  # never move the choice by itself

    def _user_chosen(self, user: Any) -> None:
        if user is not None and user.user_id in self.user_pick.options:
            self.user_pick.value = user.user_id

    def _show_qr(self, _change: Any = None) -> None:
        uri = self.model.enrolment_uri
        if not uri:
            self.qr.value = ""
            self.qr_done.layout.display = "none"
            return
        self.qr.value = (
            "<div class='wb-qr'><p>認証アプリでこのQRコードを読み取ってください。この画面を閉じると二度と表示されません。"
            "<br><small>Scan this code with the authenticator app; it is shown only once.</small></p>"
            f"<div style='width:220px'>{credentials.qr_svg(uri)}</div></div>"
        )
        self.qr_done.layout.display = "flex"

    def _show_review(self, _change: Any = None) -> None:
        r = self.model.review
        if not r:
            self.review_html.value = ""
            return
        overdue = r.get("overdue_review", [])
        unused = r.get("unused_90_days", [])
        self.review_html.value = (
            f"<div>有効なID / active IDs: <b>{num(r.get('active', 0))}</b> 件、"
            f"点検期限超過 / overdue: <b>{num(len(overdue))}</b> 件、"
            f"90日以上未使用 / unused 90 days: <b>{num(len(unused))}</b> 件</div>"
            + (f"<div>点検期限超過: {esc('、'.join(overdue))}</div>" if overdue else "")
            + (f"<div>90日以上未使用: {esc('、'.join(unused))}</div>" if unused else "")
        )

    # -- handlers -------------------------------------------------------------------------
    def refresh(self) -> None:
        result = self.call(users.list_users)
        if result is not None:
            self.model.users = list(result)
            self.users_table.refresh()

    def add_user(self) -> None:
        password = self.new_password.value
        self.new_password.value = ""
        enrolment = self.call(users.add, self.new_id.value.strip(), self.new_name.value.strip(), password)
        if enrolment is None:
            return
        self.banner.success(f"ユーザーID {enrolment.user_id} を追加しました（役割なし）。",
                            f"Added user ID {enrolment.user_id} (no roles yet).")
        self.model.enrolment_uri = enrolment.otpauth_uri
        self.new_id.value = self.new_name.value = ""
        self.refresh()

    def request_grant(self) -> None:
        if not self.user_pick.value:
            return
        approval = self.call(users.request_grant, self.user_pick.value, self.role_pick.value)
        if approval is None:
            return
        self.model.last_approval_id = approval.approval_id
        self.approval_id.value = approval.approval_id
        self.banner.success(
            f"承認を依頼しました（承認番号 {approval.approval_id}）。別の職員が承認した後に「付与を実行」してください。",
            f"Approval requested ({approval.approval_id}); grant once another person has approved it.",
        )

    def grant(self) -> None:
        info: UserInfo | None = self.call(users.grant, self.user_pick.value, self.role_pick.value,
                                          approval_id=self.approval_id.value.strip())
        if info is not None:
            self.banner.success(f"{info.user_id} に役割を付与しました: {role_names(info.roles)}",
                                f"Granted; {info.user_id} now has: {', '.join(info.roles)}")
            self.approval_id.value = ""
            self.refresh()

    def revoke(self) -> None:
        info = self.call(users.revoke, self.user_pick.value, self.role_pick.value)
        if info is not None:
            self.banner.success(f"{info.user_id} の役割を外しました。現在: {role_names(info.roles)}",
                                f"Revoked; {info.user_id} now has: {', '.join(info.roles) or 'none'}")
            self.refresh()

    def disable(self) -> None:
        if not self.disable_check.value or not self.user_pick.value:
            return
        info = self.call(users.disable, self.user_pick.value)
        self.disable_check.value = False
        if info is not None:
            self.banner.success(f"ユーザーID {info.user_id} を無効化しました。", f"Disabled {info.user_id}.")
            self.refresh()

    def run_review(self) -> None:
        result = self.call(users.review)
        if result is not None:
            self.model.review = result
