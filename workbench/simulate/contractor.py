"""The number-collection contractor's digitised returns (F1, 委託事項2), with realistic mistakes.

DESIGN §8.  :func:`contractor_return_with_truth` writes the file the contractor hands
back after keying in the returned forms (layout ``contractor_return``) for persons of
a :class:`~workbench.simulate.world.World`, and says for each line what registration
must make of it.  A share ``error_rate`` of the rows carries one mistake from
:data:`DEFECTS`; some "mistakes" are only formatting (full-width digits, hyphens or
spaces in the number) that normalisation must absorb.

The truth assumes the world was loaded as the target list with no numbers registered
(``tests.direct_load.load_world(..., registered=all False)``), everyone listed and alive.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from workbench.core.numbers import is_valid_number
from workbench.files import formats
from workbench.simulate.world import World

__all__ = ["DEFECTS", "contractor_return", "contractor_return_with_truth"]

#: Mistake → (expected outcome, expected reason code of :data:`workbench.intake.registration.REASONS`).
DEFECTS: dict[str, tuple[str, str | None]] = {
    "check_digit": ("returned", "check_digit"),
    "transposed": ("returned", "check_digit"),
    "missing_digit": ("returned", "wrong_length"),
    "letter": ("returned", "not_digits"),
    "full_width": ("registered", None),
    "separators": ("registered", None),
    "unknown_person": ("returned", "unknown_person"),
    "duplicate_row": ("returned", "duplicate_row"),
    "shared_number": ("returned", "number_repeated_in_file"),
    "blank_number": ("returned", "blank"),
    "identity_not_checked": ("returned", "identity_not_checked"),
}

_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _transpose(number: str, rng: np.random.Generator) -> str:
    """Swap two adjacent different digits so that the check digit catches it (else change it)."""
    for pos in rng.permutation(11):
        a, b = number[pos], number[pos + 1]
        if a != b:
            swapped = number[:pos] + b + a + number[pos + 2 :]
            if not is_valid_number(swapped):
                return swapped
    return number[:11] + str((int(number[11]) + 1) % 10)


def contractor_return_with_truth(
    world: World,
    *,
    persons: pd.DataFrame | list[str] | None = None,
    seed: int,
    error_rate: float = 0.1,
    encoding: str = "cp932",
    defects: tuple[str, ...] | None = None,
) -> tuple[bytes, pd.DataFrame]:
    """The contractor's return file and, per line, the expected outcome.

    ``persons``: the people whose forms came back (rows of ``world.persons`` or their
    person IDs); default every living person.  ``defects`` limits the mistakes drawn.
    Truth columns: ``line`` (1-based physical line), ``person_id`` (as written),
    ``defect`` (``""`` if none), ``outcome``, ``reason`` (``""`` if registered).
    """
    rng = np.random.default_rng(seed)
    people = world.persons
    if persons is None:
        chosen = people[~people["deceased"].to_numpy(dtype=bool)]
    elif isinstance(persons, pd.DataFrame):
        chosen = persons
    else:
        chosen = people[people["person_id"].isin(list(persons))]
    n = len(chosen)
    pid = chosen["person_id"].to_numpy(dtype=object).copy()
    num = chosen["individual_number"].to_numpy(dtype=object).copy()
    ident = np.full(n, "1", dtype=object)
    kinds = list(defects or DEFECTS)
    defect = np.full(n, "", dtype=object)
    k = min(n, round(error_rate * n))
    hit = rng.choice(n, size=k, replace=False) if k else np.empty(0, dtype=np.int64)
    defect[hit] = np.asarray(kinds, dtype=object)[rng.integers(0, len(kinds), k)]
    clean = list(rng.permutation(np.flatnonzero(defect == "")))
    partner = np.full(n, -1, dtype=np.int64)

    for i in np.flatnonzero(defect != ""):
        kind = defect[i]
        number = str(num[i])
        if kind == "check_digit":
            num[i] = number[:11] + str((int(number[11]) + int(rng.integers(1, 10))) % 10)
        elif kind == "transposed":
            num[i] = _transpose(number, rng)
        elif kind == "missing_digit":
            p = int(rng.integers(0, 12))
            num[i] = number[:p] + number[p + 1 :]
        elif kind == "letter":
            p = int(rng.integers(0, 12))
            num[i] = number[:p] + "O" + number[p + 1 :]
        elif kind == "full_width":
            num[i] = number.translate(_FULLWIDTH)
        elif kind == "separators":
            sep = str(rng.choice(["-", " ", "\u3000", "－"]))
            num[i] = sep.join((number[:4], number[4:8], number[8:]))
        elif kind == "unknown_person":
            pid[i] = f"P9{int(rng.integers(0, 10**7)):07d}"
        elif kind == "blank_number":
            num[i] = ""
        elif kind == "identity_not_checked":
            ident[i] = "0"
        elif kind in ("shared_number", "duplicate_row"):
            if not clean:
                defect[i] = ""
                continue
            j = int(clean.pop())
            partner[i] = j
            if kind == "shared_number":
                num[i] = num[j]
                defect[j] = "shared_number"

    collected = (np.datetime64(dt.date(2026, 4, 1)) + rng.integers(0, 60, n).astype("timedelta64[D]")).astype(str)
    frame = pd.DataFrame({"person_id": pid, "individual_number": num, "identity_checked": ident,
                          "collected_on": collected.astype(object), "defect": defect})
    # a duplicated form is keyed twice: the copy follows its original
    dup = np.flatnonzero((defect == "duplicate_row") & (partner >= 0))
    frame.loc[dup, ["person_id", "individual_number", "identity_checked", "collected_on"]] = (
        frame.loc[partner[dup], ["person_id", "individual_number", "identity_checked", "collected_on"]].to_numpy()
    )
    order = np.arange(n, dtype=np.float64)
    order[dup] = partner[dup] + 0.5
    frame = frame.iloc[np.argsort(order, kind="stable")].reset_index(drop=True)
    frame.insert(0, "line_no", np.arange(1, n + 1).astype(str))

    outcome = np.full(n, "registered", dtype=object)
    reason = np.full(n, "", dtype=object)
    d = frame["defect"].to_numpy(dtype=object)
    for kind, (out, why) in DEFECTS.items():
        mask = d == kind
        outcome[mask] = out
        reason[mask] = why or ""
    truth = pd.DataFrame({
        "line": np.arange(2, n + 2, dtype=np.int64),
        "person_id": frame["person_id"].to_numpy(dtype=object),
        "defect": d,
        "outcome": outcome,
        "reason": reason,
    })
    data = formats.write_table(frame.drop(columns="defect"), "contractor_return", encoding=encoding)
    return data, truth


def contractor_return(
    world: World,
    *,
    persons: pd.DataFrame | list[str] | None = None,
    seed: int,
    error_rate: float = 0.1,
    encoding: str = "cp932",
) -> bytes:
    """The contractor's return file only (see :func:`contractor_return_with_truth`)."""
    data, _ = contractor_return_with_truth(world, persons=persons, seed=seed, error_rate=error_rate, encoding=encoding)
    return data
