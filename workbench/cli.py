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

from . import approvals, auditing, media, persons, rotation, runs, transfer, users
from .errors import InvalidInput, WorkbenchError
from .workspace import Session, Workspace

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


def _login(args: argparse.Namespace) -> Session:
    ws = _workspace(args)
    user = args.user or os.environ.get("WORKBENCH_USER") or input("ユーザーID / user ID: ")
    password = _secret("WORKBENCH_PASSWORD", "パスワード / password: ")
    code = _secret("WORKBENCH_TOTP", "ワンタイムコード / one-time code: ")
    return ws.login(user, password, code)


# -- commands -------------------------------------------------------------------------
# Each takes the parsed arguments and returns what to print.

def cmd_init(args: argparse.Namespace) -> Any:
    ws = Workspace.init(args.path)
    created: list[dict[str, Any]] = []
    out = {"workspace": str(ws.path), "workspace_id": ws.settings.workspace_id, "users": created}
    for user_id, roles, env in ((args.admin, ["administrator"], "WORKBENCH_ADMIN_PASSWORD"),
                                (args.approver, ["approver"], "WORKBENCH_APPROVER_PASSWORD")):
        password = _secret(env, f"{user_id} のパスワード / password for {user_id}: ")
        enrolment = users.create_initial_user(ws, user_id, user_id, password, roles)
        created.append({"user_id": user_id, "roles": roles, "otpauth_uri": enrolment.otpauth_uri})
    return out


def cmd_demo(args: argparse.Namespace) -> Any:
    from .demo import build_demo

    return build_demo(Path(args.path), persons=args.persons, seed=args.seed)


def cmd_demo_code(args: argparse.Namespace) -> Any:
    from .demo import current_code

    return {"user_id": args.user_id, "code": current_code(_workspace(args), args.user_id)}


def cmd_serve(args: argparse.Namespace) -> Any:
    from .serve import serve

    serve(Path(args.path), port=args.port)
    return None


def cmd_user_add(args: argparse.Namespace) -> Any:
    session = _login(args)
    password = _secret("WORKBENCH_NEW_PASSWORD", f"{args.user_id} の初期パスワード / initial password: ")
    return users.add(session, args.user_id, args.name or args.user_id, password)


def cmd_user_disable(args: argparse.Namespace) -> Any:
    return users.disable(_login(args), args.user_id)


def cmd_user_list(args: argparse.Namespace) -> Any:
    return users.list_users(_login(args))


def cmd_user_review(args: argparse.Namespace) -> Any:
    return users.review(_login(args), confirm=args.confirm)


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
    return approvals.decide(_login(args), args.approval_id, approve=args.command == "approve")


def cmd_audit_verify(args: argparse.Namespace) -> Any:
    report = auditing.verify(_login(args))
    ja, en = report.message()
    result = {**dataclasses.asdict(report), "message_ja": ja, "message_en": en}
    if not report.ok:
        raise _Reported(result, 7)
    return result


def cmd_audit_search(args: argparse.Namespace) -> Any:
    return auditing.search(_login(args), user_id=args.by, target=args.target, operation=args.operation,
                           outcome=args.outcome, limit=args.limit)


def cmd_keys_rotate(args: argparse.Namespace) -> Any:
    return rotation.rotate(_login(args))


def cmd_keys_issue(args: argparse.Namespace) -> Any:
    return media.issue_key_file(_login(args), args.recipient, args.out)


def cmd_ledger(args: argparse.Namespace) -> Any:
    return media.ledger(_login(args), limit=args.limit)


def cmd_package_delivered(args: argparse.Namespace) -> Any:
    return media.mark_delivered(_login(args), args.entry_id)


def cmd_package_unpack(args: argparse.Namespace) -> Any:
    """The receiving side: no workspace, only the key file that was handed over."""
    recipient, key, _ = transfer.read_keyfile(Path(args.key))
    package = transfer.read_package(Path(args.file), key=key)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in package.members.items():
        target = out / Path(name).name
        if target.exists():
            raise InvalidInput(f"{target} already exists.", f"{target} はすでに存在します。")
        target.write_bytes(data)
        target.chmod(0o600)
        written.append(str(target))
    # The receiving side's own media ledger (C9): one line per package read.
    manifest = package.manifest
    entry = {"read_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "package_id": manifest.package_id,
             "kind": manifest.kind, "record_count": manifest.record_count, "digest": manifest.digest,
             "creator": manifest.creator, "recipient": recipient, "file": Path(args.file).name}
    with (Path(args.ledger) if args.ledger else out / "ledger.jsonl").open("a", encoding="utf-8") as ledger:
        ledger.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return {"recipient": recipient, "manifest": manifest.to_dict(), "written": written, "ledger_entry": entry}


def cmd_person_show(args: argparse.Namespace) -> Any:
    session = _login(args)
    view = persons.get(session, args.person_id).to_dict()
    if args.reveal:
        view["number"] = persons.reveal_number(session, args.person_id)
    return view


def cmd_pipeline_run(args: argparse.Namespace) -> Any:
    params = {}
    for item in args.param or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise InvalidInput(f"Write parameters as NAME=VALUE, not {item!r}.", f"パラメータは 名前=値 の形で指定してください: {item!r}")
        params[name] = value
    return runs.run(_login(args), args.pipeline, params)


def cmd_pipeline_list(args: argparse.Namespace) -> Any:
    return runs.runs(_login(args), limit=args.limit)


# -- targets commands (F0, F0b, F1b) --

def _read_input(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        raise InvalidInput(f"Cannot read the file {path.name}.", f"ファイル {path.name} を読めません。") from None


def cmd_targets_import(args: argparse.Namespace) -> Any:
    from . import targets

    path = Path(args.file)
    fn = targets.preview_targets if args.preview else targets.import_targets
    return fn(_login(args), _read_input(path), file_name=path.name)


def cmd_collection(args: argparse.Namespace) -> Any:
    from . import collection

    session = _login(args)
    if args.command == "preview":
        return collection.preview_collection(session, wards=args.ward, status=args.status)
    if args.command == "request":
        return collection.request_collection_export(session, wards=args.ward, status=args.status)
    return collection.export_collection(session, approval_id=args.approval, wards=args.ward, status=args.status)


def cmd_integrated_request(args: argparse.Namespace) -> Any:
    from . import integrated

    session = _login(args)
    if args.preview:
        return integrated.preview_integrated_request(session)
    if args.approval:
        return integrated.create_integrated_request(session, approval_id=args.approval)
    return {"approval_requested": integrated.request_integrated_request(session)}


def cmd_integrated_import(args: argparse.Namespace) -> Any:
    from . import integrated

    path = Path(args.file)
    if not path.is_file():
        raise InvalidInput(f"Cannot read the file {path.name}.", f"ファイル {path.name} を読めません。")
    # A transfer package (preferred) is opened with the linkage server's key; a bare CSV is read as it is.
    source: bytes | str = str(path) if path.suffix == ".wbpkg" else _read_input(path)
    return integrated.import_integrated_answers(_login(args), source)


# -- registration commands (F1) --

def cmd_register(args: argparse.Namespace) -> Any:
    from . import registration

    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError:
        raise InvalidInput(f"Cannot read the file {path.name}.", f"ファイル {path.name} を読めません。") from None
    fn = registration.preview_registration if args.preview else registration.register
    return fn(_login(args), data, source=args.source, file_name=path.name)


def cmd_review_list(args: argparse.Namespace) -> Any:
    from . import registration

    return registration.review_queue(_login(args))


def cmd_review_resolve(args: argparse.Namespace) -> Any:
    from . import registration

    return registration.resolve_review(_login(args), args.review_id, accept=args.accept)


# -- query commands (⑧⑨ procedures, F2 information queries, F3 Juki-net) --

def cmd_procedures_import(args: argparse.Namespace) -> Any:
    from . import procedures

    path = Path(args.file)
    return procedures.import_procedures(_login(args), _read_input(path), file_name=path.name)


def cmd_batch(args: argparse.Namespace) -> Any:
    from . import batches

    session = _login(args)
    common: dict[str, Any] = {"procedure": args.procedure, "fiscal_year": args.year,
                              "records_per_file": args.records_per_file}
    if args.kind == "info":
        common["information"] = args.information
        fns: dict[str, Any] = {"preview": batches.preview_info_batch, "request": batches.request_info_batch,
                               "create": batches.create_info_batch}
    else:
        if args.information:
            raise InvalidInput("--information applies to info batches only.", "--information は info の照会にのみ指定できます。")
        fns = {"preview": batches.preview_juki_batch, "request": batches.request_juki_batch,
               "create": batches.create_juki_batch}
    if args.command == "create":
        return fns["create"](session, approval_id=args.approval, **common)
    return fns[args.command](session, **common)


# -- results commands (F4, F5, C11, C7, F6) --

def cmd_batch_import_results(args: argparse.Namespace) -> Any:
    from . import results

    path = Path(args.file)
    if not path.is_file():
        raise InvalidInput(f"Cannot read the file {path.name}.", f"ファイル {path.name} を読めません。")
    # The clear header only chooses the importer; the importer verifies the package completely.
    kind = transfer.peek_header(path).kind
    if kind == "info_answer":
        return results.import_info_results(_login(args), str(path))
    if kind == "juki_answer":
        return results.import_juki_results(_login(args), str(path))
    raise InvalidInput(f"{path.name} is not an answer package (info_answer or juki_answer).",
                       f"{path.name} は照会結果のパッケージ（info_answer / juki_answer）ではありません。",
                       reason="wrong_kind")


def cmd_batch_expire(args: argparse.Namespace) -> Any:
    from . import results

    return results.expire_requests(_login(args), older_than_days=args.days)


def cmd_results_purge(args: argparse.Namespace) -> Any:
    from . import results

    return results.purge_results(_login(args))


def cmd_discrepancies_list(args: argparse.Namespace) -> Any:
    from . import discrepancies

    return discrepancies.list_discrepancies(_login(args), status=args.status, kind=args.kind, limit=args.limit)


def cmd_discrepancies_resolve(args: argparse.Namespace) -> Any:
    from . import discrepancies

    return discrepancies.resolve_discrepancy(_login(args), args.discrepancy_id, action=args.action, note=args.note)


def cmd_discrepancies_notices(args: argparse.Namespace) -> Any:
    from . import discrepancies

    session = _login(args)
    if args.approval:
        return discrepancies.notice_list(session, approval_id=args.approval)
    return {"approval_requested": discrepancies.request_notice_list(session)}


def cmd_declared_income_import(args: argparse.Namespace) -> Any:
    from . import discrepancies

    path = Path(args.file)
    return discrepancies.import_declared_income(_login(args), _read_input(path), file_name=path.name)


def cmd_linkage_export(args: argparse.Namespace) -> Any:
    from . import linkage

    session = _login(args)
    common: dict[str, Any] = {"procedure": args.procedure, "fiscal_year": args.year}
    if args.preview:
        return linkage.preview_linkage(session, **common)
    if args.approval:
        return linkage.export_linkage(session, approval_id=args.approval, **common)
    return {"approval_requested": linkage.request_linkage(session, **common)}



def cmd_stats_publish(args: argparse.Namespace) -> Any:
    from . import stats

    as_of = dt.date.fromisoformat(args.as_of) if args.as_of else None
    result = stats.publish(_login(args), k=args.k, max_loss=args.max_loss, epsilon_budget=args.epsilon_budget,
                           as_of=as_of)
    result.manifest = {}
    return result


def cmd_stats_withdraw(args: argparse.Namespace) -> Any:
    from . import stats

    return stats.withdraw(_login(args), args.publication_id, reason=args.reason)


def cmd_stats_list(args: argparse.Namespace) -> Any:
    from . import stats

    return stats.publications(_login(args))


def _merges(items: list[str] | None) -> dict[str, dict[str, list[str]]]:
    """``ward=千代田区+中央区`` or ``ward=千代田区+中央区:都心`` → {"ward": {"都心": [...]}}."""
    out: dict[str, dict[str, list[str]]] = {}
    for item in items or []:
        dim, sep, rest = item.partition("=")
        members, _, label = rest.partition(":")
        parts = [m for m in members.split("+") if m]
        if not sep or len(parts) < 2:
            raise InvalidInput(f"--merge {item!r}: write DIMENSION=A+B[:LABEL].",
                               f"--merge {item!r} の形式が誤っています（項目=区分A+区分B[:名前]）。")
        out.setdefault(dim, {})[label or "+".join(parts)] = parts
    return out


def cmd_stats_table(args: argparse.Namespace) -> Any:
    from . import stats

    result = stats.table(_login(args), args.publication, args.rows, args.cols, args.layers, value=args.value,
                         min_count=args.min_count, epsilon=args.epsilon, merge=_merges(args.merge) or None)
    if args.csv:
        result.to_csv(args.csv)
    if args.xlsx:
        result.to_xlsx(args.xlsx)
    if args.json:
        return result
    print(result)
    for ja, en in result.notes:
        print(f"注: {ja} / {en}")
    return None


class _Reported(Exception):
    def __init__(self, payload: Any, code: int) -> None:
        self.payload, self.code = payload, code


# -- the parser -------------------------------------------------------------------------

#: Every command path and its handler; a test checks each is in the README.
COMMANDS: dict[str, Callable[[argparse.Namespace], Any]] = {}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description="都営住宅 マイナンバー管理ワークベンチ")
    parser.add_argument("--workspace", "-w", help="workspace folder (or WORKBENCH_WORKSPACE)")
    parser.add_argument("--user", "-u", help="your user ID (or WORKBENCH_USER)")
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

    p = command("demo", cmd_demo, "build a demo workspace from the synthetic population")
    p.add_argument("--path", default="demo-workspace")
    p.add_argument("--persons", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=1)

    p = command("demo-code", cmd_demo_code, "demo workspaces only: the current one-time code of a demo account")
    p.add_argument("user_id")

    p = command("serve", cmd_serve, "serve the dashboards with Voila on 127.0.0.1")
    p.add_argument("--path", default="demo-workspace")
    p.add_argument("--port", type=int, default=8866)

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
    p.add_argument("--confirm", action="store_true", help="record that the review was done now")
    p = command("user grant", cmd_user_grant, "request a role grant, or carry it out with --approval", g)
    p.add_argument("user_id")
    p.add_argument("role")
    p.add_argument("--approval")
    p = command("user revoke", cmd_user_revoke, "remove a role", g)
    p.add_argument("user_id")
    p.add_argument("role")

    g = group("approvals", "second-person approvals")
    command("approvals list", cmd_approvals_list, "requests waiting for a decision", g)
    for verb in ("approve", "reject"):
        p = command(f"approvals {verb}", cmd_approvals_decide, f"{verb} another person's request", g)
        p.add_argument("approval_id")

    g = group("audit", "the audit log")
    command("audit verify", cmd_audit_verify, "verify the hash chain and signed heads", g)
    p = command("audit search", cmd_audit_search, "search records by user, target, operation, outcome", g)
    p.add_argument("--by", help="user ID")
    p.add_argument("--target", help="target identifier (matched by pseudonym)")
    p.add_argument("--operation")
    p.add_argument("--outcome")
    p.add_argument("--limit", type=int, default=100)

    g = group("keys", "the keyring")
    command("keys rotate", cmd_keys_rotate, "move every ciphertext and the database to new keys", g)
    p = command("keys issue", cmd_keys_issue, "write a recipient's key file for transfer packages", g)
    p.add_argument("--recipient", required=True, choices=sorted(media.RECIPIENTS))
    p.add_argument("--out", required=True)

    p = command("ledger", cmd_ledger, "the media ledger of packages written and read")
    p.add_argument("--limit", type=int, default=100)

    g = group("package", "transfer packages")
    p = command("package unpack", cmd_package_unpack, "receiving side: verify and unpack with a key file", g)
    p.add_argument("file")
    p.add_argument("--key", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--ledger", help="the receiving side's media ledger (default: OUT/ledger.jsonl)")
    p = command("package delivered", cmd_package_delivered, "record a copy handed over and delete it", g)
    p.add_argument("entry_id")

    g = group("person", "one person")
    p = command("person show", cmd_person_show, "one person, number masked (--reveal: audited)", g)
    p.add_argument("person_id")
    p.add_argument("--reveal", action="store_true")

    g = group("pipeline", "Papermill cycle notebooks")
    p = command("pipeline run", cmd_pipeline_run, "run a cycle notebook under your authority (-p NAME=VALUE)", g)
    p.add_argument("pipeline", choices=sorted(runs.PIPELINES))
    p.add_argument("-p", "--param", action="append", help="NAME=VALUE: IDs, years and paths only")
    p = command("pipeline list", cmd_pipeline_list, "your pipeline runs, newest first", g)
    p.add_argument("--limit", type=int, default=20)

    # -- targets parser (F0, F0b, F1b) --
    g = group("targets", "F0: the target list from the housing business system")
    p = command("targets import", cmd_targets_import, "F0: import the target list (CSV, UTF-8/BOM/CP932)", g)
    p.add_argument("file")
    p.add_argument("--preview", action="store_true", help="check and count only; change nothing")
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

    # -- registration parser (F1) --
    p = command("register", cmd_register, "F1: register Individual Numbers from a contractor return or portal download")
    p.add_argument("file")
    p.add_argument("--source", required=True, choices=["contractor", "portal"])
    p.add_argument("--preview", action="store_true", help="check only; write nothing")
    g = group("review", "C7: numbers that differ from the one held")
    command("review list", cmd_review_list, "pending reviews, numbers masked", g)
    p = command("review resolve", cmd_review_resolve, "accept (replace the held number) or reject a review", g)
    p.add_argument("review_id")
    decision = p.add_mutually_exclusive_group(required=True)
    decision.add_argument("--accept", dest="accept", action="store_true")
    decision.add_argument("--reject", dest="accept", action="store_false")

    # -- query parser (⑧⑨, F2, F3) --
    g = group("procedures", "⑧⑨: procedures filed in the housing system")
    p = command("procedures import", cmd_procedures_import, "⑧⑨: import procedures filed (CSV, housing_procedures layout)", g)
    p.add_argument("file")
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
        if verb == "create":
            p.add_argument("--approval", required=True)

    # -- results parser (F4, F5, C11, C7, F6); `g` is still the "batch" group above --
    p = command("batch import-results", cmd_batch_import_results,
                "F4/F5: import an answer package (info or Juki-net, from its kind)", g)
    p.add_argument("file")
    p = command("batch expire", cmd_batch_expire, "C11: mark requests unanswered past the deadline as expired", g)
    p.add_argument("--days", type=int, help="answer deadline in days (default 30)")
    g = group("results", "C11: query results")
    command("results purge", cmd_results_purge, "C11: delete results of batches closed longer than the retention period", g)
    g = group("discrepancies", "C7: results that differ from what is held")
    p = command("discrepancies list", cmd_discrepancies_list, "C7: the review queue (fields that differ, by kind)", g)
    p.add_argument("--status", choices=["open", "person_notified", "resolved"])
    p.add_argument("--kind")
    p.add_argument("--limit", type=int, default=1000)
    p = command("discrepancies resolve", cmd_discrepancies_resolve, "C7: mark a discrepancy notified or resolved", g)
    p.add_argument("discrepancy_id")
    action = p.add_mutually_exclusive_group(required=True)
    action.add_argument("--notified", dest="action", action="store_const", const="notified")
    action.add_argument("--resolved", dest="action", action="store_const", const="resolved")
    p.add_argument("--note")
    p = command("discrepancies notices", cmd_discrepancies_notices,
                "C7: request approval for, or (--approval A) write, the notice list for the housing system", g)
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


    # -- statistics parser (F8) --
    g = group("stats", "F8: de-identified statistics")
    p = command("stats publish", cmd_stats_publish, "F8: build the next numbered de-identified publication (staff)", g)
    p.add_argument("--k", type=int, default=10, help="k-anonymity required over the quasi-identifiers (default 10)")
    p.add_argument("--max-loss", type=float, default=0.05, help="share of records that may be removed (default 0.05)")
    p.add_argument("--epsilon-budget", type=float, default=1.0, help="differential-privacy budget of the publication")
    p.add_argument("--as-of", help="count ages on this date (YYYY-MM-DD; default today)")
    p = command("stats withdraw", cmd_stats_withdraw, "F8: withdraw a publication (its microdata is deleted)", g)
    p.add_argument("publication_id")
    p.add_argument("--reason", required=True)
    command("stats list", cmd_stats_list, "F8: the publications and their status", g)
    p = command("stats table", cmd_stats_table, "F8: release a suppressed table from a publication", g)
    p.add_argument("--publication", required=True, help="publication ID, e.g. S0001")
    p.add_argument("--rows", required=True)
    p.add_argument("--cols")
    p.add_argument("--layers")
    p.add_argument("--value", help="sum this value instead of counting people (income)")
    p.add_argument("--min-count", type=int, default=3)
    p.add_argument("--epsilon", type=float, help="differentially private counts with this ε (OpenDP)")
    p.add_argument("--merge", action="append", help="DIMENSION=A+B[:LABEL], repeatable")
    p.add_argument("--csv", help="also write CSV (UTF-8 with BOM)")
    p.add_argument("--xlsx", help="also write Excel")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.handler(args)
    except _Reported as rep:
        _print(rep.payload)
        return rep.code
    except WorkbenchError as exc:
        print(json.dumps(exc.to_dict(), ensure_ascii=False, indent=2), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    if result is not None:
        _print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
