"""Disclosure, correction and suspension of use (開示・訂正・利用停止請求, F9, V-1).

* :func:`disclose` — everything held about one person, as a printable HTML document in
  Japanese (印刷して交付): the four basic items, the number, the integrated number, the
  filings, every query and its result, the discrepancies, corrections and suspensions,
  inquiries, and **who accessed the record and when**, read from the audit trail by the
  person's pseudonym (audit targets are keyed HMACs, :func:`workbench.core.audit.pseudonym`;
  user references are resolved the same way against the user table).  Producing it is
  audited; when written to a file the copy is recorded in the media ledger.
* :func:`correct` — one held item corrected; the old and new values stay in the encrypted
  store (``corrections``), the audit record holds the field and keyed digests of both.
  Items that may not be corrected here (the Individual Number — through the registration
  review — the internal numbers, the list status) are refused.
* :func:`suspend` / :func:`lift_suspension` — suspension of use with its reason: the person
  is left out of every later batch, export and statistic (``suspended_persons``, used by
  :func:`workbench.intake.persons.active_filter`) until lifted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core import audit, labels
from workbench.core.errors import InvalidInput, NotFound
from workbench.core.numbers import mask_number
from workbench.core.paging import ListSpec, Page, PageRequest, SortKey, fetch_page
from workbench.core.permissions import Permission
from workbench.core.printing import pdf_bytes
from workbench.core.workspace import Unit, service
from workbench.files.query_files import CERTIFICATE_TYPES
from workbench.intake import persons
from workbench.lifecycle.inquiries import CATEGORIES, CHANNELS

__all__ = ["CORRECTABLE", "Disclosure", "correct", "disclose", "lift_suspension", "suspend", "suspension_page", "suspensions"]

#: What a correction request may change, with its label.
CORRECTABLE: dict[str, tuple[str, str]] = {
    "name": ("氏名", "name"),
    "kana": ("氏名カナ", "name in kana"),
    "sex": ("性別", "sex"),
    "birth_date": ("生年月日", "birth date"),
    "address": ("住所", "address"),
}
_NOT_CORRECTABLE = {
    "individual_number": ("個人番号は番号登録（相違の確認）で訂正してください", "the Individual Number is corrected through registration review"),
    "person_id": ("宛名番号は都住システムの番号のため訂正できません", "the internal person number belongs to the housing system"),
    "household_id": ("世帯番号は対象者リストの取込で変わります", "the household changes through the target list"),
    "status": ("入居区分は対象者リストの取込で変わります", "the status changes through the target list"),
}


@dataclass
class Disclosure:
    person_id: str
    html: str
    sections: dict[str, int]
    accesses: int
    path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"person_id": self.person_id, "sections": self.sections, "accesses": self.accesses, "path": self.path,
                "html_bytes": len(self.html.encode("utf-8"))}


def _wareki(value: Any) -> str:
    if not isinstance(value, (dt.date, dt.datetime)):
        return "" if value is None else str(value)
    d = value.date() if isinstance(value, dt.datetime) else value
    era = f"令和{d.year - 2018}年" if d >= dt.date(2019, 5, 1) else f"平成{d.year - 1988}年" if d.year >= 1989 else f"昭和{d.year - 1925}年"
    text = f"{era}{d.month}月{d.day}日（{d.isoformat()}）"
    if isinstance(value, dt.datetime):
        text += value.astimezone(dt.timezone(dt.timedelta(hours=9))).strftime(" %H:%M")
    return text


#: The codes a citizen would otherwise read in the document, in words (issue 23).
labels.register("tax_status", {"1": ("課税", "taxable"), "2": ("非課税", "not taxable")})
labels.register("juki_result", {"00": ("該当あり", "found"), "10": ("該当なし", "not found"), "90": ("照会エラー", "query error")})
_FIELD_WORDS = {"name": "氏名", "kana": "氏名カナ", "sex": "性別", "birth_date": "生年月日", "address": "住所",
                "deceased": "死亡", "income": "所得金額", "taxable_income": "所得金額", "household_size": "世帯人員",
                "assistance": "生活保護", "certificate_type": "手帳種別", "certificate_grade": "等級"}


def _word(code: Any, domain: str | None = None) -> str:
    """A code in the words of the label table (an unknown code is shown as it is, never hidden)."""
    return "" if code is None else labels.ja(code, domain)


def _yes_no(value: Any, yes: str, no: str) -> str:
    return "" if value is None else (yes if value else no)


def _table(title: str, headers: list[str], rows: list[list[Any]], empty: str = "該当する記録はありません。") -> str:
    out = [f"<h2>{html.escape(title)}</h2>"]
    if not rows:
        out.append(f"<p>{html.escape(empty)}</p>")
        return "\n".join(out)
    out.append("<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in headers) + "</tr></thead><tbody>")
    for r in rows:
        cells = [_wareki(v) if isinstance(v, (dt.date, dt.datetime)) else ("" if v is None else str(v)) for v in r]
        out.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


_STYLE = """<style>
body { font-family: "Noto Sans JP", "Hiragino Sans", "Yu Gothic", sans-serif; margin: 2em; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; border-bottom: 1px solid #444; margin-top: 1.6em; }
table { border-collapse: collapse; width: 100%; font-size: 0.9em; } th, td { border: 1px solid #888; padding: 2px 6px; }
th { background: #eee; } @media print { body { margin: 0; } }
</style>"""


def _user_names(unit: Unit, key: bytes) -> dict[str, str]:
    names = {audit.pseudonym(key, "system"): "system（システム処理）"}
    for user_id, display in unit.con.execute("SELECT user_id, display_name FROM users").fetchall():
        names[audit.pseudonym(key, user_id)] = f"{user_id}（{display}）"
    return names


@service(Permission.REQUESTS_HANDLE, target="person_id", paths=("out",))
def disclose(unit: Unit, person_id: str, *, out: str | None = None) -> Disclosure:
    """Everything held about one person, as printable HTML in Japanese (開示請求への回答), every code in
    words from the label table; with ``out`` ending ``.pdf`` the document is written as PDF."""
    unit.note(target=person_id)
    con = unit.con
    row = con.execute(
        "SELECT p.name, p.kana, p.sex, p.birth_date, p.address, p.status, p.listed, p.deceased, p.household_id,"
        " h.phone, h.housing_type, h.ward_code FROM persons p LEFT JOIN households h USING (household_id)"
        " WHERE p.person_id = ?", [person_id]).fetchone()
    if row is None:
        raise NotFound("No such person is held.", "該当する人の情報は保有していません。", reason="not_found")
    name, kana, sex, birth, address, status, listed, deceased, household, phone, housing, ward = row
    number = persons.held_number(unit, person_id)
    reveal = unit.session.can(Permission.NUMBERS_REVEAL)
    shown_number = (number if reveal else mask_number(number)) if number else "（登録なし）"
    reg = con.execute("SELECT source, registered_at FROM person_numbers WHERE person_id = ?", [person_id]).fetchone()
    integrated = con.execute("SELECT integrated_number, obtained_at FROM integrated_numbers WHERE person_id = ?",
                             [person_id]).fetchone()
    sex_ja = labels.ja(sex, "sex")
    status_ja = labels.ja(status, "person_status")
    key = unit.workspace.keyring.audit_key()
    users = _user_names(unit, key)
    filings = con.execute(
        "SELECT h.procedure_id, h.procedure_code, h.fiscal_year, h.filed_on, CASE WHEN m.consent THEN '同意' ELSE '不同意' END"
        " FROM procedure_members m JOIN housing_procedures h USING (procedure_id) WHERE m.person_id = ?"
        " ORDER BY h.filed_on", [person_id]).fetchall()
    queries = con.execute(
        "SELECT q.request_id, CASE q.kind WHEN 'juki' THEN '住基ネット' ELSE '情報照会' END, q.procedure_code, q.fiscal_year,"
        " q.information, q.status, q.requested_at FROM query_requests q WHERE q.person_id = ? ORDER BY q.requested_at",
        [person_id]).fetchall()
    info = con.execute(
        "SELECT request_id, information, status, tax_year, taxable_income, tax_status, assistance, certificate_type,"
        " certificate_grade, household_size FROM info_results WHERE person_id = ? ORDER BY request_id", [person_id]).fetchall()
    juki = con.execute(
        "SELECT request_id, result_code, name, kana, sex, birth_date, address, CASE WHEN deceased THEN '死亡' ELSE '' END"
        " FROM juki_results WHERE person_id = ? ORDER BY request_id", [person_id]).fetchall()
    purged = con.execute(
        "SELECT count(*) FROM query_requests q WHERE q.person_id = ? AND q.status = 'answered' AND NOT EXISTS"
        " (SELECT 1 FROM info_results i WHERE i.request_id = q.request_id) AND NOT EXISTS"
        " (SELECT 1 FROM juki_results j WHERE j.request_id = q.request_id)", [person_id]).fetchone()
    discrepancies = con.execute(
        "SELECT discrepancy_id, kind, fields, status, detected_at, resolved_at FROM discrepancies WHERE person_id = ?"
        " ORDER BY detected_at", [person_id]).fetchall()
    corrections = con.execute(
        "SELECT corrected_at, field, old_value, new_value, reason FROM corrections WHERE person_id = ? ORDER BY corrected_at",
        [person_id]).fetchall()
    suspended = con.execute(
        "SELECT suspended_at, reason, lifted_at, lift_reason FROM use_suspensions WHERE person_id = ? ORDER BY suspended_at",
        [person_id]).fetchall()
    inquiries = con.execute(
        "SELECT received_at, channel, category, status, closed_at FROM inquiries WHERE person_id = ? ORDER BY received_at",
        [person_id]).fetchall()
    accesses = con.execute(
        "SELECT logged_at, operation, outcome, user_ref FROM audit_log WHERE target_ref = ? ORDER BY seq",
        [audit.pseudonym(key, person_id)]).fetchall()
    access_rows = [[dt.datetime.fromisoformat(a[0].replace("Z", "+00:00")), labels.operation_label(a[1]), _word(a[2]),
                    users.get(a[3], "（不明な利用者）")] for a in accesses]
    now = unit.now
    parts = [
        "<!DOCTYPE html>", '<html lang="ja"><head><meta charset="utf-8">',
        "<title>保有個人情報開示書</title>", _STYLE, "</head><body>",
        "<h1>保有特定個人情報の開示について（都営住宅等の管理に関する事務）</h1>",
        f"<p>作成日時: {html.escape(_wareki(now))}　作成者: {html.escape(unit.user_id)}</p>",
        "<p>東京都住宅政策本部都営住宅経営部が、マイナンバー管理システムにおいて保有しているあなたの特定個人情報は次のとおりです。</p>",
        _table("1. 基本情報", ["項目", "内容"], [
            ["宛名番号", person_id], ["世帯番号", household], ["氏名", name], ["氏名カナ", kana], ["性別", sex_ja],
            ["生年月日", birth], ["住所", address], ["電話番号", phone or ""], ["住宅種別", housing or ""],
            ["区市町村コード", ward or ""], ["入居区分", status_ja], ["対象者リスト掲載", "掲載" if listed else "対象外"],
            ["死亡", "死亡" if deceased else ""],
        ]),
        _table("2. 個人番号・団体内統合利用番号", ["項目", "内容", "取得・登録日時"], [
            ["個人番号", shown_number, reg[1] if reg else None],
            ["登録の経路", labels.ja(reg[0], "source") if reg else "", None],
            ["団体内統合利用番号", integrated[0] if integrated else "（取得なし）", integrated[1] if integrated else None],
        ]),
        _table("3. 届出・申請された手続", ["申請番号", "手続", "年度", "届出日", "情報照会への同意"],
               [[f[0], _word(f[1], "procedure"), f[2], f[3], f[4]] for f in filings]),
        _table("4. 情報照会・住基ネット照会", ["依頼番号", "照会先", "手続", "年度", "照会情報", "状態", "照会日時"],
               [[q[0], q[1], _word(q[2], "procedure"), q[3],
                 "本人確認情報（住基ネット）" if q[4] == "juki" else _word(q[4], "information"), _word(q[5]), q[6]]
                for q in queries]),
        _table("5. 情報照会の結果", ["依頼番号", "情報", "状態", "課税年度", "所得金額", "課税区分", "生活保護", "手帳種別",
                                 "等級", "世帯人員"],
               [[i[0], _word(i[1], "information"), _word(i[2]), i[3], i[4], labels.ja(str(i[5]), "tax_status") if i[5] is not None else "",
                 _yes_no(i[6], "受給あり", "受給なし"), CERTIFICATE_TYPES.get(str(i[7]), _word(i[7], "information")),
                 i[8], i[9]] for i in info]),
        _table("6. 住基ネット照会の結果", ["依頼番号", "処理結果", "氏名", "カナ", "性別", "生年月日", "住所", "死亡"],
               [[j[0], labels.ja(str(j[1]), "juki_result"), j[2], j[3], labels.ja(str(j[4]), "sex") if j[4] else "", j[5], j[6], j[7]]
                for j in juki]),
        f"<p>保存期間の経過により削除した照会結果: {int(purged[0]) if purged else 0:,} 件</p>",
        _table("7. 相違（届出の勧奨）", ["相違番号", "種類", "項目", "状態", "検出日時", "解決日時"],
               [[d[0], _word(d[1], "discrepancy"), "、".join(_FIELD_WORDS.get(f, f) for f in json.loads(d[2])), _word(d[3]),
                 d[4], d[5]] for d in discrepancies]),
        _table("8. 訂正の記録", ["訂正日時", "項目", "訂正前", "訂正後", "理由"],
               [[c[0], CORRECTABLE.get(c[1], (c[1],))[0], c[2], c[3], c[4]] for c in corrections]),
        _table("9. 利用停止", ["停止日時", "理由", "解除日時", "解除理由"], [list(s) for s in suspended]),
        _table("10. 問合せの記録", ["受付日時", "受付方法", "区分", "状態", "完了日時"],
               [[i[0], CHANNELS.get(i[1], (i[1],))[0], CATEGORIES.get(i[2], (i[2],))[0],
                 "完了" if i[3] == "closed" else "対応中", i[4]] for i in inquiries]),
        _table("11. あなたの情報を扱った操作の記録（操作ログより）", ["日時", "操作", "結果", "操作者"], access_rows),
        "<p>以上</p></body></html>",
    ]
    document = "\n".join(parts)
    sections = {"filings": len(filings), "queries": len(queries), "info_results": len(info), "juki_results": len(juki),
                "discrepancies": len(discrepancies), "corrections": len(corrections), "suspensions": len(suspended),
                "inquiries": len(inquiries), "accesses": len(accesses)}
    unit.params.update(number_shown=bool(number and reveal), **sections)
    path: str | None = None
    if out is not None:
        target = Path(out)
        if target.exists():
            raise InvalidInput(f"{target.name} already exists.", f"{target.name} はすでに存在します。", reason="exists")
        # ``.pdf``: printed (WeasyPrint, Japanese fonts embedded); anything else: the HTML itself.
        data = pdf_bytes(document) if target.suffix.lower() == ".pdf" else document.encode("utf-8")
        target.write_bytes(data)
        target.chmod(0o600)
        entry_id = "M" + uuid.uuid4().hex[:11].upper()
        con.execute("INSERT INTO media_ledger VALUES (?, ?, 'out', 'disclosure', ?, ?, 'data_subject', 1, ?, ?, NULL, NULL)",
                    [entry_id, now, "DISC" + uuid.uuid4().hex[:12], target.name, hashlib.sha256(data).hexdigest(),
                     unit.user_id])
        unit.note(ledger_entry=entry_id)
        path = str(target)
    return Disclosure(person_id, document, sections, len(accesses), path)


def _held(unit: Unit, person_id: str) -> None:
    if unit.con.execute("SELECT 1 FROM persons WHERE person_id = ?", [person_id]).fetchone() is None:
        raise NotFound("No such person is held.", "該当する人の情報は保有していません。", reason="not_found")


def _reason_text(reason: str) -> str:
    text = (reason or "").strip()
    if not text or len(text) > 500:
        raise InvalidInput("Give the reason (1–500 characters).", "理由を入力してください（1〜500 文字）。", reason="bad_reason")
    return text


@service(Permission.REQUESTS_HANDLE, target="person_id")
def correct(unit: Unit, person_id: str, field: str, new_value: str, *, reason: str) -> dict[str, Any]:
    """Correct one held item (訂正請求); old and new value kept and audited (as keyed digests)."""
    unit.note(target=person_id, field=field)
    if field in _NOT_CORRECTABLE or field not in CORRECTABLE:
        ja, en = _NOT_CORRECTABLE.get(field, ("この項目は訂正の対象ではありません", "this item cannot be corrected here"))
        raise InvalidInput(
            f"The field {field!r} may not be corrected: {en}. Correctable: {', '.join(CORRECTABLE)}.",
            f"項目 {field!r} は訂正できません（{ja}）。訂正できる項目: {'、'.join(v[0] for v in CORRECTABLE.values())}",
            reason="not_correctable")
    text = _reason_text(reason)
    value = (new_value or "").strip()
    if not value or len(value) > 200:
        raise InvalidInput("The new value must be 1–200 characters.", "訂正後の値は 1〜200 文字で入力してください。",
                           reason="bad_value")
    stored: Any = value
    if field == "sex":
        value = {"男": "1", "女": "2", "M": "1", "F": "2"}.get(value, value)
        if value not in ("1", "2", "9"):
            raise InvalidInput("Sex is 1, 2 or 9.", "性別は 1（男）・2（女）・9（その他・不明）で入力してください。",
                               reason="bad_value")
        stored = value
    if field == "birth_date":
        try:
            stored = dt.date.fromisoformat(value.replace("/", "-"))
        except ValueError:
            raise InvalidInput("The birth date must be YYYY-MM-DD.", "生年月日は YYYY-MM-DD で入力してください。",
                               reason="bad_value") from None
        if stored > unit.now.date():
            raise InvalidInput("The birth date is in the future.", "生年月日が未来の日付です。", reason="bad_value")
        value = stored.isoformat()
    _held(unit, person_id)
    old = unit.con.execute(f"SELECT {field} FROM persons WHERE person_id = ?", [person_id]).fetchone()[0]  # type: ignore[index]
    old_text = old.isoformat() if isinstance(old, dt.date) else (None if old is None else str(old))
    if old_text == value:
        raise InvalidInput("The new value is the same as the one held.", "訂正後の値が現在の値と同じです。", reason="unchanged")
    correction_id = "C" + uuid.uuid4().hex[:11].upper()
    unit.con.execute("INSERT INTO corrections VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     [correction_id, person_id, field, old_text, value, text, unit.now, unit.user_id])
    unit.con.execute(f"UPDATE persons SET {field} = ?, updated_at = ? WHERE person_id = ?", [stored, unit.now, person_id])
    key = unit.workspace.keyring.audit_key()
    unit.note(correction_id=correction_id, old_digest=audit.pseudonym(key, f"value:{old_text}"),
              new_digest=audit.pseudonym(key, f"value:{value}"))
    return {"correction_id": correction_id, "person_id": person_id, "field": field,
            "message_ja": f"{CORRECTABLE[field][0]}を訂正しました（訂正番号 {correction_id}）。",
            "message_en": f"The {CORRECTABLE[field][1]} was corrected ({correction_id})."}


@service(Permission.REQUESTS_HANDLE, target="person_id")
def suspend(unit: Unit, person_id: str, *, reason: str) -> dict[str, Any]:
    """Suspend use (利用停止): left out of every later batch, export and statistic until lifted."""
    unit.note(target=person_id)
    text = _reason_text(reason)
    _held(unit, person_id)
    if unit.con.execute("SELECT 1 FROM suspended_persons WHERE person_id = ?", [person_id]).fetchone():
        raise InvalidInput("Use is already suspended for this person.", "この人はすでに利用停止中です。", reason="already")
    suspension_id = "S" + uuid.uuid4().hex[:11].upper()
    unit.con.execute("INSERT INTO use_suspensions VALUES (?, ?, ?, ?, ?, NULL, NULL, NULL)",
                     [suspension_id, person_id, text, unit.now, unit.user_id])
    unit.note(suspension_id=suspension_id)
    return {"suspension_id": suspension_id, "person_id": person_id,
            "message_ja": "利用を停止しました。解除するまで照会・連携・統計の対象になりません。",
            "message_en": "Use suspended: left out of every batch, export and statistic until lifted."}


@service(Permission.REQUESTS_HANDLE, target="person_id")
def lift_suspension(unit: Unit, person_id: str, *, reason: str) -> dict[str, Any]:
    """Lift a suspension of use, with the reason."""
    unit.note(target=person_id)
    text = _reason_text(reason)
    lifted = unit.con.execute(
        "UPDATE use_suspensions SET lifted_at = ?, lifted_by = ?, lift_reason = ? WHERE person_id = ? AND lifted_at IS NULL"
        " RETURNING suspension_id", [unit.now, unit.user_id, text, person_id]).fetchall()
    if not lifted:
        raise InvalidInput("Use is not suspended for this person.", "この人は利用停止中ではありません。", reason="not_suspended")
    unit.note(suspension_id=lifted[0][0])
    return {"suspension_id": lifted[0][0], "person_id": person_id,
            "message_ja": "利用停止を解除しました。", "message_en": "The suspension was lifted."}


#: Suspensions in force (利用停止中) as a list paging in the database.
SUSPENSION_LIST = ListSpec(
    "利用停止の一覧", "suspension list", "use_suspensions",
    sorts={"suspended_at": SortKey("suspended_at", "停止日時", "suspended"),
           "person_id": SortKey("person_id", "宛名番号", "person"),
           "suspension_id": SortKey("suspension_id", "停止番号", "number")},
    default_sort="suspended_at", tiebreak="suspension_id", search=("suspension_id", "person_id", "reason", "suspended_by"),
    where="lifted_at IS NULL",
)


@service(Permission.REQUESTS_HANDLE)
def suspension_page(unit: Unit, request: PageRequest) -> Page[dict[str, Any]]:
    """One page of the suspensions in force, who suspended and when (the total is of every match)."""
    page = fetch_page(unit, SUSPENSION_LIST, request, "suspension_id, person_id, reason, suspended_at, suspended_by")
    return page.map(lambda r: {"suspension_id": r[0], "person_id": r[1], "reason": r[2], "suspended_at": r[3].isoformat(),
                               "suspended_by": r[4]})


@service(Permission.REQUESTS_HANDLE)
def suspensions(unit: Unit) -> list[dict[str, Any]]:
    """Suspensions in force, oldest first."""
    rows = unit.con.execute("SELECT suspension_id, person_id, reason, suspended_at, suspended_by FROM use_suspensions"
                            " WHERE lifted_at IS NULL ORDER BY suspended_at").fetchall()
    unit.note(count=len(rows))
    return [{"suspension_id": r[0], "person_id": r[1], "reason": r[2], "suspended_at": r[3].isoformat(),
             "suspended_by": r[4]} for r in rows]
