"""Packed (COMP-3), zoned, binary and float fields: published examples, bad nibbles found with
their offset, encode -> decode round trips and readings against reference writers (hypothesis)."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikou.codecs.numeric import (
    binary_length,
    decode_binary,
    decode_float,
    decode_packed,
    decode_zoned,
    encode_binary,
    encode_packed,
    encode_zoned,
)


def packed(*rows: bytes) -> np.ndarray:
    return np.array([list(r) for r in rows], dtype=np.uint8)


def test_packed_published_example():
    # DOMAIN.md §6: -12345 -> 12 34 5D
    values, bad = decode_packed(packed(b"\x12\x34\x5d", b"\x12\x34\x5c", b"\x12\x34\x5f", b"\x00\x00\x0c"))
    assert values.tolist() == [-12345, 12345, 12345, 0] and bad.tolist() == [-1, -1, -1, -1]
    assert encode_packed(np.array([-12345]), 3).tobytes() == b"\x12\x34\x5d"
    assert encode_packed(np.array([12345]), 3, signed=False).tobytes() == b"\x12\x34\x5f"


@pytest.mark.parametrize("raw, offset", [(b"\x1a\x34\x5c", 0), (b"\x12\xa4\x5c", 1), (b"\x12\x34\x57", 2),
                                         (b"\x12\x34\xa5", 2), (b"\x40\x40\x40", 2)])
def test_packed_bad_nibbles_give_their_byte(raw, offset):
    _, bad = decode_packed(packed(raw))
    assert bad.tolist() == [offset]


def test_zoned_signs_c_and_f_positive_d_negative():
    rows = packed(b"\xf1\xf2\xc3", b"\xf1\xf2\xf3", b"\xf1\xf2\xd3", b"123")
    values, bad = decode_zoned(rows[:3])
    assert values.tolist() == [123, 123, -123] and bad.tolist() == [-1, -1, -1]
    ascii_values, ascii_bad = decode_zoned(rows[3:], zone=0x3)
    assert ascii_values.tolist() == [123] and ascii_bad.tolist() == [-1]


def test_zoned_bad_zone_or_digit():
    _, bad = decode_zoned(packed(b"\xf1\x40\xc3", b"\xf1\xfa\xc3", b"\xf1\xf2\xb3"))
    assert bad.tolist() == [1, 1, 2]


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 9), st.data())
def test_packed_round_trip(width, data):
    limit = 10 ** (2 * width - 1) - 1
    values = data.draw(st.lists(st.integers(-limit, limit), min_size=1, max_size=20))
    got, bad = decode_packed(encode_packed(np.array(values), width))
    assert got.tolist() == values and (bad == -1).all()


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 18), st.sampled_from([0xF, 0x3]), st.data())
def test_zoned_round_trip(width, zone, data):
    limit = 10 ** width - 1
    values = data.draw(st.lists(st.integers(-limit, limit), min_size=1, max_size=20))
    got, bad = decode_zoned(encode_zoned(np.array(values), width, zone), zone)
    assert got.tolist() == values and (bad == -1).all()


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=9).flatmap(
    lambda b: st.lists(st.binary(min_size=len(b), max_size=len(b)), min_size=1, max_size=10)))
def test_arbitrary_bytes_decode_or_point_at_a_bad_byte(rows):
    field = packed(*rows)
    values, bad = decode_packed(field)
    for raw, v, b in zip(rows, values.tolist(), bad.tolist()):
        if b == -1:  # declared good: re-encoding gives back the same digits
            assert encode_packed(np.array([v]), len(raw))[0, :-1].tobytes() == raw[:-1]
        else:
            assert 0 <= b < len(raw)


# -- wide packed and zoned (to 31 digits), binary, float: against writers built from the formats'
# definitions with Python's own int.to_bytes and struct, not with ikou's encoders

def packed_reference(value: int, width: int) -> bytes:
    """IBM's definition: the digits, then the sign nibble C (positive) or D (negative)."""
    nibbles = f"{abs(value):0{2 * width - 1}d}" + ("d" if value < 0 else "c")
    return bytes.fromhex(nibbles)


@settings(max_examples=300, deadline=None)
@given(st.integers(10, 16), st.data())
def test_wide_packed_reads_every_value_to_31_digits(width, data):
    limit = 10 ** (2 * width - 1) - 1
    values = data.draw(st.lists(st.integers(-limit, limit), min_size=1, max_size=20))
    got, bad = decode_packed(packed(*(packed_reference(v, width) for v in values)))
    assert got.cast(str).to_list() == [str(v) for v in values] and (bad == -1).all()


@settings(max_examples=200, deadline=None)
@given(st.integers(19, 31), st.data())
def test_wide_zoned_reads_every_value_to_31_digits(width, data):
    limit = 10 ** width - 1
    values = data.draw(st.lists(st.integers(-limit, limit), min_size=1, max_size=20))
    rows = [f"{abs(v):0{width}d}".encode() for v in values]
    rows = [r[:-1] + bytes([0x70 | (r[-1] & 0xF)]) if v < 0 else r for r, v in zip(rows, values)]  # GnuCOBOL's sign
    got, bad = decode_zoned(packed(*rows), zone=0x3)
    assert got.cast(str).to_list() == [str(v) for v in values] and (bad == -1).all()


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 8), st.booleans(), st.sampled_from(["big", "little"]), st.data())
def test_binary_reads_what_int_to_bytes_writes(width, signed, order, data):
    lo, hi = (-(2 ** (8 * width - 1)), 2 ** (8 * width - 1) - 1) if signed else (0, min(2 ** (8 * width), 2 ** 63) - 1)
    values = data.draw(st.lists(st.integers(lo, hi), min_size=1, max_size=20))
    rows = [v.to_bytes(width, order, signed=signed) for v in values]
    got, bad = decode_binary(packed(*rows), order, signed)
    assert got.tolist() == values and (bad == -1).all()
    assert encode_binary(np.array(values), width, order, signed).tobytes() == b"".join(rows)


def test_unsigned_eight_bytes_beyond_int64_are_refused_at_their_first_byte():
    rows = packed((2 ** 63).to_bytes(8, "big"), (2 ** 64 - 1).to_bytes(8, "big"), (5).to_bytes(8, "big"))
    values, bad = decode_binary(rows, "big", signed=False)
    assert bad.tolist() == [0, 0, -1] and values[2] == 5
    _, bad = decode_binary(np.ascontiguousarray(rows[:, ::-1]), "little", signed=False)
    assert bad.tolist() == [7, 7, -1]


@pytest.mark.parametrize("digits, length", [(1, 2), (4, 2), (5, 4), (9, 4), (10, 8), (18, 8)])
def test_binary_length_follows_cobol_sizes(digits, length):
    assert binary_length(digits) == length


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([("f", 4), ("d", 8)]), st.sampled_from(["big", "little"]), st.data())
def test_float_reads_exactly_what_struct_writes(kind, order, data):
    code, width = kind
    values = data.draw(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32 if width == 4 else 64),
                                min_size=1, max_size=20))
    fmt = (">" if order == "big" else "<") + code
    rows = [struct.pack(fmt, v) for v in values]
    got, bad = decode_float(packed(*rows), order)
    assert got.tolist() == [struct.unpack(fmt, r)[0] for r in rows] and (bad == -1).all()


def test_float_nan_and_infinity_are_refused():
    rows = packed(struct.pack("<d", math.nan), struct.pack("<d", math.inf), struct.pack("<d", 2.5))
    values, bad = decode_float(rows, "little")
    assert bad.tolist() == [0, 0, -1] and values[2] == 2.5
