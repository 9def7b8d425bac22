"""Words for codes a person sees (issue 20 item 5, part): ward and municipality codes as names from one
table (``labels.ward_name``), result codes in the linkage preview, ``none`` on a linkage card."""

from __future__ import annotations

import re

from widgets.approvals import summary_html
from widgets.batches import _result_words
from workbench.core import labels


def test_ward_codes_read_as_names() -> None:
    assert labels.ward_name("13101") == "千代田区" and labels.ward_name("131016") == "千代田区"
    assert labels.ward_name(13229) == "西東京市"
    assert labels.ward_name("99999") == "99999" and labels.ward_name(None) == "不明" and labels.ward_name("") == "不明"
    assert len(set(labels.ward_names().values())) == 49  # 23 wards and 26 Tama cities, one table (5- and 6-digit codes)


def test_the_approval_card_names_wards_and_states() -> None:
    html = summary_html({"summary_ja": "番号収集リスト", "count": 12, "by_ward": {"13101": 5, "13108": 7},
                         "discrepancy_status": {"none": 3, "open": 1}})
    assert "千代田区 5 件" in html and "江東区 7 件" in html and not re.search(r"\b131\d\d\b", html)
    assert "相違なし" in html and "none" not in html


def test_result_codes_in_words() -> None:
    assert _result_words("00") == "00 正常（情報あり）" and _result_words("90").startswith("90 システムエラー")
    assert _result_words("10") == "10 該当者なし" and _result_words("77") == "77"
