"""The audit log's anchor outside the workspace (外部アンカー, issue 22 item 2).

Signed heads inside the workspace (``audit/heads.jsonl``) catch an edited or cut log, but not a
log rolled back *together with* its heads (an older copy of the folder put back), nor a tail
re-signed by someone holding the audit key.  So every unit of work that commits also appends its
head to an **anchor file outside the workspace**, in a folder the workspace's users cannot rewrite:

* **where** — :func:`destination`: ``$WORKBENCH_AUDIT_ANCHOR_DIR``, else the setting
  ``audit_anchor_dir`` (an absolute folder outside the workspace), else the folder
  ``workbench-anchors`` beside the key-encryption key file (the demo's default: the KEK already
  lives outside the workspace, on a path the office protects), else
  ``$XDG_STATE_HOME/workbench/anchors``.  A destination inside the workspace is refused.
* **append only** — the file is opened with ``O_APPEND`` and never rewritten; when it is created
  the workbench asks Linux for the append-only attribute (``chattr +a``; it needs
  ``CAP_LINUX_IMMUTABLE``, i.e. root) and :func:`protection` says whether the file has it.  Where
  it cannot, make the folder belong to another account (the anchor's place, not the workspace's).
* **its own key** — each line is MAC'd with the anchor key (HKDF under the keyring's audit root,
  info ``workbench:audit-anchor``), which the workspace folder never holds: the keyring there is
  wrapped by the KEK, and a copy of the audit key alone cannot sign an anchor line.

One file per workspace *and folder* (``<workspace_id>-<digest of its path>.anchor.jsonl``): a
workspace restored into a new folder starts an anchor of its own, while a folder rolled back in
place meets the anchor it left.  The current deletion journal is kept in the same place
(``<workspace_id>.deletion_journal.jsonl``, by workspace only), where a restore of any backup
finds it (:mod:`workbench.lifecycle.backup_retention`).

The check at the start of every unit of work reads the newest anchor line (cheap); ``audit
verify`` checks a spread of all of them.  The 7-year pruning leaves a signed checkpoint
(:func:`checkpoint_mac`) in the database and in the anchor, so the chain that remains verifies.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["ANCHOR_ENV", "CHATTR_ENV", "anchor_path", "append_line", "checkpoint_mac", "destination", "journal_path",
           "last_line", "line_ok", "make_line", "protection", "read_lines", "refuse_inside"]

#: The environment variable naming the anchor folder (wins over the setting).
ANCHOR_ENV = "WORKBENCH_AUDIT_ANCHOR_DIR"
#: ``0`` turns off the ``chattr +a`` attempt (tests: an append-only file cannot be cleaned up).
CHATTR_ENV = "WORKBENCH_ANCHOR_CHATTR"
#: The folder beside the KEK file that holds the anchors when nothing else is named.
BESIDE_KEK = "workbench-anchors"


def destination(*, workspace_path: Path, setting: str | None, kek_path: Path | None) -> Path:
    """The anchor folder for a workspace (see the module's docstring for the order)."""
    env = os.environ.get(ANCHOR_ENV)
    if env:
        folder = Path(env).expanduser()
    elif setting:
        folder = Path(setting).expanduser()
    elif kek_path is not None:
        folder = kek_path.parent / BESIDE_KEK
    else:
        state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        folder = Path(state) / "workbench" / "anchors"
    folder = folder.resolve()
    refuse_inside(folder, workspace_path)
    return folder


def refuse_inside(folder: Path, workspace_path: Path) -> None:
    """An anchor inside the workspace is rolled back with it: refuse it."""
    from workbench.core.errors import InvalidInput

    if folder.resolve().is_relative_to(workspace_path.resolve()):
        raise InvalidInput(
            f"The audit anchor folder {folder} is inside the workspace; it must be outside it (another disk, another"
            " account's folder), or a copy of the workspace put back would carry its anchor with it.",
            f"操作ログのアンカーの保存先 {folder} がワークスペースの中にあります。ワークスペースの外（別のディスク、"
            "別のアカウントのフォルダー）を指定してください。", reason="anchor_inside_workspace")


def anchor_path(folder: Path, workspace_id: str, workspace_path: Path) -> Path:
    """The anchor file of one workspace in one folder."""
    where = hashlib.sha256(str(workspace_path.resolve()).encode("utf-8")).hexdigest()[:12]
    return folder / f"{workspace_id}-{where}.anchor.jsonl"


def journal_path(folder: Path, workspace_id: str) -> Path:
    """The current deletion journal of a workspace (whatever folder it was restored into)."""
    return folder / f"{workspace_id}.deletion_journal.jsonl"


def _utc(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _mac(key: bytes, line: Mapping[str, Any]) -> str:
    body = {k: v for k, v in line.items() if k != "anchor_mac"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hmac.new(key, b"audit-external-anchor:" + text.encode("ascii"), hashlib.sha256).hexdigest()


def make_line(key: bytes, head: Mapping[str, Any], *, workspace_id: str, at: dt.datetime,
              kind: str = "head", **extra: Any) -> dict[str, Any]:
    """One anchor line: the head (seq, hash, epoch), the workspace, when, MAC'd with the anchor key."""
    line: dict[str, Any] = {"kind": kind, "workspace_id": workspace_id, "seq": int(head["seq"]),
                            "hash": str(head["hash"]), "at": str(head.get("at") or _utc(at)),
                            "epoch": int(head.get("epoch", 0)), "anchored_at": _utc(at), **extra}
    line["anchor_mac"] = _mac(key, line)
    return line


def line_ok(key: bytes, line: Mapping[str, Any], workspace_id: str) -> bool:
    try:
        return (hmac.compare_digest(str(line.get("anchor_mac", "")), _mac(key, line))
                and line.get("workspace_id") == workspace_id)
    except (TypeError, ValueError):
        return False


def checkpoint_mac(key: bytes, *, workspace_id: str, seq: int, hash_: str, pruned: int, at: str) -> str:
    """The signature of a pruning checkpoint (the last record pruned: its number and hash)."""
    body = json.dumps([workspace_id, int(seq), hash_, int(pruned), at], separators=(",", ":"))
    return hmac.new(key, b"audit-checkpoint:" + body.encode("utf-8"), hashlib.sha256).hexdigest()


def _chattr_append_only(path: Path) -> bool:
    if os.environ.get(CHATTR_ENV) == "0" or shutil.which("chattr") is None:
        return False
    try:
        done = subprocess.run(["chattr", "+a", str(path)], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def protection(path: Path) -> str:
    """``append_only`` when Linux holds the file append-only (``lsattr`` shows ``a``), else ``none``."""
    if shutil.which("lsattr") is None or not path.exists():
        return "none"
    try:
        done = subprocess.run(["lsattr", "-d", str(path)], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return "none"
    flags = done.stdout.split(" ", 1)[0] if done.returncode == 0 else ""
    return "append_only" if "a" in flags else "none"


def append_line(path: Path, line: Mapping[str, Any], *, sync: bool = False) -> bool:
    """Append one JSON line with ``O_APPEND`` (never a rewrite); a new file is made 0600 and, where
    Linux permits, append-only.  Returns whether the file was new."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    new = not path.exists()
    data = (json.dumps(line, sort_keys=True, ensure_ascii=True) + "\n").encode("ascii")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, data)  # one write: a kill cannot leave half a line in the middle
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)
    if new:
        _chattr_append_only(path)
    return new


def _parse(text: str) -> dict[str, Any]:
    try:
        doc = json.loads(text)
        if isinstance(doc, dict) and isinstance(doc.get("seq"), int) and isinstance(doc.get("hash"), str):
            return doc
    except ValueError:
        pass
    return {"kind": "damaged", "seq": 0, "hash": "", "at": "", "anchor_mac": "damaged"}


def read_lines(path: Path, *, keep: int = 256) -> list[dict[str, Any]]:
    """The lines to check: every checkpoint, a spread over the whole file, and the newest ``keep``."""
    try:
        with path.open("r", encoding="ascii", errors="replace") as f:
            raw = [t for t in f.read().splitlines() if t.strip()]
    except FileNotFoundError:
        return []
    lines = [_parse(t) for t in raw]
    if len(lines) <= 2 * keep:
        return lines
    step = max(1, len(lines) // keep)
    chosen = set(range(0, len(lines), step)) | set(range(len(lines) - keep, len(lines)))
    chosen |= {i for i, line in enumerate(lines) if line.get("kind") in ("checkpoint", "damaged")}
    return [lines[i] for i in sorted(chosen)]


def last_line(path: Path) -> dict[str, Any] | None:
    """The newest complete line (read from the end: cheap, for every unit of work)."""
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 8192))
            raw = f.read()
    except FileNotFoundError:
        return None
    text = raw.decode("ascii", "replace").splitlines()
    if text and not raw.endswith(b"\n"):
        text = text[:-1]
    text = [t for t in text if t.strip()]
    return _parse(text[-1]) if text else None
