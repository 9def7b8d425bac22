"""workbench.intake.matching: the four basic items normalised for comparison (F1, C1)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from workbench.intake.matching import (
    VARIANT_KANJI,
    address_key,
    normalize_address,
    normalize_date,
    normalize_kana,
    normalize_name,
    normalize_sex,
    parse_date,
)


@pytest.mark.parametrize(
    ("variant", "plain"),
    [("髙橋　一郎", "高橋 一郎"), ("山﨑花子", "山崎 花子"), ("渡邊", "渡辺"), ("渡邉", "渡辺"), ("齋藤", "斎藤"),
     ("齊藤", "斉藤"), ("𠮷田", "吉田"), ("濱田", "浜田"), ("小澤", "小沢"), ("廣瀬", "広瀬"), ("櫻井", "桜井"),
     ("ＡＢＣ　太郎", "ABC太郎"), ("  佐藤\t 花子 ", "佐藤花子")],
)
def test_names_fold_variants_width_and_spaces(variant: str, plain: str) -> None:
    a, b = normalize_name([variant, plain])
    assert a == b


def test_variant_table_is_data_and_targets_are_not_variants() -> None:
    assert all(len(k) == 1 and len(v) == 1 for k, v in VARIANT_KANJI.items())
    assert not set(VARIANT_KANJI.values()) & (set(VARIANT_KANJI) - set(VARIANT_KANJI.values()))


def test_kana_half_width_hiragana_small_kana() -> None:
    out = normalize_kana(["ﾀｶﾊｼ ｲﾁﾛｳ", "たかはし　いちろう", "タカハシイチロウ", "ｷｯﾁｮｳ", "きっちょう", "キツチヨウ", "ｶﾞｯｺｳ"])
    assert out[0] == out[1] == out[2] == "タカハシイチロウ"
    assert out[3] == out[4] == out[5]
    assert out[6] == "ガツコウ"


def test_missing_stays_missing_and_index_kept() -> None:
    s = pd.Series(["髙橋", None, np.nan, ""], index=[10, 11, 12, 13])
    out = normalize_name(s)
    assert list(out.index) == [10, 11, 12, 13]
    assert out[10] == "高橋" and out[11] is None and out[12] is None and out[13] is None


@pytest.mark.parametrize(
    "text",
    ["2001-02-03", "2001/2/3", "2001.2.3", "20010203", "2001年2月3日", "平成13年2月3日", "H13.2.3", "h13/2/3",
     "平13.2.3", "２００１－０２－０３", " 2001-02-03 "],
)
def test_dates_in_many_forms(text: str) -> None:
    assert parse_date(text) == dt.date(2001, 2, 3)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("令和元年5月1日", dt.date(2019, 5, 1)), ("R1.5.1", dt.date(2019, 5, 1)), ("昭和64年1月7日", dt.date(1989, 1, 7)),
     ("平成元年1月8日", dt.date(1989, 1, 8)), ("S20.8.15", dt.date(1945, 8, 15)), ("大正15年12月24日", dt.date(1926, 12, 24)),
     ("平成32年1月1日", None), ("平成元年1月7日", None), ("2001-02-30", None), ("2001-13-01", None), ("abc", None), ("", None)],
)
def test_wareki_bounds_and_impossible_dates(text: str, expected: dt.date | None) -> None:
    assert parse_date(text) == expected


def test_normalize_date_series() -> None:
    out = normalize_date(pd.Series(["2001/2/3", "H13.2.3", None, "x"]))
    assert out[0] == out[1] == pd.Timestamp("2001-02-03")
    assert pd.isna(out[2]) and pd.isna(out[3])
    real = normalize_date(pd.Series(pd.to_datetime(["2001-02-03"])))
    assert real[0] == pd.Timestamp("2001-02-03")


def test_sex_codes() -> None:
    assert normalize_sex(["1", "2", "男", "女", "男性", "女性", "M", "f", "１", "1:男", "9", "", None]).tolist() == [
        "1", "2", "1", "2", "1", "2", "1", "2", "1", "1", None, None, None]


def test_address_forms_agree() -> None:
    held = "東京都足立区花畑四丁目5番6号　都営花畑四丁目アパート1号棟203号室"
    forms = [held, "足立区花畑4-5-6 都営花畑四丁目アパート1-203", "東京都足立区花畑４－５－６　都営花畑四丁目アパート１号棟２０３号室",
             "足立区花畑4丁目5番6号都営花畑4丁目アパート1号棟203号室"]
    out = normalize_address(forms)
    assert out.nunique() == 1
    assert address_key([held, "足立区花畑4-5-6", "東京都足立区花畑4丁目5番地6"]).nunique() == 1
    assert normalize_address(["足立区花畑4-5-7"])[0] != out[0]


def test_many_values_are_mapped_once_per_distinct_value() -> None:
    s = pd.Series(["髙橋　一郎", "佐藤　花子"] * 50_000)
    out = normalize_name(s)
    assert out.nunique() == 2 and len(out) == 100_000
