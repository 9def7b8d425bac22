"""Fixed-width, comma-joined files for the linkage server (F2 request, F4 answer).

DESIGN §7: the information-query request follows the one public fragment of the
intermediate server's batch layout — fixed-width fields joined by commas, CRLF line
ends, at most 10,000 records a file.  The field table is data (:data:`REQUEST_FIELDS`,
:data:`ANSWER_FIELDS`); :func:`write_fixed` and :func:`read_fixed` work on whole
columns (vectorised) and round-trip exactly.

Rules for every fixed-width layout here (version 1):

* every value is ASCII, left-justified and padded with spaces to the field width
  (so a record has a constant length: sum of widths + commas);
* a value longer than its field, a non-ASCII character or a comma is refused before
  anything is written (the message names the field and the record, never the value);
* records end with CRLF, including the last one; no header record.

Request record (``info_query`` v1): the eighteen fields of the public fragment, in its
order, then the request ID as field 19.  **Decision**: the fragment does not show where
the requester's own identifier travels, yet C10 (III-2 リスク3: "各事務所管部署が個々の
照会データを一意に識別できるよう付与した識別子を…回答データに付記して返却") needs one per
record, so it is appended after the eighteen fragment fields, leaving their positions as
published.  ``宛名番号`` is the housing system's internal person number and
``統合宛名番号`` the organisation-wide integrated number, by which the linkage server
identifies the person (番号体系 ``1``); the Individual Number is never written.

Answer record (``info_answer`` v1, this project's own): request ID first (C10), the
person and information echoed, a status code (:data:`ANSWER_STATUS`) and the payload
fields for every information kind (blank where they do not apply).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.core import labels
from workbench.core.errors import InvalidInput

__all__ = [
    "ANSWER_FIELDS",
    "ANSWER_LAYOUT",
    "ANSWER_STATUS",
    "CERTIFICATE_TYPES",
    "RECORDS_PER_FILE",
    "REQUEST_FIELDS",
    "REQUEST_LAYOUT",
    "FixedField",
    "FixedLayout",
    "read_fixed",
    "read_fixed_arrow",
    "split_records",
    "write_fixed",
]

#: Records per request file (DESIGN §7).
RECORDS_PER_FILE = 10_000


@dataclass(frozen=True)
class FixedField:
    """One fixed-width field: column name, Japanese label, width in bytes (ASCII)."""

    name: str
    label_ja: str
    width: int


@dataclass(frozen=True)
class FixedLayout:
    """A versioned fixed-width, comma-joined layout."""

    name: str
    version: int
    fields: tuple[FixedField, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def record_length(self) -> int:
        """Bytes of one record without its CRLF."""
        return sum(f.width for f in self.fields) + len(self.fields) - 1


def _fields(*spec: tuple[str, str, int]) -> tuple[FixedField, ...]:
    return tuple(FixedField(*s) for s in spec)


#: The information-query request (照会依頼) record: 18 fragment fields + request ID.
REQUEST_FIELDS: tuple[FixedField, ...] = _fields(
    ("number_system", "番号体系", 1),              # 1 = 団体内統合宛名番号 (query_rules.json)
    ("atena_no", "宛名番号", 15),                  # internal person number (persons.person_id)
    ("integrated_no", "統合宛名番号", 15),         # integrated_numbers.integrated_number
    ("requested_at", "照会依頼日時", 14),          # YYYYMMDDHHMMSS (JST)
    ("department_code", "部署コード", 10),
    ("user_id", "ユーザーID", 20),                 # the operator who created the batch
    ("agency_code", "機関コード", 10),
    ("nondisclosure_code", "不開示コード", 1),
    ("jimu_code", "事務コード", 10),
    ("procedure_code", "事務手続コード", 10),
    ("delegator_agency_code", "委任元機関コード", 10),
    ("delegator_jimu_code", "委任元事務コード", 10),
    ("moved_from_code", "転入元コード", 6),
    ("info_code", "特定個人情報名コード", 16),     # e.g. TM00000000000002 (local tax)
    ("condition_code", "照会条件区分", 1),
    ("year_code", "年度区分", 1),
    ("start_date", "照会期間開始日", 8),           # YYYYMMDD
    ("end_date", "照会期間終了日", 8),             # YYYYMMDD
    ("request_id", "照会依頼番号", 24),            # C10: echoed in the answer
)

#: Answer status codes of ``info_answer`` → (Japanese, English).  The importer maps
#: ``00``/``10`` to request status ``answered`` and the rest to ``error``.
ANSWER_STATUS: dict[str, tuple[str, str]] = {
    "00": ("正常（情報あり）", "answered"),
    "10": ("該当者なし", "no such person at the provider (not found)"),
    "20": ("提供不可（不開示等）", "the provider withheld the information"),
    "30": ("照会内容エラー", "the request was rejected as invalid"),
    "90": ("システムエラー（再照会可）", "system error; ask again"),
}

#: certificate_type codes of the answer → information key / label.
CERTIFICATE_TYPES: dict[str, str] = {"00": "なし", "01": "身体障害者手帳", "02": "精神障害者保健福祉手帳", "03": "愛の手帳"}
labels.register("answer_status", ANSWER_STATUS)
labels.register("certificate", {"00": ("なし", "none"), "01": ("身体障害者手帳", "physical disability certificate"),
                                "02": ("精神障害者保健福祉手帳", "mental health certificate"),
                                "03": ("愛の手帳", "Ai-no-techo (Tokyo's certificate for intellectual disability)")})

#: The information-query answer (照会結果) record.
ANSWER_FIELDS: tuple[FixedField, ...] = _fields(
    ("request_id", "照会依頼番号", 24),            # C10: as in the request
    ("atena_no", "宛名番号", 15),
    ("integrated_no", "統合宛名番号", 15),
    ("info_code", "特定個人情報名コード", 16),
    ("status", "処理結果", 2),                     # ANSWER_STATUS
    ("answered_at", "回答日時", 14),               # YYYYMMDDHHMMSS
    ("tax_year", "課税年度", 4),                   # local tax
    ("taxable_income", "所得金額", 12),            # yen, digits
    ("tax_status", "課税区分", 1),                 # 1 = 課税, 2 = 非課税
    ("assistance", "生活保護受給", 1),             # 1 = 受給中, 0 = なし
    ("certificate_type", "手帳種別", 2),           # CERTIFICATE_TYPES
    ("certificate_grade", "手帳等級", 2),          # digits (級 / 度)
    ("household_size", "世帯人員", 2),             # resident register
    ("resident_since", "住定日", 8),               # resident register, YYYYMMDD
)

REQUEST_LAYOUT = FixedLayout("info_query", 1, REQUEST_FIELDS)
ANSWER_LAYOUT = FixedLayout("info_answer", 1, ANSWER_FIELDS)


def _refuse(en: str, ja: str, *, reason: str | None = None, line: int | None = None, **details: object) -> InvalidInput:
    return InvalidInput(en, ja, reason=reason, line=line, **details)


#: What ``str.rstrip()`` strips from an ASCII field (Python's whitespace below 0x80), for the columnar reader.
_ASCII_WHITESPACE = " \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"
_PRINTABLE = r"^[\x20-\x7e]*$"


def _text_column(values: pa.Array | pa.ChunkedArray | pd.Series) -> pa.Array | pa.ChunkedArray:
    """A column as Arrow text, missing values as blanks (numbers as their ``str``)."""
    if isinstance(values, pd.Series):
        try:
            values = pa.array(values, type=pa.string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            values = pa.array(values.astype("object").where(values.notna(), "").astype(str), type=pa.string())
    elif not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
        values = pc.cast(values, pa.string())
    return pc.fill_null(values, "")


def write_fixed(frame: pd.DataFrame | pa.Table, layout: FixedLayout, *,
                constants: Mapping[str, str] | None = None) -> bytes:
    """Records of ``frame`` (pandas or Arrow) in ``layout``: padded, comma-joined, CRLF after each.

    ``constants`` gives fields that hold one value on every record (checked and padded once).  Missing
    values write as blanks.  Refuses (``InvalidInput``, no value quoted) a value that is too long, not
    ASCII, or contains a comma or line break.  Columnar (Arrow compute): 1,000,000 records in about a
    second, where the former pandas string methods took ~10 s.
    """
    fixed = dict(constants or {})
    columns = list(frame.column_names) if isinstance(frame, pa.Table) else list(frame.columns)
    missing = [n for n in layout.names if n not in columns and n not in fixed]
    if missing:
        raise ValueError(f"frame lacks columns {missing} of layout {layout.name}")
    n = frame.num_rows if isinstance(frame, pa.Table) else len(frame)
    if n == 0:
        return b""
    parts: list[Any] = []
    for i, f in enumerate(layout.fields):
        last = i == len(layout.fields) - 1
        if f.name in fixed and f.name not in columns:
            value = str(fixed[f.name])
            if len(value) > f.width or not value.isascii() or not value.isprintable() or "," in value:
                raise _bad_field(f, 1)
            parts.append(pa.scalar(value.ljust(f.width) + ("\r\n" if last else "")))
            continue
        col = _text_column(frame.column(f.name) if isinstance(frame, pa.Table) else frame[f.name])
        bad = pc.or_(pc.greater(pc.utf8_length(col), f.width), pc.invert(pc.match_substring_regex(col, _PRINTABLE)))
        bad = pc.or_(bad, pc.match_substring(col, ","))
        if pc.any(bad).as_py():
            mask = np.asarray(bad.to_numpy(zero_copy_only=False), dtype=bool)
            raise _bad_field(f, int(np.flatnonzero(mask)[0]) + 1)
        padded = pc.utf8_rpad(col, f.width, " ")
        parts.append(pc.binary_join_element_wise(padded, "\r\n", "") if last else padded)
    joined = pc.binary_join_element_wise(*parts, ",")
    if isinstance(joined, pa.Scalar):  # every field a constant
        return bytes(joined.as_py(), "ascii") * n
    if isinstance(joined, pa.ChunkedArray):
        joined = joined.combine_chunks()
    wide = pa.types.is_large_string(joined.type)
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int64 if wide else np.int32, count=len(joined) + 1,
                            offset=joined.offset * (8 if wide else 4))
    body: bytes = joined.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0])).to_pybytes()
    return body


def _bad_field(f: FixedField, record: int) -> InvalidInput:
    return _refuse(
        f"Record {record}: the value of {f.name} ({f.label_ja}) does not fit its field "
        f"({f.width} ASCII characters, no comma).",
        f"{record} 件目: {f.label_ja}（{f.name}）の値が項目の形式（半角 {f.width} 文字以内、カンマ不可）に合いません。",
        reason="bad_field", field=f.name, record=record,
    )


def read_fixed(data: bytes, layout: FixedLayout) -> tuple[pd.DataFrame, np.ndarray]:
    """Parse a file in ``layout``: ``(frame of stripped text values, 1-based line numbers)``.

    Refuses with the first bad line number: non-ASCII bytes, a line of the wrong length,
    a missing comma between fields, or lines not ended by CRLF.
    """
    table, lines = read_fixed_arrow(data, layout)
    return pd.DataFrame({n: table.column(n).to_numpy() for n in layout.names}), lines


def read_fixed_arrow(data: bytes, layout: FixedLayout) -> tuple[pa.Table, np.ndarray]:
    """:func:`read_fixed` as an Arrow table of text columns (what a database insert or Arrow compute
    takes without converting every value to a Python string).  A well-formed file is cut into its
    fields as one byte matrix (records have one length); anything else is parsed line by line for the
    refusal's line number."""
    width = layout.record_length
    stride = width + 2
    if data and len(data) % stride == 0:
        m = np.frombuffer(data, dtype=np.uint8).reshape(-1, stride)
        body = m[:, :width]
        ok = bool((m[:, width] == 13).all() and (m[:, width + 1] == 10).all()
                  and not (body >= 0x80).any() and not (body == 10).any())
        commas: list[int] = []
        pos = 0
        for f in layout.fields[:-1]:
            pos += f.width
            commas.append(pos)
            pos += 1
        if ok and bool((m[:, commas] == 44).all()):
            n = len(m)
            columns: dict[str, pa.Array] = {}
            pos = 0
            for f in layout.fields:
                raw = np.ascontiguousarray(m[:, pos:pos + f.width])
                large = n * f.width >= 2**31  # Arrow's string offsets are 32-bit
                offsets = np.arange(0, n * f.width + 1, f.width, dtype=np.int64 if large else np.int32)
                text = pa.Array.from_buffers(pa.large_string() if large else pa.string(), n,
                                             [None, pa.py_buffer(offsets), pa.py_buffer(raw)])
                columns[f.name] = pc.ascii_rtrim(text, characters=_ASCII_WHITESPACE)
                pos += f.width + 1
            return pa.table(columns), np.arange(1, n + 1, dtype=np.int64)
    frame, lines = _read_fixed_lines(data, layout)
    return pa.table({n: pa.array(frame[n], type=pa.string()) for n in layout.names}), lines


def _read_fixed_lines(data: bytes, layout: FixedLayout) -> tuple[pd.DataFrame, np.ndarray]:
    """The line-by-line reader: a file that is not a clean matrix of records (refused with the first bad
    line), or one whose lines are not all of one length."""
    if not data:
        raise _refuse("The file is empty.", "ファイルが空です。", reason="empty")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise _refuse(f"Line {line} holds bytes that are not ASCII.", f"{line} 行目に半角英数字以外のバイトがあります。",
                      reason="undecodable", line=line) from None
    if not text.endswith("\r\n"):
        line = text.count("\n") + 1
        raise _refuse(f"Line {line} is not ended by CRLF (the file may be cut short).",
                      f"{line} 行目が CRLF で終わっていません（ファイルが途中で切れている可能性があります）。",
                      reason="no_crlf", line=line)
    lines = pd.Series(text[:-2].split("\r\n"), dtype=object)
    width = layout.record_length
    bad = (lines.str.len() != width).to_numpy() | lines.str.contains("\n", regex=False).to_numpy(dtype=bool)
    pos = 0
    for f in layout.fields[:-1]:
        pos += f.width
        bad |= (lines.str.slice(pos, pos + 1) != ",").to_numpy()
        pos += 1
    if bad.any():
        line = int(np.flatnonzero(bad)[0]) + 1
        raise _refuse(
            f"Line {line} is not a {layout.name} v{layout.version} record ({width} characters, fields at fixed places); "
            f"{int(bad.sum())} such line(s).",
            f"{line} 行目がレイアウト {layout.name} 第{layout.version}版 の形式（{width} 文字、固定位置の項目）ではありません"
            f"（同様の行が {int(bad.sum()):,} 行）。",
            reason="bad_record", line=line, bad_lines=int(bad.sum()),
        )
    out: dict[str, np.ndarray] = {}
    pos = 0
    for f in layout.fields:
        out[f.name] = lines.str.slice(pos, pos + f.width).str.rstrip().to_numpy(dtype=object)
        pos += f.width + 1
    return pd.DataFrame(out), np.arange(1, len(lines) + 1, dtype=np.int64)


def split_records(n: int, records_per_file: int = RECORDS_PER_FILE) -> list[tuple[int, int]]:
    """``[(start, stop), …]`` row ranges of at most ``records_per_file`` records each."""
    if records_per_file < 1:
        raise ValueError("records_per_file must be >= 1")
    return [(i, min(i + records_per_file, n)) for i in range(0, n, records_per_file)]
