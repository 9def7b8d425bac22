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
database after every unit of work; :func:`verify` checks the log against them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from .errors import AuditFailure, AuditIntegrityError

__all__ = [
    "GENESIS",
    "AuditRecord",
    "AuditReport",
    "append",
    "pseudonym",
    "read_heads",
    "verify",
    "write_head",
]

GENESIS = "0" * 64
_FIELDS = ("seq", "logged_at", "user_ref", "operation", "target_ref", "params", "outcome")


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
        last = con.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
        rec_params = json.dumps(dict(params or {}), ensure_ascii=False, sort_keys=True, default=str)
        record = AuditRecord(
            seq, _utc(at), pseudonym(key, user_id), operation,
            pseudonym(key, target) if target is not None else None, rec_params, outcome, prev, "",
        )
        record = dataclasses.replace(record, hash=record.computed_hash())
        con.execute("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", list(dataclasses.astuple(record)))
    except duckdb.Error as exc:
        raise AuditFailure(
            "The audit record could not be written, so the operation was not carried out.",
            "操作ログを書き込めなかったため、操作は実行されませんでした。",
            cause=type(exc).__name__,
        ) from None
    return record


@dataclass(frozen=True)
class AuditReport:
    ok: bool
    records: int
    first_bad_seq: int | None = None
    reason: str | None = None
    heads_checked: int = 0

    def message(self) -> tuple[str, str]:
        if self.ok:
            return (
                f"操作ログ {self.records:,} 件の改ざんは検出されませんでした（署名付きヘッド {self.heads_checked} 件と照合）。",
                f"No tampering found in {self.records:,} audit records (checked against {self.heads_checked} signed heads).",
            )
        return (
            f"操作ログの記録 {self.first_bad_seq} 番に異常があります: {self.reason}",
            f"Audit record {self.first_bad_seq} is not as written: {self.reason}",
        )


def verify(
    con: duckdb.DuckDBPyConnection, *, key: bytes, heads: list[dict[str, Any]] | None = None
) -> AuditReport:
    """Walk the chain; name the first bad record.  Check the signed heads if given."""
    cur = con.execute(f"SELECT {', '.join(_FIELDS)}, prev_hash, hash FROM audit_log ORDER BY seq")
    prev = GENESIS
    expected_seq = 1
    count = 0
    hashes: dict[int, str] = {}
    wanted = {int(h["seq"]) for h in heads or []}
    while rows := cur.fetchmany(10_000):
        for row in rows:
            rec = AuditRecord(*row)
            if rec.seq != expected_seq:
                bad = expected_seq if rec.seq > expected_seq else rec.seq
                return AuditReport(False, count, bad, "record missing or out of order / 記録の欠落または順序の入れ替え")
            if rec.prev_hash != prev:
                return AuditReport(False, count, rec.seq, "chain broken (record removed, inserted or reordered) / 連鎖の断絶（削除・挿入・並べ替え）")
            if rec.computed_hash() != rec.hash:
                return AuditReport(False, count, rec.seq, "record edited / 記録の改変")
            if rec.seq in wanted:
                hashes[rec.seq] = rec.hash
            prev = rec.hash
            expected_seq += 1
            count += 1
    checked = 0
    for head in heads or []:
        if not hmac.compare_digest(head.get("mac", ""), _head_mac(key, head)):
            return AuditReport(False, count, int(head.get("seq", 0)), "signed head forged or damaged / 署名付きヘッドの改ざん")
        seq = int(head["seq"])
        if seq > count:
            return AuditReport(False, count, count + 1, f"log truncated: a signed head records {seq} records / 末尾の削除（署名付きヘッドでは {seq} 件）")
        if hashes.get(seq) != head["hash"]:
            return AuditReport(False, count, seq, "record differs from its signed head / 署名付きヘッドと不一致")
        checked += 1
    return AuditReport(True, count, heads_checked=checked)


def _head_mac(key: bytes, head: Mapping[str, Any]) -> str:
    body = json.dumps([head["seq"], head["hash"], head["at"]], separators=(",", ":"))
    return hmac.new(key, b"audit-head:" + body.encode("ascii"), hashlib.sha256).hexdigest()


def write_head(con: duckdb.DuckDBPyConnection, *, key: bytes, path: Path, at: dt.datetime) -> dict[str, Any] | None:
    """Append the current head (count and last hash, MAC'd) to the heads file."""
    last = con.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    if last is None:
        return None
    head: dict[str, Any] = {"seq": int(last[0]), "hash": last[1], "at": _utc(at)}
    head["mac"] = _head_mac(key, head)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="ascii") as f:
        f.write(json.dumps(head) + "\n")
    return head


def read_heads(path: Path, *, keep: int = 64) -> list[dict[str, Any]]:
    """The heads to check: a spread over the file's whole history plus the newest."""
    try:
        lines = path.read_text("ascii").splitlines()
    except FileNotFoundError:
        return []
    heads = []
    for line in lines:
        try:
            heads.append(json.loads(line))
        except ValueError:
            heads.append({"seq": 0, "hash": "", "at": "", "mac": "damaged"})
    if len(heads) <= keep:
        return heads
    step = max(1, len(heads) // keep)
    return [*heads[::step], heads[-1]]


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
