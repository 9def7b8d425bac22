"""One table of words for every code a person sees (issue 11 item 1, issue 18 item 3), and a walk of
every screen."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import ipywidgets as w
import pytest

from workbench import SERVICES, Workspace
from workbench.controls import audit_log
from workbench.core import labels, numbers, places
from workbench.core.approvals import KINDS as APPROVAL_KINDS
from workbench.core.permissions import ROLE_LABELS
from workbench.demo import DEMO_USERS, _as, build_demo
from workbench.files import media
from workbench.intake import registration
from workbench.queries import batches, discrepancies, procedures


def test_every_domain_code_has_japanese_words() -> None:
    for domain, table in (("return_reason", numbers.REASONS), ("return_reason", registration.REASONS),
                          ("procedure_reason", procedures.REASONS),
                          ("exclusion", batches.EXCLUSIONS), ("discrepancy", discrepancies.KINDS),
                          ("recipient", media.RECIPIENTS), ("approval", APPROVAL_KINDS)):
        for code, (word_ja, word_en) in table.items():
            assert labels.ja(code, domain) == word_ja and labels.en(code, domain) == word_en
    for role in ROLE_LABELS:
        assert labels.ja(role.value) == ROLE_LABELS[role][0]
    for code in ("local_tax", "resident_register", "P1", "info_query", "return_list", "housing_office", "sent"):
        assert labels.ja(code) != code, code
    assert labels.ja("no-such-code") == "no-such-code"  # nothing is hidden
    assert labels.ja("deceased", "discrepancy") != labels.ja("deceased", "exclusion")  # shared codes by domain
    assert labels.label("check_digit").endswith(" / " + labels.en("check_digit"))


ROOT = Path(__file__).resolve().parent.parent
_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def test_a_code_given_two_words_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """One word per code: a second module naming a code differently fails at its import."""
    monkeypatch.setattr(labels, "_TABLE", {d: dict(t) for d, t in labels._TABLE.items()})
    monkeypatch.setattr(labels, "_SHORT", {d: dict(t) for d, t in labels._SHORT.items()})
    labels.register("test_domain", {"open": ("未対応", "open")}, short={"open": "未"})
    labels.register("test_domain", {"open": ("未対応", "open")})  # the same words again: harmless
    with pytest.raises(labels.TwoWords, match="open"):
        labels.register("test_domain", {"open": ("未処理", "open")})
    with pytest.raises(labels.TwoWords):
        labels.register("test_domain", {"open": ("未対応", "not yet handled")})  # the English is the code's too
    with pytest.raises(labels.TwoWords):
        labels.register("test_domain", {}, short={"open": "未処理"})
    with pytest.raises(labels.TwoWords):
        labels.register("test_domain", {}, short={"nothing": "なし"})  # a short form of no word
    assert labels.ja("open", "test_domain") == "未対応"
    with pytest.raises(labels.TwoWords):  # the live table refuses too: a discrepancy is 未対応, never 未処理
        labels.register("discrepancy_status", {"open": ("未処理", "open")})


def test_the_table_imports_no_feature_module() -> None:
    """Words depend on features, never the other way: labels imports nothing of the workbench."""
    tree = ast.parse((ROOT / "workbench" / "core" / "labels.py").read_text("utf-8"))
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if m.startswith("workbench")], imported


def test_the_table_is_complete_however_the_package_is_imported() -> None:
    for domain in ("return_reason", "procedure_reason", "exclusion", "discrepancy", "discrepancy_status", "recipient",
                   "approval", "approval_status", "role", "information", "procedure", "pipeline", "stage", "run_status",
                   "stage_status", "query_status", "outcome", "person_status", "sex", "package", "direction", "ward"):
        assert labels.labels(domain), domain
    assert labels.ja("open", "discrepancy_status") == "未対応" and labels.ja("applicant") == "入居申込者"
    assert labels.short("not_covered", "exclusion") != labels.ja("not_covered", "exclusion")


def test_ward_codes_read_as_names() -> None:
    assert len(places.PLACES) == 49 and places.name("13101") == "千代田区" and places.name("131016") == "千代田区"
    assert places.name("131041") == "新宿区" and places.name("131040") is None and places.name("99999") is None
    assert labels.ja("13229", "ward") == "西東京市" and labels.ja("131016", "ward") == "千代田区"
    assert [places.check_digit(c) for c in ("13101", "13102", "13104", "13110")] == ["6", "4", "1", "5"]


def _side_tables() -> list[tuple[str, int, str, str]]:
    """Every dict literal in workbench/ and widgets/ that maps a code to Japanese words:
    (file, line, code, word), the word being the Japanese of a (Japanese, English) pair."""
    found = []
    for folder in ("workbench", "widgets"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name == "labels.py" and path.parent.name == "core":
                continue  # the table itself (and its audit-operation words)
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                if not isinstance(node, ast.Dict):
                    continue
                for key, value in zip(node.keys, node.values, strict=True):
                    if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                        continue
                    if isinstance(value, ast.Tuple) and value.elts:
                        value = value.elts[0]
                    if isinstance(value, ast.Constant) and isinstance(value.value, str) and _JAPANESE.search(value.value) \
                            and "。" not in value.value:  # sentences (messages) are no words
                        found.append((str(path.relative_to(ROOT)), node.lineno, key.value, value.value))
    return found


#: Side tables still to go, each with the reason it waits; none may be added.  Statistics are being
#: rebuilt as a service (issue 21): its dimensions and the activity chart read the table then.
KNOWN_SIDE_TABLES = {("workbench/statistics/publishing.py", "sex"), ("widgets/stats.py", "registered"),
                     ("widgets/stats.py", "answered")}


def test_no_side_table_disagrees_with_the_table() -> None:
    """A dict somewhere giving a registered code other words than the table does is a second
    table: read the one table instead (``labels.ja(code, domain)``)."""
    words: dict[str, set[str]] = {}
    for domain in labels.domains():
        for code, (word_ja, _en) in labels.labels(domain).items():
            words.setdefault(code, set()).update({word_ja, labels.short(code, domain)})
    # A dict literal that is a registered domain's own definition (every code's word as that domain has
    # it) is the table, not a side table: a code may mean different things in different domains.
    found = _side_tables()
    by_dict: dict[tuple[str, int], dict[str, str]] = {}
    for path, line, code, word in found:
        by_dict.setdefault((path, line), {})[code] = word
    registered = {(path, line) for (path, line), pairs in by_dict.items()
                  if any(all(labels.labels(d).get(c, ("",))[0] == w for c, w in pairs.items()) for d in labels.domains())}
    disagreeing = [(f"{path}:{line}", code, word, sorted(words[code]))
                   for path, line, code, word in found
                   if code in words and word not in words[code] and (path, code) not in KNOWN_SIDE_TABLES
                   and (path, line) not in registered]
    assert not disagreeing, disagreeing


def test_every_audit_operation_reads_as_words() -> None:
    for operation in audit_log.known_operations():
        words = labels.operation_label(operation)
        assert words != operation and "." not in words and "_" not in words, (operation, words)
        assert "：" in words or operation in ("auth.login", "auth.logout"), (operation, words)
    found = labels.operations_matching("照会ファイル", SERVICES)
    assert found and all(op.startswith("batches.") for op in found)
    assert labels.operations_matching("ログアウト", ["auth.logout", "auth.login"]) == ["auth.logout"]
    assert labels.operations_matching("", SERVICES) == []


# -- every screen of every role, with the demo's data on it ---------------------------------------------


def _words(widget: w.Widget) -> list[str]:
    out: list[str] = []
    stack = [widget]
    while stack:
        node = stack.pop()
        for attr in ("value", "description", "placeholder", "tooltip"):
            if attr == "value" and isinstance(node, (w.Dropdown, w.Select, w.RadioButtons, w.ToggleButtons)):
                continue  # a choice shows its option's words (below); its value is the code behind them
            value = getattr(node, attr, None)
            if isinstance(value, str):
                out.append(value)
        for option in getattr(node, "_options_labels", ()) or ():
            out.append(str(option))
        stack.extend(getattr(node, "children", ()))
    return out


def _visible_text(values: list[str]) -> str:
    text = " ".join(values)
    text = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", text, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)  # attributes (classes, links) are not read by a person
    return text


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("labels") / "demo"
    build_demo(path, persons=200)
    return path


#: Buttons that only show: search, show, refresh, ledger, verify, preview.
SAFE_BUTTONS = ("検索", "表示 /", "更新", "媒体管理簿", "改ざん検査", "事前確認", "件数を確認")


def _descendants(widget: w.Widget) -> list[w.Widget]:
    out, stack = [], [widget]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(getattr(node, "children", ()))
    return out


RAW_CODES = sorted((c for c in labels.labels() if "_" in c), key=len, reverse=True)

#: Coded numbers a clerk must not meet raw either (issue 20 item 5): a ward or municipality code (13101, or
#: 131016 with its check digit) standing alone; a result code as a whole cell of a table (``00``; 10 … 90
#: could be counts there), or any of 00/10/20/30/90 counted as ``90: 12``; ``none`` as a cell or a value.  A code shown with its words beside it
#: (「00 正常（情報あり）」) is read, not raw.
WARD_CODES = sorted(labels.labels("ward"), key=len, reverse=True)
CODED_NUMBERS = re.compile(
    r"(?<![\w.\-/:#,+])(?:" + "|".join(WARD_CODES) + r")(?![\w.\-/:,]|\s?(?:" + "|".join(
        sorted({n[0] for n in labels.labels("ward").values()}, key=len, reverse=True)) + r"))"
    r"|(?m:(?:^|\t)00(?=\t|$))"
    r"|(?<![\w.\-])(?:00|10|20|30|90)(?:\s*：|:\s)\s*\d"
    r"|(?m:(?:^|\t|[:：]\s?)none(?=\t|$|\s*[,、)）]))")


def coded_numbers(text: str) -> list[str]:
    """The coded numbers shown raw in ``text`` (as a person reads it: cells separated by tabs)."""
    return sorted({m.group(0).strip() for m in CODED_NUMBERS.finditer(text)})


def test_the_coded_number_check_finds_what_it_should() -> None:
    assert coded_numbers("区市町村\t13101\t12") == ["13101"]
    assert coded_numbers("地域 131016") == ["131016"]
    assert coded_numbers("照会結果\t00\t3") == ["00"] and coded_numbers("結果 00: 1,234")
    assert coded_numbers("相違\tnone") == ["none"] and coded_numbers("状態: none")
    for fine in ("13101 千代田区", "千代田区", "13,101 件", "P13101", "2026-13101", "00 正常（情報あり）", "10:00",
                 "該当するものはありません / none", "保存期間 90 日", "全 10 件", "10 件", "件数\t10\t20"):
        assert coded_numbers(fine) == [], fine


@pytest.mark.slow
@pytest.mark.parametrize("user_id", sorted(DEMO_USERS))
def test_no_screen_shows_a_raw_code(demo: Path, user_id: str) -> None:
    from widgets.dashboard import Dashboard

    ws = Workspace.open(demo)
    gate = Dashboard(_as(ws, user_id), idle_check_seconds=None)
    seen: dict[str, list[str]] = {"home": _words(gate)}
    for key in list(gate.menu_buttons):
        app: Any = gate.open_app(key)
        assert app is not None
        for button in [d for d in _descendants(app) if isinstance(d, w.Button)]:
            if not button.disabled and any(word in button.description for word in SAFE_BUTTONS):
                button.click()  # the views that list and count, not the ones that change anything
        seen[key] = _words(gate)
    pattern = re.compile(r"(?<![A-Za-z0-9_.-])(" + "|".join(map(re.escape, RAW_CODES)) + r"|"
                         + "|".join(map(re.escape, sorted(SERVICES, key=len, reverse=True))) + r")(?![A-Za-z0-9_])")
    problems = {key: sorted(set(pattern.findall(_visible_text(values)))) + coded_numbers(_visible_text(values))
                for key, values in seen.items()}
    problems = {k: v for k, v in problems.items() if v}
    assert not problems, f"raw codes on {user_id}'s screens: {problems}"


def test_the_approvers_card_reads_as_words(demo: Path, tmp_path: Path) -> None:
    """Issue 11 item 2: the second person reads what kind of file, for which procedure and
    information, and who is left out and why — in words, not ``resident_register``/``not_filed``."""
    import shutil

    from widgets.approvals import ApprovalsApp

    path = tmp_path / "ws"
    shutil.copytree(demo, path)
    ws = Workspace.open(path)
    query = _as(ws, "query")
    for information in ("resident_register", "local_tax"):
        batches.request_info_batch(query, procedure="P1", fiscal_year=2026, information=information)
    app = ApprovalsApp(_as(ws, "approver"))
    cards = [c for c in _descendants(app) if isinstance(c, w.HTML) and "wb-approval" in c.value]
    assert len(cards) == 2
    text = _visible_text([c.value for c in cards])
    assert "収入の申告" in text and "住民票関係情報" in text and "地方税関係情報" in text
    found = re.findall(r"(?<![A-Za-z0-9_])(" + "|".join(map(re.escape, RAW_CODES)) + r")(?![A-Za-z0-9_])", text)
    assert not found, f"raw codes on the approver's card: {sorted(set(found))}"
