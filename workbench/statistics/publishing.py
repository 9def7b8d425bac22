"""F8 statistics: publish a de-identified mart, and release tables from it (統計分析).

DESIGN §9.  Two sides:

* **Publication** (:func:`publish`, permission ``stats.publish``, held by staff, never by
  analysts): reads the identified store and writes a numbered publication folder under
  the workspace's ``stats_root`` — Parquet microdata plus ``manifest.json`` — processed as
  APPI rule 34 asks (個人情報保護法施行規則第34条):

  1. removed: Individual Number, integrated number, internal person number, household ID,
     name, kana, street address, phone, exact birth date and every linking code; rows are
     shuffled so their order links to nothing;
  2. generalised quasi-identifiers: 5-year age bands with 90+ top-coded, household size
     with 7+ top-coded, ward/city only; income in bands, and as a value rounded to
     ¥100,000 and top-coded at ¥10,000,000;
  3. rare categories (fewer than k people) recoded into a neighbour or "その他";
  4. k-anonymity over the quasi-identifiers (ward, age band, sex, household size) measured
     and brought to at least ``k`` (default 10): generalise step by step while more than
     ``max_loss`` of the records would be lost, then local suppression (a value set to
     不詳), then remove the records still in classes smaller than k.  Everything done,
     and the loss, is written in the manifest.

  Publications are numbered (S0001, S0002 …), written to a temporary folder and renamed
  into place, and never rewritten: a newer one never replaces the one an analyst has
  open.  :func:`withdraw` marks one withdrawn and deletes its microdata.

* **Tables** (:func:`table`, permission ``stats.read``): the analyst's call through the
  session, which opens the publication with :mod:`workbench.statistics.mart` (no key involved),
  releases the table there (suppression, release ledger, optional ε) and audits it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.core import places
from workbench.core.clock import JST
from workbench.core.errors import InvalidInput
from workbench.core.permissions import Permission
from workbench.core.workspace import Unit, Workspace, service
from workbench.statistics.mart import MANIFEST, MICRODATA, PUBLICATION_ID, WITHDRAWN, Mart, PublicationInfo, StatTable

#: Audited operation names keep this module's name before the 2026-12 move into packages, so the
#: seven-year audit log and its words stay one vocabulary (see ``workspace.service``).
SERVICE_PREFIX = "stats"

__all__ = [
    "PublicationSummary",
    "publications",
    "publish",
    "stats_root",
    "table",
    "withdraw",
]

FORMAT = "workbench-stats-publication/1"
WARD_NAMES: dict[str, str] = places.names()  # the real 全国地方公共団体コード of Tokyo's wards and cities
QUASI_IDENTIFIERS = ("ward", "age_band", "sex", "household_size")
UNKNOWN = "不詳"
OTHER_WARD = "その他の区市町村"

#: Items held in the identified store that never reach a publication.
REMOVED = ("individual_number", "integrated_number", "person_id", "household_id", "name", "kana", "address",
           "phone", "birth_date", "request_id", "number_index")

RULES: list[dict[str, str]] = [
    {"ja": "個人番号・統合宛名番号・宛名番号・世帯番号・氏名・カナ・住所・電話番号・生年月日・連携用の符号を削除",
     "en": "removed Individual Number, integrated number, internal person and household numbers, name, kana, "
           "address, phone, exact birth date and every linking code"},
    {"ja": "レコードの並びを無作為化", "en": "row order randomised"},
    {"ja": "年齢は5歳階級（90歳以上は一括）", "en": "age in 5-year bands, 90+ top-coded"},
    {"ja": "世帯人員は7人以上を一括", "en": "household size top-coded at 7+"},
    {"ja": "所得は階級、金額は10万円単位に丸め1,000万円以上を一括", "en": "income in bands; amount rounded to ¥100,000, top-coded at ¥10,000,000"},
    {"ja": "住所は区市町村まで", "en": "address reduced to ward/city"},
    {"ja": "度数が k 未満の区分は隣接区分または「その他」に統合", "en": "categories with fewer than k people merged into a neighbour or 'other'"},
    {"ja": "準識別子（区市町村・年齢階級・性別・世帯人員）で k-匿名性を確認し、満たさない場合は一般化・局所秘匿・レコード削除",
     "en": "k-anonymity over ward, age band, sex and household size; else generalisation, local suppression, record removal"},
]

INCOME_BANDS: list[tuple[int, int | None, str]] = [
    (0, 1, "所得なし"), (1, 1_000_000, "100万円未満"), (1_000_000, 2_000_000, "100〜200万円未満"),
    (2_000_000, 3_000_000, "200〜300万円未満"), (3_000_000, 4_000_000, "300〜400万円未満"),
    (4_000_000, 6_000_000, "400〜600万円未満"), (6_000_000, None, "600万円以上"),
]
INCOME_UNKNOWN = "不明"


def stats_root(ws: Workspace) -> Path:
    """Where publications are written and read: the ``stats_root`` setting (relative
    paths are inside the workspace)."""
    root = Path(getattr(ws.settings, "stats_root", "publications"))
    return root if root.is_absolute() else ws.path / root


# ------------------------------------------------------------------------------ bands


def _band_labels(cuts: Sequence[int], unit: str, top: str) -> Callable[[np.ndarray], np.ndarray]:
    """Values → labels of the bands starting at ``cuts`` (the last is open: "N{unit}以上")."""
    edges = np.asarray(cuts)
    labels = []
    for i, lo in enumerate(cuts):
        if i == len(cuts) - 1:
            labels.append(f"{lo}{unit}{top}")
        elif cuts[i + 1] - lo == 1:
            labels.append(f"{lo}{unit}")
        else:
            labels.append(f"{lo}〜{cuts[i + 1] - 1}{unit}")
    table = np.asarray(labels, dtype=object)

    def label(values: np.ndarray) -> np.ndarray:
        return table[np.searchsorted(edges, values, side="right") - 1]

    label.order = labels  # type: ignore[attr-defined]
    return label


#: The generalisation ladder: each step coarsens one quasi-identifier further.
AGE_STEPS = [list(range(0, 95, 5)), [*range(0, 90, 10), 90], [0, 15, 40, 65, 75]]
HOUSEHOLD_STEPS = [[1, 2, 3, 4, 5, 6, 7], [1, 2, 3, 4, 5], [1, 2, 3]]
LADDER = [("household_size", 1), ("age_band", 1), ("household_size", 2), ("age_band", 2), ("ward", 1)]


@dataclass
class _Levels:
    age: int = 0
    household: int = 0
    ward: int = 0

    def describe(self) -> list[str]:
        out = []
        if self.age:
            out.append(["age_band: 5-year", "age_band: 10-year bands", "age_band: 0-14/15-39/40-64/65-74/75+"][self.age])
        if self.household:
            out.append(["", "household_size: 5+", "household_size: 3+"][self.household])
        if self.ward:
            out.append("ward: region (区部/市部)")
        return out


def _ward_labels(codes: np.ndarray, level: int) -> tuple[np.ndarray, list[str]]:
    if level == 0:
        names = pd.Series(codes, dtype=object).map(WARD_NAMES).fillna(OTHER_WARD).to_numpy(dtype=object)
        order = [*WARD_NAMES.values(), OTHER_WARD]
    else:
        names = np.where(np.char.startswith(codes.astype(str), "131"), "区部", "市部").astype(object)
        order = ["区部", "市部"]
    return names, order


def _recode_rare(labels: np.ndarray, order: list[str], k: int, *, nominal: bool, other: str) -> tuple[np.ndarray, dict[str, str]]:
    """Merge categories with fewer than ``k`` people: nominal ones into ``other``, ordinal
    ones into their smaller neighbour (the merged band is named "a〜b")."""
    labels = labels.copy()
    mapping: dict[str, str] = {}
    counts = pd.Series(labels).value_counts()
    if nominal:
        for cat in order:
            if 0 < counts.get(cat, 0) < k and cat != other:
                mapping[cat] = other
        if mapping:
            labels = _relabel(labels, mapping)
        # "other" itself still rare: leave it to k-anonymity's local suppression
        return labels, mapping
    present = [c for c in order if counts.get(c, 0) > 0]
    sizes = [int(counts.get(c, 0)) for c in present]
    groups = [[c] for c in present]
    while len(groups) > 1 and min(sizes) < k:
        i = int(np.argmin(sizes))
        j = i - 1 if i == len(groups) - 1 else i + 1 if i == 0 else (i - 1 if sizes[i - 1] <= sizes[i + 1] else i + 1)
        a, b = sorted((i, j))
        groups[a] += groups[b]
        sizes[a] += sizes[b]
        del groups[b], sizes[b]
    for g in groups:
        if len(g) > 1:
            merged = _merge_label(g[0], g[-1])
            for c in g:
                mapping[c] = merged
    if mapping:
        labels = _relabel(labels, mapping)
    return labels, mapping


def _relabel(labels: np.ndarray, mapping: dict[str, str]) -> np.ndarray:
    series = pd.Series(labels, dtype=object)
    out: np.ndarray = series.map(mapping).fillna(series).to_numpy(dtype=object)
    return out


def _merge_label(first: str, last: str) -> str:
    """"85〜89歳" + "90歳以上" → "85歳以上"; "1人" + "2人" → "1〜2人"."""
    low = first.split("〜")[0]
    unit = "".join(ch for ch in first if not (ch.isdigit() or ch == "〜"))
    unit = unit.replace("以上", "").replace("未満", "")
    low_num = "".join(ch for ch in low if ch.isdigit())
    if last.endswith("以上"):
        return f"{low_num}{unit}以上"
    high = last.split("〜")[-1]
    return f"{low_num}〜{high}"


# ------------------------------------------------------------------------------ the source


_SOURCE = """
WITH members AS (
    SELECT household_id, count(*) AS size FROM persons WHERE listed AND NOT deceased GROUP BY household_id
), income AS (
    SELECT person_id, arg_max(taxable_income, imported_at) AS income
    FROM info_results WHERE taxable_income IS NOT NULL GROUP BY person_id
)
SELECT h.ward_code, p.sex,
       (year(?::DATE) - year(p.birth_date))
         - CASE WHEN strftime(?::DATE, '%m%d') < strftime(p.birth_date, '%m%d') THEN 1 ELSE 0 END AS age,
       m.size AS household_size, i.income, n.person_id IS NOT NULL AS number_registered
FROM persons p
JOIN households h USING (household_id)
JOIN members m USING (household_id)
LEFT JOIN income i USING (person_id)
LEFT JOIN person_numbers n USING (person_id)
WHERE p.listed AND NOT p.deceased
"""


def _source_counts(unit: Unit) -> dict[str, int]:
    row = unit.con.execute(
        "SELECT count(*), count(*) FILTER (WHERE listed AND NOT deceased), count(*) FILTER (WHERE deceased),"
        " count(*) FILTER (WHERE NOT listed) FROM persons"
    ).fetchone()
    assert row is not None
    return {"persons_held": int(row[0]), "listed_living": int(row[1]), "excluded_deceased": int(row[2]),
            "excluded_unlisted": int(row[3])}


# ------------------------------------------------------------------------------ de-identification


@dataclass
class Deidentified:
    frame: pd.DataFrame
    variables: dict[str, dict[str, Any]]
    k_report: dict[str, Any]


def deidentify(src: pd.DataFrame, *, k: int, max_loss: float, seed: int | None = None) -> Deidentified:
    """APPI rule 34 processing of the source rows (ward_code, sex, age, household_size,
    income, number_registered) into released microdata with k-anonymity ≥ ``k``."""
    n = len(src)
    ward_codes = src["ward_code"].astype(str).str.slice(0, 5).to_numpy(dtype=object)
    age = np.clip(src["age"].to_numpy(dtype=np.int64), 0, None)
    hh = np.clip(src["household_size"].to_numpy(dtype=np.int64), 1, None)
    sex = np.where(src["sex"].astype(str).to_numpy() == "1", "男",
                   np.where(src["sex"].astype(str).to_numpy() == "2", "女", UNKNOWN)).astype(object)
    levels = _Levels()
    recoded: dict[str, dict[str, str]] = {}

    def build() -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
        ward, ward_order = _ward_labels(ward_codes, levels.ward)
        age_fn = _band_labels(AGE_STEPS[levels.age], "歳", "以上")
        hh_fn = _band_labels(HOUSEHOLD_STEPS[levels.household], "人", "以上")
        cols = {"ward": ward, "age_band": age_fn(age), "sex": sex.copy(), "household_size": hh_fn(hh)}
        orders = {"ward": ward_order, "age_band": list(age_fn.order), "sex": ["男", "女", UNKNOWN],  # type: ignore[attr-defined]
                  "household_size": list(hh_fn.order)}  # type: ignore[attr-defined]
        recoded.clear()
        for name in QUASI_IDENTIFIERS:
            nominal = name in ("ward", "sex")
            cols[name], mapping = _recode_rare(cols[name], orders[name], k, nominal=nominal,
                                               other=OTHER_WARD if name == "ward" else UNKNOWN)
            if mapping:
                recoded[name] = mapping
                merged = []
                for c in orders[name]:
                    m = mapping.get(c, c)
                    if m not in merged:
                        merged.append(m)
                orders[name] = merged
        return cols, orders

    def class_sizes(cols: dict[str, np.ndarray]) -> np.ndarray:
        """The size of each record's equivalence class over the quasi-identifiers."""
        key = np.zeros(n, dtype=np.int64)
        for q in QUASI_IDENTIFIERS:
            codes, uniques = pd.factorize(cols[q])
            key = key * (len(uniques) + 1) + codes
        _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
        return counts[inverse]

    def finish(cols: dict[str, np.ndarray], orders: dict[str, list[str]]) -> tuple[dict[str, int], np.ndarray]:
        """Local suppression (household size, then age band set to 不詳 in classes below k),
        then the records still in classes below k are removed."""
        local: dict[str, int] = {}
        for var in ("household_size", "age_band"):
            small = class_sizes(cols) < k if n else np.zeros(0, dtype=bool)
            if small.any():
                cols[var] = np.where(small, UNKNOWN, cols[var]).astype(object)
                local[var] = int(small.sum())
                if UNKNOWN not in orders[var]:
                    orders[var].append(UNKNOWN)
        keep = class_sizes(cols) >= k if n else np.zeros(0, dtype=bool)
        return local, keep

    # Generalise one step at a time until local suppression touches at most 4 × max_loss
    # of the records and record removal at most max_loss: detail is kept where it can be.
    steps = list(LADDER)
    while True:
        cols, orders = build()
        local, keep = finish(cols, orders)
        touched = max(local.values(), default=0)
        removed = int((~keep).sum())
        if not n or not steps or (removed <= max_loss * n and touched <= 4 * max_loss * n):
            break
        var, level = steps.pop(0)
        if var == "age_band":
            levels.age = level
        elif var == "household_size":
            levels.household = level
        else:
            levels.ward = level

    income = src["income"].to_numpy(dtype=np.float64, na_value=np.nan)
    known = ~np.isnan(income)
    band = np.full(n, INCOME_UNKNOWN, dtype=object)
    for lo, hi, label in INCOME_BANDS:
        sel = known & (income >= lo) & ((income < hi) if hi is not None else True)
        band[sel] = label
    income_orders = [b[2] for b in INCOME_BANDS] + [INCOME_UNKNOWN]
    band, income_map = _recode_rare(band, income_orders, k, nominal=False, other=INCOME_UNKNOWN)
    if income_map:
        recoded["income_band"] = income_map
        income_orders = list(dict.fromkeys(income_map.get(c, c) for c in income_orders))
    rounded = np.where(known, np.minimum(np.round(np.clip(income, 0, None) / 100_000) * 100_000, 10_000_000), np.nan)
    registered = np.where(src["number_registered"].to_numpy(dtype=bool), "登録済", "未登録").astype(object)

    frame = pd.DataFrame({
        "ward": cols["ward"], "age_band": cols["age_band"], "sex": cols["sex"],
        "household_size": cols["household_size"], "income_band": band, "income": rounded,
        "number_registered": registered,
    })[keep]
    rng = np.random.default_rng(seed if seed is not None else secrets.randbits(64))
    frame = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    for col in frame.columns:
        if col != "income":
            frame[col] = frame[col].astype(str)
    frame["income"] = frame["income"].astype("Int64")
    orders["income_band"] = income_orders
    orders["number_registered"] = ["登録済", "未登録"]
    labels = {"ward": ("区市町村", "ward / city"), "age_band": ("年齢階級", "age band"), "sex": ("男女", "sex"),
              "household_size": ("世帯人員", "household size"), "income_band": ("所得階級", "income band"),
              "number_registered": ("個人番号の登録", "Individual Number registered")}
    variables = {}
    for name, (ja, en) in labels.items():
        present = set(frame[name].unique()) if len(frame) else set()
        variables[name] = {"label_ja": ja, "label_en": en, "quasi_identifier": name in QUASI_IDENTIFIERS,
                           "categories": [c for c in orders[name] if c in present] or list(orders[name])}
    achieved = int(pd.DataFrame({q: frame[q] for q in QUASI_IDENTIFIERS}).value_counts().min()) if len(frame) else None
    report = {
        "required": k, "achieved": achieved, "quasi_identifiers": list(QUASI_IDENTIFIERS),
        "max_loss": max_loss, "generalisation": levels.describe(), "recoded": recoded,
        "locally_suppressed": local, "records_removed": removed,
        "records_in": n, "records_out": len(frame),
        "loss_ratio": round(removed / n, 6) if n else 0.0,
    }
    return Deidentified(frame, variables, report)


# ------------------------------------------------------------------------------ services


@dataclass
class PublicationSummary:
    publication_id: str
    folder: str
    records: int
    k_required: int
    k_achieved: int | None
    records_removed: int
    generalisation: list[str]
    message_ja: str = ""
    message_en: str = ""
    manifest: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _activity(unit: Unit, min_count: int) -> pd.DataFrame:
    """Registrations, queries sent and answers received by month (counts below
    ``min_count`` suppressed): the progress chart's data, no person in it."""
    frame = unit.con.execute(
        """SELECT month, kind, count(*)::BIGINT AS n FROM (
               SELECT strftime(registered_at AT TIME ZONE 'Asia/Tokyo', '%Y-%m') AS month, 'registered' AS kind FROM person_numbers
               UNION ALL SELECT strftime(requested_at AT TIME ZONE 'Asia/Tokyo', '%Y-%m'), 'queried' FROM query_requests
               UNION ALL SELECT strftime(answered_at AT TIME ZONE 'Asia/Tokyo', '%Y-%m'), 'answered' FROM query_requests
                         WHERE answered_at IS NOT NULL
           ) GROUP BY ALL ORDER BY month, kind"""
    ).df()
    frame["n"] = frame["n"].astype("Int64").where(frame["n"] >= min_count, pd.NA)
    return frame


@service(Permission.STATS_PUBLISH)
def publish(unit: Unit, *, k: int = 10, max_loss: float = 0.05, epsilon_budget: float = 1.0,
            as_of: dt.date | None = None) -> PublicationSummary:
    """F8: build the next numbered publication from the identified store (APPI rule 34)."""
    if not isinstance(k, int) or isinstance(k, bool) or k < 2:
        raise InvalidInput("k must be a whole number of at least 2.", "k は 2 以上の整数で指定してください。", reason="bad_k")
    if not 0 <= max_loss <= 0.5:
        raise InvalidInput("max_loss must be between 0 and 0.5.", "max_loss は 0 以上 0.5 以下で指定してください。",
                           reason="bad_max_loss")
    if not (isinstance(epsilon_budget, (int, float)) and 0 <= epsilon_budget <= 100):
        raise InvalidInput("The ε budget must be between 0 and 100.", "ε の予算は 0 以上 100 以下で指定してください。",
                           reason="bad_epsilon")
    day = as_of or unit.now.astimezone(JST).date()
    src = unit.con.execute(_SOURCE, [day, day]).df()
    source_counts = _source_counts(unit)
    result = deidentify(src, k=k, max_loss=max_loss)
    root = stats_root(unit.workspace)
    root.mkdir(parents=True, exist_ok=True)
    existing = [p.name for p in root.iterdir() if PUBLICATION_ID.match(p.name)]
    number = max((int(p[1:]) for p in existing), default=0) + 1
    row = unit.con.execute("SELECT max(seq) FROM stats_publications").fetchone()
    number = max(number, int(row[0] or 0) + 1) if row else number
    pub_id = f"S{number:04d}"
    tmp = root / f".tmp-{pub_id}-{secrets.token_hex(4)}"
    tmp.mkdir()
    try:
        result.frame.to_parquet(tmp / MICRODATA, index=False)
        _activity(unit, 3).to_parquet(tmp / "activity.parquet", index=False)
        manifest: dict[str, Any] = {
            "format": FORMAT, "publication_id": pub_id,
            "published_at": unit.now.isoformat(), "published_by": unit.user_id, "as_of": day.isoformat(),
            "records": len(result.frame), "source": source_counts,
            "rules": RULES, "removed_items": list(REMOVED),
            "k_anonymity": result.k_report, "variables": result.variables, "values": ["income"],
            "epsilon_budget": float(epsilon_budget),
            "files": {name: _sha256(tmp / name) for name in (MICRODATA, "activity.parquet")},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", "utf-8")
        (tmp / "ledger").mkdir()
        target = root / pub_id
        if target.exists():
            raise InvalidInput(f"Publication {pub_id} already exists.", f"公表データ {pub_id} はすでにあります。")
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    rep = result.k_report
    unit.con.execute(
        "INSERT INTO stats_publications VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'published', ?, ?, NULL, NULL, NULL)",
        [pub_id, number, day, k, rep["achieved"], len(result.frame), rep["records_removed"], str(target),
         manifest["files"][MICRODATA], unit.now, unit.user_id],
    )
    unit.note(target=pub_id, records=len(result.frame), k=k, k_achieved=rep["achieved"],
              records_removed=rep["records_removed"])
    return PublicationSummary(
        pub_id, str(target), len(result.frame), k, rep["achieved"], rep["records_removed"], rep["generalisation"],
        message_ja=f"公表データ {pub_id} を作成しました: {len(result.frame):,} 人、k={rep['achieved']}（必要 {k}）、"
                   f"削除 {rep['records_removed']:,} 件。",
        message_en=f"Published {pub_id}: {len(result.frame):,} people, k={rep['achieved']} (required {k}), "
                   f"{rep['records_removed']:,} records removed.",
        manifest=manifest,
    )


@service(Permission.STATS_PUBLISH, target="publication_id")
def withdraw(unit: Unit, publication_id: str, *, reason: str) -> PublicationInfo:
    """Withdraw a publication: no more tables from it; its microdata is deleted, its
    manifest and release ledger are kept as the record."""
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("Give the reason for the withdrawal.", "取り下げの理由を入力してください。", reason="no_reason")
    mart = Mart(stats_root(unit.workspace))
    pub = mart.open(publication_id)
    if pub.withdrawn:
        raise InvalidInput(f"Publication {publication_id} is already withdrawn.",
                           f"公表データ {publication_id} はすでに取り下げ済みです。", reason="withdrawn")
    (pub.folder / WITHDRAWN).write_text(json.dumps(
        {"withdrawn_at": unit.now.isoformat(), "withdrawn_by": unit.user_id, "reason": reason.strip()},
        ensure_ascii=False) + "\n", "utf-8")
    (pub.folder / MICRODATA).unlink(missing_ok=True)
    unit.con.execute(
        "UPDATE stats_publications SET status = 'withdrawn', withdrawn_at = ?, withdrawn_by = ?, withdraw_reason = ?"
        " WHERE publication_id = ?", [unit.now, unit.user_id, reason.strip(), publication_id])
    unit.note(target=publication_id)
    return next(p for p in mart.publications() if p.publication_id == publication_id)


@service(Permission.STATS_READ)
def publications(unit: Unit) -> list[PublicationInfo]:
    """F8: the publications in the mart, oldest first, with their status."""
    out = Mart(stats_root(unit.workspace)).publications()
    unit.note(count=len(out))
    return out


@service(Permission.STATS_READ, target="publication_id")
def table(unit: Unit, publication_id: str, rows: str, cols: str | None = None, layers: str | None = None, *,
          value: str | None = None, min_count: int = 3, epsilon: float | None = None,
          merge: Mapping[str, Mapping[str, Sequence[str]]] | None = None) -> StatTable:
    """F8: release one table from a publication (suppressed, checked against earlier
    releases, recorded in the publication's ledger)."""
    pub = Mart(stats_root(unit.workspace)).open(publication_id)
    result = pub.table(rows, cols, layers, value=value, min_count=min_count, epsilon=epsilon, merge=merge,
                       released_by=unit.user_id, now=unit.now)
    unit.note(target=publication_id, release_id=result.release_id, dims=",".join(result.dims),
              measure=result.measure, min_count=min_count, epsilon=epsilon, **result.counts())
    return result


@service(Permission.STATS_READ, target="publication_id")
def chart_data(unit: Unit, publication_id: str, *, min_count: int = 3) -> dict[str, pd.DataFrame]:
    """F8: the counts behind the analyst's charts, from one publication, counts below
    ``min_count`` blanked (for viewing on screen; a table to publish goes through :func:`table`).

    ``age_sex`` (age band × sex), ``ward_income`` (ward × income band), ``household``
    (household size), ``ward`` (people by ward, in code order), ``activity`` (registrations and
    queries by month)."""
    pub = Mart(stats_root(unit.workspace)).open(publication_id)
    frame = pub.frame()

    def counts(cols: list[str]) -> pd.DataFrame:
        out = frame.groupby(cols, observed=True).size().rename("n").reset_index()
        for col in cols:
            order = pub.categories(col)
            out[col] = pd.Categorical(out[col], categories=order, ordered=True)
        out = out.sort_values(cols, ignore_index=True)
        out["n"] = out["n"].astype("Int64").where(out["n"] >= min_count, pd.NA)
        return out

    activity_path = pub.folder / "activity.parquet"
    result = {
        "age_sex": counts(["age_band", "sex"]),
        "ward_income": counts(["ward", "income_band"]),
        "household": counts(["household_size"]),
        "ward": counts(["ward"]),
        "activity": pd.read_parquet(activity_path) if activity_path.exists() else pd.DataFrame(columns=["month", "kind", "n"]),
    }
    unit.note(target=publication_id)
    return result
