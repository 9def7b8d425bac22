"""Tokyo's wards and cities by their local-government code (全国地方公共団体コード).

区市町村コード表。The 23 special wards and 26 Tama cities where the metropolitan housing
stands, with their real codes (five digits: 13 for Tokyo, then the municipality) and names.
The product reads ward names here (statistics, screens, reports); the simulator builds its
world on the same table.  The words are registered with :mod:`workbench.core.labels` under
``ward``, so ``labels.ja("13101", "ward")`` (or ``"131016"``, with the check digit) reads 千代田区
like any other code.

* :data:`PLACES` — every ward and city, in code order;
* :func:`name` — the name for a code (five digits, or six with the check digit), or ``None``;
* :func:`code5` — a code as five digits, its check digit verified when it has one.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.core import labels

__all__ = ["PLACES", "Place", "check_digit", "code5", "name", "names"]


@dataclass(frozen=True)
class Place:
    code: str  #: 5-digit 全国地方公共団体コード without the check digit, e.g. ``13101``
    name: str  #: 千代田区
    name_en: str  #: Chiyoda City


_ROWS = """
13101 千代田区 Chiyoda|13102 中央区 Chuo|13103 港区 Minato|13104 新宿区 Shinjuku|13105 文京区 Bunkyo
13106 台東区 Taito|13107 墨田区 Sumida|13108 江東区 Koto|13109 品川区 Shinagawa|13110 目黒区 Meguro
13111 大田区 Ota|13112 世田谷区 Setagaya|13113 渋谷区 Shibuya|13114 中野区 Nakano|13115 杉並区 Suginami
13116 豊島区 Toshima|13117 北区 Kita|13118 荒川区 Arakawa|13119 板橋区 Itabashi|13120 練馬区 Nerima
13121 足立区 Adachi|13122 葛飾区 Katsushika|13123 江戸川区 Edogawa
13201 八王子市 Hachioji|13202 立川市 Tachikawa|13203 武蔵野市 Musashino|13204 三鷹市 Mitaka|13205 青梅市 Ome
13206 府中市 Fuchu|13207 昭島市 Akishima|13208 調布市 Chofu|13209 町田市 Machida|13210 小金井市 Koganei
13211 小平市 Kodaira|13212 日野市 Hino|13213 東村山市 Higashimurayama|13214 国分寺市 Kokubunji
13215 国立市 Kunitachi|13218 福生市 Fussa|13219 狛江市 Komae|13220 東大和市 Higashiyamato|13221 清瀬市 Kiyose
13222 東久留米市 Higashikurume|13223 武蔵村山市 Musashimurayama|13224 多摩市 Tama|13225 稲城市 Inagi
13227 羽村市 Hamura|13228 あきる野市 Akiruno|13229 西東京市 Nishitokyo
"""

#: Tokyo's 23 special wards and 26 Tama cities, in code order.  Codes and names are real.
PLACES: tuple[Place, ...] = tuple(
    Place(code, ja, f"{en} City")
    for line in _ROWS.strip().splitlines() for code, ja, en in (item.split(" ") for item in line.split("|"))
)
_BY_CODE: dict[str, Place] = {p.code: p for p in PLACES}


def check_digit(code: str) -> str:
    """The check digit of a 5-digit local-government code (JIS X 0401: weights 6-2, modulus 11):
    ``13101`` → ``6`` (131016)."""
    total = sum(int(d) * w for d, w in zip(code, (6, 5, 4, 3, 2), strict=True))
    return str((11 - total % 11) % 10)


def code5(code: object) -> str | None:
    """``code`` as five digits: ``13101`` as it is, ``131016`` without its check digit (``None``
    when the check digit is wrong or the value is no code at all)."""
    text = str(code).strip()
    if not text.isascii() or not text.isdigit():
        return None
    if len(text) == 6:
        return text[:5] if check_digit(text[:5]) == text[5] else None
    return text if len(text) == 5 else None


def name(code: object) -> str | None:
    """The ward's or city's name for a code (five digits, or six with the check digit), or ``None``
    for a code outside the table."""
    five = code5(code)
    place = _BY_CODE.get(five) if five is not None else None
    return place.name if place is not None else None


def names() -> dict[str, str]:
    """code → name, in code order."""
    return {p.code: p.name for p in PLACES}


#: Both spellings of a code read as the name: 13101 and 131016 (with its check digit).
labels.register("ward", {code: (p.name, p.name_en) for p in PLACES for code in (p.code, p.code + check_digit(p.code))})
