"""The monthly evidence report (月次運用状況報告, issue 23): every promise of the assessment, with
what the system and the office did about it in one month.

The office re-evaluates its privacy impact assessment every year and must show, promise by
promise, that it kept them.  :data:`PROMISES` maps every row of ``REQUIREMENTS.md`` (F*, U*,
C*), the second-person check the office promised after its incidents (§6, ``S6``) and its
organisational promises (``O1``–``O4``: training, self-inspection, the contractor's kits,
incident reports) to a *probe*: a function that reads the month's evidence from the audit log,
the media ledger, approvals, deletion, backup, review and inquiry records and the office's own
records (:mod:`workbench.controls.records`), and says whether the promise **held**, had
**exceptions** (listed, each in one sentence), or has **no evidence** this month.

:func:`monthly` is the one service (the auditor's ``audit.read``): the pipeline ``evidence``
(``workbench pipeline run evidence -p month=2026-11``), the CLI (``workbench evidence show``)
and the auditor's screen all call it.  The report holds counts, dates and staff IDs only —
never a resident's number, name or address — and reads in Japanese, with dates in Japan time
and in the Japanese era (和暦).  :class:`EvidenceReport` writes itself as HTML, PDF
(WeasyPrint, with the Noto CJK fonts) and xlsx (openpyxl) for the yearly re-evaluation.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from workbench.controls import audit_log, records
from workbench.core import audit, labels
from workbench.core.clock import JST
from workbench.core.dates import jst_text, month_bounds, parse_month, wareki, wareki_month
from workbench.core.errors import InvalidInput
from workbench.core.permissions import ROLE_LABELS, Permission, Role, role_conflicts
from workbench.core.printing import pdf_bytes
from workbench.core.workspace import Unit, service
from workbench.files import outgoing

__all__ = ["PROBES", "PROMISES", "STATUSES", "EvidenceReport", "Promise", "Section", "cell_text", "html_to_pdf", "monthly"]

#: Whether a promise held this month (the report's own words, registered in the one table).
STATUSES: dict[str, tuple[str, str]] = {
    "held": ("守られている", "held"), "exceptions": ("例外あり", "exceptions"), "no_evidence": ("記録なし", "no evidence"),
}
labels.register("evidence_status", STATUSES)

#: Days after which an open inquiry, a disclosure request or a discrepancy is an exception (開示決定等の
#: 期限は請求から30日: 個人情報保護法 第83条第1項).
ANSWER_DAYS = 30
#: A scheduled purge must erase the bytes within this many days of the deletion.
PURGE_DAYS = 30


@dataclass(frozen=True)
class Promise:
    """One promise: its ID, what it says, where the assessment says it, and who acts on an exception."""

    promise_id: str
    title_ja: str
    title_en: str
    where: str
    owner: Role
    sources_ja: str


def _p(pid: str, ja: str, en: str, where: str, owner: Role, sources: str) -> tuple[str, Promise]:
    return pid, Promise(pid, ja, en, where, owner, sources)


R = Role
#: Every promise of REQUIREMENTS.md (F*, U*, C*), §6 and the office's organisational promises, in order.
PROMISES: dict[str, Promise] = dict([
    _p("F0", "対象者リストの取込", "target list import", "②-1, ⑧⑨", R.REGISTRAR, "取込記録・操作ログ"),
    _p("F0b", "番号収集リストの暗号化出力", "collection list export, encrypted", "②-1 ②-2", R.REGISTRAR, "媒体管理簿・承認"),
    _p("F1", "個人番号の一括登録", "bulk registration of numbers", "②-6, ③-4", R.REGISTRAR, "登録記録・差戻リスト"),
    _p("F1b", "団体内統合利用番号の取得", "integrated numbers", "④⑤⑥", R.REGISTRAR, "媒体管理簿・操作ログ"),
    _p("F2", "情報照会ファイルの作成", "information-query files", "⑩⑪", R.QUERY_OPERATOR, "照会ファイルの記録"),
    _p("F3", "住基ネット照会ファイルの作成", "Juki-net query files", "⑩⑮⑯", R.QUERY_OPERATOR, "照会ファイルの記録"),
    _p("F4", "情報照会結果の取込", "information-query results in", "⑭", R.QUERY_OPERATOR, "照会の回答記録"),
    _p("F5", "住基ネット照会結果の取込", "Juki-net results in", "⑰", R.QUERY_OPERATOR, "照会の回答記録"),
    _p("F6", "都住システム連携ファイルの作成", "linkage file for the housing system", "⑱⑲⑳㉑", R.QUERY_OPERATOR, "連携ファイルの記録"),
    _p("F7", "個人番号の一括削除", "bulk deletion", "II-6 ③, III-7 リスク3", R.REGISTRAR, "削除記録"),
    _p("F8", "個人を識別しない統計", "statistics without identifying anyone", "II-3 ⑧", R.REGISTRAR, "公表記録・操作ログ"),
    _p("F9", "開示・訂正・利用停止", "disclosure, correction, suspension", "V-1", R.REVIEWER, "操作ログ・問合せ記録"),
    _p("F10", "問合せの記録", "inquiry log", "V-2 ②", R.REVIEWER, "問合せ記録"),
    _p("U1", "連絡先情報は番号届出者と同一住所の者のみ照会", "contact items only for notifiers and their address",
       "II-3 ⑧", R.QUERY_OPERATOR, "照会依頼の根拠"),
    _p("U2", "業務情報は届出と同意のある者のみ照会", "business items only with number and consent", "II-3 ⑧",
       R.QUERY_OPERATOR, "照会依頼と同意"),
    _p("U3", "連携が認められ、実際に届出のあった手続のみ照会", "only permitted procedures the person filed",
       "III-2 リスク1", R.QUERY_OPERATOR, "照会依頼と手続"),
    _p("U4", "審査前に照会結果と申請を突合", "results matched before screening", "II-3 ⑧", R.REVIEWER, "相違の記録"),
    _p("U5", "権利に影響する決定（入居決定・収入報告請求）", "decisions affecting rights", "II-3 ⑧", R.QUERY_OPERATOR,
       "連携ファイル・通知対象者リスト"),
    _p("C1", "登録時に対象者か機械的に確認し、不一致は差戻し", "registration checked against the target list",
       "III-2 リスク1", R.REGISTRAR, "差戻リスト"),
    _p("C2", "個人番号のチェックデジット検査", "check digit verified", "III-2 リスク3", R.REGISTRAR, "差戻リスト"),
    _p("C3", "本人確認済みの番号のみ保有", "only registered numbers held", "III-2 リスク3", R.REGISTRAR, "番号の保有状況"),
    _p("C4", "全操作の自動記録と7年保存", "every operation logged, kept 7 years", "III-3 リスク2", R.AUDITOR,
       "操作ログ・検証・外部保管"),
    _p("C5", "1人1ID・多要素認証・利用者ごとの権限", "one ID per person, MFA, permissions", "III-3 リスク2",
       R.ADMINISTRATOR, "ログイン記録・番号の表示"),
    _p("C6", "IDの速やかな設定・削除と年1回以上の棚卸し", "IDs set and removed promptly, reviewed yearly",
       "III-3 リスク2", R.ADMINISTRATOR, "ID・権限の棚卸し"),
    _p("C7", "取得情報の相違を検出し、届出を促す", "differences detected, person prompted", "III-2 リスク3",
       R.REVIEWER, "相違の記録"),
    _p("C8", "不要データのバッチ削除と方法・日付の記録", "unneeded data deleted by batch, recorded",
       "II-6 ②③", R.REGISTRAR, "削除記録・消去"),
    _p("C9", "媒体の暗号化・媒体管理簿・受け渡し後の複製削除", "media encrypted, ledger, copies deleted",
       "II-6 ①", R.REGISTRAR, "媒体管理簿"),
    _p("C10", "照会ごとの一意な識別子による回答の突合", "unique ID per query", "III-2 リスク3", R.QUERY_OPERATOR,
       "照会依頼と回答"),
    _p("C11", "照会結果の保存期間経過後の自動削除", "query results deleted after a set period", "III-6 リスク4",
       R.OPERATIONS, "照会結果の削除記録"),
    _p("C12", "データベースの暗号化・バックアップ・アクセス記録", "encrypted, backed up, access logged",
       "III-7 ⑥", R.OPERATIONS, "バックアップ・鍵の更新"),
    _p("C13", "利用時間と登録端末の制限", "set hours and registered terminals", "III-6 リスク2", R.ADMINISTRATOR,
       "ログイン記録・操作ログ"),
    _p("C14", "業務に必要な範囲を超える複製をしない", "no copies beyond the need", "III-3 リスク4", R.REGISTRAR,
       "受け渡し用コピーの記録"),
    _p("S6", "送付前の別の職員による確認（承認）", "a second person approves before anything is sent", "III-7 ⑨",
       R.APPROVER, "承認記録"),
    _p("O1", "取扱者の研修", "staff training", "III-7 ⑦", R.ADMINISTRATOR, "研修記録"),
    _p("O2", "年1回の自己点検と改善", "yearly self-inspection and follow-up", "IV-1", R.ADMINISTRATOR, "自己点検記録"),
    _p("O3", "委託先の収集キットの交付・回収", "contractor kits handed out and returned", "委託事項2", R.ADMINISTRATOR,
       "キットの交付・返却記録"),
    _p("O4", "漏えい等事案の記録と期限内の報告", "incidents recorded and reported on time", "III-7 ⑨",
       R.ADMINISTRATOR, "事案記録"),
])


@dataclass
class Section:
    """One promise's evidence for the month."""

    promise: Promise
    status: str = "no_evidence"
    #: Counts with their words; every figure of a section is a number of cases (件) or people (人).
    figures: dict[str, int] = field(default_factory=dict)
    exceptions: list[str] = field(default_factory=list)
    #: Rows to show under the section (no personal data), by table title.
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: A note on what was checked (one line).
    note: str = ""

    @property
    def line_ja(self) -> str:
        """The one line: whether the promise held this month."""
        word = STATUSES[self.status][0]
        if self.status == "exceptions":
            return f"{word}（{len(self.exceptions):,} 件）"
        return word

    def to_dict(self) -> dict[str, Any]:
        p = self.promise
        return {"promise": p.promise_id, "title_ja": p.title_ja, "title_en": p.title_en, "status": self.status,
                "status_ja": STATUSES[self.status][0], "figures": dict(self.figures), "exceptions": list(self.exceptions),
                "owner": p.owner.value, "owner_ja": ROLE_LABELS[p.owner][0], "note": self.note,
                "tables": {k: [{c: _plain(v) for c, v in r.items()} for r in rows] for k, rows in self.tables.items()}}


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return jst_text(value)
    if isinstance(value, dt.date):
        return wareki(value)
    return value


@dataclass
class EvidenceReport:
    """The month's report: the summary first, then one section per promise."""

    year: int
    month: int
    made_at: dt.datetime
    made_by: str
    sections: list[Section]
    #: Audit records per day (JST) in the month, for the one chart of activity.
    per_day: dict[str, int] = field(default_factory=dict)

    @property
    def month_ja(self) -> str:
        return wareki_month(self.year, self.month)

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for x in self.sections if x.status == s) for s in STATUSES}

    def actions(self) -> list[dict[str, str]]:
        """What needs action, by whom: one row per section with exceptions."""
        return [{"promise": s.promise.promise_id, "title": s.promise.title_ja, "who": ROLE_LABELS[s.promise.owner][0],
                 "what": s.exceptions[0] + (f" ほか {len(s.exceptions) - 1:,} 件" if len(s.exceptions) > 1 else "")}
                for s in self.sections if s.status == "exceptions"]

    def summary_lines(self) -> list[str]:
        """The first page in sentences: what happened, what needs action, by whom."""
        c = self.counts()
        total = len(self.sections)
        lines = [f"{self.month_ja}の運用状況: 約束 {total} 項目のうち、守られている {c['held']} 項目、"
                 f"例外あり {c['exceptions']} 項目、今月の記録なし {c['no_evidence']} 項目。"]
        figures = {k: v for s in self.sections for k, v in s.figures.items()}
        happened = [f"{k} {figures[k]:,} 件" for k in ("操作ログの記録", "ログイン（成功）", "媒体管理簿の記録", "承認依頼")
                    if figures.get(k)]
        if happened:
            lines.append("今月の主な記録: " + "、".join(happened) + "。")
        acts = self.actions()
        if acts:
            lines.append(f"対応が必要な事項は {len(acts)} 項目です（下表）。担当者は今月中に対応し、結果を記録してください。")
        else:
            lines.append("対応が必要な事項はありません。")
        none = [s.promise.promise_id for s in self.sections if s.status == "no_evidence"]
        if none:
            lines.append("記録なしの項目（" + "・".join(none) + "）は、今月その業務がなかったことを確認してください。")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {"month": f"{self.year:04d}-{self.month:02d}", "month_ja": self.month_ja, "made_at": jst_text(self.made_at),
                "made_by": self.made_by, "counts": self.counts(), "summary": self.summary_lines(),
                "actions": self.actions(), "sections": [s.to_dict() for s in self.sections], "per_day": dict(self.per_day)}

    # -- export ----------------------------------------------------------------------------
    def to_html(self) -> str:
        """The whole report as one printable HTML page (the summary is the first page)."""
        e = html.escape
        parts = ["<!DOCTYPE html>", '<html lang="ja"><head><meta charset="utf-8">',
                 f"<title>特定個人情報の運用状況報告 {e(self.month_ja)}</title>", _STYLE, "</head><body>",
                 f"<h1>特定個人情報の運用状況報告（{e(self.month_ja)}）</h1>",
                 f"<p class='meta'>作成: {e(jst_text(self.made_at))}　作成者: {e(self.made_by)}　"
                 "対象: 都営住宅等の管理に関する事務（特定個人情報保護評価書 No.41）</p>",
                 "<h2>概要</h2>", "".join(f"<p>{e(line)}</p>" for line in self.summary_lines())]
        acts = self.actions()
        if acts:
            parts.append(_html_table(["項目", "約束", "対応すること", "担当"],
                                     [[a["promise"], a["title"], a["what"], a["who"]] for a in acts]))
        parts.append("<h2>約束ごとの結果</h2>")
        parts.append(_html_table(["項目", "約束", "今月の結果", "根拠"],
                                 [[s.promise.promise_id, s.promise.title_ja, s.line_ja, s.promise.sources_ja]
                                  for s in self.sections]))
        parts.append('<div class="break"></div>')
        for s in self.sections:
            p = s.promise
            parts.append(f"<h2>{e(p.promise_id)} {e(p.title_ja)}</h2>")
            parts.append(f"<p class='line {s.status}'>今月の結果: {e(s.line_ja)}　"
                         f"<span class='meta'>（評価書 {e(p.where)}、担当: {e(ROLE_LABELS[p.owner][0])}）</span></p>")
            if s.note:
                parts.append(f"<p class='meta'>{e(s.note)}</p>")
            if s.figures:
                parts.append(_html_table(["記録", "件数"], [[k, f"{v:,}"] for k, v in s.figures.items()]))
            if s.exceptions:
                parts.append("<p>例外:</p><ul>" + "".join(f"<li>{e(x)}</li>" for x in s.exceptions) + "</ul>")
            for title, rows in s.tables.items():
                if rows:
                    cols = list(rows[0])
                    parts.append(f"<h3>{e(title)}</h3>")
                    parts.append(_html_table(cols, [[cell_text(r.get(c)) for c in cols] for r in rows]))
        parts.append("</body></html>")
        return "\n".join(parts)

    def write_html(self, path: str | Path) -> Path:
        out = Path(path)
        out.write_text(self.to_html(), "utf-8")
        return out

    def write_pdf(self, path: str | Path) -> Path:
        """The report as PDF (WeasyPrint lays out the HTML with the Noto CJK fonts and embeds them)."""
        return html_to_pdf(self.to_html(), path)

    def write_xlsx(self, path: str | Path) -> Path:
        """The evidence tables as one workbook: 概要, 約束ごとの結果, 件数, 例外, then each table."""
        import pandas as pd

        out = Path(path)
        sheets: dict[str, pd.DataFrame] = {
            "概要": pd.DataFrame({"概要": self.summary_lines()}),
            "対応が必要な事項": pd.DataFrame(self.actions(), columns=["promise", "title", "what", "who"]).rename(
                columns={"promise": "項目", "title": "約束", "what": "対応すること", "who": "担当"}),
            "約束ごとの結果": pd.DataFrame([{"項目": s.promise.promise_id, "約束": s.promise.title_ja,
                                      "結果": STATUSES[s.status][0], "例外の件数": len(s.exceptions),
                                      "担当": ROLE_LABELS[s.promise.owner][0], "根拠": s.promise.sources_ja}
                                     for s in self.sections]),
            "件数": pd.DataFrame([{"項目": s.promise.promise_id, "記録": k, "件数": v}
                                for s in self.sections for k, v in s.figures.items()], columns=["項目", "記録", "件数"]),
            "例外": pd.DataFrame([{"項目": s.promise.promise_id, "例外": x} for s in self.sections for x in s.exceptions],
                               columns=["項目", "例外"]),
        }
        for s in self.sections:
            for title, rows in s.tables.items():
                if rows:
                    name = f"{s.promise.promise_id} {title}"[:31]
                    sheets[name] = pd.DataFrame([{c: cell_text(v) for c, v in r.items()} for r in rows])
        with pd.ExcelWriter(out, engine="openpyxl") as writer:
            for name, frame in sheets.items():
                frame.to_excel(writer, sheet_name=name.replace("/", "・")[:31], index=False)
        return out


def html_to_pdf(text: str, path: str | Path) -> Path:
    """Print an HTML document to PDF with WeasyPrint (fonts found by fontconfig: Noto Sans CJK JP)."""
    out = Path(path)
    out.write_bytes(pdf_bytes(text))
    return out


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "はい" if value else "いいえ"
    if isinstance(value, int):
        return f"{value:,}"
    return str(_plain(value))


def _html_table(headers: list[str], rows: list[list[Any]]) -> str:
    e = html.escape
    head = "".join(f"<th>{e(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_STYLE = """<style>
@page { size: A4; margin: 16mm 14mm; }
body { font-family: "Noto Sans CJK JP", "Noto Sans JP", "IPAexGothic", sans-serif; font-size: 10pt; line-height: 1.5; }
h1 { font-size: 16pt; } h2 { font-size: 12.5pt; border-bottom: 1px solid #999; margin-top: 1.2em; }
h3 { font-size: 10.5pt; } table { border-collapse: collapse; margin: 4px 0 10px; }
th, td { border: 1px solid #999; padding: 2px 6px; vertical-align: top; } th { background: #eee; }
.meta { color: #555; font-size: 9pt; } .line.exceptions { color: #b00020; font-weight: bold; }
.line.held { color: #1b5e20; } .break { page-break-after: always; }
</style>"""


# ------------------------------------------------------------------------------ the month's evidence
@dataclass
class _Month:
    """What every probe reads: the open transaction, the period, staff names by pseudonym."""

    unit: Unit
    start: dt.datetime
    end: dt.datetime
    names: dict[str, str]

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        return self.unit.con

    @property
    def log_from(self) -> str:
        return self.start.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")

    @property
    def log_to(self) -> str:
        return self.end.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")

    def one(self, sql: str, params: list[Any] | None = None) -> int:
        row = self.con.execute(sql, params or []).fetchone()
        return int(row[0] or 0) if row else 0

    def between(self, table: str, column: str, extra: str = "TRUE", params: list[Any] | None = None) -> int:
        return self.one(f"SELECT count(*) FROM {table} WHERE {column} >= ? AND {column} < ? AND ({extra})",
                        [self.start, self.end, *(params or [])])

    def ops(self, operations: list[str], outcome: str | None = "ok", where: str = "TRUE") -> int:
        """Audit records of these operations in the month."""
        sql = ("SELECT count(*) FROM audit_log WHERE logged_at >= ? AND logged_at < ? AND list_contains(?, operation)"
               + (" AND outcome = ?" if outcome else "") + f" AND ({where})")
        return self.one(sql, [self.log_from, self.log_to, operations, *([outcome] if outcome else [])])

    def log_rows(self, operation: str, outcome: str, reasons: list[str]) -> list[tuple[str, str]]:
        """(time, user) of the month's records of one operation refused/denied for these reasons."""
        rows = self.con.execute(
            "SELECT logged_at, user_ref FROM audit_log WHERE logged_at >= ? AND logged_at < ? AND operation = ?"
            " AND outcome = ? AND list_contains(?, json_extract_string(params, '$.reason')) ORDER BY seq",
            [self.log_from, self.log_to, operation, outcome, reasons]).fetchall()
        return [(jst_text(t), self.names.get(u, "（登録のないID）")) for t, u in rows]

    def ledger(self, kinds: list[str] | None = None, direction: str | None = None) -> int:
        extra, params = "TRUE", list[Any]()
        if kinds is not None:
            extra, params = "list_contains(?, kind)", [kinds]
        if direction:
            extra += " AND direction = ?"
            params.append(direction)
        return self.between("media_ledger", "recorded_at", extra, params)


Probe = Callable[[_Month, Section], None]


def _activity(section: Section, *keys: str) -> None:
    """Held if anything was recorded (or only exceptions), no evidence otherwise."""
    if section.exceptions:
        section.status = "exceptions"
    elif any(section.figures.get(k) for k in (keys or section.figures)):
        section.status = "held"
    else:
        section.status = "no_evidence"


def _f0(m: _Month, s: Section) -> None:
    s.figures = {"対象者リストの取込": m.between("target_imports", "imported_at"),
                 "取込行数": m.one("SELECT coalesce(sum(rows), 0) FROM target_imports WHERE imported_at >= ? AND imported_at < ?",
                               [m.start, m.end]),
                 "取込の拒否（ファイル全体）": m.ops(["targets.import_targets"], "refused")}
    _activity(s, "対象者リストの取込")


def _personal_kinds() -> list[str]:
    return sorted({spec.package_kind for spec in outgoing.REGISTRY.values()})


def _unapproved(m: _Month, s: Section, kinds: list[str]) -> None:
    for entry, kind, at in m.con.execute(
            "SELECT entry_id, kind, recorded_at FROM media_ledger WHERE direction = 'out' AND list_contains(?, kind)"
            " AND approval_id IS NULL AND recorded_at >= ? AND recorded_at < ? ORDER BY recorded_at",
            [kinds, m.start, m.end]).fetchall():
        s.exceptions.append(f"{jst_text(at)} 承認の記録がない送付ファイル（{entry}、{kind}）")


def _f0b(m: _Month, s: Section) -> None:
    s.figures = {"番号収集リストの出力": m.ledger(["collection_list"], "out"),
                 "承認依頼": m.ops(["collection.request_collection_export"])}
    _unapproved(m, s, ["collection_list"])
    _activity(s, "番号収集リストの出力")


def _f1(m: _Month, s: Section) -> None:
    s.figures = {"登録ファイルの取込": m.between("registration_imports", "imported_at"),
                 "取込行数": m.one("SELECT coalesce(sum(rows), 0) FROM registration_imports WHERE imported_at >= ?"
                               " AND imported_at < ?", [m.start, m.end]),
                 "差戻し": m.one("SELECT count(*) FROM registration_returns r JOIN registration_imports i USING (import_id)"
                              " WHERE i.imported_at >= ? AND i.imported_at < ?", [m.start, m.end])}
    _activity(s, "登録ファイルの取込")


def _f1b(m: _Month, s: Section) -> None:
    s.figures = {"取得依頼ファイル": m.ledger(["integrated_request"], "out"),
                 "回答の取込": m.ledger(["integrated_answer"], "in")}
    _unapproved(m, s, ["integrated_request"])
    _activity(s)


def _batches(kind: str) -> Probe:
    def probe(m: _Month, s: Section) -> None:
        s.figures = {"照会ファイル": m.between("query_batches", "created_at", "kind = ?", [kind]),
                     "照会件数": m.one("SELECT coalesce(sum(request_count), 0) FROM query_batches WHERE kind = ?"
                                   " AND created_at >= ? AND created_at < ?", [kind, m.start, m.end])}
        _unapproved(m, s, [f"{kind}_query"])
        _activity(s, "照会ファイル")
    return probe


def _answers(kind: str) -> Probe:
    def probe(m: _Month, s: Section) -> None:
        s.figures = {"回答ファイルの取込": m.ops([f"results.import_{kind}_results"]),
                     "回答のあった照会": m.between("query_requests", "answered_at", "kind = ?", [kind]),
                     "取込の拒否": m.ops([f"results.import_{kind}_results"], "refused")}
        _activity(s, "回答ファイルの取込", "回答のあった照会")
    return probe


def _f6(m: _Month, s: Section) -> None:
    s.figures = {"連携ファイル": m.between("linkage_exports", "exported_at"),
                 "連携した人数": m.one("SELECT coalesce(sum(persons), 0) FROM linkage_exports WHERE exported_at >= ?"
                                 " AND exported_at < ?", [m.start, m.end])}
    _unapproved(m, s, ["linkage_file"])
    _activity(s, "連携ファイル")


def _f7(m: _Month, s: Section) -> None:
    s.figures = {"一括削除": m.between("person_deletions", "applied_at"),
                 "削除した人数": m.one("SELECT coalesce(sum(persons), 0) FROM person_deletions WHERE applied_at >= ?"
                                 " AND applied_at < ?", [m.start, m.end])}
    for did, at in m.con.execute("SELECT deletion_id, applied_at FROM person_deletions WHERE approval_id IS NULL"
                                 " AND method = 'batch_delete' AND applied_at >= ? AND applied_at < ?",
                                 [m.start, m.end]).fetchall():
        s.exceptions.append(f"{jst_text(at)} 承認の記録がない一括削除（{did}）")
    s.tables["削除記録"] = [{"削除番号": d, "日時": a, "方法": meth, "人数": int(n)} for d, a, meth, n in m.con.execute(
        "SELECT deletion_id, applied_at, method, persons FROM person_deletions WHERE applied_at >= ? AND applied_at < ?"
        " ORDER BY applied_at", [m.start, m.end]).fetchall()]
    _activity(s, "一括削除")


def _f8(m: _Month, s: Section) -> None:
    s.figures = {"統計データの公表": m.between("stats_publications", "published_at"),
                 "集計表の作成（分析担当）": m.ops(["stats.table"]),
                 "公表の取下げ": m.between("stats_publications", "withdrawn_at")}
    _activity(s)


def _answer_days(m: _Month, category: str | None) -> tuple[dict[str, int], list[str]]:
    cat = "category = ?" if category else "TRUE"
    params = [category] if category else []
    closed = m.con.execute(
        f"SELECT inquiry_id, received_at, closed_at FROM inquiries WHERE closed_at >= ? AND closed_at < ? AND {cat}",
        [m.start, m.end, *params]).fetchall()
    days = sorted((c - r).total_seconds() / 86400 for _, r, c in closed)
    figures = {"受付": m.between("inquiries", "received_at", cat, params), "回答済み": len(closed),
               "回答までの日数（中央値）": round(days[len(days) // 2]) if days else 0}
    late = []
    for iid, received in m.con.execute(
            f"SELECT inquiry_id, received_at FROM inquiries WHERE {cat} AND received_at < ?"
            " AND (closed_at IS NULL OR closed_at >= ?) ORDER BY received_at",
            [*params, m.end - dt.timedelta(days=ANSWER_DAYS), m.end]).fetchall():
        late.append(f"{iid}（{wareki(received)}受付）が {ANSWER_DAYS} 日を過ぎても回答されていません")
    return figures, late


def _f9(m: _Month, s: Section) -> None:
    figures, late = _answer_days(m, "disclosure")
    s.figures = {"開示": m.ops(["disclosure.disclose"]), "訂正": m.ops(["disclosure.correct"]),
                 "利用停止": m.ops(["disclosure.suspend"]), "利用停止の解除": m.ops(["disclosure.lift_suspension"]),
                 **{f"開示等の請求の{k}": v for k, v in figures.items()}}
    s.exceptions += late
    s.note = f"開示決定等の期限: 請求から {ANSWER_DAYS} 日（個人情報保護法 第83条）。"
    _activity(s)


def _f10(m: _Month, s: Section) -> None:
    figures, late = _answer_days(m, None)
    s.figures = {f"問合せの{k}": v for k, v in figures.items()}
    s.exceptions += late
    _activity(s, "問合せの受付", "問合せの回答済み")


def _u1(m: _Month, s: Section) -> None:
    s.figures = {"本人の届出による照会": m.between("query_requests", "requested_at", "basis = 'filed'"),
                 "同一住所の者の照会（連絡先情報）": m.between("query_requests", "requested_at", "basis = 'household'")}
    _activity(s)


def _excluded(m: _Month) -> dict[str, int]:
    out: dict[str, int] = {}
    for (text,) in m.con.execute("SELECT excluded FROM query_batches WHERE created_at >= ? AND created_at < ?",
                                 [m.start, m.end]).fetchall():
        for reason, n in (json.loads(text) or {}).items():
            out[reason] = out.get(reason, 0) + int(n)
    return out


def _u2(m: _Month, s: Section) -> None:
    excluded = _excluded(m)
    s.figures = {"業務情報の照会": m.between("query_requests", "requested_at", "kind = 'info' AND basis = 'filed'"),
                 "照会対象外とした件数": sum(excluded.values())}
    n = m.one("SELECT count(*) FROM query_requests q WHERE q.kind = 'info' AND q.basis = 'filed' AND q.requested_at >= ?"
              " AND q.requested_at < ? AND NOT EXISTS (SELECT 1 FROM procedure_members p WHERE p.procedure_id = q.procedure_id"
              " AND p.person_id = q.person_id AND p.consent)", [m.start, m.end])
    if n:
        s.exceptions.append(f"同意の記録がない業務情報の照会が {n:,} 件あります")
    _activity(s, "業務情報の照会")


def _u3(m: _Month, s: Section) -> None:
    s.figures = {"照会（手続の届出あり）": m.between("query_requests", "requested_at")}
    n = m.one("SELECT count(*) FROM query_requests q WHERE q.requested_at >= ? AND q.requested_at < ?"
              " AND NOT EXISTS (SELECT 1 FROM housing_procedures h WHERE h.procedure_id = q.procedure_id"
              " AND h.procedure_code = q.procedure_code)", [m.start, m.end])
    if n:
        s.exceptions.append(f"届出のある手続と結び付かない照会が {n:,} 件あります")
    _activity(s)


def _u4(m: _Month, s: Section) -> None:
    s.figures = {"突合で見つかった相違": m.between("discrepancies", "detected_at"),
                 "申告収入の取込": m.ops(["discrepancies.import_declared_income"])}
    _activity(s)


def _u5(m: _Month, s: Section) -> None:
    s.figures = {"都住システムへの連携ファイル": m.between("linkage_exports", "exported_at"),
                 "通知対象者リスト": m.between("notice_exports", "exported_at")}
    _activity(s)


def _returns(m: _Month, reasons: list[str] | None) -> int:
    extra = "list_contains(?, r.reason)" if reasons is not None else "TRUE"
    return m.one("SELECT count(*) FROM registration_returns r JOIN registration_imports i USING (import_id)"
                 f" WHERE i.imported_at >= ? AND i.imported_at < ? AND {extra}",
                 [m.start, m.end, *([reasons] if reasons is not None else [])])


def _c1(m: _Month, s: Section) -> None:
    s.figures = {"登録ファイルの取込": m.between("registration_imports", "imported_at"),
                 "差戻し（すべての理由）": _returns(m, None)}
    _activity(s, "登録ファイルの取込")


def _c2(m: _Month, s: Section) -> None:
    s.figures = {"登録ファイルの取込": m.between("registration_imports", "imported_at"),
                 "チェックデジット誤りで差戻し": _returns(m, ["check_digit"])}
    _activity(s, "登録ファイルの取込")


def _c3(m: _Month, s: Section) -> None:
    s.figures = {"保有している個人番号": m.one("SELECT count(*) FROM person_numbers"),
                 "今月の登録": m.between("person_numbers", "registered_at")}
    n = m.one("SELECT count(*) FROM person_numbers n WHERE NOT EXISTS (SELECT 1 FROM persons p WHERE p.person_id = n.person_id)")
    if n:
        s.exceptions.append(f"対象者リストにない者の番号が {n:,} 件保有されています")
    _activity(s)


def _c4(m: _Month, s: Section) -> None:
    verified = m.con.execute(
        "SELECT count(*) FILTER (WHERE json_extract(params, '$.ok') = true), count(*) FILTER (WHERE json_extract(params, '$.ok')"
        " = false) FROM audit_log WHERE operation = 'auditing.verify' AND outcome = 'ok' AND logged_at >= ? AND logged_at < ?",
        [m.log_from, m.log_to]).fetchone() or (0, 0)
    s.figures = {"操作ログの記録": m.one("SELECT count(*) FROM audit_log WHERE logged_at >= ? AND logged_at < ?",
                                  [m.log_from, m.log_to]),
                 "検証（異常なし）": int(verified[0]), "検証（異常あり）": int(verified[1]),
                 "署名付きヘッドの外部保管": m.ops(["auditing.anchor"]),
                 "異常の確認記録": m.ops(["auditing.acknowledge"])}
    for at, source in m.con.execute("SELECT raised_at, source FROM audit_alarms WHERE raised_at >= ? AND raised_at < ?"
                                    " ORDER BY raised_at", [m.start, m.end]).fetchall():
        s.exceptions.append(f"{jst_text(at)} 操作ログの異常を検出（{_ALARM_SOURCES.get(source, source)}）")
    if not verified[0] and not verified[1]:
        s.exceptions.append("今月は操作ログの検証が一度も行われていません")
    _activity(s, "操作ログの記録")


_ALARM_SOURCES = {"verify": "検証", "tail_check": "末尾の確認", "anchor": "外部保管との照合"}


def _c5(m: _Month, s: Section) -> None:
    denied = dict(m.con.execute(
        "SELECT json_extract_string(params, '$.reason'), count(*) FROM audit_log WHERE operation = 'auth.login'"
        " AND outcome = 'denied' AND logged_at >= ? AND logged_at < ? GROUP BY 1", [m.log_from, m.log_to]).fetchall())
    s.figures = {"ログイン（成功）": m.ops(["auth.login"]),
                 "ログインの拒否（パスワード・ワンタイムコードの誤り）": sum(int(denied.get(r, 0)) for r in
                                                     ("wrong_password", "wrong_code", "used_code", "unknown_user")),
                 "ロック中のログイン試行": int(denied.get("locked", 0)),
                 "無効化されたIDでのログイン試行": int(denied.get("disabled", 0)),
                 "権限のない操作の拒否": m.ops([*_all_ops(m)], "denied", "operation <> 'auth.login'"),
                 "個人番号の表示": m.ops(["persons.reveal_number"])}
    reveals = m.con.execute(
        "SELECT user_ref, count(*) FROM audit_log WHERE operation = 'persons.reveal_number' AND outcome = 'ok'"
        " AND logged_at >= ? AND logged_at < ? GROUP BY 1 ORDER BY 2 DESC", [m.log_from, m.log_to]).fetchall()
    s.tables["個人番号の表示（職員別）"] = [{"職員ID": m.names.get(u, "（登録のないID）"), "件数": int(n), "理由": "業務上の確認（理由の記録なし）"}
                                  for u, n in reveals]
    for user_id, roles in m.con.execute("SELECT user_id, roles FROM users WHERE NOT disabled ORDER BY user_id").fetchall():
        for a, b, _en, ja in role_conflicts(list(roles)):
            s.exceptions.append(f"{user_id} が兼務できない役割（{ROLE_LABELS[Role(a)][0]}・{ROLE_LABELS[Role(b)][0]}）を持っています: {ja}")
    _activity(s, "ログイン（成功）")


def _all_ops(m: _Month) -> list[str]:
    return [r[0] for r in m.con.execute("SELECT DISTINCT operation FROM audit_log WHERE logged_at >= ? AND logged_at < ?",
                                        [m.log_from, m.log_to]).fetchall()]


def _c6(m: _Month, s: Section) -> None:
    s.figures = {"IDの追加": m.ops(["users.add"]), "IDの無効化": m.ops(["users.disable", "idreview.disable_in_review"]),
                 "役割の付与": m.ops(["users.grant"]), "役割の解除": m.ops(["users.revoke"]),
                 "棚卸しの承認": m.between("id_reviews", "signed_off_at")}
    last = m.con.execute("SELECT max(signed_off_at) FROM id_reviews WHERE status = 'signed_off' AND signed_off_at < ?",
                         [m.end]).fetchone()
    when = last[0] if last else None
    s.note = f"直近の棚卸しの承認: {jst_text(when)}" if when else "承認された棚卸しの記録はまだありません。"
    if when is None or when < m.end - dt.timedelta(days=365):
        s.exceptions.append("1年以内に承認されたID・権限の棚卸しがありません（年1回以上）")
    _activity(s)


def _c7(m: _Month, s: Section) -> None:
    s.figures = {"相違の検出": m.between("discrepancies", "detected_at"),
                 "本人への通知": m.between("discrepancies", "notified_at"),
                 "解決": m.between("discrepancies", "resolved_at")}
    n = m.one("SELECT count(*) FROM discrepancies WHERE status = 'open' AND detected_at < ?",
              [m.end - dt.timedelta(days=ANSWER_DAYS)])
    if n:
        s.exceptions.append(f"検出から {ANSWER_DAYS} 日を過ぎても未処理の相違が {n:,} 件あります")
    _activity(s)


def _c8(m: _Month, s: Section) -> None:
    s.figures = {"一括削除": m.between("person_deletions", "applied_at"),
                 "消去（ファイルの再作成）": m.between("person_deletions", "erased_at"),
                 "媒体の破棄の確認": m.between("media_destructions", "destroyed_at")}
    for did, at in m.con.execute(
            "SELECT deletion_id, applied_at FROM person_deletions WHERE erased_at IS NULL AND applied_at < ?"
            " ORDER BY applied_at", [m.end - dt.timedelta(days=PURGE_DAYS)]).fetchall():
        s.exceptions.append(f"{did}（{wareki(at)}削除）のデータが {PURGE_DAYS} 日を過ぎても消去されていません")
    _activity(s)


def _c9(m: _Month, s: Section) -> None:
    kinds = _personal_kinds()
    s.figures = {"媒体管理簿の記録": m.ledger(), "送付": m.ledger(direction="out"), "受領": m.ledger(direction="in"),
                 "受け渡し後の複製削除": m.between("media_ledger", "deleted_at")}
    _unapproved(m, s, kinds)
    keep = m.one("SELECT keep_days FROM retention_rules WHERE kind = 'transfer_copies'") or 30
    for entry, at in m.con.execute(
            "SELECT entry_id, recorded_at FROM media_ledger WHERE direction = 'out' AND deleted_at IS NULL"
            " AND list_contains(?, kind) AND recorded_at < ? ORDER BY recorded_at",
            [kinds, m.end - dt.timedelta(days=keep)]).fetchall():
        s.exceptions.append(f"{entry}（{wareki(at)}作成）の送付用コピーが {keep} 日を過ぎても削除されていません")
    s.tables["媒体管理簿（種類別）"] = [{"区分": "送付" if d == "out" else "受領", "種類": k, "件数": int(n)}
                               for d, k, n in m.con.execute(
                                   "SELECT direction, kind, count(*) FROM media_ledger WHERE recorded_at >= ? AND"
                                   " recorded_at < ? GROUP BY ALL ORDER BY 1, 2", [m.start, m.end]).fetchall()]
    _activity(s, "媒体管理簿の記録")


def _c10(m: _Month, s: Section) -> None:
    s.figures = {"識別子を付けた照会": m.between("query_requests", "requested_at"),
                 "識別子で突合した回答": m.between("query_requests", "answered_at"),
                 "突合できず拒否した回答": m.one("SELECT count(*) FROM result_problems p JOIN result_imports i USING (import_id)"
                                      " WHERE i.imported_at >= ? AND i.imported_at < ?", [m.start, m.end])}
    _activity(s, "識別子を付けた照会", "識別子で突合した回答")


def _c11(m: _Month, s: Section) -> None:
    keep = m.one("SELECT keep_days FROM retention_rules WHERE kind = 'query_results'") or 90
    s.figures = {"照会結果の削除": m.between("result_deletions", "deleted_at"),
                 "保存期間の適用": m.ops(["retention.apply", "results.purge_results"])}
    n = m.one("SELECT count(*) FROM query_batches b WHERE b.status = 'closed' AND b.closed_at < ? AND"
              " (EXISTS (SELECT 1 FROM info_results r JOIN query_requests q USING (request_id) WHERE q.batch_id = b.batch_id)"
              " OR EXISTS (SELECT 1 FROM juki_results r JOIN query_requests q USING (request_id) WHERE q.batch_id = b.batch_id))",
              [m.end - dt.timedelta(days=keep)])
    if n:
        s.exceptions.append(f"保存期間（{keep} 日）を過ぎた照会結果が {n:,} ファイル分残っています")
    _activity(s)


def _c12(m: _Month, s: Section) -> None:
    s.figures = {"バックアップ": m.ops(["backup._record_backup"]), "復元": m.ops(["backup.restore"]),
                 "鍵の更新": m.ops(["keys.rotate"]), "操作ログの記録": m.one(
                     "SELECT count(*) FROM audit_log WHERE logged_at >= ? AND logged_at < ?", [m.log_from, m.log_to])}
    if not s.figures["バックアップ"]:
        s.exceptions.append("今月はバックアップが一度も取得されていません")
    s.note = "データベースは DuckDB の AES-256-GCM で暗号化され、個人番号は値ごとに再度暗号化されています。"
    _activity(s, "バックアップ", "鍵の更新")


def _c13(m: _Month, s: Section) -> None:
    late = audit_log.LOG_LIST.groups["out_of_hours"]
    refused = {r: m.log_rows("auth.login", "denied", [r]) for r in ("out_of_hours", "unknown_terminal")}
    s.figures = {"時間外のログイン試行（拒否）": len(refused["out_of_hours"]),
                 "登録のない端末からのログイン試行（拒否）": len(refused["unknown_terminal"]),
                 "時間外利用の承認": m.ops(["access.grant_exception"]),
                 "時間外に記録された操作": m.one(
                     f"SELECT count(*) FROM audit_log WHERE logged_at >= ? AND logged_at < ? AND ({late}) = 'yes'"
                     " AND NOT list_contains(?, user_ref)", [m.log_from, m.log_to, _system_refs(m)])}
    for at, who in refused["out_of_hours"]:
        s.exceptions.append(f"{at} {who} が利用時間外にログインしようとしました（拒否）")
    for at, who in refused["unknown_terminal"]:
        s.exceptions.append(f"{at} {who} が登録のない端末からログインしようとしました（拒否）")
    if s.figures["時間外に記録された操作"]:
        s.exceptions.append(f"利用時間外に記録された職員の操作が {s.figures['時間外に記録された操作']:,} 件あります（承認の有無を確認）")
    _activity(s)


def _system_refs(m: _Month) -> list[str]:
    key = m.unit.workspace.keyring.audit_key()
    batch = [r[0] for r in m.con.execute("SELECT user_id FROM batch_accounts").fetchall()]
    return [audit.pseudonym(key, u) for u in ("system", "web", "kernel", "pipeline", *batch)]


def _c14(m: _Month, s: Section) -> None:
    s.figures = {"受け渡し用コピーの取り出し": m.ops(["media.handover_copy"]),
                 "受け渡し済みとして削除": m.ops(["media.mark_delivered"]),
                 "残存ファイルの整理": m.ops(["media.sweep"])}
    _activity(s)


def _s6(m: _Month, s: Section) -> None:
    statuses = dict(m.con.execute("SELECT status, count(*) FROM approvals WHERE requested_at >= ? AND requested_at < ?"
                                  " GROUP BY 1", [m.start, m.end]).fetchall())
    expired = m.one("SELECT count(*) FROM approvals WHERE status IN ('pending', 'approved') AND expires_at >= ?"
                    " AND expires_at < ?", [m.start, min(m.end, m.unit.now)])
    s.figures = {"承認依頼": sum(int(v) for v in statuses.values()),
                 "承認": m.between("approvals", "decided_at", "status IN ('approved', 'used')"),
                 "却下": m.between("approvals", "decided_at", "status = 'rejected'"),
                 "使用済み": m.between("approvals", "used_at"), "期限切れ": expired,
                 "自分の依頼の承認（拒否）": len(m.log_rows("approvals.decide", "refused", ["self_approval", "self_benefit"]))}
    for at, who in m.log_rows("approvals.decide", "refused", ["self_approval", "self_benefit"]):
        s.exceptions.append(f"{at} {who} が自分の依頼（または自分が利益を受ける依頼）を承認しようとしました（拒否）")
    for op in _all_ops(m):
        for at, who in m.log_rows(op, "refused", ["expired"]):
            s.exceptions.append(f"{at} {who} が期限切れの承認で実行しようとしました（{op}、拒否）")
    n = m.one("SELECT count(*) FROM approvals WHERE used_at > expires_at AND used_at >= ? AND used_at < ?", [m.start, m.end])
    if n:
        s.exceptions.append(f"期限切れ後に使用された承認が {n:,} 件あります")
    _activity(s, "承認依頼", "承認", "使用済み")


def _o1(m: _Month, s: Section) -> None:
    rec = records.office_records(m.unit, _fiscal_year(m.start))
    held = [x for x in rec.training["sessions"] if m.start.date() <= x["held_on"] < m.end.date()]
    s.figures = {"研修の実施": len(held), "受講者（延べ）": sum(int(x["attendees"]) for x in held)}
    limit = m.end.date() - dt.timedelta(days=365)
    for staff in rec.training["staff"]:
        if staff["last_trained"] is None or staff["last_trained"] < limit:
            s.exceptions.append(f"{staff['user_id']} は1年以内に研修を受講していません")
    s.tables["研修"] = [{"研修番号": x["session_id"], "実施日": x["held_on"], "研修名": x["title"],
                       "分野": records.TRAINING_TOPICS.get(x["topic"], (x["topic"],))[0], "時間（分）": x["minutes"],
                       "受講者数": x["attendees"]} for x in held]
    _activity(s)


def _fiscal_year(start: dt.datetime) -> int:
    return start.year if start.month >= 4 else start.year - 1


def _o2(m: _Month, s: Section) -> None:
    year = _fiscal_year(m.start)
    items = records.office_records(m.unit, year).inspection
    checked = [i for i in items if i["result"]]
    s.figures = {"点検済みの項目": len(checked), "未点検の項目": len(items) - len(checked),
                 "指摘事項": sum(1 for i in items if i["result"] == "finding"),
                 "改善完了": sum(1 for i in items if i["closed_on"])}
    today = m.end.date() - dt.timedelta(days=1)
    for i in items:
        if i["result"] == "finding" and not i["closed_on"] and i["due_on"] and i["due_on"] < today:
            s.exceptions.append(f"指摘事項「{records.CHECKLIST[i['item']][0]}」の改善期限（{wareki(i['due_on'])}）を過ぎています")
    if m.start.month == 3 and len(checked) < len(items):
        s.exceptions.append(f"{year}年度の自己点検に未点検の項目が {len(items) - len(checked):,} 件あります（年度末）")
    s.note = f"{year}年度の自己点検（{len(items)} 項目）。"
    s.tables["自己点検"] = [{"項目": records.CHECKLIST[i["item"]][0],
                          "結果": records.INSPECTION_RESULTS[i["result"]][0] if i["result"] else "未点検",
                          "指摘事項": i["finding"] or "", "改善措置": i["follow_up"] or "", "期限": i["due_on"],
                          "完了": i["closed_on"]} for i in items]
    if checked or s.exceptions:
        _activity(s)
    else:
        s.status = "no_evidence"


def _o3(m: _Month, s: Section) -> None:
    kits = records.office_records(m.unit, _fiscal_year(m.start)).kits
    s.figures = {"交付": m.one("SELECT coalesce(sum(kits), 0) FROM kit_movements WHERE direction = 'handed_out'"
                             " AND moved_on >= ? AND moved_on < ?", [m.start.date(), m.end.date()]),
                 "返却": m.one("SELECT coalesce(sum(kits), 0) FROM kit_movements WHERE direction = 'returned'"
                             " AND moved_on >= ? AND moved_on < ?", [m.start.date(), m.end.date()]),
                 "紛失": m.one("SELECT coalesce(sum(kits), 0) FROM kit_movements WHERE direction = 'lost'"
                             " AND moved_on >= ? AND moved_on < ?", [m.start.date(), m.end.date()]),
                 "未返却（全体）": sum(k["outstanding"] for k in kits)}
    if s.figures["紛失"]:
        s.exceptions.append(f"今月、収集キット {s.figures['紛失']:,} 件の紛失が報告されました（事案として記録・報告の要否を確認）")
    for k in kits:
        if k["overdue"]:
            s.exceptions.append(f"交付番号 {k['batch']}（{wareki(k['handed_out_on'])}交付）のキット {k['outstanding']:,} 件が"
                                f" {records.KIT_OVERDUE_DAYS} 日を過ぎても返却されていません")
    s.tables["キットの交付・返却"] = [{"交付番号": k["batch"], "交付日": k["handed_out_on"], "交付": k["handed_out"],
                               "返却": k["returned"], "紛失": k["lost"], "未返却": k["outstanding"]} for k in kits]
    _activity(s, "交付", "返却", "紛失")


def _o4(m: _Month, s: Section) -> None:
    incidents = records.office_records(m.unit, _fiscal_year(m.start)).incidents
    s.figures = {"発覚した事案": sum(1 for i in incidents if m.start <= i["discovered_at"] < m.end),
                 "対応中の事案": sum(1 for i in incidents if i["status"] == "open")}
    for i in incidents:
        kind = records.INCIDENT_KINDS[i["kind"]][0]
        for step, word in (("preliminary", "速報"), ("final", "確報")):
            if i[step] in ("late", "overdue"):
                s.exceptions.append(f"事案 {i['incident_id']}（{kind}、{wareki(i['discovered_at'])}発覚）の{word}が"
                                    f"期限（{wareki(i[f'{step}_due'])}）に{'遅れました' if i[step] == 'late' else '間に合っていません'}")
    s.note = ("報告期限: 速報は発覚から3〜5日以内、確報は30日以内（不正の目的によるおそれがある場合は60日以内）。"
              "番号法 第29条の4、特定個人情報の漏えい等に関する報告等に関する規則。")
    s.tables["事案"] = [{"事案番号": i["incident_id"], "種類": records.INCIDENT_KINDS[i["kind"]][0],
                       "影響人数": i["persons"], "発覚": i["discovered_at"], "速報期限": i["preliminary_due"],
                       "速報": records.REPORT_STATES[i["preliminary"]][0], "確報期限": i["final_due"],
                       "確報": records.REPORT_STATES[i["final"]][0],
                       "状況": "対応完了" if i["status"] == "closed" else "対応中"} for i in incidents]
    _activity(s)


#: The probe of every promise (the mapping itself is :data:`PROMISES`).
PROBES: dict[str, Probe] = {
    "F0": _f0, "F0b": _f0b, "F1": _f1, "F1b": _f1b, "F2": _batches("info"), "F3": _batches("juki"),
    "F4": _answers("info"), "F5": _answers("juki"), "F6": _f6, "F7": _f7, "F8": _f8, "F9": _f9, "F10": _f10,
    "U1": _u1, "U2": _u2, "U3": _u3, "U4": _u4, "U5": _u5,
    "C1": _c1, "C2": _c2, "C3": _c3, "C4": _c4, "C5": _c5, "C6": _c6, "C7": _c7, "C8": _c8, "C9": _c9, "C10": _c10,
    "C11": _c11, "C12": _c12, "C13": _c13, "C14": _c14, "S6": _s6, "O1": _o1, "O2": _o2, "O3": _o3, "O4": _o4,
}


def _month(value: str) -> tuple[int, int]:
    try:
        return parse_month(value)
    except ValueError:
        raise InvalidInput("Give the month as YYYY-MM, e.g. 2026-11.", "対象月は 2026-11 のように YYYY-MM で指定してください。",
                           reason="bad_month") from None


@service(Permission.AUDIT_READ)
def monthly(unit: Unit, month: str) -> EvidenceReport:
    """The evidence of one month (``YYYY-MM``, Japan time) for every promise; a month that has not
    begun is refused."""
    year, mon = _month(month)
    start, end = month_bounds(year, mon)
    if start > unit.now:
        raise InvalidInput("That month has not begun yet.", "その月はまだ始まっていません。", reason="future_month")
    key = unit.workspace.keyring.audit_key()
    names = {audit.pseudonym(key, u): u for (u,) in unit.con.execute("SELECT user_id FROM users").fetchall()}
    m = _Month(unit, start, end, names)
    sections = []
    for pid, promise in PROMISES.items():
        section = Section(promise)
        PROBES[pid](m, section)
        sections.append(section)
    per_day = dict(unit.con.execute(
        "SELECT strftime(CAST(replace(logged_at, 'Z', '') AS TIMESTAMP) + INTERVAL 9 HOUR, '%d'), count(*) FROM audit_log"
        " WHERE logged_at >= ? AND logged_at < ? GROUP BY 1 ORDER BY 1", [m.log_from, m.log_to]).fetchall())
    report = EvidenceReport(year, mon, unit.now.astimezone(JST), unit.user_id, sections, {k: int(v) for k, v in per_day.items()})
    unit.note(None, month=f"{year:04d}-{mon:02d}", **report.counts())
    return report
