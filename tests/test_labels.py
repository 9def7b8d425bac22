"""One table of words for every code a person sees (issue 11 item 1), and a walk of every screen."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import ipywidgets as w
import pytest

from workbench import SERVICES, Workspace
from workbench.core import labels, numbers
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


def test_every_audit_operation_reads_as_words() -> None:
    for operation in labels.known_operations():
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
    problems = {key: sorted(set(pattern.findall(_visible_text(values)))) for key, values in seen.items()}
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
