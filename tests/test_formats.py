"""workbench.files.formats: decoding, layouts, read_table refusals with line numbers (DESIGN §7)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.core.errors import InvalidInput
from workbench.files import formats

HEADER = "person_id,household_id,relation,name,kana,sex,birth_date,address,ward_code,housing_type,status,phone"
ROW1 = "P1,H1,head,髙橋　一郎,タカハシ　イチロウ,1,1950-01-02,東京都足立区花畑1丁目1番1号,13121,都営住宅,resident,03-0000-0000"
ROW2 = "P2,H1,spouse,髙橋　①子,タカハシ　イチコ,2,1952-03-04,東京都足立区花畑1丁目1番1号,13121,都営住宅,resident,"


def _csv(*lines: str, eol: str = "\r\n") -> str:
    return eol.join(lines) + eol


def _refusal(data: bytes, layout: str = "housing_targets") -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        formats.read_table(data, layout)
    return info.value


def test_layout_registry_is_complete_and_documented() -> None:
    for name in ("housing_targets", "contractor_return", "portal_download", "integrated_request", "integrated_answer", "collection_list"):
        layout = formats.LAYOUTS[name]
        assert layout.version >= 1 and layout.description_ja
        assert len(set(layout.names)) == len(layout.names)
        assert all(c.label_ja for c in layout.columns)
    assert formats.LAYOUTS["contractor_return"].names == ("line_no", "person_id", "individual_number", "identity_checked", "collected_on")


@pytest.mark.parametrize("encoding,expected", [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("cp932", "cp932")])
def test_decode_each_encoding(encoding: str, expected: str) -> None:
    text = _csv(HEADER, ROW1, ROW2)
    decoded, used = formats.decode(text.encode(encoding))
    assert used == expected and decoded == text


def test_cp932_vendor_characters_not_shift_jis() -> None:
    data = _csv(HEADER, ROW1, ROW2).encode("cp932")
    with pytest.raises(UnicodeDecodeError):
        data.decode("shift_jis")
    table = formats.read_table(data, "housing_targets")
    assert table.encoding == "cp932"
    assert table.frame["name"].tolist() == ["髙橋　一郎", "髙橋　①子"]


def test_read_table_values_lines_digest() -> None:
    data = _csv(HEADER, ROW1, ROW2).encode()
    table = formats.read_table(data, "housing_targets")
    assert table.rows == 2
    assert table.lines.tolist() == [2, 3]
    assert table.frame["person_id"].tolist() == ["P1", "P2"]
    assert table.frame["phone"].tolist() == ["03-0000-0000", ""]
    assert all(pd.api.types.is_string_dtype(t) for t in table.frame.dtypes)
    import hashlib

    assert table.digest == hashlib.sha256(data).hexdigest()


def test_leading_zeros_kept_and_quoted_newlines_counted() -> None:
    rows = [HEADER, ROW1.replace("P1", "000123"), "", '"P3",H2,head,"名前\n続き",カナ,1,1960-01-01,"住所,カンマ",13101,都営住宅,applicant,', ROW2]
    table = formats.read_table(_csv(*rows, eol="\n").encode(), "housing_targets")
    assert table.frame["person_id"].tolist() == ["000123", "P3", "P2"]
    assert table.lines.tolist() == [2, 4, 6]
    assert table.frame["address"].iloc[1] == "住所,カンマ"


def test_japanese_header_and_optional_columns() -> None:
    layout = formats.LAYOUTS["housing_targets"]
    labels = [c.label_ja for c in layout.columns if c.name not in ("phone", "relation")]
    row = "P1,H1,髙橋,タカハシ,1,1950-01-02,住所,13121,都営住宅,入居者"
    table = formats.read_table(_csv(",".join(labels), row).encode("cp932"), layout)
    assert table.frame.columns.tolist() == list(layout.names)
    assert table.frame["phone"].tolist() == [""] and table.frame["status"].tolist() == ["入居者"]


def test_reordered_columns_accepted() -> None:
    cols = HEADER.split(",")
    vals = ROW1.split(",")
    table = formats.read_table(_csv(",".join(reversed(cols)), ",".join(reversed(vals))).encode(), "housing_targets")
    assert table.frame.iloc[0].tolist() == vals


def test_empty_and_header_only() -> None:
    assert _refusal(b"").details["reason"] == "empty"
    assert _refusal(b"\r\n \r\n").details["reason"] == "empty"
    for data in (_csv(HEADER), HEADER, _csv(HEADER, "", "")):
        err = _refusal(data.encode())
        assert err.details["reason"] == "no_records" and err.details["line"] == 1


def test_missing_and_extra_columns_named() -> None:
    header = HEADER.replace(",kana", "").replace("phone", "telephone")
    row = ROW1.replace(",タカハシ　イチロウ", "")
    err = _refusal(_csv(header, row).encode())
    assert err.details["reason"] == "bad_header" and err.details["line"] == 1
    # the field is named by its position and the column it was probably meant to be, never by its text
    assert err.details["missing"] == ["kana"] and err.details["extra_positions"] == [11]
    assert err.details["suggestions"] == {"11": "phone"}
    assert "kana" in err.message_en and "氏名カナ" in err.message_ja
    assert "髙橋" not in str(err) and "telephone" not in str(err)


def test_wrong_field_count_names_line() -> None:
    err = _refusal(_csv(HEADER, ROW1, ROW2, "P3,H3,head", ROW1.replace("P1", "P4") + ",extra").encode())
    assert err.details["reason"] == "field_count"
    assert err.details["line"] == 4 and err.details["bad_lines"] == 2
    assert "4 行目" in err.message_ja and "Line 4" in err.message_en


def test_truncated_open_quote() -> None:
    data = _csv(HEADER, ROW1) + 'P2,H1,spouse,"髙橋'
    err = _refusal(data.encode())
    assert err.details == {"reason": "unterminated_quote", "line": 3}


def test_truncated_last_line_without_quote() -> None:
    data = _csv(HEADER, ROW1) + "P2,H1,spo"
    err = _refusal(data.encode())
    assert err.details["reason"] == "field_count" and err.details["line"] == 3


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le"])
def test_utf16_refused(encoding: str) -> None:
    err = _refusal(_csv(HEADER, ROW1).encode(encoding))
    assert err.details["reason"] == "undecodable" and err.details["line"] >= 1


def test_latin1_invalid_in_cp932_names_line() -> None:
    ascii_row = "P1,H1,head,Jose,x,1,1950-01-01,a,13101,t,resident,"
    data = _csv(HEADER, ascii_row, "P2,H1,x,Andr\xe9 ,x,1,1950-01-01,a,13101,t,resident,").encode("latin-1")
    err = _refusal(data)
    assert err.details["reason"] == "undecodable" and err.details["line"] == 3
    assert "3 行目" in err.message_ja


def test_bom_with_bad_bytes() -> None:
    data = b"\xef\xbb\xbf" + _csv(HEADER, ROW1).encode() + b"\xff\xfe\r\n"
    err = _refusal(data)
    assert err.details["reason"] == "undecodable" and err.details["line"] == 3


def test_write_table_round_trip_crlf_and_encodings() -> None:
    frame = pd.DataFrame({"person_id": ["P1", "P2"], "household_id": ["H1", "H1"], "name": ["髙橋, 一郎", '"引用"'],
                          "kana": ["タ", "タ"], "sex": ["1", "2"], "birth_date": ["1950-01-02", "1950-01-02"],
                          "address": ["a", "b"], "ward_code": ["13101", "13101"], "housing_type": ["t", "t"],
                          "status": ["resident", "applicant"]})
    for enc in formats.ENCODINGS:
        data = formats.write_table(frame, "housing_targets", encoding=enc)
        assert data.count(b"\r\n") == 3 and data.replace(b"\r\n", b"").count(b"\n") == 0
        table = formats.read_table(data, "housing_targets")
        assert table.encoding == enc
        assert table.frame["name"].tolist() == ["髙橋, 一郎", '"引用"']
        assert table.frame["relation"].tolist() == ["", ""]
    plain = formats.write_table(frame.assign(name="x"), "housing_targets")
    assert b'"' not in plain
    assert plain.split(b"\r\n")[0].decode() == HEADER


def test_write_table_cp932_unencodable_refused() -> None:
    frame = pd.DataFrame({c: ["x"] for c in formats.LAYOUTS["collection_list"].names}).assign(name="𠮷田")
    with pytest.raises(InvalidInput) as info:
        formats.write_table(frame, "collection_list", encoding="cp932")
    assert info.value.details == {"reason": "unencodable", "line": 2}


def test_large_file_is_fast() -> None:
    import time

    n = 200_000
    frame = pd.DataFrame({
        "line_no": np.arange(n).astype(str), "person_id": [f"P{i:08d}" for i in range(n)],
        "individual_number": "123456789018", "identity_checked": "1", "collected_on": "2026-05-01",
    })
    data = formats.write_table(frame, "contractor_return")
    start = time.perf_counter()
    table = formats.read_table(data, "contractor_return")
    assert time.perf_counter() - start < 2.0
    assert table.rows == n and table.lines[-1] == n + 1
