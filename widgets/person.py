"""個人の照会 — one person's page, looked up by the internal person number (宛名番号).

The Individual Number is masked.  The reveal button exists only for a session that
holds ``numbers.reveal``; the service checks again and audits every reveal.  A
revealed number is hidden again on the next search, on 隠す, or when the app closes.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w
import traitlets as t

from workbench.core import labels
from workbench.core.permissions import Permission
from workbench.intake import persons
from workbench.intake.persons import PersonView

from .common import ActionButton, App, esc, fmt_datetime, wareki

__all__ = ["PersonApp", "PersonModel"]



class PersonModel(t.HasTraits):
    person = t.Any(None)  # PersonView | None
    revealed = t.Unicode("")  # the number in clear, while shown


class PersonApp(App):
    title_key = "app_person"

    def build(self) -> list[w.Widget]:
        self.model = PersonModel()
        self.person_id = w.Text(description="宛名番号 / Person ID", placeholder="P00000001",
                                style={"description_width": "140px"})
        self.search_button = ActionButton(description="照会 / Look up", button_style="primary", icon="search")
        self.search_button.on_click(lambda _b: self.lookup())
        self.details = w.HTML()
        self.number = w.HTML()
        self.can_reveal = self.session.can(Permission.NUMBERS_REVEAL)
        self.reveal_button: w.Button | None = None
        self.hide_button: w.Button | None = None
        number_row: list[w.Widget] = [self.number]
        if self.can_reveal:
            self.reveal_button = ActionButton(description="番号を表示（記録されます）/ Reveal (audited)",
                                          icon="eye", button_style="warning", disabled=True,
                                          layout=w.Layout(width="auto"))
            self.reveal_button.on_click(lambda _b: self.reveal())
            self.hide_button = ActionButton(description="隠す / Hide", icon="eye-slash", layout=w.Layout(display="none"))
            self.hide_button.on_click(lambda _b: setattr(self.model, "revealed", ""))
            number_row += [self.reveal_button, self.hide_button]
        self.model.observe(self._show_person, "person")
        self.model.observe(self._show_number, "revealed")
        return [w.HBox([self.person_id, self.search_button]), self.details, w.HBox(number_row)]

    # -- views ------------------------------------------------------------------------
    def _show_person(self, _change: Any = None) -> None:
        p: PersonView | None = self.model.person
        if p is None:
            self.details.value = ""
            self.number.value = ""
            if self.reveal_button is not None:
                self.reveal_button.disabled = True
            return
        rows = [
            ("宛名番号", p.person_id), ("世帯番号", p.household_id), ("氏名", p.name), ("カナ", p.kana),
            ("性別", labels.ja(p.sex, "sex")), ("生年月日", wareki(p.birth_date)), ("住所", p.address),
            ("区分", labels.ja(p.status, "person_status")),
            ("対象者リスト", "掲載" if p.listed else "非掲載"), ("死亡", "あり" if p.deceased else "-"),
            ("番号登録日時", fmt_datetime(p.registered_at) if p.registered_at else "未登録"),
        ]
        self.details.value = "<table class='wb-person'>" + "".join(
            f"<tr><th style='text-align:left;padding:2px 12px 2px 0'>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows
        ) + "</table>"
        self._show_number()
        if self.reveal_button is not None:
            self.reveal_button.disabled = p.number_masked is None

    def _show_number(self, _change: Any = None) -> None:
        p: PersonView | None = self.model.person
        if p is None:
            self.number.value = ""
            return
        if self.model.revealed:
            shown = f"<b class='wb-number' style='font-size:120%;letter-spacing:1px'>{esc(self.model.revealed)}</b>"
        else:
            shown = f"<span class='wb-number'>{esc(p.number_masked or '未登録 / not registered')}</span>"
        self.number.value = f"<div style='padding:4px 0'>個人番号 / Individual Number: {shown}</div>"
        if self.hide_button is not None:
            self.hide_button.layout.display = "flex" if self.model.revealed else "none"

    # -- handlers ------------------------------------------------------------------------
    def lookup(self) -> None:
        self.model.revealed = ""
        self.banner.clear()
        pid = self.person_id.value.strip()
        if not pid:
            self.banner.info("内部個人番号を入力してください。", "Enter the internal person number.")
            return
        self.model.person = self.call(persons.get, pid)

    def show(self, person_id: str) -> None:
        """Open on one person (from a row of another list)."""
        self.person_id.value = person_id
        self.lookup()

    def reveal(self) -> None:
        p: PersonView | None = self.model.person
        if p is None or not self.can_reveal:
            return
        number = self.call(persons.reveal_number, p.person_id)
        if number is not None:
            self.model.revealed = number
            self.banner.info("個人番号を表示しました。この操作は操作ログに記録されています。",
                             "The number is shown; this reveal is recorded in the audit log.")
