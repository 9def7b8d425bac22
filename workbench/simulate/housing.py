"""Simulator of the housing business system's target-list extract (都住システム 対象者リスト抽出).

DESIGN §8.  :func:`target_extract` writes what the housing business system would hand
over for F0: one row per living person of the :class:`~workbench.simulate.world.World`
in the ``housing_targets`` layout (:data:`workbench.files.formats.LAYOUTS`), as bytes in
UTF-8, UTF-8 with BOM or CP932.  Everyone in the world is a resident or applicant, so
everyone is a target; the extract does not carry Individual Numbers (those are what
collection is for).  Deceased persons are left out, as the housing system removes them.

CP932 cannot hold every character a name may have: 𠮷 (U+20BB7, "tsuchi-yoshi") is
outside it.  The housing system, which stores names in CP932, holds 吉 for it, so the
CP932 extract substitutes 吉 (see :data:`CP932_SUBSTITUTES`); 髙, 﨑 and other NEC/IBM
vendor characters are inside CP932 and are written as they are.  Any other character
CP932 lacks becomes 〓 (geta, the customary mark for a missing glyph).

Seeded variation: row order is shuffled within households' order, and the birth date is
written as ``YYYY-MM-DD``, ``YYYY/MM/DD`` or ``YYYYMMDD`` for the whole file, as
different extract jobs do.
"""

from __future__ import annotations

import codecs

import numpy as np
import pandas as pd

from workbench.files.formats import write_table
from workbench.simulate.world import World

__all__ = ["CP932_SUBSTITUTES", "target_extract", "target_frame"]

#: Characters outside CP932 and what the housing system holds instead.
CP932_SUBSTITUTES: dict[str, str] = {"𠮷": "吉"}

_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d")


def target_frame(world: World, *, seed: int = 0, date_format: str | None = None) -> pd.DataFrame:
    """The extract as a frame of text columns in the ``housing_targets`` layout."""
    rng = np.random.default_rng(seed)
    persons = world.persons.loc[~world.persons["deceased"].to_numpy(dtype=bool)]
    hh = world.households.set_index("household_id")
    fmt = date_format or _DATE_FORMATS[int(rng.integers(len(_DATE_FORMATS)))]
    frame = pd.DataFrame({
        "person_id": persons["person_id"].to_numpy(),
        "household_id": persons["household_id"].to_numpy(),
        "relation": persons["relation"].to_numpy(),
        "name": persons["name"].to_numpy(),
        "kana": persons["kana"].to_numpy(),
        "sex": persons["sex"].to_numpy(),
        "birth_date": pd.to_datetime(persons["birth_date"]).dt.strftime(fmt).to_numpy(),
        "address": persons["address"].to_numpy(),
        "ward_code": hh["ward_code"].reindex(persons["household_id"]).to_numpy(),
        "housing_type": hh["housing_type"].reindex(persons["household_id"]).to_numpy(),
        "status": persons["status"].to_numpy(),
        "phone": hh["phone"].reindex(persons["household_id"]).fillna("").to_numpy(),
    })
    # shuffle households, keep each household's members together and in order
    order = rng.permutation(world.households["household_id"].to_numpy())
    rank = pd.Series(np.arange(len(order)), index=order)
    key = rank.reindex(frame["household_id"]).to_numpy()
    frame = frame.iloc[np.argsort(key, kind="stable")].reset_index(drop=True)
    return frame


def _substitute(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: what the housing system holds for a character CP932 lacks."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(CP932_SUBSTITUTES.get(c, "〓") for c in bad), exc.end


codecs.register_error("workbench_housing_cp932", _substitute)


def target_extract(world: World, *, encoding: str = "cp932", seed: int = 0, date_format: str | None = None) -> bytes:
    """The target list file the housing business system hands over for F0 (bytes).

    ``encoding`` is ``cp932`` (the default, as the housing system writes), ``utf-8``
    or ``utf-8-sig``.  In CP932, 𠮷 becomes 吉 (:data:`CP932_SUBSTITUTES`).
    """
    frame = target_frame(world, seed=seed, date_format=date_format)
    if encoding == "cp932":
        body = write_table(frame, "housing_targets", encoding="utf-8")
        return body.decode("utf-8").encode("cp932", errors="workbench_housing_cp932")
    return write_table(frame, "housing_targets", encoding=encoding)
