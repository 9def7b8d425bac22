"""Cell-key perturbation (セルキー法): the same noise for the same cell, every time.

DESIGN §9, issue 21.  The method of the Australian Bureau of Statistics' TableBuilder and of
the UK statistics office (ONS) for the 2021 census, with ONS's conventions (the PyPI package
``cell-key-perturbation``, MIT, is the test oracle: ``tests/test_stats_attacks.py`` checks
that the interior cells here equal its ``create_perturbed_table`` on the same records):

* every person holds a **record key**, a random whole number 1…255 drawn once and kept in the
  encrypted store (``stats_record_keys``); it never changes for that person;
* a cell's **cell key** is the sum of its records' keys modulo 256 — the same records give
  the same key, whichever table, filter or margin the cell is in;
* the **perturbation table** (p-table) maps (cell value, cell key) to the noise added.  Values
  above 750 reuse the rows 501–750, as ONS does.  The p-table is public (every rule is); the
  record keys are the secret.

Two additions, both documented in the README:

* the key a cell is looked up with is ``(cell key + offset) mod 256``, where the offset comes
  from the publication's secret and the version of its population (a new version each time
  someone leaves it).  Within one version every cell is consistent; when someone leaves,
  *every* cell gets fresh noise, so comparing before and after shows noise in every cell, not
  the cells that person was in;
* sums (incomes) are perturbed by a share of the cell's largest contribution, chosen by the
  same cell key (:func:`perturb_sums`).

The p-table here: noise in −2…+2 (variance ≈ 1), never turning a non-zero count into zero or a
negative number, so "-" stays a true zero and an "x" is at least 1.
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt

__all__ = [
    "KEY_RANGE",
    "MAX_NOISE",
    "PTABLE_SEED",
    "cell_keys",
    "noise",
    "offset",
    "perturb_counts",
    "perturb_sums",
    "ptable",
    "ptable_frame",
    "record_keys",
    "sum_bound",
]

#: Cell keys are 0…255 (ONS); record keys 1…255 (a key of 0 would leave a cell's key unchanged
#: when that person leaves it).
KEY_RANGE = 256
#: The largest noise any count gets: every published count is within ±2 of the truth.
MAX_NOISE = 2
#: Rows of the p-table; larger values reuse rows 501–750 (ONS).
MAX_PCV = 750
#: The p-table is generated from this public seed (the rules are public; the keys are not).
PTABLE_SEED = 20_210_321

#: How many of the 256 keys give each noise, for counts of 3 and more (−2, −1, 0, +1, +2).
_BULK = {-2: 20, -1: 44, 0: 128, 1: 44, 2: 20}
#: For a count of 1 and 2 the noise never takes it below 1.
_SMALL = {1: {0: 140, 1: 76, 2: 40}, 2: {-1: 56, 0: 128, 1: 44, 2: 28}}
#: Sums: noise as a share of the cell's largest contribution, by key.
_SUM_SHARES = {-0.2: 20, -0.1: 44, 0.0: 128, 0.1: 44, 0.2: 20}

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def _row(spec: dict[int, int] | dict[float, int], rng: np.random.Generator) -> FloatArray:
    values = np.concatenate([np.full(n, v, dtype=np.float64) for v, n in spec.items()])
    assert len(values) == KEY_RANGE
    out: FloatArray = values[rng.permutation(KEY_RANGE)]
    return out


def _build() -> tuple[IntArray, FloatArray]:
    rng = np.random.default_rng(PTABLE_SEED)
    table = np.zeros((MAX_PCV + 1, KEY_RANGE), dtype=np.int64)   # row 0: a true zero, never perturbed
    for pcv in range(1, MAX_PCV + 1):
        table[pcv] = _row(_SMALL.get(pcv, _BULK), rng).astype(np.int64)
    shares = _row(_SUM_SHARES, rng)
    return table, shares


_PTABLE, _SUM_SHARE = _build()


def ptable() -> IntArray:
    """The p-table as an array ``[pcv, ckey] → noise`` (row 0 is all zeros)."""
    return _PTABLE.copy()


def ptable_frame() -> object:
    """The p-table in ONS's layout (a DataFrame with ``pcv``, ``ckey``, ``pvalue``)."""
    import pandas as pd

    pcv, ckey = np.meshgrid(np.arange(1, MAX_PCV + 1), np.arange(KEY_RANGE), indexing="ij")
    return pd.DataFrame({"pcv": pcv.ravel(), "ckey": ckey.ravel(), "pvalue": _PTABLE[1:].ravel()})


def record_keys(n: int, rng: np.random.Generator | None = None) -> IntArray:
    """``n`` fresh record keys, uniform on 1…255 (drawn from the OS's randomness)."""
    gen = rng or np.random.default_rng(np.random.SeedSequence().entropy)
    out: IntArray = gen.integers(1, KEY_RANGE, size=n, dtype=np.int64)
    return out


def cell_keys(key_sums: npt.ArrayLike) -> IntArray:
    """Cell keys from the sums of the records' keys."""
    out: IntArray = np.asarray(key_sums, dtype=np.int64) % KEY_RANGE
    return out


def offset(secret: bytes, version: int) -> int:
    """The key offset of one version of a publication's population."""
    return int.from_bytes(hashlib.sha256(secret + b":" + str(int(version)).encode()).digest()[:4], "big") % KEY_RANGE


def _pcv(counts: IntArray) -> IntArray:
    pcv = np.where(counts > MAX_PCV, (counts - 1) % 250 + 501, counts)
    out: IntArray = np.clip(pcv, 0, MAX_PCV).astype(np.int64)
    return out


def noise(counts: npt.ArrayLike, ckeys: npt.ArrayLike, shift: int = 0) -> IntArray:
    """The p-table's noise for each (count, cell key); 0 for a true zero."""
    c = np.asarray(counts, dtype=np.int64)
    k = (np.asarray(ckeys, dtype=np.int64) + int(shift)) % KEY_RANGE
    out: IntArray = _PTABLE[_pcv(c), k]
    return out


def perturb_counts(counts: npt.ArrayLike, key_sums: npt.ArrayLike, shift: int = 0) -> IntArray:
    """Published counts: true count + the p-table's noise (a true zero stays 0, nothing
    non-zero becomes 0 or negative)."""
    c = np.asarray(counts, dtype=np.int64)
    out: IntArray = c + noise(c, cell_keys(key_sums), shift)
    return out


def perturb_sums(sums: npt.ArrayLike, top: npt.ArrayLike, key_sums: npt.ArrayLike, shift: int = 0) -> FloatArray:
    """Published sums: true sum + a share (−20 %…+20 %) of the cell's largest contribution,
    chosen by the cell key (shifted by 128 so it is not the count's noise), rounded to yen."""
    s = np.asarray(sums, dtype=np.float64)
    k = (cell_keys(key_sums) + int(shift) + 128) % KEY_RANGE
    out: FloatArray = np.round(s + _SUM_SHARE[k] * np.asarray(top, dtype=np.float64))
    return np.maximum(out, 0.0)


def sum_bound(top: npt.ArrayLike) -> FloatArray:
    """The largest noise a sum can get: 20 % of its largest contribution."""
    out: FloatArray = 0.2 * np.asarray(top, dtype=np.float64)
    return out
