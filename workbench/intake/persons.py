"""One person's page (個人の照会画面): what is held, with the number masked.

A number is shown in clear only through :func:`reveal_number`, which needs the
``numbers.reveal`` permission and leaves its own audit record naming the person
(pseudonymised).  Everything else shows ``********9018``.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass
from typing import Any

from workbench.core import search_keys
from workbench.core.errors import InvalidInput, NotFound
from workbench.core.numbers import NumberCipher, mask_number
from workbench.core.paging import ListSpec, Page, PageRequest, SortKey, fetch_page
from workbench.core.permissions import Permission
from workbench.core.workspace import Unit, service

__all__ = ["SEARCH_LIST", "PersonHit", "PersonView", "active_filter", "get", "held_number", "not_suspended", "reveal_number",
           "search", "search_terms"]


def not_suspended(alias: str = "p") -> str:
    """SQL condition: the person ``alias.person_id`` has no open suspension of use (利用停止, F9)."""
    return f"{alias}.person_id NOT IN (SELECT person_id FROM suspended_persons)"


def active_filter(alias: str = "p") -> str:
    """SQL condition for a person who may be in a batch, export or statistic: on the current
    target list, not deceased (C7, III-7 ⑩), and not suspended (F9).  ``alias`` names ``persons``."""
    return f"({alias}.listed AND NOT {alias}.deceased AND {not_suspended(alias)})"


@dataclass(frozen=True)
class PersonView:
    person_id: str
    household_id: str
    name: str
    kana: str
    sex: str
    birth_date: dt.date
    address: str
    status: str
    listed: bool
    deceased: bool
    number_masked: str | None
    registered_at: dt.datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v) for k, v in self.__dict__.items()}


def held_number(unit: Unit, person_id: str) -> str | None:
    """The person's registered Individual Number in clear, or ``None``: for the caller's own permitted
    use inside its unit of work (the masked page, the reveal, the disclosure document)."""
    row = unit.con.execute(
        "SELECT number_ct, key_version FROM person_numbers WHERE person_id = ?", [person_id]
    ).fetchone()
    if row is None:
        return None
    return unit.workspace.number_cipher(row[1]).decrypt(row[0], person_id, table="person_numbers", column="number_ct")


@service(Permission.PERSONS_VIEW, target="person_id")
def get(unit: Unit, person_id: str) -> PersonView:
    """The person as held, number masked."""
    unit.note(target=person_id)
    row = unit.con.execute(
        "SELECT p.person_id, p.household_id, p.name, p.kana, p.sex, p.birth_date, p.address, p.status,"
        " p.listed, p.deceased, n.registered_at FROM persons p LEFT JOIN person_numbers n USING (person_id)"
        " WHERE p.person_id = ?",
        [person_id],
    ).fetchone()
    if row is None:
        raise NotFound("No such person in the target list.", "対象者リストに該当する人がいません。")
    number = held_number(unit, person_id)
    return PersonView(*row[:10], number_masked=mask_number(number) if number else None, registered_at=row[10])  # type: ignore[misc]


@service(Permission.NUMBERS_REVEAL, target="person_id")
def reveal_number(unit: Unit, person_id: str) -> str:
    """The Individual Number in clear, for a permitted task; this reveal is audited."""
    unit.note(target=person_id)
    number = held_number(unit, person_id)
    if number is None:
        raise NotFound("No number is registered for this person.", "この人の個人番号は登録されていません。")
    return number


# ------------------------------------------------------------------------------ search (issue 20 item 4)
#: The longest search text, in characters.
SEARCH_MAX = 60


@dataclass(frozen=True)
class PersonHit:
    """One person a search found, as a list shows them: number masked, birth date to the month."""

    person_id: str
    name: str
    kana: str
    sex: str
    birth_month: str          # "1976-09": the day is left out of a list
    ward_code: str | None
    status: str
    listed: bool
    deceased: bool
    number_masked: str | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


#: People as a search lists them, paging in the database (the search text is the service's own
#: bound parameter, never the list's free-text filter).
SEARCH_LIST = ListSpec(
    "個人の検索結果", "people found", "persons p LEFT JOIN households h USING (household_id)",
    sorts={"kana": SortKey("p.kana", "カナ", "kana"), "person_id": SortKey("p.person_id", "宛名番号", "person ID"),
           "birth_date": SortKey("p.birth_date", "生年月日", "birth date")},
    default_sort="kana", tiebreak="p.person_id",
    filters={"status": ("p.status", {"resident": "入居者", "applicant": "入居申込者"})},
)


def search_terms(text: str) -> tuple[str, str]:
    """What a search text asks for: ``("person_id", "P00000015")`` or ``("name", "タカハシハナコ")``.

    A 宛名番号 is recognised in any width or case; anything else is a name or kana.  Refuses
    an empty, over-long or control-character text with the reason in both languages."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("Enter a person ID (宛名番号), a name or its kana.",
                           "宛名番号、氏名またはカナを入力してください。", reason="empty")
    if len(text) > SEARCH_MAX:
        raise InvalidInput(f"The search text is too long (at most {SEARCH_MAX} characters).",
                           f"検索する文字が長すぎます（{SEARCH_MAX} 文字まで）。", reason="too_long")
    if any(unicodedata.category(c) in ("Cc", "Cf") and c not in "\u200b\ufeff" for c in text):
        raise InvalidInput("The search text contains control characters.",
                           "検索する文字に制御文字が含まれています。", reason="bad_text")
    person_id = search_keys.person_id_key(text)
    if person_id is not None:
        return "person_id", person_id
    key = search_keys.name_key(text)
    if not key:
        raise InvalidInput("Enter a person ID (宛名番号), a name or its kana.",
                           "宛名番号、氏名またはカナを入力してください。", reason="empty")
    return "name", key


@service(Permission.PERSONS_VIEW)
def search(unit: Unit, text: str, request: PageRequest | None = None) -> Page[PersonHit]:
    """People by 宛名番号 (any width or case) or by name or kana (width, spaces, hiragana or
    katakana and old or variant kanji do not matter), a page at a time, number masked.

    The text is compared literally (``%`` and ``_`` are characters).  The audit record says
    what kind of search it was and how many were found, never the text: it names someone."""
    kind, key = search_terms(text)
    request = request or PageRequest()
    if kind == "person_id":
        where = "p.person_id = $key"
    else:
        where = (f"(contains({search_keys.name_key_sql('p.name')}, $key)"
                 f" OR contains({search_keys.name_key_sql('p.kana')}, $key))")
    page = fetch_page(unit, SEARCH_LIST, request,
                      "p.person_id, p.name, p.kana, p.sex, strftime(p.birth_date, '%Y-%m'), h.ward_code, p.status,"
                      " p.listed, p.deceased", where=where, params={"key": key}, searched=kind)
    unit.note(hits=page.total)
    if kind == "person_id" and page.total:
        unit.note(target=key)
    numbers = _numbers(unit, [str(r[0]) for r in page.rows])
    return page.map(lambda r: PersonHit(*r, number_masked=numbers.get(str(r[0]))))  # type: ignore[misc]


def _numbers(unit: Unit, person_ids: list[str]) -> dict[str, str]:
    """The masked numbers of one page of people (decrypted here, only the last four leave)."""
    if not person_ids:
        return {}
    rows = unit.con.execute("SELECT person_id, number_ct, key_version FROM person_numbers"
                            " WHERE person_id IN (SELECT unnest(?::VARCHAR[]))", [person_ids]).fetchall()
    ciphers: dict[int, NumberCipher] = {}
    out: dict[str, str] = {}
    for pid, ct, version in rows:
        cipher = ciphers.setdefault(int(version), unit.workspace.number_cipher(int(version)))
        out[str(pid)] = mask_number(cipher.decrypt(ct, pid, table="person_numbers", column="number_ct"))
    return out
