"""Decoding and the registry of versioned external file layouts (外部ファイルレイアウト).

DESIGN §7: every input is decoded (UTF-8, UTF-8 with BOM, CP932), checked as a
whole, and read with line numbers so each refusal can name the line.  Every external
layout — the housing business system's target list (都住システム 対象者リスト, F0),
the collection list (収集対象者リスト, F0b), the number-collection contractor's
returns and the My Number portal download (F1), the integrated-number request and
answer (団体内統合利用番号, F1b) — is a versioned :class:`Layout` in :data:`LAYOUTS`.
The official specifications are not public; these layouts are this project's own,
documented below and in each layout's ``description_ja``.

Common rules for every layout (version 1):

* CSV (RFC 4180), comma separator, double-quote quoting, CRLF or LF line ends;
* the first row is a header of the layout's column names (English, as below) **or**
  of its Japanese labels; columns may come in any order; an optional column
  (``required=False``) may be left out and then reads as ``""``;
* every value is read as text (no type guessing: 宛名番号 ``000123`` stays
  ``000123``), a missing value is ``""``; value rules belong to the feature that reads
  the file;
* encoding UTF-8, UTF-8 with BOM, or CP932 (Windows-31J, *not* Shift_JIS, so 髙 and
  ① decode) — CP932 only when the file decodes strictly and holds no private-use,
  C1-control or unassigned character (what a stray byte such as ``0xFF`` in an ASCII
  file decodes to); otherwise the file is refused with the line and byte offset;
* a carriage return without a line feed (CR-only line ends, a stray CR) is refused
  with its line and byte offset;
* every column has a maximum length (``Column.max_length``, set per layout); a longer
  value refuses the file naming the line and the column; a file is at most
  :data:`MAX_FILE_BYTES` bytes and :data:`MAX_RECORDS` records.

Layouts a person opens in a spreadsheet (``Layout.for_people``) are written with every
cell neutralised against formula injection (:func:`spreadsheet_safe`).

Refusals are :class:`~workbench.core.errors.InvalidInput` with a Japanese and English
message and ``details["reason"]`` (a stable code) and, where one applies,
``details["line"]`` (1-based physical line).  Messages never quote a value — not even a
header field that is not a column name (a file without its header has data there): they
give its position and the column it was probably meant to be.  Anything the CSV reader
cannot parse is a refusal too, never a traceback.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from workbench.core.errors import InvalidInput

__all__ = [
    "ENCODINGS",
    "FORMULA_TRIGGERS",
    "LAYOUTS",
    "MAX_FILE_BYTES",
    "MAX_RECORDS",
    "Column",
    "Layout",
    "Table",
    "decode",
    "get_layout",
    "read_table",
    "spreadsheet_safe",
    "too_large",
    "write_table",
]

#: A column's maximum length when its layout names none (characters).
DEFAULT_MAX_LENGTH = 200
#: The largest input file read at all (bytes) and the most records in one file: a sanity limit
#: far above the largest real extract (about 600,000 people in Tokyo's public housing).
MAX_FILE_BYTES = 1 << 30
MAX_RECORDS = 5_000_000

#: Encodings accepted on input, in the order they are tried.
ENCODINGS = ("utf-8-sig", "utf-8", "cp932")

_BOM = b"\xef\xbb\xbf"


# --------------------------------------------------------------------------------------
# decoding
# --------------------------------------------------------------------------------------
def _line_of(data: bytes, position: int) -> int:
    """1-based line number of the byte at ``position``."""
    return data.count(b"\n", 0, position) + 1


#: Characters CP932 decodes bytes to that no real text holds: C1 controls (0x80), the
#: private-use area (user-defined characters F040–F9FC, and 0xA0, 0xFD–0xFF), the replacement character.
_CP932_SUSPECT = re.compile("[\x80-\x9f\ue000-\uf8ff\ufffd]")


def _undecodable(data: bytes, position: int, guess: str) -> InvalidInput:
    line = _line_of(data, position)
    return InvalidInput(
        f"Line {line} (byte offset {position}) holds bytes that are neither UTF-8 nor CP932 (the file is probably "
        f"{guess}, damaged or in another encoding). Save it as UTF-8 or CP932 CSV.",
        f"{line} 行目（先頭から {position} バイト目）に UTF-8 としても CP932 としても読めないバイトがあります"
        f"（{guess} のファイルが破損しているか、別の文字コードの可能性があります）。UTF-8 または CP932 の CSV で保存し直してください。",
        reason="undecodable", line=line, byte_offset=position, encoding="unknown",
    )


def _cp932_strict(data: bytes) -> tuple[str | None, int]:
    """``(text, -1)`` if ``data`` is clean CP932; else ``(None, byte offset of the first bad byte)``.

    Clean means it decodes strictly *and* holds no character that only a stray byte
    decodes to (private-use, C1 control, unassigned) — so an ASCII or UTF-8 file with one
    damaged byte is not mistaken for CP932.
    """
    try:
        text = data.decode("cp932")
    except UnicodeDecodeError as exc:
        return None, exc.start
    # Every other character CP932 decodes to is assigned (tests/test_hostile_input.py checks the
    # whole code table), so this one search finds private-use, C1 and unassigned alike.
    bad = _CP932_SUSPECT.search(text)
    if bad is None:
        return text, -1
    bad_at = bad.start()
    return None, len(text[:bad_at].encode("cp932"))


def decode(data: bytes) -> tuple[str, str]:
    """Decode an input file; return ``(text, encoding)``.

    A UTF-8 BOM means ``utf-8-sig``; otherwise valid UTF-8 is ``utf-8``; otherwise
    clean CP932 (:func:`_cp932_strict`) is ``cp932``.  Anything else (UTF-16, Latin-1, a
    damaged file) is refused naming the line and byte offset of the first byte that
    cannot be decoded.
    """
    nul = data.find(b"\x00")
    if nul >= 0 or data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        line = _line_of(data, max(nul, 0))
        raise InvalidInput(
            f"The file is not text in UTF-8 or CP932 (it looks like UTF-16 or binary data; line {line}). "
            "Save it as UTF-8 or CP932 (Shift_JIS) CSV.",
            f"ファイルが UTF-8 または CP932 のテキストではありません（UTF-16 またはバイナリの可能性があります。{line} 行目）。"
            "UTF-8 または CP932（Shift_JIS）の CSV で保存し直してください。",
            reason="undecodable", line=line, byte_offset=max(nul, 0), encoding="unknown",
        )
    if data.startswith(_BOM):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            position = exc.start + 3
            line = _line_of(data, position)
            raise InvalidInput(
                f"The file starts with a UTF-8 BOM but line {line} (byte offset {position}) holds bytes that are not UTF-8.",
                f"ファイルは UTF-8（BOM 付き）ですが、{line} 行目（先頭から {position} バイト目）に UTF-8 として読めないバイトがあります。",
                reason="undecodable", line=line, byte_offset=position, encoding="utf-8-sig",
            ) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc.start
    text, cp932_error = _cp932_strict(data)
    if text is not None:
        return text, "cp932"
    # The encoding that got furthest is most likely the one intended.
    guess, position = ("UTF-8", utf8_error) if utf8_error >= cp932_error else ("CP932", cp932_error)
    raise _undecodable(data, position, guess)


# --------------------------------------------------------------------------------------
# layouts
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    """One column of a layout.

    ``required``: the column must appear in the header.  An optional column may be
    left out of the file and then reads as ``""``.  Whether a *value* may be empty is
    decided by the feature that validates the rows.
    """

    name: str
    label_ja: str
    required: bool = True
    #: The longest value accepted, in characters (文字数の上限); longer is refused with its line.
    max_length: int = DEFAULT_MAX_LENGTH


@dataclass(frozen=True)
class Layout:
    """A versioned external file layout (ファイルレイアウト).

    ``for_people``: a person may open files in this layout in a spreadsheet, so every
    cell is neutralised against formula injection when it is written
    (:func:`spreadsheet_safe`).
    """

    name: str
    version: int
    columns: tuple[Column, ...]
    description_ja: str
    for_people: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def required_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)


def _layout(name: str, version: int, description_ja: str, *columns: tuple[str, str] | tuple[str, str, bool],
            limits: dict[str, int], for_people: bool = False) -> Layout:
    """A layout; ``limits`` gives every column's maximum length (all columns must be named)."""
    unknown = set(limits) - {c[0] for c in columns}
    unlimited = {c[0] for c in columns} - set(limits)
    if unknown or unlimited:
        raise ValueError(f"layout {name}: limits for unknown columns {unknown} or none for {unlimited}")
    cols = tuple(Column(*c, max_length=limits[c[0]]) for c in columns)  # type: ignore[misc]
    return Layout(name, version, cols, description_ja, for_people=for_people)


#: Maximum lengths shared by many layouts (characters).
_ID, _NAME, _ADDRESS, _DATE, _CODE, _NUMBER, _TIME = 20, 100, 200, 20, 10, 30, 40


HOUSING_TARGETS = _layout(
    "housing_targets", 1,
    """対象者リスト（都住システム抽出, F0）: 入居者・入居申込者とその世帯。1 行 1 人。

    | column | 項目 | 値 |
    |---|---|---|
    | person_id | 宛名番号 | 都住システムの個人番号（内部番号）。ファイル内で一意 |
    | household_id | 世帯番号 | 同じ世帯の者は同じ値 |
    | relation | 続柄 | 任意（本人, 配偶者, 子, 親, その他 など） |
    | name | 氏名 | 必須 |
    | kana | 氏名カナ | 必須 |
    | sex | 性別 | 1=男, 2=女, 9=その他・不明 (M/F/男/女 も可) |
    | birth_date | 生年月日 | YYYY-MM-DD または YYYYMMDD または YYYY/MM/DD |
    | address | 住所 | 必須 |
    | ward_code | 区市町村コード | 全国地方公共団体コード 5 桁または 6 桁 |
    | housing_type | 住宅種別 | 都営住宅, 福祉住宅, 引揚者住宅, 地域特別賃貸住宅, 特定公共賃貸住宅 など |
    | status | 入居区分 | resident / applicant（入居者 / 入居申込者） |
    | phone | 電話番号 | 任意。列ごと省略可 |
    """,
    ("person_id", "宛名番号"), ("household_id", "世帯番号"), ("relation", "続柄", False),
    ("name", "氏名"), ("kana", "氏名カナ"), ("sex", "性別"), ("birth_date", "生年月日"),
    ("address", "住所"), ("ward_code", "区市町村コード"), ("housing_type", "住宅種別"),
    ("status", "入居区分"), ("phone", "電話番号", False),

    limits={"person_id": _ID, "household_id": _ID, "relation": 10, "name": _NAME, "kana": _NAME, "sex": _CODE,
            "birth_date": _DATE, "address": _ADDRESS, "ward_code": 10, "housing_type": 40, "status": 12, "phone": 20},
)

COLLECTION_LIST = _layout(
    "collection_list", 1,
    """収集対象者リスト（番号収集委託事業者あて, F0b）: 個人番号の提供依頼文書を送るために必要な項目だけ（C14）。
    個人番号は含まない。

    | column | 項目 |
    |---|---|
    | person_id | 宛名番号（返送時にこの番号で照合する） |
    | household_id | 世帯番号 |
    | relation | 続柄 |
    | name | 氏名 |
    | kana | 氏名カナ |
    | birth_date | 生年月日 (YYYY-MM-DD) |
    | address | 住所（送付先） |
    | ward_code | 区市町村コード |
    | status | 入居区分 (resident / applicant) |
    """,
    ("person_id", "宛名番号"), ("household_id", "世帯番号"), ("relation", "続柄"), ("name", "氏名"),
    ("kana", "氏名カナ"), ("birth_date", "生年月日"), ("address", "住所"), ("ward_code", "区市町村コード"),
    ("status", "入居区分"),

    limits={"person_id": _ID, "household_id": _ID, "relation": 10, "name": _NAME, "kana": _NAME, "birth_date": _DATE,
            "address": _ADDRESS, "ward_code": 10, "status": 12},
    for_people=True,
)

CONTRACTOR_RETURN = _layout(
    "contractor_return", 1,
    """番号収集委託事業者の電子化済み返送データ（F1）: 提供書類 1 通につき 1 行。

    | column | 項目 | 値 |
    |---|---|---|
    | line_no | 連番 | 任意。事業者の整理番号。列ごと省略可 |
    | person_id | 宛名番号 | 収集対象者リストの宛名番号 |
    | individual_number | 個人番号 | 12 桁（全角数字・ハイフン・空白は正規化して検査） |
    | identity_checked | 本人確認 | 1=番号確認・身元確認済み, 0=未確認 |
    | collected_on | 収集日 | YYYY-MM-DD |
    """,
    ("line_no", "連番", False), ("person_id", "宛名番号"), ("individual_number", "個人番号"),
    ("identity_checked", "本人確認"), ("collected_on", "収集日"),

    limits={"line_no": _ID, "person_id": _ID, "individual_number": _NUMBER, "identity_checked": _CODE, "collected_on": _DATE},
)

PORTAL_DOWNLOAD = _layout(
    "portal_download", 1,
    """マイナポータル（ぴったりサービス／LoGo フォーム）申請データのダウンロード（F1）: 申請 1 件 1 行。
    宛名番号は無いので、基本 4 情報で対象者リストと突合する。

    | column | 項目 | 値 |
    |---|---|---|
    | submission_id | 申請番号 | ポータルの受付番号。ファイル内で一意 |
    | name | 氏名 | |
    | kana | 氏名カナ | |
    | sex | 性別 | 1/2/9 |
    | birth_date | 生年月日 | YYYY-MM-DD |
    | address | 住所 | |
    | individual_number | 個人番号 | 12 桁 |
    | identity_checked | 本人確認 | 1=公的個人認証で確認済み, 0=未確認 |
    | submitted_at | 申請日時 | ISO 8601 |
    """,
    ("submission_id", "申請番号"), ("name", "氏名"), ("kana", "氏名カナ"), ("sex", "性別"),
    ("birth_date", "生年月日"), ("address", "住所"), ("individual_number", "個人番号"),
    ("identity_checked", "本人確認"), ("submitted_at", "申請日時"),

    limits={"submission_id": 40, "name": _NAME, "kana": _NAME, "sex": _CODE, "birth_date": _DATE, "address": _ADDRESS,
            "individual_number": _NUMBER, "identity_checked": _CODE, "submitted_at": _TIME},
)

INTEGRATED_REQUEST = _layout(
    "integrated_request", 1,
    """団体内統合利用番号の取得依頼（連携サーバーあて, F1b）: 依頼 1 件 1 行。
    request_id は依頼ごとに一意で、回答にそのまま返される（C10）。

    | column | 項目 | 値 |
    |---|---|---|
    | request_id | 依頼番号 | 一意。回答の照合キー |
    | person_id | 宛名番号 | |
    | individual_number | 個人番号 | 12 桁（統合宛名の特定に必要） |
    | name | 氏名 | |
    | kana | 氏名カナ | |
    | sex | 性別 | 1/2/9 |
    | birth_date | 生年月日 | YYYY-MM-DD |
    | address | 住所 | |
    """,
    ("request_id", "依頼番号"), ("person_id", "宛名番号"), ("individual_number", "個人番号"),
    ("name", "氏名"), ("kana", "氏名カナ"), ("sex", "性別"), ("birth_date", "生年月日"), ("address", "住所"),

    limits={"request_id": 40, "person_id": _ID, "individual_number": _NUMBER, "name": _NAME, "kana": _NAME, "sex": _CODE,
            "birth_date": _DATE, "address": _ADDRESS},
)

INTEGRATED_ANSWER = _layout(
    "integrated_answer", 1,
    """団体内統合利用番号の回答（連携サーバーから, F1b）: 回答 1 件 1 行。

    | column | 項目 | 値 |
    |---|---|---|
    | request_id | 依頼番号 | 依頼ファイルの request_id（C10） |
    | person_id | 宛名番号 | 依頼どおり |
    | result_code | 処理結果 | 00=付番済み, 10=該当なし, 90=その他エラー |
    | integrated_number | 団体内統合利用番号 | 15 桁の数字。処理結果 00 のときのみ |
    | answered_at | 回答日時 | 任意。ISO 8601 |
    """,
    ("request_id", "依頼番号"), ("person_id", "宛名番号"), ("result_code", "処理結果"),
    ("integrated_number", "団体内統合利用番号"), ("answered_at", "回答日時", False),

    limits={"request_id": 40, "person_id": _ID, "result_code": _CODE, "integrated_number": _NUMBER, "answered_at": _TIME},
)

#: Every external layout, by name.
LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (HOUSING_TARGETS, COLLECTION_LIST, CONTRACTOR_RETURN, PORTAL_DOWNLOAD, INTEGRATED_REQUEST, INTEGRATED_ANSWER)
}


# -- query layouts (⑧⑨ procedures, F3/F5 Juki-net; the fixed-width F2/F4 files are in query_files) --
HOUSING_PROCEDURES = _layout(
    "housing_procedures", 1,
    """届出・申請された手続（都住システム抽出, 別添1 ⑧⑨）: 手続 1 件 × 対象者 1 人で 1 行。
    同じ申請番号の行は手続コード・年度・届出日・申請者が一致していること。

    | column | 項目 | 値 |
    |---|---|---|
    | procedure_id | 申請番号 | 都住システムの受付番号（英数字とハイフン 30 文字以内） |
    | procedure_code | 手続コード | P1〜P6（query_rules.json） |
    | fiscal_year | 年度 | 西暦 4 桁 |
    | filed_on | 届出日 | YYYY-MM-DD または YYYYMMDD または YYYY/MM/DD |
    | applicant_id | 申請者宛名番号 | 対象者リストの宛名番号 |
    | person_id | 対象者宛名番号 | 手続の対象となる世帯員（申請者本人を含む） |
    | consent | 情報照会同意 | Y / N（同意 / 不同意。1/0, 有/無 も可） |
    """,
    ("procedure_id", "申請番号"), ("procedure_code", "手続コード"), ("fiscal_year", "年度"), ("filed_on", "届出日"),
    ("applicant_id", "申請者宛名番号"), ("person_id", "対象者宛名番号"), ("consent", "情報照会同意"),

    limits={"procedure_id": 30, "procedure_code": 10, "fiscal_year": 10, "filed_on": _DATE, "applicant_id": _ID,
            "person_id": _ID, "consent": _CODE},
)

JUKI_REQUEST = _layout(
    "juki_request", 1,
    """住基ネット 本人確認情報照会（個人番号による照会, F3 ⑮⑯）: 照会 1 件 1 行。必要最小限の項目のみ（C14）。

    | column | 項目 | 値 |
    |---|---|---|
    | request_id | 照会依頼番号 | 一意。回答にそのまま返される（C10） |
    | individual_number | 個人番号 | 12 桁 |
    | requested_on | 照会基準日 | YYYY-MM-DD |
    """,
    ("request_id", "照会依頼番号"), ("individual_number", "個人番号"), ("requested_on", "照会基準日"),

    limits={"request_id": 40, "individual_number": _NUMBER, "requested_on": _DATE},
)

JUKI_ANSWER = _layout(
    "juki_answer", 1,
    """住基ネット 本人確認情報照会の回答（F5 ⑰）: 回答 1 件 1 行。

    | column | 項目 | 値 |
    |---|---|---|
    | request_id | 照会依頼番号 | 照会ファイルの request_id（C10） |
    | result_code | 処理結果 | 00=該当あり, 10=該当なし, 90=エラー |
    | name | 氏名 | 現在の氏名（00 のときのみ） |
    | kana | 氏名カナ | |
    | sex | 性別 | 1/2/9 |
    | birth_date | 生年月日 | YYYY-MM-DD |
    | address | 住所 | 現住所（消除者は最終住所） |
    | deceased | 死亡 | 1=死亡により消除, 0=それ以外 |
    | answered_at | 回答日時 | 任意。ISO 8601 |
    """,
    ("request_id", "照会依頼番号"), ("result_code", "処理結果"), ("name", "氏名"), ("kana", "氏名カナ"),
    ("sex", "性別"), ("birth_date", "生年月日"), ("address", "住所"), ("deceased", "死亡"),
    ("answered_at", "回答日時", False),

    limits={"request_id": 40, "result_code": _CODE, "name": _NAME, "kana": _NAME, "sex": _CODE, "birth_date": _DATE,
            "address": _ADDRESS, "deceased": _CODE, "answered_at": _TIME},
)

RETURN_LIST = _layout(
    "return_list", 1,
    """差戻リスト（番号収集委託事業者・ポータル担当あて, F1）: 登録できなかった行 1 行につき 1 行。値は載せず、
    行番号・理由・宛名番号（またはポータルの申請番号）だけを記載する。表計算ソフトで開かれる。

    | column | 項目 |
    |---|---|
    | line | 元ファイルの行番号 |
    | reason_code | 理由コード |
    | reason_ja | 理由（日本語） |
    | reason_en | 理由（英語） |
    | person_id | 宛名番号（委託事業者の返送データのとき） |
    | submission_id | 申請番号（ポータルのとき） |
    """,
    ("line", "行番号"), ("reason_code", "理由コード"), ("reason_ja", "理由"), ("reason_en", "理由（英語）"),
    ("person_id", "宛名番号"), ("submission_id", "申請番号"),
    limits={"line": 12, "reason_code": 40, "reason_ja": 200, "reason_en": 200, "person_id": _ID, "submission_id": 40},
    for_people=True,
)

LAYOUTS.update({lay.name: lay for lay in (HOUSING_PROCEDURES, JUKI_REQUEST, JUKI_ANSWER, RETURN_LIST)})


def get_layout(layout: Layout | str) -> Layout:
    """The layout itself, or the registered one of that name."""
    if isinstance(layout, Layout):
        return layout
    try:
        return LAYOUTS[layout]
    except KeyError:
        raise InvalidInput(f"Unknown file layout {layout!r}.", f"不明なファイルレイアウト {layout!r} です。", reason="unknown_layout") from None


# --------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Table:
    """A file read in a layout: values as text, with the physical line of each row."""

    layout: Layout
    #: One column per layout column, in layout order, all ``str``; missing → ``""``.
    frame: pd.DataFrame
    #: 1-based physical line number in the file of each row (int64).
    lines: np.ndarray
    encoding: str
    #: SHA-256 (hex) of the raw bytes, to recognise the same file twice.
    digest: str

    @property
    def rows(self) -> int:
        return len(self.frame)


def _refuse(en: str, ja: str, *, reason: str, line: int | None = None, **details: object) -> InvalidInput:
    return InvalidInput(en, ja, reason=reason, line=line, **details)


def _header(text_head: str) -> list[str]:
    """The header row's fields (the header must sit on the first line)."""
    first = text_head.split("\n", 1)[0].rstrip("\r")
    try:
        fields = next(csv.reader([first]), [])
    except csv.Error:
        raise _refuse(
            "Line 1: the header line cannot be read as CSV (a stray quote, or far too long).",
            "1 行目: 見出し行を CSV として読めません（引用符の誤り、または長すぎる行）。",
            reason="bad_header", line=1,
        ) from None
    return [f.strip().lstrip("\ufeff") for f in fields]


def _map_header(fields: list[str], layout: Layout) -> list[str]:
    """Map header fields (English names or Japanese labels) to column names; refuse a wrong header.

    The refusal names the layout's columns that are missing, and the *positions* of
    fields that are not the layout's (with the column each was probably meant to be) —
    never the fields themselves: a file without its header line has data there.
    """
    by_label = {c.label_ja: c.name for c in layout.columns}
    names = set(layout.names)
    mapped = [f if f in names else by_label.get(f, f) for f in fields]
    missing = [n for n in layout.required_names if n not in mapped]
    extra = [i + 1 for i, m in enumerate(mapped) if m not in names]
    dupes = sorted({m for m in mapped if m in names and mapped.count(m) > 1})
    if not (missing or extra or dupes):
        return mapped
    no_header = len(extra) == len(fields)
    known = [*layout.names, *by_label]
    hints = {}
    for i in extra:
        close = difflib.get_close_matches(fields[i - 1], known, n=1, cutoff=0.6)
        if close:
            hints[i] = by_label.get(close[0], close[0])
    expected_en = ", ".join(layout.names)
    expected_ja = "、".join(c.label_ja for c in layout.columns)
    if no_header:
        raise _refuse(
            f"Line 1 is not a header line: none of its {len(fields)} fields names a column of layout {layout.name} "
            f"v{layout.version}. The file has no header line (it starts with data) or is in another layout. "
            f"Add the header line: {expected_en}.",
            f"1 行目が見出し行ではありません（{len(fields)} 項目のどれもレイアウト {layout.name} 第{layout.version}版 の列名ではありません）。"
            f"見出し行がありません（データから始まっている）か、別のレイアウトのファイルです。見出し行を付けてください: {expected_ja}。",
            reason="bad_header", line=1, no_header=True, missing=missing, extra_positions=extra, repeated=[],
        )
    parts_en, parts_ja = [], []
    if missing:
        parts_en.append("missing columns: " + ", ".join(missing))
        parts_ja.append("不足している列: " + "、".join(f"{n}（{_label(layout, n)}）" for n in missing))
    if extra:
        shown = extra[:20]
        parts_en.append("fields that are not columns of this layout at positions " + ", ".join(
            f"{i}" + (f" (did you mean {hints[i]}?)" if i in hints else "") for i in shown))
        parts_ja.append("このレイアウトの列名ではない項目: " + "、".join(
            f"{i} 番目" + (f"（{hints[i]}（{_label(layout, hints[i])}）の誤りでは？）" if i in hints else "") for i in shown))
    if dupes:
        parts_en.append("repeated columns: " + ", ".join(dupes))
        parts_ja.append("重複している列: " + "、".join(dupes))
    raise _refuse(
        f"Line 1: the header is not that of layout {layout.name} v{layout.version} ({'; '.join(parts_en)}).",
        f"1 行目: 見出し行がレイアウト {layout.name} 第{layout.version}版 のものではありません（{'；'.join(parts_ja)}）。",
        reason="bad_header", line=1, no_header=False, missing=missing, extra_positions=extra[:20], repeated=dupes,
        suggestions={str(i): n for i, n in hints.items()},
    )


def _label(layout: Layout, name: str) -> str:
    return next(c.label_ja for c in layout.columns if c.name == name)


def _quote_state(buf: np.ndarray, newlines: np.ndarray) -> tuple[np.ndarray, int]:
    """For each newline, whether it lies inside a quoted value; and the position of an unclosed quote (-1)."""
    quotes = np.flatnonzero(buf == 0x22)
    if len(quotes) == 0:
        return np.zeros(len(newlines), dtype=bool), -1
    inside = (np.searchsorted(quotes, newlines) % 2) == 1
    return inside, (int(quotes[-1]) if len(quotes) % 2 else -1)


def _record_lines(buf: np.ndarray, newlines: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Physical line (1-based) on which each data record (after the header) starts.

    A record starts after each newline that is not inside quotes, unless the line it
    opens is blank (the CSV reader skips blank lines) or it is the end of the file.
    """
    n = len(buf)
    real = np.flatnonzero(~inside)          # indices into ``newlines``
    pos = newlines[real]
    nxt = pos + 1
    at_end = nxt >= n
    safe = np.minimum(nxt, n - 1)
    blank = at_end | (buf[safe] == 0x0A)
    safe2 = np.minimum(nxt + 1, n - 1)
    blank |= (buf[safe] == 0x0D) & ((nxt + 1 >= n) | (buf[safe2] == 0x0A))
    starts = real[~blank]
    # the header is the first record; it occupies line 1 and ends at the first real newline
    lines: np.ndarray = (starts + 2).astype(np.int64)
    return lines


def _slow_scan(text: str, width: int) -> tuple[list[int], list[tuple[int, int]]]:
    """Python fallback: data-record start lines, and (line, field count) of records of the wrong width."""
    lines: list[int] = []
    bad: list[tuple[int, int]] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    try:
        for i, row in enumerate(reader):
            if i > 0 and row:
                lines.append(start)
                if len(row) != width:
                    bad.append((start, len(row)))
            start = reader.line_num + 1
    except csv.Error:
        # csv's own message may quote the value; name the line only.
        raise _refuse(
            f"Line {start} cannot be read as CSV (a value is far too long, or a quote is misplaced).",
            f"{start} 行目を CSV として読めません（値が長すぎるか、引用符の位置が誤っています）。",
            reason="malformed", line=start,
        ) from None
    return lines, bad


def _no_records() -> InvalidInput:
    return _refuse(
        "The file has a header row but no records.",
        "ファイルに見出し行しかなく、データがありません。",
        reason="no_records", line=1,
    )


def read_table(data: bytes, layout: Layout | str, *, digest: str | None = None) -> Table:
    """Read a CSV file in ``layout``: decode, check header and shape, return all values as text.

    Refuses (``InvalidInput``) an empty file, a header-only file, a header that is not
    the layout's (naming missing and extra columns), a record with the wrong number of
    fields (its line), undecodable bytes (their line), and a last line cut off inside
    a quoted value.  Nothing about the values is checked here.  ``digest``: the SHA-256 (hex) of
    ``data`` if the caller computed it already (a million-row file is not hashed twice).
    """
    lay = get_layout(layout)
    if len(data) > MAX_FILE_BYTES:
        raise too_large(len(data))
    digest = digest or hashlib.sha256(data).hexdigest()
    if not data or (len(data) < 65536 and not data.strip(b" \t\r\n")):
        raise _refuse("The file is empty.", "ファイルが空です。", reason="empty")
    text, encoding = decode(data)
    _refuse_bare_cr(data)
    try:
        return _read_decoded(data, text, encoding, digest, lay)
    except (csv.Error, pa.ArrowException, UnicodeError, ValueError, IndexError) as exc:
        if isinstance(exc, InvalidInput):
            raise
        # A last resort: the reader's own message may quote a value, so it is not passed on.
        raise _refuse("The file cannot be read as CSV.", "ファイルを CSV として読めません。", reason="unreadable",
                      cause=type(exc).__name__) from None


def too_large(size: int) -> InvalidInput:
    """The refusal of a file over :data:`MAX_FILE_BYTES` (for callers that check before reading)."""
    return _refuse(
        f"The file is {size:,} bytes; at most {MAX_FILE_BYTES:,} bytes are accepted. Split it, or check that it is the right file.",
        f"ファイルが {size:,} バイトあります。受け付けるのは {MAX_FILE_BYTES:,} バイトまでです。分割するか、正しいファイルか確認してください。",
        reason="too_large", size=size, max_bytes=MAX_FILE_BYTES,
    )


def _refuse_bare_cr(data: bytes) -> None:
    """Refuse a carriage return not followed by a line feed (CR-only line ends, or a stray CR).

    The byte 0x0D never occurs inside a multi-byte UTF-8 or CP932 character, so the raw
    bytes are searched whatever the encoding.
    """
    if b"\r" not in data or data.count(b"\r") == data.count(b"\r\n"):
        return
    match = re.search(rb"\r(?!\n)", data)
    assert match is not None
    position = match.start()
    line = _line_of(data, position)
    raise _refuse(
        f"Line {line} (byte offset {position}) holds a carriage return (CR) without a line feed: the file has CR-only "
        "(old Macintosh) line ends, or a stray CR inside a line. Save it with CRLF or LF line ends.",
        f"{line} 行目（先頭から {position} バイト目）に LF を伴わない改行文字 CR があります。改行コードが CR のみ（旧 Macintosh 形式）"
        "のファイルか、行の途中に CR が紛れ込んでいます。改行コードを CRLF または LF にして保存し直してください。",
        reason="bare_cr", line=line, byte_offset=position,
    )


def _check_lengths(arrow: pa.Table, lines: np.ndarray, lay: Layout) -> None:
    """Refuse a value longer than its column's maximum, naming the first line and the column (not the value)."""
    first: tuple[int, str, int] | None = None
    count = 0
    for col in lay.columns:
        if col.name not in arrow.column_names:
            continue
        lengths = pc.utf8_length(arrow[col.name])
        longest = pc.max(lengths).as_py()
        if longest is None or longest <= col.max_length:
            continue
        over = np.flatnonzero(pc.greater(lengths, col.max_length).to_numpy(zero_copy_only=False))
        count += len(over)
        line = int(lines[over[0]])
        if first is None or line < first[0]:
            first = (line, col.name, col.max_length)
    if first is not None:
        line, name, limit = first
        raise _refuse(
            f"Line {line}: the value of {name} is longer than its maximum of {limit} characters "
            f"({count} such value(s) in all). Nothing was imported.",
            f"{line} 行目: {_label(lay, name)}（{name}）の値が上限の {limit} 文字を超えています（同様の値が全部で {count:,} 件）。"
            "何も取り込んでいません。",
            reason="too_long", line=line, column=name, max_length=limit, too_long=count,
        )


def _read_decoded(data: bytes, text: str, encoding: str, digest: str, lay: Layout) -> Table:
    if encoding == "utf-8":
        raw = data
    elif encoding == "utf-8-sig":
        raw = data[3:]
    else:
        raw = text.encode("utf-8")
    fields = _header(text[:65536].lstrip("\ufeff"))
    names = _map_header(fields, lay)

    # Fast path (the usual extract): no quotes, no blank lines, CRLF or LF line ends —
    # then data record i sits on line i + 2.  Otherwise locate records with numpy.
    simple = b'"' not in raw and b"\n\n" not in raw and b"\n\r\n" not in raw and raw.count(b"\r") == raw.count(b"\r\n")
    inside_any = False
    lines: np.ndarray | None = None
    if not simple:
        buf = np.frombuffer(raw, dtype=np.uint8)
        newlines = np.flatnonzero(buf == 0x0A)
        inside, open_quote = _quote_state(buf, newlines)
        if open_quote >= 0:
            line = int(np.searchsorted(newlines, open_quote)) + 1
            raise _refuse(
                f"Line {line}: a quoted value is never closed; the file is probably cut off (truncated).",
                f"{line} 行目: 引用符（\"）で始まる値が閉じられていません。ファイルが途中で切れている可能性があります。",
                reason="unterminated_quote", line=line,
            )
        inside_any = bool(inside.any())
        lines = _record_lines(buf, newlines, inside)
        if len(lines) == 0:
            raise _no_records()

    bad_rows = 0

    def on_invalid(_row: object) -> str:
        nonlocal bad_rows
        bad_rows += 1
        return "skip"

    try:
        arrow = pacsv.read_csv(
            pa.py_buffer(raw),
            read_options=pacsv.ReadOptions(skip_rows=1, column_names=names, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(newlines_in_values=inside_any, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False,
                quoted_strings_can_be_null=False, null_values=[],
            ),
        )
    except pa.ArrowException:
        bad_rows = max(bad_rows, 1)
        arrow = None
    if lines is None and arrow is not None:
        lines = np.arange(2, arrow.num_rows + 2, dtype=np.int64)
    if bad_rows or arrow is None or lines is None or arrow.num_rows != len(lines):
        slow_lines, bad = _slow_scan(text.lstrip("\ufeff"), len(names))
        if bad:
            line, got = bad[0]
            raise _refuse(
                f"Line {line}: {got} fields where the header has {len(names)} "
                f"({len(bad)} such line(s) in all). Check for an unquoted comma or a missing value.",
                f"{line} 行目: 項目数が {got:,} 個ですが、見出し行は {len(names):,} 個です（同様の行が全部で {len(bad):,} 行）。"
                "引用符で囲まれていないカンマや項目の欠落がないか確認してください。",
                reason="field_count", line=line, expected=len(names), found=got, bad_lines=len(bad),
            )
        if not slow_lines:
            raise _no_records()
        if arrow is None:  # pragma: no cover - the reader failed for a reason csv accepts
            raise _refuse("The file cannot be read as CSV.", "ファイルを CSV として読めません。", reason="unreadable")
        lines = np.asarray(slow_lines, dtype=np.int64)
        if len(lines) != arrow.num_rows:  # pragma: no cover - defensive
            raise _refuse("The file cannot be read as CSV.", "ファイルを CSV として読めません。", reason="unreadable")
    if arrow.num_rows == 0:
        raise _no_records()
    if arrow.num_rows > MAX_RECORDS:
        line = int(lines[MAX_RECORDS])
        raise _refuse(
            f"Line {line}: the file holds {arrow.num_rows:,} records; at most {MAX_RECORDS:,} are accepted in one file. Split it.",
            f"{line} 行目: ファイルのデータが {arrow.num_rows:,} 件あります。1 ファイルで受け付けるのは {MAX_RECORDS:,} 件までです。分割してください。",
            reason="too_many_records", line=line, records=arrow.num_rows, max_records=MAX_RECORDS,
        )
    _check_lengths(arrow, lines, lay)

    frame = arrow.to_pandas()
    for col in lay.columns:
        if col.name not in frame.columns:
            frame[col.name] = ""
    frame = frame[list(lay.names)]
    return Table(layout=lay, frame=frame, lines=lines, encoding=encoding, digest=digest)


# --------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------
def _as_text(series: pd.Series) -> pa.Array:
    """A column as an Arrow string array, missing values as ``""``."""
    if not (pd.api.types.is_string_dtype(series.dtype) or series.dtype == object):
        series = series.astype(str).where(series.notna(), "")
    arr = pa.array(series, from_pandas=True)
    if not pa.types.is_string(arr.type) and not pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    return arr.fill_null("")


#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV Injection"),
#: with their full-width forms, which Japanese spreadsheets convert.
FORMULA_TRIGGERS = "=+-@\t\r＝＋－＠"
_TRIGGER_RE = "^[=+\\-@\\t\\r＝＋－＠]"
_PLAIN_NUMBER_RE = r"^[+\-]?[0-9]+(\.[0-9]+)?$"


def spreadsheet_safe(value: str) -> str:
    """One cell, neutralised against formula injection (数式インジェクション対策).

    A cell starting with ``= + - @``, a tab or a CR (or their full-width forms) gets a
    leading apostrophe, so a spreadsheet shows it as text instead of running it; a
    plain signed number (``-1200``) is left alone.  :func:`write_table` applies this
    to every cell of a layout marked ``for_people``.
    """
    if value and value[0] in FORMULA_TRIGGERS and not re.fullmatch(_PLAIN_NUMBER_RE, value):
        return "'" + value
    return value


def _neutralise(arr: pa.Array) -> pa.Array:
    """:func:`spreadsheet_safe` over a whole string column."""
    risky = pc.and_(pc.match_substring_regex(arr, _TRIGGER_RE), pc.invert(pc.match_substring_regex(arr, _PLAIN_NUMBER_RE)))
    if not pc.any(risky).as_py():
        return arr
    quote, empty = pa.scalar("'", type=arr.type), pa.scalar("", type=arr.type)
    return pc.if_else(risky, pc.binary_join_element_wise(quote, arr, empty), arr)


def write_table(frame: pd.DataFrame, layout: Layout | str, *, encoding: str = "utf-8") -> bytes:
    """Write ``frame`` as CSV in ``layout``: header of column names, values as text, CRLF.

    Optional columns absent from ``frame`` are written empty; a required one absent is
    an error.  A layout ``for_people`` (opened in spreadsheets) has every cell
    neutralised against formula injection (:func:`spreadsheet_safe`).  ``encoding`` is ``utf-8``, ``utf-8-sig`` (with BOM) or ``cp932``; a
    character CP932 cannot hold is refused naming the row (not the value).
    """
    lay = get_layout(layout)
    missing = [n for n in lay.required_names if n not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks columns {missing} of layout {lay.name}")
    if encoding not in ENCODINGS:
        raise ValueError(f"unsupported encoding {encoding!r}")
    cols = {}
    for name in lay.names:
        if name in frame.columns:
            cols[name] = _as_text(frame[name])
        else:
            cols[name] = pa.array([""] * len(frame), type=pa.string())
    if lay.for_people:
        cols = {name: _neutralise(arr) for name, arr in cols.items()}
    table = pa.table(cols)
    # Quote only when some value needs it (Arrow's "needed" quotes every string value).
    special = any(pc.any(pc.match_substring_regex(table[n], r'[,"\r\n]')).as_py() for n in lay.names if len(table))
    sink = io.BytesIO()
    pacsv.write_csv(table, sink, write_options=pacsv.WriteOptions(
        eol="\r\n", quoting_header="none", quoting_style="needed" if special else "none"))
    body = sink.getvalue()
    if encoding == "utf-8":
        return body
    if encoding == "utf-8-sig":
        return _BOM + body
    text = body.decode("utf-8")
    try:
        return text.encode("cp932")
    except UnicodeEncodeError as exc:
        line = text.count("\n", 0, exc.start) + 1
        raise InvalidInput(
            f"Line {line} holds a character that CP932 cannot represent.",
            f"{line} 行目に CP932 で表せない文字があります。",
            reason="unencodable", line=line,
        ) from None


# -- the end of the data's life (F7, C8) --
DELETION_LIST = _layout(
    "deletion_list", 1,
    """削除対象者リスト（都住システム抽出, F7・C8）: 個人番号と関連データが不要になった者。1 行 1 人。

    | column | 項目 | 値 |
    |---|---|---|
    | person_id | 宛名番号 | 対象者リストの宛名番号。ファイル内で一意 |
    | reason | 削除理由 | moved_out（退去）/ failed_screening（資格審査不合格）/ withdrew（辞退・取下げ）/ deceased（死亡）。日本語の区分名も可 |
    | decided_on | 決定日 | 任意。YYYY-MM-DD。列ごと省略可 |
    """,
    ("person_id", "宛名番号"), ("reason", "削除理由"), ("decided_on", "決定日", False),
    limits={"person_id": _ID, "reason": 20, "decided_on": _DATE},
)

LAYOUTS[DELETION_LIST.name] = DELETION_LIST
