"""Passwords and one-time codes: pure functions, no database (DESIGN §6, C5).

Passwords
    Hashed with scrypt (N=2^17, r=8, p=1 by default) and a random 16-byte salt, stored
    as ``scrypt$N$r$p$salt_b64$hash_b64`` (standard base64 with padding).  Passwords are
    normalised to Unicode NFKC before hashing, so a password typed with full-width
    characters by a Japanese input method (``Ａｂｃ１２３``) and the same password typed
    in half-width (``Abc123``) are the same password (NIST SP 800-63B §5.1.1.2).
    :func:`verify_password` reads the cost parameters from the stored string, so raising
    the default cost does not lock anyone out; :func:`needs_rehash` says when a stored
    hash should be replaced at the next successful log-in.

Password policy (:func:`check_password_policy`) — deliberately modest:
    * at least 12 characters (after NFKC normalisation);
    * must not equal or contain the user ID (compared case-insensitively);
    * at least 3 of 4 character classes: upper-case letters, lower-case letters,
      digits, and everything else (symbols, spaces, kana, kanji …).
    No forced periodic change and no other composition rules.

One-time codes
    TOTP per RFC 6238 (HMAC-SHA-1, 6 digits, 30-second steps, Unix epoch).  Secrets are
    160 random bits written in base32.  :func:`verify_totp` accepts the current step
    ±1 and refuses a code whose step is not strictly newer than the last one used by the
    same account, so a code cannot be replayed and an older code cannot be used after a
    newer one.  Codes are NFKC-normalised and stripped of whitespace first, so
    ``"１２３ ４５６"`` typed with a Japanese input method is read as ``123456``.

Lock-out
    :func:`lockout_delay` gives the back-off after consecutive failed log-ins: none for
    the first four failures, then 60 s at the fifth, doubling with each further failure,
    capped at one hour.

Nothing here puts a password, hash, salt, secret or code into an exception message.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import hmac
import re
import secrets
import struct
import unicodedata
from urllib.parse import quote, urlencode

from workbench.core.errors import InvalidInput

__all__ = [
    "DEFAULT_ISSUER",
    "DEFAULT_N",
    "DEFAULT_P",
    "DEFAULT_R",
    "LOCKOUT_BASE_SECONDS",
    "LOCKOUT_MAX_SECONDS",
    "LOCKOUT_THRESHOLD",
    "MIN_PASSWORD_LENGTH",
    "TOTP_DIGITS",
    "TOTP_PERIOD",
    "check_password_policy",
    "dummy_hash",
    "dummy_totp_secret",
    "dummy_verify",
    "hash_password",
    "hotp",
    "lockout_delay",
    "needs_rehash",
    "new_totp_secret",
    "otpauth_uri",
    "qr_svg",
    "totp_code",
    "totp_step",
    "verify_password",
    "verify_totp",
]

# --------------------------------------------------------------------------- passwords

DEFAULT_N = 2**17
DEFAULT_R = 8
DEFAULT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
_SCHEME = "scrypt"

# Bounds applied to parameters read back from a stored string, so that a corrupted or
# tampered row cannot make verification allocate gigabytes or run for minutes.
_MAX_N = 2**20
_MAX_R = 32
_MAX_P = 16
_MIN_SALT_BYTES = 8
_MIN_HASH_BYTES = 16
_MAX_HASH_BYTES = 64

_INT_RE = re.compile(r"[0-9]{1,8}", re.ASCII)


def _normalise_password(password: str) -> bytes:
    return unicodedata.normalize("NFKC", password).encode("utf-8")


def _maxmem(n: int, r: int, p: int) -> int:
    # OpenSSL needs 128*r*(N+2) for V plus 128*r*p for B; add 1 MiB of headroom.
    return 128 * r * (n + 2) + 128 * r * p + 2**20


def _check_params(n: int, r: int, p: int) -> None:
    if n < 2 or n & (n - 1) or n > _MAX_N:
        raise ValueError(f"scrypt N must be a power of two between 2 and {_MAX_N}")
    if not 1 <= r <= _MAX_R:
        raise ValueError(f"scrypt r must be between 1 and {_MAX_R}")
    if not 1 <= p <= _MAX_P:
        raise ValueError(f"scrypt p must be between 1 and {_MAX_P}")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(
        _normalise_password(password),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=_maxmem(n, r, p),
        dklen=dklen,
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(
    password: str, *, n: int = DEFAULT_N, r: int = DEFAULT_R, p: int = DEFAULT_P
) -> str:
    """Hash ``password`` with scrypt and a fresh salt: ``scrypt$N$r$p$salt$hash``."""
    _check_params(n, r, p)
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, n, r, p, HASH_BYTES)
    return f"{_SCHEME}${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def _parse(encoded: str) -> tuple[int, int, int, bytes, bytes] | None:
    """The parts of a stored hash, or None if it is not one this module accepts."""
    if not isinstance(encoded, str):
        return None
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != _SCHEME:
        return None
    if not all(_INT_RE.fullmatch(x) for x in parts[1:4]):
        return None
    n, r, p = (int(x) for x in parts[1:4])
    try:
        _check_params(n, r, p)
        salt = base64.b64decode(parts[4], validate=True)
        digest = base64.b64decode(parts[5], validate=True)
    except (ValueError, binascii.Error):
        return None
    if (
        len(salt) < _MIN_SALT_BYTES
        or not _MIN_HASH_BYTES <= len(digest) <= _MAX_HASH_BYTES
    ):
        return None
    return n, r, p, salt, digest


def verify_password(password: str, encoded: str) -> bool:
    """True if ``password`` matches the stored ``encoded`` hash.

    Uses the parameters stored in ``encoded`` and a constant-time comparison.  A
    malformed or unsupported stored string gives False; this never raises.
    """
    parsed = _parse(encoded)
    if parsed is None or not isinstance(password, str):
        return False
    n, r, p, salt, expected = parsed
    try:
        actual = _scrypt(password, salt, n, r, p, len(expected))
    except (ValueError, MemoryError, UnicodeError):
        return False
    return hmac.compare_digest(actual, expected)


@functools.lru_cache(maxsize=8)
def dummy_hash(n: int = DEFAULT_N) -> str:
    """A hash of a random password at cost ``n``, made once per process and cost.

    A log-in with an unknown user ID verifies against it, so that it costs what a real
    account's check costs and the response time does not reveal whether the ID exists.
    """
    return hash_password(secrets.token_urlsafe(16), n=n)


@functools.lru_cache(maxsize=1)
def dummy_totp_secret() -> str:
    """A random TOTP secret, made once per process, checked for unknown user IDs (same work)."""
    return new_totp_secret()


def dummy_verify(password: str, n: int = DEFAULT_N) -> bool:
    """Spend the time of one verification at cost ``n`` and return False."""
    verify_password(password, dummy_hash(n))
    return False


def needs_rehash(
    encoded: str, n: int = DEFAULT_N, r: int = DEFAULT_R, p: int = DEFAULT_P
) -> bool:
    """True if ``encoded`` is malformed or was made with other parameters or sizes."""
    parsed = _parse(encoded)
    if parsed is None:
        return True
    en, er, ep, salt, digest = parsed
    return (
        (en, er, ep) != (n, r, p)
        or len(salt) != SALT_BYTES
        or len(digest) != HASH_BYTES
    )


# --------------------------------------------------------------------- password policy

MIN_PASSWORD_LENGTH = 12
MIN_CHARACTER_CLASSES = 3

_REASON_LENGTH = (
    f"パスワードは{MIN_PASSWORD_LENGTH}文字以上にしてください。",
    f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.",
)
_REASON_USER_ID = (
    "パスワードに利用者IDを含めないでください。",
    "The password must not contain the user ID.",
)
_REASON_CLASSES = (
    "パスワードには英大文字・英小文字・数字・記号等のうち3種類以上を含めてください。",
    (
        "The password must contain at least 3 of: upper-case letters, "
        "lower-case letters, digits, and other characters (symbols, kana, kanji)."
    ),
)


def _character_classes(password: str) -> int:
    upper = lower = digit = other = False
    for ch in password:
        if ch.isascii() and ch.isupper():
            upper = True
        elif ch.isascii() and ch.islower():
            lower = True
        elif ch.isascii() and ch.isdigit():
            digit = True
        else:
            other = True
    return sum((upper, lower, digit, other))


def check_password_policy(password: str, user_id: str) -> list[tuple[str, str]]:
    """Reasons ``(ja, en)`` why ``password`` is unacceptable; an empty list if none.

    The rules are listed in the module docstring.  Both strings are NFKC-normalised
    first (full-width input counts as half-width).  The reasons never quote the password.
    """
    pw = unicodedata.normalize("NFKC", password)
    uid = unicodedata.normalize("NFKC", user_id or "").strip()
    reasons: list[tuple[str, str]] = []
    if len(pw) < MIN_PASSWORD_LENGTH:
        reasons.append(_REASON_LENGTH)
    if uid and uid.casefold() in pw.casefold():
        reasons.append(_REASON_USER_ID)
    if _character_classes(pw) < MIN_CHARACTER_CLASSES:
        reasons.append(_REASON_CLASSES)
    return reasons


# ------------------------------------------------------------------------------- TOTP

TOTP_DIGITS = 6
TOTP_PERIOD = 30
TOTP_SECRET_BYTES = 20  # 160 bits, as RFC 4226 §4 recommends
DEFAULT_ISSUER = "都営住宅マイナンバー管理"

_CODE_RE = re.compile(f"[0-9]{{{TOTP_DIGITS}}}", re.ASCII)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def new_totp_secret() -> str:
    """A fresh 160-bit TOTP secret in base32 (upper case, no padding: 32 characters)."""
    return base64.b32encode(secrets.token_bytes(TOTP_SECRET_BYTES)).decode("ascii")


def _normalise_secret(secret: str) -> str:
    return "".join(secret.split()).upper().rstrip("=")


def _secret_bytes(secret: str) -> bytes:
    s = _normalise_secret(secret)
    try:
        key = base64.b32decode(s + "=" * (-len(s) % 8))
    except (ValueError, binascii.Error):
        key = b""
    if len(key) < 10:  # under 80 bits: corrupted, or never a secret of ours
        raise InvalidInput(
            "The stored one-time-code secret is unreadable; the account must re-enrol.",
            "ワンタイムコードの登録情報が読み取れません。再登録が必要です。",
        )
    return key


def hotp(key: bytes, counter: int, digits: int = TOTP_DIGITS) -> str:
    """HOTP (RFC 4226) with HMAC-SHA-1: the code for ``counter``, zero-padded."""
    if not 0 <= counter < 2**64:
        raise ValueError("HOTP counter out of range")
    if not 6 <= digits <= 10:
        raise ValueError("HOTP digits must be between 6 and 10")
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def totp_step(at: dt.datetime) -> int:
    """The RFC 6238 time step (30-second counter since the Unix epoch) containing ``at``."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("totp_step needs an aware datetime")
    elapsed = at - _EPOCH
    return (elapsed.days * 86400 + elapsed.seconds) // TOTP_PERIOD


def totp_code(secret: str, at: dt.datetime) -> str:
    """The 6-digit code for base32 ``secret`` at time ``at`` (aware datetime)."""
    return hotp(_secret_bytes(secret), totp_step(at))


def _normalise_code(code: str) -> str | None:
    if not isinstance(code, str):
        return None
    c = "".join(unicodedata.normalize("NFKC", code).split())
    return c if _CODE_RE.fullmatch(c) else None


def verify_totp(
    secret: str,
    code: str,
    at: dt.datetime,
    *,
    last_used_step: int | None,
    window: int = 1,
) -> int | None:
    """The time step ``code`` belongs to, if it is acceptable now; else None.

    Acceptable means: 6 digits once whitespace is removed (full-width digits allowed),
    equal to the code of a step within ±``window`` of the step of ``at``, and that step
    strictly greater than ``last_used_step`` — so a code is never accepted twice, nor an
    older code after a newer one.  The caller must store the returned step as the new
    ``last_used_step``.  A malformed secret raises :class:`InvalidInput`.
    """
    if window < 0:
        raise ValueError("window must not be negative")
    key = _secret_bytes(secret)
    current = totp_step(at)
    normalised = _normalise_code(code)
    candidate = normalised if normalised is not None else "x" * TOTP_DIGITS
    matched: int | None = None
    # Compare against every step in the window, without stopping early.
    for step in range(current - window, current + window + 1):
        if step < 0:
            continue
        ok = hmac.compare_digest(hotp(key, step).encode(), candidate.encode())
        fresh = last_used_step is None or step > last_used_step
        if ok and fresh and normalised is not None:
            matched = step
    return matched


def otpauth_uri(secret: str, account: str, issuer: str = DEFAULT_ISSUER) -> str:
    """The ``otpauth://totp/...`` URI for enrolling ``secret`` in an authenticator app.

    Follows the Key URI format: label ``issuer:account`` and ``issuer`` parameter, both
    percent-encoded as UTF-8 (spaces as ``%20``).  Neither may contain a colon.
    """
    if not account or not issuer or ":" in account or ":" in issuer:
        raise InvalidInput(
            "The account name and issuer must be non-empty and must not contain a colon.",
            "アカウント名と発行者名は空にできず、コロン（:）を含められません。",
        )
    _secret_bytes(secret)  # refuse a malformed secret here, not in the phone
    label = f"{quote(issuer, safe='')}:{quote(account, safe='')}"
    query = urlencode(
        {
            "secret": _normalise_secret(secret),
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": str(TOTP_DIGITS),
            "period": str(TOTP_PERIOD),
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"


def qr_svg(uri: str) -> str:
    """The QR code for ``uri`` as an SVG document (a string), for the enrolment screen.

    SVG rather than PNG: the ``qrcode`` package needs Pillow or pypng for PNG output and
    neither is installed; its SVG factory needs only the standard library.  The image
    carries the secret, so it must be shown once and never stored or logged.
    """
    import qrcode
    import qrcode.image.svg

    qr = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        image_factory=qrcode.image.svg.SvgPathImage,
    )
    qr.add_data(uri)
    qr.make(fit=True)
    img = qr.make_image()
    svg: str = img.to_string(encoding="unicode")
    return svg


# ---------------------------------------------------------------------------- lock-out

LOCKOUT_THRESHOLD = 5
LOCKOUT_BASE_SECONDS = 60.0
LOCKOUT_MAX_SECONDS = 3600.0


def lockout_delay(failures: int) -> float:
    """Seconds to refuse further attempts after ``failures`` consecutive failures.

    0 for fewer than 5; 60 s at 5, 120 s at 6, 240 s at 7, … doubling with each further
    failure, capped at 3600 s (reached at 11).  A success resets the count (caller).
    """
    if failures < LOCKOUT_THRESHOLD:
        return 0.0
    exponent = min(failures - LOCKOUT_THRESHOLD, 16)
    return min(LOCKOUT_BASE_SECONDS * float(1 << exponent), LOCKOUT_MAX_SECONDS)
