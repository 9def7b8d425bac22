"""Printing an HTML document as PDF (issue 23): the evidence report and the citizen's disclosure document.

WeasyPrint (maintained, BSD-licensed) lays out the same HTML the screens show, with CSS paged media
(A4, page breaks), finds the Japanese fonts through fontconfig (Noto Sans CJK JP, Debian's
``fonts-noto-cjk``) and embeds the glyphs it uses, so the PDF prints the same anywhere.  ReportLab
was the other candidate: it cannot embed the CFF-based Noto CJK OpenType fonts and would need the
layout written twice.
"""

from __future__ import annotations

__all__ = ["pdf_bytes"]


def pdf_bytes(document: str) -> bytes:
    """The HTML ``document`` as PDF bytes."""
    import weasyprint

    out: bytes = weasyprint.HTML(string=document).write_pdf()
    return out
