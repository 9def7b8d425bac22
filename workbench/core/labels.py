"""One table of what every code a person may see means, in Japanese and English (issues 11, 18).

コード表。Return reasons, exclusion reasons, discrepancy kinds and states, recipients, ledger
and package kinds, approval kinds, statuses, roles, information kinds, wards and audit
operations: the CLI, the dashboards and the reports all read their words here, so a clerk
never meets ``check_digit`` or ``discrepancies.list_discrepancies``, and one code reads the
same on every screen.

**Each module registers the codes it defines** (:func:`register`, at its import: the
discrepancy kinds in ``queries/discrepancies``, the wards in ``core/places``, …); this module
imports no feature module, so the words depend on the features and never the other way.
``workbench/services.py`` imports every service module (and ``import workbench`` imports it),
so the table is complete however the package is imported.  A code registered twice in one
domain with two different words is refused at import (:class:`TwoWords`): one word per code.
Audit operations get their words from the module and the verb (``batches.preview`` →
照会ファイル：事前確認) so a new service is named without a new entry.

* :func:`register` — a module's codes and words, by domain (``discrepancy``, ``ward``, …);
* :func:`labels` — one domain's table, or every code;
* :func:`ja` / :func:`en` — the word for a code (the code itself if unknown, so nothing is hidden);
* :func:`short` — the short form a chart or a narrow column shows, where the module gave one;
* :func:`label` — 「日本語 / English」 for buttons and headers;
* :func:`operation_label` — an audit operation in words;
* :func:`operations_matching` — the audit operations a Japanese or English word names, for search;
* :func:`ward_name` — a ward or municipality code (13101 …) as its name (千代田区 …).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["EVENTS", "TwoWords", "domains", "en", "ja", "label", "labels", "operation_label",
           "operations_matching", "register", "short", "ward_name", "ward_names"]

#: Words, by domain then code: (Japanese, English).  Filled by :func:`register` only.
_TABLE: dict[str, dict[str, tuple[str, str]]] = {}
#: Short Japanese forms, by domain then code, for charts and narrow columns.
_SHORT: dict[str, dict[str, str]] = {}

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
    "evidence": "運用状況報告", "records": "組織の記録", "incoming": "受領ファイル", "unneeded": "不要になった個人番号",
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
    "check_unneeded": "日次点検（削除の提案）", "anchor_outside": "外部アンカーへの追記",
    "wrap": "鍵束の保護（鍵暗号化鍵）", "rewrap": "鍵束の再保護（鍵暗号化鍵の変更）",
    "dispose": "取込済みファイルの移動・削除", "settle": "中断したバックアップの整理",
}


class TwoWords(RuntimeError):
    """One code given two words (a programming error, found when the second module is imported)."""


def register(domain: str, words: Mapping[str, tuple[str, str]], *, short: Mapping[str, str] | None = None) -> None:
    """Declare the words of the codes a module defines: ``{code: (日本語, English)}`` in ``domain``
    (``short``: shorter Japanese forms for charts, for some of them).  Called at the module's
    import; registering the same words again is harmless, other words for a registered code are
    refused, so no two screens can name one code differently."""
    table = _TABLE.setdefault(domain, {})
    shorts = _SHORT.setdefault(domain, {})
    new = {str(code): (str(pair[0]), str(pair[1])) for code, pair in words.items()}
    clashes = [f"{code}: {table[code][0]} / {word[0]}" for code, word in new.items() if table.get(code, word) != word]
    clashes += [f"{code}: {shorts[code]} / {word}" for code, word in (short or {}).items()
                if shorts.get(code, word) != word]
    unknown = sorted(set(short or {}) - set(new) - set(table))
    if clashes or unknown:
        raise TwoWords(f"labels: two words for one code in {domain!r} ({'; '.join(clashes)}), "
                       f"or a short form without a word ({', '.join(unknown)}) — "
                       f"コード表「{domain}」で一つのコードに二つの語が登録されました。")
    table.update(new)
    shorts.update(short or {})



def domains() -> list[str]:
    """The registered domains, in the order they were first registered."""
    return list(_TABLE)


def labels(domain: str | None = None) -> dict[str, tuple[str, str]]:
    """The table of one domain (``exclusion``, ``discrepancy``, …), or every code (the first
    registered domain wins where two domains use the same code, e.g. ``deceased``; pass the
    domain wherever the code is shared)."""
    if domain is not None:
        if domain not in _TABLE:
            raise KeyError(f"no words registered for the domain {domain!r} (is its module imported?)")
        return dict(_TABLE[domain])
    flat: dict[str, tuple[str, str]] = {}
    for table in _TABLE.values():
        for code, words in table.items():
            flat.setdefault(code, words)
    return flat


def _words(code: object, domain: str | None) -> tuple[str, str] | None:
    if domain is not None and str(code) in _TABLE.get(domain, {}):
        return _TABLE[domain][str(code)]
    for table in _TABLE.values():
        if str(code) in table:
            return table[str(code)]
    return None


def ja(code: object, domain: str | None = None) -> str:
    """The Japanese word for ``code`` (in ``domain`` where codes are shared); the code itself
    when the table does not know it, so nothing is hidden."""
    words = _words(code, domain)
    return words[0] if words else str(code)


def en(code: object, domain: str | None = None) -> str:
    words = _words(code, domain)
    return words[1] if words else str(code)


def short(code: object, domain: str) -> str:
    """The short Japanese form of ``code`` for a chart or a narrow column (its word where the
    module gave no short form)."""
    return _SHORT.get(domain, {}).get(str(code)) or ja(code, domain)


def label(code: object, domain: str | None = None) -> str:
    """「日本語 / English」."""
    return f"{ja(code, domain)} / {en(code, domain)}"


#: Operations the module-and-verb rule would name wrongly.
_OPERATION_WORDS: dict[str, str] = {
    "deletion.pending_purge": "一括削除：消去待ちの件数",
    "auth.server_token": "データサーバー：セッションの確認",
    "cycle_runs.abandon_ghosts": "定例処理：停止した実行の検出",
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
    "stats.restore_budget": "統計：ε予算の回復",
    "pending.inbox": "未処理の業務：一覧", "pending.open_item": "未処理の業務：開く",
    "pending.remember_place": "未処理の業務：画面の位置の記録", "pending.last_place": "未処理の業務：画面の位置の参照",
    "pending.approvals_waiting": "未処理の業務：承認待ちの件数", "pending.keep_session": "未処理の業務：セッションの継続",
    "stats.request_budget_restore": "統計：ε予算の回復の承認依頼",
    "stats.dp_preview": "統計：差分プライバシーの事前確認",
    "stats.budget": "統計：ε予算の参照",
    "stats.releases": "統計：公表記録の一覧",
    "stats.describe": "統計：公表データの説明",
    "keys.status": "鍵：状況の参照",
    "backup.places": "バックアップ：保存場所の一覧",
    "registration.reveal_review_numbers": "番号登録：番号相違の両方の番号の表示",
    "registration.hold_review": "番号登録：番号相違の保留・保留の解除",
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
          "deletion.pending_purge", "cycle_runs.abandon_ghosts")


def _plain(text: str) -> str:
    """Lower case, NFKC, without spaces and the separators of a code (``batches.import_results``
    reads as ``batchesimportresults``), so any part of the words matches."""
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKC", text).lower() if c not in " \u3000._-：:・")


def operations_matching(word: str, operations: Iterable[str]) -> list[str]:
    """The operations whose code or words contain ``word``, any part of them, Japanese or English
    (``ファイル``, ``照会 作成``, ``reveal``, ``import results``); width, case and spaces do not matter."""
    key = _plain(word)
    if not key:
        return []
    return [op for op in operations if key in _plain(op) or key in _plain(operation_label(op))]


# ------------------------------------------------------------------------------ places (issue 20 item 5)
def ward_names() -> dict[str, str]:
    """Ward and municipality code → name, as :mod:`workbench.core.places` registered them (domain ``ward``)."""
    return {code: words[0] for code, words in _TABLE.get("ward", {}).items()}


def ward_name(code: object) -> str:
    """``13101`` (or ``131016`` with its check digit) → 「千代田区」; an unknown code is shown as it is
    (nothing is hidden), and a missing one as 「不明」."""
    if code is None or str(code).strip() == "":
        return "不明"
    return ja(str(code).strip(), "ward")
