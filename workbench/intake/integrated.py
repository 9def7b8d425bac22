"""F1b: integrated-number acquisition (団体内統合利用番号の取得, flow ④⑤⑥).

:func:`create_integrated_request` writes a request file for the linkage server
(団体内統合宛名システム / 中間サーバー連携) for every person whose Individual Number is
registered (C3) and who has no integrated number yet.  Each request row carries its own
request ID (依頼番号), recorded in ``integrated_requests``, which the server returns with
its answer so every answer is matched to its request (C10).  A person still waiting
on an earlier request gets a new one; the earlier request is marked ``superseded`` and
a late answer to it is reported, not stored.  The file leaves as an encrypted transfer
package (kind ``integrated_request``, recipient ``linkage_server``) recorded in the
media ledger (C9); it holds the Individual Number because the server identifies the
person by it.

:func:`import_integrated_answers` reads the server's answer package (kind
``integrated_answer``, opened with the ``linkage_server`` key through
:func:`workbench.files.media.read_incoming`, which records it in the ledger) — or, for
tests and manual recovery, the bare CSV bytes — in the ``integrated_answer`` layout.
It stores numbers for answers that match an open request and reports, with line
numbers and reason codes:

* ``unknown``   — an answer for no request we made (or for another person);
* ``duplicate`` — the same request answered more than once in the file (none stored
  if the answers disagree; the first if they agree);
* ``stale``     — an answer to a request already answered or superseded;
* ``malformed`` — bad result code, or an integrated number that is not 15 digits;
* ``conflict``  — the integrated number already belongs to another person;
* ``not_found`` / ``error`` — the server's result codes 10 / 90 (request closed,
  requested again next time);

and counts the requests left unanswered.  Integrated numbers are personal data (not
secret like the Individual Number): they are kept only in the encrypted database
(C12), never in logs, audit records or messages.  The same file twice changes nothing.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.core.errors import InvalidInput
from workbench.core.permissions import Permission
from workbench.core.policy import POLICY
from workbench.core.workspace import Unit, service
from workbench.files import media, outgoing, transfer
from workbench.files.formats import read_table, write_table
from workbench.files.outgoing import ExportResult, OutgoingFileSpec
from workbench.intake.persons import number_cipher

__all__ = [
    "ANSWER_KIND",
    "PROBLEMS",
    "REQUEST_KIND",
    "IntegratedImportSummary",
    "create_integrated_request",
    "import_integrated_answers",
]

REQUEST_KIND = "integrated_request"
ANSWER_KIND = "integrated_answer"
REQUEST_MEMBER = "integrated_request.csv"
ANSWER_MEMBER = "integrated_answer.csv"
MAX_LISTED = POLICY.max_listed_problems  # office policy, workbench/data/policy.json

#: Result codes of the ``integrated_answer`` layout → request status.
RESULT_CODES = {"00": "answered", "10": "not_found", "90": "error"}

#: Per-answer problems: reason code → (Japanese, English).
PROBLEMS: dict[str, tuple[str, str]] = {
    "unknown": ("該当する依頼がない回答です（依頼番号または宛名番号が一致しません）",
                "an answer for no request of ours (request ID or person ID does not match)"),
    "duplicate": ("同じ依頼番号の回答が複数あります", "the same request is answered more than once"),
    "stale": ("回答済みまたは再依頼により無効になった依頼への回答です", "the request was already answered or superseded"),
    "malformed": ("処理結果コードまたは団体内統合利用番号の形式が誤っています", "the result code or integrated number is malformed"),
    "conflict": ("この団体内統合利用番号は既に別の人に付いています", "the integrated number already belongs to another person"),
}


@dataclass
class IntegratedImportSummary:
    """What an answer import did (F1b, C10).  Counts, line numbers and codes only."""

    rows: int
    stored: int = 0
    not_found: int = 0
    errors: int = 0
    unanswered: int = 0
    unknown: int = 0
    duplicate: int = 0
    stale: int = 0
    malformed: int = 0
    conflict: int = 0
    package_id: str | None = None
    import_id: str | None = None
    already_imported: bool = False
    already_imported_at: str | None = None
    problems: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        keys = ("rows", "stored", "not_found", "errors", "unanswered", "unknown", "duplicate", "stale", "malformed", "conflict")
        return {k: int(getattr(self, k)) for k in keys}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ----------------------------------------------------------------------------- requests
APPROVAL_KIND = "integrated_request"
RECIPIENT = "linkage_server"

_SELECTION = """FROM persons p JOIN person_numbers n USING (person_id)
           WHERE NOT EXISTS (SELECT 1 FROM integrated_numbers i WHERE i.person_id = p.person_id)
             AND p.person_id NOT IN (SELECT person_id FROM suspended_persons) /* F9 利用停止 */"""


@dataclass(frozen=True)
class IntegratedParams:
    """F1b takes no parameters: everyone registered without an integrated number is asked for."""


@dataclass(frozen=True)
class IntegratedPreview:
    """F1b step 1: how many registered people have no integrated number yet (no personal data)."""

    count: int
    selection_digest: str
    recipient: str = RECIPIENT

    def summary_ja(self) -> str:
        return (f"団体内統合宛名システム（中間サーバー連携）へ、個人番号を登録済みで統合利用番号が未取得の {self.count:,} 人の"
                "取得依頼ファイルを送付します。このファイルには個人番号が含まれます。")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _select(unit: Unit, _params: IntegratedParams) -> IntegratedPreview:
    """What an approval is bound to: the count and a digest of exactly who is selected."""
    count, digest = unit.con.execute(
        f"SELECT count(*), {outgoing.digest_sql('p.person_id')} {_SELECTION}"
    ).fetchone()  # type: ignore[misc]
    return IntegratedPreview(int(count), str(digest))


def _write(unit: Unit, _params: IntegratedParams, _preview: IntegratedPreview, approval_id: str) -> ExportResult:
    """F1b ④: request integrated numbers for registered people who have none (C3, C9, C10)."""
    con = unit.con
    batch_id = "IB" + unit.now.strftime("%Y%m%d") + uuid.uuid4().hex[:6].upper()
    rows = con.execute(
        f"""SELECT p.person_id, n.number_ct, n.key_version, p.name, p.kana, p.sex,
                  strftime(p.birth_date, '%Y-%m-%d') AS birth_date, p.address
           {_SELECTION}
           ORDER BY p.person_id"""
    ).df()
    numbers = np.empty(len(rows), dtype=object)
    ids = rows["person_id"].astype(str).to_numpy(dtype=object)
    versions = rows["key_version"].to_numpy()
    for version in np.unique(versions):
        sel = np.flatnonzero(versions == version)
        numbers[sel] = number_cipher(unit, int(version)).decrypt_many(
            rows["number_ct"].to_numpy()[sel].tolist(), ids[sel].tolist(), table="person_numbers", column="number_ct"
        )
    request_ids = np.char.add(f"{batch_id}-", np.char.zfill(np.arange(1, len(rows) + 1).astype(str), 7))
    frame = pd.DataFrame({
        "request_id": request_ids.astype(object), "person_id": ids, "individual_number": numbers,
        "name": rows["name"], "kana": rows["kana"], "sex": rows["sex"], "birth_date": rows["birth_date"],
        "address": rows["address"],
    })
    body = write_table(frame, "integrated_request", encoding="utf-8")
    del numbers, frame
    staged = pd.DataFrame({"request_id": request_ids.astype(object), "person_id": ids})
    con.register("_ir_new", staged)
    superseded = con.execute(
        "UPDATE integrated_requests AS r SET status = 'superseded' WHERE r.status = 'open'"
        " AND r.person_id IN (SELECT person_id FROM _ir_new) RETURNING r.request_id"
    ).fetchall()
    con.execute(
        "INSERT INTO integrated_requests (request_id, batch_id, person_id, requested_at, status)"
        " SELECT request_id, ?, person_id, ?, 'open' FROM _ir_new",
        [batch_id, unit.now],
    )
    con.unregister("_ir_new")
    entry, path = media.write_outgoing(
        unit, kind=REQUEST_KIND, recipient=RECIPIENT, members=[(REQUEST_MEMBER, body)],
        record_count=len(staged), approval_id=approval_id,
    )
    con.execute("INSERT INTO integrated_batches VALUES (?, ?, ?, ?, ?, ?)",
                [batch_id, entry.entry_id, entry.package_id, len(staged), unit.now, unit.user_id])
    unit.note(target=batch_id, requests=len(staged), superseded=len(superseded))
    return ExportResult(entry, path, len(staged), approval_id, {"batch_id": batch_id, "superseded": len(superseded)})


#: F1b as an outgoing file (workbench.files.outgoing): the request file carries Individual Numbers, so a
#: second person approves exactly this selection (REQUIREMENTS §6).
SPEC: OutgoingFileSpec[IntegratedParams, IntegratedPreview] = OutgoingFileSpec(
    kind=APPROVAL_KIND, package_kind=REQUEST_KIND, recipient=RECIPIENT, permission=Permission.INTEGRATED_MANAGE,
    label_ja="統合宛名番号の取得依頼", label_en="integrated-number request",
    file_ja="統合利用番号の取得依頼ファイル", file_en="integrated-number request file", parameters=IntegratedParams,
    select=_select, write=_write, records=("integrated_requests", "integrated_batches"), holds_numbers=True,
    nothing_en="Everyone with a registered number already has an integrated number; there is nothing to request.",
    nothing_ja="個人番号登録済みの全員に団体内統合利用番号があります。依頼するものはありません。",
    nothing_reason="nothing_to_request",
)
_services = outgoing.register(SPEC, preview="integrated.preview_integrated_request",
                              request="integrated.request_integrated_request",
                              create="integrated.create_integrated_request")
#: F1b step 1: how many registered people have no integrated number yet.
preview_integrated_request = _services.preview
#: F1b step 2: ask a second person to approve exactly this selection.
request_integrated_request = _services.request
#: F1b step 3 (④): consume the approval, write the request package for the linkage server.
create_integrated_request = _services.create


# ------------------------------------------------------------------------------ answers
def _answer_bytes(unit: Unit, source: bytes | str | Path, file_name: str | None) -> tuple[bytes, str | None]:
    """The answer CSV: from a package (a path, or its bytes as uploaded on a screen) or bare CSV bytes."""
    if isinstance(source, bytes) and not source.startswith(transfer.MAGIC):
        return source, None
    package = media.read_incoming(unit, source if isinstance(source, bytes) else Path(source), sender="linkage_server",
                                  kind=ANSWER_KIND, file_name=file_name)
    members = list(package.members.items())
    if len(members) != 1:
        raise InvalidInput(
            f"The answer package should hold one file, not {len(members)}.",
            f"回答パッケージにはファイルが 1 つだけ入っているはずですが、{len(members):,} 個あります。",
            reason="bad_package_members",
        )
    return members[0][1], package.manifest.package_id


@service(Permission.INTEGRATED_MANAGE, paths=("source",))
def import_integrated_answers(unit: Unit, source: bytes | str | Path, *,
                              file_name: str | None = None) -> IntegratedImportSummary:
    """F1b ⑥: match answers to requests by request ID (C10) and store the integrated numbers.

    ``source`` is the answer package (a path, or its bytes), or — for tests and manual
    recovery — the bare CSV bytes."""
    data, package_id = _answer_bytes(unit, source, file_name)
    table = read_table(data, "integrated_answer")
    con = unit.con
    done = con.execute("SELECT import_id, imported_at, counts FROM integrated_imports WHERE digest = ?", [table.digest]).fetchone()
    if done is not None:
        summary = IntegratedImportSummary(rows=table.rows, package_id=package_id, import_id=done[0],
                                          already_imported=True, already_imported_at=done[1].isoformat())
        unit.note(rows=table.rows, already_imported=True)
        return summary

    f = table.frame
    ans = pd.DataFrame({
        "line": table.lines,
        "request_id": f["request_id"].str.strip().to_numpy(dtype=object),
        "person_id": f["person_id"].str.strip().to_numpy(dtype=object),
        "result_code": f["result_code"].str.strip().str.normalize("NFKC").to_numpy(dtype=object),
        "integrated_number": f["integrated_number"].str.strip().str.normalize("NFKC").to_numpy(dtype=object),
    })
    con.register("_ia_df", ans)
    con.execute("CREATE OR REPLACE TEMP TABLE _ia AS SELECT line::BIGINT AS line, request_id::VARCHAR AS request_id,"
                " person_id::VARCHAR AS person_id, result_code::VARCHAR AS result_code,"
                " integrated_number::VARCHAR AS integrated_number FROM _ia_df")
    con.unregister("_ia_df")
    try:
        # Classify each answer line, first matching rule wins.
        con.execute(
            """CREATE OR REPLACE TEMP TABLE _ia_c AS
               WITH d AS (
                   SELECT *, count(*) OVER (PARTITION BY request_id) AS n,
                          count(DISTINCT result_code || '|' || integrated_number) OVER (PARTITION BY request_id) AS variants,
                          row_number() OVER (PARTITION BY request_id ORDER BY line) AS k
                   FROM _ia)
               SELECT d.line, d.request_id, d.person_id, d.result_code, d.integrated_number,
                   CASE
                     WHEN d.result_code NOT IN ('00', '10', '90')
                          OR (d.result_code = '00' AND NOT regexp_full_match(d.integrated_number, '[0-9]{15}'))
                          OR d.request_id = '' THEN 'malformed'
                     WHEN r.request_id IS NULL OR r.person_id <> d.person_id THEN 'unknown'
                     WHEN d.n > 1 AND (d.variants > 1 OR d.k > 1) THEN 'duplicate'
                     WHEN r.status <> 'open' THEN 'stale'
                     WHEN d.result_code = '00' AND EXISTS (
                          SELECT 1 FROM integrated_numbers x
                          WHERE x.integrated_number = d.integrated_number AND x.person_id <> d.person_id) THEN 'conflict'
                     ELSE 'ok'
                   END AS outcome
               FROM d LEFT JOIN integrated_requests r ON r.request_id = d.request_id"""
        )
        # The same new integrated number for two people in one file: neither is stored.
        con.execute(
            """UPDATE _ia_c SET outcome = 'conflict' WHERE outcome = 'ok' AND result_code = '00' AND integrated_number IN (
                   SELECT integrated_number FROM _ia_c WHERE outcome = 'ok' AND result_code = '00'
                   GROUP BY 1 HAVING count(DISTINCT person_id) > 1)"""
        )
        counts = dict(con.execute("SELECT outcome, count(*) FROM _ia_c GROUP BY 1").fetchall())
        ok = dict(con.execute("SELECT result_code, count(*) FROM _ia_c WHERE outcome = 'ok' GROUP BY 1").fetchall())
        import_id = "J" + uuid.uuid4().hex[:11].upper()
        con.execute(
            """INSERT INTO integrated_numbers (person_id, integrated_number, request_id, obtained_at)
               SELECT c.person_id, c.integrated_number, c.request_id, ? FROM _ia_c c
               WHERE c.outcome = 'ok' AND c.result_code = '00'
                 AND NOT EXISTS (SELECT 1 FROM integrated_numbers x WHERE x.person_id = c.person_id)""",
            [unit.now],
        )
        con.execute(
            """UPDATE integrated_requests AS r
               SET status = CASE c.result_code WHEN '00' THEN 'answered' WHEN '10' THEN 'not_found' ELSE 'error' END,
                   result_code = c.result_code, answered_at = ?, import_id = ?
               FROM _ia_c c WHERE c.outcome = 'ok' AND r.request_id = c.request_id""",
            [unit.now, import_id],
        )
        # Requests left open in the batches this file answers (all open ones if it matched none).
        unanswered = int(con.execute(
            """SELECT count(*) FROM integrated_requests r WHERE r.status = 'open'
               AND (r.batch_id IN (SELECT q.batch_id FROM _ia_c c JOIN integrated_requests q USING (request_id))
                    OR NOT EXISTS (SELECT 1 FROM _ia_c c JOIN integrated_requests q USING (request_id)))"""
        ).fetchone()[0])  # type: ignore[index]
        problem_rows = con.execute(
            f"SELECT line, outcome FROM _ia_c WHERE outcome NOT IN ('ok') ORDER BY line LIMIT {MAX_LISTED}"
        ).fetchall()
    finally:
        con.execute("DROP TABLE IF EXISTS _ia")
        con.execute("DROP TABLE IF EXISTS _ia_c")

    summary = IntegratedImportSummary(
        rows=table.rows, stored=int(ok.get("00", 0)), not_found=int(ok.get("10", 0)), errors=int(ok.get("90", 0)),
        unanswered=unanswered, unknown=int(counts.get("unknown", 0)), duplicate=int(counts.get("duplicate", 0)),
        stale=int(counts.get("stale", 0)), malformed=int(counts.get("malformed", 0)),
        conflict=int(counts.get("conflict", 0)), package_id=package_id, import_id=import_id,
        problems=[{"line": int(line), "reason": r, "message_ja": PROBLEMS[r][0], "message_en": PROBLEMS[r][1]}
                  for line, r in problem_rows],
    )
    con.execute("INSERT INTO integrated_imports VALUES (?, ?, ?, ?, ?, ?, ?)",
                [import_id, table.digest, package_id, table.rows, json.dumps(summary.counts()), unit.now, unit.user_id])
    unit.note(target=import_id, **summary.counts())
    return summary
