"""Packed (COMP-3) and zoned decimal: published examples, bad nibbles found with their offset,
and encode -> decode round trips (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikou.codecs.numeric import decode_packed, decode_zoned, encode_packed, encode_zoned


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
