"""Normalisation for comparing the four basic items (基本4情報): name, birth date, sex, address.

F1 (portal downloads are matched to the target list by these items), C1 (the person
must be in the target list).  Every function takes a pandas Series (or anything
``pd.Series`` accepts) and returns a Series of the same length, index kept, with
``None``/``NaN`` where the value is missing or cannot be read.

How values are compared:

* **names and kana** (:func:`normalize_name`, :func:`normalize_kana`): NFKC (full-width
  ASCII → ASCII, half-width katakana ｶﾞ → ガ), hiragana → katakana, every space
  (ASCII, U+3000, tabs) and middle dots removed, and common variant kanji (異体字)
  folded to one form by :data:`VARIANT_KANJI` (髙→高, 﨑→崎, 邊/邉→辺 …).  Kana also
  folds small kana to large and ヂ/ヅ to ジ/ズ (:data:`KANA_FOLD`), as resident-register
  kana matching usually does.
* **dates** (:func:`normalize_date`): ``2001-02-03``, ``2001/2/3``, ``2001.2.3``,
  ``20010203``, ``2001年2月3日`` and 和暦 ``平成13年2月3日``, ``H13.2.3``, ``平13/2/3``,
  ``令和元年5月1日`` → ``datetime64`` (``NaT`` if unreadable or not a real day).
* **sex** (:func:`normalize_sex`): ``1``/``2``, ``男``/``女``, ``男性``/``女性``, ``M``/``F`` →
  ``"1"``/``"2"``.
* **addresses** (:func:`normalize_address`, :func:`address_key`): NFKC, spaces removed,
  ``東京都`` prefix dropped, kanji numerals before 丁目 to digits, ``N丁目N番N号`` /
  ``N番地N`` / ``NのN`` to ``N-N-N``, hyphen-like characters unified, ``号棟``/``号室``
  kept as ``-``.  :func:`address_key` keeps the street part only (municipality, town and
  block numbers), for a match that tolerates a missing building name.

Speed: values repeat (surnames, given names, dates, streets), so each function
factorises the Series and runs the Python mapping once per *distinct* value.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "ERAS",
    "KANA_FOLD",
    "VARIANT_KANJI",
    "address_key",
    "normalize_address",
    "normalize_date",
    "normalize_kana",
    "normalize_name",
    "normalize_sex",
    "parse_date",
]

#: Variant kanji (異体字・旧字) → the form compared.  Data, not code: extend as needed.
#: Covers the variants common in resident-register (住基) name matching, including
#: characters outside CP932 (𠮷) and the CJK-compatibility forms NFKC leaves alone.
VARIANT_KANJI: dict[str, str] = {
    "髙": "高", "﨑": "崎", "嵜": "崎", "碕": "崎", "邊": "辺", "邉": "辺", "齋": "斎", "齊": "斎", "斉": "斎",
    "𠮷": "吉", "濱": "浜", "澤": "沢", "廣": "広", "櫻": "桜", "國": "国", "關": "関", "嶋": "島",
    "嶌": "島", "峯": "峰", "冨": "富", "龍": "竜", "條": "条", "眞": "真", "實": "実", "惠": "恵",
    "德": "徳", "藏": "蔵", "黑": "黒", "瀧": "滝", "壽": "寿", "與": "与", "萬": "万", "禮": "礼",
    "淺": "浅", "彌": "弥", "兒": "児", "豐": "豊", "會": "会", "舘": "館", "槇": "槙", "槗": "橋",
    "桒": "桑", "栁": "柳", "靜": "静", "榮": "栄", "衞": "衛", "顯": "顕", "圓": "円", "塲": "場",
    "戶": "戸", "曻": "昇", "昻": "昂", "蘆": "芦", "邨": "村", "檜": "桧", "嶽": "岳", "稻": "稲",
    "巖": "巌", "綠": "緑", "澁": "渋", "滿": "満", "縣": "県", "莊": "荘", "學": "学", "團": "団",
}

#: Kana compared in one form: small kana as large, ヂ/ヅ as ジ/ズ, ヲ as オ, ヴ as ブ.
KANA_FOLD: dict[str, str] = {
    "ァ": "ア", "ィ": "イ", "ゥ": "ウ", "ェ": "エ", "ォ": "オ", "ッ": "ツ", "ャ": "ヤ", "ュ": "ユ", "ョ": "ヨ",
    "ヮ": "ワ", "ヵ": "カ", "ヶ": "ケ", "ヂ": "ジ", "ヅ": "ズ", "ヲ": "オ", "ヴ": "ブ",
}

#: Japanese eras (元号): names and initials → (first Gregorian year, first day).
ERAS: dict[str, tuple[int, dt.date]] = {
    "明治": (1868, dt.date(1868, 1, 25)),
    "大正": (1912, dt.date(1912, 7, 30)),
    "昭和": (1926, dt.date(1926, 12, 25)),
    "平成": (1989, dt.date(1989, 1, 8)),
    "令和": (2019, dt.date(2019, 5, 1)),
}
_ERA_ALIASES: dict[str, str] = {
    "明": "明治", "M": "明治", "大": "大正", "T": "大正", "昭": "昭和", "S": "昭和",
    "平": "平成", "H": "平成", "令": "令和", "R": "令和", **{k: k for k in ERAS},
}

_HIRAGANA_TO_KATAKANA: dict[int, int | str] = {c: c + 0x60 for c in range(0x3041, 0x3097)}
_HIRAGANA_TO_KATAKANA.update({0x309D: 0x30FD, 0x309E: 0x30FE})
_SPACES_RE = re.compile(r"[\s\u3000・･]+")
_NAME_TABLE: dict[int, int | str] = {**_HIRAGANA_TO_KATAKANA, **{ord(k): v for k, v in VARIANT_KANJI.items()}}
_KANA_TABLE: dict[int, int | str] = {**_HIRAGANA_TO_KATAKANA, **{ord(k): v for k, v in KANA_FOLD.items()}}


def _map_unique(values: Any, fn: Callable[[str], Any], *, dtype: Any = "object") -> pd.Series:
    """Apply ``fn`` once per distinct non-missing text value; missing stays missing."""
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    mapped = np.array([None if not isinstance(u, str) else fn(u) for u in uniques] + [None], dtype=object)
    out = mapped[codes]  # code -1 takes the trailing None
    result = pd.Series(out, index=series.index, dtype=object)
    return result if dtype == "object" else result.astype(dtype)


def _name_one(value: str) -> str | None:
    text = _SPACES_RE.sub("", unicodedata.normalize("NFKC", value)).translate(_NAME_TABLE)
    return text or None


def _kana_one(value: str) -> str | None:
    text = _SPACES_RE.sub("", unicodedata.normalize("NFKC", value)).translate(_KANA_TABLE).translate(_KANA_TABLE)
    return text or None


def normalize_name(values: Any) -> pd.Series:
    """Names (氏名) in the form compared: NFKC, katakana, no spaces, variant kanji folded."""
    return _map_unique(values, _name_one)


def normalize_kana(values: Any) -> pd.Series:
    """Kana names (フリガナ) in the form compared: katakana, no spaces, small kana folded."""
    return _map_unique(values, _kana_one)


# -- dates ---------------------------------------------------------------------------

_DATE_PATTERNS = (
    re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)
_WAREKI_RE = re.compile(
    r"^(明治|大正|昭和|平成|令和|明|大|昭|平|令|[MTSHR])\.?(\d{1,2}|元)[-/.年](\d{1,2})[-/.月](\d{1,2})日?$"
)


@lru_cache(maxsize=65536)
def parse_date(value: str) -> dt.date | None:
    """One date in any accepted form (module docstring) → ``date``, else ``None``.

    A 和暦 year must be within its era (平成32年 is refused; 令和 began 2019-05-01).
    """
    text = _SPACES_RE.sub("", unicodedata.normalize("NFKC", value)).upper()
    try:
        for pattern in _DATE_PATTERNS:
            m = pattern.match(text)
            if m:
                return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        m = _WAREKI_RE.match(text)
        if m:
            era = _ERA_ALIASES[m.group(1)]
            first_year, first_day = ERAS[era]
            year = 1 if m.group(2) == "元" else int(m.group(2))
            day = dt.date(first_year + year - 1, int(m.group(3)), int(m.group(4)))
            eras = list(ERAS)
            nxt = eras.index(era) + 1
            if day < first_day or year < 1 or (nxt < len(eras) and day >= ERAS[eras[nxt]][1]):
                return None
            return day
    except ValueError:
        return None
    return None


def normalize_date(values: Any) -> pd.Series:
    """Dates in any accepted form → ``datetime64[s]`` Series (``NaT`` if unreadable).

    Real dates (``datetime``/``Timestamp``) pass through.
    """
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if pd.api.types.is_datetime64_any_dtype(series):
        return series.dt.normalize().astype("datetime64[s]")
    mapped = _map_unique(series.astype(object).where(series.notna(), None).map(
        lambda v: v.isoformat() if isinstance(v, (dt.date, pd.Timestamp)) else v), parse_date)
    return pd.to_datetime(mapped, errors="coerce").astype("datetime64[s]")


# -- sex -------------------------------------------------------------------------------

_SEX: dict[str, str] = {"1": "1", "2": "2", "男": "1", "女": "2", "男性": "1", "女性": "2", "M": "1", "F": "2",
                        "MALE": "1", "FEMALE": "2"}


def _sex_one(value: str) -> str | None:
    text = _SPACES_RE.sub("", unicodedata.normalize("NFKC", value)).upper()
    if text in _SEX:
        return _SEX[text]
    # "1:男", "1(男)", "男(1)"
    for token in re.split(r"[:：()（）]", text):
        if token in _SEX:
            return _SEX[token]
    return None


def normalize_sex(values: Any) -> pd.Series:
    """Sex codes → ``"1"`` (male) / ``"2"`` (female); anything else ``None``."""
    return _map_unique(values, _sex_one)


# -- addresses ------------------------------------------------------------------------

_KANJI_DIGIT = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_KANJI_NUM_RE = re.compile(r"([〇零一二三四五六七八九十百]+)(丁目|番地|番|号)")
_HYPHENS_RE = re.compile(r"(?<=\d)[-‐‑‒–—―−－ー─━ｰ](?=\d)")
_ADDRESS_STEPS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(\d+)丁目(\d)"), r"\1-\2"),
    (re.compile(r"(\d+)丁目"), r"\1"),
    (re.compile(r"(\d+)番地の?(\d)"), r"\1-\2"),
    (re.compile(r"(\d+)番地"), r"\1"),
    (re.compile(r"(\d+)番の?(\d)"), r"\1-\2"),
    (re.compile(r"(\d+)番(?!地)"), r"\1"),
    (re.compile(r"(\d+)の(\d)"), r"\1-\2"),
    (re.compile(r"(\d+)号棟"), r"\1-"),
    (re.compile(r"(\d+)号室"), r"\1"),
    (re.compile(r"(\d+)号(?=[^\d]|$)"), r"\1"),
    (re.compile(r"-+"), "-"),
)
_STREET_RE = re.compile(r"^(.*?\d+(?:-\d+)*)")


def _kanji_number(text: str) -> int:
    if all(c in _KANJI_DIGIT for c in text):  # 二〇 style
        value = 0
        for c in text:
            value = value * 10 + _KANJI_DIGIT[c]
        return value
    total, current = 0, 0
    for c in text:
        if c in _KANJI_DIGIT:
            current = _KANJI_DIGIT[c]
        elif c == "十":
            total += (current or 1) * 10
            current = 0
        elif c == "百":
            total += (current or 1) * 100
            current = 0
    return total + current


def _address_one(value: str) -> str | None:
    text = _SPACES_RE.sub("", unicodedata.normalize("NFKC", value))
    text = text.translate({ord("ヶ"): "ケ", ord("ヵ"): "カ", ord("之"): "ノ"})
    text = text.removeprefix("東京都")
    text = _KANJI_NUM_RE.sub(lambda m: f"{_kanji_number(m.group(1))}{m.group(2)}", text)
    text = _HYPHENS_RE.sub("-", text)
    for pattern, repl in _ADDRESS_STEPS:
        text = pattern.sub(repl, text)
    text = text.rstrip("-")
    return text or None


def normalize_address(values: Any) -> pd.Series:
    """Addresses in the form compared (module docstring)."""
    return _map_unique(values, _address_one)


def _street_one(value: str) -> str | None:
    full = _address_one(value)
    if full is None:
        return None
    m = _STREET_RE.match(full)
    return m.group(1) if m else full


def address_key(values: Any) -> pd.Series:
    """The street part of each address (up to the last block number), normalised."""
    return _map_unique(values, _street_one)
