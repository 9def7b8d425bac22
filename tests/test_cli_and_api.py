"""The CLI is documented and works end to end; the public API is pinned."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import pkgutil
import re
from pathlib import Path

import pytest

import workbench
from workbench import cli
from workbench.cli import COMMANDS, build_parser, main
from workbench.core import credentials

ROOT = Path(__file__).resolve().parent.parent


def test_every_cli_command_is_documented_in_the_readme() -> None:
    """Walks the ``workbench.cli`` package: every command module is in the parser, every handler
    it defines is a command, and every command is in the README."""
    build_parser()
    modules = [importlib.import_module(f"workbench.cli.{m.name}")
               for m in pkgutil.iter_modules(cli.__path__) if not m.name.startswith("_")]
    assert {m.__name__ for m in modules} == {m.__name__ for m in cli.GROUPS}, "add the module to workbench.cli.GROUPS"
    handlers = {f for m in modules for name, f in vars(m).items() if name.startswith("cmd_")}
    assert handlers == set(COMMANDS.values()), "a handler no command runs, or a command outside the package"
    readme = (ROOT / "README.md").read_text("utf-8")
    documented = set(re.findall(r"`workbench ([a-z][a-z\- ]*?)(?: [A-Z\[-]|`)", readme))
    missing = [c for c in COMMANDS if c not in documented]
    assert not missing, f"undocumented commands: {missing}"


def test_public_api_is_pinned() -> None:
    assert sorted(workbench.__all__) == sorted([
        "__version__", "Workspace", "Session", "Settings", "Unit", "service", "SERVICES", "Permission",
        "Role", "Clock", "SystemClock", "FixedClock", "KeySource", "FileKeySource", "MemoryKeySource",
        "Keyring", "WorkbenchError", "errors", "approvals", "audit", "credentials", "media", "persons", "pipeline_runs", "services",
        "users",
    ])
    for name in workbench.__all__:
        assert hasattr(workbench, name)


def test_exported_members() -> None:
    """httpx's test: what the package exposes is what ``__all__`` says (submodules aside), and each
    service module's ``__all__`` names only what exists — including every outgoing file's services."""
    import __future__

    import types

    from workbench import services
    from workbench.files import outgoing

    def public(name: str) -> bool:
        value = getattr(workbench, name)
        return not name.startswith("_") and not isinstance(value, (types.ModuleType, __future__._Feature))

    assert {n for n in dir(workbench) if public(n)} == {n for n in workbench.__all__ if public(n)}
    for module in [*services.MODULES.values(), outgoing]:
        assert module.__all__, module.__name__
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def _uri_secret(uri: str) -> str:
    return uri.split("secret=")[1].split("&")[0]


def test_init_grant_flow_from_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "ws"
    monkeypatch.setenv("WORKBENCH_ADMIN_PASSWORD", "Admin-Pass-2026!")
    monkeypatch.setenv("WORKBENCH_APPROVER_PASSWORD", "Approver-Pass-2026!")
    assert main(["init", str(ws), "--admin", "kanri", "--approver", "shonin"]) == 0
    out = json.loads(capsys.readouterr().out)
    secrets = {u["user_id"]: _uri_secret(u["otpauth_uri"]) for u in out["users"]}

    def as_user(user: str, password: str, *argv: str) -> tuple[int, str, str]:
        monkeypatch.setenv("WORKBENCH_USER", user)
        monkeypatch.setenv("WORKBENCH_PASSWORD", password)
        monkeypatch.setenv("WORKBENCH_TOTP", credentials.totp_code(secrets[user], dt.datetime.now(dt.UTC)))
        code = main(["-w", str(ws), *argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    monkeypatch.setenv("WORKBENCH_NEW_PASSWORD", "Staff-Pass-2026!")
    code, outp, err = as_user("kanri", "Admin-Pass-2026!", "user", "add", "tanaka", "--name", "田中")
    assert code == 0, err
    assert json.loads(outp)["otpauth_uri"].startswith("otpauth://totp/")
    # The same code twice (still set from the call above) is refused with a clear message.
    code = main(["-w", str(ws), "user", "list"])
    err = capsys.readouterr().err
    assert code == 3 and json.loads(err)["error"] == "authentication_failed" and "ワンタイムコード" in json.loads(err)["message_ja"]


def test_refusal_exit_code_and_bilingual_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["-w", str(tmp_path / "nowhere"), "user", "list"])
    err = json.loads(capsys.readouterr().err)
    assert code != 0 and err["message_ja"] and err["message_en"]
