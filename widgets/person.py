"""個人の照会 — one person's page, found as the office speaks (issue 20 item 4).

One search box takes a 宛名番号 in any width or case (``p00000015``, ``Ｐ００００００１５``) or a
name or kana (width, spaces, hiragana or katakana, old or variant kanji do not matter): the
service :func:`workbench.intake.persons.search` finds them in the database, a page at a time,
numbers masked and birth dates to the month, and audits the search (never the text).  The
people found are listed in the :class:`~widgets.grid.RecordGrid`; choosing a row opens that
person.  A 宛名番号 that names one person opens them at once.

The Individual Number is masked.  The reveal button exists only for a session that
holds ``numbers.reveal``; the service checks again and audits every reveal.  A
revealed number is hidden again on the next search, on 隠す, or when the app closes.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w
import traitlets as t

from workbench.core import labels
from workbench.core.paging import Page, PageRequest
from workbench.core.permissions import Permission
from workbench.intake import persons
from workbench.intake.persons import PersonHit, PersonView

from .common import ActionButton, App, esc, fmt_datetime, wareki
from .grid import GridColumn, RecordGrid

__all__ = ["PersonApp", "PersonModel"]



class PersonModel(t.HasTraits):
    person = t.Any(None)  # PersonView | None
    revealed = t.Unicode("")  # the number in clear, while shown
    #: The text the people found were searched with ("" before the first search).
    searched = t.Unicode("")


def _birth_month(hit: PersonHit) -> str:
    """「昭和51年9月」: a list shows the birth date to the month only."""
    import datetime as dt

    year, month = (int(x) for x in hit.birth_month.split("-"))
    return wareki(dt.date(year, month, 1), gregorian=False).rsplit("1日", 1)[0]


class PersonApp(App):
    title_key = "app_person"

    def build(self) -> list[w.Widget]:
        self.model = PersonModel()
        #: The one search box: a 宛名番号 in any width or case, or a name or kana.
        self.person_id = w.Text(description="宛名番号・氏名・カナ", placeholder="P00000001、高橋 花子、たかはし",
                                style={"description_width": "140px"}, layout=w.Layout(width="480px"))
        self.search_button = ActionButton(description="検索 / Search", button_style="primary", icon="search")
        self.search_button.on_click(lambda _b: self.lookup())
        #: The people found, a page at a time from the database; choosing a row opens that person.
        self.results = RecordGrid(
            fetch=self._fetch_found, key=lambda h: h.person_id,
            columns=[GridColumn("宛名番号", lambda h: h.person_id), GridColumn("氏名", lambda h: h.name),
                     GridColumn("カナ", lambda h: h.kana), GridColumn("性別", lambda h: labels.ja(h.sex, "sex")),
                     GridColumn("生年月", _birth_month), GridColumn("区市町村", lambda h: labels.ward_name(h.ward_code)),
                     GridColumn("区分", lambda h: labels.ja(h.status, "person_status")),
                     GridColumn("個人番号", lambda h: h.number_masked or "未登録"),
                     GridColumn("備考", lambda h: "、".join(word for word, on in (("死亡", h.deceased), ("非掲載", not h.listed))
                                                          if on))],
            sorts=persons.SEARCH_LIST.sort_options(), searchable=False, autoload=False,
            on_select=self._found_chosen, css_class="wb-person-results", empty="該当する人がいません")
        self.results.layout.display = "none"
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
        return [w.HBox([self.person_id, self.search_button]), self.results, self.details, w.HBox(number_row)]

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
        """Search with the box's text: the people found in the grid; one 宛名番号 found opens at once."""
        self.model.revealed = ""
        self.model.person = None
        self.banner.clear()
        text = self.person_id.value.strip()
        if not text:
            self.banner.info("宛名番号、氏名またはカナを入力してください。", "Enter a person ID, a name or its kana.")
            return
        self.model.searched = text
        self.results.model.offset = 0
        self.results.model.selected = ""
        self.results.refresh()
        page: Page[PersonHit] | None = self.results.model.page
        if page is None:
            self.results.layout.display = "none"
            return
        self.results.layout.display = "flex"
        if page.total == 0:
            self.banner.info("該当する人がいません。宛名番号、氏名またはカナを確かめてください。",
                             "No one matches; check the person ID, name or kana.")
        elif page.total == 1 and persons.search_terms(text)[0] == "person_id":
            self.open_one(page.rows[0].person_id)

    def _fetch_found(self, request: PageRequest) -> Page[PersonHit] | None:
        if not self.model.searched:
            return None
        return self.call(persons.search, self.model.searched, request)

    def _found_chosen(self, hit: PersonHit | None) -> None:
        if hit is not None:
            self.open_one(hit.person_id)

    def open_one(self, person_id: str) -> None:
        """Show one person's page (its own service checks the right and audits the view)."""
        self.model.revealed = ""
        self.model.person = self.call(persons.get, person_id)
        if self.model.person is not None:
            self.place_changed("person", person_id)

    def open_at(self, opened: Any) -> bool:
        """The dashboard opens this screen on one person (a reload, or the next login, returns here)."""
        if opened.place.kind != "person":
            return False
        self.show(opened.place.ref)
        return self.model.person is not None

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
