"""Counts in sentences carry thousands separators (issue 11 item 11): 「10,200 行」, never 「10200 行」.

Every f-string in ``workbench`` and ``widgets`` that puts a value right before a counter word
(件 行 人 名 世帯 通 回 個 バッチ) formats it with ``:,`` or :func:`widgets.common.num`.
Ordinals (「12 行目」「3 件目」) are positions, not counts, and are left as they are.
"""

from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

from widgets.common import num

ROOT = Path(__file__).resolve().parent.parent
COUNTER = re.compile(r"^\s?(件(?!目)|行(?!目)|人|名|世帯|通(?!知)|回(?!目|答|収)|個|バッチ)")


def _bare_counts(source: str) -> list[tuple[int, str]]:
    """(line, expression) of each f-string value printed before a counter without separators."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.JoinedStr):
            continue
        parts = node.values
        for value, after in itertools.pairwise(parts):
            if not (isinstance(value, ast.FormattedValue) and isinstance(after, ast.Constant)):
                continue
            if not COUNTER.match(str(after.value)):
                continue
            spec = value.format_spec
            has_sep = spec is not None and "," in ast.unparse(spec)
            wrapped = isinstance(value.value, ast.Call) and ast.unparse(value.value.func) in ("num", "fmt_count")
            if not (has_sep or wrapped):
                found.append((node.lineno, ast.unparse(value.value)))
    return found


def test_every_count_in_a_sentence_has_separators() -> None:
    problems = []
    for path in sorted([*(ROOT / "workbench").rglob("*.py"), *(ROOT / "widgets").rglob("*.py")]):
        for line, expr in _bare_counts(path.read_text(encoding="utf-8")):
            problems.append(f"{path.relative_to(ROOT)}:{line}: {{{expr}}}")
    assert not problems, "counts without thousands separators:\n" + "\n".join(problems)


def test_the_check_finds_a_bare_count() -> None:
    assert _bare_counts('x = f"{rows} 行を取り込みました"') == [(1, "rows")]
    assert _bare_counts('x = f"{rows:,} 行、{num(n)} 件、{line} 行目"') == []


def test_num_and_a_refusal_write_separators_and_words() -> None:
    from workbench.core.errors import rows_refused

    assert num(10200) == "10,200" and num(None) == "-" and num(2.5) == "2.5"
    exc = rows_refused("target list", "対象者リスト", [(n, "check_digit") for n in range(2, 10202)],
                       {"check_digit": ("チェックデジットの誤り", "wrong check digit")})
    assert "10,200 行に誤りがあります" in exc.message_ja
    assert "チェックデジットの誤り 10,200 行" in exc.message_ja and "check_digit" not in exc.message_ja
