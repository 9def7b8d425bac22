"""One table of what every code a person may see means, in Japanese and English (issue 11).

コード表。Return reasons, exclusion reasons, discrepancy kinds, recipients, ledger and
package kinds, approval kinds, statuses, roles, information kinds and audit operations:
the CLI, the dashboards and the reports all read their words here, so a clerk never meets
``check_digit`` or ``discrepancies.list_discrepancies``.  The table is assembled from the
domain's own tables (each module keeps the words for the codes it defines) plus the
statuses and kinds that have no module of their own; audit operations get their words from
the module and the verb (``batches.preview`` → 照会ファイル：事前確認) so a new service is
named without a new entry.

* :func:`labels` — the whole table;
* :func:`ja` / :func:`en` — the word for a code (the code itself if unknown, so nothing is hidden);
* :func:`label` — 「日本語 / English」 for buttons and headers;
* :func:`operation_label` — an audit operation in words;
* :func:`operations_matching` — the audit operations a Japanese or English word names, for search.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["EVENTS", "en", "ja", "known_operations", "label", "labels", "operation_label", "operations_matching"]

#: Codes that belong to no single module: statuses, outcomes, package and ledger kinds.
_OWN: dict[str, tuple[str, str]] = {
    # outcomes of an audited operation
    "ok": ("成功", "succeeded"), "denied": ("拒否", "denied"), "refused": ("差戻し", "refused"),
    # approval statuses
    "pending": ("承認待ち", "pending"), "approved": ("承認済み", "approved"), "rejected": ("却下", "rejected"),
    "used": ("使用済み", "used"), "expired": ("期限切れ", "expired"),
    # query requests and batches
    "created": ("作成済み", "created"), "sent": ("回答待ち", "waiting for the answer"), "answered": ("回答あり", "answered"),
    "error": ("エラー", "error"), "closed": ("完了", "closed"), "purged": ("結果削除済み", "results purged"),
    # discrepancies and reviews
    "open": ("未処理", "open"), "person_notified": ("本人へ通知済み", "person notified"), "resolved": ("解決", "resolved"),
    "accepted": ("受入れ", "accepted"),
    # persons
    "resident": ("入居者", "resident"), "applicant": ("申込者", "applicant"),
    # directions and package kinds in the media ledger (媒体管理簿)
    "out": ("送付", "outgoing"), "in": ("受領", "incoming"),
    "housing_office": ("都営住宅経営部（当部）", "housing office (this office)"),
    "collection_list": ("番号収集リスト", "collection list"), "integrated_request": ("統合宛名番号の取得依頼", "integrated-number request"),
    "integrated_answer": ("統合宛名番号の回答", "integrated-number answers"), "info_query": ("情報照会ファイル", "information query file"),
    "juki_query": ("住基ネット照会ファイル", "Juki-net query file"), "info_answer": ("情報照会の回答", "information query answers"),
    "juki_answer": ("住基ネット照会の回答", "Juki-net answers"), "linkage_file": ("都住システム連携ファイル", "housing-system linkage file"),
    "notice_list": ("通知対象者リスト", "notice list"), "return_list": ("差戻リスト", "return list"),
    "already_registered": ("登録済み（同じ番号）", "already registered (same number)"),
    # pipeline runs
    "issued": ("発行済み", "issued"), "running": ("実行中", "running"), "succeeded": ("成功", "succeeded"), "failed": ("失敗", "failed"),
    "abandoned": ("中断（実行元が停止）", "abandoned (its runner stopped)"),
}

#: Pipelines that are not resumable cycles (workbench.cycles.pipeline_runs.PIPELINES); the cycles name themselves.
_PIPELINES: dict[str, tuple[str, str]] = {
    "audit_check": ("操作ログの改ざん検査", "audit log check"), "registration_cycle": ("番号登録の定例処理", "registration cycle"),
    "query_retention": ("照会結果の保存期間処理", "query-result retention"), "retention": ("保存期間の適用", "retention rules"),
    "stats_publish": ("統計の公表", "statistics publication"),
    "evidence": ("月次の運用状況報告", "monthly evidence report"),
}

#: The words for an audit operation's module and verb.
_MODULE_WORDS: dict[str, str] = {
    "auth": "ログイン", "access": "利用時間・端末", "approvals": "承認", "auditing": "操作ログ", "audit": "操作ログ",
    "batches": "照会ファイル", "collection": "番号収集リスト", "discrepancies": "照会結果の相違", "integrated": "統合宛名番号",
    "linkage": "都住システム連携ファイル", "media": "媒体", "persons": "個人", "procedures": "手続情報", "registration": "番号登録",
    "results": "照会結果", "runs": "パイプライン", "pipeline": "パイプライン", "targets": "対象者リスト", "users": "ユーザー",
    "keys": "鍵", "rotation": "鍵の更新", "pending": "未処理の業務", "outgoing": "送付ファイル", "package": "パッケージ",
    "backup": "バックアップ", "batch_accounts": "バッチアカウント", "cycle_runs": "定例処理の実行", "cycles": "定例処理",
    "deletion": "一括削除", "disclosure": "開示・訂正・利用停止", "idreview": "ID・権限の棚卸し", "inquiries": "問合せ記録",
    "retention": "保存期間", "stats": "統計", "mart": "統計", "demo": "デモ",
    "evidence": "運用状況報告", "records": "組織の記録",
}
_VERB_WORDS: dict[str, str] = {
    "login": "ログイン", "logout": "ログアウト", "idle_timeout": "無操作によるログアウト", "session_ended": "セッション終了",
    "web_session": "ウェブセッション", "kernel_ticket": "画面の起動", "kernel_session": "画面の認証",
    "list": "一覧", "search": "検索", "verify": "検証", "preview": "事前確認", "request": "承認依頼", "create": "作成",
    "export": "出力", "import": "取込", "resolve": "処理", "decide": "承認・却下", "pending": "承認待ち一覧", "get": "参照",
    "add": "追加", "disable": "無効化", "grant": "役割の付与", "revoke": "役割の解除", "review": "見直し", "show": "表示",
    "reveal": "番号の表示", "rotate": "更新", "issue": "発行", "unpack": "開封", "delivered": "受け渡し", "mark_delivered": "受け渡し",
    "ledger": "媒体管理簿", "expire": "期限切れ処理", "purge": "削除", "start": "開始", "finish": "終了", "resume": "再開",
    "runs": "実行一覧", "policy": "規則の参照", "set_hours": "利用時間の設定", "request_exception": "時間外利用の承認依頼",
    "grant_exception": "時間外利用の登録", "register_terminal": "端末の登録", "remove_terminal": "端末登録の解除",
    "pending_work": "件数の参照", "sweep": "残存ファイルの整理", "register": "登録", "change_password": "パスワード変更",
    "password": "パスワード変更", "acknowledge": "確認の記録", "anchor": "外部保管", "repair": "修復",
    "handover_copy": "受け渡し用コピーの取り出し", "request_key_file": "鍵ファイル発行の承認依頼",
    "record": "記録", "backup": "取得", "begin": "開始", "by": "参照", "checkpoint": "途中経過の記録", "end": "終了",
    "state": "状態の参照", "claim": "実行権の取得", "listing": "一覧", "release": "実行権の解放", "status": "状況",
    "figures": "件数の集計", "pending_integrated": "未取得の件数", "outgoing": "送付ファイルの確認", "recheck": "選択の再確認",
    "apply": "適用", "confirm": "確認", "records": "記録の一覧", "marks": "破棄対象の一覧", "erasure": "消去の記録",
    "select": "対象の選択", "correct": "訂正", "disclose": "開示", "lift": "利用停止の解除", "suspend": "利用停止",
    "suspensions": "利用停止の一覧", "sign": "承認の記録", "reviews": "記録の一覧", "close": "完了", "monthly": "月別件数",
    "rules": "規則の一覧", "set": "設定", "publish": "公表", "withdraw": "取下げ", "table": "集計表", "publications": "公表物の一覧",
    "chart": "グラフ用データ", "integrated": "未取得の件数", "destroyed": "破棄の確認", "deceased": "死亡の確認",
    "account": "作成", "accounts": "一覧", "keys": "鍵の失効", "key": "鍵ファイルの発行", "signoff": "承認依頼",
    "lists": "一覧", "open": "一覧", "execution": "実行の参照",
    "page": "一覧の表示", "code": "ワンタイムコードの表示",
    "wrap": "鍵束の保護（鍵暗号化鍵）", "rewrap": "鍵束の再保護（鍵暗号化鍵の変更）",
}


def _assemble() -> dict[str, dict[str, tuple[str, str]]]:
    """The domain's own tables, by domain; the codes without a module under ``other``."""
    from workbench.core import numbers
    from workbench.core.approvals import KINDS as APPROVAL_KINDS
    from workbench.core.permissions import ROLE_LABELS
    from workbench.files import media
    from workbench.intake import registration
    from workbench.queries import batches, discrepancies, procedures
    from workbench.queries.query_rules import load_rules

    rules = load_rules()
    from workbench.cycles.catalogue import CYCLES

    return {
        "return_reason": {**numbers.REASONS, **registration.REASONS},
        "procedure_reason": dict(procedures.REASONS),
        "exclusion": dict(batches.EXCLUSIONS),
        "discrepancy": dict(discrepancies.KINDS),
        "recipient": dict(media.RECIPIENTS),
        "approval": dict(APPROVAL_KINDS),
        "role": {r.value: words for r, words in ROLE_LABELS.items()},
        "information": {k: (v.label_ja, v.label_en) for k, v in rules.information.items()},
        "procedure": {k: (v.label_ja, v.label_en) for k, v in rules.procedures.items()},
        "other": dict(_OWN),
        # last: where a pipeline or stage shares a word with another domain, the other wins
        "pipeline": {**_PIPELINES, **{name: (c.title_ja, c.title_en) for name, c in CYCLES.items()}},
        "stage": {s.name: (s.title_ja, s.title_en) for c in CYCLES.values() for s in c.stages},
    }


_TABLE: dict[str, dict[str, tuple[str, str]]] | None = None


def _domains() -> dict[str, dict[str, tuple[str, str]]]:
    global _TABLE
    if _TABLE is None:
        _TABLE = _assemble()
    return _TABLE


def labels(domain: str | None = None) -> dict[str, tuple[str, str]]:
    """The table of one domain (``exclusion``, ``discrepancy``, …), or every code (the first
    domain wins where two domains use the same code, e.g. ``deceased``)."""
    domains = _domains()
    if domain is not None:
        return dict(domains[domain])
    flat: dict[str, tuple[str, str]] = {}
    for table in domains.values():
        for code, words in table.items():
            flat.setdefault(code, words)
    return flat


def _words(code: object, domain: str | None) -> tuple[str, str] | None:
    domains = _domains()
    if domain is not None and str(code) in domains[domain]:
        return domains[domain][str(code)]
    return labels().get(str(code))


def ja(code: object, domain: str | None = None) -> str:
    """The Japanese word for ``code`` (in ``domain`` where codes are shared); the code itself
    when the table does not know it, so nothing is hidden."""
    words = _words(code, domain)
    return words[0] if words else str(code)


def en(code: object, domain: str | None = None) -> str:
    words = _words(code, domain)
    return words[1] if words else str(code)


def label(code: object, domain: str | None = None) -> str:
    """「日本語 / English」."""
    return f"{ja(code, domain)} / {en(code, domain)}"


#: Operations the module-and-verb rule would name wrongly.
_OPERATION_WORDS: dict[str, str] = {
    "deletion.pending_purge": "一括削除：消去待ちの件数",
    "auth.server_token": "データサーバー：セッションの確認",
    "discrepancies.notice_list": "照会結果の相違：通知対象者リストの作成",
    "results.request_status": "照会結果：状況別の件数",
    "registration.review_queue": "番号登録：確認待ちの一覧",
    "media.issue_key_file": "媒体：鍵ファイルの発行",
    "media.unpack_own": "媒体：自組織の送付ファイルの開封",
    "users.review": "ユーザー：年次の見直し",
    "evidence.monthly": "運用状況報告：月次報告の作成",
    "records.record_training": "組織の記録：研修の記録", "records.training": "組織の記録：研修の一覧",
    "records.record_inspection_item": "組織の記録：自己点検の記録", "records.inspection": "組織の記録：自己点検の一覧",
    "records.record_kits": "組織の記録：収集キットの交付・返却", "records.kit_reconciliation": "組織の記録：収集キットの照合",
    "records.record_incident": "組織の記録：事案の記録", "records.add_incident_event": "組織の記録：事案の経過の記録",
    "records.incidents": "組織の記録：事案の一覧",
}


def operation_label(operation: str) -> str:
    """An audit operation in words, e.g. ``batches.preview`` → 「照会ファイル：事前確認」."""
    if operation in _OPERATION_WORDS:
        return _OPERATION_WORDS[operation]
    module, _, verb = operation.partition(".")
    verb = verb.lstrip("_")
    words = _MODULE_WORDS.get(module)
    if words is None:
        return operation
    for candidate in (verb, verb.split("_")[0], verb.rsplit("_", 1)[-1]):
        if candidate in _VERB_WORDS:
            verb_words = _VERB_WORDS[candidate]
            return verb_words if verb_words == words else f"{words}：{verb_words}"
    return words


#: Operations recorded outside any service (logins, sessions, start-up sweeps).
EVENTS = ("auth.login", "auth.logout", "auth.idle_timeout", "auth.session_ended", "auth.web_session",
          "auth.kernel_ticket", "auth.kernel_session", "auth.server_token", "media.sweep", "pipeline.resume",
          "deletion.pending_purge")


def known_operations() -> list[str]:
    """Every operation the audit log can hold: each service, and the events above."""
    from workbench.core.workspace import SERVICES

    return sorted(set(SERVICES) | set(EVENTS))


def operations_matching(word: str, operations: Iterable[str]) -> list[str]:
    """The operations whose code or words contain ``word`` (Japanese or English)."""
    word = word.strip().lower()
    return [op for op in operations if word and (word in op.lower() or word in operation_label(op).lower())]
