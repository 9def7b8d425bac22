"""Numbers no longer needed are found (不要になった個人番号の検出, issue 22 item 4, F7, C8, II-6 ②).

The assessment: "不要と判断したものは消去".  A person dropped from the target list (``persons.listed``
false after a target-list import) keeps their Individual Number until someone deletes it; nothing
used to say so.  The daily check (:func:`check_unneeded`, the ``unneeded_numbers`` stage of the
nightly cycle) lists everyone who holds a number and is off the target list, each with a reason:

* ``unlisted`` — off the target list, still within the period of the retention rule
  ``unlisted_numbers`` (30 days unless the office changes it: a list corrected in time puts them back);
* ``retention_expired`` — off the list for longer than that period.

They become one **deletion proposal** — a deletion list of source ``proposal``
(:mod:`workbench.lifecycle.deletion`) that the registrar reviews on 個人番号の一括削除 and carries
through the same preview → second person's approval → apply as any other list.  The proposal is
replaced when the people on it change (the old one is ``superseded``), left alone when they do not,
and counted on the registrar's home screen (``workbench pending``).  Counts only leave this module;
no one is named outside the encrypted store.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from workbench.core.permissions import Permission
from workbench.core.workspace import Unit, service
from workbench.lifecycle import deletion

__all__ = ["REASONS", "check_unneeded", "due_counts"]

#: Why the daily check proposes a person (also deletion reasons, so the registrar sees the words).
REASONS: dict[str, tuple[str, str]] = {
    "unlisted": ("対象者リストから外れた", "no longer on the target list"),
    "retention_expired": ("保存期間の経過（対象者リスト外）", "past retention (off the target list)"),
}
SOURCE = "proposal"
RULE = "unlisted_numbers"


def _keep_days(unit: Unit) -> int:
    row = unit.con.execute("SELECT keep_days FROM retention_rules WHERE kind = ?", [RULE]).fetchone()
    return int(row[0]) if row else 30


def _refresh(unit: Unit) -> None:
    """Keep ``unlisted_since``: who holds a number and is off the list, and since when (the import that
    took them off set ``persons.updated_at``; the check never moves an earlier date)."""
    con = unit.con
    con.execute("DELETE FROM unlisted_since u WHERE NOT EXISTS (SELECT 1 FROM persons p JOIN person_numbers n"
                " USING (person_id) WHERE p.person_id = u.person_id AND NOT p.listed)")
    con.execute("INSERT INTO unlisted_since SELECT p.person_id, least(coalesce(p.updated_at, ?), ?) FROM persons p"
                " JOIN person_numbers n USING (person_id) WHERE NOT p.listed"
                " AND p.person_id NOT IN (SELECT person_id FROM unlisted_since)", [unit.now, unit.now])


def due_counts(unit: Unit, cutoff: dt.datetime, keep: int) -> tuple[int, str | None]:
    """For the retention report: how many are past the period now, and when the next one falls due."""
    _refresh(unit)
    due, nxt = unit.con.execute("SELECT count(*) FILTER (WHERE since <= $c), min(since) FILTER (WHERE since > $c)"
                                " FROM unlisted_since", {"c": cutoff}).fetchone() or (0, None)
    return int(due or 0), (nxt + dt.timedelta(days=keep)).isoformat() if nxt else None


@service(Permission.RETENTION_APPLY)
def check_unneeded(unit: Unit) -> dict[str, Any]:
    """The daily check: propose for deletion everyone who holds a number and is off the target list."""
    _refresh(unit)
    keep = _keep_days(unit)
    cutoff = unit.now - dt.timedelta(days=keep)
    rows = [(str(p), str(r)) for p, r in unit.con.execute(
        "SELECT person_id, CASE WHEN since <= ? THEN 'retention_expired' ELSE 'unlisted' END FROM unlisted_since"
        " ORDER BY person_id", [cutoff]).fetchall()]
    digest = "proposal:" + hashlib.sha256("\n".join(f"{p}:{r}" for p, r in rows).encode("utf-8")).hexdigest()
    open_lists = [str(r[0]) for r in unit.con.execute(
        "SELECT list_id FROM deletion_lists WHERE source = ? AND status = 'open' AND digest = ?", [SOURCE, digest]).fetchall()]
    by_reason = {r: sum(1 for _, x in rows if x == r) for r in REASONS}
    if rows and open_lists:
        unit.note(persons=len(rows), changed=False, by_reason=by_reason)
        return {"list_id": open_lists[0], "persons": len(rows), "by_reason": by_reason, "changed": False,
                "keep_days": keep}
    superseded = [str(r[0]) for r in unit.con.execute(
        "UPDATE deletion_lists SET status = 'superseded' WHERE source = ? AND status = 'open' RETURNING list_id",
        [SOURCE]).fetchall()]
    unit.con.execute("DELETE FROM deletion_list_members WHERE list_id IN (SELECT unnest(?::VARCHAR[]))", [superseded])
    list_id = deletion.new_list(unit, SOURCE, [(p, r, None) for p, r in rows], digest=digest) if rows else None
    unit.note(persons=len(rows), changed=True, superseded=len(superseded), by_reason=by_reason)
    return {"list_id": list_id, "persons": len(rows), "by_reason": by_reason, "changed": True,
            "superseded": superseded, "keep_days": keep}
