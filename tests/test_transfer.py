"""Tests for workbench.files.transfer: transfer packages (媒体・送付ファイル) and their key files.

Every refusal is produced by damaging a real package file on disk, the way a bad copy,
a wrong key or an edit would reach the receiving side.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import stat
import tracemalloc
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.core.errors import KeyringError, PackageError
from workbench.files import transfer as t

PACKAGES_KEY = bytes(range(32))
OTHER_WORKSPACE_PACKAGES_KEY = bytes(range(1, 33))
KEY = t.recipient_key(PACKAGES_KEY, "collection_contractor")
KEY_ID = t.key_id_for(KEY)
MiB = 1 << 20

#: Every reason a damaged package may be refused with.
DAMAGE_REASONS = {
    "truncated",
    "reordered",
    "tampered",
    "wrong_key",
    "trailing_data",
    "digest_mismatch",
    "not_a_package",
    "unsupported_version",
}

MEMBERS = [
    ("対象者一覧.csv", "番号,氏名\r\n1,テスト\r\n".encode("cp932") * 40),
    ("empty.txt", b""),
    ("b.csv", bytes(range(256)) * 3),
]


def write(path: Path, members: Iterable[tuple[str, bytes]] | None = None, **overrides: Any) -> t.Manifest:
    args: dict[str, Any] = {
        "key": KEY,
        "key_id": KEY_ID,
        "kind": "collection_list",
        "recipient": "collection_contractor",
        "members": MEMBERS if members is None else members,
        "record_count": 20,
        "creator": "U0001",
        "workspace_id": "ws-test",
        "approval_id": "A0001",
        "created_at": "2026-04-01T09:00:00+09:00",
    }
    args.update(overrides)
    return t.write_package(path, **args)


def frames_of(blob: bytes) -> tuple[int, list[tuple[int, int]]]:
    """(end of the clear prefix, [(start, end) of each frame]) by walking the layout."""
    assert blob[:6] == t.MAGIC
    prefix_end = 10 + int.from_bytes(blob[6:10], "big")
    frames = []
    off = prefix_end
    while off < len(blob):
        end = off + 4 + int.from_bytes(blob[off : off + 4], "big")
        frames.append((off, end))
        off = end
    assert off == len(blob)
    return prefix_end, frames


def refusal(path: Path, key: bytes = KEY) -> PackageError:
    with pytest.raises(PackageError) as info:
        t.read_package(path, key=key)
    err = info.value
    assert err.message_ja and err.message_en and err.message_ja != err.message_en
    # Messages never name a member (member names may be personal data).
    for name, _ in MEMBERS:
        assert name not in str(err)
    return err


def reason_of(path: Path, key: bytes = KEY) -> str:
    return str(refusal(path, key).details["reason"])


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A small package with many frames (300-byte chunks): 1 + 3 + 0 + 3 + 1 frames."""
    saved = t.CHUNK_SIZE
    t.CHUNK_SIZE = 300
    try:
        path = tmp_path_factory.mktemp("small") / "p.wbpkg"
        write(path)
    finally:
        t.CHUNK_SIZE = saved
    return path.read_bytes()


@pytest.fixture()
def damaged(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "damaged.wbpkg"


# --------------------------------------------------------------------------- round trip


def test_round_trip_several_members_empty_and_multi_frame(tmp_path: Path) -> None:
    big = os.urandom(2 * MiB + 12345)
    members = [*MEMBERS, ("big.bin", big)]
    path = tmp_path / "out.wbpkg"
    manifest = write(path, members, record_count=123)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    package = t.read_package(path, key=KEY)
    assert list(package.members) == [name for name, _ in members]
    assert package.members == dict(members)
    assert package.manifest == manifest
    assert t.verify_package(str(path), key=KEY) == manifest

    # Frames: manifest, 1 each for the two small members, none for the empty one,
    # 3 for the 2 MiB member (1 MiB chunks), and the final frame.
    _, frames = frames_of(path.read_bytes())
    assert len(frames) == 1 + 1 + 0 + 1 + 3 + 1
    assert all(end - start <= 4 + 1 + 4 + MiB + 16 for start, end in frames[1:])


def test_manifest_fields(tmp_path: Path) -> None:
    path = tmp_path / "out.wbpkg"
    m = write(path, record_count=20)
    assert len(m.package_id) == 32 and int(m.package_id, 16) >= 0
    assert (m.kind, m.recipient, m.record_count) == ("collection_list", "collection_contractor", 20)
    assert (m.creator, m.approval_id, m.workspace_id) == ("U0001", "A0001", "ws-test")
    assert m.created_at == "2026-04-01T09:00:00+09:00"
    assert m.format_version == t.FORMAT_VERSION == 1
    assert m.members == tuple(t.MemberInfo(name, len(data), hashlib.sha256(data).hexdigest()) for name, data in MEMBERS)
    assert m.total_size == sum(len(d) for _, d in MEMBERS)
    # The digest is SHA-256 over (len(name) ‖ name ‖ len(content) ‖ content) per member.
    h = hashlib.sha256()
    for name, data in MEMBERS:
        raw = name.encode()
        h.update(len(raw).to_bytes(8, "big") + raw + len(data).to_bytes(8, "big") + data)
    assert m.digest == h.hexdigest() == t.compute_digest(MEMBERS)
    assert t.Manifest.from_dict(json.loads(json.dumps(m.to_dict()))) == m


def test_default_created_at_and_no_approval(tmp_path: Path) -> None:
    path = tmp_path / "out.wbpkg"
    m = write(path, created_at=None, approval_id=None, members=[])
    when = dt.datetime.fromisoformat(m.created_at)
    assert when.tzinfo is not None
    assert abs((dt.datetime.now(dt.UTC) - when).total_seconds()) < 60
    package = t.read_package(path, key=KEY)
    assert package.members == {} and package.manifest.approval_id is None


def test_peek_header_needs_no_key_and_holds_no_personal_data(tmp_path: Path) -> None:
    path = tmp_path / "out.wbpkg"
    m = write(path)
    header = t.peek_header(path)
    assert header == t.PackageHeader(
        format="workbench-package/1",
        format_version=1,
        key_id=KEY_ID,
        package_id=m.package_id,
        kind="collection_list",
        recipient="collection_contractor",
    )
    blob = path.read_bytes()
    for name, data in MEMBERS:
        assert name.encode() not in blob and name.encode("cp932") not in blob
        if data:
            assert data[:40] not in blob


def test_members_consumed_lazily_with_bounded_memory(tmp_path: Path) -> None:
    size, count = 3 * MiB, 6

    def members() -> Iterator[tuple[str, bytes]]:
        for i in range(count):
            yield f"part{i}.bin", bytes([i]) * size

    path = tmp_path / "big.wbpkg"
    tracemalloc.start()
    try:
        write(path, members())
        _, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        t.verify_package(path, key=KEY)
        _, verify_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        package = t.read_package(path, key=KEY)
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    total = size * count
    assert write_peak < size + 3 * MiB  # one member plus a frame or two, not the package
    assert verify_peak < 4 * MiB  # a frame or two
    assert read_peak < 1.5 * total  # the contents it returns, not 3x
    assert package.members["part5.bin"] == bytes([5]) * size


# --------------------------------------------------------------------------- writing safely


def test_atomic_write_leaves_only_the_package(tmp_path: Path) -> None:
    write(tmp_path / "out.wbpkg")
    assert [p.name for p in tmp_path.iterdir()] == ["out.wbpkg"]


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "out.wbpkg"
    path.write_bytes(b"keep me")
    with pytest.raises(PackageError) as info:
        write(path)
    assert info.value.details["reason"] == "exists"
    assert path.read_bytes() == b"keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["out.wbpkg"]


def test_failure_while_consuming_members_leaves_nothing(tmp_path: Path) -> None:
    def members() -> Iterator[tuple[str, bytes]]:
        yield "a.csv", b"x" * 100
        raise RuntimeError("extraction failed")

    with pytest.raises(RuntimeError):
        write(tmp_path / "out.wbpkg", members())
    with pytest.raises(PackageError) as info:
        write(tmp_path / "out.wbpkg", [("a.csv", b"1"), ("a.csv", b"2")])
    assert info.value.details["reason"] == "invalid_argument"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"kind": "collection list"},
        {"kind": ""},
        {"recipient": "委託事業者"},
        {"record_count": -1},
        {"record_count": True},
        {"key": b"short"},
        {"creator": ""},
        {"workspace_id": "ws\n1"},
        {"created_at": "yesterday"},
        {"members": [("../escape.csv", b"x")]},
        {"members": [("dir/file.csv", b"x")]},
        {"members": [("", b"x")]},
        {"members": [("..", b"x")]},
        {"members": [("a.csv", "text, not bytes")]},
    ],
)
def test_invalid_arguments(tmp_path: Path, overrides: dict[str, Any]) -> None:
    with pytest.raises(PackageError) as info:
        write(tmp_path / "out.wbpkg", **overrides)
    assert info.value.details["reason"] == "invalid_argument"
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- keys


def test_recipient_keys_are_separate() -> None:
    a = t.recipient_key(PACKAGES_KEY, "collection_contractor")
    b = t.recipient_key(PACKAGES_KEY, "linkage_server")
    c = t.recipient_key(OTHER_WORKSPACE_PACKAGES_KEY, "collection_contractor")
    assert len(a) == 32 and a == t.recipient_key(PACKAGES_KEY, "collection_contractor")
    assert len({a, b, c, PACKAGES_KEY}) == 4
    ids = {t.key_id_for(k) for k in (a, b, c)}
    assert len(ids) == 3 and all(len(i) == 16 and int(i, 16) >= 0 for i in ids)
    assert t.key_id_for(a) == KEY_ID and KEY_ID not in a.hex()


def test_wrong_key_other_recipient_other_workspace(tmp_path: Path) -> None:
    path = tmp_path / "out.wbpkg"
    write(path)
    for key in (
        os.urandom(32),
        t.recipient_key(PACKAGES_KEY, "linkage_server"),
        t.recipient_key(OTHER_WORKSPACE_PACKAGES_KEY, "collection_contractor"),
        PACKAGES_KEY,
    ):
        err = refusal(path, key)
        assert err.details["reason"] == "wrong_key"
        assert "wrong key" in err.message_en and "recipient/workspace" in err.message_en
        assert "鍵" in err.message_ja


def test_keyfile_round_trip_opens_the_package(tmp_path: Path) -> None:
    keyfile = tmp_path / "contractor.key"
    t.write_keyfile(keyfile, recipient="collection_contractor", key=KEY, key_id=KEY_ID)
    assert stat.S_IMODE(keyfile.stat().st_mode) == 0o600
    recipient, key, key_id = t.read_keyfile(keyfile)
    assert (recipient, key, key_id) == ("collection_contractor", KEY, KEY_ID)
    path = tmp_path / "out.wbpkg"
    write(path)
    assert t.peek_header(path).key_id == key_id
    assert t.read_package(path, key=key).members == dict(MEMBERS)
    with pytest.raises(PackageError) as info:
        t.write_keyfile(keyfile, recipient="collection_contractor", key=KEY, key_id=KEY_ID)
    assert info.value.details["reason"] == "exists"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["contractor.key", "out.wbpkg"]


def _edit_key_char(text: str) -> str:
    doc = json.loads(text)
    doc["key"] = ("B" if doc["key"][0] == "A" else "A") + doc["key"][1:]
    return json.dumps(doc)


@pytest.mark.parametrize(
    "damage",
    [
        _edit_key_char,
        lambda s: s.replace("collection_contractor", "linkage_server"),
        lambda s: s[: len(s) // 2],
        lambda s: "",
        lambda s: "not json",
        lambda s: "[]",
        lambda s: json.dumps({k: v for k, v in json.loads(s).items() if k != "checksum"}),
    ],
)
def test_damaged_keyfile(tmp_path: Path, damage: Callable[[str], str]) -> None:
    keyfile = tmp_path / "k.key"
    t.write_keyfile(keyfile, recipient="collection_contractor", key=KEY, key_id=KEY_ID)
    keyfile.write_text(damage(keyfile.read_text()))
    with pytest.raises(KeyringError) as info:
        t.read_keyfile(keyfile)
    assert info.value.details["reason"] == "damaged_keyfile"
    assert KEY.hex() not in str(info.value)


def test_missing_keyfile(tmp_path: Path) -> None:
    with pytest.raises(KeyringError) as info:
        t.read_keyfile(tmp_path / "none.key")
    assert info.value.details["reason"] == "missing_keyfile"


# --------------------------------------------------------------------------- damage


def test_small_fixture_layout(small: bytes, damaged: Path) -> None:
    _, frames = frames_of(small)
    assert len(frames) == 1 + 3 + 0 + 3 + 1
    damaged.write_bytes(small)
    assert t.read_package(damaged, key=KEY).members == dict(MEMBERS)


def test_truncation_at_many_offsets(small: bytes, damaged: Path) -> None:
    prefix_end, frames = frames_of(small)
    offsets = {0, 3, 5, 6, 8, 10, 10 + (prefix_end - 10) // 2, prefix_end - 1, prefix_end, prefix_end + 2}
    for start, end in frames:
        offsets |= {start + 3, start + 4, (start + end) // 2, end - 1}
    offsets |= {end for _, end in frames[:-1]}  # exactly at a frame boundary
    offsets.discard(len(small))
    for offset in sorted(offsets):
        damaged.write_bytes(small[:offset])
        assert reason_of(damaged) == "truncated", offset


def test_truncation_at_every_frame_boundary_is_refused_by_verify_too(small: bytes, damaged: Path) -> None:
    _, frames = frames_of(small)
    for _, end in frames[:-1]:
        damaged.write_bytes(small[:end])
        with pytest.raises(PackageError) as info:
            t.verify_package(damaged, key=KEY)
        assert info.value.details["reason"] == "truncated"


def _rebuild(small: bytes, order: list[int]) -> bytes:
    prefix_end, frames = frames_of(small)
    return small[:prefix_end] + b"".join(small[frames[i][0] : frames[i][1]] for i in order)


@pytest.mark.parametrize(
    "order",
    [
        [0, 2, 1, 3, 4, 5, 6, 7],  # two data frames of one member swapped
        [0, 1, 2, 4, 3, 5, 6, 7],  # frames of two different members swapped
        [1, 0, 2, 3, 4, 5, 6, 7],  # manifest frame moved
        [0, 1, 2, 3, 4, 5, 7, 6],  # final frame before the last data frame
        [0, 1, 2, 3, 3, 4, 5, 6, 7],  # a frame duplicated
        [0, 1, 1, 2, 3, 4, 5, 6, 7],  # another duplicated
        [0, 1, 3, 4, 5, 6, 7],  # a frame removed
        [0, 1, 2, 3, 4, 5, 6, 0, 7],  # the manifest frame replayed
    ],
)
def test_reordered_duplicated_removed_frames(small: bytes, damaged: Path, order: list[int]) -> None:
    damaged.write_bytes(_rebuild(small, order))
    err = refusal(damaged)
    assert err.details["reason"] == "reordered"
    assert err.details["frame"] != err.details["belongs_at"]


def test_frame_from_another_package_with_the_same_key(small: bytes, damaged: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.wbpkg"
    saved = t.CHUNK_SIZE
    t.CHUNK_SIZE = 300
    try:
        write(other)
    finally:
        t.CHUNK_SIZE = saved
    other_blob = other.read_bytes()
    _, frames = frames_of(small)
    _, other_frames = frames_of(other_blob)
    s, e = other_frames[2]
    damaged.write_bytes(small[: frames[2][0]] + other_blob[s:e] + small[frames[2][1] :])
    assert reason_of(damaged) == "tampered"


@pytest.mark.parametrize("extra", [b"\x00", os.urandom(100), b"WBPKG\x01"], ids=["nul", "random", "magic"])
def test_trailing_data(small: bytes, damaged: Path, extra: bytes) -> None:
    damaged.write_bytes(small + extra)
    err = refusal(damaged)
    assert err.details["reason"] == "trailing_data"
    assert err.details["extra_bytes"] == len(extra)


def test_final_frame_repeated_is_trailing_data(small: bytes, damaged: Path) -> None:
    _, frames = frames_of(small)
    s, e = frames[-1]
    damaged.write_bytes(small + small[s:e])
    assert reason_of(damaged) == "trailing_data"


def test_flip_in_each_region(small: bytes, damaged: Path) -> None:
    prefix_end, frames = frames_of(small)
    header = small[10:prefix_end]
    expectations = {
        0: "not_a_package",  # magic
        5: "unsupported_version",  # version byte
        10 + header.index(b"collection_contractor") + 3: "tampered",  # clear header value
        frames[0][0] + 30: "tampered",  # manifest frame
        frames[2][0] + 10: "tampered",  # data frame
        frames[-1][1] - 1: "tampered",  # final frame's tag
    }
    for position, reason in expectations.items():
        blob = bytearray(small)
        blob[position] ^= 0x01
        damaged.write_bytes(bytes(blob))
        assert reason_of(damaged) == reason, position


def test_flip_one_bit_in_every_byte(small: bytes, damaged: Path) -> None:
    for position in range(len(small)):
        blob = bytearray(small)
        blob[position] ^= 1 << (position % 8)
        damaged.write_bytes(bytes(blob))
        assert reason_of(damaged) in DAMAGE_REASONS, position


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_flip_any_bit_is_refused(small: bytes, damaged: Path, data: st.DataObject) -> None:
    bit = data.draw(st.integers(0, len(small) * 8 - 1), label="bit")
    blob = bytearray(small)
    blob[bit // 8] ^= 1 << (bit % 8)
    damaged.write_bytes(bytes(blob))
    with pytest.raises(PackageError) as info:
        t.read_package(damaged, key=KEY)
    assert info.value.details["reason"] in DAMAGE_REASONS


def _with_header(small: bytes, edit: dict[str, str]) -> bytes:
    prefix_end, _ = frames_of(small)
    doc = json.loads(small[10:prefix_end])
    doc.update(edit)
    header = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    return t.MAGIC + len(header).to_bytes(4, "big") + header + small[prefix_end:]


def test_editing_the_clear_header_recipient_is_detected(small: bytes, damaged: Path) -> None:
    damaged.write_bytes(_with_header(small, {"recipient": "linkage_server"}))
    # peek_header shows the edit (it is untrusted) ...
    assert t.peek_header(damaged).recipient == "linkage_server"
    # ... but the frames authenticate the original header, so the package is refused,
    assert reason_of(damaged) == "tampered"
    # and the edited recipient's key does not open it either.
    assert reason_of(damaged, t.recipient_key(PACKAGES_KEY, "linkage_server")) == "wrong_key"


@pytest.mark.parametrize(
    "edit",
    [
        {"kind": "return_list"},
        {"key_id": "0" * 16},
        {"package_id": "0" * 32},
        {"nonce_prefix": "0" * 16},
    ],
)
def test_editing_other_header_fields_is_detected(small: bytes, damaged: Path, edit: dict[str, str]) -> None:
    damaged.write_bytes(_with_header(small, edit))
    assert reason_of(damaged) == "tampered"


def test_unparseable_header(small: bytes, damaged: Path) -> None:
    prefix_end, _ = frames_of(small)
    header = b'{"format":"workbench-package/1","format":"x"}'
    damaged.write_bytes(t.MAGIC + len(header).to_bytes(4, "big") + header + small[prefix_end:])
    assert reason_of(damaged) == "tampered"
    with pytest.raises(PackageError):
        t.peek_header(damaged)


def test_not_a_package_and_unsupported_version(small: bytes, damaged: Path) -> None:
    for blob in (b"PK\x03\x04 a zip file", "番号,氏名\r\n".encode("cp932"), b"WBPKX\x01" + small[6:]):
        damaged.write_bytes(blob)
        assert reason_of(damaged) == "not_a_package"
        with pytest.raises(PackageError):
            t.peek_header(damaged)
    damaged.write_bytes(b"WBPKG\x02" + small[6:])
    err = refusal(damaged)
    assert err.details["reason"] == "unsupported_version" and err.details["version"] == 2
    damaged.write_bytes(_with_header(small, {"format": "workbench-package/2"}))
    assert reason_of(damaged) == "unsupported_version"


def test_missing_file(tmp_path: Path) -> None:
    assert reason_of(tmp_path / "none.wbpkg") == "io_error"


# --------------------------------------------------------------------------- manifest vs contents


@pytest.mark.parametrize(
    "lie",
    [
        lambda m: dataclasses.replace(m, digest="0" * 64),
        lambda m: dataclasses.replace(m, members=(dataclasses.replace(m.members[0], sha256="1" * 64), *m.members[1:])),
        lambda m: dataclasses.replace(m, members=(dataclasses.replace(m.members[0], size=1), *m.members[1:])),
        lambda m: dataclasses.replace(
            m, members=(*m.members[:-1], dataclasses.replace(m.members[-1], size=m.members[-1].size + 1))
        ),
    ],
)
def test_digest_mismatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lie: Callable[[t.Manifest], t.Manifest]) -> None:
    """A package whose manifest (sealed with the right key) disagrees with its contents."""
    original = t._manifest_bytes
    monkeypatch.setattr(t, "_manifest_bytes", lambda m: original(lie(m)))
    path = tmp_path / "lying.wbpkg"
    write(path)
    monkeypatch.undo()
    assert reason_of(path) == "digest_mismatch"


@pytest.mark.parametrize(
    "broken",
    [
        lambda d: {k: v for k, v in d.items() if k != "digest"},
        lambda d: {**d, "digest": "xyz"},
        lambda d: {**d, "record_count": -3},
        lambda d: {**d, "members": [*d["members"], d["members"][0]]},
        lambda d: {**d, "members": [{**d["members"][0], "name": "../x"}]},
        lambda d: {**d, "members": "none"},
        lambda d: [],
    ],
)
def test_manifest_from_dict_rejects_malformed(tmp_path: Path, broken: Callable[[dict[str, Any]], Any]) -> None:
    m = write(tmp_path / "out.wbpkg")
    with pytest.raises(PackageError) as info:
        t.Manifest.from_dict(broken(m.to_dict()))
    assert info.value.details["reason"] == "invalid_manifest"
