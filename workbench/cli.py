"""``workbench``: a thin command line over the service modules.

Every command that touches personal data logs in first (user ID, password, one-time
code: from ``WORKBENCH_USER``/``WORKBENCH_PASSWORD``/``WORKBENCH_TOTP`` or asked for),
calls one service, prints its result as JSON and exits non-zero on refusal with the
reason in Japanese and English on stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import getpass
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from workbench import pending
from workbench.controls import access, audit_log, users
from workbench.core import access_rules, approvals, channel, keyring_admin, rotation
from workbench.core.clock import JST
from workbench.core.errors import InvalidInput, WorkbenchError
from workbench.core.keys import KEK_ENV, KeyEncryptionKey, locate_kek
from workbench.core.private_files import private_umask
from workbench.core.workspace import Session, Workspace
from workbench.cycles import pipeline_runs
from workbench.files import media, transfer
from workbench.intake import persons
from workbench.lifecycle import unneeded

__all__ = ["COMMANDS", "build_parser", "main"]


def _jsonable(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return _jsonable(value.to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


def _print(value: Any) -> None:
    print(json.dumps(_jsonable(value), ensure_ascii=False, indent=2))


def _secret(env: str, prompt: str) -> str:
    value = os.environ.get(env)
    if value is not None:
        return value
    if not sys.stdin.isatty():
        raise InvalidInput(f"Set {env} or run interactively.", f"{env} を設定するか、対話的に実行してください。")
    return getpass.getpass(prompt)


def _workspace(args: argparse.Namespace) -> Workspace:
    path = args.workspace or os.environ.get("WORKBENCH_WORKSPACE")
    if not path:
        raise InvalidInput("Name the workspace with --workspace or WORKBENCH_WORKSPACE.",
                           "--workspace または WORKBENCH_WORKSPACE でワークスペースを指定してください。")

    def waiting(holder: Any) -> None:
        if holder is not None:
            ja, en = holder.describe()
            print(f"{ja} / {en}", file=sys.stderr)

    return Workspace.open(path, on_wait=waiting)


# -- the data server or the workspace itself (issue 19): one code path ----------------------


def _connection(args: argparse.Namespace) -> channel.Remote | channel.Embedded:
    """The workspace's data server when one answers for it (``workbench serve`` runs one), else the
    workspace opened here, as before."""
    path = args.workspace or os.environ.get("WORKBENCH_WORKSPACE")
    if path:
        hello = channel.probe(channel.socket_for(path))
        if hello is not None:
            return channel.Remote(channel.socket_for(path), hello)
    return channel.Embedded(_workspace(args))


def _login(args: argparse.Namespace, *, hours_recovery: bool = False) -> Session:
    conn = _connection(args)
    key = getattr(args, "batch_key", None) or os.environ.get("WORKBENCH_BATCH_KEY")
    if key:  # a batch account (issue 14): the key file, no password or one-time code
        from workbench.controls import batch_accounts

        if isinstance(conn, channel.Remote):
            return conn.batch_login(batch_accounts.read_key(key))
        return batch_accounts.login(conn.workspace, key)
    user = args.user or os.environ.get("WORKBENCH_USER") or input("ユーザーID / user ID: ")
    password = _secret("WORKBENCH_PASSWORD", "パスワード / password: ")
    code = _secret("WORKBENCH_TOTP", "ワンタイムコード / one-time code: ")
    return conn.login(user, password, code, hours_recovery=hours_recovery)


# -- commands -------------------------------------------------------------------------
# Each takes the parsed arguments and returns what to print.

def cmd_init(args: argparse.Namespace) -> Any:
    ws = Workspace.init(args.path, kek=_kek_file(args.kek_file))
    created: list[dict[str, Any]] = []
    out = {"workspace": str(ws.path), "workspace_id": ws.settings.workspace_id, "users": created}
    for user_id, roles, env in ((args.admin, ["administrator"], "WORKBENCH_ADMIN_PASSWORD"),
                                (args.approver, ["approver"], "WORKBENCH_APPROVER_PASSWORD")):
        password = _secret(env, f"{user_id} のパスワード / password for {user_id}: ")
        enrolment = users.create_initial_user(ws, user_id, user_id, password, roles)
        created.append({"user_id": user_id, "roles": roles, "otpauth_uri": enrolment.otpauth_uri})
    return out


def cmd_demo(args: argparse.Namespace) -> Any:
    from workbench.demo import build_demo

    return build_demo(Path(args.path), persons=args.persons, seed=args.seed, kek=_demo_kek(args))


def cmd_demo_code(args: argparse.Namespace) -> Any:
    from workbench.demo import current_code

    return {"user_id": args.user_id, "code": current_code(_workspace(args), args.user_id)}


def cmd_serve(args: argparse.Namespace) -> Any:
    from workbench.web.serve import serve

    _kek_to_environment(args.kek_file)
    serve(Path(args.path), port=args.port, trust_proxy=args.trust_proxy)
    return None


def cmd_pending(args: argparse.Namespace) -> Any:
    return pending.pending_work(_login(args))


def cmd_access_show(args: argparse.Namespace) -> Any:
    return access.policy(_login(args, hours_recovery=True))


def cmd_access_hours(args: argparse.Namespace) -> Any:
    hours = access_rules.parse_hours(args.days)  # refused before anyone is asked for a password
    # An administrator may log in here outside the hours, only to change them (C13: hours set by mistake).
    session = _login(args, hours_recovery=True)
    if args.preview:
        return access.preview_hours(session, hours)
    return access.set_hours(session, hours, confirm_ending=args.confirm)


def _period(args: argparse.Namespace) -> tuple[dt.datetime, dt.datetime]:
    try:
        starts, ends = (dt.datetime.fromisoformat(v) for v in (args.starts, args.ends))
    except ValueError:
        raise InvalidInput("Give the period as e.g. 2026-12-01T18:00+09:00.",
                           "期間は 2026-12-01T18:00+09:00 のように指定してください。") from None
    return (starts if starts.tzinfo else starts.replace(tzinfo=JST)), (ends if ends.tzinfo else ends.replace(tzinfo=JST))


def cmd_access_exception(args: argparse.Namespace) -> Any:
    starts, ends = _period(args)
    session = _login(args)
    if args.approval:
        return access.grant_exception(session, args.user_id, starts, ends, args.reason, approval_id=args.approval)
    return access.request_exception(session, args.user_id, starts, ends, args.reason)


def cmd_access_terminal_add(args: argparse.Namespace) -> Any:
    kind, value = ("certificate", args.certificate) if args.certificate else ("address", args.address)
    if not value:
        raise InvalidInput("Give --address or --certificate.", "--address か --certificate を指定してください。")
    return access.register_terminal(_login(args), kind, value, args.label)


def cmd_access_terminal_remove(args: argparse.Namespace) -> Any:
    access.remove_terminal(_login(args), args.terminal_id)
    return {"removed": args.terminal_id}


def cmd_user_add(args: argparse.Namespace) -> Any:
    session = _login(args)
    password = _secret("WORKBENCH_NEW_PASSWORD", f"{args.user_id} の初期パスワード / initial password: ")
    return users.add(session, args.user_id, args.name or args.user_id, password)


def cmd_user_disable(args: argparse.Namespace) -> Any:
    return users.disable(_login(args), args.user_id)


def cmd_user_list(args: argparse.Namespace) -> Any:
    return users.list_users(_login(args))


def cmd_user_review(args: argparse.Namespace) -> Any:
    if args.confirm:  # the old path that recorded the review without a second person (issue 18 item 5)
        raise InvalidInput(
            "user review --confirm no longer records the review: IDs count as reviewed only through the signed-off "
            "review (workbench idreview start, then idreview signoff with a second person's approval).",
            "user review --confirm では点検を記録できません。IDの点検は ID・権限の棚卸し（workbench idreview start の後、"
            "別の職員の承認を得て idreview signoff）でのみ記録されます。", reason="use_idreview")
    return users.review(_login(args))


def cmd_user_grant(args: argparse.Namespace) -> Any:
    session = _login(args)
    if args.approval:
        return users.grant(session, args.user_id, args.role, approval_id=args.approval)
    return {"approval_requested": users.request_grant(session, args.user_id, args.role)}


def cmd_user_revoke(args: argparse.Namespace) -> Any:
    return users.revoke(_login(args), args.user_id, args.role)


def cmd_approvals_list(args: argparse.Namespace) -> Any:
    return approvals.pending(_login(args))


def cmd_approvals_decide(args: argparse.Namespace) -> Any:
    return approvals.decide(_login(args), args.approval_id, approve=args.command == "approve",
                            reason=getattr(args, "reason", None))


def cmd_audit_verify(args: argparse.Namespace) -> Any:
    report = audit_log.verify(_login(args), anchor=args.anchor)
    ja, en = report.message()
    result = {**dataclasses.asdict(report), "message_ja": ja, "message_en": en}
    return Exit(result, 0 if report.ok else 7)


def cmd_audit_acknowledge(args: argparse.Namespace) -> Any:
    return audit_log.acknowledge(_login(args), args.note)


def cmd_audit_anchor(args: argparse.Namespace) -> Any:
    result = audit_log.anchor(_login(args), args.to)
    if not result["anchored"]:
        report = result["report"]
        ja, en = report.message()
        return Exit({**result, "report": dataclasses.asdict(report), "message_ja": ja, "message_en": en}, 7)
    return result


# -- issue 22 items 2 and 4 (branch escapes): thin handlers over the services ------------------------
def cmd_audit_anchor_outside(args: argparse.Namespace) -> Any:
    return audit_log.anchor_outside(_login(args))


def cmd_retention_check_numbers(args: argparse.Namespace) -> Any:
    return unneeded.check_unneeded(_login(args))
# -- end of issue 22 handlers ------------------------------------------------------------------------


def cmd_audit_search(args: argparse.Namespace) -> Any:
    return audit_log.search(_login(args), user_id=args.by, target=args.target, operation=args.operation,
                           outcome=args.outcome, limit=args.limit)


def cmd_keys_rotate(args: argparse.Namespace) -> Any:
    return rotation.rotate(_login(args))


def cmd_keys_repair(args: argparse.Namespace) -> Any:
    """No login: a workspace whose keyring and database disagree cannot be logged in to."""
    path = args.workspace or os.environ.get("WORKBENCH_WORKSPACE")
    if not path:
        raise InvalidInput("Name the workspace with --workspace or WORKBENCH_WORKSPACE.",
                           "--workspace または WORKBENCH_WORKSPACE でワークスペースを指定してください。")
    return rotation.repair_workspace(Workspace.load(path))


def cmd_keys_issue(args: argparse.Namespace) -> Any:
    session = _login(args)
    if args.approval:
        if not args.out:
            raise InvalidInput("Name the key file to write with --out.", "書き出す鍵ファイルを --out で指定してください。")
        return media.issue_key_file(session, args.recipient, args.out, approval_id=args.approval)
    return {"approval_requested": media.request_key_file(session, args.recipient)}


# -- the key-encryption key (issue 19 item 3) --

def _kek_file(path: str | None) -> KeyEncryptionKey | None:
    """The KEK file named on the command line (else the environment or the setting decide)."""
    return KeyEncryptionKey.from_file(path) if path else None


def _kek_to_environment(path: str | None) -> None:
    """``serve --kek-file``: the web server and its kernels find the KEK as every process does."""
    if path:
        KeyEncryptionKey.from_file(path)  # refused here, not in a kernel
        os.environ[KEK_ENV] = str(Path(path).resolve())


def _demo_kek(args: argparse.Namespace) -> KeyEncryptionKey:
    """A demo's KEK: ``--kek-file`` (made if missing), else ``WORKBENCH_KEK_FILE``, else ``.demo-kek``
    beside the workspace folder (made if missing) — never inside it."""
    path = args.kek_file or os.environ.get(KEK_ENV) or str(Path(args.path).resolve().parent / ".demo-kek")
    return KeyEncryptionKey.from_file(path) if Path(path).exists() else KeyEncryptionKey.create_file(path)


def cmd_keys_kek_new(args: argparse.Namespace) -> Any:
    kek = KeyEncryptionKey.create_file(args.file)
    return {"kek_file": str(kek.path), "kek_id": kek.kek_id,
            "message_ja": "鍵暗号化鍵（KEK）を作成しました（モード 0600）。ワークスペースやバックアップとは別の場所に置いてください。",
            "message_en": "Key-encryption key written (mode 0600). Keep it apart from the workspace and its backups."}


def cmd_keys_wrap(args: argparse.Namespace) -> Any:
    """No login: an unwrapped keyring is readable by whoever holds the folder until this runs."""
    kek = _kek_file(args.kek_file) or locate_kek()
    if kek is None:
        raise InvalidInput("Name the KEK file with --kek-file (or WORKBENCH_KEK_FILE).",
                           "--kek-file（または WORKBENCH_KEK_FILE）で KEK ファイルを指定してください。", reason="kek_missing")
    if args.keyring:
        return keyring_admin.wrap_keyring_copy(args.keyring, kek)
    path = args.workspace or os.environ.get("WORKBENCH_WORKSPACE")
    if not path:
        raise InvalidInput("Name the workspace with --workspace or WORKBENCH_WORKSPACE.",
                           "--workspace または WORKBENCH_WORKSPACE でワークスペースを指定してください。")
    return keyring_admin.wrap_workspace(path, kek)


def cmd_keys_rewrap(args: argparse.Namespace) -> Any:
    return keyring_admin.rewrap(_login(args), KeyEncryptionKey.from_file(args.new_kek_file))


def cmd_ledger(args: argparse.Namespace) -> Any:
    return media.ledger(_login(args), limit=args.limit)


def cmd_package_delivered(args: argparse.Namespace) -> Any:
    return media.mark_delivered(_login(args), args.entry_id)


def _received_ledger(args: argparse.Namespace) -> Path:
    """The receiving side's media ledger: ``--ledger``, else ``WORKBENCH_RECEIVED_LEDGER``, else
    ``$XDG_DATA_HOME/workbench/received-ledger.jsonl`` — never inside the output folder unless named."""
    if args.ledger:
        return Path(args.ledger)
    if os.environ.get("WORKBENCH_RECEIVED_LEDGER"):
        return Path(os.environ["WORKBENCH_RECEIVED_LEDGER"])
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "workbench" / "received-ledger.jsonl"


def cmd_package_unpack(args: argparse.Namespace) -> Any:
    """The receiving side: no workspace, only the key file that was handed over.  All or nothing, bounded
    (``transfer.unpack_package``): nothing is written until the whole package verifies, nothing overwritten."""
    private_umask()  # the folder 0700 and every member 0600 from creation, never chmod-ed later
    recipient, key, _ = transfer.read_keyfile(Path(args.key))
    limits = {"max_member": args.max_member_mb << 20, "max_total": args.max_package_mb << 20}
    ledger_path = _received_ledger(args)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InvalidInput(f"{out} is not a folder.", f"{out} はフォルダーではありません。", reason="not_a_folder")
    own: list[Path] = []

    def verified(manifest: transfer.Manifest) -> None:
        root = _own_workspace(args, manifest.workspace_id)
        if root is not None:
            # The workspace's own package opened inside it: log in, and the service audits it.
            args.workspace = str(root)
            media.unpack_own(_login(args), str(Path(args.file).resolve()), str(Path(args.key).resolve()))
            own.append(root)

    entry: dict[str, Any] = {}

    def record(manifest: transfer.Manifest) -> None:
        # The receiving side's own media ledger (C9): one line per package read, written before the
        # members appear (a kill after it leaves no member: the staging folder is removed next time).
        entry.update({"read_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                      "package_id": manifest.package_id, "kind": manifest.kind,
                      "record_count": manifest.record_count, "digest": manifest.digest, "creator": manifest.creator,
                      "recipient": recipient, "file": Path(args.file).name})
        ledger_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with ledger_path.open("a", encoding="utf-8") as ledger:
            ledger.write(json.dumps(entry, ensure_ascii=False) + "\n")
            ledger.flush()
            os.fsync(ledger.fileno())

    manifest, written = transfer.unpack_package(Path(args.file), key=key, out=out, reserved=[ledger_path],
                                                on_verified=verified, before_publish=record, **limits)
    return {"recipient": recipient, "manifest": manifest.to_dict(), "written": [str(p) for p in written],
            "ledger": str(ledger_path), "ledger_entry": entry, "audited_in": str(own[0]) if own else None}


def _own_workspace(args: argparse.Namespace, workspace_id: str) -> Path | None:
    """The workspace that made this package, if the unpacking happens inside it: the
    workspace named by ``--workspace``/``WORKBENCH_WORKSPACE``, or one that holds the
    package, the output folder or the current directory."""
    from workbench.core.workspace import SETTINGS_FILE, Settings

    candidates = []
    named = args.workspace or os.environ.get("WORKBENCH_WORKSPACE")
    if named:
        candidates.append(Path(named))
    for start in (Path(args.file), Path(args.out), Path.cwd()):
        here = start.resolve()
        candidates += [p for p in (here, *here.parents) if (p / SETTINGS_FILE).is_file()][:1]
    for root in candidates:
        try:
            if Settings.load(root / SETTINGS_FILE).workspace_id == workspace_id:
                return root
        except WorkbenchError:
            continue
    return None


def cmd_person_show(args: argparse.Namespace) -> Any:
    session = _login(args)
    view = persons.get(session, args.person_id).to_dict()
    if args.reveal:
        view["number"] = persons.reveal_number(session, args.person_id)
    return view


def cmd_person_search(args: argparse.Namespace) -> Any:
    from workbench.core.paging import MAX_LIMIT, PageRequest

    return persons.search(_login(args), args.text, PageRequest(offset=args.offset, limit=min(args.limit, MAX_LIMIT),
                                                               sort=args.sort, descending=args.desc))


def cmd_pipeline_run(args: argparse.Namespace) -> Any:
    params = {}
    for item in args.param or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise InvalidInput(f"Write parameters as NAME=VALUE, not {item!r}.", f"パラメータは 名前=値 の形で指定してください: {item!r}")
        params[name] = value
    return pipeline_runs.run(_login(args), args.pipeline, params)


def cmd_pipeline_list(args: argparse.Namespace) -> Any:
    return pipeline_runs.listing(_login(args), limit=args.limit)


def cmd_pipeline_status(args: argparse.Namespace) -> Any:
    from workbench.cycles import engine

    return engine.status(_login(args), args.run)


def cmd_batch_account(args: argparse.Namespace) -> Any:
    from workbench.controls import batch_accounts

    session = _login(args)
    if args.command == "add":
        if args.approval:
            return batch_accounts.add_account(session, args.user_id, args.cycle, approval_id=args.approval)
        return {"approval_requested": batch_accounts.request_account(session, args.user_id, args.cycle)}
    if args.command == "key":
        return batch_accounts.issue_key(session, args.user_id, args.out, days=args.days)
    if args.command == "revoke":
        return batch_accounts.revoke_keys(session, args.user_id, key_id=args.key_id)
    if args.command == "hours":
        return batch_accounts.set_hours(session, args.user_id, access_rules.parse_hours(args.days))
    return batch_accounts.list_accounts(session)


# -- targets commands (F0, F0b, F1b) --

def _read_input(path: Path) -> bytes:
    from workbench.files.formats import MAX_FILE_BYTES, too_large

    try:
        if path.stat().st_size > MAX_FILE_BYTES:  # refused before reading it into memory
            raise too_large(path.stat().st_size)
        return path.read_bytes()
    except OSError:
        raise InvalidInput(f"Cannot read the file {path.name}.", f"ファイル {path.name} を読めません。") from None


def cmd_targets_import(args: argparse.Namespace) -> Any:
    from workbench.intake import targets

    path = Path(args.file)
    if args.preview:
        return targets.preview_targets(_login(args), _read_input(path), file_name=path.name, reapply=args.reapply)
    return targets.import_targets(_login(args), _read_input(path), file_name=path.name, reapply=args.reapply,
                                  confirm_unlisted=args.confirm_unlisted)


def cmd_package_sweep(args: argparse.Namespace) -> Any:
    return media.sweep(_login(args))


def _outgoing(args: argparse.Namespace, kind: str, step: str, *, wrap_request: bool = False, **params: Any) -> Any:
    """One dispatch for every outgoing file (``workbench.files.outgoing.REGISTRY``): preview, request, create."""
    from workbench.files import outgoing

    session = _login(args)
    if step == "preview":
        return outgoing.preview(session, kind, **params)
    if step == "request":
        approval = outgoing.request(session, kind, **params)
        return {"approval_requested": approval} if wrap_request else approval
    return outgoing.create(session, kind, approval_id=args.approval, **params)


def _step(args: argparse.Namespace) -> str:
    """``--preview`` / ``--approval A`` / neither (request) for the one-command outgoing files."""
    return "preview" if args.preview else "create" if args.approval else "request"


def cmd_collection(args: argparse.Namespace) -> Any:
    from workbench.intake.collection import APPROVAL_KIND

    step = {"preview": "preview", "request": "request", "export": "create"}[args.command]
    return _outgoing(args, APPROVAL_KIND, step, wards=args.ward, status=args.status)


def cmd_integrated_request(args: argparse.Namespace) -> Any:
    from workbench.intake.integrated import APPROVAL_KIND

    return _outgoing(args, APPROVAL_KIND, _step(args), wrap_request=True)


def _incoming_options(p: argparse.ArgumentParser) -> None:
    """The options of every command that imports an incoming file (``workbench.files.incoming``)."""
    p.add_argument("--preview", action="store_true", help="read and check the file; say what importing would change")
    p.add_argument("--keep", action="store_true",
                   help="leave the file where it is after the import (default: a package moves to incoming/done/,"
                        " a plain file is deleted, recorded in the media ledger)")


def cmd_integrated_import(args: argparse.Namespace) -> Any:
    from workbench.files import incoming
    from workbench.intake import integrated

    session = _login(args)  # first: every refusal is audited (issue 24)
    if args.preview:
        return integrated.preview_integrated_answers(session, args.file)
    return incoming.receive(session, args.file, kinds=(integrated.ANSWER_KIND,), remove_source=not args.keep)


# -- registration commands (F1) --

def cmd_register(args: argparse.Namespace) -> Any:
    from workbench.intake import registration

    path = Path(args.file)
    data = _read_input(path)
    fn = registration.preview_registration if args.preview else registration.register
    return fn(_login(args), data, source=args.source, file_name=path.name)


def _page_options(p: argparse.ArgumentParser, *, sorts: str, text: str) -> None:
    """The options of a list that pages in the database (issue 11): one page instead of the whole list."""
    p.add_argument("--offset", type=int, help="one page from this row (≤ 200 rows), with the total and counts")
    p.add_argument("--sort", help=sorts)
    p.add_argument("--desc", action="store_true", help="sort descending")
    p.add_argument("--text", help=text)


def _page_request(args: argparse.Namespace, **filters: str | None) -> Any:
    """The page the options of :func:`_page_options` ask for, or None when none was given."""
    if args.offset is None and not (args.sort or args.desc or args.text):
        return None
    from workbench.core.paging import MAX_LIMIT, PageRequest

    return PageRequest(offset=args.offset or 0, limit=min(args.limit, MAX_LIMIT), sort=args.sort, descending=args.desc,
                       text=args.text or "", filters={k: v for k, v in filters.items() if v})


def cmd_review_list(args: argparse.Namespace) -> Any:
    from workbench.intake import registration

    request = _page_request(args)
    if request is not None:
        return registration.review_page(_login(args), request)
    return registration.review_queue(_login(args))


def cmd_review_resolve(args: argparse.Namespace) -> Any:
    from workbench.intake import registration

    return registration.resolve_review(_login(args), args.review_id, accept=args.accept)


# -- query commands (⑧⑨ procedures, F2 information queries, F3 Juki-net) --

def cmd_procedures_import(args: argparse.Namespace) -> Any:
    from workbench.files import incoming
    from workbench.queries import procedures

    session = _login(args)  # first: every refusal is audited (issue 24)
    if args.preview:
        return procedures.preview_procedures(session, args.file)
    return incoming.receive(session, args.file, kinds=(procedures.SPEC.kind,), remove_source=not args.keep)


def cmd_batch(args: argparse.Namespace) -> Any:
    from workbench.queries.batches import APPROVAL_KINDS

    common: dict[str, Any] = {"procedure": args.procedure, "fiscal_year": args.year,
                              "records_per_file": args.records_per_file,
                              "filed_from": args.filed_from, "filed_to": args.filed_to}
    if args.kind == "info":
        common["information"] = args.information
    elif args.information:
        raise InvalidInput("--information applies to info batches only.", "--information は info の照会にのみ指定できます。")
    return _outgoing(args, APPROVAL_KINDS[args.kind], args.command, **common)


# -- results commands (F4, F5, C11, C7, F6) --

def cmd_batch_import_results(args: argparse.Namespace) -> Any:
    from workbench.files import incoming
    from workbench.queries import results

    # Log in first: every refusal, the header's included, is audited against the person running it (issue 24).
    session = _login(args)
    kinds = (results.INFO_SPEC.kind, results.JUKI_SPEC.kind)
    if args.preview:
        return incoming.preview(session, incoming.kind_of(args.file, kinds), args.file)
    return incoming.receive(session, args.file, kinds=kinds, remove_source=not args.keep)


def cmd_batch_expire(args: argparse.Namespace) -> Any:
    from workbench.queries import results

    return results.expire_requests(_login(args), older_than_days=args.days)


def cmd_results_purge(args: argparse.Namespace) -> Any:
    from workbench.queries import results

    return results.purge_results(_login(args))


def cmd_discrepancies_list(args: argparse.Namespace) -> Any:
    from workbench.queries import discrepancies

    request = _page_request(args, status=args.status, kind=args.kind)
    if request is not None:
        return discrepancies.discrepancy_page(_login(args), request)
    return discrepancies.list_discrepancies(_login(args), status=args.status, kind=args.kind, limit=args.limit)


def cmd_discrepancies_resolve(args: argparse.Namespace) -> Any:
    from workbench.queries import discrepancies

    return discrepancies.resolve_discrepancy(_login(args), args.discrepancy_id, action=args.action, note=args.note)


def cmd_discrepancies_notices(args: argparse.Namespace) -> Any:
    from workbench.queries.discrepancies import NOTICE_APPROVAL_KIND

    return _outgoing(args, NOTICE_APPROVAL_KIND, _step(args), wrap_request=True)


def cmd_declared_income_import(args: argparse.Namespace) -> Any:
    from workbench.queries import discrepancies

    path = Path(args.file)
    return discrepancies.import_declared_income(_login(args), _read_input(path), file_name=path.name)


def cmd_linkage_export(args: argparse.Namespace) -> Any:
    from workbench.queries.linkage_file import APPROVAL_KIND

    return _outgoing(args, APPROVAL_KIND, _step(args), wrap_request=True, procedure=args.procedure,
                     fiscal_year=args.year)



# -- the end of the data's life (issue 12: F7 C8 C12 C11 F9 F10 C6) --

def cmd_deletion(args: argparse.Namespace) -> Any:
    from workbench.lifecycle import deletion

    session = _login(args)
    if args.command == "import":
        path = Path(args.file)
        return deletion.import_deletion_list(session, _read_input(path), file_name=path.name)
    if args.command == "select":
        return deletion.select_for_deletion(session, person_ids=args.person or [], reason=args.reason,
                                            deceased=args.deceased)
    if args.command == "preview":
        return deletion.preview_deletion(session, args.list_id)
    if args.command == "request":
        return deletion.request_deletion(session, args.list_id)
    if args.command == "apply":
        return deletion.apply_and_purge(session, args.list_id, approval_id=args.approval, purge=args.purge,
                                        discard_files=args.discard_file or [], expected_count=args.expected_count)
    if args.command == "purge":
        return deletion.purge(session)
    if args.command == "lists":
        return deletion.open_lists(session)
    if args.command == "copies":
        return deletion.destruction_marks(session, pending_only=not args.all)
    if args.command == "copy-destroyed":
        return deletion.confirm_destroyed(session, args.entry_id)
    return deletion.deletion_records(session, limit=args.limit)


def cmd_backup(args: argparse.Namespace) -> Any:
    from workbench.lifecycle import backup

    return backup.backup(_login(args), args.out, keyring_out=args.keyring_out)


def cmd_backup_verify(args: argparse.Namespace) -> Any:
    from workbench.lifecycle import backup

    return backup.verify_backup(args.file, keyring=args.keyring, kek=_kek_file(args.kek_file))


def cmd_restore(args: argparse.Namespace) -> Any:
    """No login: the workspace does not exist yet; the backup and its keyring copy are the authority."""
    from workbench.lifecycle import backup

    return backup.restore(args.file, into=args.into, keyring=args.keyring, journal=args.journal,
                          kek=_kek_file(args.kek_file))

def cmd_retention(args: argparse.Namespace) -> Any:
    from workbench.lifecycle import retention

    session = _login(args)
    if args.command == "rules":
        return retention.rules(session)
    if args.command == "set":
        return retention.set_rule(session, args.kind, args.days)
    return retention.apply(session, dry_run=args.command == "report")

def cmd_disclosure(args: argparse.Namespace) -> Any:
    from workbench.lifecycle import disclosure

    session = _login(args)
    if args.command == "show":
        return disclosure.disclose(session, args.person_id, out=args.out)
    if args.command == "correct":
        return disclosure.correct(session, args.person_id, args.field, args.value, reason=args.reason)
    if args.command == "suspend":
        return disclosure.suspend(session, args.person_id, reason=args.reason)
    if args.command == "lift":
        return disclosure.lift_suspension(session, args.person_id, reason=args.reason)
    return disclosure.suspensions(session)

def cmd_inquiry(args: argparse.Namespace) -> Any:
    from workbench.lifecycle import inquiries

    session = _login(args)
    if args.command == "add":
        return inquiries.record(session, channel=args.channel, category=args.category, question=args.question,
                                person_id=args.person, handled_by=args.handled_by)
    if args.command == "close":
        return inquiries.close(session, args.inquiry_id, response=args.response)
    if args.command == "search":
        return inquiries.search(session, text=args.text, person_id=args.person, status=args.status,
                                channel=args.channel, month=args.month, limit=args.limit)
    return inquiries.monthly(session, year=args.year)


def cmd_idreview(args: argparse.Namespace) -> Any:
    from workbench.controls import idreview

    session = _login(args)
    if args.command == "start":
        return idreview.start_review(session)
    if args.command == "disable":
        return idreview.disable_in_review(session, args.review_id, args.user_id, reason=args.reason)
    if args.command == "signoff":
        if args.approval:
            return idreview.sign_off(session, args.review_id, approval_id=args.approval)
        return {"approval_requested": idreview.request_signoff(session, args.review_id)}
    return idreview.reviews(session)


def cmd_deceased_confirm(args: argparse.Namespace) -> Any:
    from workbench.lifecycle import deletion

    return deletion.confirm_deceased(_login(args), args.discrepancy_id, note=args.note)


def cmd_stats_publish(args: argparse.Namespace) -> Any:
    from workbench.statistics import publishing

    as_of = dt.date.fromisoformat(args.as_of) if args.as_of else None
    result = publishing.publish(_login(args), k=args.k, max_loss=args.max_loss, as_of=as_of)
    result.manifest = {}
    return result


def cmd_stats_withdraw(args: argparse.Namespace) -> Any:
    from workbench.statistics import publishing

    return publishing.withdraw(_login(args), args.publication_id, reason=args.reason)


def cmd_stats_list(args: argparse.Namespace) -> Any:
    from workbench.statistics import publishing

    return publishing.publications(_login(args))


def _stats_filters(items: list[str] | None) -> dict[str, list[str]]:
    """``age_band=75歳以上,70〜74歳`` (repeatable) → {"age_band": [...]}."""
    out: dict[str, list[str]] = {}
    for item in items or []:
        var, sep, rest = item.partition("=")
        values = [v for v in rest.split(",") if v]
        if not sep or not values:
            raise InvalidInput(f"--filter {item!r}: write VARIABLE=A,B.", f"--filter {item!r} の形式が誤っています（項目=区分A,区分B）。")
        out.setdefault(var, []).extend(values)
    return out


def cmd_stats_table(args: argparse.Namespace) -> Any:
    from workbench.statistics import publishing
    from workbench.statistics.tables import _write_shared

    session = _login(args)
    dims = [args.rows, args.cols, args.layers, *(args.more or [])]
    request = dict(filters=_stats_filters(args.filter) or None, measure=args.measure, min_count=args.min_count,
                   quantile=args.quantile)
    if args.csv or args.xlsx:
        result = None
        for path, fmt in ((args.csv, "csv"), (args.xlsx, "xlsx")):
            if path:
                result, data = publishing.export(session, args.publication, *dims, fmt=fmt, **request)
                _write_shared(Path(path), data)
    else:
        result = publishing.table(session, args.publication, *dims, epsilon=args.epsilon, **request)
    assert result is not None
    if args.json:
        return result
    print(result)
    for ja, en in result.notes:
        print(f"注: {ja} / {en}")
    return None


def cmd_stats_budget(args: argparse.Namespace) -> Any:
    from workbench.statistics import publishing

    session = _login(args)
    if args.command == "budget-restore":
        if args.approval:
            return publishing.restore_budget(session, args.user_id, amount=args.amount, reason=args.reason,
                                             approval_id=args.approval)
        return {"approval_requested": publishing.request_budget_restore(session, args.user_id, amount=args.amount,
                                                                        reason=args.reason)}
    if args.command == "releases":
        return publishing.releases(session)
    return publishing.budget(session)


@dataclasses.dataclass(frozen=True)
class Exit:
    """A result printed on stdout with a non-default exit code (a failed verification is a
    report, not an error: no exception carries it)."""

    payload: Any
    code: int


# -- issue 23: the monthly evidence report and the office's records (one block, to port as a module) --
def cmd_evidence(args: argparse.Namespace) -> Any:
    from workbench.controls import evidence

    report = evidence.monthly(_login(args), args.month)
    out = report.to_dict()
    if args.out:
        folder = Path(args.out)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        stem = folder / f"evidence-{args.month}"
        out["files"] = [str(report.write_html(stem.with_suffix(".html"))), str(report.write_pdf(stem.with_suffix(".pdf"))),
                        str(report.write_xlsx(stem.with_suffix(".xlsx")))]
    return out


def cmd_records(args: argparse.Namespace) -> Any:
    from workbench.controls import records

    session = _login(args)
    if args.command == "training-add":
        return records.record_training(session, held_on=args.date, title=args.title, topic=args.topic,
                                       minutes=args.minutes, attendees=args.attendee or [])
    if args.command == "inspection-add":
        return records.record_inspection_item(session, fiscal_year=args.year, item=args.item, result=args.result,
                                              finding=args.finding, follow_up=args.follow_up, due_on=args.due,
                                              closed_on=args.closed)
    if args.command == "kits":
        return records.record_kits(session, batch=args.batch, direction=args.direction, kits=args.kits,
                                   moved_on=args.date, note=args.note)
    if args.command == "incident-add":
        return records.record_incident(session, kind=args.kind, summary=args.summary, persons=args.persons,
                                       discovered_at=args.discovered, occurred_at=args.occurred,
                                       unauthorised=args.unauthorised)
    if args.command == "incident-event":
        return records.add_incident_event(session, args.incident_id, event=args.event, at=args.at, note=args.note)
    listing: dict[str, Callable[[], Any]] = {
        "training": lambda: records.training(session), "kits": lambda: records.kit_reconciliation(session),
        "incidents": lambda: records.incidents(session),
        "inspection": lambda: records.inspection(session, args.year or _fiscal_year_now()),
    }
    return listing[args.kind]()


def _fiscal_year_now() -> int:
    today = dt.date.today()
    return today.year if today.month >= 4 else today.year - 1


def _evidence_commands(command: Callable[..., argparse.ArgumentParser], group: Callable[[str, str], Any]) -> None:
    g = group("evidence", "the monthly evidence report: every promise of the assessment and what the system did")
    p = command("evidence show", cmd_evidence, "the month's evidence, promise by promise (auditor)", g)
    p.add_argument("--month", required=True, help="YYYY-MM, Japan time")
    p.add_argument("--out", help="also write the report as HTML and PDF and the evidence tables as xlsx into this folder")
    g = group("records", "the office's records: training, self-inspection, contractor kits, incidents (administrator)")
    p = command("records training-add", cmd_records, "record a training session and who attended (staff IDs)", g)
    p.add_argument("--date", required=True, help="YYYY-MM-DD")
    p.add_argument("--title", required=True)
    p.add_argument("--topic", required=True, help="my_number_basics, security, incident_response, system_operation, other")
    p.add_argument("--minutes", required=True)
    p.add_argument("--attendee", action="append", help="a staff user ID; repeat for each")
    p = command("records inspection-add", cmd_records, "record one item of the yearly self-inspection", g)
    p.add_argument("--year", required=True, help="fiscal year (April to March)")
    p.add_argument("--item", required=True, help="a checklist item, e.g. ids_reviewed, training_done, backups_tested")
    p.add_argument("--result", required=True, choices=["ok", "finding"])
    p.add_argument("--finding")
    p.add_argument("--follow-up")
    p.add_argument("--due", help="YYYY-MM-DD: when the follow-up is due (needed for a finding)")
    p.add_argument("--closed", help="YYYY-MM-DD: when the follow-up was completed")
    p = command("records kits", cmd_records, "record collection kits handed out to the contractor, returned or lost", g)
    p.add_argument("--batch", required=True)
    p.add_argument("--direction", required=True, choices=["handed_out", "returned", "lost"])
    p.add_argument("--kits", required=True)
    p.add_argument("--date", required=True, help="YYYY-MM-DD")
    p.add_argument("--note")
    p = command("records incident-add", cmd_records, "open an incident; prints its reporting deadlines", g)
    p.add_argument("--kind", required=True, help="leak, loss, damage, wrong_recipient, unauthorised_access, other")
    p.add_argument("--summary", required=True, help="what happened, without personal data")
    p.add_argument("--persons", required=True, help="how many people are affected")
    p.add_argument("--discovered", required=True, help="when the office knew, e.g. 2026-11-04T10:30 (Japan time)")
    p.add_argument("--occurred", help="when it happened, if known")
    p.add_argument("--unauthorised", action="store_true", help="caused or possibly caused with an unfair purpose (60 days)")
    p = command("records incident-event", cmd_records, "add a step to an incident's timeline (reports, notice, closed)", g)
    p.add_argument("incident_id")
    p.add_argument("--event", required=True,
                   help="contained, preliminary_report, final_report, persons_notified, recurrence_prevention, closed")
    p.add_argument("--at", required=True, help="e.g. 2026-11-06T15:00 (Japan time)")
    p.add_argument("--note")
    p = command("records list", cmd_records, "list training, the self-inspection, kit reconciliation or incidents", g)
    p.add_argument("kind", choices=["training", "inspection", "kits", "incidents"])
    p.add_argument("--year", help="fiscal year of the self-inspection (default: the current one)")
# -- end of the issue 23 block --

# -- the parser -------------------------------------------------------------------------

#: Every command path and its handler; a test checks each is in the README.
COMMANDS: dict[str, Callable[[argparse.Namespace], Any]] = {}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description="都営住宅 マイナンバー管理ワークベンチ")
    parser.add_argument("--workspace", "-w", help="workspace folder (or WORKBENCH_WORKSPACE)")
    parser.add_argument("--user", "-u", help="your user ID (or WORKBENCH_USER)")
    parser.add_argument("--batch-key", help="a batch account's key file (or WORKBENCH_BATCH_KEY), for scheduled cycles")
    sub = parser.add_subparsers(dest="group", required=True)

    def command(path: str, handler: Callable[[argparse.Namespace], Any], help_text: str,
                parent: Any = sub) -> argparse.ArgumentParser:
        COMMANDS[path] = handler
        p: argparse.ArgumentParser = parent.add_parser(path.split()[-1], help=help_text)
        p.set_defaults(handler=handler)
        return p

    p = command("init", cmd_init, "create a workspace with its first administrator and approver")
    p.add_argument("path")
    p.add_argument("--admin", required=True)
    p.add_argument("--approver", required=True)
    p.add_argument("--kek-file", help="the key-encryption key file, outside the workspace (or WORKBENCH_KEK_FILE)")

    p = command("demo", cmd_demo, "build a demo workspace from the synthetic population")
    p.add_argument("--path", default="demo-workspace")
    p.add_argument("--persons", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--kek-file", help="the demo's key-encryption key, made if missing (default: WORKBENCH_KEK_FILE,"
                   " else .demo-kek beside the workspace folder)")

    p = command("demo-code", cmd_demo_code, "demo workspaces only: the current one-time code of a demo account")
    p.add_argument("user_id")

    p = command("serve", cmd_serve, "serve the dashboards with Voila on 127.0.0.1")
    p.add_argument("--path", default="demo-workspace")
    p.add_argument("--port", type=int, default=8866)
    p.add_argument("--trust-proxy", action="store_true",
                   help="behind a TLS reverse proxy: client address and certificate fingerprint from its headers")
    p.add_argument("--kek-file", help="the key-encryption key file, outside the workspace (or WORKBENCH_KEK_FILE)")

    def group(name: str, help_text: str) -> Any:
        g = sub.add_parser(name, help=help_text)
        return g.add_subparsers(dest="command", required=True)

    g = group("user", "user IDs and roles")
    p = command("user add", cmd_user_add, "add a user ID (password from WORKBENCH_NEW_PASSWORD or asked)", g)
    p.add_argument("user_id")
    p.add_argument("--name")
    p = command("user disable", cmd_user_disable, "disable a user ID at once", g)
    p.add_argument("user_id")
    command("user list", cmd_user_list, "list user IDs and roles", g)
    p = command("user review", cmd_user_review, "the yearly review of IDs and permissions", g)
    p.add_argument("--confirm", action="store_true", help="refused: record a review with idreview start / signoff")
    p = command("user grant", cmd_user_grant, "request a role grant, or carry it out with --approval", g)
    p.add_argument("user_id")
    p.add_argument("role")
    p.add_argument("--approval")
    p = command("user revoke", cmd_user_revoke, "remove a role", g)
    p.add_argument("user_id")
    p.add_argument("role")

    command("pending", cmd_pending, "the work waiting for you, counted from the whole database")

    g = group("access", "C13: set hours and registered terminals")
    command("access show", cmd_access_show, "the set hours, approved exceptions and registered terminals", g)
    p = command("access hours", cmd_access_hours, "set the hours by weekday, e.g. mon-fri=08:30-18:00 sat-sun=closed", g)
    p.add_argument("days", nargs="+")
    p.add_argument("--preview", action="store_true", help="only show what the change would do now (whose sessions end)")
    p.add_argument("--confirm", action="store_true", help="go ahead although the change ends sessions now (yours too)")
    p = command("access exception", cmd_access_exception,
                "request use outside the hours for one user and period; with --approval, carry it out", g)
    p.add_argument("user_id")
    p.add_argument("--from", dest="starts", required=True)
    p.add_argument("--to", dest="ends", required=True)
    p.add_argument("--reason", required=True)
    p.add_argument("--approval")
    p = command("access terminal-add", cmd_access_terminal_add, "register a terminal by address/range or certificate", g)
    p.add_argument("--address")
    p.add_argument("--certificate", help="SHA-256 fingerprint of the client certificate")
    p.add_argument("--label", required=True)
    p = command("access terminal-remove", cmd_access_terminal_remove, "remove a registered terminal", g)
    p.add_argument("terminal_id")

    g = group("approvals", "second-person approvals")
    command("approvals list", cmd_approvals_list, "requests waiting for a decision", g)
    for verb in ("approve", "reject"):
        p = command(f"approvals {verb}", cmd_approvals_decide, f"{verb} another person's request", g)
        p.add_argument("approval_id")
    p.add_argument("--reason", required=True, help="why it is rejected; shown to the person who asked")

    g = group("audit", "the audit log")
    p = command("audit verify", cmd_audit_verify, "verify the hash chain and signed heads", g)
    p.add_argument("--anchor", help="an anchor file written by `audit anchor`, to check against too")
    p = command("audit acknowledge", cmd_audit_acknowledge,
                "after a broken log: record what happened and lift the stop on writes and reveals", g)
    p.add_argument("--note", required=True, help="what happened and what was done")
    p = command("audit anchor", cmd_audit_anchor, "append the newest signed head to an anchor file elsewhere", g)
    p.add_argument("--to", required=True, help="the anchor file, outside the workspace (another disk)")
    command("audit anchor-outside", cmd_audit_anchor_outside,
            "append the newest signed head to the anchor outside the workspace now; where, lines, append-only?", g)
    p = command("audit search", cmd_audit_search, "search records by user, target, operation, outcome", g)
    p.add_argument("--by", help="user ID")
    p.add_argument("--target", help="target identifier (matched by pseudonym)")
    p.add_argument("--operation")
    p.add_argument("--outcome")
    p.add_argument("--limit", type=int, default=100)

    g = group("keys", "the keyring")
    command("keys rotate", cmd_keys_rotate, "move every ciphertext and the database to new keys", g)
    command("keys repair", cmd_keys_repair, "finish or roll back an interrupted key rotation (no login)", g)
    p = command("keys issue", cmd_keys_issue,
                "request approval for, or (--approval A --out FILE) write, a recipient's key file", g)
    p.add_argument("--recipient", required=True, choices=sorted(media.RECIPIENTS))
    p.add_argument("--approval")
    p.add_argument("--out")
    p = command("keys kek-new", cmd_keys_kek_new, "write a new key-encryption key file (0600), outside any workspace", g)
    p.add_argument("file")
    p = command("keys wrap", cmd_keys_wrap,
                "wrap an old workspace's unwrapped keyring (or --keyring FILE, a copy) by a KEK (no login)", g)
    p.add_argument("--kek-file", help="the KEK file, outside the workspace (or WORKBENCH_KEK_FILE)")
    p.add_argument("--keyring", help="wrap this loose keyring copy instead of the workspace's keyring")
    p = command("keys rewrap", cmd_keys_rewrap, "wrap the keyring by a new KEK (keys.manage)", g)
    p.add_argument("--new-kek-file", required=True)

    p = command("ledger", cmd_ledger, "the media ledger of packages written and read")
    p.add_argument("--limit", type=int, default=100)

    g = group("package", "transfer packages")
    p = command("package unpack", cmd_package_unpack, "receiving side: verify and unpack with a key file", g)
    p.add_argument("file")
    p.add_argument("--key", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--ledger", help="the receiving side's media ledger (default: WORKBENCH_RECEIVED_LEDGER or"
                                    " ~/.local/share/workbench/received-ledger.jsonl; never inside --out unless named)")
    p.add_argument("--max-member-mb", type=int, default=transfer.MAX_UNPACK_MEMBER >> 20,
                   help="refuse a package with a member larger than this (MiB)")
    p.add_argument("--max-package-mb", type=int, default=transfer.MAX_UNPACK_TOTAL >> 20,
                   help="refuse a package whose members together are larger than this (MiB)")
    command("package sweep", cmd_package_sweep, "check outgoing/ and return_lists/ against the media ledger", g)
    p = command("package delivered", cmd_package_delivered, "record a copy handed over and delete it", g)
    p.add_argument("entry_id")

    g = group("person", "one person")
    p = command("person show", cmd_person_show, "one person, number masked (--reveal: audited)", g)
    p.add_argument("person_id")
    p.add_argument("--reveal", action="store_true")
    p = command("person search", cmd_person_search, "find people by 宛名番号, name or kana (masked, audited)", g)
    p.add_argument("text", help="a 宛名番号 in any width or case, or a name or kana")
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--sort", choices=["kana", "person_id", "birth_date"])
    p.add_argument("--desc", action="store_true")

    g = group("pipeline", "Papermill cycle notebooks")
    p = command("pipeline run", cmd_pipeline_run, "run a cycle notebook under your authority (-p NAME=VALUE)", g)
    p.add_argument("pipeline", help=", ".join(sorted(pipeline_runs.PIPELINES)))
    p.add_argument("-p", "--param", action="append", help="NAME=VALUE: IDs, years and paths only")
    p = command("pipeline list", cmd_pipeline_list, "the latest runs you may see, with cycle stages and report", g)
    p.add_argument("--limit", type=int, default=20)
    p = command("pipeline status", cmd_pipeline_status, "a cycle run's stages (RUN: run ID R… or cycle run ID C…)", g)
    p.add_argument("run")

    # -- batch accounts (issue 14) --
    g = group("batch-account", "batch accounts for unattended cycles")
    p = command("batch-account add", cmd_batch_account,
                "request approval for, or (--approval A) create, a batch account for one cycle", g)
    p.add_argument("user_id")
    p.add_argument("--cycle", required=True)
    p.add_argument("--approval")
    p = command("batch-account key", cmd_batch_account, "write a new key file (mode 0600) for a batch account", g)
    p.add_argument("user_id")
    p.add_argument("--out", required=True, help="outside the repository and the workspace's runs/")
    p.add_argument("--days", type=int, default=90)
    p = command("batch-account revoke", cmd_batch_account, "revoke a batch account's keys at once", g)
    p.add_argument("user_id")
    p.add_argument("--key-id")
    command("batch-account list", cmd_batch_account, "batch accounts, their cycle, keys and hours", g)
    p = command("batch-account hours", cmd_batch_account,
                "C13: declare when a batch account may run, e.g. mon-sun=01:00-06:00 (its own hours, not the office's)", g)
    p.add_argument("user_id")
    p.add_argument("days", nargs="+")

    # -- targets parser (F0, F0b, F1b) --
    g = group("targets", "F0: the target list from the housing business system")
    p = command("targets import", cmd_targets_import, "F0: import the target list (CSV, UTF-8/BOM/CP932)", g)
    p.add_argument("file")
    p.add_argument("--preview", action="store_true", help="check and count only; change nothing")
    p.add_argument("--reapply", action="store_true",
                   help="apply an older list again on purpose, making it the current target list (再反映)")
    p.add_argument("--confirm-unlisted", type=int, metavar="N",
                   help="a list that takes many people off the target list: confirm the number the preview named")
    g = group("collection", "F0b: the collection list for the number-collection contractor")
    for verb, text in (("preview", "counts by ward and status, no personal data"),
                       ("request", "ask a second person to approve this selection"),
                       ("export", "write the approved list as a transfer package")):
        p = command(f"collection {verb}", cmd_collection, f"F0b: {text}", g)
        p.add_argument("--ward", action="append", help="ward code (repeatable)")
        p.add_argument("--status", action="append", choices=["resident", "applicant"], help="repeatable")
        if verb == "export":
            p.add_argument("--approval", required=True)
    g = group("integrated", "F1b: integrated numbers (団体内統合利用番号)")
    p = command("integrated request", cmd_integrated_request,
                "F1b: preview, request approval for, or (--approval A) write the request file for the linkage server", g)
    p.add_argument("--preview", action="store_true")
    p.add_argument("--approval")
    p = command("integrated import", cmd_integrated_import, "F1b: import the linkage server's answers (.wbpkg or CSV)", g)
    p.add_argument("file")
    _incoming_options(p)

    # -- registration parser (F1) --
    p = command("register", cmd_register, "F1: register Individual Numbers from a contractor return or portal download")
    p.add_argument("file")
    p.add_argument("--source", required=True, choices=["contractor", "portal"])
    p.add_argument("--preview", action="store_true", help="check only; write nothing")
    g = group("review", "C7: numbers that differ from the one held")
    p = command("review list", cmd_review_list, "pending reviews, numbers masked", g)
    p.add_argument("--limit", type=int, default=200, help="rows of one page (≤ 200)")
    _page_options(p, sorts="created_at, review_id, person_id or import_id",
                  text="reviews whose number, person or import contains this text")
    p = command("review resolve", cmd_review_resolve, "accept (replace the held number) or reject a review", g)
    p.add_argument("review_id")
    decision = p.add_mutually_exclusive_group(required=True)
    decision.add_argument("--accept", dest="accept", action="store_true")
    decision.add_argument("--reject", dest="accept", action="store_false")

    # -- query parser (⑧⑨, F2, F3) --
    g = group("procedures", "⑧⑨: procedures filed in the housing system")
    p = command("procedures import", cmd_procedures_import, "⑧⑨: import procedures filed (CSV, housing_procedures layout)", g)
    p.add_argument("file")
    _incoming_options(p)
    g = group("batch", "F2/F3: information-query and Juki-net query batches")
    for verb, text in (("preview", "counts by procedure x information x exclusion reason (U1-U3)"),
                       ("request", "ask a second person to approve exactly this batch"),
                       ("create", "write the approved batch as one transfer package")):
        p = command(f"batch {verb}", cmd_batch, f"F2/F3: {text}", g)
        p.add_argument("kind", choices=["info", "juki"])
        p.add_argument("--procedure", required=True, help="P1-P6")
        p.add_argument("--year", type=int, required=True, help="fiscal year, e.g. 2026")
        p.add_argument("--information", action="append", help="info only: information key (repeatable; default all permitted)")
        p.add_argument("--records-per-file", type=int, default=10_000)
        p.add_argument("--filed-from", help="only filings made on or after this day (YYYY-MM-DD), e.g. one month's P4")
        p.add_argument("--filed-to", help="only filings made on or before this day (YYYY-MM-DD)")
        if verb == "create":
            p.add_argument("--approval", required=True)

    # -- results parser (F4, F5, C11, C7, F6); `g` is still the "batch" group above --
    p = command("batch import-results", cmd_batch_import_results,
                "F4/F5: import an answer package (info or Juki-net, from its kind)", g)
    p.add_argument("file")
    _incoming_options(p)
    p = command("batch expire", cmd_batch_expire, "C11: mark requests unanswered past the deadline as expired", g)
    p.add_argument("--days", type=int, help="answer deadline in days (default 30)")
    g = group("results", "C11: query results")
    command("results purge", cmd_results_purge, "C11: delete results of batches closed longer than the retention period", g)
    g = group("discrepancies", "C7: results that differ from what is held")
    p = command("discrepancies list", cmd_discrepancies_list, "C7: the review queue (fields that differ, by kind)", g)
    p.add_argument("--status", choices=["open", "person_notified", "resolved"])
    p.add_argument("--kind")
    p.add_argument("--limit", type=int, default=1000)
    _page_options(p, sorts="detected_at, discrepancy_id, person_id, kind, status or acted_at",
                  text="rows whose number, person, note or batch contains this text")
    p = command("discrepancies resolve", cmd_discrepancies_resolve, "C7: mark a discrepancy notified or resolved", g)
    p.add_argument("discrepancy_id")
    action = p.add_mutually_exclusive_group(required=True)
    action.add_argument("--notified", dest="action", action="store_const", const="notified")
    action.add_argument("--resolved", dest="action", action="store_const", const="resolved")
    p.add_argument("--note")
    p = command("discrepancies notices", cmd_discrepancies_notices,
                "C7: preview, request approval for, or (--approval A) write, the notice list for the housing system", g)
    p.add_argument("--preview", action="store_true")
    p.add_argument("--approval")
    p = command("discrepancies declared-income", cmd_declared_income_import,
                "U4: import the income declared in the applications (CSV, declared_income layout)", g)
    p.add_argument("file")
    g = group("linkage", "F6: the linkage file for the housing business system")
    p = command("linkage export", cmd_linkage_export,
                "F6: preview, request approval for, or (--approval A) write the linkage file", g)
    p.add_argument("--preview", action="store_true")
    p.add_argument("--approval")
    p.add_argument("--procedure", required=True, help="P1-P6")
    p.add_argument("--year", type=int, required=True, help="fiscal year, e.g. 2026")

    # -- lifecycle parser (issue 12) --
    g = group("deletion", "F7/C8: bulk deletion of numbers and everything derived from them")
    p = command("deletion import", cmd_deletion, "F7: import the housing system's deletion list (CSV, deletion_list layout) and preview it", g)
    p.add_argument("file")
    p = command("deletion select", cmd_deletion, "F7: a staff selection of people to delete (--person, repeatable; or --deceased)", g)
    p.add_argument("--person", action="append", help="internal person number (repeatable)")
    p.add_argument("--reason", required=True, help="moved_out, failed_screening, withdrew, deceased")
    p.add_argument("--deceased", action="store_true", help="everyone marked deceased")
    for verb, text in (("preview", "counts by reason and by kind of record"),
                       ("request", "ask a second person to approve exactly this selection")):
        p = command(f"deletion {verb}", cmd_deletion, f"F7: {text}", g)
        p.add_argument("list_id")
    p = command("deletion apply", cmd_deletion, "F7/C8: delete the approved selection and record it", g)
    p.add_argument("list_id")
    p.add_argument("--approval", required=True)
    p.add_argument("--purge", choices=["now", "scheduled"], default="scheduled",
                   help="now: rebuild the file at once (needs keys.manage); scheduled: leave it to the nightly run")
    p.add_argument("--discard-file", action="append", metavar="ENTRY",
                   help="a file not yet handed over that holds people on the list (as the preview names it): confirm"
                        " its destruction; every such file must be named, or nothing is deleted")
    p.add_argument("--expected-count", type=int, required=True,
                   help="how many people the preview showed; refused if the list has moved since")
    command("deletion purge", cmd_deletion, "erase the bytes of every deletion: rebuild the file under a new key", g)
    command("deletion lists", cmd_deletion, "deletion lists waiting to be applied", g)
    p = command("deletion copies", cmd_deletion, "C9: transfer copies marked for destruction (waiting for the recipient)", g)
    p.add_argument("--all", action="store_true", help="also those already destroyed")
    p = command("deletion copy-destroyed", cmd_deletion, "C9: record that the recipient destroyed a marked copy", g)
    p.add_argument("entry_id")
    p = command("deletion records", cmd_deletion, "the deletion records (who, when, how, counts; no one named)", g)
    p.add_argument("--limit", type=int, default=200)

    g = group("retention", "C11: retention rules as data")
    command("retention rules", cmd_retention, "how long each kind of record is kept", g)
    p = command("retention set", cmd_retention, "change one retention period (audited; the audit log keeps 7 years)", g)
    p.add_argument("kind")
    p.add_argument("days", type=int)
    command("retention report", cmd_retention, "dry run: what is past its period now, and when the next item is due", g)
    command("retention apply", cmd_retention, "delete everything past its retention period and record it", g)
    command("retention check-numbers", cmd_retention_check_numbers,
            "the daily check: propose people off the target list who hold a number for deletion", g)

    g = group("disclosure", "F9: disclosure, correction and suspension-of-use requests")
    p = command("disclosure show", cmd_disclosure, "F9: everything held on one person, as printable HTML in Japanese (written to --out)", g)
    p.add_argument("person_id")
    p.add_argument("--out", required=True, help="the HTML file to print and hand over (recorded in the media ledger)")
    p = command("disclosure correct", cmd_disclosure, "F9: correct one held item (name, kana, sex, birth_date, address)", g)
    p.add_argument("person_id")
    p.add_argument("field", help="name, kana, sex, birth_date, address")
    p.add_argument("value")
    p.add_argument("--reason", required=True)
    for verb, text in (("suspend", "suspend use: out of every batch, export and statistic until lifted"),
                       ("lift", "lift a suspension of use")):
        p = command(f"disclosure {verb}", cmd_disclosure, f"F9: {text}", g)
        p.add_argument("person_id")
        p.add_argument("--reason", required=True)
    command("disclosure suspensions", cmd_disclosure, "F9: suspensions of use in force", g)

    g = group("inquiry", "F10: the inquiry log")
    p = command("inquiry add", cmd_inquiry, "F10: record an inquiry (how received, about whom, what was asked)", g)
    p.add_argument("--channel", required=True, help="phone, counter, mail, email, web")
    p.add_argument("--category", required=True, help="handling, disclosure, collection, complaint, other")
    p.add_argument("--question", required=True)
    p.add_argument("--person", help="internal person number, if the inquiry is about someone held")
    p.add_argument("--handled-by", help="user ID who handles it (default: you)")
    p = command("inquiry close", cmd_inquiry, "F10: record how the inquiry was answered and close it", g)
    p.add_argument("inquiry_id")
    p.add_argument("--response", required=True)
    p = command("inquiry search", cmd_inquiry, "F10: search by text, person, status, channel, month (YYYY-MM)", g)
    p.add_argument("--text")
    p.add_argument("--person")
    p.add_argument("--status", choices=["open", "closed"])
    p.add_argument("--channel")
    p.add_argument("--month")
    p.add_argument("--limit", type=int, default=200)
    p = command("inquiry monthly", cmd_inquiry, "F10: monthly counts by channel and category", g)
    p.add_argument("--year", type=int, required=True)

    g = group("idreview", "C6: the yearly review of IDs and permissions")
    command("idreview start", cmd_idreview, "C6: take stock of every ID (roles, dormant, overdue)", g)
    p = command("idreview disable", cmd_idreview, "C6: disable IDs of people who left or no longer need them", g)
    p.add_argument("review_id")
    p.add_argument("user_id", nargs="+")
    p.add_argument("--reason", required=True)
    p = command("idreview signoff", cmd_idreview, "C6: request the second person's sign-off, or (--approval A) record it", g)
    p.add_argument("review_id")
    p.add_argument("--approval")
    command("idreview list", cmd_idreview, "C6: past and open reviews", g)

    g = group("deceased", "C7: deceased persons from Juki-net results")
    p = command("deceased confirm", cmd_deceased_confirm, "C7: after review, mark the person of a death discrepancy deceased", g)
    p.add_argument("discrepancy_id")
    p.add_argument("--note")

    p = command("backup", cmd_backup, "C12: write an encrypted, verifiable backup (database, settings, audit heads, deletion journal)")
    p.add_argument("--out", required=True)
    p.add_argument("--keyring-out", help="also write a keyring copy here (never beside the backup)")
    p = command("backup-verify", cmd_backup_verify, "C12: read a whole backup with its keyring copy and check it")
    p.add_argument("file")
    p.add_argument("--keyring", required=True)
    p.add_argument("--kek-file", help="the key-encryption key file, outside the workspace (or WORKBENCH_KEK_FILE)")
    p = command("restore", cmd_restore, "C12: restore a backup into a new workspace; verify the audit chain; re-apply deletions")
    p.add_argument("file")
    p.add_argument("--into", required=True)
    p.add_argument("--keyring", required=True, help="the keyring copy taken with the backup")
    p.add_argument("--journal", help="the newest deletion journal (default: the one in the backup)")
    p.add_argument("--kek-file", help="the key-encryption key file, outside the workspace (or WORKBENCH_KEK_FILE)")

    # -- statistics parser (F8) --
    g = group("stats", "F8: de-identified statistics")
    p = command("stats publish", cmd_stats_publish, "F8: keep the next numbered de-identified source in the store (staff)", g)
    p.add_argument("--k", type=int, default=10, help="k-anonymity required over the quasi-identifiers (default 10)")
    p.add_argument("--max-loss", type=float, default=0.05, help="share of records that may be removed (default 0.05)")
    p.add_argument("--as-of", help="count ages on this date (YYYY-MM-DD; default today)")
    p = command("stats withdraw", cmd_stats_withdraw, "F8: withdraw a publication (its source is deleted)", g)
    p.add_argument("publication_id")
    p.add_argument("--reason", required=True)
    command("stats list", cmd_stats_list, "F8: the publications and their status", g)
    p = command("stats table", cmd_stats_table, "F8: a perturbed, suppressed table from the statistics service", g)
    p.add_argument("--publication", required=True, help="publication ID, e.g. S0001")
    p.add_argument("--rows", required=True)
    p.add_argument("--cols")
    p.add_argument("--layers")
    p.add_argument("--more", action="append", help="a fourth or fifth dimension, repeatable")
    p.add_argument("--filter", action="append", help="VARIABLE=A,B: keep only these categories, repeatable")
    p.add_argument("--measure", default="count", choices=["count", "sum", "mean", "quantile"])
    p.add_argument("--quantile", type=float, help="with --measure quantile: e.g. 0.5 for the median band")
    p.add_argument("--min-count", type=int, default=3, help="counts below it are x (0: perturbation only)")
    p.add_argument("--epsilon", type=float, help="differentially private counts with this ε (spends your budget)")
    p.add_argument("--csv", help="export as CSV (UTF-8 with BOM, mode 0640)")
    p.add_argument("--xlsx", help="export as Excel (mode 0640)")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    command("stats budget", cmd_stats_budget, "F8: your ε budget for this fiscal year", g)
    command("stats releases", cmd_stats_budget, "F8: your releases (the ledger; no values)", g)
    p = command("stats budget-restore", cmd_stats_budget,
                "F8 (staff): give an analyst ε back, with a second person's approval", g)
    p.add_argument("user_id")
    p.add_argument("--amount", type=float, required=True)
    p.add_argument("--reason", required=True)
    p.add_argument("--approval", help="the approved request's ID, to carry it out")

    _evidence_commands(command, group)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.handler(args)
    except WorkbenchError as exc:
        print(json.dumps(exc.to_dict(), ensure_ascii=False, indent=2), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    if isinstance(result, Exit):
        _print(result.payload)
        return result.code
    if result is not None:
        _print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
