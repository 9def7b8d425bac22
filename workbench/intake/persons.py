"""One person's page (個人の照会画面): what is held, with the number masked.

A number is shown in clear only through :func:`reveal_number`, which needs the
``numbers.reveal`` permission and leaves its own audit record naming the person
(pseudonymised).  Everything else shows ``********9018``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from workbench.core.errors import NotFound
from workbench.core.numbers import mask_number
from workbench.core.permissions import Permission
from workbench.core.workspace import Unit, service

__all__ = ["PersonView", "active_filter", "get", "held_number", "not_suspended", "reveal_number"]


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
