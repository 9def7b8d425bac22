"""Search keys: what a clerk types, made comparable with what is held (issue 20 item 4).

検索キー。A phone enquiry gives a 宛名番号 typed with the IME (``Ｐ００００００１５``) or in
lower case, or a name in any script: 「たかはし　はなこ」, 「タカハシハナコ」, 「髙橋 花子」.
Both sides of a comparison are reduced to one key:

* :func:`person_id_key` — a 宛名番号 in any width or case (NFKC, upper case, spaces and
  hyphens dropped), or ``None`` when the text is not one;
* :func:`name_key` — a name or kana: NFKC (full-width letters and digits, half-width kana),
  every space removed, hiragana as katakana, old and variant kanji folded by the table in
  ``workbench/data/name_variants.json`` (髙→高, 﨑→崎, 邊/邉→辺, 齋/齊→斎 …), lower case;
* :func:`name_key_sql` — the same key computed in the database over a stored column, so a
  search over a million people runs there and never loads names into Python.  The stored
  names were normalised on import (NFKC, kana in full width), so the SQL side needs only the
  one-for-one foldings (width, hiragana, variants) and the spaces.

The typed text is compared literally (DuckDB ``contains``): ``%`` and ``_`` are characters.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from importlib import resources

__all__ = ["FORMAT", "name_key", "name_key_sql", "person_id_key", "variants"]

FORMAT = "workbench-name-variants/1"
_PERSON_ID = re.compile(r"^P[0-9]{1,20}$")
_SPACES = re.compile(r"[\s\u3000\u200b\ufeff]+")
_HIRAGANA = "".join(chr(c) for c in range(0x3041, 0x3097))
_KATAKANA = "".join(chr(c + 0x60) for c in range(0x3041, 0x3097))
#: Full-width ASCII (！ … ～) to ASCII, for stored text that was not NFKC-normalised.
_FULL = "".join(chr(c) for c in range(0xFF01, 0xFF5F))
_HALF = "".join(chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F))


@functools.cache
def variants() -> dict[str, str]:
    """The variant-kanji table (variant → the form searched as), from package data."""
    doc = json.loads(resources.files("workbench").joinpath("data/name_variants.json").read_text("utf-8"))
    if doc.get("format") != FORMAT:
        raise RuntimeError(f"workbench/data/name_variants.json: expected format {FORMAT}")
    table = {str(k): str(v) for k, v in doc["variants"].items()}
    if any(len(k) != 1 or len(v) != 1 for k, v in table.items()):
        raise RuntimeError("workbench/data/name_variants.json: each variant is one character for one character")
    return table


@functools.cache
def _fold() -> tuple[str, str]:
    """The one-for-one foldings as (from, to) strings, for str.translate and SQL translate()."""
    table = variants()
    src = _FULL + _HIRAGANA + "".join(table)
    dst = _HALF + _KATAKANA + "".join(table.values())
    return src, dst


def person_id_key(text: str) -> str | None:
    """``Ｐ００００００１５``, ``p00000015``, ``P-0000 0015`` → ``P00000015``; ``None`` if not a 宛名番号."""
    key = _SPACES.sub("", unicodedata.normalize("NFKC", text)).replace("-", "").upper()
    return key if _PERSON_ID.match(key) else None


def name_key(text: str) -> str:
    """A name or kana as it is searched: ``髙橋　はなこ`` → ``高橋ハナコ``."""
    src, dst = _fold()
    text = _SPACES.sub("", unicodedata.normalize("NFKC", text))
    return text.translate(str.maketrans(src, dst)).lower()


def name_key_sql(column: str) -> str:
    """SQL for :func:`name_key` over a stored ``column`` (ours, never the caller's text)."""
    if not re.fullmatch(r"[a-z_][a-z0-9_.]*", column):
        raise ValueError(f"not a column name: {column!r}")
    src, dst = (s.replace("'", "''") for s in _fold())  # SQL string literals (＇ folds to ')
    return f"lower(translate(regexp_replace({column}, '[\\s\u3000]+', '', 'g'), '{src}', '{dst}'))"
