"""``package unpack`` is atomic and bounded (issue 24 item 4): each case of the issue reproduced, now safe.

- it wrote members one at a time and stopped, with earlier files written and a ``null`` reason, when a
  later name already existed in ``--out``;
- with no ``--ledger`` the receiver's ledger was ``OUT/ledger.jsonl``, so a member named ``ledger.jsonl``
  wrote the sender's forged line into it;
- a 200 MB member was unpacked with no size limit.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.files import transfer

KEY = bytes(range(32))
ROOT = Path(__file__).resolve().parent.parent


def _package(tmp_path: Path, members: list[tuple[str, bytes]], name: str = "p.wbpkg") -> tuple[Path, Path]:
    path = tmp_path / "media" / name
    path.parent.mkdir(exist_ok=True)
    transfer.write_package(path, key=KEY, key_id=transfer.key_id_for(KEY), kind="collection_list",
                           recipient="collection_contractor", members=members, record_count=len(members),
                           creator="registrar", workspace_id="w" * 32)
    keyfile = tmp_path / "keys" / "contractor.key"
    if not keyfile.exists():
        keyfile.parent.mkdir()
        transfer.write_keyfile(keyfile, recipient="collection_contractor", key=KEY, key_id=transfer.key_id_for(KEY))
    return path, keyfile


def _unpack(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = main(["package", "unpack", *argv])
    out = capsys.readouterr()
    return code, json.loads(out.out if code == 0 else out.err)


def test_a_later_name_that_exists_refuses_before_anything_is_written(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path, key = _package(tmp_path, [("a.csv", b"one"), ("b.csv", b"two"), ("c.csv", b"three")])
    out = tmp_path / "out"
    out.mkdir()
    (out / "c.csv").write_bytes(b"mine")
    code, err = _unpack(capsys, str(path), "--key", str(key), "--out", str(out))
    assert code == 8 and err["reason"] == "exists" and err["message_ja"]
    assert sorted(p.name for p in out.iterdir()) == ["c.csv"] and (out / "c.csv").read_bytes() == b"mine"
    assert not Path(os.environ["WORKBENCH_RECEIVED_LEDGER"]).exists()  # nothing recorded as read either


def test_the_ledger_is_never_inside_out_and_never_written_by_a_member(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    forged = json.dumps({"package_id": "forged", "kind": "nothing"}).encode() + b"\n"
    path, key = _package(tmp_path, [("list.csv", b"x"), ("ledger.jsonl", forged)])
    # without --ledger: the ledger is elsewhere; the member is just a member
    code, done = _unpack(capsys, str(path), "--key", str(key), "--out", str(tmp_path / "out"))
    assert code == 0 and Path(str(done["ledger"])) == Path(os.environ["WORKBENCH_RECEIVED_LEDGER"])
    lines = Path(str(done["ledger"])).read_text("utf-8").splitlines()
    assert len(lines) == 1 and "forged" not in lines[0]
    # a ledger named inside --out with the same name as a member: refused before anything is written
    inside = tmp_path / "out2" / "ledger.jsonl"
    inside.parent.mkdir()
    code, err = _unpack(capsys, str(path), "--key", str(key), "--out", str(inside.parent), "--ledger", str(inside))
    assert code == 8 and err["reason"] == "exists"
    assert list(inside.parent.iterdir()) == []


def test_members_and_packages_over_the_limits_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big = os.urandom(3 << 20)
    path, key = _package(tmp_path, [("a.bin", big), ("b.bin", big)])
    out = tmp_path / "out"
    code, err = _unpack(capsys, str(path), "--key", str(key), "--out", str(out), "--max-member-mb", "2")
    assert code == 8 and err["reason"] == "too_large" and "上限" in str(err["message_ja"])
    code, err = _unpack(capsys, str(path), "--key", str(key), "--out", str(out), "--max-package-mb", "5")
    assert code == 8 and err["reason"] == "too_large"
    assert not out.exists() or list(out.iterdir()) == []
    # the defaults (stated in README) refuse the 200 MB member
    assert transfer.MAX_UNPACK_MEMBER < 200 * 10**6 and transfer.MAX_UNPACK_TOTAL == 1 << 30
    code, _done = _unpack(capsys, str(path), "--key", str(key), "--out", str(out))
    assert code == 0 and (out / "b.bin").read_bytes() == big


def test_a_failure_while_publishing_takes_back_what_was_placed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    path, _key = _package(tmp_path, [("a.csv", b"one"), ("b.csv", b"two")])
    real = transfer._publish_link
    calls: list[Path] = []

    def second_fails(tmp: Path, target: Path) -> None:
        calls.append(target)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real(tmp, target)

    monkeypatch.setattr(transfer, "_publish_link", second_fails)
    out = tmp_path / "out"
    with pytest.raises(OSError):
        transfer.unpack_package(path, key=KEY, out=out)
    assert list(out.iterdir()) == []


CHILD = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from workbench.files import transfer
    path, out, at = sys.argv[1:4]
    real = transfer._publish_link
    def kill(tmp, target):
        if at == "publish":
            os.kill(os.getpid(), signal.SIGKILL)
        real(tmp, target)
    transfer._publish_link = kill
    def before(manifest):
        if at == "ledger":
            os.kill(os.getpid(), signal.SIGKILL)
    transfer.unpack_package(Path(path), key=bytes(range(32)), out=Path(out), before_publish=before)
""")


@pytest.mark.parametrize("at", ["ledger", "publish"])
def test_a_killed_unpack_leaves_no_member_and_the_next_run_cleans_up(tmp_path: Path, at: str) -> None:
    path, _ = _package(tmp_path, [("a.csv", b"one"), ("b.csv", b"two")])
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path), str(out), at], capture_output=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == -signal.SIGKILL
    assert not list(out.glob("*.csv"))  # the plaintext is only in the hidden staging folder
    _manifest, written = transfer.unpack_package(path, key=KEY, out=out)
    assert sorted(p.name for p in out.iterdir()) == ["a.csv", "b.csv"]  # the staging folder is gone
    assert [p.read_bytes() for p in written] == [b"one", b"two"]
