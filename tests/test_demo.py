"""The demo workspace, and no personal data in clear anywhere under it (issue 2, done-when)."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench import Workspace
from workbench.demo import DEMO_PASSWORD, DEMO_USERS, build_demo, current_code
from workbench.simulate import generate_world

pytestmark = pytest.mark.slow

_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _needles(persons: int, seed: int) -> list[bytes]:
    world = generate_world(persons, seed=seed).persons
    sample = world.sample(400, random_state=1)
    needles: set[bytes] = set()
    for _, row in sample.iterrows():
        number = row["individual_number"]
        needles.add(number.encode())
        for enc in ("utf-8", "utf-16-le", "cp932"):
            for text in (number.translate(_FULLWIDTH), row["name"].replace("\u3000", ""), row["address"].split("\u3000")[0]):
                try:
                    needles.add(text.encode(enc))
                except UnicodeEncodeError:
                    pass
    return sorted(needles)


def test_demo_10000_leaves_no_plain_personal_data(tmp_path: Path) -> None:
    path = tmp_path / "demo"
    summary = build_demo(path, persons=10_000, seed=1)
    assert summary["persons"] == 10_000 and summary["registered"] > 6_000
    ws = Workspace.open(path)
    session = ws.login("registrar", DEMO_PASSWORD, current_code(ws, "registrar"))
    assert set(session.roles) == set(DEMO_USERS["registrar"])
    needles = _needles(10_000, 1)
    assert len(needles) > 1000
    for file in path.rglob("*"):
        if file.is_file():
            data = file.read_bytes()
            found = [n for n in needles if n in data]
            assert not found, f"{file.relative_to(path)} holds {len(found)} personal values in clear"


def test_demo_codes_only_in_demo_workspaces(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "real")
    from workbench.core.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        current_code(ws, "admin")
