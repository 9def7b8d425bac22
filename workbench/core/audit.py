"""The audit log (操作ログ): hash-chained, pseudonymised, written in the caller's transaction.

DESIGN §5, C4.  Every service call (allowed or denied), every login and logout
appends one record in the *same transaction* as its work, so either both happen or
neither does; if the record cannot be written the operation fails (fail closed).

Identifiers never appear in clear: user IDs and targets are keyed HMACs
(:func:`pseudonym`), so an auditor can search for "everything done to person X" by
computing X's pseudonym with the workspace key, while a copy of the log alone reveals
no one.  Each record's hash covers its fields and the previous record's hash;
:func:`verify` names the first record that was edited, removed, reordered or
inserted.  Removing records from the *end* keeps the chain valid, so signed heads
(count and last hash, MAC'd with the audit key) are appended to a file outside the
database after every unit of work; :func:`verify` checks the log against them, and
:func:`tail_problem` checks the newest one cheaply at the start of every unit of work.

Fail closed (issue 10): a problem found raises an alarm (:func:`raise_alarm`) that stops
every write and reveal until an auditor acknowledges it, which opens a new *epoch* of
heads.  Because the log and its heads file could be restored together from an older
copy, heads can be copied to an *anchor* outside the workspace (:func:`anchor_line`)
and the log verified against it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from workbench.core import labels
from workbench.core.errors import AuditFailure, AuditIntegrityError
from workbench.core.store import LANES

__all__ = [
    "GENESIS",
    "OUTCOMES",
    "PROBLEMS",
    "AuditRecord",
    "AuditReport",
    "alarm_problems",
    "alarm_refusal",
    "anchor_line",
    "append",
    "current_epoch",
    "epochs",
    "heads_index",
    "last_head",
    "open_alarms",
    "pseudonym",
    "raise_alarm",
    "read_anchor",
    "read_heads",
    "tail_problem",
    "verify",
    "write_head",
]

GENESIS = "0" * 64
_FIELDS = ("seq", "logged_at", "user_ref", "operation", "target_ref", "params", "outcome")

#: How an audited operation ended (the record's ``outcome``): done, refused a permission, or
#: refused with a reason.
OUTCOMES: dict[str, tuple[str, str]] = {"ok": ("成功", "succeeded"), "denied": ("拒否", "denied"),
                                        "refused": ("差戻し", "refused")}
labels.register("outcome", OUTCOMES)


def pseudonym(key: bytes, identifier: str) -> str:
    """Keyed HMAC of an identifier, as it appears in the log."""
    return hmac.new(key, identifier.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    logged_at: str
    user_ref: str
    operation: str
    target_ref: str | None
    params: str
    outcome: str
    prev_hash: str
    hash: str

    def computed_hash(self) -> str:
        return _hash(self.prev_hash, [getattr(self, f) for f in _FIELDS])


def _hash(prev: str, values: Iterable[Any]) -> str:
    body = json.dumps([prev, *values], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _utc(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def append(
    con: duckdb.DuckDBPyConnection,
    *,
    key: bytes,
    at: dt.datetime,
    user_id: str,
    operation: str,
    outcome: str,
    target: str | None = None,
    params: Mapping[str, Any] | None = None,
) -> AuditRecord:
    """Append one record in the caller's open transaction; raise AuditFailure if it cannot."""
    try:
        lane = LANES.get(id(con))  # in the data server: the chain's tail is kept in memory
        last = lane.reserve(con) if lane is not None else \
            con.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
        rec_params = json.dumps(dict(params or {}), ensure_ascii=False, sort_keys=True, default=str)
        record = AuditRecord(
            seq, _utc(at), pseudonym(key, user_id), operation,
            pseudonym(key, target) if target is not None else None, rec_params, outcome, prev, "",
        )
        record = dataclasses.replace(record, hash=record.computed_hash())
        con.execute("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", list(dataclasses.astuple(record)))
        if lane is not None:
            lane.record(con, record.seq, record.hash)
    except duckdb.Error as exc:
        raise AuditFailure(
            "The audit record could not be written, so the operation was not carried out.",
            "操作ログを書き込めなかったため、操作は実行されませんでした。",
            cause=type(exc).__name__,
        ) from None
    return record


#: Every kind of damage verification can name, in Japanese and English.
PROBLEMS: dict[str, tuple[str, str]] = {
    "missing": ("記録の欠落または順序の入れ替え", "record missing or out of order"),
    "chain": ("連鎖の断絶（削除・挿入・並べ替え）", "chain broken (record removed, inserted or reordered)"),
    "edited": ("記録の改変", "record edited"),
    "head_forged": ("署名付きヘッドの改ざん", "signed head forged or damaged"),
    "head_mismatch": ("署名付きヘッドと不一致", "record differs from its signed head"),
    "truncated": ("末尾の削除（truncated）: 署名付きヘッドにある記録がありません",
                  "log truncated: the tail is missing (a signed head records more)"),
    "heads_missing": ("署名付きヘッドのファイルがありません", "the signed heads file is missing"),
    "heads_behind": ("署名付きヘッドのファイルが古い（巻き戻し）", "the signed heads file is older than the log (rolled back)"),
    "heads_truncated": ("署名付きヘッドのファイルが短い（truncated）: アンカーにあるヘッドがありません",
                        "the signed heads file is truncated: a head in the anchor is missing from it"),
    "rolled_back": ("巻き戻し: 署名付きヘッドより古いデータベースです", "rolled back: the database is older than a signed head"),
    "anchor_missing": ("アンカーのファイルがないか空です", "the anchor file is missing or empty"),
    "anchor_forged": ("アンカーの改ざん、または別のワークスペースのアンカー", "anchor forged, damaged or of another workspace"),
}

#: Problems kept per verification (a wholly rewritten log should not fill memory).
MAX_PROBLEMS = 1000


@dataclass(frozen=True)
class AuditReport:
    ok: bool
    records: int
    first_bad_seq: int | None = None
    reason: str | None = None
    heads_checked: int = 0
    #: Every problem found, as (record, code), including those an auditor acknowledged.
    problems: tuple[tuple[int, str], ...] = ()
    #: Of those, how many were acknowledged earlier (``workbench audit acknowledge``).
    acknowledged: int = 0
    anchor_checked: int = 0

    def message(self) -> tuple[str, str]:
        if self.ok:
            known = (f"（既知・確認済みの異常 {self.acknowledged:,} 件を除く）", f" (apart from {self.acknowledged} acknowledged)") \
                if self.acknowledged else ("", "")
            anchored = (f"、アンカー {self.anchor_checked:,} 件", f" and {self.anchor_checked} anchored heads") \
                if self.anchor_checked else ("", "")
            return (
                f"操作ログ {self.records:,} 件の改ざんは検出されませんでした（署名付きヘッド {self.heads_checked:,} 件{anchored[0]}と照合）{known[0]}。",
                f"No tampering found in {self.records:,} audit records (checked against {self.heads_checked} signed heads"
                f"{anchored[1]}){known[1]}.",
            )
        return (
            f"操作ログの記録 {self.first_bad_seq} 番に異常があります: {self.reason}",
            f"Audit record {self.first_bad_seq} is not as written: {self.reason}",
        )


def problem_text(code: str) -> str:
    ja, en = PROBLEMS.get(code, (code, code))
    return f"{en} / {ja}"


def _epoch_of(head: Mapping[str, Any]) -> int:
    return int(head.get("epoch", 0))


def _heads_to_check(heads: list[dict[str, Any]], epoch: int, baselines: Mapping[int, int]) -> list[dict[str, Any]]:
    """Heads of earlier epochs are checked only against the records that existed when the
    next epoch was opened (an acknowledgement accepted what happened after)."""
    return [h for h in heads if _epoch_of(h) >= epoch or int(h.get("seq", 0)) <= baselines.get(_epoch_of(h) + 1, 0)]


def verify(
    con: duckdb.DuckDBPyConnection,
    *,
    key: bytes,
    heads: list[dict[str, Any]] | None = None,
    anchor: list[dict[str, Any]] | None = None,
    heads_index: set[tuple[int, int, str]] | None = None,
    workspace_id: str | None = None,
    known: Iterable[tuple[int, str]] = (),
) -> AuditReport:
    """Walk the whole chain, check the signed heads (and an anchor, if given), and name the
    first problem no auditor has acknowledged.

    The walk does not stop at the first problem: it notes it and carries on from the
    record as stored, so damage after an acknowledged break is still found.  A log with
    records but no signed heads is a failure.  ``anchor`` lines must each be found in the
    log and (``heads_index``: every (epoch, seq, hash) in the heads file) in the heads file.
    ``known`` are problems found earlier (an open alarm's), which fail the report until
    acknowledged even if the evidence is gone (a deleted heads file written afresh).
    """
    epoch, baselines, accepted = epochs(con)
    cur = con.execute(f"SELECT {', '.join(_FIELDS)}, prev_hash, hash FROM audit_log ORDER BY seq")
    problems: list[tuple[int, str]] = []

    def found(seq: int, code: str) -> None:
        if len(problems) < MAX_PROBLEMS and (seq, code) not in problems:
            problems.append((seq, code))

    for seq, code in known:
        found(seq, code)
    prev, expected_seq, count, last_seq = GENESIS, 1, 0, 0
    hashes: dict[int, str] = {}
    wanted = {int(h.get("seq", 0)) for h in [*(heads or []), *(anchor or [])]}
    while rows := cur.fetchmany(10_000):
        for row in rows:
            rec = AuditRecord(*row)
            if rec.seq != expected_seq:
                found(expected_seq if rec.seq > expected_seq else rec.seq, "missing")
            elif rec.prev_hash != prev:
                found(rec.seq, "chain")
            if rec.computed_hash() != rec.hash:
                found(rec.seq, "edited")
            if rec.seq in wanted:
                hashes[rec.seq] = rec.hash
            prev, expected_seq, last_seq = rec.hash, rec.seq + 1, rec.seq
            count += 1
    if count and not heads:
        found(last_seq, "heads_missing")
    checked = 0
    for head in _heads_to_check(list(heads or []), epoch, baselines):
        if not hmac.compare_digest(str(head.get("mac", "")), _head_mac(key, head)):
            found(int(head.get("seq", 0) or 0), "head_forged")
            continue
        checked += _check_head(head, epoch, last_seq, hashes, found)
    anchored = 0
    if anchor is not None:
        if not anchor:
            found(0, "anchor_missing")
        for line in _heads_to_check(anchor, epoch, baselines):
            if not _anchor_ok(key, line, workspace_id):
                found(int(line.get("seq", 0) or 0), "anchor_forged")
                continue
            anchored += _check_head(line, epoch, last_seq, hashes, found)
            if heads_index is not None and (_epoch_of(line), int(line["seq"]), line["hash"]) not in heads_index:
                found(int(line["seq"]), "heads_truncated")
    open_problems = sorted((p for p in problems if p not in accepted), key=lambda p: p[0])  # the earliest first
    if open_problems:
        seq, code = open_problems[0]
        return AuditReport(False, count, seq, problem_text(code), checked, tuple(problems),
                           len(problems) - len(open_problems), anchored)
    return AuditReport(True, count, heads_checked=checked, problems=tuple(problems), acknowledged=len(problems),
                       anchor_checked=anchored)


def _check_head(head: Mapping[str, Any], epoch: int, last_seq: int, hashes: Mapping[int, str],
                found: Callable[[int, str], None]) -> int:
    seq = int(head["seq"])
    if _epoch_of(head) > epoch:
        found(seq, "rolled_back")  # the database is older than an acknowledgement the head saw
    elif seq > last_seq:
        found(last_seq + 1, "truncated")
    elif hashes.get(seq) != head["hash"]:
        found(seq, "head_mismatch")
    else:
        return 1
    return 0


def _head_mac(key: bytes, head: Mapping[str, Any]) -> str:
    values: list[Any] = [head["seq"], head["hash"], head["at"]]
    if _epoch_of(head):  # heads of epoch 0 keep the original layout
        values.append(_epoch_of(head))
    body = json.dumps(values, separators=(",", ":"))
    return hmac.new(key, b"audit-head:" + body.encode("ascii"), hashlib.sha256).hexdigest()


def current_epoch(con: duckdb.DuckDBPyConnection) -> int:
    """How many times an auditor acknowledged a broken log (0 before the table exists)."""
    try:
        row = con.execute("SELECT coalesce(max(epoch), 0) FROM audit_epochs").fetchone()
    except duckdb.CatalogException:
        return 0
    return int(row[0]) if row else 0


def epochs(con: duckdb.DuckDBPyConnection) -> tuple[int, dict[int, int], set[tuple[int, str]]]:
    """The current epoch, each epoch's baseline record, and every problem acknowledged."""
    try:
        rows = con.execute("SELECT epoch, baseline_seq, problems FROM audit_epochs ORDER BY epoch").fetchall()
        alarms = con.execute("SELECT problems FROM audit_alarms WHERE acknowledged_at IS NOT NULL").fetchall()
    except duckdb.CatalogException:
        return 0, {}, set()
    accepted = {(int(s), str(c)) for r in rows for s, c in json.loads(r[2])}
    accepted |= {(int(s), str(c)) for r in alarms for s, c in json.loads(r[0])}
    return (rows[-1][0] if rows else 0), {int(r[0]): int(r[1]) for r in rows}, accepted


def write_head(con: duckdb.DuckDBPyConnection, *, key: bytes, path: Path, at: dt.datetime) -> dict[str, Any] | None:
    """Append the current head (count and last hash, MAC'd) to the heads file."""
    last = con.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    if last is None:
        return None
    head: dict[str, Any] = {"seq": int(last[0]), "hash": last[1], "at": _utc(at)}
    epoch = current_epoch(con)
    if epoch:
        head["epoch"] = epoch
    head["mac"] = _head_mac(key, head)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(head) + "\n"
    with path.open("ab") as f:
        if f.tell() and _last_byte(path) != b"\n":
            line = "\n" + line  # a line cut short by a crash stays on its own line
        f.write(line.encode("ascii"))  # one write: a kill cannot leave half of it
    return head


def _last_byte(path: Path) -> bytes:
    with path.open("rb") as f:
        f.seek(-1, 2)
        return f.read(1)


def _parse_head(line: str) -> dict[str, Any]:
    try:
        head = json.loads(line)
        if not isinstance(head, dict) or not isinstance(head.get("seq"), int) or not isinstance(head.get("hash"), str):
            raise ValueError
        return head
    except ValueError:
        return {"seq": 0, "hash": "", "at": "", "mac": "damaged"}


def read_heads(path: Path, *, keep: int = 64) -> list[dict[str, Any]]:
    """The heads to check: a spread over the file's whole history plus the newest."""
    try:
        lines = path.read_text("ascii").splitlines()
    except FileNotFoundError:
        return []
    heads = [_parse_head(line) for line in lines if line.strip()]
    if len(heads) <= keep:
        return heads
    step = max(1, len(heads) // keep)
    return [*heads[::step], heads[-1]]


def heads_index(path: Path) -> set[tuple[int, int, str]]:
    """Every (epoch, seq, hash) in the heads file, to find an anchored head in it."""
    out: set[tuple[int, int, str]] = set()
    try:
        with path.open("r", encoding="ascii") as f:
            for line in f:
                if line.strip():
                    head = _parse_head(line)
                    out.add((_epoch_of(head), int(head["seq"]), str(head["hash"])))
    except FileNotFoundError:
        pass
    return out


def last_head(path: Path) -> dict[str, Any] | None:
    """The newest head, read from the end of the file (cheap, for every unit of work)."""
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 4096))
            raw = f.read()
            tail = raw.decode("ascii", "replace").splitlines()
    except FileNotFoundError:
        return None
    if tail and not raw.endswith(b"\n"):
        tail = tail[:-1]  # a line cut short by a crash is not a head
    lines = [line for line in tail if line.strip()]
    return _parse_head(lines[-1]) if lines else None


def tail_problem(
    con: duckdb.DuckDBPyConnection, *, key: bytes, heads_path: Path, limit: int = 1000
) -> tuple[int, str] | None:
    """The cheap check at the start of every unit of work: the newest signed head is genuine,
    its record is as signed, and the few records written after it chain to it unaltered."""
    last = con.execute("SELECT max(seq) FROM audit_log").fetchone()
    last_seq = int(last[0]) if last and last[0] is not None else 0
    head = last_head(heads_path)
    if head is None:
        return (last_seq, "heads_missing") if last_seq else None
    seq = int(head["seq"])
    if not hmac.compare_digest(str(head.get("mac", "")), _head_mac(key, head)):
        return seq, "head_forged"
    if _epoch_of(head) > current_epoch(con):
        return seq, "rolled_back"
    if seq > last_seq:
        return last_seq + 1, "truncated"
    if last_seq - seq > limit:
        return seq, "heads_behind"
    rows = con.execute(
        f"SELECT {', '.join(_FIELDS)}, prev_hash, hash FROM audit_log WHERE seq >= ? ORDER BY seq", [seq]
    ).fetchall()
    records = [AuditRecord(*r) for r in rows]
    if not records or records[0].seq != seq or records[0].hash != head["hash"]:
        return seq, "head_mismatch"
    prev = records[0]
    for rec in records:
        if rec.computed_hash() != rec.hash:
            return rec.seq, "edited"
        if rec is not prev:
            if rec.seq != prev.seq + 1:
                return prev.seq + 1, "missing"
            if rec.prev_hash != prev.hash:
                return rec.seq, "chain"
        prev = rec
    return None


# -- anchoring: signed heads kept outside the workspace -------------------------------


def _anchor_mac(key: bytes, line: Mapping[str, Any]) -> str:
    body = json.dumps([line.get("workspace_id"), _epoch_of(line), line["seq"], line["hash"], line["at"],
                       line.get("anchored_at")], separators=(",", ":"))
    return hmac.new(key, b"audit-anchor:" + body.encode("utf-8"), hashlib.sha256).hexdigest()


def _anchor_ok(key: bytes, line: Mapping[str, Any], workspace_id: str | None) -> bool:
    try:
        good = hmac.compare_digest(str(line.get("anchor_mac", "")), _anchor_mac(key, line))
        return good and (workspace_id is None or line.get("workspace_id") == workspace_id)
    except (KeyError, TypeError):
        return False


def read_anchor(path: Path) -> list[dict[str, Any]]:
    """Every line of an anchor file ([] if it is missing or empty)."""
    try:
        lines = path.read_text("utf-8").splitlines()
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError):
        return [{"seq": 0, "hash": "", "at": "", "anchor_mac": "damaged"}]
    return [_parse_head(line) for line in lines if line.strip()]


def anchor_line(key: bytes, head: Mapping[str, Any], *, workspace_id: str, at: dt.datetime) -> dict[str, Any]:
    """A head as written to an anchor: with the workspace it belongs to, MAC'd again."""
    line = {"workspace_id": workspace_id, **{k: v for k, v in head.items() if k != "mac"}, "anchored_at": _utc(at)}
    line["anchor_mac"] = _anchor_mac(key, line)
    return line


# -- alarms: a broken log stops work until an auditor records what happened (fail closed) --


def open_alarms(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Alarms raised and not yet acknowledged, oldest first."""
    rows = con.execute(
        "SELECT alarm_id, raised_at, source, first_bad_seq, reason FROM audit_alarms"
        " WHERE acknowledged_at IS NULL ORDER BY raised_at, alarm_id"
    ).fetchall()
    cols = ("alarm_id", "raised_at", "source", "first_bad_seq", "reason")
    return [dict(zip(cols, r, strict=True)) for r in rows]


def alarm_refusal(alarms: list[dict[str, Any]]) -> AuditIntegrityError:
    """The refusal every write and reveal gets while an alarm is open."""
    first = alarms[0]
    return AuditIntegrityError(
        f"The audit log was found broken ({first['reason']}, record {first['first_bad_seq']}); every change and"
        " every reveal is stopped until an auditor records what happened (`workbench audit acknowledge`).",
        f"操作ログの異常が見つかりました（{first['reason']}、記録 {first['first_bad_seq']} 番）。監査担当が経緯を記録する"
        "（`workbench audit acknowledge`）まで、すべての更新と番号の表示を停止しています。",
        reason=str(first["reason"]), alarm_id=str(first["alarm_id"]), alarms=len(alarms),
    )


def raise_alarm(
    con: duckdb.DuckDBPyConnection,
    *,
    key: bytes,
    at: dt.datetime,
    source: str,
    problems: list[tuple[int, str]],
    user_id: str = "system",
) -> str | None:
    """Record an alarm for ``problems`` (in the caller's transaction) unless one already open
    covers the first of them; returns its ID, or ``None`` when it was already raised."""
    problems = sorted(problems, key=lambda p: p[0])
    seq, code = problems[0]
    if any(a["reason"] == code and a["first_bad_seq"] == seq for a in open_alarms(con)):
        return None
    alarm_id = "L" + uuid.uuid4().hex[:11].upper()
    con.execute(
        "INSERT INTO audit_alarms (alarm_id, raised_at, source, first_bad_seq, reason, problems)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [alarm_id, at, source, seq, code, json.dumps([list(p) for p in problems])],
    )
    append(con, key=key, at=at, user_id=user_id, operation="audit.alarm", outcome="failed",
           params={"alarm_id": alarm_id, "source": source, "first_bad_seq": seq, "reason": code,
                   "problems": len(problems)})
    return alarm_id


def alarm_problems(con: duckdb.DuckDBPyConnection) -> list[tuple[int, str]]:
    """Every problem recorded with an alarm not yet acknowledged."""
    rows = con.execute("SELECT problems FROM audit_alarms WHERE acknowledged_at IS NULL ORDER BY raised_at").fetchall()
    return [(int(seq), str(code)) for row in rows for seq, code in json.loads(row[0])]
