"""Cell-key perturbation (セルキー法): the same noise for the same cell, every time.

DESIGN §9, issue 21.  The method of the Australian Bureau of Statistics' TableBuilder and of
the UK statistics office (ONS) for the 2021 census, with ONS's conventions (the PyPI package
``cell-key-perturbation``, MIT, is the test oracle: ``tests/test_stats_attacks.py`` checks
that the interior cells here equal its ``create_perturbed_table`` on the same records):

* every person holds a **record key**, a random whole number 1…4095 drawn once and kept in the
  encrypted store (``stats_record_keys``); it never changes for that person;
* a cell's **cell key** is the sum of its records' keys modulo 4096 — the same records give
  the same key, whichever table, filter or margin the cell is in;
* the **perturbation table** (p-table) maps (cell value, cell key) to the noise added.  Values
  above 750 reuse the rows 501–750, as ONS does.  The p-table is public (every rule is); the
  record keys are the secret.

The p-table (revised for issue 21: the first one, noise −2…+2, let a leaver's cell stand out
when two looks at it landed on opposite bounds): each row is a **discrete Laplace
distribution of scale** :data:`SCALE` (standard deviation ≈ 2.8) over the published value,
kept at 1 or more for a non-zero cell, quantised to the 4,096 keys and cut only where a value
would get less than half a key (±:data:`MAX_NOISE`).  Neighbouring counts then give published
values whose probabilities differ by a bounded factor (about e^{1/SCALE} each), everywhere but
the outermost key of each tail — so a cell that lost one person cannot be told from one that
did not, beyond that factor (``tests/test_stats_attacks.py`` measures the attacker's posterior).

Two additions, both documented in the README:

* the key a cell is looked up with is ``permutation[cell key]``, a permutation of the 4,096 keys
  drawn from the publication's secret and the **version** of its population (a new version each
  time someone leaves it).  Within one version every cell is consistent; when someone leaves,
  *every* cell gets fresh, independent noise (a keyed permutation, not a shift, so the pairs of
  keys of two versions share no structure an attacker could fit across cells), and comparing
  before and after shows noise in every cell, not the cells that person was in;
* sums (incomes) are perturbed by a multiple of the cell's largest contribution, chosen by the
  same cell key from the same distribution (:func:`perturb_sums`).

Never turning a non-zero count into zero or a negative number, so "-" stays a true zero and an
"x" is at least 1.
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt

__all__ = [
    "KEY_RANGE",
    "MAX_NOISE",
    "PTABLE_SEED",
    "SCALE",
    "cell_keys",
    "count_box",
    "noise",
    "permutation",
    "perturb_counts",
    "perturb_sums",
    "ptable",
    "ptable_frame",
    "record_keys",
    "row_pmf",
    "sum_bound",
]

#: Cell keys are 0…4095; record keys 1…4095 (a key of 0 would leave a cell's key unchanged
#: when that person leaves it).  ONS uses 256; 4,096 lets the tails of the noise be resolved.
KEY_RANGE = 4096
#: The scale ``b`` of the discrete Laplace noise: P(noise = n) ∝ exp(−|n| / b).
SCALE = 2.0
#: Rows of the p-table; larger values reuse rows 501–750 (ONS).
MAX_PCV = 750
#: The p-table is generated from this public seed (the rules are public; the keys are not).
PTABLE_SEED = 20_210_321
#: Sums: the noise is this share of the cell's largest contribution per unit of count noise.
SUM_UNIT = 0.1
#: Support before quantisation (values further out get less than half a key and drop out).
_SPAN = 40

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def row_pmf(count: int) -> dict[int, float]:
    """The published value's distribution for a true ``count`` before quantisation: discrete
    Laplace around the count, conditioned on being at least 1 (a true zero is never perturbed)."""
    if count <= 0:
        return {0: 1.0}
    alpha = float(np.exp(-1.0 / SCALE))
    values = np.arange(max(1, count - _SPAN), count + _SPAN + 1)
    weights = alpha ** np.abs(values - count)
    weights /= weights.sum()
    return {int(v) - count: float(w) for v, w in zip(values, weights, strict=True)}


def _quantise(pmf: dict[int, float]) -> FloatArray:
    """The noise of each of the 4,096 keys: every value gets its share of keys (largest
    remainder), so the row's distribution is the pmf to within half a key."""
    values = np.asarray(list(pmf), dtype=np.float64)
    share = np.asarray(list(pmf.values())) * KEY_RANGE
    slots = np.floor(share).astype(np.int64)
    rest = KEY_RANGE - int(slots.sum())
    slots[np.argsort(-(share - slots), kind="stable")[:rest]] += 1
    out: FloatArray = np.repeat(values, slots)
    assert len(out) == KEY_RANGE
    return out


def _build() -> tuple[npt.NDArray[np.int16], FloatArray]:
    rng = np.random.default_rng(PTABLE_SEED)
    table = np.zeros((MAX_PCV + 1, KEY_RANGE), dtype=np.int16)   # row 0: a true zero, never perturbed
    bulk = _quantise(row_pmf(_SPAN + 1))
    for pcv in range(1, MAX_PCV + 1):
        row = bulk if pcv > _SPAN else _quantise(row_pmf(pcv))
        table[pcv] = row[rng.permutation(KEY_RANGE)].astype(np.int16)
    shares = bulk[rng.permutation(KEY_RANGE)] * SUM_UNIT
    return table, shares


_PTABLE, _SUM_SHARE = _build()
#: The largest noise any count gets (the outermost value a key holds): every published count is
#: within ±MAX_NOISE of the truth.
MAX_NOISE = int(np.abs(_PTABLE).max())


def ptable() -> IntArray:
    """The p-table as an array ``[pcv, ckey] → noise`` (row 0 is all zeros)."""
    return _PTABLE.astype(np.int64)


def ptable_frame(max_pcv: int = MAX_PCV) -> object:
    """The p-table in ONS's layout (a DataFrame with ``pcv``, ``ckey``, ``pvalue``), rows 1…``max_pcv``."""
    import pandas as pd

    rows = min(int(max_pcv), MAX_PCV)
    pcv, ckey = np.meshgrid(np.arange(1, rows + 1), np.arange(KEY_RANGE), indexing="ij")
    return pd.DataFrame({"pcv": pcv.ravel(), "ckey": ckey.ravel(), "pvalue": _PTABLE[1:rows + 1].ravel()})


def record_keys(n: int, rng: np.random.Generator | None = None) -> IntArray:
    """``n`` fresh record keys, uniform on 1…4095 (drawn from the OS's randomness)."""
    gen = rng or np.random.default_rng(np.random.SeedSequence().entropy)
    out: IntArray = gen.integers(1, KEY_RANGE, size=n, dtype=np.int64)
    return out


def cell_keys(key_sums: npt.ArrayLike) -> IntArray:
    """Cell keys from the sums of the records' keys."""
    out: IntArray = np.asarray(key_sums, dtype=np.int64) % KEY_RANGE
    return out


def permutation(secret: bytes, version: int) -> IntArray:
    """The key permutation of one version of a publication's population (from its secret)."""
    seed = int.from_bytes(hashlib.sha256(secret + b":" + str(int(version)).encode()).digest()[:16], "big")
    out: IntArray = np.random.default_rng(seed).permutation(KEY_RANGE).astype(np.int64)
    return out


def _pcv(counts: IntArray) -> IntArray:
    pcv = np.where(counts > MAX_PCV, (counts - 1) % 250 + 501, counts)
    out: IntArray = np.clip(pcv, 0, MAX_PCV).astype(np.int64)
    return out


def _lookup(ckeys: IntArray, perm: IntArray | None) -> IntArray:
    return ckeys if perm is None else perm[ckeys]


def noise(counts: npt.ArrayLike, ckeys: npt.ArrayLike, perm: IntArray | None = None) -> IntArray:
    """The p-table's noise for each (count, cell key); 0 for a true zero."""
    c = np.asarray(counts, dtype=np.int64)
    k = _lookup(np.asarray(ckeys, dtype=np.int64) % KEY_RANGE, perm)
    out: IntArray = _PTABLE[_pcv(c), k].astype(np.int64)
    return out


def perturb_counts(counts: npt.ArrayLike, key_sums: npt.ArrayLike, perm: IntArray | None = None) -> IntArray:
    """Published counts: true count + the p-table's noise (a true zero stays 0, nothing
    non-zero becomes 0 or negative).  ``perm``: the version's key permutation (none: ONS's lookup)."""
    c = np.asarray(counts, dtype=np.int64)
    out: IntArray = c + noise(c, cell_keys(key_sums), perm)
    return out


def perturb_sums(sums: npt.ArrayLike, top: npt.ArrayLike, key_sums: npt.ArrayLike,
                 perm: IntArray | None = None) -> FloatArray:
    """Published sums: true sum + a multiple (the count noise × 0.1, so −1.3…+1.3, standard
    deviation ≈ 0.28) of the cell's largest contribution, chosen by the cell key (moved by half
    the key range so it is not the count's noise), rounded to yen, never below 0."""
    s = np.asarray(sums, dtype=np.float64)
    k = _lookup((cell_keys(key_sums) + KEY_RANGE // 2) % KEY_RANGE, perm)
    out: FloatArray = np.round(s + _SUM_SHARE[k] * np.asarray(top, dtype=np.float64))
    return np.maximum(out, 0.0)


def sum_bound(top: npt.ArrayLike) -> FloatArray:
    """The largest noise a sum can get: ``MAX_NOISE × 0.1`` of its largest contribution."""
    out: FloatArray = float(np.abs(_SUM_SHARE).max()) * np.asarray(top, dtype=np.float64)
    return out


def count_box(published: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """What a published (non-zero) count says about the truth, knowing the p-table: the true
    count lies in ``[max(1, v − MAX_NOISE), v + MAX_NOISE]``."""
    v = np.asarray(published, dtype=np.float64)
    return np.maximum(v - MAX_NOISE, 1.0), v + MAX_NOISE
