"""The workspace, the logged-in session, and the unit of work every service runs in.

DESIGN §2: ``Workspace.open(path)`` → ``workspace.login(user, password, totp)`` →
a :class:`Session` carrying identity and permissions.  A service method is a plain
function ``fn(unit, ...)`` decorated with :func:`service`, which

1. checks the one permission it declares (a denied call is audited too);
2. opens the database under the workspace lock, runs the function in one
   transaction, appends its audit record in that same transaction, commits;
3. returns the function's typed result.

A refusal raised by the function (bad input, missing approval) rolls its work back
and is then audited as ``refused`` in a transaction of its own.

Every unit of work first checks the audit log's tail against the newest signed head;
while an audit alarm is open (a broken log, issue 10) every service but those that
investigate (:data:`INVESTIGATION`) is refused.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import inspect
import json
import os
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import duckdb

from workbench.core import access_rules, anchor, audit, credentials, rotation
from workbench.core.clock import Clock, SystemClock
from workbench.core.composites import COMPOSITES, PATH_ARGUMENTS, SHARED_COMPOSITES, composite
from workbench.core.errors import (
    AccessRefused,
    AccountDisabled,
    AuthenticationFailed,
    InvalidInput,
    KeyringError,
    PermissionDenied,
    SessionExpired,
    StoreError,
    WorkbenchError,
)
from workbench.core.keys import (
    FileKeySource,
    KeyEncryptionKey,
    Keyring,
    KeySource,
    WrappedKeySource,
    locate_kek,
    refuse_inside,
)
from workbench.core.numbers import NumberCipher, SecretCipher
from workbench.core.permissions import Permission, permissions_for
from workbench.core.private_files import fsync_dir, private_umask, write_private
from workbench.core.store import AuditLane, LockHolder, ResidentStore, Store, WorkspaceLock, begin_sql, wrote_in_read

__all__ = ["COMPOSITES", "PATH_ARGUMENTS", "READS", "SERVICES", "SHARED_COMPOSITES", "ServiceInfo", "Session", "Settings", "Unit", "Workspace", "composite",
           "default_key_source", "service"]

SETTINGS_FILE = "workspace.json"
#: A folder holding this file is a restore still being built (issue 24 item 1): it never opens as a workspace.
RESTORE_MARKER = "RESTORE-UNFINISHED"
FORMAT = "workbench-workspace/1"

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class Settings:
    """Everything configurable about a workspace, kept in ``workspace.json``."""

    workspace_id: str
    created_at: str
    format: str = FORMAT
    #: Longest wait for another process's unit of work before giving up.
    lock_timeout_seconds: float = 30.0
    #: In the data server, the longest a write waits its turn in the writers' queue (issue 19 item 5: a busy
    #: office waits, it does not fail; a wait this long means something is stuck, and says who holds it).
    server_wait_seconds: float = 600.0
    #: A session unused this long is logged out.
    idle_timeout_minutes: float = 15
    #: scrypt cost for new password hashes (DESIGN §6: 2**17).
    scrypt_n: int = 2**17
    #: How long a second person's approval stays valid.
    approval_ttl_hours: int = 72
    #: Query results are deleted this many days after the batch closes (C11).
    result_retention_days: int = 90
    #: Where the keyring file lives; relative paths are inside the workspace.  It is kept wrapped
    #: by the key-encryption key (KEK), which is never in the workspace (issue 19).
    keyring_path: str = "keyring.json"
    #: The KEK file's absolute path, outside the workspace (the path only, never the key), used when
    #: neither ``WORKBENCH_KEK_FILE`` nor a systemd credential ``workbench-kek`` names one.
    kek_file: str | None = None
    #: An import that takes more people off the target list than this share of those listed (and
    #: at least ``large_change_min``) needs a confirmation naming the number (issue 11 item 4).
    large_change_share: float = 0.1
    large_change_min: int = 50
    #: A demo workspace may print current one-time codes for its demo accounts.
    demo: bool = False
    #: TEST ONLY: write the database without DuckDB's encryption, so a test can byte-search
    #: the workspace after a purge.  Honoured only inside a pytest run with the environment
    #: variable ``WORKBENCH_TEST_PLAINTEXT_DB=1``; anywhere else the workspace refuses to open.
    test_plaintext_database: bool = False
    #: F8: each analyst's differential-privacy budget (ε) for one fiscal year; spent ε comes back only
    #: through a second person's approval (``workbench stats budget-restore``).
    stats_epsilon_budget: float = 1.0
    #: The folder outside the workspace where signed audit heads are appended after every commit and the
    #: current deletion journal is kept (issue 22); ``WORKBENCH_AUDIT_ANCHOR_DIR`` wins over it, and
    #: without either it is ``workbench-anchors`` beside the KEK file (see ``workbench.core.anchor``).
    audit_anchor_dir: str | None = None
    #: Absolute folders where clients of the data server may name files (exports, imports, backups, anchors),
    #: besides the workspace's incoming/, outgoing/ and return_lists/ (issue 19, ``workbench.core.exchange``).
    exchange_folders: list[str] = field(default_factory=list)
    #: Named places a backup may be written to, name → absolute folder, each inside an exchange folder
    #: (issue 20 item 10: the operations screen offers these by name; ``workbench.lifecycle.backup.places``).
    backup_places: dict[str, str] = field(default_factory=dict)
    #: Named places for the keyring copy taken with a backup, likewise (never the backup's own folder).
    keyring_copy_places: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Settings:
        try:
            doc = json.loads(path.read_text("utf-8"))
            known = {f.name for f in dataclasses.fields(cls)}
            settings = cls(**{k: v for k, v in doc.items() if k in known})
        except FileNotFoundError:
            raise StoreError(
                f"{path.parent} is not a workspace (no {SETTINGS_FILE}); create one with `workbench init`.",
                f"{path.parent} はワークスペースではありません（{SETTINGS_FILE} がありません）。`workbench init` で作成してください。",
            ) from None
        except (ValueError, TypeError):
            raise StoreError(
                f"The settings file {SETTINGS_FILE} is damaged.",
                f"設定ファイル {SETTINGS_FILE} が破損しています。",
            ) from None
        if settings.format != FORMAT:
            raise StoreError(
                f"Unsupported workspace format {settings.format!r}.",
                f"未対応のワークスペース形式 {settings.format!r} です。",
            )
        return settings

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        write_private(tmp, (json.dumps(dataclasses.asdict(self), indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
        tmp.replace(path)


@dataclass(frozen=True)
class ServiceInfo:
    operation: str
    permission: Permission
    function: Callable[..., Any]
    #: The argument naming who or what the call is about, so a denial records it too.
    target_arg: str | None = None
    #: The session-bound callable (what callers and the permission matrix call).
    entry: Callable[..., Any] | None = field(default=None, compare=False, repr=False)
    #: Allowed while an audit alarm is open, though its permission is not an investigating one.
    while_alarm: bool = False
    #: Asked by a timer, not by the person (a live count): the call does not count as use, so the
    #: idle limit still ends a session nobody touches.
    idle_neutral: bool = False

    def target_of(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        if self.target_arg is None:
            return None
        try:
            bound = inspect.signature(self.function).bind(None, *args, **kwargs)
        except TypeError:
            return None
        value = bound.arguments.get(self.target_arg)
        return None if value is None else str(value)


#: Every service method, by operation name.  Tests walk it for the permission matrix.
SERVICES: dict[str, ServiceInfo] = {}
#: Services that change nothing but the audit log (issue 19): in the data server they run concurrently and
#: never wait for a writer; everything else queues (a service missing here is only slower, never wrong).
#: Enforced, not trusted: each runs in a ``READ ONLY`` transaction (its audit record is appended after
#: it), so a service listed here that tries to write is refused (``read_wrote``) and leaves nothing.
READS: frozenset[str] = frozenset({
    "access.policy", "approvals.get", "approvals.pending", "auditing.search", "auditing.search_page",
    "batch_accounts.list_accounts", "batches.batch_page", "batches.preview_info_batch", "batches.preview_juki_batch",
    "collection.preview_collection", "cycle_runs.listing", "cycle_runs.listing_page", "cycle_runs.status",
    "cycles.cycle_figures", "cycles.integrated_pending", "cycles.outgoing_for_approval", "deletion.deletion_records",
    "deletion.destruction_marks", "deletion.list_members_page", "deletion.open_lists", "deletion.preview_deletion",
    "disclosure.suspension_page", "disclosure.suspensions", "discrepancies.discrepancy_page",
    "discrepancies.list_discrepancies", "discrepancies.preview_notice_list", "idreview.reviews",
    "inquiries.inquiry_page", "inquiries.monthly", "inquiries.search", "integrated.preview_integrated_request",
    "linkage.preview_linkage", "media.ledger", "media.ledger_page", "pending.approvals_waiting", "pending.inbox",
    "pending.keep_session", "pending.last_place", "pending.open_item", "pending.pending_work", "persons.get",
    "persons.reveal_number", "registration.review_page", "registration.review_queue", "results.request_status",
    "retention.rules", "runs.runs", "stats.publications", "users.list_users", "users.user_page",
})

class Workspace:
    """One folder: database, keyring, outgoing packages, return lists, runs, audit heads."""

    DIRS = ("db", "outgoing", "incoming", "return_lists", "runs", "audit", "tmp", "staging")
    #: Folders whose every file is a package with a media-ledger entry (C9, issue 10 item 2).
    PUBLISHED = ("outgoing", "return_lists")

    def __init__(
        self,
        path: Path,
        settings: Settings,
        *,
        key_source: KeySource,
        clock: Clock,
        on_wait: Callable[[LockHolder | None], None] | None = None,
    ) -> None:
        private_umask()  # every file 0600, every folder 0700, from creation (issue 10 item 8)
        self.path = path
        self.settings = settings
        self.key_source = key_source
        self.clock = clock
        #: Called before every commit; raising refuses it (a pipeline kernel whose runner died).
        self.commit_guard: Callable[[], None] | None = None
        self._anchor_dir: Path | None = None
        #: In the data server: the log's tail and its files' stamps at the last clean tail check (see
        #: :meth:`_tail_stamp`), kept up to date by this process's own commits in the audit lane.
        self._verified: tuple[Any, ...] | None = None
        #: The data server's socket while this process serves the workspace (issue 19), else None:
        #: what this process starts (a pipeline's kernel) reaches the data through it.
        self.serving: Path | None = None
        self._keyring_stamp = _stamp(key_source)  # before the read: a write in between is noticed next time
        self.keyring = Keyring.load(key_source)
        self._keyring_raw = key_source.read()
        if self.keyring.workspace_id != settings.workspace_id:
            raise StoreError(
                "The keyring belongs to another workspace.",
                "この鍵束は別のワークスペースのものです。",
            )
        if settings.test_plaintext_database:
            if os.environ.get("WORKBENCH_TEST_PLAINTEXT_DB") != "1" or "PYTEST_CURRENT_TEST" not in os.environ:
                raise StoreError(
                    "This workspace is set to keep its database unencrypted, which is allowed in tests only.",
                    "このワークスペースはデータベースを暗号化しない設定です。これはテストでのみ許可されます。",
                )
            self.keyring.plaintext_for_tests = True
        self.lock = WorkspaceLock(path / "db.lock", timeout=settings.lock_timeout_seconds, on_wait=on_wait)
        self.store = Store(path / "db" / "workbench.duckdb", self.lock, self._db_key, path / "tmp")

    def _db_key(self) -> str:
        # Another process (a pipeline's purge, `keys rotate`) may have rotated the keys since this
        # workspace was opened: pick up the keyring as it is now, under the lock.
        # In place, so whoever holds this keyring (a rotation in progress) sees the same one.
        # A file whose stamp (inode, size, times) is unchanged is not read again: every write
        # replaces the file, so a rotation always changes the stamp.
        stamp = _stamp(self.key_source)
        if stamp is None or stamp != self._keyring_stamp:
            raw = self.key_source.read()
            if raw is not None and raw != self._keyring_raw:
                self.keyring.refresh(self.key_source)
                self._keyring_raw = raw
            self._keyring_stamp = stamp
        return self.keyring.database_key_hex()

    # -- files ----------------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return self.store.db_path

    @property
    def heads_path(self) -> Path:
        return self.path / "audit" / "heads.jsonl"

    def anchor_dir(self) -> Path:
        """The folder outside the workspace that holds its audit anchor and current deletion journal."""
        if self._anchor_dir is None:
            kek = self.kek
            beside = kek.path if kek is not None and not kek.origin.startswith("systemd credential") else None
            folder = anchor.destination(workspace_path=self.path, setting=self.settings.audit_anchor_dir,
                                        kek_path=beside)
            try:
                folder.mkdir(parents=True, exist_ok=True, mode=0o700)
                writable = os.access(folder, os.W_OK | os.X_OK)
            except OSError:
                writable = False
            if not writable:  # refused before any work, never after a commit
                raise StoreError(
                    f"The audit anchor folder {folder} cannot be written by this account, so no work is done: set "
                    f"{anchor.ANCHOR_ENV} (or the setting audit_anchor_dir) to a folder outside the workspace this account"
                    " may append to.",
                    f"操作ログのアンカーの保存先 {folder} にこのアカウントで書き込めないため、処理を行いません。"
                    f"{anchor.ANCHOR_ENV}（または設定 audit_anchor_dir）に、ワークスペースの外でこのアカウントが追記できる"
                    "フォルダーを指定してください。", reason="anchor_unwritable")
            self._anchor_dir = folder
        return self._anchor_dir

    @property
    def anchor_path(self) -> Path:
        return anchor.anchor_path(self.anchor_dir(), self.settings.workspace_id, self.path)

    def write_anchor(self, head: dict[str, Any] | None, *, sync: bool = False, kind: str = "head",
                     **extra: Any) -> dict[str, Any] | None:
        """Append a signed head to the anchor outside the workspace (after every commit)."""
        if head is None:
            return None
        line = anchor.make_line(self.keyring.anchor_key(), head, workspace_id=self.settings.workspace_id,
                                at=self.clock.now(), kind=kind, **extra)
        anchor.append_line(self.anchor_path, line, sync=sync)
        return line

    def folder(self, name: str) -> Path:
        if name not in self.DIRS:
            raise ValueError(name)
        return self.path / name

    # -- creation and opening --------------------------------------------------------
    @classmethod
    def init(
        cls,
        path: str | Path,
        *,
        key_source: KeySource | None = None,
        kek: KeyEncryptionKey | None = None,
        clock: Clock | None = None,
        **settings: Any,
    ) -> Workspace:
        """Create a new, empty workspace folder with a fresh keyring.

        The keyring is wrapped by the key-encryption key ``kek`` (else the one
        ``WORKBENCH_KEK_FILE`` or the systemd credential names), which must be outside the
        folder; a ``kek`` given here is recorded in the setting ``kek_file`` (its path only).
        A ``key_source`` injected instead decides itself where and how the keyring is kept."""
        root = Path(path)
        if (root / SETTINGS_FILE).exists():
            raise InvalidInput(f"{root} is already a workspace.", f"{root} はすでにワークスペースです。")
        if key_source is None:
            if kek is not None:
                settings.setdefault("kek_file", str(kek.path) if kek.path is not None else None)
            named = settings.get("kek_file")
            kek = kek or locate_kek(str(_resolve(root, named)) if named else None)
            if kek is None:
                raise KeyringError(
                    "A new workspace needs a key-encryption key (KEK) outside its folder: create one with "
                    "`workbench keys kek-new FILE` and pass --kek-file FILE (or set WORKBENCH_KEK_FILE).",
                    "新しいワークスペースには、フォルダーの外に置く鍵暗号化鍵（KEK）が必要です。"
                    "`workbench keys kek-new FILE` で作成し、--kek-file FILE で指定してください（または WORKBENCH_KEK_FILE）。",
                    reason="kek_missing")
            refuse_inside(kek, root)
        private_umask()
        root.mkdir(parents=True, exist_ok=True)
        root.chmod(0o700)
        for name in cls.DIRS:
            (root / name).mkdir(exist_ok=True, mode=0o700)
        clock = clock or SystemClock()
        cfg = Settings(workspace_id=uuid.uuid4().hex, created_at=clock.now().isoformat(), **settings)
        source = key_source or WrappedKeySource(FileKeySource(_resolve(root, cfg.keyring_path)), kek)
        Keyring.create(cfg.workspace_id).save(source)
        cfg.save(root / SETTINGS_FILE)
        ws = cls(root, cfg, key_source=source, clock=clock)
        ws.store.migrate()
        return ws

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        key_source: KeySource | None = None,
        clock: Clock | None = None,
        on_wait: Callable[[LockHolder | None], None] | None = None,
        restoring: bool = False,
    ) -> Workspace:
        """Open an existing workspace: finish or roll back a key rotation a crash interrupted,
        then bring its schema up to date.  (``restoring``: the restore building this folder opens it.)"""
        ws = cls.load(path, key_source=key_source, clock=clock, on_wait=on_wait, restoring=restoring)
        rotation.recover(ws)
        ws.store.migrate()
        ws.sweep_files()
        return ws

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        key_source: KeySource | None = None,
        clock: Clock | None = None,
        on_wait: Callable[[LockHolder | None], None] | None = None,
        restoring: bool = False,
    ) -> Workspace:
        """Settings and keyring only, without touching the database (``keys repair``)."""
        root = Path(path)
        if (root / RESTORE_MARKER).exists() and not restoring:
            raise StoreError(
                "This folder is a restore that did not finish (it was interrupted); it is not a workspace. "
                "Run the restore again: it removes this folder first.",
                "このフォルダーは中断された復元の途中のもので、ワークスペースではありません。"
                "復元をやり直してください（このフォルダーは最初に削除されます）。",
                reason="unfinished_restore")
        cfg = Settings.load(root / SETTINGS_FILE)
        _tighten_modes(root, cls.DIRS)
        source = key_source or default_key_source(root, cfg)
        return cls(root, cfg, key_source=source, clock=clock or SystemClock(), on_wait=on_wait)

    @property
    def kek(self) -> KeyEncryptionKey | None:
        """The key-encryption key the keyring is wrapped by (None for an injected source that keeps
        the keyring some other way)."""
        return self.key_source.kek if isinstance(self.key_source, WrappedKeySource) else None

    # -- files published after the commit (issue 10 item 2) ----------------------------------
    def staging_path(self, final: Path) -> Path:
        """Where a package for ``final`` (in outgoing/ or return_lists/) is written until its commit."""
        folder = self.path / "staging" / final.parent.name
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        return folder / final.name

    def sweep_files(self) -> dict[str, int]:
        """On open: finish what a killed process left in ``staging/`` (cheap when it is empty —
        no database work at all).  The full check of outgoing/ and return_lists/ is the
        ``media.sweep`` service (``workbench package sweep``)."""
        if not any(f.is_file() for f in (self.path / "staging").glob("*/*")):
            return {}
        with self.transaction("media.sweep", "system") as con:
            counts = sweep(self, con, full=False)
            if counts:
                audit.append(con, key=self.keyring.audit_key(), at=self.clock.now(), user_id="system",
                             operation="media.sweep", outcome="ok", target=None, params=counts)
        return counts

    # -- the data server (issue 19) ------------------------------------------------------
    def become_resident(self, reads: frozenset[str]) -> ResidentStore:
        """Keep the database open in this process from now on (the data server): reads run
        concurrently, writes queue fairly; see :class:`~workbench.core.store.ResidentStore`."""
        if not isinstance(self.store, ResidentStore):
            self.store = ResidentStore(self.store, reads=reads, timeout=self.settings.server_wait_seconds)
        return self.store

    # -- low-level unit of work (for services and system jobs) -------------------------
    @contextlib.contextmanager
    def transaction(self, operation: str, user_id: str, *,
                    after_commit: Callable[[], None] | None = None,
                    writes: bool | None = None, read_only: bool = False,
                    audited: bool = True, beside: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction under the lock; after the commit (still under the lock) ``after_commit``
        runs (files are published) and the signed audit head is exported.  ``writes=False``: the
        unit changes nothing but the audit log (in the data server it does not queue behind writers).
        ``read_only``: the transaction begins ``READ ONLY`` (:meth:`Session.run` for a read).
        ``audited=False`` (with ``read_only``): the unit writes no audit record here — a read in the data
        server, whose record is committed with others' next (:meth:`commit_reads`), which checks the
        log's tail before any of those answers is given — so neither the tail check nor a head.  ``beside``: a
        login's write, which does not take the writers' turn in the data server (see ``ResidentStore.transaction``)."""

        def export_head(con: duckdb.DuckDBPyConnection) -> None:
            if after_commit is not None:
                after_commit()
            resident = self._resident_lane()
            known = resident is not None and self._verified == self._tail_stamp(resident.tail)
            head = audit.write_head(con, key=self.keyring.audit_key(), path=self.heads_path, at=self.clock.now())
            self.write_anchor(head)  # and outside the workspace, append-only (issue 22 item 2)
            # Checked before, and this process wrote what changed since (in the lane): still checked.
            self._verified = self._tail_stamp((int(head["seq"]), str(head["hash"]))) if known and head else None

        def publish(_con: duckdb.DuckDBPyConnection) -> None:
            if after_commit is not None:
                after_commit()

        if not audited and not read_only:
            raise ValueError("only a read-only transaction may leave its audit record to a group commit")
        with self.store.transaction(operation, user_id,
                                    after_commit=export_head if audited else publish if after_commit else None,
                                    writes=writes, read_only=read_only, beside=beside) as con:
            if audited:
                self._check_tail(con, read_only=read_only)
            yield con
            if self.commit_guard is not None:
                self.commit_guard()  # raising here rolls the transaction back

    def _check_tail(self, con: duckdb.DuckDBPyConnection, *, read_only: bool = False) -> None:
        """The cheap check of the log's tail against the newest signed head, at the start of
        every unit of work.  A problem raises an alarm, committed at once on its own so the
        refusal that follows cannot roll it back (fail closed, issue 10)."""
        key = self.keyring.audit_key()
        store = self.store
        if isinstance(store, ResidentStore) and store.resident:
            if self._verified is not None and self._tail_stamp(store.lane.tail) == self._verified:
                return  # as checked, but for this process's own commits (without waiting for the lane)
            # Other units commit meanwhile: check against the newest commit, inside the audit lane.
            with store.checked() as fresh:
                stamp = self._tail_stamp(store.lane.tail)
                if stamp is not None and stamp == self._verified:
                    return  # nothing changed since the last check but what this process wrote itself, in the lane
                problem = audit.tail_problem(fresh, key=key, heads_path=self.heads_path) or self._anchor_problem(fresh)
                self._verified = stamp if problem is None else None
        else:
            self._verified = None
            problem = audit.tail_problem(con, key=key, heads_path=self.heads_path) or self._anchor_problem(con)
        if problem is None:
            return
        con.execute("ROLLBACK")  # nothing was done in this unit yet
        con.execute("BEGIN TRANSACTION")
        audit.raise_alarm(con, key=key, at=self.clock.now(), source="tail_check", problems=[problem])
        con.execute("COMMIT")
        con.execute(begin_sql(read_only))

    def _resident_lane(self) -> AuditLane | None:
        store = self.store
        return store.lane if isinstance(store, ResidentStore) and store.resident else None

    def _tail_stamp(self, tail: tuple[int, str] | None) -> tuple[Any, ...] | None:
        """The data server's log tail with the heads and anchor files as they are on disk (inode, size,
        modified and changed times): if all are as at the last clean check, and only this process —
        which holds the database — wrote since, in the audit lane, the check would find what it found
        then (:meth:`_check_tail`).  Anything else that touches either file changes its stamp."""
        stamps: list[Any] = [tail]
        for path in (self.heads_path, self.anchor_path):
            try:
                st = path.stat()
            except FileNotFoundError:
                return None
            stamps.append((st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
        return tuple(stamps)

    def _anchor_problem(self, con: duckdb.DuckDBPyConnection) -> tuple[int, str] | None:
        return audit.external_tail_problem(con, key=self.keyring.anchor_key(), path=self.anchor_path,
                                           workspace_id=self.settings.workspace_id)

    @property
    def groups_reads(self) -> bool:
        """Whether a read's audit record is committed together with others' (in the data server)."""
        return isinstance(self.store, ResidentStore) and self.store.resident

    def commit_reads(self, records: list[ReadRecord]) -> None:
        """The audit records of several reads in one transaction (:class:`~workbench.core.store.GroupCommit`,
        in the audit lane): the log's tail is checked first (an alarm raised on its own commit, as for every
        unit); a read that may not answer while an alarm is open gets the refusal and a ``refused`` record."""
        key = self.keyring.audit_key()
        with self.transaction("audit.reads", "system", writes=False) as con:
            alarms = audit.open_alarms(con) if any(r.strict for r in records) else []
            for r in records:
                if r.strict and alarms:
                    r.error = audit.alarm_refusal(alarms)
                    outcome, params = "refused", {**_safe(r.error.details), "error": r.error.code}
                else:
                    outcome, params = "ok", r.params
                audit.append(con, key=key, at=r.at, user_id=r.user_id, operation=r.operation, outcome=outcome,
                             target=r.target, params=params)

    def audit_only(self, user_id: str, operation: str, outcome: str, **params: Any) -> None:
        """Record an event that did no other work (a denial, a refusal, a failed login)."""
        with self.transaction(operation, user_id, writes=False) as con:
            audit.append(
                con, key=self.keyring.audit_key(), at=self.clock.now(), user_id=user_id,
                operation=operation, outcome=outcome, target=params.pop("target", None), params=params,
            )

    def number_cipher(self, version: int | None = None) -> NumberCipher:
        """The cipher for Individual Numbers under key ``version`` (default: the current one)."""
        v = self.keyring.current if version is None else version
        return NumberCipher(self.keyring.key("numbers", v), v)

    def totp_cipher(self, version: int | None = None) -> SecretCipher:
        v = self.keyring.current if version is None else version
        return SecretCipher(self.keyring.key("totp", v), v)

    # -- login (DESIGN §6, C5) ----------------------------------------------------------
    def _login_ref(self, user_id: str) -> str:
        """A keyed HMAC of a user ID typed at log-in, to count failures of unknown IDs without storing them."""
        return audit.pseudonym(self.keyring.audit_key(), "login-failure:" + user_id)

    def login(self, user_id: str, password: str, totp_code: str, *, web: bool = False,
              address: str | None = None, fingerprint: str | None = None, hours_recovery: bool = False) -> Session:
        """Check password and one-time code, then the set hours and (for the web server,
        ``web=True``) the registered terminal (C13); return a session or raise a refusal that
        tells nothing.

        Every failed log-in — unknown user ID, wrong password, wrong, malformed or used
        one-time code, locked — gets the same :class:`AuthenticationFailed` with the same
        message, after the same work (one scrypt check and one one-time-code check,
        against dummies for an unknown ID).  Failures of unknown IDs are counted and
        locked out exactly like a real account's (keyed by an HMAC of the ID), so neither
        the answer, its timing nor the lock-out shows whether an ID exists or a password
        was right.  Only someone who gave the right password *and* code is told that the
        account is disabled, or that the hours or the terminal do not allow use now.  The audit
        log records the real reason.
        """
        now = self.clock.now()
        ref = self._login_ref(user_id)
        # A read (in the data server it does not queue behind the writers: a login waits its turn once, below).
        with self.transaction("auth.login", user_id, writes=False, read_only=True, audited=False) as con:
            row = con.execute(
                "SELECT password_hash, totp_secret, totp_key_version, last_totp_step, roles, disabled,"
                " failed_logins, locked_until FROM users WHERE user_id = ?",
                [user_id],
            ).fetchone()
            unknown = None if row is not None else con.execute(
                "SELECT failed_logins, locked_until FROM login_failures WHERE id_ref = ?", [ref]).fetchone()
        # Verify outside the lock: scrypt is deliberately slow.  The same work in every case.
        if row is not None:
            pw_hash, secret_ct, secret_v, last_step, _roles, disabled, _failures, locked_until = row
            secret = self.totp_cipher(secret_v).decrypt(secret_ct, user_id, table="users", column="totp_secret")
        else:
            pw_hash, secret = credentials.dummy_hash(self.settings.scrypt_n), credentials.dummy_totp_secret()
            last_step, disabled, locked_until = None, False, unknown[1] if unknown else None
        password_ok = credentials.verify_password(password, pw_hash)
        step = credentials.verify_totp(secret, totp_code, now, last_used_step=None)
        if locked_until is not None and locked_until > now:
            reason = "locked"
        elif row is None:
            reason = "unknown_user"
        elif not password_ok:
            reason = "wrong_password"
        elif step is None:
            reason = "wrong_code"
        elif last_step is not None and step <= last_step:
            reason = "used_code"
        elif disabled:
            reason = "disabled"
        else:
            reason = None
        # The write (the used step, the failure count, the audit record) does not take the writers' turn in the
        # data server: it changes one row of its own, so two logins that meet on it conflict in the database
        # (the step and the count are re-checked under the row, never lost) and the loser runs again.
        pre = reason
        for attempt in range(LOGIN_ATTEMPTS):
            try:
                reason, access_refusal, recovery = self._login_write(
                    user_id, ref, now, pre, step, row, web=web, address=address, fingerprint=fingerprint,
                    hours_recovery=hours_recovery)
                break
            except (duckdb.TransactionException, duckdb.ConstraintException):
                if attempt == LOGIN_ATTEMPTS - 1:
                    raise StoreError(
                        "The log-in could not be recorded: the account was being changed at the same moment. "
                        "Try again with the next one-time code.",
                        "同じアカウントへの変更と重なったため、ログインを記録できませんでした。"
                        "次のワンタイムコードで再度お試しください。",
                        reason="login_conflict") from None
                time.sleep(random.uniform(0.005, 0.05) * (attempt + 1))  # the other one commits meanwhile
        if access_refusal is not None:
            raise access_refusal
        if reason == "disabled":
            raise AccountDisabled(
                "This user ID has been disabled; ask the administrator.",
                "このユーザーIDは無効化されています。システム管理者に連絡してください。",
            )
        if reason is not None:
            raise _login_failed()
        assert row is not None
        session = Session(self, user_id, tuple(row[4]), now)
        if recovery:
            session.only = HOURS_RECOVERY_OPERATIONS
        return session

    def _login_write(self, user_id: str, ref: str, now: dt.datetime, reason: str | None, step: int | None,
                     row: tuple[Any, ...] | None, *, web: bool, address: str | None, fingerprint: str | None,
                     hours_recovery: bool) -> tuple[str | None, AccessRefused | None, bool]:
        """The login's one transaction (:meth:`login`): the access rules, the used step or the failure count
        (and lock-out), the audit record.  Returns (reason refused or None, the access refusal, recovery)."""
        access_refusal: AccessRefused | None = None
        recovery = False
        with self.transaction("auth.login", user_id, beside=True) as con:
            if reason is None:
                try:
                    access_rules.check(access_rules.load_policy(con, now), user_id, now, web=web,
                                       address=address, fingerprint=fingerprint)
                except AccessRefused as exc:
                    access_refusal, reason = exc, str(exc.details.get("reason", "access_refused"))
                    # The way back (C13): hours set by mistake must not lock the office out until they open
                    # again; an administrator at the server's command line may log in only to change them.
                    if (reason == "out_of_hours" and hours_recovery and not web and row is not None
                            and Permission.USERS_MANAGE in permissions_for(tuple(row[4]))):
                        access_refusal, reason, recovery = None, None, True
            if reason is None:
                # Re-check the step in the row: two logins with one code must not both win (beside the writers'
                # turn in the data server, the second conflicts on the row, runs again and finds the step used).
                updated = con.execute(
                    "UPDATE users SET failed_logins = 0, locked_until = NULL, last_totp_step = ?, last_login_at = ?"
                    " WHERE user_id = ? AND (last_totp_step IS NULL OR last_totp_step < ?) RETURNING user_id",
                    [step, now, user_id, step],
                ).fetchall()
                if not updated:
                    reason = "used_code"
            if reason in ("unknown_user", "wrong_password", "wrong_code", "used_code"):
                if row is not None:
                    failures = con.execute(
                        "UPDATE users SET failed_logins = failed_logins + 1 WHERE user_id = ? RETURNING failed_logins",
                        [user_id],
                    ).fetchone()[0]  # type: ignore[index]
                else:
                    failures = con.execute(
                        "INSERT INTO login_failures VALUES (?, 1, NULL, ?) ON CONFLICT (id_ref) DO UPDATE"
                        " SET failed_logins = login_failures.failed_logins + 1, last_failed_at = excluded.last_failed_at"
                        " RETURNING failed_logins",
                        [ref, now],
                    ).fetchone()[0]  # type: ignore[index]
                delay = credentials.lockout_delay(failures)
                if delay:
                    table, key, value = ("users", "user_id", user_id) if row is not None else ("login_failures", "id_ref", ref)
                    con.execute(f"UPDATE {table} SET locked_until = ? WHERE {key} = ?",
                                [now + dt.timedelta(seconds=delay), value])
            audit.append(
                con, key=self.keyring.audit_key(), at=now, user_id=user_id, operation="auth.login",
                outcome="ok" if reason is None else "denied",
                params=({"out_of_hours": "hours_recovery"} if recovery else {}) if reason is None else {"reason": reason},
            )
        return reason, access_refusal, recovery


#: How many times a login's write runs when it meets another transaction on the same row (issue 19 item 5).
LOGIN_ATTEMPTS = 6

#: What an administrator let in outside the set hours may do: read and change the hours (C13).
HOURS_RECOVERY_OPERATIONS = frozenset({"access.policy", "access.preview_hours", "access.set_hours", "auth.logout"})


def sweep(ws: Workspace, con: duckdb.DuckDBPyConnection, *, full: bool) -> dict[str, int]:
    """Make every file in outgoing/ and return_lists/ match a live media-ledger entry (C9, issue 10 item 2).

    A staged package whose ledger entry committed is published; one whose transaction never
    committed is deleted, and so is a staged copy whose delivery was recorded.  With ``full``,
    a file in outgoing/ or return_lists/ whose copy was recorded as delivered, or that has no
    ledger entry at all (it never officially left), is deleted too.  Call under the lock."""
    staged = [f for f in (ws.path / "staging").glob("*/*") if f.is_file()]
    published = [f for name in ws.PUBLISHED if (ws.path / name).is_dir()
                 for f in (ws.path / name).iterdir() if f.is_file()] if full else []
    counts = {"published": 0, "discarded": 0, "delivered_removed": 0, "untracked_removed": 0}
    if staged or published:
        names = sorted({f.name for f in staged + published})
        rows = con.execute("SELECT file_name, deleted_at IS NOT NULL FROM media_ledger"
                           " WHERE direction = 'out' AND file_name IN (SELECT unnest(?::VARCHAR[]))", [names]).fetchall()
        live = {str(n) for n, deleted in rows if not deleted}
        known = {str(n) for n, _ in rows}
        for f in staged:
            if f.name in live and f.parent.name in ws.PUBLISHED:
                os.rename(f, ws.path / f.parent.name / f.name)
                counts["published"] += 1
            else:
                f.unlink(missing_ok=True)
                counts["discarded"] += 1
        for f in published:
            if f.name not in live:
                f.unlink(missing_ok=True)
                counts["delivered_removed" if f.name in known else "untracked_removed"] += 1
    return {k: v for k, v in counts.items() if v}


def _tighten_modes(root: Path, dirs: tuple[str, ...]) -> None:
    """A workspace made before files were private from creation: its folders to 0700 and
    its top-level files (settings, database, lock, holder, heads) to 0600."""
    folders = [root, *(root / d for d in dirs)]
    files = [root / SETTINGS_FILE, root / "db.lock", root / "db.holder", root / "audit" / "heads.jsonl",
             *(root / "db").glob("*")]
    for path, mode in [*((f, 0o700) for f in folders), *((f, 0o600) for f in files)]:
        with contextlib.suppress(OSError):
            if path.exists() and not path.is_symlink() and path.stat().st_mode & 0o077:
                path.chmod(mode)


def _stamp(source: KeySource) -> tuple[int, ...] | None:
    """The keyring file's stamp, or None for a source without one (it is read every time)."""
    stamp = getattr(source, "stamp", None)
    return stamp() if stamp is not None else None


def default_key_source(root: Path, settings: Settings, kek: KeyEncryptionKey | None = None) -> WrappedKeySource:
    """The workspace's keyring file, wrapped by ``kek`` or else the KEK found outside the folder
    (``WORKBENCH_KEK_FILE``, the systemd credential, the setting ``kek_file``); a KEK inside the
    folder is refused.  With none found, reading the keyring says what is missing."""
    kek = kek or locate_kek(str(_resolve(root, settings.kek_file)) if settings.kek_file else None)
    if kek is not None:
        refuse_inside(kek, root)
    return WrappedKeySource(FileKeySource(_resolve(root, settings.keyring_path)), kek)


def _resolve(root: Path, path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else root / p


def _login_failed() -> AuthenticationFailed:
    """The one answer to every failed log-in (no oracle: it never says which part was wrong)."""
    return AuthenticationFailed(
        "Log-in failed: the user ID, password or one-time code is wrong, or the user ID is locked for a while after "
        "repeated failures. Check them and try again with the next one-time code; if it keeps failing, ask the administrator.",
        "ログインできませんでした。ユーザーID・パスワード・ワンタイムコードのいずれかが誤っているか、失敗が続いたため"
        "しばらくロックされています。確認のうえ、次のワンタイムコードで再度お試しください。続く場合はシステム管理者に連絡してください。",
    )



class Session:
    """A logged-in user: identity, roles, permissions, idle timer."""

    def __init__(self, workspace: Workspace, user_id: str, roles: tuple[str, ...], now: dt.datetime,
                 *, session_id: str | None = None) -> None:
        self.workspace = workspace
        self.user_id = user_id
        self.roles = roles
        self.permissions = permissions_for(roles)
        #: A kernel's session keeps the ID of the web session it was started for.
        self.session_id = session_id or uuid.uuid4().hex
        self.last_activity = now
        self.closed = False
        #: The only operations this session may run, or ``None`` for all its permissions allow: an
        #: administrator let in outside the set hours may only change them (C13, the office's way back).
        self.only: frozenset[str] | None = None
        #: A batch account's session (issue 14) may run this one cycle only; ``None`` for a person.
        self.batch_cycle: str | None = None

    def __repr__(self) -> str:
        return f"Session(user_id={self.user_id!r}, roles={list(self.roles)!r})"

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    def _touch(self, operation: str, *, use: bool = True) -> dt.datetime:
        ws = self.workspace
        now = ws.clock.now()
        if self.closed:
            raise SessionExpired("You have logged out; log in again.", "ログアウト済みです。再度ログインしてください。")
        idle = dt.timedelta(minutes=ws.settings.idle_timeout_minutes)
        if now - self.last_activity > idle:
            self.closed = True
            ws.audit_only(self.user_id, "auth.idle_timeout", "ok", attempted=operation)
            raise SessionExpired(
                f"Logged out after {ws.settings.idle_timeout_minutes} minutes without use; log in again.",
                f"{ws.settings.idle_timeout_minutes} 分間操作がなかったため"
                "ログアウトしました。再度ログインしてください。",
            )
        if use:
            self.last_activity = now
        return now

    def idle_expired(self, now: dt.datetime | None = None) -> bool:
        """Whether the idle limit has passed (checked by timers that clear screens)."""
        now = now or self.workspace.clock.now()
        return self.closed or now - self.last_activity > dt.timedelta(minutes=self.workspace.settings.idle_timeout_minutes)

    def logout(self, *, operation: str = "auth.logout", **params: Any) -> None:
        """End the session; ``operation`` names why (logout, idle timeout, end of hours)."""
        if not self.closed:
            self.closed = True
            self.workspace.audit_only(self.user_id, operation, "ok", **params)

    def require(self, permission: Permission, operation: str, *, target: str | None = None,
                use: bool = True) -> dt.datetime:
        """Refuse (and audit the denial) unless the session is live and holds ``permission``
        (``use=False``: a timer's call, which leaves the idle time running)."""
        now = self._touch(operation, use=use)
        if self.only is not None and operation not in self.only:
            self.workspace.audit_only(self.user_id, operation, "denied", permission=permission.value, target=target,
                                      reason="hours_recovery_only")
            raise PermissionDenied(
                f"Outside the set hours this log-in may only change the hours, not run {operation}.",
                f"利用時間外のこのログインでは、利用時間の変更のみ行えます（「{operation}」は行えません）。",
                permission=permission.value, reason="hours_recovery_only",
            )
        if permission not in self.permissions:
            self.workspace.audit_only(self.user_id, operation, "denied", permission=permission.value, target=target)
            raise PermissionDenied(
                f"You do not have the permission {permission.value!r} needed for {operation}.",
                f"「{operation}」に必要な権限 {permission.value!r} がありません。",
                permission=permission.value,
            )
        return now

    def run(self, info: ServiceInfo, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        ws = self.workspace
        now = self.require(info.permission, info.operation, target=info.target_of(args, kwargs),
                           use=not info.idle_neutral)
        units: list[Unit] = []
        record: ReadRecord | None = None

        def recorded(exc: BaseException) -> bool:  # a refusal the group commit wrote down already
            return record is not None and record.error is exc

        def publish() -> None:
            for u in units:
                u.committed()

        read = info.operation in READS  # looked up at each call (a test may add a mistake)
        grouped = read and ws.groups_reads  # its record is committed with other reads' (GroupCommit)
        try:
            with ws.transaction(info.operation, self.user_id, after_commit=None if grouped else publish,
                                writes=not read, read_only=read, audited=not grouped) as con:
                if info.permission not in INVESTIGATION and not info.while_alarm:
                    alarms = audit.open_alarms(con)
                    if alarms:  # a broken log stops every write and every reveal (fail closed)
                        raise audit.alarm_refusal(alarms)
                unit = Unit(con=con, session=self, now=now)
                units.append(unit)
                try:
                    result = info.function(unit, *args, **kwargs)
                except duckdb.Error as exc:
                    if read and wrote_in_read(exc):
                        raise _read_wrote(info.operation) from None
                    raise
                if grouped:  # no answer before its audit record is committed (with other reads' records)
                    record = ReadRecord(self.user_id, info.operation, now, unit.target, unit.params,
                                        strict=info.permission not in INVESTIGATION and not info.while_alarm)
                    ws.store.group.submit(record, ws.commit_reads)  # type: ignore[attr-defined]
                    if record.error is not None:
                        raise record.error  # refused, and recorded so, in that commit
                else:
                    if read:  # the read's work is done, changing nothing; its audit record is written next
                        con.execute("COMMIT")
                        con.execute("BEGIN TRANSACTION")
                    audit.append(
                        con, key=ws.keyring.audit_key(), at=now, user_id=self.user_id,
                        operation=info.operation, outcome="ok", target=unit.target, params=unit.params,
                    )
            if grouped:
                publish()
        except BaseException as exc:
            for u in units:
                u.abandoned()
            if isinstance(exc, WorkbenchError) and exc.code not in ("busy", "audit_failure") and not recorded(exc):
                ws.audit_only(self.user_id, info.operation, "refused", target=info.target_of(args, kwargs),
                              **{**_safe(exc.details), "error": exc.code})
            raise
        return result


def _read_wrote(operation: str) -> StoreError:
    return StoreError(
        f"{operation} is declared a read (READS) but tried to change data; nothing was changed. Tell the developers: "
        "remove it from READS or stop it writing.",
        f"「{operation}」は読み取り専用の処理（READS）として登録されていますが、データを変更しようとしたため拒否しました"
        "（何も変更されていません）。開発担当に連絡してください。",
        reason="read_wrote")


#: What stays possible while an audit alarm is open: reading the log and the ledger to
#: investigate, and recording what happened.  Everything else is refused.
INVESTIGATION = frozenset({Permission.AUDIT_READ, Permission.AUDIT_VERIFY, Permission.LEDGER_READ,
                           Permission.AUDIT_ACKNOWLEDGE})


def _safe(details: dict[str, Any]) -> dict[str, Any]:
    """Only counts, codes and line numbers from an error's details go into the log."""
    return {k: v for k, v in details.items() if isinstance(v, (int, float, bool)) or k in ("reason", "permission")}


@dataclass(eq=False)
class ReadRecord:
    """A read's audit record, handed to the group commit (:meth:`Workspace.commit_reads`)."""

    user_id: str
    operation: str
    at: dt.datetime
    target: str | None
    params: dict[str, Any]
    #: Refused while an audit alarm is open (not an investigation, not ``while_alarm``).
    strict: bool = True
    #: Set by the commit: the refusal this read gets instead of its answer.
    error: WorkbenchError | None = None


@dataclass
class Unit:
    """What a service function gets: the open transaction, who is calling, and when."""

    con: duckdb.DuckDBPyConnection
    session: Session
    now: dt.datetime
    #: The identifier the audit record is about (pseudonymised when written).
    target: str | None = None
    #: Non-personal parameters and counts for the audit record.
    params: dict[str, Any] = field(default_factory=dict)
    #: Packages written under a staging name, published (renamed into place) after the commit.
    staged: list[tuple[Path, Path]] = field(default_factory=list)
    #: Published files taken back (a delivered copy), deleted after the commit.
    withdrawn: list[tuple[Path, Path]] = field(default_factory=list)
    _committed: bool = False

    @property
    def workspace(self) -> Workspace:
        return self.session.workspace

    @property
    def user_id(self) -> str:
        return self.session.user_id

    def note(self, target: str | None = None, **params: Any) -> None:
        """Add to this call's audit record."""
        if target is not None:
            self.target = target
        self.params.update(params)

    def stage(self, final: Path) -> Path:
        """A staging path for a file that must appear at ``final`` only once this call commits."""
        staging = self.workspace.staging_path(final)
        self.staged.append((staging, final))
        return staging

    def withdraw(self, current: Path) -> None:
        """Take a published file back into staging; it is deleted once this call commits, and put
        back if it does not (a kill in between: the sweep decides from the ledger)."""
        if not current.exists():
            return
        staging = self.workspace.staging_path(current)
        os.rename(current, staging)
        self.withdrawn.append((staging, current))

    def committed(self) -> None:
        """After the commit: publish staged files, then the other file work.  A kill before this
        finishes is completed by :meth:`Workspace.sweep_files` on the next open."""
        self._committed = True
        for staging, final in self.staged:
            if staging.exists():
                os.rename(staging, final)
        for folder in {final.parent for _, final in self.staged}:
            fsync_dir(folder)
        for staging, _current in self.withdrawn:
            staging.unlink(missing_ok=True)

    def abandoned(self) -> None:
        """The call failed: a staged file of an uncommitted transaction never appears."""
        if not self._committed:
            for staging, _final in self.staged:
                staging.unlink(missing_ok=True)
            for staging, current in self.withdrawn:
                if staging.exists():
                    os.rename(staging, current)


def service(
    permission: Permission, *, operation: str | None = None, target: str | None = None, while_alarm: bool = False,
    paths: tuple[str, ...] = (), idle_neutral: bool = False,
) -> Callable[[Callable[Concatenate[Unit, P], R]], Callable[Concatenate[Session, P], R]]:
    """Declare a service method: the permission it needs, the audited operation name, and
    (``target``) the argument naming who the call is about, recorded even when denied.
    ``while_alarm`` lets it run while the audit log is found broken (bookkeeping that
    touches no personal data, like a pipeline run's own record).  ``paths`` names the arguments
    that are files or folders the service reads or writes (:data:`PATH_ARGUMENTS`).  ``idle_neutral``
    marks a call a timer makes (a live count): it does not renew the session's idle time."""

    def decorate(fn: Callable[Concatenate[Unit, P], R]) -> Callable[Concatenate[Session, P], R]:
        module = sys.modules.get(fn.__module__)
        prefix = getattr(module, "SERVICE_PREFIX", None) or fn.__module__.rsplit(".", 1)[-1]
        name = operation or f"{prefix}.{fn.__name__}"
        if name in SERVICES:
            raise RuntimeError(f"duplicate service {name}")
        info = ServiceInfo(name, permission, fn, target, while_alarm=while_alarm, idle_neutral=idle_neutral)
        SERVICES[name] = info
        if paths:
            PATH_ARGUMENTS[name] = paths

        @functools.wraps(fn)
        def call(session: Session, /, *args: P.args, **kwargs: P.kwargs) -> R:
            return session.run(info, args, kwargs)  # type: ignore[no-any-return,unused-ignore]

        call.service_info = info  # type: ignore[attr-defined]
        SERVICES[name] = dataclasses.replace(info, entry=call)
        return call

    return decorate


