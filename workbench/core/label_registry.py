"""Words that feature modules register for their codes at import, read by :mod:`workbench.core.labels`.

A module of its own, importing nothing, so that a feature module can register its words without
importing the labels table (which still assembles some domains from feature modules itself).
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["REGISTERED", "register", "version"]

#: Domain → code → (Japanese, English).
REGISTERED: dict[str, dict[str, tuple[str, str]]] = {}
_version = 0


def register(domain: str, words: Mapping[str, tuple[str, str]]) -> None:
    """Add the words of a module's codes to ``domain``.  One word per code: a code registered again with
    other words is a programming error."""
    global _version
    table = REGISTERED.setdefault(domain, {})
    for code, pair in words.items():
        if table.get(code, pair) != pair:
            raise RuntimeError(f"{domain}.{code} registered with two different words")
        table[code] = (pair[0], pair[1])
    _version += 1


def version() -> int:
    """Changes whenever words are registered (the labels table is assembled again)."""
    return _version
