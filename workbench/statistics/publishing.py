"""F8 statistics: the statistics service (統計分析) — analysts get tables, never rows.

DESIGN §9 (revised), issue 21.  Two sides, both services on the ordinary session path:

* **Publication** (:func:`publish`, permission ``stats.publish``, staff): reads the identified
  store (only people on the list, alive and not suspended: ``persons.active_filter``) and
  keeps the next numbered **de-identified source** *inside the encrypted store*
  (``stats_source``), processed as APPI rule 34 asks: identifiers and linking codes removed,
  quasi-identifiers generalised (5-year age bands with 90+ top-coded, household size 7+, ward/
  city only, income in bands and rounded), rare categories merged, k-anonymity over ward, age
  band, sex and household size brought to at least ``k``.  Each person's fixed **record key**
  (``stats_record_keys``, drawn once) is copied beside the row.  No file is written.

* **Tables** (:func:`table`, :func:`chart`, :func:`export`, permission ``stats.read``, the
  analyst): counts, sums, means and quantile bands over any released dimensions and filters,
  built on the server (:mod:`workbench.statistics.tables`) from the people *still* in the
  publication (suspended, deleted and deceased people leave every later release), perturbed
  by the cell-key method and suppressed where the office wants "x"; or differentially private
  counts that spend the analyst's ε budget for the fiscal year.  Every release is recorded in
  ``stats_releases`` with the session's user (never a caller's word) and audited; the ledger
  keeps the request and counts of cells, never a value.

The screen (``widgets.stats``), the notebook client (:class:`workbench.statistics.client.Statistics`)
and the CLI all call these services.

>>> from workbench.statistics import publishing
>>> t = publishing.table(session, "S0001", "ward", "age_group", "sex")          # doctest: +SKIP
>>> t.to_frame().head()                                                           # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench.core import approvals, labels, places
from workbench.core.clock import JST
from workbench.core.errors import InvalidInput, NotFound
from workbench.core.permissions import Permission
from workbench.core.workspace import Unit, service
from workbench.intake.persons import active_filter, not_suspended
from workbench.statistics import perturbation as ck
from workbench.statistics import tables
from workbench.statistics.tables import BASES, StatTable, TableSpec

#: Audited operation names keep this module's name before the 2026-12 move into packages, so the
#: seven-year audit log and its words stay one vocabulary (see ``workspace.service``).
SERVICE_PREFIX = "stats"

__all__ = [
    "PublicationInfo",
    "PublicationSummary",
    "budget",
    "chart",
    "dp_preview",
    "export",
    "publications",
    "publish",
    "releases",
    "request_budget_restore",
    "restore_budget",
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


_SOURCE = f"""
WITH members AS (
    SELECT household_id, count(*) AS size FROM persons p WHERE {active_filter("p")} GROUP BY household_id
), income AS (
    SELECT person_id, arg_max(taxable_income, imported_at) AS income
    FROM info_results WHERE taxable_income IS NOT NULL GROUP BY person_id
)
SELECT p.person_id, h.ward_code, p.sex,
       (year(?::DATE) - year(p.birth_date))
         - CASE WHEN strftime(?::DATE, '%m%d') < strftime(p.birth_date, '%m%d') THEN 1 ELSE 0 END AS age,
       m.size AS household_size, i.income, n.person_id IS NOT NULL AS number_registered
FROM persons p
JOIN households h USING (household_id)
JOIN members m USING (household_id)
LEFT JOIN income i USING (person_id)
LEFT JOIN person_numbers n USING (person_id)
WHERE {active_filter("p")}
"""


def _source_counts(unit: Unit) -> dict[str, int]:
    row = unit.con.execute(
        "SELECT count(*), count(*) FILTER (WHERE listed AND NOT deceased), count(*) FILTER (WHERE deceased),"
        " count(*) FILTER (WHERE NOT listed) FROM persons"
    ).fetchone()
    assert row is not None
    suspended = unit.con.execute(
        f"SELECT count(*) FROM persons p WHERE p.listed AND NOT p.deceased AND NOT {not_suspended('p')}").fetchone()
    return {"persons_held": int(row[0]), "listed_living": int(row[1]), "excluded_deceased": int(row[2]),
            "excluded_unlisted": int(row[3]), "excluded_suspended": int(suspended[0]) if suspended else 0}


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
        "person_id": src["person_id"].astype(str).to_numpy(dtype=object) if "person_id" in src else np.arange(n).astype(str),
        "ward": cols["ward"], "age_band": cols["age_band"], "sex": cols["sex"],
        "household_size": cols["household_size"], "income_band": band, "income": rounded,
        "number_registered": registered,
    })[keep]
    rng = np.random.default_rng(seed if seed is not None else secrets.randbits(64))
    frame = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    for col in frame.columns:
        if col not in ("income", "person_id"):
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

PUBLICATION_ID = "S"
#: Release kinds in the ledger (their words are in workbench.core.labels).
KINDS = ("stats_table", "stats_chart", "stats_export", "stats_dp")
labels.register("stats_release", {
    "stats_table": ("集計表", "table"), "stats_chart": ("グラフ", "chart"), "stats_export": ("ファイル出力", "export"),
    "stats_dp": ("差分プライバシー集計", "differentially private table"),
})
#: Default ε of each analyst for one fiscal year (workspace setting ``stats_epsilon_budget``).
DEFAULT_EPSILON = 1.0
RESTORE_KIND = "stats_budget_restore"
approvals.register_kind(RESTORE_KIND, "ε予算の回復", "ε budget restore")


@dataclass
class PublicationSummary:
    publication_id: str
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


@dataclass(frozen=True)
class PublicationInfo:
    publication_id: str
    published_at: str
    status: str
    persons: int
    k_required: int
    k_achieved: int | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _activity(unit: Unit, min_count: int) -> pd.DataFrame:
    """Registrations, queries sent and answers received by month, of people still in use,
    perturbed by their record keys and blanked below ``min_count``: the progress chart."""
    frame = unit.con.execute(
        f"""SELECT month, kind, count(*)::BIGINT AS n, sum(coalesce(k.record_key, 0))::BIGINT AS keys FROM (
               SELECT person_id, strftime(registered_at AT TIME ZONE 'Asia/Tokyo', '%Y-%m') AS month,
                      'registered' AS kind FROM person_numbers
               UNION ALL SELECT person_id, strftime(requested_at AT TIME ZONE 'Asia/Tokyo', '%Y-%m'), 'queried'
                         FROM query_requests
               UNION ALL SELECT person_id, strftime(answered_at AT TIME ZONE 'Asia/Tokyo', '%Y-%m'), 'answered'
                         FROM query_requests WHERE answered_at IS NOT NULL
           ) e JOIN persons p USING (person_id) LEFT JOIN stats_record_keys k USING (person_id)
           WHERE {active_filter("p")} GROUP BY ALL ORDER BY month, kind"""
    ).df()
    n = ck.perturb_counts(frame["n"].to_numpy(dtype=np.int64), frame["keys"].to_numpy(dtype=np.int64))
    frame["n"] = pd.Series(n, dtype="Int64").where(n >= min_count, pd.NA)
    return frame[["month", "kind", "n"]]


def _check_publish_params(k: Any, max_loss: Any) -> None:
    if not isinstance(k, int) or isinstance(k, bool) or k < 2:
        raise InvalidInput("k must be a whole number of at least 2.", "k は 2 以上の整数で指定してください。", reason="bad_k")
    if not isinstance(max_loss, (int, float)) or isinstance(max_loss, bool) or not 0 <= max_loss <= 0.5:
        raise InvalidInput("max_loss must be between 0 and 0.5.", "max_loss は 0 以上 0.5 以下で指定してください。",
                           reason="bad_max_loss")


@service(Permission.STATS_PUBLISH)
def publish(unit: Unit, *, k: int = 10, max_loss: float = 0.05, as_of: dt.date | None = None) -> PublicationSummary:
    """F8: keep the next numbered de-identified source in the encrypted store (APPI rule 34).

    People suspended (利用停止), deceased or off the list are not in it; people who are later
    are left out of every table made from it afterwards."""
    _check_publish_params(k, max_loss)
    day = as_of or unit.now.astimezone(JST).date()
    src = unit.con.execute(_SOURCE, [day, day]).df()
    source_counts = _source_counts(unit)
    result = deidentify(src, k=k, max_loss=max_loss)
    row = unit.con.execute("SELECT coalesce(max(seq), 0) FROM stats_publications").fetchone()
    number = int(row[0] if row else 0) + 1
    pub_id = f"S{number:04d}"
    frame = result.frame
    # every person's record key, drawn once and never changed
    unit.con.register("_pub_people", pd.DataFrame({"person_id": frame["person_id"].astype(str)}))
    missing = [r[0] for r in unit.con.execute(
        "SELECT person_id FROM _pub_people WHERE person_id NOT IN (SELECT person_id FROM stats_record_keys)").fetchall()]
    unit.con.unregister("_pub_people")
    if missing:
        keys = pd.DataFrame({"person_id": missing, "record_key": ck.record_keys(len(missing)).astype(np.int32)})
        unit.con.register("_new_keys", keys)
        unit.con.execute("INSERT INTO stats_record_keys SELECT person_id, record_key, ? FROM _new_keys", [unit.now])
        unit.con.unregister("_new_keys")
    categories = {name: list(result.variables[name]["categories"]) for name in BASES}
    stored = pd.DataFrame({"publication_id": pub_id, "person_id": frame["person_id"].astype(str)})
    for name in BASES:
        stored[name] = pd.Index(categories[name]).get_indexer(frame[name]).astype(np.int16)
    stored["income"] = frame["income"].astype("Int64")
    unit.con.register("_src", stored)
    unit.con.execute(
        "INSERT INTO stats_source SELECT s.publication_id, s.person_id, k.record_key, s.ward, s.age_band, s.sex,"
        " s.household_size, s.income_band, s.number_registered, s.income"
        " FROM _src s JOIN stats_record_keys k USING (person_id)")
    unit.con.unregister("_src")
    manifest: dict[str, Any] = {
        "format": FORMAT, "publication_id": pub_id, "published_at": unit.now.isoformat(), "as_of": day.isoformat(),
        "records": len(frame), "source": source_counts, "rules": RULES, "removed_items": list(REMOVED),
        "k_anonymity": result.k_report, "variables": result.variables, "categories": categories,
    }
    rep = result.k_report
    unit.con.execute(
        "INSERT INTO stats_publications (publication_id, seq, as_of, k_required, k_achieved, records, records_removed,"
        " folder, digest, status, published_at, published_by, manifest, secret)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, '', ?, 'published', ?, ?, ?, ?)",
        [pub_id, number, day, k, rep["achieved"], len(frame), rep["records_removed"],
         hashlib.sha256(json.dumps(categories, ensure_ascii=False).encode()).hexdigest(), unit.now, unit.user_id,
         json.dumps(manifest, ensure_ascii=False), secrets.token_bytes(32)],
    )
    unit.note(target=pub_id, records=len(frame), k=k, k_achieved=rep["achieved"], records_removed=rep["records_removed"])
    return PublicationSummary(
        pub_id, len(frame), k, rep["achieved"], rep["records_removed"], rep["generalisation"],
        message_ja=f"公表データ {pub_id} を作成しました: {len(frame):,} 人、k={rep['achieved']}（必要 {k}）、"
                   f"削除 {rep['records_removed']:,} 件。",
        message_en=f"Published {pub_id}: {len(frame):,} people, k={rep['achieved']} (required {k}), "
                   f"{rep['records_removed']:,} records removed.",
        manifest=manifest,
    )


def _publication(unit: Unit, publication_id: str) -> tuple[dict[str, Any], bytes]:
    """A live publication's manifest and secret, or a refusal in both languages."""
    row = None
    if isinstance(publication_id, str) and publication_id[:1] == PUBLICATION_ID and publication_id[1:].isdigit():
        row = unit.con.execute("SELECT status, manifest, secret FROM stats_publications WHERE publication_id = ?",
                               [publication_id]).fetchone()
    if row is None or row[1] is None:
        raise NotFound(f"There is no publication {publication_id!r}.", f"公表データ {publication_id!r} はありません。",
                       reason="no_publication")
    if row[0] != "published":
        raise InvalidInput(
            f"Publication {publication_id} was withdrawn; it can no longer be used. Open a newer one.",
            f"公表データ {publication_id} は取り下げられたため利用できません。新しい公表データを開いてください。",
            reason="withdrawn")
    return json.loads(row[1]), bytes(row[2])


@service(Permission.STATS_PUBLISH, target="publication_id")
def withdraw(unit: Unit, publication_id: str, *, reason: str) -> PublicationInfo:
    """Withdraw a publication: no more tables from it; its de-identified source is deleted, its
    manifest and release ledger are kept as the record."""
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("Give the reason for the withdrawal.", "取り下げの理由を入力してください。", reason="no_reason")
    _publication(unit, publication_id)
    unit.con.execute("DELETE FROM stats_source WHERE publication_id = ?", [publication_id])
    unit.con.execute(
        "UPDATE stats_publications SET status = 'withdrawn', withdrawn_at = ?, withdrawn_by = ?, withdraw_reason = ?"
        " WHERE publication_id = ?", [unit.now, unit.user_id, reason.strip(), publication_id])
    unit.note(target=publication_id)
    return next(p for p in _publications(unit) if p.publication_id == publication_id)


def _publications(unit: Unit) -> list[PublicationInfo]:
    rows = unit.con.execute(
        "SELECT publication_id, published_at, status, records, k_required, k_achieved FROM stats_publications"
        " WHERE manifest IS NOT NULL ORDER BY seq").fetchall()
    return [PublicationInfo(r[0], r[1].isoformat(), r[2], int(r[3]), int(r[4]), r[5]) for r in rows]


@service(Permission.STATS_READ)
def publications(unit: Unit) -> list[PublicationInfo]:
    """F8: the publications, oldest first, with their status."""
    out = _publications(unit)
    unit.note(count=len(out))
    return out


@service(Permission.STATS_READ, target="publication_id")
def describe(unit: Unit, publication_id: str) -> dict[str, Any]:
    """What a publication is: its rules, k, generalisation, variables and categories, counts
    of people — no row and no cell."""
    manifest, _secret = _publication(unit, publication_id)
    unit.note(target=publication_id)
    return manifest


# -- the records a table is built from ------------------------------------------------


def _version(unit: Unit, publication_id: str, secret: bytes) -> tuple[int, np.ndarray, list[str]]:
    """The version of the publication's population now (a new one each time someone in it
    has left — suspended, deleted, deceased, off the list — or come back), its key permutation,
    and the people of the publication who have left it."""
    # Set-based and cheap at 1,000,000 people: the people no longer active (usually few; the
    # negation of persons.active_filter — off the list, deceased or suspended) first, and only if
    # there are any, which of them are in this source (a scan of its person_id column) — not the
    # whole source joined with persons.  A deleted person's source rows are purged with him
    # (lifecycle.deletion), which changes the count.
    total = unit.con.execute("SELECT count(*) FROM stats_source WHERE publication_id = ?", [publication_id]).fetchone()
    inactive = "SELECT person_id FROM persons WHERE NOT listed OR deceased UNION SELECT person_id FROM suspended_persons"
    any_inactive = unit.con.execute(f"SELECT EXISTS ({inactive})").fetchone()
    left: list[str] = []
    if any_inactive and any_inactive[0]:
        row = unit.con.execute(
            "SELECT list(person_id ORDER BY person_id) FROM stats_source WHERE publication_id = ?"
            f" AND person_id IN ({inactive})", [publication_id]).fetchone()
        left = [str(x) for x in ((row[0] if row else None) or [])]
    assert total is not None
    digest = hashlib.sha256(f"{total[0]}:{','.join(left)}".encode()).hexdigest()
    found = unit.con.execute("SELECT version FROM stats_versions WHERE publication_id = ? AND members_digest = ?",
                             [publication_id, digest]).fetchone()
    if found is None:
        nxt = unit.con.execute("SELECT coalesce(max(version), -1) + 1 FROM stats_versions WHERE publication_id = ?",
                               [publication_id]).fetchone()
        version = int(nxt[0]) if nxt else 0
        unit.con.execute("INSERT INTO stats_versions VALUES (?, ?, ?, ?)", [publication_id, version, digest, unit.now])
    else:
        version = int(found[0])
    return version, ck.permutation(secret, version), left


def _records(unit: Unit, publication_id: str, manifest: dict[str, Any], perm: np.ndarray, s: TableSpec,
             left: Sequence[str]) -> tables.Records:
    """The table's cells aggregated in the database (set-based: one row per combination of the
    categories it needs, never one per person) over the people still in the publication: how
    many, the sum of their record keys, and for sums and means the sum of incomes and the two
    largest."""
    bases = s.bases()
    if s.measure == "quantile" and "income_band" not in bases:
        bases.append("income_band")
    income = s.measure in ("sum", "mean")
    groups = ", ".join(f"s.{b}" for b in bases)
    more = (", sum(greatest(coalesce(s.income, 0), 0))::DOUBLE AS income, max(s.income, 2) AS top"
            if income else "")
    gone = " AND s.person_id NOT IN (SELECT unnest(?::VARCHAR[]))" if left else ""
    got = unit.con.execute(
        f"SELECT {groups}, count(*)::BIGINT AS n, sum(s.record_key)::BIGINT AS keys{more}"
        f" FROM stats_source s WHERE s.publication_id = ?{gone} GROUP BY ALL",
        [publication_id, list(left)] if left else [publication_id]).fetchnumpy()
    codes = {b: np.asarray(got[b], dtype=np.int64) for b in bases}
    inc = top = None
    if income:
        inc = np.asarray(got["income"], dtype=np.float64)
        top = np.zeros((len(inc), 2))
        for i, pair in enumerate(got["top"]):
            values = [float(v) for v in pair if v is not None][:2]
            top[i, :len(values)] = values
    return tables.Records(codes, np.asarray(got["keys"], dtype=np.int64), inc, manifest["categories"], perm,
                          n=np.asarray(got["n"], dtype=np.int64), top=top)


def _period(unit: Unit) -> str:
    """The budget period: the fiscal year (April–March, Japan time), e.g. "2026年度"."""
    day = unit.now.astimezone(JST).date()
    return f"{day.year if day.month >= 4 else day.year - 1}年度"


def _budget_row(unit: Unit, user_id: str) -> tuple[str, float, float]:
    period = _period(unit)
    default = float(getattr(unit.workspace.settings, "stats_epsilon_budget", DEFAULT_EPSILON))
    unit.con.execute("INSERT INTO stats_budgets VALUES (?, ?, ?, 0.0) ON CONFLICT DO NOTHING",
                     [user_id, period, default])
    row = unit.con.execute("SELECT budget, spent FROM stats_budgets WHERE user_id = ? AND period = ?",
                           [user_id, period]).fetchone()
    assert row is not None
    return period, float(row[0]), float(row[1])


def _spend(unit: Unit, epsilon: float) -> float:
    """Spend ``epsilon`` of the session user's budget in this unit of work (one transaction
    with the release and its audit record); refuse if it is not left.  Returns what is left."""
    period, total, spent = _budget_row(unit, unit.user_id)
    left = max(0.0, total - spent)
    if epsilon > left + 1e-12:
        raise InvalidInput(
            f"ε={epsilon:g} is more than is left of your budget for {period} ({left:g}).",
            f"ε={epsilon:g} は {period} のあなたの残り予算（{left:g}）を超えています。",
            reason="epsilon_exceeded", epsilon_left=left)
    unit.con.execute("UPDATE stats_budgets SET spent = spent + ? WHERE user_id = ? AND period = ?",
                     [float(epsilon), unit.user_id, period])
    return left - epsilon


def _release(unit: Unit, kind: str, publication_id: str, rows: str, cols: str | None, layers: str | None,
             extra: Sequence[str], filters: Mapping[str, Sequence[str]] | None, measure: str, min_count: int,
             quantile: float | None, epsilon: float | None) -> StatTable:
    """Build one table for the session's user, record it in the ledger, and note it for the audit."""
    manifest, secret = _publication(unit, publication_id)
    s = tables.spec(manifest["categories"], rows, cols, layers, *extra, filters=filters, measure=measure,
                    min_count=min_count, quantile=quantile, epsilon=epsilon)
    version, perm, gone = _version(unit, publication_id, secret)
    records = _records(unit, publication_id, manifest, perm, s, gone)
    row = unit.con.execute("SELECT count(*) FROM stats_releases").fetchone()
    release_id = f"T{int(row[0] if row else 0) + 1:06d}"
    kind = "stats_dp" if s.epsilon is not None else kind
    left = _spend(unit, s.epsilon) if s.epsilon is not None else None
    t = tables.build(records, s, publication_id=publication_id, release_id=release_id,
                     released_at=unit.now.isoformat(), released_by=unit.user_id)
    if left is not None:
        t.notes.append((f"ε の残り: {left:g}（{_period(unit)}）", f"ε left: {left:g} ({_period(unit)})"))
    c = t.counts()
    shown = t.digest()
    unit.con.execute(
        "INSERT INTO stats_releases VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [release_id, publication_id, version, kind, unit.now, unit.user_id,
         json.dumps(s.describe(manifest["categories"]), ensure_ascii=False), c["cells"], c["suppressed"],
         s.epsilon, shown])
    unit.note(target=publication_id, release_id=release_id, kind=kind, dims=",".join(s.dims), measure=s.measure,
              filters=",".join(b for b, _ in s.filters), min_count=s.min_count, epsilon=s.epsilon, version=version,
              **c)
    return t


@service(Permission.STATS_READ, target="publication_id")
def table(unit: Unit, publication_id: str, rows: str, cols: str | None = None, layers: str | None = None,
          *extra: str, filters: Mapping[str, Sequence[str]] | None = None, measure: str = "count",
          min_count: int = 3, quantile: float | None = None, epsilon: float | None = None) -> StatTable:
    """F8: one table from a publication, built on the server, perturbed (cell-key method),
    suppressed where the office wants "x", recorded and audited.

    ``rows``, ``cols``, ``layers`` and up to two more dimensions; ``filters`` keeps only some
    categories of any variable (``{"sex": ["女"], "age_band": ["75歳以上"]}``); ``measure`` is
    ``count``, ``sum``, ``mean`` (of income) or ``quantile`` (the income band holding
    ``quantile``, e.g. 0.5); ``min_count`` below which a count is "x" (0: perturbation only);
    ``epsilon``: differentially private counts instead, spending your ε budget."""
    return _release(unit, "stats_table", publication_id, rows, cols, layers, extra, filters, measure, min_count,
                    quantile, epsilon)


@service(Permission.STATS_READ, target="publication_id")
def export(unit: Unit, publication_id: str, rows: str, cols: str | None = None, layers: str | None = None,
           *extra: str, filters: Mapping[str, Sequence[str]] | None = None, measure: str = "count",
           min_count: int = 3, quantile: float | None = None, fmt: str = "csv") -> tuple[StatTable, bytes]:
    """F8: a table as a file (``csv``: UTF-8 with BOM; ``xlsx``), formula-neutralised, recorded
    as an export.  The same cells as :func:`table` gives for the same request."""
    if fmt not in ("csv", "xlsx"):
        raise InvalidInput("Export as csv or xlsx.", "出力形式は csv か xlsx を指定してください。", reason="bad_format")
    t = _release(unit, "stats_export", publication_id, rows, cols, layers, extra, filters, measure, min_count,
                 quantile, None)
    return t, (t.to_csv() if fmt == "csv" else t.to_xlsx())


#: The charts of the 統計分析 screen: name → (dimensions, measure).
CHARTS: dict[str, tuple[tuple[str, ...], str]] = {
    "age_sex": (("age_band", "sex"), "count"),
    "ward_income": (("ward", "income_band"), "count"),
    "ward_household_income": (("ward", "household_size", "income_band"), "count"),
    "household": (("household_size",), "count"),
    "ward": (("ward",), "count"),
}


@service(Permission.STATS_READ, target="publication_id")
def chart(unit: Unit, publication_id: str, names: Sequence[str] | None = None, *,
          filters: Mapping[str, Sequence[str]] | None = None, min_count: int = 3) -> dict[str, pd.DataFrame]:
    """F8: the numbers behind the analyst's charts (the same perturbed, suppressed cells as
    tables), each recorded as a chart release; ``activity`` is registrations and queries by month.

    Charts: ``age_sex``, ``ward_income``, ``ward_household_income``, ``household``, ``ward``,
    ``activity``.  Each frame is long: one row per cell, its categories, ``n`` (``<NA>`` for "x")."""
    wanted = list(names) if names is not None else [*CHARTS, "activity"]
    unknown = [n for n in wanted if n not in CHARTS and n != "activity"]
    if unknown:
        raise InvalidInput(f"No chart {unknown}; charts: {', '.join([*CHARTS, 'activity'])}.",
                           f"グラフ {unknown} はありません（{', '.join([*CHARTS, 'activity'])}）。", reason="bad_chart")
    out: dict[str, pd.DataFrame] = {}
    for name in wanted:
        if name == "activity":
            _publication(unit, publication_id)
            out[name] = _activity(unit, 3)
            continue
        dims, measure = CHARTS[name]
        t = _release(unit, "stats_chart", publication_id, dims[0], dims[1] if len(dims) > 1 else None,
                     dims[2] if len(dims) > 2 else None, (), filters, measure, min_count, None, None)
        long = t.to_long()
        long = long[~long[list(dims)].isin([tables.TOTAL]).any(axis=1)].reset_index(drop=True)
        long["n"] = long["value"].astype("Float64").round().astype("Int64")
        for d, cats in zip(t.dims, t.categories, strict=True):
            long[d] = pd.Categorical(long[d], categories=cats[:-1], ordered=True)
        out[name] = long[[*dims, "n"]]
    return out


@dataclass(frozen=True)
class DPPreview:
    """What a differentially private table would cost and how accurate it would be — no data."""

    epsilon: float
    cells: int
    accuracy_95: float
    epsilon_left: float
    period: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@service(Permission.STATS_READ, target="publication_id")
def dp_preview(unit: Unit, publication_id: str, rows: str, cols: str | None = None, layers: str | None = None,
               *, epsilon: float) -> DPPreview:
    """F8: before spending ε: how many cells, each cell's 95 % interval, and what would be
    left.  Spends nothing and releases nothing (the accuracy depends on ε only)."""
    import opendp.prelude as dp

    manifest, _secret = _publication(unit, publication_id)
    s = tables.spec(manifest["categories"], rows, cols, layers, epsilon=epsilon)
    dp.enable_features("contrib")
    shape = [len(tables.groups(tables.DIMENSIONS[d], manifest["categories"][tables.DIMENSIONS[d].base]))
             for d in s.dims]
    keys = ["0"]

    def make(scale: float) -> Any:
        return (dp.t.make_count_by_categories(dp.vector_domain(dp.atom_domain(T=str)), dp.symmetric_distance(),
                                              categories=keys, null_category=False, TOA=int)
                >> dp.m.then_laplace(scale))

    scale = dp.binary_search_param(make, d_in=1, d_out=float(epsilon))
    period, total, spent = _budget_row(unit, unit.user_id)
    unit.note(target=publication_id, epsilon=epsilon)
    return DPPreview(float(epsilon), int(np.prod(shape)), float(dp.discrete_laplacian_scale_to_accuracy(scale, 0.05)),
                     max(0.0, total - spent), period)


@service(Permission.STATS_READ)
def budget(unit: Unit) -> dict[str, Any]:
    """F8: your ε budget for this fiscal year: total, spent, left."""
    period, total, spent = _budget_row(unit, unit.user_id)
    unit.note(period=period)
    return {"user_id": unit.user_id, "period": period, "budget": total, "spent": spent, "left": max(0.0, total - spent)}


@service(Permission.STATS_READ)
def releases(unit: Unit, *, limit: int = 200) -> list[dict[str, Any]]:
    """F8: your releases, newest first: when, from which publication, what was asked, how many
    cells and "x" — the ledger holds no cell value."""
    limit = max(1, min(int(limit), 1000))
    rows = unit.con.execute(
        "SELECT release_id, publication_id, version, kind, released_at, request, cells, suppressed, epsilon"
        " FROM stats_releases WHERE released_by = ? ORDER BY released_at DESC, release_id DESC LIMIT ?",
        [unit.user_id, limit]).fetchall()
    unit.note(count=len(rows))
    return [{"release_id": r[0], "publication_id": r[1], "version": r[2], "kind": r[3],
             "released_at": r[4].isoformat(), "request": json.loads(r[5]), "cells": r[6], "suppressed": r[7],
             "epsilon": r[8]} for r in rows]


def _restore_params(user_id: Any, amount: Any, reason: Any) -> dict[str, Any]:
    if not isinstance(user_id, str) or not user_id.strip():
        raise InvalidInput("Name the analyst.", "分析担当の ID を指定してください。", reason="no_user")
    if not isinstance(amount, (int, float)) or isinstance(amount, bool) or not 0 < amount <= 100:
        raise InvalidInput("The amount to restore must be more than 0 and at most 100.",
                           "回復する ε は 0 より大きく 100 以下で指定してください。", reason="bad_epsilon")
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("Give the reason.", "理由を入力してください。", reason="no_reason")
    return {"user_id": user_id.strip(), "amount": float(amount), "reason": reason.strip()}


@service(Permission.STATS_PUBLISH, target="user_id")
def request_budget_restore(unit: Unit, user_id: str, *, amount: float, reason: str) -> approvals.Approval:
    """Staff: ask a second person to approve giving an analyst ``amount`` of ε back for this
    fiscal year.  The analyst can neither ask nor approve it."""
    params = _restore_params(user_id, amount, reason)
    if user_id == unit.user_id:
        raise InvalidInput("You cannot restore your own budget.", "自分の予算は回復できません。", reason="self_benefit")
    period, _total, spent = _budget_row(unit, params["user_id"])
    return approvals.request(unit, RESTORE_KIND, {**params, "period": period},
                             {"user_id": params["user_id"], "amount": params["amount"], "period": period,
                              "spent": spent}, beneficiary=params["user_id"])


@service(Permission.STATS_PUBLISH, target="user_id")
def restore_budget(unit: Unit, user_id: str, *, amount: float, reason: str, approval_id: str) -> dict[str, Any]:
    """Staff, with the approved request: give the analyst ``amount`` of ε back (spent never
    goes below 0); recorded and audited."""
    params = _restore_params(user_id, amount, reason)
    period, total, spent = _budget_row(unit, params["user_id"])
    approvals.consume(unit, approval_id, RESTORE_KIND, {**params, "period": period})
    unit.con.execute("UPDATE stats_budgets SET spent = greatest(spent - ?, 0) WHERE user_id = ? AND period = ?",
                     [params["amount"], params["user_id"], period])
    unit.con.execute("INSERT INTO stats_budget_restores VALUES (?, ?, ?, ?, ?, ?, ?)",
                     [approval_id, params["user_id"], period, params["amount"], params["reason"], unit.user_id, unit.now])
    unit.note(target=params["user_id"], amount=params["amount"], period=period)
    left = total - max(spent - params["amount"], 0.0)
    return {"user_id": params["user_id"], "period": period, "budget": total, "left": left}
