"""Tests for workbench.core.credentials: passwords, policy, TOTP, enrolment URI/QR, lock-out."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.hotp import HOTP
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core import credentials as c
from workbench.core.clock import JST, FixedClock
from workbench.core.errors import InvalidInput

FAST = {"n": 2**10, "r": 8, "p": 1}
UTC = dt.UTC


# --------------------------------------------------------------------------- passwords


def test_round_trip_and_wrong_password() -> None:
    encoded = c.hash_password("correct horse 9B", **FAST)
    assert c.verify_password("correct horse 9B", encoded)
    assert not c.verify_password("correct horse 9b", encoded)
    assert not c.verify_password("", encoded)


def test_format_and_fresh_salt() -> None:
    a = c.hash_password("same password 1A", **FAST)
    b = c.hash_password("same password 1A", **FAST)
    assert a != b
    scheme, n, r, p, salt, digest = a.split("$")
    assert (scheme, n, r, p) == ("scrypt", "1024", "8", "1")
    assert len(base64.b64decode(salt)) == 16
    assert len(base64.b64decode(digest)) == 32


def test_default_cost_round_trip() -> None:
    encoded = c.hash_password("Default-cost pw 1")
    assert encoded.startswith(f"scrypt${2**17}$8$1$")
    assert c.verify_password("Default-cost pw 1", encoded)
    assert not c.needs_rehash(encoded)


def test_verify_uses_stored_parameters() -> None:
    encoded = c.hash_password("Other params pw 2", n=2**11, r=4, p=2)
    assert c.verify_password("Other params pw 2", encoded)


def test_nfkc_full_width_equals_half_width() -> None:
    encoded = c.hash_password("Ｐａｓｓ１２３ｗｏｒｄ", **FAST)
    assert c.verify_password("Pass123word", encoded)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "scrypt",
        "bcrypt$1024$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$1024$8$1$salt",
        "scrypt$1000$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$-1024$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$1_024$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$1024$8$1$not base64!$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$1024$8$1$AAAAAAAAAAAAAAAAAAAAAA==$%%%",
        "scrypt$1024$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAA",  # digest too short
        "scrypt$1024$8$1$AA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",  # salt too short
        f"scrypt${2**30}$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$1024$999$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$1024$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=$x",
    ],
)
def test_malformed_encoded_is_false_not_error(bad: str) -> None:
    assert c.verify_password("anything at all", bad) is False
    assert c.needs_rehash(bad)


def test_non_string_encoded_is_false() -> None:
    no_hash: Any = None  # not a string, on purpose: refused, not a crash
    assert c.verify_password("x", no_hash) is False


def test_tampered_hash_refused() -> None:
    encoded = c.hash_password("Tamper check 123", **FAST)
    head, digest = encoded.rsplit("$", 1)
    raw = bytearray(base64.b64decode(digest))
    raw[0] ^= 1
    assert not c.verify_password(
        "Tamper check 123", f"{head}${base64.b64encode(raw).decode()}"
    )


def test_needs_rehash() -> None:
    weak = c.hash_password("Rehash me 12345", **FAST)
    assert c.needs_rehash(weak)
    assert c.needs_rehash(weak, 2**10, 8, 2)
    assert not c.needs_rehash(weak, 2**10, 8, 1)
    assert not c.needs_rehash(weak, n=2**10)


def test_hash_password_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError):
        c.hash_password("x", n=1000)
    with pytest.raises(ValueError):
        c.hash_password("x", n=2**10, r=0)


def test_dummy_verify_is_false() -> None:
    assert c.dummy_verify("whatever") is False


# ------------------------------------------------------------------------------ policy


def test_policy_accepts_reasonable_password() -> None:
    assert c.check_password_policy("Sumida-gawa 2026", "tanaka01") == []
    # kana/kanji count as the "other" class
    assert c.check_password_policy("すみだがわ花火Taikai", "tanaka01") == []


def test_policy_too_short() -> None:
    reasons = c.check_password_policy("Ab1!Ab1!Ab1", "u1")
    assert len(reasons) == 1
    ja, en = reasons[0]
    assert "12" in ja and "12" in en


def test_policy_user_id() -> None:
    assert len(c.check_password_policy("tanaka01", "tanaka01")) >= 1
    reasons = c.check_password_policy("xxTANAKA01-Spring!", "tanaka01")
    assert [en for _, en in reasons] == ["The password must not contain the user ID."]
    # full-width user ID inside the password is still the user ID
    assert c.check_password_policy("ｔａｎａｋａ０１-Spring!", "tanaka01")
    # an empty user ID does not make everything fail
    assert c.check_password_policy("Sumida-gawa 2026", "") == []


def test_policy_character_classes() -> None:
    reasons = c.check_password_policy("alllowercaseletters", "u1")
    assert len(reasons) == 1 and "3" in reasons[0][1]
    assert (
        c.check_password_policy("lowercase and 123", "u1") == []
    )  # lower, digit, space
    assert len(c.check_password_policy("onlylower12345", "u1")) == 1  # two classes


def test_policy_reasons_never_quote_password() -> None:
    pw = "secretpw"
    for ja, en in c.check_password_policy(pw, "u1"):
        assert pw not in ja and pw not in en


# ------------------------------------------------------------------------------- TOTP

RFC_KEY = b"12345678901234567890"
RFC_SECRET = base64.b32encode(RFC_KEY).decode()

# RFC 6238 Appendix B, SHA-1 rows: (Unix time, 8-digit TOTP)
RFC6238_SHA1 = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]

# RFC 4226 Appendix D: HOTP values for counters 0..9
RFC4226 = [
    "755224", "287082", "359152", "969429", "338314",
    "254676", "287922", "162583", "399871", "520489",
]  # fmt: skip


def _t(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, tz=UTC)


@pytest.mark.parametrize(("counter", "expected"), list(enumerate(RFC4226)))
def test_hotp_rfc4226(counter: int, expected: str) -> None:
    assert c.hotp(RFC_KEY, counter) == expected


@pytest.mark.parametrize(("seconds", "expected"), RFC6238_SHA1)
def test_totp_rfc6238_vectors(seconds: int, expected: str) -> None:
    at = _t(seconds)
    assert c.hotp(RFC_KEY, c.totp_step(at), digits=8) == expected
    assert c.totp_code(RFC_SECRET, at) == expected[-6:]
    assert c.verify_totp(
        RFC_SECRET, expected[-6:], at, last_used_step=None
    ) == c.totp_step(at)


def test_totp_step_timezone_independent() -> None:
    at = dt.datetime(2026, 4, 1, 9, 0, 29, tzinfo=JST)
    assert (
        c.totp_step(at) == c.totp_step(at.astimezone(UTC)) == int(at.timestamp()) // 30
    )
    with pytest.raises(ValueError):
        c.totp_step(dt.datetime(2026, 4, 1, 9, 0))


@settings(max_examples=50, deadline=None)
@given(key=st.binary(min_size=20, max_size=20), counter=st.integers(0, 2**40))
def test_hotp_matches_cryptography(key: bytes, counter: int) -> None:
    assert c.hotp(key, counter).encode() == HOTP(key, 6, SHA1()).generate(counter)


def test_new_secret() -> None:
    s = c.new_totp_secret()
    assert len(s) == 32 and s == s.upper() and "=" not in s
    assert len(base64.b32decode(s)) == 20
    assert s != c.new_totp_secret()


def test_window_plus_minus_one_accepted_two_refused() -> None:
    secret = c.new_totp_secret()
    clock = FixedClock()
    now = clock.now()
    step = c.totp_step(now)
    for offset in (-1, 0, 1):
        code = c.totp_code(secret, now + dt.timedelta(seconds=30 * offset))
        assert c.verify_totp(secret, code, now, last_used_step=None) == step + offset
    for offset in (-2, 2):
        code = c.totp_code(secret, now + dt.timedelta(seconds=30 * offset))
        if code in {
            c.totp_code(secret, now + dt.timedelta(seconds=30 * k)) for k in (-1, 0, 1)
        }:
            continue  # one-in-a-million collision with an in-window code
        assert c.verify_totp(secret, code, now, last_used_step=None) is None


def test_reuse_refused() -> None:
    secret = c.new_totp_secret()
    clock = FixedClock()
    code = c.totp_code(secret, clock.now())
    used = c.verify_totp(secret, code, clock.now(), last_used_step=None)
    assert used is not None
    assert c.verify_totp(secret, code, clock.now(), last_used_step=used) is None
    clock.advance(20)  # same code still inside the window a moment later
    assert c.verify_totp(secret, code, clock.now(), last_used_step=used) is None
    clock.advance(30)
    fresh = c.totp_code(secret, clock.now())
    assert c.verify_totp(secret, fresh, clock.now(), last_used_step=used) == used + 1


def test_older_step_after_newer_refused() -> None:
    secret = c.new_totp_secret()
    now = FixedClock().now()
    newer = c.totp_code(secret, now + dt.timedelta(seconds=30))
    older = c.totp_code(secret, now)
    used = c.verify_totp(secret, newer, now, last_used_step=None)
    assert used == c.totp_step(now) + 1
    if older != newer:
        assert c.verify_totp(secret, older, now, last_used_step=used) is None


def test_spaces_and_full_width_accepted() -> None:
    at = _t(1111111111)
    assert c.verify_totp(RFC_SECRET, "050 471", at, last_used_step=None) is not None
    assert c.verify_totp(RFC_SECRET, " 05 04 71\n", at, last_used_step=None) is not None
    assert (
        c.verify_totp(RFC_SECRET, "０５０\u3000４７１", at, last_used_step=None)
        is not None
    )


@pytest.mark.parametrize(
    "bad", ["", "05047", "0504711", "05047a", "-50471", "14050471", None]
)
def test_non_six_digit_refused(bad: str) -> None:
    assert c.verify_totp(RFC_SECRET, bad, _t(1111111111), last_used_step=None) is None


def test_secret_is_case_and_space_insensitive() -> None:
    at = _t(59)
    spaced = " ".join(RFC_SECRET[i : i + 4] for i in range(0, 32, 4)).lower()
    assert c.totp_code(spaced, at) == "287082"


def test_malformed_secret_raises_without_secret() -> None:
    with pytest.raises(InvalidInput) as info:
        c.verify_totp("not!base32", "123456", _t(59), last_used_step=None)
    assert "not!base32" not in str(info.value)
    with pytest.raises(InvalidInput):
        c.totp_code("AAAA", _t(59))  # too short to be a secret


def test_negative_window_rejected() -> None:
    with pytest.raises(ValueError):
        c.verify_totp(RFC_SECRET, "287082", _t(59), last_used_step=None, window=-1)


# ------------------------------------------------------------------------- enrolment


def test_otpauth_uri_parses() -> None:
    secret = c.new_totp_secret()
    uri = c.otpauth_uri(secret, "tanaka 01@example")
    parts = urlsplit(uri)
    assert parts.scheme == "otpauth" and parts.netloc == "totp"
    assert " " not in uri and "+" not in uri
    assert uri.isascii()
    label = unquote(parts.path.lstrip("/"))
    assert label == "都営住宅マイナンバー管理:tanaka 01@example"
    q = parse_qs(parts.query)
    assert q["secret"] == [secret]
    assert q["issuer"] == ["都営住宅マイナンバー管理"]
    assert q["algorithm"] == ["SHA1"] and q["digits"] == ["6"] and q["period"] == ["30"]


def test_otpauth_uri_custom_issuer_and_special_chars() -> None:
    uri = c.otpauth_uri(RFC_SECRET, "a&b=c/d", issuer="Test & Co")
    parts = urlsplit(uri)
    assert unquote(parts.path.lstrip("/")) == "Test & Co:a&b=c/d"
    q = parse_qs(parts.query)
    assert q["issuer"] == ["Test & Co"] and q["secret"] == [RFC_SECRET]


@pytest.mark.parametrize(("account", "issuer"), [("a:b", "X"), ("a", "X:Y"), ("", "X")])
def test_otpauth_uri_rejects_colon_and_empty(account: str, issuer: str) -> None:
    with pytest.raises(InvalidInput):
        c.otpauth_uri(RFC_SECRET, account, issuer)


def test_qr_svg() -> None:
    svg = c.qr_svg(c.otpauth_uri(c.new_totp_secret(), "tanaka01"))
    assert isinstance(svg, str)
    assert svg.lstrip().startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "<path" in svg


# -------------------------------------------------------------------------- lock-out


@pytest.mark.parametrize(
    ("failures", "delay"),
    [
        (-1, 0.0), (0, 0.0), (4, 0.0), (5, 60.0), (6, 120.0), (7, 240.0),
        (8, 480.0), (9, 960.0), (10, 1920.0), (11, 3600.0), (12, 3600.0), (10**9, 3600.0),
    ],
)  # fmt: skip
def test_lockout_schedule(failures: int, delay: float) -> None:
    assert c.lockout_delay(failures) == delay


def test_lockout_monotonic() -> None:
    delays = [c.lockout_delay(f) for f in range(40)]
    assert delays == sorted(delays)
