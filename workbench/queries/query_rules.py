"""What may be asked, for which procedure: the query rules as data (U1–U3, F2, F3).

The table lives in ``workbench/data/query_rules.json`` (package data), never in code
(DESIGN §7: "code tables are data, not code").  It says, for each housing procedure
P1–P6 (REQUIREMENTS §1), which kinds of specific personal information may be asked
of the linkage server (地方税関係情報, 生活保護関係情報, 身体障害者手帳, 精神障害者保健福祉手帳,
愛の手帳, 住民票関係情報), whether each is *contact-type* (連絡先等情報, U1) or
*business-type* (業務関係情報, U2), the legal basis, and the codes written into the
information-query file (事務コード, 事務手続コード, 特定個人情報名コード …).

Official code tables are not public: every code marked ``illustrative`` is this
project's invention and must be replaced by the official table (only
``TM00000000000002`` for local tax follows the public fragment).  :func:`load_rules`
validates the file once and returns a typed, immutable view.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from workbench.core import labels
from workbench.core.clock import JST
from workbench.core.errors import InvalidInput

__all__ = [
    "FileCodes",
    "Information",
    "Procedure",
    "QueryRules",
    "check_fiscal_year",
    "current_fiscal_year",
    "load_rules",
]

FORMAT = "workbench-query-rules/1"
InfoKind = Literal["contact", "business"]
Period = Literal["fiscal_year", "as_of"]


@dataclass(frozen=True)
class Information:
    """One kind of specific personal information that can be queried."""

    key: str
    label_ja: str
    label_en: str
    #: ``contact`` (連絡先等情報: U1 household inclusion) or ``business`` (業務関係情報: U2 consent).
    kind: InfoKind
    #: 特定個人情報名コード written into the request file.
    info_code: str
    #: True when the code is this project's invention (the official table is not public).
    illustrative: bool
    #: ``fiscal_year``: the period is the fiscal year asked for; ``as_of``: the request date.
    period: Period
    via: str


@dataclass(frozen=True)
class Procedure:
    """A housing procedure (事務手続) and what it may ask (U3)."""

    code: str
    label_ja: str
    label_en: str
    jimu_code: str
    procedure_code: str
    illustrative: bool
    legal_basis: str
    #: Information keys this procedure is permitted to query, in the table's order.
    information: tuple[str, ...]
    #: Whether Juki-net identity confirmation (F3) is permitted for this procedure.
    juki: bool


@dataclass(frozen=True)
class FileCodes:
    """Fixed codes of the information-query request file (DESIGN §7)."""

    number_system: str
    agency_code: str
    department_code: str
    nondisclosure_code: str
    delegator_agency_code: str
    delegator_jimu_code: str
    moved_from_code: str
    condition_code: dict[str, str]
    year_code: dict[str, str]


@dataclass(frozen=True)
class QueryRules:
    """The whole rules table (typed view of ``query_rules.json``)."""

    version: str
    legal_basis: dict[str, str]
    file_codes: FileCodes
    information: dict[str, Information]
    procedures: dict[str, Procedure]
    illustrative_ja: str
    illustrative_en: str

    def procedure(self, code: str) -> Procedure:
        """The procedure ``code`` (P1–P6), or a bilingual refusal naming the valid codes."""
        try:
            return self.procedures[code]
        except KeyError:
            valid = ", ".join(self.procedures)
            raise InvalidInput(
                f"Unknown procedure code {code!r}; use one of {valid}.",
                f"手続コード {code!r} は不明です。{valid} のいずれかを指定してください。",
                reason="unknown_procedure",
            ) from None

    def info(self, key: str) -> Information:
        """The information kind ``key``, or a bilingual refusal naming the valid keys."""
        try:
            return self.information[key]
        except KeyError:
            valid = ", ".join(self.information)
            raise InvalidInput(
                f"Unknown information kind {key!r}; use one of {valid}.",
                f"照会する情報 {key!r} は不明です。{valid} のいずれかを指定してください。",
                reason="unknown_information",
            ) from None

    def permitted(self, procedure: str, information: str) -> bool:
        """U3: whether ``procedure`` may query ``information`` at all."""
        proc = self.procedures.get(procedure)
        return proc is not None and information in proc.information


def _parse(doc: dict[str, Any]) -> QueryRules:
    if doc.get("format") != FORMAT:
        raise ValueError(f"query rules: format must be {FORMAT}")
    infos = {
        key: Information(
            key=key, label_ja=v["label_ja"], label_en=v["label_en"], kind=v["kind"], info_code=v["info_code"],
            illustrative=bool(v["illustrative"]), period=v["period"], via=v["via"],
        )
        for key, v in doc["information"].items()
    }
    for info in infos.values():
        if info.kind not in ("contact", "business") or info.period not in ("fiscal_year", "as_of"):
            raise ValueError(f"query rules: bad kind or period for {info.key}")
    procs = {
        code: Procedure(
            code=code, label_ja=v["label_ja"], label_en=v["label_en"], jimu_code=v["jimu_code"],
            procedure_code=v["procedure_code"], illustrative=bool(v["illustrative"]), legal_basis=v["legal_basis"],
            information=tuple(v["information"]), juki=bool(v["juki"]),
        )
        for code, v in doc["procedures"].items()
    }
    for proc in procs.values():
        unknown = [k for k in proc.information if k not in infos]
        if unknown:
            raise ValueError(f"query rules: {proc.code} names unknown information {unknown}")
    fc = doc["file_codes"]
    codes = FileCodes(
        number_system=fc["number_system"]["code"], agency_code=fc["agency_code"]["code"],
        department_code=fc["department_code"]["code"], nondisclosure_code=fc["nondisclosure_code"]["code"],
        delegator_agency_code=fc["delegator_agency_code"]["code"], delegator_jimu_code=fc["delegator_jimu_code"]["code"],
        moved_from_code=fc["moved_from_code"]["code"],
        condition_code={k: fc["condition_code"][k] for k in ("fiscal_year", "as_of")},
        year_code={k: fc["year_code"][k] for k in ("fiscal_year", "as_of")},
    )
    return QueryRules(
        version=str(doc["version"]), legal_basis=dict(doc["legal_basis"]), file_codes=codes, information=infos,
        procedures=procs, illustrative_ja=doc["illustrative_ja"], illustrative_en=doc["illustrative_en"],
    )


@functools.cache
def load_rules() -> QueryRules:
    """The packaged rules table, parsed and checked once per process."""
    text = resources.files("workbench").joinpath("data/query_rules.json").read_text("utf-8")
    return _parse(json.loads(text))


#: The fiscal year (年度) starts in this month (April).
FISCAL_YEAR_START_MONTH = 4


def current_fiscal_year(now: dt.datetime | dt.date) -> int:
    """The fiscal year a date falls in: 2027-03-31 is in 2026年度, 2027-04-01 in 2027年度 (JST)."""
    day = now.astimezone(JST).date() if isinstance(now, dt.datetime) else now
    return day.year if day.month >= FISCAL_YEAR_START_MONTH else day.year - 1


def check_fiscal_year(value: Any) -> int:
    """A fiscal year (年度) as a 4-digit Western year, or a clear refusal."""
    try:
        year = int(value)
    except (TypeError, ValueError):
        year = -1
    if not 2000 <= year <= 2100:
        raise InvalidInput("The fiscal year must be a 4-digit year (2000-2100).",
                           "年度は西暦 4 桁（2000〜2100）で指定してください。", reason="bad_fiscal_year")
    return year


def _register_words() -> None:
    """The information kinds and procedures of the packaged rules, in the words table."""
    rules = load_rules()
    labels.register("information", {k: (v.label_ja, v.label_en) for k, v in rules.information.items()})
    labels.register("procedure", {k: (v.label_ja, v.label_en) for k, v in rules.procedures.items()})


_register_words()
