"""Tests for workbench.core.numbers: check digit, normalisation, masking, cipher, blind index.

python-stdnum's ``stdnum.jp.in_`` is the independent oracle for the check digit.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum.jp import in_ as stdnum_in

from workbench.core.errors import InvalidInput, KeyringError, WrongKey
from workbench.core.numbers import (
    REASONS,
    BlindIndex,
    NumberCheck,
    NumberCipher,
    check_digit,
    ciphertext_version,
    generate_numbers,
    is_valid_number,
    mask_number,
    mask_numbers,
    normalize_number,
    validate_numbers,
)

WEIGHTS = (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
SEPARATORS = [" ", "\u3000", "\t", "-", "‐", "‑", "‒", "–", "—", "－", "ー", "ｰ", "−"]
VALID = "123456789018"  # 11 digits 12345678901 + check digit 8 (stdnum agrees, below)

settings.register_profile("numbers", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("numbers")

eleven_digits = st.text(alphabet="0123456789", min_size=11, max_size=11)


def make_valid(first11: str) -> str:
    return first11 + str(check_digit(first11))


def remainder(number: str) -> int:
    """Weighted sum of the first 11 digits mod 11 (two remainders, 0 and 1, share check digit 0)."""
    return sum(int(d) * w for d, w in zip(number[:11], WEIGHTS, strict=True)) % 11


def no_number_in(text: str, number: str) -> None:
    assert number not in text
    assert number[-4:] not in text
    assert re.search(r"\d{4,}", text) is None, "no run of 4+ digits may appear in a message"


# ---------------------------------------------------------------------------
# Check digit
# ---------------------------------------------------------------------------


def test_known_number_and_stdnum_agree() -> None:
    assert check_digit("12345678901") == 8
    assert is_valid_number(VALID)
    assert stdnum_in.is_valid(VALID)
    assert not is_valid_number("123456789019")


@pytest.mark.parametrize("bad", ["1234567890", "123456789012", "1234567890a", "１２３４５６７８９０１", ""])
def test_check_digit_rejects_non_11_digits(bad: str) -> None:
    with pytest.raises(ValueError) as info:
        check_digit(bad)
    assert bad == "" or bad not in str(info.value)


@pytest.mark.parametrize("value", ["1234 5678 9018", "１２３４５６７８９０１８", "12345678901８", "", "12345678901"])
def test_is_valid_number_does_not_normalise(value: str) -> None:
    assert not is_valid_number(value)


@given(eleven_digits)
def test_eleven_digits_plus_check_digit_is_valid(first11: str) -> None:
    number = make_valid(first11)
    assert is_valid_number(number)
    assert stdnum_in.is_valid(number)
    assert str(check_digit(first11)) == stdnum_in.calc_check_digit(first11)
    assert validate_numbers([number]).ok[0]


@given(eleven_digits, st.integers(0, 11), st.integers(1, 9))
def test_single_digit_change(first11: str, position: int, delta: int) -> None:
    """What the algorithm guarantees for one changed digit.

    A change of the check digit itself is always caught.  A change in the first 11
    digits always changes the weighted remainder (weights 2-7 are invertible mod 11),
    but remainders 0 and 1 both give check digit 0, so the change goes unnoticed
    exactly when the remainder moves between 0 and 1 (about 1.7 % of changes).
    """
    number = make_valid(first11)
    changed_digit = (int(number[position]) + delta) % 10
    changed = number[:position] + str(changed_digit) + number[position + 1 :]
    undetected = position < 11 and {remainder(number), remainder(changed)} == {0, 1}
    assert is_valid_number(changed) == undetected
    assert stdnum_in.is_valid(changed) == undetected
    assert remainder(changed) != remainder(number) or position == 11


def test_single_digit_change_can_go_unnoticed() -> None:
    """The loophole above is real, so nothing may claim 'every typo is caught'."""
    number = make_valid("00000000000")  # remainder 0, check digit 0
    # Weight of position 10 is 2 and 2 × 6 = 12 ≡ 1 (mod 11): remainder 0 → 1.
    changed = number[:10] + "6" + number[11:]
    assert is_valid_number(number) and is_valid_number(changed)
    assert stdnum_in.is_valid(changed)


@given(eleven_digits, st.integers(0, 10))
def test_adjacent_transposition(first11: str, position: int) -> None:
    """Swapping two different adjacent digits within the first 11 is caught unless the
    remainders are 0 and 1.  Swapping digit 11 with the check digit has no guarantee,
    so there only agreement with the oracle is asserted."""
    number = make_valid(first11)
    a, b = number[position], number[position + 1]
    swapped = number[:position] + b + a + number[position + 2 :]
    assert is_valid_number(swapped) == stdnum_in.is_valid(swapped)
    if a == b or position == 10:
        return
    undetected = {remainder(number), remainder(swapped)} == {0, 1}
    assert is_valid_number(swapped) == undetected


def test_adjacent_transpositions_mostly_detected() -> None:
    numbers = generate_numbers(2_000, np.random.default_rng(11)).tolist()
    swapped = [n[:i] + n[i + 1] + n[i] + n[i + 2 :] for n in numbers for i in range(11) if n[i] != n[i + 1]]
    detected = ~validate_numbers(swapped).ok
    assert detected.mean() > 0.97  # measured ≈ 0.982 over all adjacent positions


# ---------------------------------------------------------------------------
# Normalisation and validation
# ---------------------------------------------------------------------------

raw_text = st.text(
    alphabet=st.sampled_from(list("0123456789０１２３４５６７８９abcＡ①²٣漢") + SEPARATORS + ["\u00a0", "\r", "\n"]),
    max_size=20,
)


@given(st.one_of(raw_text, st.none()))
def test_normalisation_is_idempotent(value: str | None) -> None:
    first = validate_numbers([value])
    second = validate_numbers(list(first.numbers))
    assert list(second.numbers) == list(first.numbers)
    assert list(second.reasons) == list(first.reasons)
    once = normalize_number(value)
    assert once is None or normalize_number(once) == once


@given(
    eleven_digits,
    st.lists(st.booleans(), min_size=12, max_size=12),
    st.lists(st.sampled_from(["", *SEPARATORS]), min_size=13, max_size=13),
)
def test_variants_normalise_to_the_same_digits(first11: str, wide: list[bool], seps: list[str]) -> None:
    number = make_valid(first11)
    chars = [c.translate(FULLWIDTH) if w else c for c, w in zip(number, wide, strict=True)]
    variant = seps[0] + "".join(c + s for c, s in zip(chars, seps[1:], strict=True))
    assert normalize_number(variant) == number
    check = validate_numbers([variant, number])
    assert list(check.numbers) == [number, number]
    assert check.ok.all()


def test_hyphenated_and_fullwidth_examples() -> None:
    assert normalize_number("1234-5678-9018") == VALID
    assert normalize_number("１２３４－５６７８－９０１８") == VALID
    assert normalize_number(" 1234　5678\t9018 ") == VALID
    assert normalize_number("1234ー5678ｰ9018") == VALID
    assert normalize_number("123456789019") is None
    assert normalize_number(None) is None
    assert normalize_number("") is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "blank"),
        ("   ", "blank"),
        ("－\u3000-", "blank"),
        (None, "blank"),
        (float("nan"), "blank"),
        (np.nan, "blank"),
        (pd.NA, "blank"),
        ("12345678901a", "not_digits"),
        ("１２３４５６７８９０１Ａ", "not_digits"),
        ("①23456789018", "not_digits"),  # NFKC would read ① as 1: must not
        ("²23456789018", "not_digits"),
        ("٣23456789018", "not_digits"),  # Arabic-Indic digit: str.isdigit() is True
        ("漢", "not_digits"),
        ("1234.5678.9018", "not_digits"),
        (123456789018, "not_digits"),  # not text: an int has lost any leading zero
        ("\ud800" + VALID, "not_digits"),  # a lone surrogate cannot be UTF-8
        ("12345678901", "wrong_length"),
        ("1234567890180", "wrong_length"),
        ("1", "wrong_length"),
        ("１２３", "wrong_length"),
        ("123456789019", "check_digit"),
        ("1234-5678-9019", "check_digit"),
        (VALID, None),
    ],
)
def test_reason_codes(value: object, reason: str | None) -> None:
    check = validate_numbers([VALID, value, None])
    assert check.reasons[1] == reason
    assert check.ok[1] == (reason is None)
    assert check.reasons[0] is None and check.reasons[2] == "blank"


def test_invalid_rows_keep_their_normalised_text() -> None:
    check = validate_numbers(["１２３-４", "12345678901a", None, 42, "1234-5678-9019"])
    assert list(check.numbers) == ["1234", "12345678901a", None, None, "123456789019"]
    assert list(check.reasons) == ["wrong_length", "not_digits", "blank", "not_digits", "check_digit"]
    assert check.ok.dtype == bool and not check.ok.any()


def test_reasons_explain_every_code_in_both_languages() -> None:
    assert set(REASONS) == {"blank", "not_digits", "wrong_length", "check_digit"}
    for ja, en in REASONS.values():
        assert ja and en and ja != en
    check = validate_numbers(["", "123456789019", VALID])
    assert list(check.messages("ja")) == [REASONS["blank"][0], REASONS["check_digit"][0], None]
    assert list(check.messages("en")) == [REASONS["blank"][1], REASONS["check_digit"][1], None]


@pytest.mark.parametrize(
    "make",
    [
        list,
        tuple,
        lambda v: np.array(v, dtype=object),
        lambda v: np.array([x or "" for x in v]),
        lambda v: pd.Series(v),
        lambda v: pd.Series(v, dtype=object),
        lambda v: pd.Series(v, dtype="category"),
        lambda v: pa.array(v),
        lambda v: pa.chunked_array([pa.array(v[:2]), pa.array(v[2:])]),
        iter,
    ],
)
def test_accepts_batch_containers(make: Callable[[list[str | None]], Any]) -> None:
    values = [VALID, "1234-5678-9018", None, "123"]
    check = validate_numbers(make(values))
    assert list(check.ok) == [True, True, False, False]
    assert list(check.reasons) == [None, None, "blank", "wrong_length"]


def test_empty_and_two_dimensional_batches() -> None:
    check = validate_numbers([])
    assert len(check) == 0 and check.numbers.shape == (0,) and check.ok.shape == (0,)
    with pytest.raises(InvalidInput):
        validate_numbers(np.array([[VALID]]))
    with pytest.raises(InvalidInput) as info:
        validate_numbers(VALID)
    assert VALID not in str(info.value)


def test_repr_and_counts_show_no_numbers() -> None:
    check = validate_numbers([VALID, "123456789019", "", "12"])
    assert isinstance(check, NumberCheck) and len(check) == 4
    assert check.counts() == {"ok": 1, "blank": 1, "not_digits": 0, "wrong_length": 1, "check_digit": 1}
    text = repr(check)
    assert VALID not in text and "123456789019" not in text
    assert not check.all_ok


def test_oracle_random_twelve_digit_strings() -> None:
    rng = np.random.default_rng(20240601)
    matrix = rng.integers(0, 10, size=(100_000, 12), dtype=np.uint8) + 48
    values = matrix.view("S12").ravel().astype("U12")
    check = validate_numbers(values)
    expected = np.array([stdnum_in.is_valid(v) for v in values.tolist()])
    assert 0.05 < expected.mean() < 0.15  # both outcomes well represented
    assert np.array_equal(check.ok, expected)
    assert set(check.reasons[~expected]) == {"check_digit"}
    assert list(check.numbers[:5]) == values[:5].tolist()


def test_oracle_generated_numbers() -> None:
    numbers = generate_numbers(100_000, np.random.default_rng(7))
    assert numbers.shape == (100_000,)
    assert len(set(numbers.tolist())) == 100_000
    assert all(stdnum_in.is_valid(v) for v in numbers.tolist())
    assert validate_numbers(numbers).ok.all()
    assert {v[0] for v in numbers[:1000].tolist()} == set("0123456789")  # any first digit


def test_generate_numbers_is_deterministic_and_checks_n() -> None:
    a = generate_numbers(1000, np.random.default_rng(3))
    b = generate_numbers(1000, np.random.default_rng(3))
    assert np.array_equal(a, b)
    assert generate_numbers(0, np.random.default_rng(3)).shape == (0,)
    with pytest.raises(ValueError):
        generate_numbers(-1, np.random.default_rng(3))


def test_vectorised_check_matches_scalar_on_mixed_large_batch() -> None:
    rng = np.random.default_rng(99)
    valid = generate_numbers(50_000, rng).tolist()
    values: list[str | None] = []
    for i, v in enumerate(valid):
        variants = [
            v,
            v.translate(FULLWIDTH),
            f"{v[:4]}-{v[4:8]}-{v[8:]}",
            v[:11],
            v[:11] + str((int(v[11]) + 1) % 10),
            None,
        ]
        values.append(variants[i % 6])
    check = validate_numbers(values)
    expected = [normalize_number(v) is not None for v in values[:600]]
    assert list(check.ok[:600]) == expected
    kinds = np.arange(len(values)) % 6
    assert np.array_equal(check.ok, kinds <= 2)
    assert check.counts() == {
        "ok": int((kinds <= 2).sum()),
        "blank": int((kinds == 5).sum()),
        "not_digits": 0,
        "wrong_length": int((kinds == 3).sum()),
        "check_digit": int((kinds == 4).sum()),
    }


# ---------------------------------------------------------------------------
# Masking
# ---------------------------------------------------------------------------


def test_mask() -> None:
    assert mask_number(VALID) == "********9018"
    assert mask_number("1234") == "************"
    assert mask_number("") == "************"
    masked = mask_numbers([VALID, None, "123", "987654321098"])
    assert list(masked) == ["********9018", None, "************", "********1098"]


# ---------------------------------------------------------------------------
# Field encryption
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def key() -> bytes:
    return os.urandom(32)


def test_cipher_round_trip_many(key: bytes) -> None:
    numbers = generate_numbers(2_000, np.random.default_rng(1)).tolist()
    rows = [f"person-{i}" for i in range(len(numbers))]
    cipher = NumberCipher(key, 3)
    cts = cipher.encrypt_many(numbers, rows, table="persons", column="number")
    assert all(len(ct) == 2 + 12 + 12 + 16 for ct in cts)
    assert all(ct[:2] == b"\x00\x03" for ct in cts)
    assert len({ct[2:14] for ct in cts}) == len(cts)  # fresh nonce per value
    assert cipher.decrypt_many(cts, rows, table="persons", column="number") == numbers
    assert {ciphertext_version(ct) for ct in cts} == {3}
    # Same number twice: different ciphertexts.
    assert cipher.encrypt(VALID, "r", table="t", column="c") != cipher.encrypt(VALID, "r", table="t", column="c")
    # A new object with the same key and version decrypts too; int row keys work as str.
    again = NumberCipher(key, 3)
    ct = cipher.encrypt(VALID, 17, table="t", column="c")
    assert again.decrypt(ct, "17", table="t", column="c") == VALID


def _wrong_key_message(call: Callable[[], object]) -> str:
    with pytest.raises(WrongKey) as info:
        call()
    error = info.value
    text = " ".join([str(error), error.message_ja, error.message_en, repr(error), repr(error.to_dict())])
    no_number_in(text, VALID)
    assert error.message_ja != error.message_en
    return text


def test_cipher_rejects_wrong_key_rows_columns_tables(key: bytes) -> None:
    cipher = NumberCipher(key, 3)
    ct = cipher.encrypt(VALID, "row-1", table="persons", column="number")
    _wrong_key_message(lambda: NumberCipher(os.urandom(32), 3).decrypt(ct, "row-1", table="persons", column="number"))
    _wrong_key_message(lambda: cipher.decrypt(ct, "row-2", table="persons", column="number"))
    _wrong_key_message(lambda: cipher.decrypt(ct, "row-1", table="persons", column="spouse_number"))
    _wrong_key_message(lambda: cipher.decrypt(ct, "row-1", table="applicants", column="number"))
    # Length-prefixed fields: shifting characters between table and column does not help.
    ct2 = cipher.encrypt(VALID, "r", table="ab", column="c")
    _wrong_key_message(lambda: cipher.decrypt(ct2, "r", table="a", column="bc"))


def test_cipher_detects_every_flipped_bit_region(key: bytes) -> None:
    cipher = NumberCipher(key, 3)
    ct = cipher.encrypt(VALID, "row-1", table="persons", column="number")
    for index in (0, 1, 2, 13, 14, 20, 25, 26, len(ct) - 1):
        damaged = bytearray(ct)
        damaged[index] ^= 0x01
        _wrong_key_message(functools.partial(cipher.decrypt, bytes(damaged), "row-1", table="persons", column="number"))
    _wrong_key_message(lambda: cipher.decrypt(ct[:-1], "row-1", table="persons", column="number"))
    _wrong_key_message(lambda: cipher.decrypt(ct[:10], "row-1", table="persons", column="number"))


def test_cipher_binds_key_version(key: bytes) -> None:
    v3 = NumberCipher(key, 3)
    v4 = NumberCipher(key, 4)  # even the same key under another version must not work
    ct = v3.encrypt(VALID, "r", table="t", column="c")
    text = _wrong_key_message(lambda: v4.decrypt(ct, "r", table="t", column="c"))
    assert "version" in text
    edited = (4).to_bytes(2, "big") + ct[2:]
    assert ciphertext_version(edited) == 4
    _wrong_key_message(lambda: v4.decrypt(edited, "r", table="t", column="c"))


def test_decrypt_many_reports_positions_not_numbers(key: bytes) -> None:
    cipher = NumberCipher(key, 1)
    numbers = generate_numbers(20, np.random.default_rng(5)).tolist()
    rows = [str(i) for i in range(20)]
    cts = cipher.encrypt_many(numbers, rows, table="t", column="c")
    cts[4] = cts[5]
    with pytest.raises(WrongKey) as info:
        cipher.decrypt_many(cts, rows, table="t", column="c")
    assert info.value.details["positions"] == [4]
    assert info.value.details["count"] == 1
    for number in numbers:
        assert number not in str(info.value)


def test_cipher_refuses_bad_input(key: bytes) -> None:
    cipher = NumberCipher(key, 1)
    for bad in ["123456789019", "1234-5678-9018", "１２３４５６７８９０１８", "1234567890", ""]:
        with pytest.raises(InvalidInput) as info:
            cipher.encrypt_many([VALID, bad], ["a", "b"], table="t", column="c")
        assert info.value.details["positions"] == [1]
        no_number_in(str(info.value), VALID)
        assert bad == "" or bad not in str(info.value)
    # Misaligned lengths that happen to total 24 bytes are caught too.
    with pytest.raises(InvalidInput):
        cipher.encrypt_many(["1234567890180", "12345678901"], ["a", "b"], table="t", column="c")
    with pytest.raises(InvalidInput):
        cipher.encrypt_many([VALID], ["a", "b"], table="t", column="c")
    with pytest.raises(KeyringError):
        NumberCipher(b"short", 1)
    with pytest.raises(KeyringError):
        NumberCipher(key, 70_000)
    assert "key" not in repr(cipher).lower().replace("key_version", "")
    with pytest.raises(WrongKey):
        ciphertext_version(b"\x00\x01")


# ---------------------------------------------------------------------------
# Blind index
# ---------------------------------------------------------------------------


def test_blind_index(key: bytes) -> None:
    index = BlindIndex(key)
    numbers = generate_numbers(500, np.random.default_rng(2)).tolist()
    many = index.digest_many(numbers)
    assert [index.digest(n) for n in numbers] == many
    assert BlindIndex(key).digest_many(numbers) == many  # deterministic
    assert all(len(d) == 32 for d in many) and len(set(many)) == len(many)
    assert many == [hmac.new(key, n.encode(), hashlib.sha256).digest() for n in numbers]  # RFC 2104
    other = BlindIndex(os.urandom(32))
    assert all(a != b for a, b in zip(other.digest_many(numbers), many, strict=True))
    assert index.digest_many(np.array(numbers)) == many
    assert index.digest_many([]) == []
    assert index.digest_many(iter(numbers[:3])) == many[:3]
    with pytest.raises(InvalidInput):
        index.digest("1234-5678-9018")
    assert repr(index) == "BlindIndex(<key hidden>)"
    with pytest.raises(KeyringError):
        BlindIndex(b"")


def test_series_backed_by_a_multi_chunk_arrow_array() -> None:
    """What formats.read_table returns for a large file: the column has several chunks."""
    good = generate_numbers(6, np.random.default_rng(7)).tolist()
    chunked = pa.chunked_array([pa.array(good[:3]), pa.array(good[3:])])
    series = pd.Series(pd.arrays.ArrowExtensionArray(chunked))
    assert validate_numbers(series).ok.all()
