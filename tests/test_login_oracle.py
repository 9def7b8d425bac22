"""Log-in gives no oracle (issue 10, item 7): one message and one error code for every failed
log-in, the same work and the same lock-out for unknown user IDs, the real reason only in the
audit log; a disabled account is named only to someone who gave its password and code."""

from __future__ import annotations

import json
from typing import Any

import pytest

from workbench.controls import users
from workbench.core import credentials
from workbench.core.errors import AccountDisabled, AuthenticationFailed

from .conftest import PASSWORD, StaffedWorkspace


def _refusal(world: StaffedWorkspace, user_id: str, password: str, code: str) -> dict[str, Any]:
    with pytest.raises(AuthenticationFailed) as info:
        world.ws.login(user_id, password, code)
    return info.value.to_dict()


def _wrong_code(world: StaffedWorkspace, user_id: str) -> str:
    right = world.code(user_id) if user_id in world.secrets else "000000"
    return "000000" if right != "000000" else "111111"


def _reasons(world: StaffedWorkspace, user_id: str) -> list[str]:
    from workbench.core import audit

    ref = audit.pseudonym(world.ws.keyring.audit_key(), user_id)
    with world.ws.transaction("test.read", "test") as con:
        rows = con.execute("SELECT params FROM audit_log WHERE operation = 'auth.login' AND user_ref = ? AND outcome = 'denied'"
                           " ORDER BY seq", [ref]).fetchall()
    return [json.loads(p)["reason"] for (p,) in rows]


def test_every_failed_login_looks_the_same(world: StaffedWorkspace) -> None:
    world.clock.advance(30)
    used = world.code("registrar")
    world.ws.login("registrar", PASSWORD, used)
    refusals = {
        "wrong_password": _refusal(world, "reviewer", "Wrong-Pass-2026!", world.code("reviewer")),
        "wrong_code": _refusal(world, "reviewer", PASSWORD, _wrong_code(world, "reviewer")),
        "used_code": _refusal(world, "registrar", PASSWORD, used),
        "unknown_user": _refusal(world, "nobody", PASSWORD, "123456"),
        "malformed_code": _refusal(world, "reviewer", PASSWORD, "abc"),
    }
    first = next(iter(refusals.values()))
    assert first["error"] == "authentication_failed"
    for case, refusal in refusals.items():
        assert refusal == first, case
    assert set(first) == {"error", "message_ja", "message_en"}
    # the audit log keeps the real reason, for the auditor
    assert _reasons(world, "reviewer") == ["wrong_password", "wrong_code", "wrong_code"]
    assert _reasons(world, "registrar") == ["used_code"]
    assert _reasons(world, "nobody") == ["unknown_user"]


def test_unknown_ids_are_locked_out_like_real_ones(world: StaffedWorkspace) -> None:
    real, unknown = [], []
    for _ in range(6):
        world.clock.advance(20)
        real.append(_refusal(world, "approver", "Wrong-Pass-2026!", "123456"))
        unknown.append(_refusal(world, "nobody-here", "Wrong-Pass-2026!", "123456"))
    assert real == unknown
    assert _reasons(world, "approver") == ["wrong_password"] * 5 + ["locked"]
    assert _reasons(world, "nobody-here") == ["unknown_user"] * 5 + ["locked"]
    # locked now: even the right password and code of the real account get the same answer
    world.clock.advance(20)
    assert _refusal(world, "approver", PASSWORD, world.code("approver")) == real[0]
    assert _reasons(world, "approver")[-1] == "locked"
    # the lock ends for both alike
    world.clock.advance(3 * 3600)
    assert world.login("approver").user_id == "approver"
    world.clock.advance(30)
    _refusal(world, "nobody-here", PASSWORD, "123456")
    assert _reasons(world, "nobody-here")[-1] == "unknown_user"


def test_unknown_ids_are_not_stored_in_clear(world: StaffedWorkspace) -> None:
    world.clock.advance(30)
    _refusal(world, "secret-typo-id", PASSWORD, "123456")
    with world.ws.transaction("test.read", "test") as con:
        rows = con.execute("SELECT * FROM login_failures").fetchall()
    assert len(rows) == 1 and "secret-typo-id" not in json.dumps(rows, default=str)


def test_unknown_ids_do_the_same_work(world: StaffedWorkspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same scrypt cost and the same one-time-code check, whatever the case."""
    calls: list[tuple[str, Any]] = []
    real_verify, real_totp = credentials.verify_password, credentials.verify_totp

    def verify(password: str, encoded: str) -> bool:
        calls.append(("scrypt", encoded.split("$")[1:4]))
        return real_verify(password, encoded)

    def totp(*args: Any, **kwargs: Any) -> int | None:
        calls.append(("totp", None))
        return real_totp(*args, **kwargs)

    monkeypatch.setattr(credentials, "verify_password", verify)
    monkeypatch.setattr(credentials, "verify_totp", totp)
    work = {}
    for case, (user_id, password) in {"unknown": ("nobody", PASSWORD), "wrong_password": ("reviewer", "Wrong-Pass-2026!"),
                                      "wrong_code": ("reviewer", PASSWORD)}.items():
        calls.clear()
        world.clock.advance(30)
        _refusal(world, user_id, password, _wrong_code(world, user_id))
        work[case] = list(calls)
    assert work["unknown"] == work["wrong_password"] == work["wrong_code"]
    assert [k for k, _ in work["unknown"]] == ["scrypt", "totp"]


def test_disabled_is_named_only_after_password_and_code(world: StaffedWorkspace) -> None:
    users.disable(world.login("administrator"), "analyst")
    world.clock.advance(30)
    wrong = _refusal(world, "analyst", "Wrong-Pass-2026!", world.code("analyst"))
    assert wrong == _refusal(world, "nobody", "Wrong-Pass-2026!", "123456")
    with pytest.raises(AccountDisabled):
        world.login("analyst")
    assert _reasons(world, "analyst") == ["wrong_password", "disabled"]
