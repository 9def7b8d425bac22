"""The encrypted DuckDB store, its cross-process lock and its migrations.

DESIGN §3.  DuckDB admits either one read-write process or several read-only ones,
and Voila runs one kernel process per browser tab, so no process keeps the database
open: each unit of work takes an OS file lock, opens the encrypted file, runs one
transaction, commits and closes.  A process that waits for the lock sees who holds
it ("waiting for <operation> by <user> since <time>") and gives up after a bounded
wait with :class:`~workbench.core.errors.LockTimeout`, never a raw DuckDB lock error.

The file is encrypted with DuckDB's AES-256-GCM database encryption (data blocks, WAL
and temporary files).  Writing encrypted files needs the OpenSSL-backed ``httpfs``
extension, which the pinned ``duckdb-extension-httpfs`` package ships for exactly the
pinned DuckDB version; it is loaded by path with auto-install and auto-load off.

Loading it means DuckDB checks its signature over 21 MB, about 0.1 s, which was most of what a unit
of work cost.  So a process keeps a few DuckDB instances with the extension loaded and nothing
attached (:class:`_Hosts`); a unit borrows one, attaches the file, works, and detaches it again
(DuckDB checkpoints and lets go of the file) before the lock is released.  Between units no file
is open, exactly as before; only the verified extension stays loaded.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from workbench.core.errors import LockTimeout, StoreError, WrongKey

__all__ = ["LANES", "MIGRATIONS", "PLAINTEXT_FOR_TESTS", "WAITED", "AuditLane", "FairQueue", "GroupCommit",
           "LockHolder", "ResidentStore", "Store", "WorkspaceLock", "attach_sql", "begin_sql", "httpfs_extension_path", "wrote_in_read"]

#: TEST ONLY.  The "key" that means: attach the file without DuckDB encryption.  Only a
#: keyring flagged by ``Workspace`` for a pytest run (``Settings.test_plaintext_database``
#: and ``WORKBENCH_TEST_PLAINTEXT_DB=1``) ever hands it out; it is not valid hex, so it can
#: never be mistaken for a key.
PLAINTEXT_FOR_TESTS = "plaintext-for-tests-only"


def attach_sql(db_path: Path, alias: str, key_hex: str) -> str:
    """The ATTACH statement for an encrypted database file (plain only in the test-only mode)."""
    if key_hex == PLAINTEXT_FOR_TESTS:
        return f"ATTACH '{db_path}' AS {alias}"
    if not re.fullmatch(r"[0-9a-f]{64}", key_hex):
        raise StoreError("The database key is malformed.", "データベースの鍵の形式が誤っています。")
    # The key is hex, so it cannot break out of the literal.
    return f"ATTACH '{db_path}' AS {alias} (ENCRYPTION_KEY '{key_hex}')"


def httpfs_extension_path() -> Path:
    """The signed httpfs extension shipped for the installed DuckDB version."""
    import duckdb_extension_httpfs

    base = Path(duckdb_extension_httpfs.__file__).parent / "extensions"
    path = base / f"v{duckdb.__version__}" / "httpfs.duckdb_extension"
    if not path.exists():
        raise StoreError(
            f"The httpfs extension for DuckDB {duckdb.__version__} is not installed; "
            "install the duckdb-extension-httpfs package of the same version.",
            f"DuckDB {duckdb.__version__} 用の httpfs 拡張がありません。同じ版の "
            "duckdb-extension-httpfs をインストールしてください。",
        )
    return path


def begin_sql(read_only: bool = False) -> str:
    """``BEGIN`` for a unit of work; ``READ ONLY`` for a read's work (DuckDB refuses writes to the database)."""
    return "BEGIN TRANSACTION READ ONLY" if read_only else "BEGIN TRANSACTION"


def wrote_in_read(exc: BaseException) -> bool:
    """Whether DuckDB refused a write because the transaction is read-only."""
    return isinstance(exc, duckdb.Error) and "read-only mode" in str(exc)


# -- the lock ---------------------------------------------------------------------


@dataclass(frozen=True)
class LockHolder:
    operation: str
    user: str
    pid: int
    since: str

    def describe(self) -> tuple[str, str]:
        return (
            f"{self.user} による「{self.operation}」の処理（{self.since} から）を待っています",
            f"waiting for {self.operation} by {self.user} since {self.since}",
        )


class WorkspaceLock:
    """An exclusive ``flock`` on a file in the workspace, with a bounded, visible wait."""

    def __init__(
        self,
        path: Path,
        *,
        timeout: float = 30.0,
        on_wait: Callable[[LockHolder | None], None] | None = None,
    ) -> None:
        self.path = path
        self.holder_path = path.with_suffix(".holder")
        self.timeout = timeout
        self.on_wait = on_wait

    def holder(self) -> LockHolder | None:
        try:
            return LockHolder(**json.loads(self.holder_path.read_text("utf-8")))
        except (OSError, ValueError, TypeError):
            return None

    @contextlib.contextmanager
    def hold(self, operation: str, user: str) -> Iterator[None]:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + self.timeout
            delay = 0.01
            reported = False
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    holder = self.holder()
                    if not reported and self.on_wait is not None:
                        self.on_wait(holder)
                        reported = True
                    if time.monotonic() >= deadline:
                        ja, en = holder.describe() if holder else ("他の処理を待っています", "waiting for another operation")
                        raise LockTimeout(
                            f"The workspace stayed busy for {self.timeout:g} s ({en}); try again shortly.",
                            f"ワークスペースが {self.timeout:g} 秒間使用中でした（{ja}）。しばらくしてから再実行してください。",
                            holder=holder.__dict__ if holder else None,
                        ) from None
                    time.sleep(delay)
                    delay = min(delay * 2, 0.2)
            since = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            self.holder_path.write_text(
                json.dumps({"operation": operation, "user": user, "pid": os.getpid(), "since": since}),
                "utf-8",
            )
            try:
                yield
            finally:
                with contextlib.suppress(OSError):
                    self.holder_path.write_text("", "utf-8")
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


# -- migrations -------------------------------------------------------------------

_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


def _migrations() -> list[tuple[int, str, str]]:
    found = []
    for entry in resources.files("workbench.migrations").iterdir():
        m = _MIGRATION_NAME.match(entry.name)
        if m:
            found.append((int(m.group(1)), m.group(2), entry.read_text("utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    # Numbers are unique and start at 1.  Branches developed side by side reserve number ranges
    # (issue 20: 0013-0019 elsewhere, 0020 here), so a branch alone may have a gap; each migration
    # is applied once, by number, whatever was applied before it.
    if len(set(versions)) != len(versions) or (versions and versions[0] != 1):
        raise StoreError("Migrations are not numbered uniquely from 1.", "マイグレーション番号が重複しているか、1 から始まっていません。")
    return found


MIGRATIONS = _migrations()


# -- the store --------------------------------------------------------------------

_CONFIG: dict[str, str | bool | int | float | list[str]] = {"autoinstall_known_extensions": False, "autoload_known_extensions": False, "threads": 2}


def _open_failure(exc: duckdb.Error) -> StoreError | WrongKey:
    """What a failed ATTACH of the workspace's file means, in both languages."""
    text = str(exc).lower()
    if "encrypt" in text or "key" in text:
        return WrongKey(
            "The database cannot be opened with this keyring's key (wrong key or damaged file);"
            " after an interrupted key rotation, run `workbench keys repair`.",
            "この鍵束の鍵ではデータベースを開けません（鍵の誤りまたはファイルの破損）。"
            "鍵の更新が中断した場合は `workbench keys repair` を実行してください。",
        )
    return StoreError(
        "The database file is damaged or not a workbench database; restore it from backup.",
        "データベースファイルが破損しているか、ワークベンチのデータベースではありません。バックアップから復元してください。",
        cause=type(exc).__name__,
    )


#: Compression DuckDB must not choose when it writes the file.  FSST string compression (``dict_fsst`` in the
#: storage version encryption needs, ``fsst`` in older ones) makes a fetch of one row decode its whole
#: vector, and DuckDB fetches every deleted row's keys one by one to keep the PRIMARY KEY / UNIQUE indexes
#: right: deleting 100,000 of 1,000,000 rows of a table keyed by a VARCHAR with a UNIQUE BLOB took 45 s
#: (delete and commit) with it and 1.3 s without (issue 22 item 8; benchmarks/README.md, bench_lifecycle).
#: The file is about a fifth larger.  It applies to what DuckDB writes from then on (a purge rewrites all).
DISABLED_COMPRESSION = "fsst,dict_fsst"


def _new_host(temp_dir: Path | None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB instance with the signed httpfs extension loaded (its signature checked)."""
    con = duckdb.connect(":memory:", config=_CONFIG)
    try:
        # Not accepted in the connect config (ignored there); a global setting of the instance.
        con.execute(f"SET disabled_compression_methods = '{DISABLED_COMPRESSION}'")
        con.execute(f"LOAD '{httpfs_extension_path()}'")
        if temp_dir is not None:
            con.execute(f"SET temp_directory = '{temp_dir}'")
    except BaseException:
        con.close()
        raise
    return con


class _Hosts:
    """This process's idle DuckDB instances, the extension loaded and no database attached.

    One is borrowed per unit of work (never shared by two at once), keyed by the temporary folder
    (an instance-wide setting DuckDB will not change once used), the file and a digest of its key
    (so an instance that attached under an old key is not kept after a rotation).  At most
    :attr:`KEEP` stay idle; the oldest are closed.  A forked child forgets its parent's instances
    (DuckDB's threads do not survive a fork)."""

    KEEP = 4

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[tuple[tuple[str, str, str], duckdb.DuckDBPyConnection]] = []
        self._forgotten: list[object] = []
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._forgotten.append(self._idle)  # never closed or freed here: they belong to the parent
        self._idle = []
        self._lock = threading.Lock()

    @staticmethod
    def _key(db_path: Path, key_hex: str, temp_dir: Path | None) -> tuple[str, str, str]:
        import hashlib

        return (str(temp_dir), str(db_path), hashlib.sha256(key_hex.encode()).hexdigest())

    def _take(self, key: tuple[str, str, str]) -> duckdb.DuckDBPyConnection | None:
        with self._lock:
            for i, (k, host) in enumerate(self._idle):
                if k == key:
                    del self._idle[i]
                    return host
        return None

    def _give_back(self, key: tuple[str, str, str], host: duckdb.DuckDBPyConnection) -> None:
        closing = []
        with self._lock:
            # the same file under another key (a rotation happened): that instance goes
            closing = [h for k, h in self._idle if k[:2] == key[:2] and k != key]
            self._idle = [(k, h) for k, h in self._idle if not (k[:2] == key[:2] and k != key)]
            self._idle.append((key, host))
            while len(self._idle) > self.KEEP:
                closing.append(self._idle.pop(0)[1])
        for old in closing:
            with contextlib.suppress(duckdb.Error):
                old.close()

    @contextlib.contextmanager
    def attached(self, db_path: Path, key_hex: str, temp_dir: Path | None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the file as the default catalog ``wb``; detached when the block ends."""
        key = self._key(db_path, key_hex, temp_dir)
        host = self._take(key) or _new_host(temp_dir)
        try:
            host.execute(attach_sql(db_path, "wb", key_hex))
        except duckdb.Error as exc:
            host.close()
            raise _open_failure(exc) from None
        except BaseException:
            host.close()
            raise
        clean = False
        try:
            con = host.cursor()
            try:
                con.execute("USE wb")
                yield con
            finally:
                con.close()  # an open transaction of the unit is rolled back with it
                with contextlib.suppress(duckdb.Error):
                    host.execute("DETACH wb")  # checkpoints and lets go of the file
                    clean = True
        finally:
            if clean:
                self._give_back(key, host)
            else:
                host.close()  # the instance goes, and the file with it


_HOSTS = _Hosts()



class Store:
    """Opens the encrypted database for one unit of work at a time."""

    def __init__(self, db_path: Path, lock: WorkspaceLock, key_hex: Callable[[], str], temp_dir: Path) -> None:
        self.db_path = db_path
        self.lock = lock
        self._key_hex = key_hex
        self.temp_dir = temp_dir

    @staticmethod
    def open_connection(db_path: Path, key_hex: str, temp_dir: Path | None = None) -> duckdb.DuckDBPyConnection:
        """Open the encrypted file as the default catalog ``wb`` in a DuckDB instance of its own
        (closing the connection closes the file).  Caller holds the lock.  Units of work use
        :meth:`transaction`, which borrows an instance that has the extension loaded already."""
        con = _new_host(temp_dir)
        try:
            con.execute(attach_sql(db_path, "wb", key_hex))
            con.execute("USE wb")
        except duckdb.Error as exc:
            con.close()
            raise _open_failure(exc) from None
        except BaseException:
            con.close()
            raise
        return con

    @contextlib.contextmanager
    def transaction(
        self,
        operation: str,
        user: str,
        *,
        after_commit: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
        writes: bool | None = None,
        read_only: bool = False,
        beside: bool = False,
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """Lock, open, ``BEGIN``; commit on success, roll back on any error; close.

        ``after_commit`` runs once the commit is durable, still under the lock (the
        audit head is written there, so heads never run ahead of the log).  ``writes`` (whether
        the unit changes more than the audit log) matters only to :class:`ResidentStore`.
        ``read_only`` begins a ``READ ONLY`` transaction (DuckDB refuses every write to the database
        in it; temporary tables stay allowed): a read's work, before its audit record.  ``beside`` (a
        login's write) matters only to :class:`ResidentStore` too.
        """
        with self.lock.hold(operation, user), _HOSTS.attached(self.db_path, self._key_hex(), self.temp_dir) as con:
            con.execute(begin_sql(read_only))
            try:
                yield con
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
            if after_commit is not None:
                after_commit(con)

    def migrate(self, user: str = "system") -> list[int]:
        """Apply every migration not yet applied, each in its own transaction."""
        applied: list[int] = []
        with self.lock.hold("migrate", user), _HOSTS.attached(self.db_path, self._key_hex(), self.temp_dir) as con:
            con.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
            )
            done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
            newest = max((v for v, _, _ in MIGRATIONS), default=0)
            if done and max(done) > newest:
                raise StoreError(
                    "This database was written by a newer workbench; upgrade the software.",
                    "このデータベースは新しい版のワークベンチで作成されています。ソフトウェアを更新してください。",
                )
            for version, name, sql in MIGRATIONS:
                if version in done:
                    continue
                con.execute("BEGIN TRANSACTION")
                try:
                    con.execute(sql)
                    con.execute(
                        "INSERT INTO schema_migrations VALUES (?, ?, now())", [version, name]
                    )
                    con.execute("COMMIT")
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                applied.append(version)
        return applied


# -- the resident store: one process keeps the database open (issue 19) -------------------------


class _Waited(threading.local):
    """Seconds this thread waited, per kind (``queue``: the writers' turn, ``lane``: the audit lane,
    ``gate``: an exclusive job), and held the audit lane (``held``: its commit and head; ``group``: a group
    commit of reads' records it made for others) — the data server's timing per call
    (``DataServer(timings=True)``)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def add(self, kind: str, since: float) -> None:
        self.seconds[kind] = self.seconds.get(kind, 0.0) + time.perf_counter() - since


WAITED = _Waited()


class FairQueue:
    """First come, first served: the writers' queue of the data server.  A wait is bounded
    (:class:`LockTimeout` naming who holds it) and a writer that gave up keeps no one else waiting."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._cond = threading.Condition()
        self._next = 0
        self._serving = 0
        self._abandoned: set[int] = set()
        self.holder: LockHolder | None = None
        self._owner: int | None = None  # the thread whose turn it is

    def waiting(self) -> int:
        with self._cond:
            return self._next - self._serving - len(self._abandoned)

    def _advance(self) -> None:
        self._serving += 1
        while self._serving in self._abandoned:
            self._abandoned.discard(self._serving)
            self._serving += 1

    @contextlib.contextmanager
    def hold(self, operation: str, user: str) -> Iterator[None]:
        if self._owner == threading.get_ident():  # a unit of the job that holds the turn (a key rotation's record)
            yield
            return
        since = time.perf_counter()
        with self._cond:
            ticket = self._next
            self._next += 1
            deadline = time.monotonic() + self.timeout
            while self._serving != ticket:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._abandoned.add(ticket)
                    holder = self.holder
                    ja, en = holder.describe() if holder else ("他の処理を待っています", "waiting for another operation")
                    raise LockTimeout(
                        f"The workspace stayed busy for {self.timeout:g} s ({en}); try again shortly.",
                        f"ワークスペースが {self.timeout:g} 秒間使用中でした（{ja}）。しばらくしてから再実行してください。",
                        holder=holder.__dict__ if holder else None,
                    )
                self._cond.wait(remaining)
            WAITED.add("queue", since)
            self.holder = LockHolder(operation, user, os.getpid(),
                                     dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
            self._owner = threading.get_ident()
        try:
            yield
        finally:
            with self._cond:
                self.holder = None
                self._owner = None
                self._advance()
                self._cond.notify_all()


class AuditLane:
    """Audit records are appended, committed and their signed head written one transaction at a
    time, in chain order, while the transactions' work runs concurrently.  The chain's tail is
    kept here, so a transaction whose snapshot is older than the newest record still chains to
    it (DuckDB checks the key's uniqueness against every commit)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tail: tuple[int, str] | None = None
        self._held: dict[int, tuple[int, str] | None] = {}
        self._entered: dict[int, float] = {}  # when each transaction in the lane entered it

    def load(self, con: duckdb.DuckDBPyConnection) -> None:
        with self.lock:
            row = con.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
            self.tail = (int(row[0]), str(row[1])) if row else None

    def enter(self, con: duckdb.DuckDBPyConnection) -> None:
        if id(con) not in self._held:
            since = time.perf_counter()
            self.lock.acquire()
            WAITED.add("lane", since)
            self._held[id(con)] = None
            self._entered[id(con)] = time.perf_counter()

    def idle(self, con: duckdb.DuckDBPyConnection) -> bool:
        """Whether this transaction has written no audit record (it is not in the lane)."""
        return id(con) not in self._held

    def reserve(self, con: duckdb.DuckDBPyConnection) -> tuple[int, str] | None:
        """The last record this transaction chains to (entering the lane until it ends)."""
        self.enter(con)
        return self._held[id(con)] or self.tail

    def record(self, con: duckdb.DuckDBPyConnection, seq: int, hash_: str) -> None:
        self._held[id(con)] = (seq, hash_)

    def finish(self, con: duckdb.DuckDBPyConnection, *, committed: bool, root: duckdb.DuckDBPyConnection) -> None:
        if id(con) not in self._held:
            return
        mine = self._held.pop(id(con))
        WAITED.add("held", self._entered.pop(id(con)))
        try:
            if committed and mine is not None:
                self.tail = mine
            elif not committed and mine is not None:
                self.load(root)  # a part committed midway (an alarm) may have moved the tail
        finally:
            self.lock.release()


class GroupCommit:
    """Several callers' audit records in one commit (the data server's reads, issue 19).

    A read's work is done in a read-only transaction beside everything else; its audit record must be
    committed before its answer is given.  Each caller hands its record in (:meth:`submit`).  One caller
    at a time leads: it waits for the audit lane and then commits every record handed in so far, its own
    and those that came while it waited, in one transaction (``commit``, called with the batch, in the
    lane); the others sleep until their record is committed, or until the leader is done and one of them
    leads the next batch — so the lane is wanted by one group at a time and a writer waits for one group
    commit at most.  Each caller returns only after the commit that holds its record; if that commit
    fails, every caller of the batch gets the failure and gives no answer."""

    def __init__(self, lane: AuditLane) -> None:
        self.lane = lane
        self._cond = threading.Condition()
        self._pending: list[_Handed] = []
        self._leading = False

    def submit(self, record: Any, commit: Callable[[list[Any]], None]) -> None:
        handed = _Handed(record)
        since = time.perf_counter()
        with self._cond:
            self._pending.append(handed)
            while self._leading and not handed.settled:
                self._cond.wait()
            lead = not handed.settled
            if lead:
                self._leading = True
        if lead:
            batch: list[_Handed] = []
            try:
                with self.lane.lock:  # one batch at a time, in chain order
                    WAITED.add("lane", since)
                    with self._cond:
                        batch, self._pending = self._pending, []
                    started = time.perf_counter()
                    try:
                        commit([h.record for h in batch])
                    except BaseException as exc:
                        for h in batch:
                            h.error = exc
                    finally:
                        WAITED.add("group", started)
            finally:
                with self._cond:
                    for h in batch:
                        h.settled = True
                    self._leading = False
                    self._cond.notify_all()
        else:
            WAITED.add("lane", since)
        if handed.error is not None:
            raise handed.error


@dataclass(eq=False)
class _Handed:
    record: Any
    settled: bool = False
    error: BaseException | None = None


#: The lane of each open resident transaction, by connection (read by ``audit.append``).
LANES: dict[int, AuditLane] = {}


def _write_conflict() -> StoreError:
    """A writer met a log-in's write to the same account row (logins write beside the writers' turn): nothing
    of the writer's unit was kept, and saying so plainly is better than a generic error."""
    return StoreError(
        "Nothing was saved: the same record was changed at the same moment (for example, that user was logging in)."
        " Try again.",
        "同じ記録が同時に変更されたため（例: その利用者のログイン中）、保存しませんでした。もう一度実行してください。",
        reason="write_conflict")


class ResidentStore(Store):
    """The data server's store: the database stays open in this process (DESIGN §3, issue 19).

    Every unit of work gets its own cursor (DuckDB's MVCC within one process): reads run at once
    and never wait for a writer; writes queue first come, first served (:class:`FairQueue`); the
    audit records, commits and signed heads go one at a time in chain order (:class:`AuditLane`).
    The workspace's file lock is held for the server's whole life, so no embedded process opens
    the file beside it.  :meth:`exclusive` hands the file back for one job that copies or replaces
    it (backup, key repair; a key rotation for its swap only): new units wait, running ones finish, the
    connection closes, the job runs as an embedded process would, and the file is opened again (with the
    new key).  A key rotation writes the new file beside the readers (:meth:`reading`), holding only the
    writers' turn."""

    def __init__(self, store: Store, *, reads: frozenset[str], timeout: float) -> None:
        super().__init__(store.db_path, store.lock, store._key_hex, store.temp_dir)
        self.reads = reads
        self.queue = FairQueue(timeout)
        self.lane = AuditLane()
        self.group = GroupCommit(self.lane)
        self._inside = threading.local()  # how deep this thread is in units of work
        self._gate = threading.Condition()
        self._active = 0
        self._exclusive: int | None = None
        self._exclusive_wanted = 0
        self._closed = False
        self._hold = contextlib.ExitStack()
        self._root: duckdb.DuckDBPyConnection | None = None
        self._beside = threading.Condition()  # the writes beside the writers' turn (logins) under way
        self._beside_running = 0
        self._beside_shut = 0
        self._open()

    @property
    def resident(self) -> bool:
        """Whether this thread works on the open database (not the one running an exclusive job)."""
        return self._exclusive != threading.get_ident()

    def _open(self) -> None:
        self._hold.enter_context(self.lock.hold("server", "workbench server"))
        try:
            self._root = self.open_connection(self.db_path, self._key_hex(), self.temp_dir)
            self.lane.load(self._root)
        except BaseException:
            self._hold.close()
            raise

    def _close(self) -> None:
        if self._root is not None:
            with contextlib.suppress(duckdb.Error):
                self._root.execute("CHECKPOINT")
            self._root.close()
            self._root = None
        self._hold.close()

    def close(self) -> None:
        with self._gate:
            self._exclusive_wanted += 1
            while self._active or self._exclusive is not None:
                self._gate.wait()
            self._closed = True
            self._close()
            self._gate.notify_all()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        if self._root is None:
            raise StoreError("The data server has closed the database.", "データサーバーはデータベースを閉じています。")
        con = self._root.cursor()
        con.execute("USE wb")  # a cursor starts in the in-memory catalog
        return con

    @contextlib.contextmanager
    def _entered(self) -> Iterator[None]:
        depth = getattr(self._inside, "depth", 0)
        if depth:  # a unit this thread opens inside its own (a read's group commit) never waits at the gate:
            self._inside.depth = depth + 1  # a job waiting for the gate waits for the outer unit
            with self._gate:
                self._active += 1
            try:
                yield
            finally:
                self._inside.depth = depth
                with self._gate:
                    self._active -= 1
                    self._gate.notify_all()
            return
        since = time.perf_counter()
        with self._gate:
            while self._exclusive is not None or self._exclusive_wanted:
                if self._closed:
                    raise StoreError("The data server has closed the database.",
                                     "データサーバーはデータベースを閉じています。")
                self._gate.wait()
            self._active += 1
        WAITED.add("gate", since)
        self._inside.depth = 1
        try:
            yield
        finally:
            self._inside.depth = 0
            with self._gate:
                self._active -= 1
                self._gate.notify_all()

    @contextlib.contextmanager
    def _writing_beside(self, operation: str, user: str) -> Iterator[None]:
        with self._beside:
            shut = self._beside_shut > 0
            if not shut:
                self._beside_running += 1
        if shut:  # a rotation is writing the file anew: this write waits its turn behind it like any other
            with self.queue.hold(operation, user):
                yield
            return
        try:
            yield
        finally:
            with self._beside:
                self._beside_running -= 1
                self._beside.notify_all()

    @contextlib.contextmanager
    def beside_shut(self) -> Iterator[None]:
        """No write beside the writers' turn from here on (they queue for it instead), once those under way have
        finished: for a job holding the turn that copies the file beside the readers (a key rotation), which
        carries over only what reads add meanwhile (``rotation.WRITTEN_BESIDE``), never a login's changed row."""
        with self._beside:
            self._beside_shut += 1
            while self._beside_running:
                self._beside.wait()
        try:
            yield
        finally:
            with self._beside:
                self._beside_shut -= 1
                self._beside.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """The file for one job alone, run in this thread as an embedded process would."""
        with self._gate:
            self._exclusive_wanted += 1
            while self._active or self._exclusive is not None:
                self._gate.wait()
            self._exclusive_wanted -= 1
            self._exclusive = threading.get_ident()
        try:
            self._close()
            try:
                yield
            finally:
                self._open()
        finally:
            with self._gate:
                self._exclusive = None
                self._gate.notify_all()

    @contextlib.contextmanager
    def reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor on the open file for one long read beside every other unit (a key rotation copies the
        file while readers go on): counted as a running unit, so :meth:`exclusive` waits for it."""
        with self._entered():
            con = self.cursor()
            try:
                yield con
            finally:
                con.close()

    @contextlib.contextmanager
    def checked(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A fresh cursor inside the audit lane: it sees every commit and none happens meanwhile."""
        since = time.perf_counter()
        with self.lane.lock:
            WAITED.add("lane", since)
            con = self.cursor()
            try:
                yield con
            finally:
                con.close()

    @contextlib.contextmanager
    def transaction(
        self,
        operation: str,
        user: str,
        *,
        after_commit: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
        writes: bool | None = None,
        read_only: bool = False,
        beside: bool = False,
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """``beside``: a small write of rows of the caller's own (a login's used step or failure count and its
        audit record) that does not take the writers' turn — two such writes, or one and a writer in the turn,
        that meet on a row conflict in the database and the caller runs again (:meth:`Workspace.login`); a job
        that writes the file anew beside the readers (a key rotation) shuts them out (:meth:`beside_shut`)."""
        if self._exclusive == threading.get_ident():
            with super().transaction(operation, user, after_commit=after_commit, read_only=read_only) as con:
                yield con
            return
        if writes is None:
            writes = operation not in self.reads
        # The turn first: a writer waiting for it is not yet a running unit, so a job that holds the turn
        # and then wants the file alone (a key rotation's swap) does not wait for the writers behind it.
        turn = (self._writing_beside(operation, user) if beside else
                self.queue.hold(operation, user) if writes else contextlib.nullcontext())
        with turn, self._entered():
            con = self.cursor()
            LANES[id(con)] = self.lane
            committed = False
            try:
                con.execute(begin_sql(read_only))
                try:
                    yield con
                    if not (read_only and after_commit is None and self.lane.idle(con)):  # a read, no record: no order
                        self.lane.enter(con)  # commits and heads in chain order
                    con.execute("COMMIT")
                    committed = True
                except duckdb.TransactionException as exc:
                    with contextlib.suppress(duckdb.Error):
                        con.execute("ROLLBACK")
                    if beside or "conflict" not in str(exc).lower():  # a login runs again (Workspace.login)
                        raise
                    raise _write_conflict() from None
                except BaseException:
                    if not committed:
                        with contextlib.suppress(duckdb.Error):
                            con.execute("ROLLBACK")
                    raise
                if after_commit is not None:
                    after_commit(con)
            finally:
                assert self._root is not None
                self.lane.finish(con, committed=committed, root=self._root)
                LANES.pop(id(con), None)
                con.close()
