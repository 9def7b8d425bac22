"""Exchange folders: where a client of the data server may name files (issue 19).

受け渡しフォルダー。The data server reads and writes files with its own rights — and it can read the
workspace, its keyring and the key-encryption key.  A client (a dashboard's kernel, the CLI, a
pipeline notebook) that names a path in a service argument (an export's ``--out``, a file to import,
a backup, an anchor; declared with ``paths=`` on :func:`~workbench.core.workspace.service` and
:func:`~workbench.core.workspace.composite`) could otherwise make the server read or write any
file it can.  Over the channel such a path must therefore lie in an exchange folder:

* the workspace's ``incoming/`` (answer packages and files staff bring in), ``outgoing/`` and
  ``return_lists/`` (the workspace's own packages, to unpack them);
* the folders in the setting ``exchange_folders`` (``workspace.json``, absolute paths) and in the
  server's environment variable ``WORKBENCH_EXCHANGE`` (separated by ``:``) — a backup disk, an
  anchor share, a transfer-media mount.

Paths are resolved (symbolic links followed, ``..`` removed) before they are compared; a relative
path, a path anywhere else in the workspace, and the key-encryption key itself are refused whatever
the folders say.  An embedded caller (no server) is the operator's own process and is not limited.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from workbench.core.errors import InvalidInput

if TYPE_CHECKING:  # pragma: no cover
    from workbench.core.workspace import Workspace

__all__ = ["EXCHANGE_ENV", "WORKSPACE_EXCHANGE", "check_path", "exchange_folders"]

#: The server's own list of exchange folders (``os.pathsep``-separated absolute paths).
EXCHANGE_ENV = "WORKBENCH_EXCHANGE"
#: The workspace's folders a client may name files in.
WORKSPACE_EXCHANGE = ("incoming", "outgoing", "return_lists")


def _real(path: str | os.PathLike[str]) -> Path:
    return Path(os.path.realpath(os.fspath(path)))


def exchange_folders(ws: Workspace) -> list[Path]:
    """Every folder a client may name files in, resolved."""
    given: list[str] = [*getattr(ws.settings, "exchange_folders", []),
                        *(p for p in os.environ.get(EXCHANGE_ENV, "").split(os.pathsep) if p)]
    folders = [_real(ws.path / name) for name in WORKSPACE_EXCHANGE]
    folders += [_real(p) for p in given if Path(p).is_absolute()]
    return folders


def _refused(argument: str, folders: Iterable[Path], why: str, why_ja: str) -> InvalidInput:
    listed = ", ".join(str(f) for f in folders)
    return InvalidInput(
        f"The file named in {argument} is not allowed through the data server: {why}. Files may be named only in "
        f"the exchange folders ({listed}); put the file there, or have the operators add a folder to "
        f"exchange_folders in workspace.json or to {EXCHANGE_ENV} for the server.",
        f"{argument} に指定されたファイルは、データサーバー経由では指定できません（{why_ja}）。指定できるのは受け渡しフォルダー"
        f"（{listed}）の中のファイルだけです。ファイルをそこに置くか、運用担当に workspace.json の exchange_folders または"
        f"サーバーの {EXCHANGE_ENV} へのフォルダー追加を依頼してください。",
        reason="path_not_allowed", argument=argument)


def check_path(ws: Workspace, value: Any, argument: str) -> None:
    """Refuse ``value`` (a service argument naming a file or folder) unless it lies in an exchange
    folder; bytes (a file's contents sent by the client) and ``None`` pass."""
    if value is None or isinstance(value, (bytes, bytearray, memoryview)):
        return
    folders = exchange_folders(ws)
    if not isinstance(value, (str, PurePath)) or not str(value).strip() or "\0" in str(value):
        raise _refused(argument, folders, "not a path", "パスではありません")
    if not Path(value).is_absolute():
        raise _refused(argument, folders, "a relative path (give the whole path)", "相対パスです（絶対パスで指定してください）")
    real = _real(value)
    workspace = _real(ws.path)
    own = folders[: len(WORKSPACE_EXCHANGE)]
    kek = ws.kek.path if ws.kek is not None else None
    if kek is not None and real == _real(kek):
        raise _refused(argument, folders, "the key-encryption key", "鍵暗号化鍵です")
    if real.is_relative_to(workspace) and not any(real.is_relative_to(f) for f in own):
        raise _refused(argument, folders, "inside the workspace, outside its exchange folders",
                       "ワークスペースの中で、受け渡しフォルダーの外です")
    if not any(real.is_relative_to(f) for f in folders):
        raise _refused(argument, folders, "outside the exchange folders", "受け渡しフォルダーの外です")
