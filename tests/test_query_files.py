"""F2/F4 fixed-width files (DESIGN §7): widths as data, CRLF, round trip, refusals."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.core.errors import InvalidInput
from workbench.files import formats
from workbench.files.query_files import (
    ANSWER_LAYOUT,
    RECORDS_PER_FILE,
    REQUEST_FIELDS,
    REQUEST_LAYOUT,
    read_fixed,
    split_records,
    write_fixed,
)
from workbench.queries.query_rules import load_rules


def _request_frame(n: int) -> pd.DataFrame:
    values = {f.name: ["X" * f.width] * n for f in REQUEST_FIELDS}
    frame = pd.DataFrame(values)
    frame["atena_no"] = [f"P{i:08d}" for i in range(n)]
    frame["info_code"] = "TM00000000000002"
    frame["delegator_agency_code"] = ""
    return frame


def test_request_layout_is_the_fragment_order_plus_request_id() -> None:
    labels = [f.label_ja for f in REQUEST_FIELDS]
    assert labels[:18] == [
        "番号体系", "宛名番号", "統合宛名番号", "照会依頼日時", "部署コード", "ユーザーID", "機関コード", "不開示コード",
        "事務コード", "事務手続コード", "委任元機関コード", "委任元事務コード", "転入元コード", "特定個人情報名コード",
        "照会条件区分", "年度区分", "照会期間開始日", "照会期間終了日",
    ]
    assert REQUEST_FIELDS[18].name == "request_id"
    assert REQUEST_LAYOUT.record_length == sum(f.width for f in REQUEST_FIELDS) + 18
    assert RECORDS_PER_FILE == 10_000


def test_round_trip_fixed_width_crlf() -> None:
    frame = _request_frame(5)
    data = write_fixed(frame, REQUEST_LAYOUT)
    lines = data.split(b"\r\n")
    assert lines[-1] == b"" and len(lines) == 6
    assert b"\n" not in data.replace(b"\r\n", b"")
    for line in lines[:-1]:
        assert len(line) == REQUEST_LAYOUT.record_length
        fields = line.split(b",")
        assert [len(f) for f in fields] == [f.width for f in REQUEST_FIELDS]
    back, line_no = read_fixed(data, REQUEST_LAYOUT)
    assert line_no.tolist() == [1, 2, 3, 4, 5]
    pd.testing.assert_frame_equal(back, frame[list(REQUEST_LAYOUT.names)].astype(object), check_dtype=False)


def test_answer_layout_round_trip_with_blanks() -> None:
    frame = pd.DataFrame({n: [""] for n in ANSWER_LAYOUT.names}).assign(request_id="QB20260601ABCDEF-0000001", status="00")
    back, _ = read_fixed(write_fixed(frame, ANSWER_LAYOUT), ANSWER_LAYOUT)
    assert back.loc[0, "request_id"] == "QB20260601ABCDEF-0000001" and back.loc[0, "tax_year"] == ""


@pytest.mark.parametrize("value", ["X" * 16, "山田", "A,B"])
def test_write_refuses_values_that_do_not_fit_without_quoting_them(value: str) -> None:
    frame = _request_frame(3)
    frame.loc[1, "atena_no"] = value
    with pytest.raises(InvalidInput) as exc:
        write_fixed(frame, REQUEST_LAYOUT)
    assert exc.value.details["record"] == 2 and exc.value.details["field"] == "atena_no"
    assert value not in exc.value.message_en and value not in exc.value.message_ja


def test_read_refuses_bad_records_with_line_numbers() -> None:
    data = write_fixed(_request_frame(3), REQUEST_LAYOUT)
    lines = data.split(b"\r\n")
    lines[1] = lines[1][:-1]
    with pytest.raises(InvalidInput) as exc:
        read_fixed(b"\r\n".join(lines), REQUEST_LAYOUT)
    assert exc.value.details["line"] == 2
    with pytest.raises(InvalidInput) as exc:
        read_fixed(data[:-2], REQUEST_LAYOUT)
    assert exc.value.details["reason"] == "no_crlf"
    with pytest.raises(InvalidInput):
        read_fixed(data.replace(b"X", "あ".encode(), 1), REQUEST_LAYOUT)


def test_split_records() -> None:
    assert split_records(25, 10) == [(0, 10), (10, 20), (20, 25)]
    assert split_records(0, 10) == []
    with pytest.raises(ValueError):
        split_records(5, 0)


def test_rules_are_data_and_mark_illustrative_codes() -> None:
    rules = load_rules()
    assert set(rules.procedures) == {"P1", "P2", "P3", "P4", "P5", "P6"}
    assert rules.information["local_tax"].info_code == "TM00000000000002"
    assert not rules.information["local_tax"].illustrative
    assert all(i.illustrative for k, i in rules.information.items() if k != "local_tax")
    assert rules.information["resident_register"].kind == "contact"
    assert {rules.information[k].kind for k in ("local_tax", "public_assistance", "ai_no_techo")} == {"business"}
    assert "27" in rules.legal_basis["use"] and "124" in rules.legal_basis["linkage"]
    for info in rules.information.values():
        assert len(info.info_code) <= REQUEST_LAYOUT.fields[13].width


def test_query_layouts_are_registered() -> None:
    for name in ("housing_procedures", "juki_request", "juki_answer"):
        assert name in formats.LAYOUTS
