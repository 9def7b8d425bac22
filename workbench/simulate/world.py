"""The synthetic population (架空の住民) every simulator, the demo, tests and benchmarks use.

DESIGN §8.  :func:`generate_world` builds, deterministically for a seed, households of
Tokyo public housing (都営住宅等) residents and applicants and the people in them: names
with kana, sex, birth dates, addresses, valid Individual Numbers, incomes, public
assistance and disability certificates.  :meth:`World.evolve` moves the world on by one
cycle (a year): some households move, some people marry and take a new surname, some die;
it returns the changes too, so the Juki-net and intermediate-server simulators can answer from them.

Everything here is invented.  Names are drawn from Faker's ``ja_JP`` pairs (kanji with
kana) widened with a table of common surnames and given names by generation; town names
are real Tokyo towns, but chome, block, building and room numbers are random, and
building names only follow the pattern of real 都営 estates.  Individual Numbers come
from :func:`workbench.core.numbers.generate_numbers`: valid check digits, random bodies.

Speed: the population is built from small pools with vectorised numpy sampling, never a
Faker call per person (1,000,000 persons in a few seconds).

Columns (pandas 3 dtypes; ``str`` is pandas' string dtype, missing values are NaN):

``households`` — one row per household
    household_id ``str`` ("H0000001"), ward_code ``str`` (5-digit municipality code,
    see :data:`MUNICIPALITIES`), address ``str``, housing_type ``str`` (see
    :data:`HOUSING_TYPES`), status ``str`` ("resident" 入居者 / "applicant" 入居申込者),
    phone ``str`` (NaN for the few without one).

``persons`` — one row per person, grouped by household, head first
    person_id ``str`` ("P00000001", the housing system's internal person number),
    household_id ``str``, relation ``str`` (head/spouse/child/parent/other), name ``str``
    ("姓　名", full-width space), kana ``str`` (katakana "セイ　メイ"), sex ``str``
    ("1" male, "2" female), birth_date ``datetime64[ns]``, address ``str`` (the
    household's), status ``str``, individual_number ``str`` (12 ASCII digits),
    annual_income ``int64`` (yen, 0 under 18), public_assistance ``bool``
    (per household), disability_certificate ``str`` (NaN or a certificate type),
    disability_grade ``str`` (NaN or e.g. "2級", "3度"), deceased ``bool``.

Addresses are written the way the housing business system holds them: ``東京都`` +
municipality + town + ``N丁目N番N号``, then for public housing a full-width space and
``都営…アパート`` + ``N号棟NNN号室``.  Applicants live at private addresses (no 都営).
Digits are ASCII; variants (kanji numerals, full-width digits, hyphens) are left to the
simulators of the systems that write them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd

from workbench.core import places
from workbench.core.numbers import generate_numbers
from workbench.intake import targets

__all__ = [
    "CHANGE_KINDS",
    "HOUSING_TYPES",
    "MUNICIPALITIES",
    "RELATIONS",
    "STATUSES",
    "VARIANT_SURNAMES",
    "Municipality",
    "World",
    "generate_world",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
ObjArray = npt.NDArray[np.object_]

FW_SPACE = "\u3000"

#: The reference date of a freshly generated world (the start of fiscal year 2026).
DEFAULT_AS_OF = dt.date(2026, 4, 1)


# --------------------------------------------------------------------------- code tables


class Municipality(NamedTuple):
    code: str  #: 全国地方公共団体コード without its check digit
    name: str
    weight: float  #: rough relative share of the public housing stock (not official)
    towns: tuple[str, ...]  #: a few real town names (町名) of the municipality


def _municipality(code: str, weight: float, towns: tuple[str, ...]) -> Municipality:
    name = places.name(code)
    assert name is not None, code
    return Municipality(code, name, weight, towns)


#: Tokyo's 23 special wards and 26 Tama cities (codes and names from :mod:`workbench.core.places`); weights are an
#: approximation of where the metropolitan housing stock is (heavy in the east and north
#: of the ward area), good enough for a simulation, not a statistic.
MUNICIPALITIES: tuple[Municipality, ...] = (
    _municipality("13101", 0.3, ("九段南", "麹町", "外神田", "西神田", "平河町", "東神田")),
    _municipality("13102", 2.0, ("明石町", "勝どき", "月島", "佃", "晴海", "日本橋浜町", "新川")),
    _municipality("13103", 3.5, ("北青山", "港南", "芝浦", "白金", "高輪", "三田", "南麻布")),
    _municipality("13104", 7.5, ("大京町", "高田馬場", "戸山", "富久町", "百人町", "北新宿", "西早稲田")),
    _municipality("13105", 2.0, ("本駒込", "千石", "白山", "小石川", "大塚", "千駄木")),
    _municipality("13106", 3.0, ("浅草", "入谷", "今戸", "竜泉", "日本堤", "橋場", "東浅草")),
    _municipality("13107", 6.0, ("京島", "八広", "立花", "墨田", "東向島", "文花", "押上")),
    _municipality("13108", 16.0, ("北砂", "南砂", "東砂", "大島", "辰巳", "東雲", "亀戸", "枝川")),
    _municipality("13109", 6.0, ("八潮", "大井", "西大井", "小山", "豊町", "東品川", "南品川")),
    _municipality("13110", 1.5, ("目黒本町", "中根", "五本木", "碑文谷", "八雲")),
    _municipality("13111", 10.0, ("大森東", "西糀谷", "東糀谷", "羽田", "萩中", "本羽田", "南六郷", "大森南")),
    _municipality("13112", 8.0, ("上用賀", "砧", "喜多見", "宇奈根", "大蔵", "桜丘", "八幡山", "南烏山")),
    _municipality("13113", 1.5, ("本町", "笹塚", "幡ヶ谷", "神宮前", "恵比寿")),
    _municipality("13114", 3.5, ("江古田", "鷺宮", "白鷺", "南台", "弥生町", "若宮")),
    _municipality("13115", 5.0, ("高井戸東", "上高井戸", "下井草", "井草", "成田東", "和泉", "方南")),
    _municipality("13116", 3.0, ("池袋本町", "上池袋", "駒込", "高松", "南長崎", "西池袋")),
    _municipality("13117", 14.0, ("桐ケ丘", "赤羽北", "赤羽西", "豊島", "王子", "浮間", "神谷", "十条台")),
    _municipality("13118", 6.0, ("南千住", "町屋", "東尾久", "西尾久", "荒川", "東日暮里")),
    _municipality("13119", 12.0, ("高島平", "西台", "蓮根", "舟渡", "大原町", "成増", "徳丸", "赤塚")),
    _municipality("13120", 11.0, ("光が丘", "大泉学園町", "北町", "石神井台", "土支田", "関町北", "谷原")),
    _municipality("13121", 30.0,
        ("花畑", "西新井", "竹の塚", "江北", "保木間", "綾瀬", "新田", "大谷田", "六月", "鹿浜"),
    ),
    _municipality("13122", 13.0, ("亀有", "青戸", "高砂", "金町", "東水元", "新小岩", "白鳥", "奥戸")),
    _municipality("13123", 17.0, ("西葛西", "南葛西", "北葛西", "南小岩", "篠崎町", "平井", "船堀", "東瑞江")
    ),
    _municipality("13201", 9.0, ("長房町", "館町", "大和田町", "元本郷町", "南大沢", "別所", "北野台")),
    _municipality("13202", 5.0, ("幸町", "若葉町", "砂川町", "上砂町", "錦町")),
    _municipality("13203", 1.0, ("吉祥寺東町", "緑町", "境", "関前")),
    _municipality("13204", 2.5, ("上連雀", "下連雀", "新川", "牟礼", "井口")),
    _municipality("13205", 1.5, ("長淵", "新町", "河辺町", "今寺")),
    _municipality("13206", 3.0, ("押立町", "白糸台", "四谷", "住吉町", "朝日町")),
    _municipality("13207", 2.0, ("福島町", "拝島町", "田中町", "緑町")),
    _municipality("13208", 3.0, ("深大寺東町", "緑ケ丘", "富士見町", "西つつじケ丘", "染地")),
    _municipality("13209", 8.0, ("木曽東", "山崎町", "森野", "金森", "鶴間", "本町田")),
    _municipality("13210", 1.0, ("本町", "貫井北町", "前原町", "東町")),
    _municipality("13211", 3.0, ("小川町", "花小金井", "上水本町", "学園東町")),
    _municipality("13212", 3.5, ("多摩平", "百草", "日野台", "新町")),
    _municipality("13213", 5.0, ("本町", "萩山町", "久米川町", "富士見町")),
    _municipality("13214", 0.8, ("戸倉", "富士本", "泉町", "西恋ケ窪")),
    _municipality("13215", 0.8, ("富士見台", "青柳", "北", "東")),
    _municipality("13218", 1.0, ("熊川", "福生", "加美平")),
    _municipality("13219", 1.2, ("和泉本町", "西和泉", "東和泉")),
    _municipality("13220", 2.5, ("向原", "桜が丘", "清原")),
    _municipality("13221", 2.5, ("旭が丘", "竹丘", "野塩", "中里")),
    _municipality("13222", 3.5, ("上の原", "滝山", "南沢", "下里")),
    _municipality("13223", 2.0, ("緑が丘", "学園", "大南")),
    _municipality("13224", 3.5, ("愛宕", "諏訪", "永山", "豊ヶ丘", "落合")),
    _municipality("13225", 1.5, ("向陽台", "平尾", "矢野口")),
    _municipality("13227", 0.8, ("神明台", "緑ヶ丘", "五ノ神")),
    _municipality("13228", 0.8, ("秋川", "草花", "引田")),
    _municipality("13229", 2.0, ("向台町", "ひばりが丘", "新町", "北原町")),
)

#: Housing types covered by the assessment (REQUIREMENTS §1) with simulation weights.
HOUSING_TYPES: tuple[tuple[str, float], ...] = (
    ("都営住宅", 0.955),
    ("地域特別賃貸住宅", 0.018),
    ("特定公共賃貸住宅", 0.015),
    ("福祉住宅", 0.009),
    ("引揚者住宅", 0.003),
)

#: Household status codes and the words staff see (the product's, :data:`workbench.intake.targets.STATUSES`).
STATUSES: dict[str, str] = {code: words[0] for code, words in targets.STATUSES.items()}

#: Relation-to-head codes and their labels (続柄).
RELATIONS: dict[str, str] = {
    "head": "世帯主",
    "spouse": "配偶者",
    "child": "子",
    "parent": "親",
    "other": "その他",
}

#: Kinds of change :meth:`World.evolve` reports, with labels.
CHANGE_KINDS: dict[str, str] = {"moved": "転居", "renamed": "氏名変更", "died": "死亡"}

#: Surnames written with a variant character (異体字) at a small rate: base → variants
#: with the share of holders of that surname who write it so.  Matching must treat
#: these as the same surname; 𠮷 (U+20BB7) is outside CP932 altogether.
VARIANT_SURNAMES: dict[str, tuple[tuple[str, float], ...]] = {
    "高橋": (("髙橋", 0.05),),
    "山崎": (("山﨑", 0.06),),
    "宮崎": (("宮﨑", 0.04),),
    "岩崎": (("岩﨑", 0.03),),
    "川崎": (("川﨑", 0.03),),
    "渡辺": (("渡邊", 0.05), ("渡邉", 0.06)),
    "斎藤": (("齋藤", 0.12),),
    "斉藤": (("齊藤", 0.06),),
    "吉田": (("𠮷田", 0.01),),
    "吉川": (("𠮷川", 0.01),),
    "吉村": (("𠮷村", 0.01),),
    "浜田": (("濱田", 0.10),),
    "小沢": (("小澤", 0.30),),
    "中沢": (("中澤", 0.30),),
    "広瀬": (("廣瀬", 0.08),),
    "桜井": (("櫻井", 0.08),),
}

#: Common surnames beyond Faker's fifty, roughly in order of frequency.  Readings that
#: differ for the same kanji (東: ヒガシ / アズマ, 菅野: カンノ / スガノ) are kept apart.
_MORE_SURNAMES = (
    "石田:イシダ 原田:ハラダ 小野:オノ 竹内:タケウチ 金子:カネコ 和田:ワダ 中野:ナカノ 原:ハラ "
    "田村:タムラ 中山:ナカヤマ 上田:ウエダ 森田:モリタ 小島:コジマ 柴田:シバタ 酒井:サカイ "
    "工藤:クドウ 横山:ヨコヤマ 宮崎:ミヤザキ 宮本:ミヤモト 内田:ウチダ 高木:タカギ 安藤:アンドウ "
    "島田:シマダ 谷口:タニグチ 大野:オオノ 高田:タカダ 丸山:マルヤマ 今井:イマイ 河野:コウノ "
    "藤本:フジモト 村田:ムラタ 武田:タケダ 上野:ウエノ 杉山:スギヤマ 増田:マスダ 小山:コヤマ "
    "大塚:オオツカ 平野:ヒラノ 菅原:スガワラ 久保:クボ 松井:マツイ 千葉:チバ 岩崎:イワサキ "
    "桜井:サクライ 木下:キノシタ 野口:ノグチ 松尾:マツオ 菊地:キクチ 野村:ノムラ 新井:アライ "
    "渡部:ワタナベ 佐野:サノ 杉本:スギモト 古川:フルカワ 浜田:ハマダ 吉川:ヨシカワ 吉村:ヨシムラ "
    "川崎:カワサキ 大西:オオニシ 松下:マツシタ 市川:イチカワ 水野:ミズノ 菊池:キクチ 小松:コマツ "
    "桑原:クワハラ 関:セキ 星野:ホシノ 荒木:アラキ 堀:ホリ 秋山:アキヤマ 望月:モチヅキ "
    "土屋:ツチヤ 本田:ホンダ 大久保:オオクボ 田口:タグチ 永井:ナガイ 松岡:マツオカ 中田:ナカタ "
    "黒田:クロダ 北村:キタムラ 五十嵐:イガラシ 東:ヒガシ 坂口:サカグチ 片山:カタヤマ 内藤:ナイトウ "
    "服部:ハットリ 樋口:ヒグチ 安田:ヤスダ 菅野:カンノ 河合:カワイ 川口:カワグチ 長尾:ナガオ "
    "奥村:オクムラ 須藤:スドウ 大橋:オオハシ 西田:ニシダ 広瀬:ヒロセ 小沢:オザワ 中沢:ナカザワ "
    "野崎:ノザキ 中嶋:ナカジマ 東:アズマ 菅野:スガノ 長田:オサダ 比嘉:ヒガ 金城:キンジョウ"
)

#: Given names by generation (born up to 1960 / 1961-1990 / from 1991) and sex.  Several
#: share a reading (弘, 浩, 博: ヒロシ) and a few elderly women's names are in katakana,
#: as they are registered.
_GIVEN_NAMES: dict[tuple[str, str], str] = {
    ("1", "old"): (
        "稔:ミノル 治:オサム 茂:シゲル 清:キヨシ 勇:イサム 進:ススム 博:ヒロシ 実:ミノル 弘:ヒロシ "
        "正:タダシ 隆:タカシ 勝:マサル 昭:アキラ 武:タケシ 明:アキラ 誠:マコト 豊:ユタカ 守:マモル "
        "勉:ツトム 一郎:イチロウ 正男:マサオ 和夫:カズオ 幸雄:ユキオ 秀夫:ヒデオ 義雄:ヨシオ "
        "茂雄:シゲオ 昭二:ショウジ 勝利:カツトシ 敏夫:トシオ 政夫:マサオ 晃:アキラ 充:ミツル"
    ),
    ("1", "mid"): (
        "健一:ケンイチ 直樹:ナオキ 英樹:ヒデキ 浩:ヒロシ 学:マナブ 大輔:ダイスケ 健太:ケンタ "
        "剛:ツヨシ 哲也:テツヤ 聡:サトシ 修:オサム 拓也:タクヤ 達也:タツヤ 和也:カズヤ "
        "康弘:ヤスヒロ 洋介:ヨウスケ 亮介:リョウスケ 淳:ジュン 隆之:タカユキ 秀樹:ヒデキ "
        "雅之:マサユキ 智也:トモヤ 大介:ダイスケ 浩二:コウジ 健二:ケンジ 真一:シンイチ "
        "俊介:シュンスケ 篤司:アツシ 京助:キョウスケ 修平:シュウヘイ 直人:ナオト 陽一:ヨウイチ "
        "聡太郎:ソウタロウ 太郎:タロウ 太一:タイチ"
    ),
    ("1", "young"): (
        "翔太:ショウタ 拓真:タクマ 翼:ツバサ 裕太:ユウタ 涼平:リョウヘイ 蓮:レン 大翔:ヒロト "
        "悠真:ユウマ 湊:ミナト 陽翔:ハルト 颯太:ソウタ 樹:イツキ 大和:ヤマト 陸:リク 悠人:ユウト "
        "蒼:アオイ 律:リツ 結翔:ユイト 拓海:タクミ 翔:ショウ 駿:シュン 優斗:ユウト 陽向:ヒナタ "
        "裕樹:ユウキ 零:レイ"
    ),
    ("2", "old"): (
        "千代:チヨ 和子:カズコ 幸子:サチコ 節子:セツコ 洋子:ヨウコ 恵子:ケイコ 京子:キョウコ "
        "久子:ヒサコ 美智子:ミチコ 悦子:エツコ 弘子:ヒロコ 順子:ジュンコ 文子:フミコ 静子:シズコ "
        "光子:ミツコ 照子:テルコ 昭子:アキコ 敏子:トシコ 澄子:スミコ ハル:ハル キヨ:キヨ "
        "トシ子:トシコ 花子:ハナコ 陽子:ヨウコ 美代子:ミヨコ"
    ),
    ("2", "mid"): (
        "明美:アケミ 香織:カオリ 直子:ナオコ 裕美子:ユミコ 由美子:ユミコ 真由美:マユミ 智子:トモコ "
        "恵:メグミ 久美子:クミコ 美穂:ミホ 麻衣:マイ 裕子:ユウコ 典子:ノリコ 純子:ジュンコ "
        "里美:サトミ 明子:アキコ 愛:アイ 恵美:エミ 舞:マイ 美加子:ミカコ 里佳:リカ 知美:トモミ "
        "くみ子:クミコ さゆり:サユリ 知実:サトミ 幹:ミキ"
    ),
    ("2", "young"): (
        "結衣:ユイ 陽菜:ヒナ 美咲:ミサキ さくら:サクラ 葵:アオイ 凛:リン 結愛:ユア 莉子:リコ "
        "芽依:メイ 七海:ナナミ 花:ハナ 紬:ツムギ 陽葵:ヒマリ 杏:アン 美羽:ミウ 春香:ハルカ "
        "桃子:モモコ あすか:アスカ 加奈:カナ 真綾:マアヤ 七夏:ナナミ"
    ),
}

_GENERATIONS = ("old", "mid", "young")

_KANJI_DIGITS = ("", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十")

#: Fallback if Faker's data should move: pattern names for private apartment houses.
_PRIVATE_BUILDINGS = ("パレス", "ハイツ", "コーポ", "アーバン", "クレスト", "パーク", "シティ", "シャルム", "コート")

_REL_HEAD, _REL_SPOUSE, _REL_CHILD, _REL_PARENT, _REL_OTHER = range(5)
_REL_CODES = np.array(["head", "spouse", "child", "parent", "other"], dtype=object)

_CERT_TYPES = np.array(["身体障害者手帳", "精神障害者保健福祉手帳", "愛の手帳"], dtype=object)

_DAYS_PER_YEAR = 365.2425


# --------------------------------------------------------------------------------- pools


@dataclass(frozen=True)
class _NamePool:
    kanji: ObjArray
    kana: ObjArray
    p: FloatArray


@dataclass(frozen=True)
class _Pools:
    surnames: _NamePool
    given: dict[tuple[str, str], _NamePool]
    buildings: ObjArray


def _pairs(text: str) -> list[tuple[str, str]]:
    return [(k, v) for k, v in (item.split(":") for item in text.split())]


_POOLS: _Pools | None = None


def _pools() -> _Pools:
    """Name and building pools, built once per process from Faker's ja_JP data and ours."""
    global _POOLS
    if _POOLS is not None:
        return _POOLS
    from faker.providers.address.ja_JP import Provider as AddressProvider
    from faker.providers.person.ja_JP import Provider as PersonProvider

    # Surnames: Faker's fifty with their frequencies, then ours on a falling scale.
    base: dict[tuple[str, str], float] = {}
    for triple, weight in PersonProvider.last_name_pairs.items():
        base[(triple[0], triple[1])] = float(weight)
    extra = [p for p in _pairs(_MORE_SURNAMES) if p not in base]
    for i, surname in enumerate(extra):
        base[surname] = 54_000.0 - 300.0 * i
    kanji: list[str] = []
    kana: list[str] = []
    weights: list[float] = []
    for (k, r), w in base.items():
        variants = VARIANT_SURNAMES.get(k, ())
        rest = 1.0 - sum(share for _, share in variants)
        kanji.append(k)
        kana.append(r)
        weights.append(w * rest)
        for variant, share in variants:
            kanji.append(variant)
            kana.append(r)
            weights.append(w * share)
    w_arr = np.asarray(weights, dtype=np.float64)
    surnames = _NamePool(np.asarray(kanji, dtype=object), np.asarray(kana, dtype=object), w_arr / w_arr.sum())

    # Given names: ours by generation; any Faker pair we lack joins the middle generation.
    tables = {key: _pairs(text) for key, text in _GIVEN_NAMES.items()}
    known = {pair for pairs in tables.values() for pair in pairs}
    for sex, faker_pairs in (
        ("1", PersonProvider.first_name_male_pairs),
        ("2", PersonProvider.first_name_female_pairs),
    ):
        for kanji_kana_romaji in faker_pairs:
            given_pair = (kanji_kana_romaji[0], kanji_kana_romaji[1])
            if given_pair not in known:
                tables[(sex, "mid")].append(given_pair)
    given = {}
    for key, pairs in tables.items():
        n = len(pairs)
        given[key] = _NamePool(
            np.asarray([k for k, _ in pairs], dtype=object),
            np.asarray([r for _, r in pairs], dtype=object),
            np.full(n, 1.0 / n),
        )

    buildings = tuple(getattr(AddressProvider, "building_names", ())) or _PRIVATE_BUILDINGS
    _POOLS = _Pools(surnames, given, np.asarray(buildings, dtype=object))
    return _POOLS


def _numstr(limit: int, width: int = 0) -> ObjArray:
    """Object array whose i-th element is ``str(i)`` (zero-padded to ``width``)."""
    return np.asarray([f"{i:0{width}d}" for i in range(limit)], dtype=object)


_NUM = _numstr(10_000)
_PAD3 = _numstr(1_000, 3)
_PAD4 = _numstr(10_000, 4)

_MUNI_CODES = np.asarray([m.code for m in MUNICIPALITIES], dtype=object)
_MUNI_PREFIX = np.asarray(["東京都" + m.name for m in MUNICIPALITIES], dtype=object)
_MUNI_WEIGHTS = np.asarray([m.weight for m in MUNICIPALITIES], dtype=np.float64)
_MUNI_WEIGHTS /= _MUNI_WEIGHTS.sum()
_IS_TAMA = np.asarray([m.code >= "13200" for m in MUNICIPALITIES])
# Where applicants live now: flatter than the housing stock.
_APPLICANT_WEIGHTS = 0.5 * _MUNI_WEIGHTS + 0.5 / len(MUNICIPALITIES)
# All towns flattened, with each municipality's slice.
_TOWNS = np.asarray([t for m in MUNICIPALITIES for t in m.towns], dtype=object)
_TOWN_COUNT = np.asarray([len(m.towns) for m in MUNICIPALITIES], dtype=np.int64)
_TOWN_START = (np.cumsum(_TOWN_COUNT) - _TOWN_COUNT).astype(np.int64)

_HOUSING_NAMES = np.asarray([h for h, _ in HOUSING_TYPES], dtype=object)
_HOUSING_P = np.asarray([w for _, w in HOUSING_TYPES], dtype=np.float64)
_HOUSING_P /= _HOUSING_P.sum()

# Household sizes 1-8 of public housing: many single elderly, few large families.
_SIZE_P = np.array([0.42, 0.31, 0.14, 0.08, 0.03, 0.012, 0.005, 0.003])
_SIZE_P /= _SIZE_P.sum()


# ----------------------------------------------------------------------------- helpers


def _normal(rng: np.random.Generator, mean: float, sd: float, n: int, lo: float, hi: float) -> FloatArray:
    return np.clip(rng.normal(mean, sd, n), lo, hi)


def _weighted_sample(rng: np.random.Generator, weights: FloatArray, k: int) -> IntArray:
    """``k`` distinct indices drawn with probability proportional to ``weights``.

    Gumbel top-k: equivalent to successive draws without replacement, but vectorised.
    Indices with zero weight are never drawn; ``k`` is capped at their number.
    """
    positive = np.flatnonzero(weights > 0)
    k = min(k, positive.size)
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    keys = np.log(weights[positive]) - np.log(-np.log(rng.random(positive.size)))
    top = np.argpartition(-keys, k - 1)[:k]
    return np.sort(positive[top]).astype(np.int64)


def _towns(rng: np.random.Generator, muni: IntArray) -> IntArray:
    """A random town index (into ``_TOWNS``) within each given municipality."""
    return _TOWN_START[muni] + (rng.random(muni.size) * _TOWN_COUNT[muni]).astype(np.int64)


def _street(rng: np.random.Generator, muni: IntArray, town: IntArray) -> tuple[ObjArray, IntArray]:
    """``東京都○○区町名N丁目N番N号`` and the chome for each row."""
    n = muni.size
    chome = rng.integers(1, 6, n)
    ban = rng.integers(1, 36, n)
    gou = rng.integers(1, 25, n)
    street: ObjArray = _MUNI_PREFIX[muni] + _TOWNS[town] + _NUM[chome] + "丁目" + _NUM[ban] + "番" + _NUM[gou] + "号"
    return street, chome


def _estate_names(rng: np.random.Generator, town: IntArray, chome: IntArray) -> ObjArray:
    """Names in the pattern of real estates: 都営花畑四丁目アパート, 都営綾瀬第2アパート …"""
    style = rng.choice(4, size=town.size, p=[0.55, 0.2, 0.15, 0.1])
    number = rng.integers(2, 6, town.size)
    names = np.empty(town.size, dtype=object)
    for i in range(town.size):
        t = _TOWNS[town[i]]
        s = style[i]
        if s == 0:
            names[i] = f"都営{t}{_KANJI_DIGITS[chome[i]]}丁目アパート"
        elif s == 1:
            names[i] = f"都営{t}アパート"
        elif s == 2:
            names[i] = f"都営{t}第{number[i]}アパート"
        else:
            names[i] = f"都営{t}団地"
    return names


def _room_suffix(building: IntArray, floor: IntArray, unit: IntArray) -> ObjArray:
    rooms: ObjArray = _NUM[building] + "号棟" + _NUM[floor * 100 + unit] + "号室"
    return rooms


def _toei_addresses(
    rng: np.random.Generator,
    estate_of: IntArray,
    n_estates: int,
    estate_muni: IntArray,
    avoid: set[str] | None = None,
) -> ObjArray:
    """Addresses in public-housing estates; no two households share a room.

    Every estate gets its own site (street address), none of them in ``avoid``.
    """
    town = _towns(rng, estate_muni)
    street, chome = _street(rng, estate_muni, town)
    for _ in range(100):
        bad = pd.Index(street).duplicated()
        if avoid is not None:
            bad |= np.fromiter((a in avoid for a in street), dtype=bool, count=street.size)
        if not bad.any():
            break
        again = np.flatnonzero(bad)
        town[again] = _towns(rng, estate_muni[again])
        street[again], chome[again] = _street(rng, estate_muni[again], town[again])
    head: ObjArray = street + FW_SPACE + _estate_names(rng, town, chome)
    # Each estate has buildings x floors x rooms a floor, at most 90% let; every
    # household gets a distinct room drawn at random among its estate's rooms.
    counts = np.bincount(estate_of, minlength=n_estates)
    units = rng.integers(4, 11, n_estates)  # rooms a floor
    floors = rng.integers(3, 15, n_estates)
    per_building = np.maximum((units * floors * 0.9).astype(np.int64), 1)
    buildings = np.maximum(-(-counts // per_building), 1)
    capacity = buildings * floors * units
    cap_start = (np.cumsum(capacity) - capacity).astype(np.int64)
    slot_estate = np.repeat(np.arange(n_estates), capacity)
    shuffled = np.lexsort((rng.random(slot_estate.size), slot_estate))  # rooms shuffled per estate
    local = np.arange(slot_estate.size) - np.repeat(cap_start, capacity)
    order = np.argsort(estate_of, kind="stable")
    starts = (np.cumsum(counts) - counts).astype(np.int64)
    rank = np.empty(estate_of.size, dtype=np.int64)
    rank[order] = np.arange(estate_of.size) - np.repeat(starts, counts)
    e = estate_of
    slot = local[shuffled[cap_start[e] + rank]]
    per_floor_block = floors[e] * units[e]
    building = slot // per_floor_block + 1
    floor = (slot // units[e]) % floors[e] + 1
    unit = slot % units[e] + 1
    addresses: ObjArray = head[e] + _room_suffix(building, floor, unit)
    return addresses


def _private_addresses(rng: np.random.Generator, muni: IntArray) -> ObjArray:
    """Private addresses (no 都営): 70% a flat in an apartment house, the rest a house."""
    pools = _pools()
    n = muni.size
    town = _towns(rng, muni)
    street, _ = _street(rng, muni, town)
    flat = rng.random(n) < 0.7
    bldg = pools.buildings[rng.integers(0, pools.buildings.size, n)]
    room = rng.integers(1, 6, n) * 100 + rng.integers(1, 9, n)
    suffix = np.where(flat, FW_SPACE + _TOWNS[town] + bldg + _NUM[room] + "号室", "")
    addresses: ObjArray = street + suffix
    return addresses


def _phones(rng: np.random.Generator, muni: IntArray) -> ObjArray:
    """Mobile (070/080/090) or landline (03 in the wards, 042 in Tama); ~3% none."""
    n = muni.size
    kind = rng.random(n)
    mobile = np.asarray(["070-", "080-", "090-"], dtype=object)[rng.integers(0, 3, n)]
    a4 = _PAD4[rng.integers(1000, 10000, n)]
    b4 = _PAD4[rng.integers(0, 10000, n)]
    mob: ObjArray = mobile + a4 + "-" + b4
    ward_line: ObjArray = "03-" + _NUM[rng.integers(3000, 7000, n)] + "-" + b4
    tama_line: ObjArray = "042-" + _PAD3[rng.integers(300, 800, n)] + "-" + b4
    land = np.where(_IS_TAMA[muni], tama_line, ward_line)
    phones: ObjArray = np.where(kind < 0.55, mob, land)
    phones[kind > 0.97] = None
    return phones


def _ids(prefix: str, n: int, width: int) -> ObjArray:
    return np.asarray([f"{prefix}{i:0{width}d}" for i in range(1, n + 1)], dtype=object)


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _ages(birth: pd.Series, as_of: dt.date) -> FloatArray:
    days = (pd.Timestamp(as_of) - birth).dt.days.to_numpy(dtype=np.float64)
    ages: FloatArray = days / _DAYS_PER_YEAR
    return ages


# ------------------------------------------------------------------------------- world


@dataclass(frozen=True, eq=False)
class World:
    """One synthetic population: households and persons (see the module docstring)."""

    households: pd.DataFrame
    persons: pd.DataFrame
    as_of: dt.date = DEFAULT_AS_OF
    cycle: int = 0

    def evolve(
        self,
        *,
        seed: int,
        move_rate: float = 0.02,
        rename_rate: float = 0.005,
        death_rate: float = 0.005,
    ) -> tuple[World, pd.DataFrame]:
        """The world one year later, and what changed.

        Rates are shares of the living population, met to within rounding:

        - ``moved``: whole households move (new address, and municipality); residents
          half to another 都営 room, half out to a private address (the housing office
          learns of it through Juki-net); applicants to another private address.
          Households with a deceased member do not move.
        - ``renamed``: marriage; a living adult of 18-60 who is not a spouse, mostly a
          woman, takes a new surname (kanji and kana); the given name stays.
        - ``died``: ``deceased`` becomes True, with probability rising with age.
          Deceased persons stay in the world (their numbers are kept, III-7 ⑩).

        A person may appear under more than one kind.  The changes frame has
        person_id, household_id, kind (see :data:`CHANGE_KINDS`) and effective_date
        (``datetime64[ns]`` within the year), sorted by person_id and kind.  Everyone
        not listed is unchanged.  Deterministic for (world, seed).
        """
        for name, rate in (("move_rate", move_rate), ("rename_rate", rename_rate), ("death_rate", death_rate)):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        rng = np.random.default_rng([seed, self.cycle + 1])
        new_as_of = _add_years(self.as_of, 1)
        households = self.households.copy()
        persons = self.persons.copy()
        n_days = (new_as_of - self.as_of).days
        start = np.datetime64(self.as_of, "D")

        def dates(k: int) -> npt.NDArray[np.datetime64]:
            return (start + rng.integers(0, n_days, k).astype("timedelta64[D]")).astype("datetime64[ns]")

        alive = ~persons["deceased"].to_numpy(dtype=bool)
        hh_codes = pd.Index(households["household_id"])
        p_hh = hh_codes.get_indexer(persons["household_id"])
        ages = _ages(persons["birth_date"], new_as_of)

        # Moves: whole households, none with a deceased member.
        dead_hh = np.bincount(p_hh[~alive], minlength=len(households)) > 0
        movable = np.flatnonzero(~dead_hh)
        k_move = round(move_rate * movable.size)
        moving = np.sort(rng.choice(movable, size=k_move, replace=False)) if k_move else movable[:0]
        new_muni = rng.choice(len(MUNICIPALITIES), size=moving.size, p=_APPLICANT_WEIGHTS)
        resident = households["status"].to_numpy()[moving] == "resident"
        to_toei = resident & (rng.random(moving.size) < 0.5)
        toei_muni = rng.choice(len(MUNICIPALITIES), size=int(to_toei.sum()), p=_MUNI_WEIGHTS)
        new_muni[to_toei] = toei_muni
        new_addr = _private_addresses(rng, new_muni)
        if to_toei.any():
            k = int(to_toei.sum())
            sites = {a.split(FW_SPACE, 1)[0] for a in self.households["address"].tolist()}
            new_addr[to_toei] = _toei_addresses(rng, np.arange(k), k, toei_muni, avoid=sites)
        hh_addr = households["address"].to_numpy(dtype=object).copy()
        hh_ward = households["ward_code"].to_numpy(dtype=object).copy()
        hh_addr[moving] = new_addr
        hh_ward[moving] = _MUNI_CODES[new_muni]
        households["address"] = pd.array(hh_addr, dtype=households["address"].dtype)
        households["ward_code"] = pd.array(hh_ward, dtype=households["ward_code"].dtype)
        move_date = np.full(len(households), np.datetime64("NaT"), dtype="datetime64[ns]")
        move_date[moving] = dates(moving.size)
        moved_people = np.flatnonzero(np.isin(p_hh, moving))
        p_addr = persons["address"].to_numpy(dtype=object).copy()
        p_addr[moved_people] = hh_addr[p_hh[moved_people]]
        persons["address"] = pd.array(p_addr, dtype=persons["address"].dtype)

        # Deaths: Gompertz-like, hazard doubling about every eight years of age.
        n_alive = int(alive.sum())
        death_w = np.where(alive, np.exp(0.085 * np.clip(ages, 0, 110)), 0.0)
        died = _weighted_sample(rng, death_w, round(death_rate * n_alive))
        dec = persons["deceased"].to_numpy(dtype=bool).copy()
        dec[died] = True
        persons["deceased"] = dec
        death_date = dates(died.size)
        # Whoever moved and died this year died after the move.
        death_date = np.maximum(death_date, move_date[p_hh[died]], where=np.isin(died, moved_people), out=death_date)

        # Marriages: a new surname; mostly women, adults up to 60, not already a spouse.
        rel = persons["relation"].to_numpy()
        sex = persons["sex"].to_numpy()
        eligible = alive & ~dec & (ages >= 18) & (ages <= 60) & (rel != "spouse")
        rename_w = np.where(eligible, np.where(sex == "2", 9.0, 1.0), 0.0)
        renamed = _weighted_sample(rng, rename_w, round(rename_rate * n_alive))
        if renamed.size:
            pool = _pools().surnames
            names = persons["name"].to_numpy(dtype=object).copy()
            kanas = persons["kana"].to_numpy(dtype=object).copy()
            new_s = rng.choice(pool.kanji.size, size=renamed.size, p=pool.p)
            for j, i in enumerate(renamed):
                old_sur, given = names[i].split(FW_SPACE, 1)
                s = int(new_s[j])
                if pool.kanji[s] == old_sur:
                    s = (s + 1) % pool.kanji.size
                names[i] = pool.kanji[s] + FW_SPACE + given
                kanas[i] = pool.kana[s] + FW_SPACE + kanas[i].split(FW_SPACE, 1)[1]
            persons["name"] = pd.array(names, dtype=persons["name"].dtype)
            persons["kana"] = pd.array(kanas, dtype=persons["kana"].dtype)
        rename_date = dates(renamed.size)

        person_ids = persons["person_id"].to_numpy(dtype=object)
        household_ids = persons["household_id"].to_numpy(dtype=object)
        parts = [
            (moved_people, "moved", move_date[p_hh[moved_people]]),
            (renamed, "renamed", rename_date),
            (died, "died", death_date),
        ]
        changes = pd.DataFrame(
            {
                "person_id": pd.array(np.concatenate([person_ids[i] for i, _, _ in parts]), dtype="str"),
                "household_id": pd.array(np.concatenate([household_ids[i] for i, _, _ in parts]), dtype="str"),
                "kind": pd.array(np.concatenate([np.full(i.size, k, dtype=object) for i, k, _ in parts]), dtype="str"),
                "effective_date": np.concatenate([d for _, _, d in parts]).astype("datetime64[ns]"),
            }
        )
        kind_order = {k: n for n, k in enumerate(CHANGE_KINDS)}
        changes = changes.sort_values(
            ["person_id", "kind"], key=lambda c: c.map(kind_order) if c.name == "kind" else c
        ).reset_index(drop=True)
        world = replace(self, households=households, persons=persons, as_of=new_as_of, cycle=self.cycle + 1)
        return world, changes


def generate_world(persons: int, *, seed: int = 0, as_of: dt.date = DEFAULT_AS_OF) -> World:
    """A synthetic population of exactly ``persons`` people, deterministic for ``seed``.

    ``as_of`` is the reference date ages are counted from (default 2026-04-01).
    """
    if persons < 0:
        raise ValueError("persons must be >= 0")
    pools = _pools()
    (r_hh, r_addr, r_rel, r_age, r_sex, r_name, r_num, r_money) = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)
    )
    n = persons

    # Households and their sizes: draw enough, cut the last to hit ``persons`` exactly.
    sizes = r_hh.choice(np.arange(1, 9), size=max(n // 2 + 16, 16), p=_SIZE_P).astype(np.int64)
    while sizes.sum() < n:
        sizes = np.concatenate([sizes, r_hh.choice(np.arange(1, 9), size=n // 2 + 16, p=_SIZE_P)])
    total = np.cumsum(sizes)
    n_hh = int(np.searchsorted(total, n)) + 1 if n else 0
    sizes = sizes[:n_hh].copy()
    if n_hh:
        sizes[-1] -= int(total[n_hh - 1]) - n
    applicant = r_hh.random(n_hh) < 0.15

    # Where they live: residents in estates (several households to an estate).
    res = np.flatnonzero(~applicant)
    n_estates = max(1, res.size // 80) if res.size else 0
    estate_w = r_addr.lognormal(0.0, 1.0, n_estates)
    drawn = r_addr.choice(n_estates, size=res.size, p=estate_w / estate_w.sum()) if res.size else res
    used, estate_of = np.unique(drawn, return_inverse=True)  # drop estates nobody drew
    n_estates = used.size
    estate_muni = r_addr.choice(len(MUNICIPALITIES), size=n_estates, p=_MUNI_WEIGHTS)
    estate_type = r_addr.choice(_HOUSING_NAMES.size, size=n_estates, p=_HOUSING_P)
    muni = np.empty(n_hh, dtype=np.int64)
    housing = np.empty(n_hh, dtype=np.int64)
    address = np.empty(n_hh, dtype=object)
    muni[res] = estate_muni[estate_of]
    housing[res] = estate_type[estate_of]
    address[res] = _toei_addresses(r_addr, estate_of.astype(np.int64), n_estates, estate_muni)
    app = np.flatnonzero(applicant)
    muni[app] = r_addr.choice(len(MUNICIPALITIES), size=app.size, p=_APPLICANT_WEIGHTS)
    housing[app] = r_addr.choice(_HOUSING_NAMES.size, size=app.size, p=_HOUSING_P)
    address[app] = _private_addresses(r_addr, muni[app])
    phone = _phones(r_addr, muni)

    # Who is in each household: head, maybe a spouse, maybe a parent, the rest children.
    has_spouse = (sizes >= 2) & (r_rel.random(n_hh) < np.where(sizes == 2, 0.7, 0.65))
    room = sizes - 1 - has_spouse
    has_parent = (room >= 1) & (r_rel.random(n_hh) < np.where(sizes == 2, 0.5, 0.08))
    hh_of = np.repeat(np.arange(n_hh), sizes)
    starts = (np.cumsum(sizes) - sizes).astype(np.int64)
    pos = np.arange(n) - np.repeat(starts, sizes)
    last = pos == sizes[hh_of] - 1
    rel = np.full(n, _REL_CHILD, dtype=np.int64)
    rel[(pos == 1) & has_spouse[hh_of]] = _REL_SPOUSE
    rel[last & (pos > 0) & has_parent[hh_of] & ~((pos == 1) & has_spouse[hh_of])] = _REL_PARENT
    rel[(rel == _REL_CHILD) & (r_rel.random(n) < 0.04)] = _REL_OTHER
    rel[pos == 0] = _REL_HEAD
    n_children = np.bincount(hh_of[(rel == _REL_CHILD) | (rel == _REL_OTHER)], minlength=n_hh)

    # Ages: the head first, everyone else relative to the head.
    single = sizes == 1
    elder_single = single & (r_age.random(n_hh) < 0.7)
    young_family = r_age.random(n_hh) < 0.62
    elder_couple = r_age.random(n_hh) < 0.75
    head_age = np.select(
        [
            elder_single,
            single,
            has_parent,
            (n_children > 0) & young_family,
            n_children > 0,
            elder_couple,
        ],
        [
            _normal(r_age, 77, 8, n_hh, 65, 102),
            _normal(r_age, 50, 10, n_hh, 20, 64.9),
            _normal(r_age, 52, 8, n_hh, 30, 75),
            _normal(r_age, 40, 7, n_hh, 22, 60),
            _normal(r_age, 70, 8, n_hh, 50, 95),
            _normal(r_age, 74, 7, n_hh, 60, 100),
        ],
        _normal(r_age, 45, 12, n_hh, 20, 64.9),
    )
    h_age = head_age[hh_of]
    # Children are born when the head is 17-45; a young head's children are small.
    child_age = h_age - np.clip(r_age.normal(30, 5, n), 17, 45)
    too_young = child_age < 0
    child_age[too_young] = r_age.random(int(too_young.sum())) * np.clip(h_age[too_young] - 17, 0.5, 18)
    age = np.select(
        [rel == _REL_HEAD, rel == _REL_SPOUSE, rel == _REL_CHILD, rel == _REL_PARENT],
        [
            h_age,
            np.clip(h_age + r_age.normal(-2, 4, n), 18, 104),
            child_age,
            np.clip(h_age + r_age.normal(28, 4, n), np.minimum(h_age + 16, 104), 104),
        ],
        np.where(
            h_age >= 60,
            np.clip(h_age - r_age.normal(55, 6, n), 0, 40),
            np.clip(h_age + r_age.normal(0, 6, n), 0, 104),
        ),
    )
    birth_day = np.datetime64(as_of, "D") - np.ceil(age * _DAYS_PER_YEAR).astype("timedelta64[D]")
    age = (np.datetime64(as_of, "D") - birth_day).astype(np.float64) / _DAYS_PER_YEAR  # as the dates say
    birth_year = birth_day.astype("datetime64[Y]").astype(np.int64) + 1970

    # Sex: elderly people living alone are mostly women; spouses opposite to the head.
    p_male_head = np.select(
        [elder_single, single, has_spouse, n_children > 0],
        [0.38, 0.55, 0.85, np.where(head_age < 60, 0.15, 0.4)],
        0.5,
    )
    head_male = r_sex.random(n_hh) < p_male_head
    p_male = np.select([rel == _REL_CHILD, rel == _REL_PARENT], [0.51, 0.25], 0.5)
    male = r_sex.random(n) < p_male
    male[rel == _REL_HEAD] = head_male[hh_of[rel == _REL_HEAD]]
    male[rel == _REL_SPOUSE] = ~head_male[hh_of[rel == _REL_SPOUSE]]
    sex = np.where(male, "1", "2").astype(object)

    # Names: the household's surname, except some parents and others; given names by
    # sex and generation.
    sur_pool = pools.surnames
    hh_surname = r_name.choice(sur_pool.kanji.size, size=n_hh, p=sur_pool.p)
    surname = hh_surname[hh_of]
    own = ((rel == _REL_PARENT) & (r_name.random(n) < 0.3)) | ((rel == _REL_OTHER) & (r_name.random(n) < 0.5))
    surname[own] = r_name.choice(sur_pool.kanji.size, size=int(own.sum()), p=sur_pool.p)
    generation = np.select([birth_year <= 1960, birth_year <= 1990], [0, 1], 2)
    given_kanji = np.empty(n, dtype=object)
    given_kana = np.empty(n, dtype=object)
    for sex_code, is_male in (("1", True), ("2", False)):
        for g, gen in enumerate(_GENERATIONS):
            rows = np.flatnonzero((male == is_male) & (generation == g))
            pool = pools.given[(sex_code, gen)]
            pick = r_name.choice(pool.kanji.size, size=rows.size, p=pool.p)
            given_kanji[rows] = pool.kanji[pick]
            given_kana[rows] = pool.kana[pick]
    name = sur_pool.kanji[surname] + FW_SPACE + given_kanji
    kana = sur_pool.kana[surname] + FW_SPACE + given_kana

    numbers = generate_numbers(n, r_num)

    # Money and support: low incomes, assistance by household, certificates with age.
    assisted_hh = r_money.random(n_hh) < np.where(single, 0.14, 0.09)
    assisted = assisted_hh[hh_of]
    working = (age >= 18) & (age < 65)
    income = np.select(
        [
            age < 18,
            age >= 65,
            working & (rel == _REL_HEAD),
            working & (rel == _REL_SPOUSE),
        ],
        [
            np.zeros(n),
            r_money.lognormal(np.log(1_300_000), 0.45, n),
            r_money.lognormal(np.log(2_500_000), 0.5, n),
            r_money.lognormal(np.log(1_000_000), 0.6, n),
        ],
        r_money.lognormal(np.log(1_600_000), 0.6, n),
    )
    no_income = np.select(
        [age >= 65, working & (rel == _REL_HEAD), working & (rel == _REL_SPOUSE)], [0.05, 0.08, 0.4], 0.35
    )
    income[r_money.random(n) < no_income] = 0.0
    income[assisted] *= 0.3
    income[assisted & (r_money.random(n) < 0.4)] = 0.0
    income = np.minimum(income, 12_000_000)
    annual_income = (np.round(income / 1000) * 1000).astype(np.int64)

    p_cert = np.select([age < 18, age < 65], [0.03, 0.08], 0.18)
    has_cert = r_money.random(n) < p_cert
    cert_type = np.select(
        [age < 18, age < 65],
        [
            r_money.choice(3, size=n, p=[0.25, 0.10, 0.65]),
            r_money.choice(3, size=n, p=[0.45, 0.35, 0.20]),
        ],
        r_money.choice(3, size=n, p=[0.88, 0.08, 0.04]),
    )
    grade_num = np.select(
        [cert_type == 0, cert_type == 1],
        [r_money.integers(1, 7, n), r_money.integers(1, 4, n)],
        r_money.integers(1, 5, n),
    )
    grade = _NUM[grade_num] + np.where(cert_type == 2, "度", "級").astype(object)
    certificate = np.where(has_cert, _CERT_TYPES[cert_type], None)
    grade = np.where(has_cert, grade, None)

    status_hh = np.where(applicant, "applicant", "resident").astype(object)
    household_ids = _ids("H", n_hh, 7)
    households = pd.DataFrame(
        {
            "household_id": pd.array(household_ids, dtype="str"),
            "ward_code": pd.array(_MUNI_CODES[muni], dtype="str"),
            "address": pd.array(address, dtype="str"),
            "housing_type": pd.array(_HOUSING_NAMES[housing], dtype="str"),
            "status": pd.array(status_hh, dtype="str"),
            "phone": pd.array(phone, dtype="str"),
        }
    )
    frame = pd.DataFrame(
        {
            "person_id": pd.array(_ids("P", n, 8), dtype="str"),
            "household_id": pd.array(household_ids[hh_of], dtype="str"),
            "relation": pd.array(_REL_CODES[rel], dtype="str"),
            "name": pd.array(name, dtype="str"),
            "kana": pd.array(kana, dtype="str"),
            "sex": pd.array(sex, dtype="str"),
            "birth_date": birth_day.astype("datetime64[ns]"),
            "address": pd.array(address[hh_of], dtype="str"),
            "status": pd.array(status_hh[hh_of], dtype="str"),
            "individual_number": pd.array(numbers.astype(object), dtype="str"),
            "annual_income": annual_income,
            "public_assistance": assisted,
            "disability_certificate": pd.array(certificate, dtype="str"),
            "disability_grade": pd.array(grade, dtype="str"),
            "deceased": np.zeros(n, dtype=bool),
        }
    )
    return World(households=households, persons=frame, as_of=as_of, cycle=0)
