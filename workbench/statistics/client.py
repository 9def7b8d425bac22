"""The analysts' Python API (統計分析の Python API) — a client of the statistics service.

DESIGN §9, issue 21.  An analyst logs in like the CLI does (``Workspace.open`` + ``login``; once
the workbench server runs, the same calls go over it) and asks for tables; every call is the
service the 統計分析 screen calls, permission-checked, recorded in the release ledger under the
logged-in analyst and audited.  No row of data ever reaches the notebook.

>>> from workbench.statistics import Statistics
>>> st = Statistics.login("/srv/workbench/workspace", "analyst")          # doctest: +SKIP
>>> st.publications()                                                     # doctest: +SKIP
>>> t = st.table("ward", "household_size", "income_band")                # doctest: +SKIP
>>> t.to_frame().head()                                                   # doctest: +SKIP
>>> st.table("ward", measure="mean").to_frame()                          # doctest: +SKIP
>>> st.table("region", "sex", filters={"age_band": ["75歳以上"]})          # doctest: +SKIP
>>> st.export("ward", "sex", path="ward_sex.xlsx")                       # doctest: +SKIP
>>> st.dp_preview("age_group", "sex", epsilon=0.1)                       # doctest: +SKIP  (spends nothing)
>>> st.table("age_group", "sex", epsilon=0.1)                            # doctest: +SKIP  (spends 0.1 of your ε)
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.core.errors import NotFound
from workbench.core.workspace import Session, Workspace
from workbench.statistics import publishing
from workbench.statistics.tables import DIMENSIONS, MEASURES, StatTable

__all__ = ["Statistics", "japanese_font"]


def japanese_font() -> str | None:
    """Set matplotlib to a Japanese font if one is installed (Noto Sans CJK JP, IPAex …);
    returns its name."""
    import matplotlib
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    for family in ("Noto Sans CJK JP", "Noto Sans JP", "IPAexGothic", "IPAGothic", "TakaoGothic"):
        if family in names:
            matplotlib.rcParams["font.family"] = [family]
            matplotlib.rcParams["axes.unicode_minus"] = False
            return family
    return None


class Statistics:
    """The statistics service for one logged-in analyst.

    >>> st = Statistics(session)                    # doctest: +SKIP  (a Session from Workspace.login)
    >>> st.use("S0002")                             # doctest: +SKIP  (default: the newest publication)
    """

    def __init__(self, session: Session, publication_id: str | None = None) -> None:
        self.session = session
        self._publication = publication_id

    @classmethod
    def login(cls, workspace: str | Path | None = None, user: str | None = None, password: str | None = None,
              totp: str | None = None) -> Statistics:
        """Log in as the CLI does: the workspace from ``WORKBENCH_WORKSPACE``, the user from
        ``WORKBENCH_USER``, the password and one-time code from ``WORKBENCH_PASSWORD`` /
        ``WORKBENCH_TOTP`` or asked for."""
        path = workspace or os.environ.get("WORKBENCH_WORKSPACE", "")
        user_id = user or os.environ.get("WORKBENCH_USER") or input("ユーザーID / user: ")
        secret = password or os.environ.get("WORKBENCH_PASSWORD") or getpass.getpass("パスワード / password: ")
        code = totp or os.environ.get("WORKBENCH_TOTP") or input("ワンタイムコード / one-time code: ")
        return cls(Workspace.open(Path(path)).login(user_id, secret, code))

    # -- what there is ---------------------------------------------------------------
    def publications(self) -> pd.DataFrame:
        """The publications and their status (published / withdrawn)."""
        return pd.DataFrame([p.to_dict() for p in publishing.publications(self.session)])

    def use(self, publication_id: str) -> Statistics:
        """Work on this publication from now on (a newer one never replaces it on its own)."""
        self.describe(publication_id)
        self._publication = publication_id
        return self

    @property
    def publication_id(self) -> str:
        if self._publication is None:
            live = [p for p in publishing.publications(self.session) if p.status == "published"]
            if not live:
                raise NotFound("No publication is available yet; ask the statistics staff to publish one.",
                               "利用できる公表データがまだありません。統計担当に公表を依頼してください。")
            self._publication = live[-1].publication_id
        return self._publication

    def describe(self, publication_id: str | None = None) -> dict[str, Any]:
        """The publication's rules, k-anonymity report, variables and their categories."""
        return publishing.describe(self.session, publication_id or self.publication_id)

    @staticmethod
    def dimensions() -> pd.DataFrame:
        """The dimensions a table may use, with their labels."""
        return pd.DataFrame([{"name": d.name, "variable": d.base, "ja": d.label_ja, "en": d.label_en}
                             for d in DIMENSIONS.values()])

    @staticmethod
    def measures() -> pd.DataFrame:
        return pd.DataFrame([{"measure": k, "ja": ja, "en": en} for k, (ja, en) in MEASURES.items()])

    # -- tables ----------------------------------------------------------------------
    def table(self, rows: str, cols: str | None = None, layers: str | None = None, *extra: str,
              filters: Mapping[str, Sequence[str]] | None = None, measure: str = "count", min_count: int = 3,
              quantile: float | None = None, epsilon: float | None = None,
              publication_id: str | None = None) -> StatTable:
        """A table (see :func:`workbench.statistics.publishing.table`).  Asking again for the same
        table gives the same numbers and spends nothing, unless ``epsilon`` is given.

        >>> st.table("ward", "sex", filters={"age_band": ["75歳以上"]}).to_frame()   # doctest: +SKIP
        """
        return publishing.table(self.session, publication_id or self.publication_id, rows, cols, layers, *extra,
                                filters=filters, measure=measure, min_count=min_count, quantile=quantile,
                                epsilon=epsilon)

    def export(self, rows: str, cols: str | None = None, layers: str | None = None, *extra: str, path: str | Path,
               filters: Mapping[str, Sequence[str]] | None = None, measure: str = "count", min_count: int = 3,
               quantile: float | None = None, publication_id: str | None = None) -> StatTable:
        """Write a table to ``path`` (``.csv``: UTF-8 with BOM, or ``.xlsx``), readable by the
        analysts' group (0640), formula-neutralised; recorded as an export."""
        target = Path(path)
        fmt = "xlsx" if target.suffix.lower() == ".xlsx" else "csv"
        t, data = publishing.export(self.session, publication_id or self.publication_id, rows, cols, layers, *extra,
                                    filters=filters, measure=measure, min_count=min_count, quantile=quantile, fmt=fmt)
        from workbench.statistics.tables import write_shared

        write_shared(target, data)
        return t

    def chart(self, *names: str, filters: Mapping[str, Sequence[str]] | None = None,
              publication_id: str | None = None) -> dict[str, pd.DataFrame]:
        """The cells behind the screen's charts (long frames: categories and ``n``)."""
        return publishing.chart(self.session, publication_id or self.publication_id, list(names) or None,
                                filters=filters)

    def dp_preview(self, rows: str, cols: str | None = None, layers: str | None = None, *, epsilon: float,
                   publication_id: str | None = None) -> publishing.DPPreview:
        """What a differentially private table would cost and how accurate it would be (spends nothing)."""
        return publishing.dp_preview(self.session, publication_id or self.publication_id, rows, cols, layers,
                                     epsilon=epsilon)

    def budget(self) -> dict[str, Any]:
        """Your ε budget for this fiscal year."""
        return publishing.budget(self.session)

    def releases(self) -> pd.DataFrame:
        """Your releases, newest first (what was asked; no value)."""
        return pd.DataFrame(publishing.releases(self.session))
