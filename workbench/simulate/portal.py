"""My Number portal downloads (マイナポータル／LoGo フォーム申請データ) with realistic variation (F1).

DESIGN §8.  People type their own four basic items into the form, so the download
differs from the target list in harmless ways — variant kanji (髙, 﨑, 邊, 𠮷 …),
half-width or hiragana kana, extra or missing spaces, dates as ``2001/2/3``,
``20010203`` or 和暦 (``平成13年2月3日``, ``H13.2.3``), sex as 男/女, addresses with
hyphens, full-width digits or without 東京都 — which matching must absorb, and in
harmful ways (:data:`DEFECTS`, a share ``error_rate`` of rows) which it must catch.

Only people whose (name, birth date) is unique in the world are drawn, so every
clean row has exactly one match.  Truth assumes the world was loaded with no numbers.
"""

from __future__ import annotations

import datetime as dt
import unicodedata

import numpy as np
import pandas as pd

from workbench.files import formats
from workbench.intake import matching
from workbench.simulate.world import World

__all__ = ["DEFECTS", "portal_download", "portal_download_with_truth"]

#: Defect → (expected outcome, expected reason code).
DEFECTS: dict[str, tuple[str, str | None]] = {
    "wrong_birth_date": ("returned", "portal_birth_date_mismatch"),
    "wrong_name": ("returned", "portal_name_mismatch"),
    "wrong_sex": ("returned", "portal_sex_mismatch"),
    "wrong_address": ("returned", "portal_address_mismatch"),
    "not_in_list": ("returned", "portal_no_match"),
    "check_digit": ("returned", "check_digit"),
    "identity_not_checked": ("returned", "identity_not_checked"),
    "duplicate_submission": ("returned", "duplicate_row"),
}

_VARIANTS = {"高": "髙", "崎": "﨑", "辺": "邊", "斎": "齋", "吉": "𠮷", "浜": "濱", "沢": "澤", "広": "廣", "桜": "櫻"}
_FULLWIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")
_KATA_TO_HIRA = {c: c - 0x60 for c in range(0x30A1, 0x30F7)}
_ERA = (("令和", "R", dt.date(2019, 5, 1)), ("平成", "H", dt.date(1989, 1, 8)), ("昭和", "S", dt.date(1926, 12, 25)),
        ("大正", "T", dt.date(1912, 7, 30)), ("明治", "M", dt.date(1868, 1, 25)))


def _half_width_kana(text: str) -> str:
    """Full-width katakana → half-width (ｶﾞ), as older forms and spreadsheets write it."""
    out = []
    for ch in text:
        decomposed = unicodedata.normalize("NFD", ch)
        base = decomposed[0]
        mark = {"\u3099": "ﾞ", "\u309a": "ﾟ"}.get(decomposed[1:], "")
        half = _HALF.get(base)
        out.append(half + mark if half else (" " if ch == "\u3000" else ch))
    return "".join(out)


_HALF = dict(zip(
    "ァアィイゥウェエォオカキクケコサシスセソタチッツテトナニヌネノハヒフヘホマミムメモャヤュユョヨラリルレロワヲンー",
    "ｧｱｨｲｩｳｪｴｫｵｶｷｸｹｺｻｼｽｾｿﾀﾁｯﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓｬﾔｭﾕｮﾖﾗﾘﾙﾚﾛﾜｦﾝｰ",
    strict=True,
))


def _wareki(day: dt.date, short: bool) -> str:
    for name, letter, start in _ERA:
        if day >= start:
            year = day.year - start.year + 1
            if short:
                return f"{letter}{year}.{day.month}.{day.day}"
            return f"{name}{'元' if year == 1 else year}年{day.month}月{day.day}日"
    return day.isoformat()


def _date_form(day: dt.date, form: int) -> str:
    return [day.isoformat(), f"{day.year}/{day.month}/{day.day}", day.strftime("%Y%m%d"),
            _wareki(day, False), _wareki(day, True)][form]


def _address_form(address: str, form: int) -> str:
    if form == 1:
        return address.removeprefix("東京都")
    if form == 2:
        text = address
        for unit, repl in (("丁目", "-"), ("番", "-"), ("号室", ""), ("号棟", "-")):
            text = text.replace(unit, repl)
        return text.replace("号", "")
    if form == 3:
        return address.translate(_FULLWIDTH)
    return address


def portal_download_with_truth(
    world: World,
    *,
    seed: int,
    persons: int | None = None,
    error_rate: float = 0.1,
    variation_rate: float = 0.5,
    encoding: str = "utf-8-sig",
) -> tuple[bytes, pd.DataFrame]:
    """A portal download for ``persons`` people (default 10% of the world) and its truth.

    Truth columns: ``line``, ``submission_id``, ``person_id`` (who really submitted;
    ``""`` for ``not_in_list``), ``defect``, ``outcome``, ``reason``.
    """
    rng = np.random.default_rng(seed)
    people = world.persons[~world.persons["deceased"].to_numpy(dtype=bool)]
    key = matching.normalize_name(people["name"]) + "|" + people["birth_date"].dt.strftime("%Y-%m-%d").to_numpy()
    unique = ~key.duplicated(keep=False).to_numpy()
    pool = people[unique]
    known_names = set(matching.normalize_name(world.persons["name"]).dropna())
    taken = set(key[~unique]) | set(key)
    count = min(len(pool), persons if persons is not None else max(1, len(world.persons) // 10))
    chosen = pool.iloc[np.sort(rng.choice(len(pool), size=count, replace=False))].reset_index(drop=True)
    n = len(chosen)
    name = chosen["name"].to_numpy(dtype=object).copy()
    kana = chosen["kana"].to_numpy(dtype=object).copy()
    sex = chosen["sex"].to_numpy(dtype=object).copy()
    birth = [d.date() for d in chosen["birth_date"]]
    address = chosen["address"].to_numpy(dtype=object).copy()
    number = chosen["individual_number"].to_numpy(dtype=object).copy()
    person_id = chosen["person_id"].to_numpy(dtype=object).copy()
    ident = np.full(n, "1", dtype=object)
    defect = np.full(n, "", dtype=object)
    kinds = list(DEFECTS)
    k = min(n, round(error_rate * n))
    hit = rng.choice(n, size=k, replace=False) if k else np.empty(0, dtype=np.int64)
    defect[hit] = np.asarray(kinds, dtype=object)[rng.integers(0, len(kinds), k)]
    fillers = "乃之也子美代"

    birth_text = np.empty(n, dtype=object)
    for i in range(n):
        vary = rng.random(6) < variation_rate
        if vary[0] and not encoding.startswith("cp"):
            name[i] = "".join(_VARIANTS.get(c, c) for c in name[i])
        elif vary[0]:
            name[i] = "".join(_VARIANTS.get(c, c) if c != "吉" else c for c in name[i])
        if vary[1]:
            name[i] = str(rng.choice([name[i].replace("\u3000", ""), name[i].replace("\u3000", " "),
                                      " " + name[i].replace("\u3000", "  ") + " "]))
        if vary[2]:
            kana[i] = _half_width_kana(kana[i]) if rng.random() < 0.5 else kana[i].translate(_KATA_TO_HIRA)
        if vary[4]:
            sex[i] = {"1": "男", "2": "女"}[sex[i]]
        if vary[5]:
            address[i] = _address_form(address[i], int(rng.integers(1, 4)))
        kind = defect[i]
        day = birth[i]
        if kind == "wrong_birth_date":
            for shift in (1, -1, 365, -365, 30, -30, 2, -2):
                other = day + dt.timedelta(days=shift)
                if f"{matching.normalize_name([name[i]])[0]}|{other.isoformat()}" not in taken:
                    day = other
                    break
        elif kind == "wrong_name":
            base = str(name[i])
            for ch in fillers:
                candidate = base[:-1] + ch
                if candidate != base and matching.normalize_name([candidate])[0] not in known_names:
                    name[i] = candidate
                    break
        elif kind == "wrong_sex":
            sex[i] = "2" if sex[i] in ("1", "男") else "1"
        elif kind == "wrong_address":
            address[i] = "東京都千代田区九段南9丁目99番99号"
        elif kind == "not_in_list":
            name[i] = "架空" + fillers[int(rng.integers(0, len(fillers)))] + "\u3000" + "存在" + str(rng.integers(0, 9))
            kana[i] = "カクウ\u3000ソンザイ"
            person_id[i] = ""
        elif kind == "check_digit":
            number[i] = number[i][:11] + str((int(number[i][11]) + 1) % 10)
        elif kind == "identity_not_checked":
            ident[i] = "0"
        birth_text[i] = _date_form(day, int(rng.integers(0, 5)) if vary[3] else 0)

    submitted = (np.datetime64("2026-05-01T09:00:00") + rng.integers(0, 30 * 86400, n).astype("timedelta64[s]"))
    frame = pd.DataFrame({
        "submission_id": [f"LG{seed % 1000:03d}{i:07d}" for i in range(n)],
        "name": name, "kana": kana, "sex": sex, "birth_date": birth_text, "address": address,
        "individual_number": number, "identity_checked": ident,
        "submitted_at": np.datetime_as_string(submitted, unit="s").astype(object),
        "person_id": person_id, "defect": defect,
    })
    # a person who submitted twice: the same data under a new submission ID, right after
    dup = np.flatnonzero(defect == "duplicate_submission")
    if dup.size:
        copies = frame.iloc[dup].copy()
        frame.loc[dup, "defect"] = ""
        copies["submission_id"] = [f"LG{seed % 1000:03d}{n + j:07d}" for j in range(dup.size)]
        order = np.concatenate([np.arange(n, dtype=np.float64), dup + 0.5])
        frame = pd.concat([frame, copies], ignore_index=True).iloc[np.argsort(order, kind="stable")].reset_index(drop=True)
    d = frame["defect"].to_numpy(dtype=object)
    outcome = np.full(len(frame), "registered", dtype=object)
    reason = np.full(len(frame), "", dtype=object)
    for kind, (out, why) in DEFECTS.items():
        outcome[d == kind] = out
        reason[d == kind] = why or ""
    truth = pd.DataFrame({
        "line": np.arange(2, len(frame) + 2, dtype=np.int64),
        "submission_id": frame["submission_id"].to_numpy(dtype=object),
        "person_id": frame["person_id"].to_numpy(dtype=object),
        "defect": d, "outcome": outcome, "reason": reason,
    })
    data = formats.write_table(frame.drop(columns=["person_id", "defect"]), "portal_download", encoding=encoding)
    return data, truth


def portal_download(world: World, *, seed: int, persons: int | None = None, error_rate: float = 0.1,
                    encoding: str = "utf-8-sig") -> bytes:
    """The portal download only (see :func:`portal_download_with_truth`)."""
    data, _ = portal_download_with_truth(world, seed=seed, persons=persons, error_rate=error_rate, encoding=encoding)
    return data
